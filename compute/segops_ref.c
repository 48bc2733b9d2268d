#include "compute/segops_ref.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

typedef struct {
	int dx, dy, dz;
} offset;

/* Half of each neighbourhood: the neighbours with a smaller linear index. The GPU merge
 * kernel (shaders/seg_ccl_merge.comp) uses the same lists. */
static const offset back4[] = { { -1, 0, 0 }, { 0, -1, 0 } };
static const offset back8[] = { { -1, 0, 0 }, { -1, -1, 0 }, { 0, -1, 0 }, { 1, -1, 0 } };
static const offset back6[] = { { -1, 0, 0 }, { 0, -1, 0 }, { 0, 0, -1 } };
static const offset back26[] = {
	{ -1, 0, 0 },  { -1, -1, 0 }, { 0, -1, 0 },   { 1, -1, 0 },  { -1, -1, -1 },
	{ 0, -1, -1 }, { 1, -1, -1 }, { -1, 0, -1 },  { 0, 0, -1 },  { 1, 0, -1 },
	{ -1, 1, -1 }, { 0, 1, -1 },  { 1, 1, -1 },
};

static const offset *back_offsets(ms_seg_conn conn, int *n)
{
	switch (conn) {
	case MS_SEG_CONN4:
		*n = 2;
		return back4;
	case MS_SEG_CONN8:
		*n = 4;
		return back8;
	case MS_SEG_CONN6:
		*n = 3;
		return back6;
	case MS_SEG_CONN26:
		*n = 13;
		return back26;
	}
	*n = 0;
	return NULL;
}

size_t ms_segops_ref_count(const ms_seg_grid *g)
{
	return (size_t)g->nx * g->ny * g->nz;
}

bool ms_segops_ref_grid_ok(const ms_seg_grid *g)
{
	if (!g || ms_segops_ref_count(g) > MS_SEG_MAX_VOXELS)
		return false;
	return isfinite(g->sx) && isfinite(g->sy) && isfinite(g->sz) && g->sx > 0 && g->sy > 0 &&
	       g->sz > 0;
}

ms_seg_elem ms_segops_ref_ball(const ms_seg_grid *g, double r_mm, bool per_slice)
{
	ms_seg_elem e = {
		.rx = (float)(r_mm / g->sx),
		.ry = (float)(r_mm / g->sy),
		.rz = per_slice ? 0.0f : (float)(r_mm / g->sz),
	};
	return e;
}

/* Term (d/r)^2 of the ellipsoid test; an axis with r < 1 only admits d = 0. */
static double axis_term(int d, double r)
{
	if (r < 1)
		return d == 0 ? 0 : 2;
	return ((double)d / r) * ((double)d / r);
}

ms_status ms_segops_ref_runs(const ms_seg_elem *e, ms_seg_run **runs, uint32_t *n_runs)
{
	*runs = NULL;
	*n_runs = 0;
	if (!e || !isfinite(e->rx) || !isfinite(e->ry) || !isfinite(e->rz) || e->rx < 0 ||
	    e->ry < 0 || e->rz < 0 || e->rx > 254 || e->ry > 254 || e->rz > 254) {
		ms_log_error("segops: invalid structuring element");
		return MS_ERR_ARG;
	}
	int my = (int)floor(e->ry), mz = (int)floor(e->rz), mx = (int)floor(e->rx);
	ms_seg_run *r = ms_calloc((size_t)(2 * my + 1) * (2 * mz + 1), sizeof(*r));
	if (!r)
		return MS_ERR_NOMEM;
	uint32_t n = 0;
	for (int dz = -mz; dz <= mz; dz++) {
		for (int dy = -my; dy <= my; dy++) {
			double t = axis_term(dy, e->ry) + axis_term(dz, e->rz);
			if (t > 1 + 1e-9)
				continue;
			int w = 0;
			while (w < mx && t + axis_term(w + 1, e->rx) <= 1 + 1e-9)
				w++;
			r[n++] = (ms_seg_run){ dy, dz, w, 0 };
		}
	}
	*runs = r;
	*n_runs = n;
	return MS_OK;
}

void ms_segops_ref_threshold(const ms_seg_grid *g, const float *hu, float lo, float hi,
			     const uint8_t *within, uint8_t *out)
{
	size_t n = ms_segops_ref_count(g);

	for (size_t i = 0; i < n; i++)
		out[i] = hu[i] >= lo && hu[i] < hi && (!within || within[i]);
}

void ms_segops_ref_logic(const ms_seg_grid *g, const uint8_t *a, const uint8_t *b,
			 ms_seg_logic op, uint8_t *out)
{
	size_t n = ms_segops_ref_count(g);

	for (size_t i = 0; i < n; i++) {
		bool x = a[i] != 0, y = b[i] != 0;
		out[i] = op == MS_SEG_AND ? (x && y) : op == MS_SEG_AND_NOT ? (x && !y) : (x || y);
	}
}

/* Distance along the row to the nearest voxel with (v != 0) != invert, capped at cap. */
static void row_distance(const uint8_t *row, uint32_t nx, bool invert, uint32_t cap, uint8_t *d)
{
	uint32_t last = cap;

	for (uint32_t x = 0; x < nx; x++) {
		if ((row[x] != 0) != invert)
			last = 0;
		else if (last < cap)
			last++;
		d[x] = (uint8_t)last;
	}
	last = cap;
	for (uint32_t x = nx; x-- > 0;) {
		if ((row[x] != 0) != invert)
			last = 0;
		else if (last < cap)
			last++;
		if (last < d[x])
			d[x] = (uint8_t)last;
	}
}

ms_status ms_segops_ref_morph(const ms_seg_grid *g, ms_seg_morph_op op, const ms_seg_elem *e,
			     const uint8_t *in, uint8_t *out)
{
	size_t n = ms_segops_ref_count(g);
	ms_seg_run *runs;
	uint32_t n_runs;
	ms_status rc;

	rc = ms_segops_ref_runs(e, &runs, &n_runs);
	if (rc != MS_OK)
		return rc;
	uint8_t *dist = ms_malloc(n ? n : 1);
	if (!dist) {
		rc = MS_ERR_NOMEM;
		goto out_free_runs;
	}
	/* Erosion is the dilation of the complement, complemented; dist[] holds row distances
	 * to the voxels the dilation grows from (capped above every run's w). */
	bool erode = op == MS_SEG_ERODE;
	uint32_t cap = (uint32_t)floor(e->rx) + 1;
	if (cap > 255)
		cap = 255;
	for (size_t r = 0; r < (size_t)g->ny * g->nz; r++)
		row_distance(in + r * g->nx, g->nx, erode, cap, dist + r * g->nx);

	for (uint32_t z = 0; z < g->nz; z++) {
		for (uint32_t y = 0; y < g->ny; y++) {
			for (uint32_t x = 0; x < g->nx; x++) {
				bool hit = false;
				for (uint32_t k = 0; k < n_runs && !hit; k++) {
					int64_t yy = (int64_t)y + runs[k].dy, zz = (int64_t)z + runs[k].dz;
					if (yy < 0 || yy >= g->ny || zz < 0 || zz >= g->nz)
						continue;
					size_t j = x + (size_t)g->nx * ((size_t)yy + (size_t)g->ny * (size_t)zz);
					hit = dist[j] <= runs[k].w;
				}
				out[x + (size_t)g->nx * (y + (size_t)g->ny * z)] = hit != erode;
			}
		}
	}
	ms_free(dist);
out_free_runs:
	ms_free(runs);
	return rc;
}

static uint32_t find_root(uint32_t *parent, uint32_t i)
{
	uint32_t r = i;

	while (parent[r] != r)
		r = parent[r];
	while (parent[i] != r) { /* path compression */
		uint32_t next = parent[i];
		parent[i] = r;
		i = next;
	}
	return r;
}

ms_status ms_segops_ref_label(const ms_seg_grid *g, const uint8_t *mask, bool invert,
			      ms_seg_conn conn, uint32_t *labels, uint32_t *sizes)
{
	size_t n = ms_segops_ref_count(g);
	int n_off;
	const offset *off = back_offsets(conn, &n_off);

	if (!off || n > MS_SEG_MAX_VOXELS) {
		ms_log_error("segops: invalid connectivity %d or grid too large", (int)conn);
		return MS_ERR_ARG;
	}
	/* labels[] is the union-find forest; linking the larger root under the smaller keeps
	 * each root at its component's smallest index, which is the label. */
	for (size_t i = 0; i < n; i++) {
		labels[i] = (mask[i] != 0) != invert ? (uint32_t)i : MS_SEG_NO_LABEL;
		sizes[i] = 0;
	}
	size_t i = 0;
	for (uint32_t z = 0; z < g->nz; z++) {
		for (uint32_t y = 0; y < g->ny; y++) {
			for (uint32_t x = 0; x < g->nx; x++, i++) {
				if (labels[i] == MS_SEG_NO_LABEL)
					continue;
				for (int k = 0; k < n_off; k++) {
					int64_t xx = (int64_t)x + off[k].dx, yy = (int64_t)y + off[k].dy;
					int64_t zz = (int64_t)z + off[k].dz;
					if (xx < 0 || xx >= g->nx || yy < 0 || yy >= g->ny || zz < 0)
						continue;
					size_t j = (size_t)xx + (size_t)g->nx * ((size_t)yy + (size_t)g->ny * (size_t)zz);
					if (labels[j] == MS_SEG_NO_LABEL)
						continue;
					uint32_t a = find_root(labels, (uint32_t)i);
					uint32_t b = find_root(labels, (uint32_t)j);
					if (a < b)
						labels[b] = a;
					else if (b < a)
						labels[a] = b;
				}
			}
		}
	}
	i = 0;
	for (uint32_t z = 0; z < g->nz; z++) {
		for (uint32_t y = 0; y < g->ny; y++) {
			for (uint32_t x = 0; x < g->nx; x++, i++) {
				if (labels[i] == MS_SEG_NO_LABEL)
					continue;
				uint32_t r = find_root(labels, (uint32_t)i);
				labels[i] = r;
				sizes[r]++;
				if (x == 0 || y == 0 || x + 1 == g->nx || y + 1 == g->ny)
					sizes[r] |= MS_SEG_BORDER;
			}
		}
	}
	return MS_OK;
}

void ms_segops_ref_mark_seeds(const ms_seg_grid *g, const uint32_t *labels, uint32_t *sizes,
			      const uint32_t *seeds, uint32_t n_seeds)
{
	size_t n = ms_segops_ref_count(g);

	for (uint32_t k = 0; k < n_seeds; k++) {
		if (seeds[k] < n && labels[seeds[k]] != MS_SEG_NO_LABEL)
			sizes[labels[seeds[k]]] |= MS_SEG_SEEDED;
	}
}

static bool passes(const ms_seg_select *s, uint32_t label, uint32_t size_word, bool use_keep)
{
	if (!s)
		return true;
	if ((size_word & MS_SEG_SIZE_MASK) < s->min_size)
		return false;
	if (s->drop_border && (size_word & MS_SEG_BORDER))
		return false;
	if (s->seeded_only && !(size_word & MS_SEG_SEEDED))
		return false;
	if (use_keep && s->n_keep) {
		for (uint32_t k = 0; k < s->n_keep && k < MS_SEG_MAX_KEEP; k++) {
			if (s->keep[k] == label)
				return true;
		}
		return false;
	}
	return true;
}

void ms_segops_ref_largest(const ms_seg_grid *g, const uint32_t *labels, const uint32_t *sizes,
			   const ms_seg_select *filter, uint32_t k, uint32_t *labels_out,
			   uint32_t *sizes_out, uint32_t *n_found)
{
	size_t n = ms_segops_ref_count(g);

	*n_found = 0;
	for (uint32_t m = 0; m < k; m++) {
		uint32_t best = 0, best_label = MS_SEG_NO_LABEL;
		for (size_t i = 0; i < n; i++) {
			if (labels[i] != i || !passes(filter, (uint32_t)i, sizes[i], false))
				continue;
			bool taken = false;
			for (uint32_t t = 0; t < m; t++)
				taken = taken || labels_out[t] == i;
			uint32_t s = sizes[i] & MS_SEG_SIZE_MASK;
			if (!taken && s > best) {
				best = s;
				best_label = (uint32_t)i;
			}
		}
		if (best == 0)
			break;
		labels_out[m] = best_label;
		sizes_out[m] = best;
		(*n_found)++;
	}
}

void ms_segops_ref_select(const ms_seg_grid *g, const uint32_t *labels, const uint32_t *sizes,
			  const ms_seg_select *sel, uint8_t *out)
{
	size_t n = ms_segops_ref_count(g);

	for (size_t i = 0; i < n; i++) {
		uint32_t l = labels[i];
		out[i] = l != MS_SEG_NO_LABEL && passes(sel, l, sizes[l], true);
	}
}

ms_status ms_segops_ref_fill_holes(const ms_seg_grid *g, const uint8_t *in, uint8_t *out)
{
	size_t plane = (size_t)g->nx * g->ny;
	uint8_t *outside = ms_malloc(plane ? plane : 1);
	uint32_t *queue = ms_malloc((plane ? plane : 1) * sizeof(uint32_t));
	ms_status rc = MS_OK;

	if (!outside || !queue) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (uint32_t z = 0; z < g->nz; z++) {
		const uint8_t *s = in + z * plane;
		uint8_t *o = out + z * plane;
		size_t head = 0, tail = 0;

		memset(outside, 0, plane);
		for (uint32_t y = 0; y < g->ny; y++) {
			for (uint32_t x = 0; x < g->nx; x++) {
				uint32_t i = x + g->nx * y;
				bool edge = x == 0 || y == 0 || x + 1 == g->nx || y + 1 == g->ny;
				if (edge && !s[i]) {
					outside[i] = 1;
					queue[tail++] = i;
				}
			}
		}
		while (head < tail) {
			uint32_t i = queue[head++], x = i % g->nx, y = i / g->nx;
			uint32_t nb[4];
			int m = 0;
			if (x > 0)
				nb[m++] = i - 1;
			if (x + 1 < g->nx)
				nb[m++] = i + 1;
			if (y > 0)
				nb[m++] = i - g->nx;
			if (y + 1 < g->ny)
				nb[m++] = i + g->nx;
			for (int k = 0; k < m; k++) {
				if (!s[nb[k]] && !outside[nb[k]]) {
					outside[nb[k]] = 1;
					queue[tail++] = nb[k];
				}
			}
		}
		for (size_t i = 0; i < plane; i++)
			o[i] = s[i] || !outside[i];
	}
out_free:
	ms_free(queue);
	ms_free(outside);
	return rc;
}

ms_status ms_segops_ref_grow(const ms_seg_grid *g, const float *hu, float lo, float hi,
			     const uint8_t *within, ms_seg_conn conn, const uint32_t *seeds,
			     uint32_t n_seeds, uint8_t *out)
{
	size_t n = ms_segops_ref_count(g), head = 0, tail = 0;
	int n_off;
	const offset *off = back_offsets(conn, &n_off);

	if (!off) {
		ms_log_error("segops: invalid connectivity %d", (int)conn);
		return MS_ERR_ARG;
	}
	uint32_t *queue = ms_malloc((n ? n : 1) * sizeof(uint32_t));
	if (!queue)
		return MS_ERR_NOMEM;
	memset(out, 0, n);
#define INSIDE(i) (hu[i] >= lo && hu[i] < hi && (!within || within[i]))
	for (uint32_t k = 0; k < n_seeds; k++) {
		uint32_t s = seeds[k];
		if (s < n && !out[s] && INSIDE(s)) {
			out[s] = 1;
			queue[tail++] = s;
		}
	}
	while (head < tail) {
		uint32_t i = queue[head++];
		int64_t x = i % g->nx, y = (i / g->nx) % g->ny, z = i / ((size_t)g->nx * g->ny);
		for (int k = 0; k < 2 * n_off; k++) {
			int sgn = k < n_off ? 1 : -1;
			const offset *o = &off[k % n_off];
			int64_t xx = x + sgn * o->dx, yy = y + sgn * o->dy, zz = z + sgn * o->dz;
			if (xx < 0 || xx >= g->nx || yy < 0 || yy >= g->ny || zz < 0 || zz >= g->nz)
				continue;
			size_t j = (size_t)xx + (size_t)g->nx * ((size_t)yy + (size_t)g->ny * (size_t)zz);
			if (!out[j] && INSIDE(j)) {
				out[j] = 1;
				queue[tail++] = (uint32_t)j;
			}
		}
	}
#undef INSIDE
	ms_free(queue);
	return MS_OK;
}

ms_status ms_segops_ref_gauss_weights(double sigma_vox, float **w, uint32_t *radius)
{
	*w = NULL;
	*radius = 0;
	if (!isfinite(sigma_vox) || sigma_vox > 1000) {
		ms_log_error("segops: invalid Gaussian sigma %g voxels", sigma_vox);
		return MS_ERR_ARG;
	}
	if (sigma_vox <= 0)
		return MS_OK;
	uint32_t r = (uint32_t)ceil(3 * sigma_vox);
	double *d = ms_calloc(2 * r + 1, sizeof(double));
	float *f = ms_calloc(2 * r + 1, sizeof(float));
	if (!d || !f) {
		ms_free(d);
		ms_free(f);
		return MS_ERR_NOMEM;
	}
	double sum = 0;
	for (uint32_t k = 0; k <= 2 * r; k++) {
		double t = ((double)k - r) / sigma_vox;
		d[k] = exp(-0.5 * t * t);
		sum += d[k];
	}
	for (uint32_t k = 0; k <= 2 * r; k++)
		f[k] = (float)(d[k] / sum);
	ms_free(d);
	*w = f;
	*radius = r;
	return MS_OK;
}

/* One Gaussian pass along axis (0 x, 1 y, 2 z); same summation order as the shader. */
static void gauss_pass(const ms_seg_grid *g, const float *in, float *out, int axis,
		       const float *w, uint32_t r)
{
	uint32_t dim[3] = { g->nx, g->ny, g->nz };
	size_t stride[3] = { 1, g->nx, (size_t)g->nx * g->ny };
	size_t n = ms_segops_ref_count(g);

	for (size_t i = 0; i < n; i++) {
		int64_t c = (int64_t)((i / stride[axis]) % dim[axis]);
		size_t base = i - (size_t)c * stride[axis];
		float acc = 0;
		for (uint32_t k = 0; k <= 2 * r; k++) {
			int64_t q = c + (int64_t)k - (int64_t)r;
			q = q < 0 ? 0 : q >= dim[axis] ? dim[axis] - 1 : q;
			acc += w[k] * in[base + (size_t)q * stride[axis]];
		}
		out[i] = acc;
	}
}

ms_status ms_segops_ref_gauss(const ms_seg_grid *g, const float *in, const double sigma_mm[3],
			      float *out)
{
	size_t n = ms_segops_ref_count(g);
	double sp[3] = { g->sx, g->sy, g->sz };
	float *tmp = ms_malloc((n ? n : 1) * sizeof(float));
	ms_status rc = MS_OK;

	if (!tmp)
		return MS_ERR_NOMEM;
	memcpy(out, in, n * sizeof(float));
	for (int a = 0; a < 3; a++) {
		float *w;
		uint32_t r;
		rc = ms_segops_ref_gauss_weights(sigma_mm[a] / sp[a], &w, &r);
		if (rc != MS_OK)
			break;
		if (!w)
			continue;
		gauss_pass(g, out, tmp, a, w, r);
		memcpy(out, tmp, n * sizeof(float));
		ms_free(w);
	}
	ms_free(tmp);
	return rc;
}

/* Felzenszwalb & Huttenlocher's lower envelope of parabolas h^2 (q - p)^2 + f(p) over the
 * finite f(p) of one line of length m; intersections in index units (as the shader). */
static void edt_line(const double *f, double *d, uint32_t m, double h, uint32_t *v, double *z)
{
	double h2 = h * h;
	int k = -1;

	for (uint32_t q = 0; q < m; q++) {
		if (isinf(f[q]))
			continue;
		double s = 0;
		if (k < 0) {
			k = 0;
			v[0] = q;
			z[0] = -INFINITY;
			z[1] = INFINITY;
			continue;
		}
		for (;;) {
			double num = (f[q] - f[v[k]]) / h2 + ((double)q * q - (double)v[k] * v[k]);
			s = num / (2.0 * (q - v[k]));
			if (s > z[k])
				break;
			k--;
		}
		k++;
		v[k] = q;
		z[k] = s;
		z[k + 1] = INFINITY;
	}
	if (k < 0) {
		for (uint32_t q = 0; q < m; q++)
			d[q] = INFINITY;
		return;
	}
	k = 0;
	for (uint32_t q = 0; q < m; q++) {
		while (z[k + 1] < q)
			k++;
		double t = ((double)q - v[k]) * h;
		d[q] = t * t + f[v[k]];
	}
}

ms_status ms_segops_ref_edt(const ms_seg_grid *g, const uint8_t *mask, float *out)
{
	size_t n = ms_segops_ref_count(g);
	uint32_t dim[3] = { g->nx, g->ny, g->nz };
	size_t stride[3] = { 1, g->nx, (size_t)g->nx * g->ny };
	double sp[3] = { g->sx, g->sy, g->sz };
	uint32_t m = dim[0] > dim[1] ? dim[0] : dim[1];
	m = m > dim[2] ? m : dim[2];
	double *sq = ms_malloc((n ? n : 1) * sizeof(double));
	double *f = ms_malloc((m + 1) * sizeof(double));
	double *d = ms_malloc((m + 1) * sizeof(double));
	double *z = ms_malloc((m + 2) * sizeof(double));
	uint32_t *v = ms_malloc((m + 1) * sizeof(uint32_t));
	ms_status rc = MS_OK;

	if (!sq || !f || !d || !z || !v) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++)
		sq[i] = mask[i] ? INFINITY : 0;
	for (int a = 0; a < 3; a++) {
		for (size_t i = 0; i < n; i++) {
			/* Visit each line once, from its first voxel. */
			if ((i / stride[a]) % dim[a] != 0)
				continue;
			for (uint32_t q = 0; q < dim[a]; q++)
				f[q] = sq[i + q * stride[a]];
			edt_line(f, d, dim[a], sp[a], v, z);
			for (uint32_t q = 0; q < dim[a]; q++)
				sq[i + q * stride[a]] = d[q];
		}
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (float)sqrt(sq[i]);
out_free:
	ms_free(v);
	ms_free(z);
	ms_free(d);
	ms_free(f);
	ms_free(sq);
	return rc;
}

ms_status ms_segops_ref_propagate(const ms_seg_grid *g, const uint8_t *mask, uint8_t *labels,
				  uint32_t max_iter, uint32_t *iterations)
{
	size_t n = ms_segops_ref_count(g);
	uint8_t *next = ms_malloc(n ? n : 1);

	*iterations = 0;
	if (!next)
		return MS_ERR_NOMEM;
	for (uint32_t it = 0; it < max_iter; it++) {
		bool changed = false;
		size_t i = 0;
		for (uint32_t z = 0; z < g->nz; z++) {
			for (uint32_t y = 0; y < g->ny; y++) {
				for (uint32_t x = 0; x < g->nx; x++, i++) {
					uint8_t l = labels[i];
					if (l == 0 && mask[i]) {
						uint8_t nb[6] = {
							x > 0 ? labels[i - 1] : 0,
							x + 1 < g->nx ? labels[i + 1] : 0,
							y > 0 ? labels[i - g->nx] : 0,
							y + 1 < g->ny ? labels[i + g->nx] : 0,
							z > 0 ? labels[i - (size_t)g->nx * g->ny] : 0,
							z + 1 < g->nz ? labels[i + (size_t)g->nx * g->ny] : 0,
						};
						for (int k = 0; k < 6; k++) {
							if (nb[k] && (l == 0 || nb[k] < l))
								l = nb[k];
						}
						changed = changed || l != 0;
					}
					next[i] = l;
				}
			}
		}
		if (!changed)
			break;
		memcpy(labels, next, n);
		(*iterations)++;
	}
	ms_free(next);
	return MS_OK;
}
