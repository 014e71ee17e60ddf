/* name.h - host names in the one canonical form airlock matches, logs and dials.
 *
 * Every name that reaches a policy decision (a rule, a `check` target, later a
 * DNS question, a CONNECT target or an SNI) goes through name_normalize()
 * first, and only its output is used from then on.  The canonical form is:
 *   - lower-case ASCII: letters, digits, '-' and '_' in dot-separated labels;
 *   - internationalised labels as punycode ("bücher" -> "xn--bcher-kva"),
 *     per IDNA2008 with UTS #46 non-transitional mapping; non-ASCII input is
 *     accepted only when it converts;
 *   - no trailing dot (one is accepted on input and dropped);
 *   - labels of 1..63 bytes, the whole name at most 253 bytes.
 * Names that some resolvers would read as an IPv4 address in a legacy form
 * ("2130706433", "0x7f.1", "127.1") are refused, as are names whose last
 * label is all digits, so a name can never alias an address.
 *
 * Pure: no I/O, no global state.
 */
#ifndef AIRLOCK_POLICY_NAME_H
#define AIRLOCK_POLICY_NAME_H

#include <stddef.h>

#include "util/diag.h"

#define NAME_MAX_LEN   253 /* textual length, without the trailing dot */
#define NAME_LABEL_MAX 63
#define NAME_BUF_SIZE  (NAME_MAX_LEN + 1)

/* Longest raw input considered at all: enough for a 253-byte name written in
 * 4-byte UTF-8 sequences.  Longer input is refused before any work. */
#define NAME_INPUT_MAX 1024

/* Normalise `len` bytes at `in` (not NUL-terminated; may contain anything)
 * into `out`.  On success returns 0 and, if ret_len is not NULL, stores the
 * output length.  On failure returns -EINVAL (or -ENOMEM) and says in `d`
 * what is wrong and at which byte offset or label; `out` is then undefined. */
int name_normalize(const char *in, size_t len, char out[static NAME_BUF_SIZE], size_t *ret_len,
                   struct diag *d);

/* Number of labels in a canonical name ("a.example.com" -> 3). */
unsigned name_label_count(const char *name, size_t len);

#endif
