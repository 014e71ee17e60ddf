/* addr.h - IPv4/IPv6 socket addresses: parse, format, compare, classify.
 *
 * struct addr is a sockaddr big enough for either family plus its length, so
 * it goes straight to bind(), connect() and sendto() (&a.sa, a.len).  An addr
 * with len 0 is "no address"; every function here sets or checks family and
 * len together.  Pure: no I/O, no name resolution (a name is never an addr).
 *
 * Text forms: "1.2.3.4:53", "[2001:db8::1]:53", and the address alone ("1.2.3.4",
 * "2001:db8::1", "[2001:db8::1]") with the caller's default port.  An IPv6
 * address with a port must be in brackets; without brackets every colon
 * belongs to the address, so "2001:db8::1:53" is the address 2001:db8::1:53.
 * No zone ids ("%eth0"), no names, no whitespace, no leading zeros in ports.
 *
 * Classification answers the DNS-rebinding question "may a public name point
 * here?"; see enum addr_class.
 */
#ifndef AIRLOCK_NET_ADDR_H
#define AIRLOCK_NET_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text addr_format() writes, NUL included: "[" + IPv6 + "]:65535". */
#define ADDR_STR_MAX (INET6_ADDRSTRLEN + 8)
/* Longest input addr_parse() reads. */
#define ADDR_INPUT_MAX 64

struct addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	};
	socklen_t len; /* sizeof(in4) or sizeof(in6); 0: no address */
};

/* Parse `text` as above; `default_port` is used when the text has none (0 is
 * allowed there: "any port" for a bind).  An explicit port is 1..65535.
 * Returns 0, or -EINVAL (ret untouched). */
int addr_parse(const char *text, uint16_t default_port, struct addr *ret);

/* From a sockaddr the kernel filled in (accept, recvfrom, getsockname);
 * -EAFNOSUPPORT for other families, -EINVAL for a short length. */
int addr_from_sockaddr(struct addr *ret, const struct sockaddr *sa, socklen_t len);

/* From raw network-order bytes: 4 for IPv4, 16 for IPv6. */
void addr_from_ipv4(struct addr *ret, const uint8_t ip[4], uint16_t port);
void addr_from_ipv6(struct addr *ret, const uint8_t ip[16], uint16_t port);

/* AF_INET, AF_INET6, or AF_UNSPEC for "no address". */
int addr_family(const struct addr *a);
uint16_t addr_port(const struct addr *a);
void addr_set_port(struct addr *a, uint16_t port);

/* "1.2.3.4:53" / "[2001:db8::1]:53" into buf (ADDR_STR_MAX is always
 * enough); addr_format_ip() without the port or brackets.  0, -ENOSPC or
 * -EAFNOSUPPORT; buf is always NUL-terminated when size > 0. */
int addr_format(const struct addr *a, char *buf, size_t size);
int addr_format_ip(const struct addr *a, char *buf, size_t size);

/* A total order: family, address bytes, port, then IPv6 scope id (flow
 * label ignored).  ::ffff:1.2.3.4 and 1.2.3.4 differ: unmap first. */
int addr_compare(const struct addr *a, const struct addr *b);
bool addr_equal(const struct addr *a, const struct addr *b);

/* IPv4-mapped IPv6 (::ffff:a.b.c.d), and its conversion to plain IPv4 in
 * place (port kept); addr_unmap is a no-op on anything else. */
bool addr_is_v4_mapped(const struct addr *a);
void addr_unmap(struct addr *a);

/* What an address is, for the rebinding check.  Each class names its ranges;
 * the first that matches wins, in this order. */
enum addr_class {
	ADDR_CLASS_INVALID,     /* no address, or not IPv4/IPv6 */
	ADDR_CLASS_UNSPECIFIED, /* 0.0.0.0/8 (Linux connects 0.0.0.0 to the host itself), :: */
	ADDR_CLASS_LOOPBACK,    /* 127.0.0.0/8, ::1 */
	ADDR_CLASS_METADATA,    /* cloud instance metadata: 169.254.169.254, fd00:ec2::254 */
	ADDR_CLASS_LINK_LOCAL,  /* 169.254.0.0/16, fe80::/10 */
	ADDR_CLASS_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT),
	                           fc00::/7 (ULA), fec0::/10 (old site-local) */
	ADDR_CLASS_MULTICAST,   /* 224.0.0.0/4, ff00::/8 */
	ADDR_CLASS_PUBLIC,      /* everything else (198.18.0.0/15, the test internet, too) */
};

/* IPv6 forms that carry an IPv4 address to an IPv4 host - mapped
 * (::ffff:0:0/96), NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible
 * ::/96 - are classified by that IPv4 address, so ::ffff:127.0.0.1 and
 * 64:ff9b::169.254.169.254 are not public.  6to4 and Teredo are public. */
enum addr_class addr_classify(const struct addr *a);
const char *addr_class_name(enum addr_class c); /* "loopback", ... */

#endif
