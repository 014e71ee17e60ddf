/* airlock gateway: run the gateway in the foreground. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "enforce/router.h"
#include "gateway/gateway.h"
#include "sandbox/privs.h"

static const char gateway_help[] =
        "Usage: airlock gateway [OPTIONS]\n"
        "\n"
        "Run the gateway in the foreground.  It serves a filtering DNS forwarder,\n"
        "an HTTP proxy and transparent interception, each on the addresses given\n"
        "(at least one of them).\n"
        "DNS: names the policy refuses are answered locally and never sent\n"
        "upstream; allowed names are asked of the upstream resolvers and their\n"
        "answers vetted (no private, loopback, link-local or metadata addresses\n"
        "unless a CIDR rule allows them).  Proxy: CONNECT host:port and\n"
        "absolute-form requests (GET http://host/path) are decided on host and port;\n"
        "refusals get 403 saying which rule refused and how to allow it.  The\n"
        "proxy resolves names itself, through the same upstreams and checks, and\n"
        "connects to the address it checked; IP addresses pass only through a CIDR\n"
        "rule.  One request per client connection.  Transparent: TCP flows that\n"
        "nftables redirected to the gateway are decided on the name their first\n"
        "bytes carry (TLS SNI, HTTP Host) and relayed to their original\n"
        "destination, which must be an address that name resolved to or one a\n"
        "CIDR rule allows; a CONNECT tunnel whose TLS ClientHello names another\n"
        "host is held to the same rule.  Every decision is one JSON line in the\n"
        "audit log, and every relayed connection one more when it closes, with\n"
        "its byte counts.  When the policy changes, open connections it now\n"
        "refuses are closed (logged).\n"
        "\n"
        "SIGINT or SIGTERM stop it.  SIGHUP reloads the policy (profile, rule files,\n"
        "Claude settings, then the runtime rules); a policy with an error is not\n"
        "loaded and the current one stays, with a note in the log.\n"
        "\n"
        "Listening:\n"
        "      --listen-dns ADDR       serve DNS on ADDR, UDP and TCP (repeatable):\n"
        "                              127.0.0.1:53, [::1]:5353\n"
        "      --listen-proxy ADDR     serve the HTTP proxy on ADDR, TCP (repeatable),\n"
        "                              port 3128 unless given: 127.0.0.1:3128\n"
        "      --listen-transparent ADDR\n"
        "                              take TCP flows redirected to ADDR (nftables\n"
        "                              `redirect`; repeatable), port 3129 unless\n"
        "                              given: 0.0.0.0:3129, [::]:3129.  A flow's\n"
        "                              original destination comes from conntrack\n"
        "                              (SO_ORIGINAL_DST); its name from the TLS SNI or\n"
        "                              the HTTP Host header (peeked, not consumed),\n"
        "                              else from the names the gateway saw resolve to\n"
        "                              that address.  The name must be allowed and\n"
        "                              lead to the destination, or a CIDR rule allow\n"
        "                              the destination; without a name only a CIDR\n"
        "                              rule lets it through.  Connections that were\n"
        "                              not redirected are refused\n"
        "DNS:\n"
        "      --upstream ADDR         resolver to ask (repeatable; default: the\n"
        "                              nameservers of /etc/resolv.conf), port 53 unless\n"
        "                              given\n"
        "      --dns-refusal MODE      how refused names are answered: nxdomain\n"
        "                              (default), refused, or sinkhole (0.0.0.0 and ::)\n"
        "      --dns-types LIST        query types forwarded for allowed names\n"
        "                              (default: A,AAAA,CNAME; others get an empty\n"
        "                              answer)\n"
        "      --dns-rate N            queries a second per client (default 200,\n"
        "                              bursts of twice that)\n"
        "      --dns-timeout MS        wait for an upstream answer (default 1500),\n"
        "                              then try the next server; 3 tries in all\n"
        "Proxy:\n"
        "      --proxy-max-connections N\n"
        "                              client connections at once (default 1024);\n"
        "                              more are closed at once, with a note in the log\n"
        "      --proxy-idle-timeout S  close a relayed connection after S seconds\n"
        "                              without traffic (default 300)\n"
        "      --proxy-head-timeout MS the whole request head must arrive within MS\n"
        "                              of the connection (default 10000), else 408\n"
        "      --proxy-connect-timeout MS\n"
        "                              per address dialled (default 10000); all\n"
        "                              addresses failed: 502, or 504 on a timeout\n"
        "      --transparent-peek-timeout MS\n"
        "                              how long a redirected flow or a CONNECT tunnel\n"
        "                              may stay silent (default 1000): then a\n"
        "                              redirected flow is decided on its address\n"
        "                              alone (protocols where the server speaks\n"
        "                              first) and a tunnel goes as its CONNECT was\n"
        "                              decided; a ClientHello or head begun must be\n"
        "                              complete within --proxy-head-timeout\n"
        "Log and control:\n"
        "      --log FILE              the audit log, JSON lines (default: standard\n"
        "                              output); files rotate at 64 MiB, 5 kept\n"
        "      --name NAME             the sandbox name written in every record\n"
        "      --control PATH          a control socket (mode 0600) taking, one per\n"
        "                              message: allow RULE, block RULE, unallow RULE,\n"
        "                              reset, status, reload; changes apply to new\n"
        "                              requests at once and survive reloads\n"
        "Routing (a Docker sidecar; root with CAP_NET_ADMIN):\n"
        "      --router ADDR           be the sandbox network's router: take IPv4\n"
        "                              address ADDR (the network's gateway address,\n"
        "                              which nobody else may hold) on the interface\n"
        "                              whose subnet holds it, send DNS and TCP\n"
        "                              arriving there to the --listen-dns and\n"
        "                              --listen-transparent addresses on that\n"
        "                              interface, and log (audit log) and drop the\n"
        "                              rest; nothing is forwarded\n"
        "      --user UID:GID          once the rules and listeners are in place,\n"
        "                              become UID:GID with no capabilities left\n"
        "\n" POLICY_ARGS_HELP "\n"
        "Example:\n"
        "  airlock gateway --profile strict --allow '*.github.com' \\\n"
        "      --listen-dns 127.0.0.1:5353 --listen-proxy 127.0.0.1:3128 \\\n"
        "      --upstream 198.18.0.10\n";

enum {
	OPT_LISTEN_DNS = OPT_FIRST_FREE,
	OPT_LISTEN_PROXY,
	OPT_LISTEN_TRANSPARENT,
	OPT_TRANSPARENT_PEEK_TIMEOUT,
	OPT_PROXY_MAX_CONNECTIONS,
	OPT_PROXY_IDLE_TIMEOUT,
	OPT_PROXY_HEAD_TIMEOUT,
	OPT_PROXY_CONNECT_TIMEOUT,
	OPT_UPSTREAM,
	OPT_DNS_REFUSAL,
	OPT_DNS_TYPES,
	OPT_DNS_RATE,
	OPT_DNS_TIMEOUT,
	OPT_LOG,
	OPT_NAME,
	OPT_CONTROL,
	OPT_ROUTER,
	OPT_USER,
};

/* Where the router's NFLOG records go (any group: the namespace is the
 * sidecar's own). */
#define ROUTER_NFLOG_GROUP 7

struct run {
	struct policy_args args;
	bool router;
	struct router_config route;
	bool become;
	uid_t uid;
	gid_t gid;
	struct gateway *gateway;
	struct loop *loop;
};

static void on_stop(struct loop *loop, int signo, int code, void *data)
{
	(void)code;
	(void)data;
	fprintf(stderr, "airlock gateway: %s, stopping\n", strsignal(signo));
	loop_stop(loop);
}

/* The configured policy, for every reload and runtime change. */
static int load_policy(void *ctx, struct policy_builder *b, struct diag *d)
{
	struct run *run = ctx;
	struct profile prof;
	return policy_args_load(&run->args, b, &prof, d);
}

static void on_reload(struct loop *loop, int signo, int code, void *data)
{
	struct run *run = data;
	(void)code;
	struct diag d = {""};
	(void)loop;
	(void)signo;

	if (gateway_reload(run->gateway, "reload: SIGHUP", &d) < 0) {
		cli_error("gateway", "reload failed, keeping the current policy: %s", d.msg);
		gateway_note(run->gateway, "reload failed, keeping the current policy: %s", d.msg);
		return;
	}
	fprintf(stderr, "airlock gateway: policy reloaded\n");
}

static int parse_addr_opt(const char *opt, const char *arg, uint16_t port, struct addr *ret)
{
	if (addr_parse(arg, port, ret) == 0)
		return 0;
	cli_error("gateway", "%s '%s': expected an address, e.g. 127.0.0.1:%u or [::1]:%u", opt,
	          arg, port ? port : 53, port ? port : 53);
	return -1;
}

/* A whole number from 1 to max. */
static int parse_uint_opt(const char *opt, const char *arg, unsigned max, unsigned *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || *end || end == arg || arg[0] == '-' || v == 0 || v > max) {
		cli_error("gateway", "%s '%s': expected a number from 1 to %u", opt, arg, max);
		return -1;
	}
	*ret = (unsigned)v;
	return 0;
}

static int parse_options(int argc, char **argv, struct run *run, struct gateway_config *c)
{
	static const struct option longopts[] = {
	        POLICY_ARGS_LONGOPTS,
	        {"listen-dns", required_argument, NULL, OPT_LISTEN_DNS},
	        {"listen-proxy", required_argument, NULL, OPT_LISTEN_PROXY},
	        {"listen-transparent", required_argument, NULL, OPT_LISTEN_TRANSPARENT},
	        {"transparent-peek-timeout", required_argument, NULL, OPT_TRANSPARENT_PEEK_TIMEOUT},
	        {"proxy-max-connections", required_argument, NULL, OPT_PROXY_MAX_CONNECTIONS},
	        {"proxy-idle-timeout", required_argument, NULL, OPT_PROXY_IDLE_TIMEOUT},
	        {"proxy-head-timeout", required_argument, NULL, OPT_PROXY_HEAD_TIMEOUT},
	        {"proxy-connect-timeout", required_argument, NULL, OPT_PROXY_CONNECT_TIMEOUT},
	        {"upstream", required_argument, NULL, OPT_UPSTREAM},
	        {"dns-refusal", required_argument, NULL, OPT_DNS_REFUSAL},
	        {"dns-types", required_argument, NULL, OPT_DNS_TYPES},
	        {"dns-rate", required_argument, NULL, OPT_DNS_RATE},
	        {"dns-timeout", required_argument, NULL, OPT_DNS_TIMEOUT},
	        {"log", required_argument, NULL, OPT_LOG},
	        {"name", required_argument, NULL, OPT_NAME},
	        {"control", required_argument, NULL, OPT_CONTROL},
	        {"router", required_argument, NULL, OPT_ROUTER},
	        {"user", required_argument, NULL, OPT_USER},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct upstream_config *up = &c->dns.upstream;
	struct diag d;
	int opt;

	while ((opt = getopt_long(argc, argv, "+" POLICY_ARGS_SHORTOPTS "h", longopts, NULL)) !=
	       -1) {
		int r = policy_args_option(&run->args, "gateway", opt, optarg);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_LISTEN_DNS:
			if (c->n_dns_listen == GATEWAY_MAX_LISTEN) {
				cli_error("gateway", "at most %d --listen-dns", GATEWAY_MAX_LISTEN);
				return -1;
			}
			if (parse_addr_opt("--listen-dns", optarg, 53,
			                   &c->dns_listen[c->n_dns_listen++]) < 0)
				return -1;
			break;
		case OPT_LISTEN_PROXY:
			if (c->n_proxy_listen == GATEWAY_MAX_LISTEN) {
				cli_error("gateway", "at most %d --listen-proxy",
				          GATEWAY_MAX_LISTEN);
				return -1;
			}
			if (parse_addr_opt("--listen-proxy", optarg, 3128,
			                   &c->proxy_listen[c->n_proxy_listen++]) < 0)
				return -1;
			break;
		case OPT_LISTEN_TRANSPARENT:
			if (c->n_transparent_listen == GATEWAY_MAX_LISTEN) {
				cli_error("gateway", "at most %d --listen-transparent",
				          GATEWAY_MAX_LISTEN);
				return -1;
			}
			if (parse_addr_opt("--listen-transparent", optarg, 3129,
			                   &c->transparent_listen[c->n_transparent_listen++]) < 0)
				return -1;
			break;
		case OPT_TRANSPARENT_PEEK_TIMEOUT:
			if (parse_uint_opt("--transparent-peek-timeout", optarg, 600000,
			                   &c->proxy.peek_timeout_ms) < 0)
				return -1;
			break;
		case OPT_PROXY_MAX_CONNECTIONS: {
			unsigned v;
			if (parse_uint_opt("--proxy-max-connections", optarg, 1000000, &v) < 0)
				return -1;
			c->proxy.max_clients = v;
			break;
		}
		case OPT_PROXY_IDLE_TIMEOUT: {
			unsigned v;
			if (parse_uint_opt("--proxy-idle-timeout", optarg, 7 * 24 * 3600, &v) < 0)
				return -1;
			c->proxy.idle_ms = v * 1000;
			break;
		}
		case OPT_PROXY_HEAD_TIMEOUT:
			if (parse_uint_opt("--proxy-head-timeout", optarg, 600000,
			                   &c->proxy.head_timeout_ms) < 0)
				return -1;
			break;
		case OPT_PROXY_CONNECT_TIMEOUT:
			if (parse_uint_opt("--proxy-connect-timeout", optarg, 600000,
			                   &c->proxy.connect_timeout_ms) < 0)
				return -1;
			break;
		case OPT_UPSTREAM:
			if (up->n_servers == UPSTREAM_MAX_SERVERS) {
				cli_error("gateway", "at most %d --upstream", UPSTREAM_MAX_SERVERS);
				return -1;
			}
			if (parse_addr_opt("--upstream", optarg, 53,
			                   &up->servers[up->n_servers++]) < 0)
				return -1;
			break;
		case OPT_DNS_REFUSAL:
			if (strcmp(optarg, "nxdomain") == 0)
				c->dns.filter.refusal = DNS_REFUSE_NXDOMAIN;
			else if (strcmp(optarg, "refused") == 0)
				c->dns.filter.refusal = DNS_REFUSE_REFUSED;
			else if (strcmp(optarg, "sinkhole") == 0)
				c->dns.filter.refusal = DNS_REFUSE_SINKHOLE;
			else {
				cli_error("gateway",
				          "--dns-refusal '%s': expected nxdomain, refused or "
				          "sinkhole",
				          optarg);
				return -1;
			}
			break;
		case OPT_DNS_TYPES:
			if (dns_filter_config_types(&c->dns.filter, optarg, &d) < 0) {
				cli_error("gateway", "--dns-types: %s", d.msg);
				return -1;
			}
			break;
		case OPT_DNS_RATE: {
			unsigned v;
			if (parse_uint_opt("--dns-rate", optarg, 1000000, &v) < 0)
				return -1;
			c->dns.rate = v;
			c->dns.burst = v * 2;
			break;
		}
		case OPT_DNS_TIMEOUT:
			if (parse_uint_opt("--dns-timeout", optarg, 60000,
			                   &c->dns.upstream.timeout_ms) < 0)
				return -1;
			break;
		case OPT_LOG:
			c->log_path = optarg;
			break;
		case OPT_NAME:
			c->sandbox = optarg;
			break;
		case OPT_CONTROL:
			c->control_path = optarg;
			break;
		case OPT_ROUTER:
			if (inet_pton(AF_INET, optarg, run->route.router_addr) != 1) {
				cli_error("gateway",
				          "--router '%s': expected an IPv4 address, e.g. "
				          "198.18.128.1",
				          optarg);
				return -1;
			}
			run->router = true;
			break;
		case OPT_USER:
			if (cli_parse_user("gateway", "--user", optarg, &run->uid, &run->gid) < 0)
				return -1;
			run->become = true;
			break;
		case 'h':
			fputs(gateway_help, stdout);
			return 1;
		default:
			fputs("Try 'airlock gateway --help'.\n", stderr);
			return -1;
		}
	}
	if (optind < argc) {
		cli_error("gateway", "unexpected argument '%s'; try 'airlock gateway --help'",
		          argv[optind]);
		return -1;
	}
	if (c->n_dns_listen == 0 && c->n_proxy_listen == 0 && c->n_transparent_listen == 0) {
		cli_error("gateway",
		          "nothing to serve: give --listen-dns ADDR, --listen-proxy ADDR "
		          "and/or --listen-transparent ADDR");
		return -1;
	}
	if (up->n_servers == 0 && cli_default_upstreams("gateway", up) < 0)
		return -1;
	for (size_t i = 0; i < up->n_servers; i++)
		for (size_t j = 0; j < c->n_dns_listen; j++)
			if (addr_equal(&up->servers[i], &c->dns_listen[j])) {
				cli_error("gateway", "--upstream is one of the --listen-dns "
				                     "addresses: the gateway would ask itself");
				return -1;
			}
	return 0;
}

/* The port of the first of `n` addresses that is `local` or the wildcard,
 * or 0. */
static uint16_t port_on(const struct addr *list, size_t n, const uint8_t local[4])
{
	for (size_t i = 0; i < n; i++) {
		if (addr_family(&list[i]) != AF_INET)
			continue;
		const uint8_t *ip = (const uint8_t *)&list[i].in4.sin_addr.s_addr;
		static const uint8_t any[4];
		if (memcmp(ip, local, 4) == 0 || memcmp(ip, any, 4) == 0)
			return addr_port(&list[i]);
	}
	return 0;
}

/* --router: the rules and the address (router.h), the NFLOG socket into
 * the gateway's config. */
static int become_router(struct run *run, struct gateway_config *c)
{
	struct router_config *rc = &run->route;
	struct diag d = {""};
	char local[INET_ADDRSTRLEN];

	if (router_find(rc->router_addr, rc->ifname, rc->local_addr, &rc->prefix, &d) < 0) {
		cli_error("gateway", "--router: %s", d.msg);
		return -1;
	}
	inet_ntop(AF_INET, rc->local_addr, local, sizeof(local));
	rc->dns_port = port_on(c->dns_listen, c->n_dns_listen, rc->local_addr);
	rc->transparent_port =
	        port_on(c->transparent_listen, c->n_transparent_listen, rc->local_addr);
	if (!rc->transparent_port) {
		cli_error("gateway",
		          "--router: no --listen-transparent on %s (%s's address), where the "
		          "sandbox's TCP flows would go",
		          local, rc->ifname);
		return -1;
	}
	if (!rc->dns_port)
		fprintf(stderr,
		        "airlock gateway: --router: no --listen-dns on %s: the sandbox's DNS is "
		        "dropped like any UDP\n",
		        local);
	rc->nflog_group = ROUTER_NFLOG_GROUP;
	if (router_setup(rc, &c->firewall_fd, &d) < 0) {
		cli_error("gateway", "--router: %s (it needs root with CAP_NET_ADMIN)", d.msg);
		return -1;
	}
	char router[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, rc->router_addr, router, sizeof(router));
	fprintf(stderr,
	        "airlock gateway: routing as %s on %s: DNS and TCP to %s, the rest logged and "
	        "dropped\n",
	        router, rc->ifname, local);
	return 0;
}

/* Each proxied connection holds up to 6 descriptors (client, server, a pipe
 * each way): take the hard limit, and say so when even that is short. */
static void raise_fd_limit(const struct gateway_config *c)
{
	struct rlimit rl;
	if ((c->n_proxy_listen == 0 && c->n_transparent_listen == 0) ||
	    getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	rlim_t need = (rlim_t)c->proxy.max_clients * 6 + 256;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		fprintf(stderr,
		        "airlock gateway: warning: %llu descriptors allowed, %zu proxy connections "
		        "may need %llu; lower --proxy-max-connections or raise ulimit -n\n",
		        (unsigned long long)rl.rlim_cur, c->proxy.max_clients,
		        (unsigned long long)need);
}

int cmd_gateway(int argc, char **argv)
{
	struct run run = {0};
	struct gateway_config c;
	struct policy *policy = NULL;
	struct profile prof;
	struct diag d = {""};
	int status = EXIT_USAGE;

	policy_args_init(&run.args);
	gateway_config_default(&c);
	c.load_policy = load_policy;
	c.load_policy_ctx = &run;
	int r = parse_options(argc, argv, &run, &c);
	if (r != 0) {
		status = r > 0 ? 0 : EXIT_USAGE;
		goto out;
	}
	if (policy_args_build(&run.args, "gateway", &prof, &policy) < 0)
		goto out;
	/* The proxy's relay splices into sockets, and splice() raises SIGPIPE
	 * when the peer is gone (it has no MSG_NOSIGNAL): the error is handled
	 * as EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(&c);
	if (run.router && become_router(&run, &c) < 0) {
		policy_unref(policy);
		goto out;
	}
	if (run.become && privs_become(run.uid, run.gid, &d) < 0) {
		cli_error("gateway", "--user: %s", d.msg);
		policy_unref(policy);
		goto out;
	}
	run.loop = loop_new();
	if (!run.loop) {
		cli_error("gateway", "cannot create the event loop: %s", strerror(errno));
		policy_unref(policy);
		goto out;
	}
	if (gateway_new(run.loop, &c, policy, &run.gateway, &d) < 0) {
		cli_error("gateway", "%s", d.msg);
		goto out;
	}
	if (loop_add_signal(run.loop, SIGINT, on_stop, &run) < 0 ||
	    loop_add_signal(run.loop, SIGTERM, on_stop, &run) < 0 ||
	    loop_add_signal(run.loop, SIGHUP, on_reload, &run) < 0) {
		cli_error("gateway", "cannot handle signals: %s", strerror(errno));
		goto out;
	}
	char listen[ADDR_STR_MAX], proxy[ADDR_STR_MAX], upstream[ADDR_STR_MAX],
	        transparent[ADDR_STR_MAX];
	addr_format(&c.dns.upstream.servers[0], upstream, sizeof(upstream));
	fprintf(stderr, "airlock gateway: profile %s;", prof.name);
	if (c.n_dns_listen) {
		addr_format(&c.dns_listen[0], listen, sizeof(listen));
		fprintf(stderr, " DNS on %s%s (UDP and TCP);", listen,
		        c.n_dns_listen > 1 ? " and more" : "");
	}
	if (c.n_proxy_listen) {
		addr_format(&c.proxy_listen[0], proxy, sizeof(proxy));
		fprintf(stderr, " proxy on %s%s;", proxy, c.n_proxy_listen > 1 ? " and more" : "");
	}
	if (c.n_transparent_listen) {
		addr_format(&c.transparent_listen[0], transparent, sizeof(transparent));
		fprintf(stderr, " transparent on %s%s;", transparent,
		        c.n_transparent_listen > 1 ? " and more" : "");
	}
	fprintf(stderr, " upstream %s%s\n", upstream,
	        c.dns.upstream.n_servers > 1 ? " and more" : "");
	r = loop_run(run.loop);
	status = r < 0 ? 1 : 0;
	if (r < 0)
		cli_error("gateway", "event loop failed: %s", strerror(-r));
out:
	gateway_free(run.gateway);
	loop_free(run.loop);
	policy_args_done(&run.args);
	return status;
}
