/* gateway.h - the one process every sandbox talks to.
 *
 * A gateway owns the policy slot, the name<->address map, the audit log and
 * the services that listen (today: DNS).  Services read the current policy
 * snapshot per request; gateway_set_policy() swaps in a new one atomically,
 * so a reload never stalls a query or half-applies.
 */
#ifndef AIRLOCK_GATEWAY_GATEWAY_H
#define AIRLOCK_GATEWAY_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/dns_service.h"
#include "log/writer.h"
#include "net/addr.h"
#include "net/loop.h"
#include "policy/policy.h"
#include "util/diag.h"

#define GATEWAY_MAX_LISTEN 8

struct gateway_config {
	const char *sandbox;                        /* name in the log */
	struct addr dns_listen[GATEWAY_MAX_LISTEN]; /* UDP and TCP on each */
	size_t n_dns_listen;
	struct dns_service_config dns;
	const char *log_path;   /* the audit log */
	uint64_t log_max_bytes; /* rotation; 0: never */
	unsigned log_keep;
	size_t addrmap_pairs;     /* default 65536 */
	uint32_t addrmap_grace_s; /* default 600 */
};

void gateway_config_default(struct gateway_config *c);

struct gateway;

/* Bind the listeners, open the log and start serving on `loop`.  Takes
 * ownership of `policy`, also on failure.  Errors say what and where. */
int gateway_new(struct loop *loop, const struct gateway_config *c, struct policy *policy,
                struct gateway **ret, struct diag *d);

/* Flushes the log. */
void gateway_free(struct gateway *g);
DEFINE_POINTER_CLEANUP(struct gateway, gateway_free)

/* Swap in a new snapshot (takes ownership) and log the change; `why` says
 * what changed ("reload: SIGHUP"). */
void gateway_set_policy(struct gateway *g, struct policy *p, const char *why);

/* Log a note (a reload that failed, a listener error...). */
void gateway_note(struct gateway *g, const char *fmt, ...) _printf_(2, 3);

void gateway_dns_stats(const struct gateway *g, struct dns_stats *ret);

#endif
