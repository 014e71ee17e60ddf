/* Addresses, sockets and fd passing.  Traffic stays on 127.0.0.1 and ::1. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "net/addr.h"
#include "net/fdpass.h"
#include "net/loop.h"
#include "net/sock.h"

static struct addr parse_ok(const char *text, uint16_t default_port)
{
	struct addr a;
	int r = addr_parse(text, default_port, &a);
	if (r != 0)
		fail_msg("addr_parse(\"%s\") = %d", text, r);
	return a;
}

static bool has_flag(int fd, int get, int flag)
{
	int v = fcntl(fd, get);
	assert_true(v >= 0);
	return (v & flag) != 0;
}

/* ---- addresses ---- */

static void test_addr_parse_format_round_trip(void **state)
{
	static const struct {
		const char *in;
		uint16_t default_port;
		const char *out;
	} cases[] = {
	        {"1.2.3.4:53", 0, "1.2.3.4:53"},
	        {"127.0.0.1:65535", 0, "127.0.0.1:65535"},
	        {"10.0.0.1", 80, "10.0.0.1:80"},
	        {"0.0.0.0", 0, "0.0.0.0:0"}, /* default port 0: bind to any port */
	        {"[2001:db8::1]:53", 0, "[2001:db8::1]:53"},
	        {"[2001:DB8:0:0::1]:443", 0, "[2001:db8::1]:443"},
	        {"[::1]", 53, "[::1]:53"},
	        {"::1", 53, "[::1]:53"},
	        {"::", 9, "[::]:9"},
	        /* Without brackets, every colon is the address's. */
	        {"2001:db8::1:53", 7, "[2001:db8::1:53]:7"},
	        {"::ffff:1.2.3.4", 1, "[::ffff:1.2.3.4]:1"},
	        {"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", 0,
	         "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct addr a = parse_ok(cases[i].in, cases[i].default_port), b;
		char buf[ADDR_STR_MAX];
		assert_int_equal(addr_format(&a, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].out);
		/* The formatted form parses back to the same address, except
		 * that an explicit port 0 is refused (only a default may be 0). */
		if (addr_port(&a) == 0) {
			assert_int_equal(addr_parse(buf, 1, &b), -EINVAL);
			continue;
		}
		assert_int_equal(addr_parse(buf, 1, &b), 0);
		assert_true(addr_equal(&a, &b));
	}

	struct addr a = parse_ok("[2001:db8::1]:53", 0);
	char buf[ADDR_STR_MAX];
	assert_int_equal(addr_family(&a), AF_INET6);
	assert_int_equal(addr_port(&a), 53);
	assert_int_equal(a.len, sizeof(struct sockaddr_in6));
	assert_int_equal(addr_format_ip(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2001:db8::1");
	addr_set_port(&a, 8080);
	assert_int_equal(addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "[2001:db8::1]:8080");
	/* Too small a buffer: an error and an empty string, never a cut address. */
	assert_int_equal(addr_format(&a, buf, 10), -ENOSPC);
	assert_string_equal(buf, "");
	struct addr none = {.len = 0};
	assert_int_equal(addr_format(&none, buf, sizeof(buf)), -EAFNOSUPPORT);
	assert_int_equal(addr_family(&none), AF_UNSPEC);
}

static void test_addr_parse_rejects(void **state)
{
	static const char *const bad[] = {
	        "",
	        "1.2.3.4:0",
	        "1.2.3.4:65536",
	        "1.2.3.4:99999",
	        "1.2.3.4:",
	        "1.2.3.4:053",
	        "1.2.3.4:+53",
	        "1.2.3.4:5x",
	        "1.2.3.4:53:",
	        "1.2.3",
	        "1.2.3.4.5",
	        "256.1.1.1",
	        "01.2.3.4",
	        " 1.2.3.4",
	        "1.2.3.4 ",
	        /* IPv6 with a port needs both brackets, and brackets only hold IPv6 */
	        "[::1",
	        "::1]:53",
	        "[::1]53",
	        "[::1]:",
	        "[::1]:0",
	        "[[::1]]:53",
	        "[1.2.3.4]:53",
	        "[]:53",
	        "[]",
	        "1:2:3:4:5:6:7:8:53",
	        "2001:db8:::1",
	        /* no zones, no names */
	        "fe80::1%eth0",
	        "[fe80::1%1]:53",
	        "example.com:53",
	        "localhost",
	        "garbage",
	        ":53",
	        "1.2.3.4\n",
	        /* longer than ADDR_INPUT_MAX (64), which every valid form fits */
	        "1.2.3.4:53                                                                ",
	};
	struct addr a;
	(void)state;

	memset(&a, 0x5a, sizeof(a));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = addr_parse(bad[i], 53, &a);
		if (r != -EINVAL)
			fail_msg("addr_parse(\"%s\") = %d, want -EINVAL", bad[i], r);
	}
	assert_int_equal(a.len, 0x5a5a5a5a); /* untouched on failure */
}

static void test_addr_compare_and_mapped(void **state)
{
	struct addr v4 = parse_ok("1.2.3.4:53", 0);
	struct addr v4b = parse_ok("1.2.3.5:53", 0);
	struct addr v4p = parse_ok("1.2.3.4:54", 0);
	struct addr v6 = parse_ok("[::1]:53", 0);
	struct addr mapped = parse_ok("[::ffff:1.2.3.4]:53", 0);
	(void)state;

	assert_int_equal(addr_compare(&v4, &v4), 0);
	assert_int_equal(addr_compare(&v4, &v4b), -1);
	assert_int_equal(addr_compare(&v4b, &v4), 1);
	assert_int_equal(addr_compare(&v4, &v4p), -1);
	assert_int_equal(addr_compare(&v4b, &v4p), 1); /* address before port */
	assert_int_equal(addr_compare(&v4, &v6), -1);  /* IPv4 before IPv6 */

	assert_true(addr_is_v4_mapped(&mapped));
	assert_false(addr_is_v4_mapped(&v4));
	assert_false(addr_is_v4_mapped(&v6));
	assert_false(addr_equal(&mapped, &v4));
	addr_unmap(&mapped);
	assert_int_equal(addr_family(&mapped), AF_INET);
	assert_true(addr_equal(&mapped, &v4));
	addr_unmap(&v6); /* no-op */
	assert_int_equal(addr_family(&v6), AF_INET6);

	const uint8_t ip4[4] = {1, 2, 3, 4};
	struct addr built;
	addr_from_ipv4(&built, ip4, 53);
	assert_true(addr_equal(&built, &v4));
	uint8_t ip6[16] = {0};
	ip6[15] = 1;
	addr_from_ipv6(&built, ip6, 53);
	assert_true(addr_equal(&built, &v6));

	struct sockaddr_un_like {
		sa_family_t family;
		char path[14];
	} un = {AF_UNIX, "x"};
	assert_int_equal(addr_from_sockaddr(&built, (struct sockaddr *)&un, sizeof(un)),
	                 -EAFNOSUPPORT);
	assert_int_equal(addr_from_sockaddr(&built, &v6.sa, sizeof(struct sockaddr_in)), -EINVAL);
	assert_int_equal(addr_from_sockaddr(&built, &v4.sa, v4.len), 0);
	assert_true(addr_equal(&built, &v4));
}

static void test_addr_classify(void **state)
{
	static const struct {
		const char *ip;
		enum addr_class c;
	} cases[] = {
	        {"0.0.0.0", ADDR_CLASS_UNSPECIFIED},
	        {"0.1.2.3", ADDR_CLASS_UNSPECIFIED},
	        {"::", ADDR_CLASS_UNSPECIFIED},
	        {"127.0.0.1", ADDR_CLASS_LOOPBACK},
	        {"127.255.255.254", ADDR_CLASS_LOOPBACK},
	        {"::1", ADDR_CLASS_LOOPBACK},
	        {"::ffff:127.0.0.1", ADDR_CLASS_LOOPBACK},
	        {"169.254.169.254", ADDR_CLASS_METADATA},
	        {"fd00:ec2::254", ADDR_CLASS_METADATA},
	        {"::ffff:169.254.169.254", ADDR_CLASS_METADATA},
	        {"64:ff9b::169.254.169.254", ADDR_CLASS_METADATA},
	        {"169.254.0.1", ADDR_CLASS_LINK_LOCAL},
	        {"169.254.170.2", ADDR_CLASS_LINK_LOCAL},
	        {"fe80::1", ADDR_CLASS_LINK_LOCAL},
	        {"febf:ffff::1", ADDR_CLASS_LINK_LOCAL},
	        {"10.0.0.1", ADDR_CLASS_PRIVATE},
	        {"10.255.255.255", ADDR_CLASS_PRIVATE},
	        {"172.16.0.1", ADDR_CLASS_PRIVATE},
	        {"172.31.255.255", ADDR_CLASS_PRIVATE},
	        {"192.168.1.1", ADDR_CLASS_PRIVATE},
	        {"100.64.0.1", ADDR_CLASS_PRIVATE},
	        {"100.127.255.255", ADDR_CLASS_PRIVATE},
	        {"fc00::1", ADDR_CLASS_PRIVATE},
	        {"fd12:3456::1", ADDR_CLASS_PRIVATE},
	        {"fd00:ec2::253", ADDR_CLASS_PRIVATE},
	        {"fec0::1", ADDR_CLASS_PRIVATE},
	        {"::ffff:10.1.2.3", ADDR_CLASS_PRIVATE},
	        {"224.0.0.1", ADDR_CLASS_MULTICAST},
	        {"239.255.255.250", ADDR_CLASS_MULTICAST},
	        {"ff02::1", ADDR_CLASS_MULTICAST},
	        {"1.1.1.1", ADDR_CLASS_PUBLIC},
	        {"172.15.255.255", ADDR_CLASS_PUBLIC},
	        {"172.32.0.0", ADDR_CLASS_PUBLIC},
	        {"192.169.0.1", ADDR_CLASS_PUBLIC},
	        {"100.63.255.255", ADDR_CLASS_PUBLIC},
	        {"100.128.0.0", ADDR_CLASS_PUBLIC},
	        {"169.253.255.255", ADDR_CLASS_PUBLIC},
	        {"198.18.0.1", ADDR_CLASS_PUBLIC}, /* the test internet */
	        {"128.0.0.1", ADDR_CLASS_PUBLIC},
	        {"2001:db8::1", ADDR_CLASS_PUBLIC},
	        {"2001:2::1", ADDR_CLASS_PUBLIC},
	        {"fe00::1", ADDR_CLASS_PUBLIC},
	        {"fbff::1", ADDR_CLASS_PUBLIC},
	        {"::ffff:8.8.8.8", ADDR_CLASS_PUBLIC},
	        {"64:ff9b::8.8.8.8", ADDR_CLASS_PUBLIC},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct addr a = parse_ok(cases[i].ip, 443);
		enum addr_class c = addr_classify(&a);
		if (c != cases[i].c)
			fail_msg("%s: %s, want %s", cases[i].ip, addr_class_name(c),
			         addr_class_name(cases[i].c));
	}
	struct addr none = {.len = 0};
	assert_int_equal(addr_classify(&none), ADDR_CLASS_INVALID);
	assert_string_equal(addr_class_name(ADDR_CLASS_LINK_LOCAL), "link-local");
}

/* ---- TCP through the loop ---- */

struct tcp_test {
	int listener, server, client;
	struct addr peer;
	char got_server[8], got_client[8];
	bool connected;
};

static void fail_after_timeout(struct loop *loop, struct loop_timer *t, void *data)
{
	(void)loop;
	(void)t;
	(void)data;
	fail_msg("timed out");
}

static void on_server(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct tcp_test *t = data;
	assert_true(events & LOOP_READ);
	assert_int_equal(read(fd, t->got_server, 4), 4);
	assert_int_equal(write(fd, "pong", 4), 4);
	assert_int_equal(loop_del_fd(loop, fd), 0);
}

static void on_listener(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct tcp_test *t = data;
	assert_int_equal(events, LOOP_READ);
	t->server = sock_accept(fd, &t->peer);
	assert_true(t->server >= 0);
	assert_true(has_flag(t->server, F_GETFD, FD_CLOEXEC));
	assert_true(has_flag(t->server, F_GETFL, O_NONBLOCK));
	assert_int_equal(sock_accept(fd, NULL), -EAGAIN);
	assert_int_equal(loop_add_fd(loop, t->server, LOOP_READ, on_server, t), 0);
}

static void on_client(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct tcp_test *t = data;
	if (!t->connected) {
		assert_true(events & LOOP_WRITE);
		assert_int_equal(sock_connect_result(fd), 0);
		t->connected = true;
		assert_int_equal(write(fd, "ping", 4), 4);
		assert_int_equal(loop_mod_fd(loop, fd, LOOP_READ), 0);
		return;
	}
	assert_true(events & LOOP_READ);
	assert_int_equal(read(fd, t->got_client, 4), 4);
	assert_int_equal(loop_del_fd(loop, fd), 0);
	loop_stop(loop);
}

/* Listen, connect non-blocking, accept and exchange bytes, all in the loop.
 * Returns false when the family is not available here (no ::1). */
static bool tcp_exchange(const char *listen_text)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct tcp_test t = {.server = -1};
	struct addr a = parse_ok(listen_text, 0), bound, client_local;

	t.listener = sock_listen_tcp(&a, 16);
	if (t.listener == -EADDRNOTAVAIL || t.listener == -EAFNOSUPPORT)
		return false;
	assert_true(t.listener >= 0);
	assert_true(has_flag(t.listener, F_GETFD, FD_CLOEXEC));
	assert_true(has_flag(t.listener, F_GETFL, O_NONBLOCK));
	assert_int_equal(sock_accept(t.listener, NULL), -EAGAIN);
	assert_int_equal(sock_local_addr(t.listener, &bound), 0);
	assert_true(addr_port(&bound) != 0);
	if (addr_family(&bound) == AF_INET6) {
		int v6only = 0;
		socklen_t len = sizeof(v6only);
		assert_int_equal(getsockopt(t.listener, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len),
		                 0);
		assert_int_equal(v6only, 1);
	}

	t.client = sock_connect_tcp_nb(&bound);
	assert_true(t.client >= 0);
	assert_true(has_flag(t.client, F_GETFD, FD_CLOEXEC));
	assert_true(has_flag(t.client, F_GETFL, O_NONBLOCK));
	assert_int_equal(loop_add_fd(loop, t.listener, LOOP_READ, on_listener, &t), 0);
	assert_int_equal(loop_add_fd(loop, t.client, LOOP_WRITE, on_client, &t), 0);
	struct loop_timer *guard = loop_timer_add(loop, 5000, fail_after_timeout, NULL);
	assert_int_equal(loop_run(loop), 0);
	loop_timer_cancel(guard);

	assert_string_equal(t.got_server, "ping");
	assert_string_equal(t.got_client, "pong");
	assert_int_equal(sock_local_addr(t.client, &client_local), 0);
	assert_true(addr_equal(&t.peer, &client_local));
	struct addr server_peer;
	assert_int_equal(sock_peer_addr(t.server, &server_peer), 0);
	assert_true(addr_equal(&server_peer, &client_local));

	/* Not redirected: an error, and nothing written to the output. */
	struct addr dst;
	memset(&dst, 0x5a, sizeof(dst));
	int r = sock_original_dst(t.server, &dst);
	if (r != -ENOENT && r != -ENOPROTOOPT)
		fail_msg("sock_original_dst = %d", r);
	assert_int_equal(dst.len, 0x5a5a5a5a);

	assert_int_equal(loop_del_fd(loop, t.listener), 0);
	close(t.server);
	close(t.client);
	close(t.listener);
	return true;
}

static void test_tcp_loopback_v4(void **state)
{
	(void)state;
	assert_true(tcp_exchange("127.0.0.1")); /* port 0: any */
}

static void test_tcp_loopback_v6(void **state)
{
	(void)state;
	if (!tcp_exchange("[::1]"))
		skip();
}

struct connect_seen {
	int calls;
	int result;
};

static void on_connect_done(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct connect_seen *c = data;
	(void)loop;
	assert_true(events & LOOP_WRITE);
	c->calls++;
	c->result = sock_connect_result(fd);
}

static void test_tcp_connect_refused(void **state)
{
	struct addr a = parse_ok("127.0.0.1", 0), bound;
	(void)state;

	/* A port that was just ours and is closed now. */
	int l = sock_listen_tcp(&a, 1);
	assert_true(l >= 0);
	assert_int_equal(sock_local_addr(l, &bound), 0);
	close(l);

	int fd = sock_connect_tcp_nb(&bound);
	if (fd < 0) {
		assert_int_equal(fd, -ECONNREFUSED);
		return;
	}
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct connect_seen seen = {0};
	/* The failure shows as writable (with error and hangup), then SO_ERROR. */
	assert_int_equal(loop_add_fd(loop, fd, LOOP_WRITE, on_connect_done, &seen), 0);
	while (!seen.calls)
		assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_int_equal(seen.result, -ECONNREFUSED);
	assert_int_equal(loop_del_fd(loop, fd), 0);
	close(fd);
}

/* ---- UDP ---- */

struct udp_seen {
	char buf[16];
	ssize_t n;
	struct sockaddr_storage ss;
	socklen_t len;
};

static void on_datagram(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct udp_seen *u = data;
	(void)loop;
	assert_int_equal(events, LOOP_READ);
	u->n = recvfrom(fd, u->buf, sizeof(u->buf), 0, (struct sockaddr *)&u->ss, &u->len);
}

static void test_udp_loopback(void **state)
{
	struct addr any = parse_ok("127.0.0.1", 0), a_addr, b_addr, from;
	char buf[16];
	(void)state;

	int a = sock_bind_udp(&any);
	int b = sock_bind_udp(&any);
	assert_true(a >= 0 && b >= 0);
	assert_true(has_flag(a, F_GETFD, FD_CLOEXEC));
	assert_true(has_flag(a, F_GETFL, O_NONBLOCK));
	assert_int_equal(sock_local_addr(a, &a_addr), 0);
	assert_int_equal(sock_local_addr(b, &b_addr), 0);
	assert_int_equal(addr_classify(&b_addr), ADDR_CLASS_LOOPBACK);

	/* Non-blocking: nothing there yet. */
	assert_int_equal(recv(b, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EAGAIN);

	assert_int_equal(sendto(a, "query", 5, 0, &b_addr.sa, b_addr.len), 5);
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct udp_seen seen = {.len = sizeof(seen.ss)};
	assert_int_equal(loop_add_fd(loop, b, LOOP_READ, on_datagram, &seen), 0);
	assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_int_equal(loop_del_fd(loop, b), 0);
	assert_int_equal(seen.n, 5);
	assert_memory_equal(seen.buf, "query", 5);
	assert_int_equal(addr_from_sockaddr(&from, (struct sockaddr *)&seen.ss, seen.len), 0);
	assert_true(addr_equal(&from, &a_addr));

	/* Same address again: no SO_REUSEADDR on UDP, so it is refused. */
	assert_int_equal(sock_bind_udp(&b_addr), -EADDRINUSE);
	struct addr none = {.len = 0};
	assert_int_equal(sock_bind_udp(&none), -EAFNOSUPPORT);
	close(a);
	close(b);
}

/* ---- fd passing ---- */

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void seqpacket_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_fdpass_pipe_over_seqpacket(void **state)
{
	int sv[2], p[2], got[FDPASS_MAX_FDS];
	size_t n_got = 99;
	char buf[64], c;
	(void)state;

	seqpacket_pair(sv);
	/* Without close-on-exec on our side, so the flag seen later is the
	 * receiver's doing (MSG_CMSG_CLOEXEC), not inherited. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fcntl(p[1], F_SETFD, 0), 0);

	assert_int_equal(fdpass_send(sv[0], "dns-listener", 12, &p[1], 1), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, FDPASS_MAX_FDS, &n_got), 12);
	assert_memory_equal(buf, "dns-listener", 12);
	assert_int_equal(n_got, 1);
	assert_true(got[0] != p[1]);
	assert_true(has_flag(got[0], F_GETFD, FD_CLOEXEC));

	/* It is the same pipe: what goes into the received end comes out of ours. */
	assert_int_equal(write(got[0], "z", 1), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'z');

	/* A payload with no fds, then the peer closing. */
	assert_int_equal(fdpass_send(sv[0], "hi", 2, NULL, 0), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got + 1, 1, &n_got), 2);
	assert_int_equal(n_got, 0);
	close(sv[0]);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got + 1, 1, &n_got), 0);

	close(got[0]);
	close(p[0]);
	close(p[1]);
	close(sv[1]);
}

static void test_fdpass_rejects_and_leaks_nothing(void **state)
{
	int sv[2], p[2], fds[8], got[FDPASS_MAX_FDS];
	size_t n_got;
	char buf[8], big[FDPASS_MAX_PAYLOAD + 1];
	(void)state;

	seqpacket_pair(sv);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	for (int i = 0; i < 8; i++)
		fds[i] = p[i % 2];
	int before = count_open_fds();

	/* The sender's own limits. */
	memset(big, 'a', sizeof(big));
	assert_int_equal(fdpass_send(sv[0], "", 0, fds, 1), -EINVAL);
	assert_int_equal(fdpass_send(sv[0], big, sizeof(big), fds, 1), -EINVAL);
	assert_int_equal(fdpass_send(sv[0], "x", 1, fds, FDPASS_MAX_FDS + 1), -EINVAL);

	/* A payload bigger than the receiver's buffer. */
	assert_int_equal(fdpass_send(sv[0], "too long a payload", 18, fds, 2), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, 2, &n_got), -EMSGSIZE);
	assert_int_equal(count_open_fds(), before);

	/* More fds than the receiver takes, within one control buffer's rounding. */
	assert_int_equal(fdpass_send(sv[0], "x", 1, fds, 2), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, 1, &n_got), -EBADMSG);
	assert_int_equal(count_open_fds(), before);

	/* Far more: the kernel truncates the control data (MSG_CTRUNC). */
	assert_int_equal(fdpass_send(sv[0], "x", 1, fds, 8), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, 1, &n_got), -EBADMSG);
	assert_int_equal(count_open_fds(), before);

	/* Fds to a receiver that takes none. */
	assert_int_equal(fdpass_send(sv[0], "x", 1, fds, 1), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), NULL, 0, &n_got), -EBADMSG);
	assert_int_equal(count_open_fds(), before);

	/* After all that, the channel still works. */
	assert_int_equal(fdpass_send(sv[0], "ok", 2, fds, 2), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), got, 2, &n_got), 2);
	assert_int_equal(n_got, 2);
	assert_int_equal(count_open_fds(), before + 2);
	close(got[0]);
	close(got[1]);

	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_addr_parse_format_round_trip),
	        cmocka_unit_test(test_addr_parse_rejects),
	        cmocka_unit_test(test_addr_compare_and_mapped),
	        cmocka_unit_test(test_addr_classify),
	        cmocka_unit_test(test_tcp_loopback_v4),
	        cmocka_unit_test(test_tcp_loopback_v6),
	        cmocka_unit_test(test_tcp_connect_refused),
	        cmocka_unit_test(test_udp_loopback),
	        cmocka_unit_test(test_fdpass_pipe_over_seqpacket),
	        cmocka_unit_test(test_fdpass_rejects_and_leaks_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
