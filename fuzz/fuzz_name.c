/* Name normaliser: never crashes, and its output is a fixed point. */
#include <string.h>

#include "fuzz.h"
#include "policy/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[NAME_BUF_SIZE], again[NAME_BUF_SIZE];
	size_t len, len2;

	if (name_normalize((const char *)data, size, out, &len, NULL) != 0)
		return 0;
	FUZZ_ASSERT(len > 0 && len <= NAME_MAX_LEN && strlen(out) == len);
	FUZZ_ASSERT(out[len - 1] != '.' && out[0] != '.');
	FUZZ_ASSERT(name_normalize(out, len, again, &len2, NULL) == 0);
	FUZZ_ASSERT(len2 == len && memcmp(out, again, len) == 0);
	return 0;
}
