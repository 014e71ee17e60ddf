#include "gateway/gateway.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/addrmap.h"
#include "net/sock.h"

/* How often expired name<->address pairs are swept. */
#define SWEEP_MS 30000

struct gateway {
	struct loop *loop;
	struct gateway_config config;
	struct policy_slot policy;
	struct addrmap *addrmap;
	struct log_writer *log;
	struct dns_service *dns;
	struct loop_timer *sweep;
};

void gateway_config_default(struct gateway_config *c)
{
	memset(c, 0, sizeof(*c));
	c->sandbox = "";
	dns_service_config_default(&c->dns);
	c->log_path = "/dev/stdout";
	c->log_max_bytes = 64ull * 1024 * 1024;
	c->log_keep = 5;
	c->addrmap_pairs = 65536;
	c->addrmap_grace_s = 600;
}

static void emit(void *ctx, const struct audit_record *r)
{
	struct gateway *g = ctx;
	/* A full queue drops the record; the writer notes the gap itself. */
	(void)log_writer_append(g->log, r);
}

void gateway_note(struct gateway *g, const char *fmt, ...)
{
	struct audit_record r;
	va_list ap;

	audit_record_init(&r, AUDIT_EVENT_NOTE, AUDIT_PROTO_NONE);
	snprintf(r.sandbox, sizeof(r.sandbox), "%s", g->config.sandbox);
	va_start(ap, fmt);
	vsnprintf(r.detail, sizeof(r.detail), fmt, ap);
	va_end(ap);
	emit(g, &r);
}

static void on_sweep(struct loop *loop, struct loop_timer *t, void *data)
{
	struct gateway *g = data;
	addrmap_expire(g->addrmap, loop_now_ms(loop));
	loop_timer_reset(t, SWEEP_MS);
}

/* Bind UDP and TCP on one address and hand both to the DNS service. */
static int listen_dns(struct gateway *g, const struct addr *a, struct diag *d)
{
	char text[ADDR_STR_MAX];
	int r;

	addr_format(a, text, sizeof(text));
	int udp = sock_bind_udp(a);
	if (udp < 0)
		return diag_fail(d, udp, "cannot listen for DNS on %s (UDP): %s", text,
		                 strerror(-udp));
	r = dns_service_add_udp(g->dns, udp);
	if (r < 0)
		return diag_fail(d, r, "cannot serve DNS on %s: %s", text, strerror(-r));
	int tcp = sock_listen_tcp(a, 128);
	if (tcp < 0)
		return diag_fail(d, tcp, "cannot listen for DNS on %s (TCP): %s", text,
		                 strerror(-tcp));
	r = dns_service_add_tcp(g->dns, tcp);
	if (r < 0)
		return diag_fail(d, r, "cannot serve DNS on %s: %s", text, strerror(-r));
	return 0;
}

int gateway_new(struct loop *loop, const struct gateway_config *c, struct policy *policy,
                struct gateway **ret, struct diag *d)
{
	_cleanup_(policy_unrefp) struct policy *owned = policy;
	_cleanup_(gateway_freep) struct gateway *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return diag_fail(d, -ENOMEM, "out of memory");
	g->loop = loop;
	g->config = *c;
	policy_slot_replace(&g->policy, TAKE_PTR(owned));
	g->addrmap = addrmap_new(c->addrmap_pairs, c->addrmap_grace_s);
	g->sweep = loop_timer_add(loop, SWEEP_MS, on_sweep, g);
	if (!g->addrmap || !g->sweep)
		return diag_fail(d, -ENOMEM, "out of memory");
	r = log_writer_open(c->log_path, c->log_max_bytes, c->log_keep, &g->log, d);
	if (r < 0)
		return r;

	struct dns_service_env env = {
	        .loop = loop,
	        .policy = &g->policy,
	        .addrmap = g->addrmap,
	        .sandbox = c->sandbox,
	        .emit = emit,
	        .emit_ctx = g,
	};
	if (c->n_dns_listen) {
		r = dns_service_new(&env, &c->dns, &g->dns, d);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_dns_listen; i++) {
		r = listen_dns(g, &c->dns_listen[i], d);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(g);
	return 0;
}

void gateway_free(struct gateway *g)
{
	if (!g)
		return;
	dns_service_free(g->dns);
	loop_timer_cancel(g->sweep);
	addrmap_free(g->addrmap);
	policy_slot_replace(&g->policy, NULL);
	log_writer_close(g->log, NULL);
	free(g);
}

void gateway_set_policy(struct gateway *g, struct policy *p, const char *why)
{
	size_t rules = policy_rule_count(p);
	policy_slot_replace(&g->policy, p);
	gateway_note(g, "policy replaced (%s): %zu rules", why, rules);
}

void gateway_dns_stats(const struct gateway *g, struct dns_stats *ret)
{
	if (g->dns)
		dns_service_stats(g->dns, ret);
	else
		memset(ret, 0, sizeof(*ret));
}
