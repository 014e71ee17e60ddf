/* A sandbox's files, for both kinds (run and Docker): names, creation (a name
 * belongs to one kind), sandbox.conf, the rule files and their counts,
 * finding and opening a sandbox, removal. */
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

/* A file under the state root ("docker/web/rules/allowed-domains"). */
static void read_file(const char *rel, char *out, size_t size)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
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
	read_file("docker/web/rules/allowed-domains", text, sizeof(text));
	assert_string_equal(text, "a.test\n*.b.test\n");
	assert_int_equal(state_rule_set(&s, ACTION_BLOCK, false, "a.test", &changed, &d), 0);
	assert_true(changed);
	read_file("docker/web/rules/allowed-domains", text, sizeof(text));
	assert_string_equal(text, "*.b.test\n");
	read_file("docker/web/rules/blocked-domains", text, sizeof(text));
	assert_string_equal(text, "a.test\n");
	assert_int_equal(state_rule_set(&s, ACTION_ALLOW, true, "a.test", &changed, &d), 0);
	assert_true(changed);
	read_file("docker/web/rules/blocked-domains", text, sizeof(text));
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

/* Write a file under the state root, replacing it. */
static void write_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static bool exists(const char *rel)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return stat(path, &st) == 0;
}

static void test_kinds_and_roots(void **state)
{
	char path[PATH_MAX], want[PATH_MAX];
	struct diag d;
	(void)state;

	assert_string_equal(sandbox_kind_name(SANDBOX_KIND_RUN), "run");
	assert_string_equal(sandbox_kind_name(SANDBOX_KIND_DOCKER), "docker");
	assert_int_equal(state_root(SANDBOX_KIND_RUN, path, sizeof(path), &d), 0);
	snprintf(want, sizeof(want), "%s/run", root);
	assert_string_equal(path, want);
	assert_int_equal(state_root(SANDBOX_KIND_DOCKER, path, sizeof(path), &d), 0);
	snprintf(want, sizeof(want), "%s/docker", root);
	assert_string_equal(path, want);
	assert_int_equal(state_root(SANDBOX_KIND_RUN, path, 8, &d), -ENAMETOOLONG);
}

static void test_find_kind(void **state)
{
	struct sandbox_state s;
	enum sandbox_kind kind;
	struct diag d;
	(void)state;

	assert_int_equal(state_find("r1", &kind, &d), -ENOENT);
	assert_string_equal(d.msg, "no sandbox named r1: 'airlock ps' lists the running ones, and "
	                           "'airlock run --name r1' makes one");
	assert_int_equal(state_create(SANDBOX_KIND_RUN, "r1", getuid(), getgid(), &s, &d), 0);
	assert_int_equal(s.kind, SANDBOX_KIND_RUN);
	assert_int_equal(state_create(SANDBOX_KIND_DOCKER, "d1", getuid(), getgid(), &s, &d), 0);
	assert_int_equal(s.kind, SANDBOX_KIND_DOCKER);
	assert_true(exists("run/r1/rules/allowed-domains"));
	assert_true(exists("docker/d1/rules/blocked-domains"));

	kind = SANDBOX_KIND_DOCKER;
	assert_int_equal(state_find("r1", &kind, &d), 0);
	assert_int_equal(kind, SANDBOX_KIND_RUN);
	kind = SANDBOX_KIND_RUN;
	assert_int_equal(state_find("d1", &kind, &d), 0);
	assert_int_equal(kind, SANDBOX_KIND_DOCKER);
	/* Names are exact: no prefix or case folding. */
	assert_int_equal(state_find("r", &kind, &d), -ENOENT);
	assert_int_equal(state_find("R1", &kind, &d), -ENOENT);
	/* A name that cannot be a sandbox's is refused, not looked up. */
	assert_int_equal(state_find("../run", &kind, &d), -EINVAL);
	assert_int_equal(state_find("", &kind, &d), -EINVAL);

	assert_int_equal(state_remove(SANDBOX_KIND_RUN, "r1", &d), 0);
	assert_false(exists("run/r1"));
	assert_int_equal(state_find("r1", &kind, &d), -ENOENT);
	assert_int_equal(state_find("d1", &kind, &d), 0);
	assert_int_equal(kind, SANDBOX_KIND_DOCKER);
}

struct names {
	size_t n;
	char name[4][SANDBOX_NAME_MAX + 1];
};

static int collect_name(const char *name, void *ctx)
{
	struct names *ns = ctx;
	if (ns->n < ARRAY_SIZE(ns->name))
		snprintf(ns->name[ns->n], sizeof(ns->name[0]), "%s", name);
	ns->n++;
	return 0;
}

static void test_name_belongs_to_one_kind(void **state)
{
	struct sandbox_state s;
	struct diag d;
	(void)state;

	assert_int_equal(state_create(SANDBOX_KIND_RUN, "web", getuid(), getgid(), &s, &d), 0);
	assert_int_equal(state_create(SANDBOX_KIND_DOCKER, "web", getuid(), getgid(), &s, &d),
	                 -EEXIST);
	assert_string_equal(d.msg, "a run sandbox is named web: pick another --name, or remove it "
	                           "with 'airlock rm web'");
	assert_false(exists("docker/web"));

	assert_int_equal(state_create(SANDBOX_KIND_DOCKER, "api", getuid(), getgid(), &s, &d), 0);
	assert_int_equal(state_create(SANDBOX_KIND_RUN, "api", getuid(), getgid(), &s, &d),
	                 -EEXIST);
	assert_string_equal(d.msg, "a Docker sandbox is named api: pick another --name, or remove "
	                           "it with 'airlock docker rm api'");
	assert_false(exists("run/api"));

	/* The same kind twice: the message names that kind's removal. */
	assert_int_equal(state_create(SANDBOX_KIND_RUN, "web", getuid(), getgid(), &s, &d),
	                 -EEXIST);
	assert_string_equal(d.msg, "a sandbox named web exists already: pick another --name, or "
	                           "remove it with 'airlock rm web'");
	/* The refused creations left the existing sandboxes as they were. */
	assert_true(exists("run/web/rules/allowed-domains"));
	assert_true(exists("docker/api/run"));

	/* Each kind lists its own. */
	struct names ns = {0};
	assert_int_equal(state_each(SANDBOX_KIND_RUN, collect_name, &ns, &d), 0);
	assert_int_equal(ns.n, 1);
	assert_string_equal(ns.name[0], "web");
	ns.n = 0;
	assert_int_equal(state_each(SANDBOX_KIND_DOCKER, collect_name, &ns, &d), 0);
	assert_int_equal(ns.n, 1);
	assert_string_equal(ns.name[0], "api");

	/* Once removed, the name is free for the other kind. */
	assert_int_equal(state_remove(SANDBOX_KIND_RUN, "web", &d), 0);
	assert_int_equal(state_create(SANDBOX_KIND_DOCKER, "web", getuid(), getgid(), &s, &d), 0);
}

static void test_open_without_conf(void **state)
{
	struct sandbox_state s;
	struct diag d;
	char path[PATH_MAX], want[PATH_MAX];
	(void)state;

	/* A run sandbox that never finished starting: its directory, no
	 * sandbox.conf. */
	snprintf(path, sizeof(path), "%s/run", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/run/half", root);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(state_load(SANDBOX_KIND_RUN, "half", &s, &d), -ENOENT);
	snprintf(want, sizeof(want), "no sandbox named half (nothing in %s/run/half)", root);
	assert_string_equal(d.msg, want);
	memset(&s, 0x5a, sizeof(s));
	assert_int_equal(state_open(SANDBOX_KIND_RUN, "half", &s, &d), 0);
	assert_int_equal(s.kind, SANDBOX_KIND_RUN);
	assert_string_equal(s.name, "half");
	assert_string_equal(s.dir, path);
	assert_string_equal(s.profile, "");
	assert_string_equal(s.default_action, "");
	assert_int_equal(s.n_upstream, 0);
	assert_int_equal(s.pid, 0);
	assert_int_equal(s.started_ms, 0);
	/* Its paths work, for rm and ps. */
	assert_int_equal(state_path(&s, "run/lock", want, sizeof(want)), 0);
	snprintf(path, sizeof(path), "%s/run/half/run/lock", root);
	assert_string_equal(want, path);

	/* The other kind's directory of that name is not it; no directory at
	 * all is -ENOENT. */
	assert_int_equal(state_open(SANDBOX_KIND_DOCKER, "half", &s, &d), -ENOENT);
	assert_int_equal(state_open(SANDBOX_KIND_RUN, "absent", &s, &d), -ENOENT);
	snprintf(want, sizeof(want), "no sandbox named absent (nothing in %s/run/absent)", root);
	assert_string_equal(d.msg, want);
	assert_int_equal(state_open(SANDBOX_KIND_RUN, "a/b", &s, &d), -EINVAL);

	/* Created, not yet saved: open works, load does not. */
	assert_int_equal(state_create(SANDBOX_KIND_RUN, "fresh", getuid(), getgid(), &s, &d), 0);
	assert_int_equal(state_load(SANDBOX_KIND_RUN, "fresh", &s, &d), -ENOENT);
	assert_int_equal(state_open(SANDBOX_KIND_RUN, "fresh", &s, &d), 0);
	assert_string_equal(s.name, "fresh");
	/* Saved: open reads sandbox.conf. */
	snprintf(s.profile, sizeof(s.profile), "strict");
	assert_int_equal(state_save(&s, &d), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(state_open(SANDBOX_KIND_RUN, "fresh", &s, &d), 0);
	assert_string_equal(s.profile, "strict");
}

static void test_rule_counts(void **state)
{
	struct sandbox_state s;
	struct diag d;
	size_t allowed = 99, blocked = 99;
	(void)state;

	assert_int_equal(state_create(SANDBOX_KIND_RUN, "web", getuid(), getgid(), &s, &d), 0);
	assert_int_equal(state_rule_counts(&s, &allowed, &blocked, &d), 0);
	assert_int_equal(allowed, 0);
	assert_int_equal(blocked, 0);

	/* Comments, blank and white-space lines are not rules; a last line
	 * without its newline is. */
	write_file("run/web/rules/allowed-domains", "# allowed by hand\n"
	                                            "\n"
	                                            "a.test\n"
	                                            "   \n"
	                                            "\t# indented comment\n"
	                                            "  b.test\n"
	                                            "\t\n"
	                                            "*.c.test");
	write_file("run/web/rules/blocked-domains", "\n\n#only a comment\nd.test\n#\n");
	assert_int_equal(state_rule_counts(&s, &allowed, &blocked, &d), 0);
	assert_int_equal(allowed, 3);
	assert_int_equal(blocked, 1);

	/* What state_rule_set adds is counted. */
	bool changed;
	assert_int_equal(state_rule_set(&s, ACTION_BLOCK, false, "e.test", &changed, &d), 0);
	assert_true(changed);
	assert_int_equal(state_rule_counts(&s, &allowed, &blocked, &d), 0);
	assert_int_equal(allowed, 3);
	assert_int_equal(blocked, 2);

	/* A missing file holds no rule. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/run/web/rules/blocked-domains", root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(state_rule_counts(&s, &allowed, &blocked, &d), 0);
	assert_int_equal(allowed, 3);
	assert_int_equal(blocked, 0);
}

/* A rule file edited by hand may end without a newline: changing it keeps
 * every other line, each ending in one (this overflowed its buffer by a
 * byte; the sanitizer builds catch a regression). */
static void test_rule_set_without_final_newline(void **state)
{
	struct sandbox_state s;
	struct diag d;
	char text[256];
	bool changed;
	(void)state;

	assert_int_equal(state_create(SANDBOX_KIND_RUN, "web", getuid(), getgid(), &s, &d), 0);
	write_file("run/web/rules/allowed-domains", "a.test\nb.test");
	write_file("run/web/rules/blocked-domains", "x");
	/* Blocking c.test first takes it out of allowed-domains (not there). */
	assert_int_equal(state_rule_set(&s, ACTION_BLOCK, false, "c.test", &changed, &d), 0);
	assert_true(changed);
	read_file("run/web/rules/allowed-domains", text, sizeof(text));
	assert_string_equal(text, "a.test\nb.test");
	read_file("run/web/rules/blocked-domains", text, sizeof(text));
	assert_string_equal(text, "x\nc.test\n");
	/* Allowing the last line's rule moves it; the rest gets its newline. */
	write_file("run/web/rules/blocked-domains", "c.test\nb.test");
	assert_int_equal(state_rule_set(&s, ACTION_ALLOW, false, "c.test", &changed, &d), 0);
	read_file("run/web/rules/blocked-domains", text, sizeof(text));
	assert_string_equal(text, "b.test\n");
	read_file("run/web/rules/allowed-domains", text, sizeof(text));
	assert_string_equal(text, "a.test\nb.test\nc.test\n");
	/* One line, no newline, taken out. */
	write_file("run/web/rules/blocked-domains", "b.test");
	assert_int_equal(state_rule_set(&s, ACTION_ALLOW, true, "b.test", &changed, &d), 0);
	assert_true(changed);
	read_file("run/web/rules/blocked-domains", text, sizeof(text));
	assert_string_equal(text, "");
}

static void test_rules_clear(void **state)
{
	struct sandbox_state s;
	struct diag d;
	size_t allowed, blocked;
	char text[256];
	bool changed = true;
	(void)state;

	assert_int_equal(state_create(SANDBOX_KIND_RUN, "web", getuid(), getgid(), &s, &d), 0);
	/* Nothing to clear. */
	assert_int_equal(state_rules_clear(&s, &changed, &d), 0);
	assert_false(changed);

	assert_int_equal(state_rule_set(&s, ACTION_ALLOW, false, "a.test", &changed, &d), 0);
	assert_int_equal(state_rule_set(&s, ACTION_BLOCK, false, "b.test", &changed, &d), 0);
	assert_int_equal(state_rule_set(&s, ACTION_ALLOW, false, "*.c.test", &changed, &d), 0);
	assert_int_equal(state_rule_counts(&s, &allowed, &blocked, &d), 0);
	assert_int_equal(allowed, 2);
	assert_int_equal(blocked, 1);
	changed = false;
	assert_int_equal(state_rules_clear(&s, &changed, &d), 0);
	assert_true(changed);
	read_file("run/web/rules/allowed-domains", text, sizeof(text));
	assert_string_equal(text, "");
	read_file("run/web/rules/blocked-domains", text, sizeof(text));
	assert_string_equal(text, "");
	assert_int_equal(state_rule_counts(&s, &allowed, &blocked, &d), 0);
	assert_int_equal(allowed + blocked, 0);
	/* Twice: nothing changes the second time. */
	assert_int_equal(state_rules_clear(&s, &changed, &d), 0);
	assert_false(changed);

	/* Rules in one file only. */
	assert_int_equal(state_rule_set(&s, ACTION_BLOCK, false, "b.test", &changed, &d), 0);
	assert_int_equal(state_rules_clear(&s, &changed, &d), 0);
	assert_true(changed);
	read_file("run/web/rules/blocked-domains", text, sizeof(text));
	assert_string_equal(text, "");

	/* Comments are not rules: a file of comments alone changes nothing. */
	write_file("run/web/rules/allowed-domains", "# nothing yet\n\n");
	assert_int_equal(state_rules_clear(&s, &changed, &d), 0);
	assert_false(changed);
}

static void test_run_conf_round_trip(void **state)
{
	struct sandbox_state s, t;
	struct diag d;
	char text[1024];
	struct stat st;
	char path[PATH_MAX];
	(void)state;

	assert_int_equal(state_create(SANDBOX_KIND_RUN, "job", getuid(), getgid(), &s, &d), 0);
	snprintf(s.profile, sizeof(s.profile), "standard");
	snprintf(s.default_action, sizeof(s.default_action), "block");
	s.pid = 4242;
	s.started_ms = 1764650081123; /* more than 32 bits */
	assert_int_equal(state_save(&s, &d), 0);

	read_file("run/job/sandbox.conf", text, sizeof(text));
	assert_true(strncmp(text, "# airlock run sandbox job: how it was last started\n", 51) == 0);
	assert_non_null(strstr(text, "\nprofile=standard\n"));
	assert_non_null(strstr(text, "\npid=4242\nstarted=1764650081123\n"));
	snprintf(path, sizeof(path), "%s/run/job/sandbox.conf", root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	memset(&t, 0x5a, sizeof(t));
	assert_int_equal(state_load(SANDBOX_KIND_RUN, "job", &t, &d), 0);
	assert_int_equal(t.kind, SANDBOX_KIND_RUN);
	assert_string_equal(t.name, "job");
	assert_string_equal(t.dir, s.dir);
	assert_string_equal(t.profile, "standard");
	assert_string_equal(t.default_action, "block");
	assert_int_equal(t.pid, 4242);
	assert_int_equal(t.started_ms, 1764650081123);
	assert_int_equal(t.n_upstream, 0);
	assert_false(t.airgapped);

	/* The next start replaces them; no temporary file is left behind. */
	t.pid = 77;
	t.started_ms = 1764650099000;
	t.airgapped = true;
	assert_int_equal(state_save(&t, &d), 0);
	assert_false(exists("run/job/sandbox.conf.tmp"));
	assert_int_equal(state_load(SANDBOX_KIND_RUN, "job", &s, &d), 0);
	assert_int_equal(s.pid, 77);
	assert_int_equal(s.started_ms, 1764650099000);
	assert_true(s.airgapped);

	/* A Docker sandbox has no pid or start time in its file. */
	assert_int_equal(state_create(SANDBOX_KIND_DOCKER, "box", getuid(), getgid(), &s, &d), 0);
	s.pid = 99;
	s.started_ms = 5;
	for (int i = 0; i < STATE_MAX_UPSTREAM; i++)
		snprintf(s.upstream[s.n_upstream++], sizeof(s.upstream[0]), "192.0.2.%d", i + 1);
	assert_int_equal(state_save(&s, &d), 0);
	read_file("docker/box/sandbox.conf", text, sizeof(text));
	assert_true(strncmp(text, "# airlock docker sandbox box:", 29) == 0);
	assert_null(strstr(text, "pid="));
	assert_null(strstr(text, "started="));
	assert_int_equal(state_load(SANDBOX_KIND_DOCKER, "box", &t, &d), 0);
	assert_int_equal(t.pid, 0);
	assert_int_equal(t.started_ms, 0);
	assert_int_equal(t.n_upstream, STATE_MAX_UPSTREAM);
	assert_string_equal(t.upstream[3], "192.0.2.4");

	/* More upstream lines than it holds: the first ones are kept. */
	write_file("docker/box/sandbox.conf", "upstream=a\nupstream=b\nupstream=c\nupstream=d\n"
	                                      "upstream=e\nimage=x:1\n");
	assert_int_equal(state_load(SANDBOX_KIND_DOCKER, "box", &t, &d), 0);
	assert_int_equal(t.n_upstream, STATE_MAX_UPSTREAM);
	assert_string_equal(t.upstream[3], "d");
	assert_string_equal(t.image, "x:1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_names),
	        cmocka_unit_test_setup_teardown(test_create_save_load_rules_remove, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_kinds_and_roots, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_find_kind, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_name_belongs_to_one_kind, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_open_without_conf, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rule_counts, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rule_set_without_final_newline, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_rules_clear, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_run_conf_round_trip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
