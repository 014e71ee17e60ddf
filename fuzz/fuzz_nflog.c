/* NFLOG messages: never crash or read past the buffer; the count returned is
 * the callbacks made, and no more than the buffer can frame; every packet is
 * IPv4 or IPv6 with both addresses of its family, a port only for a ported
 * protocol (and none otherwise), an ICMP type only for ICMP; the buffer's
 * alignment changes nothing; a prefix of the buffer gives a prefix of the
 * packets; and each packet, written back as a plain message, parses back to
 * itself. */
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "enforce/nflog.h"
#include "fuzz.h"

/* The smallest message that gives a packet: netlink header, nfgenmsg, an
 * attribute header and an IPv4 header. */
#define MIN_PACKET_MSG (NLMSG_HDRLEN + sizeof(struct nfgenmsg) + NLA_HDRLEN + 20)
#define KEPT           512

struct run {
	size_t calls;
	struct nflog_packet p[KEPT]; /* the first KEPT packets */
};

/* Large; harnesses run one input at a time. */
static struct run whole, other;

static void collect(void *ctx, const struct nflog_packet *p)
{
	struct run *r = ctx;
	if (r->calls < KEPT)
		r->p[r->calls] = *p;
	r->calls++;
}

static size_t parse(const uint8_t *buf, size_t len, struct run *r)
{
	r->calls = 0;
	size_t n = nflog_parse(buf, len, collect, r);
	FUZZ_ASSERT(n == r->calls);
	return n;
}

static bool ported(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP;
}

static bool ipv6_extension(uint8_t proto)
{
	return proto == IPPROTO_HOPOPTS || proto == IPPROTO_ROUTING || proto == IPPROTO_FRAGMENT ||
	       proto == IPPROTO_AH || proto == IPPROTO_DSTOPTS;
}

static bool same(const struct nflog_packet *a, const struct nflog_packet *b)
{
	return a->family == b->family && a->protocol == b->protocol && a->has_port == b->has_port &&
	       a->icmp_type == b->icmp_type && addr_equal(&a->src, &b->src) &&
	       addr_equal(&a->dst, &b->dst);
}

static void check_packet(const struct nflog_packet *p)
{
	FUZZ_ASSERT(p->family == AF_INET || p->family == AF_INET6);
	FUZZ_ASSERT(addr_family(&p->src) == p->family && addr_family(&p->dst) == p->family);
	if (p->has_port) {
		FUZZ_ASSERT(ported(p->protocol));
	} else {
		FUZZ_ASSERT(addr_port(&p->src) == 0 && addr_port(&p->dst) == 0);
	}
	FUZZ_ASSERT(p->icmp_type >= -1 && p->icmp_type <= 255);
	if (p->icmp_type >= 0)
		FUZZ_ASSERT(!p->has_port &&
		            (p->protocol == IPPROTO_ICMP || p->protocol == IPPROTO_ICMPV6));
	char buf[32];
	const char *name = nflog_protocol_name(p->protocol, buf, sizeof(buf));
	FUZZ_ASSERT(name && *name);
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* `p` as the plainest message that says the same: one payload attribute
 * holding an IP header without options or extension headers, then the
 * ports or the ICMP type (nothing when the packet has neither). */
static size_t write_back(const struct nflog_packet *p, uint8_t *out)
{
	uint8_t *ip = out + NLMSG_HDRLEN + NLA_ALIGN(sizeof(struct nfgenmsg)) + NLA_HDRLEN;
	size_t iplen = p->family == AF_INET ? 20 : 40;

	memset(out, 0, NLMSG_HDRLEN + NLA_ALIGN(sizeof(struct nfgenmsg)) + NLA_HDRLEN + 44);
	if (p->family == AF_INET) {
		ip[0] = 0x45;
		ip[9] = p->protocol;
		memcpy(ip + 12, &p->src.in4.sin_addr, 4);
		memcpy(ip + 16, &p->dst.in4.sin_addr, 4);
	} else {
		ip[0] = 0x60;
		ip[6] = p->protocol;
		memcpy(ip + 8, &p->src.in6.sin6_addr, 16);
		memcpy(ip + 24, &p->dst.in6.sin6_addr, 16);
	}
	if (p->has_port) {
		put16(ip + iplen, addr_port(&p->src));
		put16(ip + iplen + 2, addr_port(&p->dst));
		iplen += 4;
	} else if (p->icmp_type >= 0) {
		ip[iplen++] = (uint8_t)p->icmp_type;
	}

	struct nlmsghdr nh = {.nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET};
	struct nfgenmsg g = {.nfgen_family = (uint8_t)p->family, .version = NFNETLINK_V0};
	struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + iplen), .nla_type = NFULA_PAYLOAD};
	nh.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + NLA_ALIGN(sizeof(g)) + a.nla_len);
	memcpy(out, &nh, sizeof(nh));
	memcpy(out + NLMSG_HDRLEN, &g, sizeof(g));
	memcpy(out + NLMSG_HDRLEN + NLA_ALIGN(sizeof(g)), &a, sizeof(a));
	return nh.nlmsg_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = parse(data, size, &whole);
	FUZZ_ASSERT(n <= size / MIN_PACKET_MSG);
	size_t kept = n < KEPT ? n : KEPT;
	for (size_t i = 0; i < kept; i++)
		check_packet(&whole.p[i]);

	/* The same bytes one byte off their alignment: the same packets. */
	uint8_t *shifted = malloc(size + 1);
	if (!shifted)
		return 0;
	memcpy(shifted + 1, data, size);
	FUZZ_ASSERT(parse(shifted + 1, size, &other) == n);
	for (size_t i = 0; i < kept; i++)
		FUZZ_ASSERT(same(&whole.p[i], &other.p[i]));
	free(shifted);

	/* A prefix (in a buffer of exactly its size, so a read past it is an
	 * ASan report): the messages it holds whole, as they were. */
	if (size > 0) {
		size_t cut = size > 1 ? (size_t)data[size - 1] * 257 % size : 0;
		uint8_t *prefix = malloc(cut ? cut : 1);
		if (!prefix)
			return 0;
		memcpy(prefix, data, cut);
		size_t m = parse(prefix, cut, &other);
		free(prefix);
		FUZZ_ASSERT(m <= n);
		for (size_t i = 0; i < m && i < KEPT; i++)
			FUZZ_ASSERT(same(&whole.p[i], &other.p[i]));
	}

	/* Written back plainly, each packet parses to itself.  (An IPv6
	 * packet whose protocol is an extension header stopped inside its
	 * chain: written back, that header would be walked.) */
	for (size_t i = 0; i < kept; i++) {
		const struct nflog_packet *p = &whole.p[i];
		uint8_t msg[128];
		if (p->family == AF_INET6 && ipv6_extension(p->protocol))
			continue;
		size_t len = write_back(p, msg);
		FUZZ_ASSERT(parse(msg, len, &other) == 1);
		FUZZ_ASSERT(same(p, &other.p[0]));
	}
	return 0;
}
