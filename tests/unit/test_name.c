/* Name normalisation: the canonical form every decision is made on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "policy/name.h"

static void expect_name(const char *in, size_t len, const char *want)
{
	char out[NAME_BUF_SIZE];
	size_t out_len = 0;
	struct diag d = {""};
	int r = name_normalize(in, len, out, &out_len, &d);
	if (r != 0)
		fail_msg("'%s' refused: %s", in, d.msg);
	assert_string_equal(out, want);
	assert_int_equal(out_len, strlen(want));
}

static void expect_refused(const char *in, size_t len, const char *msg_part)
{
	char out[NAME_BUF_SIZE];
	struct diag d = {""};
	int r = name_normalize(in, len, out, NULL, &d);
	if (r == 0)
		fail_msg("'%s' accepted as '%s'", in, out);
	assert_int_equal(r, -EINVAL);
	if (!strstr(d.msg, msg_part))
		fail_msg("message for '%s' lacks '%s': %s", in, msg_part, d.msg);
}

#define NAME(s, want)    expect_name(s, strlen(s), want)
#define REFUSED(s, part) expect_refused(s, strlen(s), part)

static void test_case_folds(void **state)
{
	(void)state;
	NAME("GitHub.COM", "github.com");
	NAME("API.Example.Org", "api.example.org");
}

static void test_one_trailing_dot(void **state)
{
	(void)state;
	NAME("example.com.", "example.com");
	REFUSED("example.com..", "empty label");
	REFUSED(".", "root");
}

static void test_empty_labels(void **state)
{
	(void)state;
	REFUSED("", "empty name");
	REFUSED(".example.com", "empty label at offset 0");
	REFUSED("a..example.com", "empty label at offset 2");
}

static void test_label_length(void **state)
{
	char name[128];
	(void)state;
	memset(name, 'a', 63);
	memcpy(name + 63, ".example", 9);
	NAME(name, name);
	memset(name, 'a', 64);
	memcpy(name + 64, ".example", 9);
	REFUSED(name, "is 64 bytes long");
}

static void test_name_length(void **state)
{
	char name[300];
	(void)state;
	/* 63+1+63+1+63+1+61 = 253 bytes: the longest name. */
	memset(name, 'a', 253);
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	NAME(name, name);
	name[253] = '.';
	name[254] = '\0';
	char want[254];
	memcpy(want, name, 253);
	want[253] = '\0';
	NAME(name, want); /* the same name, fully qualified */
	memset(name, 'a', 254);
	name[63] = name[127] = name[191] = '.';
	name[254] = '\0';
	REFUSED(name, "longer than 253");
	char huge[2000];
	memset(huge, 'a', sizeof(huge));
	expect_refused(huge, sizeof(huge), "longer than 253");
}

static void test_nul_bytes(void **state)
{
	(void)state;
	expect_refused("exa\0mple.com", 12, "NUL byte at offset 3");
	expect_refused("example.com\0", 12, "NUL byte at offset 11");
	expect_refused("\0", 1, "NUL byte at offset 0");
}

static void test_bad_characters(void **state)
{
	(void)state;
	REFUSED("exa mple.com", "character ' ' at offset 3");
	REFUSED("a/b.example", "character '/'");
	REFUSED("user@example.com", "character '@'");
	REFUSED("*.example.com", "character '*'");
	REFUSED("example.com\r", "\\x0d");
	NAME("_dmarc.example.com", "_dmarc.example.com");
	NAME("my-host-1.example.com", "my-host-1.example.com");
}

static void test_idn_to_punycode(void **state)
{
	(void)state;
	NAME("b\xc3\xbc"
	     "cher.example",
	     "xn--bcher-kva.example");
	NAME("B\xc3\x9c"
	     "CHER.example",
	     "xn--bcher-kva.example"); /* case-mapped too */
	NAME("xn--bcher-kva.example", "xn--bcher-kva.example");
	NAME("XN--BCHER-KVA.example.", "xn--bcher-kva.example");
	/* A Cyrillic 'a' makes a different name, never apple.com. */
	NAME("\xd0\xb0pple.com", "xn--pple-43d.com");
}

static void test_idn_refused(void **state)
{
	(void)state;
	REFUSED("\xe2\x98\x83.example", "not a valid internationalised name"); /* snowman */
	REFUSED("\xff\xfe.example", "not a valid internationalised name");     /* not UTF-8 */
	REFUSED("xn--a.example", "not valid punycode");
}

static void test_numeric_names_refused(void **state)
{
	(void)state;
	REFUSED("2130706433", "numeric IPv4");
	REFUSED("127.1", "numeric IPv4");
	REFUSED("0x7f.1", "numeric IPv4");
	REFUSED("0x7f000001", "numeric IPv4");
	REFUSED("example.123", "numeric IPv4");
	NAME("123.example", "123.example");
	NAME("1password.com", "1password.com");
}

static void test_label_count(void **state)
{
	(void)state;
	assert_int_equal(name_label_count("a.b.c", 5), 3);
	assert_int_equal(name_label_count("com", 3), 1);
	assert_int_equal(name_label_count("", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_case_folds),     cmocka_unit_test(test_one_trailing_dot),
	        cmocka_unit_test(test_empty_labels),   cmocka_unit_test(test_label_length),
	        cmocka_unit_test(test_name_length),    cmocka_unit_test(test_nul_bytes),
	        cmocka_unit_test(test_bad_characters), cmocka_unit_test(test_idn_to_punycode),
	        cmocka_unit_test(test_idn_refused),    cmocka_unit_test(test_numeric_names_refused),
	        cmocka_unit_test(test_label_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
