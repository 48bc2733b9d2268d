/* Shared bits of the libFuzzer targets (tests/fuzz/fuzz_*.c): the entry point, a byte reader
 * that never runs past the input, and an invariant check that aborts (libFuzzer and the replay
 * driver both report an abort as a crash). Header-only: each target is one translation unit. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#ifdef __cplusplus
extern "C" {
#endif
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#ifdef __cplusplus
}
#endif

/* Aborts with a message when an invariant of the module under test does not hold. */
#define FUZZ_ASSERT(cond)                                                                  \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* Consumes input bytes front to back; reads past the end yield zeros. */
typedef struct {
	const uint8_t *p;
	size_t left;
} fuzz_reader;

static inline void fuzz_read(fuzz_reader *r, void *dst, size_t n)
{
	size_t k = n < r->left ? n : r->left;
	if (k)
		memcpy(dst, r->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	r->p += k;
	r->left -= k;
}

static inline uint8_t fuzz_u8(fuzz_reader *r)
{
	uint8_t v;
	fuzz_read(r, &v, 1);
	return v;
}

static inline double fuzz_double(fuzz_reader *r)
{
	double v;
	fuzz_read(r, &v, sizeof(v));
	return v;
}

/* Logging is the slowest part of a rejected input and floods the fuzzer's output. */
static void fuzz_quiet_sink(ms_log_level level, const char *message)
{
	(void)level;
	(void)message;
}

static inline void fuzz_quiet(void)
{
	static int done;
	if (!done) {
		ms_log_set_sink(fuzz_quiet_sink);
		done = 1;
	}
}
