#include "compute/segops.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "compute/vk_kernel.h"
/* The generated header's first comment contains "shaders/" "*.comp" (cmake/embed.cmake). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "ms_shaders.h"
#pragma GCC diagnostic pop

/* Sizes come from push constants, not spec constants: volumes differ per study and one
 * pipeline per op is built once. */
enum {
	K_THRESHOLD,
	K_LOGIC,
	K_ROWDIST,
	K_MORPH,
	K_CCL_INIT,
	K_CCL_MERGE,
	K_CCL_COMPRESS,
	K_CCL_SEED,
	K_SELECT,
	K_TOP,
	K_GAUSS,
	K_EDT,
	K_PROPAGATE,
	K_COUNT
};

typedef struct {
	const uint32_t *spirv;
	const size_t *size;
	uint32_t n_bindings, push_size, wg;
} kernel_info;

static const kernel_info kernels[K_COUNT] = {
	[K_THRESHOLD] = { ms_spv_seg_threshold, &ms_spv_seg_threshold_size, 3, 20, 256 },
	[K_LOGIC] = { ms_spv_seg_logic, &ms_spv_seg_logic_size, 3, 12, 256 },
	[K_ROWDIST] = { ms_spv_seg_rowdist, &ms_spv_seg_rowdist_size, 2, 20, 256 },
	[K_MORPH] = { ms_spv_seg_morph, &ms_spv_seg_morph_size, 3, 28, 256 },
	[K_CCL_INIT] = { ms_spv_seg_ccl_init, &ms_spv_seg_ccl_init_size, 2, 8, 256 },
	[K_CCL_MERGE] = { ms_spv_seg_ccl_merge, &ms_spv_seg_ccl_merge_size, 1, 20, 256 },
	[K_CCL_COMPRESS] = { ms_spv_seg_ccl_compress, &ms_spv_seg_ccl_compress_size, 2, 12, 256 },
	[K_CCL_SEED] = { ms_spv_seg_ccl_seed, &ms_spv_seg_ccl_seed_size, 3, 8, 256 },
	[K_SELECT] = { ms_spv_seg_select, &ms_spv_seg_select_size, 4, 40, 256 },
	[K_TOP] = { ms_spv_seg_top, &ms_spv_seg_top_size, 3, 36, 256 },
	[K_GAUSS] = { ms_spv_seg_gauss, &ms_spv_seg_gauss_size, 3, 24, 256 },
	[K_EDT] = { ms_spv_seg_edt, &ms_spv_seg_edt_size, 4, 40, 64 },
	[K_PROPAGATE] = { ms_spv_seg_propagate, &ms_spv_seg_propagate_size, 4, 24, 256 },
};

struct ms_segops {
	ms_vk_context *ctx; /* borrowed */
	ms_vk_kernel *k[K_COUNT];
	double gpu_ms;
};

ms_status ms_segops_create(ms_vk_context *c, ms_segops **out)
{
	ms_status rc;

	*out = NULL;
	ms_segops *s = ms_calloc(1, sizeof(*s));
	if (!s)
		return MS_ERR_NOMEM;
	s->ctx = c;
	for (int i = 0; i < K_COUNT; i++) {
		ms_kernel_desc d = {
			.spirv = kernels[i].spirv,
			.spirv_size = *kernels[i].size,
			.n_bindings = kernels[i].n_bindings,
			.push_size = kernels[i].push_size,
		};
		rc = ms_vk_kernel_create(c, &d, &s->k[i]);
		if (rc != MS_OK)
			goto out_destroy;
	}
	*out = s;
	return MS_OK;

out_destroy:
	ms_segops_destroy(s);
	return rc;
}

void ms_segops_destroy(ms_segops *s)
{
	if (!s)
		return;
	for (int i = 0; i < K_COUNT; i++)
		ms_vk_kernel_destroy(s->k[i]);
	ms_free(s);
}

double ms_segops_gpu_ms(const ms_segops *s)
{
	return s->gpu_ms;
}

void ms_segops_reset_gpu_ms(ms_segops *s)
{
	s->gpu_ms = 0;
}

/* Runs kernel k over 'items' threads (1-D; the layer folds large counts into 2-D grids). */
static ms_status run(ms_segops *s, int k, ms_vk_buffer *const *bufs, const void *push,
		     uint32_t push_size, size_t items)
{
	ms_vk_binding b[4];
	uint32_t wg = kernels[k].wg;
	uint32_t groups[3] = { (uint32_t)((items + wg - 1) / wg), 1, 1 };
	double ms = 0;

	for (uint32_t i = 0; i < kernels[k].n_bindings; i++)
		b[i] = (ms_vk_binding){ bufs[i], 0, 0 };
	ms_status rc = ms_vk_kernel_run(s->k[k], b, kernels[k].n_bindings, push, push_size, groups,
					&ms);
	s->gpu_ms += ms;
	return rc;
}

/* Checks the grid and that each buffer holds at least bytes[i]. */
static ms_status check(const ms_seg_grid *g, ms_vk_buffer *const *bufs, const size_t *bytes,
		       int n)
{
	if (!ms_segops_ref_grid_ok(g)) {
		ms_log_error("segops: invalid grid");
		return MS_ERR_ARG;
	}
	for (int i = 0; i < n; i++) {
		if (!bufs[i] || ms_vk_buffer_size(bufs[i]) < bytes[i]) {
			ms_log_error("segops: buffer %d missing or smaller than %zu bytes", i, bytes[i]);
			return MS_ERR_ARG;
		}
	}
	return MS_OK;
}

static uint32_t words(size_t n)
{
	return (uint32_t)((n + 3) / 4);
}

ms_status ms_segops_threshold(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *hu, float lo,
			      float hi, ms_vk_buffer *within, ms_vk_buffer *out)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *b[3] = { hu, within ? within : out, out };
	size_t need[3] = { n * 4, n, n };
	ms_status rc = check(g, b, need, 3);
	if (rc != MS_OK || n == 0)
		return rc;
	struct {
		uint32_t n, n_words;
		float lo, hi;
		uint32_t use_within;
	} pc = { (uint32_t)n, words(n), lo, hi, within != NULL };
	return run(s, K_THRESHOLD, b, &pc, sizeof(pc), pc.n_words);
}

ms_status ms_segops_logic(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *a, ms_vk_buffer *b,
			  ms_seg_logic op, ms_vk_buffer *out)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[3] = { a, b, out };
	size_t need[3] = { n, n, n };
	ms_status rc = check(g, bufs, need, 3);
	if (rc != MS_OK || n == 0)
		return rc;
	uint32_t pc[3] = { (uint32_t)n, words(n), (uint32_t)op };
	return run(s, K_LOGIC, bufs, pc, sizeof(pc), pc[1]);
}

ms_status ms_segops_morph(ms_segops *s, const ms_seg_grid *g, ms_seg_morph_op op,
			  const ms_seg_elem *e, ms_vk_buffer *in, ms_vk_buffer *out,
			  ms_vk_buffer *tmp)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[3] = { in, out, tmp };
	size_t need[3] = { n, n, n };
	ms_vk_buffer *runs_buf = NULL;
	ms_seg_run *runs = NULL;
	uint32_t n_runs;
	ms_status rc = check(g, bufs, need, 3);
	if (rc != MS_OK)
		return rc;
	rc = ms_segops_ref_runs(e, &runs, &n_runs);
	if (rc != MS_OK || n == 0)
		goto out_free;
	rc = ms_vk_buffer_create(s->ctx, n_runs * sizeof(ms_seg_run), MS_MEM_DEVICE, &runs_buf);
	if (rc != MS_OK)
		goto out_free;
	rc = ms_vk_buffer_write(runs_buf, 0, runs, n_runs * sizeof(ms_seg_run));
	if (rc != MS_OK)
		goto out_free;

	/* Same cap as the reference: one more than the widest run. */
	uint32_t cap = (uint32_t)floor(e->rx) + 1;
	bool erode = op == MS_SEG_ERODE;
	uint32_t pd[5] = { (uint32_t)n, words(n), g->nx, cap > 255 ? 255 : cap, erode };
	ms_vk_buffer *bd[2] = { in, tmp };
	rc = run(s, K_ROWDIST, bd, pd, sizeof(pd), pd[1]);
	if (rc != MS_OK)
		goto out_free;
	uint32_t pm[7] = { (uint32_t)n, words(n), g->nx, g->ny, g->nz, n_runs, erode };
	ms_vk_buffer *bm[3] = { tmp, runs_buf, out };
	rc = run(s, K_MORPH, bm, pm, sizeof(pm), pm[1]);
out_free:
	ms_vk_buffer_destroy(runs_buf);
	ms_free(runs);
	return rc;
}

ms_status ms_segops_label(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *mask, bool invert,
			  ms_seg_conn conn, ms_vk_buffer *labels, ms_vk_buffer *sizes)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[3] = { mask, labels, sizes };
	size_t need[3] = { n, n * 4, n * 4 };
	ms_status rc = check(g, bufs, need, 3);
	if (rc != MS_OK)
		return rc;
	if (conn != MS_SEG_CONN4 && conn != MS_SEG_CONN8 && conn != MS_SEG_CONN6 &&
	    conn != MS_SEG_CONN26) {
		ms_log_error("segops: invalid connectivity %d", (int)conn);
		return MS_ERR_ARG;
	}
	if (n == 0)
		return MS_OK;
	rc = ms_vk_buffer_fill(sizes, 0);
	if (rc != MS_OK)
		return rc;
	uint32_t pi[2] = { (uint32_t)n, invert };
	ms_vk_buffer *bi[2] = { mask, labels };
	rc = run(s, K_CCL_INIT, bi, pi, sizeof(pi), n);
	if (rc != MS_OK)
		return rc;
	uint32_t pm[5] = { (uint32_t)n, g->nx, g->ny, g->nz, (uint32_t)conn };
	rc = run(s, K_CCL_MERGE, &labels, pm, sizeof(pm), n);
	if (rc != MS_OK)
		return rc;
	uint32_t pcmp[3] = { (uint32_t)n, g->nx, g->ny };
	ms_vk_buffer *bc[2] = { labels, sizes };
	return run(s, K_CCL_COMPRESS, bc, pcmp, sizeof(pcmp), n);
}

ms_status ms_segops_mark_seeds(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *labels,
			       ms_vk_buffer *sizes, const uint32_t *seeds, uint32_t n_seeds)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[3] = { labels, sizes, NULL };
	size_t need[2] = { n * 4, n * 4 };
	ms_status rc = check(g, bufs, need, 2);
	if (rc != MS_OK)
		return rc;
	if (n_seeds > 65536 || (n_seeds && !seeds)) {
		ms_log_error("segops: %u seeds (at most 65536)", n_seeds);
		return MS_ERR_ARG;
	}
	if (n == 0 || n_seeds == 0)
		return MS_OK;
	rc = ms_vk_buffer_create(s->ctx, n_seeds * sizeof(uint32_t), MS_MEM_DEVICE, &bufs[2]);
	if (rc != MS_OK)
		return rc;
	rc = ms_vk_buffer_write(bufs[2], 0, seeds, n_seeds * sizeof(uint32_t));
	if (rc == MS_OK) {
		uint32_t pc[2] = { (uint32_t)n, n_seeds };
		rc = run(s, K_CCL_SEED, bufs, pc, sizeof(pc), n_seeds);
	}
	ms_vk_buffer_destroy(bufs[2]);
	return rc;
}

static uint32_t filter_flags(const ms_seg_select *f)
{
	return f ? (f->drop_border ? 1u : 0u) | (f->seeded_only ? 2u : 0u) : 0u;
}

ms_status ms_segops_largest(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *labels,
			    ms_vk_buffer *sizes, const ms_seg_select *filter, uint32_t k,
			    uint32_t *labels_out, uint32_t *sizes_out, uint32_t *n_found)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[3] = { labels, sizes, NULL };
	size_t need[2] = { n * 4, n * 4 };
	ms_status rc;

	*n_found = 0;
	rc = check(g, bufs, need, 2);
	if (rc != MS_OK)
		return rc;
	if (k > MS_SEG_MAX_KEEP) {
		ms_log_error("segops: largest %u components (at most %u)", k, MS_SEG_MAX_KEEP);
		return MS_ERR_ARG;
	}
	if (n == 0 || k == 0)
		return MS_OK;
	rc = ms_vk_buffer_create(s->ctx, 2 * sizeof(uint32_t), MS_MEM_DEVICE, &bufs[2]);
	if (rc != MS_OK)
		return rc;
	struct {
		uint32_t n, mode, min_size, flags, n_excl, excl[MS_SEG_MAX_KEEP];
	} pc = { (uint32_t)n, 0, filter ? filter->min_size : 0, filter_flags(filter), 0, { 0 } };
	for (uint32_t m = 0; m < k; m++) {
		uint32_t best[2] = { 0, MS_SEG_NO_LABEL };
		rc = ms_vk_buffer_write(bufs[2], 0, best, sizeof(best));
		if (rc != MS_OK)
			break;
		pc.mode = 0;
		rc = run(s, K_TOP, bufs, &pc, sizeof(pc), n);
		if (rc != MS_OK)
			break;
		pc.mode = 1;
		rc = run(s, K_TOP, bufs, &pc, sizeof(pc), n);
		if (rc != MS_OK)
			break;
		rc = ms_vk_buffer_read(bufs[2], 0, best, sizeof(best));
		if (rc != MS_OK || best[0] == 0)
			break;
		labels_out[m] = best[1];
		sizes_out[m] = best[0];
		pc.excl[pc.n_excl++] = best[1];
		(*n_found)++;
	}
	ms_vk_buffer_destroy(bufs[2]);
	return rc;
}

typedef struct {
	uint32_t n, n_words, mode, min_size, flags, n_keep, keep[MS_SEG_MAX_KEEP];
} select_push;

ms_status ms_segops_select(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *labels,
			   ms_vk_buffer *sizes, const ms_seg_select *sel, ms_vk_buffer *out)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[4] = { labels, sizes, out, out };
	size_t need[4] = { n * 4, n * 4, n, n };
	ms_status rc = check(g, bufs, need, 4);
	if (rc != MS_OK || n == 0)
		return rc;
	select_push pc = { (uint32_t)n, words(n), 0, 0, 0, 0, { 0 } };
	if (sel) {
		pc.min_size = sel->min_size;
		pc.flags = filter_flags(sel);
		pc.n_keep = sel->n_keep < MS_SEG_MAX_KEEP ? sel->n_keep : MS_SEG_MAX_KEEP;
		memcpy(pc.keep, sel->keep, sizeof(pc.keep));
	}
	return run(s, K_SELECT, bufs, &pc, sizeof(pc), pc.n_words);
}

ms_status ms_segops_fill_holes(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *in,
			       ms_vk_buffer *out, ms_vk_buffer *labels, ms_vk_buffer *sizes)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[4] = { labels, sizes, in, out };
	size_t need[4] = { n * 4, n * 4, n, n };
	ms_status rc = check(g, bufs, need, 4);
	if (rc != MS_OK || n == 0)
		return rc;
	rc = ms_segops_label(s, g, in, true, MS_SEG_CONN4, labels, sizes);
	if (rc != MS_OK)
		return rc;
	select_push pc = { (uint32_t)n, words(n), 1, 0, 0, 0, { 0 } };
	return run(s, K_SELECT, bufs, &pc, sizeof(pc), pc.n_words);
}

ms_status ms_segops_grow(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *hu, float lo,
			 float hi, ms_vk_buffer *within, ms_seg_conn conn, const uint32_t *seeds,
			 uint32_t n_seeds, ms_vk_buffer *out, ms_vk_buffer *labels,
			 ms_vk_buffer *sizes)
{
	ms_seg_select sel = { .seeded_only = true };
	ms_status rc;

	rc = ms_segops_threshold(s, g, hu, lo, hi, within, out);
	if (rc != MS_OK)
		return rc;
	rc = ms_segops_label(s, g, out, false, conn, labels, sizes);
	if (rc != MS_OK)
		return rc;
	rc = ms_segops_mark_seeds(s, g, labels, sizes, seeds, n_seeds);
	if (rc != MS_OK)
		return rc;
	return ms_segops_select(s, g, labels, sizes, &sel, out);
}

ms_status ms_segops_gauss(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *in,
			  const double sigma_mm[3], ms_vk_buffer *out, ms_vk_buffer *tmp)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[3] = { in, out, tmp };
	size_t need[3] = { n * 4, n * 4, n * 4 };
	double sp[3] = { g->sx, g->sy, g->sz };
	float *w[3] = { NULL, NULL, NULL };
	uint32_t r[3] = { 0, 0, 0 };
	ms_vk_buffer *wb = NULL;
	ms_status rc = check(g, bufs, need, 3);
	if (rc != MS_OK)
		return rc;
	int passes = 0;
	for (int a = 0; a < 3; a++) {
		rc = ms_segops_ref_gauss_weights(sigma_mm[a] / sp[a], &w[a], &r[a]);
		if (rc != MS_OK)
			goto out_free;
		passes += w[a] != NULL;
	}
	if (n == 0)
		goto out_free;
	/* Ping-pong so that the last pass lands in out: start in out for an odd pass count. */
	ms_vk_buffer *src = in, *dst = passes % 2 ? out : tmp;
	if (passes == 0) {
		ms_log_error("segops: Gaussian with all sigmas 0");
		rc = MS_ERR_ARG;
		goto out_free;
	}
	for (int a = 0; a < 3; a++) {
		if (!w[a])
			continue;
		ms_vk_buffer_destroy(wb);
		wb = NULL;
		rc = ms_vk_buffer_create(s->ctx, (2 * r[a] + 1) * sizeof(float), MS_MEM_DEVICE, &wb);
		if (rc != MS_OK)
			goto out_free;
		rc = ms_vk_buffer_write(wb, 0, w[a], (2 * r[a] + 1) * sizeof(float));
		if (rc != MS_OK)
			goto out_free;
		uint32_t pc[6] = { (uint32_t)n, g->nx, g->ny, g->nz, (uint32_t)a, r[a] };
		ms_vk_buffer *b[3] = { src, wb, dst };
		rc = run(s, K_GAUSS, b, pc, sizeof(pc), n);
		if (rc != MS_OK)
			goto out_free;
		src = dst;
		dst = dst == out ? tmp : out;
	}
out_free:
	ms_vk_buffer_destroy(wb);
	for (int a = 0; a < 3; a++)
		ms_free(w[a]);
	return rc;
}

ms_status ms_segops_edt(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *mask,
			ms_vk_buffer *out, ms_vk_buffer *tmp)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[3] = { mask, out, tmp };
	size_t need[3] = { n, n * 4, n * 4 };
	ms_vk_buffer *scratch = NULL;
	ms_status rc = check(g, bufs, need, 3);
	if (rc != MS_OK || n == 0)
		return rc;
	uint32_t dim[3] = { g->nx, g->ny, g->nz };
	double sp[3] = { g->sx, g->sy, g->sz };
	/* Lines are processed in batches whose envelopes (2 (m + 1) words per line) fit in one
	 * binding: the whole volume's would exceed lavapipe's 128 MiB beyond ~16 M voxels. */
	uint64_t cap_words = ms_vk_context_max_buffer_range(s->ctx) / sizeof(uint32_t) / 2;
	size_t batch[3], most = 0;
	for (int a = 0; a < 3; a++) {
		size_t lines = n / dim[a];
		batch[a] = lines;
		if ((uint64_t)lines * (dim[a] + 1) > cap_words)
			batch[a] = (size_t)(cap_words / (dim[a] + 1));
		if (batch[a] == 0) {
			ms_log_error("segops: EDT line of %u voxels too long for one binding", dim[a]);
			return MS_ERR_ARG;
		}
		if (batch[a] * (dim[a] + 1) > most)
			most = batch[a] * (dim[a] + 1);
	}
	rc = ms_vk_buffer_create(s->ctx, 2 * most * sizeof(uint32_t), MS_MEM_DEVICE, &scratch);
	if (rc != MS_OK)
		return rc;
	/* x: mask -> out, y: out -> tmp, z: tmp -> out (with the square root). */
	ms_vk_buffer *dst[3] = { out, tmp, out }, *src[3] = { out, out, tmp };
	for (int a = 0; a < 3 && rc == MS_OK; a++) {
		size_t lines = n / dim[a];
		for (size_t first = 0; first < lines && rc == MS_OK; first += batch[a]) {
			size_t count = lines - first < batch[a] ? lines - first : batch[a];
			struct {
				uint32_t nx, ny, nz, axis, n_lines, from_mask, last;
				float h;
				uint32_t z_base, line0;
			} pc = { g->nx, g->ny, g->nz, (uint32_t)a, (uint32_t)count, a == 0, a == 2,
				 (float)sp[a], (uint32_t)most, (uint32_t)first };
			/* The first pass ignores binding 1; bind a distinct buffer anyway. */
			ms_vk_buffer *b[4] = { mask, a == 0 ? tmp : src[a], dst[a], scratch };
			rc = run(s, K_EDT, b, &pc, sizeof(pc), count);
		}
	}
	ms_vk_buffer_destroy(scratch);
	return rc;
}

/* Copies a mask-sized buffer through the host (only when propagation stops on max_iter
 * with the result in the scratch buffer). */
static ms_status copy_via_host(ms_vk_buffer *from, ms_vk_buffer *to, size_t n)
{
	uint8_t *tmp = ms_malloc(n ? n : 1);
	ms_status rc;

	if (!tmp)
		return MS_ERR_NOMEM;
	rc = ms_vk_buffer_read(from, 0, tmp, n);
	if (rc == MS_OK)
		rc = ms_vk_buffer_write(to, 0, tmp, n);
	ms_free(tmp);
	return rc;
}

#define PROPAGATE_BATCH 8u

ms_status ms_segops_propagate(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *mask,
			      ms_vk_buffer *labels, ms_vk_buffer *tmp, uint32_t max_iter,
			      uint32_t *iterations)
{
	size_t n = ms_segops_ref_count(g);
	ms_vk_buffer *bufs[3] = { mask, labels, tmp };
	size_t need[3] = { n, n, n };
	ms_vk_buffer *changed = NULL;
	ms_status rc;

	*iterations = 0;
	rc = check(g, bufs, need, 3);
	if (rc != MS_OK || n == 0 || max_iter == 0)
		return rc;
	rc = ms_vk_buffer_create(s->ctx, (size_t)max_iter * sizeof(uint32_t), MS_MEM_DEVICE,
				 &changed);
	if (rc != MS_OK)
		return rc;
	rc = ms_vk_buffer_fill(changed, 0);
	if (rc != MS_OK)
		goto out_destroy;
	/* Jacobi steps ping-pong between labels and tmp; the change counts are read back every
	 * PROPAGATE_BATCH steps. A step without changes copies its input, so once one happens
	 * both buffers hold the result. */
	uint32_t it = 0;
	bool done = false;
	while (!done && it < max_iter) {
		uint32_t end = it + PROPAGATE_BATCH < max_iter ? it + PROPAGATE_BATCH : max_iter;
		uint32_t first = it;
		for (; it < end; it++) {
			uint32_t pc[6] = { (uint32_t)n, words(n), g->nx, g->ny, g->nz, it };
			ms_vk_buffer *b[4] = { mask, it % 2 ? tmp : labels, it % 2 ? labels : tmp,
					       changed };
			rc = run(s, K_PROPAGATE, b, pc, sizeof(pc), pc[1]);
			if (rc != MS_OK)
				goto out_destroy;
		}
		uint32_t counts[PROPAGATE_BATCH];
		rc = ms_vk_buffer_read(changed, first * sizeof(uint32_t), counts,
				       (end - first) * sizeof(uint32_t));
		if (rc != MS_OK)
			goto out_destroy;
		for (uint32_t j = 0; j < end - first && !done; j++) {
			if (counts[j] == 0)
				done = true;
			else
				(*iterations)++;
		}
	}
	if (!done && max_iter % 2 == 1)
		rc = copy_via_host(tmp, labels, n);
out_destroy:
	ms_vk_buffer_destroy(changed);
	return rc;
}
