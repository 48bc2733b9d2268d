#include "compute/ctseg.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "compute/segops.h"

/* Working masks. LUNG_A/LUNG_B become left/right once the centroids are known. */
enum { M_BODY, M_LUNG_A, M_LUNG_B, M_BONE, M_HEART, M_T1, M_T2, M_T3, M_TMP, M_COUNT };

/* The pipeline runs on an "engine": host arrays and the reference ops, or GPU buffers and
 * the segops kernels. Every step goes through the e_* wrappers, so both variants execute
 * the same decisions on identical intermediate masks. */
typedef struct {
	ms_seg_grid g;
	size_t n;
	const ms_volume *v;         /* borrowed */
	uint8_t *m[M_COUNT];        /* host engine */
	uint32_t *labels, *sizes;
	ms_segops *ops;             /* GPU engine when non-NULL */
	ms_vk_context *ctx;         /* borrowed */
	ms_vk_buffer *bhu, *bm[M_COUNT], *blabels, *bsizes;
} eng;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void ms_ctseg_params_default(ms_ctseg_params *p)
{
	*p = (ms_ctseg_params){
		.body_hu_min = -500.0f,
		.body_open_radius_px = 5,
		.body_open_max_mm = 4,
		.lung_hu_max = -320.0f,
		.airway_hu_max = -950.0f,
		.airway_seed_halfwidth_mm = 15,
		.lung_min_ml = 50,
		.lung_fused_ratio = 0.25,
		.lung_close_mm = 3,
		.split_step_mm = 2,
		.split_max_mm = 20,
		.bone_hu_min = 200.0f,
		.bone_min_ml = 1,
		.heart_dilate_mm = 10,
		.conn = MS_SEG_CONN6,
	};
}

void ms_ctseg_result_clear(ms_ctseg_result *r)
{
	if (!r)
		return;
	ms_free(r->body);
	ms_free(r->lung_left);
	ms_free(r->lung_right);
	ms_free(r->bone);
	ms_free(r->heart_roi);
	memset(r, 0, sizeof(*r));
}

/* False for NaN too. */
static bool in_range(double x, double lo, double hi)
{
	return x >= lo && x <= hi;
}

static bool params_ok(const ms_ctseg_params *p)
{
	return isfinite(p->body_hu_min) && isfinite(p->lung_hu_max) && isfinite(p->airway_hu_max) &&
	       isfinite(p->bone_hu_min) && p->body_open_radius_px <= 254 &&
	       in_range(p->body_open_max_mm, 0, 1000) &&
	       in_range(p->airway_seed_halfwidth_mm, 0, 1000) && in_range(p->lung_min_ml, 0, 1e7) &&
	       in_range(p->lung_fused_ratio, 0, 1) && in_range(p->lung_close_mm, 0, 1000) &&
	       in_range(p->split_step_mm, 1e-3, 1000) && in_range(p->split_max_mm, 0, 1000) &&
	       in_range(p->bone_min_ml, 0, 1e7) && in_range(p->heart_dilate_mm, 0, 1000) &&
	       (p->conn == MS_SEG_CONN6 || p->conn == MS_SEG_CONN26);
}

/* ---- engine ---------------------------------------------------------------------------- */

static void eng_close(eng *e)
{
	for (int i = 0; i < M_COUNT; i++) {
		ms_free(e->m[i]);
		ms_vk_buffer_destroy(e->bm[i]);
	}
	ms_free(e->labels);
	ms_free(e->sizes);
	ms_vk_buffer_destroy(e->bhu);
	ms_vk_buffer_destroy(e->blabels);
	ms_vk_buffer_destroy(e->bsizes);
	ms_segops_destroy(e->ops);
	memset(e, 0, sizeof(*e));
}

static ms_status eng_open(eng *e, ms_vk_context *c, const ms_volume *v)
{
	ms_status rc;

	memset(e, 0, sizeof(*e));
	e->v = v;
	e->g = (ms_seg_grid){ v->nx, v->ny, v->nz, v->geom.spacing[0], v->geom.spacing[1],
			      v->geom.spacing[2] };
	e->n = ms_segops_ref_count(&e->g);
	if (e->n > MS_SEG_MAX_VOXELS || (e->n && !v->voxels)) {
		ms_log_error("ctseg: %zu voxels (at most %zu)", e->n, MS_SEG_MAX_VOXELS);
		return MS_ERR_ARG;
	}
	if (!ms_segops_ref_grid_ok(&e->g)) {
		ms_log_error("ctseg: spacing %g x %g x %g mm unusable", e->g.sx, e->g.sy, e->g.sz);
		return MS_ERR_INPUT;
	}
	size_t bytes = e->n ? e->n : 1;
	if (!c) {
		for (int i = 0; i < M_COUNT; i++) {
			e->m[i] = ms_calloc(bytes, 1);
			if (!e->m[i])
				goto out_nomem;
		}
		e->labels = ms_malloc(bytes * sizeof(uint32_t));
		e->sizes = ms_malloc(bytes * sizeof(uint32_t));
		if (!e->labels || !e->sizes)
			goto out_nomem;
		return MS_OK;
	}
	e->ctx = c;
	if ((uint64_t)bytes * sizeof(float) > ms_vk_context_max_buffer_range(c)) {
		ms_log_warning("ctseg: %zu voxels exceed the device's maxStorageBufferRange", e->n);
		return MS_ERR_NOMEM;
	}
	rc = ms_segops_create(c, &e->ops);
	if (rc != MS_OK)
		goto out_close;
	rc = ms_vk_buffer_create(c, bytes * sizeof(float), MS_MEM_DEVICE, &e->bhu);
	if (rc == MS_OK)
		rc = ms_vk_buffer_create(c, bytes * sizeof(uint32_t), MS_MEM_DEVICE, &e->blabels);
	if (rc == MS_OK)
		rc = ms_vk_buffer_create(c, bytes * sizeof(uint32_t), MS_MEM_DEVICE, &e->bsizes);
	for (int i = 0; i < M_COUNT && rc == MS_OK; i++)
		rc = ms_vk_buffer_create(c, bytes, MS_MEM_DEVICE, &e->bm[i]);
	if (rc == MS_OK && e->n)
		rc = ms_vk_buffer_write(e->bhu, 0, v->voxels, e->n * sizeof(float));
	if (rc != MS_OK)
		goto out_close;
	return MS_OK;

out_nomem:
	rc = MS_ERR_NOMEM;
out_close:
	eng_close(e);
	return rc;
}

static ms_status e_threshold(eng *e, float lo, float hi, int within, int out)
{
	if (e->ops)
		return ms_segops_threshold(e->ops, &e->g, e->bhu, lo, hi,
					   within >= 0 ? e->bm[within] : NULL, e->bm[out]);
	ms_segops_ref_threshold(&e->g, e->v->voxels, lo, hi, within >= 0 ? e->m[within] : NULL,
				e->m[out]);
	return MS_OK;
}

static ms_status e_logic(eng *e, int a, int b, ms_seg_logic op, int out)
{
	if (e->ops)
		return ms_segops_logic(e->ops, &e->g, e->bm[a], e->bm[b], op, e->bm[out]);
	ms_segops_ref_logic(&e->g, e->m[a], e->m[b], op, e->m[out]);
	return MS_OK;
}

static ms_status e_morph(eng *e, ms_seg_morph_op op, const ms_seg_elem *el, int in, int out)
{
	if (e->ops)
		return ms_segops_morph(e->ops, &e->g, op, el, e->bm[in], e->bm[out], e->bm[M_TMP]);
	return ms_segops_ref_morph(&e->g, op, el, e->m[in], e->m[out]);
}

static ms_status e_label(eng *e, int mask, ms_seg_conn conn)
{
	if (e->ops)
		return ms_segops_label(e->ops, &e->g, e->bm[mask], false, conn, e->blabels, e->bsizes);
	return ms_segops_ref_label(&e->g, e->m[mask], false, conn, e->labels, e->sizes);
}

static ms_status e_largest(eng *e, const ms_seg_select *f, uint32_t k, uint32_t *l, uint32_t *s,
			   uint32_t *nf)
{
	if (e->ops)
		return ms_segops_largest(e->ops, &e->g, e->blabels, e->bsizes, f, k, l, s, nf);
	ms_segops_ref_largest(&e->g, e->labels, e->sizes, f, k, l, s, nf);
	return MS_OK;
}

static ms_status e_select(eng *e, const ms_seg_select *sel, int out)
{
	if (e->ops)
		return ms_segops_select(e->ops, &e->g, e->blabels, e->bsizes, sel, e->bm[out]);
	ms_segops_ref_select(&e->g, e->labels, e->sizes, sel, e->m[out]);
	return MS_OK;
}

static ms_status e_keep(eng *e, uint32_t label, int out)
{
	ms_seg_select sel = { .n_keep = 1, .keep = { label } };
	return e_select(e, &sel, out);
}

static ms_status e_fill(eng *e, int in, int out)
{
	if (e->ops)
		return ms_segops_fill_holes(e->ops, &e->g, e->bm[in], e->bm[out], e->blabels,
					    e->bsizes);
	return ms_segops_ref_fill_holes(&e->g, e->m[in], e->m[out]);
}

static ms_status e_grow(eng *e, float lo, float hi, int within, ms_seg_conn conn,
			const uint32_t *seeds, uint32_t n_seeds, int out)
{
	if (e->ops)
		return ms_segops_grow(e->ops, &e->g, e->bhu, lo, hi, e->bm[within], conn, seeds,
				      n_seeds, e->bm[out], e->blabels, e->bsizes);
	return ms_segops_ref_grow(&e->g, e->v->voxels, lo, hi, e->m[within], conn, seeds, n_seeds,
				  e->m[out]);
}

static ms_status e_propagate(eng *e, int mask, int labels, uint32_t max_iter)
{
	uint32_t it;

	if (e->ops)
		return ms_segops_propagate(e->ops, &e->g, e->bm[mask], e->bm[labels], e->bm[M_TMP],
					   max_iter, &it);
	return ms_segops_ref_propagate(&e->g, e->m[mask], e->m[labels], max_iter, &it);
}

static ms_status e_read(eng *e, int id, size_t off, size_t len, uint8_t *dst)
{
	if (len == 0)
		return MS_OK;
	if (e->ops)
		return ms_vk_buffer_read(e->bm[id], off, dst, len);
	memcpy(dst, e->m[id] + off, len);
	return MS_OK;
}

static ms_status e_write(eng *e, int id, const uint8_t *src)
{
	if (e->n == 0)
		return MS_OK;
	if (e->ops)
		return ms_vk_buffer_write(e->bm[id], 0, src, e->n);
	memcpy(e->m[id], src, e->n);
	return MS_OK;
}

static ms_status e_clear(eng *e, int id)
{
	if (e->ops)
		return ms_vk_buffer_fill(e->bm[id], 0);
	memset(e->m[id], 0, e->n);
	return MS_OK;
}

/* Morphology with a cylinder of radius and half-height r_mm (at least one voxel): a
 * per-slice disk, then a z segment (cylinder = disk + segment, so erosion and dilation both decompose). Far fewer
 * runs than a ball of the same radius. Uses T3 as the intermediate: in/out must not be T3. */
static ms_status e_morph_cyl(eng *e, ms_seg_morph_op op, double r_mm, int in, int out)
{
	ms_seg_elem disk = ms_segops_ref_ball(&e->g, r_mm, true);
	ms_seg_elem seg = { 0, 0, (float)(r_mm / e->g.sz) };
	ms_status rc;

	/* At least one voxel along every axis, so that iterating always makes progress. */
	disk.rx = fmaxf(disk.rx, 1.0f);
	disk.ry = fmaxf(disk.ry, 1.0f);
	seg.rz = fmaxf(seg.rz, 1.0f);
	rc = e_morph(e, op, &disk, in, M_T3);

	return rc == MS_OK ? e_morph(e, op, &seg, M_T3, out) : rc;
}

/* Voxels needed for ml millilitres (at least 1). */
static uint32_t voxels_for_ml(const ms_seg_grid *g, double ml)
{
	double v = ceil(ml * 1000.0 / (g->sx * g->sy * g->sz));
	return v < 1 ? 1 : v > MS_SEG_SIZE_MASK ? MS_SEG_SIZE_MASK : (uint32_t)v;
}

/* ---- body ------------------------------------------------------------------------------ */

static ms_status run_body(eng *e, const ms_ctseg_params *p)
{
	/* 5 px is the literature's radius at sub-millimetre pixels; on coarse pixels it would also
	 * open a thin chest wall (and let the lungs out of the body), so cap it in millimetres. */
	float r = (float)p->body_open_radius_px;
	float cap = (float)floor(p->body_open_max_mm / fmax(e->g.sx, e->g.sy));
	if (r > cap)
		r = cap > 1 ? cap : 1;
	ms_seg_elem disk = { r, r, 0 };
	uint32_t l, s, nf;
	ms_status rc;

	rc = e_threshold(e, nextafterf(p->body_hu_min, INFINITY), INFINITY, -1, M_T1);
	if (rc == MS_OK)
		rc = e_morph(e, MS_SEG_ERODE, &disk, M_T1, M_T2);
	if (rc == MS_OK)
		rc = e_morph(e, MS_SEG_DILATE, &disk, M_T2, M_T3);
	if (rc == MS_OK)
		rc = e_label(e, M_T3, p->conn);
	if (rc == MS_OK)
		rc = e_largest(e, NULL, 1, &l, &s, &nf);
	if (rc != MS_OK)
		return rc;
	if (nf == 0)
		return e_clear(e, M_BODY);
	rc = e_keep(e, l, M_T1);
	if (rc != MS_OK)
		return rc;
	return e_fill(e, M_T1, M_BODY);
}

/* ---- lungs ----------------------------------------------------------------------------- */

/* Slice with the largest patient z (the top): the last one when the normal points up. */
static uint32_t top_slice(const eng *e)
{
	return e->v->geom.normal[2] >= 0 ? e->g.nz - 1 : 0;
}

/* Removes the airways from the lung candidates in T1 (see the header). */
static ms_status remove_airways(eng *e, const ms_ctseg_params *p, bool *removed)
{
	const ms_seg_grid *g = &e->g;
	size_t plane = (size_t)g->nx * g->ny;
	uint32_t z = top_slice(e), n_seeds = 0;
	uint32_t half = (uint32_t)floor(p->airway_seed_halfwidth_mm / g->sx);
	uint32_t x0 = g->nx / 2 > half ? g->nx / 2 - half : 0;
	uint32_t x1 = g->nx / 2 + half < g->nx ? g->nx / 2 + half : g->nx - 1;
	uint8_t *slice = ms_malloc(plane ? plane : 1);
	uint32_t *seeds = ms_malloc(((size_t)(x1 - x0 + 1) * g->ny) * sizeof(uint32_t));
	ms_status rc;

	*removed = false;
	if (!slice || !seeds) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	rc = e_read(e, M_T1, z * plane, plane, slice);
	if (rc != MS_OK)
		goto out_free;
	const float *hu = e->v->voxels + z * plane;
	for (uint32_t y = 0; y < g->ny; y++) {
		for (uint32_t x = x0; x <= x1 && n_seeds < 65536; x++) {
			size_t i = x + (size_t)g->nx * y;
			if (slice[i] && hu[i] < p->airway_hu_max)
				seeds[n_seeds++] = (uint32_t)(z * plane + i);
		}
	}
	if (n_seeds == 0)
		goto out_free;
	rc = e_grow(e, -INFINITY, p->airway_hu_max, M_T1, p->conn, seeds, n_seeds, M_T2);
	if (rc == MS_OK)
		rc = e_logic(e, M_T1, M_T2, MS_SEG_AND_NOT, M_T1);
	*removed = rc == MS_OK;
out_free:
	ms_free(seeds);
	ms_free(slice);
	return rc;
}

/* Mean x index of the voxels with lab == value (or mask != 0 when lab is NULL). */
static double mean_x(const ms_seg_grid *g, const uint8_t *m, uint8_t value, bool *any)
{
	double sum = 0, cnt = 0;
	size_t i = 0;

	for (uint32_t z = 0; z < g->nz; z++)
		for (uint32_t y = 0; y < g->ny; y++)
			for (uint32_t x = 0; x < g->nx; x++, i++) {
				if (value ? m[i] == value : m[i] != 0) {
					sum += x;
					cnt++;
				}
			}
	*any = cnt > 0;
	return cnt > 0 ? sum / cnt : 0;
}

/* Splits the fused lung mask in T1 into LUNG_A and LUNG_B (see the header). */
static ms_status split_lungs(eng *e, const ms_ctseg_params *p)
{
	const ms_seg_grid *g = &e->g;
	uint8_t *fused = ms_malloc(e->n), *lab = ms_malloc(e->n), *b = ms_malloc(e->n);
	bool split = false, any;
	ms_status rc = MS_OK;

	if (!fused || !lab || !b) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	/* Iterated erosion by a split_step_mm cylinder (T2 = T1 eroded k times): cheap per
	 * step, unlike one ball of the full radius per step. */
	int src = M_T1;
	for (double r = p->split_step_mm; r <= p->split_max_mm + 1e-9 && !split; r += p->split_step_mm) {
		uint32_t l[2], s[2], nf;
		rc = e_morph_cyl(e, MS_SEG_ERODE, p->split_step_mm, src, M_T2);
		src = M_T2;
		if (rc == MS_OK)
			rc = e_label(e, M_T2, MS_SEG_CONN6);
		if (rc == MS_OK)
			rc = e_largest(e, NULL, 2, l, s, &nf);
		if (rc != MS_OK)
			goto out_free;
		if (nf == 0)
			break;
		if (nf == 2 && s[1] >= p->lung_fused_ratio * s[0]) {
			split = true;
			rc = e_keep(e, l[0], M_LUNG_A);
			if (rc == MS_OK)
				rc = e_keep(e, l[1], M_LUNG_B);
			if (rc != MS_OK)
				goto out_free;
		}
	}
	rc = e_read(e, M_T1, 0, e->n, fused);
	if (rc != MS_OK)
		goto out_free;
	double xmid = mean_x(g, fused, 0, &any);
	if (split) {
		/* Markers 1/2 grow through the fused mask; what they never reach goes by side. */
		rc = e_read(e, M_LUNG_A, 0, e->n, lab);
		if (rc == MS_OK)
			rc = e_read(e, M_LUNG_B, 0, e->n, b);
		if (rc != MS_OK)
			goto out_free;
		for (size_t i = 0; i < e->n; i++)
			lab[i] = lab[i] ? 1 : b[i] ? 2 : 0;
		bool a1, a2;
		double x1 = mean_x(g, lab, 1, &a1), x2 = mean_x(g, lab, 2, &a2);
		xmid = 0.5 * (x1 + x2);
		rc = e_write(e, M_T3, lab);
		if (rc == MS_OK)
			rc = e_propagate(e, M_T1, M_T3, 4 * (g->nx + g->ny + g->nz));
		if (rc == MS_OK)
			rc = e_read(e, M_T3, 0, e->n, lab);
		if (rc != MS_OK)
			goto out_free;
		bool one_low = x1 < x2;
		size_t i = 0;
		for (uint32_t z = 0; z < g->nz; z++)
			for (uint32_t y = 0; y < g->ny; y++)
				for (uint32_t x = 0; x < g->nx; x++, i++) {
					if (fused[i] && !lab[i])
						lab[i] = (x < xmid) == one_low ? 1 : 2;
				}
	} else {
		ms_log_warning("ctseg: fused lungs did not separate up to %g mm erosion; split at "
			       "the centroid column", p->split_max_mm);
		size_t i = 0;
		for (uint32_t z = 0; z < g->nz; z++)
			for (uint32_t y = 0; y < g->ny; y++)
				for (uint32_t x = 0; x < g->nx; x++, i++)
					lab[i] = fused[i] ? (x < xmid ? 1 : 2) : 0;
	}
	for (size_t i = 0; i < e->n; i++) {
		b[i] = lab[i] == 2;
		lab[i] = lab[i] == 1;
	}
	rc = e_write(e, M_LUNG_A, lab);
	if (rc == MS_OK)
		rc = e_write(e, M_LUNG_B, b);
out_free:
	ms_free(b);
	ms_free(lab);
	ms_free(fused);
	return rc;
}

/* Hole filling, closing and the body restriction of one lung mask, in place. */
static ms_status finish_lung(eng *e, const ms_ctseg_params *p, int id)
{
	ms_seg_elem ball = ms_segops_ref_ball(&e->g, p->lung_close_mm, false);
	ms_status rc;

	rc = e_fill(e, id, M_T1);
	if (rc == MS_OK)
		rc = e_morph(e, MS_SEG_DILATE, &ball, M_T1, M_T2);
	if (rc == MS_OK)
		rc = e_morph(e, MS_SEG_ERODE, &ball, M_T2, M_T1);
	if (rc == MS_OK)
		rc = e_logic(e, M_T1, M_BODY, MS_SEG_AND, id);
	return rc;
}

static ms_status run_lungs(eng *e, const ms_ctseg_params *p, ms_ctseg_result *r)
{
	ms_seg_select border = { .drop_border = true };
	ms_seg_select big = { .min_size = voxels_for_ml(&e->g, p->lung_min_ml) };
	uint32_t l[2], s[2], nf;
	ms_status rc;

	rc = e_threshold(e, -INFINITY, p->lung_hu_max, M_BODY, M_T1);
	if (rc == MS_OK)
		rc = e_label(e, M_T1, p->conn);
	if (rc == MS_OK)
		rc = e_select(e, &border, M_T1);
	if (rc == MS_OK)
		rc = remove_airways(e, p, &r->airway_removed);
	if (rc == MS_OK)
		rc = e_label(e, M_T1, p->conn);
	if (rc == MS_OK)
		rc = e_largest(e, &big, 2, l, s, &nf);
	if (rc != MS_OK)
		return rc;
	if (nf == 0) {
		rc = e_clear(e, M_LUNG_A);
		return rc == MS_OK ? e_clear(e, M_LUNG_B) : rc;
	}
	if (nf == 2 && s[1] >= p->lung_fused_ratio * s[0]) {
		rc = e_keep(e, l[0], M_LUNG_A);
		if (rc == MS_OK)
			rc = e_keep(e, l[1], M_LUNG_B);
	} else {
		r->lungs_fused = true;
		rc = e_keep(e, l[0], M_T1);
		if (rc == MS_OK)
			rc = split_lungs(e, p);
	}
	if (rc == MS_OK)
		rc = finish_lung(e, p, M_LUNG_A);
	if (rc == MS_OK)
		rc = finish_lung(e, p, M_LUNG_B);
	/* Closing may push one lung into the other: the first keeps the overlap. */
	if (rc == MS_OK)
		rc = e_logic(e, M_LUNG_B, M_LUNG_A, MS_SEG_AND_NOT, M_LUNG_B);
	return rc;
}

/* Patient x (LPS) of the centroid of mask m; false if m is empty. */
static bool patient_x(const eng *e, const uint8_t *m, double *px)
{
	const ms_geometry *geo = &e->v->geom;
	double s[3] = { 0, 0, 0 }, cnt = 0;
	size_t i = 0;

	for (uint32_t z = 0; z < e->g.nz; z++)
		for (uint32_t y = 0; y < e->g.ny; y++)
			for (uint32_t x = 0; x < e->g.nx; x++, i++) {
				if (m[i]) {
					s[0] += x;
					s[1] += y;
					s[2] += z;
					cnt++;
				}
			}
	if (cnt == 0)
		return false;
	*px = geo->origin[0] + s[0] / cnt * geo->spacing[0] * geo->row_dir[0] +
	      s[1] / cnt * geo->spacing[1] * geo->col_dir[0] +
	      s[2] / cnt * geo->spacing[2] * geo->normal[0];
	return true;
}

/* ---- heart ROI ------------------------------------------------------------------------- */

/* Per-slice geometry of the heart ROI before dilation (see the header). */
static void heart_candidate(const eng *e, const ms_ctseg_result *r, uint8_t *out)
{
	const ms_seg_grid *g = &e->g;
	size_t plane = (size_t)g->nx * g->ny;
	/* +1 when increasing row index j runs posterior (LPS +y). */
	int post = e->v->geom.col_dir[1] >= 0 ? 1 : -1;

	memset(out, 0, e->n);
	for (uint32_t z = 0; z < g->nz; z++) {
		const uint8_t *L = r->lung_left + z * plane, *R = r->lung_right + z * plane;
		const uint8_t *bone = r->bone + z * plane, *body = r->body + z * plane;
		double sx[2] = { 0, 0 }, sy = 0, cnt[2] = { 0, 0 };
		for (size_t i = 0; i < plane; i++) {
			if (L[i]) {
				sx[0] += i % g->nx;
				sy += i / g->nx;
				cnt[0]++;
			}
			if (R[i]) {
				sx[1] += i % g->nx;
				sy += i / g->nx;
				cnt[1]++;
			}
		}
		if (cnt[0] == 0 || cnt[1] == 0)
			continue;
		double cx0 = sx[0] / cnt[0], cx1 = sx[1] / cnt[1], cy = sy / (cnt[0] + cnt[1]);
		const uint8_t *lo = cx0 < cx1 ? L : R, *hi = cx0 < cx1 ? R : L;
		double xa = fmin(cx0, cx1), xb = fmax(cx0, cx1);

		/* Spine front: most anterior bone voxel between the lung centroids and posterior
		 * to their mean row. */
		int64_t front = -1;
		for (uint32_t y = 0; y < g->ny; y++) {
			if (post * ((double)y - cy) <= 0)
				continue;
			for (uint32_t x = 0; x < g->nx; x++) {
				if (bone[x + (size_t)g->nx * y] && x > xa && x < xb &&
				    (front < 0 || post * ((int64_t)y - front) < 0))
					front = y;
			}
		}
		for (uint32_t y = 0; y < g->ny; y++) {
			if (front >= 0 && post * ((int64_t)y - front) >= 0)
				continue;
			const uint8_t *lr = lo + (size_t)g->nx * y, *hr = hi + (size_t)g->nx * y;
			int64_t a = -1, b = -1;
			for (uint32_t x = 0; x < g->nx; x++) {
				if (lr[x])
					a = x;
				if (hr[x] && b < 0)
					b = x;
			}
			if (a < 0 || b < 0 || a + 1 >= b)
				continue;
			for (int64_t x = a + 1; x < b; x++) {
				size_t i = (size_t)x + (size_t)g->nx * y;
				if (body[i] && !bone[i] && !L[i] && !R[i])
					out[z * plane + i] = 1;
			}
		}
	}
}

static ms_status run_heart(eng *e, const ms_ctseg_params *p, ms_ctseg_result *r)
{
	ms_status rc;
	bool any = false;

	heart_candidate(e, r, r->heart_roi);
	for (size_t i = 0; i < e->n && !any; i++)
		any = r->heart_roi[i] != 0;
	if (!any)
		return MS_OK;
	rc = e_write(e, M_HEART, r->heart_roi);
	if (rc == MS_OK)
		rc = e_morph_cyl(e, MS_SEG_DILATE, p->heart_dilate_mm, M_HEART, M_T1);
	if (rc == MS_OK)
		rc = e_logic(e, M_T1, M_BODY, MS_SEG_AND, M_T2);
	if (rc == MS_OK)
		rc = e_logic(e, M_T2, M_BONE, MS_SEG_AND_NOT, M_HEART);
	if (rc == MS_OK)
		rc = e_read(e, M_HEART, 0, e->n, r->heart_roi);
	return rc;
}

/* ---- driver ---------------------------------------------------------------------------- */

static ms_status run(ms_vk_context *c, const ms_volume *v, const ms_ctseg_params *p_in,
		     ms_ctseg_result *r)
{
	ms_ctseg_params p;
	eng e;
	ms_status rc;
	double t = now_ms();

	ms_ctseg_result_clear(r);
	if (p_in)
		p = *p_in;
	else
		ms_ctseg_params_default(&p);
	if (!v || !params_ok(&p)) {
		ms_log_error("ctseg: invalid volume or parameters");
		return MS_ERR_ARG;
	}
	rc = eng_open(&e, c, v);
	if (rc != MS_OK)
		return rc;
	size_t bytes = e.n ? e.n : 1;
	uint8_t **out[5] = { &r->body, &r->lung_left, &r->lung_right, &r->bone, &r->heart_roi };
	for (int i = 0; i < 5; i++) {
		*out[i] = ms_calloc(bytes, 1);
		if (!*out[i]) {
			rc = MS_ERR_NOMEM;
			goto out_close;
		}
	}
	r->stage_ms[MS_CTSEG_STAGE_SETUP] = now_ms() - t;
	if (e.n == 0)
		goto out_close;

	t = now_ms();
	rc = run_body(&e, &p);
	r->stage_ms[MS_CTSEG_STAGE_BODY] = now_ms() - t;
	if (rc != MS_OK)
		goto out_close;
	t = now_ms();
	rc = run_lungs(&e, &p, r);
	r->stage_ms[MS_CTSEG_STAGE_LUNGS] = now_ms() - t;
	if (rc != MS_OK)
		goto out_close;
	t = now_ms();
	ms_seg_select bone_sel = { .min_size = voxels_for_ml(&e.g, p.bone_min_ml) };
	rc = e_threshold(&e, p.bone_hu_min, INFINITY, M_BODY, M_T1);
	if (rc == MS_OK)
		rc = e_label(&e, M_T1, p.conn);
	if (rc == MS_OK)
		rc = e_select(&e, &bone_sel, M_T1);
	if (rc == MS_OK)
		rc = e_fill(&e, M_T1, M_BONE);
	r->stage_ms[MS_CTSEG_STAGE_BONE] = now_ms() - t;
	if (rc != MS_OK)
		goto out_close;

	t = now_ms();
	rc = e_read(&e, M_BODY, 0, e.n, r->body);
	if (rc == MS_OK)
		rc = e_read(&e, M_LUNG_A, 0, e.n, r->lung_left);
	if (rc == MS_OK)
		rc = e_read(&e, M_LUNG_B, 0, e.n, r->lung_right);
	if (rc == MS_OK)
		rc = e_read(&e, M_BONE, 0, e.n, r->bone);
	if (rc != MS_OK)
		goto out_close;
	/* LUNG_A went to lung_left: swap unless it lies on the patient's left (+x in LPS). */
	double xa, xb, xbody;
	bool ha = patient_x(&e, r->lung_left, &xa), hb = patient_x(&e, r->lung_right, &xb);
	bool swap = false;
	if (ha && hb)
		swap = xa < xb;
	else if (ha && patient_x(&e, r->body, &xbody))
		swap = xa < xbody;
	else if (hb && patient_x(&e, r->body, &xbody))
		swap = xb > xbody;
	if (swap) {
		uint8_t *tmp = r->lung_left;
		r->lung_left = r->lung_right;
		r->lung_right = tmp;
	}
	r->stage_ms[MS_CTSEG_STAGE_READ] = now_ms() - t;

	t = now_ms();
	rc = run_heart(&e, &p, r);
	r->stage_ms[MS_CTSEG_STAGE_HEART] = now_ms() - t;
	if (rc != MS_OK)
		goto out_close;

	double voxel_ml = e.g.sx * e.g.sy * e.g.sz / 1000.0;
	for (int k = 0; k < 5; k++) {
		size_t cnt = 0;
		for (size_t i = 0; i < e.n; i++)
			cnt += (*out[k])[i] != 0;
		r->volume_ml[k] = (double)cnt * voxel_ml;
	}
	if (e.ops)
		r->gpu_ms = ms_segops_gpu_ms(e.ops);
out_close:
	eng_close(&e);
	if (rc != MS_OK)
		ms_ctseg_result_clear(r);
	return rc;
}

ms_status ms_ctseg_ref(const ms_volume *v, const ms_ctseg_params *p, ms_ctseg_result *r)
{
	return run(NULL, v, p, r);
}

ms_status ms_ctseg_gpu(ms_vk_context *c, const ms_volume *v, const ms_ctseg_params *p,
		       ms_ctseg_result *r)
{
	if (!c) {
		ms_log_error("ctseg: no Vulkan context");
		return MS_ERR_ARG;
	}
	return run(c, v, p, r);
}

/* ---- phantom --------------------------------------------------------------------------- */

static double sq(double x)
{
	return x * x;
}

/* Label of the phantom at patient point (x, y, z); later shapes win. */
static uint8_t phantom_label(const ms_ctseg_phantom_opts *o, double x, double y, double z,
			     double lz)
{
	uint8_t l = MS_PHANTOM_AIR;

	if (y >= 145 && y <= 155 && fabs(x) <= 190)
		l = MS_PHANTOM_TABLE;
	if (sq(x / 175) + sq(y / 140) <= 1)
		l = MS_PHANTOM_TISSUE;
	if (l == MS_PHANTOM_TISSUE && sq(x) + sq(y - 95) <= sq(20))
		l = MS_PHANTOM_SPINE;
	if (o->lungs) {
		if (sq((x - 75) / 45) + sq((y + 10) / 60) + sq(z / lz) <= 1)
			l = MS_PHANTOM_LUNG_LEFT;
		if (sq((x + 75) / 45) + sq((y + 10) / 60) + sq(z / lz) <= 1)
			l = MS_PHANTOM_LUNG_RIGHT;
		if (o->fused && fabs(x) <= 75 && sq(y + 10) + sq(z) <= sq(12))
			l = x >= 0 ? MS_PHANTOM_LUNG_LEFT : MS_PHANTOM_LUNG_RIGHT;
	}
	if (o->airway && ((z >= 20 && sq(x) + sq(y + 30) <= sq(9)) ||
			  (fabs(x) <= 75 && sq(y + 30) + sq(z - 15) <= sq(6))))
		l = MS_PHANTOM_AIRWAY;
	return l;
}

ms_status ms_ctseg_phantom(uint32_t nx, uint32_t ny, uint32_t nz, double sxy, double sz,
			   const ms_ctseg_phantom_opts *o, ms_volume **out, uint8_t **truth)
{
	static const float hu[] = { -1000, 0, -800, -800, 700, 200, -1000 };
	ms_ctseg_phantom_opts def = { .lungs = true };
	ms_volume *v = NULL;
	uint8_t *t = NULL;
	ms_status rc;

	*out = NULL;
	if (truth)
		*truth = NULL;
	if (!o)
		o = &def;
	if (!(sxy > 0) || !(sz > 0))
		return MS_ERR_ARG;
	rc = ms_volume_create(nx, ny, nz, &v);
	if (rc != MS_OK)
		return rc;
	size_t n = ms_volume_count(v);
	if (truth) {
		t = ms_malloc(n ? n : 1);
		if (!t) {
			ms_volume_destroy(v);
			return MS_ERR_NOMEM;
		}
	}
	ms_geometry *g = &v->geom;
	*g = (ms_geometry){
		.origin = { -0.5 * (nx - 1) * sxy, -0.5 * (ny - 1) * sxy, -0.5 * (nz - 1) * sz },
		.row_dir = { 1, 0, 0 },
		.col_dir = { 0, 1, 0 },
		.normal = { 0, 0, 1 },
		.spacing = { sxy, sxy, sz },
	};
	double lz = fmin(60, 0.4 * nz * sz);
	size_t i = 0;
	for (uint32_t k = 0; k < nz; k++)
		for (uint32_t j = 0; j < ny; j++)
			for (uint32_t c = 0; c < nx; c++, i++) {
				uint8_t l = phantom_label(o, g->origin[0] + c * sxy, g->origin[1] + j * sxy,
							  g->origin[2] + k * sz, lz);
				v->voxels[i] = hu[l];
				if (t)
					t[i] = l;
			}
	*out = v;
	if (truth)
		*truth = t;
	return MS_OK;
}
