#include "dns/addrmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* One (name, address) pair.  It sits in three intrusive lists: its bucket
 * by (name, address), its bucket by address, and the age list. */
struct pair {
	struct pair *next_pair; /* same bucket of pair_buckets */
	struct pair *next_addr; /* same bucket of addr_buckets */
	struct pair *older, *newer;
	uint64_t expires_ms;
	uint64_t pair_hash, addr_hash;
	uint8_t family;
	uint8_t addr[16];
	uint8_t name_len;
	char name[]; /* name_len bytes, not terminated */
};

struct addrmap {
	struct pair **pair_buckets;
	struct pair **addr_buckets;
	size_t mask;
	size_t count, max;
	struct pair *oldest, *newest;
	uint32_t grace_s;
	uint64_t seed;
};

static uint64_t mix(uint64_t h, const void *bytes, size_t len)
{
	const unsigned char *b = bytes;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static size_t addr_len(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static uint64_t hash_addr(const struct addrmap *m, uint8_t family, const uint8_t *addr)
{
	uint64_t h = mix(0xcbf29ce484222325ULL ^ m->seed, &family, 1);
	h = mix(h, addr, addr_len(family));
	return h ^ (h >> 31);
}

/* Seeded through addr_hash. */
static uint64_t hash_pair(uint64_t addr_hash, const char *name, size_t len)
{
	uint64_t h = mix(addr_hash, name, len);
	return h ^ (h >> 29);
}

struct addrmap *addrmap_new(size_t max_pairs, uint32_t grace_s)
{
	struct addrmap *m = calloc(1, sizeof(*m));
	size_t buckets = 16;

	if (!m || max_pairs == 0) {
		free(m);
		return NULL;
	}
	while (buckets < max_pairs)
		buckets *= 2;
	m->pair_buckets = calloc(buckets, sizeof(*m->pair_buckets));
	m->addr_buckets = calloc(buckets, sizeof(*m->addr_buckets));
	if (!m->pair_buckets || !m->addr_buckets) {
		addrmap_free(m);
		return NULL;
	}
	m->mask = buckets - 1;
	m->max = max_pairs;
	m->grace_s = grace_s;
	if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) != sizeof(m->seed))
		m->seed = 0x9e3779b97f4a7c15ULL;
	return m;
}

void addrmap_free(struct addrmap *m)
{
	if (!m)
		return;
	for (struct pair *p = m->oldest, *next; p; p = next) {
		next = p->newer;
		free(p);
	}
	free(m->pair_buckets);
	free(m->addr_buckets);
	free(m);
}

static bool same_addr(const struct pair *p, uint8_t family, const uint8_t *addr)
{
	return p->family == family && memcmp(p->addr, addr, addr_len(family)) == 0;
}

static struct pair *find(const struct addrmap *m, uint64_t pair_hash, const char *name, size_t len,
                         uint8_t family, const uint8_t *addr)
{
	for (struct pair *p = m->pair_buckets[pair_hash & m->mask]; p; p = p->next_pair)
		if (p->pair_hash == pair_hash && p->name_len == len &&
		    memcmp(p->name, name, len) == 0 && same_addr(p, family, addr))
			return p;
	return NULL;
}

static void unlink_age(struct addrmap *m, struct pair *p)
{
	*(p->older ? &p->older->newer : &m->oldest) = p->newer;
	*(p->newer ? &p->newer->older : &m->newest) = p->older;
	p->older = p->newer = NULL;
}

static void link_newest(struct addrmap *m, struct pair *p)
{
	p->older = m->newest;
	*(m->newest ? &m->newest->newer : &m->oldest) = p;
	m->newest = p;
}

static void unlink_from_pair_bucket(struct addrmap *m, struct pair *p)
{
	struct pair **pp = &m->pair_buckets[p->pair_hash & m->mask];
	while (*pp != p)
		pp = &(*pp)->next_pair;
	*pp = p->next_pair;
}

static void unlink_from_addr_bucket(struct addrmap *m, struct pair *p)
{
	struct pair **pp = &m->addr_buckets[p->addr_hash & m->mask];
	while (*pp != p)
		pp = &(*pp)->next_addr;
	*pp = p->next_addr;
}

static void drop(struct addrmap *m, struct pair *p)
{
	unlink_from_pair_bucket(m, p);
	unlink_from_addr_bucket(m, p);
	unlink_age(m, p);
	m->count--;
	free(p);
}

int addrmap_add(struct addrmap *m, const char *name, size_t len, uint8_t family,
                const uint8_t *addr, uint32_t ttl_s, uint64_t now_ms)
{
	if (len == 0 || len > 253 || (family != 4 && family != 6))
		return -EINVAL;
	if (ttl_s > ADDRMAP_MAX_TTL_S)
		ttl_s = ADDRMAP_MAX_TTL_S;
	uint64_t expires = now_ms + ((uint64_t)ttl_s + m->grace_s) * 1000;
	uint64_t ah = hash_addr(m, family, addr);
	uint64_t ph = hash_pair(ah, name, len);

	struct pair *p = find(m, ph, name, len, family, addr);
	if (p) {
		/* Refreshed: it moves to the young end and keeps the later expiry. */
		if (expires > p->expires_ms)
			p->expires_ms = expires;
		unlink_age(m, p);
		link_newest(m, p);
		return 0;
	}
	p = calloc(1, sizeof(*p) + len);
	if (!p)
		return -ENOMEM;
	if (m->count >= m->max)
		drop(m, m->oldest);
	p->expires_ms = expires;
	p->pair_hash = ph;
	p->addr_hash = ah;
	p->family = family;
	memcpy(p->addr, addr, addr_len(family));
	p->name_len = (uint8_t)len;
	memcpy(p->name, name, len);
	p->next_pair = m->pair_buckets[ph & m->mask];
	m->pair_buckets[ph & m->mask] = p;
	p->next_addr = m->addr_buckets[ah & m->mask];
	m->addr_buckets[ah & m->mask] = p;
	link_newest(m, p);
	m->count++;
	return 0;
}

bool addrmap_has(const struct addrmap *m, const char *name, size_t len, uint8_t family,
                 const uint8_t *addr, uint64_t now_ms)
{
	uint64_t ah = hash_addr(m, family, addr);
	const struct pair *p = find(m, hash_pair(ah, name, len), name, len, family, addr);
	return p && p->expires_ms > now_ms;
}

size_t addrmap_names(const struct addrmap *m, uint8_t family, const uint8_t *addr, uint64_t now_ms,
                     addrmap_name_fn fn, void *ctx)
{
	uint64_t ah = hash_addr(m, family, addr);
	size_t n = 0;

	/* Bucket chains are newest first: pairs are pushed at the head. */
	for (const struct pair *p = m->addr_buckets[ah & m->mask]; p; p = p->next_addr) {
		if (p->addr_hash != ah || !same_addr(p, family, addr) || p->expires_ms <= now_ms)
			continue;
		n++;
		if (!fn(p->name, p->name_len, ctx))
			break;
	}
	return n;
}

void addrmap_expire(struct addrmap *m, uint64_t now_ms)
{
	for (struct pair *p = m->oldest, *next; p; p = next) {
		next = p->newer;
		if (p->expires_ms <= now_ms)
			drop(m, p);
	}
}

size_t addrmap_count(const struct addrmap *m)
{
	return m->count;
}
