/* fdpass.c - SCM_RIGHTS with a payload (see fdpass.h). */
#include "net/fdpass.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Room for the largest control message either side accepts, aligned for
 * struct cmsghdr; a fixed size, so no VLA and no allocation. */
union control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX_FDS)];
};

int fdpass_send(int sock, const void *payload, size_t len, const int *fds, size_t n_fds)
{
	union control ctl;
	struct iovec iov = {.iov_base = (void *)payload, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (len == 0 || len > FDPASS_MAX_PAYLOAD || n_fds > FDPASS_MAX_FDS || (n_fds && !fds))
		return -EINVAL;
	if (n_fds) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	ssize_t n;
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

int fdpass_recv(int sock, void *buf, size_t size, int *ret_fds, size_t max_fds, size_t *ret_n_fds)
{
	union control ctl;
	int got[FDPASS_MAX_FDS * 2]; /* see the CMSG_SPACE note below */
	size_t n_got = 0;
	/* Payloads over FDPASS_MAX_PAYLOAD are refused whatever the buffer. */
	struct iovec iov = {.iov_base = buf,
	                    .iov_len = size < FDPASS_MAX_PAYLOAD ? size : FDPASS_MAX_PAYLOAD};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	bool bad = false;

	if (size == 0 || max_fds > FDPASS_MAX_FDS || (max_fds && !ret_fds) || !ret_n_fds)
		return -EINVAL;
	*ret_n_fds = 0;
	/* Offer only as much control space as max_fds needs, so the kernel
	 * truncates (MSG_CTRUNC) a message carrying many more. */
	msg.msg_control = ctl.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * (max_fds ? max_fds : 1));

	ssize_t n;
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	/* Collect every descriptor that arrived before judging the message:
	 * whatever is wrong with it, they must all be closed.  CMSG_SPACE
	 * rounds up, so a little more than max_fds can fit: `got` has room. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t room = msg.msg_controllen - (size_t)((char *)c - ctl.buf);
		if (c->cmsg_len < CMSG_LEN(0) || c->cmsg_len > room) {
			bad = true;
			break;
		}
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = true;
			continue;
		}
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (n_got < sizeof(got) / sizeof(got[0])) {
				got[n_got++] = fd;
			} else {
				close(fd);
				bad = true;
			}
		}
	}
	if (msg.msg_flags & MSG_TRUNC) {
		close_all(got, n_got);
		return -EMSGSIZE;
	}
	if (bad || (msg.msg_flags & MSG_CTRUNC) || n_got > max_fds) {
		close_all(got, n_got);
		return -EBADMSG;
	}
	if (n == 0 && n_got) { /* senders never send an empty payload */
		close_all(got, n_got);
		return -EBADMSG;
	}
	if (n_got)
		memcpy(ret_fds, got, n_got * sizeof(int));
	*ret_n_fds = n_got;
	return (int)n;
}
