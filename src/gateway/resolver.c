#include "gateway/resolver.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/filter.h"
#include "dns/wire.h"

enum { PART_A, PART_AAAA, N_PARTS };

/* One of the two questions of a lookup. */
struct part {
	struct resolver_lookup *l;
	uint16_t qtype;
	struct upstream_query *uq; /* NULL once answered, or when never sent */
	bool waiting;
	bool nxdomain;
	enum resolver_status status;
	size_t n;
	uint8_t addrs[RESOLVER_MAX_ADDRS][16];
	char reason[RESOLVER_REASON_MAX];
};

struct resolver_lookup {
	struct resolver *res;
	struct resolver_lookup *prev, *next;
	struct policy *policy;
	uint16_t port;
	resolver_cb *cb;
	void *ctx;
	bool by_policy;
	struct decision decision;
	struct dns_query query; /* the question, as dns_filter_answer() takes it */
	struct part part[N_PARTS];
};

struct resolver {
	struct loop *loop;
	struct upstream *upstream;
	struct addrmap *addrmap;
	struct resolver_lookup *lookups;
	struct dns_response scratch; /* one answer at a time: the loop is single-threaded */
};

int resolver_new(struct loop *loop, const struct upstream_config *c, struct addrmap *addrmap,
                 struct resolver **ret, struct diag *d)
{
	struct resolver *res = calloc(1, sizeof(*res));
	if (!res)
		return diag_fail(d, -ENOMEM, "out of memory");
	res->loop = loop;
	res->addrmap = addrmap;
	int r = upstream_new(loop, c, &res->upstream);
	if (r < 0) {
		free(res);
		return diag_fail(d, r,
		                 r == -EINVAL ? "no usable upstream resolver: give --upstream ADDR"
		                              : "cannot set up the upstream client: %s",
		                 strerror(-r));
	}
	*ret = res;
	return 0;
}

static void lookup_free(struct resolver_lookup *l)
{
	struct resolver *res = l->res;

	for (int i = 0; i < N_PARTS; i++)
		upstream_cancel(l->part[i].uq);
	policy_unref(l->policy);
	*(l->prev ? &l->prev->next : &res->lookups) = l->next;
	if (l->next)
		l->next->prev = l->prev;
	free(l);
}

void resolver_free(struct resolver *res)
{
	if (!res)
		return;
	while (res->lookups)
		lookup_free(res->lookups);
	upstream_free(res->upstream);
	free(res);
}

void resolver_cancel(struct resolver_lookup *l)
{
	if (l)
		lookup_free(l);
}

/* ---- answers ------------------------------------------------------------- */

static void part_fail(struct part *p, enum resolver_status status, const char *fmt, ...)
        _printf_(3, 4);

static void part_fail(struct part *p, enum resolver_status status, const char *fmt, ...)
{
	va_list ap;

	p->status = status;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
}

/* The answer passed dns_filter_answer(): take its addresses of our type,
 * after the stricter check the proxy adds (a CIDR rule that lets a name point
 * at a non-public address must allow the port dialled too). */
static void take_addresses(struct resolver *res, struct resolver_lookup *l, struct part *p,
                           const struct dns_response *r)
{
	uint8_t family = p->qtype == DNS_TYPE_A ? 4 : 6;
	size_t alen = family == 4 ? 4 : 16;

	for (unsigned i = 0; i < r->n_answers; i++) {
		const struct dns_rr *rr = &r->answers[i];
		if (rr->rclass != DNS_CLASS_IN || rr->type != p->qtype)
			continue;
		struct addr a;
		if (family == 4)
			addr_from_ipv4(&a, rr->addr, l->port);
		else
			addr_from_ipv6(&a, rr->addr, l->port);
		enum addr_class class = addr_classify(&a);
		if (class != ADDR_CLASS_PUBLIC) {
			struct decision dec;
			policy_decide_addr(l->policy, family, rr->addr, l->port, &dec);
			if (dec.verdict != ACTION_ALLOW || dec.by != DECIDED_BY_RULE) {
				char text[ADDR_STR_MAX];
				addr_format_ip(&a, text, sizeof(text));
				p->status = RESOLVER_REFUSED;
				p->n = 0;
				snprintf(p->reason, sizeof(p->reason),
				         "rebinding: %s answered %s (%s), and no CIDR rule allows "
				         "it "
				         "on port %u",
				         l->query.question.name, text, addr_class_name(class),
				         l->port);
				return;
			}
		}
		if (p->n < RESOLVER_MAX_ADDRS)
			memcpy(p->addrs[p->n++], rr->addr, alen);
	}
	if (p->n == 0) {
		part_fail(p, RESOLVER_NO_ADDRESS, "no %s record",
		          p->qtype == DNS_TYPE_A ? "A" : "AAAA");
		return;
	}
	p->status = RESOLVER_OK;
	if (!res->addrmap)
		return;
	uint64_t now = loop_now_ms(res->loop);
	for (unsigned i = 0; i < r->n_answers; i++) {
		const struct dns_rr *rr = &r->answers[i];
		if (rr->rclass == DNS_CLASS_IN && rr->type == p->qtype)
			(void)addrmap_add(res->addrmap, l->query.question.name,
			                  l->query.question.name_len, family, rr->addr, rr->ttl,
			                  now);
	}
}

static void vet_answer(struct resolver *res, struct resolver_lookup *l, struct part *p,
                       const uint8_t *msg, size_t len)
{
	struct dns_response *r = &res->scratch;
	struct dns_answer_verdict v;
	char rc[DNS_RCODE_NAME_SIZE];

	int pr = dns_parse_response(msg, len, r, NULL);
	l->query.question.qtype = p->qtype;
	dns_filter_answer(l->policy, &l->query, r, pr, &v);
	switch (v.action) {
	case DNS_ANSWER_SERVFAIL:
		part_fail(p, RESOLVER_FAILED, "%s", v.reason);
		return;
	case DNS_ANSWER_REFUSE:
		part_fail(p, RESOLVER_REFUSED, "%s", v.reason);
		if (v.by_policy) {
			l->by_policy = true;
			l->decision = v.decision;
		}
		return;
	case DNS_ANSWER_RELAY:
		break;
	}
	if (r->header.rcode == DNS_RCODE_NXDOMAIN) {
		p->nxdomain = true;
		part_fail(p, RESOLVER_NO_ADDRESS, "NXDOMAIN: no such name");
		return;
	}
	if (r->header.rcode != DNS_RCODE_NOERROR) {
		part_fail(p, RESOLVER_FAILED, "upstream answered %s",
		          dns_rcode_name(r->header.rcode, rc));
		return;
	}
	take_addresses(res, l, p, r);
}

/* Both answers are in: one result, A and AAAA interleaved. */
static void complete(struct resolver_lookup *l)
{
	const struct part *a = &l->part[PART_A], *aaaa = &l->part[PART_AAAA];
	struct resolver_result result = {0};
	const struct part *why = NULL;

	if (a->status == RESOLVER_REFUSED || aaaa->status == RESOLVER_REFUSED) {
		why = a->status == RESOLVER_REFUSED ? a : aaaa;
		result.status = RESOLVER_REFUSED;
		result.by_policy = l->by_policy;
		result.decision = l->decision;
	} else if (a->n || aaaa->n) {
		result.status = RESOLVER_OK;
		for (size_t i = 0; result.n < RESOLVER_MAX_ADDRS && (i < a->n || i < aaaa->n);
		     i++) {
			if (i < a->n)
				addr_from_ipv4(&result.addrs[result.n++], a->addrs[i], l->port);
			if (i < aaaa->n && result.n < RESOLVER_MAX_ADDRS)
				addr_from_ipv6(&result.addrs[result.n++], aaaa->addrs[i], l->port);
		}
	} else if (a->status == RESOLVER_NO_ADDRESS && aaaa->status == RESOLVER_NO_ADDRESS) {
		result.status = RESOLVER_NO_ADDRESS;
		/* "no A record" alone would hide that AAAA was asked too. */
		if (a->nxdomain || aaaa->nxdomain)
			snprintf(result.reason, sizeof(result.reason), "NXDOMAIN: no such name");
		else
			snprintf(result.reason, sizeof(result.reason), "no A or AAAA record");
	} else {
		result.status = RESOLVER_FAILED;
		why = a->status == RESOLVER_FAILED ? a : aaaa;
	}
	if (why && !result.reason[0])
		snprintf(result.reason, sizeof(result.reason), "%s", why->reason);

	resolver_cb *cb = l->cb;
	void *ctx = l->ctx;
	lookup_free(l); /* before the callback, which may free the resolver */
	cb(ctx, &result);
}

static void on_answer(void *ctx, int result, const uint8_t *msg, size_t len)
{
	struct part *p = ctx;
	struct resolver_lookup *l = p->l;

	p->uq = NULL;
	p->waiting = false;
	if (result < 0)
		part_fail(p, RESOLVER_FAILED, "upstream: %s", strerror(-result));
	else
		vet_answer(l->res, l, p, msg, len);
	if (!l->part[PART_A].waiting && !l->part[PART_AAAA].waiting)
		complete(l);
}

int resolver_lookup(struct resolver *res, struct policy *policy, const char *name, size_t len,
                    uint16_t port, resolver_cb *cb, void *ctx, struct resolver_lookup **ret)
{
	uint8_t msg[DNS_HEADER_SIZE + DNS_NAME_WIRE_MAX + 4];
	struct dns_query_spec spec = {
	        .name = name,
	        .name_len = len,
	        .qtype = DNS_TYPE_A,
	        .qclass = DNS_CLASS_IN,
	};
	struct resolver_lookup *l = calloc(1, sizeof(*l));
	int err = 0, sent = 0;

	if (!l)
		return -ENOMEM;
	int n = dns_build_query(&spec, msg, sizeof(msg), NULL);
	if (n < 0 || dns_parse_query(msg, (size_t)n, &l->query, NULL) < 0 ||
	    !l->query.question.name_ok) {
		free(l);
		return -EINVAL;
	}
	l->res = res;
	l->policy = policy_ref(policy);
	l->port = port;
	l->cb = cb;
	l->ctx = ctx;
	l->next = res->lookups;
	if (res->lookups)
		res->lookups->prev = l;
	res->lookups = l;

	static const uint16_t qtypes[N_PARTS] = {DNS_TYPE_A, DNS_TYPE_AAAA};
	for (int i = 0; i < N_PARTS; i++) {
		struct part *p = &l->part[i];
		p->l = l;
		p->qtype = qtypes[i];
		int r = upstream_query(res->upstream, l->query.question.name,
		                       l->query.question.name_len, p->qtype, 0, on_answer, p,
		                       &p->uq);
		if (r < 0) {
			err = r;
			part_fail(p, RESOLVER_FAILED, "upstream: %s",
			          r == -EBUSY ? "too many queries in flight" : strerror(-r));
			continue;
		}
		p->waiting = true;
		sent++;
	}
	if (!sent) {
		lookup_free(l);
		return err;
	}
	if (ret)
		*ret = l;
	return 0;
}
