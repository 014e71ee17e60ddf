/* iptables.c - the in-place ruleset through iptables-restore (see iptables.h). */
#include "enforce/iptables.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct out {
	char *buf;
	size_t size, len;
	bool failed;
};

_printf_(2, 3) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	if (o->failed)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->failed = true;
		return;
	}
	o->len += (size_t)n;
}

static void net_text(const struct ruleset_net *n, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(n->family == 4 ? AF_INET : AF_INET6, n->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, n->prefix);
}

int iptables_render_inplace(const struct ruleset_inplace_spec *s, int family, char *buf,
                            size_t size, struct diag *d)
{
	struct out o = {buf, size, 0, size == 0};
	const char *loop = family == 4 ? "127.0.0.0/8" : "::1/128";
	char net[INET6_ADDRSTRLEN + 8];

	if (family != 4 && family != 6)
		return diag_fail(d, -EINVAL, "address family %d", family);
	if (s->nflog_group < -1 || s->nflog_group > 65535)
		return diag_fail(d, -EINVAL, "NFLOG group %d: expected 0 to 65535", s->nflog_group);

	put(&o, "*nat\n:AIRLOCK_NAT - [0:0]\n");
	put(&o, "-A AIRLOCK_NAT -m owner --uid-owner %u -j RETURN\n", s->gateway_uid);
	for (size_t i = 0; i < s->n_direct; i++) {
		if (s->direct[i].family != family)
			continue;
		net_text(&s->direct[i], net, sizeof(net));
		put(&o, "-A AIRLOCK_NAT -d %s -j RETURN\n", net);
	}
	/* As in nftables: DNS over TCP to the resolvers is not redirected. */
	for (size_t i = 0; !s->dns_port && i < s->n_resolvers; i++) {
		if (s->resolvers[i].family != family)
			continue;
		net_text(&s->resolvers[i], net, sizeof(net));
		put(&o, "-A AIRLOCK_NAT -d %s -p tcp --dport 53 -j RETURN\n", net);
	}
	if (s->dns_port)
		put(&o,
		    "-A AIRLOCK_NAT -p udp --dport 53 -j REDIRECT --to-ports %u\n"
		    "-A AIRLOCK_NAT -p tcp --dport 53 -j REDIRECT --to-ports %u\n",
		    s->dns_port, s->dns_port);
	if (s->transparent_port && (family == 4 || s->ipv6))
		put(&o, "-A AIRLOCK_NAT ! -d %s -p tcp -j REDIRECT --to-ports %u\n", loop,
		    s->transparent_port);
	put(&o, "-I OUTPUT 1 -j AIRLOCK_NAT\nCOMMIT\n");

	put(&o, "*filter\n:AIRLOCK_OUT - [0:0]\n");
	put(&o, "-A AIRLOCK_OUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n");
	put(&o, "-A AIRLOCK_OUT -m owner --uid-owner %u -j ACCEPT\n", s->gateway_uid);
	if (family == 6) {
		static const char *const nd[] = {"router-solicitation", "neighbour-solicitation",
		                                 "neighbour-advertisement"};
		for (size_t i = 0; i < sizeof(nd) / sizeof(nd[0]); i++)
			put(&o,
			    "-A AIRLOCK_OUT -p ipv6-icmp -m icmp6 --icmpv6-type %s -m hl --hl-eq "
			    "255 "
			    "-j ACCEPT\n",
			    nd[i]);
		put(&o, "-A AIRLOCK_OUT -d ff02::16/128 -p ipv6-icmp -m icmp6 --icmpv6-type 143 "
		        "-j ACCEPT\n");
	}
	if (s->allow_localhost) {
		put(&o, "-A AIRLOCK_OUT -d %s -j ACCEPT\n", loop);
	} else {
		char ports[64] = "";
		size_t n = 0;
		const uint16_t list[] = {s->dns_port, s->proxy_port, s->transparent_port};
		for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
			if (list[i])
				n += (size_t)snprintf(ports + n, sizeof(ports) - n, "%s%u",
				                      n ? "," : "", list[i]);
		if (n)
			put(&o, "-A AIRLOCK_OUT -d %s -p tcp -m multiport --dports %s -j ACCEPT\n",
			    loop, ports);
		if (s->dns_port)
			put(&o, "-A AIRLOCK_OUT -d %s -p udp --dport %u -j ACCEPT\n", loop,
			    s->dns_port);
	}
	for (size_t i = 0; i < s->n_direct; i++) {
		if (s->direct[i].family != family)
			continue;
		net_text(&s->direct[i], net, sizeof(net));
		put(&o, "-A AIRLOCK_OUT -d %s -j ACCEPT\n", net);
	}
	for (size_t i = 0; !s->dns_port && i < s->n_resolvers; i++) {
		if (s->resolvers[i].family != family)
			continue;
		net_text(&s->resolvers[i], net, sizeof(net));
		put(&o,
		    "-A AIRLOCK_OUT -d %s -p udp --dport 53 -j ACCEPT\n"
		    "-A AIRLOCK_OUT -d %s -p tcp --dport 53 -j ACCEPT\n",
		    net, net);
	}
	if (s->nflog_group >= 0)
		put(&o,
		    "-A AIRLOCK_OUT -m limit --limit %d/sec --limit-burst %d -j NFLOG "
		    "--nflog-group %d\n",
		    RULESET_LOG_RATE, RULESET_LOG_RATE * 2, s->nflog_group);
	put(&o, "-A AIRLOCK_OUT -j DROP\n-I OUTPUT 1 -j AIRLOCK_OUT\nCOMMIT\n");
	if (o.failed)
		return diag_fail(d, -ENOBUFS, "the iptables rules do not fit in %zu bytes", size);
	return (int)o.len;
}

/* ---- running the tools --------------------------------------------------- */

int iptables_exec(char *const argv[], const char *input, char *out, size_t out_size, char *err,
                  size_t err_size)
{
	int in[2], o[2], e[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;

	out[0] = err[0] = '\0';
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(o, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	if (pipe2(e, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		close(o[0]);
		close(o[1]);
		return -errno;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, o[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, e[1], STDERR_FILENO);
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(o[1]);
	close(e[1]);
	if (r != 0) {
		close(in[1]);
		close(o[0]);
		close(e[0]);
		return -r;
	}
	/* The inputs are small (pipe buffers hold them): write, then read. */
	size_t len = input ? strlen(input) : 0;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(in[1], input + off, len - off);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			off += (size_t)w;
	}
	close(in[1]);
	size_t got_o = 0, got_e = 0;
	struct pollfd pf[2] = {{o[0], POLLIN, 0}, {e[0], POLLIN, 0}};
	for (int open_fds = 2; open_fds > 0;) {
		if (poll(pf, 2, 10000) <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			char *dst = i == 0 ? out : err;
			size_t *got = i == 0 ? &got_o : &got_e, cap = i == 0 ? out_size : err_size;
			char scratch[512];
			ssize_t n = *got + 1 < cap ? read(pf[i].fd, dst + *got, cap - 1 - *got)
			                           : read(pf[i].fd, scratch, sizeof(scratch));
			if (n <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
			} else if (*got + 1 < cap) {
				*got += (size_t)n;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	out[got_o] = '\0';
	err[got_e] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The variants, in the order tried: the machine's choice, then each. */
static const char *const variants[] = {"", "-nft", "-legacy"};

static void tool_name(char *buf, size_t size, int family, const char *variant, const char *what)
{
	snprintf(buf, size, "%s%s-%s", family == 4 ? "iptables" : "ip6tables", variant, what);
}

/* The restore input that takes our chains out of what `save` printed. */
static void removal_text(const char *saved, char *buf, size_t size)
{
	struct out o = {buf, size, 0, size == 0};
	static const struct {
		const char *table, *chain;
	} ours[] = {{"nat", "AIRLOCK_NAT"}, {"filter", "AIRLOCK_OUT"}};
	if (size)
		buf[0] = '\0'; /* nothing of ours: empty, not the buffer's old bytes */
	for (size_t t = 0; t < 2; t++) {
		char jump[64], decl[64];
		snprintf(jump, sizeof(jump), "-A OUTPUT -j %s\n", ours[t].chain);
		snprintf(decl, sizeof(decl), ":%s ", ours[t].chain);
		bool has_chain = strstr(saved, decl) != NULL;
		size_t jumps = 0;
		for (const char *p = saved; (p = strstr(p, jump)); p += strlen(jump))
			jumps++;
		if (!has_chain && !jumps)
			continue;
		put(&o, "*%s\n", ours[t].table);
		for (size_t i = 0; i < jumps; i++)
			put(&o, "-D OUTPUT -j %s\n", ours[t].chain);
		if (has_chain)
			put(&o, "-F %s\n-X %s\n", ours[t].chain, ours[t].chain);
		put(&o, "COMMIT\n");
	}
	if (o.failed)
		buf[0] = '\0';
}

/* Take our chains out with one variant; 0 when there was nothing or it
 * worked, -ENOENT when the variant is not installed. */
static int remove_with(int family, const char *variant, struct diag *d)
{
	char save[64], restore[64], err[1024], text[4096];
	static char saved[256 * 1024];
	tool_name(save, sizeof(save), family, variant, "save");
	tool_name(restore, sizeof(restore), family, variant, "restore");
	char *save_argv[] = {save, NULL};
	int r = iptables_exec(save_argv, NULL, saved, sizeof(saved), err, sizeof(err));
	if (r < 0)
		return r;
	if (r != 0)
		return diag_fail(d, -EIO, "%s: %s", save, err);
	removal_text(saved, text, sizeof(text));
	if (!text[0])
		return 0;
	char *argv[] = {restore, (char *)"--noflush", NULL};
	char out[256];
	r = iptables_exec(argv, text, out, sizeof(out), err, sizeof(err));
	if (r != 0)
		return diag_fail(d, r < 0 ? r : -EIO, "%s: %s", restore,
		                 r < 0 ? strerror(-r) : err);
	return 0;
}

int iptables_remove(struct diag *d)
{
	int result = 0;
	for (int family = 4; family <= 6; family += 2)
		for (size_t v = 1; v < sizeof(variants) / sizeof(variants[0]); v++) {
			int e = remove_with(family, variants[v], d);
			if (e < 0 && e != -ENOENT)
				result = e;
		}
	return result;
}

int iptables_apply_inplace(const struct ruleset_inplace_spec *s, const char **ret_tool,
                           struct diag *d)
{
	char text[IPTABLES_TEXT_MAX], tool[64], err[1024], out[256];
	struct diag first = {""};
	int e;

	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		bool ok = true;
		(void)remove_with(4, variants[v], NULL);
		(void)remove_with(6, variants[v], NULL);
		for (int family = 4; ok && family <= 6; family += 2) {
			if ((e = iptables_render_inplace(s, family, text, sizeof(text), d)) < 0)
				return e;
			tool_name(tool, sizeof(tool), family, variants[v], "restore");
			char *argv[] = {tool, (char *)"--noflush", NULL};
			int r = iptables_exec(argv, text, out, sizeof(out), err, sizeof(err));
			if (r == 0)
				continue;
			if (family == 6 && r > 0 && !s->ipv6)
				continue; /* no IPv6 here: it is all dropped anyway */
			ok = false;
			char *nl = strchr(err, '\n');
			if (nl)
				*nl = '\0';
			if (!first.msg[0])
				diag_fail(&first, -EIO, "%s: %s", tool,
				          r < 0    ? strerror(-r)
				          : err[0] ? err
				                   : "failed");
		}
		if (ok) {
			if (ret_tool)
				*ret_tool = variants[v][0]
				                    ? (v == 1 ? "iptables-nft" : "iptables-legacy")
				                    : "iptables";
			return 0;
		}
		(void)remove_with(4, variants[v], NULL);
		(void)remove_with(6, variants[v], NULL);
	}
	return diag_fail(d, -EOPNOTSUPP, "%s", first.msg[0] ? first.msg : "no iptables");
}
