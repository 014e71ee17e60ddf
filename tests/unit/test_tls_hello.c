/* The gateway's TLS ClientHello parser (SNI without terminating TLS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "proxy/tls_hello.h"

/* The first bytes `openssl s_client -connect 127.0.0.1:PORT -servername
 * Example.com -alpn h2,http/1.1` (OpenSSL 3.0.19) sent to a loopback socket:
 * one record (version 0x0301) holding a 330-byte ClientHello with SNI,
 * ALPN h2 + http/1.1 and supported_versions offering TLS 1.3. */
static const uint8_t real_hello[] = {
        0x16, 0x03, 0x01, 0x01, 0x4a, 0x01, 0x00, 0x01, 0x46, 0x03, 0x03, 0x3e, 0x92, 0xf4, 0xa8,
        0xa4, 0x62, 0xef, 0x68, 0x8a, 0x95, 0xa1, 0x80, 0x5a, 0x1e, 0xd9, 0xc8, 0x6f, 0x25, 0xec,
        0xbe, 0xe3, 0x17, 0xb3, 0x16, 0x54, 0x46, 0x0f, 0x54, 0xad, 0xe6, 0xb3, 0xab, 0x20, 0xa3,
        0x11, 0x51, 0xfa, 0x08, 0x8a, 0x03, 0x8b, 0x80, 0xc5, 0xf9, 0xec, 0xea, 0x09, 0xd0, 0x54,
        0x19, 0x8e, 0x72, 0x09, 0x08, 0xac, 0xe6, 0xdf, 0x14, 0x30, 0x48, 0x64, 0x05, 0x89, 0x3a,
        0xa8, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f,
        0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0,
        0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
        0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00,
        0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xbf, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e,
        0x00, 0x00, 0x0b, 0x45, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00,
        0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d,
        0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01,
        0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68,
        0x32, 0x08, 0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00,
        0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03,
        0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08,
        0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02,
        0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02,
        0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00,
        0x1d, 0x00, 0x20, 0x95, 0xa4, 0x14, 0x7c, 0x3a, 0x05, 0x9d, 0x66, 0x92, 0xde, 0x5c, 0x57,
        0xaf, 0x51, 0x6b, 0x44, 0x85, 0x28, 0x13, 0x02, 0xa7, 0xaa, 0xd6, 0x3d, 0x10, 0x74, 0x41,
        0xa1, 0xa1, 0x9b, 0xa1, 0x19,
};

/* ---- a small ClientHello builder ---------------------------------------- */

struct msg {
	uint8_t b[TLS_HELLO_PEEK_MAX + 4096];
	size_t len;
};

static void put8(struct msg *m, unsigned v)
{
	assert_true(m->len < sizeof(m->b));
	m->b[m->len++] = (uint8_t)v;
}

static void put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void put24(struct msg *m, unsigned v)
{
	put8(m, v >> 16);
	put16(m, v & 0xffff);
}

static void put_raw(struct msg *m, const void *p, size_t n)
{
	assert_true(n <= sizeof(m->b) - m->len);
	if (n > 0)
		memcpy(m->b + m->len, p, n);
	m->len += n;
}

/* One extension: type, 16-bit length, body. */
static void add_ext(struct msg *exts, unsigned type, const void *body, size_t n)
{
	put16(exts, type);
	put16(exts, (unsigned)n);
	put_raw(exts, body, n);
}

/* server_name with one host_name entry of `n` bytes. */
static void add_sni(struct msg *exts, const char *name, size_t n)
{
	put16(exts, TLS_EXT_SERVER_NAME);
	put16(exts, (unsigned)n + 5);
	put16(exts, (unsigned)n + 3);
	put8(exts, 0);
	put16(exts, (unsigned)n);
	put_raw(exts, name, n);
}

static void add_sni_str(struct msg *exts, const char *name)
{
	add_sni(exts, name, strlen(name));
}

/* The fields before the extensions, with knobs for the tests that break them. */
struct fields {
	unsigned version;
	unsigned sid_len;
	unsigned suites_len;
	unsigned comp_len;
	uint8_t comp; /* the one compression method written (all are this) */
	bool no_extensions;
	int block_delta; /* added to the extension block's length field */
};

static struct fields defaults(void)
{
	return (struct fields){.version = 0x0303, .sid_len = 32, .suites_len = 4, .comp_len = 1};
}

/* The handshake message: 4-byte header and ClientHello body. */
static void message(struct msg *hs, const struct fields *f, const struct msg *exts)
{
	struct msg *body = calloc(1, sizeof(*body));
	assert_non_null(body);
	put16(body, f->version);
	for (unsigned i = 0; i < 32; i++)
		put8(body, i);
	put8(body, f->sid_len);
	for (unsigned i = 0; i < f->sid_len; i++)
		put8(body, 0xa0);
	put16(body, f->suites_len);
	for (unsigned i = 0; i < f->suites_len; i++)
		put8(body, i % 2 ? 0x01 : 0x13);
	put8(body, f->comp_len);
	for (unsigned i = 0; i < f->comp_len; i++)
		put8(body, f->comp);
	if (!f->no_extensions) {
		put16(body, (unsigned)((int)exts->len + f->block_delta));
		put_raw(body, exts->b, exts->len);
	}
	hs->len = 0;
	put8(hs, 1);
	put24(hs, (unsigned)body->len);
	put_raw(hs, body->b, body->len);
	free(body);
}

/* Wrap `hs` in handshake records: the first `n_cuts` records carry cuts[i]
 * bytes each, the last one the rest.  Appends to `out`. */
static void records(struct msg *out, const struct msg *hs, const size_t *cuts, size_t n_cuts)
{
	size_t off = 0;
	for (size_t i = 0; i <= n_cuts; i++) {
		size_t n = i < n_cuts ? cuts[i] : hs->len - off;
		put8(out, 0x16);
		put16(out, i == 0 ? 0x0301 : 0x0303);
		put16(out, (unsigned)n);
		put_raw(out, hs->b + off, n);
		off += n;
	}
}

/* A whole hello in one record, with the default fields and these extensions. */
static struct msg *hello(const struct msg *exts)
{
	struct fields f = defaults();
	struct msg *hs = calloc(1, sizeof(*hs)), *out = calloc(1, sizeof(*out));
	assert_non_null(hs);
	assert_non_null(out);
	message(hs, &f, exts);
	records(out, hs, NULL, 0);
	free(hs);
	return out;
}

static struct msg *new_msg(void)
{
	struct msg *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	return m;
}

/* Parse exactly `len` bytes from a buffer of exactly that size, so a read
 * past the end is caught by the sanitizers. */
static enum tls_hello_status parse_n(const uint8_t *bytes, size_t len, struct tls_hello *h,
                                     struct diag *d)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, bytes, len);
	enum tls_hello_status st = tls_hello_parse(len ? copy : NULL, len, h, d);
	free(copy);
	return st;
}

static enum tls_hello_status parse(const struct msg *m, struct tls_hello *h, struct diag *d)
{
	return parse_n(m->b, m->len, h, d);
}

static void expect_error(const struct msg *m, enum tls_hello_status st, enum tls_hello_error e)
{
	struct tls_hello h;
	struct diag d = {""};
	enum tls_hello_status got = parse(m, &h, &d);
	if (got != st || h.error != e)
		fail_msg("expected status %d error %d, got %d error %d (%s)", st, e, got, h.error,
		         d.msg);
	assert_true(d.msg[0] != '\0');
}

/* Every proper prefix is NEED_MORE with `need` past it and not past the
 * whole; and the whole parses to `want`. */
static void every_prefix(const uint8_t *bytes, size_t total, enum tls_hello_status want)
{
	struct tls_hello h;
	for (size_t n = 0; n < total; n++) {
		enum tls_hello_status st = parse_n(bytes, n, &h, NULL);
		if (st != TLS_HELLO_NEED_MORE)
			fail_msg("prefix of %zu/%zu bytes: status %d error %d", n, total, st,
			         h.error);
		assert_true(h.need > n);
		assert_true(h.need <= total);
	}
	assert_int_equal(parse_n(bytes, total, &h, NULL), want);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_real_hello(void **state)
{
	(void)state;
	struct tls_hello h;
	struct diag d = {""};

	assert_int_equal(parse_n(real_hello, sizeof(real_hello), &h, &d), TLS_HELLO_CLIENT_HELLO);
	assert_true(h.has_sni);
	assert_string_equal(h.sni, "example.com"); /* sent as "Example.com" */
	assert_int_equal(h.sni_len, 11);
	assert_int_equal(h.record_bytes, sizeof(real_hello));
	assert_int_equal(h.n_records, 1);
	assert_int_equal(h.record_version, 0x0301);
	assert_int_equal(h.legacy_version, 0x0303);
	assert_int_equal(h.message_len, sizeof(real_hello) - 5);
	assert_true(h.has_alpn);
	assert_int_equal(h.alpn_first_len, 2);
	assert_string_equal(h.alpn_first, "h2");
	assert_true(h.alpn_h2);
	assert_true(h.alpn_http11);
	assert_true(h.tls13_offered);
	assert_false(h.has_ech);
	assert_true(h.n_extensions >= 8);

	every_prefix(real_hello, sizeof(real_hello), TLS_HELLO_CLIENT_HELLO);
	/* Once the record header is in, need is the whole record. */
	assert_int_equal(parse_n(real_hello, 5, &h, NULL), TLS_HELLO_NEED_MORE);
	assert_int_equal(h.need, sizeof(real_hello));
}

static void test_sni_case_folded(void **state)
{
	(void)state;
	struct msg *e = new_msg();
	struct tls_hello h;

	add_sni_str(e, "WWW.Example.COM");
	struct msg *m = hello(e);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_true(h.has_sni);
	assert_true(h.has_server_name_ext);
	assert_string_equal(h.sni, "www.example.com");
	assert_int_equal(h.record_bytes, m->len);
	assert_false(h.tls13_offered);
	assert_false(h.has_alpn);
	every_prefix(m->b, m->len, TLS_HELLO_CLIENT_HELLO);
	free(m);

	/* A name of another name_type next to the host_name is skipped. */
	e->len = 0;
	put16(e, TLS_EXT_SERVER_NAME);
	put16(e, 2 + 3 + 4 + 3 + 11);
	put16(e, 3 + 4 + 3 + 11);
	put8(e, 7);
	put16(e, 4);
	put_raw(e, "\0\0\0\0", 4);
	put8(e, 0);
	put16(e, 11);
	put_raw(e, "example.org", 11);
	m = hello(e);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_string_equal(h.sni, "example.org");
	free(m);
	free(e);
}

static void test_no_sni(void **state)
{
	(void)state;
	struct msg *e = new_msg();
	struct tls_hello h;
	uint8_t alpn[] = {0, 9, 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

	add_ext(e, TLS_EXT_ALPN, alpn, sizeof(alpn));
	struct msg *m = hello(e);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_false(h.has_sni);
	assert_false(h.has_server_name_ext);
	assert_int_equal(h.sni_len, 0);
	assert_true(h.alpn_http11);
	assert_false(h.alpn_h2);
	assert_string_equal(h.alpn_first, "http/1.1");
	free(m);

	/* No extension block at all (pre-TLS 1.2 clients). */
	struct fields f = defaults();
	struct msg *hs = new_msg();
	m = new_msg();
	f.no_extensions = true;
	message(hs, &f, e);
	records(m, hs, NULL, 0);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_false(h.has_sni);
	assert_int_equal(h.n_extensions, 0);
	free(m);
	free(hs);
	free(e);
}

static void test_empty_sni(void **state)
{
	(void)state;
	struct msg *e = new_msg();
	struct tls_hello h;
	uint8_t empty_list[] = {0, 0};
	uint8_t empty_name[] = {0, 3, 0, 0, 0};

	/* Empty extension, empty list, host_name of length 0: all "no SNI". */
	add_ext(e, TLS_EXT_SERVER_NAME, NULL, 0);
	struct msg *m = hello(e);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_true(h.has_server_name_ext);
	assert_false(h.has_sni);
	free(m);

	e->len = 0;
	add_ext(e, TLS_EXT_SERVER_NAME, empty_list, sizeof(empty_list));
	m = hello(e);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_true(h.has_server_name_ext);
	assert_false(h.has_sni);
	free(m);

	e->len = 0;
	add_ext(e, TLS_EXT_SERVER_NAME, empty_name, sizeof(empty_name));
	m = hello(e);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_true(h.has_server_name_ext);
	assert_false(h.has_sni);
	free(m);
	free(e);
}

static void sni_refused(const char *name, size_t n, const char *msg_part)
{
	struct msg *e = new_msg();
	struct tls_hello h;
	struct diag d = {""};

	add_sni(e, name, n);
	struct msg *m = hello(e);
	assert_int_equal(parse(m, &h, &d), TLS_HELLO_SNI_INVALID);
	assert_int_equal(h.error, TLS_HELLO_E_SNI_INVALID);
	assert_false(h.has_sni);
	assert_int_equal(h.sni_len, 0);
	assert_true(h.has_server_name_ext);
	assert_int_equal(h.record_bytes, m->len); /* the rest is still reported */
	if (!strstr(d.msg, msg_part))
		fail_msg("message lacks '%s': %s", msg_part, d.msg);
	free(m);
	free(e);
}

static void test_sni_invalid(void **state)
{
	(void)state;
	sni_refused("192.0.2.1", 9, "is an IP address");
	sni_refused("127.1", 5, "IPv4 address");
	sni_refused("::1", 3, "is an IP address");
	sni_refused("2001:db8::1", 11, "is an IP address");
	sni_refused("[2001:db8::1]", 13, "not allowed in a host name");
	sni_refused("exa\0mple.com", 12, "NUL");
	sni_refused("example.com.", 12, "ends with a dot");
	sni_refused("b\xc3\xbc"
	            "cher.example",
	            14, "non-ASCII");
	sni_refused("a..example.com", 14, "empty label");
	sni_refused("exa mple.com", 12, "not allowed in a host name");

	char long_name[NAME_INPUT_MAX + 1];
	memset(long_name, 'a', sizeof(long_name));
	sni_refused(long_name, sizeof(long_name), "longer");
}

static void test_two_host_names(void **state)
{
	(void)state;
	struct msg *e = new_msg();

	put16(e, TLS_EXT_SERVER_NAME);
	put16(e, 2 + 2 * (3 + 5));
	put16(e, 2 * (3 + 5));
	put8(e, 0);
	put16(e, 5);
	put_raw(e, "a.com", 5);
	put8(e, 0);
	put16(e, 5);
	put_raw(e, "b.com", 5);
	struct msg *m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_DUP_HOST_NAME);
	free(m);
	free(e);
}

static void test_duplicate_extension(void **state)
{
	(void)state;
	struct msg *e = new_msg();
	uint8_t body[] = {1, 2, 3};

	add_ext(e, 0x1234, body, sizeof(body));
	add_sni_str(e, "example.com");
	add_ext(e, 0x1234, body, sizeof(body));
	struct msg *m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_DUP_EXTENSION);
	free(m);

	e->len = 0;
	add_sni_str(e, "example.com");
	add_sni_str(e, "example.com");
	m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_DUP_EXTENSION);
	free(m);
	free(e);
}

static void test_ech_flagged(void **state)
{
	(void)state;
	struct msg *e = new_msg();
	struct tls_hello h;
	uint8_t ech[40] = {0}; /* outer: type 0, then opaque fields */

	add_sni_str(e, "public.example.net");
	add_ext(e, TLS_EXT_ECH, ech, sizeof(ech));
	struct msg *m = hello(e);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_true(h.has_ech);
	assert_string_equal(h.sni, "public.example.net");
	free(m);

	e->len = 0;
	add_ext(e, TLS_EXT_ESNI_DRAFT, ech, sizeof(ech));
	m = hello(e);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_true(h.has_ech);
	assert_false(h.has_sni);
	free(m);
	free(e);
}

static void test_split_records(void **state)
{
	(void)state;
	struct msg *hs = new_msg(), *m = new_msg();
	struct tls_hello h;
	/* real_hello's handshake message, re-wrapped. */
	put_raw(hs, real_hello + 5, sizeof(real_hello) - 5);

	size_t two[] = {100};
	records(m, hs, two, 1);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_string_equal(h.sni, "example.com");
	assert_int_equal(h.n_records, 2);
	assert_int_equal(h.record_bytes, sizeof(real_hello) + 5);
	every_prefix(m->b, m->len, TLS_HELLO_CLIENT_HELLO);

	/* Three records, the first cutting the handshake header in two and the
	 * second cutting the server name in two. */
	size_t three[] = {2, 150};
	m->len = 0;
	records(m, hs, three, 2);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_string_equal(h.sni, "example.com");
	assert_true(h.alpn_h2);
	assert_true(h.tls13_offered);
	assert_int_equal(h.n_records, 3);
	assert_int_equal(h.record_bytes, sizeof(real_hello) + 10);
	every_prefix(m->b, m->len, TLS_HELLO_CLIENT_HELLO);

	/* One byte a record, up to the record cap: TOO_LARGE past it. */
	struct msg *e = new_msg(), *small = new_msg();
	struct fields f = defaults();
	f.sid_len = 0;
	f.suites_len = 2;
	message(small, &f, e);
	size_t cuts[TLS_HELLO_MAX_RECORDS + 8];
	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++)
		cuts[i] = 1;
	assert_true(small->len <= ARRAY_SIZE(cuts)); /* 47 bytes with an empty block */
	m->len = 0;
	records(m, small, cuts, small->len - 1);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_int_equal(h.n_records, small->len);
	every_prefix(m->b, m->len, TLS_HELLO_CLIENT_HELLO);
	free(e);
	free(small);
	free(m);
	free(hs);
}

static void test_too_many_records(void **state)
{
	(void)state;
	struct msg *e = new_msg(), *hs = new_msg(), *m = new_msg();
	uint8_t pad[200] = {0};
	size_t cuts[TLS_HELLO_MAX_RECORDS];

	add_ext(e, 21, pad, sizeof(pad)); /* padding */
	struct fields f = defaults();
	message(hs, &f, e);
	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++)
		cuts[i] = 1;
	records(m, hs, cuts, ARRAY_SIZE(cuts));
	expect_error(m, TLS_HELLO_TOO_LARGE, TLS_HELLO_E_TOO_MANY_RECORDS);
	free(m);
	free(hs);
	free(e);
}

static void test_not_tls(void **state)
{
	(void)state;
	struct msg *m = new_msg();
	struct tls_hello h;

	put_raw(m, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	expect_error(m, TLS_HELLO_NOT_TLS, TLS_HELLO_E_NOT_HANDSHAKE);
	/* Decided from the first byte alone. */
	assert_int_equal(parse_n(m->b, 1, &h, NULL), TLS_HELLO_NOT_TLS);

	/* SSLv2-compatible hello: 2-byte length with bit 15 set, type 1. */
	uint8_t v2[] = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10};
	m->len = 0;
	put_raw(m, v2, sizeof(v2));
	expect_error(m, TLS_HELLO_NOT_TLS, TLS_HELLO_E_SSLV2);

	/* Handshake type byte, implausible versions. */
	uint8_t bad_major[] = {0x16, 0x04, 0x01, 0x00, 0x10};
	m->len = 0;
	put_raw(m, bad_major, sizeof(bad_major));
	expect_error(m, TLS_HELLO_NOT_TLS, TLS_HELLO_E_NOT_TLS_VERSION);
	uint8_t bad_minor[] = {0x16, 0x03, 0x04, 0x00, 0x10};
	m->len = 0;
	put_raw(m, bad_minor, sizeof(bad_minor));
	expect_error(m, TLS_HELLO_NOT_TLS, TLS_HELLO_E_NOT_TLS_VERSION);
	assert_int_equal(parse_n(bad_minor, 3, &h, NULL), TLS_HELLO_NOT_TLS);
	free(m);
}

static void test_record_versions(void **state)
{
	(void)state;
	struct msg *m = new_msg();
	struct tls_hello h;
	const size_t hs_len = sizeof(real_hello) - 5;

	/* 0x0300 is tolerated in the first record... */
	put_raw(m, real_hello, sizeof(real_hello));
	m->b[2] = 0x00;
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_int_equal(h.record_version, 0x0300);

	/* ...not in a later one, nor a non-handshake record inside the hello. */
	m->len = 0;
	put8(m, 0x16);
	put16(m, 0x0301);
	put16(m, 100);
	put_raw(m, real_hello + 5, 100);
	size_t second = m->len;
	put8(m, 0x16);
	put16(m, 0x0300);
	put16(m, (unsigned)(hs_len - 100));
	put_raw(m, real_hello + 105, hs_len - 100);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_RECORD_VERSION);
	m->b[second + 2] = 0x03;
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	m->b[second] = 0x17;
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_RECORD_TYPE);
	m->b[second] = 0x15;
	assert_int_equal(parse_n(m->b, second + 1, &h, NULL), TLS_HELLO_MALFORMED);
	free(m);
}

static void test_record_and_message_framing(void **state)
{
	(void)state;
	struct msg *m = new_msg();

	uint8_t empty[] = {0x16, 0x03, 0x01, 0x00, 0x00};
	put_raw(m, empty, sizeof(empty));
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_RECORD_EMPTY);

	uint8_t overflow[] = {0x16, 0x03, 0x01, 0x40, 0x01};
	m->len = 0;
	put_raw(m, overflow, sizeof(overflow));
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_RECORD_OVERFLOW);

	uint8_t server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x30, 0x02};
	m->len = 0;
	put_raw(m, server_hello, sizeof(server_hello));
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_NOT_CLIENT_HELLO);

	/* More handshake bytes in the last record than the ClientHello has. */
	m->len = 0;
	put_raw(m, real_hello, sizeof(real_hello));
	m->b[4]++;
	put8(m, 0x0e); /* a ServerHelloDone-looking byte */
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_TRAILING);

	/* A message too short for its fixed fields. */
	uint8_t tiny[] = {0x16, 0x03, 0x01, 0x00, 0x06, 0x01, 0x00, 0x00, 0x02, 0x03, 0x03};
	m->len = 0;
	put_raw(m, tiny, sizeof(tiny));
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_TRUNCATED);
	free(m);
}

/* Build with fields `f` and extensions `e`; expect the given refusal. */
static void fields_refused(const struct fields *f, const struct msg *e, enum tls_hello_error err)
{
	struct msg *hs = new_msg(), *m = new_msg();
	message(hs, f, e);
	records(m, hs, NULL, 0);
	expect_error(m, tls_hello_error_status(err), err);
	free(m);
	free(hs);
}

static void test_fixed_fields(void **state)
{
	(void)state;
	struct msg *e = new_msg();
	struct fields f;

	add_sni_str(e, "example.com");
	f = defaults();
	f.sid_len = 33;
	fields_refused(&f, e, TLS_HELLO_E_SESSION_ID);
	f = defaults();
	f.suites_len = 3;
	fields_refused(&f, e, TLS_HELLO_E_CIPHER_SUITES);
	f = defaults();
	f.suites_len = 0;
	fields_refused(&f, e, TLS_HELLO_E_CIPHER_SUITES);
	f = defaults();
	f.comp_len = 0;
	fields_refused(&f, e, TLS_HELLO_E_COMPRESSION);
	f = defaults();
	f.comp = 1; /* DEFLATE only */
	fields_refused(&f, e, TLS_HELLO_E_COMPRESSION);
	f = defaults();
	f.version = 0x0203;
	fields_refused(&f, e, TLS_HELLO_E_LEGACY_VERSION);
	free(e);
}

static void test_extension_lengths(void **state)
{
	(void)state;
	struct msg *e = new_msg(), *m;
	struct fields f = defaults();

	add_sni_str(e, "example.com");
	f.block_delta = 1;
	fields_refused(&f, e, TLS_HELLO_E_EXTENSIONS_LENGTH);
	f.block_delta = -1;
	fields_refused(&f, e, TLS_HELLO_E_EXTENSIONS_LENGTH);

	/* The last extension claims one byte more than the block holds. */
	e->len = 0;
	add_sni_str(e, "example.com");
	e->b[3]++;
	m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_EXTENSION_LENGTH);
	free(m);

	/* An extension header cut short by the block's end. */
	e->len = 0;
	add_sni_str(e, "example.com");
	put16(e, 0x1234);
	m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_EXTENSION_LENGTH);
	free(m);

	/* Inner lengths that disagree with their extension. */
	e->len = 0;
	add_sni_str(e, "example.com");
	e->b[5]++; /* list length */
	m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_SERVER_NAME);
	free(m);
	e->len = 0;
	add_sni_str(e, "example.com");
	e->b[8]++; /* host_name length */
	m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_SERVER_NAME);
	free(m);

	uint8_t alpn_empty_proto[] = {0, 3, 0, 'h', '2'};
	e->len = 0;
	add_ext(e, TLS_EXT_ALPN, alpn_empty_proto, sizeof(alpn_empty_proto));
	m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_ALPN);
	free(m);

	uint8_t versions_odd[] = {3, 0x03, 0x04, 0x03};
	e->len = 0;
	add_ext(e, TLS_EXT_SUPPORTED_VERSIONS, versions_odd, sizeof(versions_odd));
	m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_SUPPORTED_VERSIONS);
	free(m);
	free(e);
}

static void test_pre_shared_key_last(void **state)
{
	(void)state;
	struct msg *e = new_msg(), *m;
	struct tls_hello h;
	uint8_t psk[] = {0, 0, 0, 0};
	uint8_t versions[] = {4, 0x0a, 0x0a, 0x03, 0x04};

	add_ext(e, TLS_EXT_SUPPORTED_VERSIONS, versions, sizeof(versions));
	add_ext(e, TLS_EXT_PRE_SHARED_KEY, psk, sizeof(psk));
	m = hello(e);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_true(h.tls13_offered);
	free(m);

	add_sni_str(e, "example.com");
	m = hello(e);
	expect_error(m, TLS_HELLO_MALFORMED, TLS_HELLO_E_PSK_NOT_LAST);
	free(m);
	free(e);
}

static void test_too_large(void **state)
{
	(void)state;
	struct msg *m = new_msg();
	struct tls_hello h;

	/* Known from the handshake header alone. */
	uint8_t big[] = {0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfd};
	put_raw(m, big, sizeof(big));
	expect_error(m, TLS_HELLO_TOO_LARGE, TLS_HELLO_E_MESSAGE_TOO_LARGE);
	m->b[8] = 0xfc; /* exactly the cap: still a valid prefix */
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_NEED_MORE);
	assert_int_equal(h.need, 5 + 16384);

	/* A whole hello at the cap parses; one byte more does not. */
	struct msg *e = new_msg(), *hs = new_msg();
	struct fields f = defaults();
	static uint8_t pad[TLS_HELLO_MAX_MESSAGE];
	message(hs, &f, e);
	size_t room = TLS_HELLO_MAX_MESSAGE - hs->len - 4;
	add_ext(e, 21, pad, room);
	message(hs, &f, e);
	assert_int_equal(hs->len, TLS_HELLO_MAX_MESSAGE);
	m->len = 0;
	size_t cut[] = {8000};
	records(m, hs, cut, 1);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_true(m->len <= TLS_HELLO_PEEK_MAX);

	e->len = 0;
	add_ext(e, 21, pad, room + 1);
	message(hs, &f, e);
	m->len = 0;
	records(m, hs, cut, 1);
	expect_error(m, TLS_HELLO_TOO_LARGE, TLS_HELLO_E_MESSAGE_TOO_LARGE);
	free(hs);
	free(e);
	free(m);
}

static void test_trailing_records_ignored(void **state)
{
	(void)state;
	struct msg *m = new_msg();
	struct tls_hello h;

	put_raw(m, real_hello, sizeof(real_hello));
	uint8_t ccs[] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
	uint8_t app[] = {0x17, 0x03, 0x03, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef};
	put_raw(m, ccs, sizeof(ccs));
	put_raw(m, app, sizeof(app));
	put_raw(m, "garbage", 7);
	assert_int_equal(parse(m, &h, NULL), TLS_HELLO_CLIENT_HELLO);
	assert_int_equal(h.record_bytes, sizeof(real_hello));
	assert_string_equal(h.sni, "example.com");
	free(m);
}

static void test_strings(void **state)
{
	(void)state;
	for (int e = TLS_HELLO_E_NOT_HANDSHAKE; e < TLS_HELLO_E_COUNT; e++) {
		const char *s = tls_hello_strerror((enum tls_hello_error)e);
		assert_non_null(s);
		assert_true(strlen(s) > 10);
		assert_string_not_equal(s, "unknown error");
		assert_true(tls_hello_error_status((enum tls_hello_error)e) < 0);
	}
	assert_string_equal(tls_hello_strerror(TLS_HELLO_E_COUNT), "unknown error");
	assert_int_equal(tls_hello_error_status(TLS_HELLO_E_SSLV2), TLS_HELLO_NOT_TLS);
	assert_int_equal(tls_hello_error_status(TLS_HELLO_E_TOO_MANY_RECORDS), TLS_HELLO_TOO_LARGE);
	assert_int_equal(tls_hello_error_status(TLS_HELLO_E_SNI_INVALID), TLS_HELLO_SNI_INVALID);
	assert_string_equal(tls_hello_status_name(TLS_HELLO_SNI_INVALID), "sni-invalid");
	assert_string_equal(tls_hello_status_name(TLS_HELLO_NEED_MORE), "need-more");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_real_hello),
	        cmocka_unit_test(test_sni_case_folded),
	        cmocka_unit_test(test_no_sni),
	        cmocka_unit_test(test_empty_sni),
	        cmocka_unit_test(test_sni_invalid),
	        cmocka_unit_test(test_two_host_names),
	        cmocka_unit_test(test_duplicate_extension),
	        cmocka_unit_test(test_ech_flagged),
	        cmocka_unit_test(test_split_records),
	        cmocka_unit_test(test_too_many_records),
	        cmocka_unit_test(test_not_tls),
	        cmocka_unit_test(test_record_versions),
	        cmocka_unit_test(test_record_and_message_framing),
	        cmocka_unit_test(test_fixed_fields),
	        cmocka_unit_test(test_extension_lengths),
	        cmocka_unit_test(test_pre_shared_key_last),
	        cmocka_unit_test(test_too_large),
	        cmocka_unit_test(test_trailing_records_ignored),
	        cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
