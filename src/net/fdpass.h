/* fdpass.h - send descriptors with a small payload over a unix socket.
 *
 * What it is for: a helper that setns()es into a sandbox's network namespace
 * binds the gateway's listeners there and passes them back; the payload says
 * what each fd is.  Use a SOCK_SEQPACKET socketpair, so one send is one
 * receive with its boundaries kept.
 *
 * The receiving side treats the sender as untrusted: the payload must fit
 * the caller's buffer (else -EMSGSIZE), at most `max_fds` descriptors are
 * accepted, and anything odd - truncated control data (MSG_CTRUNC), more fds
 * than asked for, a control message other than SCM_RIGHTS - fails with
 * -EBADMSG after closing every descriptor that did arrive, so an error never
 * leaks one.  Received descriptors are close-on-exec (MSG_CMSG_CLOEXEC).
 *
 * Both calls retry on EINTR; on a non-blocking socket they return -EAGAIN.
 */
#ifndef AIRLOCK_NET_FDPASS_H
#define AIRLOCK_NET_FDPASS_H

#include <stddef.h>

#define FDPASS_MAX_FDS     16   /* per message, either way */
#define FDPASS_MAX_PAYLOAD 4096 /* bytes per message */

/* Send payload (1..FDPASS_MAX_PAYLOAD bytes: never empty, so that a
 * zero-length receive always means the peer closed) with n_fds descriptors
 * (0..FDPASS_MAX_FDS; they stay open and owned by the caller).  Returns 0,
 * -EINVAL, -EMSGSIZE if the socket sent less than all of it, or -errno. */
int fdpass_send(int sock, const void *payload, size_t len, const int *fds, size_t n_fds);

/* Receive one message: payload into buf (size bytes), descriptors into
 * ret_fds (room for max_fds <= FDPASS_MAX_FDS; the caller owns them after
 * success), their count in *ret_n_fds.  Returns the payload length (> 0),
 * 0 when the peer closed, or -errno as described above. */
int fdpass_recv(int sock, void *buf, size_t size, int *ret_fds, size_t max_fds, size_t *ret_n_fds);

#endif
