#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dns/upstream.h"
#include "policy/claude.h"
#include "policy/rulelist.h"
#include "util/file.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "airlock %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_parse_user(const char *cmd, const char *opt, const char *text, uid_t *ret_uid,
                   gid_t *ret_gid)
{
	unsigned long u = 0, g = 0;
	char *end = (char *)text;
	bool ok = isdigit((unsigned char)text[0]);
	errno = 0;
	if (ok)
		u = strtoul(text, &end, 10);
	ok = ok && *end == ':' && isdigit((unsigned char)end[1]);
	if (ok)
		g = strtoul(end + 1, &end, 10);
	if (!ok || errno || *end || u == 0 || u >= UINT32_MAX || g >= UINT32_MAX) {
		cli_error(cmd, "%s '%s': expected UID:GID (not root), e.g. 65532:65532", opt, text);
		return -1;
	}
	*ret_uid = (uid_t)u;
	*ret_gid = (gid_t)g;
	return 0;
}

void cli_format_origin(const struct rule_info *ri, char *buf, size_t size)
{
	if (ri->line)
		snprintf(buf, size, "%s:%u", ri->origin, ri->line);
	else
		snprintf(buf, size, "%s", ri->origin);
}

void policy_args_init(struct policy_args *a)
{
	memset(a, 0, sizeof(*a));
	a->profile = "standard";
	a->default_action = -1;
}

void policy_args_done(struct policy_args *a)
{
	free(a->items);
	a->items = NULL;
	a->n_items = 0;
}

static int push(struct policy_args *a, const char *cmd, enum policy_item_type type,
                enum action action, const char *arg)
{
	struct policy_item *items = reallocarray(a->items, a->n_items + 1, sizeof(*items));
	if (!items) {
		cli_error(cmd, "out of memory");
		return -1;
	}
	a->items = items;
	a->items[a->n_items++] = (struct policy_item){type, action, arg, NULL};
	return 1;
}

int policy_args_add(struct policy_args *a, const char *cmd, enum policy_item_type type,
                    enum action action, const char *arg, const char *label)
{
	if (push(a, cmd, type, action, arg) < 0)
		return -1;
	a->items[a->n_items - 1].label = label;
	return 0;
}

int policy_args_option(struct policy_args *a, const char *cmd, int opt, const char *arg)
{
	switch (opt) {
	case 'p':
		a->profile = arg;
		return 1;
	case 'a':
		return push(a, cmd, POLICY_ITEM_RULE, ACTION_ALLOW, arg);
	case 'b':
		return push(a, cmd, POLICY_ITEM_RULE, ACTION_BLOCK, arg);
	case OPT_ALLOW_FILE:
		return push(a, cmd, POLICY_ITEM_FILE, ACTION_ALLOW, arg);
	case OPT_BLOCK_FILE:
		return push(a, cmd, POLICY_ITEM_FILE, ACTION_BLOCK, arg);
	case OPT_CLAUDE_SETTINGS:
		return push(a, cmd, POLICY_ITEM_CLAUDE, ACTION_ALLOW, arg);
	case OPT_CLAUDE:
		a->claude_defaults = true;
		return 1;
	case OPT_DEFAULT:
		if (strcmp(arg, "allow") == 0) {
			a->default_action = ACTION_ALLOW;
		} else if (strcmp(arg, "block") == 0) {
			a->default_action = ACTION_BLOCK;
		} else {
			cli_error(cmd, "--default '%s': expected allow or block", arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

static int add_item(struct policy_builder *b, const struct policy_item *it, uint32_t cmdline,
                    struct diag *d)
{
	struct rule r;
	int ret;

	switch (it->type) {
	case POLICY_ITEM_RULE:
		ret = rule_parse(it->arg, strlen(it->arg), &r, d);
		if (ret == 0)
			ret = policy_builder_add(b, it->action, &r, cmdline, 0);
		if (ret < 0)
			diag_prefix(d, "--%s %s: ", it->action == ACTION_ALLOW ? "allow" : "block",
			            it->arg);
		return ret;
	case POLICY_ITEM_FILE:
		return rulelist_load_file(b, it->action, it->arg, NULL, d);
	case POLICY_ITEM_SANDBOX_FILE:
		return rulelist_load_file_replacing(b, it->action, it->arg, it->label, NULL, d);
	case POLICY_ITEM_CLAUDE: {
		/* Relative to the workspace, which for the CLI is where it runs. */
		char path[4096];
		ret = claude_resolve_path(NULL, it->arg, path);
		if (ret < 0)
			return diag_fail(d, ret,
			                 "--claude-settings %s: cannot expand ~ without $HOME",
			                 it->arg);
		return claude_import_file(b, path, NULL, d);
	}
	}
	return -EINVAL;
}

int policy_args_build(const struct policy_args *a, const char *cmd, struct profile *ret_profile,
                      struct policy **ret)
{
	struct diag d = {""};
	int r = policy_args_compile(a, ret_profile, ret, &d);
	if (r < 0) {
		cli_error(cmd, "%s", d.msg[0] ? d.msg : strerror(-r));
		return -1;
	}
	return 0;
}

int policy_args_load(const struct policy_args *a, struct policy_builder *b,
                     struct profile *ret_profile, struct diag *d)
{
	struct profile_paths pp;
	uint32_t cmdline;
	int r;

	profile_paths_default(&pp);
	r = profile_load(b, a->profile, &pp, ret_profile, d);
	if (r < 0)
		return r;

	if (a->claude_defaults) {
		char paths[3][4096];
		size_t n = claude_default_paths(".", paths, ARRAY_SIZE(paths));
		for (size_t i = 0; i < n; i++) {
			if (access(paths[i], F_OK) != 0)
				continue;
			r = claude_import_file(b, paths[i], NULL, d);
			if (r < 0)
				return r;
		}
	}
	r = policy_builder_origin(b, "command line", &cmdline);
	if (r < 0)
		return diag_fail(d, r, "out of memory");
	for (size_t i = 0; i < a->n_items; i++) {
		r = add_item(b, &a->items[i], cmdline, d);
		if (r < 0)
			return r;
	}
	if (a->default_action >= 0)
		policy_builder_set_default(b, (enum action)a->default_action);
	return 0;
}

int policy_args_compile(const struct policy_args *a, struct profile *ret_profile,
                        struct policy **ret, struct diag *d)
{
	_cleanup_(policy_builder_freep) struct policy_builder *b = policy_builder_new();

	if (!b)
		return diag_fail(d, -ENOMEM, "out of memory");
	int r = policy_args_load(a, b, ret_profile, d);
	if (r < 0)
		return r;
	return policy_compile(TAKE_PTR(b), ret, d);
}

int cli_default_upstreams(const char *cmd, struct upstream_config *c)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct diag d;

	if (file_read_all("/etc/resolv.conf", 64 * 1024, &text, &len, &d) < 0 ||
	    upstream_config_from_resolv_conf(c, text) < 0) {
		cli_error(cmd, "no upstream resolver: /etc/resolv.conf has no usable "
		               "nameserver; give one with --upstream ADDR");
		return -1;
	}
	return 0;
}
