/* The proxy's HTTP/1.x request-head parser. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "proxy/http_head.h"

/* Feed `len` bytes in pieces of `chunk` (0: all at once).  Returns the status
 * and, in *ret_used, how many bytes the parser took in total. */
static int feed_chunks(struct http_head *h, const char *text, size_t len, size_t chunk,
                       size_t *ret_used, struct diag *d)
{
	size_t off = 0, used = 0;
	int r = HTTP_HEAD_NEED_MORE;

	if (chunk == 0)
		chunk = len ? len : 1;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		size_t c = 0;
		r = http_head_feed(h, text + off, n, &c, d);
		used += c;
		off += n;
		if (r != HTTP_HEAD_NEED_MORE)
			break;
	}
	if (ret_used)
		*ret_used = used;
	return r;
}

static int parse_n(struct http_head *h, const char *text, size_t len, struct diag *d)
{
	http_head_init(h, 0);
	return feed_chunks(h, text, len, 0, NULL, d);
}

static void parse_ok(struct http_head *h, const char *text)
{
	struct diag d = {""};
	int r = parse_n(h, text, strlen(text), &d);
	if (r != HTTP_HEAD_DONE)
		fail_msg("head refused (%d): %s\n%s", r, d.msg, text);
	assert_int_equal(h->head_len, strlen(text));
}

static void refused_n(const char *text, size_t len, int status, const char *msg_part)
{
	struct http_head h;
	struct diag d = {""};
	int r = parse_n(&h, text, len, &d);
	if (r != status)
		fail_msg("expected %d (%s), got %d: %s", status, http_head_strerror(status), r,
		         d.msg);
	if (msg_part && !strstr(d.msg, msg_part))
		fail_msg("message lacks '%s': %s", msg_part, d.msg);
}

static void refused(const char *text, int status, const char *msg_part)
{
	refused_n(text, strlen(text), status, msg_part);
}

static void assert_span(const char *buf, uint32_t off, uint32_t len, const char *want)
{
	if (len != strlen(want) || memcmp(buf + off, want, len) != 0)
		fail_msg("span '%.*s' is not '%s'", (int)len, buf + off, want);
}

static void assert_name(const struct http_head *h, const char *name, uint16_t port)
{
	assert_false(h->host.is_addr);
	assert_string_equal(h->host.name, name);
	assert_int_equal(h->host.name_len, strlen(name));
	assert_int_equal(h->host.port, port);
}

static void assert_addr(const struct http_head *h, const char *addr, uint16_t port)
{
	uint8_t want[16] = {0};
	int family = strchr(addr, ':') ? 6 : 4;
	assert_int_equal(inet_pton(family == 6 ? AF_INET6 : AF_INET, addr, want), 1);
	assert_true(h->host.is_addr);
	assert_int_equal(h->host.family, family);
	assert_memory_equal(h->host.addr, want, family == 6 ? 16 : 4);
	assert_int_equal(h->host.port, port);
}

static void test_connect(void **state)
{
	struct http_head h;
	(void)state;

	const char *req = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
	parse_ok(&h, req);
	assert_int_equal(h.method, HTTP_METHOD_CONNECT);
	assert_int_equal(h.form, HTTP_FORM_AUTHORITY);
	assert_int_equal(h.version_minor, 1);
	assert_name(&h, "example.com", 443);
	assert_span(req, h.method_off, h.method_len, "CONNECT");
	assert_span(req, h.target_off, h.target_len, "example.com:443");
	assert_int_equal(h.path_len, 0);

	parse_ok(&h, "CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n");
	assert_addr(&h, "2001:db8::1", 443);
	parse_ok(&h, "CONNECT 192.0.2.7:8443 HTTP/1.0\r\n\r\n");
	assert_addr(&h, "192.0.2.7", 8443);
	assert_int_equal(h.version_minor, 0);

	/* The Host header plays no part in a CONNECT decision. */
	parse_ok(&h, "CONNECT example.com:443 HTTP/1.1\r\nHost: other.example\r\n\r\n");
	assert_name(&h, "example.com", 443);
	parse_ok(&h, "CONNECT example.com:443 HTTP/1.1\r\nHost: not a host!\r\n\r\n");
	/* ...but two of them are still refused. */
	refused("CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
	        HTTP_HEAD_E_DUP_HOST, "more than one Host");
}

static void test_connect_refused(void **state)
{
	(void)state;
	refused("CONNECT example.com HTTP/1.1\r\n\r\n", HTTP_HEAD_E_NO_PORT, "has no port");
	refused("CONNECT [2001:db8::1] HTTP/1.1\r\n\r\n", HTTP_HEAD_E_NO_PORT, "has no port");
	refused("CONNECT 2001:db8::1:443 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "brackets");
	refused("CONNECT example.com:0 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "not a port");
	refused("CONNECT example.com:65536 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "not a port");
	refused("CONNECT example.com: HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "empty port");
	refused("CONNECT [192.0.2.1]:443 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "IPv6");
	refused("CONNECT http://example.com:443/ HTTP/1.1\r\n\r\n", HTTP_HEAD_E_TARGET, "is a URL");
	refused("CONNECT /path HTTP/1.1\r\n\r\n", HTTP_HEAD_E_TARGET, "is a path");
	refused("CONNECT user@example.com:443 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_USERINFO, "user");
	refused("CONNECT *.example.com:443 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "wildcard");
}

static void test_absolute_form(void **state)
{
	struct http_head h;
	(void)state;

	const char *req = "GET http://example.com/index.html?q=1&r=2 HTTP/1.1\r\n"
	                  "Host: example.com\r\n\r\n";
	parse_ok(&h, req);
	assert_int_equal(h.method, HTTP_METHOD_GET);
	assert_int_equal(h.form, HTTP_FORM_ABSOLUTE);
	assert_name(&h, "example.com", 80);
	assert_span(req, h.path_off, h.path_len, "/index.html?q=1&r=2");
	assert_span(req, h.target_off, h.target_len, "http://example.com/index.html?q=1&r=2");

	req = "POST http://example.com:8080/api HTTP/1.1\r\nHost: example.com:8080\r\n"
	      "Content-Length: 0\r\n\r\n";
	parse_ok(&h, req);
	assert_int_equal(h.method, HTTP_METHOD_POST);
	assert_name(&h, "example.com", 8080);
	assert_span(req, h.path_off, h.path_len, "/api");

	/* No path, no Host header (allowed with absolute-form), upper-case scheme. */
	req = "HEAD HTTP://example.com HTTP/1.0\r\n\r\n";
	parse_ok(&h, req);
	assert_int_equal(h.method, HTTP_METHOD_HEAD);
	assert_name(&h, "example.com", 80);
	assert_int_equal(h.path_len, 0);
	assert_false(http_head_has(&h, HTTP_HDR_HOST));

	req = "GET http://example.com?x=1 HTTP/1.1\r\n\r\n";
	parse_ok(&h, req);
	assert_span(req, h.path_off, h.path_len, "?x=1");

	/* A '@' after the authority is part of the path, not userinfo. */
	req = "GET http://example.com/a@b HTTP/1.1\r\n\r\n";
	parse_ok(&h, req);
	assert_name(&h, "example.com", 80);
	assert_span(req, h.path_off, h.path_len, "/a@b");
}

static void test_absolute_refused(void **state)
{
	(void)state;
	refused("GET https://example.com/ HTTP/1.1\r\n\r\n", HTTP_HEAD_E_HTTPS_ABSOLUTE,
	        "use CONNECT");
	refused("GET HTTPS://example.com:443/ HTTP/1.1\r\n\r\n", HTTP_HEAD_E_HTTPS_ABSOLUTE, NULL);
	refused("GET ftp://example.com/ HTTP/1.1\r\n\r\n", HTTP_HEAD_E_TARGET, "not http");
	refused("GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n", HTTP_HEAD_E_USERINFO,
	        "user name");
	refused("GET http://good.example@evil.example/ HTTP/1.1\r\n\r\n", HTTP_HEAD_E_USERINFO,
	        NULL);
	refused("GET http:///path HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "empty host");
	refused("GET example.com:80 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_TARGET, "CONNECT only");
	refused("GET www.example.com/some/long/path HTTP/1.1\r\n\r\n", HTTP_HEAD_E_TARGET, NULL);
	refused("OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n", HTTP_HEAD_E_TARGET, "asterisk");
	refused("GET http://ex%61mple.com/ HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, NULL);
}

/* A host longer than any rule can name is refused: just over the limit by
 * the name's own check, far over it where it is read (the parser captures
 * HTTP_HEAD_AUTHORITY_MAX and a little more), in every form's target and in
 * the Host header. */
static void refused_long_hosts(size_t len, const char *in_target, const char *in_header)
{
	char host[HTTP_HEAD_AUTHORITY_MAX + 64];
	char req[2 * sizeof(host)];

	assert_true(len < sizeof(host));
	memset(host, 'a', len);
	host[len] = '\0';
	snprintf(req, sizeof(req), "CONNECT %s:443 HTTP/1.1\r\n\r\n", host);
	refused(req, HTTP_HEAD_E_BAD_HOST, in_target);
	snprintf(req, sizeof(req), "GET http://%s/ HTTP/1.1\r\n\r\n", host);
	refused(req, HTTP_HEAD_E_BAD_HOST, in_target);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
	refused(req, HTTP_HEAD_E_BAD_HOST, in_header);
}

static void test_long_hosts(void **state)
{
	(void)state;
	refused_long_hosts(HTTP_HEAD_AUTHORITY_MAX + 1, "too long", "too long");
	refused_long_hosts(HTTP_HEAD_AUTHORITY_MAX + 32,
	                   "host in the request target is longer than", "Host header of");
}

static void test_origin_form(void **state)
{
	struct http_head h;
	(void)state;

	const char *req =
	        "GET /a/b?c=d HTTP/1.1\r\nUser-Agent: t\r\nHost: Example.COM.:8080\r\n\r\n";
	parse_ok(&h, req);
	assert_int_equal(h.form, HTTP_FORM_ORIGIN);
	assert_name(&h, "example.com", 8080);
	assert_span(req, h.path_off, h.path_len, "/a/b?c=d");
	assert_span(req, h.target_off, h.target_len, "/a/b?c=d");

	parse_ok(&h, "GET / HTTP/1.1\r\nHost:example.com\r\n\r\n");
	assert_name(&h, "example.com", 80);
	parse_ok(&h, "GET / HTTP/1.1\r\nHost: \t[2001:db8::2] \t\r\n\r\n");
	assert_addr(&h, "2001:db8::2", 80);

	/* Methods are case-sensitive tokens: "get" is some other method. */
	parse_ok(&h, "get / HTTP/1.1\r\nHost: example.com\r\n\r\n");
	assert_int_equal(h.method, HTTP_METHOD_OTHER);
	parse_ok(&h, "PROPFIND / HTTP/1.1\r\nHost: example.com\r\n\r\n");
	assert_int_equal(h.method, HTTP_METHOD_OTHER);
	parse_ok(&h, "PATCH / HTTP/1.1\r\nHost: example.com\r\n\r\n");
	assert_int_equal(h.method, HTTP_METHOD_PATCH);
	assert_string_equal(http_method_name(h.method), "PATCH");

	/* Empty lines before the request line are skipped (RFC 9112 2.2). */
	req = "\r\n\r\nGET /x HTTP/1.1\r\nHost: example.com\r\n\r\n";
	parse_ok(&h, req);
	assert_span(req, h.method_off, h.method_len, "GET");
	assert_span(req, h.path_off, h.path_len, "/x");
}

static void test_host_header(void **state)
{
	struct http_head h;
	(void)state;

	refused("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", HTTP_HEAD_E_MISSING_HOST,
	        "without a Host");
	refused("GET / HTTP/1.0\r\n\r\n", HTTP_HEAD_E_MISSING_HOST, NULL);
	refused("GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n",
	        HTTP_HEAD_E_DUP_HOST, NULL);
	refused("GET / HTTP/1.1\r\nHost: a.example\r\nHOST: b.example\r\n\r\n",
	        HTTP_HEAD_E_DUP_HOST, NULL);
	refused("GET / HTTP/1.1\r\nHost:\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "empty host");
	refused("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "Host header");

	/* Absolute-form: Host must agree after canonicalisation, port included. */
	refused("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n",
	        HTTP_HEAD_E_HOST_MISMATCH,
	        "'b.example:80' disagrees with the request target "
	        "'a.example:80'");
	refused("GET http://a.example/ HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
	        HTTP_HEAD_E_HOST_MISMATCH, NULL);
	refused("GET http://192.0.2.1/ HTTP/1.1\r\nHost: 192.0.2.2\r\n\r\n",
	        HTTP_HEAD_E_HOST_MISMATCH, NULL);
	parse_ok(&h, "GET http://a.example/ HTTP/1.1\r\nHost: A.Example.:80\r\n\r\n");
	assert_name(&h, "a.example", 80);
	parse_ok(&h, "GET http://[2001:db8::1]:81/ HTTP/1.1\r\nHost: [2001:db8:0::1]:81\r\n\r\n");
	assert_addr(&h, "2001:db8::1", 81);
}

static void test_canonical_names(void **state)
{
	struct http_head h;
	(void)state;

	parse_ok(&h, "CONNECT Example.COM.:443 HTTP/1.1\r\n\r\n");
	assert_name(&h, "example.com", 443);
	parse_ok(&h, "GET http://WWW.Example.Com./ HTTP/1.1\r\n\r\n");
	assert_name(&h, "www.example.com", 80);

	parse_ok(&h, "CONNECT xn--bcher-kva.example:443 HTTP/1.1\r\n\r\n");
	assert_name(&h, "xn--bcher-kva.example", 443);
	parse_ok(&h, "GET / HTTP/1.1\r\nHost: B\xc3\xbc"
	             "cher.example\r\n\r\n");
	assert_name(&h, "xn--bcher-kva.example", 80);
	parse_ok(&h, "GET http://xn--bcher-kva.example/ HTTP/1.1\r\nHost: b\xc3\xbc"
	             "cher.example\r\n\r\n");
	refused("CONNECT xn--zz.example:443 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "punycode");
}

static void test_ip_literals(void **state)
{
	struct http_head h;
	(void)state;

	parse_ok(&h, "GET http://192.0.2.1:8080/ HTTP/1.1\r\n\r\n");
	assert_addr(&h, "192.0.2.1", 8080);
	parse_ok(&h, "GET http://[2001:db8::1]/ HTTP/1.1\r\n\r\n");
	assert_addr(&h, "2001:db8::1", 80);
	parse_ok(&h, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	assert_addr(&h, "127.0.0.1", 80);

	/* Legacy IPv4 spellings must not pass as names. */
	refused("CONNECT 2130706433:443 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "CONNECT target");
	refused("GET http://0x7f.1/ HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "request target");
	refused("GET / HTTP/1.1\r\nHost: 127.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, "Host header");
	refused("GET / HTTP/1.1\r\nHost: 0177.0.0.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, NULL);
	refused("CONNECT [fe80::1%25eth0]:443 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_BAD_HOST, NULL);
}

static void test_bytes(void **state)
{
	(void)state;
	static const char nul_value[] = "GET / HTTP/1.1\r\nHost: example.com\r\nX: a\0b\r\n\r\n";
	static const char nul_target[] = "GET /\0 HTTP/1.1\r\n\r\n";
	refused_n(nul_value, sizeof(nul_value) - 1, HTTP_HEAD_E_NUL, "NUL byte at offset 39");
	refused_n(nul_target, sizeof(nul_target) - 1, HTTP_HEAD_E_NUL, NULL);
	refused("GET / HTTP/1.1\r\nHost: example.com\r\nX: a\rb\r\n\r\n", HTTP_HEAD_E_BARE_CR,
	        NULL);
	refused("GET / HTTP/1.1\rHost: example.com\r\n\r\n", HTTP_HEAD_E_BARE_CR, NULL);
	refused("GET / HTTP/1.1\r\nHost: example.com\r\n\rX", HTTP_HEAD_E_BARE_CR, NULL);
	refused("GET / HTTP/1.1\nHost: example.com\r\n\r\n", HTTP_HEAD_E_BARE_LF, NULL);
	refused("GET / HTTP/1.1\r\nHost: example.com\n\r\n", HTTP_HEAD_E_BARE_LF, NULL);
	refused("GET / HTTP/1.1\r\nHost: example.com\r\n\n", HTTP_HEAD_E_BARE_LF, NULL);
	refused("GET /\x01 HTTP/1.1\r\n\r\n", HTTP_HEAD_E_CTL, "request line");
	refused("GET\t/ HTTP/1.1\r\n\r\n", HTTP_HEAD_E_CTL, NULL);
	refused("GET /\x7f HTTP/1.1\r\n\r\n", HTTP_HEAD_E_CTL, NULL);
	refused("GET / HTTP/1.1\r\nHost: example.com\r\nX: a\x1b[0m\r\n\r\n", HTTP_HEAD_E_CTL,
	        "header value");

	struct http_head h;
	parse_ok(&h, "GET / HTTP/1.1\r\nHost: example.com\r\nX: \xff\xfe\tz\r\n\r\n");
}

static void test_request_line(void **state)
{
	(void)state;
	refused("GET  / HTTP/1.1\r\n\r\n", HTTP_HEAD_E_REQUEST_LINE, "one space");
	refused(" GET / HTTP/1.1\r\n\r\n", HTTP_HEAD_E_REQUEST_LINE, NULL);
	refused("G(ET / HTTP/1.1\r\n\r\n", HTTP_HEAD_E_REQUEST_LINE, "in the method");
	refused("GETGETGETGETGETGETGETGETGETGETGET / HTTP/1.1\r\n\r\n", HTTP_HEAD_E_REQUEST_LINE,
	        "longer than 32");
	refused("GET / HTTP/2.0\r\n\r\n", HTTP_HEAD_E_VERSION, "'HTTP/2.0'");
	refused("GET / HTTP/0.9\r\n\r\n", HTTP_HEAD_E_VERSION, NULL);
	refused("GET /\r\n\r\n", HTTP_HEAD_E_VERSION, "HTTP/0.9");
	refused("GET / HTTP/1.10\r\n\r\n", HTTP_HEAD_E_VERSION, NULL);
	refused("GET / http/1.1\r\n\r\n", HTTP_HEAD_E_VERSION, NULL);
	refused("GET / HTTP/1.1 \r\n\r\n", HTTP_HEAD_E_VERSION, NULL);
	refused("GET / HTTP/1.\r\n\r\n", HTTP_HEAD_E_VERSION, NULL);
}

static void test_header_syntax(void **state)
{
	(void)state;
	refused("GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n  continued\r\n\r\n",
	        HTTP_HEAD_E_OBS_FOLD, "obs-fold");
	refused("GET / HTTP/1.1\r\n\tHost: example.com\r\n\r\n", HTTP_HEAD_E_OBS_FOLD, NULL);
	refused("GET / HTTP/1.1\r\nHost : example.com\r\n\r\n", HTTP_HEAD_E_HEADER_SYNTAX,
	        "before the colon");
	refused("GET / HTTP/1.1\r\n: x\r\n\r\n", HTTP_HEAD_E_HEADER_SYNTAX, "empty name");
	refused("GET / HTTP/1.1\r\nHost\r\n\r\n", HTTP_HEAD_E_HEADER_SYNTAX, "without a colon");
	refused("GET / HTTP/1.1\r\nX(y): 1\r\n\r\n", HTTP_HEAD_E_HEADER_SYNTAX, "header name");
}

/* n header lines ("Host" first). */
static char *many_headers(unsigned n)
{
	size_t size = 64 + (size_t)n * 16, off = 0;
	char *buf = malloc(size);
	assert_non_null(buf);
	off += (size_t)snprintf(buf, size, "GET / HTTP/1.1\r\nHost: example.com\r\n");
	for (unsigned i = 1; i < n; i++)
		off += (size_t)snprintf(buf + off, size - off, "X-%u: v\r\n", i);
	snprintf(buf + off, size - off, "\r\n");
	return buf;
}

static void test_header_flood(void **state)
{
	struct http_head h;
	(void)state;

	char *ok = many_headers(100);
	parse_ok(&h, ok);
	assert_int_equal(h.n_headers, 100);
	free(ok);
	char *flood = many_headers(101);
	refused(flood, HTTP_HEAD_E_TOO_MANY_HEADERS, "more than 100 header lines");
	free(flood);
}

/* A request whose one header line grows to `len` bytes, never ending. */
static char *huge_head(size_t len)
{
	char *buf = malloc(len);
	assert_non_null(buf);
	memset(buf, 'a', len);
	memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
	return buf;
}

static void test_size_cap(void **state)
{
	struct http_head h;
	struct diag d = {""};
	size_t used;
	(void)state;

	/* 1 MiB without a line end: refused at the cap, whatever the chunking. */
	size_t big = 1024 * 1024;
	char *buf = huge_head(big);
	size_t chunks[] = {1, 4096, 1000, 0};
	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		http_head_init(&h, 0);
		int r = feed_chunks(&h, buf, big, chunks[i], &used, &d);
		assert_int_equal(r, HTTP_HEAD_E_TOO_LARGE);
		assert_int_equal(used, HTTP_HEAD_DEFAULT_SIZE + 1); /* through the byte past it */
		assert_string_equal(d.msg, "request head larger than 16384 bytes");
	}
	/* Byte by byte: still waiting after exactly the cap. */
	http_head_init(&h, 0);
	assert_int_equal(feed_chunks(&h, buf, HTTP_HEAD_DEFAULT_SIZE, 1, &used, NULL),
	                 HTTP_HEAD_NEED_MORE);
	assert_int_equal(http_head_feed(&h, "a", 1, &used, NULL), HTTP_HEAD_E_TOO_LARGE);
	free(buf);

	/* A complete head of exactly the cap passes; one byte more does not. */
	size_t cap = 200;
	char req[256];
	memset(req, 'b', sizeof(req));
	memcpy(req, "GET / HTTP/1.1\r\nHost: example.com\r\nX: ", 38);
	memcpy(req + cap - 4, "\r\n\r\n", 4);
	http_head_init(&h, cap);
	assert_int_equal(feed_chunks(&h, req, cap, 1, &used, NULL), HTTP_HEAD_DONE);
	assert_int_equal(h.head_len, cap);
	http_head_init(&h, cap - 1);
	assert_int_equal(feed_chunks(&h, req, cap, 1, &used, &d), HTTP_HEAD_E_TOO_LARGE);
	assert_string_equal(d.msg, "request head larger than 199 bytes");
}

static void test_body_not_consumed(void **state)
{
	struct http_head h;
	size_t used;
	(void)state;

	const char *req =
	        "POST /up HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello";
	size_t len = strlen(req);
	http_head_init(&h, 0);
	assert_int_equal(http_head_feed(&h, req, len, &used, NULL), HTTP_HEAD_DONE);
	assert_int_equal(used, len - 5);
	assert_int_equal(h.head_len, len - 5);
	assert_true(h.has_content_length);
	assert_int_equal(h.content_length, 5);
	/* Done is sticky and takes nothing more. */
	assert_int_equal(http_head_feed(&h, "more", 4, &used, NULL), HTTP_HEAD_DONE);
	assert_int_equal(used, 0);

	/* The same in two pieces: the second one is partly tunnel data. */
	const char *con = "CONNECT example.com:443 HTTP/1.1\r\n\r\n\x16\x03\x01";
	http_head_init(&h, 0);
	assert_int_equal(http_head_feed(&h, con, 20, &used, NULL), HTTP_HEAD_NEED_MORE);
	assert_int_equal(used, 20);
	assert_int_equal(http_head_feed(&h, con + 20, strlen(con) - 20, &used, NULL),
	                 HTTP_HEAD_DONE);
	assert_int_equal(used, strlen(con) - 20 - 3);
	assert_int_equal(h.head_len, strlen(con) - 3);
}

static void test_framing(void **state)
{
	struct http_head h;
	(void)state;

	parse_ok(&h, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
	assert_true(h.chunked);
	assert_false(h.has_content_length);
	parse_ok(&h, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \r\n\r\n");
	assert_true(h.chunked);
	parse_ok(&h, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n");
	assert_int_equal(h.content_length, INT64_MAX);
	parse_ok(&h, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n");
	assert_int_equal(h.content_length, 7);

	refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: "
	        "chunked\r\n\r\n",
	        HTTP_HEAD_E_SMUGGLING, "request smuggling");
	refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: "
	        "5\r\n\r\n",
	        HTTP_HEAD_E_SMUGGLING, NULL);
	refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	        HTTP_HEAD_E_DUP_CONTENT_LENGTH, NULL);
	refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	        HTTP_HEAD_E_DUP_CONTENT_LENGTH, NULL);
	refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
	        HTTP_HEAD_E_CONTENT_LENGTH, "larger than");
	refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n",
	        HTTP_HEAD_E_CONTENT_LENGTH, "larger than");
	char long_cl[2100];
	int n = snprintf(long_cl, sizeof(long_cl),
	                 "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ");
	memset(long_cl + n, '7', 2000);
	memcpy(long_cl + n + 2000, "\r\n\r\n", 5);
	refused(long_cl, HTTP_HEAD_E_CONTENT_LENGTH, "larger than");
	const char *bad_cl[] = {"-1", "+5", "1 2", "5, 5", "0x10", "", "1e3"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_cl); i++) {
		char req[128];
		snprintf(req, sizeof(req),
		         "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n", bad_cl[i]);
		refused(req, HTTP_HEAD_E_CONTENT_LENGTH, "not a number");
	}
	const char *bad_te[] = {"gzip, chunked", "gzip", "chunked, gzip", "chunked;x=1", "xchunked",
	                        "identity",      ""};
	for (size_t i = 0; i < ARRAY_SIZE(bad_te); i++) {
		char req[128];
		snprintf(req, sizeof(req),
		         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n", bad_te[i]);
		refused(req, HTTP_HEAD_E_TRANSFER_ENCODING, "only 'chunked'");
	}
	refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
	        "chunked\r\n\r\n",
	        HTTP_HEAD_E_TRANSFER_ENCODING, "more than one");
	refused("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	        HTTP_HEAD_E_TRANSFER_ENCODING, "HTTP/1.0");
}

static void test_hop_by_hop(void **state)
{
	struct http_head h;
	char out[512];
	size_t n = 0;
	(void)state;

	const char *req = "GET http://example.com/ HTTP/1.1\r\n"
	                  "Host: example.com\r\n"
	                  "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
	                  "Proxy-Connection: keep-alive\r\n"
	                  "Connection:  Upgrade, X-Secret \r\n"
	                  "Upgrade: websocket\r\n"
	                  "Keep-Alive: 5\r\n"
	                  "TE: trailers\r\n"
	                  "Accept: */*\r\n"
	                  "\r\n";
	parse_ok(&h, req);
	assert_int_equal(h.n_headers, 8);
	assert_true(http_head_has(&h, HTTP_HDR_PROXY_AUTHORIZATION));
	assert_true(http_head_has(&h, HTTP_HDR_PROXY_CONNECTION));
	assert_true(http_head_has(&h, HTTP_HDR_CONNECTION));
	assert_true(http_head_has(&h, HTTP_HDR_UPGRADE));
	assert_true(http_head_has(&h, HTTP_HDR_KEEP_ALIVE));
	assert_true(http_head_has(&h, HTTP_HDR_TE));
	assert_false(http_head_has(&h, HTTP_HDR_TRAILER));
	assert_false(http_head_has(&h, HTTP_HDR_CONTENT_LENGTH));

	const struct http_header *c = &h.headers[3];
	assert_int_equal(c->kind, HTTP_HDR_CONNECTION);
	assert_span(req, c->line_off, c->name_len, "Connection");
	assert_span(req, c->value_off, c->value_len, "Upgrade, X-Secret");
	assert_span(req, c->line_off, c->line_len, "Connection:  Upgrade, X-Secret \r\n");

	/* Forwarding end to end with the hop-by-hop lines left out. */
	for (unsigned i = 0; i < h.n_headers; i++) {
		const struct http_header *hd = &h.headers[i];
		if (hd->kind != HTTP_HDR_OTHER && hd->kind != HTTP_HDR_HOST)
			continue;
		memcpy(out + n, req + hd->line_off, hd->line_len);
		n += hd->line_len;
	}
	out[n] = '\0';
	assert_string_equal(out, "Host: example.com\r\nAccept: */*\r\n");
	assert_int_equal(h.headers[7].line_off + h.headers[7].line_len + 2, h.head_len);
}

/* Every observable result of a parse, to compare two parses. */
static void assert_same_result(const struct http_head *a, int ra, const struct http_head *b, int rb,
                               const char *what, size_t split)
{
	if (ra != rb)
		fail_msg("%s: %d in one go, %d when split at %zu", what, ra, rb, split);
	if (ra != HTTP_HEAD_DONE)
		return;
	assert_int_equal(a->head_len, b->head_len);
	assert_int_equal(a->method, b->method);
	assert_int_equal(a->form, b->form);
	assert_int_equal(a->target_off, b->target_off);
	assert_int_equal(a->target_len, b->target_len);
	assert_int_equal(a->path_off, b->path_off);
	assert_int_equal(a->path_len, b->path_len);
	assert_memory_equal(&a->host, &b->host, sizeof(a->host));
	assert_int_equal(a->content_length, b->content_length);
	assert_int_equal(a->chunked, b->chunked);
	assert_int_equal(a->seen, b->seen);
	assert_int_equal(a->n_headers, b->n_headers);
	assert_memory_equal(a->headers, b->headers, a->n_headers * sizeof(a->headers[0]));
}

static void test_any_split(void **state)
{
	static const char *const samples[] = {
	        "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: x\r\n\r\nTLS",
	        "GET http://Example.COM.:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n"
	        "Connection: close\r\n\r\n",
	        "\r\nPOST /up HTTP/1.1\r\nHost: b\xc3\xbc"
	        "cher.example\r\nContent-Length: 12\r\n\r\nbody",
	        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	        "GET https://example.com/ HTTP/1.1\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n y\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: "
	        "chunked\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: 0x7f.1\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
	};
	(void)state;

	for (size_t s = 0; s < ARRAY_SIZE(samples); s++) {
		const char *req = samples[s];
		size_t len = strlen(req), used;
		struct http_head whole, split;
		int rw = parse_n(&whole, req, len, NULL);

		for (size_t cut = 0; cut <= len; cut++) {
			http_head_init(&split, 0);
			int r = http_head_feed(&split, req, cut, &used, NULL);
			if (r == HTTP_HEAD_NEED_MORE)
				r = http_head_feed(&split, req + cut, len - cut, &used, NULL);
			assert_same_result(&whole, rw, &split, r, req, cut);
		}
		http_head_init(&split, 0);
		int r = feed_chunks(&split, req, len, 1, &used, NULL);
		assert_same_result(&whole, rw, &split, r, req, 1);
	}
}

static void test_sticky_and_text(void **state)
{
	struct http_head h;
	struct diag d = {""};
	size_t used;
	(void)state;

	http_head_init(&h, 0);
	assert_int_equal(http_head_feed(&h, "GET / HTTP/2.0\r\n", 16, &used, NULL),
	                 HTTP_HEAD_E_VERSION);
	assert_int_equal(used, 15); /* through the CR that ended the version */
	assert_int_equal(http_head_feed(&h, "\r\n", 2, &used, &d), HTTP_HEAD_E_VERSION);
	assert_int_equal(used, 0);
	assert_string_equal(d.msg, http_head_strerror(HTTP_HEAD_E_VERSION));

	/* Every error has its own sentence. */
	for (int a = HTTP_HEAD_E_SMUGGLING; a <= HTTP_HEAD_E_TOO_LARGE; a++) {
		assert_string_not_equal(http_head_strerror(a), "unknown request head error");
		for (int b = a + 1; b <= HTTP_HEAD_E_TOO_LARGE; b++)
			assert_string_not_equal(http_head_strerror(a), http_head_strerror(b));
	}
	assert_string_equal(http_head_strerror(HTTP_HEAD_E_SMUGGLING),
	                    "conflicting Content-Length and Transfer-Encoding (request smuggling)");
	assert_string_equal(http_head_strerror(-99), "unknown request head error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_connect),         cmocka_unit_test(test_connect_refused),
	        cmocka_unit_test(test_absolute_form),   cmocka_unit_test(test_absolute_refused),
	        cmocka_unit_test(test_origin_form),     cmocka_unit_test(test_host_header),
	        cmocka_unit_test(test_canonical_names), cmocka_unit_test(test_ip_literals),
	        cmocka_unit_test(test_bytes),           cmocka_unit_test(test_request_line),
	        cmocka_unit_test(test_header_syntax),   cmocka_unit_test(test_header_flood),
	        cmocka_unit_test(test_size_cap),        cmocka_unit_test(test_body_not_consumed),
	        cmocka_unit_test(test_framing),         cmocka_unit_test(test_hop_by_hop),
	        cmocka_unit_test(test_any_split),       cmocka_unit_test(test_sticky_and_text),
	        cmocka_unit_test(test_long_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
