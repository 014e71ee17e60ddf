/* ruleset.h - the nftables ruleset that confines a sandbox, as text.
 *
 * Pure: a spec in, nft text out; no I/O.  The text is applied as one
 * transaction (nft.h), so a sandbox's network is either fully confined or
 * untouched, and tests compare it with golden files.
 *
 * What the `airlock run` ruleset does, in the sandbox's own network
 * namespace, where the only interface is `lo` and a default route points at
 * it (so that packets to any address reach netfilter instead of failing with
 * ENETUNREACH in the routing code):
 *
 *   nat output      port 53, TCP or UDP, to any address (127.0.0.53 and
 *                   the sandbox's own resolvers included) -> the gateway's
 *                   DNS listener (`dns_port` on loopback);
 *                   every other TCP flow to a non-loopback address -> the
 *                   transparent listener (`transparent_port`).
 *   filter output   policy drop.  Loopback destinations pass (the
 *                   redirected flows, the proxy, the sandbox's own local
 *                   servers); everything else - UDP other than DNS, ICMP,
 *                   raw IP, SCTP... - is counted in a named counter per
 *                   protocol and dropped, and, where `nflog_group` is set,
 *                   logged through NFLOG (at most RULESET_LOG_RATE packets a
 *                   second, so a flood cannot bury the gateway's log).
 *
 * A spec with dns_port 0 has no DNS redirect (port 53 is dropped like any
 * other UDP), with transparent_port 0 no TCP redirect (TCP is dropped): the
 * `airgapped` profile sets both to 0.
 *
 * The in-place ruleset (`airlock apply`, a container's or machine's own
 * namespace, where the gateway runs beside everything else):
 *
 *   nat output      the gateway's own traffic (its uid) untouched; the
 *                   `direct` networks untouched; without a DNS listener,
 *                   TCP port 53 to the resolvers untouched (it passes, as
 *                   UDP does); then as above: port 53 to
 *                   the DNS listener, other TCP to the transparent listener
 *                   (at priority -110, before any other nat chain of the
 *                   namespace - Docker's embedded DNS has one at -100 - so
 *                   that the first NAT decision, the one that holds, is ours);
 *   filter output   policy drop; established flows, the gateway's uid, the
 *                   gateway's listeners on loopback (and, with
 *                   allow_localhost, all of loopback), the `direct`
 *                   networks and, without a DNS listener, the resolvers on
 *                   port 53 pass; the rest is counted, logged and dropped as
 *                   above.
 *
 * The router ruleset (`airlock gateway --router`: the Docker sidecar's own
 * namespace, which takes the sandbox network's gateway address, so the
 * workload's default route leads to it; the sidecar never forwards):
 *
 *   nat prerouting  arriving on `ifname`: port 53, TCP or UDP, to any
 *                   address -> the gateway's DNS listener (`gateway_addr`,
 *                   `dns_port`); every other TCP flow not to gateway_addr ->
 *                   its transparent listener (`transparent_port`); dnat to
 *                   that address, not `redirect`, which would pick the
 *                   interface's first address, whichever that is.
 *   filter prerouting  arriving on `ifname`: a source outside the
 *                   network (`gateway_addr`/`prefix`) is logged and dropped
 *                   first - a forged source would get the answers, sent out
 *                   the sidecar's way to the internet; packets conntrack
 *                   finds invalid (stray segments of closed flows) are
 *                   dropped quietly; then all IPv4 TCP goes on (to the
 *                   listeners, or refused by the kernel with a reset) and
 *                   UDP port 53; IPv6 neighbour discovery and listener
 *                   reports are dropped quietly (the link's chatter, no
 *                   attempt); the rest is counted, logged and dropped as
 *                   above, before routing could answer it with an ICMP
 *                   error.
 *   filter forward  policy drop: the router never routes, should
 *                   forwarding ever be switched on.
 *
 * The table is replaced atomically ("add table; delete table; table {...}"
 * in one transaction), so applying twice leaves one table.
 */
#ifndef AIRLOCK_ENFORCE_RULESET_H
#define AIRLOCK_ENFORCE_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

#define RULESET_TABLE    "airlock"
#define RULESET_LOG_RATE 50
#define RULESET_TEXT_MAX 8192

/* The named counters, in the order ruleset_counter_names() lists them. */
enum ruleset_counter {
	RULESET_DROPPED_TCP,
	RULESET_DROPPED_UDP,
	RULESET_DROPPED_ICMP,
	RULESET_DROPPED_OTHER,
	RULESET_N_COUNTERS,
};

struct ruleset_spec {
	uint16_t dns_port;         /* 0: no DNS redirect */
	uint16_t transparent_port; /* 0: no TCP redirect */
	bool ipv6;                 /* the namespace has ::1: redirect IPv6 too */
	int nflog_group;           /* 0..65535, or -1: count only */
};

/* An address range, for the in-place ruleset. */
struct ruleset_net {
	int family; /* 4 or 6 */
	uint8_t addr[16];
	uint8_t prefix;
};

#define RULESET_MAX_NETS 32

struct ruleset_inplace_spec {
	uint32_t gateway_uid;      /* its traffic is neither redirected nor dropped */
	uint16_t dns_port;         /* 0: no DNS listener: port 53 to `resolvers` passes */
	uint16_t proxy_port;       /* reachable on loopback whatever allow_localhost */
	uint16_t transparent_port; /* 0: no TCP redirect */
	bool ipv6;
	bool allow_localhost;
	struct ruleset_net direct[RULESET_MAX_NETS]; /* reached directly, not redirected */
	size_t n_direct;
	struct ruleset_net resolvers[RULESET_MAX_NETS];
	size_t n_resolvers;
	int nflog_group; /* 0..65535, or -1: count only */
};

struct ruleset_router_spec {
	char ifname[16];         /* the sandbox network's interface (IFNAMSIZ) */
	uint8_t gateway_addr[4]; /* the gateway's own address on it: its listeners */
	uint8_t prefix;          /* the network's prefix length (8 to 30) */
	uint16_t dns_port;       /* 0: port 53 is dropped like any UDP */
	uint16_t transparent_port;
	int nflog_group; /* 0..65535, or -1: count only */
};

/* "dropped_tcp", "dropped_udp"... as the ruleset names them. */
const char *ruleset_counter_name(enum ruleset_counter c);

/* Render the sandbox's ruleset into buf.  Returns the length, or -ENOBUFS
 * (buf too small) / -EINVAL (a group out of range), with `d` saying so. */
int ruleset_render_sandbox(const struct ruleset_spec *spec, char *buf, size_t size, struct diag *d);

/* Render the in-place ruleset.  The same returns, and -EINVAL for a range
 * that is not one (family, prefix). */
int ruleset_render_inplace(const struct ruleset_inplace_spec *spec, char *buf, size_t size,
                           struct diag *d);

/* Render the router ruleset.  The same returns, and -EINVAL for an
 * interface name that is empty, too long or not plain (letters, digits,
 * '.', '-', '_'; it is written between quotes), a gateway_addr of 0.0.0.0,
 * a prefix out of range or a transparent_port of 0. */
int ruleset_render_router(const struct ruleset_router_spec *spec, char *buf, size_t size,
                          struct diag *d);

/* The text that removes the table (whether it is there or not). */
const char *ruleset_remove_text(void);

#endif
