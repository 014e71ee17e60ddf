/* router.c - the sidecar's namespace routes for its sandbox (see router.h). */
#include "enforce/router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "enforce/nflog.h"
#include "enforce/nftables.h"
#include "enforce/ruleset.h"
#include "sandbox/rtnl.h"
#include "util/macros.h"

static uint32_t be32(const uint8_t a[4])
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

int router_find(const uint8_t router_addr[4], char ifname[16], uint8_t local_addr[4],
                uint8_t *ret_prefix, struct diag *d)
{
	struct ifaddrs *all;
	char text[INET_ADDRSTRLEN];
	uint32_t want = be32(router_addr);
	int r = -ENOENT;

	inet_ntop(AF_INET, router_addr, text, sizeof(text));
	if (getifaddrs(&all) < 0)
		return diag_fail(d, -errno, "cannot list the interfaces: %s", strerror(errno));
	for (struct ifaddrs *i = all; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask)
			continue;
		const struct sockaddr_in *a = (const void *)i->ifa_addr;
		const struct sockaddr_in *m = (const void *)i->ifa_netmask;
		uint32_t own = ntohl(a->sin_addr.s_addr), mask = ntohl(m->sin_addr.s_addr);
		if (mask == 0xffffffff)
			continue; /* a host address: ours, from an earlier setup, or none of ours */
		if (own == want) {
			r = diag_fail(d, -EEXIST,
			              "%s is already %s's own address: this network's gateway "
			              "address is taken",
			              text, i->ifa_name);
			break;
		}
		if ((own & mask) != (want & mask) || r == 0)
			continue;
		snprintf(ifname, 16, "%s", i->ifa_name);
		memcpy(local_addr, &a->sin_addr.s_addr, 4);
		*ret_prefix = (uint8_t)__builtin_popcount(mask);
		r = 0;
	}
	freeifaddrs(all);
	if (r == -ENOENT)
		diag_fail(d, -ENOENT, "no interface is on a network holding %s", text);
	return r;
}

int router_setup(const struct router_config *c, int *ret_nflog_fd, struct diag *d)
{
	char text[RULESET_TEXT_MAX];
	struct ruleset_router_spec spec = {
	        .dns_port = c->dns_port,
	        .transparent_port = c->transparent_port,
	        .nflog_group = c->nflog_group,
	        .prefix = c->prefix,
	};
	int e;

	*ret_nflog_fd = -1;
	snprintf(spec.ifname, sizeof(spec.ifname), "%s", c->ifname);
	memcpy(spec.gateway_addr, c->local_addr, 4);
	unsigned index = if_nametoindex(c->ifname);
	if (index == 0)
		return diag_fail(d, -ENODEV, "no interface %s", c->ifname);
	if ((e = ruleset_render_router(&spec, text, sizeof(text), d)) < 0)
		return e;
	if ((e = nftables_apply(text, d)) < 0) {
		diag_prefix(d, "installing the router's nftables table: ");
		return e;
	}
	_cleanup_close_ int fd = -1;
	if (c->nflog_group >= 0 && (fd = e = nflog_open((uint16_t)c->nflog_group, d)) < 0)
		goto undo;
	if ((e = rtnl_add_address4(index, c->router_addr, d)) < 0)
		goto undo;
	*ret_nflog_fd = TAKE_FD(fd);
	return 0;
undo:
	(void)nftables_apply(ruleset_remove_text(), NULL);
	return e;
}
