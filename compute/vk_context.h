/* Vulkan instance + device + compute queue: the one object every GPU module borrows.
 *
 * Thread-safety: after creation a context is read-only except for the queue, whose
 * vkQueueSubmit is guarded by a context-owned mutex, so several threads may share one
 * context (each with its own buffers and kernels). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <vulkan/vulkan.h>

#include "common/status.h"

typedef struct ms_vk_context ms_vk_context;

typedef struct {
	const char *device; /* "auto" (discrete > integrated > virtual > cpu), "gpu" (refuse CPU
	                       devices), "cpu" (CPU devices such as lavapipe only), or a
	                       case-insensitive substring of deviceName; NULL = "auto" */
	bool validation;    /* enable VK_LAYER_KHRONOS_validation if present (tests) */
} ms_vk_opts;

/* Creates the instance, picks a physical device per o->device (o may be NULL: "auto"),
 * creates a logical device with one compute queue and logs the choice (name, type, driver,
 * maxStorageBufferRange). Requires Vulkan 1.1.
 * Returns MS_OK; MS_ERR_NOTFOUND when no Vulkan driver or no matching device exists (tests
 * turn this into "skipped"); MS_ERR_VULKAN, MS_ERR_NOMEM otherwise. *out is NULL on failure;
 * the caller owns the context and destroys it after every buffer and kernel made from it. */
ms_status ms_vk_context_create(const ms_vk_opts *o, ms_vk_context **out);

/* Waits for the device to go idle and frees everything; NULL is a no-op. */
void ms_vk_context_destroy(ms_vk_context *c);

/* deviceName of the chosen device; owned by the context. */
const char *ms_vk_context_device_name(const ms_vk_context *c);

/* "discrete", "integrated", "virtual", "cpu" or "other"; a static string. */
const char *ms_vk_context_device_type(const ms_vk_context *c);

/* maxStorageBufferRange: the largest byte range one storage-buffer binding may cover. */
uint64_t ms_vk_context_max_buffer_range(const ms_vk_context *c);

/* Number of errors the validation layer has reported so far (0 without validation).
 * Thread-safe. */
uint32_t ms_vk_context_validation_errors(const ms_vk_context *c);

/* Maps a VkResult to ms_status and logs "<what> failed: <VkResult name>" unless it is
 * VK_SUCCESS (then MS_OK). VK_ERROR_OUT_OF_*_MEMORY map to MS_ERR_NOMEM, the rest to
 * MS_ERR_VULKAN. Thread-safe. */
ms_status ms_vk_status(VkResult r, const char *what);

/* ---- Internal to compute/vk_*.c (other modules use the API above). ---------------------- */

/* Borrowed handles and properties of the context. */
VkDevice ms_vk_context_device(const ms_vk_context *c);
const VkPhysicalDeviceProperties *ms_vk_context_properties(const ms_vk_context *c);
uint32_t ms_vk_context_queue_family(const ms_vk_context *c);
uint32_t ms_vk_context_timestamp_bits(const ms_vk_context *c); /* 0 = no timestamps */

/* Finds a memory type allowed by type_bits with all of 'required' flags, preferring one that
 * also has all of 'preferred'. Sets *index and *flags. MS_ERR_VULKAN if none exists. */
ms_status ms_vk_context_memory_type(const ms_vk_context *c, uint32_t type_bits,
				    VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred,
				    uint32_t *index, VkMemoryPropertyFlags *flags);

/* One-shot command buffer for transfers: _begin creates a transient pool, a primary command
 * buffer in the recording state (after ms_vk_context_barrier_in) and a fence, freeing what it
 * made on failure; _end records ms_vk_context_barrier_out, submits, waits and frees
 * everything, also on failure. Call _end exactly once after a successful _begin. */
typedef struct {
	VkCommandPool pool;
	VkCommandBuffer cb;
	VkFence fence;
} ms_vk_once;
ms_status ms_vk_context_once_begin(ms_vk_context *c, ms_vk_once *o);
ms_status ms_vk_context_once_end(ms_vk_context *c, ms_vk_once *o);

/* Records the barrier that orders the command buffer behind every earlier submission's
 * memory writes (at its start), or makes its own writes visible to the host (at its end). */
void ms_vk_context_barrier_in(VkCommandBuffer cb);
void ms_vk_context_barrier_out(VkCommandBuffer cb);

/* Submits one command buffer signalling 'fence' (under the context's queue mutex) and waits
 * for the fence without holding the mutex. */
ms_status ms_vk_context_submit_wait(ms_vk_context *c, VkCommandBuffer cb, VkFence fence);
