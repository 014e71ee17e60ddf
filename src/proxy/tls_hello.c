#include "proxy/tls_hello.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HS_CLIENT_HELLO  1
#define HS_HEADER_SIZE   4
#define RECORD_HANDSHAKE 0x16
#define SESSION_ID_MAX   32
#define RANDOM_SIZE      32
#define TLS13_VERSION    0x0304
#define EXT_TYPES        65536

static const struct {
	enum tls_hello_status status;
	const char *sentence;
} errors[TLS_HELLO_E_COUNT] = {
        [TLS_HELLO_OK] = {TLS_HELLO_CLIENT_HELLO, "no error"},
        [TLS_HELLO_E_NOT_HANDSHAKE] = {TLS_HELLO_NOT_TLS,
                                       "the stream does not start with a TLS handshake record"},
        [TLS_HELLO_E_SSLV2] =
                {TLS_HELLO_NOT_TLS,
                 "the stream starts with an SSLv2-style hello, which is not accepted"},
        [TLS_HELLO_E_NOT_TLS_VERSION] = {TLS_HELLO_NOT_TLS,
                                         "the first record's version is not SSL 3.0 to TLS 1.2"},
        [TLS_HELLO_E_RECORD_TYPE] = {TLS_HELLO_MALFORMED,
                                     "a record that is not handshake interrupts the ClientHello"},
        [TLS_HELLO_E_RECORD_VERSION] = {TLS_HELLO_MALFORMED,
                                        "a ClientHello record has an implausible version"},
        [TLS_HELLO_E_RECORD_EMPTY] = {TLS_HELLO_MALFORMED,
                                      "a ClientHello record is empty, which TLS forbids"},
        [TLS_HELLO_E_RECORD_OVERFLOW] = {TLS_HELLO_MALFORMED,
                                         "a ClientHello record is longer than 2^14 bytes"},
        [TLS_HELLO_E_NOT_CLIENT_HELLO] = {TLS_HELLO_MALFORMED,
                                          "the first handshake message is not a ClientHello"},
        [TLS_HELLO_E_TRAILING] = {TLS_HELLO_MALFORMED,
                                  "the ClientHello's last record holds more handshake data"},
        [TLS_HELLO_E_TRUNCATED] = {TLS_HELLO_MALFORMED,
                                   "a ClientHello field runs past the end of the message"},
        [TLS_HELLO_E_LEGACY_VERSION] = {TLS_HELLO_MALFORMED,
                                        "the ClientHello's version is not 3.x"},
        [TLS_HELLO_E_SESSION_ID] = {TLS_HELLO_MALFORMED,
                                    "the ClientHello's session id is longer than 32 bytes"},
        [TLS_HELLO_E_CIPHER_SUITES] = {TLS_HELLO_MALFORMED,
                                       "the ClientHello's cipher suite list is empty or odd"},
        [TLS_HELLO_E_COMPRESSION] = {TLS_HELLO_MALFORMED,
                                     "the ClientHello's compression methods lack null"},
        [TLS_HELLO_E_EXTENSIONS_LENGTH] = {TLS_HELLO_MALFORMED,
                                           "the ClientHello's extensions do not fill the message"},
        [TLS_HELLO_E_EXTENSION_LENGTH] = {TLS_HELLO_MALFORMED,
                                          "a ClientHello extension runs past the extension block"},
        [TLS_HELLO_E_DUP_EXTENSION] = {TLS_HELLO_MALFORMED,
                                       "the ClientHello carries one extension type twice"},
        [TLS_HELLO_E_PSK_NOT_LAST] = {TLS_HELLO_MALFORMED,
                                      "the ClientHello's pre_shared_key is not its last extension"},
        [TLS_HELLO_E_SERVER_NAME] = {TLS_HELLO_MALFORMED,
                                     "the ClientHello's server_name extension is malformed"},
        [TLS_HELLO_E_DUP_HOST_NAME] = {TLS_HELLO_MALFORMED,
                                       "the ClientHello names two servers (two host_name entries)"},
        [TLS_HELLO_E_ALPN] = {TLS_HELLO_MALFORMED, "the ClientHello's ALPN extension is malformed"},
        [TLS_HELLO_E_SUPPORTED_VERSIONS] =
                {TLS_HELLO_MALFORMED,
                 "the ClientHello's supported_versions extension is malformed"},
        [TLS_HELLO_E_MESSAGE_TOO_LARGE] = {TLS_HELLO_TOO_LARGE,
                                           "the ClientHello is larger than the gateway accepts"},
        [TLS_HELLO_E_TOO_MANY_RECORDS] = {TLS_HELLO_TOO_LARGE,
                                          "the ClientHello is split into too many records"},
        [TLS_HELLO_E_SNI_INVALID] = {TLS_HELLO_SNI_INVALID,
                                     "the ClientHello's server name is not a valid host name"},
};

const char *tls_hello_strerror(enum tls_hello_error e)
{
	if ((unsigned)e >= TLS_HELLO_E_COUNT)
		return "unknown error";
	return errors[e].sentence;
}

enum tls_hello_status tls_hello_error_status(enum tls_hello_error e)
{
	if ((unsigned)e >= TLS_HELLO_E_COUNT)
		return TLS_HELLO_MALFORMED;
	return errors[e].status;
}

const char *tls_hello_status_name(enum tls_hello_status s)
{
	switch (s) {
	case TLS_HELLO_NEED_MORE:
		return "need-more";
	case TLS_HELLO_CLIENT_HELLO:
		return "client-hello";
	case TLS_HELLO_NOT_TLS:
		return "not-tls";
	case TLS_HELLO_MALFORMED:
		return "malformed";
	case TLS_HELLO_TOO_LARGE:
		return "too-large";
	case TLS_HELLO_SNI_INVALID:
		return "sni-invalid";
	}
	return "unknown";
}

/* One record's payload in the input: the handshake message is the
 * concatenation of the segments. */
struct segment {
	size_t off, len;
};

struct parse {
	const uint8_t *buf;
	size_t len;
	struct tls_hello *h;
	struct diag *d;
	struct segment segs[TLS_HELLO_MAX_RECORDS];
	unsigned n_segs;
	uint8_t seen[EXT_TYPES / 8]; /* extension types met, one bit each */
	bool sni_invalid;
	struct diag sni_diag;
};

static enum tls_hello_status fail(struct parse *p, enum tls_hello_error e, const char *fmt, ...)
        _printf_(3, 4);

static enum tls_hello_status fail(struct parse *p, enum tls_hello_error e, const char *fmt, ...)
{
	p->h->error = e;
	if (p->d) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->d->msg, sizeof(p->d->msg), fmt, ap);
		va_end(ap);
	}
	return errors[e].status;
}

/* `need` assumes the rest comes in one more record; past the peek cap the
 * hello fails anyway, and a smaller lower bound is still a lower bound. */
static enum tls_hello_status need_more(struct tls_hello *h, size_t need)
{
	h->need = need < TLS_HELLO_PEEK_MAX ? need : TLS_HELLO_PEEK_MAX;
	return TLS_HELLO_NEED_MORE;
}

/* Walk the records from buf[0] until they hold the whole handshake message,
 * checking each header as soon as its bytes are there, so an invalid prefix
 * is refused early and a valid one is always NEED_MORE.  Returns
 * CLIENT_HELLO when the message is complete and p->segs map it. */
static enum tls_hello_status frame(struct parse *p)
{
	const uint8_t *b = p->buf;
	size_t len = p->len, pos = 0;
	uint8_t hdr[HS_HEADER_SIZE];
	size_t hdr_have = 0;   /* handshake header bytes seen */
	size_t total = 0;      /* message length with header; 0 until the header is seen */
	size_t in_records = 0; /* handshake bytes the records so far declare */

	while (total == 0 || in_records < total) {
		unsigned idx = p->n_segs;
		size_t rest = total ? total - in_records : 1;
		size_t need_next = pos + TLS_RECORD_HEADER_SIZE + rest;

		if (idx == TLS_HELLO_MAX_RECORDS)
			return fail(p, TLS_HELLO_E_TOO_MANY_RECORDS,
			            "ClientHello still incomplete after %d records",
			            TLS_HELLO_MAX_RECORDS);
		if (len <= pos)
			return need_more(p->h, need_next);
		if (b[pos] != RECORD_HANDSHAKE) {
			if (idx > 0)
				return fail(
				        p, TLS_HELLO_E_RECORD_TYPE,
				        "record %u (stream offset %zu) has type 0x%02x inside the "
				        "ClientHello",
				        idx + 1, pos, b[pos]);
			if (b[pos] & 0x80)
				return fail(
				        p, TLS_HELLO_E_SSLV2,
				        "first byte 0x%02x: an SSLv2-style hello, not a TLS record",
				        b[pos]);
			return fail(p, TLS_HELLO_E_NOT_HANDSHAKE,
			            "first byte 0x%02x is not a TLS handshake record (0x16)",
			            b[pos]);
		}
		if (len <= pos + 1)
			return need_more(p->h, need_next);
		if (b[pos + 1] != 3) {
			if (idx == 0)
				return fail(p, TLS_HELLO_E_NOT_TLS_VERSION,
				            "first record's version major is %u, not 3",
				            b[pos + 1]);
			return fail(p, TLS_HELLO_E_RECORD_VERSION,
			            "record %u (stream offset %zu) has version major %u, not 3",
			            idx + 1, pos, b[pos + 1]);
		}
		if (len <= pos + 2)
			return need_more(p->h, need_next);
		uint8_t minor = b[pos + 2];
		if (minor > 3 || (minor == 0 && idx > 0)) {
			if (idx == 0)
				return fail(p, TLS_HELLO_E_NOT_TLS_VERSION,
				            "first record's version is 0x03%02x, not 0x0300-0x0303",
				            minor);
			return fail(p, TLS_HELLO_E_RECORD_VERSION,
			            "record %u (stream offset %zu) has version 0x03%02x, not "
			            "0x0301-0x0303",
			            idx + 1, pos, minor);
		}
		if (len < pos + TLS_RECORD_HEADER_SIZE)
			return need_more(p->h, need_next);
		if (idx == 0)
			p->h->record_version = (uint16_t)(0x0300 | minor);
		size_t rlen = (size_t)b[pos + 3] << 8 | b[pos + 4];
		if (rlen == 0)
			return fail(p, TLS_HELLO_E_RECORD_EMPTY,
			            "record %u (stream offset %zu) is empty", idx + 1, pos);
		if (rlen > TLS_RECORD_MAX)
			return fail(
			        p, TLS_HELLO_E_RECORD_OVERFLOW,
			        "record %u (stream offset %zu) declares %zu bytes, more than %d",
			        idx + 1, pos, rlen, TLS_RECORD_MAX);

		size_t payload = pos + TLS_RECORD_HEADER_SIZE;
		size_t avail = len - payload < rlen ? len - payload : rlen;
		for (size_t i = 0; hdr_have < HS_HEADER_SIZE && i < avail; i++) {
			hdr[hdr_have++] = b[payload + i];
			if (hdr_have == 1 && hdr[0] != HS_CLIENT_HELLO)
				return fail(p, TLS_HELLO_E_NOT_CLIENT_HELLO,
				            "handshake message type %u, not ClientHello (1)",
				            hdr[0]);
			if (hdr_have == HS_HEADER_SIZE) {
				total = HS_HEADER_SIZE +
				        ((size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3]);
				if (total > TLS_HELLO_MAX_MESSAGE)
					return fail(p, TLS_HELLO_E_MESSAGE_TOO_LARGE,
					            "ClientHello of %zu bytes; the cap is %d",
					            total, TLS_HELLO_MAX_MESSAGE);
			}
		}
		in_records += rlen;
		if (total && in_records > total)
			return fail(p, TLS_HELLO_E_TRAILING,
			            "record %u ends %zu bytes after the ClientHello's %zu bytes",
			            idx + 1, in_records - total, total);
		p->segs[idx] = (struct segment){payload, rlen};
		p->n_segs++;
		if (avail < rlen) {
			size_t need = payload + rlen;
			if (total && in_records < total)
				need += TLS_RECORD_HEADER_SIZE + (total - in_records);
			return need_more(p->h, need);
		}
		pos = payload + rlen;
	}
	p->h->record_bytes = pos;
	p->h->n_records = p->n_segs;
	p->h->message_len = total;
	return TLS_HELLO_CLIENT_HELLO;
}

/* Reads the handshake message forward across its record segments, never
 * past `end`, a limit the parser narrows to each container in turn. */
struct reader {
	const struct parse *p;
	unsigned seg;
	size_t seg_pos;
	size_t pos; /* offset in the message */
	size_t end;
};

static size_t rd_left(const struct reader *r)
{
	return r->end - r->pos;
}

/* Copy n bytes to out (or skip them when out is NULL); false, reading
 * nothing, when fewer than n are left before the limit. */
static bool rd_bytes(struct reader *r, void *out, size_t n)
{
	uint8_t *o = out;

	if (n > rd_left(r))
		return false;
	while (n > 0) {
		if (r->seg >= r->p->n_segs)
			return false; /* not reached: end <= sum of the segments */
		const struct segment *s = &r->p->segs[r->seg];
		size_t take = s->len - r->seg_pos;
		if (take == 0) {
			r->seg++;
			r->seg_pos = 0;
			continue;
		}
		if (take > n)
			take = n;
		if (o) {
			memcpy(o, r->p->buf + s->off + r->seg_pos, take);
			o += take;
		}
		r->seg_pos += take;
		r->pos += take;
		n -= take;
	}
	return true;
}

static bool rd_u8(struct reader *r, uint8_t *v)
{
	return rd_bytes(r, v, 1);
}

static bool rd_u16(struct reader *r, uint16_t *v)
{
	uint8_t b[2];
	if (!rd_bytes(r, b, 2))
		return false;
	*v = (uint16_t)(b[0] << 8 | b[1]);
	return true;
}

/* The server name is acceptable only as a plain ASCII host name without a
 * trailing dot that name_normalize() takes: RFC 6066 3 asks for exactly
 * that, and anything looser could be read as another name by the server. */
static void check_host_name(struct parse *p, const char *raw, size_t n)
{
	char esc[DIAG_ESCAPE_SIZE];
	struct tls_hello *h = p->h;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)raw[i] >= 0x80) {
			p->sni_invalid = true;
			diag_fail(&p->sni_diag, -EINVAL,
			          "server name '%s' has a non-ASCII byte at offset %zu",
			          diag_escape(raw, n, esc, sizeof(esc)), i);
			return;
		}
	}
	if (n < INET6_ADDRSTRLEN) {
		char text[INET6_ADDRSTRLEN];
		uint8_t addr[16];
		memcpy(text, raw, n);
		text[n] = '\0';
		if (inet_pton(AF_INET, text, addr) == 1 || inet_pton(AF_INET6, text, addr) == 1) {
			p->sni_invalid = true;
			diag_fail(&p->sni_diag, -EINVAL,
			          "server name '%s' is an IP address; SNI carries host names only",
			          diag_escape(raw, n, esc, sizeof(esc)));
			return;
		}
	}
	if (raw[n - 1] == '.') {
		p->sni_invalid = true;
		diag_fail(&p->sni_diag, -EINVAL, "server name '%s' ends with a dot",
		          diag_escape(raw, n, esc, sizeof(esc)));
		return;
	}
	if (name_normalize(raw, n, h->sni, &h->sni_len, &p->sni_diag) < 0) {
		p->sni_invalid = true;
		h->sni_len = 0;
		memset(h->sni, 0, sizeof(h->sni));
		diag_prefix(&p->sni_diag, "server name: ");
		return;
	}
	h->has_sni = true;
}

static enum tls_hello_status parse_server_name(struct parse *p, struct reader *r)
{
	char raw[NAME_INPUT_MAX];
	bool host_seen = false;
	uint16_t list_len, name_len;
	uint8_t type;

	p->h->has_server_name_ext = true;
	if (rd_left(r) == 0)
		return TLS_HELLO_CLIENT_HELLO; /* empty: no SNI */
	if (!rd_u16(r, &list_len) || list_len != rd_left(r))
		return fail(p, TLS_HELLO_E_SERVER_NAME,
		            "server_name list length does not fill the extension");
	while (rd_left(r) > 0) {
		if (!rd_u8(r, &type) || !rd_u16(r, &name_len) || name_len > rd_left(r))
			return fail(
			        p, TLS_HELLO_E_SERVER_NAME,
			        "server_name entry at ClientHello offset %zu runs past its list",
			        r->pos);
		if (type != 0) {
			rd_bytes(r, NULL, name_len);
			continue;
		}
		if (host_seen)
			return fail(p, TLS_HELLO_E_DUP_HOST_NAME,
			            "second host_name entry at ClientHello offset %zu", r->pos - 3);
		host_seen = true;
		if (name_len == 0)
			continue; /* empty: no SNI */
		if (name_len > sizeof(raw)) {
			rd_bytes(r, NULL, name_len);
			p->sni_invalid = true;
			diag_fail(&p->sni_diag, -EINVAL,
			          "server name of %u bytes is longer than any host name", name_len);
			continue;
		}
		rd_bytes(r, raw, name_len);
		check_host_name(p, raw, name_len);
	}
	return TLS_HELLO_CLIENT_HELLO;
}

static enum tls_hello_status parse_alpn(struct parse *p, struct reader *r)
{
	struct tls_hello *h = p->h;
	char proto[TLS_HELLO_ALPN_MAX];
	uint16_t list_len;
	uint8_t n;

	if (!rd_u16(r, &list_len) || list_len != rd_left(r) || list_len < 2)
		return fail(p, TLS_HELLO_E_ALPN, "ALPN list length does not fill the extension");
	h->has_alpn = true;
	while (rd_left(r) > 0) {
		if (!rd_u8(r, &n) || n == 0 || n > rd_left(r))
			return fail(p, TLS_HELLO_E_ALPN,
			            "ALPN protocol at ClientHello offset %zu is empty or runs past "
			            "its list",
			            r->pos);
		rd_bytes(r, proto, n);
		if (h->alpn_first_len == 0) {
			memcpy(h->alpn_first, proto, n);
			h->alpn_first_len = n;
		}
		if (n == 2 && memcmp(proto, "h2", 2) == 0)
			h->alpn_h2 = true;
		if (n == 8 && memcmp(proto, "http/1.1", 8) == 0)
			h->alpn_http11 = true;
	}
	return TLS_HELLO_CLIENT_HELLO;
}

static enum tls_hello_status parse_supported_versions(struct parse *p, struct reader *r)
{
	uint8_t list_len;
	uint16_t v;

	if (!rd_u8(r, &list_len) || list_len != rd_left(r) || list_len < 2 || list_len % 2)
		return fail(p, TLS_HELLO_E_SUPPORTED_VERSIONS,
		            "supported_versions list is empty, odd or does not fill the extension");
	while (rd_u16(r, &v))
		if (v == TLS13_VERSION)
			p->h->tls13_offered = true;
	return TLS_HELLO_CLIENT_HELLO;
}

static enum tls_hello_status parse_extensions(struct parse *p, struct reader *r)
{
	bool psk_seen = false;
	uint16_t block, type, elen;
	enum tls_hello_status st;

	if (!rd_u16(r, &block) || block != rd_left(r))
		return fail(p, TLS_HELLO_E_EXTENSIONS_LENGTH,
		            "extension block at ClientHello offset %zu does not end where the "
		            "message does",
		            r->pos);
	while (rd_left(r) > 0) {
		size_t at = r->pos;
		if (!rd_u16(r, &type) || !rd_u16(r, &elen) || elen > rd_left(r))
			return fail(
			        p, TLS_HELLO_E_EXTENSION_LENGTH,
			        "extension at ClientHello offset %zu runs past the extension block",
			        at);
		if (psk_seen)
			return fail(
			        p, TLS_HELLO_E_PSK_NOT_LAST,
			        "extension 0x%04x at ClientHello offset %zu follows pre_shared_key",
			        type, at);
		if (p->seen[type / 8] & (1u << (type % 8)))
			return fail(
			        p, TLS_HELLO_E_DUP_EXTENSION,
			        "extension 0x%04x appears twice (again at ClientHello offset %zu)",
			        type, at);
		p->seen[type / 8] |= (uint8_t)(1u << (type % 8));
		p->h->n_extensions++;

		size_t outer_end = r->end;
		r->end = r->pos + elen;
		switch (type) {
		case TLS_EXT_SERVER_NAME:
			st = parse_server_name(p, r);
			break;
		case TLS_EXT_ALPN:
			st = parse_alpn(p, r);
			break;
		case TLS_EXT_SUPPORTED_VERSIONS:
			st = parse_supported_versions(p, r);
			break;
		case TLS_EXT_ECH:
		case TLS_EXT_ESNI_DRAFT:
			p->h->has_ech = true;
			st = TLS_HELLO_CLIENT_HELLO;
			break;
		case TLS_EXT_PRE_SHARED_KEY:
			psk_seen = true;
			st = TLS_HELLO_CLIENT_HELLO;
			break;
		default:
			st = TLS_HELLO_CLIENT_HELLO;
			break;
		}
		if (st != TLS_HELLO_CLIENT_HELLO)
			return st;
		rd_bytes(r, NULL, rd_left(r)); /* whatever a skipped extension holds */
		r->end = outer_end;
	}
	return TLS_HELLO_CLIENT_HELLO;
}

static enum tls_hello_status parse_message(struct parse *p)
{
	struct reader r = {.p = p, .end = p->h->message_len};
	uint8_t comp[255];
	uint16_t version, suites_len;
	uint8_t sid_len, comp_len;

	rd_bytes(&r, NULL, HS_HEADER_SIZE);
	if (!rd_u16(&r, &version) || !rd_bytes(&r, NULL, RANDOM_SIZE) || !rd_u8(&r, &sid_len))
		return fail(p, TLS_HELLO_E_TRUNCATED,
		            "ClientHello of %zu bytes ends inside version, random or session id",
		            p->h->message_len);
	p->h->legacy_version = version;
	if (version >> 8 != 3)
		return fail(p, TLS_HELLO_E_LEGACY_VERSION, "ClientHello version 0x%04x", version);
	if (sid_len > SESSION_ID_MAX)
		return fail(p, TLS_HELLO_E_SESSION_ID, "session id of %u bytes; at most %d",
		            sid_len, SESSION_ID_MAX);
	if (!rd_bytes(&r, NULL, sid_len) || !rd_u16(&r, &suites_len))
		return fail(p, TLS_HELLO_E_TRUNCATED, "ClientHello ends inside the session id");
	if (suites_len == 0 || suites_len % 2)
		return fail(p, TLS_HELLO_E_CIPHER_SUITES, "cipher suite list of %u bytes",
		            suites_len);
	if (!rd_bytes(&r, NULL, suites_len) || !rd_u8(&r, &comp_len) ||
	    !rd_bytes(&r, comp, comp_len))
		return fail(p, TLS_HELLO_E_TRUNCATED,
		            "ClientHello ends inside the cipher suites or compression methods");
	if (comp_len == 0 || !memchr(comp, 0, comp_len))
		return fail(p, TLS_HELLO_E_COMPRESSION,
		            "%u compression methods, none of them null (0)", comp_len);
	if (rd_left(&r) > 0) {
		enum tls_hello_status st = parse_extensions(p, &r);
		if (st != TLS_HELLO_CLIENT_HELLO)
			return st;
	}
	if (p->sni_invalid) {
		p->h->error = TLS_HELLO_E_SNI_INVALID;
		if (p->d)
			memcpy(p->d->msg, p->sni_diag.msg, sizeof(p->d->msg));
		return TLS_HELLO_SNI_INVALID;
	}
	return TLS_HELLO_CLIENT_HELLO;
}

enum tls_hello_status tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *ret,
                                      struct diag *d)
{
	struct parse p = {.buf = buf, .len = buf ? len : 0, .h = ret, .d = d};
	enum tls_hello_status st;

	memset(ret, 0, sizeof(*ret));
	st = frame(&p);
	if (st != TLS_HELLO_CLIENT_HELLO)
		return st;
	st = parse_message(&p);
	if (st < 0 && st != TLS_HELLO_SNI_INVALID) {
		/* A refused hello reports nothing but why. */
		enum tls_hello_error e = ret->error;
		memset(ret, 0, sizeof(*ret));
		ret->error = e;
	}
	return st;
}
