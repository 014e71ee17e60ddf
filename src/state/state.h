/* state.h - a sandbox's files on the host, for both kinds of sandbox.
 *
 *   $AIRLOCK_STATE_DIR/KIND/NAME/       (KIND: run, docker or apply; default root:
 *                                        /var/lib/airlock as root, else
 *                                        $XDG_STATE_HOME/airlock or
 *                                        ~/.local/state/airlock), mode 0700
 *     sandbox.conf    KEY=VALUE lines, 0600.  Docker: how the sidecar is made
 *                     (profile, default, upstream, image, airgapped, ip,
 *                     subnet).  run: the profile of its last start
 *     rules/          Docker: mounted read-only at /etc/airlock/rules in the
 *                     sidecar
 *       allowed-domains  blocked-domains   one rule a line, changed by
 *                     `airlock allow|block|unallow|reset --name NAME`;
 *                     re-read at every start and reload
 *       profile.conf  Docker: a copy of --profile FILE, when it is a file
 *     run/            Docker: mounted read-write at /run/airlock, owned by
 *                     the sidecar's user, mode 0700
 *       control.sock  the gateway's control socket
 *       audit.jsonl   the audit log (and its rotations)
 *       lock          run: held (flock) by the running `airlock run`
 *       resolv.conf   run: what the sandbox sees as /etc/resolv.conf
 *
 * A Docker sandbox exists from `airlock docker run` to `airlock docker rm`.
 * A named `airlock run` sandbox keeps its directory (its rules) across runs;
 * an unnamed one is removed when it ends.  A name belongs to one kind: the
 * other kind's directory of the same name makes creation fail.
 *
 * A name is 1-48 characters of [A-Za-z0-9_.-], starting with a letter or
 * digit and not starting with "airlock-" (so every Docker object name
 * derived from it is valid and none collides with another's), and the
 * sandbox directory is created exclusively: two sandboxes never share one.
 * Rule files are replaced atomically (write, fsync, rename), so the gateway
 * never reads half a file.
 */
#ifndef AIRLOCK_DOCKER_STATE_H
#define AIRLOCK_DOCKER_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/rule.h"
#include "util/diag.h"

#define SANDBOX_NAME_MAX   48
#define STATE_MAX_UPSTREAM 4
#define STATE_RULES_MAX    (16u * 1024 * 1024) /* one rule file */

enum sandbox_kind {
	SANDBOX_KIND_RUN,
	SANDBOX_KIND_DOCKER,
	SANDBOX_KIND_APPLY, /* `airlock apply`: the machine or container itself */
};

struct sandbox_state {
	enum sandbox_kind kind;
	char name[SANDBOX_NAME_MAX + 1];
	char dir[PATH_MAX];
	/* sandbox.conf */
	char profile[PATH_MAX]; /* as the sidecar sees it */
	char default_action[8]; /* "allow", "block", or "" for the profile's */
	char image[256];
	char upstream[STATE_MAX_UPSTREAM][64];
	size_t n_upstream;
	bool airgapped;
	char ip[64];        /* the sidecar's address on the internal network */
	char subnet[64];    /* the internal network's */
	long pid;           /* run: the supervisor's pid at its last start */
	int64_t started_ms; /* run: when it started (realtime, ms) */
};

/* 0, or -EINVAL with the reason in `d`. */
int sandbox_name_check(const char *name, struct diag *d);

/* "run" or "docker". */
const char *sandbox_kind_name(enum sandbox_kind kind);

/* The root directory of one kind of sandbox ("/var/lib/airlock/docker"). */
int state_root(enum sandbox_kind kind, char *out, size_t size, struct diag *d);

/* Create NAME's directory with rules/ and run/ (run/ owned by uid:gid);
 * -EEXIST when a sandbox of that name exists, of either kind.  `s` gets
 * kind, name and dir. */
int state_create(enum sandbox_kind kind, const char *name, uid_t uid, gid_t gid,
                 struct sandbox_state *s, struct diag *d);

/* Read NAME's sandbox.conf; -ENOENT when there is no such sandbox. */
int state_load(enum sandbox_kind kind, const char *name, struct sandbox_state *s, struct diag *d);

/* Like state_load, for a directory whose sandbox.conf may be missing (a run
 * sandbox that never finished starting): -ENOENT only when there is no
 * directory. */
int state_open(enum sandbox_kind kind, const char *name, struct sandbox_state *s, struct diag *d);

/* Which kind has a sandbox named NAME: 0 with *ret_kind, or -ENOENT. */
int state_find(const char *name, enum sandbox_kind *ret_kind, struct diag *d);

/* Write sandbox.conf (atomically). */
int state_save(const struct sandbox_state *s, struct diag *d);

/* Remove NAME's directory and everything in it (only the files this module
 * and the gateway put there). */
int state_remove(enum sandbox_kind kind, const char *name, struct diag *d);

/* Paths inside a sandbox's directory: "rules", "run", "run/control.sock"... */
int state_path(const struct sandbox_state *s, const char *rel, char *out, size_t size);

/* Change the rule files: ALLOW puts `rule` (canonical text) in
 * allowed-domains and takes it out of blocked-domains, BLOCK the other way
 * round; unallow (`remove` true) takes it out of both.  *ret_changed says
 * whether a file changed. */
int state_rule_set(const struct sandbox_state *s, enum action action, bool remove, const char *rule,
                   bool *ret_changed, struct diag *d);

/* Count the rules in the two rule files. */
int state_rule_counts(const struct sandbox_state *s, size_t *ret_allowed, size_t *ret_blocked,
                      struct diag *d);

/* Empty both rule files.  *ret_changed says whether either held a rule. */
int state_rules_clear(const struct sandbox_state *s, bool *ret_changed, struct diag *d);

/* Call fn for every sandbox directory of one kind (names only). */
typedef int state_each_fn(const char *name, void *ctx);
int state_each(enum sandbox_kind kind, state_each_fn *fn, void *ctx, struct diag *d);

#endif
