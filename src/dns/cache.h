/* cache.h - vetted upstream answers, kept for their TTL.
 *
 * The DNS service stores an answer only after dns_filter_answer() let it
 * through, keyed by (canonical name, QTYPE), and serves it again until the
 * smallest TTL among its answer records runs out (capped by `max_ttl_s`).
 * A hit comes back with the answer TTLs lowered by the entry's age, so a
 * client never keeps a record longer than upstream said.  Only NOERROR
 * answers holding at least one record are kept: refusals are the policy's
 * business and are decided fresh every time.
 *
 * The service empties the cache whenever the policy snapshot changes, since
 * an answer vetted under the old policy (a CIDR rule that allowed a private
 * address) may not pass the new one.
 *
 * Bounds: `max_entries` entries; when full, the least recently used goes.
 * Messages larger than DNS_CACHE_MSG_MAX are not kept.  Not thread-safe:
 * owned by the gateway's loop.
 */
#ifndef AIRLOCK_DNS_CACHE_H
#define AIRLOCK_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dns/wire.h"

#define DNS_CACHE_MSG_MAX 4096

struct dns_cache;

struct dns_cache *dns_cache_new(size_t max_entries, uint32_t max_ttl_s);
void dns_cache_free(struct dns_cache *c);

/* Keep `msg` (a response that parsed into `r` and was vetted) for
 * (name, qtype).  Does nothing for answers it does not keep.  -ENOMEM. */
int dns_cache_put(struct dns_cache *c, const char *name, size_t len, uint16_t qtype,
                  const uint8_t *msg, size_t msg_len, const struct dns_response *r,
                  uint64_t now_ms);

/* A live entry for (name, qtype): the message is copied into out with its
 * answer TTLs aged; returns its length, 0 on a miss, -ENOSPC if it does not
 * fit.  The ID and question bytes are upstream's: the caller puts back the
 * client's, as for any relayed answer. */
int dns_cache_get(struct dns_cache *c, const char *name, size_t len, uint16_t qtype,
                  uint64_t now_ms, uint8_t *out, size_t size);

void dns_cache_clear(struct dns_cache *c);
size_t dns_cache_count(const struct dns_cache *c);

#endif
