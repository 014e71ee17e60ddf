/* The NFLOG parser, on netlink messages built by hand: what each kind of
 * packet gives (ports, ICMP types, IPv6 extension headers and fragments),
 * truncated packets and lengths that lie, several messages in one buffer,
 * and the messages that are not packets. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "enforce/nflog.h"

#define PACKET_TYPE ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)

/* ---- building messages ---- */

struct msgs {
	uint8_t b[4096];
	size_t len;
	size_t start; /* of the message being built */
};

static void put(struct msgs *m, const void *data, size_t len)
{
	assert_true(m->len + len <= sizeof(m->b));
	memcpy(m->b + m->len, data, len);
	m->len += len;
}

static void pad(struct msgs *m, size_t to)
{
	static const uint8_t zeros[8];
	size_t r = m->len % to;
	put(m, zeros, r ? to - r : 0);
}

static void msg_begin(struct msgs *m, uint16_t type, uint8_t family)
{
	struct nlmsghdr nh = {.nlmsg_type = type, .nlmsg_seq = 0, .nlmsg_pid = 0};
	struct nfgenmsg g = {.nfgen_family = family, .version = NFNETLINK_V0, .res_id = htons(7)};
	pad(m, NLMSG_ALIGNTO);
	m->start = m->len;
	put(m, &nh, sizeof(nh));
	put(m, &g, sizeof(g));
}

static void msg_attr(struct msgs *m, uint16_t type, const void *data, size_t len)
{
	struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type};
	pad(m, NLA_ALIGNTO);
	put(m, &a, sizeof(a));
	put(m, data, len);
}

/* nlmsg_len covers everything since msg_begin; `padded` adds the trailing
 * alignment as the kernel does. */
static void msg_end(struct msgs *m, bool padded)
{
	if (padded)
		pad(m, NLMSG_ALIGNTO);
	uint32_t len = (uint32_t)(m->len - m->start);
	memcpy(m->b + m->start + offsetof(struct nlmsghdr, nlmsg_len), &len, sizeof(len));
}

/* The attributes the kernel puts before the payload, as it orders them. */
static void packet_msg(struct msgs *m, uint8_t family, const void *payload, size_t len)
{
	struct nfulnl_msg_packet_hdr ph = {
	        .hw_protocol = htons(family == AF_INET ? 0x0800 : 0x86dd), .hook = 3};
	uint32_t outdev = htonl(1), uid = htonl(1000);
	msg_begin(m, PACKET_TYPE, family);
	msg_attr(m, NFULA_PACKET_HDR, &ph, sizeof(ph));
	msg_attr(m, NFULA_PREFIX, "drop", 5); /* 5 bytes: padded to 8 */
	msg_attr(m, NFULA_IFINDEX_OUTDEV, &outdev, sizeof(outdev));
	msg_attr(m, NFULA_UID, &uid, sizeof(uid));
	msg_attr(m, NFULA_PAYLOAD, payload, len);
	msg_end(m, true);
}

/* An IPv4 header (ihl 5 + `options` words) followed by `l4`. */
static size_t ipv4(uint8_t *out, uint8_t proto, const char *src, const char *dst,
                   uint16_t frag_field, unsigned options, const uint8_t *l4, size_t l4len)
{
	size_t hl = 20 + 4 * options;
	memset(out, 0, hl);
	out[0] = (uint8_t)(0x40 | (5 + options));
	out[2] = (uint8_t)((hl + l4len) >> 8);
	out[3] = (uint8_t)(hl + l4len);
	out[6] = (uint8_t)(frag_field >> 8);
	out[7] = (uint8_t)frag_field;
	out[8] = 64;
	out[9] = proto;
	assert_int_equal(inet_pton(AF_INET, src, out + 12), 1);
	assert_int_equal(inet_pton(AF_INET, dst, out + 16), 1);
	for (unsigned i = 0; i < options; i++)
		out[20 + 4 * i] = 1; /* NOP options */
	memcpy(out + hl, l4, l4len);
	return hl + l4len;
}

/* An IPv6 header whose next header is `next`, followed by `rest` (the
 * extension headers and the transport header). */
static size_t ipv6(uint8_t *out, uint8_t next, const char *src, const char *dst,
                   const uint8_t *rest, size_t rest_len)
{
	memset(out, 0, 40);
	out[0] = 0x60;
	out[4] = (uint8_t)(rest_len >> 8);
	out[5] = (uint8_t)rest_len;
	out[6] = next;
	out[7] = 64;
	assert_int_equal(inet_pton(AF_INET6, src, out + 8), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, out + 24), 1);
	memcpy(out + 40, rest, rest_len);
	return 40 + rest_len;
}

/* Source port 40000 (0x9c40), destination port 9, then more header bytes. */
static const uint8_t udp9[8] = {0x9c, 0x40, 0x00, 0x09, 0x00, 0x08, 0x00, 0x00};
static const uint8_t tcp443[20] = {0xc3, 0x50, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02};

/* ---- what the parser gives ---- */

struct seen {
	size_t n;
	struct nflog_packet p[8];
};

static void collect(void *ctx, const struct nflog_packet *p)
{
	struct seen *s = ctx;
	assert_true(s->n < ARRAY_SIZE(s->p));
	s->p[s->n++] = *p;
}

/* Parse, and check that the count returned is the callbacks made. */
static size_t parse(const void *buf, size_t len, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	size_t n = nflog_parse(buf, len, collect, s);
	assert_int_equal(n, s->n);
	return n;
}

/* One packet message with this payload: the packet it gives (fails unless
 * exactly one). */
static struct nflog_packet one(uint8_t family, const uint8_t *payload, size_t len)
{
	struct msgs m = {.len = 0};
	struct seen s;
	packet_msg(&m, family, payload, len);
	assert_int_equal(parse(m.b, m.len, &s), 1);
	return s.p[0];
}

static size_t none(uint8_t family, const uint8_t *payload, size_t len)
{
	struct msgs m = {.len = 0};
	struct seen s;
	packet_msg(&m, family, payload, len);
	return parse(m.b, m.len, &s);
}

static void assert_addr(const struct addr *a, const char *ip, uint16_t port)
{
	char text[ADDR_STR_MAX];
	assert_int_equal(addr_format_ip(a, text, sizeof(text)), 0);
	assert_string_equal(text, ip);
	assert_int_equal(addr_port(a), port);
}

/* ---- IPv4 ---- */

static void test_ipv4_udp(void **state)
{
	uint8_t pkt[128];
	(void)state;

	size_t n = ipv4(pkt, IPPROTO_UDP, "10.0.2.15", "198.51.100.7", 0x4000 /* DF */, 0, udp9,
	                sizeof(udp9));
	struct nflog_packet p = one(AF_INET, pkt, n);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.protocol, IPPROTO_UDP);
	assert_true(p.has_port);
	assert_int_equal(p.icmp_type, -1);
	assert_int_equal(addr_family(&p.src), AF_INET);
	assert_addr(&p.src, "10.0.2.15", 40000);
	assert_addr(&p.dst, "198.51.100.7", 9);
}

static void test_ipv4_tcp_with_options(void **state)
{
	uint8_t pkt[128];
	(void)state;

	/* ihl 7: the transport header starts at byte 28, not 20. */
	size_t n = ipv4(pkt, IPPROTO_TCP, "127.0.0.1", "203.0.113.9", 0, 2, tcp443, sizeof(tcp443));
	struct nflog_packet p = one(AF_INET, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_TCP);
	assert_true(p.has_port);
	assert_addr(&p.src, "127.0.0.1", 50000);
	assert_addr(&p.dst, "203.0.113.9", 443);
}

static void test_ipv4_other_ported_protocols(void **state)
{
	static const uint8_t sctp[12] = {0x13, 0x88, 0x0b, 0xb8}; /* 5000 -> 3000 */
	uint8_t pkt[128];
	(void)state;

	size_t n = ipv4(pkt, IPPROTO_SCTP, "10.0.0.1", "10.0.0.2", 0, 0, sctp, sizeof(sctp));
	struct nflog_packet p = one(AF_INET, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_SCTP);
	assert_true(p.has_port);
	assert_addr(&p.dst, "10.0.0.2", 3000);
	assert_addr(&p.src, "10.0.0.1", 5000);
	n = ipv4(pkt, IPPROTO_UDPLITE, "10.0.0.1", "10.0.0.2", 0, 0, udp9, sizeof(udp9));
	p = one(AF_INET, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_UDPLITE);
	assert_true(p.has_port);
	assert_int_equal(addr_port(&p.dst), 9);
}

static void test_ipv4_icmp(void **state)
{
	static const uint8_t echo[8] = {8, 0, 0xf7, 0xff, 0, 1, 0, 1};
	static const uint8_t unreach[8] = {3, 3};
	uint8_t pkt[128];
	(void)state;

	size_t n = ipv4(pkt, IPPROTO_ICMP, "10.0.0.1", "192.0.2.1", 0, 0, echo, sizeof(echo));
	struct nflog_packet p = one(AF_INET, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_ICMP);
	assert_int_equal(p.icmp_type, 8);
	assert_false(p.has_port);
	assert_addr(&p.dst, "192.0.2.1", 0);
	assert_addr(&p.src, "10.0.0.1", 0);
	/* One byte is enough for the type. */
	n = ipv4(pkt, IPPROTO_ICMP, "10.0.0.1", "192.0.2.1", 0, 0, unreach, 1);
	assert_int_equal(one(AF_INET, pkt, n).icmp_type, 3);
	/* Type 0 (echo reply) is a type, not "none". */
	static const uint8_t reply[8] = {0};
	n = ipv4(pkt, IPPROTO_ICMP, "10.0.0.1", "192.0.2.1", 0, 0, reply, sizeof(reply));
	assert_int_equal(one(AF_INET, pkt, n).icmp_type, 0);
}

static void test_ipv4_other_protocol(void **state)
{
	static const uint8_t gre[4] = {0, 0, 0x08, 0};
	uint8_t pkt[128];
	(void)state;

	size_t n = ipv4(pkt, IPPROTO_GRE, "10.0.0.1", "192.0.2.1", 0, 0, gre, sizeof(gre));
	struct nflog_packet p = one(AF_INET, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_GRE);
	assert_false(p.has_port);
	assert_int_equal(p.icmp_type, -1);
	assert_int_equal(addr_port(&p.dst), 0);
}

static void test_ipv4_fragments(void **state)
{
	uint8_t pkt[128];
	(void)state;

	/* First fragment (MF set, offset 0): the ports are there. */
	size_t n = ipv4(pkt, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0x2000, 0, udp9, sizeof(udp9));
	struct nflog_packet p = one(AF_INET, pkt, n);
	assert_true(p.has_port);
	assert_int_equal(addr_port(&p.dst), 9);
	/* A later fragment: its first bytes are data, not ports. */
	n = ipv4(pkt, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0x2000 | 185, 0, udp9, sizeof(udp9));
	p = one(AF_INET, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_UDP);
	assert_false(p.has_port);
	assert_int_equal(addr_port(&p.dst), 0);
	/* The offset's high bits count too (offset 0x1000 * 8). */
	n = ipv4(pkt, IPPROTO_ICMP, "10.0.0.1", "192.0.2.1", 0x1000, 0, udp9, sizeof(udp9));
	p = one(AF_INET, pkt, n);
	assert_int_equal(p.icmp_type, -1);
}

static void test_ipv4_truncated(void **state)
{
	uint8_t pkt[128];
	(void)state;

	size_t n = ipv4(pkt, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0, 0, udp9, sizeof(udp9));
	/* No transport header, or only part of the ports: the packet without a port. */
	struct nflog_packet p = one(AF_INET, pkt, 20);
	assert_int_equal(p.protocol, IPPROTO_UDP);
	assert_false(p.has_port);
	assert_addr(&p.dst, "192.0.2.1", 0);
	for (size_t cut = 21; cut < 24; cut++)
		assert_false(one(AF_INET, pkt, cut).has_port);
	assert_true(one(AF_INET, pkt, 24).has_port);
	/* Less than an IPv4 header: nothing. */
	assert_int_equal(none(AF_INET, pkt, 19), 0);
	assert_int_equal(none(AF_INET, pkt, 0), 0);
	assert_int_equal(n, 28);
	/* Options longer than what was copied: addresses, but no port. */
	n = ipv4(pkt, IPPROTO_TCP, "10.0.0.1", "192.0.2.1", 0, 10, tcp443, sizeof(tcp443));
	assert_int_equal(pkt[0], 0x4f); /* ihl 15: 60 bytes */
	p = one(AF_INET, pkt, 40);
	assert_int_equal(p.protocol, IPPROTO_TCP);
	assert_false(p.has_port);
	assert_true(one(AF_INET, pkt, n).has_port);
}

static void test_ipv4_malformed(void **state)
{
	uint8_t pkt[128];
	(void)state;

	size_t n = ipv4(pkt, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0, 0, udp9, sizeof(udp9));
	pkt[0] = 0x44; /* ihl 4: shorter than the fixed header */
	assert_int_equal(none(AF_INET, pkt, n), 0);
	pkt[0] = 0x65; /* version 6 in an IPv4 message */
	assert_int_equal(none(AF_INET, pkt, n), 0);
	pkt[0] = 0x45;
	assert_int_equal(none(AF_INET6, pkt, n), 0); /* an IPv4 packet in an IPv6 message */
	assert_int_equal(none(AF_UNSPEC, pkt, n), 0);
	assert_int_equal(none(7 /* AF_BRIDGE */, pkt, n), 0);
	assert_int_equal(none(AF_INET, pkt, n), 1);
}

/* ---- IPv6 ---- */

static void test_ipv6_udp_tcp_icmp(void **state)
{
	static const uint8_t echo[8] = {128, 0};
	uint8_t pkt[128];
	(void)state;

	size_t n = ipv6(pkt, IPPROTO_UDP, "fd00::2", "2001:db8::7", udp9, sizeof(udp9));
	struct nflog_packet p = one(AF_INET6, pkt, n);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.protocol, IPPROTO_UDP);
	assert_true(p.has_port);
	assert_int_equal(p.icmp_type, -1);
	assert_int_equal(addr_family(&p.dst), AF_INET6);
	assert_addr(&p.src, "fd00::2", 40000);
	assert_addr(&p.dst, "2001:db8::7", 9);

	n = ipv6(pkt, IPPROTO_TCP, "::1", "2001:db8::1:0:0:1", tcp443, sizeof(tcp443));
	p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_TCP);
	assert_addr(&p.dst, "2001:db8::1:0:0:1", 443);
	assert_addr(&p.src, "::1", 50000);

	n = ipv6(pkt, IPPROTO_ICMPV6, "fd00::2", "2001:db8::7", echo, sizeof(echo));
	p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_ICMPV6);
	assert_int_equal(p.icmp_type, 128);
	assert_false(p.has_port);
}

static void test_ipv6_extension_headers(void **state)
{
	uint8_t pkt[160], rest[120];
	size_t o = 0;
	(void)state;

	/* Hop-by-hop (8 bytes) -> destination options (16 bytes) -> routing
	 * (8 bytes) -> AH (payload length 4: (4 + 2) * 4 = 24 bytes) -> UDP. */
	memset(rest, 0, sizeof(rest));
	rest[o] = IPPROTO_DSTOPTS, rest[o + 1] = 0, o += 8;
	rest[o] = IPPROTO_ROUTING, rest[o + 1] = 1, o += 16;
	rest[o] = IPPROTO_AH, rest[o + 1] = 0, o += 8;
	rest[o] = IPPROTO_UDP, rest[o + 1] = 4, o += 24;
	memcpy(rest + o, udp9, sizeof(udp9));
	o += sizeof(udp9);
	size_t n = ipv6(pkt, IPPROTO_HOPOPTS, "fd00::2", "2001:db8::7", rest, o);
	struct nflog_packet p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_UDP);
	assert_true(p.has_port);
	assert_addr(&p.dst, "2001:db8::7", 9);
	assert_addr(&p.src, "fd00::2", 40000);

	/* Cut inside the UDP header: the protocol, no port. */
	p = one(AF_INET6, pkt, n - 6);
	assert_int_equal(p.protocol, IPPROTO_UDP);
	assert_false(p.has_port);
	/* Cut inside an extension header: still a packet, without a port. */
	for (size_t cut = 40; cut < n - 4; cut++) {
		p = one(AF_INET6, pkt, cut);
		assert_false(p.has_port);
		assert_addr(&p.dst, "2001:db8::7", 0);
	}

	/* Hop-by-hop -> ICMPv6. */
	memset(rest, 0, sizeof(rest));
	rest[0] = IPPROTO_ICMPV6;
	rest[8] = 135; /* neighbour solicitation */
	n = ipv6(pkt, IPPROTO_HOPOPTS, "fe80::1", "ff02::1:ff00:1", rest, 16);
	p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_ICMPV6);
	assert_int_equal(p.icmp_type, 135);

	/* No next header. */
	n = ipv6(pkt, IPPROTO_NONE, "fd00::2", "2001:db8::7", udp9, sizeof(udp9));
	p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_NONE);
	assert_false(p.has_port);
	assert_int_equal(p.icmp_type, -1);
}

static void test_ipv6_fragments(void **state)
{
	uint8_t pkt[128], rest[64];
	(void)state;

	/* Fragment header, offset 0, more fragments: the first, ports there. */
	memset(rest, 0, sizeof(rest));
	rest[0] = IPPROTO_UDP;
	rest[3] = 1; /* M flag */
	memcpy(rest + 8, udp9, sizeof(udp9));
	size_t n = ipv6(pkt, IPPROTO_FRAGMENT, "fd00::2", "2001:db8::7", rest, 16);
	struct nflog_packet p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_UDP);
	assert_true(p.has_port);
	assert_int_equal(addr_port(&p.dst), 9);

	/* Offset 1448 (181 * 8): what follows is data. */
	rest[2] = (uint8_t)((181 << 3) >> 8);
	rest[3] = (uint8_t)((181 << 3) | 1);
	n = ipv6(pkt, IPPROTO_FRAGMENT, "fd00::2", "2001:db8::7", rest, 16);
	p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_UDP);
	assert_false(p.has_port);
	assert_int_equal(addr_port(&p.dst), 0);
	assert_int_equal(addr_port(&p.src), 0);

	/* The smallest offset (8 bytes) and an ICMPv6 later fragment. */
	rest[0] = IPPROTO_ICMPV6;
	rest[2] = 0;
	rest[3] = 0x08;
	n = ipv6(pkt, IPPROTO_FRAGMENT, "fd00::2", "2001:db8::7", rest, 16);
	p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_ICMPV6);
	assert_int_equal(p.icmp_type, -1);

	/* Hop-by-hop, then a later fragment: the offset is still seen. */
	uint8_t chain[32] = {IPPROTO_FRAGMENT, 0};
	chain[8] = IPPROTO_TCP;
	chain[10] = 0x01; /* offset 32 * 8 */
	memcpy(chain + 16, tcp443, 16);
	n = ipv6(pkt, IPPROTO_HOPOPTS, "fd00::2", "2001:db8::7", chain, sizeof(chain));
	p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_TCP);
	assert_false(p.has_port);

	/* A truncated fragment header: no port. */
	n = ipv6(pkt, IPPROTO_FRAGMENT, "fd00::2", "2001:db8::7", rest, 7);
	p = one(AF_INET6, pkt, n);
	assert_false(p.has_port);
}

/* A chain longer than the parser follows ends in an extension header: no
 * transport header is read past it. */
static void test_ipv6_long_chain(void **state)
{
	uint8_t pkt[256], rest[200];
	(void)state;

	memset(rest, 0, sizeof(rest));
	for (int i = 0; i < 12; i++)
		rest[8 * i] = i < 11 ? IPPROTO_DSTOPTS : IPPROTO_UDP;
	memcpy(rest + 96, udp9, sizeof(udp9));
	size_t n = ipv6(pkt, IPPROTO_DSTOPTS, "fd00::2", "2001:db8::7", rest, 104);
	struct nflog_packet p = one(AF_INET6, pkt, n);
	assert_int_equal(p.protocol, IPPROTO_DSTOPTS);
	assert_false(p.has_port);
	assert_int_equal(p.icmp_type, -1);
}

static void test_ipv6_truncated_and_malformed(void **state)
{
	uint8_t pkt[128];
	(void)state;

	size_t n = ipv6(pkt, IPPROTO_UDP, "fd00::2", "2001:db8::7", udp9, sizeof(udp9));
	assert_int_equal(none(AF_INET6, pkt, 39), 0);
	struct nflog_packet p = one(AF_INET6, pkt, 40);
	assert_int_equal(p.protocol, IPPROTO_UDP);
	assert_false(p.has_port);
	assert_false(one(AF_INET6, pkt, 43).has_port);
	assert_true(one(AF_INET6, pkt, 44).has_port);
	pkt[0] = 0x40; /* version 4 in an IPv6 message */
	assert_int_equal(none(AF_INET6, pkt, n), 0);
	pkt[0] = 0x60;
	assert_int_equal(none(AF_INET, pkt, n), 0); /* 40 bytes, but version 6 */
}

/* ---- the netlink framing ---- */

static void test_several_messages(void **state)
{
	struct msgs m = {.len = 0};
	struct seen s;
	uint8_t a[64], b[64], c[64];
	(void)state;

	size_t na = ipv4(a, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0, 0, udp9, sizeof(udp9));
	size_t nb = ipv6(b, IPPROTO_TCP, "fd00::2", "2001:db8::7", tcp443, sizeof(tcp443));
	static const uint8_t echo[8] = {8};
	size_t nc = ipv4(c, IPPROTO_ICMP, "10.0.0.1", "192.0.2.3", 0, 0, echo, 3); /* 23: odd */
	packet_msg(&m, AF_INET, a, na);
	packet_msg(&m, AF_INET6, b, nb);
	packet_msg(&m, AF_INET, c, nc);
	packet_msg(&m, AF_INET, a, na);
	assert_int_equal(parse(m.b, m.len, &s), 4);
	assert_int_equal(s.p[0].protocol, IPPROTO_UDP);
	assert_addr(&s.p[0].dst, "192.0.2.1", 9);
	assert_int_equal(s.p[1].family, AF_INET6);
	assert_addr(&s.p[1].dst, "2001:db8::7", 443);
	assert_int_equal(s.p[2].icmp_type, 8);
	assert_addr(&s.p[2].dst, "192.0.2.3", 0);
	assert_int_equal(s.p[3].protocol, IPPROTO_UDP);

	/* Cut anywhere: the whole messages before the cut are read, and
	 * nothing after it. */
	size_t ends[4], e = 0, off = 0;
	while (off < m.len) {
		uint32_t l;
		memcpy(&l, m.b + off, sizeof(l));
		off += NLMSG_ALIGN(l);
		ends[e++] = off;
	}
	assert_int_equal(e, 4);
	for (size_t cut = 0; cut <= m.len; cut++) {
		size_t want = 0;
		for (size_t i = 0; i < 4; i++)
			want += ends[i] <= cut;
		assert_int_equal(parse(m.b, cut, &s), want);
	}
}

static void test_unaligned_buffer_and_unpadded_last_message(void **state)
{
	static uint8_t shifted[4096 + 3];
	struct msgs m = {.len = 0};
	struct seen s;
	uint8_t a[64];
	(void)state;

	size_t na = ipv4(a, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0, 0, udp9, 5); /* 25 bytes */
	packet_msg(&m, AF_INET, a, na);
	/* The second message ends without its padding, and nlmsg_len says so. */
	msg_begin(&m, PACKET_TYPE, AF_INET);
	msg_attr(&m, NFULA_PAYLOAD, a, na);
	msg_end(&m, false);
	assert_int_equal(m.len % 4, 1);
	/* The parser copies every field out: any alignment works. */
	for (size_t shift = 0; shift < 4; shift++) {
		memcpy(shifted + shift, m.b, m.len);
		assert_int_equal(parse(shifted + shift, m.len, &s), 2);
		assert_true(s.p[1].has_port);
		assert_addr(&s.p[1].dst, "192.0.2.1", 9);
	}
}

static void test_non_packet_messages_skipped(void **state)
{
	struct msgs m = {.len = 0};
	struct seen s;
	uint8_t a[64];
	(void)state;

	size_t na = ipv4(a, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0, 0, udp9, sizeof(udp9));
	/* A config message carrying a payload attribute is not a packet. */
	msg_begin(&m, (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG, AF_INET);
	msg_attr(&m, NFULA_PAYLOAD, a, na);
	msg_end(&m, true);
	/* Another subsystem's message type 0 (queue packets). */
	msg_begin(&m, (NFNL_SUBSYS_QUEUE << 8) | NFULNL_MSG_PACKET, AF_INET);
	msg_attr(&m, NFULA_PAYLOAD, a, na);
	msg_end(&m, true);
	/* An ack, and the end of a batch. */
	struct nlmsghdr err = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr)),
	                       .nlmsg_type = NLMSG_ERROR};
	struct nlmsgerr body = {.error = 0};
	pad(&m, 4);
	put(&m, &err, sizeof(err));
	put(&m, &body, sizeof(body));
	packet_msg(&m, AF_INET, a, na);
	struct nlmsghdr done = {.nlmsg_len = NLMSG_LENGTH(4), .nlmsg_type = NLMSG_DONE};
	uint32_t zero = 0;
	put(&m, &done, sizeof(done));
	put(&m, &zero, sizeof(zero));
	/* A packet message without a payload attribute. */
	msg_begin(&m, PACKET_TYPE, AF_INET);
	msg_attr(&m, NFULA_PREFIX, "x", 2);
	msg_end(&m, true);
	/* One with only its nfgenmsg, and one shorter than an nfgenmsg. */
	msg_begin(&m, PACKET_TYPE, AF_INET);
	msg_end(&m, true);
	struct nlmsghdr bare = {.nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = PACKET_TYPE};
	put(&m, &bare, sizeof(bare));
	packet_msg(&m, AF_INET6, a, na); /* an IPv4 packet in an IPv6 message */
	packet_msg(&m, AF_INET, a, na);
	assert_int_equal(parse(m.b, m.len, &s), 2);
	assert_addr(&s.p[0].dst, "192.0.2.1", 9);
	assert_addr(&s.p[1].dst, "192.0.2.1", 9);
}

/* A payload attribute flagged nested or in network byte order is still the
 * payload (the flags are masked off). */
static void test_attribute_flags(void **state)
{
	struct msgs m = {.len = 0};
	struct seen s;
	uint8_t a[64];
	(void)state;

	size_t na = ipv4(a, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0, 0, udp9, sizeof(udp9));
	msg_begin(&m, PACKET_TYPE, AF_INET);
	msg_attr(&m, NFULA_PAYLOAD | NLA_F_NET_BYTEORDER, a, na);
	msg_end(&m, true);
	assert_int_equal(parse(m.b, m.len, &s), 1);
	assert_int_equal(addr_port(&s.p[0].dst), 9);
}

static void test_bad_attribute_lengths(void **state)
{
	struct msgs m = {.len = 0};
	struct seen s;
	uint8_t a[64];
	(void)state;

	size_t na = ipv4(a, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0, 0, udp9, sizeof(udp9));
	/* nla_len 0 and 3 (shorter than its header): the message is skipped,
	 * and the next one read. */
	static const uint16_t bad[] = {0, 1, 3};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		m.len = 0;
		msg_begin(&m, PACKET_TYPE, AF_INET);
		msg_attr(&m, NFULA_PREFIX, "abc", 4);
		size_t at = m.len;
		msg_attr(&m, NFULA_PAYLOAD, a, na);
		memcpy(m.b + at, &bad[i], sizeof(bad[i]));
		msg_end(&m, true);
		packet_msg(&m, AF_INET, a, na);
		assert_int_equal(parse(m.b, m.len, &s), 1);
		assert_addr(&s.p[0].dst, "192.0.2.1", 9);
	}
	/* An attribute longer than its message: the message is skipped. */
	m.len = 0;
	msg_begin(&m, PACKET_TYPE, AF_INET);
	size_t at = m.len;
	msg_attr(&m, NFULA_PAYLOAD, a, na);
	uint16_t too_long = (uint16_t)(NLA_HDRLEN + na + 4);
	memcpy(m.b + at, &too_long, sizeof(too_long));
	msg_end(&m, true);
	packet_msg(&m, AF_INET, a, na);
	assert_int_equal(parse(m.b, m.len, &s), 1);
	/* A prefix attribute longer than the message hides the payload. */
	m.len = 0;
	msg_begin(&m, PACKET_TYPE, AF_INET);
	at = m.len;
	msg_attr(&m, NFULA_PREFIX, "abcd", 4);
	msg_attr(&m, NFULA_PAYLOAD, a, na);
	msg_end(&m, true);
	too_long = 0xfff0;
	memcpy(m.b + at, &too_long, sizeof(too_long));
	assert_int_equal(parse(m.b, m.len, &s), 0);
	/* An attribute header cut by the end of the message. */
	m.len = 0;
	msg_begin(&m, PACKET_TYPE, AF_INET);
	put(&m, "\x08\x00", 2);
	msg_end(&m, false);
	packet_msg(&m, AF_INET, a, na);
	assert_int_equal(parse(m.b, m.len, &s), 1);
}

static void test_bad_message_lengths(void **state)
{
	struct msgs m = {.len = 0};
	struct seen s;
	uint8_t a[64];
	(void)state;

	size_t na = ipv4(a, IPPROTO_UDP, "10.0.0.1", "192.0.2.1", 0, 0, udp9, sizeof(udp9));
	packet_msg(&m, AF_INET, a, na);
	size_t second = m.len;
	packet_msg(&m, AF_INET, a, na);
	assert_int_equal(parse(m.b, m.len, &s), 2);
	/* nlmsg_len shorter than a header, or past the buffer: the walk stops
	 * there (nothing after it can be framed), what came before counts. */
	static const uint32_t bad[] = {0, 1, 15, 0xffffffff, 4097};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint32_t saved;
		memcpy(&saved, m.b + second, 4);
		memcpy(m.b + second, &bad[i], 4);
		assert_int_equal(parse(m.b, m.len, &s), 1);
		memcpy(m.b, &bad[i], 4);
		assert_int_equal(parse(m.b, m.len, &s), 0);
		memcpy(m.b, &saved, 4);
		memcpy(m.b + second, &saved, 4);
	}
	/* One byte past the buffer. */
	uint32_t over = (uint32_t)(m.len - second + 1);
	memcpy(m.b + second, &over, 4);
	assert_int_equal(parse(m.b, m.len, &s), 1);
	/* Less than a header left, and an empty buffer. */
	assert_int_equal(parse(m.b, NLMSG_HDRLEN - 1, &s), 0);
	assert_int_equal(parse(m.b, 0, &s), 0);
	assert_int_equal(parse(NULL, 0, &s), 0);
}

static void test_protocol_names(void **state)
{
	char buf[32];
	(void)state;

	assert_string_equal(nflog_protocol_name(IPPROTO_TCP, buf, sizeof(buf)), "tcp");
	assert_string_equal(nflog_protocol_name(IPPROTO_UDP, buf, sizeof(buf)), "udp");
	assert_string_equal(nflog_protocol_name(IPPROTO_UDPLITE, buf, sizeof(buf)), "udplite");
	assert_string_equal(nflog_protocol_name(IPPROTO_SCTP, buf, sizeof(buf)), "sctp");
	assert_string_equal(nflog_protocol_name(IPPROTO_ICMP, buf, sizeof(buf)), "icmp");
	assert_string_equal(nflog_protocol_name(IPPROTO_ICMPV6, buf, sizeof(buf)), "icmpv6");
	const char *r = nflog_protocol_name(IPPROTO_GRE, buf, sizeof(buf));
	assert_ptr_equal(r, buf);
	assert_string_equal(r, "IP protocol 47");
	assert_string_equal(nflog_protocol_name(255, buf, sizeof(buf)), "IP protocol 255");
	assert_string_equal(nflog_protocol_name(0, buf, sizeof(buf)), "IP protocol 0");
	/* A short buffer is cut, and terminated. */
	assert_string_equal(nflog_protocol_name(47, buf, 6), "IP pr");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ipv4_udp),
	        cmocka_unit_test(test_ipv4_tcp_with_options),
	        cmocka_unit_test(test_ipv4_other_ported_protocols),
	        cmocka_unit_test(test_ipv4_icmp),
	        cmocka_unit_test(test_ipv4_other_protocol),
	        cmocka_unit_test(test_ipv4_fragments),
	        cmocka_unit_test(test_ipv4_truncated),
	        cmocka_unit_test(test_ipv4_malformed),
	        cmocka_unit_test(test_ipv6_udp_tcp_icmp),
	        cmocka_unit_test(test_ipv6_extension_headers),
	        cmocka_unit_test(test_ipv6_fragments),
	        cmocka_unit_test(test_ipv6_long_chain),
	        cmocka_unit_test(test_ipv6_truncated_and_malformed),
	        cmocka_unit_test(test_several_messages),
	        cmocka_unit_test(test_unaligned_buffer_and_unpadded_last_message),
	        cmocka_unit_test(test_non_packet_messages_skipped),
	        cmocka_unit_test(test_attribute_flags),
	        cmocka_unit_test(test_bad_attribute_lengths),
	        cmocka_unit_test(test_bad_message_lengths),
	        cmocka_unit_test(test_protocol_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
