/* tar.h - a POSIX ustar archive built in memory, for `docker import`.
 *
 * Pure: entries in, bytes out; no file system access.  Only what an image's
 * root file system needs: directories, regular files and symbolic links,
 * with mode and owner.  Every entry gets mtime 0, so the same files always
 * make the same bytes (the image's content label is a hash of them).
 *
 * Limits: a path is at most 255 bytes (ustar's prefix + name split at a '/',
 * the name part at most 100), a link target at most 100; no ".." component
 * and no absolute path (a leading '/' is dropped); the archive at most
 * TAR_MAX_BYTES.  Breaking one is -ENAMETOOLONG, -EINVAL or -EFBIG.
 */
#ifndef AIRLOCK_DOCKER_TAR_H
#define AIRLOCK_DOCKER_TAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/macros.h"

#define TAR_MAX_BYTES (1024u * 1024 * 1024)

struct tar {
	uint8_t *buf;
	size_t len, cap;
};

void tar_init(struct tar *t);
void tar_done(struct tar *t);

int tar_add_dir(struct tar *t, const char *path, mode_t mode, uid_t uid, gid_t gid);
int tar_add_file(struct tar *t, const char *path, mode_t mode, uid_t uid, gid_t gid,
                 const void *data, size_t len);
int tar_add_symlink(struct tar *t, const char *path, const char *target);

/* Append the end-of-archive blocks; the archive is then t->buf, t->len. */
int tar_finish(struct tar *t);

/* 64-bit FNV-1a of bytes, as 16 hex digits in out (17 bytes): the image's
 * content label.  Not a security hash: it only tells whether an image was
 * built from these very files. */
void tar_fingerprint(const void *data, size_t len, char out[17]);

#endif
