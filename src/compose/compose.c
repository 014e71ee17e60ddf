/* compose.c - what airlock reads of a compose file (see compose.h).
 *
 * libyaml builds the document tree (its own node table; aliases are
 * indexes into it, so an alias costs nothing to hold); this file walks the
 * few paths compose.h names.  Aliases can make a node reachable many times,
 * so every walk is bounded by depth (merge keys) and every list by a cap. */
#include "compose/compose.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct walk {
	yaml_document_t *doc;
	const char *label;
	struct diag *d;
};

static yaml_node_t *node_at(struct walk *w, int index)
{
	return index > 0 ? yaml_document_get_node(w->doc, index) : NULL;
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	size_t len = strlen(s);
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == len &&
	       memcmp(n->data.scalar.value, s, len) == 0;
}

static const char *scalar(const yaml_node_t *n, size_t *ret_len)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	*ret_len = n->data.scalar.length;
	return (const char *)n->data.scalar.value;
}

/* A merge key is a plain `<<`: quoted, it is an ordinary key (as PyYAML,
 * which compose v1 uses, and the YAML 1.1 merge type say). */
static bool is_merge(const yaml_node_t *n)
{
	return scalar_is(n, "<<") && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML 1.1 booleans, as compose's parser reads them. */
static bool is_true(const yaml_node_t *n)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
	                                  "YES",  "on",   "On",   "ON",  "y"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (scalar_is(n, yes[i]))
			return true;
	return false;
}

static bool is_null(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE &&
	       (n->data.scalar.length == 0 || scalar_is(n, "~") || scalar_is(n, "null") ||
	        scalar_is(n, "Null") || scalar_is(n, "NULL"));
}

_printf_(3, 4) static int fail_at(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[DIAG_MSG_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		return diag_fail(w->d, -EINVAL, "%s:%zu:%zu: %s", w->label, n->start_mark.line + 1,
		                 n->start_mark.column + 1, msg);
	return diag_fail(w->d, -EINVAL, "%s: %s", w->label, msg);
}

/* Call fn for each (key, value) of mapping `map`, its own pairs first, then
 * those of the mappings merged into it (`<<: *a` or `<<: [*a, *b]`),
 * `depth` levels at most.  Stops at fn's first non-zero return. */
typedef int pair_fn(struct walk *w, yaml_node_t *key, yaml_node_t *value, void *ctx);

static int each_pair(struct walk *w, yaml_node_t *map, int depth, pair_fn *fn, void *ctx)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return 0;
	if (depth > COMPOSE_MERGE_DEPTH)
		return fail_at(w, map, "merge keys (<<) nested over %d deep", COMPOSE_MERGE_DEPTH);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(w, p->key), *v = node_at(w, p->value);
		if (is_merge(k))
			continue;
		int r = fn(w, k, v, ctx);
		if (r)
			return r;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(w, p->key), *v = node_at(w, p->value);
		if (!is_merge(k) || !v)
			continue;
		if (v->type == YAML_MAPPING_NODE) {
			int r = each_pair(w, v, depth + 1, fn, ctx);
			if (r)
				return r;
		} else if (v->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *i = v->data.sequence.items.start;
			     i < v->data.sequence.items.top; i++) {
				int r = each_pair(w, node_at(w, *i), depth + 1, fn, ctx);
				if (r)
					return r;
			}
		} else {
			return fail_at(w, v, "a merge key (<<) needs a mapping or a list of them");
		}
	}
	return 0;
}

struct lookup {
	const char *key;
	yaml_node_t *value;
};

static int lookup_one(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	struct lookup *l = ctx;
	(void)w;
	if (scalar_is(k, l->key)) {
		l->value = v;
		return 1;
	}
	return 0;
}

/* The value of `key` in `map` (merges included), or NULL; *ret_err < 0 when
 * the walk failed. */
static yaml_node_t *map_get(struct walk *w, yaml_node_t *map, const char *key, int *ret_err)
{
	struct lookup l = {key, NULL};
	int r = each_pair(w, map, 0, lookup_one, &l);
	if (r < 0)
		*ret_err = r;
	return l.value;
}

/* Copy a scalar's text into a fixed field; -E2BIG naming `what` when it is
 * too long, -EINVAL when it is not a scalar or holds a NUL byte. */
static int copy_name(struct walk *w, const yaml_node_t *n, char *out, size_t size, const char *what)
{
	size_t len;
	const char *s = scalar(n, &len);
	if (!s)
		return fail_at(w, n, "%s: expected a name", what);
	if (len == 0 || memchr(s, '\0', len))
		return fail_at(w, n, "%s: an empty name, or one with a NUL byte", what);
	if (len >= size) {
		fail_at(w, n, "%s: a name over %zu bytes", what, size - 1);
		return -E2BIG;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* ---- one service ---- */

static int add_network(struct walk *w, struct compose_service *s, yaml_node_t *n)
{
	char name[COMPOSE_NAME_MAX];
	int e = copy_name(w, n, name, sizeof(name), "a network of the service");
	if (e < 0)
		return e;
	for (size_t i = 0; i < s->n_networks; i++)
		if (strcmp(s->networks[i], name) == 0)
			return 0;
	if (s->n_networks == COMPOSE_MAX_NETWORKS) {
		fail_at(w, n, "service %s: over %d networks", s->name, COMPOSE_MAX_NETWORKS);
		return -E2BIG;
	}
	if (!s->networks && !(s->networks = calloc(COMPOSE_MAX_NETWORKS, sizeof(*s->networks))))
		return diag_fail(w->d, -ENOMEM, "out of memory");
	memcpy(s->networks[s->n_networks++], name, sizeof(name));
	return 0;
}

static int network_key(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	(void)v;
	int e = add_network(w, ctx, k);
	return e < 0 ? e : 0;
}

static int add_env(struct walk *w, struct compose_service *s, const yaml_node_t *at,
                   const char *key, size_t len)
{
	if (len == 0)
		return 0;
	if (len >= COMPOSE_NAME_MAX || memchr(key, '\0', len)) {
		fail_at(w, at,
		        "service %s: an environment variable name over %d bytes, or with "
		        "a NUL byte",
		        s->name, COMPOSE_NAME_MAX - 1);
		return -E2BIG;
	}
	for (size_t i = 0; i < s->n_env; i++)
		if (strlen(s->env[i]) == len && memcmp(s->env[i], key, len) == 0)
			return 0;
	if (s->n_env == COMPOSE_MAX_ENV) {
		fail_at(w, at, "service %s: over %d environment variables", s->name,
		        COMPOSE_MAX_ENV);
		return -E2BIG;
	}
	if (!s->env && !(s->env = calloc(COMPOSE_MAX_ENV, sizeof(*s->env))))
		return diag_fail(w->d, -ENOMEM, "out of memory");
	if (!(s->env[s->n_env] = strndup(key, len)))
		return diag_fail(w->d, -ENOMEM, "out of memory");
	s->n_env++;
	return 0;
}

static int env_key(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	size_t len;
	const char *key = scalar(k, &len);
	(void)v;
	if (!key)
		return fail_at(w, k, "an environment variable's name must be a string");
	int e = add_env(w, ctx, k, key, len);
	return e < 0 ? e : 0;
}

static int read_env(struct walk *w, struct compose_service *s, yaml_node_t *env)
{
	if (!env || is_null(env))
		return 0;
	if (env->type == YAML_MAPPING_NODE)
		return each_pair(w, env, 0, env_key, s);
	if (env->type != YAML_SEQUENCE_NODE)
		return fail_at(w, env, "service %s: environment must be a mapping or a list",
		               s->name);
	for (yaml_node_item_t *i = env->data.sequence.items.start; i < env->data.sequence.items.top;
	     i++) {
		yaml_node_t *item = node_at(w, *i);
		size_t len;
		const char *text = scalar(item, &len);
		if (!text)
			return fail_at(w, item,
			               "service %s: an environment entry must be KEY=VALUE",
			               s->name);
		const char *eq = memchr(text, '=', len);
		int e = add_env(w, s, item, text, eq ? (size_t)(eq - text) : len);
		if (e < 0)
			return e;
	}
	return 0;
}

static int read_networks(struct walk *w, struct compose_service *s, yaml_node_t *nets)
{
	s->has_networks = true;
	if (is_null(nets))
		return 0;
	if (nets->type == YAML_MAPPING_NODE)
		return each_pair(w, nets, 0, network_key, s);
	if (nets->type != YAML_SEQUENCE_NODE)
		return fail_at(w, nets, "service %s: networks must be a list or a mapping",
		               s->name);
	for (yaml_node_item_t *i = nets->data.sequence.items.start;
	     i < nets->data.sequence.items.top; i++) {
		int e = add_network(w, s, node_at(w, *i));
		if (e < 0)
			return e;
	}
	return 0;
}

static int read_service(struct walk *w, yaml_node_t *key, yaml_node_t *body,
                        struct compose_service *s)
{
	int e = copy_name(w, key, s->name, sizeof(s->name), "a service");
	if (e < 0)
		return e;
	s->line = (int)key->start_mark.line + 1;
	s->column = (int)key->start_mark.column + 1;
	if (!body || is_null(body))
		return 0;
	if (body->type != YAML_MAPPING_NODE)
		return fail_at(w, body, "service %s: expected a mapping", s->name);

	e = 0;
	yaml_node_t *v;
	if ((v = map_get(w, body, "networks", &e)) && e == 0)
		e = read_networks(w, s, v);
	if (e == 0 && (v = map_get(w, body, "network_mode", &e)) && e == 0) {
		size_t len;
		const char *m = scalar(v, &len);
		s->has_network_mode = true;
		if (m)
			snprintf(s->network_mode, sizeof(s->network_mode), "%.*s",
			         (int)(len < sizeof(s->network_mode) ? len
			                                             : sizeof(s->network_mode) - 1),
			         m);
	}
	if (e == 0 && (v = map_get(w, body, "dns", &e)) && e == 0)
		s->dns = !is_null(v);
	if (e == 0 && (v = map_get(w, body, "privileged", &e)) && e == 0)
		s->privileged = is_true(v);
	if (e == 0 && (v = map_get(w, body, "pid", &e)) && e == 0)
		s->pid_host = scalar_is(v, "host");
	if (e == 0 && (v = map_get(w, body, "userns_mode", &e)) && e == 0)
		s->userns_host = scalar_is(v, "host");
	if (e == 0 && (v = map_get(w, body, "env_file", &e)) && e == 0)
		s->env_file = !is_null(v);
	if (e == 0 && (v = map_get(w, body, "environment", &e)) && e == 0)
		e = read_env(w, s, v);
	return e;
}

/* ---- the file ---- */

struct services_ctx {
	struct compose_file *f;
};

static int service_pair(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	struct compose_file *f = ((struct services_ctx *)ctx)->f;
	char name[COMPOSE_NAME_MAX];
	int e = copy_name(w, k, name, sizeof(name), "a service");
	if (e < 0)
		return e;
	if (compose_service(f, name))
		return 0; /* a merged mapping's service the file defines itself */
	if (f->n_services == COMPOSE_MAX_SERVICES) {
		fail_at(w, k, "over %d services", COMPOSE_MAX_SERVICES);
		return -E2BIG;
	}
	struct compose_service *s = &f->services[f->n_services++];
	e = read_service(w, k, v, s);
	return e < 0 ? e : 0;
}

static int network_pair(struct walk *w, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	struct compose_file *f = ctx;
	char name[COMPOSE_NAME_MAX];
	int e = copy_name(w, k, name, sizeof(name), "a network");
	if (e < 0)
		return e;
	for (size_t i = 0; i < f->n_networks; i++)
		if (strcmp(f->networks[i].name, name) == 0)
			return 0;
	if (f->n_networks == COMPOSE_MAX_NETWORKS) {
		fail_at(w, k, "over %d networks", COMPOSE_MAX_NETWORKS);
		return -E2BIG;
	}
	struct compose_network *n = &f->networks[f->n_networks++];
	memcpy(n->name, name, sizeof(name));
	if (v && v->type == YAML_MAPPING_NODE) {
		yaml_node_t *x = map_get(w, v, "external", &e);
		if (e < 0)
			return e;
		/* external: true, or the old external: {name: ...} */
		n->external = x && (is_true(x) || x->type == YAML_MAPPING_NODE);
	} else if (v && !is_null(v)) {
		return fail_at(w, v, "network %s: expected a mapping", name);
	}
	return 0;
}

static int walk_root(struct walk *w, struct compose_file *f)
{
	yaml_node_t *root = yaml_document_get_root_node(w->doc);
	int e = 0;

	if (!root || is_null(root))
		return fail_at(w, NULL, "empty: not a compose file (no services)");
	if (root->type != YAML_MAPPING_NODE)
		return fail_at(w, root, "not a compose file: the top level is not a mapping");
	yaml_node_t *services = map_get(w, root, "services", &e);
	if (e < 0)
		return e;
	if (!services || is_null(services))
		return fail_at(w, root, "not a compose file: no services");
	if (services->type != YAML_MAPPING_NODE)
		return fail_at(w, services, "services: expected a mapping of service names");
	f->services = calloc(COMPOSE_MAX_SERVICES, sizeof(*f->services));
	f->networks = calloc(COMPOSE_MAX_NETWORKS, sizeof(*f->networks));
	if (!f->services || !f->networks)
		return diag_fail(w->d, -ENOMEM, "out of memory");
	struct services_ctx sc = {f};
	if ((e = each_pair(w, services, 0, service_pair, &sc)) < 0)
		return e;
	yaml_node_t *nets = map_get(w, root, "networks", &e);
	if (e < 0)
		return e;
	if (nets && !is_null(nets)) {
		if (nets->type != YAML_MAPPING_NODE)
			return fail_at(w, nets, "networks: expected a mapping of network names");
		if ((e = each_pair(w, nets, 0, network_pair, f)) < 0)
			return e;
	}
	return 0;
}

/* libyaml's own account of what is wrong, with the place. */
static int yaml_error(const yaml_parser_t *p, const char *label, struct diag *d)
{
	char ctx[256] = "";
	if (p->error == YAML_MEMORY_ERROR)
		return diag_fail(d, -ENOMEM, "%s: out of memory reading YAML", label);
	if (p->context)
		snprintf(ctx, sizeof(ctx), " (%s at line %zu, column %zu)", p->context,
		         p->context_mark.line + 1, p->context_mark.column + 1);
	return diag_fail(d, -EINVAL, "%s:%zu:%zu: YAML: %s%s", label, p->problem_mark.line + 1,
	                 p->problem_mark.column + 1, p->problem ? p->problem : "malformed", ctx);
}

int compose_parse(const char *buf, size_t len, const char *label, struct compose_file *ret,
                  struct diag *d)
{
	yaml_parser_t parser;
	yaml_document_t doc;

	memset(ret, 0, sizeof(*ret));
	if (len > COMPOSE_FILE_MAX)
		return diag_fail(d, -E2BIG, "%s: over %d bytes: not a compose file this tool reads",
		                 label, COMPOSE_FILE_MAX);
	if (!yaml_parser_initialize(&parser))
		return diag_fail(d, -ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		int e = yaml_error(&parser, label, d);
		yaml_parser_delete(&parser);
		return e;
	}
	struct walk w = {&doc, label, d};
	int e = walk_root(&w, ret);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (e < 0)
		compose_file_done(ret);
	return e;
}

void compose_file_done(struct compose_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; f->services && i < COMPOSE_MAX_SERVICES; i++) {
		struct compose_service *s = &f->services[i];
		for (size_t k = 0; k < s->n_env; k++)
			free(s->env[k]);
		free(s->env);
		free(s->networks);
	}
	free(f->services);
	free(f->networks);
	memset(f, 0, sizeof(*f));
}

const struct compose_service *compose_service(const struct compose_file *f, const char *name)
{
	for (size_t i = 0; i < f->n_services; i++)
		if (strcmp(f->services[i].name, name) == 0)
			return &f->services[i];
	return NULL;
}
