/* claude.h - Claude Code settings as airlock rules.
 *
 * Claude Code keeps its tool permissions in JSON settings files
 * (.claude/settings.json, .claude/settings.local.json, ~/.claude/settings.json).
 * Entries of the form
 *     "permissions": { "allow": ["WebFetch(domain:example.com)",
 *                                "WebFetch(domain:*.example.com)"],
 *                      "deny":  ["WebFetch(domain:tracker.example)"] }
 * become allow (and block) rules with the file as their origin.  Other
 * entries (Bash(...), Read(...), a WebFetch without a domain) do not concern
 * the network filter and are skipped.  A settings file comes from the
 * workspace, so it is untrusted input: it is size-capped, parsed with a depth
 * limit, and every error names the file and the place.
 */
#ifndef AIRLOCK_POLICY_CLAUDE_H
#define AIRLOCK_POLICY_CLAUDE_H

#include <stddef.h>

#include "policy/policy.h"
#include "util/diag.h"

#define CLAUDE_SETTINGS_MAX_BYTES (4 * 1024 * 1024)

/* Import from JSON text in memory; `source` labels the rules' origin.
 * *ret_count (if not NULL) receives the number of rules added. */
int claude_import_text(struct policy_builder *b, const char *text, size_t len, const char *source,
                       size_t *ret_count, struct diag *d);

/* Import from a file.  A missing file is an error (-ENOENT) - callers that
 * probe the default locations check for existence first. */
int claude_import_file(struct policy_builder *b, const char *path, size_t *ret_count,
                       struct diag *d);

/* Where a settings path names a file: "~/x" is under $HOME, a relative path
 * is under `workspace`, an absolute path is itself.  -ENAMETOOLONG, or
 * -ENOENT for "~/" without a HOME. */
int claude_resolve_path(const char *workspace, const char *path, char out[static 4096]);

/* The default locations, in order: WORKSPACE/.claude/settings.json,
 * WORKSPACE/.claude/settings.local.json, $HOME/.claude/settings.json.
 * Writes up to `max` paths into `out` (each PATH_MAX bytes); returns how many. */
size_t claude_default_paths(const char *workspace, char (*out)[4096], size_t max);

#endif
