/* client.h - a Docker Engine API client over the daemon's unix socket.
 *
 * HTTP is libcurl's (CURLOPT_UNIX_SOCKET_PATH), JSON is json-c's: no HTTP is
 * written by hand here.  One struct docker is one daemon; requests are
 * blocking and one at a time (the CLI's needs).
 *
 * Which daemon: the `host` given, else $DOCKER_HOST, else
 * unix:///var/run/docker.sock.  Only unix:// is supported: a tcp:// daemon
 * would need TLS client certificates we do not manage.
 *
 * Opening checks, in this order, and says which failed and what to do:
 *   - the socket exists and accepts a connection (absent: -ENOENT or
 *     -ECONNREFUSED; not allowed: -EACCES "run as root or join the docker
 *     group");
 *   - GET /version answers and the daemon speaks API DOCKER_API_MIN or newer
 *     (older: -EPROTONOSUPPORT).  Requests then use the highest version both
 *     sides speak, at most DOCKER_API_MAX, as /vX.Y/... paths.
 *
 * Responses: a 2xx status is success; otherwise the daemon's {"message":...}
 * goes into the diag and the status becomes an errno: 304 -EALREADY (already
 * started/stopped), 400 -EINVAL, 401/403 -EPERM, 404 -ENOENT, 409 -EEXIST
 * (conflict: a name in use, a network with endpoints), 5xx -EIO.  A body
 * over DOCKER_BODY_MAX is refused (-EFBIG): the daemon is trusted, but a
 * cap costs nothing.  Proxy variables are ignored (the socket is local).
 * Every descriptor the library opens is close-on-exec.
 */
#ifndef AIRLOCK_DOCKER_CLIENT_H
#define AIRLOCK_DOCKER_CLIENT_H

#include <json-c/json.h>
#include <stddef.h>

#include "util/diag.h"
#include "util/macros.h"

#define DOCKER_DEFAULT_HOST "unix:///var/run/docker.sock"
#define DOCKER_API_MIN      41 /* 1.41: Docker 20.10, Debian 12's docker.io */
#define DOCKER_API_MAX      45 /* the newest version whose semantics we rely on */
#define DOCKER_BODY_MAX     (64u * 1024 * 1024)
#define DOCKER_PATH_MAX     1024 /* a request's path and query */

struct docker;

/* Connect to the daemon and agree on an API version (see above). */
int docker_open(const char *host, struct docker **ret, struct diag *d);
void docker_close(struct docker *dk);
DEFINE_POINTER_CLEANUP(struct docker, docker_close)

/* The socket's path ("/var/run/docker.sock") and the agreed API version as
 * "1.41". */
const char *docker_socket_path(const struct docker *dk);
const char *docker_api_version(const struct docker *dk);
int docker_api_minor(const struct docker *dk); /* 41 for "1.41" */

struct docker_response {
	long status;
	char *body; /* NUL-terminated; owned */
	size_t len;
};
void docker_response_done(struct docker_response *r);

/* One request: METHOD /vX.Y`path` (path begins with '/', holds the query
 * already escaped) with `body` of `len` bytes (none when NULL) sent as
 * `content_type`.  Waits at most `timeout_s` seconds.  Returns 0 with any
 * status the daemon sent (the caller judges it), or a negative errno when the
 * exchange itself failed. */
int docker_request(struct docker *dk, const char *method, const char *path,
                   const char *content_type, const void *body, size_t len, unsigned timeout_s,
                   struct docker_response *ret, struct diag *d);

/* A JSON call: `body` (may be NULL) is serialised, the status judged as
 * above, and a non-empty response parsed into *ret (may be NULL to ignore;
 * *ret is NULL for an empty body).  The request is timed out after 60 s. */
int docker_call(struct docker *dk, const char *method, const char *path, struct json_object *body,
                struct json_object **ret, struct diag *d);

/* A stream (GET /events): `fn` is called with each line of the body as it
 * arrives (NUL-terminated, without its newline; lines over DOCKER_LINE_MAX
 * are skipped), until the daemon ends the stream, `timeout_s` seconds have
 * passed (0: no limit; both return 0), or `fn` returns non-zero, which is
 * then returned. */
#define DOCKER_LINE_MAX 65536
typedef int docker_line_fn(const char *line, size_t len, void *ctx);
int docker_stream(struct docker *dk, const char *path, unsigned timeout_s, docker_line_fn *fn,
                  void *ctx, struct diag *d);

/* The errno for an HTTP status (0 for 2xx), and the daemon's message from an
 * error body into `d` ("Docker: METHOD PATH: message (HTTP 409)"). */
int docker_status_error(const char *method, const char *path, const struct docker_response *r,
                        struct diag *d);

/* Percent-encode `text` for a query string into `out`; -ENOSPC if it does
 * not fit. */
int docker_escape(const char *text, char *out, size_t size);

/* Small helpers on parsed responses: the string or integer at a path of
 * object keys (NULL-terminated), or NULL / `def`. */
const char *docker_json_str(struct json_object *o, ...) __attribute__((sentinel));
long long docker_json_int(struct json_object *o, long long def, ...) __attribute__((sentinel));
struct json_object *docker_json_get(struct json_object *o, ...) __attribute__((sentinel));

#endif
