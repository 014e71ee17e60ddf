/* compose.h - a docker-compose file as airlock needs to know it, and the
 * overlay that puts some of its services behind an airlock gateway sidecar.
 *
 * Reading: the YAML is parsed by libyaml (yaml_parser_load, a document
 * tree); compose_parse() walks that tree into the little this module needs:
 * each service's name and position, the networks it lists, whether it sets
 * network_mode, dns, privileged, pid/userns_mode: host, the keys of its
 * environment, whether it has env_file; the top-level networks and which
 * are external.  YAML merge keys (`<<: *base`) count, as compose reads them.
 * The bytes are untrusted: the size is capped (COMPOSE_FILE_MAX), every
 * count is capped, the walk never follows an alias more than
 * COMPOSE_MERGE_DEPTH deep, and every error says where (LABEL:LINE:COLUMN)
 * and what.  This walk is what fuzz/fuzz_compose.c exercises.
 *
 * Writing: compose_render() is pure.  The overlay, used after the person's
 * file (`docker compose -f docker-compose.yml -f overlay.yml up`), adds
 *
 *   networks  airlock-internal  internal: true, no address on the host's
 *                               side (bridge.inhibit_ipv4), the given subnet
 *                               with dynamic addresses in its upper half
 *             airlock-egress    a bridge network with NAT, for the sidecar
 *   services  airlock-gateway   the gateway image, hardened as `airlock docker
 *                               run`'s sidecar (non-root, cap_drop ALL,
 *                               read_only, no-new-privileges, tmpfs,
 *                               limits, the healthcheck), on both networks,
 *                               SUBNET.2 on the internal one
 *             each SERVICE      on airlock-internal (only: see below), dns
 *                               at the sidecar, the proxy variables,
 *                               telemetry-off defaults it can override, and
 *                               depends_on the sidecar being healthy
 *
 * Compose merges a service's `networks` from both files, so an overlay
 * cannot take a service off a network it lists: such networks are declared
 * `internal: true` in the overlay instead (no route out for anything on
 * them), and the notes say which other services that touches.  Services
 * whose network can only be undone by removing lines are refused:
 * network_mode (host, another container's, ...), dns (the sandbox chooses
 * it), privileged, pid or userns_mode host, and networks declared external.
 * Telemetry defaults are `${VAR:-default}`, and are left out for a variable
 * the service's environment already sets, so the person's value wins.
 */
#ifndef AIRLOCK_COMPOSE_COMPOSE_H
#define AIRLOCK_COMPOSE_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/diag.h"

#define COMPOSE_FILE_MAX     (1024 * 1024)
#define COMPOSE_MAX_SERVICES 256
#define COMPOSE_MAX_NETWORKS 64   /* top-level, and on one service */
#define COMPOSE_MAX_ENV      1024 /* environment keys of one service */
#define COMPOSE_NAME_MAX     128  /* service, network and variable names */
#define COMPOSE_MERGE_DEPTH  8
#define COMPOSE_NOTES_MAX    2048

#define COMPOSE_SIDECAR  "airlock-gateway"
#define COMPOSE_INTERNAL "airlock-internal"
#define COMPOSE_EGRESS   "airlock-egress"

struct compose_service {
	char name[COMPOSE_NAME_MAX];
	int line, column; /* where its key is, from 1 */
	char (*networks)[COMPOSE_NAME_MAX];
	size_t n_networks;
	bool has_networks;     /* a `networks` key, even empty */
	char network_mode[64]; /* "" when not set; cut to fit */
	bool has_network_mode;
	bool dns;         /* sets dns */
	bool privileged;  /* privileged: true */
	bool pid_host;    /* pid: host */
	bool userns_host; /* userns_mode: host */
	bool env_file;    /* has env_file */
	char **env;       /* the keys its environment sets */
	size_t n_env;
};

struct compose_network {
	char name[COMPOSE_NAME_MAX];
	bool external;
};

struct compose_file {
	struct compose_service *services;
	size_t n_services;
	struct compose_network *networks;
	size_t n_networks;
};

/* Parse `len` bytes (`label` names them in errors: a path or "stdin").
 * 0, or -EINVAL (not YAML: "LABEL:LINE:COLUMN: YAML: ..."; not a compose
 * file: the same with what is wrong), -E2BIG (a cap), -ENOMEM. */
int compose_parse(const char *buf, size_t len, const char *label, struct compose_file *ret,
                  struct diag *d);
void compose_file_done(struct compose_file *f);

/* The service called `name`, or NULL. */
const struct compose_service *compose_service(const struct compose_file *f, const char *name);

struct compose_rule {
	const char *text; /* canonical rule text */
	bool block;
};

struct compose_spec {
	const char *const *services; /* the services to put behind the sidecar */
	size_t n_services;
	const char *image;         /* the gateway image */
	const char *name;          /* the sandbox name in the audit records */
	const char *profile;       /* a profile name, or the path inside the sidecar */
	const char *profile_mount; /* the host's profile file to mount there, or NULL */
	const struct compose_rule *rules;
	size_t n_rules;
	const char *default_action; /* "allow", "block" or NULL */
	const char *const *upstream;
	size_t n_upstream;
	const char *subnet;  /* the internal network's IPv4 subnet, /16 to /28 */
	const char *label;   /* the input's name, for the header comment */
	const char *version; /* airlock's, for the header comment */
};

struct compose_overlay {
	char *text; /* NUL-terminated, owned */
	size_t len;
	char notes[COMPOSE_NOTES_MAX]; /* lines for the person, "" when none */
};
void compose_overlay_done(struct compose_overlay *o);

/* The overlay for `spec` over `f`.  0, or -ENOENT (a service that is not in
 * the file: the message lists those that are), -EINVAL (a service refused,
 * a bad spec: the message says why and what to change), -ENOMEM. */
int compose_render(const struct compose_file *f, const struct compose_spec *spec,
                   struct compose_overlay *ret, struct diag *d);

/* The variables an overlay sets to turn telemetry off, and their values. */
struct compose_default {
	const char *name, *value;
};
extern const struct compose_default compose_telemetry_defaults[];
extern const size_t compose_n_telemetry_defaults;

#endif
