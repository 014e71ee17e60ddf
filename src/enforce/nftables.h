/* nftables.h - apply a ruleset and read its counters, through libnftables.
 *
 * The ruleset is text (ruleset.h renders it) applied as one transaction:
 * either the whole text is in force or nothing changed (the kernel checks
 * everything before it commits, so a dry run first would only double the
 * cost).  libnftables' own error text (which names the line and column of
 * the faulty rule) is captured into the diag rather than printed.
 *
 * Every call acts on the network namespace the calling thread was in when
 * the context was opened, and needs CAP_NET_ADMIN there (in the user
 * namespace that owns it).
 *
 * Closing a context's netlink socket after a commit waits until the kernel
 * has released the ruleset it replaced, an RCU grace period: 10 to 20 ms on
 * a small VM.  Where that matters (airlock run's start), keep the context
 * open with nftables_open() and close it off the critical path.
 */
#ifndef AIRLOCK_ENFORCE_NFTABLES_H
#define AIRLOCK_ENFORCE_NFTABLES_H

#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

struct nftables;

/* A context for several commands; NULL (with `d` saying why) when out of
 * memory.  nftables_close(NULL) does nothing. */
struct nftables *nftables_open(struct diag *d);
void nftables_close(struct nftables *n);

/* Apply `text`.  0, or a negative errno with libnftables' message in `d`:
 * -EPERM without CAP_NET_ADMIN, -EOPNOTSUPP when the kernel has no
 * nf_tables (or lacks what the text uses), -EINVAL otherwise. */
int nftables_run(struct nftables *n, const char *text, struct diag *d);

/* nftables_run() in a context of its own, closed before it returns. */
int nftables_apply(const char *text, struct diag *d);

/* Read the packet counts of the named counters of table `inet TABLE` into
 * packets[i] (0 for a counter the table does not have).  0 or a negative
 * errno with `d` saying why. */
int nftables_counters(const char *table, const char *const names[], uint64_t packets[], size_t n,
                      struct diag *d);

#endif
