/* Rendering audit records for people, the blocked-names summary, and
 * following a growing log. */
#include "log/render.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COLOR_RED   "\033[31m"
#define COLOR_GREEN "\033[32m"
#define COLOR_RESET "\033[0m"

#define VERDICT_WIDTH 5 /* allow block close note */
#define PROTO_WIDTH   7 /* connect control */

/* ---- cells ---- */

struct sb {
	char *buf;
	size_t size, len;
};

static void sb_printf(struct sb *b, const char *fmt, ...) _printf_(2, 3);
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	if (b->len + 1 >= b->size)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(b->buf + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n < b->size - b->len ? (size_t)n : b->size - b->len - 1;
}

static void sb_escape(struct sb *b, const char *bytes, size_t len)
{
	if (b->len + 1 >= b->size)
		return;
	b->len += render_escape(bytes, len, b->buf + b->len, b->size - b->len);
}

size_t render_escape(const char *bytes, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)bytes[i];
		size_t need = c >= 0x20 && c < 0x7f ? (c == '\\' ? 2 : 1) : 4;
		if (o + need >= size)
			break;
		if (need == 1) {
			out[o++] = (char)c;
		} else if (need == 2) {
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

struct cells {
	char time[40];
	const char *verdict, *proto;
	char sandbox[AUDIT_SANDBOX_SIZE * 4];
	char target[AUDIT_NAME_SIZE * 4 + AUDIT_QTYPE_SIZE * 4 + 16];
	char rule[(AUDIT_RULE_SIZE + AUDIT_ORIGIN_SIZE) * 4 + 8];
	char detail[AUDIT_DETAIL_SIZE * 4 + 128];
};

static void format_time(enum render_time mode, int64_t ms, char *buf, size_t size)
{
	int64_t sec = ms / 1000, frac = ms % 1000;
	struct tm tm;

	if (mode == RENDER_TIME_UTC) {
		char t[AUDIT_TIME_SIZE];
		audit_format_time(ms, t);
		snprintf(buf, size, "%s", t);
		return;
	}
	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	time_t tt = (time_t)sec;
	if (!localtime_r(&tt, &tm)) {
		snprintf(buf, size, "?");
		return;
	}
	if (mode == RENDER_TIME_FULL)
		snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	else
		snprintf(buf, size, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void format_bytes(struct sb *b, uint64_t n)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (n < 1024) {
		sb_printf(b, "%lluB", (unsigned long long)n);
		return;
	}
	double v = (double)n / 1024;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	sb_printf(b, "%.1f%s", v, units[u]);
}

static void format_duration(struct sb *b, uint64_t ms)
{
	if (ms < 1000)
		sb_printf(b, "%llums", (unsigned long long)ms);
	else if (ms < 60000)
		sb_printf(b, "%.1fs", (double)ms / 1000);
	else
		sb_printf(b, "%llum%02llus", (unsigned long long)(ms / 60000),
		          (unsigned long long)(ms / 1000 % 60));
}

static void make_cells(const struct render_options *o, const struct audit_record *r,
                       struct cells *c)
{
	struct sb b;

	format_time(o->time, r->time_ms, c->time, sizeof(c->time));
	switch (r->event) {
	case AUDIT_EVENT_DECISION:
		c->verdict = r->verdict == AUDIT_VERDICT_ALLOW   ? "allow"
		             : r->verdict == AUDIT_VERDICT_BLOCK ? "block"
		                                                 : "-";
		break;
	case AUDIT_EVENT_CLOSE:
		c->verdict = "close";
		break;
	default:
		c->verdict = "note";
		break;
	}
	c->proto = audit_proto_name(r->proto);
	if (!c->proto || !*c->proto)
		c->proto = "-";
	render_escape(r->sandbox, strnlen(r->sandbox, sizeof(r->sandbox)), c->sandbox,
	              sizeof(c->sandbox));

	b = (struct sb){c->target, sizeof(c->target), 0};
	c->target[0] = '\0';
	size_t name_len = r->name_len < sizeof(r->name) ? r->name_len : sizeof(r->name) - 1;
	if (name_len) {
		sb_escape(&b, r->name, name_len);
		if (r->port)
			sb_printf(&b, ":%u", r->port);
	} else if (r->address[0]) {
		bool v6 = strchr(r->address, ':') != NULL;
		if (r->port && v6)
			sb_printf(&b, "[");
		sb_escape(&b, r->address, strnlen(r->address, sizeof(r->address)));
		if (r->port)
			sb_printf(&b, v6 ? "]:%u" : ":%u", r->port);
	} else if (r->port) {
		sb_printf(&b, ":%u", r->port);
	}
	if (r->qtype[0]) {
		sb_printf(&b, b.len ? " " : "");
		sb_escape(&b, r->qtype, strnlen(r->qtype, sizeof(r->qtype)));
	}

	b = (struct sb){c->rule, sizeof(c->rule), 0};
	c->rule[0] = '\0';
	if (r->rule[0]) {
		sb_escape(&b, r->rule, strnlen(r->rule, sizeof(r->rule)));
		if (r->origin[0]) {
			sb_printf(&b, " (");
			sb_escape(&b, r->origin, strnlen(r->origin, sizeof(r->origin)));
			sb_printf(&b, ")");
		}
	} else {
		sb_escape(&b, r->origin, strnlen(r->origin, sizeof(r->origin)));
	}

	b = (struct sb){c->detail, sizeof(c->detail), 0};
	c->detail[0] = '\0';
	if (r->event == AUDIT_EVENT_CLOSE) {
		sb_printf(&b, "up ");
		format_bytes(&b, r->bytes_up);
		sb_printf(&b, " down ");
		format_bytes(&b, r->bytes_down);
		sb_printf(&b, " ");
		format_duration(&b, r->duration_ms);
		if (r->detail[0])
			sb_printf(&b, "; ");
	}
	sb_escape(&b, r->detail, strnlen(r->detail, sizeof(r->detail)));
}

/* ---- lines ---- */

bool render_match(const struct render_options *o, const struct audit_record *r)
{
	if (r->event == AUDIT_EVENT_NOTE && !r->sandbox[0])
		return true; /* about the log itself */
	if (o->sandbox && strcmp(o->sandbox, r->sandbox) != 0)
		return false;
	if (o->blocked_only && r->verdict != AUDIT_VERDICT_BLOCK)
		return false;
	return true;
}

void render_widths_init(struct render_widths *w, bool stream)
{
	w->sandbox = stream ? 12 : 0;
	w->target = stream ? 32 : 0;
	w->rule = stream ? 32 : 0;
}

static int max_int(int a, size_t b)
{
	return (size_t)a > b ? a : (int)b;
}

void render_widths_fit(struct render_widths *w, const struct render_options *o,
                       const struct audit_record *r)
{
	struct cells *c = malloc(sizeof(*c));
	if (!c)
		return; /* the columns just will not line up */
	make_cells(o, r, c);
	w->sandbox = max_int(w->sandbox, strlen(c->sandbox));
	w->target = max_int(w->target, strlen(c->target));
	w->rule = max_int(w->rule, strlen(c->rule));
	free(c);
}

void render_record(FILE *out, const struct render_options *o, const struct render_widths *w,
                   const struct audit_record *r)
{
	struct cells *c = malloc(sizeof(*c));
	const char *cols[6];
	int widths[6];
	size_t n = 0;

	if (!c) {
		fputs("(out of memory)\n", out);
		return;
	}
	make_cells(o, r, c);
	cols[n] = c->proto;
	widths[n++] = PROTO_WIDTH;
	if (o->show_sandbox) {
		cols[n] = c->sandbox;
		widths[n++] = w->sandbox;
	}
	cols[n] = c->target;
	widths[n++] = w->target;
	cols[n] = c->rule;
	widths[n++] = w->rule;
	cols[n] = c->detail;
	widths[n++] = 0;
	while (n > 0 && !cols[n - 1][0]) /* no trailing spaces */
		n--;

	fputs(c->time, out);
	fputs("  ", out);
	const char *color = !o->color                      ? NULL
	                    : !strcmp(c->verdict, "block") ? COLOR_RED
	                    : !strcmp(c->verdict, "allow") ? COLOR_GREEN
	                                                   : NULL;
	if (color)
		fprintf(out, "%s%s%s", color, c->verdict, COLOR_RESET);
	else
		fputs(c->verdict, out);
	if (n > 0)
		fprintf(out, "%*s", VERDICT_WIDTH - (int)strlen(c->verdict), "");
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n)
			fprintf(out, "  %-*s", widths[i], cols[i]);
		else
			fprintf(out, "  %s", cols[i]);
	}
	fputc('\n', out);
	free(c);
}

void render_records(FILE *out, const struct render_options *o, const struct audit_record *recs,
                    size_t n)
{
	struct render_widths w;

	render_widths_init(&w, false);
	for (size_t i = 0; i < n; i++)
		if (render_match(o, &recs[i]))
			render_widths_fit(&w, o, &recs[i]);
	for (size_t i = 0; i < n; i++)
		if (render_match(o, &recs[i]))
			render_record(out, o, &w, &recs[i]);
}

/* ---- summary ---- */

struct entry {
	char *key; /* NULL: free slot */
	size_t len;
	uint64_t hash, count;
};

struct render_summary {
	struct entry *slots;
	size_t nslots, used, key_bytes, max_names;
	struct render_totals t;
};

struct render_summary *render_summary_new(size_t max_names)
{
	struct render_summary *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->max_names = max_names ? max_names : RENDER_SUMMARY_NAMES_MAX;
	s->nslots = 64;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return NULL;
	}
	return s;
}

void render_summary_free(struct render_summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nslots; i++)
		free(s->slots[i].key);
	free(s->slots);
	free(s);
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static struct entry *probe(struct entry *slots, size_t nslots, uint64_t h, const char *key,
                           size_t len)
{
	size_t i = (size_t)h & (nslots - 1);
	for (;; i = (i + 1) & (nslots - 1)) {
		struct entry *e = &slots[i];
		if (!e->key || (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0))
			return e;
	}
}

static int grow(struct render_summary *s)
{
	size_t n = s->nslots * 2;
	struct entry *slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].key)
			*probe(slots, n, s->slots[i].hash, s->slots[i].key, s->slots[i].len) =
			        s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

int render_summary_add(struct render_summary *s, const struct audit_record *r)
{
	if (r->event != AUDIT_EVENT_DECISION)
		return 0;
	if (r->verdict == AUDIT_VERDICT_ALLOW)
		s->t.allowed++;
	if (r->verdict != AUDIT_VERDICT_BLOCK)
		return 0;
	s->t.blocked++;

	const char *key = r->name;
	size_t len = r->name_len < sizeof(r->name) ? r->name_len : sizeof(r->name) - 1;
	if (len == 0) {
		key = r->address;
		len = strnlen(r->address, sizeof(r->address));
	}
	uint64_t h = fnv1a(key, len);
	struct entry *e = probe(s->slots, s->nslots, h, key, len);
	if (e->key) {
		e->count++;
		return 0;
	}
	if (s->used >= s->max_names || s->key_bytes + len + 1 > RENDER_SUMMARY_BYTES_MAX) {
		s->t.untracked++;
		return 0;
	}
	if ((s->used + 1) * 2 > s->nslots) {
		if (grow(s) < 0)
			return -ENOMEM;
		e = probe(s->slots, s->nslots, h, key, len);
	}
	e->key = malloc(len + 1);
	if (!e->key)
		return -ENOMEM;
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->len = len;
	e->hash = h;
	e->count = 1;
	s->used++;
	s->key_bytes += len + 1;
	return 0;
}

void render_summary_totals(const struct render_summary *s, struct render_totals *ret)
{
	*ret = s->t;
	ret->names = s->used;
}

/* Whether a ranks before b: more blocks, then the smaller name. */
static bool ranks_before(const struct entry *a, const struct render_count *b)
{
	if (a->count != b->count)
		return a->count > b->count;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->key, b->name, n);
	return c < 0 || (c == 0 && a->len < b->len);
}

size_t render_summary_top(const struct render_summary *s, struct render_count *out, size_t n)
{
	size_t have = 0;

	/* Insertion into the n best so far: O(names * n), no allocation. */
	for (size_t i = 0; i < s->nslots && n > 0; i++) {
		const struct entry *e = &s->slots[i];
		if (!e->key)
			continue;
		size_t at = have;
		while (at > 0 && ranks_before(e, &out[at - 1]))
			at--;
		if (at >= n)
			continue;
		size_t keep = have < n ? have : n - 1;
		memmove(&out[at + 1], &out[at], (keep - at) * sizeof(*out));
		out[at] = (struct render_count){e->key, e->len, e->count};
		if (have < n)
			have++;
	}
	return have;
}

void render_summary_print(FILE *out, const struct render_summary *s, size_t top)
{
	struct render_count best[32];
	char num[24], esc[AUDIT_NAME_SIZE * 4];
	int w;

	if (top > ARRAY_SIZE(best))
		top = ARRAY_SIZE(best);
	w = snprintf(
	        num, sizeof(num), "%llu",
	        (unsigned long long)(s->t.allowed > s->t.blocked ? s->t.allowed : s->t.blocked));
	fprintf(out, "allowed  %*llu\n", w, (unsigned long long)s->t.allowed);
	fprintf(out, "blocked  %*llu\n", w, (unsigned long long)s->t.blocked);
	size_t n = render_summary_top(s, best, top);
	if (n == 0)
		return;
	fputs("most blocked:\n", out);
	w = snprintf(num, sizeof(num), "%llu", (unsigned long long)best[0].count);
	for (size_t i = 0; i < n; i++) {
		if (best[i].len)
			render_escape(best[i].name, best[i].len, esc, sizeof(esc));
		else
			snprintf(esc, sizeof(esc), "-");
		fprintf(out, "  %*llu  %s\n", w, (unsigned long long)best[i].count, esc);
	}
	if (s->t.untracked)
		fprintf(out,
		        "(%llu blocked decisions were for names past the first %zu, "
		        "not counted by name)\n",
		        (unsigned long long)s->t.untracked, s->used);
}

/* ---- follow ---- */

static int follow_reopen(struct render_follow *f, struct diag *d)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* not there (yet, or between rename and reopen) */
		return diag_fail(d, -errno, "cannot open %s: %s", f->path, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return diag_fail(d, r, "cannot stat %s: %s", f->path, strerror(-r));
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return 1;
}

int render_follow_open(struct render_follow *f, const char *path, uint64_t offset, struct diag *d)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (strlen(path) >= sizeof(f->path))
		return diag_fail(d, -ENAMETOOLONG, "log path is too long");
	memcpy(f->path, path, strlen(path) + 1);
	int r = follow_reopen(f, d);
	if (r < 0)
		return r;
	f->offset = r > 0 ? offset : 0;
	return 0;
}

void render_follow_close(struct render_follow *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Whether the path now names another file than the one we have open. */
static bool follow_moved(const struct render_follow *f)
{
	struct stat st;
	return stat(f->path, &st) == 0 && (st.st_dev != f->dev || st.st_ino != f->ino);
}

int render_follow_read(struct render_follow *f, char *buf, size_t size, size_t *ret_len,
                       struct diag *d)
{
	*ret_len = 0;
	if (size == 0)
		return 0;
	/* At most: finish the old file, notice the new one, read the new one. */
	for (int round = 0; round < 3; round++) {
		if (f->fd < 0) {
			int r = follow_reopen(f, d);
			if (r <= 0)
				return r;
			f->offset = 0;
		}
		/* Looked at before reading: once the path has moved on, the old
		 * file gets no more writes, so this read sees all of it. */
		bool moved = follow_moved(f);
		ssize_t n = pread(f->fd, buf, size, (off_t)f->offset);
		if (n < 0)
			return diag_fail(d, -errno, "cannot read %s: %s", f->path, strerror(errno));
		const char *nl = n > 0 ? memrchr(buf, '\n', (size_t)n) : NULL;
		if (nl || (size_t)n == size) {
			*ret_len = nl ? (size_t)(nl - buf) + 1 : size;
			f->offset += *ret_len;
			return 0;
		}
		if (moved) {
			int r = follow_reopen(f, d);
			if (r <= 0)
				return r; /* gone again: try next time */
			f->offset = 0;
			continue;
		}
		struct stat st;
		if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size < f->offset) {
			f->offset = 0; /* truncated */
			continue;
		}
		return 0;
	}
	return 0;
}
