/* approvals.h - requests held until a person answers (`airlock run --ask`).
 *
 * With approvals on, a request the policy refuses by its *default* (no rule
 * matched; an explicit block is never asked about) is held instead of
 * refused: a DNS query, a proxy request, a redirected flow.  Requests for
 * the same name and port share one question.  The owner (the gateway) is
 * told of each new question, so that it can be put to a person (a prompt
 * on the terminal, `airlock pending`), and each answer comes back through
 * approvals_answer():
 *
 *   APPROVAL_ONCE    the owner allows name[:port] for the rest of the run,
 *                    then every held request is decided again under the new
 *                    policy (and goes through);
 *   APPROVAL_ALWAYS  the same, and the owner keeps the rule for later runs;
 *   APPROVAL_DENY    every held request is refused, and so are later ones
 *                    for the same question during this run, without asking;
 *   APPROVAL_TIMEOUT no answer within timeout_ms: the held requests are
 *                    refused; a later request asks again.
 *
 * A question is NAME (DNS asks about a name on any port) or NAME:PORT (a
 * proxy request or flow); approving NAME allows every port.
 *
 * Bounds: at most max_questions open questions and max_held requests held;
 * past either, a request is refused at once (approvals_hold returns NULL),
 * as it would have been without approvals.  Answers are remembered for at
 * most APPROVALS_MEMORY questions (the oldest are forgotten).
 */
#ifndef AIRLOCK_GATEWAY_APPROVALS_H
#define AIRLOCK_GATEWAY_APPROVALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/audit.h"
#include "net/loop.h"
#include "policy/name.h"
#include "util/diag.h"

#define APPROVALS_MEMORY 1024

enum approval_answer {
	APPROVAL_DENY,
	APPROVAL_ONCE,
	APPROVAL_ALWAYS,
	APPROVAL_TIMEOUT,
};

struct approval_question {
	unsigned id; /* 1, 2, ... within this gateway's life */
	char name[NAME_BUF_SIZE];
	size_t name_len;
	uint16_t port;          /* 0: any port (a DNS query) */
	enum audit_proto proto; /* of the first request held */
	char client[AUDIT_ADDR_SIZE];
	uint64_t asked_ms; /* loop_now_ms() when asked */
	size_t held;       /* requests waiting on it */
};

struct approvals_owner {
	/* A new question: show it to someone. */
	void (*asked)(void *ctx, const struct approval_question *q);
	/* An answer, before the held requests are decided again: for ONCE and
	 * ALWAYS, make the policy allow the question (0), or fail (-errno,
	 * `d` says why: the requests are then refused). */
	int (*answered)(void *ctx, const struct approval_question *q, enum approval_answer a,
	                struct diag *d);
	/* The question is closed (answered, or timed out): stop showing it. */
	void (*settled)(void *ctx, const struct approval_question *q, enum approval_answer a);
	void *ctx;
};

struct approvals_config {
	unsigned timeout_ms;  /* default 60000 */
	size_t max_questions; /* default 64 */
	size_t max_held;      /* default 1024 */
};

void approvals_config_default(struct approvals_config *c);

/* A held request is resumed with the answer: decide it again (the policy
 * may now allow it) or refuse it.  The waiter is gone when this is called. */
typedef void approval_resume_fn(void *ctx, enum approval_answer a);

struct approvals;
struct approval_waiter;

/* NULL when out of memory.  `owner` is copied. */
struct approvals *approvals_new(struct loop *loop, const struct approvals_config *c,
                                const struct approvals_owner *owner);
/* Frees every question; held requests are not resumed (their owners free
 * them on their own). */
void approvals_free(struct approvals *a);
DEFINE_POINTER_CLEANUP(struct approvals, approvals_free)

/* Hold a request for canonical `name` at `port` (0 for DNS).  NULL when it
 * is not held: the question was denied earlier in this run (*ret_denied
 * true) or a bound is reached; refuse it then. */
struct approval_waiter *approvals_hold(struct approvals *a, const char *name, size_t len,
                                       uint16_t port, enum audit_proto proto, const char *client,
                                       approval_resume_fn *fn, void *ctx, bool *ret_denied);

/* The request went away (its client closed): forget it.  Accepts NULL. */
void approvals_cancel(struct approval_waiter *w);

/* The question the waiter waits on (for its log record). */
const struct approval_question *approvals_question_of(const struct approval_waiter *w);

/* Answer question `id`.  -ENOENT when no such question is open (answered
 * already, timed out, or never asked), with `d` saying so. */
int approvals_answer(struct approvals *a, unsigned id, enum approval_answer answer, struct diag *d);

/* The open questions, one a line: "ID NAME[:PORT] PROTO CLIENT AGE_S HELD\n".
 * Returns the length written (cut at `size`). */
size_t approvals_list(const struct approvals *a, char *out, size_t size);

/* "allowed once", "allowed, and kept", "denied", "no answer in time". */
const char *approval_answer_text(enum approval_answer a);

#endif
