/* airlock compose render: an overlay that puts compose services behind an
 * airlock gateway sidecar, as `airlock docker run` does for one container
 * (compose/compose.h says what the overlay holds and why). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "config.h"
#include "docker/client.h"
#include "docker/image.h"
#include "docker/topology.h"
#include "net/addr.h"
#include "policy/rule.h"
#include "util/file.h"

#define MAX_UPSTREAM 4
#define MAX_RULES    1024

static const char render_help[] =
        "Usage: airlock compose render [OPTIONS] SERVICE... < docker-compose.yml\n"
        "       airlock compose render [OPTIONS] -f FILE SERVICE...\n"
        "\n"
        "Print a compose overlay that puts SERVICE... behind an airlock gateway\n"
        "sidecar, as `airlock docker run` does for one container: the services on an\n"
        "internal network of the project (no route out), their DNS server and proxy\n"
        "the sidecar's, telemetry turned off by default (their own environment, the\n"
        "shell or .env can say otherwise); the sidecar hardened, with a healthcheck\n"
        "the services wait for.  Use it after the file:\n"
        "\n"
        "  airlock compose render --profile strict -f docker-compose.yml app \\\n"
        "      > airlock.yml\n"
        "  docker compose -f docker-compose.yml -f airlock.yml up -d\n"
        "\n"
        "Networks a service lists stay its networks (compose merges them): the\n"
        "overlay makes them internal and says so.  Refused, with what to change:\n"
        "network_mode, dns, privileged, pid/userns_mode: host, external networks.\n"
        "\n"
        "Options:\n"
        "  -f, --file FILE           the compose file (default: standard input)\n"
        "  -p, --profile NAME|FILE   profile (default: standard); a FILE is mounted\n"
        "                            into the sidecar\n"
        "  -a, --allow RULE          allow RULE (repeatable)\n"
        "  -b, --block RULE          block RULE (repeatable)\n"
        "      --default allow|block what happens when no rule matches\n"
        "      --upstream ADDR       the resolver the sidecar asks (repeatable;\n"
        "                            default: Docker's, through the sidecar's own)\n"
        "      --subnet CIDR         the internal network's IPv4 subnet (/16 to /28;\n"
        "                            default: a free one from the Docker daemon's pools)\n"
        "      --gateway-image REF   the sidecar's image (default airlock-gateway:VERSION;\n"
        "                            'airlock docker image build' makes it)\n"
        "      --name NAME           the sandbox name in the audit log (default compose)\n"
        "  -h, --help                show this help\n"
        "\n"
        "See docs/docker.md (\"Compose\").\n";

enum {
	OPT_UPSTREAM = OPT_FIRST_FREE,
	OPT_SUBNET,
	OPT_IMAGE,
	OPT_NAME,
};

struct render {
	struct policy_args policy;
	const char *file;
	const char *upstream[MAX_UPSTREAM];
	size_t n_upstream;
	const char *subnet;
	const char *image;
	const char *name;
	struct compose_rule rules[MAX_RULES];
	char (*canon)[RULE_TEXT_SIZE];
	size_t n_rules;
};

static int parse(int argc, char **argv, struct render *r)
{
	static const struct option longopts[] = {
	        {"file", required_argument, NULL, 'f'},
	        {"profile", required_argument, NULL, 'p'},
	        {"allow", required_argument, NULL, 'a'},
	        {"block", required_argument, NULL, 'b'},
	        {"default", required_argument, NULL, OPT_DEFAULT},
	        {"upstream", required_argument, NULL, OPT_UPSTREAM},
	        {"subnet", required_argument, NULL, OPT_SUBNET},
	        {"gateway-image", required_argument, NULL, OPT_IMAGE},
	        {"name", required_argument, NULL, OPT_NAME},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+f:p:a:b:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			r->file = optarg;
			break;
		case 'a':
		case 'b':
			if (r->n_rules == MAX_RULES) {
				cli_error("compose render", "at most %d rules", MAX_RULES);
				return -1;
			}
			if (cli_canonical_rule("compose render", optarg, r->canon[r->n_rules],
			                       RULE_TEXT_SIZE) < 0)
				return -1;
			r->rules[r->n_rules].text = r->canon[r->n_rules];
			r->rules[r->n_rules].block = opt == 'b';
			r->n_rules++;
			_fallthrough_;
		case 'p':
		case OPT_DEFAULT:
			if (policy_args_option(&r->policy, "compose render", opt, optarg) < 0)
				return -1;
			break;
		case OPT_UPSTREAM: {
			struct addr ad;
			if (r->n_upstream == MAX_UPSTREAM) {
				cli_error("compose render", "at most %d --upstream", MAX_UPSTREAM);
				return -1;
			}
			if (strlen(optarg) >= 64 || addr_parse(optarg, 53, &ad) < 0) {
				cli_error("compose render",
				          "--upstream '%s': expected an address, e.g. 192.0.2.53",
				          optarg);
				return -1;
			}
			r->upstream[r->n_upstream++] = optarg;
			break;
		}
		case OPT_SUBNET: {
			struct subnet_plan plan;
			if (subnet_plan(optarg, &plan) < 0) {
				cli_error("compose render",
				          "--subnet '%s': expected an IPv4 subnet from /16 to /28, "
				          "e.g. "
				          "172.30.0.0/24",
				          optarg);
				return -1;
			}
			r->subnet = optarg;
			break;
		}
		case OPT_IMAGE:
			r->image = optarg;
			break;
		case OPT_NAME:
			r->name = optarg;
			break;
		case 'h':
			fputs(render_help, stdout);
			return 1;
		default:
			fputs("Try 'airlock compose render --help'.\n", stderr);
			return -1;
		}
	}
	return 0;
}

static int read_stdin(char **ret, size_t *ret_len, struct diag *d)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return diag_fail(d, -ENOMEM, "out of memory");
	for (;;) {
		if (len == cap) {
			if (cap > COMPOSE_FILE_MAX) {
				free(buf);
				return diag_fail(d, -EFBIG, "stdin: over %d bytes",
				                 COMPOSE_FILE_MAX);
			}
			char *b = realloc(buf, cap * 2 + 1);
			if (!b) {
				free(buf);
				return diag_fail(d, -ENOMEM, "out of memory");
			}
			buf = b;
			cap *= 2;
		}
		ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			return diag_fail(d, -e, "cannot read stdin: %s", strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* The internal network's subnet: --subnet, or a free one from the daemon. */
static int pick_subnet(struct render *r, char *out, size_t size)
{
	_cleanup_(docker_closep) struct docker *dk = NULL;
	struct diag d = {""};

	if (r->subnet) {
		snprintf(out, size, "%s", r->subnet);
		return 0;
	}
	if (docker_open(NULL, &dk, &d) < 0 ||
	    topology_free_subnet(dk, "compose", out, size, &d) < 0) {
		cli_error("compose render",
		          "%s; give --subnet CIDR to render without asking the daemon", d.msg);
		return -1;
	}
	return 0;
}

static int render(int argc, char **argv)
{
	struct render r = {.image = gateway_image_default(), .name = "compose"};
	struct compose_file f = {0};
	struct compose_overlay ov = {0};
	struct policy *policy = NULL;
	struct profile prof;
	struct diag d = {""};
	_cleanup_free_ char *text = NULL;
	size_t len;
	char subnet[64], abs_profile[PATH_MAX];
	int status = EXIT_USAGE;

	policy_args_init(&r.policy);
	r.canon = calloc(MAX_RULES, sizeof(*r.canon));
	if (!r.canon) {
		cli_error("compose render", "out of memory");
		goto out;
	}
	int p = parse(argc, argv, &r);
	if (p != 0) {
		status = p > 0 ? 0 : EXIT_USAGE;
		goto out;
	}
	if (optind >= argc) {
		cli_error("compose render", "no SERVICE given: which services go behind the "
		                            "gateway? ('airlock compose render --help')");
		goto out;
	}
	if (sandbox_name_check(r.name, &d) < 0) {
		cli_error("compose render", "--name: %s", d.msg);
		goto out;
	}
	/* The whole policy compiles here first: a typo fails before anything. */
	if (policy_args_build(&r.policy, "compose render", &prof, &policy) < 0)
		goto out;
	bool none = policy_network_none(policy);
	policy_unref(policy);
	if (none) {
		cli_error("compose render",
		          "profile %s has no network: give the services "
		          "network_mode: none instead of a gateway",
		          prof.name);
		goto out;
	}
	const char *profile = r.policy.profile ? r.policy.profile : "standard";
	const char *mount = NULL;
	size_t plen = strlen(profile);
	if (strchr(profile, '/') || (plen > 5 && strcmp(profile + plen - 5, ".conf") == 0)) {
		if (!realpath(profile, abs_profile)) {
			cli_error("compose render", "--profile %s: %s", profile, strerror(errno));
			goto out;
		}
		mount = abs_profile;
		profile = "/etc/airlock/profile.conf";
	}

	status = 1;
	const char *label = r.file && strcmp(r.file, "-") != 0 ? r.file : "stdin";
	int e = r.file && strcmp(r.file, "-") != 0
	                ? file_read_all(r.file, COMPOSE_FILE_MAX, &text, &len, &d)
	                : (isatty(STDIN_FILENO) ? diag_fail(&d, -EINVAL,
	                                                    "no compose file: give -f FILE or "
	                                                    "pipe one in")
	                                        : read_stdin(&text, &len, &d));
	if (e < 0 || compose_parse(text, len, label, &f, &d) < 0) {
		cli_error("compose render", "%s", d.msg);
		goto out;
	}
	/* Every service exists and is acceptable before the daemon is asked. */
	struct compose_spec spec = {
	        .services = (const char *const *)argv + optind,
	        .n_services = (size_t)(argc - optind),
	        .image = r.image,
	        .name = r.name,
	        .profile = profile,
	        .profile_mount = mount,
	        .rules = r.rules,
	        .n_rules = r.n_rules,
	        .default_action = r.policy.default_action < 0               ? NULL
	                          : r.policy.default_action == ACTION_ALLOW ? "allow"
	                                                                    : "block",
	        .upstream = r.upstream,
	        .n_upstream = r.n_upstream,
	        .subnet = "10.0.0.0/24", /* checked with a placeholder first */
	        .label = label,
	        .version = AIRLOCK_VERSION,
	};
	if (compose_render(&f, &spec, &ov, &d) < 0) {
		cli_error("compose render", "%s", d.msg);
		goto out;
	}
	compose_overlay_done(&ov);
	if (pick_subnet(&r, subnet, sizeof(subnet)) < 0)
		goto out;
	spec.subnet = subnet;
	if (compose_render(&f, &spec, &ov, &d) < 0) {
		cli_error("compose render", "%s", d.msg);
		goto out;
	}
	if (fwrite(ov.text, 1, ov.len, stdout) != ov.len || fflush(stdout) != 0) {
		cli_error("compose render", "cannot write the overlay: %s", strerror(errno));
		goto out;
	}
	for (char *line = ov.notes, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		fprintf(stderr, "airlock compose render: note: %.*s\n", (int)(nl - line), line);
	}
	status = 0;
out:
	compose_overlay_done(&ov);
	compose_file_done(&f);
	policy_args_done(&r.policy);
	free(r.canon);
	return status;
}

int cmd_compose(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(render_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "render") == 0)
		return render(argc - 1, argv + 1);
	cli_error("compose", "no command '%s'; try 'airlock compose --help'", argv[1]);
	return EXIT_USAGE;
}
