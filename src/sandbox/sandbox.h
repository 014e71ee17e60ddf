/* sandbox.h - run a command in namespaces whose only way out is the caller.
 *
 * The mechanism of `airlock run`, knowing nothing of policy: it takes a
 * resolved spec (the command, the loopback sockets to bind inside, the
 * ruleset that confines the namespace) and hands back the bound sockets, for
 * the caller's gateway to serve from outside the namespace.
 *
 * Three processes, each with one job:
 *
 *   helper  forked by sandbox_prepare().  Unshares user, network, mount and
 *           PID namespaces; maps the caller's uid and gid to themselves;
 *           brings lo up; applies the nftables ruleset and only then adds
 *           the default route to lo (so there is never a moment with a
 *           route and no rules); opens the NFLOG socket; binds /etc/resolv.conf;
 *           binds the listeners and passes them back over a SOCK_SEQPACKET
 *           socketpair (fdpass.h), then waits for sandbox_start().  It stays
 *           outside the sandbox's PID namespace, keeps its capabilities (in
 *           the sandbox's user namespace only), is not dumpable, and at the
 *           end reads the firewall's counters for the caller.
 *   init    pid 1 of the new PID namespace: mounts a fresh /proc (or fails:
 *           the old one would show the host's processes, and their
 *           /proc/PID/root the paths hidden below), drops every
 *           privilege (privs.h), forks the command, forwards the signals
 *           sent to it, reaps orphans, and exits with the command's status
 *           (128 + N when a signal N killed it).  When init exits, the kernel
 *           kills everything left in the namespace.
 *   command exec'd with the caller's environment, stdio and terminal.
 *
 * Nothing outlives the caller: the helper and init both die with their
 * parent (PR_SET_PDEATHSIG, SIGKILL), init's death ends the PID namespace,
 * and the network namespace - its sockets, routes and rules - goes away with
 * its last process and the last of the caller's sockets.
 *
 * Where nftables cannot be used inside the namespace (an old kernel, a
 * module missing), the helper applies nothing, adds no route, and says why
 * (sandbox.unconfined_why): the namespace still has no way out but the
 * sockets the caller serves, only programs that ignore the proxy settings
 * then fail instead of being redirected.
 *
 * Errors before the command runs fail the whole sandbox: nothing is exec'd.
 */
#ifndef AIRLOCK_SANDBOX_SANDBOX_H
#define AIRLOCK_SANDBOX_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "enforce/ruleset.h"
#include "net/addr.h"
#include "util/diag.h"

#define SANDBOX_MAX_SOCKETS 12
#define SANDBOX_MAX_HIDE    32

/* Exit statuses of the helper and init for their own failures (those of
 * `airlock run` itself: 125, as container runtimes do), and for a command
 * that could not be executed (126, 127, as shells do). */
#define SANDBOX_EXIT_FAILED   125
#define SANDBOX_EXIT_NOEXEC   126
#define SANDBOX_EXIT_NOTFOUND 127

enum sandbox_socket_kind {
	SANDBOX_TCP_LISTEN,
	SANDBOX_UDP,
};

struct sandbox_socket_spec {
	enum sandbox_socket_kind kind;
	struct addr addr; /* inside the sandbox: 127.0.0.1 or ::1 */
};

struct sandbox_spec {
	char *const *argv; /* the command; argv[0] is searched in PATH */
	char *const *envp; /* its whole environment */
	const char *cwd;   /* NULL: the caller's */
	uid_t uid;         /* who the command runs as: the caller */
	gid_t gid;
	const char *resolv_conf; /* bound read-only over /etc/resolv.conf; NULL: not */
	/* Paths the command must not reach, covered in its mount namespace: a
	 * directory by an empty read-only tmpfs, anything else (a unix socket)
	 * by /dev/null.  Unix sockets are reached by path, across network
	 * namespaces: a D-Bus or Docker socket, or the gateway's own control
	 * socket, would be a way out.  Paths that do not exist are skipped;
	 * failing to cover one that does fails the sandbox. */
	const char *hide[SANDBOX_MAX_HIDE];
	size_t n_hide;
	/* Bound inside the namespace.  IPv6 ones are skipped (fd -1) when the
	 * namespace has no IPv6. */
	struct sandbox_socket_spec sockets[SANDBOX_MAX_SOCKETS];
	size_t n_sockets;
	bool confine; /* apply `rules` (its ipv6 field is the helper's to set) */
	struct ruleset_spec rules;
};

struct sandbox {
	pid_t helper;
	int helper_pidfd;             /* readable once the helper exited */
	int sock;                     /* to the helper */
	int fds[SANDBOX_MAX_SOCKETS]; /* the bound sockets; -1: not bound */
	int nflog_fd;                 /* NFLOG socket inside; -1: none */
	bool confined;                /* the ruleset is in force */
	bool ipv6;
	char unconfined_why[DIAG_MSG_MAX]; /* when confine was asked and failed */
	char notes[DIAG_MSG_MAX];          /* lesser failures, one a line */
	pid_t init;                        /* after sandbox_start: init, as we see it */
	int init_pidfd;
	uint64_t dropped[RULESET_N_COUNTERS]; /* after the end, when confined */
	bool have_counts;
};

/* Fork the helper and set the namespace up.  On success the sockets are
 * bound and the caller owns sb->fds and sb->nflog_fd (sandbox_free closes
 * those still there; set an entry to -1 after taking it).  Must be called
 * before the process starts threads.  Errors say what failed and what to do
 * (unprivileged user namespaces disabled, for one). */
int sandbox_prepare(const struct sandbox_spec *spec, struct sandbox **ret, struct diag *d);

/* Start the command.  0 once init runs (sb->init, sb->init_pidfd set). */
int sandbox_start(struct sandbox *sb, struct diag *d);

/* Send a signal to init, which passes it to the command.  0 or -errno. */
int sandbox_signal(struct sandbox *sb, int signo);

/* After helper_pidfd became readable (or to block until it does): reap the
 * helper and read its last report.  The command's exit status (0..255). */
int sandbox_wait(struct sandbox *sb);

/* Kill what still runs (SIGKILL), reap it, close everything. */
void sandbox_free(struct sandbox *sb);
DEFINE_POINTER_CLEANUP(struct sandbox, sandbox_free)

#endif
