/* dns_service.h - the gateway's DNS filter on the network.
 *
 * Listens on UDP and TCP sockets it is handed (bound elsewhere: in the
 * gateway's own namespace, or inside a sandbox's and passed back over
 * SCM_RIGHTS), decides each query with dns/filter under the current policy
 * snapshot, answers refusals itself, asks upstream for allowed questions
 * (dns/upstream), vets the answer (rebinding, cloaking), records its
 * addresses in the name<->address map and relays it with the client's ID
 * and question bytes (0x20 case included).  Every decision becomes one
 * audit record through `emit`.
 *
 * A query keeps the policy snapshot it arrived under until it is answered.
 * Bounds: a token bucket per client (`rate`/`burst`; excess is dropped and
 * summed up in one note a second), at most `max_tcp_clients` TCP
 * connections (one query at a time each, closed after `tcp_idle_ms` idle),
 * and the upstream client's cap on queries in flight (past it: SERVFAIL).
 * UDP answers larger than the client can take (512 bytes, or its EDNS size)
 * are replaced by a truncated reply (TC) so it retries over TCP.
 *
 * Vetted answers are cached for their TTL (dns/cache.h) and served with
 * their TTLs aged; the cache is emptied whenever the policy snapshot
 * changes.  A query is always decided by the policy before the cache is
 * looked at, so a cached answer never outlives the rule that allowed it.
 */
#ifndef AIRLOCK_GATEWAY_DNS_SERVICE_H
#define AIRLOCK_GATEWAY_DNS_SERVICE_H

#include <stdint.h>

#include "dns/addrmap.h"
#include "dns/filter.h"
#include "dns/upstream.h"
#include "gateway/approvals.h"
#include "log/audit.h"
#include "net/loop.h"
#include "policy/policy.h"
#include "util/diag.h"

struct dns_service_config {
	struct dns_filter_config filter;
	struct upstream_config upstream;
	unsigned rate;            /* queries a second per client; default 200 */
	unsigned burst;           /* default 400 */
	size_t max_tcp_clients;   /* default 128 */
	unsigned tcp_idle_ms;     /* default 10000 */
	size_t cache_entries;     /* vetted answers kept (dns/cache.h); 0: none; default 10000 */
	uint32_t cache_max_ttl_s; /* default 3600 */
};

/* Everything but the upstream servers. */
void dns_service_config_default(struct dns_service_config *c);

typedef void dns_emit_fn(void *ctx, const struct audit_record *r);

struct dns_service_env {
	struct loop *loop;
	struct policy_slot *policy; /* borrowed; a snapshot is taken per query */
	struct addrmap *addrmap;    /* borrowed */
	const char *sandbox;        /* for the log; may be "" */
	dns_emit_fn *emit;
	void *emit_ctx;
	/* Borrowed; NULL: none.  A query for a name the policy refuses by its
	 * default is held until someone answers (approvals.h), then decided
	 * again under the policy of that moment. */
	struct approvals *approvals;
};

struct dns_stats {
	uint64_t queries, forwarded, cached, refused, empty, formerr, servfail, dropped,
	        rate_limited;
	uint64_t tcp_refused; /* connections closed at the cap */
};

struct dns_service;

int dns_service_new(const struct dns_service_env *env, const struct dns_service_config *c,
                    struct dns_service **ret, struct diag *d);
void dns_service_free(struct dns_service *s);
DEFINE_POINTER_CLEANUP(struct dns_service, dns_service_free)

/* Serve on a bound UDP socket / a listening TCP socket.  Takes ownership of
 * the fd, also on failure. */
int dns_service_add_udp(struct dns_service *s, int fd);
int dns_service_add_tcp(struct dns_service *s, int fd);

void dns_service_stats(const struct dns_service *s, struct dns_stats *ret);

#endif
