/* Audit records as JSON lines.
 *
 * Encoding is written by hand rather than with json-c, for two reasons:
 *  1. json-c passes bytes >= 0x80 through unchanged, so a name with broken
 *     UTF-8 in it (which a sandboxed program chooses) would make a line that
 *     strict JSON readers reject; we need our own escaper anyway.
 *  2. The gateway encodes one record per decision on its event loop; json-c
 *     would allocate a tree of ~16 objects and a print buffer each time.  This
 *     encoder allocates nothing and has a fixed worst case (AUDIT_LINE_MAX).
 * Decoding is json-c (strict mode), off the hot path, in `airlock logs`.
 */
#include "log/audit.h"

#include <assert.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The worst case: every byte of every field as a 6-byte escape, plus keys,
 * numbers and punctuation (well under 512 bytes). */
#define ESCAPED(size) (((size)-1) * 6 + 2)
static_assert(ESCAPED(AUDIT_SANDBOX_SIZE) + 2 * ESCAPED(AUDIT_ADDR_SIZE) +
                              ESCAPED(AUDIT_NAME_SIZE) + ESCAPED(AUDIT_QTYPE_SIZE) +
                              ESCAPED(AUDIT_RULE_SIZE) + ESCAPED(AUDIT_ORIGIN_SIZE) +
                              ESCAPED(AUDIT_DETAIL_SIZE) + 512 <=
                      AUDIT_LINE_MAX,
              "AUDIT_LINE_MAX must hold the worst-case line");

static const char *const proto_names[] = {
        [AUDIT_PROTO_NONE] = "",           [AUDIT_PROTO_DNS] = "dns",
        [AUDIT_PROTO_HTTP] = "http",       [AUDIT_PROTO_CONNECT] = "connect",
        [AUDIT_PROTO_TLS] = "tls",         [AUDIT_PROTO_TCP] = "tcp",
        [AUDIT_PROTO_UDP] = "udp",         [AUDIT_PROTO_ICMP] = "icmp",
        [AUDIT_PROTO_CONTROL] = "control",
};
static const char *const event_names[] = {
        [AUDIT_EVENT_DECISION] = "decision",
        [AUDIT_EVENT_CLOSE] = "close",
        [AUDIT_EVENT_NOTE] = "note",
};
static const char *const verdict_names[] = {
        [AUDIT_VERDICT_NONE] = "",
        [AUDIT_VERDICT_ALLOW] = "allow",
        [AUDIT_VERDICT_BLOCK] = "block",
};

const char *audit_proto_name(enum audit_proto p)
{
	return (size_t)p < ARRAY_SIZE(proto_names) ? proto_names[p] : NULL;
}

const char *audit_event_name(enum audit_event e)
{
	return (size_t)e < ARRAY_SIZE(event_names) ? event_names[e] : NULL;
}

const char *audit_verdict_name(enum audit_verdict v)
{
	return (size_t)v < ARRAY_SIZE(verdict_names) ? verdict_names[v] : NULL;
}

int64_t audit_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void audit_record_init(struct audit_record *r, enum audit_event event, enum audit_proto proto)
{
	memset(r, 0, sizeof(*r));
	r->time_ms = audit_now_ms();
	r->event = event;
	r->proto = proto;
}

void audit_set_name(struct audit_record *r, const char *bytes, size_t len)
{
	if (len > sizeof(r->name) - 1)
		len = sizeof(r->name) - 1;
	memcpy(r->name, bytes, len);
	r->name[len] = '\0';
	r->name_len = len;
}

void audit_set_text(char *field, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(field, size, fmt, ap);
	va_end(ap);
}

void audit_set_decision(struct audit_record *r, const struct policy *p, const struct decision *dec)
{
	r->verdict = dec->verdict == ACTION_ALLOW ? AUDIT_VERDICT_ALLOW : AUDIT_VERDICT_BLOCK;
	r->rule[0] = '\0';
	switch (dec->by) {
	case DECIDED_BY_RULE: {
		struct rule_info ri;
		policy_rule_info(p, dec->rule, &ri);
		rule_format(&ri.rule, r->rule, sizeof(r->rule));
		if (ri.line)
			AUDIT_SET(r, origin, "%s:%u", ri.origin, ri.line);
		else
			AUDIT_SET(r, origin, "%s", ri.origin);
		break;
	}
	case DECIDED_BY_DEFAULT:
		AUDIT_SET(r, origin, "default");
		break;
	case DECIDED_BY_NO_NETWORK:
		AUDIT_SET(r, origin, "no network");
		break;
	}
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

#define MS_PER_DAY  INT64_C(86400000)
#define TIME_MIN_MS (INT64_C(-719528) * MS_PER_DAY)     /* 0000-01-01 */
#define TIME_MAX_MS (INT64_C(2932897) * MS_PER_DAY - 1) /* 9999-12-31T23:59:59.999 */

void audit_format_time(int64_t ms, char buf[static AUDIT_TIME_SIZE])
{
	int64_t y, days, rem;
	unsigned mo, d;

	if (ms < TIME_MIN_MS)
		ms = TIME_MIN_MS;
	if (ms > TIME_MAX_MS)
		ms = TIME_MAX_MS;
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &mo, &d);
	/* The values are in range (clamped above); the compiler cannot tell. */
	char t[64];
	snprintf(t, sizeof(t), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", (int)y, mo, d,
	         (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
	         (int)(rem % 1000));
	memcpy(buf, t, AUDIT_TIME_SIZE - 1);
	buf[AUDIT_TIME_SIZE - 1] = '\0';
}

static bool digits(const char *s, size_t n, unsigned *ret)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return true;
}

int audit_parse_time(const char *s, size_t len, int64_t *ret_ms)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0;
	size_t i = 19;
	int sign = 0;

	if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return -EINVAL;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (i - start < 3)
				ms = ms * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (i == start)
			return -EINVAL;
		for (size_t k = i - start; k < 3; k++)
			ms *= 10;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (!digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || !digits(s + i + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return -EINVAL;
		i = len;
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	int64_t t = days_from_civil(y, mo, d) * MS_PER_DAY +
	            ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + ms;
	t -= (int64_t)sign * ((int64_t)oh * 3600 + om * 60) * 1000;
	if (t < TIME_MIN_MS || t > TIME_MAX_MS)
		return -EINVAL;
	*ret_ms = t;
	return 0;
}

/* ---- encoding ---- */

/* Length of the well-formed UTF-8 sequence at s (Unicode table 3-7), with its
 * code point in *cp; 0 when s does not start one. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	*cp = (*cp << 6) | (s[1] & 0x3f);
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return len;
}

struct out {
	char *buf;
	size_t size, len;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->size - o->len <= n) { /* keep room for the NUL */
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u(struct out *o, uint32_t cp)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = {
	        '\\',        'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
	        hex[cp & 15]};
	put(o, e, sizeof(e));
}

/* A JSON string of printable ASCII, by the rules in audit.h. */
static void put_escaped(struct out *o, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	put(o, "\"", 1);
	while (i < len) {
		unsigned char c = s[i];
		size_t run = i;
		/* Copy runs of plain characters at once. */
		while (run < len && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' &&
		       s[run] != '\\')
			run++;
		if (run > i) {
			put(o, text + i, run - i);
			i = run;
			continue;
		}
		uint32_t cp;
		size_t n;
		switch (c) {
		case '"':
			put(o, "\\\"", 2);
			i++;
			continue;
		case '\\':
			put(o, "\\\\", 2);
			i++;
			continue;
		case '\b':
			put(o, "\\b", 2);
			i++;
			continue;
		case '\f':
			put(o, "\\f", 2);
			i++;
			continue;
		case '\n':
			put(o, "\\n", 2);
			i++;
			continue;
		case '\r':
			put(o, "\\r", 2);
			i++;
			continue;
		case '\t':
			put(o, "\\t", 2);
			i++;
			continue;
		default:
			break;
		}
		n = utf8_seq(s + i, len - i, &cp);
		if (n == 0) {
			put_u(o, 0xfffd);
			i++;
		} else if (cp >= 0x10000) {
			/* Not a surrogate pair: json-c (0.16 at least) decodes
			 * a pair whose code point has D800..DFFF in its low 16
			 * bits (U+1D800, U+2D800 ...) to U+FFFD. */
			put(o, text + i, n);
			i += n;
		} else {
			put_u(o, cp); /* controls, DEL, and the rest of the BMP */
			i += n;
		}
	}
	put(o, "\"", 1);
}

static void put_key(struct out *o, const char *key)
{
	put(o, ",\"", 2);
	put_str(o, key);
	put(o, "\":", 2);
}

static void put_text(struct out *o, const char *key, const char *value, size_t len)
{
	if (len == 0)
		return;
	put_key(o, key);
	put_escaped(o, value, len);
}

static void put_field(struct out *o, const char *key, const char *value, size_t size)
{
	put_text(o, key, value, strnlen(value, size));
}

static void put_num(struct out *o, const char *key, uint64_t v)
{
	char n[24];
	put_key(o, key);
	put(o, n, (size_t)snprintf(n, sizeof(n), "%llu", (unsigned long long)v));
}

#define PUT_FIELD(o, r, f) put_field(o, #f, (r)->f, sizeof((r)->f))

int audit_encode(const struct audit_record *r, char *buf, size_t size)
{
	struct out o = {buf, size, 0, size == 0};
	char t[AUDIT_TIME_SIZE];
	const char *s;

	audit_format_time(r->time_ms, t);
	put(&o, "{\"time\":\"", 9);
	put_str(&o, t);
	put(&o, "\"", 1);
	PUT_FIELD(&o, r, sandbox);
	PUT_FIELD(&o, r, client);
	s = audit_proto_name(r->proto);
	if (s && *s) {
		put_key(&o, "proto");
		put_escaped(&o, s, strlen(s));
	}
	s = audit_event_name(r->event);
	put_key(&o, "event");
	put_escaped(&o, s ? s : "note", strlen(s ? s : "note"));
	put_text(&o, "name", r->name,
	         r->name_len < sizeof(r->name) ? r->name_len : sizeof(r->name) - 1);
	PUT_FIELD(&o, r, address);
	if (r->port)
		put_num(&o, "port", r->port);
	PUT_FIELD(&o, r, qtype);
	s = audit_verdict_name(r->verdict);
	if (s && *s) {
		put_key(&o, "verdict");
		put_escaped(&o, s, strlen(s));
	}
	PUT_FIELD(&o, r, rule);
	PUT_FIELD(&o, r, origin);
	bool close = r->event == AUDIT_EVENT_CLOSE;
	if (close || r->bytes_up)
		put_num(&o, "bytes_up", r->bytes_up);
	if (close || r->bytes_down)
		put_num(&o, "bytes_down", r->bytes_down);
	if (close || r->duration_ms)
		put_num(&o, "duration_ms", r->duration_ms);
	PUT_FIELD(&o, r, detail);
	put(&o, "}\n", 2);
	if (o.full) {
		if (size)
			buf[0] = '\0';
		return -ENOBUFS;
	}
	buf[o.len] = '\0';
	return (int)o.len;
}

/* ---- decoding ---- */

/* Copy `len` bytes into a field as well-formed UTF-8: each byte that does not
 * start a well-formed sequence (and NUL unless keep_nul) becomes U+FFFD; cut
 * at a character boundary to fit.  Returns the length written. */
static size_t copy_text(char *dst, size_t size, const char *src, size_t len, bool keep_nul)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_seq(s + i, len - i, &cp);
		const char *piece = src + i;
		size_t plen = n, adv = n;
		if (n == 0 || (cp == 0 && !keep_nul)) {
			piece = "\xef\xbf\xbd";
			plen = 3;
			adv = 1;
		}
		if (o + plen > size - 1)
			break;
		memcpy(dst + o, piece, plen);
		o += plen;
		i += adv;
	}
	dst[o] = '\0';
	return o;
}

struct text_key {
	const char *key;
	size_t off, size;
};

#define TEXT_KEY(f)                                                                                \
	{                                                                                          \
#f, offsetof(struct audit_record, f), sizeof(((struct audit_record *)0)->f)        \
	}
static const struct text_key text_keys[] = {
        TEXT_KEY(sandbox), TEXT_KEY(client), TEXT_KEY(address), TEXT_KEY(qtype),
        TEXT_KEY(rule),    TEXT_KEY(origin), TEXT_KEY(detail),
};

/* The value of `key`, or NULL when it is absent or null. */
static json_object *get(json_object *obj, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static int bad_type(struct diag *d, unsigned long lineno, const char *key, const char *what)
{
	return diag_fail(d, -EINVAL, "line %lu: \"%s\" is not %s", lineno, key, what);
}

static int get_string(json_object *obj, const char *key, unsigned long lineno, const char **ret,
                      size_t *ret_len, struct diag *d)
{
	json_object *v = get(obj, key);
	*ret = NULL;
	*ret_len = 0;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return bad_type(d, lineno, key, "a string");
	*ret = json_object_get_string(v);
	*ret_len = (size_t)json_object_get_string_len(v);
	return 0;
}

static int get_count(json_object *obj, const char *key, uint64_t max, unsigned long lineno,
                     uint64_t *ret, struct diag *d)
{
	json_object *v = get(obj, key);
	*ret = 0;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
	    json_object_get_uint64(v) > max) {
		char what[64];
		snprintf(what, sizeof(what), "a whole number from 0 to %llu",
		         (unsigned long long)max);
		return bad_type(d, lineno, key, what);
	}
	*ret = json_object_get_uint64(v);
	return 0;
}

/* Find `s` among names[0..n); an absent value means index `absent`. */
static int get_enum(json_object *obj, const char *key, const char *const *names, size_t n,
                    int absent, unsigned long lineno, int *ret, struct diag *d)
{
	const char *s;
	size_t len;
	int r = get_string(obj, key, lineno, &s, &len, d);
	if (r < 0)
		return r;
	if (!s) {
		if (absent < 0)
			return diag_fail(d, -EINVAL, "line %lu: no \"%s\"", lineno, key);
		*ret = absent;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (names[i][0] && strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
			*ret = (int)i;
			return 0;
		}
	}
	char esc[DIAG_ESCAPE_SIZE];
	return diag_fail(d, -EINVAL, "line %lu: unknown \"%s\" value \"%s\"", lineno, key,
	                 diag_escape(s, len, esc, sizeof(esc)));
}

static int decode_object(json_object *obj, unsigned long lineno, struct audit_record *r,
                         struct diag *d)
{
	const char *s;
	size_t len;
	uint64_t n;
	int v = 0, err;

	memset(r, 0, sizeof(*r));
	err = get_string(obj, "time", lineno, &s, &len, d);
	if (err < 0)
		return err;
	if (!s)
		return diag_fail(d, -EINVAL, "line %lu: no \"time\"", lineno);
	if (audit_parse_time(s, len, &r->time_ms) < 0) {
		char esc[DIAG_ESCAPE_SIZE];
		return diag_fail(d, -EINVAL,
		                 "line %lu: \"time\" is not an RFC 3339 time between years 0000 "
		                 "and 9999: \"%s\"",
		                 lineno, diag_escape(s, len, esc, sizeof(esc)));
	}
	err = get_enum(obj, "event", event_names, ARRAY_SIZE(event_names), -1, lineno, &v, d);
	if (err < 0)
		return err;
	r->event = (enum audit_event)v;
	err = get_enum(obj, "proto", proto_names, ARRAY_SIZE(proto_names), AUDIT_PROTO_NONE, lineno,
	               &v, d);
	if (err < 0)
		return err;
	r->proto = (enum audit_proto)v;
	err = get_enum(obj, "verdict", verdict_names, ARRAY_SIZE(verdict_names), AUDIT_VERDICT_NONE,
	               lineno, &v, d);
	if (err < 0)
		return err;
	r->verdict = (enum audit_verdict)v;

	err = get_string(obj, "name", lineno, &s, &len, d);
	if (err < 0)
		return err;
	if (s)
		r->name_len = copy_text(r->name, sizeof(r->name), s, len, true);
	for (size_t i = 0; i < ARRAY_SIZE(text_keys); i++) {
		err = get_string(obj, text_keys[i].key, lineno, &s, &len, d);
		if (err < 0)
			return err;
		if (s)
			copy_text((char *)r + text_keys[i].off, text_keys[i].size, s, len, false);
	}

	if ((err = get_count(obj, "port", UINT16_MAX, lineno, &n, d)) < 0)
		return err;
	r->port = (uint16_t)n;
	if ((err = get_count(obj, "bytes_up", INT64_MAX, lineno, &r->bytes_up, d)) < 0)
		return err;
	if ((err = get_count(obj, "bytes_down", INT64_MAX, lineno, &r->bytes_down, d)) < 0)
		return err;
	return get_count(obj, "duration_ms", INT64_MAX, lineno, &r->duration_ms, d);
}

int audit_decode(const char *line, size_t len, unsigned long lineno, struct audit_record *ret,
                 struct diag *d)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
	                   line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return diag_fail(d, -EINVAL, "line %lu: empty", lineno);
	if (len >= AUDIT_LINE_MAX)
		return diag_fail(d, -EINVAL, "line %lu: longer than %d bytes", lineno,
		                 AUDIT_LINE_MAX - 1);
	if (memchr(line, '\0', len))
		return diag_fail(d, -EINVAL, "line %lu: contains a NUL byte", lineno);

	/* Depth 8: our records are flat; unknown keys may nest a little. */
	json_tokener *tok = json_tokener_new_ex(8);
	if (!tok)
		return diag_fail(d, -ENOMEM, "line %lu: out of memory", lineno);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	json_object *obj = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	int r;
	if (jerr == json_tokener_continue)
		r = diag_fail(d, -EINVAL, "line %lu: cut short: the JSON object does not end",
		              lineno);
	else if (!obj)
		r = diag_fail(d, -EINVAL, "line %lu: not JSON: %s at byte %zu", lineno,
		              json_tokener_error_desc(jerr), end + 1);
	else if (end != len)
		r = diag_fail(d, -EINVAL, "line %lu: text after the JSON object at byte %zu",
		              lineno, end + 1);
	else if (!json_object_is_type(obj, json_type_object))
		r = diag_fail(d, -EINVAL, "line %lu: not a JSON object", lineno);
	else
		r = decode_object(obj, lineno, ret, d);
	json_object_put(obj);
	return r;
}
