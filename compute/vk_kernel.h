/* Compute kernels: one SPIR-V compute shader with storage-buffer bindings 0..n-1, a push
 * constant block and uint32 specialization constants, run synchronously.
 *
 * A kernel owns its shader module, descriptor set layout, pipeline layout, pipeline,
 * descriptor pool/set, command pool/buffer, fence and timestamp query pool; it borrows the
 * context. Thread-safety: one thread at a time per kernel; kernels of one context may run
 * from several threads (queue submission is serialised by the context). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/vk_buffer.h"
#include "compute/vk_context.h"

typedef struct ms_vk_kernel ms_vk_kernel;

typedef struct {
	const uint32_t *spirv; /* SPIR-V words (e.g. ms_spv_<name> from ms_shaders.h); borrowed */
	size_t spirv_size;     /* bytes */
	uint32_t n_bindings;   /* storage buffers at set 0, bindings 0..n_bindings-1 (max 16) */
	uint32_t push_size;    /* bytes of the push-constant block (0 = none; max 128) */
	const uint32_t *spec;  /* values of spec constants 0..n_spec-1; borrowed, copied at create */
	uint32_t n_spec;
} ms_kernel_desc;

/* A binding = a buffer + a byte range, so volumes larger than maxStorageBufferRange are
 * processed by binding successive ranges (chunking). offset must be a multiple of
 * minStorageBufferOffsetAlignment (256 always works); range 0 = from offset to the end of the
 * allocation; offset + range may reach into the buffer's 16-byte padding (vk_buffer.h). */
typedef struct {
	ms_vk_buffer *buf; /* borrowed */
	size_t offset, range;
} ms_vk_binding;

/* Builds the pipeline for d (entry point "main"). Returns MS_OK, MS_ERR_ARG (bad
 * descriptor), MS_ERR_NOMEM, MS_ERR_VULKAN; *out NULL on failure. The context must outlive
 * the kernel. */
ms_status ms_vk_kernel_create(ms_vk_context *c, const ms_kernel_desc *d, ms_vk_kernel **out);

/* Binds n == d->n_bindings buffers, pushes push_size bytes (<= d->push_size; NULL/0 when the
 * shader has none), dispatches groups[0] x groups[1] x groups[2] workgroups and waits.
 * If groups[0] exceeds maxComputeWorkGroupCount[0] while groups[1] == groups[2] == 1 the
 * dispatch becomes a 2-D grid gx x gy with gx * gy >= groups[0]: such shaders must use the
 * linear id gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x and return when it is
 * >= their group total (pass it in the push constants). A zero group count runs nothing.
 * *gpu_ms (NULL ok) receives the GPU time between timestamps around the dispatch, or 0 when
 * the queue has no timestamps. Writes are visible to mapped memory on return.
 * Returns MS_OK, MS_ERR_ARG (bindings/ranges/sizes/groups invalid), MS_ERR_VULKAN. */
ms_status ms_vk_kernel_run(ms_vk_kernel *k, const ms_vk_binding *b, uint32_t n, const void *push,
			   uint32_t push_size, const uint32_t groups[3], double *gpu_ms);

/* Frees everything the kernel owns; NULL is a no-op; works on a partially built kernel. */
void ms_vk_kernel_destroy(ms_vk_kernel *k);
