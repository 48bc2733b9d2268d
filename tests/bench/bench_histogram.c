/* Histogram benchmark: C reference vs ms_histogram_gpu (copy through 64 MiB staging) vs
 * ms_histogram_gpu_buffer (voxels already in a mapped host buffer, as when decoding straight
 * into it). Prints wall time, GPU time (timestamps), upload time, GB/s and the GPU's error.
 *
 *   bench_histogram [voxels (default 512*512*500)] [device (default auto)] [repeats (3)]
 *
 * Not a test: it checks nothing beyond exit status. Lavapipe numbers say nothing about a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute/histogram.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fill_ct(float *v, size_t n)
{
	uint32_t s = 2463534242u;

	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 17;
		s ^= s << 5;
		uint32_t k = s % 100, r = s >> 12;
		v[i] = k < 30 ? -1000.0f + (float)(r % 41) - 20.0f
		     : k < 45 ? -120.0f + (float)(r % 60)
		     : k < 93 ? -20.0f + (float)(r % 120)
		     : 150.0f + (float)(r % 2900);
	}
}

static void report(const char *what, size_t n, double wall, const ms_histogram_result *r,
		   const ms_histogram_result *ref)
{
	double gb = n * sizeof(float) / 1e9;
	int same = r->count == ref->count && r->min == ref->min && r->max == ref->max &&
		   memcmp(r->bins, ref->bins, r->n_bins * sizeof(uint64_t)) == 0;

	printf("%-22s wall %9.2f ms (%6.2f GB/s)  gpu %9.2f ms (%7.2f GB/s)  upload %8.2f ms  "
	       "bins %s  mean rel err %.1e  sd rel err %.1e\n",
	       what, wall, gb / (wall / 1e3), r->gpu_ms, r->gpu_ms > 0 ? gb / (r->gpu_ms / 1e3) : 0,
	       r->upload_ms, same ? "exact" : "DIFFER", fabs(r->mean - ref->mean) / fabs(ref->mean),
	       fabs(r->stddev - ref->stddev) / ref->stddev);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : (size_t)512 * 512 * 500;
	ms_vk_opts o = { .device = argc > 2 ? argv[2] : "auto" };
	int reps = argc > 3 ? atoi(argv[3]) : 3;
	ms_histogram_params p = { 1.0, -1024.0, 3072.0 };
	ms_histogram_result ref = { 0 }, r = { 0 };
	ms_vk_context *c = NULL;
	ms_vk_buffer *b = NULL;
	int rc = 1;

	float *v = malloc(n * sizeof(float));
	if (!v || n == 0)
		return 1;
	fill_ct(v, n);
	if (ms_vk_context_create(&o, &c) != MS_OK)
		goto out;
	printf("%zu voxels (%.0f MiB) on %s (%s), %d repeats\n", n, n * 4.0 / (1 << 20),
	       ms_vk_context_device_name(c), ms_vk_context_device_type(c), reps);

	double t0 = now_ms();
	if (ms_histogram_ref(v, n, &p, &ref) != MS_OK)
		goto out;
	report("C reference (1 core)", n, now_ms() - t0, &ref, &ref);

	for (int i = 0; i < reps; i++) {
		t0 = now_ms();
		if (ms_histogram_gpu(c, v, n, &p, &r) != MS_OK)
			goto out;
		report("gpu (staged copy)", n, now_ms() - t0, &r, &ref);
	}
	if (ms_vk_buffer_create(c, n * sizeof(float), MS_MEM_HOST, &b) != MS_OK)
		goto out;
	t0 = now_ms();
	memcpy(ms_vk_buffer_map(b), v, n * sizeof(float));
	printf("%-22s %9.2f ms\n", "memcpy into mapped", now_ms() - t0);
	for (int i = 0; i < reps; i++) {
		t0 = now_ms();
		if (ms_histogram_gpu_buffer(c, b, n, &p, &r) != MS_OK)
			goto out;
		report("gpu (mapped buffer)", n, now_ms() - t0, &r, &ref);
	}
	rc = 0;
out:
	ms_histogram_result_clear(&ref);
	ms_histogram_result_clear(&r);
	ms_vk_buffer_destroy(b);
	ms_vk_context_destroy(c);
	free(v);
	return rc;
}
