/* overlay.c - the compose overlay for a sandboxed project (see compose.h).
 *
 * Pure: the parsed file and a spec in, YAML text out.  Every string is
 * written double-quoted (escaped), and `$` doubled so compose never
 * interpolates what came from the person's input; only the telemetry
 * defaults are meant to be interpolated. */
#include "compose/compose.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker/image.h"
#include "docker/topology.h"

const struct compose_default compose_telemetry_defaults[] = {
        {"DO_NOT_TRACK", "1"},
        {"DISABLE_TELEMETRY", "1"},
        {"DISABLE_ERROR_REPORTING", "1"},
        {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"},
        {"NEXT_TELEMETRY_DISABLED", "1"},
        {"NUXT_TELEMETRY_DISABLED", "1"},
        {"GATSBY_TELEMETRY_DISABLED", "1"},
        {"ASTRO_TELEMETRY_DISABLED", "1"},
        {"DOTNET_CLI_TELEMETRY_OPTOUT", "1"},
        {"POWERSHELL_TELEMETRY_OPTOUT", "1"},
        {"HOMEBREW_NO_ANALYTICS", "1"},
        {"CHECKPOINT_DISABLE", "1"},
        {"HF_HUB_DISABLE_TELEMETRY", "1"},
        {"SCARF_ANALYTICS", "false"},
        {"NPM_CONFIG_UPDATE_NOTIFIER", "false"},
        {"PIP_DISABLE_PIP_VERSION_CHECK", "1"},
};
const size_t compose_n_telemetry_defaults =
        sizeof(compose_telemetry_defaults) / sizeof(compose_telemetry_defaults[0]);

struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void grow(struct out *o, size_t need)
{
	if (o->failed || o->len + need + 1 <= o->cap)
		return;
	size_t cap = o->cap ? o->cap : 8192;
	while (cap < o->len + need + 1)
		cap *= 2;
	char *b = realloc(o->buf, cap);
	if (!b) {
		o->failed = true;
		return;
	}
	o->buf = b;
	o->cap = cap;
}

_printf_(2, 3) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->failed = true;
		return;
	}
	grow(o, (size_t)n);
	if (o->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

/* A double-quoted YAML scalar; `$` doubled unless `interpolate`. */
static void quoted(struct out *o, const char *s, bool interpolate)
{
	put(o, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			put(o, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			put(o, "\\x%02x", *p);
		else if (*p == '$' && !interpolate)
			put(o, "$$");
		else
			put(o, "%c", *p);
	}
	put(o, "\"");
}

static void q(struct out *o, const char *s)
{
	quoted(o, s, false);
}

/* Text in a comment: printable ASCII only, so nothing ends the comment. */
static void comment(struct out *o, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		put(o, "%c", *p >= 0x20 && *p < 0x7f ? *p : '?');
}

/* A flow list of quoted strings: ["a", "b"]. */
static void flow_list(struct out *o, const char *const *v, size_t n)
{
	put(o, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(o, ", ");
		q(o, v[i]);
	}
	put(o, "]");
}

/* ---- checks ---- */

static bool valid_service_name(const char *n)
{
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-", *p)))
			return false;
	return *n != '\0';
}

static const struct compose_network *network(const struct compose_file *f, const char *name)
{
	for (size_t i = 0; i < f->n_networks; i++)
		if (strcmp(f->networks[i].name, name) == 0)
			return &f->networks[i];
	return NULL;
}

static bool selected(const struct compose_spec *s, const char *name)
{
	for (size_t i = 0; i < s->n_services; i++)
		if (strcmp(s->services[i], name) == 0)
			return true;
	return false;
}

/* Whether service `s` is on network `net` ("default" when it lists none). */
static bool on_network(const struct compose_service *s, const char *net)
{
	if (s->has_network_mode)
		return false;
	if (!s->has_networks)
		return strcmp(net, "default") == 0;
	for (size_t i = 0; i < s->n_networks; i++)
		if (strcmp(s->networks[i], net) == 0)
			return true;
	return false;
}

static int unknown_service(const struct compose_file *f, const struct compose_spec *spec,
                           const char *name, struct diag *d)
{
	char list[512] = "", esc[DIAG_ESCAPE_SIZE];
	size_t o = 0;
	for (size_t i = 0; i < f->n_services && o + 1 < sizeof(list); i++) {
		const char *n = f->services[i].name;
		if (i == 12) {
			snprintf(list + o, sizeof(list) - o, ", ...");
			break;
		}
		int w = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
		                 diag_escape(n, strlen(n), esc, sizeof(esc)));
		if (w < 0)
			break;
		o += (size_t)w;
	}
	return diag_fail(d, -ENOENT, "no service '%s' in %s (it has: %s)",
	                 diag_escape(name, strlen(name), esc, sizeof(esc)), spec->label, list);
}

static int refuse(const struct compose_spec *spec, const struct compose_service *s, const char *why,
                  struct diag *d)
{
	return diag_fail(d, -EINVAL, "%s:%d:%d: service %s %s", spec->label, s->line, s->column,
	                 s->name, why);
}

static int check(const struct compose_file *f, const struct compose_spec *spec, struct diag *d)
{
	static const char *const ours[] = {COMPOSE_SIDECAR, COMPOSE_INTERNAL, COMPOSE_EGRESS};

	if (spec->n_services == 0)
		return diag_fail(d, -EINVAL, "no service to put behind the gateway");
	for (size_t i = 0; i < 3; i++)
		if (compose_service(f, ours[i]) || network(f, ours[i]))
			return diag_fail(d, -EINVAL,
			                 "%s already has a service or network named %s: is it an "
			                 "airlock overlay, or was one merged into it?",
			                 spec->label, ours[i]);
	for (size_t i = 0; i < spec->n_services; i++) {
		const struct compose_service *s = compose_service(f, spec->services[i]);
		if (!s)
			return unknown_service(f, spec, spec->services[i], d);
		if (!valid_service_name(s->name))
			return refuse(spec, s, "has a name compose does not accept", d);
		if (s->has_network_mode)
			return refuse(spec, s,
			              "sets network_mode, which an overlay cannot undo: remove it "
			              "(the overlay puts the service on " COMPOSE_INTERNAL ")",
			              d);
		if (s->dns)
			return refuse(
			        spec, s,
			        "sets dns: the sandbox's DNS server is the sidecar; remove it", d);
		if (s->privileged)
			return refuse(spec, s,
			              "is privileged: it could leave its network namespace; remove "
			              "privileged",
			              d);
		if (s->pid_host || s->userns_host)
			return refuse(spec, s,
			              "shares the host's pid or user namespace, which leads out of "
			              "the sandbox; remove pid/userns_mode: host",
			              d);
		for (size_t k = 0; k < s->n_networks; k++) {
			const struct compose_network *n = network(f, s->networks[k]);
			if (!valid_service_name(s->networks[k]))
				return refuse(spec, s,
				              "is on a network whose name compose cannot create "
				              "(expected [A-Za-z0-9._-])",
				              d);
			if (n && n->external) {
				char why[COMPOSE_NAME_MAX + 160];
				snprintf(why, sizeof(why),
				         "is on the external network %s, which an overlay cannot "
				         "make internal: take the service off it",
				         n->name);
				return refuse(spec, s, why, d);
			}
		}
	}
	return 0;
}

/* The networks the selected services keep (compose merges them), each once. */
static size_t kept_networks(const struct compose_file *f, const struct compose_spec *spec,
                            const char *out[COMPOSE_MAX_NETWORKS])
{
	size_t n = 0;
	for (size_t i = 0; i < spec->n_services; i++) {
		const struct compose_service *s = compose_service(f, spec->services[i]);
		for (size_t k = 0; s && k < s->n_networks; k++) {
			bool dup = false;
			for (size_t j = 0; j < n; j++)
				dup |= strcmp(out[j], s->networks[k]) == 0;
			if (!dup && n < COMPOSE_MAX_NETWORKS)
				out[n++] = s->networks[k];
		}
	}
	return n;
}

/* Notes: which networks became internal, and who else is on them. */
static void notes(const struct compose_file *f, const struct compose_spec *spec,
                  const char *const *kept, size_t n_kept, struct compose_overlay *ret)
{
	size_t o = 0;
	ret->notes[0] = '\0';
	for (size_t k = 0; k < n_kept; k++) {
		int w = snprintf(ret->notes + o, sizeof(ret->notes) - o,
		                 "network %s is made internal (compose keeps a service's "
		                 "networks)",
		                 kept[k]);
		if (w < 0 || (size_t)w >= sizeof(ret->notes) - o)
			return;
		o += (size_t)w;
		bool first = true;
		for (size_t i = 0; i < f->n_services; i++) {
			const struct compose_service *s = &f->services[i];
			if (selected(spec, s->name) || !on_network(s, kept[k]))
				continue;
			w = snprintf(ret->notes + o, sizeof(ret->notes) - o, "%s%s",
			             first ? ": no route out for " : ", ", s->name);
			if (w < 0 || (size_t)w >= sizeof(ret->notes) - o)
				return;
			o += (size_t)w;
			first = false;
		}
		w = snprintf(ret->notes + o, sizeof(ret->notes) - o, "\n");
		if (w < 0 || (size_t)w >= sizeof(ret->notes) - o)
			return;
		o += (size_t)w;
	}
}

/* ---- the text ---- */

static void sidecar(struct out *o, const struct compose_spec *s, const struct subnet_plan *plan)
{
	char user[32], dns[48], proxy[48];
	const char *argv[64 + 2 * 4];
	size_t n = 0;

	snprintf(user, sizeof(user), "%d:%d", GATEWAY_UID, GATEWAY_UID);
	snprintf(dns, sizeof(dns), "%s:%d", plan->sidecar, GATEWAY_DNS_PORT);
	snprintf(proxy, sizeof(proxy), "%s:%d", plan->sidecar, GATEWAY_PROXY_PORT);
	argv[n++] = "gateway";
	argv[n++] = "--name";
	argv[n++] = s->name;
	argv[n++] = "--profile";
	argv[n++] = s->profile;
	if (s->default_action) {
		argv[n++] = "--default";
		argv[n++] = s->default_action;
	}
	for (size_t i = 0; i < s->n_upstream && i < 4; i++) {
		argv[n++] = "--upstream";
		argv[n++] = s->upstream[i];
	}
	argv[n++] = "--listen-dns";
	argv[n++] = dns;
	argv[n++] = "--listen-proxy";
	argv[n++] = proxy;
	argv[n++] = "--control";
	argv[n++] = "/run/airlock/control.sock";
	argv[n++] = "--log";
	argv[n++] = "/run/airlock/audit.jsonl";

	put(o, "  %s:\n", COMPOSE_SIDECAR);
	put(o, "    image: ");
	q(o, s->image);
	put(o, "\n    pull_policy: never\n    user: ");
	q(o, user);
	put(o, "\n    command:\n");
	for (size_t i = 0; i < n; i++) {
		put(o, "      - ");
		q(o, argv[i]);
		put(o, "\n");
	}
	/* Rules after the fixed arguments, one pair a line. */
	for (size_t i = 0; i < s->n_rules; i++) {
		put(o, "      - \"%s\"\n      - ", s->rules[i].block ? "--block" : "--allow");
		q(o, s->rules[i].text);
		put(o, "\n");
	}
	static const char *const drop[] = {"ALL"};
	static const char *const secopt[] = {"no-new-privileges:true"};
	static const char *const health[] = {"CMD", "/usr/bin/airlock", "docker", "healthcheck",
	                                     "/run/airlock/control.sock"};
	put(o, "    cap_drop: ");
	flow_list(o, drop, 1);
	put(o, "\n    security_opt: ");
	flow_list(o, secopt, 1);
	put(o, "\n    read_only: true\n");
	put(o,
	    "    tmpfs:\n"
	    "      - \"/tmp:rw,noexec,nosuid,nodev,size=16m\"\n"
	    "      - \"/run/airlock:rw,noexec,nosuid,nodev,size=64m,uid=%d,gid=%d,mode=0700\"\n",
	    GATEWAY_UID, GATEWAY_UID);
	put(o, "    sysctls:\n      net.ipv4.ip_unprivileged_port_start: \"0\"\n");
	put(o, "    pids_limit: 64\n    mem_limit: \"256m\"\n    restart: unless-stopped\n");
	put(o, "    healthcheck:\n      test: ");
	flow_list(o, health, 5);
	put(o, "\n      interval: 5s\n      timeout: 3s\n      retries: 3\n"
	       "      start_period: 60s\n");
	put(o, "    labels:\n      io.airlock.role: \"sidecar\"\n");
	put(o, "    networks:\n      %s:\n        ipv4_address: ", COMPOSE_INTERNAL);
	q(o, plan->sidecar);
	put(o, "\n      %s: {}\n", COMPOSE_EGRESS);
	if (s->profile_mount) {
		char vol[4200];
		snprintf(vol, sizeof(vol), "%s:%s:ro", s->profile_mount, s->profile);
		put(o, "    volumes:\n      - ");
		q(o, vol);
		put(o, "\n");
	}
}

static bool sets(const struct compose_service *s, const char *var)
{
	for (size_t i = 0; i < s->n_env; i++)
		if (strcmp(s->env[i], var) == 0)
			return true;
	return false;
}

static void service(struct out *o, const struct compose_file *f, const struct compose_service *svc,
                    const struct subnet_plan *plan)
{
	char proxy[64], no_proxy[8192];
	size_t np = (size_t)snprintf(no_proxy, sizeof(no_proxy), "localhost,127.0.0.1,::1");

	/* The project's own services are reached directly, never through the
	 * proxy (which could not resolve them). */
	for (size_t i = 0; i < f->n_services && np + COMPOSE_NAME_MAX + 2 < sizeof(no_proxy); i++)
		if (valid_service_name(f->services[i].name))
			np += (size_t)snprintf(no_proxy + np, sizeof(no_proxy) - np, ",%s",
			                       f->services[i].name);
	snprintf(proxy, sizeof(proxy), "http://%s:%d", plan->sidecar, GATEWAY_PROXY_PORT);

	put(o, "  ");
	q(o, svc->name);
	put(o, ":\n    networks:\n      %s: {}\n    dns: ", COMPOSE_INTERNAL);
	const char *dns[] = {plan->sidecar};
	flow_list(o, dns, 1);
	/* Without CAP_NET_RAW (Docker's default set has it) no frame goes
	 * straight to the bridge's own MAC, which the host would take for
	 * itself: `airlock docker run` keeps the bridge off the host with a
	 * host rule, which nothing makes for a compose project.  Compose
	 * merges this with the service's own cap_drop. */
	static const char *const no_raw[] = {"NET_RAW"};
	put(o, "\n    cap_drop: ");
	flow_list(o, no_raw, 1);
	put(o, "\n    environment:\n");
	static const char *const proxies[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
	                                      "https_proxy"};
	for (size_t i = 0; i < 4; i++) {
		put(o, "      %s: ", proxies[i]);
		q(o, proxy);
		put(o, "\n");
	}
	put(o, "      NO_PROXY: ");
	q(o, no_proxy);
	put(o, "\n      no_proxy: ");
	q(o, no_proxy);
	put(o, "\n");
	/* Defaults the person can override: in the service's environment (left
	 * out here, so theirs stands) or in the shell / .env (interpolated). */
	for (size_t i = 0; i < compose_n_telemetry_defaults; i++) {
		const struct compose_default *t = &compose_telemetry_defaults[i];
		char v[160];
		if (sets(svc, t->name))
			continue;
		snprintf(v, sizeof(v), "${%s:-%s}", t->name, t->value);
		put(o, "      %s: ", t->name);
		quoted(o, v, true);
		put(o, "\n");
	}
	put(o, "    depends_on:\n      %s:\n        condition: service_healthy\n", COMPOSE_SIDECAR);
}

static void networks(struct out *o, const struct subnet_plan *plan, const char *const *kept,
                     size_t n_kept)
{
	put(o, "networks:\n");
	put(o, "  %s:\n    driver: bridge\n    internal: true\n", COMPOSE_INTERNAL);
	put(o, "    driver_opts:\n      com.docker.network.bridge.inhibit_ipv4: \"true\"\n");
	put(o, "    ipam:\n      config:\n        - subnet: ");
	q(o, plan->subnet);
	put(o, "\n          ip_range: ");
	q(o, plan->range);
	put(o, "\n          gateway: ");
	q(o, plan->gateway);
	put(o, "\n    labels:\n      io.airlock.role: \"internal\"\n");
	put(o, "  %s:\n    driver: bridge\n    labels:\n      io.airlock.role: \"egress\"\n",
	    COMPOSE_EGRESS);
	for (size_t k = 0; k < n_kept; k++) {
		put(o, "  ");
		q(o, kept[k]);
		put(o, ":\n    internal: true\n");
	}
}

int compose_render(const struct compose_file *f, const struct compose_spec *spec,
                   struct compose_overlay *ret, struct diag *d)
{
	struct subnet_plan plan;
	struct out o = {0};
	const char *kept[COMPOSE_MAX_NETWORKS];

	memset(ret, 0, sizeof(*ret));
	int e = check(f, spec, d);
	if (e < 0)
		return e;
	if (!spec->subnet || subnet_plan(spec->subnet, &plan) < 0)
		return diag_fail(d, -EINVAL,
		                 "subnet '%.40s': expected an IPv4 subnet from /16 to /28",
		                 spec->subnet ? spec->subnet : "");
	if (!spec->image || !*spec->image || !spec->name || !*spec->name || !spec->profile ||
	    !*spec->profile)
		return diag_fail(d, -EINVAL, "an overlay needs an image, a name and a profile");
	size_t n_kept = kept_networks(f, spec, kept);

	put(&o, "# airlock compose render (airlock %s): ", spec->version ? spec->version : "?");
	for (size_t i = 0; i < spec->n_services; i++) {
		put(&o, "%s", i ? ", " : "");
		comment(&o, spec->services[i]);
	}
	put(&o, " of ");
	comment(&o, spec->label);
	put(&o, "\n# behind an airlock gateway sidecar (profile ");
	comment(&o, spec->profile);
	put(&o, ").  Use it after that file:\n#   docker compose -f ");
	comment(&o, strcmp(spec->label, "stdin") == 0 ? "docker-compose.yml" : spec->label);
	put(&o,
	    " -f THIS_FILE up -d\n"
	    "# Those services are on %s only (no route out); their DNS server\n"
	    "# and proxy are the sidecar's, at %s.\n",
	    COMPOSE_INTERNAL, plan.sidecar);
	for (size_t k = 0; k < n_kept; k++) {
		put(&o, "# Made internal too (compose keeps a service's networks): ");
		comment(&o, kept[k]);
		put(&o, "\n");
	}
	put(&o, "services:\n");
	sidecar(&o, spec, &plan);
	for (size_t i = 0; i < spec->n_services; i++) {
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= strcmp(spec->services[j], spec->services[i]) == 0;
		if (!dup)
			service(&o, f, compose_service(f, spec->services[i]), &plan);
	}
	networks(&o, &plan, kept, n_kept);
	if (o.failed) {
		free(o.buf);
		return diag_fail(d, -ENOMEM, "out of memory");
	}
	notes(f, spec, kept, n_kept, ret);
	ret->text = o.buf;
	ret->len = o.len;
	return 0;
}

void compose_overlay_done(struct compose_overlay *o)
{
	free(o->text);
	o->text = NULL;
	o->len = 0;
}
