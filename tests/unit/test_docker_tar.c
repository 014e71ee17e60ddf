/* The in-memory ustar writer the gateway image is imported from. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "docker/tar.h"

/* The header's checksum recomputed: every byte, the checksum field as spaces. */
static unsigned checksum_of(const uint8_t *h)
{
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum;
}

static unsigned long octal_field(const uint8_t *h, size_t off, size_t len)
{
	char buf[16] = {0};
	memcpy(buf, h + off, len);
	return strtoul(buf, NULL, 8);
}

static void test_entries_and_layout(void **state)
{
	struct tar t;
	(void)state;

	tar_init(&t);
	assert_int_equal(tar_add_dir(&t, "/etc", 0755, 0, 0), 0);
	assert_int_equal(tar_add_file(&t, "/etc/passwd", 0644, 0, 0, "root\n", 5), 0);
	assert_int_equal(tar_add_symlink(&t, "/lib64", "usr/lib64"), 0);
	assert_int_equal(tar_add_dir(&t, "run/airlock", 0700, 65532, 65532), 0);
	assert_int_equal(tar_finish(&t), 0);
	/* 4 headers, one data block, two end blocks. */
	assert_int_equal(t.len, 512 * 7);

	const uint8_t *h = t.buf;
	assert_string_equal((const char *)h, "etc"); /* the leading '/' dropped */
	assert_int_equal(h[156], '5');
	assert_memory_equal(h + 257,
	                    "ustar\0"
	                    "00",
	                    8);
	assert_int_equal(octal_field(h, 148, 7), checksum_of(h));
	assert_int_equal(octal_field(h, 100, 8), 0755);

	h += 512;
	assert_string_equal((const char *)h, "etc/passwd");
	assert_int_equal(h[156], '0');
	assert_int_equal(octal_field(h, 124, 12), 5);
	assert_int_equal(octal_field(h, 136, 12), 0); /* mtime 0: reproducible */
	assert_memory_equal(h + 512, "root\n\0\0", 7);

	h += 1024;
	assert_int_equal(h[156], '2');
	assert_string_equal((const char *)h + 157, "usr/lib64");
	h += 512;
	assert_int_equal(octal_field(h, 108, 8), 65532);
	assert_int_equal(octal_field(h, 148, 7), checksum_of(h));
	for (size_t i = 512 * 5; i < t.len; i++)
		assert_int_equal(t.buf[i], 0);
	tar_done(&t);
}

static void test_long_paths_use_the_prefix(void **state)
{
	struct tar t;
	char path[300];
	(void)state;

	/* 150 bytes of directories and a 90-byte name: prefix + name. */
	memset(path, 'd', 150);
	path[150] = '/';
	memset(path + 151, 'n', 90);
	path[241] = '\0';
	tar_init(&t);
	assert_int_equal(tar_add_file(&t, path, 0644, 0, 0, "", 0), 0);
	assert_int_equal(t.buf[345 + 149], 'd');
	assert_int_equal(t.buf[345 + 150], '\0');
	assert_int_equal(t.buf[0], 'n');
	assert_int_equal(t.buf[89], 'n');
	/* A name part over 100 bytes cannot be split. */
	memset(path + 151, 'n', 120);
	path[271] = '\0';
	assert_int_equal(tar_add_file(&t, path, 0644, 0, 0, "", 0), -ENAMETOOLONG);
	tar_done(&t);
}

static void test_refusals(void **state)
{
	struct tar t;
	char target[120];
	(void)state;

	tar_init(&t);
	assert_int_equal(tar_add_file(&t, "a/../../etc/shadow", 0644, 0, 0, "", 0), -EINVAL);
	assert_int_equal(tar_add_dir(&t, "..", 0755, 0, 0), -EINVAL);
	assert_int_equal(tar_add_dir(&t, "/", 0755, 0, 0), -EINVAL);
	memset(target, 'x', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	assert_int_equal(tar_add_symlink(&t, "l", target), -ENAMETOOLONG);
	assert_int_equal(tar_add_dir(&t, "ok..name", 0755, 0, 0), 0); /* only ".." itself */
	assert_int_equal(t.len, 512);
	tar_done(&t);
}

static void test_fingerprint(void **state)
{
	char a[17], b[17], c[17];
	(void)state;

	tar_fingerprint("", 0, a);
	assert_string_equal(a, "cbf29ce484222325"); /* FNV-1a's offset basis */
	tar_fingerprint("airlock", 7, b);
	tar_fingerprint("airlocK", 7, c);
	assert_int_equal(strlen(b), 16);
	assert_string_not_equal(b, c);
	tar_fingerprint("airlock", 7, c);
	assert_string_equal(b, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_entries_and_layout),
	        cmocka_unit_test(test_long_paths_use_the_prefix),
	        cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_fingerprint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
