/* keymap.h - a build-once, read-many index from byte strings to uint32 values.
 *
 * The matcher's index: open addressing with linear probing, at most half
 * full.  The map stores no keys of its own: each slot points (offset, length)
 * into one caller-owned byte array, `base`, which must not move or change
 * while the map is used - the compiled policy's text, where every rule's name
 * already is.
 *
 * Keys are hashed from their LAST byte to their first, so hashing a host name
 * right to left yields, at every dot, the hash of the suffix to its right:
 * looking up every suffix of a name costs one pass over its bytes plus one
 * probe per label, with no allocation - a reversed-label trie whose nodes are
 * addressed by hash.  The hash is seeded per map, so a crafted rule file
 * cannot aim at collisions.
 *
 * Not thread-safe to build; safe to read from any number of threads once
 * built, as a lookup writes nothing.
 */
#ifndef AIRLOCK_POLICY_KEYMAP_H
#define AIRLOCK_POLICY_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

#define KEYMAP_NONE    UINT32_MAX
#define KEYMAP_KEY_MAX 0xffff

struct keymap_slot {
	uint32_t tag;     /* high half of the key's hash: most mismatches stop here */
	uint32_t key_off; /* into base */
	uint32_t value;
	uint16_t key_len; /* 0 marks an empty slot; keys are never empty */
	uint16_t unused;
};

struct keymap {
	struct keymap_slot *slots;
	size_t mask; /* capacity - 1; capacity is a power of two */
	size_t count;
	const char *base;
	uint64_t seed;
};

/* Running hash, fed one byte at a time from the end of the key backwards. */
static inline uint64_t keymap_hash_start(const struct keymap *m)
{
	return 0xcbf29ce484222325ULL ^ m->seed;
}

static inline uint64_t keymap_hash_byte(uint64_t h, unsigned char c)
{
	return (h ^ c) * 0x100000001b3ULL;
}

static inline uint64_t keymap_hash_finish(uint64_t h, size_t len)
{
	h ^= len;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

uint64_t keymap_hash(const struct keymap *m, const void *key, size_t len);

/* `base` holds every key the map will index; seed: see above. */
void keymap_init(struct keymap *m, const char *base, uint64_t seed);
void keymap_done(struct keymap *m);

/* Make room for `n` keys at once (avoids rehashing while building). */
int keymap_reserve(struct keymap *m, size_t n);

/* Insert the key at base[off .. off+len) or find an equal one.  Returns the
 * slot's value pointer in *ret_value: KEYMAP_NONE for a new key.
 * -EINVAL for an empty or over-long key, -ENOMEM. */
int keymap_upsert(struct keymap *m, uint32_t off, size_t len, uint32_t **ret_value);

/* The same with the key's keymap_hash() already computed, so a builder can
 * hash a batch of keys and prefetch their slots before inserting them. */
int keymap_upsert_hashed(struct keymap *m, uint64_t hash, uint32_t off, size_t len,
                         uint32_t **ret_value);

static inline void keymap_prefetch(const struct keymap *m, uint64_t hash)
{
	if (m->slots)
		__builtin_prefetch(&m->slots[hash & m->mask]);
}

/* Look up `key` (anywhere in memory) by its keymap_hash(); KEYMAP_NONE when absent. */
uint32_t keymap_get_hashed(const struct keymap *m, uint64_t hash, const void *key, size_t len);

static inline uint32_t keymap_get(const struct keymap *m, const void *key, size_t len)
{
	return keymap_get_hashed(m, keymap_hash(m, key, len), key, len);
}

/* Bytes held by the index (not counting `base`). */
size_t keymap_memory(const struct keymap *m);

#endif
