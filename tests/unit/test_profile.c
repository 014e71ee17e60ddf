/* Profiles: built-ins, extends/remove, search, and errors with file:line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "policy/profile.h"

static struct profile_paths test_paths(void)
{
	struct profile_paths pp = {.n = 1};
	snprintf(pp.dirs[0], sizeof(pp.dirs[0]), "%s", TEST_DATA_DIR "/profiles");
	return pp;
}

static struct policy *load(const char *name, struct profile *prof)
{
	struct profile_paths pp = test_paths();
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct diag d = {""};
	if (profile_load(b, name, &pp, prof, &d) != 0) {
		policy_builder_free(b);
		fail_msg("profile %s: %s", name, d.msg);
	}
	if (policy_compile(b, &p, &d) != 0)
		fail_msg("profile %s: %s", name, d.msg);
	return p;
}

static enum action verdict(const struct policy *p, const char *target)
{
	struct target t;
	struct decision dec;
	struct diag d;
	assert_int_equal(target_parse(target, strlen(target), &t, &d), 0);
	policy_decide(p, &t, &dec);
	return dec.verdict;
}

/* Loading must fail and the message must hold every part in `parts`. */
static void load_fails(const char *name, const char *part1, const char *part2)
{
	struct profile_paths pp = test_paths();
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct profile prof;
	struct diag d = {""};
	int r = profile_load(b, name, &pp, &prof, &d);
	if (r == 0)
		r = policy_compile(TAKE_PTR(b), &p, &d);
	policy_builder_free(b);
	if (r == 0)
		fail_msg("profile %s loaded", name);
	if (!strstr(d.msg, part1) || (part2 && !strstr(d.msg, part2)))
		fail_msg("profile %s: message lacks '%s'/'%s': %s", name, part1, part2 ? part2 : "",
		         d.msg);
}

static void test_builtins(void **state)
{
	struct profile prof;
	(void)state;

	struct policy *p = load("standard", &prof);
	assert_true(prof.builtin);
	assert_string_equal(prof.source, "built-in standard.conf");
	const char *allowed[] = {"github.com",
	                         "api.github.com",
	                         "raw.githubusercontent.com",
	                         "gitlab.com",
	                         "npmjs.org",
	                         "pypi.org",
	                         "files.pythonhosted.org",
	                         "crates.io",
	                         "proxy.golang.org",
	                         "rubygems.org",
	                         "repo.maven.apache.org",
	                         "api.nuget.org",
	                         "ghcr.io",
	                         "api.anthropic.com",
	                         "api.openai.com"};
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		if (verdict(p, allowed[i]) != ACTION_ALLOW)
			fail_msg("standard blocks %s", allowed[i]);
	assert_int_equal(verdict(p, "unknown.example"), ACTION_BLOCK);
	assert_int_equal(verdict(p, "github.com.evil.test"), ACTION_BLOCK);
	assert_int_equal(verdict(p, "s3.amazonaws.com"), ACTION_BLOCK);
	assert_int_equal(verdict(p, "203.0.113.7:443"), ACTION_BLOCK);
	policy_unref(p);

	p = load("strict", &prof);
	assert_int_equal(policy_rule_count(p), 0);
	assert_int_equal(verdict(p, "github.com"), ACTION_BLOCK);
	policy_unref(p);

	p = load("airgapped", &prof);
	assert_true(policy_network_none(p));
	assert_int_equal(verdict(p, "github.com"), ACTION_BLOCK);
	assert_int_equal(verdict(p, "127.0.0.1:53"), ACTION_BLOCK);
	policy_unref(p);

	p = load("permissive", &prof);
	assert_int_equal(verdict(p, "anything.example"), ACTION_ALLOW);
	assert_int_equal(verdict(p, "203.0.113.7:25"), ACTION_ALLOW);
	policy_unref(p);
}

static void test_extends_and_remove(void **state)
{
	struct profile prof;
	(void)state;

	struct policy *p = load("team", &prof);
	assert_false(prof.builtin);
	assert_string_equal(prof.extends, "standard");
	assert_string_equal(prof.description, "Standard plus the team's hosts");
	assert_int_equal(verdict(p, "github.com"), ACTION_ALLOW);           /* inherited */
	assert_int_equal(verdict(p, "gist.github.com"), ACTION_BLOCK);      /* added block */
	assert_int_equal(verdict(p, "registry-1.docker.io"), ACTION_BLOCK); /* removed */
	assert_int_equal(verdict(p, "ci.team.example"), ACTION_ALLOW);
	assert_int_equal(verdict(p, "git.team.example:22"), ACTION_ALLOW);
	assert_int_equal(policy_default(p), ACTION_BLOCK);
	policy_unref(p);

	/* Two levels; the child's default replaces the inherited one. */
	p = load("team-open", &prof);
	assert_string_equal(prof.extends, "team");
	assert_int_equal(policy_default(p), ACTION_ALLOW);
	assert_int_equal(verdict(p, "anything.example"), ACTION_ALLOW);
	assert_int_equal(verdict(p, "x.tracker.example"), ACTION_BLOCK);
	assert_int_equal(verdict(p, "gist.github.com"), ACTION_BLOCK);
	policy_unref(p);
}

static void test_load_by_path(void **state)
{
	struct profile prof;
	(void)state;
	struct policy *p = load(TEST_DATA_DIR "/profiles/team.conf", &prof);
	assert_string_equal(prof.name, "team");
	assert_string_equal(prof.source, TEST_DATA_DIR "/profiles/team.conf");
	assert_int_equal(verdict(p, "ci.team.example"), ACTION_ALLOW);
	policy_unref(p);
}

static void test_rule_origins(void **state)
{
	struct profile prof;
	struct rule_info ri;
	struct decision dec;
	(void)state;

	struct policy *p = load("team", &prof);
	policy_decide_name(p, "gist.github.com", 15, 443, &dec);
	policy_rule_info(p, dec.rule, &ri);
	assert_string_equal(ri.origin, TEST_DATA_DIR "/profiles/team.conf");
	assert_int_equal(ri.line, 10);
	policy_decide_name(p, "github.com", 10, 443, &dec);
	policy_rule_info(p, dec.rule, &ri);
	assert_string_equal(ri.origin, "built-in standard.conf");
	assert_true(ri.line > 0);
	policy_unref(p);
}

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	load_fails(TEST_DATA_DIR "/bad/bad-rule.conf", "bad-rule.conf:6: ", "empty label");
	load_fails(TEST_DATA_DIR "/bad/unknown-key.conf",
	           "unknown-key.conf:2: ", "unknown key 'descriptoin'");
	load_fails(TEST_DATA_DIR "/bad/unknown-section.conf",
	           "unknown-section.conf:3: ", "unknown section [acl]");
	load_fails(TEST_DATA_DIR "/bad/extends-late.conf",
	           "extends-late.conf:4: ", "extends must come before any rule");
	load_fails(TEST_DATA_DIR "/bad/no-section.conf",
	           "no-section.conf:1: ", "before any section");
	load_fails(TEST_DATA_DIR "/bad/bad-default.conf",
	           "bad-default.conf:2: ", "expected allow or block");
	load_fails(TEST_DATA_DIR "/bad/default-twice.conf",
	           "default-twice.conf:3: ", "already set on line 2");
	load_fails(TEST_DATA_DIR "/bad/remove-missing.conf",
	           "remove-missing.conf:2: ", "no such rule");
	load_fails(TEST_DATA_DIR "/bad/not-ini.conf", "not-ini.conf:2: ", "key = value");
	load_fails(TEST_DATA_DIR "/bad/nul.conf", "nul.conf:2: ", "NUL byte");
	load_fails(TEST_DATA_DIR "/bad/long-line.conf",
	           "long-line.conf:2: ", "split the rules over several lines");
	load_fails(TEST_DATA_DIR "/bad/extends-missing.conf",
	           "extends-missing.conf:2: ", "no profile named 'no-such-profile'");
	load_fails(TEST_DATA_DIR "/bad/missing.conf", "cannot open", "missing.conf");
}

static void test_resolution_errors(void **state)
{
	(void)state;
	load_fails("loop-a", "extends itself", "loop-a");
	load_fails("offline", "network = none", NULL);
	load_fails("nope", "no profile named 'nope'", "built in: airgapped, permissive");
	load_fails("../etc", "cannot open", NULL); /* a path, opened as such */
	load_fails("bad name", "not a profile name", NULL);
}

static void test_builtins_cannot_be_shadowed(void **state)
{
	/* A ./profiles/standard.conf in an untrusted checkout does not replace
	 * the built-in: built-ins are resolved first. */
	char dir[] = "/tmp/airlock-test-XXXXXX";
	char path[256];
	struct profile_paths pp = {.n = 1};
	struct profile prof;
	struct diag d;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/standard.conf", dir);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs("[profile]\ndefault = allow\n", f);
	fclose(f);
	snprintf(pp.dirs[0], sizeof(pp.dirs[0]), "%s", dir);
	struct policy_builder *b = policy_builder_new();
	assert_int_equal(profile_load(b, "standard", &pp, &prof, &d), 0);
	assert_true(prof.builtin);
	assert_int_equal(policy_builder_default(b), ACTION_BLOCK);
	policy_builder_free(b);
	unlink(path);
	rmdir(dir);
}

static void list_cb(const struct profile *p, const struct policy_builder *b, int err,
                    const struct diag *d, void *ctx)
{
	char *out = ctx;
	size_t o = strlen(out);
	(void)b;
	(void)d;
	snprintf(out + o, 1024 - o, "%s%s ", p->name, err ? "!" : "");
}

static void test_list(void **state)
{
	struct profile_paths pp = test_paths();
	char out[1024] = "";
	(void)state;
	assert_int_equal(profile_list(&pp, list_cb, out), 0);
	assert_string_equal(out, "airgapped permissive standard strict loop-a! loop-b! offline! "
	                         "team team-open ");
}

static void test_in_memory_text(void **state)
{
	static const char text[] = "[profile]\ndefault = allow\n[rules]\nblock = a.example\n"
	                           "         b.example, c.example\n";
	struct profile_paths pp = {0};
	struct profile prof;
	struct diag d;
	(void)state;

	struct policy_builder *b = policy_builder_new();
	assert_int_equal(profile_load_text(b, text, sizeof(text) - 1, "mem.conf", &pp, &prof, &d),
	                 0);
	/* A continuation line adds more rules to the same key. */
	assert_int_equal(policy_builder_count(b, ACTION_BLOCK), 3);
	assert_string_equal(prof.name, "mem");
	policy_builder_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_builtins),
	        cmocka_unit_test(test_extends_and_remove),
	        cmocka_unit_test(test_load_by_path),
	        cmocka_unit_test(test_rule_origins),
	        cmocka_unit_test(test_errors_name_file_and_line),
	        cmocka_unit_test(test_resolution_errors),
	        cmocka_unit_test(test_builtins_cannot_be_shadowed),
	        cmocka_unit_test(test_list),
	        cmocka_unit_test(test_in_memory_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
