/* proxy_load: the origin and the load generator of bench/proxy.sh.
 *
 *   proxy_load origin  ADDR:PORT
 *   proxy_load rps     PROXY URL CONNS SECONDS
 *   proxy_load tunnels PROXY HOST:PORT CONNS SECONDS
 *   proxy_load bulk    PROXY|direct HOST:PORT BYTES STREAMS [NAME=PID...]
 *   proxy_load idle    PROXY HOST:PORT CONNS PID [HOLD_SECONDS]
 *
 * PROXY and the origin's ADDR are IPv4 literals with a port; HOST:PORT and
 * URL are what the proxy is asked for (a name its resolver knows, or an
 * address).  One thread and one epoll set each, no library beyond libc, so
 * that a proxy on loopback is measured rather than this program: the
 * origin and the generator each cost a fraction of a core at the rates a
 * proxy reaches on the same machine (bulk reports the CPU of each party).
 *
 * The origin reads the first bytes of a connection and serves:
 *   "GET /small ..."     HTTP/1.1 200, a SMALL_BODY-byte body, then close
 *   "GET /bulk/N ..."    HTTP/1.1 200, N bytes, then close
 *   "BULK N\n"           N bytes, raw, then close (CONNECT bulk transfers)
 *   "PING ...\n"         the line back, then close (one tunnel exchange)
 *   anything else        echoed back until the client closes (idle tunnels)
 * It closes first wherever it can, so TIME_WAIT lands on the listening
 * sides and the generator does not run out of ephemeral ports.
 *
 * Modes (each prints one line of key=value pairs on stdout):
 *   rps      CONNS clients each loop: connect to PROXY, "GET URL" in
 *            absolute form, read the response to EOF, check the status is
 *            200 and the body has its Content-Length, close.  For SECONDS.
 *   tunnels  the same with "CONNECT HOST:PORT", the 200, one PING exchange
 *            through the tunnel, EOF.  Latency: connect to EOF.
 *   bulk     STREAMS tunnels (or direct connections: the baseline, the same
 *            reader and writer), then "BULK BYTES/STREAMS" on each at once:
 *            bytes per second until every stream has its bytes; with
 *            NAME=PID, each process's CPU time over the transfer.
 *   idle     CONNS tunnels opened (100 at a time), each with one echo
 *            exchange, then held: the proxy PID's RSS and PSS, and the
 *            machine's kernel memory (slab, kernel stacks, page tables),
 *            before and after, per connection; with HOLD_SECONDS, they stay
 *            open that long after "holding=N" is printed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SMALL_BODY  512
#define CHUNK       (256 * 1024) /* one recv or send of bulk data */
#define SEND_BUDGET (4u << 20)   /* bytes one origin callback sends (fairness) */
#define MAX_EVENTS  256
#define HEAD_MAX    4096
#define PING_LINE   "PING 0123456789abcdef\n"
#define HELLO_LINE  "HELLO idle\n"
#define IDLE_BATCH  100 /* idle mode: handshakes in flight at once */

static uint8_t zeros[CHUNK];
static uint8_t scratch[CHUNK];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

_Noreturn static void die(const char *what)
{
	fprintf(stderr, "proxy_load: %s: %s\n", what, strerror(errno));
	exit(1);
}

_Noreturn static void usage(void)
{
	fputs("usage: proxy_load origin ADDR:PORT\n"
	      "       proxy_load rps PROXY URL CONNS SECONDS\n"
	      "       proxy_load tunnels PROXY HOST:PORT CONNS SECONDS\n"
	      "       proxy_load bulk PROXY|direct HOST:PORT BYTES STREAMS [NAME=PID...]\n"
	      "       proxy_load idle PROXY HOST:PORT CONNS PID [HOLD_SECONDS]\n",
	      stderr);
	exit(2);
}

static uint64_t parse_u64(const char *s, uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "proxy_load: not a number in %llu-%llu: %s\n",
		        (unsigned long long)min, (unsigned long long)max, s);
		exit(2);
	}
	return v;
}

/* "a.b.c.d:port" */
static struct sockaddr_in parse_addr(const char *s)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host)) {
		fprintf(stderr, "proxy_load: not ADDR:PORT: %s\n", s);
		exit(2);
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "proxy_load: not an IPv4 address: %s\n", host);
		exit(2);
	}
	sin.sin_port = htons((uint16_t)parse_u64(colon + 1, 1, 65535));
	return sin;
}

static int epoll_or_die(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	return ep;
}

static void watch(int ep, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = {.events = events, .data.ptr = ptr};
	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die("epoll_ctl");
}

/* --- the origin ------------------------------------------------------- */

enum ostate { O_HEAD, O_SEND, O_ECHO };

struct oconn {
	int fd;
	enum ostate state;
	uint32_t events;
	char in[HEAD_MAX];
	size_t in_len;
	char out[HEAD_MAX]; /* the response head, the PING line, or echoed bytes */
	size_t out_off, out_len;
	uint64_t body_left;
};

static void oconn_close(struct oconn *c)
{
	/* Whatever the client sent past its request would turn close() into a
	 * reset: take it first. */
	while (recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0)
		;
	close(c->fd);
	free(c);
}

static void oconn_want(int ep, struct oconn *c, uint32_t events)
{
	if (c->events != events)
		watch(ep, EPOLL_CTL_MOD, c->fd, events, c);
	c->events = events;
}

static bool starts(const char *buf, size_t len, const char *word)
{
	size_t n = strlen(word);
	return memcmp(buf, word, len < n ? len : n) == 0;
}

/* Decide what the connection is once its first line (or head) is in.
 * Returns false while more bytes are needed. */
static bool origin_parse(struct oconn *c)
{
	char *line_end = memchr(c->in, '\n', c->in_len);

	if (starts(c->in, c->in_len, "GET ")) {
		char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
		if (!end)
			return c->in_len == sizeof(c->in); /* too big: answered 404 below */
		const char *path = c->in + 4;
		uint64_t body = 0;
		int status = 200;
		if (strncmp(path, "/small ", 7) == 0)
			body = SMALL_BODY;
		else if (strncmp(path, "/bulk/", 6) == 0)
			body = strtoull(path + 6, NULL, 10);
		else
			status = 404;
		int n = snprintf(c->out, sizeof(c->out),
		                 "HTTP/1.1 %d %s\r\nContent-Type: application/octet-stream\r\n"
		                 "Content-Length: %llu\r\nConnection: close\r\n\r\n",
		                 status, status == 200 ? "OK" : "Not Found",
		                 (unsigned long long)body);
		c->out_len = (size_t)n;
		c->body_left = body;
		c->state = O_SEND;
		return true;
	}
	if (starts(c->in, c->in_len, "BULK ")) {
		if (!line_end)
			return false;
		c->body_left = strtoull(c->in + 5, NULL, 10);
		c->state = O_SEND;
		return true;
	}
	if (starts(c->in, c->in_len, "PING ")) {
		if (!line_end)
			return false;
		c->out_len = (size_t)(line_end + 1 - c->in);
		memcpy(c->out, c->in, c->out_len);
		c->state = O_SEND;
		return true;
	}
	if (c->in_len < 5)
		return false;
	memcpy(c->out, c->in, c->in_len);
	c->out_len = c->in_len;
	c->state = O_ECHO;
	return true;
}

/* Send the head, then the body, up to SEND_BUDGET; returns whether it is all
 * sent, or -1 when the client went away. */
static int origin_send(struct oconn *c)
{
	size_t budget = SEND_BUDGET;
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->out_off += (size_t)n;
	}
	while (c->body_left && budget) {
		size_t want = c->body_left < CHUNK ? (size_t)c->body_left : CHUNK;
		ssize_t n = send(c->fd, zeros, want, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->body_left -= (uint64_t)n;
		budget = budget > (size_t)n ? budget - (size_t)n : 0;
	}
	return c->body_left == 0;
}

static void origin_event(int ep, struct oconn *c, uint32_t events)
{
	if (c->state == O_HEAD) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			oconn_close(c);
			return;
		}
		if (n > 0)
			c->in_len += (size_t)n;
		if (!origin_parse(c))
			return;
	}
	if (c->state == O_SEND) {
		int r = origin_send(c);
		if (r != 0) {
			oconn_close(c);
			return;
		}
		oconn_want(ep, c, EPOLLOUT);
		return;
	}
	/* O_ECHO: write what is held, then read more only when all is out. */
	if (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			oconn_close(c);
			return;
		}
		if (n > 0)
			c->out_off += (size_t)n;
		if (c->out_off < c->out_len) {
			oconn_want(ep, c, EPOLLOUT);
			return;
		}
		c->out_off = c->out_len = 0;
		oconn_want(ep, c, EPOLLIN);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = recv(c->fd, c->out, sizeof(c->out), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			oconn_close(c);
			return;
		}
		if (n > 0) {
			c->out_len = (size_t)n;
			origin_event(ep, c, 0);
		}
	}
}

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static int run_origin(const char *where)
{
	struct sockaddr_in sin = parse_addr(where);
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l < 0)
		die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	if (listen(l, 4096) < 0)
		die("listen");
	int ep = epoll_or_die();
	watch(ep, EPOLL_CTL_ADD, l, EPOLLIN, NULL);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	signal(SIGPIPE, SIG_IGN);
	printf("ready\n");
	fflush(stdout);

	struct epoll_event evs[MAX_EVENTS];
	while (!stopping) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, 500);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr) {
				origin_event(ep, evs[i].data.ptr, evs[i].events);
				continue;
			}
			for (int k = 0; k < 64; k++) {
				int fd = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0)
					break;
				struct oconn *c = calloc(1, sizeof(*c));
				if (!c)
					die("calloc");
				c->fd = fd;
				c->events = EPOLLIN;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				watch(ep, EPOLL_CTL_ADD, fd, EPOLLIN, c);
			}
		}
	}
	return 0;
}

/* --- the client side -------------------------------------------------- */

enum mode { M_RPS, M_TUNNELS, M_BULK, M_IDLE };
enum cstate { C_CONNECTING, C_SEND, C_HEAD, C_BODY, C_HELD };

struct cconn {
	int fd;
	enum cstate state;
	uint32_t events;
	uint64_t t0;
	const char *req; /* what to send now */
	size_t req_len, req_off;
	char head[HEAD_MAX];
	size_t head_len;
	uint64_t got;      /* bytes after the head */
	uint64_t expect;   /* bytes that must arrive before EOF */
	bool through_head; /* the proxy's head is read (or there is none) */
	size_t slot;       /* in gen.all (bulk and idle) */
};

struct gen {
	enum mode mode;
	int ep;
	struct sockaddr_in dial; /* the proxy, or the origin (bulk direct) */
	bool direct;
	char request[1024]; /* GET or CONNECT */
	size_t request_len;
	uint64_t bulk_bytes; /* per stream */
	char bulk_line[64];
	/* results */
	uint64_t ok, errors, held;
	uint32_t *lat_us;
	size_t lat_n, lat_cap;
	const char *first_error;
	struct cconn **all; /* bulk and idle: every connection, NULL once ended */
	size_t all_n;
	size_t batch; /* connections not yet held, at most */
};

static void lat_add(struct gen *g, uint64_t us)
{
	if (g->lat_n == g->lat_cap) {
		size_t cap = g->lat_cap ? g->lat_cap * 2 : 65536;
		uint32_t *p = realloc(g->lat_us, cap * sizeof(*p));
		if (!p)
			die("realloc");
		g->lat_us = p;
		g->lat_cap = cap;
	}
	g->lat_us[g->lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double percentile_ms(struct gen *g, double p)
{
	if (!g->lat_n)
		return 0;
	size_t i = (size_t)(p * (double)(g->lat_n - 1) + 0.5);
	return g->lat_us[i] / 1000.0;
}

static void cconn_want(struct gen *g, struct cconn *c, uint32_t events)
{
	if (c->events != events)
		watch(g->ep, EPOLL_CTL_MOD, c->fd, events, c);
	c->events = events;
}

/* Start a connection: non-blocking connect, then wait for writability. */
static struct cconn *cconn_start(struct gen *g)
{
	struct cconn *c = calloc(1, sizeof(*c));
	int one = 1;
	if (!c)
		die("calloc");
	c->t0 = now_ns();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&g->dial, sizeof(g->dial)) < 0 &&
	    errno != EINPROGRESS)
		die("connect");
	c->state = C_CONNECTING;
	c->events = EPOLLOUT;
	if (g->direct) {
		c->req = g->bulk_line;
		c->req_len = strlen(g->bulk_line);
		c->through_head = true;
	} else {
		c->req = g->request;
		c->req_len = g->request_len;
	}
	watch(g->ep, EPOLL_CTL_ADD, c->fd, EPOLLOUT, c);
	return c;
}

static void cconn_end(struct gen *g, struct cconn *c, const char *error)
{
	if (error) {
		g->errors++;
		if (!g->first_error)
			g->first_error = error;
	} else {
		g->ok++;
		lat_add(g, (now_ns() - c->t0) / 1000);
	}
	if (g->all)
		g->all[c->slot] = NULL;
	close(c->fd);
	free(c);
}

/* The proxy's response head is complete in c->head[0..end): check it.  For
 * GET, the Content-Length is the body to expect. */
static const char *check_head(struct gen *g, struct cconn *c, size_t end)
{
	if (c->head_len < 12 || memcmp(c->head, "HTTP/1.", 7) != 0 ||
	    memcmp(c->head + 8, " 200", 4))
		return "response not 200";
	if (g->mode == M_RPS) {
		const char *h = c->head;
		const char *cl = NULL;
		for (size_t i = 0; i + 16 < end; i++) {
			if ((h[i] == '\n') && strncasecmp(h + i + 1, "content-length:", 15) == 0) {
				cl = h + i + 16;
				break;
			}
		}
		if (!cl)
			return "no Content-Length";
		c->expect = strtoull(cl, NULL, 10);
	}
	return NULL;
}

/* Bytes arrived: returns NULL to go on, "" when the exchange is complete and
 * the connection may end, or an error. */
static const char *cconn_read(struct gen *g, struct cconn *c)
{
	for (;;) {
		ssize_t n;
		if (!c->through_head)
			n = recv(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len,
			         MSG_DONTWAIT);
		else
			n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? NULL : "read failed";
		if (n == 0) { /* EOF */
			if (!c->through_head)
				return "closed before the response";
			if (c->got != c->expect)
				return "short or long body";
			if (g->mode == M_IDLE)
				return "idle tunnel closed";
			return "";
		}
		if (c->through_head) {
			c->got += (uint64_t)n;
			if (g->mode == M_IDLE && c->got == strlen(HELLO_LINE)) {
				c->state = C_HELD;
				g->held++;
				return NULL;
			}
			continue;
		}
		c->head_len += (size_t)n;
		char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
		if (!end) {
			if (c->head_len == sizeof(c->head))
				return "response head too big";
			continue;
		}
		size_t head_end = (size_t)(end + 4 - c->head);
		const char *e = check_head(g, c, head_end);
		if (e)
			return e;
		c->through_head = true;
		c->got = c->head_len - head_end;
		if (g->mode == M_RPS)
			continue;
		if (c->got) /* nothing was sent through the tunnel yet */
			return "bytes after the 200";
		/* The tunnel is up: say what we want of the origin. */
		if (g->mode == M_TUNNELS) {
			c->req = PING_LINE;
			c->expect = strlen(PING_LINE);
		} else if (g->mode == M_IDLE) {
			c->req = HELLO_LINE;
			c->expect = strlen(HELLO_LINE);
		} else {
			c->req = g->bulk_line;
			c->expect = g->bulk_bytes;
			c->state = C_HELD; /* bulk: sent when every stream is ready */
			g->held++;
			cconn_want(g, c, 0);
			return NULL;
		}
		c->req_len = strlen(c->req);
		c->req_off = 0;
		c->state = C_SEND;
		cconn_want(g, c, EPOLLOUT);
		return NULL;
	}
}

/* Returns NULL to go on, "" when done, or an error. */
static const char *cconn_event(struct gen *g, struct cconn *c, uint32_t events)
{
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
			return "connect failed";
		if (g->direct && g->mode == M_BULK) {
			c->expect = g->bulk_bytes;
			c->state = C_HELD;
			g->held++;
			cconn_want(g, c, 0);
			return NULL;
		}
		c->state = C_SEND;
	}
	if (c->state == C_SEND) {
		while (c->req_off < c->req_len) {
			ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off,
			                 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0)
				return errno == EAGAIN ? NULL : "write failed";
			c->req_off += (size_t)n;
		}
		c->state = c->through_head ? C_BODY : C_HEAD;
		cconn_want(g, c, EPOLLIN);
		return NULL;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		return cconn_read(g, c);
	return NULL;
}

static struct sockaddr_in gen_init(struct gen *g, enum mode mode, const char *proxy)
{
	memset(g, 0, sizeof(*g));
	g->mode = mode;
	g->ep = epoll_or_die();
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(proxy, "direct") == 0) {
		g->direct = true;
		return (struct sockaddr_in){0};
	}
	return parse_addr(proxy);
}

static void set_connect(struct gen *g, const char *target)
{
	int n = snprintf(g->request, sizeof(g->request), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	                 target, target);
	if (n < 0 || (size_t)n >= sizeof(g->request)) {
		fprintf(stderr, "proxy_load: target too long\n");
		exit(2);
	}
	g->request_len = (size_t)n;
}

/* The host:port of an absolute URL, for the Host header. */
static const char *url_authority(const char *url, char *buf, size_t size)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "/");
	if (n >= size)
		n = size - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static void print_latency(struct gen *g)
{
	if (g->lat_n)
		qsort(g->lat_us, g->lat_n, sizeof(*g->lat_us), cmp_u32);
	printf(" p50_ms=%.3f p99_ms=%.3f max_ms=%.3f", percentile_ms(g, 0.50),
	       percentile_ms(g, 0.99), percentile_ms(g, 1.0));
}

/* Close and free what is still open (kept in g->all) and the latencies:
 * the sanitizers' leak check runs at exit. */
static void gen_free(struct gen *g)
{
	for (size_t i = 0; i < g->all_n; i++)
		if (g->all[i]) {
			close(g->all[i]->fd);
			free(g->all[i]);
		}
	free(g->all);
	free(g->lat_us);
	g->all = NULL;
	g->lat_us = NULL;
	g->all_n = g->lat_n = g->lat_cap = 0;
}

/* rps and tunnels: CONNS exchanges in flight, each replaced as it ends,
 * for SECONDS; what is still in flight at the end is not counted. */
static int run_rate(enum mode mode, char **argv)
{
	struct gen g;
	char authority[256];
	g.dial = gen_init(&g, mode, argv[0]);
	if (g.direct)
		usage();
	g.dial = parse_addr(argv[0]);
	if (mode == M_RPS) {
		int n = snprintf(g.request, sizeof(g.request),
		                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: proxy_load\r\n"
		                 "Accept: */*\r\nConnection: close\r\n\r\n",
		                 argv[1], url_authority(argv[1], authority, sizeof(authority)));
		if (n < 0 || (size_t)n >= sizeof(g.request))
			usage();
		g.request_len = (size_t)n;
	} else {
		set_connect(&g, argv[1]);
	}
	size_t conns = (size_t)parse_u64(argv[2], 1, 10000);
	uint64_t seconds = parse_u64(argv[3], 1, 3600);

	uint64_t start = now_ns(), deadline = start + seconds * 1000000000u;
	/* Each exchange in its slot of g.all, its successor in the same one. */
	g.all = calloc(conns, sizeof(*g.all));
	if (!g.all)
		die("calloc");
	g.all_n = conns;
	for (size_t i = 0; i < conns; i++) {
		g.all[i] = cconn_start(&g);
		g.all[i]->slot = i;
	}
	struct epoll_event evs[MAX_EVENTS];
	while (now_ns() < deadline) {
		int n = epoll_wait(g.ep, evs, MAX_EVENTS, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct cconn *c = evs[i].data.ptr;
			const char *r = cconn_event(&g, c, evs[i].events);
			if (!r)
				continue;
			size_t slot = c->slot;
			cconn_end(&g, c, *r ? r : NULL);
			g.all[slot] = cconn_start(&g);
			g.all[slot]->slot = slot;
		}
	}
	double secs = (double)(now_ns() - start) / 1e9;
	printf("rate=%.0f ok=%llu errors=%llu", (double)g.ok / secs, (unsigned long long)g.ok,
	       (unsigned long long)g.errors);
	print_latency(&g);
	printf("\n");
	if (g.first_error)
		fprintf(stderr, "proxy_load: first error: %s\n", g.first_error);
	gen_free(&g);
	return 0;
}

/* Pump events until `until` says so or `timeout_ms` passes; the
 * connections that end are counted and not replaced. */
static void pump(struct gen *g, size_t *live, bool (*until)(struct gen *, size_t),
                 uint64_t timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	uint64_t deadline = now_ns() + timeout_ms * 1000000u;
	while (!until(g, *live) && now_ns() < deadline) {
		int n = epoll_wait(g->ep, evs, MAX_EVENTS, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct cconn *c = evs[i].data.ptr;
			const char *r = cconn_event(g, c, evs[i].events);
			if (!r)
				continue;
			if (c->state == C_HELD)
				g->held--;
			cconn_end(g, c, *r ? r : NULL);
			(*live)--;
		}
	}
}

static bool all_held(struct gen *g, size_t live)
{
	return g->held == live;
}

static bool below_batch(struct gen *g, size_t live)
{
	return live - g->held < g->batch || live == g->held;
}

static bool none_live(struct gen *g, size_t live)
{
	(void)g;
	return live == 0;
}

/* CPU time (user + system) of a process, in seconds. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name (which may hold spaces): state is
	 * field 3, utime 14 and stime 15. */
	char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The machine's CPU time since boot, in clock ticks: busy (all but idle and
 * iowait), softirq (part of busy), and the total. */
struct machine_cpu {
	unsigned long long busy, softirq, total;
};

static struct machine_cpu machine_cpu(void)
{
	struct machine_cpu m = {0};
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "re");
	if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	                &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		for (int i = 0; i < 8; i++)
			m.total += v[i];
		m.busy = m.total - v[3] - v[4];
		m.softirq = v[6];
	}
	if (f)
		fclose(f);
	return m;
}

static double self_cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

#define MAX_WATCHED 8

/* Open `n` connections, at most `batch` of them before their exchange is
 * done, and wait until each is held (or failed): kept in g->all. */
static size_t open_held(struct gen *g, size_t n, size_t batch)
{
	size_t live = 0, started = 0;
	g->all = calloc(n, sizeof(*g->all));
	if (!g->all)
		die("calloc");
	g->all_n = n;
	g->batch = batch;
	while (started < n) {
		while (started < n && live - g->held < batch) {
			struct cconn *c = cconn_start(g);
			c->slot = started++;
			g->all[c->slot] = c;
			live++;
		}
		pump(g, &live, below_batch, 10000);
		if (live - g->held >= batch)
			break; /* stuck: 10 s without progress */
	}
	pump(g, &live, all_held, 10000);
	return live;
}

static int run_bulk(char **argv, int argc)
{
	struct gen g;
	g.dial = gen_init(&g, M_BULK, argv[0]);
	uint64_t bytes = parse_u64(argv[2], 1, UINT64_MAX / 2);
	size_t streams = (size_t)parse_u64(argv[3], 1, 64);
	const char *names[MAX_WATCHED];
	pid_t pids[MAX_WATCHED];
	double cpu0[MAX_WATCHED];
	int watched = 0;

	if (g.direct)
		g.dial = parse_addr(argv[1]);
	else
		set_connect(&g, argv[1]);
	g.bulk_bytes = bytes / streams;
	snprintf(g.bulk_line, sizeof(g.bulk_line), "BULK %llu\n", (unsigned long long)g.bulk_bytes);
	for (int i = 4; i < argc && watched < MAX_WATCHED; i++, watched++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			usage();
		*eq = '\0';
		names[watched] = argv[i];
		pids[watched] = (pid_t)parse_u64(eq + 1, 1, INT32_MAX);
	}

	size_t live = open_held(&g, streams, streams);
	if (live != streams || g.held != streams) {
		fprintf(stderr, "proxy_load: bulk: %zu of %zu streams ready (%s)\n", g.held,
		        streams, g.first_error ? g.first_error : "timeout");
		gen_free(&g);
		return 1;
	}
	for (int i = 0; i < watched; i++)
		cpu0[i] = cpu_seconds(pids[i]);
	double self0 = self_cpu_seconds();
	struct machine_cpu m0 = machine_cpu();
	uint64_t start = now_ns();
	/* Every stream asks at once; the clock runs until the last byte. */
	g.held = 0;
	for (size_t i = 0; i < streams; i++) {
		struct cconn *c = g.all[i];
		c->req = g.bulk_line;
		c->req_len = strlen(g.bulk_line);
		c->req_off = 0;
		c->state = C_SEND;
		cconn_want(&g, c, EPOLLOUT);
	}
	pump(&g, &live, none_live, 600000);
	double secs = (double)(now_ns() - start) / 1e9;
	double self = self_cpu_seconds() - self0;
	struct machine_cpu m1 = machine_cpu();
	double ticks = (double)(m1.total - m0.total);
	printf("streams=%zu ok=%llu errors=%llu bytes=%llu seconds=%.3f MiBps=%.0f Gbps=%.2f "
	       "cpu_client=%.0f%%",
	       streams, (unsigned long long)g.ok, (unsigned long long)g.errors,
	       (unsigned long long)(g.ok * g.bulk_bytes), secs,
	       (double)(g.ok * g.bulk_bytes) / secs / 1048576.0,
	       (double)(g.ok * g.bulk_bytes) * 8 / secs / 1e9, 100 * self / secs);
	for (int i = 0; i < watched; i++)
		printf(" cpu_%s=%.0f%%", names[i], 100 * (cpu_seconds(pids[i]) - cpu0[i]) / secs);
	/* Of all the machine's cores: 100% is every core busy. */
	if (ticks > 0)
		printf(" machine_busy=%.0f%% machine_softirq=%.0f%%",
		       100 * (double)(m1.busy - m0.busy) / ticks,
		       100 * (double)(m1.softirq - m0.softirq) / ticks);
	printf("\n");
	if (g.first_error)
		fprintf(stderr, "proxy_load: first error: %s\n", g.first_error);
	gen_free(&g);
	return g.errors ? 1 : 0;
}

/* A process's resident memory (VmRSS) and proportional share (Pss), kB. */
static void proc_memory(pid_t pid, long *rss, long *pss)
{
	char path[64], line[256];
	*rss = *pss = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", rss) == 1)
			break;
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld", pss) == 1)
			break;
	if (f)
		fclose(f);
}

/* The machine's kernel memory that grows with connections: slab (sockets,
 * pipes, epoll items), kernel stacks (threads), page tables; kB. */
static long kernel_memory(void)
{
	char line[256];
	long total = 0, v;
	FILE *f = fopen("/proc/meminfo", "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld", &v) == 1 ||
		    sscanf(line, "KernelStack: %ld", &v) == 1 ||
		    sscanf(line, "PageTables: %ld", &v) == 1)
			total += v;
	if (f)
		fclose(f);
	return total;
}

static int run_idle(char **argv)
{
	struct gen g;
	g.dial = gen_init(&g, M_IDLE, argv[0]);
	if (g.direct)
		usage();
	set_connect(&g, argv[1]);
	size_t conns = (size_t)parse_u64(argv[2], 1, 100000);
	pid_t pid = (pid_t)parse_u64(argv[3], 1, INT32_MAX);
	long rss0, pss0, rss1, pss1;

	proc_memory(pid, &rss0, &pss0);
	long k0 = kernel_memory();
	size_t live = open_held(&g, conns, IDLE_BATCH);
	/* Past the relays' quiet release (1 s, gateway/relay.h): what an idle
	 * tunnel costs, not what a fresh one does. */
	usleep(1500 * 1000);
	proc_memory(pid, &rss1, &pss1);
	long k1 = kernel_memory();
	size_t held = g.held;
	if (argv[4]) {
		/* Keep them open a while (the load test serves others meanwhile). */
		printf("holding=%zu\n", held);
		fflush(stdout);
		usleep((useconds_t)parse_u64(argv[4], 1, 600) * 1000 * 1000);
	}
	printf("held=%zu errors=%llu rss_before_kb=%ld rss_after_kb=%ld pss_before_kb=%ld "
	       "pss_after_kb=%ld rss_per_conn=%.0f pss_per_conn=%.0f kernel_per_conn=%.0f\n",
	       held, (unsigned long long)g.errors, rss0, rss1, pss0, pss1,
	       held ? (double)(rss1 - rss0) * 1024 / (double)held : 0,
	       held ? (double)(pss1 - pss0) * 1024 / (double)held : 0,
	       held ? (double)(k1 - k0) * 1024 / (double)held : 0);
	if (g.first_error)
		fprintf(stderr, "proxy_load: first error: %s\n", g.first_error);
	(void)live;
	gen_free(&g);
	return held == conns ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	const char *mode = argv[1];
	if (strcmp(mode, "origin") == 0 && argc == 3)
		return run_origin(argv[2]);
	if (strcmp(mode, "rps") == 0 && argc == 6)
		return run_rate(M_RPS, argv + 2);
	if (strcmp(mode, "tunnels") == 0 && argc == 6)
		return run_rate(M_TUNNELS, argv + 2);
	if (strcmp(mode, "bulk") == 0 && argc >= 6)
		return run_bulk(argv + 2, argc - 2);
	if (strcmp(mode, "idle") == 0 && (argc == 6 || argc == 7))
		return run_idle(argv + 2);
	usage();
}
