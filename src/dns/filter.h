/* filter.h - what the DNS filter does with a client's query, and with the
 * answer upstream gives back.  Pure decisions over parsed messages (wire.h)
 * and a policy snapshot: the DNS service (gateway) does the I/O.
 *
 * A query:
 *   - that is a response, or too short to answer: dropped;
 *   - malformed or with QDCOUNT != 1: FORMERR; opcode other than QUERY: NOTIMP;
 *   - whose name is not a host name, whose class is not IN, or whose name the
 *     policy refuses on every port: refused, answered the configured way
 *     (NXDOMAIN, REFUSED, or a sinkhole address) and never sent upstream in
 *     any form;
 *   - allowed, of a type the filter forwards (A, AAAA and CNAME unless
 *     configured otherwise): forwarded;
 *   - allowed, of another type (TXT, NULL, HTTPS, SVCB, ANY...): answered
 *     NOERROR with no records, since those types carry data (tunnels) or
 *     hints (HTTPS records, ECH keys) a filter by name does not vet.
 *
 * An upstream answer is relayed only if it is for the question asked and:
 *   - no A/AAAA record points at a loopback, private, link-local, metadata,
 *     unspecified or multicast address, unless an explicit CIDR rule allows
 *     that address (DNS rebinding: a public name turned into a way to reach
 *     the host or its network); a default of "allow" does not count;
 *   - no name in a CNAME chain is refused by an explicit block rule (CNAME
 *     cloaking);
 *   - every owner and target name is a host name.
 * Otherwise the client gets the refusal reply (rebinding, cloaking) or
 * SERVFAIL (an answer that does not fit the question).
 */
#ifndef AIRLOCK_DNS_FILTER_H
#define AIRLOCK_DNS_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "dns/wire.h"
#include "policy/policy.h"

enum dns_refusal {
	DNS_REFUSE_NXDOMAIN, /* default: the name does not exist, as far as the sandbox knows */
	DNS_REFUSE_REFUSED,
	DNS_REFUSE_SINKHOLE, /* A -> sinkhole4, AAAA -> sinkhole6, other types: no records */
};

struct dns_filter_config {
	enum dns_refusal refusal;
	uint8_t sinkhole4[4];  /* 0.0.0.0 by default */
	uint8_t sinkhole6[16]; /* :: by default */
	uint32_t sinkhole_ttl;
	uint64_t forward_types[4]; /* bitmap over QTYPE 0..255; types above are never forwarded */
};

void dns_filter_config_default(struct dns_filter_config *c);

/* Set the forwarded types from a list such as "A, AAAA, CNAME, MX, TXT"
 * (names as dns_type_name() prints them, or TYPEnnn).  -EINVAL with `d`
 * naming the word it does not know. */
int dns_filter_config_types(struct dns_filter_config *c, const char *list, struct diag *d);

bool dns_filter_forwards(const struct dns_filter_config *c, uint16_t qtype);

enum dns_query_action {
	DNS_QUERY_FORWARD,
	DNS_QUERY_REFUSE, /* reply per c->refusal */
	DNS_QUERY_EMPTY,  /* NOERROR, no records */
	DNS_QUERY_FORMERR,
	DNS_QUERY_NOTIMP,
	DNS_QUERY_DROP,
};

struct dns_query_verdict {
	enum dns_query_action action;
	bool by_policy; /* `decision` holds the policy's answer on the name */
	struct decision decision;
	const char *reason; /* for the log: "malformed query", "type TXT not forwarded" */
};

/* `parse_result` is what dns_parse_query() returned for `q`. */
void dns_filter_query(const struct policy *p, const struct dns_filter_config *c,
                      const struct dns_query *q, int parse_result, struct dns_query_verdict *ret);

/* The local reply for any action but FORWARD and DROP, into buf.  `raw` and
 * `raw_len` are the client's message (FORMERR echoes its ID).  Returns the
 * length or a negative errno: -EPROTO for a message that must not be
 * answered at all (it says it is a response). */
int dns_filter_reply(const struct dns_filter_config *c, enum dns_query_action action,
                     const struct dns_query *q, const uint8_t *raw, size_t raw_len, uint8_t *buf,
                     size_t size);

enum dns_answer_action {
	DNS_ANSWER_RELAY,
	DNS_ANSWER_REFUSE,   /* reply per c->refusal: rebinding, cloaking */
	DNS_ANSWER_SERVFAIL, /* not an answer to this question */
};

struct dns_answer_verdict {
	enum dns_answer_action action;
	bool by_policy; /* `decision` is the rule that refused a CNAME target */
	struct decision decision;
	char reason[160];
};

/* `parse_result` is what dns_parse_response() returned for `r`. */
void dns_filter_answer(const struct policy *p, const struct dns_query *q,
                       const struct dns_response *r, int parse_result,
                       struct dns_answer_verdict *ret);

#endif
