/* Rule lists (a sandbox's allowed-domains file, blocklists). */
#include "fuzz.h"
#include "policy/rulelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_builder *b = policy_builder_new();
	struct policy *p = NULL;
	struct diag d = {""};
	size_t count = 0;

	if (!b)
		return 0;
	if (rulelist_load_text(b, ACTION_BLOCK, (const char *)data, size, "fuzz.list", &count,
	                       &d) != 0) {
		FUZZ_ASSERT(d.msg[0] != '\0');
		policy_builder_free(b);
		return 0;
	}
	FUZZ_ASSERT(count == policy_builder_count(b, ACTION_BLOCK));
	if (policy_compile(b, &p, &d) == 0) {
		struct decision dec;
		policy_decide_name(p, "x.example", 9, 0, &dec);
		policy_unref(p);
	}
	return 0;
}
