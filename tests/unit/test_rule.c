/* Rule and target syntax. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "policy/rule.h"

static struct rule parse_ok(const char *text)
{
	struct rule r;
	struct diag d = {""};
	if (rule_parse(text, strlen(text), &r, &d) != 0)
		fail_msg("rule '%s' refused: %s", text, d.msg);
	return r;
}

/* Parses, and formats back to `canonical`. */
static void roundtrip(const char *text, enum rule_kind kind, const char *canonical)
{
	char buf[RULE_TEXT_SIZE];
	struct rule r = parse_ok(text);
	assert_int_equal(r.kind, kind);
	rule_format(&r, buf, sizeof(buf));
	assert_string_equal(buf, canonical);
	struct rule again = parse_ok(buf);
	assert_true(rule_equal(&r, &again));
}

static void refused(const char *text, const char *msg_part)
{
	struct rule r;
	struct diag d = {""};
	int ret = rule_parse(text, strlen(text), &r, &d);
	if (ret == 0)
		fail_msg("rule '%s' accepted", text);
	assert_int_equal(ret, -EINVAL);
	if (!strstr(d.msg, msg_part))
		fail_msg("message for '%s' lacks '%s': %s", text, msg_part, d.msg);
}

static void test_name_rules(void **state)
{
	(void)state;
	roundtrip("example.com", RULE_EXACT, "example.com");
	roundtrip("*.Example.COM.", RULE_SUBDOMAINS, "*.example.com");
	roundtrip(".example.com", RULE_DOMAIN, ".example.com");
	roundtrip("*.com", RULE_SUBDOMAINS, "*.com");
	roundtrip("b\xc3\xbc"
	          "cher.example",
	          RULE_EXACT, "xn--bcher-kva.example");
}

static void test_ports(void **state)
{
	(void)state;
	roundtrip("example.com:443", RULE_EXACT, "example.com:443");
	roundtrip("*.example.com:8000-8999", RULE_SUBDOMAINS, "*.example.com:8000-8999");
	roundtrip("example.com:22-22", RULE_EXACT, "example.com:22");
	struct rule r = parse_ok("example.com:1-65535");
	assert_int_equal(r.ports.lo, 1);
	assert_int_equal(r.ports.hi, 65535);
	r = parse_ok("example.com");
	assert_true(port_range_is_any(r.ports));
	refused("example.com:0", "not a port");
	refused("example.com:65536", "not a port");
	refused("example.com:http", "not a port");
	refused("example.com:9-1", "runs backwards; write 1-9");
	refused("example.com:", "empty port");
	refused(":443", "no host");
	refused("example.com:443:80", "not allowed in a host name");
}

static void test_cidrs(void **state)
{
	(void)state;
	roundtrip("10.0.0.0/8", RULE_CIDR, "10.0.0.0/8");
	roundtrip("192.0.2.7", RULE_CIDR, "192.0.2.7");
	roundtrip("192.0.2.7/32", RULE_CIDR, "192.0.2.7");
	roundtrip("10.0.0.0/8:22", RULE_CIDR, "10.0.0.0/8:22");
	roundtrip("2001:db8::/32", RULE_CIDR, "2001:db8::/32");
	roundtrip("2001:DB8::1", RULE_CIDR, "2001:db8::1");
	roundtrip("[2001:db8::/32]:443", RULE_CIDR, "[2001:db8::/32]:443");
	roundtrip("0.0.0.0/0", RULE_CIDR, "0.0.0.0/0");
	refused("10.0.0.1/8", "host bits set; did you mean 10.0.0.0/8?");
	refused("10.0.0.0/33", "prefix length must be 0-32");
	refused("2001:db8::/129", "prefix length must be 0-128");
	refused("10.0.0.0/", "prefix length");
	refused("[10.0.0.0]:80", "brackets are for IPv6");
	refused("[2001:db8::1", "without a closing");
	refused("300.1.2.3", "not an IPv4 or IPv6 address");
}

static void test_wildcard_misuse(void **state)
{
	(void)state;
	refused("*", "'*' alone is not a rule");
	refused("a*.example.com", "only allowed as a whole first label");
	refused("*.*.example.com", "only allowed as a whole first label");
	refused("api.*.example.com", "only allowed as a whole first label");
	refused("*example.com", "only allowed as a whole first label");
	refused("*.", "empty name");
	refused(".", "empty name");
	refused("..example.com", "empty label");
}

static void test_other_mistakes(void **state)
{
	(void)state;
	refused("https://example.com/path", "looks like a URL");
	refused("", "empty rule");
	refused("exa mple.com", "not allowed in a host name");
}

static void test_targets(void **state)
{
	struct target t;
	struct diag d;
	char buf[RULE_TEXT_SIZE];
	(void)state;

	assert_int_equal(target_parse("API.github.com.", 15, &t, &d), 0);
	assert_false(t.is_addr);
	assert_string_equal(t.name, "api.github.com");
	assert_int_equal(t.port, 0);

	assert_int_equal(target_parse("github.com:443", 14, &t, &d), 0);
	assert_int_equal(t.port, 443);
	target_format(&t, buf, sizeof(buf));
	assert_string_equal(buf, "github.com:443");

	assert_int_equal(target_parse("192.0.2.1:22", 12, &t, &d), 0);
	assert_true(t.is_addr);
	assert_int_equal(t.family, 4);
	assert_int_equal(t.port, 22);

	assert_int_equal(target_parse("[2001:db8::1]:443", 17, &t, &d), 0);
	assert_int_equal(t.family, 6);
	target_format(&t, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:443");

	assert_int_equal(target_parse("2001:db8::1", 11, &t, &d), 0);
	assert_int_equal(t.family, 6);
	assert_int_equal(t.port, 0);

	assert_int_equal(target_parse("*.github.com", 12, &t, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "wildcards belong in rules"));
	assert_int_equal(target_parse("github.com:1-2", 14, &t, &d), -EINVAL);
	assert_int_equal(target_parse("http://x.com", 12, &t, &d), -EINVAL);
	assert_int_equal(target_parse("2130706433", 10, &t, &d), -EINVAL);
	assert_int_equal(target_parse("[github.com]:443", 16, &t, &d), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_name_rules),     cmocka_unit_test(test_ports),
	        cmocka_unit_test(test_cidrs),          cmocka_unit_test(test_wildcard_misuse),
	        cmocka_unit_test(test_other_mistakes), cmocka_unit_test(test_targets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
