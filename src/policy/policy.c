#include "policy/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "policy/keymap.h"

/* One rule, compact enough to hold millions (24 bytes).  Its key lives in
 * the text arena: the canonical name, or for a CIDR the bytes
 * [family][prefix length][address, 4 or 16 bytes] - the same bytes the
 * CIDR index is keyed by, so the index needs no copy. */
struct policy_rule {
	uint8_t kind;     /* enum rule_kind */
	uint8_t action;   /* enum action */
	uint8_t text_len; /* names are at most 253 bytes, CIDR keys 18 */
	uint8_t removed;
	uint16_t port_lo, port_hi;
	uint32_t text_off;
	uint32_t line;
	uint32_t next; /* compiled: next rule with the same key, or POLICY_NO_RULE */
	uint16_t origin;
};

#define MAX_ORIGINS UINT16_MAX

struct policy_builder {
	struct policy_rule *rules;
	size_t n_rules, cap_rules, n_removed;
	char *text;
	size_t text_len, text_cap;
	char **origins;
	size_t n_origins;
	enum action default_action;
	bool network_none;
};

struct policy {
	atomic_uint refs;
	enum action default_action;
	bool network_none;
	struct policy_rule *rules;
	size_t n_rules;
	char *text;
	size_t text_len;
	char **origins;
	size_t n_origins;
	struct keymap names; /* canonical name -> first rule */
	struct keymap cidrs; /* [family][len][address bytes] -> first rule */
	/* Prefix lengths that occur, longest first. */
	uint8_t v4_lens[33], v6_lens[129];
	unsigned n_v4_lens, n_v6_lens;
};

/* ---- builder ---------------------------------------------------------- */

#define CIDR_KEY_MAX 18

static size_t cidr_key(uint8_t family, uint8_t len, const uint8_t *addr, uint8_t key[CIDR_KEY_MAX])
{
	size_t n = family == 4 ? 4 : 16;
	key[0] = family;
	key[1] = len;
	memcpy(key + 2, addr, n);
	return 2 + n;
}

struct policy_builder *policy_builder_new(void)
{
	struct policy_builder *b = calloc(1, sizeof(*b));
	if (b)
		b->default_action = ACTION_BLOCK;
	return b;
}

static void free_origins(char **origins, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(origins[i]);
	free(origins);
}

void policy_builder_free(struct policy_builder *b)
{
	if (!b)
		return;
	free(b->rules);
	free(b->text);
	free_origins(b->origins, b->n_origins);
	free(b);
}

int policy_builder_origin(struct policy_builder *b, const char *label, uint32_t *ret_id)
{
	for (size_t i = 0; i < b->n_origins; i++) {
		if (strcmp(b->origins[i], label) == 0) {
			*ret_id = (uint32_t)i;
			return 0;
		}
	}
	if (b->n_origins >= MAX_ORIGINS)
		return -E2BIG;
	char **o = reallocarray(b->origins, b->n_origins + 1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	b->origins = o;
	o[b->n_origins] = strdup(label);
	if (!o[b->n_origins])
		return -ENOMEM;
	*ret_id = (uint32_t)b->n_origins++;
	return 0;
}

static int text_append(struct policy_builder *b, const void *bytes, size_t len, uint32_t *ret_off)
{
	size_t need = b->text_len + len;
	if (need > UINT32_MAX)
		return -E2BIG;
	if (need > b->text_cap) {
		size_t cap = b->text_cap ? b->text_cap * 2 : 4096;
		while (cap < need)
			cap *= 2;
		char *t = realloc(b->text, cap);
		if (!t)
			return -ENOMEM;
		b->text = t;
		b->text_cap = cap;
	}
	memcpy(b->text + b->text_len, bytes, len);
	*ret_off = (uint32_t)b->text_len;
	b->text_len = need;
	return 0;
}

int policy_builder_add(struct policy_builder *b, enum action action, const struct rule *r,
                       uint32_t origin, uint32_t line)
{
	struct policy_rule pr = {
	        .kind = (uint8_t)r->kind,
	        .action = (uint8_t)action,
	        .port_lo = r->ports.lo,
	        .port_hi = r->ports.hi,
	        .origin = (uint16_t)origin,
	        .line = line,
	        .next = POLICY_NO_RULE,
	};
	uint8_t key[CIDR_KEY_MAX];
	int ret;

	if (b->n_rules - b->n_removed >= POLICY_MAX_RULES)
		return -E2BIG;
	if (b->n_rules == b->cap_rules) {
		size_t cap = b->cap_rules ? b->cap_rules * 2 : 64;
		struct policy_rule *rules = reallocarray(b->rules, cap, sizeof(*rules));
		if (!rules)
			return -ENOMEM;
		b->rules = rules;
		b->cap_rules = cap;
	}
	if (origin >= b->n_origins)
		return -EINVAL;
	if (r->kind == RULE_CIDR) {
		pr.text_len =
		        (uint8_t)cidr_key(r->prefix.family, r->prefix.len, r->prefix.addr, key);
		ret = text_append(b, key, pr.text_len, &pr.text_off);
	} else {
		pr.text_len = (uint8_t)r->name_len;
		ret = text_append(b, r->name, r->name_len, &pr.text_off);
	}
	if (ret < 0)
		return ret;
	b->rules[b->n_rules++] = pr;
	return 0;
}

static void rule_unpack(const struct policy_rule *pr, const char *text, struct rule *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = (enum rule_kind)pr->kind;
	r->ports.lo = pr->port_lo;
	r->ports.hi = pr->port_hi;
	if (pr->kind == RULE_CIDR) {
		const uint8_t *key = (const uint8_t *)text + pr->text_off;
		r->prefix.family = key[0];
		r->prefix.len = key[1];
		memcpy(r->prefix.addr, key + 2, (size_t)pr->text_len - 2);
	} else {
		r->name_len = pr->text_len;
		memcpy(r->name, text + pr->text_off, pr->text_len);
		r->name[pr->text_len] = '\0';
	}
}

int policy_builder_remove(struct policy_builder *b, const struct rule *r)
{
	bool found = false;
	for (size_t i = 0; i < b->n_rules; i++) {
		struct rule have;
		if (b->rules[i].removed)
			continue;
		rule_unpack(&b->rules[i], b->text, &have);
		if (rule_equal(&have, r)) {
			b->rules[i].removed = true;
			b->n_removed++;
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

void policy_builder_set_default(struct policy_builder *b, enum action action)
{
	b->default_action = action;
}

enum action policy_builder_default(const struct policy_builder *b)
{
	return b->default_action;
}

void policy_builder_set_network_none(struct policy_builder *b, bool none)
{
	b->network_none = none;
}

bool policy_builder_network_none(const struct policy_builder *b)
{
	return b->network_none;
}

size_t policy_builder_count(const struct policy_builder *b, enum action action)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n_rules; i++)
		n += !b->rules[i].removed && b->rules[i].action == action;
	return n;
}

/* ---- compile ----------------------------------------------------------- */

static void note_prefix_len(uint8_t *lens, unsigned *n, uint8_t len)
{
	for (unsigned i = 0; i < *n; i++)
		if (lens[i] == len)
			return;
	/* Insert keeping the list longest first. */
	unsigned i = *n;
	while (i > 0 && lens[i - 1] < len) {
		lens[i] = lens[i - 1];
		i--;
	}
	lens[i] = len;
	(*n)++;
}

static struct keymap *index_of(struct policy *p, const struct policy_rule *r)
{
	return r->kind == RULE_CIDR ? &p->cidrs : &p->names;
}

static int index_rule(struct policy *p, uint32_t idx, uint64_t hash)
{
	struct policy_rule *r = &p->rules[idx];
	uint32_t *head;
	int ret;

	ret = keymap_upsert_hashed(index_of(p, r), hash, r->text_off, r->text_len, &head);
	if (ret == 0 && r->kind == RULE_CIDR) {
		const uint8_t *key = (const uint8_t *)p->text + r->text_off;
		if (key[0] == 4)
			note_prefix_len(p->v4_lens, &p->n_v4_lens, key[1]);
		else
			note_prefix_len(p->v6_lens, &p->n_v6_lens, key[1]);
	}
	if (ret < 0)
		return ret;

	/* A rule identical to one already indexed (same pattern, ports and
	 * action) adds nothing; the first keeps its origin. */
	uint32_t *tail = head;
	for (uint32_t i = *head; i != POLICY_NO_RULE; i = p->rules[i].next) {
		const struct policy_rule *o = &p->rules[i];
		if (o->kind == r->kind && o->action == r->action && o->port_lo == r->port_lo &&
		    o->port_hi == r->port_hi)
			return 0;
		tail = &p->rules[i].next;
	}
	*tail = idx;
	return 0;
}

static uint64_t random_seed(void)
{
	uint64_t seed = 0;
	/* Without entropy the map still works; it only loses collision resistance. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = 0x9e3779b97f4a7c15ULL;
	return seed;
}

int policy_compile(struct policy_builder *b, struct policy **ret, struct diag *d)
{
	/* Consumed whatever the outcome: the builder is freed on every return. */
	_cleanup_(policy_builder_freep) struct policy_builder *consumed _unused_ = b;
	_cleanup_(policy_unrefp) struct policy *p = NULL;
	int r;

	if (b->network_none && policy_builder_count(b, ACTION_ALLOW) > 0)
		return diag_fail(d, -EINVAL,
		                 "this profile has no network (network = none), so allow rules "
		                 "cannot apply; use the strict profile to allow only chosen hosts");

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	atomic_init(&p->refs, 1);
	p->default_action = b->network_none ? ACTION_BLOCK : b->default_action;
	p->network_none = b->network_none;
	/* Take the builder's arrays; drop removed rules in place, and give back
	 * the slack the arrays grew with. */
	p->text = TAKE_PTR(b->text);
	p->text_len = b->text_len;
	p->origins = TAKE_PTR(b->origins);
	p->n_origins = b->n_origins;
	b->n_origins = 0;
	p->rules = TAKE_PTR(b->rules);
	size_t n_names = 0, n_cidrs = 0;
	for (size_t i = 0; i < b->n_rules; i++) {
		if (p->rules[i].removed)
			continue;
		p->rules[p->n_rules++] = p->rules[i];
		*(p->rules[i].kind == RULE_CIDR ? &n_cidrs : &n_names) += 1;
	}
	if (p->text_len) {
		char *t = realloc(p->text, p->text_len);
		p->text = t ? t : p->text;
	}
	if (p->n_rules) {
		struct policy_rule *rules = reallocarray(p->rules, p->n_rules, sizeof(*rules));
		p->rules = rules ? rules : p->rules;
	}

	/* The indexes point into the text, which no longer moves. */
	uint64_t seed = random_seed();
	keymap_init(&p->names, p->text, seed);
	keymap_init(&p->cidrs, p->text, seed);
	r = keymap_reserve(&p->names, n_names);
	if (r == 0)
		r = keymap_reserve(&p->cidrs, n_cidrs);
	if (r < 0)
		return diag_fail(d, r, "cannot index %zu rules: out of memory", p->n_rules);
	/* In batches: hash and prefetch, then insert, so the cache misses of a
	 * large policy overlap instead of queueing. */
	enum { BATCH = 16 };
	uint64_t hashes[BATCH];
	for (size_t i = 0; i < p->n_rules; i += BATCH) {
		size_t n = p->n_rules - i < BATCH ? p->n_rules - i : BATCH;
		for (size_t j = 0; j < n; j++) {
			const struct policy_rule *pr = &p->rules[i + j];
			struct keymap *m = index_of(p, pr);
			hashes[j] = keymap_hash(m, p->text + pr->text_off, pr->text_len);
			keymap_prefetch(m, hashes[j]);
		}
		for (size_t j = 0; j < n; j++) {
			r = index_rule(p, (uint32_t)(i + j), hashes[j]);
			if (r < 0)
				return diag_fail(d, r, "cannot index %zu rules: out of memory",
				                 p->n_rules);
		}
	}
	*ret = TAKE_PTR(p);
	return 0;
}

struct policy *policy_ref(struct policy *p)
{
	if (p)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void policy_unref(struct policy *p)
{
	if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	keymap_done(&p->names);
	keymap_done(&p->cidrs);
	free(p->rules);
	free(p->text);
	free_origins(p->origins, p->n_origins);
	free(p);
}

/* ---- decisions ---------------------------------------------------------- */

/* What a rule match is worth.  Higher wins: name (or prefix) specificity,
 * then port specificity, then block over allow. */
static uint32_t match_score(unsigned specificity, const struct policy_rule *r)
{
	uint32_t port_spec = 0;
	if (r->port_lo != 0)
		port_spec = 65536u - ((uint32_t)r->port_hi - r->port_lo + 1u);
	return (uint32_t)specificity << 17 | port_spec << 1 | (r->action == ACTION_BLOCK);
}

struct query {
	bool is_addr;
	const char *name;
	size_t len;
	uint8_t family;
	const uint8_t *addr;
};

/* Called for every rule whose pattern matches the query (ports not yet
 * considered).  Return false to stop the walk. */
typedef bool (*visit_fn)(const struct policy *p, uint32_t rule, unsigned specificity, void *ctx);

static bool visit_chain(const struct policy *p, uint32_t head, unsigned depth, bool whole_name,
                        visit_fn fn, void *ctx)
{
	for (uint32_t i = head; i != POLICY_NO_RULE; i = p->rules[i].next) {
		const struct policy_rule *r = &p->rules[i];
		if (r->kind == RULE_EXACT && !whole_name)
			continue;
		if (r->kind == RULE_SUBDOMAINS && whole_name)
			continue;
		/* An exact rule is one step more specific than `.name` on the same name. */
		if (!fn(p, i, depth * 2 + (r->kind == RULE_EXACT), ctx))
			return false;
	}
	return true;
}

static void walk_name(const struct policy *p, const char *name, size_t len, visit_fn fn, void *ctx)
{
	/* A canonical name has at most 127 labels. */
	struct {
		uint64_t hash;
		size_t start;
	} suffix[NAME_MAX_LEN / 2 + 1];
	unsigned n = 0;
	uint64_t h = keymap_hash_start(&p->names);

	if (p->names.count == 0 || len > NAME_MAX_LEN)
		return;
	/* Right to left: at each label boundary the running hash covers exactly
	 * the suffix to the right, so every suffix is hashed in one pass.  Each
	 * probe is likely a cache miss in a large policy; prefetching them all
	 * first lets the misses overlap instead of queueing. */
	for (size_t i = len; i-- > 0;) {
		h = keymap_hash_byte(h, (unsigned char)name[i]);
		if (i != 0 && name[i - 1] != '.')
			continue;
		suffix[n].hash = keymap_hash_finish(h, len - i);
		suffix[n].start = i;
		__builtin_prefetch(&p->names.slots[suffix[n].hash & p->names.mask]);
		n++;
	}
	for (unsigned k = 0; k < n; k++) {
		size_t i = suffix[k].start;
		uint32_t head = keymap_get_hashed(&p->names, suffix[k].hash, name + i, len - i);
		if (head != KEYMAP_NONE && !visit_chain(p, head, k + 1, i == 0, fn, ctx))
			return;
	}
}

static void walk_addr(const struct policy *p, uint8_t family, const uint8_t *addr, visit_fn fn,
                      void *ctx)
{
	const uint8_t *lens = family == 4 ? p->v4_lens : p->v6_lens;
	unsigned n = family == 4 ? p->n_v4_lens : p->n_v6_lens;
	uint8_t masked[16], key[CIDR_KEY_MAX];

	for (unsigned i = 0; i < n; i++) {
		ip_mask(family, addr, lens[i], masked);
		size_t klen = cidr_key(family, lens[i], masked, key);
		uint32_t head = keymap_get(&p->cidrs, key, klen);
		for (uint32_t r = head; r != KEYMAP_NONE; r = p->rules[r].next)
			if (!fn(p, r, lens[i], ctx))
				return;
	}
}

static void walk(const struct policy *p, const struct query *q, visit_fn fn, void *ctx)
{
	if (q->is_addr)
		walk_addr(p, q->family, q->addr, fn, ctx);
	else
		walk_name(p, q->name, q->len, fn, ctx);
}

struct best {
	uint16_t port;
	bool saw_ranges; /* a rule with a port range matched the pattern */
	uint32_t score;
	uint32_t rule;
};

static bool visit_best(const struct policy *p, uint32_t rule, unsigned specificity, void *ctx)
{
	struct best *b = ctx;
	const struct policy_rule *r = &p->rules[rule];

	b->saw_ranges |= r->port_lo != 0;
	if (r->port_lo != 0 && (b->port < r->port_lo || b->port > r->port_hi))
		return true;
	uint32_t score = match_score(specificity, r);
	/* On an equal score, the rule defined first is the one reported. */
	if (b->rule == POLICY_NO_RULE || score > b->score ||
	    (score == b->score && rule < b->rule)) {
		b->score = score;
		b->rule = rule;
	}
	return true;
}

/* Returns whether any matching rule had a port range. */
static bool decide_at_port(const struct policy *p, const struct query *q, uint16_t port,
                           struct decision *ret)
{
	struct best b = {.port = port, .rule = POLICY_NO_RULE};

	walk(p, q, visit_best, &b);
	if (b.rule == POLICY_NO_RULE)
		*ret = (struct decision){p->default_action, DECIDED_BY_DEFAULT, POLICY_NO_RULE};
	else
		*ret = (struct decision){(enum action)p->rules[b.rule].action, DECIDED_BY_RULE,
		                         b.rule};
	return b.saw_ranges;
}

/* Any-port queries: the verdict is constant between the ports where some
 * matching rule's range starts or ends, so trying port 1 and each lo and
 * hi+1 is exact.  Stops at the first port that is allowed. */
struct any_port {
	const struct query *q;
	struct decision found;
	bool allowed;
};

static bool try_port(const struct policy *p, struct any_port *a, uint32_t port)
{
	struct decision d;

	if (port == 0 || port > 65535)
		return true;
	decide_at_port(p, a->q, (uint16_t)port, &d);
	if (d.verdict == ACTION_ALLOW) {
		a->found = d;
		a->allowed = true;
		return false;
	}
	return true;
}

static bool visit_ranges(const struct policy *p, uint32_t rule, unsigned specificity, void *ctx)
{
	const struct policy_rule *r = &p->rules[rule];
	(void)specificity;
	if (r->port_lo == 0)
		return true;
	return try_port(p, ctx, r->port_lo) && try_port(p, ctx, (uint32_t)r->port_hi + 1);
}

static void decide(const struct policy *p, const struct query *q, uint16_t port,
                   struct decision *ret)
{
	if (p->network_none) {
		*ret = (struct decision){ACTION_BLOCK, DECIDED_BY_NO_NETWORK, POLICY_NO_RULE};
		return;
	}
	if (port != 0) {
		decide_at_port(p, q, port, ret);
		return;
	}
	struct any_port a = {.q = q};
	bool ranges = decide_at_port(p, q, 1, &a.found);
	/* Without port ranges the verdict is the same on every port. */
	if (!ranges || a.found.verdict == ACTION_ALLOW) {
		*ret = a.found;
		return;
	}
	struct decision first = a.found;
	walk(p, q, visit_ranges, &a);
	*ret = a.allowed ? a.found : first;
}

void policy_decide_name(const struct policy *p, const char *name, size_t len, uint16_t port,
                        struct decision *ret)
{
	struct query q = {.name = name, .len = len};
	decide(p, &q, port, ret);
}

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void policy_decide_addr(const struct policy *p, uint8_t family, const uint8_t *addr, uint16_t port,
                        struct decision *ret)
{
	struct query q = {.is_addr = true, .family = family, .addr = addr};

	/* ::ffff:192.0.2.1 is 192.0.2.1 on the wire: judge it by the IPv4 rules. */
	if (family == 6 && memcmp(addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		q.family = 4;
		q.addr = addr + 12;
	}
	decide(p, &q, port, ret);
}

void policy_decide(const struct policy *p, const struct target *t, struct decision *ret)
{
	if (t->is_addr)
		policy_decide_addr(p, t->family, t->addr, t->port, ret);
	else
		policy_decide_name(p, t->name, t->name_len, t->port, ret);
}

size_t policy_rule_count(const struct policy *p)
{
	return p->n_rules;
}

void policy_rule_info(const struct policy *p, uint32_t index, struct rule_info *ret)
{
	const struct policy_rule *pr = &p->rules[index];
	rule_unpack(pr, p->text, &ret->rule);
	ret->action = (enum action)pr->action;
	ret->origin = p->origins[pr->origin];
	ret->line = pr->line;
}

enum action policy_default(const struct policy *p)
{
	return p->default_action;
}

bool policy_network_none(const struct policy *p)
{
	return p->network_none;
}

size_t policy_memory(const struct policy *p)
{
	return sizeof(*p) + p->n_rules * sizeof(*p->rules) + p->text_len +
	       keymap_memory(&p->names) + keymap_memory(&p->cidrs);
}

/* ---- slot --------------------------------------------------------------- */

struct policy *policy_slot_acquire(struct policy_slot *s)
{
	return policy_ref(atomic_load_explicit(&s->current, memory_order_acquire));
}

void policy_slot_replace(struct policy_slot *s, struct policy *p)
{
	struct policy *old = atomic_exchange_explicit(&s->current, p, memory_order_acq_rel);
	policy_unref(old);
}
