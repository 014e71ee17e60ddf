/* approvals.c - held requests and the questions they wait on (see approvals.h). */
#include "gateway/approvals.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct question;

struct approval_waiter {
	struct question *q;
	struct approval_waiter *prev, *next;
	approval_resume_fn *fn;
	void *ctx;
};

struct question {
	struct approval_question pub;
	struct approvals *a;
	struct question *prev, *next;
	struct approval_waiter *waiters;
	struct loop_timer *timer;
};

struct remembered {
	size_t name_len;
	char name[NAME_BUF_SIZE];
	uint16_t port;
};

struct approvals {
	struct loop *loop;
	struct approvals_config config;
	struct approvals_owner owner;
	struct question *questions;
	size_t n_questions, n_held;
	unsigned next_id;
	/* Questions denied in this run: a ring, the oldest overwritten. */
	struct remembered *denied;
	size_t n_denied, denied_at;
};

void approvals_config_default(struct approvals_config *c)
{
	c->timeout_ms = 60000;
	c->max_questions = 64;
	c->max_held = 1024;
}

struct approvals *approvals_new(struct loop *loop, const struct approvals_config *c,
                                const struct approvals_owner *owner)
{
	struct approvals *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->denied = calloc(APPROVALS_MEMORY, sizeof(*a->denied));
	if (!a->denied) {
		free(a);
		return NULL;
	}
	a->loop = loop;
	a->config = *c;
	a->owner = *owner;
	a->next_id = 1;
	return a;
}

static void unlink_waiter(struct approval_waiter *w)
{
	struct question *q = w->q;
	*(w->prev ? &w->prev->next : &q->waiters) = w->next;
	if (w->next)
		w->next->prev = w->prev;
	q->pub.held--;
	q->a->n_held--;
}

static void question_free(struct question *q)
{
	struct approvals *a = q->a;
	while (q->waiters) {
		struct approval_waiter *w = q->waiters;
		unlink_waiter(w);
		free(w);
	}
	loop_timer_cancel(q->timer);
	*(q->prev ? &q->prev->next : &a->questions) = q->next;
	if (q->next)
		q->next->prev = q->prev;
	a->n_questions--;
	free(q);
}

void approvals_free(struct approvals *a)
{
	if (!a)
		return;
	while (a->questions)
		question_free(a->questions);
	free(a->denied);
	free(a);
}

static bool same(const char *name, size_t len, uint16_t port, const char *name2, size_t len2,
                 uint16_t port2)
{
	return port == port2 && len == len2 && memcmp(name, name2, len) == 0;
}

static bool was_denied(const struct approvals *a, const char *name, size_t len, uint16_t port)
{
	for (size_t i = 0; i < a->n_denied; i++) {
		const struct remembered *r = &a->denied[i];
		/* A denied NAME (DNS, any port) covers every port of it. */
		if (r->name_len == len && memcmp(r->name, name, len) == 0 &&
		    (r->port == 0 || r->port == port))
			return true;
	}
	return false;
}

static void remember_denied(struct approvals *a, const struct approval_question *q)
{
	struct remembered *r = &a->denied[a->denied_at];
	memcpy(r->name, q->name, q->name_len + 1);
	r->name_len = q->name_len;
	r->port = q->port;
	a->denied_at = (a->denied_at + 1) % APPROVALS_MEMORY;
	if (a->n_denied < APPROVALS_MEMORY)
		a->n_denied++;
}

/* Resume every request held on q with `answer`, then free q.  The waiters
 * are detached first: a resumed request may hold again (another question)
 * or be freed, and neither touches this list. */
static void settle(struct question *q, enum approval_answer answer)
{
	struct approvals *a = q->a;
	struct approval_waiter *list = q->waiters;
	size_t n = q->pub.held;

	q->waiters = NULL;
	a->n_held -= n;
	q->pub.held = 0;
	if (a->owner.settled)
		a->owner.settled(a->owner.ctx, &q->pub, answer);
	question_free(q);
	while (list) {
		struct approval_waiter *w = list;
		list = w->next;
		approval_resume_fn *fn = w->fn;
		void *ctx = w->ctx;
		free(w);
		fn(ctx, answer);
	}
}

static void on_timeout(struct loop *loop, struct loop_timer *t, void *data)
{
	struct question *q = data;
	(void)loop;
	(void)t;
	settle(q, APPROVAL_TIMEOUT);
}

struct approval_waiter *approvals_hold(struct approvals *a, const char *name, size_t len,
                                       uint16_t port, enum audit_proto proto, const char *client,
                                       approval_resume_fn *fn, void *ctx, bool *ret_denied)
{
	struct question *q;

	*ret_denied = false;
	if (len >= NAME_BUF_SIZE)
		return NULL;
	if (was_denied(a, name, len, port)) {
		*ret_denied = true;
		return NULL;
	}
	if (a->n_held >= a->config.max_held)
		return NULL;
	for (q = a->questions; q; q = q->next)
		if (same(q->pub.name, q->pub.name_len, q->pub.port, name, len, port))
			break;
	bool fresh = !q;
	if (fresh) {
		if (a->n_questions >= a->config.max_questions)
			return NULL;
		q = calloc(1, sizeof(*q));
		if (!q)
			return NULL;
		q->timer = loop_timer_add(a->loop, a->config.timeout_ms, on_timeout, q);
		if (!q->timer) {
			free(q);
			return NULL;
		}
		q->a = a;
		q->pub.id = a->next_id++;
		memcpy(q->pub.name, name, len);
		q->pub.name[len] = '\0';
		q->pub.name_len = len;
		q->pub.port = port;
		q->pub.proto = proto;
		snprintf(q->pub.client, sizeof(q->pub.client), "%s", client ? client : "");
		q->pub.asked_ms = loop_now_ms(a->loop);
		q->next = a->questions;
		if (a->questions)
			a->questions->prev = q;
		a->questions = q;
		a->n_questions++;
	}
	struct approval_waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		if (fresh)
			question_free(q);
		return NULL;
	}
	w->q = q;
	w->fn = fn;
	w->ctx = ctx;
	w->next = q->waiters;
	if (q->waiters)
		q->waiters->prev = w;
	q->waiters = w;
	q->pub.held++;
	a->n_held++;
	if (fresh && a->owner.asked)
		a->owner.asked(a->owner.ctx, &q->pub);
	return w;
}

void approvals_cancel(struct approval_waiter *w)
{
	if (!w)
		return;
	unlink_waiter(w);
	free(w);
	/* The question stays open: the person may still answer it, and a
	 * client that retries (DNS does) joins it again. */
}

const struct approval_question *approvals_question_of(const struct approval_waiter *w)
{
	return &w->q->pub;
}

int approvals_answer(struct approvals *a, unsigned id, enum approval_answer answer, struct diag *d)
{
	struct question *q;
	for (q = a->questions; q; q = q->next)
		if (q->pub.id == id)
			break;
	if (!q)
		return diag_fail(d, -ENOENT,
		                 "no question %u is open (answered already, timed out, or never "
		                 "asked; 'airlock pending' lists the open ones)",
		                 id);
	if (answer == APPROVAL_DENY)
		remember_denied(a, &q->pub);
	if ((answer == APPROVAL_ONCE || answer == APPROVAL_ALWAYS) && a->owner.answered) {
		int e = a->owner.answered(a->owner.ctx, &q->pub, answer, d);
		if (e < 0) {
			settle(q, APPROVAL_DENY);
			return e;
		}
	}
	settle(q, answer);
	return 0;
}

size_t approvals_list(const struct approvals *a, char *out, size_t size)
{
	size_t o = 0;
	uint64_t now = loop_now_ms(a->loop);

	if (size)
		out[0] = '\0';
	/* Oldest first: the list is newest first. */
	const struct question *last = a->questions;
	while (last && last->next)
		last = last->next;
	for (const struct question *q = last; q && o < size; q = q->prev) {
		char port[8] = "";
		if (q->pub.port)
			snprintf(port, sizeof(port), ":%u", q->pub.port);
		int n = snprintf(out + o, size - o, "%u %s%s %s %s %llu %zu\n", q->pub.id,
		                 q->pub.name, port, audit_proto_name(q->pub.proto) ?: "-",
		                 q->pub.client[0] ? q->pub.client : "-",
		                 (unsigned long long)((now - q->pub.asked_ms) / 1000), q->pub.held);
		if (n < 0 || (size_t)n >= size - o) {
			out[o] = '\0';
			break;
		}
		o += (size_t)n;
	}
	return o;
}

const char *approval_answer_text(enum approval_answer a)
{
	switch (a) {
	case APPROVAL_ONCE:
		return "allowed for this run";
	case APPROVAL_ALWAYS:
		return "allowed, and kept for later runs";
	case APPROVAL_DENY:
		return "denied";
	case APPROVAL_TIMEOUT:
		return "no answer in time";
	}
	return "?";
}
