/* profile.h - named policies in INI files, built in or on disk.
 *
 * A profile file (docs/rules.md has the reference):
 *
 *     [profile]
 *     description = What this profile is for
 *     extends = standard        ; optional, must come before any rule
 *     default = block           ; allow | block (inherited when absent)
 *     network = on              ; on | none (none: not even DNS)
 *
 *     [rules]
 *     allow = github.com, *.github.com
 *     block = gist.github.com
 *     remove = .npmjs.org       ; drop an inherited rule
 *
 * Resolution of `--profile NAME`: a NAME holding '/' or ending in ".conf" is
 * a path.  Otherwise the built-in profiles come first (so an untrusted
 * checkout cannot redefine "standard"), then NAME.conf in each search
 * directory: $AIRLOCK_PROFILE_PATH (colon-separated) if set, else the user's
 * config dir ($XDG_CONFIG_HOME or ~/.config, then airlock/profiles), the
 * system dir (/etc/airlock/profiles), and ./profiles.
 */
#ifndef AIRLOCK_POLICY_PROFILE_H
#define AIRLOCK_POLICY_PROFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"
#include "util/diag.h"

#define PROFILE_MAX_DIRS  8
#define PROFILE_MAX_DEPTH 8                  /* extends chains */
#define PROFILE_MAX_BYTES (64 * 1024 * 1024) /* one file */
#define PROFILE_NAME_MAX  64

struct profile_paths {
	size_t n;
	char dirs[PROFILE_MAX_DIRS][PATH_MAX];
};

/* Fill from the environment as described above. */
void profile_paths_default(struct profile_paths *pp);

struct profile {
	char name[PROFILE_NAME_MAX];
	char source[PATH_MAX]; /* file path, or "built-in NAME.conf" */
	char description[256];
	char extends[PROFILE_NAME_MAX]; /* "" when it extends nothing */
	bool builtin;
};

/* Resolve NAME (or a path) and add its rules, default and network setting to
 * `b`, parents first.  Errors name the file and line. */
int profile_load(struct policy_builder *b, const char *name, const struct profile_paths *pp,
                 struct profile *ret, struct diag *d);

/* Parse profile text held in memory (`source` labels its origins).  The fuzz
 * harness and tests use this; `extends` is resolved through `pp`. */
int profile_load_text(struct policy_builder *b, const char *text, size_t len, const char *source,
                      const struct profile_paths *pp, struct profile *ret, struct diag *d);

/* Called once per distinct profile name, in resolution order (built-ins
 * first).  `err` is 0, or the load error with its message in `d`. */
typedef void (*profile_list_fn)(const struct profile *p, const struct policy_builder *b, int err,
                                const struct diag *d, void *ctx);
int profile_list(const struct profile_paths *pp, profile_list_fn fn, void *ctx);

/* The compiled-in copies of the profiles/ directory's .conf files. */
struct builtin_profile {
	const char *name;
	const char *text;
	size_t len;
};
extern const struct builtin_profile builtin_profiles[];
extern const size_t builtin_profiles_count;

#endif
