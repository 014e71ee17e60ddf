/* ruleset_protect.h - host rules that confine one container to its gateway.
 *
 * `airlock docker protect` is for a container that keeps its own network (a
 * bridge network with NAT, where it could reach anything): these rules, in
 * the network namespace of the Docker daemon (the host's, normally), let it
 * reach its gateway's DNS and proxy ports and nothing else.  Pure: a spec in,
 * nft text out; tests compare it with golden files.
 *
 * Two tables, both named airlock_protect_ID (ID: the container id's first
 * 12 hex digits), replaced atomically ("add table; delete table; table
 * {...}" in one transaction), so applying twice leaves one set:
 *
 *   table bridge   (when `bridge_family`) scoped by the container's own port
 *                  on the bridge: its host-side veth.  Every frame that port
 *                  sends is the container's, whatever address it claims.
 *     input        frames to the host (routed traffic, the host's own
 *                  services): ARP only with the container's own address;
 *                  anything claiming another MAC or IP source, or IPv6
 *                  where the container has none, is dropped (so the
 *                  address-scoped rules below cannot be walked around by
 *                  forging a source address); the rest goes on to the inet
 *                  table.
 *     forward      frames to other ports of the bridge (other containers):
 *                  the gateway's DNS and proxy ports, and ARP, else dropped.
 *                  This needs no br_netfilter: the bridge family sees
 *                  bridged frames by itself.
 *   table inet     scoped by bridge and address (and MAC): what leaves the
 *                  container through the host's IP layer.
 *     prerouting   (nat) every port-53 packet, to any address, goes to the
 *                  gateway's DNS: Docker's embedded resolver forwards from
 *                  inside the container, so its questions are decided by the
 *                  gateway too.
 *     forward,     replies of connections others opened to the container
 *     input        (ct direction reply: published ports keep working); the
 *                  gateway's DNS (UDP, TCP) and proxy (TCP) ports; the rest
 *                  is counted (counter `dropped`) and dropped.  With
 *                  br_netfilter (net.bridge.bridge-nf-call-iptables=1)
 *                  bridged packets pass here too, so inter-container traffic
 *                  is dropped even without the bridge table.
 *
 * Without the bridge table (a kernel without nf_tables' bridge family), the
 * container is recognised by address and MAC only, which CAP_NET_RAW can
 * forge, and other containers on its bridge are out of reach only where
 * br_netfilter passes bridged packets to nftables: docs/security.md says so.
 */
#ifndef AIRLOCK_ENFORCE_RULESET_PROTECT_H
#define AIRLOCK_ENFORCE_RULESET_PROTECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

#define PROTECT_TABLE_PREFIX "airlock_protect_"
#define PROTECT_TABLE_MAX    (sizeof(PROTECT_TABLE_PREFIX) + 12)
#define PROTECT_MAX_LINKS    8
#define PROTECT_IFNAME_MAX   16 /* IFNAMSIZ */
#define PROTECT_TEXT_MAX     16384
#define PROTECT_COUNTER      "dropped"

/* One interface of the container, on one bridge. */
struct protect_link {
	char veth[PROTECT_IFNAME_MAX];   /* the host side; "" if unknown (no bridge rules) */
	char bridge[PROTECT_IFNAME_MAX]; /* the bridge it is a port of */
	char mac[18];                    /* "02:42:c6:12:80:02" */
	char ipv4[16];                   /* "" if none */
	char ipv6[46];                   /* "" if none (link-local addresses are not listed) */
};

struct protect_spec {
	char table[PROTECT_TABLE_MAX]; /* protect_table_name() */
	char container[64];            /* its name, for the comment: [A-Za-z0-9_.-] */
	struct protect_link links[PROTECT_MAX_LINKS];
	size_t n_links;
	char gateway[46];    /* an IPv4 or IPv6 address */
	uint16_t dns_port;   /* 0: no DNS (no redirect either) */
	uint16_t proxy_port; /* 0: no proxy */
	bool bridge_family;  /* render the bridge table (see above) */
};

/* "airlock_protect_" + the first 12 hex digits of a container id; -EINVAL
 * for an id that is not at least 12 lower-case hex digits. */
int protect_table_name(const char *container_id, char *out, size_t size);

/* Render both tables.  The length, or -EINVAL (a field that is not what it
 * should be: the message names it) / -ENOBUFS, with `d` saying why. */
int ruleset_protect_render(const struct protect_spec *spec, char *buf, size_t size, struct diag *d);

/* The text that removes table `table` (both families; no error when absent). */
int ruleset_protect_render_remove(const char *table, bool bridge_family, char *buf, size_t size,
                                  struct diag *d);

#endif
