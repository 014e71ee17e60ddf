#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max, char **ret_buf, size_t *ret_len, struct diag *d)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	struct stat st;

	if (fd < 0)
		return diag_fail(d, -errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return diag_fail(d, -errno, "cannot stat %s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return diag_fail(d, -EISDIR, "%s is a directory, not a file", path);
	for (;;) {
		if (len == cap) {
			if (cap > max)
				return diag_fail(d, -EFBIG, "%s is larger than %zu bytes", path,
				                 max);
			cap = cap ? cap * 2 : 4096;
			char *b = realloc(buf, cap + 1);
			if (!b)
				return diag_fail(d, -ENOMEM, "%s: out of memory", path);
			buf = b;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return diag_fail(d, -errno, "cannot read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		return diag_fail(d, -EFBIG, "%s is larger than %zu bytes", path, max);
	buf[len] = '\0';
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}
