/* DNS wire format: parsing queries and responses, building replies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "dns/wire.h"

/* A message assembled byte by byte. */
struct msg {
	uint8_t b[DNS_MSG_MAX];
	size_t n;
};

static void put8(struct msg *m, uint8_t v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = v;
}

static void put16(struct msg *m, uint16_t v)
{
	put8(m, (uint8_t)(v >> 8));
	put8(m, (uint8_t)v);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

static void put_bytes(struct msg *m, const void *p, size_t n)
{
	assert_true(n <= sizeof(m->b) - m->n);
	if (n == 0)
		return; /* p may be NULL */
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

#define F_QR 0x8000
#define F_TC 0x0200
#define F_RD 0x0100
#define F_RA 0x0080

static void header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
                   uint16_t ns, uint16_t ar)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

/* One raw label: any bytes. */
static void label(struct msg *m, const void *p, size_t n)
{
	put8(m, (uint8_t)n);
	put_bytes(m, p, n);
}

/* The labels of a dotted name, without the root's zero ("" writes nothing). */
static void labels(struct msg *m, const char *dotted)
{
	while (*dotted) {
		const char *dot = strchr(dotted, '.');
		size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);
		label(m, dotted, n);
		dotted += n + (dot ? 1 : 0);
	}
}

/* A whole uncompressed name. */
static void name(struct msg *m, const char *dotted)
{
	labels(m, dotted);
	put8(m, 0);
}

static void pointer(struct msg *m, uint16_t off)
{
	put16(m, (uint16_t)(0xc000 | off));
}

static void question(struct msg *m, const char *dotted, uint16_t type, uint16_t rclass)
{
	name(m, dotted);
	put16(m, type);
	put16(m, rclass);
}

/* TYPE, CLASS, TTL, RDLENGTH and RDATA after an owner name. */
static void rr_tail(struct msg *m, uint16_t type, uint16_t rclass, uint32_t ttl, const void *rdata,
                    uint16_t rdlength)
{
	put16(m, type);
	put16(m, rclass);
	put32(m, ttl);
	put16(m, rdlength);
	put_bytes(m, rdata, rdlength);
}

static void opt(struct msg *m, uint16_t udp_size, uint32_t ttl, const void *rdata,
                uint16_t rdlength)
{
	put8(m, 0);
	rr_tail(m, DNS_TYPE_OPT, udp_size, ttl, rdata, rdlength);
}

/* A query for `dotted` of `type`, class IN, RD set. */
static void simple_query(struct msg *m, uint16_t id, const char *dotted, uint16_t type)
{
	header(m, id, F_RD, 1, 0, 0, 0);
	question(m, dotted, type, DNS_CLASS_IN);
}

static struct dns_query query_ok(const struct msg *m)
{
	struct dns_query q;
	struct diag d = {""};
	int r = dns_parse_query(m->b, m->n, &q, &d);
	if (r != 0)
		fail_msg("query refused (%d): %s", r, d.msg);
	return q;
}

static void query_fails(const struct msg *m, int want, const char *msg_part)
{
	struct dns_query q;
	struct diag d = {""};
	int r = dns_parse_query(m->b, m->n, &q, &d);
	if (r != want)
		fail_msg("query gave %d, not %d: %s", r, want, d.msg);
	if (msg_part && !strstr(d.msg, msg_part))
		fail_msg("message lacks '%s': %s", msg_part, d.msg);
}

static struct dns_response resp_storage;

static struct dns_response *response_ok(const uint8_t *b, size_t n)
{
	struct diag d = {""};
	int r = dns_parse_response(b, n, &resp_storage, &d);
	if (r != 0)
		fail_msg("response refused (%d): %s", r, d.msg);
	return &resp_storage;
}

static void response_fails(const struct msg *m, int want, const char *msg_part)
{
	struct diag d = {""};
	int r = dns_parse_response(m->b, m->n, &resp_storage, &d);
	if (r != want)
		fail_msg("response gave %d, not %d: %s", r, want, d.msg);
	if (msg_part && !strstr(d.msg, msg_part))
		fail_msg("message lacks '%s': %s", msg_part, d.msg);
}

static struct msg m; /* large; one per test run is enough */

static void test_query_basic(void **state)
{
	(void)state;
	simple_query(&m, 0x1234, "WWW.Example.COM", DNS_TYPE_A);
	struct dns_query q = query_ok(&m);
	assert_int_equal(q.header.id, 0x1234);
	assert_true(q.header.rd);
	assert_false(q.header.qr);
	assert_int_equal(q.header.opcode, DNS_OPCODE_QUERY);
	assert_int_equal(q.header.qdcount, 1);
	assert_true(q.question.name_ok);
	assert_string_equal(q.question.name, "www.example.com");
	assert_int_equal(q.question.name_len, 15);
	assert_int_equal(q.question.qtype, DNS_TYPE_A);
	assert_int_equal(q.question.qclass, DNS_CLASS_IN);
	assert_false(q.edns.present);
	/* The wire form keeps the case it came in, for the echo. */
	assert_int_equal(q.question.wire_len, 17);
	assert_memory_equal(q.question.wire, "\3WWW\7Example\3COM\0", 17);

	simple_query(&m, 7, "example.com", DNS_TYPE_HTTPS);
	m.b[2] = 0; /* RD clear */
	q = query_ok(&m);
	assert_false(q.header.rd);
	assert_int_equal(q.question.qtype, DNS_TYPE_HTTPS);
}

static void test_query_root_refused(void **state)
{
	struct dns_query q;
	(void)state;
	simple_query(&m, 1, "", DNS_TYPE_NS);
	query_fails(&m, DNS_ERR_NAME, "root");
	/* Everything but the name is there, so a reply can echo the question. */
	assert_int_equal(dns_parse_query(m.b, m.n, &q, NULL), DNS_ERR_NAME);
	assert_false(q.question.name_ok);
	assert_string_equal(q.question.name, "");
	assert_int_equal(q.question.wire_len, 1);
	assert_int_equal(q.question.qtype, DNS_TYPE_NS);
	assert_int_equal(q.header.id, 1);
}

static void test_query_compression(void **state)
{
	(void)state;
	/* A question comes first, so its only backward targets are the header. */
	header(&m, 1, 0, 1, 0, 0, 0);
	labels(&m, "www");
	pointer(&m, 4);
	put32(&m, 0x00010001);
	query_fails(&m, DNS_ERR_MALFORMED, "points into the header");

	/* An additional record's owner compressed against the question. */
	header(&m, 1, 0, 1, 0, 0, 1);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	labels(&m, "www");
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_TXT, DNS_CLASS_IN, 0, "\1x", 2);
	struct dns_query q = query_ok(&m);
	assert_string_equal(q.question.name, "example.com");

	/* A pointer into the middle of the question ("com"). */
	header(&m, 1, 0, 1, 0, 0, 1);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	pointer(&m, 12 + 8);
	rr_tail(&m, DNS_TYPE_TXT, DNS_CLASS_IN, 0, "\1x", 2);
	query_ok(&m);
}

static void test_pointer_loops(void **state)
{
	(void)state;
	/* A question that is a pointer to itself. */
	header(&m, 1, 0, 1, 0, 0, 0);
	pointer(&m, 12);
	put32(&m, 0x00010001);
	query_fails(&m, DNS_ERR_MALFORMED, "a loop or a forward pointer");

	/* A record owner pointing to itself, after a valid question. */
	header(&m, 1, 0, 1, 0, 0, 1);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	size_t at = m.n;
	pointer(&m, (uint16_t)at);
	rr_tail(&m, DNS_TYPE_TXT, DNS_CLASS_IN, 0, "\1x", 2);
	query_fails(&m, DNS_ERR_MALFORMED, "a loop or a forward pointer");

	/* A label then a pointer back to that label: a loop through backward
	 * pointers only. */
	header(&m, 1, 0, 1, 0, 0, 1);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	at = m.n;
	labels(&m, "a");
	pointer(&m, (uint16_t)at);
	rr_tail(&m, DNS_TYPE_TXT, DNS_CLASS_IN, 0, "\1x", 2);
	query_fails(&m, DNS_ERR_MALFORMED, "a loop or a forward pointer");

	/* Two pointers to each other: two owners, each pointing at the other. */
	header(&m, 1, 0, 1, 0, 0, 2);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	size_t first = m.n;
	pointer(&m, (uint16_t)(first + 12));
	rr_tail(&m, DNS_TYPE_NULL, DNS_CLASS_IN, 0, NULL, 0);
	pointer(&m, (uint16_t)first);
	rr_tail(&m, DNS_TYPE_NULL, DNS_CLASS_IN, 0, NULL, 0);
	query_fails(&m, DNS_ERR_MALFORMED, "a loop or a forward pointer");
}

/* A chain of owners, each a pointer to the one before it: record i follows i
 * pointers.  Valid up to the hop cap, refused past it. */
static void pointer_chain(unsigned n)
{
	header(&m, 1, 0, 1, 0, 0, (uint16_t)n);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	size_t prev = 12;
	for (unsigned i = 0; i < n; i++) {
		size_t at = m.n;
		pointer(&m, (uint16_t)prev);
		rr_tail(&m, DNS_TYPE_NULL, DNS_CLASS_IN, 0, NULL, 0);
		prev = at;
	}
}

static void test_pointer_hop_cap(void **state)
{
	(void)state;
	pointer_chain(DNS_POINTER_HOPS_MAX);
	query_ok(&m);
	pointer_chain(DNS_POINTER_HOPS_MAX + 1);
	query_fails(&m, DNS_ERR_MALFORMED, "more than 64 compression pointers");
}

static void test_forward_pointer(void **state)
{
	(void)state;
	header(&m, 1, 0, 1, 0, 0, 0);
	pointer(&m, 18);
	put32(&m, 0x00010001);
	name(&m, "example.com");
	query_fails(&m, DNS_ERR_MALFORMED, "forward pointer");

	/* In a response: an answer owner pointing past itself. */
	header(&m, 1, F_QR, 1, 1, 0, 0);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	pointer(&m, (uint16_t)(m.n + 16));
	rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, 0, "\1\2\3\4", 4);
	response_fails(&m, DNS_ERR_MALFORMED, "forward pointer");

	/* Past the end of the message. */
	header(&m, 1, F_QR, 1, 1, 0, 0);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	pointer(&m, 0x3fff);
	rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, 0, "\1\2\3\4", 4);
	response_fails(&m, DNS_ERR_MALFORMED, NULL);
}

static void test_label_length(void **state)
{
	char l[64];
	(void)state;
	memset(l, 'a', sizeof(l));
	header(&m, 1, 0, 1, 0, 0, 0);
	label(&m, l, 63);
	name(&m, "com");
	put32(&m, 0x00010001);
	struct dns_query q = query_ok(&m);
	assert_int_equal(q.question.name_len, 63 + 4);

	header(&m, 1, 0, 1, 0, 0, 0);
	label(&m, l, 64);
	name(&m, "com");
	put32(&m, 0x00010001);
	query_fails(&m, DNS_ERR_MALFORMED, "at most 63 bytes");
}

static void test_name_length(void **state)
{
	char l[63];
	(void)state;
	memset(l, 'a', sizeof(l));
	/* 3 * (1 + 63) + (1 + 61) + 1 = 255 wire bytes: a 253-byte name. */
	header(&m, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		label(&m, l, 63);
	label(&m, l, 61);
	put8(&m, 0);
	put32(&m, 0x00010001);
	struct dns_query q = query_ok(&m);
	assert_int_equal(q.question.wire_len, 255);
	assert_int_equal(q.question.name_len, 253);

	/* One byte more. */
	header(&m, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		label(&m, l, 63);
	label(&m, l, 62);
	put8(&m, 0);
	put32(&m, 0x00010001);
	query_fails(&m, DNS_ERR_MALFORMED, "longer than 255 bytes");

	/* Too long through compression: a 193-byte suffix under 63 more bytes. */
	header(&m, 1, 0, 1, 0, 0, 1);
	for (int i = 0; i < 3; i++)
		label(&m, l, 63);
	put8(&m, 0);
	put32(&m, 0x00010001);
	label(&m, l, 63);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_NULL, DNS_CLASS_IN, 0, NULL, 0);
	query_fails(&m, DNS_ERR_MALFORMED, "longer than 255 bytes");
}

static void test_truncated(void **state)
{
	struct dns_query q;
	(void)state;
	simple_query(&m, 0xabcd, "example.com", DNS_TYPE_A);
	size_t full = m.n;
	for (size_t n = 0; n < DNS_HEADER_SIZE; n++) {
		m.n = n;
		query_fails(&m, DNS_ERR_MALFORMED, "shorter than its 12-byte header");
	}
	for (size_t n = DNS_HEADER_SIZE; n < full; n++) {
		m.n = n;
		query_fails(&m, DNS_ERR_MALFORMED, NULL);
		/* The header is still there for a FORMERR. */
		dns_parse_query(m.b, m.n, &q, NULL);
		assert_int_equal(q.header.id, 0xabcd);
		assert_int_equal(q.question.wire_len, 0);
	}
	m.n = full;
	query_ok(&m);
}

static void test_qdcount(void **state)
{
	struct dns_query q;
	(void)state;
	header(&m, 0x4242, F_RD, 0, 0, 0, 0);
	query_fails(&m, DNS_ERR_QDCOUNT, "0 questions");
	assert_int_equal(dns_parse_query(m.b, m.n, &q, NULL), DNS_ERR_QDCOUNT);
	assert_int_equal(q.header.id, 0x4242);

	header(&m, 1, F_RD, 2, 0, 0, 0);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	question(&m, "example.net", DNS_TYPE_A, DNS_CLASS_IN);
	query_fails(&m, DNS_ERR_QDCOUNT, "2 questions");
}

static void test_counts_mismatch(void **state)
{
	(void)state;
	/* ANCOUNT says 5, one record follows. */
	header(&m, 1, F_QR, 1, 5, 0, 0);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, 60, "\1\2\3\4", 4);
	response_fails(&m, DNS_ERR_MALFORMED, "runs past the end");

	/* A query declaring an additional record it does not hold. */
	simple_query(&m, 1, "example.com", DNS_TYPE_A);
	m.b[11] = 1;
	query_fails(&m, DNS_ERR_MALFORMED, "runs past the end");

	/* A record the counts do not declare: trailing bytes are refused. */
	simple_query(&m, 1, "example.com", DNS_TYPE_A);
	opt(&m, 1232, 0, NULL, 0);
	query_fails(&m, DNS_ERR_MALFORMED, "11 bytes follow the last record");
	simple_query(&m, 1, "example.com", DNS_TYPE_A);
	put8(&m, 0);
	query_fails(&m, DNS_ERR_MALFORMED, "1 bytes follow");

	/* RDLENGTH past the end. */
	header(&m, 1, F_QR, 1, 1, 0, 0);
	question(&m, "example.com", DNS_TYPE_TXT, DNS_CLASS_IN);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_TXT, DNS_CLASS_IN, 60, "\3abc", 4);
	m.b[m.n - 5] = 5;
	response_fails(&m, DNS_ERR_MALFORMED, "RDLENGTH 5 runs past");
}

static void expect_label_refused(const void *bad, size_t n, const char *msg_part)
{
	struct dns_query q;
	uint8_t reply[DNS_UDP_CLASSIC_MAX];
	header(&m, 9, F_RD, 1, 0, 0, 0);
	label(&m, bad, n);
	name(&m, "example.com");
	put32(&m, 0x00010001);
	query_fails(&m, DNS_ERR_NAME, msg_part);
	assert_int_equal(dns_parse_query(m.b, m.n, &q, NULL), DNS_ERR_NAME);
	assert_false(q.question.name_ok);
	assert_int_equal(q.question.name_len, 0);
	/* The caller can still answer, echoing the question. */
	int len = dns_build_reply(&q, DNS_RCODE_REFUSED, reply, sizeof(reply));
	assert_true(len > 0);
	struct dns_response *r = response_ok(reply, (size_t)len);
	assert_int_equal(r->header.rcode, DNS_RCODE_REFUSED);
	assert_false(r->question.name_ok);
	assert_true(dns_question_matches(&q.question, &r->question));
}

static void test_label_bytes_refused(void **state)
{
	(void)state;
	/* "a.b" as one label would alias the two labels a and b. */
	expect_label_refused("a.b", 3, "holds a '.'");
	expect_label_refused("a\0b", 3, "holds a NUL byte");
	expect_label_refused("b\xc3\xbc"
	                     "cher",
	                     6, "holds a non-ASCII byte");
	expect_label_refused("a b", 3, "not allowed in a host name");
	expect_label_refused("*", 1, "not allowed in a host name");
	/* Names that read as an address are not host names either. */
	header(&m, 1, 0, 1, 0, 0, 0);
	question(&m, "127.0.0.1", DNS_TYPE_A, DNS_CLASS_IN);
	query_fails(&m, DNS_ERR_NAME, "numeric IPv4 address");
}

static void test_punycode(void **state)
{
	(void)state;
	simple_query(&m, 1, "XN--BCHER-KVA.example", DNS_TYPE_AAAA);
	struct dns_query q = query_ok(&m);
	assert_string_equal(q.question.name, "xn--bcher-kva.example");
	simple_query(&m, 1, "xn--a.example", DNS_TYPE_AAAA);
	query_fails(&m, DNS_ERR_NAME, "not valid punycode");
}

static void test_edns(void **state)
{
	static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	(void)state;
	header(&m, 1, F_RD, 1, 0, 0, 1);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	opt(&m, 1232, 0x00008000, cookie, sizeof(cookie));
	struct dns_query q = query_ok(&m);
	assert_true(q.edns.present);
	assert_int_equal(q.edns.udp_size, 1232);
	assert_int_equal(q.edns.version, 0);
	assert_true(q.edns.dnssec_ok);

	header(&m, 1, F_RD, 1, 0, 0, 1);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	opt(&m, 4096, 0x01000000, NULL, 0);
	q = query_ok(&m);
	assert_int_equal(q.edns.udp_size, 4096);
	assert_int_equal(q.edns.ext_rcode, 1);
	assert_false(q.edns.dnssec_ok);

	/* An option longer than the record holding it. */
	header(&m, 1, F_RD, 1, 0, 0, 1);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	opt(&m, 1232, 0, cookie, sizeof(cookie) - 1);
	query_fails(&m, DNS_ERR_MALFORMED, "runs past its OPT record");

	header(&m, 1, F_RD, 1, 0, 0, 2);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	opt(&m, 1232, 0, NULL, 0);
	opt(&m, 1232, 0, NULL, 0);
	query_fails(&m, DNS_ERR_MALFORMED, "more than one OPT");

	header(&m, 1, F_RD, 1, 0, 0, 1);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_OPT, 1232, 0, NULL, 0);
	query_fails(&m, DNS_ERR_MALFORMED, "not owned by the root");

	header(&m, 1, F_RD, 1, 1, 0, 0);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	opt(&m, 1232, 0, NULL, 0);
	query_fails(&m, DNS_ERR_MALFORMED, "OPT record in the answer section");
}

static void test_direction(void **state)
{
	(void)state;
	header(&m, 1, F_QR, 1, 0, 0, 0);
	question(&m, "example.com", DNS_TYPE_A, DNS_CLASS_IN);
	query_fails(&m, DNS_ERR_QR, "expected a DNS query, got a response");
	simple_query(&m, 1, "example.com", DNS_TYPE_A);
	response_fails(&m, DNS_ERR_QR, "expected a DNS response, got a query");
}

/* A response to "www.example.com" A with the answers the caller appends. */
static void response_start(uint16_t id, uint16_t flags, uint16_t ancount, uint16_t qtype)
{
	header(&m, id, (uint16_t)(F_QR | F_RA | flags), 1, ancount, 0, 0);
	question(&m, "www.example.com", qtype, DNS_CLASS_IN);
}

static void test_response_addresses(void **state)
{
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	(void)state;
	response_start(0x5555, F_RD, 2, DNS_TYPE_A);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, 300, "\xc0\x00\x02\x01", 4);
	size_t second = m.n;
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_AAAA, DNS_CLASS_IN, 60, v6, 16);
	struct dns_response *r = response_ok(m.b, m.n);
	assert_int_equal(r->header.id, 0x5555);
	assert_true(r->header.qr);
	assert_false(r->header.tc);
	assert_int_equal(r->header.rcode, DNS_RCODE_NOERROR);
	assert_string_equal(r->question.name, "www.example.com");
	assert_int_equal(r->question.qtype, DNS_TYPE_A);
	assert_int_equal(r->n_answers, 2);
	assert_int_equal(r->answers_dropped, 0);
	assert_true(r->answers[0].name_ok);
	assert_string_equal(r->answers[0].name, "www.example.com");
	assert_int_equal(r->answers[0].type, DNS_TYPE_A);
	assert_int_equal(r->answers[0].rclass, DNS_CLASS_IN);
	assert_int_equal(r->answers[0].ttl, 300);
	assert_int_equal(r->answers[0].rdlength, 4);
	assert_memory_equal(r->answers[0].addr, "\xc0\x00\x02\x01", 4);
	assert_memory_equal(m.b + r->answers[0].rdata_off, "\xc0\x00\x02\x01", 4);
	assert_int_equal(r->answers[1].type, DNS_TYPE_AAAA);
	assert_int_equal(r->answers[1].rdata_off, second + 12);
	assert_memory_equal(r->answers[1].addr, v6, 16);

	/* TC and RCODE are reported. */
	response_start(1, F_TC | 3, 0, DNS_TYPE_A);
	r = response_ok(m.b, m.n);
	assert_true(r->header.tc);
	assert_int_equal(r->header.rcode, DNS_RCODE_NXDOMAIN);
	assert_int_equal(r->n_answers, 0);
}

static void test_response_cname_chain(void **state)
{
	(void)state;
	/* www.example.com CNAME edge.cdn.example.NET; that CNAME
	 * b.cdn.example.net (compressed against the first target); A. */
	response_start(2, 0, 3, DNS_TYPE_A);
	pointer(&m, 12);
	size_t t1 = m.n + 10;
	rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 30, "\4edge\3cdn\7example\3NET\0", 22);
	pointer(&m, (uint16_t)t1);
	rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 30, "\1b\xc0\x00", 4);
	m.b[m.n - 1] = (uint8_t)(t1 + 5); /* "cdn.example.NET" */
	size_t t2 = m.n - 4;
	pointer(&m, (uint16_t)t2);
	rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, 30, "\xc6\x33\x64\x07", 4);
	struct dns_response *r = response_ok(m.b, m.n);
	assert_int_equal(r->n_answers, 3);
	assert_string_equal(r->answers[0].name, "www.example.com");
	assert_int_equal(r->answers[0].type, DNS_TYPE_CNAME);
	assert_true(r->answers[0].target_ok);
	assert_string_equal(r->answers[0].target, "edge.cdn.example.net");
	assert_string_equal(r->answers[1].name, "edge.cdn.example.net");
	assert_string_equal(r->answers[1].target, "b.cdn.example.net");
	assert_int_equal(r->answers[1].target_len, 17);
	assert_string_equal(r->answers[2].name, "b.cdn.example.net");
	assert_memory_equal(r->answers[2].addr, "\xc6\x33\x64\x07", 4);

	/* A CNAME target shorter than its RDLENGTH. */
	response_start(2, 0, 1, DNS_TYPE_A);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 30, "\1a\0\0", 4);
	response_fails(&m, DNS_ERR_MALFORMED, "does not fill its RDLENGTH");

	/* A target that is not a host name is flagged, not fatal. */
	response_start(2, 0, 1, DNS_TYPE_A);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 30, "\3a b\0", 5);
	r = response_ok(m.b, m.n);
	assert_false(r->answers[0].target_ok);
	assert_string_equal(r->answers[0].target, "");
}

static void test_response_bad_rdlength(void **state)
{
	(void)state;
	response_start(3, 0, 1, DNS_TYPE_A);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, 30, "\1\2\3", 3);
	response_fails(&m, DNS_ERR_MALFORMED, "RDLENGTH of an A record is 3, not 4");

	response_start(3, 0, 1, DNS_TYPE_AAAA);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_AAAA, DNS_CLASS_IN, 30, "\1\2\3\4", 4);
	response_fails(&m, DNS_ERR_MALFORMED, "RDLENGTH of an AAAA record is 4, not 16");

	/* Also in the other sections. */
	header(&m, 3, F_QR, 1, 0, 0, 1);
	question(&m, "www.example.com", DNS_TYPE_NS, DNS_CLASS_IN);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, 30, "\1\2\3\4\5", 5);
	response_fails(&m, DNS_ERR_MALFORMED, "additional record 1");

	/* Outside class IN an A record's RDATA is not an IPv4 address. */
	header(&m, 3, F_QR, 1, 1, 0, 0);
	question(&m, "www.example.com", DNS_TYPE_A, DNS_CLASS_CH);
	pointer(&m, 12);
	rr_tail(&m, DNS_TYPE_A, DNS_CLASS_CH, 30, "\1\2\3", 3);
	struct dns_response *r = response_ok(m.b, m.n);
	assert_int_equal(r->answers[0].rdlength, 3);
}

static void test_ttl(void **state)
{
	static const uint32_t sent[] = {0, 1, 300, 0x7fffffff, 0x80000000, 0xffffffff};
	static const uint32_t want[] = {0, 1, 300, 0x7fffffff, 0, 0};
	(void)state;
	response_start(4, 0, ARRAY_SIZE(sent), DNS_TYPE_A);
	for (size_t i = 0; i < ARRAY_SIZE(sent); i++) {
		pointer(&m, 12);
		rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, sent[i], "\1\2\3\4", 4);
	}
	struct dns_response *r = response_ok(m.b, m.n);
	assert_int_equal(r->n_answers, ARRAY_SIZE(sent));
	for (size_t i = 0; i < ARRAY_SIZE(sent); i++)
		assert_int_equal(r->answers[i].ttl, want[i]);
}

static void test_answer_cap(void **state)
{
	(void)state;
	response_start(5, 0, DNS_ANSWERS_MAX + 6, DNS_TYPE_A);
	for (unsigned i = 0; i < DNS_ANSWERS_MAX + 6; i++) {
		pointer(&m, 12);
		rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, i, "\1\2\3\4", 4);
	}
	struct dns_response *r = response_ok(m.b, m.n);
	assert_int_equal(r->n_answers, DNS_ANSWERS_MAX);
	assert_int_equal(r->answers_dropped, 6);
	assert_int_equal(r->answers[DNS_ANSWERS_MAX - 1].ttl, DNS_ANSWERS_MAX - 1);

	/* Records past the cap are still checked. */
	m.b[m.n - 5] = 3;
	m.n--;
	response_fails(&m, DNS_ERR_MALFORMED, "record 70");
}

static void test_response_flagged_names(void **state)
{
	(void)state;
	response_start(6, 0, 1, DNS_TYPE_A);
	name(&m, "not a.host");
	rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, 30, "\1\2\3\4", 4);
	struct dns_response *r = response_ok(m.b, m.n);
	assert_true(r->question.name_ok);
	assert_false(r->answers[0].name_ok);
	assert_string_equal(r->answers[0].name, "");

	header(&m, 6, F_QR, 1, 0, 0, 0);
	question(&m, "", DNS_TYPE_NS, DNS_CLASS_IN);
	r = response_ok(m.b, m.n);
	assert_false(r->question.name_ok);
	assert_int_equal(r->question.wire_len, 1);
}

static void test_build_replies(void **state)
{
	static const uint8_t rcodes[] = {DNS_RCODE_NOERROR, DNS_RCODE_NXDOMAIN, DNS_RCODE_REFUSED,
	                                 DNS_RCODE_FORMERR, DNS_RCODE_SERVFAIL};
	uint8_t buf[DNS_UDP_CLASSIC_MAX];
	(void)state;
	header(&m, 0xbeef, F_RD, 1, 0, 0, 1);
	question(&m, "WWW.Example.com", DNS_TYPE_AAAA, DNS_CLASS_IN);
	opt(&m, 1232, 0, NULL, 0);
	struct dns_query q = query_ok(&m);
	for (size_t i = 0; i < ARRAY_SIZE(rcodes); i++) {
		int n = dns_build_reply(&q, rcodes[i], buf, sizeof(buf));
		assert_int_equal(n, 12 + 17 + 4);
		struct dns_response *r = response_ok(buf, (size_t)n);
		assert_int_equal(r->header.id, 0xbeef);
		assert_int_equal(r->header.rcode, rcodes[i]);
		assert_true(r->header.qr);
		assert_true(r->header.rd);
		assert_true(r->header.ra);
		assert_false(r->header.aa);
		assert_int_equal(r->n_answers, 0);
		assert_false(r->edns.present);
		assert_true(dns_question_matches(&q.question, &r->question));
		/* The question is echoed in the case it was asked. */
		assert_memory_equal(buf + 12, "\3WWW\7Example\3com\0", 17);
		assert_string_equal(r->question.name, "www.example.com");
	}
	/* RD is copied, not forced. */
	m.b[2] = 0;
	q = query_ok(&m);
	int n = dns_build_reply(&q, DNS_RCODE_NXDOMAIN, buf, sizeof(buf));
	assert_false(response_ok(buf, (size_t)n)->header.rd);

	assert_int_equal(dns_build_reply(&q, 16, buf, sizeof(buf)), -EINVAL);
	struct dns_query none;
	memset(&none, 0, sizeof(none));
	assert_int_equal(dns_build_reply(&none, DNS_RCODE_FORMERR, buf, sizeof(buf)), -EINVAL);
}

static void test_build_sinkhole(void **state)
{
	static const uint8_t zero4[4], zero16[16];
	uint8_t buf[DNS_UDP_CLASSIC_MAX];
	(void)state;
	simple_query(&m, 0x0101, "tracker.example", DNS_TYPE_A);
	struct dns_query q = query_ok(&m);
	int n = dns_build_address_reply(&q, zero4, 4, 60, buf, sizeof(buf));
	assert_int_equal(n, 12 + 17 + 4 + 16);
	struct dns_response *r = response_ok(buf, (size_t)n);
	assert_int_equal(r->header.id, 0x0101);
	assert_int_equal(r->header.rcode, DNS_RCODE_NOERROR);
	assert_true(dns_question_matches(&q.question, &r->question));
	assert_int_equal(r->n_answers, 1);
	assert_string_equal(r->answers[0].name, "tracker.example");
	assert_int_equal(r->answers[0].type, DNS_TYPE_A);
	assert_int_equal(r->answers[0].rclass, DNS_CLASS_IN);
	assert_int_equal(r->answers[0].ttl, 60);
	assert_memory_equal(r->answers[0].addr, zero4, 4);

	simple_query(&m, 0x0202, "tracker.example", DNS_TYPE_AAAA);
	q = query_ok(&m);
	n = dns_build_address_reply(&q, zero16, 16, 0, buf, sizeof(buf));
	r = response_ok(buf, (size_t)n);
	assert_int_equal(r->answers[0].type, DNS_TYPE_AAAA);
	assert_int_equal(r->answers[0].ttl, 0);
	assert_memory_equal(r->answers[0].addr, zero16, 16);

	/* An A answer to an AAAA question, a bad length, a bad TTL. */
	assert_int_equal(dns_build_address_reply(&q, zero4, 4, 60, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(dns_build_address_reply(&q, zero4, 5, 60, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(dns_build_address_reply(&q, zero16, 16, 0x80000000, buf, sizeof(buf)),
	                 -EINVAL);
	/* ANY takes either. */
	simple_query(&m, 3, "tracker.example", DNS_TYPE_ANY);
	q = query_ok(&m);
	assert_true(dns_build_address_reply(&q, zero4, 4, 60, buf, sizeof(buf)) > 0);
	/* Not class IN. */
	header(&m, 3, 0, 1, 0, 0, 0);
	question(&m, "tracker.example", DNS_TYPE_A, DNS_CLASS_CH);
	q = query_ok(&m);
	assert_int_equal(dns_build_address_reply(&q, zero4, 4, 60, buf, sizeof(buf)), -EINVAL);
}

static void test_build_formerr(void **state)
{
	uint8_t buf[DNS_HEADER_SIZE];
	struct dns_header h;
	(void)state;
	/* A query cut inside its question. */
	simple_query(&m, 0x7777, "example.com", DNS_TYPE_A);
	m.n -= 3;
	assert_int_equal(dns_build_formerr(m.b, m.n, buf, sizeof(buf)), DNS_HEADER_SIZE);
	assert_int_equal(dns_parse_response(buf, sizeof(buf), &resp_storage, NULL),
	                 DNS_ERR_QDCOUNT);
	h = resp_storage.header;
	assert_int_equal(h.id, 0x7777);
	assert_true(h.qr);
	assert_true(h.rd);
	assert_int_equal(h.rcode, DNS_RCODE_FORMERR);
	assert_int_equal(h.qdcount + h.ancount + h.nscount + h.arcount, 0);

	/* Two bytes: the ID only. */
	assert_int_equal(dns_build_formerr((const uint8_t *)"\x12\x34", 2, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "\x12\x34\x80\x81\0\0\0\0\0\0\0\0", 12);
	/* One byte: no ID to echo. */
	assert_int_equal(dns_build_formerr((const uint8_t *)"\x12", 1, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "\0\0\x80\x81\0\0\0\0\0\0\0\0", 12);
	assert_int_equal(dns_build_formerr(m.b, m.n, buf, sizeof(buf) - 1), -ENOSPC);
}

static void test_enospc(void **state)
{
	static const uint8_t zero4[4];
	uint8_t buf[DNS_UDP_CLASSIC_MAX];
	(void)state;
	simple_query(&m, 1, "example.com", DNS_TYPE_A);
	struct dns_query q = query_ok(&m);
	size_t reply_len = 12 + 13 + 4;
	assert_int_equal(dns_build_reply(&q, DNS_RCODE_NXDOMAIN, buf, reply_len), reply_len);
	assert_int_equal(dns_build_reply(&q, DNS_RCODE_NXDOMAIN, buf, reply_len - 1), -ENOSPC);
	assert_int_equal(dns_build_reply(&q, DNS_RCODE_NXDOMAIN, buf, 0), -ENOSPC);
	assert_int_equal(dns_build_address_reply(&q, zero4, 4, 1, buf, reply_len + 16),
	                 reply_len + 16);
	assert_int_equal(dns_build_address_reply(&q, zero4, 4, 1, buf, reply_len + 15), -ENOSPC);
	assert_int_equal(dns_build_address_reply(&q, zero4, 4, 1, buf, reply_len), -ENOSPC);

	struct dns_query_spec spec = {.id = 1,
	                              .name = "example.com",
	                              .name_len = 11,
	                              .qtype = DNS_TYPE_A,
	                              .qclass = DNS_CLASS_IN};
	assert_int_equal(dns_build_query(&spec, buf, reply_len, NULL), reply_len);
	assert_int_equal(dns_build_query(&spec, buf, reply_len - 1, NULL), -ENOSPC);
	spec.edns_udp_size = 1232;
	assert_int_equal(dns_build_query(&spec, buf, reply_len + 10, NULL), -ENOSPC);
}

static void test_build_query(void **state)
{
	uint8_t buf[DNS_UDP_CLASSIC_MAX];
	struct diag d = {""};
	struct dns_query q;
	(void)state;
	struct dns_query_spec spec = {.id = 0x9999,
	                              .name = "B\xc3\xbc"
	                                      "cher.Example.",
	                              .name_len = 15,
	                              .qtype = DNS_TYPE_HTTPS,
	                              .qclass = DNS_CLASS_IN,
	                              .edns_udp_size = 1232};
	int n = dns_build_query(&spec, buf, sizeof(buf), &d);
	assert_true(n > 0);
	assert_int_equal(dns_parse_query(buf, (size_t)n, &q, &d), 0);
	assert_int_equal(q.header.id, 0x9999);
	assert_true(q.header.rd);
	assert_string_equal(q.question.name, "xn--bcher-kva.example");
	assert_int_equal(q.question.qtype, DNS_TYPE_HTTPS);
	assert_true(q.edns.present);
	assert_int_equal(q.edns.udp_size, 1232);

	spec.edns_udp_size = 0;
	n = dns_build_query(&spec, buf, sizeof(buf), &d);
	assert_int_equal(dns_parse_query(buf, (size_t)n, &q, &d), 0);
	assert_false(q.edns.present);
	assert_int_equal(q.header.arcount, 0);

	spec.name = "exa mple.com";
	spec.name_len = 12;
	assert_int_equal(dns_build_query(&spec, buf, sizeof(buf), &d), -EINVAL);
	assert_non_null(strstr(d.msg, "not allowed in a host name"));
}

static void test_set_id(void **state)
{
	uint8_t buf[DNS_UDP_CLASSIC_MAX];
	(void)state;
	simple_query(&m, 0x1111, "example.com", DNS_TYPE_A);
	struct dns_query q = query_ok(&m);
	int n = dns_build_reply(&q, DNS_RCODE_NOERROR, buf, sizeof(buf));
	assert_int_equal(dns_set_id(buf, (size_t)n, 0xfedc), 0);
	struct dns_response *r = response_ok(buf, (size_t)n);
	assert_int_equal(r->header.id, 0xfedc);
	assert_true(dns_question_matches(&q.question, &r->question));
	assert_int_equal(dns_set_id(buf, 11, 1), -EBADMSG);
}

static void test_question_matches(void **state)
{
	(void)state;
	simple_query(&m, 1, "Example.COM", DNS_TYPE_A);
	struct dns_query a = query_ok(&m);
	simple_query(&m, 1, "example.com", DNS_TYPE_A);
	struct dns_query b = query_ok(&m);
	assert_true(dns_question_matches(&a.question, &b.question));
	simple_query(&m, 1, "example.com", DNS_TYPE_AAAA);
	b = query_ok(&m);
	assert_false(dns_question_matches(&a.question, &b.question));
	simple_query(&m, 1, "example.org", DNS_TYPE_A);
	b = query_ok(&m);
	assert_false(dns_question_matches(&a.question, &b.question));
	simple_query(&m, 1, "www.example.com", DNS_TYPE_A);
	b = query_ok(&m);
	assert_false(dns_question_matches(&a.question, &b.question));
}

static void test_names_for_logs(void **state)
{
	char buf[DNS_TYPE_NAME_SIZE];
	char rbuf[DNS_RCODE_NAME_SIZE];
	(void)state;
	assert_string_equal(dns_type_name(DNS_TYPE_A, buf), "A");
	assert_string_equal(dns_type_name(DNS_TYPE_AAAA, buf), "AAAA");
	assert_string_equal(dns_type_name(DNS_TYPE_HTTPS, buf), "HTTPS");
	assert_string_equal(dns_type_name(DNS_TYPE_ANY, buf), "ANY");
	assert_string_equal(dns_type_name(1234, buf), "TYPE1234");
	assert_string_equal(dns_type_name(65535, buf), "TYPE65535");
	assert_string_equal(dns_rcode_name(DNS_RCODE_NXDOMAIN, rbuf), "NXDOMAIN");
	assert_string_equal(dns_rcode_name(DNS_RCODE_REFUSED, rbuf), "REFUSED");
	assert_string_equal(dns_rcode_name(23, rbuf), "RCODE23");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_query_basic),
	        cmocka_unit_test(test_query_root_refused),
	        cmocka_unit_test(test_query_compression),
	        cmocka_unit_test(test_pointer_loops),
	        cmocka_unit_test(test_pointer_hop_cap),
	        cmocka_unit_test(test_forward_pointer),
	        cmocka_unit_test(test_label_length),
	        cmocka_unit_test(test_name_length),
	        cmocka_unit_test(test_truncated),
	        cmocka_unit_test(test_qdcount),
	        cmocka_unit_test(test_counts_mismatch),
	        cmocka_unit_test(test_label_bytes_refused),
	        cmocka_unit_test(test_punycode),
	        cmocka_unit_test(test_edns),
	        cmocka_unit_test(test_direction),
	        cmocka_unit_test(test_response_addresses),
	        cmocka_unit_test(test_response_cname_chain),
	        cmocka_unit_test(test_response_bad_rdlength),
	        cmocka_unit_test(test_ttl),
	        cmocka_unit_test(test_answer_cap),
	        cmocka_unit_test(test_response_flagged_names),
	        cmocka_unit_test(test_build_replies),
	        cmocka_unit_test(test_build_sinkhole),
	        cmocka_unit_test(test_build_formerr),
	        cmocka_unit_test(test_enospc),
	        cmocka_unit_test(test_build_query),
	        cmocka_unit_test(test_set_id),
	        cmocka_unit_test(test_question_matches),
	        cmocka_unit_test(test_names_for_logs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
