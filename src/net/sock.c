/* sock.c - non-blocking, close-on-exec sockets (see sock.h). */
#include "net/sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/macros.h"

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>,
 * which do not mix well with the libc headers; both are 80 in the kernel ABI. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static int set_int_opt(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		return -errno;
	return 0;
}

/* A non-blocking close-on-exec socket for a's family, IPv6 ones V6ONLY. */
static int new_socket(const struct addr *a, int type)
{
	int family = addr_family(a);
	if (family == AF_UNSPEC)
		return -EAFNOSUPPORT;
	_cleanup_close_ int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		int r = set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
		if (r < 0)
			return r;
	}
	return TAKE_FD(fd);
}

int sock_listen_tcp(const struct addr *a, int backlog)
{
	_cleanup_close_ int fd = new_socket(a, SOCK_STREAM);
	if (fd < 0)
		return fd;
	int r = set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (r < 0)
		return r;
	if (bind(fd, &a->sa, a->len) < 0)
		return -errno;
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int sock_bind_udp(const struct addr *a)
{
	_cleanup_close_ int fd = new_socket(a, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	if (bind(fd, &a->sa, a->len) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int sock_connect_tcp_nb(const struct addr *a)
{
	_cleanup_close_ int fd = new_socket(a, SOCK_STREAM);
	if (fd < 0)
		return fd;
	if (connect(fd, &a->sa, a->len) < 0 && errno != EINPROGRESS)
		return -errno;
	return TAKE_FD(fd);
}

int sock_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

int sock_accept(int listen_fd, struct addr *ret_peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	_cleanup_close_ int fd =
	        accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (ret_peer) {
		int r = addr_from_sockaddr(ret_peer, (struct sockaddr *)&ss, len);
		if (r < 0)
			return r;
	}
	return TAKE_FD(fd);
}

int sock_local_addr(int fd, struct addr *ret)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return addr_from_sockaddr(ret, (struct sockaddr *)&ss, len);
}

int sock_peer_addr(int fd, struct addr *ret)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return addr_from_sockaddr(ret, (struct sockaddr *)&ss, len);
}

int sock_original_dst(int fd, struct addr *ret)
{
	struct addr local, dst;
	socklen_t len;
	int r;

	r = sock_local_addr(fd, &local);
	if (r < 0)
		return r;
	memset(&dst, 0, sizeof(dst));
	if (addr_family(&local) == AF_INET) {
		len = sizeof(dst.in4);
		r = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst.in4, &len);
	} else {
		len = sizeof(dst.in6);
		r = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst.in6, &len);
	}
	if (r < 0)
		return -errno;
	/* Never trust the kernel to have filled what we are about to read. */
	r = addr_from_sockaddr(&dst, &dst.sa, len);
	if (r < 0)
		return r;
	if (addr_family(&dst) != addr_family(&local))
		return -EAFNOSUPPORT;
	/* A flow conntrack saw but nothing rewrote: it was going to us. */
	if (addr_equal(&dst, &local))
		return -ENOENT;
	*ret = dst;
	return 0;
}
