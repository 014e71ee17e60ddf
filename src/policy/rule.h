/* rule.h - one policy rule, parsed from the text a person writes.
 *
 * Syntax (docs/rules.md is the reference for users):
 *   example.com         exactly that name
 *   *.example.com       any name below example.com, not example.com itself
 *   .example.com        example.com and any name below it
 *   192.0.2.0/24        an IPv4 CIDR; a bare address means /32
 *   2001:db8::/32       an IPv6 CIDR; a bare address means /128
 * followed by an optional port or inclusive port range:
 *   example.com:443   *.example.com:8000-8999   192.0.2.0/24:22
 *   [2001:db8::/32]:443   (IPv6 with a port needs the brackets)
 *
 * Names are canonicalised by name_normalize().  Pure: no I/O, no globals.
 */
#ifndef AIRLOCK_POLICY_RULE_H
#define AIRLOCK_POLICY_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/name.h"
#include "util/diag.h"

enum action {
	ACTION_BLOCK = 0,
	ACTION_ALLOW = 1,
};

enum rule_kind {
	RULE_EXACT,      /* example.com */
	RULE_SUBDOMAINS, /* *.example.com */
	RULE_DOMAIN,     /* .example.com */
	RULE_CIDR,       /* 192.0.2.0/24, 2001:db8::/32 */
};

/* Inclusive range; {0, 0} means "any port". */
struct port_range {
	uint16_t lo, hi;
};

static inline bool port_range_is_any(struct port_range p)
{
	return p.lo == 0;
}

static inline bool port_range_contains(struct port_range p, uint16_t port)
{
	return p.lo == 0 || (port >= p.lo && port <= p.hi);
}

struct ip_prefix {
	uint8_t family;   /* 4 or 6 */
	uint8_t len;      /* prefix length in bits */
	uint8_t addr[16]; /* network order; bits past `len` are zero */
};

struct rule {
	enum rule_kind kind;
	struct port_range ports;
	/* Name rules: the canonical name after any "*." or "." prefix. */
	size_t name_len;
	char name[NAME_BUF_SIZE];
	/* RULE_CIDR only. */
	struct ip_prefix prefix;
};

/* Longest rule text accepted, and a buffer size that holds any formatted rule. */
#define RULE_INPUT_MAX (NAME_INPUT_MAX + 64)
#define RULE_TEXT_SIZE (NAME_BUF_SIZE + 64)

/* Parse one rule from `len` bytes (no surrounding whitespace expected).
 * Returns 0, or -EINVAL with `d` saying what is wrong. */
int rule_parse(const char *text, size_t len, struct rule *ret, struct diag *d);

/* Write the canonical text of `r` (what rule_parse accepts back) into buf.
 * Returns the length, as snprintf does. */
int rule_format(const struct rule *r, char *buf, size_t size);

/* Whether two parsed rules are the same rule (pattern and ports). */
bool rule_equal(const struct rule *a, const struct rule *b);

/* What a person asks about: `name[:port]`, `ip[:port]`, `[ipv6]:port`. */
struct target {
	bool is_addr;
	uint16_t port; /* 0: any port */
	size_t name_len;
	char name[NAME_BUF_SIZE];
	uint8_t family; /* 4 or 6 when is_addr */
	uint8_t addr[16];
};

int target_parse(const char *text, size_t len, struct target *ret, struct diag *d);

/* Write "name", "name:port", "192.0.2.1:port" or "[2001:db8::1]:port". */
int target_format(const struct target *t, char *buf, size_t size);

/* Mask `addr` (4 or 16 bytes per family) to `bits`, into `out`. */
void ip_mask(uint8_t family, const uint8_t *addr, unsigned bits, uint8_t out[16]);

#endif
