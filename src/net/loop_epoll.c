/* loop_epoll.c - the loop's epoll backend (see loop_backend.h).
 *
 * Level-triggered on purpose (loop.h says why).  EPOLLRDHUP is not asked for:
 * a half-closed peer shows up as a readable fd whose read returns 0, which
 * every reader handles anyway.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/loop_backend.h"

struct epoll_state {
	int fd;
	unsigned max;
	struct epoll_event ev[]; /* max of them */
};

static uint32_t to_epoll(uint32_t events)
{
	return ((events & LOOP_READ) ? (uint32_t)EPOLLIN : 0) |
	       ((events & LOOP_WRITE) ? (uint32_t)EPOLLOUT : 0);
}

static uint32_t from_epoll(uint32_t ev)
{
	return ((ev & EPOLLIN) ? LOOP_READ : 0) | ((ev & EPOLLOUT) ? LOOP_WRITE : 0) |
	       ((ev & EPOLLERR) ? LOOP_ERROR : 0) | ((ev & EPOLLHUP) ? LOOP_HUP : 0);
}

static int epoll_backend_create(void **ret_state, unsigned max_events)
{
	if (max_events == 0 || max_events > 65536)
		return -EINVAL;
	struct epoll_state *s = malloc(sizeof(*s) + max_events * sizeof(s->ev[0]));
	if (!s)
		return -ENOMEM;
	s->fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->fd < 0) {
		int r = -errno;
		free(s);
		return r;
	}
	s->max = max_events;
	*ret_state = s;
	return 0;
}

static void epoll_backend_destroy(void *state)
{
	struct epoll_state *s = state;
	if (!s)
		return;
	close(s->fd);
	free(s);
}

static int ctl(struct epoll_state *s, int op, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = {.events = to_epoll(events), .data.u64 = tag};
	if (epoll_ctl(s->fd, op, fd, &ev) < 0)
		return -errno;
	return 0;
}

static int epoll_backend_add(void *state, int fd, uint32_t events, uint64_t tag)
{
	return ctl(state, EPOLL_CTL_ADD, fd, events, tag);
}

static int epoll_backend_mod(void *state, int fd, uint32_t events, uint64_t tag)
{
	return ctl(state, EPOLL_CTL_MOD, fd, events, tag);
}

static int epoll_backend_del(void *state, int fd)
{
	return ctl(state, EPOLL_CTL_DEL, fd, 0, 0);
}

static int epoll_backend_wait(void *state, int timeout_ms, struct loop_backend_event *out,
                              unsigned max)
{
	struct epoll_state *s = state;
	if (max > s->max)
		max = s->max;
	int n = epoll_wait(s->fd, s->ev, (int)max, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		out[i].tag = s->ev[i].data.u64;
		out[i].events = from_epoll(s->ev[i].events);
	}
	return n;
}

const struct loop_backend_ops loop_backend_epoll = {
        .name = "epoll",
        .create = epoll_backend_create,
        .destroy = epoll_backend_destroy,
        .add = epoll_backend_add,
        .mod = epoll_backend_mod,
        .del = epoll_backend_del,
        .wait = epoll_backend_wait,
};
