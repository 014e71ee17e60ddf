/* ruleset.c - the sandbox's nftables ruleset as text (see ruleset.h). */
#include "enforce/ruleset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const counter_names[RULESET_N_COUNTERS] = {
        [RULESET_DROPPED_TCP] = "dropped_tcp",
        [RULESET_DROPPED_UDP] = "dropped_udp",
        [RULESET_DROPPED_ICMP] = "dropped_icmp",
        [RULESET_DROPPED_OTHER] = "dropped_other",
};

const char *ruleset_counter_name(enum ruleset_counter c)
{
	return (unsigned)c < RULESET_N_COUNTERS ? counter_names[c] : NULL;
}

/* Protocols are written as numbers (6 tcp, 17 udp, 1 icmp, 58 ipv6-icmp):
 * nftables resolves their names through /etc/protocols, which slim
 * container images do not have.  `nft list` shows them by name.
 *
 * Text appended to a fixed buffer; `failed` once anything did not fit. */
struct out {
	char *buf;
	size_t size, len;
	bool failed;
};

_printf_(2, 3) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	if (o->failed)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->failed = true;
		return;
	}
	o->len += (size_t)n;
}

static void put_refusals(struct out *o, int nflog_group);
static void put_tail(struct out *o);
static int finish(struct out *o, size_t size, struct diag *d);
static void put_head(struct out *o);

int ruleset_render_sandbox(const struct ruleset_spec *s, char *buf, size_t size, struct diag *d)
{
	struct out o = {buf, size, 0, size == 0};

	if (s->nflog_group < -1 || s->nflog_group > 65535)
		return diag_fail(d, -EINVAL, "NFLOG group %d: expected 0 to 65535", s->nflog_group);
	put_head(&o);

	put(&o, "\n\t# Where flows go: DNS and TCP to the gateway's listeners on loopback.\n");
	put(&o, "\tchain redirect_out {\n"
	        "\t\ttype nat hook output priority -100; policy accept;\n");
	if (s->dns_port) {
		/* Every port-53 packet, whatever its destination: a program
		 * with its own resolver (or 127.0.0.53) still asks the gateway. */
		put(&o,
		    "\t\tmeta nfproto ipv4 meta l4proto { 6, 17 } th dport 53 redirect to :%u\n",
		    s->dns_port);
		if (s->ipv6)
			put(&o,
			    "\t\tmeta nfproto ipv6 meta l4proto { 6, 17 } th dport 53 redirect "
			    "to "
			    ":%u\n",
			    s->dns_port);
	}
	if (s->transparent_port) {
		put(&o, "\t\tip daddr != 127.0.0.0/8 meta l4proto 6 redirect to :%u\n",
		    s->transparent_port);
		if (s->ipv6)
			put(&o, "\t\tip6 daddr != ::1 meta l4proto 6 redirect to :%u\n",
			    s->transparent_port);
	}
	put(&o, "\t}\n");

	put(&o, "\n\t# What leaves: loopback only; the rest is counted, logged and dropped.\n");
	put(&o, "\tchain filter_out {\n"
	        "\t\ttype filter hook output priority filter; policy drop;\n"
	        "\t\tip daddr 127.0.0.0/8 accept\n"
	        "\t\tip6 daddr ::1 accept\n");
	put_refusals(&o, s->nflog_group);
	put_tail(&o);
	return finish(&o, size, d);
}

/* The head every ruleset shares: the atomic replacement and the counters. */
static void put_head(struct out *o)
{
	/* Create-then-delete makes the replacement atomic and idempotent: the
	 * delete never fails, and the new table comes in the same transaction. */
	put(o, "add table inet " RULESET_TABLE "\n");
	put(o, "delete table inet " RULESET_TABLE "\n");
	put(o, "table inet " RULESET_TABLE " {\n");
	for (int c = 0; c < RULESET_N_COUNTERS; c++)
		put(o, "\tcounter %s { }\n", counter_names[c]);
}

/* The end of the filter chain (every protocol counted, then refused) and
 * the refuse chain. */
static void put_refusals(struct out *o, int nflog_group)
{
	put(o,
	    "\t\tmeta l4proto 6 counter name %s jump refuse\n"
	    "\t\tmeta l4proto 17 counter name %s jump refuse\n"
	    "\t\tmeta l4proto { 1, 58 } counter name %s jump refuse\n"
	    "\t\tcounter name %s jump refuse\n"
	    "\t}\n",
	    counter_names[RULESET_DROPPED_TCP], counter_names[RULESET_DROPPED_UDP],
	    counter_names[RULESET_DROPPED_ICMP], counter_names[RULESET_DROPPED_OTHER]);
	put(o, "\n\tchain refuse {\n");
	if (nflog_group >= 0)
		put(o, "\t\tlimit rate %d/second burst %d packets log group %d\n", RULESET_LOG_RATE,
		    RULESET_LOG_RATE * 2, nflog_group);
	put(o, "\t\tdrop\n"
	       "\t}\n");
}

static void put_tail(struct out *o)
{
	put(o, "}\n");
}

static int finish(struct out *o, size_t size, struct diag *d)
{
	if (o->failed)
		return diag_fail(d, -ENOBUFS, "the nftables ruleset does not fit in %zu bytes",
		                 size);
	return (int)o->len;
}

static int check_nets(const struct ruleset_net *nets, size_t n, const char *what, struct diag *d)
{
	if (n > RULESET_MAX_NETS)
		return diag_fail(d, -EINVAL, "more than %d %ss", RULESET_MAX_NETS, what);
	for (size_t i = 0; i < n; i++)
		if ((nets[i].family != 4 && nets[i].family != 6) ||
		    nets[i].prefix > (nets[i].family == 4 ? 32 : 128))
			return diag_fail(d, -EINVAL, "%s %zu is not an address range", what, i + 1);
	return 0;
}

static bool has_family(const struct ruleset_net *nets, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (nets[i].family == family)
			return true;
	return false;
}

/* "ip daddr { 10.0.0.0/8, 172.16.0.0/12 } " for the ranges of one family
 * (the caller checked there is one), then `tail`. */
static void put_match(struct out *o, const struct ruleset_net *nets, size_t n, int family,
                      const char *tail)
{
	bool first = true;
	put(o, "\t\t%s daddr { ", family == 4 ? "ip" : "ip6");
	for (size_t i = 0; i < n; i++) {
		char text[INET6_ADDRSTRLEN];
		if (nets[i].family != family)
			continue;
		inet_ntop(family == 4 ? AF_INET : AF_INET6, nets[i].addr, text, sizeof(text));
		put(o, "%s%s/%u", first ? "" : ", ", text, nets[i].prefix);
		first = false;
	}
	put(o, " } %s\n", tail);
}

int ruleset_render_inplace(const struct ruleset_inplace_spec *s, char *buf, size_t size,
                           struct diag *d)
{
	struct out o = {buf, size, 0, size == 0};
	int e;

	if (s->nflog_group < -1 || s->nflog_group > 65535)
		return diag_fail(d, -EINVAL, "NFLOG group %d: expected 0 to 65535", s->nflog_group);
	if ((e = check_nets(s->direct, s->n_direct, "direct network", d)) < 0 ||
	    (e = check_nets(s->resolvers, s->n_resolvers, "resolver", d)) < 0)
		return e;
	put_head(&o);

	put(&o, "\n\t# Where flows go: the gateway's own and the direct networks' as they\n"
	        "\t# are, DNS and TCP to the gateway's listeners on loopback.  Before any\n"
	        "\t# other nat chain: the first NAT decision is the one that holds.\n");
	put(&o,
	    "\tchain redirect_out {\n"
	    "\t\ttype nat hook output priority -110; policy accept;\n"
	    "\t\tmeta skuid %u return\n",
	    s->gateway_uid);
	for (int fam = 4; fam <= 6; fam += 2) {
		if (has_family(s->direct, s->n_direct, fam))
			put_match(&o, s->direct, s->n_direct, fam, "return");
		/* Without a DNS listener, DNS over TCP to the resolvers must
		 * reach them as UDP does (filter_out accepts both), not the
		 * transparent listener: a flow without a name, which it
		 * refuses unless a CIDR rule allows the resolver. */
		if (!s->dns_port && has_family(s->resolvers, s->n_resolvers, fam))
			put_match(&o, s->resolvers, s->n_resolvers, fam, "tcp dport 53 return");
	}
	if (s->dns_port)
		put(&o, "\t\tmeta l4proto { 6, 17 } th dport 53 redirect to :%u\n", s->dns_port);
	if (s->transparent_port) {
		put(&o, "\t\tip daddr != 127.0.0.0/8 meta l4proto 6 redirect to :%u\n",
		    s->transparent_port);
		if (s->ipv6)
			put(&o, "\t\tip6 daddr != ::1 meta l4proto 6 redirect to :%u\n",
			    s->transparent_port);
	}
	put(&o, "\t}\n");

	put(&o, "\n\t# What leaves: what the gateway sends and serves, and the exceptions.\n");
	/* IPv6 needs neighbour discovery and multicast listener reports on the
	 * link (hop limit 255 and link-local scope: they reach neighbours only). */
	put(&o,
	    "\tchain filter_out {\n"
	    "\t\ttype filter hook output priority filter; policy drop;\n"
	    "\t\tct state established,related accept\n"
	    "\t\tmeta skuid %u accept\n"
	    "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } "
	    "ip6 hoplimit 255 accept\n"
	    "\t\ticmpv6 type mld2-listener-report ip6 daddr ff02::16 accept\n",
	    s->gateway_uid);
	if (s->allow_localhost) {
		put(&o, "\t\tip daddr 127.0.0.0/8 accept\n"
		        "\t\tip6 daddr ::1 accept\n");
	} else {
		/* The gateway's listeners only: where redirected flows go. */
		char ports[64] = "";
		size_t n = 0;
		const uint16_t list[] = {s->dns_port, s->proxy_port, s->transparent_port};
		for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
			if (list[i])
				n += (size_t)snprintf(ports + n, sizeof(ports) - n, "%s%u",
				                      n ? ", " : "", list[i]);
		if (n)
			put(&o,
			    "\t\tip daddr 127.0.0.0/8 tcp dport { %s } accept\n"
			    "\t\tip6 daddr ::1 tcp dport { %s } accept\n",
			    ports, ports);
		if (s->dns_port)
			put(&o,
			    "\t\tip daddr 127.0.0.0/8 udp dport %u accept\n"
			    "\t\tip6 daddr ::1 udp dport %u accept\n",
			    s->dns_port, s->dns_port);
	}
	for (int fam = 4; fam <= 6; fam += 2) {
		if (has_family(s->direct, s->n_direct, fam))
			put_match(&o, s->direct, s->n_direct, fam, "accept");
		if (!s->dns_port && has_family(s->resolvers, s->n_resolvers, fam))
			put_match(&o, s->resolvers, s->n_resolvers, fam,
			          "meta l4proto { 6, 17 } th dport 53 accept");
	}
	put_refusals(&o, s->nflog_group);
	put_tail(&o);
	return finish(&o, size, d);
}

/* An interface name as nftables is given it, between quotes. */
static bool plain_ifname(const char *name)
{
	size_t n = strnlen(name, 16);
	if (n == 0 || n >= 16)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum =
		        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && c != '.' && c != '-' && c != '_')
			return false;
	}
	return true;
}

int ruleset_render_router(const struct ruleset_router_spec *s, char *buf, size_t size,
                          struct diag *d)
{
	struct out o = {buf, size, 0, size == 0};
	char gw[INET_ADDRSTRLEN];

	if (s->nflog_group < -1 || s->nflog_group > 65535)
		return diag_fail(d, -EINVAL, "NFLOG group %d: expected 0 to 65535", s->nflog_group);
	if (!plain_ifname(s->ifname))
		return diag_fail(d, -EINVAL, "interface name '%.16s' is not one", s->ifname);
	if (!s->transparent_port)
		return diag_fail(d, -EINVAL, "a router needs a transparent listener");
	static const uint8_t none[4];
	if (memcmp(s->gateway_addr, none, 4) == 0)
		return diag_fail(d, -EINVAL, "a router needs the gateway's address");
	if (s->prefix < 8 || s->prefix > 30)
		return diag_fail(d, -EINVAL, "network prefix /%u: expected 8 to 30", s->prefix);
	uint32_t mask = ~0u << (32 - s->prefix),
	         host = (uint32_t)s->gateway_addr[0] << 24 | (uint32_t)s->gateway_addr[1] << 16 |
	                (uint32_t)s->gateway_addr[2] << 8 | s->gateway_addr[3];
	uint32_t net = htonl(host & mask);
	char subnet[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &net, subnet, sizeof(subnet));
	inet_ntop(AF_INET, s->gateway_addr, gw, sizeof(gw));
	put_head(&o);

	put(&o, "\n\t# Where the sandbox's flows go: DNS and TCP to the gateway's listeners.\n");
	put(&o, "\tchain redirect_in {\n"
	        "\t\ttype nat hook prerouting priority -110; policy accept;\n");
	if (s->dns_port)
		put(&o,
		    "\t\tiifname \"%s\" meta nfproto ipv4 meta l4proto { 6, 17 } th dport 53 "
		    "dnat ip to %s:%u\n",
		    s->ifname, gw, s->dns_port);
	put(&o, "\t\tiifname \"%s\" ip daddr != %s meta l4proto 6 dnat ip to %s:%u\n", s->ifname,
	    gw, gw, s->transparent_port);
	put(&o, "\t}\n");

	put(&o, "\n\t# What the sandbox sends: a forged source is refused first (the answer\n"
	        "\t# would go out to whoever it names); TCP and DNS go on; the rest is\n"
	        "\t# counted, logged and dropped before routing sees it.\n");
	put(&o,
	    "\tchain filter_in {\n"
	    "\t\ttype filter hook prerouting priority -150; policy accept;\n"
	    "\t\tiifname != \"%s\" accept\n"
	    "\t\tip saddr != %s/%u jump refuse\n"
	    "\t\tct state invalid drop\n"
	    "\t\tmeta nfproto ipv4 meta l4proto 6 accept\n",
	    s->ifname, subnet, s->prefix);
	if (s->dns_port)
		put(&o, "\t\tmeta nfproto ipv4 udp dport 53 accept\n");
	put(&o, "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, "
	        "mld-listener-report, mld2-listener-report } drop\n");
	put_refusals(&o, s->nflog_group);
	put(&o, "\n\t# Never a router for real: nothing is forwarded, whatever the sysctl says.\n");
	put(&o, "\tchain forward {\n"
	        "\t\ttype filter hook forward priority -150; policy drop;\n"
	        "\t}\n");
	put_tail(&o);
	return finish(&o, size, d);
}

const char *ruleset_remove_text(void)
{
	return "add table inet " RULESET_TABLE "\ndelete table inet " RULESET_TABLE "\n";
}
