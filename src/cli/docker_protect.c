/* airlock docker protect|unprotect: host rules for a container that keeps its
 * own network (docker/protect.h), and the watcher that removes them when the
 * container stops. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "docker/protect.h"
#include "docker/veth.h"

static const char protect_help[] =
        "Usage: airlock docker protect [OPTIONS] CONTAINER\n"
        "       airlock docker unprotect CONTAINER\n"
        "\n"
        "Confine a running container that keeps its own network (a bridge network\n"
        "with a route out) to its gateway: nftables rules in the Docker daemon's\n"
        "network namespace let it reach the gateway's DNS and proxy ports and drop\n"
        "everything else (the internet, the host, other containers), scoped to its\n"
        "own port on the bridge and its addresses.  DNS it sends anywhere goes to\n"
        "the gateway.  Applying twice replaces the rules.  A watcher (`airlock\n"
        "docker protect --watch`, started when none runs) removes them when the\n"
        "container stops; a restarted container must be protected again.\n"
        "\n"
        "The gateway: --gateway ADDR, else the container --sidecar names, else the\n"
        "one airlock sidecar on the container's networks (label\n"
        "io.airlock.role=sidecar, as `airlock compose render` makes).\n"
        "\n"
        "Options:\n"
        "      --gateway ADDR        the gateway's address (IPv4 or IPv6)\n"
        "      --sidecar CONTAINER   the gateway is this container (its address on a\n"
        "                            network the two share)\n"
        "      --proxy-port N        the gateway's proxy port (default 3128; 0: none)\n"
        "      --dns-port N          its DNS port (default 53; 0: no DNS)\n"
        "      --no-watch            no watcher: the rules stay until unprotect\n"
        "      --watch               be the watcher of $DOCKER_HOST's daemon (in its\n"
        "                            network namespace); exits when nothing is left\n"
        "  -h, --help                show this help\n"
        "\n"
        "Needs root.  See docs/docker.md (\"Protecting a container\").\n";

static int open_docker(const char *cmd, struct docker **ret)
{
	struct diag d = {""};
	if (docker_open(NULL, ret, &d) < 0) {
		cli_error(cmd, "%s", d.msg);
		return -1;
	}
	return 0;
}

static int parse_port(const char *opt, const char *v, uint16_t *ret)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < 0 || n > 65535) {
		cli_error("docker protect", "%s '%s': expected a port, 0 to 65535", opt, v);
		return -1;
	}
	*ret = (uint16_t)n;
	return 0;
}

/* The bridge sysctl of the namespace `ns`, as text ("1", "0", or "missing"). */
static void br_netfilter_state(int ns, char *out, size_t size)
{
	int saved;
	snprintf(out, size, "missing");
	if (netns_enter(ns, &saved, NULL) < 0)
		return;
	int fd = open("/proc/sys/net/bridge/bridge-nf-call-iptables", O_RDONLY | O_CLOEXEC);
	netns_leave(saved);
	if (fd < 0)
		return;
	char buf[8];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(out, size, "%s", buf);
	}
}

static int watch(void)
{
	_cleanup_(docker_closep) struct docker *dk = NULL;
	struct diag d = {""};
	if (open_docker("docker protect --watch", &dk) < 0)
		return 1;
	if (protect_watch(dk, &d) < 0) {
		cli_error("docker protect --watch", "%s", d.msg);
		return 1;
	}
	return 0;
}

static int protect(const char *ref, const char *gateway, const char *sidecar, uint16_t dns,
                   uint16_t proxy, bool no_watch)
{
	_cleanup_(docker_closep) struct docker *dk = NULL;
	struct protect_target t;
	struct protect_spec spec;
	struct protect_record rec = {0};
	struct diag d = {""};
	char gw[46], desc[256];
	int ns = -1;
	int status = 1;

	if (open_docker("docker protect", &dk) < 0)
		return 1;
	if (protect_inspect(dk, ref, &t, &d) < 0) {
		cli_error("docker protect", "%s", d.msg);
		goto out;
	}
	if (strcmp(t.role, "sidecar") == 0) {
		cli_error("docker protect", "%s is an airlock sidecar: it is the gateway", t.name);
		goto out;
	}
	if (protect_gateway(dk, &t, gateway, sidecar, gw, desc, sizeof(desc), &d) < 0 ||
	    protect_plan(&t, gw, dns, proxy, &spec, &ns, &d) < 0) {
		cli_error("docker protect", "%s", d.msg);
		goto out;
	}
	for (size_t i = 0; i < t.n_nets; i++)
		if (strcmp(t.nets[i].ipv4, gw) == 0 || strcmp(t.nets[i].ipv6, gw) == 0) {
			cli_error("docker protect", "%s is %s's own address", gw, t.name);
			goto out;
		}
	/* The record first: there are never rules the watcher does not know. */
	snprintf(rec.id, sizeof(rec.id), "%s", t.id);
	snprintf(rec.name, sizeof(rec.name), "%s", t.name);
	snprintf(rec.table, sizeof(rec.table), "%s", spec.table);
	snprintf(rec.socket, sizeof(rec.socket), "%s", docker_socket_path(dk));
	snprintf(rec.gateway, sizeof(rec.gateway), "%s", gw);
	rec.pid = t.pid;
	rec.bridge_family = true;
	if (protect_record_save(&rec, &d) < 0 || protect_apply(ns, &spec, &d) < 0) {
		cli_error("docker protect", "%s", d.msg);
		protect_record_remove(t.id);
		goto out;
	}
	if (!spec.bridge_family) {
		rec.bridge_family = false;
		(void)protect_record_save(&rec, NULL);
	}
	/* It may have stopped meanwhile, before a watcher could see it. */
	struct protect_target now;
	if (protect_inspect(dk, t.id, &now, NULL) < 0 || !now.running || now.pid != t.pid) {
		protect_remove_rules(ns, spec.table, NULL);
		protect_record_remove(t.id);
		cli_error("docker protect", "%s stopped while it was being protected", t.name);
		goto out;
	}
	pid_t watcher = 0;
	if (!no_watch && protect_watcher_ensure(ns, rec.socket, &watcher, &d) < 0) {
		cli_error("docker protect",
		          "%s; the rules stay until 'airlock docker unprotect %s'", d.msg, t.name);
		goto out;
	}
	printf("%s may reach %s only (%s", t.name, gw, desc);
	if (dns)
		printf("; DNS %u", dns);
	if (proxy)
		printf("; proxy %u", proxy);
	printf(")\nrules: tables bridge and inet %s in the daemon's network namespace\n",
	       spec.table);
	if (!spec.bridge_family) {
		char br[16];
		br_netfilter_state(ns, br, sizeof(br));
		printf("warning: this kernel has no nftables bridge family: %s is recognised by "
		       "address and MAC only, and other containers on its bridge are out of its "
		       "reach only through br_netfilter (net.bridge.bridge-nf-call-iptables: %s)\n",
		       t.name, br);
	}
	if (no_watch)
		printf("no watcher: the rules stay until 'airlock docker unprotect %s'\n", t.name);
	else if (watcher > 0)
		printf("removed when it stops (watcher pid %ld)\n", (long)watcher);
	else
		printf("removed when it stops (the watcher is starting)\n");
	if (t.restart[0] && strcmp(t.restart, "no") != 0)
		printf("warning: %s has the restart policy '%s': after a restart it is not "
		       "protected until you run this again\n",
		       t.name, t.restart);
	status = 0;
out:
	if (ns >= 0)
		close(ns);
	return status;
}

struct find {
	const char *ref;
	struct protect_record rec;
	int found;
};

static int find_by_name(const struct protect_record *r, void *ctx)
{
	struct find *f = ctx;
	if (strcmp(r->name, f->ref) == 0 || strncmp(r->id, f->ref, strlen(f->ref)) == 0) {
		f->rec = *r;
		f->found++;
	}
	return 0;
}

static int unprotect(const char *ref)
{
	_cleanup_(docker_closep) struct docker *dk = NULL;
	struct protect_target t;
	struct find f = {.ref = ref};
	struct diag d = {""};
	int ns = -1;

	if (open_docker("docker unprotect", &dk) < 0)
		return 1;
	int e = protect_inspect(dk, ref, &t, &d);
	if (e == 0)
		e = protect_record_load(t.id, &f.rec, &d);
	else if (e == -ENOENT && protect_record_each(find_by_name, &f, NULL) == 0 && f.found == 1)
		e = 0;
	if (e < 0) {
		cli_error("docker unprotect", "%s", d.msg);
		return 1;
	}
	/* The rules are in the daemon's namespace: the container's shim is in
	 * it while the container runs, the watcher always. */
	struct protect_spec spec;
	pid_t watcher = protect_watcher_pid(f.rec.socket);
	if (!(t.running && protect_plan(&t, f.rec.gateway, 53, 3128, &spec, &ns, NULL) == 0) &&
	    watcher > 0)
		ns = netns_open_pid(watcher, NULL);
	if (protect_remove_rules(ns, f.rec.table, &d) < 0) {
		cli_error("docker unprotect", "%s", d.msg);
		if (ns >= 0)
			close(ns);
		return 1;
	}
	if (ns >= 0)
		close(ns);
	protect_record_remove(f.rec.id);
	printf("%s: rules %s removed\n", f.rec.name, f.rec.table);
	return 0;
}

int cmd_docker_protect(int argc, char **argv)
{
	const char *gateway = NULL, *sidecar = NULL, *ref = NULL;
	uint16_t dns = 53, proxy = 3128;
	bool no_watch = false, be_watcher = false;
	bool un = strcmp(argv[0], "unprotect") == 0;
	const char *cmd = un ? "docker unprotect" : "docker protect";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes =
		        !un && (strcmp(a, "--gateway") == 0 || strcmp(a, "--sidecar") == 0 ||
		                strcmp(a, "--proxy-port") == 0 || strcmp(a, "--dns-port") == 0);
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(protect_help, stdout);
			return 0;
		}
		if (takes && !v) {
			cli_error(cmd, "%s needs a value", a);
			return EXIT_USAGE;
		}
		if (takes) {
			i++;
			if (strcmp(a, "--gateway") == 0)
				gateway = v;
			else if (strcmp(a, "--sidecar") == 0)
				sidecar = v;
			else if (parse_port(a, v, strcmp(a, "--dns-port") == 0 ? &dns : &proxy) < 0)
				return EXIT_USAGE;
		} else if (!un && strcmp(a, "--no-watch") == 0) {
			no_watch = true;
		} else if (!un && strcmp(a, "--watch") == 0) {
			be_watcher = true;
		} else if (a[0] == '-') {
			cli_error(cmd, "unknown option '%s'; try 'airlock docker protect --help'",
			          a);
			return EXIT_USAGE;
		} else if (ref) {
			cli_error(cmd, "one CONTAINER at a time ('%s' and '%s')", ref, a);
			return EXIT_USAGE;
		} else {
			ref = a;
		}
	}
	if (be_watcher) {
		if (ref || gateway || sidecar) {
			cli_error(cmd, "--watch takes no container and no gateway");
			return EXIT_USAGE;
		}
		return watch();
	}
	if (!ref) {
		cli_error(cmd, "usage: airlock %s %sCONTAINER", cmd, un ? "" : "[OPTIONS] ");
		return EXIT_USAGE;
	}
	unsigned char addr[16];
	if (gateway && inet_pton(AF_INET, gateway, addr) != 1 &&
	    inet_pton(AF_INET6, gateway, addr) != 1) {
		cli_error(cmd, "--gateway '%s': expected an IPv4 or IPv6 address", gateway);
		return EXIT_USAGE;
	}
	if (gateway && sidecar) {
		cli_error(cmd, "give --gateway or --sidecar, not both");
		return EXIT_USAGE;
	}
	if (!un && dns == 0 && proxy == 0) {
		cli_error(cmd, "--dns-port 0 and --proxy-port 0 leave nothing to reach");
		return EXIT_USAGE;
	}
	if (geteuid() != 0) {
		cli_error(cmd, "needs root: the rules go into the Docker daemon's network "
		               "namespace");
		return 1;
	}
	return un ? unprotect(ref) : protect(ref, gateway, sidecar, dns, proxy, no_watch);
}
