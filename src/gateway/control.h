/* control.h - the gateway's control socket: runtime rules and status.
 *
 * A unix SOCK_SEQPACKET socket, so each message is one request and each
 * reply one message:
 *
 *   allow RULE      add RULE to the runtime allow rules
 *   block RULE      add RULE to the runtime block rules
 *   unallow RULE    remove RULE from the runtime rules, allow or block
 *   reset           remove every runtime rule
 *   status          the policy, runtime rules and counters
 *   reload          rebuild the policy from its files
 *   pending         the questions open (approvals.h), one a line
 *   approve ID      allow what question ID asks, for this run
 *   approve ID always   ... and for later runs
 *   deny ID         refuse it (and the same question, for this run)
 *
 * A reply is "ok", optionally followed by a newline and detail, or
 * "error: what went wrong".  The socket file is created mode 0600, and a peer
 * whose uid (SO_PEERCRED) is neither the gateway's nor root's gets "error:
 * permission denied" before anything is read.  Requests longer than
 * CONTROL_MSG_MAX, holding NUL or control bytes, or naming no known command
 * get an error reply; the connection stays usable.
 *
 * The service only speaks the protocol; what a command does is up to the
 * handler the gateway gives it.
 */
#ifndef AIRLOCK_GATEWAY_CONTROL_H
#define AIRLOCK_GATEWAY_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include "net/loop.h"
#include "policy/rule.h"
#include "util/diag.h"

#define CONTROL_MSG_MAX   4096
#define CONTROL_REPLY_MAX 65536
#define CONTROL_CLIENTS   16 /* connections at once; more are closed */

enum control_cmd {
	CONTROL_ALLOW,
	CONTROL_BLOCK,
	CONTROL_UNALLOW,
	CONTROL_RESET,
	CONTROL_STATUS,
	CONTROL_RELOAD,
	CONTROL_PENDING,
	CONTROL_APPROVE,
	CONTROL_DENY,
};

struct control_request {
	enum control_cmd cmd;
	size_t arg_len;
	char arg[RULE_INPUT_MAX + 1]; /* the RULE, NUL-terminated; "" for the others */
	unsigned id;                  /* approve, deny: the question */
	bool always;                  /* approve ID always */
};

/* Parse one request.  -EINVAL with `d` saying what is wrong. */
int control_parse(const char *msg, size_t len, struct control_request *ret, struct diag *d);

/* Carry out a request: write the detail of an "ok" reply (may be empty) into
 * `out`, or return a negative errno with the error's sentence in `d`. */
typedef int control_handler(void *ctx, const struct control_request *req, char *out, size_t size,
                            struct diag *d);

/* Create the listening socket at `path` (mode 0600).  A socket file nobody
 * answers on (left by a gateway that died) is replaced; one a live gateway
 * answers on is an error. */
int control_listen(const char *path, int *ret_fd, struct diag *d);

struct control_service;

/* Let one more user reach the socket at `path`: its group becomes `gid` and
 * its mode 0660 (the service must also allow that user's uid, below). */
int control_share(const char *path, gid_t gid, struct diag *d);

/* Serve on `listen_fd` (takes ownership, also on failure). */
int control_service_new(struct loop *loop, int listen_fd, control_handler *handler, void *ctx,
                        struct control_service **ret);
void control_service_free(struct control_service *s);

/* Accept requests from `uid` too (besides the gateway's own and root). */
void control_service_allow(struct control_service *s, uid_t uid);
DEFINE_POINTER_CLEANUP(struct control_service, control_service_free)

/* The client side, blocking: send `request` to the socket at `path` and read
 * the reply into `reply`.  Returns 0 when the reply is "ok..." (reply holds
 * the detail), -EREMOTEIO when it is "error: ..." (reply holds the message),
 * or another negative errno with `d` saying why the gateway could not be
 * asked. */
int control_ask(const char *path, const char *request, char *reply, size_t size, struct diag *d);

#endif
