/* The sandbox's nftables ruleset: the text of each kind of spec against
 * golden files (tests/golden/ruleset-*.nft), its errors and counter names;
 * then, where a user and network namespace can be made, each text applied by
 * the kernel (twice: one table remains) and traffic through it: redirected
 * DNS and TCP reach listeners on loopback, everything else is dropped and
 * counted under the right counter, and NFLOG reports what was dropped.
 *
 * The in-place ruleset (`airlock apply`) likewise: its nft text and its
 * iptables-restore text for both families against golden files
 * (tests/golden/ruleset-inplace-*.nft, iptables-inplace-*.rules), its
 * errors, then each nft text in a kernel, twice, with traffic: the direct
 * networks, the resolvers without a DNS listener, loopback with and without
 * allow_localhost, and the gateway's own uid passing untouched; and the
 * iptables rules through iptables_apply_inplace() (twice: one set of chains)
 * and iptables_remove() (none left), where the tools are installed.
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

#include "enforce/iptables.h"
#include "enforce/nflog.h"
#include "enforce/nftables.h"
#include "enforce/router.h"
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

/* The in-place ruleset's cases, as `airlock apply` makes them: the
 * gateway's uid, its three listeners, Docker's networks reached directly. */
struct inplace_case {
	const char *name; /* ruleset-inplace-NAME.nft, iptables-inplace-NAME-{4,6}.rules */
	struct ruleset_inplace_spec spec;
};

#define NET4(a, b, c, d, len)                                                                      \
	{                                                                                          \
		.family = 4, .addr = {a, b, c, d}, .prefix = len                                   \
	}
#define DOCKER_NETS4 NET4(172, 16, 0, 0, 12), NET4(10, 0, 0, 0, 8), NET4(192, 168, 0, 0, 16)
#define ULA6                                                                                       \
	{                                                                                          \
		.family = 6, .addr = {0xfd}, .prefix = 8                                           \
	}
#define RESOLVER6                                                                                  \
	{                                                                                          \
		.family = 6, .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x53}, .prefix = 128          \
	}

static const struct inplace_case inplace_full = {
        "full",
        {.gateway_uid = 995,
         .dns_port = 53,
         .proxy_port = 3128,
         .transparent_port = 3129,
         .ipv6 = true,
         .allow_localhost = true,
         .direct = {DOCKER_NETS4, ULA6},
         .n_direct = 4,
         .resolvers = {NET4(192, 0, 2, 53, 32), RESOLVER6},
         .n_resolvers = 2,
         .nflog_group = 7},
};
static const struct inplace_case inplace_no_localhost = {
        "no-localhost",
        {.gateway_uid = 995,
         .dns_port = 53,
         .proxy_port = 3128,
         .transparent_port = 3129,
         .ipv6 = true,
         .allow_localhost = false,
         .direct = {DOCKER_NETS4, ULA6},
         .n_direct = 4,
         .resolvers = {NET4(192, 0, 2, 53, 32), RESOLVER6},
         .n_resolvers = 2,
         .nflog_group = 7},
};
/* Port 53 taken: no DNS listener, DNS straight to the resolvers. */
static const struct inplace_case inplace_hosts_fallback = {
        "hosts-fallback",
        {.gateway_uid = 995,
         .dns_port = 0,
         .proxy_port = 3128,
         .transparent_port = 3129,
         .ipv6 = true,
         .allow_localhost = true,
         .direct = {DOCKER_NETS4},
         .n_direct = 3,
         .resolvers = {NET4(192, 0, 2, 53, 32), NET4(203, 0, 113, 53, 32), RESOLVER6},
         .n_resolvers = 3,
         .nflog_group = 7},
};
/* No ::1 for the gateway, no NFLOG (logBlocked false). */
static const struct inplace_case inplace_no_ipv6 = {
        "no-ipv6",
        {.gateway_uid = 995,
         .dns_port = 53,
         .proxy_port = 3128,
         .transparent_port = 3129,
         .ipv6 = false,
         .allow_localhost = true,
         .direct = {DOCKER_NETS4},
         .n_direct = 3,
         .resolvers = {NET4(192, 0, 2, 53, 32)},
         .n_resolvers = 1,
         .nflog_group = -1},
};

static const struct inplace_case *const inplace_cases[] = {
        &inplace_full, &inplace_no_localhost, &inplace_hosts_fallback, &inplace_no_ipv6};

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
	assert_int_equal(count_of(text,
	                          "meta nfproto ipv4 meta l4proto { 6, 17 } th dport 53 redirect "
	                          "to :5353\n"),
	                 1);
	assert_int_equal(count_of(text,
	                          "meta nfproto ipv6 meta l4proto { 6, 17 } th dport 53 redirect "
	                          "to :5353\n"),
	                 1);
	assert_int_equal(count_of(text, "ip daddr != 127.0.0.0/8 meta l4proto 6 redirect to "
	                                ":15001\n"),
	                 1);
	assert_int_equal(count_of(text, "ip6 daddr != ::1 meta l4proto 6 redirect to :15001\n"), 1);
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

/* The router ruleset (`airlock gateway --router`), as a Docker sidecar
 * makes it: its interface on the internal network and its address there. */
static const struct ruleset_router_spec router = {
        .ifname = "eth1",
        .gateway_addr = {198, 18, 129, 2},
        .prefix = 24,
        .dns_port = 53,
        .transparent_port = 3129,
        .nflog_group = 7,
};

static void test_golden_router(void **state)
{
	char text[RULESET_TEXT_MAX];
	struct diag d;
	(void)state;

	assert_true(ruleset_render_router(&router, text, sizeof(text), &d) > 0);
	compare_golden("ruleset-router.nft", text);
	/* DNS to any address and TCP to any other address, from that
	 * interface only, to the listeners' address (dnat, not redirect). */
	assert_int_equal(count_of(text, "iifname \"eth1\" meta nfproto ipv4 meta l4proto { 6, 17 } "
	                                "th dport 53 dnat ip to 198.18.129.2:53\n"),
	                 1);
	assert_int_equal(count_of(text, "iifname \"eth1\" ip daddr != 198.18.129.2 meta l4proto 6 "
	                                "dnat ip to 198.18.129.2:3129\n"),
	                 1);
	assert_int_equal(count_of(text, "redirect to"), 0);
	/* Other interfaces (the sidecar's way out) untouched; the rest of the
	 * sandbox's traffic counted, logged, dropped; nothing forwarded. */
	assert_int_equal(count_of(text, "iifname != \"eth1\" accept\n"), 1);
	/* A forged source is refused before anything is accepted. */
	assert_true(strstr(text, "ip saddr != 198.18.129.0/24 jump refuse\n") != NULL);
	assert_true(strstr(text, "ip saddr != 198.18.129.0/24 jump refuse\n") <
	            strstr(text, "meta l4proto 6 accept\n"));
	assert_int_equal(count_of(text, "jump refuse"), 5);
	assert_int_equal(count_of(text, "log group 7\n"), 1);
	assert_int_equal(count_of(text, "type filter hook forward priority -150; policy drop;\n"),
	                 1);
	assert_true(strncmp(text, "add table inet airlock\ndelete table inet airlock\n", 46) == 0);

	/* Without a DNS listener port 53 is UDP like any other: dropped. */
	struct ruleset_router_spec no_dns = router;
	no_dns.dns_port = 0;
	no_dns.nflog_group = -1;
	assert_true(ruleset_render_router(&no_dns, text, sizeof(text), &d) > 0);
	assert_int_equal(count_of(text, "dport 53"), 0);
	assert_int_equal(count_of(text, "log group"), 0);
	assert_int_equal(count_of(text, "dnat ip to 198.18.129.2:3129\n"), 1);
}

static void test_router_errors(void **state)
{
	static const char *const bad_names[] = {"", "eth1\" accept", "eth 1", "eth1;",
	                                        "sixteen-chars-xx"};
	char text[RULESET_TEXT_MAX];
	struct diag d;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		struct ruleset_router_spec s = router;
		snprintf(s.ifname, sizeof(s.ifname), "%s", bad_names[i]);
		if (strlen(bad_names[i]) >= sizeof(s.ifname))
			memcpy(s.ifname, bad_names[i], sizeof(s.ifname)); /* no NUL */
		assert_int_equal(ruleset_render_router(&s, text, sizeof(text), &d), -EINVAL);
		assert_non_null(strstr(d.msg, "is not one"));
	}
	struct ruleset_router_spec s = router;
	s.transparent_port = 0;
	assert_int_equal(ruleset_render_router(&s, text, sizeof(text), &d), -EINVAL);
	assert_string_equal(d.msg, "a router needs a transparent listener");
	s = router;
	memset(s.gateway_addr, 0, 4);
	assert_int_equal(ruleset_render_router(&s, text, sizeof(text), &d), -EINVAL);
	assert_string_equal(d.msg, "a router needs the gateway's address");
	for (unsigned p = 0; p <= 32; p += 31) {
		s = router;
		s.prefix = (uint8_t)p;
		assert_int_equal(ruleset_render_router(&s, text, sizeof(text), &d), -EINVAL);
		assert_non_null(strstr(d.msg, "expected 8 to 30"));
	}
	s = router;
	s.nflog_group = 65536;
	assert_int_equal(ruleset_render_router(&s, text, sizeof(text), &d), -EINVAL);
	assert_string_equal(d.msg, "NFLOG group 65536: expected 0 to 65535");
	assert_int_equal(ruleset_render_router(&router, text, 64, &d), -ENOBUFS);
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

/* ---- the in-place ruleset's text ---- */

static int render_inplace(const struct ruleset_inplace_spec *spec, char *buf, size_t size)
{
	struct diag d;
	int n = ruleset_render_inplace(spec, buf, size, &d);
	if (n < 0)
		fail_msg("ruleset_render_inplace: %d: %s", n, d.msg);
	assert_int_equal(strlen(buf), (size_t)n);
	return n;
}

static int render_iptables(const struct ruleset_inplace_spec *spec, int family, char *buf,
                           size_t size)
{
	struct diag d;
	int n = iptables_render_inplace(spec, family, buf, size, &d);
	if (n < 0)
		fail_msg("iptables_render_inplace(%d): %d: %s", family, n, d.msg);
	assert_int_equal(strlen(buf), (size_t)n);
	return n;
}

/* `a` comes before `b` in text (both there). */
static void assert_before(const char *text, const char *a, const char *b)
{
	const char *pa = strstr(text, a), *pb = strstr(text, b);
	if (!pa || !pb || pa >= pb)
		fail_msg("'%s' should come before '%s' in:\n%s", a, b, text);
}

/* The nft text of a case against its golden file, and what every in-place
 * text says whatever the spec. */
static void golden_inplace(const struct inplace_case *c, char *text)
{
	char name[96];

	render_inplace(&c->spec, text, RULESET_TEXT_MAX);
	snprintf(name, sizeof(name), "ruleset-inplace-%s.nft", c->name);
	compare_golden(name, text);
	assert_true(
	        strncmp(text,
	                "add table inet airlock\ndelete table inet airlock\ntable inet airlock {\n",
	                68) == 0);
	/* Before any other nat chain of the namespace (Docker's is at -100). */
	assert_int_equal(count_of(text, "type nat hook output priority -110; policy accept;\n"), 1);
	assert_int_equal(count_of(text, "type filter hook output priority filter; policy drop;\n"),
	                 1);
	/* The gateway's uid first in both chains. */
	assert_int_equal(count_of(text, "\t\tmeta skuid 995 return\n"), 1);
	assert_int_equal(count_of(text, "\t\tmeta skuid 995 accept\n"), 1);
	assert_before(text, "meta skuid 995 return\n", "redirect to");
	assert_int_equal(count_of(text, "\t\tct state established,related accept\n"), 1);
	/* IPv6 neighbour discovery, on the link only. */
	assert_int_equal(count_of(text, "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, "
	                                "nd-neighbor-advert } ip6 hoplimit 255 accept\n"),
	                 1);
	assert_int_equal(count_of(text, "jump refuse\n"), 4);
	for (int i = 0; i < RULESET_N_COUNTERS; i++) {
		char line[96];
		snprintf(line, sizeof(line), "\tcounter %s { }\n",
		         ruleset_counter_name((enum ruleset_counter)i));
		assert_int_equal(count_of(text, line), 1);
	}
}

static void test_golden_inplace_full(void **state)
{
	char text[RULESET_TEXT_MAX];
	(void)state;

	golden_inplace(&inplace_full, text);
	/* Docker's networks: neither redirected nor dropped, either family. */
	static const char v4[] = "ip daddr { 172.16.0.0/12, 10.0.0.0/8, 192.168.0.0/16 }";
	char line[160];
	snprintf(line, sizeof(line), "\t\t%s return\n", v4);
	assert_int_equal(count_of(text, line), 1);
	snprintf(line, sizeof(line), "\t\t%s accept\n", v4);
	assert_int_equal(count_of(text, line), 1);
	assert_int_equal(count_of(text, "\t\tip6 daddr { fd00::/8 } return\n"), 1);
	assert_int_equal(count_of(text, "\t\tip6 daddr { fd00::/8 } accept\n"), 1);
	/* Returned before any redirect. */
	assert_before(text, "} return\n", "redirect to");
	/* DNS of either family to the listener, TCP of both to the transparent one. */
	assert_int_equal(count_of(text, "\t\tmeta l4proto { 6, 17 } th dport 53 redirect to :53\n"),
	                 1);
	assert_int_equal(count_of(text, "\t\tip daddr != 127.0.0.0/8 meta l4proto 6 redirect to "
	                                ":3129\n"),
	                 1);
	assert_int_equal(count_of(text, "\t\tip6 daddr != ::1 meta l4proto 6 redirect to :3129\n"),
	                 1);
	/* All of loopback passes. */
	assert_int_equal(count_of(text, "\t\tip daddr 127.0.0.0/8 accept\n"), 1);
	assert_int_equal(count_of(text, "\t\tip6 daddr ::1 accept\n"), 1);
	assert_int_equal(count_of(text, "dport { "), 0);
	/* With a DNS listener the resolvers are the gateway's business only. */
	assert_int_equal(count_of(text, "tcp dport 53"), 0);
	assert_int_equal(count_of(text, "192.0.2.53"), 0);
	assert_int_equal(count_of(text, "2001:db8::53"), 0);
	assert_int_equal(count_of(text, "limit rate 50/second burst 100 packets log group 7\n"), 1);
}

static void test_golden_inplace_no_localhost(void **state)
{
	char text[RULESET_TEXT_MAX], full_text[RULESET_TEXT_MAX];
	(void)state;

	golden_inplace(&inplace_no_localhost, text);
	/* Loopback: the gateway's three listeners only. */
	assert_int_equal(count_of(text, "\t\tip daddr 127.0.0.0/8 accept\n"), 0);
	assert_int_equal(count_of(text, "\t\tip6 daddr ::1 accept\n"), 0);
	assert_int_equal(
	        count_of(text, "\t\tip daddr 127.0.0.0/8 tcp dport { 53, 3128, 3129 } accept\n"),
	        1);
	assert_int_equal(count_of(text, "\t\tip6 daddr ::1 tcp dport { 53, 3128, 3129 } accept\n"),
	                 1);
	assert_int_equal(count_of(text, "\t\tip daddr 127.0.0.0/8 udp dport 53 accept\n"), 1);
	assert_int_equal(count_of(text, "\t\tip6 daddr ::1 udp dport 53 accept\n"), 1);
	/* The nat chain is the full case's. */
	render_inplace(&inplace_full.spec, full_text, sizeof(full_text));
	const char *a = strstr(text, "\tchain filter_out {"),
	           *b = strstr(full_text, "\tchain filter_out {");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a - text, b - full_text);
	assert_memory_equal(text, full_text, (size_t)(a - text));
}

static void test_golden_inplace_hosts_fallback(void **state)
{
	char text[RULESET_TEXT_MAX];
	(void)state;

	golden_inplace(&inplace_hosts_fallback, text);
	/* No DNS listener: no DNS redirect; port 53 to the resolvers passes. */
	assert_int_equal(count_of(text, "redirect to :53\n"), 0);
	assert_int_equal(count_of(text, "\t\tip daddr { 192.0.2.53/32, 203.0.113.53/32 } meta "
	                                "l4proto { 6, 17 } th dport 53 accept\n"),
	                 1);
	assert_int_equal(count_of(text, "\t\tip6 daddr { 2001:db8::53/128 } meta l4proto { 6, 17 } "
	                                "th dport 53 accept\n"),
	                 1);
	/* DNS over TCP to them is not redirected either (a truncated answer is
	 * asked again over TCP); other TCP still goes to the transparent
	 * listener. */
	assert_int_equal(count_of(text, "\t\tip daddr { 192.0.2.53/32, 203.0.113.53/32 } tcp dport "
	                                "53 return\n"),
	                 1);
	assert_int_equal(count_of(text, "\t\tip6 daddr { 2001:db8::53/128 } tcp dport 53 return\n"),
	                 1);
	assert_before(text, "tcp dport 53 return\n", "redirect to :3129\n");
	assert_int_equal(count_of(text, "meta l4proto 6 redirect to :3129\n"), 2);
	/* No IPv6 direct network: no IPv6 set for them. */
	assert_int_equal(count_of(text, "fd00::"), 0);
}

static void test_golden_inplace_no_ipv6(void **state)
{
	char text[RULESET_TEXT_MAX];
	(void)state;

	golden_inplace(&inplace_no_ipv6, text);
	/* No IPv6 TCP redirect; IPv6 loopback still passes, the rest is dropped. */
	assert_int_equal(count_of(text, "ip6 daddr != ::1"), 0);
	assert_int_equal(count_of(text, "ip6 daddr {"), 0);
	assert_int_equal(count_of(text, "\t\tip6 daddr ::1 accept\n"), 1);
	assert_int_equal(count_of(text, "redirect to :3129\n"), 1);
	/* Without NFLOG: the refuse chain only drops. */
	assert_int_equal(count_of(text, " log "), 0);
	assert_int_equal(count_of(text, "limit rate"), 0);
	assert_int_equal(count_of(text, "\tchain refuse {\n\t\tdrop\n\t}\n"), 1);
}

/* The loopback ports without allow_localhost follow the listeners there. */
static void test_inplace_loopback_ports(void **state)
{
	char text[RULESET_TEXT_MAX];
	struct ruleset_inplace_spec s = inplace_no_localhost.spec;
	(void)state;

	s.dns_port = 0;
	render_inplace(&s, text, sizeof(text));
	assert_int_equal(
	        count_of(text, "\t\tip daddr 127.0.0.0/8 tcp dport { 3128, 3129 } accept\n"), 1);
	assert_int_equal(count_of(text, "udp dport"), 0);
	s.transparent_port = 0;
	render_inplace(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "\t\tip daddr 127.0.0.0/8 tcp dport { 3128 } accept\n"), 1);
	assert_int_equal(count_of(text, "redirect to"), 0);
	s.proxy_port = 0;
	render_inplace(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "127.0.0.0/8 tcp"), 0);
	assert_int_equal(count_of(text, "::1 tcp"), 0);
	/* Only a DNS listener, at the limits of a port. */
	s.dns_port = 65535;
	render_inplace(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "\t\tip daddr 127.0.0.0/8 tcp dport { 65535 } accept\n"),
	                 1);
	assert_int_equal(count_of(text, "\t\tip daddr 127.0.0.0/8 udp dport 65535 accept\n"), 1);
	assert_int_equal(count_of(text, "th dport 53 redirect to :65535\n"), 1);
}

/* The most a spec can hold fits the documented maxima, in both forms. */
static void test_inplace_largest(void **state)
{
	char text[RULESET_TEXT_MAX], ipt[IPTABLES_TEXT_MAX];
	struct ruleset_inplace_spec s = inplace_hosts_fallback.spec;
	(void)state;

	s.gateway_uid = UINT32_MAX;
	s.proxy_port = s.transparent_port = 65535;
	s.nflog_group = 65535;
	s.allow_localhost = false;
	for (size_t i = 0; i < RULESET_MAX_NETS; i++) {
		struct ruleset_net *n = &s.direct[i];
		n->family = i % 2 ? 6 : 4;
		memset(n->addr, 0xff, sizeof(n->addr));
		n->addr[0] = (uint8_t)i;
		n->prefix = n->family == 4 ? 32 : 128;
		s.resolvers[i] = *n;
	}
	s.n_direct = s.n_resolvers = RULESET_MAX_NETS;
	int n = render_inplace(&s, text, sizeof(text));
	assert_true(n < RULESET_TEXT_MAX);
	/* Every range in, twice (nat and filter). */
	assert_int_equal(count_of(text, "/32"), 2 * RULESET_MAX_NETS);
	assert_int_equal(count_of(text, "/128"), 2 * RULESET_MAX_NETS);
	for (int family = 4; family <= 6; family += 2) {
		n = render_iptables(&s, family, ipt, sizeof(ipt));
		assert_true(n < IPTABLES_TEXT_MAX);
		assert_int_equal(count_of(ipt, "-j RETURN\n"), 1 + RULESET_MAX_NETS);
	}
}

static void test_inplace_bad_nets(void **state)
{
	char text[RULESET_TEXT_MAX];
	struct diag d;
	struct ruleset_inplace_spec s;
	(void)state;

	static const struct {
		bool resolver;
		size_t index;
		int family;
		uint8_t prefix;
		const char *msg;
	} bad[] = {
	        {false, 1, 5, 8, "direct network 2 is not an address range"},
	        {false, 0, 0, 0, "direct network 1 is not an address range"},
	        {false, 0, 4, 33, "direct network 1 is not an address range"},
	        {false, 3, 6, 129, "direct network 4 is not an address range"},
	        {false, 2, -4, 8, "direct network 3 is not an address range"},
	        {true, 1, 6, 200, "resolver 2 is not an address range"},
	        {true, 0, 4, 64, "resolver 1 is not an address range"},
	        {true, 0, 46, 32, "resolver 1 is not an address range"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		s = inplace_full.spec;
		struct ruleset_net *n =
		        bad[i].resolver ? &s.resolvers[bad[i].index] : &s.direct[bad[i].index];
		n->family = bad[i].family;
		n->prefix = bad[i].prefix;
		memset(text, 0, sizeof(text));
		assert_int_equal(ruleset_render_inplace(&s, text, sizeof(text), &d), -EINVAL);
		assert_string_equal(d.msg, bad[i].msg);
		assert_int_equal(ruleset_render_inplace(&s, text, sizeof(text), NULL), -EINVAL);
	}
	/* Resolvers are checked even where a DNS listener leaves them unused. */
	s = inplace_full.spec;
	assert_true(s.dns_port != 0);
	s.resolvers[0].prefix = 33;
	assert_int_equal(ruleset_render_inplace(&s, text, sizeof(text), &d), -EINVAL);
	/* The longest prefixes and /0 are ranges. */
	s = inplace_full.spec;
	s.direct[0].prefix = 32;
	s.direct[3].prefix = 128;
	s.resolvers[0].prefix = 0;
	render_inplace(&s, text, sizeof(text));
	/* Too many. */
	s = inplace_full.spec;
	s.n_direct = RULESET_MAX_NETS + 1;
	assert_int_equal(ruleset_render_inplace(&s, text, sizeof(text), &d), -EINVAL);
	assert_string_equal(d.msg, "more than 32 direct networks");
	s = inplace_full.spec;
	s.n_resolvers = (size_t)-1;
	assert_int_equal(ruleset_render_inplace(&s, text, sizeof(text), &d), -EINVAL);
	assert_string_equal(d.msg, "more than 32 resolvers");
	/* None at all is fine. */
	s = inplace_full.spec;
	s.n_direct = s.n_resolvers = 0;
	render_inplace(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "daddr {"), 0);
}

static void test_inplace_bad_group(void **state)
{
	static const int bad[] = {65536, -2, 0x7fffffff, -0x7fffffff - 1};
	char text[RULESET_TEXT_MAX], want[64];
	struct diag d;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct ruleset_inplace_spec s = inplace_full.spec;
		s.nflog_group = bad[i];
		snprintf(want, sizeof(want), "NFLOG group %d: expected 0 to 65535", bad[i]);
		assert_int_equal(ruleset_render_inplace(&s, text, sizeof(text), &d), -EINVAL);
		assert_string_equal(d.msg, want);
		for (int family = 4; family <= 6; family += 2) {
			memset(&d, 0, sizeof(d));
			assert_int_equal(
			        iptables_render_inplace(&s, family, text, sizeof(text), &d),
			        -EINVAL);
			assert_string_equal(d.msg, want);
		}
	}
	/* The limits are groups. */
	struct ruleset_inplace_spec s = inplace_full.spec;
	s.nflog_group = 65535;
	render_inplace(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "log group 65535\n"), 1);
	render_iptables(&s, 4, text, sizeof(text));
	assert_int_equal(count_of(text, "--nflog-group 65535\n"), 1);
	s.nflog_group = 0;
	render_inplace(&s, text, sizeof(text));
	assert_int_equal(count_of(text, "log group 0\n"), 1);
	render_iptables(&s, 6, text, sizeof(text));
	assert_int_equal(count_of(text, "--nflog-group 0\n"), 1);
}

static void test_inplace_buffer_too_small(void **state)
{
	char text[IPTABLES_TEXT_MAX], small[IPTABLES_TEXT_MAX], want[80];
	struct diag d;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(inplace_cases); i++) {
		const struct ruleset_inplace_spec *s = &inplace_cases[i]->spec;
		int n = render_inplace(s, text, RULESET_TEXT_MAX);
		memset(small, 'x', sizeof(small));
		assert_int_equal(ruleset_render_inplace(s, small, (size_t)n + 1, &d), n);
		assert_string_equal(small, text);
		assert_int_equal(ruleset_render_inplace(s, small, (size_t)n, &d), -ENOBUFS);
		snprintf(want, sizeof(want), "the nftables ruleset does not fit in %d bytes", n);
		assert_string_equal(d.msg, want);
		assert_int_equal(ruleset_render_inplace(s, small, 1, NULL), -ENOBUFS);
		assert_int_equal(ruleset_render_inplace(s, NULL, 0, &d), -ENOBUFS);
		assert_true(n < RULESET_TEXT_MAX / 2);

		for (int family = 4; family <= 6; family += 2) {
			n = render_iptables(s, family, text, sizeof(text));
			memset(small, 'x', sizeof(small));
			assert_int_equal(
			        iptables_render_inplace(s, family, small, (size_t)n + 1, &d), n);
			assert_string_equal(small, text);
			assert_int_equal(iptables_render_inplace(s, family, small, (size_t)n, &d),
			                 -ENOBUFS);
			snprintf(want, sizeof(want), "the iptables rules do not fit in %d bytes",
			         n);
			assert_string_equal(d.msg, want);
			assert_int_equal(iptables_render_inplace(s, family, small, 1, NULL),
			                 -ENOBUFS);
			assert_int_equal(iptables_render_inplace(s, family, NULL, 0, &d), -ENOBUFS);
			assert_true(n < IPTABLES_TEXT_MAX / 2);
		}
	}
}

static void test_iptables_bad_family(void **state)
{
	static const int bad[] = {0, 5, 2, 10, -4, 46};
	char text[IPTABLES_TEXT_MAX], want[64];
	struct diag d;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(want, sizeof(want), "address family %d", bad[i]);
		assert_int_equal(
		        iptables_render_inplace(&inplace_full.spec, bad[i], text, sizeof(text), &d),
		        -EINVAL);
		assert_string_equal(d.msg, want);
		/* Refused before the buffer is looked at. */
		assert_int_equal(iptables_render_inplace(&inplace_full.spec, bad[i], NULL, 0, NULL),
		                 -EINVAL);
	}
}

/* The iptables-restore text of every case, both families, against golden
 * files, and what each must say. */
static void test_golden_iptables(void **state)
{
	char text[IPTABLES_TEXT_MAX], name[96];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(inplace_cases); i++) {
		const struct inplace_case *c = inplace_cases[i];
		for (int family = 4; family <= 6; family += 2) {
			render_iptables(&c->spec, family, text, sizeof(text));
			snprintf(name, sizeof(name), "iptables-inplace-%s-%d.rules", c->name,
			         family);
			compare_golden(name, text);
			/* Two transactions, each with its chain jumped to first. */
			static const char head[] = "*nat\n:AIRLOCK_NAT - [0:0]\n";
			assert_true(strncmp(text, head, strlen(head)) == 0);
			assert_int_equal(count_of(text, "\n*filter\n:AIRLOCK_OUT - [0:0]\n"), 1);
			assert_int_equal(count_of(text, "COMMIT\n"), 2);
			assert_int_equal(count_of(text, "-I OUTPUT 1 -j AIRLOCK_NAT\nCOMMIT\n"), 1);
			assert_int_equal(count_of(text, "-A AIRLOCK_OUT -j DROP\n-I OUTPUT 1 -j "
			                                "AIRLOCK_OUT\nCOMMIT\n"),
			                 1);
			assert_int_equal(count_of(text, "-A AIRLOCK_NAT -m owner --uid-owner 995 "
			                                "-j RETURN\n"),
			                 1);
			assert_int_equal(count_of(text, "-A AIRLOCK_OUT -m owner --uid-owner 995 "
			                                "-j ACCEPT\n"),
			                 1);
			assert_int_equal(count_of(text, "-A AIRLOCK_OUT -m conntrack --ctstate "
			                                "ESTABLISHED,RELATED -j ACCEPT\n"),
			                 1);
			/* Only this family's addresses. */
			assert_int_equal(count_of(text, family == 4 ? "::" : "127.0.0."), 0);
			assert_int_equal(count_of(text, "--icmpv6-type"), family == 6 ? 4 : 0);
			/* DNS redirected in both families where there is a listener. */
			assert_int_equal(count_of(text, "--dport 53 -j REDIRECT --to-ports 53\n"),
			                 c->spec.dns_port ? 2 : 0);
			assert_int_equal(count_of(text, "-j REDIRECT --to-ports 3129\n"),
			                 family == 4 || c->spec.ipv6 ? 1 : 0);
			assert_int_equal(count_of(text, "-j NFLOG --nflog-group 7\n"),
			                 c->spec.nflog_group >= 0 ? 1 : 0);
			assert_int_equal(count_of(text, "-m multiport --dports 53,3128,3129 -j "
			                                "ACCEPT\n"),
			                 c->spec.allow_localhost ? 0 : 1);
		}
	}
	/* The direct networks, each returned and accepted; the resolvers
	 * without a DNS listener, on port 53 only. */
	render_iptables(&inplace_full.spec, 4, text, sizeof(text));
	assert_int_equal(count_of(text, "-A AIRLOCK_NAT -d 172.16.0.0/12 -j RETURN\n"), 1);
	assert_int_equal(count_of(text, "-A AIRLOCK_OUT -d 192.168.0.0/16 -j ACCEPT\n"), 1);
	assert_int_equal(count_of(text, "-A AIRLOCK_OUT -d 127.0.0.0/8 -j ACCEPT\n"), 1);
	assert_int_equal(count_of(text, "192.0.2.53"), 0);
	assert_int_equal(count_of(text, "--dport 53 -j RETURN"), 0);
	render_iptables(&inplace_full.spec, 6, text, sizeof(text));
	assert_int_equal(count_of(text, "-A AIRLOCK_NAT -d fd00::/8 -j RETURN\n"), 1);
	assert_int_equal(count_of(text, "-A AIRLOCK_OUT -d fd00::/8 -j ACCEPT\n"), 1);
	assert_int_equal(count_of(text, "-A AIRLOCK_NAT ! -d ::1/128 -p tcp -j REDIRECT "
	                                "--to-ports 3129\n"),
	                 1);
	render_iptables(&inplace_hosts_fallback.spec, 4, text, sizeof(text));
	assert_int_equal(count_of(text, "-A AIRLOCK_OUT -d 203.0.113.53/32 -p udp --dport 53 -j "
	                                "ACCEPT\n"),
	                 1);
	assert_int_equal(count_of(text, "-A AIRLOCK_OUT -d 203.0.113.53/32 -p tcp --dport 53 -j "
	                                "ACCEPT\n"),
	                 1);
	assert_int_equal(count_of(text, "-A AIRLOCK_NAT -d 203.0.113.53/32 -p tcp --dport 53 -j "
	                                "RETURN\n"),
	                 1);
	assert_before(text, "-A AIRLOCK_NAT -d 192.0.2.53/32 -p tcp --dport 53 -j RETURN\n",
	              "-j REDIRECT --to-ports 3129\n");
	assert_int_equal(count_of(text, "2001:db8::53"), 0);
	render_iptables(&inplace_hosts_fallback.spec, 6, text, sizeof(text));
	assert_int_equal(count_of(text, "-A AIRLOCK_NAT -d 2001:db8::53/128 -p tcp --dport 53 -j "
	                                "RETURN\n"),
	                 1);
	assert_int_equal(count_of(text, "-A AIRLOCK_OUT -d 2001:db8::53/128 -p udp --dport 53 -j "
	                                "ACCEPT\n"),
	                 1);
	render_iptables(&inplace_no_localhost.spec, 6, text, sizeof(text));
	assert_int_equal(count_of(text, "-A AIRLOCK_OUT -d ::1/128 -p udp --dport 53 -j ACCEPT\n"),
	                 1);
	assert_int_equal(count_of(text, "-A AIRLOCK_OUT -d ::1/128 -j ACCEPT\n"), 0);
}

/* ---- the text in a kernel ----
 *
 * A forked child makes a user and network namespace of its own (nothing it
 * does is seen outside it), applies the text and sends traffic.  It cannot
 * use cmocka's asserts (they would unwind the parent's copy of the runner),
 * so it reports one message through a pipe and its exit status. */

enum { NS_OK, NS_FAIL, NS_SKIP };

struct child {
	const struct ruleset_spec *spec;            /* the sandbox's, or */
	const struct ruleset_inplace_spec *inplace; /* the in-place one */
	bool iptables;                              /* in-place through iptables-restore */
	bool router;                                /* router_setup() on a veth pair */
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

/* ---- in-place traffic ----
 *
 * The same namespace, the in-place ruleset: nothing of ours runs as the
 * gateway's uid (995) until the last check, which re-applies with ours. */

/* An address inside the first range of `family` in nets (the range's own
 * address, its last bit set when the range has room); false: none. */
static bool addr_in(const struct ruleset_net *nets, size_t n, int family, char *out, size_t size)
{
	int fam = family == AF_INET ? 4 : 6;
	for (size_t i = 0; i < n; i++) {
		uint8_t a[16];
		if (nets[i].family != fam)
			continue;
		memcpy(a, nets[i].addr, sizeof(a));
		if (nets[i].prefix < (fam == 4 ? 32 : 128))
			a[fam == 4 ? 3 : 15] |= 1;
		return inet_ntop(family, a, out, (socklen_t)size) != NULL;
	}
	return false;
}

/* How long to wait for what should come (it does, in microseconds, on
 * loopback), and for what should not. */
#define WAIT_ARRIVES 2000
#define WAIT_ABSENT  100

/* A UDP datagram to ip:port where `port` has a listener on loopback: whether
 * it arrived there (redirected or sent to loopback directly); `expect` says
 * which is waited for. */
static int udp_to_listener(struct child *k, int family, const char *ip, uint16_t port,
                           uint16_t listen_port, bool expect, bool *arrived, const char *what)
{
	char got[16];
	int fd = listener(family, SOCK_DGRAM, listen_port);
	if (fd < 0)
		return child_fail(k, "%s: no listener on port %u: %s", what, listen_port,
		                  strerror(errno));
	send_udp(family, ip, port, "query");
	*arrived = readable(fd, expect ? WAIT_ARRIVES : WAIT_ABSENT) &&
	           recv(fd, got, sizeof(got), 0) == 5 && memcmp(got, "query", 5) == 0;
	close(fd);
	return NS_OK;
}

/* A SYN to ip:port; *accepted: whether a listener on loopback:listen_port
 * (0: none) took the connection (redirected, or reached directly). */
static int tcp_to_listener(struct child *k, int family, const char *ip, uint16_t port,
                           uint16_t listen_port, bool expect, bool *accepted, const char *what)
{
	int lfd = -1;
	if (listen_port && (lfd = listener(family, SOCK_STREAM, listen_port)) < 0)
		return child_fail(k, "%s: no listener on port %u: %s", what, listen_port,
		                  strerror(errno));
	int cfd = send_syn(family, ip, port);
	if (cfd < 0) {
		if (lfd >= 0)
			close(lfd);
		return child_fail(k, "%s: socket: %s", what, strerror(errno));
	}
	int afd = lfd >= 0 && readable(lfd, expect ? WAIT_ARRIVES : WAIT_ABSENT)
	                  ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC)
	                  : -1;
	*accepted = afd >= 0;
	if (afd >= 0)
		close(afd);
	close(cfd); /* before a retransmission */
	if (lfd >= 0)
		close(lfd);
	return NS_OK;
}

/* What NFLOG says of the UDP datagram to port 9 just dropped. */
static int inplace_logged(struct child *k, int family, const char *what)
{
	const struct ruleset_inplace_spec *s = k->inplace;
	struct logged l = {.family = family, .protocol = IPPROTO_UDP, .port = 9};
	read_log(k, &l, s->nflog_group >= 0 ? 2000 : 300);
	if (s->nflog_group >= 0 && !l.found)
		return child_fail(k, "%s: not reported by NFLOG group %d (%zu packets read)", what,
		                  s->nflog_group, l.packets);
	if (s->nflog_group < 0 && l.packets)
		return child_fail(k, "%s: %zu packets logged, but the spec logs nothing", what,
		                  l.packets);
	return NS_OK;
}

static int inplace_checks(struct child *k, int f)
{
	const struct ruleset_inplace_spec *s = k->inplace;
	char what[128], direct[INET6_ADDRSTRLEN], resolver[INET6_ADDRSTRLEN];
	bool has_direct = addr_in(s->direct, s->n_direct, f, direct, sizeof(direct));
	bool has_resolver = addr_in(s->resolvers, s->n_resolvers, f, resolver, sizeof(resolver));
	bool tcp_redirected = s->transparent_port && (f == AF_INET || s->ipv6);
	bool got;
	int e;

	/* UDP elsewhere: counted, logged, dropped. */
	snprintf(what, sizeof(what), "UDP to %s port 9", outside(f));
	send_udp(f, outside(f), 9, "x");
	if ((e = moved(k, RULESET_DROPPED_UDP, what)) != NS_OK ||
	    (e = inplace_logged(k, f, what)) != NS_OK)
		return e;

	/* DNS anywhere to the listener; without one, to the resolvers only
	 * (both transports: a truncated answer is asked again over TCP). */
	snprintf(what, sizeof(what), "DNS over UDP to %s", outside(f));
	if (s->dns_port) {
		if ((e = udp_to_listener(k, f, outside(f), 53, s->dns_port, true, &got, what)) !=
		    NS_OK)
			return e;
		if (!got)
			return child_fail(k, "%s: not redirected to port %u", what, s->dns_port);
		if ((e = moved(k, -1, what)) != NS_OK)
			return e;
	} else {
		send_udp(f, outside(f), 53, "query");
		if ((e = moved(k, RULESET_DROPPED_UDP, what)) != NS_OK)
			return e;
	}
	if (!s->dns_port && has_resolver) {
		snprintf(what, sizeof(what), "DNS over UDP to the resolver %s", resolver);
		send_udp(f, resolver, 53, "query");
		if ((e = moved(k, -1, what)) != NS_OK)
			return e;
		snprintf(what, sizeof(what), "DNS over TCP to the resolver %s", resolver);
		if ((e = tcp_to_listener(k, f, resolver, 53, s->transparent_port, false, &got,
		                         what)) != NS_OK)
			return e;
		if (got)
			return child_fail(k, "%s: redirected to the transparent listener", what);
		if ((e = moved(k, -1, what)) != NS_OK)
			return e;
		snprintf(what, sizeof(what), "UDP to the resolver %s port 9", resolver);
		send_udp(f, resolver, 9, "x");
		if ((e = moved(k, RULESET_DROPPED_UDP, what)) != NS_OK)
			return e;
	}

	/* TCP elsewhere: to the transparent listener, or dropped. */
	snprintf(what, sizeof(what), "TCP to %s port 80", outside(f));
	if ((e = tcp_to_listener(k, f, outside(f), 80, tcp_redirected ? s->transparent_port : 0,
	                         true, &got, what)) != NS_OK)
		return e;
	if (tcp_redirected && !got)
		return child_fail(k, "%s: not redirected to port %u", what, s->transparent_port);
	if ((e = moved(k, tcp_redirected ? -1 : RULESET_DROPPED_TCP, what)) != NS_OK)
		return e;

	/* The direct networks: neither redirected nor dropped. */
	if (has_direct) {
		snprintf(what, sizeof(what), "UDP to the direct network's %s", direct);
		send_udp(f, direct, 9, "x");
		if ((e = moved(k, -1, what)) != NS_OK)
			return e;
		snprintf(what, sizeof(what), "DNS over UDP to the direct network's %s", direct);
		if (s->dns_port) {
			if ((e = udp_to_listener(k, f, direct, 53, s->dns_port, false, &got,
			                         what)) != NS_OK)
				return e;
			if (got)
				return child_fail(k, "%s: redirected", what);
			if ((e = moved(k, -1, what)) != NS_OK)
				return e;
		}
		snprintf(what, sizeof(what), "TCP to the direct network's %s", direct);
		if ((e = tcp_to_listener(k, f, direct, 443, s->transparent_port, false, &got,
		                         what)) != NS_OK)
			return e;
		if (got)
			return child_fail(k, "%s: redirected to the transparent listener", what);
		if ((e = moved(k, -1, what)) != NS_OK)
			return e;
	}

	/* Loopback: all of it with allow_localhost, else the listeners only. */
	snprintf(what, sizeof(what), "UDP to %s port 7777", loopback(f));
	if ((e = udp_to_listener(k, f, loopback(f), 7777, 7777, s->allow_localhost, &got, what)) !=
	    NS_OK)
		return e;
	if (got != s->allow_localhost)
		return child_fail(k, "%s: %s", what, got ? "arrived" : "did not arrive");
	if ((e = moved(k, s->allow_localhost ? -1 : RULESET_DROPPED_UDP, what)) != NS_OK)
		return e;
	snprintf(what, sizeof(what), "TCP to %s port 8088", loopback(f));
	if ((e = tcp_to_listener(k, f, loopback(f), 8088, 8088, s->allow_localhost, &got, what)) !=
	    NS_OK)
		return e;
	if (got != s->allow_localhost)
		return child_fail(k, "%s: %s", what, got ? "accepted" : "not accepted");
	if ((e = moved(k, s->allow_localhost ? -1 : RULESET_DROPPED_TCP, what)) != NS_OK)
		return e;
	if (s->proxy_port) {
		snprintf(what, sizeof(what), "TCP to the proxy on %s", loopback(f));
		if ((e = tcp_to_listener(k, f, loopback(f), s->proxy_port, s->proxy_port, true,
		                         &got, what)) != NS_OK)
			return e;
		if (!got)
			return child_fail(k, "%s: not accepted", what);
		if ((e = moved(k, -1, what)) != NS_OK)
			return e;
	}

	/* The rest of IP: counted and dropped. */
	send_raw(f, f == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6, outside(f));
	if ((e = moved(k, RULESET_DROPPED_ICMP, "an ICMP echo request")) != NS_OK)
		return e;
	send_raw(f, IPPROTO_GRE, outside(f));
	return moved(k, RULESET_DROPPED_OTHER, "a GRE packet");
}

/* The gateway's own traffic (its uid: ours now) is neither redirected nor
 * dropped: the same spec applied again with our uid. */
static int inplace_gateway_uid(struct child *k, int f)
{
	const struct ruleset_inplace_spec *s = k->inplace;
	char what[128];
	bool got;
	int e;

	snprintf(what, sizeof(what), "the gateway's UDP to %s port 9", outside(f));
	send_udp(f, outside(f), 9, "x");
	if ((e = moved(k, -1, what)) != NS_OK)
		return e;
	if (s->dns_port) {
		snprintf(what, sizeof(what), "the gateway's DNS to %s", outside(f));
		if ((e = udp_to_listener(k, f, outside(f), 53, s->dns_port, false, &got, what)) !=
		    NS_OK)
			return e;
		if (got)
			return child_fail(k, "%s: redirected to its own listener", what);
		if ((e = moved(k, -1, what)) != NS_OK)
			return e;
	}
	snprintf(what, sizeof(what), "the gateway's TCP to %s port 80", outside(f));
	if ((e = tcp_to_listener(k, f, outside(f), 80, s->transparent_port, false, &got, what)) !=
	    NS_OK)
		return e;
	if (got)
		return child_fail(k, "%s: redirected to its own listener", what);
	return moved(k, -1, what);
}

static int inplace_traffic(struct child *k)
{
	const struct ruleset_inplace_spec *s = k->inplace;
	char text[RULESET_TEXT_MAX];
	struct diag d;
	int e;

	if (rtnl_loopback_up(&d) < 0)
		return child_fail(k, "lo up: %s", d.msg);
	/* Packets to outside addresses must reach netfilter: a route for them. */
	if (rtnl_default_route_to_loopback(AF_INET, &d) < 0)
		return child_fail(k, "default route: %s", d.msg);
	k->ipv6_route = rtnl_default_route_to_loopback(AF_INET6, &d) == 0;
	int group = s->nflog_group >= 0 ? s->nflog_group : 7;
	k->nflog = nflog_open((uint16_t)group, &d);
	if (k->nflog < 0)
		return child_fail(k, "nflog_open(%d): %s", group, d.msg);

	int families[] = {AF_INET, AF_INET6};
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		if (families[i] == AF_INET6 && !k->ipv6_route)
			continue;
		if ((e = inplace_checks(k, families[i])) != NS_OK)
			return e;
	}

	struct ruleset_inplace_spec own = *s;
	own.gateway_uid = (uint32_t)geteuid();
	if (ruleset_render_inplace(&own, text, sizeof(text), &d) < 0)
		return child_fail(k, "render with our uid: %s", d.msg);
	if (nftables_apply(text, &d) < 0)
		return child_fail(k, "apply with our uid: %s", d.msg);
	memset(k->seen, 0, sizeof(k->seen)); /* a new table: new counters */
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		if (families[i] == AF_INET6 && !k->ipv6_route)
			continue;
		if ((e = inplace_gateway_uid(k, families[i])) != NS_OK)
			return e;
	}
	return NS_OK;
}

/* ---- the in-place rules through iptables-restore ---- */

/* What `tool` (iptables-save, ip6tables-save) prints, into out. */
static int save_output(struct child *k, const char *tool, char *out, size_t size)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "%s 2>/dev/null", tool);
	FILE *f = popen(cmd, "re");
	if (!f)
		return child_fail(k, "%s: %s", tool, strerror(errno));
	size_t n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	int status = pclose(f);
	if (status != 0)
		return child_fail(k, "%s: exit status %d", tool, status);
	return NS_OK;
}

/* Our chains and the jumps to them, as `save` shows them: `want` of each. */
static int chains_are(struct child *k, int want, const char *when)
{
	static const char *const tools[] = {"iptables-save", "ip6tables-save"};
	static const char *const lines[] = {
	        ":AIRLOCK_NAT ", ":AIRLOCK_OUT ", "-A OUTPUT -j AIRLOCK_NAT\n",
	        "-A OUTPUT -j AIRLOCK_OUT\n", "-A AIRLOCK_OUT -j DROP\n"};
	static char saved[64 * 1024];
	int e;

	for (size_t t = 0; t < ARRAY_SIZE(tools); t++) {
		if ((e = save_output(k, tools[t], saved, sizeof(saved))) != NS_OK)
			return e;
		for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
			if (count_of(saved, lines[i]) != want)
				return child_fail(k, "%s: %s shows '%s' %d times, want %d:\n%s",
				                  when, tools[t], lines[i],
				                  count_of(saved, lines[i]), want, saved);
	}
	return NS_OK;
}

/* iptables_apply_inplace() for real: both families go in, applying twice
 * leaves one set of chains and jumps, iptables_remove() leaves none.  The
 * gateway's uid is ours (xt_owner refuses a uid the namespace cannot map). */
static int iptables_checks(struct child *k)
{
	struct ruleset_inplace_spec own = *k->inplace;
	const char *tool = NULL;
	struct diag d = {""};
	int e;

	own.gateway_uid = (uint32_t)geteuid();
	if (system("iptables-restore --version >/dev/null 2>&1 && "
	           "ip6tables-restore --version >/dev/null 2>&1") != 0) {
		snprintf(k->msg, sizeof(k->msg),
		         "iptables-restore and ip6tables-restore are not both installed: the "
		         "rules were not applied");
		return NS_SKIP;
	}
	if (iptables_apply_inplace(&own, &tool, &d) < 0) {
		/* A kernel without either backend for user namespaces. */
		snprintf(k->msg, sizeof(k->msg),
		         "iptables cannot be used in a user namespace here (%.900s): the rules "
		         "were not applied",
		         d.msg);
		return NS_SKIP;
	}
	if ((e = chains_are(k, 1, "after one apply")) != NS_OK)
		return e;
	if (iptables_apply_inplace(&own, &tool, &d) < 0)
		return child_fail(k, "second apply (%s): %s", tool ? tool : "?", d.msg);
	if ((e = chains_are(k, 1, "after two applies")) != NS_OK)
		return e;
	if (iptables_remove(&d) < 0)
		return child_fail(k, "iptables_remove: %s", d.msg);
	if ((e = chains_are(k, 0, "after removal")) != NS_OK)
		return e;
	if (iptables_remove(&d) < 0)
		return child_fail(k, "iptables_remove with nothing there: %s", d.msg);
	return NS_OK;
}

/* The router (enforce/router.h) on one end of a veth pair at
 * 198.18.129.2/24: it finds that interface for the network's gateway
 * address, refuses addresses no subnet holds or one an interface holds,
 * takes the address with its table in place and the NFLOG socket open, and
 * a second setup changes nothing.  (Traffic through it needs a second
 * namespace: tests/docker/ sends the workload's through a real sidecar.) */
static int router_checks(struct child *k)
{
	const uint8_t gateway[4] = {198, 18, 129, 1}, elsewhere[4] = {10, 9, 9, 1},
	              own[4] = {198, 18, 129, 2};
	struct router_config c = {.router_addr = {198, 18, 129, 1},
	                          .dns_port = 53,
	                          .transparent_port = 3129,
	                          .nflog_group = 7};
	char tables[256];
	struct diag d;
	int fd, e;

	if (system("ip link add eth1 type veth peer name peer1 && "
	           "ip addr add 198.18.129.2/24 dev eth1 && ip link set eth1 up") != 0) {
		snprintf(k->msg, sizeof(k->msg), "cannot make a veth pair with ip(8) here");
		return NS_SKIP;
	}
	if (router_find(elsewhere, c.ifname, c.local_addr, &c.prefix, &d) != -ENOENT ||
	    !strstr(d.msg, "no interface is on a network holding 10.9.9.1"))
		return child_fail(k, "10.9.9.1 found a network: %s", d.msg);
	if (router_find(own, c.ifname, c.local_addr, &c.prefix, &d) != -EEXIST)
		return child_fail(k, "an interface's own address was taken for a router");
	if (router_find(gateway, c.ifname, c.local_addr, &c.prefix, &d) < 0)
		return child_fail(k, "router_find: %s", d.msg);
	if (strcmp(c.ifname, "eth1") != 0 || memcmp(c.local_addr, own, 4) != 0 || c.prefix != 24)
		return child_fail(k, "router_find gave %s /%u", c.ifname, c.prefix);
	for (int round = 0; round < 2; round++) {
		if (router_setup(&c, &fd, &d) < 0)
			return child_fail(k, "router_setup %d: %s", round + 1, d.msg);
		if (fd < 0)
			return child_fail(k, "router_setup %d gave no NFLOG socket", round + 1);
		close(fd);
	}
	if ((e = nft_list("list tables", tables, sizeof(tables), k)) != NS_OK)
		return e;
	if (strcmp(tables, "table inet airlock\n") != 0)
		return child_fail(k, "after two setups the tables are: %s", tables);
	FILE *ip = popen("ip -4 -o addr show dev eth1", "re");
	char all[1024] = "";
	size_t got = ip ? fread(all, 1, sizeof(all) - 1, ip) : 0;
	all[got] = '\0';
	if (ip)
		pclose(ip);
	if (!strstr(all, "inet 198.18.129.1/32") || !strstr(all, "inet 198.18.129.2/24") ||
	    count_of(all, "inet ") != 2)
		return child_fail(k, "eth1's addresses: %s", all);
	/* The /32 it took is not "taken by someone": a second run finds the
	 * same interface (and router_setup changes nothing, above). */
	struct router_config again = c;
	if (router_find(gateway, again.ifname, again.local_addr, &again.prefix, &d) < 0 ||
	    strcmp(again.ifname, "eth1") != 0)
		return child_fail(k, "router_find after the setup: %s", d.msg);
	return NS_OK;
}

/* ---- applying ---- */

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
	if (k->iptables)
		return iptables_checks(k);
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

	if (k->router)
		return router_checks(k);
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
	return k->inplace ? inplace_traffic(k) : traffic(k);
}

/* Apply `text` in a child's namespaces and check traffic as `k` says. */
static void run_child(const char *what, struct child *k, const char *text)
{
	int fds[2];

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		int r = in_namespace(k, text);
		(void)!write(fds[1], k->msg, strlen(k->msg));
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
		fail_msg("%s: the child died of signal %d", what, WTERMSIG(status));
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == NS_SKIP) {
		print_message("%s in a namespace, skipped: %s\n", what, msg);
		skip();
	}
	if (WEXITSTATUS(status) != NS_OK)
		fail_msg("%s in a namespace: %s", what, msg);
}

static void in_kernel(const struct golden_case *gc)
{
	char text[RULESET_TEXT_MAX];
	struct child k = {.spec = &gc->spec, .nflog = -1};

	render(&gc->spec, text, sizeof(text));
	run_child(gc->golden, &k, text);
}

static void in_kernel_inplace(const struct inplace_case *c)
{
	char text[RULESET_TEXT_MAX], what[96];
	struct child k = {.inplace = &c->spec, .nflog = -1};

	render_inplace(&c->spec, text, sizeof(text));
	snprintf(what, sizeof(what), "ruleset-inplace-%s.nft", c->name);
	run_child(what, &k, text);
}

static void test_kernel_router(void **state)
{
	struct child k = {.router = true, .nflog = -1};
	(void)state;
	run_child("the router", &k, "");
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

static void iptables_in_kernel(const struct inplace_case *c)
{
	char what[96];
	struct child k = {.inplace = &c->spec, .iptables = true, .nflog = -1};

	snprintf(what, sizeof(what), "iptables-inplace-%s", c->name);
	run_child(what, &k, "");
}

static void test_kernel_iptables(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(inplace_cases); i++)
		iptables_in_kernel(inplace_cases[i]);
}

static void test_kernel_inplace_full(void **state)
{
	(void)state;
	in_kernel_inplace(&inplace_full);
}

static void test_kernel_inplace_no_localhost(void **state)
{
	(void)state;
	in_kernel_inplace(&inplace_no_localhost);
}

static void test_kernel_inplace_hosts_fallback(void **state)
{
	(void)state;
	in_kernel_inplace(&inplace_hosts_fallback);
}

static void test_kernel_inplace_no_ipv6(void **state)
{
	(void)state;
	in_kernel_inplace(&inplace_no_ipv6);
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
	        cmocka_unit_test(test_golden_router),
	        cmocka_unit_test(test_router_errors),
	        cmocka_unit_test(test_kernel_router),
	        cmocka_unit_test(test_counter_names),
	        cmocka_unit_test(test_kernel_full),
	        cmocka_unit_test(test_kernel_airgapped),
	        cmocka_unit_test(test_kernel_no_ipv6),
	        cmocka_unit_test(test_kernel_no_nflog),
	        cmocka_unit_test(test_golden_inplace_full),
	        cmocka_unit_test(test_golden_inplace_no_localhost),
	        cmocka_unit_test(test_golden_inplace_hosts_fallback),
	        cmocka_unit_test(test_golden_inplace_no_ipv6),
	        cmocka_unit_test(test_inplace_loopback_ports),
	        cmocka_unit_test(test_inplace_largest),
	        cmocka_unit_test(test_inplace_bad_nets),
	        cmocka_unit_test(test_inplace_bad_group),
	        cmocka_unit_test(test_inplace_buffer_too_small),
	        cmocka_unit_test(test_iptables_bad_family),
	        cmocka_unit_test(test_golden_iptables),
	        cmocka_unit_test(test_kernel_inplace_full),
	        cmocka_unit_test(test_kernel_inplace_no_localhost),
	        cmocka_unit_test(test_kernel_inplace_hosts_fallback),
	        cmocka_unit_test(test_kernel_inplace_no_ipv6),
	        cmocka_unit_test(test_kernel_iptables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
