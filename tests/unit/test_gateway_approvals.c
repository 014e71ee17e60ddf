/* Held requests and their questions: sharing, answers, denials remembered,
 * timeouts, bounds, cancelled waiters, the listing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "gateway/approvals.h"

/* What the owner and the held requests saw. */
struct seen {
	unsigned asked, settled, answered;
	unsigned last_id;
	enum approval_answer last_settled;
	int answered_result; /* what the owner's `answered` returns */
	char asked_name[NAME_BUF_SIZE];
};

struct request {
	struct seen *seen;
	bool resumed;
	enum approval_answer answer;
};

static void on_asked(void *ctx, const struct approval_question *q)
{
	struct seen *s = ctx;
	s->asked++;
	s->last_id = q->id;
	snprintf(s->asked_name, sizeof(s->asked_name), "%s", q->name);
}

static int on_answered(void *ctx, const struct approval_question *q, enum approval_answer a,
                       struct diag *d)
{
	struct seen *s = ctx;
	(void)q;
	(void)a;
	s->answered++;
	return s->answered_result < 0 ? diag_fail(d, s->answered_result, "owner failed") : 0;
}

static void on_settled(void *ctx, const struct approval_question *q, enum approval_answer a)
{
	struct seen *s = ctx;
	(void)q;
	s->settled++;
	s->last_settled = a;
}

static void resume(void *ctx, enum approval_answer a)
{
	struct request *r = ctx;
	r->resumed = true;
	r->answer = a;
}

static struct approvals *make(struct loop *loop, struct seen *seen, unsigned timeout_ms,
                              size_t max_questions, size_t max_held)
{
	struct approvals_config c;
	approvals_config_default(&c);
	if (timeout_ms)
		c.timeout_ms = timeout_ms;
	if (max_questions)
		c.max_questions = max_questions;
	if (max_held)
		c.max_held = max_held;
	struct approvals_owner o = {on_asked, on_answered, on_settled, seen};
	struct approvals *a = approvals_new(loop, &c, &o);
	assert_non_null(a);
	return a;
}

static struct approval_waiter *hold(struct approvals *a, const char *name, uint16_t port,
                                    struct request *r, bool *denied)
{
	return approvals_hold(a, name, strlen(name), port, AUDIT_PROTO_CONNECT, "127.0.0.1:4000",
	                      resume, r, denied);
}

/* Two requests for one name:port share a question; approving it resumes
 * both, after the owner changed the policy. */
static void test_shared_question_approved(void **state)
{
	struct loop *loop = loop_new();
	struct seen seen = {0};
	struct request r1 = {.seen = &seen}, r2 = {.seen = &seen}, r3 = {.seen = &seen};
	struct diag d;
	bool denied;
	(void)state;

	struct approvals *a = make(loop, &seen, 0, 0, 0);
	assert_non_null(hold(a, "x.test", 443, &r1, &denied));
	assert_non_null(hold(a, "x.test", 443, &r2, &denied));
	assert_non_null(hold(a, "x.test", 80, &r3, &denied)); /* another port: another question */
	assert_int_equal(seen.asked, 2);
	assert_string_equal(seen.asked_name, "x.test");

	char list[512];
	approvals_list(a, list, sizeof(list));
	assert_string_equal(list, "1 x.test:443 connect 127.0.0.1:4000 0 2\n"
	                          "2 x.test:80 connect 127.0.0.1:4000 0 1\n");

	assert_int_equal(approvals_answer(a, 1, APPROVAL_ONCE, &d), 0);
	assert_int_equal(seen.answered, 1);
	assert_true(r1.resumed && r2.resumed);
	assert_int_equal(r1.answer, APPROVAL_ONCE);
	assert_false(r3.resumed);
	assert_int_equal(seen.settled, 1);
	assert_int_equal(approvals_answer(a, 1, APPROVAL_ONCE, &d), -ENOENT);
	assert_non_null(strstr(d.msg, "no question 1 is open"));

	approvals_free(a);
	loop_free(loop);
}

/* A denial refuses what waits and is remembered for the run: later requests
 * for it are not held; a denied name (DNS, port 0) covers every port. */
static void test_denial_remembered(void **state)
{
	struct loop *loop = loop_new();
	struct seen seen = {0};
	struct request r1 = {.seen = &seen}, r2 = {.seen = &seen};
	struct diag d;
	bool denied;
	(void)state;

	struct approvals *a = make(loop, &seen, 0, 0, 0);
	assert_non_null(hold(a, "y.test", 0, &r1, &denied));
	assert_int_equal(approvals_answer(a, seen.last_id, APPROVAL_DENY, &d), 0);
	assert_true(r1.resumed);
	assert_int_equal(r1.answer, APPROVAL_DENY);
	assert_int_equal(seen.answered, 0); /* nothing for the owner to allow */
	assert_null(hold(a, "y.test", 0, &r2, &denied));
	assert_true(denied);
	assert_null(hold(a, "y.test", 8443, &r2, &denied));
	assert_true(denied);
	assert_non_null(hold(a, "z.test", 0, &r2, &denied));
	assert_false(denied);
	approvals_free(a);
	loop_free(loop);
}

/* No answer within the timeout: refused, and asked again next time. */
static void test_timeout(void **state)
{
	struct loop *loop = loop_new();
	struct seen seen = {0};
	struct request r1 = {.seen = &seen}, r2 = {.seen = &seen};
	bool denied;
	(void)state;

	struct approvals *a = make(loop, &seen, 30, 0, 0);
	assert_non_null(hold(a, "t.test", 443, &r1, &denied));
	for (int i = 0; i < 100 && !r1.resumed; i++)
		loop_run_once(loop, 10);
	assert_true(r1.resumed);
	assert_int_equal(r1.answer, APPROVAL_TIMEOUT);
	assert_int_equal(seen.last_settled, APPROVAL_TIMEOUT);
	assert_non_null(hold(a, "t.test", 443, &r2, &denied));
	assert_int_equal(seen.asked, 2);
	approvals_free(a);
	loop_free(loop);
}

/* The owner failing to allow turns the answer into a denial. */
static void test_owner_failure_denies(void **state)
{
	struct loop *loop = loop_new();
	struct seen seen = {.answered_result = -EIO};
	struct request r1 = {.seen = &seen};
	struct diag d;
	bool denied;
	(void)state;

	struct approvals *a = make(loop, &seen, 0, 0, 0);
	assert_non_null(hold(a, "f.test", 443, &r1, &denied));
	assert_int_equal(approvals_answer(a, 1, APPROVAL_ALWAYS, &d), -EIO);
	assert_true(r1.resumed);
	assert_int_equal(r1.answer, APPROVAL_DENY);
	approvals_free(a);
	loop_free(loop);
}

/* Bounds: questions and held requests; a cancelled waiter is not resumed
 * and frees its place. */
static void test_bounds_and_cancel(void **state)
{
	struct loop *loop = loop_new();
	struct seen seen = {0};
	struct request r[4] = {{.seen = &seen}, {.seen = &seen}, {.seen = &seen}, {.seen = &seen}};
	struct diag d;
	bool denied;
	(void)state;

	struct approvals *a = make(loop, &seen, 0, 2, 3);
	struct approval_waiter *w0 = hold(a, "a.test", 1, &r[0], &denied);
	assert_non_null(w0);
	assert_non_null(hold(a, "b.test", 1, &r[1], &denied));
	assert_null(hold(a, "c.test", 1, &r[2], &denied)); /* third question */
	assert_false(denied);
	assert_non_null(hold(a, "a.test", 1, &r[2], &denied));
	assert_null(hold(a, "a.test", 1, &r[3], &denied)); /* fourth held request */
	approvals_cancel(w0);
	assert_non_null(hold(a, "a.test", 1, &r[3], &denied));
	assert_int_equal(approvals_answer(a, 1, APPROVAL_ONCE, &d), 0);
	assert_false(r[0].resumed);
	assert_true(r[2].resumed && r[3].resumed);
	const struct approval_question *q =
	        approvals_question_of(hold(a, "d.test", 9, &r[0], &denied));
	assert_string_equal(q->name, "d.test");
	assert_int_equal(q->port, 9);
	approvals_free(a);
	loop_free(loop);
}

static void test_answer_text(void **state)
{
	(void)state;
	assert_string_equal(approval_answer_text(APPROVAL_ONCE), "allowed for this run");
	assert_string_equal(approval_answer_text(APPROVAL_DENY), "denied");
	assert_string_equal(approval_answer_text(APPROVAL_TIMEOUT), "no answer in time");
	assert_non_null(strstr(approval_answer_text(APPROVAL_ALWAYS), "kept"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_shared_question_approved),
	        cmocka_unit_test(test_denial_remembered),
	        cmocka_unit_test(test_timeout),
	        cmocka_unit_test(test_owner_failure_denies),
	        cmocka_unit_test(test_bounds_and_cancel),
	        cmocka_unit_test(test_answer_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
