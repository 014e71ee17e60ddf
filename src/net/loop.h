/* loop.h - the gateway's event loop: fd watches, timers, deferred calls, signals.
 *
 * One thread, one loop.  Each iteration of loop_run():
 *   1. waits (epoll) until an fd is ready, the earliest timer is due, or at
 *      once when deferred calls are pending;
 *   2. updates the cached clock (loop_now_ms);
 *   3. calls fd callbacks, at most LOOP_MAX_EVENTS of them;
 *   4. calls the callbacks of timers that were due, earliest first;
 *   5. calls deferred functions (loop_defer), in the order they were queued.
 *
 * Level-triggered: an fd that is still readable is reported again next
 * iteration.  A callback may therefore read a bounded amount (one buffer) and
 * return; nothing is lost when it stops early.  With edge-triggered epoll
 * every callback would have to drain its fd to EAGAIN or never hear of the
 * rest, and one forgotten drain is a stalled connection.  The price, one
 * epoll_ctl to toggle LOOP_WRITE on and off, is small.
 *
 * Fairness: at most LOOP_MAX_EVENTS (256) fds are served per iteration, and
 * epoll's ready list is round-robin, so with 10,000 busy clients each waits at
 * most 40 iterations before its turn; timers and deferred calls run every
 * iteration however many fds are ready.  A callback should likewise do a
 * bounded amount of work (one read, one accept batch) per call.
 *
 * Removal is always safe: loop_del_fd() and loop_timer_cancel() may be called
 * from any callback, for any watch or timer, including one whose event is
 * already pending in the same iteration: a removed watch or cancelled timer
 * never gets another callback.  Closing a connection from inside its own
 * callback is best done with loop_defer(), so that no other callback of this
 * iteration holds a pointer to freed memory.
 *
 * Errors are negative errno values; nothing here prints or exits.  Every
 * descriptor the loop creates is close-on-exec.
 */
#ifndef AIRLOCK_NET_LOOP_H
#define AIRLOCK_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/macros.h"

#define LOOP_READ  0x1u /* interest and event: readable (or a listener has a connection) */
#define LOOP_WRITE 0x2u /* interest and event: writable (or a connect finished) */
#define LOOP_ERROR 0x4u /* event only, always reported: an error is pending (SO_ERROR) */
#define LOOP_HUP   0x8u /* event only, always reported: the peer hung up */

#define LOOP_MAX_EVENTS 256 /* fd callbacks per iteration, at most */

struct loop;
struct loop_timer;

typedef void loop_fd_cb(struct loop *loop, int fd, uint32_t events, void *data);
typedef void loop_timer_cb(struct loop *loop, struct loop_timer *timer, void *data);
typedef void loop_defer_cb(struct loop *loop, void *data);
/* `code` is how the signal was sent (siginfo's si_code): SI_USER or SI_QUEUE
 * (<= 0) from kill() and friends, SI_KERNEL from the kernel (a terminal's ^C
 * reaches the whole foreground process group that way). */
typedef void loop_signal_cb(struct loop *loop, int signo, int code, void *data);

/* NULL with errno set on failure (ENOMEM, or epoll_create1's error). */
struct loop *loop_new(void);
/* Frees every timer still alive (their handles become invalid), drops pending
 * deferred calls without running them, closes the loop's own fds (never the
 * watched ones), and unblocks the signals loop_add_signal() blocked.
 * Accepts NULL.  Not from inside a callback. */
void loop_free(struct loop *loop);
DEFINE_POINTER_CLEANUP(struct loop, loop_free)

/* Iterate until loop_stop(); returns 0, or -errno if waiting failed. */
int loop_run(struct loop *loop);
/* One iteration, waiting at most timeout_ms (-1: as long as needed). */
int loop_run_once(struct loop *loop, int timeout_ms);
/* loop_run() returns once the current iteration is complete. */
void loop_stop(struct loop *loop);
/* CLOCK_MONOTONIC in ms, read once per iteration, after the wait. */
uint64_t loop_now_ms(const struct loop *loop);

/* --- fd watches: one per fd; `events` is LOOP_READ and/or LOOP_WRITE (or 0).
 * cb gets the ready events, LOOP_ERROR and LOOP_HUP included whatever the
 * interest.  -EEXIST when fd is watched already, -EINVAL, -ENOMEM, or epoll's
 * error.  Remove a watch before closing its fd. */
int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb *cb, void *data);
int loop_mod_fd(struct loop *loop, int fd, uint32_t events);
/* Returns 0, or -ENOENT when fd was not watched. */
int loop_del_fd(struct loop *loop, int fd);

/* --- timers: one-shot; the handle stays valid, idle once fired, until
 * loop_timer_cancel() frees it.  So a fire-and-forget timer cancels itself in
 * its callback, and an idle timeout is added once and reset on every read.
 * NULL when out of memory (the only failure). */
struct loop_timer *loop_timer_add(struct loop *loop, uint64_t delay_ms, loop_timer_cb *cb,
                                  void *data);
/* Disarm and free the timer; accepts NULL; safe from any callback, its own included. */
void loop_timer_cancel(struct loop_timer *timer);
/* (Re)arm the timer delay_ms after loop_now_ms(), armed or fired; never fails.
 * A timer reset from a timer callback fires in a later iteration, never in the
 * current one, so a zero delay cannot spin. */
void loop_timer_reset(struct loop_timer *timer, uint64_t delay_ms);
bool loop_timer_armed(const struct loop_timer *timer);

/* --- deferred calls: cb(loop, data) at the end of the current iteration
 * (the next one if called outside loop_run), after every fd and timer
 * callback.  Calls queued by a deferred call run in the next iteration.
 * Returns 0 or -ENOMEM. */
int loop_defer(struct loop *loop, loop_defer_cb *cb, void *data);

/* --- signals: blocks signo in the process's signal mask and delivers it
 * through one signalfd as an ordinary callback, so no code runs in signal
 * context.  Call before starting threads.  Like any signal, several
 * deliveries before the loop reads them may arrive as one.  The mask is
 * inherited across fork and exec: code that execs a program must restore it
 * first.  -EINVAL (bad signo, SIGKILL, SIGSTOP), -EEXIST, -ENOMEM, or
 * signalfd's error. */
int loop_add_signal(struct loop *loop, int signo, loop_signal_cb *cb, void *data);

#endif
