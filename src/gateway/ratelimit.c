#include "gateway/ratelimit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct bucket {
	uint8_t key[17]; /* family, then 4 or 16 address bytes */
	bool used;
	uint64_t last_ms;
	uint64_t tokens_milli; /* tokens x 1000, so slow rates refill smoothly */
};

struct ratelimit {
	struct bucket *buckets;
	size_t n;
	uint64_t rate, burst;
	uint64_t seed;
};

/* Probe this many slots from the key's home; the oldest of them is reused. */
#define PROBE 8

struct ratelimit *ratelimit_new(size_t slots, unsigned rate, unsigned burst)
{
	struct ratelimit *r = calloc(1, sizeof(*r));
	if (!r || slots < PROBE || rate == 0 || burst == 0)
		goto fail;
	r->buckets = calloc(slots, sizeof(*r->buckets));
	if (!r->buckets)
		goto fail;
	r->n = slots;
	r->rate = rate;
	r->burst = burst;
	if (getrandom(&r->seed, sizeof(r->seed), GRND_NONBLOCK) != sizeof(r->seed))
		r->seed = 0x9e3779b97f4a7c15ULL;
	return r;
fail:
	ratelimit_free(r);
	return NULL;
}

void ratelimit_free(struct ratelimit *r)
{
	if (!r)
		return;
	free(r->buckets);
	free(r);
}

static void key_of(const struct addr *a, uint8_t key[17])
{
	memset(key, 0, 17);
	if (addr_family(a) == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &a->in4.sin_addr, 4);
	} else {
		key[0] = 6;
		memcpy(key + 1, &a->in6.sin6_addr, 16);
	}
}

bool ratelimit_take(struct ratelimit *r, const struct addr *client, uint64_t now_ms)
{
	uint8_t key[17];
	uint64_t h = 0xcbf29ce484222325ULL ^ r->seed;
	struct bucket *b = NULL, *oldest = NULL;

	key_of(client, key);
	for (size_t i = 0; i < sizeof(key); i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	for (size_t i = 0; i < PROBE; i++) {
		struct bucket *c = &r->buckets[(h + i) % r->n];
		if (c->used && memcmp(c->key, key, sizeof(key)) == 0) {
			b = c;
			break;
		}
		if (!oldest || !c->used || (oldest->used && c->last_ms < oldest->last_ms))
			oldest = c;
	}
	if (!b) {
		b = oldest;
		memcpy(b->key, key, sizeof(key));
		b->used = true;
		b->last_ms = now_ms;
		b->tokens_milli = r->burst * 1000;
	}
	if (now_ms > b->last_ms) {
		uint64_t refill = (now_ms - b->last_ms) * r->rate;
		b->tokens_milli = b->tokens_milli + refill > r->burst * 1000
		                          ? r->burst * 1000
		                          : b->tokens_milli + refill;
		b->last_ms = now_ms;
	}
	if (b->tokens_milli < 1000)
		return false;
	b->tokens_milli -= 1000;
	return true;
}
