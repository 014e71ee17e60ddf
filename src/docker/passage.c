/* passage.c - DOCKER-USER lets the internal bridge reach its sidecar (see
 * passage.h). */
#include "docker/passage.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "docker/veth.h"
#include "enforce/iptables.h"
#include "util/macros.h"

#define CHAIN "DOCKER-USER"

/* The iptables variants, in the order tried: the machine's choice first. */
static const char *const tools[] = {"iptables", "iptables-nft", "iptables-legacy"};

/* Run `tool -w 5 OP DOCKER-USER RULE...` for `bridge`; its exit status or a
 * negative errno.  `err` gets its standard error. */
static int rule_op(const char *tool, const char *op, const char *bridge, const char *sandbox,
                   char *err, size_t err_size)
{
	char comment[96], out[256];
	snprintf(comment, sizeof(comment), "airlock %s: the workload reaches its gateway", sandbox);
	/* posix_spawn's argv is not const; nothing writes to it. */
	char *argv[] = {(char *)tool,   (char *)"-w", (char *)"5",       (char *)op,
	                (char *)CHAIN,  (char *)"-i", (char *)bridge,    (char *)"-o",
	                (char *)bridge, (char *)"-m", (char *)"comment", (char *)"--comment",
	                comment,        (char *)"-j", (char *)"ACCEPT",  NULL};
	return iptables_exec(argv, NULL, out, sizeof(out), err, err_size);
}

/* The variant holding Docker's chain, or NULL with `d` saying why. */
static const char *docker_tool(struct diag *d)
{
	char out[256], err[256] = "";
	for (size_t i = 0; i < ARRAY_SIZE(tools); i++) {
		char *argv[] = {(char *)tools[i], (char *)"-w",  (char *)"5",
		                (char *)"-S",     (char *)CHAIN, NULL};
		if (iptables_exec(argv, NULL, out, sizeof(out), err, sizeof(err)) == 0)
			return tools[i];
	}
	diag_fail(d, -ENOENT,
	          "no iptables holds Docker's " CHAIN " chain%s%s (is Docker's iptables "
	          "integration off?)",
	          err[0] ? ": " : "", err);
	return NULL;
}

/* Whether bridge-nf-call-iptables is on in the current namespace (a
 * missing file: br_netfilter is not loaded, so it is off). */
static bool br_netfilter_on(void)
{
	char buf[8] = "";
	int fd = open("/proc/sys/net/bridge/bridge-nf-call-iptables", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && buf[0] == '1';
}

/* Enter the namespace holding `bridge` (pid's parent's, else ours). */
static int enter_bridge_ns(pid_t pid, const char *bridge, int *ret_saved, struct diag *d)
{
	pid_t parent = pid > 0 ? proc_parent(pid) : -1;
	_cleanup_close_ int ns = parent > 0 ? netns_open_pid(parent, NULL) : -1;
	if (ns >= 0) {
		int e = netns_enter(ns, ret_saved, d);
		if (e < 0)
			return e;
		if (if_nametoindex(bridge) > 0)
			return 0;
		netns_leave(*ret_saved);
	}
	*ret_saved = -1;
	if (if_nametoindex(bridge) > 0)
		return 0;
	return diag_fail(d, -ENODEV,
	                 "bridge %s is in neither the daemon's network namespace nor ours", bridge);
}

int passage_ensure(pid_t pid, const char *bridge, const char *sandbox, struct diag *d)
{
	char err[256];
	int saved, r;

	if (geteuid() != 0)
		return diag_fail(d, -EPERM, "a rule in the host's " CHAIN " chain needs root");
	if ((r = enter_bridge_ns(pid, bridge, &saved, d)) < 0)
		return r;
	if (!br_netfilter_on()) {
		r = PASSAGE_NOT_NEEDED;
	} else {
		const char *tool = docker_tool(d);
		if (!tool)
			r = -ENOENT;
		else if (rule_op(tool, "-C", bridge, sandbox, err, sizeof(err)) == 0)
			r = PASSAGE_THERE;
		else if ((r = rule_op(tool, "-I", bridge, sandbox, err, sizeof(err))) == 0)
			r = PASSAGE_ADDED;
		else
			r = diag_fail(d, r < 0 ? r : -EIO, "%s -I " CHAIN " failed: %s", tool,
			              err[0] ? err : "no message");
	}
	if (saved >= 0)
		netns_leave(saved);
	return r;
}

int passage_remove(pid_t pid, const char *bridge, const char *sandbox, struct diag *d)
{
	char err[256];
	int saved, r;

	if (geteuid() != 0)
		return 0; /* nobody but root made one */
	if ((r = enter_bridge_ns(pid, bridge, &saved, NULL)) < 0)
		return 0; /* the bridge is gone: the rule matches nothing */
	const char *tool = docker_tool(NULL);
	r = 0;
	/* -D removes one copy; there is one, unless a crash left two. */
	for (int i = 0;
	     tool && i < 8 && rule_op(tool, "-C", bridge, sandbox, err, sizeof(err)) == 0; i++)
		if (rule_op(tool, "-D", bridge, sandbox, err, sizeof(err)) != 0) {
			r = diag_fail(d, -EIO, "%s -D " CHAIN " failed: %s", tool, err);
			break;
		}
	if (saved >= 0)
		netns_leave(saved);
	return r;
}
