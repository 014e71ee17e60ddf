/* airlock allow|block|unallow|reset --name NAME, airlock ps, airlock rm:
 * named sandboxes of either kind (`airlock run`, `airlock docker run`).
 *
 * A sandbox's rule files are the one truth: a change edits them, then asks
 * the running gateway to reload through its control socket.  A sandbox not
 * running keeps the change for its next start.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "gateway/control.h"
#include "log/audit.h"
#include "state/state.h"

/* ---- allow, block, unallow, reset ------------------------------------- */

/* A rule in its canonical text, so that unallow finds what allow wrote. */
int cli_canonical_rule(const char *cmd, const char *text, char *out, size_t size)
{
	struct rule r;
	struct diag d = {""};
	if (rule_parse(text, strlen(text), &r, &d) < 0) {
		cli_error(cmd, "%s", d.msg);
		return -1;
	}
	if (rule_format(&r, out, size) < 0) {
		cli_error(cmd, "rule too long");
		return -1;
	}
	return 0;
}

int cli_sandbox_rules(const char *cmd, const struct sandbox_state *s, enum rule_op op,
                      char *const *rules, size_t n)
{
	struct diag d = {""};
	bool changed = false;

	if (s->airgapped && op == RULE_OP_ALLOW) {
		cli_error(cmd, "%s is airgapped (network none): nothing can be allowed", s->name);
		return 1;
	}
	if (op == RULE_OP_RESET && state_rules_clear(s, &changed, &d) < 0) {
		cli_error(cmd, "%s", d.msg);
		return 1;
	}
	for (size_t i = 0; op != RULE_OP_RESET && i < n; i++) {
		char canon[RULE_TEXT_SIZE];
		bool c = false;
		if (cli_canonical_rule(cmd, rules[i], canon, sizeof(canon)) < 0)
			return EXIT_USAGE;
		if (state_rule_set(s, op == RULE_OP_BLOCK ? ACTION_BLOCK : ACTION_ALLOW,
		                   op == RULE_OP_UNALLOW, canon, &c, &d) < 0) {
			cli_error(cmd, "%s", d.msg);
			return 1;
		}
		changed |= c;
	}
	const char *done = op == RULE_OP_ALLOW   ? "allowed"
	                   : op == RULE_OP_BLOCK ? "blocked"
	                   : op == RULE_OP_RESET ? "its rules emptied"
	                                         : "removed from its rules";
	if (!changed || s->airgapped) {
		printf("%s: %s\n", s->name, changed ? done : "nothing to change");
		return 0;
	}
	/* The gateway re-reads the rule files on reload, so they stay the one
	 * truth, also for the next start. */
	char sock[PATH_MAX], reply[CONTROL_REPLY_MAX];
	state_path(s, "run/control.sock", sock, sizeof(sock));
	int e = control_ask(sock, "reload", reply, sizeof(reply), &d);
	if (e == -EREMOTEIO) {
		cli_error(cmd, "saved, but the gateway refused the new rules: %s", reply);
		return 1;
	}
	if (e < 0) {
		printf("%s: %s; not running, so this applies %s\n", s->name, done,
		       s->kind == SANDBOX_KIND_DOCKER ? "when its gateway starts ('airlock docker "
		                                        "reset NAME')"
		                                      : "at its next start");
		return 0;
	}
	printf("%s: %s, in force now and at every start\n", s->name, done);
	return 0;
}

static const char rule_help[] =
        "Usage: airlock allow --name NAME RULE...\n"
        "       airlock block --name NAME RULE...\n"
        "       airlock unallow --name NAME RULE...\n"
        "       airlock reset --name NAME\n"
        "\n"
        "Change a named sandbox's own rules (`airlock run --name NAME` or `airlock\n"
        "docker run --name NAME`).  allow puts RULE in its allowed-domains file\n"
        "(and out of blocked-domains), block the other way round, unallow takes\n"
        "RULE out of both, reset empties both.  A running sandbox applies the\n"
        "change at once, to new requests, and a block closes the open connections\n"
        "it now refuses; every later start of that name applies it too.  A\n"
        "sandbox's own rules come after its profile and options and replace the\n"
        "same rule there, so `allow x` lifts the profile's `block x`.\n"
        "\n"
        "Options:\n"
        "  -n, --name NAME   the sandbox ('airlock ps -a' lists them)\n"
        "  -h, --help        show this help\n"
        "\n"
        "Rules are as everywhere (docs/rules.md): example.com, *.example.com,\n"
        ".example.com, 192.0.2.0/24, each with an optional :PORT or :LOW-HIGH.\n";

int cmd_rule(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"name", required_argument, NULL, 'n'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *cmd = argv[0], *name = NULL;
	enum rule_op op = strcmp(cmd, "allow") == 0     ? RULE_OP_ALLOW
	                  : strcmp(cmd, "block") == 0   ? RULE_OP_BLOCK
	                  : strcmp(cmd, "unallow") == 0 ? RULE_OP_UNALLOW
	                                                : RULE_OP_RESET;
	struct sandbox_state s;
	struct diag d = {""};
	enum sandbox_kind kind;
	int opt;

	while ((opt = getopt_long(argc, argv, "+n:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			name = optarg;
			break;
		case 'h':
			fputs(rule_help, stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'airlock %s --help'.\n", cmd);
			return EXIT_USAGE;
		}
	}
	if (!name) {
		cli_error(cmd, "which sandbox? give --name NAME ('airlock ps -a' lists them)");
		return EXIT_USAGE;
	}
	if (op == RULE_OP_RESET && optind < argc) {
		cli_error(cmd, "reset takes no rule: it empties %s's rules", name);
		return EXIT_USAGE;
	}
	if (op != RULE_OP_RESET && optind >= argc) {
		cli_error(cmd, "no rule given: airlock %s --name %s RULE...", cmd, name);
		return EXIT_USAGE;
	}
	if (state_find(name, &kind, &d) < 0 || state_open(kind, name, &s, &d) < 0) {
		cli_error(cmd, "%s", d.msg);
		return 1;
	}
	return cli_sandbox_rules(cmd, &s, op, argv + optind, (size_t)(argc - optind));
}

/* ---- ps ------------------------------------------------------------------ */

static const char ps_help[] =
        "Usage: airlock ps [-a]\n"
        "\n"
        "List the running sandboxes: name, kind (run or docker), profile, how long\n"
        "it has run, its own rules (allowed and blocked, from 'airlock allow' and\n"
        "'airlock block') and how many requests its gateway refused so far.\n"
        "\n"
        "Options:\n"
        "  -a, --all    also the sandboxes that are not running (their rules are kept)\n"
        "  -h, --help   show this help\n";

/* A run sandbox runs while its supervisor holds the lock. */
static bool run_sandbox_running(const struct sandbox_state *s)
{
	char path[PATH_MAX];
	if (state_path(s, "run/lock", path, sizeof(path)) < 0)
		return false;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		return false; /* the lock is free: nobody runs it (closing releases ours) */
	return errno == EWOULDBLOCK;
}

/* The number after `key ` in a status reply, 0 when absent. */
static unsigned long long status_value(const char *reply, const char *line, const char *key)
{
	const char *l = strstr(reply, line);
	if (!l)
		return 0;
	const char *end = strchr(l, '\n');
	size_t kl = strlen(key);
	for (const char *p = l; p && (!end || p < end); p = strchr(p + 1, ' ')) {
		const char *w = *p == ' ' ? p + 1 : p;
		if (strncmp(w, key, kl) == 0 && w[kl] == ' ')
			return strtoull(w + kl + 1, NULL, 10);
	}
	return 0;
}

struct ps {
	enum sandbox_kind kind;
	bool all;
	unsigned shown;
};

static void format_age(int64_t started_ms, char *buf, size_t size)
{
	int64_t s = started_ms > 0 ? (audit_now_ms() - started_ms) / 1000 : -1;
	if (s < 0)
		snprintf(buf, size, "-");
	else if (s < 120)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, size, "%lldd", (long long)(s / 86400));
}

static int ps_one(const char *name, void *ctx)
{
	struct ps *ps = ctx;
	struct sandbox_state s;
	size_t allowed = 0, blocked = 0;
	char sock[PATH_MAX], reply[CONTROL_REPLY_MAX], age[16], refused[24] = "-";

	if (state_open(ps->kind, name, &s, NULL) < 0)
		return 0;
	(void)state_rule_counts(&s, &allowed, &blocked, NULL);
	bool running;
	state_path(&s, "run/control.sock", sock, sizeof(sock));
	bool answers = control_ask(sock, "status", reply, sizeof(reply), NULL) == 0;
	running = ps->kind == SANDBOX_KIND_RUN ? run_sandbox_running(&s) : answers;
	if (!running && !ps->all)
		return 0;
	if (answers)
		snprintf(refused, sizeof(refused), "%llu",
		         status_value(reply, "dns ", "refused") +
		                 status_value(reply, "proxy ", "blocked") +
		                 status_value(reply, "proxy ", "sni-refused") +
		                 status_value(reply, "firewall ", "dropped"));
	if (running && ps->kind == SANDBOX_KIND_RUN)
		format_age(s.started_ms, age, sizeof(age));
	else
		snprintf(age, sizeof(age), "%s", running ? "-" : "stopped");
	const char *profile = s.profile[0] ? s.profile : "-";
	if (s.airgapped)
		profile = "airgapped";
	printf("%-24s %-7s %-12s %-8s %7zu %7zu %8s\n", name, sandbox_kind_name(ps->kind), profile,
	       age, allowed, blocked, refused);
	ps->shown++;
	return 0;
}

int cmd_ps(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"all", no_argument, NULL, 'a'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct ps ps = {0};
	struct diag d = {""};
	int opt;

	while ((opt = getopt_long(argc, argv, "+ah", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			ps.all = true;
			break;
		case 'h':
			fputs(ps_help, stdout);
			return 0;
		default:
			fputs("Try 'airlock ps --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("ps", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	printf("%-24s %-7s %-12s %-8s %7s %7s %8s\n", "NAME", "KIND", "PROFILE", "UP", "ALLOWED",
	       "BLOCKED", "REFUSED");
	static const enum sandbox_kind kinds[] = {SANDBOX_KIND_RUN, SANDBOX_KIND_DOCKER,
	                                          SANDBOX_KIND_APPLY};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		ps.kind = kinds[i];
		if (state_each(kinds[i], ps_one, &ps, &d) < 0) {
			cli_error("ps", "%s", d.msg);
			return 1;
		}
	}
	return 0;
}

/* ---- rm ------------------------------------------------------------------ */

static const char rm_help[] =
        "Usage: airlock rm NAME...\n"
        "\n"
        "Forget `airlock run` sandboxes: their rules, log and state directory.  A\n"
        "running sandbox is not removed (stop its command first).  Docker\n"
        "sandboxes are removed with 'airlock docker rm NAME'.\n";

int cmd_rm(int argc, char **argv)
{
	int status = 0;

	if (argc < 2 || argv[1][0] == '-') {
		bool help =
		        argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0);
		fputs(rm_help, help ? stdout : stderr);
		return help ? 0 : EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		struct sandbox_state s;
		struct diag d = {""};
		enum sandbox_kind kind;
		if (state_find(argv[i], &kind, &d) < 0) {
			cli_error("rm", "%s", d.msg);
			status = 1;
			continue;
		}
		if (kind == SANDBOX_KIND_DOCKER) {
			cli_error("rm", "%s is a Docker sandbox: 'airlock docker rm %s'", argv[i],
			          argv[i]);
			status = 1;
			continue;
		}
		if (kind == SANDBOX_KIND_APPLY) {
			cli_error("rm",
			          "%s is this machine's own (airlock apply): 'airlock apply "
			          "--remove' stops it",
			          argv[i]);
			status = 1;
			continue;
		}
		if (state_open(kind, argv[i], &s, &d) < 0) {
			cli_error("rm", "%s", d.msg);
			status = 1;
			continue;
		}
		if (run_sandbox_running(&s)) {
			cli_error("rm", "%s is running (pid %ld): stop it first", argv[i], s.pid);
			status = 1;
			continue;
		}
		if (state_remove(kind, argv[i], &d) < 0) {
			cli_error("rm", "%s", d.msg);
			status = 1;
		}
	}
	return status;
}

/* ---- pending, approve, deny -------------------------------------------------- */

static const char ask_help[] =
        "Usage: airlock pending [--name NAME]\n"
        "       airlock approve [--name NAME] [--always] ID\n"
        "       airlock deny [--name NAME] ID\n"
        "\n"
        "Answer the questions of sandboxes started with `airlock run --ask`: a request\n"
        "the policy refuses by its default waits for an answer.  pending lists the open\n"
        "questions (ID, what is asked for, the protocol, the client, how long it has\n"
        "waited, how many requests wait on it); approve allows it for the rest of the\n"
        "run (--always: also in the sandbox's allowed-domains, for every later run);\n"
        "deny refuses it, and the same question is not asked again in this run.\n"
        "Without --name, the running sandbox that has question ID is meant (every one,\n"
        "for pending).\n"
        "\n"
        "Options:\n"
        "  -n, --name NAME   the sandbox\n"
        "      --always      (approve) keep the rule for later runs too\n"
        "  -h, --help        show this help\n";

struct asking {
	const char *name; /* --name, or NULL */
	const char *request;
	unsigned id;
	char found[SANDBOX_NAME_MAX + 1]; /* the sandbox that has question id */
	unsigned matches;
	bool list;
	unsigned listed;
};

/* The running sandboxes' control sockets, asked `pending`. */
static int ask_one(const char *name, void *ctx)
{
	struct asking *ak = ctx;
	struct sandbox_state s;
	char sock[PATH_MAX], reply[CONTROL_REPLY_MAX];

	if (ak->name && strcmp(ak->name, name) != 0)
		return 0;
	if (state_open(SANDBOX_KIND_RUN, name, &s, NULL) < 0 ||
	    state_path(&s, "run/control.sock", sock, sizeof(sock)) < 0 ||
	    control_ask(sock, "pending", reply, sizeof(reply), NULL) < 0)
		return 0;
	for (const char *p = reply; *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		if (ak->list) {
			printf("%-24s %.*s\n", name, len, p);
			ak->listed++;
		} else if (strtoul(p, NULL, 10) == ak->id) {
			snprintf(ak->found, sizeof(ak->found), "%s", name);
			ak->matches++;
		}
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

int cmd_ask(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"name", required_argument, NULL, 'n'},
	        {"always", no_argument, NULL, 'A'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *cmd = argv[0];
	struct asking ak = {.list = strcmp(cmd, "pending") == 0};
	struct diag d = {""};
	bool always = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "+n:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			ak.name = optarg;
			break;
		case 'A':
			always = true;
			break;
		case 'h':
			fputs(ask_help, stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'airlock %s --help'.\n", cmd);
			return EXIT_USAGE;
		}
	}
	if (always && strcmp(cmd, "approve") != 0) {
		cli_error(cmd, "--always is for approve");
		return EXIT_USAGE;
	}
	if (ak.list) {
		if (optind < argc) {
			cli_error(cmd, "unexpected argument '%s'", argv[optind]);
			return EXIT_USAGE;
		}
		if (state_each(SANDBOX_KIND_RUN, ask_one, &ak, &d) < 0) {
			cli_error(cmd, "%s", d.msg);
			return 1;
		}
		if (ak.listed == 0)
			fprintf(stderr, "airlock pending: no question is open\n");
		return 0;
	}
	char *end = NULL;
	if (optind + 1 != argc || (ak.id = (unsigned)strtoul(argv[optind], &end, 10)) == 0 ||
	    *end) {
		cli_error(cmd,
		          "expected one question number: airlock %s [--name NAME] ID ('airlock "
		          "pending' lists them)",
		          cmd);
		return EXIT_USAGE;
	}
	if (state_each(SANDBOX_KIND_RUN, ask_one, &ak, &d) < 0) {
		cli_error(cmd, "%s", d.msg);
		return 1;
	}
	if (ak.matches == 0) {
		cli_error(cmd, "no open question %u%s%s ('airlock pending' lists them)", ak.id,
		          ak.name ? " in " : "", ak.name ? ak.name : "");
		return 1;
	}
	if (ak.matches > 1) {
		cli_error(cmd, "question %u is open in several sandboxes: give --name", ak.id);
		return EXIT_USAGE;
	}
	struct sandbox_state s;
	char sock[PATH_MAX], reply[CONTROL_REPLY_MAX], request[64];
	if (state_open(SANDBOX_KIND_RUN, ak.found, &s, &d) < 0 ||
	    state_path(&s, "run/control.sock", sock, sizeof(sock)) < 0) {
		cli_error(cmd, "%s", d.msg);
		return 1;
	}
	snprintf(request, sizeof(request), "%s %u%s", strcmp(cmd, "deny") == 0 ? "deny" : "approve",
	         ak.id, always ? " always" : "");
	int e = control_ask(sock, request, reply, sizeof(reply), &d);
	if (e < 0) {
		cli_error(cmd, "%s", e == -EREMOTEIO ? reply : d.msg);
		return 1;
	}
	printf("%s: %s\n", ak.found, reply);
	return 0;
}
