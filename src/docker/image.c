/* image.c - the gateway image from this binary and its shared objects. */
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "docker/image.h"
#include "util/file.h"

#define FILE_MAX      (256u * 1024 * 1024) /* one binary or library */
#define MAX_OBJECTS   128                  /* shared objects loaded */
#define MAX_ENTRIES   1024                 /* paths in the image */
#define SYMLINK_DEPTH 16

struct builder {
	struct tar *t;
	char *seen[MAX_ENTRIES];
	size_t n_seen;
	struct diag *d;
};

static void builder_done(struct builder *b)
{
	for (size_t i = 0; i < b->n_seen; i++)
		free(b->seen[i]);
}

/* Record `path` as added; 1 if it was already there. */
static int seen(struct builder *b, const char *path)
{
	for (size_t i = 0; i < b->n_seen; i++)
		if (strcmp(b->seen[i], path) == 0)
			return 1;
	if (b->n_seen == MAX_ENTRIES)
		return diag_fail(b->d, -E2BIG, "the gateway image would hold over %d paths",
		                 MAX_ENTRIES);
	b->seen[b->n_seen] = strdup(path);
	if (!b->seen[b->n_seen])
		return diag_fail(b->d, -ENOMEM, "out of memory");
	b->n_seen++;
	return 0;
}

static int tar_fail(struct builder *b, int e, const char *path)
{
	return diag_fail(b->d, e, "cannot add %s to the gateway image: %s", path, strerror(-e));
}

static int add_dir(struct builder *b, const char *path, mode_t mode, uid_t uid)
{
	int s = seen(b, path);
	if (s != 0)
		return s < 0 ? s : 0;
	int e = tar_add_dir(b->t, path, mode, uid, uid);
	return e < 0 ? tar_fail(b, e, path) : 0;
}

static int add_text(struct builder *b, const char *path, const char *text)
{
	int s = seen(b, path);
	if (s != 0)
		return s < 0 ? s : 0;
	int e = tar_add_file(b->t, path, 0644, 0, 0, text, strlen(text));
	return e < 0 ? tar_fail(b, e, path) : 0;
}

/* Lexically resolve "." and ".." in an absolute path (its directories are
 * already free of symlinks, so ".." is the parent). */
static int normalize(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (const char *p = in; *p;) {
		while (*p == '/')
			p++;
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (o + 1 + n >= size)
				return -ENAMETOOLONG;
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* Add the host's `path` as the loader will look for it: every directory on
 * the way, every symlink as a symlink (then what it points to), and the
 * file itself. */
static int add_host_path(struct builder *b, const char *path, int depth)
{
	char norm[PATH_MAX], cur[PATH_MAX] = "";
	size_t clen = 0;

	if (depth > SYMLINK_DEPTH)
		return diag_fail(b->d, -ELOOP, "%s: too many levels of symbolic links", path);
	if (normalize(path, norm, sizeof(norm)) < 0)
		return diag_fail(b->d, -ENAMETOOLONG, "path too long: %.64s...", path);
	for (const char *p = norm + 1; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		const char *rest = p + n; /* "" or "/more" */
		if (clen + 1 + n >= sizeof(cur))
			return diag_fail(b->d, -ENAMETOOLONG, "path too long: %.64s...", path);
		cur[clen++] = '/';
		memcpy(cur + clen, p, n);
		clen += n;
		cur[clen] = '\0';

		struct stat st;
		if (lstat(cur, &st) < 0)
			return diag_fail(b->d, -errno, "cannot add %s to the gateway image: %s",
			                 cur, strerror(errno));
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX], next[PATH_MAX * 2];
			ssize_t tl = readlink(cur, target, sizeof(target) - 1);
			if (tl <= 0)
				return diag_fail(b->d, -errno, "cannot read the link %s: %s", cur,
				                 strerror(errno));
			target[tl] = '\0';
			int s = seen(b, cur);
			if (s < 0)
				return s;
			if (s == 0) {
				int e = tar_add_symlink(b->t, cur, target);
				if (e < 0)
					return tar_fail(b, e, cur);
			}
			/* Where the link leads, relative to its directory. */
			cur[clen - n - 1] = '\0';
			int w = target[0] == '/'
			                ? snprintf(next, sizeof(next), "%s%s", target, rest)
			                : snprintf(next, sizeof(next), "%s/%s%s", cur, target,
			                           rest);
			if (w < 0 || (size_t)w >= sizeof(next))
				return diag_fail(b->d, -ENAMETOOLONG, "path too long: %.64s...",
				                 path);
			return add_host_path(b, next, depth + 1);
		}
		if (S_ISDIR(st.st_mode)) {
			int e = add_dir(b, cur, st.st_mode & 0755, 0);
			if (e < 0)
				return e;
		} else if (S_ISREG(st.st_mode) && !*rest) {
			int s = seen(b, cur);
			if (s != 0)
				return s < 0 ? s : 0;
			_cleanup_free_ char *data = NULL;
			size_t len;
			int e = file_read_all(cur, FILE_MAX, &data, &len, b->d);
			if (e < 0)
				return e;
			e = tar_add_file(b->t, cur, st.st_mode & 0755, 0, 0, data, len);
			return e < 0 ? tar_fail(b, e, cur) : 0;
		} else {
			return diag_fail(b->d, -EINVAL,
			                 "cannot add %s to the gateway image: not a file, "
			                 "directory or link",
			                 cur);
		}
		p = *rest ? rest + 1 : rest;
	}
	return 0;
}

struct objects {
	size_t n;
	char *path[MAX_OBJECTS];
	bool overflow;
};

static int collect(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct objects *o = ctx;
	(void)size;
	/* The program itself has an empty name, the vDSO a bare one. */
	if (!info->dlpi_name || info->dlpi_name[0] != '/')
		return 0;
	if (o->n == MAX_OBJECTS) {
		o->overflow = true;
		return 1;
	}
	o->path[o->n] = strdup(info->dlpi_name);
	if (o->path[o->n])
		o->n++;
	return 0;
}

static const char passwd[] = "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                             "airlock:x:65532:65532:airlock gateway:/nonexistent:"
                             "/usr/sbin/nologin\n";
static const char group[] = "root:x:0:\nairlock:x:65532:\n";

static int build(struct builder *b)
{
	struct objects objs = {0};
	int e = 0;

	dl_iterate_phdr(collect, &objs);
	if (objs.overflow)
		e = diag_fail(b->d, -E2BIG, "over %d shared objects loaded", MAX_OBJECTS);
	for (size_t i = 0; e == 0 && i < objs.n; i++)
		e = add_host_path(b, objs.path[i], 0);
	for (size_t i = 0; i < objs.n; i++)
		free(objs.path[i]);
	if (e < 0)
		return e;

	_cleanup_free_ char *exe = NULL;
	size_t exe_len;
	if ((e = file_read_all("/proc/self/exe", FILE_MAX, &exe, &exe_len, b->d)) < 0)
		return e;
	if ((e = add_dir(b, "/usr", 0755, 0)) < 0 || (e = add_dir(b, "/usr/bin", 0755, 0)) < 0 ||
	    (e = add_dir(b, "/etc", 0755, 0)) < 0 ||
	    (e = add_dir(b, "/etc/airlock", 0755, 0)) < 0 ||
	    (e = add_dir(b, "/etc/airlock/rules", 0755, 0)) < 0 ||
	    (e = add_dir(b, "/run", 0755, 0)) < 0 ||
	    (e = add_dir(b, "/run/airlock", 0700, GATEWAY_UID)) < 0 ||
	    (e = add_dir(b, "/tmp", 01777, 0)) < 0 ||
	    (e = add_text(b, "/etc/passwd", passwd)) < 0 ||
	    (e = add_text(b, "/etc/group", group)) < 0)
		return e;
	if ((e = seen(b, "/usr/bin/airlock")) != 0)
		return e < 0 ? e : diag_fail(b->d, -EEXIST, "/usr/bin/airlock added twice");
	e = tar_add_file(b->t, "/usr/bin/airlock", 0755, 0, 0, exe, exe_len);
	if (e < 0)
		return tar_fail(b, e, "/usr/bin/airlock");
	e = tar_finish(b->t);
	return e < 0 ? tar_fail(b, e, "the end of the archive") : 0;
}

int gateway_rootfs(struct tar *ret, char fingerprint[17], struct diag *d)
{
	struct builder b = {.t = ret, .d = d};

	tar_init(ret);
	int e = build(&b);
	builder_done(&b);
	if (e < 0) {
		tar_done(ret);
		return e;
	}
	tar_fingerprint(ret->buf, ret->len, fingerprint);
	return 0;
}

const char *gateway_image_default(void)
{
	return GATEWAY_IMAGE_REPO ":" AIRLOCK_VERSION;
}

/* The fingerprint label of image `ref`: 0 (label copied, "" if none),
 * -ENOENT when there is no such image. */
static int image_label(struct docker *dk, const char *ref, char out[17], struct diag *d)
{
	char path[DOCKER_PATH_MAX], esc[512];
	struct json_object *o = NULL;

	if (docker_escape(ref, esc, sizeof(esc)) < 0)
		return diag_fail(d, -ENAMETOOLONG, "image name too long");
	snprintf(path, sizeof(path), "/images/%s/json", esc);
	int e = docker_call(dk, "GET", path, NULL, &o, d);
	if (e < 0)
		return e;
	const char *l = docker_json_str(o, "Config", "Labels", GATEWAY_IMAGE_LABEL, NULL);
	snprintf(out, 17, "%s", l ? l : "");
	json_object_put(o);
	return 0;
}

int gateway_image_exists(struct docker *dk, const char *ref, struct diag *d)
{
	char label[17];
	int e = image_label(dk, ref, label, d);
	return e == -ENOENT ? 0 : e < 0 ? e : 1;
}

int gateway_image_state(struct docker *dk, const char *ref, enum gateway_image_state *ret,
                        struct diag *d)
{
	struct tar t;
	char fp[17], have[17] = "";

	int e = image_label(dk, ref, have, d);
	if (e == -ENOENT) {
		*ret = GATEWAY_IMAGE_MISSING;
		return 0;
	}
	if (e < 0)
		return e;
	if ((e = gateway_rootfs(&t, fp, d)) < 0)
		return e;
	tar_done(&t);
	*ret = strcmp(have, fp) == 0 ? GATEWAY_IMAGE_CURRENT : GATEWAY_IMAGE_STALE;
	return 0;
}

/* The import answers 200 and then reports progress and errors as a stream
 * of JSON objects; an error is one with "error" or "errorDetail". */
static int import_error(const char *body, struct diag *d)
{
	const char *p = strstr(body, "\"error\"");
	if (!p)
		p = strstr(body, "\"errorDetail\"");
	if (!p)
		return 0;
	char esc[DIAG_ESCAPE_SIZE];
	return diag_fail(d, -EIO, "Docker refused the gateway image: %s",
	                 diag_escape(p, strlen(p), esc, sizeof(esc)));
}

static int import(struct docker *dk, const char *ref, const struct tar *t, const char *fp,
                  struct diag *d)
{
	char repo[256], c_user[64], c_entry[128], c_label[128], path[DOCKER_PATH_MAX];
	const char *colon = strrchr(ref, ':');
	const char *tag = colon && !strchr(colon, '/') ? colon + 1 : "latest";
	size_t rlen = colon && !strchr(colon, '/') ? (size_t)(colon - ref) : strlen(ref);
	char line[128];

	if (rlen == 0 || rlen >= sizeof(repo) / 3)
		return diag_fail(d, -EINVAL, "image name '%.64s': expected REPOSITORY[:TAG]", ref);
	char plain[256];
	memcpy(plain, ref, rlen);
	plain[rlen] = '\0';
	if (docker_escape(plain, repo, sizeof(repo)) < 0)
		return diag_fail(d, -ENAMETOOLONG, "image name too long");
	snprintf(line, sizeof(line), "USER %d:%d", GATEWAY_UID, GATEWAY_UID);
	docker_escape(line, c_user, sizeof(c_user));
	docker_escape("ENTRYPOINT [\"/usr/bin/airlock\"]", c_entry, sizeof(c_entry));
	snprintf(line, sizeof(line), "LABEL %s=%s", GATEWAY_IMAGE_LABEL, fp);
	docker_escape(line, c_label, sizeof(c_label));
	char etag[128];
	if (docker_escape(tag, etag, sizeof(etag)) < 0)
		return diag_fail(d, -ENAMETOOLONG, "image tag too long");
	if (snprintf(path, sizeof(path),
	             "/images/create?fromSrc=-&repo=%s&tag=%s&changes=%s&changes=%s&changes=%s",
	             repo, etag, c_user, c_entry, c_label) >= (int)sizeof(path))
		return diag_fail(d, -ENAMETOOLONG, "image name too long");

	struct docker_response r = {0};
	int e = docker_request(dk, "POST", path, "application/x-tar", t->buf, t->len, 600, &r, d);
	if (e < 0)
		return e;
	e = docker_status_error("POST", "/images/create", &r, d);
	if (e == 0)
		e = import_error(r.body, d);
	docker_response_done(&r);
	return e;
}

int gateway_image_ensure(struct docker *dk, const char *ref, bool force, bool *ret_built,
                         struct diag *d)
{
	struct tar t;
	char fp[17], have[17] = "";

	if (ret_built)
		*ret_built = false;
	int e = gateway_rootfs(&t, fp, d);
	if (e < 0)
		return e;
	if (!force) {
		e = image_label(dk, ref, have, d);
		if (e < 0 && e != -ENOENT)
			goto out;
		if (e == 0 && strcmp(have, fp) == 0)
			goto out;
	}
	e = import(dk, ref, &t, fp, d);
	if (e < 0)
		goto out;
	/* The label is what later runs trust: check the daemon kept it. */
	e = image_label(dk, ref, have, d);
	if (e == 0 && strcmp(have, fp) != 0)
		e = diag_fail(d, -EIO,
		              "the imported image %s lacks its %s label: this Docker ignores "
		              "import changes",
		              ref, GATEWAY_IMAGE_LABEL);
	if (e == 0 && ret_built)
		*ret_built = true;
out:
	tar_done(&t);
	return e;
}
