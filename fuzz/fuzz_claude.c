/* Claude Code settings import: untrusted JSON from a workspace. */
#include "fuzz.h"
#include "policy/claude.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_builder *b = policy_builder_new();
	struct diag d = {""};
	size_t count = 0;

	if (!b)
		return 0;
	if (claude_import_text(b, (const char *)data, size, "fuzz.json", &count, &d) != 0)
		FUZZ_ASSERT(d.msg[0] != '\0');
	else
		FUZZ_ASSERT(count == policy_builder_count(b, ACTION_ALLOW) +
		                             policy_builder_count(b, ACTION_BLOCK));
	policy_builder_free(b);
	return 0;
}
