/* flow_check.h - what the gateway decides about a TCP flow from its first
 * bytes and where it is going.  Pure: a policy snapshot and the
 * name<->address map are read, nothing else; no I/O, no allocation.
 *
 * Three users:
 *   - transparent interception (a flow nftables redirected to the gateway):
 *     flow_sniff() reads the name the client's first bytes carry (TLS SNI,
 *     HTTP Host), then flow_decide_name() or flow_decide_addr() decides on
 *     that name and the flow's original destination;
 *   - the first bytes of a CONNECT tunnel: flow_sniff(FLOW_SNIFF_TLS_ONLY),
 *     and a ClientHello naming another host than the CONNECT target is
 *     decided with flow_decide_name() against the address dialled;
 *   - a policy change: flow_recheck() re-decides an open flow from its
 *     flow_key under the new snapshot.
 *
 * The consistency rule.  A name may carry a flow only to an address that
 * name leads to: the destination is one of the addresses the name resolved
 * to (the map: the DNS service and the proxy's resolver record every vetted
 * answer there), or an explicit CIDR rule allows the destination (a default
 * of "allow" never counts for an address, as in the proxy).  An allowed name
 * sent to an address it is not known to resolve to gets FLOW_RESOLVE: the
 * gateway resolves the name itself (resolver.h: the same vetting) and
 * flow_decide_resolved() allows the flow only if the destination is among
 * the answers.  So a ClientHello naming an allowed host, sent to the address
 * of a host the policy refuses, is refused (domain fronting across
 * policies).
 *
 * The name wins.  When the first bytes name a host, that name decides: a
 * refused name is refused even if a CIDR rule allows the address (the most
 * specific statement about the flow is its name).  Without a name (no SNI,
 * not TLS or HTTP, a client that sent nothing), the map says which names
 * resolved to the destination: the flow is allowed when one of them is
 * allowed at that port (the client may have resolved that one), refused
 * when all of them are refused, and only without any name is the address
 * decided alone, by an explicit CIDR rule.
 */
#ifndef AIRLOCK_GATEWAY_FLOW_CHECK_H
#define AIRLOCK_GATEWAY_FLOW_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/addrmap.h"
#include "net/addr.h"
#include "policy/policy.h"

/* ---- the first bytes ------------------------------------------------------ */

enum flow_sniff_status {
	FLOW_SNIFF_NEED_MORE, /* a proper prefix of a ClientHello or a request head */
	FLOW_SNIFF_TLS,       /* a whole ClientHello; has_name when it had an SNI */
	FLOW_SNIFF_HTTP,      /* a whole HTTP/1.x request head; has_name unless its host is an IP */
	FLOW_SNIFF_OTHER,     /* neither TLS nor HTTP: decided on the address */
	FLOW_SNIFF_BAD,       /* a ClientHello or request head that is refused: `why` */
};

/* Only a ClientHello is looked for; anything else is OTHER at once. */
#define FLOW_SNIFF_TLS_ONLY 0x1u

#define FLOW_WHY_SIZE 192

struct flow_sniff {
	enum flow_sniff_status status;
	/* NEED_MORE: the input must be at least this long before the answer can
	 * change (> len). */
	size_t need;
	bool tls;      /* the bytes are TLS (every status but HTTP and OTHER may say so) */
	bool has_name; /* name[0, name_len): canonical (name_normalize) */
	size_t name_len;
	char name[NAME_BUF_SIZE];
	bool ech;     /* the ClientHello offers ECH: the name is its outer, public name */
	int http_400; /* BAD from an HTTP head: 400 is the answer; else 0 */
	char why[FLOW_WHY_SIZE];
};

/* Classify the first `len` bytes a client sent.  Starts with a TLS record
 * header (0x16 0x03 0x00..0x03): a ClientHello (proxy/tls_hello.h); one that
 * is malformed, too large or has an invalid SNI is BAD.  Starts (after any
 * empty lines) with an upper-case token and a space: an HTTP request head
 * (proxy/http_head.h) of at most `max_head` bytes, its host the name; one the
 * parser refuses is BAD, with http_400 set.  Anything else: OTHER.  Gives
 * NEED_MORE while the bytes could still become either.  A caller that peeks
 * at most max(TLS_HELLO_PEEK_MAX, max_head + 1) bytes always gets an answer
 * other than NEED_MORE once it has that many. */
void flow_sniff(const uint8_t *buf, size_t len, size_t max_head, unsigned flags,
                struct flow_sniff *ret);

/* ---- decisions ------------------------------------------------------------- */

enum flow_verdict {
	FLOW_ALLOW,
	FLOW_REFUSE,
	FLOW_RESOLVE, /* the name is allowed; resolve it, then flow_decide_resolved() */
};

/* Why the destination may be reached (with FLOW_ALLOW). */
enum flow_basis {
	FLOW_BASIS_NONE = 0,
	FLOW_BASIS_MAP,      /* the name resolved to it (the map) */
	FLOW_BASIS_RESOLVED, /* the gateway resolved the name and got it */
	FLOW_BASIS_CIDR,     /* an explicit CIDR rule allows it */
};

/* Why a flow is refused (with FLOW_REFUSE). */
enum flow_refusal {
	FLOW_REFUSAL_NONE = 0,
	FLOW_REFUSAL_NAME,         /* the name is refused at that port */
	FLOW_REFUSAL_INCONSISTENT, /* the name is allowed, but does not lead to the address */
	FLOW_REFUSAL_MAP_NAMES,    /* no name given; every name that resolved there is refused */
	FLOW_REFUSAL_ADDRESS,      /* no name at all; no CIDR rule allows the address */
};

struct flow_result {
	enum flow_verdict verdict;
	enum flow_basis basis;
	enum flow_refusal refusal;
	/* What to log as verdict, rule and origin: the decision on the name, or
	 * on the address when decided_on_addr. */
	struct decision decision;
	bool decided_on_addr;
	/* With basis CIDR and a name: the CIDR rule that let the address pass. */
	bool has_cidr_rule;
	uint32_t cidr_rule;
	/* The name decided on: the one given, or the map's for an address. */
	bool has_name;
	size_t name_len;
	char name[NAME_BUF_SIZE];
};

/* A flow naming canonical `name`, going to `dest` (its port is the port
 * decided on).  `map` may be NULL (nothing is known to resolve anywhere). */
void flow_decide_name(const struct policy *p, const struct addrmap *map, uint64_t now_ms,
                      const char *name, size_t len, const struct addr *dest,
                      struct flow_result *ret);

/* After FLOW_RESOLVE: the flow is allowed (basis RESOLVED) when `dest`'s
 * address is among `addrs` (ports ignored), else refused as INCONSISTENT.
 * `r` is the result flow_decide_name() gave. */
void flow_decide_resolved(struct flow_result *r, const struct addr *dest, const struct addr *addrs,
                          size_t n);

/* A flow without a name, going to `dest`. */
void flow_decide_addr(const struct policy *p, const struct addrmap *map, uint64_t now_ms,
                      const struct addr *dest, struct flow_result *ret);

/* ---- open flows after a policy change ------------------------------------- */

#define FLOW_KEY_NAMES 2

/* What an open flow was allowed on: the names it was decided on (the CONNECT
 * or request target, the Host or SNI, the map's name, and a ClientHello's
 * other name in a CONNECT tunnel) and its destination (address and port).
 * needs_cidr: the address itself had to be allowed by a CIDR rule (an IP
 * literal target, a nameless flow, a name whose address passed by CIDR). */
struct flow_key {
	struct addr dest;
	size_t n_names;
	struct {
		size_t len;
		char name[NAME_BUF_SIZE];
	} names[FLOW_KEY_NAMES];
	bool needs_cidr;
};

/* Add a canonical name to the key (ignored when it is there already or the
 * key is full). */
void flow_key_add_name(struct flow_key *k, const char *name, size_t len);

/* Still allowed under `p`?  Every name must be allowed at the port, and with
 * needs_cidr the address must be allowed by an explicit CIDR rule.  FLOW_ALLOW
 * or FLOW_REFUSE, with the refusing decision (and name) to log.  Addresses
 * are not re-resolved: a name that was consistent with its address stays so
 * (the map only grows until pairs expire). */
void flow_recheck(const struct policy *p, const struct flow_key *k, struct flow_result *ret);

/* A short phrase for the log: "refused by name", "address not among
 * NAME's", ... never NULL. */
const char *flow_refusal_text(enum flow_refusal r);
const char *flow_basis_text(enum flow_basis b);

#endif
