#include "gateway/gateway.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dns/addrmap.h"
#include "gateway/control.h"
#include "gateway/firewall_log.h"
#include "gateway/relay.h"
#include "net/sock.h"

/* How often expired name<->address pairs are swept. */
#define SWEEP_MS 30000

struct runtime_rule {
	enum action action;
	struct rule rule;
	bool approved; /* an answer to a question (approvals.h), not the control socket's allow */
};

struct gateway {
	struct loop *loop;
	struct control_service *control;
	struct runtime_rule *runtime;
	size_t n_runtime;
	struct gateway_config config;
	struct policy_slot policy;
	struct addrmap *addrmap;
	struct log_writer *log;
	struct dns_service *dns;
	struct proxy_service *proxy;
	struct approvals *approvals;
	struct loop_timer *sweep;
	struct firewall_log *firewall;
};

void gateway_config_default(struct gateway_config *c)
{
	memset(c, 0, sizeof(*c));
	c->sandbox = "";
	dns_service_config_default(&c->dns);
	proxy_service_config_default(&c->proxy);
	c->log_path = "/dev/stdout";
	c->log_max_bytes = 64ull * 1024 * 1024;
	c->log_keep = 5;
	c->addrmap_pairs = 65536;
	c->addrmap_grace_s = 600;
	c->firewall_fd = -1;
	c->control_admin_uid = (uid_t)-1;
}

static void emit(void *ctx, const struct audit_record *r)
{
	struct gateway *g = ctx;
	/* A full queue drops the record; the writer notes the gap itself. */
	(void)log_writer_append(g->log, r);
}

void gateway_log(struct gateway *g, struct audit_record *r)
{
	snprintf(r->sandbox, sizeof(r->sandbox), "%s", g->config.sandbox);
	emit(g, r);
}

static void firewall_record(void *ctx, struct audit_record *r)
{
	gateway_log(ctx, r);
}

static void firewall_note(void *ctx, const char *note)
{
	gateway_note(ctx, "%s", note);
}

void gateway_drain_firewall(struct gateway *g)
{
	firewall_log_drain(g->firewall);
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

static control_handler on_control;
static void on_asked(void *ctx, const struct approval_question *q);
static int on_answered(void *ctx, const struct approval_question *q, enum approval_answer a,
                       struct diag *d);
static void on_settled(void *ctx, const struct approval_question *q, enum approval_answer a);

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

/* A TCP listener for the proxy. */
static int listen_proxy(struct gateway *g, const struct addr *a, struct diag *d)
{
	char text[ADDR_STR_MAX];

	addr_format(a, text, sizeof(text));
	int fd = sock_listen_tcp(a, 0);
	if (fd < 0)
		return diag_fail(d, fd, "cannot listen for the proxy on %s: %s", text,
		                 strerror(-fd));
	int r = proxy_service_add_listener(g->proxy, fd);
	if (r < 0)
		return diag_fail(d, r, "cannot serve the proxy on %s: %s", text, strerror(-r));
	return 0;
}

/* A TCP listener for redirected flows. */
static int listen_transparent(struct gateway *g, const struct addr *a, struct diag *d)
{
	char text[ADDR_STR_MAX];

	addr_format(a, text, sizeof(text));
	int fd = sock_listen_tcp(a, 0);
	if (fd < 0)
		return diag_fail(d, fd, "cannot listen for redirected flows on %s: %s", text,
		                 strerror(-fd));
	int r = proxy_service_add_transparent_listener(g->proxy, fd);
	if (r < 0)
		return diag_fail(d, r, "cannot serve redirected flows on %s: %s", text,
		                 strerror(-r));
	return 0;
}

/* Does the configuration ask for this service, by address or by socket? */
static bool wants(const struct gateway_config *c, enum gateway_service service)
{
	for (size_t i = 0; i < c->n_sockets; i++)
		if (c->sockets[i].service == service)
			return true;
	return false;
}

static int start_dns(struct gateway *g, struct diag *d)
{
	const struct gateway_config *c = &g->config;
	if (!c->n_dns_listen && !wants(c, GATEWAY_DNS_UDP) && !wants(c, GATEWAY_DNS_TCP))
		return 0;
	struct dns_service_env env = {
	        .loop = g->loop,
	        .policy = &g->policy,
	        .addrmap = g->addrmap,
	        .sandbox = c->sandbox,
	        .emit = emit,
	        .emit_ctx = g,
	        .approvals = g->approvals,
	};
	return dns_service_new(&env, &c->dns, &g->dns, d);
}

/* Descriptors the process may open (RLIMIT_NOFILE's soft limit). */
static unsigned long long fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return ULLONG_MAX;
	return (unsigned long long)rl.rlim_cur;
}

/* The proxy connections the descriptor limit pays for: two each (client and
 * server; relays take pipes only below the last RELAY_FD_RESERVE, relay.h),
 * after FD_RESERVE kept for DNS (its upstream queries), the log and the
 * listeners.  Without this, proxy clients holding every descriptor would
 * starve DNS of the sockets its answers need. */
#define FD_RESERVE (RELAY_FD_RESERVE + 48)
static size_t proxy_budget(size_t wanted)
{
	unsigned long long limit = fd_limit();
	if (limit == ULLONG_MAX || limit >= (unsigned long long)wanted * 2 + FD_RESERVE)
		return wanted;
	unsigned long long room = limit > FD_RESERVE + 2 ? (limit - FD_RESERVE) / 2 : 1;
	return room < wanted ? (size_t)room : wanted;
}

static int start_proxy(struct gateway *g, struct diag *d)
{
	const struct gateway_config *c = &g->config;
	if (!c->n_proxy_listen && !wants(c, GATEWAY_PROXY) && !c->n_transparent_listen &&
	    !wants(c, GATEWAY_TRANSPARENT))
		return 0;
	struct proxy_service_env env = {
	        .loop = g->loop,
	        .policy = &g->policy,
	        .addrmap = g->addrmap,
	        .sandbox = c->sandbox,
	        .emit = emit,
	        .emit_ctx = g,
	        .approvals = g->approvals,
	};
	struct proxy_service_config pc = c->proxy;
	pc.upstream = c->dns.upstream;
	size_t budget = proxy_budget(pc.max_clients);
	if (budget < pc.max_clients) {
		gateway_note(g,
		             "proxy connections capped at %zu (not %zu): the process may open only "
		             "%llu descriptors, and DNS must keep some",
		             budget, pc.max_clients, (unsigned long long)fd_limit());
		pc.max_clients = budget;
	}
	return proxy_service_new(&env, &pc, &g->proxy, d);
}

/* Serve a socket bound elsewhere; takes the fd. */
static int serve_socket(struct gateway *g, const struct gateway_socket *s, struct diag *d)
{
	const char *what = "?";
	int r = -EINVAL;

	switch (s->service) {
	case GATEWAY_DNS_UDP:
		what = "DNS (UDP)";
		r = dns_service_add_udp(g->dns, s->fd);
		break;
	case GATEWAY_DNS_TCP:
		what = "DNS (TCP)";
		r = dns_service_add_tcp(g->dns, s->fd);
		break;
	case GATEWAY_PROXY:
		what = "the proxy";
		r = proxy_service_add_listener(g->proxy, s->fd);
		break;
	case GATEWAY_TRANSPARENT:
		what = "transparent interception";
		r = proxy_service_add_transparent_listener(g->proxy, s->fd);
		break;
	}
	if (r < 0)
		return diag_fail(d, r, "cannot serve %s on a socket handed over (fd %d): %s", what,
		                 s->fd, strerror(-r));
	return 0;
}

int gateway_new(struct loop *loop, const struct gateway_config *c, struct policy *policy,
                struct gateway **ret, struct diag *d)
{
	_cleanup_(policy_unrefp) struct policy *owned = policy;
	_cleanup_(gateway_freep) struct gateway *g = calloc(1, sizeof(*g));
	int r;

	if (!g) {
		for (size_t i = 0; i < c->n_sockets; i++)
			close(c->sockets[i].fd);
		if (c->firewall_fd >= 0)
			close(c->firewall_fd);
		return diag_fail(d, -ENOMEM, "out of memory");
	}
	g->loop = loop;
	g->config = *c; /* gateway_free closes the sockets not yet served */
	policy_slot_replace(&g->policy, TAKE_PTR(owned));
	g->addrmap = addrmap_new(c->addrmap_pairs, c->addrmap_grace_s);
	g->sweep = loop_timer_add(loop, SWEEP_MS, on_sweep, g);
	if (!g->addrmap || !g->sweep)
		return diag_fail(d, -ENOMEM, "out of memory");
	int firewall_fd = TAKE_FD(g->config.firewall_fd);
	r = log_writer_open(c->log_path, c->log_max_bytes, c->log_keep, &g->log, d);
	if (r < 0) {
		if (firewall_fd >= 0)
			close(firewall_fd);
		return r;
	}
	if (firewall_fd >= 0) {
		r = firewall_log_new(loop, firewall_fd, firewall_record, firewall_note, g,
		                     &g->firewall);
		if (r < 0)
			return diag_fail(d, r, "cannot read the firewall's log: %s", strerror(-r));
	}
	if (c->ask) {
		struct approvals_owner owner = {
		        .asked = on_asked,
		        .answered = on_answered,
		        .settled = on_settled,
		        .ctx = g,
		};
		g->approvals = approvals_new(loop, &c->approvals, &owner);
		if (!g->approvals)
			return diag_fail(d, -ENOMEM, "out of memory");
	}

	r = start_dns(g, d);
	if (r < 0)
		return r;
	r = start_proxy(g, d);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n_dns_listen; i++) {
		r = listen_dns(g, &c->dns_listen[i], d);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_proxy_listen; i++) {
		r = listen_proxy(g, &c->proxy_listen[i], d);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_transparent_listen; i++) {
		r = listen_transparent(g, &c->transparent_listen[i], d);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_sockets; i++) {
		r = serve_socket(g, &g->config.sockets[i], d);
		g->config.sockets[i].fd = -1; /* taken, whatever happened */
		if (r < 0)
			return r;
	}
	if (c->control_path) {
		int fd;
		r = control_listen(c->control_path, &fd, d);
		if (r < 0)
			return r;
		r = control_service_new(loop, fd, on_control, g, &g->control);
		if (r < 0)
			return diag_fail(d, r, "cannot serve the control socket: %s", strerror(-r));
		if (c->control_admin_uid != (uid_t)-1)
			control_service_allow(g->control, c->control_admin_uid);
	}
	*ret = TAKE_PTR(g);
	return 0;
}

void gateway_free(struct gateway *g)
{
	if (!g)
		return;
	control_service_free(g->control);
	if (g->config.control_path && g->control)
		unlink(g->config.control_path);
	free(g->runtime);
	for (size_t i = 0; i < g->config.n_sockets; i++)
		if (g->config.sockets[i].fd >= 0)
			close(g->config.sockets[i].fd);
	/* The services first: their held requests leave the approvals. */
	dns_service_free(g->dns);
	proxy_service_free(g->proxy);
	approvals_free(g->approvals);
	firewall_log_free(g->firewall);
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
	/* On the swap itself: a `block` ends the flows it refuses now, not at
	 * their next byte or idle timeout. */
	if (g->proxy)
		proxy_service_policy_changed(g->proxy, why);
}

/* ---- runtime rules and the control socket ------------------------------ */

int gateway_reload(struct gateway *g, const char *why, struct diag *d)
{
	_cleanup_(policy_builder_freep) struct policy_builder *b = NULL;
	struct policy *p = NULL;
	uint32_t origin;
	int r;

	if (!g->config.load_policy)
		return diag_fail(d, -EOPNOTSUPP, "this gateway has a fixed policy");
	b = policy_builder_new();
	if (!b)
		return diag_fail(d, -ENOMEM, "out of memory");
	r = g->config.load_policy(g->config.load_policy_ctx, b, d);
	if (r < 0)
		return r;
	uint32_t approved;
	r = policy_builder_origin(b, "runtime (control socket)", &origin);
	if (r == 0)
		r = policy_builder_origin(b, "approved at run time", &approved);
	for (size_t i = 0; r == 0 && i < g->n_runtime; i++) {
		(void)policy_builder_remove(b, &g->runtime[i].rule); /* runtime wins */
		r = policy_builder_add(b, g->runtime[i].action, &g->runtime[i].rule,
		                       g->runtime[i].approved ? approved : origin, 0);
	}
	if (r < 0)
		return diag_fail(d, r, "cannot add the runtime rules: %s", strerror(-r));
	r = policy_compile(TAKE_PTR(b), &p, d);
	if (r < 0)
		return r;
	gateway_set_policy(g, p, why);
	return 0;
}

static ssize_t find_runtime(const struct gateway *g, const struct rule *r)
{
	for (size_t i = 0; i < g->n_runtime; i++)
		if (rule_equal(&g->runtime[i].rule, r))
			return (ssize_t)i;
	return -1;
}

/* Log a runtime change as a control record. */
static void log_change(struct gateway *g, enum control_cmd cmd, const char *text)
{
	struct audit_record r;
	audit_record_init(&r, AUDIT_EVENT_DECISION, AUDIT_PROTO_CONTROL);
	snprintf(r.sandbox, sizeof(r.sandbox), "%s", g->config.sandbox);
	r.verdict = cmd == CONTROL_ALLOW   ? AUDIT_VERDICT_ALLOW
	            : cmd == CONTROL_BLOCK ? AUDIT_VERDICT_BLOCK
	                                   : AUDIT_VERDICT_NONE;
	AUDIT_SET(&r, rule, "%s", text);
	AUDIT_SET(&r, origin, "control socket");
	AUDIT_SET(&r, detail, "%s",
	          cmd == CONTROL_ALLOW   ? "allow"
	          : cmd == CONTROL_BLOCK ? "block"
	          : cmd == CONTROL_RESET ? "reset"
	                                 : "unallow");
	emit(g, &r);
}

static int status(struct gateway *g, char *out, size_t size)
{
	struct policy *p = policy_slot_acquire(&g->policy);
	struct dns_stats st;
	struct proxy_stats ps;
	char text[RULE_TEXT_SIZE];
	size_t o = 0;

	gateway_dns_stats(g, &st);
	gateway_proxy_stats(g, &ps);
	o += (size_t)snprintf(out + o, size - o,
	                      "sandbox %s\nrules %zu\ndefault %s\nnetwork %s\nruntime rules %zu\n"
	                      "dns queries %llu forwarded %llu cached %llu refused %llu "
	                      "servfail %llu rate-limited %llu\n",
	                      g->config.sandbox[0] ? g->config.sandbox : "-", policy_rule_count(p),
	                      policy_default(p) == ACTION_ALLOW ? "allow" : "block",
	                      policy_network_none(p) ? "none" : "on", g->n_runtime,
	                      (unsigned long long)st.queries, (unsigned long long)st.forwarded,
	                      (unsigned long long)st.cached, (unsigned long long)st.refused,
	                      (unsigned long long)st.servfail, (unsigned long long)st.rate_limited);
	if (g->proxy && o < size)
		o += (size_t)snprintf(
		        out + o, size - o,
		        "proxy connections %zu allowed %llu blocked %llu bad %llu "
		        "failed %llu at-cap %llu transparent %llu sni-refused %llu "
		        "closed-by-policy %llu\n",
		        ps.active, (unsigned long long)ps.allowed, (unsigned long long)ps.blocked,
		        (unsigned long long)ps.bad, (unsigned long long)ps.failed,
		        (unsigned long long)ps.cap_refused, (unsigned long long)ps.transparent,
		        (unsigned long long)ps.sni_refused, (unsigned long long)ps.policy_closed);
	if (o < size)
		o += (size_t)snprintf(out + o, size - o, "firewall dropped %llu\n",
		                      (unsigned long long)firewall_log_count(g->firewall));
	for (size_t i = 0; i < g->n_runtime && o < size; i++) {
		rule_format(&g->runtime[i].rule, text, sizeof(text));
		o += (size_t)snprintf(out + o, size - o, "  %s %s\n",
		                      g->runtime[i].action == ACTION_ALLOW ? "allow" : "block",
		                      text);
	}
	policy_unref(p);
	return 0;
}

/* ---- approvals ------------------------------------------------------------ */

static void question_text(const struct approval_question *q, char *buf, size_t size)
{
	if (q->port)
		snprintf(buf, size, "%s:%u", q->name, q->port);
	else
		snprintf(buf, size, "%s", q->name);
}

static void on_asked(void *ctx, const struct approval_question *q)
{
	struct gateway *g = ctx;
	char text[NAME_BUF_SIZE + 8];

	question_text(q, text, sizeof(text));
	gateway_note(g, "question %u: %s (%s from %s) held for an answer", q->id, text,
	             audit_proto_name(q->proto) ?: "-", q->client);
	if (g->config.ask_prompt)
		g->config.ask_prompt(g->config.ask_ctx, q);
}

/* Make the policy allow what the question asks: a runtime rule for this
 * run, or the sandbox's rule file for every run. */
static int on_answered(void *ctx, const struct approval_question *q, enum approval_answer a,
                       struct diag *d)
{
	struct gateway *g = ctx;
	char text[NAME_BUF_SIZE + 8], why[NAME_BUF_SIZE + 64];
	struct rule rule;
	int r;

	question_text(q, text, sizeof(text));
	r = rule_parse(text, strlen(text), &rule, d);
	if (r < 0)
		return r;
	snprintf(why, sizeof(why), "approved %s (question %u)", text, q->id);
	if (a == APPROVAL_ALWAYS && g->config.ask_keep) {
		r = g->config.ask_keep(g->config.ask_ctx, text, d);
		if (r == 0)
			r = gateway_reload(g, why, d);
	} else {
		ssize_t at = find_runtime(g, &rule);
		if (at >= 0) {
			g->runtime[at].action = ACTION_ALLOW;
			g->runtime[at].approved = true;
		} else {
			if (g->n_runtime == GATEWAY_MAX_RUNTIME)
				return diag_fail(d, -E2BIG, "already %d runtime rules",
				                 GATEWAY_MAX_RUNTIME);
			struct runtime_rule *rt =
			        reallocarray(g->runtime, g->n_runtime + 1, sizeof(*g->runtime));
			if (!rt)
				return diag_fail(d, -ENOMEM, "out of memory");
			g->runtime = rt;
			g->runtime[g->n_runtime++] =
			        (struct runtime_rule){ACTION_ALLOW, rule, true};
		}
		r = gateway_reload(g, why, d);
		if (r < 0 && at < 0)
			g->n_runtime--;
	}
	if (r == 0) {
		struct audit_record rec;
		audit_record_init(&rec, AUDIT_EVENT_DECISION, AUDIT_PROTO_CONTROL);
		snprintf(rec.sandbox, sizeof(rec.sandbox), "%s", g->config.sandbox);
		rec.verdict = AUDIT_VERDICT_ALLOW;
		AUDIT_SET(&rec, rule, "%s", text);
		AUDIT_SET(&rec, origin, "question %u", q->id);
		AUDIT_SET(&rec, detail, "%s", approval_answer_text(a));
		emit(g, &rec);
	}
	return r;
}

static void on_settled(void *ctx, const struct approval_question *q, enum approval_answer a)
{
	struct gateway *g = ctx;
	if (a == APPROVAL_TIMEOUT)
		gateway_note(g, "question %u: no answer in time, refused", q->id);
	if (g->config.ask_settled)
		g->config.ask_settled(g->config.ask_ctx, q, a);
}

int gateway_answer(struct gateway *g, unsigned id, enum approval_answer a, struct diag *d)
{
	if (!g->approvals)
		return diag_fail(d, -EOPNOTSUPP,
		                 "this sandbox asks nothing: start it with --ask to be asked");
	int r = approvals_answer(g->approvals, id, a, d);
	if (r == 0 && a == APPROVAL_DENY)
		gateway_note(g, "question %u: denied", id);
	return r;
}

static int on_control(void *ctx, const struct control_request *req, char *out, size_t size,
                      struct diag *d)
{
	struct gateway *g = ctx;
	struct runtime_rule saved_one = {0};
	struct runtime_rule *saved_all = NULL;
	size_t saved_n = g->n_runtime;
	struct rule rule;
	char text[RULE_TEXT_SIZE] = "";
	ssize_t at = -1;
	int r;

	if (req->cmd == CONTROL_STATUS)
		return status(g, out, size);
	if (req->cmd == CONTROL_PENDING) {
		if (!g->approvals)
			return diag_fail(
			        d, -EOPNOTSUPP,
			        "this sandbox asks nothing: start it with --ask to be asked");
		approvals_list(g->approvals, out, size);
		return 0;
	}
	if (req->cmd == CONTROL_APPROVE || req->cmd == CONTROL_DENY) {
		enum approval_answer a = req->cmd == CONTROL_DENY ? APPROVAL_DENY
		                         : req->always            ? APPROVAL_ALWAYS
		                                                  : APPROVAL_ONCE;
		r = gateway_answer(g, req->id, a, d);
		if (r == 0)
			snprintf(out, size, "question %u: %s", req->id, approval_answer_text(a));
		return r;
	}
	if (req->cmd == CONTROL_RELOAD) {
		r = gateway_reload(g, "reload: control socket", d);
		if (r == 0)
			snprintf(out, size, "reloaded");
		return r;
	}
	if (req->arg_len) {
		r = rule_parse(req->arg, req->arg_len, &rule, d);
		if (r < 0)
			return r;
		rule_format(&rule, text, sizeof(text));
		at = find_runtime(g, &rule);
	}
	switch (req->cmd) {
	case CONTROL_ALLOW:
	case CONTROL_BLOCK: {
		enum action action = req->cmd == CONTROL_ALLOW ? ACTION_ALLOW : ACTION_BLOCK;
		if (at >= 0) {
			saved_one = g->runtime[at];
			g->runtime[at].action = action;
			break;
		}
		if (g->n_runtime == GATEWAY_MAX_RUNTIME)
			return diag_fail(d, -E2BIG, "already %d runtime rules",
			                 GATEWAY_MAX_RUNTIME);
		struct runtime_rule *rt =
		        reallocarray(g->runtime, g->n_runtime + 1, sizeof(*g->runtime));
		if (!rt)
			return diag_fail(d, -ENOMEM, "out of memory");
		g->runtime = rt;
		g->runtime[g->n_runtime++] = (struct runtime_rule){action, rule, false};
		break;
	}
	case CONTROL_UNALLOW:
		if (at < 0)
			return diag_fail(d, -ENOENT,
			                 "%s is not a runtime rule (`status` lists them)", text);
		saved_one = g->runtime[at];
		g->runtime[at] = g->runtime[--g->n_runtime];
		break;
	case CONTROL_RESET:
		saved_all = g->runtime;
		g->runtime = NULL;
		g->n_runtime = 0;
		break;
	case CONTROL_STATUS:
	case CONTROL_RELOAD:
	case CONTROL_PENDING:
	case CONTROL_APPROVE:
	case CONTROL_DENY:
		break;
	}

	/* The change itself is the reason the records of flows it closes give. */
	char why[RULE_TEXT_SIZE + 16];
	snprintf(why, sizeof(why), "%s%s%s",
	         req->cmd == CONTROL_ALLOW   ? "allow"
	         : req->cmd == CONTROL_BLOCK ? "block"
	         : req->cmd == CONTROL_RESET ? "reset"
	                                     : "unallow",
	         text[0] ? " " : "", text);
	r = gateway_reload(g, why, d);
	if (r < 0) {
		/* Put the rules back as they were: the old policy is still in force. */
		if (req->cmd == CONTROL_RESET) {
			g->runtime = saved_all;
			g->n_runtime = saved_n;
		} else if (req->cmd == CONTROL_UNALLOW) {
			g->runtime[g->n_runtime++] = saved_one;
		} else if (at >= 0) {
			g->runtime[at] = saved_one;
		} else {
			g->n_runtime--;
		}
		return r;
	}
	free(saved_all);
	log_change(g, req->cmd, text);
	if (req->cmd == CONTROL_RESET)
		snprintf(out, size, "%zu runtime rules removed", saved_n);
	else
		snprintf(out, size, "%s %s",
		         req->cmd == CONTROL_ALLOW   ? "allowed"
		         : req->cmd == CONTROL_BLOCK ? "blocked"
		                                     : "removed",
		         text);
	return 0;
}

void gateway_dns_stats(const struct gateway *g, struct dns_stats *ret)
{
	if (g->dns)
		dns_service_stats(g->dns, ret);
	else
		memset(ret, 0, sizeof(*ret));
}

void gateway_proxy_stats(const struct gateway *g, struct proxy_stats *ret)
{
	if (g->proxy)
		proxy_service_stats(g->proxy, ret);
	else
		memset(ret, 0, sizeof(*ret));
}
