/* airlock profiles: list the profiles, or show one's effective rules. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char profiles_help[] =
        "Usage: airlock profiles [--help]\n"
        "       airlock profiles show NAME|FILE\n"
        "\n"
        "Without arguments, list every profile airlock can find - the built-in ones,\n"
        "then NAME.conf files in the search directories - with its default, its rule\n"
        "counts and where it comes from.  `show` prints a profile's effective rules\n"
        "(after `extends` and `remove`), each with the file and line it comes from.\n"
        "\n"
        "Search directories, in order after the built-in profiles:\n"
        "  $AIRLOCK_PROFILE_PATH (colon-separated) if set, otherwise\n"
        "  $XDG_CONFIG_HOME/airlock/profiles (or ~/.config/airlock/profiles),\n"
        "  /etc/airlock/profiles, ./profiles\n";

static void list_row(const struct profile *p, const struct policy_builder *b, int err,
                     const struct diag *d, void *ctx)
{
	(void)ctx;
	if (err < 0) {
		printf("%-12s  %-7s  %5s  %5s  %s\n%14s%s\n", p->name, "error", "-", "-",
		       p->source[0] ? p->source : "-", "", d->msg);
		return;
	}
	const char *def = policy_builder_network_none(b)              ? "none"
	                  : policy_builder_default(b) == ACTION_ALLOW ? "allow"
	                                                              : "block";
	printf("%-12s  %-7s  %5zu  %5zu  %-24s  %s\n", p->name, def,
	       policy_builder_count(b, ACTION_ALLOW), policy_builder_count(b, ACTION_BLOCK),
	       p->source, p->description);
}

static int show(const char *name)
{
	_cleanup_(policy_builder_freep) struct policy_builder *b = policy_builder_new();
	_cleanup_(policy_unrefp) struct policy *p = NULL;
	struct profile_paths pp;
	struct profile prof;
	struct diag d = {""};
	size_t allow = 0, block = 0;

	if (!b) {
		cli_error("profiles", "out of memory");
		return EXIT_USAGE;
	}
	profile_paths_default(&pp);
	if (profile_load(b, name, &pp, &prof, &d) < 0 || policy_compile(TAKE_PTR(b), &p, &d) < 0) {
		cli_error("profiles", "%s", d.msg);
		return EXIT_USAGE;
	}
	size_t n = policy_rule_count(p);
	size_t width = 0;
	for (size_t i = 0; i < n; i++) {
		struct rule_info ri;
		char text[RULE_TEXT_SIZE];
		policy_rule_info(p, (uint32_t)i, &ri);
		size_t w = (size_t)rule_format(&ri.rule, text, sizeof(text));
		width = w > width ? w : width;
		*(ri.action == ACTION_ALLOW ? &allow : &block) += 1;
	}
	printf("profile      %s\n", prof.name);
	printf("description  %s\n", prof.description[0] ? prof.description : "-");
	printf("source       %s\n", prof.source);
	printf("extends      %s\n", prof.extends[0] ? prof.extends : "-");
	printf("default      %s\n", policy_default(p) == ACTION_ALLOW ? "allow" : "block");
	printf("network      %s\n", policy_network_none(p) ? "none" : "on");
	printf("rules        %zu allow, %zu block\n", allow, block);
	if (n)
		putchar('\n');
	for (size_t i = 0; i < n; i++) {
		struct rule_info ri;
		char text[RULE_TEXT_SIZE], origin[PATH_MAX + 64];
		policy_rule_info(p, (uint32_t)i, &ri);
		rule_format(&ri.rule, text, sizeof(text));
		cli_format_origin(&ri, origin, sizeof(origin));
		printf("%s  %-*s  %s\n", ri.action == ACTION_ALLOW ? "allow" : "block", (int)width,
		       text, origin);
	}
	return 0;
}

int cmd_profiles(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(profiles_help, stdout);
			return 0;
		}
		fputs("Try 'airlock profiles --help'.\n", stderr);
		return EXIT_USAGE;
	}
	int rest = argc - optind;
	if (rest == 0) {
		struct profile_paths pp;
		profile_paths_default(&pp);
		printf("%-12s  %-7s  %5s  %5s  %-24s  %s\n", "NAME", "DEFAULT", "ALLOW", "BLOCK",
		       "SOURCE", "DESCRIPTION");
		return profile_list(&pp, list_row, NULL) < 0 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[optind], "show") == 0 && rest == 2)
		return show(argv[optind + 1]);
	if (strcmp(argv[optind], "show") == 0)
		cli_error("profiles", "usage: airlock profiles show NAME|FILE");
	else
		cli_error("profiles", "unknown argument '%s'; try 'airlock profiles --help'",
		          argv[optind]);
	return EXIT_USAGE;
}
