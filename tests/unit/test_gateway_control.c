/* The control socket: parsing, a live exchange, stale sockets, permissions. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "gateway/control.h"

static void test_parse(void **state)
{
	struct control_request r;
	struct diag d;
	(void)state;

	assert_int_equal(control_parse("allow *.github.com", 18, &r, &d), 0);
	assert_int_equal(r.cmd, CONTROL_ALLOW);
	assert_string_equal(r.arg, "*.github.com");
	assert_int_equal(control_parse("block  x.example\n", 17, &r, &d), 0);
	assert_int_equal(r.cmd, CONTROL_BLOCK);
	assert_string_equal(r.arg, "x.example");
	assert_int_equal(control_parse("status", 6, &r, &d), 0);
	assert_int_equal(r.cmd, CONTROL_STATUS);
	assert_int_equal(control_parse("reset", 5, &r, &d), 0);
	assert_int_equal(control_parse("reload", 6, &r, &d), 0);
	assert_int_equal(control_parse("unallow a.test", 14, &r, &d), 0);
	assert_int_equal(r.cmd, CONTROL_UNALLOW);

	/* Questions: pending, approve ID [always], deny ID. */
	assert_int_equal(control_parse("pending", 7, &r, &d), 0);
	assert_int_equal(r.cmd, CONTROL_PENDING);
	assert_int_equal(control_parse("approve 12", 10, &r, &d), 0);
	assert_int_equal(r.cmd, CONTROL_APPROVE);
	assert_int_equal(r.id, 12);
	assert_false(r.always);
	assert_int_equal(control_parse("approve 3 always", 16, &r, &d), 0);
	assert_true(r.always);
	assert_int_equal(control_parse("deny 7", 6, &r, &d), 0);
	assert_int_equal(r.cmd, CONTROL_DENY);
	assert_int_equal(r.id, 7);
	assert_int_equal(control_parse("deny 7 always", 13, &r, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "unexpected 'always'"));
	assert_int_equal(control_parse("approve", 7, &r, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "question's number"));
	assert_int_equal(control_parse("approve 0", 9, &r, &d), -EINVAL);
	assert_int_equal(control_parse("approve x1", 10, &r, &d), -EINVAL);
	assert_int_equal(control_parse("approve 1x", 10, &r, &d), -EINVAL);
	assert_int_equal(control_parse("approve 1234567890", 18, &r, &d), -EINVAL);
	assert_int_equal(control_parse("pending 1", 9, &r, &d), -EINVAL);

	assert_int_equal(control_parse("allow", 5, &r, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "needs a rule"));
	assert_int_equal(control_parse("status now", 10, &r, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "takes no argument"));
	assert_int_equal(control_parse("delete x", 8, &r, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "unknown command 'delete'"));
	assert_int_equal(control_parse("allow a\0b", 9, &r, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "0x00"));
	char big[CONTROL_MSG_MAX + 2];
	memset(big, 'a', sizeof(big));
	assert_int_equal(control_parse(big, sizeof(big), &r, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "longer than"));
}

/* A handler that records what it was asked and fails "block bad". */
static int handler(void *ctx, const struct control_request *req, char *out, size_t size,
                   struct diag *d)
{
	int *calls = ctx;
	(*calls)++;
	if (req->cmd == CONTROL_BLOCK && strcmp(req->arg, "bad") == 0)
		return diag_fail(d, -EINVAL, "'bad' is not a rule");
	if (req->cmd == CONTROL_STATUS)
		snprintf(out, size, "rules 3\nruntime 1");
	return 0;
}

struct ask {
	const char *path, *request;
	int result;
	char reply[DIAG_MSG_MAX];
	volatile int done;
};

static void *ask_thread(void *arg)
{
	struct ask *a = arg;
	struct diag d;
	a->result = control_ask(a->path, a->request, a->reply, sizeof(a->reply), &d);
	if (a->result < 0 && a->result != -EREMOTEIO)
		snprintf(a->reply, sizeof(a->reply), "%s", d.msg);
	a->done = 1;
	return NULL;
}

static void ask(struct loop *loop, const char *path, const char *request, struct ask *a)
{
	pthread_t t;
	memset(a, 0, sizeof(*a));
	a->path = path;
	a->request = request;
	assert_int_equal(pthread_create(&t, NULL, ask_thread, a), 0);
	for (int i = 0; i < 500 && !a->done; i++)
		loop_run_once(loop, 10);
	pthread_join(t, NULL);
}

static void test_exchange(void **state)
{
	char dir[] = "/tmp/airlock-control-XXXXXX", path[128];
	struct loop *loop = loop_new();
	struct control_service *s;
	struct diag d;
	struct ask a;
	int fd, calls = 0;
	struct stat st;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control", dir);
	assert_int_equal(control_listen(path, &fd, &d), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(control_service_new(loop, fd, handler, &calls, &s), 0);

	ask(loop, path, "allow x.example", &a);
	assert_int_equal(a.result, 0);
	assert_string_equal(a.reply, "");
	ask(loop, path, "status", &a);
	assert_int_equal(a.result, 0);
	assert_string_equal(a.reply, "rules 3\nruntime 1");
	ask(loop, path, "block bad", &a);
	assert_int_equal(a.result, -EREMOTEIO);
	assert_string_equal(a.reply, "'bad' is not a rule");
	ask(loop, path, "frobnicate", &a);
	assert_int_equal(a.result, -EREMOTEIO);
	assert_non_null(strstr(a.reply, "unknown command"));
	assert_int_equal(calls, 3); /* the bad command never reached the handler */

	/* A second gateway cannot take the name of a live one. */
	int fd2;
	assert_int_equal(control_listen(path, &fd2, &d), -EADDRINUSE);

	/* Another user: first the 0600 mode, then SO_PEERCRED, stop it. */
	if (geteuid() == 0) {
		for (int open_mode = 0; open_mode < 2; open_mode++) {
			chmod(dir, 0755);
			chmod(path, open_mode ? 0666 : 0600);
			pid_t pid = fork();
			if (pid == 0) {
				char reply[256];
				if (setgid(65534) < 0 || setuid(65534) < 0)
					_exit(3);
				int r = control_ask(path, "reset", reply, sizeof(reply), NULL);
				if (open_mode)
					_exit(r == -EREMOTEIO && strstr(reply, "permission denied")
					              ? 0
					              : 1);
				_exit(r == -EACCES ? 0 : 2);
			}
			int status = 0;
			for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
				loop_run_once(loop, 10);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
		assert_int_equal(calls, 3);
	}

	control_service_free(s);
	/* A socket file left behind by a dead gateway is replaced. */
	assert_int_equal(control_listen(path, &fd, &d), 0);
	close(fd);
	unlink(path);
	/* A file that is not a socket is not. */
	FILE *f = fopen(path, "we");
	fclose(f);
	assert_int_equal(control_listen(path, &fd, &d), -EEXIST);
	unlink(path);
	rmdir(dir);
	loop_free(loop);

	struct diag dd;
	char reply[64];
	assert_true(control_ask("/nonexistent/sock", "status", reply, sizeof(reply), &dd) < 0);
	assert_non_null(strstr(dd.msg, "no gateway answers on /nonexistent/sock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_exchange),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
