/* state.c - a sandbox's directory (see state.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/state.h"
#include "util/file.h"

#define CONF_MAX (64 * 1024)

int sandbox_name_check(const char *name, struct diag *d)
{
	size_t n = strlen(name);
	char esc[DIAG_ESCAPE_SIZE];

	if (n == 0 || n > SANDBOX_NAME_MAX)
		return diag_fail(d, -EINVAL, "sandbox name '%s': 1 to %d characters",
		                 diag_escape(name, n, esc, sizeof(esc)), SANDBOX_NAME_MAX);
	if (strncmp(name, "airlock-", 8) == 0)
		return diag_fail(d, -EINVAL,
		                 "sandbox name '%s': names starting with 'airlock-' are airlock's "
		                 "own (its sidecars and networks)",
		                 diag_escape(name, n, esc, sizeof(esc)));
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum =
		        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("_.-", c)))
			return diag_fail(
			        d, -EINVAL,
			        "sandbox name '%s': letters, digits, '_', '.' and '-' only, "
			        "starting with a letter or digit",
			        diag_escape(name, n, esc, sizeof(esc)));
	}
	return 0;
}

const char *sandbox_kind_name(enum sandbox_kind kind)
{
	return kind == SANDBOX_KIND_DOCKER  ? "docker"
	       : kind == SANDBOX_KIND_APPLY ? "apply"
	                                    : "run";
}

int state_root(enum sandbox_kind kind, char *out, size_t size, struct diag *d)
{
	const char *env = getenv("AIRLOCK_STATE_DIR"), *k = sandbox_kind_name(kind);
	int n;

	if (env && *env)
		n = snprintf(out, size, "%s/%s", env, k);
	else if (geteuid() == 0)
		n = snprintf(out, size, "/var/lib/airlock/%s", k);
	else if ((env = getenv("XDG_STATE_HOME")) && *env)
		n = snprintf(out, size, "%s/airlock/%s", env, k);
	else if ((env = getenv("HOME")) && *env)
		n = snprintf(out, size, "%s/.local/state/airlock/%s", env, k);
	else
		return diag_fail(
		        d, -ENOENT,
		        "no state directory: set AIRLOCK_STATE_DIR (or HOME) to a directory");
	if (n < 0 || (size_t)n >= size)
		return diag_fail(d, -ENAMETOOLONG, "the state directory's path is too long");
	return 0;
}

/* mkdir -p, each new level with `mode`. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = saved;
	}
	return 0;
}

int state_path(const struct sandbox_state *s, const char *rel, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/%s", s->dir, rel);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int dir_of(enum sandbox_kind kind, const char *name, struct sandbox_state *s, struct diag *d)
{
	char root[PATH_MAX - SANDBOX_NAME_MAX - 2];
	int e = sandbox_name_check(name, d);
	if (e < 0)
		return e;
	if ((e = state_root(kind, root, sizeof(root), d)) < 0)
		return e;
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", root, name);
	return 0;
}

/* Write `len` bytes to `path` through a temporary file and rename, so a
 * reader sees the old file or the new one. */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode, struct diag *d)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return diag_fail(d, -ENAMETOOLONG, "path too long: %s", path);
	_cleanup_close_ int fd =
	        open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return diag_fail(d, -errno, "cannot write %s: %s", tmp, strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			unlink(tmp);
			return diag_fail(d, -e, "cannot write %s: %s", tmp, strerror(e));
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return diag_fail(d, -e, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
}

/* How to remove a sandbox of this kind, for messages. */
static const char *remove_hint(enum sandbox_kind kind)
{
	return kind == SANDBOX_KIND_DOCKER  ? "airlock docker rm"
	       : kind == SANDBOX_KIND_APPLY ? "airlock apply --remove --name"
	                                    : "airlock rm";
}

static const enum sandbox_kind all_kinds[] = {SANDBOX_KIND_RUN, SANDBOX_KIND_DOCKER,
                                              SANDBOX_KIND_APPLY};

/* "run", "Docker", "in-place" for messages. */
static const char *kind_label(enum sandbox_kind kind)
{
	return kind == SANDBOX_KIND_DOCKER  ? "Docker"
	       : kind == SANDBOX_KIND_APPLY ? "in-place"
	                                    : "run";
}

int state_create(enum sandbox_kind kind, const char *name, uid_t uid, gid_t gid,
                 struct sandbox_state *s, struct diag *d)
{
	char root[PATH_MAX], path[PATH_MAX];
	struct sandbox_state o;
	int e;
	for (size_t i = 0; i < ARRAY_SIZE(all_kinds); i++) {
		enum sandbox_kind other = all_kinds[i];
		if (other == kind)
			continue;
		if ((e = dir_of(other, name, &o, d)) < 0)
			return e;
		if (access(o.dir, F_OK) == 0)
			return diag_fail(
			        d, -EEXIST,
			        "a %s sandbox is named %s: pick another --name, or remove it "
			        "with '%s %s'",
			        kind_label(other), name, remove_hint(other), name);
	}
	if ((e = dir_of(kind, name, s, d)) < 0)
		return e;
	if ((e = state_root(kind, root, sizeof(root), d)) < 0)
		return e;
	/* An in-place sandbox's gateway runs as its own user and must get through
	 * to its run/ directory: traversable (not listable) levels. */
	if ((e = mkdir_p(root, kind == SANDBOX_KIND_APPLY ? 0711 : 0700)) < 0)
		return diag_fail(d, e, "cannot create %s: %s", root, strerror(-e));
	if (mkdir(s->dir, 0700) < 0) {
		if (errno == EEXIST)
			return diag_fail(
			        d, -EEXIST,
			        "a sandbox named %s exists already: pick another --name, or "
			        "remove it with '%s %s'",
			        name, remove_hint(kind), name);
		return diag_fail(d, -errno, "cannot create %s: %s", s->dir, strerror(errno));
	}
	/* rules/ is read by the sidecar's user through a read-only mount; run/
	 * is its only writable place, and nobody else's. */
	state_path(s, "rules", path, sizeof(path));
	if (mkdir(path, 0755) < 0)
		return diag_fail(d, -errno, "cannot create %s: %s", path, strerror(errno));
	static const char *const files[] = {"rules/allowed-domains", "rules/blocked-domains"};
	for (size_t i = 0; i < 2; i++) {
		state_path(s, files[i], path, sizeof(path));
		if ((e = write_atomic(path, "", 0, 0644, d)) < 0)
			return e;
	}
	state_path(s, "run", path, sizeof(path));
	if (mkdir(path, 0700) < 0)
		return diag_fail(d, -errno, "cannot create %s: %s", path, strerror(errno));
	if ((uid != geteuid() || gid != getegid()) && chown(path, uid, gid) < 0)
		return diag_fail(d, -errno, "cannot give %s to uid %u: %s", path, (unsigned)uid,
		                 strerror(errno));
	return 0;
}

static void set_field(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%s", v);
}

int state_load(enum sandbox_kind kind, const char *name, struct sandbox_state *s, struct diag *d)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	size_t len;
	int e = dir_of(kind, name, s, d);
	if (e < 0)
		return e;
	state_path(s, "sandbox.conf", path, sizeof(path));
	struct diag ignored;
	e = file_read_all(path, CONF_MAX, &text, &len, &ignored);
	if (e == -ENOENT)
		return diag_fail(d, -ENOENT, "no sandbox named %s (nothing in %s)", name, s->dir);
	if (e < 0)
		return diag_fail(d, e, "%s", ignored.msg);
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		if (strcmp(k, "profile") == 0)
			set_field(s->profile, sizeof(s->profile), v);
		else if (strcmp(k, "default") == 0)
			set_field(s->default_action, sizeof(s->default_action), v);
		else if (strcmp(k, "image") == 0)
			set_field(s->image, sizeof(s->image), v);
		else if (strcmp(k, "upstream") == 0 && s->n_upstream < STATE_MAX_UPSTREAM)
			set_field(s->upstream[s->n_upstream++], sizeof(s->upstream[0]), v);
		else if (strcmp(k, "airgapped") == 0)
			s->airgapped = strcmp(v, "1") == 0;
		else if (strcmp(k, "ip") == 0)
			set_field(s->ip, sizeof(s->ip), v);
		else if (strcmp(k, "subnet") == 0)
			set_field(s->subnet, sizeof(s->subnet), v);
		else if (strcmp(k, "pid") == 0)
			s->pid = strtol(v, NULL, 10);
		else if (strcmp(k, "started") == 0)
			s->started_ms = strtoll(v, NULL, 10);
	}
	return 0;
}

int state_save(const struct sandbox_state *s, struct diag *d)
{
	char path[PATH_MAX], buf[CONF_MAX];
	size_t o = 0;

#define PUT(...)                                                                                   \
	do {                                                                                       \
		int _n = snprintf(buf + o, sizeof(buf) - o, __VA_ARGS__);                          \
		if (_n < 0 || (size_t)_n >= sizeof(buf) - o)                                       \
			return diag_fail(d, -ENOSPC, "sandbox.conf too long");                     \
		o += (size_t)_n;                                                                   \
	} while (0)
	if (s->kind == SANDBOX_KIND_DOCKER)
		PUT("# airlock docker sandbox %s: how its gateway sidecar is made\n", s->name);
	else
		PUT("# airlock %s sandbox %s: how it was last started\n",
		    sandbox_kind_name(s->kind), s->name);
	PUT("profile=%s\ndefault=%s\nimage=%s\nairgapped=%d\nip=%s\nsubnet=%s\n", s->profile,
	    s->default_action, s->image, s->airgapped ? 1 : 0, s->ip, s->subnet);
	for (size_t i = 0; i < s->n_upstream; i++)
		PUT("upstream=%s\n", s->upstream[i]);
	if (s->kind != SANDBOX_KIND_DOCKER)
		PUT("pid=%ld\nstarted=%lld\n", s->pid, (long long)s->started_ms);
#undef PUT
	state_path(s, "sandbox.conf", path, sizeof(path));
	return write_atomic(path, buf, o, 0600, d);
}

/* Remove a directory's entries (files and sockets; one level of
 * subdirectories), then the directory. */
static int remove_tree(const char *path, int depth)
{
	DIR *dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	int e = 0;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char sub[PATH_MAX];
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub)) {
			e = -ENAMETOOLONG;
			continue;
		}
		struct stat st;
		if (lstat(sub, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 2) {
			int r = remove_tree(sub, depth + 1);
			if (r < 0)
				e = r;
		} else if (unlink(sub) < 0 && errno != ENOENT) {
			e = -errno;
		}
	}
	closedir(dir);
	if (rmdir(path) < 0 && errno != ENOENT && e == 0)
		e = -errno;
	return e;
}

int state_open(enum sandbox_kind kind, const char *name, struct sandbox_state *s, struct diag *d)
{
	int e = state_load(kind, name, s, d);
	if (e != -ENOENT)
		return e;
	if ((e = dir_of(kind, name, s, d)) < 0)
		return e;
	if (access(s->dir, F_OK) < 0)
		return diag_fail(d, -ENOENT, "no sandbox named %s (nothing in %s)", name, s->dir);
	return 0;
}

int state_find(const char *name, enum sandbox_kind *ret_kind, struct diag *d)
{
	for (size_t i = 0; i < ARRAY_SIZE(all_kinds); i++) {
		struct sandbox_state s;
		int e = dir_of(all_kinds[i], name, &s, d);
		if (e < 0)
			return e;
		if (access(s.dir, F_OK) == 0) {
			*ret_kind = all_kinds[i];
			return 0;
		}
	}
	return diag_fail(d, -ENOENT,
	                 "no sandbox named %s: 'airlock ps' lists the running ones, and "
	                 "'airlock run --name %s' makes one",
	                 name, name);
}

int state_remove(enum sandbox_kind kind, const char *name, struct diag *d)
{
	struct sandbox_state s;
	int e = dir_of(kind, name, &s, d);
	if (e < 0)
		return e;
	e = remove_tree(s.dir, 0);
	if (e < 0)
		return diag_fail(d, e, "cannot remove %s: %s", s.dir, strerror(-e));
	return 0;
}

/* `text` without lines equal to `rule`; *ret_found says if one was there. */
static char *without(const char *text, const char *rule, bool *ret_found)
{
	size_t n = strlen(text), rl = strlen(rule), o = 0;
	/* Every line kept ends with a newline, the last one too when the file
	 * had none there: one byte more than the text, and the NUL. */
	char *out = malloc(n + 2);
	if (!out)
		return NULL;
	*ret_found = false;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t ll = nl ? (size_t)(nl - p) : strlen(p);
		if (ll == rl && memcmp(p, rule, rl) == 0) {
			*ret_found = true;
		} else {
			memcpy(out + o, p, ll);
			o += ll;
			out[o++] = '\n';
		}
		p += ll + (nl ? 1 : 0);
	}
	out[o] = '\0';
	return out;
}

static int edit(const struct sandbox_state *s, const char *rel, const char *rule, bool add,
                bool *changed, struct diag *d)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL, *rest = NULL;
	size_t len;
	bool found;

	state_path(s, rel, path, sizeof(path));
	int e = file_read_all(path, STATE_RULES_MAX, &text, &len, d);
	if (e < 0)
		return e;
	rest = without(text, rule, &found);
	if (!rest)
		return diag_fail(d, -ENOMEM, "out of memory");
	if (add == found)
		return 0; /* already as wanted */
	if (add) {
		size_t rl = strlen(rest), nl = strlen(rule);
		char *grown = realloc(rest, rl + nl + 2);
		if (!grown)
			return diag_fail(d, -ENOMEM, "out of memory");
		rest = grown;
		memcpy(rest + rl, rule, nl);
		rest[rl + nl] = '\n';
		rest[rl + nl + 1] = '\0';
	}
	e = write_atomic(path, rest, strlen(rest), 0644, d);
	if (e == 0)
		*changed = true;
	return e;
}

int state_rule_set(const struct sandbox_state *s, enum action action, bool remove, const char *rule,
                   bool *ret_changed, struct diag *d)
{
	bool changed = false;
	int e;

	if (remove)
		e = edit(s, "rules/allowed-domains", rule, false, &changed, d);
	else
		e = edit(s,
		         action == ACTION_ALLOW ? "rules/blocked-domains" : "rules/allowed-domains",
		         rule, false, &changed, d);
	if (e == 0)
		e = edit(s,
		         remove || action == ACTION_BLOCK ? "rules/blocked-domains"
		                                          : "rules/allowed-domains",
		         rule, !remove, &changed, d);
	if (ret_changed)
		*ret_changed = changed;
	return e;
}

static size_t count_rules(const char *text)
{
	size_t n = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t ll = nl ? (size_t)(nl - p) : strlen(p);
		const char *q = p;
		while (q < p + ll && (*q == ' ' || *q == '\t'))
			q++;
		if (q < p + ll && *q != '#')
			n++;
		p += ll + (nl ? 1 : 0);
	}
	return n;
}

int state_rule_counts(const struct sandbox_state *s, size_t *ret_allowed, size_t *ret_blocked,
                      struct diag *d)
{
	static const char *const files[] = {"rules/allowed-domains", "rules/blocked-domains"};
	size_t *out[] = {ret_allowed, ret_blocked};
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX];
		_cleanup_free_ char *text = NULL;
		size_t len;
		state_path(s, files[i], path, sizeof(path));
		int e = file_read_all(path, STATE_RULES_MAX, &text, &len, d);
		if (e == -ENOENT) {
			*out[i] = 0;
			continue;
		}
		if (e < 0)
			return e;
		*out[i] = count_rules(text);
	}
	return 0;
}

int state_rules_clear(const struct sandbox_state *s, bool *ret_changed, struct diag *d)
{
	static const char *const files[] = {"rules/allowed-domains", "rules/blocked-domains"};
	size_t counts[2];
	int e = state_rule_counts(s, &counts[0], &counts[1], d);
	if (e < 0)
		return e;
	*ret_changed = counts[0] || counts[1];
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX];
		state_path(s, files[i], path, sizeof(path));
		if (counts[i] && (e = write_atomic(path, "", 0, 0644, d)) < 0)
			return e;
	}
	return 0;
}

int state_each(enum sandbox_kind kind, state_each_fn *fn, void *ctx, struct diag *d)
{
	char root[PATH_MAX];
	int e = state_root(kind, root, sizeof(root), d);
	if (e < 0)
		return e;
	DIR *dir = opendir(root);
	if (!dir)
		return errno == ENOENT
		               ? 0
		               : diag_fail(d, -errno, "cannot read %s: %s", root, strerror(errno));
	struct dirent *de;
	while ((de = readdir(dir)))
		if (sandbox_name_check(de->d_name, NULL) == 0 && (e = fn(de->d_name, ctx)) < 0)
			break;
	closedir(dir);
	return e < 0 ? e : 0;
}
