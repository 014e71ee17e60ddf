/* airlock apply: the policy in force on this machine or container itself.
 *
 * The third topology of DESIGN.md (the devcontainer feature's): the gateway
 * runs on loopback under its own unprivileged uid, and one nftables table in
 * this network namespace makes it the only way out: port 53 of any address
 * and every TCP flow are redirected to it, its own traffic (matched by uid)
 * and the configured exceptions pass, everything else is dropped and logged.
 *
 * Order, so that a failure leaves the machine as it was: configuration and
 * policy checked, then the gateway started (listeners bound as root, then
 * privileges dropped for good), then the ruleset applied in one transaction;
 * a ruleset that cannot be applied stops the gateway again.  `--remove`
 * undoes all of it; applying twice replaces the gateway and the table.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply/hosts.h"
#include "apply/options.h"
#include "cli/cli.h"
#include "enforce/iptables.h"
#include "enforce/nflog.h"
#include "enforce/nftables.h"
#include "enforce/ruleset.h"
#include "gateway/control.h"
#include "gateway/gateway.h"
#include "net/sock.h"
#include "policy/claude.h"
#include "policy/rule.h"
#include "sandbox/privs.h"
#include "state/state.h"
#include "util/file.h"

#define DEFAULT_CONFIG   "/etc/airlock/apply.conf"
#define DNS_PORT         53
#define PROXY_PORT       3128
#define TRANSPARENT_PORT 3129
#define NFLOG_GROUP      7
#define STOP_WAIT_MS     5000

static const char apply_help[] =
        "Usage: airlock apply [--config FILE] [--check]\n"
        "       airlock apply --remove [--config FILE]\n"
        "\n"
        "Put the policy in force on this machine or container itself (run as root, or\n"
        "with CAP_NET_ADMIN): the devcontainer feature runs this at every start.\n"
        "The gateway starts on loopback under its own unprivileged user (DNS on\n"
        "127.0.0.1:53, the proxy on 127.0.0.1:3128, redirected flows on :3129),\n"
        "and one nftables table in this network namespace makes it the only way\n"
        "out: every port-53 packet, to any address, goes to its DNS filter; every\n"
        "other TCP flow to its transparent listener, which decides on the TLS\n"
        "server name or HTTP Host and the address; its own traffic (its uid) and\n"
        "the configured exceptions pass; everything else is dropped and, with\n"
        "logBlocked, logged into the audit log.  Applying again replaces the\n"
        "gateway and the table; --remove undoes both.  Where port 53 is taken,\n"
        "blocked names are sinkholed in /etc/hosts instead (between markers), and\n"
        "DNS goes to the resolvers directly.\n"
        "\n"
        "The configuration (default " DEFAULT_CONFIG "; built-in defaults when\n"
        "it does not exist) is KEY = VALUE lines: profile, allowedDomains,\n"
        "blockedDomains, defaultPolicy, allowDockerNetworks, dockerNetworks,\n"
        "allowLocalhost, immutableConfig, logBlocked, allowClaudeWebFetchDomains,\n"
        "claudeSettingsPaths, name, user, adminUser, upstream (docs/devcontainer.md).\n"
        "\n"
        "Options:\n"
        "      --config FILE   the configuration\n"
        "      --check         check the configuration and the policy, print the\n"
        "                      ruleset, change nothing\n"
        "      --remove        stop the gateway, remove the table and the /etc/hosts\n"
        "                      entries: the machine as it was\n"
        "  -h, --help          show this help\n"
        "\n"
        "While it runs: 'airlock allow --name NAME RULE' (root, or adminUser when\n"
        "immutableConfig is false), 'airlock logs --name NAME', 'airlock ps'.\n";

enum {
	OPT_CONFIG = OPT_FIRST_FREE,
	OPT_CHECK,
	OPT_REMOVE,
};

struct apply {
	struct apply_options o;
	const char *config;
	bool config_given, check, remove;
	struct policy_args args;
	char **owned; /* strings the policy items point into */
	size_t n_owned;
	char allowed_path[PATH_MAX], blocked_path[PATH_MAX];
	char allowed_label[APPLY_WORD_MAX + 32], blocked_label[APPLY_WORD_MAX + 32];
	struct sandbox_state state;
	uid_t uid;
	gid_t gid;
	bool has_admin;
	uid_t admin_uid;
	gid_t admin_gid;
	char admin_home[PATH_MAX];
	char workspace[PATH_MAX];
	struct upstream_config upstream;
	struct ruleset_net docker_nets[RULESET_MAX_NETS];
	size_t n_docker_nets;
};

/* ---- options, workspace, users ------------------------------------------ */

static int parse_args(int argc, char **argv, struct apply *a)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, OPT_CONFIG},
	        {"check", no_argument, NULL, OPT_CHECK},
	        {"remove", no_argument, NULL, OPT_REMOVE},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int opt;
	a->config = DEFAULT_CONFIG;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG:
			a->config = optarg;
			a->config_given = true;
			break;
		case OPT_CHECK:
			a->check = true;
			break;
		case OPT_REMOVE:
			a->remove = true;
			break;
		case 'h':
			fputs(apply_help, stdout);
			return 1;
		default:
			fputs("Try 'airlock apply --help'.\n", stderr);
			return -1;
		}
	}
	if (optind < argc) {
		cli_error("apply", "unexpected argument '%s'; try 'airlock apply --help'",
		          argv[optind]);
		return -1;
	}
	if (a->check && a->remove) {
		cli_error("apply", "--check and --remove do not go together");
		return -1;
	}
	return 0;
}

static int load_config(struct apply *a)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct diag d = {""};

	int e = file_read_all(a->config, APPLY_CONFIG_MAX, &text, &len, &d);
	if (e == -ENOENT && !a->config_given)
		return 0; /* the defaults */
	if (e < 0 || apply_options_parse(&a->o, text, len, a->config, &d) < 0) {
		cli_error("apply", "%s", d.msg);
		return -1;
	}
	return 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The workspace root, where relative Claude settings paths start: the
 * first of $WORKSPACE_FOLDER, $DEVCONTAINER_WORKSPACE_FOLDER,
 * $VSCODE_WORKSPACE, $VSCODE_CWD that is a directory, else $PWD if it holds
 * .devcontainer, else /workspace. */
static void find_workspace(char *out, size_t size)
{
	static const char *const vars[] = {"WORKSPACE_FOLDER", "DEVCONTAINER_WORKSPACE_FOLDER",
	                                   "VSCODE_WORKSPACE", "VSCODE_CWD"};
	char probe[PATH_MAX];
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		const char *v = getenv(vars[i]);
		if (v && v[0] == '/' && is_dir(v)) {
			snprintf(out, size, "%s", v);
			return;
		}
	}
	const char *pwd = getenv("PWD");
	if (pwd && pwd[0] == '/' &&
	    snprintf(probe, sizeof(probe), "%s/.devcontainer", pwd) < (int)sizeof(probe) &&
	    is_dir(probe)) {
		snprintf(out, size, "%s", pwd);
		return;
	}
	snprintf(out, size, "/workspace");
}

static int find_users(struct apply *a)
{
	struct passwd *pw = getpwnam(a->o.user);
	if (!pw) {
		cli_error("apply",
		          "no user '%s' for the gateway: create it (useradd --system "
		          "--no-create-home "
		          "%s) or name another with user = NAME",
		          a->o.user, a->o.user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		cli_error("apply",
		          "user = %s is root: the gateway needs a user of its own, whose "
		          "traffic alone passes",
		          a->o.user);
		return -1;
	}
	a->uid = pw->pw_uid;
	a->gid = pw->pw_gid;
	if (!a->o.admin_user[0])
		return 0;
	pw = getpwnam(a->o.admin_user);
	if (!pw) {
		cli_error("apply", "adminUser = %s: no such user", a->o.admin_user);
		return -1;
	}
	if (pw->pw_uid == a->uid) {
		cli_error("apply", "adminUser = %s is the gateway's own user", a->o.admin_user);
		return -1;
	}
	a->has_admin = !a->o.immutable_config;
	a->admin_uid = pw->pw_uid;
	a->admin_gid = pw->pw_gid;
	snprintf(a->admin_home, sizeof(a->admin_home), "%s", pw->pw_dir);
	return 0;
}

/* ---- the policy ----------------------------------------------------------- */

static const char *own(struct apply *a, const char *s, size_t n)
{
	char **grown = reallocarray(a->owned, a->n_owned + 1, sizeof(*grown));
	if (!grown)
		return NULL;
	a->owned = grown;
	char *copy = malloc(n + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, n);
	copy[n] = '\0';
	a->owned[a->n_owned++] = copy;
	return copy;
}

struct list_ctx {
	struct apply *a;
	enum policy_item_type type;
	enum action action;
	const char *what;
};

static int add_rule_item(const char *item, size_t len, void *ctx)
{
	struct list_ctx *c = ctx;
	const char *s = own(c->a, item, len);
	if (!s) {
		cli_error("apply", "out of memory");
		return -1;
	}
	return policy_args_add(&c->a->args, "apply", c->type, c->action, s, NULL);
}

/* A Claude settings path, resolved from the workspace root ("~/" from the
 * admin user's home when there is one); files that do not exist are skipped. */
static int add_claude_item(const char *item, size_t len, void *ctx)
{
	struct list_ctx *c = ctx;
	char path[4096], resolved[4096];
	if (len >= sizeof(path))
		return 0;
	memcpy(path, item, len);
	path[len] = '\0';
	if (strncmp(path, "~/", 2) == 0 && c->a->admin_home[0]) {
		if (snprintf(resolved, sizeof(resolved), "%s/%s", c->a->admin_home, path + 2) >=
		    (int)sizeof(resolved))
			return 0;
	} else if (claude_resolve_path(c->a->workspace, path, resolved) < 0) {
		return 0;
	}
	if (access(resolved, F_OK) != 0)
		return 0;
	return add_rule_item(resolved, strlen(resolved), ctx);
}

static int add_upstream(const char *item, size_t len, void *ctx)
{
	struct apply *a = ctx;
	char text[ADDR_INPUT_MAX];
	if (a->upstream.n_servers == UPSTREAM_MAX_SERVERS || len >= sizeof(text)) {
		cli_error("apply", "upstream: at most %d addresses", UPSTREAM_MAX_SERVERS);
		return -1;
	}
	memcpy(text, item, len);
	text[len] = '\0';
	if (addr_parse(text, 53, &a->upstream.servers[a->upstream.n_servers]) < 0) {
		cli_error("apply", "upstream: '%s' is not an address", text);
		return -1;
	}
	a->upstream.n_servers++;
	return 0;
}

static int add_docker_net(const char *item, size_t len, void *ctx)
{
	struct apply *a = ctx;
	struct rule r;
	struct diag d = {""};
	if (rule_parse(item, len, &r, &d) < 0 || r.kind != RULE_CIDR ||
	    !port_range_is_any(r.ports) || a->n_docker_nets == RULESET_MAX_NETS) {
		cli_error("apply",
		          "dockerNetworks: '%.*s' is not an address range (e.g. 10.0.0.0/8)",
		          (int)len, item);
		return -1;
	}
	struct ruleset_net *n = &a->docker_nets[a->n_docker_nets++];
	n->family = r.prefix.family;
	memcpy(n->addr, r.prefix.addr, sizeof(n->addr));
	n->prefix = r.prefix.len;
	return add_rule_item(item, len, &(struct list_ctx){a, POLICY_ITEM_RULE, ACTION_ALLOW, ""});
}

static int load_policy(void *ctx, struct policy_builder *b, struct diag *d)
{
	struct apply *a = ctx;
	struct profile prof;
	return policy_args_load(&a->args, b, &prof, d);
}

static int build_items(struct apply *a)
{
	struct list_ctx allow = {a, POLICY_ITEM_RULE, ACTION_ALLOW, "allowedDomains"};
	struct list_ctx block = {a, POLICY_ITEM_RULE, ACTION_BLOCK, "blockedDomains"};
	struct list_ctx claude = {a, POLICY_ITEM_CLAUDE, ACTION_ALLOW, "claudeSettingsPaths"};

	a->args.profile = a->o.profile;
	a->args.default_action = a->o.default_policy;
	if (apply_each_item(a->o.allowed_domains, add_rule_item, &allow) ||
	    apply_each_item(a->o.blocked_domains, add_rule_item, &block))
		return -1;
	if (a->o.allow_docker_networks && apply_each_item(a->o.docker_networks, add_docker_net, a))
		return -1;
	if (a->o.allow_claude_webfetch &&
	    apply_each_item(a->o.claude_settings_paths, add_claude_item, &claude))
		return -1;
	if (apply_each_item(a->o.upstream, add_upstream, a))
		return -1;
	if (a->upstream.n_servers == 0 && cli_default_upstreams("apply", &a->upstream) < 0)
		return -1;
	return 0;
}

/* The sandbox's own rule files, after everything else (as `airlock run`). */
static int add_state_items(struct apply *a)
{
	snprintf(a->allowed_label, sizeof(a->allowed_label), "%s's allowed-domains", a->o.name);
	snprintf(a->blocked_label, sizeof(a->blocked_label), "%s's blocked-domains", a->o.name);
	if (state_path(&a->state, "rules/allowed-domains", a->allowed_path,
	               sizeof(a->allowed_path)) < 0 ||
	    state_path(&a->state, "rules/blocked-domains", a->blocked_path,
	               sizeof(a->blocked_path)) < 0) {
		cli_error("apply", "the state directory's path is too long");
		return -1;
	}
	if (policy_args_add(&a->args, "apply", POLICY_ITEM_SANDBOX_FILE, ACTION_ALLOW,
	                    a->allowed_path, a->allowed_label) < 0 ||
	    policy_args_add(&a->args, "apply", POLICY_ITEM_SANDBOX_FILE, ACTION_BLOCK,
	                    a->blocked_path, a->blocked_label) < 0)
		return -1;
	return 0;
}

/* ---- the state directory ------------------------------------------------------ */

/* The gateway (its own uid) reads the rule files and writes under run/;
 * nobody else writes anything, unless an admin user is named. */
static int prepare_state(struct apply *a)
{
	struct diag d = {""};
	char root[PATH_MAX], path[PATH_MAX];

	int e = state_create(SANDBOX_KIND_APPLY, a->o.name, a->uid, a->gid, &a->state, &d);
	if (e == -EEXIST) {
		enum sandbox_kind kind;
		if (state_find(a->o.name, &kind, NULL) == 0 && kind != SANDBOX_KIND_APPLY) {
			cli_error("apply", "%s", d.msg);
			return -1;
		}
		e = state_open(SANDBOX_KIND_APPLY, a->o.name, &a->state, &d);
	}
	if (e < 0) {
		cli_error("apply", "%s", d.msg);
		return -1;
	}
	/* Traversable, not listable, on the way down; the sandbox's files
	 * readable (they hold rules, not secrets). */
	if (state_root(SANDBOX_KIND_APPLY, root, sizeof(root), &d) == 0) {
		char *slash = strrchr(root, '/');
		(void)chmod(root, 0711);
		if (slash && slash != root) {
			*slash = '\0';
			(void)chmod(root, 0711);
		}
	}
	static const char *const files[] = {"rules/allowed-domains", "rules/blocked-domains"};
	uid_t owner = a->has_admin ? a->admin_uid : 0;
	gid_t group = a->has_admin ? a->admin_gid : 0;
	if (chmod(a->state.dir, 0711) < 0 || chown(a->state.dir, 0, 0) < 0)
		goto fail;
	state_path(&a->state, "rules", path, sizeof(path));
	if (chmod(path, 0755) < 0 || chown(path, owner, group) < 0)
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		state_path(&a->state, files[i], path, sizeof(path));
		if (chown(path, owner, group) < 0 || chmod(path, 0644) < 0)
			goto fail;
	}
	state_path(&a->state, "run", path, sizeof(path));
	if (chown(path, a->uid, a->gid) < 0 || chmod(path, a->has_admin ? 0711 : 0700) < 0)
		goto fail;
	return 0;
fail:
	cli_error("apply", "cannot set up %s: %s", path, strerror(errno));
	return -1;
}

/* ---- the gateway -------------------------------------------------------------- */

static int pid_path(const struct apply *a, char *out, size_t size)
{
	return state_path(&a->state, "run/gateway.pid", out, size);
}

/* The running gateway's pid, when the pid file names a live airlock. */
static pid_t running_gateway(const struct apply *a)
{
	char path[PATH_MAX], cmd[64] = "";
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (pid_path(a, path, sizeof(path)) < 0 || file_read_all(path, 64, &text, &len, NULL) < 0)
		return 0;
	long pid = strtol(text, NULL, 10);
	if (pid <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
	if (n <= 0 || strncmp(cmd, "airlock", 7) != 0)
		return 0;
	return (pid_t)pid;
}

static int stop_gateway(struct apply *a)
{
	char path[PATH_MAX];
	pid_t pid = running_gateway(a);
	if (pid > 0) {
		kill(pid, SIGTERM);
		for (int waited = 0; waited < STOP_WAIT_MS && kill(pid, 0) == 0; waited += 20) {
			(void)waitpid(pid, NULL, WNOHANG); /* our child, when we started it */
			poll(NULL, 0, 20);
		}
		if (kill(pid, 0) == 0) {
			kill(pid, SIGKILL);
			poll(NULL, 0, 50);
		}
	}
	if (pid_path(a, path, sizeof(path)) == 0)
		unlink(path);
	return pid > 0;
}

/* What the daemon tells the apply that started it, once. */
struct started {
	char status[16]; /* "ok" or "error" */
	bool dns, ipv6, nflog;
	char text[DIAG_MSG_MAX];
};

static void on_stop(struct loop *loop, int signo, int code, void *data)
{
	(void)signo;
	(void)code;
	(void)data;
	loop_stop(loop);
}

static void on_reload(struct loop *loop, int signo, int code, void *data)
{
	struct gateway *g = data;
	struct diag d = {""};
	(void)loop;
	(void)signo;
	(void)code;
	if (gateway_reload(g, "reload: SIGHUP", &d) < 0)
		gateway_note(g, "reload failed, keeping the current policy: %s", d.msg);
}

static int listen_on(struct gateway_config *c, enum gateway_service service, const char *text,
                     bool udp)
{
	struct addr a;
	addr_parse(text, 0, &a);
	int fd = udp ? sock_bind_udp(&a) : sock_listen_tcp(&a, 0);
	if (fd < 0)
		return fd;
	c->sockets[c->n_sockets].service = service;
	c->sockets[c->n_sockets].fd = fd;
	c->n_sockets++;
	return 0;
}

/* The daemon: listeners bound and NFLOG opened as root, then the gateway's
 * user for good, then the gateway.  Never returns. */
_noreturn_ static void daemon_main(struct apply *a, struct policy *policy, int report)
{
	struct gateway_config c;
	struct started st = {.status = "error"};
	struct diag d = {""};
	char log[PATH_MAX], control[PATH_MAX];
	struct loop *loop = NULL;
	struct gateway *g = NULL;

	setsid();
	/* The name `airlock apply` and ps know it by, also when a bundled
	 * loader ran it (the devcontainer feature). */
	(void)prctl(PR_SET_NAME, "airlock", 0, 0, 0);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup3(null, STDIN_FILENO, O_CLOEXEC);
		dup3(null, STDOUT_FILENO, O_CLOEXEC);
		dup3(null, STDERR_FILENO, O_CLOEXEC);
		close(null);
	}
	signal(SIGPIPE, SIG_IGN);
	gateway_config_default(&c);
	c.sandbox = a->o.name;
	memcpy(c.dns.upstream.servers, a->upstream.servers, sizeof(a->upstream.servers));
	c.dns.upstream.n_servers = a->upstream.n_servers;
	/* Port 53 taken (a local resolver): the hosts fallback, see apply/hosts.h. */
	st.dns = listen_on(&c, GATEWAY_DNS_UDP, "127.0.0.1:53", true) == 0;
	if (st.dns && listen_on(&c, GATEWAY_DNS_TCP, "127.0.0.1:53", false) < 0) {
		diag_fail(&d, -errno, "cannot listen on 127.0.0.1:53 (TCP) while UDP works");
		goto fail;
	}
	if (listen_on(&c, GATEWAY_PROXY, "127.0.0.1:3128", false) < 0 ||
	    listen_on(&c, GATEWAY_TRANSPARENT, "127.0.0.1:3129", false) < 0) {
		diag_fail(&d, -errno, "cannot listen on 127.0.0.1:3128 and :3129: %s",
		          strerror(errno));
		goto fail;
	}
	st.ipv6 = listen_on(&c, GATEWAY_TRANSPARENT, "[::1]:3129", false) == 0;
	if (st.ipv6) {
		(void)listen_on(&c, GATEWAY_PROXY, "[::1]:3128", false);
		if (st.dns && listen_on(&c, GATEWAY_DNS_UDP, "[::1]:53", true) == 0)
			(void)listen_on(&c, GATEWAY_DNS_TCP, "[::1]:53", false);
	}
	if (a->o.log_blocked) {
		c.firewall_fd = nflog_open(NFLOG_GROUP, &d);
		st.nflog = c.firewall_fd >= 0;
	}
	if (privs_become(a->uid, a->gid, &d) < 0)
		goto fail;
	state_path(&a->state, "run/audit.jsonl", log, sizeof(log));
	state_path(&a->state, "run/control.sock", control, sizeof(control));
	c.log_path = log;
	c.control_path = control;
	c.load_policy = load_policy;
	c.load_policy_ctx = a;
	if (a->has_admin)
		c.control_admin_uid = a->admin_uid;
	loop = loop_new();
	if (!loop) {
		diag_fail(&d, -ENOMEM, "cannot create the event loop");
		goto fail;
	}
	if (loop_add_signal(loop, SIGTERM, on_stop, NULL) < 0 ||
	    loop_add_signal(loop, SIGINT, on_stop, NULL) < 0) {
		diag_fail(&d, -errno, "cannot handle signals");
		goto fail;
	}
	if (gateway_new(loop, &c, TAKE_PTR(policy), &g, &d) < 0)
		goto fail;
	(void)loop_add_signal(loop, SIGHUP, on_reload, g);
	snprintf(st.status, sizeof(st.status), "ok");
	(void)!write(report, &st, sizeof(st));
	close(report);
	int r = loop_run(loop);
	gateway_free(g);
	loop_free(loop);
	_exit(r < 0 ? 1 : 0);
fail:
	snprintf(st.text, sizeof(st.text), "%s", d.msg);
	(void)!write(report, &st, sizeof(st));
	_exit(1);
}

static int start_gateway(struct apply *a, struct policy *policy, struct started *ret)
{
	int pair[2];
	char path[PATH_MAX], text[32];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		cli_error("apply", "cannot create a socket pair: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		cli_error("apply", "cannot start the gateway: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(pair[0]);
		daemon_main(a, policy, pair[1]);
	}
	policy_unref(policy);
	close(pair[1]);
	struct pollfd pf = {.fd = pair[0], .events = POLLIN};
	ssize_t n = poll(&pf, 1, 15000) == 1 ? read(pair[0], ret, sizeof(*ret)) : -1;
	close(pair[0]);
	if (n != (ssize_t)sizeof(*ret) || strcmp(ret->status, "ok") != 0) {
		ret->text[sizeof(ret->text) - 1] = '\0';
		cli_error("apply", "the gateway did not start: %s",
		          n == (ssize_t)sizeof(*ret) ? ret->text : "no word from it");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	/* The admin's way in: only root can give the socket the admin's group. */
	char control[PATH_MAX];
	struct diag d = {""};
	if (a->has_admin &&
	    (state_path(&a->state, "run/control.sock", control, sizeof(control)) < 0 ||
	     control_share(control, a->admin_gid, &d) < 0)) {
		cli_error("apply", "%s",
		          d.msg[0] ? d.msg : "the state directory's path is too long");
		kill(pid, SIGTERM);
		return -1;
	}
	snprintf(text, sizeof(text), "%ld\n", (long)pid);
	pid_path(a, path, sizeof(path));
	_cleanup_close_ int fd =
	        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		cli_error("apply", "cannot write %s: %s", path, strerror(errno));
		kill(pid, SIGTERM);
		return -1;
	}
	return 0;
}

/* ---- the ruleset ----------------------------------------------------------------- */

static void make_spec(const struct apply *a, const struct started *st,
                      struct ruleset_inplace_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->gateway_uid = a->uid;
	spec->dns_port = st->dns ? DNS_PORT : 0;
	spec->proxy_port = PROXY_PORT;
	spec->transparent_port = TRANSPARENT_PORT;
	spec->ipv6 = st->ipv6;
	spec->allow_localhost = a->o.allow_localhost;
	spec->nflog_group = a->o.log_blocked ? NFLOG_GROUP : -1;
	if (a->o.allow_docker_networks) {
		memcpy(spec->direct, a->docker_nets, sizeof(a->docker_nets));
		spec->n_direct = a->n_docker_nets;
	}
	for (size_t i = 0; i < a->upstream.n_servers && i < RULESET_MAX_NETS; i++) {
		const struct addr *s = &a->upstream.servers[i];
		struct ruleset_net *n = &spec->resolvers[spec->n_resolvers++];
		n->family = addr_family(s) == AF_INET ? 4 : 6;
		memcpy(n->addr,
		       n->family == 4 ? (const void *)&s->in4.sin_addr
		                      : (const void *)s->in6.sin6_addr.s6_addr,
		       n->family == 4 ? 4 : 16);
		n->prefix = n->family == 4 ? 32 : 128;
	}
}

/* ---- the whole of it ----------------------------------------------------------------- */

static int do_remove(struct apply *a)
{
	struct diag d = {""};
	int status = 0;

	if (state_open(SANDBOX_KIND_APPLY, a->o.name, &a->state, &d) == 0)
		stop_gateway(a);
	struct diag nd = {""};
	bool nft = nftables_apply(ruleset_remove_text(), &nd) == 0;
	int ipt = iptables_remove(&d);
	if (!nft && ipt < 0) {
		cli_error("apply", "cannot remove the rules: %s; %s", nd.msg, d.msg);
		status = 1;
	}
	if (hosts_remove("/etc/hosts", &d) < 0) {
		cli_error("apply", "%s", d.msg);
		status = 1;
	}
	if (status == 0)
		printf("airlock apply: %s removed: no gateway, no table, /etc/hosts as it was\n",
		       a->o.name);
	return status;
}

static int do_apply(struct apply *a)
{
	struct policy *policy = NULL;
	struct profile prof;
	struct started st = {0};
	struct ruleset_inplace_spec spec;
	char text[RULESET_TEXT_MAX];
	struct diag d = {""};

	if (prepare_state(a) < 0 || add_state_items(a) < 0)
		return 1;
	if (policy_args_build(&a->args, "apply", &prof, &policy) < 0)
		return EXIT_USAGE; /* a mistake in the configuration */
	bool replaced = stop_gateway(a);
	_cleanup_(policy_unrefp) struct policy *kept = policy_ref(policy);
	if (start_gateway(a, policy, &st) < 0)
		return 1;
	make_spec(a, &st, &spec);
	const char *tool = "nftables";
	struct diag nd = {""};
	if (ruleset_render_inplace(&spec, text, sizeof(text), &d) < 0)
		goto failed;
	if (nftables_apply(text, &nd) < 0) {
		/* The same rules through iptables, where that works. */
		struct diag id = {""};
		if (iptables_apply_inplace(&spec, &tool, &id) < 0) {
			diag_fail(&d, -EOPNOTSUPP, "%s; and %s", nd.msg, id.msg);
			goto failed;
		}
		fprintf(stderr,
		        "airlock apply: nftables is not usable here (%s); the rules went in "
		        "through %s\n",
		        nd.msg, tool);
	} else {
		(void)iptables_remove(NULL); /* a fallback's chains, from an earlier apply */
	}
	if (!st.dns) {
		/* No DNS listener: blocked exact names sinkholed where every
		 * resolver looks first. */
		if (hosts_apply("/etc/hosts", kept, &d) < 0)
			cli_error("apply", "warning: %s", d.msg);
	} else if (hosts_remove("/etc/hosts", &d) < 0) {
		cli_error("apply", "warning: %s", d.msg);
	}
	a->state.pid = running_gateway(a);
	a->state.started_ms = audit_now_ms();
	snprintf(a->state.profile, sizeof(a->state.profile), "%s", prof.name);
	char conf[PATH_MAX];
	if (state_save(&a->state, NULL) == 0 &&
	    state_path(&a->state, "sandbox.conf", conf, sizeof(conf)) == 0)
		(void)chmod(conf, 0644); /* `airlock allow` by the admin reads it */
	printf("airlock apply: %s %s: profile %s; DNS %s, proxy 127.0.0.1:%d, redirected flows "
	       ":%d; gateway pid %ld as %s; rules through %s; %s\n",
	       a->o.name, replaced ? "re-applied" : "applied", prof.name,
	       st.dns ? "127.0.0.1:53" : "to the resolvers (port 53 taken: /etc/hosts sinkhole)",
	       PROXY_PORT, TRANSPARENT_PORT, a->state.pid, a->o.user, tool,
	       st.nflog ? "dropped packets logged" : "dropped packets counted");
	return 0;
failed:
	cli_error("apply",
	          "%s; the gateway is stopped again and nothing is filtered: give the container "
	          "CAP_NET_ADMIN (--cap-add NET_ADMIN) and a kernel with nf_tables or iptables",
	          d.msg);
	stop_gateway(a);
	return 1;
}

static int do_check(struct apply *a)
{
	struct policy *policy = NULL;
	struct profile prof;
	struct started st = {.dns = true, .ipv6 = true};
	struct ruleset_inplace_spec spec;
	char text[RULESET_TEXT_MAX];
	struct diag d = {""};

	if (policy_args_build(&a->args, "apply", &prof, &policy) < 0)
		return EXIT_USAGE; /* a mistake in the configuration */
	make_spec(a, &st, &spec);
	if (ruleset_render_inplace(&spec, text, sizeof(text), &d) < 0) {
		cli_error("apply", "%s", d.msg);
		policy_unref(policy);
		return 1;
	}
	printf("# %s: profile %s, %zu rules, default %s; the gateway as %s (uid %u)\n", a->o.name,
	       prof.name, policy_rule_count(policy),
	       policy_default(policy) == ACTION_ALLOW ? "allow" : "block", a->o.user,
	       (unsigned)a->uid);
	fputs(text, stdout);
	policy_unref(policy);
	return 0;
}

int cmd_apply(int argc, char **argv)
{
	struct apply a = {0};
	int status = 1;

	apply_options_init(&a.o);
	policy_args_init(&a.args);
	int r = parse_args(argc, argv, &a);
	if (r != 0) {
		status = r > 0 ? 0 : EXIT_USAGE;
		goto out;
	}
	if (load_config(&a) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	if (sandbox_name_check(a.o.name, NULL) < 0) {
		cli_error("apply", "name = %s: letters, digits, '_', '.' and '-' only", a.o.name);
		status = EXIT_USAGE;
		goto out;
	}
	if (!a.check && geteuid() != 0) {
		cli_error("apply", "this changes the machine's firewall: run it as root (in a "
		                   "container: root, with CAP_NET_ADMIN)");
		goto out;
	}
	if (a.remove) {
		status = do_remove(&a);
		goto out;
	}
	find_workspace(a.workspace, sizeof(a.workspace));
	if (find_users(&a) < 0 || build_items(&a) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	status = a.check ? do_check(&a) : do_apply(&a);
out:
	policy_args_done(&a.args);
	for (size_t i = 0; i < a.n_owned; i++)
		free(a.owned[i]);
	free(a.owned);
	apply_options_done(&a.o);
	return status;
}
