/* flow_peek.c - the first bytes of a flow, peeked and decided: redirected
 * (transparent) flows and CONNECT tunnels.  The decisions themselves are
 * flow_check.h's; this file does the I/O around them.
 *
 * Peeking, not reading: the bytes stay in the client's socket (MSG_PEEK), so
 * the relay moves them to the server like any others, and nothing has to be
 * replayed.  Because the watch is level-triggered, a peek that found too
 * little would be reported again at once with the same bytes; SO_RCVLOWAT is
 * set to the size the parser needs next, so the loop wakes only when that
 * much is queued, or at the end of the stream, or on an error.  A wake-up
 * that brings no new byte is therefore the client closing its side.
 *
 * Deadlines: a client that sends nothing for peek_timeout_ms is decided
 * without its bytes (a server-speaks-first protocol: decided on the
 * address; a tunnel: as its CONNECT was decided); one that started a
 * ClientHello or a request head must finish it within head_timeout_ms, or
 * is refused - the name could be in the part not yet sent.  Bytes are
 * peeked up to the head buffer's size, which holds max(max_head,
 * TLS_HELLO_PEEK_MAX) and more: the parsers give their answer by then.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/flow_check.h"
#include "gateway/flow_conn.h"
#include "gateway/proxy_request.h"
#include "net/sock.h"

/* ---- the first bytes: transparent flows and CONNECT tunnels ----------------- */

static void on_check_resolved(void *ctx, const struct resolver_result *res);
static void on_flow_answered(void *ctx, enum approval_answer a);

/* A flow_check result for this flow: refuse, resolve to check, or go on
 * (dial the original destination; relay a tunnel). */
static void apply_flow_result(struct conn *c, const struct flow_result *fr)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	char body[BODY_MAX], addr[ADDR_STR_MAX];
	struct audit_record *r = &c->rec;

	/* The tunnel's record names the CONNECT target, and a ClientHello's
	 * other name only when that name is what refuses. */
	if (!hs->tunnel || fr->verdict == FLOW_REFUSE) {
		if (fr->has_name)
			audit_set_name(r, fr->name, fr->name_len);
		audit_set_decision(r, c->policy, &fr->decision);
	}
	addr_format_ip(&c->key.dest, addr, sizeof(addr));

	if (fr->verdict == FLOW_RESOLVE) {
		hs->checking = true;
		hs->check_len = fr->name_len;
		memcpy(hs->check_name, fr->name, fr->name_len + 1);
		int e = resolver_lookup(s->resolver, c->policy, fr->name, fr->name_len,
		                        addr_port(&c->key.dest), on_check_resolved, c, &c->lookup);
		if (e < 0) {
			const char *why = e == -EBUSY ? "too many lookups in flight" : strerror(-e);
			AUDIT_SET(r, detail, "502: cannot resolve %s to check %s: %s", fr->name,
			          addr, why);
			snprintf(body, sizeof(body), "airlock: cannot resolve %s: %s.\n", fr->name,
			         why);
			conn_refuse(c, 502, body);
			return;
		}
		if (conn_go_state(c, CONN_RESOLVE) < 0)
			conn_free(c);
		return;
	}
	if (fr->verdict == FLOW_REFUSE && !hs->tunnel && fr->has_name &&
	    fr->refusal == FLOW_REFUSAL_NAME && fr->decision.by == DECIDED_BY_DEFAULT) {
		/* Held for an answer, on the name it carries. */
		hs->check_len = fr->name_len;
		memcpy(hs->check_name, fr->name, fr->name_len + 1);
		if (conn_hold(c, fr->name, fr->name_len, addr_port(&c->key.dest), on_flow_answered))
			return;
	}
	if (fr->verdict == FLOW_REFUSE) {
		if (hs->tunnel)
			s->stats.sni_refused++;
		r->verdict = AUDIT_VERDICT_BLOCK;
		if (fr->refusal == FLOW_REFUSAL_INCONSISTENT) {
			AUDIT_SET(r, detail, "%s%s: %s does not resolve to %s (domain fronting?)",
			          hs->tunnel ? "TLS server name in the tunnel: " : "",
			          flow_refusal_text(fr->refusal), fr->name, addr);
			snprintf(body, sizeof(body),
			         "airlock: %s does not resolve to %s: a request naming one host "
			         "sent to another host's address is refused.\n",
			         fr->name, addr);
		} else {
			/* What was noted before (no SNI, nothing sent...) stays. */
			char before[sizeof(r->detail)];
			memcpy(before, r->detail, sizeof(before));
			AUDIT_SET(r, detail, "%s%s%s%s",
			          hs->tunnel ? "TLS server name in the tunnel: " : "",
			          flow_refusal_text(fr->refusal), before[0] ? "; " : "", before);
			struct target t = {.port = addr_port(&c->key.dest)};
			if (fr->has_name) {
				memcpy(t.name, fr->name, fr->name_len + 1);
				t.name_len = fr->name_len;
			} else {
				struct addr d = c->key.dest;
				addr_unmap(&d);
				t.is_addr = true;
				t.family = addr_family(&d) == AF_INET ? 4 : 6;
				memcpy(t.addr,
				       t.family == 4 ? (const void *)&d.in4.sin_addr
				                     : (const void *)d.in6.sin6_addr.s6_addr,
				       t.family == 4 ? 4 : 16);
			}
			struct proxy_refusal pr = {
			        .target = &t,
			        .decision = &fr->decision,
			        .rule = r->rule,
			        .origin = r->origin,
			        .addr_needs_cidr = fr->refusal == FLOW_REFUSAL_ADDRESS &&
			                           fr->decision.verdict == ACTION_ALLOW,
			};
			proxy_refusal_body(&pr, body, sizeof(body));
		}
		conn_refuse(c, 403, body);
		return;
	}
	/* Allowed: remember on what, for a policy change. */
	if (fr->has_name)
		flow_key_add_name(&c->key, fr->name, fr->name_len);
	if (fr->basis == FLOW_BASIS_CIDR)
		c->key.needs_cidr = true;
	c->decided = true;
	if (hs->tunnel) {
		AUDIT_SET(r, detail, "TLS server name %s; %s", fr->name,
		          flow_basis_text(fr->basis));
		conn_start_relay(c);
		return;
	}
	if (r->detail[0] == '\0')
		AUDIT_SET(r, detail, "%s", flow_basis_text(fr->basis));
	conn_dial_next(c);
}

static void on_check_resolved(void *ctx, const struct resolver_result *res)
{
	struct conn *c = ctx;
	struct head_state *hs = c->hs;
	struct flow_result fr;
	char body[BODY_MAX], addr[ADDR_STR_MAX];

	c->lookup = NULL;
	addr_format_ip(&c->key.dest, addr, sizeof(addr));
	if (res->status == RESOLVER_FAILED) {
		AUDIT_SET(&c->rec, detail, "502: cannot resolve %s to check %s: %s", hs->check_name,
		          addr, res->reason);
		snprintf(body, sizeof(body), "airlock: cannot resolve %s: %s.\n", hs->check_name,
		         res->reason);
		conn_refuse(c, 502, body);
		return;
	}
	/* Decided again under the current snapshot (it may have changed while
	 * we waited); the vetted answers are in the map now, and also here. */
	flow_decide_name(c->policy, c->s->env.addrmap, loop_now_ms(c->s->env.loop), hs->check_name,
	                 hs->check_len, &c->key.dest, &fr);
	if (fr.verdict == FLOW_RESOLVE)
		flow_decide_resolved(&fr, &c->key.dest,
		                     res->status == RESOLVER_OK ? res->addrs : NULL,
		                     res->status == RESOLVER_OK ? res->n : 0);
	hs->checking = false;
	apply_flow_result(c, &fr);
}

/* A held flow, answered: its name decided again under the policy of now. */
static void on_flow_answered(void *ctx, enum approval_answer a)
{
	struct conn *c = ctx;
	struct head_state *hs = c->hs;
	struct flow_result fr;

	c->ask = NULL;
	c->asked = true;
	AUDIT_SET(&c->rec, detail, "held for an answer: %s", approval_answer_text(a));
	flow_decide_name(c->policy, c->s->env.addrmap, loop_now_ms(c->s->env.loop), hs->check_name,
	                 hs->check_len, &c->key.dest, &fr);
	apply_flow_result(c, &fr);
}

/* Decide a transparent flow on what its first bytes said (or on nothing). */
static void decide_transparent(struct conn *c, const struct flow_sniff *sn)
{
	struct proxy_service *s = c->s;
	struct audit_record *r = &c->rec;
	struct flow_result fr;
	char body[BODY_MAX];
	uint64_t now = loop_now_ms(s->env.loop);

	r->proto = sn->status == FLOW_SNIFF_HTTP || (sn->status == FLOW_SNIFF_BAD && sn->http_400)
	                   ? AUDIT_PROTO_HTTP
	           : sn->tls ? AUDIT_PROTO_TLS
	                     : AUDIT_PROTO_TCP;
	c->hs->http = r->proto == AUDIT_PROTO_HTTP;
	if (sn->status == FLOW_SNIFF_BAD) {
		AUDIT_SET(r, detail, "%s: %s", sn->http_400 ? "400" : "malformed ClientHello",
		          sn->why);
		snprintf(body, sizeof(body), "airlock: bad request: %s.\n", sn->why);
		conn_refuse(c, 400, body);
		return;
	}
	if (sn->ech)
		AUDIT_SET(r, detail, "ECH offered: decided on the outer name");
	if (sn->has_name)
		flow_decide_name(c->policy, s->env.addrmap, now, sn->name, sn->name_len,
		                 &c->key.dest, &fr);
	else
		flow_decide_addr(c->policy, s->env.addrmap, now, &c->key.dest, &fr);
	if (!sn->has_name && r->detail[0] == '\0')
		AUDIT_SET(r, detail, "%s",
		          sn->status == FLOW_SNIFF_TLS    ? "TLS without a server name"
		          : sn->status == FLOW_SNIFF_HTTP ? "HTTP to an IP address"
		                                          : "no TLS or HTTP");
	apply_flow_result(c, &fr);
}

/* Decide a CONNECT tunnel's first bytes: a ClientHello naming another host
 * than the target is decided on that name too; anything else goes as the
 * CONNECT was decided. */
static void decide_tunnel(struct conn *c, const struct flow_sniff *sn)
{
	struct flow_result fr;
	const struct flow_key *k = &c->key;

	if (sn->status == FLOW_SNIFF_BAD) {
		AUDIT_SET(&c->rec, detail, "malformed ClientHello in the tunnel: %s", sn->why);
		c->s->stats.sni_refused++;
		conn_refuse(c, 400, "");
		return;
	}
	if (sn->status != FLOW_SNIFF_TLS || !sn->has_name ||
	    (k->n_names && k->names[0].len == sn->name_len &&
	     memcmp(k->names[0].name, sn->name, sn->name_len) == 0)) {
		if (sn->status == FLOW_SNIFF_TLS && !sn->has_name)
			AUDIT_SET(&c->rec, detail, "TLS without a server name in the tunnel");
		conn_start_relay(c);
		return;
	}
	flow_decide_name(c->policy, c->s->env.addrmap, loop_now_ms(c->s->env.loop), sn->name,
	                 sn->name_len, &c->key.dest, &fr);
	apply_flow_result(c, &fr);
}

/* PEEK ended without a byte from the client: a protocol where the server
 * speaks first, or a client that waits.  A transparent flow is decided on
 * its address; a tunnel goes as the CONNECT was decided. */
static void decide_silent(struct conn *c, const char *why)
{
	struct flow_sniff sn = {.status = FLOW_SNIFF_OTHER};

	AUDIT_SET(&c->rec, detail, "%s", why);
	if (c->hs->tunnel)
		conn_start_relay(c);
	else
		decide_transparent(c, &sn);
}

/* A ClientHello or request head begun and not finished: the client closed
 * its side (400) or took too long (408).  An HTTP start gets a response. */
static void refuse_incomplete(struct conn *c, int status)
{
	struct head_state *hs = c->hs;
	struct flow_sniff sn;
	char body[BODY_MAX];

	flow_sniff(hs->buf, hs->peeked, c->s->config.max_head, hs->tunnel ? FLOW_SNIFF_TLS_ONLY : 0,
	           &sn);
	if (!hs->tunnel) {
		hs->http = !sn.tls;
		c->rec.proto = sn.tls ? AUDIT_PROTO_TLS : AUDIT_PROTO_HTTP;
	}
	if (status == 408)
		AUDIT_SET(&c->rec, detail, "408: %s not complete after %u ms (%zu bytes)",
		          sn.tls ? "TLS ClientHello" : "request head", c->s->config.head_timeout_ms,
		          hs->peeked);
	else
		AUDIT_SET(&c->rec, detail,
		          "400: the client stopped after %zu bytes, in the middle of %s",
		          hs->peeked, sn.tls ? "a TLS ClientHello" : "an HTTP request head");
	snprintf(body, sizeof(body), "airlock: %s.\n",
	         status == 408 ? "the request head did not arrive in time"
	                       : "incomplete request head");
	conn_refuse(c, status, body);
}

/* PEEK: look at what the client sent so far without taking it (MSG_PEEK),
 * and decide once it is a whole ClientHello or request head, or clearly
 * neither.  `readable`: called because the loop said so (SO_RCVLOWAT was
 * set past what we saw), so seeing no new byte means the client shut its
 * side. */
void conn_peek(struct conn *c, bool readable)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	struct flow_sniff sn;
	bool eof = false;

	ssize_t n = recv(c->fd, hs->buf + hs->pre, hs->cap - hs->pre, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		/* ECONNRESET: the client gave up.  Nothing to decide. */
		if (hs->peeked) {
			AUDIT_SET(&c->rec, detail,
			          "client gone before its first bytes were complete: %s",
			          strerror(errno));
			c->rec.verdict = AUDIT_VERDICT_BLOCK;
			conn_emit(s, &c->rec);
			s->stats.bad++;
		}
		conn_free(c);
		return;
	}
	if (n < 0 && readable)
		return; /* nothing queued after all: wait for the next wake-up */
	if (n < 0)
		n = 0;
	size_t total = hs->pre + (size_t)n;
	if (readable && (n == 0 || total == hs->peeked))
		eof = true; /* readable, and no byte more than the low mark refused */
	hs->peeked = total;
	if (total == 0) {
		if (eof)
			decide_silent(c, "the client closed its side without sending anything");
		return;
	}
	flow_sniff(hs->buf, total, s->config.max_head, hs->tunnel ? FLOW_SNIFF_TLS_ONLY : 0, &sn);
	if (sn.status == FLOW_SNIFF_NEED_MORE) {
		if (!eof && total < hs->cap) {
			conn_set_rcvlowat(c->fd, sn.need - hs->pre);
			return;
		}
		refuse_incomplete(c, 400);
		return;
	}
	if (hs->tunnel)
		decide_tunnel(c, &sn);
	else
		decide_transparent(c, &sn);
}

/* PEEK's deadline: without a byte the flow is decided as it stands; a
 * start is given until head_timeout_ms (from the PEEK's start) to complete. */
void conn_peek_timeout(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	uint64_t waited = loop_now_ms(s->env.loop) - hs->peek_start_ms;
	char why[128];

	if (hs->peeked == 0) {
		snprintf(why, sizeof(why), "no bytes from the client within %u ms: %s",
		         s->config.peek_timeout_ms,
		         hs->tunnel ? "tunnel as the CONNECT was decided"
		                    : "decided on the address");
		decide_silent(c, why);
		return;
	}
	if (waited < s->config.head_timeout_ms) {
		loop_timer_reset(c->timer, s->config.head_timeout_ms - waited);
		return;
	}
	refuse_incomplete(c, 408);
}

static bool same_ip(const struct addr *a, const struct addr *b)
{
	struct addr x = *a, y = *b;
	addr_set_port(&x, 0);
	addr_set_port(&y, 0);
	return addr_equal(&x, &y);
}

/* A redirected flow whose original destination is one of our own listeners
 * would have the gateway connect to itself (and, through the redirect, to
 * itself again). */
static bool is_our_listener(const struct proxy_service *s, const struct addr *dst,
                            const struct addr *local)
{
	for (const struct listener *l = s->listeners; l; l = l->next) {
		if (addr_port(&l->local) != addr_port(dst) ||
		    addr_family(&l->local) != addr_family(dst))
			continue;
		if (same_ip(&l->local, dst))
			return true;
		if (addr_classify(&l->local) == ADDR_CLASS_UNSPECIFIED && same_ip(dst, local))
			return true;
	}
	return false;
}

/* A transparent flow: where was it going?  0, or the connection is logged,
 * closed and freed and -1 returned. */
int conn_transparent_start(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	struct addr dst, local;

	c->rec.proto = AUDIT_PROTO_TCP;
	int r = sock_original_dst(c->fd, &dst);
	if (r == 0 && sock_local_addr(c->fd, &local) == 0 && is_our_listener(s, &dst, &local))
		r = -ELOOP;
	if (r < 0) {
		if (r == -ELOOP) {
			addr_format_ip(&dst, c->rec.address, sizeof(c->rec.address));
			c->rec.port = addr_port(&dst);
		}
		AUDIT_SET(&c->rec, detail, "not a redirected flow: %s",
		          r == -ELOOP    ? "its original destination is the gateway's own listener"
		          : r == -ENOENT ? "no redirect recorded for it (a connection made to the "
		                           "transparent listener itself?)"
		          : r == -ENOPROTOOPT
		                  ? "connection tracking is not available to read its destination"
		                  : strerror(-r));
		c->rec.verdict = AUDIT_VERDICT_BLOCK;
		conn_emit(s, &c->rec);
		s->stats.blocked++;
		conn_abort(c);
		return -1;
	}
	addr_unmap(&dst);
	c->key.dest = dst;
	hs->dest.n = 1;
	hs->dest.addrs[0] = dst;
	addr_format_ip(&dst, c->rec.address, sizeof(c->rec.address));
	c->rec.port = addr_port(&dst);
	return 0;
}
