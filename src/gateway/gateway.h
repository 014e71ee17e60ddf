/* gateway.h - the one process every sandbox talks to.
 *
 * A gateway owns the policy slot, the name<->address map, the audit log, the
 * control socket and the services that listen: the DNS filter, the HTTP
 * proxy (CONNECT and absolute-form) and transparent interception (TCP flows
 * nftables redirected to it, decided on their TLS SNI or HTTP Host and their
 * original destination: proxy_service.h).  The proxy resolves names through the
 * DNS service's upstream servers (dns.upstream) with the same answer check,
 * and records what it resolved in the same name<->address map.  Services read
 * the current policy snapshot per request; a reload or a runtime rule change
 * builds a new snapshot and swaps it in atomically, so it never stalls a
 * query or half-applies; the flows open at that moment are re-decided under
 * the new snapshot, and those it refuses are closed and logged.  Runtime rules (control socket:
 * allow, block, unallow, reset) live on top of the configured policy and survive reloads.
 */
#ifndef AIRLOCK_GATEWAY_GATEWAY_H
#define AIRLOCK_GATEWAY_GATEWAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gateway/approvals.h"
#include "gateway/dns_service.h"
#include "gateway/proxy_service.h"
#include "log/writer.h"
#include "net/addr.h"
#include "net/loop.h"
#include "policy/policy.h"
#include "util/diag.h"

#define GATEWAY_MAX_LISTEN  8
#define GATEWAY_MAX_SOCKETS 16
#define GATEWAY_MAX_RUNTIME 4096 /* rules added through the control socket */

/* Fill `b` with the configured policy (profile, rule files, command line):
 * the gateway calls it at every reload and runtime change, then adds its
 * runtime rules on top.  0, or a negative errno with `d` saying why. */
typedef int gateway_policy_fn(void *ctx, struct policy_builder *b, struct diag *d);

/* What a socket handed to the gateway serves. */
enum gateway_service {
	GATEWAY_DNS_UDP, /* a bound UDP socket */
	GATEWAY_DNS_TCP, /* a listening TCP socket */
	GATEWAY_PROXY,   /* a listening TCP socket */
	/* A listening TCP socket that nftables REDIRECTs intercepted flows to:
	 * each connection's original destination is read with SO_ORIGINAL_DST. */
	GATEWAY_TRANSPARENT,
};

/* A socket bound by someone else: `airlock run` binds its listeners inside
 * the sandbox's network namespace, where the gateway itself is not, and hands
 * them over. */
struct gateway_socket {
	enum gateway_service service;
	int fd;
};

struct gateway_config {
	const char *sandbox;                        /* name in the log */
	struct addr dns_listen[GATEWAY_MAX_LISTEN]; /* UDP and TCP on each */
	size_t n_dns_listen;
	struct dns_service_config dns;
	struct addr proxy_listen[GATEWAY_MAX_LISTEN]; /* TCP */
	size_t n_proxy_listen;
	/* TCP listeners for redirected flows (transparent interception): served
	 * by the proxy service, with its caps, timeouts and log. */
	struct addr transparent_listen[GATEWAY_MAX_LISTEN];
	size_t n_transparent_listen;
	struct proxy_service_config proxy; /* its `upstream` is ignored: dns.upstream is used */
	/* Sockets already bound, served besides the addresses above.  gateway_new
	 * takes ownership of every fd, also on failure. */
	struct gateway_socket sockets[GATEWAY_MAX_SOCKETS];
	size_t n_sockets;
	const char *log_path;   /* the audit log */
	uint64_t log_max_bytes; /* rotation; 0: never */
	unsigned log_keep;
	size_t addrmap_pairs;     /* default 65536 */
	uint32_t addrmap_grace_s; /* default 600 */
	const char *control_path; /* the control socket (control.h); NULL: none */
	/* One more user whose requests the control socket takes (an `airlock
	 * apply` sandbox's admin when its config is not immutable; the socket
	 * file's group and mode are the caller's to set, control_share); -1:
	 * none. */
	uid_t control_admin_uid;
	gateway_policy_fn *load_policy; /* NULL: the first policy is the only one */
	void *load_policy_ctx;
	/* Approvals (`airlock run --ask`, approvals.h): requests the policy
	 * refuses by its default are held until answered through the control
	 * socket (pending, approve ID [always], deny ID) or by whoever
	 * `ask_prompt` shows the question to.  An approval adds NAME[:PORT] as a
	 * runtime allow rule; "always" hands it to `ask_keep` (the sandbox's
	 * rule file) instead, or also makes it a runtime rule when that is
	 * NULL. */
	/* An NFLOG socket the sandbox's firewall logs its drops to
	 * (firewall_log.h), or -1.  gateway_new takes ownership, also on
	 * failure. */
	int firewall_fd;
	bool ask;
	struct approvals_config approvals;
	void (*ask_prompt)(void *ctx, const struct approval_question *q);
	void (*ask_settled)(void *ctx, const struct approval_question *q, enum approval_answer a);
	int (*ask_keep)(void *ctx, const char *rule, struct diag *d);
	void *ask_ctx;
};

void gateway_config_default(struct gateway_config *c);

struct gateway;

/* Bind the listeners, open the log and start serving on `loop`.  Takes
 * ownership of `policy` and of c->sockets' fds, also on failure.  Errors say
 * what and where. */
int gateway_new(struct loop *loop, const struct gateway_config *c, struct policy *policy,
                struct gateway **ret, struct diag *d);

/* Flushes the log. */
void gateway_free(struct gateway *g);
DEFINE_POINTER_CLEANUP(struct gateway, gateway_free)

/* Swap in a new snapshot (takes ownership) and log the change; `why` says
 * what changed ("reload: SIGHUP", "block *.x.test").  Every open relayed
 * flow is re-decided under it at once; those now refused are closed, each
 * with a record naming `why`. */
void gateway_set_policy(struct gateway *g, struct policy *p, const char *why);

/* Rebuild the policy: load_policy, then the runtime rules, each replacing an
 * identical configured rule (so `allow` can lift a profile's block on the
 * same name).  On failure the current policy stays; `d` says why. */
int gateway_reload(struct gateway *g, const char *why, struct diag *d);

/* Write a record made elsewhere to the audit log, with this gateway's
 * sandbox name. */
void gateway_log(struct gateway *g, struct audit_record *r);

/* Log what the firewall's socket holds now (before the end). */
void gateway_drain_firewall(struct gateway *g);

/* Answer an open question (the terminal's prompt): as the control socket's
 * approve/deny.  0, or -ENOENT when it is not open (`d` says so). */
int gateway_answer(struct gateway *g, unsigned id, enum approval_answer a, struct diag *d);

/* Log a note (a reload that failed, a listener error...). */
void gateway_note(struct gateway *g, const char *fmt, ...) _printf_(2, 3);

void gateway_dns_stats(const struct gateway *g, struct dns_stats *ret);
void gateway_proxy_stats(const struct gateway *g, struct proxy_stats *ret);

#endif
