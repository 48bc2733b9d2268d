/* Classical CT segmentation operations in plain C: the reference every GPU op in
 * compute/segops.h must reproduce (integer/binary outputs exactly, float outputs to 1e-5
 * relative), and the CPU fallback of the pipelines in compute/ctseg.h.
 *
 * Data: a grid of nx*ny*nz voxels, x fastest (index i = x + nx*(y + ny*z)); masks are uint8
 * (0 = off, anything else = on; outputs are 0/1); HU and other real volumes are float.
 *
 * Shared definitions (GPU and reference):
 *  - Connected components: a component's label is the smallest linear index of its voxels;
 *    background voxels get MS_SEG_NO_LABEL. sizes[] has one uint32 per voxel, meaningful at
 *    label indices only: bits 0..29 the voxel count, MS_SEG_BORDER when the component
 *    touches the first/last column or row of a slice (the z faces do not count: chest CT
 *    often cuts the lungs at the top and bottom), MS_SEG_SEEDED once a seed lies in it.
 *  - Structuring elements are ellipsoids with semi-axes rx, ry, rz in voxels: offset
 *    (dx, dy, dz) belongs if (dx/rx)^2 + (dy/ry)^2 + (dz/rz)^2 <= 1 (+1e-9), where an axis
 *    with r < 1 only allows d = 0 (rz = 0: a per-slice disk). Voxels outside the grid are
 *    ignored: dilation sees them as off, erosion as on (so erosion = NOT dilation(NOT A)).
 *  - Hole filling is per slice: background voxels not 4-connected to the slice border are set.
 *
 * Thread-safety: every function is reentrant. Functions that allocate return MS_ERR_NOMEM on
 * allocation failure; the rest cannot fail. Pointers are borrowed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define MS_SEG_NO_LABEL 0xFFFFFFFFu
#define MS_SEG_SIZE_MASK 0x3FFFFFFFu
#define MS_SEG_BORDER 0x80000000u
#define MS_SEG_SEEDED 0x40000000u
#define MS_SEG_MAX_VOXELS ((size_t)MS_SEG_SIZE_MASK) /* sizes must fit in 30 bits */
#define MS_SEG_MAX_KEEP 4u

typedef struct {
	uint32_t nx, ny, nz;   /* columns, rows, slices */
	double sx, sy, sz;     /* voxel spacing in mm (x, y, slice increment) */
} ms_seg_grid;

/* Neighbourhoods: 2-D ones stay inside a slice. */
typedef enum {
	MS_SEG_CONN4 = 4,
	MS_SEG_CONN8 = 8,
	MS_SEG_CONN6 = 6,
	MS_SEG_CONN26 = 26,
} ms_seg_conn;

typedef enum { MS_SEG_ERODE, MS_SEG_DILATE } ms_seg_morph_op;

typedef enum { MS_SEG_AND, MS_SEG_AND_NOT, MS_SEG_OR } ms_seg_logic;

typedef struct {
	float rx, ry, rz; /* semi-axes in voxels (see above) */
} ms_seg_elem;

/* One x-run of a structuring element: offsets (dx, dy, dz) with |dx| <= w. */
typedef struct {
	int32_t dy, dz, w, pad;
} ms_seg_run;

/* Which components to keep (ms_segops_ref_select / ms_segops_select, and the candidates of
 * ms_segops_ref_largest). A zeroed struct keeps every component. */
typedef struct {
	uint32_t min_size;              /* keep components of at least this many voxels */
	bool drop_border;               /* drop components with MS_SEG_BORDER */
	bool seeded_only;               /* keep only components with MS_SEG_SEEDED */
	uint32_t n_keep;                /* > 0: keep only the labels in keep[] */
	uint32_t keep[MS_SEG_MAX_KEEP];
} ms_seg_select;

/* Number of voxels; 0 if a dimension is 0. */
size_t ms_segops_ref_count(const ms_seg_grid *g);

/* True if the grid has at most MS_SEG_MAX_VOXELS voxels and positive finite spacing. */
bool ms_segops_ref_grid_ok(const ms_seg_grid *g);

/* Ball of radius r_mm in the grid's anisotropic voxels; per_slice gives the 2-D disk. */
ms_seg_elem ms_segops_ref_ball(const ms_seg_grid *g, double r_mm, bool per_slice);

/* The x-runs of e, ordered by dz then dy; *runs is allocated (free with ms_free), at least
 * one run (the centre). MS_ERR_ARG for negative or non-finite radii or radii above 254. */
ms_status ms_segops_ref_runs(const ms_seg_elem *e, ms_seg_run **runs, uint32_t *n_runs);

/* out = (lo <= hu < hi) and (within == NULL or within != 0). NaN is never inside. */
void ms_segops_ref_threshold(const ms_seg_grid *g, const float *hu, float lo, float hi,
			     const uint8_t *within, uint8_t *out);

/* out = a op b, voxel by voxel (0/1). */
void ms_segops_ref_logic(const ms_seg_grid *g, const uint8_t *a, const uint8_t *b,
			 ms_seg_logic op, uint8_t *out);

/* Binary erosion/dilation by e (brute force over the element). in and out must differ. */
ms_status ms_segops_ref_morph(const ms_seg_grid *g, ms_seg_morph_op op, const ms_seg_elem *e,
			     const uint8_t *in, uint8_t *out);

/* Connected components of the voxels with (mask != 0) != invert: labels[] and sizes[] as
 * above (sizes of non-label indices are 0). */
ms_status ms_segops_ref_label(const ms_seg_grid *g, const uint8_t *mask, bool invert,
			      ms_seg_conn conn, uint32_t *labels, uint32_t *sizes);

/* Sets MS_SEG_SEEDED on the components containing seeds[] (indices >= count are ignored,
 * as are seeds on background). */
void ms_segops_ref_mark_seeds(const ms_seg_grid *g, const uint32_t *labels, uint32_t *sizes,
			      const uint32_t *seeds, uint32_t n_seeds);

/* The k largest components passing 'filter' (NULL = all; its n_keep is ignored), largest
 * first, ties to the smaller label: labels_out[], sizes_out[] (k entries each), *n_found. */
void ms_segops_ref_largest(const ms_seg_grid *g, const uint32_t *labels, const uint32_t *sizes,
			   const ms_seg_select *filter, uint32_t k, uint32_t *labels_out,
			   uint32_t *sizes_out, uint32_t *n_found);

/* out = 1 where the voxel's component passes sel. */
void ms_segops_ref_select(const ms_seg_grid *g, const uint32_t *labels, const uint32_t *sizes,
			  const ms_seg_select *sel, uint8_t *out);

/* Per-slice hole filling (in and out may be equal). */
ms_status ms_segops_ref_fill_holes(const ms_seg_grid *g, const uint8_t *in, uint8_t *out);

/* Seeded region growing: out = voxels with lo <= hu < hi (inside 'within' if given) that are
 * conn-connected to a seed satisfying the same test (breadth-first search). */
ms_status ms_segops_ref_grow(const ms_seg_grid *g, const float *hu, float lo, float hi,
			     const uint8_t *within, ms_seg_conn conn, const uint32_t *seeds,
			     uint32_t n_seeds, uint8_t *out);

/* Separable Gaussian, sigma_mm per axis (0 = skip that axis), kernel radius
 * ceil(3 sigma / spacing) voxels, edges clamped; weights from ms_segops_ref_gauss_weights. */
ms_status ms_segops_ref_gauss(const ms_seg_grid *g, const float *in, const double sigma_mm[3],
			      float *out);

/* Normalised float weights of a Gaussian with sigma_vox voxels: *radius = ceil(3 sigma),
 * 2 * radius + 1 weights in w (allocated; NULL with radius 0 when sigma_vox <= 0). */
ms_status ms_segops_ref_gauss_weights(double sigma_vox, float **w, uint32_t *radius);

/* Exact Euclidean distance (mm, anisotropic) from each on voxel to the nearest off voxel;
 * 0 on off voxels, +inf when the grid has no off voxel. Separable (Felzenszwalb) in double. */
ms_status ms_segops_ref_edt(const ms_seg_grid *g, const uint8_t *mask, float *out);

/* Marker propagation inside mask: each iteration (Jacobi, all voxels at once) gives every
 * unlabelled (0) mask voxel the smallest non-zero label of its 6-neighbours. Stops when
 * nothing changes or after max_iter iterations; *iterations = iterations that changed
 * something. labels is updated in place. */
ms_status ms_segops_ref_propagate(const ms_seg_grid *g, const uint8_t *mask, uint8_t *labels,
				  uint32_t max_iter, uint32_t *iterations);
