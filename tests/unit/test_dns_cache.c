/* The answer cache: TTLs honoured and aged, LRU bound, what is not kept. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "dns/cache.h"

/* A response for `name`/A with one A record of `ttl`, parsed into *r. */
static size_t response(const char *name, uint32_t ttl, uint8_t rcode, struct dns_response *r,
                       uint8_t *buf)
{
	struct dns_query_spec spec = {.id = 9,
	                              .name = name,
	                              .name_len = strlen(name),
	                              .qtype = DNS_TYPE_A,
	                              .qclass = DNS_CLASS_IN};
	uint8_t q[512];
	struct dns_query query;
	static const uint8_t a[4] = {198, 18, 0, 20};
	int n = dns_build_query(&spec, q, sizeof(q), NULL);
	assert_int_equal(dns_parse_query(q, (size_t)n, &query, NULL), 0);
	n = rcode ? dns_build_reply(&query, rcode, buf, 512)
	          : dns_build_address_reply(&query, a, 4, ttl, buf, 512);
	assert_true(n > 0);
	assert_int_equal(dns_parse_response(buf, (size_t)n, r, NULL), 0);
	return (size_t)n;
}

static uint32_t ttl_of(const uint8_t *msg, size_t len)
{
	struct dns_response r;
	assert_int_equal(dns_parse_response(msg, len, &r, NULL), 0);
	assert_int_equal(r.n_answers, 1);
	return r.answers[0].ttl;
}

static void test_hit_ages_ttl(void **state)
{
	struct dns_cache *c = dns_cache_new(10, 3600);
	struct dns_response r;
	uint8_t msg[512], out[512];
	(void)state;

	size_t n = response("www.allowed.test", 300, 0, &r, msg);
	assert_int_equal(dns_cache_put(c, "www.allowed.test", 16, DNS_TYPE_A, msg, n, &r, 1000), 0);
	assert_int_equal(dns_cache_get(c, "www.allowed.test", 16, DNS_TYPE_AAAA, 1000, out, 512),
	                 0);
	assert_int_equal(dns_cache_get(c, "other.test", 10, DNS_TYPE_A, 1000, out, 512), 0);
	int got = dns_cache_get(c, "www.allowed.test", 16, DNS_TYPE_A, 1000, out, 512);
	assert_int_equal(got, (int)n);
	assert_int_equal(ttl_of(out, (size_t)got), 300);
	got = dns_cache_get(c, "www.allowed.test", 16, DNS_TYPE_A, 1000 + 120500, out, 512);
	assert_int_equal(ttl_of(out, (size_t)got), 180);
	/* Expired at the TTL. */
	assert_int_equal(dns_cache_get(c, "www.allowed.test", 16, DNS_TYPE_A, 301000, out, 512), 0);
	assert_int_equal(dns_cache_count(c), 0);
	assert_int_equal(dns_cache_get(c, "x", 1, 1, 0, out, 4), 0);
	dns_cache_free(c);
}

static void test_max_ttl_and_not_kept(void **state)
{
	struct dns_cache *c = dns_cache_new(10, 60);
	struct dns_response r;
	uint8_t msg[512], out[512];
	(void)state;

	size_t n = response("a.test", 86400, 0, &r, msg);
	dns_cache_put(c, "a.test", 6, DNS_TYPE_A, msg, n, &r, 0);
	assert_true(dns_cache_get(c, "a.test", 6, DNS_TYPE_A, 59999, out, 512) > 0);
	assert_int_equal(dns_cache_get(c, "a.test", 6, DNS_TYPE_A, 60000, out, 512), 0);

	/* NXDOMAIN, empty answers and TTL 0 are not kept. */
	n = response("b.test", 300, DNS_RCODE_NXDOMAIN, &r, msg);
	dns_cache_put(c, "b.test", 6, DNS_TYPE_A, msg, n, &r, 0);
	n = response("c.test", 0, 0, &r, msg);
	dns_cache_put(c, "c.test", 6, DNS_TYPE_A, msg, n, &r, 0);
	assert_int_equal(dns_cache_count(c), 0);
	/* Too small a buffer. */
	n = response("d.test", 300, 0, &r, msg);
	dns_cache_put(c, "d.test", 6, DNS_TYPE_A, msg, n, &r, 0);
	assert_int_equal(dns_cache_get(c, "d.test", 6, DNS_TYPE_A, 0, out, 8), -ENOSPC);
	dns_cache_clear(c);
	assert_int_equal(dns_cache_count(c), 0);
	dns_cache_free(c);
}

static void test_lru_bound(void **state)
{
	struct dns_cache *c = dns_cache_new(3, 3600);
	struct dns_response r;
	uint8_t msg[512], out[512];
	char name[16];
	(void)state;

	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "h%d.test", i);
		size_t n = response(name, 300, 0, &r, msg);
		dns_cache_put(c, name, strlen(name), DNS_TYPE_A, msg, n, &r, 0);
	}
	assert_true(dns_cache_get(c, "h0.test", 7, DNS_TYPE_A, 0, out, 512) > 0); /* used */
	size_t n = response("h3.test", 300, 0, &r, msg);
	dns_cache_put(c, "h3.test", 7, DNS_TYPE_A, msg, n, &r, 0);
	assert_int_equal(dns_cache_count(c), 3);
	assert_int_equal(dns_cache_get(c, "h1.test", 7, DNS_TYPE_A, 0, out, 512), 0);
	assert_true(dns_cache_get(c, "h0.test", 7, DNS_TYPE_A, 0, out, 512) > 0);
	/* Storing again replaces. */
	n = response("h0.test", 10, 0, &r, msg);
	dns_cache_put(c, "h0.test", 7, DNS_TYPE_A, msg, n, &r, 0);
	assert_int_equal(dns_cache_count(c), 3);
	assert_int_equal(dns_cache_get(c, "h0.test", 7, DNS_TYPE_A, 10000, out, 512), 0);
	dns_cache_free(c);
	assert_null(dns_cache_new(0, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hit_ages_ttl),
	        cmocka_unit_test(test_max_ttl_and_not_kept),
	        cmocka_unit_test(test_lru_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
