#include "policy/keymap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

uint64_t keymap_hash(const struct keymap *m, const void *key, size_t len)
{
	const unsigned char *k = key;
	uint64_t h = keymap_hash_start(m);
	for (size_t i = len; i-- > 0;)
		h = keymap_hash_byte(h, k[i]);
	return keymap_hash_finish(h, len);
}

void keymap_init(struct keymap *m, const char *base, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	m->base = base;
	m->seed = seed;
}

void keymap_done(struct keymap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->mask = 0;
	m->count = 0;
}

static int resize(struct keymap *m, size_t cap)
{
	struct keymap_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	if (m->slots) {
		for (size_t i = 0; i <= m->mask; i++) {
			const struct keymap_slot *s = &m->slots[i];
			if (!s->key_len)
				continue;
			/* The index bits are gone with the low half; rehash the key. */
			uint64_t h = keymap_hash(m, m->base + s->key_off, s->key_len);
			size_t j = h & (cap - 1);
			while (slots[j].key_len)
				j = (j + 1) & (cap - 1);
			slots[j] = *s;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->mask = cap - 1;
	return 0;
}

/* Keep the load factor at or under 1/2: probes stay short even for misses. */
int keymap_reserve(struct keymap *m, size_t n)
{
	size_t cap = m->slots ? m->mask + 1 : 64;
	while (n * 2 > cap)
		cap *= 2;
	return m->slots && cap == m->mask + 1 ? 0 : resize(m, cap);
}

static bool slot_is(const struct keymap *m, const struct keymap_slot *s, uint32_t tag,
                    const void *key, size_t len)
{
	return s->tag == tag && s->key_len == len && memcmp(m->base + s->key_off, key, len) == 0;
}

int keymap_upsert(struct keymap *m, uint32_t off, size_t len, uint32_t **ret_value)
{
	if (len == 0 || len > KEYMAP_KEY_MAX)
		return -EINVAL;
	return keymap_upsert_hashed(m, keymap_hash(m, m->base + off, len), off, len, ret_value);
}

int keymap_upsert_hashed(struct keymap *m, uint64_t h, uint32_t off, size_t len,
                         uint32_t **ret_value)
{
	if (len == 0 || len > KEYMAP_KEY_MAX)
		return -EINVAL;
	int r = keymap_reserve(m, m->count + 1);
	if (r < 0)
		return r;
	const char *key = m->base + off;
	uint32_t tag = (uint32_t)(h >> 32);
	size_t i = h & m->mask;
	for (; m->slots[i].key_len; i = (i + 1) & m->mask) {
		if (slot_is(m, &m->slots[i], tag, key, len)) {
			*ret_value = &m->slots[i].value;
			return 0;
		}
	}
	m->slots[i] = (struct keymap_slot){
	        .tag = tag, .key_off = off, .value = KEYMAP_NONE, .key_len = (uint16_t)len};
	m->count++;
	*ret_value = &m->slots[i].value;
	return 0;
}

uint32_t keymap_get_hashed(const struct keymap *m, uint64_t hash, const void *key, size_t len)
{
	if (!m->slots)
		return KEYMAP_NONE;
	uint32_t tag = (uint32_t)(hash >> 32);
	for (size_t i = hash & m->mask; m->slots[i].key_len; i = (i + 1) & m->mask)
		if (slot_is(m, &m->slots[i], tag, key, len))
			return m->slots[i].value;
	return KEYMAP_NONE;
}

size_t keymap_memory(const struct keymap *m)
{
	return m->slots ? (m->mask + 1) * sizeof(*m->slots) : 0;
}
