#include "gateway/flow_check.h"

#include <stdio.h>
#include <string.h>

#include "proxy/http_head.h"
#include "proxy/tls_hello.h"

/* A nameless flow is decided on the names that resolved to its address,
 * most recent first; a CDN address may have thousands, so past this many
 * refused ones the flow is refused without looking further. */
#define MAP_NAMES_MAX 64

/* ---- the first bytes ------------------------------------------------------ */

static bool method_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

/* Is the input an HTTP request?  1 yes, 0 no, -1 not known yet.  Yes when
 * its first line (after any empty lines, which the head parser skips) is an
 * upper-case token, a space, and holds " HTTP/": other line protocols whose
 * client speaks first ("NICK x", "SET k v") are not HTTP and go by address.
 * Only the first max_head bytes are looked at, so the answer never changes
 * with more bytes: a request line longer than that is no request the
 * gateway would take anyway. */
static int looks_like_http(const uint8_t *buf, size_t len, size_t max_head)
{
	static const char version[] = " HTTP/";
	size_t i = 0;

	while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n' && i < max_head)
		i += 2;
	if (i >= max_head)
		return 1; /* the parser refuses it as too large */
	if (i == len || (buf[i] == '\r' && i + 1 == len))
		return -1;
	size_t j = i;
	while (j < len && j - i < HTTP_HEAD_METHOD_MAX && method_char(buf[j]))
		j++;
	if (j == len && j - i <= HTTP_HEAD_METHOD_MAX)
		return -1; /* the next byte may be the space */
	if (j == i || j == len || buf[j] != ' ')
		return 0;
	size_t end = len < max_head ? len : max_head;
	if (j >= end)
		return len >= max_head ? 0 : -1;
	const uint8_t *eol = memchr(buf + j, '\n', end - j);
	size_t line = eol ? (size_t)(eol - (buf + j)) : end - j;
	for (size_t k = 0; k + sizeof(version) - 1 <= line; k++)
		if (memcmp(buf + j + k, version, sizeof(version) - 1) == 0)
			return 1;
	return eol || len >= max_head ? 0 : -1;
}

static void sniff_http(const uint8_t *buf, size_t len, size_t max_head, struct flow_sniff *ret)
{
	struct http_head h;
	struct diag d = {""};

	http_head_init(&h, max_head);
	int st = http_head_feed(&h, buf, len, NULL, &d);
	if (st == HTTP_HEAD_NEED_MORE) {
		ret->status = FLOW_SNIFF_NEED_MORE;
		ret->need = len + 1;
		return;
	}
	if (st < 0) {
		ret->status = FLOW_SNIFF_BAD;
		ret->http_400 = 400;
		snprintf(ret->why, sizeof(ret->why), "%s",
		         d.msg[0] ? d.msg : http_head_strerror(st));
		return;
	}
	ret->status = FLOW_SNIFF_HTTP;
	if (!h.host.is_addr) {
		ret->has_name = true;
		ret->name_len = h.host.name_len;
		memcpy(ret->name, h.host.name, h.host.name_len + 1);
	}
}

void flow_sniff(const uint8_t *buf, size_t len, size_t max_head, unsigned flags,
                struct flow_sniff *ret)
{
	struct tls_hello th;
	struct diag d = {""};

	memset(ret, 0, sizeof(*ret));
	if (len == 0) {
		ret->status = FLOW_SNIFF_NEED_MORE;
		ret->need = 1;
		return;
	}
	switch (tls_hello_parse(buf, len, &th, &d)) {
	case TLS_HELLO_NEED_MORE:
		ret->status = FLOW_SNIFF_NEED_MORE;
		ret->tls = true;
		ret->need = th.need;
		return;
	case TLS_HELLO_CLIENT_HELLO:
		ret->status = FLOW_SNIFF_TLS;
		ret->tls = true;
		ret->ech = th.has_ech;
		if (th.has_sni) {
			ret->has_name = true;
			ret->name_len = th.sni_len;
			memcpy(ret->name, th.sni, th.sni_len + 1);
		}
		return;
	case TLS_HELLO_NOT_TLS:
		break;
	case TLS_HELLO_MALFORMED:
	case TLS_HELLO_TOO_LARGE:
	case TLS_HELLO_SNI_INVALID:
		ret->status = FLOW_SNIFF_BAD;
		ret->tls = true;
		snprintf(ret->why, sizeof(ret->why), "%s",
		         d.msg[0] ? d.msg : tls_hello_strerror(th.error));
		return;
	}
	if (flags & FLOW_SNIFF_TLS_ONLY) {
		ret->status = FLOW_SNIFF_OTHER;
		return;
	}
	switch (looks_like_http(buf, len, max_head)) {
	case -1:
		ret->status = FLOW_SNIFF_NEED_MORE;
		ret->need = len + 1;
		return;
	case 0:
		ret->status = FLOW_SNIFF_OTHER;
		return;
	default:
		sniff_http(buf, len, max_head, ret);
		return;
	}
}

/* ---- decisions ------------------------------------------------------------- */

/* The address as the map and the matcher take it: family 4 or 6 and its
 * bytes; IPv4-mapped IPv6 as IPv4. */
struct raw_addr {
	uint8_t family;
	uint8_t bytes[16];
	uint16_t port;
};

static void raw_addr(const struct addr *a, struct raw_addr *ret)
{
	struct addr u = *a;

	addr_unmap(&u);
	memset(ret, 0, sizeof(*ret));
	ret->port = addr_port(&u);
	if (addr_family(&u) == AF_INET) {
		ret->family = 4;
		memcpy(ret->bytes, &u.in4.sin_addr, 4);
	} else {
		ret->family = 6;
		memcpy(ret->bytes, u.in6.sin6_addr.s6_addr, 16);
	}
}

static void set_name(struct flow_result *r, const char *name, size_t len)
{
	if (len >= sizeof(r->name))
		len = sizeof(r->name) - 1;
	memcpy(r->name, name, len);
	r->name[len] = '\0';
	r->name_len = len;
	r->has_name = true;
}

/* An explicit CIDR rule allows the address at its port; a default does not
 * count. */
static bool cidr_allows(const struct policy *p, const struct raw_addr *a, struct decision *ret)
{
	policy_decide_addr(p, a->family, a->bytes, a->port, ret);
	return ret->verdict == ACTION_ALLOW && ret->by == DECIDED_BY_RULE;
}

void flow_decide_name(const struct policy *p, const struct addrmap *map, uint64_t now_ms,
                      const char *name, size_t len, const struct addr *dest,
                      struct flow_result *ret)
{
	struct raw_addr a;
	struct decision cidr;

	memset(ret, 0, sizeof(*ret));
	raw_addr(dest, &a);
	set_name(ret, name, len);
	policy_decide_name(p, name, len, a.port, &ret->decision);
	if (ret->decision.verdict != ACTION_ALLOW) {
		ret->verdict = FLOW_REFUSE;
		ret->refusal = FLOW_REFUSAL_NAME;
		return;
	}
	if (map && addrmap_has(map, name, len, a.family, a.bytes, now_ms)) {
		ret->verdict = FLOW_ALLOW;
		ret->basis = FLOW_BASIS_MAP;
		return;
	}
	if (cidr_allows(p, &a, &cidr)) {
		ret->verdict = FLOW_ALLOW;
		ret->basis = FLOW_BASIS_CIDR;
		ret->has_cidr_rule = true;
		ret->cidr_rule = cidr.rule;
		return;
	}
	ret->verdict = FLOW_RESOLVE;
}

void flow_decide_resolved(struct flow_result *r, const struct addr *dest, const struct addr *addrs,
                          size_t n)
{
	struct raw_addr want, got;

	raw_addr(dest, &want);
	for (size_t i = 0; i < n; i++) {
		raw_addr(&addrs[i], &got);
		if (got.family == want.family &&
		    memcmp(got.bytes, want.bytes, want.family == 4 ? 4 : 16) == 0) {
			r->verdict = FLOW_ALLOW;
			r->basis = FLOW_BASIS_RESOLVED;
			return;
		}
	}
	r->verdict = FLOW_REFUSE;
	r->refusal = FLOW_REFUSAL_INCONSISTENT;
}

struct map_walk {
	const struct policy *p;
	uint16_t port;
	unsigned seen;
	bool allowed, refused;
	struct flow_result *ret;
	struct decision first_refusal;
	size_t refused_len;
	char refused_name[NAME_BUF_SIZE];
};

static bool on_map_name(const char *name, size_t len, void *ctx)
{
	struct map_walk *w = ctx;
	struct decision dec;

	policy_decide_name(w->p, name, len, w->port, &dec);
	if (dec.verdict == ACTION_ALLOW) {
		w->allowed = true;
		w->ret->decision = dec;
		set_name(w->ret, name, len);
		return false;
	}
	if (!w->refused && len < sizeof(w->refused_name)) {
		w->refused = true;
		w->first_refusal = dec;
		memcpy(w->refused_name, name, len);
		w->refused_len = len;
	}
	return ++w->seen < MAP_NAMES_MAX;
}

void flow_decide_addr(const struct policy *p, const struct addrmap *map, uint64_t now_ms,
                      const struct addr *dest, struct flow_result *ret)
{
	struct raw_addr a;

	memset(ret, 0, sizeof(*ret));
	raw_addr(dest, &a);
	struct map_walk w = {.p = p, .port = a.port, .ret = ret};
	if (map)
		addrmap_names(map, a.family, a.bytes, now_ms, on_map_name, &w);
	if (w.allowed) {
		ret->verdict = FLOW_ALLOW;
		ret->basis = FLOW_BASIS_MAP;
		return;
	}
	if (w.refused) {
		ret->verdict = FLOW_REFUSE;
		ret->refusal = FLOW_REFUSAL_MAP_NAMES;
		ret->decision = w.first_refusal;
		set_name(ret, w.refused_name, w.refused_len);
		return;
	}
	ret->decided_on_addr = true;
	if (cidr_allows(p, &a, &ret->decision)) {
		ret->verdict = FLOW_ALLOW;
		ret->basis = FLOW_BASIS_CIDR;
		return;
	}
	ret->verdict = FLOW_REFUSE;
	ret->refusal = FLOW_REFUSAL_ADDRESS;
}

/* ---- open flows -------------------------------------------------------------- */

void flow_key_add_name(struct flow_key *k, const char *name, size_t len)
{
	if (len >= NAME_BUF_SIZE || k->n_names == FLOW_KEY_NAMES)
		return;
	for (size_t i = 0; i < k->n_names; i++)
		if (k->names[i].len == len && memcmp(k->names[i].name, name, len) == 0)
			return;
	memcpy(k->names[k->n_names].name, name, len);
	k->names[k->n_names].name[len] = '\0';
	k->names[k->n_names].len = len;
	k->n_names++;
}

void flow_recheck(const struct policy *p, const struct flow_key *k, struct flow_result *ret)
{
	struct raw_addr a;

	memset(ret, 0, sizeof(*ret));
	raw_addr(&k->dest, &a);
	for (size_t i = 0; i < k->n_names; i++) {
		policy_decide_name(p, k->names[i].name, k->names[i].len, a.port, &ret->decision);
		if (ret->decision.verdict != ACTION_ALLOW) {
			set_name(ret, k->names[i].name, k->names[i].len);
			ret->verdict = FLOW_REFUSE;
			ret->refusal = FLOW_REFUSAL_NAME;
			return;
		}
	}
	if (k->needs_cidr) {
		struct decision dec;
		if (!cidr_allows(p, &a, &dec)) {
			ret->decision = dec;
			ret->decided_on_addr = true;
			ret->has_name = false;
			ret->verdict = FLOW_REFUSE;
			ret->refusal = FLOW_REFUSAL_ADDRESS;
			return;
		}
	}
	ret->verdict = FLOW_ALLOW;
	ret->basis = k->needs_cidr ? FLOW_BASIS_CIDR : FLOW_BASIS_MAP;
}

const char *flow_refusal_text(enum flow_refusal r)
{
	switch (r) {
	case FLOW_REFUSAL_NONE:
		break;
	case FLOW_REFUSAL_NAME:
		return "the name is refused";
	case FLOW_REFUSAL_INCONSISTENT:
		return "the name does not resolve to the destination address";
	case FLOW_REFUSAL_MAP_NAMES:
		return "every name that resolved to the destination address is refused";
	case FLOW_REFUSAL_ADDRESS:
		return "no name, and no CIDR rule allows the destination address";
	}
	return "not refused";
}

const char *flow_basis_text(enum flow_basis b)
{
	switch (b) {
	case FLOW_BASIS_NONE:
		break;
	case FLOW_BASIS_MAP:
		return "the name resolved to the address";
	case FLOW_BASIS_RESOLVED:
		return "the gateway resolved the name to the address";
	case FLOW_BASIS_CIDR:
		return "a CIDR rule allows the address";
	}
	return "none";
}
