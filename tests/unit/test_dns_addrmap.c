/* The name <-> address map of allowed answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "dns/addrmap.h"

static const uint8_t a1[4] = {198, 18, 0, 20}, a2[4] = {198, 18, 0, 21};
static const uint8_t v6[16] = {0x20, 0x01, 0, 2, [15] = 0x20};

#define HAS(m, name, fam, addr, now) addrmap_has(m, name, strlen(name), fam, addr, now)

static bool collect(const char *name, size_t len, void *ctx)
{
	char *out = ctx;
	size_t o = strlen(out);
	snprintf(out + o, 256 - o, "%.*s ", (int)len, name);
	return true;
}

static void test_pairs_and_reverse(void **state)
{
	struct addrmap *m = addrmap_new(100, 0);
	char names[256] = "";
	(void)state;

	assert_int_equal(addrmap_add(m, "www.allowed.test", 16, 4, a1, 60, 1000), 0);
	assert_int_equal(addrmap_add(m, "cdn.allowed.test", 16, 4, a1, 60, 1000), 0);
	assert_int_equal(addrmap_add(m, "www.allowed.test", 16, 6, v6, 60, 1000), 0);
	assert_true(HAS(m, "www.allowed.test", 4, a1, 2000));
	assert_true(HAS(m, "www.allowed.test", 6, v6, 2000));
	assert_false(HAS(m, "www.allowed.test", 4, a2, 2000)); /* another address */
	assert_false(HAS(m, "blocked.test", 4, a1, 2000));     /* another name */
	assert_int_equal(addrmap_names(m, 4, a1, 2000, collect, names), 2);
	assert_string_equal(names, "cdn.allowed.test www.allowed.test ");
	assert_int_equal(addrmap_count(m), 3);
	addrmap_free(m);
}

static void test_expiry_with_grace(void **state)
{
	struct addrmap *m = addrmap_new(100, 30);
	(void)state;

	addrmap_add(m, "a.test", 6, 4, a1, 10, 0);
	assert_true(HAS(m, "a.test", 4, a1, 39999)); /* TTL 10 s + grace 30 s */
	assert_false(HAS(m, "a.test", 4, a1, 40000));
	/* A refresh extends, never shortens. */
	addrmap_add(m, "a.test", 6, 4, a1, 100, 0);
	addrmap_add(m, "a.test", 6, 4, a1, 1, 0);
	assert_true(HAS(m, "a.test", 4, a1, 129999));
	assert_int_equal(addrmap_count(m), 1);
	addrmap_expire(m, 130000);
	assert_int_equal(addrmap_count(m), 0);
	/* TTLs are capped at a day. */
	addrmap_add(m, "b.test", 6, 4, a1, UINT32_MAX, 0);
	assert_false(HAS(m, "b.test", 4, a1, (86400ull + 30) * 1000));
	addrmap_free(m);
}

static void test_full_map_drops_oldest(void **state)
{
	struct addrmap *m = addrmap_new(3, 0);
	(void)state;

	addrmap_add(m, "one.test", 8, 4, a1, 60, 0);
	addrmap_add(m, "two.test", 8, 4, a1, 60, 0);
	addrmap_add(m, "three.test", 10, 4, a1, 60, 0);
	addrmap_add(m, "one.test", 8, 4, a1, 60, 0); /* refreshed: now the youngest */
	addrmap_add(m, "four.test", 9, 4, a1, 60, 0);
	assert_int_equal(addrmap_count(m), 3);
	assert_false(HAS(m, "two.test", 4, a1, 1));
	assert_true(HAS(m, "one.test", 4, a1, 1));
	assert_true(HAS(m, "three.test", 4, a1, 1));
	assert_true(HAS(m, "four.test", 4, a1, 1));
	addrmap_free(m);
}

static void test_many_pairs_stay_consistent(void **state)
{
	struct addrmap *m = addrmap_new(1000, 0);
	char name[32];
	(void)state;

	for (unsigned i = 0; i < 5000; i++) {
		uint8_t addr[4] = {198, 18, (uint8_t)(i >> 8), (uint8_t)i};
		int n = snprintf(name, sizeof(name), "h%u.test", i % 700);
		assert_int_equal(addrmap_add(m, name, (size_t)n, 4, addr, 1 + i % 50, i), 0);
	}
	assert_int_equal(addrmap_count(m), 1000);
	for (unsigned i = 4000; i < 5000; i++) {
		uint8_t addr[4] = {198, 18, (uint8_t)(i >> 8), (uint8_t)i};
		int n = snprintf(name, sizeof(name), "h%u.test", i % 700);
		assert_true(addrmap_has(m, name, (size_t)n, 4, addr, 4999));
	}
	addrmap_expire(m, UINT64_MAX / 2);
	assert_int_equal(addrmap_count(m), 0);
	addrmap_free(m);
}

static void test_bad_input(void **state)
{
	struct addrmap *m = addrmap_new(10, 0);
	(void)state;
	assert_int_equal(addrmap_add(m, "", 0, 4, a1, 1, 0), -EINVAL);
	assert_int_equal(addrmap_add(m, "a.test", 6, 5, a1, 1, 0), -EINVAL);
	assert_null(addrmap_new(0, 0));
	addrmap_free(m);
	addrmap_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pairs_and_reverse),
	        cmocka_unit_test(test_expiry_with_grace),
	        cmocka_unit_test(test_full_map_drops_oldest),
	        cmocka_unit_test(test_many_pairs_stay_consistent),
	        cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
