/* Compose files and overlays: what compose_parse() reads of a project
 * (services, their networks in both forms, merge keys, environment in both
 * forms, what the overlay must refuse), its errors (malformed YAML with line
 * and column, not a compose file, caps); then the overlay against a golden
 * file (tests/golden/compose-overlay.yml), its refusals, its notes, and the
 * overlay read back as a compose file.
 *
 * AIRLOCK_UPDATE_GOLDEN=1 rewrites the golden file instead of comparing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "compose/compose.h"
#include "util/file.h"

static void load(const char *name, struct compose_file *f)
{
	char path[512];
	char *text = NULL;
	size_t len;
	struct diag d = {""};

	snprintf(path, sizeof(path), "%s/compose/%s", TEST_DATA_DIR, name);
	if (file_read_all(path, COMPOSE_FILE_MAX, &text, &len, &d) < 0)
		fail_msg("%s", d.msg);
	if (compose_parse(text, len, name, f, &d) < 0)
		fail_msg("compose_parse %s: %s", name, d.msg);
	free(text);
}

static int parse_text(const char *text, struct compose_file *f, struct diag *d)
{
	return compose_parse(text, strlen(text), "x.yml", f, d);
}

static bool has(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static bool has_net(const struct compose_service *s, const char *n)
{
	for (size_t i = 0; i < s->n_networks; i++)
		if (strcmp(s->networks[i], n) == 0)
			return true;
	return false;
}

/* ---- reading ---- */

static void test_project(void **state)
{
	struct compose_file f;
	(void)state;

	load("project.yml", &f);
	assert_int_equal(f.n_services, 5);
	const struct compose_service *agent = compose_service(&f, "agent");
	assert_non_null(agent);
	assert_int_equal(agent->line, 10);
	assert_int_equal(agent->column, 3);
	assert_false(agent->has_networks); /* on the implicit default network */
	/* Its own list form, not the merged mapping: compose reads the
	 * service's own key, the merge key only for keys it lacks. */
	assert_int_equal(agent->n_env, 2);
	assert_true(has(agent->env, agent->n_env, "HOME"));
	assert_true(has(agent->env, agent->n_env, "NPM_CONFIG_UPDATE_NOTIFIER"));

	const struct compose_service *api = compose_service(&f, "api");
	assert_true(api->has_networks);
	assert_int_equal(api->n_networks, 2);
	assert_true(has_net(api, "backend") && has_net(api, "frontend"));
	assert_true(api->env_file);
	const struct compose_service *db = compose_service(&f, "db");
	assert_int_equal(db->n_networks, 1); /* the mapping form */
	assert_true(has_net(db, "backend"));
	assert_non_null(compose_service(&f, "cache"));
	assert_null(compose_service(&f, "x-common"));
	assert_null(compose_service(&f, "nope"));
	assert_int_equal(f.n_networks, 2);
	assert_false(f.networks[0].external || f.networks[1].external);
	compose_file_done(&f);
	compose_file_done(&f); /* twice is harmless */
}

static void test_refusals_are_read(void **state)
{
	struct compose_file f;
	(void)state;

	load("refused.yml", &f);
	const struct compose_service *s = compose_service(&f, "hostnet");
	assert_true(s->has_network_mode);
	assert_string_equal(s->network_mode, "host");
	assert_true(compose_service(&f, "resolver")->dns);
	assert_true(compose_service(&f, "root")->privileged); /* "yes" is YAML 1.1 true */
	assert_true(compose_service(&f, "pidhost")->pid_host);
	assert_int_equal(f.n_networks, 1);
	assert_true(f.networks[0].external);
	compose_file_done(&f);
}

static void test_merge_keys(void **state)
{
	struct compose_file f;
	struct diag d = {""};
	(void)state;

	assert_int_equal(parse_text("x: &base\n  networks: [a, b]\n  environment: {K: 1}\n"
	                            "services:\n"
	                            "  one:\n    <<: *base\n    environment: [L=2]\n"
	                            "  two:\n    <<: [*base]\n"
	                            "  three:\n    <<: {<<: {privileged: true}}\n",
	                            &f, &d),
	                 0);
	const struct compose_service *one = compose_service(&f, "one");
	assert_int_equal(one->n_networks, 2);
	assert_int_equal(one->n_env, 1); /* its own environment wins over the merged */
	assert_true(has(one->env, one->n_env, "L"));
	const struct compose_service *two = compose_service(&f, "two");
	assert_int_equal(two->n_networks, 2);
	assert_true(has(two->env, two->n_env, "K"));
	assert_true(compose_service(&f, "three")->privileged);
	compose_file_done(&f);
}

static void expect_error(const char *text, int err, const char *what)
{
	struct compose_file f;
	struct diag d = {""};
	assert_int_equal(parse_text(text, &f, &d), err);
	if (!strstr(d.msg, what))
		fail_msg("message '%s' does not say '%s'", d.msg, what);
	assert_int_equal(f.n_services, 0); /* nothing is left half-made */
	assert_null(f.services);
}

static void test_errors(void **state)
{
	(void)state;
	/* libyaml's own words, with the place. */
	expect_error("services:\n  app:\n    image: [x\n", -EINVAL,
	             "x.yml:4:1: YAML: did not "
	             "find expected ',' or ']'");
	expect_error("services:\n  app:\n    - x\n   y: 1\n", -EINVAL, "x.yml:4:4: YAML:");
	expect_error("services:\n\tapp: {}\n", -EINVAL, "x.yml:2:1: YAML:");
	expect_error("a: *nowhere\n", -EINVAL, "YAML: found undefined alias");
	expect_error("services: {a: 1}\x01\n", -EINVAL, "control characters are not allowed");
	/* Shapes that are YAML but not compose. */
	expect_error("", -EINVAL, "x.yml: empty");
	expect_error("- a\n- b\n", -EINVAL,
	             "x.yml:1:1: not a compose file: the top level is not "
	             "a mapping");
	expect_error("version: '3'\n", -EINVAL, "no services");
	expect_error("services: [a, b]\n", -EINVAL, "x.yml:1:11: services: expected a mapping");
	expect_error("services:\n  app: [x]\n", -EINVAL,
	             "x.yml:2:8: service app: expected a "
	             "mapping");
	expect_error("services:\n  app:\n    networks: 3\n", -EINVAL,
	             "x.yml:3:15: service app: networks must be a list or a mapping");
	expect_error("services:\n  app:\n    environment: [[a]]\n", -EINVAL,
	             "an environment entry must be KEY=VALUE");
	expect_error("services:\n  ? [a]\n  : {}\n", -EINVAL, "a service: expected a name");
	expect_error("services:\n  app:\n    <<: 3\n", -EINVAL, "merge key");
	expect_error("services: {app: {}}\nnetworks: [a]\n", -EINVAL,
	             "networks: expected a mapping of network names");
}

static void test_caps(void **state)
{
	struct compose_file f;
	struct diag d = {""};
	size_t size = 64 * 1024;
	char *text = malloc(size);
	size_t o;
	(void)state;

	o = (size_t)snprintf(text, size, "services:\n");
	for (int i = 0; i <= COMPOSE_MAX_SERVICES; i++)
		o += (size_t)snprintf(text + o, size - o, "  s%d: {}\n", i);
	assert_int_equal(compose_parse(text, o, "x.yml", &f, &d), -E2BIG);
	assert_non_null(strstr(d.msg, "over 256 services"));

	o = (size_t)snprintf(text, size, "services:\n  s:\n    environment:\n");
	for (int i = 0; i <= COMPOSE_MAX_ENV; i++)
		o += (size_t)snprintf(text + o, size - o, "      - V%d=1\n", i);
	assert_int_equal(compose_parse(text, o, "x.yml", &f, &d), -E2BIG);
	assert_non_null(strstr(d.msg, "environment variables"));

	o = (size_t)snprintf(text, size, "services:\n  %0200d: {}\n", 0);
	assert_int_equal(compose_parse(text, o, "x.yml", &f, &d), -E2BIG);

	/* Merges nested deeper than the cap. */
	o = (size_t)snprintf(text, size, "services:\n  s:\n");
	for (int i = 0; i <= COMPOSE_MERGE_DEPTH + 1; i++)
		o += (size_t)snprintf(text + o, size - o, "%*s<<:\n", 4 + 2 * i, "");
	o += (size_t)snprintf(text + o, size - o, "%*sdns: [x]\n",
	                      4 + 2 * (COMPOSE_MERGE_DEPTH + 2), "");
	assert_int_equal(compose_parse(text, o, "x.yml", &f, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "nested over 8 deep"));

	assert_int_equal(compose_parse(text, COMPOSE_FILE_MAX + 1, "x.yml", &f, &d), -E2BIG);
	free(text);
}

/* Aliases reused many times cost the walk time linear in what it reads. */
static void test_alias_fanout(void **state)
{
	struct compose_file f;
	struct diag d = {""};
	char text[8192];
	size_t o;
	(void)state;

	o = (size_t)snprintf(text, sizeof(text), "x: &e [A=1, B=2, C=3]\nservices:\n");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
		                      "  s%d: {environment: *e, networks: [n]}\n", i);
	assert_int_equal(compose_parse(text, o, "x.yml", &f, &d), 0);
	assert_int_equal(f.n_services, 100);
	assert_int_equal(f.services[99].n_env, 3);
	compose_file_done(&f);
}

/* ---- the overlay ---- */

static const char *const agent[] = {"agent"};
static const struct compose_rule rules[] = {{"allowed.test", false}, {"*.blocked.test", true}};

static struct compose_spec spec_for(const char *const *services, size_t n)
{
	return (struct compose_spec){
	        .services = services,
	        .n_services = n,
	        .image = "airlock-gateway:test",
	        .name = "proj",
	        .profile = "strict",
	        .rules = rules,
	        .n_rules = 2,
	        .default_action = "block",
	        .subnet = "198.18.130.0/24",
	        .label = "project.yml",
	        .version = "test",
	};
}

static void compare_golden(const char *name, const char *text)
{
	char path[512];
	char *want = NULL;
	size_t len;
	struct diag d;

	snprintf(path, sizeof(path), "%s/%s", TEST_GOLDEN_DIR, name);
	const char *update = getenv("AIRLOCK_UPDATE_GOLDEN");
	if (update && strcmp(update, "1") == 0) {
		FILE *fp = fopen(path, "we");
		assert_non_null(fp);
		assert_int_equal(fputs(text, fp) >= 0, 1);
		assert_int_equal(fclose(fp), 0);
		return;
	}
	if (file_read_all(path, 64 * 1024, &want, &len, &d) < 0)
		fail_msg("%s (AIRLOCK_UPDATE_GOLDEN=1 writes it)", d.msg);
	if (strcmp(text, want) != 0) {
		print_error("rendered:\n%s\n", text);
		free(want);
		fail_msg("the overlay differs from tests/golden/%s", name);
	}
	free(want);
}

static void test_overlay_golden(void **state)
{
	struct compose_file f;
	struct compose_overlay ov;
	struct diag d = {""};
	static const char *const two[] = {"agent", "api"};
	(void)state;

	load("project.yml", &f);
	struct compose_spec spec = spec_for(two, 2);
	if (compose_render(&f, &spec, &ov, &d) < 0)
		fail_msg("compose_render: %s", d.msg);
	compose_overlay_done(&ov); /* and again, into the golden file's shape: */
	spec = spec_for(two, 2);
	assert_int_equal(compose_render(&f, &spec, &ov, &d), 0);
	compare_golden("compose-overlay.yml", ov.text);
	/* What the golden file must say. */
	assert_non_null(strstr(ov.text, "    cap_drop: [\"ALL\"]\n"));
	assert_non_null(strstr(ov.text, "    read_only: true\n"));
	assert_non_null(strstr(ov.text, "    security_opt: [\"no-new-privileges:true\"]\n"));
	assert_non_null(strstr(ov.text, "    user: \"65532:65532\"\n"));
	assert_non_null(strstr(ov.text, "        ipv4_address: \"198.18.130.2\"\n"));
	assert_non_null(strstr(ov.text, "    dns: [\"198.18.130.2\"]\n"));
	assert_non_null(strstr(ov.text, "      HTTPS_PROXY: \"http://198.18.130.2:3128\"\n"));
	assert_non_null(strstr(ov.text, "        condition: service_healthy\n"));
	assert_non_null(strstr(ov.text, "      - \"--block\"\n      - \"*.blocked.test\"\n"));
	/* The service's own variables are left to it (agent sets this one). */
	const char *ag = strstr(ov.text, "  \"agent\":\n"), *api = strstr(ov.text, "  \"api\":\n");
	assert_non_null(ag);
	assert_non_null(api);
	const char *npm = strstr(ov.text, "NPM_CONFIG_UPDATE_NOTIFIER: \"${NPM");
	assert_true(npm > api);
	assert_non_null(strstr(ov.text, "      DO_NOT_TRACK: \"${DO_NOT_TRACK:-1}\"\n"));
	/* api keeps backend and frontend: both made internal, and said so. */
	assert_non_null(strstr(ov.text, "  \"backend\":\n    internal: true\n"));
	assert_non_null(strstr(ov.text, "  \"frontend\":\n    internal: true\n"));
	assert_non_null(strstr(ov.notes, "network backend is made internal"));
	assert_non_null(strstr(ov.notes, "no route out for db\n"));
	assert_non_null(strstr(ov.notes, "no route out for web\n"));
	compose_overlay_done(&ov);
	compose_file_done(&f);
}

/* The overlay is itself a compose file this parser reads, and it says what
 * the header says. */
static void test_overlay_reads_back(void **state)
{
	struct compose_file f, back;
	struct compose_overlay ov;
	struct diag d = {""};
	(void)state;

	load("project.yml", &f);
	struct compose_spec spec = spec_for(agent, 1);
	assert_int_equal(compose_render(&f, &spec, &ov, &d), 0);
	assert_string_equal(ov.notes, ""); /* agent keeps no network */
	if (compose_parse(ov.text, ov.len, "overlay", &back, &d) < 0)
		fail_msg("the overlay does not parse: %s\n%s", d.msg, ov.text);
	assert_int_equal(back.n_services, 2);
	const struct compose_service *gw = compose_service(&back, COMPOSE_SIDECAR);
	const struct compose_service *a = compose_service(&back, "agent");
	assert_non_null(gw);
	assert_non_null(a);
	assert_int_equal(gw->n_networks, 2);
	assert_true(has_net(gw, COMPOSE_INTERNAL) && has_net(gw, COMPOSE_EGRESS));
	assert_int_equal(a->n_networks, 1);
	assert_true(has_net(a, COMPOSE_INTERNAL));
	assert_true(a->dns);
	assert_true(has(a->env, a->n_env, "HTTP_PROXY"));
	assert_int_equal(back.n_networks, 2);
	compose_file_done(&back);
	compose_overlay_done(&ov);
	compose_file_done(&f);
}

static void expect_render_error(const char *file, const char *service, int err, const char *what)
{
	struct compose_file f;
	struct compose_overlay ov;
	struct diag d = {""};
	const char *one[] = {service};

	load(file, &f);
	struct compose_spec spec = spec_for(one, 1);
	spec.label = file;
	assert_int_equal(compose_render(&f, &spec, &ov, &d), err);
	if (!strstr(d.msg, what))
		fail_msg("message '%s' does not say '%s'", d.msg, what);
	assert_null(ov.text);
	compose_file_done(&f);
}

static void test_overlay_refuses(void **state)
{
	(void)state;
	expect_render_error("project.yml", "nope", -ENOENT,
	                    "no service 'nope' in project.yml (it has: agent, api, db, web, "
	                    "cache)");
	expect_render_error("refused.yml", "hostnet", -EINVAL,
	                    "refused.yml:2:3: service hostnet sets network_mode");
	expect_render_error("refused.yml", "resolver", -EINVAL, "sets dns");
	expect_render_error("refused.yml", "root", -EINVAL, "is privileged");
	expect_render_error("refused.yml", "pidhost", -EINVAL, "host's pid or user namespace");
	expect_render_error("refused.yml", "outside", -EINVAL, "is on the external network shared");
}

static void test_overlay_bad_spec(void **state)
{
	struct compose_file f;
	struct compose_overlay ov;
	struct diag d = {""};
	(void)state;

	load("project.yml", &f);
	struct compose_spec spec = spec_for(agent, 1);
	spec.subnet = "198.18.130.0/8";
	assert_int_equal(compose_render(&f, &spec, &ov, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "subnet"));
	spec = spec_for(agent, 0);
	assert_int_equal(compose_render(&f, &spec, &ov, &d), -EINVAL);
	compose_file_done(&f);

	/* A file that already holds airlock's names (an overlay merged in). */
	assert_int_equal(parse_text("services:\n  airlock-gateway: {}\n  a: {}\n", &f, &d), 0);
	static const char *const a[] = {"a"};
	spec = spec_for(a, 1);
	assert_int_equal(compose_render(&f, &spec, &ov, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "already has a service or network named airlock-gateway"));
	compose_file_done(&f);
}

/* What came from the input is quoted, never interpolated, never a new line. */
static void test_overlay_escapes(void **state)
{
	struct compose_file f, back;
	struct compose_overlay ov;
	struct diag d = {""};
	static const char *const a[] = {"a"};
	(void)state;

	/* A network name compose could not create is refused, not quoted. */
	assert_int_equal(
	        parse_text("services:\n  a:\n    networks: [\"x\\ny: $HOME\\\"\"]\n", &f, &d), 0);
	struct compose_spec spec = spec_for(a, 1);
	assert_int_equal(compose_render(&f, &spec, &ov, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "a network whose name compose cannot create"));
	compose_file_done(&f);
	/* A quoted "<<" is a key like any other, here as in compose. */
	assert_int_equal(parse_text("services:\n  a:\n    networks: {\"<<\": {}}\n", &f, &d), 0);
	assert_int_equal(f.services[0].n_networks, 1);
	assert_string_equal(f.services[0].networks[0], "<<");
	compose_file_done(&f);

	assert_int_equal(parse_text("services:\n  a:\n    networks: [x.y-z]\n", &f, &d), 0);
	spec = spec_for(a, 1);
	spec.profile = "/etc/airlock/profile.conf";
	spec.profile_mount = "/home/me/my $profile \"x\".conf";
	spec.label = "evil\nservices: {}";
	assert_int_equal(compose_render(&f, &spec, &ov, &d), 0);
	assert_non_null(strstr(ov.text, "  \"x.y-z\":\n    internal: true\n"));
	assert_non_null(strstr(ov.text, "\"/home/me/my $$profile \\\"x\\\".conf:"
	                                "/etc/airlock/profile.conf:ro\""));
	assert_non_null(strstr(ov.text, "of evil?services: {}\n"));
	assert_int_equal(compose_parse(ov.text, ov.len, "overlay", &back, &d), 0);
	assert_int_equal(back.n_services, 2);
	compose_file_done(&back);
	compose_overlay_done(&ov);
	compose_file_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_project),
	        cmocka_unit_test(test_refusals_are_read),
	        cmocka_unit_test(test_merge_keys),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_caps),
	        cmocka_unit_test(test_alias_fanout),
	        cmocka_unit_test(test_overlay_golden),
	        cmocka_unit_test(test_overlay_reads_back),
	        cmocka_unit_test(test_overlay_refuses),
	        cmocka_unit_test(test_overlay_bad_spec),
	        cmocka_unit_test(test_overlay_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
