/* ruleset.c - the sandbox's nftables ruleset as text (see ruleset.h). */
#include "enforce/ruleset.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

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

/* Text appended to a fixed buffer; `failed` once anything did not fit. */
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

int ruleset_render_sandbox(const struct ruleset_spec *s, char *buf, size_t size, struct diag *d)
{
	struct out o = {buf, size, 0, size == 0};

	if (s->nflog_group < -1 || s->nflog_group > 65535)
		return diag_fail(d, -EINVAL, "NFLOG group %d: expected 0 to 65535", s->nflog_group);

	/* Create-then-delete makes the replacement atomic and idempotent: the
	 * delete never fails, and the new table comes in the same transaction. */
	put(&o, "add table inet " RULESET_TABLE "\n");
	put(&o, "delete table inet " RULESET_TABLE "\n");
	put(&o, "table inet " RULESET_TABLE " {\n");
	for (int c = 0; c < RULESET_N_COUNTERS; c++)
		put(&o, "\tcounter %s { }\n", counter_names[c]);

	put(&o, "\n\t# Where flows go: DNS and TCP to the gateway's listeners on loopback.\n");
	put(&o, "\tchain redirect_out {\n"
	        "\t\ttype nat hook output priority -100; policy accept;\n");
	if (s->dns_port) {
		/* Every port-53 packet, whatever its destination: a program
		 * with its own resolver (or 127.0.0.53) still asks the gateway. */
		put(&o,
		    "\t\tmeta nfproto ipv4 meta l4proto { tcp, udp } th dport 53 redirect to :%u\n",
		    s->dns_port);
		if (s->ipv6)
			put(&o,
			    "\t\tmeta nfproto ipv6 meta l4proto { tcp, udp } th dport 53 redirect "
			    "to "
			    ":%u\n",
			    s->dns_port);
	}
	if (s->transparent_port) {
		put(&o, "\t\tip daddr != 127.0.0.0/8 meta l4proto tcp redirect to :%u\n",
		    s->transparent_port);
		if (s->ipv6)
			put(&o, "\t\tip6 daddr != ::1 meta l4proto tcp redirect to :%u\n",
			    s->transparent_port);
	}
	put(&o, "\t}\n");

	put(&o, "\n\t# What leaves: loopback only; the rest is counted, logged and dropped.\n");
	put(&o,
	    "\tchain filter_out {\n"
	    "\t\ttype filter hook output priority filter; policy drop;\n"
	    "\t\tip daddr 127.0.0.0/8 accept\n"
	    "\t\tip6 daddr ::1 accept\n"
	    "\t\tmeta l4proto tcp counter name %s jump refuse\n"
	    "\t\tmeta l4proto udp counter name %s jump refuse\n"
	    "\t\tmeta l4proto { icmp, ipv6-icmp } counter name %s jump refuse\n"
	    "\t\tcounter name %s jump refuse\n"
	    "\t}\n",
	    counter_names[RULESET_DROPPED_TCP], counter_names[RULESET_DROPPED_UDP],
	    counter_names[RULESET_DROPPED_ICMP], counter_names[RULESET_DROPPED_OTHER]);

	put(&o, "\n\tchain refuse {\n");
	if (s->nflog_group >= 0)
		put(&o, "\t\tlimit rate %d/second burst %d packets log group %d\n",
		    RULESET_LOG_RATE, RULESET_LOG_RATE * 2, s->nflog_group);
	put(&o, "\t\tdrop\n"
	        "\t}\n"
	        "}\n");

	if (o.failed)
		return diag_fail(d, -ENOBUFS, "the nftables ruleset does not fit in %zu bytes",
		                 size);
	return (int)o.len;
}
