/* proxy_service.h - the gateway's HTTP proxy (CONNECT and absolute-form) and
 * its transparent interception of redirected TCP flows.
 *
 * Listens on TCP sockets it is handed, of two kinds.  On a proxy listener
 * each client connection is one request:
 *
 *   HEAD     read the request head (proxy/http_head.h), at most `max_head`
 *            bytes, and all of it within `head_timeout_ms` of the accept
 *            (a slow-loris client is cut off: 408, logged);
 *   decide   the canonical host and port of the target - a name, or an
 *            address - are matched by policy_decide() under the snapshot the
 *            connection was accepted under.  An address (IP literal) passes
 *            only when an explicit CIDR rule allows it: a default of "allow"
 *            does not count.  Refused: 403 naming the target, the rule or
 *            default that refused it, where that rule comes from and how to
 *            allow it.  Origin-form requests ("GET / HTTP/1.1") are 400: this
 *            listener is an explicit proxy.  Malformed heads: 400 with
 *            http_head_strerror()'s sentence.
 *   RESOLVE  a name is resolved by the gateway itself (gateway/resolver.h:
 *            the DNS filter's upstreams and answer check, rebinding included);
 *            no address, a refused answer or a failed lookup: 502 saying which.
 *   CONNECT  the addresses are dialled in turn, each for at most
 *            `connect_timeout_ms`; all failed: 502, or 504 when the last one
 *            timed out.  What is dialled is what was resolved and checked,
 *            never a second resolution.
 *   TUNNEL   CONNECT: "HTTP/1.1 200 Connection established", then the
 *            tunnel's first bytes are peeked (as PEEK below, TLS only): a
 *            ClientHello whose SNI names another host than the target is
 *            decided on that name too, against the address dialled
 *            (gateway/flow_check.h: the name must be allowed and lead to
 *            that address); refused or inconsistent: the tunnel is reset and
 *            logged.  No SNI, not TLS, or nothing within peek_timeout_ms: the
 *            tunnel goes as the CONNECT was decided.  A malformed
 *            ClientHello is refused.
 *   RELAY    CONNECT: bytes both ways (gateway/relay.h), the client's
 *            pipelined bytes first.
 *            Absolute-form: the head is forwarded in origin-form ("GET
 *            /path?query HTTP/1.1"), without the hop-by-hop headers
 *            (Connection and the headers it names, Proxy-Connection,
 *            Proxy-Authorization, Keep-Alive, TE, Trailer, Upgrade), with the
 *            client's Host replaced by the canonical target authority (the
 *            name that was checked is the name the origin sees) and with
 *            "Connection: close"; then the request body, then the response
 *            back until the origin closes.  One request per client
 *            connection: the body is forwarded up to its Content-Length (or
 *            nothing without one), and what the client pipelines after it is
 *            never read.  A chunked body is forwarded until the client stops
 *            sending.  Content-Length, Transfer-Encoding and Host are never
 *            dropped because Connection names them: that would change the
 *            request's framing between the client and the origin.
 *   LINGER   after an error response: the write side is shut and the client's
 *            remaining input drained (at most 64 KiB, 2 s) so that the
 *            response is not lost to a reset.
 *
 * On a transparent listener each connection is a flow nftables redirected
 * (REDIRECT, not TPROXY):
 *
 *   DEST     its original destination from conntrack (net/sock.h
 *            sock_original_dst: SO_ORIGINAL_DST, IP6T_SO_ORIGINAL_DST).  No
 *            redirect recorded (a connection to the listener itself, no
 *            conntrack), or a destination that is one of this service's own
 *            listeners (a loop): reset and logged.
 *   PEEK     the first bytes, peeked (MSG_PEEK: they stay in the socket for
 *            the relay), at most max(max_head, TLS_HELLO_PEEK_MAX):
 *            a TLS ClientHello gives the SNI, an HTTP/1.x head its Host
 *            (gateway/flow_check.h flow_sniff).  Nothing within
 *            peek_timeout_ms (a protocol where the server speaks first):
 *            decided on the address alone.  A ClientHello or head begun must
 *            be whole within head_timeout_ms, else refused (408); malformed
 *            ones are refused (400).
 *   decide   flow_check.h: a name is decided, then must be consistent with
 *            the destination - one of the addresses it resolved to (the
 *            name<->address map), or one a CIDR rule allows; else the
 *            gateway resolves the name (RESOLVE, as above) and requires the
 *            destination among the answers.  No name: the names the map
 *            has for the address, then CIDR rules.  Refused: HTTP gets the
 *            403 the proxy gives; TLS and other TCP are reset.
 *   CONNECT  the original destination only, never a resolved address; fails:
 *            502/504 for HTTP, a reset otherwise.
 *   RELAY    bytes both ways, the peeked bytes first (they never left the
 *            client's socket).  Nothing is rewritten.
 *
 * Policy changes: proxy_service_policy_changed() re-decides every
 * connection past its decision, at once, on what it was allowed on (its
 * names, port and address: flow_check.h flow_recheck); those the new snapshot
 * refuses are reset, each logged with verdict block, the rule that now
 * refuses it and detail "closed: policy changed (WHY)" (a CLOSE record with
 * the bytes so far when it was relaying).  The others carry on untouched and
 * hold the new snapshot from then on, as do connections not yet decided.
 * Cost: one policy lookup per name per open connection.
 *
 * Audit: one DECISION record per request (proto "connect" or "http"; client,
 * name or address, port, verdict, rule and origin, the dialled address when
 * allowed, the error when it failed: a policy-allowed request that cannot be
 * served is logged with verdict block and the status in `detail`), and one
 * CLOSE record per relayed connection with bytes_up (to the server, the
 * forwarded head included), bytes_down and duration_ms (from the accept).
 * Transparent flows are logged the same way with proto "tls" (a ClientHello
 * came first), "http" (a request head) or "tcp" (anything else, or nothing),
 * the name decided on (SNI, Host, or the map's name for the address) and
 * the original destination's address and port.
 *
 * Bounds: at most `max_clients` connections in any state (at the cap a new
 * one is accepted and closed at once, with a note at most once a second);
 * heads of at most `max_head` bytes; `idle_ms` without a byte moved ends a
 * relay.  A connection holds its policy snapshot, its fds (client, server,
 * one pipe a direction: up to 6) and about 5 KiB; the head buffer
 * (max(max_head, TLS_HELLO_PEEK_MAX) + 4 KiB) is freed when the relay
 * starts.  The process must ignore SIGPIPE (relay.h).
 */
#ifndef AIRLOCK_GATEWAY_PROXY_SERVICE_H
#define AIRLOCK_GATEWAY_PROXY_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "dns/addrmap.h"
#include "dns/upstream.h"
#include "gateway/approvals.h"
#include "log/audit.h"
#include "net/loop.h"
#include "policy/policy.h"
#include "util/diag.h"

struct proxy_service_config {
	struct upstream_config upstream; /* the resolvers names are asked of */
	size_t max_clients;              /* default 1024 */
	size_t max_head;                 /* bytes; default 16 KiB, at most HTTP_HEAD_SIZE_LIMIT */
	unsigned head_timeout_ms;        /* the whole head; default 10000 */
	unsigned connect_timeout_ms;     /* per address dialled; default 10000 */
	unsigned idle_ms;                /* a relay without traffic; default 300000 */
	/* Transparent flows and CONNECT tunnels: how long to wait for the
	 * client's first byte before deciding without it; default 1000. */
	unsigned peek_timeout_ms;
};

/* Everything but the upstream servers. */
void proxy_service_config_default(struct proxy_service_config *c);

typedef void proxy_emit_fn(void *ctx, const struct audit_record *r);

struct proxy_service_env {
	struct loop *loop;
	struct policy_slot *policy; /* borrowed; a snapshot is taken per connection */
	struct addrmap *addrmap;    /* borrowed; resolved addresses are recorded */
	const char *sandbox;        /* for the log; may be "" */
	proxy_emit_fn *emit;
	void *emit_ctx;
	/* Borrowed; NULL: none.  A request or redirected flow naming a host the
	 * policy refuses by its default is held (state ASK, the client not
	 * read) until someone answers (approvals.h), then decided again. */
	struct approvals *approvals;
};

struct proxy_stats {
	uint64_t accepted;
	uint64_t cap_refused; /* closed at the connection cap */
	uint64_t allowed;     /* requests relayed */
	uint64_t blocked;     /* 403 */
	uint64_t bad;         /* 400, 408 */
	uint64_t failed;      /* 502, 504 */
	uint64_t bytes_up, bytes_down;
	uint64_t transparent;   /* flows accepted on transparent listeners */
	uint64_t sni_refused;   /* CONNECT tunnels refused for their ClientHello */
	uint64_t policy_closed; /* open flows closed because a new policy refuses them */
	size_t active;          /* connections open now */
};

struct proxy_service;

int proxy_service_new(const struct proxy_service_env *env, const struct proxy_service_config *c,
                      struct proxy_service **ret, struct diag *d);
/* Closes every connection; relays still open get their CLOSE record. */
void proxy_service_free(struct proxy_service *s);
DEFINE_POINTER_CLEANUP(struct proxy_service, proxy_service_free)

/* Serve on a listening TCP socket.  Takes ownership of the fd, also on
 * failure. */
int proxy_service_add_listener(struct proxy_service *s, int fd);

/* Serve redirected flows (transparent interception) on a listening TCP
 * socket.  Takes ownership of the fd, also on failure. */
int proxy_service_add_transparent_listener(struct proxy_service *s, int fd);

/* The policy slot holds a new snapshot: re-decide every open flow under it
 * (see "Policy changes" above).  `why` goes into the records of the flows it
 * closes ("block *.x.test"). */
void proxy_service_policy_changed(struct proxy_service *s, const char *why);

void proxy_service_stats(const struct proxy_service *s, struct proxy_stats *ret);

#endif
