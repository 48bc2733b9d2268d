/* HU histogram and voxel statistics: the first analysis kernel, proving the pipeline end to
 * end (shaders/histogram.comp), with the plain-C reference the kernel tests compare against.
 *
 * Binning: n_bins = ceil((max - min) / bin_width) bins with edges e[i] = (float)(min +
 * i * bin_width), i = 0..n_bins (exact for integer HU and ordinary widths). A voxel x goes
 * to the largest bin b with e[b] <= x, so values below min go to bin 0 and values at/above
 * max to the last bin. GPU and reference use the same float edges: bins agree exactly.
 * Non-finite voxels (NaN, +-Inf) are not binned and not in count/min/max/mean/stddev; they
 * are counted in n_invalid. stddev is the population standard deviation (divides by count).
 * With count == 0, min, max, mean and stddev are 0. The GPU accumulates mean/stddev per
 * workgroup in float (merged in double on the host): they overflow to inf/NaN when squared
 * deviations pass FLT_MAX (|x| beyond ~1e18), far outside any HU range; bins, count, min and
 * max stay exact for every finite value.
 *
 * Thread-safety: all functions are reentrant; GPU calls may share a context across threads. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/vk_buffer.h"
#include "compute/vk_context.h"

#define MS_HISTOGRAM_MAX_BINS 65536u

typedef struct {
	double bin_width, min, max; /* bins cover [min, max) in steps of bin_width */
} ms_histogram_params;

typedef struct {
	uint32_t n_bins;
	uint64_t *bins;     /* n_bins counts; owned, freed by ms_histogram_result_clear */
	uint64_t count;     /* finite voxels (sum of bins) */
	uint64_t n_invalid; /* NaN/Inf voxels, excluded from everything else */
	double min, max;    /* exact voxel values */
	double mean, stddev;
	double gpu_ms;      /* GPU time of the kernel runs (timestamps); 0 for the reference */
	double upload_ms;   /* host time copying voxels into GPU-visible memory */
} ms_histogram_result;

/* r must be zeroed or hold a previous result (it is cleared first). On failure r is cleared.
 * All return MS_ERR_ARG for invalid params (non-finite, width <= 0, min >= max, more than
 * MS_HISTOGRAM_MAX_BINS bins) or a NULL v with n > 0; MS_ERR_NOMEM. v is borrowed. */

/* Plain C reference: bins as above, mean/stddev in double (two passes). */
ms_status ms_histogram_ref(const float *v, size_t n, const ms_histogram_params *p,
			   ms_histogram_result *r);

/* GPU version: copies v through a 64 MiB host-visible buffer (smaller if the device's
 * maxStorageBufferRange is) chunk by chunk and accumulates the per-chunk results on the host
 * in 64 bits. Also MS_ERR_VULKAN. */
ms_status ms_histogram_gpu(ms_vk_context *c, const float *v, size_t n, const ms_histogram_params *p,
			   ms_histogram_result *r);

/* Same over n floats already in 'voxels' from byte 0 (e.g. decoded straight into a mapped
 * MS_MEM_HOST buffer): no copy, buffers larger than maxStorageBufferRange are processed by
 * binding successive ranges. MS_ERR_ARG if the buffer holds fewer than n floats. */
ms_status ms_histogram_gpu_buffer(ms_vk_context *c, ms_vk_buffer *voxels, size_t n,
				  const ms_histogram_params *p, ms_histogram_result *r);

/* Frees r->bins and zeroes *r; NULL is a no-op. */
void ms_histogram_result_clear(ms_histogram_result *r);
