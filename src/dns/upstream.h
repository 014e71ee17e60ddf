/* upstream.h - asking the upstream resolvers, without blocking the loop.
 *
 * The gateway never relays a client's bytes upstream: for every allowed
 * question it builds a fresh query (canonical name, its own random ID, EDNS
 * only if the client used it), so nothing a sandboxed program smuggles into
 * a query's other sections or IDs leaves the gateway.
 *
 * Each attempt uses its own UDP socket, connect()ed to the server, so the
 * kernel drops datagrams from anyone else, and the source port is random
 * too: a forged answer must guess 16 bits of ID and about 15 of port.  An
 * answer must also carry the question asked, or it is ignored and the
 * attempt keeps waiting.  An attempt that times out moves to the next
 * server; after `attempts` tries the query fails with -ETIMEDOUT.  An answer
 * with TC set is asked again over TCP, of the same server.
 *
 * At most `max_inflight` queries at once: upstream_query() returns -EBUSY
 * past that, so a flood of queries cannot exhaust descriptors.
 */
#ifndef AIRLOCK_DNS_UPSTREAM_H
#define AIRLOCK_DNS_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "dns/wire.h"
#include "net/addr.h"
#include "net/loop.h"

#define UPSTREAM_MAX_SERVERS 8

struct upstream_config {
	struct addr servers[UPSTREAM_MAX_SERVERS];
	size_t n_servers;
	unsigned timeout_ms; /* per attempt; default 1500 */
	unsigned attempts;   /* in all, across servers; default 3 */
	size_t max_inflight; /* default 1024 */
};

/* Defaults for everything but the servers. */
void upstream_config_default(struct upstream_config *c);

/* Servers from resolv.conf text ("nameserver ADDR" lines, port 53).
 * -ENOENT when there is none. */
int upstream_config_from_resolv_conf(struct upstream_config *c, const char *text);

struct upstream;
struct upstream_query;

/* `result`: 0 with the response's bytes (its ID is the upstream one; the
 * question matched), -ETIMEDOUT, -ECONNREFUSED (every attempt refused), or
 * another negative errno.  The query is finished when this is called: do not
 * cancel it. */
typedef void upstream_cb(void *ctx, int result, const uint8_t *msg, size_t len);

int upstream_new(struct loop *loop, const struct upstream_config *c, struct upstream **ret);
/* Cancels every query in flight, without calling their callbacks. */
void upstream_free(struct upstream *u);
DEFINE_POINTER_CLEANUP(struct upstream, upstream_free)

/* Ask `name` (canonical) / qtype / class IN.  edns_size: 0 for no OPT
 * record.  Returns 0 with the handle in *ret (may be NULL); the callback
 * runs later, from the loop, exactly once.  Or returns -EBUSY at the
 * in-flight cap, or the error of the last server tried when none could even
 * be sent to (-EMFILE, -ENETUNREACH...): then the callback never runs. */
int upstream_query(struct upstream *u, const char *name, size_t len, uint16_t qtype,
                   uint16_t edns_size, upstream_cb *cb, void *ctx, struct upstream_query **ret);

/* Forget a query; its callback will not run. */
void upstream_cancel(struct upstream_query *q);

size_t upstream_inflight(const struct upstream *u);

#endif
