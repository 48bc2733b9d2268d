/* Helpers shared by the benchmarks in tests/bench/: a monotonic timer, a seeded generator,
 * the synthetic chest CT the volume analyses run on, and opening the benchmark device.
 *
 * Header only, every function static inline: tests/CMakeLists.txt builds each
 * bench/bench_*.c as its own executable, so a bench_common.c would become a program.
 * Thread-safety: none needed (the benchmarks are single-threaded); bench_rng is per caller. */
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/status.h"
#include "compute/ctseg.h"
#include "compute/vk_context.h"
#include "compute/volume.h"

/* Wall-clock milliseconds from an arbitrary origin (CLOCK_MONOTONIC). */
static inline double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* xorshift32: deterministic across machines, so every run benchmarks the same data. */
typedef struct {
	uint32_t s; /* state, never 0 */
} bench_rng;

static inline uint32_t bench_rng_next(bench_rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 17;
	r->s ^= r->s << 5;
	return r->s;
}

/* Uniform double in [lo, hi). */
static inline double bench_rng_range(bench_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * (bench_rng_next(r) >> 8) / 16777216.0;
}

/* Integer hash, for data that must be the same however it is traversed (fill callbacks). */
static inline uint32_t bench_hash(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

/* In-plane field of view and slice increment of bench_chest_ct: the anatomy is the same at
 * every matrix size and the slice spacing is fixed, so more slices mean a longer scan. */
#define BENCH_FOV_MM 400.0
#define BENCH_SLICE_MM 1.25

/* Synthetic non-contrast chest CT of nx x ny x nz voxels (integer HU, like decoded CT): the
 * segmentation phantom of compute/ctseg.h (body, lungs, spine, table) plus uniform noise of
 * +-20 HU, isolated single-voxel spikes just above the calcium threshold (the area filter
 * drops them) and about nz calcified plaques (ellipsoids of 0.7-3 mm, peak 150-1050 HU)
 * between the lungs where the heart lies. *out is owned by the caller (ms_volume_destroy)
 * and NULL on failure. Returns ms_ctseg_phantom's status. */
static inline ms_status bench_chest_ct(uint32_t nx, uint32_t ny, uint32_t nz, ms_volume **out)
{
	double sxy = BENCH_FOV_MM / (nx > ny ? nx : ny);
	bench_rng r = { 88172645u };
	ms_volume *v = NULL;

	*out = NULL;
	ms_status rc = ms_ctseg_phantom(nx, ny, nz, sxy, BENCH_SLICE_MM, NULL, &v, NULL);
	if (rc != MS_OK)
		return rc;
	size_t n = ms_volume_count(v);
	for (size_t i = 0; i < n; i++) {
		uint32_t h = bench_rng_next(&r);
		float hu = v->voxels[i] + (float)((int)(h % 41) - 20);
		if (v->voxels[i] > -500 && (h >> 8) % 4000 == 0)
			hu = 131.0f + (float)((h >> 20) % 60);
		v->voxels[i] = hu;
	}
	const ms_geometry *g = &v->geom;
	for (uint32_t b = 0; b < nz; b++) {
		/* Patient mm: anterior (-y) of the lung centres, between the lungs. */
		double cx = bench_rng_range(&r, -25, 25), cy = bench_rng_range(&r, -60, 0);
		double ci = (cx - g->origin[0]) / g->spacing[0], cj = (cy - g->origin[1]) / g->spacing[1];
		double ck = bench_rng_range(&r, 0, nz);
		double rad = bench_rng_range(&r, 0.7, 3.0) / g->spacing[0];
		double rz = bench_rng_range(&r, 0.7, 3.0) / g->spacing[2];
		float peak = (float)(int)bench_rng_range(&r, 150, 1050);
		for (int k = (int)floor(ck - rz); k <= (int)ceil(ck + rz); k++) {
			for (int j = (int)floor(cj - rad); j <= (int)ceil(cj + rad); j++) {
				for (int i = (int)floor(ci - rad); i <= (int)ceil(ci + rad); i++) {
					if (k < 0 || k >= (int)nz || j < 0 || j >= (int)ny || i < 0 || i >= (int)nx)
						continue;
					double d = ((i - ci) * (i - ci) + (j - cj) * (j - cj)) / (rad * rad) +
						   (k - ck) * (k - ck) / (rz * rz);
					if (d <= 1)
						v->voxels[((size_t)k * ny + j) * nx + i] =
							roundf(peak * (float)(1 - 0.5 * d));
				}
			}
		}
	}
	*out = v;
	return MS_OK;
}

/* Opens the device named by MS_VK_DEVICE (default "auto") and prints it. Returns 0 with *c
 * set (caller destroys it), 77 when there is no Vulkan device (benchmarks then exit 77 as
 * the kernel tests do), 1 on any other failure. */
static inline int bench_open_device(ms_vk_context **c)
{
	const char *dev = getenv("MS_VK_DEVICE");
	ms_vk_opts o = { .device = dev && *dev ? dev : "auto" };

	ms_status rc = ms_vk_context_create(&o, c);
	if (rc == MS_ERR_NOTFOUND) {
		printf("no Vulkan device: skipped\n");
		return 77;
	}
	if (rc != MS_OK) {
		fprintf(stderr, "Vulkan context: %s\n", ms_status_name(rc));
		return 1;
	}
	printf("device: %s (%s), maxStorageBufferRange %llu MiB\n", ms_vk_context_device_name(*c),
	       ms_vk_context_device_type(*c),
	       (unsigned long long)(ms_vk_context_max_buffer_range(*c) >> 20));
	return 0;
}
