#include "compute/perfusion_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "compute/svd.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

ms_status ms_perf_ref_setup(const ms_perf_input *in, const ms_perf_params *p, ms_perf_setup *s)
{
	memset(s, 0, sizeof(*s));
	if (!in || !p) {
		ms_log_error("perfusion: NULL input or parameters");
		return MS_ERR_ARG;
	}
	s->p = *p;
	ms_perf_params *q = &s->p;
	if (in->nx == 0 || in->ny == 0 || in->nz == 0 || in->nt < 3 || in->nt > MS_PERF_MAX_T) {
		ms_log_error("perfusion: invalid size %ux%ux%u x %u time points (3..%u)", in->nx, in->ny,
			     in->nz, in->nt, MS_PERF_MAX_T);
		return MS_ERR_ARG;
	}
	if ((uint64_t)in->nx * in->ny * in->nz > (uint64_t)SIZE_MAX / sizeof(float) / in->nt ||
	    (uint64_t)in->nx * in->ny > UINT32_MAX / 2) {
		ms_log_error("perfusion: volume too large");
		return MS_ERR_ARG;
	}
	if ((!in->data && !in->fill) || !in->t_s) {
		ms_log_error("perfusion: no data, fill callback or times");
		return MS_ERR_ARG;
	}
	for (uint32_t k = 0; k < in->nt; k++) {
		if (!isfinite(in->t_s[k]) || (k && in->t_s[k] <= in->t_s[k - 1])) {
			ms_log_error("perfusion: times must be finite and strictly increasing (t[%u])", k);
			return MS_ERR_ARG;
		}
	}
	if ((q->kind != MS_PERF_CT && q->kind != MS_PERF_DSC) ||
	    (q->kind == MS_PERF_DSC && !(q->te_s > 0 && isfinite(q->te_s)))) {
		ms_log_error("perfusion: invalid kind or echo time");
		return MS_ERR_ARG;
	}
	if (q->method == MS_PERF_OSVD) {
		s->n_p = MS_PERF_OSVD_STEPS;
		for (uint32_t i = 0; i < s->n_p; i++)
			s->p_list[i] = 0.05 * (i + 1);
	} else if (q->method == MS_PERF_SSVD || q->method == MS_PERF_CSVD) {
		if (q->svd_threshold == 0)
			q->svd_threshold = q->method == MS_PERF_SSVD ? 0.2 : 0.1;
		if (!(q->svd_threshold > 0 && q->svd_threshold < 1)) {
			ms_log_error("perfusion: SVD threshold %g outside (0, 1)", q->svd_threshold);
			return MS_ERR_ARG;
		}
		s->n_p = 1;
		s->p_list[0] = q->svd_threshold;
	} else {
		ms_log_error("perfusion: unknown method %d", (int)q->method);
		return MS_ERR_ARG;
	}
	if (q->osvd_oi == 0)
		q->osvd_oi = 0.035;
	if (q->rho == 0)
		q->rho = 1.04;
	if (q->k_h == 0)
		q->k_h = 0.73;
	if (q->relative)
		q->rho = q->k_h = 1;
	if (!(q->osvd_oi > 0) || !(q->rho > 0) || !(q->k_h > 0) || !isfinite(q->rho) ||
	    !isfinite(q->k_h)) {
		ms_log_error("perfusion: invalid rho, k_H or oscillation limit");
		return MS_ERR_ARG;
	}
	if (q->baseline_frames < 0 || q->baseline_frames >= (int)in->nt) {
		ms_log_error("perfusion: baseline_frames %d outside 0..%u", q->baseline_frames,
			     in->nt - 1);
		return MS_ERR_ARG;
	}
	if (q->aif_voxels == 0)
		q->aif_voxels = 5;
	if (q->aif_voxels < 1 || q->aif_voxels > MS_PERF_MAX_AIF) {
		ms_log_error("perfusion: aif_voxels %d outside 1..%d", q->aif_voxels, MS_PERF_MAX_AIF);
		return MS_ERR_ARG;
	}
	if (q->aif_given && (q->aif_xyz[0] >= in->nx || q->aif_xyz[1] >= in->ny ||
			     q->aif_xyz[2] >= in->nz)) {
		ms_log_error("perfusion: AIF voxel (%u, %u, %u) outside the volume", q->aif_xyz[0],
			     q->aif_xyz[1], q->aif_xyz[2]);
		return MS_ERR_ARG;
	}
	s->cbf_scale = q->k_h / q->rho * 6000.0;
	s->cbv_scale = q->k_h / q->rho * 100.0;
	return MS_OK;
}

uint64_t ms_perf_ref_mask(const ms_perf_setup *s, const float *frame0, size_t nvox, uint8_t *mask)
{
	uint64_t count = 0;
	double top = 0;

	if (!s->p.mask && s->p.kind == MS_PERF_DSC) {
		for (size_t i = 0; i < nvox; i++) {
			if (isfinite(frame0[i]) && frame0[i] > top)
				top = frame0[i];
		}
	}
	for (size_t i = 0; i < nvox; i++) {
		bool in;
		if (s->p.mask)
			in = s->p.mask[i] != 0;
		else if (s->p.kind == MS_PERF_CT)
			in = frame0[i] >= -100.0f && frame0[i] <= 200.0f;
		else
			in = top > 0 && isfinite(frame0[i]) && frame0[i] > 0.1 * top;
		mask[i] = in;
		count += in;
	}
	return count;
}

int ms_perf_ref_baseline(const ms_perf_setup *s, const double *roi, uint32_t nt)
{
	if (s->p.baseline_frames > 0)
		return s->p.baseline_frames;
	int cap = nt - 1 < 12 ? (int)nt - 1 : 12;
	int b = cap < 3 ? cap : 3;
	while (b < cap) {
		double mean = 0;
		for (int k = 0; k < b; k++)
			mean += roi[k];
		mean /= b;
		if (mean == 0 || fabs(mean - roi[b]) / fabs(mean) >= 0.05)
			break;
		b++;
	}
	/* The last frame may already carry the bolus' foot. */
	return b > 1 ? b - 1 : 1;
}

void ms_perf_ref_conc(const ms_perf_setup *s, const float *sig, size_t stride, uint32_t nt,
		      int b, double *c)
{
	double s0 = 0;

	for (int k = 0; k < b; k++)
		s0 += sig[(size_t)k * stride];
	s0 /= b;
	if (s->p.kind == MS_PERF_CT) {
		for (uint32_t k = 0; k < nt; k++)
			c[k] = sig[(size_t)k * stride] - s0;
		return;
	}
	double l0 = log(s0 > MS_PERF_DSC_MIN_SIGNAL ? s0 : MS_PERF_DSC_MIN_SIGNAL);
	for (uint32_t k = 0; k < nt; k++) {
		double x = sig[(size_t)k * stride];
		c[k] = -(log(x > MS_PERF_DSC_MIN_SIGNAL ? x : MS_PERF_DSC_MIN_SIGNAL) - l0) / s->p.te_s;
	}
}

void ms_perf_ref_curve_maps(const double *c, const double *t, uint32_t nt, double out[6])
{
	uint32_t kmax = 0;
	double auc = 0, m1 = 0, slope = -INFINITY, irr = 0;

	for (uint32_t k = 1; k < nt; k++) {
		if (c[k] > c[kmax])
			kmax = k;
	}
	for (uint32_t k = 0; k + 1 < nt; k++) {
		double h = t[k + 1] - t[k];
		auc += h * (c[k] + c[k + 1]) / 2;
		m1 += h * (t[k] * c[k] + t[k + 1] * c[k + 1]) / 2;
		double sl = (c[k + 1] - c[k]) / h;
		if (sl > slope)
			slope = sl;
	}
	double pe = c[kmax];
	uint32_t bat = 0;
	for (uint32_t k = kmax; k-- > 0;) {
		if (c[k] < 0.1 * pe) {
			bat = k;
			break;
		}
	}
	for (uint32_t k = 1; k + 1 < nt; k++) {
		double d2 = c[k + 1] - 2 * c[k] + c[k - 1];
		irr += d2 * d2;
	}
	out[0] = pe;
	out[1] = t[kmax];
	out[2] = auc;
	out[3] = slope;
	out[4] = auc > 0 ? m1 / auc - t[bat] : 0;
	out[5] = pe > 0 ? irr / (pe * pe * (nt - 2)) : 0;
}

/* ---- Automatic AIF -------------------------------------------------------------------- */

typedef struct {
	const float *key;
	int descending;
	const float *ttp; /* tie-break for the final PE ranking; NULL = index only */
} rank_ctx;

static int cmp_rank(const void *a, const void *b, void *vctx)
{
	const rank_ctx *ctx = vctx;
	uint64_t i = *(const uint64_t *)a, j = *(const uint64_t *)b;
	float x = ctx->key[i], y = ctx->key[j];

	if (x != y)
		return (x < y) == !ctx->descending ? -1 : 1;
	if (ctx->ttp && ctx->ttp[i] != ctx->ttp[j])
		return ctx->ttp[i] < ctx->ttp[j] ? -1 : 1;
	return i < j ? -1 : i > j;
}

static bool interior(const uint8_t *mask, uint32_t nx, uint32_t ny, uint64_t v)
{
	uint32_t x = (uint32_t)(v % nx), y = (uint32_t)(v / nx % ny);

	if (x == 0 || y == 0 || x + 1 >= nx || y + 1 >= ny)
		return false;
	for (int dy = -1; dy <= 1; dy++) {
		for (int dx = -1; dx <= 1; dx++) {
			if (!mask[v + (int64_t)dy * nx + dx])
				return false;
		}
	}
	return true;
}

int ms_perf_ref_select_aif(const float *pe, const float *ttp, const float *auc,
			   const float *irr, const uint8_t *mask, uint32_t nx, uint32_t ny,
			   uint32_t nz, int n, uint64_t *out)
{
	uint64_t nvox = (uint64_t)nx * ny * nz, m = 0;
	uint64_t *cand = ms_malloc(nvox * sizeof(uint64_t));

	if (!cand)
		return -1;
	/* Eroded in-plane: partial-volume voxels at the tissue edge make poor AIFs. */
	for (int pass = 0; pass < 2 && m == 0; pass++) {
		for (uint64_t v = 0; v < nvox; v++) {
			if (mask[v] && pe[v] > 0 && auc[v] > 0 && (pass || interior(mask, nx, ny, v)))
				cand[m++] = v;
		}
	}
	rank_ctx ctx = { auc, 0, NULL };
	qsort_r(cand, m, sizeof(uint64_t), cmp_rank, &ctx);
	uint64_t drop = (uint64_t)(0.4 * (double)m);
	memmove(cand, cand + drop, (m - drop) * sizeof(uint64_t));
	m -= drop;
	ctx = (rank_ctx){ ttp, 1, NULL };
	qsort_r(cand, m, sizeof(uint64_t), cmp_rank, &ctx);
	drop = (uint64_t)(0.4 * (double)m);
	memmove(cand, cand + drop, (m - drop) * sizeof(uint64_t));
	m -= drop;
	ctx = (rank_ctx){ irr, 1, NULL };
	qsort_r(cand, m, sizeof(uint64_t), cmp_rank, &ctx);
	drop = (uint64_t)(0.05 * (double)m);
	memmove(cand, cand + drop, (m - drop) * sizeof(uint64_t));
	m -= drop;
	ctx = (rank_ctx){ pe, 1, ttp };
	qsort_r(cand, m, sizeof(uint64_t), cmp_rank, &ctx);
	int k = m < (uint64_t)n ? (int)m : n;
	memcpy(out, cand, (size_t)k * sizeof(uint64_t));
	ms_free(cand);
	return k;
}

/* ---- Deconvolution setup ------------------------------------------------------------------ */

void ms_perf_ref_deconv_clear(ms_perf_deconv *d)
{
	if (!d)
		return;
	ms_free(d->idx);
	ms_free(d->w);
	ms_free(d->u);
	ms_free(d->sv);
	ms_free(d->v);
	memset(d, 0, sizeof(*d));
}

ms_status ms_perf_ref_deconv_init(const ms_perf_setup *s, const double *aif, const double *t,
				  uint32_t nt, ms_perf_deconv *d)
{
	double *a = NULL, *mat = NULL;
	ms_status rc = MS_OK;

	memset(d, 0, sizeof(*d));
	d->nt = nt;
	for (uint32_t k = 0; k + 1 < nt; k++)
		d->aif_auc += (t[k + 1] - t[k]) * (aif[k] + aif[k + 1]) / 2;
	if (!(d->aif_auc > 0)) {
		ms_log_error("perfusion: the AIF shows no enhancement (integral %g)", d->aif_auc);
		return MS_ERR_INPUT;
	}
	double span = t[nt - 1] - t[0], mean = span / (nt - 1), hmin = INFINITY;
	for (uint32_t k = 0; k + 1 < nt; k++) {
		double h = t[k + 1] - t[k];
		hmin = h < hmin ? h : hmin;
		d->resampled |= fabs(h - mean) > 0.05 * mean;
	}
	if (d->resampled) {
		d->dt = hmin;
		double cnt = floor(span / hmin + 1e-9) + 1;
		d->n = cnt > MS_PERF_MAX_T ? MS_PERF_MAX_T : (uint32_t)cnt;
		if (cnt > MS_PERF_MAX_T)
			d->dt = span / (MS_PERF_MAX_T - 1);
	} else {
		d->n = nt;
		d->dt = mean;
	}
	d->l = s->p.method == MS_PERF_SSVD ? d->n : 2 * d->n;
	size_t l = d->l;
	d->idx = ms_malloc(d->n * sizeof(uint32_t));
	d->w = ms_malloc(d->n * sizeof(double));
	d->u = ms_malloc(l * l * sizeof(double));
	d->sv = ms_malloc(l * sizeof(double));
	d->v = ms_malloc(l * l * sizeof(double));
	a = ms_calloc(l, sizeof(double));
	mat = ms_malloc(l * l * sizeof(double));
	if (!d->idx || !d->w || !d->u || !d->sv || !d->v || !a || !mat) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	uint32_t i = 0;
	for (uint32_t j = 0; j < d->n; j++) {
		if (!d->resampled) {
			d->idx[j] = j < nt - 1 ? j : nt - 2;
			d->w[j] = j < nt - 1 ? 0 : 1;
		} else {
			double tj = t[0] + j * d->dt;
			while (i + 2 < nt && t[i + 1] < tj)
				i++;
			double w = (tj - t[i]) / (t[i + 1] - t[i]);
			d->idx[j] = i;
			d->w[j] = w < 0 ? 0 : w > 1 ? 1 : w;
		}
		a[j] = aif[d->idx[j]] * (1 - d->w[j]) + aif[d->idx[j] + 1] * d->w[j];
	}
	/* sSVD: lower triangular Toeplitz; c/oSVD: block-circulant with the AIF zero-padded to
	 * 2N, so a tissue curve arriving before the AIF does not bias the estimate. */
	for (size_t r = 0; r < l; r++) {
		for (size_t c = 0; c < l; c++) {
			if (s->p.method == MS_PERF_SSVD)
				mat[r * l + c] = r >= c ? d->dt * a[r - c] : 0;
			else
				mat[r * l + c] = d->dt * a[(r + l - c) % l];
		}
	}
	rc = ms_svd_decompose(mat, d->l, d->u, d->sv, d->v);
	if (rc != MS_OK)
		goto out_free;
	for (uint32_t k = 0; k < s->n_p; k++)
		d->kept[k] = ms_svd_kept(d->sv, d->l, s->p_list[k]);
out_free:
	ms_free(mat);
	ms_free(a);
	if (rc != MS_OK)
		ms_perf_ref_deconv_clear(d);
	return rc;
}

/* ---- Statistics -------------------------------------------------------------------------- */

/* k-th smallest of v[0..n) (Hoare's selection; reorders v). */
static double select_kth(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				double t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

ms_status ms_perf_ref_stats(const ms_perf_setup *s, ms_perf_result *r)
{
	size_t nvox = (size_t)r->nx * r->ny * r->nz, m = 0;
	double *v = ms_malloc((r->n_mask ? r->n_mask : 1) * sizeof(double));

	if (!v)
		return MS_ERR_NOMEM;
	for (int map = 0; map < MS_PERF_N_MAPS; map++) {
		double sum = 0;
		m = 0;
		for (size_t i = 0; i < nvox; i++) {
			if (r->mask[i]) {
				v[m++] = r->map[map][i];
				sum += r->map[map][i];
			}
		}
		if (m == 0)
			continue;
		r->stats[map][0] = sum / (double)m;
		/* Nearest rank on 0..m-1. */
		static const double q[3] = { 0.5, 0.05, 0.95 };
		for (int j = 0; j < 3; j++)
			r->stats[map][j + 1] = select_kth(v, m, (size_t)floor(q[j] * (double)(m - 1) + 0.5));
	}
	r->threshold_used = s->p.method == MS_PERF_OSVD ? r->stats[MS_PERF_SVD_P][1] : s->p_list[0];
	ms_free(v);
	return MS_OK;
}

ms_status ms_perf_ref_result_alloc(const ms_perf_input *in, ms_perf_result *r)
{
	size_t nvox = (size_t)in->nx * in->ny * in->nz;

	ms_perf_result_clear(r);
	r->nx = in->nx;
	r->ny = in->ny;
	r->nz = in->nz;
	r->nt = in->nt;
	for (int m = 0; m < MS_PERF_N_MAPS; m++) {
		r->map[m] = ms_calloc(nvox, sizeof(float));
		if (!r->map[m])
			goto out_nomem;
	}
	r->mask = ms_calloc(nvox, 1);
	r->aif = ms_calloc(in->nt, sizeof(double));
	if (!r->mask || !r->aif)
		goto out_nomem;
	return MS_OK;
out_nomem:
	ms_perf_result_clear(r);
	return MS_ERR_NOMEM;
}

/* ---- Reference analysis ------------------------------------------------------------------- */

ms_status ms_perf_ref(const ms_perf_input *in, const ms_perf_params *p, ms_perf_result *r)
{
	ms_perf_setup s;
	ms_perf_deconv d = { 0 };
	float *owned = NULL;
	double *pinv = NULL, *c = NULL, *roi = NULL;
	ms_status rc;

	if (!r)
		return MS_ERR_ARG;
	ms_perf_result_clear(r);
	rc = ms_perf_ref_setup(in, p, &s);
	if (rc != MS_OK)
		return rc;
	uint32_t nt = in->nt;
	size_t nvox = (size_t)in->nx * in->ny * in->nz;
	double t0 = now_ms();
	rc = ms_perf_ref_result_alloc(in, r);
	if (rc != MS_OK)
		return rc;
	const float *data = in->data;
	if (!data) {
		owned = ms_malloc(nvox * nt * sizeof(float));
		if (!owned) {
			rc = MS_ERR_NOMEM;
			goto out;
		}
		rc = in->fill(in->user, 0, in->nz, owned);
		if (rc != MS_OK)
			goto out;
		data = owned;
	}
	r->stage_ms[0] = now_ms() - t0;

	t0 = now_ms();
	r->n_mask = ms_perf_ref_mask(&s, data, nvox, r->mask);
	r->stage_ms[1] = now_ms() - t0;
	if (r->n_mask == 0) {
		ms_log_error("perfusion: the tissue mask is empty");
		rc = MS_ERR_INPUT;
		goto out;
	}

	t0 = now_ms();
	roi = ms_calloc(nt, sizeof(double));
	c = ms_malloc(2 * MS_PERF_MAX_T * 3 * sizeof(double));
	if (!roi || !c) {
		rc = MS_ERR_NOMEM;
		goto out;
	}
	for (uint32_t k = 0; k < nt; k++) {
		const float *f = data + (size_t)k * nvox;
		double sum = 0;
		for (size_t v = 0; v < nvox; v++)
			sum += r->mask[v] ? f[v] : 0;
		roi[k] = sum / (double)r->n_mask;
	}
	int b = ms_perf_ref_baseline(&s, roi, nt);
	r->baseline_frames = b;
	r->stage_ms[2] = now_ms() - t0;

	t0 = now_ms();
	for (size_t v = 0; v < nvox; v++) {
		double out[6];
		if (!r->mask[v])
			continue;
		ms_perf_ref_conc(&s, data + v, nvox, nt, b, c);
		ms_perf_ref_curve_maps(c, in->t_s, nt, out);
		for (int m = 0; m < 5; m++)
			r->map[m][v] = (float)out[m];
		r->map[MS_PERF_SVD_P][v] = (float)out[5]; /* irregularity until deconvolution */
	}
	r->stage_ms[3] = now_ms() - t0;

	t0 = now_ms();
	uint64_t chosen[MS_PERF_MAX_AIF];
	if (s.p.aif_given) {
		chosen[0] = s.p.aif_xyz[0] + (uint64_t)in->nx * (s.p.aif_xyz[1] +
								   (uint64_t)in->ny * s.p.aif_xyz[2]);
		r->n_aif = 1;
	} else {
		r->n_aif = ms_perf_ref_select_aif(r->map[MS_PERF_PE], r->map[MS_PERF_TTP],
						  r->map[MS_PERF_AUC], r->map[MS_PERF_SVD_P], r->mask,
						  in->nx, in->ny, in->nz, s.p.aif_voxels, chosen);
		r->aif_automatic = true;
		if (r->n_aif < 0) {
			rc = MS_ERR_NOMEM;
			goto out;
		}
		if (r->n_aif == 0) {
			ms_log_error("perfusion: no AIF candidate in the tissue mask");
			rc = MS_ERR_INPUT;
			goto out;
		}
	}
	for (int i = 0; i < r->n_aif; i++) {
		uint64_t v = chosen[i];
		r->aif_voxel[i][0] = (uint32_t)(v % in->nx);
		r->aif_voxel[i][1] = (uint32_t)(v / in->nx % in->ny);
		r->aif_voxel[i][2] = (uint32_t)(v / in->nx / in->ny);
		ms_perf_ref_conc(&s, data + v, nvox, nt, b, c);
		for (uint32_t k = 0; k < nt; k++)
			r->aif[k] += c[k] / r->n_aif;
	}
	r->stage_ms[4] = now_ms() - t0;

	t0 = now_ms();
	rc = ms_perf_ref_deconv_init(&s, r->aif, in->t_s, nt, &d);
	if (rc != MS_OK)
		goto out;
	r->dt_s = d.dt;
	r->n_deconv = d.n;
	r->resampled = d.resampled;
	size_t l = d.l;
	pinv = ms_malloc(s.n_p * l * l * sizeof(double));
	if (!pinv) {
		rc = MS_ERR_NOMEM;
		goto out;
	}
	for (uint32_t k = 0; k < s.n_p; k++)
		ms_svd_pinv(d.u, d.sv, d.v, d.l, s.p_list[k], pinv + k * l * l);
	r->stage_ms[5] = now_ms() - t0;

	t0 = now_ms();
	double *g = c + MS_PERF_MAX_T, *bv = c + 2 * MS_PERF_MAX_T;
	for (size_t v = 0; v < nvox; v++) {
		if (!r->mask[v]) {
			r->map[MS_PERF_SVD_P][v] = 0;
			continue;
		}
		ms_perf_ref_conc(&s, data + v, nvox, nt, b, c);
		for (uint32_t j = 0; j < d.n; j++)
			g[j] = c[d.idx[j]] * (1 - d.w[j]) + c[d.idx[j] + 1] * d.w[j];
		uint32_t pick = s.n_p - 1;
		for (uint32_t k = 0; k < s.n_p; k++) {
			const double *pi = pinv + k * l * l;
			double bmax = -INFINITY, osc = 0;
			for (size_t i = 0; i < l; i++) {
				double acc = 0;
				for (uint32_t j = 0; j < d.n; j++)
					acc += pi[i * l + j] * g[j];
				bv[i] = acc;
				bmax = acc > bmax ? acc : bmax;
			}
			if (s.n_p == 1) {
				pick = 0;
				break;
			}
			for (size_t i = 2; i < l; i++)
				osc += fabs(bv[i] - 2 * bv[i - 1] + bv[i - 2]);
			double oi = bmax > 0 ? osc / ((double)l * bmax) : 0;
			if (oi < s.p.osvd_oi || k == s.n_p - 1) {
				pick = k;
				break;
			}
		}
		size_t kmax = 0;
		for (size_t i = 1; i < l; i++) {
			if (bv[i] > bv[kmax])
				kmax = i;
		}
		double cbf = s.cbf_scale * bv[kmax];
		double auc = 0;
		for (uint32_t k = 0; k + 1 < nt; k++)
			auc += (in->t_s[k + 1] - in->t_s[k]) * (c[k] + c[k + 1]) / 2;
		double cbv = s.cbv_scale * auc / d.aif_auc;
		r->map[MS_PERF_CBF][v] = (float)cbf;
		r->map[MS_PERF_CBV][v] = (float)cbv;
		r->map[MS_PERF_MTT][v] = cbf > 0 ? (float)(60 * cbv / cbf) : 0;
		r->map[MS_PERF_TMAX][v] = (float)(d.dt * (kmax < d.n ? (double)kmax : (double)kmax - (double)l));
		r->map[MS_PERF_SVD_P][v] = (float)s.p_list[pick];
	}
	r->stage_ms[6] = now_ms() - t0;

	t0 = now_ms();
	rc = ms_perf_ref_stats(&s, r);
	r->stage_ms[7] = now_ms() - t0;
out:
	ms_perf_ref_deconv_clear(&d);
	ms_free(pinv);
	ms_free(c);
	ms_free(roi);
	ms_free(owned);
	if (rc != MS_OK)
		ms_perf_result_clear(r);
	return rc;
}
