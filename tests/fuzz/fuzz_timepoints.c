/* libFuzzer target: ms_timepoints_group on arbitrary image records.
 *
 * Input: one mode byte, then fixed-size records until the input ends (at most 512 images).
 *   mode bit 0: raw records (36 bytes: z, TemporalPositionIdentifier, AcquisitionNumber,
 *               AcquisitionTime, TriggerTime, frame as stored), so NaN, infinities, negative
 *               and huge values reach the rules; else compact records (6 bytes) with small
 *               values that collide often (z in 0.5 mm steps, keys 0..7, times in 2.5 s steps
 *               or absent), so every rule and error path is reached.
 *   mode bit 1: compact times start 10 s before midnight (the midnight wrap).
 *   mode bit 2: a 16-byte message buffer (truncation) instead of 256 bytes.
 *   mode bits 3-7: a second run makes allocation number (bits >> 3) fail (0 = no second run).
 * Invariants on MS_OK: n_t >= 3, every index is a distinct input record, t_s starts at 0 and
 * increases, z ascends and each image of slice m lies within 0.02 mm of z[m]. On failure *out is
 * cleared and the message NUL-terminated; with an injected failure the result is MS_ERR_NOMEM
 * and nothing leaks (LeakSanitizer). */
#include <math.h>
#include <stdbool.h>

#include "common/alloc.h"
#include "compute/timepoints.h"
#include "tests/fuzz/fuzz.h"

#define MAX_IMAGES 512
#define RAW_SIZE (8 + 4 + 4 + 8 + 8 + 4)
#define COMPACT_SIZE 6

static void read_raw(fuzz_reader *r, ms_timepoints_image *m)
{
	int32_t v;
	m->z = fuzz_double(r);
	fuzz_read(r, &v, sizeof(v));
	m->temporal_position = v;
	fuzz_read(r, &v, sizeof(v));
	m->acquisition_number = v;
	m->acq_time_s = fuzz_double(r);
	m->trigger_time_ms = fuzz_double(r);
	fuzz_read(r, &v, sizeof(v));
	m->frame = v;
}

static void read_compact(fuzz_reader *r, ms_timepoints_image *m, bool midnight)
{
	m->z = (int8_t)fuzz_u8(r) * 0.5;
	uint8_t keys = fuzz_u8(r);
	m->temporal_position = keys & 7;
	m->acquisition_number = (keys >> 3) & 7;
	m->frame = fuzz_u8(r) & 7;
	uint8_t at = fuzz_u8(r);
	m->acq_time_s = at == 255 ? -1 : midnight ? fmod(86390 + at * 2.5, 86400) : 36000 + at * 2.5;
	uint8_t tt = fuzz_u8(r);
	m->trigger_time_ms = tt == 255 ? -1 : tt * 100.0;
	(void)fuzz_u8(r); /* spare byte: keeps records aligned for the mutator */
}

static bool is_cleared(const ms_timepoints *t)
{
	return t->n_t == 0 && t->n_z == 0 && !t->index && !t->t_s && !t->z;
}

static void check_ok(const ms_timepoints_image *img, size_t n, const ms_timepoints *t)
{
	static bool seen[MAX_IMAGES];

	FUZZ_ASSERT(t->n_t >= 3 && t->n_z >= 1);
	FUZZ_ASSERT((size_t)t->n_t * t->n_z <= n);
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < (size_t)t->n_t * t->n_z; i++) {
		FUZZ_ASSERT(t->index[i] < n && !seen[t->index[i]]);
		seen[t->index[i]] = true;
	}
	FUZZ_ASSERT(t->t_s[0] == 0);
	for (uint32_t k = 1; k < t->n_t; k++)
		FUZZ_ASSERT(t->t_s[k] > t->t_s[k - 1]);
	for (uint32_t m = 1; m < t->n_z; m++)
		FUZZ_ASSERT(t->z[m] > t->z[m - 1]);
	for (uint32_t k = 0; k < t->n_t; k++) {
		for (uint32_t m = 0; m < t->n_z; m++)
			FUZZ_ASSERT(fabs(img[t->index[(size_t)k * t->n_z + m]].z - t->z[m]) <= 0.02);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ms_timepoints_image img[MAX_IMAGES];
	fuzz_reader r = { data, size };
	ms_timepoints t = { 0 };
	char err[256];

	fuzz_quiet();
	if (size == 0)
		return 0;
	uint8_t mode = fuzz_u8(&r);
	size_t rec = (mode & 1) ? RAW_SIZE : COMPACT_SIZE;
	size_t n = r.left / rec;
	if (n > MAX_IMAGES)
		n = MAX_IMAGES;
	for (size_t i = 0; i < n; i++) {
		memset(&img[i], 0, sizeof(img[i]));
		if (mode & 1)
			read_raw(&r, &img[i]);
		else
			read_compact(&r, &img[i], mode & 2);
	}
	size_t err_size = (mode & 4) ? 16 : sizeof(err);

	memset(err, 'x', sizeof(err));
	ms_status rc = ms_timepoints_group(img, n, &t, err, err_size);
	if (rc == MS_OK) {
		check_ok(img, n, &t);
	} else {
		FUZZ_ASSERT(rc == MS_ERR_INPUT || rc == MS_ERR_ARG);
		FUZZ_ASSERT(memchr(err, '\0', err_size) != NULL);
		FUZZ_ASSERT(is_cleared(&t));
	}
	ms_timepoints_clear(&t);

	long fail_at = mode >> 3;
	if (fail_at) {
		ms_alloc_fail_at(fail_at, 0);
		ms_status rc2 = ms_timepoints_group(img, n, &t, err, err_size);
		long injected = ms_alloc_fail_at(0, 0);
		if (injected) {
			FUZZ_ASSERT(rc2 == MS_ERR_NOMEM);
			FUZZ_ASSERT(is_cleared(&t));
		} else {
			FUZZ_ASSERT(rc2 == rc);
		}
		ms_timepoints_clear(&t);
	}
	return 0;
}
