/* Claude Code settings import. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "policy/claude.h"

static enum action verdict(const struct policy *p, const char *name)
{
	struct decision dec;
	policy_decide_name(p, name, strlen(name), 443, &dec);
	return dec.verdict;
}

static void test_webfetch_entries(void **state)
{
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct diag d = {""};
	size_t count = 0;
	(void)state;

	int r = claude_import_file(b, TEST_DATA_DIR "/claude/settings.json", &count, &d);
	if (r)
		fail_msg("%s", d.msg);
	assert_int_equal(count, 3);
	assert_int_equal(policy_compile(b, &p, &d), 0);
	assert_int_equal(verdict(p, "docs.example.com"), ACTION_ALLOW);
	assert_int_equal(verdict(p, "www.docs.example.com"), ACTION_BLOCK);
	assert_int_equal(verdict(p, "project.readthedocs.io"), ACTION_ALLOW);
	assert_int_equal(verdict(p, "readthedocs.io"), ACTION_BLOCK);
	assert_int_equal(verdict(p, "tracker.example"), ACTION_BLOCK);

	struct decision dec;
	struct rule_info ri;
	policy_decide_name(p, "docs.example.com", 16, 443, &dec);
	policy_rule_info(p, dec.rule, &ri);
	assert_string_equal(ri.origin, "Claude settings " TEST_DATA_DIR "/claude/settings.json");
	policy_unref(p);
}

static void expect_error(const char *json, const char *part)
{
	struct policy_builder *b = policy_builder_new();
	struct diag d = {""};
	int r = claude_import_text(b, json, strlen(json), "s.json", NULL, &d);
	policy_builder_free(b);
	if (r == 0)
		fail_msg("accepted: %s", json);
	if (!strstr(d.msg, part))
		fail_msg("message lacks '%s': %s", part, d.msg);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[1, 2]", "s.json: the settings must be a JSON object");
	expect_error("{\"permissions\": []}", "\"permissions\" is not an object");
	expect_error("{\"permissions\": {\"allow\": \"WebFetch(domain:a.example)\"}}",
	             "permissions.allow is not a list");
	expect_error("{\"permissions\": {\"allow\": [\"ok\", 3]}}",
	             "permissions.allow[1] is not a string");
	expect_error("{\"permissions\": {\"allow\": [\"WebFetch(domain:bad..example)\"]}}",
	             "permissions.allow[0]: in rule 'bad..example': empty label");
	expect_error("{\"permissions\": {\"allow\": [\"WebFetch(domain:10.0.0.0/8)\"]}}",
	             "WebFetch takes a host name");
	expect_error("{\"permissions\": {\"allow\": [\"WebFetch(domain:a.example:443)\"]}}",
	             "WebFetch takes a host name");
	expect_error("{\"a\": 1} trailing", "s.json:1:10: invalid JSON");
	expect_error("{\"a\": ", "unexpected end of file");
	expect_error("{\"a\": tru}", "s.json:1:");
	expect_error("", "invalid JSON");
	char nul[] = "{\"a\": \"x\0\"}";
	struct policy_builder *b = policy_builder_new();
	struct diag d;
	assert_int_equal(claude_import_text(b, nul, sizeof(nul) - 1, "s.json", NULL, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "NUL byte"));
	policy_builder_free(b);
}

static void test_malformed_file_names_file(void **state)
{
	struct policy_builder *b = policy_builder_new();
	struct diag d = {""};
	(void)state;
	assert_int_equal(claude_import_file(b, TEST_DATA_DIR "/claude/malformed.json", NULL, &d),
	                 -EINVAL);
	assert_non_null(strstr(d.msg, "claude/malformed.json:4:"));
	assert_int_equal(claude_import_file(b, TEST_DATA_DIR "/claude/absent.json", NULL, &d),
	                 -ENOENT);
	assert_non_null(strstr(d.msg, "absent.json"));
	policy_builder_free(b);
}

static void test_deep_nesting_is_refused(void **state)
{
	char json[4096];
	size_t n = 0;
	(void)state;
	json[n++] = '{';
	memcpy(json + n, "\"a\":", 4);
	n += 4;
	for (int i = 0; i < 1000; i++)
		json[n++] = '[';
	json[n] = '\0';
	expect_error(json, "invalid JSON");
}

static void test_no_permissions(void **state)
{
	struct policy_builder *b = policy_builder_new();
	struct diag d;
	size_t count = 9;
	(void)state;
	assert_int_equal(claude_import_text(b, "{\"model\": \"x\"}", 14, "s.json", &count, &d), 0);
	assert_int_equal(count, 0);
	policy_builder_free(b);
}

static void test_default_paths(void **state)
{
	char paths[3][4096];
	(void)state;
	setenv("HOME", "/home/u", 1);
	assert_int_equal(claude_default_paths("/ws", paths, 3), 3);
	assert_string_equal(paths[0], "/ws/.claude/settings.json");
	assert_string_equal(paths[1], "/ws/.claude/settings.local.json");
	assert_string_equal(paths[2], "/home/u/.claude/settings.json");
}

static void test_resolve_path(void **state)
{
	char out[4096];
	(void)state;
	setenv("HOME", "/home/u", 1);
	assert_int_equal(claude_resolve_path("/ws", "~/.claude/settings.json", out), 0);
	assert_string_equal(out, "/home/u/.claude/settings.json");
	assert_int_equal(claude_resolve_path("/ws", ".claude/settings.json", out), 0);
	assert_string_equal(out, "/ws/.claude/settings.json");
	assert_int_equal(claude_resolve_path("/ws", "/etc/x.json", out), 0);
	assert_string_equal(out, "/etc/x.json");
	assert_int_equal(claude_resolve_path(NULL, "rel.json", out), 0);
	assert_string_equal(out, "rel.json");
	/* "~user" is not expanded: only the caller's own home. */
	assert_int_equal(claude_resolve_path("/ws", "~other/x", out), 0);
	assert_string_equal(out, "/ws/~other/x");
	unsetenv("HOME");
	assert_int_equal(claude_resolve_path("/ws", "~/x", out), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_webfetch_entries),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_malformed_file_names_file),
	        cmocka_unit_test(test_deep_nesting_is_refused),
	        cmocka_unit_test(test_no_permissions),
	        cmocka_unit_test(test_default_paths),
	        cmocka_unit_test(test_resolve_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
