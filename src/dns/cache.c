#include "dns/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct entry {
	struct entry *next_hash;
	struct entry *older, *newer; /* by last use */
	uint64_t hash;
	uint64_t stored_ms, expires_ms;
	uint16_t qtype;
	uint8_t name_len;
	uint8_t n_ttls;
	uint16_t ttl_off[DNS_ANSWERS_MAX]; /* where each answer's TTL sits in msg */
	uint32_t ttl[DNS_ANSWERS_MAX];     /* and its value when stored */
	char name[NAME_BUF_SIZE];
	size_t msg_len;
	uint8_t msg[]; /* msg_len bytes */
};

struct dns_cache {
	struct entry **buckets;
	size_t mask;
	size_t count, max;
	uint32_t max_ttl_s;
	struct entry *oldest, *newest;
	uint64_t seed;
};

struct dns_cache *dns_cache_new(size_t max_entries, uint32_t max_ttl_s)
{
	struct dns_cache *c = calloc(1, sizeof(*c));
	size_t n = 16;

	if (!c || max_entries == 0) {
		free(c);
		return NULL;
	}
	while (n < max_entries)
		n *= 2;
	c->buckets = calloc(n, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	c->max = max_entries;
	c->max_ttl_s = max_ttl_s;
	if (getrandom(&c->seed, sizeof(c->seed), GRND_NONBLOCK) != sizeof(c->seed))
		c->seed = 0x9e3779b97f4a7c15ULL;
	return c;
}

static uint64_t hash_key(const struct dns_cache *c, const char *name, size_t len, uint16_t qtype)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ c->seed ^ qtype;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
	return h ^ (h >> 32);
}

static void unlink_age(struct dns_cache *c, struct entry *e)
{
	*(e->older ? &e->older->newer : &c->oldest) = e->newer;
	*(e->newer ? &e->newer->older : &c->newest) = e->older;
	e->older = e->newer = NULL;
}

static void link_newest(struct dns_cache *c, struct entry *e)
{
	e->older = c->newest;
	*(c->newest ? &c->newest->newer : &c->oldest) = e;
	c->newest = e;
}

static void drop(struct dns_cache *c, struct entry *e)
{
	struct entry **pp = &c->buckets[e->hash & c->mask];
	while (*pp != e)
		pp = &(*pp)->next_hash;
	*pp = e->next_hash;
	unlink_age(c, e);
	c->count--;
	free(e);
}

static struct entry *find(const struct dns_cache *c, uint64_t h, const char *name, size_t len,
                          uint16_t qtype)
{
	for (struct entry *e = c->buckets[h & c->mask]; e; e = e->next_hash)
		if (e->hash == h && e->qtype == qtype && e->name_len == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

void dns_cache_clear(struct dns_cache *c)
{
	while (c->oldest)
		drop(c, c->oldest);
}

void dns_cache_free(struct dns_cache *c)
{
	if (!c)
		return;
	dns_cache_clear(c);
	free(c->buckets);
	free(c);
}

int dns_cache_put(struct dns_cache *c, const char *name, size_t len, uint16_t qtype,
                  const uint8_t *msg, size_t msg_len, const struct dns_response *r, uint64_t now_ms)
{
	uint32_t min_ttl = c->max_ttl_s;

	if (r->header.rcode != DNS_RCODE_NOERROR || r->n_answers == 0 || r->answers_dropped ||
	    msg_len > DNS_CACHE_MSG_MAX || len >= NAME_BUF_SIZE)
		return 0;
	for (unsigned i = 0; i < r->n_answers; i++)
		if (r->answers[i].ttl < min_ttl)
			min_ttl = r->answers[i].ttl;
	if (min_ttl == 0)
		return 0;

	uint64_t h = hash_key(c, name, len, qtype);
	struct entry *old = find(c, h, name, len, qtype);
	if (old)
		drop(c, old);
	struct entry *e = calloc(1, sizeof(*e) + msg_len);
	if (!e)
		return -ENOMEM;
	if (c->count >= c->max)
		drop(c, c->oldest);
	e->hash = h;
	e->qtype = qtype;
	e->name_len = (uint8_t)len;
	memcpy(e->name, name, len);
	e->stored_ms = now_ms;
	e->expires_ms = now_ms + (uint64_t)min_ttl * 1000;
	e->n_ttls = (uint8_t)r->n_answers;
	for (unsigned i = 0; i < r->n_answers; i++) {
		/* TYPE CLASS TTL RDLENGTH precede RDATA: the TTL is 6 bytes before. */
		e->ttl_off[i] = (uint16_t)(r->answers[i].rdata_off - 6);
		e->ttl[i] = r->answers[i].ttl;
	}
	e->msg_len = msg_len;
	memcpy(e->msg, msg, msg_len);
	e->next_hash = c->buckets[h & c->mask];
	c->buckets[h & c->mask] = e;
	link_newest(c, e);
	c->count++;
	return 0;
}

int dns_cache_get(struct dns_cache *c, const char *name, size_t len, uint16_t qtype,
                  uint64_t now_ms, uint8_t *out, size_t size)
{
	struct entry *e = find(c, hash_key(c, name, len, qtype), name, len, qtype);

	if (!e)
		return 0;
	if (now_ms >= e->expires_ms) {
		drop(c, e);
		return 0;
	}
	if (e->msg_len > size)
		return -ENOSPC;
	memcpy(out, e->msg, e->msg_len);
	uint32_t age = (uint32_t)((now_ms - e->stored_ms) / 1000);
	for (unsigned i = 0; i < e->n_ttls; i++) {
		uint32_t ttl = e->ttl[i] > age ? e->ttl[i] - age : 0;
		uint8_t *p = out + e->ttl_off[i];
		p[0] = (uint8_t)(ttl >> 24);
		p[1] = (uint8_t)(ttl >> 16);
		p[2] = (uint8_t)(ttl >> 8);
		p[3] = (uint8_t)ttl;
	}
	unlink_age(c, e);
	link_newest(c, e);
	return (int)e->msg_len;
}

size_t dns_cache_count(const struct dns_cache *c)
{
	return c->count;
}
