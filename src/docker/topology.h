/* topology.h - the Docker objects of a sandbox: networks, sidecar, workload.
 *
 *   airlock-egress        one bridge network with NAT, shared by the sidecars
 *                         (removed when no container uses it)
 *   airlock-int-NAME      the sandbox's internal network: Internal (no route
 *                         off the bridge), and no address on the host's side
 *                         of the bridge (bridge.inhibit_ipv4), so the
 *                         workload reaches nothing but the containers on it
 *   airlock-gw-NAME       the gateway sidecar: on airlock-egress, and on
 *                         airlock-int-NAME at a fixed address (SUBNET.2) that
 *                         stays the same when it is re-created
 *   NAME                  the workload, on airlock-int-NAME only
 *
 * Sandbox names never start with "airlock-", so these never collide.
 *
 * Every object carries the labels io.airlock.sandbox=NAME and
 * io.airlock.role=ROLE, which `gc` goes by.
 *
 * The internal network's subnet comes from the daemon's own address pools
 * (--default-address-pool): a probe network is created to learn a free
 * subnet, removed, and the real one created with that subnet given
 * explicitly, because Docker only gives a container a fixed address on a
 * network whose subnet was given.  Dynamic addresses are kept to the upper
 * half of the subnet (IPRange), so no workload can take the sidecar's.
 *
 * The sidecar is also the internal network's router: its gateway takes the
 * network's gateway address (SUBNET.1, the workload's default route, held
 * by no one else: bridge.inhibit_ipv4), sends the DNS and TCP the workload
 * aims anywhere to its own listeners, and logs and drops the rest
 * (enforce/router.h), so a program that ignores the proxy variables and
 * resolv.conf is filtered and logged as in `airlock run`.
 *
 * The sidecar: the gateway image's airlock, started as root with only
 * NET_ADMIN, SETPCAP, SETUID and SETGID (the router's setup, then --user),
 * becoming an unprivileged user with no capability at all before it reads
 * a byte from the sandbox; no-new-privileges, read-only root file system, tmpfs
 * /tmp, pids and memory limits, the sandbox's rules/ mounted read-only and
 * run/ read-write; net.ipv4.ip_unprivileged_port_start=0 in its own network
 * namespace (a namespaced sysctl, no capability) so it can bind port 53;
 * restart policy unless-stopped; a healthcheck asking the control socket
 * for status (every 30 s; every second during the start period where the
 * daemon speaks API 1.44).
 */
#ifndef AIRLOCK_DOCKER_TOPOLOGY_H
#define AIRLOCK_DOCKER_TOPOLOGY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "docker/client.h"
#include "state/state.h"

#define EGRESS_NETWORK           "airlock-egress"
#define LABEL_SANDBOX            "io.airlock.sandbox"
#define LABEL_ROLE               "io.airlock.role"
#define GATEWAY_DNS_PORT         53
#define GATEWAY_PROXY_PORT       3128
#define GATEWAY_TRANSPARENT_PORT 3129
#define HEALTH_TIMEOUT_MS        60000

/* Object names for sandbox NAME. */
struct topology_names {
	char sidecar[SANDBOX_NAME_MAX + 16];
	char network[SANDBOX_NAME_MAX + 16];
};
void topology_names(const char *name, struct topology_names *ret);

/* The addresses of an internal network: "198.18.128.0/24" gives gateway
 * 198.18.128.1, sidecar 198.18.128.2, dynamic range 198.18.128.128/25.
 * IPv4, prefix 16 to 28; -EINVAL otherwise.  Pure. */
struct subnet_plan {
	char subnet[32], gateway[16], sidecar[16], range[32];
};
int subnet_plan(const char *cidr, struct subnet_plan *ret);

/* Create airlock-egress if it does not exist. */
int topology_egress_ensure(struct docker *dk, struct diag *d);

/* A subnet free in the daemon's address pools, as topology_internal_ensure
 * finds one (a probe network named after `name`, created and removed). */
int topology_free_subnet(struct docker *dk, const char *name, char *out, size_t size,
                         struct diag *d);

/* Create airlock-int-NAME if it does not exist (with `want_subnet` when not
 * NULL or "", else a subnet from the daemon's pools), and describe it. */
int topology_internal_ensure(struct docker *dk, const char *name, const char *want_subnet,
                             struct subnet_plan *ret, struct diag *d);

/* Create and start the sidecar for `s` at s->ip as uid:gid and wait until
 * it serves: running, and its gateway answering `status` on the control
 * socket (the check its Docker healthcheck runs), at most
 * HEALTH_TIMEOUT_MS.  On any failure the sidecar is removed again: fail
 * closed, nothing half-made serves. */
int topology_sidecar_start(struct docker *dk, const struct sandbox_state *s, uid_t uid, gid_t gid,
                           struct diag *d);

/* The host rules of NAME's internal bridge (docker/passage.h): the number
 * added, or a negative errno with `d` saying why they could not be made -
 * then what the workload sends past the sidecar is still dropped, by
 * Docker, but unlogged. */
int topology_passage(struct docker *dk, const char *name, struct diag *d);

/* How many of them are missing (passage_missing). */
int topology_passage_missing(struct docker *dk, const char *name, struct diag *d);

/* Take them away (while the sidecar runs, its shim shows the daemon's
 * namespace); 0 when there were none. */
int topology_passage_remove(struct docker *dk, const char *name, struct diag *d);

/* Remove a container by name or id, stopping it (force); 0 if it was not
 * there. */
int topology_container_remove(struct docker *dk, const char *name, struct diag *d);

/* Whether a container exists (1) or not (0); *ret_running (may be NULL)
 * whether it runs. */
int topology_container_exists(struct docker *dk, const char *name, bool *ret_running,
                              struct diag *d);

/* Remove workload, sidecar and internal network of NAME, and airlock-egress
 * when no container uses it.  What is already gone is not an error. */
int topology_remove(struct docker *dk, const char *name, struct diag *d);

/* Remove airlock-egress if no container is attached to it. */
int topology_egress_release(struct docker *dk, struct diag *d);

/* What Docker holds for sandboxes: every labelled container and network. */
struct topology_object {
	char sandbox[SANDBOX_NAME_MAX + 1];
	char role[16];
	char name[128];
	bool container;
	bool running;
	long long created; /* containers: Unix seconds */
};
struct topology_inventory {
	struct topology_object *items;
	size_t n;
};
int topology_inventory(struct docker *dk, struct topology_inventory *ret, struct diag *d);
void topology_inventory_done(struct topology_inventory *inv);

#endif
