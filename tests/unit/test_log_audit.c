/* Audit records: JSON-lines encoding, escaping, decoding, times. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "log/audit.h"

#define T_2026 INT64_C(1795428902123) /* 2026-11-23T10:15:02.123Z */

static char line[AUDIT_LINE_MAX];

static void full_record(struct audit_record *r)
{
	audit_record_init(r, AUDIT_EVENT_DECISION, AUDIT_PROTO_TLS);
	r->time_ms = T_2026;
	AUDIT_SET(r, sandbox, "agent");
	AUDIT_SET(r, client, "10.0.2.15:40312");
	audit_set_name(r, "api.github.com", 14);
	AUDIT_SET(r, address, "140.82.112.6");
	r->port = 443;
	AUDIT_SET(r, qtype, "AAAA");
	r->verdict = AUDIT_VERDICT_ALLOW;
	AUDIT_SET(r, rule, "*.github.com");
	AUDIT_SET(r, origin, "built-in standard.conf:17");
	r->bytes_up = 1234;
	r->bytes_down = 56789;
	r->duration_ms = 1500;
	AUDIT_SET(r, detail, "head larger than 16384 bytes");
}

/* Encode a record whose only field is a name of `len` bytes; return the
 * name's JSON value (between "name": and the next key). */
static const char *encode_name(const char *name, size_t len)
{
	struct audit_record r;
	static char value[AUDIT_LINE_MAX];

	audit_record_init(&r, AUDIT_EVENT_DECISION, AUDIT_PROTO_NONE);
	audit_set_name(&r, name, len);
	assert_true(audit_encode(&r, line, sizeof(line)) > 0);
	const char *start = strstr(line, "\"name\":");
	assert_non_null(start);
	start += 7;
	size_t n = strlen(start) - 2; /* up to "}\n" */
	memcpy(value, start, n);
	value[n] = '\0';
	return value;
}

/* One line of strict JSON: printable ASCII, and UTF-8 only for characters
 * above U+FFFF (whose validity json-c checks). */
static void assert_valid_ascii_json_line(const char *s)
{
	size_t n = strlen(s);
	assert_true(n >= 2);
	assert_int_equal(s[n - 1], '\n');
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		assert_true((c >= 0x20 && c < 0x7f) || c >= 0xf0 || (c >= 0x80 && c < 0xc0));
	}
	json_tokener *tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *o = json_tokener_parse_ex(tok, s, (int)n - 1);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_true(json_object_is_type(o, json_type_object));
	json_object_put(o);
	json_tokener_free(tok);
}

static void test_encode_every_field(void **state)
{
	struct audit_record r;
	(void)state;

	full_record(&r);
	int n = audit_encode(&r, line, sizeof(line));
	assert_string_equal(
	        line, "{\"time\":\"2026-11-23T10:15:02.123Z\",\"sandbox\":\"agent\","
	              "\"client\":\"10.0.2.15:40312\",\"proto\":\"tls\",\"event\":\"decision\","
	              "\"name\":\"api.github.com\",\"address\":\"140.82.112.6\",\"port\":443,"
	              "\"qtype\":\"AAAA\",\"verdict\":\"allow\",\"rule\":\"*.github.com\","
	              "\"origin\":\"built-in standard.conf:17\",\"bytes_up\":1234,"
	              "\"bytes_down\":56789,\"duration_ms\":1500,"
	              "\"detail\":\"head larger than 16384 bytes\"}\n");
	assert_int_equal(n, strlen(line));
	assert_valid_ascii_json_line(line);
}

static void test_encode_omits_absent(void **state)
{
	struct audit_record r;
	(void)state;

	audit_record_init(&r, AUDIT_EVENT_DECISION, AUDIT_PROTO_NONE);
	r.time_ms = 0;
	audit_encode(&r, line, sizeof(line));
	assert_string_equal(line,
	                    "{\"time\":\"1970-01-01T00:00:00.000Z\",\"event\":\"decision\"}\n");

	/* A close always says what it moved, even nothing. */
	audit_record_init(&r, AUDIT_EVENT_CLOSE, AUDIT_PROTO_TCP);
	r.time_ms = 0;
	audit_encode(&r, line, sizeof(line));
	assert_string_equal(line, "{\"time\":\"1970-01-01T00:00:00.000Z\",\"proto\":\"tcp\","
	                          "\"event\":\"close\",\"bytes_up\":0,\"bytes_down\":0,"
	                          "\"duration_ms\":0}\n");

	audit_record_init(&r, AUDIT_EVENT_NOTE, AUDIT_PROTO_CONTROL);
	r.time_ms = 0;
	r.verdict = AUDIT_VERDICT_BLOCK;
	AUDIT_SET(&r, rule, "evil.example");
	AUDIT_SET(&r, origin, "command line");
	audit_encode(&r, line, sizeof(line));
	assert_string_equal(line, "{\"time\":\"1970-01-01T00:00:00.000Z\",\"proto\":\"control\","
	                          "\"event\":\"note\",\"verdict\":\"block\","
	                          "\"rule\":\"evil.example\",\"origin\":\"command line\"}\n");
}

static void test_encode_buffer_too_small(void **state)
{
	struct audit_record r;
	char small[40];
	(void)state;

	full_record(&r);
	assert_int_equal(audit_encode(&r, small, sizeof(small)), -ENOBUFS);
	assert_string_equal(small, "");
	int n = audit_encode(&r, line, sizeof(line));
	assert_int_equal(audit_encode(&r, line, (size_t)n), -ENOBUFS); /* no room for the NUL */
	assert_int_equal(audit_encode(&r, line, (size_t)n + 1), n);
}

static void test_escape_quotes_backslash_controls(void **state)
{
	static const char name[] = "a\"b\\c/d\be\ff\ng\rh\ti\x01j\x1fk\x7fl\x1b[31m";
	(void)state;

	assert_string_equal(
	        encode_name(name, sizeof(name) - 1),
	        "\"a\\\"b\\\\c/d\\be\\ff\\ng\\rh\\ti\\u0001j\\u001fk\\u007fl\\u001b[31m\"");
	assert_valid_ascii_json_line(line);
}

static void test_escape_nul(void **state)
{
	(void)state;
	assert_string_equal(encode_name("a\0b\0", 4), "\"a\\u0000b\\u0000\"");
	assert_valid_ascii_json_line(line);
}

static void test_escape_utf8(void **state)
{
	(void)state;
	/* Well-formed: as \u escapes, above U+FFFF as a surrogate pair. */
	static const char name[] = "b\xc3\xbc"
	                           "cher \xe2\x80\xae \xf0\x9f\x98\x80";
	assert_string_equal(encode_name(name, sizeof(name) - 1),
	                    "\"b\\u00fccher \\u202e \xf0\x9f\x98\x80\"");
	assert_string_equal(encode_name("\xc2\x85\xef\xbf\xbf", 5), "\"\\u0085\\uffff\"");
	assert_valid_ascii_json_line(line);
	/* U+1D800 and U+10FFFF: raw, which json-c reads back exactly. */
	struct audit_record r, back;
	audit_record_init(&r, AUDIT_EVENT_NOTE, AUDIT_PROTO_NONE);
	audit_set_name(&r, "\xf0\x9d\xa0\x80\xf4\x8f\xbf\xbf", 8);
	int n = audit_encode(&r, line, sizeof(line));
	assert_non_null(strstr(line, "\"name\":\"\xf0\x9d\xa0\x80\xf4\x8f\xbf\xbf\""));
	assert_int_equal(audit_decode(line, (size_t)n, 1, &back, NULL), 0);
	assert_int_equal(back.name_len, 8);
	assert_memory_equal(back.name, r.name, 8);
}

static void test_escape_invalid_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
	        {"\xff", 1, "\"\\ufffd\""},                       /* never in UTF-8 */
	        {"a\x80z", 3, "\"a\\ufffdz\""},                   /* stray continuation */
	        {"\xc3", 1, "\"\\ufffd\""},                       /* cut at the end */
	        {"\xc3z", 2, "\"\\ufffdz\""},                     /* cut in the middle */
	        {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},            /* overlong '/' */
	        {"\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* overlong, 3 bytes */
	        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
	        {"\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* past U+10FFFF */
	        {"\xf5\x80", 2, "\"\\ufffd\\ufffd\""},
	        {"x\xe2\x82", 3, "\"x\\ufffd\\ufffd\""}, /* 3-byte sequence cut */
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_string_equal(encode_name(cases[i].in, cases[i].len), cases[i].out);
		assert_valid_ascii_json_line(line);
	}
}

static void test_every_byte_value_is_valid_json(void **state)
{
	char name[256];
	(void)state;

	for (int i = 0; i < 256; i++)
		name[i] = (char)(255 - i);
	encode_name(name, sizeof(name));
	assert_valid_ascii_json_line(line);
}

static void assert_records_equal(const struct audit_record *a, const struct audit_record *b)
{
	assert_int_equal(a->time_ms, b->time_ms);
	assert_int_equal(a->event, b->event);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->verdict, b->verdict);
	assert_int_equal(a->port, b->port);
	assert_int_equal(a->bytes_up, b->bytes_up);
	assert_int_equal(a->bytes_down, b->bytes_down);
	assert_int_equal(a->duration_ms, b->duration_ms);
	assert_int_equal(a->name_len, b->name_len);
	assert_memory_equal(a->name, b->name, a->name_len);
	assert_string_equal(a->sandbox, b->sandbox);
	assert_string_equal(a->client, b->client);
	assert_string_equal(a->address, b->address);
	assert_string_equal(a->qtype, b->qtype);
	assert_string_equal(a->rule, b->rule);
	assert_string_equal(a->origin, b->origin);
	assert_string_equal(a->detail, b->detail);
}

static void test_round_trip(void **state)
{
	struct audit_record r, back;
	struct diag d;
	(void)state;

	full_record(&r);
	int n = audit_encode(&r, line, sizeof(line));
	assert_int_equal(audit_decode(line, (size_t)n, 1, &back, &d), 0);
	assert_records_equal(&r, &back);

	/* Odd but well-formed text survives exactly, NULs in the name too. */
	audit_record_init(&r, AUDIT_EVENT_CLOSE, AUDIT_PROTO_CONNECT);
	r.time_ms = -1;
	audit_set_name(&r, "a\0\"\\\n\x7f\xf0\x9f\x98\x80", 10);
	AUDIT_SET(&r, sandbox, "s\xc3\xa9 \"q\"\t");
	AUDIT_SET(&r, detail, "rebinding: \x01");
	r.bytes_up = INT64_MAX;
	r.port = 65535;
	r.verdict = AUDIT_VERDICT_BLOCK;
	n = audit_encode(&r, line, sizeof(line));
	assert_int_equal(audit_decode(line, (size_t)n, 1, &back, &d), 0);
	assert_records_equal(&r, &back);
	assert_int_equal(back.time_ms, -1);

	/* Every protocol and event by name. */
	for (int p = AUDIT_PROTO_NONE; p <= AUDIT_PROTO_CONTROL; p++) {
		for (int e = AUDIT_EVENT_DECISION; e <= AUDIT_EVENT_NOTE; e++) {
			audit_record_init(&r, (enum audit_event)e, (enum audit_proto)p);
			n = audit_encode(&r, line, sizeof(line));
			assert_int_equal(audit_decode(line, (size_t)n, 1, &back, &d), 0);
			assert_records_equal(&r, &back);
		}
	}
}

static void test_decode_largest_record(void **state)
{
	struct audit_record r, back;
	struct diag d;
	(void)state;

	/* Every field full of bytes that escape to 6 characters. */
	audit_record_init(&r, AUDIT_EVENT_CLOSE, AUDIT_PROTO_CONNECT);
	r.time_ms = INT64_C(253402300799999);
	memset(r.sandbox, 1, sizeof(r.sandbox) - 1);
	memset(r.client, 2, sizeof(r.client) - 1);
	memset(r.name, 0, sizeof(r.name));
	r.name_len = sizeof(r.name) - 1;
	memset(r.address, 3, sizeof(r.address) - 1);
	memset(r.qtype, 4, sizeof(r.qtype) - 1);
	memset(r.rule, 5, sizeof(r.rule) - 1);
	memset(r.origin, 6, sizeof(r.origin) - 1);
	memset(r.detail, 7, sizeof(r.detail) - 1);
	r.port = 65535;
	r.bytes_up = r.bytes_down = r.duration_ms = INT64_MAX;
	int n = audit_encode(&r, line, sizeof(line));
	assert_true(n > 0 && n < AUDIT_LINE_MAX);
	assert_valid_ascii_json_line(line);
	assert_int_equal(audit_decode(line, (size_t)n, 1, &back, &d), 0);
	assert_records_equal(&r, &back);
}

static void test_decode_tolerant(void **state)
{
	struct audit_record r;
	struct diag d;
	(void)state;

	static const char text[] =
	        "{\"future\":{\"nested\":[1,2,{\"x\":null}]},\"event\":\"close\","
	        "\"port\":53,\"name\":null,\"time\":\"2026-11-23t11:15:02.1234+01:00\","
	        "\"verdict\":\"block\",\"qtype\":\"A\",\"extra\":true}\r\n";
	assert_int_equal(audit_decode(text, sizeof(text) - 1, 3, &r, &d), 0);
	assert_int_equal(r.time_ms, T_2026);
	assert_int_equal(r.event, AUDIT_EVENT_CLOSE);
	assert_int_equal(r.proto, AUDIT_PROTO_NONE);
	assert_int_equal(r.verdict, AUDIT_VERDICT_BLOCK);
	assert_int_equal(r.port, 53);
	assert_int_equal(r.name_len, 0);
	assert_string_equal(r.qtype, "A");
}

static void test_decode_sanitizes(void **state)
{
	struct audit_record r;
	struct diag d;
	char text[4096];
	(void)state;

	/* A lone surrogate and a NUL outside the name become U+FFFD. */
	static const char t1[] = "{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\","
	                         "\"sandbox\":\"a\\u0000b\",\"detail\":\"x\\ud800y\"}";
	assert_int_equal(audit_decode(t1, sizeof(t1) - 1, 1, &r, &d), 0);
	assert_string_equal(r.sandbox, "a\xef\xbf\xbd"
	                               "b");
	/* json-c's bytes for the surrogate, whatever they are, are not left raw. */
	assert_null(strstr(r.detail, "\xed\xa0\x80"));
	assert_int_equal(r.detail[0], 'x');
	assert_non_null(strstr(r.detail, "\xef\xbf\xbd"));
	assert_int_equal(r.detail[strlen(r.detail) - 1], 'y');

	/* A string longer than its field is cut at a character boundary. */
	size_t n = (size_t)snprintf(text, sizeof(text),
	                            "{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\","
	                            "\"qtype\":\"abcdefghijklmn\\u00e9\\u00e9\"}");
	assert_int_equal(audit_decode(text, n, 1, &r, &d), 0);
	assert_string_equal(r.qtype, "abcdefghijklmn"); /* 14 + 2 would not fit in 15 */
}

static void test_decode_malformed(void **state)
{
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
	        {"", "line 7: empty"},
	        {"   \n", "line 7: empty"},
	        {"not json", "line 7: not JSON"},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\"", "line 7: cut short"},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\"} x",
	         "line 7: text after the JSON object"},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\",}", "line 7: not JSON"},
	        {"[1,2]", "line 7: not a JSON object"},
	        {"\"str\"", "line 7: not a JSON object"},
	        {"{\"event\":\"note\"}", "line 7: no \"time\""},
	        {"{\"time\":\"2026-11-23T10:15:02Z\"}", "line 7: no \"event\""},
	        {"{\"time\":12,\"event\":\"note\"}", "\"time\" is not a string"},
	        {"{\"time\":\"yesterday\",\"event\":\"note\"}", "\"time\" is not an RFC 3339"},
	        {"{\"time\":\"2026-02-29T10:15:02Z\",\"event\":\"note\"}",
	         "\"time\" is not an RFC 3339"},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"opened\"}",
	         "line 7: unknown \"event\" value \"opened\""},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\",\"proto\":\"quic\"}",
	         "unknown \"proto\" value \"quic\""},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\",\"verdict\":\"maybe\"}",
	         "unknown \"verdict\""},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\",\"port\":70000}",
	         "\"port\" is not a whole number from 0 to 65535"},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\",\"port\":\"443\"}",
	         "\"port\" is not a whole number"},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\",\"bytes_up\":-1}",
	         "\"bytes_up\" is not a whole number"},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\",\"duration_ms\":1.5}",
	         "\"duration_ms\" is not a whole number"},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\",\"name\":5}",
	         "\"name\" is not a string"},
	        {"{\"time\":\"2026-11-23T10:15:02Z\",\"event\":\"note\",\"detail\":[]}",
	         "\"detail\" is not a string"},
	        {"{'time':'2026-11-23T10:15:02Z','event':'note'}", "line 7: not JSON"},
	        {"{\"a\":[[[[[[[[[[1]]]]]]]]]],\"time\":\"2026-11-23T10:15:02Z\",\"event\":"
	         "\"note\"}",
	         "line 7: not JSON"},
	};
	struct audit_record r;
	struct diag d;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		d.msg[0] = '\0';
		assert_int_equal(audit_decode(cases[i].line, strlen(cases[i].line), 7, &r, &d),
		                 -EINVAL);
		if (!strstr(d.msg, cases[i].msg))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, d.msg, cases[i].msg);
		assert_true(strncmp(d.msg, "line 7: ", 8) == 0);
	}

	/* A NUL byte, and a line past the limit. */
	static const char nul[] = "{\"time\":\"2026-11-23T10:15:02Z\",\0\"event\":\"note\"}";
	assert_int_equal(audit_decode(nul, sizeof(nul) - 1, 9, &r, &d), -EINVAL);
	assert_string_equal(d.msg, "line 9: contains a NUL byte");
	char *big = malloc(AUDIT_LINE_MAX + 10);
	assert_non_null(big);
	memset(big, ' ', AUDIT_LINE_MAX + 10);
	big[0] = '{';
	big[AUDIT_LINE_MAX + 8] = '}';
	assert_int_equal(audit_decode(big, AUDIT_LINE_MAX + 9, 10, &r, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "line 10: longer than"));
	free(big);
}

static void test_time(void **state)
{
	char t[AUDIT_TIME_SIZE];
	int64_t ms;
	(void)state;

	audit_format_time(T_2026, t);
	assert_string_equal(t, "2026-11-23T10:15:02.123Z");
	audit_format_time(INT64_C(1709251199999), t);
	assert_string_equal(t, "2024-02-29T23:59:59.999Z");
	audit_format_time(-1, t);
	assert_string_equal(t, "1969-12-31T23:59:59.999Z");
	audit_format_time(INT64_MAX, t);
	assert_string_equal(t, "9999-12-31T23:59:59.999Z");
	audit_format_time(INT64_MIN, t);
	assert_string_equal(t, "0000-01-01T00:00:00.000Z");

	static const char *const good[] = {
	        "2026-11-23T10:15:02.123Z",      "2026-11-23T10:15:02.123456789Z",
	        "2026-11-23T10:15:02.12Z",       "2026-11-23t10:15:02.123z",
	        "2026-11-23T11:15:02.123+01:00", "2026-11-23T05:45:02.123-04:30",
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(audit_parse_time(good[i], strlen(good[i]), &ms), 0);
		assert_int_equal(ms, i == 2 ? T_2026 - 3 : T_2026);
	}
	assert_int_equal(audit_parse_time("2024-02-29T23:59:59.999Z", 24, &ms), 0);
	assert_int_equal(ms, INT64_C(1709251199999));

	static const char *const bad[] = {
	        "2026-11-23T10:15:02",       "2026-11-23 10:15:02Z",      "2026-13-01T00:00:00Z",
	        "2026-02-29T00:00:00Z",      "2026-04-31T00:00:00Z",      "2026-11-23T24:00:00Z",
	        "2026-11-23T10:60:00Z",      "2026-11-23T10:15:02.Z",     "2026-11-23T10:15:02ZZ",
	        "2026-11-23T10:15:02+0100",  "2026-11-23T10:15:02+25:00", "+2026-11-23T10:15:02Z",
	        "0000-01-01T00:00:00+00:01", "2026-1-23T10:15:02Z",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (audit_parse_time(bad[i], strlen(bad[i]), &ms) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
}

static void test_set_decision(void **state)
{
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct audit_record r;
	struct decision dec;
	struct rule rule;
	uint32_t origin;
	(void)state;

	assert_int_equal(policy_builder_origin(b, "built-in standard.conf", &origin), 0);
	assert_int_equal(rule_parse("*.github.com", 12, &rule, NULL), 0);
	assert_int_equal(policy_builder_add(b, ACTION_ALLOW, &rule, origin, 17), 0);
	assert_int_equal(policy_builder_origin(b, "command line", &origin), 0);
	assert_int_equal(rule_parse("evil.example:443", 16, &rule, NULL), 0);
	assert_int_equal(policy_builder_add(b, ACTION_BLOCK, &rule, origin, 0), 0);
	policy_builder_set_default(b, ACTION_BLOCK);
	assert_int_equal(policy_compile(b, &p, NULL), 0);

	audit_record_init(&r, AUDIT_EVENT_DECISION, AUDIT_PROTO_TLS);
	policy_decide_name(p, "api.github.com", 14, 443, &dec);
	audit_set_decision(&r, p, &dec);
	assert_int_equal(r.verdict, AUDIT_VERDICT_ALLOW);
	assert_string_equal(r.rule, "*.github.com");
	assert_string_equal(r.origin, "built-in standard.conf:17");

	policy_decide_name(p, "evil.example", 12, 443, &dec);
	audit_set_decision(&r, p, &dec);
	assert_int_equal(r.verdict, AUDIT_VERDICT_BLOCK);
	assert_string_equal(r.rule, "evil.example:443");
	assert_string_equal(r.origin, "command line");

	policy_decide_name(p, "other.example", 13, 443, &dec);
	audit_set_decision(&r, p, &dec);
	assert_int_equal(r.verdict, AUDIT_VERDICT_BLOCK);
	assert_string_equal(r.rule, "");
	assert_string_equal(r.origin, "default");
	policy_unref(p);

	b = policy_builder_new();
	policy_builder_set_network_none(b, true);
	assert_int_equal(policy_compile(b, &p, NULL), 0);
	policy_decide_name(p, "api.github.com", 14, 443, &dec);
	audit_set_decision(&r, p, &dec);
	assert_string_equal(r.origin, "no network");
	policy_unref(p);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(audit_proto_name(AUDIT_PROTO_CONNECT), "connect");
	assert_string_equal(audit_proto_name(AUDIT_PROTO_ICMP), "icmp");
	assert_null(audit_proto_name((enum audit_proto)99));
	assert_string_equal(audit_event_name(AUDIT_EVENT_CLOSE), "close");
	assert_string_equal(audit_verdict_name(AUDIT_VERDICT_BLOCK), "block");

	/* A name is cut at the field size; the setter never overflows. */
	struct audit_record r;
	char big[AUDIT_NAME_SIZE + 100];
	memset(big, 'a', sizeof(big));
	audit_set_name(&r, big, sizeof(big));
	assert_int_equal(r.name_len, AUDIT_NAME_SIZE - 1);
	assert_int_equal(r.name[AUDIT_NAME_SIZE - 1], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_encode_every_field),
	        cmocka_unit_test(test_encode_omits_absent),
	        cmocka_unit_test(test_encode_buffer_too_small),
	        cmocka_unit_test(test_escape_quotes_backslash_controls),
	        cmocka_unit_test(test_escape_nul),
	        cmocka_unit_test(test_escape_utf8),
	        cmocka_unit_test(test_escape_invalid_utf8),
	        cmocka_unit_test(test_every_byte_value_is_valid_json),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_decode_largest_record),
	        cmocka_unit_test(test_decode_tolerant),
	        cmocka_unit_test(test_decode_sanitizes),
	        cmocka_unit_test(test_decode_malformed),
	        cmocka_unit_test(test_time),
	        cmocka_unit_test(test_set_decision),
	        cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
