/* resolver.h - names to addresses for the proxy, through the DNS filter's path.
 *
 * The proxy never trusts the sandbox to resolve: it resolves the canonical
 * name it decided on, itself, and dials what it got.  A lookup asks the
 * upstream resolvers (dns/upstream) for A and AAAA at once and vets each
 * answer exactly as the DNS filter vets an answer for a client
 * (dns_filter_answer() under the policy snapshot of the request):
 *   - a loopback, private, link-local, metadata, unspecified or multicast
 *     address is refused unless an explicit CIDR rule allows it (DNS
 *     rebinding); here the rule must also allow the port being dialled;
 *   - a CNAME to a name a rule blocks is refused (CNAME cloaking);
 *   - an answer that does not fit the question is a failure.
 * One refused answer refuses the whole lookup, whatever the other family
 * said.  The addresses of vetted answers are recorded in the name<->address
 * map under the name asked, with their TTL, as the DNS service does.
 *
 * The result holds at most RESOLVER_MAX_ADDRS addresses, IPv4 and IPv6
 * interleaved, IPv4 first (A1, AAAA1, A2, AAAA2...), each in answer order and
 * with the port asked: a caller dialling them in turn tries both families
 * early, so one broken family costs one connect timeout, not all of them.
 *
 * Bounds: a lookup takes two queries of the upstream client, whose in-flight
 * cap applies (past it resolver_lookup() returns -EBUSY), and ends within
 * the upstream timeout times its attempts.  Everything is owned by the
 * gateway's event loop; nothing here is thread-safe.
 */
#ifndef AIRLOCK_GATEWAY_RESOLVER_H
#define AIRLOCK_GATEWAY_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "dns/addrmap.h"
#include "dns/upstream.h"
#include "net/addr.h"
#include "net/loop.h"
#include "policy/policy.h"
#include "util/diag.h"

#define RESOLVER_MAX_ADDRS  8
#define RESOLVER_REASON_MAX 512

enum resolver_status {
	RESOLVER_OK,         /* n >= 1 vetted addresses */
	RESOLVER_NO_ADDRESS, /* NXDOMAIN, or no A/AAAA record */
	RESOLVER_REFUSED,    /* the answer check refused it: rebinding, CNAME cloaking */
	RESOLVER_FAILED,     /* upstream timed out, failed, or answered nonsense */
};

struct resolver_result {
	enum resolver_status status;
	size_t n;
	struct addr addrs[RESOLVER_MAX_ADDRS]; /* port set to the one asked */
	/* RESOLVER_REFUSED by a rule (a blocked CNAME target): that decision. */
	bool by_policy;
	struct decision decision;
	/* One sentence for the 502 and the log: "rebinding: x.test answered
	 * 10.0.0.5 (private)", "upstream: Connection timed out", "NXDOMAIN". */
	char reason[RESOLVER_REASON_MAX];
};

/* Called once, from the loop, never from resolver_lookup(); the lookup is
 * finished then (do not cancel it). */
typedef void resolver_cb(void *ctx, const struct resolver_result *res);

struct resolver;
struct resolver_lookup;

/* `addrmap` is borrowed (may be NULL: nothing recorded). */
int resolver_new(struct loop *loop, const struct upstream_config *c, struct addrmap *addrmap,
                 struct resolver **ret, struct diag *d);
/* Cancels every lookup in flight without calling back.  Accepts NULL. */
void resolver_free(struct resolver *res);
DEFINE_POINTER_CLEANUP(struct resolver, resolver_free)

/* Resolve canonical `name` (name_normalize()) for a connection to `port`,
 * vetting the answers under `policy` (a reference is held until the lookup
 * ends).  Returns 0 with the handle in *ret (may be NULL), or -EINVAL (not a
 * name a query can carry), -EBUSY (upstream in-flight cap), -ENOMEM, or the
 * upstream client's error when neither query could be sent: then `cb`
 * never runs. */
int resolver_lookup(struct resolver *res, struct policy *policy, const char *name, size_t len,
                    uint16_t port, resolver_cb *cb, void *ctx, struct resolver_lookup **ret);

/* Forget a lookup; its callback will not run.  Accepts NULL. */
void resolver_cancel(struct resolver_lookup *l);

#endif
