/* sandbox.c - the helper, init and the command (see sandbox.h).
 *
 * The caller and the helper talk over a SOCK_SEQPACKET socketpair, one
 * fixed-size struct msg a message; the caller checks every message's size,
 * type and descriptor count before using it.
 *
 *   helper -> caller  READY (bound sockets as fds) | FAILED (why)
 *   caller -> helper  GO
 *   helper -> caller  STARTED (init's pidfd)        | FAILED (why)
 *   helper -> caller  DONE (the firewall's counters), then it exits with
 *                     init's status
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enforce/nflog.h"
#include "enforce/nftables.h"
#include "net/fdpass.h"
#include "net/sock.h"
#include "sandbox/privs.h"
#include "sandbox/rtnl.h"

/* The NFLOG group inside the sandbox's namespace: the namespace is ours
 * alone, so any number does. */
#define SANDBOX_NFLOG_GROUP 7

enum msg_type {
	MSG_READY = 1,
	MSG_FAILED,
	MSG_GO,
	MSG_STARTED,
	MSG_DONE,
};

enum {
	MSG_CONFINED = 1u << 0,
	MSG_IPV6 = 1u << 1,
	MSG_NFLOG = 1u << 2, /* the last fd of READY is the NFLOG socket */
	MSG_COUNTS = 1u << 3,
};

struct msg {
	uint32_t type;
	uint32_t flags;
	uint32_t bound; /* READY: bit i set when sockets[i] was bound (its fd sent, in order) */
	int32_t pid;    /* STARTED: init, as the caller's PID namespace sees it */
	uint64_t dropped[RULESET_N_COUNTERS];
	char text[DIAG_MSG_MAX];  /* FAILED: why; READY: why the ruleset is not in force */
	char notes[DIAG_MSG_MAX]; /* READY: lesser failures */
};
_Static_assert(sizeof(struct msg) <= FDPASS_MAX_PAYLOAD, "a message fits one fdpass payload");
_Static_assert(SANDBOX_MAX_SOCKETS + 1 <= FDPASS_MAX_FDS, "READY's fds fit one message");
_Static_assert(SANDBOX_MAX_SOCKETS <= 32, "bound is a 32-bit mask");

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_send_signal_(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* ---- the helper's side ------------------------------------------------- */

static void note(struct msg *m, const char *fmt, ...) _printf_(2, 3);
static void note(struct msg *m, const char *fmt, ...)
{
	size_t len = strlen(m->notes);
	va_list ap;
	if (len + 2 >= sizeof(m->notes))
		return;
	if (len)
		m->notes[len++] = '\n';
	va_start(ap, fmt);
	vsnprintf(m->notes + len, sizeof(m->notes) - len, fmt, ap);
	va_end(ap);
}

_noreturn_ static void helper_fail(int sock, const struct diag *d)
{
	struct msg m = {.type = MSG_FAILED};
	snprintf(m.text, sizeof(m.text), "%s", d->msg);
	(void)fdpass_send(sock, &m, sizeof(m), NULL, 0);
	_exit(SANDBOX_EXIT_FAILED);
}

/* Die with the parent, and make sure it is still there (it may have died
 * between fork and prctl). */
static void die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(SANDBOX_EXIT_FAILED);
}

static int make_namespaces(const struct sandbox_spec *spec, struct diag *d)
{
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID) < 0) {
		int e = errno;
		if (e == EPERM || e == ENOSPC || e == EACCES)
			return diag_fail(
			        d, -e,
			        "cannot create a user namespace (%s): unprivileged user "
			        "namespaces are disabled or limited on this machine.  Enable "
			        "them (Debian: sysctl kernel.unprivileged_userns_clone=1; "
			        "Ubuntu 24.04 and later: sysctl "
			        "kernel.apparmor_restrict_unprivileged_userns=0; everywhere: "
			        "user.max_user_namespaces > 0), or run airlock as root",
			        strerror(e));
		return diag_fail(d, -e, "cannot create the sandbox's namespaces: %s", strerror(e));
	}
	int e = privs_map_ids(spec->uid, spec->gid, d);
	if (e < 0)
		return e;
	/* From here /proc/self belongs to root and no process of the sandbox
	 * may ptrace this one, which keeps its capabilities. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

/* Can the namespace use IPv6 on lo? (lo is up: ::1 is there unless IPv6 is
 * disabled.) */
static bool have_ipv6(void)
{
	struct addr a;
	addr_parse("::1", 0, &a);
	int fd = sock_bind_udp(&a);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The ruleset, then the routes that make it matter.  A failure of nftables
 * is reported, not fatal: the namespace stays without routes (sandbox.h).
 * *nft is the context that applied it, for the caller to close once the
 * command runs: closing it at once would wait out the kernel's release of
 * the old ruleset (nftables.h), a third of the sandbox's start. */
static int confine(const struct sandbox_spec *spec, bool ipv6, struct nftables **nft, struct msg *m,
                   struct diag *d)
{
	struct ruleset_spec rules = spec->rules;
	char text[RULESET_TEXT_MAX];
	struct diag nd = {""};

	rules.ipv6 = ipv6;
	int n = ruleset_render_sandbox(&rules, text, sizeof(text), d);
	if (n < 0)
		return n;
	if (!(*nft = nftables_open(&nd)) || nftables_run(*nft, text, &nd) < 0) {
		snprintf(m->text, sizeof(m->text), "%s", nd.msg);
		return 0;
	}
	int e = rtnl_default_route_to_loopback(AF_INET, d);
	if (e < 0)
		return e;
	if (ipv6 && (e = rtnl_default_route_to_loopback(AF_INET6, d)) < 0)
		return e;
	m->flags |= MSG_CONFINED;
	return 0;
}

/* Mount flags the kernel locks on a bind mount made in a user namespace:
 * a read-only remount must repeat them or it is refused. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs st;
	unsigned long f = 0;
	if (statvfs(path, &st) < 0)
		return 0;
	if (st.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (st.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (st.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (st.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (st.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (st.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* Bind src over dst, read-only: 0 on success, else -errno of the step that
 * failed (*step names it). */
static int bind_read_only(const char *src, const char *dst, const char **step)
{
	*step = "bind";
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return -errno;
	*step = "read-only remount";
	unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(src);
	if (mount(NULL, dst, NULL, f, NULL) < 0)
		return -errno;
	return 0;
}

static int mounts(const struct sandbox_spec *spec, struct msg *m, struct diag *d)
{
	const char *step;
	int e;

	/* Nothing mounted here propagates back to the caller's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return diag_fail(d, -errno, "cannot make the sandbox's mounts private: %s",
		                 strerror(errno));
	/* The host's names, read-only: a command running as uid 0 (with no
	 * capabilities) still owns the file, and what it wrote would outlive
	 * the sandbox in the caller's /etc/hosts.  The gateway never reads it,
	 * so a rewrite could only mislead the command itself. */
	if (access("/etc/hosts", F_OK) == 0 &&
	    (e = bind_read_only("/etc/hosts", "/etc/hosts", &step)) < 0)
		note(m, "/etc/hosts in the sandbox stays writable (%s: %s)", step, strerror(-e));
	if (!spec->resolv_conf)
		return 0;
	if ((e = bind_read_only(spec->resolv_conf, "/etc/resolv.conf", &step)) < 0)
		/* The DNS redirect still sends every query to the gateway. */
		note(m,
		     "/etc/resolv.conf in the sandbox is not the gateway's read-only one (%s: "
		     "%s); DNS goes to the gateway all the same",
		     step, strerror(-e));
	return 0;
}

/* Cover what the command must not reach (after resolv.conf: its source may
 * be under a hidden directory, and a bind mount keeps the file, not the
 * path).  The mounts are locked: nothing in the sandbox can lift them, not
 * even from a user namespace of its own. */
static int hide_paths(const struct sandbox_spec *spec, struct diag *d)
{
	for (size_t i = 0; i < spec->n_hide; i++) {
		const char *path = spec->hide[i];
		struct stat st;
		if (stat(path, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return diag_fail(d, -errno, "cannot hide %s from the sandbox: %s", path,
			                 strerror(errno));
		}
		int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs",
		                                    MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
		                                    "size=4k,mode=0555")
		                            : mount("/dev/null", path, NULL, MS_BIND, NULL);
		if (r < 0)
			return diag_fail(d, -errno, "cannot hide %s from the sandbox: %s", path,
			                 strerror(errno));
	}
	return 0;
}

/* Bind the listeners; fds[] gets them in order, *bound their mask. */
static int bind_sockets(const struct sandbox_spec *spec, bool ipv6, int *fds, size_t *n_fds,
                        uint32_t *bound, struct diag *d)
{
	*n_fds = 0;
	*bound = 0;
	for (size_t i = 0; i < spec->n_sockets; i++) {
		const struct sandbox_socket_spec *s = &spec->sockets[i];
		char text[ADDR_STR_MAX];
		if (addr_family(&s->addr) == AF_INET6 && !ipv6)
			continue;
		int fd = s->kind == SANDBOX_UDP ? sock_bind_udp(&s->addr)
		                                : sock_listen_tcp(&s->addr, 0);
		if (fd < 0) {
			addr_format(&s->addr, text, sizeof(text));
			return diag_fail(d, fd, "cannot listen on %s (%s) inside the sandbox: %s",
			                 text, s->kind == SANDBOX_UDP ? "UDP" : "TCP",
			                 strerror(-fd));
		}
		fds[(*n_fds)++] = fd;
		*bound |= 1u << i;
	}
	return 0;
}

_noreturn_ static void run_command(const struct sandbox_spec *spec)
{
	sigset_t none;
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	/* What the helper blocked, and anything ignored, back to normal. */
	for (int s = 1; s < NSIG; s++)
		(void)sigaction(s, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (spec->cwd && chdir(spec->cwd) < 0) {
		fprintf(stderr, "airlock run: cannot enter %s in the sandbox: %s\n", spec->cwd,
		        strerror(errno));
		_exit(SANDBOX_EXIT_FAILED);
	}
	execvpe(spec->argv[0], spec->argv, spec->envp);
	int e = errno;
	if (e == EPERM)
		fprintf(stderr,
		        "airlock run: %s: %s (it wants privileges - file capabilities or "
		        "set-user-ID - that nothing in the sandbox can get)\n",
		        spec->argv[0], strerror(e));
	else
		fprintf(stderr, "airlock run: %s: %s\n", spec->argv[0],
		        e == ENOENT ? "command not found" : strerror(e));
	_exit(e == ENOENT ? SANDBOX_EXIT_NOTFOUND : SANDBOX_EXIT_NOEXEC);
}

/* pid 1: /proc, privileges, the command, then signals and orphans.
 * `helper_fd` is the helper's pidfd: init's parent lives outside its PID
 * namespace, so getppid() says 0 and cannot tell whether the helper died
 * before PR_SET_PDEATHSIG was set; the pidfd can. */
_noreturn_ static void init_main(const struct sandbox_spec *spec, int helper_fd)
{
	struct diag d = {""};
	sigset_t all;
	struct pollfd gone = {.fd = helper_fd, .events = POLLIN};

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || poll(&gone, 1, 0) != 0)
		_exit(SANDBOX_EXIT_FAILED);
	close(helper_fd);
	/* A /proc of this PID namespace, or no sandbox: the caller's would show
	 * the host's processes, and through /proc/PID/root (same uid) every
	 * path hidden above. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		fprintf(stderr,
		        "airlock run: cannot mount /proc for the sandbox (%s); inside a container "
		        "whose /proc is masked, use `airlock apply` instead\n",
		        strerror(errno));
		_exit(SANDBOX_EXIT_FAILED);
	}
	if (privs_drop_all(&d) < 0) {
		fprintf(stderr, "airlock run: %s\n", d.msg);
		_exit(SANDBOX_EXIT_FAILED);
	}
	pid_t cmd = fork();
	if (cmd < 0) {
		fprintf(stderr, "airlock run: cannot start the command: %s\n", strerror(errno));
		_exit(SANDBOX_EXIT_FAILED);
	}
	if (cmd == 0)
		run_command(spec);

	sigfillset(&all);
	for (;;) {
		siginfo_t si;
		int s = sigwaitinfo(&all, &si);
		if (s < 0)
			continue;
		if (s != SIGCHLD) {
			/* Sent by someone (the supervisor, kill): pass it on.  The
			 * terminal's ^C and friends (SI_KERNEL) reached the command
			 * already, as it shares our process group. */
			if (si.si_code <= 0)
				(void)kill(cmd, s);
			continue;
		}
		for (;;) {
			int status;
			pid_t p = waitpid(-1, &status, WNOHANG);
			if (p <= 0)
				break;
			if (p != cmd)
				continue; /* an orphan, reaped */
			_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		}
	}
}

_noreturn_ static void helper_main(const struct sandbox_spec *spec, int sock, pid_t parent)
{
	struct diag d = {""};
	struct msg m = {.type = MSG_READY};
	struct nftables *nft = NULL;
	int fds[SANDBOX_MAX_SOCKETS + 1];
	size_t n_fds;
	sigset_t all;

	die_with_parent(parent);
	/* The terminal's signals reach the whole process group; the helper
	 * must outlive them (its death would end the sandbox). */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);

	if (make_namespaces(spec, &d) < 0 || rtnl_loopback_up(&d) < 0)
		helper_fail(sock, &d);
	bool ipv6 = have_ipv6();
	if (ipv6)
		m.flags |= MSG_IPV6;
	if (spec->confine && confine(spec, ipv6, &nft, &m, &d) < 0)
		helper_fail(sock, &d);
	if (mounts(spec, &m, &d) < 0 || hide_paths(spec, &d) < 0)
		helper_fail(sock, &d);
	if (bind_sockets(spec, ipv6, fds, &n_fds, &m.bound, &d) < 0)
		helper_fail(sock, &d);
	if ((m.flags & MSG_CONFINED) && spec->rules.nflog_group >= 0) {
		struct diag nd = {""};
		int fd = nflog_open((uint16_t)spec->rules.nflog_group, &nd);
		if (fd >= 0) {
			fds[n_fds++] = fd;
			m.flags |= MSG_NFLOG;
		} else {
			note(&m, "dropped packets are counted, not logged one by one: %s", nd.msg);
		}
	}
	if (fdpass_send(sock, &m, sizeof(m), fds, n_fds) < 0)
		_exit(SANDBOX_EXIT_FAILED);
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);

	struct msg go;
	size_t got_fds;
	if (fdpass_recv(sock, &go, sizeof(go), NULL, 0, &got_fds) != (int)sizeof(go) ||
	    go.type != MSG_GO)
		_exit(SANDBOX_EXIT_FAILED);

	int self_fd = pidfd_open_(getpid());
	pid_t init = self_fd < 0 ? -1 : fork();
	if (init < 0) {
		diag_fail(&d, -errno, "cannot start the sandbox's init: %s", strerror(errno));
		helper_fail(sock, &d);
	}
	if (init == 0) {
		close(sock);
		init_main(spec, self_fd);
	}
	close(self_fd);
	struct msg started = {.type = MSG_STARTED, .pid = init};
	int pidfd = pidfd_open_(init);
	if (pidfd < 0 || fdpass_send(sock, &started, sizeof(started), &pidfd, 1) < 0) {
		kill(init, SIGKILL);
		_exit(SANDBOX_EXIT_FAILED);
	}
	close(pidfd);
	nftables_close(nft); /* while the command runs */

	int status, code;
	while (waitpid(init, &status, 0) < 0 && errno == EINTR)
		;
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	struct msg done = {.type = MSG_DONE};
	if (m.flags & MSG_CONFINED) {
		const char *names[RULESET_N_COUNTERS];
		for (int c = 0; c < RULESET_N_COUNTERS; c++)
			names[c] = ruleset_counter_name(c);
		if (nftables_counters(RULESET_TABLE, names, done.dropped, RULESET_N_COUNTERS,
		                      NULL) == 0)
			done.flags |= MSG_COUNTS;
	}
	(void)fdpass_send(sock, &done, sizeof(done), NULL, 0);
	_exit(code);
}

/* ---- the caller's side ------------------------------------------------- */

static struct sandbox *sandbox_alloc(void)
{
	struct sandbox *sb = calloc(1, sizeof(*sb));
	if (!sb)
		return NULL;
	sb->helper = -1;
	sb->helper_pidfd = sb->sock = sb->nflog_fd = sb->init_pidfd = -1;
	sb->init = -1;
	for (size_t i = 0; i < SANDBOX_MAX_SOCKETS; i++)
		sb->fds[i] = -1;
	return sb;
}

/* One message from the helper, checked: exactly a struct msg, a known type,
 * at most max_fds descriptors (their count in *ret_n).  0 when the helper
 * closed its end. */
static int receive(struct sandbox *sb, struct msg *m, int *fds, size_t max_fds, size_t *ret_n,
                   struct diag *d)
{
	size_t n = 0;
	int r = fdpass_recv(sb->sock, m, sizeof(*m), fds, max_fds, &n);
	if (r == 0)
		return 0;
	if (r < 0)
		return diag_fail(d, r, "no word from the sandbox's helper: %s", strerror(-r));
	if (r != (int)sizeof(*m) || m->type < MSG_READY || m->type > MSG_DONE) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		return diag_fail(d, -EBADMSG, "the sandbox's helper sent a malformed message");
	}
	m->text[sizeof(m->text) - 1] = '\0';
	m->notes[sizeof(m->notes) - 1] = '\0';
	*ret_n = n;
	return 1;
}

/* The helper failed or vanished: its reason, or its exit. */
static int helper_gone(struct sandbox *sb, const struct msg *m, int r, struct diag *d)
{
	if (r < 0)
		return r;
	if (r > 0 && m->type == MSG_FAILED)
		return diag_fail(d, -ECHILD, "%s", m->text);
	int status = sandbox_wait(sb);
	return diag_fail(d, -ECHILD,
	                 "the sandbox's helper ended before the sandbox was ready "
	                 "(status %d)",
	                 status);
}

int sandbox_prepare(const struct sandbox_spec *spec, struct sandbox **ret, struct diag *d)
{
	_cleanup_(sandbox_freep) struct sandbox *sb = sandbox_alloc();
	int pair[2];

	if (!sb)
		return diag_fail(d, -ENOMEM, "out of memory");
	if (spec->n_sockets > SANDBOX_MAX_SOCKETS || !spec->argv || !spec->argv[0])
		return diag_fail(d, -EINVAL, "a sandbox needs a command and at most %d sockets",
		                 SANDBOX_MAX_SOCKETS);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return diag_fail(d, -errno, "cannot create a socket pair: %s", strerror(errno));

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pair[0]);
		close(pair[1]);
		return diag_fail(d, -e, "cannot fork the sandbox's helper: %s", strerror(e));
	}
	if (pid == 0) {
		close(pair[0]);
		helper_main(spec, pair[1], parent);
	}
	close(pair[1]);
	sb->sock = pair[0];
	sb->helper = pid;
	sb->helper_pidfd = pidfd_open_(pid);
	if (sb->helper_pidfd < 0)
		return diag_fail(d, -errno, "cannot watch the sandbox's helper: %s",
		                 strerror(errno));

	struct msg m;
	int fds[FDPASS_MAX_FDS];
	size_t n_fds = 0;
	int r = receive(sb, &m, fds, FDPASS_MAX_FDS, &n_fds, d);
	if (r <= 0 || m.type != MSG_READY) {
		for (size_t i = 0; r > 0 && i < n_fds; i++)
			close(fds[i]);
		return helper_gone(sb, &m, r, d);
	}
	size_t want = (size_t)__builtin_popcount(m.bound) + ((m.flags & MSG_NFLOG) ? 1 : 0);
	if (n_fds != want || (m.bound >> spec->n_sockets) != 0) {
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		return diag_fail(d, -EBADMSG, "the sandbox's helper sent %zu sockets, not %zu",
		                 n_fds, want);
	}
	size_t k = 0;
	for (size_t i = 0; i < spec->n_sockets; i++)
		if (m.bound & (1u << i))
			sb->fds[i] = fds[k++];
	if (m.flags & MSG_NFLOG)
		sb->nflog_fd = fds[k++];
	sb->confined = m.flags & MSG_CONFINED;
	sb->ipv6 = m.flags & MSG_IPV6;
	if (spec->confine && !sb->confined)
		snprintf(sb->unconfined_why, sizeof(sb->unconfined_why), "%s", m.text);
	snprintf(sb->notes, sizeof(sb->notes), "%s", m.notes);
	*ret = TAKE_PTR(sb);
	return 0;
}

int sandbox_start(struct sandbox *sb, struct diag *d)
{
	struct msg go = {.type = MSG_GO}, m;
	int fds[1];
	size_t n = 0;

	if (fdpass_send(sb->sock, &go, sizeof(go), NULL, 0) < 0)
		return diag_fail(d, -EPIPE, "the sandbox's helper is gone");
	int r = receive(sb, &m, fds, 1, &n, d);
	if (r <= 0 || m.type != MSG_STARTED || n != 1) {
		for (size_t i = 0; r > 0 && i < n; i++)
			close(fds[i]);
		if (r > 0 && m.type != MSG_FAILED)
			return diag_fail(d, -EBADMSG,
			                 "the sandbox's helper sent a malformed message");
		return helper_gone(sb, &m, r, d);
	}
	sb->init_pidfd = fds[0];
	sb->init = m.pid;
	return 0;
}

int sandbox_signal(struct sandbox *sb, int signo)
{
	if (sb->init_pidfd < 0)
		return -ESRCH;
	return pidfd_send_signal_(sb->init_pidfd, signo) < 0 ? -errno : 0;
}

int sandbox_wait(struct sandbox *sb)
{
	int status = 0;

	if (sb->helper < 0)
		return SANDBOX_EXIT_FAILED;
	while (waitpid(sb->helper, &status, 0) < 0) {
		if (errno != EINTR) {
			sb->helper = -1;
			return SANDBOX_EXIT_FAILED;
		}
	}
	sb->helper = -1;
	/* The helper's last words are queued before its exit. */
	struct msg m;
	int fds[1];
	size_t n = 0;
	int fl = fcntl(sb->sock, F_GETFL);
	if (fl >= 0)
		(void)fcntl(sb->sock, F_SETFL, fl | O_NONBLOCK);
	while (receive(sb, &m, fds, 1, &n, NULL) > 0) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		if (m.type == MSG_DONE && (m.flags & MSG_COUNTS)) {
			memcpy(sb->dropped, m.dropped, sizeof(sb->dropped));
			sb->have_counts = true;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

void sandbox_free(struct sandbox *sb)
{
	if (!sb)
		return;
	if (sb->helper > 0) {
		/* The helper's death takes init with it (PR_SET_PDEATHSIG), and
		 * init's the whole PID namespace. */
		kill(sb->helper, SIGKILL);
		while (waitpid(sb->helper, NULL, 0) < 0 && errno == EINTR)
			;
	}
	for (size_t i = 0; i < SANDBOX_MAX_SOCKETS; i++)
		if (sb->fds[i] >= 0)
			close(sb->fds[i]);
	if (sb->nflog_fd >= 0)
		close(sb->nflog_fd);
	if (sb->sock >= 0)
		close(sb->sock);
	if (sb->helper_pidfd >= 0)
		close(sb->helper_pidfd);
	if (sb->init_pidfd >= 0)
		close(sb->init_pidfd);
	free(sb);
}
