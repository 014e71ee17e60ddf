/* addrmap.h - which addresses each allowed name resolved to, and back.
 *
 * Every A/AAAA record of an answer the DNS filter let through is recorded
 * here as a (name, address) pair with an expiry.  The transparent path asks
 * two questions of it:
 *   - addrmap_has(): is this connection's original destination one of the
 *     addresses this name resolved to?  (An SNI naming an allowed host sent
 *     to another address is domain fronting across policies: refused.)
 *   - addrmap_names(): which names resolved to this address?  (For a flow
 *     with no SNI or Host header.)
 *
 * Expiry: a pair lives for its TTL plus `grace_s`, because programs keep
 * using an address after its TTL (connection pools, their own caches), and
 * refusing them then would break them without making anything safer: the
 * address was the name's.  TTLs are capped at one day.
 *
 * Bounds: at most `max_pairs` pairs; when full, the pair refreshed longest
 * ago goes first (one response adds at most DNS_ANSWERS_MAX).  Memory is one
 * allocation per pair, sized to its name.  Hashes are seeded per map.  Not
 * thread-safe: owned by the gateway's event loop.
 */
#ifndef AIRLOCK_DNS_ADDRMAP_H
#define AIRLOCK_DNS_ADDRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macros.h"

#define ADDRMAP_MAX_TTL_S 86400

struct addrmap;

struct addrmap *addrmap_new(size_t max_pairs, uint32_t grace_s);
void addrmap_free(struct addrmap *m);
DEFINE_POINTER_CLEANUP(struct addrmap, addrmap_free)

/* Record (or refresh) that canonical `name` resolved to `addr` (4 or 16
 * bytes per family).  Returns 0, or -ENOMEM (the map is unchanged). */
int addrmap_add(struct addrmap *m, const char *name, size_t len, uint8_t family,
                const uint8_t *addr, uint32_t ttl_s, uint64_t now_ms);

/* Whether `name` resolved to `addr` and the pair has not expired. */
bool addrmap_has(const struct addrmap *m, const char *name, size_t len, uint8_t family,
                 const uint8_t *addr, uint64_t now_ms);

/* Calls fn for every live name that resolved to `addr`, most recent first,
 * until it returns false.  Returns how many names were passed. */
typedef bool (*addrmap_name_fn)(const char *name, size_t len, void *ctx);
size_t addrmap_names(const struct addrmap *m, uint8_t family, const uint8_t *addr, uint64_t now_ms,
                     addrmap_name_fn fn, void *ctx);

/* Drop expired pairs; the gateway calls it from a periodic timer. */
void addrmap_expire(struct addrmap *m, uint64_t now_ms);

size_t addrmap_count(const struct addrmap *m);

#endif
