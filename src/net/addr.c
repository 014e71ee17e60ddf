/* addr.c - socket addresses (see addr.h). */
#include "net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t nat64_prefix[12] = {0, 0x64, 0xff, 0x9b};
static const uint8_t v4_compat_prefix[12] = {0};

/* "1".."65535": digits only, no sign, no leading zero. */
static int parse_port(const char *s, uint16_t *ret)
{
	unsigned v = 0;
	size_t n = 0;

	if (s[0] < '1' || s[0] > '9')
		return -EINVAL;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

int addr_parse(const char *text, uint16_t default_port, struct addr *ret)
{
	char host[ADDR_INPUT_MAX + 1];
	const char *port = NULL;
	uint16_t p = default_port;
	int family;

	size_t len = strnlen(text, ADDR_INPUT_MAX + 1);
	if (len == 0 || len > ADDR_INPUT_MAX)
		return -EINVAL;

	if (text[0] == '[') {
		/* "[v6]" or "[v6]:port": brackets hold IPv6 only. */
		const char *close = memchr(text, ']', len);
		if (!close)
			return -EINVAL;
		size_t hlen = (size_t)(close - text - 1);
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
		family = AF_INET6;
	} else {
		const char *colon = memchr(text, ':', len);
		memcpy(host, text, len + 1);
		if (!colon) {
			family = AF_INET;
		} else if (!memchr(colon + 1, ':', len - (size_t)(colon - text) - 1)) {
			/* One colon: "v4:port". */
			host[colon - text] = '\0';
			port = colon + 1;
			family = AF_INET;
		} else {
			family = AF_INET6; /* bare IPv6: every colon is the address's */
		}
	}
	if (port && parse_port(port, &p) < 0)
		return -EINVAL;

	struct addr a;
	memset(&a, 0, sizeof(a));
	if (family == AF_INET) {
		if (inet_pton(AF_INET, host, &a.in4.sin_addr) != 1)
			return -EINVAL;
		a.in4.sin_family = AF_INET;
		a.in4.sin_port = htons(p);
		a.len = sizeof(a.in4);
	} else {
		if (inet_pton(AF_INET6, host, &a.in6.sin6_addr) != 1)
			return -EINVAL;
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(p);
		a.len = sizeof(a.in6);
	}
	*ret = a;
	return 0;
}

int addr_from_sockaddr(struct addr *ret, const struct sockaddr *sa, socklen_t len)
{
	struct addr a;

	if (len < sizeof(sa_family_t))
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	switch (sa->sa_family) {
	case AF_INET:
		if (len < sizeof(a.in4))
			return -EINVAL;
		memcpy(&a.in4, sa, sizeof(a.in4));
		a.len = sizeof(a.in4);
		break;
	case AF_INET6:
		if (len < sizeof(a.in6))
			return -EINVAL;
		memcpy(&a.in6, sa, sizeof(a.in6));
		a.len = sizeof(a.in6);
		break;
	default:
		return -EAFNOSUPPORT;
	}
	*ret = a;
	return 0;
}

void addr_from_ipv4(struct addr *ret, const uint8_t ip[4], uint16_t port)
{
	memset(ret, 0, sizeof(*ret));
	ret->in4.sin_family = AF_INET;
	ret->in4.sin_port = htons(port);
	memcpy(&ret->in4.sin_addr, ip, 4);
	ret->len = sizeof(ret->in4);
}

void addr_from_ipv6(struct addr *ret, const uint8_t ip[16], uint16_t port)
{
	memset(ret, 0, sizeof(*ret));
	ret->in6.sin6_family = AF_INET6;
	ret->in6.sin6_port = htons(port);
	memcpy(&ret->in6.sin6_addr, ip, 16);
	ret->len = sizeof(ret->in6);
}

int addr_family(const struct addr *a)
{
	if (a->len == sizeof(a->in4) && a->sa.sa_family == AF_INET)
		return AF_INET;
	if (a->len == sizeof(a->in6) && a->sa.sa_family == AF_INET6)
		return AF_INET6;
	return AF_UNSPEC;
}

uint16_t addr_port(const struct addr *a)
{
	switch (addr_family(a)) {
	case AF_INET:
		return ntohs(a->in4.sin_port);
	case AF_INET6:
		return ntohs(a->in6.sin6_port);
	default:
		return 0;
	}
}

void addr_set_port(struct addr *a, uint16_t port)
{
	switch (addr_family(a)) {
	case AF_INET:
		a->in4.sin_port = htons(port);
		break;
	case AF_INET6:
		a->in6.sin6_port = htons(port);
		break;
	default:
		break;
	}
}

static int format(const struct addr *a, bool with_port, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int n, family = addr_family(a);

	if (size > 0)
		buf[0] = '\0';
	if (family == AF_UNSPEC)
		return -EAFNOSUPPORT;
	const void *src = family == AF_INET ? (const void *)&a->in4.sin_addr
	                                    : (const void *)&a->in6.sin6_addr;
	if (!inet_ntop(family, src, ip, sizeof(ip)))
		return -errno;
	if (!with_port)
		n = snprintf(buf, size, "%s", ip);
	else if (family == AF_INET)
		n = snprintf(buf, size, "%s:%u", ip, (unsigned)addr_port(a));
	else
		n = snprintf(buf, size, "[%s]:%u", ip, (unsigned)addr_port(a));
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}

int addr_format(const struct addr *a, char *buf, size_t size)
{
	return format(a, true, buf, size);
}

int addr_format_ip(const struct addr *a, char *buf, size_t size)
{
	return format(a, false, buf, size);
}

static int cmp_uint(unsigned long a, unsigned long b)
{
	return (a > b) - (a < b);
}

int addr_compare(const struct addr *a, const struct addr *b)
{
	int fa = addr_family(a), fb = addr_family(b), r;

	if (fa != fb)
		return cmp_uint((unsigned)fa, (unsigned)fb);
	switch (fa) {
	case AF_INET:
		r = memcmp(&a->in4.sin_addr, &b->in4.sin_addr, 4);
		if (r)
			return r < 0 ? -1 : 1;
		return cmp_uint(addr_port(a), addr_port(b));
	case AF_INET6:
		r = memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
		if (r)
			return r < 0 ? -1 : 1;
		r = cmp_uint(addr_port(a), addr_port(b));
		if (r)
			return r;
		return cmp_uint(a->in6.sin6_scope_id, b->in6.sin6_scope_id);
	default:
		return 0;
	}
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	return addr_compare(a, b) == 0;
}

bool addr_is_v4_mapped(const struct addr *a)
{
	return addr_family(a) == AF_INET6 &&
	       memcmp(&a->in6.sin6_addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0;
}

void addr_unmap(struct addr *a)
{
	if (!addr_is_v4_mapped(a))
		return;
	uint8_t ip[4];
	memcpy(ip, a->in6.sin6_addr.s6_addr + 12, 4);
	addr_from_ipv4(a, ip, addr_port(a));
}

static enum addr_class classify_v4(const uint8_t b[4])
{
	if (b[0] == 0)
		return ADDR_CLASS_UNSPECIFIED;
	if (b[0] == 127)
		return ADDR_CLASS_LOOPBACK;
	if (b[0] == 169 && b[1] == 254)
		return (b[2] == 169 && b[3] == 254) ? ADDR_CLASS_METADATA : ADDR_CLASS_LINK_LOCAL;
	if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
	    (b[0] == 100 && (b[1] & 0xc0) == 64))
		return ADDR_CLASS_PRIVATE;
	if ((b[0] & 0xf0) == 224)
		return ADDR_CLASS_MULTICAST;
	return ADDR_CLASS_PUBLIC;
}

static enum addr_class classify_v6(const uint8_t b[16])
{
	static const uint8_t ec2_metadata[16] = {0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54};

	/* IPv4 in IPv6 clothing: mapped, NAT64, and the deprecated
	 * IPv4-compatible form (which also covers :: and ::1). */
	if (memcmp(b, v4_mapped_prefix, 12) == 0 || memcmp(b, nat64_prefix, 12) == 0)
		return classify_v4(b + 12);
	if (memcmp(b, v4_compat_prefix, 12) == 0) {
		static const uint8_t one[4] = {0, 0, 0, 1};
		if (memcmp(b + 12, one, 4) == 0)
			return ADDR_CLASS_LOOPBACK;
		return b[12] | b[13] | b[14] | b[15] ? classify_v4(b + 12) : ADDR_CLASS_UNSPECIFIED;
	}
	if (memcmp(b, ec2_metadata, 16) == 0)
		return ADDR_CLASS_METADATA;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return ADDR_CLASS_LINK_LOCAL;
	if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0))
		return ADDR_CLASS_PRIVATE;
	if (b[0] == 0xff)
		return ADDR_CLASS_MULTICAST;
	return ADDR_CLASS_PUBLIC;
}

enum addr_class addr_classify(const struct addr *a)
{
	switch (addr_family(a)) {
	case AF_INET:
		return classify_v4((const uint8_t *)&a->in4.sin_addr);
	case AF_INET6:
		return classify_v6(a->in6.sin6_addr.s6_addr);
	default:
		return ADDR_CLASS_INVALID;
	}
}

const char *addr_class_name(enum addr_class c)
{
	switch (c) {
	case ADDR_CLASS_UNSPECIFIED:
		return "unspecified";
	case ADDR_CLASS_LOOPBACK:
		return "loopback";
	case ADDR_CLASS_METADATA:
		return "metadata";
	case ADDR_CLASS_LINK_LOCAL:
		return "link-local";
	case ADDR_CLASS_PRIVATE:
		return "private";
	case ADDR_CLASS_MULTICAST:
		return "multicast";
	case ADDR_CLASS_PUBLIC:
		return "public";
	case ADDR_CLASS_INVALID:
		break;
	}
	return "invalid";
}
