/* fuzz.h - what every harness shares.
 *
 * Each fuzz_*.c defines LLVMFuzzerTestOneInput().  Built with -Dfuzz=true
 * (clang), it links against libFuzzer; built normally, it links against
 * replay.c, which feeds it every file of a seed corpus, so the corpora run as
 * ordinary tests under every build, sanitizers included.  A harness checks
 * properties, not just "no crash": FUZZ_ASSERT aborts with the reason.
 */
#ifndef AIRLOCK_FUZZ_H
#define AIRLOCK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__,        \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
