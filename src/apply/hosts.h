/* hosts.h - blocked names sinkholed in /etc/hosts, between markers.
 *
 * `airlock apply`'s fallback where its DNS listener cannot bind (port 53
 * of 127.0.0.1 taken by a resolver of the machine's own): DNS then goes to
 * the resolvers directly, and the names the policy blocks exactly (`name`
 * and `.name` rules: the name itself) get 0.0.0.0 and :: in /etc/hosts,
 * which resolvers read first.  Wildcards cannot be written there; the
 * transparent listener still refuses their connections by SNI or Host.
 *
 * The entries sit between two marker lines, appended at the end:
 *
 *     # BEGIN airlock: managed by `airlock apply`, removed by --remove
 *     0.0.0.0 tracker.example
 *     :: tracker.example
 *     # END airlock
 *
 * (with "+newline" in the first marker when a newline had to be added to
 * the file's last line first, so that removal gives back the very bytes).
 * The file is rewritten in place, not replaced: in a container it is often
 * a bind mount, which rename() cannot replace.
 */
#ifndef AIRLOCK_APPLY_HOSTS_H
#define AIRLOCK_APPLY_HOSTS_H

#include <stddef.h>

#include "policy/policy.h"
#include "util/diag.h"

#define HOSTS_MAX_BYTES (16 * 1024 * 1024)

/* Pure: `text` without any airlock block, then a block for `names` (none
 * for n 0), into a new buffer (*ret, owned, NUL-terminated; *ret_len).
 * 0 or -ENOMEM / -EINVAL (a name with a blank or newline: never written). */
int hosts_render(const char *text, size_t len, const char *const *names, size_t n, char **ret,
                 size_t *ret_len, struct diag *d);

/* The policy's exactly blocked names into the file at `path`. */
int hosts_apply(const char *path, const struct policy *p, struct diag *d);

/* Take the block out of the file (nothing to do without one). */
int hosts_remove(const char *path, struct diag *d);

#endif
