#include "gateway/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* A call interrupted by a signal is tried again at once, this many times
 * per callback; after that the loop calls us again (level-triggered). */
#define EINTR_RETRIES 4

enum side { CLIENT = 0, SERVER = 1 };

/* One direction: bytes read from `from`, held in the pipe or the buffer,
 * written to `to`. */
struct dir {
	int from, to; /* the relay's fds */
	const char *read_where, *write_where, *shut_where;
	int pipe_r, pipe_w; /* -1 until the first splice */
	size_t pipe_cap;    /* the pipe's size (F_GETPIPE_SZ) */
	size_t in_pipe;     /* bytes in the pipe */
	bool pipe_full;     /* splice into it said EAGAIN with bytes in it: wait for a write */
	bool pipe_grown;    /* asked for RELAY_PIPE_SIZE once */
	uint8_t *buf;       /* copy path, allocated on first use */
	size_t buf_cap;     /* RELAY_BUF_SIZE, or more to take a pipe's contents */
	size_t buf_start, buf_end;
	uint8_t *pre; /* preamble still to write (up only) */
	size_t pre_off, pre_len;
	uint64_t limit; /* bytes still to read from `from` */
	uint64_t bytes; /* written to `to` */
	bool copy;      /* the buffer, not splice */
	/* Copying through a RELAY_PROBE_SIZE buffer until a read fills it:
	 * then `bulk`, and splice once the buffer is empty. */
	bool probing, bulk;
	bool eof;     /* nothing more to read: EOF, or the limit reached */
	bool limited; /* eof came from the limit: `to` is not shut */
	bool done;    /* eof, all written, `to` shut (or left open at the limit) */
};

struct relay {
	struct loop *loop;
	int fd[2];         /* CLIENT, SERVER */
	uint32_t watch[2]; /* interest registered with the loop; 0: not in the loop */
	struct dir up, down;
	struct loop_timer *idle; /* the idle end, and the release of quiet buffers before it */
	uint64_t last_move_ms;   /* loop_now_ms() when a byte last moved */
	struct relay_config config;
	relay_done_fn *done;
	void *ctx;
	bool copied;
	/* The failure that ends the relay, set where it happens. */
	int error;
	const char *where;
};

void relay_config_default(struct relay_config *c)
{
	memset(c, 0, sizeof(*c));
	c->idle_ms = 300000;
	c->release_ms = RELAY_RELEASE_MS;
	c->up_limit = RELAY_NO_LIMIT;
}

static bool pending(const struct dir *d)
{
	return d->pre_off < d->pre_len || d->in_pipe > 0 || d->buf_end > d->buf_start;
}

static int fail(struct relay *r, int error, const char *where)
{
	if (!r->error) {
		r->error = error;
		r->where = where;
	}
	return error;
}

static void close_pipe(struct dir *d)
{
	if (d->pipe_r >= 0)
		close(d->pipe_r);
	if (d->pipe_w >= 0)
		close(d->pipe_w);
	d->pipe_r = d->pipe_w = -1;
}

/* Switch a direction to the buffer for good. */
static void use_copy(struct relay *r, struct dir *d)
{
	d->copy = true;
	d->probing = false;
	r->copied = true;
}

static int alloc_buf(struct relay *r, struct dir *d, size_t size)
{
	if (d->buf && d->buf_cap >= size)
		return 0;
	uint8_t *b = realloc(d->buf, size);
	if (!b)
		return fail(r, -ENOMEM, "buffer");
	d->buf = b;
	d->buf_cap = size;
	return 0;
}

/* splice() into `to` was refused with data in the pipe: move that data to a
 * buffer that holds it, and go on copying. */
static int pipe_to_buffer(struct relay *r, struct dir *d)
{
	if (alloc_buf(r, d, d->in_pipe > RELAY_BUF_SIZE ? d->in_pipe : RELAY_BUF_SIZE) < 0)
		return r->error;
	size_t have = 0;
	while (have < d->in_pipe) {
		ssize_t n = read(d->pipe_r, d->buf + have, d->in_pipe - have);
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* EAGAIN or EOF cannot happen with in_pipe bytes in it; anything
		 * else would lose bytes: give up on the relay. */
		return fail(r, n < 0 ? -errno : -EIO, "pipe");
	}
	d->buf_start = 0;
	d->buf_end = have;
	d->in_pipe = 0;
	close_pipe(d);
	use_copy(r, d);
	return 0;
}

static void written(struct dir *d, size_t n)
{
	d->bytes += n;
	if (d->pre_off < d->pre_len) {
		d->pre_off += n;
		if (d->pre_off == d->pre_len) {
			free(d->pre);
			d->pre = NULL;
			d->pre_off = d->pre_len = 0;
		}
	} else if (d->in_pipe) {
		d->in_pipe -= n;
		d->pipe_full = false;
	} else {
		d->buf_start += n;
		if (d->buf_start == d->buf_end)
			d->buf_start = d->buf_end = 0;
	}
}

/* Write what the direction holds to `to` until it is empty or `to` is full.
 * Returns > 0 when bytes moved, 0 when none could, or -errno (recorded). */
static ssize_t dir_write(struct relay *r, struct dir *d)
{
	ssize_t total = 0;
	int tries = 0;

	while (pending(d)) {
		ssize_t n;
		bool spliced = false;
		if (d->pre_off < d->pre_len) {
			n = send(d->to, d->pre + d->pre_off, d->pre_len - d->pre_off,
			         MSG_NOSIGNAL | MSG_DONTWAIT);
		} else if (d->in_pipe) {
			spliced = true;
			n = splice(d->pipe_r, NULL, d->to, NULL, d->in_pipe,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		} else {
			n = send(d->to, d->buf + d->buf_start, d->buf_end - d->buf_start,
			         MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (n > 0) {
			written(d, (size_t)n);
			total += n;
			continue;
		}
		if (n == 0) /* nothing taken, no error: wait for LOOP_WRITE */
			return total;
		switch (errno) {
		case EAGAIN: /* the peer's window or our send buffer is full */
			return total;
		case EINTR:
			if (++tries < EINTR_RETRIES)
				continue;
			return total;
		case EINVAL:
		case ENOSYS:
			if (!spliced)
				return fail(r, -errno, d->write_where);
			/* This kernel or fd cannot splice: copy instead. */
			if (pipe_to_buffer(r, d) < 0)
				return r->error;
			continue;
		case EPIPE:      /* the peer shut its reading side and we wrote past it */
		case ECONNRESET: /* the peer reset the connection */
			return fail(r, -errno, d->write_where);
		default: /* ETIMEDOUT, EHOSTUNREACH, ENOBUFS, ENOMEM... */
			return fail(r, -errno, d->write_where);
		}
	}
	return total;
}

/* Descriptor numbers from here up are kept for what has no fallback (DNS
 * sockets, accepts): the kernel hands out the lowest free number, so a pipe
 * numbered this high means few are left, and the buffer path serves instead. */
static int pipe_fd_ceiling(void)
{
	static int ceiling;
	if (!ceiling) {
		struct rlimit rl;
		ceiling = INT_MAX;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur < (rlim_t)INT_MAX)
			ceiling = rl.rlim_cur > RELAY_FD_RESERVE
			                  ? (int)(rl.rlim_cur - RELAY_FD_RESERVE)
			                  : 1;
	}
	return ceiling;
}

static int open_pipe(struct dir *d)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	if (p[1] >= pipe_fd_ceiling()) {
		close(p[0]);
		close(p[1]);
		return -EMFILE;
	}
	d->pipe_r = p[0];
	d->pipe_w = p[1];
	int size = fcntl(p[1], F_GETPIPE_SZ);
	d->pipe_cap = size > 0 ? (size_t)size : 4096;
	return 0;
}

/* A direction that filled its pipe is a bulk transfer: give it a bigger one,
 * once, so it moves more per wakeup.  Refused (EPERM past the user's
 * pipe-user-pages-soft, EBUSY...): it keeps the one it has. */
static void grow_pipe(struct dir *d)
{
	d->pipe_grown = true;
	int size = fcntl(d->pipe_w, F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	if (size > 0)
		d->pipe_cap = (size_t)size;
}

/* Whether the direction may read: the buffer is empty, or the pipe has room. */
static bool room(const struct dir *d)
{
	if (d->copy)
		return d->buf_end == d->buf_start && d->pre_off == d->pre_len;
	return d->pre_off == d->pre_len && !d->pipe_full &&
	       (d->pipe_r < 0 || d->in_pipe < d->pipe_cap);
}

/* Read once from `from` into the pipe or the (empty) buffer.  Returns > 0
 * bytes read, 0 when none are there yet or at EOF (d->eof set), or -errno
 * (recorded). */
static ssize_t dir_read(struct relay *r, struct dir *d)
{
	int tries = 0;

	/* A direction that filled its probe buffer is a bulk transfer: from
	 * now on it splices, once what it holds is written. */
	if (d->probing && d->bulk && d->buf_end == d->buf_start) {
		free(d->buf);
		d->buf = NULL;
		d->buf_cap = d->buf_start = d->buf_end = 0;
		d->probing = false;
		d->copy = false;
	}
	/* No pipe to be had (EMFILE, ENFILE, ENOMEM): the buffer still works. */
	if (!d->copy && d->pipe_r < 0 && open_pipe(d) < 0)
		use_copy(r, d);
	if (d->copy && alloc_buf(r, d, d->probing ? RELAY_PROBE_SIZE : RELAY_BUF_SIZE) < 0)
		return r->error;
	for (;;) {
		ssize_t n;
		size_t want = d->copy ? d->buf_cap : d->pipe_cap - d->in_pipe;
		if (want > d->limit)
			want = (size_t)d->limit;
		if (!d->copy)
			n = splice(d->from, NULL, d->pipe_w, NULL, want,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		else
			n = recv(d->from, d->buf, want, MSG_DONTWAIT);
		if (n > 0) {
			if (d->copy) {
				d->buf_start = 0;
				d->buf_end = (size_t)n;
				if (d->probing && (size_t)n == d->buf_cap)
					d->bulk = true;
			} else {
				d->in_pipe += (size_t)n;
				if (d->in_pipe >= d->pipe_cap && !d->pipe_grown)
					grow_pipe(d);
			}
			d->limit -= (uint64_t)n;
			if (d->limit == 0)
				d->eof = d->limited = true;
			return n;
		}
		if (n == 0) { /* EOF: the peer shut its writing side */
			d->eof = true;
			return 0;
		}
		switch (errno) {
		case EAGAIN:
			/* Nothing to read yet - or, with bytes in the pipe, no free
			 * slot in it (a slot holds one socket fragment, not a full
			 * page): stop reading until a write empties some. */
			if (!d->copy && d->in_pipe)
				d->pipe_full = true;
			return 0;
		case EINTR:
			if (++tries < EINTR_RETRIES)
				continue;
			return 0;
		case EINVAL:
		case ENOSYS:
			if (!d->copy && !d->in_pipe) { /* cannot splice from this fd: copy */
				close_pipe(d);
				use_copy(r, d);
				if (alloc_buf(r, d, RELAY_BUF_SIZE) < 0)
					return r->error;
				continue;
			}
			return fail(r, -errno, d->read_where);
		case ECONNRESET: /* the peer reset the connection */
			return fail(r, -errno, d->read_where);
		default: /* ETIMEDOUT, EHOSTUNREACH, ENOMEM... */
			return fail(r, -errno, d->read_where);
		}
	}
}

/* Pass a finished source on: shut the destination for writing. */
static int dir_finish(struct relay *r, struct dir *d)
{
	if (d->done || !d->eof || pending(d))
		return 0;
	d->done = true;
	if (d->limited) /* more may come from the client; it is not ours to forward */
		return 0;
	if (shutdown(d->to, SHUT_WR) == 0)
		return 0;
	if (errno == ENOTCONN) /* the peer is gone already: nothing to tell it */
		return 0;
	return fail(r, -errno, d->shut_where);
}

/* Move what one direction can, given which of its fds are ready: write,
 * read, write what was read (the destination is usually writable: at once
 * rather than a loop iteration later), for at most RELAY_BURST bytes read.
 * Returns whether bytes moved, or -errno. */
static int dir_pump(struct relay *r, struct dir *d, bool can_read, bool can_write)
{
	bool moved = false;
	size_t burst = 0;
	ssize_t n;

	if (can_write && pending(d)) {
		n = dir_write(r, d);
		if (n < 0)
			return (int)n;
		moved |= n > 0;
	}
	while (can_read && !d->eof && room(d) && burst < RELAY_BURST) {
		n = dir_read(r, d);
		if (n <= 0) {
			if (n < 0)
				return (int)n;
			break;
		}
		moved = true;
		burst += (size_t)n;
		n = dir_write(r, d);
		if (n < 0)
			return (int)n;
	}
	int e = dir_finish(r, d);
	if (e < 0)
		return e;
	return moved;
}

/* What the relay waits for on one side's fd. */
static uint32_t wanted(const struct relay *r, enum side side)
{
	const struct dir *in = side == CLIENT ? &r->up : &r->down;  /* reads this fd */
	const struct dir *out = side == CLIENT ? &r->down : &r->up; /* writes this fd */
	uint32_t ev = 0;

	if (!in->eof && room(in))
		ev |= LOOP_READ;
	if (pending(out))
		ev |= LOOP_WRITE;
	return ev;
}

static loop_fd_cb on_event;

/* Register exactly the interest the relay has; an fd it waits nothing from
 * leaves the loop (a hung-up peer is reported with no interest at all). */
static int update_watches(struct relay *r)
{
	for (int side = CLIENT; side <= SERVER; side++) {
		uint32_t ev = wanted(r, (enum side)side);
		int e = 0;
		if (ev == r->watch[side])
			continue;
		if (!r->watch[side])
			e = loop_add_fd(r->loop, r->fd[side], ev, on_event, r);
		else if (!ev)
			(void)loop_del_fd(r->loop, r->fd[side]);
		else
			e = loop_mod_fd(r->loop, r->fd[side], ev);
		if (e < 0)
			return fail(r, e, "event loop");
		r->watch[side] = ev;
	}
	return 0;
}

static void unwatch(struct relay *r)
{
	for (int side = CLIENT; side <= SERVER; side++) {
		if (r->watch[side])
			(void)loop_del_fd(r->loop, r->fd[side]);
		r->watch[side] = 0;
	}
}

/* Whether a direction holds a pipe or a buffer that a quiet spell would
 * give back. */
static bool holds(const struct dir *d)
{
	return d->pipe_r >= 0 || d->buf;
}

/* Give back what a quiet direction holds empty: its pipe (two fds and about
 * 2 KiB of kernel memory) or its buffer.  The next read opens (or
 * allocates) a new one, at the default size; bytes still held stay. */
static void release(struct dir *d)
{
	if (d->pipe_r >= 0 && d->in_pipe == 0) {
		close_pipe(d);
		d->pipe_grown = false;
	}
	if (d->buf && d->buf_end == d->buf_start) {
		free(d->buf);
		d->buf = NULL;
		d->buf_cap = 0;
		d->buf_start = d->buf_end = 0;
	}
}

/* Bytes moved: the timer counts from now, to the release of the buffers
 * when there are any to release, else to the idle end. */
static void arm(struct relay *r)
{
	unsigned ms = r->config.idle_ms;
	r->last_move_ms = loop_now_ms(r->loop);
	if (r->config.release_ms && r->config.release_ms < ms && (holds(&r->up) || holds(&r->down)))
		ms = r->config.release_ms;
	loop_timer_reset(r->idle, ms);
}

/* End the relay and tell the owner, as the last thing this relay does. */
static void finish(struct relay *r, enum relay_end end)
{
	struct relay_result res = {
	        .end = end,
	        .error = end == RELAY_END_ERROR ? r->error : 0,
	        .where = end == RELAY_END_ERROR ? r->where : NULL,
	        .bytes_up = r->up.bytes,
	        .bytes_down = r->down.bytes,
	        .copied = r->copied,
	};
	unwatch(r);
	loop_timer_cancel(r->idle);
	r->idle = NULL;
	r->done(r->ctx, &res); /* may free r */
}

static void on_event(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct relay *r = data;
	bool readable = events & (LOOP_READ | LOOP_ERROR | LOOP_HUP);
	bool writable = events & (LOOP_WRITE | LOOP_ERROR | LOOP_HUP);
	bool moved = false;
	(void)loop;

	/* Client fd: up reads it, down writes it; server fd the other way. */
	int a = dir_pump(r, &r->up, fd == r->up.from && readable, fd == r->up.to && writable);
	int b = a < 0 ? 0
	              : dir_pump(r, &r->down, fd == r->down.from && readable,
	                         fd == r->down.to && writable);
	if (a < 0 || b < 0) {
		finish(r, RELAY_END_ERROR);
		return;
	}
	moved = a > 0 || b > 0;
	if (r->up.done && r->down.done) {
		finish(r, RELAY_END_DONE);
		return;
	}
	if (moved)
		arm(r);
	if (update_watches(r) < 0)
		finish(r, RELAY_END_ERROR);
}

static void on_idle(struct loop *loop, struct loop_timer *t, void *data)
{
	struct relay *r = data;
	uint64_t quiet = loop_now_ms(loop) - r->last_move_ms;

	if (quiet >= r->config.idle_ms) {
		finish(r, RELAY_END_IDLE);
		return;
	}
	/* Quiet for release_ms: hand back the buffers, wait out the rest. */
	release(&r->up);
	release(&r->down);
	loop_timer_reset(t, r->config.idle_ms - quiet);
}

static void dir_init(struct dir *d, int from, int to, bool client_to_server, bool copy)
{
	d->from = from;
	d->to = to;
	d->pipe_r = d->pipe_w = -1;
	/* Spliced flows start as probes: most never move enough to need a pipe. */
	d->copy = true;
	d->probing = !copy;
	d->limit = RELAY_NO_LIMIT;
	d->read_where = client_to_server ? "client read" : "server read";
	d->write_where = client_to_server ? "server write" : "client write";
	d->shut_where = client_to_server ? "server shutdown" : "client shutdown";
}

int relay_new(struct loop *loop, int client_fd, int server_fd, const struct relay_config *c,
              const void *preamble, size_t preamble_len, relay_done_fn *done, void *ctx,
              struct relay **ret)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (!r) {
		close(client_fd);
		close(server_fd);
		return -ENOMEM;
	}
	r->loop = loop;
	r->fd[CLIENT] = client_fd;
	r->fd[SERVER] = server_fd;
	r->config = *c;
	r->done = done;
	r->ctx = ctx;
	r->copied = c->no_splice;
	dir_init(&r->up, client_fd, server_fd, true, c->no_splice);
	dir_init(&r->down, server_fd, client_fd, false, c->no_splice);
	r->up.limit = c->up_limit;
	r->up.eof = r->up.limited = c->up_limit == 0;
	if (preamble_len) {
		r->up.pre = malloc(preamble_len);
		if (!r->up.pre) {
			relay_free(r);
			return -ENOMEM;
		}
		memcpy(r->up.pre, preamble, preamble_len);
		r->up.pre_len = preamble_len;
	}
	r->idle = loop_timer_add(loop, c->idle_ms, on_idle, r);
	if (!r->idle) {
		relay_free(r);
		return -ENOMEM;
	}
	r->last_move_ms = loop_now_ms(loop);
	int e = update_watches(r);
	if (e < 0) {
		relay_free(r);
		return e;
	}
	*ret = r;
	return 0;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	unwatch(r);
	loop_timer_cancel(r->idle);
	close_pipe(&r->up);
	close_pipe(&r->down);
	free(r->up.buf);
	free(r->down.buf);
	free(r->up.pre);
	close(r->fd[CLIENT]);
	close(r->fd[SERVER]);
	free(r);
}

void relay_counts(const struct relay *r, uint64_t *ret_up, uint64_t *ret_down)
{
	*ret_up = r->up.bytes;
	*ret_down = r->down.bytes;
}
