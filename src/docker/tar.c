/* tar.c - ustar entries in memory (see tar.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker/tar.h"

#define BLOCK 512

struct ustar_header {
	char name[100];
	char mode[8];
	char uid[8];
	char gid[8];
	char size[12];
	char mtime[12];
	char chksum[8];
	char typeflag;
	char linkname[100];
	char magic[6];
	char version[2];
	char uname[32];
	char gname[32];
	char devmajor[8];
	char devminor[8];
	char prefix[155];
	char pad[12];
};
_Static_assert(sizeof(struct ustar_header) == BLOCK, "a ustar header is one block");

void tar_init(struct tar *t)
{
	*t = (struct tar){0};
}

void tar_done(struct tar *t)
{
	free(t->buf);
	*t = (struct tar){0};
}

static int reserve(struct tar *t, size_t add)
{
	if (add > TAR_MAX_BYTES - t->len)
		return -EFBIG;
	if (t->len + add <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : 64 * 1024;
	while (cap < t->len + add)
		cap *= 2;
	uint8_t *b = realloc(t->buf, cap);
	if (!b)
		return -ENOMEM;
	t->buf = b;
	t->cap = cap;
	return 0;
}

/* An octal field of `size` bytes: digits, then NUL. */
static int octal(char *field, size_t size, unsigned long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%0*llo", (int)size - 1, v);
	if (n < 0 || (size_t)n != size - 1)
		return -EOVERFLOW;
	memcpy(field, tmp, size);
	return 0;
}

static bool bad_component(const char *path)
{
	for (const char *p = path; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n + (slash ? 1 : 0);
	}
	return false;
}

/* Split `path` into ustar's prefix and name fields. */
static int set_path(struct ustar_header *h, const char *path)
{
	while (*path == '/')
		path++;
	size_t len = strlen(path);
	if (len == 0 || bad_component(path))
		return -EINVAL;
	if (len <= sizeof(h->name)) {
		memcpy(h->name, path, len);
		return 0;
	}
	/* The last '/' that leaves a name of at most 100 bytes and a prefix of at
	 * most 155. */
	for (size_t i = len; i-- > 0;)
		if (path[i] == '/' && len - i - 1 <= sizeof(h->name) && i <= sizeof(h->prefix) &&
		    len - i - 1 > 0) {
			memcpy(h->prefix, path, i);
			memcpy(h->name, path + i + 1, len - i - 1);
			return 0;
		}
	return -ENAMETOOLONG;
}

static int add(struct tar *t, char type, const char *path, mode_t mode, uid_t uid, gid_t gid,
               const char *link, const void *data, size_t len)
{
	struct ustar_header h;
	int e;

	memset(&h, 0, sizeof(h));
	if ((e = set_path(&h, path)) < 0)
		return e;
	if (link) {
		size_t n = strlen(link);
		if (n == 0 || n > sizeof(h.linkname))
			return n ? -ENAMETOOLONG : -EINVAL;
		memcpy(h.linkname, link, n);
	}
	if (octal(h.mode, sizeof(h.mode), mode & 07777) < 0 ||
	    octal(h.uid, sizeof(h.uid), uid) < 0 || octal(h.gid, sizeof(h.gid), gid) < 0 ||
	    octal(h.size, sizeof(h.size), len) < 0 || octal(h.mtime, sizeof(h.mtime), 0) < 0)
		return -EOVERFLOW;
	h.typeflag = type;
	memcpy(h.magic, "ustar", 6); /* "ustar\0" then version "00" */
	memcpy(h.version, "00", 2);
	/* The checksum is computed with its own field as eight spaces. */
	memset(h.chksum, ' ', sizeof(h.chksum));
	unsigned sum = 0;
	for (size_t i = 0; i < sizeof(h); i++)
		sum += ((unsigned char *)&h)[i];
	snprintf(h.chksum, sizeof(h.chksum), "%06o", sum); /* 6 digits, NUL, then ' ' */
	h.chksum[7] = ' ';

	size_t padded = (len + BLOCK - 1) / BLOCK * BLOCK;
	if (len > TAR_MAX_BYTES || (e = reserve(t, BLOCK + padded)) < 0)
		return len > TAR_MAX_BYTES ? -EFBIG : e;
	memcpy(t->buf + t->len, &h, BLOCK);
	t->len += BLOCK;
	if (len)
		memcpy(t->buf + t->len, data, len);
	memset(t->buf + t->len + len, 0, padded - len);
	t->len += padded;
	return 0;
}

int tar_add_dir(struct tar *t, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	return add(t, '5', path, mode, uid, gid, NULL, NULL, 0);
}

int tar_add_file(struct tar *t, const char *path, mode_t mode, uid_t uid, gid_t gid,
                 const void *data, size_t len)
{
	return add(t, '0', path, mode, uid, gid, NULL, data, len);
}

int tar_add_symlink(struct tar *t, const char *path, const char *target)
{
	return add(t, '2', path, 0777, 0, 0, target, NULL, 0);
}

int tar_finish(struct tar *t)
{
	int e = reserve(t, 2 * BLOCK);
	if (e < 0)
		return e;
	memset(t->buf + t->len, 0, 2 * BLOCK);
	t->len += 2 * BLOCK;
	return 0;
}

void tar_fingerprint(const void *data, size_t len, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ull;
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}
