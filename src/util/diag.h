/* diag.h - the one way airlock tells a person what went wrong.
 *
 * Library code returns 0 on success or a negative errno, and never prints or
 * exits.  When a failure has something to say, the function writes one
 * sentence into a caller-provided struct diag: what was wrong, where (file and
 * line when there is one) and, when it is known, what to do.  The layer that
 * decides what happens next (a CLI subcommand, the gateway) prints it once.
 *
 * Every function here accepts a NULL diag and then does nothing, so callers
 * that only want the error code pass NULL.
 */
#ifndef AIRLOCK_UTIL_DIAG_H
#define AIRLOCK_UTIL_DIAG_H

#include <stddef.h>

#include "util/macros.h"

#define DIAG_MSG_MAX 1024

struct diag {
	char msg[DIAG_MSG_MAX];
};

/* Record a message and return err, so a failure reads `return diag_fail(d,
 * -EINVAL, "...")`.  err must be negative. */
int diag_fail(struct diag *d, int err, const char *fmt, ...) _printf_(3, 4);

/* Put context in front of the message already recorded ("profiles/x.conf:3: "). */
void diag_prefix(struct diag *d, const char *fmt, ...) _printf_(2, 3);

/* Render untrusted bytes for a message: printable ASCII as is, everything else
 * (NUL, control bytes, non-ASCII, quotes) as \xNN, cut at `size` with "...".
 * Always NUL-terminates `out`; returns out. */
char *diag_escape(const char *bytes, size_t len, char *out, size_t size);

/* Size of a buffer for diag_escape() that shows up to 64 input bytes whole. */
#define DIAG_ESCAPE_SIZE (64 * 4 + 4)

#endif
