/* wire.h - DNS messages (RFC 1035) as bytes: parse a client's query and an
 * upstream resolver's response, build the few messages the gateway sends.
 *
 * Input is one whole message: a UDP payload, or a TCP message body with its
 * 2-byte length prefix already removed.  The parsers read nothing outside
 * [msg, msg + len), keep no state between calls and fill caller-provided
 * structs of fixed size; the builders write into a caller-provided buffer of
 * a stated size.  Nothing here allocates; name_normalize() (which turns every
 * name into airlock's canonical text) asks libidn2 to check "xn--" labels.
 *
 * What a parser accepts ("well-formed"):
 *   - a 12-byte header, then exactly the records its four counts declare, and
 *     nothing after them (trailing bytes are refused: data the filter has not
 *     walked is never relayed);
 *   - names of labels of 1..63 bytes, at most 255 bytes in uncompressed wire
 *     form; compression pointers that point into the message body (never the
 *     header) and strictly before the label sequence holding them, at most
 *     DNS_POINTER_HOPS_MAX of them per name (so no loop, no forward pointer);
 *   - A and AAAA records of class IN with RDATA of exactly 4 and 16 bytes, and
 *     CNAME targets that are well-formed names filling their RDATA exactly;
 *   - at most one OPT record (EDNS0, RFC 6891), in the additional section,
 *     owned by the root, with options that fill its RDATA exactly.
 * Anything else is DNS_ERR_MALFORMED.  Names that are well-formed on the wire
 * but are not host names (see name_normalize(); also the root ".", and labels
 * holding '.', NUL or bytes >= 0x80, which raw DNS names may carry and text
 * names cannot) are never given out as text: the query parser returns
 * DNS_ERR_NAME, the response parser clears the name's `*_ok` flag.
 *
 * Results: 0, or one of the negative errno values below.  The parsers write
 * one sentence into `d` (may be NULL) on failure.  Whatever the result, the
 * parsed header is filled in whenever len >= DNS_HEADER_SIZE, so a caller can
 * still read the ID, the opcode or TC.
 *
 * Pure: no I/O, no global state.  Nothing is retained: outputs hold copies or
 * offsets into `msg`, never pointers to it.
 */
#ifndef AIRLOCK_DNS_WIRE_H
#define AIRLOCK_DNS_WIRE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/name.h"
#include "util/diag.h"

#define DNS_HEADER_SIZE      12
#define DNS_MSG_MAX          65535 /* a TCP message body */
#define DNS_UDP_CLASSIC_MAX  512   /* UDP without EDNS0 (RFC 1035 4.2.1) */
#define DNS_NAME_WIRE_MAX    255   /* uncompressed wire form, with the root's zero */
#define DNS_LABEL_MAX        63
#define DNS_POINTER_HOPS_MAX 64 /* compression pointers followed per name */
#define DNS_ANSWERS_MAX      64 /* answer records a response keeps; more are walked, not kept */
#define DNS_TTL_MAX          0x7fffffffu /* RFC 2181 8: larger TTLs mean 0 */

/* The negative results, beyond those of name_normalize() (-ENOMEM). */
#define DNS_ERR_MALFORMED (-EBADMSG)    /* not a well-formed message: answer FORMERR */
#define DNS_ERR_QDCOUNT   (-EOPNOTSUPP) /* well-formed header, QDCOUNT != 1: answer FORMERR */
#define DNS_ERR_QR                                                                                 \
	(-EPROTO) /* a response where a query was expected, or the                                 \
	           * reverse: never answer it */
#define DNS_ERR_NAME                                                                               \
	(-EINVAL) /* the question name is not a host name; the rest                                \
	           * of the query is valid (see dns_parse_query) */

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_NULL = 10,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_SVCB = 64,
	DNS_TYPE_HTTPS = 65,
	DNS_TYPE_ANY = 255,
};

enum dns_class {
	DNS_CLASS_IN = 1,
	DNS_CLASS_CH = 3,
	DNS_CLASS_ANY = 255,
};

enum dns_opcode {
	DNS_OPCODE_QUERY = 0,
};

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};

struct dns_header {
	uint16_t id;
	uint16_t flags; /* as on the wire; the fields below are decoded from it */
	bool qr, aa, tc, rd, ra, ad, cd;
	uint8_t opcode; /* 0..15 */
	uint8_t rcode;  /* 0..15; EDNS0's extended bits are in struct dns_edns */
	uint16_t qdcount, ancount, nscount, arcount;
};

struct dns_question {
	/* The name uncompressed, case as received; wire_len >= 1 once a question
	 * was decoded, 0 if none was. */
	size_t wire_len;
	uint8_t wire[DNS_NAME_WIRE_MAX];
	/* The canonical host name (name_normalize()), or "" with name_ok false. */
	bool name_ok;
	size_t name_len;
	char name[NAME_BUF_SIZE];
	uint16_t qtype;
	uint16_t qclass;
};

struct dns_edns {
	bool present;
	uint16_t udp_size; /* as advertised; RFC 6891 reads values below 512 as 512 */
	uint8_t ext_rcode; /* upper 8 bits of the 12-bit rcode */
	uint8_t version;
	bool dnssec_ok;
};

struct dns_query {
	struct dns_header header;
	struct dns_question question;
	struct dns_edns edns;
};

/* One answer record. */
struct dns_rr {
	bool name_ok; /* owner name, canonical; "" when not a host name */
	size_t name_len;
	char name[NAME_BUF_SIZE];
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl; /* clamped: above DNS_TTL_MAX reads as 0 */
	uint16_t rdlength;
	uint16_t rdata_off; /* RDATA is msg[rdata_off .. rdata_off + rdlength) */
	/* A (4 bytes) and AAAA (16 bytes) of class IN, network order. */
	uint8_t addr[16];
	/* CNAME: the target, canonical; "" when not a host name. */
	bool target_ok;
	size_t target_len;
	char target[NAME_BUF_SIZE];
};

struct dns_response {
	struct dns_header header;
	struct dns_question question; /* check it against what was asked */
	struct dns_edns edns;
	/* The first DNS_ANSWERS_MAX answer records, in message order;
	 * answers_dropped counts the well-formed ones past that cap. */
	unsigned n_answers;
	unsigned answers_dropped;
	struct dns_rr answers[DNS_ANSWERS_MAX];
};

/* Parse a query a client sent.  Returns 0 with *ret filled, or:
 *   DNS_ERR_MALFORMED  header (if len >= 12) filled;
 *   DNS_ERR_QR         QR is 1; header filled;
 *   DNS_ERR_QDCOUNT    header filled;
 *   DNS_ERR_NAME       everything filled except question.name (empty,
 *                      name_ok false): a reply can still echo the question.
 * The opcode is reported, not checked: answer anything but DNS_OPCODE_QUERY
 * with NOTIMP. */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *ret, struct diag *d);

/* Parse a response from an upstream resolver.  Returns 0 with *ret filled
 * (names that are not host names flagged, not refused), DNS_ERR_MALFORMED,
 * DNS_ERR_QR (QR is 0) or DNS_ERR_QDCOUNT; on errors only the header (if
 * len >= 12) is meaningful. */
int dns_parse_response(const uint8_t *msg, size_t len, struct dns_response *ret, struct diag *d);

/* Whether `got` (a response's question) is the question `asked`: same type and
 * class, and the same wire name ignoring ASCII case.  False if either holds no
 * question. */
bool dns_question_matches(const struct dns_question *asked, const struct dns_question *got);

/* The builders return the message's length, -ENOSPC if it does not fit in
 * `size` bytes (buf then holds garbage), or -EINVAL for arguments they
 * refuse.  Replies set QR and RA, and copy the query's ID, opcode, RD and CD. */

/* A reply without records, echoing the question of `q` (a query that parsed
 * with 0 or DNS_ERR_NAME), with rcode 0..15. */
int dns_build_reply(const struct dns_query *q, uint8_t rcode, uint8_t *buf, size_t size);

/* A NOERROR reply holding one answer: an A record if addr_len is 4, AAAA if 16,
 * class IN, owned by the question's name, with `ttl` (at most DNS_TTL_MAX).
 * -EINVAL unless the question is of class IN or ANY and of that type or ANY. */
int dns_build_address_reply(const struct dns_query *q, const uint8_t *addr, size_t addr_len,
                            uint32_t ttl, uint8_t *buf, size_t size);

/* A FORMERR header (no question, all counts 0) for a message that could not be
 * parsed: its ID is copied if at least 2 bytes came, its opcode and RD if 3.
 * Do not answer a message whose QR bit is set. */
int dns_build_formerr(const uint8_t *msg, size_t len, uint8_t *buf, size_t size);

struct dns_query_spec {
	uint16_t id;
	const char *name; /* any text name_normalize() accepts; sent canonical */
	size_t name_len;
	uint16_t qtype;
	uint16_t qclass;
	uint16_t edns_udp_size; /* 0: no OPT record; else one advertising this size */
};

/* A query with RD set and one question.  -EINVAL (with `d` saying why) if the
 * name is refused. */
int dns_build_query(const struct dns_query_spec *spec, uint8_t *buf, size_t size, struct diag *d);

/* Set the ID of the message in msg[0..len) in place.  -EBADMSG if len < 12. */
int dns_set_id(uint8_t *msg, size_t len, uint16_t id);

/* "A", "AAAA", ... for the types above, otherwise "TYPE1234" written into buf
 * (RFC 3597).  Returns a string valid as long as buf is. */
#define DNS_TYPE_NAME_SIZE sizeof("TYPE65535")
const char *dns_type_name(uint16_t type, char buf[static DNS_TYPE_NAME_SIZE]);

/* "NOERROR", "NXDOMAIN", ... or "RCODE12". */
#define DNS_RCODE_NAME_SIZE sizeof("RCODE65535")
const char *dns_rcode_name(uint16_t rcode, char buf[static DNS_RCODE_NAME_SIZE]);

#endif
