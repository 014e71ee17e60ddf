/* firewall_log.c - NFLOG packets into audit records (see firewall_log.h). */
#include "gateway/firewall_log.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "enforce/nflog.h"

struct firewall_log {
	struct loop *loop;
	int fd;
	firewall_record_fn *record;
	firewall_note_fn *note;
	void *ctx;
	uint64_t records, lost;
};

static void on_packet(void *ctx, const struct nflog_packet *p)
{
	struct firewall_log *f = ctx;
	struct audit_record r;
	char proto[32];
	enum audit_proto ap = AUDIT_PROTO_NONE;

	if (p->protocol == IPPROTO_TCP)
		ap = AUDIT_PROTO_TCP;
	else if (p->protocol == IPPROTO_UDP)
		ap = AUDIT_PROTO_UDP;
	else if (p->protocol == IPPROTO_ICMP || p->protocol == IPPROTO_ICMPV6)
		ap = AUDIT_PROTO_ICMP;
	audit_record_init(&r, AUDIT_EVENT_DECISION, ap);
	r.verdict = AUDIT_VERDICT_BLOCK;
	if (p->has_port)
		addr_format(&p->src, r.client, sizeof(r.client));
	else
		addr_format_ip(&p->src, r.client, sizeof(r.client));
	addr_format_ip(&p->dst, r.address, sizeof(r.address));
	if (p->has_port)
		r.port = addr_port(&p->dst);
	AUDIT_SET(&r, origin, "sandbox firewall");
	const char *name = nflog_protocol_name(p->protocol, proto, sizeof(proto));
	if (p->protocol == IPPROTO_UDP)
		AUDIT_SET(&r, detail, "dropped: UDP other than DNS never leaves the sandbox");
	else if (p->protocol == IPPROTO_TCP)
		AUDIT_SET(&r, detail, "dropped: TCP that no listener of the gateway takes");
	else if (p->icmp_type >= 0)
		AUDIT_SET(&r, detail, "dropped: %s type %d never leaves the sandbox", name,
		          p->icmp_type);
	else
		AUDIT_SET(&r, detail, "dropped: %s never leaves the sandbox", name);
	f->records++;
	f->record(f->ctx, &r);
}

static void read_some(struct firewall_log *f)
{
	static uint8_t buf[NFLOG_RECV_SIZE];

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {
			if (f->lost++ == 0 && f->note)
				f->note(f->ctx,
				        "the sandbox's firewall dropped packets faster than they "
				        "could be logged; they are counted, not all logged");
			continue;
		}
		if (n <= 0)
			return;
		nflog_parse(buf, (size_t)n, on_packet, f);
	}
}

static void on_readable(struct loop *loop, int fd, uint32_t events, void *data)
{
	(void)loop;
	(void)fd;
	(void)events;
	read_some(data);
}

int firewall_log_new(struct loop *loop, int fd, firewall_record_fn *record, firewall_note_fn *note,
                     void *ctx, struct firewall_log **ret)
{
	struct firewall_log *f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	*f = (struct firewall_log){loop, fd, record, note, ctx, 0, 0};
	int e = loop_add_fd(loop, fd, LOOP_READ, on_readable, f);
	if (e < 0) {
		firewall_log_free(f);
		return e;
	}
	*ret = f;
	return 0;
}

void firewall_log_drain(struct firewall_log *f)
{
	if (f)
		read_some(f);
}

uint64_t firewall_log_count(const struct firewall_log *f)
{
	return f ? f->records : 0;
}

void firewall_log_free(struct firewall_log *f)
{
	if (!f)
		return;
	(void)loop_del_fd(f->loop, f->fd);
	close(f->fd);
	free(f);
}
