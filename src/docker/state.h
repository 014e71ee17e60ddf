/* state.h - a Docker sandbox's files on the host.
 *
 *   $AIRLOCK_STATE_DIR/docker/NAME/     (default root: /var/lib/airlock as root,
 *                                        else $XDG_STATE_HOME/airlock or
 *                                        ~/.local/state/airlock), mode 0700
 *     sandbox.conf    how the sidecar is made: KEY=VALUE lines (profile,
 *                     default, upstream, image, airgapped, ip, subnet), 0600
 *     rules/          mounted read-only at /etc/airlock/rules in the sidecar
 *       allowed-domains  blocked-domains   one rule a line (as `airlock run`'s
 *                     per-sandbox files); re-read at every start and reload
 *       profile.conf  a copy of --profile FILE, when the profile is a file
 *     run/            mounted read-write at /run/airlock, owned by the
 *                     sidecar's user, mode 0700
 *       control.sock  the gateway's control socket (host side: this path)
 *       audit.jsonl   the audit log (and its rotations)
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
#include <sys/types.h>

#include "policy/rule.h"
#include "util/diag.h"

#define SANDBOX_NAME_MAX   48
#define STATE_MAX_UPSTREAM 4
#define STATE_RULES_MAX    (16u * 1024 * 1024) /* one rule file */

struct sandbox_state {
	char name[SANDBOX_NAME_MAX + 1];
	char dir[PATH_MAX];
	/* sandbox.conf */
	char profile[PATH_MAX]; /* as the sidecar sees it */
	char default_action[8]; /* "allow", "block", or "" for the profile's */
	char image[256];
	char upstream[STATE_MAX_UPSTREAM][64];
	size_t n_upstream;
	bool airgapped;
	char ip[64];     /* the sidecar's address on the internal network */
	char subnet[64]; /* the internal network's */
};

/* 0, or -EINVAL with the reason in `d`. */
int sandbox_name_check(const char *name, struct diag *d);

/* The root directory for Docker sandboxes ("/var/lib/airlock/docker"). */
int state_root(char *out, size_t size, struct diag *d);

/* Create NAME's directory with rules/ and run/ (run/ owned by uid:gid);
 * -EEXIST when the sandbox exists.  `s` gets name and dir. */
int state_create(const char *name, uid_t uid, gid_t gid, struct sandbox_state *s, struct diag *d);

/* Read NAME's sandbox.conf; -ENOENT when there is no such sandbox. */
int state_load(const char *name, struct sandbox_state *s, struct diag *d);

/* Write sandbox.conf (atomically). */
int state_save(const struct sandbox_state *s, struct diag *d);

/* Remove NAME's directory and everything in it (only the files this module
 * and the gateway put there). */
int state_remove(const char *name, struct diag *d);

/* Paths inside a sandbox's directory: "rules", "run", "run/control.sock"... */
int state_path(const struct sandbox_state *s, const char *rel, char *out, size_t size);

/* Change the rule files: ALLOW puts `rule` (canonical text) in
 * allowed-domains and takes it out of blocked-domains, BLOCK the other way
 * round; unallow (`remove` true) takes it out of both.  *ret_changed says
 * whether a file changed. */
int state_rule_set(const struct sandbox_state *s, enum action action, bool remove, const char *rule,
                   bool *ret_changed, struct diag *d);

/* Call fn for every sandbox directory under the root (names only). */
typedef int state_each_fn(const char *name, void *ctx);
int state_each(state_each_fn *fn, void *ctx, struct diag *d);

#endif
