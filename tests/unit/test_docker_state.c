/* A Docker sandbox's files, its names, and the internal network's addresses. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "docker/topology.h"
#include "state/state.h"
#include "util/file.h"

static char root[256];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/airlock-state-test-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("AIRLOCK_STATE_DIR", root, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_names(void **state)
{
	struct diag d;
	(void)state;

	assert_int_equal(sandbox_name_check("web", &d), 0);
	assert_int_equal(sandbox_name_check("a1_b.c-d", &d), 0);
	assert_int_equal(sandbox_name_check("", &d), -EINVAL);
	assert_int_equal(sandbox_name_check("-x", &d), -EINVAL);
	assert_int_equal(sandbox_name_check(".x", &d), -EINVAL);
	assert_int_equal(sandbox_name_check("a/b", &d), -EINVAL);
	assert_int_equal(sandbox_name_check("a b", &d), -EINVAL);
	assert_int_equal(sandbox_name_check("airlock-gw-x", &d), -EINVAL);
	assert_non_null(strstr(d.msg, "airlock's own"));
	assert_int_equal(sandbox_name_check("012345678901234567890123456789012345678901234567", &d),
	                 0);
	assert_int_equal(
	        sandbox_name_check("0123456789012345678901234567890123456789012345678", &d),
	        -EINVAL);
}

static void read_file(const char *rel, char *out, size_t size)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%s/docker/web/%s", root, rel);
	assert_int_equal(file_read_all(path, 4096, &text, &len, NULL), 0);
	snprintf(out, size, "%s", text);
	free(text);
}

static void test_create_save_load_rules_remove(void **state)
{
	struct sandbox_state s, t;
	struct diag d;
	char text[256];
	bool changed;
	(void)state;

	assert_int_equal(state_create(SANDBOX_KIND_DOCKER, "web", getuid(), getgid(), &s, &d), 0);
	assert_int_equal(state_create(SANDBOX_KIND_DOCKER, "web", getuid(), getgid(), &t, &d),
	                 -EEXIST);
	assert_non_null(strstr(d.msg, "airlock docker rm web"));
	snprintf(s.profile, sizeof(s.profile), "strict");
	snprintf(s.ip, sizeof(s.ip), "198.18.129.2");
	snprintf(s.subnet, sizeof(s.subnet), "198.18.129.0/24");
	snprintf(s.image, sizeof(s.image), "airlock-gateway:1");
	snprintf(s.upstream[s.n_upstream++], sizeof(s.upstream[0]), "198.18.0.10");
	assert_int_equal(state_save(&s, &d), 0);
	assert_int_equal(state_load(SANDBOX_KIND_DOCKER, "web", &t, &d), 0);
	assert_string_equal(t.profile, "strict");
	assert_string_equal(t.ip, "198.18.129.2");
	assert_string_equal(t.subnet, "198.18.129.0/24");
	assert_int_equal(t.n_upstream, 1);
	assert_false(t.airgapped);
	assert_int_equal(state_load(SANDBOX_KIND_DOCKER, "nope", &t, &d), -ENOENT);

	/* allow puts a rule in one file and out of the other; block the
	 * reverse; unallow takes it out of both. */
	assert_int_equal(state_rule_set(&s, ACTION_ALLOW, false, "a.test", &changed, &d), 0);
	assert_true(changed);
	assert_int_equal(state_rule_set(&s, ACTION_ALLOW, false, "a.test", &changed, &d), 0);
	assert_false(changed);
	assert_int_equal(state_rule_set(&s, ACTION_ALLOW, false, "*.b.test", &changed, &d), 0);
	read_file("rules/allowed-domains", text, sizeof(text));
	assert_string_equal(text, "a.test\n*.b.test\n");
	assert_int_equal(state_rule_set(&s, ACTION_BLOCK, false, "a.test", &changed, &d), 0);
	assert_true(changed);
	read_file("rules/allowed-domains", text, sizeof(text));
	assert_string_equal(text, "*.b.test\n");
	read_file("rules/blocked-domains", text, sizeof(text));
	assert_string_equal(text, "a.test\n");
	assert_int_equal(state_rule_set(&s, ACTION_ALLOW, true, "a.test", &changed, &d), 0);
	assert_true(changed);
	read_file("rules/blocked-domains", text, sizeof(text));
	assert_string_equal(text, "");

	struct stat st;
	char path[PATH_MAX];
	assert_int_equal(state_path(&s, "run", path, sizeof(path)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* The control socket and logs the gateway leaves are removed too. */
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/audit.jsonl");
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(state_remove(SANDBOX_KIND_DOCKER, "web", &d), 0);
	snprintf(path, sizeof(path), "%s/docker/web", root);
	assert_int_equal(stat(path, &st), -1);
}

static void test_subnet_plan(void **state)
{
	struct subnet_plan p;
	(void)state;

	assert_int_equal(subnet_plan("198.18.128.0/24", &p), 0);
	assert_string_equal(p.subnet, "198.18.128.0/24");
	assert_string_equal(p.gateway, "198.18.128.1");
	assert_string_equal(p.sidecar, "198.18.128.2");
	assert_string_equal(p.range, "198.18.128.128/25");
	assert_int_equal(subnet_plan("172.20.5.9/16", &p), 0); /* host bits dropped */
	assert_string_equal(p.subnet, "172.20.0.0/16");
	assert_string_equal(p.sidecar, "172.20.0.2");
	assert_string_equal(p.range, "172.20.128.0/17");
	assert_int_equal(subnet_plan("10.0.0.16/28", &p), 0);
	assert_string_equal(p.range, "10.0.0.24/29");
	assert_int_equal(subnet_plan("10.0.0.0/29", &p), -EINVAL);
	assert_int_equal(subnet_plan("10.0.0.0/8", &p), -EINVAL);
	assert_int_equal(subnet_plan("fd00::/64", &p), -EINVAL);
	assert_int_equal(subnet_plan("10.0.0.0", &p), -EINVAL);
	assert_int_equal(subnet_plan("10.0.0.0/24x", &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_create_save_load_rules_remove),
	        cmocka_unit_test(test_subnet_plan),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
