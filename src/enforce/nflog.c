/* nflog.c - the NFLOG socket and the parser of what it reads (see nflog.h). */
#include "enforce/nflog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NFLOG_TYPE(msg) ((NFNL_SUBSYS_ULOG << 8) | (msg))

/* ---- configuration: two requests, each acknowledged ------------------- */

/* One config request with one attribute, in a fixed buffer. */
struct config_msg {
	struct nlmsghdr nh;
	struct nfgenmsg g;
	struct nlattr attr;
	uint8_t payload[8];
};
_Static_assert(sizeof(struct config_msg) == NLMSG_LENGTH(sizeof(struct nfgenmsg)) + NLA_HDRLEN + 8,
               "config_msg has no padding");

static int configure(int fd, uint16_t group, uint32_t seq, uint16_t attr, const void *value,
                     size_t len)
{
	struct config_msg m;
	union {
		struct nlmsghdr nh;
		char buf[512];
	} reply;

	if (len > sizeof(m.payload))
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.nh.nlmsg_len =
	        (uint32_t)(NLMSG_LENGTH(sizeof(struct nfgenmsg)) + NLA_HDRLEN + NLA_ALIGN(len));
	m.nh.nlmsg_type = NFLOG_TYPE(NFULNL_MSG_CONFIG);
	m.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	m.nh.nlmsg_seq = seq;
	m.g.nfgen_family = AF_UNSPEC;
	m.g.version = NFNETLINK_V0;
	m.g.res_id = htons(group);
	m.attr.nla_len = (uint16_t)(NLA_HDRLEN + len);
	m.attr.nla_type = attr;
	memcpy(m.payload, value, len);
	if (send(fd, &m, m.nh.nlmsg_len, 0) != (ssize_t)m.nh.nlmsg_len)
		return errno ? -errno : -EIO;

	/* The ack: an NLMSG_ERROR carrying our sequence number and 0. */
	for (int tries = 0; tries < 8; tries++) {
		ssize_t n = recv(fd, &reply, sizeof(reply), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if ((size_t)n < NLMSG_LENGTH(sizeof(struct nlmsgerr)) ||
		    reply.nh.nlmsg_type != NLMSG_ERROR || reply.nh.nlmsg_seq != seq)
			continue; /* a packet message, or someone else's */
		const struct nlmsgerr *err = NLMSG_DATA(&reply.nh);
		return err->error;
	}
	return -EPROTO;
}

int nflog_open(uint16_t group, struct diag *d)
{
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = 2};
	int e;

	if (fd < 0)
		return diag_fail(d, -errno, "cannot open a netfilter netlink socket: %s",
		                 strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return diag_fail(d, -errno, "cannot bind a netfilter netlink socket: %s",
		                 strerror(errno));

	struct nfulnl_msg_config_cmd bind_cmd = {.command = NFULNL_CFG_CMD_BIND};
	e = configure(fd, group, 1, NFULA_CFG_CMD, &bind_cmd, sizeof(bind_cmd));
	if (e < 0)
		return diag_fail(d, e, "cannot bind NFLOG group %u: %s", group, strerror(-e));
	struct nfulnl_msg_config_mode mode = {
	        .copy_range = htonl(NFLOG_COPY_BYTES),
	        .copy_mode = NFULNL_COPY_PACKET,
	};
	e = configure(fd, group, 2, NFULA_CFG_MODE, &mode, sizeof(mode));
	if (e < 0)
		return diag_fail(d, e, "cannot set NFLOG group %u's copy mode: %s", group,
		                 strerror(-e));
	/* One packet is one message at once: the kernel's default batches up
	 * to 100 packets or a second, and a sandbox may end before that. */
	uint32_t qthresh = htonl(1);
	e = configure(fd, group, 3, NFULA_CFG_QTHRESH, &qthresh, sizeof(qthresh));
	if (e < 0)
		return diag_fail(d, e, "cannot set NFLOG group %u's queue threshold: %s", group,
		                 strerror(-e));
	/* A flood must not grow our queue: the kernel drops what does not fit
	 * (ENOBUFS on the next read, which the reader counts). */
	int rcvbuf = 256 * 1024;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return diag_fail(d, -errno, "cannot make the NFLOG socket non-blocking: %s",
		                 strerror(errno));
	return TAKE_FD(fd);
}

/* ---- parsing ------------------------------------------------------------ */

static bool ported(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP;
}

/* The transport header at `l4` (len bytes left): ports or ICMP type. */
static void transport(struct nflog_packet *p, const uint8_t *l4, size_t len, bool first_fragment)
{
	if (!first_fragment)
		return;
	if (ported(p->protocol) && len >= 4) {
		addr_set_port(&p->src, (uint16_t)(l4[0] << 8 | l4[1]));
		addr_set_port(&p->dst, (uint16_t)(l4[2] << 8 | l4[3]));
		p->has_port = true;
	} else if ((p->protocol == IPPROTO_ICMP || p->protocol == IPPROTO_ICMPV6) && len >= 1) {
		p->icmp_type = l4[0];
	}
}

static bool parse_ipv4(struct nflog_packet *p, const uint8_t *b, size_t len)
{
	if (len < 20 || b[0] >> 4 != 4)
		return false;
	size_t ihl = (size_t)(b[0] & 0x0f) * 4;
	if (ihl < 20)
		return false;
	p->family = AF_INET;
	p->protocol = b[9];
	addr_from_ipv4(&p->src, b + 12, 0);
	addr_from_ipv4(&p->dst, b + 16, 0);
	bool first = ((b[6] & 0x1f) << 8 | b[7]) == 0; /* fragment offset 0 */
	if (len > ihl)
		transport(p, b + ihl, len - ihl, first);
	return true;
}

/* IPv6, through its extension headers (a bounded number of them). */
static bool parse_ipv6(struct nflog_packet *p, const uint8_t *b, size_t len)
{
	if (len < 40 || b[0] >> 4 != 6)
		return false;
	p->family = AF_INET6;
	addr_from_ipv6(&p->src, b + 8, 0);
	addr_from_ipv6(&p->dst, b + 24, 0);
	uint8_t next = b[6];
	size_t off = 40;
	bool first = true;
	for (int hops = 0; hops < 8; hops++) {
		size_t ext;
		if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
			if (len < off + 2)
				break;
			ext = ((size_t)b[off + 1] + 1) * 8;
		} else if (next == IPPROTO_FRAGMENT) {
			if (len < off + 8)
				break;
			first = ((b[off + 2] << 8 | b[off + 3]) & 0xfff8) == 0;
			ext = 8;
		} else if (next == IPPROTO_AH) {
			if (len < off + 2)
				break;
			ext = ((size_t)b[off + 1] + 2) * 4;
		} else {
			break;
		}
		next = b[off];
		off += ext;
		if (off > len)
			break;
	}
	p->protocol = next;
	if (off < len)
		transport(p, b + off, len - off, first);
	return true;
}

/* One NFULNL_MSG_PACKET message's body (after the netlink header): find the
 * payload attribute.  Every field is copied out, never cast in place, so
 * the buffer needs no alignment. */
static bool parse_packet_msg(const uint8_t *body, size_t len, struct nflog_packet *ret)
{
	struct nfgenmsg g;

	if (len < sizeof(g))
		return false;
	memcpy(&g, body, sizeof(g));
	size_t off = NLA_ALIGN(sizeof(g));
	while (off + NLA_HDRLEN <= len) {
		struct nlattr a;
		memcpy(&a, body + off, sizeof(a));
		if (a.nla_len < NLA_HDRLEN || a.nla_len > len - off)
			return false;
		if ((a.nla_type & NLA_TYPE_MASK) == NFULA_PAYLOAD) {
			const uint8_t *pl = body + off + NLA_HDRLEN;
			size_t pl_len = a.nla_len - NLA_HDRLEN;
			memset(ret, 0, sizeof(*ret));
			ret->icmp_type = -1;
			if (g.nfgen_family == AF_INET)
				return parse_ipv4(ret, pl, pl_len);
			if (g.nfgen_family == AF_INET6)
				return parse_ipv6(ret, pl, pl_len);
			return false;
		}
		off += NLA_ALIGN(a.nla_len);
	}
	return false;
}

size_t nflog_parse(const void *buf, size_t len, nflog_packet_fn *fn, void *ctx)
{
	const uint8_t *b = buf;
	size_t off = 0, n = 0;

	while (len - off >= NLMSG_HDRLEN) {
		struct nlmsghdr nh;
		memcpy(&nh, b + off, sizeof(nh));
		if (nh.nlmsg_len < NLMSG_HDRLEN || nh.nlmsg_len > len - off)
			break;
		struct nflog_packet p;
		if (nh.nlmsg_type == NFLOG_TYPE(NFULNL_MSG_PACKET) &&
		    parse_packet_msg(b + off + NLMSG_HDRLEN, nh.nlmsg_len - NLMSG_HDRLEN, &p)) {
			fn(ctx, &p);
			n++;
		}
		size_t step = NLMSG_ALIGN(nh.nlmsg_len);
		if (step >= len - off)
			break;
		off += step;
	}
	return n;
}

const char *nflog_protocol_name(uint8_t protocol, char *buf, size_t size)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_UDPLITE:
		return "udplite";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	default:
		snprintf(buf, size, "IP protocol %u", protocol);
		return buf;
	}
}
