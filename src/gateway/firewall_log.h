/* firewall_log.h - the packets a sandbox's firewall dropped, as audit records.
 *
 * The ruleset (enforce/ruleset.h) sends what it drops to NFLOG; whoever set
 * it up hands the NFLOG socket (enforce/nflog.h) to the gateway, which
 * reads it in its loop and writes one record per packet: proto udp, icmp,
 * tcp (or none for another IP protocol), the source as client, the
 * destination's address and port, verdict block, origin "sandbox firewall"
 * and what was dropped in `detail`.  A read the kernel could not fill
 * (ENOBUFS: the socket's queue overflowed) is noted once; the packets are
 * still counted by the ruleset.  At most 16 reads a callback, so a flood
 * cannot hold the loop.
 */
#ifndef AIRLOCK_GATEWAY_FIREWALL_LOG_H
#define AIRLOCK_GATEWAY_FIREWALL_LOG_H

#include <stdint.h>

#include "log/audit.h"
#include "net/loop.h"
#include "util/macros.h"

/* Where the records go, and where a note goes. */
typedef void firewall_record_fn(void *ctx, struct audit_record *r);
typedef void firewall_note_fn(void *ctx, const char *note);

struct firewall_log;

/* Watch `fd` (takes ownership, also on failure).  0 or -errno. */
int firewall_log_new(struct loop *loop, int fd, firewall_record_fn *record, firewall_note_fn *note,
                     void *ctx, struct firewall_log **ret);

/* Read what is queued now (at the end: the last moments' packets). */
void firewall_log_drain(struct firewall_log *f);

/* Records written, reads lost. */
uint64_t firewall_log_count(const struct firewall_log *f);

void firewall_log_free(struct firewall_log *f);
DEFINE_POINTER_CLEANUP(struct firewall_log, firewall_log_free)

#endif
