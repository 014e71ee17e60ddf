/* Rules one a line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "policy/rulelist.h"

static void test_comments_blanks_and_origins(void **state)
{
	static const char text[] = "# blocklist\n\n  ads.example  \r\n*.tracker.example\n"
	                           "\t10.0.0.0/8:25\nlast.example";
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct diag d;
	size_t count = 0;
	(void)state;

	assert_int_equal(
	        rulelist_load_text(b, ACTION_BLOCK, text, sizeof(text) - 1, "list.txt", &count, &d),
	        0);
	assert_int_equal(count, 4);
	assert_int_equal(policy_compile(b, &p, &d), 0);
	struct decision dec;
	struct rule_info ri;
	policy_decide_name(p, "x.tracker.example", 17, 443, &dec);
	assert_int_equal(dec.verdict, ACTION_BLOCK);
	policy_rule_info(p, dec.rule, &ri);
	assert_string_equal(ri.origin, "list.txt");
	assert_int_equal(ri.line, 4);
	policy_decide_name(p, "last.example", 12, 0, &dec);
	policy_rule_info(p, dec.rule, &ri);
	assert_int_equal(ri.line, 6);
	policy_unref(p);
}

static void test_error_names_line(void **state)
{
	static const char text[] = "good.example\n\nhttps://bad.example/\n";
	struct policy_builder *b = policy_builder_new();
	struct diag d;
	(void)state;

	assert_int_equal(
	        rulelist_load_text(b, ACTION_ALLOW, text, sizeof(text) - 1, "allowed", NULL, &d),
	        -EINVAL);
	assert_non_null(strstr(d.msg, "allowed:3: "));
	assert_non_null(strstr(d.msg, "looks like a URL"));
	policy_builder_free(b);

	b = policy_builder_new();
	assert_int_equal(rulelist_load_file(b, ACTION_ALLOW, "/nonexistent/list", NULL, &d),
	                 -ENOENT);
	assert_non_null(strstr(d.msg, "/nonexistent/list"));
	policy_builder_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_comments_blanks_and_origins),
	        cmocka_unit_test(test_error_names_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
