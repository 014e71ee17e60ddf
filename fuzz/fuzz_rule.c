/* Rule and target parsers: never crash; a parsed rule formats to text that
 * parses back to the same rule. */
#include <string.h>

#include "fuzz.h"
#include "policy/rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rule r, back;
	struct target t;
	char text[RULE_TEXT_SIZE];

	if (rule_parse((const char *)data, size, &r, NULL) == 0) {
		int n = rule_format(&r, text, sizeof(text));
		FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(text));
		FUZZ_ASSERT(rule_parse(text, (size_t)n, &back, NULL) == 0);
		FUZZ_ASSERT(rule_equal(&r, &back));
	}
	if (target_parse((const char *)data, size, &t, NULL) == 0)
		FUZZ_ASSERT(target_format(&t, text, sizeof(text)) > 0);
	return 0;
}
