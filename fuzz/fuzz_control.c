/* Control-socket requests: any bytes parse or fail with a message; a parsed
 * rule argument is within bounds and has no control bytes. */
#include <string.h>

#include "fuzz.h"
#include "gateway/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request req;
	struct diag d = {""};

	if (control_parse((const char *)data, size, &req, &d) != 0) {
		FUZZ_ASSERT(d.msg[0] != '\0');
		return 0;
	}
	FUZZ_ASSERT(req.arg_len <= RULE_INPUT_MAX && strlen(req.arg) == req.arg_len);
	for (size_t i = 0; i < req.arg_len; i++)
		FUZZ_ASSERT((unsigned char)req.arg[i] >= 0x20 && req.arg[i] != 0x7f);
	return 0;
}
