/* What the gateway decides about a flow from its first bytes and its
 * destination: flow_sniff (TLS SNI, HTTP Host, neither), the name<->address
 * consistency rule (domain fronting across policies is refused), nameless
 * flows decided by the map then by CIDR rules, and re-deciding open flows. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "gateway/flow_check.h"
#include "proxy/tls_hello.h"

#define NOW 1000000

/* ---- helpers --------------------------------------------------------------- */

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

static struct addr addr_of(const char *text, uint16_t port)
{
	struct addr a;
	assert_int_equal(addr_parse(text, port, &a), 0);
	return a;
}

static void map_add(struct addrmap *m, const char *name, const char *ip)
{
	uint8_t raw[16];
	uint8_t family = strchr(ip, ':') ? 6 : 4;
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, ip, raw), 1);
	assert_int_equal(addrmap_add(m, name, strlen(name), family, raw, 60, NOW), 0);
}

struct buf {
	uint8_t b[2048];
	size_t len;
};

static void put8(struct buf *m, unsigned v)
{
	m->b[m->len++] = (uint8_t)v;
}

static void put16(struct buf *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

/* A minimal TLS 1.2 ClientHello in one record, with an SNI of `sni` (NULL:
 * none) and, with `break_suites`, a cipher-suite list of odd length. */
static struct buf client_hello(const char *sni, bool break_suites)
{
	struct buf ext = {0}, body = {0}, out = {0};

	if (sni) {
		size_t n = strlen(sni);
		put16(&ext, 0); /* server_name */
		put16(&ext, (unsigned)n + 5);
		put16(&ext, (unsigned)n + 3);
		put8(&ext, 0); /* host_name */
		put16(&ext, (unsigned)n);
		memcpy(ext.b + ext.len, sni, n);
		ext.len += n;
	}
	put16(&body, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(&body, i);
	put8(&body, 0);                     /* session id */
	put16(&body, break_suites ? 3 : 2); /* cipher suites */
	put16(&body, 0x1301);
	if (break_suites)
		put8(&body, 0);
	put8(&body, 1); /* compression: null */
	put8(&body, 0);
	put16(&body, (unsigned)ext.len);
	memcpy(body.b + body.len, ext.b, ext.len);
	body.len += ext.len;

	put8(&out, 0x16);
	put16(&out, 0x0301);
	put16(&out, (unsigned)body.len + 4);
	put8(&out, 1); /* ClientHello */
	put8(&out, 0);
	put16(&out, (unsigned)body.len);
	memcpy(out.b + out.len, body.b, body.len);
	out.len += body.len;
	return out;
}

static void sniff_text(const char *text, unsigned flags, struct flow_sniff *ret)
{
	flow_sniff((const uint8_t *)text, strlen(text), 16384, flags, ret);
}

/* Every proper prefix of a whole input is NEED_MORE, asking for more. */
static void every_prefix_needs_more(const uint8_t *b, size_t len, unsigned flags)
{
	struct flow_sniff sn;
	for (size_t i = 0; i < len; i++) {
		flow_sniff(b, i, 16384, flags, &sn);
		assert_int_equal(sn.status, FLOW_SNIFF_NEED_MORE);
		assert_true(sn.need > i);
	}
}

/* ---- the first bytes ---------------------------------------------------------- */

static void test_sniff_tls(void **state)
{
	struct flow_sniff sn;
	(void)state;

	struct buf h = client_hello("WWW.Allowed.Test", false);
	flow_sniff(h.b, h.len, 16384, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_TLS);
	assert_true(sn.tls && sn.has_name);
	assert_string_equal(sn.name, "www.allowed.test");
	assert_int_equal(sn.name_len, strlen("www.allowed.test"));
	every_prefix_needs_more(h.b, h.len, 0);

	/* In a CONNECT tunnel, the same. */
	flow_sniff(h.b, h.len, 16384, FLOW_SNIFF_TLS_ONLY, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_TLS);
	assert_string_equal(sn.name, "www.allowed.test");

	h = client_hello(NULL, false);
	flow_sniff(h.b, h.len, 16384, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_TLS);
	assert_false(sn.has_name);

	/* Malformed, and an SNI that is no host name: refused, not nameless. */
	h = client_hello("allowed.test", true);
	flow_sniff(h.b, h.len, 16384, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_BAD);
	assert_true(sn.tls);
	assert_int_equal(sn.http_400, 0);
	assert_true(sn.why[0] != '\0');
	h = client_hello("a..b", false);
	flow_sniff(h.b, h.len, 16384, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_BAD);
	h = client_hello("198.18.0.20", false);
	flow_sniff(h.b, h.len, 16384, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_BAD);
}

static void test_sniff_http(void **state)
{
	static const char get[] = "GET /x HTTP/1.1\r\nHost: WWW.Allowed.Test:8080\r\n"
	                          "User-Agent: t\r\n\r\n";
	struct flow_sniff sn;
	(void)state;

	sniff_text(get, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_HTTP);
	assert_false(sn.tls);
	assert_true(sn.has_name);
	assert_string_equal(sn.name, "www.allowed.test");
	every_prefix_needs_more((const uint8_t *)get, strlen(get), 0);

	/* Empty lines first are allowed, as the head parser allows them. */
	sniff_text("\r\n\r\nPOST / HTTP/1.0\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_HTTP);
	assert_string_equal(sn.name, "a.test");

	/* Absolute-form and CONNECT name their target. */
	sniff_text("GET http://blocked.test/ HTTP/1.1\r\n\r\n", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_HTTP);
	assert_string_equal(sn.name, "blocked.test");
	sniff_text("CONNECT blocked.test:443 HTTP/1.1\r\n\r\n", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_HTTP);
	assert_string_equal(sn.name, "blocked.test");

	/* An IP address as Host: no name, decided on the destination. */
	sniff_text("GET / HTTP/1.1\r\nHost: 198.18.0.20\r\n\r\n", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_HTTP);
	assert_false(sn.has_name);

	/* Heads the parser refuses are refused with a 400. */
	sniff_text("GET / HTTP/1.1\r\n\r\n", 0, &sn); /* no Host */
	assert_int_equal(sn.status, FLOW_SNIFF_BAD);
	assert_int_equal(sn.http_400, 400);
	sniff_text("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n"
	           "Transfer-Encoding: chunked\r\n\r\n",
	           0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_BAD);
	sniff_text("GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_BAD);

	/* A head past max_head is refused, not waited for. */
	char big[300];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 20);
	flow_sniff((const uint8_t *)big, sizeof(big), 256, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_BAD);
	/* A first line with no " HTTP/" in the first max_head bytes is no
	 * request, however it goes on. */
	memcpy(big, "GET /aaaaaaaaaaaaaaa", 20);
	flow_sniff((const uint8_t *)big, sizeof(big), 256, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_OTHER);
	flow_sniff((const uint8_t *)big, 255, 256, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_NEED_MORE);

	/* In a CONNECT tunnel only TLS is looked for. */
	sniff_text(get, FLOW_SNIFF_TLS_ONLY, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_OTHER);
}

static void test_sniff_other(void **state)
{
	struct flow_sniff sn;
	(void)state;

	flow_sniff(NULL, 0, 16384, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_NEED_MORE);
	assert_int_equal(sn.need, 1);
	sniff_text("SSH-2.0-OpenSSH_9.2\r\n", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_OTHER);
	assert_false(sn.has_name);
	sniff_text("get / HTTP/1.1\r\n", 0, &sn); /* methods are upper case */
	assert_int_equal(sn.status, FLOW_SNIFF_OTHER);
	sniff_text("\x01\x02\x03", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_OTHER);
	sniff_text("EHLO", 0, &sn); /* could still be a method */
	assert_int_equal(sn.status, FLOW_SNIFF_NEED_MORE);
	sniff_text("EHLO x", 0, &sn); /* the first line decides */
	assert_int_equal(sn.status, FLOW_SNIFF_NEED_MORE);
	/* Line protocols whose client speaks first are not HTTP. */
	sniff_text("NICK x\r\nUSER x 0 * :x\r\n", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_OTHER);
	sniff_text("SET k v\n", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_OTHER);
	/* A request line with a bare LF is HTTP, and refused as such. */
	sniff_text("GET / HTTP/1.1\nHost: a.test\n\n", 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_BAD);
	assert_int_equal(sn.http_400, 400);
	/* A first byte 0x16 with a version that is not TLS's: not TLS. */
	flow_sniff((const uint8_t *)"\x16\x02\x00\x00\x05", 5, 16384, 0, &sn);
	assert_int_equal(sn.status, FLOW_SNIFF_OTHER);
}

/* ---- decisions ------------------------------------------------------------------ */

struct world {
	struct policy *p;
	struct addrmap *m;
};

/* allowed.test and blocked.test share 198.18.0.20 (one server, two names);
 * other.test is at .21; onlyblocked.test at .70, inside an allowed CIDR. */
static int world_setup(void **state)
{
	static const char *const allow[] = {
	        "allowed.test", "other.test", "tls.test:443", "198.18.0.64/26", ".ok.x.test",
	        "2001:2::/112", NULL};
	static const char *const block[] = {"blocked.test", "onlyblocked.test", NULL};
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->p = policy_of(ACTION_BLOCK, allow, block);
	w->m = addrmap_new(1024, 0);
	assert_non_null(w->m);
	map_add(w->m, "allowed.test", "198.18.0.20");
	map_add(w->m, "blocked.test", "198.18.0.20");
	map_add(w->m, "other.test", "198.18.0.21");
	map_add(w->m, "onlyblocked.test", "198.18.0.70");
	map_add(w->m, "allowed.test", "2001:2:0:1::20");
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	policy_unref(w->p);
	addrmap_free(w->m);
	free(w);
	return 0;
}

static void decide_name(const struct world *w, const char *name, const char *dest, uint16_t port,
                        struct flow_result *r)
{
	struct addr d = addr_of(dest, port);
	flow_decide_name(w->p, w->m, NOW, name, strlen(name), &d, r);
}

static void decide_addr(const struct world *w, const char *dest, uint16_t port,
                        struct flow_result *r)
{
	struct addr d = addr_of(dest, port);
	flow_decide_addr(w->p, w->m, NOW, &d, r);
}

static void test_name_consistent_with_map(void **state)
{
	const struct world *w = *state;
	struct flow_result r;

	decide_name(w, "allowed.test", "198.18.0.20", 443, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	assert_int_equal(r.basis, FLOW_BASIS_MAP);
	assert_int_equal(r.decision.by, DECIDED_BY_RULE);
	assert_string_equal(r.name, "allowed.test");
	decide_name(w, "allowed.test", "[2001:2:0:1::20]", 80, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	assert_int_equal(r.basis, FLOW_BASIS_MAP);
	/* An IPv4-mapped destination is the IPv4 address. */
	decide_name(w, "allowed.test", "[::ffff:198.18.0.20]", 443, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
}

static void test_domain_fronting_refused(void **state)
{
	const struct world *w = *state;
	struct flow_result r;
	struct addr dest = addr_of("198.18.0.21", 443);
	struct addr answers[2] = {addr_of("198.18.0.20", 443), addr_of("[2001:2:0:1::20]", 443)};

	/* An allowed name at an address the map does not give it (other.test's):
	 * not decided until the name is resolved... */
	decide_name(w, "allowed.test", "198.18.0.21", 443, &r);
	assert_int_equal(r.verdict, FLOW_RESOLVE);
	assert_string_equal(r.name, "allowed.test");
	/* ...and refused when the destination is not among the answers. */
	flow_decide_resolved(&r, &dest, answers, 2);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.refusal, FLOW_REFUSAL_INCONSISTENT);
	flow_decide_resolved(&r, &dest, NULL, 0);
	assert_int_equal(r.verdict, FLOW_REFUSE);

	/* Among them (ports do not matter): allowed. */
	decide_name(w, "allowed.test", "198.18.0.21", 443, &r);
	answers[1] = addr_of("198.18.0.21", 1);
	flow_decide_resolved(&r, &dest, answers, 2);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	assert_int_equal(r.basis, FLOW_BASIS_RESOLVED);

	/* Without a map nothing is known to resolve anywhere. */
	struct addr d = addr_of("198.18.0.20", 443);
	flow_decide_name(w->p, NULL, NOW, "allowed.test", 12, &d, &r);
	assert_int_equal(r.verdict, FLOW_RESOLVE);
	/* Expired pairs do not count. */
	flow_decide_name(w->p, w->m, NOW + 61 * 1000, "allowed.test", 12, &d, &r);
	assert_int_equal(r.verdict, FLOW_RESOLVE);
}

static void test_name_wins_over_cidr(void **state)
{
	const struct world *w = *state;
	struct flow_result r;

	/* A refused name, whatever the address: blocked.test shares allowed's
	 * server, and 198.18.0.70 is CIDR-allowed. */
	decide_name(w, "blocked.test", "198.18.0.20", 443, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.refusal, FLOW_REFUSAL_NAME);
	assert_int_equal(r.decision.verdict, ACTION_BLOCK);
	assert_int_equal(r.decision.by, DECIDED_BY_RULE);
	decide_name(w, "blocked.test", "198.18.0.70", 443, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	decide_name(w, "unknown.test", "198.18.0.70", 443, &r); /* default block */
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.decision.by, DECIDED_BY_DEFAULT);

	/* An allowed name at a CIDR-allowed address: allowed by the CIDR rule. */
	decide_name(w, "allowed.test", "198.18.0.70", 443, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	assert_int_equal(r.basis, FLOW_BASIS_CIDR);
	assert_true(r.has_cidr_rule);
	struct rule_info ri;
	policy_rule_info(w->p, r.cidr_rule, &ri);
	char text[RULE_TEXT_SIZE];
	rule_format(&ri.rule, text, sizeof(text));
	assert_string_equal(text, "198.18.0.64/26");

	/* The port is part of the name's decision. */
	decide_name(w, "tls.test", "198.18.0.70", 443, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	decide_name(w, "tls.test", "198.18.0.70", 80, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.refusal, FLOW_REFUSAL_NAME);
}

static void test_nameless_flows(void **state)
{
	const struct world *w = *state;
	struct flow_result r;

	/* Two names resolved to .20; one is allowed: the client may have
	 * resolved that one. */
	decide_addr(w, "198.18.0.20", 443, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	assert_int_equal(r.basis, FLOW_BASIS_MAP);
	assert_true(r.has_name);
	assert_string_equal(r.name, "allowed.test");
	assert_false(r.decided_on_addr);

	/* Only a refused name resolved there: refused, though a CIDR rule
	 * allows the address. */
	decide_addr(w, "198.18.0.70", 443, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.refusal, FLOW_REFUSAL_MAP_NAMES);
	assert_string_equal(r.name, "onlyblocked.test");

	/* No name at all: the CIDR rule decides. */
	decide_addr(w, "198.18.0.80", 5432, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	assert_int_equal(r.basis, FLOW_BASIS_CIDR);
	assert_true(r.decided_on_addr);
	assert_false(r.has_name);
	decide_addr(w, "[2001:2::5]", 22, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);

	/* No name and no CIDR rule: refused. */
	decide_addr(w, "198.18.0.5", 443, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.refusal, FLOW_REFUSAL_ADDRESS);
	assert_true(r.decided_on_addr);

	/* A default of "allow" does not let an address through by itself. */
	struct policy *open = policy_of(ACTION_ALLOW, NULL, NULL);
	struct addr d = addr_of("198.18.0.5", 443);
	flow_decide_addr(open, w->m, NOW, &d, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.refusal, FLOW_REFUSAL_ADDRESS);
	assert_int_equal(r.decision.verdict, ACTION_ALLOW);
	assert_int_equal(r.decision.by, DECIDED_BY_DEFAULT);
	/* ...but its names are allowed by that default. */
	d = addr_of("198.18.0.21", 443);
	flow_decide_addr(open, w->m, NOW, &d, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	assert_string_equal(r.name, "other.test");
	policy_unref(open);
}

/* A CDN address with many refused names is refused after a bounded look. */
static void test_many_map_names(void **state)
{
	const struct world *w = *state;
	struct addrmap *m = addrmap_new(4096, 0);
	struct flow_result r;
	char name[64];

	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%d.blocked.test", i);
		map_add(m, name, "198.18.0.99");
	}
	struct addr d = addr_of("198.18.0.99", 443);
	flow_decide_addr(w->p, m, NOW, &d, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.refusal, FLOW_REFUSAL_MAP_NAMES);
	addrmap_free(m);
}

/* ---- open flows after a policy change -------------------------------------------- */

static void test_recheck(void **state)
{
	const struct world *w = *state;
	static const char *const blocked_now[] = {"*.x.test", "allowed.test", NULL};
	static const char *const allow_now[] = {"other.test", "198.18.0.64/26", ".ok.x.test", NULL};
	static const char *const allow_no_cidr[] = {"allowed.test", "other.test", NULL};
	struct policy *after_block = policy_of(ACTION_BLOCK, allow_now, blocked_now);
	struct policy *after_cidr = policy_of(ACTION_BLOCK, allow_no_cidr, NULL);
	struct flow_key k = {.dest = addr_of("198.18.0.20", 443)};
	struct flow_result r;

	flow_key_add_name(&k, "allowed.test", 12);
	flow_recheck(w->p, &k, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	flow_recheck(after_block, &k, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.refusal, FLOW_REFUSAL_NAME);
	assert_string_equal(r.name, "allowed.test");
	assert_int_equal(r.decision.verdict, ACTION_BLOCK);

	/* Every name counts: a CONNECT target and the other name its
	 * ClientHello gave. */
	struct flow_key k2 = {.dest = addr_of("198.18.0.21", 443)};
	flow_key_add_name(&k2, "other.test", 10);
	flow_key_add_name(&k2, "a.ok.x.test", 11);
	flow_key_add_name(&k2, "other.test", 10); /* once */
	assert_int_equal(k2.n_names, 2);
	flow_recheck(after_block, &k2, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW); /* .ok.x.test is more specific than *.x.test */
	struct flow_key k3 = k2;
	k3.n_names = 1;
	flow_key_add_name(&k3, "b.x.test", 8);
	flow_recheck(after_block, &k3, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_string_equal(r.name, "b.x.test");
	flow_key_add_name(&k3, "c.test", 6); /* full: ignored */
	assert_int_equal(k3.n_names, FLOW_KEY_NAMES);

	/* A flow that passed by CIDR needs the CIDR rule still. */
	struct flow_key k4 = {.dest = addr_of("198.18.0.80", 5432), .needs_cidr = true};
	flow_recheck(w->p, &k4, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	flow_recheck(after_block, &k4, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);
	flow_recheck(after_cidr, &k4, &r);
	assert_int_equal(r.verdict, FLOW_REFUSE);
	assert_int_equal(r.refusal, FLOW_REFUSAL_ADDRESS);
	assert_true(r.decided_on_addr);

	/* Unrelated rules leave a flow alone. */
	flow_recheck(after_cidr, &k, &r);
	assert_int_equal(r.verdict, FLOW_ALLOW);

	assert_string_equal(flow_refusal_text(FLOW_REFUSAL_INCONSISTENT),
	                    "the name does not resolve to the destination address");
	assert_string_equal(flow_basis_text(FLOW_BASIS_CIDR), "a CIDR rule allows the address");
	policy_unref(after_block);
	policy_unref(after_cidr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sniff_tls),
	        cmocka_unit_test(test_sniff_http),
	        cmocka_unit_test(test_sniff_other),
	        cmocka_unit_test_setup_teardown(test_name_consistent_with_map, world_setup,
	                                        world_teardown),
	        cmocka_unit_test_setup_teardown(test_domain_fronting_refused, world_setup,
	                                        world_teardown),
	        cmocka_unit_test_setup_teardown(test_name_wins_over_cidr, world_setup,
	                                        world_teardown),
	        cmocka_unit_test_setup_teardown(test_nameless_flows, world_setup, world_teardown),
	        cmocka_unit_test_setup_teardown(test_many_map_names, world_setup, world_teardown),
	        cmocka_unit_test_setup_teardown(test_recheck, world_setup, world_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
