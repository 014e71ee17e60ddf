/* passage.h - the one host rule a Docker sandbox's router needs.
 *
 * The workload's default route leads to its sidecar (enforce/router.h).  But
 * where br_netfilter hands bridged packets to iptables
 * (net.bridge.bridge-nf-call-iptables=1, as Docker sets it), Docker's
 * isolation rule for an internal network drops every packet on the bridge
 * whose destination is outside the network's subnet - and that is every
 * packet the workload sends to its sidecar *as a router*.  Stopped, but seen
 * by no one: no record.  So one rule in DOCKER-USER, the chain Docker keeps
 * for its users and jumps to first, accepts what the internal bridge
 * forwards between its own ports (-i BRIDGE -o BRIDGE), and only that: the
 * sidecar is the one other port.  Frames for the host itself, or routed off
 * the bridge, are not bridged, and still meet Docker's isolation.
 *
 * The rule lives in the daemon's network namespace (the sidecar's shim's,
 * else ours: the one holding the bridge), made with the iptables variant
 * that holds Docker's DOCKER-USER chain; root is needed there.  Where it
 * cannot be made, nothing gets out either: those packets are dropped
 * unlogged, as before, and the caller says so.
 */
#ifndef AIRLOCK_DOCKER_PASSAGE_H
#define AIRLOCK_DOCKER_PASSAGE_H

#include <sys/types.h>

#include "util/diag.h"

/* What passage_ensure found. */
enum passage_state {
	PASSAGE_ADDED,      /* the rule was made */
	PASSAGE_THERE,      /* it was there already */
	PASSAGE_NOT_NEEDED, /* br_netfilter does not pass bridged packets to iptables */
};

/* Make sure the rule for `bridge` is in DOCKER-USER, in the network
 * namespace where `bridge` is: the one of `pid`'s parent (a container's
 * shim) or ours.  `sandbox` goes into the rule's comment.  A passage_state,
 * or a negative errno with `d` saying what is missing (root, the bridge,
 * iptables, DOCKER-USER). */
int passage_ensure(pid_t pid, const char *bridge, const char *sandbox, struct diag *d);

/* Take every copy of the rule away (0 when there was none). */
int passage_remove(pid_t pid, const char *bridge, const char *sandbox, struct diag *d);

#endif
