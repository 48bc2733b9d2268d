/* Classical CT segmentation operations as Vulkan compute kernels (shaders/seg_*.comp).
 *
 * Every op works on GPU buffers that stay on the GPU between ops; the caller creates them
 * (ms_vk_buffer_create) with these sizes for a grid of n = nx*ny*nz voxels:
 *   mask   n bytes, uint8 (0 off, else on; outputs 0/1), x fastest
 *   real   n floats (HU, smoothed HU, distances)
 *   labels n uint32, sizes n uint32 (connected components)
 * Definitions (labels, sizes bits, structuring elements, borders, hole filling) are those
 * of compute/segops_ref.h, whose plain-C functions are the reference: binary and integer
 * outputs are identical, float outputs agree to float rounding (1e-5 relative).
 * A buffer larger than the device's maxStorageBufferRange cannot be bound: such ops fail
 * with MS_ERR_ARG (lavapipe: 128 MiB, so 33 M voxels for float/uint32 buffers).
 * Grids must satisfy ms_segops_ref_grid_ok (else MS_ERR_ARG).
 *
 * All ops run synchronously (each dispatch waits for its fence) and add their GPU time to
 * ms_segops_gpu_ms. Thread-safety: one thread at a time per ms_segops; several ms_segops
 * may share a context. Unless noted, input and output buffers must differ. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/segops_ref.h"
#include "compute/vk_buffer.h"
#include "compute/vk_context.h"

typedef struct ms_segops ms_segops;

/* Builds every seg_* pipeline. The context is borrowed and must outlive the object.
 * Returns MS_OK, MS_ERR_NOMEM, MS_ERR_VULKAN; *out is NULL on failure. */
ms_status ms_segops_create(ms_vk_context *c, ms_segops **out);

/* Frees the pipelines; NULL is a no-op. */
void ms_segops_destroy(ms_segops *s);

/* GPU milliseconds (timestamps) of every dispatch since creation or the last reset. */
double ms_segops_gpu_ms(const ms_segops *s);
void ms_segops_reset_gpu_ms(ms_segops *s);

/* out = (lo <= hu < hi) and (within == NULL or within on). */
ms_status ms_segops_threshold(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *hu, float lo,
			      float hi, ms_vk_buffer *within, ms_vk_buffer *out);

/* out = a op b. out may be a or b. */
ms_status ms_segops_logic(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *a, ms_vk_buffer *b,
			  ms_seg_logic op, ms_vk_buffer *out);

/* Erosion or dilation by e; tmp is a mask-sized scratch buffer; in, tmp, out distinct. */
ms_status ms_segops_morph(ms_segops *s, const ms_seg_grid *g, ms_seg_morph_op op,
			  const ms_seg_elem *e, ms_vk_buffer *in, ms_vk_buffer *out,
			  ms_vk_buffer *tmp);

/* Connected components of (mask on) != invert: labels and sizes (see segops_ref.h). */
ms_status ms_segops_label(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *mask, bool invert,
			  ms_seg_conn conn, ms_vk_buffer *labels, ms_vk_buffer *sizes);

/* Sets MS_SEG_SEEDED on the components holding seeds[] (n_seeds <= 65536). */
ms_status ms_segops_mark_seeds(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *labels,
			       ms_vk_buffer *sizes, const uint32_t *seeds, uint32_t n_seeds);

/* The k (<= MS_SEG_MAX_KEEP) largest components passing filter (NULL = all; n_keep ignored),
 * largest first, ties to the smaller label, read back to the host: labels_out[k],
 * sizes_out[k], *n_found. */
ms_status ms_segops_largest(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *labels,
			    ms_vk_buffer *sizes, const ms_seg_select *filter, uint32_t k,
			    uint32_t *labels_out, uint32_t *sizes_out, uint32_t *n_found);

/* out = voxels whose component passes sel (NULL = all labelled voxels). */
ms_status ms_segops_select(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *labels,
			   ms_vk_buffer *sizes, const ms_seg_select *sel, ms_vk_buffer *out);

/* Per-slice hole filling; labels/sizes are scratch. out may equal in. */
ms_status ms_segops_fill_holes(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *in,
			       ms_vk_buffer *out, ms_vk_buffer *labels, ms_vk_buffer *sizes);

/* Seeded region growing (connected threshold): out = voxels with lo <= hu < hi (inside
 * within, if given) conn-connected to one of seeds[]; labels/sizes are scratch. */
ms_status ms_segops_grow(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *hu, float lo,
			 float hi, ms_vk_buffer *within, ms_seg_conn conn, const uint32_t *seeds,
			 uint32_t n_seeds, ms_vk_buffer *out, ms_vk_buffer *labels,
			 ms_vk_buffer *sizes);

/* Separable Gaussian with sigma_mm per axis (0 = skip), as ms_segops_ref_gauss; tmp is a
 * real-sized scratch buffer. in, out, tmp distinct. */
ms_status ms_segops_gauss(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *in,
			  const double sigma_mm[3], ms_vk_buffer *out, ms_vk_buffer *tmp);

/* Euclidean distance transform in mm, as ms_segops_ref_edt (float, 1e-5 relative); out and
 * tmp are real-sized. Allocates a scratch buffer of about 8 n bytes, at most
 * maxStorageBufferRange (longer volumes are processed in batches of lines). */
ms_status ms_segops_edt(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *mask,
			ms_vk_buffer *out, ms_vk_buffer *tmp);

/* Marker propagation as ms_segops_ref_propagate; labels (uint8, mask-sized) is updated in
 * place, tmp is mask-sized scratch; *iterations as in the reference. */
ms_status ms_segops_propagate(ms_segops *s, const ms_seg_grid *g, ms_vk_buffer *mask,
			      ms_vk_buffer *labels, ms_vk_buffer *tmp, uint32_t max_iter,
			      uint32_t *iterations);
