/* veth.h - a container's interfaces and their ends on the host, over
 * rtnetlink, across network namespaces.
 *
 * A container on a bridge network has one veth interface per network; its
 * peer is a port of the network's bridge in the Docker daemon's network
 * namespace.  `airlock docker protect` scopes its rules to that port (every
 * frame it carries is the container's, whatever source address it claims),
 * so it needs the port's name, which Docker does not report.  The kernel
 * does: in the container's namespace each interface's IFLA_LINK is its
 * peer's index; in the daemon's namespace the peer's IFLA_LINK points back
 * and IFLA_MASTER names the bridge.  Both directions must agree, so a
 * candidate namespace that is not the daemon's is not mistaken for it.
 *
 * The container's namespace is /proc/PID/ns/net of its first process; the
 * daemon's is taken from the container's parent, the runtime's shim, which
 * containerd started in its own (= dockerd's) namespace.  Reading a
 * namespace means setns() into it and back, on the calling thread; root
 * (CAP_SYS_ADMIN over both) is needed.
 */
#ifndef AIRLOCK_DOCKER_VETH_H
#define AIRLOCK_DOCKER_VETH_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/diag.h"

#define VETH_MAX_LINKS 256
#define VETH_IFNAME    16

struct veth_link {
	int index;
	int peer;   /* IFLA_LINK: the peer's index (in the other namespace), or 0 */
	int master; /* IFLA_MASTER: the bridge's index, or 0 */
	char name[VETH_IFNAME];
	char mac[18]; /* lower case; "" without an Ethernet address */
	bool veth;    /* IFLA_INFO_KIND "veth" */
};

struct veth_links {
	struct veth_link link[VETH_MAX_LINKS];
	size_t n;
};

/* Open /proc/PID/ns/net (close-on-exec).  A descriptor or a negative errno. */
int netns_open_pid(pid_t pid, struct diag *d);

/* The parent of process `pid` (/proc/PID/status), or -1.  A container's
 * first process's parent is the runtime's shim, in the daemon's network
 * namespace. */
pid_t proc_parent(pid_t pid);

/* Whether two namespace descriptors are the same namespace (1), not (0). */
int netns_same(int a, int b);

/* Enter namespace `fd` (-1: stay where we are); *ret_saved gets a
 * descriptor of the namespace we were in (or -1), for netns_leave(). */
int netns_enter(int fd, int *ret_saved, struct diag *d);
/* Back to `saved` and close it.  A failure here leaves the thread in the
 * wrong namespace, which nothing can recover: it aborts. */
void netns_leave(int saved);

/* Every interface of namespace `fd` (-1: the current one). */
int veth_dump(int fd, struct veth_links *ret, struct diag *d);

/* The interface of `in` with Ethernet address `mac`, or NULL. */
const struct veth_link *veth_by_mac(const struct veth_links *in, const char *mac);
const struct veth_link *veth_by_index(const struct veth_links *in, int index);

/* The host end of container interface `c`: the veth in `host` whose index is
 * c's peer and whose peer is c, enslaved to a bridge; *ret_bridge gets the
 * bridge's name.  NULL when there is none (not a veth, or `host` is not the
 * namespace of its peer). */
const struct veth_link *veth_host_end(const struct veth_links *host, const struct veth_link *c,
                                      const char **ret_bridge);

#endif
