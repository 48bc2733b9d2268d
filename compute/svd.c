#include "compute/svd.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

#define MAX_SWEEPS 80

/* Hestenes' one-sided Jacobi: rotate column pairs of W = A V until all are orthogonal; then
 * s_j = |W_j| and U_j = W_j / s_j. Columns are stored contiguously (w[j*n + i]) so each
 * rotation streams two rows of memory. Accurate to working precision also for the tiny
 * singular values that truncation must judge. */
ms_status ms_svd_decompose(const double *a, uint32_t n, double *u, double *s, double *v)
{
	double *w = NULL, *vt = NULL;
	uint32_t *order = NULL;
	ms_status rc = MS_OK;

	if (!a || !u || !s || !v || n == 0) {
		ms_log_error("svd: invalid arguments");
		return MS_ERR_ARG;
	}
	for (size_t i = 0; i < (size_t)n * n; i++) {
		if (!isfinite(a[i])) {
			ms_log_error("svd: non-finite matrix element");
			return MS_ERR_ARG;
		}
	}
	w = ms_malloc((size_t)n * n * sizeof(double));
	vt = ms_calloc((size_t)n * n, sizeof(double));
	order = ms_malloc(n * sizeof(uint32_t));
	if (!w || !vt || !order) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = 0; j < n; j++)
			w[(size_t)j * n + i] = a[(size_t)i * n + j];
		vt[(size_t)i * n + i] = 1.0;
	}

	int sweep;
	for (sweep = 0; sweep < MAX_SWEEPS; sweep++) {
		int rotated = 0;
		for (uint32_t p = 0; p + 1 < n; p++) {
			for (uint32_t q = p + 1; q < n; q++) {
				double *wp = w + (size_t)p * n, *wq = w + (size_t)q * n;
				double al = 0, be = 0, ga = 0;
				for (uint32_t i = 0; i < n; i++) {
					al += wp[i] * wp[i];
					be += wq[i] * wq[i];
					ga += wp[i] * wq[i];
				}
				if (ga == 0 || fabs(ga) <= 1e-15 * sqrt(al * be))
					continue;
				rotated = 1;
				double zeta = (be - al) / (2 * ga);
				double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1 + zeta * zeta));
				double c = 1 / sqrt(1 + t * t), sn = c * t;
				double *vp = vt + (size_t)p * n, *vq = vt + (size_t)q * n;
				for (uint32_t i = 0; i < n; i++) {
					double x = wp[i], y = wq[i];
					wp[i] = c * x - sn * y;
					wq[i] = sn * x + c * y;
					x = vp[i];
					y = vq[i];
					vp[i] = c * x - sn * y;
					vq[i] = sn * x + c * y;
				}
			}
		}
		if (!rotated)
			break;
	}
	if (sweep == MAX_SWEEPS) {
		ms_log_error("svd: no convergence after %d sweeps (n = %u)", MAX_SWEEPS, n);
		rc = MS_ERR_INPUT;
		goto out_free;
	}

	/* Norms, then a stable insertion sort by descending norm (n is small). */
	double *norm = s; /* s doubles as scratch for the unsorted norms */
	for (uint32_t j = 0; j < n; j++) {
		double acc = 0;
		for (uint32_t i = 0; i < n; i++)
			acc += w[(size_t)j * n + i] * w[(size_t)j * n + i];
		norm[j] = sqrt(acc);
		order[j] = j;
	}
	for (uint32_t j = 1; j < n; j++) {
		uint32_t k = order[j], m = j;
		while (m > 0 && norm[order[m - 1]] < norm[k]) {
			order[m] = order[m - 1];
			m--;
		}
		order[m] = k;
	}
	/* w's columns are reused below, so the sorted norms go to vt-free scratch first. */
	double *sorted = ms_malloc(n * sizeof(double));
	if (!sorted) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (uint32_t j = 0; j < n; j++)
		sorted[j] = norm[order[j]];
	for (uint32_t j = 0; j < n; j++) {
		uint32_t k = order[j];
		double sj = sorted[j];
		for (uint32_t i = 0; i < n; i++) {
			u[(size_t)i * n + j] = sj > 0 ? w[(size_t)k * n + i] / sj : 0.0;
			v[(size_t)i * n + j] = vt[(size_t)k * n + i];
		}
	}
	memcpy(s, sorted, n * sizeof(double));
	ms_free(sorted);
out_free:
	ms_free(order);
	ms_free(vt);
	ms_free(w);
	return rc;
}

uint32_t ms_svd_kept(const double *s, uint32_t n, double p)
{
	uint32_t k = 0;

	if (n == 0 || !(s[0] > 0))
		return 0;
	while (k < n && s[k] >= p * s[0])
		k++;
	return k;
}

void ms_svd_pinv(const double *u, const double *s, const double *v, uint32_t n, double p,
		 double *out)
{
	uint32_t k = ms_svd_kept(s, n, p);

	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = 0; j < n; j++) {
			double acc = 0;
			for (uint32_t m = 0; m < k; m++)
				acc += v[(size_t)i * n + m] * u[(size_t)j * n + m] / s[m];
			out[(size_t)i * n + j] = acc;
		}
	}
}
