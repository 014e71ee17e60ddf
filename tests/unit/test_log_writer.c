/* The audit log writer: exact lines, rotation, drops and their notes, write
 * errors and recovery, close. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "log/writer.h"
#include "util/file.h"

static char dir[] = "/tmp/airlock-log-test-XXXXXX";
static char path[PATH_MAX];

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- a write function the test controls ---- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_closed;
	atomic_int fail_errno; /* 0: write for real */
	atomic_int calls;
} ctl = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0};

static ssize_t controlled_write(int fd, const void *buf, size_t len, void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&ctl.calls, 1);
	pthread_mutex_lock(&ctl.lock);
	while (ctl.gate_closed)
		pthread_cond_wait(&ctl.cond, &ctl.lock);
	pthread_mutex_unlock(&ctl.lock);
	int e = atomic_load(&ctl.fail_errno);
	if (e) {
		errno = e;
		return -1;
	}
	return write(fd, buf, len);
}

static void gate(bool closed)
{
	pthread_mutex_lock(&ctl.lock);
	ctl.gate_closed = closed;
	pthread_cond_broadcast(&ctl.cond);
	pthread_mutex_unlock(&ctl.lock);
}

/* Each test starts with an empty directory and `path` in it. */
static int per_test(void **state)
{
	(void)state;
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	if (mkdir(dir, 0700) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	gate(false);
	atomic_store(&ctl.fail_errno, 0);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* A record that says its sequence number, padded to about `pad` bytes. */
static void make(struct audit_record *r, int seq, int pad)
{
	static const char filler[] =
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	char name[64];

	audit_record_init(r, AUDIT_EVENT_DECISION, AUDIT_PROTO_DNS);
	r->time_ms = INT64_C(1795428902123) + seq;
	AUDIT_SET(r, sandbox, "agent");
	int n = snprintf(name, sizeof(name), "host-%d.example", seq);
	audit_set_name(r, name, (size_t)n);
	r->verdict = AUDIT_VERDICT_BLOCK;
	AUDIT_SET(r, origin, "default");
	AUDIT_SET(r, detail, "seq %d %.*s", seq, pad, filler);
}

static char *slurp(const char *p, size_t *len)
{
	char *buf = NULL;
	struct diag d;
	size_t n;
	if (file_read_all(p, 64 * 1024 * 1024, &buf, &n, &d) < 0)
		fail_msg("%s", d.msg);
	if (len)
		*len = n;
	return buf;
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Decode every line of a file, checking each is whole; returns the count and
 * fills seqs[] with each record's sequence number (-1 for a note). */
static size_t read_records(const char *p, int *seqs, size_t max, char notes[][AUDIT_DETAIL_SIZE],
                           size_t *n_notes)
{
	size_t len, count = 0, nn = 0;
	char *buf = slurp(p, &len);
	char *s = buf;
	struct diag d;

	if (len)
		assert_int_equal(buf[len - 1], '\n'); /* never a partial record */
	while (s < buf + len) {
		char *nl = memchr(s, '\n', (size_t)(buf + len - s));
		struct audit_record r;
		assert_non_null(nl);
		if (audit_decode(s, (size_t)(nl - s), count + 1, &r, &d) < 0)
			fail_msg("%s: %s", p, d.msg);
		assert_true(count < max);
		if (r.event == AUDIT_EVENT_NOTE) {
			seqs[count] = -1;
			if (notes)
				memcpy(notes[nn], r.detail, sizeof(r.detail));
			nn++;
		} else {
			assert_int_equal(sscanf(r.detail, "seq %d", &seqs[count]), 1);
		}
		count++;
		s = nl + 1;
	}
	free(buf);
	if (n_notes)
		*n_notes = nn;
	return count;
}

static void test_append_flush_exact_lines(void **state)
{
	struct log_writer *w = NULL;
	struct log_writer_stats st;
	struct audit_record r;
	char expect[3 * AUDIT_LINE_MAX], one[AUDIT_LINE_MAX];
	size_t elen = 0;
	struct diag d;
	(void)state;

	assert_int_equal(log_writer_open(path, 0, 0, &w, &d), 0);
	for (int i = 0; i < 3; i++) {
		make(&r, i, 10);
		if (i == 1)
			audit_set_name(&r, "bad\0\"name\xff", 10);
		int n = audit_encode(&r, one, sizeof(one));
		memcpy(expect + elen, one, (size_t)n);
		elen += (size_t)n;
		assert_int_equal(log_writer_append(w, &r), 0);
	}
	assert_int_equal(log_writer_flush(w), 0);
	size_t len;
	char *got = slurp(path, &len);
	assert_int_equal(len, elen);
	assert_memory_equal(got, expect, elen);
	free(got);

	log_writer_stats(w, &st);
	assert_int_equal(st.records, 3);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.bytes_written, elen);
	assert_int_equal(st.queued_bytes, 0);
	assert_int_equal(log_writer_close(w, NULL), 0);

	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
}

static void test_close_flushes(void **state)
{
	struct log_writer *w = NULL;
	struct log_writer_stats st;
	struct audit_record r;
	static int seqs[2000];
	(void)state;

	assert_int_equal(log_writer_open(path, 0, 0, &w, NULL), 0);
	for (int i = 0; i < 1000; i++) {
		make(&r, i, 100);
		assert_int_equal(log_writer_append(w, &r), 0);
	}
	assert_int_equal(log_writer_close(w, &st), 0); /* no flush first */
	assert_int_equal(st.records, 1000);
	assert_int_equal(st.lost_at_close, 0);
	assert_int_equal(read_records(path, seqs, 2000, NULL, NULL), 1000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(seqs[i], i);
}

/* Rotation: path.2, path.1 and path hold the newest records, in order,
 * each file ending at a record boundary, and nothing older survives. */
static void check_rotation(const struct log_writer_options *o, int total)
{
	struct log_writer *w = NULL;
	struct log_writer_stats st;
	struct audit_record r;
	char p1[PATH_MAX + 8], p2[PATH_MAX + 8], p3[PATH_MAX + 8];
	static int seqs[3][1000];
	size_t n[3];
	struct stat sb;

	assert_int_equal(log_writer_open_with(path, o, &w, NULL), 0);
	for (int i = 0; i < total; i++) {
		make(&r, i, 100);
		assert_int_equal(log_writer_append(w, &r), 0);
	}
	assert_int_equal(log_writer_close(w, &st), 0);
	assert_true(st.rotations >= 3);

	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(p2, sizeof(p2), "%s.2", path);
	snprintf(p3, sizeof(p3), "%s.3", path);
	assert_true(exists(path));
	assert_false(exists(p3));
	n[2] = read_records(p2, seqs[2], 1000, NULL, NULL);
	n[1] = read_records(p1, seqs[1], 1000, NULL, NULL);
	n[0] = read_records(path, seqs[0], 1000, NULL, NULL);

	/* Rotated files reached max_bytes, and stopped at the record that did. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(stat(i ? p2 : p1, &sb), 0);
		assert_true((uint64_t)sb.st_size >= o->max_bytes);
		assert_true((uint64_t)sb.st_size < o->max_bytes + 300);
	}
	assert_int_equal(stat(path, &sb), 0);
	assert_true((uint64_t)sb.st_size < o->max_bytes);

	/* Contiguous, newest last, and the oldest are gone. */
	int expect = seqs[2][0];
	assert_true(expect > 0);
	for (int f = 2; f >= 0; f--)
		for (size_t i = 0; i < n[f]; i++)
			assert_int_equal(seqs[f][i], expect++);
	assert_int_equal(expect, total);
}

static void test_rotation(void **state)
{
	struct log_writer_options o = {.max_bytes = 2000, .keep_files = 2};
	(void)state;
	check_rotation(&o, 200);
}

static ssize_t short_write(int fd, const void *buf, size_t len, void *ctx)
{
	(void)ctx;
	return write(fd, buf, len < 7 ? len : 7);
}

static void test_rotation_with_short_writes(void **state)
{
	struct log_writer_options o = {.max_bytes = 2000, .keep_files = 2, .write_fn = short_write};
	(void)state;
	check_rotation(&o, 200);
}

static void test_rotation_keep_zero(void **state)
{
	struct log_writer_options o = {.max_bytes = 1000, .keep_files = 0};
	struct log_writer *w = NULL;
	struct audit_record r;
	char p1[PATH_MAX + 8];
	int seqs[100];
	(void)state;

	assert_int_equal(log_writer_open_with(path, &o, &w, NULL), 0);
	for (int i = 0; i < 50; i++) {
		make(&r, i, 100);
		assert_int_equal(log_writer_append(w, &r), 0);
	}
	assert_int_equal(log_writer_close(w, NULL), 0);
	snprintf(p1, sizeof(p1), "%s.1", path);
	assert_false(exists(p1));
	size_t n = read_records(path, seqs, 100, NULL, NULL);
	assert_true(n > 0 && n < 10);
	assert_int_equal(seqs[n - 1], 49);
}

static void test_rotation_failure_is_noted(void **state)
{
	struct log_writer_options o = {.max_bytes = 1000, .keep_files = 1, .retry_ms = 60000};
	struct log_writer *w = NULL;
	struct log_writer_stats st;
	struct audit_record r;
	char p1[PATH_MAX + 8], inner[PATH_MAX + 16];
	char notes[4][AUDIT_DETAIL_SIZE];
	int seqs[100];
	size_t nn;
	(void)state;

	/* path.1 is a directory with something in it: the rename must fail. */
	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(inner, sizeof(inner), "%s/x", p1);
	assert_int_equal(mkdir(p1, 0700), 0);
	int fd = open(inner, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(log_writer_open_with(path, &o, &w, NULL), 0);
	for (int i = 0; i < 30; i++) {
		make(&r, i, 100);
		assert_int_equal(log_writer_append(w, &r), 0);
	}
	assert_int_equal(log_writer_close(w, &st), 0);
	assert_int_equal(st.rotations, 0);
	assert_true(st.write_errors >= 1);
	size_t n = read_records(path, seqs, 100, notes, &nn);
	assert_int_equal(n, 31); /* everything, plus one note (retries are a minute apart) */
	assert_int_equal(nn, 1);
	assert_non_null(strstr(notes[0], "cannot rotate "));
	assert_non_null(strstr(notes[0], "audit.log: Is a directory"));
}

static void test_queue_full_drops_and_notes(void **state)
{
	struct log_writer_options o = {.queue_bytes = 1, /* raised to the minimum */
	                               .write_fn = controlled_write};
	struct log_writer *w = NULL;
	struct log_writer_stats st;
	struct audit_record r, big;
	char notes[4][AUDIT_DETAIL_SIZE], line[AUDIT_LINE_MAX], longname[1000];
	static int seqs[1000];
	int first = 0, second = 0, i = 0, dropped = 0, res;
	size_t nn;
	(void)state;

	make(&big, 9999, 400);
	memset(longname, 'n', sizeof(longname));
	audit_set_name(&big, longname, sizeof(longname));
	size_t big_len = (size_t)audit_encode(&big, line, sizeof(line));

	gate(true); /* the disk hangs */
	assert_int_equal(log_writer_open_with(path, &o, &w, NULL), 0);
	/* Fill until a big record no longer fits, but small ones would. */
	for (;;) {
		log_writer_stats(w, &st);
		if (LOG_WRITER_QUEUE_MIN - st.queued_bytes < big_len)
			break;
		make(&r, i++, 10);
		assert_int_equal(log_writer_append(w, &r), 0);
		first++;
	}
	assert_true(first > 200);
	assert_int_equal(log_writer_append(w, &big), -ENOBUFS);
	/* The next record that fits goes in behind a note on the gap. */
	make(&r, i++, 10);
	assert_int_equal(log_writer_append(w, &r), 0);
	/* Then fill up; after a drop nothing gets in until its note can. */
	while ((res = log_writer_append(w, (make(&r, i++, 10), &r))) == 0)
		second++;
	for (dropped = 1; dropped < 3; dropped++) {
		make(&r, i++, 10);
		assert_int_equal(log_writer_append(w, &r), -ENOBUFS);
	}
	log_writer_stats(w, &st);
	assert_int_equal(st.dropped, 4);
	assert_int_equal(st.notes, 1);
	assert_int_equal(st.records, first + 1 + second);

	gate(false);
	assert_int_equal(log_writer_flush(w), 0);
	make(&r, i, 10);
	assert_int_equal(log_writer_append(w, &r), 0);
	assert_int_equal(log_writer_close(w, &st), 0);
	assert_int_equal(st.notes, 2);

	size_t n = read_records(path, seqs, 1000, notes, &nn);
	assert_int_equal(n, (size_t)(first + 1 + second + 1 + 2));
	size_t k = 0;
	for (int s = 0; s < first; s++)
		assert_int_equal(seqs[k++], s);
	assert_int_equal(seqs[k++], -1); /* each note stands where its gap is */
	for (int s = first; s <= first + second; s++)
		assert_int_equal(seqs[k++], s);
	assert_int_equal(seqs[k++], -1);
	assert_int_equal(seqs[k++], i);
	assert_int_equal(nn, 2);
	assert_string_equal(notes[0], "1 record dropped: log writer backlog");
	assert_string_equal(notes[1], "3 records dropped: log writer backlog");
}

static void wait_for_error(struct log_writer *w, int err)
{
	struct log_writer_stats st;
	for (int i = 0; i < 5000; i++) {
		log_writer_stats(w, &st);
		if (st.error == err)
			return;
		sleep_ms(1);
	}
	fail_msg("the writer never reported error %d", err);
}

static int flush_until_ok(struct log_writer *w)
{
	int r = -1;
	for (int i = 0; i < 5000 && (r = log_writer_flush(w)) != 0; i++)
		sleep_ms(1);
	return r;
}

static void check_outage_note(const char *note, const char *prefix, int lost)
{
	char t1[64], t2[64];
	int64_t ms1, ms2;
	int n = -1;
	size_t plen = strlen(prefix);

	assert_true(strncmp(note, prefix, plen) == 0);
	assert_int_equal(sscanf(note + plen, "%d record%*s lost between %63s and %63s", &n, t1, t2),
	                 3);
	assert_int_equal(n, lost);
	assert_int_equal(audit_parse_time(t1, strlen(t1), &ms1), 0);
	assert_int_equal(audit_parse_time(t2, strlen(t2), &ms2), 0);
	assert_true(ms1 <= ms2);
	assert_true(ms2 <= audit_now_ms());
}

static void test_disk_full_keeps_records_and_notes(void **state)
{
	struct log_writer_options o = {
	        .queue_bytes = LOG_WRITER_QUEUE_MIN, .retry_ms = 5, .write_fn = controlled_write};
	struct log_writer *w = NULL;
	struct log_writer_stats st;
	struct audit_record r, big;
	char notes[4][AUDIT_DETAIL_SIZE], line[AUDIT_LINE_MAX], longname[1000];
	static int seqs[1000];
	int accepted = 0, dropped = 0, i;
	size_t nn;
	(void)state;

	make(&big, 9999, 400);
	memset(longname, 'n', sizeof(longname));
	audit_set_name(&big, longname, sizeof(longname));
	size_t big_len = (size_t)audit_encode(&big, line, sizeof(line));

	atomic_store(&ctl.fail_errno, ENOSPC);
	assert_int_equal(log_writer_open_with(path, &o, &w, NULL), 0);
	make(&r, 0, 10);
	assert_int_equal(log_writer_append(w, &r), 0);
	accepted = 1;
	wait_for_error(w, -ENOSPC);
	assert_int_equal(log_writer_flush(w), -ENOSPC); /* the records wait */
	for (i = 1;; i++) {
		log_writer_stats(w, &st);
		if (LOG_WRITER_QUEUE_MIN - st.queued_bytes < big_len)
			break;
		make(&r, i, 10);
		assert_int_equal(log_writer_append(w, &r), 0);
		accepted++;
	}
	assert_int_equal(log_writer_append(w, &big), -ENOBUFS);
	/* Small ones would fit, but the note on the gap cannot be written
	 * before the disk is back, and nothing may go in ahead of it. */
	for (dropped = 1; dropped < 7; dropped++, i++) {
		make(&r, i, 10);
		assert_int_equal(log_writer_append(w, &r), -ENOBUFS);
	}
	log_writer_stats(w, &st);
	assert_int_equal(st.error, -ENOSPC);
	assert_true(st.write_errors >= 1);
	assert_int_equal(st.bytes_written, 0);
	assert_int_equal(st.dropped, 7);

	atomic_store(&ctl.fail_errno, 0); /* space again */
	assert_int_equal(flush_until_ok(w), 0);
	make(&r, i, 10);
	assert_int_equal(log_writer_append(w, &r), 0);
	assert_int_equal(log_writer_close(w, &st), 0);
	assert_int_equal(st.error, 0);

	size_t n = read_records(path, seqs, 1000, notes, &nn);
	assert_int_equal(n, (size_t)accepted + 2);
	for (int k = 0; k < accepted; k++)
		assert_int_equal(seqs[k], k); /* kept through the outage */
	assert_int_equal(seqs[accepted], -1);
	assert_int_equal(nn, 1);
	check_outage_note(notes[0], "disk full: ", 7);
	assert_int_equal(seqs[accepted + 1], i);
}

static void test_write_error_without_loss_is_noted(void **state)
{
	struct log_writer_options o = {.retry_ms = 5, .write_fn = controlled_write};
	struct log_writer *w = NULL;
	struct audit_record r;
	char notes[4][AUDIT_DETAIL_SIZE];
	int seqs[10];
	size_t nn;
	(void)state;

	atomic_store(&ctl.fail_errno, EIO);
	assert_int_equal(log_writer_open_with(path, &o, &w, NULL), 0);
	make(&r, 0, 10);
	assert_int_equal(log_writer_append(w, &r), 0);
	wait_for_error(w, -EIO);
	make(&r, 1, 10);
	assert_int_equal(log_writer_append(w, &r), 0);
	atomic_store(&ctl.fail_errno, 0);
	assert_int_equal(flush_until_ok(w), 0);
	assert_int_equal(log_writer_close(w, NULL), 0);

	assert_int_equal(read_records(path, seqs, 10, notes, &nn), 3);
	assert_int_equal(seqs[0], 0);
	assert_int_equal(seqs[1], 1);
	assert_int_equal(seqs[2], -1);
	check_outage_note(notes[0], "write error (Input/output error): ", 0);
}

static void test_close_gives_up_on_dev_full(void **state)
{
	struct log_writer_options o = {.retry_ms = 5, .max_bytes = 10, .keep_files = 1};
	struct log_writer *w = NULL;
	struct log_writer_stats st;
	struct audit_record r;
	(void)state;

	if (!exists("/dev/full"))
		skip();
	/* A character device: written to, never rotated. */
	assert_int_equal(log_writer_open_with("/dev/full", &o, &w, NULL), 0);
	for (int i = 0; i < 3; i++) {
		make(&r, i, 10);
		assert_int_equal(log_writer_append(w, &r), 0);
	}
	assert_int_equal(log_writer_flush(w), -ENOSPC);
	assert_int_equal(log_writer_close(w, &st), -ENOSPC);
	assert_int_equal(st.lost_at_close, 3);
	assert_int_equal(st.rotations, 0);
	assert_true(exists("/dev/full"));
}

static void test_partial_last_line_is_finished(void **state)
{
	struct log_writer *w = NULL;
	struct audit_record r;
	char one[AUDIT_LINE_MAX];
	(void)state;

	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"time\":\"20", 11), 11); /* a crash mid-record */
	close(fd);

	assert_int_equal(log_writer_open(path, 0, 0, &w, NULL), 0);
	make(&r, 0, 10);
	int n = audit_encode(&r, one, sizeof(one));
	assert_int_equal(log_writer_append(w, &r), 0);
	assert_int_equal(log_writer_close(w, NULL), 0);
	size_t len;
	char *got = slurp(path, &len);
	assert_int_equal(len, 12 + (size_t)n);
	assert_memory_equal(got, "{\"time\":\"20\n", 12);
	assert_memory_equal(got + 12, one, (size_t)n);
	free(got);
}

static void test_open_errors(void **state)
{
	struct log_writer *w = NULL;
	struct diag d;
	char p[PATH_MAX + 16];
	(void)state;

	snprintf(p, sizeof(p), "%s/missing/audit.log", dir);
	assert_int_equal(log_writer_open(p, 0, 0, &w, &d), -ENOENT);
	assert_non_null(strstr(d.msg, "missing/audit.log"));
	assert_int_equal(log_writer_open(path, 100, LOG_WRITER_KEEP_MAX + 1, &w, &d), -EINVAL);
	assert_null(w);
	assert_int_equal(log_writer_close(NULL, NULL), 0);
}

struct appender {
	struct log_writer *w;
	int base;
};

static void *append_many(void *arg)
{
	struct appender *a = arg;
	struct audit_record r;
	for (int i = 0; i < 500; i++) {
		make(&r, a->base + i, 50);
		if (log_writer_append(a->w, &r) < 0)
			return arg;
	}
	return NULL;
}

static void test_threads_append_whole_lines(void **state)
{
	struct log_writer_options o = {.max_bytes = 50000, .keep_files = 20};
	struct appender a[4];
	pthread_t t[4];
	static int seqs[4][3000];
	bool seen[2000] = {false};
	size_t total = 0;
	(void)state;

	struct log_writer *w = NULL;
	assert_int_equal(log_writer_open_with(path, &o, &w, NULL), 0);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct appender){w, i * 500};
		assert_int_equal(pthread_create(&t[i], NULL, append_many, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *res;
		pthread_join(t[i], &res);
		assert_null(res);
	}
	assert_int_equal(log_writer_close(w, NULL), 0);
	for (int f = 0; f <= 20; f++) {
		char p[PATH_MAX + 8];
		if (f)
			snprintf(p, sizeof(p), "%s.%d", path, f);
		else
			snprintf(p, sizeof(p), "%s", path);
		if (!exists(p))
			continue;
		size_t n = read_records(p, seqs[0], 3000, NULL, NULL);
		for (size_t i = 0; i < n; i++) {
			assert_false(seen[seqs[0][i]]);
			seen[seqs[0][i]] = true;
		}
		total += n;
	}
	assert_int_equal(total, 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_append_flush_exact_lines, per_test),
	        cmocka_unit_test_setup(test_close_flushes, per_test),
	        cmocka_unit_test_setup(test_rotation, per_test),
	        cmocka_unit_test_setup(test_rotation_with_short_writes, per_test),
	        cmocka_unit_test_setup(test_rotation_keep_zero, per_test),
	        cmocka_unit_test_setup(test_rotation_failure_is_noted, per_test),
	        cmocka_unit_test_setup(test_queue_full_drops_and_notes, per_test),
	        cmocka_unit_test_setup(test_disk_full_keeps_records_and_notes, per_test),
	        cmocka_unit_test_setup(test_write_error_without_loss_is_noted, per_test),
	        cmocka_unit_test_setup(test_close_gives_up_on_dev_full, per_test),
	        cmocka_unit_test_setup(test_partial_last_line_is_finished, per_test),
	        cmocka_unit_test_setup(test_open_errors, per_test),
	        cmocka_unit_test_setup(test_threads_append_whole_lines, per_test),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
