/* ruleset_protect.c - the rules of `airlock docker protect` as text (see
 * ruleset_protect.h).  Every field is checked before it is written: the
 * names come from the kernel and Docker, but the text is a program for
 * nftables, and a quote in an interface name would change it. */
#include "enforce/ruleset_protect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int protect_table_name(const char *id, char *out, size_t size)
{
	for (size_t i = 0; i < 12; i++)
		if (!is_hex(id[i]))
			return -EINVAL;
	if (snprintf(out, size, PROTECT_TABLE_PREFIX "%.12s", id) >= (int)size)
		return -ENOBUFS;
	return 0;
}

static bool valid_table(const char *t)
{
	size_t p = strlen(PROTECT_TABLE_PREFIX);
	if (strncmp(t, PROTECT_TABLE_PREFIX, p) != 0 || strlen(t) != p + 12)
		return false;
	for (size_t i = p; t[i]; i++)
		if (!is_hex(t[i]))
			return false;
	return true;
}

/* Interface names as Docker makes them (vethXXXX, br-XXXX, docker0) and
 * most others: nothing that could end the quoted string. */
static bool valid_ifname(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len >= PROTECT_IFNAME_MAX)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_.-@", *p)))
			return false;
	return true;
}

static bool valid_name(const char *n)
{
	if (!*n)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_.-", *p)))
			return false;
	return true;
}

static bool valid_mac(const char *m)
{
	if (strlen(m) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? m[i] != ':' : !is_hex(m[i]))
			return false;
	return true;
}

static bool valid_addr(int family, const char *a)
{
	unsigned char buf[16];
	return *a && inet_pton(family, a, buf) == 1;
}

static int check_spec(const struct protect_spec *s, int *ret_family, struct diag *d)
{
	if (!valid_table(s->table))
		return diag_fail(d, -EINVAL, "table name '%.32s': expected %s and 12 hex digits",
		                 s->table, PROTECT_TABLE_PREFIX);
	if (!valid_name(s->container))
		return diag_fail(d, -EINVAL, "container name '%.64s': expected [A-Za-z0-9_.-]",
		                 s->container);
	if (s->n_links == 0 || s->n_links > PROTECT_MAX_LINKS)
		return diag_fail(d, -EINVAL, "%zu interfaces: expected 1 to %d", s->n_links,
		                 PROTECT_MAX_LINKS);
	if (valid_addr(AF_INET, s->gateway))
		*ret_family = AF_INET;
	else if (valid_addr(AF_INET6, s->gateway))
		*ret_family = AF_INET6;
	else
		return diag_fail(d, -EINVAL, "gateway '%.46s': expected an IPv4 or IPv6 address",
		                 s->gateway);
	if (s->dns_port == 0 && s->proxy_port == 0)
		return diag_fail(d, -EINVAL, "neither a DNS nor a proxy port: nothing to allow");
	for (size_t i = 0; i < s->n_links; i++) {
		const struct protect_link *l = &s->links[i];
		if (l->veth[0] && !valid_ifname(l->veth))
			return diag_fail(d, -EINVAL, "interface %zu: veth name '%.16s'", i,
			                 l->veth);
		if (!valid_ifname(l->bridge))
			return diag_fail(d, -EINVAL, "interface %zu: bridge name '%.16s'", i,
			                 l->bridge);
		if (!valid_mac(l->mac))
			return diag_fail(d, -EINVAL,
			                 "interface %zu: MAC '%.18s': expected "
			                 "xx:xx:xx:xx:xx:xx in lower case",
			                 i, l->mac);
		if (l->ipv4[0] && !valid_addr(AF_INET, l->ipv4))
			return diag_fail(d, -EINVAL, "interface %zu: IPv4 address '%.16s'", i,
			                 l->ipv4);
		if (l->ipv6[0] && !valid_addr(AF_INET6, l->ipv6))
			return diag_fail(d, -EINVAL, "interface %zu: IPv6 address '%.46s'", i,
			                 l->ipv6);
		if (!l->ipv4[0] && !l->ipv6[0])
			return diag_fail(d, -EINVAL, "interface %zu: no address", i);
	}
	return 0;
}

/* What the gateway accepts, as rule bodies after a match on the source:
 * "ip daddr GW udp dport 53 accept" and the TCP ports. */
static void gateway_accepts(struct out *o, const struct protect_spec *s, const char *indent,
                            const char *match)
{
	if (s->dns_port)
		put(o, "%s%sudp dport %u accept\n", indent, match, s->dns_port);
	if (s->dns_port && s->proxy_port)
		put(o, "%s%stcp dport { %u, %u } accept\n", indent, match, s->dns_port,
		    s->proxy_port);
	else
		put(o, "%s%stcp dport %u accept\n", indent, match,
		    s->dns_port ? s->dns_port : s->proxy_port);
}

static bool any_ipv6(const struct protect_spec *s)
{
	for (size_t i = 0; i < s->n_links; i++)
		if (s->links[i].ipv6[0])
			return true;
	return false;
}

static const char nd_types[] = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
                               "nd-router-solicit }";

static void render_bridge(struct out *o, const struct protect_spec *s, int family)
{
	const char *ipx = family == AF_INET ? "ip" : "ip6";
	char match[128];

	put(o, "add table bridge %s\n", s->table);
	put(o, "delete table bridge %s\n", s->table);
	put(o, "table bridge %s {\n", s->table);
	put(o, "\tcounter " PROTECT_COUNTER " { }\n");
	put(o, "\n\t# Frames from the container's own ports, whatever address they claim.\n");
	put(o, "\tchain to_host {\n"
	       "\t\ttype filter hook input priority filter; policy accept;\n");
	for (size_t i = 0; i < s->n_links; i++)
		if (s->links[i].veth[0])
			put(o, "\t\tiifname \"%s\" jump host_%zu\n", s->links[i].veth, i);
	put(o, "\t}\n");
	put(o, "\n\tchain to_bridge {\n"
	       "\t\ttype filter hook forward priority filter; policy accept;\n");
	for (size_t i = 0; i < s->n_links; i++)
		if (s->links[i].veth[0])
			put(o, "\t\tiifname \"%s\" jump bridged_%zu\n", s->links[i].veth, i);
	put(o, "\t}\n");

	for (size_t i = 0; i < s->n_links; i++) {
		const struct protect_link *l = &s->links[i];
		if (!l->veth[0])
			continue;
		put(o, "\n\t# %s on %s: %s", l->veth, l->bridge, l->mac);
		if (l->ipv4[0])
			put(o, " %s", l->ipv4);
		if (l->ipv6[0])
			put(o, " %s", l->ipv6);
		put(o, "\n");
		/* To the host: only the container's own addresses, and only the
		 * protocols it has; the inet table decides the rest. */
		put(o, "\tchain host_%zu {\n", i);
		put(o, "\t\tether saddr != %s counter name " PROTECT_COUNTER " drop\n", l->mac);
		if (l->ipv4[0]) {
			put(o, "\t\tarp saddr ip != %s counter name " PROTECT_COUNTER " drop\n",
			    l->ipv4);
			put(o, "\t\tip saddr != %s counter name " PROTECT_COUNTER " drop\n",
			    l->ipv4);
		}
		if (l->ipv6[0])
			put(o,
			    "\t\tip6 saddr != { %s, fe80::/10 } counter name " PROTECT_COUNTER
			    " drop\n",
			    l->ipv6);
		put(o, "\t\tether type != { %s } counter name " PROTECT_COUNTER " drop\n",
		    l->ipv4[0] && l->ipv6[0] ? "arp, ip, ip6"
		    : l->ipv4[0]             ? "arp, ip"
		                             : "ip6");
		put(o, "\t}\n");
		/* To other containers on the bridge: the gateway only. */
		put(o, "\n\tchain bridged_%zu {\n", i);
		put(o, "\t\tether saddr != %s counter name " PROTECT_COUNTER " drop\n", l->mac);
		if (l->ipv4[0])
			put(o, "\t\tarp saddr ip %s accept\n", l->ipv4);
		if (l->ipv6[0])
			put(o, "\t\tip6 saddr { %s, fe80::/10 } %s accept\n", l->ipv6, nd_types);
		const char *own = family == AF_INET ? l->ipv4 : l->ipv6;
		if (own[0]) {
			snprintf(match, sizeof(match), "%s saddr %s %s daddr %s ", ipx, own, ipx,
			         s->gateway);
			gateway_accepts(o, s, "\t\t", match);
		}
		put(o, "\t\tcounter name " PROTECT_COUNTER " drop\n");
		put(o, "\t}\n");
	}
	put(o, "}\n");
}

static void render_inet(struct out *o, const struct protect_spec *s, int family)
{
	const char *ipx = family == AF_INET ? "ip" : "ip6";
	char match[96];

	put(o, "add table inet %s\n", s->table);
	put(o, "delete table inet %s\n", s->table);
	put(o, "table inet %s {\n", s->table);
	put(o, "\tcounter " PROTECT_COUNTER " { }\n");
	if (s->dns_port) {
		put(o, "\n\t# DNS to any address goes to the gateway (Docker's embedded\n"
		       "\t# resolver asks from inside the container).\n");
		put(o, "\tchain dns {\n"
		       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
		for (size_t i = 0; i < s->n_links; i++) {
			const char *own = family == AF_INET ? s->links[i].ipv4 : s->links[i].ipv6;
			if (own[0])
				put(o,
				    "\t\tiifname \"%s\" %s saddr %s meta l4proto { tcp, udp } th "
				    "dport 53 dnat %s to %s%s%s:%u\n",
				    s->links[i].bridge, ipx, own, ipx,
				    family == AF_INET6 ? "[" : "", s->gateway,
				    family == AF_INET6 ? "]" : "", s->dns_port);
		}
		put(o, "\t}\n");
	}
	static const char *const hooks[] = {"forward", "input"};
	for (size_t h = 0; h < 2; h++) {
		put(o, "\n\tchain %s {\n\t\ttype filter hook %s priority filter; policy accept;\n",
		    hooks[h], hooks[h]);
		for (size_t i = 0; i < s->n_links; i++) {
			const struct protect_link *l = &s->links[i];
			if (l->ipv4[0])
				put(o, "\t\tiifname \"%s\" ip saddr %s jump from_container\n",
				    l->bridge, l->ipv4);
			if (l->ipv6[0])
				put(o, "\t\tiifname \"%s\" ip6 saddr %s jump from_container\n",
				    l->bridge, l->ipv6);
			put(o, "\t\tiifname \"%s\" ether saddr %s jump from_container\n", l->bridge,
			    l->mac);
		}
		put(o, "\t}\n");
	}
	put(o, "\n\t# Replies to connections made to the container, and the gateway.\n");
	put(o, "\tchain from_container {\n");
	put(o, "\t\tct direction reply accept\n");
	snprintf(match, sizeof(match), "%s daddr %s ", ipx, s->gateway);
	gateway_accepts(o, s, "\t\t", match);
	if (any_ipv6(s))
		put(o, "\t\t%s accept\n", nd_types);
	put(o, "\t\tcounter name " PROTECT_COUNTER " drop\n");
	put(o, "\t}\n");
	put(o, "}\n");
}

int ruleset_protect_render(const struct protect_spec *s, char *buf, size_t size, struct diag *d)
{
	struct out o = {buf, size, 0, size == 0};
	int family = AF_INET;
	int e = check_spec(s, &family, d);
	if (e < 0)
		return e;

	put(&o, "# airlock docker protect: %s may reach %s only", s->container, s->gateway);
	if (s->dns_port)
		put(&o, " (DNS %u", s->dns_port);
	if (s->proxy_port)
		put(&o, "%sproxy %u", s->dns_port ? ", " : " (", s->proxy_port);
	put(&o, ")\n");
	bool bridge = false;
	for (size_t i = 0; i < s->n_links; i++)
		bridge |= s->links[i].veth[0] != '\0';
	if (s->bridge_family && bridge)
		render_bridge(&o, s, family);
	render_inet(&o, s, family);
	if (o.failed)
		return diag_fail(d, -ENOBUFS, "the protect ruleset does not fit in %zu bytes",
		                 size);
	return (int)o.len;
}

int ruleset_protect_render_remove(const char *table, bool bridge_family, char *buf, size_t size,
                                  struct diag *d)
{
	struct out o = {buf, size, 0, size == 0};

	if (!valid_table(table))
		return diag_fail(d, -EINVAL, "table name '%.32s': expected %s and 12 hex digits",
		                 table, PROTECT_TABLE_PREFIX);
	if (bridge_family)
		put(&o, "add table bridge %s\ndelete table bridge %s\n", table, table);
	put(&o, "add table inet %s\ndelete table inet %s\n", table, table);
	if (o.failed)
		return diag_fail(d, -ENOBUFS, "the text does not fit in %zu bytes", size);
	return (int)o.len;
}
