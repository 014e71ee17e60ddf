/* The DNS filter's decisions on queries and on upstream answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "dns/filter.h"

static struct policy *policy_of(enum action def, const char *const *allow, const char *const *block)
{
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct diag d;
	uint32_t o;
	struct rule r;

	policy_builder_origin(b, "test", &o);
	for (; allow && *allow; allow++) {
		assert_int_equal(rule_parse(*allow, strlen(*allow), &r, &d), 0);
		policy_builder_add(b, ACTION_ALLOW, &r, o, 1);
	}
	for (; block && *block; block++) {
		assert_int_equal(rule_parse(*block, strlen(*block), &r, &d), 0);
		policy_builder_add(b, ACTION_BLOCK, &r, o, 2);
	}
	policy_builder_set_default(b, def);
	assert_int_equal(policy_compile(b, &p, &d), 0);
	return p;
}

/* Build and parse a query. */
static int query(const char *name, uint16_t type, uint16_t class, struct dns_query *q, uint8_t *raw,
                 size_t *raw_len)
{
	struct dns_query_spec spec = {.id = 0x1234,
	                              .name = name,
	                              .name_len = strlen(name),
	                              .qtype = type,
	                              .qclass = class};
	int n = dns_build_query(&spec, raw, 512, NULL);
	assert_true(n > 0);
	*raw_len = (size_t)n;
	return dns_parse_query(raw, (size_t)n, q, NULL);
}

static enum dns_query_action action_for(const struct policy *p, const char *name, uint16_t type)
{
	struct dns_filter_config c;
	struct dns_query q;
	struct dns_query_verdict v;
	uint8_t raw[512];
	size_t len;

	dns_filter_config_default(&c);
	int r = query(name, type, DNS_CLASS_IN, &q, raw, &len);
	dns_filter_query(p, &c, &q, r, &v);
	return v.action;
}

static void test_query_decisions(void **state)
{
	static const char *const allow[] = {".allowed.test", NULL};
	static const char *const block[] = {"ads.allowed.test", NULL};
	struct policy *p = policy_of(ACTION_BLOCK, allow, block);
	(void)state;

	assert_int_equal(action_for(p, "www.allowed.test", DNS_TYPE_A), DNS_QUERY_FORWARD);
	assert_int_equal(action_for(p, "WWW.Allowed.Test", DNS_TYPE_AAAA), DNS_QUERY_FORWARD);
	assert_int_equal(action_for(p, "allowed.test", DNS_TYPE_CNAME), DNS_QUERY_FORWARD);
	assert_int_equal(action_for(p, "ads.allowed.test", DNS_TYPE_A), DNS_QUERY_REFUSE);
	assert_int_equal(action_for(p, "blocked.test", DNS_TYPE_A), DNS_QUERY_REFUSE);
	/* Data-carrying and hint types of an allowed name: answered empty. */
	assert_int_equal(action_for(p, "www.allowed.test", DNS_TYPE_TXT), DNS_QUERY_EMPTY);
	assert_int_equal(action_for(p, "www.allowed.test", DNS_TYPE_NULL), DNS_QUERY_EMPTY);
	assert_int_equal(action_for(p, "www.allowed.test", DNS_TYPE_HTTPS), DNS_QUERY_EMPTY);
	assert_int_equal(action_for(p, "www.allowed.test", DNS_TYPE_ANY), DNS_QUERY_EMPTY);
	/* ...but a blocked name is refused whatever the type. */
	assert_int_equal(action_for(p, "blocked.test", DNS_TYPE_TXT), DNS_QUERY_REFUSE);
	policy_unref(p);
}

static void test_query_verdict_carries_rule(void **state)
{
	static const char *const block[] = {"ads.allowed.test", NULL};
	struct policy *p = policy_of(ACTION_ALLOW, NULL, block);
	struct dns_filter_config c;
	struct dns_query q;
	struct dns_query_verdict v;
	uint8_t raw[512];
	size_t len;
	(void)state;

	dns_filter_config_default(&c);
	dns_filter_query(p, &c, &q, query("ads.allowed.test", 1, 1, &q, raw, &len), &v);
	assert_int_equal(v.action, DNS_QUERY_REFUSE);
	assert_true(v.by_policy);
	assert_int_equal(v.decision.by, DECIDED_BY_RULE);
	policy_unref(p);
}

static void test_malformed_and_odd_queries(void **state)
{
	struct policy *p = policy_of(ACTION_ALLOW, NULL, NULL);
	struct dns_filter_config c;
	struct dns_query q;
	struct dns_query_verdict v;
	uint8_t raw[512], reply[512];
	size_t len;
	(void)state;

	dns_filter_config_default(&c);
	/* Chaos class (version.bind and friends) is not forwarded. */
	int r = query("version.bind", DNS_TYPE_TXT, DNS_CLASS_CH, &q, raw, &len);
	dns_filter_query(p, &c, &q, r, &v);
	assert_int_equal(v.action, DNS_QUERY_REFUSE);
	assert_false(v.by_policy);

	/* Truncated: FORMERR with the ID echoed. */
	r = query("www.allowed.test", DNS_TYPE_A, DNS_CLASS_IN, &q, raw, &len);
	r = dns_parse_query(raw, len - 3, &q, NULL);
	dns_filter_query(p, &c, &q, r, &v);
	assert_int_equal(v.action, DNS_QUERY_FORMERR);
	int n = dns_filter_reply(&c, v.action, &q, raw, len - 3, reply, sizeof(reply));
	assert_true(n >= 12);
	assert_int_equal(reply[0], 0x12);
	assert_int_equal(reply[1], 0x34);
	assert_int_equal(reply[3] & 0x0f, DNS_RCODE_FORMERR);

	/* A response sent to the filter is never answered. */
	query("www.allowed.test", DNS_TYPE_A, DNS_CLASS_IN, &q, raw, &len);
	raw[2] |= 0x80;
	r = dns_parse_query(raw, len, &q, NULL);
	dns_filter_query(p, &c, &q, r, &v);
	assert_int_equal(v.action, DNS_QUERY_DROP);
	uint8_t three[3] = {1, 2, 0x80};
	assert_int_equal(dns_filter_reply(&c, DNS_QUERY_FORMERR, &q, three, 3, reply, 512),
	                 -EPROTO);

	/* Another opcode: NOTIMP. */
	query("www.allowed.test", DNS_TYPE_A, DNS_CLASS_IN, &q, raw, &len);
	raw[2] = (uint8_t)((raw[2] & 0x87) | (2 << 3)); /* STATUS */
	r = dns_parse_query(raw, len, &q, NULL);
	dns_filter_query(p, &c, &q, r, &v);
	assert_int_equal(v.action, DNS_QUERY_NOTIMP);
	policy_unref(p);
}

/* Reply and parse it back; returns the rcode and the answer count. */
static int reply_rcode(enum dns_refusal mode, uint16_t type, unsigned *answers, uint8_t *addr)
{
	struct policy *p = policy_of(ACTION_BLOCK, NULL, NULL);
	struct dns_filter_config c;
	struct dns_query q;
	struct dns_query_verdict v;
	struct dns_response resp;
	uint8_t raw[512], reply[512];
	size_t len;

	dns_filter_config_default(&c);
	c.refusal = mode;
	dns_filter_query(p, &c, &q, query("blocked.test", type, DNS_CLASS_IN, &q, raw, &len), &v);
	assert_int_equal(v.action, DNS_QUERY_REFUSE);
	int n = dns_filter_reply(&c, v.action, &q, raw, len, reply, sizeof(reply));
	assert_true(n > 0);
	assert_int_equal(dns_parse_response(reply, (size_t)n, &resp, NULL), 0);
	assert_int_equal(resp.header.id, 0x1234);
	assert_true(dns_question_matches(&q.question, &resp.question));
	*answers = resp.n_answers;
	if (resp.n_answers && addr)
		memcpy(addr, resp.answers[0].addr, 16);
	policy_unref(p);
	return resp.header.rcode;
}

static void test_refusal_modes(void **state)
{
	unsigned answers;
	uint8_t addr[16];
	static const uint8_t zero[16];
	(void)state;

	assert_int_equal(reply_rcode(DNS_REFUSE_NXDOMAIN, DNS_TYPE_A, &answers, NULL),
	                 DNS_RCODE_NXDOMAIN);
	assert_int_equal(answers, 0);
	assert_int_equal(reply_rcode(DNS_REFUSE_REFUSED, DNS_TYPE_A, &answers, NULL),
	                 DNS_RCODE_REFUSED);
	assert_int_equal(reply_rcode(DNS_REFUSE_SINKHOLE, DNS_TYPE_A, &answers, addr),
	                 DNS_RCODE_NOERROR);
	assert_int_equal(answers, 1);
	assert_memory_equal(addr, zero, 4);
	assert_int_equal(reply_rcode(DNS_REFUSE_SINKHOLE, DNS_TYPE_AAAA, &answers, addr),
	                 DNS_RCODE_NOERROR);
	assert_memory_equal(addr, zero, 16);
	assert_int_equal(reply_rcode(DNS_REFUSE_SINKHOLE, DNS_TYPE_MX, &answers, NULL),
	                 DNS_RCODE_NOERROR);
	assert_int_equal(answers, 0);
}

static void test_types_config(void **state)
{
	struct dns_filter_config c;
	struct diag d;
	(void)state;

	dns_filter_config_default(&c);
	assert_true(dns_filter_forwards(&c, DNS_TYPE_A));
	assert_false(dns_filter_forwards(&c, DNS_TYPE_TXT));
	assert_int_equal(dns_filter_config_types(&c, "a, AAAA,MX txt TYPE99", &d), 0);
	assert_true(dns_filter_forwards(&c, DNS_TYPE_MX));
	assert_true(dns_filter_forwards(&c, DNS_TYPE_TXT));
	assert_true(dns_filter_forwards(&c, 99));
	assert_false(dns_filter_forwards(&c, DNS_TYPE_CNAME));
	assert_false(dns_filter_forwards(&c, 1000));
	assert_int_equal(dns_filter_config_types(&c, "A, BOGUS", &d), -EINVAL);
	assert_non_null(strstr(d.msg, "'BOGUS'"));
	assert_true(dns_filter_forwards(&c, DNS_TYPE_MX)); /* unchanged on error */
}

/* ---- answers ----------------------------------------------------------- */

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put16(struct msg *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)(v >> 8);
	m->b[m->n++] = (uint8_t)v;
}

static void put_name(struct msg *m, const char *name)
{
	while (*name) {
		size_t l = strcspn(name, ".");
		m->b[m->n++] = (uint8_t)l;
		memcpy(m->b + m->n, name, l);
		m->n += l;
		name += l + (name[l] == '.');
	}
	m->b[m->n++] = 0;
}

/* A response to `qname`/A with answers given as "name A 1.2.3.4" style
 * triples: type is A, AAAA or CNAME and data is an address or a name. */
struct ans {
	const char *owner;
	uint16_t type;
	const char *data;
};

static void response(struct msg *m, const char *qname, uint16_t qtype, const struct ans *a,
                     unsigned n)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, 0x8180);
	put16(m, 1);
	put16(m, n);
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, 1);
	for (unsigned i = 0; i < n; i++) {
		put_name(m, a[i].owner);
		put16(m, a[i].type);
		put16(m, 1);
		put16(m, 0);
		put16(m, 300);
		if (a[i].type == DNS_TYPE_CNAME) {
			size_t at = m->n;
			put16(m, 0);
			put_name(m, a[i].data);
			m->b[at] = (uint8_t)((m->n - at - 2) >> 8);
			m->b[at + 1] = (uint8_t)(m->n - at - 2);
		} else {
			uint8_t addr[16];
			int fam = a[i].type == DNS_TYPE_A ? AF_INET : AF_INET6;
			assert_int_equal(inet_pton(fam, a[i].data, addr), 1);
			put16(m, fam == AF_INET ? 4 : 16);
			memcpy(m->b + m->n, addr, fam == AF_INET ? 4 : 16);
			m->n += fam == AF_INET ? 4 : 16;
		}
	}
}

static enum dns_answer_action judge(const struct policy *p, const char *qname, uint16_t qtype,
                                    const struct ans *a, unsigned n, char *reason)
{
	struct dns_query q;
	struct dns_response r;
	struct dns_answer_verdict v;
	struct msg m;
	uint8_t raw[512];
	size_t len;

	assert_int_equal(query(qname, qtype, DNS_CLASS_IN, &q, raw, &len), 0);
	response(&m, qname, qtype, a, n);
	int pr = dns_parse_response(m.b, m.n, &r, NULL);
	dns_filter_answer(p, &q, &r, pr, &v);
	if (reason)
		snprintf(reason, 160, "%s", v.reason);
	return v.action;
}

static void test_answers_relayed(void **state)
{
	static const char *const allow[] = {".allowed.test", NULL};
	struct policy *p = policy_of(ACTION_BLOCK, allow, NULL);
	const struct ans plain[] = {{"www.allowed.test", DNS_TYPE_A, "198.18.0.20"}};
	/* A CNAME to a name no rule mentions is fine: the client still uses
	 * (and the gateway still judges) the name it asked for. */
	const struct ans chain[] = {{"cdn.allowed.test", DNS_TYPE_CNAME, "edge.cdnhost.test"},
	                            {"edge.cdnhost.test", DNS_TYPE_A, "198.18.0.20"}};
	(void)state;

	assert_int_equal(judge(p, "www.allowed.test", DNS_TYPE_A, plain, 1, NULL),
	                 DNS_ANSWER_RELAY);
	assert_int_equal(judge(p, "cdn.allowed.test", DNS_TYPE_A, chain, 2, NULL),
	                 DNS_ANSWER_RELAY);
	assert_int_equal(judge(p, "www.allowed.test", DNS_TYPE_A, NULL, 0, NULL), DNS_ANSWER_RELAY);
	policy_unref(p);
}

static void test_rebinding_refused(void **state)
{
	static const char *const allow[] = {".rebind.test", NULL};
	struct policy *p = policy_of(ACTION_ALLOW, allow, NULL);
	static const char *const addrs[][2] = {
	        {"127.0.0.1", "loopback"},      {"10.0.0.5", "private"},
	        {"192.168.1.1", "private"},     {"169.254.169.254", "metadata"},
	        {"169.254.10.1", "link-local"}, {"0.0.0.0", "unspecified"},
	        {"224.0.0.1", "multicast"},
	};
	char reason[160];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
		const struct ans a[] = {{"x.rebind.test", DNS_TYPE_A, addrs[i][0]}};
		assert_int_equal(judge(p, "x.rebind.test", DNS_TYPE_A, a, 1, reason),
		                 DNS_ANSWER_REFUSE);
		if (!strstr(reason, addrs[i][0]) || !strstr(reason, addrs[i][1]))
			fail_msg("reason for %s: %s", addrs[i][0], reason);
	}
	static const char *const v6[] = {"::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1"};
	for (size_t i = 0; i < ARRAY_SIZE(v6); i++) {
		const struct ans a[] = {{"x.rebind.test", DNS_TYPE_AAAA, v6[i]}};
		assert_int_equal(judge(p, "x.rebind.test", DNS_TYPE_AAAA, a, 1, reason),
		                 DNS_ANSWER_REFUSE);
	}
	/* One bad address among good ones spoils the answer. */
	const struct ans mixed[] = {{"x.rebind.test", DNS_TYPE_A, "198.18.0.20"},
	                            {"x.rebind.test", DNS_TYPE_A, "10.1.2.3"}};
	assert_int_equal(judge(p, "x.rebind.test", DNS_TYPE_A, mixed, 2, NULL), DNS_ANSWER_REFUSE);
	policy_unref(p);
}

static void test_rebinding_allowed_by_cidr_rule(void **state)
{
	static const char *const allow[] = {".corp.test", "10.0.0.0/8", NULL};
	struct policy *p = policy_of(ACTION_BLOCK, allow, NULL);
	const struct ans inside[] = {{"git.corp.test", DNS_TYPE_A, "10.0.0.5"}};
	const struct ans outside[] = {{"git.corp.test", DNS_TYPE_A, "192.168.0.5"}};
	(void)state;

	assert_int_equal(judge(p, "git.corp.test", DNS_TYPE_A, inside, 1, NULL), DNS_ANSWER_RELAY);
	assert_int_equal(judge(p, "git.corp.test", DNS_TYPE_A, outside, 1, NULL),
	                 DNS_ANSWER_REFUSE);
	policy_unref(p);

	/* A default of allow is not a rule for private addresses. */
	p = policy_of(ACTION_ALLOW, NULL, NULL);
	assert_int_equal(judge(p, "git.corp.test", DNS_TYPE_A, outside, 1, NULL),
	                 DNS_ANSWER_REFUSE);
	policy_unref(p);
}

static void test_cname_cloaking_refused(void **state)
{
	static const char *const allow[] = {".shop.test", NULL};
	static const char *const block[] = {".tracker.test", NULL};
	struct policy *p = policy_of(ACTION_BLOCK, allow, block);
	const struct ans cloaked[] = {{"metrics.shop.test", DNS_TYPE_CNAME, "c.tracker.test"},
	                              {"c.tracker.test", DNS_TYPE_A, "198.18.0.30"}};
	char reason[160];
	(void)state;

	assert_int_equal(judge(p, "metrics.shop.test", DNS_TYPE_A, cloaked, 2, reason),
	                 DNS_ANSWER_REFUSE);
	assert_non_null(strstr(reason, "c.tracker.test"));
	policy_unref(p);
}

static void test_answer_for_another_question(void **state)
{
	struct policy *p = policy_of(ACTION_ALLOW, NULL, NULL);
	struct dns_query q;
	struct dns_response r;
	struct dns_answer_verdict v;
	struct msg m;
	uint8_t raw[512];
	size_t len;
	const struct ans a[] = {{"other.test", DNS_TYPE_A, "198.18.0.20"}};
	(void)state;

	assert_int_equal(query("asked.test", DNS_TYPE_A, DNS_CLASS_IN, &q, raw, &len), 0);
	response(&m, "other.test", DNS_TYPE_A, a, 1);
	dns_filter_answer(p, &q, &r, dns_parse_response(m.b, m.n, &r, NULL), &v);
	assert_int_equal(v.action, DNS_ANSWER_SERVFAIL);
	assert_non_null(strstr(v.reason, "another question"));

	/* Garbage from upstream. */
	dns_filter_answer(p, &q, &r, dns_parse_response(m.b, 7, &r, NULL), &v);
	assert_int_equal(v.action, DNS_ANSWER_SERVFAIL);
	assert_non_null(strstr(v.reason, "malformed"));
	policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_query_decisions),
	        cmocka_unit_test(test_query_verdict_carries_rule),
	        cmocka_unit_test(test_malformed_and_odd_queries),
	        cmocka_unit_test(test_refusal_modes),
	        cmocka_unit_test(test_types_config),
	        cmocka_unit_test(test_answers_relayed),
	        cmocka_unit_test(test_rebinding_refused),
	        cmocka_unit_test(test_rebinding_allowed_by_cidr_rule),
	        cmocka_unit_test(test_cname_cloaking_refused),
	        cmocka_unit_test(test_answer_for_another_question),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
