/* veth.c - interfaces across network namespaces (see veth.h). */
#include "docker/veth.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/macros.h"

int netns_open_pid(pid_t pid, struct diag *d)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/ns/net", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return diag_fail(d, -errno, "cannot open %s: %s", path, strerror(errno));
	return fd;
}

pid_t proc_parent(pid_t pid)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	size_t len;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if (file_read_all(path, 65536, &text, &len, NULL) < 0)
		return -1;
	const char *p = strstr(text, "\nPPid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : -1;
}

int netns_same(int a, int b)
{
	struct stat sa, sb;
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return -errno;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int netns_enter(int fd, int *ret_saved, struct diag *d)
{
	*ret_saved = -1;
	if (fd < 0)
		return 0;
	int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return diag_fail(d, -errno, "cannot open this thread's network namespace: %s",
		                 strerror(errno));
	if (setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;
		close(saved);
		return diag_fail(d, -e, "cannot enter the network namespace: %s%s", strerror(e),
		                 e == EPERM ? " (run as root)" : "");
	}
	*ret_saved = saved;
	return 0;
}

void netns_leave(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET) < 0) {
		fprintf(stderr, "airlock: cannot return to the original network namespace: %s\n",
		        strerror(errno));
		abort();
	}
	close(saved);
}

/* The netlink macros cast char pointers to aligned structs, which clang's
 * -Wcast-align refuses; the buffers are aligned (the kernel pads every
 * message and attribute to 4), so the steps go through void *. */
static const struct rtattr *rta_first(const void *p)
{
	return p;
}

static const struct rtattr *rta_next(const struct rtattr *a, int *len)
{
	*len -= (int)RTA_ALIGN(a->rta_len);
	return (const void *)((const char *)a + RTA_ALIGN(a->rta_len));
}

static bool nlmsg_ok(const struct nlmsghdr *nh, int len)
{
	return len >= (int)sizeof(*nh) && nh->nlmsg_len >= sizeof(*nh) &&
	       nh->nlmsg_len <= (unsigned)len;
}

static const struct nlmsghdr *nlmsg_next(const struct nlmsghdr *nh, int *len)
{
	*len -= (int)NLMSG_ALIGN(nh->nlmsg_len);
	return (const void *)((const char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
}

static void parse_linkinfo(const struct rtattr *info, struct veth_link *l)
{
	int len = (int)RTA_PAYLOAD(info);
	for (const struct rtattr *a = rta_first(RTA_DATA(info)); RTA_OK(a, len);
	     a = rta_next(a, &len))
		if (a->rta_type == IFLA_INFO_KIND)
			l->veth = RTA_PAYLOAD(a) >= 4 && memcmp(RTA_DATA(a), "veth", 4) == 0 &&
			          (RTA_PAYLOAD(a) == 4 || ((const char *)RTA_DATA(a))[4] == '\0');
}

static void parse_link(const struct nlmsghdr *nh, struct veth_links *out)
{
	if (nh->nlmsg_type != RTM_NEWLINK ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)) || out->n == VETH_MAX_LINKS)
		return;
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	struct veth_link *l = &out->link[out->n];
	memset(l, 0, sizeof(*l));
	l->index = ifi->ifi_index;
	int len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
	for (const struct rtattr *a = rta_first((const char *)ifi + NLMSG_ALIGN(sizeof(*ifi)));
	     RTA_OK(a, len); a = rta_next(a, &len)) {
		size_t n = RTA_PAYLOAD(a);
		const uint8_t *p = RTA_DATA(a);
		switch (a->rta_type) {
		case IFLA_IFNAME:
			if (n > 0 && n <= VETH_IFNAME && p[n - 1] == '\0')
				memcpy(l->name, p, n);
			break;
		case IFLA_ADDRESS:
			if (n == 6)
				snprintf(l->mac, sizeof(l->mac), "%02x:%02x:%02x:%02x:%02x:%02x",
				         p[0], p[1], p[2], p[3], p[4], p[5]);
			break;
		case IFLA_LINK:
			if (n == 4)
				memcpy(&l->peer, p, 4);
			break;
		case IFLA_MASTER:
			if (n == 4)
				memcpy(&l->master, p, 4);
			break;
		case IFLA_LINKINFO:
			parse_linkinfo(a, l);
			break;
		}
	}
	if (l->name[0])
		out->n++;
}

int veth_dump(int nsfd, struct veth_links *ret, struct diag *d)
{
	int saved;
	int e = netns_enter(nsfd, &saved, d);
	if (e < 0)
		return e;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	e = fd < 0 ? -errno : 0;
	netns_leave(saved);
	if (e < 0)
		return diag_fail(d, e, "cannot open an rtnetlink socket: %s", strerror(-e));

	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
	        .nh = {.nlmsg_len = sizeof(req),
	               .nlmsg_type = RTM_GETLINK,
	               .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
	               .nlmsg_seq = 1},
	        .ifi = {.ifi_family = AF_UNSPEC},
	};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	ret->n = 0;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) !=
	    (ssize_t)sizeof(req)) {
		e = diag_fail(d, -errno, "cannot ask rtnetlink for the interfaces: %s",
		              strerror(errno));
		close(fd);
		return e;
	}
	_cleanup_free_ uint8_t *buf = malloc(32768);
	if (!buf) {
		close(fd);
		return diag_fail(d, -ENOMEM, "out of memory");
	}
	for (bool done = false; !done;) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, 32768, 0, (struct sockaddr *)&from, &fl);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = diag_fail(d, -errno, "no answer from rtnetlink: %s", strerror(errno));
			break;
		}
		if (from.nl_pid != 0)
			continue;
		int len = (int)n;
		for (const struct nlmsghdr *nh = (const void *)buf; nlmsg_ok(nh, len);
		     nh = nlmsg_next(nh, &len)) {
			if (nh->nlmsg_seq != 1)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *er = NLMSG_DATA(nh);
				e = diag_fail(d, er->error ? er->error : -EIO,
				              "rtnetlink refused the interface list: %s",
				              strerror(er->error ? -er->error : EIO));
				done = true;
				break;
			}
			parse_link(nh, ret);
		}
	}
	close(fd);
	return e;
}

const struct veth_link *veth_by_mac(const struct veth_links *in, const char *mac)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->link[i].mac[0] && strcmp(in->link[i].mac, mac) == 0)
			return &in->link[i];
	return NULL;
}

const struct veth_link *veth_by_index(const struct veth_links *in, int index)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->link[i].index == index)
			return &in->link[i];
	return NULL;
}

const struct veth_link *veth_host_end(const struct veth_links *host, const struct veth_link *c,
                                      const char **ret_bridge)
{
	if (!c->veth || c->peer <= 0)
		return NULL;
	const struct veth_link *h = veth_by_index(host, c->peer);
	if (!h || !h->veth || h->peer != c->index || h->master <= 0)
		return NULL;
	const struct veth_link *br = veth_by_index(host, h->master);
	if (!br)
		return NULL;
	*ret_bridge = br->name;
	return h;
}
