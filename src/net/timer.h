/* timer.h - a binary min-heap of deadlines, the loop's timer queue.
 *
 * Pure data structure: no clock, no allocation per timer, no callbacks.  The
 * caller embeds a struct timer in its own object (the loop embeds one in each
 * struct loop_timer) and the heap holds pointers to them.  Each timer knows
 * its own position in the heap, so removing or moving one is O(log n) without
 * a search: an idle timeout that moves on every read costs one sift.
 *
 * Order: earliest deadline first; equal deadlines in the order they were
 * scheduled (a sequence number taken at every schedule), so the order in
 * which timers fire never depends on the heap's shape.
 *
 * Not thread-safe: owned by one event loop.
 */
#ifndef AIRLOCK_NET_TIMER_H
#define AIRLOCK_NET_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMER_IDLE SIZE_MAX /* struct timer.index of a timer not in any heap */

struct timer {
	uint64_t deadline; /* in the caller's clock (the loop's: ms, CLOCK_MONOTONIC) */
	uint64_t seq;      /* set when scheduled: breaks deadline ties, first come first out */
	size_t index;      /* position in the heap, or TIMER_IDLE */
};

struct timer_heap {
	struct timer **v;
	size_t n, cap;
	uint64_t next_seq;
};

static inline void timer_init(struct timer *t)
{
	t->deadline = 0;
	t->seq = 0;
	t->index = TIMER_IDLE;
}

static inline bool timer_queued(const struct timer *t)
{
	return t->index != TIMER_IDLE;
}

void timer_heap_init(struct timer_heap *h);
/* Frees the array only; the timers are the caller's (they are left as they
 * were, still marked queued). */
void timer_heap_done(struct timer_heap *h);

/* Room for `n` queued timers, so scheduling up to that many cannot fail.
 * Returns 0 or -ENOMEM (the heap is unchanged). */
int timer_heap_reserve(struct timer_heap *h, size_t n);

/* Queue `t` at `deadline`, or move it there if it is already queued (which
 * cannot fail).  Either way it takes a new sequence number, so it fires after
 * every other timer with the same deadline.  Returns 0 or -ENOMEM. */
int timer_heap_schedule(struct timer_heap *h, struct timer *t, uint64_t deadline);

/* Take `t` out of the heap; a no-op when it is not queued. */
void timer_heap_remove(struct timer_heap *h, struct timer *t);

/* The earliest timer, or NULL when the heap is empty. */
static inline struct timer *timer_heap_top(const struct timer_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

/* Remove and return the earliest timer, or NULL. */
struct timer *timer_heap_pop(struct timer_heap *h);

static inline size_t timer_heap_size(const struct timer_heap *h)
{
	return h->n;
}

/* Whether every parent is earlier than its children and every timer's index
 * points at itself.  O(n): for tests and debug assertions. */
bool timer_heap_valid(const struct timer_heap *h);

#endif
