/* iptables.h - the in-place ruleset for kernels or containers where
 * nftables cannot be used, through iptables-restore.
 *
 * The same semantics as ruleset_render_inplace() (ruleset.h), as two
 * user chains per family - AIRLOCK_NAT in the nat table's OUTPUT, AIRLOCK_OUT
 * in the filter table's OUTPUT, each jumped to first - so that the rest of
 * the machine's rules (Docker's among them) stay as they are.  The text is
 * rendered here (pure, golden-tested) and fed to iptables-restore
 * --noflush, trying in turn `iptables-restore` (whichever variant the
 * machine chose), `iptables-nft-restore` and `iptables-legacy-restore`
 * (and their ip6tables twins).  Unlike the nftables table, this is two
 * steps: the old chains are taken out first, then the new ones go in; each
 * step is one iptables-restore transaction per family.
 *
 * Differences, said where they show: there are no named counters (the
 * chain's rules count), and IPv6 is left untouched - all of it dropped -
 * when ip6tables cannot be used.
 */
#ifndef AIRLOCK_ENFORCE_IPTABLES_H
#define AIRLOCK_ENFORCE_IPTABLES_H

#include <stddef.h>

#include "enforce/ruleset.h"
#include "util/diag.h"

#define IPTABLES_TEXT_MAX 16384

/* Render the restore input for family 4 or 6.  Length, or -ENOBUFS/-EINVAL. */
int iptables_render_inplace(const struct ruleset_inplace_spec *spec, int family, char *buf,
                            size_t size, struct diag *d);

/* Take out any AIRLOCK_NAT/AIRLOCK_OUT chains and their jumps, then apply
 * both families.  0, or a negative errno with `d` naming the tool and its
 * words; *ret_tool (may be NULL) gets the restore command that worked. */
int iptables_apply_inplace(const struct ruleset_inplace_spec *spec, const char **ret_tool,
                           struct diag *d);

/* Take the chains out (whichever tool put them there).  0, or -errno. */
int iptables_remove(struct diag *d);

/* Run argv (looked up on PATH, in the calling thread's network namespace)
 * with `input` (may be NULL) on its standard input; its standard output (at
 * most out_size - 1 bytes) into `out`, its standard error into `err`.  The
 * exit status, or a negative errno when it could not run. */
int iptables_exec(char *const argv[], const char *input, char *out, size_t out_size, char *err,
                  size_t err_size);

#endif
