#include "policy/rule.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A host part and an optional port part, split on the right colon. */
struct host_port {
	const char *host;
	size_t host_len;
	const char *port;
	size_t port_len;
	bool bracketed;
};

static int split_host_port(const char *text, size_t len, struct host_port *hp, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];

	memset(hp, 0, sizeof(*hp));
	if (text[0] == '[') {
		const char *close = memchr(text, ']', len);
		if (!close)
			return diag_fail(d, -EINVAL, "'%s': '[' without a closing ']'",
			                 diag_escape(text, len, esc, sizeof(esc)));
		hp->bracketed = true;
		hp->host = text + 1;
		hp->host_len = (size_t)(close - text) - 1;
		size_t rest = len - (size_t)(close - text) - 1;
		if (rest > 0) {
			if (close[1] != ':' || rest == 1)
				return diag_fail(d, -EINVAL, "'%s': expected ':PORT' after ']'",
				                 diag_escape(text, len, esc, sizeof(esc)));
			hp->port = close + 2;
			hp->port_len = rest - 1;
		}
		return 0;
	}

	const char *first = memchr(text, ':', len);
	const char *last = memrchr(text, ':', len);
	hp->host = text;
	hp->host_len = len;
	if (first && first == last) {
		hp->host_len = (size_t)(first - text);
		hp->port = first + 1;
		hp->port_len = len - hp->host_len - 1;
		if (hp->port_len == 0)
			return diag_fail(d, -EINVAL, "'%s': empty port after ':'",
			                 diag_escape(text, len, esc, sizeof(esc)));
	}
	/* Several colons and no brackets: an IPv6 address without a port. */
	return 0;
}

static int parse_port(const char *s, size_t len, uint16_t *ret, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	unsigned long v = 0;

	if (len == 0 || len > 5)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		goto bad;
	*ret = (uint16_t)v;
	return 0;
bad:
	return diag_fail(d, -EINVAL, "'%s' is not a port (1-65535)",
	                 diag_escape(s, len, esc, sizeof(esc)));
}

static int parse_port_range(const char *s, size_t len, struct port_range *ret, struct diag *d)
{
	const char *dash = memchr(s, '-', len);
	int r;

	if (!dash) {
		r = parse_port(s, len, &ret->lo, d);
		ret->hi = ret->lo;
		return r;
	}
	r = parse_port(s, (size_t)(dash - s), &ret->lo, d);
	if (r < 0)
		return r;
	r = parse_port(dash + 1, len - (size_t)(dash - s) - 1, &ret->hi, d);
	if (r < 0)
		return r;
	if (ret->lo > ret->hi)
		return diag_fail(d, -EINVAL, "port range %u-%u runs backwards; write %u-%u",
		                 ret->lo, ret->hi, ret->hi, ret->lo);
	return 0;
}

/* Parse an address (no prefix) of either family into `out`; returns 4, 6 or 0. */
static uint8_t parse_addr(const char *s, size_t len, uint8_t out[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, 16);
	if (inet_pton(AF_INET, buf, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, buf, out) == 1)
		return 6;
	return 0;
}

void ip_mask(uint8_t family, const uint8_t *addr, unsigned bits, uint8_t out[16])
{
	unsigned bytes = family == 4 ? 4 : 16;

	memset(out, 0, 16);
	for (unsigned i = 0; i < bytes && bits > 0; i++) {
		unsigned take = bits >= 8 ? 8 : bits;
		out[i] = (uint8_t)(addr[i] & (0xffu << (8 - take)));
		bits -= take;
	}
}

static int parse_cidr(const char *s, size_t len, struct ip_prefix *ret, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	char net[INET6_ADDRSTRLEN];
	const char *slash = memchr(s, '/', len);
	size_t addr_len = slash ? (size_t)(slash - s) : len;
	uint8_t addr[16];

	ret->family = parse_addr(s, addr_len, addr);
	if (!ret->family)
		return diag_fail(d, -EINVAL, "'%s' is not an IPv4 or IPv6 address",
		                 diag_escape(s, addr_len, esc, sizeof(esc)));
	unsigned max = ret->family == 4 ? 32 : 128;
	unsigned bits = max;
	if (slash) {
		size_t n = len - addr_len - 1;
		if (n == 0 || n > 3)
			goto bad_len;
		bits = 0;
		for (size_t i = 0; i < n; i++) {
			if (slash[1 + i] < '0' || slash[1 + i] > '9')
				goto bad_len;
			bits = bits * 10 + (unsigned)(slash[1 + i] - '0');
		}
		if (bits > max)
			goto bad_len;
	}
	ret->len = (uint8_t)bits;
	ip_mask(ret->family, addr, bits, ret->addr);
	if (memcmp(ret->addr, addr, 16) != 0) {
		inet_ntop(ret->family == 4 ? AF_INET : AF_INET6, ret->addr, net, sizeof(net));
		return diag_fail(d, -EINVAL, "'%s' has host bits set; did you mean %s/%u?",
		                 diag_escape(s, len, esc, sizeof(esc)), net, bits);
	}
	return 0;
bad_len:
	return diag_fail(d, -EINVAL, "'%s': prefix length must be 0-%u",
	                 diag_escape(s, len, esc, sizeof(esc)), max);
}

static bool looks_like_address(const char *s, size_t len)
{
	/* Digits, dots, hex and colons only, with a colon or all-digit dotted form:
	 * worth an address parse and an address-specific error message. */
	bool colon = memchr(s, ':', len) != NULL;
	bool digit = false;
	for (size_t i = 0; i < len; i++) {
		digit = digit || (s[i] >= '0' && s[i] <= '9');
		char c = s[i];
		bool ok = (c >= '0' && c <= '9') || c == '.' || c == '/' ||
		          (colon && (c == ':' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
		if (!ok)
			return false;
	}
	return digit || colon;
}

/* The checks rules and targets share before their syntax is looked at:
 * `what` is "rule" or "target" for the message. */
static int check_outline(const char *text, size_t len, const char *what, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];

	if (len == 0)
		return diag_fail(d, -EINVAL, "empty %s", what);
	if (len > RULE_INPUT_MAX)
		return diag_fail(d, -EINVAL, "%s of %zu bytes is too long", what, len);
	if (memmem(text, len, "://", 3))
		return diag_fail(d, -EINVAL,
		                 "'%s' looks like a URL; a %s names a host, e.g. example.com or "
		                 "example.com:443",
		                 diag_escape(text, len, esc, sizeof(esc)), what);
	return 0;
}

int rule_parse(const char *text, size_t len, struct rule *ret, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	struct host_port hp;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = check_outline(text, len, "rule", d);
	if (r < 0)
		return r;
	if (len == 1 && text[0] == '*')
		return diag_fail(d, -EINVAL,
		                 "'*' alone is not a rule; to allow everything set the default "
		                 "to allow (--default allow, or `default = allow` in a profile)");

	r = split_host_port(text, len, &hp, d);
	if (r < 0)
		return r;
	if (hp.port) {
		r = parse_port_range(hp.port, hp.port_len, &ret->ports, d);
		if (r < 0) {
			diag_prefix(d, "in rule '%s': ", diag_escape(text, len, esc, sizeof(esc)));
			return r;
		}
	}
	if (hp.host_len == 0)
		return diag_fail(d, -EINVAL, "'%s': no host before the port",
		                 diag_escape(text, len, esc, sizeof(esc)));

	if (hp.bracketed || looks_like_address(hp.host, hp.host_len)) {
		ret->kind = RULE_CIDR;
		r = parse_cidr(hp.host, hp.host_len, &ret->prefix, d);
		if (r == 0 && hp.bracketed && ret->prefix.family != 6)
			return diag_fail(d, -EINVAL, "'%s': brackets are for IPv6 addresses only",
			                 diag_escape(text, len, esc, sizeof(esc)));
		return r;
	}

	const char *name = hp.host;
	size_t name_len = hp.host_len;
	ret->kind = RULE_EXACT;
	if (name_len >= 2 && name[0] == '*' && name[1] == '.') {
		ret->kind = RULE_SUBDOMAINS;
		name += 2;
		name_len -= 2;
	} else if (name[0] == '.') {
		ret->kind = RULE_DOMAIN;
		name += 1;
		name_len -= 1;
	}
	const char *star = memchr(name, '*', name_len);
	if (star)
		return diag_fail(d, -EINVAL,
		                 "'%s': '*' is only allowed as a whole first label, as in "
		                 "*.example.com",
		                 diag_escape(hp.host, hp.host_len, esc, sizeof(esc)));
	r = name_normalize(name, name_len, ret->name, &ret->name_len, d);
	if (r < 0) {
		diag_prefix(d, "in rule '%s': ", diag_escape(text, len, esc, sizeof(esc)));
		return r;
	}
	return 0;
}

static int format_prefix(const struct ip_prefix *p, bool with_len, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	unsigned max = p->family == 4 ? 32 : 128;

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	if (with_len && p->len != max)
		return snprintf(buf, size, "%s/%u", a, p->len);
	return snprintf(buf, size, "%s", a);
}

int rule_format(const struct rule *r, char *buf, size_t size)
{
	char host[RULE_TEXT_SIZE];
	char ports[16] = "";

	if (!port_range_is_any(r->ports)) {
		if (r->ports.lo == r->ports.hi)
			snprintf(ports, sizeof(ports), ":%u", r->ports.lo);
		else
			snprintf(ports, sizeof(ports), ":%u-%u", r->ports.lo, r->ports.hi);
	}
	switch (r->kind) {
	case RULE_EXACT:
		return snprintf(buf, size, "%s%s", r->name, ports);
	case RULE_SUBDOMAINS:
		return snprintf(buf, size, "*.%s%s", r->name, ports);
	case RULE_DOMAIN:
		return snprintf(buf, size, ".%s%s", r->name, ports);
	case RULE_CIDR:
		format_prefix(&r->prefix, true, host, sizeof(host));
		if (r->prefix.family == 6 && ports[0])
			return snprintf(buf, size, "[%s]%s", host, ports);
		return snprintf(buf, size, "%s%s", host, ports);
	}
	return snprintf(buf, size, "?");
}

bool rule_equal(const struct rule *a, const struct rule *b)
{
	if (a->kind != b->kind || a->ports.lo != b->ports.lo || a->ports.hi != b->ports.hi)
		return false;
	if (a->kind == RULE_CIDR)
		return a->prefix.family == b->prefix.family && a->prefix.len == b->prefix.len &&
		       memcmp(a->prefix.addr, b->prefix.addr, 16) == 0;
	return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

int target_parse(const char *text, size_t len, struct target *ret, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	struct host_port hp;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = check_outline(text, len, "target", d);
	if (r < 0)
		return r;
	r = split_host_port(text, len, &hp, d);
	if (r < 0)
		return r;
	if (hp.port) {
		r = parse_port(hp.port, hp.port_len, &ret->port, d);
		if (r < 0)
			return r;
	}
	if (hp.host_len == 0)
		return diag_fail(d, -EINVAL, "'%s': no host before the port",
		                 diag_escape(text, len, esc, sizeof(esc)));
	ret->family = parse_addr(hp.host, hp.host_len, ret->addr);
	if (ret->family) {
		ret->is_addr = true;
		if (hp.bracketed && ret->family != 6)
			return diag_fail(d, -EINVAL, "'%s': brackets are for IPv6 addresses only",
			                 diag_escape(text, len, esc, sizeof(esc)));
		return 0;
	}
	if (hp.bracketed)
		return diag_fail(d, -EINVAL, "'%s' is not an IPv6 address",
		                 diag_escape(hp.host, hp.host_len, esc, sizeof(esc)));
	if (memchr(hp.host, '*', hp.host_len))
		return diag_fail(d, -EINVAL,
		                 "'%s': a target is one host name; wildcards belong in rules",
		                 diag_escape(hp.host, hp.host_len, esc, sizeof(esc)));
	return name_normalize(hp.host, hp.host_len, ret->name, &ret->name_len, d);
}

int target_format(const struct target *t, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (!t->is_addr)
		return t->port ? snprintf(buf, size, "%s:%u", t->name, t->port)
		               : snprintf(buf, size, "%s", t->name);
	inet_ntop(t->family == 4 ? AF_INET : AF_INET6, t->addr, a, sizeof(a));
	if (!t->port)
		return snprintf(buf, size, "%s", a);
	return t->family == 6 ? snprintf(buf, size, "[%s]:%u", a, t->port)
	                      : snprintf(buf, size, "%s:%u", a, t->port);
}
