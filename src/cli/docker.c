/* airlock docker: containers on an internal network behind a gateway sidecar.
 *
 * The Docker objects are made through the Engine API (src/docker/); only
 * the workload itself is started by the `docker` command, because `docker
 * run` has a hundred options and the attach/TTY protocol, and the person
 * already knows them.  airlock puts its network options first and refuses
 * the user options that would undo them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "docker/client.h"
#include "docker/image.h"
#include "docker/topology.h"
#include "gateway/control.h"
#include "net/addr.h"
#include "sandbox/privs.h"
#include "state/state.h"
#include "util/file.h"

#define EXIT_FAILED 125 /* as `docker run`: the sandbox could not be made */
#define GC_GRACE_S  60

static const char docker_help[] =
        "Usage: airlock docker COMMAND [ARGS]\n"
        "\n"
        "Run containers on an internal Docker network whose only way out is an\n"
        "airlock gateway sidecar (DNS filter and HTTP proxy) with the sandbox's\n"
        "policy.  The workload has no route off its network: the proxy variables\n"
        "are a convenience, the network is the boundary.\n"
        "\n"
        "Commands:\n"
        "  run [OPTIONS] [DOCKER RUN OPTIONS] IMAGE [CMD...]\n"
        "                          start the sidecar, wait until it serves, then\n"
        "                          the workload ('airlock docker run --help')\n"
        "  reset NAME              re-create NAME's sidecar from its rule files, at\n"
        "                          the same address; the workload keeps running\n"
        "  allow NAME RULE...      allow RULE for NAME now and at every start\n"
        "  block NAME RULE...      block RULE for NAME now and at every start\n"
        "  unallow NAME RULE...    take RULE out of NAME's rules\n"
        "  ls                      list the sandboxes\n"
        "  rm NAME...              remove workload, sidecar, networks and files\n"
        "  gc [--grace S]          remove sandboxes whose workload is gone (older\n"
        "                          than S seconds, default 60) and leftovers\n"
        "  protect [OPTIONS] CONTAINER\n"
        "                          confine a container that keeps its own network to\n"
        "                          its gateway with host rules ('protect --help')\n"
        "  unprotect CONTAINER     remove those rules\n"
        "  image build [--image REF]\n"
        "                          build the gateway image from this airlock binary\n"
        "                          and its libraries (nothing is downloaded)\n"
        "  healthcheck [--user UID:GID] [SOCKET]\n"
        "                          (inside the sidecar) exit 0 when the gateway on\n"
        "                          SOCKET answers; as root, asks as UID:GID\n"
        "\n"
        "The daemon: $DOCKER_HOST (unix:// only), else /var/run/docker.sock.\n"
        "Files: $AIRLOCK_STATE_DIR/docker/NAME (default /var/lib/airlock/docker/NAME\n"
        "as root): the rule files, the control socket, the audit log\n"
        "(run/audit.jsonl: 'airlock logs FILE').  See docs/docker.md.\n";

static const char run_help[] =
        "Usage: airlock docker run [OPTIONS] [DOCKER RUN OPTIONS] IMAGE [CMD...]\n"
        "\n"
        "Create the sandbox's internal network (airlock-int-NAME) and the shared NAT\n"
        "network (airlock-egress) when missing, start the gateway sidecar\n"
        "(airlock-gw-NAME) on both, with a fixed address on the internal one, and\n"
        "wait until its gateway answers on the control socket (the check of its\n"
        "Docker healthcheck).  Only then start the workload with `docker run` on\n"
        "the internal network alone, its DNS pointing at the sidecar and\n"
        "HTTP_PROXY/HTTPS_PROXY at its proxy.  If the sidecar does not come up,\n"
        "nothing is started and what was made is removed.\n"
        "A profile with `network = none` (airgapped) gives --network none and no\n"
        "sidecar.\n"
        "\n"
        "Options (before any docker option):\n"
        "      --name NAME           the sandbox's name, also the workload container's\n"
        "                            (default: a random sb-XXXXXXXX)\n"
        "      --profile NAME|FILE   profile (default: standard)\n"
        "      --allow RULE          allow RULE (repeatable); kept in the sandbox's\n"
        "                            rule files\n"
        "      --block RULE          block RULE (repeatable)\n"
        "      --default allow|block what happens when no rule matches\n"
        "      --upstream ADDR       resolver the sidecar asks (repeatable; default:\n"
        "                            the sidecar's own, i.e. Docker's)\n"
        "      --gateway-image REF   the sidecar's image (default\n"
        "                            airlock-gateway:VERSION, built from this binary\n"
        "                            when missing or out of date; another REF is\n"
        "                            used as it is, built only when missing)\n"
        "  -h, --help                show this help\n"
        "\n"
        "Refused docker options, because they would undo the sandbox: --network,\n"
        "--net, --dns, --name (give airlock's), --privileged, --pid host,\n"
        "--userns host, --use-api-socket.\n"
        "\n"
        "The exit status is the workload's (that of `docker run`), or 125 when the\n"
        "sandbox could not be made.  When the workload container is gone after\n"
        "`docker run` returns (--rm, or it could not be created), the sidecar,\n"
        "network and files go too.\n";

/* ---- small helpers ---- */

static void json_put(struct json_object **o)
{
	json_object_put(*o);
}

static int open_docker(const char *cmd, struct docker **ret)
{
	struct diag d = {""};
	if (docker_open(NULL, ret, &d) < 0) {
		cli_error(cmd, "%s", d.msg);
		return -1;
	}
	return 0;
}

/* The user the sidecar runs as: a dedicated unprivileged uid when root
 * starts it, else the caller's own uid (which then owns the control socket). */
static void sidecar_user(uid_t *uid, gid_t *gid)
{
	if (geteuid() == 0) {
		*uid = GATEWAY_UID;
		*gid = GATEWAY_UID;
	} else {
		*uid = geteuid();
		*gid = getegid();
	}
}

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n > 0 &&
		    snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		p += n + (colon ? 1 : 0);
	}
	return false;
}

/* Remove everything of sandbox `name`: Docker objects, then files. */
static int remove_sandbox(struct docker *dk, const char *name, struct diag *d)
{
	/* The host rules first, while the sidecar still shows where they are.
	 * One that cannot be deleted must not keep the sandbox: it matches
	 * only this sandbox's bridge, which goes next. */
	struct diag rules = {""};
	if (topology_passage_remove(dk, name, &rules) < 0)
		fprintf(stderr, "airlock docker: warning: %s's host rules stay: %s\n", name,
		        rules.msg);
	int e = topology_remove(dk, name, d);
	if (e < 0)
		return e;
	return state_remove(SANDBOX_KIND_DOCKER, name, d);
}

/* ---- run ---- */

struct run_opts {
	struct policy_args policy;
	const char *name;
	const char *image;
	const char *upstream[STATE_MAX_UPSTREAM];
	size_t n_upstream;
	int docker_first; /* index of the first docker option or IMAGE */
};

enum {
	RUN_NAME = 1,
	RUN_PROFILE,
	RUN_ALLOW,
	RUN_BLOCK,
	RUN_DEFAULT,
	RUN_UPSTREAM,
	RUN_IMAGE,
	RUN_HELP,
};

static const struct {
	const char *name;
	int id;
} run_options[] = {
        {"name", RUN_NAME},           {"profile", RUN_PROFILE}, {"allow", RUN_ALLOW},
        {"block", RUN_BLOCK},         {"default", RUN_DEFAULT}, {"upstream", RUN_UPSTREAM},
        {"gateway-image", RUN_IMAGE}, {"help", RUN_HELP},
};

/* airlock's own options come first; the first argument that is not one of
 * them starts docker's.  Long options only, so that docker's -p, -a... stay
 * docker's.  1: help printed; 0; -1: error printed. */
static int parse_run(int argc, char **argv, struct run_opts *o)
{
	int i = 1;
	while (i < argc) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0)
			a = "--help";
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
			break;
		const char *eq = strchr(a, '=');
		size_t klen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		int id = 0;
		for (size_t k = 0; k < ARRAY_SIZE(run_options); k++)
			if (strlen(run_options[k].name) == klen &&
			    memcmp(run_options[k].name, a + 2, klen) == 0)
				id = run_options[k].id;
		if (id == 0)
			break; /* a docker option */
		if (id == RUN_HELP) {
			fputs(run_help, stdout);
			return 1;
		}
		const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
		if (!v) {
			cli_error("docker run", "--%.*s needs a value", (int)klen, a + 2);
			return -1;
		}
		i += eq ? 1 : 2;
		int r = 1;
		switch (id) {
		case RUN_NAME:
			o->name = v;
			break;
		case RUN_PROFILE:
			r = policy_args_option(&o->policy, "docker run", 'p', v);
			break;
		case RUN_ALLOW:
			r = policy_args_option(&o->policy, "docker run", 'a', v);
			break;
		case RUN_BLOCK:
			r = policy_args_option(&o->policy, "docker run", 'b', v);
			break;
		case RUN_DEFAULT:
			r = policy_args_option(&o->policy, "docker run", OPT_DEFAULT, v);
			break;
		case RUN_UPSTREAM: {
			struct addr ad;
			if (o->n_upstream == STATE_MAX_UPSTREAM) {
				cli_error("docker run", "at most %d --upstream",
				          STATE_MAX_UPSTREAM);
				return -1;
			}
			if (addr_parse(v, 53, &ad) < 0 || strlen(v) >= 64) {
				cli_error(
				        "docker run",
				        "--upstream '%s': expected an address, e.g. 192.0.2.53 or "
				        "[2001:db8::53]:53",
				        v);
				return -1;
			}
			o->upstream[o->n_upstream++] = v;
			break;
		}
		case RUN_IMAGE:
			o->image = v;
			break;
		}
		if (r < 0)
			return -1;
	}
	o->docker_first = i;
	return 0;
}

/* docker run's options that take no value; every other long option takes
 * one (docker's CLI is built that way). */
static const char *const docker_bool_long[] = {
        "detach",
        "interactive",
        "tty",
        "publish-all",
        "rm",
        "init",
        "privileged",
        "read-only",
        "no-healthcheck",
        "oom-kill-disable",
        "quiet",
        "help",
        "disable-content-trust",
        "sig-proxy",
        "use-api-socket",
};

static bool in_list(const char *const *list, size_t n, const char *key, size_t klen)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == klen && memcmp(list[i], key, klen) == 0)
			return true;
	return false;
}

static int refuse(const char *opt, const char *why)
{
	cli_error("docker run", "the docker option %s is refused: %s", opt, why);
	return -1;
}

static int check_docker_long(const char *key, size_t klen, const char *value)
{
	static const char *const network[] = {"network", "net", "dns"};
	char opt[64];
	snprintf(opt, sizeof(opt), "--%.*s", (int)(klen < 40 ? klen : 40), key);

	if (in_list(network, ARRAY_SIZE(network), key, klen))
		return refuse(opt, "the sandbox chooses the network and the DNS server");
	if (klen == 4 && memcmp(key, "name", 4) == 0)
		return refuse(opt, "give airlock's --name before the docker options");
	if (klen == 10 && memcmp(key, "privileged", 10) == 0)
		return refuse(opt, "a privileged container can leave its network namespace");
	if (klen == 14 && memcmp(key, "use-api-socket", 14) == 0)
		return refuse(opt, "the Docker socket can start unconfined containers");
	if (value && strcmp(value, "host") == 0 &&
	    ((klen == 3 && memcmp(key, "pid", 3) == 0) ||
	     (klen == 6 && memcmp(key, "userns", 6) == 0)))
		return refuse(opt, "the host's namespaces lead out of the sandbox");
	return 0;
}

/* Walk docker's options up to IMAGE, refusing those that would undo the
 * sandbox.  Returns the index of IMAGE, -1 after printing an error, or -2
 * when there is no IMAGE. */
static int check_docker_args(int argc, char **argv, int first)
{
	int i = first;
	while (i < argc) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			return i + 1 < argc ? i + 1 : -2;
		if (a[0] != '-' || a[1] == '\0')
			return i;
		if (a[1] == '-') {
			const char *key = a + 2, *eq = strchr(key, '=');
			size_t klen = eq ? (size_t)(eq - key) : strlen(key);
			bool takes =
			        !in_list(docker_bool_long, ARRAY_SIZE(docker_bool_long), key, klen);
			const char *value =
			        eq ? eq + 1 : (takes && i + 1 < argc ? argv[i + 1] : NULL);
			if (check_docker_long(key, klen, value) < 0)
				return -1;
			i += (!eq && takes) ? 2 : 1;
			continue;
		}
		/* Short options: -d -i -t -P -q take nothing and combine (-dit);
		 * the others take the rest of the word or the next one. */
		int step = 1;
		for (const char *c = a + 1; *c; c++) {
			if (strchr("ditPq", *c))
				continue;
			if (c[1] == '\0')
				step = 2;
			break;
		}
		i += step;
	}
	return -2;
}

/* The workload: `docker run` with the sandbox's options first. */
static int exec_workload(const struct docker *dk, const struct sandbox_state *s, int argc,
                         char **argv, int first)
{
	char label_sb[128], net[96], dns[64], env[8][128];
	const char *fixed[40];
	size_t n = 0;

	fixed[n++] = "docker";
	fixed[n++] = "run";
	fixed[n++] = "--name";
	fixed[n++] = s->name;
	snprintf(label_sb, sizeof(label_sb), "%s=%s", LABEL_SANDBOX, s->name);
	fixed[n++] = "--label";
	fixed[n++] = label_sb;
	fixed[n++] = "--label";
	fixed[n++] = LABEL_ROLE "=workload";
	if (s->airgapped) {
		fixed[n++] = "--network";
		fixed[n++] = "none";
	} else {
		struct topology_names tn;
		topology_names(s->name, &tn);
		snprintf(net, sizeof(net), "%s", tn.network);
		snprintf(dns, sizeof(dns), "%s", s->ip);
		fixed[n++] = "--network";
		fixed[n++] = net;
		fixed[n++] = "--dns";
		fixed[n++] = dns;
		static const char *const vars[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
		                                   "https_proxy"};
		for (size_t i = 0; i < 4; i++) {
			snprintf(env[i], sizeof(env[i]), "%s=http://%s:%d", vars[i], s->ip,
			         GATEWAY_PROXY_PORT);
			fixed[n++] = "-e";
			fixed[n++] = env[i];
		}
		snprintf(env[4], sizeof(env[4]), "NO_PROXY=localhost,127.0.0.1,::1");
		snprintf(env[5], sizeof(env[5]), "no_proxy=localhost,127.0.0.1,::1");
		for (size_t i = 4; i < 6; i++) {
			fixed[n++] = "-e";
			fixed[n++] = env[i];
		}
	}
	size_t total = n + (size_t)(argc - first) + 1;
	_cleanup_free_ char **args = calloc(total, sizeof(*args));
	if (!args) {
		cli_error("docker run", "out of memory");
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < n; i++)
		args[i] = (char *)fixed[i];
	for (int i = first; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;

	char host[PATH_MAX + 8];
	snprintf(host, sizeof(host), "unix://%s", docker_socket_path(dk));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		cli_error("docker run", "cannot start docker: %s", strerror(errno));
		return EXIT_FAILED;
	}
	if (pid == 0) {
		/* The same daemon as ours, whatever docker context is set. */
		setenv("DOCKER_HOST", host, 1);
		execvp("docker", args);
		fprintf(stderr, "airlock docker run: cannot run docker: %s\n", strerror(errno));
		_exit(EXIT_FAILED);
	}
	/* The terminal's ^C and ^\ reach docker too (same process group), which
	 * passes them to the workload; airlock waits for the outcome. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* --profile FILE: the sidecar cannot see the host's file, so a copy goes
 * into the rules directory it mounts. */
static int place_profile(struct sandbox_state *s, const char *profile, struct diag *d)
{
	size_t n = strlen(profile);
	if (strchr(profile, '\n'))
		return diag_fail(d, -EINVAL, "--profile: a name or path without newlines");
	if (!strchr(profile, '/') && !(n > 5 && strcmp(profile + n - 5, ".conf") == 0)) {
		snprintf(s->profile, sizeof(s->profile), "%s", profile);
		return 0;
	}
	_cleanup_free_ char *text = NULL;
	size_t len;
	char dst[PATH_MAX];
	int e = file_read_all(profile, 64 * 1024 * 1024, &text, &len, d);
	if (e < 0)
		return e;
	state_path(s, "rules/profile.conf", dst, sizeof(dst));
	_cleanup_close_ int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return diag_fail(d, -errno, "cannot write %s: %s", dst, strerror(errno));
	snprintf(s->profile, sizeof(s->profile), "/etc/airlock/rules/profile.conf");
	return 0;
}

static int write_rules(const struct sandbox_state *s, const struct policy_args *pa, struct diag *d)
{
	for (size_t i = 0; i < pa->n_items; i++) {
		char canon[RULE_TEXT_SIZE];
		struct rule r;
		const char *arg = pa->items[i].arg;
		int e = rule_parse(arg, strlen(arg), &r, d);
		if (e < 0)
			return e;
		if (rule_format(&r, canon, sizeof(canon)) < 0)
			return diag_fail(d, -ENAMETOOLONG, "rule too long");
		if ((e = state_rule_set(s, pa->items[i].action, false, canon, NULL, d)) < 0)
			return e;
	}
	return 0;
}

/* The host rules of the internal bridge; without them the sandbox still
 * holds, with a gap in its log, which the person is told once. */
static void warn_passage(struct docker *dk, const char *cmd, const char *name)
{
	struct diag d = {""};
	if (topology_passage(dk, name, &d) >= 0)
		return;
	fprintf(stderr,
	        "airlock %s: warning: %s; what %s sends past its gateway (programs ignoring the "
	        "proxy and resolver) is dropped by Docker without a record in the audit log\n",
	        cmd, d.msg, name);
}

/* Everything up to a serving sidecar.  On failure the caller removes what
 * was made. */
static int make_sandbox(struct docker *dk, const struct run_opts *o, bool airgapped,
                        struct sandbox_state *s, struct diag *d)
{
	uid_t uid;
	gid_t gid;
	int e;

	sidecar_user(&uid, &gid);
	if ((e = state_create(SANDBOX_KIND_DOCKER, o->name, uid, gid, s, d)) < 0)
		return e;
	s->airgapped = airgapped;
	snprintf(s->image, sizeof(s->image), "%s", o->image);
	for (size_t i = 0; i < o->n_upstream; i++)
		snprintf(s->upstream[s->n_upstream++], sizeof(s->upstream[0]), "%s",
		         o->upstream[i]);
	if (o->policy.default_action >= 0)
		snprintf(s->default_action, sizeof(s->default_action), "%s",
		         o->policy.default_action == ACTION_ALLOW ? "allow" : "block");
	if ((e = place_profile(s, o->policy.profile, d)) < 0 ||
	    (e = write_rules(s, &o->policy, d)) < 0)
		return e;
	if (airgapped)
		return state_save(s, d);

	/* The default image follows this binary (rebuilt when it changed);
	 * an image the person named is used as it is, built only if missing. */
	bool built = false;
	if (strcmp(o->image, gateway_image_default()) == 0)
		e = gateway_image_ensure(dk, o->image, false, &built, d);
	else if ((e = gateway_image_exists(dk, o->image, d)) == 0)
		e = gateway_image_ensure(dk, o->image, true, &built, d);
	if (e < 0)
		return e;
	if (built)
		fprintf(stderr, "airlock docker run: built the gateway image %s\n", o->image);
	struct subnet_plan plan;
	if ((e = topology_egress_ensure(dk, d)) < 0 ||
	    (e = topology_internal_ensure(dk, o->name, NULL, &plan, d)) < 0)
		return e;
	snprintf(s->ip, sizeof(s->ip), "%s", plan.sidecar);
	snprintf(s->subnet, sizeof(s->subnet), "%s", plan.subnet);
	if ((e = state_save(s, d)) < 0 || (e = topology_sidecar_start(dk, s, uid, gid, d)) < 0)
		return e;
	warn_passage(dk, "docker run", s->name);
	return 0;
}

static int cmd_docker_run(int argc, char **argv)
{
	struct run_opts o = {.image = gateway_image_default()};
	_cleanup_(docker_closep) struct docker *dk = NULL;
	struct policy *policy = NULL;
	struct profile prof;
	struct sandbox_state s;
	struct diag d = {""};
	char name[SANDBOX_NAME_MAX + 1];
	int status = EXIT_USAGE;

	policy_args_init(&o.policy);
	int r = parse_run(argc, argv, &o);
	if (r != 0) {
		status = r > 0 ? 0 : EXIT_USAGE;
		goto out;
	}
	int image_at = check_docker_args(argc, argv, o.docker_first);
	if (image_at < 0) {
		if (image_at == -2)
			cli_error("docker run", "no IMAGE given; try 'airlock docker run --help'");
		goto out;
	}
	if (!o.name) {
		uint32_t rnd;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			cli_error("docker run", "getrandom: %s", strerror(errno));
			goto out;
		}
		snprintf(name, sizeof(name), "sb-%08x", rnd);
		o.name = name;
	}
	if (sandbox_name_check(o.name, &d) < 0) {
		cli_error("docker run", "%s", d.msg);
		goto out;
	}
	/* The whole policy is compiled here first, so a typo is reported before
	 * anything is created. */
	if (policy_args_build(&o.policy, "docker run", &prof, &policy) < 0)
		goto out;
	bool airgapped = policy_network_none(policy);
	policy_unref(policy);
	if (!on_path("docker")) {
		cli_error("docker run", "the docker command is not on PATH: it starts the workload "
		                        "(install docker.io or docker-ce-cli)");
		goto out;
	}
	status = EXIT_FAILED;
	if (open_docker("docker run", &dk) < 0)
		goto out;
	r = make_sandbox(dk, &o, airgapped, &s, &d);
	if (r < 0) {
		cli_error("docker run", "%s", d.msg);
		if (r != -EEXIST || strstr(d.msg, "exists already") == NULL) {
			struct diag ignored;
			remove_sandbox(dk, o.name, &ignored);
		}
		goto out;
	}
	status = exec_workload(dk, &s, argc, argv, o.docker_first);
	/* No workload container left (--rm, or docker could not create it):
	 * nothing is left for the sidecar to serve. */
	bool running;
	if (topology_container_exists(dk, o.name, &running, NULL) == 0 &&
	    remove_sandbox(dk, o.name, &d) < 0)
		cli_error("docker run", "cleaning up after the workload: %s", d.msg);
out:
	policy_args_done(&o.policy);
	return status;
}

/* ---- reset ---- */

static int cmd_docker_reset(int argc, char **argv)
{
	_cleanup_(docker_closep) struct docker *dk = NULL;
	struct sandbox_state s;
	struct subnet_plan plan;
	struct topology_names n;
	struct diag d = {""};
	uid_t uid;
	gid_t gid;

	if (argc != 2 || argv[1][0] == '-') {
		if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
			puts("Usage: airlock docker reset NAME\n\nRe-create NAME's gateway sidecar "
			     "from its profile and rule files, at the\nsame address, and wait "
			     "until "
			     "it serves.  The workload is not touched:\nits DNS server and "
			     "proxy "
			     "stay where they were.");
			return 0;
		}
		cli_error("docker reset", "usage: airlock docker reset NAME");
		return EXIT_USAGE;
	}
	if (state_load(SANDBOX_KIND_DOCKER, argv[1], &s, &d) < 0) {
		cli_error("docker reset", "%s", d.msg);
		return 1;
	}
	if (s.airgapped) {
		cli_error("docker reset", "%s is airgapped: it has no sidecar", s.name);
		return 1;
	}
	if (open_docker("docker reset", &dk) < 0)
		return 1;
	sidecar_user(&uid, &gid);
	topology_names(s.name, &n);
	int e;
	if ((e = topology_container_remove(dk, n.sidecar, &d)) < 0 ||
	    (strcmp(s.image, gateway_image_default()) == 0 &&
	     (e = gateway_image_ensure(dk, s.image, false, NULL, &d)) < 0) ||
	    (e = topology_egress_ensure(dk, &d)) < 0 ||
	    (e = topology_internal_ensure(dk, s.name, s.subnet, &plan, &d)) < 0) {
		cli_error("docker reset", "%s", d.msg);
		return 1;
	}
	if (strcmp(plan.sidecar, s.ip) != 0) {
		/* The network was re-made with another subnet: follow it. */
		snprintf(s.ip, sizeof(s.ip), "%s", plan.sidecar);
		snprintf(s.subnet, sizeof(s.subnet), "%s", plan.subnet);
		if (state_save(&s, &d) < 0) {
			cli_error("docker reset", "%s", d.msg);
			return 1;
		}
	}
	if (topology_sidecar_start(dk, &s, uid, gid, &d) < 0) {
		cli_error("docker reset", "%s", d.msg);
		return 1;
	}
	warn_passage(dk, "docker reset", s.name);
	fprintf(stderr, "airlock docker reset: %s's gateway is serving on %s\n", s.name, s.ip);
	return 0;
}

/* ---- allow, block, unallow ---- */

static int cmd_docker_rule(int argc, char **argv, enum rule_op op)
{
	char cmd[32];
	struct sandbox_state s;
	struct diag d = {""};

	snprintf(cmd, sizeof(cmd), "docker %s", argv[0]);
	if (argc < 3) {
		cli_error(cmd, "usage: airlock %s NAME RULE...", cmd);
		return EXIT_USAGE;
	}
	if (state_load(SANDBOX_KIND_DOCKER, argv[1], &s, &d) < 0) {
		cli_error(cmd, "%s", d.msg);
		return 1;
	}
	return cli_sandbox_rules(cmd, &s, op, argv + 2, (size_t)(argc - 2));
}

/* ---- rm, gc, ls ---- */

static int cmd_docker_rm(int argc, char **argv)
{
	_cleanup_(docker_closep) struct docker *dk = NULL;
	struct diag d = {""};
	int status = 0;

	if (argc < 2 || argv[1][0] == '-') {
		cli_error("docker rm", "usage: airlock docker rm NAME...");
		return EXIT_USAGE;
	}
	if (open_docker("docker rm", &dk) < 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		struct sandbox_state s;
		struct topology_names n;
		if (sandbox_name_check(argv[i], &d) < 0) {
			cli_error("docker rm", "%s", d.msg);
			status = 1;
			continue;
		}
		topology_names(argv[i], &n);
		bool known = state_load(SANDBOX_KIND_DOCKER, argv[i], &s, NULL) == 0 ||
		             topology_container_exists(dk, n.sidecar, NULL, NULL) > 0;
		if (!known) {
			cli_error("docker rm", "no sandbox named %s", argv[i]);
			status = 1;
			continue;
		}
		if (remove_sandbox(dk, argv[i], &d) < 0) {
			cli_error("docker rm", "%s: %s", argv[i], d.msg);
			status = 1;
		}
	}
	return status;
}

struct gc_seen {
	char (*names)[SANDBOX_NAME_MAX + 1];
	size_t n;
};

static int gc_add_name(struct gc_seen *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->names[i], name) == 0)
			return 0;
	void *p = reallocarray(g->names, g->n + 1, sizeof(*g->names));
	if (!p)
		return -ENOMEM;
	g->names = p;
	snprintf(g->names[g->n++], sizeof(g->names[0]), "%s", name);
	return 0;
}

static int gc_collect_state(const char *name, void *ctx)
{
	return gc_add_name(ctx, name);
}

/* When the sandbox was last made: its newest container or its sandbox.conf. */
static long long gc_age(const struct topology_inventory *inv, const char *name, time_t now)
{
	long long newest = 0;
	for (size_t i = 0; i < inv->n; i++)
		if (inv->items[i].container && strcmp(inv->items[i].sandbox, name) == 0 &&
		    inv->items[i].created > newest)
			newest = inv->items[i].created;
	struct sandbox_state s;
	char path[PATH_MAX];
	struct stat st;
	if (state_load(SANDBOX_KIND_DOCKER, name, &s, NULL) == 0 &&
	    state_path(&s, "sandbox.conf", path, sizeof(path)) == 0 && stat(path, &st) == 0 &&
	    st.st_mtime > newest)
		newest = st.st_mtime;
	else if (state_root(SANDBOX_KIND_DOCKER, path, sizeof(path), NULL) == 0) {
		char dir[PATH_MAX + SANDBOX_NAME_MAX + 2];
		snprintf(dir, sizeof(dir), "%s/%s", path, name);
		if (stat(dir, &st) == 0 && st.st_mtime > newest)
			newest = st.st_mtime;
	}
	return newest ? (long long)now - newest : (long long)now;
}

static int cmd_docker_gc(int argc, char **argv)
{
	_cleanup_(docker_closep) struct docker *dk = NULL;
	struct topology_inventory inv;
	struct gc_seen seen = {0};
	struct diag d = {""};
	long grace = GC_GRACE_S;
	int status = 0;

	if (argc == 3 && strcmp(argv[1], "--grace") == 0) {
		char *end;
		errno = 0;
		grace = strtol(argv[2], &end, 10);
		if (errno || *end || end == argv[2] || grace < 0 || grace > 86400 * 365) {
			cli_error("docker gc", "--grace '%s': expected seconds", argv[2]);
			return EXIT_USAGE;
		}
	} else if (argc != 1) {
		cli_error("docker gc", "usage: airlock docker gc [--grace SECONDS]");
		return EXIT_USAGE;
	}
	if (open_docker("docker gc", &dk) < 0)
		return 1;
	if (topology_inventory(dk, &inv, &d) < 0) {
		cli_error("docker gc", "%s", d.msg);
		return 1;
	}
	for (size_t i = 0; i < inv.n; i++)
		if (gc_add_name(&seen, inv.items[i].sandbox) < 0)
			status = 1;
	if (state_each(SANDBOX_KIND_DOCKER, gc_collect_state, &seen, &d) < 0) {
		cli_error("docker gc", "%s", d.msg);
		status = 1;
	}
	time_t now = time(NULL);
	for (size_t k = 0; k < seen.n; k++) {
		const char *name = seen.names[k];
		bool workload = false;
		for (size_t i = 0; i < inv.n; i++)
			if (inv.items[i].container && strcmp(inv.items[i].sandbox, name) == 0 &&
			    strcmp(inv.items[i].role, "workload") == 0)
				workload = true;
		/* A sandbox still being made has no workload yet: the grace
		 * period keeps gc off it. */
		if (workload || gc_age(&inv, name, now) < grace)
			continue;
		if (remove_sandbox(dk, name, &d) < 0) {
			cli_error("docker gc", "%s: %s", name, d.msg);
			status = 1;
			continue;
		}
		printf("removed %s\n", name);
	}
	if (topology_egress_release(dk, &d) < 0) {
		cli_error("docker gc", "%s", d.msg);
		status = 1;
	}
	free(seen.names);
	topology_inventory_done(&inv);
	return status;
}

static int ls_one(const char *name, void *ctx)
{
	struct docker *dk = ctx;
	struct sandbox_state s;
	struct topology_names n;
	bool running = false;
	const char *health = "-";
	struct json_object *o = NULL;
	char path[DOCKER_PATH_MAX];

	if (state_load(SANDBOX_KIND_DOCKER, name, &s, NULL) < 0)
		return 0;
	topology_names(name, &n);
	int w = topology_container_exists(dk, name, &running, NULL);
	snprintf(path, sizeof(path), "/containers/%s/json", n.sidecar);
	if (!s.airgapped && docker_call(dk, "GET", path, NULL, &o, NULL) == 0)
		health = docker_json_str(o, "State", "Health", "Status", NULL)
		                 ?: docker_json_str(o, "State", "Status", NULL) ?: "?";
	else if (!s.airgapped)
		health = "missing";
	printf("%-24s %-10s %-10s %-16s %s\n", name,
	       w > 0 ? (running ? "running" : "stopped") : "missing",
	       s.airgapped ? "airgapped" : health, s.airgapped ? "-" : s.ip, s.profile);
	json_put(&o);
	return 0;
}

static int cmd_docker_ls(int argc, char **argv)
{
	_cleanup_(docker_closep) struct docker *dk = NULL;
	struct diag d = {""};
	(void)argv;

	if (argc != 1) {
		cli_error("docker ls", "usage: airlock docker ls");
		return EXIT_USAGE;
	}
	if (open_docker("docker ls", &dk) < 0)
		return 1;
	printf("%-24s %-10s %-10s %-16s %s\n", "NAME", "WORKLOAD", "GATEWAY", "ADDRESS", "PROFILE");
	if (state_each(SANDBOX_KIND_DOCKER, ls_one, dk, &d) < 0) {
		cli_error("docker ls", "%s", d.msg);
		return 1;
	}
	return 0;
}

/* ---- image build, healthcheck ---- */

static int cmd_docker_image(int argc, char **argv)
{
	_cleanup_(docker_closep) struct docker *dk = NULL;
	const char *ref = gateway_image_default();
	struct diag d = {""};

	if (argc < 2 || strcmp(argv[1], "build") != 0) {
		cli_error("docker image", "usage: airlock docker image build [--image REF]");
		return EXIT_USAGE;
	}
	if (argc == 4 && strcmp(argv[2], "--image") == 0)
		ref = argv[3];
	else if (argc != 2) {
		cli_error("docker image", "usage: airlock docker image build [--image REF]");
		return EXIT_USAGE;
	}
	if (open_docker("docker image", &dk) < 0)
		return 1;
	if (gateway_image_ensure(dk, ref, true, NULL, &d) < 0) {
		cli_error("docker image", "%s", d.msg);
		return 1;
	}
	printf("%s\n", ref);
	return 0;
}

static int cmd_docker_healthcheck(int argc, char **argv)
{
	const char *sock = "/run/airlock/control.sock";
	char reply[CONTROL_REPLY_MAX];
	struct diag d = {""};
	uid_t uid = 0;
	gid_t gid = 0;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "--user") == 0) {
		if (cli_parse_user("docker healthcheck", "--user", argv[2], &uid, &gid) < 0)
			return 1;
		i = 3;
	}
	if (i < argc)
		sock = argv[i++];
	if (i < argc) {
		cli_error("docker healthcheck",
		          "usage: airlock docker healthcheck [--user UID:GID] "
		          "[SOCKET]");
		return EXIT_USAGE;
	}
	/* Docker runs the check as the container's user: root, for the
	 * router's setup, but without CAP_DAC_OVERRIDE.  Ask as the gateway's
	 * user, with nothing left; never as root. */
	if (geteuid() == 0) {
		if (uid == 0) {
			cli_error("docker healthcheck",
			          "running as root: give --user UID:GID, the gateway's user");
			return 1;
		}
		if (privs_become(uid, gid, &d) < 0) {
			cli_error("docker healthcheck", "%s", d.msg);
			return 1;
		}
	}
	int e = control_ask(sock, "status", reply, sizeof(reply), &d);
	if (e < 0) {
		cli_error("docker healthcheck", "%s", e == -EREMOTEIO ? reply : d.msg);
		return 1;
	}
	return 0;
}

int cmd_docker(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(docker_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	const char *sub = argv[1];
	argc--;
	argv++;
	if (strcmp(sub, "run") == 0)
		return cmd_docker_run(argc, argv);
	if (strcmp(sub, "reset") == 0)
		return cmd_docker_reset(argc, argv);
	if (strcmp(sub, "allow") == 0)
		return cmd_docker_rule(argc, argv, RULE_OP_ALLOW);
	if (strcmp(sub, "block") == 0)
		return cmd_docker_rule(argc, argv, RULE_OP_BLOCK);
	if (strcmp(sub, "unallow") == 0)
		return cmd_docker_rule(argc, argv, RULE_OP_UNALLOW);
	if (strcmp(sub, "rm") == 0)
		return cmd_docker_rm(argc, argv);
	if (strcmp(sub, "gc") == 0)
		return cmd_docker_gc(argc, argv);
	if (strcmp(sub, "ls") == 0)
		return cmd_docker_ls(argc, argv);
	if (strcmp(sub, "image") == 0)
		return cmd_docker_image(argc, argv);
	if (strcmp(sub, "healthcheck") == 0)
		return cmd_docker_healthcheck(argc, argv);
	if (strcmp(sub, "protect") == 0 || strcmp(sub, "unprotect") == 0)
		return cmd_docker_protect(argc, argv);
	cli_error("docker", "no command '%s'; try 'airlock docker --help'", sub);
	return EXIT_USAGE;
}
