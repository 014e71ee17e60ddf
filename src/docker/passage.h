/* passage.h - the host rules of a Docker sandbox's internal bridge.
 *
 * The workload's default route leads to its sidecar (enforce/router.h).  But
 * where br_netfilter hands bridged packets to iptables
 * (net.bridge.bridge-nf-call-iptables=1, as Docker sets it), Docker's
 * isolation of an internal network drops every packet on the bridge whose
 * destination, or source, is outside the network's subnet - and that is
 * every packet the workload sends to its sidecar *as a router*, and every
 * reply.  Stopped, but seen by no one: no record.  So two rules go first in
 * DOCKER-USER, the chain Docker keeps for its users and jumps to first:
 *
 *   -i BR -o BR -s SUBNET -j ACCEPT
 *           what the bridge forwards between its own ports from the
 *           network's own addresses, to any destination: to the sidecar,
 *           the one other port.  A forged source outside the subnet still
 *           meets Docker's isolation (and the sidecar's own check).
 *   -i BR -o BR -d SUBNET -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
 *           the sidecar's replies to those flows.
 *
 * And one rule per family in INPUT (IPv6 where ip6tables works), whether
 * br_netfilter is on or not:
 *
 *   -i BR -j DROP
 *           a frame sent to the bridge's own MAC (a packet socket can) with
 *           one of the host's addresses as destination is delivered to the
 *           host, not bridged, and Docker's isolation never sees it; nothing
 *           on an internal network has business with the host.
 *
 * Every rule carries the comment "airlock NAME: ...".  They live in the
 * daemon's network namespace (the sidecar's shim's, else ours: the one
 * holding the bridge), made with the iptables variant that holds Docker's
 * DOCKER-USER chain (and its ip6tables twin); root is needed there.  Where
 * they cannot be made, nothing gets out either: packets past the sidecar's
 * DNS and proxy are dropped unlogged, as before, and the caller says so.
 */
#ifndef AIRLOCK_DOCKER_PASSAGE_H
#define AIRLOCK_DOCKER_PASSAGE_H

#include <sys/types.h>

#include "util/diag.h"

struct passage {
	char bridge[16];  /* br-ID, IFNAMSIZ */
	char subnet[32];  /* 198.18.129.0/24 */
	char sandbox[64]; /* for the comment */
};

/* Make sure the rules are in place, in the network namespace where the
 * bridge is: the one of `pid`'s parent (a container's shim) or ours.  The
 * number of rules added (0: all were there), or a negative errno with `d`
 * saying what is missing (root, the bridge, iptables, DOCKER-USER). */
int passage_ensure(pid_t pid, const struct passage *p, struct diag *d);

/* How many of the rules that belong here are missing (0: all in place), or
 * a negative errno with `d` saying why it cannot tell (not root...). */
int passage_missing(pid_t pid, const struct passage *p, struct diag *d);

/* Take every copy of the rules away.  0, also when there were none or the
 * bridge is gone (its rules match nothing then); a negative errno with `d`
 * when a rule could not be deleted. */
int passage_remove(pid_t pid, const struct passage *p, struct diag *d);

#endif
