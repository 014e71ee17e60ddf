/* router.h - a Docker sidecar's network namespace as its sandbox's router.
 *
 * A Docker sandbox's workload sits alone on an internal network, and Docker
 * gives it a default route via the network's gateway address - which
 * nobody holds (the bridge has no address on the host's side), so a packet
 * for anywhere but the sidecar used to end in an unanswered ARP request,
 * stopped but seen by no one.  With `airlock gateway --router ADDR` the
 * sidecar's gateway takes that address itself (ADDR/32 on its interface on
 * that network), so whatever the workload sends, to any address, arrives in
 * the sidecar's namespace.  There the router ruleset (ruleset.h) sends DNS
 * to the gateway's DNS listener and TCP to its transparent listener - a
 * program that ignores the proxy variables and its resolv.conf is still
 * decided by the policy - and counts, logs (NFLOG, read by the gateway into
 * the audit log) and drops everything else.  Nothing is forwarded: the
 * sidecar's forwarding is off, and the ruleset drops what would be.
 *
 * Order, so that no packet ever finds the address before the rules: the
 * ruleset, then the NFLOG socket, then the address.  Needs CAP_NET_ADMIN in
 * the namespace, so it runs before the gateway gives up its privileges
 * (privs_become), and before it reads a byte from the sandbox.
 */
#ifndef AIRLOCK_ENFORCE_ROUTER_H
#define AIRLOCK_ENFORCE_ROUTER_H

#include <stdint.h>

#include "util/diag.h"

/* The interface whose IPv4 subnet holds `router_addr`, its own address
 * there (where the gateway's listeners must be) and the subnet's prefix.
 * -ENOENT when no interface's subnet holds it; -EEXIST when an interface
 * has it as its address on a network (a network whose gateway address is
 * held: taking it would steal it).  The address as a /32, as router_setup
 * adds it, is not that: a second call finds the same. */
int router_find(const uint8_t router_addr[4], char ifname[16], uint8_t local_addr[4],
                uint8_t *ret_prefix, struct diag *d);

struct router_config {
	char ifname[16];           /* router_find's */
	uint8_t local_addr[4];     /* router_find's: the listeners' address */
	uint8_t prefix;            /* router_find's */
	uint8_t router_addr[4];    /* the address to take */
	uint16_t dns_port;         /* 0: no DNS listener there (port 53 dropped) */
	uint16_t transparent_port; /* the transparent listener's */
	int nflog_group;           /* 0..65535, or -1: count only */
};

/* Apply the ruleset, open the NFLOG socket (*ret_nflog_fd; -1 when the
 * group is -1), take the address.  On failure nothing stays: the table is
 * removed and the socket closed.  0 or a negative errno with `d` saying
 * which step failed. */
int router_setup(const struct router_config *c, int *ret_nflog_fd, struct diag *d);

#endif
