/* loop_backend.h - what the event loop needs from the kernel's readiness API.
 *
 * Internal to src/net: loop.c is written against these few operations and
 * loop_epoll.c implements them with epoll.  A test can hand loop_new_backend()
 * a scripted backend; a future backend (io_uring poll, kqueue for a port)
 * is one more file.
 *
 * A registration carries an opaque 64-bit tag chosen by the loop; wait()
 * reports it back with the ready events (LOOP_READ | LOOP_WRITE | LOOP_ERROR |
 * LOOP_HUP).  Every operation returns 0 (wait: the number of events) or -errno.
 */
#ifndef AIRLOCK_NET_LOOP_BACKEND_H
#define AIRLOCK_NET_LOOP_BACKEND_H

#include <stdint.h>

#include "net/loop.h"

struct loop_backend_event {
	uint64_t tag;
	uint32_t events;
};

struct loop_backend_ops {
	const char *name;
	/* A backend able to report up to max_events per wait. */
	int (*create)(void **ret_state, unsigned max_events);
	void (*destroy)(void *state);
	int (*add)(void *state, int fd, uint32_t events, uint64_t tag);
	int (*mod)(void *state, int fd, uint32_t events, uint64_t tag);
	int (*del)(void *state, int fd);
	/* Wait up to timeout_ms (-1: forever) and fill at most max events;
	 * an interrupted wait returns 0 events, not an error. */
	int (*wait)(void *state, int timeout_ms, struct loop_backend_event *events, unsigned max);
};

extern const struct loop_backend_ops loop_backend_epoll;

/* loop_new() with another backend; ops must outlive the loop. */
struct loop *loop_new_backend(const struct loop_backend_ops *ops);

#endif
