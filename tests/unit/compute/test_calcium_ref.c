/* Calcium scoring reference (compute/calcium_ref.c) against hand-computed answers:
 * ANALYSES.md 1 tests T1-T5, category band edges, minimum-area edge cases, profiles, kVp
 * table, max HU, ROI, isotropic volume, a voxelised QRM-like insert (expected values derived
 * from the cylinder geometry in this file), parameter errors and allocation failures. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "compute/calcium_ref.h"
#include "tests/testhelp.h"

static ms_volume *vol_new(uint32_t nx, uint32_t ny, uint32_t nz, double dx, double dy, double dz)
{
	ms_volume *v = NULL;

	if (ms_volume_create(nx, ny, nz, &v) != MS_OK)
		return NULL;
	v->geom.spacing[0] = dx;
	v->geom.spacing[1] = dy;
	v->geom.spacing[2] = dz;
	return v;
}

static void set(ms_volume *v, uint32_t x, uint32_t y, uint32_t z, float hu)
{
	v->voxels[((size_t)z * v->ny + y) * v->nx + x] = hu;
}

/* Fills a w x h rectangle at (x, y) on slices z0..z1-1. */
static void rect(ms_volume *v, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t z0,
		 uint32_t z1, float hu)
{
	for (uint32_t z = z0; z < z1; z++)
		for (uint32_t j = y; j < y + h; j++)
			for (uint32_t i = x; i < x + w; i++)
				set(v, i, j, z, hu);
}

static ms_cac_params defaults(ms_cac_profile prof)
{
	ms_cac_params p;

	ms_cac_params_default(&p, prof);
	return p;
}

static void test_t1_t2(void)
{
	ms_cac_result r = { 0 };
	ms_cac_params p = defaults(MS_CAC_PROFILE_LITERATURE);

	/* T1: 20 px (4 x 5) at 250 HU on 3 contiguous 3 mm slices. */
	ms_volume *v = vol_new(16, 16, 5, 0.5, 0.5, 3.0);
	rect(v, 3, 4, 4, 5, 1, 4, 250);
	p.mass_calibration = 0.001;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_NEAR(r.agatston, 30, 1e-9);
	CHECK_NEAR(r.volume_mm3, 45, 1e-9);
	CHECK_NEAR(r.mass_mg, 11.25, 1e-9);
	CHECK_NEAR(r.sum_v_hu, 45 * 250, 1e-6);
	CHECK_EQ_INT(r.category, 2);
	CHECK_EQ_INT(r.n_lesions, 1);
	CHECK_EQ_INT(r.n_components, 3);
	CHECK_EQ_INT(r.min_pixels, 4);
	if (r.n_lesions == 1) {
		const ms_cac_lesion *l = &r.lesions[0];
		CHECK_EQ_INT(l->id, 1);
		CHECK_EQ_INT(l->n_voxels, 60);
		CHECK_NEAR(l->agatston, 30, 1e-9);
		CHECK_NEAR(l->mass_mg, 11.25, 1e-9);
		CHECK_NEAR(l->peak_hu, 250, 0);
		CHECK_NEAR(l->mean_hu, 250, 1e-9);
		CHECK_EQ_INT(l->z_first, 1);
		CHECK_EQ_INT(l->z_last, 3);
		CHECK_NEAR(l->centroid[0], 4.5, 1e-12);
		CHECK_NEAR(l->centroid[1], 6.0, 1e-12);
		CHECK_NEAR(l->centroid[2], 2.0, 1e-12);
	}
	size_t inside = 0, bad = 0;
	for (size_t i = 0; i < ms_volume_count(v); i++) {
		inside += r.lesion_map[i] == 1;
		bad += r.lesion_map[i] > 1;
	}
	CHECK_EQ_INT(inside, 60);
	CHECK_EQ_INT(bad, 0);
	CHECK(r.gpu_ms == 0);
	ms_cac_result_clear(&r);
	CHECK(r.lesions == NULL && r.lesion_map == NULL);
	ms_volume_destroy(v);

	/* T2: same object at 1.5 mm increment on 6 slices; no calibration -> mass NaN. */
	v = vol_new(16, 16, 8, 0.5, 0.5, 1.5);
	rect(v, 3, 4, 4, 5, 1, 7, 250);
	p.mass_calibration = 0;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_NEAR(r.agatston, 30, 1e-9);
	CHECK_NEAR(r.volume_mm3, 45, 1e-9);
	CHECK(isnan(r.mass_mg));
	CHECK_EQ_INT(r.n_lesions, 1);
	if (r.n_lesions == 1)
		CHECK(isnan(r.lesions[0].mass_mg));
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);
}

static void test_t3_t4_t5(void)
{
	ms_cac_result r = { 0 };
	ms_cac_params p = defaults(MS_CAC_PROFILE_LITERATURE);

	/* T3: 3 px (0.75 mm2) -> nothing by default, counted by Canon (n >= 3). */
	ms_volume *v = vol_new(8, 8, 1, 0.5, 0.5, 3.0);
	set(v, 2, 2, 0, 250);
	set(v, 3, 2, 0, 250);
	set(v, 3, 3, 0, 250);
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 0);
	CHECK_NEAR(r.agatston, 0, 0);
	CHECK_EQ_INT(r.category, 0);
	CHECK_EQ_INT(r.n_components, 1);
	p = defaults(MS_CAC_PROFILE_CANON);
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 1);
	CHECK_NEAR(r.agatston, 3 * 0.25 * 2, 1e-12);
	CHECK_EQ_INT(r.min_pixels, 3);
	ms_volume_destroy(v);

	/* T4: 20-px components with peaks 129.9 / 199.9 / 200.0 -> excluded / w 1 / w 2. */
	v = vol_new(32, 8, 1, 0.5, 0.5, 3.0);
	p = defaults(MS_CAC_PROFILE_LITERATURE);
	rect(v, 1, 1, 4, 5, 0, 1, 129.9f);
	rect(v, 10, 1, 4, 5, 0, 1, 150);
	set(v, 11, 2, 0, 199.9f);
	rect(v, 20, 1, 4, 5, 0, 1, 150);
	set(v, 21, 3, 0, 200.0f);
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 2);
	if (r.n_lesions == 2) {
		CHECK_NEAR(r.lesions[0].agatston, 20 * 0.25 * 1, 1e-12);
		CHECK_NEAR(r.lesions[1].agatston, 20 * 0.25 * 2, 1e-12);
		CHECK_NEAR(r.lesions[0].peak_hu, 199.9f, 0);
	}
	CHECK_NEAR(r.agatston, 15, 1e-12);
	ms_volume_destroy(v);

	/* T5: two 2x2 squares touching only at a corner. */
	v = vol_new(8, 8, 1, 0.5, 0.5, 3.0);
	rect(v, 1, 1, 2, 2, 0, 1, 300);
	rect(v, 3, 3, 2, 2, 0, 1, 300);
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 2);
	CHECK_EQ_INT(r.n_components, 2);
	CHECK_NEAR(r.agatston, 2 * 4 * 0.25 * 3, 1e-12);
	p.connectivity = 8;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 1);
	CHECK_EQ_INT(r.n_components, 1);
	CHECK_NEAR(r.agatston, 8 * 0.25 * 3, 1e-12);
	ms_volume_destroy(v);

	/* Diagonal across slices is not adjacency: a staircase is 3 lesions, even with 8-conn. */
	v = vol_new(8, 8, 3, 0.5, 0.5, 3.0);
	rect(v, 0, 0, 2, 2, 0, 1, 300);
	rect(v, 2, 2, 2, 2, 1, 2, 300);
	rect(v, 4, 4, 2, 2, 2, 3, 300);
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 3);
	ms_volume_destroy(v);
	ms_cac_result_clear(&r);
}

/* A single-slice blob of n pixels (rows of 32) at 'hu', 0.5 mm pixels, 3 mm slices. */
static double blob_score(uint32_t n, float hu, int *category)
{
	ms_cac_result r = { 0 };
	ms_cac_params p = defaults(MS_CAC_PROFILE_LITERATURE);
	ms_volume *v = vol_new(32, 32, 1, 0.5, 0.5, 3.0);
	double a = -1;

	for (uint32_t i = 0; i < n; i++)
		v->voxels[i] = hu;
	if (ms_cac_ref(v, NULL, &p, &r) == MS_OK) {
		a = r.agatston;
		*category = r.category;
	}
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);
	return a;
}

static void test_categories(void)
{
	static const struct {
		uint32_t n;
		float hu;
		double a;
		int cat;
	} cases[] = {
		{ 0, 0, 0, 0 },       { 4, 150, 1, 1 },     { 40, 150, 10, 1 },  { 44, 150, 11, 2 },
		{ 400, 150, 100, 2 }, { 404, 150, 101, 3 }, { 400, 400, 400, 3 }, { 401, 400, 401, 4 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int cat = -1;
		double a = blob_score(cases[i].n, cases[i].hu, &cat);
		CHECK_NEAR(a, cases[i].a, 1e-9);
		CHECK_EQ_INT(cat, cases[i].cat);
	}
	CHECK_EQ_INT(ms_cac_category(0.49), 0);
	CHECK_EQ_INT(ms_cac_category(0.5), 1);
	CHECK_EQ_INT(ms_cac_category(10.49), 1);
	CHECK_EQ_INT(ms_cac_category(10.5), 2);
	CHECK_EQ_INT(ms_cac_category(100.49), 2);
	CHECK_EQ_INT(ms_cac_category(100.5), 3);
	CHECK_EQ_INT(ms_cac_category(400.49), 3);
	CHECK_EQ_INT(ms_cac_category(400.5), 4);
	CHECK_STR(ms_cac_stage_name(0), "upload");
	CHECK_STR(ms_cac_stage_name(2), "ccl");
	CHECK_STR(ms_cac_stage_name(8), "?");
}

/* Lesions kept from a slice with a 'n'-pixel row at given spacing and parameters. */
static size_t kept(uint32_t n, double dx, double dy, const ms_cac_params *p)
{
	ms_cac_result r = { 0 };
	ms_volume *v = vol_new(16, 4, 1, dx, dy, 3.0);
	size_t k = (size_t)-1;

	rect(v, 1, 1, n, 1, 0, 1, 300);
	if (ms_cac_ref(v, NULL, p, &r) == MS_OK)
		k = r.n_lesions;
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);
	return k;
}

static void test_min_area(void)
{
	ms_cac_params p = defaults(MS_CAC_PROFILE_LITERATURE);

	CHECK_EQ_INT(kept(4, 0.5, 0.5, &p), 1); /* exactly 1 mm2 */
	CHECK_EQ_INT(kept(3, 0.5, 0.5, &p), 0);
	CHECK_EQ_INT(kept(3, 0.6, 0.6, &p), 1); /* 1/0.36 = 2.8 -> 3 */
	CHECK_EQ_INT(kept(2, 0.6, 0.6, &p), 0);
	CHECK_EQ_INT(kept(2, 1.0, 0.5, &p), 1); /* anisotropic pixels */
	CHECK_EQ_INT(kept(1, 1.0, 0.5, &p), 0);
	CHECK_EQ_INT(kept(1, 1.2, 1.0, &p), 1);
	/* 0.0108 / (0.06 * 0.06) = 3.0000000000000004 in doubles: must still need 3 pixels. */
	p.min_area_mm2 = 0.0108;
	CHECK_EQ_INT(kept(3, 0.06, 0.06, &p), 1);
	CHECK_EQ_INT(kept(2, 0.06, 0.06, &p), 0);
	p = defaults(MS_CAC_PROFILE_SIEMENS);
	CHECK_EQ_INT(kept(1, 0.5, 0.5, &p), 1);
	p = defaults(MS_CAC_PROFILE_PHILIPS);
	CHECK_EQ_INT(kept(2, 0.5, 0.5, &p), 1);
	CHECK_EQ_INT(kept(1, 0.5, 0.5, &p), 0);
	p = defaults(MS_CAC_PROFILE_GE);
	CHECK_EQ_INT(kept(4, 0.5, 0.5, &p), 1);
	CHECK_EQ_INT(kept(3, 0.5, 0.5, &p), 0);
	p = defaults(MS_CAC_PROFILE_CANON);
	CHECK_EQ_INT(kept(3, 0.5, 0.5, &p), 1);
	CHECK_EQ_INT(kept(2, 0.5, 0.5, &p), 0);
	CHECK_EQ_INT(kept(2, 2.0, 2.0, &p), 0); /* min_pixels wins over a tiny area */
	/* A component below the area on one slice is dropped even if the lesion continues. */
	ms_cac_result r = { 0 };
	p = defaults(MS_CAC_PROFILE_LITERATURE);
	ms_volume *v = vol_new(8, 8, 2, 0.5, 0.5, 3.0);
	rect(v, 1, 1, 3, 3, 0, 1, 300);
	rect(v, 1, 1, 1, 2, 1, 2, 300);
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 1);
	if (r.n_lesions == 1)
		CHECK_EQ_INT(r.lesions[0].n_voxels, 9);
	CHECK_EQ_INT(r.lesion_map[64 + 9], 0);
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);
}

static void test_options(void)
{
	ms_cac_result r = { 0 };
	ms_cac_params p = defaults(MS_CAC_PROFILE_LITERATURE);
	ms_volume *v = vol_new(32, 8, 3, 0.5, 0.5, 3.0);

	/* Lesion A (150 HU), B (metal on its middle slice), C (140 HU, below 145 at 100 kV). */
	rect(v, 1, 1, 4, 4, 0, 3, 150);
	rect(v, 10, 1, 4, 4, 0, 3, 500);
	set(v, 11, 2, 1, 3000);
	rect(v, 20, 1, 4, 4, 0, 1, 140);
	set(v, 21, 1, 0, 230);
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 2); /* B dropped as a whole */
	CHECK_NEAR(r.agatston, 3 * 4 + 4 * 2, 1e-9);
	CHECK_EQ_INT(r.lesion_map[(size_t)1 * 256 + 2 * 32 + 11], 0);
	CHECK_EQ_INT(r.lesion_map[2 * 32 + 11], 0);
	CHECK_EQ_INT(r.lesion_map[1 * 32 + 20], 2);
	p.max_hu = 0;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 3);
	CHECK_NEAR(r.agatston, 3 * 4 + 3 * 16 + 4 * 2, 1e-9);
	CHECK_EQ_INT(r.lesion_map[(size_t)1 * 256 + 2 * 32 + 11], 2);
	CHECK_EQ_INT(r.lesion_map[1 * 32 + 20], 3);

	/* 100 kV table: threshold 145, edges 222/334/446: A's 150 HU -> w 1, B's 500 -> w 4; C's
	 * 140 HU pixels are no longer candidates. */
	p.kvp_adjust = true;
	p.kvp = 100;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_NEAR(r.threshold_hu, 145, 0);
	CHECK_NEAR(r.weight_edges[2], 446, 0);
	CHECK_EQ_INT(r.n_lesions, 2); /* C is one 230 HU pixel now: below 1 mm2 */
	CHECK_NEAR(r.agatston, 3 * 4 * 1 + 3 * 4 * 4, 1e-9);
	p.kvp = 90;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_ERR_ARG);
	CHECK(r.lesions == NULL && r.lesion_map == NULL);
	p.kvp_adjust = false;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK); /* only a warning */

	/* ROI: only lesion A's columns. */
	uint8_t *roi = ms_calloc(ms_volume_count(v), 1);
	for (uint32_t z = 0; z < 3; z++)
		for (uint32_t y = 0; y < 8; y++)
			for (uint32_t x = 0; x < 8; x++)
				roi[(z * 8 + y) * 32 + x] = 1;
	p.max_hu = 2000;
	CHECK_EQ_INT(ms_cac_ref(v, roi, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 1);
	CHECK_NEAR(r.agatston, 12, 1e-9);
	ms_free(roi);

	/* Threshold change: 145 HU as the plain threshold. */
	p.threshold_hu = 145;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 1);
	CHECK_NEAR(r.agatston, 12, 1e-9);

	/* Invalid parameters. */
	ms_cac_params bad = defaults(MS_CAC_PROFILE_LITERATURE);
	bad.connectivity = 6;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &bad, &r), MS_ERR_ARG);
	bad = defaults(MS_CAC_PROFILE_LITERATURE);
	bad.threshold_hu = 0;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &bad, &r), MS_ERR_ARG);
	bad = defaults(MS_CAC_PROFILE_LITERATURE);
	bad.volume_method = 2;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &bad, &r), MS_ERR_ARG);
	bad = defaults(MS_CAC_PROFILE_LITERATURE);
	bad.min_area_mm2 = NAN;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &bad, &r), MS_ERR_ARG);
	v->geom.spacing[2] = 0;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_ERR_ARG);
	CHECK_EQ_INT(ms_cac_ref(NULL, NULL, &p, &r), MS_ERR_ARG);
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);

	/* Non-finite voxels are never candidates. */
	v = vol_new(8, 8, 1, 0.5, 0.5, 3.0);
	rect(v, 0, 0, 2, 2, 0, 1, INFINITY);
	rect(v, 4, 4, 2, 2, 0, 1, NAN);
	p = defaults(MS_CAC_PROFILE_LITERATURE);
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_components, 0);
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);
}

static void test_zero_and_long(void)
{
	ms_cac_result r = { 0 };
	ms_cac_params p = defaults(MS_CAC_PROFILE_LITERATURE);
	ms_volume *v = vol_new(20, 10, 6, 0.5, 0.5, 3.0);

	p.mass_calibration = 0.001;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 0);
	CHECK_NEAR(r.agatston, 0, 0);
	CHECK_NEAR(r.volume_mm3, 0, 0);
	CHECK_NEAR(r.mass_mg, 0, 0);
	CHECK_EQ_INT(r.category, 0);
	CHECK(r.lesions != NULL && r.lesion_map != NULL);
	size_t nz = 0;
	for (size_t i = 0; r.lesion_map && i < ms_volume_count(v); i++)
		nz += r.lesion_map[i] != 0;
	CHECK_EQ_INT(nz, 0);

	/* A snake over all 6 slices that moves sideways while keeping a shared pixel, plus a
	 * U shape whose arms only join on the last slice: 2 lesions, ordered by lowest voxel. */
	for (uint32_t z = 0; z < 6; z++)
		rect(v, z, 0, 3, 2, z, z + 1, 300);
	rect(v, 12, 5, 2, 2, 0, 6, 250);
	rect(v, 16, 5, 2, 2, 0, 6, 250);
	rect(v, 12, 5, 6, 2, 5, 6, 250);
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 2);
	CHECK_EQ_INT(r.n_components, 6 + 5 * 2 + 1);
	if (r.n_lesions == 2) {
		CHECK_EQ_INT(r.lesions[0].n_voxels, 36);
		CHECK_EQ_INT(r.lesions[0].z_first, 0);
		CHECK_EQ_INT(r.lesions[0].z_last, 5);
		CHECK_NEAR(r.lesions[0].agatston, 36 * 0.25 * 3, 1e-9);
		CHECK_EQ_INT(r.lesions[1].n_voxels, 5 * 8 + 12);
		CHECK_NEAR(r.lesions[1].agatston, 52 * 0.25 * 2, 1e-9);
	}
	CHECK_EQ_INT(r.lesion_map[5 * 20 + 12], 2);
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);
}

/* Isotropic volume: a 20-px column on slices 1..3 of 5 (3 mm): interpolated slices every
 * 0.5 mm hold the blob where (1-f)*a + f*b >= 130. */
static void test_isotropic(void)
{
	ms_cac_result r = { 0 };
	ms_cac_params p = defaults(MS_CAC_PROFILE_LITERATURE);
	ms_volume *v = vol_new(16, 16, 5, 0.5, 0.5, 3.0);
	rect(v, 3, 4, 4, 5, 1, 4, 250);

	p.volume_method = 1;
	p.mass_calibration = 0.001;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	int n_iso = 0;
	for (int j = 0; j <= 24; j++) {
		double z = j * 0.5, s = z / 3.0;
		int k0 = (int)floor(s);
		double f = s - k0;
		double a = k0 >= 1 && k0 <= 3 ? 250 : 0, b = k0 + 1 >= 1 && k0 + 1 <= 3 ? 250 : 0;
		n_iso += (1 - f) * a + f * b >= 130;
	}
	CHECK_EQ_INT(n_iso, 17);
	CHECK_NEAR(r.volume_mm3, n_iso * 20 * 0.125, 1e-9);
	CHECK_NEAR(r.agatston, 30, 1e-9); /* unchanged by the volume method */
	CHECK_NEAR(r.mass_mg, 0.001 * n_iso * 20 * 0.125 * 250, 1e-9);
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);
}

/* QRM-like insert: 9 cylinders (axis along z, diameter = length = 1/3/5 mm) at 200/400/800 HU
 * (c = 0.001 mg/mm3/HU maps them to 200/400/800 mg HA/cm3), 0.5 mm pixels. Expected values
 * come from counting pixel centres inside each disc and slice centres inside each length. */
static void test_qrm(double dz)
{
	static const double diam[3] = { 1, 3, 5 };
	static const float dens[3] = { 200, 400, 800 };
	const double dx = 0.5, z0 = 2.5;
	uint32_t nx = 100, ny = 100, nz = (uint32_t)ceil(10 / dz);
	ms_volume *v = vol_new(nx, ny, nz, dx, dx, dz);
	double exp_a = 0, exp_v = 0, exp_m = 0;
	size_t exp_lesions = 0;

	for (int di = 0; di < 3; di++) {
		for (int hi = 0; hi < 3; hi++) {
			double cx = 9 + 16 * di + 0.25 * hi, cy = 9 + 16 * hi, r = diam[di] / 2;
			double len = diam[di];
			size_t disc = 0, slices = 0;
			for (uint32_t z = 0; z < nz; z++) {
				double zc = z * dz;
				if (zc < z0 || zc >= z0 + len)
					continue;
				slices++;
				for (uint32_t y = 0; y < ny; y++) {
					for (uint32_t x = 0; x < nx; x++) {
						double ddx = x * dx - cx, ddy = y * dx - cy;
						if (ddx * ddx + ddy * ddy <= r * r)
							set(v, x, y, z, dens[hi]);
					}
				}
			}
			for (uint32_t y = 0; y < ny; y++) {
				for (uint32_t x = 0; x < nx; x++) {
					double ddx = x * dx - cx, ddy = y * dx - cy;
					disc += ddx * ddx + ddy * ddy <= r * r;
				}
			}
			/* Geometric bound: pixel centres within r cover between the discs of radius
			 * r -/+ half a pixel diagonal; slice centres within the length cover it to
			 * within one increment. */
			double h = dx * sqrt(0.5), true_v = M_PI * r * r * len;
			double vv = disc * dx * dx * slices * dz;
			double lo = M_PI * fmax(r - h, 0) * fmax(r - h, 0) * fmax(len - dz, 0);
			double hi_b = M_PI * (r + h) * (r + h) * (len + dz);
			CHECK(vv >= lo && vv <= hi_b);
			CHECK(true_v >= lo && true_v <= hi_b);
			if (disc < 4 || slices == 0)
				continue;
			exp_lesions++;
			int w = dens[hi] >= 400 ? 4 : 2;
			exp_a += dz / 3 * slices * disc * dx * dx * w;
			exp_v += vv;
			exp_m += 0.001 * vv * dens[hi];
		}
	}
	ms_cac_result r = { 0 };
	ms_cac_params p = defaults(MS_CAC_PROFILE_LITERATURE);
	p.mass_calibration = 0.001;
	CHECK_EQ_INT(ms_cac_ref(v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, exp_lesions);
	CHECK_NEAR(r.agatston, exp_a, 1e-9 * exp_a);
	CHECK_NEAR(r.volume_mm3, exp_v, 1e-9 * exp_v);
	CHECK_NEAR(r.mass_mg, exp_m, 1e-9 * exp_m);
	/* With thin slices the total volume is near the true 3*(98.17+21.21+0.785) mm3. */
	if (dz <= 0.5)
		CHECK_NEAR(r.volume_mm3, 3 * M_PI / 4 * (1 + 27 + 125), 0.15 * 3 * M_PI / 4 * 153);
	printf("QRM dz=%.1f: %zu lesions, A %.2f, V %.2f mm3, m %.2f mg\n", dz, r.n_lesions, r.agatston,
	       r.volume_mm3, r.mass_mg);
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);
}

/* Every allocation failure returns MS_ERR_NOMEM with a cleared result. */
static void test_alloc_failures(void)
{
	ms_cac_params p = defaults(MS_CAC_PROFILE_LITERATURE);
	ms_volume *v = vol_new(16, 16, 5, 0.5, 0.5, 3.0);
	rect(v, 3, 4, 4, 5, 1, 4, 250);
	rect(v, 10, 10, 1, 1, 1, 2, 3000);
	p.volume_method = 1;
	int bad = 0, runs = 0;

	for (long n = 1; n < 1000; n++) {
		ms_cac_result r = { 0 };
		ms_alloc_fail_at(n, 0);
		ms_status rc = ms_cac_ref(v, NULL, &p, &r);
		long injected = ms_alloc_fail_at(0, 0);
		runs++;
		if (injected == 0) {
			bad += rc != MS_OK;
			ms_cac_result_clear(&r);
			break;
		}
		bad += rc != MS_ERR_NOMEM || r.lesions || r.lesion_map;
		ms_cac_result_clear(&r);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(runs > 5);
	ms_volume_destroy(v);
}

int main(void)
{
	test_t1_t2();
	test_t3_t4_t5();
	test_categories();
	test_min_area();
	test_options();
	test_zero_and_long();
	test_isotropic();
	test_qrm(0.5);
	test_qrm(3.0);
	test_alloc_failures();
	return TEST_REPORT();
}
