/* The matcher: precedence, ports, CIDRs, snapshots - and a randomised
 * comparison against a naive reading of docs/rules.md. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "policy/policy.h"

struct spec {
	const char *text;
	enum action action;
};

static struct policy *build(enum action def, const struct spec *rules, size_t n)
{
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct diag d = {""};
	uint32_t origin;

	assert_non_null(b);
	assert_int_equal(policy_builder_origin(b, "test", &origin), 0);
	for (size_t i = 0; i < n; i++) {
		struct rule r;
		if (rule_parse(rules[i].text, strlen(rules[i].text), &r, &d) != 0)
			fail_msg("%s: %s", rules[i].text, d.msg);
		assert_int_equal(
		        policy_builder_add(b, rules[i].action, &r, origin, (uint32_t)i + 1), 0);
	}
	policy_builder_set_default(b, def);
	if (policy_compile(b, &p, &d) != 0)
		fail_msg("compile: %s", d.msg);
	return p;
}

#define BUILD(def, ...)                                                                            \
	({                                                                                         \
		static const struct spec _r[] = {__VA_ARGS__};                                     \
		build(def, _r, ARRAY_SIZE(_r));                                                    \
	})

#define A(t)                                                                                       \
	{                                                                                          \
		t, ACTION_ALLOW                                                                    \
	}
#define B(t)                                                                                       \
	{                                                                                          \
		t, ACTION_BLOCK                                                                    \
	}

/* Decide on "name[:port]" as typed; returns the verdict, and the deciding
 * rule's text (or "default") in `why`. */
static enum action ask(const struct policy *p, const char *target, char *why, size_t size)
{
	struct target t;
	struct decision dec;
	struct diag d = {""};

	if (target_parse(target, strlen(target), &t, &d) != 0)
		fail_msg("target %s: %s", target, d.msg);
	policy_decide(p, &t, &dec);
	if (dec.by == DECIDED_BY_RULE) {
		struct rule_info ri;
		policy_rule_info(p, dec.rule, &ri);
		rule_format(&ri.rule, why, size);
	} else {
		snprintf(why, size, "%s", dec.by == DECIDED_BY_DEFAULT ? "default" : "no network");
	}
	return dec.verdict;
}

static void expect(const struct policy *p, const char *target, enum action want,
                   const char *want_why)
{
	char why[RULE_TEXT_SIZE];
	enum action got = ask(p, target, why, sizeof(why));
	if (got != want || strcmp(why, want_why) != 0)
		fail_msg("%s: got %s by %s, want %s by %s", target,
		         got == ACTION_ALLOW ? "allow" : "block", why,
		         want == ACTION_ALLOW ? "allow" : "block", want_why);
}

#define ALLOWED(p, t, why) expect(p, t, ACTION_ALLOW, why)
#define BLOCKED(p, t, why) expect(p, t, ACTION_BLOCK, why)

static void test_subdomain_wildcard_is_not_apex(void **state)
{
	(void)state;
	struct policy *p = BUILD(ACTION_BLOCK, A("*.github.com"));
	ALLOWED(p, "api.github.com", "*.github.com");
	ALLOWED(p, "a.b.github.com", "*.github.com");
	BLOCKED(p, "github.com", "default");
	BLOCKED(p, "notgithub.com", "default");
	BLOCKED(p, "api.github.com.evil.test", "default");
	BLOCKED(p, "github.com.evil.test", "default");
	policy_unref(p);
}

static void test_apex_and_subdomains(void **state)
{
	(void)state;
	struct policy *p = BUILD(ACTION_BLOCK, A(".example.com"));
	ALLOWED(p, "example.com", ".example.com");
	ALLOWED(p, "EXAMPLE.com.", ".example.com");
	ALLOWED(p, "a.example.com", ".example.com");
	BLOCKED(p, "evil-example.com", "default");
	BLOCKED(p, "example.com.evil.test", "default");
	BLOCKED(p, "xexample.com", "default");
	BLOCKED(p, "com", "default");
	policy_unref(p);
}

static void test_exact_is_exact(void **state)
{
	(void)state;
	struct policy *p = BUILD(ACTION_BLOCK, A("example.com"));
	ALLOWED(p, "example.com", "example.com");
	ALLOWED(p, "Example.Com.", "example.com");
	BLOCKED(p, "www.example.com", "default");
	BLOCKED(p, "evil-example.com", "default");
	policy_unref(p);
}

static void test_most_specific_wins(void **state)
{
	(void)state;
	struct policy *p = BUILD(ACTION_BLOCK, A(".example.com"), B("ads.example.com"),
	                         B("*.cdn.example.com"), A("ok.cdn.example.com"));
	ALLOWED(p, "www.example.com", ".example.com");
	BLOCKED(p, "ads.example.com", "ads.example.com");
	/* An exact rule covers that name only. */
	ALLOWED(p, "x.ads.example.com", ".example.com");
	BLOCKED(p, "img.cdn.example.com", "*.cdn.example.com");
	ALLOWED(p, "cdn.example.com", ".example.com");
	ALLOWED(p, "ok.cdn.example.com", "ok.cdn.example.com");
	policy_unref(p);

	/* Exact beats ".name" on the apex, whatever the order. */
	p = BUILD(ACTION_ALLOW, B(".example.com"), A("example.com"));
	ALLOWED(p, "example.com", "example.com");
	BLOCKED(p, "a.example.com", ".example.com");
	policy_unref(p);
}

static void test_tie_goes_to_block(void **state)
{
	(void)state;
	struct policy *p = BUILD(ACTION_ALLOW, A("*.example.com"), B(".example.com"));
	BLOCKED(p, "a.example.com", ".example.com");
	BLOCKED(p, "example.com", ".example.com");
	policy_unref(p);
	p = BUILD(ACTION_ALLOW, A("example.com"), B("example.com"));
	BLOCKED(p, "example.com", "example.com");
	policy_unref(p);
	p = BUILD(ACTION_ALLOW, B("example.com"), A("example.com"));
	BLOCKED(p, "example.com", "example.com");
	policy_unref(p);
}

static void test_ports(void **state)
{
	(void)state;
	struct policy *p = BUILD(ACTION_BLOCK, A("github.com:443"), A(".gitlab.com"),
	                         B("gitlab.com:22"), A("*.test:8000-8999"), B("x.test:8080"));
	ALLOWED(p, "github.com:443", "github.com:443");
	BLOCKED(p, "github.com:22", "default");
	ALLOWED(p, "github.com", "github.com:443"); /* some port is allowed */
	ALLOWED(p, "gitlab.com:443", ".gitlab.com");
	BLOCKED(p, "gitlab.com:22", "gitlab.com:22");
	ALLOWED(p, "gitlab.com", ".gitlab.com");
	ALLOWED(p, "a.test:8000", "*.test:8000-8999");
	ALLOWED(p, "a.test:8999", "*.test:8000-8999");
	BLOCKED(p, "a.test:9000", "default");
	BLOCKED(p, "x.test:8080", "x.test:8080");
	ALLOWED(p, "x.test:8081", "*.test:8000-8999");
	policy_unref(p);

	/* The narrower range wins between rules on the same name. */
	p = BUILD(ACTION_BLOCK, A("h.test:1000-9000"), B("h.test:8000-8999"), A("h.test:8443"));
	ALLOWED(p, "h.test:1000", "h.test:1000-9000");
	BLOCKED(p, "h.test:8500", "h.test:8000-8999");
	ALLOWED(p, "h.test:8443", "h.test:8443");
	ALLOWED(p, "h.test:9000", "h.test:1000-9000");
	policy_unref(p);
}

static void test_any_port_is_exact(void **state)
{
	(void)state;
	/* Allowed and blocked on the same port: no port is allowed. */
	struct policy *p = BUILD(ACTION_BLOCK, A("h.test:443"), B("h.test:443"));
	BLOCKED(p, "h.test", "default");
	policy_unref(p);
	/* Blocked on every port by ranges, although an any-port rule allows. */
	p = BUILD(ACTION_BLOCK, A("h.test"), B("h.test:1-65535"));
	BLOCKED(p, "h.test", "h.test:1-65535");
	policy_unref(p);
	/* Only the very last port is open. */
	p = BUILD(ACTION_BLOCK, A("h.test"), B("h.test:1-65534"));
	ALLOWED(p, "h.test", "h.test");
	ALLOWED(p, "h.test:65535", "h.test");
	policy_unref(p);
	/* Default allow with a single port blocked: the name still resolves. */
	p = BUILD(ACTION_ALLOW, B("h.test:25"));
	ALLOWED(p, "h.test", "default");
	BLOCKED(p, "h.test:25", "h.test:25");
	policy_unref(p);
}

static void test_cidrs(void **state)
{
	(void)state;
	struct policy *p = BUILD(ACTION_BLOCK, A("10.0.0.0/8"), B("10.1.0.0/16"), A("10.1.2.3"),
	                         A("2001:db8::/32"), B("2001:db8:bad::/48"), A("192.0.2.0/24:443"));
	ALLOWED(p, "10.9.9.9", "10.0.0.0/8");
	BLOCKED(p, "10.1.9.9", "10.1.0.0/16");
	ALLOWED(p, "10.1.2.3", "10.1.2.3");
	BLOCKED(p, "11.0.0.1", "default");
	ALLOWED(p, "[2001:db8::1]:80", "2001:db8::/32");
	BLOCKED(p, "[2001:db8:bad::1]:80", "2001:db8:bad::/48");
	BLOCKED(p, "2001:db9::1", "default");
	ALLOWED(p, "192.0.2.1:443", "192.0.2.0/24:443");
	BLOCKED(p, "192.0.2.1:80", "default");
	/* IPv4-mapped IPv6 is the IPv4 address. */
	ALLOWED(p, "[::ffff:10.9.9.9]:80", "10.0.0.0/8");
	BLOCKED(p, "[::ffff:10.1.9.9]:80", "10.1.0.0/16");
	policy_unref(p);

	/* Names never match address rules and addresses never match names. */
	p = BUILD(ACTION_BLOCK, A("0.0.0.0/0"), A("::/0"));
	ALLOWED(p, "203.0.113.9", "0.0.0.0/0");
	ALLOWED(p, "2001:db8::9", "::/0");
	BLOCKED(p, "example.com", "default");
	policy_unref(p);
}

static void test_default_allow(void **state)
{
	(void)state;
	struct policy *p = BUILD(ACTION_ALLOW, B("*.tracker.test"));
	ALLOWED(p, "anything.example", "default");
	BLOCKED(p, "a.tracker.test", "*.tracker.test");
	ALLOWED(p, "tracker.test", "default");
	policy_unref(p);
}

static void test_network_none(void **state)
{
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct diag d;
	uint32_t origin;
	struct rule r;
	(void)state;

	policy_builder_set_network_none(b, true);
	policy_builder_set_default(b, ACTION_ALLOW);
	assert_int_equal(policy_compile(b, &p, &d), 0);
	assert_true(policy_network_none(p));
	assert_int_equal(policy_default(p), ACTION_BLOCK);
	BLOCKED(p, "example.com", "no network");
	BLOCKED(p, "127.0.0.1:53", "no network");
	policy_unref(p);

	b = policy_builder_new();
	policy_builder_set_network_none(b, true);
	policy_builder_origin(b, "t", &origin);
	rule_parse("example.com", 11, &r, &d);
	policy_builder_add(b, ACTION_ALLOW, &r, origin, 1);
	assert_int_equal(policy_compile(b, &p, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "network = none"));
}

static void test_remove_and_duplicates(void **state)
{
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct diag d;
	uint32_t o1, o2;
	struct rule r, r2;
	(void)state;

	policy_builder_origin(b, "first", &o1);
	policy_builder_origin(b, "second", &o2);
	rule_parse("example.com", 11, &r, &d);
	rule_parse("other.test", 10, &r2, &d);
	assert_int_equal(policy_builder_add(b, ACTION_ALLOW, &r, o1, 3), 0);
	assert_int_equal(policy_builder_add(b, ACTION_ALLOW, &r, o2, 9), 0);
	assert_int_equal(policy_builder_add(b, ACTION_BLOCK, &r2, o1, 4), 0);
	assert_int_equal(policy_builder_count(b, ACTION_ALLOW), 2);
	assert_int_equal(policy_builder_remove(b, &r2), 0);
	assert_int_equal(policy_builder_remove(b, &r2), -ENOENT);
	assert_int_equal(policy_builder_count(b, ACTION_BLOCK), 0);
	assert_int_equal(policy_compile(b, &p, &d), 0);
	assert_int_equal(policy_rule_count(p), 2);

	struct target t;
	struct decision dec;
	struct rule_info ri;
	target_parse("example.com", 11, &t, &d);
	policy_decide(p, &t, &dec);
	policy_rule_info(p, dec.rule, &ri);
	/* The duplicate adds nothing; the first definition is the one reported. */
	assert_string_equal(ri.origin, "first");
	assert_int_equal(ri.line, 3);
	policy_unref(p);
}

static void test_slot_swap(void **state)
{
	struct policy_slot slot = {NULL};
	(void)state;

	assert_null(policy_slot_acquire(&slot));
	policy_slot_replace(&slot, BUILD(ACTION_BLOCK, A("old.test")));
	struct policy *held = policy_slot_acquire(&slot);
	policy_slot_replace(&slot, BUILD(ACTION_BLOCK, A("new.test")));
	struct policy *now = policy_slot_acquire(&slot);
	/* A holder keeps deciding under the snapshot it took. */
	ALLOWED(held, "old.test", "old.test");
	BLOCKED(held, "new.test", "default");
	ALLOWED(now, "new.test", "new.test");
	BLOCKED(now, "old.test", "default");
	assert_true(policy_memory(now) > 0);
	policy_unref(held);
	policy_unref(now);
	policy_slot_replace(&slot, NULL);
}

/* ---- randomised comparison with the naive reading of the rules -------- */

struct naive_rule {
	struct rule r;
	enum action action;
};

static bool naive_name_match(const struct rule *r, const char *q, unsigned *spec)
{
	size_t ql = strlen(q), nl = r->name_len;
	bool equal = ql == nl && memcmp(q, r->name, nl) == 0;
	bool below = ql > nl + 1 && q[ql - nl - 1] == '.' && memcmp(q + ql - nl, r->name, nl) == 0;
	unsigned labels = name_label_count(r->name, nl);

	switch (r->kind) {
	case RULE_EXACT:
		*spec = labels * 2 + 1;
		return equal;
	case RULE_SUBDOMAINS:
		*spec = labels * 2;
		return below;
	case RULE_DOMAIN:
		*spec = labels * 2;
		return equal || below;
	default:
		return false;
	}
}

static bool naive_addr_match(const struct rule *r, const uint8_t *addr, unsigned *spec)
{
	uint8_t masked[16];
	if (r->kind != RULE_CIDR || r->prefix.family != 4)
		return false;
	ip_mask(4, addr, r->prefix.len, masked);
	*spec = r->prefix.len;
	return memcmp(masked, r->prefix.addr, 4) == 0;
}

static enum action naive_at(const struct naive_rule *rules, size_t n, enum action def,
                            const char *name, const uint8_t *addr, uint16_t port)
{
	long best = -1;
	enum action verdict = def;
	for (size_t i = 0; i < n; i++) {
		unsigned spec;
		bool m = name ? naive_name_match(&rules[i].r, name, &spec)
		              : naive_addr_match(&rules[i].r, addr, &spec);
		if (!m || !port_range_contains(rules[i].r.ports, port))
			continue;
		const struct port_range pr = rules[i].r.ports;
		long port_spec = port_range_is_any(pr) ? 0 : 65536 - (pr.hi - pr.lo + 1);
		long score =
		        ((long)spec << 17) | port_spec << 1 | (rules[i].action == ACTION_BLOCK);
		if (score > best) {
			best = score;
			verdict = rules[i].action;
		}
	}
	return verdict;
}

static enum action naive(const struct naive_rule *rules, size_t n, enum action def,
                         const char *name, const uint8_t *addr, uint16_t port)
{
	if (port)
		return naive_at(rules, n, def, name, addr, port);
	/* Rules only use ports 1..10 here, so 1..11 covers every case. */
	for (uint16_t p = 1; p <= 11; p++)
		if (naive_at(rules, n, def, name, addr, p) == ACTION_ALLOW)
			return ACTION_ALLOW;
	return ACTION_BLOCK;
}

static void random_name(char *buf, size_t size, unsigned max_labels)
{
	static const char *const labels[] = {"a", "b", "c", "ab"};
	unsigned n = 1 + (unsigned)rand() % max_labels;
	size_t o = 0;
	for (unsigned i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s.", labels[rand() % 4]);
	snprintf(buf + o, size - o, "t");
}

static void random_ports(char *buf, size_t size)
{
	int kind = rand() % 3;
	unsigned lo = 1 + (unsigned)rand() % 10, hi = lo + (unsigned)rand() % (11 - lo);
	if (kind == 0)
		buf[0] = '\0';
	else if (kind == 1)
		snprintf(buf, size, ":%u", lo);
	else
		snprintf(buf, size, ":%u-%u", lo, hi);
}

static void test_matches_naive_model(void **state)
{
	(void)state;
	srand(20261123);
	for (int round = 0; round < 300; round++) {
		struct naive_rule rules[24];
		size_t n = 1 + (size_t)rand() % ARRAY_SIZE(rules);
		enum action def = rand() % 2 ? ACTION_ALLOW : ACTION_BLOCK;
		struct policy_builder *b = policy_builder_new();
		struct policy *p = NULL;
		struct diag d;
		uint32_t origin;

		policy_builder_origin(b, "random", &origin);
		for (size_t i = 0; i < n; i++) {
			char text[128], name[64], ports[16];
			random_ports(ports, sizeof(ports));
			if (rand() % 4 == 0) {
				unsigned len = (unsigned)(rand() % 4) * 8;
				unsigned a = (unsigned)rand() % 3, c = (unsigned)rand() % 3;
				uint8_t addr[4] = {10, (uint8_t)a, (uint8_t)c,
				                   (uint8_t)(rand() % 3)};
				uint8_t m[16];
				ip_mask(4, addr, len, m);
				snprintf(text, sizeof(text), "%u.%u.%u.%u/%u%s", m[0], m[1], m[2],
				         m[3], len, ports);
			} else {
				static const char *const kinds[] = {"", "*.", "."};
				random_name(name, sizeof(name), 2);
				snprintf(text, sizeof(text), "%s%s%s", kinds[rand() % 3], name,
				         ports);
			}
			if (rule_parse(text, strlen(text), &rules[i].r, &d) != 0)
				fail_msg("%s: %s", text, d.msg);
			rules[i].action = rand() % 2 ? ACTION_ALLOW : ACTION_BLOCK;
			policy_builder_add(b, rules[i].action, &rules[i].r, origin, 0);
		}
		policy_builder_set_default(b, def);
		assert_int_equal(policy_compile(b, &p, &d), 0);

		for (int q = 0; q < 60; q++) {
			struct decision dec;
			uint16_t port = (uint16_t)(rand() % 12);
			if (rand() % 3 == 0) {
				uint8_t addr[4] = {10, (uint8_t)(rand() % 3), (uint8_t)(rand() % 3),
				                   (uint8_t)(rand() % 3)};
				policy_decide_addr(p, 4, addr, port, &dec);
				enum action want = naive(rules, n, def, NULL, addr, port);
				if (dec.verdict != want)
					fail_msg("round %d: 10.%u.%u.%u port %u: got %d want %d",
					         round, addr[1], addr[2], addr[3], port,
					         dec.verdict, want);
			} else {
				char name[64];
				random_name(name, sizeof(name), 4);
				policy_decide_name(p, name, strlen(name), port, &dec);
				enum action want = naive(rules, n, def, name, NULL, port);
				if (dec.verdict != want)
					fail_msg("round %d: %s port %u: got %d want %d", round,
					         name, port, dec.verdict, want);
			}
		}
		policy_unref(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_subdomain_wildcard_is_not_apex),
	        cmocka_unit_test(test_apex_and_subdomains),
	        cmocka_unit_test(test_exact_is_exact),
	        cmocka_unit_test(test_most_specific_wins),
	        cmocka_unit_test(test_tie_goes_to_block),
	        cmocka_unit_test(test_ports),
	        cmocka_unit_test(test_any_port_is_exact),
	        cmocka_unit_test(test_cidrs),
	        cmocka_unit_test(test_default_allow),
	        cmocka_unit_test(test_network_none),
	        cmocka_unit_test(test_remove_and_duplicates),
	        cmocka_unit_test(test_slot_swap),
	        cmocka_unit_test(test_matches_naive_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
