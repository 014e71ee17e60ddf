/* topology.c - networks and sidecar of a Docker sandbox (see topology.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docker/image.h"
#include "docker/passage.h"
#include "docker/topology.h"
#include "gateway/control.h"

#define POLL_MS  100
#define LOG_TAIL 4096 /* bytes of the sidecar's output quoted in an error */

static void json_put(struct json_object **o)
{
	json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_put)

void topology_names(const char *name, struct topology_names *ret)
{
	snprintf(ret->sidecar, sizeof(ret->sidecar), "airlock-gw-%s", name);
	snprintf(ret->network, sizeof(ret->network), "airlock-int-%s", name);
}

int subnet_plan(const char *cidr, struct subnet_plan *ret)
{
	char ip[32];
	const char *slash = strchr(cidr, '/');
	struct in_addr a;
	char *end;

	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = '\0';
	errno = 0;
	long len = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || len < 16 || len > 28 ||
	    inet_pton(AF_INET, ip, &a) != 1)
		return -EINVAL;
	uint32_t mask = ~0u << (32 - len);
	uint32_t net = ntohl(a.s_addr) & mask;
	uint32_t half = 1u << (32 - len - 1);
	struct in_addr x;
	char buf[INET_ADDRSTRLEN];

	x.s_addr = htonl(net);
	inet_ntop(AF_INET, &x, buf, sizeof(buf));
	snprintf(ret->subnet, sizeof(ret->subnet), "%s/%ld", buf, len);
	x.s_addr = htonl(net + 1);
	inet_ntop(AF_INET, &x, ret->gateway, sizeof(ret->gateway));
	x.s_addr = htonl(net + 2);
	inet_ntop(AF_INET, &x, ret->sidecar, sizeof(ret->sidecar));
	x.s_addr = htonl(net + half);
	inet_ntop(AF_INET, &x, buf, sizeof(buf));
	snprintf(ret->range, sizeof(ret->range), "%s/%ld", buf, len + 1);
	return 0;
}

static struct json_object *labels(const char *sandbox, const char *role)
{
	struct json_object *l = json_object_new_object();
	if (sandbox)
		json_object_object_add(l, LABEL_SANDBOX, json_object_new_string(sandbox));
	json_object_object_add(l, LABEL_ROLE, json_object_new_string(role));
	return l;
}

static struct json_object *strings(const char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* GET /networks/NAME: 0 with the object, -ENOENT when absent. */
static int network_get(struct docker *dk, const char *name, struct json_object **ret,
                       struct diag *d)
{
	char path[DOCKER_PATH_MAX];
	snprintf(path, sizeof(path), "/networks/%s", name);
	return docker_call(dk, "GET", path, NULL, ret, d);
}

int topology_egress_ensure(struct docker *dk, struct diag *d)
{
	_cleanup_json_ struct json_object *o = NULL;
	int e = network_get(dk, EGRESS_NETWORK, &o, d);
	if (e != -ENOENT)
		return e;
	_cleanup_json_ struct json_object *req = json_object_new_object();
	json_object_object_add(req, "Name", json_object_new_string(EGRESS_NETWORK));
	json_object_object_add(req, "Driver", json_object_new_string("bridge"));
	json_object_object_add(req, "CheckDuplicate", json_object_new_boolean(1));
	json_object_object_add(req, "Labels", labels(NULL, "egress"));
	e = docker_call(dk, "POST", "/networks/create", req, NULL, d);
	return e == -EEXIST ? 0 : e; /* another sandbox made it meanwhile */
}

static struct json_object *internal_request(const char *network, const char *sandbox,
                                            const struct subnet_plan *plan)
{
	struct json_object *req = json_object_new_object();
	json_object_object_add(req, "Name", json_object_new_string(network));
	json_object_object_add(req, "Driver", json_object_new_string("bridge"));
	json_object_object_add(req, "Internal", json_object_new_boolean(1));
	json_object_object_add(req, "CheckDuplicate", json_object_new_boolean(1));
	json_object_object_add(req, "Labels", labels(sandbox, "internal"));
	/* No address on the host's side of the bridge: the workload cannot
	 * reach the host's own services through it. */
	struct json_object *opts = json_object_new_object();
	json_object_object_add(opts, "com.docker.network.bridge.inhibit_ipv4",
	                       json_object_new_string("true"));
	json_object_object_add(req, "Options", opts);
	if (plan) {
		struct json_object *cfg = json_object_new_object();
		json_object_object_add(cfg, "Subnet", json_object_new_string(plan->subnet));
		json_object_object_add(cfg, "IPRange", json_object_new_string(plan->range));
		json_object_object_add(cfg, "Gateway", json_object_new_string(plan->gateway));
		struct json_object *configs = json_object_new_array();
		json_object_array_add(configs, cfg);
		struct json_object *ipam = json_object_new_object();
		json_object_object_add(ipam, "Driver", json_object_new_string("default"));
		json_object_object_add(ipam, "Config", configs);
		json_object_object_add(req, "IPAM", ipam);
	}
	return req;
}

static const char *first_subnet(struct json_object *net)
{
	struct json_object *cfg = docker_json_get(net, "IPAM", "Config", NULL);
	if (!json_object_is_type(cfg, json_type_array) || json_object_array_length(cfg) == 0)
		return NULL;
	return docker_json_str(json_object_array_get_idx(cfg, 0), "Subnet", NULL);
}

static int delete_network(struct docker *dk, const char *name, struct diag *d)
{
	char path[DOCKER_PATH_MAX];
	snprintf(path, sizeof(path), "/networks/%s", name);
	int e = docker_call(dk, "DELETE", path, NULL, NULL, d);
	return e == -ENOENT ? 0 : e;
}

/* A free subnet from the daemon's pools: create a network without one, read
 * what it got, remove it. */
static int probe_subnet(struct docker *dk, const char *name, char *out, size_t size, struct diag *d)
{
	char probe[SANDBOX_NAME_MAX + 32];
	snprintf(probe, sizeof(probe), "airlock-probe-%s", name);
	_cleanup_json_ struct json_object *req = internal_request(probe, name, NULL);
	_cleanup_json_ struct json_object *created = NULL, *net = NULL;
	int e = docker_call(dk, "POST", "/networks/create", req, &created, d);
	if (e == -EEXIST) { /* left by a run that died between the two steps */
		if ((e = delete_network(dk, probe, d)) < 0)
			return e;
		e = docker_call(dk, "POST", "/networks/create", req, &created, d);
	}
	if (e < 0)
		return e;
	e = network_get(dk, probe, &net, d);
	const char *subnet = e == 0 ? first_subnet(net) : NULL;
	if (e == 0 && !subnet)
		e = diag_fail(d, -EIO, "Docker gave the network %s no IPv4 subnet", probe);
	if (e == 0)
		snprintf(out, size, "%s", subnet);
	int r = delete_network(dk, probe, e < 0 ? NULL : d);
	return e < 0 ? e : r;
}

int topology_free_subnet(struct docker *dk, const char *name, char *out, size_t size,
                         struct diag *d)
{
	return probe_subnet(dk, name, out, size, d);
}

int topology_internal_ensure(struct docker *dk, const char *name, const char *want_subnet,
                             struct subnet_plan *ret, struct diag *d)
{
	struct topology_names n;
	_cleanup_json_ struct json_object *net = NULL;
	char subnet[64];

	topology_names(name, &n);
	int e = network_get(dk, n.network, &net, d);
	if (e == 0) {
		const char *s = first_subnet(net);
		if (!s || subnet_plan(s, ret) < 0)
			return diag_fail(d, -EINVAL,
			                 "the network %s exists but has no usable IPv4 subnet "
			                 "(%s): remove it with 'docker network rm %s'",
			                 n.network, s ? s : "none", n.network);
		return 0;
	}
	if (e != -ENOENT)
		return e;
	if (want_subnet && *want_subnet)
		snprintf(subnet, sizeof(subnet), "%s", want_subnet);
	else if ((e = probe_subnet(dk, name, subnet, sizeof(subnet), d)) < 0)
		return e;
	if (subnet_plan(subnet, ret) < 0)
		return diag_fail(d, -EINVAL,
		                 "Docker's address pool gave %s for %s: airlock needs an IPv4 "
		                 "subnet from /16 to /28 (see dockerd --default-address-pool)",
		                 subnet, n.network);
	_cleanup_json_ struct json_object *req = internal_request(n.network, name, ret);
	return docker_call(dk, "POST", "/networks/create", req, NULL, d);
}

int topology_container_exists(struct docker *dk, const char *name, bool *ret_running,
                              struct diag *d)
{
	char path[DOCKER_PATH_MAX];
	_cleanup_json_ struct json_object *o = NULL;

	snprintf(path, sizeof(path), "/containers/%s/json", name);
	int e = docker_call(dk, "GET", path, NULL, &o, d);
	if (e == -ENOENT)
		return 0;
	if (e < 0)
		return e;
	if (ret_running) {
		struct json_object *r = docker_json_get(o, "State", "Running", NULL);
		*ret_running = r && json_object_get_boolean(r);
	}
	return 1;
}

int topology_container_remove(struct docker *dk, const char *name, struct diag *d)
{
	char path[DOCKER_PATH_MAX];
	snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", name);
	int e = docker_call(dk, "DELETE", path, NULL, NULL, d);
	return e == -ENOENT ? 0 : e;
}

static struct json_object *sidecar_request(const struct sandbox_state *s, uid_t uid, gid_t gid,
                                           int api_minor, struct diag *d)
{
	char user[32], dns[80], proxy[80], transparent[80], rules[PATH_MAX + 32],
	        run[PATH_MAX + 32];
	char rules_dir[PATH_MAX], run_dir[PATH_MAX];
	struct subnet_plan plan;
	const char *argv[40];
	size_t n = 0;

	if (subnet_plan(s->subnet, &plan) < 0) {
		diag_fail(d, -EINVAL, "sandbox %s has no internal subnet recorded ('%s')", s->name,
		          s->subnet);
		return NULL;
	}

	if (state_path(s, "rules", rules_dir, sizeof(rules_dir)) < 0 ||
	    state_path(s, "run", run_dir, sizeof(run_dir)) < 0 ||
	    snprintf(rules, sizeof(rules), "%s:/etc/airlock/rules:ro", rules_dir) >=
	            (int)sizeof(rules) ||
	    snprintf(run, sizeof(run), "%s:/run/airlock:rw", run_dir) >= (int)sizeof(run)) {
		diag_fail(d, -ENAMETOOLONG, "the state directory's path is too long");
		return NULL;
	}
	snprintf(user, sizeof(user), "%u:%u", (unsigned)uid, (unsigned)gid);
	snprintf(dns, sizeof(dns), "%s:%d", s->ip, GATEWAY_DNS_PORT);
	snprintf(proxy, sizeof(proxy), "%s:%d", s->ip, GATEWAY_PROXY_PORT);
	snprintf(transparent, sizeof(transparent), "%s:%d", s->ip, GATEWAY_TRANSPARENT_PORT);
	argv[n++] = "gateway";
	argv[n++] = "--name";
	argv[n++] = s->name;
	argv[n++] = "--profile";
	argv[n++] = s->profile;
	argv[n++] = "--allow-file";
	argv[n++] = "/etc/airlock/rules/allowed-domains";
	argv[n++] = "--block-file";
	argv[n++] = "/etc/airlock/rules/blocked-domains";
	argv[n++] = "--listen-dns";
	argv[n++] = dns;
	argv[n++] = "--listen-proxy";
	argv[n++] = proxy;
	argv[n++] = "--listen-transparent";
	argv[n++] = transparent;
	/* The network's gateway address, the workload's default route: what
	 * it sends anywhere arrives here (enforce/router.h). */
	argv[n++] = "--router";
	argv[n++] = plan.gateway;
	argv[n++] = "--user";
	argv[n++] = user;
	argv[n++] = "--control";
	argv[n++] = "/run/airlock/control.sock";
	argv[n++] = "--log";
	argv[n++] = "/run/airlock/audit.jsonl";
	if (s->default_action[0]) {
		argv[n++] = "--default";
		argv[n++] = s->default_action;
	}
	for (size_t i = 0; i < s->n_upstream; i++) {
		argv[n++] = "--upstream";
		argv[n++] = s->upstream[i];
	}

	const char *const health[] = {
	        "CMD", "/usr/bin/airlock",         "docker", "healthcheck", "--user",
	        user,  "/run/airlock/control.sock"};
	struct json_object *hc = json_object_new_object();
	json_object_object_add(hc, "Test", strings(health, ARRAY_SIZE(health)));
	/* Nanoseconds.  Docker's check is for `docker ps`, compose and
	 * monitoring; `run` does not wait for it (see wait_ready).  Each check
	 * is an exec in the sidecar, a few percent of a core at 2 s, so it runs
	 * every 30 s, and every second during the start period where the
	 * daemon knows StartInterval (API 1.44). */
	json_object_object_add(hc, "Interval", json_object_new_int64(30000000000LL));
	json_object_object_add(hc, "Timeout", json_object_new_int64(3000000000LL));
	json_object_object_add(hc, "StartPeriod", json_object_new_int64(60000000000LL));
	if (api_minor >= 44)
		json_object_object_add(hc, "StartInterval", json_object_new_int64(1000000000LL));
	json_object_object_add(hc, "Retries", json_object_new_int(3));

	static const char *const drop[] = {"ALL"};
	/* Only for the router's setup (its table and address) and to become
	 * `user` (the bounding set, the ids): the gateway gives them all up
	 * before it reads a byte from the sandbox. */
	static const char *const add[] = {"NET_ADMIN", "SETPCAP", "SETUID", "SETGID"};
	static const char *const secopt[] = {"no-new-privileges"};
	const char *binds[] = {rules, run};
	struct json_object *host = json_object_new_object();
	json_object_object_add(host, "CapDrop", strings(drop, 1));
	json_object_object_add(host, "CapAdd", strings(add, ARRAY_SIZE(add)));
	json_object_object_add(host, "SecurityOpt", strings(secopt, 1));
	json_object_object_add(host, "ReadonlyRootfs", json_object_new_boolean(1));
	json_object_object_add(host, "Binds", strings(binds, 2));
	struct json_object *tmpfs = json_object_new_object();
	json_object_object_add(tmpfs, "/tmp",
	                       json_object_new_string("rw,noexec,nosuid,nodev,size=16m"));
	json_object_object_add(host, "Tmpfs", tmpfs);
	/* Port 53 without CAP_NET_BIND_SERVICE: the sysctl is per network
	 * namespace, so it opens low ports in the sidecar's namespace only. */
	struct json_object *sysctls = json_object_new_object();
	json_object_object_add(sysctls, "net.ipv4.ip_unprivileged_port_start",
	                       json_object_new_string("0"));
	/* The router never forwards (its ruleset drops what would be, too),
	 * and takes nothing from the sandbox with a source it could not
	 * answer on the same interface (its ruleset refuses those, too). */
	json_object_object_add(sysctls, "net.ipv4.ip_forward", json_object_new_string("0"));
	json_object_object_add(sysctls, "net.ipv4.conf.all.rp_filter", json_object_new_string("1"));
	json_object_object_add(host, "Sysctls", sysctls);
	json_object_object_add(host, "NetworkMode", json_object_new_string(EGRESS_NETWORK));
	struct json_object *restart = json_object_new_object();
	json_object_object_add(restart, "Name", json_object_new_string("unless-stopped"));
	json_object_object_add(host, "RestartPolicy", restart);
	json_object_object_add(host, "PidsLimit", json_object_new_int64(64));
	json_object_object_add(host, "Memory", json_object_new_int64(256LL * 1024 * 1024));

	struct json_object *req = json_object_new_object();
	json_object_object_add(req, "Image", json_object_new_string(s->image));
	/* Root until the setup is done; `--user` then. */
	json_object_object_add(req, "User", json_object_new_string("0:0"));
	json_object_object_add(req, "Cmd", strings(argv, n));
	json_object_object_add(req, "Labels", labels(s->name, "sidecar"));
	json_object_object_add(req, "Healthcheck", hc);
	json_object_object_add(req, "HostConfig", host);
	return req;
}

/* The last lines the sidecar printed, for an error message.  Without a TTY
 * the logs come as frames: 8-byte header (stream, 3 zero bytes, length
 * big-endian) and the bytes. */
static void log_tail(struct docker *dk, const char *id, char *out, size_t size)
{
	char path[DOCKER_PATH_MAX];
	struct docker_response r = {0};
	size_t o = 0;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1&tail=5", id);
	if (docker_request(dk, "GET", path, NULL, NULL, 0, 10, &r, NULL) < 0)
		return;
	const unsigned char *p = (const unsigned char *)r.body;
	for (size_t i = 0; r.status == 200 && i + 8 <= r.len;) {
		size_t len = (size_t)p[i + 4] << 24 | (size_t)p[i + 5] << 16 |
		             (size_t)p[i + 6] << 8 | p[i + 7];
		if (len > r.len - i - 8)
			break;
		for (size_t k = 0; k < len && o + 1 < size; k++) {
			char c = (char)p[i + 8 + k];
			out[o++] = c == '\n' ? ' ' : (c >= 0x20 && c < 0x7f ? c : '?');
		}
		i += 8 + len;
	}
	out[o] = '\0';
	docker_response_done(&r);
}

/* Ready means serving: the container runs and its gateway answers `status`
 * on the control socket, the very check Docker's healthcheck runs, asked
 * directly through the bind-mounted run/ directory.  The gateway binds all
 * its listeners before its event loop answers anything, so an answer means
 * DNS and proxy are up.  Asking directly costs no exec and takes a tenth of
 * a second instead of a healthcheck interval. */
static int wait_ready(struct docker *dk, const struct sandbox_state *s, const char *sidecar,
                      struct diag *d)
{
	char path[DOCKER_PATH_MAX], sock[PATH_MAX], reply[CONTROL_REPLY_MAX];
	snprintf(path, sizeof(path), "/containers/%s/json", sidecar);
	if (state_path(s, "run/control.sock", sock, sizeof(sock)) < 0)
		return diag_fail(d, -ENAMETOOLONG, "the state directory's path is too long");

	for (int waited = 0; waited <= HEALTH_TIMEOUT_MS; waited += POLL_MS) {
		_cleanup_json_ struct json_object *o = NULL;
		int e = docker_call(dk, "GET", path, NULL, &o, d);
		if (e < 0)
			return e;
		const char *status = docker_json_str(o, "State", "Status", NULL);
		if (status && strcmp(status, "running") != 0 && strcmp(status, "created") != 0) {
			char tail[LOG_TAIL];
			log_tail(dk, sidecar, tail, sizeof(tail));
			return diag_fail(
			        d, -EIO, "the gateway sidecar %s stopped (%s, exit %lld): %s",
			        sidecar, status, docker_json_int(o, -1, "State", "ExitCode", NULL),
			        tail[0] ? tail : "it printed nothing");
		}
		if (status && strcmp(status, "running") == 0 &&
		    control_ask(sock, "status", reply, sizeof(reply), NULL) == 0)
			return 0;
		struct timespec ts = {0, POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	return diag_fail(d, -ETIMEDOUT,
	                 "the gateway sidecar %s did not answer on %s within %d s; see 'docker "
	                 "logs %s'",
	                 sidecar, sock, HEALTH_TIMEOUT_MS / 1000, sidecar);
}

static int sidecar_create(struct docker *dk, const struct sandbox_state *s, uid_t uid, gid_t gid,
                          const struct topology_names *n, struct diag *d)
{
	char path[DOCKER_PATH_MAX];
	_cleanup_json_ struct json_object *req =
	        sidecar_request(s, uid, gid, docker_api_minor(dk), d);
	_cleanup_json_ struct json_object *created = NULL;

	if (!req)
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "/containers/create?name=%s", n->sidecar);
	int e = docker_call(dk, "POST", path, req, &created, d);
	if (e == -ENOENT)
		diag_prefix(d, "no gateway image (run 'airlock docker image build'): ");
	if (e < 0)
		return e;

	/* Docker attaches one network at creation; the internal one, with the
	 * fixed address, is connected before the start. */
	_cleanup_json_ struct json_object *conn = json_object_new_object();
	struct json_object *ipam = json_object_new_object();
	json_object_object_add(ipam, "IPv4Address", json_object_new_string(s->ip));
	struct json_object *ep = json_object_new_object();
	json_object_object_add(ep, "IPAMConfig", ipam);
	json_object_object_add(conn, "Container", json_object_new_string(n->sidecar));
	json_object_object_add(conn, "EndpointConfig", ep);
	snprintf(path, sizeof(path), "/networks/%s/connect", n->network);
	if ((e = docker_call(dk, "POST", path, conn, NULL, d)) < 0)
		return e;
	snprintf(path, sizeof(path), "/containers/%s/start", n->sidecar);
	if ((e = docker_call(dk, "POST", path, NULL, NULL, d)) < 0)
		return e;
	return wait_ready(dk, s, n->sidecar, d);
}

int topology_sidecar_start(struct docker *dk, const struct sandbox_state *s, uid_t uid, gid_t gid,
                           struct diag *d)
{
	struct topology_names n;
	topology_names(s->name, &n);
	int e = sidecar_create(dk, s, uid, gid, &n, d);
	if (e < 0)
		topology_container_remove(dk, n.sidecar, NULL);
	return e;
}

/* The internal network's bridge and subnet and the sidecar's first
 * process, for the passage rules; *ret_pid is 0 when the sidecar does not
 * run. */
static int passage_target(struct docker *dk, const char *name, struct passage *ret, pid_t *ret_pid,
                          struct diag *d)
{
	struct topology_names n;
	_cleanup_json_ struct json_object *net = NULL, *c = NULL;
	char path[DOCKER_PATH_MAX];

	topology_names(name, &n);
	int e = network_get(dk, n.network, &net, d);
	if (e < 0)
		return e;
	const char *named = docker_json_str(net, "Options", "com.docker.network.bridge.name", NULL);
	const char *id = docker_json_str(net, "Id", NULL);
	struct json_object *cfg = docker_json_get(net, "IPAM", "Config", NULL);
	const char *subnet =
	        json_object_is_type(cfg, json_type_array) && json_object_array_length(cfg) > 0
	                ? docker_json_str(json_object_array_get_idx(cfg, 0), "Subnet", NULL)
	                : NULL;
	memset(ret, 0, sizeof(*ret));
	if (named && named[0])
		snprintf(ret->bridge, sizeof(ret->bridge), "%s", named);
	else if (id && strlen(id) >= 12)
		snprintf(ret->bridge, sizeof(ret->bridge), "br-%.12s", id);
	else
		return diag_fail(d, -EPROTO, "network %s has no id", n.network);
	if (!subnet ||
	    snprintf(ret->subnet, sizeof(ret->subnet), "%s", subnet) >= (int)sizeof(ret->subnet))
		return diag_fail(d, -EPROTO, "network %s has no IPv4 subnet", n.network);
	snprintf(ret->sandbox, sizeof(ret->sandbox), "%s", name);
	*ret_pid = 0;
	snprintf(path, sizeof(path), "/containers/%s/json", n.sidecar);
	if (docker_call(dk, "GET", path, NULL, &c, NULL) == 0)
		*ret_pid = (pid_t)docker_json_int(c, 0, "State", "Pid", NULL);
	return 0;
}

int topology_passage(struct docker *dk, const char *name, struct diag *d)
{
	struct passage p;
	pid_t pid;
	int e = passage_target(dk, name, &p, &pid, d);
	return e < 0 ? e : passage_ensure(pid, &p, d);
}

int topology_passage_missing(struct docker *dk, const char *name, struct diag *d)
{
	struct passage p;
	pid_t pid;
	int e = passage_target(dk, name, &p, &pid, d);
	return e < 0 ? e : passage_missing(pid, &p, d);
}

int topology_passage_remove(struct docker *dk, const char *name, struct diag *d)
{
	struct passage p;
	pid_t pid;
	if (passage_target(dk, name, &p, &pid, NULL) < 0)
		return 0; /* no network: no bridge for rules to match */
	return passage_remove(pid, &p, d);
}

int topology_egress_release(struct docker *dk, struct diag *d)
{
	_cleanup_json_ struct json_object *net = NULL;
	int e = network_get(dk, EGRESS_NETWORK, &net, d);
	if (e == -ENOENT)
		return 0;
	if (e < 0)
		return e;
	struct json_object *c = docker_json_get(net, "Containers", NULL);
	if (json_object_is_type(c, json_type_object) && json_object_object_length(c) > 0)
		return 0;
	e = delete_network(dk, EGRESS_NETWORK, d);
	return e == -EEXIST ? 0 : e; /* a sidecar joined meanwhile */
}

int topology_remove(struct docker *dk, const char *name, struct diag *d)
{
	struct topology_names n;
	int e;

	topology_names(name, &n);
	if ((e = topology_container_remove(dk, name, d)) < 0 ||
	    (e = topology_container_remove(dk, n.sidecar, d)) < 0 ||
	    (e = delete_network(dk, n.network, d)) < 0)
		return e;
	return topology_egress_release(dk, d);
}

void topology_inventory_done(struct topology_inventory *inv)
{
	free(inv->items);
	inv->items = NULL;
	inv->n = 0;
}

static int push(struct topology_inventory *inv, struct json_object *item, bool container)
{
	struct json_object *l = docker_json_get(item, "Labels", NULL);
	const char *sb = docker_json_str(l, LABEL_SANDBOX, NULL);
	const char *role = docker_json_str(l, LABEL_ROLE, NULL);
	if (!sb || sandbox_name_check(sb, NULL) < 0)
		return 0;
	struct topology_object *items = reallocarray(inv->items, inv->n + 1, sizeof(*items));
	if (!items)
		return -ENOMEM;
	inv->items = items;
	struct topology_object *t = &inv->items[inv->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->sandbox, sizeof(t->sandbox), "%s", sb);
	snprintf(t->role, sizeof(t->role), "%s", role ? role : "");
	t->container = container;
	if (container) {
		struct json_object *names = docker_json_get(item, "Names", NULL);
		const char *nm =
		        json_object_is_type(names, json_type_array) &&
		                        json_object_array_length(names) > 0
		                ? json_object_get_string(json_object_array_get_idx(names, 0))
		                : "";
		snprintf(t->name, sizeof(t->name), "%s", nm[0] == '/' ? nm + 1 : nm);
		const char *state = docker_json_str(item, "State", NULL);
		t->running = state && strcmp(state, "running") == 0;
		t->created = docker_json_int(item, 0, "Created", NULL);
	} else {
		snprintf(t->name, sizeof(t->name), "%s", docker_json_str(item, "Name", NULL) ?: "");
	}
	return 0;
}

int topology_inventory(struct docker *dk, struct topology_inventory *ret, struct diag *d)
{
	char filter[256], path[DOCKER_PATH_MAX];
	_cleanup_json_ struct json_object *cs = NULL, *ns = NULL;

	*ret = (struct topology_inventory){0};
	docker_escape("{\"label\":[\"" LABEL_SANDBOX "\"]}", filter, sizeof(filter));
	snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", filter);
	int e = docker_call(dk, "GET", path, NULL, &cs, d);
	if (e < 0)
		return e;
	snprintf(path, sizeof(path), "/networks?filters=%s", filter);
	if ((e = docker_call(dk, "GET", path, NULL, &ns, d)) < 0)
		return e;
	for (int pass = 0; pass < 2; pass++) {
		struct json_object *list = pass == 0 ? cs : ns;
		size_t len = json_object_is_type(list, json_type_array)
		                     ? json_object_array_length(list)
		                     : 0;
		for (size_t i = 0; i < len; i++)
			if (push(ret, json_object_array_get_idx(list, i), pass == 0) < 0) {
				topology_inventory_done(ret);
				return diag_fail(d, -ENOMEM, "out of memory");
			}
	}
	return 0;
}
