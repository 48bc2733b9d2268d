/* Coronary artery calcium scoring (ANALYSES.md section 1): Agatston score, volume and mass
 * per lesion and in total, on the GPU (shaders/calcium_*.comp). The plain C reference
 * ms_cac_ref lives in compute/calcium_ref.h.
 *
 * Definitions (both implementations):
 *  - candidate: finite HU >= threshold inside the ROI (roi[i] != 0; no ROI = everywhere);
 *  - 2-D components per slice, 4- or 8-connected; a component is kept if its pixel count
 *    n >= n_min = max(1, ceil(min_area_mm2 / (dx*dy) - 1e-9 relative), min_pixels);
 *  - weight from the component's peak HU, half-open bins [thr, e1) -> 1, [e1, e2) -> 2,
 *    [e2, e3) -> 3, >= e3 -> 4 (e = 200/300/400, or the kVp table when kvp_adjust);
 *  - lesions = kept components on adjacent slices sharing >= 1 pixel (union over slices);
 *    lesion ids 1..n in order of the lesion's lowest voxel index (first slice, then row,
 *    then column), so results are deterministic;
 *  - a lesion whose peak HU exceeds max_hu (> 0) is dropped as a whole (metal), so a metal
 *    artefact leaves no fragments on neighbouring slices;
 *  - Agatston A = (dz / 3 mm) * sum over its components of n*dx*dy*w; volume V = N*dx*dy*dz
 *    (voxel counting) or, with volume_method 1, N_iso*dx*dy*dx of the z-interpolated volume
 *    (see ms_cac_ref_isotropic); sum_v_hu = V * mean HU of the lesion's voxels; mass =
 *    mass_calibration * sum_v_hu, NaN when mass_calibration is 0.
 * dz is the slice increment geom.spacing[2], dx = spacing[0], dy = spacing[1].
 *
 * Thread-safety: all functions are reentrant; GPU calls may share a context across threads. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/vk_context.h"
#include "compute/volume.h"

typedef enum {
	MS_CAC_PROFILE_LITERATURE, /* 1 mm2 minimum area */
	MS_CAC_PROFILE_GE,         /* 1 mm2 */
	MS_CAC_PROFILE_SIEMENS,    /* no minimum area (1 pixel) */
	MS_CAC_PROFILE_PHILIPS,    /* 0.5 mm2 */
	MS_CAC_PROFILE_CANON,      /* n_pix >= 3 */
} ms_cac_profile;

typedef struct {
	ms_cac_profile profile; /* informational once the fields below are set */
	double threshold_hu;    /* candidate = HU >= threshold (> 0; default 130) */
	int connectivity;       /* 4 (default) or 8, in-plane */
	double min_area_mm2;    /* keep a component if n >= ceil(min_area / (dx*dy)) */
	int min_pixels;         /* and n >= min_pixels (Canon 3; 0 = unused) */
	bool kvp_adjust;        /* threshold and weight edges from the kVp table (70/80/100/120 kV
	                           only); replaces threshold_hu */
	double kvp;             /* tube voltage; 0 = unknown. Without kvp_adjust a value other
	                           than 120 only logs a warning */
	int volume_method;      /* 0 = voxel counting (default), 1 = isotropic interpolation */
	double mass_calibration; /* c in mg/mm3/HU; 0 = unknown: mass NaN, only sum_v_hu */
	double max_hu;          /* lesions with peak > max_hu are dropped (default 2000); 0 = off */
	uint32_t chunk_slices;  /* GPU only: slices per chunk; 0 = as many as the device's binding
	                           range allows (tests force small chunks) */
} ms_cac_params;

/* Fills *p with the defaults of 'profile' (see ms_cac_profile). */
void ms_cac_params_default(ms_cac_params *p, ms_cac_profile profile);

typedef struct {
	uint32_t id;          /* 1..n, ordered by lowest voxel index */
	uint32_t n_voxels;    /* kept candidate voxels of the original grid */
	double agatston;
	double volume_mm3;
	double mass_mg;       /* NaN without calibration */
	double sum_v_hu;      /* volume_mm3 * mean_hu */
	double peak_hu;
	double mean_hu;
	uint32_t z_first, z_last; /* slice range */
	double centroid[3];   /* mean voxel coordinates (i, j, k) */
} ms_cac_lesion;

#define MS_CAC_STAGES 8

typedef struct {
	double agatston, volume_mm3, mass_mg, sum_v_hu; /* totals; mass NaN without calibration */
	int category;          /* of round(agatston): 0: 0, 1: 1-10, 2: 11-100, 3: 101-400, 4: >400 */
	ms_cac_lesion *lesions; /* n_lesions, in id order; owned */
	size_t n_lesions;
	uint32_t *lesion_map;  /* nx*ny*nz: 0 or lesion id (for the SEG); owned */
	uint32_t n_components; /* 2-D candidate components before the area filter */
	double threshold_hu;   /* effective threshold and weight edges (kVp table applied) */
	double weight_edges[3];
	uint32_t min_pixels;   /* effective n_min */
	double gpu_ms;         /* sum of kernel timestamps; 0 for the reference */
	double stage_ms[MS_CAC_STAGES]; /* wall-clock ms per stage, see ms_cac_stage_name */
} ms_cac_result;

/* Name of stage i of stage_ms (0 upload, 1 threshold, 2 ccl, 3 stats, 4 filter, 5 lesions,
 * 6 output, 7 isotropic); "?" outside 0..MS_CAC_STAGES-1. Static string. */
const char *ms_cac_stage_name(int i);

/* Risk category of round(agatston), as in ms_cac_result.category. */
int ms_cac_category(double agatston);

/* GPU implementation. vol: HU volume (borrowed); roi: optional nx*ny*nz mask (borrowed,
 * NULL = everywhere). r must be zeroed or hold a previous result (cleared first); on
 * failure it is cleared. Per-voxel work runs on the GPU: threshold, per-slice union-find
 * labelling, per-component statistics, area filter, adjacent-slice merging and the lesion
 * map; the host merges the per-component tables into lesions and does the isotropic volume
 * (CPU, shared with the reference). Volumes larger than one binding are processed in slice
 * chunks. Returns MS_OK; MS_ERR_ARG (invalid volume/params, more than 2^32-2 voxels or
 * more components than one binding holds); MS_ERR_NOMEM; MS_ERR_VULKAN. */
ms_status ms_cac_gpu(ms_vk_context *c, const ms_volume *vol, const uint8_t *roi,
		     const ms_cac_params *p, ms_cac_result *r);

/* Frees the lesions and the map and zeroes *r; NULL is a no-op. */
void ms_cac_result_clear(ms_cac_result *r);

/* ---- Internal to compute/calcium*.c ------------------------------------------------------ */

/* Parameters resolved against a volume. */
typedef struct {
	double thr;       /* candidate threshold (HU) */
	float thr_f;      /* smallest float >= thr: x >= thr_f <=> (double)x >= thr */
	double edges[3];  /* weight edges */
	uint32_t n_min;   /* minimum pixels per kept component */
	double dx, dy, dz;
} ms_cac_setup;

/* Validates vol and p and resolves them; logs and returns MS_ERR_ARG when invalid. */
ms_status ms_cac_setup_resolve(const ms_volume *vol, const ms_cac_params *p, ms_cac_setup *s);

/* Agatston weight 1..4 of a component peak (peak >= threshold). */
int ms_cac_weight(const ms_cac_setup *s, double peak);

/* Fills totals and category from r->lesions (mass NaN when c == 0), and the effective
 * parameters from s. */
void ms_cac_result_totals(ms_cac_result *r, const ms_cac_setup *s, double mass_calibration);
