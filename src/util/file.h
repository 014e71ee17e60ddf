/* file.h - reading whole files with a size cap. */
#ifndef AIRLOCK_UTIL_FILE_H
#define AIRLOCK_UTIL_FILE_H

#include <stddef.h>

#include "util/diag.h"

/* Read `path` into a new NUL-terminated buffer (*ret_buf, owned by the caller).
 * Files over `max` bytes are refused with -EFBIG, so no file a sandbox can
 * write makes us allocate without bound.  Errors name the file. */
int file_read_all(const char *path, size_t max, char **ret_buf, size_t *ret_len, struct diag *d);

#endif
