/* Profile parser: any bytes either load or fail with a message; what loads
 * compiles and answers queries. */
#include <string.h>

#include "fuzz.h"
#include "policy/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_builder *b = policy_builder_new();
	struct profile_paths pp = {0}; /* extends reaches built-ins only */
	struct policy *p = NULL;
	struct profile prof;
	struct diag d = {""};

	if (!b)
		return 0;
	if (profile_load_text(b, (const char *)data, size, "fuzz.conf", &pp, &prof, &d) != 0) {
		FUZZ_ASSERT(d.msg[0] != '\0');
		policy_builder_free(b);
		return 0;
	}
	if (policy_compile(b, &p, &d) != 0)
		return 0;
	struct decision dec;
	policy_decide_name(p, "a.example.com", 13, 0, &dec);
	policy_decide_name(p, "a.example.com", 13, 443, &dec);
	uint8_t addr[16] = {10, 1, 2, 3};
	policy_decide_addr(p, 4, addr, 22, &dec);
	policy_unref(p);
	return 0;
}
