#include "dns/upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/sock.h"

/* Largest UDP answer read; we never advertise more than this. */
#define UDP_ANSWER_MAX 4096
#define EDNS_SIZE_MAX  1232 /* the DNS flag day 2020 size: no fragmentation */

struct upstream {
	struct loop *loop;
	struct upstream_config config;
	struct upstream_query *inflight; /* a doubly linked list */
	size_t n_inflight;
	struct dns_response scratch; /* one parse at a time: the loop is single-threaded */
};

struct upstream_query {
	struct upstream *u;
	struct upstream_query *prev, *next;
	upstream_cb *cb;
	void *ctx;
	struct dns_question question;
	uint8_t msg[2 + DNS_HEADER_SIZE + DNS_NAME_WIRE_MAX + 4 + 11]; /* TCP length, query, OPT */
	size_t msg_len;                                                /* without the TCP length */
	unsigned attempt;
	int fd;
	bool tcp;
	struct loop_timer *timer;
	/* TCP: bytes of the query sent, and the answer read so far. */
	size_t sent;
	uint8_t len_prefix[2];
	size_t have;
	uint8_t *answer;
	size_t answer_len;
};

void upstream_config_default(struct upstream_config *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 1500;
	c->attempts = 3;
	c->max_inflight = 1024;
}

int upstream_config_from_resolv_conf(struct upstream_config *c, const char *text)
{
	size_t n = 0;
	for (const char *line = text; *line && n < UPSTREAM_MAX_SERVERS;) {
		size_t len = strcspn(line, "\n");
		char buf[128];
		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			char *p = buf + strspn(buf, " \t");
			if (strncmp(p, "nameserver", 10) == 0 && (p[10] == ' ' || p[10] == '\t')) {
				p += 10 + strspn(p + 10, " \t");
				p[strcspn(p, " \t#;")] = '\0';
				if (addr_parse(p, 53, &c->servers[n]) == 0)
					n++;
			}
		}
		line += len + (line[len] == '\n');
	}
	c->n_servers = n;
	return n ? 0 : -ENOENT;
}

int upstream_new(struct loop *loop, const struct upstream_config *c, struct upstream **ret)
{
	if (c->n_servers == 0 || c->n_servers > UPSTREAM_MAX_SERVERS || c->attempts == 0 ||
	    c->timeout_ms == 0 || c->max_inflight == 0)
		return -EINVAL;
	struct upstream *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->loop = loop;
	u->config = *c;
	*ret = u;
	return 0;
}

static void close_attempt(struct upstream_query *q)
{
	if (q->fd >= 0) {
		loop_del_fd(q->u->loop, q->fd);
		close(q->fd);
		q->fd = -1;
	}
	free(q->answer);
	q->answer = NULL;
	q->answer_len = q->have = q->sent = 0;
}

static void query_free(struct upstream_query *q)
{
	struct upstream *u = q->u;

	close_attempt(q);
	loop_timer_cancel(q->timer);
	*(q->prev ? &q->prev->next : &u->inflight) = q->next;
	if (q->next)
		q->next->prev = q->prev;
	u->n_inflight--;
	free(q);
}

static void finish(struct upstream_query *q, int result, const uint8_t *msg, size_t len)
{
	upstream_cb *cb = q->cb;
	void *ctx = q->ctx;
	/* Release the socket and timer first: the callback may start new
	 * queries.  `msg` is never in q's own buffers. */
	close_attempt(q);
	loop_timer_cancel(q->timer);
	q->timer = NULL;
	cb(ctx, result, msg, len);
	query_free(q);
}

static int start_attempt(struct upstream_query *q);

/* An attempt failed: try the next server, or give up. */
static void next_attempt(struct upstream_query *q, int err)
{
	while (++q->attempt < q->u->config.attempts) {
		q->tcp = false;
		if (start_attempt(q) == 0)
			return;
	}
	finish(q, err, NULL, 0);
}

static void on_timeout(struct loop *loop, struct loop_timer *timer, void *data)
{
	(void)loop;
	(void)timer;
	next_attempt(data, -ETIMEDOUT);
}

/* A response from the server we asked: checked, then done, retried over TCP
 * (TC), or a failed attempt (garbage).  Returns true when q is finished. */
static bool take_answer(struct upstream_query *q, const uint8_t *msg, size_t len)
{
	struct dns_response *r = &q->u->scratch;
	int pr = dns_parse_response(msg, len, r, NULL);

	/* Not ours (a late answer to an earlier attempt, a forgery): keep waiting. */
	if (len < DNS_HEADER_SIZE || r->header.id != (uint16_t)(q->msg[2] << 8 | q->msg[3]))
		return false;
	if (pr == 0 && !dns_question_matches(&q->question, &r->question))
		return false;
	if (pr != 0) {
		next_attempt(q, -EBADMSG);
		return true;
	}
	if (r->header.tc && !q->tcp) {
		q->tcp = true;
		close_attempt(q);
		if (start_attempt(q) < 0)
			next_attempt(q, -EIO);
		return true;
	}
	finish(q, 0, msg, len);
	return true;
}

static void on_udp(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct upstream_query *q = data;
	uint8_t buf[UDP_ANSWER_MAX];
	(void)loop;
	(void)events;

	/* A few datagrams per wakeup: a flood of forgeries cannot hog the loop. */
	for (int i = 0; i < 8; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			/* ECONNREFUSED: the ICMP answer to a connected UDP socket. */
			next_attempt(q, -errno);
			return;
		}
		if (take_answer(q, buf, (size_t)n))
			return;
	}
}

static void on_tcp(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct upstream_query *q = data;
	(void)events;

	if (q->sent < q->msg_len + 2) {
		int err = sock_connect_result(fd);
		if (err < 0) {
			next_attempt(q, err);
			return;
		}
		ssize_t n = send(fd, q->msg + q->sent, q->msg_len + 2 - q->sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			next_attempt(q, -errno);
			return;
		}
		if (n > 0)
			q->sent += (size_t)n;
		if (q->sent == q->msg_len + 2)
			loop_mod_fd(loop, fd, LOOP_READ);
		return;
	}
	for (;;) {
		uint8_t *dst;
		size_t want;
		if (q->have < 2) {
			dst = q->len_prefix + q->have;
			want = 2 - q->have;
		} else {
			dst = q->answer + (q->have - 2);
			want = q->answer_len - (q->have - 2);
		}
		ssize_t n = recv(fd, dst, want, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			next_attempt(q, n == 0 ? -ECONNRESET : -errno);
			return;
		}
		q->have += (size_t)n;
		if (q->have == 2) {
			q->answer_len = (size_t)q->len_prefix[0] << 8 | q->len_prefix[1];
			q->answer = malloc(q->answer_len ? q->answer_len : 1);
			if (!q->answer || q->answer_len < DNS_HEADER_SIZE) {
				next_attempt(q, q->answer ? -EBADMSG : -ENOMEM);
				return;
			}
		}
		if (q->have >= 2 && q->have - 2 == q->answer_len) {
			/* Over TCP an answer that is not ours is a failed attempt. */
			uint8_t *answer = q->answer;
			q->answer = NULL;
			if (!take_answer(q, answer, q->answer_len))
				next_attempt(q, -EBADMSG);
			free(answer);
			return;
		}
	}
}

static int start_attempt(struct upstream_query *q)
{
	const struct upstream_config *c = &q->u->config;
	const struct addr *server = &c->servers[q->attempt % c->n_servers];
	int r;

	close_attempt(q);
	loop_timer_reset(q->timer, c->timeout_ms);
	if (q->tcp) {
		r = sock_connect_tcp_nb(server);
		if (r < 0)
			return r;
		q->fd = r;
		r = loop_add_fd(q->u->loop, q->fd, LOOP_WRITE, on_tcp, q);
		return r;
	}
	q->fd = socket(addr_family(server), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return -errno;
	if (connect(q->fd, &server->sa, server->len) < 0 ||
	    send(q->fd, q->msg + 2, q->msg_len, 0) < 0) {
		r = -errno;
		close(q->fd);
		q->fd = -1;
		return r;
	}
	return loop_add_fd(q->u->loop, q->fd, LOOP_READ, on_udp, q);
}

int upstream_query(struct upstream *u, const char *name, size_t len, uint16_t qtype,
                   uint16_t edns_size, upstream_cb *cb, void *ctx, struct upstream_query **ret)
{
	struct dns_query_spec spec = {
	        .name = name,
	        .name_len = len,
	        .qtype = qtype,
	        .qclass = DNS_CLASS_IN,
	        .edns_udp_size = edns_size > EDNS_SIZE_MAX ? EDNS_SIZE_MAX : edns_size,
	};
	int r;

	if (u->n_inflight >= u->config.max_inflight)
		return -EBUSY;
	if (getrandom(&spec.id, sizeof(spec.id), GRND_NONBLOCK) != sizeof(spec.id))
		return -EAGAIN;
	struct upstream_query *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->fd = -1;
	r = dns_build_query(&spec, q->msg + 2, sizeof(q->msg) - 2, NULL);
	if (r < 0) {
		free(q);
		return r;
	}
	q->msg_len = (size_t)r;
	q->msg[0] = (uint8_t)(q->msg_len >> 8);
	q->msg[1] = (uint8_t)q->msg_len;
	struct dns_query parsed;
	r = dns_parse_query(q->msg + 2, q->msg_len, &parsed, NULL);
	if (r < 0) {
		free(q);
		return r;
	}
	q->question = parsed.question;
	q->timer = loop_timer_add(u->loop, u->config.timeout_ms, on_timeout, q);
	if (!q->timer) {
		free(q);
		return -ENOMEM;
	}
	q->u = u;
	q->cb = cb;
	q->ctx = ctx;
	q->next = u->inflight;
	if (u->inflight)
		u->inflight->prev = q;
	u->inflight = q;
	u->n_inflight++;

	/* Try servers until one takes the query.  If none does (no descriptors,
	 * no route), say so now: the callback will never run. */
	for (r = start_attempt(q); r < 0 && ++q->attempt < u->config.attempts;)
		r = start_attempt(q);
	if (r < 0) {
		query_free(q);
		return r;
	}
	if (ret)
		*ret = q;
	return 0;
}

void upstream_cancel(struct upstream_query *q)
{
	if (q)
		query_free(q);
}

void upstream_free(struct upstream *u)
{
	if (!u)
		return;
	while (u->inflight)
		query_free(u->inflight);
	free(u);
}

size_t upstream_inflight(const struct upstream *u)
{
	return u->n_inflight;
}
