/* airlock check: the policy's verdict on names and addresses, and why. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char check_help[] =
        "Usage: airlock check [OPTIONS] TARGET...\n"
        "\n"
        "Say whether each TARGET would be allowed, and which rule decided, without\n"
        "sending any traffic.  TARGET is NAME[:PORT], IP[:PORT] or [IPv6]:PORT.\n"
        "Without a port the question is whether any port is allowed, which is what\n"
        "the DNS filter asks before it answers for a name.\n"
        "\n" POLICY_ARGS_HELP "\n"
        "Output:\n"
        "      --json                  one JSON object per target, one a line\n"
        "  -h, --help                  show this help\n"
        "\n"
        "Exit status: 0 when every target is allowed, 1 when any is blocked,\n"
        "2 for bad usage or configuration.\n"
        "\n"
        "Example:\n"
        "  airlock check --profile strict --allow '*.github.com' api.github.com github.com\n";

struct verdict_row {
	char target[RULE_TEXT_SIZE];
	const char *verdict;
	char decided[RULE_TEXT_SIZE + 32]; /* "rule X", "default", "no network" */
	char rule[RULE_TEXT_SIZE];
	char origin[PATH_MAX + 64];
	struct decision d;
};

static void describe(const struct policy *p, const struct profile *prof, const struct target *t,
                     struct verdict_row *row)
{
	target_format(t, row->target, sizeof(row->target));
	policy_decide(p, t, &row->d);
	row->verdict = row->d.verdict == ACTION_ALLOW ? "allow" : "block";
	row->rule[0] = '\0';
	switch (row->d.by) {
	case DECIDED_BY_RULE: {
		struct rule_info ri;
		policy_rule_info(p, row->d.rule, &ri);
		rule_format(&ri.rule, row->rule, sizeof(row->rule));
		snprintf(row->decided, sizeof(row->decided), "rule %s", row->rule);
		cli_format_origin(&ri, row->origin, sizeof(row->origin));
		break;
	}
	case DECIDED_BY_DEFAULT:
		snprintf(row->decided, sizeof(row->decided), "default");
		snprintf(row->origin, sizeof(row->origin), "profile %s (default = %s)", prof->name,
		         policy_default(p) == ACTION_ALLOW ? "allow" : "block");
		break;
	case DECIDED_BY_NO_NETWORK:
		snprintf(row->decided, sizeof(row->decided), "no network");
		snprintf(row->origin, sizeof(row->origin), "profile %s (network = none)",
		         prof->name);
		break;
	}
}

static void print_json(const struct verdict_row *row, const struct target *t,
                       const struct profile *prof)
{
	static const char *const by[] = {"rule", "default", "no-network"};
	json_object *o = json_object_new_object();

	json_object_object_add(o, "target", json_object_new_string(row->target));
	json_object_object_add(o, t->is_addr ? "address" : "name",
	                       json_object_new_string(t->is_addr ? row->target : t->name));
	json_object_object_add(o, "port", json_object_new_int(t->port));
	json_object_object_add(o, "verdict", json_object_new_string(row->verdict));
	json_object_object_add(o, "decided_by", json_object_new_string(by[row->d.by]));
	json_object_object_add(o, "rule", row->rule[0] ? json_object_new_string(row->rule) : NULL);
	json_object_object_add(o, "origin", json_object_new_string(row->origin));
	json_object_object_add(o, "profile", json_object_new_string(prof->name));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                               JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
	        POLICY_ARGS_LONGOPTS,
	        {"json", no_argument, NULL, OPT_JSON},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	_cleanup_(policy_unrefp) struct policy *policy = NULL;
	_cleanup_free_ struct target *targets = NULL;
	_cleanup_free_ struct verdict_row *rows = NULL;
	struct policy_args args;
	struct profile prof;
	bool json = false;
	int opt, status = EXIT_USAGE;

	policy_args_init(&args);
	while ((opt = getopt_long(argc, argv, "+" POLICY_ARGS_SHORTOPTS "h", longopts, NULL)) !=
	       -1) {
		int r = policy_args_option(&args, "check", opt, optarg);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			fputs(check_help, stdout);
			status = EXIT_ALLOWED;
			goto out;
		default:
			fputs("Try 'airlock check --help'.\n", stderr);
			goto out;
		}
	}
	size_t n = (size_t)(argc - optind);
	if (n == 0) {
		cli_error("check", "no TARGET given; try 'airlock check --help'");
		goto out;
	}

	/* Parse every target before answering any, so a typo fails the whole call. */
	targets = calloc(n, sizeof(*targets));
	rows = calloc(n, sizeof(*rows));
	if (!targets || !rows) {
		cli_error("check", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct diag d;
		const char *arg = argv[optind + (int)i];
		if (target_parse(arg, strlen(arg), &targets[i], &d) < 0) {
			cli_error("check", "target '%s': %s", arg, d.msg);
			goto out;
		}
	}
	if (policy_args_build(&args, "check", &prof, &policy) < 0)
		goto out;

	int w_target = 0, w_decided = 0;
	status = EXIT_ALLOWED;
	for (size_t i = 0; i < n; i++) {
		describe(policy, &prof, &targets[i], &rows[i]);
		if (rows[i].d.verdict != ACTION_ALLOW)
			status = EXIT_BLOCKED;
		int wt = (int)strlen(rows[i].target), wd = (int)strlen(rows[i].decided);
		w_target = wt > w_target ? wt : w_target;
		w_decided = wd > w_decided ? wd : w_decided;
	}
	for (size_t i = 0; i < n; i++) {
		if (json)
			print_json(&rows[i], &targets[i], &prof);
		else
			printf("%s  %-*s  %-*s  %s\n", rows[i].verdict, w_target, rows[i].target,
			       w_decided, rows[i].decided, rows[i].origin);
	}
out:
	policy_args_done(&args);
	return status;
}
