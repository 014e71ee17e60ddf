/* proxy_request.h - the bytes the proxy writes for a request: an
 * absolute-form request rewritten for the origin, and the body of a 403 that
 * says what refused a target and how to allow it.  Pure: no I/O, no globals.
 */
#ifndef AIRLOCK_GATEWAY_PROXY_REQUEST_H
#define AIRLOCK_GATEWAY_PROXY_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "policy/rule.h"
#include "proxy/http_head.h"

/* The absolute-form request whose head `h` was parsed from b[0, have) (the
 * head, then the body bytes read with it), rewritten for the origin as
 * proxy_service.h describes: origin-form request line, hop-by-hop headers
 * dropped, Host set to the canonical target, "Connection: close", then the
 * body bytes that belong to this request.  One allocation in *ret (the
 * caller frees it) of *ret_len bytes; *ret_limit is how much more of the
 * body the relay may read from the client (RELAY_NO_LIMIT for chunked).
 * 0, -ENOMEM, or -ENOBUFS (cannot happen: the size counts every piece). */
int proxy_request_build(const struct http_head *h, const uint8_t *b, size_t have, uint8_t **ret,
                        size_t *ret_len, uint64_t *ret_limit);

/* What a 403's body is made of. */
struct proxy_refusal {
	const struct target *target; /* name or address, and port */
	const char *prefix;          /* before the target: "CONNECT to ", or NULL */
	const struct decision *decision;
	const char *rule;     /* the deciding rule's text (DECIDED_BY_RULE) */
	const char *origin;   /* where that rule comes from */
	bool addr_needs_cidr; /* an address the policy's default allowed: only a CIDR rule may */
};

/* "airlock: TARGET is blocked.\nRefused by: ...\nTo allow it: ...\n" into
 * body (always NUL-terminated, cut to fit). */
void proxy_refusal_body(const struct proxy_refusal *r, char *body, size_t size);

#endif
