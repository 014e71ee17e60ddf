/* The first bytes of a redirected flow (gateway/flow_check.h flow_sniff):
 * never crash or read past the input; NEED_MORE always asks for more; once
 * the peek cap is reached the answer is never NEED_MORE (the gateway never
 * peeks more than that); an answer, once given, does not change with more
 * bytes (the gateway decides on the first one); a name is canonical.
 *
 * The first input byte chooses the knobs: bit 0 FLOW_SNIFF_TLS_ONLY, the
 * rest the head cap (64..8192 bytes), so the caps are reached. */
#include <string.h>

#include "fuzz.h"
#include "gateway/flow_check.h"
#include "proxy/tls_hello.h"

static void sniff_copy(const uint8_t *data, size_t len, size_t max_head, unsigned flags,
                       struct flow_sniff *ret)
{
	/* A copy of exactly `len` bytes: a read past it is an ASan report. */
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, data, len);
	flow_sniff(copy, len, max_head, flags, ret);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flow_sniff whole, part;

	if (size < 1)
		return 0;
	unsigned flags = data[0] & 1 ? FLOW_SNIFF_TLS_ONLY : 0;
	size_t max_head = 64 + (size_t)(data[0] >> 1) * 64;
	size_t cap = max_head + 1 > TLS_HELLO_PEEK_MAX ? max_head + 1 : TLS_HELLO_PEEK_MAX;
	data++;
	size--;

	sniff_copy(data, size, max_head, flags, &whole);
	if (whole.status == FLOW_SNIFF_NEED_MORE) {
		FUZZ_ASSERT(whole.need > size);
		FUZZ_ASSERT(size < cap);
	}
	if (whole.has_name) {
		char again[NAME_BUF_SIZE];
		size_t again_len;
		FUZZ_ASSERT(whole.status == FLOW_SNIFF_TLS || whole.status == FLOW_SNIFF_HTTP);
		FUZZ_ASSERT(whole.name_len > 0 && strlen(whole.name) == whole.name_len);
		FUZZ_ASSERT(name_normalize(whole.name, whole.name_len, again, &again_len, NULL) ==
		            0);
		FUZZ_ASSERT(again_len == whole.name_len &&
		            memcmp(again, whole.name, again_len) == 0);
	}
	if (flags & FLOW_SNIFF_TLS_ONLY)
		FUZZ_ASSERT(whole.status != FLOW_SNIFF_HTTP);
	if (whole.status == FLOW_SNIFF_BAD)
		FUZZ_ASSERT(whole.why[0] != '\0');

	/* The first prefix with an answer has the whole input's answer. */
	for (size_t len = 0; len <= size; len++) {
		sniff_copy(data, len, max_head, flags, &part);
		if (part.status == FLOW_SNIFF_NEED_MORE) {
			FUZZ_ASSERT(part.need > len);
			continue;
		}
		FUZZ_ASSERT(part.status == whole.status);
		FUZZ_ASSERT(part.has_name == whole.has_name);
		FUZZ_ASSERT(part.name_len == whole.name_len);
		FUZZ_ASSERT(memcmp(part.name, whole.name, part.name_len) == 0);
		break;
	}
	return 0;
}
