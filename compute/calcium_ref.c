#include "compute/calcium_ref.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* In-plane neighbour offsets: the first 4 are the 4-neighbourhood. */
static const int ndx[8] = { -1, 1, 0, 0, -1, 1, -1, 1 };
static const int ndy[8] = { 0, 0, -1, 1, -1, -1, 1, 1 };

/* Flood-fills the 2-D component of pixel 'seed' in a slice of nx*ny pixels where mask is
 * set and lab is 0, giving it label id; stack holds nx*ny entries and receives the
 * component's pixels. Returns the pixel count. */
static size_t fill2d(const uint8_t *mask, uint32_t *lab, uint32_t *stack, uint32_t nx, uint32_t ny,
		     int conn, uint32_t seed, uint32_t id)
{
	size_t top = 0, n = 0;

	lab[seed] = id;
	stack[top++] = seed;
	/* The stack doubles as the output list: entries below 'n' are done. */
	while (n < top) {
		uint32_t q = stack[n++];
		int x = (int)(q % nx), y = (int)(q / nx);
		for (int k = 0; k < conn; k++) {
			int xx = x + ndx[k], yy = y + ndy[k];
			if (xx < 0 || yy < 0 || xx >= (int)nx || yy >= (int)ny)
				continue;
			uint32_t o = (uint32_t)yy * nx + (uint32_t)xx;
			if (mask[o] && !lab[o]) {
				lab[o] = id;
				stack[top++] = o;
			}
		}
	}
	return n;
}

ms_status ms_cac_ref(const ms_volume *vol, const uint8_t *roi, const ms_cac_params *p,
		     ms_cac_result *r)
{
	ms_cac_setup s;
	uint8_t *cand = NULL;
	uint32_t *comp = NULL, *stack = NULL, *cnt = NULL, *newid = NULL;
	float *peak = NULL;
	uint8_t *weight = NULL;
	ms_cac_lesion *les = NULL;
	size_t n_comp = 0, cap = 0, n_les = 0, les_cap = 0;
	ms_status rc;
	double t;

	ms_cac_result_clear(r);
	rc = ms_cac_setup_resolve(vol, p, &s);
	if (rc != MS_OK)
		return rc;
	uint32_t nx = vol->nx, ny = vol->ny, nz = vol->nz;
	size_t plane = (size_t)nx * ny, n = plane * nz;
	const float *hu = vol->voxels;

	cand = ms_malloc(n);
	comp = ms_calloc(n, sizeof(uint32_t));
	stack = ms_malloc(n * sizeof(uint32_t));
	r->lesion_map = ms_calloc(n, sizeof(uint32_t));
	if (!cand || !comp || !stack || !r->lesion_map) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}

	/* 1: candidates. */
	t = now_ms();
	for (size_t i = 0; i < n; i++)
		cand[i] = isfinite(hu[i]) && (double)hu[i] >= s.thr && (!roi || roi[i]);
	r->stage_ms[1] = now_ms() - t;

	/* 2: 2-D components, numbered per slice in raster order of their first pixel. */
	t = now_ms();
	for (uint32_t z = 0; z < nz; z++) {
		size_t off = z * plane;
		for (size_t q = 0; q < plane; q++) {
			if (!cand[off + q] || comp[off + q])
				continue;
			if (n_comp == UINT32_MAX - 1) {
				rc = MS_ERR_ARG;
				goto out_free;
			}
			fill2d(cand + off, comp + off, stack, nx, ny, p->connectivity, (uint32_t)q,
			       (uint32_t)n_comp + 1);
			n_comp++;
		}
	}
	r->n_components = (uint32_t)n_comp;
	r->stage_ms[2] = now_ms() - t;

	/* 3: pixel count and peak per component. */
	t = now_ms();
	cap = n_comp ? n_comp : 1;
	cnt = ms_calloc(cap, sizeof(uint32_t));
	peak = ms_calloc(cap, sizeof(float));
	weight = ms_calloc(cap, 1);
	if (!cnt || !peak || !weight) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		if (!comp[i])
			continue;
		size_t c = comp[i] - 1;
		cnt[c]++;
		if (hu[i] > peak[c])
			peak[c] = hu[i];
	}
	r->stage_ms[3] = now_ms() - t;

	/* 4: area filter and weights; weight 0 = dropped. */
	t = now_ms();
	for (size_t c = 0; c < n_comp; c++)
		weight[c] = cnt[c] >= s.n_min ? (uint8_t)ms_cac_weight(&s, peak[c]) : 0;
	r->stage_ms[4] = now_ms() - t;

	/* 5: lesions = 3-D flood fill over kept voxels (in-plane connectivity + the voxels
	 * directly above and below), started in raster order so ids follow the lowest voxel. */
	t = now_ms();
	uint32_t *map = r->lesion_map;
	double dpix = s.dx * s.dy;
	for (size_t seed = 0; seed < n; seed++) {
		if (!comp[seed] || !weight[comp[seed] - 1] || map[seed])
			continue;
		if (n_les == les_cap) {
			size_t nc = les_cap ? les_cap * 2 : 16;
			ms_cac_lesion *nl = ms_realloc(les, nc * sizeof(*nl));
			if (!nl) {
				rc = MS_ERR_NOMEM;
				goto out_free;
			}
			les = nl;
			les_cap = nc;
		}
		ms_cac_lesion *l = &les[n_les];
		memset(l, 0, sizeof(*l));
		l->id = (uint32_t)++n_les;
		l->z_first = UINT32_MAX;
		double sum_hu = 0, score = 0, sx = 0, sy = 0, sz = 0;
		size_t top = 0;
		map[seed] = l->id;
		stack[top++] = (uint32_t)seed;
		while (top) {
			size_t v = stack[--top];
			uint32_t x = (uint32_t)(v % nx), y = (uint32_t)(v / nx % ny), z = (uint32_t)(v / plane);
			l->n_voxels++;
			sum_hu += hu[v];
			if (hu[v] > l->peak_hu)
				l->peak_hu = hu[v];
			score += dpix * weight[comp[v] - 1];
			sx += x;
			sy += y;
			sz += z;
			if (z < l->z_first)
				l->z_first = z;
			if (z > l->z_last)
				l->z_last = z;
			for (int k = 0; k < p->connectivity + 2; k++) {
				int64_t xx = x, yy = y, zz = z;
				if (k < p->connectivity) {
					xx += ndx[k];
					yy += ndy[k];
				} else {
					zz += k == p->connectivity ? -1 : 1;
				}
				if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz)
					continue;
				size_t o = (size_t)zz * plane + (size_t)yy * nx + (size_t)xx;
				if (comp[o] && weight[comp[o] - 1] && !map[o]) {
					map[o] = l->id;
					stack[top++] = (uint32_t)o;
				}
			}
		}
		l->agatston = s.dz / 3.0 * score;
		l->volume_mm3 = l->n_voxels * dpix * s.dz;
		l->mean_hu = sum_hu / l->n_voxels;
		l->sum_v_hu = l->volume_mm3 * l->mean_hu;
		l->centroid[0] = sx / l->n_voxels;
		l->centroid[1] = sy / l->n_voxels;
		l->centroid[2] = sz / l->n_voxels;
	}

	/* Lesions containing metal (peak > max_hu) go as a whole; renumber the rest in order. */
	newid = ms_calloc(n_les + 1, sizeof(uint32_t));
	if (!newid) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	size_t kept = 0;
	for (size_t i = 0; i < n_les; i++) {
		if (p->max_hu > 0 && les[i].peak_hu > p->max_hu)
			continue;
		les[kept] = les[i];
		les[kept].id = (uint32_t)(kept + 1);
		newid[i + 1] = (uint32_t)(kept + 1);
		kept++;
	}
	if (kept != n_les) {
		for (size_t i = 0; i < n; i++)
			map[i] = newid[map[i]];
	}
	r->lesions = les ? les : ms_calloc(1, sizeof(ms_cac_lesion));
	les = NULL;
	if (!r->lesions) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	r->n_lesions = kept;
	r->stage_ms[5] = now_ms() - t;

	if (p->volume_method == 1) {
		t = now_ms();
		rc = ms_cac_ref_isotropic(vol, roi, p, &s, r);
		r->stage_ms[7] = now_ms() - t;
		if (rc != MS_OK)
			goto out_free;
	}
	ms_cac_result_totals(r, &s, p->mass_calibration);

out_free:
	ms_free(newid);
	ms_free(les);
	ms_free(weight);
	ms_free(peak);
	ms_free(cnt);
	ms_free(stack);
	ms_free(comp);
	ms_free(cand);
	if (rc != MS_OK)
		ms_cac_result_clear(r);
	return rc;
}

ms_status ms_cac_ref_isotropic(const ms_volume *vol, const uint8_t *roi, const ms_cac_params *p,
			       const ms_cac_setup *s, ms_cac_result *r)
{
	uint32_t nx = vol->nx, ny = vol->ny, nz = vol->nz;
	size_t plane = (size_t)nx * ny;
	uint8_t *mask = ms_malloc(plane);
	uint32_t *lab = ms_malloc(plane * sizeof(uint32_t));
	uint32_t *stack = ms_malloc(plane * sizeof(uint32_t));
	uint64_t *count = ms_calloc(r->n_lesions + 1, sizeof(uint64_t));
	ms_status rc = MS_OK;

	if (!mask || !lab || !stack || !count) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	double span = (nz - 1) * s->dz;
	uint64_t n_iso = (uint64_t)floor(span / s->dx + 1e-9) + 1;
	for (uint64_t j = 0; j < n_iso; j++) {
		double pos = (double)j * s->dx / s->dz;
		double k0f = floor(pos + 1e-9);
		uint32_t k0 = k0f >= nz - 1 ? nz - 1 : (uint32_t)k0f;
		double f = k0 == nz - 1 ? 0 : pos - k0;
		if (f < 1e-9)
			f = 0;
		uint32_t k1 = k0 + 1 < nz ? k0 + 1 : k0;
		uint32_t near = f <= 0.5 ? k0 : k1, other = near == k0 ? k1 : k0;
		const float *a = vol->voxels + k0 * plane, *b = vol->voxels + k1 * plane;
		for (size_t q = 0; q < plane; q++) {
			double v = (1 - f) * a[q] + f * b[q];
			mask[q] = isfinite(a[q]) && isfinite(b[q]) && v >= s->thr &&
				  (!roi || roi[near * plane + q]);
		}
		memset(lab, 0, plane * sizeof(uint32_t));
		for (size_t q = 0; q < plane; q++) {
			if (!mask[q] || lab[q])
				continue;
			size_t m = fill2d(mask, lab, stack, nx, ny, p->connectivity, (uint32_t)q, 1);
			if (m < s->n_min)
				continue;
			for (size_t e = 0; e < m; e++) {
				uint32_t id = r->lesion_map[near * plane + stack[e]];
				if (!id)
					id = r->lesion_map[other * plane + stack[e]];
				count[id]++;
			}
		}
	}
	double dv = s->dx * s->dy * s->dx;
	for (size_t i = 0; i < r->n_lesions; i++) {
		ms_cac_lesion *l = &r->lesions[i];
		l->volume_mm3 = (double)count[l->id] * dv;
		l->sum_v_hu = l->volume_mm3 * l->mean_hu;
	}
out_free:
	ms_free(count);
	ms_free(stack);
	ms_free(lab);
	ms_free(mask);
	return rc;
}
