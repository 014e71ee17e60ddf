#include "gateway/proxy_request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/relay.h"
#include "net/addr.h"

static bool append(uint8_t *out, size_t cap, size_t *len, const void *data, size_t n)
{
	if (n > cap - *len)
		return false;
	memcpy(out + *len, data, n);
	*len += n;
	return true;
}

/* Whether header line `name` is listed in a Connection header. */
static bool named_by_connection(const struct http_head *h, const uint8_t *b, const uint8_t *name,
                                size_t name_len)
{
	for (unsigned i = 0; i < h->n_headers; i++) {
		const struct http_header *ch = &h->headers[i];
		if (ch->kind != HTTP_HDR_CONNECTION)
			continue;
		const uint8_t *v = b + ch->value_off, *end = v + ch->value_len;
		while (v < end) {
			while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
				v++;
			const uint8_t *tok = v;
			while (v < end && *v != ',' && *v != ' ' && *v != '\t')
				v++;
			if ((size_t)(v - tok) == name_len &&
			    strncasecmp((const char *)tok, (const char *)name, name_len) == 0)
				return true;
		}
	}
	return false;
}

static bool forwarded(const struct http_head *h, const uint8_t *b, const struct http_header *hd)
{
	switch (hd->kind) {
	case HTTP_HDR_CONTENT_LENGTH:
	case HTTP_HDR_TRANSFER_ENCODING:
		return true; /* framing: never dropped, whatever Connection says */
	case HTTP_HDR_OTHER:
		return !named_by_connection(h, b, b + hd->line_off, hd->name_len);
	case HTTP_HDR_HOST: /* replaced by the canonical authority */
	case HTTP_HDR_CONNECTION:
	case HTTP_HDR_PROXY_CONNECTION:
	case HTTP_HDR_PROXY_AUTHORIZATION:
	case HTTP_HDR_KEEP_ALIVE:
	case HTTP_HDR_TE:
	case HTTP_HDR_TRAILER:
	case HTTP_HDR_UPGRADE:
	case HTTP_HDR_KIND_COUNT:
		break;
	}
	return false;
}

int proxy_request_build(const struct http_head *h, const uint8_t *b, size_t have, uint8_t **ret,
                        size_t *ret_len, uint64_t *ret_limit)
{
	size_t body = have - h->head_len;
	uint64_t limit;
	char line[NAME_BUF_SIZE + 64], ip[INET6_ADDRSTRLEN];

	if (h->chunked) {
		limit = RELAY_NO_LIMIT;
	} else if (h->has_content_length) {
		if (body > h->content_length)
			body = (size_t)h->content_length;
		limit = h->content_length - body;
	} else {
		body = 0; /* no body: pipelined bytes are not forwarded */
		limit = 0;
	}
	size_t cap = h->head_len + sizeof(line) + 64 + body, len = 0;
	uint8_t *out = malloc(cap);
	if (!out)
		return -ENOMEM;

	bool ok = append(out, cap, &len, b + h->method_off, h->method_len) &&
	          append(out, cap, &len, " ", 1);
	if (h->path_len == 0 || b[h->path_off] == '?')
		ok = ok && append(out, cap, &len, "/", 1);
	ok = ok && append(out, cap, &len, b + h->path_off, h->path_len);
	int n = snprintf(line, sizeof(line), " HTTP/1.%u\r\n", h->version_minor);
	ok = ok && append(out, cap, &len, line, (size_t)n);
	for (unsigned i = 0; ok && i < h->n_headers; i++)
		if (forwarded(h, b, &h->headers[i]))
			ok = append(out, cap, &len, b + h->headers[i].line_off,
			            h->headers[i].line_len);

	const struct target *t = &h->host;
	const char *host = t->name;
	if (t->is_addr) {
		struct addr a;
		if (t->family == 4)
			addr_from_ipv4(&a, t->addr, t->port);
		else
			addr_from_ipv6(&a, t->addr, t->port);
		addr_format_ip(&a, ip, sizeof(ip));
		host = ip;
	}
	const char *open = t->is_addr && t->family == 6 ? "[" : "";
	const char *close_ = t->is_addr && t->family == 6 ? "]" : "";
	n = t->port == 80 ? snprintf(line, sizeof(line), "Host: %s%s%s\r\n", open, host, close_)
	                  : snprintf(line, sizeof(line), "Host: %s%s%s:%u\r\n", open, host, close_,
	                             t->port);
	ok = ok && n > 0 && (size_t)n < sizeof(line) && append(out, cap, &len, line, (size_t)n);
	static const char tail[] = "Connection: close\r\n\r\n";
	ok = ok && append(out, cap, &len, tail, sizeof(tail) - 1);
	ok = ok && append(out, cap, &len, b + h->head_len, body);
	if (!ok) { /* cannot happen: cap counts every piece */
		free(out);
		return -ENOBUFS;
	}
	*ret = out;
	*ret_len = len;
	*ret_limit = limit;
	return 0;
}

void proxy_refusal_body(const struct proxy_refusal *r, char *body, size_t size)
{
	const struct target *t = r->target;
	const struct decision *dec = r->decision;
	bool addr_needs_cidr = r->addr_needs_cidr;
	char target[RULE_TEXT_SIZE];
	int o;

	target_format(t, target, sizeof(target));
	o = snprintf(body, size, "airlock: %s%s is blocked.\n", r->prefix ? r->prefix : "", target);
	if (o < 0 || (size_t)o >= size)
		return;
	body += o;
	size -= (size_t)o;
	if (addr_needs_cidr || (t->is_addr && dec->by == DECIDED_BY_DEFAULT)) {
		snprintf(body, size,
		         "Refused by: no CIDR rule allows this address (default); an IP address "
		         "is reachable only through a CIDR rule, whatever the default.\n"
		         "To allow it: add --allow %s, or a CIDR rule covering it in your "
		         "profile.\n",
		         target);
		return;
	}
	switch (dec->by) {
	case DECIDED_BY_RULE:
		snprintf(body, size,
		         "Refused by: rule %s (%s).\n"
		         "To allow it: remove that rule, or add a more specific one such as "
		         "--allow %s (the most specific rule wins; on a tie, block wins).\n",
		         r->rule, r->origin, target);
		break;
	case DECIDED_BY_DEFAULT:
		snprintf(body, size,
		         "Refused by: the default policy (default).\n"
		         "To allow it: add --allow %s (or --allow %s for every port), or that rule "
		         "in your profile.\n",
		         target, t->is_addr ? target : t->name);
		break;
	case DECIDED_BY_NO_NETWORK:
		snprintf(body, size,
		         "Refused by: the profile has no network (network = none).\n"
		         "To allow it: use a profile with network access.\n");
		break;
	}
}
