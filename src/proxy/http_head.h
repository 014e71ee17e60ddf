/* http_head.h - the HTTP/1.x request head a client sends the gateway's proxy.
 *
 * An incremental byte state machine (in the manner of nginx's
 * ngx_http_parse.c): the caller feeds bytes as they arrive, in chunks of any
 * size down to one byte, and the parser keeps all of its state in a
 * caller-owned struct http_head.  It never allocates, never looks back at
 * bytes fed earlier, and gives the same answer whatever the split.
 *
 * Offsets it reports count bytes from the first byte ever fed, so they index
 * the caller's buffer when the caller keeps the head contiguously (it must, to
 * forward it).  The head ends with its empty line; DONE says how many bytes of
 * the last chunk belong to the head, so body or tunnel bytes after it are
 * left to the caller.
 *
 * Accepted:
 *   request-line  METHOD SP request-target SP HTTP-version CRLF, one SP each;
 *                 the version is exactly "HTTP/1.0" or "HTTP/1.1".  Empty
 *                 lines (CRLF) before it are skipped, as RFC 9112 2.2 asks.
 *   CONNECT       authority-form only: host:port or [v6]:port, port required.
 *                 A Host header is not parsed or compared for CONNECT: the
 *                 target alone names the destination.
 *   other methods absolute-form "http://host[:port][/path][?query]" (scheme
 *                 case-insensitive, port 80 by default), or origin-form
 *                 "/path[?query]" with the host taken from the Host header
 *                 (required, for HTTP/1.0 too: the gateway needs a name).
 *                 With absolute-form a Host header is optional; when present
 *                 it must name the same host and port after canonicalisation.
 *   hosts         names canonicalised by name_normalize() (lower case,
 *                 punycode, no trailing dot) or IPv4/IPv6 literals, which are
 *                 reported as addresses (host.is_addr) so the caller applies
 *                 CIDR rules; IPv6 literals need brackets.
 *   header fields name ":" OWS value OWS CRLF; the value may hold HTAB, SP,
 *                 visible ASCII and bytes >= 0x80.
 *
 * Refused, each with its own status (http_head_strerror() has the sentence):
 *   - a bare LF as line end: the proxy forwards header lines verbatim, and an
 *     upstream that split lines differently would see other headers than the
 *     gateway checked; a CR not followed by LF; a NUL byte anywhere; control
 *     bytes in the request line or a field value;
 *   - "https://" absolute-form (clients use CONNECT for https), other schemes,
 *     userinfo ("user@host"), asterisk-form ("OPTIONS *"), authority-form with
 *     a method other than CONNECT and origin- or absolute-form with CONNECT;
 *   - hosts name_normalize() refuses, including legacy IPv4 spellings such as
 *     "2130706433" or "0x7f.1", and ports outside 1-65535 or empty;
 *   - obs-fold (a field line starting with SP or HTAB), whitespace before the
 *     colon, a line without a colon, an empty field name;
 *   - more than one Host header (also with CONNECT), Host disagreeing with an
 *     absolute-form target, no Host with origin-form;
 *   - Content-Length that is not 1..19 digits or exceeds INT64_MAX; more than
 *     one Content-Length header, even with identical values (the proxy
 *     forwards lines verbatim and must not rely on the upstream merging them);
 *   - Transfer-Encoding other than exactly one header whose value is
 *     "chunked" (case-insensitive): "gzip, chunked" is refused too, as is any
 *     Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1);
 *   - Content-Length and Transfer-Encoding together (request smuggling).
 *
 * Caps: the whole head (from the first byte fed through the empty line) is at
 * most `max_size` bytes, default HTTP_HEAD_DEFAULT_SIZE; the byte after the
 * cap is an error even when no line has ended, so a huge head costs at most
 * the cap in reading.  At most HTTP_HEAD_MAX_HEADERS header lines; methods of
 * at most HTTP_HEAD_METHOD_MAX bytes; authorities of at most
 * HTTP_HEAD_AUTHORITY_MAX bytes.
 *
 * Pure: no I/O, no global state, no allocation.
 */
#ifndef AIRLOCK_PROXY_HTTP_HEAD_H
#define AIRLOCK_PROXY_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/rule.h"
#include "util/diag.h"

#define HTTP_HEAD_DEFAULT_SIZE  (16 * 1024)
#define HTTP_HEAD_SIZE_LIMIT    (1024 * 1024) /* largest max_size accepted */
#define HTTP_HEAD_MAX_HEADERS   100
#define HTTP_HEAD_METHOD_MAX    32
#define HTTP_HEAD_AUTHORITY_MAX RULE_INPUT_MAX

/* What http_head_feed() returns: progress (>= 0) or why the head is refused
 * (< 0).  Errors are sticky: later calls return the same status. */
enum http_head_status {
	HTTP_HEAD_NEED_MORE = 0,
	HTTP_HEAD_DONE = 1,

	HTTP_HEAD_E_TOO_LARGE = -1,           /* past max_size */
	HTTP_HEAD_E_NUL = -2,                 /* NUL byte anywhere */
	HTTP_HEAD_E_BARE_CR = -3,             /* CR not followed by LF */
	HTTP_HEAD_E_BARE_LF = -4,             /* LF without CR */
	HTTP_HEAD_E_CTL = -5,                 /* control byte in request line or value */
	HTTP_HEAD_E_REQUEST_LINE = -6,        /* bad method token, spacing */
	HTTP_HEAD_E_VERSION = -7,             /* not HTTP/1.0 or HTTP/1.1 */
	HTTP_HEAD_E_TARGET = -8,              /* form not allowed, scheme not http */
	HTTP_HEAD_E_HTTPS_ABSOLUTE = -9,      /* "GET https://..." */
	HTTP_HEAD_E_USERINFO = -10,           /* "http://user@host/" */
	HTTP_HEAD_E_NO_PORT = -11,            /* CONNECT host without :port */
	HTTP_HEAD_E_BAD_HOST = -12,           /* host or port not acceptable */
	HTTP_HEAD_E_HEADER_SYNTAX = -13,      /* no colon, empty name, space before colon */
	HTTP_HEAD_E_OBS_FOLD = -14,           /* field line starting with SP/HTAB */
	HTTP_HEAD_E_TOO_MANY_HEADERS = -15,   /* more than HTTP_HEAD_MAX_HEADERS */
	HTTP_HEAD_E_MISSING_HOST = -16,       /* origin-form without Host */
	HTTP_HEAD_E_DUP_HOST = -17,           /* two Host headers */
	HTTP_HEAD_E_HOST_MISMATCH = -18,      /* Host differs from absolute target */
	HTTP_HEAD_E_CONTENT_LENGTH = -19,     /* not digits, or too large */
	HTTP_HEAD_E_DUP_CONTENT_LENGTH = -20, /* two Content-Length headers */
	HTTP_HEAD_E_TRANSFER_ENCODING = -21,  /* not exactly "chunked" */
	HTTP_HEAD_E_SMUGGLING = -22,          /* Content-Length with Transfer-Encoding */
};

enum http_method {
	HTTP_METHOD_OTHER = 0, /* any other token; look at the request line */
	HTTP_METHOD_CONNECT,
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_PATCH,
	HTTP_METHOD_TRACE,
};

enum http_target_form {
	HTTP_FORM_AUTHORITY, /* CONNECT host:port */
	HTTP_FORM_ABSOLUTE,  /* http://host/path */
	HTTP_FORM_ORIGIN,    /* /path, host from Host */
};

/* Header fields the gateway cares about; the rest are HTTP_HDR_OTHER.  All
 * but HOST, CONTENT_LENGTH and TRANSFER_ENCODING are hop-by-hop
 * (RFC 9110 7.6.1) and are not forwarded by the proxy. */
enum http_header_kind {
	HTTP_HDR_OTHER = 0,
	HTTP_HDR_HOST,
	HTTP_HDR_CONTENT_LENGTH,
	HTTP_HDR_TRANSFER_ENCODING,
	HTTP_HDR_CONNECTION,
	HTTP_HDR_PROXY_CONNECTION,
	HTTP_HDR_PROXY_AUTHORIZATION,
	HTTP_HDR_KEEP_ALIVE,
	HTTP_HDR_TE,
	HTTP_HDR_TRAILER,
	HTTP_HDR_UPGRADE,
	HTTP_HDR_KIND_COUNT
};

/* One field line.  Offsets count from the first byte fed. */
struct http_header {
	uint32_t line_off;  /* first byte of the name */
	uint32_t line_len;  /* through the line's CRLF: skip these to drop it */
	uint32_t name_len;  /* the name starts at line_off */
	uint32_t value_off; /* value without leading and trailing OWS */
	uint32_t value_len;
	enum http_header_kind kind;
};

/* Caller-owned parser state and, after HTTP_HEAD_DONE, the results.  Set up
 * with http_head_init(); the fields below `private` are the parser's own. */
struct http_head {
	/* Results, valid once http_head_feed() returned HTTP_HEAD_DONE. */
	size_t head_len;         /* bytes from the first byte fed through the empty line */
	enum http_method method; /* method text: [method_off, +method_len) */
	uint32_t method_off, method_len;
	uint8_t version_minor; /* 0 or 1 */
	enum http_target_form form;
	uint32_t target_off, target_len; /* the whole request-target */
	/* The path and query to forward.  For origin-form the whole target; for
	 * absolute-form what follows the authority, which may be empty or start
	 * with '?' (the proxy then writes '/' in front); empty for CONNECT. */
	uint32_t path_off, path_len;
	/* The destination: a canonical name or an address (host.is_addr), and
	 * always a port (from the target, or 80 for http without one). */
	struct target host;
	bool has_content_length;
	uint64_t content_length;
	bool chunked;  /* Transfer-Encoding: chunked */
	uint32_t seen; /* bit (1u << kind) for each header kind present */
	unsigned n_headers;
	struct http_header headers[HTTP_HEAD_MAX_HEADERS];

	/* private: parser state */
	size_t max_size;
	int status;
	unsigned state;
	size_t pos; /* bytes fed so far */
	bool has_host_header;
	struct target host_header;
	size_t cap_len;       /* captured bytes: method, authority, version, value */
	size_t auth_start;    /* in cap: where the authority begins, 0 if none */
	size_t value_off_cur; /* stream offset of the current value's first byte */
	size_t value_end;     /* stream offset after the last non-OWS value byte */
	char name[24];        /* current field name, lower case (0-padded) */
	size_t name_len;
	char cap[HTTP_HEAD_AUTHORITY_MAX + 16];
};

/* Prepare `h` for a new head.  `max_size` caps the head in bytes; 0 means
 * HTTP_HEAD_DEFAULT_SIZE, larger than HTTP_HEAD_SIZE_LIMIT means that. */
void http_head_init(struct http_head *h, size_t max_size);

/* Feed the next `len` bytes.  Returns HTTP_HEAD_NEED_MORE (all bytes taken),
 * HTTP_HEAD_DONE (the head is complete; h's results are set) or an
 * HTTP_HEAD_E_* error, with `d` (may be NULL) saying what was wrong in one
 * sentence that names the offending bytes.  `ret_consumed` (may be NULL) gets
 * how many of the `len` bytes were examined: on DONE, the head's bytes in this
 * chunk, the rest being body or tunnel data; on an error, through the
 * offending byte.  After DONE or an error, returns the same status again and
 * consumes nothing. */
int http_head_feed(struct http_head *h, const void *data, size_t len, size_t *ret_consumed,
                   struct diag *d);

/* Whether a header of `kind` was present. */
static inline bool http_head_has(const struct http_head *h, enum http_header_kind kind)
{
	return (h->seen & (1u << kind)) != 0;
}

/* A short sentence for a status, for the proxy's 400 response and log line
 * ("request head larger than the size limit").  Never NULL. */
const char *http_head_strerror(int status);

/* Name of a method, "OTHER" for HTTP_METHOD_OTHER. */
const char *http_method_name(enum http_method m);

#endif
