/* passage.c - the internal bridge's host rules (see passage.h). */
#include "docker/passage.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "docker/veth.h"
#include "enforce/iptables.h"
#include "util/macros.h"

/* The iptables variants, in the order tried: the machine's choice first. */
static const char *const variants[] = {"", "-nft", "-legacy"};

enum rule_id { FROM_SUBNET, REPLIES, INPUT4, INPUT6, N_RULES };

#define RULE_WORDS 24

/* argv for `OP` (-C, -I, -D) of rule `id` with tool variant `variant`. */
struct argv_buf {
	char tool[32], comment[128];
	char *argv[RULE_WORDS];
};

static void rule_argv(struct argv_buf *b, enum rule_id id, const char *variant, const char *op,
                      const struct passage *p)
{
	size_t n = 0;
	/* posix_spawn's argv is not const; nothing writes to it. */
#define W(s) (b->argv[n++] = (char *)(s))
	snprintf(b->tool, sizeof(b->tool), "%s%s", id == INPUT6 ? "ip6tables" : "iptables",
	         variant);
	W(b->tool);
	W("-w");
	W("5");
	W(op);
	if (id == FROM_SUBNET || id == REPLIES) {
		snprintf(b->comment, sizeof(b->comment),
		         "airlock %s: the workload reaches its gateway", p->sandbox);
		W("DOCKER-USER");
		W("-i");
		W(p->bridge);
		W("-o");
		W(p->bridge);
		W(id == FROM_SUBNET ? "-s" : "-d");
		W(p->subnet);
		if (id == REPLIES) {
			W("-m");
			W("conntrack");
			W("--ctstate");
			W("ESTABLISHED,RELATED");
		}
	} else {
		snprintf(b->comment, sizeof(b->comment), "airlock %s: nothing for the host",
		         p->sandbox);
		W("INPUT");
		W("-i");
		W(p->bridge);
	}
	W("-m");
	W("comment");
	W("--comment");
	W(b->comment);
	W("-j");
	W(id == INPUT4 || id == INPUT6 ? "DROP" : "ACCEPT");
#undef W
	b->argv[n] = NULL;
}

/* Run one operation on one rule: the tool's exit status, or -errno. */
static int rule_op(enum rule_id id, const char *variant, const char *op, const struct passage *p,
                   char *err, size_t err_size)
{
	struct argv_buf b;
	char out[256];
	rule_argv(&b, id, variant, op, p);
	return iptables_exec(b.argv, NULL, out, sizeof(out), err, err_size);
}

/* The variant whose iptables holds Docker's chain, or NULL with `d`
 * saying why. */
static const char *docker_variant(struct diag *d)
{
	char tool[32], out[256], err[256] = "";
	for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
		snprintf(tool, sizeof(tool), "iptables%s", variants[i]);
		char *argv[] = {tool,         (char *)"-w",          (char *)"5",
		                (char *)"-S", (char *)"DOCKER-USER", NULL};
		if (iptables_exec(argv, NULL, out, sizeof(out), err, sizeof(err)) == 0)
			return variants[i];
	}
	diag_fail(d, -ENOENT,
	          "no iptables holds Docker's DOCKER-USER chain%s%s (is Docker's iptables "
	          "integration off?)",
	          err[0] ? ": " : "", err);
	return NULL;
}

/* Whether bridge-nf-call-iptables is on in the current namespace (a
 * missing file: br_netfilter is not loaded, so it is off). */
static bool br_netfilter_on(void)
{
	char buf[8] = "";
	int fd = open("/proc/sys/net/bridge/bridge-nf-call-iptables", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && buf[0] == '1';
}

/* Enter the namespace holding the bridge (pid's parent's, else ours);
 * *ret_saved is -1 when we stayed. */
static int enter_bridge_ns(pid_t pid, const char *bridge, int *ret_saved, struct diag *d)
{
	pid_t parent = pid > 0 ? proc_parent(pid) : -1;
	_cleanup_close_ int ns = parent > 0 ? netns_open_pid(parent, NULL) : -1;
	*ret_saved = -1;
	if (ns >= 0) {
		int e = netns_enter(ns, ret_saved, d);
		if (e < 0)
			return e;
		if (if_nametoindex(bridge) > 0)
			return 0;
		netns_leave(*ret_saved);
		*ret_saved = -1;
	}
	if (if_nametoindex(bridge) > 0)
		return 0;
	return diag_fail(d, -ENODEV,
	                 "bridge %s is in neither the daemon's network namespace nor ours", bridge);
}

/* Whether ip6tables of this variant works here (a host with IPv6 off has
 * nothing for the IPv6 rule to guard). */
static bool ip6tables_usable(const char *variant)
{
	char tool[32], out[256], err[256];
	snprintf(tool, sizeof(tool), "ip6tables%s", variant);
	char *argv[] = {tool, (char *)"-w", (char *)"5", (char *)"-S", (char *)"INPUT", NULL};
	return iptables_exec(argv, NULL, out, sizeof(out), err, sizeof(err)) == 0;
}

/* The rules that apply here: the DOCKER-USER pair only with br_netfilter,
 * the IPv6 one only where ip6tables works. */
static bool wanted(enum rule_id id, bool brnf, bool ipv6)
{
	return id == INPUT4 || (id == INPUT6 && ipv6) || (id != INPUT6 && brnf);
}

/* Check every rule that belongs here and, with `add`, insert those
 * missing: how many were missing. */
static int ensure_here(const struct passage *p, bool add, struct diag *d)
{
	char err[256];
	const char *variant = docker_variant(d);
	if (!variant)
		return -ENOENT;
	bool brnf = br_netfilter_on(), ipv6 = ip6tables_usable(variant);
	int added = 0;
	for (enum rule_id id = 0; id < N_RULES; id++) {
		if (!wanted(id, brnf, ipv6) || rule_op(id, variant, "-C", p, err, sizeof(err)) == 0)
			continue;
		if (!add) {
			added++;
			continue;
		}
		int r = rule_op(id, variant, "-I", p, err, sizeof(err));
		if (r != 0)
			return diag_fail(d, r < 0 ? r : -EIO, "%s%s -I failed: %s",
			                 id == INPUT6 ? "ip6tables" : "iptables", variant,
			                 err[0] ? err : "it printed nothing");
		added++;
	}
	return added;
}

static int ensure(pid_t pid, const struct passage *p, bool add, struct diag *d)
{
	int saved, r;

	if (geteuid() != 0)
		return diag_fail(d, -EPERM, "the host's rules for the internal bridge need root");
	if ((r = enter_bridge_ns(pid, p->bridge, &saved, d)) < 0)
		return r;
	r = ensure_here(p, add, d);
	if (saved >= 0)
		netns_leave(saved);
	return r;
}

int passage_ensure(pid_t pid, const struct passage *p, struct diag *d)
{
	return ensure(pid, p, true, d);
}

int passage_missing(pid_t pid, const struct passage *p, struct diag *d)
{
	return ensure(pid, p, false, d);
}

static int remove_here(const struct passage *p, struct diag *d)
{
	char err[256];
	const char *variant = docker_variant(NULL);
	if (!variant)
		return 0; /* no DOCKER-USER: none were made */
	int r = 0;
	for (enum rule_id id = 0; id < N_RULES; id++)
		/* -D removes one copy; there is one, unless a crash left two. */
		for (int i = 0; i < 8 && rule_op(id, variant, "-C", p, err, sizeof(err)) == 0; i++)
			if (rule_op(id, variant, "-D", p, err, sizeof(err)) != 0) {
				r = diag_fail(d, -EIO, "%s%s -D failed: %s",
				              id == INPUT6 ? "ip6tables" : "iptables", variant,
				              err[0] ? err : "it printed nothing");
				break;
			}
	return r;
}

int passage_remove(pid_t pid, const struct passage *p, struct diag *d)
{
	int saved;

	if (geteuid() != 0 || enter_bridge_ns(pid, p->bridge, &saved, NULL) < 0)
		return 0; /* only root makes them; a bridge gone leaves rules matching nothing */
	int r = remove_here(p, d);
	if (saved >= 0)
		netns_leave(saved);
	return r;
}
