/* airlock doctor: what airlock needs on this machine, and the state of its
 * sandboxes, one line a check: "ok", "warn" (works, but less than it
 * could, or needs a hand) or "fail" (airlock cannot do its job there), with
 * what to do.  Exit status 0 when nothing failed.
 *
 * Every check only looks: the probes that need a namespace (user
 * namespaces, nftables) run in a child that makes its own and exits, so
 * nothing of the host changes. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "docker/client.h"
#include "docker/image.h"
#include "docker/protect.h"
#include "docker/topology.h"
#include "enforce/nftables.h"
#include "gateway/control.h"
#include "state/state.h"

static const char doctor_help[] =
        "Usage: airlock doctor\n"
        "\n"
        "Check what airlock needs and the state of its sandboxes, one line a check:\n"
        "  ok    fine\n"
        "  warn  works, but less than it could, or something needs a hand\n"
        "  fail  airlock cannot do its job there\n"
        "each with what to do.  The checks: unprivileged user namespaces (airlock\n"
        "run without root), nftables in a new network namespace, the Docker daemon\n"
        "and its API version, the gateway image (there, and built from this\n"
        "binary), airlock's Docker networks, every sandbox (airlock run, airlock\n"
        "docker and airlock apply: running or not, its rules) and every protected\n"
        "container.\n"
        "Nothing is changed.\n"
        "\n"
        "Exit status: 0 when no check failed, 1 otherwise.\n";

struct doctor {
	unsigned ok, warn, fail;
};

_printf_(4, 5) static void line(struct doctor *dr, int level, const char *what, const char *fmt,
                                ...)
{
	static const char *const names[] = {"ok", "warn", "fail"};
	va_list ap;
	printf("%-4s  %s: ", names[level], what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (level == 0)
		dr->ok++;
	else if (level == 1)
		dr->warn++;
	else
		dr->fail++;
}

enum { OK, WARN, FAIL };

/* ---- probes in a child ---- */

/* Run fn in a forked child; its exit status, its message in `msg`. */
static int in_child(int (*fn)(char *msg, size_t size), char *msg, size_t size)
{
	int fds[2];
	msg[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(msg, size, "pipe: %s", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(msg, size, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return 1;
	}
	if (pid == 0) {
		char m[512] = "";
		close(fds[0]);
		int r = fn(m, sizeof(m));
		(void)!write(fds[1], m, strlen(m));
		_exit(r);
	}
	close(fds[1]);
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fds[0], msg + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	msg[got] = '\0';
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int e = n == (ssize_t)strlen(text) ? 0 : -errno;
	close(fd);
	return e;
}

static int read_number(const char *path, long *ret)
{
	char buf[32];
	*ret = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	*ret = strtol(buf, NULL, 10);
	return 0;
}

/* A user namespace as an unprivileged user (nobody, when we are root). */
static int probe_userns(char *msg, size_t size)
{
	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
		return snprintf(msg, size, "cannot become nobody: %s", strerror(errno)), 2;
	if (unshare(CLONE_NEWUSER) < 0)
		return snprintf(msg, size, "%s", strerror(errno)), 1;
	return 0;
}

/* nftables in a new network namespace (and a user namespace of our own
 * unless we are root), as airlock run applies its ruleset. */
static int probe_nftables(char *msg, size_t size)
{
	struct diag d = {""};
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (uid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			return snprintf(msg, size, "cannot make a network namespace: %s",
			                strerror(errno)),
			       1;
	} else {
		char map[64];
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
			return snprintf(msg, size, "cannot make a user and network namespace: %s",
			                strerror(errno)),
			       1;
		(void)write_file("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
		(void)write_file("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
		(void)write_file("/proc/self/gid_map", map);
	}
	static const char text[] = "table inet airlock_doctor {\n"
	                           "\tchain out {\n"
	                           "\t\ttype nat hook output priority -100; policy accept;\n"
	                           "\t\tmeta l4proto tcp redirect to :3129\n"
	                           "\t}\n"
	                           "\tchain filter_out {\n"
	                           "\t\ttype filter hook output priority filter; policy drop;\n"
	                           "\t\tip daddr 127.0.0.0/8 accept\n"
	                           "\t}\n"
	                           "}\n";
	if (nftables_apply(text, &d) < 0)
		return snprintf(msg, size, "%s", d.msg), 1;
	return 0;
}

static void check_userns(struct doctor *dr)
{
	char msg[512];
	long v;
	if (read_number("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0 && v == 0) {
		line(dr, WARN, "user namespaces",
		     "unprivileged ones are off (kernel.unprivileged_userns_clone = 0): airlock "
		     "run "
		     "needs root here; 'sysctl kernel.unprivileged_userns_clone=1' allows it");
		return;
	}
	if (read_number("/proc/sys/user/max_user_namespaces", &v) == 0 && v == 0) {
		line(dr, WARN, "user namespaces",
		     "user.max_user_namespaces is 0: airlock run needs root here; raise it "
		     "('sysctl user.max_user_namespaces=15000')");
		return;
	}
	int r = in_child(probe_userns, msg, sizeof(msg));
	if (r == 0)
		line(dr, OK, "user namespaces",
		     "unprivileged user namespaces work: airlock run "
		     "needs no root");
	else if (read_number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &v) == 0 &&
	         v == 1)
		line(dr, WARN, "user namespaces",
		     "AppArmor restricts unprivileged user namespaces (%s): airlock run needs root "
		     "here, or an AppArmor profile allowing userns for airlock",
		     msg);
	else
		line(dr, WARN, "user namespaces",
		     "an unprivileged user cannot make one (%s): airlock run needs root here", msg);
}

static void check_nftables(struct doctor *dr)
{
	char msg[512];
	if (in_child(probe_nftables, msg, sizeof(msg)) == 0)
		line(dr, OK, "nftables", "usable in a new network namespace");
	else
		line(dr, WARN, "nftables",
		     "not usable in a new network namespace (%s): airlock run falls back to "
		     "cooperative mode (proxy and DNS; nothing else leaves, but nothing is "
		     "intercepted either); install nftables / load nf_tables",
		     msg);
}

/* ---- Docker ---- */

static void json_put(struct json_object **o)
{
	json_object_put(*o);
}

static struct docker *check_docker(struct doctor *dr)
{
	struct docker *dk = NULL;
	struct diag d = {""};
	int e = docker_open(NULL, &dk, &d);
	if (e == -ENOENT || e == -ECONNREFUSED) {
		line(dr, WARN, "docker", "%s (needed by airlock docker and airlock compose only)",
		     d.msg);
		return NULL;
	}
	if (e < 0) {
		line(dr, FAIL, "docker", "%s", d.msg);
		return NULL;
	}
	_cleanup_(json_put) struct json_object *v = NULL;
	const char *version = "?";
	if (docker_call(dk, "GET", "/version", NULL, &v, NULL) == 0)
		version = docker_json_str(v, "Version", NULL) ?: "?";
	line(dr, OK, "docker", "Docker %s at %s, API %s (airlock needs 1.%d or newer)", version,
	     docker_socket_path(dk), docker_api_version(dk), DOCKER_API_MIN);
	return dk;
}

static void check_image(struct doctor *dr, struct docker *dk)
{
	enum gateway_image_state st;
	struct diag d = {""};
	const char *ref = gateway_image_default();
	if (gateway_image_state(dk, ref, &st, &d) < 0)
		line(dr, FAIL, "gateway image", "%s: %s", ref, d.msg);
	else if (st == GATEWAY_IMAGE_CURRENT)
		line(dr, OK, "gateway image", "%s, built from this airlock binary", ref);
	else if (st == GATEWAY_IMAGE_STALE)
		line(dr, WARN, "gateway image",
		     "%s was built from another airlock binary: 'airlock docker run' rebuilds it, "
		     "or run 'airlock docker image build' (sidecars made from it keep running "
		     "the old one until 'airlock docker reset NAME')",
		     ref);
	else
		line(dr, WARN, "gateway image",
		     "%s is missing: 'airlock docker run' builds it, or run 'airlock docker image "
		     "build' (compose overlays need it built)",
		     ref);
}

static void check_networks(struct doctor *dr, struct docker *dk)
{
	char filter[128], path[DOCKER_PATH_MAX];
	_cleanup_(json_put) struct json_object *list = NULL;
	struct diag d = {""};

	docker_escape("{\"label\":[\"" LABEL_ROLE "\"]}", filter, sizeof(filter));
	snprintf(path, sizeof(path), "/networks?filters=%s", filter);
	if (docker_call(dk, "GET", path, NULL, &list, &d) < 0) {
		line(dr, FAIL, "networks", "%s", d.msg);
		return;
	}
	size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	if (n == 0) {
		line(dr, OK, "networks",
		     "none of airlock's (they are made with the first sandbox)");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *net = json_object_array_get_idx(list, i);
		const char *name = docker_json_str(net, "Name", NULL) ?: "?";
		const char *role = docker_json_str(net, "Labels", LABEL_ROLE, NULL) ?: "";
		const char *sb = docker_json_str(net, "Labels", LABEL_SANDBOX, NULL);
		struct json_object *in = docker_json_get(net, "Internal", NULL);
		bool internal = in && json_object_get_boolean(in);
		struct json_object *cfg = docker_json_get(net, "IPAM", "Config", NULL);
		const char *subnet =
		        json_object_is_type(cfg, json_type_array) &&
		                        json_object_array_length(cfg) > 0
		                ? docker_json_str(json_object_array_get_idx(cfg, 0), "Subnet", NULL)
		                : NULL;
		char what[160];
		snprintf(what, sizeof(what), "network %s", name);
		struct sandbox_state s;
		if (strcmp(role, "internal") == 0 && !internal)
			line(dr, FAIL, what,
			     "is not internal: its containers have a route out; remove it ('docker "
			     "network rm %s') and start the sandbox again",
			     name);
		else if (strcmp(role, "internal") == 0 && sb &&
		         state_load(SANDBOX_KIND_DOCKER, sb, &s, NULL) < 0)
			line(dr, WARN, what,
			     "left over from sandbox %s, which is gone: 'airlock docker "
			     "gc'",
			     sb);
		else if (strcmp(role, "internal") == 0)
			line(dr, OK, what, "internal, %s%s", subnet ? subnet : "no subnet",
			     sb ? "" : " (a compose project's)");
		else
			line(dr, OK, what, "%s, %s",
			     strcmp(role, "egress") == 0 ? "NAT for sidecars" : role,
			     subnet ? subnet : "no subnet");
	}
}

/* ---- sandboxes ---- */

struct each {
	struct doctor *dr;
	struct docker *dk;
	enum sandbox_kind kind;
	unsigned seen;
};

static bool run_lock_held(const struct sandbox_state *s)
{
	char path[PATH_MAX];
	if (state_path(s, "run/lock", path, sizeof(path)) < 0)
		return false;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		return false;
	return errno == EWOULDBLOCK;
}

/* "rules N" from a gateway's status reply, or -1. */
static long status_rules(const char *reply)
{
	const char *p = strstr(reply, "\nrules ");
	return p ? strtol(p + 7, NULL, 10) : -1;
}

/* In place: `airlock apply` leaves run/gateway.pid while the policy is in
 * force and `--remove` takes it away.  A pid file whose gateway does not
 * answer is a policy that refuses everything (the table sends DNS and the
 * proxy to a gateway that is not there). */
static void apply_line(struct each *e, const struct sandbox_state *s, const char *what,
                       bool answers, const char *own, const char *in_force)
{
	char pid[PATH_MAX];
	bool applied =
	        state_path(s, "run/gateway.pid", pid, sizeof(pid)) == 0 && access(pid, F_OK) == 0;
	if (answers)
		line(e->dr, OK, what, "in force on this machine, gateway serving; %s%s", own,
		     in_force);
	else if (applied)
		line(e->dr, FAIL, what,
		     "applied but its gateway does not answer, so everything is refused: "
		     "'airlock apply' starts it again, 'airlock apply --remove' lifts the policy");
	else
		line(e->dr, OK, what, "removed; %s (kept for the next 'airlock apply')", own);
}

static void sandbox_line(struct each *e, const char *name)
{
	struct sandbox_state s;
	size_t allowed = 0, blocked = 0;
	char what[SANDBOX_NAME_MAX + 32], sock[PATH_MAX], reply[CONTROL_REPLY_MAX], own[96];
	char in_force[48] = "";

	snprintf(what, sizeof(what), "sandbox %s (%s)", name, sandbox_kind_name(e->kind));
	if (state_open(e->kind, name, &s, NULL) < 0) {
		line(e->dr, WARN, what, "its directory cannot be read");
		return;
	}
	e->seen++;
	(void)state_rule_counts(&s, &allowed, &blocked, NULL);
	snprintf(own, sizeof(own), "%zu allowed and %zu blocked of its own", allowed, blocked);
	state_path(&s, "run/control.sock", sock, sizeof(sock));
	bool answers = control_ask(sock, "status", reply, sizeof(reply), NULL) == 0;
	if (answers && status_rules(reply) >= 0)
		snprintf(in_force, sizeof(in_force), ", %ld rules in force", status_rules(reply));

	if (e->kind == SANDBOX_KIND_RUN) {
		if (run_lock_held(&s))
			line(e->dr, OK, what, "running%s; %s%s",
			     answers ? "" : " (its gateway does not answer)", own, in_force);
		else
			line(e->dr, OK, what, "stopped; %s (kept for its next start)", own);
		return;
	}
	if (e->kind == SANDBOX_KIND_APPLY) {
		apply_line(e, &s, what, answers, own, in_force);
		return;
	}
	if (s.airgapped) {
		line(e->dr, OK, what, "airgapped (no network, no sidecar)");
		return;
	}
	if (!e->dk) {
		line(e->dr, WARN, what, "cannot tell whether it runs: Docker is unreachable; %s",
		     own);
		return;
	}
	struct topology_names n;
	bool w_running = false, g_running = false;
	topology_names(name, &n);
	int w = topology_container_exists(e->dk, name, &w_running, NULL);
	int g = topology_container_exists(e->dk, n.sidecar, &g_running, NULL);
	if (w <= 0)
		line(e->dr, WARN, what,
		     "its workload is gone: 'airlock docker rm %s' (or 'airlock "
		     "docker gc')",
		     name);
	else if (!w_running)
		line(e->dr, OK, what, "stopped; %s", own);
	else if (g <= 0 || !g_running || !answers)
		line(e->dr, WARN, what,
		     "the workload runs but its gateway does not serve, so it reaches nothing: "
		     "'airlock docker reset %s'",
		     name);
	else if (geteuid() == 0 && topology_passage_missing(e->dk, name, NULL) > 0)
		/* Gone with a reboot, or someone's flush. */
		line(e->dr, WARN, what,
		     "gateway serving at %s, but its host rules are missing: what it sends "
		     "past the gateway is dropped unlogged, and the host takes frames from it: "
		     "'airlock docker reset %s'",
		     s.ip, name);
	else
		line(e->dr, OK, what, "running, gateway serving at %s; %s%s", s.ip, own, in_force);
}

static int each_sandbox(const char *name, void *ctx)
{
	sandbox_line(ctx, name);
	return 0;
}

static void check_sandboxes(struct doctor *dr, struct docker *dk)
{
	static const enum sandbox_kind kinds[] = {SANDBOX_KIND_RUN, SANDBOX_KIND_DOCKER,
	                                          SANDBOX_KIND_APPLY};
	struct diag d = {""};
	unsigned seen = 0;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		struct each e = {dr, dk, kinds[i], 0};
		if (state_each(kinds[i], each_sandbox, &e, &d) < 0)
			line(dr, FAIL, "sandboxes", "%s", d.msg);
		seen += e.seen;
	}
	if (seen == 0)
		line(dr, OK, "sandboxes", "none");
}

struct protected
{
	struct doctor *dr;
	struct docker *dk;
};

static int protected_line(const struct protect_record *r, void *ctx)
{
	struct protected *p = ctx;
	struct protect_target t;
	char what[160];
	snprintf(what, sizeof(what), "protected %s", r->name);
	pid_t w = protect_watcher_pid(r->socket);
	if (p->dk && strcmp(r->socket, docker_socket_path(p->dk)) == 0 &&
	    protect_inspect(p->dk, r->id, &t, NULL) == 0 && t.running && t.pid == r->pid) {
		if (w > 0)
			line(p->dr, OK, what, "may reach %s only; rules %s, watcher pid %ld",
			     r->gateway, r->table, (long)w);
		else
			line(p->dr, WARN, what,
			     "may reach %s only, but no watcher runs, so its rules stay after it "
			     "stops: run 'airlock docker protect %s' again",
			     r->gateway, r->name);
	} else if (p->dk && strcmp(r->socket, docker_socket_path(p->dk)) == 0) {
		line(p->dr, WARN, what,
		     "stopped or restarted, its rules %s not yet removed: 'airlock docker "
		     "unprotect %s'",
		     r->table, r->name);
	} else {
		line(p->dr, OK, what, "on the daemon at %s (not the one checked here)", r->socket);
	}
	return 0;
}

int cmd_doctor(int argc, char **argv)
{
	struct doctor dr = {0};
	if (argc > 1) {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			fputs(doctor_help, stdout);
			return 0;
		}
		cli_error("doctor", "unexpected argument '%s'; try 'airlock doctor --help'",
		          argv[1]);
		return EXIT_USAGE;
	}
	check_userns(&dr);
	check_nftables(&dr);
	_cleanup_(docker_closep) struct docker *dk = check_docker(&dr);
	if (dk) {
		check_image(&dr, dk);
		check_networks(&dr, dk);
	}
	check_sandboxes(&dr, dk);
	struct protected p = {&dr, dk};
	(void)protect_record_each(protected_line, &p, NULL);
	printf("doctor: %u ok, %u warnings, %u failed\n", dr.ok, dr.warn, dr.fail);
	fflush(stdout);
	return dr.fail ? 1 : 0;
}
