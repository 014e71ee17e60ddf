/* airlock logs: the audit log, for people. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "log/render.h"
#include "state/state.h"

static const char logs_help[] =
        "Usage: airlock logs [OPTIONS] [FILE]\n"
        "\n"
        "Show an audit log (the JSON lines `airlock gateway --log FILE` writes) as\n"
        "aligned columns - time, verdict, protocol, target, the rule that decided -\n"
        "followed by a summary of the most-blocked names.  With --name NAME and no\n"
        "FILE, the log of sandbox NAME (airlock run, airlock docker run).  Otherwise,\n"
        "without FILE or with -, the log is read from standard input.\n"
        "\n"
        "Options:\n"
        "      --name NAME   only this sandbox's records (and its own log, without FILE)\n"
        "      --blocked     only refusals\n"
        "      --json        the matching records as JSON lines, unchanged\n"
        "  -f, --follow      keep showing records as they are written (also across\n"
        "                    rotation) until interrupted; no summary\n"
        "      --utc         times in UTC, in full\n"
        "      --full        local times with the date and milliseconds\n"
        "  -h, --help        show this help\n"
        "\n"
        "Colours mark verdicts when the output is a terminal and NO_COLOR is unset.\n"
        "Names a sandboxed program chose are shown in printable ASCII only.\n";

enum {
	OPT_NAME = OPT_FIRST_FREE,
	OPT_BLOCKED,
	OPT_UTC,
	OPT_FULL,
};

struct show {
	struct render_options render;
	struct render_widths widths;
	bool json;
	struct render_summary *summary;
	unsigned long lines, malformed;
	const char *source;
};

/* One line of the log: decode, filter, print. */
static void show_line(struct show *s, const char *line, size_t len)
{
	struct audit_record r;
	struct diag d;

	s->lines++;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return;
	if (audit_decode(line, len, s->lines, &r, &d) < 0) {
		if (s->malformed++ < 5)
			fprintf(stderr, "airlock logs: %s: %s\n", s->source, d.msg);
		return;
	}
	if (!render_match(&s->render, &r))
		return;
	if (s->summary)
		render_summary_add(s->summary, &r);
	if (s->json)
		printf("%.*s\n", (int)len, line);
	else
		render_record(stdout, &s->render, &s->widths, &r);
}

/* Fit the columns to the whole file first, so they line up. */
static void fit_widths(struct show *s, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;

	while ((n = getline(&line, &cap, f)) > 0) {
		struct audit_record r;
		size_t len = (size_t)n;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len && audit_decode(line, len, ++lineno, &r, NULL) == 0 &&
		    render_match(&s->render, &r))
			render_widths_fit(&s->widths, &s->render, &r);
	}
	free(line);
}

static int show_file(struct show *s, const char *path)
{
	bool from_stdin = !path || strcmp(path, "-") == 0;
	FILE *f = from_stdin ? stdin : fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	s->source = from_stdin ? "standard input" : path;
	if (!f) {
		cli_error("logs", "cannot open %s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	/* A regular file is read twice: once for the column widths. */
	render_widths_init(&s->widths, from_stdin);
	if (!from_stdin && !s->json) {
		fit_widths(s, f);
		rewind(f);
	}
	while ((n = getline(&line, &cap, f)) > 0)
		show_line(s, line, (size_t)n);
	free(line);
	if (!from_stdin)
		fclose(f);
	if (s->summary && !s->json) {
		putchar('\n');
		render_summary_print(stdout, s->summary, 10);
	}
	if (s->malformed)
		fprintf(stderr, "airlock logs: %lu malformed line(s) skipped\n", s->malformed);
	return 0;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signo)
{
	(void)signo;
	interrupted = 1;
}

static int follow_file(struct show *s, const char *path)
{
	struct render_follow f;
	struct diag d;
	char *buf = malloc(AUDIT_LINE_MAX * 4);
	int status = 0;

	if (!buf || render_follow_open(&f, path, 0, &d) < 0) {
		cli_error("logs", "%s", buf ? d.msg : "out of memory");
		free(buf);
		return EXIT_USAGE;
	}
	s->source = path;
	render_widths_init(&s->widths, true);
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	while (!interrupted) {
		size_t len;
		if (render_follow_read(&f, buf, AUDIT_LINE_MAX * 4, &len, &d) < 0) {
			cli_error("logs", "%s", d.msg);
			status = 1;
			break;
		}
		for (size_t o = 0; o < len;) {
			const char *nl = memchr(buf + o, '\n', len - o);
			size_t n = nl ? (size_t)(nl - (buf + o)) + 1 : len - o;
			show_line(s, buf + o, n);
			o += n;
		}
		fflush(stdout);
		if (len == 0)
			poll(NULL, 0, 200);
	}
	render_follow_close(&f);
	free(buf);
	return status;
}

int cmd_logs(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"name", required_argument, NULL, OPT_NAME},
	        {"blocked", no_argument, NULL, OPT_BLOCKED},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"follow", no_argument, NULL, 'f'},
	        {"utc", no_argument, NULL, OPT_UTC},
	        {"full", no_argument, NULL, OPT_FULL},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct show s = {0};
	bool follow = false;
	int opt, status;

	while ((opt = getopt_long(argc, argv, "+fh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_NAME:
			s.render.sandbox = optarg;
			s.render.show_sandbox = false;
			break;
		case OPT_BLOCKED:
			s.render.blocked_only = true;
			break;
		case OPT_JSON:
			s.json = true;
			break;
		case 'f':
			follow = true;
			break;
		case OPT_UTC:
			s.render.time = RENDER_TIME_UTC;
			break;
		case OPT_FULL:
			s.render.time = RENDER_TIME_FULL;
			break;
		case 'h':
			fputs(logs_help, stdout);
			return 0;
		default:
			fputs("Try 'airlock logs --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		cli_error("logs", "one log file at a time; try 'airlock logs --help'");
		return EXIT_USAGE;
	}
	const char *path = optind < argc ? argv[optind] : NULL;
	char own[PATH_MAX];
	if (!path && s.render.sandbox) {
		/* A sandbox's own log (airlock run, airlock docker run). */
		struct sandbox_state st;
		enum sandbox_kind kind;
		struct diag d = {""};
		if (state_find(s.render.sandbox, &kind, &d) < 0 ||
		    state_open(kind, s.render.sandbox, &st, &d) < 0 ||
		    state_path(&st, "run/audit.jsonl", own, sizeof(own)) < 0) {
			cli_error("logs", "%s", d.msg[0] ? d.msg : "path too long");
			return EXIT_USAGE;
		}
		path = own;
	}
	if (!path && isatty(STDIN_FILENO)) {
		cli_error("logs",
		          "give the log file (airlock logs FILE) or a sandbox (--name NAME), "
		          "or pipe the log in");
		return EXIT_USAGE;
	}
	s.render.show_sandbox = !s.render.sandbox;
	s.render.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !s.json;
	if (follow) {
		if (!path || strcmp(path, "-") == 0) {
			cli_error("logs", "--follow needs a file");
			return EXIT_USAGE;
		}
		return follow_file(&s, path);
	}
	s.summary = render_summary_new(RENDER_SUMMARY_NAMES_MAX);
	if (!s.summary) {
		cli_error("logs", "out of memory");
		return EXIT_USAGE;
	}
	status = show_file(&s, path);
	render_summary_free(s.summary);
	return status;
}
