/* libFuzzer target: ms_geometry_sort on arbitrary slice records.
 *
 * Input: one mode byte, then fixed-size records until the input ends (at most 256 slices).
 *   mode bit 0: raw records (93 bytes: 11 doubles as stored, rows, cols, flags), so NaN,
 *               infinities and denormals reach the checks; else compact records (12 bytes:
 *               orientation choice, IPP in 1/8 mm steps, spacing, size, flags) that form
 *               plausible stacks, so the sorting and spacing checks are reached often.
 *   mode bit 1: tolerances from the next 4 doubles instead of the defaults.
 *   mode bit 2: a 16-byte message buffer (truncation) instead of 512 bytes.
 * Invariants on MS_OK: order is a permutation; the ordered positions increase strictly along
 * the normal; spacing, origin and normal are finite, the spacing positive and the normal a unit
 * vector. On failure: MS_ERR_INPUT or MS_ERR_NOMEM with a NUL-terminated message. */
#include <math.h>
#include <stdbool.h>

#include "compute/geometry.h"
#include "tests/fuzz/fuzz.h"

#define MAX_SLICES 256
#define RAW_SIZE (11 * 8 + 2 + 2 + 1)
#define COMPACT_SIZE 12

static const double orientations[4][6] = {
	{ 1, 0, 0, 0, 1, 0 },                       /* axial */
	{ 1, 0, 0, 0, 0, -1 },                      /* coronal */
	{ 0, 1, 0, 0, 0, -1 },                      /* sagittal */
	{ 1, 0, 0, 0, 0.955336489, 0.295520207 },   /* oblique: 0.3 rad about x */
};

static void read_flags(ms_slice_geom *s, uint8_t f, size_t i)
{
	static const char *labels[] = { "a", "b", "c", "d" };
	/* A set bit removes the tag, so most records carry all three. */
	s->has_ipp = !(f & 1);
	s->has_iop = !(f & 2);
	s->has_pixel_spacing = !(f & 4);
	s->label = (f & 8) ? NULL : labels[i & 3];
}

static void read_raw(fuzz_reader *r, ms_slice_geom *s, size_t i)
{
	for (int k = 0; k < 3; k++)
		s->ipp[k] = fuzz_double(r);
	for (int k = 0; k < 6; k++)
		s->iop[k] = fuzz_double(r);
	for (int k = 0; k < 2; k++)
		s->pixel_spacing[k] = fuzz_double(r);
	uint16_t rows, cols;
	fuzz_read(r, &rows, sizeof(rows));
	fuzz_read(r, &cols, sizeof(cols));
	s->rows = rows;
	s->cols = cols;
	read_flags(s, fuzz_u8(r), i);
}

static void read_compact(fuzz_reader *r, ms_slice_geom *s, size_t i)
{
	uint8_t o = fuzz_u8(r);
	for (int k = 0; k < 6; k++)
		s->iop[k] = orientations[o & 3][k];
	if (o & 4)
		s->iop[1] += (o >> 3) * 1e-5; /* around orient_tol */
	for (int k = 0; k < 3; k++) {
		int16_t v;
		fuzz_read(r, &v, sizeof(v));
		s->ipp[k] = v * 0.125;
	}
	s->pixel_spacing[0] = fuzz_u8(r) * 0.05;
	s->pixel_spacing[1] = fuzz_u8(r) * 0.05;
	s->rows = fuzz_u8(r);
	s->cols = fuzz_u8(r);
	read_flags(s, fuzz_u8(r), i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ms_slice_geom s[MAX_SLICES];
	static size_t order[MAX_SLICES];
	fuzz_reader r = { data, size };
	ms_geometry_opts opts, *popts = NULL;
	ms_geometry g;
	char err[512];

	fuzz_quiet();
	if (size == 0)
		return 0;
	uint8_t mode = fuzz_u8(&r);
	if (mode & 2) {
		opts.spacing_rel_tol = fuzz_double(&r);
		opts.spacing_abs_tol = fuzz_double(&r);
		opts.orient_tol = fuzz_double(&r);
		opts.tilt_tol_deg = fuzz_double(&r);
		popts = &opts;
	}
	size_t rec = (mode & 1) ? RAW_SIZE : COMPACT_SIZE;
	size_t n = r.left / rec;
	if (n > MAX_SLICES)
		n = MAX_SLICES;
	memset(s, 0, sizeof(s));
	for (size_t i = 0; i < n; i++) {
		if (mode & 1)
			read_raw(&r, &s[i], i);
		else
			read_compact(&r, &s[i], i);
	}
	size_t errlen = (mode & 4) ? 16 : sizeof(err);
	memset(err, 'x', sizeof(err));
	for (size_t i = 0; i < MAX_SLICES; i++)
		order[i] = (size_t)-1;

	ms_status rc = ms_geometry_sort(s, n, popts, order, &g, err, errlen);
	if (rc != MS_OK) {
		FUZZ_ASSERT(rc == MS_ERR_INPUT || rc == MS_ERR_NOMEM);
		FUZZ_ASSERT(memchr(err, '\0', errlen) != NULL);
		return 0;
	}
	FUZZ_ASSERT(n >= 2);
	bool seen[MAX_SLICES] = { false };
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(order[i] < n && !seen[order[i]]);
		seen[order[i]] = true;
	}
	for (int k = 0; k < 3; k++) {
		FUZZ_ASSERT(isfinite(g.spacing[k]) && g.spacing[k] > 0);
		FUZZ_ASSERT(isfinite(g.origin[k]) && isfinite(g.normal[k]));
	}
	double nn = g.normal[0] * g.normal[0] + g.normal[1] * g.normal[1] + g.normal[2] * g.normal[2];
	FUZZ_ASSERT(fabs(nn - 1) < 1e-6);
	for (size_t i = 1; i < n; i++) {
		const double *a = s[order[i - 1]].ipp, *b = s[order[i]].ipp;
		double za = a[0] * g.normal[0] + a[1] * g.normal[1] + a[2] * g.normal[2];
		double zb = b[0] * g.normal[0] + b[1] * g.normal[1] + b[2] * g.normal[2];
		FUZZ_ASSERT(zb > za);
	}
	return 0;
}
