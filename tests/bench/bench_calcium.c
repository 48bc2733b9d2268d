/* Calcium scoring benchmark: ms_cac_gpu against the C reference ms_cac_ref on synthetic
 * non-contrast chest CT (air, body ellipse with soft-tissue noise, spine and ribs as bone-like
 * structures, a few hundred random plaque blobs), 512x512 slices.
 *
 * Usage: bench_calcium [nz ...]   (default 64 320); MS_VK_DEVICE picks the device,
 * MS_BENCH_REPS the timed repetitions (default 3, best is reported; one warm-up run first).
 * Prints per-stage wall-clock times of both implementations, their ratio, kernel time and
 * effective throughput (HU volume bytes / total time). Exit code 77 without a Vulkan device,
 * 1 if the GPU and reference disagree on lesions or Agatston. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute/calcium.h"
#include "compute/calcium_ref.h"

static uint32_t rng_state = 88172645u;

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

/* Integer HU like decoded CT. */
static ms_volume *synthetic_ct(uint32_t nz)
{
	const uint32_t n = 512;
	ms_volume *v = NULL;

	if (ms_volume_create(n, n, nz, &v) != MS_OK)
		return NULL;
	v->geom.spacing[0] = v->geom.spacing[1] = 0.7;
	v->geom.spacing[2] = 3.0;
	for (uint32_t z = 0; z < nz; z++) {
		for (uint32_t y = 0; y < n; y++) {
			for (uint32_t x = 0; x < n; x++) {
				double ex = (x - 256.0) / 220, ey = (y - 270.0) / 160;
				double body = ex * ex + ey * ey;
				float hu = -1000.0f + (float)(rnd() % 30);
				if (body < 1) {
					hu = 40.0f + (float)(rnd() % 61) - 30.0f;
					/* lungs */
					double lx = (fabs(x - 256.0) - 95) / 70, ly = (y - 250.0) / 110;
					if (lx * lx + ly * ly < 1)
						hu = -850.0f + (float)(rnd() % 100);
					/* spine: cortical ring, cancellous core */
					double sx = (x - 256.0) / 28, sy = (y - 385.0) / 24, s = sx * sx + sy * sy;
					if (s < 1)
						hu = s > 0.6 ? 1200.0f + (float)(rnd() % 400) : 300.0f + (float)(rnd() % 100);
					/* ribs: a thin ring near the body surface, broken into segments */
					if (body > 0.82 && body < 0.88 && ((int)(atan2(ey, ex) * 12) % 2 == 0))
						hu = 500.0f + (float)(rnd() % 600);
					/* noise spikes above the threshold */
					if (rnd() % 4000 == 0)
						hu = 131.0f + (float)(rnd() % 60);
				}
				v->voxels[((size_t)z * n + y) * n + x] = hu;
			}
		}
	}
	/* Plaques: small ellipsoids around the heart. */
	for (int b = 0; b < 300; b++) {
		double cx = 200 + rnd() % 120, cy = 220 + rnd() % 100, cz = rnd() % nz;
		double r = 1 + rnd() % 40 / 10.0, rz = 0.4 + rnd() % 15 / 10.0;
		float peak = 150.0f + (float)(rnd() % 900);
		for (int z = (int)(cz - rz); z <= (int)(cz + rz); z++)
			for (int y = (int)(cy - r); y <= (int)(cy + r); y++)
				for (int x = (int)(cx - r); x <= (int)(cx + r); x++) {
					if (z < 0 || z >= (int)nz)
						continue;
					double d = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (r * r) +
						   (z - cz) * (z - cz) / (rz * rz);
					if (d <= 1)
						v->voxels[((size_t)z * n + y) * n + x] = roundf(peak * (float)(1 - 0.5 * d));
				}
	}
	return v;
}

typedef ms_status (*scorer)(ms_vk_context *c, const ms_volume *v, const ms_cac_params *p,
			    ms_cac_result *r);

static ms_status run_ref(ms_vk_context *c, const ms_volume *v, const ms_cac_params *p,
			 ms_cac_result *r)
{
	(void)c;
	return ms_cac_ref(v, NULL, p, r);
}

static ms_status run_gpu(ms_vk_context *c, const ms_volume *v, const ms_cac_params *p,
			 ms_cac_result *r)
{
	return ms_cac_gpu(c, v, NULL, p, r);
}

/* Best of reps (after a warm-up) by total time; *best receives that run's result. */
static double time_best(scorer f, ms_vk_context *c, const ms_volume *v, const ms_cac_params *p,
			int reps, ms_cac_result *best)
{
	double best_ms = INFINITY;

	for (int i = 0; i <= reps; i++) {
		ms_cac_result r = { 0 };
		double t = now_ms();
		if (f(c, v, p, &r) != MS_OK) {
			fprintf(stderr, "run failed\n");
			ms_cac_result_clear(&r);
			return -1;
		}
		t = now_ms() - t;
		if (i > 0 && t < best_ms) {
			best_ms = t;
			ms_cac_result_clear(best);
			*best = r;
		} else {
			ms_cac_result_clear(&r);
		}
	}
	return best_ms;
}

int main(int argc, char **argv)
{
	const char *dev = getenv("MS_VK_DEVICE"), *reps_env = getenv("MS_BENCH_REPS");
	ms_vk_opts o = { .device = dev ? dev : "auto" };
	ms_vk_context *c = NULL;
	int reps = reps_env ? atoi(reps_env) : 3, bad = 0;
	static const uint32_t default_nz[] = { 64, 320 };

	if (reps < 1)
		reps = 1;
	ms_status rc = ms_vk_context_create(&o, &c);
	if (rc == MS_ERR_NOTFOUND) {
		printf("no Vulkan device: skipped\n");
		return 77;
	}
	if (rc != MS_OK)
		return 1;
	printf("device: %s (%s)\n", ms_vk_context_device_name(c), ms_vk_context_device_type(c));
	int n_sizes = argc > 1 ? argc - 1 : 2;
	for (int s = 0; s < n_sizes; s++) {
		uint32_t nz = argc > 1 ? (uint32_t)atoi(argv[s + 1]) : default_nz[s];
		double t = now_ms();
		ms_volume *v = synthetic_ct(nz);
		if (!v) {
			bad++;
			continue;
		}
		double gen_ms = now_ms() - t, mb = ms_volume_bytes(v) / 1e6;
		ms_cac_params p;
		ms_cac_params_default(&p, MS_CAC_PROFILE_LITERATURE);
		ms_cac_result ref = { 0 }, gpu = { 0 };
		double ref_ms = time_best(run_ref, c, v, &p, reps, &ref);
		double gpu_ms = time_best(run_gpu, c, v, &p, reps, &gpu);

		printf("\n512x512x%u (%.0f MB HU, generated in %.0f ms): %u components, %zu lesions, "
		       "Agatston %.1f (ref %.1f), volume %.1f mm3\n",
		       nz, mb, gen_ms, gpu.n_components, gpu.n_lesions, gpu.agatston, ref.agatston,
		       gpu.volume_mm3);
		printf("%-10s %12s %12s %8s\n", "stage", "ref ms", "gpu ms", "ref/gpu");
		for (int i = 0; i < MS_CAC_STAGES; i++)
			printf("%-10s %12.2f %12.2f %8.2f\n", ms_cac_stage_name(i), ref.stage_ms[i],
			       gpu.stage_ms[i], gpu.stage_ms[i] > 0 ? ref.stage_ms[i] / gpu.stage_ms[i] : 0);
		printf("%-10s %12.2f %12.2f %8.2f   (GPU kernels %.2f ms)\n", "total", ref_ms, gpu_ms,
		       ref_ms / gpu_ms, gpu.gpu_ms);
		printf("throughput: ref %.2f GB/s, gpu %.2f GB/s end to end, kernels alone %.2f GB/s "
		       "of HU\n",
		       mb / ref_ms, mb / gpu_ms, gpu.gpu_ms > 0 ? mb / gpu.gpu_ms : 0);
		if (gpu.n_lesions != ref.n_lesions || fabs(gpu.agatston - ref.agatston) >
		    1e-6 * (1 + ref.agatston)) {
			fprintf(stderr, "MISMATCH: gpu %zu lesions A %.6f, ref %zu lesions A %.6f\n",
				gpu.n_lesions, gpu.agatston, ref.n_lesions, ref.agatston);
			bad++;
		}
		ms_cac_result_clear(&ref);
		ms_cac_result_clear(&gpu);
		ms_volume_destroy(v);
	}
	ms_vk_context_destroy(c);
	return bad ? 1 : 0;
}
