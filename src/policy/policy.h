/* policy.h - compiled policy snapshots and the decisions they make.
 *
 * A policy is built in two steps.  A policy_builder collects rules, each with
 * its action and where it came from (a profile file and line, the command
 * line, a Claude settings file...); rules can also be removed, which is how a
 * profile that `extends` another takes rules away.  policy_compile() then
 * turns the builder into an immutable, reference-counted struct policy.
 *
 * Precedence (docs/rules.md): among the rules that match a query, the most
 * specific wins.  For names, a match on a longer suffix beats a shorter one
 * and an exact rule beats `.example.com` on the apex; for addresses the
 * longer prefix wins.  Then a rule with a narrower port range beats a wider
 * one, and a rule without a port is the widest.  On a tie, block wins.  No
 * match: the policy's default.  A policy whose network is "none"
 * (airgapped) refuses everything, whatever its rules.
 *
 * A query with port 0 asks "is any port allowed?" - the question a DNS
 * filter asks of a name - and is answered exactly, by evaluating the ports
 * at which the matching rules' ranges begin and end.
 *
 * Lookups allocate nothing and take no locks; a compiled policy may be read
 * from any thread.  Reloading builds a new snapshot and swaps it into a
 * policy_slot, so no reader ever sees a half-applied change.
 */
#ifndef AIRLOCK_POLICY_POLICY_H
#define AIRLOCK_POLICY_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/rule.h"
#include "util/diag.h"

/* A cap on what any config can make us hold in memory. */
#define POLICY_MAX_RULES (16u * 1024 * 1024)

struct policy_builder;
struct policy;

struct policy_builder *policy_builder_new(void);
void policy_builder_free(struct policy_builder *b);
DEFINE_POINTER_CLEANUP(struct policy_builder, policy_builder_free)

/* Intern an origin label ("command line", "profiles/standard.conf"...).
 * The id is what policy_builder_add() takes. */
int policy_builder_origin(struct policy_builder *b, const char *label, uint32_t *ret_id);

/* Add a rule.  `line` is the line in the origin (0 when it has none).
 * -E2BIG past POLICY_MAX_RULES, -ENOMEM. */
int policy_builder_add(struct policy_builder *b, enum action action, const struct rule *r,
                       uint32_t origin, uint32_t line);

/* Remove every rule equal to `r` (any action).  -ENOENT when none was there. */
int policy_builder_remove(struct policy_builder *b, const struct rule *r);

void policy_builder_set_default(struct policy_builder *b, enum action action);
enum action policy_builder_default(const struct policy_builder *b);
void policy_builder_set_network_none(struct policy_builder *b, bool none);
bool policy_builder_network_none(const struct policy_builder *b);

/* Rules currently in the builder, per action (removed ones not counted). */
size_t policy_builder_count(const struct policy_builder *b, enum action action);

/* Compile and consume the builder (freed whatever the outcome).  Fails with
 * -EINVAL if the network is "none" but allow rules were given. */
int policy_compile(struct policy_builder *b, struct policy **ret, struct diag *d);

struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p);
DEFINE_POINTER_CLEANUP(struct policy, policy_unref)

enum decided_by {
	DECIDED_BY_RULE,
	DECIDED_BY_DEFAULT,
	DECIDED_BY_NO_NETWORK,
};

#define POLICY_NO_RULE UINT32_MAX

struct decision {
	enum action verdict;
	enum decided_by by;
	uint32_t rule; /* when by == DECIDED_BY_RULE: index for policy_rule_info() */
};

/* `name` must be canonical (name_normalize()).  port 0: any port. */
void policy_decide_name(const struct policy *p, const char *name, size_t len, uint16_t port,
                        struct decision *ret);

/* family 4 (4 bytes) or 6 (16 bytes); IPv4-mapped IPv6 is matched as IPv4. */
void policy_decide_addr(const struct policy *p, uint8_t family, const uint8_t *addr, uint16_t port,
                        struct decision *ret);

void policy_decide(const struct policy *p, const struct target *t, struct decision *ret);

struct rule_info {
	struct rule rule;
	enum action action;
	const char *origin; /* valid while the policy is */
	uint32_t line;
};

size_t policy_rule_count(const struct policy *p);
void policy_rule_info(const struct policy *p, uint32_t index, struct rule_info *ret);
enum action policy_default(const struct policy *p);
bool policy_network_none(const struct policy *p);

/* Bytes held by the compiled snapshot. */
size_t policy_memory(const struct policy *p);

/* The current snapshot for a gateway.  acquire() and replace() are called
 * from the one thread that owns the slot (the gateway's event loop); the
 * references they hand out may be dropped on any thread.  A connection keeps
 * the reference it was accepted under, so a reload never changes the rules
 * half-way through one decision. */
struct policy_slot {
	_Atomic(struct policy *) current;
};

/* Returns a new reference (NULL if the slot is empty). */
struct policy *policy_slot_acquire(struct policy_slot *s);
/* Takes ownership of `p`; drops the slot's reference to the old snapshot. */
void policy_slot_replace(struct policy_slot *s, struct policy *p);

#endif
