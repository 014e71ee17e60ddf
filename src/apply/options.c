/* options.c - `airlock apply`'s configuration file (see options.h). */
#include "apply/options.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

enum kind {
	K_WORD, /* one word: no blanks, no commas */
	K_LIST, /* a comma-separated list */
	K_BOOL,
	K_POLICY,
};

/* The keys, as table rows: name, kind, where the value goes. */
static const struct key {
	const char *name;
	enum kind kind;
	size_t offset;
} keys[] = {
        {"profile", K_WORD, offsetof(struct apply_options, profile)},
        {"allowedDomains", K_LIST, offsetof(struct apply_options, allowed_domains)},
        {"blockedDomains", K_LIST, offsetof(struct apply_options, blocked_domains)},
        {"defaultPolicy", K_POLICY, offsetof(struct apply_options, default_policy)},
        {"allowDockerNetworks", K_BOOL, offsetof(struct apply_options, allow_docker_networks)},
        {"allowLocalhost", K_BOOL, offsetof(struct apply_options, allow_localhost)},
        {"immutableConfig", K_BOOL, offsetof(struct apply_options, immutable_config)},
        {"logBlocked", K_BOOL, offsetof(struct apply_options, log_blocked)},
        {"allowClaudeWebFetchDomains", K_BOOL,
         offsetof(struct apply_options, allow_claude_webfetch)},
        {"claudeSettingsPaths", K_LIST, offsetof(struct apply_options, claude_settings_paths)},
        {"name", K_WORD, offsetof(struct apply_options, name)},
        {"user", K_WORD, offsetof(struct apply_options, user)},
        {"adminUser", K_WORD, offsetof(struct apply_options, admin_user)},
        {"upstream", K_LIST, offsetof(struct apply_options, upstream)},
        {"dockerNetworks", K_LIST, offsetof(struct apply_options, docker_networks)},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static char *dup_text(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void apply_options_init(struct apply_options *o)
{
	static const char docker[] = "172.16.0.0/12,10.0.0.0/8,192.168.0.0/16";
	static const char claude[] =
	        ".claude/settings.json,.claude/settings.local.json,~/.claude/settings.json";
	memset(o, 0, sizeof(*o));
	snprintf(o->profile, sizeof(o->profile), "standard");
	snprintf(o->name, sizeof(o->name), "devcontainer");
	snprintf(o->user, sizeof(o->user), "airlock");
	o->default_policy = -1;
	o->allow_docker_networks = true;
	o->allow_localhost = true;
	o->immutable_config = true;
	o->log_blocked = true;
	o->allow_claude_webfetch = true;
	o->allowed_domains = dup_text("", 0);
	o->blocked_domains = dup_text("", 0);
	o->upstream = dup_text("", 0);
	o->docker_networks = dup_text(docker, sizeof(docker) - 1);
	o->claude_settings_paths = dup_text(claude, sizeof(claude) - 1);
}

void apply_options_done(struct apply_options *o)
{
	free(o->allowed_domains);
	free(o->blocked_domains);
	free(o->claude_settings_paths);
	free(o->upstream);
	free(o->docker_networks);
	memset(o, 0, sizeof(*o));
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int set_value(struct apply_options *o, const struct key *k, const char *v, size_t n,
                     const char *where, struct diag *d)
{
	char esc[DIAG_ESCAPE_SIZE];
	void *field = (char *)o + k->offset;

	switch (k->kind) {
	case K_WORD:
		if (n == 0 || n >= APPLY_WORD_MAX || memchr(v, ' ', n) || memchr(v, ',', n) ||
		    memchr(v, '\t', n))
			return diag_fail(d, -EINVAL,
			                 "%s: %s: expected one word of at most %d "
			                 "characters, not '%s'",
			                 where, k->name, APPLY_WORD_MAX - 1,
			                 diag_escape(v, n, esc, sizeof(esc)));
		memcpy(field, v, n);
		((char *)field)[n] = '\0';
		return 0;
	case K_LIST: {
		if (n > APPLY_VALUE_MAX)
			return diag_fail(d, -EINVAL, "%s: %s: longer than %d bytes", where, k->name,
			                 APPLY_VALUE_MAX);
		char *copy = dup_text(v, n);
		if (!copy)
			return diag_fail(d, -ENOMEM, "out of memory");
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case K_BOOL:
		if (n == 4 && memcmp(v, "true", 4) == 0)
			*(bool *)field = true;
		else if (n == 5 && memcmp(v, "false", 5) == 0)
			*(bool *)field = false;
		else
			return diag_fail(d, -EINVAL, "%s: %s: expected true or false, not '%s'",
			                 where, k->name, diag_escape(v, n, esc, sizeof(esc)));
		return 0;
	case K_POLICY:
		if (n == 5 && memcmp(v, "allow", 5) == 0)
			*(int *)field = ACTION_ALLOW;
		else if (n == 5 && memcmp(v, "block", 5) == 0)
			*(int *)field = ACTION_BLOCK;
		else
			return diag_fail(d, -EINVAL, "%s: %s: expected allow or block, not '%s'",
			                 where, k->name, diag_escape(v, n, esc, sizeof(esc)));
		return 0;
	}
	return -EINVAL;
}

int apply_options_parse(struct apply_options *o, const char *text, size_t len, const char *source,
                        struct diag *d)
{
	bool seen[N_KEYS] = {false};
	unsigned line = 0;
	char where[512], esc[DIAG_ESCAPE_SIZE];

	if (len > APPLY_CONFIG_MAX)
		return diag_fail(d, -EINVAL, "%s: larger than %d bytes", source, APPLY_CONFIG_MAX);
	if (memchr(text, '\0', len))
		return diag_fail(d, -EINVAL, "%s: holds a NUL byte: not a text file", source);
	for (size_t pos = 0; pos < len;) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		line++;
		snprintf(where, sizeof(where), "%s:%u", source, line);
		while (n && blank(*s)) {
			s++;
			n--;
		}
		while (n && blank(s[n - 1]))
			n--;
		if (n == 0 || s[0] == '#')
			continue;
		const char *eq = memchr(s, '=', n);
		if (!eq)
			return diag_fail(d, -EINVAL, "%s: expected KEY = VALUE, not '%s'", where,
			                 diag_escape(s, n, esc, sizeof(esc)));
		size_t kn = (size_t)(eq - s), vn = n - kn - 1;
		const char *v = eq + 1;
		while (kn && blank(s[kn - 1]))
			kn--;
		while (vn && blank(*v)) {
			v++;
			vn--;
		}
		size_t i;
		for (i = 0; i < N_KEYS; i++)
			if (strlen(keys[i].name) == kn && memcmp(keys[i].name, s, kn) == 0)
				break;
		if (i == N_KEYS)
			return diag_fail(
			        d, -EINVAL,
			        "%s: unknown option '%s' (docs/devcontainer.md lists them)", where,
			        diag_escape(s, kn, esc, sizeof(esc)));
		if (seen[i])
			return diag_fail(d, -EINVAL, "%s: %s given twice", where, keys[i].name);
		seen[i] = true;
		for (size_t c = 0; c < vn; c++)
			if ((unsigned char)v[c] < 0x20 && v[c] != '\t')
				return diag_fail(d, -EINVAL,
				                 "%s: %s: control byte 0x%02x in the value", where,
				                 keys[i].name, (unsigned char)v[c]);
		int e = set_value(o, &keys[i], v, vn, where, d);
		if (e < 0)
			return e;
	}
	return 0;
}

int apply_each_item(const char *list, apply_item_fn *fn, void *ctx)
{
	for (const char *p = list; *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *s = p;
		while (n && blank(*s)) {
			s++;
			n--;
		}
		while (n && blank(s[n - 1]))
			n--;
		if (n) {
			int r = fn(s, n, ctx);
			if (r)
				return r;
		}
		p += (comma ? (size_t)(comma - p) + 1 : strlen(p));
	}
	return 0;
}
