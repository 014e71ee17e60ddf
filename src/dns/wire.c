#include "dns/wire.h"

#include <stdio.h>
#include <string.h>

/* Header flag bits (RFC 1035 4.1.1, RFC 4035 for AD and CD). */
#define FLAG_QR      0x8000u
#define FLAG_AA      0x0400u
#define FLAG_TC      0x0200u
#define FLAG_RD      0x0100u
#define FLAG_RA      0x0080u
#define FLAG_AD      0x0020u
#define FLAG_CD      0x0010u
#define OPCODE_SHIFT 11
#define OPCODE_MASK  0x7800u
#define RCODE_MASK   0x000fu

#define EDNS_DO 0x8000u

/* A compression pointer: two top bits set, 14 bits of offset. */
#define LABEL_POINTER 0xc0u
#define LABEL_TYPE    0xc0u

/* TYPE, CLASS, TTL and RDLENGTH after a record's owner name. */
#define RR_FIXED_SIZE 10

enum section {
	SECTION_ANSWER,
	SECTION_AUTHORITY,
	SECTION_ADDITIONAL,
};

static const char *const section_names[] = {
        [SECTION_ANSWER] = "answer",
        [SECTION_AUTHORITY] = "authority",
        [SECTION_ADDITIONAL] = "additional",
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void parse_header(const uint8_t *msg, struct dns_header *h)
{
	h->id = get16(msg);
	h->flags = get16(msg + 2);
	h->qr = h->flags & FLAG_QR;
	h->aa = h->flags & FLAG_AA;
	h->tc = h->flags & FLAG_TC;
	h->rd = h->flags & FLAG_RD;
	h->ra = h->flags & FLAG_RA;
	h->ad = h->flags & FLAG_AD;
	h->cd = h->flags & FLAG_CD;
	h->opcode = (uint8_t)((h->flags & OPCODE_MASK) >> OPCODE_SHIFT);
	h->rcode = (uint8_t)(h->flags & RCODE_MASK);
	h->qdcount = get16(msg + 4);
	h->ancount = get16(msg + 6);
	h->nscount = get16(msg + 8);
	h->arcount = get16(msg + 10);
}

/* Decode the name at msg[start], following compression pointers, into its
 * uncompressed wire form.  *ret_next is the offset just past the name where
 * it starts (after its first pointer, if any).
 *
 * Each pointer must land strictly before the label sequence it sits in, and
 * after the header.  Targets therefore strictly decrease, so a name can
 * neither loop nor point forward; the hop cap keeps even a long backward
 * chain cheap. */
static int decode_name(const uint8_t *msg, size_t len, size_t start, size_t *ret_next,
                       uint8_t wire[static DNS_NAME_WIRE_MAX], size_t *ret_wire_len, struct diag *d)
{
	size_t pos = start, seg_start = start, next = 0, out = 0;
	unsigned hops = 0;

	for (;;) {
		if (pos >= len)
			return diag_fail(
			        d, DNS_ERR_MALFORMED,
			        "name at offset %zu runs past the end of the %zu-byte message",
			        start, len);
		uint8_t c = msg[pos];
		if ((c & LABEL_TYPE) == LABEL_POINTER) {
			if (pos + 1 >= len)
				return diag_fail(d, DNS_ERR_MALFORMED,
				                 "compression pointer at offset %zu is cut off by "
				                 "the end of the message",
				                 pos);
			size_t target = (size_t)get16(msg + pos) & 0x3fffu;
			if (hops == 0)
				next = pos + 2;
			if (++hops > DNS_POINTER_HOPS_MAX)
				return diag_fail(d, DNS_ERR_MALFORMED,
				                 "name at offset %zu follows more than %d "
				                 "compression pointers",
				                 start, DNS_POINTER_HOPS_MAX);
			if (target < DNS_HEADER_SIZE)
				return diag_fail(
				        d, DNS_ERR_MALFORMED,
				        "compression pointer at offset %zu points into the "
				        "header (offset %zu)",
				        pos, target);
			if (target >= seg_start)
				return diag_fail(
				        d, DNS_ERR_MALFORMED,
				        "compression pointer at offset %zu points to offset "
				        "%zu, not before its own name: a loop or a forward "
				        "pointer",
				        pos, target);
			pos = seg_start = target;
			continue;
		}
		if ((c & LABEL_TYPE) != 0)
			return diag_fail(d, DNS_ERR_MALFORMED,
			                 "label length byte 0x%02x at offset %zu: labels hold at "
			                 "most %d bytes and extended label types are not supported",
			                 c, pos, DNS_LABEL_MAX);
		/* The label, and the root's zero that must still follow it. */
		if (out + 1u + c + (c ? 1u : 0u) > DNS_NAME_WIRE_MAX)
			return diag_fail(d, DNS_ERR_MALFORMED,
			                 "name at offset %zu is longer than %d bytes", start,
			                 DNS_NAME_WIRE_MAX);
		if (c > len - pos - 1)
			return diag_fail(d, DNS_ERR_MALFORMED,
			                 "label at offset %zu runs past the end of the %zu-byte "
			                 "message",
			                 pos, len);
		memcpy(wire + out, msg + pos, 1u + c);
		out += 1u + c;
		pos += 1u + c;
		if (c == 0)
			break;
	}
	*ret_next = hops ? next : pos;
	*ret_wire_len = out;
	return 0;
}

/* The canonical text of a decoded wire name.  -EINVAL if it is not a host
 * name, with the reason in `d`. */
static int wire_to_text(const uint8_t *wire, size_t wire_len, char out[static NAME_BUF_SIZE],
                        size_t *ret_len, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	/* Labels and dots: never more than DNS_NAME_WIRE_MAX - 2 bytes. */
	char text[DNS_NAME_WIRE_MAX];
	size_t n = 0;

	if (wire_len <= 1)
		return diag_fail(d, -EINVAL, "the root '.' is not a host name");
	for (size_t i = 0; i < wire_len && wire[i] != 0; i += 1u + wire[i]) {
		if (n > 0)
			text[n++] = '.';
		for (size_t j = 1; j <= wire[i]; j++) {
			unsigned char c = wire[i + j];
			/* A '.' would split the label in the text form; raw UTF-8
			 * is not what resolvers look up as punycode. */
			if (c == '.' || c == '\0' || c >= 0x80)
				return diag_fail(
				        d, -EINVAL, "label '%s' holds %s, which no host name has",
				        diag_escape((const char *)wire + i + 1, wire[i], esc,
				                    sizeof(esc)),
				        c == '.' ? "a '.'"
				                 : (c == 0 ? "a NUL byte" : "a non-ASCII byte"));
			text[n++] = (char)c;
		}
	}
	return name_normalize(text, n, out, ret_len, d);
}

/* Fill a question's name from its wire form: name_ok says whether it is a
 * host name.  Returns 0 or -ENOMEM; refusal is not an error here. */
static int question_text(struct dns_question *q, struct diag *d)
{
	int r = wire_to_text(q->wire, q->wire_len, q->name, &q->name_len, d);
	q->name_ok = r == 0;
	if (r < 0) {
		q->name[0] = '\0';
		q->name_len = 0;
	}
	if (r == -ENOMEM)
		return diag_fail(d, r, "out of memory while checking a name");
	return 0;
}

static int parse_question(const uint8_t *msg, size_t len, size_t *pos, struct dns_question *q,
                          struct diag *d)
{
	int r = decode_name(msg, len, *pos, pos, q->wire, &q->wire_len, d);
	if (r < 0) {
		q->wire_len = 0;
		return r;
	}
	if (len - *pos < 4) {
		q->wire_len = 0;
		return diag_fail(d, DNS_ERR_MALFORMED,
		                 "question ends at offset %zu, before its type and class", len);
	}
	q->qtype = get16(msg + *pos);
	q->qclass = get16(msg + *pos + 2);
	*pos += 4;
	return 0;
}

/* The EDNS0 OPT record (RFC 6891 6.1): owned by the root, one at most, options
 * as code/length/data triples filling RDATA exactly. */
static int parse_opt(const uint8_t *msg, size_t wire_len, uint16_t udp_size, uint32_t ttl,
                     size_t rdata_off, uint16_t rdlength, struct dns_edns *edns, struct diag *d)
{
	if (edns->present)
		return diag_fail(d, DNS_ERR_MALFORMED, "message holds more than one OPT record");
	if (wire_len != 1)
		return diag_fail(d, DNS_ERR_MALFORMED, "OPT record is not owned by the root");
	for (size_t o = 0; o < rdlength;) {
		if (rdlength - o < 4 || get16(msg + rdata_off + o + 2) > rdlength - o - 4)
			return diag_fail(d, DNS_ERR_MALFORMED,
			                 "EDNS option at offset %zu runs past its OPT record",
			                 rdata_off + o);
		o += 4u + get16(msg + rdata_off + o + 2);
	}
	edns->present = true;
	edns->udp_size = udp_size;
	edns->ext_rcode = (uint8_t)(ttl >> 24);
	edns->version = (uint8_t)(ttl >> 16);
	edns->dnssec_ok = ttl & EDNS_DO;
	return 0;
}

/* Walk the answer, authority and additional sections from *pos, checking every
 * record.  With `resp`, keep the first DNS_ANSWERS_MAX answers there. */
static int parse_records(const uint8_t *msg, size_t len, size_t *pos, const struct dns_header *h,
                         struct dns_edns *edns, struct dns_response *resp, struct diag *d)
{
	const uint16_t counts[] = {h->ancount, h->nscount, h->arcount};
	uint8_t owner[DNS_NAME_WIRE_MAX], target[DNS_NAME_WIRE_MAX];
	size_t owner_len, target_len, end;
	int r;

	for (unsigned s = SECTION_ANSWER; s <= SECTION_ADDITIONAL; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			size_t at = *pos;
			r = decode_name(msg, len, *pos, pos, owner, &owner_len, d);
			if (r < 0)
				return r;
			if (len - *pos < RR_FIXED_SIZE)
				return diag_fail(
				        d, DNS_ERR_MALFORMED,
				        "%s record %u of %u at offset %zu is cut off by the "
				        "end of the message",
				        section_names[s], i + 1, counts[s], at);
			uint16_t type = get16(msg + *pos);
			uint16_t rclass = get16(msg + *pos + 2);
			uint32_t ttl = get32(msg + *pos + 4);
			uint16_t rdlength = get16(msg + *pos + 8);
			size_t rdata_off = *pos + RR_FIXED_SIZE;
			if (rdlength > len - rdata_off)
				return diag_fail(
				        d, DNS_ERR_MALFORMED,
				        "%s record %u at offset %zu: RDLENGTH %u runs past "
				        "the end of the message",
				        section_names[s], i + 1, at, rdlength);
			*pos = rdata_off + rdlength;

			if (type == DNS_TYPE_OPT) {
				if (s != SECTION_ADDITIONAL)
					return diag_fail(d, DNS_ERR_MALFORMED,
					                 "OPT record in the %s section",
					                 section_names[s]);
				r = parse_opt(msg, owner_len, rclass, ttl, rdata_off, rdlength,
				              edns, d);
				if (r < 0)
					return r;
				continue;
			}
			size_t want = type == DNS_TYPE_A ? 4 : type == DNS_TYPE_AAAA ? 16 : 0;
			if (want && rclass == DNS_CLASS_IN && rdlength != want)
				return diag_fail(d, DNS_ERR_MALFORMED,
				                 "%s record %u at offset %zu: RDLENGTH of an %s "
				                 "record is %u, not %zu",
				                 section_names[s], i + 1, at,
				                 type == DNS_TYPE_A ? "A" : "AAAA", rdlength, want);
			if (type == DNS_TYPE_CNAME) {
				r = decode_name(msg, len, rdata_off, &end, target, &target_len, d);
				if (r < 0)
					return r;
				if (end != *pos)
					return diag_fail(d, DNS_ERR_MALFORMED,
					                 "%s record %u at offset %zu: CNAME target "
					                 "does not fill its RDLENGTH of %u",
					                 section_names[s], i + 1, at, rdlength);
			}

			if (!resp || s != SECTION_ANSWER)
				continue;
			if (resp->n_answers == DNS_ANSWERS_MAX) {
				resp->answers_dropped++;
				continue;
			}
			struct dns_rr *rr = &resp->answers[resp->n_answers++];
			memset(rr, 0, sizeof(*rr));
			rr->type = type;
			rr->rclass = rclass;
			rr->ttl = ttl > DNS_TTL_MAX ? 0 : ttl;
			rr->rdlength = rdlength;
			rr->rdata_off = (uint16_t)rdata_off;
			r = wire_to_text(owner, owner_len, rr->name, &rr->name_len, NULL);
			if (r == -ENOMEM)
				return r;
			rr->name_ok = r == 0;
			if (!rr->name_ok) {
				rr->name[0] = '\0';
				rr->name_len = 0;
			}
			if (want && rclass == DNS_CLASS_IN)
				memcpy(rr->addr, msg + rdata_off, want);
			if (type == DNS_TYPE_CNAME) {
				r = wire_to_text(target, target_len, rr->target, &rr->target_len,
				                 NULL);
				if (r == -ENOMEM)
					return r;
				rr->target_ok = r == 0;
				if (!rr->target_ok) {
					rr->target[0] = '\0';
					rr->target_len = 0;
				}
			}
		}
	}
	if (*pos != len)
		return diag_fail(d, DNS_ERR_MALFORMED,
		                 "%zu bytes follow the last record the header declares",
		                 len - *pos);
	return 0;
}

/* Header checks both parsers share: size, direction and QDCOUNT. */
static int parse_start(const uint8_t *msg, size_t len, bool want_qr, struct dns_header *h,
                       struct diag *d)
{
	if (len < DNS_HEADER_SIZE)
		return diag_fail(d, DNS_ERR_MALFORMED,
		                 "DNS message of %zu bytes is shorter than its %d-byte header", len,
		                 DNS_HEADER_SIZE);
	parse_header(msg, h);
	if (len > DNS_MSG_MAX)
		return diag_fail(d, DNS_ERR_MALFORMED,
		                 "DNS message of %zu bytes is longer than %d bytes", len,
		                 DNS_MSG_MAX);
	if (h->qr != want_qr)
		return diag_fail(d, DNS_ERR_QR, "expected a DNS %s, got a %s",
		                 want_qr ? "response" : "query", h->qr ? "response" : "query");
	if (h->qdcount != 1)
		return diag_fail(d, DNS_ERR_QDCOUNT,
		                 "DNS message holds %u questions; exactly one is supported",
		                 h->qdcount);
	return 0;
}

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *ret, struct diag *d)
{
	size_t pos = DNS_HEADER_SIZE;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = parse_start(msg, len, false, &ret->header, d);
	if (r < 0)
		return r;
	r = parse_question(msg, len, &pos, &ret->question, d);
	if (r < 0)
		return r;
	r = parse_records(msg, len, &pos, &ret->header, &ret->edns, NULL, d);
	if (r < 0) {
		memset(&ret->question, 0, sizeof(ret->question));
		return r;
	}
	r = question_text(&ret->question, d);
	if (r < 0)
		return r;
	if (!ret->question.name_ok) {
		diag_prefix(d, "question name refused: ");
		return DNS_ERR_NAME;
	}
	return 0;
}

int dns_parse_response(const uint8_t *msg, size_t len, struct dns_response *ret, struct diag *d)
{
	size_t pos = DNS_HEADER_SIZE;
	int r;

	/* The answers are written as they are kept; zero only the rest. */
	memset(ret, 0, offsetof(struct dns_response, answers));
	r = parse_start(msg, len, true, &ret->header, d);
	if (r < 0)
		return r;
	r = parse_question(msg, len, &pos, &ret->question, d);
	if (r < 0)
		return r;
	r = parse_records(msg, len, &pos, &ret->header, &ret->edns, ret, d);
	if (r == 0)
		r = question_text(&ret->question, NULL);
	if (r < 0) {
		struct dns_header h = ret->header;
		memset(ret, 0, offsetof(struct dns_response, answers));
		ret->header = h;
	}
	return r;
}

static uint8_t ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

bool dns_question_matches(const struct dns_question *asked, const struct dns_question *got)
{
	if (asked->wire_len == 0 || asked->wire_len != got->wire_len ||
	    asked->qtype != got->qtype || asked->qclass != got->qclass)
		return false;
	/* Length bytes are at most 63, below 'A', so folding them is harmless. */
	for (size_t i = 0; i < asked->wire_len; i++)
		if (ascii_lower(asked->wire[i]) != ascii_lower(got->wire[i]))
			return false;
	return true;
}

/* Header of a reply to `q`'s header: its ID, opcode, RD and CD; QR and RA. */
static void put_reply_header(uint8_t *buf, const struct dns_header *q, uint8_t rcode,
                             uint16_t qdcount, uint16_t ancount)
{
	uint16_t flags = FLAG_QR | FLAG_RA | (uint16_t)(q->opcode << OPCODE_SHIFT) |
	                 (q->rd ? FLAG_RD : 0) | (q->cd ? FLAG_CD : 0) | (rcode & RCODE_MASK);
	put16(buf, q->id);
	put16(buf + 2, flags);
	put16(buf + 4, qdcount);
	put16(buf + 6, ancount);
	put16(buf + 8, 0);
	put16(buf + 10, 0);
}

/* Header and echoed question; returns the length written or -ENOSPC. */
static int put_reply_start(const struct dns_query *q, uint8_t rcode, uint16_t ancount, uint8_t *buf,
                           size_t size)
{
	const struct dns_question *qn = &q->question;
	size_t n = DNS_HEADER_SIZE + qn->wire_len + 4;

	if (n > size)
		return -ENOSPC;
	put_reply_header(buf, &q->header, rcode, 1, ancount);
	memcpy(buf + DNS_HEADER_SIZE, qn->wire, qn->wire_len);
	put16(buf + DNS_HEADER_SIZE + qn->wire_len, qn->qtype);
	put16(buf + DNS_HEADER_SIZE + qn->wire_len + 2, qn->qclass);
	return (int)n;
}

int dns_build_reply(const struct dns_query *q, uint8_t rcode, uint8_t *buf, size_t size)
{
	if (rcode > RCODE_MASK || q->question.wire_len == 0 ||
	    q->question.wire_len > DNS_NAME_WIRE_MAX)
		return -EINVAL;
	return put_reply_start(q, rcode, 0, buf, size);
}

int dns_build_address_reply(const struct dns_query *q, const uint8_t *addr, size_t addr_len,
                            uint32_t ttl, uint8_t *buf, size_t size)
{
	const struct dns_question *qn = &q->question;
	uint16_t type;

	if (addr_len == 4)
		type = DNS_TYPE_A;
	else if (addr_len == 16)
		type = DNS_TYPE_AAAA;
	else
		return -EINVAL;
	if (ttl > DNS_TTL_MAX || qn->wire_len == 0 || qn->wire_len > DNS_NAME_WIRE_MAX ||
	    (qn->qtype != type && qn->qtype != DNS_TYPE_ANY) ||
	    (qn->qclass != DNS_CLASS_IN && qn->qclass != DNS_CLASS_ANY))
		return -EINVAL;

	int n = put_reply_start(q, DNS_RCODE_NOERROR, 1, buf, size);
	if (n < 0)
		return n;
	size_t at = (size_t)n;
	if (size - at < 2 + RR_FIXED_SIZE + addr_len)
		return -ENOSPC;
	/* The owner: a pointer to the question's name, right after the header. */
	put16(buf + at, (uint16_t)(LABEL_POINTER << 8 | DNS_HEADER_SIZE));
	put16(buf + at + 2, type);
	put16(buf + at + 4, DNS_CLASS_IN);
	put32(buf + at + 6, ttl);
	put16(buf + at + 10, (uint16_t)addr_len);
	memcpy(buf + at + 12, addr, addr_len);
	return (int)(at + 2 + RR_FIXED_SIZE + addr_len);
}

int dns_build_formerr(const uint8_t *msg, size_t len, uint8_t *buf, size_t size)
{
	struct dns_header h = {0};

	if (size < DNS_HEADER_SIZE)
		return -ENOSPC;
	if (len >= 2)
		h.id = get16(msg);
	if (len >= 3) {
		h.opcode = (uint8_t)((msg[2] >> 3) & 0x0f);
		h.rd = msg[2] & (FLAG_RD >> 8);
	}
	put_reply_header(buf, &h, DNS_RCODE_FORMERR, 0, 0);
	return DNS_HEADER_SIZE;
}

int dns_build_query(const struct dns_query_spec *spec, uint8_t *buf, size_t size, struct diag *d)
{
	char name[NAME_BUF_SIZE];
	size_t name_len;
	int r;

	r = name_normalize(spec->name, spec->name_len, name, &name_len, d);
	if (r < 0)
		return r;
	/* Each dot becomes a length byte, plus one in front and the root's zero. */
	size_t wire_len = name_len + 2;
	size_t n = DNS_HEADER_SIZE + wire_len + 4 + (spec->edns_udp_size ? 11 : 0);
	if (n > size)
		return -ENOSPC;

	put16(buf, spec->id);
	put16(buf + 2, FLAG_RD);
	put16(buf + 4, 1);
	put16(buf + 6, 0);
	put16(buf + 8, 0);
	put16(buf + 10, spec->edns_udp_size ? 1 : 0);

	uint8_t *w = buf + DNS_HEADER_SIZE;
	size_t label_start = 0;
	for (size_t i = 0; i <= name_len; i++) {
		if (i < name_len && name[i] != '.')
			continue;
		size_t label_len = i - label_start;
		*w++ = (uint8_t)label_len;
		memcpy(w, name + label_start, label_len);
		w += label_len;
		label_start = i + 1;
	}
	*w++ = 0;
	put16(w, spec->qtype);
	put16(w + 2, spec->qclass);
	w += 4;
	if (spec->edns_udp_size) {
		*w++ = 0; /* owned by the root */
		put16(w, DNS_TYPE_OPT);
		put16(w + 2, spec->edns_udp_size);
		put32(w + 4, 0); /* extended rcode, version 0, no flags */
		put16(w + 8, 0); /* no options */
	}
	return (int)n;
}

int dns_set_id(uint8_t *msg, size_t len, uint16_t id)
{
	if (len < DNS_HEADER_SIZE)
		return -EBADMSG;
	put16(msg, id);
	return 0;
}

const char *dns_type_name(uint16_t type, char buf[static DNS_TYPE_NAME_SIZE])
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
	        {DNS_TYPE_A, "A"},         {DNS_TYPE_NS, "NS"},     {DNS_TYPE_CNAME, "CNAME"},
	        {DNS_TYPE_SOA, "SOA"},     {DNS_TYPE_NULL, "NULL"}, {DNS_TYPE_PTR, "PTR"},
	        {DNS_TYPE_MX, "MX"},       {DNS_TYPE_TXT, "TXT"},   {DNS_TYPE_AAAA, "AAAA"},
	        {DNS_TYPE_SRV, "SRV"},     {DNS_TYPE_OPT, "OPT"},   {DNS_TYPE_SVCB, "SVCB"},
	        {DNS_TYPE_HTTPS, "HTTPS"}, {DNS_TYPE_ANY, "ANY"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].type == type)
			return names[i].name;
	snprintf(buf, DNS_TYPE_NAME_SIZE, "TYPE%u", type);
	return buf;
}

const char *dns_rcode_name(uint16_t rcode, char buf[static DNS_RCODE_NAME_SIZE])
{
	static const char *const names[] = {
	        [DNS_RCODE_NOERROR] = "NOERROR",   [DNS_RCODE_FORMERR] = "FORMERR",
	        [DNS_RCODE_SERVFAIL] = "SERVFAIL", [DNS_RCODE_NXDOMAIN] = "NXDOMAIN",
	        [DNS_RCODE_NOTIMP] = "NOTIMP",     [DNS_RCODE_REFUSED] = "REFUSED",
	};

	if (rcode < ARRAY_SIZE(names))
		return names[rcode];
	snprintf(buf, DNS_RCODE_NAME_SIZE, "RCODE%u", rcode);
	return buf;
}
