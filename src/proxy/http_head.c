#include "proxy/http_head.h"

#include <string.h>

#include "util/macros.h"

/* One state per place in the grammar; the current byte decides the next. */
enum state {
	S_START,        /* before the method; empty lines skipped */
	S_START_CR,     /* CR of a leading empty line */
	S_METHOD,       /* method token */
	S_TARGET_START, /* first byte of the request-target */
	S_TARGET_CAP,   /* scheme and authority, or CONNECT's authority: captured */
	S_TARGET_PATH,  /* path and query: checked, not captured */
	S_VERSION,      /* HTTP-version: captured */
	S_RL_CR,        /* CR ending the request line */
	S_LINE_START,   /* first byte of a field line, or CR of the empty line */
	S_NAME,         /* field name */
	S_VALUE_OWS,    /* whitespace before the value */
	S_VALUE,        /* field value */
	S_VALUE_CR,     /* CR ending a field line */
	S_END_CR,       /* CR of the empty line */
};

#define SCHEME_MAX 16 /* "://" must start within this many bytes */

static const char *const method_names[] = {
        [HTTP_METHOD_OTHER] = "OTHER",   [HTTP_METHOD_CONNECT] = "CONNECT",
        [HTTP_METHOD_GET] = "GET",       [HTTP_METHOD_HEAD] = "HEAD",
        [HTTP_METHOD_POST] = "POST",     [HTTP_METHOD_PUT] = "PUT",
        [HTTP_METHOD_DELETE] = "DELETE", [HTTP_METHOD_OPTIONS] = "OPTIONS",
        [HTTP_METHOD_PATCH] = "PATCH",   [HTTP_METHOD_TRACE] = "TRACE",
};

/* Field names matched case-insensitively; the longest must fit h->name. */
static const struct {
	const char *name;
	enum http_header_kind kind;
} header_names[] = {
        {"host", HTTP_HDR_HOST},
        {"content-length", HTTP_HDR_CONTENT_LENGTH},
        {"transfer-encoding", HTTP_HDR_TRANSFER_ENCODING},
        {"connection", HTTP_HDR_CONNECTION},
        {"proxy-connection", HTTP_HDR_PROXY_CONNECTION},
        {"proxy-authorization", HTTP_HDR_PROXY_AUTHORIZATION},
        {"keep-alive", HTTP_HDR_KEEP_ALIVE},
        {"te", HTTP_HDR_TE},
        {"trailer", HTTP_HDR_TRAILER},
        {"upgrade", HTTP_HDR_UPGRADE},
};

const char *http_method_name(enum http_method m)
{
	if ((unsigned)m >= ARRAY_SIZE(method_names))
		return "OTHER";
	return method_names[m];
}

const char *http_head_strerror(int status)
{
	switch ((enum http_head_status)status) {
	case HTTP_HEAD_NEED_MORE:
		return "request head incomplete";
	case HTTP_HEAD_DONE:
		return "request head complete";
	case HTTP_HEAD_E_TOO_LARGE:
		return "request head larger than the size limit";
	case HTTP_HEAD_E_NUL:
		return "NUL byte in the request head";
	case HTTP_HEAD_E_BARE_CR:
		return "CR not followed by LF in the request head";
	case HTTP_HEAD_E_BARE_LF:
		return "line ends with LF alone; HTTP lines end with CRLF";
	case HTTP_HEAD_E_CTL:
		return "control character in the request line or a header value";
	case HTTP_HEAD_E_REQUEST_LINE:
		return "malformed request line";
	case HTTP_HEAD_E_VERSION:
		return "HTTP version not supported; only HTTP/1.0 and HTTP/1.1";
	case HTTP_HEAD_E_TARGET:
		return "request target not usable through this proxy";
	case HTTP_HEAD_E_HTTPS_ABSOLUTE:
		return "https:// request target; use CONNECT for https";
	case HTTP_HEAD_E_USERINFO:
		return "user name in the request target";
	case HTTP_HEAD_E_NO_PORT:
		return "CONNECT target without a port";
	case HTTP_HEAD_E_BAD_HOST:
		return "host name or port not acceptable";
	case HTTP_HEAD_E_HEADER_SYNTAX:
		return "malformed header line";
	case HTTP_HEAD_E_OBS_FOLD:
		return "folded header line (obs-fold)";
	case HTTP_HEAD_E_TOO_MANY_HEADERS:
		return "too many header lines";
	case HTTP_HEAD_E_MISSING_HOST:
		return "no Host header";
	case HTTP_HEAD_E_DUP_HOST:
		return "more than one Host header";
	case HTTP_HEAD_E_HOST_MISMATCH:
		return "Host header disagrees with the request target";
	case HTTP_HEAD_E_CONTENT_LENGTH:
		return "invalid Content-Length";
	case HTTP_HEAD_E_DUP_CONTENT_LENGTH:
		return "more than one Content-Length header";
	case HTTP_HEAD_E_TRANSFER_ENCODING:
		return "Transfer-Encoding other than chunked";
	case HTTP_HEAD_E_SMUGGLING:
		return "conflicting Content-Length and Transfer-Encoding (request smuggling)";
	}
	return "unknown request head error";
}

void http_head_init(struct http_head *h, size_t max_size)
{
	memset(h, 0, sizeof(*h));
	if (max_size == 0)
		max_size = HTTP_HEAD_DEFAULT_SIZE;
	if (max_size > HTTP_HEAD_SIZE_LIMIT)
		max_size = HTTP_HEAD_SIZE_LIMIT;
	h->max_size = max_size;
	h->status = HTTP_HEAD_NEED_MORE;
	h->state = S_START;
}

/* tchar of RFC 9110 5.6.2: what method and field names are made of. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Control bytes: everything below SP, and DEL. */
static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool eq_nocase(const char *a, size_t len, const char *lit)
{
	if (strlen(lit) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (lower((unsigned char)a[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

/* Record `status` as the head's sticky outcome. */
static int set_status(struct http_head *h, int status)
{
	h->status = status;
	return status;
}

static bool cap_push(struct http_head *h, unsigned char c)
{
	if (h->cap_len >= sizeof(h->cap))
		return false;
	h->cap[h->cap_len++] = (char)c;
	return true;
}

/* Parse "host[:port]" or "[v6][:port]" into `t`; with default_port 0 the port
 * is required.  The host goes through target_parse(), so names come out of
 * name_normalize() and addresses out of inet_pton(). */
static int parse_authority(const char *s, size_t len, uint16_t default_port, struct target *t,
                           const char *what, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	bool has_port;

	if (len == 0)
		return diag_fail(d, HTTP_HEAD_E_BAD_HOST, "%s: empty host", what);
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		has_port = close && (size_t)(close - s) + 1 < len && close[1] == ':';
	} else {
		const char *first = memchr(s, ':', len);
		if (first && memrchr(s, ':', len) != first)
			return diag_fail(d, HTTP_HEAD_E_BAD_HOST,
			                 "%s: '%s': an IPv6 address needs brackets, as in "
			                 "[2001:db8::1]:443",
			                 what, diag_escape(s, len, esc, sizeof(esc)));
		has_port = first != NULL;
	}
	if (!has_port && default_port == 0)
		return diag_fail(d, HTTP_HEAD_E_NO_PORT, "%s: '%s' has no port; write host:port",
		                 what, diag_escape(s, len, esc, sizeof(esc)));
	if (target_parse(s, len, t, d) < 0) {
		diag_prefix(d, "%s: ", what);
		return HTTP_HEAD_E_BAD_HOST;
	}
	if (t->port == 0)
		t->port = default_port;
	return 0;
}

static bool same_target(const struct target *a, const struct target *b)
{
	if (a->is_addr != b->is_addr || a->port != b->port)
		return false;
	if (a->is_addr)
		return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
	return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

/* The request-target ended (at h->pos, its closing SP): check its form
 * against the method and parse its authority into h->host. */
static int finish_target(struct http_head *h, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	const char *auth = h->cap + h->auth_start;
	size_t auth_len = h->cap_len - h->auth_start;

	h->target_len = (uint32_t)(h->pos - h->target_off);
	if (h->form == HTTP_FORM_ORIGIN) {
		h->path_len = h->target_len;
		return 0;
	}
	if (h->state == S_TARGET_CAP) /* no path after the authority */
		h->path_off = (uint32_t)h->pos;
	h->path_len = (uint32_t)(h->pos - h->path_off);

	if (h->method == HTTP_METHOD_CONNECT) {
		h->form = HTTP_FORM_AUTHORITY;
		h->path_len = 0;
		if (h->auth_start)
			return diag_fail(d, HTTP_HEAD_E_TARGET,
			                 "CONNECT target '%s' is a URL; CONNECT takes host:port",
			                 diag_escape(h->cap, h->cap_len, esc, sizeof(esc)));
		if (memchr(h->cap, '@', h->cap_len))
			return diag_fail(d, HTTP_HEAD_E_USERINFO,
			                 "CONNECT target '%s' has a user name ('@')",
			                 diag_escape(h->cap, h->cap_len, esc, sizeof(esc)));
		return parse_authority(h->cap, h->cap_len, 0, &h->host, "CONNECT target", d);
	}

	h->form = HTTP_FORM_ABSOLUTE;
	if (h->cap_len == 1 && h->cap[0] == '*')
		return diag_fail(d, HTTP_HEAD_E_TARGET,
		                 "'%s *' (asterisk-form) names no host; send it to the server",
		                 http_method_name(h->method));
	if (!h->auth_start)
		return diag_fail(d, HTTP_HEAD_E_TARGET,
		                 "request target '%s' is neither /path nor http://host/path "
		                 "(host:port is for CONNECT only)",
		                 diag_escape(h->cap, h->cap_len, esc, sizeof(esc)));
	size_t scheme_len = h->auth_start - 3;
	if (eq_nocase(h->cap, scheme_len, "https"))
		return diag_fail(d, HTTP_HEAD_E_HTTPS_ABSOLUTE,
		                 "request target '%s' is https://; use CONNECT for https",
		                 diag_escape(h->cap, h->cap_len, esc, sizeof(esc)));
	if (!eq_nocase(h->cap, scheme_len, "http"))
		return diag_fail(d, HTTP_HEAD_E_TARGET,
		                 "request target scheme '%s' is not http; only http:// URLs "
		                 "and CONNECT go through this proxy",
		                 diag_escape(h->cap, scheme_len, esc, sizeof(esc)));
	if (memchr(auth, '@', auth_len))
		return diag_fail(d, HTTP_HEAD_E_USERINFO,
		                 "request target authority '%s' has a user name ('@'); "
		                 "credentials do not belong in the URL",
		                 diag_escape(auth, auth_len, esc, sizeof(esc)));
	return parse_authority(auth, auth_len, 80, &h->host, "request target", d);
}

static enum http_method classify_method(const char *s, size_t len)
{
	for (size_t m = 1; m < ARRAY_SIZE(method_names); m++)
		if (strlen(method_names[m]) == len && memcmp(method_names[m], s, len) == 0)
			return (enum http_method)m;
	return HTTP_METHOD_OTHER;
}

static enum http_header_kind classify_header(const char *lname, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(header_names); i++)
		if (strlen(header_names[i].name) == len &&
		    memcmp(header_names[i].name, lname, len) == 0)
			return header_names[i].kind;
	return HTTP_HDR_OTHER;
}

static int finish_content_length(struct http_head *h, size_t vlen, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	uint64_t v = 0;

	if (h->has_content_length)
		return diag_fail(d, HTTP_HEAD_E_DUP_CONTENT_LENGTH,
		                 "more than one Content-Length header");
	if (http_head_has(h, HTTP_HDR_TRANSFER_ENCODING))
		return diag_fail(d, HTTP_HEAD_E_SMUGGLING,
		                 "conflicting Content-Length and Transfer-Encoding (request "
		                 "smuggling)");
	/* A value longer than the capture is either not digits or, within its
	 * first 20 digits, too large: both show in the captured part. */
	size_t n = vlen < h->cap_len ? vlen : h->cap_len;
	if (n == 0)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		char c = h->cap[i];
		if (c < '0' || c > '9')
			goto bad;
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(c - '0')) / 10)
			return diag_fail(d, HTTP_HEAD_E_CONTENT_LENGTH,
			                 "Content-Length '%s' is larger than %lld",
			                 diag_escape(h->cap, n, esc, sizeof(esc)),
			                 (long long)INT64_MAX);
		v = v * 10 + (uint64_t)(c - '0');
	}
	if (n < vlen)
		goto bad;
	h->has_content_length = true;
	h->content_length = v;
	return 0;
bad:
	return diag_fail(
	        d, HTTP_HEAD_E_CONTENT_LENGTH, "Content-Length '%s' is not a number of bytes",
	        diag_escape(h->cap, vlen < h->cap_len ? vlen : h->cap_len, esc, sizeof(esc)));
}

static int finish_transfer_encoding(struct http_head *h, size_t vlen, bool dup, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];

	if (h->has_content_length)
		return diag_fail(d, HTTP_HEAD_E_SMUGGLING,
		                 "conflicting Content-Length and Transfer-Encoding (request "
		                 "smuggling)");
	if (dup)
		return diag_fail(d, HTTP_HEAD_E_TRANSFER_ENCODING,
		                 "more than one Transfer-Encoding header");
	if (h->version_minor == 0)
		return diag_fail(d, HTTP_HEAD_E_TRANSFER_ENCODING,
		                 "Transfer-Encoding in an HTTP/1.0 request");
	if (vlen > h->cap_len || !eq_nocase(h->cap, vlen, "chunked"))
		return diag_fail(d, HTTP_HEAD_E_TRANSFER_ENCODING,
		                 "Transfer-Encoding '%s' is not supported; only 'chunked'",
		                 diag_escape(h->cap, vlen < h->cap_len ? vlen : h->cap_len, esc,
		                             sizeof(esc)));
	h->chunked = true;
	return 0;
}

/* A field line ended with its CRLF (the LF is at h->pos). */
static int finish_header(struct http_head *h, struct diag *d)
{
	struct http_header *hd = &h->headers[h->n_headers - 1];
	bool dup = http_head_has(h, hd->kind);
	size_t vlen = h->value_end - h->value_off_cur;

	hd->line_len = (uint32_t)(h->pos + 1 - hd->line_off);
	hd->value_off = (uint32_t)h->value_off_cur;
	hd->value_len = (uint32_t)vlen;
	h->seen |= 1u << hd->kind;

	switch (hd->kind) {
	case HTTP_HDR_HOST:
		if (dup)
			return diag_fail(d, HTTP_HEAD_E_DUP_HOST, "more than one Host header");
		h->has_host_header = true;
		if (h->method == HTTP_METHOD_CONNECT)
			return 0; /* the CONNECT target decides alone */
		if (vlen > h->cap_len)
			return diag_fail(d, HTTP_HEAD_E_BAD_HOST,
			                 "Host header of %zu bytes is longer than %d bytes", vlen,
			                 HTTP_HEAD_AUTHORITY_MAX);
		return parse_authority(h->cap, vlen, 80, &h->host_header, "Host header", d);
	case HTTP_HDR_CONTENT_LENGTH:
		return finish_content_length(h, vlen, d);
	case HTTP_HDR_TRANSFER_ENCODING:
		return finish_transfer_encoding(h, vlen, dup, d);
	default:
		return 0;
	}
}

/* The empty line ended the head: decide where the request goes. */
static int finish_head(struct http_head *h, struct diag *d)
{
	char a[RULE_TEXT_SIZE], b[RULE_TEXT_SIZE];

	h->head_len = h->pos + 1;
	switch (h->form) {
	case HTTP_FORM_AUTHORITY:
		return HTTP_HEAD_DONE;
	case HTTP_FORM_ABSOLUTE:
		if (h->has_host_header && !same_target(&h->host, &h->host_header)) {
			target_format(&h->host_header, a, sizeof(a));
			target_format(&h->host, b, sizeof(b));
			return diag_fail(d, HTTP_HEAD_E_HOST_MISMATCH,
			                 "Host header '%s' disagrees with the request target '%s'",
			                 a, b);
		}
		return HTTP_HEAD_DONE;
	case HTTP_FORM_ORIGIN:
		if (!h->has_host_header)
			return diag_fail(d, HTTP_HEAD_E_MISSING_HOST,
			                 "request for a path without a Host header");
		h->host = h->host_header;
		return HTTP_HEAD_DONE;
	}
	return HTTP_HEAD_DONE;
}

static int request_line_byte(struct http_head *h, unsigned char c, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	int r;

	switch ((enum state)h->state) {
	case S_START:
		if (c == '\r') {
			h->state = S_START_CR;
			return 0;
		}
		if (c == '\n')
			return diag_fail(d, HTTP_HEAD_E_BARE_LF, "bare LF before the request line");
		if (!is_tchar(c))
			goto bad_method;
		h->method_off = (uint32_t)h->pos;
		h->cap_len = 0;
		cap_push(h, c);
		h->state = S_METHOD;
		return 0;
	case S_START_CR:
		if (c != '\n')
			return diag_fail(d, HTTP_HEAD_E_BARE_CR,
			                 "CR without LF before the request line");
		h->state = S_START;
		return 0;
	case S_METHOD:
		if (c == ' ') {
			h->method_len = (uint32_t)(h->pos - h->method_off);
			h->method = classify_method(h->cap, h->cap_len);
			h->target_off = (uint32_t)h->pos + 1;
			h->state = S_TARGET_START;
			return 0;
		}
		if (!is_tchar(c))
			goto bad_method;
		if (h->cap_len >= HTTP_HEAD_METHOD_MAX)
			return diag_fail(d, HTTP_HEAD_E_REQUEST_LINE, "method longer than %d bytes",
			                 HTTP_HEAD_METHOD_MAX);
		cap_push(h, c);
		return 0;
	case S_TARGET_START:
		if (c == ' ' || c == '\r' || c == '\n')
			return diag_fail(d, HTTP_HEAD_E_REQUEST_LINE,
			                 "no request target after the method (one space between "
			                 "method, target and version)");
		if (is_ctl(c))
			goto ctl;
		if (c == '/') {
			if (h->method == HTTP_METHOD_CONNECT)
				return diag_fail(
				        d, HTTP_HEAD_E_TARGET,
				        "CONNECT target is a path; CONNECT takes host:port");
			h->form = HTTP_FORM_ORIGIN;
			h->path_off = (uint32_t)h->pos;
			h->state = S_TARGET_PATH;
			return 0;
		}
		h->cap_len = 0;
		h->auth_start = 0;
		h->state = S_TARGET_CAP;
		_fallthrough_;
	case S_TARGET_CAP:
		if (c == ' ')
			goto target_end;
		if (c == '\r' || c == '\n')
			goto no_version;
		if (is_ctl(c))
			goto ctl;
		if (h->method != HTTP_METHOD_CONNECT && h->auth_start &&
		    (c == '/' || c == '?' || c == '#')) {
			h->path_off = (uint32_t)h->pos;
			h->state = S_TARGET_PATH;
			return 0;
		}
		if (!cap_push(h, c))
			return diag_fail(d, HTTP_HEAD_E_BAD_HOST,
			                 "host in the request target is longer than %d bytes",
			                 HTTP_HEAD_AUTHORITY_MAX);
		if (!h->auth_start && h->cap_len >= 3 &&
		    memcmp(h->cap + h->cap_len - 3, "://", 3) == 0)
			h->auth_start = h->cap_len;
		if (!h->auth_start && h->method != HTTP_METHOD_CONNECT && h->cap_len > SCHEME_MAX)
			return diag_fail(d, HTTP_HEAD_E_TARGET,
			                 "request target '%s...' is neither /path nor "
			                 "http://host/path",
			                 diag_escape(h->cap, h->cap_len, esc, sizeof(esc)));
		return 0;
	case S_TARGET_PATH:
		if (c == ' ')
			goto target_end;
		if (c == '\r' || c == '\n')
			goto no_version;
		if (is_ctl(c))
			goto ctl;
		return 0;
	case S_VERSION:
		if (c == '\r') {
			if (h->cap_len == 8 && memcmp(h->cap, "HTTP/1.", 7) == 0 &&
			    (h->cap[7] == '0' || h->cap[7] == '1')) {
				h->version_minor = (uint8_t)(h->cap[7] - '0');
				h->state = S_RL_CR;
				return 0;
			}
			goto bad_version;
		}
		if (c == '\n')
			return diag_fail(d, HTTP_HEAD_E_BARE_LF, "request line ends with LF alone");
		if (is_ctl(c))
			goto ctl;
		if (h->cap_len >= 8 || c == ' ')
			goto bad_version;
		cap_push(h, c);
		return 0;
	case S_RL_CR:
		if (c != '\n')
			return diag_fail(d, HTTP_HEAD_E_BARE_CR,
			                 "CR without LF in the request line");
		h->state = S_LINE_START;
		return 0;
	default:
		return diag_fail(d, HTTP_HEAD_E_REQUEST_LINE, "parser in an unknown state");
	}

target_end:
	r = finish_target(h, d);
	if (r < 0)
		return r;
	h->cap_len = 0;
	h->state = S_VERSION;
	return 0;
no_version:
	return diag_fail(d, HTTP_HEAD_E_VERSION,
	                 "request line without an HTTP version (HTTP/0.9); only HTTP/1.0 "
	                 "and HTTP/1.1");
bad_version:
	if (c != '\r')
		cap_push(h, c);
	return diag_fail(d, HTTP_HEAD_E_VERSION,
	                 "HTTP version '%s' not supported; only HTTP/1.0 and HTTP/1.1",
	                 diag_escape(h->cap, h->cap_len, esc, sizeof(esc)));
bad_method:
	if (is_ctl(c))
		goto ctl;
	return diag_fail(d, HTTP_HEAD_E_REQUEST_LINE, "byte '%s' at offset %zu in the method",
	                 diag_escape((const char *)&c, 1, esc, sizeof(esc)), h->pos);
ctl:
	return diag_fail(d, HTTP_HEAD_E_CTL, "control byte '%s' at offset %zu in the request line",
	                 diag_escape((const char *)&c, 1, esc, sizeof(esc)), h->pos);
}

static int header_byte(struct http_head *h, unsigned char c, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	struct http_header *hd;
	int r;

	switch ((enum state)h->state) {
	case S_LINE_START:
		if (c == '\r') {
			h->state = S_END_CR;
			return 0;
		}
		if (c == '\n')
			return diag_fail(d, HTTP_HEAD_E_BARE_LF, "header line ends with LF alone");
		if (c == ' ' || c == '\t')
			return diag_fail(d, HTTP_HEAD_E_OBS_FOLD,
			                 h->n_headers ? "header line continued on the next line "
			                                "(obs-fold)"
			                              : "whitespace at the start of the first "
			                                "header line");
		if (!is_tchar(c))
			goto bad_name;
		if (h->n_headers >= HTTP_HEAD_MAX_HEADERS)
			return diag_fail(d, HTTP_HEAD_E_TOO_MANY_HEADERS,
			                 "more than %d header lines", HTTP_HEAD_MAX_HEADERS);
		hd = &h->headers[h->n_headers++];
		memset(hd, 0, sizeof(*hd));
		hd->line_off = (uint32_t)h->pos;
		memset(h->name, 0, sizeof(h->name));
		h->name_len = 0;
		h->state = S_NAME;
		_fallthrough_;
	case S_NAME:
		if (is_tchar(c)) {
			if (h->name_len < sizeof(h->name))
				h->name[h->name_len] = (char)lower(c);
			h->name_len++;
			return 0;
		}
		if (c != ':')
			goto bad_name;
		hd = &h->headers[h->n_headers - 1];
		hd->name_len = (uint32_t)(h->pos - hd->line_off);
		hd->kind = h->name_len <= sizeof(h->name) ? classify_header(h->name, h->name_len)
		                                          : HTTP_HDR_OTHER;
		h->value_off_cur = h->pos + 1;
		h->value_end = h->pos + 1;
		h->cap_len = 0;
		h->state = S_VALUE_OWS;
		return 0;
	case S_VALUE_OWS:
		if (c == ' ' || c == '\t') {
			h->value_off_cur = h->pos + 1;
			h->value_end = h->pos + 1;
			return 0;
		}
		h->state = S_VALUE;
		_fallthrough_;
	case S_VALUE:
		if (c == '\r') {
			h->state = S_VALUE_CR;
			return 0;
		}
		if (c == '\n')
			return diag_fail(d, HTTP_HEAD_E_BARE_LF, "header line ends with LF alone");
		if (c != '\t' && is_ctl(c))
			return diag_fail(d, HTTP_HEAD_E_CTL,
			                 "control byte '%s' at offset %zu in a header value",
			                 diag_escape((const char *)&c, 1, esc, sizeof(esc)),
			                 h->pos);
		if (c != ' ' && c != '\t')
			h->value_end = h->pos + 1;
		switch (h->headers[h->n_headers - 1].kind) {
		case HTTP_HDR_HOST:
		case HTTP_HDR_CONTENT_LENGTH:
		case HTTP_HDR_TRANSFER_ENCODING:
			cap_push(h, c); /* overflow is caught by its length at the end */
			break;
		default:
			break;
		}
		return 0;
	case S_VALUE_CR:
		if (c != '\n')
			return diag_fail(d, HTTP_HEAD_E_BARE_CR,
			                 "CR without LF at offset %zu in a header line",
			                 h->pos - 1);
		r = finish_header(h, d);
		if (r < 0)
			return r;
		h->state = S_LINE_START;
		return 0;
	case S_END_CR:
		if (c != '\n')
			return diag_fail(d, HTTP_HEAD_E_BARE_CR,
			                 "CR without LF at offset %zu in the request head",
			                 h->pos - 1);
		return finish_head(h, d);
	default:
		return diag_fail(d, HTTP_HEAD_E_HEADER_SYNTAX, "parser in an unknown state");
	}

bad_name:
	if (c == ' ' || c == '\t')
		return diag_fail(d, HTTP_HEAD_E_HEADER_SYNTAX,
		                 "whitespace before the colon of a header name, offset %zu",
		                 h->pos);
	if (c == ':')
		return diag_fail(d, HTTP_HEAD_E_HEADER_SYNTAX, "header line with an empty name");
	if (c == '\r' || c == '\n')
		return diag_fail(d, HTTP_HEAD_E_HEADER_SYNTAX, "header line without a colon");
	return diag_fail(d, HTTP_HEAD_E_HEADER_SYNTAX, "byte '%s' at offset %zu in a header name",
	                 diag_escape((const char *)&c, 1, esc, sizeof(esc)), h->pos);
}

/* One byte at h->pos.  Returns NEED_MORE, DONE or an error. */
static int step(struct http_head *h, unsigned char c, struct diag *d)
{
	if (h->pos >= h->max_size)
		return diag_fail(d, HTTP_HEAD_E_TOO_LARGE, "request head larger than %zu bytes",
		                 h->max_size);
	if (c == '\0')
		return diag_fail(d, HTTP_HEAD_E_NUL, "NUL byte at offset %zu in the request head",
		                 h->pos);
	if (h->state < S_LINE_START)
		return request_line_byte(h, c, d);
	return header_byte(h, c, d);
}

int http_head_feed(struct http_head *h, const void *data, size_t len, size_t *ret_consumed,
                   struct diag *d)
{
	const unsigned char *p = data;
	size_t i = 0;
	int r = h->status;

	if (r != HTTP_HEAD_NEED_MORE) {
		if (ret_consumed)
			*ret_consumed = 0;
		if (r < 0)
			diag_fail(d, r, "%s", http_head_strerror(r));
		return r;
	}
	while (i < len) {
		r = step(h, p[i++], d);
		h->pos++;
		if (r != HTTP_HEAD_NEED_MORE)
			break;
	}
	if (ret_consumed)
		*ret_consumed = i;
	return set_status(h, r);
}
