/* The upstream client against fake resolvers on 127.0.0.1, in one loop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "dns/upstream.h"
#include "net/sock.h"

/* How a fake server answers. */
enum behaviour {
	ANSWER,         /* a proper answer */
	WRONG_ID_FIRST, /* a forged answer with another ID, then the right one */
	TRUNCATE,       /* TC over UDP; the answer over TCP */
	SILENT,         /* nothing */
	GARBAGE,        /* the right ID, then bytes that do not parse */
	OTHER_QUESTION, /* the right ID, another question: ignored */
};

struct server {
	enum behaviour how;
	int udp, tcp;
	struct addr addr;
	unsigned udp_queries, tcp_queries;
};

struct result {
	bool called;
	int result;
	uint8_t rcode;
	bool tc;
};

static struct loop *loop;

/* Answer `query` with one A record 198.18.0.20 (or TC, or garbage). */
static size_t answer(const uint8_t *query, size_t len, bool tc, uint8_t *out)
{
	struct dns_query q;
	assert_int_equal(dns_parse_query(query, len, &q, NULL), 0);
	static const uint8_t a[4] = {198, 18, 0, 20};
	int n = dns_build_address_reply(&q, a, 4, 300, out, 512);
	assert_true(n > 0);
	if (tc) {
		n = dns_build_reply(&q, 0, out, 512);
		out[2] |= 0x02;
	}
	return (size_t)n;
}

static void on_server_udp(struct loop *l, int fd, uint32_t events, void *data)
{
	struct server *s = data;
	uint8_t buf[512], out[512];
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	(void)l;
	(void)events;

	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
	if (n <= 0)
		return;
	s->udp_queries++;
	size_t m;
	switch (s->how) {
	case SILENT:
		return;
	case GARBAGE:
		memcpy(out, buf, 2);
		memset(out + 2, 0xff, 20);
		sendto(fd, out, 22, 0, (struct sockaddr *)&peer, plen);
		return;
	case OTHER_QUESTION: {
		struct dns_query_spec spec = {.id = (uint16_t)(buf[0] << 8 | buf[1]),
		                              .name = "other.test",
		                              .name_len = 10,
		                              .qtype = 1,
		                              .qclass = 1};
		int qn = dns_build_query(&spec, out, sizeof(out), NULL);
		struct dns_query q;
		dns_parse_query(out, (size_t)qn, &q, NULL);
		uint8_t a[4] = {6, 6, 6, 6};
		int rn = dns_build_address_reply(&q, a, 4, 300, buf, sizeof(buf));
		sendto(fd, buf, (size_t)rn, 0, (struct sockaddr *)&peer, plen);
		return;
	}
	case WRONG_ID_FIRST:
		m = answer(buf, (size_t)n, false, out);
		out[0] ^= 0xff;
		sendto(fd, out, m, 0, (struct sockaddr *)&peer, plen);
		out[0] ^= 0xff;
		sendto(fd, out, m, 0, (struct sockaddr *)&peer, plen);
		return;
	case TRUNCATE:
		m = answer(buf, (size_t)n, true, out);
		sendto(fd, out, m, 0, (struct sockaddr *)&peer, plen);
		return;
	case ANSWER:
		m = answer(buf, (size_t)n, false, out);
		sendto(fd, out, m, 0, (struct sockaddr *)&peer, plen);
		return;
	}
}

/* TCP: one connection at a time; read a length-prefixed query as it comes
 * (the client is in this same loop), answer, close. */
static uint8_t tcp_buf[600];
static size_t tcp_have;

static void on_server_conn(struct loop *l, int c, uint32_t events, void *data)
{
	uint8_t out[514];
	(void)data;
	(void)events;

	ssize_t n = recv(c, tcp_buf + tcp_have, sizeof(tcp_buf) - tcp_have, 0);
	if (n > 0)
		tcp_have += (size_t)n;
	if (n > 0 && (tcp_have < 2 || tcp_have < 2 + (size_t)(tcp_buf[0] << 8 | tcp_buf[1])))
		return;
	if (n > 0) {
		size_t m = answer(tcp_buf + 2, tcp_have - 2, false, out + 2);
		out[0] = (uint8_t)(m >> 8);
		out[1] = (uint8_t)m;
		assert_int_equal(send(c, out, m + 2, MSG_NOSIGNAL), (ssize_t)(m + 2));
	}
	loop_del_fd(l, c);
	close(c);
}

static void on_server_tcp(struct loop *l, int fd, uint32_t events, void *data)
{
	struct server *s = data;
	(void)events;

	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return;
	s->tcp_queries++;
	tcp_have = 0;
	assert_int_equal(loop_add_fd(l, c, LOOP_READ, on_server_conn, s), 0);
}

static void server_start(struct server *s, enum behaviour how)
{
	memset(s, 0, sizeof(*s));
	s->how = how;
	/* Find a port free for both UDP and TCP. */
	for (int tries = 0; tries < 50; tries++) {
		struct addr a;
		assert_int_equal(addr_parse("127.0.0.1", 0, &a), 0);
		s->udp = sock_bind_udp(&a);
		assert_true(s->udp >= 0);
		assert_int_equal(sock_local_addr(s->udp, &s->addr), 0);
		s->tcp = sock_listen_tcp(&s->addr, 8);
		if (s->tcp >= 0)
			break;
		close(s->udp);
	}
	assert_true(s->tcp >= 0);
	assert_int_equal(loop_add_fd(loop, s->udp, LOOP_READ, on_server_udp, s), 0);
	assert_int_equal(loop_add_fd(loop, s->tcp, LOOP_READ, on_server_tcp, s), 0);
}

static void server_stop(struct server *s)
{
	loop_del_fd(loop, s->udp);
	loop_del_fd(loop, s->tcp);
	close(s->udp);
	close(s->tcp);
}

static void on_done(void *ctx, int result, const uint8_t *msg, size_t len)
{
	struct result *r = ctx;
	r->called = true;
	r->result = result;
	if (result == 0) {
		assert_true(len >= 12);
		r->rcode = msg[3] & 0x0f;
		r->tc = msg[2] & 0x02;
	}
}

static void run_until(struct result *r, int max_ms)
{
	for (int i = 0; i < max_ms / 10 && !r->called; i++)
		loop_run_once(loop, 10);
}

static struct upstream *client(struct server *const *servers, size_t n, unsigned timeout_ms,
                               unsigned attempts)
{
	struct upstream_config c;
	struct upstream *u;
	upstream_config_default(&c);
	for (size_t i = 0; i < n; i++)
		c.servers[i] = servers[i]->addr;
	c.n_servers = n;
	c.timeout_ms = timeout_ms;
	c.attempts = attempts;
	assert_int_equal(upstream_new(loop, &c, &u), 0);
	return u;
}

static int setup(void **state)
{
	(void)state;
	loop = loop_new();
	return loop ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	loop_free(loop);
	return 0;
}

static void test_answer(void **state)
{
	struct server s;
	struct result r = {0};
	(void)state;

	server_start(&s, ANSWER);
	struct server *list[] = {&s};
	struct upstream *u = client(list, 1, 1000, 2);
	assert_int_equal(upstream_query(u, "www.allowed.test", 16, 1, 0, on_done, &r, NULL), 0);
	assert_false(r.called); /* never before the call returns */
	assert_int_equal(upstream_inflight(u), 1);
	run_until(&r, 2000);
	assert_true(r.called);
	assert_int_equal(r.result, 0);
	assert_int_equal(upstream_inflight(u), 0);
	upstream_free(u);
	server_stop(&s);
}

static void test_forged_id_ignored(void **state)
{
	struct server s;
	struct result r = {0};
	(void)state;

	server_start(&s, WRONG_ID_FIRST);
	struct server *list[] = {&s};
	struct upstream *u = client(list, 1, 1000, 1);
	assert_int_equal(upstream_query(u, "www.allowed.test", 16, 1, 0, on_done, &r, NULL), 0);
	run_until(&r, 2000);
	assert_int_equal(r.result, 0);
	assert_int_equal(s.udp_queries, 1);
	upstream_free(u);
	server_stop(&s);
}

static void test_other_question_ignored(void **state)
{
	struct server s;
	struct result r = {0};
	(void)state;

	server_start(&s, OTHER_QUESTION);
	struct server *list[] = {&s};
	struct upstream *u = client(list, 1, 100, 1);
	assert_int_equal(upstream_query(u, "www.allowed.test", 16, 1, 0, on_done, &r, NULL), 0);
	run_until(&r, 2000);
	assert_int_equal(r.result, -ETIMEDOUT);
	upstream_free(u);
	server_stop(&s);
}

static void test_truncated_goes_tcp(void **state)
{
	struct server s;
	struct result r = {0};
	(void)state;

	server_start(&s, TRUNCATE);
	struct server *list[] = {&s};
	struct upstream *u = client(list, 1, 1000, 1);
	assert_int_equal(upstream_query(u, "tc.allowed.test", 15, 1, 0, on_done, &r, NULL), 0);
	run_until(&r, 2000);
	assert_int_equal(r.result, 0);
	assert_false(r.tc);
	assert_int_equal(s.udp_queries, 1);
	assert_int_equal(s.tcp_queries, 1);
	upstream_free(u);
	server_stop(&s);
}

static void test_timeout_moves_to_next_server(void **state)
{
	struct server quiet, good;
	struct result r = {0};
	(void)state;

	server_start(&quiet, SILENT);
	server_start(&good, ANSWER);
	struct server *list[] = {&quiet, &good};
	struct upstream *u = client(list, 2, 50, 2);
	assert_int_equal(upstream_query(u, "www.allowed.test", 16, 1, 0, on_done, &r, NULL), 0);
	run_until(&r, 2000);
	assert_int_equal(r.result, 0);
	assert_int_equal(quiet.udp_queries, 1);
	assert_int_equal(good.udp_queries, 1);
	upstream_free(u);

	/* All silent: -ETIMEDOUT after every attempt. */
	memset(&r, 0, sizeof(r));
	struct server *quiet_only[] = {&quiet};
	u = client(quiet_only, 1, 30, 3);
	assert_int_equal(upstream_query(u, "www.allowed.test", 16, 1, 0, on_done, &r, NULL), 0);
	run_until(&r, 2000);
	assert_int_equal(r.result, -ETIMEDOUT);
	assert_int_equal(quiet.udp_queries, 4);
	upstream_free(u);
	server_stop(&quiet);
	server_stop(&good);
}

static void test_garbage_is_a_failed_attempt(void **state)
{
	struct server bad, good;
	struct result r = {0};
	(void)state;

	server_start(&bad, GARBAGE);
	server_start(&good, ANSWER);
	struct server *list[] = {&bad, &good};
	/* A long timeout: the move to the next server must not wait for it. */
	struct upstream *u = client(list, 2, 5000, 2);
	assert_int_equal(upstream_query(u, "www.allowed.test", 16, 1, 0, on_done, &r, NULL), 0);
	run_until(&r, 1000);
	assert_int_equal(r.result, 0);
	assert_int_equal(good.udp_queries, 1);
	upstream_free(u);
	server_stop(&bad);
	server_stop(&good);
}

static void test_refused_port(void **state)
{
	struct server s;
	struct result r = {0};
	(void)state;

	/* A port nobody listens on: ICMP port unreachable, ECONNREFUSED. */
	server_start(&s, ANSWER);
	server_stop(&s);
	struct server *list[] = {&s};
	struct upstream *u = client(list, 1, 5000, 2);
	assert_int_equal(upstream_query(u, "www.allowed.test", 16, 1, 0, on_done, &r, NULL), 0);
	run_until(&r, 2000);
	assert_int_equal(r.result, -ECONNREFUSED);
	upstream_free(u);
}

static void test_cap_and_cancel(void **state)
{
	struct server s;
	struct result r[3] = {{0}};
	struct upstream_query *q;
	struct upstream_config c;
	struct upstream *u;
	(void)state;

	server_start(&s, SILENT);
	upstream_config_default(&c);
	c.servers[0] = s.addr;
	c.n_servers = 1;
	c.max_inflight = 2;
	c.timeout_ms = 50;
	c.attempts = 1;
	assert_int_equal(upstream_new(loop, &c, &u), 0);
	assert_int_equal(upstream_query(u, "a.test", 6, 1, 0, on_done, &r[0], &q), 0);
	assert_int_equal(upstream_query(u, "b.test", 6, 1, 0, on_done, &r[1], NULL), 0);
	assert_int_equal(upstream_query(u, "c.test", 6, 1, 0, on_done, &r[2], NULL), -EBUSY);
	upstream_cancel(q);
	assert_int_equal(upstream_inflight(u), 1);
	run_until(&r[1], 2000);
	assert_false(r[0].called); /* cancelled: never called */
	assert_int_equal(r[1].result, -ETIMEDOUT);
	/* Freeing with queries in flight calls nothing and leaks nothing. */
	assert_int_equal(upstream_query(u, "d.test", 6, 1, 0, on_done, &r[2], NULL), 0);
	upstream_free(u);
	assert_false(r[2].called);
	server_stop(&s);
}

static void test_resolv_conf(void **state)
{
	struct upstream_config c;
	char text[ADDR_STR_MAX];
	(void)state;

	upstream_config_default(&c);
	assert_int_equal(upstream_config_from_resolv_conf(
	                         &c, "# comment\nsearch example\nnameserver 198.18.0.10\n"
	                             "  nameserver\t2001:2::10 # trailing\nnameserver bogus\n"
	                             "options ndots:2\n"),
	                 0);
	assert_int_equal(c.n_servers, 2);
	addr_format(&c.servers[0], text, sizeof(text));
	assert_string_equal(text, "198.18.0.10:53");
	addr_format(&c.servers[1], text, sizeof(text));
	assert_string_equal(text, "[2001:2::10]:53");
	assert_int_equal(upstream_config_from_resolv_conf(&c, "search x\n"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_answer),
	        cmocka_unit_test(test_forged_id_ignored),
	        cmocka_unit_test(test_other_question_ignored),
	        cmocka_unit_test(test_truncated_goes_tcp),
	        cmocka_unit_test(test_timeout_moves_to_next_server),
	        cmocka_unit_test(test_garbage_is_a_failed_attempt),
	        cmocka_unit_test(test_refused_port),
	        cmocka_unit_test(test_cap_and_cancel),
	        cmocka_unit_test(test_resolv_conf),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
