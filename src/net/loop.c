/* loop.c - the event loop (see loop.h); the kernel side is in loop_epoll.c. */
#include "net/loop.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "net/loop_backend.h"
#include "net/timer.h"

/* signalfd_siginfo records read per callback: a burst of signals is drained
 * over a few iterations rather than in one unbounded loop. */
#define SIGNAL_READ_MAX 16

/* The watch of one fd, in an array indexed by fd.  `gen` identifies one
 * registration: it is in the tag the backend reports, so an event queued for
 * a watch that was removed - or removed and replaced by a new watch on the
 * same fd number - in the same iteration is recognised and dropped. */
struct watch {
	loop_fd_cb *cb; /* NULL: no watch */
	void *data;
	uint32_t events;
	uint32_t gen; /* never 0 while watched */
};

struct loop_timer {
	struct timer node;
	struct loop *loop;
	loop_timer_cb *cb;
	void *data;
	struct loop_timer *prev, *next; /* every live timer, so loop_free frees them */
};

/* The loop_timer around a heap entry. */
static struct loop_timer *timer_of(struct timer *node)
{
	return (struct loop_timer *)(void *)((char *)node - offsetof(struct loop_timer, node));
}

struct deferred {
	loop_defer_cb *cb;
	void *data;
};

struct defer_queue {
	struct deferred *v;
	size_t n, cap;
};

struct signal_handler {
	loop_signal_cb *cb;
	void *data;
};

struct loop {
	const struct loop_backend_ops *ops;
	void *backend;
	uint64_t now_ms;
	bool stop;

	struct watch *watches;
	size_t n_watches;
	uint32_t last_gen;

	struct timer_heap timers;
	struct loop_timer *timer_list;
	size_t n_timers;

	struct defer_queue deferred, spare; /* spare: the queue being run, reused */

	int sigfd;
	sigset_t sigmask; /* signals the signalfd reads */
	sigset_t unblock; /* those of them this loop blocked, unblocked again at free */
	struct signal_handler signals[_NSIG];

	struct loop_backend_event events[LOOP_MAX_EVENTS];
};

static uint64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *loop_new_backend(const struct loop_backend_ops *ops)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	if (!loop) {
		errno = ENOMEM;
		return NULL;
	}
	int r = ops->create(&loop->backend, LOOP_MAX_EVENTS);
	if (r < 0) {
		free(loop);
		errno = -r;
		return NULL;
	}
	loop->ops = ops;
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);
	sigemptyset(&loop->unblock);
	timer_heap_init(&loop->timers);
	loop->now_ms = clock_ms();
	return loop;
}

struct loop *loop_new(void)
{
	return loop_new_backend(&loop_backend_epoll);
}

static void restore_signals(struct loop *loop)
{
	static const struct timespec zero = {0, 0};

	if (sigisemptyset(&loop->unblock))
		return;
	/* A signal raised since the last read would be delivered, with its
	 * default action, the moment it is unblocked: take it first. */
	while (sigtimedwait(&loop->unblock, NULL, &zero) > 0)
		;
	sigprocmask(SIG_UNBLOCK, &loop->unblock, NULL);
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	while (loop->timer_list) {
		struct loop_timer *t = loop->timer_list;
		loop->timer_list = t->next;
		free(t);
	}
	timer_heap_done(&loop->timers);
	free(loop->deferred.v);
	free(loop->spare.v);
	loop->ops->destroy(loop->backend);
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	restore_signals(loop);
	free(loop->watches);
	free(loop);
}

uint64_t loop_now_ms(const struct loop *loop)
{
	return loop->now_ms;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}

/* ---- fd watches ---- */

static uint64_t watch_tag(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

static int grow_watches(struct loop *loop, int fd)
{
	size_t need = (size_t)fd + 1;
	if (need <= loop->n_watches)
		return 0;
	size_t n = loop->n_watches ? loop->n_watches : 64;
	while (n < need)
		n *= 2;
	struct watch *w = realloc(loop->watches, n * sizeof(*w));
	if (!w)
		return -ENOMEM;
	memset(w + loop->n_watches, 0, (n - loop->n_watches) * sizeof(*w));
	loop->watches = w;
	loop->n_watches = n;
	return 0;
}

static struct watch *find_watch(struct loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->n_watches || !loop->watches[fd].cb)
		return NULL;
	return &loop->watches[fd];
}

int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb *cb, void *data)
{
	if (fd < 0)
		return -EBADF;
	if (!cb || (events & ~(LOOP_READ | LOOP_WRITE)))
		return -EINVAL;
	if (find_watch(loop, fd))
		return -EEXIST;
	int r = grow_watches(loop, fd);
	if (r < 0)
		return r;
	uint32_t gen = ++loop->last_gen;
	if (gen == 0)
		gen = ++loop->last_gen;
	r = loop->ops->add(loop->backend, fd, events, watch_tag(fd, gen));
	if (r < 0)
		return r;
	loop->watches[fd] = (struct watch){.cb = cb, .data = data, .events = events, .gen = gen};
	return 0;
}

int loop_mod_fd(struct loop *loop, int fd, uint32_t events)
{
	struct watch *w = find_watch(loop, fd);
	if (!w)
		return -ENOENT;
	if (events & ~(LOOP_READ | LOOP_WRITE))
		return -EINVAL;
	if (events == w->events)
		return 0;
	int r = loop->ops->mod(loop->backend, fd, events, watch_tag(fd, w->gen));
	if (r < 0)
		return r;
	w->events = events;
	return 0;
}

int loop_del_fd(struct loop *loop, int fd)
{
	struct watch *w = find_watch(loop, fd);
	if (!w)
		return -ENOENT;
	*w = (struct watch){0};
	/* The watch is gone whatever the kernel says: an fd closed too early
	 * (EBADF) has already left the epoll set. */
	return loop->ops->del(loop->backend, fd);
}

static void dispatch_fds(struct loop *loop, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t tag = loop->events[i].tag;
		int fd = (int)(uint32_t)tag;
		struct watch *w = find_watch(loop, fd);
		/* Removed (or replaced) by an earlier callback of this batch. */
		if (!w || w->gen != (uint32_t)(tag >> 32))
			continue;
		/* Interest dropped by an earlier callback of this batch. */
		uint32_t ev = loop->events[i].events & (w->events | LOOP_ERROR | LOOP_HUP);
		if (!ev)
			continue;
		/* No pointer into the watch array survives the call: the
		 * callback may add watches and move it. */
		w->cb(loop, fd, ev, w->data);
	}
}

/* ---- timers ---- */

static uint64_t deadline_after(const struct loop *loop, uint64_t delay_ms)
{
	return delay_ms > UINT64_MAX - loop->now_ms ? UINT64_MAX : loop->now_ms + delay_ms;
}

struct loop_timer *loop_timer_add(struct loop *loop, uint64_t delay_ms, loop_timer_cb *cb,
                                  void *data)
{
	assert(cb);
	struct loop_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	/* Room in the heap for every live timer, so loop_timer_reset() of an
	 * idle one never needs memory. */
	if (timer_heap_reserve(&loop->timers, loop->n_timers + 1) < 0) {
		free(t);
		return NULL;
	}
	timer_init(&t->node);
	t->loop = loop;
	t->cb = cb;
	t->data = data;
	t->next = loop->timer_list;
	if (t->next)
		t->next->prev = t;
	loop->timer_list = t;
	loop->n_timers++;
	int r = timer_heap_schedule(&loop->timers, &t->node, deadline_after(loop, delay_ms));
	assert(r == 0);
	(void)r;
	return t;
}

void loop_timer_cancel(struct loop_timer *t)
{
	if (!t)
		return;
	struct loop *loop = t->loop;
	timer_heap_remove(&loop->timers, &t->node);
	if (t->prev)
		t->prev->next = t->next;
	else
		loop->timer_list = t->next;
	if (t->next)
		t->next->prev = t->prev;
	loop->n_timers--;
	free(t);
}

void loop_timer_reset(struct loop_timer *t, uint64_t delay_ms)
{
	struct loop *loop = t->loop;
	int r = timer_heap_schedule(&loop->timers, &t->node, deadline_after(loop, delay_ms));
	assert(r == 0); /* reserved in loop_timer_add */
	(void)r;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return timer_queued(&t->node);
}

static void run_timers(struct loop *loop)
{
	/* Only timers scheduled before this point fire now: one reset from a
	 * callback below waits for the next iteration even with a zero delay. */
	uint64_t first_new = loop->timers.next_seq;

	for (;;) {
		struct timer *top = timer_heap_top(&loop->timers);
		if (!top || top->deadline > loop->now_ms || top->seq >= first_new)
			break;
		timer_heap_remove(&loop->timers, top);
		struct loop_timer *t = timer_of(top);
		/* t may be freed by its callback: not touched afterwards. */
		t->cb(loop, t, t->data);
	}
}

/* Milliseconds until the earliest timer, capped at `limit` (-1: no cap). */
static int wait_timeout(const struct loop *loop, int limit)
{
	if (loop->deferred.n)
		return 0;
	const struct timer *top = timer_heap_top(&loop->timers);
	if (!top)
		return limit;
	uint64_t d = top->deadline > loop->now_ms ? top->deadline - loop->now_ms : 0;
	if (d > INT_MAX)
		d = INT_MAX;
	return (limit >= 0 && (uint64_t)limit < d) ? limit : (int)d;
}

/* ---- deferred calls ---- */

int loop_defer(struct loop *loop, loop_defer_cb *cb, void *data)
{
	struct defer_queue *q = &loop->deferred;
	if (!cb)
		return -EINVAL;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct deferred *v = realloc(q->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n++] = (struct deferred){cb, data};
	return 0;
}

static void run_deferred(struct loop *loop)
{
	/* Swap queues: calls deferred from here on go to the next iteration. */
	struct defer_queue run = loop->deferred;
	loop->deferred = loop->spare;
	for (size_t i = 0; i < run.n; i++)
		run.v[i].cb(loop, run.v[i].data);
	run.n = 0;
	loop->spare = run;
}

/* ---- iteration ---- */

int loop_run_once(struct loop *loop, int timeout_ms)
{
	int n = loop->ops->wait(loop->backend, wait_timeout(loop, timeout_ms), loop->events,
	                        LOOP_MAX_EVENTS);
	if (n < 0)
		return n;
	loop->now_ms = clock_ms();
	dispatch_fds(loop, n);
	run_timers(loop);
	run_deferred(loop);
	return 0;
}

int loop_run(struct loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		int r = loop_run_once(loop, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- signals ---- */

static void on_signalfd(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si[SIGNAL_READ_MAX];
	(void)events;
	(void)data;

	ssize_t n = read(fd, si, sizeof(si));
	if (n <= 0)
		return; /* EAGAIN: another reader took it; nothing else can fail here */
	for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
		uint32_t signo = si[i].ssi_signo;
		if (signo < _NSIG && loop->signals[signo].cb)
			loop->signals[signo].cb(loop, (int)signo, si[i].ssi_code,
			                        loop->signals[signo].data);
	}
}

static int signalfd_cloexec(int fd, const sigset_t *mask)
{
	int r = signalfd(fd, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return r < 0 ? -errno : r;
}

int loop_add_signal(struct loop *loop, int signo, loop_signal_cb *cb, void *data)
{
	sigset_t one, old, mask;

	if (!cb || signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	if (loop->signals[signo].cb)
		return -EEXIST;

	/* Block first: a signal arriving between the two steps then waits in
	 * the signalfd instead of running its default action. */
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, &old) < 0)
		return -errno;
	bool was_blocked = sigismember(&old, signo);

	mask = loop->sigmask;
	sigaddset(&mask, signo);
	int fd = signalfd_cloexec(loop->sigfd, &mask);
	int r = fd < 0 ? fd : 0;
	if (r == 0 && loop->sigfd < 0) {
		r = loop_add_fd(loop, fd, LOOP_READ, on_signalfd, NULL);
		if (r < 0)
			close(fd);
		else
			loop->sigfd = fd;
	}
	if (r < 0) {
		if (!was_blocked)
			sigprocmask(SIG_UNBLOCK, &one, NULL);
		return r;
	}
	loop->sigmask = mask;
	if (!was_blocked)
		sigaddset(&loop->unblock, signo);
	loop->signals[signo] = (struct signal_handler){cb, data};
	return 0;
}
