/* `airlock apply`'s configuration file (apply/options) and, on the same
 * bytes, the /etc/hosts block (apply/hosts): both read files a container's
 * image or its user wrote.
 *
 * Properties of a parse that succeeds: every word is NUL-terminated inside
 * its field, non-empty where it must be, without blanks, commas or control
 * bytes; bools are 0 or 1; the policy is -1, allow or block; lists hold no
 * control byte but tabs, fit APPLY_VALUE_MAX, and walk into trimmed,
 * non-empty, comma-free items; and the options written back as KEY = VALUE
 * lines parse to the very same options.  A parse that fails says why, naming
 * the file.
 *
 * Properties of the hosts block: with x the input, render(x, []) never
 * grows x, leaves x as it is when x has no marker, and is idempotent;
 * render(render(x, names), []) == render(x, []) (removal takes out exactly
 * what was added); render(render(x, []), names) == render(x, names); the
 * rendered block ends the file and holds every name, twice. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "apply/hosts.h"
#include "apply/options.h"
#include "fuzz.h"

#define BEGIN_MARK "# BEGIN airlock"
#define END_MARK   "# END airlock\n"

static const char *const names[] = {"tracker.example", "ads.example", "xn--bcher-kva.example"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static bool control(unsigned char c)
{
	return c < 0x20 && c != '\t';
}

static void check_word(const char *field, size_t size, bool may_be_empty)
{
	const char *nul = memchr(field, '\0', size);
	FUZZ_ASSERT(nul != NULL);
	size_t n = (size_t)(nul - field);
	FUZZ_ASSERT(may_be_empty || n > 0);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)field[i];
		FUZZ_ASSERT(c != ' ' && c != ',' && c != '\t' && !control(c));
	}
}

static void check_bool(const bool *b)
{
	unsigned char raw;
	memcpy(&raw, b, 1); /* the byte itself: a bool that is neither would be UB to read */
	FUZZ_ASSERT(raw == 0 || raw == 1);
}

static int check_item(const char *item, size_t len, void *ctx)
{
	size_t *count = ctx;
	FUZZ_ASSERT(len > 0);
	FUZZ_ASSERT(!memchr(item, ',', len));
	FUZZ_ASSERT(item[0] != ' ' && item[0] != '\t' && item[0] != '\r');
	FUZZ_ASSERT(item[len - 1] != ' ' && item[len - 1] != '\t' && item[len - 1] != '\r');
	(*count)++;
	return 0;
}

static void check_list(const char *list)
{
	FUZZ_ASSERT(list != NULL);
	size_t n = strlen(list), items = 0, commas = 0;
	FUZZ_ASSERT(n <= APPLY_VALUE_MAX);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(!control((unsigned char)list[i]));
		commas += list[i] == ',';
	}
	/* Trimmed as a whole value. */
	FUZZ_ASSERT(n == 0 || (list[0] != ' ' && list[0] != '\t'));
	FUZZ_ASSERT(n == 0 || (list[n - 1] != ' ' && list[n - 1] != '\t'));
	FUZZ_ASSERT(apply_each_item(list, check_item, &items) == 0);
	FUZZ_ASSERT(items <= commas + 1);
}

/* ---- writing the options back ---- */

struct text {
	char *buf;
	size_t len, cap;
};

static void put_kv(struct text *t, const char *key, const char *value)
{
	int n = snprintf(t->buf + t->len, t->cap - t->len, "%s = %s\n", key, value);
	FUZZ_ASSERT(n > 0 && (size_t)n < t->cap - t->len);
	t->len += (size_t)n;
}

static const char *bool_text(bool b)
{
	return b ? "true" : "false";
}

static void check_round_trip(const struct apply_options *o)
{
	size_t cap = 4096 + strlen(o->allowed_domains) + strlen(o->blocked_domains) +
	             strlen(o->claude_settings_paths) + strlen(o->upstream) +
	             strlen(o->docker_networks);
	struct text t = {malloc(cap), 0, cap};
	struct apply_options back;
	struct diag d = {""};

	if (!t.buf)
		return;
	put_kv(&t, "profile", o->profile);
	put_kv(&t, "allowedDomains", o->allowed_domains);
	put_kv(&t, "blockedDomains", o->blocked_domains);
	if (o->default_policy >= 0)
		put_kv(&t, "defaultPolicy", o->default_policy == ACTION_ALLOW ? "allow" : "block");
	put_kv(&t, "allowDockerNetworks", bool_text(o->allow_docker_networks));
	put_kv(&t, "allowLocalhost", bool_text(o->allow_localhost));
	put_kv(&t, "immutableConfig", bool_text(o->immutable_config));
	put_kv(&t, "logBlocked", bool_text(o->log_blocked));
	put_kv(&t, "allowClaudeWebFetchDomains", bool_text(o->allow_claude_webfetch));
	put_kv(&t, "claudeSettingsPaths", o->claude_settings_paths);
	put_kv(&t, "name", o->name);
	put_kv(&t, "user", o->user);
	if (o->admin_user[0])
		put_kv(&t, "adminUser", o->admin_user);
	put_kv(&t, "upstream", o->upstream);
	put_kv(&t, "dockerNetworks", o->docker_networks);

	apply_options_init(&back);
	int e = apply_options_parse(&back, t.buf, t.len, "back.conf", &d);
	if (e == -ENOMEM || (e == -EINVAL && t.len > APPLY_CONFIG_MAX)) {
		/* Five lists at their longest are more than one file holds. */
		apply_options_done(&back);
		free(t.buf);
		return;
	}
	if (e != 0)
		fprintf(stderr, "written back, refused: %s\n", d.msg);
	FUZZ_ASSERT(e == 0);
	FUZZ_ASSERT(strcmp(back.profile, o->profile) == 0);
	FUZZ_ASSERT(strcmp(back.allowed_domains, o->allowed_domains) == 0);
	FUZZ_ASSERT(strcmp(back.blocked_domains, o->blocked_domains) == 0);
	FUZZ_ASSERT(back.default_policy == o->default_policy);
	FUZZ_ASSERT(back.allow_docker_networks == o->allow_docker_networks);
	FUZZ_ASSERT(back.allow_localhost == o->allow_localhost);
	FUZZ_ASSERT(back.immutable_config == o->immutable_config);
	FUZZ_ASSERT(back.log_blocked == o->log_blocked);
	FUZZ_ASSERT(back.allow_claude_webfetch == o->allow_claude_webfetch);
	FUZZ_ASSERT(strcmp(back.claude_settings_paths, o->claude_settings_paths) == 0);
	FUZZ_ASSERT(strcmp(back.name, o->name) == 0);
	FUZZ_ASSERT(strcmp(back.user, o->user) == 0);
	FUZZ_ASSERT(strcmp(back.admin_user, o->admin_user) == 0);
	FUZZ_ASSERT(strcmp(back.upstream, o->upstream) == 0);
	FUZZ_ASSERT(strcmp(back.docker_networks, o->docker_networks) == 0);
	apply_options_done(&back);
	free(t.buf);
}

static void fuzz_options(const char *text, size_t size)
{
	struct apply_options o;
	struct diag d = {""};

	apply_options_init(&o);
	int e = apply_options_parse(&o, text, size, "fuzz.conf", &d);
	if (e != 0) {
		FUZZ_ASSERT(e == -EINVAL || e == -ENOMEM);
		FUZZ_ASSERT(e == -ENOMEM || strncmp(d.msg, "fuzz.conf", 9) == 0);
		FUZZ_ASSERT(memchr(d.msg, '\0', sizeof(d.msg)) != NULL);
		apply_options_done(&o);
		return;
	}
	check_word(o.profile, sizeof(o.profile), false);
	check_word(o.name, sizeof(o.name), false);
	check_word(o.user, sizeof(o.user), false);
	check_word(o.admin_user, sizeof(o.admin_user), true);
	check_bool(&o.allow_docker_networks);
	check_bool(&o.allow_localhost);
	check_bool(&o.immutable_config);
	check_bool(&o.log_blocked);
	check_bool(&o.allow_claude_webfetch);
	FUZZ_ASSERT(o.default_policy == -1 || o.default_policy == ACTION_ALLOW ||
	            o.default_policy == ACTION_BLOCK);
	check_list(o.allowed_domains);
	check_list(o.blocked_domains);
	check_list(o.claude_settings_paths);
	check_list(o.upstream);
	check_list(o.docker_networks);
	check_round_trip(&o);
	apply_options_done(&o);
}

/* ---- the hosts block ---- */

static size_t count_of(const char *text, size_t len, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	for (size_t i = 0; i + nl <= len; i++)
		if (memcmp(text + i, needle, nl) == 0)
			n++;
	return n;
}

static void fuzz_hosts(const char *text, size_t size)
{
	char *added = NULL, *stripped = NULL, *again = NULL, *readded = NULL, *twice = NULL;
	size_t la, ls, lg, lr, lt;

	if (hosts_render(text, size, names, N_NAMES, &added, &la, NULL) < 0 ||
	    hosts_render(text, size, NULL, 0, &stripped, &ls, NULL) < 0)
		goto out; /* -ENOMEM only: the names are good */
	FUZZ_ASSERT(added[la] == '\0' && stripped[ls] == '\0');
	FUZZ_ASSERT(ls <= size);
	if (!count_of(text, size, BEGIN_MARK))
		FUZZ_ASSERT(ls == size && memcmp(stripped, text, size) == 0);

	/* Removal takes out exactly what was added. */
	if (hosts_render(added, la, NULL, 0, &again, &lg, NULL) < 0)
		goto out;
	FUZZ_ASSERT(lg == ls && memcmp(again, stripped, ls) == 0);
	/* Stripping is idempotent, and adding to the stripped file is the same. */
	if (hosts_render(stripped, ls, NULL, 0, &twice, &lt, NULL) < 0 ||
	    hosts_render(stripped, ls, names, N_NAMES, &readded, &lr, NULL) < 0)
		goto out;
	FUZZ_ASSERT(lt == ls && memcmp(twice, stripped, ls) == 0);
	FUZZ_ASSERT(lr == la && memcmp(readded, added, la) == 0);

	/* The block ends the file, the stripped text before it. */
	FUZZ_ASSERT(la > ls && memcmp(added, stripped, ls) == 0);
	FUZZ_ASSERT(la >= strlen(END_MARK) &&
	            memcmp(added + la - strlen(END_MARK), END_MARK, strlen(END_MARK)) == 0);
	for (size_t i = 0; i < N_NAMES; i++) {
		char line[128];
		snprintf(line, sizeof(line), "\n0.0.0.0 %s\n:: %s\n", names[i], names[i]);
		FUZZ_ASSERT(count_of(added + ls, la - ls, line) == 1);
	}
out:
	free(added);
	free(stripped);
	free(again);
	free(readded);
	free(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_options((const char *)data, size);
	fuzz_hosts((const char *)data, size);
	return 0;
}
