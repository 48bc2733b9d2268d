/* Perfusion analysis (ANALYSES.md section 2): concentration, baseline, AIF, model-free maps
 * and SVD deconvolution (sSVD, cSVD, oSVD) on the GPU, with the plain-C reference in
 * compute/perfusion_ref.h. Both share every host-side decision (perfusion_ref.h, internal
 * part), so GPU and reference differ only by float vs double per-voxel arithmetic.
 *
 * Pipeline (GPU version; "host" = CPU work, small):
 *  1. load    each slice chunk is filled once (resident) or once per pass (streamed); the
 *             host keeps frame 0 (one float per voxel) for the automatic mask.
 *  2. mask    host: given mask, else CT: frame 0 in [-100, 200] HU; DSC: frame 0 above 10% of
 *             the largest frame-0 signal.
 *  3. roi     GPU (perf_roi.comp): per-time sums over the mask -> host: ROI-mean curve and the
 *             number of baseline frames b (2.2; or params.baseline_frames).
 *  4. maps    GPU (perf_voxel.comp, mode 0): S0 = mean of frames 0..b-1, concentration (CT:
 *             S - S0; DSC: -ln(S/S0)/TE with S, S0 clamped to >= 1e-3), PE, TTP, AUC,
 *             MaxSlope, MTT_fm and an irregularity index for the AIF search.
 *  5. aif     host: automatic AIF (2.3) from the PE/TTP/AUC/irregularity maps, or the given
 *             voxel; the AIF curve is the mean concentration of the chosen voxels (double).
 *  6. svd     host: resampling grid (only if spacing varies > 5%), convolution matrix (sSVD
 *             N x N, c/oSVD circulant 2N x 2N), one Jacobi SVD per study, components kept per
 *             truncation P (sSVD 0.2, cSVD 0.1, oSVD 0.05..0.95).
 *  7. deconv  GPU (perf_voxel.comp, mode 1): b = V W_P U^T c per voxel (oSVD: the smallest P
 *             whose oscillation index is < 0.035, else 0.95), CBF, CBV, MTT, Tmax, P.
 *  8. stats   host: mean, median, p5, p95 of every map inside the mask.
 * Voxels outside the mask are 0 in every map.
 *
 * Definitions (per voxel, concentration C_k at times t_k, trapezoidal integrals):
 *   PE = max C; TTP = t at the first maximum; AUC = int C; MaxSlope = max (C_k+1 - C_k) /
 *   (t_k+1 - t_k); MTT_fm = int tC / int C - t_BAT (0 if int C <= 0), t_BAT = time of the last
 *   frame before the peak with C < 0.1 PE (t_0 if none);
 *   CBF = (k_H/rho) 6000 max b [ml/100 g/min]; CBV = (k_H/rho) 100 AUC / AUC_aif [ml/100 g];
 *   MTT = 60 CBV / CBF [s] (0 if CBF <= 0); Tmax = dt argmax b, an index k >= N of the
 *   circulant methods counting as (k - 2N) dt [s]; relative mode uses rho = k_H = 1.
 *   OI = (1/L)(1/max b) sum_k=2..L-1 |b_k - 2 b_k-1 + b_k-2| (OI = 0 when max b <= 0).
 *
 * Memory (GPU): resident mode keeps all input chunks in host-visible buffers the fill
 * callback writes straight into (nt * voxels * 4 bytes) plus per-chunk scratch; it is used
 * when that fits params.memory_budget (default 2048 MiB), else one chunk buffer is refilled
 * for each pass (4 fills per chunk plus one per AIF voxel chunk). A 512x512x32x40 study (1.34
 * GB of float input) runs resident in 1.4 GB (lavapipe, 3-slice chunks) to 1.7 GB (a GPU
 * with 4 GiB bindings, one 32-slice chunk). Chunks are whole slices: a chunk's signal and its
 * 10 output maps must each fit one binding (maxStorageBufferRange). Host memory: the result
 * maps (10 floats per voxel), the mask and frame 0.
 *
 * Thread-safety: functions are reentrant; GPU calls may share a context across threads. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/vk_context.h"

#define MS_PERF_MAX_T 128      /* time points (after resampling) */
#define MS_PERF_MAX_AIF 6      /* AIF voxels */
#define MS_PERF_OSVD_STEPS 19  /* P = 0.05, 0.10, ..., 0.95 */

typedef enum { MS_PERF_CT, MS_PERF_DSC } ms_perf_kind;
typedef enum { MS_PERF_SSVD, MS_PERF_CSVD, MS_PERF_OSVD } ms_perf_method;

typedef enum {
	MS_PERF_PE,        /* peak enhancement (HU or 1/s) */
	MS_PERF_TTP,       /* time to peak, s */
	MS_PERF_AUC,       /* area under the concentration curve */
	MS_PERF_MAX_SLOPE, /* per s */
	MS_PERF_MTT_FM,    /* model-free MTT (first moment - arrival), s */
	MS_PERF_CBF,       /* ml/100 g/min */
	MS_PERF_CBV,       /* ml/100 g */
	MS_PERF_MTT,       /* s */
	MS_PERF_TMAX,      /* s */
	MS_PERF_SVD_P,     /* truncation P used for the voxel */
	MS_PERF_N_MAPS,
} ms_perf_map;

typedef struct {
	ms_perf_kind kind;
	double te_s;              /* DSC echo time in s (> 0); unused for CT */
	ms_perf_method method;
	double svd_threshold;     /* sSVD/cSVD P; 0 = 0.2 (sSVD) / 0.1 (cSVD); unused by oSVD */
	double osvd_oi;           /* oSVD oscillation limit; 0 = 0.035 */
	double rho, k_h;          /* 0 = 1.04 g/ml and 0.73 */
	bool relative;            /* rho = k_H = 1 */
	int baseline_frames;      /* 0 = automatic (2.2); else 1..nt-1 */
	int aif_voxels;           /* automatic AIF size 1..6; 0 = 5 */
	bool aif_given;           /* use the single voxel aif_xyz as AIF */
	uint32_t aif_xyz[3];
	const uint8_t *mask;      /* nx*ny*nz tissue mask (non-zero = tissue) or NULL = automatic;
	                             borrowed */
	uint32_t chunk_slices;    /* GPU: slices per chunk; 0 = as many as one binding and the
	                             budget allow */
	uint64_t memory_budget;   /* GPU: bytes of buffers; 0 = 2048 MiB */
} ms_perf_params;

/* Fills dst with the signal of slices z0 .. z0+nz-1 for every time point, laid out
 * [nt][nz][ny][nx] (x fastest). May be called several times for one chunk (streamed mode,
 * AIF curves) and must give the same values each time. Returns MS_OK or an error that
 * aborts the analysis. */
typedef ms_status (*ms_perf_fill_fn)(void *user, uint32_t z0, uint32_t nz, float *dst);

typedef struct {
	uint32_t nx, ny, nz, nt;
	const float *data;     /* nt*nz*ny*nx signal (HU for CT), t slowest; borrowed; or NULL */
	ms_perf_fill_fn fill;  /* used when data is NULL */
	void *user;            /* passed to fill */
	const double *t_s;     /* nt acquisition times in s, strictly increasing; borrowed */
	double spacing[3];     /* mm, informational */
} ms_perf_input;

typedef struct {
	uint32_t nx, ny, nz, nt;
	float *map[MS_PERF_N_MAPS]; /* nx*ny*nz each (x fastest); owned */
	uint8_t *mask;              /* nx*ny*nz: 1 = tissue (the voxels analysed); owned */
	uint64_t n_mask;
	double *aif;                /* nt: AIF concentration at t_s; owned */
	uint32_t aif_voxel[MS_PERF_MAX_AIF][3];
	int n_aif;
	bool aif_automatic;
	int baseline_frames;
	double dt_s;                /* deconvolution grid step */
	uint32_t n_deconv;          /* deconvolution grid length N (resampled when uneven) */
	bool resampled;
	double threshold_used;      /* sSVD/cSVD: P; oSVD: median P chosen inside the mask */
	double stats[MS_PERF_N_MAPS][4]; /* mean, median, p5, p95 inside the mask */
	double gpu_ms;              /* GPU time of all kernel runs (timestamps); 0 for the ref */
	double stage_ms[8];         /* host wall time: load, mask, roi, maps, aif, svd, deconv,
	                               stats */
	bool streamed;              /* GPU: input refilled per pass (did not fit the budget) */
	uint32_t chunk_slices, n_chunks;
} ms_perf_result;

/* GPU analysis on context c (borrowed). r must be zeroed or hold a previous result (cleared
 * first); on failure it is cleared. Returns MS_OK; MS_ERR_ARG (invalid input/params: sizes,
 * nt < 3 or > MS_PERF_MAX_T, times not increasing, NULL data and fill, DSC without TE, AIF
 * voxel outside the volume, a chunk that cannot fit the budget or one binding);
 * MS_ERR_INPUT (empty mask, no AIF candidate, AIF without enhancement); MS_ERR_NOMEM;
 * MS_ERR_VULKAN; or the fill callback's error. */
ms_status ms_perf_gpu(ms_vk_context *c, const ms_perf_input *in, const ms_perf_params *p,
		      ms_perf_result *r);

/* Frees everything in r and zeroes it; NULL is a no-op. */
void ms_perf_result_clear(ms_perf_result *r);

/* Short name of a map ("CBF", "MTT_fm", ...); a static string, "?" when out of range. */
const char *ms_perf_map_name(ms_perf_map m);
