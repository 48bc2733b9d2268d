/* Small dense singular value decomposition (one-sided Jacobi, double precision) for the
 * N x N (or 2N x 2N circulant) AIF convolution matrices of perfusion deconvolution, and the
 * truncated pseudo-inverse built from it. Sizes are at most a few hundred: O(n^3) per sweep.
 *
 * Thread-safety: reentrant (no shared state). */
#pragma once
#include <stdint.h>

#include "common/status.h"

/* Decomposes the n x n row-major matrix a = U diag(s) V^T. u and v receive n x n row-major
 * matrices whose COLUMNS are the left/right singular vectors; s receives the n singular
 * values in descending order. Columns belonging to zero singular values of u are zero. All
 * arrays are caller-owned and must not overlap; a is not modified.
 * Returns MS_OK; MS_ERR_ARG (NULL pointer, n == 0, non-finite input); MS_ERR_NOMEM;
 * MS_ERR_INPUT when the sweeps do not converge (does not happen for finite input). */
ms_status ms_svd_decompose(const double *a, uint32_t n, double *u, double *s, double *v);

/* Number of singular values kept by relative truncation: those with s[i] >= p * s[0]
 * (s descending, as ms_svd_decompose returns it); 0 when s[0] <= 0. */
uint32_t ms_svd_kept(const double *s, uint32_t n, double p);

/* Truncated pseudo-inverse out = V W U^T (n x n row-major), W_ii = 1/s_i for the first
 * ms_svd_kept(s, n, p) values, 0 otherwise. out is caller-owned. */
void ms_svd_pinv(const double *u, const double *s, const double *v, uint32_t n, double p,
		 double *out);
