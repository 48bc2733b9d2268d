/* CT segmentation pipeline on the GPU (ms_ctseg_gpu) against the plain-C pipeline
 * (ms_ctseg_ref) on the ANALYSES.md 3 phantom: every mask identical, same flags and
 * volumes; Dice >= 0.99 against the analytic shapes (0.97 for the fused-lung split), table
 * excluded; fused lungs, airways, no lungs, two resolutions. Exits 77 without a Vulkan
 * device. MS_VK_DEVICE picks the device (default "auto"). */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "compute/ctseg.h"
#include "tests/testhelp.h"

static ms_vk_context *ctx;

static double dice(const uint8_t *m, const uint8_t *truth, size_t n, unsigned labels)
{
	double a = 0, b = 0, both = 0;
	for (size_t i = 0; i < n; i++) {
		bool t = (labels >> truth[i]) & 1u;
		a += m[i] != 0;
		b += t;
		both += m[i] && t;
	}
	return a + b > 0 ? 2 * both / (a + b) : 1;
}

static void run_phantom(uint32_t nx, uint32_t ny, uint32_t nz, double sxy, double sz,
			ms_ctseg_phantom_opts o)
{
	static const char *names[5] = { "body", "lung_left", "lung_right", "bone", "heart_roi" };
	ms_volume *v;
	uint8_t *t;
	ms_ctseg_result g = { 0 }, r = { 0 };
	int before = ms_test_failed;

	CHECK_EQ_INT(ms_ctseg_phantom(nx, ny, nz, sxy, sz, &o, &v, &t), MS_OK);
	size_t n = ms_volume_count(v);
	CHECK_EQ_INT(ms_ctseg_ref(v, NULL, &r), MS_OK);
	CHECK_EQ_INT(ms_ctseg_gpu(ctx, v, NULL, &g), MS_OK);
	if (!g.body || !r.body)
		goto out_free;
	const uint8_t *gm[5] = { g.body, g.lung_left, g.lung_right, g.bone, g.heart_roi };
	const uint8_t *rm[5] = { r.body, r.lung_left, r.lung_right, r.bone, r.heart_roi };
	for (int k = 0; k < 5; k++) {
		size_t bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += gm[k][i] != rm[k][i];
		if (bad)
			fprintf(stderr, "%s: %zu voxels differ\n", names[k], bad);
		CHECK_EQ_INT(bad, 0);
		CHECK(g.volume_ml[k] == r.volume_ml[k]);
	}
	CHECK_EQ_INT(g.lungs_fused, r.lungs_fused);
	CHECK_EQ_INT(g.airway_removed, r.airway_removed);
	CHECK_EQ_INT(g.lungs_fused, o.fused);
	CHECK(g.gpu_ms > 0);

	double min_dice = o.fused ? 0.97 : 0.99;
	CHECK(dice(g.body, t, n, 1u << MS_PHANTOM_TISSUE | 1u << MS_PHANTOM_LUNG_LEFT |
				 1u << MS_PHANTOM_LUNG_RIGHT | 1u << MS_PHANTOM_SPINE |
				 1u << MS_PHANTOM_AIRWAY) >= 0.99);
	CHECK(dice(g.bone, t, n, 1u << MS_PHANTOM_SPINE) >= 0.99);
	if (o.lungs) {
		CHECK(dice(g.lung_left, t, n, 1u << MS_PHANTOM_LUNG_LEFT) >= min_dice);
		CHECK(dice(g.lung_right, t, n, 1u << MS_PHANTOM_LUNG_RIGHT) >= min_dice);
		CHECK(g.volume_ml[MS_CTSEG_HEART] > 0);
	} else {
		CHECK(g.volume_ml[MS_CTSEG_LUNG_LEFT] == 0 && g.volume_ml[MS_CTSEG_LUNG_RIGHT] == 0);
		CHECK(g.volume_ml[MS_CTSEG_HEART] == 0);
	}
	size_t on_table = 0;
	for (size_t i = 0; i < n; i++)
		on_table += g.body[i] && t[i] == MS_PHANTOM_TABLE;
	CHECK_EQ_INT(on_table, 0);
	printf("%ux%ux%u lungs=%d fused=%d airway=%d: gpu %.0f ms (lavapipe: not a speed "
	       "figure), wall body %.0f lungs %.0f bone %.0f heart %.0f ms  %s\n",
	       nx, ny, nz, o.lungs, o.fused, o.airway, g.gpu_ms, g.stage_ms[MS_CTSEG_STAGE_BODY],
	       g.stage_ms[MS_CTSEG_STAGE_LUNGS], g.stage_ms[MS_CTSEG_STAGE_BONE],
	       g.stage_ms[MS_CTSEG_STAGE_HEART], ms_test_failed == before ? "ok" : "FAILED");
out_free:
	ms_ctseg_result_clear(&g);
	ms_ctseg_result_clear(&r);
	ms_free(t);
	ms_volume_destroy(v);
}

int main(void)
{
	ms_vk_opts o = { .device = getenv("MS_VK_DEVICE"), .validation = false };
	ms_status rc = ms_vk_context_create(&o, &ctx);
	if (rc == MS_ERR_NOTFOUND) {
		printf("no Vulkan device: skipped\n");
		return 77;
	}
	CHECK_EQ_INT(rc, MS_OK);
	if (rc != MS_OK)
		return TEST_REPORT();

	run_phantom(96, 96, 40, 4, 5, (ms_ctseg_phantom_opts){ .lungs = true });
	run_phantom(128, 128, 64, 3, 2.5, (ms_ctseg_phantom_opts){ .lungs = true });
	run_phantom(96, 96, 40, 4, 5, (ms_ctseg_phantom_opts){ .lungs = true, .fused = true });
	run_phantom(96, 96, 40, 4, 5, (ms_ctseg_phantom_opts){ .lungs = true, .airway = true });
	run_phantom(96, 96, 40, 4, 5, (ms_ctseg_phantom_opts){ .lungs = false });

	/* A volume and an empty one: no context is an argument error, 0 voxels work. */
	ms_volume *v;
	ms_ctseg_result g = { 0 };
	CHECK_EQ_INT(ms_ctseg_phantom(8, 8, 0, 4, 5, NULL, &v, NULL), MS_OK);
	CHECK_EQ_INT(ms_ctseg_gpu(NULL, v, NULL, &g), MS_ERR_ARG);
	CHECK_EQ_INT(ms_ctseg_gpu(ctx, v, NULL, &g), MS_OK);
	CHECK(g.volume_ml[MS_CTSEG_BODY] == 0);
	ms_ctseg_result_clear(&g);
	ms_volume_destroy(v);

	ms_vk_context_destroy(ctx);
	return TEST_REPORT();
}
