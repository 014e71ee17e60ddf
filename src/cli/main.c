/* airlock: keep a program inside its network policy.  main() only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
        {"run", cmd_run, "run a command in a sandbox with the policy's network"},
        {"apply", cmd_apply, "put the policy in force on this machine or container itself"},
        {"ps", cmd_ps, "list the running sandboxes"},
        {"allow", cmd_rule, "allow a rule in a named sandbox, now and at every start"},
        {"block", cmd_rule, "block a rule in a named sandbox, now and at every start"},
        {"unallow", cmd_rule, "take a rule out of a named sandbox's rules"},
        {"reset", cmd_rule, "empty a named sandbox's rules"},
        {"pending", cmd_ask, "list the questions of sandboxes run with --ask"},
        {"approve", cmd_ask, "allow what a sandbox's question asks for"},
        {"deny", cmd_ask, "refuse what a sandbox's question asks for"},
        {"rm", cmd_rm, "forget a stopped `airlock run` sandbox and its rules"},
        {"check", cmd_check, "say whether names or addresses are allowed, and by which rule"},
        {"profiles", cmd_profiles, "list profiles, or show one's effective rules"},
        {"gateway", cmd_gateway, "run the gateway (DNS, proxy, transparent) in the foreground"},
        {"logs", cmd_logs, "show an audit log for people, with a summary"},
        {"docker", cmd_docker, "run containers behind a gateway sidecar (Docker)"},
        {"compose", cmd_compose, "put compose services behind a gateway sidecar (an overlay)"},
        {"doctor", cmd_doctor, "check what airlock needs, and the state of its sandboxes"},
};

static void usage(FILE *out)
{
	fputs("Usage: airlock COMMAND [OPTIONS] [ARGS]\n"
	      "\n"
	      "airlock decides what a sandboxed program may reach on the network.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("  help       show this help, or a command's: airlock help COMMAND\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help     show this help\n"
	      "  -V, --version  print the version\n",
	      out);
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
		printf("airlock %s\n", AIRLOCK_VERSION);
		return 0;
	}
	if (strcmp(name, "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		const struct command *c = find(argv[2]);
		if (!c) {
			fprintf(stderr, "airlock: no command '%s'\n", argv[2]);
			return EXIT_USAGE;
		}
		char *help_argv[] = {argv[2], (char *)"--help", NULL};
		return c->run(2, help_argv);
	}
	const struct command *c = find(name);
	if (!c) {
		fprintf(stderr, "airlock: no command '%s'; try 'airlock --help'\n", name);
		return EXIT_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}
