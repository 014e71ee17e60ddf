/* Compose files: any bytes parse or fail with a message; what is read is
 * within its caps; and for a file that parses, the overlay for its first
 * service either is refused with a message or is itself a compose file this
 * parser reads, holding the sidecar and that service, the service on the
 * internal network only, with its DNS at the sidecar (no input byte can
 * break the overlay's YAML or add to it). */
#include <string.h>

#include "compose/compose.h"
#include "fuzz.h"

static bool on_only_internal(const struct compose_service *s)
{
	return s->n_networks == 1 && strcmp(s->networks[0], COMPOSE_INTERNAL) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct compose_file f, back;
	struct compose_overlay ov;
	struct diag d = {""};

	if (compose_parse((const char *)data, size, "fuzz.yml", &f, &d) != 0) {
		FUZZ_ASSERT(d.msg[0] != '\0');
		FUZZ_ASSERT(f.services == NULL && f.n_services == 0);
		return 0;
	}
	FUZZ_ASSERT(f.n_services <= COMPOSE_MAX_SERVICES && f.n_networks <= COMPOSE_MAX_NETWORKS);
	for (size_t i = 0; i < f.n_services; i++) {
		const struct compose_service *s = &f.services[i];
		FUZZ_ASSERT(s->name[0] && strlen(s->name) < COMPOSE_NAME_MAX);
		FUZZ_ASSERT(s->n_networks <= COMPOSE_MAX_NETWORKS && s->n_env <= COMPOSE_MAX_ENV);
		FUZZ_ASSERT(compose_service(&f, s->name) == s); /* names are unique */
		for (size_t k = 0; k < s->n_env; k++)
			FUZZ_ASSERT(s->env[k][0] && strlen(s->env[k]) < COMPOSE_NAME_MAX);
	}
	if (f.n_services == 0) {
		compose_file_done(&f);
		return 0;
	}
	const char *one[] = {f.services[0].name};
	static const struct compose_rule rules[] = {{"allowed.test", false}};
	struct compose_spec spec = {
	        .services = one,
	        .n_services = 1,
	        .image = "airlock-gateway:fuzz",
	        .name = "fuzz",
	        .profile = "strict",
	        .rules = rules,
	        .n_rules = 1,
	        .subnet = "10.9.0.0/24",
	        .label = "fuzz.yml",
	        .version = "fuzz",
	};
	if (compose_render(&f, &spec, &ov, &d) != 0) {
		FUZZ_ASSERT(d.msg[0] != '\0' && ov.text == NULL);
		compose_file_done(&f);
		return 0;
	}
	FUZZ_ASSERT(strlen(ov.text) == ov.len);
	if (compose_parse(ov.text, ov.len, "overlay", &back, &d) != 0) {
		fprintf(stderr, "overlay does not parse: %s\n%s\n", d.msg, ov.text);
		FUZZ_ASSERT(!"the overlay parses");
	}
	FUZZ_ASSERT(back.n_services == 2);
	const struct compose_service *gw = compose_service(&back, COMPOSE_SIDECAR);
	const struct compose_service *s = compose_service(&back, one[0]);
	FUZZ_ASSERT(gw && gw->n_networks == 2 && !gw->privileged && !gw->dns);
	FUZZ_ASSERT(s && on_only_internal(s) && s->dns && !s->has_network_mode);
	compose_file_done(&back);
	compose_overlay_done(&ov);
	compose_file_done(&f);
	return 0;
}
