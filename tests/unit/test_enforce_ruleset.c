/* The sandbox's nftables ruleset: the text of each kind of spec against
 * golden files (tests/golden/ruleset-*.nft), its errors and counter names;
 * then, where a user and network namespace can be made, each text applied by
 * the kernel (twice: one table remains) and traffic through it: redirected
 * DNS and TCP reach listeners on loopback, everything else is dropped and
 * counted under the right counter, and NFLOG reports what was dropped.
 *
 * AIRLOCK_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "enforce/nflog.h"
#include "enforce/nftables.h"
#include "enforce/ruleset.h"
#include "sandbox/rtnl.h"
#include "util/file.h"

struct golden_case {
	const char *golden; /* file under tests/golden/ */
	struct ruleset_spec spec;
};

static const struct golden_case full = {
        "ruleset-full.nft",
        {.dns_port = 5353, .transparent_port = 15001, .ipv6 = true, .nflog_group = 7},
};
static const struct golden_case airgapped = {
        "ruleset-airgapped.nft",
        {.dns_port = 0, .transparent_port = 0, .ipv6 = true, .nflog_group = 7},
};
static const struct golden_case no_ipv6 = {
        "ruleset-no-ipv6.nft",
        {.dns_port = 5353, .transparent_port = 15001, .ipv6 = false, .nflog_group = 7},
};
static const struct golden_case no_nflog = {
        "ruleset-no-nflog.nft",
        {.dns_port = 5353, .transparent_port = 15001, .ipv6 = true, .nflog_group = -1},
};

static int render(const struct ruleset_spec *spec, char *buf, size_t size)
{
	struct diag d;
	int n = ruleset_render_sandbox(spec, buf, size, &d);
	if (n < 0)
		fail_msg("ruleset_render_sandbox: %d: %s", n, d.msg);
	assert_int_equal(strlen(buf), (size_t)n);
	return n;
}

static void compare_golden(const char *name, const char *text)
{
	char path[512];
	char *want = NULL;
	size_t len;
	struct diag d;

	snprintf(path, sizeof(path), "%s/%s", TEST_GOLDEN_DIR, name);
	const char *update = getenv("AIRLOCK_UPDATE_GOLDEN");
	if (update && strcmp(update, "1") == 0) {
		FILE *f = fopen(path, "we");
		assert_non_null(f);
		assert_int_equal(fputs(text, f) >= 0, 1);
		assert_int_equal(fclose(f), 0);
		return;
	}
	if (file_read_all(path, 64 * 1024, &want, &len, &d) < 0)
		fail_msg("%s (AIRLOCK_UPDATE_GOLDEN=1 writes it)", d.msg);
	if (strcmp(text, want) != 0) {
		print_error("rendered:\n%s\n", text);
		free(want);
		fail_msg("the ruleset differs from tests/golden/%s", name);
	}
	free(want);
}

static int count_of(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- the text ---- */

static void test_golden_full(void **state)
{
	char text[RULESET_TEXT_MAX];
	(void)state;

	render(&full.spec, text, sizeof(text));
	compare_golden(full.golden, text);
	/* What the golden file must say, so that a careless update is caught. */
	assert_int_equal(
	        count_of(text, "meta nfproto ipv4 meta l4proto { 6, 17 } th dport 53 redirect "
	                       "to :5353\n"),
	        1);
	assert_int_equal(
	        count_of(text, "meta nfproto ipv6 meta l4proto { 6, 17 } th dport 53 redirect "
	                       "to :5353\n"),
	        1);
	assert_int_equal(count_of(text, "ip daddr != 127.0.0.0/8 meta l4proto 6 redirect to "
	                                ":15001\n"),
	                 1);
	assert_int_equal(count_of(text, "ip6 daddr != ::1 meta l4proto 6 redirect to :15001\n"),
	                 1);
	assert_int_equal(count_of(text, "limit rate 50/second burst 100 packets log group 7\n"), 1);
	assert_int_equal(count_of(text, "policy drop;"), 1);
	/* Replaced atomically: created, deleted, then defined, in that order. */
	assert_true(
	        strncmp(text,
	                "add table inet airlock\ndelete table inet airlock\ntable inet airlock {\n",
	                68) == 0);
}

static void test_golden_airgapped(void **state)
{
	char text[RULESET_TEXT_MAX];
	(void)state;

	render(&airgapped.spec, text, sizeof(text));
	compare_golden(airgapped.golden, text);
	/* No redirect at all: DNS and TCP are dropped like everything else. */
	assert_int_equal(count_of(text, "redirect to"), 0);
	assert_int_equal(count_of(text, "dport 53"), 0);
	assert_int_equal(count_of(text, "type nat hook output priority -100; policy accept;"), 1);
	assert_int_equal(count_of(text, "log group 7"), 1);
	assert_int_equal(count_of(text, "jump refuse"), 4);
}

static void test_golden_no_ipv6(void **state)
{
	char text[RULESET_TEXT_MAX];
	(void)state;

	render(&no_ipv6.spec, text, sizeof(text));
	compare_golden(no_ipv6.golden, text);
	assert_int_equal(count_of(text, "nfproto ipv6"), 0);
	assert_int_equal(count_of(text, "ip6 daddr != ::1"), 0);
	assert_int_equal(count_of(text, "redirect to :5353"), 1);
	assert_int_equal(count_of(text, "redirect to :15001"), 1);
	/* IPv6 loopback still passes and the rest of IPv6 is still dropped. */
	assert_int_equal(count_of(text, "ip6 daddr ::1 accept"), 1);
}

static void test_golden_no_nflog(void **state)
{
	char text[RULESET_TEXT_MAX];
	(void)state;

	render(&no_nflog.spec, text, sizeof(text));
	compare_golden(no_nflog.golden, text);
	assert_int_equal(count_of(text, " log "), 0);
	assert_int_equal(count_of(text, "limit rate"), 0);
	assert_int_equal(count_of(text, "\tchain refuse {\n\t\tdrop\n\t}\n"), 1);
}

/* Without the log, the text is the full one minus its log line. */
static void test_nflog_is_only_the_log_line(void **state)
{
	char a[RULESET_TEXT_MAX], b[RULESET_TEXT_MAX];
	(void)state;

	int na = render(&full.spec, a, sizeof(a));
	int nb = render(&no_nflog.spec, b, sizeof(b));
	static const char line[] = "\t\tlimit rate 50/second burst 100 packets log group 7\n";
	const char *at = strstr(a, line);
	assert_non_null(at);
	assert_int_equal(na - nb, (int)strlen(line));
	assert_memory_equal(a, b, (size_t)(at - a));
	assert_string_equal(at + strlen(line), b + (at - a));
}

/* Ports and groups at their limits. */
static void test_limits_render(void **state)
{
	char text[RULESET_TEXT_MAX];
	struct ruleset_spec s = {.dns_port = 65535, .transparent_port = 1, .nflog_group = 65535};
	(void)state;

	render(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "th dport 53 redirect to :65535\n"), 1);
	assert_int_equal(count_of(text, "meta l4proto 6 redirect to :1\n"), 1);
	assert_int_equal(count_of(text, "log group 65535\n"), 1);
	s.nflog_group = 0;
	render(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "log group 0\n"), 1);
	/* Only the DNS redirect, or only the TCP one. */
	s = (struct ruleset_spec){.dns_port = 53, .ipv6 = true, .nflog_group = -1};
	render(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "redirect to :53\n"), 2);
	assert_int_equal(count_of(text, "meta l4proto 6 redirect"), 0);
	s = (struct ruleset_spec){.transparent_port = 8443, .ipv6 = true, .nflog_group = -1};
	render(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "dport 53"), 0);
	assert_int_equal(count_of(text, "meta l4proto 6 redirect to :8443\n"), 2);
}

static void test_buffer_too_small(void **state)
{
	const struct ruleset_spec *specs[] = {&full.spec, &airgapped.spec, &no_ipv6.spec,
	                                      &no_nflog.spec};
	char text[RULESET_TEXT_MAX], small[RULESET_TEXT_MAX], want[64];
	struct diag d;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		int n = render(specs[i], text, sizeof(text));
		assert_true(n > 100);
		/* Exactly enough (the text and its NUL) works... */
		memset(small, 'x', sizeof(small));
		assert_int_equal(ruleset_render_sandbox(specs[i], small, (size_t)n + 1, &d), n);
		assert_string_equal(small, text);
		/* ...one byte less does not, and says so. */
		assert_int_equal(ruleset_render_sandbox(specs[i], small, (size_t)n, &d), -ENOBUFS);
		snprintf(want, sizeof(want), "does not fit in %d bytes", n);
		assert_non_null(strstr(d.msg, want));
		assert_int_equal(ruleset_render_sandbox(specs[i], small, 16, &d), -ENOBUFS);
		assert_non_null(strstr(d.msg, "does not fit in 16 bytes"));
		assert_int_equal(ruleset_render_sandbox(specs[i], small, 1, NULL), -ENOBUFS);
		assert_int_equal(ruleset_render_sandbox(specs[i], NULL, 0, &d), -ENOBUFS);
		/* Any text fits the documented maximum with room to spare. */
		assert_true(n < RULESET_TEXT_MAX / 2);
	}
}

static void test_bad_group(void **state)
{
	static const int bad[] = {70000, 65536, -2, -1000, 0x7fffffff};
	char text[RULESET_TEXT_MAX], want[64];
	struct diag d;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct ruleset_spec s = full.spec;
		s.nflog_group = bad[i];
		memset(text, 0, sizeof(text));
		assert_int_equal(ruleset_render_sandbox(&s, text, sizeof(text), &d), -EINVAL);
		snprintf(want, sizeof(want), "NFLOG group %d: expected 0 to 65535", bad[i]);
		assert_string_equal(d.msg, want);
		assert_int_equal(ruleset_render_sandbox(&s, text, sizeof(text), NULL), -EINVAL);
	}
	/* A bad group is refused even when the buffer is also too small. */
	struct ruleset_spec s = full.spec;
	s.nflog_group = 70000;
	assert_int_equal(ruleset_render_sandbox(&s, text, 4, &d), -EINVAL);
}

static void test_counter_names(void **state)
{
	static const char *const want[RULESET_N_COUNTERS] = {
	        [RULESET_DROPPED_TCP] = "dropped_tcp",
	        [RULESET_DROPPED_UDP] = "dropped_udp",
	        [RULESET_DROPPED_ICMP] = "dropped_icmp",
	        [RULESET_DROPPED_OTHER] = "dropped_other",
	};
	char text[RULESET_TEXT_MAX], line[128];
	(void)state;

	render(&full.spec, text, sizeof(text));
	for (int c = 0; c < RULESET_N_COUNTERS; c++) {
		const char *name = ruleset_counter_name((enum ruleset_counter)c);
		assert_non_null(name);
		assert_string_equal(name, want[c]);
		for (int o = 0; o < c; o++)
			assert_string_not_equal(name,
			                        ruleset_counter_name((enum ruleset_counter)o));
		/* Each is declared once and used by exactly one rule. */
		snprintf(line, sizeof(line), "\tcounter %s { }\n", name);
		assert_int_equal(count_of(text, line), 1);
		snprintf(line, sizeof(line), "counter name %s jump refuse\n", name);
		assert_int_equal(count_of(text, line), 1);
	}
	assert_int_equal(count_of(text, "counter "), 2 * RULESET_N_COUNTERS);
	assert_null(ruleset_counter_name(RULESET_N_COUNTERS));
	assert_null(ruleset_counter_name((enum ruleset_counter)(-1)));
	assert_null(ruleset_counter_name((enum ruleset_counter)1000));
}

/* ---- the text in a kernel ----
 *
 * A forked child makes a user and network namespace of its own (nothing it
 * does is seen outside it), applies the text and sends traffic.  It cannot
 * use cmocka's asserts (they would unwind the parent's copy of the runner),
 * so it reports one message through a pipe and its exit status. */

enum { NS_OK, NS_FAIL, NS_SKIP };

struct child {
	const struct ruleset_spec *spec;
	char msg[1024];
	uint64_t seen[RULESET_N_COUNTERS]; /* the counters at the last check */
	bool ipv6_route;                   /* a default IPv6 route through lo was made */
	int nflog;                         /* the NFLOG socket, or -1 */
};

_printf_(2, 3) static int child_fail(struct child *k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k->msg, sizeof(k->msg), fmt, ap);
	va_end(ap);
	return NS_FAIL;
}

static int write_proc(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, text, strlen(text));
	int e = w == (ssize_t)strlen(text) ? 0 : -(errno ? errno : EIO);
	close(fd);
	return e;
}

/* As src/sandbox/privs.c does: our own ids map to themselves. */
static int map_ids(uid_t uid, gid_t gid)
{
	char map[64];
	int e = write_proc("/proc/self/setgroups", "deny");
	if (e < 0 && e != -ENOENT)
		return e;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if ((e = write_proc("/proc/self/uid_map", map)) < 0)
		return e;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_proc("/proc/self/gid_map", map);
}

/* Run one nft command and return its output (libnftables' buffer, copied). */
static int nft_list(const char *cmd, char *out, size_t size, struct child *k)
{
	struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!c)
		return child_fail(k, "nft_ctx_new failed");
	nft_ctx_buffer_output(c);
	nft_ctx_buffer_error(c);
	int r = nft_run_cmd_from_buffer(c, cmd);
	if (r != 0) {
		child_fail(k, "nft %s: %s", cmd, nft_ctx_get_error_buffer(c));
		nft_ctx_free(c);
		return NS_FAIL;
	}
	snprintf(out, size, "%s", nft_ctx_get_output_buffer(c));
	nft_ctx_free(c);
	return NS_OK;
}

static void sockaddr_of(int family, const char *ip, uint16_t port, struct sockaddr_storage *ss,
                        socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		inet_pton(AF_INET, ip, &in->sin_addr);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &in6->sin6_addr);
		*len = sizeof(*in6);
	}
}

static const char *loopback(int family)
{
	return family == AF_INET ? "127.0.0.1" : "::1";
}

/* Outside addresses (documentation ranges): nothing answers there. */
static const char *outside(int family)
{
	return family == AF_INET ? "198.51.100.1" : "2001:db8::1";
}

/* A listener on loopback:port (UDP or TCP); -1 on failure. */
static int listener(int family, int type, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sockaddr_of(family, loopback(family), port, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 4) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* One datagram to ip:port; its fate is read from the counters. */
static void send_udp(int family, const char *ip, uint16_t port, const char *payload)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sockaddr_of(family, ip, port, &ss, &len);
	(void)sendto(fd, payload, strlen(payload), 0, (struct sockaddr *)&ss, len);
	close(fd);
}

/* A SYN to ip:port (non-blocking connect); returns the socket, kept open
 * so that a redirected handshake can finish. */
static int send_syn(int family, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sockaddr_of(family, ip, port, &ss, &len);
	(void)connect(fd, (struct sockaddr *)&ss, len);
	return fd;
}

/* A raw IP packet of `protocol` (an ICMP echo request for ICMP). */
static void send_raw(int family, int protocol, const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t body[8] = {0};
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return;
	if (protocol == IPPROTO_ICMP)
		body[0] = 8; /* echo request (checksum left wrong: it is dropped anyway) */
	else if (protocol == IPPROTO_ICMPV6)
		body[0] = 128; /* echo request; the kernel fills in the checksum */
	sockaddr_of(family, ip, 0, &ss, &len);
	(void)sendto(fd, body, sizeof(body), 0, (struct sockaddr *)&ss, len);
	close(fd);
}

/* Passes when exactly counter `c` moved, by one (c < 0: none moved), since
 * the last check. */
static int moved(struct child *k, int c, const char *what)
{
	const char *names[RULESET_N_COUNTERS];
	uint64_t now[RULESET_N_COUNTERS];
	struct diag d;

	for (int i = 0; i < RULESET_N_COUNTERS; i++)
		names[i] = ruleset_counter_name((enum ruleset_counter)i);
	if (nftables_counters(RULESET_TABLE, names, now, RULESET_N_COUNTERS, &d) < 0)
		return child_fail(k, "%s: nftables_counters: %s", what, d.msg);
	for (int i = 0; i < RULESET_N_COUNTERS; i++) {
		uint64_t want = k->seen[i] + (i == c ? 1 : 0);
		if (now[i] != want)
			return child_fail(k, "%s: counter %s is %llu, want %llu", what, names[i],
			                  (unsigned long long)now[i], (unsigned long long)want);
	}
	memcpy(k->seen, now, sizeof(now));
	return NS_OK;
}

struct logged {
	int family;
	uint8_t protocol;
	uint16_t port;
	bool found;
	size_t packets;
};

static void on_logged(void *ctx, const struct nflog_packet *p)
{
	struct logged *l = ctx;
	l->packets++;
	if (p->family == l->family && p->protocol == l->protocol && p->has_port &&
	    addr_port(&p->dst) == l->port)
		l->found = true;
}

/* What NFLOG said since the last call: whether a packet of this family,
 * protocol and destination port was among it. */
static size_t read_log(struct child *k, struct logged *l, int ms)
{
	static uint8_t buf[NFLOG_RECV_SIZE];
	while (!l->found && readable(k->nflog, ms)) {
		ssize_t n = recv(k->nflog, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		nflog_parse(buf, (size_t)n, on_logged, l);
	}
	return l->packets;
}

/* UDP: to port 53 anywhere, redirected to the DNS listener (or dropped);
 * elsewhere, dropped (and logged). */
static int udp_checks(struct child *k, int family)
{
	const struct ruleset_spec *s = k->spec;
	bool redirected = s->dns_port && (family == AF_INET || s->ipv6);
	char what[96], got[16];
	int e;

	snprintf(what, sizeof(what), "UDP to %s port 9", outside(family));
	send_udp(family, outside(family), 9, "x");
	if ((e = moved(k, RULESET_DROPPED_UDP, what)) != NS_OK)
		return e;
	if (k->nflog >= 0) {
		struct logged l = {.family = family, .protocol = IPPROTO_UDP, .port = 9};
		read_log(k, &l, s->nflog_group >= 0 ? 2000 : 300);
		if (s->nflog_group >= 0 && !l.found)
			return child_fail(k,
			                  "%s: not reported by NFLOG group %d (%zu packets read)",
			                  what, s->nflog_group, l.packets);
		if (s->nflog_group < 0 && l.packets)
			return child_fail(k, "%s: %zu packets logged, but the spec logs nothing",
			                  what, l.packets);
	}

	snprintf(what, sizeof(what), "DNS over UDP to %s", outside(family));
	int fd = redirected ? listener(family, SOCK_DGRAM, s->dns_port) : -1;
	if (redirected && fd < 0)
		return child_fail(k, "%s: no listener on port %u: %s", what, s->dns_port,
		                  strerror(errno));
	send_udp(family, outside(family), 53, "query");
	if (redirected) {
		ssize_t n = readable(fd, 2000) ? recv(fd, got, sizeof(got) - 1, 0) : -1;
		close(fd);
		if (n != 5 || memcmp(got, "query", 5) != 0)
			return child_fail(k, "%s: not redirected to port %u", what, s->dns_port);
		if ((e = moved(k, -1, what)) != NS_OK)
			return e;
	} else if ((e = moved(k, RULESET_DROPPED_UDP, what)) != NS_OK) {
		return e;
	}

	/* Loopback is never touched. */
	snprintf(what, sizeof(what), "UDP to %s", loopback(family));
	if ((fd = listener(family, SOCK_DGRAM, 7777)) < 0)
		return child_fail(k, "%s: no listener: %s", what, strerror(errno));
	send_udp(family, loopback(family), 7777, "local");
	bool ok = readable(fd, 2000) && recv(fd, got, sizeof(got), 0) == 5;
	close(fd);
	if (!ok)
		return child_fail(k, "%s: did not arrive", what);
	return moved(k, -1, what);
}

/* TCP to anything outside: redirected to the transparent listener (or
 * dropped). */
static int tcp_checks(struct child *k, int family)
{
	const struct ruleset_spec *s = k->spec;
	bool redirected = s->transparent_port && (family == AF_INET || s->ipv6);
	char what[96];

	snprintf(what, sizeof(what), "TCP to %s port 80", outside(family));
	int lfd = redirected ? listener(family, SOCK_STREAM, s->transparent_port) : -1;
	if (redirected && lfd < 0)
		return child_fail(k, "%s: no listener on port %u: %s", what, s->transparent_port,
		                  strerror(errno));
	int cfd = send_syn(family, outside(family), 80);
	if (cfd < 0)
		return child_fail(k, "%s: socket: %s", what, strerror(errno));
	if (!redirected) {
		close(cfd); /* before a retransmission */
		return moved(k, RULESET_DROPPED_TCP, what);
	}
	int afd = readable(lfd, 2000) ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
	close(cfd);
	close(lfd);
	if (afd < 0)
		return child_fail(k, "%s: not redirected to port %u", what, s->transparent_port);
	close(afd);
	return moved(k, -1, what);
}

static int traffic(struct child *k)
{
	struct diag d;
	int e;

	if (rtnl_loopback_up(&d) < 0)
		return child_fail(k, "lo up: %s", d.msg);
	/* As the sandbox does: a default route through lo, so that packets to
	 * outside addresses reach netfilter. */
	if (rtnl_default_route_to_loopback(AF_INET, &d) < 0)
		return child_fail(k, "default route: %s", d.msg);
	/* IPv6 disabled in the namespace: its traffic is not tried. */
	k->ipv6_route = rtnl_default_route_to_loopback(AF_INET6, &d) == 0;

	/* NFLOG group 7 is opened whatever the spec, to see that nothing is
	 * logged without a group. */
	int group = k->spec->nflog_group >= 0 ? k->spec->nflog_group : 7;
	k->nflog = nflog_open((uint16_t)group, &d);
	if (k->nflog < 0)
		return child_fail(k, "nflog_open(%d): %s", group, d.msg);

	int families[] = {AF_INET, AF_INET6};
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		int f = families[i];
		if (f == AF_INET6 && !k->ipv6_route)
			continue;
		if ((e = udp_checks(k, f)) != NS_OK || (e = tcp_checks(k, f)) != NS_OK)
			return e;
		send_raw(f, f == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6, outside(f));
		if ((e = moved(k, RULESET_DROPPED_ICMP, "an ICMP echo request")) != NS_OK)
			return e;
		send_raw(f, IPPROTO_GRE, outside(f));
		if ((e = moved(k, RULESET_DROPPED_OTHER, "a GRE packet")) != NS_OK)
			return e;
	}
	return NS_OK;
}

static int in_namespace(struct child *k, const char *text)
{
	char first[RULESET_TEXT_MAX * 2], second[RULESET_TEXT_MAX * 2];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct diag d;
	int e;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
		snprintf(k->msg, sizeof(k->msg),
		         "cannot create a user and network namespace (%s): the ruleset was not "
		         "applied",
		         strerror(errno));
		return NS_SKIP;
	}
	if ((e = map_ids(uid, gid)) < 0) {
		snprintf(k->msg, sizeof(k->msg),
		         "cannot map ids in a user namespace (%s): the ruleset was not applied",
		         strerror(-e));
		return NS_SKIP;
	}
	/* A kernel without nf_tables (or one that refuses it to user
	 * namespaces) cannot judge the text: skip, saying so. */
	if (nftables_apply("add table inet airlock_probe\ndelete table inet airlock_probe\n", &d) <
	    0) {
		snprintf(k->msg, sizeof(k->msg),
		         "nf_tables is not usable in a user namespace here (%.900s): the ruleset "
		         "was "
		         "not applied",
		         d.msg);
		return NS_SKIP;
	}

	if (nftables_apply(text, &d) < 0)
		return child_fail(k, "first apply: %s", d.msg);
	if ((e = nft_list("list ruleset", first, sizeof(first), k)) != NS_OK)
		return e;
	if (nftables_apply(text, &d) < 0)
		return child_fail(k, "second apply: %s", d.msg);
	if ((e = nft_list("list ruleset", second, sizeof(second), k)) != NS_OK)
		return e;
	if (strcmp(first, second) != 0)
		return child_fail(k, "applying twice changed the ruleset:\n%s\n---\n%s", first,
		                  second);
	if ((e = nft_list("list tables", first, sizeof(first), k)) != NS_OK)
		return e;
	if (strcmp(first, "table inet airlock\n") != 0)
		return child_fail(k, "after two applies the tables are: %s", first);
	/* Every counter exists, at 0 (a missing one would read 0 too, so the
	 * listing is checked by name). */
	for (int c = 0; c < RULESET_N_COUNTERS; c++) {
		char want[64];
		snprintf(want, sizeof(want), "counter %s {",
		         ruleset_counter_name((enum ruleset_counter)c));
		if (!strstr(second, want))
			return child_fail(k, "the kernel's ruleset has no %s", want);
	}
	if ((e = moved(k, -1, "after applying")) != NS_OK)
		return e;
	return traffic(k);
}

static void in_kernel(const struct golden_case *gc)
{
	char text[RULESET_TEXT_MAX];
	int fds[2];

	render(&gc->spec, text, sizeof(text));
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct child k = {.spec = &gc->spec, .nflog = -1};
		close(fds[0]);
		int r = in_namespace(&k, text);
		(void)!write(fds[1], k.msg, strlen(k.msg));
		_exit(r);
	}
	close(fds[1]);
	char msg[1024] = "";
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fds[0], msg + got, sizeof(msg) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	msg[got] = '\0';
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("%s: the child died of signal %d", gc->golden, WTERMSIG(status));
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == NS_SKIP) {
		print_message("%s in a namespace, skipped: %s\n", gc->golden, msg);
		skip();
	}
	if (WEXITSTATUS(status) != NS_OK)
		fail_msg("%s in a namespace: %s", gc->golden, msg);
}

static void test_kernel_full(void **state)
{
	(void)state;
	in_kernel(&full);
}

static void test_kernel_airgapped(void **state)
{
	(void)state;
	in_kernel(&airgapped);
}

static void test_kernel_no_ipv6(void **state)
{
	(void)state;
	in_kernel(&no_ipv6);
}

static void test_kernel_no_nflog(void **state)
{
	(void)state;
	in_kernel(&no_nflog);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_golden_full),
	        cmocka_unit_test(test_golden_airgapped),
	        cmocka_unit_test(test_golden_no_ipv6),
	        cmocka_unit_test(test_golden_no_nflog),
	        cmocka_unit_test(test_nflog_is_only_the_log_line),
	        cmocka_unit_test(test_limits_render),
	        cmocka_unit_test(test_buffer_too_small),
	        cmocka_unit_test(test_bad_group),
	        cmocka_unit_test(test_counter_names),
	        cmocka_unit_test(test_kernel_full),
	        cmocka_unit_test(test_kernel_airgapped),
	        cmocka_unit_test(test_kernel_no_ipv6),
	        cmocka_unit_test(test_kernel_no_nflog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
