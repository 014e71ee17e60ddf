/* The audit log writer: a byte ring filled by appenders and drained by one
 * thread (why a thread: writer.h). */
#include "log/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MS_DEFAULT 1000
#define NOTE_LINE_MAX    4096 /* a note's detail is at most 511 bytes */

struct log_writer {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* to the thread: bytes queued, or stop (CLOCK_MONOTONIC) */
	pthread_cond_t idle; /* to flushers: the ring is empty, or writing failed */
	pthread_t thread;

	/* Under the lock. */
	char *ring;
	size_t cap, head, len;
	bool stopping, thread_waiting, thread_done;
	bool lingering;         /* the thread is letting records gather */
	unsigned flushers;      /* callers waiting in log_writer_flush */
	uint64_t pending_drops; /* dropped since the last note */
	int fail_err;           /* errno writing is stuck on; 0 when it works */
	int outage_err;         /* for the note on an outage that ended */
	int64_t outage_start_ms, outage_end_ms;
	bool outage_over; /* an outage ended and its note is not queued yet */
	int rotate_err;   /* a failed rotation to tell in a note */
	struct log_writer_stats st;

	/* The writer thread's own (and open/close's, when it is not running). */
	int fd;
	bool regular, at_line_start;
	uint64_t size;
	int64_t rotate_retry_at; /* CLOCK_MONOTONIC ms */
	int new_rotate_err;
	uint64_t rotations, rotate_errors;
	struct log_writer_options o;
	char path[PATH_MAX];
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ssize_t do_write(struct log_writer *w, const void *buf, size_t len)
{
	if (w->o.write_fn)
		return w->o.write_fn(w->fd, buf, len, w->o.write_ctx);
	return write(w->fd, buf, len);
}

/* ---- the file (writer thread) ---- */

/* Whether the file at `path` of `size` bytes ends with a newline (or cannot
 * be read, in which case we assume it does). */
static bool ends_with_newline(const char *path, uint64_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char c = '\n';

	if (fd >= 0 && pread(fd, &c, 1, (off_t)size - 1) != 1)
		c = '\n';
	return c == '\n';
}

static int open_file(struct log_writer *w)
{
	_cleanup_close_ int fd = open(
	        w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0640);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	w->regular = S_ISREG(st.st_mode);
	w->size = w->regular ? (uint64_t)st.st_size : 0;
	w->at_line_start = true;
	w->fd = fd;
	if (w->regular && w->size > 0 && !ends_with_newline(w->path, w->size)) {
		/* Finish a line an earlier run left half-written. */
		ssize_t n = do_write(w, "\n", 1);
		if (n != 1) {
			w->fd = -1;
			return n < 0 ? -errno : -EIO;
		}
		w->size++;
	}
	w->fd = TAKE_FD(fd);
	return 0;
}

static int rotate(struct log_writer *w)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16]; /* open_with checked the length */

	if (w->o.keep_files == 0) {
		if (unlink(w->path) < 0 && errno != ENOENT)
			return -errno;
	} else {
		for (unsigned i = w->o.keep_files; i > 1; i--) {
			snprintf(from, sizeof(from), "%s.%u", w->path, i - 1);
			snprintf(to, sizeof(to), "%s.%u", w->path, i);
			if (rename(from, to) < 0 && errno != ENOENT)
				return -errno;
		}
		snprintf(to, sizeof(to), "%s.1", w->path);
		if (rename(w->path, to) < 0 && errno != ENOENT)
			return -errno;
	}
	/* From here on, path is free: a failed open is a write error, retried. */
	close(w->fd);
	w->fd = -1;
	w->rotations++;
	return open_file(w);
}

static bool rotation_due(const struct log_writer *w)
{
	return w->regular && w->o.max_bytes && w->at_line_start && w->size >= w->o.max_bytes;
}

/* Returns rotate()'s result (0 when it is not time to try again yet). */
static int try_rotate(struct log_writer *w)
{
	int64_t now = mono_ms();
	if (now < w->rotate_retry_at)
		return 0;
	int r = rotate(w);
	if (r < 0 && w->fd >= 0) {
		/* The file was not moved: keep writing to it, try again later. */
		w->rotate_retry_at = now + w->o.retry_ms;
		w->new_rotate_err = -r;
		w->rotate_errors++;
	}
	return r;
}

/* Write some of buf[0..n), stopping after the record that takes the file to
 * max_bytes (and rotating there).  Returns the bytes written or -errno. */
static ssize_t write_some(struct log_writer *w, const char *buf, size_t n)
{
	ssize_t k;

	if (w->fd < 0) {
		int r = open_file(w);
		if (r < 0)
			return r;
	}
	if (rotation_due(w)) {
		int r = try_rotate(w);
		if (w->fd < 0)
			return r < 0 ? r : -EIO;
	}
	if (w->regular && w->o.max_bytes && w->size + n >= w->o.max_bytes) {
		/* buf[from] is the byte that brings the file to max_bytes. */
		size_t from = w->size < w->o.max_bytes ? (size_t)(w->o.max_bytes - w->size - 1) : 0;
		const char *nl = memchr(buf + from, '\n', n - from);
		if (nl)
			n = (size_t)(nl - buf) + 1;
	}
	for (;;) {
		k = do_write(w, buf, n);
		if (k > 0)
			break;
		if (k == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		/* A FIFO whose reader is slow: wait, then count it as a failure. */
		struct pollfd p = {.fd = w->fd, .events = POLLOUT};
		if (poll(&p, 1, (int)w->o.retry_ms) <= 0)
			return -EAGAIN;
	}
	w->size += (uint64_t)k;
	w->at_line_start = buf[k - 1] == '\n';
	if (rotation_due(w))
		try_rotate(w);
	return k;
}

/* ---- the ring and notes (under the lock) ---- */

static void ring_put(struct log_writer *w, const char *s, size_t n)
{
	size_t tail = (w->head + w->len) % w->cap;
	size_t first = n < w->cap - tail ? n : w->cap - tail;

	memcpy(w->ring + tail, s, first);
	memcpy(w->ring, s + first, n - first);
	w->len += n;
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* Encode the next note due into line; returns its length, or 0 if none is due
 * (or can be placed yet).  *clear says what to reset once it is queued. */
static int next_note(struct log_writer *w, char *line, size_t size, int *clear)
{
	struct audit_record rec;
	unsigned long long n = (unsigned long long)w->pending_drops;

	audit_record_init(&rec, AUDIT_EVENT_NOTE, AUDIT_PROTO_NONE);
	if (w->outage_over) {
		char t1[AUDIT_TIME_SIZE], t2[AUDIT_TIME_SIZE];
		audit_format_time(w->outage_start_ms, t1);
		audit_format_time(w->outage_end_ms, t2);
		if (w->outage_err == ENOSPC)
			AUDIT_SET(&rec, detail, "disk full: %llu record%s lost between %s and %s",
			          n, plural(n), t1, t2);
		else
			AUDIT_SET(&rec, detail,
			          "write error (%s): %llu record%s lost between %s and %s",
			          strerror(w->outage_err), n, plural(n), t1, t2);
		*clear = 1;
	} else if (w->pending_drops && !w->fail_err) {
		AUDIT_SET(&rec, detail, "%llu record%s dropped: log writer backlog", n, plural(n));
		*clear = 2;
	} else if (w->rotate_err) {
		AUDIT_SET(&rec, detail, "cannot rotate %s: %s", w->path, strerror(w->rotate_err));
		*clear = 3;
	} else {
		return 0;
	}
	int len = audit_encode(&rec, line, size);
	return len < 0 ? 0 : len;
}

/* Queue every note that is due; true when that leaves room for `extra` more
 * bytes.  A record never goes in ahead of the note on an earlier gap. */
static bool queue_notes(struct log_writer *w, size_t extra)
{
	char line[NOTE_LINE_MAX];
	int clear, n;

	while ((n = next_note(w, line, sizeof(line), &clear)) > 0) {
		if (w->cap - w->len < (size_t)n + extra)
			return false;
		ring_put(w, line, (size_t)n);
		w->st.notes++;
		if (clear == 1) {
			w->outage_over = false;
			w->pending_drops = 0;
		} else if (clear == 2) {
			w->pending_drops = 0;
		} else {
			w->rotate_err = 0;
		}
	}
	/* Drops during an outage wait for its note, and so does everything after. */
	if (w->pending_drops)
		return false;
	return w->cap - w->len >= extra;
}

/* ---- the thread ---- */

static void wait_retry(struct log_writer *w)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += w->o.retry_ms / 1000;
	until.tv_nsec += (long)(w->o.retry_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (!w->stopping)
		if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
			break;
}

/* After a wakeup the thread waits this long for more records, so that a busy
 * gateway costs one thread wakeup per LINGER_MS rather than one per record
 * (each of which is a context switch taken from the event loop).  A flush,
 * a ring half full, or close cut it short. */
#define LINGER_MS 20

static void linger(struct log_writer *w)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += LINGER_MS * 1000000L;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	w->lingering = true;
	while (!w->stopping && !w->flushers && w->len < w->cap / 2)
		if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
			break;
	w->lingering = false;
}

static void *writer_main(void *arg)
{
	struct log_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		if (w->len == 0) {
			pthread_cond_broadcast(&w->idle);
			if (w->stopping)
				break;
			w->thread_waiting = true;
			pthread_cond_wait(&w->wake, &w->lock);
			w->thread_waiting = false;
			linger(w);
			continue;
		}
		size_t h = w->head, n = w->len < w->cap - h ? w->len : w->cap - h;
		bool stopping = w->stopping;
		pthread_mutex_unlock(&w->lock);
		ssize_t k = write_some(w, w->ring + h, n);
		pthread_mutex_lock(&w->lock);

		w->st.rotations = w->rotations;
		w->st.write_errors += w->rotate_errors;
		w->rotate_errors = 0;
		if (w->new_rotate_err) {
			w->rotate_err = w->new_rotate_err;
			w->new_rotate_err = 0;
		}
		if (k > 0) {
			w->head = (w->head + (size_t)k) % w->cap;
			w->len -= (size_t)k;
			w->st.bytes_written += (uint64_t)k;
			if (w->fail_err) {
				w->outage_over = true;
				w->outage_err = w->fail_err;
				w->outage_end_ms = audit_now_ms();
				w->fail_err = 0;
			}
			queue_notes(w, 0);
			continue;
		}
		w->st.write_errors++;
		if (!w->fail_err) {
			w->fail_err = (int)-k;
			if (!w->outage_over) /* else the earlier outage goes on */
				w->outage_start_ms = audit_now_ms();
			w->outage_over = false;
		}
		pthread_cond_broadcast(&w->idle);
		if (stopping)
			break; /* close gave it one more try */
		wait_retry(w);
	}
	w->thread_done = true;
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* ---- the API ---- */

static void writer_free(struct log_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->ring);
	free(w);
}

int log_writer_open(const char *path, uint64_t max_bytes, unsigned keep_files,
                    struct log_writer **ret, struct diag *d)
{
	struct log_writer_options o = {.max_bytes = max_bytes, .keep_files = keep_files};
	return log_writer_open_with(path, &o, ret, d);
}

int log_writer_open_with(const char *path, const struct log_writer_options *o,
                         struct log_writer **ret, struct diag *d)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	if (o->keep_files > LOG_WRITER_KEEP_MAX)
		return diag_fail(d, -EINVAL, "audit log %s: cannot keep more than %d old files",
		                 path, LOG_WRITER_KEEP_MAX);
	if (strlen(path) + 4 > PATH_MAX - 1)
		return diag_fail(d, -EINVAL, "audit log path is too long");

	struct log_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return diag_fail(d, -ENOMEM, "audit log %s: out of memory", path);
	w->o = *o;
	if (w->o.queue_bytes == 0)
		w->o.queue_bytes = LOG_WRITER_QUEUE_DEFAULT;
	if (w->o.queue_bytes < LOG_WRITER_QUEUE_MIN)
		w->o.queue_bytes = LOG_WRITER_QUEUE_MIN;
	if (w->o.retry_ms == 0)
		w->o.retry_ms = RETRY_MS_DEFAULT;
	memcpy(w->path, path, strlen(path) + 1);
	w->fd = -1;
	w->cap = w->o.queue_bytes;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&w->idle, NULL);
	w->ring = malloc(w->cap);
	if (!w->ring) {
		size_t cap = w->cap;
		writer_free(w);
		return diag_fail(d, -ENOMEM, "audit log %s: out of memory for a %zu-byte queue",
		                 path, cap);
	}
	r = open_file(w);
	if (r < 0) {
		writer_free(w);
		return diag_fail(d, r, "cannot open audit log %s: %s", path, strerror(-r));
	}
	/* Signals belong to the event loop; the thread inherits this mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		writer_free(w);
		return diag_fail(d, -r, "audit log %s: cannot start the writer thread: %s", path,
		                 strerror(r));
	}
	*ret = w;
	return 0;
}

int log_writer_append(struct log_writer *w, const struct audit_record *rec)
{
	char line[AUDIT_LINE_MAX];
	int n = audit_encode(rec, line, sizeof(line));
	int r = 0;

	if (n < 0)
		return n;
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		r = -EPIPE;
	} else if (!queue_notes(w, (size_t)n)) {
		w->pending_drops++;
		w->st.dropped++;
		r = -ENOBUFS;
	} else {
		ring_put(w, line, (size_t)n);
		w->st.records++;
		if (w->thread_waiting || (w->lingering && w->len >= w->cap / 2))
			pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

int log_writer_flush(struct log_writer *w)
{
	int r;

	pthread_mutex_lock(&w->lock);
	w->flushers++;
	pthread_cond_signal(&w->wake); /* end a linger */
	while (w->len > 0 && !w->fail_err && !w->thread_done)
		pthread_cond_wait(&w->idle, &w->lock);
	w->flushers--;
	r = w->len == 0 ? 0 : w->fail_err ? -w->fail_err : -EPIPE;
	pthread_mutex_unlock(&w->lock);
	return r;
}

void log_writer_stats(struct log_writer *w, struct log_writer_stats *ret)
{
	pthread_mutex_lock(&w->lock);
	*ret = w->st;
	ret->queued_bytes = w->len;
	ret->error = -w->fail_err;
	pthread_mutex_unlock(&w->lock);
}

static uint64_t count_lines(const char *s, size_t n)
{
	uint64_t c = 0;
	const char *end = s + n;
	while ((s = memchr(s, '\n', (size_t)(end - s)))) {
		c++;
		s++;
	}
	return c;
}

int log_writer_close(struct log_writer *w, struct log_writer_stats *ret_stats)
{
	int r = 0;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);

	/* The thread is gone: everything is ours without the lock. */
	if (w->len > 0) {
		size_t first = w->len < w->cap - w->head ? w->len : w->cap - w->head;
		w->st.lost_at_close = count_lines(w->ring + w->head, first) +
		                      count_lines(w->ring, w->len - first);
		r = w->fail_err ? -w->fail_err : -EIO;
	}
	if (ret_stats) {
		*ret_stats = w->st;
		ret_stats->queued_bytes = w->len;
		ret_stats->error = -w->fail_err;
	}
	if (w->fd >= 0 && close(w->fd) < 0 && r == 0)
		r = -errno;
	w->fd = -1;
	writer_free(w);
	return r;
}
