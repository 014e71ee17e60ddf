/* nflog.h - packets the sandbox's firewall dropped, read through NFLOG.
 *
 * The ruleset (ruleset.h) sends every packet it drops (rate-limited) to an
 * NFLOG group.  A socket bound to that group receives, per packet, the
 * first NFLOG_COPY_BYTES of it; nflog_parse() turns those into what the
 * audit log needs: family, protocol, source and destination, and the
 * destination port (TCP, UDP, SCTP, UDP-Lite) or ICMP type.
 *
 * The socket belongs to the network namespace it was created in, so
 * `airlock run`'s helper opens it inside the sandbox's namespace and hands
 * it to the gateway (fdpass.h), which reads it in its event loop.
 *
 * The packets are the sandboxed program's own bytes: nflog_parse() trusts
 * nothing in them, nor the netlink framing (every length is checked against
 * what is left), and is fuzzed.  Pure: no I/O.
 */
#ifndef AIRLOCK_ENFORCE_NFLOG_H
#define AIRLOCK_ENFORCE_NFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"
#include "util/diag.h"

/* Bytes of each packet copied to us: IPv6 header + a TCP header. */
#define NFLOG_COPY_BYTES 96
/* A receive buffer that holds any batch the kernel sends at once. */
#define NFLOG_RECV_SIZE (64 * 1024)

struct nflog_packet {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t protocol; /* IPPROTO_*: the transport protocol (IPv6: after extension headers) */
	struct addr src;  /* port set where the protocol has one */
	struct addr dst;  /* port set where the protocol has one */
	bool has_port;    /* TCP, UDP, UDP-Lite, SCTP and the header was copied */
	int icmp_type;    /* ICMP or ICMPv6 type; -1 otherwise */
};

/* Open a non-blocking netlink socket bound to NFLOG group `group`, copying
 * NFLOG_COPY_BYTES of each packet.  Needs CAP_NET_ADMIN in the current
 * network namespace.  The fd, or a negative errno with `d` saying why. */
int nflog_open(uint16_t group, struct diag *d);

/* Called for each packet in a buffer. */
typedef void nflog_packet_fn(void *ctx, const struct nflog_packet *p);

/* Walk one buffer read from the socket: every well-formed packet message is
 * passed to fn; malformed messages and packets are skipped.  Returns the
 * number of packets passed on. */
size_t nflog_parse(const void *buf, size_t len, nflog_packet_fn *fn, void *ctx);

/* "udp", "icmp", "tcp", "sctp", or "IP protocol 47" into buf. */
const char *nflog_protocol_name(uint8_t protocol, char *buf, size_t size);

#endif
