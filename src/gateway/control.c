#include "gateway/control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct client {
	struct control_service *s;
	int fd;
	/* A peer of another uid: its request is read (closing a unix socket with
	 * unread data would reset the peer before it sees the reply), refused,
	 * and the connection closed. */
	bool denied;
};

struct control_service {
	struct loop *loop;
	int fd;
	control_handler *handler;
	void *ctx;
	struct client *clients[CONTROL_CLIENTS];
	char reply[CONTROL_REPLY_MAX];
	bool has_extra;
	uid_t extra_uid; /* control_service_allow() */
};

enum arg_kind {
	ARG_NONE,
	ARG_RULE,
	ARG_ID, /* a question's number; "approve" also takes "always" after it */
};

static const struct {
	const char *word;
	enum control_cmd cmd;
	enum arg_kind arg;
} commands[] = {
        {"allow", CONTROL_ALLOW, ARG_RULE},     {"block", CONTROL_BLOCK, ARG_RULE},
        {"unallow", CONTROL_UNALLOW, ARG_RULE}, {"reset", CONTROL_RESET, ARG_NONE},
        {"status", CONTROL_STATUS, ARG_NONE},   {"reload", CONTROL_RELOAD, ARG_NONE},
        {"pending", CONTROL_PENDING, ARG_NONE}, {"approve", CONTROL_APPROVE, ARG_ID},
        {"deny", CONTROL_DENY, ARG_ID},
};

/* "ID" or, for approve, "ID always": a number from 1 to 999999999. */
static int parse_id(struct control_request *r, const char *arg, size_t len, struct diag *d)
{
	size_t n = 0;
	unsigned long v = 0;
	while (n < len && n < 10 && arg[n] >= '0' && arg[n] <= '9')
		v = v * 10 + (unsigned long)(arg[n++] - '0');
	if (n == 0 || n > 9 || v == 0 || (n < len && arg[n] != ' '))
		return diag_fail(d, -EINVAL, "expected a question's number, e.g. approve 3");
	r->id = (unsigned)v;
	while (n < len && arg[n] == ' ')
		n++;
	if (n == len)
		return 0;
	if (r->cmd == CONTROL_APPROVE && len - n == 6 && memcmp(arg + n, "always", 6) == 0) {
		r->always = true;
		return 0;
	}
	return diag_fail(d, -EINVAL, "unexpected '%.*s' after the question's number",
	                 (int)(len - n > 32 ? 32 : len - n), arg + n);
}

int control_parse(const char *msg, size_t len, struct control_request *ret, struct diag *d)
{
	memset(ret, 0, sizeof(*ret));
	if (len > CONTROL_MSG_MAX)
		return diag_fail(d, -EINVAL, "request longer than %d bytes", CONTROL_MSG_MAX);
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			return diag_fail(d, -EINVAL, "control byte 0x%02x in the request",
			                 (unsigned char)msg[i]);
	size_t word = 0;
	while (word < len && msg[word] != ' ')
		word++;
	const char *arg = msg + word;
	size_t arg_len = len - word;
	while (arg_len && *arg == ' ') {
		arg++;
		arg_len--;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strlen(commands[i].word) != word || memcmp(commands[i].word, msg, word) != 0)
			continue;
		ret->cmd = commands[i].cmd;
		if (commands[i].arg == ARG_NONE && arg_len)
			return diag_fail(d, -EINVAL, "'%s' takes no argument", commands[i].word);
		if (commands[i].arg == ARG_RULE && !arg_len)
			return diag_fail(d, -EINVAL, "'%s' needs a rule, e.g. %s api.example.com",
			                 commands[i].word, commands[i].word);
		if (commands[i].arg == ARG_ID)
			return parse_id(ret, arg, arg_len, d);
		if (arg_len > RULE_INPUT_MAX)
			return diag_fail(d, -EINVAL, "rule longer than %d bytes", RULE_INPUT_MAX);
		memcpy(ret->arg, arg, arg_len);
		ret->arg[arg_len] = '\0';
		ret->arg_len = arg_len;
		return 0;
	}
	return diag_fail(d, -EINVAL,
	                 "unknown command '%.*s'; expected allow, block, unallow, reset, status, "
	                 "reload, pending, approve or deny",
	                 (int)(word > 32 ? 32 : word), msg);
}

static int make_addr(const char *path, struct sockaddr_un *sa, struct diag *d)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return diag_fail(d, -ENAMETOOLONG,
		                 "control socket path %s is longer than %zu bytes", path,
		                 sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

int control_listen(const char *path, int *ret_fd, struct diag *d)
{
	struct sockaddr_un sa;
	int r = make_addr(path, &sa, d);
	if (r < 0)
		return r;

	/* Someone answering there already: another gateway owns the name. */
	_cleanup_close_ int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return diag_fail(d, -EADDRINUSE, "a gateway already listens on %s", path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return diag_fail(d, -EEXIST, "%s exists and is not a socket", path);
		unlink(path); /* left by a gateway that is gone */
	}

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return diag_fail(d, -errno, "cannot create the control socket: %s",
		                 strerror(errno));
	/* Owner-only from the start: no window where others may connect. */
	mode_t old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int err = errno;
	umask(old);
	if (r < 0)
		return diag_fail(d, -err, "cannot create the control socket %s: %s", path,
		                 strerror(err));
	if (listen(fd, 8) < 0)
		return diag_fail(d, -errno, "cannot listen on %s: %s", path, strerror(errno));
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void client_close(struct client *c)
{
	struct control_service *s = c->s;
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	loop_del_fd(s->loop, c->fd);
	close(c->fd);
	free(c);
}

static void reply(struct client *c, const char *text, size_t len)
{
	/* A reply is small and the peer waits for it: a full buffer means a
	 * peer that does not read, and it loses the connection. */
	if (send(c->fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		client_close(c);
}

static void on_client(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct client *c = data;
	struct control_service *s = c->s;
	char msg[CONTROL_MSG_MAX + 1];
	struct control_request req;
	struct diag d = {""};
	(void)loop;
	(void)events;

	ssize_t n = recv(fd, msg, sizeof(msg), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	if (c->denied) {
		static const char denied[] = "error: permission denied";
		(void)send(fd, denied, sizeof(denied) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		client_close(c);
		return;
	}
	int r = control_parse(msg, (size_t)n, &req, &d);
	size_t head = 3; /* "ok\n" */
	if (r == 0) {
		s->reply[0] = '\0';
		r = s->handler(s->ctx, &req, s->reply + head, sizeof(s->reply) - head, &d);
	}
	if (r < 0) {
		int len = snprintf(s->reply, sizeof(s->reply), "error: %s",
		                   d.msg[0] ? d.msg : strerror(-r));
		reply(c, s->reply,
		      (size_t)len < sizeof(s->reply) ? (size_t)len : sizeof(s->reply) - 1);
		return;
	}
	size_t detail = strnlen(s->reply + head, sizeof(s->reply) - head);
	memcpy(s->reply, detail ? "ok\n" : "ok", detail ? 3 : 2);
	if (detail)
		reply(c, s->reply, head + detail);
	else
		reply(c, s->reply, 2);
}

static bool peer_allowed(const struct control_service *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == getuid() || (s->has_extra && cred.uid == s->extra_uid);
}

void control_service_allow(struct control_service *s, uid_t uid)
{
	s->has_extra = true;
	s->extra_uid = uid;
}

int control_share(const char *path, gid_t gid, struct diag *d)
{
	if (chown(path, (uid_t)-1, gid) < 0 || chmod(path, 0660) < 0)
		return diag_fail(d, -errno, "cannot share the control socket %s: %s", path,
		                 strerror(errno));
	return 0;
}

static void on_listener(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct control_service *s = data;
	(void)events;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0)
			return;
		bool denied = !peer_allowed(s, cfd);
		size_t slot = 0;
		while (slot < CONTROL_CLIENTS && s->clients[slot])
			slot++;
		struct client *c = slot < CONTROL_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			static const char busy[] = "error: too many control connections";
			(void)send(cfd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(cfd);
			continue;
		}
		c->s = s;
		c->fd = cfd;
		c->denied = denied;
		if (loop_add_fd(loop, cfd, LOOP_READ, on_client, c) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		s->clients[slot] = c;
	}
}

int control_service_new(struct loop *loop, int listen_fd, control_handler *handler, void *ctx,
                        struct control_service **ret)
{
	struct control_service *s = calloc(1, sizeof(*s));
	if (!s) {
		close(listen_fd);
		return -ENOMEM;
	}
	s->loop = loop;
	s->fd = listen_fd;
	s->handler = handler;
	s->ctx = ctx;
	int r = loop_add_fd(loop, listen_fd, LOOP_READ, on_listener, s);
	if (r < 0) {
		close(listen_fd);
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void control_service_free(struct control_service *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (s->clients[i])
			client_close(s->clients[i]);
	loop_del_fd(s->loop, s->fd);
	close(s->fd);
	free(s);
}

int control_ask(const char *path, const char *request, char *out, size_t size, struct diag *d)
{
	struct sockaddr_un sa;
	int r = make_addr(path, &sa, d);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return diag_fail(d, -errno, "cannot create a socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return diag_fail(d, -errno, "no gateway answers on %s: %s", path, strerror(errno));
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0)
		return diag_fail(d, -errno, "cannot send to %s: %s", path, strerror(errno));
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 10000) <= 0)
		return diag_fail(d, -ETIMEDOUT, "the gateway on %s did not answer in 10 s", path);
	ssize_t n = recv(fd, out, size - 1, 0);
	if (n <= 0)
		return diag_fail(d, n == 0 ? -ECONNRESET : -errno,
		                 "the gateway on %s closed the connection", path);
	out[n] = '\0';
	if (strncmp(out, "ok", 2) == 0) {
		size_t skip = out[2] == '\n' ? 3 : 2;
		memmove(out, out + skip, (size_t)n - skip + 1);
		return 0;
	}
	if (strncmp(out, "error: ", 7) == 0)
		memmove(out, out + 7, (size_t)n - 7 + 1);
	return -EREMOTEIO;
}
