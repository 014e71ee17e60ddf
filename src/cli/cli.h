/* cli.h - what the subcommands share: exit codes, messages, policy options.
 *
 * Each subcommand lives in its own file and is one entry in main.c's table.
 * A subcommand prints its own errors, once, as "airlock CMD: message", and
 * returns its exit status.
 */
#ifndef AIRLOCK_CLI_CLI_H
#define AIRLOCK_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy/policy.h"
#include "policy/profile.h"
#include "util/macros.h"

enum {
	EXIT_ALLOWED = 0,
	EXIT_BLOCKED = 1,
	EXIT_USAGE = 2, /* bad usage or configuration */
};

int cmd_check(int argc, char **argv);
int cmd_profiles(int argc, char **argv);
int cmd_gateway(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_docker(int argc, char **argv);
/* docker protect|unprotect: argv[0] says which. */
int cmd_docker_protect(int argc, char **argv);
int cmd_compose(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_rm(int argc, char **argv);
/* allow, block, unallow, reset --name NAME: argv[0] says which. */
int cmd_rule(int argc, char **argv);
/* pending, approve, deny: argv[0] says which. */
int cmd_ask(int argc, char **argv);

/* Exit status of `airlock run` for its own failures (as container
 * runtimes: 126 and 127 are the shell's, for a command that cannot run). */
#define EXIT_RUN_FAILED 125

/* "airlock CMD: message\n" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);

/* "UID:GID", both decimal, the uid not 0 (a user to become).  0, or -1
 * with the error printed as `cmd`'s, naming `opt`. */
int cli_parse_user(const char *cmd, const char *opt, const char *text, uid_t *ret_uid,
                   gid_t *ret_gid);

/* "origin:line" or "origin", for a rule's provenance. */
void cli_format_origin(const struct rule_info *ri, char *buf, size_t size);

/* ---- policy options, shared by check and (later) run, gateway, apply ---- */

enum policy_item_type {
	POLICY_ITEM_RULE,
	POLICY_ITEM_FILE,
	POLICY_ITEM_CLAUDE,
	/* A sandbox's own rule file: each rule replaces identical ones loaded
	 * before it (rulelist_load_file_replacing). */
	POLICY_ITEM_SANDBOX_FILE,
};

struct policy_item {
	enum policy_item_type type;
	enum action action;
	const char *arg;
	const char *label; /* SANDBOX_FILE: what origins call the file; NULL: its path */
};

struct policy_args {
	const char *profile;
	int default_action; /* -1: the profile's */
	bool claude_defaults;
	struct policy_item *items;
	size_t n_items;
};

enum {
	OPT_ALLOW_FILE = 0x100,
	OPT_BLOCK_FILE,
	OPT_DEFAULT,
	OPT_CLAUDE_SETTINGS,
	OPT_CLAUDE,
	OPT_JSON,
	OPT_FIRST_FREE,
};

#define POLICY_ARGS_SHORTOPTS "p:a:b:"
#define POLICY_ARGS_LONGOPTS                                                                       \
	{"profile", required_argument, NULL, 'p'}, {"allow", required_argument, NULL, 'a'},        \
	        {"block", required_argument, NULL, 'b'},                                           \
	        {"allow-file", required_argument, NULL, OPT_ALLOW_FILE},                           \
	        {"block-file", required_argument, NULL, OPT_BLOCK_FILE},                           \
	        {"default", required_argument, NULL, OPT_DEFAULT},                                 \
	        {"claude-settings", required_argument, NULL, OPT_CLAUDE_SETTINGS},                 \
	{                                                                                          \
		"claude", no_argument, NULL, OPT_CLAUDE                                            \
	}

#define POLICY_ARGS_HELP                                                                           \
	"Policy:\n"                                                                                \
	"  -p, --profile NAME|FILE     profile to start from (default: standard);\n"               \
	"                              `airlock profiles` lists them\n"                            \
	"  -a, --allow RULE            allow RULE (repeatable)\n"                                  \
	"  -b, --block RULE            block RULE (repeatable)\n"                                  \
	"      --allow-file FILE       allow the rules in FILE, one a line\n"                      \
	"      --block-file FILE       block the rules in FILE, one a line\n"                      \
	"      --default allow|block   what happens when no rule matches\n"                        \
	"      --claude-settings FILE  allow the WebFetch(domain:...) permissions of a\n"          \
	"                              Claude Code settings file (repeatable)\n"                   \
	"      --claude                the same for ./.claude/settings.json,\n"                    \
	"                              ./.claude/settings.local.json and\n"                        \
	"                              ~/.claude/settings.json, where they exist\n"                \
	"\n"                                                                                       \
	"Rules: example.com (that name), *.example.com (names below it, not itself),\n"            \
	".example.com (both), 192.0.2.0/24, 2001:db8::/32, each with an optional\n"                \
	":PORT or :LOW-HIGH ([2001:db8::/32]:443).  The most specific rule wins;\n"                \
	"on a tie, block wins.  Full reference: docs/rules.md.\n"

void policy_args_init(struct policy_args *a);
void policy_args_done(struct policy_args *a);

/* Handle one getopt result if it is a policy option: returns 1 when handled,
 * 0 when the option is not a policy option, -1 after printing an error. */
int policy_args_option(struct policy_args *a, const char *cmd, int opt, const char *arg);

/* Add an item after the command line's (a sandbox's rule files).  `arg`
 * and `label` must outlive `a`.  0 or -1 after printing an error. */
int policy_args_add(struct policy_args *a, const char *cmd, enum policy_item_type type,
                    enum action action, const char *arg, const char *label);

/* Load the profile, then Claude settings, rule files and command-line rules in
 * that order, apply --default and compile.  Prints errors; returns 0 or -1. */
int policy_args_build(const struct policy_args *a, const char *cmd, struct profile *ret_profile,
                      struct policy **ret);

/* Add everything the options say to `b` (profile, imports, rules, default)
 * without compiling, so a caller can add more first (a gateway's runtime
 * rules).  0, or a negative errno with the message in `d`. */
int policy_args_load(const struct policy_args *a, struct policy_builder *b,
                     struct profile *ret_profile, struct diag *d);

/* Load and compile without printing: 0, or a negative errno with the message
 * in `d` (a gateway reloading on SIGHUP logs it and keeps its policy). */
int policy_args_compile(const struct policy_args *a, struct profile *ret_profile,
                        struct policy **ret, struct diag *d);

/* ---- named sandboxes (sandboxes.c) ---- */

enum rule_op {
	RULE_OP_ALLOW,
	RULE_OP_BLOCK,
	RULE_OP_UNALLOW,
	RULE_OP_RESET,
};

/* A rule in its canonical text (so that unallow finds what allow wrote);
 * prints an error and returns -1 for a malformed one. */
int cli_canonical_rule(const char *cmd, const char *text, char *out, size_t size);

/* Change sandbox `s`'s rule files and have its gateway reload them.
 * Returns the exit status. */
struct sandbox_state;
int cli_sandbox_rules(const char *cmd, const struct sandbox_state *s, enum rule_op op,
                      char *const *rules, size_t n);

/* The nameservers of /etc/resolv.conf as upstreams; prints an error saying
 * to give --upstream when there is none.  0 or -1. */
struct upstream_config;
int cli_default_upstreams(const char *cmd, struct upstream_config *c);

#endif
