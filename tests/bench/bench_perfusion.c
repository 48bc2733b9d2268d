/* Perfusion benchmark: the C reference (1 core, double) vs ms_perf_gpu on synthetic CT
 * perfusion (gamma-variate boluses on 40 HU with noise, 3% arterial voxels), through the
 * fill callback as the plugin would feed it. Prints wall time, GPU time (timestamps), the
 * host stages, the ratio and the largest GPU/reference differences.
 *
 *   bench_perfusion [nx ny nz nt (default 128 128 8 40)] [method s|c|o (o)] [device (auto)]
 *                   [budget MiB (2048)] [skip-ref 0|1]
 *
 * Not built by CMake (like bench_histogram): see the build line in the report. Not a test:
 * it checks nothing beyond exit status. Lavapipe numbers say nothing about a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute/perfusion.h"
#include "compute/perfusion_ref.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct {
	uint32_t nx, ny, nz, nt;
	double t[MS_PERF_MAX_T];
} synth;

static uint32_t hash(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

/* Deterministic per voxel, so every fill of a chunk gives the same values. */
static ms_status fill(void *user, uint32_t z0, uint32_t nz, float *dst)
{
	const synth *s = user;
	size_t slice = (size_t)s->nx * s->ny, cv = slice * nz;

	for (size_t i = 0; i < cv; i++) {
		uint32_t v = (uint32_t)(z0 * slice + i), h = hash(v);
		bool art = h % 100 < 3;
		double k = art ? 10 + (h >> 8) % 6 : 1 + (h >> 8) % 5;
		double t0 = (art ? 6 : 8) + (h >> 12) % 4, a = 3, b = 1.5;
		for (uint32_t j = 0; j < s->nt; j++) {
			double x = s->t[j] - t0;
			double c = x > 0 ? k * pow(x, a) * exp(-x / b) : 0;
			double noise = ((hash(h + j * 2654435761u) % 1000) / 1000.0 - 0.5) * 0.6;
			dst[j * cv + i] = (float)(40 + c + noise);
		}
	}
	return MS_OK;
}

static void stages(const char *what, const ms_perf_result *r)
{
	static const char *names[8] = { "load", "mask", "roi", "maps", "aif", "svd", "deconv", "stats" };

	printf("  %-10s", what);
	for (int i = 0; i < 8; i++)
		printf(" %s %.0f", names[i], r->stage_ms[i]);
	printf(" ms\n");
}

int main(int argc, char **argv)
{
	synth s = { 128, 128, 8, 40, { 0 } };
	if (argc > 4) {
		s.nx = (uint32_t)atoi(argv[1]);
		s.ny = (uint32_t)atoi(argv[2]);
		s.nz = (uint32_t)atoi(argv[3]);
		s.nt = (uint32_t)atoi(argv[4]);
	}
	char m = argc > 5 ? argv[5][0] : 'o';
	ms_vk_opts o = { .device = argc > 6 ? argv[6] : "auto" };
	uint64_t budget = argc > 7 ? strtoull(argv[7], NULL, 10) << 20 : 0;
	int skip_ref = argc > 8 ? atoi(argv[8]) : 0;
	ms_perf_result ref = { 0 }, g = { 0 };
	ms_vk_context *c = NULL;
	int rc = 1;

	for (uint32_t k = 0; k < s.nt && k < MS_PERF_MAX_T; k++)
		s.t[k] = k;
	ms_perf_input in = { .nx = s.nx, .ny = s.ny, .nz = s.nz, .nt = s.nt, .fill = fill,
			     .user = &s, .t_s = s.t };
	ms_perf_params p = {
		.kind = MS_PERF_CT,
		.method = m == 's' ? MS_PERF_SSVD : m == 'c' ? MS_PERF_CSVD : MS_PERF_OSVD,
		.memory_budget = budget,
	};
	if (ms_vk_context_create(&o, &c) != MS_OK)
		goto out;
	size_t nvox = (size_t)s.nx * s.ny * s.nz;
	printf("%ux%ux%u x %u (%.0f MiB of float input), %cSVD on %s (%s)\n", s.nx, s.ny, s.nz, s.nt,
	       nvox * s.nt * 4.0 / (1 << 20), m, ms_vk_context_device_name(c),
	       ms_vk_context_device_type(c));

	double t0 = now_ms(), ref_ms = 0;
	if (!skip_ref) {
		if (ms_perf_ref(&in, &p, &ref) != MS_OK)
			goto out;
		ref_ms = now_ms() - t0;
		printf("C reference (1 core)  wall %9.1f ms\n", ref_ms);
		stages("reference", &ref);
	}
	t0 = now_ms();
	if (ms_perf_gpu(c, &in, &p, &g) != MS_OK)
		goto out;
	double gpu_wall = now_ms() - t0;
	printf("GPU                   wall %9.1f ms  gpu %9.1f ms  chunks %u x %u slices%s\n", gpu_wall,
	       g.gpu_ms, g.n_chunks, g.chunk_slices, g.streamed ? " (streamed)" : " (resident)");
	stages("gpu", &g);
	if (!skip_ref) {
		printf("ratio reference / GPU: wall %.2f, reference / GPU kernels %.2f\n",
		       ref_ms / gpu_wall, g.gpu_ms > 0 ? ref_ms / g.gpu_ms : 0);
		for (int mp = 0; mp < MS_PERF_N_MAPS; mp++) {
			double worst = 0;
			size_t diff = 0;
			for (size_t i = 0; i < nvox; i++) {
				double e = fabs(g.map[mp][i] - ref.map[mp][i]);
				double sc = fmax(fabs(ref.map[mp][i]), 1e-3 * fabs(ref.stats[mp][3]));
				if (sc > 0 && e / sc > worst)
					worst = e / sc;
				diff += e > 1e-4 * sc;
			}
			printf("  %-8s mean %9.4g (ref %9.4g)  voxels off by > 1e-4: %zu  worst rel %.1e\n",
			       ms_perf_map_name((ms_perf_map)mp), g.stats[mp][0], ref.stats[mp][0], diff,
			       worst);
		}
	}
	rc = 0;
out:
	ms_perf_result_clear(&g);
	ms_perf_result_clear(&ref);
	ms_vk_context_destroy(c);
	return rc;
}
