/* writer.h - the audit log file: appends that never wait for the disk, and
 * rotation by size.
 *
 * Design: a dedicated writer thread fed by a lock-protected byte ring.
 *
 *   event loop                                   writer thread
 *   log_writer_append(rec)                       loop:
 *     encode the record (no lock, no malloc)       wait for bytes in the ring
 *     lock; copy the line into the ring; unlock    write(2) them straight from
 *                                                  the ring, no lock held
 *                                                  lock; advance the ring; unlock
 *
 * Why a thread and not "flush from the loop with a time budget": O_NONBLOCK
 * means nothing for regular files.  write(2) to a file on a slow or stalled
 * disk (a saturated SSD, an NFS home, a full journal being committed) blocks
 * the caller for as long as the disk takes - seconds, in the cases that
 * matter - and a time budget cannot interrupt a write that is already in the
 * kernel.  With the write on its own thread, the worst the gateway sees is the
 * ring filling up, which costs a dropped (and counted) record, never a stalled
 * DNS answer.  The lock guards only pointer updates and one memcpy of at most
 * AUDIT_LINE_MAX bytes; the thread never holds it across a system call.
 * So the event loop has nothing to call: log_writer_flush() is for shutdown,
 * tests and the CLI, and it may block.  Once woken, the thread lingers up to
 * 20 ms for more records before writing, so a busy gateway pays one thread
 * wakeup per 20 ms, not one context switch per record; records reach the
 * file within about that time.
 *
 * Memory: one ring of `queue_bytes` (default 4 MiB) allocated at open; an
 * append allocates nothing.  When a record does not fit, it is dropped and
 * counted, and a note record takes the place of the gap as soon as there is
 * room, before any later record:
 *     "17 records dropped: log writer backlog"
 * Write errors (ENOSPC, EIO, a rotation that could not reopen the file): the
 * records stay in the ring, the thread retries every `retry_ms`, records that
 * arrive while the ring is full are dropped and counted, and when a write
 * succeeds again a note says what happened:
 *     "disk full: 17 records lost between 2026-11-23T10:15:02.123Z and
 *      2026-11-23T10:16:40.002Z"
 *     (other errors: "write error (Input/output error): 17 records lost ...")
 * Notes are event "note" records without a protocol or sandbox.
 *
 * Rotation (regular files only, when max_bytes > 0): when a write takes the
 * file to max_bytes or past it, at the end of the record that did, path.N-1 is
 * renamed to path.N ... path to path.1 (so path.<keep_files> is replaced, and
 * older files are gone), and path is reopened.  A file therefore ends at a
 * record boundary and holds at most max_bytes plus one record; a record is
 * never split between files, even when write(2) writes only part of it.  With
 * keep_files 0, the full file is deleted instead.  A rotation that fails
 * (EACCES on the directory) leaves the file growing, is retried after
 * retry_ms, and is told once in a note ("cannot rotate PATH: ...").
 *
 * Opening: the file is created mode 0640 if needed and always appended to
 * (O_APPEND|O_CLOEXEC|O_NONBLOCK; EAGAIN, from a FIFO, is waited out with
 * poll()).  If it ends in the middle of a line (an earlier crash), a newline
 * is written first so our first record starts a line of its own.
 *
 * Threads: append, flush and stats may be called from any thread.  The writer
 * thread starts with every signal blocked.  Do not fork() without exec while
 * a writer is open (as with any threaded program).
 */
#ifndef AIRLOCK_LOG_WRITER_H
#define AIRLOCK_LOG_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log/audit.h"
#include "util/diag.h"

#define LOG_WRITER_QUEUE_DEFAULT (4u * 1024 * 1024)
/* Smaller queues are raised to this: two records of the largest size. */
#define LOG_WRITER_QUEUE_MIN (2u * AUDIT_LINE_MAX)
#define LOG_WRITER_KEEP_MAX  99

struct log_writer;

struct log_writer_options {
	uint64_t max_bytes;  /* rotate when the file reaches this size; 0: never */
	unsigned keep_files; /* path.1 .. path.N kept, at most LOG_WRITER_KEEP_MAX */
	size_t queue_bytes;  /* the ring; 0: LOG_WRITER_QUEUE_DEFAULT */
	unsigned retry_ms;   /* after a failed write or rotation; 0: 1000 */
	/* For tests: called instead of write(2), with the same contract
	 * (returns bytes written, or -1 with errno set).  NULL: write(2). */
	ssize_t (*write_fn)(int fd, const void *buf, size_t len, void *ctx);
	void *write_ctx;
};

struct log_writer_stats {
	uint64_t records;       /* accepted by log_writer_append (notes not counted) */
	uint64_t dropped;       /* refused by log_writer_append: the ring was full */
	uint64_t notes;         /* note records the writer added */
	uint64_t bytes_written; /* to any file */
	uint64_t write_errors;  /* failed write, open or rotation attempts */
	uint64_t rotations;
	uint64_t lost_at_close; /* records still queued when close gave up */
	size_t queued_bytes;    /* in the ring now */
	int error;              /* the error writing is stuck on (negative errno), or 0 */
};

/* Open with defaults for everything but rotation. */
int log_writer_open(const char *path, uint64_t max_bytes, unsigned keep_files,
                    struct log_writer **ret, struct diag *d);

/* Open `path` (created if missing) and start the writer thread.  Errors:
 * -EINVAL (keep_files too large, path too long), whatever open(2) says about
 * the path, -ENOMEM, or pthread_create's error; `d` names the path. */
int log_writer_open_with(const char *path, const struct log_writer_options *o,
                         struct log_writer **ret, struct diag *d);

/* Queue one record.  Never waits for I/O and allocates nothing (it encodes
 * on the stack: about 40 KiB of it).  Returns 0,
 * or -ENOBUFS when the ring was full (the record is dropped and counted, and
 * a note will mark the gap), or -EPIPE after log_writer_close has begun. */
int log_writer_append(struct log_writer *w, const struct audit_record *r);

/* Wait until the ring is empty (with other threads still appending, until
 * they pause).  Returns 0, or the negative errno of the write error the
 * records are waiting on (they stay queued and are retried).  Blocks: not for
 * the event loop. */
int log_writer_flush(struct log_writer *w);

void log_writer_stats(struct log_writer *w, struct log_writer_stats *ret);

/* Write everything queued, stop the thread, close the file and free `w`.  If
 * writing is failing, it is tried once more; what still cannot be written is
 * counted in lost_at_close (ret_stats, when not NULL, gets the final stats)
 * and the error returned.  Returns 0 or a negative errno.  Accepts NULL. */
int log_writer_close(struct log_writer *w, struct log_writer_stats *ret_stats);

static inline void log_writer_closep(struct log_writer **w)
{
	log_writer_close(*w, NULL);
}

#endif
