/* DNS wire parsers: never crash or read out of bounds; every name given out is
 * canonical; a reply built to any query that parsed parses back as a response
 * to the same question, and so does a query built from its name. */
#include <string.h>

#include "dns/wire.h"
#include "fuzz.h"

/* Large (the answers array); harnesses run one input at a time. */
static struct dns_response resp;

static void check_canonical(const char *name, size_t len)
{
	char again[NAME_BUF_SIZE];
	size_t again_len;

	FUZZ_ASSERT(len > 0 && strlen(name) == len);
	FUZZ_ASSERT(name_normalize(name, len, again, &again_len, NULL) == 0);
	FUZZ_ASSERT(again_len == len && memcmp(again, name, len) == 0);
}

/* `reply` parses as a response to `q`'s question with its ID and `rcode`. */
static void check_reply(const struct dns_query *q, const uint8_t *reply, int n, uint8_t rcode)
{
	FUZZ_ASSERT(n >= DNS_HEADER_SIZE && n <= DNS_UDP_CLASSIC_MAX);
	FUZZ_ASSERT(dns_parse_response(reply, (size_t)n, &resp, NULL) == 0);
	FUZZ_ASSERT(resp.header.id == q->header.id);
	FUZZ_ASSERT(resp.header.rcode == rcode);
	FUZZ_ASSERT(resp.header.rd == q->header.rd);
	FUZZ_ASSERT(dns_question_matches(&q->question, &resp.question));
	FUZZ_ASSERT(resp.question.name_ok == q->question.name_ok);
	FUZZ_ASSERT(strcmp(resp.question.name, q->question.name) == 0);
}

static void fuzz_query(const uint8_t *data, size_t size)
{
	static const uint8_t sinkhole[16];
	uint8_t out[DNS_UDP_CLASSIC_MAX];
	struct dns_query q, back;
	int n;

	int r = dns_parse_query(data, size, &q, NULL);
	if (r == 0) {
		FUZZ_ASSERT(q.question.name_ok);
		check_canonical(q.question.name, q.question.name_len);
	}
	if (r == 0 || r == DNS_ERR_NAME) {
		FUZZ_ASSERT(q.question.wire_len >= 1 && q.question.wire_len <= DNS_NAME_WIRE_MAX);
		FUZZ_ASSERT(!q.header.qr && q.header.qdcount == 1);
		uint8_t rcode = (uint8_t)(size % 6);
		n = dns_build_reply(&q, rcode, out, sizeof(out));
		check_reply(&q, out, n, rcode);
		FUZZ_ASSERT(resp.n_answers == 0);
		uint16_t other_id = (uint16_t)(q.header.id ^ 0xffffu);
		FUZZ_ASSERT(dns_set_id(out, (size_t)n, other_id) == 0);
		FUZZ_ASSERT(dns_parse_response(out, (size_t)n, &resp, NULL) == 0);
		FUZZ_ASSERT(resp.header.id == other_id);
	} else {
		FUZZ_ASSERT(r == DNS_ERR_MALFORMED || r == DNS_ERR_QR || r == DNS_ERR_QDCOUNT);
		FUZZ_ASSERT(q.question.wire_len == 0 && !q.question.name_ok);
		n = dns_build_formerr(data, size, out, sizeof(out));
		FUZZ_ASSERT(n == DNS_HEADER_SIZE);
		FUZZ_ASSERT(dns_parse_response(out, (size_t)n, &resp, NULL) == DNS_ERR_QDCOUNT);
		FUZZ_ASSERT(resp.header.rcode == DNS_RCODE_FORMERR);
		if (size >= 2)
			FUZZ_ASSERT(resp.header.id == (uint16_t)(data[0] << 8 | data[1]));
	}
	if (r != 0)
		return;

	uint16_t t = q.question.qtype;
	bool in = q.question.qclass == DNS_CLASS_IN || q.question.qclass == DNS_CLASS_ANY;
	if (in && (t == DNS_TYPE_A || t == DNS_TYPE_AAAA || t == DNS_TYPE_ANY)) {
		size_t alen = t == DNS_TYPE_AAAA ? 16 : 4;
		n = dns_build_address_reply(&q, sinkhole, alen, 60, out, sizeof(out));
		check_reply(&q, out, n, DNS_RCODE_NOERROR);
		FUZZ_ASSERT(resp.n_answers == 1 && resp.answers[0].rdlength == alen);
		FUZZ_ASSERT(resp.answers[0].ttl == 60);
		FUZZ_ASSERT(strcmp(resp.answers[0].name, q.question.name) == 0);
		FUZZ_ASSERT(memcmp(resp.answers[0].addr, sinkhole, alen) == 0);
	}

	/* What the gateway sends when it resolves the name itself. */
	struct dns_query_spec spec = {
	        .id = q.header.id,
	        .name = q.question.name,
	        .name_len = q.question.name_len,
	        .qtype = q.question.qtype,
	        .qclass = q.question.qclass,
	        .edns_udp_size = q.edns.present ? q.edns.udp_size : 0,
	};
	n = dns_build_query(&spec, out, sizeof(out), NULL);
	FUZZ_ASSERT(n > DNS_HEADER_SIZE);
	FUZZ_ASSERT(dns_parse_query(out, (size_t)n, &back, NULL) == 0);
	FUZZ_ASSERT(back.header.id == q.header.id && back.header.rd);
	FUZZ_ASSERT(strcmp(back.question.name, q.question.name) == 0);
	FUZZ_ASSERT(back.question.qtype == q.question.qtype);
	FUZZ_ASSERT(back.question.qclass == q.question.qclass);
	FUZZ_ASSERT(back.edns.present == (spec.edns_udp_size != 0));
}

static void fuzz_response(const uint8_t *data, size_t size)
{
	int r = dns_parse_response(data, size, &resp, NULL);
	if (r != 0) {
		FUZZ_ASSERT(r == DNS_ERR_MALFORMED || r == DNS_ERR_QR || r == DNS_ERR_QDCOUNT);
		FUZZ_ASSERT(resp.n_answers == 0 && resp.question.wire_len == 0);
		return;
	}
	FUZZ_ASSERT(resp.header.qr && resp.header.qdcount == 1);
	FUZZ_ASSERT(resp.n_answers <= DNS_ANSWERS_MAX);
	FUZZ_ASSERT(resp.n_answers + resp.answers_dropped == resp.header.ancount);
	if (resp.question.name_ok)
		check_canonical(resp.question.name, resp.question.name_len);
	for (unsigned i = 0; i < resp.n_answers; i++) {
		const struct dns_rr *rr = &resp.answers[i];
		FUZZ_ASSERT((size_t)rr->rdata_off + rr->rdlength <= size);
		FUZZ_ASSERT(rr->ttl <= DNS_TTL_MAX);
		FUZZ_ASSERT(rr->type != DNS_TYPE_OPT);
		if (rr->name_ok)
			check_canonical(rr->name, rr->name_len);
		else
			FUZZ_ASSERT(rr->name_len == 0 && rr->name[0] == '\0');
		if (rr->rclass == DNS_CLASS_IN && rr->type == DNS_TYPE_A)
			FUZZ_ASSERT(rr->rdlength == 4 &&
			            memcmp(rr->addr, data + rr->rdata_off, 4) == 0);
		if (rr->rclass == DNS_CLASS_IN && rr->type == DNS_TYPE_AAAA)
			FUZZ_ASSERT(rr->rdlength == 16 &&
			            memcmp(rr->addr, data + rr->rdata_off, 16) == 0);
		if (rr->type == DNS_TYPE_CNAME && rr->target_ok)
			check_canonical(rr->target, rr->target_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_query(data, size);
	fuzz_response(data, size);
	return 0;
}
