#include "gateway/dns_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/cache.h"
#include "gateway/ratelimit.h"
#include "net/sock.h"

#define UDP_BATCH    32   /* datagrams read (recvmmsg) per wakeup, for fairness */
#define BATCH_REPLY  1232 /* replies up to this size wait for the batch's sendmmsg */
#define ACCEPT_BATCH 16
#define TCP_MSG_MAX  65535
#define RATE_SLOTS   4096
/* Largest UDP query read: a query is one question and an OPT record, far
 * below this; anything longer is truncated and then fails to parse. */
#define DNS_UDP_QUERY_MAX 1500
#define NOTE_EVERY_MS     1000 /* at most one note a second for each kind of flood */

struct listener {
	struct dns_service *s;
	struct listener *next;
	int fd;
};

struct pending;

struct tcp_client {
	struct dns_service *s;
	struct tcp_client *prev, *next;
	int fd;
	struct addr peer;
	struct loop_timer *idle;
	struct pending *pending; /* the query being answered; reading waits for it */
	bool dead;               /* failed: closed by its timer, outside any callback chain */
	size_t have;             /* bytes of `in` filled */
	uint8_t *out;            /* the reply being written, with its length prefix */
	size_t out_len, out_sent;
	uint8_t in[2 + TCP_MSG_MAX];
};

struct pending {
	struct dns_service *s;
	struct pending *prev, *next;
	struct policy *policy; /* the snapshot the query arrived under */
	struct upstream_query *uq;
	struct dns_query query;
	struct addr client;
	int udp_fd;                   /* the listener to answer from, or -1 */
	struct tcp_client *tcp;       /* or the connection */
	size_t limit;                 /* largest reply the client takes */
	struct audit_record rec;      /* filled as the query goes */
	struct approval_waiter *wait; /* held for an answer (approvals.h) */
	bool asked;                   /* it was: decided for good now */
};

/* Replies made while a batch of datagrams is handled, sent with one
 * sendmmsg at the end of the batch instead of one sendto each. */
struct reply_batch {
	int fd; /* the listener being served; -1 outside a batch */
	unsigned n;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct addr to[UDP_BATCH];
	uint8_t buf[UDP_BATCH][BATCH_REPLY];
};

struct note_throttle {
	uint64_t last_ms;
	uint64_t suppressed;
};

struct dns_service {
	struct dns_service_env env;
	struct dns_service_config config;
	struct upstream *upstream;
	struct ratelimit *ratelimit;
	struct listener *listeners;
	struct tcp_client *tcp_clients;
	size_t n_tcp;
	struct pending *pending;
	struct dns_stats stats;
	struct note_throttle rate_note, cap_note;
	struct dns_cache *cache;     /* NULL when off */
	struct policy *cache_policy; /* the snapshot the cached answers were vetted under */
	struct dns_response scratch;
	uint8_t cached[DNS_CACHE_MSG_MAX];
	struct reply_batch batch;
	/* recvmmsg's buffers for one batch of queries. */
	struct mmsghdr in_msgs[UDP_BATCH];
	struct iovec in_iov[UDP_BATCH];
	struct sockaddr_storage in_from[UDP_BATCH];
	uint8_t in_buf[UDP_BATCH][DNS_UDP_QUERY_MAX];
	uint8_t out[2 + TCP_MSG_MAX];
};

void dns_service_config_default(struct dns_service_config *c)
{
	memset(c, 0, sizeof(*c));
	dns_filter_config_default(&c->filter);
	upstream_config_default(&c->upstream);
	c->rate = 200;
	c->burst = 400;
	c->max_tcp_clients = 128;
	c->tcp_idle_ms = 10000;
	c->cache_entries = 10000;
	c->cache_max_ttl_s = 3600;
}

/* ---- log records -------------------------------------------------------- */

static void emit(struct dns_service *s, struct audit_record *r)
{
	if (s->env.emit)
		s->env.emit(s->env.emit_ctx, r);
}

/* A note about a flood, at most once a second; the rest are counted and the
 * count goes into the next note. */
static void note_throttled(struct dns_service *s, struct note_throttle *t, const char *what,
                           const struct addr *client)
{
	uint64_t now = loop_now_ms(s->env.loop);
	if (t->last_ms && now - t->last_ms < NOTE_EVERY_MS) {
		t->suppressed++;
		return;
	}
	struct audit_record r;
	audit_record_init(&r, AUDIT_EVENT_NOTE, AUDIT_PROTO_DNS);
	snprintf(r.sandbox, sizeof(r.sandbox), "%s", s->env.sandbox);
	addr_format(client, r.client, sizeof(r.client));
	AUDIT_SET(&r, detail, "%s (%llu more since the last note)", what,
	          (unsigned long long)t->suppressed);
	emit(s, &r);
	t->last_ms = now;
	t->suppressed = 0;
}

/* The question name as text for the log, also when it is not a host name:
 * labels joined by dots, bytes as they came (the log escapes them). */
static void question_text(const struct dns_question *q, char *buf, size_t size, size_t *len)
{
	size_t o = 0;
	for (size_t i = 0; i < q->wire_len && q->wire[i] != 0;) {
		size_t l = q->wire[i++];
		if (o && o < size)
			buf[o++] = '.';
		for (size_t j = 0; j < l && i < q->wire_len && o < size; j++)
			buf[o++] = (char)q->wire[i++];
	}
	*len = o;
}

static void record_start(struct dns_service *s, struct audit_record *r, const struct addr *client,
                         const struct dns_query *q)
{
	char name[AUDIT_NAME_SIZE];
	size_t len;

	audit_record_init(r, AUDIT_EVENT_DECISION, AUDIT_PROTO_DNS);
	snprintf(r->sandbox, sizeof(r->sandbox), "%s", s->env.sandbox);
	addr_format(client, r->client, sizeof(r->client));
	if (q->question.name_ok) {
		audit_set_name(r, q->question.name, q->question.name_len);
	} else if (q->question.wire_len) {
		question_text(&q->question, name, sizeof(name), &len);
		audit_set_name(r, name, len);
	}
	if (q->question.wire_len) {
		char t[DNS_TYPE_NAME_SIZE];
		AUDIT_SET(r, qtype, "%s", dns_type_name(q->question.qtype, t));
	}
}

/* ---- replies ------------------------------------------------------------- */

static void tcp_client_close(struct tcp_client *c);
static void tcp_resume(struct tcp_client *c);

/* A connection that failed while a query is being handled cannot be freed
 * there (the query still points at it): it goes quiet and its idle timer,
 * set to fire at once, closes it from the loop. */
static void tcp_fail(struct tcp_client *c)
{
	c->dead = true;
	loop_mod_fd(c->s->env.loop, c->fd, 0);
	loop_timer_reset(c->idle, 0);
}

static void tcp_flush(struct tcp_client *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			loop_mod_fd(c->s->env.loop, c->fd, LOOP_WRITE);
			return;
		}
		if (n <= 0) {
			tcp_fail(c);
			return;
		}
		c->out_sent += (size_t)n;
		loop_timer_reset(c->idle, c->s->config.tcp_idle_ms);
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_sent = 0;
	tcp_resume(c);
}

/* Send `len` bytes of reply to a UDP client or a TCP connection. */
static void send_reply(struct dns_service *s, int udp_fd, const struct addr *client,
                       struct tcp_client *tcp, const uint8_t *msg, size_t len)
{
	if (!tcp) {
		struct reply_batch *b = &s->batch;
		if (b->fd == udp_fd && b->n < UDP_BATCH && len <= BATCH_REPLY) {
			memcpy(b->buf[b->n], msg, len);
			b->iov[b->n] = (struct iovec){b->buf[b->n], len};
			b->to[b->n] = *client;
			b->msgs[b->n] = (struct mmsghdr){.msg_hdr = {.msg_name = &b->to[b->n].sa,
			                                             .msg_namelen = client->len,
			                                             .msg_iov = &b->iov[b->n],
			                                             .msg_iovlen = 1}};
			b->n++;
			return;
		}
		/* A full socket buffer loses this reply; the client retries. */
		(void)sendto(udp_fd, msg, len, MSG_DONTWAIT, &client->sa, client->len);
		return;
	}
	if (tcp->dead)
		return;
	tcp->out = malloc(len + 2);
	if (!tcp->out) {
		tcp_fail(tcp);
		return;
	}
	tcp->out[0] = (uint8_t)(len >> 8);
	tcp->out[1] = (uint8_t)len;
	memcpy(tcp->out + 2, msg, len);
	tcp->out_len = len + 2;
	tcp->out_sent = 0;
	(void)s;
	tcp_flush(tcp);
}

/* Largest reply a client takes: TCP any, UDP 512 or its EDNS size. */
static size_t reply_limit(const struct dns_query *q, bool tcp)
{
	if (tcp)
		return TCP_MSG_MAX;
	if (q->edns.present && q->edns.udp_size > 512)
		return q->edns.udp_size;
	return 512;
}

/* ---- pending queries ---------------------------------------------------- */

static void pending_free(struct pending *p)
{
	struct dns_service *s = p->s;

	upstream_cancel(p->uq);
	approvals_cancel(p->wait);
	policy_unref(p->policy);
	if (p->tcp)
		p->tcp->pending = NULL;
	*(p->prev ? &p->prev->next : &s->pending) = p->next;
	if (p->next)
		p->next->prev = p->prev;
	free(p);
}

/* Reply locally (no upstream) and log. */
static void answer_locally(struct dns_service *s, struct pending *p, enum dns_query_action action,
                           const uint8_t *raw, size_t raw_len)
{
	int n = dns_filter_reply(&s->config.filter, action, &p->query, raw, raw_len, s->out,
	                         sizeof(s->out));
	if (n > 0)
		send_reply(s, p->udp_fd, &p->client, p->tcp, s->out, (size_t)n);
}

static void answer_servfail(struct dns_service *s, struct pending *p, const char *why)
{
	int n = dns_build_reply(&p->query, DNS_RCODE_SERVFAIL, s->out, sizeof(s->out));
	if (n > 0)
		send_reply(s, p->udp_fd, &p->client, p->tcp, s->out, (size_t)n);
	s->stats.servfail++;
	p->rec.verdict = AUDIT_VERDICT_BLOCK;
	AUDIT_SET(&p->rec, detail, "SERVFAIL: %s", why);
	emit(s, &p->rec);
}

/* Record the answer's addresses under the name the client asked for: that
 * is the name it will use (in SNI, in Host) for connections to them. */
static void learn_addresses(struct dns_service *s, struct pending *p, const struct dns_response *r)
{
	uint64_t now = loop_now_ms(s->env.loop);
	unsigned n = 0;

	for (unsigned i = 0; i < r->n_answers; i++) {
		const struct dns_rr *rr = &r->answers[i];
		if (rr->rclass != DNS_CLASS_IN ||
		    (rr->type != DNS_TYPE_A && rr->type != DNS_TYPE_AAAA))
			continue;
		uint8_t family = rr->type == DNS_TYPE_A ? 4 : 6;
		if (s->env.addrmap)
			addrmap_add(s->env.addrmap, p->query.question.name,
			            p->query.question.name_len, family, rr->addr, rr->ttl, now);
		if (n++ == 0) {
			struct addr a;
			if (family == 4)
				addr_from_ipv4(&a, rr->addr, 0);
			else
				addr_from_ipv6(&a, rr->addr, 0);
			addr_format_ip(&a, p->rec.address, sizeof(p->rec.address));
		}
	}
	if (n > 1)
		AUDIT_SET(&p->rec, detail, "%s%s%u addresses", p->rec.detail,
		          p->rec.detail[0] ? "; " : "", n);
}

static void relay(struct dns_service *s, struct pending *p, const uint8_t *msg, size_t len)
{
	const struct dns_question *asked = &p->query.question;

	/* The client gets its own ID and its own spelling of the question (some
	 * resolvers vary the case as a defence against forgery).  The question
	 * is the first name, so it sits uncompressed right after the header. */
	if (len > sizeof(s->out) || DNS_HEADER_SIZE + asked->wire_len > len) {
		answer_servfail(s, p, "upstream answer does not fit");
		return;
	}
	memcpy(s->out, msg, len);
	dns_set_id(s->out, len, p->query.header.id);
	memcpy(s->out + DNS_HEADER_SIZE, asked->wire, asked->wire_len);
	if (len > p->limit) {
		/* Too big for this UDP client: tell it to ask over TCP. */
		int n = dns_build_reply(&p->query, DNS_RCODE_NOERROR, s->out, sizeof(s->out));
		if (n < 0) {
			answer_servfail(s, p, "cannot build a truncated reply");
			return;
		}
		s->out[2] |= 0x02; /* TC */
		len = (size_t)n;
		AUDIT_SET(&p->rec, detail, "truncated for UDP: the client retries over TCP");
	}
	send_reply(s, p->udp_fd, &p->client, p->tcp, s->out, len);
}

static void on_upstream(void *ctx, int result, const uint8_t *msg, size_t len)
{
	struct pending *p = ctx;
	struct dns_service *s = p->s;
	struct dns_answer_verdict v;

	p->uq = NULL; /* finished: nothing to cancel */
	if (result < 0) {
		char why[96];
		snprintf(why, sizeof(why), "upstream: %s", strerror(-result));
		answer_servfail(s, p, why);
		pending_free(p);
		return;
	}
	int pr = dns_parse_response(msg, len, &s->scratch, NULL);
	dns_filter_answer(p->policy, &p->query, &s->scratch, pr, &v);
	switch (v.action) {
	case DNS_ANSWER_RELAY:
		learn_addresses(s, p, &s->scratch);
		if (s->cache && p->policy == s->cache_policy)
			dns_cache_put(s->cache, p->query.question.name, p->query.question.name_len,
			              p->query.question.qtype, msg, len, &s->scratch,
			              loop_now_ms(s->env.loop));
		relay(s, p, msg, len);
		s->stats.forwarded++;
		emit(s, &p->rec);
		break;
	case DNS_ANSWER_REFUSE:
		answer_locally(s, p, DNS_QUERY_REFUSE, NULL, 0);
		s->stats.refused++;
		/* The name's allow rule did not decide this: the answer check did
		 * (or the rule that blocks a CNAME target). */
		p->rec.rule[0] = '\0';
		if (v.by_policy)
			audit_set_decision(&p->rec, p->policy, &v.decision);
		p->rec.verdict = AUDIT_VERDICT_BLOCK;
		AUDIT_SET(&p->rec, detail, "%s", v.reason);
		if (!v.by_policy)
			AUDIT_SET(&p->rec, origin, "answer check");
		emit(s, &p->rec);
		break;
	case DNS_ANSWER_SERVFAIL:
		answer_servfail(s, p, v.reason);
		break;
	}
	pending_free(p);
}

/* ---- queries ------------------------------------------------------------- */

/* Answer an allowed query from the cache, if it holds the answer.  Answers
 * vetted under another snapshot are dropped first. */
static bool answer_from_cache(struct dns_service *s, struct pending *p)
{
	if (!s->cache)
		return false;
	if (p->policy != s->cache_policy) {
		dns_cache_clear(s->cache);
		policy_unref(s->cache_policy);
		s->cache_policy = policy_ref(p->policy);
	}
	int n = dns_cache_get(s->cache, p->query.question.name, p->query.question.name_len,
	                      p->query.question.qtype, loop_now_ms(s->env.loop), s->cached,
	                      sizeof(s->cached));
	if (n <= 0 || dns_parse_response(s->cached, (size_t)n, &s->scratch, NULL) < 0)
		return false;
	learn_addresses(s, p, &s->scratch);
	relay(s, p, s->cached, (size_t)n);
	s->stats.cached++;
	AUDIT_SET(&p->rec, detail, "%s%scached", p->rec.detail, p->rec.detail[0] ? ", " : "");
	emit(s, &p->rec);
	return true;
}

static void decide_query(struct dns_service *s, struct pending *p, int pr, const uint8_t *raw,
                         size_t len);

static void on_answered(void *ctx, enum approval_answer a)
{
	struct pending *p = ctx;
	struct dns_service *s = p->s;

	p->wait = NULL;
	p->asked = true;
	/* The answer may have changed the policy: decide under today's. */
	policy_unref(p->policy);
	p->policy = policy_slot_acquire(s->env.policy);
	AUDIT_SET(&p->rec, detail, "held for an answer: %s", approval_answer_text(a));
	decide_query(s, p, 0, NULL, 0);
}

/* Hold a query the policy refuses by its default, when approvals are on.
 * true: held (on_answered finishes it). */
static bool hold(struct dns_service *s, struct pending *p, const struct dns_query_verdict *v)
{
	char client[AUDIT_ADDR_SIZE];
	bool denied;

	if (!s->env.approvals || p->asked || v->action != DNS_QUERY_REFUSE || !v->by_policy ||
	    v->decision.by != DECIDED_BY_DEFAULT)
		return false;
	addr_format(&p->client, client, sizeof(client));
	p->wait =
	        approvals_hold(s->env.approvals, p->query.question.name, p->query.question.name_len,
	                       0, AUDIT_PROTO_DNS, client, on_answered, p, &denied);
	if (!p->wait)
		AUDIT_SET(&p->rec, detail, "%s",
		          denied ? "denied earlier in this run"
		                 : "not asked: too many questions open");
	return p->wait != NULL;
}

/* Decide a parsed query (pr: dns_parse_query's result) and answer it, now
 * or through the upstream.  `raw` is the client's message; NULL for a query
 * that was held (it parsed, so no FORMERR needs its bytes). */
static void decide_query(struct dns_service *s, struct pending *p, int pr, const uint8_t *raw,
                         size_t len)
{
	struct dns_query_verdict v;
	struct tcp_client *tcp = p->tcp;

	dns_filter_query(p->policy, &s->config.filter, &p->query, pr, &v);
	if (hold(s, p, &v))
		return;
	if (v.by_policy)
		audit_set_decision(&p->rec, p->policy, &v.decision);
	if (v.action != DNS_QUERY_FORWARD && v.action != DNS_QUERY_REFUSE)
		AUDIT_SET(&p->rec, detail, "%s", v.reason);

	switch (v.action) {
	case DNS_QUERY_FORWARD: {
		if (answer_from_cache(s, p))
			break;
		uint16_t edns = p->query.edns.present ? p->query.edns.udp_size : 0;
		int r = upstream_query(s->upstream, p->query.question.name,
		                       p->query.question.name_len, p->query.question.qtype, edns,
		                       on_upstream, p, &p->uq);
		if (r < 0) {
			char why[96];
			snprintf(why, sizeof(why), "upstream: %s",
			         r == -EBUSY ? "too many queries in flight" : strerror(-r));
			answer_servfail(s, p, why);
			break;
		}
		return; /* on_upstream finishes it */
	}
	case DNS_QUERY_DROP:
		s->stats.dropped++;
		p->rec.verdict = AUDIT_VERDICT_BLOCK;
		emit(s, &p->rec);
		if (tcp)
			tcp_resume(tcp);
		break;
	case DNS_QUERY_REFUSE:
	case DNS_QUERY_EMPTY:
	case DNS_QUERY_FORMERR:
	case DNS_QUERY_NOTIMP:
		*(v.action == DNS_QUERY_REFUSE  ? &s->stats.refused
		  : v.action == DNS_QUERY_EMPTY ? &s->stats.empty
		                                : &s->stats.formerr) += 1;
		/* Even an allowed name's empty answer withholds data: logged as a block. */
		p->rec.verdict = AUDIT_VERDICT_BLOCK;
		if (v.action == DNS_QUERY_REFUSE && !v.by_policy)
			AUDIT_SET(&p->rec, origin, "%s", v.reason);
		answer_locally(s, p, v.action, raw, len);
		emit(s, &p->rec);
		break;
	}
	pending_free(p);
}

static void handle_query(struct dns_service *s, const uint8_t *raw, size_t len,
                         const struct addr *client, int udp_fd, struct tcp_client *tcp)
{
	struct pending *p;

	s->stats.queries++;
	if (!ratelimit_take(s->ratelimit, client, loop_now_ms(s->env.loop))) {
		s->stats.rate_limited++;
		note_throttled(s, &s->rate_note, "rate limit: queries dropped", client);
		if (tcp)
			tcp_resume(tcp);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		if (tcp)
			tcp_fail(tcp);
		return;
	}
	p->s = s;
	p->udp_fd = udp_fd;
	p->tcp = tcp;
	p->client = *client;
	p->policy = policy_slot_acquire(s->env.policy);
	p->next = s->pending;
	if (s->pending)
		s->pending->prev = p;
	s->pending = p;
	if (tcp)
		tcp->pending = p;

	int pr = dns_parse_query(raw, len, &p->query, NULL);
	record_start(s, &p->rec, client, &p->query);
	p->limit = reply_limit(&p->query, tcp != NULL);
	decide_query(s, p, pr, raw, len);
}

static void flush_batch(struct dns_service *s)
{
	struct reply_batch *b = &s->batch;
	for (unsigned sent = 0; sent < b->n;) {
		int r = sendmmsg(b->fd, b->msgs + sent, b->n - sent, MSG_DONTWAIT);
		if (r <= 0)
			break; /* a full socket buffer loses these replies; clients retry */
		sent += (unsigned)r;
	}
	b->n = 0;
	b->fd = -1;
}

static void on_udp(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct listener *l = data;
	struct dns_service *s = l->s;
	(void)loop;
	(void)events;

	for (unsigned i = 0; i < UDP_BATCH; i++) {
		s->in_iov[i] = (struct iovec){s->in_buf[i], sizeof(s->in_buf[i])};
		s->in_msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &s->in_from[i],
		                                             .msg_namelen = sizeof(s->in_from[i]),
		                                             .msg_iov = &s->in_iov[i],
		                                             .msg_iovlen = 1}};
	}
	int n = recvmmsg(fd, s->in_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return; /* EAGAIN, or an error the next datagram may not have */
	s->batch.fd = fd;
	for (int i = 0; i < n; i++) {
		struct addr client;
		if (addr_from_sockaddr(&client, (struct sockaddr *)&s->in_from[i],
		                       s->in_msgs[i].msg_hdr.msg_namelen) < 0)
			continue;
		handle_query(s, s->in_buf[i], s->in_msgs[i].msg_len, &client, fd, NULL);
	}
	flush_batch(s);
}

/* ---- TCP ----------------------------------------------------------------- */

static void tcp_client_close(struct tcp_client *c)
{
	struct dns_service *s = c->s;

	if (c->pending) {
		c->pending->tcp = NULL;
		pending_free(c->pending);
	}
	loop_timer_cancel(c->idle);
	loop_del_fd(s->env.loop, c->fd);
	close(c->fd);
	free(c->out);
	*(c->prev ? &c->prev->next : &s->tcp_clients) = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_tcp--;
	free(c);
}

/* Ready for the next query: read again. */
static void tcp_resume(struct tcp_client *c)
{
	if (c->dead)
		return;
	c->have = 0;
	loop_mod_fd(c->s->env.loop, c->fd, LOOP_READ);
}

static void on_tcp_idle(struct loop *loop, struct loop_timer *t, void *data)
{
	(void)loop;
	(void)t;
	tcp_client_close(data);
}

static void on_tcp_client(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct tcp_client *c = data;
	struct dns_service *s = c->s;
	(void)loop;

	if (c->dead)
		return;
	if (c->out && (events & LOOP_WRITE)) {
		tcp_flush(c);
		return;
	}
	if (c->pending || c->out)
		return;
	size_t want = c->have < 2 ? 2 - c->have : 2 + ((size_t)c->in[0] << 8 | c->in[1]) - c->have;
	ssize_t n = recv(fd, c->in + c->have, want, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		tcp_client_close(c);
		return;
	}
	c->have += (size_t)n;
	loop_timer_reset(c->idle, s->config.tcp_idle_ms);
	if (c->have < 2)
		return;
	size_t msg_len = (size_t)c->in[0] << 8 | c->in[1];
	if (msg_len == 0) {
		tcp_client_close(c);
		return;
	}
	if (c->have < 2 + msg_len)
		return;
	/* One query at a time: stop reading until it is answered. */
	loop_mod_fd(s->env.loop, fd, 0);
	handle_query(s, c->in + 2, msg_len, &c->peer, -1, c);
}

static void on_tcp_listener(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct listener *l = data;
	struct dns_service *s = l->s;
	(void)events;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct addr peer;
		int cfd = sock_accept(fd, &peer);
		if (cfd < 0)
			return;
		if (s->n_tcp >= s->config.max_tcp_clients) {
			close(cfd);
			s->stats.tcp_refused++;
			note_throttled(s, &s->cap_note,
			               "TCP connection cap reached: connection closed", &peer);
			continue;
		}
		struct tcp_client *c = malloc(sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		memset(c, 0, offsetof(struct tcp_client, in));
		c->s = s;
		c->fd = cfd;
		c->peer = peer;
		c->idle = loop_timer_add(loop, s->config.tcp_idle_ms, on_tcp_idle, c);
		if (!c->idle || loop_add_fd(loop, cfd, LOOP_READ, on_tcp_client, c) < 0) {
			loop_timer_cancel(c->idle);
			close(cfd);
			free(c);
			continue;
		}
		c->next = s->tcp_clients;
		if (s->tcp_clients)
			s->tcp_clients->prev = c;
		s->tcp_clients = c;
		s->n_tcp++;
	}
}

/* ---- setup ----------------------------------------------------------------- */

int dns_service_new(const struct dns_service_env *env, const struct dns_service_config *c,
                    struct dns_service **ret, struct diag *d)
{
	struct dns_service *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return diag_fail(d, -ENOMEM, "out of memory");
	s->env = *env;
	s->batch.fd = -1;
	if (!s->env.sandbox)
		s->env.sandbox = "";
	s->config = *c;
	r = upstream_new(env->loop, &c->upstream, &s->upstream);
	if (r < 0) {
		free(s);
		return diag_fail(d, r,
		                 r == -EINVAL ? "no usable upstream resolver: give --upstream ADDR"
		                              : "cannot set up the upstream client: %s",
		                 strerror(-r));
	}
	if (c->cache_entries) {
		s->cache = dns_cache_new(c->cache_entries, c->cache_max_ttl_s);
		if (!s->cache) {
			dns_service_free(s);
			return diag_fail(d, -ENOMEM, "out of memory for the DNS cache");
		}
	}
	s->ratelimit = ratelimit_new(RATE_SLOTS, c->rate, c->burst);
	if (!s->ratelimit) {
		dns_service_free(s);
		return diag_fail(d, -EINVAL, "the DNS rate limit needs a rate and a burst above 0");
	}
	*ret = s;
	return 0;
}

static int add_listener(struct dns_service *s, int fd, loop_fd_cb *cb)
{
	struct listener *l = calloc(1, sizeof(*l));
	int r;

	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->s = s;
	l->fd = fd;
	r = loop_add_fd(s->env.loop, fd, LOOP_READ, cb, l);
	if (r < 0) {
		close(fd);
		free(l);
		return r;
	}
	l->next = s->listeners;
	s->listeners = l;
	return 0;
}

int dns_service_add_udp(struct dns_service *s, int fd)
{
	return add_listener(s, fd, on_udp);
}

int dns_service_add_tcp(struct dns_service *s, int fd)
{
	return add_listener(s, fd, on_tcp_listener);
}

void dns_service_free(struct dns_service *s)
{
	if (!s)
		return;
	while (s->tcp_clients)
		tcp_client_close(s->tcp_clients);
	while (s->pending)
		pending_free(s->pending);
	for (struct listener *l = s->listeners, *next; l; l = next) {
		next = l->next;
		loop_del_fd(s->env.loop, l->fd);
		close(l->fd);
		free(l);
	}
	upstream_free(s->upstream);
	ratelimit_free(s->ratelimit);
	dns_cache_free(s->cache);
	policy_unref(s->cache_policy);
	free(s);
}

void dns_service_stats(const struct dns_service *s, struct dns_stats *ret)
{
	*ret = s->stats;
}
