/* rtnl.h - the rtnetlink requests a sandbox's network namespace needs.
 *
 * A new network namespace has one interface, `lo`, down.  The sandbox needs
 * it up, and (where nftables will redirect flows) a default route through it
 * with loopback as the source address: without a route, a connect() to any
 * outside address fails in the routing code before netfilter ever sees the
 * packet, so it could be neither redirected to the gateway nor counted.
 *
 * A Docker sidecar that routes for its sandbox (enforce/router.h) takes one
 * more address on an interface.
 *
 * Requests are built in fixed buffers whose bounds are checked at compile
 * time; each is acknowledged, and the ack must carry our sequence number and
 * come from the kernel (port id 0).  NETLINK_EXT_ACK is asked for, so the
 * kernel's reason reaches the message.  Acts on the calling thread's network
 * namespace; needs CAP_NET_ADMIN there.
 */
#ifndef AIRLOCK_SANDBOX_RTNL_H
#define AIRLOCK_SANDBOX_RTNL_H

#include <stdint.h>

#include "util/diag.h"

/* Set `lo` up.  0 or a negative errno, with `d` saying why. */
int rtnl_loopback_up(struct diag *d);

/* Add "default dev lo src 127.0.0.1" (AF_INET) or "... src ::1" (AF_INET6).
 * -EAFNOSUPPORT / -EACCES when the family is disabled in this namespace. */
int rtnl_default_route_to_loopback(int family, struct diag *d);

/* Add `addr` (IPv4, 4 bytes in network order) as
 * ADDR/32 on interface `ifindex`; replaced if it is there already, so a
 * second call changes nothing. */
int rtnl_add_address4(unsigned ifindex, const uint8_t addr[4], struct diag *d);

#endif
