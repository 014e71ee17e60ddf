/* The build-once hash map under the matcher. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/keymap.h"

static void test_insert_and_find(void **state)
{
	struct keymap m;
	uint32_t *v;
	(void)state;

	keymap_init(&m, 42);
	assert_int_equal(keymap_get(&m, "a", 1), KEYMAP_NONE);
	assert_int_equal(keymap_upsert(&m, "example.com", 11, &v), 0);
	assert_int_equal(*v, KEYMAP_NONE);
	*v = 7;
	assert_int_equal(keymap_upsert(&m, "example.com", 11, &v), 0);
	assert_int_equal(*v, 7);
	assert_int_equal(keymap_get(&m, "example.com", 11), 7);
	assert_int_equal(keymap_get(&m, "example.co", 10), KEYMAP_NONE);
	assert_int_equal(keymap_get(&m, "xexample.com", 12), KEYMAP_NONE);
	/* Keys are bytes, not strings. */
	assert_int_equal(keymap_upsert(&m, "a\0b", 3, &v), 0);
	*v = 9;
	assert_int_equal(keymap_get(&m, "a\0b", 3), 9);
	assert_int_equal(keymap_get(&m, "a\0c", 3), KEYMAP_NONE);
	keymap_done(&m);
	keymap_done(&m); /* idempotent */
}

static void test_growth_keeps_everything(void **state)
{
	struct keymap m;
	char key[32];
	uint32_t *v;
	(void)state;

	keymap_init(&m, 0);
	for (uint32_t i = 0; i < 50000; i++) {
		int n = snprintf(key, sizeof(key), "host%u.example", i);
		assert_int_equal(keymap_upsert(&m, key, (size_t)n, &v), 0);
		*v = i;
	}
	assert_int_equal(m.count, 50000);
	assert_true(m.count * 2 <= m.mask + 1);
	for (uint32_t i = 0; i < 50000; i++) {
		int n = snprintf(key, sizeof(key), "host%u.example", i);
		assert_int_equal(keymap_get(&m, key, (size_t)n), i);
	}
	assert_true(keymap_memory(&m) > 50000 * sizeof(struct keymap_slot));
	keymap_done(&m);
}

static void test_suffix_hash_is_incremental(void **state)
{
	/* Hashing right to left, the running hash at a label boundary equals
	 * the hash of that suffix: the property the matcher's walk relies on. */
	const char *name = "a.b.example.com";
	size_t len = strlen(name);
	struct keymap m;
	(void)state;

	keymap_init(&m, 1234);
	uint64_t h = keymap_hash_start(&m);
	for (size_t i = len; i-- > 0;) {
		h = keymap_hash_byte(h, (unsigned char)name[i]);
		if (i == 0 || name[i - 1] == '.')
			assert_true(keymap_hash_finish(h, len - i) ==
				    keymap_hash(&m, name + i, len - i));
	}
	keymap_done(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_and_find),
		cmocka_unit_test(test_growth_keeps_everything),
		cmocka_unit_test(test_suffix_hash_is_incremental),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
