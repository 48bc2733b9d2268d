#include "compute/histogram.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "compute/vk_kernel.h"
#include "ms_shaders.h"

/* Must match shaders/histogram.comp. */
#define WG 256u
#define VEC_PER_THREAD_CPU 64u /* tile = 4 * WG * this voxels; see the shader */
#define VEC_PER_THREAD_GPU 16u
#define MAX_TILE (4u * WG * VEC_PER_THREAD_CPU)
#define STAGING_BYTES ((size_t)64 << 20)

typedef struct {
	uint32_t n_bins;
	float *edges;    /* n_bins + 1 */
	float inv_width;
} binning;

/* One workgroup's partial statistics, as the shader writes them (std430). */
typedef struct {
	uint32_t n;
	float mean;
	float m2;
	uint32_t pad;
} partial;

typedef struct {
	uint32_t n;
	uint32_t n_groups;
	uint32_t result_base;
	uint32_t partial_base;
	float inv_width;
} push_block;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static ms_status make_binning(const ms_histogram_params *p, binning *b)
{
	memset(b, 0, sizeof(*b));
	if (!p || !isfinite(p->bin_width) || !isfinite(p->min) || !isfinite(p->max) ||
	    p->bin_width <= 0 || p->min >= p->max) {
		ms_log_error("histogram: invalid parameters");
		return MS_ERR_ARG;
	}
	double nb = ceil((p->max - p->min) / p->bin_width);
	double top = p->min + nb * p->bin_width;
	if (nb < 1 || nb > MS_HISTOGRAM_MAX_BINS || fabs(p->min) >= FLT_MAX || fabs(top) >= FLT_MAX) {
		ms_log_error("histogram: %.0f bins over [%g, %g) (at most %u, float range)", nb, p->min,
			     p->max, MS_HISTOGRAM_MAX_BINS);
		return MS_ERR_ARG;
	}
	b->n_bins = (uint32_t)nb;
	b->edges = ms_calloc(b->n_bins + 1, sizeof(float));
	if (!b->edges)
		return MS_ERR_NOMEM;
	for (uint32_t i = 0; i <= b->n_bins; i++)
		b->edges[i] = (float)(p->min + (double)i * p->bin_width);
	b->inv_width = (float)(1.0 / p->bin_width);
	return MS_OK;
}

static bool finite_bits(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof(u));
	return (u & 0x7F800000u) != 0x7F800000u;
}

/* Same rule as the shader: the guess only saves steps, the edge comparisons decide. */
static uint32_t bin_of(const binning *b, float x)
{
	float t = (x - b->edges[0]) * b->inv_width;
	float hi = (float)(b->n_bins - 1);
	uint32_t i = t > 0 ? (uint32_t)(t < hi ? t : hi) : 0;

	while (i > 0 && x < b->edges[i])
		i--;
	while (i < b->n_bins - 1 && x >= b->edges[i + 1])
		i++;
	return i;
}

/* Starts a result: clears it and allocates zeroed bins. */
static ms_status result_start(ms_histogram_result *r, uint32_t n_bins)
{
	ms_histogram_result_clear(r);
	r->bins = ms_calloc(n_bins, sizeof(uint64_t));
	if (!r->bins)
		return MS_ERR_NOMEM;
	r->n_bins = n_bins;
	return MS_OK;
}

void ms_histogram_result_clear(ms_histogram_result *r)
{
	if (!r)
		return;
	ms_free(r->bins);
	memset(r, 0, sizeof(*r));
}

ms_status ms_histogram_ref(const float *v, size_t n, const ms_histogram_params *p,
			   ms_histogram_result *r)
{
	binning b;
	ms_status rc;

	ms_histogram_result_clear(r);
	if (n && !v)
		return MS_ERR_ARG;
	rc = make_binning(p, &b);
	if (rc != MS_OK)
		return rc;
	rc = result_start(r, b.n_bins);
	if (rc != MS_OK)
		goto out_free_edges;

	double sum = 0;
	float lo = 0, hi = 0;
	for (size_t i = 0; i < n; i++) {
		float x = v[i];
		if (!finite_bits(x)) {
			r->n_invalid++;
			continue;
		}
		if (r->count == 0 || x < lo)
			lo = x;
		if (r->count == 0 || x > hi)
			hi = x;
		r->count++;
		sum += x;
		r->bins[bin_of(&b, x)]++;
	}
	if (r->count) {
		double mean = sum / (double)r->count, m2 = 0;
		for (size_t i = 0; i < n; i++) {
			if (finite_bits(v[i]))
				m2 += ((double)v[i] - mean) * ((double)v[i] - mean);
		}
		r->min = lo;
		r->max = hi;
		r->mean = mean;
		r->stddev = sqrt(m2 / (double)r->count);
	}
out_free_edges:
	ms_free(b.edges);
	if (rc != MS_OK)
		ms_histogram_result_clear(r);
	return rc;
}

/* ---- GPU ------------------------------------------------------------------------------ */

typedef struct {
	ms_vk_context *c;   /* borrowed */
	binning bn;
	ms_vk_kernel *k;
	ms_vk_buffer *edges;    /* DEVICE, n_bins + 1 floats */
	ms_vk_buffer *result;   /* DEVICE, n_chunks slots of (~min key, max key, bins) */
	ms_vk_buffer *partials; /* DEVICE, one partial per workgroup of the whole volume */
	size_t tile;        /* voxels per workgroup */
	size_t chunk_elems; /* voxels per kernel run, a multiple of tile */
	uint32_t n_chunks;
	size_t n_groups;
	double gpu_ms;
} session;

static void session_close(session *s)
{
	ms_vk_buffer_destroy(s->partials);
	ms_vk_buffer_destroy(s->result);
	ms_vk_buffer_destroy(s->edges);
	ms_vk_kernel_destroy(s->k);
	ms_free(s->bn.edges);
	memset(s, 0, sizeof(*s));
}

/* Largest chunk (in voxels, a multiple of every tile size) one binding may cover, at most
 * 'cap' bytes. */
static size_t chunk_elems(const ms_vk_context *c, size_t cap)
{
	uint64_t range = ms_vk_context_max_buffer_range(c);
	size_t bytes = range < cap ? (size_t)range : cap;

	return bytes / sizeof(float) / MAX_TILE * MAX_TILE;
}

static ms_status session_open(session *s, ms_vk_context *c, const ms_histogram_params *p, size_t n,
			      size_t chunk)
{
	const VkPhysicalDeviceProperties *props = ms_vk_context_properties(c);
	uint64_t max_range = ms_vk_context_max_buffer_range(c);
	ms_status rc;

	memset(s, 0, sizeof(*s));
	s->c = c;
	rc = make_binning(p, &s->bn);
	if (rc != MS_OK)
		return rc;
	if (chunk == 0) {
		ms_log_error("histogram: maxStorageBufferRange %llu too small",
			     (unsigned long long)max_range);
		rc = MS_ERR_VULKAN;
		goto out_close;
	}
	/* CPU devices (lavapipe) run ~2x faster with big tiles; GPUs want more workgroups. */
	bool cpu = props->deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
	uint32_t vec_per_thread = cpu ? VEC_PER_THREAD_CPU : VEC_PER_THREAD_GPU;
	/* Lets the kernel tests cover every tile size on whatever device they have. */
	const char *force = getenv("MS_HISTOGRAM_VEC_PER_THREAD");
	unsigned long f = force ? strtoul(force, NULL, 10) : 0;
	if (f >= 1 && f <= VEC_PER_THREAD_CPU && (f & (f - 1)) == 0)
		vec_per_thread = (uint32_t)f;
	s->tile = 4u * WG * vec_per_thread;
	s->chunk_elems = chunk;
	s->n_chunks = (uint32_t)((n + chunk - 1) / chunk);
	/* Every chunk but the last is a whole number of tiles, so this counts all workgroups. */
	s->n_groups = (n + s->tile - 1) / s->tile;
	uint64_t result_bytes = (uint64_t)s->n_chunks * (s->bn.n_bins + 2) * sizeof(uint32_t);
	uint64_t partial_bytes = (uint64_t)s->n_groups * sizeof(partial);
	if (result_bytes > max_range || partial_bytes > max_range) {
		ms_log_error("histogram: %zu voxels x %u bins too large for one binding",
			     n, s->bn.n_bins);
		rc = MS_ERR_ARG;
		goto out_close;
	}

	/* Shared memory: bins plus the reduction arrays (3 x WG words) and 2 words. */
	uint32_t shared_need = (s->bn.n_bins + 3 * WG + 2) * sizeof(uint32_t);
	uint32_t use_shared = shared_need <= props->limits.maxComputeSharedMemorySize;
	uint32_t spec[4] = { s->bn.n_bins, use_shared ? s->bn.n_bins : 1, use_shared, vec_per_thread };
	ms_kernel_desc d = {
		.spirv = ms_spv_histogram,
		.spirv_size = ms_spv_histogram_size,
		.n_bindings = 4,
		.push_size = sizeof(push_block),
		.spec = spec,
		.n_spec = 4,
	};
	rc = ms_vk_kernel_create(c, &d, &s->k);
	if (rc != MS_OK)
		goto out_close;
	rc = ms_vk_buffer_create(c, (s->bn.n_bins + 1) * sizeof(float), MS_MEM_DEVICE, &s->edges);
	if (rc != MS_OK)
		goto out_close;
	rc = ms_vk_buffer_write(s->edges, 0, s->bn.edges, (s->bn.n_bins + 1) * sizeof(float));
	if (rc != MS_OK)
		goto out_close;
	rc = ms_vk_buffer_create(c, result_bytes, MS_MEM_DEVICE, &s->result);
	if (rc != MS_OK)
		goto out_close;
	/* Zero is "empty" for every slot: counts, max key and the complemented min key. */
	rc = ms_vk_buffer_fill(s->result, 0);
	if (rc != MS_OK)
		goto out_close;
	rc = ms_vk_buffer_create(c, partial_bytes, MS_MEM_DEVICE, &s->partials);
	if (rc != MS_OK)
		goto out_close;
	return MS_OK;

out_close:
	session_close(s);
	return rc;
}

/* Runs the kernel over chunk 'index': m voxels at byte 'offset' of buf. */
static ms_status session_chunk(session *s, ms_vk_buffer *buf, size_t offset, size_t m,
			       uint32_t index)
{
	size_t first_group = index * (s->chunk_elems / s->tile);
	push_block pc = {
		.n = (uint32_t)m,
		.n_groups = (uint32_t)((m + s->tile - 1) / s->tile),
		.result_base = index * (s->bn.n_bins + 2),
		.partial_base = (uint32_t)first_group,
		.inv_width = s->bn.inv_width,
	};
	/* Rounded up to 16 bytes so the tail vec4 load stays inside the binding (vk_buffer.h). */
	ms_vk_binding b[4] = {
		{ buf, offset, (m * sizeof(float) + 15) & ~(size_t)15 },
		{ s->edges, 0, 0 },
		{ s->result, 0, 0 },
		{ s->partials, 0, 0 },
	};
	uint32_t groups[3] = { pc.n_groups, 1, 1 };
	double ms = 0;
	ms_status rc = ms_vk_kernel_run(s->k, b, 4, &pc, sizeof(pc), groups, &ms);
	s->gpu_ms += ms;
	return rc;
}

static float key_float(uint32_t k)
{
	uint32_t u = (k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* Reads the slots and partials back and merges them in 64-bit/double. */
static ms_status session_finish(session *s, size_t n, ms_histogram_result *r)
{
	uint32_t slot_words = s->bn.n_bins + 2;
	uint32_t *slots = NULL;
	partial *parts = NULL;
	ms_status rc;

	rc = result_start(r, s->bn.n_bins);
	if (rc != MS_OK)
		return rc;
	slots = ms_calloc((size_t)s->n_chunks * slot_words, sizeof(uint32_t));
	parts = ms_calloc(s->n_groups, sizeof(partial));
	if (!slots || !parts) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	rc = ms_vk_buffer_read(s->result, 0, slots, (size_t)s->n_chunks * slot_words * sizeof(uint32_t));
	if (rc != MS_OK)
		goto out_free;
	rc = ms_vk_buffer_read(s->partials, 0, parts, s->n_groups * sizeof(partial));
	if (rc != MS_OK)
		goto out_free;

	uint32_t min_inv = 0, max_key = 0;
	uint64_t binned = 0;
	for (uint32_t i = 0; i < s->n_chunks; i++) {
		const uint32_t *slot = slots + (size_t)i * slot_words;
		if (slot[0] > min_inv)
			min_inv = slot[0];
		if (slot[1] > max_key)
			max_key = slot[1];
		for (uint32_t j = 0; j < s->bn.n_bins; j++)
			r->bins[j] += slot[2 + j];
	}
	for (uint32_t j = 0; j < s->bn.n_bins; j++)
		binned += r->bins[j];

	/* Chan et al.'s pairwise merge: no cancellation, unlike sum-of-squares formulas. */
	double cnt = 0, mean = 0, m2 = 0;
	for (size_t g = 0; g < s->n_groups; g++) {
		if (parts[g].n == 0)
			continue;
		double nb = parts[g].n, d = (double)parts[g].mean - mean, nn = cnt + nb;
		mean += d * nb / nn;
		m2 += (double)parts[g].m2 + d * d * cnt * nb / nn;
		cnt = nn;
	}
	r->count = (uint64_t)cnt;
	if (r->count != binned) {
		ms_log_error("histogram: GPU counted %llu voxels but binned %llu",
			     (unsigned long long)r->count, (unsigned long long)binned);
		rc = MS_ERR_VULKAN;
		goto out_free;
	}
	r->n_invalid = n - r->count;
	if (r->count) {
		r->min = key_float(~min_inv);
		r->max = key_float(max_key);
		r->mean = mean;
		r->stddev = sqrt(m2 > 0 ? m2 / cnt : 0);
	}
	r->gpu_ms = s->gpu_ms;
out_free:
	ms_free(parts);
	ms_free(slots);
	if (rc != MS_OK)
		ms_histogram_result_clear(r);
	return rc;
}

ms_status ms_histogram_gpu(ms_vk_context *c, const float *v, size_t n, const ms_histogram_params *p,
			   ms_histogram_result *r)
{
	ms_vk_buffer *staging = NULL;
	session s;
	ms_status rc;

	ms_histogram_result_clear(r);
	if (n && !v)
		return MS_ERR_ARG;
	if (n == 0)
		return ms_histogram_ref(v, 0, p, r);
	rc = session_open(&s, c, p, n, chunk_elems(c, STAGING_BYTES));
	if (rc != MS_OK)
		return rc;
	size_t first = n < s.chunk_elems ? n : s.chunk_elems;
	rc = ms_vk_buffer_create(c, first * sizeof(float), MS_MEM_HOST, &staging);
	if (rc != MS_OK)
		goto out_close;
	float *mapped = ms_vk_buffer_map(staging);
	double upload_ms = 0;
	for (uint32_t i = 0; i < s.n_chunks; i++) {
		size_t off = (size_t)i * s.chunk_elems;
		size_t m = n - off < s.chunk_elems ? n - off : s.chunk_elems;
		double t0 = now_ms();

		memcpy(mapped, v + off, m * sizeof(float));
		upload_ms += now_ms() - t0;
		rc = session_chunk(&s, staging, 0, m, i);
		if (rc != MS_OK)
			goto out_close;
	}
	rc = session_finish(&s, n, r);
	if (rc == MS_OK)
		r->upload_ms = upload_ms;
out_close:
	ms_vk_buffer_destroy(staging);
	session_close(&s);
	return rc;
}

ms_status ms_histogram_gpu_buffer(ms_vk_context *c, ms_vk_buffer *voxels, size_t n,
				  const ms_histogram_params *p, ms_histogram_result *r)
{
	session s;
	ms_status rc;

	ms_histogram_result_clear(r);
	if (!voxels || n > ms_vk_buffer_size(voxels) / sizeof(float)) {
		ms_log_error("histogram: buffer holds fewer than %zu floats", n);
		return MS_ERR_ARG;
	}
	if (n == 0)
		return ms_histogram_ref(NULL, 0, p, r);
	/* Below 1 GiB per binding, so voxel indices stay far from 2^32 in the shader. */
	rc = session_open(&s, c, p, n, chunk_elems(c, (size_t)1 << 30));
	if (rc != MS_OK)
		return rc;
	for (uint32_t i = 0; i < s.n_chunks; i++) {
		size_t off = (size_t)i * s.chunk_elems;
		size_t m = n - off < s.chunk_elems ? n - off : s.chunk_elems;

		rc = session_chunk(&s, voxels, off * sizeof(float), m, i);
		if (rc != MS_OK)
			goto out_close;
	}
	rc = session_finish(&s, n, r);
out_close:
	session_close(&s);
	return rc;
}
