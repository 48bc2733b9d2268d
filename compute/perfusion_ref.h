/* Plain-C double-precision reference of the perfusion analysis (compute/perfusion.h gives
 * the pipeline and the definitions), and the host-side steps the GPU version shares with it.
 *
 * Thread-safety: reentrant. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/perfusion.h"

/* Reference analysis: per voxel in double, the deconvolution as explicit truncated
 * pseudo-inverses (one per P, built once) times the curve. Same contract as ms_perf_gpu
 * (without MS_ERR_VULKAN); the whole input is held in host memory (data, or one fill call
 * for all slices). gpu_ms is 0. */
ms_status ms_perf_ref(const ms_perf_input *in, const ms_perf_params *p, ms_perf_result *r);

/* ---- Internal to compute/perfusion*.c (shared host steps). -------------------------------- */

#define MS_PERF_DSC_MIN_SIGNAL 1e-3 /* signals are clamped to this before the logarithm */

/* Parameters with defaults resolved and the truncation list of the method. */
typedef struct {
	ms_perf_params p;
	uint32_t n_p;                    /* 1, or MS_PERF_OSVD_STEPS for oSVD */
	double p_list[MS_PERF_OSVD_STEPS]; /* ascending */
	double cbf_scale, cbv_scale;     /* (k_H/rho) * 6000, (k_H/rho) * 100 */
} ms_perf_setup;

/* Validates input and params and fills s. Returns MS_OK or MS_ERR_ARG (logged). */
ms_status ms_perf_ref_setup(const ms_perf_input *in, const ms_perf_params *p, ms_perf_setup *s);

/* Mask from frame 0 (nvox values) per the automatic rule, or from s->p.mask. Writes mask
 * (nvox bytes, 0/1) and returns the number of tissue voxels. */
uint64_t ms_perf_ref_mask(const ms_perf_setup *s, const float *frame0, size_t nvox,
			  uint8_t *mask);

/* Number of baseline frames from the ROI-mean curve (2.2), or the given number. */
int ms_perf_ref_baseline(const ms_perf_setup *s, const double *roi, uint32_t nt);

/* Concentration of one voxel: s[k * stride], k < nt, with b baseline frames, into c. */
void ms_perf_ref_conc(const ms_perf_setup *s, const float *sig, size_t stride, uint32_t nt,
		      int b, double *c);

/* Model-free values of one curve: out[0..4] = PE, TTP, AUC, MaxSlope, MTT_fm; out[5] =
 * irregularity (sum of squared second differences / (PE^2 (nt - 2)); 0 if PE <= 0). */
void ms_perf_ref_curve_maps(const double *c, const double *t, uint32_t nt, double out[6]);

/* Automatic AIF voxels (2.3) from the PE/TTP/AUC/irregularity maps of the tissue mask:
 * candidates are mask voxels with all 8 in-plane neighbours in the mask (all mask voxels
 * when none is) and PE, AUC > 0; drop the 40% lowest AUC, then the 40% latest TTP, then the
 * 5% most irregular; keep the n highest PE (ties: earlier TTP, lower index). Writes up to n
 * voxel indices to out and returns how many (0 = no candidate). Returns -1 on NOMEM. */
int ms_perf_ref_select_aif(const float *pe, const float *ttp, const float *auc,
			   const float *irr, const uint8_t *mask, uint32_t nx, uint32_t ny,
			   uint32_t nz, int n, uint64_t *out);

/* Deconvolution setup built once per study from the AIF curve. */
typedef struct {
	uint32_t nt;      /* input time points */
	uint32_t n, l;    /* grid length N and matrix size L (N for sSVD, 2N otherwise) */
	double dt;
	bool resampled;
	uint32_t *idx;    /* n: grid value j = c[idx] (1 - w) + c[idx + 1] w; owned */
	double *w;        /* n; owned */
	double *u, *sv, *v; /* SVD of the L x L matrix (row-major, vectors in columns); owned */
	uint32_t kept[MS_PERF_OSVD_STEPS]; /* components kept for each P of the setup */
	double aif_auc;   /* trapezoidal integral of the AIF at the input times */
} ms_perf_deconv;

/* Builds d from the AIF concentration (nt values at t). MS_ERR_INPUT when the AIF integral
 * is not positive; MS_ERR_NOMEM; d is cleared on failure. */
ms_status ms_perf_ref_deconv_init(const ms_perf_setup *s, const double *aif, const double *t,
				  uint32_t nt, ms_perf_deconv *d);
void ms_perf_ref_deconv_clear(ms_perf_deconv *d);

/* Fills r->stats and r->threshold_used from the maps and the mask. MS_ERR_NOMEM. */
ms_status ms_perf_ref_stats(const ms_perf_setup *s, ms_perf_result *r);

/* Allocates r's maps, mask and AIF for the input dimensions (r cleared first). */
ms_status ms_perf_ref_result_alloc(const ms_perf_input *in, ms_perf_result *r);
