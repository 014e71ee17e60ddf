/* relay.h - move bytes both ways between two connected sockets.
 *
 * A relay joins a client and a server connection (both TCP, both
 * non-blocking) and carries bytes in each direction - "up" (client to
 * server) and "down" (server to client) - until both directions are done,
 * nothing has moved for `idle_ms`, or a read or write fails.  It then calls
 * its completion callback once, with the reason and the byte counts.
 *
 * How bytes move: each direction splices from its source socket into a pipe
 * and from the pipe into its destination socket (splice(2), SPLICE_F_MOVE |
 * SPLICE_F_NONBLOCK), so the payload never enters user space.  The pipe is
 * created (pipe2, O_CLOEXEC | O_NONBLOCK) on the direction's first read.  A
 * direction whose splice is refused with EINVAL or ENOSYS, or that cannot get
 * a pipe (EMFILE, ENFILE, ENOMEM, or one that would sit among the last
 * RELAY_FD_RESERVE descriptors), falls back to a RELAY_BUF_SIZE buffer of
 * its own; the other direction is unaffected.  Nothing is allocated per byte
 * relayed.
 *
 * Small flows never take a pipe: a direction first copies through a
 * RELAY_PROBE_SIZE buffer, and only once a read fills it (a bulk transfer)
 * does it splice, after the buffer is written out.  Requests, TLS
 * handshakes and idle tunnels so cost no pipe descriptors and no pipe
 * memory; a download pays one probe read.
 *
 * Quiet relays give back: when nothing has moved for `release_ms`, each
 * direction closes its pipe (or frees its buffer) if it holds no bytes, and
 * opens a new one on its next read.  An idle tunnel then holds its two
 * sockets and no more (2 fds instead of 6, about 4 KiB less kernel memory:
 * bench/proxy.sh measures it), and a busy one never pays for it: the pipe is
 * reopened at most once per quiet spell.
 *
 * Backpressure: a direction reads from its source only while its pipe has
 * room, or its buffer is empty, so at most a pipe (RELAY_PIPE_SIZE) or a
 * buffer per direction sits in the gateway, and a slow reader slows its
 * sender down through TCP instead of filling our memory.  An fd is in the loop only while the relay
 * waits for something from it, so a peer that hung up cannot make the loop spin while the relay
 * waits on the other side.
 *
 * Half-close: when a source says EOF and everything read from it has been
 * written, the destination is shut for writing (shutdown SHUT_WR), so the
 * other end sees EOF too while the opposite direction goes on.  A direction
 * is done at that point.  Both done: RELAY_END_DONE.
 *
 * Errors, each on its own path: EAGAIN waits for the loop; EINTR is tried
 * again; EINVAL/ENOSYS from splice switch that direction to the buffer;
 * EPIPE, ECONNRESET and every other errno end the relay with RELAY_END_ERROR,
 * the -errno and which side and operation failed ("client read", "server
 * write", ...).
 *
 * The process must ignore SIGPIPE: splice() into a socket whose peer is gone
 * raises it, and unlike send() it takes no MSG_NOSIGNAL.  The copy path uses
 * send(MSG_NOSIGNAL).
 *
 * Fairness: one callback reads at most RELAY_BURST bytes in each direction,
 * so a fast connection cannot hold the loop.
 *
 * Throughput (docs/benchmarks.md has the measurements): a 1 MiB pipe and a
 * 1 MiB burst are where a single CONNECT transfer on loopback is fastest.
 * Smaller pipes (64 or 256 KiB) cost more wakeups per byte; bigger ones
 * (4 MiB and up, which need CAP_SYS_RESOURCE past fs.pipe-max-size) hold
 * more bytes in flight than the CPU caches and are slower; a bigger burst
 * changes nothing measurable, and socket buffer sizes (SO_RCVBUF,
 * SO_SNDBUF) are best left to the kernel's autotuning.
 */
#ifndef AIRLOCK_GATEWAY_RELAY_H
#define AIRLOCK_GATEWAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/loop.h"
#include "util/macros.h"

/* The copy path's buffer, per direction. */
#define RELAY_BUF_SIZE (64 * 1024)
/* A direction that fills its pipe (the kernel's default, 64 KiB) asks for
 * one this big, once; past the user's pipe-user-pages-soft the kernel
 * refuses and the pipe stays as it was. */
#define RELAY_PIPE_SIZE (1024 * 1024)
/* Bytes one callback reads per direction, at most (fairness). */
#define RELAY_BURST (1024 * 1024)
/* Pipes are not opened in the last RELAY_FD_RESERVE descriptors the process
 * may have (the direction copies through a buffer instead), so a crowd of
 * relays cannot take the descriptors other work needs. */
#define RELAY_FD_RESERVE 64

/* What a direction reads through a buffer before it splices (see above). */
#define RELAY_PROBE_SIZE 4096

/* A relay quiet this long gives back its empty pipes and buffers. */
#define RELAY_RELEASE_MS 1000

#define RELAY_NO_LIMIT UINT64_MAX

struct relay_config {
	unsigned idle_ms; /* end after this long without a byte moved; default 300000 */
	/* Give back empty pipes and buffers after this long without a byte
	 * moved; default RELAY_RELEASE_MS; 0: keep them until the end. */
	unsigned release_ms;
	/* Bytes read from the client after the preamble, at most.  At the
	 * limit the client is no longer read (what it sends more stays in its
	 * socket, never forwarded) and the up direction is done, without
	 * shutting down the server's side: the proxy uses it to forward exactly
	 * one request body.  Default RELAY_NO_LIMIT. */
	uint64_t up_limit;
	bool no_splice; /* always copy through the buffers (tests) */
};

void relay_config_default(struct relay_config *c);

enum relay_end {
	RELAY_END_DONE,  /* both directions finished, half-closes passed on */
	RELAY_END_IDLE,  /* nothing moved for idle_ms */
	RELAY_END_ERROR, /* a read, write or shutdown failed: see error and where */
};

struct relay_result {
	enum relay_end end;
	int error;           /* -errno with RELAY_END_ERROR, else 0 */
	const char *where;   /* "client read", "server write", ... with an error; else NULL */
	uint64_t bytes_up;   /* written to the server, the preamble included */
	uint64_t bytes_down; /* written to the client */
	bool copied;         /* a direction fell back from splice to the buffer */
};

/* Called once, from a loop callback, when the relay ends; the relay does
 * nothing more afterwards, and `done` may free it (relay_free). */
typedef void relay_done_fn(void *ctx, const struct relay_result *res);

struct relay;

/* Start relaying between connected sockets `client_fd` and `server_fd`.
 * Takes ownership of both fds, also on failure (relay_free closes them).
 * `preamble` (copied; may be NULL with len 0) is written to the server before
 * anything read from the client: the rewritten request head and the body
 * bytes the proxy already read, or a client's pipelined bytes after CONNECT.
 * Nothing is read or written before the loop runs, and `done` is never called
 * from here.  Returns 0 with *ret, or -ENOMEM, or the loop's error. */
int relay_new(struct loop *loop, int client_fd, int server_fd, const struct relay_config *c,
              const void *preamble, size_t preamble_len, relay_done_fn *done, void *ctx,
              struct relay **ret);

/* Stop (without calling `done`), close both fds and free.  Accepts NULL;
 * allowed from `done`. */
void relay_free(struct relay *r);
DEFINE_POINTER_CLEANUP(struct relay, relay_free)

/* Bytes written so far to the server (up) and to the client (down). */
void relay_counts(const struct relay *r, uint64_t *ret_up, uint64_t *ret_down);

#endif
