#include "policy/rulelist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int load_text(struct policy_builder *b, enum action action, const char *text, size_t len,
                     const char *source, bool replace, size_t *ret_count, struct diag *d)
{
	size_t count = 0;
	uint32_t origin, line = 0;
	int r;

	r = policy_builder_origin(b, source, &origin);
	if (r < 0)
		return diag_fail(d, r, "%s: out of memory", source);
	for (size_t pos = 0; pos < len;) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + (nl != NULL);
		line++;
		while (n > 0 && is_blank(*start)) {
			start++;
			n--;
		}
		while (n > 0 && is_blank(start[n - 1]))
			n--;
		if (n == 0 || start[0] == '#')
			continue;
		struct rule rule;
		r = rule_parse(start, n, &rule, d);
		if (r == 0 && replace)
			(void)policy_builder_remove(b, &rule); /* -ENOENT: nothing to replace */
		if (r == 0)
			r = policy_builder_add(b, action, &rule, origin, line);
		if (r == -E2BIG)
			return diag_fail(d, r, "%s:%u: more than %u rules", source, line,
			                 POLICY_MAX_RULES);
		if (r == -ENOMEM)
			return diag_fail(d, r, "%s:%u: out of memory", source, line);
		if (r < 0) {
			diag_prefix(d, "%s:%u: ", source, line);
			return r;
		}
		count++;
	}
	if (ret_count)
		*ret_count = count;
	return 0;
}

int rulelist_load_text(struct policy_builder *b, enum action action, const char *text, size_t len,
                       const char *source, size_t *ret_count, struct diag *d)
{
	return load_text(b, action, text, len, source, false, ret_count, d);
}

static int load_file(struct policy_builder *b, enum action action, const char *path,
                     const char *source, bool replace, size_t *ret_count, struct diag *d)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = file_read_all(path, RULELIST_MAX_BYTES, &text, &len, d);
	if (r < 0)
		return r;
	return load_text(b, action, text, len, source ? source : path, replace, ret_count, d);
}

int rulelist_load_file(struct policy_builder *b, enum action action, const char *path,
                       size_t *ret_count, struct diag *d)
{
	return load_file(b, action, path, NULL, false, ret_count, d);
}

int rulelist_load_file_replacing(struct policy_builder *b, enum action action, const char *path,
                                 const char *source, size_t *ret_count, struct diag *d)
{
	return load_file(b, action, path, source, true, ret_count, d);
}
