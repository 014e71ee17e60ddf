/* keymap.h - a build-once, read-many map from byte strings to uint32 values.
 *
 * The matcher's index: open addressing with linear probing, at most half full,
 * keys stored back to back in one arena.  Keys are hashed from their LAST byte
 * to their first, so hashing a host name right to left yields, at every dot,
 * the hash of the suffix to its right: looking up every suffix of a name
 * costs one pass over its bytes plus one probe per label, with no allocation.
 * (In effect a reversed-label trie whose nodes are addressed by hash.)
 *
 * Not thread-safe to build; safe to read from any number of threads once
 * built, as nothing is written by a lookup.
 */
#ifndef AIRLOCK_POLICY_KEYMAP_H
#define AIRLOCK_POLICY_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

#define KEYMAP_NONE UINT32_MAX

struct keymap_slot {
	uint64_t hash;    /* 0 marks an empty slot (real hashes are forced odd) */
	uint32_t key_off; /* into the arena */
	uint32_t value;
};

struct keymap {
	struct keymap_slot *slots;
	size_t mask; /* capacity - 1; capacity is a power of two */
	size_t count;
	char *arena;
	size_t arena_len, arena_cap;
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
	return h | 1;
}

uint64_t keymap_hash(const struct keymap *m, const void *key, size_t len);

/* seed: mixed into every hash, so a crafted rule file cannot aim at collisions. */
void keymap_init(struct keymap *m, uint64_t seed);
void keymap_done(struct keymap *m);

/* Insert or find `key`.  Returns the slot's value pointer: *ret_value is
 * KEYMAP_NONE for a key that was not there.  -ENOMEM, -E2BIG (arena past 4 GiB). */
int keymap_upsert(struct keymap *m, const void *key, size_t len, uint32_t **ret_value);

/* Look a key up by its keymap_hash(); KEYMAP_NONE when absent. */
uint32_t keymap_get_hashed(const struct keymap *m, uint64_t hash, const void *key, size_t len);

static inline uint32_t keymap_get(const struct keymap *m, const void *key, size_t len)
{
	return keymap_get_hashed(m, keymap_hash(m, key, len), key, len);
}

/* Bytes held (slots and arena), for `bench/` and `airlock doctor`. */
size_t keymap_memory(const struct keymap *m);

#endif
