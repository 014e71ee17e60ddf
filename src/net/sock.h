/* sock.h - TCP and UDP sockets the way the gateway needs them.
 *
 * Every socket made here is non-blocking and close-on-exec from its creation
 * (SOCK_NONBLOCK | SOCK_CLOEXEC, accept4), and every IPv6 socket is
 * IPV6_V6ONLY: an IPv6 listener never receives IPv4 clients as ::ffff:a.b.c.d,
 * so an address is checked in one form only and a "::" listener does not
 * silently take over IPv4 too.
 *
 * Functions that create a socket return the new fd (>= 0, owned by the
 * caller) or -errno; nothing is left open on failure.
 */
#ifndef AIRLOCK_NET_SOCK_H
#define AIRLOCK_NET_SOCK_H

#include "net/addr.h"

/* A TCP listener on `a` (port 0: the kernel picks; see sock_local_addr).
 * SO_REUSEADDR is set, so a restarted gateway can bind while connections of
 * the old one sit in TIME_WAIT.  backlog <= 0 means SOMAXCONN. */
int sock_listen_tcp(const struct addr *a, int backlog);

/* A UDP socket bound to `a`.  No SO_REUSEADDR: on UDP it would let another
 * socket of the same user bind the same port and receive our datagrams. */
int sock_bind_udp(const struct addr *a);

/* Start a TCP connect to `a`.  The fd is returned at once, usually with the
 * connect still in progress (EINPROGRESS is success here): watch it for
 * LOOP_WRITE, then sock_connect_result() says how it ended. */
int sock_connect_tcp_nb(const struct addr *a);

/* 0 when the connect on fd succeeded, else its -errno (SO_ERROR). */
int sock_connect_result(int fd);

/* Accept one connection: the new fd, with the peer in *ret_peer (may be NULL;
 * must be NULL on a unix listener, whose peers are no struct addr).
 * -EAGAIN when none is waiting.  -ECONNABORTED and friends concern that one
 * connection; accept again.  -EMFILE / -ENFILE: out of descriptors - the
 * connection stays queued, so with a level-triggered loop the listener is
 * reported again at once; drop its LOOP_READ interest for a while (a timer)
 * instead of spinning. */
int sock_accept(int listen_fd, struct addr *ret_peer);

/* getsockname() / getpeername() as an addr.  0 or -errno. */
int sock_local_addr(int fd, struct addr *ret);
int sock_peer_addr(int fd, struct addr *ret);

/* Where the client of an accepted TCP connection was really going before an
 * nftables/iptables REDIRECT (or DNAT) sent it to our listener: the conntrack
 * entry's original destination.  IPv4: getsockopt(SOL_IP, SO_ORIGINAL_DST);
 * IPv6: getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST), both option 80.
 *
 * Returns 0, or -errno when there was no redirect: -ENOENT when conntrack
 * has no entry for the flow, -ENOPROTOOPT when conntrack is not loaded, and
 * -ENOENT too when the entry's original destination is our own address (the
 * client connected to the listener directly; relaying that would connect the
 * gateway to itself). */
int sock_original_dst(int fd, struct addr *ret);

#endif
