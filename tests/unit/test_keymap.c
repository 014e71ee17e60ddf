/* The build-once hash map under the matcher. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "policy/keymap.h"

static void test_insert_and_find(void **state)
{
	/* Keys live in the caller's text; the map holds offsets into it. */
	static const char text[] = "example.com"
	                           "a\0b"
	                           "example.com";
	struct keymap m;
	uint32_t *v;
	(void)state;

	keymap_init(&m, text, 42);
	assert_int_equal(keymap_get(&m, "a", 1), KEYMAP_NONE);
	assert_int_equal(keymap_upsert(&m, 0, 11, &v), 0);
	assert_int_equal(*v, KEYMAP_NONE);
	*v = 7;
	/* The same bytes elsewhere in the text are the same key. */
	assert_int_equal(keymap_upsert(&m, 14, 11, &v), 0);
	assert_int_equal(*v, 7);
	assert_int_equal(m.count, 1);
	assert_int_equal(keymap_get(&m, "example.com", 11), 7);
	assert_int_equal(keymap_get(&m, "example.co", 10), KEYMAP_NONE);
	assert_int_equal(keymap_get(&m, "xexample.com", 12), KEYMAP_NONE);
	/* Keys are bytes, not strings. */
	assert_int_equal(keymap_upsert(&m, 11, 3, &v), 0);
	*v = 9;
	assert_int_equal(keymap_get(&m, "a\0b", 3), 9);
	assert_int_equal(keymap_get(&m, "a\0c", 3), KEYMAP_NONE);
	assert_int_equal(keymap_upsert(&m, 0, 0, &v), -EINVAL);
	keymap_done(&m);
	keymap_done(&m); /* idempotent */
}

static void test_growth_keeps_everything(void **state)
{
	enum { N = 50000 };
	char *text = malloc(N * 24);
	uint32_t offs[N], lens[N];
	uint32_t *v;
	size_t o = 0;
	struct keymap m;
	(void)state;

	for (uint32_t i = 0; i < N; i++) {
		offs[i] = (uint32_t)o;
		lens[i] = (uint32_t)snprintf(text + o, 24, "host%u.example", i);
		o += lens[i];
	}
	keymap_init(&m, text, 0);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(keymap_upsert(&m, offs[i], lens[i], &v), 0);
		*v = i;
	}
	assert_int_equal(m.count, N);
	assert_true(m.count * 2 <= m.mask + 1);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(keymap_get(&m, text + offs[i], lens[i]), i);
	assert_true(keymap_memory(&m) >= N * 2 * sizeof(struct keymap_slot));
	keymap_done(&m);

	/* Reserving first gives the same map without growing on the way. */
	keymap_init(&m, text, 0);
	assert_int_equal(keymap_reserve(&m, N), 0);
	size_t cap = m.mask + 1;
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(keymap_upsert(&m, offs[i], lens[i], &v), 0);
	assert_int_equal(m.mask + 1, cap);
	keymap_done(&m);
	free(text);
}

static void test_suffix_hash_is_incremental(void **state)
{
	/* Hashing right to left, the running hash at a label boundary equals
	 * the hash of that suffix: the property the matcher's walk relies on. */
	const char *name = "a.b.example.com";
	size_t len = strlen(name);
	struct keymap m;
	(void)state;

	keymap_init(&m, NULL, 1234);
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
