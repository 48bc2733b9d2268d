/* Plain C reference of the calcium scoring in compute/calcium.h: an independent
 * implementation (per-slice flood fill for the 2-D components, a 3-D flood fill over the
 * kept voxels for the lesions, double accumulation) that the GPU kernels are tested against.
 *
 * Thread-safety: reentrant. */
#pragma once
#include <stdint.h>

#include "common/status.h"
#include "compute/calcium.h"
#include "compute/volume.h"

/* Same contract as ms_cac_gpu (calcium.h) without a device: vol and roi are borrowed, r is
 * cleared first and on failure. gpu_ms is 0; stage_ms holds the reference's own stages.
 * Returns MS_OK, MS_ERR_ARG, MS_ERR_NOMEM. */
ms_status ms_cac_ref(const ms_volume *vol, const uint8_t *roi, const ms_cac_params *p,
		     ms_cac_result *r);

/* Isotropic volume (ANALYSES.md 1.8), on the CPU for both implementations: resamples the
 * volume along z by linear interpolation to spacing dx (slices at z = j*dx, j = 0 ..
 * floor((nz-1)*dz/dx)), re-thresholds (ROI of the nearest original slice), labels each
 * resampled slice in 2-D with the same connectivity and n_min, and counts every kept voxel
 * for the lesion found at the same (i, j) on the nearest original slice, else on the other
 * bracketing slice (voxels with neither are not counted). Sets each lesion's volume_mm3 to
 * N*dx*dy*dx and sum_v_hu to volume * mean_hu (mean HU of the original voxels).
 * r->lesion_map and r->lesions must be filled. Returns MS_OK or MS_ERR_NOMEM. */
ms_status ms_cac_ref_isotropic(const ms_volume *vol, const uint8_t *roi, const ms_cac_params *p,
			       const ms_cac_setup *s, ms_cac_result *r);
