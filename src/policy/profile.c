#include "policy/profile.h"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"

/* ---- search paths ------------------------------------------------------- */

static void add_dir(struct profile_paths *pp, const char *a, const char *b)
{
	if (pp->n >= PROFILE_MAX_DIRS)
		return;
	int n = snprintf(pp->dirs[pp->n], sizeof(pp->dirs[0]), "%s%s", a, b);
	if (n > 0 && (size_t)n < sizeof(pp->dirs[0]))
		pp->n++;
}

void profile_paths_default(struct profile_paths *pp)
{
	const char *env = getenv("AIRLOCK_PROFILE_PATH");

	memset(pp, 0, sizeof(*pp));
	if (env && *env) {
		const char *p = env;
		while (*p && pp->n < PROFILE_MAX_DIRS) {
			size_t len = strcspn(p, ":");
			if (len > 0 && len < sizeof(pp->dirs[0])) {
				memcpy(pp->dirs[pp->n], p, len);
				pp->dirs[pp->n++][len] = '\0';
			}
			p += len + (p[len] == ':');
		}
		return;
	}
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	if (xdg && *xdg == '/')
		add_dir(pp, xdg, "/airlock/profiles");
	else if (home && *home == '/')
		add_dir(pp, home, "/.config/airlock/profiles");
	add_dir(pp, "/etc/airlock/profiles", "");
	add_dir(pp, "profiles", "");
}

/* ---- parsing ------------------------------------------------------------ */

/* State of one file being parsed; `parent` links the extends chain so a
 * cycle is caught by name. */
struct parse {
	struct policy_builder *b;
	const struct profile_paths *pp;
	struct profile *profile;
	const struct parse *child; /* the profile that extends this one, if any */
	unsigned depth;
	uint32_t origin;
	/* Reader state. */
	const char *text;
	size_t len, pos;
	unsigned line;
	/* The file's own settings, applied after its parent's. */
	int default_line, network_line, extends_line;
	enum action default_action;
	bool network_none;
	bool rules_seen;
	/* First error. */
	int err;
	unsigned err_line;
	struct diag *d;
};

static char *reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	char esc[DIAG_ESCAPE_SIZE];

	if (ps->err || ps->pos >= ps->len)
		return NULL;
	const char *start = ps->text + ps->pos;
	size_t avail = ps->len - ps->pos;
	const char *nl = memchr(start, '\n', avail);
	size_t line_len = nl ? (size_t)(nl - start) : avail;
	ps->line++;
	if (memchr(start, '\0', line_len)) {
		ps->err = diag_fail(ps->d, -EINVAL, "NUL byte in line");
		ps->err_line = ps->line;
		return NULL;
	}
	/* inih needs room for the newline and terminator. */
	if (line_len + 2 > (size_t)num) {
		ps->err = diag_fail(ps->d, -EINVAL,
		                    "line is longer than %d characters ('%s'); split the rules "
		                    "over several lines",
		                    num - 2, diag_escape(start, 40, esc, sizeof(esc)));
		ps->err_line = ps->line;
		return NULL;
	}
	memcpy(str, start, line_len);
	str[line_len] = '\n';
	str[line_len + 1] = '\0';
	ps->pos += line_len + (nl != NULL);
	return str;
}

static int fail(struct parse *ps, int err, const char *fmt, ...) _printf_(3, 4);
static int fail(struct parse *ps, int err, const char *fmt, ...)
{
	if (!ps->err && ps->d) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ps->d->msg, sizeof(ps->d->msg), fmt, ap);
		va_end(ap);
	}
	if (!ps->err) {
		ps->err = err;
		ps->err_line = ps->line;
	}
	return 0; /* tells inih this line failed */
}

static int load(struct policy_builder *b, const char *name, const struct profile_paths *pp,
                const struct parse *child, struct profile *ret, struct diag *d);

static bool parse_bool_word(const char *v, const char *yes, const char *no, bool *ret)
{
	if (strcmp(v, yes) == 0)
		*ret = true;
	else if (strcmp(v, no) == 0)
		*ret = false;
	else
		return false;
	return true;
}

static int handle_profile_key(struct parse *ps, const char *key, const char *value)
{
	if (strcmp(key, "description") == 0) {
		snprintf(ps->profile->description, sizeof(ps->profile->description), "%s", value);
		return 1;
	}
	if (strcmp(key, "default") == 0) {
		bool allow;
		if (ps->default_line)
			return fail(ps, -EINVAL, "default is already set on line %d",
			            ps->default_line);
		if (!parse_bool_word(value, "allow", "block", &allow))
			return fail(ps, -EINVAL, "default = '%s': expected allow or block", value);
		ps->default_action = allow ? ACTION_ALLOW : ACTION_BLOCK;
		ps->default_line = (int)ps->line;
		return 1;
	}
	if (strcmp(key, "network") == 0) {
		bool none;
		if (ps->network_line)
			return fail(ps, -EINVAL, "network is already set on line %d",
			            ps->network_line);
		if (!parse_bool_word(value, "none", "on", &none))
			return fail(ps, -EINVAL, "network = '%s': expected on or none", value);
		ps->network_none = none;
		ps->network_line = (int)ps->line;
		return 1;
	}
	if (strcmp(key, "extends") == 0) {
		struct profile parent;
		struct diag pd;
		if (ps->extends_line)
			return fail(ps, -EINVAL, "extends is already set on line %d",
			            ps->extends_line);
		if (ps->rules_seen)
			return fail(ps, -EINVAL, "extends must come before any rule");
		ps->extends_line = (int)ps->line;
		int r = load(ps->b, value, ps->pp, ps, &parent, &pd);
		if (r < 0)
			return fail(ps, r, "extends = %s: %s", value, pd.msg);
		snprintf(ps->profile->extends, sizeof(ps->profile->extends), "%s", parent.name);
		return 1;
	}
	return fail(ps, -EINVAL,
	            "unknown key '%s' in [profile]; expected description, extends, default or "
	            "network",
	            key);
}

static bool is_list_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\r';
}

static int handle_rules_key(struct parse *ps, const char *key, const char *value)
{
	enum { ADD_ALLOW, ADD_BLOCK, REMOVE } op;
	char esc[DIAG_ESCAPE_SIZE];

	if (strcmp(key, "allow") == 0)
		op = ADD_ALLOW;
	else if (strcmp(key, "block") == 0)
		op = ADD_BLOCK;
	else if (strcmp(key, "remove") == 0)
		op = REMOVE;
	else
		return fail(ps, -EINVAL,
		            "unknown key '%s' in [rules]; expected allow, block or remove", key);
	ps->rules_seen = true;

	/* A value is a list of rules separated by commas or blanks. */
	for (const char *p = value; *p;) {
		while (*p && is_list_separator(*p))
			p++;
		size_t n = 0;
		while (p[n] && !is_list_separator(p[n]))
			n++;
		if (n == 0)
			break;
		struct rule r;
		struct diag rd;
		int ret = rule_parse(p, n, &r, &rd);
		if (ret < 0)
			return fail(ps, ret, "%s", rd.msg);
		if (op == REMOVE) {
			ret = policy_builder_remove(ps->b, &r);
			if (ret == -ENOENT)
				return fail(ps, ret, "remove = %s: no such rule %s",
				            diag_escape(p, n, esc, sizeof(esc)),
				            ps->profile->extends[0] ? "in the profiles it extends"
				                                    : "(it extends no profile)");
		} else {
			ret = policy_builder_add(ps->b,
			                         op == ADD_ALLOW ? ACTION_ALLOW : ACTION_BLOCK, &r,
			                         ps->origin, ps->line);
			if (ret == -E2BIG)
				return fail(ps, ret, "more than %u rules", POLICY_MAX_RULES);
		}
		if (ret < 0)
			return fail(ps, ret, "%s", strerror(-ret));
		p += n;
	}
	return 1;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse *ps = user;

	if (ps->err)
		return 1; /* report the first error only */
	if (strcmp(section, "profile") == 0)
		return handle_profile_key(ps, key, value);
	if (strcmp(section, "rules") == 0)
		return handle_rules_key(ps, key, value);
	if (section[0] == '\0')
		return fail(ps, -EINVAL, "'%s' comes before any section; start with [profile]",
		            key);
	return fail(ps, -EINVAL, "unknown section [%s]; expected [profile] or [rules]", section);
}

static bool on_chain(const struct parse *ps, const char *name)
{
	for (; ps; ps = ps->child)
		if (strcmp(ps->profile->name, name) == 0)
			return true;
	return false;
}

static int parse_text(struct policy_builder *b, const char *text, size_t len, const char *source,
                      const struct profile_paths *pp, const struct parse *child,
                      struct profile *prof, struct diag *d)
{
	struct parse ps = {
	        .b = b,
	        .pp = pp,
	        .profile = prof,
	        .child = child,
	        .depth = child ? child->depth + 1 : 0,
	        .text = text,
	        .len = len,
	        .d = d,
	};
	int r;

	r = policy_builder_origin(b, source, &ps.origin);
	if (r < 0)
		return diag_fail(d, r, "%s: out of memory", source);
	int line = ini_parse_stream(reader, &ps, handler, &ps);
	if (ps.err) {
		diag_prefix(d, "%s:%u: ", source, ps.err_line);
		return ps.err;
	}
	if (line > 0)
		return diag_fail(d, -EINVAL,
		                 "%s:%d: expected `key = value`, a [section] header or a comment",
		                 source, line);
	if (line < 0)
		return diag_fail(d, -ENOMEM, "%s: out of memory", source);
	if (ps.default_line)
		policy_builder_set_default(b, ps.default_action);
	if (ps.network_line)
		policy_builder_set_network_none(b, ps.network_none);
	return 0;
}

static bool valid_profile_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= PROFILE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

static bool is_path(const char *name)
{
	size_t n = strlen(name);
	return strchr(name, '/') || (n > 5 && strcmp(name + n - 5, ".conf") == 0);
}

/* The name of a profile file: its base name without ".conf". */
static void name_from_path(const char *path, char out[PROFILE_NAME_MAX])
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".conf") == 0)
		n -= 5;
	if (n >= PROFILE_NAME_MAX)
		n = PROFILE_NAME_MAX - 1;
	memcpy(out, base, n);
	out[n] = '\0';
}

static const struct builtin_profile *find_builtin(const char *name)
{
	for (size_t i = 0; i < builtin_profiles_count; i++)
		if (strcmp(builtin_profiles[i].name, name) == 0)
			return &builtin_profiles[i];
	return NULL;
}

static int load_file(struct policy_builder *b, const char *path, const struct profile_paths *pp,
                     const struct parse *child, struct profile *prof, struct diag *d)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (strlen(path) >= sizeof(prof->source))
		return diag_fail(d, -ENAMETOOLONG, "profile path is too long");
	int r = file_read_all(path, PROFILE_MAX_BYTES, &text, &len, d);
	if (r < 0)
		return r;
	memcpy(prof->source, path, strlen(path) + 1);
	return parse_text(b, text, len, path, pp, child, prof, d);
}

static int load(struct policy_builder *b, const char *name, const struct profile_paths *pp,
                const struct parse *child, struct profile *ret, struct diag *d)
{
	char path[PATH_MAX];

	memset(ret, 0, sizeof(*ret));
	if (child && child->depth + 1 >= PROFILE_MAX_DEPTH)
		return diag_fail(d, -ELOOP, "profiles extend each other more than %d deep",
		                 PROFILE_MAX_DEPTH);
	if (is_path(name)) {
		name_from_path(name, ret->name);
		if (on_chain(child, ret->name))
			return diag_fail(d, -ELOOP, "profile '%s' extends itself", ret->name);
		return load_file(b, name, pp, child, ret, d);
	}
	if (!valid_profile_name(name))
		return diag_fail(d, -EINVAL,
		                 "'%s' is not a profile name (letters, digits, '-' and '_'), nor "
		                 "a path to a .conf file",
		                 name);
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	if (on_chain(child, name))
		return diag_fail(d, -ELOOP, "profile '%s' extends itself", name);

	const struct builtin_profile *bp = find_builtin(name);
	if (bp) {
		ret->builtin = true;
		snprintf(ret->source, sizeof(ret->source), "built-in %s.conf", name);
		/* The embedded text carries a terminating NUL the parser must not see. */
		return parse_text(b, bp->text, bp->len - 1, ret->source, pp, child, ret, d);
	}
	for (size_t i = 0; i < pp->n; i++) {
		int n = snprintf(path, sizeof(path), "%s/%s.conf", pp->dirs[i], name);
		if (n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) == 0)
			return load_file(b, path, pp, child, ret, d);
	}

	char searched[1024] = "";
	for (size_t i = 0, o = 0; i < pp->n && o < sizeof(searched); i++) {
		int n = snprintf(searched + o, sizeof(searched) - o, "%s%s", i ? ", " : "",
		                 pp->dirs[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	char builtins[256] = "";
	for (size_t i = 0, o = 0; i < builtin_profiles_count && o < sizeof(builtins); i++) {
		int n = snprintf(builtins + o, sizeof(builtins) - o, "%s%s", i ? ", " : "",
		                 builtin_profiles[i].name);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return diag_fail(d, -ENOENT,
	                 "no profile named '%s' (built in: %s; searched for %s.conf in: %s); "
	                 "`airlock profiles` lists them",
	                 name, builtins, name, searched[0] ? searched : "no directories");
}

/* Checked once the whole chain is read: a child may turn the network off
 * under rules its parent allowed. */
static int check_complete(const struct policy_builder *b, const struct profile *prof,
                          struct diag *d)
{
	if (policy_builder_network_none(b) && policy_builder_count(b, ACTION_ALLOW) > 0)
		return diag_fail(d, -EINVAL,
		                 "%s: network = none, so its allow rules cannot apply; extend "
		                 "strict to allow only chosen hosts",
		                 prof->source);
	return 0;
}

int profile_load(struct policy_builder *b, const char *name, const struct profile_paths *pp,
                 struct profile *ret, struct diag *d)
{
	int r = load(b, name, pp, NULL, ret, d);
	return r < 0 ? r : check_complete(b, ret, d);
}

int profile_load_text(struct policy_builder *b, const char *text, size_t len, const char *source,
                      const struct profile_paths *pp, struct profile *ret, struct diag *d)
{
	memset(ret, 0, sizeof(*ret));
	name_from_path(source, ret->name);
	snprintf(ret->source, sizeof(ret->source), "%s", source);
	int r = parse_text(b, text, len, source, pp, NULL, ret, d);
	return r < 0 ? r : check_complete(b, ret, d);
}

/* ---- listing ------------------------------------------------------------ */

struct seen {
	char (*names)[PROFILE_NAME_MAX];
	size_t n, cap;
};

static bool seen_add(struct seen *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return false;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *p = reallocarray(s->names, cap, sizeof(*s->names));
		if (!p)
			return false;
		s->names = p;
		s->cap = cap;
	}
	snprintf(s->names[s->n++], PROFILE_NAME_MAX, "%s", name);
	return true;
}

static void list_one(const char *name, const struct profile_paths *pp, profile_list_fn fn,
                     void *ctx)
{
	_cleanup_(policy_builder_freep) struct policy_builder *b = policy_builder_new();
	struct profile prof;
	struct diag d = {""};

	if (!b)
		return;
	int r = profile_load(b, name, pp, &prof, &d);
	fn(&prof, b, r, &d, ctx);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int profile_list(const struct profile_paths *pp, profile_list_fn fn, void *ctx)
{
	struct seen seen = {0};

	for (size_t i = 0; i < builtin_profiles_count; i++) {
		seen_add(&seen, builtin_profiles[i].name);
		list_one(builtin_profiles[i].name, pp, fn, ctx);
	}
	for (size_t i = 0; i < pp->n; i++) {
		DIR *dir = opendir(pp->dirs[i]);
		char *names[1024];
		size_t n = 0;
		struct dirent *e;

		if (!dir)
			continue;
		while ((e = readdir(dir)) && n < ARRAY_SIZE(names)) {
			size_t len = strlen(e->d_name);
			if (len <= 5 || strcmp(e->d_name + len - 5, ".conf") != 0)
				continue;
			names[n] = strndup(e->d_name, len - 5);
			if (names[n])
				n++;
		}
		closedir(dir);
		qsort(names, n, sizeof(names[0]), cmp_str);
		for (size_t j = 0; j < n; j++) {
			if (valid_profile_name(names[j]) && seen_add(&seen, names[j]))
				list_one(names[j], pp, fn, ctx);
			free(names[j]);
		}
	}
	free(seen.names);
	return 0;
}
