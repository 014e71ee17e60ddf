/* Per-client token buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "gateway/ratelimit.h"

static struct addr client(const char *text)
{
	struct addr a;
	assert_int_equal(addr_parse(text, 1000, &a), 0);
	return a;
}

static void test_burst_then_rate(void **state)
{
	struct ratelimit *r = ratelimit_new(64, 10, 5);
	struct addr a = client("198.18.1.2");
	(void)state;

	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_take(r, &a, 1000));
	assert_false(ratelimit_take(r, &a, 1000));
	/* 10 a second: one token every 100 ms. */
	assert_false(ratelimit_take(r, &a, 1099));
	assert_true(ratelimit_take(r, &a, 1100));
	assert_false(ratelimit_take(r, &a, 1100));
	/* Refill stops at the burst. */
	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_take(r, &a, 60000));
	assert_false(ratelimit_take(r, &a, 60000));
	ratelimit_free(r);
}

static void test_clients_are_separate(void **state)
{
	struct ratelimit *r = ratelimit_new(64, 1, 2);
	struct addr a = client("198.18.1.2"), a_other_port = client("198.18.1.2:2000");
	struct addr b = client("198.18.1.3"), v6 = client("[2001:2:1::2]:53");
	(void)state;

	assert_true(ratelimit_take(r, &a, 0));
	assert_true(ratelimit_take(r, &a_other_port, 0)); /* same client */
	assert_false(ratelimit_take(r, &a, 0));
	assert_true(ratelimit_take(r, &b, 0));
	assert_true(ratelimit_take(r, &v6, 0));
	ratelimit_free(r);
}

static void test_full_table_reuses_oldest(void **state)
{
	struct ratelimit *r = ratelimit_new(8, 1, 1);
	char text[32];
	(void)state;

	/* Many more clients than slots: each new one still gets a full bucket. */
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(text, sizeof(text), "198.18.%u.%u", i / 256, i % 256);
		struct addr a = client(text);
		assert_true(ratelimit_take(r, &a, i));
	}
	assert_null(ratelimit_new(8, 0, 1));
	assert_null(ratelimit_new(2, 1, 1));
	ratelimit_free(r);
	ratelimit_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_burst_then_rate),
	        cmocka_unit_test(test_clients_are_separate),
	        cmocka_unit_test(test_full_table_reuses_oldest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
