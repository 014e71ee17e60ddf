/* client.c - the Docker Engine API over a unix socket, with libcurl (loaded on
 * first use: curl_lib.h) and json-c. */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "docker/client.h"
#include "docker/curl_lib.h"

/* libcurl's functions, loaded by docker_open() (curl_lib.h). */
static const struct curl_lib *lib;

struct docker {
	CURL *curl;
	int minor;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char version[16]; /* "1.41" */
};

const char *docker_socket_path(const struct docker *dk)
{
	return dk->socket_path;
}

const char *docker_api_version(const struct docker *dk)
{
	return dk->version;
}

int docker_api_minor(const struct docker *dk)
{
	return dk->minor;
}

void docker_response_done(struct docker_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

/* libcurl opens its sockets without close-on-exec; a workload started by
 * `airlock docker run` must not inherit the daemon's socket. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)ctx;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

struct sink {
	char *buf;
	size_t len, cap;
	int err;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t add = size * n;

	if (add > DOCKER_BODY_MAX - s->len) {
		s->err = -EFBIG;
		return 0; /* aborts the transfer */
	}
	if (s->len + add + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + add + 1)
			cap *= 2;
		char *b = realloc(s->buf, cap);
		if (!b) {
			s->err = -ENOMEM;
			return 0;
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, add);
	s->len += add;
	s->buf[s->len] = '\0';
	return add;
}

static int curl_error(CURLcode c, const char *method, const char *path, const struct docker *dk,
                      struct diag *d)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		return diag_fail(d, -ETIMEDOUT, "Docker: %s %s: no answer from %s in time", method,
		                 path, dk->socket_path);
	case CURLE_COULDNT_CONNECT:
		return diag_fail(d, -ECONNREFUSED,
		                 "Docker: cannot connect to %s: is dockerd running? Start it, or "
		                 "point DOCKER_HOST at its socket",
		                 dk->socket_path);
	case CURLE_OUT_OF_MEMORY:
		return diag_fail(d, -ENOMEM, "Docker: out of memory");
	default:
		return diag_fail(d, -EIO, "Docker: %s %s: %s", method, path, lib->easy_strerror(c));
	}
}

static int request(struct docker *dk, const char *method, const char *url_path,
                   const char *content_type, const void *body, size_t len, unsigned timeout_s,
                   struct docker_response *ret, struct diag *d)
{
	char url[DOCKER_PATH_MAX + 32];
	struct sink sink = {0};
	struct curl_slist *headers = NULL;
	CURL *c = dk->curl;

	if (snprintf(url, sizeof(url), "http://docker%s", url_path) >= (int)sizeof(url))
		return diag_fail(d, -ENAMETOOLONG, "Docker: request path too long: %.64s...",
		                 url_path);
	lib->easy_reset(c);
	lib->easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, dk->socket_path);
	lib->easy_setopt(c, CURLOPT_URL, url);
	lib->easy_setopt(c, CURLOPT_PROXY, ""); /* never a proxy from the environment */
	lib->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	lib->easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	lib->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	lib->easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	lib->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	lib->easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	lib->easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	/* No "Expect: 100-continue" round trip before a large image upload. */
	headers = lib->slist_append(headers, "Expect:");
	if (body) {
		char ct[128];
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		struct curl_slist *h = lib->slist_append(headers, ct);
		if (h)
			headers = h;
		lib->easy_setopt(c, CURLOPT_POSTFIELDS, body);
		lib->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "POST") == 0) {
		lib->easy_setopt(c, CURLOPT_POSTFIELDS, "");
		lib->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	lib->easy_setopt(c, CURLOPT_HTTPHEADER, headers);

	CURLcode cr = lib->easy_perform(c);
	lib->slist_free_all(headers);
	if (sink.err) {
		free(sink.buf);
		if (sink.err == -EFBIG)
			return diag_fail(d, -EFBIG, "Docker: %s %s: answer over %u bytes", method,
			                 url_path, DOCKER_BODY_MAX);
		return diag_fail(d, sink.err, "Docker: out of memory");
	}
	if (cr != CURLE_OK) {
		free(sink.buf);
		return curl_error(cr, method, url_path, dk, d);
	}
	long status = 0;
	lib->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (!sink.buf) {
		sink.buf = strdup("");
		if (!sink.buf)
			return diag_fail(d, -ENOMEM, "Docker: out of memory");
	}
	*ret = (struct docker_response){status, sink.buf, sink.len};
	return 0;
}

int docker_request(struct docker *dk, const char *method, const char *path,
                   const char *content_type, const void *body, size_t len, unsigned timeout_s,
                   struct docker_response *ret, struct diag *d)
{
	char vpath[DOCKER_PATH_MAX];

	if (snprintf(vpath, sizeof(vpath), "/v%s%s", dk->version, path) >= (int)sizeof(vpath))
		return diag_fail(d, -ENAMETOOLONG, "Docker: request path too long: %.64s...", path);
	return request(dk, method, vpath, content_type, body, len, timeout_s, ret, d);
}

/* ---- streams ---- */

struct stream {
	char line[DOCKER_LINE_MAX];
	size_t len;
	bool overlong; /* the current line did not fit: skipped to its end */
	docker_line_fn *fn;
	void *ctx;
	int stopped; /* what fn returned, when it stopped the stream */
};

static size_t on_stream(char *data, size_t size, size_t n, void *ctx)
{
	struct stream *s = ctx;
	size_t total = size * n;

	for (size_t i = 0; i < total; i++) {
		char c = data[i];
		if (c != '\n') {
			if (s->len + 1 < sizeof(s->line))
				s->line[s->len++] = c;
			else
				s->overlong = true;
			continue;
		}
		s->line[s->len] = '\0';
		int r = s->len && !s->overlong ? s->fn(s->line, s->len, s->ctx) : 0;
		s->len = 0;
		s->overlong = false;
		if (r != 0) {
			s->stopped = r;
			return 0; /* aborts the transfer */
		}
	}
	return total;
}

int docker_stream(struct docker *dk, const char *path, unsigned timeout_s, docker_line_fn *fn,
                  void *ctx, struct diag *d)
{
	char url[DOCKER_PATH_MAX + 64];
	struct stream *s = calloc(1, sizeof(*s));
	CURL *c = dk->curl;

	if (!s)
		return diag_fail(d, -ENOMEM, "Docker: out of memory");
	s->fn = fn;
	s->ctx = ctx;
	if (snprintf(url, sizeof(url), "http://docker/v%s%s", dk->version, path) >=
	    (int)sizeof(url)) {
		free(s);
		return diag_fail(d, -ENAMETOOLONG, "Docker: request path too long: %.64s...", path);
	}
	lib->easy_reset(c);
	lib->easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, dk->socket_path);
	lib->easy_setopt(c, CURLOPT_URL, url);
	lib->easy_setopt(c, CURLOPT_PROXY, "");
	lib->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	lib->easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	lib->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	lib->easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	lib->easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	lib->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
	lib->easy_setopt(c, CURLOPT_WRITEDATA, s);

	CURLcode cr = lib->easy_perform(c);
	int stopped = s->stopped;
	free(s);
	if (stopped)
		return stopped;
	if (cr == CURLE_OK || cr == CURLE_OPERATION_TIMEDOUT)
		return 0;
	if (cr == CURLE_HTTP_RETURNED_ERROR) {
		long status = 0;
		lib->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		return diag_fail(d, -EIO, "Docker: GET %s: HTTP %ld", path, status);
	}
	return curl_error(cr, "GET", path, dk, d);
}

int docker_status_error(const char *method, const char *path, const struct docker_response *r,
                        struct diag *d)
{
	int err;

	if (r->status >= 200 && r->status < 300)
		return 0;
	switch (r->status) {
	case 304:
		err = -EALREADY;
		break;
	case 400:
		err = -EINVAL;
		break;
	case 401:
	case 403:
		err = -EPERM;
		break;
	case 404:
		err = -ENOENT;
		break;
	case 409:
		err = -EEXIST;
		break;
	default:
		err = -EIO;
		break;
	}
	/* The daemon's explanation, when its body is {"message": "..."}. */
	const char *msg = NULL;
	struct json_object *o = r->len ? json_tokener_parse(r->body) : NULL;
	if (o)
		msg = docker_json_str(o, "message", NULL);
	char esc[DIAG_ESCAPE_SIZE * 2];
	if (msg)
		diag_escape(msg, strlen(msg), esc, sizeof(esc));
	else
		snprintf(esc, sizeof(esc), "%s", r->status == 304 ? "no change" : "no message");
	diag_fail(d, err, "Docker: %s %s: %s (HTTP %ld)", method, path, esc, r->status);
	json_object_put(o);
	return err;
}

int docker_call(struct docker *dk, const char *method, const char *path, struct json_object *body,
                struct json_object **ret, struct diag *d)
{
	struct docker_response r = {0};
	const char *text = NULL;
	size_t len = 0;

	if (ret)
		*ret = NULL;
	if (body)
		text = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN, &len);
	int e = docker_request(dk, method, path, "application/json", text, len, 60, &r, d);
	if (e < 0)
		return e;
	e = docker_status_error(method, path, &r, d);
	if (e == 0 && ret && r.len) {
		struct json_tokener *tok = json_tokener_new_ex(64);
		if (!tok) {
			docker_response_done(&r);
			return diag_fail(d, -ENOMEM, "Docker: out of memory");
		}
		*ret = json_tokener_parse_ex(tok, r.body, (int)r.len);
		enum json_tokener_error je = json_tokener_get_error(tok);
		json_tokener_free(tok);
		if (!*ret || je != json_tokener_success) {
			json_object_put(*ret);
			*ret = NULL;
			e = diag_fail(d, -EBADMSG, "Docker: %s %s: the answer is not JSON", method,
			              path);
		}
	}
	docker_response_done(&r);
	return e;
}

int docker_escape(const char *text, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		             (*p >= '0' && *p <= '9') || strchr("-._~", *p);
		if (o + (plain ? 1 : 3) >= size)
			return -ENOSPC;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (o >= size)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

static struct json_object *vget(struct json_object *o, va_list ap)
{
	const char *key;
	while (o && (key = va_arg(ap, const char *)))
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, key, &o))
			o = NULL;
	return o;
}

struct json_object *docker_json_get(struct json_object *o, ...)
{
	va_list ap;
	va_start(ap, o);
	o = vget(o, ap);
	va_end(ap);
	return o;
}

const char *docker_json_str(struct json_object *o, ...)
{
	va_list ap;
	va_start(ap, o);
	o = vget(o, ap);
	va_end(ap);
	return json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

long long docker_json_int(struct json_object *o, long long def, ...)
{
	va_list ap;
	va_start(ap, def);
	o = vget(o, ap);
	va_end(ap);
	return json_object_is_type(o, json_type_int) ? (long long)json_object_get_int64(o) : def;
}

/* "unix:///run/docker.sock" -> "/run/docker.sock". */
static int socket_path_of(const char *host, char *out, size_t size, struct diag *d)
{
	const char *prefix = "unix://";

	if (strncmp(host, prefix, strlen(prefix)) != 0) {
		char esc[DIAG_ESCAPE_SIZE];
		return diag_fail(d, -EPROTONOSUPPORT,
		                 "DOCKER_HOST '%s': only unix:// sockets are supported "
		                 "(e.g. unix:///var/run/docker.sock)",
		                 diag_escape(host, strlen(host), esc, sizeof(esc)));
	}
	const char *path = host + strlen(prefix);
	if (path[0] != '/' || strlen(path) >= size) {
		char esc[DIAG_ESCAPE_SIZE];
		return diag_fail(d, -EINVAL, "DOCKER_HOST '%s': expected unix:///absolute/path",
		                 diag_escape(host, strlen(host), esc, sizeof(esc)));
	}
	memcpy(out, path, strlen(path) + 1);
	return 0;
}

/* Our own connect() first: libcurl reports every failure to connect the
 * same way, and the person needs to know which one it was. */
static int probe_socket(const char *path, struct diag *d)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return diag_fail(d, -errno, "cannot create a socket: %s", strerror(errno));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return 0;
	int e = errno;
	switch (e) {
	case ENOENT:
		return diag_fail(d, -ENOENT,
		                 "no Docker daemon: %s does not exist; start dockerd, or point "
		                 "DOCKER_HOST at its socket",
		                 path);
	case ECONNREFUSED:
		return diag_fail(d, -ECONNREFUSED,
		                 "no Docker daemon answers on %s (dockerd is not running?); start "
		                 "it, or point DOCKER_HOST at its socket",
		                 path);
	case EACCES:
	case EPERM:
		return diag_fail(d, -EACCES,
		                 "permission denied on %s: run as root, or as a member of the "
		                 "group that owns the socket (usually 'docker')",
		                 path);
	default:
		return diag_fail(d, -e, "cannot connect to the Docker daemon at %s: %s", path,
		                 strerror(e));
	}
}

/* "1.41" -> 41; anything but "1.N" is -1. */
static int minor_of(const char *v)
{
	char *end;
	if (!v || strncmp(v, "1.", 2) != 0)
		return -1;
	errno = 0;
	long m = strtol(v + 2, &end, 10);
	if (errno || end == v + 2 || *end || m < 0 || m > 999)
		return -1;
	return (int)m;
}

static int negotiate(struct docker *dk, struct diag *d)
{
	struct docker_response r = {0};
	int e = request(dk, "GET", "/version", NULL, NULL, 0, 30, &r, d);
	if (e < 0)
		return e;
	e = docker_status_error("GET", "/version", &r, d);
	struct json_object *o = e == 0 ? json_tokener_parse(r.body) : NULL;
	docker_response_done(&r);
	if (e < 0)
		return e;
	const char *server = docker_json_str(o, "ApiVersion", NULL);
	int have = minor_of(server), lowest = minor_of(docker_json_str(o, "MinAPIVersion", NULL));
	if (have < 0) {
		json_object_put(o);
		return diag_fail(d, -EBADMSG,
		                 "the daemon on %s does not say which API it speaks: is it Docker?",
		                 dk->socket_path);
	}
	json_object_put(o);
	if (have < DOCKER_API_MIN)
		return diag_fail(d, -EPROTONOSUPPORT,
		                 "the Docker daemon on %s speaks API 1.%d; airlock needs 1.%d "
		                 "(Docker 20.10) or newer: upgrade Docker",
		                 dk->socket_path, have, DOCKER_API_MIN);
	int use = have < DOCKER_API_MAX ? have : DOCKER_API_MAX;
	if (lowest > use)
		use = lowest; /* a daemon that dropped our versions: speak its oldest */
	dk->minor = use;
	snprintf(dk->version, sizeof(dk->version), "1.%d", use);
	return 0;
}

void docker_close(struct docker *dk)
{
	if (!dk)
		return;
	if (dk->curl)
		lib->easy_cleanup(dk->curl);
	free(dk);
	lib->global_cleanup();
}

int docker_open(const char *host, struct docker **ret, struct diag *d)
{
	if (!host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host)
		host = DOCKER_DEFAULT_HOST;

	if (!lib && !(lib = curl_lib_get(d)))
		return -ENOENT;
	if (lib->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return diag_fail(d, -ENOMEM, "cannot initialise libcurl");
	_cleanup_(docker_closep) struct docker *dk = calloc(1, sizeof(*dk));
	if (!dk) {
		lib->global_cleanup();
		return diag_fail(d, -ENOMEM, "out of memory");
	}
	int e = socket_path_of(host, dk->socket_path, sizeof(dk->socket_path), d);
	if (e < 0)
		return e;
	e = probe_socket(dk->socket_path, d);
	if (e < 0)
		return e;
	dk->curl = lib->easy_init();
	if (!dk->curl)
		return diag_fail(d, -ENOMEM, "cannot initialise libcurl");
	e = negotiate(dk, d);
	if (e < 0)
		return e;
	*ret = TAKE_PTR(dk);
	return 0;
}
