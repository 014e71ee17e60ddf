/* Rendering audit records: columns, colour, filters, the summary, follow. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "log/render.h"

#define T_2026 INT64_C(1795428902123) /* 2026-11-23T10:15:02.123Z */

static struct audit_record recs[6];

static void make_records(void)
{
	struct audit_record *r = recs;

	audit_record_init(r, AUDIT_EVENT_DECISION, AUDIT_PROTO_TLS);
	r->time_ms = T_2026;
	AUDIT_SET(r, sandbox, "agent");
	audit_set_name(r, "api.github.com", 14);
	r->port = 443;
	r->verdict = AUDIT_VERDICT_ALLOW;
	AUDIT_SET(r, rule, "*.github.com");
	AUDIT_SET(r, origin, "built-in standard.conf:17");

	audit_record_init(++r, AUDIT_EVENT_DECISION, AUDIT_PROTO_DNS);
	r->time_ms = T_2026 + 1000;
	AUDIT_SET(r, sandbox, "agent");
	audit_set_name(r, "ads.example", 11);
	AUDIT_SET(r, qtype, "AAAA");
	r->verdict = AUDIT_VERDICT_BLOCK;
	AUDIT_SET(r, origin, "default");

	audit_record_init(++r, AUDIT_EVENT_CLOSE, AUDIT_PROTO_TLS);
	r->time_ms = T_2026 + 7000;
	AUDIT_SET(r, sandbox, "agent");
	audit_set_name(r, "api.github.com", 14);
	r->port = 443;
	r->bytes_up = 1234;
	r->bytes_down = 34816;
	r->duration_ms = 1500;

	audit_record_init(++r, AUDIT_EVENT_DECISION, AUDIT_PROTO_CONNECT);
	r->time_ms = T_2026 + 61000;
	AUDIT_SET(r, sandbox, "ci");
	AUDIT_SET(r, address, "2001:db8::1");
	r->port = 22;
	r->verdict = AUDIT_VERDICT_BLOCK;
	AUDIT_SET(r, rule, "[2001:db8::/32]:22");
	AUDIT_SET(r, origin, "command line");

	audit_record_init(++r, AUDIT_EVENT_NOTE, AUDIT_PROTO_NONE);
	r->time_ms = T_2026 + 62000;
	AUDIT_SET(r, detail, "3 records dropped: log writer backlog");

	audit_record_init(++r, AUDIT_EVENT_DECISION, AUDIT_PROTO_HTTP);
	r->time_ms = T_2026 + 3600000;
	AUDIT_SET(r, sandbox, "ci");
	audit_set_name(r, "x\x1b[2J\\\xc3\xa9", 8);
	r->port = 80;
	r->verdict = AUDIT_VERDICT_BLOCK;
	AUDIT_SET(r, origin, "default");
	AUDIT_SET(r, detail, "name refused: \\x1b");
}

static int setup(void **state)
{
	(void)state;
	/* One hour east of UTC, so local time is visibly not UTC. */
	setenv("TZ", "XYZ-1", 1);
	tzset();
	make_records();
	return 0;
}

/* Render with `o` into a string (owned by the caller). */
static char *render(const struct render_options *o, const struct audit_record *r, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	render_records(f, o, r, n);
	fclose(f);
	return buf;
}

static void test_columns_golden(void **state)
{
	struct render_options o = {0};
	(void)state;

	char *out = render(&o, recs, ARRAY_SIZE(recs));
	/* One row a line, as on a terminal. */
	/* clang-format off */
	assert_string_equal(
	        out,
	        "11:15:02  allow  tls      api.github.com:443     *.github.com (built-in standard.conf:17)\n"
	        "11:15:03  block  dns      ads.example AAAA       default\n"
	        "11:15:09  close  tls      api.github.com:443                                               up 1.2KiB down 34.0KiB 1.5s\n"
	        "11:16:03  block  connect  [2001:db8::1]:22       [2001:db8::/32]:22 (command line)\n"
	        "11:16:04  note   -                                                                         3 records dropped: log writer backlog\n"
	        "12:15:02  block  http     x\\x1b[2J\\\\\\xc3\\xa9:80  default                                   name refused: \\\\x1b\n");
	/* clang-format on */
	free(out);
}

static void test_time_modes(void **state)
{
	struct render_options o = {.time = RENDER_TIME_UTC};
	(void)state;

	char *out = render(&o, recs, 1);
	assert_string_equal(out, "2026-11-23T10:15:02.123Z  allow  tls      api.github.com:443  "
	                         "*.github.com (built-in standard.conf:17)\n");
	free(out);
	o.time = RENDER_TIME_FULL;
	out = render(&o, recs, 1);
	assert_string_equal(out, "2026-11-23 11:15:02.123  allow  tls      api.github.com:443  "
	                         "*.github.com (built-in standard.conf:17)\n");
	free(out);
}

static void test_colour(void **state)
{
	struct render_options o = {.color = true};
	(void)state;

	char *out = render(&o, recs, 4);
	/* One row a line, as on a terminal. */
	/* clang-format off */
	assert_string_equal(
	        out,
	        "11:15:02  \033[32mallow\033[0m  tls      api.github.com:443  *.github.com (built-in standard.conf:17)\n"
	        "11:15:03  \033[31mblock\033[0m  dns      ads.example AAAA    default\n"
	        "11:15:09  close  tls      api.github.com:443                                            up 1.2KiB down 34.0KiB 1.5s\n"
	        "11:16:03  \033[31mblock\033[0m  connect  [2001:db8::1]:22    [2001:db8::/32]:22 (command line)\n");
	/* clang-format on */
	free(out);

	o.color = false;
	out = render(&o, recs, ARRAY_SIZE(recs));
	assert_null(strchr(out, '\033'));
	free(out);
}

static void test_blocked_filter(void **state)
{
	struct render_options o = {.blocked_only = true};
	(void)state;

	char *out = render(&o, recs, ARRAY_SIZE(recs));
	/* Widths fit what is shown; the log-wide note is always shown. */
	/* One row a line, as on a terminal. */
	/* clang-format off */
	assert_string_equal(
	        out,
	        "11:15:03  block  dns      ads.example AAAA       default\n"
	        "11:16:03  block  connect  [2001:db8::1]:22       [2001:db8::/32]:22 (command line)\n"
	        "11:16:04  note   -                                                                  3 records dropped: log writer backlog\n"
	        "12:15:02  block  http     x\\x1b[2J\\\\\\xc3\\xa9:80  default                            name refused: \\\\x1b\n");
	/* clang-format on */
	free(out);
}

static void test_sandbox_filter(void **state)
{
	struct render_options o = {.sandbox = "agent", .show_sandbox = true};
	(void)state;

	char *out = render(&o, recs, ARRAY_SIZE(recs));
	/* One row a line, as on a terminal. */
	/* clang-format off */
	assert_string_equal(
	        out,
	        "11:15:02  allow  tls      agent  api.github.com:443  *.github.com (built-in standard.conf:17)\n"
	        "11:15:03  block  dns      agent  ads.example AAAA    default\n"
	        "11:15:09  close  tls      agent  api.github.com:443                                            up 1.2KiB down 34.0KiB 1.5s\n"
	        "11:16:04  note   -                                                                             3 records dropped: log writer backlog\n");
	/* clang-format on */
	free(out);

	o.sandbox = "ci";
	o.blocked_only = true;
	assert_false(render_match(&o, &recs[0]));
	assert_true(render_match(&o, &recs[3]));
	assert_true(render_match(&o, &recs[4]));
	o.sandbox = "nobody";
	out = render(&o, recs, 4);
	assert_string_equal(out, "");
	free(out);

	/* A note about one sandbox is filtered like its records. */
	struct audit_record note = recs[4];
	AUDIT_SET(&note, sandbox, "agent");
	assert_false(render_match(&o, &note));
}

static void test_stream_widths(void **state)
{
	struct render_options o = {0};
	struct render_widths w;
	char *buf = NULL;
	size_t len = 0;
	(void)state;

	render_widths_init(&w, true);
	FILE *f = open_memstream(&buf, &len);
	render_record(f, &o, &w, &recs[1]);
	render_record(f, &o, &w, &recs[4]);
	fclose(f);
	/* One row a line, as on a terminal. */
	/* clang-format off */
	assert_string_equal(
	        buf,
	        "11:15:03  block  dns      ads.example AAAA                  default\n"
	        "11:16:04  note   -                                                                            3 records dropped: log writer backlog\n");
	/* clang-format on */
	free(buf);
}

static void test_escape(void **state)
{
	char out[64];
	(void)state;

	assert_int_equal(render_escape("a\\b\x1b\x7f\xc3\xa9 ~\0", 10, out, sizeof(out)), 26);
	assert_string_equal(out, "a\\\\b\\x1b\\x7f\\xc3\\xa9 ~\\x00");
	/* Cut between escapes, never inside one. */
	assert_int_equal(render_escape("ab\x1b", 3, out, 5), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(render_escape("ab\x1b", 3, out, 7), 6);
	assert_int_equal(render_escape("x", 1, out, 0), 0);
}

static void add_blocked(struct render_summary *s, const char *name, const char *addr, int n)
{
	struct audit_record r;
	audit_record_init(&r, AUDIT_EVENT_DECISION, AUDIT_PROTO_DNS);
	r.verdict = AUDIT_VERDICT_BLOCK;
	audit_set_name(&r, name, strlen(name));
	AUDIT_SET(&r, address, "%s", addr);
	for (int i = 0; i < n; i++)
		assert_int_equal(render_summary_add(s, &r), 0);
}

static void test_summary(void **state)
{
	struct render_summary *s = render_summary_new(0);
	struct render_count top[10];
	struct render_totals t;
	(void)state;

	assert_non_null(s);
	add_blocked(s, "c.example", "", 2);
	add_blocked(s, "tracker.example", "", 5);
	add_blocked(s, "b.example", "", 2);
	add_blocked(s, "", "192.0.2.1", 1);
	add_blocked(s, "ab.example", "", 2);
	add_blocked(s, "zz.example", "", 12);
	for (size_t i = 0; i < ARRAY_SIZE(recs); i++)
		assert_int_equal(render_summary_add(s, &recs[i]), 0);

	render_summary_totals(s, &t);
	assert_int_equal(t.allowed, 1);
	assert_int_equal(t.blocked, 2 + 5 + 2 + 1 + 2 + 12 + 3);
	assert_int_equal(t.names, 9);
	assert_int_equal(t.untracked, 0);

	/* Most first; ties in byte order of the names. */
	assert_int_equal(render_summary_top(s, top, 4), 4);
	assert_string_equal(top[0].name, "zz.example");
	assert_int_equal(top[0].count, 12);
	assert_string_equal(top[1].name, "tracker.example");
	assert_string_equal(top[2].name, "ab.example");
	assert_int_equal(top[2].count, 2);
	assert_string_equal(top[3].name, "b.example");

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	render_summary_print(f, s, 10);
	fclose(f);
	assert_string_equal(buf, "allowed   1\n"
	                         "blocked  27\n"
	                         "most blocked:\n"
	                         "  12  zz.example\n"
	                         "   5  tracker.example\n"
	                         "   2  ab.example\n"
	                         "   2  b.example\n"
	                         "   2  c.example\n"
	                         "   1  192.0.2.1\n"
	                         "   1  2001:db8::1\n"
	                         "   1  ads.example\n"
	                         "   1  x\\x1b[2J\\\\\\xc3\\xa9\n");
	free(buf);
	render_summary_free(s);
}

static void test_summary_is_bounded(void **state)
{
	struct render_summary *s = render_summary_new(3);
	struct render_count top[10];
	struct render_totals t;
	char name[32];
	(void)state;

	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		add_blocked(s, name, "", 1);
	}
	add_blocked(s, "n1.example", "", 4); /* tracked: counts on */
	render_summary_totals(s, &t);
	assert_int_equal(t.names, 3);
	assert_int_equal(t.blocked, 1004);
	assert_int_equal(t.untracked, 997);
	assert_int_equal(render_summary_top(s, top, 10), 3);
	assert_string_equal(top[0].name, "n1.example");
	assert_int_equal(top[0].count, 5);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	render_summary_print(f, s, 10);
	fclose(f);
	assert_non_null(strstr(buf, "(997 blocked decisions were for names past the first 3"));
	free(buf);
	render_summary_free(s);

	/* Many names: the table grows and keeps every count. */
	s = render_summary_new(0);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "m%d.example", i);
		add_blocked(s, name, "", 1 + (i == 4321) * 9);
	}
	render_summary_totals(s, &t);
	assert_int_equal(t.names, 5000);
	assert_int_equal(render_summary_top(s, top, 1), 1);
	assert_string_equal(top[0].name, "m4321.example");
	assert_int_equal(top[0].count, 10);
	render_summary_free(s);
}

/* ---- follow ---- */

static char dir[] = "/tmp/airlock-render-test-XXXXXX";

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void append(const char *p, const char *text)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void expect_read(struct render_follow *f, size_t size, const char *want)
{
	char buf[256];
	size_t len = 99;
	struct diag d;
	assert_true(size <= sizeof(buf));
	assert_int_equal(render_follow_read(f, buf, size, &len, &d), 0);
	buf[len] = '\0';
	assert_string_equal(buf, want);
}

static void test_follow(void **state)
{
	struct render_follow f;
	char path[PATH_MAX], old[PATH_MAX + 8];
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(old, sizeof(old), "%s.1", path);

	/* Not there yet: nothing, no error. */
	assert_int_equal(render_follow_open(&f, path, 0, NULL), 0);
	expect_read(&f, 256, "");

	/* A partial last line waits for its end. */
	append(path, "a\nb");
	expect_read(&f, 256, "a\n");
	expect_read(&f, 256, "");
	append(path, "c\nd\n");
	expect_read(&f, 256, "bc\nd\n");
	expect_read(&f, 256, "");

	/* Rotation: the old file's last lines first, then the new file. */
	append(path, "e\n");
	assert_int_equal(rename(path, old), 0);
	expect_read(&f, 256, "e\n");
	expect_read(&f, 256, ""); /* between the rename and the reopen */
	append(path, "f\n");
	expect_read(&f, 256, "f\n");
	append(path, "g\n");
	expect_read(&f, 256, "g\n");

	/* Truncation: from the start again. */
	assert_int_equal(truncate(path, 0), 0);
	expect_read(&f, 256, "");
	append(path, "h\n");
	expect_read(&f, 256, "h\n");

	/* A line longer than the buffer comes in pieces. */
	append(path, "0123456789\nxy\n");
	expect_read(&f, 8, "01234567");
	expect_read(&f, 8, "89\nxy\n");
	render_follow_close(&f);

	/* Starting at an offset. */
	assert_int_equal(render_follow_open(&f, path, 2, NULL), 0);
	expect_read(&f, 256, "0123456789\nxy\n");
	render_follow_close(&f);

	assert_int_equal(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_columns_golden),
	        cmocka_unit_test(test_time_modes),
	        cmocka_unit_test(test_colour),
	        cmocka_unit_test(test_blocked_filter),
	        cmocka_unit_test(test_sandbox_filter),
	        cmocka_unit_test(test_stream_widths),
	        cmocka_unit_test(test_escape),
	        cmocka_unit_test(test_summary),
	        cmocka_unit_test(test_summary_is_bounded),
	        cmocka_unit_test(test_follow),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
