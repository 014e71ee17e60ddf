/* The event loop: fd watches, timers and their heap, deferred calls, signals. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "net/loop.h"
#include "net/loop_backend.h"
#include "net/timer.h"

/* A non-blocking close-on-exec pipe; p[0] reads, p[1] writes. */
static void make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

static void put_byte(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

/* ---- fd watches ---- */

struct fd_seen {
	int calls;
	int fd;
	uint32_t events;
};

static void record_fd(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct fd_seen *s = data;
	(void)loop;
	s->calls++;
	s->fd = fd;
	s->events = events;
}

static void test_read_callback_fires_on_pipe_write(void **state)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct fd_seen seen = {0};
	int p[2];
	(void)state;

	assert_non_null(loop);
	make_pipe(p);
	assert_int_equal(loop_add_fd(loop, p[0], LOOP_READ, record_fd, &seen), 0);
	assert_int_equal(loop_add_fd(loop, p[0], LOOP_READ, record_fd, &seen), -EEXIST);

	/* Nothing written: nothing reported. */
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(seen.calls, 0);

	put_byte(p[1]);
	assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.fd, p[0]);
	assert_int_equal(seen.events, LOOP_READ);

	/* Level-triggered: still unread, so reported again. */
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(seen.calls, 2);

	assert_int_equal(loop_del_fd(loop, p[0]), 0);
	assert_int_equal(loop_del_fd(loop, p[0]), -ENOENT);
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(seen.calls, 2);
	close(p[0]);
	close(p[1]);
}

static void test_modify_interest(void **state)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct fd_seen seen = {0};
	int p[2];
	(void)state;

	make_pipe(p);
	/* An empty pipe's write end is writable. */
	assert_int_equal(loop_add_fd(loop, p[1], LOOP_WRITE, record_fd, &seen), 0);
	assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.events, LOOP_WRITE);

	assert_int_equal(loop_mod_fd(loop, p[1], 0), 0);
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(seen.calls, 1);

	assert_int_equal(loop_mod_fd(loop, p[1], LOOP_WRITE), 0);
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(seen.calls, 2);

	assert_int_equal(loop_mod_fd(loop, p[1], 0x80), -EINVAL);
	assert_int_equal(loop_mod_fd(loop, p[0], LOOP_READ), -ENOENT);
	assert_int_equal(loop_add_fd(loop, -1, LOOP_READ, record_fd, &seen), -EBADF);
	assert_int_equal(loop_add_fd(loop, p[0], LOOP_READ, NULL, NULL), -EINVAL);
	assert_int_equal(loop_del_fd(loop, p[1]), 0);
	close(p[0]);
	close(p[1]);
}

static void test_hangup_reported_without_interest(void **state)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct fd_seen seen = {0};
	int p[2];
	(void)state;

	make_pipe(p);
	assert_int_equal(loop_add_fd(loop, p[0], 0, record_fd, &seen), 0);
	close(p[1]);
	assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_int_equal(seen.calls, 1);
	assert_true(seen.events & LOOP_HUP);
	assert_false(seen.events & LOOP_READ);
	assert_int_equal(loop_del_fd(loop, p[0]), 0);
	close(p[0]);
}

/* Two readable pipes reported in one iteration: whichever callback runs
 * first removes the other's watch (and, in the reuse variant, closes its fd
 * and puts a fresh watch on the same fd number). */
struct pair {
	int a[2], b[2];
	int calls_a, calls_b, calls_fresh;
	bool reuse;
	int fresh[2];
};

static void on_fresh(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct pair *p = data;
	(void)loop;
	(void)fd;
	(void)events;
	p->calls_fresh++;
}

static void kill_other(struct loop *loop, struct pair *p, int *other)
{
	assert_int_equal(loop_del_fd(loop, other[0]), 0);
	if (!p->reuse)
		return;
	/* Same fd number, new registration that has nothing to read. */
	int victim = other[0];
	close(victim);
	make_pipe(p->fresh);
	if (p->fresh[0] != victim) {
		assert_int_equal(dup3(p->fresh[0], victim, O_CLOEXEC), victim);
		close(p->fresh[0]);
		p->fresh[0] = victim;
	}
	other[0] = -1;
	assert_int_equal(loop_add_fd(loop, victim, LOOP_READ, on_fresh, p), 0);
}

static void on_a(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct pair *p = data;
	(void)fd;
	(void)events;
	if (p->calls_a++ == 0 && p->calls_b == 0)
		kill_other(loop, p, p->b);
}

static void on_b(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct pair *p = data;
	(void)fd;
	(void)events;
	if (p->calls_b++ == 0 && p->calls_a == 0)
		kill_other(loop, p, p->a);
}

static void run_pair(bool reuse)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct pair p = {.reuse = reuse, .fresh = {-1, -1}};

	make_pipe(p.a);
	make_pipe(p.b);
	assert_int_equal(loop_add_fd(loop, p.a[0], LOOP_READ, on_a, &p), 0);
	assert_int_equal(loop_add_fd(loop, p.b[0], LOOP_READ, on_b, &p), 0);
	put_byte(p.a[1]);
	put_byte(p.b[1]);

	/* Both are ready before the wait, so both events come in one batch. */
	assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_int_equal(p.calls_a + p.calls_b, 1);
	assert_int_equal(p.calls_fresh, 0);

	/* The survivor is still reported (level-triggered); the other never. */
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(p.calls_a + p.calls_b, 2);
	assert_true(p.calls_a == 2 || p.calls_b == 2);
	assert_int_equal(p.calls_fresh, 0);

	int *fds[] = {p.a, p.b, p.fresh};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		for (int j = 0; j < 2; j++) {
			if (fds[i][j] >= 0) {
				loop_del_fd(loop, fds[i][j]);
				close(fds[i][j]);
			}
		}
	}
}

static void test_removed_watch_gets_no_pending_callback(void **state)
{
	(void)state;
	run_pair(false);
}

static void test_pending_event_not_given_to_new_watch_on_same_fd(void **state)
{
	(void)state;
	run_pair(true);
}

static void count_call(struct loop *loop, int fd, uint32_t events, void *data)
{
	(void)loop;
	(void)events;
	((int *)data)[fd]++;
}

static void test_fairness_cap_per_iteration(void **state)
{
	enum { N = 300 };
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	int rd[N], wr[N];
	struct rlimit rl;
	(void)state;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 2 * N + 64)
		skip();
	int *calls = calloc((size_t)rl.rlim_cur, sizeof(int));
	assert_non_null(calls);
	for (int i = 0; i < N; i++) {
		int p[2];
		make_pipe(p);
		rd[i] = p[0];
		wr[i] = p[1];
		put_byte(wr[i]);
		assert_int_equal(loop_add_fd(loop, rd[i], LOOP_READ, count_call, calls), 0);
	}
	/* All 300 are readable and stay so: each iteration serves the cap... */
	assert_int_equal(loop_run_once(loop, 0), 0);
	int total = 0;
	for (int i = 0; i < N; i++)
		total += calls[rd[i]];
	assert_int_equal(total, LOOP_MAX_EVENTS);
	/* ...and the next one starts with those not served yet. */
	assert_int_equal(loop_run_once(loop, 0), 0);
	total = 0;
	for (int i = 0; i < N; i++) {
		assert_true(calls[rd[i]] >= 1);
		total += calls[rd[i]];
	}
	assert_int_equal(total, 2 * LOOP_MAX_EVENTS);
	for (int i = 0; i < N; i++) {
		loop_del_fd(loop, rd[i]);
		close(rd[i]);
		close(wr[i]);
	}
	free(calls);
}

/* ---- a scripted backend: the loop only sees loop_backend_ops ---- */

static struct {
	unsigned max_at_create, max_at_wait;
	uint64_t tag_of[8]; /* last tag registered per fd */
	struct loop_backend_event script[4];
	int n_script;
} fake;

static int fake_create(void **ret_state, unsigned max_events)
{
	fake.max_at_create = max_events;
	*ret_state = &fake;
	return 0;
}

static void fake_destroy(void *state)
{
	(void)state;
}

static int fake_add(void *state, int fd, uint32_t events, uint64_t tag)
{
	(void)state;
	(void)events;
	fake.tag_of[fd] = tag;
	return 0;
}

static int fake_del(void *state, int fd)
{
	(void)state;
	(void)fd;
	return 0;
}

static int fake_wait(void *state, int timeout_ms, struct loop_backend_event *ev, unsigned max)
{
	(void)state;
	(void)timeout_ms;
	fake.max_at_wait = max;
	int n = fake.n_script;
	memcpy(ev, fake.script, (size_t)n * sizeof(ev[0]));
	fake.n_script = 0;
	return n;
}

static const struct loop_backend_ops fake_ops = {
        .name = "fake",
        .create = fake_create,
        .destroy = fake_destroy,
        .add = fake_add,
        .mod = fake_add,
        .del = fake_del,
        .wait = fake_wait,
};

static void test_swapped_backend_and_stale_tags(void **state)
{
	struct fd_seen seen = {0};
	(void)state;

	memset(&fake, 0, sizeof(fake));
	_cleanup_(loop_freep) struct loop *loop = loop_new_backend(&fake_ops);
	assert_non_null(loop);
	assert_int_equal(fake.max_at_create, LOOP_MAX_EVENTS);

	/* fd 5 needs no real descriptor behind it here. */
	assert_int_equal(loop_add_fd(loop, 5, LOOP_READ, record_fd, &seen), 0);
	uint64_t old_tag = fake.tag_of[5];
	fake.script[0] = (struct loop_backend_event){old_tag, LOOP_READ | LOOP_WRITE};
	fake.n_script = 1;
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(fake.max_at_wait, LOOP_MAX_EVENTS);
	/* Only what the watch asked for (and errors) reach the callback. */
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.events, LOOP_READ);

	/* Re-registered: an event carrying the old registration's tag is stale. */
	assert_int_equal(loop_del_fd(loop, 5), 0);
	assert_int_equal(loop_add_fd(loop, 5, LOOP_READ, record_fd, &seen), 0);
	assert_true(fake.tag_of[5] != old_tag);
	fake.script[0] = (struct loop_backend_event){old_tag, LOOP_READ};
	fake.script[1] = (struct loop_backend_event){fake.tag_of[5], LOOP_ERROR};
	fake.n_script = 2;
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(seen.calls, 2);
	assert_int_equal(seen.events, LOOP_ERROR);
}

/* ---- timers ---- */

struct fired {
	struct loop *loop;
	uint64_t start;
	int order[16];
	uint64_t at[16];
	int n;
};

struct tid {
	struct fired *f;
	int id;
	uint64_t delay;
};

static void on_timer(struct loop *loop, struct loop_timer *t, void *data)
{
	struct tid *d = data;
	assert_false(loop_timer_armed(t));
	assert_true(d->f->n < 16);
	d->f->order[d->f->n] = d->id;
	d->f->at[d->f->n++] = loop_now_ms(loop);
	assert_true(loop_now_ms(loop) >= d->f->start + d->delay);
	loop_timer_cancel(
	        t); /* fire and forget: frees itself (ASan checks the loop does not touch it) */
}

static void on_stop_timer(struct loop *loop, struct loop_timer *t, void *data)
{
	(void)data;
	loop_timer_cancel(t);
	loop_stop(loop);
}

static void test_timers_fire_in_deadline_order(void **state)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct fired f = {.loop = loop, .start = loop_now_ms(loop)};
	/* Equal deadlines (the two 10s) fire in the order they were added. */
	struct tid ids[] = {{&f, 30, 30}, {&f, 10, 10}, {&f, 20, 20}, {&f, 0, 0}, {&f, 11, 10}};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
		assert_non_null(loop_timer_add(loop, ids[i].delay, on_timer, &ids[i]));
	assert_non_null(loop_timer_add(loop, 40, on_stop_timer, NULL));
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(f.n, 5);
	const int want[] = {0, 10, 11, 20, 30};
	for (int i = 0; i < 5; i++)
		assert_int_equal(f.order[i], want[i]);
	assert_true(loop_now_ms(loop) >= f.start + 40);
}

struct cancel_ctx {
	struct loop_timer *victim, *pushed;
	int victim_calls;
	int pushed_calls;
	uint64_t pushed_at, start;
};

static void on_victim(struct loop *loop, struct loop_timer *t, void *data)
{
	struct cancel_ctx *c = data;
	(void)loop;
	(void)t;
	c->victim_calls++;
}

static void on_canceller(struct loop *loop, struct loop_timer *t, void *data)
{
	struct cancel_ctx *c = data;
	(void)loop;
	/* The victim has the same deadline, added later: it is due in this
	 * very pass, and must not fire. */
	assert_true(loop_timer_armed(c->victim));
	loop_timer_cancel(c->victim);
	c->victim = NULL;
	/* Push the other one back by 50 ms from now. */
	loop_timer_reset(c->pushed, 50);
	loop_timer_cancel(t);
}

static void on_pushed(struct loop *loop, struct loop_timer *t, void *data)
{
	struct cancel_ctx *c = data;
	(void)t;
	c->pushed_calls++;
	c->pushed_at = loop_now_ms(loop);
}

static void test_timer_cancel_and_reset(void **state)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct cancel_ctx c = {.start = loop_now_ms(loop)};
	(void)state;

	/* Cancelled before it is due: never fires. */
	struct loop_timer *early = loop_timer_add(loop, 5, on_victim, &c);
	assert_true(loop_timer_armed(early));
	loop_timer_cancel(early);
	loop_timer_cancel(NULL);

	assert_non_null(loop_timer_add(loop, 10, on_canceller, &c));
	c.victim = loop_timer_add(loop, 10, on_victim, &c);
	c.pushed = loop_timer_add(loop, 30, on_pushed, &c);
	assert_non_null(loop_timer_add(loop, 100, on_stop_timer, NULL));
	assert_int_equal(loop_run(loop), 0);

	assert_int_equal(c.victim_calls, 0);
	assert_int_equal(c.pushed_calls, 1);
	assert_true(c.pushed_at >= c.start + 60); /* reset at >= 10, +50 */
	/* Fired, so idle; the handle lives until cancelled, and can be re-armed. */
	assert_false(loop_timer_armed(c.pushed));
	loop_timer_reset(c.pushed, 0);
	assert_true(loop_timer_armed(c.pushed));
	assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_int_equal(c.pushed_calls, 2);
	loop_timer_cancel(c.pushed);
}

struct rearm {
	int calls, limit;
};

static void on_rearm_zero(struct loop *loop, struct loop_timer *t, void *data)
{
	struct rearm *r = data;
	(void)loop;
	if (++r->calls > r->limit)
		fail_msg("a timer reset to 0 fired again in the same iteration");
	loop_timer_reset(t, 0);
}

static void test_timer_reset_in_own_callback_waits_an_iteration(void **state)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct rearm r = {0};
	(void)state;

	struct loop_timer *t = loop_timer_add(loop, 0, on_rearm_zero, &r);
	for (r.limit = 1; r.limit <= 3; r.limit++) {
		assert_int_equal(loop_run_once(loop, 1000), 0);
		assert_int_equal(r.calls, r.limit);
	}
	loop_timer_cancel(t);
	/* A timer still alive at loop_free is freed there (ASan: no leak). */
	assert_non_null(loop_timer_add(loop, 1000, on_rearm_zero, &r));
}

/* xorshift: a fixed seed, so a failure replays. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void test_heap_10000_random_operations(void **state)
{
	enum { N = 10000, OPS = 60000 };
	struct timer *t = calloc(N, sizeof(*t));
	struct timer_heap h;
	size_t queued = 0;
	(void)state;

	assert_non_null(t);
	timer_heap_init(&h);
	for (size_t i = 0; i < N; i++)
		timer_init(&t[i]);
	for (int op = 0; op < OPS; op++) {
		struct timer *x = &t[rnd() % N];
		switch (rnd() % 4) {
		case 0:
		case 1: /* add, or move (earlier or later) */
			queued += !timer_queued(x);
			assert_int_equal(timer_heap_schedule(&h, x, rnd() % 5000), 0);
			break;
		case 2: /* cancel */
			queued -= timer_queued(x);
			timer_heap_remove(&h, x);
			assert_false(timer_queued(x));
			break;
		default: /* expire the earliest */
			if (timer_heap_top(&h)) {
				struct timer *top = timer_heap_pop(&h);
				assert_false(timer_queued(top));
				queued--;
			}
			break;
		}
		assert_int_equal(timer_heap_size(&h), queued);
		if (op % 97 == 0)
			assert_true(timer_heap_valid(&h));
	}
	assert_true(timer_heap_valid(&h));
	/* Drained, they come out in (deadline, seq) order. */
	struct timer *prev = NULL;
	while (timer_heap_top(&h)) {
		struct timer *x = timer_heap_pop(&h);
		if (prev)
			assert_true(prev->deadline < x->deadline ||
			            (prev->deadline == x->deadline && prev->seq < x->seq));
		prev = x;
		queued--;
	}
	assert_int_equal(queued, 0);
	timer_heap_done(&h);
	free(t);
}

static void test_heap_check_catches_corruption(void **state)
{
	struct timer a, b, c;
	struct timer_heap h;
	(void)state;

	timer_heap_init(&h);
	timer_init(&a);
	timer_init(&b);
	timer_init(&c);
	assert_int_equal(timer_heap_schedule(&h, &a, 10), 0);
	assert_int_equal(timer_heap_schedule(&h, &b, 20), 0);
	assert_int_equal(timer_heap_schedule(&h, &c, 30), 0);
	assert_true(timer_heap_valid(&h));
	b.deadline = 5; /* changed behind the heap's back */
	assert_false(timer_heap_valid(&h));
	b.deadline = 20;
	b.index = 2;
	assert_false(timer_heap_valid(&h));
	b.index = 1;
	assert_true(timer_heap_valid(&h));
	timer_heap_done(&h);
}

/* Through the loop: 10,000 timers, a third cancelled, a third moved. */
enum { MANY = 10000 };
struct many {
	struct loop_timer *t[MANY];
	uint64_t due[MANY];
	int fired[MANY];
	bool cancelled[MANY];
	uint64_t last_due;
	int n_fired;
	uint64_t start;
};
static struct many many;

static void on_many(struct loop *loop, struct loop_timer *t, void *data)
{
	size_t i = (size_t)(uintptr_t)data;
	(void)t;
	assert_false(many.cancelled[i]);
	many.fired[i]++;
	many.n_fired++;
	assert_true(loop_now_ms(loop) >= many.due[i]);
	assert_true(many.due[i] >= many.last_due); /* deadline order */
	many.last_due = many.due[i];
}

static void test_loop_10000_timers_add_cancel_reset(void **state)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	int live = 0;
	(void)state;

	memset(&many, 0, sizeof(many));
	many.start = loop_now_ms(loop);
	for (size_t i = 0; i < MANY; i++) {
		uint64_t d = rnd() % 40;
		many.t[i] = loop_timer_add(loop, d, on_many, (void *)(uintptr_t)i);
		assert_non_null(many.t[i]);
		many.due[i] = many.start + d;
	}
	for (size_t i = 0; i < MANY; i++) {
		switch (rnd() % 3) {
		case 0:
			loop_timer_cancel(many.t[i]);
			many.t[i] = NULL;
			many.cancelled[i] = true;
			break;
		case 1: {
			uint64_t d = rnd() % 40;
			loop_timer_reset(many.t[i], d); /* no iteration yet: same clock */
			many.due[i] = many.start + d;
			live++;
			break;
		}
		default:
			live++;
			break;
		}
	}
	while (many.n_fired < live)
		assert_int_equal(loop_run_once(loop, 1000), 0);
	for (size_t i = 0; i < MANY; i++) {
		assert_int_equal(many.fired[i], many.cancelled[i] ? 0 : 1);
		loop_timer_cancel(many.t[i]);
	}
}

/* ---- deferred calls, stop ---- */

struct trace {
	char log[16];
	int n;
	struct loop *loop;
};

static void trace_add(struct trace *tr, char c)
{
	assert_true(tr->n < 15);
	tr->log[tr->n++] = c;
}

static void deferred_second(struct loop *loop, void *data)
{
	(void)loop;
	trace_add(data, 'E');
}

static void deferred_first(struct loop *loop, void *data)
{
	trace_add(data, 'D');
	/* Queued from a deferred call: next iteration, not this one. */
	assert_int_equal(loop_defer(loop, deferred_second, data), 0);
}

static void fd_defers(struct loop *loop, int fd, uint32_t events, void *data)
{
	(void)fd;
	(void)events;
	trace_add(data, 'F');
	assert_int_equal(loop_defer(loop, deferred_first, data), 0);
}

static void timer_traces(struct loop *loop, struct loop_timer *t, void *data)
{
	(void)loop;
	trace_add(data, 'T');
	loop_timer_cancel(t);
}

static void test_deferred_call_runs_after_callbacks(void **state)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	struct trace tr = {.loop = loop};
	int p[2];
	(void)state;

	make_pipe(p);
	put_byte(p[1]);
	assert_int_equal(loop_add_fd(loop, p[0], LOOP_READ, fd_defers, &tr), 0);
	assert_non_null(loop_timer_add(loop, 0, timer_traces, &tr));
	assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_string_equal(tr.log, "FTD");

	/* A deferred call pending makes the next wait return at once (not
	 * when the guard timer is due). */
	assert_int_equal(loop_del_fd(loop, p[0]), 0);
	struct loop_timer *guard = loop_timer_add(loop, 3000, timer_traces, &tr);
	uint64_t before = loop_now_ms(loop);
	assert_int_equal(loop_run_once(loop, -1), 0);
	assert_string_equal(tr.log, "FTDE");
	assert_true(loop_now_ms(loop) - before < 1000);
	loop_timer_cancel(guard);
	assert_int_equal(loop_defer(loop, NULL, NULL), -EINVAL);
	close(p[0]);
	close(p[1]);
}

static void deferred_flag(struct loop *loop, void *data)
{
	(void)loop;
	*(bool *)data = true;
}

static void stop_and_defer(struct loop *loop, struct loop_timer *t, void *data)
{
	loop_timer_cancel(t);
	loop_stop(loop);
	/* The iteration completes: this still runs before loop_run returns. */
	assert_int_equal(loop_defer(loop, deferred_flag, data), 0);
}

static void test_stop_ends_run(void **state)
{
	_cleanup_(loop_freep) struct loop *loop = loop_new();
	bool ran = false;
	(void)state;

	assert_non_null(loop_timer_add(loop, 5, stop_and_defer, &ran));
	uint64_t start = loop_now_ms(loop);
	assert_int_equal(loop_run(loop), 0);
	assert_true(ran);
	assert_true(loop_now_ms(loop) >= start + 5);

	/* And it can run again. */
	ran = false;
	assert_non_null(loop_timer_add(loop, 0, stop_and_defer, &ran));
	assert_int_equal(loop_run(loop), 0);
	assert_true(ran);
}

/* ---- signals ---- */

static int last_code = 1; /* never a code a signal sent by a process has */

static void on_signal(struct loop *loop, int signo, int code, void *data)
{
	(void)loop;
	*(int *)data = signo;
	last_code = code;
}

static bool blocked(int signo)
{
	sigset_t cur;
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	return sigismember(&cur, signo);
}

static void test_signal_through_signalfd(void **state)
{
	struct loop *loop = loop_new();
	int got = 0;
	(void)state;

	assert_false(blocked(SIGUSR1));
	assert_int_equal(loop_add_signal(loop, SIGUSR1, on_signal, &got), 0);
	assert_int_equal(loop_add_signal(loop, SIGUSR1, on_signal, &got), -EEXIST);
	assert_int_equal(loop_add_signal(loop, SIGKILL, on_signal, &got), -EINVAL);
	assert_int_equal(loop_add_signal(loop, 0, on_signal, &got), -EINVAL);
	assert_true(blocked(SIGUSR1));

	/* Without the loop's signalfd, this raise would end the test program. */
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_int_equal(got, SIGUSR1);
	assert_int_equal(last_code, SI_TKILL); /* raise() is tgkill(): sent by a process */

	/* A second signal on the same fd, and one left pending at free. */
	assert_int_equal(loop_add_signal(loop, SIGUSR2, on_signal, &got), 0);
	assert_int_equal(raise(SIGUSR2), 0);
	assert_int_equal(loop_run_once(loop, 1000), 0);
	assert_int_equal(got, SIGUSR2);
	assert_int_equal(raise(SIGUSR1), 0);

	/* Freed: the mask is as it was, and the pending SIGUSR1 was taken
	 * rather than delivered with its default action (exit). */
	loop_free(loop);
	assert_false(blocked(SIGUSR1));
	assert_false(blocked(SIGUSR2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_read_callback_fires_on_pipe_write),
	        cmocka_unit_test(test_modify_interest),
	        cmocka_unit_test(test_hangup_reported_without_interest),
	        cmocka_unit_test(test_removed_watch_gets_no_pending_callback),
	        cmocka_unit_test(test_pending_event_not_given_to_new_watch_on_same_fd),
	        cmocka_unit_test(test_fairness_cap_per_iteration),
	        cmocka_unit_test(test_swapped_backend_and_stale_tags),
	        cmocka_unit_test(test_timers_fire_in_deadline_order),
	        cmocka_unit_test(test_timer_cancel_and_reset),
	        cmocka_unit_test(test_timer_reset_in_own_callback_waits_an_iteration),
	        cmocka_unit_test(test_heap_10000_random_operations),
	        cmocka_unit_test(test_heap_check_catches_corruption),
	        cmocka_unit_test(test_loop_10000_timers_add_cancel_reset),
	        cmocka_unit_test(test_deferred_call_runs_after_callbacks),
	        cmocka_unit_test(test_stop_ends_run),
	        cmocka_unit_test(test_signal_through_signalfd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
