/* nftables.h - apply a ruleset and read its counters, through libnftables.
 *
 * The ruleset is text (ruleset.h renders it) applied as one transaction:
 * first a dry run, which checks everything the kernel would check without
 * changing anything, then the real run.  Either the whole text is in force
 * or nothing changed.  libnftables' own error text (which names the line
 * and column of the faulty rule) is captured into the diag rather than
 * printed.
 *
 * Both calls act on the network namespace the calling thread is in, and need
 * CAP_NET_ADMIN there (in the user namespace that owns it).
 */
#ifndef AIRLOCK_ENFORCE_NFTABLES_H
#define AIRLOCK_ENFORCE_NFTABLES_H

#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

/* Apply `text`.  0, or a negative errno with libnftables' message in `d`:
 * -EPERM without CAP_NET_ADMIN, -EOPNOTSUPP when the kernel has no
 * nf_tables (or lacks what the text uses), -EINVAL otherwise. */
int nftables_apply(const char *text, struct diag *d);

/* Read the packet counts of the named counters of table `inet TABLE` into
 * packets[i] (0 for a counter the table does not have).  0 or a negative
 * errno with `d` saying why. */
int nftables_counters(const char *table, const char *const names[], uint64_t packets[], size_t n,
                      struct diag *d);

#endif
