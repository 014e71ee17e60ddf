#include "policy/claude.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"

/* Deep enough for any real settings file, shallow enough to bound recursion. */
#define CLAUDE_JSON_DEPTH 32

DEFINE_POINTER_CLEANUP(json_tokener, json_tokener_free)

static void json_putp(json_object **o)
{
	json_object_put(*o);
}

/* Line and column (1-based) of byte `offset`, for error messages. */
static void line_col(const char *text, size_t offset, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int parse_json(const char *text, size_t len, const char *source, json_object **ret,
                      struct diag *d)
{
	_cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(CLAUDE_JSON_DEPTH);
	unsigned line, col;

	if (!tok)
		return diag_fail(d, -ENOMEM, "%s: out of memory", source);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	if (len > INT32_MAX)
		return diag_fail(d, -EFBIG, "%s is too large", source);
	if (memchr(text, '\0', len)) {
		line_col(text, (size_t)((const char *)memchr(text, '\0', len) - text), &line, &col);
		return diag_fail(d, -EINVAL, "%s:%u:%u: NUL byte in JSON", source, line, col);
	}
	json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		/* Input ended inside a value. */
		line_col(text, len, &line, &col);
		return diag_fail(d, -EINVAL, "%s:%u:%u: invalid JSON: unexpected end of file",
		                 source, line, col);
	}
	if (!obj || jerr != json_tokener_success) {
		line_col(text, json_tokener_get_parse_end(tok), &line, &col);
		json_object_put(obj);
		return diag_fail(d, -EINVAL, "%s:%u:%u: invalid JSON: %s", source, line, col,
		                 json_tokener_error_desc(jerr));
	}
	/* Only whitespace may follow the document. */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (!strchr(" \t\r\n", text[i])) {
			line_col(text, i, &line, &col);
			json_object_put(obj);
			return diag_fail(d, -EINVAL,
			                 "%s:%u:%u: invalid JSON: text after the end of the "
			                 "document",
			                 source, line, col);
		}
	}
	*ret = obj;
	return 0;
}

/* "WebFetch(domain:NAME)" -> NAME; NULL for entries that are not domain fetches. */
static const char *webfetch_domain(const char *entry, size_t *ret_len)
{
	static const char prefix[] = "WebFetch(domain:";
	size_t n = strlen(entry);

	if (n < sizeof(prefix) || strncmp(entry, prefix, sizeof(prefix) - 1) != 0 ||
	    entry[n - 1] != ')')
		return NULL;
	*ret_len = n - (sizeof(prefix) - 1) - 1;
	return entry + sizeof(prefix) - 1;
}

static int import_list(struct policy_builder *b, json_object *perms, const char *key,
                       enum action action, const char *source, uint32_t origin, size_t *count,
                       struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	json_object *list;

	if (!json_object_object_get_ex(perms, key, &list) ||
	    json_object_is_type(list, json_type_null))
		return 0;
	if (!json_object_is_type(list, json_type_array))
		return diag_fail(d, -EINVAL, "%s: permissions.%s is not a list", source, key);
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(list, i);
		if (!json_object_is_type(item, json_type_string))
			return diag_fail(d, -EINVAL, "%s: permissions.%s[%zu] is not a string",
			                 source, key, i);
		const char *s = json_object_get_string(item);
		size_t len;
		const char *domain = webfetch_domain(s, &len);
		if (!domain)
			continue;
		struct rule r;
		struct diag rd;
		int ret = rule_parse(domain, len, &r, &rd);
		if (ret == 0 &&
		    (r.kind == RULE_CIDR || r.kind == RULE_DOMAIN || !port_range_is_any(r.ports)))
			ret = diag_fail(&rd, -EINVAL,
			                "WebFetch takes a host name or *.name, not '%s'",
			                diag_escape(domain, len, esc, sizeof(esc)));
		if (ret < 0)
			return diag_fail(d, ret, "%s: permissions.%s[%zu]: %s", source, key, i,
			                 rd.msg);
		/* Parsed JSON has no line numbers: the origin names the file only. */
		ret = policy_builder_add(b, action, &r, origin, 0);
		if (ret < 0)
			return diag_fail(d, ret, "%s: %s", source, strerror(-ret));
		(*count)++;
	}
	return 0;
}

int claude_import_text(struct policy_builder *b, const char *text, size_t len, const char *source,
                       size_t *ret_count, struct diag *d)
{
	_cleanup_(json_putp) json_object *root = NULL;
	json_object *perms;
	size_t count = 0;
	uint32_t origin;
	int r;

	r = parse_json(text, len, source, &root, d);
	if (r < 0)
		return r;
	if (!json_object_is_type(root, json_type_object))
		return diag_fail(d, -EINVAL, "%s: the settings must be a JSON object", source);
	if (json_object_object_get_ex(root, "permissions", &perms) &&
	    !json_object_is_type(perms, json_type_null)) {
		if (!json_object_is_type(perms, json_type_object))
			return diag_fail(d, -EINVAL, "%s: \"permissions\" is not an object",
			                 source);
		char label[4200];
		snprintf(label, sizeof(label), "Claude settings %s", source);
		r = policy_builder_origin(b, label, &origin);
		if (r < 0)
			return diag_fail(d, r, "%s: out of memory", source);
		r = import_list(b, perms, "allow", ACTION_ALLOW, source, origin, &count, d);
		if (r == 0)
			r = import_list(b, perms, "deny", ACTION_BLOCK, source, origin, &count, d);
		if (r < 0)
			return r;
	}
	if (ret_count)
		*ret_count = count;
	return 0;
}

int claude_import_file(struct policy_builder *b, const char *path, size_t *ret_count,
                       struct diag *d)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = file_read_all(path, CLAUDE_SETTINGS_MAX_BYTES, &text, &len, d);
	if (r < 0)
		return r;
	return claude_import_text(b, text, len, path, ret_count, d);
}

int claude_resolve_path(const char *workspace, const char *path, char out[static 4096])
{
	const char *home = getenv("HOME");
	int n;

	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
		if (!home || !*home)
			return -ENOENT;
		n = snprintf(out, 4096, "%s%s", home, path + 1);
	} else if (path[0] == '/' || !workspace) {
		n = snprintf(out, 4096, "%s", path);
	} else {
		n = snprintf(out, 4096, "%s/%s", workspace, path);
	}
	return n < 0 || n >= 4096 ? -ENAMETOOLONG : 0;
}

size_t claude_default_paths(const char *workspace, char (*out)[4096], size_t max)
{
	const char *home = getenv("HOME");
	size_t n = 0;

	if (workspace && n < max)
		snprintf(out[n++], 4096, "%s/.claude/settings.json", workspace);
	if (workspace && n < max)
		snprintf(out[n++], 4096, "%s/.claude/settings.local.json", workspace);
	if (home && *home && n < max)
		snprintf(out[n++], 4096, "%s/.claude/settings.json", home);
	return n;
}
