/* The rules of `airlock docker protect`: the text of each kind of spec
 * against golden files (tests/golden/protect-*.nft), the fields it refuses
 * (anything that could change the text's meaning), the table name, the
 * removal text; then, where a user and network namespace can be made, the
 * text applied by the kernel twice (one set of tables remains) and removed
 * (none remains).
 *
 * AIRLOCK_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing. */
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "enforce/nftables.h"
#include "enforce/ruleset_protect.h"
#include "util/file.h"

#define ID "9c2691c11c82157a7ec9dde0a79daa29ea67d4fde9a904d4828be5549b9252ad"

static const struct protect_link link_v4 = {
        .veth = "veth0411b0f",
        .bridge = "br-1177502d5c13",
        .mac = "02:42:c6:12:80:02",
        .ipv4 = "198.18.128.2",
};

static void base(struct protect_spec *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(protect_table_name(ID, s->table, sizeof(s->table)), 0);
	snprintf(s->container, sizeof(s->container), "prot");
	s->links[0] = link_v4;
	s->n_links = 1;
	snprintf(s->gateway, sizeof(s->gateway), "198.18.128.3");
	s->dns_port = 53;
	s->proxy_port = 3128;
	s->bridge_family = true;
}

/* The one shape each golden file holds. */
static void spec_full(struct protect_spec *s)
{
	base(s);
}

static void spec_no_bridge(struct protect_spec *s)
{
	base(s);
	s->bridge_family = false;
}

static void spec_two_links_ipv6(struct protect_spec *s)
{
	base(s);
	s->links[1] = (struct protect_link){
	        .veth = "veth9f00c1e",
	        .bridge = "docker0",
	        .mac = "02:42:c6:12:40:05",
	        .ipv4 = "198.18.64.5",
	        .ipv6 = "2001:2:64::5",
	};
	s->n_links = 2;
}

static void spec_ipv6_gateway_proxy_only(struct protect_spec *s)
{
	base(s);
	snprintf(s->links[0].ipv6, sizeof(s->links[0].ipv6), "2001:2:80::2");
	snprintf(s->gateway, sizeof(s->gateway), "2001:2:80::3");
	s->dns_port = 0;
}

static const struct golden {
	const char *file;
	void (*make)(struct protect_spec *);
} goldens[] = {
        {"protect-full.nft", spec_full},
        {"protect-no-bridge.nft", spec_no_bridge},
        {"protect-two-links-ipv6.nft", spec_two_links_ipv6},
        {"protect-ipv6-gateway-proxy-only.nft", spec_ipv6_gateway_proxy_only},
};

static int render(const struct protect_spec *spec, char *buf, size_t size)
{
	struct diag d;
	int n = ruleset_protect_render(spec, buf, size, &d);
	if (n < 0)
		fail_msg("ruleset_protect_render: %d: %s", n, d.msg);
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

static void test_goldens(void **state)
{
	char text[PROTECT_TEXT_MAX];
	struct protect_spec s;
	(void)state;

	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		goldens[i].make(&s);
		render(&s, text, sizeof(text));
		compare_golden(goldens[i].file, text);
	}
}

/* What the full text must say, so that a careless golden update is caught. */
static void test_full_says(void **state)
{
	char text[PROTECT_TEXT_MAX];
	struct protect_spec s;
	(void)state;

	spec_full(&s);
	render(&s, text, sizeof(text));
	/* Both tables replaced atomically: created, deleted, defined. */
	assert_non_null(strstr(text, "add table bridge airlock_protect_9c2691c11c82\n"
	                             "delete table bridge airlock_protect_9c2691c11c82\n"
	                             "table bridge airlock_protect_9c2691c11c82 {\n"));
	assert_non_null(strstr(text, "add table inet airlock_protect_9c2691c11c82\n"
	                             "delete table inet airlock_protect_9c2691c11c82\n"
	                             "table inet airlock_protect_9c2691c11c82 {\n"));
	/* The bridge port is the scope at layer 2, on both hooks. */
	assert_int_equal(count_of(text, "iifname \"veth0411b0f\" jump host_0\n"), 1);
	assert_int_equal(count_of(text, "iifname \"veth0411b0f\" jump bridged_0\n"), 1);
	assert_int_equal(count_of(text, "ether saddr != 02:42:c6:12:80:02 counter name dropped "
	                                "drop\n"),
	                 2);
	assert_int_equal(count_of(text, "ip saddr != 198.18.128.2 counter name dropped drop\n"), 1);
	/* Other containers: the gateway's ports only. */
	assert_int_equal(count_of(text, "ip saddr 198.18.128.2 ip daddr 198.18.128.3 tcp dport { "
	                                "53, 3128 } accept\n"),
	                 1);
	/* The IP layer: bridge and address, and MAC; replies; the gateway; drop. */
	assert_int_equal(count_of(text, "iifname \"br-1177502d5c13\" ip saddr 198.18.128.2 jump "
	                                "from_container\n"),
	                 2);
	assert_int_equal(count_of(text, "ct direction reply accept\n"), 1);
	assert_int_equal(count_of(text, "dnat ip to 198.18.128.3:53\n"), 1);
	assert_int_equal(count_of(text, "counter name dropped drop\n"), 7);
	/* No rule accepts traffic to anything but the gateway. */
	assert_int_equal(count_of(text, " accept\n"), 6);
	assert_int_equal(count_of(text, "policy drop"), 0); /* never the host's other traffic */
}

static void test_no_dns_no_redirect(void **state)
{
	char text[PROTECT_TEXT_MAX];
	struct protect_spec s;
	(void)state;

	spec_ipv6_gateway_proxy_only(&s);
	render(&s, text, sizeof(text));
	assert_null(strstr(text, "dnat"));
	assert_null(strstr(text, "dport 53"));
	assert_int_equal(count_of(text, "\t\tip6 daddr 2001:2:80::3 tcp dport 3128 accept\n"), 1);
}

static void test_no_veth_no_bridge_table(void **state)
{
	char text[PROTECT_TEXT_MAX];
	struct protect_spec s;
	(void)state;

	base(&s);
	s.links[0].veth[0] = '\0';
	render(&s, text, sizeof(text));
	assert_null(strstr(text, "table bridge"));
	assert_non_null(strstr(text, "table inet"));
}

static void expect_refused(const struct protect_spec *s, const char *what)
{
	char text[PROTECT_TEXT_MAX];
	struct diag d = {""};
	assert_int_equal(ruleset_protect_render(s, text, sizeof(text), &d), -EINVAL);
	if (!strstr(d.msg, what))
		fail_msg("message '%s' does not say '%s'", d.msg, what);
}

/* A field that could end a string or a statement is refused, never written. */
static void test_refuses(void **state)
{
	struct protect_spec s;
	(void)state;

	base(&s);
	snprintf(s.links[0].veth, sizeof(s.links[0].veth), "veth\" accept");
	expect_refused(&s, "veth name");
	base(&s);
	snprintf(s.links[0].bridge, sizeof(s.links[0].bridge), "br;drop");
	expect_refused(&s, "bridge name");
	base(&s);
	s.links[0].bridge[0] = '\0';
	expect_refused(&s, "bridge name");
	base(&s);
	snprintf(s.links[0].mac, sizeof(s.links[0].mac), "02:42:C6:12:80:02");
	expect_refused(&s, "MAC");
	base(&s);
	snprintf(s.links[0].ipv4, sizeof(s.links[0].ipv4), "198.18.128.2/8");
	expect_refused(&s, "IPv4 address");
	base(&s);
	snprintf(s.links[0].ipv6, sizeof(s.links[0].ipv6), "::1 }");
	expect_refused(&s, "IPv6 address");
	base(&s);
	s.links[0].ipv4[0] = '\0';
	expect_refused(&s, "no address");
	base(&s);
	snprintf(s.gateway, sizeof(s.gateway), "gw.example");
	expect_refused(&s, "gateway");
	base(&s);
	snprintf(s.container, sizeof(s.container), "a\nb");
	expect_refused(&s, "container name");
	base(&s);
	snprintf(s.table, sizeof(s.table), "airlock_protect_zz");
	expect_refused(&s, "table name");
	base(&s);
	s.n_links = 0;
	expect_refused(&s, "interfaces");
	base(&s);
	s.n_links = PROTECT_MAX_LINKS + 1;
	expect_refused(&s, "interfaces");
	base(&s);
	s.dns_port = 0;
	s.proxy_port = 0;
	expect_refused(&s, "nothing to allow");
}

static void test_buffer_too_small(void **state)
{
	char text[PROTECT_TEXT_MAX];
	struct protect_spec s;
	struct diag d = {""};
	(void)state;

	base(&s);
	int n = render(&s, text, sizeof(text));
	assert_int_equal(ruleset_protect_render(&s, text, (size_t)n, &d), -ENOBUFS);
	assert_non_null(strstr(d.msg, "does not fit"));
	assert_int_equal(ruleset_protect_render(&s, text, 0, &d), -ENOBUFS);
	assert_int_equal(ruleset_protect_render(&s, text, (size_t)n + 1, &d), n);
}

static void test_table_name_and_removal(void **state)
{
	char t[PROTECT_TABLE_MAX], text[256];
	struct diag d = {""};
	(void)state;

	assert_int_equal(protect_table_name(ID, t, sizeof(t)), 0);
	assert_string_equal(t, "airlock_protect_9c2691c11c82");
	assert_int_equal(protect_table_name("9c2691c11c8", t, sizeof(t)), -EINVAL);
	assert_int_equal(protect_table_name("9C2691C11C82aaaa", t, sizeof(t)), -EINVAL);
	assert_int_equal(protect_table_name(ID, t, 10), -ENOBUFS);

	int n = ruleset_protect_render_remove("airlock_protect_9c2691c11c82", true, text,
	                                      sizeof(text), &d);
	assert_true(n > 0);
	assert_string_equal(text, "add table bridge airlock_protect_9c2691c11c82\n"
	                          "delete table bridge airlock_protect_9c2691c11c82\n"
	                          "add table inet airlock_protect_9c2691c11c82\n"
	                          "delete table inet airlock_protect_9c2691c11c82\n");
	n = ruleset_protect_render_remove("airlock_protect_9c2691c11c82", false, text, sizeof(text),
	                                  &d);
	assert_null(strstr(text, "bridge"));
	assert_int_equal(ruleset_protect_render_remove("airlock; flush ruleset", true, text,
	                                               sizeof(text), &d),
	                 -EINVAL);
	assert_int_equal(
	        ruleset_protect_render_remove("airlock_protect_9c2691c11c82", true, text, 20, &d),
	        -ENOBUFS);
}

/* ---- the text in a kernel ----
 *
 * A forked child makes a user and network namespace of its own, applies
 * the text twice and lists the tables; then removes them.  It reports one
 * message through a pipe and its exit status. */

enum { NS_OK, NS_FAIL, NS_SKIP };

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

static int list_tables(char *out, size_t size, char *msg, size_t msize)
{
	struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!c)
		return snprintf(msg, msize, "nft_ctx_new failed"), NS_FAIL;
	nft_ctx_buffer_output(c);
	nft_ctx_buffer_error(c);
	int r = nft_run_cmd_from_buffer(c, "list tables");
	if (r != 0)
		snprintf(msg, msize, "list tables: %s", nft_ctx_get_error_buffer(c));
	else
		snprintf(out, size, "%s", nft_ctx_get_output_buffer(c));
	nft_ctx_free(c);
	return r ? NS_FAIL : NS_OK;
}

static int in_namespace(const char *text, const char *removal, bool bridge, char *msg, size_t msize)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct diag d = {""};
	char tables[4096];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		return snprintf(msg, msize, "unshare: %s", strerror(errno)), NS_SKIP;
	if (map_ids(uid, gid) < 0)
		return snprintf(msg, msize, "cannot map ids"), NS_SKIP;
	for (int round = 0; round < 2; round++) {
		int e = nftables_apply(text, &d);
		if (e == -EOPNOTSUPP || e == -EPERM)
			return snprintf(msg, msize, "nftables here: %s", d.msg), NS_SKIP;
		if (e < 0)
			return snprintf(msg, msize, "apply %d: %s", round + 1, d.msg), NS_FAIL;
	}
	if (list_tables(tables, sizeof(tables), msg, msize) != NS_OK)
		return NS_FAIL;
	int want_bridge = bridge ? 1 : 0;
	if (count_of(tables, "table inet airlock_protect_9c2691c11c82\n") != 1 ||
	    count_of(tables, "table bridge airlock_protect_9c2691c11c82\n") != want_bridge ||
	    count_of(tables, "table ") != 1 + want_bridge)
		return snprintf(msg, msize, "after two applies: %.900s", tables), NS_FAIL;
	for (int round = 0; round < 2; round++)
		if (nftables_apply(removal, &d) < 0)
			return snprintf(msg, msize, "removal %d: %s", round + 1, d.msg), NS_FAIL;
	if (list_tables(tables, sizeof(tables), msg, msize) != NS_OK)
		return NS_FAIL;
	if (count_of(tables, "table ") != 0)
		return snprintf(msg, msize, "after the removal: %.900s", tables), NS_FAIL;
	return NS_OK;
}

static void in_kernel(const struct golden *g)
{
	char text[PROTECT_TEXT_MAX], removal[256], msg[1024] = "";
	struct protect_spec s;
	struct diag d;
	int fds[2];

	g->make(&s);
	render(&s, text, sizeof(text));
	assert_true(ruleset_protect_render_remove(s.table, true, removal, sizeof(removal), &d) > 0);
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		int r = in_namespace(text, removal, s.bridge_family, msg, sizeof(msg));
		(void)!write(fds[1], msg, strlen(msg));
		_exit(r);
	}
	close(fds[1]);
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
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == NS_SKIP) {
		print_message("%s in a namespace, skipped: %s\n", g->file, msg);
		skip();
	}
	if (WEXITSTATUS(status) != NS_OK)
		fail_msg("%s in a namespace: %s", g->file, msg);
}

static void test_kernel_full(void **state)
{
	(void)state;
	in_kernel(&goldens[0]);
}

static void test_kernel_no_bridge(void **state)
{
	(void)state;
	in_kernel(&goldens[1]);
}

static void test_kernel_two_links_ipv6(void **state)
{
	(void)state;
	in_kernel(&goldens[2]);
}

static void test_kernel_ipv6_gateway(void **state)
{
	(void)state;
	in_kernel(&goldens[3]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_goldens),
	        cmocka_unit_test(test_full_says),
	        cmocka_unit_test(test_no_dns_no_redirect),
	        cmocka_unit_test(test_no_veth_no_bridge_table),
	        cmocka_unit_test(test_refuses),
	        cmocka_unit_test(test_buffer_too_small),
	        cmocka_unit_test(test_table_name_and_removal),
	        cmocka_unit_test(test_kernel_full),
	        cmocka_unit_test(test_kernel_no_bridge),
	        cmocka_unit_test(test_kernel_two_links_ipv6),
	        cmocka_unit_test(test_kernel_ipv6_gateway),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
