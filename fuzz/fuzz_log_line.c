/* Audit log lines, as `airlock logs` reads them: never crash; whatever
 * decodes re-encodes to one line of strict, UTF-8-valid JSON (printable
 * ASCII but for characters above U+FFFF) that decodes
 * to the same record (decode . encode is the identity on decoded records);
 * rendering it writes printable ASCII only, so no log line can drive the
 * terminal of the person reading it. */
#include <json-c/json.h>
#include <string.h>

#include "fuzz.h"
#include "log/render.h"

static struct audit_record rec, back;
static char line[AUDIT_LINE_MAX], again[AUDIT_LINE_MAX];

static void same(const struct audit_record *a, const struct audit_record *b)
{
	FUZZ_ASSERT(a->time_ms == b->time_ms && a->event == b->event && a->proto == b->proto);
	FUZZ_ASSERT(a->verdict == b->verdict && a->port == b->port);
	FUZZ_ASSERT(a->bytes_up == b->bytes_up && a->bytes_down == b->bytes_down);
	FUZZ_ASSERT(a->duration_ms == b->duration_ms);
	FUZZ_ASSERT(a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0);
	FUZZ_ASSERT(strcmp(a->sandbox, b->sandbox) == 0 && strcmp(a->client, b->client) == 0);
	FUZZ_ASSERT(strcmp(a->address, b->address) == 0 && strcmp(a->qtype, b->qtype) == 0);
	FUZZ_ASSERT(strcmp(a->rule, b->rule) == 0 && strcmp(a->origin, b->origin) == 0);
	FUZZ_ASSERT(strcmp(a->detail, b->detail) == 0);
}

static void check_line(const char *s, int n)
{
	FUZZ_ASSERT(n > 2 && n < AUDIT_LINE_MAX && s[n - 1] == '\n' && s[0] == '{');
	/* Printable ASCII, but for characters above U+FFFF (checked below). */
	for (int i = 0; i < n - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		FUZZ_ASSERT((c >= 0x20 && c < 0x7f) || c >= 0xf0 || (c >= 0x80 && c < 0xc0));
	}
	json_tokener *tok = json_tokener_new();
	FUZZ_ASSERT(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *o = json_tokener_parse_ex(tok, s, n - 1);
	FUZZ_ASSERT(o && json_object_is_type(o, json_type_object));
	FUZZ_ASSERT(json_tokener_get_parse_end(tok) == (size_t)n - 1);
	json_object_put(o);
	json_tokener_free(tok);
}

static void check_render(const struct audit_record *r)
{
	struct render_options o = {.show_sandbox = true};
	struct render_widths w;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	FUZZ_ASSERT(f);
	render_widths_init(&w, false);
	render_widths_fit(&w, &o, r);
	render_record(f, &o, &w, r);
	fclose(f);
	FUZZ_ASSERT(len > 0 && buf[len - 1] == '\n');
	for (size_t i = 0; i + 1 < len; i++)
		FUZZ_ASSERT(buf[i] >= 0x20 && buf[i] < 0x7f);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d;

	if (audit_decode((const char *)data, size, 1, &rec, &d) < 0) {
		FUZZ_ASSERT(strncmp(d.msg, "line 1: ", 8) == 0);
		return 0;
	}
	int n = audit_encode(&rec, line, sizeof(line));
	check_line(line, n);
	FUZZ_ASSERT(audit_decode(line, (size_t)n, 2, &back, &d) == 0);
	same(&rec, &back);
	FUZZ_ASSERT(audit_encode(&back, again, sizeof(again)) == n);
	FUZZ_ASSERT(memcmp(line, again, (size_t)n) == 0);
	check_render(&rec);
	return 0;
}
