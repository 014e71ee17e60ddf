/* protect.h - `airlock docker protect`: host rules for a container that keeps
 * its own network.
 *
 * A container on an ordinary bridge network (NAT, a route to everything)
 * is confined by rules in the Docker daemon's network namespace
 * (enforce/ruleset_protect.h) to one gateway: an airlock sidecar on one of
 * its networks, or an address given.  This module finds what the rules need
 * (the container's addresses from Docker, the host end of each of its
 * interfaces from the kernel: docker/veth.h), applies them there, and keeps
 * a record of each protected container, so that a watcher can take the
 * rules away when the container stops.
 *
 * Records: $AIRLOCK_STATE_DIR/docker/.protect/ID.conf (KEY=VALUE: id, name,
 * table, the daemon's socket, the container's pid, whether the bridge table
 * is in, the gateway).  A record is written before its rules are applied,
 * so there are never rules without a record.
 *
 * The watcher (`airlock docker protect --watch`, started by `protect` when
 * none runs for that daemon) is one process per daemon socket, holding
 * .protect/watch-HASH.lock (its pid inside), living in the daemon's network
 * namespace.  It reconciles (every record whose container is gone, stopped
 * or restarted loses its rules and record), then follows Docker's events
 * from the time before that reconciliation (`since`, so nothing falls
 * between) and removes a container's rules on its `die`.  It re-reads the
 * stream every PROTECT_WATCH_PERIOD_S seconds, reconciling each time, and
 * exits when no record of its daemon remains.
 */
#ifndef AIRLOCK_DOCKER_PROTECT_H
#define AIRLOCK_DOCKER_PROTECT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "docker/client.h"
#include "enforce/ruleset_protect.h"

#define PROTECT_WATCH_PERIOD_S 30

struct protect_net {
	char name[128];
	char id[65];
	char mac[18];
	char ipv4[16];
	char ipv6[46];
};

/* What Docker says of a container. */
struct protect_target {
	char id[65];
	char name[128];
	pid_t pid;
	bool running;
	char restart[32];      /* restart policy: "", "no", "always"... */
	char network_mode[64]; /* "bridge", "host", "container:...", a network */
	char role[16];         /* its io.airlock.role label, or "" */
	struct protect_net nets[PROTECT_MAX_LINKS];
	size_t n_nets;
};

int protect_inspect(struct docker *dk, const char *ref, struct protect_target *ret, struct diag *d);

/* The gateway's address: `gateway` when given (an address), else the
 * address of container `sidecar` on a network it shares with t, else the one
 * airlock sidecar (label io.airlock.role=sidecar) on t's networks.  `desc`
 * gets a phrase saying which ("the sidecar gw on protnet"). */
int protect_gateway(struct docker *dk, const struct protect_target *t, const char *gateway,
                    const char *sidecar, char out[46], char *desc, size_t desc_size,
                    struct diag *d);

/* The rules' spec for t, with the host end of each interface: *ret_ns gets
 * a descriptor of the daemon's network namespace (-1 when it is ours). */
int protect_plan(const struct protect_target *t, const char *gateway, uint16_t dns_port,
                 uint16_t proxy_port, struct protect_spec *ret, int *ret_ns, struct diag *d);

/* Apply the spec in namespace `ns` (-1: this one).  Where the kernel has no
 * bridge family, spec->bridge_family is cleared and the inet table applied
 * alone. */
int protect_apply(int ns, struct protect_spec *spec, struct diag *d);

/* Remove table `table` in namespace `ns` (-1: this one); no error when it is
 * not there. */
int protect_remove_rules(int ns, const char *table, struct diag *d);

/* ---- records ---- */

struct protect_record {
	char id[65];
	char name[128];
	char table[PROTECT_TABLE_MAX];
	char socket[PATH_MAX];
	long pid;
	bool bridge_family;
	char gateway[46];
};

int protect_dir(char *out, size_t size, struct diag *d);
int protect_record_save(const struct protect_record *r, struct diag *d);
/* -ENOENT when there is none for `id` (a full id). */
int protect_record_load(const char *id, struct protect_record *r, struct diag *d);
int protect_record_remove(const char *id);
/* Every record (of every daemon); stops at fn's first negative return. */
typedef int protect_record_fn(const struct protect_record *r, void *ctx);
int protect_record_each(protect_record_fn *fn, void *ctx, struct diag *d);

/* ---- the watcher ---- */

/* The pid of the watcher of daemon `socket`, 0 when none runs. */
pid_t protect_watcher_pid(const char *socket);

/* Start a watcher for `socket` in namespace `ns` (-1: this one), detached
 * (its own session; output to .protect/watch.log), unless one runs.
 * *ret_pid (may be NULL) gets the running watcher's pid when known. */
int protect_watcher_ensure(int ns, const char *socket, pid_t *ret_pid, struct diag *d);

/* Be the watcher of `dk`'s daemon, in this process (its network namespace
 * must be the daemon's).  Returns when there is nothing left to watch (0),
 * when another watcher runs (0), or on a lasting failure. */
int protect_watch(struct docker *dk, struct diag *d);

#endif
