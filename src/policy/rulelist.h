/* rulelist.h - rules one a line, as in a blocklist or a sandbox's
 * `allowed-domains` file.
 *
 * Blank lines and lines starting with '#' are skipped; surrounding blanks are
 * trimmed.  Every rule gets `source` and its line number as its origin, and
 * an error names both.
 */
#ifndef AIRLOCK_POLICY_RULELIST_H
#define AIRLOCK_POLICY_RULELIST_H

#include <stddef.h>

#include "policy/policy.h"
#include "util/diag.h"

#define RULELIST_MAX_BYTES (512 * 1024 * 1024)

int rulelist_load_text(struct policy_builder *b, enum action action, const char *text, size_t len,
                       const char *source, size_t *ret_count, struct diag *d);

int rulelist_load_file(struct policy_builder *b, enum action action, const char *path,
                       size_t *ret_count, struct diag *d);

/* The same, but each rule first removes every identical rule already in the
 * builder, whatever its action: a sandbox's own `allow x` (its
 * allowed-domains file) lifts its profile's `block x` instead of tying with
 * it (a tie goes to block).  Costs a scan of the builder per rule: meant for
 * the short files `airlock allow --name` writes.  `source` names the file
 * in origins and errors (NULL: its path). */
int rulelist_load_file_replacing(struct policy_builder *b, enum action action, const char *path,
                                 const char *source, size_t *ret_count, struct diag *d);

#endif
