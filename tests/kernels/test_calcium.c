/* Calcium kernels (shaders/calcium_*.comp via ms_cac_gpu) against the C reference ms_cac_ref:
 * identical component and lesion counts, identical lesion map, per-lesion voxel count, peak
 * and slice range exact; Agatston, volume, mass, sum V*HU, mean HU and centroids within 1e-6
 * relative. Sizes 1x1x1, 1xN, Nx1, workgroup +-1 widths, no candidates, all candidates,
 * 2-D and 3-D checkerboards (worst case for union-find), random blobs with random HU, ROI,
 * 4/8-connectivity, forced small chunks (lesions across chunk borders), kVp table, isotropic
 * volume, non-finite voxels, and a volume larger than maxStorageBufferRange
 * (MS_CAC_LARGE_NZ slices of 512x512, default 140). Exits 77 without a Vulkan device;
 * MS_VK_DEVICE picks the device (default "auto"). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "compute/calcium.h"
#include "compute/calcium_ref.h"
#include "tests/testhelp.h"

static ms_vk_context *ctx;
static uint32_t rng_state = 2463534242u;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static ms_volume *vol_new(uint32_t nx, uint32_t ny, uint32_t nz, float fill)
{
	ms_volume *v = NULL;

	if (ms_volume_create(nx, ny, nz, &v) != MS_OK)
		return NULL;
	v->geom.spacing[0] = 0.5;
	v->geom.spacing[1] = 0.45;
	v->geom.spacing[2] = 1.5;
	for (size_t i = 0; i < ms_volume_count(v); i++)
		v->voxels[i] = fill;
	return v;
}

static bool rel_ok(double got, double want)
{
	if (isnan(got) || isnan(want))
		return isnan(got) && isnan(want);
	double scale = fabs(want) > 1 ? fabs(want) : 1;
	return fabs(got - want) <= 1e-6 * scale;
}

/* Runs both implementations and compares everything; returns the GPU result's lesion count. */
static size_t compare(const char *label, const ms_volume *v, const uint8_t *roi,
		      const ms_cac_params *p)
{
	ms_cac_result ref = { 0 }, gpu = { 0 };
	double t0 = now_ms();
	ms_status rc_ref = ms_cac_ref(v, roi, p, &ref);
	double t1 = now_ms();
	ms_status rc_gpu = ms_cac_gpu(ctx, v, roi, p, &gpu);
	double t2 = now_ms();
	size_t n = ms_volume_count(v), map_bad = 0, les_bad = 0;

	CHECK_EQ_INT(rc_ref, MS_OK);
	CHECK_EQ_INT(rc_gpu, MS_OK);
	if (rc_ref != MS_OK || rc_gpu != MS_OK)
		goto out;
	CHECK_EQ_INT(gpu.n_components, ref.n_components);
	CHECK_EQ_INT(gpu.n_lesions, ref.n_lesions);
	CHECK_EQ_INT(gpu.category, ref.category);
	CHECK_EQ_INT(gpu.min_pixels, ref.min_pixels);
	for (size_t i = 0; i < n; i++) {
		if (gpu.lesion_map[i] != ref.lesion_map[i] && map_bad++ < 5)
			fprintf(stderr, "%s: map[%zu] gpu %u ref %u\n", label, i, gpu.lesion_map[i],
				ref.lesion_map[i]);
	}
	CHECK_EQ_INT(map_bad, 0);
	for (size_t i = 0; i < ref.n_lesions && gpu.n_lesions == ref.n_lesions; i++) {
		const ms_cac_lesion *g = &gpu.lesions[i], *r = &ref.lesions[i];
		bool ok = g->id == r->id && g->n_voxels == r->n_voxels && g->peak_hu == r->peak_hu &&
			  g->z_first == r->z_first && g->z_last == r->z_last &&
			  rel_ok(g->agatston, r->agatston) && rel_ok(g->volume_mm3, r->volume_mm3) &&
			  rel_ok(g->mass_mg, r->mass_mg) && rel_ok(g->sum_v_hu, r->sum_v_hu) &&
			  rel_ok(g->mean_hu, r->mean_hu);
		for (int k = 0; k < 3; k++)
			ok = ok && fabs(g->centroid[k] - r->centroid[k]) <= 1e-6 * (1 + fabs(r->centroid[k]));
		if (!ok && les_bad++ < 5)
			fprintf(stderr, "%s: lesion %zu: gpu id %u n %u peak %.9g A %.9g V %.9g mean %.9g "
				"z %u-%u c %.6f,%.6f,%.6f; ref id %u n %u peak %.9g A %.9g V %.9g mean %.9g "
				"z %u-%u c %.6f,%.6f,%.6f\n",
				label, i, g->id, g->n_voxels, g->peak_hu, g->agatston, g->volume_mm3,
				g->mean_hu, g->z_first, g->z_last, g->centroid[0], g->centroid[1],
				g->centroid[2], r->id, r->n_voxels, r->peak_hu, r->agatston, r->volume_mm3,
				r->mean_hu, r->z_first, r->z_last, r->centroid[0], r->centroid[1],
				r->centroid[2]);
	}
	CHECK_EQ_INT(les_bad, 0);
	CHECK(rel_ok(gpu.agatston, ref.agatston));
	CHECK(rel_ok(gpu.volume_mm3, ref.volume_mm3));
	CHECK(rel_ok(gpu.mass_mg, ref.mass_mg));
	CHECK(rel_ok(gpu.sum_v_hu, ref.sum_v_hu));
	if (ref.n_components && ms_vk_context_timestamp_bits(ctx))
		CHECK(gpu.gpu_ms > 0);
	printf("%-26s %4ux%4ux%4u comps %-8u lesions %-6zu A %-12.3f ref %8.1f ms  gpu %8.1f ms "
	       "(kernels %.1f ms)\n",
	       label, v->nx, v->ny, v->nz, ref.n_components, ref.n_lesions, ref.agatston, t1 - t0,
	       t2 - t1, gpu.gpu_ms);
out:;
	size_t nl = gpu.n_lesions;
	ms_cac_result_clear(&ref);
	ms_cac_result_clear(&gpu);
	return nl;
}

static ms_cac_params params(ms_cac_profile prof, int conn, uint32_t chunk)
{
	ms_cac_params p;

	ms_cac_params_default(&p, prof);
	p.connectivity = conn;
	p.chunk_slices = chunk;
	p.mass_calibration = 0.00095;
	return p;
}

static void test_small(void)
{
	ms_cac_params p = params(MS_CAC_PROFILE_SIEMENS, 4, 0);
	ms_volume *v = vol_new(1, 1, 1, 250);

	CHECK_EQ_INT(compare("1x1x1 candidate", v, NULL, &p), 1);
	v->voxels[0] = 100;
	CHECK_EQ_INT(compare("1x1x1 none", v, NULL, &p), 0);
	ms_volume_destroy(v);

	/* 1 x N x 1 and N x 1 x 1 with runs separated by gaps, and N x 1 x 3. */
	static const uint32_t ns[] = { 255, 256, 257, 1000 };
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		ms_volume *col = vol_new(1, ns[k], 1, 0), *row = vol_new(ns[k], 1, 3, 0);
		for (uint32_t i = 0; i < ns[k]; i++)
			col->voxels[i] = (i / 7) % 2 ? 131.0f + (float)i : 20.0f;
		for (size_t i = 0; i < ms_volume_count(row); i++)
			row->voxels[i] = rnd() % 3 ? 140.0f + (float)(rnd() % 300) : 0.0f;
		compare("1xNx1 runs", col, NULL, &p);
		compare("Nx1x3 random", row, NULL, &p);
		ms_volume_destroy(col);
		ms_volume_destroy(row);
	}
	/* Widths around the 256-thread workgroup and the lavapipe subgroup of 8. */
	static const uint32_t w[] = { 7, 8, 9, 255, 256, 257 };
	for (size_t k = 0; k < sizeof(w) / sizeof(w[0]); k++) {
		ms_volume *b = vol_new(w[k], 5, 4, 0);
		for (size_t i = 0; i < ms_volume_count(b); i++)
			b->voxels[i] = rnd() % 2 ? 130.0f + (float)(rnd() % 500) : -50.0f;
		compare("width wg+-1 random", b, NULL, &p);
		ms_cac_params p8 = params(MS_CAC_PROFILE_LITERATURE, 8, 1);
		compare("width wg+-1 8-conn chunk1", b, NULL, &p8);
		ms_volume_destroy(b);
	}
}

static void test_extremes(void)
{
	ms_cac_params p = params(MS_CAC_PROFILE_LITERATURE, 4, 0);
	ms_volume *v = vol_new(64, 48, 6, -1000);

	CHECK_EQ_INT(compare("no candidates", v, NULL, &p), 0);
	for (size_t i = 0; i < ms_volume_count(v); i++)
		v->voxels[i] = 130.0f + (float)(i % 1000) * 0.37f;
	CHECK_EQ_INT(compare("all candidates", v, NULL, &p), 1);
	p.chunk_slices = 1;
	CHECK_EQ_INT(compare("all candidates chunk1", v, NULL, &p), 1);
	p.max_hu = 400; /* the single lesion holds 499.63 HU: dropped */
	CHECK_EQ_INT(compare("all candidates max_hu", v, NULL, &p), 0);
	ms_volume_destroy(v);

	/* Checkerboards: 2-D (same phase on every slice: columns link through z) and 3-D. */
	v = vol_new(67, 61, 5, 0);
	ms_volume *v3 = vol_new(67, 61, 5, 0);
	for (uint32_t z = 0; z < 5; z++)
		for (uint32_t y = 0; y < 61; y++)
			for (uint32_t x = 0; x < 67; x++) {
				size_t i = ((size_t)z * 61 + y) * 67 + x;
				v->voxels[i] = (x + y) % 2 ? 200.0f + (float)(i % 97) : 0.0f;
				v3->voxels[i] = (x + y + z) % 2 ? 350.5f : 0.0f;
			}
	ms_cac_params s = params(MS_CAC_PROFILE_SIEMENS, 4, 0);
	compare("checkerboard 2-D 4-conn", v, NULL, &s);
	compare("checkerboard 3-D 4-conn", v3, NULL, &s);
	s.chunk_slices = 2;
	compare("checkerboard 3-D chunk2", v3, NULL, &s);
	s = params(MS_CAC_PROFILE_SIEMENS, 8, 0);
	compare("checkerboard 2-D 8-conn", v, NULL, &s);
	/* Opposite phases on adjacent slices share no pixel: one lesion per slice. */
	CHECK_EQ_INT(compare("checkerboard 3-D 8-conn", v3, NULL, &s), 5);
	s.chunk_slices = 1;
	compare("checkerboard 3-D 8-conn c1", v3, NULL, &s);
	ms_volume_destroy(v3);

	/* Non-finite voxels: never candidates. */
	for (size_t i = 0; i < ms_volume_count(v); i += 3)
		v->voxels[i] = i % 2 ? INFINITY : NAN;
	compare("non-finite", v, NULL, &p);
	ms_volume_destroy(v);
}

/* Random blobs (ellipsoids) with random HU (fractional, some metal), on noise that
 * sometimes crosses the threshold. */
static ms_volume *random_blobs(uint32_t nx, uint32_t ny, uint32_t nz, int n_blobs)
{
	ms_volume *v = vol_new(nx, ny, nz, 0);

	if (!v)
		return NULL;
	for (size_t i = 0; i < ms_volume_count(v); i++)
		v->voxels[i] = (float)(rnd() % 100000) / 1000.0f + 40.0f + (rnd() % 50 == 0 ? 60 : 0);
	for (int b = 0; b < n_blobs; b++) {
		double cx = rnd() % nx, cy = rnd() % ny, cz = rnd() % nz;
		double rx = 0.5 + rnd() % 60 / 10.0, ry = 0.5 + rnd() % 60 / 10.0, rz = 0.3 + rnd() % 30 / 10.0;
		float base = 110.0f + (float)(rnd() % 700), spread = (float)(rnd() % 300);
		if (rnd() % 40 == 0)
			base = 2100; /* metal */
		for (int z = (int)(cz - rz); z <= (int)(cz + rz); z++)
			for (int y = (int)(cy - ry); y <= (int)(cy + ry); y++)
				for (int x = (int)(cx - rx); x <= (int)(cx + rx); x++) {
					if (x < 0 || y < 0 || z < 0 || x >= (int)nx || y >= (int)ny || z >= (int)nz)
						continue;
					double d = (x - cx) * (x - cx) / (rx * rx) + (y - cy) * (y - cy) / (ry * ry) +
						   (z - cz) * (z - cz) / (rz * rz);
					if (d <= 1)
						v->voxels[((size_t)z * ny + y) * nx + x] =
							base + spread * (float)(1 - d) + (float)(rnd() % 1000) / 997.0f;
				}
	}
	return v;
}

static void test_random(void)
{
	ms_volume *v = random_blobs(97, 83, 23, 150);
	uint8_t *roi = ms_malloc(ms_volume_count(v));

	for (size_t i = 0; i < ms_volume_count(v); i++)
		roi[i] = (i % 97) < 70 && rnd() % 50 != 0;
	for (int conn = 4; conn <= 8; conn += 4) {
		ms_cac_params p = params(MS_CAC_PROFILE_LITERATURE, conn, 0);
		compare(conn == 4 ? "random 4-conn" : "random 8-conn", v, NULL, &p);
		p.chunk_slices = 3;
		compare("random chunk3", v, NULL, &p);
		compare("random roi", v, roi, &p);
		p.chunk_slices = 1;
		compare("random roi chunk1", v, roi, &p);
	}
	ms_cac_params p = params(MS_CAC_PROFILE_CANON, 4, 4);
	compare("random canon", v, NULL, &p);
	p = params(MS_CAC_PROFILE_PHILIPS, 8, 0);
	p.kvp_adjust = true;
	p.kvp = 80;
	compare("random philips 80 kV", v, NULL, &p);
	p = params(MS_CAC_PROFILE_LITERATURE, 4, 5);
	p.volume_method = 1;
	p.max_hu = 0;
	compare("random isotropic", v, NULL, &p);
	p.mass_calibration = 0;
	compare("random no calibration", v, NULL, &p);
	ms_free(roi);
	ms_volume_destroy(v);
}

static void test_bad_args(void)
{
	ms_cac_result r = { 0 };
	ms_cac_params p = params(MS_CAC_PROFILE_LITERATURE, 4, 0);
	ms_volume *v = vol_new(4, 4, 2, 300);

	CHECK_EQ_INT(ms_cac_gpu(NULL, v, NULL, &p, &r), MS_ERR_ARG);
	p.connectivity = 5;
	CHECK_EQ_INT(ms_cac_gpu(ctx, v, NULL, &p, &r), MS_ERR_ARG);
	p.connectivity = 4;
	CHECK_EQ_INT(ms_cac_gpu(ctx, NULL, NULL, &p, &r), MS_ERR_ARG);
	CHECK(r.lesions == NULL && r.lesion_map == NULL);
	/* A result is reusable: the second call clears the first. */
	CHECK_EQ_INT(ms_cac_gpu(ctx, v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(ms_cac_gpu(ctx, v, NULL, &p, &r), MS_OK);
	CHECK_EQ_INT(r.n_lesions, 1);
	ms_cac_result_clear(&r);
	ms_volume_destroy(v);
}

/* Larger than one binding on lavapipe (128 MiB = 128 slices of 512x512 floats). */
static void test_large(void)
{
	const char *env = getenv("MS_CAC_LARGE_NZ");
	uint32_t nz = env ? (uint32_t)atoi(env) : 140;
	if (nz == 0)
		return;
	ms_volume *v = random_blobs(512, 512, nz, 3000);
	if (!v) {
		CHECK(v != NULL);
		return;
	}
	/* A tall lesion through every slice: crosses every chunk border. */
	for (uint32_t z = 0; z < nz; z++)
		for (uint32_t y = 250; y < 254; y++)
			for (uint32_t x = 300 + z % 3; x < 304 + z % 3; x++)
				v->voxels[((size_t)z * 512 + y) * 512 + x] = 450.0f + (float)z;
	ms_cac_params p = params(MS_CAC_PROFILE_LITERATURE, 4, 0);
	compare("large", v, NULL, &p);
	ms_volume_destroy(v);
}

int main(void)
{
	const char *dev = getenv("MS_VK_DEVICE");
	ms_vk_opts o = { .device = dev ? dev : "auto", .validation = true };

	ms_status rc = ms_vk_context_create(&o, &ctx);
	if (rc == MS_ERR_NOTFOUND) {
		printf("no Vulkan device: skipped\n");
		return 77;
	}
	CHECK_EQ_INT(rc, MS_OK);
	if (!ctx)
		return TEST_REPORT();
	test_small();
	test_extremes();
	test_random();
	test_bad_args();
	test_large();
	CHECK_EQ_INT(ms_vk_context_validation_errors(ctx), 0);
	ms_vk_context_destroy(ctx);
	return TEST_REPORT();
}
