/* airlock run: a command in a sandbox whose only way out is the gateway.
 *
 * The supervisor (this process) keeps the gateway in the caller's network
 * namespace; src/sandbox/ makes the namespaces and binds the gateway's
 * listeners inside them; this file ties the two together: options, the
 * sandbox's state directory, the policy (profile, options, then the
 * sandbox's own rule files), the environment, signals and the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "gateway/gateway.h"
#include "sandbox/sandbox.h"
#include "state/state.h"

static const char run_help[] =
        "Usage: airlock run [OPTIONS] [--] COMMAND [ARGS...]\n"
        "\n"
        "Run COMMAND in a sandbox whose network is the policy's.  The command gets\n"
        "new user, network, mount and PID namespaces; its network namespace has only\n"
        "a loopback interface, so the kernel gives it no way out but the gateway\n"
        "airlock runs for it:\n"
        "  - DNS: /etc/resolv.conf points at the gateway, and nftables sends every\n"
        "    port-53 packet there, whatever resolver the program asks;\n"
        "  - HTTP and HTTPS: HTTP_PROXY, HTTPS_PROXY (and their lower-case twins)\n"
        "    point at the gateway's proxy; programs that ignore them have every\n"
        "    TCP connection redirected to the gateway, which decides on the TLS SNI\n"
        "    or HTTP Host and the address;\n"
        "  - everything else (UDP, QUIC, ICMP, raw IP) is dropped, counted and\n"
        "    logged.\n"
        "The command runs as you, with no capabilities and no_new_privs.  Its\n"
        "standard input, output, error and terminal are yours; signals sent to\n"
        "airlock are passed on; airlock exits with the command's status (125 when\n"
        "airlock itself failed, with a message saying what).  When the command\n"
        "exits, or airlock is killed, every process, listener and rule of the\n"
        "sandbox goes with it.\n"
        "\n"
        "Every decision is a line in the sandbox's audit log ('airlock logs --name\n"
        "NAME').  A named sandbox keeps rules you give it while it runs, from\n"
        "another shell: 'airlock allow --name NAME RULE' (also block, unallow,\n"
        "reset) applies at once and at every later start of that name.\n"
        "\n"
        "Options:\n"
        "  -n, --name NAME          the sandbox's name (default: the command's, with\n"
        "                           -2, -3... when that one is running); its rules and\n"
        "                           log are kept under the state directory\n"
        "      --upstream ADDR      resolver the gateway asks (repeatable; default:\n"
        "                           the nameservers of /etc/resolv.conf)\n"
        "      --log FILE           the audit log (default: the sandbox's, in the state\n"
        "                           directory)\n"
        "      --ask                hold what the policy refuses by its default (no\n"
        "                           rule matched; never an explicit block) and ask:\n"
        "                           on the terminal (y: allow for this run, a: always,\n"
        "                           n: deny), or from another shell with 'airlock\n"
        "                           pending', 'airlock approve ID [--always]' and\n"
        "                           'airlock deny ID'.  'always' keeps the rule in the\n"
        "                           sandbox's allowed-domains.  When the command itself\n"
        "                           reads the terminal, answer from another shell\n"
        "      --ask-timeout S      no answer within S seconds (default 60) denies\n"
        "      --hide PATH          also hide PATH from the command (repeatable; see\n"
        "                           below)\n"
        "  -q, --quiet              no summary of refusals when the command ends\n"
        "  -h, --help               show this help\n"
        "\n" POLICY_ARGS_HELP "\n"
        "Profiles: 'airgapped' gives the sandbox no network at all (not even DNS);\n"
        "'permissive' allows everything and still logs it.\n"
        "\n"
        "Unix sockets are reached by path, whatever the network: the sandbox hides\n"
        "the ones that could act for the command outside (D-Bus, container engines,\n"
        "nscd, systemd-resolved, avahi, X11, your $XDG_RUNTIME_DIR) and airlock's own\n"
        "state and configuration, each under an empty read-only directory.  The rest\n"
        "of the file system is yours as usual; --hide adds paths.\n"
        "\n"
        "Inside the sandbox the gateway listens on 127.0.0.1 and ::1, ports 53 (DNS),\n"
        "3128 (the proxy) and 3129 (redirected flows); the command cannot use those.\n"
        "\n"
        "Examples:\n"
        "  airlock run --profile strict --allow api.github.com -- npm test\n"
        "  airlock run --name agent --claude -- claude\n"
        "  airlock run --profile airgapped -- make check\n";

/* The sockets the gateway serves inside the sandbox, by index. */
enum {
	S_DNS_UDP4,
	S_DNS_TCP4,
	S_PROXY4,
	S_TRANSPARENT4,
	S_DNS_UDP6,
	S_DNS_TCP6,
	S_PROXY6,
	S_TRANSPARENT6,
	S_COUNT,
};

#define DNS_PORT         53
#define PROXY_PORT       3128
#define TRANSPARENT_PORT 3129

enum {
	OPT_NAME = OPT_FIRST_FREE,
	OPT_UPSTREAM,
	OPT_LOG,
	OPT_ASK,
	OPT_ASK_TIMEOUT,
	OPT_HIDE,
};

/* Unix sockets (and the files around them) a sandboxed program must not
 * reach: they are reached by path, across network namespaces, and each
 * could act for it outside: the D-Bus buses (systemd-run, a user service),
 * container engines, resolvers that answer any name (nscd,
 * systemd-resolved's varlink, avahi), the X server.  The user's runtime
 * directory, airlock's state (control sockets, rule files, logs) and
 * configuration are added at run time. */
static const char *const hidden_always[] = {
        "/run/dbus",
        "/var/run/dbus",
        "/run/systemd/resolve",
        "/run/nscd",
        "/var/run/nscd",
        "/run/avahi-daemon",
        "/var/run/avahi-daemon",
        "/run/docker.sock",
        "/var/run/docker.sock",
        "/run/containerd",
        "/run/podman",
        "/run/snapd.socket",
        "/run/snapd-snap.socket",
        "/tmp/.X11-unix",
};

/* Questions shown on the terminal, oldest first: the answer typed is for
 * the first. */
#define PROMPT_QUEUE 64

struct run {
	struct policy_args args;
	struct sandbox_state state;
	char allowed_path[PATH_MAX], blocked_path[PATH_MAX];
	char allowed_label[SANDBOX_NAME_MAX + 32], blocked_label[SANDBOX_NAME_MAX + 32];
	const char *name;
	const char *log_path;
	struct upstream_config upstream;
	bool quiet;
	bool named;
	char **argv;

	struct loop *loop;
	struct gateway *gateway;
	struct sandbox *sandbox;

	/* Hidden from the sandbox: the fixed list, then these. */
	char hide_state[PATH_MAX], hide_config[PATH_MAX], hide_runtime[PATH_MAX],
	        hide_docker[PATH_MAX];
	const char *hide_extra[8];
	size_t n_hide_extra;

	/* --ask */
	bool ask;
	unsigned ask_timeout_s;
	int tty; /* /dev/tty, or -1: answers come from `airlock approve` only */
	struct {
		unsigned id;
		char text[NAME_BUF_SIZE + 32];
	} queue[PROMPT_QUEUE];
	size_t n_queue;
	char line[64];
	size_t line_len;
};

/* ---- options --------------------------------------------------------- */

static int parse_options(int argc, char **argv, struct run *run)
{
	static const struct option longopts[] = {
	        POLICY_ARGS_LONGOPTS,
	        {"name", required_argument, NULL, 'n'},
	        {"upstream", required_argument, NULL, OPT_UPSTREAM},
	        {"log", required_argument, NULL, OPT_LOG},
	        {"ask", no_argument, NULL, OPT_ASK},
	        {"ask-timeout", required_argument, NULL, OPT_ASK_TIMEOUT},
	        {"hide", required_argument, NULL, OPT_HIDE},
	        {"quiet", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+" POLICY_ARGS_SHORTOPTS "n:qh", longopts, NULL)) !=
	       -1) {
		int r = policy_args_option(&run->args, "run", opt, optarg);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		switch (opt) {
		case 'n':
			run->name = optarg;
			run->named = true;
			break;
		case OPT_UPSTREAM: {
			struct upstream_config *up = &run->upstream;
			if (up->n_servers == UPSTREAM_MAX_SERVERS) {
				cli_error("run", "at most %d --upstream", UPSTREAM_MAX_SERVERS);
				return -1;
			}
			if (addr_parse(optarg, 53, &up->servers[up->n_servers]) < 0) {
				cli_error(
				        "run",
				        "--upstream '%s': expected an address, e.g. 192.0.2.53 or "
				        "[2001:db8::53]:5353",
				        optarg);
				return -1;
			}
			up->n_servers++;
			break;
		}
		case OPT_LOG:
			run->log_path = optarg;
			break;
		case OPT_ASK:
			run->ask = true;
			break;
		case OPT_ASK_TIMEOUT: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || v == 0 ||
			    v > 3600) {
				cli_error("run", "--ask-timeout '%s': expected seconds, 1 to 3600",
				          optarg);
				return -1;
			}
			run->ask = true;
			run->ask_timeout_s = (unsigned)v;
			break;
		}
		case OPT_HIDE:
			if (run->n_hide_extra == ARRAY_SIZE(run->hide_extra)) {
				cli_error("run", "at most %zu --hide", ARRAY_SIZE(run->hide_extra));
				return -1;
			}
			if (optarg[0] != '/') {
				cli_error("run", "--hide '%s': give an absolute path", optarg);
				return -1;
			}
			run->hide_extra[run->n_hide_extra++] = optarg;
			break;
		case 'q':
			run->quiet = true;
			break;
		case 'h':
			fputs(run_help, stdout);
			return 1;
		default:
			fputs("Try 'airlock run --help'.\n", stderr);
			return -1;
		}
	}
	if (optind >= argc) {
		cli_error("run", "no command to run: airlock run [OPTIONS] -- COMMAND [ARGS...]");
		return -1;
	}
	run->argv = argv + optind;
	if (run->upstream.n_servers == 0 && cli_default_upstreams("run", &run->upstream) < 0)
		return -1;
	return 0;
}

/* ---- the state directory: name, lock, rule files --------------------- */

/* A sandbox name from the command: its basename, cut to what names allow. */
static void name_from_command(const char *cmd, char *out, size_t size)
{
	const char *base = strrchr(cmd, '/');
	base = base ? base + 1 : cmd;
	size_t o = 0;
	for (const char *p = base; *p && o + 1 < size && o < SANDBOX_NAME_MAX - 4; p++) {
		char c = *p;
		bool alnum =
		        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (alnum || (o > 0 && strchr("_.-", c)))
			out[o++] = c;
	}
	out[o] = '\0';
	if (o == 0 || strncmp(out, "airlock-", 8) == 0)
		snprintf(out, size, "sandbox");
}

/* Open (creating when new) the sandbox's directory and take its lock.
 * Returns the lock's fd, -EBUSY when that sandbox runs already. */
static int open_state(const char *name, struct sandbox_state *s, struct diag *d)
{
	char path[PATH_MAX];
	int e = state_create(SANDBOX_KIND_RUN, name, geteuid(), getegid(), s, d);
	if (e == -EEXIST) {
		enum sandbox_kind kind;
		if (state_find(name, &kind, NULL) == 0 && kind != SANDBOX_KIND_RUN)
			return e; /* a Docker sandbox's name; d says so */
		/* A directory without sandbox.conf never got that far; its
		 * rules, if any, count all the same. */
		e = state_open(SANDBOX_KIND_RUN, name, s, d);
	}
	if (e < 0)
		return e;
	if (state_path(s, "run/lock", path, sizeof(path)) < 0)
		return diag_fail(d, -ENAMETOOLONG, "the state directory's path is too long");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return diag_fail(d, -errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		close(fd);
		if (err == EWOULDBLOCK)
			return diag_fail(d, -EBUSY, "sandbox %s is running already (pid %ld)", name,
			                 s->pid);
		return diag_fail(d, -err, "cannot lock %s: %s", path, strerror(err));
	}
	return fd;
}

/* The named sandbox, or the command's name with the first free suffix. */
static int claim_state(struct run *run, struct diag *d)
{
	char base[SANDBOX_NAME_MAX + 1], name[SANDBOX_NAME_MAX + 1];

	if (run->named)
		return open_state(run->name, &run->state, d);
	name_from_command(run->argv[0], base, sizeof(base));
	for (int i = 1; i <= 100; i++) {
		if (i == 1)
			snprintf(name, sizeof(name), "%s", base);
		else
			snprintf(name, sizeof(name), "%s-%d", base, i);
		int fd = open_state(name, &run->state, d);
		if (fd != -EBUSY && fd != -EEXIST)
			return fd;
	}
	return diag_fail(d, -EBUSY, "a hundred sandboxes named %s are running: give --name", base);
}

static int write_resolv_conf(const struct sandbox_state *s, char *path, size_t size, struct diag *d)
{
	static const char text[] = "# airlock: this sandbox's DNS is the gateway's\n"
	                           "nameserver 127.0.0.1\n";
	if (state_path(s, "run/resolv.conf", path, size) < 0)
		return diag_fail(d, -ENAMETOOLONG, "the state directory's path is too long");
	_cleanup_close_ int fd =
	        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1))
		return diag_fail(d, -errno, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* ---- the policy -------------------------------------------------------- */

static int load_policy(void *ctx, struct policy_builder *b, struct diag *d)
{
	struct run *run = ctx;
	struct profile prof;
	return policy_args_load(&run->args, b, &prof, d);
}

/* ---- the environment ----------------------------------------------------- */

static bool is_proxy_var(const char *kv)
{
	static const char *const names[] = {
	        "HTTP_PROXY=",  "HTTPS_PROXY=", "ALL_PROXY=", "NO_PROXY=",       "http_proxy=",
	        "https_proxy=", "all_proxy=",   "no_proxy=",  "AIRLOCK_SANDBOX="};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strncmp(kv, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/* The caller's environment without proxy settings, then ours.  The strings
 * are the caller's or static, except the AIRLOCK_SANDBOX one (in `own`). */
static char **make_env(bool proxies, const char *name, char *own, size_t own_size)
{
	static char proxy_vars[][40] = {
	        "HTTP_PROXY=http://127.0.0.1:3128", "HTTPS_PROXY=http://127.0.0.1:3128",
	        "http_proxy=http://127.0.0.1:3128", "https_proxy=http://127.0.0.1:3128",
	        "NO_PROXY=localhost,127.0.0.1,::1", "no_proxy=localhost,127.0.0.1,::1",
	};
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + ARRAY_SIZE(proxy_vars) + 2, sizeof(*env));
	if (!env)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		if (!is_proxy_var(environ[i]))
			env[o++] = environ[i];
	for (size_t i = 0; proxies && i < ARRAY_SIZE(proxy_vars); i++)
		env[o++] = proxy_vars[i];
	snprintf(own, own_size, "AIRLOCK_SANDBOX=%s", name);
	env[o++] = own;
	env[o] = NULL;
	return env;
}

/* ---- what the sandbox must not reach --------------------------------------- */

static void add_hide(struct sandbox_spec *spec, const char *path)
{
	if (path && path[0] == '/' && spec->n_hide < SANDBOX_MAX_HIDE)
		spec->hide[spec->n_hide++] = path;
}

static void make_hide_list(struct run *run, struct sandbox_spec *spec)
{
	const char *env;
	char root[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(hidden_always); i++)
		add_hide(spec, hidden_always[i]);
	/* airlock's state: the parent of the run/ and docker/ roots. */
	if (state_root(SANDBOX_KIND_RUN, root, sizeof(root), NULL) == 0) {
		char *slash = strrchr(root, '/');
		if (slash && slash != root) {
			*slash = '\0';
			snprintf(run->hide_state, sizeof(run->hide_state), "%s", root);
			add_hide(spec, run->hide_state);
		}
	}
	if ((env = getenv("XDG_CONFIG_HOME")) && *env)
		snprintf(run->hide_config, sizeof(run->hide_config), "%s/airlock", env);
	else if ((env = getenv("HOME")) && *env)
		snprintf(run->hide_config, sizeof(run->hide_config), "%s/.config/airlock", env);
	add_hide(spec, run->hide_config);
	if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
		snprintf(run->hide_runtime, sizeof(run->hide_runtime), "%s", env);
	else
		snprintf(run->hide_runtime, sizeof(run->hide_runtime), "/run/user/%u",
		         (unsigned)geteuid());
	add_hide(spec, run->hide_runtime);
	if ((env = getenv("DOCKER_HOST")) && strncmp(env, "unix://", 7) == 0) {
		snprintf(run->hide_docker, sizeof(run->hide_docker), "%s", env + 7);
		add_hide(spec, run->hide_docker);
	}
	for (size_t i = 0; i < run->n_hide_extra; i++)
		add_hide(spec, run->hide_extra[i]);
}

/* ---- the sandbox's spec ---------------------------------------------------- */

static void add_socket(struct sandbox_spec *spec, size_t index, enum sandbox_socket_kind kind,
                       const char *text)
{
	spec->sockets[index].kind = kind;
	addr_parse(text, 0, &spec->sockets[index].addr);
	if (spec->n_sockets <= index)
		spec->n_sockets = index + 1;
}

static void make_spec(struct sandbox_spec *spec, bool network)
{
	spec->confine = true;
	spec->rules.nflog_group = 7;
	if (!network) {
		/* airgapped: no listener at all; the firewall still counts and
		 * logs what the command tries. */
		spec->rules.dns_port = 0;
		spec->rules.transparent_port = 0;
		return;
	}
	spec->rules.dns_port = DNS_PORT;
	spec->rules.transparent_port = TRANSPARENT_PORT;
	add_socket(spec, S_DNS_UDP4, SANDBOX_UDP, "127.0.0.1:53");
	add_socket(spec, S_DNS_TCP4, SANDBOX_TCP_LISTEN, "127.0.0.1:53");
	add_socket(spec, S_PROXY4, SANDBOX_TCP_LISTEN, "127.0.0.1:3128");
	add_socket(spec, S_TRANSPARENT4, SANDBOX_TCP_LISTEN, "127.0.0.1:3129");
	add_socket(spec, S_DNS_UDP6, SANDBOX_UDP, "[::1]:53");
	add_socket(spec, S_DNS_TCP6, SANDBOX_TCP_LISTEN, "[::1]:53");
	add_socket(spec, S_PROXY6, SANDBOX_TCP_LISTEN, "[::1]:3128");
	add_socket(spec, S_TRANSPARENT6, SANDBOX_TCP_LISTEN, "[::1]:3129");
}

/* The sockets the helper bound, handed to the gateway config (which takes
 * them: the sandbox's slots are emptied). */
static void hand_sockets(struct sandbox *sb, struct gateway_config *c)
{
	static const enum gateway_service service[S_COUNT] = {
	        [S_DNS_UDP4] = GATEWAY_DNS_UDP, [S_DNS_TCP4] = GATEWAY_DNS_TCP,
	        [S_PROXY4] = GATEWAY_PROXY,     [S_TRANSPARENT4] = GATEWAY_TRANSPARENT,
	        [S_DNS_UDP6] = GATEWAY_DNS_UDP, [S_DNS_TCP6] = GATEWAY_DNS_TCP,
	        [S_PROXY6] = GATEWAY_PROXY,     [S_TRANSPARENT6] = GATEWAY_TRANSPARENT,
	};
	for (size_t i = 0; i < S_COUNT; i++) {
		if (sb->fds[i] < 0)
			continue;
		c->sockets[c->n_sockets].service = service[i];
		c->sockets[c->n_sockets].fd = TAKE_FD(sb->fds[i]);
		c->n_sockets++;
	}
}

/* ---- the loop: dropped packets, signals, the end ------------------------- */

static void on_helper_exit(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct run *run = data;
	(void)fd;
	(void)events;
	/* What the firewall logged in the command's last moments is queued in
	 * the NFLOG socket: into the audit log with it, before the end. */
	gateway_drain_firewall(run->gateway);
	loop_stop(loop);
}

static void on_signal(struct loop *loop, int signo, int code, void *data)
{
	struct run *run = data;
	(void)loop;
	/* The terminal's signals (^C, ^\) reached the command directly: it is
	 * in our process group.  Signals someone sent to airlock go on to it. */
	if (code > 0)
		return;
	(void)sandbox_signal(run->sandbox, signo);
}

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

/* ---- --ask: questions on the terminal ------------------------------------- */

static void show_prompt(struct run *run)
{
	if (run->tty < 0 || run->n_queue == 0)
		return;
	char msg[512];
	int n = snprintf(msg, sizeof(msg),
	                 "\nairlock: %s wants %s. Allow? [y]es for this run, [a]lways, [N]o "
	                 "(%us; or 'airlock approve %u' elsewhere) ",
	                 run->state.name, run->queue[0].text, run->ask_timeout_s, run->queue[0].id);
	if (n > 0)
		(void)!write(run->tty, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

static void on_question(void *ctx, const struct approval_question *q)
{
	struct run *run = ctx;
	if (run->n_queue == PROMPT_QUEUE)
		return; /* shown by 'airlock pending' only */
	char port[8] = "";
	if (q->port)
		snprintf(port, sizeof(port), ":%u", q->port);
	run->queue[run->n_queue].id = q->id;
	snprintf(run->queue[run->n_queue].text, sizeof(run->queue[0].text), "%s%s (%s)", q->name,
	         port, audit_proto_name(q->proto) ?: "-");
	if (run->n_queue++ == 0)
		show_prompt(run);
}

static void on_question_settled(void *ctx, const struct approval_question *q,
                                enum approval_answer a)
{
	struct run *run = ctx;
	for (size_t i = 0; i < run->n_queue; i++) {
		if (run->queue[i].id != q->id)
			continue;
		if (i == 0 && run->tty >= 0) {
			char msg[128];
			int n = snprintf(msg, sizeof(msg), "\nairlock: question %u: %s\n", q->id,
			                 approval_answer_text(a));
			if (n > 0)
				(void)!write(run->tty, msg, (size_t)n);
		}
		memmove(&run->queue[i], &run->queue[i + 1],
		        (run->n_queue - i - 1) * sizeof(run->queue[0]));
		run->n_queue--;
		if (i == 0)
			show_prompt(run);
		return;
	}
}

/* Keep an approved rule in the sandbox's allowed-domains ('a'lways). */
static int keep_rule(void *ctx, const char *rule, struct diag *d)
{
	struct run *run = ctx;
	return state_rule_set(&run->state, ACTION_ALLOW, false, rule, NULL, d);
}

/* A line typed on the terminal answers the first question shown. */
static void on_tty(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct run *run = data;
	char buf[64];
	(void)loop;

	/* Only while airlock is in the foreground: in the background the
	 * terminal is someone else's (and reading it would stop us). */
	if (tcgetpgrp(fd) != getpgrp() && !(events & LOOP_HUP))
		return;
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			(void)loop_del_fd(run->loop, fd); /* no terminal any more */
			close(TAKE_FD(run->tty));
		}
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (run->line_len + 1 < sizeof(run->line))
				run->line[run->line_len++] = buf[i];
			continue;
		}
		run->line[run->line_len] = '\0';
		char c = run->line[strspn(run->line, " \t")];
		run->line_len = 0;
		if (run->n_queue == 0)
			continue;
		enum approval_answer a = c == 'y' || c == 'Y'   ? APPROVAL_ONCE
		                         : c == 'a' || c == 'A' ? APPROVAL_ALWAYS
		                                                : APPROVAL_DENY;
		struct diag d = {""};
		if (gateway_answer(run->gateway, run->queue[0].id, a, &d) < 0)
			cli_error("run", "%s", d.msg);
	}
}

/* The terminal for questions, when there is one. */
static void open_tty(struct run *run)
{
	run->tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (run->tty >= 0 && loop_add_fd(run->loop, run->tty, LOOP_READ, on_tty, run) == 0) {
		/* Read and write the terminal even from the background: a
		 * stop would freeze the sandbox's gateway. */
		signal(SIGTTIN, SIG_IGN);
		signal(SIGTTOU, SIG_IGN);
		return;
	}
	if (run->tty >= 0)
		close(TAKE_FD(run->tty));
	fprintf(stderr,
	        "airlock run: --ask without a terminal: 'airlock pending' lists the questions, "
	        "'airlock approve ID' and 'airlock deny ID' answer them\n");
}

/* ---- the end -------------------------------------------------------------- */

static void summary(struct run *run)
{
	struct dns_stats ds;
	struct proxy_stats ps;
	uint64_t dropped = 0;

	gateway_dns_stats(run->gateway, &ds);
	gateway_proxy_stats(run->gateway, &ps);
	for (int c = 0; run->sandbox->have_counts && c < RULESET_N_COUNTERS; c++)
		dropped += run->sandbox->dropped[c];
	uint64_t refused = ds.refused + ps.blocked + ps.sni_refused + ps.policy_closed;
	if (run->quiet || (refused == 0 && dropped == 0))
		return;
	char requests[64] = "", packets[64] = "";
	if (refused)
		snprintf(requests, sizeof(requests), "refused %llu request%s",
		         (unsigned long long)refused, refused == 1 ? "" : "s");
	if (dropped)
		snprintf(packets, sizeof(packets), "dropped %llu packet%s",
		         (unsigned long long)dropped, dropped == 1 ? "" : "s");
	fprintf(stderr,
	        "airlock run: sandbox %s %s%s%s; 'airlock logs --name %s --blocked' says "
	        "what and why\n",
	        run->state.name, requests, refused && dropped ? " and " : "", packets,
	        run->state.name);
}

static void warn_unconfined(const struct sandbox *sb)
{
	if (sb->unconfined_why[0])
		fprintf(stderr,
		        "airlock run: warning: nftables is not usable inside the sandbox (%s).  "
		        "Transparent interception is off: programs that ignore HTTP_PROXY or "
		        "the sandbox's DNS reach nothing, and nothing else gets out either\n",
		        sb->unconfined_why);
	for (const char *p = sb->notes; *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		fprintf(stderr, "airlock run: note: %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
}

/* Each connection of the gateway holds up to 6 descriptors. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Everything up to the command's start; the sandbox, gateway and loop are
 * in `run` for the caller to free.  0, or -1 after printing an error. */
static int start(struct run *run, struct policy *policy)
{
	struct sandbox_spec spec = {0};
	struct gateway_config c;
	struct diag d = {""};
	char resolv[PATH_MAX], log[PATH_MAX], control[PATH_MAX], own[AUDIT_SANDBOX_SIZE + 32];
	bool network = !policy_network_none(policy);
	_cleanup_free_ char **env = make_env(network, run->state.name, own, sizeof(own));

	if (!env) {
		policy_unref(policy);
		cli_error("run", "out of memory");
		return -1;
	}
	if (write_resolv_conf(&run->state, resolv, sizeof(resolv), &d) < 0 ||
	    state_path(&run->state, "run/audit.jsonl", log, sizeof(log)) < 0 ||
	    state_path(&run->state, "run/control.sock", control, sizeof(control)) < 0) {
		policy_unref(policy);
		cli_error("run", "%s", d.msg[0] ? d.msg : "the state directory's path is too long");
		return -1;
	}
	spec.argv = run->argv;
	spec.envp = env;
	spec.uid = geteuid();
	spec.gid = getegid();
	spec.resolv_conf = resolv;
	make_spec(&spec, network);
	make_hide_list(run, &spec);

	/* Before any thread (the log writer) exists: fork. */
	if (sandbox_prepare(&spec, &run->sandbox, &d) < 0) {
		policy_unref(policy);
		cli_error("run", "%s", d.msg);
		return -1;
	}
	warn_unconfined(run->sandbox);

	run->loop = loop_new();
	if (!run->loop) {
		policy_unref(policy);
		cli_error("run", "cannot create the event loop: %s", strerror(errno));
		return -1;
	}
	gateway_config_default(&c);
	c.sandbox = run->state.name;
	memcpy(c.dns.upstream.servers, run->upstream.servers, sizeof(run->upstream.servers));
	c.dns.upstream.n_servers = run->upstream.n_servers;
	c.log_path = run->log_path ? run->log_path : log;
	c.control_path = control;
	c.load_policy = load_policy;
	c.load_policy_ctx = run;
	if (run->ask) {
		c.ask = true;
		approvals_config_default(&c.approvals);
		if (run->ask_timeout_s)
			c.approvals.timeout_ms = run->ask_timeout_s * 1000;
		run->ask_timeout_s = c.approvals.timeout_ms / 1000;
		c.ask_prompt = on_question;
		c.ask_settled = on_question_settled;
		c.ask_keep = keep_rule;
		c.ask_ctx = run;
		open_tty(run);
	}
	hand_sockets(run->sandbox, &c);
	c.firewall_fd = TAKE_FD(run->sandbox->nflog_fd);
	if (gateway_new(run->loop, &c, policy, &run->gateway, &d) < 0) {
		cli_error("run", "%s", d.msg);
		return -1;
	}
	int e = loop_add_fd(run->loop, run->sandbox->helper_pidfd, LOOP_READ, on_helper_exit, run);
	for (size_t i = 0; e == 0 && i < ARRAY_SIZE(forwarded_signals); i++)
		e = loop_add_signal(run->loop, forwarded_signals[i], on_signal, run);
	if (e < 0) {
		cli_error("run", "cannot watch the sandbox: %s", strerror(-e));
		return -1;
	}
	if (sandbox_start(run->sandbox, &d) < 0) {
		cli_error("run", "%s", d.msg);
		return -1;
	}
	run->state.pid = (long)getpid();
	run->state.started_ms = audit_now_ms();
	snprintf(run->state.profile, sizeof(run->state.profile), "%s", run->args.profile);
	if (state_save(&run->state, &d) < 0)
		gateway_note(run->gateway, "%s", d.msg);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run run = {.tty = -1};
	struct diag d = {""};
	struct policy *policy = NULL;
	struct profile prof;
	_cleanup_close_ int lock = -1;
	int status = EXIT_RUN_FAILED;

	policy_args_init(&run.args);
	int r = parse_options(argc, argv, &run);
	if (r != 0) {
		policy_args_done(&run.args);
		return r > 0 ? 0 : EXIT_RUN_FAILED;
	}
	lock = claim_state(&run, &d);
	if (lock < 0) {
		cli_error("run", "%s", d.msg);
		goto out;
	}
	/* The sandbox's own rules come last, each replacing the same rule
	 * from the profile or the command line. */
	snprintf(run.allowed_label, sizeof(run.allowed_label), "%s's allowed-domains",
	         run.state.name);
	snprintf(run.blocked_label, sizeof(run.blocked_label), "%s's blocked-domains",
	         run.state.name);
	if (state_path(&run.state, "rules/allowed-domains", run.allowed_path,
	               sizeof(run.allowed_path)) < 0 ||
	    state_path(&run.state, "rules/blocked-domains", run.blocked_path,
	               sizeof(run.blocked_path)) < 0 ||
	    policy_args_add(&run.args, "run", POLICY_ITEM_SANDBOX_FILE, ACTION_ALLOW,
	                    run.allowed_path, run.allowed_label) < 0 ||
	    policy_args_add(&run.args, "run", POLICY_ITEM_SANDBOX_FILE, ACTION_BLOCK,
	                    run.blocked_path, run.blocked_label) < 0)
		goto out;
	if (policy_args_build(&run.args, "run", &prof, &policy) < 0)
		goto out;
	/* splice() raises SIGPIPE for a peer gone (it has no MSG_NOSIGNAL). */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (start(&run, policy) < 0)
		goto out;

	r = loop_run(run.loop);
	if (r < 0) {
		cli_error("run", "the event loop failed: %s; stopping the sandbox", strerror(-r));
		goto out;
	}
	status = sandbox_wait(run.sandbox);
	summary(&run);
out:
	/* The sandbox first: its helper's death takes the command with it. */
	sandbox_free(run.sandbox);
	gateway_free(run.gateway);
	if (run.tty >= 0)
		close(run.tty);
	loop_free(run.loop);
	policy_args_done(&run.args);
	return status;
}
