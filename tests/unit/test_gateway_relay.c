/* The relay between two TCP connections, over 127.0.0.1: both paths (splice
 * and copy), half-close, backpressure with a bulk transfer, the body limit,
 * idle timeout, a reset peer, and close-on-exec descriptors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "gateway/relay.h"
#include "net/addr.h"
#include "net/loop.h"
#include "net/sock.h"

/* Two connected TCP sockets on loopback: *a (connect side), *b (accepted). */
static void tcp_pair(int *a, int *b)
{
	struct addr any, local;
	assert_int_equal(addr_parse("127.0.0.1", 0, &any), 0);
	int l = sock_listen_tcp(&any, 4);
	assert_true(l >= 0);
	assert_int_equal(sock_local_addr(l, &local), 0);
	*a = sock_connect_tcp_nb(&local);
	assert_true(*a >= 0);
	for (int i = 0; i < 1000; i++) {
		*b = sock_accept(l, NULL);
		if (*b != -EAGAIN)
			break;
		usleep(1000);
	}
	assert_true(*b >= 0);
	close(l);
}

struct fixture {
	struct loop *loop;
	int client_app, server_app; /* the ends the test plays */
	int client_relay;           /* the relay's end of the client connection (its fd) */
	struct relay *relay;
	bool done;
	struct relay_result res;
};

static void on_done(void *ctx, const struct relay_result *res)
{
	struct fixture *f = ctx;
	f->done = true;
	f->res = *res;
}

static void start(struct fixture *f, const struct relay_config *c, const char *preamble)
{
	int client_relay, server_relay;

	memset(f, 0, sizeof(*f));
	f->loop = loop_new();
	assert_non_null(f->loop);
	tcp_pair(&f->client_app, &client_relay);
	tcp_pair(&server_relay, &f->server_app);
	f->client_relay = client_relay;
	assert_int_equal(relay_new(f->loop, client_relay, server_relay, c, preamble,
	                           preamble ? strlen(preamble) : 0, on_done, f, &f->relay),
	                 0);
}

static void stop(struct fixture *f)
{
	relay_free(f->relay);
	loop_free(f->loop);
	close(f->client_app);
	close(f->server_app);
}

/* Run the loop until `fd` has `len` bytes for us (or the relay ends). */
static size_t pump_read(struct fixture *f, int fd, char *buf, size_t len)
{
	size_t got = 0;
	for (int i = 0; i < 2000 && got < len; i++) {
		loop_run_once(f->loop, 5);
		ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			break;
	}
	return got;
}

static void run_until_done(struct fixture *f)
{
	for (int i = 0; i < 2000 && !f->done; i++)
		loop_run_once(f->loop, 5);
	assert_true(f->done);
}

static bool at_eof(int fd)
{
	char c;
	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

static void both_ways(bool no_splice)
{
	struct fixture f;
	struct relay_config c;
	char buf[64];

	relay_config_default(&c);
	c.no_splice = no_splice;
	start(&f, &c, "PRE:");
	assert_int_equal(send(f.client_app, "hello", 5, 0), 5);
	assert_int_equal(pump_read(&f, f.server_app, buf, 9), 9);
	assert_memory_equal(buf, "PRE:hello", 9);
	assert_int_equal(send(f.server_app, "world", 5, 0), 5);
	assert_int_equal(pump_read(&f, f.client_app, buf, 5), 5);
	assert_memory_equal(buf, "world", 5);

	/* Half-close, one way then the other: the relay passes each on and
	 * ends once both are done. */
	shutdown(f.client_app, SHUT_WR);
	assert_int_equal(pump_read(&f, f.server_app, buf, 1), 0);
	assert_false(f.done);
	assert_int_equal(send(f.server_app, "late", 4, 0), 4); /* the other way still works */
	assert_int_equal(pump_read(&f, f.client_app, buf, 4), 4);
	shutdown(f.server_app, SHUT_WR);
	run_until_done(&f);
	assert_true(at_eof(f.client_app));
	assert_int_equal(f.res.end, RELAY_END_DONE);
	assert_int_equal(f.res.error, 0);
	assert_null(f.res.where);
	assert_int_equal(f.res.bytes_up, 9);
	assert_int_equal(f.res.bytes_down, 9);
	assert_int_equal(f.res.copied, no_splice);
	stop(&f);
}

static void test_both_ways_splice(void **state)
{
	(void)state;
	both_ways(false);
}

static void test_both_ways_copy(void **state)
{
	(void)state;
	both_ways(true);
}

/* 16 MiB up while reading only now and then: the relay must hold no more
 * than it can (backpressure), lose nothing and reorder nothing. */
static void bulk(bool no_splice)
{
	enum { TOTAL = 16 * 1024 * 1024 };
	struct fixture f;
	struct relay_config c;
	static uint8_t out[256 * 1024], in[256 * 1024];
	size_t sent = 0, got = 0;

	relay_config_default(&c);
	c.no_splice = no_splice;
	start(&f, &c, NULL);
	for (int i = 0; got < TOTAL && i < 200000; i++) {
		if (sent < TOTAL) {
			for (size_t k = 0; k < sizeof(out); k++)
				out[k] = (uint8_t)((sent + k) * 7 + 3);
			size_t want = TOTAL - sent < sizeof(out) ? TOTAL - sent : sizeof(out);
			ssize_t n = send(f.client_app, out, want, MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
		}
		loop_run_once(f.loop, 1);
		if (i % 3 == 0) { /* a slow reader */
			ssize_t n = recv(f.server_app, in, sizeof(in), MSG_DONTWAIT);
			for (ssize_t k = 0; k < n; k++)
				if (in[k] != (uint8_t)((got + (size_t)k) * 7 + 3))
					fail_msg("byte %zu differs", got + (size_t)k);
			if (n > 0)
				got += (size_t)n;
		}
	}
	assert_int_equal(got, TOTAL);
	uint64_t up, down;
	relay_counts(f.relay, &up, &down);
	assert_int_equal(up, TOTAL);
	assert_int_equal(down, 0);
	stop(&f);
}

static void test_bulk_splice(void **state)
{
	(void)state;
	bulk(false);
}

static void test_bulk_copy(void **state)
{
	(void)state;
	bulk(true);
}

/* up_limit: the request body and not a byte more reaches the server. */
static void test_up_limit(void **state)
{
	struct fixture f;
	struct relay_config c;
	char buf[64];
	(void)state;

	relay_config_default(&c);
	c.up_limit = 3;
	start(&f, &c, "HEAD;");
	assert_int_equal(send(f.client_app, "abcSMUGGLED", 11, 0), 11);
	assert_int_equal(pump_read(&f, f.server_app, buf, 8), 8);
	assert_memory_equal(buf, "HEAD;abc", 8);
	for (int i = 0; i < 10; i++)
		loop_run_once(f.loop, 2);
	assert_int_equal(recv(f.server_app, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	/* The server answers and closes: done, with the client told. */
	assert_int_equal(send(f.server_app, "reply", 5, 0), 5);
	shutdown(f.server_app, SHUT_WR);
	run_until_done(&f);
	assert_int_equal(f.res.end, RELAY_END_DONE);
	assert_int_equal(f.res.bytes_up, 8);
	assert_int_equal(pump_read(&f, f.client_app, buf, 5), 5);
	assert_memory_equal(buf, "reply", 5);
	stop(&f);
}

static void test_idle_timeout(void **state)
{
	struct fixture f;
	struct relay_config c;
	char buf[8];
	(void)state;

	relay_config_default(&c);
	c.idle_ms = 50;
	start(&f, &c, NULL);
	assert_int_equal(send(f.client_app, "x", 1, 0), 1);
	assert_int_equal(pump_read(&f, f.server_app, buf, 1), 1);
	run_until_done(&f);
	assert_int_equal(f.res.end, RELAY_END_IDLE);
	assert_int_equal(f.res.bytes_up, 1);
	stop(&f);
}

/* A server that resets: the relay ends with the error and where it was. */
static void test_reset_is_an_error(void **state)
{
	struct fixture f;
	struct relay_config c;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	(void)state;

	relay_config_default(&c);
	start(&f, &c, NULL);
	assert_int_equal(setsockopt(f.server_app, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(f.server_app);
	f.server_app = -1;
	run_until_done(&f);
	assert_int_equal(f.res.end, RELAY_END_ERROR);
	assert_int_equal(f.res.error, -ECONNRESET);
	assert_string_equal(f.res.where, "server read");
	stop(&f);
}

/* Enough bytes each way to make both directions bulk transfers (a probe
 * buffer filled): they splice, through pipes, from then on. */
static void exchange_bulk(struct fixture *f)
{
	static char out[RELAY_PROBE_SIZE * 4], in[RELAY_PROBE_SIZE * 4];
	memset(out, 'b', sizeof(out));
	for (int side = 0; side < 2; side++) {
		int from = side ? f->server_app : f->client_app,
		    to = side ? f->client_app : f->server_app;
		assert_int_equal(send(from, out, sizeof(out), 0), (ssize_t)sizeof(out));
		size_t got = 0;
		while (got < sizeof(in)) {
			int n = pump_read(f, to, in + got, sizeof(in) - got);
			assert_true(n > 0);
			got += (size_t)n;
		}
	}
}

/* The pipes open in this process ("pipe:" links in /proc/self/fd). */
static int count_pipes(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int pipes = 0;
	assert_non_null(dir);
	for (struct dirent *e; (e = readdir(dir));) {
		char path[300], target[64] = "";
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		if (readlink(path, target, sizeof(target) - 1) > 0 &&
		    strncmp(target, "pipe:", 5) == 0)
			pipes++;
	}
	closedir(dir);
	return pipes;
}

/* Run the loop for about `ms` without touching the sockets. */
static void run_for(struct fixture *f, int ms)
{
	for (int i = 0; i < ms / 5; i++)
		loop_run_once(f->loop, 5);
}

/* A relay quiet for release_ms closes its (empty) pipes, goes on relaying
 * with new ones when bytes come again, and only idle_ms ends it. */
static void test_quiet_relay_releases_pipes(void **state)
{
	struct fixture f;
	struct relay_config c;
	char buf[8];
	(void)state;

	int before = count_pipes();
	relay_config_default(&c);
	c.release_ms = 20;
	start(&f, &c, NULL);
	exchange_bulk(&f);
	assert_int_equal(count_pipes() - before, 4); /* two ends, each way */

	run_for(&f, 100);
	assert_int_equal(count_pipes() - before, 0);
	assert_false(f.done);

	assert_int_equal(send(f.client_app, "ef", 2, 0), 2);
	assert_int_equal(pump_read(&f, f.server_app, buf, 2), 2);
	assert_memory_equal(buf, "ef", 2);
	assert_int_equal(count_pipes() - before, 2); /* up only: a bulk direction splices again */
	assert_int_equal(send(f.server_app, "gh", 2, 0), 2);
	assert_int_equal(pump_read(&f, f.client_app, buf, 2), 2);
	assert_memory_equal(buf, "gh", 2);
	uint64_t up, down;
	relay_counts(f.relay, &up, &down);
	assert_int_equal(up, RELAY_PROBE_SIZE * 4 + 2);
	assert_int_equal(down, RELAY_PROBE_SIZE * 4 + 2);
	assert_false(f.done);
	stop(&f);
}

/* Small exchanges (requests, handshakes, an idle tunnel's hello) take no
 * pipe at all; a bulk transfer does, and its bytes arrive whole. */
static void test_small_flows_take_no_pipe(void **state)
{
	struct fixture f;
	struct relay_config c;
	char buf[8];
	(void)state;

	int before = count_pipes();
	relay_config_default(&c);
	start(&f, &c, NULL);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(send(f.client_app, "ping", 4, 0), 4);
		assert_int_equal(pump_read(&f, f.server_app, buf, 4), 4);
		assert_int_equal(send(f.server_app, "pong", 4, 0), 4);
		assert_int_equal(pump_read(&f, f.client_app, buf, 4), 4);
		assert_memory_equal(buf, "pong", 4);
	}
	assert_int_equal(count_pipes() - before, 0);
	exchange_bulk(&f);
	assert_int_equal(count_pipes() - before, 4);
	stop(&f);
}

/* release_ms 0 keeps the pipes for the relay's life. */
static void test_release_zero_keeps_pipes(void **state)
{
	struct fixture f;
	struct relay_config c;
	char buf[8];
	(void)state;

	int before = count_pipes();
	relay_config_default(&c);
	c.release_ms = 0;
	start(&f, &c, NULL);
	exchange_bulk(&f);
	run_for(&f, 60);
	assert_int_equal(count_pipes() - before, 4);
	(void)buf;
	stop(&f);
}

/* Quiet because the server stopped reading: the bytes the relay holds stay
 * held through the quiet spell, and arrive whole and in order once the server
 * reads again. */
static void quiet_with_bytes_held(bool no_splice)
{
	enum { TOTAL = 256 * 1024 * 1024 };
	struct fixture f;
	struct relay_config c;
	static uint8_t out[64 * 1024], in[256 * 1024];
	size_t sent = 0, got = 0;

	relay_config_default(&c);
	c.no_splice = no_splice;
	c.release_ms = 20;
	start(&f, &c, NULL);
	/* Fill every buffer on the way: the server's socket, the relay, the
	 * client's socket, until the client cannot send 50 times in a row. */
	for (int i = 0, refused = 0; i < 100000 && sent < TOTAL && refused < 50; i++) {
		for (size_t k = 0; k < sizeof(out); k++)
			out[k] = (uint8_t)((sent + k) * 13 + 1);
		ssize_t n = send(f.client_app, out, sizeof(out), MSG_DONTWAIT);
		if (n > 0)
			sent += (size_t)n;
		refused = n > 0 ? 0 : refused + 1;
		loop_run_once(f.loop, 0);
	}
	assert_true(sent < TOTAL); /* backpressure reached the client */
	/* What the relay holds: sent, less what is still in the client's
	 * socket or the relay's, less what it wrote to the server. */
	int unsent = 0, queued = 0;
	uint64_t up, down;
	assert_int_equal(ioctl(f.client_app, SIOCOUTQNSD, &unsent), 0);
	assert_int_equal(ioctl(f.client_relay, SIOCINQ, &queued), 0);
	relay_counts(f.relay, &up, &down);
	assert_true(sent - (size_t)unsent - (size_t)queued - up > 0);
	run_for(&f, 100); /* quiet: the release timer fires */
	assert_false(f.done);
	shutdown(f.client_app, SHUT_WR);
	for (int i = 0; i < 200000 && got < sent; i++) {
		loop_run_once(f.loop, 1);
		ssize_t n = recv(f.server_app, in, sizeof(in), MSG_DONTWAIT);
		for (ssize_t k = 0; k < n; k++)
			if (in[k] != (uint8_t)((got + (size_t)k) * 13 + 1))
				fail_msg("byte %zu differs", got + (size_t)k);
		if (n > 0)
			got += (size_t)n;
	}
	assert_int_equal(got, sent);
	assert_int_equal(pump_read(&f, f.server_app, (char *)in, 1), 0); /* EOF passed on */
	stop(&f);
}

static void test_quiet_with_bytes_held_splice(void **state)
{
	(void)state;
	quiet_with_bytes_held(false);
}

static void test_quiet_with_bytes_held_copy(void **state)
{
	(void)state;
	quiet_with_bytes_held(true);
}

/* Every descriptor the relay made (its pipes) is close-on-exec. */
static void test_descriptors_cloexec(void **state)
{
	struct fixture f;
	struct relay_config c;
	char buf[8];
	(void)state;

	relay_config_default(&c);
	start(&f, &c, NULL);
	exchange_bulk(&f);
	(void)buf;
	DIR *dir = opendir("/proc/self/fd");
	assert_non_null(dir);
	int pipes = 0;
	for (struct dirent *e; (e = readdir(dir));) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || fd <= 2 || fd == dirfd(dir))
			continue;
		int flags = fcntl((int)fd, F_GETFD);
		if (flags >= 0 && !(flags & FD_CLOEXEC))
			fail_msg("fd %ld is not close-on-exec", fd);
		char path[64], target[64] = "";
		snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
		if (readlink(path, target, sizeof(target) - 1) > 0 &&
		    strncmp(target, "pipe:", 5) == 0)
			pipes++;
	}
	closedir(dir);
	assert_true(pipes >= 4); /* one pipe, two ends, each way */
	stop(&f);
}

int main(void)
{
	/* splice() into a socket whose peer is gone raises SIGPIPE (relay.h). */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_both_ways_splice),
	        cmocka_unit_test(test_both_ways_copy),
	        cmocka_unit_test(test_bulk_splice),
	        cmocka_unit_test(test_bulk_copy),
	        cmocka_unit_test(test_up_limit),
	        cmocka_unit_test(test_idle_timeout),
	        cmocka_unit_test(test_reset_is_an_error),
	        cmocka_unit_test(test_descriptors_cloexec),
	        cmocka_unit_test(test_quiet_relay_releases_pipes),
	        cmocka_unit_test(test_release_zero_keeps_pipes),
	        cmocka_unit_test(test_small_flows_take_no_pipe),
	        cmocka_unit_test(test_quiet_with_bytes_held_splice),
	        cmocka_unit_test(test_quiet_with_bytes_held_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
