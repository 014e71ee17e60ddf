/* flow_conn.h - the proxy service's connection core, shared by its two
 * source files and by nothing else.
 *
 * One struct proxy_service serves both kinds of client connection, with the
 * same caps, timeouts, stats, log records and relay:
 *   - explicit proxy requests (proxy_service.c): a request head names the
 *     target;
 *   - redirected flows (flow_peek.c): the original destination is the
 *     target, and the first bytes, peeked, name the host.
 * flow_peek.c also decides the first bytes of a CONNECT tunnel (the SNI
 * check).  A connection is a state machine whose state is `state`; every
 * change goes through conn_go_state(), which sets what the state waits for
 * (fd interest) and for how long (its timer).
 *
 *   explicit:     HEAD -> RESOLVE -> CONNECT -> RELAY           (absolute-form)
 *                 HEAD -> RESOLVE -> CONNECT -> PEEK -> RELAY   (CONNECT; PEEK
 *                                      may pass through RESOLVE to check a name)
 *   transparent:  PEEK [-> RESOLVE] -> CONNECT -> RELAY
 *   refused:      LINGER after an HTTP response, or freed at once (reset)
 *
 * Ownership: a connection owns its fds, its head_state (freed when the relay
 * starts), its policy reference and its timer; conn_free() releases them
 * all.  Functions that end a connection say so; after them the pointer is
 * gone.
 */
#ifndef AIRLOCK_GATEWAY_FLOW_CONN_H
#define AIRLOCK_GATEWAY_FLOW_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/flow_check.h"
#include "gateway/proxy_service.h"
#include "gateway/relay.h"
#include "gateway/resolver.h"
#include "net/addr.h"
#include "proxy/http_head.h"

#define ACCEPT_BATCH    16
#define ACCEPT_PAUSE_MS 100  /* out of descriptors: stop accepting for this long */
#define NOTE_EVERY_MS   1000 /* at most one note a second for each kind of flood */
/* The head buffer holds this much past the head cap, so bytes the client
 * sent right after its head (a pipelined TLS ClientHello, a request body)
 * come with it in the same read. */
#define HEAD_SLACK   4096
#define LINGER_MS    2000
#define LINGER_MAX   (64 * 1024)
#define RESPONSE_MAX 4096
#define BODY_MAX     2048

/* Which listener a connection came from. */
enum conn_kind {
	CONN_EXPLICIT,    /* the proxy: a request head names the target */
	CONN_TRANSPARENT, /* a redirected flow: the original destination is the target */
};

/* What a connection waits for.  Every change goes through conn_go_state(), which
 * sets the state's timer and fd interest. */
enum conn_state {
	CONN_HEAD,    /* the client's request head; deadline head_timeout_ms from accept */
	CONN_PEEK,    /* the client's first bytes, peeked (transparent flows, CONNECT tunnels) */
	CONN_ASK,     /* held until someone answers (approvals.h); client not read */
	CONN_RESOLVE, /* the resolver; client not read */
	CONN_CONNECT, /* a connect to dest.addrs[next_addr - 1]; client not read */
	CONN_RELAY,   /* the relay owns both fds; it has its own idle timer */
	CONN_LINGER,  /* error response sent: draining the client before the close */
	CONN_N_STATES
};

/* What a connection needs until its relay starts, then freed. */
struct head_state {
	struct http_head h;          /* explicit requests */
	struct resolver_result dest; /* the addresses to dial, in order */
	size_t next_addr;
	int last_error; /* of the last address dialled */
	/* PEEK.  A CONNECT tunnel (tunnel: the 200 is sent) keeps in buf[0, pre)
	 * the bytes the client sent along with its head; they go to the server
	 * first.  Everything else stays in the client's socket until the relay
	 * moves it. */
	bool tunnel;
	bool http;     /* a transparent flow speaking HTTP: refusals get a response */
	bool checking; /* RESOLVE is a consistency check of `check_name` */
	size_t pre;    /* bytes of buf already read from the client */
	size_t peeked; /* pre + the bytes the last peek saw */
	uint64_t peek_start_ms;
	size_t check_len;
	char check_name[NAME_BUF_SIZE];
	size_t have; /* bytes in buf (HEAD) */
	size_t cap;  /* buf's size */
	uint8_t buf[];
};

struct conn {
	struct proxy_service *s;
	struct conn *prev, *next;
	enum conn_kind kind;
	enum conn_state state;
	int fd;         /* the client; -1 once the relay owns it */
	uint32_t watch; /* interest registered for fd; 0: not in the loop */
	int up_fd;      /* the server being dialled; -1 */
	struct addr peer;
	struct policy *policy;    /* the current snapshot (replaced on a policy change) */
	struct loop_timer *timer; /* the current state's deadline */
	uint64_t start_ms;
	struct head_state *hs;
	struct resolver_lookup *lookup;
	struct relay *relay;
	/* The relay's client and server fds (it owns them): a policy change
	 * that refuses the flow resets both before relay_free closes them. */
	int relay_fds[2];
	size_t drained; /* LINGER: bytes thrown away */
	/* decided: `key` holds what the flow was allowed on, and a policy
	 * change re-decides it (flow_check.h). */
	bool decided;
	struct flow_key key;
	/* ASK: the question it waits on; `asked`: it has been held once, and
	 * is decided for good now. */
	struct approval_waiter *ask;
	bool asked;
	struct audit_record rec; /* the request's record, reused for its CLOSE */
};

struct listener {
	struct proxy_service *s;
	struct listener *next;
	enum conn_kind kind;
	int fd;
	struct addr local;        /* what it is bound to (loop detection) */
	struct loop_timer *pause; /* armed while accepting is paused (EMFILE) */
};

struct note_throttle {
	uint64_t last_ms;
	uint64_t suppressed;
};

struct proxy_service {
	struct proxy_service_env env;
	struct proxy_service_config config;
	unsigned resolve_guard_ms; /* RESOLVE's deadline, past the resolver's own */
	struct resolver *resolver;
	struct listener *listeners;
	struct conn *conns;
	struct proxy_stats stats;
	struct note_throttle cap_note, fd_note;
};

/* ---- proxy_service.c ---------------------------------------------------------- */

void conn_emit(struct proxy_service *s, const struct audit_record *r);
/* Ends the connection. */
void conn_free(struct conn *c);
/* Ends the connection with a reset to both peers (SO_LINGER 0). */
void conn_abort(struct conn *c);
/* Wake the loop for the client fd only once this many bytes are queued. */
void conn_set_rcvlowat(int fd, size_t bytes);
/* 0, or -errno: the connection is then the caller's to free. */
int conn_go_state(struct conn *c, enum conn_state to);
/* Refuse: log c->rec with verdict block, then answer `status` with `body`
 * where the client speaks HTTP to us, else reset.  Ends the connection. */
void conn_refuse(struct conn *c, int status, const char *body);
/* Hand client and server to a relay and log the allowed DECISION record.
 * May end the connection (on failure). */
void conn_start_relay(struct conn *c);
/* Dial the next of hs->dest's addresses; none left: refused (502/504). */
void conn_dial_next(struct conn *c);
/* With approvals on, hold a request the policy refused by its default:
 * true when held (ASK); `resume` decides it again once answered. */
bool conn_hold(struct conn *c, const char *name, size_t len, uint16_t port,
               approval_resume_fn *resume);

/* ---- flow_peek.c ---------------------------------------------------------------- */

/* A transparent connection just accepted: read its original destination
 * into c->key.dest and hs->dest.  0, or -1 when it is not a redirected flow
 * (or one aimed at our own listener): logged and ended. */
int conn_transparent_start(struct conn *c);
/* PEEK: look at the client's bytes so far and decide when they suffice.
 * `readable`: called by the loop (see flow_peek.c). */
void conn_peek(struct conn *c, bool readable);
/* PEEK's timer fired. */
void conn_peek_timeout(struct conn *c);

#endif
