/* The /etc/hosts sinkhole (src/apply/hosts.h): hosts_render() byte for byte
 * (adding a block, replacing it, removing it, a file without a final
 * newline given back exactly, a block in the middle, names it refuses, a
 * file without a block untouched); then hosts_apply() and hosts_remove() on
 * a temporary file with a policy built from rules: which rules land in the
 * file, in place, idempotent, and removal giving back the original bytes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "apply/hosts.h"
#include "policy/policy.h"
#include "policy/rule.h"
#include "util/file.h"

/* The markers, as hosts.h shows them. */
#define BEGIN    "# BEGIN airlock: managed by `airlock apply`, removed by --remove\n"
#define BEGIN_NL "# BEGIN airlock: managed by `airlock apply`, removed by --remove +newline\n"
#define END      "# END airlock\n"

#define BASE "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"

static const char *const two[] = {"tracker.example", "ads.example"};
static const char *const one[] = {"new.example"};

#define BLOCK_TWO                                                                                  \
	"0.0.0.0 tracker.example\n:: tracker.example\n0.0.0.0 ads.example\n:: ads.example\n"
#define BLOCK_ONE "0.0.0.0 new.example\n:: new.example\n"

/* hosts_render of `len` bytes; the result, owned, with its length checked
 * against its NUL. */
static char *render_n(const char *text, size_t len, const char *const *names, size_t n,
                      size_t *ret_len)
{
	char *out = NULL;
	size_t out_len = 0;
	struct diag d = {""};
	int e = hosts_render(text, len, names, n, &out, &out_len, &d);
	if (e < 0)
		fail_msg("hosts_render: %d: %s", e, d.msg);
	assert_non_null(out);
	assert_int_equal(out[out_len], '\0');
	if (ret_len)
		*ret_len = out_len;
	return out;
}

static char *render(const char *text, const char *const *names, size_t n)
{
	size_t len;
	char *out = render_n(text, strlen(text), names, n, &len);
	assert_int_equal(strlen(out), len);
	return out;
}

/* render(text, names) is exactly `want`. */
static void renders_to(const char *text, const char *const *names, size_t n, const char *want)
{
	char *out = render(text, names, n);
	if (strcmp(out, want) != 0) {
		print_error("input:\n[%s]\nrendered:\n[%s]\nwanted:\n[%s]\n", text, out, want);
		free(out);
		fail_msg("hosts_render differs");
	}
	free(out);
}

/* ---- hosts_render ---- */

static void test_add_block(void **state)
{
	(void)state;
	renders_to(BASE, two, 2, BASE BEGIN BLOCK_TWO END);
	/* An empty file gets the block alone, with no newline added before it. */
	renders_to("", two, 2, BEGIN BLOCK_TWO END);
	renders_to("", one, 1, BEGIN BLOCK_ONE END);
	/* A file of one empty line keeps it. */
	renders_to("\n", one, 1, "\n" BEGIN BLOCK_ONE END);
}

static void test_replace_block(void **state)
{
	(void)state;
	/* The old block goes, the new one comes at the end: never two. */
	renders_to(BASE BEGIN BLOCK_TWO END, one, 1, BASE BEGIN BLOCK_ONE END);
	renders_to(BASE BEGIN BLOCK_ONE END, two, 2, BASE BEGIN BLOCK_TWO END);
	/* The same names: the same bytes (hosts_apply then does not write). */
	renders_to(BASE BEGIN BLOCK_TWO END, two, 2, BASE BEGIN BLOCK_TWO END);
}

static void test_remove_block(void **state)
{
	(void)state;
	renders_to(BASE BEGIN BLOCK_TWO END, NULL, 0, BASE);
	renders_to(BEGIN BLOCK_TWO END, NULL, 0, "");
	/* Two blocks (a file edited by hand): both go. */
	renders_to(BASE BEGIN BLOCK_TWO END BEGIN BLOCK_ONE END, NULL, 0, BASE);
	/* A block whose end marker was lost runs to the end of the file. */
	renders_to(BASE BEGIN BLOCK_TWO, NULL, 0, BASE);
	renders_to(BASE BEGIN "0.0.0.0 cut.example", NULL, 0, BASE);
	/* The markers without a final newline are markers still. */
	renders_to(BASE BEGIN BLOCK_ONE "# END airlock", NULL, 0, BASE);
}

/* A file whose last line had no newline: one is added before the block
 * and said so in the marker; removal gives back the very bytes. */
static void test_no_final_newline(void **state)
{
	static const char orig[] = "127.0.0.1 localhost\n10.0.0.5 db";
	(void)state;

	char *added = render(orig, two, 2);
	assert_string_equal(added, "127.0.0.1 localhost\n10.0.0.5 db\n" BEGIN_NL BLOCK_TWO END);
	/* Replaced: still marked, still reversible. */
	char *replaced = render(added, one, 1);
	assert_string_equal(replaced, "127.0.0.1 localhost\n10.0.0.5 db\n" BEGIN_NL BLOCK_ONE END);
	char *removed = render(replaced, NULL, 0);
	assert_string_equal(removed, orig);
	char *removed2 = render(added, NULL, 0);
	assert_string_equal(removed2, orig);
	free(added);
	free(replaced);
	free(removed);
	free(removed2);

	/* One line, no newline at all. */
	renders_to("10.0.0.5 db", one, 1, "10.0.0.5 db\n" BEGIN_NL BLOCK_ONE END);
	renders_to("10.0.0.5 db\n" BEGIN_NL BLOCK_ONE END, NULL, 0, "10.0.0.5 db");
	/* A plain marker does not take the file's own last newline. */
	renders_to("10.0.0.5 db\n" BEGIN BLOCK_ONE END, NULL, 0, "10.0.0.5 db\n");
}

/* A block with lines after it (an administrator's, appended later): the
 * block goes, their lines stay as they are, and a new block goes last. */
static void test_block_in_the_middle(void **state)
{
	(void)state;
	renders_to(BASE BEGIN BLOCK_TWO END "10.0.0.9 added.later\n", NULL, 0,
	           BASE "10.0.0.9 added.later\n");
	renders_to(BASE BEGIN BLOCK_TWO END "10.0.0.9 added.later\n", one, 1,
	           BASE "10.0.0.9 added.later\n" BEGIN BLOCK_ONE END);
	renders_to(BEGIN BLOCK_TWO END BASE, NULL, 0, BASE);
	/* Lines after the block without a final newline: kept without one. */
	renders_to(BASE BEGIN BLOCK_TWO END "10.0.0.9 x", NULL, 0, BASE "10.0.0.9 x");
	/* The newline a "+newline" block added now ends a line that is no
	 * longer the last: it stays, so that two lines are not joined into
	 * one ("10.0.0.5 db10.0.0.9 x" would be a wrong entry). */
	renders_to("10.0.0.5 db\n" BEGIN_NL BLOCK_ONE END "10.0.0.9 x\n", NULL, 0,
	           "10.0.0.5 db\n10.0.0.9 x\n");
	renders_to("10.0.0.5 db\n" BEGIN_NL BLOCK_ONE END "10.0.0.9 x\n", two, 2,
	           "10.0.0.5 db\n10.0.0.9 x\n" BEGIN BLOCK_TWO END);
	/* Two blocks, the first with "+newline", nothing after: given back. */
	renders_to("10.0.0.5 db\n" BEGIN_NL BLOCK_ONE END BEGIN BLOCK_TWO END, NULL, 0,
	           "10.0.0.5 db");
}

/* Removing is idempotent whatever the input: a removal leaves no marker
 * line behind, not even one made by joining two lines. */
static void test_removal_leaves_no_marker(void **state)
{
	static const char tricky[] =
	        "# BEGIN airlock: managed by `airlock apply`, removed by\n" BEGIN_NL END
	        " --remove\n";
	(void)state;

	char *once = render(tricky, NULL, 0);
	char *twice = render(once, NULL, 0);
	assert_string_equal(once, twice);
	assert_string_equal(once, "# BEGIN airlock: managed by `airlock apply`, removed by\n"
	                          " --remove\n");
	free(once);
	free(twice);
}

/* Lines that only look like markers are the file's own. */
static void test_near_markers_kept(void **state)
{
	static const char *const kept[] = {
	        "# BEGIN airlock\n0.0.0.0 x.example\n# END airlock\n",
	        "# BEGIN airlock: managed by `airlock apply`, removed by --remove \n",
	        ("# BEGIN airlock: managed by `airlock apply`, removed by --remove\r\n"
	         "0.0.0.0 x.example\r\n# END airlock\r\n"),
	        " # BEGIN airlock: managed by `airlock apply`, removed by --remove\n",
	        "# END airlock\n127.0.0.1 localhost\n",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++)
		renders_to(kept[i], NULL, 0, kept[i]);
}

static void test_names_refused(void **state)
{
	static const char *const bad[] = {
	        "",         "a b.example", "a\tb.example", "a\nb.example", "a.example\r",
	        "#comment", "a.example#x", " a.example"};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *names[] = {"ok.example", bad[i]};
		char *out = (char *)0x1;
		size_t len = 77;
		struct diag d = {""};
		assert_int_equal(hosts_render(BASE, strlen(BASE), names, 2, &out, &len, &d),
		                 -EINVAL);
		assert_string_equal(d.msg, "a name with a blank cannot go in /etc/hosts");
		/* Nothing handed out. */
		assert_ptr_equal(out, (char *)0x1);
		assert_int_equal(len, 77);
		assert_int_equal(hosts_render(BASE, strlen(BASE), names, 2, &out, &len, NULL),
		                 -EINVAL);
	}
}

/* n == 0 on a file without a block: the same bytes, whatever they are. */
static void test_no_block_same_bytes(void **state)
{
	static const char *const files[] = {
	        "",
	        "\n",
	        BASE,
	        "127.0.0.1 localhost",
	        "a\r\nb\r\n",
	        "\n\n\n# comment only\n",
	        "0.0.0.0 x.example\n:: x.example\n",
	};
	static const char with_nul[] = "127.0.0.1 a\0b\n\xff\xfe odd bytes";
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		renders_to(files[i], NULL, 0, files[i]);
	size_t len;
	char *out = render_n(with_nul, sizeof(with_nul) - 1, NULL, 0, &len);
	assert_int_equal(len, sizeof(with_nul) - 1);
	assert_memory_equal(out, with_nul, len);
	free(out);
}

/* Many names: the buffer is sized for them. */
static void test_many_names(void **state)
{
	enum { N = 500 };
	static char storage[N][64];
	const char *names[N];
	(void)state;

	for (size_t i = 0; i < N; i++) {
		snprintf(storage[i], sizeof(storage[i]), "host-%zu.a-rather-long-domain.example",
		         i);
		names[i] = storage[i];
	}
	char *out = render("x", names, N);
	size_t lines = 0;
	for (const char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 1 + 1 + 2 * N + 1);
	char *back = render(out, NULL, 0);
	assert_string_equal(back, "x");
	free(out);
	free(back);
}

/* ---- hosts_apply and hosts_remove on a file ---- */

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/airlock-hosts-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/hosts", dir);
	return 0;
}

static int teardown(void **state)
{
	char other[160];
	(void)state;
	unlink(path);
	snprintf(other, sizeof(other), "%s/target", dir);
	unlink(other);
	return rmdir(dir);
}

static void write_file(const char *p, const char *text)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void assert_file(const char *p, const char *want)
{
	char *text = NULL;
	size_t len;
	struct diag d;
	if (file_read_all(p, 1024 * 1024, &text, &len, &d) < 0)
		fail_msg("%s", d.msg);
	if (len != strlen(want) || memcmp(text, want, len) != 0) {
		print_error("file:\n[%s]\nwanted:\n[%s]\n", text, want);
		free(text);
		fail_msg("%s differs", p);
	}
	free(text);
}

/* A policy of `rules` ("block x", "allow y"). */
static struct policy *policy_of(const char *const *rules, size_t n)
{
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct diag d;
	uint32_t origin;

	assert_non_null(b);
	assert_int_equal(policy_builder_origin(b, "test", &origin), 0);
	for (size_t i = 0; i < n; i++) {
		struct rule r;
		bool block = strncmp(rules[i], "block ", 6) == 0;
		const char *text = rules[i] + 6;
		assert_true(block || strncmp(rules[i], "allow ", 6) == 0);
		if (rule_parse(text, strlen(text), &r, &d) < 0)
			fail_msg("%s: %s", text, d.msg);
		assert_int_equal(policy_builder_add(b, block ? ACTION_BLOCK : ACTION_ALLOW, &r,
		                                    origin, (uint32_t)i + 1),
		                 0);
	}
	if (policy_compile(b, &p, &d) < 0)
		fail_msg("policy_compile: %s", d.msg);
	return p;
}

static const char *const mixed[] = {
        "block tracker.example",      /* exact: in */
        "block .ads.example",         /* the name and below: the name is in */
        "block *.wild.example",       /* below only: cannot be written */
        "block ports.example:443",    /* one port: not the whole name */
        "block range.example:1-1024", /* a range: not either */
        "block 192.0.2.0/24",         /* an address range */
        "block 2001:db8::/32",        /* nor an IPv6 one */
        "allow allowed.example",      /* allowed */
        "allow .open.example",        /* allowed */
        "block Mixed.CASE.Example.",  /* canonical form in the file */
};

#define MIXED_BLOCK                                                                                \
	"0.0.0.0 tracker.example\n:: tracker.example\n0.0.0.0 ads.example\n:: ads.example\n"       \
	"0.0.0.0 mixed.case.example\n:: mixed.case.example\n"

static void test_apply_and_remove(void **state)
{
	static const char orig[] = "127.0.0.1 localhost\n::1 localhost";
	struct policy *p = policy_of(mixed, ARRAY_SIZE(mixed));
	struct diag d = {""};
	struct stat before, after;
	(void)state;

	write_file(path, orig);
	assert_int_equal(stat(path, &before), 0);
	if (hosts_apply(path, p, &d) < 0)
		fail_msg("hosts_apply: %s", d.msg);
	assert_file(path, "127.0.0.1 localhost\n::1 localhost\n" BEGIN_NL MIXED_BLOCK END);
	/* Rewritten in place (a bind mount cannot be replaced): same inode. */
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);

	/* Again: the same bytes, and not even a write. */
	assert_int_equal(hosts_apply(path, p, &d), 0);
	assert_file(path, "127.0.0.1 localhost\n::1 localhost\n" BEGIN_NL MIXED_BLOCK END);
	struct stat again;
	assert_int_equal(stat(path, &again), 0);
	assert_int_equal(again.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(again.st_mtim.tv_nsec, after.st_mtim.tv_nsec);

	/* Removed: the original bytes, same inode; removing again is nothing. */
	assert_int_equal(hosts_remove(path, &d), 0);
	assert_file(path, orig);
	assert_int_equal(hosts_remove(path, &d), 0);
	assert_file(path, orig);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	policy_unref(p);
}

/* A policy with nothing to sinkhole takes an old block out. */
static void test_apply_nothing_to_write(void **state)
{
	static const char *const none[] = {"block *.wild.example", "block x.example:80",
	                                   "allow y.example", "block 10.0.0.0/8"};
	struct policy *old = policy_of(mixed, ARRAY_SIZE(mixed));
	struct policy *p = policy_of(none, ARRAY_SIZE(none));
	struct policy *empty = policy_of(NULL, 0);
	struct diag d = {""};
	(void)state;

	write_file(path, BASE);
	assert_int_equal(hosts_apply(path, old, &d), 0);
	assert_file(path, BASE BEGIN MIXED_BLOCK END);
	assert_int_equal(hosts_apply(path, p, &d), 0);
	assert_file(path, BASE);
	assert_int_equal(hosts_apply(path, empty, &d), 0);
	assert_file(path, BASE);
	policy_unref(old);
	policy_unref(p);
	policy_unref(empty);
}

/* A new policy replaces the block of the old one. */
static void test_apply_replaces(void **state)
{
	static const char *const first[] = {"block a.example", "block b.example"};
	static const char *const second[] = {"block c.example"};
	struct policy *p1 = policy_of(first, ARRAY_SIZE(first));
	struct policy *p2 = policy_of(second, ARRAY_SIZE(second));
	struct diag d = {""};
	(void)state;

	write_file(path, BASE "10.1.1.1 kept.local\n");
	assert_int_equal(hosts_apply(path, p1, &d), 0);
	assert_file(path, BASE "10.1.1.1 kept.local\n" BEGIN "0.0.0.0 a.example\n:: a.example\n"
	                       "0.0.0.0 b.example\n:: b.example\n" END);
	assert_int_equal(hosts_apply(path, p2, &d), 0);
	assert_file(path,
	            BASE "10.1.1.1 kept.local\n" BEGIN "0.0.0.0 c.example\n:: c.example\n" END);
	assert_int_equal(hosts_remove(path, &d), 0);
	assert_file(path, BASE "10.1.1.1 kept.local\n");
	policy_unref(p1);
	policy_unref(p2);
}

static void test_missing_file(void **state)
{
	static const char *const rules[] = {"block a.example"};
	struct policy *p = policy_of(rules, 1);
	struct policy *empty = policy_of(NULL, 0);
	struct diag d = {""};
	(void)state;

	unlink(path);
	/* Nothing to remove from a file that is not there. */
	assert_int_equal(hosts_remove(path, &d), 0);
	assert_int_equal(hosts_apply(path, empty, &d), 0);
	assert_int_equal(access(path, F_OK), -1);
	/* Names to write, but no file: an error naming it (none is created). */
	assert_int_equal(hosts_apply(path, p, &d), -ENOENT);
	assert_non_null(strstr(d.msg, path));
	assert_int_equal(access(path, F_OK), -1);
	policy_unref(p);
	policy_unref(empty);
}

/* The file is never written through a symbolic link. */
static void test_symlink_not_followed(void **state)
{
	static const char *const rules[] = {"block a.example"};
	struct policy *p = policy_of(rules, 1);
	struct diag d = {""};
	char target[160];
	(void)state;

	snprintf(target, sizeof(target), "%s/target", dir);
	write_file(target, BASE);
	unlink(path);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(hosts_apply(path, p, &d), -ELOOP);
	assert_non_null(strstr(d.msg, "cannot write"));
	assert_file(target, BASE);
	unlink(path);
	policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_add_block),
	        cmocka_unit_test(test_replace_block),
	        cmocka_unit_test(test_remove_block),
	        cmocka_unit_test(test_no_final_newline),
	        cmocka_unit_test(test_block_in_the_middle),
	        cmocka_unit_test(test_removal_leaves_no_marker),
	        cmocka_unit_test(test_near_markers_kept),
	        cmocka_unit_test(test_names_refused),
	        cmocka_unit_test(test_no_block_same_bytes),
	        cmocka_unit_test(test_many_names),
	        cmocka_unit_test(test_apply_and_remove),
	        cmocka_unit_test(test_apply_nothing_to_write),
	        cmocka_unit_test(test_apply_replaces),
	        cmocka_unit_test(test_missing_file),
	        cmocka_unit_test(test_symlink_not_followed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
