/* nftables.c - libnftables, with its errors captured (see nftables.h). */
#include "enforce/nftables.h"

#include <errno.h>
#include <json-c/json.h>
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nftables {
	struct nft_ctx *ctx;
};

/* A context whose output and errors go to buffers, never to our stdio. */
static struct nft_ctx *ctx_new(unsigned flags)
{
	struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!c)
		return NULL;
	if (nft_ctx_buffer_output(c) < 0 || nft_ctx_buffer_error(c) < 0) {
		nft_ctx_free(c);
		return NULL;
	}
	nft_ctx_output_set_flags(c, flags);
	return c;
}

static void ctx_freep(struct nft_ctx **c)
{
	if (*c)
		nft_ctx_free(*c);
}

struct nftables *nftables_open(struct diag *d)
{
	struct nftables *n = calloc(1, sizeof(*n));
	if (!n || !(n->ctx = ctx_new(0))) {
		free(n);
		diag_fail(d, -ENOMEM, "cannot create an nftables context");
		return NULL;
	}
	return n;
}

void nftables_close(struct nftables *n)
{
	if (!n)
		return;
	nft_ctx_free(n->ctx);
	free(n);
}

/* libnftables says what failed only in text: map the kernel's error
 * strings it prints back to an errno, and keep the text (first lines). */
static int fail(struct nft_ctx *c, const char *what, struct diag *d)
{
	const char *err = nft_ctx_get_error_buffer(c);
	int e = -EINVAL;

	if (!err || !*err)
		err = "no error text";
	if (strstr(err, "Operation not permitted"))
		e = -EPERM;
	else if (strstr(err, "not supported") || strstr(err, "No such file or directory") ||
	         strstr(err, "Protocol not supported"))
		e = -EOPNOTSUPP;
	/* The text is several lines (message, rule, caret); one line each in the
	 * diag is enough to see the rule and the kernel's reason. */
	char flat[DIAG_MSG_MAX / 2];
	size_t o = 0;
	for (const char *p = err; *p && o + 1 < sizeof(flat); p++) {
		char ch = *p == '\n' ? ' ' : *p;
		if (ch == ' ' && o && flat[o - 1] == ' ')
			continue;
		flat[o++] = ch;
	}
	while (o && flat[o - 1] == ' ')
		o--;
	flat[o] = '\0';
	return diag_fail(d, e, "nftables %s: %s", what, flat);
}

int nftables_run(struct nftables *n, const char *text, struct diag *d)
{
	if (nft_run_cmd_from_buffer(n->ctx, text) != 0)
		return fail(n->ctx, "refused the ruleset", d);
	return 0;
}

int nftables_apply(const char *text, struct diag *d)
{
	struct nftables *n = nftables_open(d);
	if (!n)
		return -ENOMEM;
	int e = nftables_run(n, text, d);
	nftables_close(n);
	return e;
}

int nftables_counters(const char *table, const char *const names[], uint64_t packets[], size_t n,
                      struct diag *d)
{
	_cleanup_(ctx_freep) struct nft_ctx *c = ctx_new(NFT_CTX_OUTPUT_JSON);
	char cmd[256];

	for (size_t i = 0; i < n; i++)
		packets[i] = 0;
	if (!c)
		return diag_fail(d, -ENOMEM, "cannot create an nftables context");
	if (snprintf(cmd, sizeof(cmd), "list counters table inet %s", table) >= (int)sizeof(cmd))
		return diag_fail(d, -ENAMETOOLONG, "table name too long");
	if (nft_run_cmd_from_buffer(c, cmd) != 0)
		return fail(c, "cannot list the counters", d);

	json_object *root = json_tokener_parse(nft_ctx_get_output_buffer(c));
	json_object *list;
	if (!root || !json_object_object_get_ex(root, "nftables", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		json_object_put(root);
		return diag_fail(d, -EBADMSG, "nftables listed the counters in an unknown form");
	}
	for (size_t k = 0; k < json_object_array_length(list); k++) {
		json_object *item = json_object_array_get_idx(list, k), *counter, *name, *pk;
		if (!json_object_object_get_ex(item, "counter", &counter) ||
		    !json_object_object_get_ex(counter, "name", &name) ||
		    !json_object_object_get_ex(counter, "packets", &pk))
			continue;
		for (size_t i = 0; i < n; i++)
			if (strcmp(json_object_get_string(name), names[i]) == 0)
				packets[i] = (uint64_t)json_object_get_int64(pk);
	}
	json_object_put(root);
	return 0;
}
