#include "gateway/proxy_service.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/flow_check.h"
#include "gateway/flow_conn.h"
#include "gateway/proxy_request.h"
#include "gateway/relay.h"
#include "gateway/resolver.h"
#include "net/sock.h"
#include "proxy/http_head.h"
#include "proxy/tls_hello.h"

/* How long a held connection may wait, whatever its question's deadline:
 * a day.  Only a guard: approvals.h resumes it long before. */
#define ASK_GUARD_MS (24u * 3600 * 1000)

/* Legal transitions: from -> bit set of destinations.  RELAY and LINGER
 * end with the connection freed; so does a refusal by reset, from any
 * state. */
static const unsigned transitions[CONN_N_STATES] = {
        [CONN_HEAD] = 1u << CONN_ASK | 1u << CONN_RESOLVE | 1u << CONN_CONNECT | 1u << CONN_LINGER,
        [CONN_PEEK] = 1u << CONN_ASK | 1u << CONN_RESOLVE | 1u << CONN_CONNECT | 1u << CONN_RELAY |
                      1u << CONN_LINGER,
        [CONN_ASK] = 1u << CONN_RESOLVE | 1u << CONN_CONNECT | 1u << CONN_RELAY | 1u << CONN_LINGER,
        [CONN_RESOLVE] = 1u << CONN_CONNECT | 1u << CONN_RELAY | 1u << CONN_LINGER,
        [CONN_CONNECT] = 1u << CONN_PEEK | 1u << CONN_RELAY | 1u << CONN_LINGER,
};

void proxy_service_config_default(struct proxy_service_config *c)
{
	memset(c, 0, sizeof(*c));
	upstream_config_default(&c->upstream);
	c->max_clients = 1024;
	c->max_head = HTTP_HEAD_DEFAULT_SIZE;
	c->head_timeout_ms = 10000;
	c->connect_timeout_ms = 10000;
	c->idle_ms = 300000;
	c->peek_timeout_ms = 1000;
}

/* ---- log records -------------------------------------------------------- */

void conn_emit(struct proxy_service *s, const struct audit_record *r)
{
	if (s->env.emit)
		s->env.emit(s->env.emit_ctx, r);
}

static void note_throttled(struct proxy_service *s, struct note_throttle *t,
                           const struct addr *client, const char *what)
{
	uint64_t now = loop_now_ms(s->env.loop);
	if (t->last_ms && now - t->last_ms < NOTE_EVERY_MS) {
		t->suppressed++;
		return;
	}
	struct audit_record r;
	audit_record_init(&r, AUDIT_EVENT_NOTE, AUDIT_PROTO_HTTP);
	snprintf(r.sandbox, sizeof(r.sandbox), "%s", s->env.sandbox);
	if (client)
		addr_format(client, r.client, sizeof(r.client));
	AUDIT_SET(&r, detail, "%s (%llu more since the last note)", what,
	          (unsigned long long)t->suppressed);
	conn_emit(s, &r);
	t->last_ms = now;
	t->suppressed = 0;
}

/* ---- connections: life and state ----------------------------------------- */

static loop_fd_cb on_client;
static loop_timer_cb on_timer;

/* Register exactly `ev` for the client fd; 0 takes it out of the loop (a
 * client that hung up is reported whatever the interest). */
static int watch_client(struct conn *c, uint32_t ev)
{
	struct loop *loop = c->s->env.loop;
	int e = 0;

	if (ev == c->watch)
		return 0;
	if (!c->watch)
		e = loop_add_fd(loop, c->fd, ev, on_client, c);
	else if (!ev)
		(void)loop_del_fd(loop, c->fd);
	else
		e = loop_mod_fd(loop, c->fd, ev);
	if (e == 0)
		c->watch = ev;
	return e;
}

void conn_free(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct loop *loop = s->env.loop;

	resolver_cancel(c->lookup);
	approvals_cancel(c->ask);
	relay_free(c->relay);
	if (c->fd >= 0) {
		(void)watch_client(c, 0);
		close(c->fd);
	}
	if (c->up_fd >= 0) {
		(void)loop_del_fd(loop, c->up_fd);
		close(c->up_fd);
	}
	loop_timer_cancel(c->timer);
	policy_unref(c->policy);
	free(c->hs);
	*(c->prev ? &c->prev->next : &s->conns) = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->stats.active--;
	free(c);
}

/* Close with a reset (SO_LINGER 0): a refused flow ends at once and
 * visibly for both ends ("connection reset"), instead of looking like a
 * server that finished.  Best effort. */
static void set_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void conn_abort(struct conn *c)
{
	set_reset(c->fd);
	set_reset(c->up_fd);
	if (c->relay) {
		set_reset(c->relay_fds[0]);
		set_reset(c->relay_fds[1]);
	}
	conn_free(c);
}

/* Wake the loop for the client only once `bytes` are queued: while the
 * first bytes are peeked, not read, a level-triggered watch would otherwise
 * report the same bytes again and again.  Linux's tcp_poll() honours it;
 * end of stream and errors are reported whatever it says. */
void conn_set_rcvlowat(int fd, size_t bytes)
{
	int v = bytes > INT32_MAX ? INT32_MAX : bytes < 1 ? 1 : (int)bytes;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
}

/* The one place a connection changes state: sets what the new state waits
 * for (fd interest) and for how long (its timer).  Returns 0 or -errno, the
 * connection then being the caller's to free. */
int conn_go_state(struct conn *c, enum conn_state to)
{
	const struct proxy_service_config *cfg = &c->s->config;

	if (!(transitions[c->state] & (1u << to))) {
		assert(!"illegal proxy connection state transition");
		return -EINVAL; /* without assertions: the connection is closed */
	}
	c->state = to;
	switch (to) {
	case CONN_HEAD:
		break;
	case CONN_PEEK:
		c->hs->peek_start_ms = loop_now_ms(c->s->env.loop);
		loop_timer_reset(c->timer, cfg->peek_timeout_ms);
		return watch_client(c, LOOP_READ);
	case CONN_ASK:
		/* The question has its own deadline (approvals.h), after which
		 * the request is resumed and refused; this timer must only not
		 * fire first. */
		(void)watch_client(c, 0);
		loop_timer_reset(c->timer, ASK_GUARD_MS);
		break;
	case CONN_RESOLVE:
		(void)watch_client(c, 0);
		loop_timer_reset(c->timer, c->s->resolve_guard_ms);
		break;
	case CONN_CONNECT:
		(void)watch_client(c, 0);
		loop_timer_reset(c->timer, cfg->connect_timeout_ms); /* reset per address */
		break;
	case CONN_RELAY:
		loop_timer_cancel(c->timer);
		c->timer = NULL;
		break;
	case CONN_LINGER:
		conn_set_rcvlowat(c->fd, 1);
		loop_timer_reset(c->timer, LINGER_MS);
		return watch_client(c, LOOP_READ);
	case CONN_N_STATES:
		break;
	}
	return 0;
}

/* ---- refusals ------------------------------------------------------------- */

static const char *status_reason(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 408:
		return "Request Timeout";
	case 502:
		return "Bad Gateway";
	case 504:
		return "Gateway Timeout";
	default:
		return "Error";
	}
}

static void count_refusal(struct proxy_service *s, int status)
{
	if (status == 403)
		s->stats.blocked++;
	else if (status == 400 || status == 408)
		s->stats.bad++;
	else
		s->stats.failed++;
}

/* End a request that is not relayed: log its record (verdict block; the
 * caller set the rest), answer `status` with `body`, and linger.  The
 * response is small and the socket's send buffer empty, so one send()
 * takes it; if not, the client gets a cut response, never a blocked loop. */
static void reject(struct conn *c, int status, const char *body)
{
	struct proxy_service *s = c->s;
	char out[RESPONSE_MAX];

	c->rec.verdict = AUDIT_VERDICT_BLOCK;
	conn_emit(s, &c->rec);
	count_refusal(s, status);

	int n = snprintf(out, sizeof(out),
	                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                 status, status_reason(status), strlen(body), body);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1;
	ssize_t sent = send(c->fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent < 0 && (errno == EPIPE || errno == ECONNRESET)) {
		/* The client is gone: nobody to linger for. */
		conn_free(c);
		return;
	}
	/* Sent, cut short (EAGAIN, a partial send) or failed otherwise: in
	 * every case we are done talking.  Shut our side and drain theirs. */
	(void)shutdown(c->fd, SHUT_WR);
	if (conn_go_state(c, CONN_LINGER) < 0)
		conn_free(c);
}

/* Refuse a flow: with an HTTP response where the client speaks HTTP to us
 * (an explicit request before its tunnel is up, a transparent HTTP flow),
 * else by logging and resetting the connection - a TLS client or a tunnel
 * has no place for our words.  `status` also says how it is counted. */
void conn_refuse(struct conn *c, int status, const char *body)
{
	bool http = c->kind == CONN_EXPLICIT ? !c->hs->tunnel : c->hs->http;

	if (http) {
		reject(c, status, body);
		return;
	}
	c->rec.verdict = AUDIT_VERDICT_BLOCK;
	conn_emit(c->s, &c->rec);
	count_refusal(c->s, status);
	conn_abort(c);
}

/* LINGER: read and drop what the client still sends, so that closing with
 * unread data does not reset the connection before it read our response. */
static void drain(struct conn *c)
{
	uint8_t junk[4096];
	ssize_t n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);

	if (n > 0) {
		c->drained += (size_t)n;
		if (c->drained >= LINGER_MAX)
			conn_free(c);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return; /* the loop calls again */
	conn_free(c);   /* EOF, ECONNRESET or another error: the client is done */
}

/* The target as the client sees it, for response bodies: "name:port",
 * "192.0.2.1:443". */
static void conn_target_text(const struct conn *c, char *buf, size_t size)
{
	struct target t = {0};

	if (c->kind == CONN_EXPLICIT) {
		target_format(&c->hs->h.host, buf, size);
		return;
	}
	if (c->rec.name_len && c->rec.name_len < sizeof(t.name)) {
		memcpy(t.name, c->rec.name, c->rec.name_len + 1);
		t.name_len = c->rec.name_len;
		t.port = c->rec.port;
		target_format(&t, buf, size);
		return;
	}
	addr_format(&c->key.dest, buf, size);
}

/* ---- relaying --------------------------------------------------------------- */

static void on_relay_done(void *ctx, const struct relay_result *res)
{
	struct conn *c = ctx;
	struct proxy_service *s = c->s;
	struct audit_record *r = &c->rec;

	r->event = AUDIT_EVENT_CLOSE;
	r->time_ms = audit_now_ms();
	r->bytes_up = res->bytes_up;
	r->bytes_down = res->bytes_down;
	r->duration_ms = loop_now_ms(s->env.loop) - c->start_ms;
	switch (res->end) {
	case RELAY_END_DONE:
		AUDIT_SET(r, detail, "closed%s", res->copied ? " (copied: no splice)" : "");
		break;
	case RELAY_END_IDLE:
		AUDIT_SET(r, detail, "idle timeout: nothing moved for %u ms", s->config.idle_ms);
		break;
	case RELAY_END_ERROR:
		AUDIT_SET(r, detail, "%s: %s", res->where, strerror(-res->error));
		break;
	}
	s->stats.bytes_up += res->bytes_up;
	s->stats.bytes_down += res->bytes_down;
	conn_emit(s, r);
	conn_free(c); /* frees the relay: allowed from its callback */
}

/* The relay forwards each read as it comes: with Nagle on, a small write
 * behind unacknowledged data would wait for the peer's delayed ACK (up to
 * 40 ms a round trip in a TLS handshake).  Best effort: a socket that
 * refuses still relays. */
static void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Connected and allowed: hand both fds to a relay.  What goes to the server
 * first: an absolute-form request rewritten for the origin, or the bytes a
 * CONNECT client sent with its head; a transparent flow's first bytes are
 * still in its socket.  The flow's DECISION record goes out here, allowed. */
void conn_start_relay(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	const struct http_head *h = &hs->h;
	struct relay_config rc;
	_cleanup_free_ uint8_t *built = NULL;
	const uint8_t *pre = hs->buf;
	size_t pre_len = hs->pre;
	int r;

	relay_config_default(&rc);
	rc.idle_ms = s->config.idle_ms;
	if (c->kind == CONN_EXPLICIT && h->method != HTTP_METHOD_CONNECT) {
		r = proxy_request_build(h, hs->buf, hs->have, &built, &pre_len, &rc.up_limit);
		if (r < 0) {
			AUDIT_SET(&c->rec, detail, "cannot forward the request: %s", strerror(-r));
			conn_emit(s, &c->rec);
			s->stats.failed++;
			conn_free(c);
			return;
		}
		pre = built;
	}
	(void)watch_client(c, 0);
	(void)loop_del_fd(s->env.loop, c->up_fd); /* -ENOENT when PEEK took it out */
	set_nodelay(c->fd);
	set_nodelay(c->up_fd);
	conn_set_rcvlowat(c->fd, 1);
	c->relay_fds[0] = c->fd;
	c->relay_fds[1] = c->up_fd;
	int cfd = TAKE_FD(c->fd), ufd = TAKE_FD(c->up_fd);
	r = relay_new(s->env.loop, cfd, ufd, &rc, pre, pre_len, on_relay_done, c, &c->relay);
	if (r < 0) { /* the fds are closed */
		AUDIT_SET(&c->rec, detail, "cannot relay: %s", strerror(-r));
		conn_emit(s, &c->rec);
		s->stats.failed++;
		conn_free(c);
		return;
	}
	conn_emit(s, &c->rec);
	s->stats.allowed++;
	free(TAKE_PTR(c->hs));
	if (conn_go_state(c, CONN_RELAY) < 0)
		conn_free(c);
}

/* ---- dialling --------------------------------------------------------------- */

static loop_fd_cb on_server;

void conn_dial_next(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	char target[RULE_TEXT_SIZE], body[BODY_MAX];

	while (hs->next_addr < hs->dest.n) {
		const struct addr *a = &hs->dest.addrs[hs->next_addr++];
		addr_format_ip(a, c->rec.address, sizeof(c->rec.address));
		c->key.dest = *a;
		int fd = sock_connect_tcp_nb(a);
		if (fd < 0) { /* ENETUNREACH (no route for this family), EMFILE... */
			hs->last_error = fd;
			continue;
		}
		int e = loop_add_fd(s->env.loop, fd, LOOP_WRITE, on_server, c);
		if (e < 0) {
			close(fd);
			hs->last_error = e;
			continue;
		}
		c->up_fd = fd;
		if (c->state == CONN_CONNECT)
			loop_timer_reset(c->timer, s->config.connect_timeout_ms);
		else if (conn_go_state(c, CONN_CONNECT) < 0)
			conn_free(c);
		return;
	}
	conn_target_text(c, target, sizeof(target));
	int status = hs->last_error == -ETIMEDOUT ? 504 : 502;
	if (status == 504) {
		AUDIT_SET(&c->rec, detail, "504: connecting to %s timed out after %u ms",
		          c->rec.address, s->config.connect_timeout_ms);
		snprintf(body, sizeof(body),
		         "airlock: connecting to %s (%s) timed out after %u ms.\n", target,
		         c->rec.address, s->config.connect_timeout_ms);
	} else {
		AUDIT_SET(&c->rec, detail, "502: cannot connect to %s: %s", c->rec.address,
		          strerror(-hs->last_error));
		snprintf(body, sizeof(body), "airlock: cannot connect to %s (%s): %s.\n", target,
		         c->rec.address, strerror(-hs->last_error));
	}
	conn_refuse(c, status, body);
}

/* A CONNECT whose server answered: say so, then look at the tunnel's first
 * bytes before relaying them (the SNI check). */
static void open_tunnel(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

	ssize_t n = send(c->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)sizeof(ok) - 1) {
		/* EPIPE/ECONNRESET: the client left while we dialled; EAGAIN or
		 * a short send on an empty send buffer: it cannot take 39 bytes,
		 * so it would not take a tunnel. */
		AUDIT_SET(&c->rec, detail, "client gone before the tunnel was up: %s",
		          n < 0 ? strerror(errno) : "short write");
		conn_emit(s, &c->rec);
		s->stats.failed++;
		conn_free(c);
		return;
	}
	/* The bytes the client sent with its head are the tunnel's first. */
	hs->pre = hs->have - hs->h.head_len;
	memmove(hs->buf, hs->buf + hs->h.head_len, hs->pre);
	hs->tunnel = true;
	(void)loop_del_fd(s->env.loop, c->up_fd); /* writable until the relay: not watched */
	if (conn_go_state(c, CONN_PEEK) < 0) {
		conn_free(c);
		return;
	}
	conn_peek(c, false); /* they may be a whole ClientHello already */
}

static void on_server(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct conn *c = data;
	(void)events;

	int r = sock_connect_result(fd);
	if (r == 0) {
		if (c->kind == CONN_EXPLICIT && c->hs->h.method == HTTP_METHOD_CONNECT)
			open_tunnel(c);
		else
			conn_start_relay(c);
		return;
	}
	(void)loop_del_fd(loop, fd);
	close(fd);
	c->up_fd = -1;
	c->hs->last_error = r;
	conn_dial_next(c);
}

/* ---- resolving (explicit requests) ------------------------------------------ */

static void on_resolved(void *ctx, const struct resolver_result *res)
{
	struct conn *c = ctx;
	char target[RULE_TEXT_SIZE], body[BODY_MAX];

	c->lookup = NULL;
	if (res->status == RESOLVER_OK) {
		c->hs->dest = *res;
		conn_dial_next(c);
		return;
	}
	target_format(&c->hs->h.host, target, sizeof(target));
	if (res->status == RESOLVER_REFUSED) {
		/* The name's allow rule did not decide this: the answer check did
		 * (or the rule that blocks a CNAME target). */
		c->rec.rule[0] = '\0';
		if (res->by_policy)
			audit_set_decision(&c->rec, c->policy, &res->decision);
		else
			AUDIT_SET(&c->rec, origin, "answer check");
		AUDIT_SET(&c->rec, detail, "502: %s", res->reason);
		snprintf(
		        body, sizeof(body),
		        "airlock: %s was refused by the DNS answer check: %s.\n"
		        "A public name may not lead to a private, loopback, link-local or metadata "
		        "address unless a CIDR rule allows that address.\n",
		        target, res->reason);
	} else {
		AUDIT_SET(&c->rec, detail, "502: cannot resolve: %s", res->reason);
		snprintf(body, sizeof(body), "airlock: cannot resolve %s: %s.\n",
		         c->hs->h.host.name, res->reason);
	}
	reject(c, 502, body);
}

/* ---- held requests ------------------------------------------------------------ */

bool conn_hold(struct conn *c, const char *name, size_t len, uint16_t port,
               approval_resume_fn *resume)
{
	struct approvals *a = c->s->env.approvals;
	char client[AUDIT_ADDR_SIZE];
	bool denied;

	if (!a || c->asked)
		return false;
	addr_format(&c->peer, client, sizeof(client));
	c->ask = approvals_hold(a, name, len, port, c->rec.proto, client, resume, c, &denied);
	if (!c->ask) {
		AUDIT_SET(&c->rec, detail, "%s",
		          denied ? "denied earlier in this run"
		                 : "not asked: too many questions open");
		return false;
	}
	if (conn_go_state(c, CONN_ASK) < 0) {
		approvals_cancel(TAKE_PTR(c->ask));
		return false;
	}
	return true;
}

/* ---- the request head ------------------------------------------------------------ */

static void decide(struct conn *c);

/* A held proxy request, answered: decided again under the policy of now
 * (policy_changed gave the connection the snapshot the answer made). */
static void on_request_answered(void *ctx, enum approval_answer a)
{
	struct conn *c = ctx;

	c->ask = NULL;
	c->asked = true;
	AUDIT_SET(&c->rec, detail, "held for an answer: %s", approval_answer_text(a));
	decide(c);
}

static void decide(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	const struct http_head *h = &hs->h;
	const struct target *t = &h->host;
	struct decision dec;
	char body[BODY_MAX];

	c->rec.proto = h->method == HTTP_METHOD_CONNECT ? AUDIT_PROTO_CONNECT : AUDIT_PROTO_HTTP;
	c->rec.port = t->port;
	if (t->is_addr) {
		struct addr a;
		if (t->family == 4)
			addr_from_ipv4(&a, t->addr, t->port);
		else
			addr_from_ipv6(&a, t->addr, t->port);
		addr_unmap(&a); /* ::ffff:a.b.c.d is dialled as IPv4: our sockets are V6ONLY */
		addr_format_ip(&a, c->rec.address, sizeof(c->rec.address));
		hs->dest.n = 1;
		hs->dest.addrs[0] = a;
	} else {
		audit_set_name(&c->rec, t->name, t->name_len);
	}
	if (h->form == HTTP_FORM_ORIGIN) {
		AUDIT_SET(&c->rec, detail, "400: origin-form request to the proxy");
		reject(c, 400,
		       "airlock: this is a proxy: ask for an absolute URI (GET http://host/path "
		       "HTTP/1.1) or use CONNECT host:port.\n");
		return;
	}

	policy_decide(c->policy, t, &dec);
	if (dec.verdict != ACTION_ALLOW && dec.by == DECIDED_BY_DEFAULT && !t->is_addr &&
	    conn_hold(c, t->name, t->name_len, t->port, on_request_answered))
		return;
	audit_set_decision(&c->rec, c->policy, &dec);
	bool addr_needs_cidr =
	        t->is_addr && dec.verdict == ACTION_ALLOW && dec.by != DECIDED_BY_RULE;
	if (dec.verdict != ACTION_ALLOW || addr_needs_cidr) {
		if (addr_needs_cidr)
			AUDIT_SET(&c->rec, detail, "IP address without a CIDR rule");
		struct proxy_refusal pr = {
		        .target = t,
		        .prefix = c->rec.proto == AUDIT_PROTO_CONNECT ? "CONNECT to " : NULL,
		        .decision = &dec,
		        .rule = c->rec.rule,
		        .origin = c->rec.origin,
		        .addr_needs_cidr = addr_needs_cidr,
		};
		proxy_refusal_body(&pr, body, sizeof(body));
		reject(c, 403, body);
		return;
	}
	/* Allowed: what a policy change re-decides.  The address is the
	 * gateway's own resolution of the name (or the CIDR-allowed literal). */
	c->decided = true;
	if (t->is_addr)
		c->key.needs_cidr = true;
	else
		flow_key_add_name(&c->key, t->name, t->name_len);
	if (t->is_addr) {
		conn_dial_next(c);
		return;
	}
	int r = resolver_lookup(s->resolver, c->policy, t->name, t->name_len, t->port, on_resolved,
	                        c, &c->lookup);
	if (r < 0) {
		const char *why = r == -EBUSY ? "too many lookups in flight" : strerror(-r);
		AUDIT_SET(&c->rec, detail, "502: cannot resolve: %s", why);
		snprintf(body, sizeof(body), "airlock: cannot resolve %s: %s.\n", t->name, why);
		reject(c, 502, body);
		return;
	}
	if (conn_go_state(c, CONN_RESOLVE) < 0)
		conn_free(c);
}

static void bad_request(struct conn *c, int status, const char *why)
{
	char body[BODY_MAX];

	AUDIT_SET(&c->rec, detail, "400: %s", why);
	snprintf(body, sizeof(body), "airlock: bad request: %s.\n", http_head_strerror(status));
	reject(c, 400, body);
}

static void read_head(struct conn *c)
{
	struct head_state *hs = c->hs;
	struct diag d = {""};
	size_t consumed;

	ssize_t n = recv(c->fd, hs->buf + hs->have, hs->cap - hs->have, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return; /* level-triggered: called again while there is data */
	if (n <= 0) {
		/* EOF or ECONNRESET before the head was complete.  A connection
		 * that sent nothing (a port probe) is not a request: no record. */
		if (hs->have) {
			AUDIT_SET(&c->rec, detail,
			          "client closed after %zu bytes, before the end of the request "
			          "head%s%s",
			          hs->have, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			c->rec.verdict = AUDIT_VERDICT_BLOCK;
			conn_emit(c->s, &c->rec);
			c->s->stats.bad++;
		}
		conn_free(c);
		return;
	}
	size_t off = hs->have;
	hs->have += (size_t)n;
	int st = http_head_feed(&hs->h, hs->buf + off, (size_t)n, &consumed, &d);
	if (st == HTTP_HEAD_NEED_MORE)
		return; /* the parser refuses byte max_head + 1: buf (max_head + slack) never fills
		         */
	if (st < 0) {
		bad_request(c, st, d.msg[0] ? d.msg : http_head_strerror(st));
		return;
	}
	decide(c);
}

static void on_client(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct conn *c = data;
	(void)loop;
	(void)fd;
	(void)events;

	switch (c->state) {
	case CONN_HEAD:
		read_head(c);
		break;
	case CONN_PEEK:
		conn_peek(c, true);
		break;
	case CONN_LINGER:
		drain(c);
		break;
	case CONN_ASK:
	case CONN_RESOLVE:
	case CONN_CONNECT:
	case CONN_RELAY:
	case CONN_N_STATES:
		break; /* not watched in these states */
	}
}

static void on_timer(struct loop *loop, struct loop_timer *t, void *data)
{
	struct conn *c = data;
	struct proxy_service *s = c->s;
	char body[BODY_MAX];
	(void)t;

	switch (c->state) {
	case CONN_HEAD:
		AUDIT_SET(&c->rec, detail, "408: request head not complete after %u ms (%zu bytes)",
		          s->config.head_timeout_ms, c->hs->have);
		snprintf(body, sizeof(body),
		         "airlock: the request head did not arrive within %u ms.\n",
		         s->config.head_timeout_ms);
		reject(c, 408, body);
		break;
	case CONN_PEEK:
		conn_peek_timeout(c);
		break;
	case CONN_ASK:
		approvals_cancel(TAKE_PTR(c->ask));
		AUDIT_SET(&c->rec, detail, "504: held for an answer longer than %u ms",
		          ASK_GUARD_MS);
		conn_refuse(c, 504, "airlock: nobody answered in time.\n");
		break;
	case CONN_RESOLVE:
		resolver_cancel(TAKE_PTR(c->lookup));
		AUDIT_SET(&c->rec, detail, "504: name resolution took longer than %u ms",
		          s->resolve_guard_ms);
		snprintf(body, sizeof(body), "airlock: resolving %s took too long.\n",
		         c->hs->checking ? c->hs->check_name : c->hs->h.host.name);
		conn_refuse(c, 504, body);
		break;
	case CONN_CONNECT:
		(void)loop_del_fd(loop, c->up_fd);
		close(c->up_fd);
		c->up_fd = -1;
		c->hs->last_error = -ETIMEDOUT;
		conn_dial_next(c);
		break;
	case CONN_LINGER:
		conn_free(c);
		break;
	case CONN_RELAY:
	case CONN_N_STATES:
		break;
	}
}

/* ---- accepting ---------------------------------------------------------------- */

static void conn_new(struct listener *l, int fd, const struct addr *peer)
{
	struct proxy_service *s = l->s;
	struct conn *c = calloc(1, sizeof(*c));
	/* Room for the head and what follows it, and for a whole ClientHello. */
	size_t cap = s->config.max_head + HEAD_SLACK;
	if (cap < TLS_HELLO_PEEK_MAX + HEAD_SLACK)
		cap = TLS_HELLO_PEEK_MAX + HEAD_SLACK;
	struct head_state *hs = c ? malloc(sizeof(*hs) + cap) : NULL;
	struct policy *p = policy_slot_acquire(s->env.policy);

	if (!c || !hs || !p) {
		free(c);
		free(hs);
		policy_unref(p);
		close(fd);
		return;
	}
	memset(hs, 0, sizeof(*hs));
	http_head_init(&hs->h, s->config.max_head);
	hs->cap = cap;
	c->s = s;
	c->kind = l->kind;
	c->hs = hs;
	c->fd = fd;
	c->up_fd = -1;
	c->relay_fds[0] = c->relay_fds[1] = -1;
	c->peer = *peer;
	c->policy = p;
	c->state = l->kind == CONN_TRANSPARENT ? CONN_PEEK : CONN_HEAD;
	c->start_ms = loop_now_ms(s->env.loop);
	audit_record_init(&c->rec, AUDIT_EVENT_DECISION, AUDIT_PROTO_HTTP);
	snprintf(c->rec.sandbox, sizeof(c->rec.sandbox), "%s", s->env.sandbox);
	addr_format(peer, c->rec.client, sizeof(c->rec.client));
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->stats.active++;
	if (l->kind == CONN_TRANSPARENT) {
		s->stats.transparent++;
		if (conn_transparent_start(c) < 0)
			return;
		hs->peek_start_ms = c->start_ms;
	}
	/* The head's deadline runs from the accept and is never extended: a
	 * client sending a byte a second does not keep a slot forever.  A
	 * transparent flow's first wait is the shorter peek deadline. */
	c->timer = loop_timer_add(s->env.loop,
	                          l->kind == CONN_TRANSPARENT ? s->config.peek_timeout_ms
	                                                      : s->config.head_timeout_ms,
	                          on_timer, c);
	if (!c->timer || watch_client(c, LOOP_READ) < 0)
		conn_free(c);
}

static void on_resume(struct loop *loop, struct loop_timer *t, void *data)
{
	struct listener *l = data;
	(void)t;
	(void)loop_mod_fd(loop, l->fd, LOOP_READ);
}

static void on_listener(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct listener *l = data;
	struct proxy_service *s = l->s;
	char what[128];
	(void)events;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct addr peer;
		int cfd = sock_accept(fd, &peer);
		if (cfd == -EAGAIN)
			return;
		if (cfd == -EMFILE || cfd == -ENFILE || cfd == -ENOBUFS || cfd == -ENOMEM) {
			/* The connection stays queued and the listener readable:
			 * stop listening for a moment instead of spinning. */
			(void)loop_mod_fd(loop, fd, 0);
			loop_timer_reset(l->pause, ACCEPT_PAUSE_MS);
			snprintf(what, sizeof(what), "proxy: cannot accept: %s; paused for %d ms",
			         strerror(-cfd), ACCEPT_PAUSE_MS);
			note_throttled(s, &s->fd_note, NULL, what);
			return;
		}
		if (cfd < 0)
			continue; /* ECONNABORTED and friends: that connection only */
		s->stats.accepted++;
		if (s->stats.active >= s->config.max_clients) {
			close(cfd);
			s->stats.cap_refused++;
			snprintf(what, sizeof(what),
			         "proxy connection cap (%zu) reached: connection closed",
			         s->config.max_clients);
			note_throttled(s, &s->cap_note, &peer, what);
			continue;
		}
		conn_new(l, cfd, &peer);
	}
}

/* ---- setup ---------------------------------------------------------------------- */

int proxy_service_new(const struct proxy_service_env *env, const struct proxy_service_config *c,
                      struct proxy_service **ret, struct diag *d)
{
	struct proxy_service *s;
	int r;

	if (c->max_clients == 0 || c->max_head == 0 || c->max_head > HTTP_HEAD_SIZE_LIMIT ||
	    c->head_timeout_ms == 0 || c->connect_timeout_ms == 0 || c->idle_ms == 0 ||
	    c->peek_timeout_ms == 0)
		return diag_fail(d, -EINVAL,
		                 "proxy: connection cap, head size (at most %d bytes) and timeouts "
		                 "must be above 0",
		                 HTTP_HEAD_SIZE_LIMIT);
	s = calloc(1, sizeof(*s));
	if (!s)
		return diag_fail(d, -ENOMEM, "out of memory");
	s->env = *env;
	if (!s->env.sandbox)
		s->env.sandbox = "";
	s->config = *c;
	unsigned attempts = c->upstream.attempts ? c->upstream.attempts : 3;
	unsigned per_try = c->upstream.timeout_ms ? c->upstream.timeout_ms : 1500;
	s->resolve_guard_ms = attempts * per_try + 1000;
	r = resolver_new(env->loop, &c->upstream, env->addrmap, &s->resolver, d);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static int add_listener(struct proxy_service *s, int fd, enum conn_kind kind)
{
	struct listener *l = calloc(1, sizeof(*l));
	int r;

	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->s = s;
	l->fd = fd;
	l->kind = kind;
	r = sock_local_addr(fd, &l->local);
	if (r < 0) {
		close(fd);
		free(l);
		return r;
	}
	l->pause = loop_timer_add(s->env.loop, UINT64_MAX, on_resume, l);
	r = l->pause ? loop_add_fd(s->env.loop, fd, LOOP_READ, on_listener, l) : -ENOMEM;
	if (r < 0) {
		loop_timer_cancel(l->pause);
		close(fd);
		free(l);
		return r;
	}
	l->next = s->listeners;
	s->listeners = l;
	return 0;
}

int proxy_service_add_listener(struct proxy_service *s, int fd)
{
	return add_listener(s, fd, CONN_EXPLICIT);
}

int proxy_service_add_transparent_listener(struct proxy_service *s, int fd)
{
	return add_listener(s, fd, CONN_TRANSPARENT);
}

/* A flow the new policy refuses: logged (verdict block, the rule that now
 * refuses it, bytes so far for a relay) and reset. */
static void close_by_policy(struct conn *c, const struct policy *p, const struct flow_result *fr,
                            const char *why)
{
	struct proxy_service *s = c->s;
	struct audit_record *r = &c->rec;
	char refused[NAME_BUF_SIZE + 16] = "";

	r->time_ms = audit_now_ms();
	if (c->relay) {
		r->event = AUDIT_EVENT_CLOSE;
		relay_counts(c->relay, &r->bytes_up, &r->bytes_down);
		r->duration_ms = loop_now_ms(s->env.loop) - c->start_ms;
		s->stats.bytes_up += r->bytes_up;
		s->stats.bytes_down += r->bytes_down;
	} else {
		r->event = AUDIT_EVENT_DECISION;
	}
	audit_set_decision(r, p, &fr->decision);
	r->verdict = AUDIT_VERDICT_BLOCK;
	if (fr->has_name &&
	    (r->name_len != fr->name_len || memcmp(r->name, fr->name, fr->name_len)))
		snprintf(refused, sizeof(refused), ": %s refused", fr->name);
	else if (fr->decided_on_addr)
		snprintf(refused, sizeof(refused), ": the address is no longer allowed");
	AUDIT_SET(r, detail, "closed: policy changed (%s)%s", why, refused);
	conn_emit(s, r);
	s->stats.policy_closed++;
	conn_abort(c);
}

void proxy_service_policy_changed(struct proxy_service *s, const char *why)
{
	struct policy *p = policy_slot_acquire(s->env.policy);
	struct flow_result fr;

	if (!p)
		return;
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next; /* close_by_policy frees c, and only c */
		if (c->state == CONN_LINGER)
			continue; /* refused already: nothing to re-decide */
		if (c->decided) {
			flow_recheck(p, &c->key, &fr);
			if (fr.verdict == FLOW_REFUSE) {
				close_by_policy(c, p, &fr, why ? why : "reload");
				continue;
			}
		}
		policy_unref(c->policy);
		c->policy = policy_ref(p);
	}
	policy_unref(p);
}

void proxy_service_free(struct proxy_service *s)
{
	if (!s)
		return;
	while (s->conns) {
		struct conn *c = s->conns;
		if (c->relay) {
			struct audit_record *r = &c->rec;
			r->event = AUDIT_EVENT_CLOSE;
			r->time_ms = audit_now_ms();
			relay_counts(c->relay, &r->bytes_up, &r->bytes_down);
			r->duration_ms = loop_now_ms(s->env.loop) - c->start_ms;
			AUDIT_SET(r, detail, "gateway stopped");
			conn_emit(s, r);
		}
		conn_free(c);
	}
	for (struct listener *l = s->listeners, *next; l; l = next) {
		next = l->next;
		loop_timer_cancel(l->pause);
		loop_del_fd(s->env.loop, l->fd);
		close(l->fd);
		free(l);
	}
	resolver_free(s->resolver);
	free(s);
}

void proxy_service_stats(const struct proxy_service *s, struct proxy_stats *ret)
{
	*ret = s->stats;
}
