/* hosts.c - the /etc/hosts sinkhole block (see hosts.h). */
#include "apply/hosts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"

#define BEGIN_MARK    "# BEGIN airlock: managed by `airlock apply`, removed by --remove"
#define BEGIN_MARK_NL BEGIN_MARK " +newline"
#define END_MARK      "# END airlock"

/* The line at `p` (up to `end`) equals `s`. */
static bool line_is(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(end - p) == n && memcmp(p, s, n) == 0;
}

int hosts_render(const char *text, size_t len, const char *const *names, size_t n, char **ret,
                 size_t *ret_len, struct diag *d)
{
	size_t cap = len + 2, o = 0;
	for (size_t i = 0; i < n; i++) {
		if (!names[i][0] || strpbrk(names[i], " \t\r\n#"))
			return diag_fail(d, -EINVAL, "a name with a blank cannot go in /etc/hosts");
		cap += 2 * strlen(names[i]) + 16;
	}
	cap += sizeof(BEGIN_MARK_NL) + sizeof(END_MARK) + 4;
	char *out = malloc(cap);
	if (!out)
		return diag_fail(d, -ENOMEM, "out of memory");

	/* Copy every line but an airlock block (and the newline it added). */
	bool inside = false, added_nl = false;
	for (size_t pos = 0; pos < len;) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		const char *end = nl ? nl : text + len;
		size_t ll = (size_t)(end - s) + (nl ? 1 : 0);
		pos += ll;
		if (!inside && (line_is(s, end, BEGIN_MARK) || line_is(s, end, BEGIN_MARK_NL))) {
			inside = true;
			if (line_is(s, end, BEGIN_MARK_NL))
				added_nl = true;
			continue;
		}
		if (inside) {
			if (line_is(s, end, END_MARK))
				inside = false;
			continue;
		}
		/* Lines after the block: the newline we added now ends a line
		 * that is no longer the last, and stays (taking it out would
		 * join two lines). */
		added_nl = false;
		memcpy(out + o, s, ll);
		o += ll;
	}
	if (added_nl && o && out[o - 1] == '\n')
		o--; /* the newline we put after the file's last line */
	if (n) {
		bool add_nl = o && out[o - 1] != '\n';
		if (add_nl)
			out[o++] = '\n';
		o += (size_t)snprintf(out + o, cap - o, "%s\n",
		                      add_nl ? BEGIN_MARK_NL : BEGIN_MARK);
		for (size_t i = 0; i < n; i++)
			o += (size_t)snprintf(out + o, cap - o, "0.0.0.0 %s\n:: %s\n", names[i],
			                      names[i]);
		o += (size_t)snprintf(out + o, cap - o, "%s\n", END_MARK);
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}

/* Rewrite `path` in place with `len` bytes. */
static int rewrite(const char *path, const char *data, size_t len, struct diag *d)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return diag_fail(d, -errno, "cannot write %s: %s", path, strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return diag_fail(d, -errno, "cannot write %s: %s", path, strerror(errno));
		off += (size_t)w;
	}
	return 0;
}

static int update(const char *path, const char *const *names, size_t n, struct diag *d)
{
	_cleanup_free_ char *text = NULL, *out = NULL;
	size_t len, out_len;
	int e = file_read_all(path, HOSTS_MAX_BYTES, &text, &len, d);
	if (e == -ENOENT && n == 0)
		return 0;
	if (e < 0)
		return e;
	if ((e = hosts_render(text, len, names, n, &out, &out_len, d)) < 0)
		return e;
	if (out_len == len && memcmp(out, text, len) == 0)
		return 0; /* as wanted already: not even a write */
	return rewrite(path, out, out_len, d);
}

int hosts_apply(const char *path, const struct policy *p, struct diag *d)
{
	size_t total = policy_rule_count(p), n = 0;
	const char **names = calloc(total + 1, sizeof(*names));
	if (!names)
		return diag_fail(d, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < total; i++) {
		struct rule_info ri;
		policy_rule_info(p, i, &ri);
		if (ri.action == ACTION_BLOCK && port_range_is_any(ri.rule.ports) &&
		    (ri.rule.kind == RULE_EXACT || ri.rule.kind == RULE_DOMAIN))
			names[n++] = strdup(ri.rule.name);
	}
	int e = 0;
	for (size_t i = 0; i < n; i++)
		if (!names[i])
			e = diag_fail(d, -ENOMEM, "out of memory");
	if (e == 0)
		e = update(path, names, n, d);
	for (size_t i = 0; i < n; i++)
		free((char *)names[i]);
	free(names);
	return e;
}

int hosts_remove(const char *path, struct diag *d)
{
	return update(path, NULL, 0, d);
}
