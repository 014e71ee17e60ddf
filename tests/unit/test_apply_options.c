/* `airlock apply`'s configuration file (src/apply/options.h): the defaults,
 * every key and each kind of value (word, list, bool, policy), blank lines,
 * comments and surrounding blanks; every error with its exact message,
 * naming file:line; and apply_each_item()'s walk over a list. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "apply/options.h"
#include "policy/rule.h"

#define SOURCE "/etc/airlock/apply.conf"

/* Parse `text` (its strlen) over fresh defaults; the result of the parse. */
static int parse(struct apply_options *o, const char *text, struct diag *d)
{
	apply_options_init(o);
	memset(d->msg, 0, sizeof(d->msg));
	return apply_options_parse(o, text, strlen(text), SOURCE, d);
}

/* The parse fails with -EINVAL and exactly `want` as its message. */
static void parse_fails(const char *text, const char *want)
{
	struct apply_options o;
	struct diag d;
	int e = parse(&o, text, &d);
	if (e != -EINVAL)
		fail_msg("'%s': returned %d (%s), want -EINVAL", text, e, d.msg);
	assert_string_equal(d.msg, want);
	/* Without a diag, the same error. */
	apply_options_done(&o);
	apply_options_init(&o);
	assert_int_equal(apply_options_parse(&o, text, strlen(text), SOURCE, NULL), -EINVAL);
	apply_options_done(&o);
}

static void assert_defaults(const struct apply_options *o)
{
	assert_string_equal(o->profile, "standard");
	assert_string_equal(o->allowed_domains, "");
	assert_string_equal(o->blocked_domains, "");
	assert_int_equal(o->default_policy, -1);
	assert_true(o->allow_docker_networks);
	assert_true(o->allow_localhost);
	assert_true(o->immutable_config);
	assert_true(o->log_blocked);
	assert_true(o->allow_claude_webfetch);
	assert_string_equal(o->claude_settings_paths,
	                    ".claude/settings.json,.claude/settings.local.json,"
	                    "~/.claude/settings.json");
	assert_string_equal(o->name, "devcontainer");
	assert_string_equal(o->user, "airlock");
	assert_string_equal(o->admin_user, "");
	assert_string_equal(o->upstream, "");
	assert_string_equal(o->docker_networks, "172.16.0.0/12,10.0.0.0/8,192.168.0.0/16");
}

/* ---- what is accepted ---- */

static void test_defaults(void **state)
{
	struct apply_options o;
	struct diag d;
	(void)state;

	apply_options_init(&o);
	assert_defaults(&o);
	apply_options_done(&o);
	/* An empty file, or one of blanks and comments only, changes nothing. */
	static const char *const empty[] = {
	        "",
	        "\n",
	        "\n\n\n",
	        "   \t \r\n",
	        "# a comment\n",
	        "  # indented\n\t#tab\n",
	        "#profile = strict\n",
	        "# no newline at the end",
	};
	for (size_t i = 0; i < ARRAY_SIZE(empty); i++) {
		assert_int_equal(parse(&o, empty[i], &d), 0);
		assert_defaults(&o);
		apply_options_done(&o);
	}
	/* Done twice is harmless (it clears what it freed). */
	apply_options_init(&o);
	apply_options_done(&o);
	apply_options_done(&o);
}

static void test_every_key(void **state)
{
	struct apply_options o;
	struct diag d;
	(void)state;

	static const char text[] =
	        "# The devcontainer feature writes this file.\n"
	        "profile = strict\n"
	        "allowedDomains = *.github.com,api.anthropic.com:443, .pypi.org\n"
	        "blockedDomains = tracker.example\n"
	        "defaultPolicy = allow\n"
	        "allowDockerNetworks = false\n"
	        "allowLocalhost = false\n"
	        "immutableConfig = false\n"
	        "logBlocked = false\n"
	        "allowClaudeWebFetchDomains = false\n"
	        "claudeSettingsPaths = .claude/a.json\n"
	        "name = web-1\n"
	        "user = airlock-gw\n"
	        "adminUser = vscode\n"
	        "upstream = 1.1.1.1, 2606:4700:4700::1111\n"
	        "dockerNetworks = 10.1.0.0/16\n";
	assert_int_equal(parse(&o, text, &d), 0);
	assert_string_equal(o.profile, "strict");
	assert_string_equal(o.allowed_domains, "*.github.com,api.anthropic.com:443, .pypi.org");
	assert_string_equal(o.blocked_domains, "tracker.example");
	assert_int_equal(o.default_policy, ACTION_ALLOW);
	assert_false(o.allow_docker_networks);
	assert_false(o.allow_localhost);
	assert_false(o.immutable_config);
	assert_false(o.log_blocked);
	assert_false(o.allow_claude_webfetch);
	assert_string_equal(o.claude_settings_paths, ".claude/a.json");
	assert_string_equal(o.name, "web-1");
	assert_string_equal(o.user, "airlock-gw");
	assert_string_equal(o.admin_user, "vscode");
	assert_string_equal(o.upstream, "1.1.1.1, 2606:4700:4700::1111");
	assert_string_equal(o.docker_networks, "10.1.0.0/16");
	apply_options_done(&o);
}

/* Keys not given keep their defaults; a key given alone sets only itself. */
static void test_one_key_each(void **state)
{
	struct apply_options o;
	struct diag d;
	(void)state;

	assert_int_equal(parse(&o, "profile = airgapped\n", &d), 0);
	assert_string_equal(o.profile, "airgapped");
	assert_string_equal(o.name, "devcontainer");
	assert_true(o.log_blocked);
	apply_options_done(&o);

	assert_int_equal(parse(&o, "defaultPolicy = block\n", &d), 0);
	assert_int_equal(o.default_policy, ACTION_BLOCK);
	assert_string_equal(o.profile, "standard");
	apply_options_done(&o);

	/* Bools both ways, over either default. */
	assert_int_equal(parse(&o, "logBlocked = true\nallowLocalhost=false", &d), 0);
	assert_true(o.log_blocked);
	assert_false(o.allow_localhost);
	apply_options_done(&o);
}

/* Blanks around keys, '=' and values are trimmed; CRLF files read the same;
 * the last line needs no newline. */
static void test_blanks(void **state)
{
	struct apply_options o;
	struct diag d;
	(void)state;

	static const char text[] = "  profile\t=\tstrict  \r\n"
	                           "\r\n"
	                           "allowedDomains=a.example\r\n"
	                           "\t name   =   box \t\r\n"
	                           "blockedDomains =  x.example ,  y.example  ";
	assert_int_equal(parse(&o, text, &d), 0);
	assert_string_equal(o.profile, "strict");
	assert_string_equal(o.allowed_domains, "a.example");
	assert_string_equal(o.name, "box");
	/* A list keeps the blanks inside it (apply_each_item trims items). */
	assert_string_equal(o.blocked_domains, "x.example ,  y.example");
	apply_options_done(&o);
}

/* A list may be empty (it clears the default), holds tabs, '=' and '#'
 * literally: a comment is a line of its own. */
static void test_list_values(void **state)
{
	struct apply_options o;
	struct diag d;
	(void)state;

	assert_int_equal(parse(&o, "dockerNetworks =\nclaudeSettingsPaths=   \n", &d), 0);
	assert_string_equal(o.docker_networks, "");
	assert_string_equal(o.claude_settings_paths, "");
	apply_options_done(&o);

	assert_int_equal(parse(&o, "allowedDomains = a=b\tc # not a comment\n", &d), 0);
	assert_string_equal(o.allowed_domains, "a=b\tc # not a comment");
	apply_options_done(&o);

	/* The longest list accepted, exactly APPLY_VALUE_MAX bytes. */
	size_t n = APPLY_VALUE_MAX;
	char *text = malloc(n + 32);
	assert_non_null(text);
	int head = snprintf(text, 32, "upstream = ");
	memset(text + head, 'a', n);
	text[head + (int)n] = '\0';
	assert_int_equal(parse(&o, text, &d), 0);
	assert_int_equal(strlen(o.upstream), n);
	apply_options_done(&o);
	free(text);
}

/* Words: the longest accepted is APPLY_WORD_MAX - 1 bytes, NUL-terminated
 * inside its field; punctuation other than blanks and commas is kept. */
static void test_word_values(void **state)
{
	struct apply_options o;
	struct diag d;
	char text[APPLY_WORD_MAX + 32], word[APPLY_WORD_MAX];
	(void)state;

	memset(word, 'u', APPLY_WORD_MAX - 1);
	word[APPLY_WORD_MAX - 1] = '\0';
	snprintf(text, sizeof(text), "user = %s\n", word);
	assert_int_equal(parse(&o, text, &d), 0);
	assert_string_equal(o.user, word);
	apply_options_done(&o);

	assert_int_equal(parse(&o, "profile = /home/me/my.conf\nadminUser = a.b-c_d@e\n", &d), 0);
	assert_string_equal(o.profile, "/home/me/my.conf");
	assert_string_equal(o.admin_user, "a.b-c_d@e");
	apply_options_done(&o);
}

/* ---- what is refused, and the message ---- */

static void test_unknown_key(void **state)
{
	(void)state;
	parse_fails("profile = strict\nbogus = 1\n",
	            SOURCE ":2: unknown option 'bogus' (docs/devcontainer.md lists them)");
	/* Keys are case-sensitive and whole. */
	parse_fails("Profile = strict\n",
	            SOURCE ":1: unknown option 'Profile' (docs/devcontainer.md lists them)");
	parse_fails("allowed Domains = x\n", SOURCE ":1: unknown option 'allowed Domains' "
	                                            "(docs/devcontainer.md lists them)");
	parse_fails("= strict\n", SOURCE ":1: unknown option '' (docs/devcontainer.md lists them)");
	/* A key's odd bytes are escaped, not printed. */
	parse_fails("pro\x01"
	            "file = x\n",
	            SOURCE ":1: unknown option 'pro\\x01file' (docs/devcontainer.md lists them)");
	parse_fails("it's = x\n",
	            SOURCE ":1: unknown option 'it\\x27s' (docs/devcontainer.md lists them)");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	parse_fails("profile = strict\n# again\nprofile = strict\n",
	            SOURCE ":3: profile given twice");
	/* Even when the first was empty, or a list. */
	parse_fails("allowedDomains =\nallowedDomains = a.example\n",
	            SOURCE ":2: allowedDomains given twice");
	parse_fails("logBlocked = true\n  logBlocked=false", SOURCE ":2: logBlocked given twice");
}

static void test_missing_equals(void **state)
{
	(void)state;
	parse_fails("profile strict\n", SOURCE ":1: expected KEY = VALUE, not 'profile strict'");
	/* Line numbers count blank and comment lines; the line is trimmed. */
	parse_fails("# c\n\n  \nname = x\n  profile  \n",
	            SOURCE ":5: expected KEY = VALUE, not 'profile'");
	parse_fails("[section]\n", SOURCE ":1: expected KEY = VALUE, not '[section]'");
}

static void test_bad_bool(void **state)
{
	(void)state;
	parse_fails("logBlocked = yes\n",
	            SOURCE ":1: logBlocked: expected true or false, not 'yes'");
	parse_fails("allowLocalhost = True\n",
	            SOURCE ":1: allowLocalhost: expected true or false, not 'True'");
	parse_fails("immutableConfig = 1\n",
	            SOURCE ":1: immutableConfig: expected true or false, not '1'");
	parse_fails("allowDockerNetworks =\n",
	            SOURCE ":1: allowDockerNetworks: expected true or false, not ''");
	parse_fails("allowClaudeWebFetchDomains = true false\n",
	            SOURCE ":1: allowClaudeWebFetchDomains: expected true or false, not 'true "
	                   "false'");
}

static void test_bad_policy(void **state)
{
	(void)state;
	parse_fails("defaultPolicy = deny\n",
	            SOURCE ":1: defaultPolicy: expected allow or block, not 'deny'");
	parse_fails("defaultPolicy = ALLOW\n",
	            SOURCE ":1: defaultPolicy: expected allow or block, not 'ALLOW'");
	parse_fails("defaultPolicy =\n",
	            SOURCE ":1: defaultPolicy: expected allow or block, not ''");
}

static void test_bad_word(void **state)
{
	char text[APPLY_WORD_MAX + 32], want[512], word[APPLY_WORD_MAX + 1];
	(void)state;

	parse_fails("name = my box\n",
	            SOURCE ":1: name: expected one word of at most 255 characters, not 'my box'");
	parse_fails("user = a\tb\n",
	            SOURCE ":1: user: expected one word of at most 255 characters, not 'a\\x09b'");
	parse_fails("profile = strict,open\n", SOURCE ":1: profile: expected one word of at most "
	                                              "255 characters, not 'strict,open'");
	parse_fails("adminUser =\n",
	            SOURCE ":1: adminUser: expected one word of at most 255 characters, not ''");
	/* One byte too long (shown whole: it is printable). */
	memset(word, 'w', APPLY_WORD_MAX);
	word[APPLY_WORD_MAX] = '\0';
	snprintf(text, sizeof(text), "name = %s\n", word);
	snprintf(want, sizeof(want),
	         SOURCE ":1: name: expected one word of at most 255 characters, not '%s'", word);
	parse_fails(text, want);
	/* Longer still: cut, with "..." saying so. */
	char *longer = malloc(4096);
	assert_non_null(longer);
	int head = snprintf(longer, 4096, "name = ");
	memset(longer + head, 'w', 1000);
	longer[head + 1000] = '\0';
	snprintf(want, sizeof(want),
	         SOURCE ":1: name: expected one word of at most 255 characters, not '%.256s...'",
	         word);
	parse_fails(longer, want);
	free(longer);
}

static void test_control_byte(void **state)
{
	(void)state;
	parse_fails("allowedDomains = a.example\x01"
	            "b.example\n",
	            SOURCE ":1: allowedDomains: control byte 0x01 in the value");
	/* A CR inside the value (not at its end) is one too. */
	parse_fails("profile = a\rb\n", SOURCE ":1: profile: control byte 0x0d in the value");
	parse_fails("\n\nlogBlocked = tr\x1bue\n",
	            SOURCE ":3: logBlocked: control byte 0x1b in the value");
	parse_fails("upstream = 1.1.1.1\x7f\x1f\n",
	            SOURCE ":1: upstream: control byte 0x1f in the value");
}

static void test_nul_byte(void **state)
{
	struct apply_options o;
	struct diag d;
	static const char text[] = "profile = strict\n\0name = x\n";
	(void)state;

	apply_options_init(&o);
	assert_int_equal(apply_options_parse(&o, text, sizeof(text) - 1, SOURCE, &d), -EINVAL);
	assert_string_equal(d.msg, SOURCE ": holds a NUL byte: not a text file");
	/* Refused before anything was read. */
	assert_string_equal(o.profile, "standard");
	apply_options_done(&o);
	/* Only the bytes given count: a NUL past `len` is not read. */
	apply_options_init(&o);
	assert_int_equal(apply_options_parse(&o, text, 17, SOURCE, &d), 0);
	assert_string_equal(o.profile, "strict");
	apply_options_done(&o);
}

static void test_value_too_long(void **state)
{
	struct apply_options o;
	struct diag d;
	size_t n = APPLY_VALUE_MAX + 1;
	char *text = malloc(n + 64);
	(void)state;

	assert_non_null(text);
	int head = snprintf(text, 64, "# long\nallowedDomains = ");
	memset(text + head, 'a', n);
	memcpy(text + head + n, "\n", 2);
	assert_int_equal(parse(&o, text, &d), -EINVAL);
	assert_string_equal(d.msg, SOURCE ":2: allowedDomains: longer than 262144 bytes");
	apply_options_done(&o);
	free(text);
}

static void test_file_too_large(void **state)
{
	struct apply_options o;
	struct diag d;
	size_t n = APPLY_CONFIG_MAX + 1;
	char *text = malloc(n);
	(void)state;

	assert_non_null(text);
	memset(text, '\n', n);
	apply_options_init(&o);
	assert_int_equal(apply_options_parse(&o, text, n, SOURCE, &d), -EINVAL);
	assert_string_equal(d.msg, SOURCE ": larger than 1048576 bytes");
	/* The largest accepted: APPLY_CONFIG_MAX bytes. */
	assert_int_equal(apply_options_parse(&o, text, n - 1, SOURCE, &d), 0);
	assert_defaults(&o);
	apply_options_done(&o);
	free(text);
}

/* The first error is the one reported, with the source as given. */
static void test_first_error_and_source(void **state)
{
	struct apply_options o;
	struct diag d;
	static const char text[] = "name = x\nbogus = 1\nlogBlocked = yes\n";
	(void)state;

	apply_options_init(&o);
	assert_int_equal(apply_options_parse(&o, text, strlen(text), "feature.env", &d), -EINVAL);
	assert_string_equal(
	        d.msg, "feature.env:2: unknown option 'bogus' (docs/devcontainer.md lists them)");
	apply_options_done(&o);
}

/* ---- apply_each_item ---- */

struct items {
	char seen[8][64];
	size_t n;
	size_t stop_at; /* return `ret` for this item (1-based); 0: never */
	int ret;
};

static int collect(const char *item, size_t len, void *ctx)
{
	struct items *it = ctx;
	assert_true(len > 0);
	assert_true(it->n < ARRAY_SIZE(it->seen));
	snprintf(it->seen[it->n], sizeof(it->seen[0]), "%.*s", (int)len, item);
	it->n++;
	return it->n == it->stop_at ? it->ret : 0;
}

static void test_each_item(void **state)
{
	struct items it = {0};
	(void)state;

	/* Trimmed (blanks, tabs and CRs), empty items skipped. */
	assert_int_equal(apply_each_item(" a.example ,\tb.example,,c.example\r , ,", collect, &it),
	                 0);
	assert_int_equal(it.n, 3);
	assert_string_equal(it.seen[0], "a.example");
	assert_string_equal(it.seen[1], "b.example");
	assert_string_equal(it.seen[2], "c.example");

	/* A blank inside an item stays. */
	memset(&it, 0, sizeof(it));
	assert_int_equal(apply_each_item("one item,x", collect, &it), 0);
	assert_int_equal(it.n, 2);
	assert_string_equal(it.seen[0], "one item");
	assert_string_equal(it.seen[1], "x");

	/* Nothing to call for. */
	static const char *const none[] = {"", ",", " , ,, ", "\t"};
	for (size_t i = 0; i < ARRAY_SIZE(none); i++) {
		memset(&it, 0, sizeof(it));
		assert_int_equal(apply_each_item(none[i], collect, &it), 0);
		assert_int_equal(it.n, 0);
	}

	/* A single item without a comma. */
	memset(&it, 0, sizeof(it));
	assert_int_equal(apply_each_item("solo", collect, &it), 0);
	assert_int_equal(it.n, 1);
	assert_string_equal(it.seen[0], "solo");
}

static void test_each_item_stops(void **state)
{
	struct items it = {.stop_at = 2, .ret = 7};
	(void)state;

	/* The second call's non-zero return stops the walk and is returned. */
	assert_int_equal(apply_each_item("a,b,c,d", collect, &it), 7);
	assert_int_equal(it.n, 2);
	assert_string_equal(it.seen[1], "b");

	/* Negative too, and on the last item. */
	memset(&it, 0, sizeof(it));
	it.stop_at = 3;
	it.ret = -EINVAL;
	assert_int_equal(apply_each_item("a,,b, c", collect, &it), -EINVAL);
	assert_int_equal(it.n, 3);
	assert_string_equal(it.seen[2], "c");

	/* On the first. */
	memset(&it, 0, sizeof(it));
	it.stop_at = 1;
	it.ret = -1;
	assert_int_equal(apply_each_item(" first , second", collect, &it), -1);
	assert_int_equal(it.n, 1);
	assert_string_equal(it.seen[0], "first");
}

/* A parsed list walks into its items as the CLI uses them. */
static void test_parsed_list_items(void **state)
{
	struct apply_options o;
	struct diag d;
	struct items it = {0};
	(void)state;

	assert_int_equal(parse(&o, "allowedDomains = , *.github.com ,\t.pypi.org,,\n", &d), 0);
	assert_int_equal(apply_each_item(o.allowed_domains, collect, &it), 0);
	assert_int_equal(it.n, 2);
	assert_string_equal(it.seen[0], "*.github.com");
	assert_string_equal(it.seen[1], ".pypi.org");
	memset(&it, 0, sizeof(it));
	assert_int_equal(apply_each_item(o.docker_networks, collect, &it), 0);
	assert_int_equal(it.n, 3);
	assert_string_equal(it.seen[0], "172.16.0.0/12");
	assert_string_equal(it.seen[2], "192.168.0.0/16");
	apply_options_done(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_every_key),
	        cmocka_unit_test(test_one_key_each),
	        cmocka_unit_test(test_blanks),
	        cmocka_unit_test(test_list_values),
	        cmocka_unit_test(test_word_values),
	        cmocka_unit_test(test_unknown_key),
	        cmocka_unit_test(test_duplicate_key),
	        cmocka_unit_test(test_missing_equals),
	        cmocka_unit_test(test_bad_bool),
	        cmocka_unit_test(test_bad_policy),
	        cmocka_unit_test(test_bad_word),
	        cmocka_unit_test(test_control_byte),
	        cmocka_unit_test(test_nul_byte),
	        cmocka_unit_test(test_value_too_long),
	        cmocka_unit_test(test_file_too_large),
	        cmocka_unit_test(test_first_error_and_source),
	        cmocka_unit_test(test_each_item),
	        cmocka_unit_test(test_each_item_stops),
	        cmocka_unit_test(test_parsed_list_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
