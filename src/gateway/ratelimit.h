/* ratelimit.h - a token bucket per client address.
 *
 * Each client may make `burst` requests at once and `rate` a second after
 * that.  Buckets live in a fixed table of `slots` entries; a new client
 * takes the slot of the least recently seen one when the table is full, so
 * memory is fixed and a flood of spoofed sources only resets strangers'
 * buckets to full (errs towards serving, never towards refusing everyone).
 * Not thread-safe: owned by the gateway's loop.
 */
#ifndef AIRLOCK_GATEWAY_RATELIMIT_H
#define AIRLOCK_GATEWAY_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

struct ratelimit;

/* NULL when out of memory or when rate or burst is 0. */
struct ratelimit *ratelimit_new(size_t slots, unsigned rate, unsigned burst);
void ratelimit_free(struct ratelimit *r);

/* Take one token for the client's address (the port is ignored).  False
 * when its bucket is empty: refuse this request. */
bool ratelimit_take(struct ratelimit *r, const struct addr *client, uint64_t now_ms);

#endif
