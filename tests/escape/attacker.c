/* attacker - what a hostile program inside a sandbox tries, one attempt a run.
 *
 * The escape battery (tests/escape/) runs this inside each topology's
 * sandbox.  It needs nothing but libc, so the same binary works in
 * `airlock run`, in place, and in a Docker workload built from a bare root
 * file system.  Every attempt prints one line and exits 0 when the attempt
 * got through (a reply, an answer), 1 when it was stopped, 2 on a usage
 * error:
 *
 *   tcp ADDR PORT DATA          connect, send DATA, read a reply
 *   udp ADDR PORT DATA          one datagram, wait for a reply
 *   icmp ADDR DATA              an echo request carrying DATA (ping socket,
 *                               else a raw socket)
 *   raw ADDR PROTO DATA         a raw IP socket of protocol PROTO
 *   packet DATA                 an AF_PACKET socket on every interface
 *   spoof SRC DST PORT NAME     a DNS query for NAME (type A) in a UDP
 *                               datagram from port 7 of forged IPv4 source
 *                               SRC to DST:PORT (IPPROTO_RAW): whose answer
 *                               would go to SRC
 *   frame MAC DST PORT DATA     an Ethernet frame to MAC on the first
 *                               interface that is not lo, holding an IPv4
 *                               UDP datagram from that interface's address
 *                               to DST:PORT: what reaches a host (or anyone)
 *                               beside the routing table
 *   dns SERVER NAME TYPE [tcp]  a query for NAME (dots separate labels;
 *                               \xNN is any byte, so labels may hold NULs or
 *                               be longer than 63) of TYPE (A, AAAA, TXT,
 *                               NULL, ANY, HTTPS or a number)
 *   dnswire SERVER HEX [tcp]    a raw DNS message
 *   http ADDR PORT TEXT [PAD]   raw bytes (\r \n \xNN escapes), with a
 *                               PAD-byte header before the end of the head
 *   tls ADDR PORT SNI [ech]     a TLS ClientHello naming SNI ("-": none;
 *                               "ech": with an encrypted_client_hello
 *                               extension), through to the server's reply
 *   connect PROXY PORT TARGET   CONNECT TARGET through an HTTP proxy
 *   unix PATH                   connect to a unix socket (stream, then
 *                               seqpacket)
 *   write PATH DATA             append DATA to a file
 *   nft [add]                   ask the kernel to delete table inet airlock
 *                               ("add": to add a table inet escape of our
 *                               own, where an accept-all chain would go)
 *
 * SERVER and ADDR take "1.2.3.4", "2001:db8::1", "[2001:db8::1]:53" or
 * "1.2.3.4:5353".  Timeouts are short and fixed: the battery is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define TIMEOUT_MS 3000

static int fail_errno(const char *what)
{
	printf("error %s %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	return 1;
}

/* ---- addresses and escapes -------------------------------------------- */

static int parse_addr(const char *text, uint16_t default_port, struct sockaddr_storage *ss,
                      socklen_t *len)
{
	char host[128];
	uint16_t port = default_port;
	const char *colon;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end || (size_t)(end - text - 1) >= sizeof(host))
			return -1;
		memcpy(host, text + 1, (size_t)(end - text - 1));
		host[end - text - 1] = '\0';
		if (end[1] == ':')
			port = (uint16_t)strtoul(end + 2, NULL, 10);
	} else if ((colon = strchr(text, ':')) && !strchr(colon + 1, ':')) {
		if ((size_t)(colon - text) >= sizeof(host))
			return -1;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		port = (uint16_t)strtoul(colon + 1, NULL, 10);
	} else {
		snprintf(host, sizeof(host), "%s", text);
	}
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

/* \r \n \t \\ and \xNN into bytes; the length. */
static size_t unescape(const char *in, uint8_t *out, size_t size)
{
	size_t o = 0;
	for (const char *p = in; *p && o < size; p++) {
		if (*p != '\\' || !p[1]) {
			out[o++] = (uint8_t)*p;
			continue;
		}
		p++;
		if (*p == 'r')
			out[o++] = '\r';
		else if (*p == 'n')
			out[o++] = '\n';
		else if (*p == 't')
			out[o++] = '\t';
		else if (*p == 'x' && p[1] && p[2]) {
			char hex[3] = {p[1], p[2], 0};
			out[o++] = (uint8_t)strtoul(hex, NULL, 16);
			p += 2;
		} else
			out[o++] = (uint8_t)*p;
	}
	return o;
}

static size_t unhex(const char *in, uint8_t *out, size_t size)
{
	size_t o = 0;
	for (const char *p = in; p[0] && p[1] && o < size; p += 2) {
		char hex[3] = {p[0], p[1], 0};
		out[o++] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return o;
}

static int wait_readable(int fd, int ms)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	return poll(&pf, 1, ms);
}

/* Print what came back, as printable text. */
static void print_reply(const char *head, const uint8_t *buf, size_t n)
{
	printf("%s ", head);
	for (size_t i = 0; i < n && i < 80; i++)
		putchar(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '.');
	putchar('\n');
}

static int connected_tcp(const char *addr, const char *port, int *ret)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(addr, (uint16_t)strtoul(port, NULL, 10), &ss, &len) < 0) {
		printf("usage: bad address %s\n", addr);
		return 2;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_errno("socket");
	struct timeval tv = {.tv_sec = TIMEOUT_MS / 1000};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return fail_errno("connect");
	}
	*ret = fd;
	return 0;
}

/* Send, then read until the peer closes, a timeout, or a buffer full. */
static int exchange(int fd, const uint8_t *data, size_t n, const char *head)
{
	uint8_t buf[4096];
	size_t got = 0;
	if (n && send(fd, data, n, MSG_NOSIGNAL) != (ssize_t)n) {
		close(fd);
		return fail_errno("send");
	}
	while (got < sizeof(buf) && wait_readable(fd, TIMEOUT_MS) > 0) {
		ssize_t r = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (r <= 0) {
			if (r < 0 && got == 0) {
				close(fd);
				return fail_errno("recv");
			}
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (got == 0) {
		printf("error recv nothing\n");
		return 1;
	}
	/* An HTTP error status (the gateway's 403, 400, 502...) is a refusal,
	 * whoever sent it: the attempt did not get what it asked for. */
	if (got >= 12 && memcmp(buf, "HTTP/1.", 7) == 0 && buf[9] >= '4') {
		print_reply("refused", buf, got);
		return 1;
	}
	print_reply(head, buf, got);
	return 0;
}

/* ---- the attempts ----------------------------------------------------------- */

static int do_tcp(char **argv)
{
	int fd, r = connected_tcp(argv[0], argv[1], &fd);
	if (r)
		return r;
	uint8_t data[4096];
	size_t n = unescape(argv[2], data, sizeof(data));
	return exchange(fd, data, n, "reply");
}

static int do_udp(char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t data[4096], buf[4096];
	if (parse_addr(argv[0], (uint16_t)strtoul(argv[1], NULL, 10), &ss, &len) < 0)
		return 2;
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_errno("socket");
	size_t n = unescape(argv[2], data, sizeof(data));
	if (sendto(fd, data, n, 0, (struct sockaddr *)&ss, len) < 0)
		return fail_errno("sendto");
	if (wait_readable(fd, 1500) <= 0) {
		printf("error recv timeout\n");
		return 1;
	}
	ssize_t r = recv(fd, buf, sizeof(buf), 0);
	if (r < 0)
		return fail_errno("recv");
	print_reply("reply", buf, (size_t)r);
	return 0;
}

static int do_icmp(char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t pkt[256] = {0};
	if (parse_addr(argv[0], 0, &ss, &len) < 0)
		return 2;
	bool v6 = ss.ss_family == AF_INET6;
	int proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, proto);
	if (fd < 0)
		fd = socket(ss.ss_family, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return fail_errno("socket");
	pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	size_t n = 8 + unescape(argv[1], pkt + 8, sizeof(pkt) - 8);
	if (sendto(fd, pkt, n, 0, (struct sockaddr *)&ss, len) < 0)
		return fail_errno("sendto");
	if (wait_readable(fd, 1500) <= 0) {
		printf("error recv timeout\n");
		return 1;
	}
	printf("reply icmp\n");
	return 0;
}

static int do_raw(char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t data[512];
	if (parse_addr(argv[0], 0, &ss, &len) < 0)
		return 2;
	int fd = socket(ss.ss_family, SOCK_RAW | SOCK_CLOEXEC, (int)strtol(argv[1], NULL, 10));
	if (fd < 0)
		return fail_errno("socket");
	size_t n = unescape(argv[2], data, sizeof(data));
	if (sendto(fd, data, n, 0, (struct sockaddr *)&ss, len) < 0)
		return fail_errno("sendto");
	printf("sent raw\n");
	return 0;
}

static int do_packet(char **argv)
{
	uint8_t frame[64] = {0};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return fail_errno("socket");
	size_t n = 14 + unescape(argv[0], frame + 14, sizeof(frame) - 14);
	if (send(fd, frame, n, 0) < 0)
		return fail_errno("send");
	printf("sent frame\n");
	return 0;
}

/* ---- DNS ------------------------------------------------------------------ */

static int qtype(const char *t)
{
	static const struct {
		const char *name;
		int type;
	} types[] = {{"A", 1},     {"NULL", 10},  {"TXT", 16},
	             {"AAAA", 28}, {"HTTPS", 65}, {"ANY", 255}};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i].name) == 0)
			return types[i].type;
	return (int)strtol(t, NULL, 10);
}

/* A query: header, the name as labels (any bytes, any length up to 255 a
 * label: the point is to send what a real resolver would not), type, IN. */
static size_t build_query(const char *name, int type, uint8_t *out, size_t size)
{
	uint8_t raw[1024];
	size_t n = unescape(name, raw, sizeof(raw)), o = 12;
	memset(out, 0, 12);
	out[0] = 0x12;
	out[1] = 0x34;
	out[2] = 0x01; /* RD */
	out[5] = 1;    /* QDCOUNT */
	for (size_t start = 0; start <= n && o + 2 < size;) {
		size_t end = start;
		while (end < n && raw[end] != '.')
			end++;
		size_t ll = end - start;
		if (ll == 0)
			break;
		if (ll > 255)
			ll = 255;
		out[o++] = (uint8_t)ll;
		memcpy(out + o, raw + start, ll);
		o += ll;
		start = end + 1;
		if (end >= n)
			break;
	}
	out[o++] = 0;
	out[o++] = (uint8_t)(type >> 8);
	out[o++] = (uint8_t)type;
	out[o++] = 0;
	out[o++] = 1;
	return o;
}

/* Send a DNS message to SERVER over UDP or TCP; print the rcode and the
 * A/AAAA answers.  0 when an answer with records came back. */
static int dns_send(const char *server, const uint8_t *msg, size_t n, bool tcp)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t buf[65536];
	ssize_t r;
	if (parse_addr(server, 53, &ss, &len) < 0)
		return 2;
	int fd = socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_errno("socket");
	struct timeval tv = {.tv_sec = TIMEOUT_MS / 1000};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (tcp) {
		uint8_t framed[4096];
		if (n + 2 > sizeof(framed) || connect(fd, (struct sockaddr *)&ss, len) < 0)
			return fail_errno("connect");
		framed[0] = (uint8_t)(n >> 8);
		framed[1] = (uint8_t)n;
		memcpy(framed + 2, msg, n);
		if (send(fd, framed, n + 2, MSG_NOSIGNAL) != (ssize_t)(n + 2))
			return fail_errno("send");
	} else if (sendto(fd, msg, n, 0, (struct sockaddr *)&ss, len) < 0) {
		return fail_errno("sendto");
	}
	if (wait_readable(fd, TIMEOUT_MS) <= 0) {
		printf("error recv timeout\n");
		return 1;
	}
	r = recv(fd, buf, sizeof(buf), 0);
	if (r <= 0) {
		if (r == 0)
			printf("error recv closed\n");
		return r == 0 ? 1 : fail_errno("recv");
	}
	uint8_t *m = buf;
	if (tcp) {
		if (r < 2)
			return 1;
		m += 2;
		r -= 2;
	}
	if (r < 12) {
		printf("error short reply\n");
		return 1;
	}
	int rcode = m[3] & 0x0f, ancount = m[6] << 8 | m[7];
	printf("answer rcode=%d ancount=%d", rcode, ancount);
	/* Skip the question, then print the A/AAAA records. */
	size_t o = 12;
	while (o < (size_t)r && m[o] && (m[o] & 0xc0) == 0)
		o += (size_t)m[o] + 1;
	o += (o < (size_t)r && (m[o] & 0xc0)) ? 2 : 1;
	o += 4;
	for (int i = 0; i < ancount && o + 12 <= (size_t)r; i++) {
		while (o < (size_t)r && m[o] && (m[o] & 0xc0) == 0)
			o += (size_t)m[o] + 1;
		o += (o < (size_t)r && (m[o] & 0xc0)) ? 2 : 1;
		if (o + 10 > (size_t)r)
			break;
		int type = m[o] << 8 | m[o + 1], rdlen = m[o + 8] << 8 | m[o + 9];
		o += 10;
		char text[INET6_ADDRSTRLEN];
		if (o + (size_t)rdlen <= (size_t)r && (type == 1 || type == 28) &&
		    inet_ntop(type == 1 ? AF_INET : AF_INET6, m + o, text, sizeof(text)))
			printf(" %s", text);
		o += (size_t)rdlen;
	}
	putchar('\n');
	return rcode == 0 && ancount > 0 ? 0 : 1;
}

static int do_dns(int argc, char **argv)
{
	uint8_t msg[2048];
	size_t n = build_query(argv[1], qtype(argv[2]), msg, sizeof(msg));
	return dns_send(argv[0], msg, n, argc > 3 && strcmp(argv[3], "tcp") == 0);
}

static int do_dnswire(int argc, char **argv)
{
	uint8_t msg[4096];
	size_t n = unhex(argv[1], msg, sizeof(msg));
	return dns_send(argv[0], msg, n, argc > 2 && strcmp(argv[2], "tcp") == 0);
}

/* ---- HTTP, CONNECT, TLS ------------------------------------------------------ */

/* With PAD, a header of PAD bytes goes in before the head's last line
 * ending: an argument cannot be a megabyte long. */
static int do_http(int argc, char **argv)
{
	static uint8_t data[2 * 1024 * 1024];
	int fd, r = connected_tcp(argv[0], argv[1], &fd);
	if (r)
		return r;
	size_t n = unescape(argv[2], data, sizeof(data) / 2);
	size_t pad = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
	if (pad && n >= 2 && pad < sizeof(data) / 2 - 16) {
		n -= 2; /* the final \r\n */
		memcpy(data + n, "X-Pad: ", 7);
		memset(data + n + 7, 'a', pad);
		memcpy(data + n + 7 + pad, "\r\n\r\n", 4);
		n += 7 + pad + 4;
	}
	return exchange(fd, data, n, "reply");
}

static int do_connect(char **argv)
{
	char req[1024];
	int fd, r = connected_tcp(argv[0], argv[1], &fd);
	if (r)
		return r;
	int n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", argv[2],
	                 argv[2]);
	return exchange(fd, (const uint8_t *)req, (size_t)n, "reply");
}

/* A TLS 1.3-shaped ClientHello: random, one cipher suite, supported_versions,
 * SNI when given, and an encrypted_client_hello (0xfe0d) extension of
 * random-looking bytes for "ech". */
static size_t client_hello(const char *sni, bool ech, uint8_t *out, size_t size)
{
	uint8_t ext[1024];
	size_t e = 0;
	if (sni && strcmp(sni, "-") != 0) {
		size_t sl = strlen(sni);
		ext[e++] = 0x00, ext[e++] = 0x00; /* server_name */
		ext[e++] = (uint8_t)((sl + 5) >> 8), ext[e++] = (uint8_t)(sl + 5);
		ext[e++] = (uint8_t)((sl + 3) >> 8), ext[e++] = (uint8_t)(sl + 3);
		ext[e++] = 0x00;
		ext[e++] = (uint8_t)(sl >> 8), ext[e++] = (uint8_t)sl;
		memcpy(ext + e, sni, sl);
		e += sl;
	}
	static const uint8_t versions[] = {0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04};
	memcpy(ext + e, versions, sizeof(versions));
	e += sizeof(versions);
	if (ech) {
		ext[e++] = 0xfe, ext[e++] = 0x0d, ext[e++] = 0x00, ext[e++] = 0x40;
		for (int i = 0; i < 0x40; i++)
			ext[e++] = (uint8_t)(i * 37 + 11);
	}
	uint8_t body[2048];
	size_t b = 0;
	body[b++] = 0x03, body[b++] = 0x03; /* legacy_version */
	for (int i = 0; i < 32; i++)
		body[b++] = (uint8_t)(i * 7);
	body[b++] = 0; /* session id */
	body[b++] = 0x00, body[b++] = 0x02, body[b++] = 0x13,
	body[b++] = 0x01;                   /* TLS_AES_128_GCM */
	body[b++] = 0x01, body[b++] = 0x00; /* compression: null */
	body[b++] = (uint8_t)(e >> 8), body[b++] = (uint8_t)e;
	memcpy(body + b, ext, e);
	b += e;
	size_t o = 0;
	if (b + 9 > size)
		return 0;
	out[o++] = 0x16, out[o++] = 0x03, out[o++] = 0x01;
	out[o++] = (uint8_t)((b + 4) >> 8), out[o++] = (uint8_t)(b + 4);
	out[o++] = 0x01, out[o++] = 0x00, out[o++] = (uint8_t)(b >> 8), out[o++] = (uint8_t)b;
	memcpy(out + o, body, b);
	return o + b;
}

static int do_tls(int argc, char **argv)
{
	uint8_t hello[4096];
	int fd, r = connected_tcp(argv[0], argv[1], &fd);
	if (r)
		return r;
	size_t n = client_hello(argv[2], argc > 3 && strcmp(argv[3], "ech") == 0, hello,
	                        sizeof(hello));
	return exchange(fd, hello, n, "reply");
}

/* ---- tampering --------------------------------------------------------------- */

static int do_unix(char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[0]);
	int types[] = {SOCK_STREAM, SOCK_SEQPACKET};
	for (int i = 0; i < 2; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			printf("reached %s\n", argv[0]);
			return 0;
		}
		if (fd >= 0)
			close(fd);
	}
	return fail_errno("connect");
}

static int do_write(char **argv)
{
	int fd = open(argv[0], O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return fail_errno("open");
	size_t n = strlen(argv[1]);
	if (write(fd, argv[1], n) != (ssize_t)n)
		return fail_errno("write");
	close(fd);
	printf("written %s\n", argv[0]);
	return 0;
}

/* One batch: begin, delete table inet airlock (or add table inet escape),
 * end; the kernel's answer. */
static int do_nft(char **argv)
{
	bool add = argv[0] && strcmp(argv[0], "add") == 0;
	const char *table = add ? "escape" : "airlock";
	uint8_t buf[512] = {0};
	size_t o = 0;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return fail_errno("socket");
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail_errno("bind");
	struct {
		uint16_t type;
		uint8_t family;
		bool attr;
	} msgs[] = {{NFNL_MSG_BATCH_BEGIN, AF_UNSPEC, false},
	            {(NFNL_SUBSYS_NFTABLES << 8) | (add ? NFT_MSG_NEWTABLE : NFT_MSG_DELTABLE),
	             NFPROTO_INET, true},
	            {NFNL_MSG_BATCH_END, AF_UNSPEC, false}};
	/* Built with memcpy: the buffer holds bytes, not aligned structs. */
	for (int i = 0; i < 3; i++) {
		struct nlmsghdr nh = {
		        .nlmsg_type = msgs[i].type,
		        .nlmsg_flags = (uint16_t)(NLM_F_REQUEST | (msgs[i].attr ? NLM_F_ACK : 0)),
		        .nlmsg_seq = (uint32_t)(i + 1),
		};
		struct nfgenmsg g = {
		        .nfgen_family = msgs[i].family,
		        .version = NFNETLINK_V0,
		        .res_id = htons(i == 1 ? 0 : NFNL_SUBSYS_NFTABLES),
		};
		size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(g));
		memcpy(buf + o + NLMSG_HDRLEN, &g, sizeof(g));
		if (msgs[i].attr) {
			struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + strlen(table) + 1),
			                   .nla_type = NFTA_TABLE_NAME};
			memcpy(buf + o + len, &a, sizeof(a));
			memcpy(buf + o + len + NLA_HDRLEN, table, strlen(table) + 1);
			len += NLA_ALIGN(a.nla_len);
		}
		if (msgs[i].attr && add)
			nh.nlmsg_flags |= NLM_F_CREATE;
		nh.nlmsg_len = (uint32_t)len;
		memcpy(buf + o, &nh, sizeof(nh));
		o += NLMSG_ALIGN(len);
	}
	if (send(fd, buf, o, 0) < 0)
		return fail_errno("send");
	if (wait_readable(fd, TIMEOUT_MS) <= 0) {
		printf("error recv timeout\n");
		return 1;
	}
	ssize_t r = recv(fd, buf, sizeof(buf), 0);
	if (r < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return fail_errno("recv");
	struct nlmsgerr err;
	memcpy(&err, buf + NLMSG_HDRLEN, sizeof(err));
	if (err.error) {
		errno = -err.error;
		return fail_errno("nft");
	}
	printf("%s table inet %s\n", add ? "added" : "deleted", table);
	return 0;
}

/* ---- forged packets ---------------------------------------------------------- */

static uint16_t ip_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* IPv4 + UDP headers and `payload` into out; its length.  UDP's checksum is
 * left 0 (none, which IPv4 allows). */
static size_t build_udp4(uint8_t *out, size_t size, struct in_addr src, struct in_addr dst,
                         uint16_t sport, uint16_t dport, const uint8_t *payload, size_t len)
{
	struct iphdr ip = {0};
	struct udphdr udp = {0};
	size_t total = sizeof(ip) + sizeof(udp) + len;
	if (total > size)
		return 0;
	ip.version = 4;
	ip.ihl = 5;
	ip.ttl = 64;
	ip.protocol = IPPROTO_UDP;
	ip.tot_len = htons((uint16_t)total);
	ip.id = htons(0x4242);
	ip.saddr = src.s_addr;
	ip.daddr = dst.s_addr;
	ip.check = ip_checksum(&ip, sizeof(ip));
	udp.source = htons(sport);
	udp.dest = htons(dport);
	udp.len = htons((uint16_t)(sizeof(udp) + len));
	memcpy(out, &ip, sizeof(ip));
	memcpy(out + sizeof(ip), &udp, sizeof(udp));
	memcpy(out + sizeof(ip) + sizeof(udp), payload, len);
	return total;
}

static int do_spoof(char **argv)
{
	struct in_addr src, dst;
	uint8_t query[1024], pkt[1200];
	if (inet_pton(AF_INET, argv[0], &src) != 1 || inet_pton(AF_INET, argv[1], &dst) != 1)
		return 2;
	size_t qlen = build_query(argv[3], 1, query, sizeof(query));
	size_t n = build_udp4(pkt, sizeof(pkt), src, dst, 7, (uint16_t)strtol(argv[2], NULL, 10),
	                      query, qlen);
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		return fail_errno("socket");
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
	if (n == 0 || sendto(fd, pkt, n, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return fail_errno("sendto");
	printf("sent spoofed\n");
	return 0;
}

static int do_frame(char **argv)
{
	unsigned mac[6];
	struct in_addr dst;
	uint8_t data[256], frame[1514];
	if (sscanf(argv[0], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
	           &mac[5]) != 6 ||
	    inet_pton(AF_INET, argv[1], &dst) != 1)
		return 2;
	struct if_nameindex *all = if_nameindex(), *i;
	for (i = all; i && i->if_index && strcmp(i->if_name, "lo") == 0; i++)
		;
	if (!i || !i->if_index) {
		printf("error no interface\n");
		return 1;
	}
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (fd < 0)
		return fail_errno("socket");
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return fail_errno("SIOCGIFHWADDR");
	memcpy(frame + 6, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(udp, SIOCGIFADDR, &ifr) < 0)
		return fail_errno("SIOCGIFADDR");
	struct in_addr src = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr;
	for (int k = 0; k < 6; k++)
		frame[k] = (uint8_t)mac[k];
	frame[12] = 0x08; /* ETH_P_IP */
	frame[13] = 0x00;
	size_t len = unescape(argv[3], data, sizeof(data));
	size_t n = build_udp4(frame + 14, sizeof(frame) - 14, src, dst, 7,
	                      (uint16_t)strtol(argv[2], NULL, 10), data, len);
	struct sockaddr_ll ll = {.sll_family = AF_PACKET,
	                         .sll_protocol = htons(ETH_P_IP),
	                         .sll_ifindex = (int)i->if_index,
	                         .sll_halen = 6};
	memcpy(ll.sll_addr, frame, 6);
	if (sendto(fd, frame, 14 + n, 0, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return fail_errno("sendto");
	printf("sent frame on %s\n", i->if_name);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int args;
	} cmds[] = {{"tcp", 3},  {"udp", 3},     {"icmp", 2}, {"raw", 3},   {"packet", 1},
	            {"dns", 3},  {"dnswire", 2}, {"http", 3}, {"tls", 3},   {"connect", 3},
	            {"unix", 1}, {"write", 2},   {"nft", 0},  {"spoof", 4}, {"frame", 4}};
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		goto usage;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (argc - 2 < cmds[i].args)
			goto usage;
		char **a = argv + 2;
		int n = argc - 2;
		switch (i) {
		case 0:
			return do_tcp(a);
		case 1:
			return do_udp(a);
		case 2:
			return do_icmp(a);
		case 3:
			return do_raw(a);
		case 4:
			return do_packet(a);
		case 5:
			return do_dns(n, a);
		case 6:
			return do_dnswire(n, a);
		case 7:
			return do_http(n, a);
		case 8:
			return do_tls(n, a);
		case 9:
			return do_connect(a);
		case 10:
			return do_unix(a);
		case 11:
			return do_write(a);
		case 12:
			return do_nft(a);
		case 13:
			return do_spoof(a);
		case 14:
			return do_frame(a);
		}
	}
usage:
	fprintf(stderr,
	        "usage: attacker "
	        "tcp|udp|icmp|raw|packet|spoof|frame|dns|dnswire|http|tls|connect|unix|write|"
	        "nft ARGS "
	        "(see attacker.c)\n");
	return 2;
}
