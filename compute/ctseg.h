/* Classical CT segmentation pipelines (reference/ANALYSES.md section 3): body, left/right
 * lungs, bone, and the heart ROI the calcium analysis restricts its candidates to (section 1
 * "ROI"), built from the ops of compute/segops.h (GPU) or compute/segops_ref.h (plain C).
 * Both variants run the same pipeline code over the same ops, so their masks are identical.
 *
 * Body:  HU > body_hu_min; per-slice opening with a disk of body_open_radius_px pixels, at most
 *        body_open_max_mm (drops the table); largest 3-D component; per-slice hole filling.
 * Lungs: inside the body, HU < lung_hu_max; drop components touching the x/y border; remove
 *        trachea/main bronchi by region growing at HU < airway_hu_max from seeds in the top
 *        slice (largest patient z) within airway_seed_halfwidth_mm of the centre column;
 *        keep the 2 largest components of at least lung_min_ml; if the second is smaller
 *        than lung_fused_ratio x the first (or missing), the lungs are fused: erode
 *        repeatedly with a split_step_mm cylinder (disk + z segment, at least one voxel;
 *        up to split_max_mm / split_step_mm times) until two parts in that ratio appear, then give every voxel
 *        of the fused mask the label of the part that reaches it first (6-connected marker
 *        propagation); per lung: per-slice hole filling, closing with a lung_close_mm ball,
 *        restricted to the body. Patient left = +x in LPS (the lung whose centroid has the
 *        larger patient x).
 * Bone:  inside the body, HU >= bone_hu_min; drop components < bone_min_ml; per-slice hole
 *        filling.
 * Heart ROI: per slice, per row, the voxels strictly between the two lungs, in slices where
 *        both lungs exist (above the diaphragm), anterior to the spine (the most anterior
 *        bone voxel between the lung centroids, posterior to the lungs' mean row); outside
 *        lungs and bone; then dilated by heart_dilate_mm (a cylinder: per-slice disk, then
 *        z segment; a ball of 10 mm costs ~10x more), restricted to the body, minus bone.
 * Connected components use 'conn' (6 or 26).
 *
 * What runs on the host in the GPU variant: the airway seed search (reads the top slice of
 * one mask), the fused-lung split bookkeeping (only for fused lungs: builds the marker map
 * and assigns unreached voxels), left/right centroids, the per-row heart ROI geometry and
 * volume counting, on masks read back once for the result.
 *
 * Thread-safety: reentrant; GPU calls may share a context across threads. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/segops_ref.h"
#include "compute/vk_context.h"
#include "compute/volume.h"

typedef struct {
	float body_hu_min;               /* -500: body is HU > this */
	uint32_t body_open_radius_px;    /* 5: per-slice opening disk radius (pixels) */
	double body_open_max_mm;         /* 4: ... but at most this radius (coarse pixels) */
	float lung_hu_max;               /* -320: lung candidates are HU < this */
	float airway_hu_max;             /* -950: trachea/bronchi region growing, HU < this */
	double airway_seed_halfwidth_mm; /* 15: seed window around the centre column */
	double lung_min_ml;              /* 50: smaller components are not lungs */
	double lung_fused_ratio;         /* 0.25: second/first size below this = fused */
	double lung_close_mm;            /* 3: closing ball radius */
	double split_step_mm;            /* 2: erosion step (cylinder radius) for fused lungs */
	double split_max_mm;             /* 20: total erosion tried before giving up */
	float bone_hu_min;               /* 200: bone is HU >= this */
	double bone_min_ml;              /* 1: smaller bone components are dropped */
	double heart_dilate_mm;          /* 10: heart ROI dilation (cylinder radius/half-height) */
	ms_seg_conn conn;                /* MS_SEG_CONN6: 3-D connectivity */
} ms_ctseg_params;

/* Fills p with the defaults above. */
void ms_ctseg_params_default(ms_ctseg_params *p);

enum { MS_CTSEG_BODY, MS_CTSEG_LUNG_LEFT, MS_CTSEG_LUNG_RIGHT, MS_CTSEG_BONE, MS_CTSEG_HEART };

/* Stages timed in stage_ms (host wall time, ms). */
enum {
	MS_CTSEG_STAGE_SETUP,  /* buffers, upload */
	MS_CTSEG_STAGE_BODY,
	MS_CTSEG_STAGE_LUNGS,
	MS_CTSEG_STAGE_BONE,
	MS_CTSEG_STAGE_HEART,
	MS_CTSEG_STAGE_READ,   /* read-back of the masks */
	MS_CTSEG_N_STAGES
};

typedef struct {
	uint8_t *body, *lung_left, *lung_right, *bone, *heart_roi; /* nx*ny*nz 0/1 each, owned */
	double volume_ml[5];  /* indexed by MS_CTSEG_BODY.. */
	bool lungs_fused;     /* the lungs formed one component and were split */
	bool airway_removed;  /* airway seeds were found and their region removed */
	double gpu_ms;        /* GPU time of all dispatches; 0 for the reference */
	double stage_ms[MS_CTSEG_N_STAGES];
} ms_ctseg_result;

/* Run the pipeline on v (borrowed; HU, geometry with positive spacing) with p (NULL =
 * defaults). r must be zeroed or hold an earlier result (it is cleared first); on failure
 * it is cleared. A volume without lungs gives empty lung and heart masks.
 * Returns MS_OK; MS_ERR_ARG (bad params, more than MS_SEG_MAX_VOXELS voxels), MS_ERR_INPUT
 * (non-positive spacing), MS_ERR_NOMEM; the GPU variant also MS_ERR_VULKAN, and
 * MS_ERR_NOMEM when a float volume exceeds the device's maxStorageBufferRange (callers can
 * fall back to the reference). */
ms_status ms_ctseg_ref(const ms_volume *v, const ms_ctseg_params *p, ms_ctseg_result *r);
ms_status ms_ctseg_gpu(ms_vk_context *c, const ms_volume *v, const ms_ctseg_params *p,
		       ms_ctseg_result *r);

/* Frees the masks and zeroes *r; NULL is a no-op. */
void ms_ctseg_result_clear(ms_ctseg_result *r);

/* Synthetic chest phantom (ANALYSES.md 3), for tests and benchmarks. Patient coordinates
 * (LPS, mm) centred on the volume; axial slices, normal +z. Shapes, by voxel centre:
 * body: elliptic cylinder, semi-axes 175 (x) x 140 (y), 0 HU, in -1000 HU air; lungs:
 * ellipsoids at x = +-75, y = -10, semi-axes 45 x 60 x 60 (z: at most 0.4 of the z extent),
 * -800 HU (left = +x); spine: cylinder r 20 at y = 95, 700 HU; table: slab y 145..155 (5 mm
 * below the body), |x| <= 190, 200 HU. Options: 'fused' adds a -800 HU bar (r 12 along x at
 * y = -10, z = 0) joining the lungs; 'airway' adds a -1000 HU trachea (r 9 at x = 0,
 * y = -30, from z = 20 mm to the top) and a bronchus (r 6 along x at y = -30, z = 15 mm)
 * reaching into both lungs. truth (NULL ok) receives an owned nx*ny*nz label map. */
enum {
	MS_PHANTOM_AIR,
	MS_PHANTOM_TISSUE,
	MS_PHANTOM_LUNG_LEFT,
	MS_PHANTOM_LUNG_RIGHT,
	MS_PHANTOM_SPINE,
	MS_PHANTOM_TABLE,
	MS_PHANTOM_AIRWAY,
};
typedef struct {
	bool lungs;  /* false: a body without lungs */
	bool fused;
	bool airway;
} ms_ctseg_phantom_opts;
ms_status ms_ctseg_phantom(uint32_t nx, uint32_t ny, uint32_t nz, double sxy, double sz,
			   const ms_ctseg_phantom_opts *o, ms_volume **out, uint8_t **truth);
