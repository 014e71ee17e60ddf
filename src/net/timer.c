/* timer.c - binary min-heap of deadlines (see timer.h). */
#include "net/timer.h"

#include <errno.h>
#include <stdlib.h>

static bool earlier(const struct timer *a, const struct timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void place(struct timer_heap *h, size_t i, struct timer *t)
{
	h->v[i] = t;
	t->index = i;
}

static void sift_up(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!earlier(t, h->v[parent]))
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void sift_down(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= h->n)
			break;
		if (child + 1 < h->n && earlier(h->v[child + 1], h->v[child]))
			child++;
		if (!earlier(h->v[child], t))
			break;
		place(h, i, h->v[child]);
		i = child;
	}
	place(h, i, t);
}

void timer_heap_init(struct timer_heap *h)
{
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
	h->next_seq = 0;
}

void timer_heap_done(struct timer_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
}

int timer_heap_reserve(struct timer_heap *h, size_t n)
{
	if (n <= h->cap)
		return 0;
	size_t cap = h->cap ? h->cap : 16;
	while (cap < n) {
		if (cap > SIZE_MAX / 2 / sizeof(*h->v))
			return -ENOMEM;
		cap *= 2;
	}
	struct timer **v = realloc(h->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	h->cap = cap;
	return 0;
}

int timer_heap_schedule(struct timer_heap *h, struct timer *t, uint64_t deadline)
{
	if (!timer_queued(t)) {
		int r = timer_heap_reserve(h, h->n + 1);
		if (r < 0)
			return r;
		t->deadline = deadline;
		t->seq = h->next_seq++;
		place(h, h->n++, t);
		sift_up(h, t->index);
		return 0;
	}
	bool later = deadline >= t->deadline; /* a new seq also makes it "later" on a tie */
	t->deadline = deadline;
	t->seq = h->next_seq++;
	if (later)
		sift_down(h, t->index);
	else
		sift_up(h, t->index);
	return 0;
}

void timer_heap_remove(struct timer_heap *h, struct timer *t)
{
	if (!timer_queued(t))
		return;
	size_t i = t->index;
	struct timer *last = h->v[--h->n];
	t->index = TIMER_IDLE;
	if (last == t)
		return;
	/* The last element fills the hole; it may belong above or below it. */
	place(h, i, last);
	if (i > 0 && earlier(last, h->v[(i - 1) / 2]))
		sift_up(h, i);
	else
		sift_down(h, i);
}

struct timer *timer_heap_pop(struct timer_heap *h)
{
	struct timer *t = timer_heap_top(h);
	if (t)
		timer_heap_remove(h, t);
	return t;
}

bool timer_heap_valid(const struct timer_heap *h)
{
	if (h->n > h->cap)
		return false;
	for (size_t i = 0; i < h->n; i++) {
		if (!h->v[i] || h->v[i]->index != i)
			return false;
		if (i > 0 && earlier(h->v[i], h->v[(i - 1) / 2]))
			return false;
	}
	return true;
}
