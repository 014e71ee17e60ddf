#include "dns/filter.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/addr.h"

static void type_set(struct dns_filter_config *c, unsigned type)
{
	c->forward_types[type / 64] |= 1ull << (type % 64);
}

void dns_filter_config_default(struct dns_filter_config *c)
{
	memset(c, 0, sizeof(*c));
	c->refusal = DNS_REFUSE_NXDOMAIN;
	c->sinkhole_ttl = 60;
	type_set(c, DNS_TYPE_A);
	type_set(c, DNS_TYPE_AAAA);
	type_set(c, DNS_TYPE_CNAME);
}

bool dns_filter_forwards(const struct dns_filter_config *c, uint16_t qtype)
{
	return qtype < 256 && (c->forward_types[qtype / 64] >> (qtype % 64) & 1);
}

/* A type by its name, or TYPEnnn. */
static int type_by_name(const char *word, size_t len, unsigned *ret)
{
	char buf[DNS_TYPE_NAME_SIZE];

	for (unsigned t = 1; t < 256; t++) {
		const char *name = dns_type_name((uint16_t)t, buf);
		if (strlen(name) == len && strncasecmp(name, word, len) == 0) {
			*ret = t;
			return 0;
		}
	}
	return -EINVAL;
}

int dns_filter_config_types(struct dns_filter_config *c, const char *list, struct diag *d)
{
	uint64_t saved[4];

	memcpy(saved, c->forward_types, sizeof(saved));
	memset(c->forward_types, 0, sizeof(c->forward_types));
	for (const char *p = list; *p;) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n == 0)
			break;
		unsigned t;
		if (type_by_name(p, n, &t) < 0) {
			memcpy(c->forward_types, saved, sizeof(saved));
			return diag_fail(
			        d, -EINVAL,
			        "'%.*s' is not a DNS query type this filter knows (A, AAAA, "
			        "CNAME, MX, TXT, SRV, ..., or TYPEnnn up to TYPE255)",
			        (int)n, p);
		}
		type_set(c, t);
		p += n;
	}
	return 0;
}

void dns_filter_query(const struct policy *p, const struct dns_filter_config *c,
                      const struct dns_query *q, int parse_result, struct dns_query_verdict *ret)
{
	memset(ret, 0, sizeof(*ret));
	switch (parse_result) {
	case 0:
		break;
	case DNS_ERR_NAME:
		ret->action = DNS_QUERY_REFUSE;
		ret->reason = "the name is not a host name";
		return;
	case DNS_ERR_MALFORMED:
	case DNS_ERR_QDCOUNT:
		/* Never answer what says it is a response: two resolvers could
		 * bounce errors at each other forever. */
		ret->action = q->header.qr ? DNS_QUERY_DROP : DNS_QUERY_FORMERR;
		ret->reason = parse_result == DNS_ERR_QDCOUNT ? "not exactly one question"
		                                              : "malformed query";
		return;
	default: /* DNS_ERR_QR and anything unexpected */
		ret->action = DNS_QUERY_DROP;
		ret->reason = "not a query";
		return;
	}
	if (q->header.opcode != DNS_OPCODE_QUERY) {
		ret->action = DNS_QUERY_NOTIMP;
		ret->reason = "opcode other than QUERY";
		return;
	}
	if (q->question.qclass != DNS_CLASS_IN) {
		ret->action = DNS_QUERY_REFUSE;
		ret->reason = "class other than IN";
		return;
	}
	ret->by_policy = true;
	policy_decide_name(p, q->question.name, q->question.name_len, 0, &ret->decision);
	if (ret->decision.verdict != ACTION_ALLOW) {
		ret->action = DNS_QUERY_REFUSE;
		ret->reason = "refused by policy";
	} else if (!dns_filter_forwards(c, q->question.qtype)) {
		ret->action = DNS_QUERY_EMPTY;
		ret->reason = "type not forwarded";
	} else {
		ret->action = DNS_QUERY_FORWARD;
		ret->reason = "allowed";
	}
}

int dns_filter_reply(const struct dns_filter_config *c, enum dns_query_action action,
                     const struct dns_query *q, const uint8_t *raw, size_t raw_len, uint8_t *buf,
                     size_t size)
{
	switch (action) {
	case DNS_QUERY_FORMERR:
		/* A message too short for a parsed header may still say QR. */
		if (raw_len >= 3 && (raw[2] & 0x80))
			return -EPROTO;
		return dns_build_formerr(raw, raw_len, buf, size);
	case DNS_QUERY_NOTIMP:
		return dns_build_reply(q, DNS_RCODE_NOTIMP, buf, size);
	case DNS_QUERY_EMPTY:
		return dns_build_reply(q, DNS_RCODE_NOERROR, buf, size);
	case DNS_QUERY_REFUSE:
		break;
	case DNS_QUERY_FORWARD:
	case DNS_QUERY_DROP:
		return -EINVAL;
	}
	switch (c->refusal) {
	case DNS_REFUSE_REFUSED:
		return dns_build_reply(q, DNS_RCODE_REFUSED, buf, size);
	case DNS_REFUSE_SINKHOLE:
		if (q->question.qtype == DNS_TYPE_A)
			return dns_build_address_reply(q, c->sinkhole4, 4, c->sinkhole_ttl, buf,
			                               size);
		if (q->question.qtype == DNS_TYPE_AAAA)
			return dns_build_address_reply(q, c->sinkhole6, 16, c->sinkhole_ttl, buf,
			                               size);
		return dns_build_reply(q, DNS_RCODE_NOERROR, buf, size);
	case DNS_REFUSE_NXDOMAIN:
		break;
	}
	return dns_build_reply(q, DNS_RCODE_NXDOMAIN, buf, size);
}

/* Whether the policy explicitly allows answering with this address. */
static bool address_allowed_by_rule(const struct policy *p, uint8_t family, const uint8_t *addr)
{
	struct decision d;
	policy_decide_addr(p, family, addr, 0, &d);
	return d.verdict == ACTION_ALLOW && d.by == DECIDED_BY_RULE;
}

static int check_address(const struct policy *p, const struct dns_rr *rr,
                         struct dns_answer_verdict *ret)
{
	uint8_t family = rr->type == DNS_TYPE_A ? 4 : 6;
	struct addr a;
	char text[ADDR_STR_MAX];

	if (family == 4)
		addr_from_ipv4(&a, rr->addr, 0);
	else
		addr_from_ipv6(&a, rr->addr, 0);
	enum addr_class class = addr_classify(&a);
	if (class == ADDR_CLASS_PUBLIC || address_allowed_by_rule(p, family, rr->addr))
		return 0;
	addr_format_ip(&a, text, sizeof(text));
	ret->action = DNS_ANSWER_REFUSE;
	snprintf(ret->reason, sizeof(ret->reason), "rebinding: %s answered %s (%s)", rr->name, text,
	         addr_class_name(class));
	return -EPERM;
}

static int check_cname(const struct policy *p, const struct dns_rr *rr,
                       struct dns_answer_verdict *ret)
{
	struct decision d;

	policy_decide_name(p, rr->target, rr->target_len, 0, &d);
	if (d.verdict == ACTION_ALLOW || d.by != DECIDED_BY_RULE)
		return 0;
	ret->action = DNS_ANSWER_REFUSE;
	ret->by_policy = true;
	ret->decision = d;
	snprintf(ret->reason, sizeof(ret->reason), "CNAME %s -> %s, which a rule blocks", rr->name,
	         rr->target);
	return -EPERM;
}

void dns_filter_answer(const struct policy *p, const struct dns_query *q,
                       const struct dns_response *r, int parse_result,
                       struct dns_answer_verdict *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->action = DNS_ANSWER_SERVFAIL;
	if (parse_result != 0) {
		snprintf(ret->reason, sizeof(ret->reason), "upstream sent a malformed answer");
		return;
	}
	if (!dns_question_matches(&q->question, &r->question)) {
		snprintf(ret->reason, sizeof(ret->reason),
		         "upstream answered another question than the one asked");
		return;
	}
	for (unsigned i = 0; i < r->n_answers; i++) {
		const struct dns_rr *rr = &r->answers[i];
		if (!rr->name_ok || (rr->type == DNS_TYPE_CNAME && !rr->target_ok)) {
			snprintf(ret->reason, sizeof(ret->reason),
			         "upstream answer holds a name that is not a host name");
			return;
		}
	}
	/* Records past DNS_ANSWERS_MAX were not kept, so they cannot be vetted. */
	if (r->answers_dropped) {
		snprintf(ret->reason, sizeof(ret->reason),
		         "upstream answer holds more than %d records", DNS_ANSWERS_MAX);
		return;
	}
	ret->action = DNS_ANSWER_RELAY;
	for (unsigned i = 0; i < r->n_answers; i++) {
		const struct dns_rr *rr = &r->answers[i];
		if (rr->rclass != DNS_CLASS_IN)
			continue;
		if ((rr->type == DNS_TYPE_A || rr->type == DNS_TYPE_AAAA) &&
		    check_address(p, rr, ret) < 0)
			return;
		if (rr->type == DNS_TYPE_CNAME && check_cname(p, rr, ret) < 0)
			return;
	}
	snprintf(ret->reason, sizeof(ret->reason), "allowed");
}
