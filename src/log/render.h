/* render.h - audit records for people: aligned columns, a summary, and
 * following a growing (and rotating) log.  What `airlock logs` is built on.
 *
 * One line a record, columns separated by two spaces, no trailing spaces:
 *
 *   10:15:02  allow  tls      api.github.com:443  *.github.com (built-in standard.conf:17)
 *   10:15:03  block  dns      ads.example AAAA    default
 *   10:16:03  block  connect  [2001:db8::1]:22    [2001:db8::/32]:22 (command line)
 *
 * TIME  VERDICT  PROTO  [SANDBOX]  TARGET  RULE  DETAIL, where VERDICT is
 * allow/block for decisions and close/note for the other events, TARGET is
 * name[:port] (or address[:port] when there is no name; a DNS query adds its
 * type), RULE is "rule (origin)" or the origin alone ("default", "no network",
 * "rebinding: 10.0.0.5"), and DETAIL is bytes and duration for a close plus
 * the record's detail text.
 *
 * Everything a sandboxed program may have chosen (names, details) is shown
 * as printable ASCII only: other bytes as \xNN, a backslash as \\.  So no
 * record can move the cursor, change colours or hide text on a terminal, and
 * a look-alike name shows its non-ASCII bytes.
 *
 * Filters: a sandbox name and "blocked only".  Notes that are not about one
 * sandbox (the writer's "records lost" notes) pass every filter: a gap in the
 * log matters to whoever reads any part of it.
 */
#ifndef AIRLOCK_LOG_RENDER_H
#define AIRLOCK_LOG_RENDER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "log/audit.h"
#include "util/diag.h"

enum render_time {
	RENDER_TIME_LOCAL = 0, /* local HH:MM:SS */
	RENDER_TIME_FULL,      /* local YYYY-MM-DD HH:MM:SS.mmm (--full) */
	RENDER_TIME_UTC,       /* 2026-11-23T10:15:02.123Z (--utc) */
};

struct render_options {
	enum render_time time;
	bool color;          /* red block, green allow: only when writing to a TTY */
	bool show_sandbox;   /* add a SANDBOX column */
	const char *sandbox; /* only this sandbox; NULL: every one */
	bool blocked_only;
};

/* Widths of the columns whose content varies. */
struct render_widths {
	int sandbox, target, rule;
};

/* Whether `r` passes the filters in `o`. */
bool render_match(const struct render_options *o, const struct audit_record *r);

/* Start widths: zero to fit a known set of records with render_widths_fit(),
 * or (stream) generous minimums for records that are not known yet, such as
 * a followed log; a longer cell then pushes the rest of its line right. */
void render_widths_init(struct render_widths *w, bool stream);
void render_widths_fit(struct render_widths *w, const struct render_options *o,
                       const struct audit_record *r);

/* Write one line (with '\n').  Does not apply the filters. */
void render_record(FILE *out, const struct render_options *o, const struct render_widths *w,
                   const struct audit_record *r);

/* The records that match, aligned with each other. */
void render_records(FILE *out, const struct render_options *o, const struct audit_record *recs,
                    size_t n);

/* Escape bytes for a terminal as described above; NUL-terminates, cuts at a
 * character (never half an escape).  Returns the length written. */
size_t render_escape(const char *bytes, size_t len, char *out, size_t size);

/* ---- summary ---- */

/* Bounded memory for logs of any size: at most this many distinct blocked
 * names, holding at most RENDER_SUMMARY_BYTES_MAX bytes of names, are
 * counted; blocks of names past either cap are only counted as "untracked". */
#define RENDER_SUMMARY_NAMES_MAX 100000
#define RENDER_SUMMARY_BYTES_MAX (16u * 1024 * 1024)

struct render_summary;

struct render_totals {
	uint64_t allowed, blocked; /* decisions */
	uint64_t untracked;        /* blocked decisions whose name was past the caps */
	size_t names;              /* distinct blocked names tracked */
};

/* A blocked name (or the address when there was no name) and its count. */
struct render_count {
	const char *name; /* valid while the summary is */
	size_t len;
	uint64_t count;
};

/* max_names 0: RENDER_SUMMARY_NAMES_MAX.  NULL when out of memory. */
struct render_summary *render_summary_new(size_t max_names);
void render_summary_free(struct render_summary *s);
DEFINE_POINTER_CLEANUP(struct render_summary, render_summary_free)

/* Count one record (decisions only; others are ignored).  -ENOMEM. */
int render_summary_add(struct render_summary *s, const struct audit_record *r);

void render_summary_totals(const struct render_summary *s, struct render_totals *ret);

/* The n most-blocked names into out[], most first; equal counts in byte
 * order of the names.  Returns how many were written.  Allocates nothing. */
size_t render_summary_top(const struct render_summary *s, struct render_count *out, size_t n);

/* The totals and the `top` (at most 32) most-blocked names:
 *   allowed  1234
 *   blocked    56
 *   most blocked:
 *     20  ads.example
 *      5  tracker.example  */
void render_summary_print(FILE *out, const struct render_summary *s, size_t top);

/* ---- follow ---- */

/* Reading a log as it grows.  Each read returns the complete lines appended
 * since the last one; a partial last line waits for its end.  When the path
 * names a new file (the writer rotated) the old one is read to its end first,
 * then the new one from offset 0; when the file shrank (truncated), reading
 * restarts at 0.  A line longer than the caller's buffer comes back in
 * pieces (which then fail to decode). */
struct render_follow {
	int fd; /* -1 until the path exists */
	uint64_t offset;
	dev_t dev;
	ino_t ino;
	char path[PATH_MAX];
};

/* Start at `offset` of the file at `path` (0: the beginning).  A missing file
 * is not an error: reads return nothing until it appears, then read it from
 * its beginning. */
int render_follow_open(struct render_follow *f, const char *path, uint64_t offset, struct diag *d);

/* Copy complete new lines into buf (up to size bytes) and set *ret_len, 0 when
 * there is nothing new.  Returns 0 or a negative errno (d says which file). */
int render_follow_read(struct render_follow *f, char *buf, size_t size, size_t *ret_len,
                       struct diag *d);

void render_follow_close(struct render_follow *f);

#endif
