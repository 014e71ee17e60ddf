#include "gateway/proxy_service.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/relay.h"
#include "gateway/resolver.h"
#include "net/sock.h"
#include "proxy/http_head.h"

#define ACCEPT_BATCH    16
#define ACCEPT_PAUSE_MS 100  /* out of descriptors: stop accepting for this long */
#define NOTE_EVERY_MS   1000 /* at most one note a second for each kind of flood */
/* The head buffer holds this much past the head cap, so bytes the client
 * sent right after its head (a pipelined TLS ClientHello, a request body)
 * come with it in the same read. */
#define HEAD_SLACK   4096
#define LINGER_MS    2000
#define LINGER_MAX   (64 * 1024)
#define RESPONSE_MAX 4096
#define BODY_MAX     2048

/* What a connection waits for.  Every change goes through go_state(), which
 * sets the state's timer and fd interest. */
enum conn_state {
	CONN_HEAD,    /* the client's request head; deadline head_timeout_ms from accept */
	CONN_RESOLVE, /* the resolver; client not read */
	CONN_CONNECT, /* a connect to dest.addrs[next_addr - 1]; client not read */
	CONN_RELAY,   /* the relay owns both fds; it has its own idle timer */
	CONN_LINGER,  /* error response sent: draining the client before the close */
	CONN_N_STATES
};

/* Legal transitions: from -> bit set of destinations.  RELAY and LINGER
 * end with the connection freed. */
static const unsigned transitions[CONN_N_STATES] = {
        [CONN_HEAD] = 1u << CONN_RESOLVE | 1u << CONN_CONNECT | 1u << CONN_LINGER,
        [CONN_RESOLVE] = 1u << CONN_CONNECT | 1u << CONN_LINGER,
        [CONN_CONNECT] = 1u << CONN_RELAY | 1u << CONN_LINGER,
};

/* What a connection needs until its relay starts, then freed. */
struct head_state {
	struct http_head h;
	struct resolver_result dest; /* the vetted addresses to dial, in order */
	size_t next_addr;
	int last_error; /* of the last address dialled */
	size_t have;    /* bytes in buf */
	size_t cap;     /* buf's size: max_head + HEAD_SLACK */
	uint8_t buf[];
};

struct conn {
	struct proxy_service *s;
	struct conn *prev, *next;
	enum conn_state state;
	int fd;         /* the client; -1 once the relay owns it */
	uint32_t watch; /* interest registered for fd; 0: not in the loop */
	int up_fd;      /* the server being dialled; -1 */
	struct addr peer;
	struct policy *policy;    /* the snapshot the connection was accepted under */
	struct loop_timer *timer; /* the current state's deadline */
	uint64_t start_ms;
	struct head_state *hs;
	struct resolver_lookup *lookup;
	struct relay *relay;
	size_t drained;          /* LINGER: bytes thrown away */
	struct audit_record rec; /* the request's record, reused for its CLOSE */
};

struct listener {
	struct proxy_service *s;
	struct listener *next;
	int fd;
	struct loop_timer *pause; /* armed while accepting is paused (EMFILE) */
};

struct note_throttle {
	uint64_t last_ms;
	uint64_t suppressed;
};

struct proxy_service {
	struct proxy_service_env env;
	struct proxy_service_config config;
	unsigned resolve_guard_ms; /* RESOLVE's deadline, past the resolver's own */
	struct resolver *resolver;
	struct listener *listeners;
	struct conn *conns;
	struct proxy_stats stats;
	struct note_throttle cap_note, fd_note;
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
}

/* ---- log records -------------------------------------------------------- */

static void emit(struct proxy_service *s, const struct audit_record *r)
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
	emit(s, &r);
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

static void conn_free(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct loop *loop = s->env.loop;

	resolver_cancel(c->lookup);
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

/* The one place a connection changes state: sets what the new state waits
 * for (fd interest) and for how long (its timer).  Returns 0 or -errno, the
 * connection then being the caller's to free. */
static int go_state(struct conn *c, enum conn_state to)
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
		loop_timer_reset(c->timer, LINGER_MS);
		return watch_client(c, LOOP_READ);
	case CONN_N_STATES:
		break;
	}
	return 0;
}

/* ---- responses ------------------------------------------------------------ */

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

/* End a request that is not relayed: log its record (verdict block; the
 * caller set the rest), answer `status` with `body`, and linger.  The
 * response is small and the socket's send buffer empty, so one send()
 * takes it; if not, the client gets a cut response, never a blocked loop. */
static void reject(struct conn *c, int status, const char *body)
{
	struct proxy_service *s = c->s;
	char out[RESPONSE_MAX];

	c->rec.verdict = AUDIT_VERDICT_BLOCK;
	emit(s, &c->rec);
	if (status == 403)
		s->stats.blocked++;
	else if (status == 400 || status == 408)
		s->stats.bad++;
	else
		s->stats.failed++;

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
	if (go_state(c, CONN_LINGER) < 0)
		conn_free(c);
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

/* "Refused by" and "to allow it" for a 403. */
static void refusal_body(const struct conn *c, const struct decision *dec, bool addr_needs_cidr,
                         char *body, size_t size)
{
	const struct target *t = &c->hs->h.host;
	char target[RULE_TEXT_SIZE];
	int o;

	target_format(t, target, sizeof(target));
	o = snprintf(body, size, "airlock: %s%s is blocked.\n",
	             c->rec.proto == AUDIT_PROTO_CONNECT ? "CONNECT to " : "", target);
	if (o < 0 || (size_t)o >= size)
		return;
	body += o;
	size -= (size_t)o;
	if (addr_needs_cidr || (t->is_addr && dec->by == DECIDED_BY_DEFAULT)) {
		snprintf(body, size,
		         "Refused by: no CIDR rule allows this address (default); an IP address "
		         "is reachable only through a CIDR rule, whatever the default.\n"
		         "To allow it: add --allow %s, or a CIDR rule covering it in your "
		         "profile.\n",
		         target);
		return;
	}
	switch (dec->by) {
	case DECIDED_BY_RULE:
		snprintf(body, size,
		         "Refused by: rule %s (%s).\n"
		         "To allow it: remove that rule, or add a more specific one such as "
		         "--allow %s (the most specific rule wins; on a tie, block wins).\n",
		         c->rec.rule, c->rec.origin, target);
		break;
	case DECIDED_BY_DEFAULT:
		snprintf(body, size,
		         "Refused by: the default policy (default).\n"
		         "To allow it: add --allow %s (or --allow %s for every port), or that rule "
		         "in your profile.\n",
		         target, t->is_addr ? target : t->name);
		break;
	case DECIDED_BY_NO_NETWORK:
		snprintf(body, size,
		         "Refused by: the profile has no network (network = none).\n"
		         "To allow it: use a profile with network access.\n");
		break;
	}
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
	emit(s, r);
	conn_free(c); /* frees the relay: allowed from its callback */
}

static bool append(uint8_t *out, size_t cap, size_t *len, const void *data, size_t n)
{
	if (n > cap - *len)
		return false;
	memcpy(out + *len, data, n);
	*len += n;
	return true;
}

/* Whether header line `name` is listed in a Connection header. */
static bool named_by_connection(const struct http_head *h, const uint8_t *b, const uint8_t *name,
                                size_t name_len)
{
	for (unsigned i = 0; i < h->n_headers; i++) {
		const struct http_header *ch = &h->headers[i];
		if (ch->kind != HTTP_HDR_CONNECTION)
			continue;
		const uint8_t *v = b + ch->value_off, *end = v + ch->value_len;
		while (v < end) {
			while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
				v++;
			const uint8_t *tok = v;
			while (v < end && *v != ',' && *v != ' ' && *v != '\t')
				v++;
			if ((size_t)(v - tok) == name_len &&
			    strncasecmp((const char *)tok, (const char *)name, name_len) == 0)
				return true;
		}
	}
	return false;
}

static bool forwarded(const struct http_head *h, const uint8_t *b, const struct http_header *hd)
{
	switch (hd->kind) {
	case HTTP_HDR_CONTENT_LENGTH:
	case HTTP_HDR_TRANSFER_ENCODING:
		return true; /* framing: never dropped, whatever Connection says */
	case HTTP_HDR_OTHER:
		return !named_by_connection(h, b, b + hd->line_off, hd->name_len);
	case HTTP_HDR_HOST: /* replaced by the canonical authority */
	case HTTP_HDR_CONNECTION:
	case HTTP_HDR_PROXY_CONNECTION:
	case HTTP_HDR_PROXY_AUTHORIZATION:
	case HTTP_HDR_KEEP_ALIVE:
	case HTTP_HDR_TE:
	case HTTP_HDR_TRAILER:
	case HTTP_HDR_UPGRADE:
	case HTTP_HDR_KIND_COUNT:
		break;
	}
	return false;
}

/* The absolute-form request rewritten for the origin, and the body bytes
 * already read, into one allocation; *ret_limit is what the relay may read
 * of the body still. */
static int build_request(const struct head_state *hs, uint8_t **ret, size_t *ret_len,
                         uint64_t *ret_limit)
{
	const struct http_head *h = &hs->h;
	const uint8_t *b = hs->buf;
	size_t body = hs->have - h->head_len;
	uint64_t limit;
	char line[NAME_BUF_SIZE + 64], ip[INET6_ADDRSTRLEN];

	if (h->chunked) {
		limit = RELAY_NO_LIMIT;
	} else if (h->has_content_length) {
		if (body > h->content_length)
			body = (size_t)h->content_length;
		limit = h->content_length - body;
	} else {
		body = 0; /* no body: pipelined bytes are not forwarded */
		limit = 0;
	}
	size_t cap = h->head_len + sizeof(line) + 64 + body, len = 0;
	uint8_t *out = malloc(cap);
	if (!out)
		return -ENOMEM;

	bool ok = append(out, cap, &len, b + h->method_off, h->method_len) &&
	          append(out, cap, &len, " ", 1);
	if (h->path_len == 0 || b[h->path_off] == '?')
		ok = ok && append(out, cap, &len, "/", 1);
	ok = ok && append(out, cap, &len, b + h->path_off, h->path_len);
	int n = snprintf(line, sizeof(line), " HTTP/1.%u\r\n", h->version_minor);
	ok = ok && append(out, cap, &len, line, (size_t)n);
	for (unsigned i = 0; ok && i < h->n_headers; i++)
		if (forwarded(h, b, &h->headers[i]))
			ok = append(out, cap, &len, b + h->headers[i].line_off,
			            h->headers[i].line_len);

	const struct target *t = &h->host;
	const char *host = t->name;
	if (t->is_addr) {
		struct addr a;
		if (t->family == 4)
			addr_from_ipv4(&a, t->addr, t->port);
		else
			addr_from_ipv6(&a, t->addr, t->port);
		addr_format_ip(&a, ip, sizeof(ip));
		host = ip;
	}
	const char *open = t->is_addr && t->family == 6 ? "[" : "";
	const char *close_ = t->is_addr && t->family == 6 ? "]" : "";
	n = t->port == 80 ? snprintf(line, sizeof(line), "Host: %s%s%s\r\n", open, host, close_)
	                  : snprintf(line, sizeof(line), "Host: %s%s%s:%u\r\n", open, host, close_,
	                             t->port);
	ok = ok && n > 0 && (size_t)n < sizeof(line) && append(out, cap, &len, line, (size_t)n);
	static const char tail[] = "Connection: close\r\n\r\n";
	ok = ok && append(out, cap, &len, tail, sizeof(tail) - 1);
	ok = ok && append(out, cap, &len, b + h->head_len, body);
	if (!ok) { /* cannot happen: cap counts every piece */
		free(out);
		return -ENOBUFS;
	}
	*ret = out;
	*ret_len = len;
	*ret_limit = limit;
	return 0;
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

/* Connected: answer CONNECT or forward the request, and hand both fds to a
 * relay.  The request's DECISION record goes out here, allowed. */
static void start_relay(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	const struct http_head *h = &hs->h;
	struct relay_config rc;
	_cleanup_free_ uint8_t *built = NULL;
	const uint8_t *pre = hs->buf + h->head_len;
	size_t pre_len = hs->have - h->head_len;
	int r;

	relay_config_default(&rc);
	rc.idle_ms = s->config.idle_ms;
	if (h->method == HTTP_METHOD_CONNECT) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		ssize_t n = send(c->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n != (ssize_t)sizeof(ok) - 1) {
			/* EPIPE/ECONNRESET: the client left while we dialled;
			 * EAGAIN or a short send on an empty send buffer: it
			 * cannot take 39 bytes, so it would not take a tunnel. */
			AUDIT_SET(&c->rec, detail, "client gone before the tunnel was up: %s",
			          n < 0 ? strerror(errno) : "short write");
			emit(s, &c->rec);
			s->stats.failed++;
			conn_free(c);
			return;
		}
	} else {
		r = build_request(hs, &built, &pre_len, &rc.up_limit);
		if (r < 0) {
			AUDIT_SET(&c->rec, detail, "cannot forward the request: %s", strerror(-r));
			emit(s, &c->rec);
			s->stats.failed++;
			conn_free(c);
			return;
		}
		pre = built;
	}
	(void)watch_client(c, 0);
	(void)loop_del_fd(s->env.loop, c->up_fd);
	set_nodelay(c->fd);
	set_nodelay(c->up_fd);
	int cfd = TAKE_FD(c->fd), ufd = TAKE_FD(c->up_fd);
	r = relay_new(s->env.loop, cfd, ufd, &rc, pre, pre_len, on_relay_done, c, &c->relay);
	if (r < 0) { /* the fds are closed */
		AUDIT_SET(&c->rec, detail, "cannot relay: %s", strerror(-r));
		emit(s, &c->rec);
		s->stats.failed++;
		conn_free(c);
		return;
	}
	emit(s, &c->rec);
	s->stats.allowed++;
	free(TAKE_PTR(c->hs));
	if (go_state(c, CONN_RELAY) < 0)
		conn_free(c);
}

/* ---- dialling --------------------------------------------------------------- */

static loop_fd_cb on_server;

static void dial_next(struct conn *c)
{
	struct proxy_service *s = c->s;
	struct head_state *hs = c->hs;
	char target[RULE_TEXT_SIZE], body[BODY_MAX];

	while (hs->next_addr < hs->dest.n) {
		const struct addr *a = &hs->dest.addrs[hs->next_addr++];
		addr_format_ip(a, c->rec.address, sizeof(c->rec.address));
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
		else if (go_state(c, CONN_CONNECT) < 0)
			conn_free(c);
		return;
	}
	target_format(&hs->h.host, target, sizeof(target));
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
	reject(c, status, body);
}

static void on_server(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct conn *c = data;
	(void)events;

	int r = sock_connect_result(fd);
	if (r == 0) {
		start_relay(c);
		return;
	}
	(void)loop_del_fd(loop, fd);
	close(fd);
	c->up_fd = -1;
	c->hs->last_error = r;
	dial_next(c);
}

/* ---- resolving ---------------------------------------------------------------- */

static void on_resolved(void *ctx, const struct resolver_result *res)
{
	struct conn *c = ctx;
	char target[RULE_TEXT_SIZE], body[BODY_MAX];

	c->lookup = NULL;
	if (res->status == RESOLVER_OK) {
		c->hs->dest = *res;
		dial_next(c);
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

/* ---- the request head ------------------------------------------------------------ */

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
	audit_set_decision(&c->rec, c->policy, &dec);
	bool addr_needs_cidr =
	        t->is_addr && dec.verdict == ACTION_ALLOW && dec.by != DECIDED_BY_RULE;
	if (dec.verdict != ACTION_ALLOW || addr_needs_cidr) {
		if (addr_needs_cidr)
			AUDIT_SET(&c->rec, detail, "IP address without a CIDR rule");
		refusal_body(c, &dec, addr_needs_cidr, body, sizeof(body));
		reject(c, 403, body);
		return;
	}
	if (t->is_addr) {
		dial_next(c);
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
	if (go_state(c, CONN_RESOLVE) < 0)
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
			emit(c->s, &c->rec);
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
	case CONN_LINGER:
		drain(c);
		break;
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
	case CONN_RESOLVE:
		resolver_cancel(TAKE_PTR(c->lookup));
		AUDIT_SET(&c->rec, detail, "504: name resolution took longer than %u ms",
		          s->resolve_guard_ms);
		snprintf(body, sizeof(body), "airlock: resolving %s took too long.\n",
		         c->hs->h.host.name);
		reject(c, 504, body);
		break;
	case CONN_CONNECT:
		(void)loop_del_fd(loop, c->up_fd);
		close(c->up_fd);
		c->up_fd = -1;
		c->hs->last_error = -ETIMEDOUT;
		dial_next(c);
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

static void conn_new(struct proxy_service *s, int fd, const struct addr *peer)
{
	struct conn *c = calloc(1, sizeof(*c));
	size_t cap = s->config.max_head + HEAD_SLACK;
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
	c->hs = hs;
	c->fd = fd;
	c->up_fd = -1;
	c->peer = *peer;
	c->policy = p;
	c->state = CONN_HEAD;
	c->start_ms = loop_now_ms(s->env.loop);
	audit_record_init(&c->rec, AUDIT_EVENT_DECISION, AUDIT_PROTO_HTTP);
	snprintf(c->rec.sandbox, sizeof(c->rec.sandbox), "%s", s->env.sandbox);
	addr_format(peer, c->rec.client, sizeof(c->rec.client));
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->stats.active++;
	/* The head's deadline runs from the accept and is never extended: a
	 * client sending a byte a second does not keep a slot forever. */
	c->timer = loop_timer_add(s->env.loop, s->config.head_timeout_ms, on_timer, c);
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
		conn_new(s, cfd, &peer);
	}
}

/* ---- setup ---------------------------------------------------------------------- */

int proxy_service_new(const struct proxy_service_env *env, const struct proxy_service_config *c,
                      struct proxy_service **ret, struct diag *d)
{
	struct proxy_service *s;
	int r;

	if (c->max_clients == 0 || c->max_head == 0 || c->max_head > HTTP_HEAD_SIZE_LIMIT ||
	    c->head_timeout_ms == 0 || c->connect_timeout_ms == 0 || c->idle_ms == 0)
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

int proxy_service_add_listener(struct proxy_service *s, int fd)
{
	struct listener *l = calloc(1, sizeof(*l));
	int r;

	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->s = s;
	l->fd = fd;
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
			emit(s, r);
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
