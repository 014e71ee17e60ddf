/* options.h - the options of `airlock apply` (and of the devcontainer
 * feature, which writes them), parsed from its configuration file.
 *
 * The file is KEY = VALUE lines; blank lines and lines starting with '#'
 * are skipped; surrounding blanks are trimmed; a key may appear once.  The
 * keys are the feature's option names, which are those of the common
 * devcontainer sandbox features, so a user can switch:
 *
 *   profile                     built-in or user profile (default: standard)
 *   allowedDomains              rules, comma-separated (*.example.com ...)
 *   blockedDomains              rules, comma-separated
 *   defaultPolicy               allow | block (default: the profile's)
 *   allowDockerNetworks         true | false (default true): 172.16.0.0/12,
 *                               10.0.0.0/8 and 192.168.0.0/16 reachable
 *                               directly, not through the gateway
 *   dockerNetworks              the ranges allowDockerNetworks means
 *                               (default: the three above)
 *   allowLocalhost              true | false (default true): loopback
 *                               services other than the gateway's reachable
 *   immutableConfig             true | false (default true): nobody but root
 *                               changes the rules
 *   logBlocked                  true | false (default true): dropped packets
 *                               logged (NFLOG) into the audit log
 *   allowClaudeWebFetchDomains  true | false (default true)
 *   claudeSettingsPaths         comma-separated, relative to the workspace
 *                               root (default: .claude/settings.json,
 *                               .claude/settings.local.json,
 *                               ~/.claude/settings.json)
 *   name                        the sandbox's name (default: devcontainer)
 *   user                        the gateway's unprivileged user (default:
 *                               airlock)
 *   adminUser                   with immutableConfig false: the user who may
 *                               change the rules (the container's user)
 *   upstream                    resolvers, comma-separated (default: those
 *                               of /etc/resolv.conf)
 *
 * Pure: no I/O.  Errors name the line and say what is wrong.  Fuzzed.
 */
#ifndef AIRLOCK_APPLY_OPTIONS_H
#define AIRLOCK_APPLY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/diag.h"

#define APPLY_CONFIG_MAX (1024 * 1024) /* bytes in the file */
#define APPLY_VALUE_MAX  (256 * 1024)  /* one value: a long allow list */
#define APPLY_WORD_MAX   256           /* profile, names, users */

struct apply_options {
	char profile[APPLY_WORD_MAX];
	char *allowed_domains; /* owned; "" when not given */
	char *blocked_domains;
	int default_policy; /* -1: the profile's; else enum action */
	bool allow_docker_networks;
	bool allow_localhost;
	bool immutable_config;
	bool log_blocked;
	bool allow_claude_webfetch;
	char *claude_settings_paths;
	char name[APPLY_WORD_MAX];
	char user[APPLY_WORD_MAX];
	char admin_user[APPLY_WORD_MAX];
	char *upstream;
	char *docker_networks;
};

/* The defaults above. */
void apply_options_init(struct apply_options *o);
void apply_options_done(struct apply_options *o);

/* Parse `len` bytes of configuration over the defaults.  `source` names the
 * file in errors ("/etc/airlock/apply.conf:3: ...").  0 or -EINVAL / -ENOMEM
 * with `d` saying what and where. */
int apply_options_parse(struct apply_options *o, const char *text, size_t len, const char *source,
                        struct diag *d);

/* Call fn for each item of a comma-separated list, trimmed, empty items
 * skipped.  Stops at the first non-zero return, which it returns. */
typedef int apply_item_fn(const char *item, size_t len, void *ctx);
int apply_each_item(const char *list, apply_item_fn *fn, void *ctx);

#endif
