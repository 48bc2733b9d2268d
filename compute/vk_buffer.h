/* Vulkan storage buffers: device-local (written and read through staging copies) or
 * host-visible and persistently mapped (for decoding straight into GPU-readable memory).
 *
 * Every buffer is usable as a storage buffer and as a transfer source/destination. The
 * allocation is rounded up to a multiple of 16 bytes (at least 16, so zero-size buffers
 * work) and bindings may cover that padding, so shaders can read vec4/uvec4 across the
 * tail of an array whose length is not a multiple of 4.
 *
 * Thread-safety: a buffer may be used by one thread at a time; different buffers of one
 * context may be used from different threads. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/vk_context.h"

typedef struct ms_vk_buffer ms_vk_buffer;

typedef enum {
	MS_MEM_DEVICE, /* device-local; write/read go through a temporary staging buffer */
	MS_MEM_HOST,   /* host-visible, coherent, mapped for its whole life */
} ms_mem;

/* Creates a buffer of n bytes (n may be 0) in memory of the given kind. The context is
 * borrowed and must outlive the buffer. Contents are undefined until written or filled.
 * Returns MS_OK, MS_ERR_ARG (bad kind), MS_ERR_NOMEM (host or device memory),
 * MS_ERR_VULKAN; *out is NULL on failure. */
ms_status ms_vk_buffer_create(ms_vk_context *c, size_t n, ms_mem kind, ms_vk_buffer **out);

/* Copies n bytes from src into the buffer at byte 'offset' (any alignment). For DEVICE
 * buffers this stages through host-visible memory in pieces of at most 16 MiB and waits for
 * each copy. MS_ERR_ARG if offset + n exceeds ms_vk_buffer_size. */
ms_status ms_vk_buffer_write(ms_vk_buffer *b, size_t offset, const void *src, size_t n);

/* Copies n bytes at byte 'offset' of the buffer into dst; waits for prior GPU work (all runs
 * are synchronous). MS_ERR_ARG if offset + n exceeds ms_vk_buffer_size. */
ms_status ms_vk_buffer_read(ms_vk_buffer *b, size_t offset, void *dst, size_t n);

/* Sets every 32-bit word of the whole allocation to value (vkCmdFillBuffer); waits. */
ms_status ms_vk_buffer_fill(ms_vk_buffer *b, uint32_t value);

/* The persistent mapping of a HOST buffer (valid until destroy; writes need no flush), or
 * NULL for DEVICE buffers. Do not touch it while a kernel using the buffer runs. */
void *ms_vk_buffer_map(ms_vk_buffer *b);

/* Size in bytes as requested at creation. */
size_t ms_vk_buffer_size(const ms_vk_buffer *b);

/* Frees the buffer; NULL is a no-op. The GPU must be done with it (runs are synchronous). */
void ms_vk_buffer_destroy(ms_vk_buffer *b);

/* Bytes of device memory held by all live buffers of the process (every context), for
 * monitoring. Thread-safe. */
uint64_t ms_vk_buffer_allocated_bytes(void);

/* ---- Internal to compute/vk_*.c. ---------------------------------------------------------- */
VkBuffer ms_vk_buffer_handle(const ms_vk_buffer *b);
size_t ms_vk_buffer_capacity(const ms_vk_buffer *b); /* allocated bytes (size rounded up) */
