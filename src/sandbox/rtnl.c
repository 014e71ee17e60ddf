/* rtnl.c - bring lo up and route everything to it (see rtnl.h). */
#include "sandbox/rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

/* A request: header, family message, then attributes, in one buffer whose
 * size every append checks. */
struct request {
	union {
		struct nlmsghdr nh;
		uint8_t buf[256];
	};
};

static void *append(struct request *r, size_t len)
{
	size_t at = NLMSG_ALIGN(r->nh.nlmsg_len);
	if (at + len > sizeof(r->buf))
		return NULL;
	void *p = r->buf + at;
	memset(p, 0, len);
	r->nh.nlmsg_len = (uint32_t)(at + len);
	return p;
}

static int add_attr(struct request *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = append(r, RTA_LENGTH(len));
	if (!a)
		return -ENOBUFS;
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	return 0;
}

/* The extended ack's message, when the kernel sent one. */
static const char *ext_ack_msg(const struct nlmsghdr *nh, size_t len)
{
	if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	const struct nlmsgerr *err = NLMSG_DATA(nh);
	/* Without NLM_F_CAPPED the original request follows the error. */
	size_t off = NLMSG_HDRLEN + sizeof(*err);
	if (!(nh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - NLMSG_HDRLEN;
	while (off + sizeof(struct nlattr) <= len) {
		const struct nlattr *a = (const void *)((const uint8_t *)nh + off);
		if (a->nla_len < sizeof(*a) || off + a->nla_len > len)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
			const char *s = (const char *)a + NLA_HDRLEN;
			size_t n = a->nla_len - NLA_HDRLEN;
			return n && s[n - 1] == '\0' ? s : NULL;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

/* Send the request, wait for its ack.  0 or -errno; `what` names it. */
static int transact(struct request *r, const char *what, struct diag *d)
{
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	union {
		struct nlmsghdr nh;
		uint8_t buf[4096];
	} reply;
	int one = 1;

	if (fd < 0)
		return diag_fail(d, -errno, "cannot open an rtnetlink socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->nh.nlmsg_seq = 1;
	if (sendto(fd, r->buf, r->nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) !=
	    (ssize_t)r->nh.nlmsg_len)
		return diag_fail(d, -errno, "%s: cannot send to rtnetlink: %s", what,
		                 strerror(errno));
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, reply.buf, sizeof(reply.buf), 0, (struct sockaddr *)&from,
		                     &fl);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return diag_fail(d, -errno, "%s: no answer from rtnetlink: %s", what,
			                 strerror(errno));
		if (from.nl_pid != 0 || (size_t)n < NLMSG_LENGTH(sizeof(struct nlmsgerr)) ||
		    reply.nh.nlmsg_len > (size_t)n || reply.nh.nlmsg_seq != 1 ||
		    reply.nh.nlmsg_type != NLMSG_ERROR)
			continue; /* not the kernel's answer to this request */
		const struct nlmsgerr *err = NLMSG_DATA(&reply.nh);
		if (err->error == 0)
			return 0;
		const char *why = ext_ack_msg(&reply.nh, reply.nh.nlmsg_len);
		return diag_fail(d, err->error, "%s: %s%s%s", what, strerror(-err->error),
		                 why ? ": " : "", why ? why : "");
	}
}

int rtnl_loopback_up(struct diag *d)
{
	struct request r = {.nh = {.nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = RTM_NEWLINK}};
	unsigned idx = if_nametoindex("lo");
	if (idx == 0)
		return diag_fail(d, -ENODEV, "this network namespace has no lo interface");
	struct ifinfomsg *ifi = append(&r, sizeof(*ifi));
	_Static_assert(NLMSG_HDRLEN + sizeof(struct ifinfomsg) <= sizeof(r.buf), "fits");
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)idx;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return transact(&r, "bringing lo up", d);
}

int rtnl_default_route_to_loopback(int family, struct diag *d)
{
	struct request r = {.nh = {.nlmsg_len = NLMSG_HDRLEN,
	                           .nlmsg_type = RTM_NEWROUTE,
	                           .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL}};
	uint8_t src[16] = {0};
	size_t alen;
	unsigned idx = if_nametoindex("lo");

	if (family == AF_INET) {
		alen = 4;
		inet_pton(AF_INET, "127.0.0.1", src);
	} else if (family == AF_INET6) {
		alen = 16;
		inet_pton(AF_INET6, "::1", src);
	} else {
		return diag_fail(d, -EAFNOSUPPORT, "no route for address family %d", family);
	}
	if (idx == 0)
		return diag_fail(d, -ENODEV, "this network namespace has no lo interface");
	struct rtmsg *rt = append(&r, sizeof(*rt));
	rt->rtm_family = (unsigned char)family;
	rt->rtm_dst_len = 0; /* default */
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_LINK;
	rt->rtm_type = RTN_UNICAST;
	uint32_t oif = idx;
	if (add_attr(&r, RTA_OIF, &oif, sizeof(oif)) < 0 ||
	    add_attr(&r, RTA_PREFSRC, src, alen) < 0)
		return diag_fail(d, -ENOBUFS, "route request too long");
	return transact(&r,
	                family == AF_INET ? "adding the IPv4 route to lo"
	                                  : "adding the IPv6 route to lo",
	                d);
}

int rtnl_add_address4(unsigned ifindex, const uint8_t addr[4], struct diag *d)
{
	struct request r = {.nh = {.nlmsg_len = NLMSG_HDRLEN,
	                           .nlmsg_type = RTM_NEWADDR,
	                           .nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE}};
	struct ifaddrmsg *ifa = append(&r, sizeof(*ifa));
	_Static_assert(NLMSG_HDRLEN + sizeof(struct ifaddrmsg) + 2 * RTA_LENGTH(4) <= sizeof(r.buf),
	               "fits");
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 32;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	if (add_attr(&r, IFA_LOCAL, addr, 4) < 0 || add_attr(&r, IFA_ADDRESS, addr, 4) < 0)
		return diag_fail(d, -ENOBUFS, "address request too long");
	char text[INET_ADDRSTRLEN], what[64];
	inet_ntop(AF_INET, addr, text, sizeof(text));
	snprintf(what, sizeof(what), "adding %s/32", text);
	return transact(&r, what, d);
}
