#include "compute/vk_buffer.h"

#include <stdatomic.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

#define STAGING_PIECE ((size_t)16 << 20) /* bounds the temporary staging allocation */

struct ms_vk_buffer {
	ms_vk_context *ctx; /* borrowed */
	VkBuffer buf;
	VkDeviceMemory mem;
	size_t size;        /* as requested */
	size_t capacity;    /* size rounded up to 16 bytes, at least 16 */
	ms_mem kind;
	void *mapped;       /* HOST only */
	VkDeviceSize alloc_size; /* bytes of mem, counted in 'allocated' */
};

/* Bytes of every live buffer's memory, for the medsight_gpu_memory_bytes metric. */
static atomic_ullong allocated;

ms_status ms_vk_buffer_create(ms_vk_context *c, size_t n, ms_mem kind, ms_vk_buffer **out)
{
	VkDevice dev = ms_vk_context_device(c);
	ms_status rc;

	*out = NULL;
	if (kind != MS_MEM_DEVICE && kind != MS_MEM_HOST)
		return MS_ERR_ARG;
	if (n > SIZE_MAX - 16)
		return MS_ERR_NOMEM;
	ms_vk_buffer *b = ms_calloc(1, sizeof(*b));
	if (!b)
		return MS_ERR_NOMEM;
	b->ctx = c;
	b->size = n;
	b->capacity = n ? (n + 15) & ~(size_t)15 : 16;
	b->kind = kind;

	VkBufferCreateInfo bi = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = b->capacity,
		.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
			 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	rc = ms_vk_status(vkCreateBuffer(dev, &bi, NULL, &b->buf), "vkCreateBuffer");
	if (rc != MS_OK)
		goto out_destroy;

	VkMemoryRequirements req;
	vkGetBufferMemoryRequirements(dev, b->buf, &req);
	VkMemoryPropertyFlags required, preferred, flags;
	if (kind == MS_MEM_HOST) {
		required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
		/* Cached memory keeps host reads of results fast; writes are fine either way. */
		preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
	} else {
		required = 0;
		preferred = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
	}
	uint32_t type;
	rc = ms_vk_context_memory_type(c, req.memoryTypeBits, required, preferred, &type, &flags);
	if (rc != MS_OK)
		goto out_destroy;
	VkMemoryAllocateInfo ai = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
		.allocationSize = req.size,
		.memoryTypeIndex = type,
	};
	rc = ms_vk_status(vkAllocateMemory(dev, &ai, NULL, &b->mem), "vkAllocateMemory");
	if (rc != MS_OK)
		goto out_destroy;
	b->alloc_size = req.size;
	atomic_fetch_add(&allocated, (unsigned long long)req.size);
	rc = ms_vk_status(vkBindBufferMemory(dev, b->buf, b->mem, 0), "vkBindBufferMemory");
	if (rc != MS_OK)
		goto out_destroy;
	if (kind == MS_MEM_HOST) {
		rc = ms_vk_status(vkMapMemory(dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->mapped),
				  "vkMapMemory");
		if (rc != MS_OK)
			goto out_destroy;
	}
	*out = b;
	return MS_OK;

out_destroy:
	ms_vk_buffer_destroy(b);
	return rc;
}

void ms_vk_buffer_destroy(ms_vk_buffer *b)
{
	if (!b)
		return;
	VkDevice dev = ms_vk_context_device(b->ctx);
	if (b->mapped)
		vkUnmapMemory(dev, b->mem);
	if (b->buf)
		vkDestroyBuffer(dev, b->buf, NULL);
	if (b->mem) {
		vkFreeMemory(dev, b->mem, NULL);
		atomic_fetch_sub(&allocated, (unsigned long long)b->alloc_size);
	}
	ms_free(b);
}

static bool in_bounds(const ms_vk_buffer *b, size_t offset, size_t n)
{
	return offset <= b->size && n <= b->size - offset;
}

/* Copies 'n' bytes between two buffers on the GPU and waits. */
static ms_status copy(ms_vk_buffer *src, size_t src_off, ms_vk_buffer *dst, size_t dst_off,
		      size_t n)
{
	ms_vk_once once;
	ms_status rc = ms_vk_context_once_begin(src->ctx, &once);
	if (rc != MS_OK)
		return rc;
	VkBufferCopy region = { .srcOffset = src_off, .dstOffset = dst_off, .size = n };
	vkCmdCopyBuffer(once.cb, src->buf, dst->buf, 1, &region);
	return ms_vk_context_once_end(src->ctx, &once);
}

ms_status ms_vk_buffer_write(ms_vk_buffer *b, size_t offset, const void *src, size_t n)
{
	ms_vk_buffer *staging = NULL;
	ms_status rc;

	if (!in_bounds(b, offset, n) || (n && !src)) {
		ms_log_error("ms_vk_buffer_write: %zu bytes at %zu outside a %zu-byte buffer", n,
			     offset, b->size);
		return MS_ERR_ARG;
	}
	if (n == 0)
		return MS_OK;
	if (b->kind == MS_MEM_HOST) {
		memcpy((char *)b->mapped + offset, src, n);
		return MS_OK;
	}
	rc = ms_vk_buffer_create(b->ctx, n < STAGING_PIECE ? n : STAGING_PIECE, MS_MEM_HOST,
				 &staging);
	if (rc != MS_OK)
		return rc;
	for (size_t done = 0; done < n;) {
		size_t piece = n - done < staging->size ? n - done : staging->size;

		memcpy(staging->mapped, (const char *)src + done, piece);
		rc = copy(staging, 0, b, offset + done, piece);
		if (rc != MS_OK)
			goto out_destroy_staging;
		done += piece;
	}
out_destroy_staging:
	ms_vk_buffer_destroy(staging);
	return rc;
}

ms_status ms_vk_buffer_read(ms_vk_buffer *b, size_t offset, void *dst, size_t n)
{
	ms_vk_buffer *staging = NULL;
	ms_status rc;

	if (!in_bounds(b, offset, n) || (n && !dst)) {
		ms_log_error("ms_vk_buffer_read: %zu bytes at %zu outside a %zu-byte buffer", n,
			     offset, b->size);
		return MS_ERR_ARG;
	}
	if (n == 0)
		return MS_OK;
	if (b->kind == MS_MEM_HOST) {
		memcpy(dst, (const char *)b->mapped + offset, n);
		return MS_OK;
	}
	rc = ms_vk_buffer_create(b->ctx, n < STAGING_PIECE ? n : STAGING_PIECE, MS_MEM_HOST,
				 &staging);
	if (rc != MS_OK)
		return rc;
	for (size_t done = 0; done < n;) {
		size_t piece = n - done < staging->size ? n - done : staging->size;

		rc = copy(b, offset + done, staging, 0, piece);
		if (rc != MS_OK)
			goto out_destroy_staging;
		memcpy((char *)dst + done, staging->mapped, piece);
		done += piece;
	}
out_destroy_staging:
	ms_vk_buffer_destroy(staging);
	return rc;
}

ms_status ms_vk_buffer_fill(ms_vk_buffer *b, uint32_t value)
{
	ms_vk_once once;
	ms_status rc = ms_vk_context_once_begin(b->ctx, &once);
	if (rc != MS_OK)
		return rc;
	vkCmdFillBuffer(once.cb, b->buf, 0, VK_WHOLE_SIZE, value);
	return ms_vk_context_once_end(b->ctx, &once);
}

void *ms_vk_buffer_map(ms_vk_buffer *b)
{
	return b->kind == MS_MEM_HOST ? b->mapped : NULL;
}

size_t ms_vk_buffer_size(const ms_vk_buffer *b)
{
	return b->size;
}

VkBuffer ms_vk_buffer_handle(const ms_vk_buffer *b)
{
	return b->buf;
}

size_t ms_vk_buffer_capacity(const ms_vk_buffer *b)
{
	return b->capacity;
}

uint64_t ms_vk_buffer_allocated_bytes(void)
{
	return atomic_load(&allocated);
}
