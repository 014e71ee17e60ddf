#include "policy/keymap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Each key is stored as a 2-byte length then its bytes. */
#define KEY_HEADER 2

uint64_t keymap_hash(const struct keymap *m, const void *key, size_t len)
{
	const unsigned char *k = key;
	uint64_t h = keymap_hash_start(m);
	for (size_t i = len; i-- > 0;)
		h = keymap_hash_byte(h, k[i]);
	return keymap_hash_finish(h, len);
}

void keymap_init(struct keymap *m, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	m->seed = seed;
}

void keymap_done(struct keymap *m)
{
	free(m->slots);
	free(m->arena);
	memset(m, 0, sizeof(*m));
}

static const char *slot_key(const struct keymap *m, const struct keymap_slot *s, size_t *len)
{
	const unsigned char *p = (const unsigned char *)m->arena + s->key_off;
	*len = (size_t)p[0] | (size_t)p[1] << 8;
	return (const char *)p + KEY_HEADER;
}

static int grow_slots(struct keymap *m)
{
	size_t cap = m->slots ? (m->mask + 1) * 2 : 64;
	struct keymap_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	if (m->slots) {
		for (size_t i = 0; i <= m->mask; i++) {
			if (!m->slots[i].hash)
				continue;
			size_t j = m->slots[i].hash & (cap - 1);
			while (slots[j].hash)
				j = (j + 1) & (cap - 1);
			slots[j] = m->slots[i];
		}
	}
	free(m->slots);
	m->slots = slots;
	m->mask = cap - 1;
	return 0;
}

static int arena_append(struct keymap *m, const void *key, size_t len, uint32_t *ret_off)
{
	size_t need = m->arena_len + KEY_HEADER + len;
	if (len > 0xffff || need > UINT32_MAX)
		return -E2BIG;
	if (need > m->arena_cap) {
		size_t cap = m->arena_cap ? m->arena_cap * 2 : 4096;
		while (cap < need)
			cap *= 2;
		char *a = realloc(m->arena, cap);
		if (!a)
			return -ENOMEM;
		m->arena = a;
		m->arena_cap = cap;
	}
	unsigned char *p = (unsigned char *)m->arena + m->arena_len;
	p[0] = (unsigned char)(len & 0xff);
	p[1] = (unsigned char)(len >> 8);
	memcpy(p + KEY_HEADER, key, len);
	*ret_off = (uint32_t)m->arena_len;
	m->arena_len = need;
	return 0;
}

int keymap_upsert(struct keymap *m, const void *key, size_t len, uint32_t **ret_value)
{
	int r;

	/* Keep the load factor at or under 1/2: probes stay short even for misses. */
	if (!m->slots || (m->count + 1) * 2 > m->mask + 1) {
		r = grow_slots(m);
		if (r < 0)
			return r;
	}
	uint64_t h = keymap_hash(m, key, len);
	size_t i = h & m->mask;
	for (; m->slots[i].hash; i = (i + 1) & m->mask) {
		size_t klen;
		const char *k;
		if (m->slots[i].hash != h)
			continue;
		k = slot_key(m, &m->slots[i], &klen);
		if (klen == len && memcmp(k, key, len) == 0) {
			*ret_value = &m->slots[i].value;
			return 0;
		}
	}
	uint32_t off;
	r = arena_append(m, key, len, &off);
	if (r < 0)
		return r;
	m->slots[i] = (struct keymap_slot){.hash = h, .key_off = off, .value = KEYMAP_NONE};
	m->count++;
	*ret_value = &m->slots[i].value;
	return 0;
}

uint32_t keymap_get_hashed(const struct keymap *m, uint64_t hash, const void *key, size_t len)
{
	if (!m->slots)
		return KEYMAP_NONE;
	for (size_t i = hash & m->mask; m->slots[i].hash; i = (i + 1) & m->mask) {
		size_t klen;
		const char *k;
		if (m->slots[i].hash != hash)
			continue;
		k = slot_key(m, &m->slots[i], &klen);
		if (klen == len && memcmp(k, key, len) == 0)
			return m->slots[i].value;
	}
	return KEYMAP_NONE;
}

size_t keymap_memory(const struct keymap *m)
{
	return (m->slots ? (m->mask + 1) * sizeof(*m->slots) : 0) + m->arena_cap;
}
