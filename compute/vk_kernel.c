#include "compute/vk_kernel.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

#define MAX_BINDINGS 16
#define MAX_SPEC 32

struct ms_vk_kernel {
	ms_vk_context *ctx; /* borrowed */
	uint32_t n_bindings;
	uint32_t push_size;
	VkShaderModule module;
	VkDescriptorSetLayout set_layout;
	VkPipelineLayout layout;
	VkPipeline pipeline;
	VkDescriptorPool desc_pool;
	VkDescriptorSet set;      /* freed with desc_pool */
	VkCommandPool cmd_pool;
	VkCommandBuffer cb;       /* freed with cmd_pool */
	VkFence fence;
	VkQueryPool queries;      /* two timestamps; VK_NULL_HANDLE without timestamp support */
};

static ms_status check_desc(const ms_vk_context *c, const ms_kernel_desc *d)
{
	const VkPhysicalDeviceLimits *lim = &ms_vk_context_properties(c)->limits;

	if (!d || !d->spirv || d->spirv_size < 20 || d->spirv_size % 4 != 0) {
		ms_log_error("kernel: missing or malformed SPIR-V");
		return MS_ERR_ARG;
	}
	if (d->n_bindings > MAX_BINDINGS || d->n_spec > MAX_SPEC || (d->n_spec && !d->spec)) {
		ms_log_error("kernel: %u bindings / %u spec constants exceed the limits",
			     d->n_bindings, d->n_spec);
		return MS_ERR_ARG;
	}
	if (d->push_size % 4 != 0 || d->push_size > lim->maxPushConstantsSize) {
		ms_log_error("kernel: push constant size %u invalid (max %u)", d->push_size,
			     lim->maxPushConstantsSize);
		return MS_ERR_ARG;
	}
	return MS_OK;
}

static ms_status create_pipeline(ms_vk_kernel *k, const ms_kernel_desc *d)
{
	VkDevice dev = ms_vk_context_device(k->ctx);
	VkDescriptorSetLayoutBinding binds[MAX_BINDINGS];
	VkSpecializationMapEntry entries[MAX_SPEC];
	ms_status rc;

	VkShaderModuleCreateInfo mi = {
		.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
		.codeSize = d->spirv_size,
		.pCode = d->spirv,
	};
	rc = ms_vk_status(vkCreateShaderModule(dev, &mi, NULL, &k->module), "vkCreateShaderModule");
	if (rc != MS_OK)
		return rc;

	for (uint32_t i = 0; i < d->n_bindings; i++) {
		binds[i] = (VkDescriptorSetLayoutBinding){
			.binding = i,
			.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
			.descriptorCount = 1,
			.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
		};
	}
	VkDescriptorSetLayoutCreateInfo si = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.bindingCount = d->n_bindings,
		.pBindings = binds,
	};
	rc = ms_vk_status(vkCreateDescriptorSetLayout(dev, &si, NULL, &k->set_layout),
			  "vkCreateDescriptorSetLayout");
	if (rc != MS_OK)
		return rc;

	VkPushConstantRange pr = {
		.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
		.offset = 0,
		.size = d->push_size,
	};
	VkPipelineLayoutCreateInfo li = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
		.setLayoutCount = 1,
		.pSetLayouts = &k->set_layout,
		.pushConstantRangeCount = d->push_size ? 1 : 0,
		.pPushConstantRanges = &pr,
	};
	rc = ms_vk_status(vkCreatePipelineLayout(dev, &li, NULL, &k->layout), "vkCreatePipelineLayout");
	if (rc != MS_OK)
		return rc;

	for (uint32_t i = 0; i < d->n_spec; i++) {
		entries[i] = (VkSpecializationMapEntry){
			.constantID = i,
			.offset = i * (uint32_t)sizeof(uint32_t),
			.size = sizeof(uint32_t),
		};
	}
	VkSpecializationInfo spec = {
		.mapEntryCount = d->n_spec,
		.pMapEntries = entries,
		.dataSize = d->n_spec * sizeof(uint32_t),
		.pData = d->spec,
	};
	VkComputePipelineCreateInfo pi = {
		.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
		.stage = {
			.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
			.stage = VK_SHADER_STAGE_COMPUTE_BIT,
			.module = k->module,
			.pName = "main",
			.pSpecializationInfo = d->n_spec ? &spec : NULL,
		},
		.layout = k->layout,
	};
	return ms_vk_status(vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &pi, NULL, &k->pipeline),
			    "vkCreateComputePipelines");
}

static ms_status create_descriptors(ms_vk_kernel *k)
{
	VkDevice dev = ms_vk_context_device(k->ctx);
	ms_status rc;

	/* A pool must not be empty; a kernel without bindings still gets its (empty) set. */
	VkDescriptorPoolSize size = {
		.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
		.descriptorCount = k->n_bindings ? k->n_bindings : 1,
	};
	VkDescriptorPoolCreateInfo pi = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
		.maxSets = 1,
		.poolSizeCount = 1,
		.pPoolSizes = &size,
	};
	rc = ms_vk_status(vkCreateDescriptorPool(dev, &pi, NULL, &k->desc_pool),
			  "vkCreateDescriptorPool");
	if (rc != MS_OK)
		return rc;
	VkDescriptorSetAllocateInfo ai = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
		.descriptorPool = k->desc_pool,
		.descriptorSetCount = 1,
		.pSetLayouts = &k->set_layout,
	};
	return ms_vk_status(vkAllocateDescriptorSets(dev, &ai, &k->set), "vkAllocateDescriptorSets");
}

static ms_status create_commands(ms_vk_kernel *k)
{
	VkDevice dev = ms_vk_context_device(k->ctx);
	ms_status rc;

	VkCommandPoolCreateInfo pi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
		.queueFamilyIndex = ms_vk_context_queue_family(k->ctx),
	};
	rc = ms_vk_status(vkCreateCommandPool(dev, &pi, NULL, &k->cmd_pool), "vkCreateCommandPool");
	if (rc != MS_OK)
		return rc;
	VkCommandBufferAllocateInfo ai = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.commandPool = k->cmd_pool,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
		.commandBufferCount = 1,
	};
	rc = ms_vk_status(vkAllocateCommandBuffers(dev, &ai, &k->cb), "vkAllocateCommandBuffers");
	if (rc != MS_OK)
		return rc;
	VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	rc = ms_vk_status(vkCreateFence(dev, &fi, NULL, &k->fence), "vkCreateFence");
	if (rc != MS_OK || ms_vk_context_timestamp_bits(k->ctx) == 0)
		return rc;
	VkQueryPoolCreateInfo qi = {
		.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
		.queryType = VK_QUERY_TYPE_TIMESTAMP,
		.queryCount = 2,
	};
	return ms_vk_status(vkCreateQueryPool(dev, &qi, NULL, &k->queries), "vkCreateQueryPool");
}

ms_status ms_vk_kernel_create(ms_vk_context *c, const ms_kernel_desc *d, ms_vk_kernel **out)
{
	ms_status rc;

	*out = NULL;
	rc = check_desc(c, d);
	if (rc != MS_OK)
		return rc;
	ms_vk_kernel *k = ms_calloc(1, sizeof(*k));
	if (!k)
		return MS_ERR_NOMEM;
	k->ctx = c;
	k->n_bindings = d->n_bindings;
	k->push_size = d->push_size;
	rc = create_pipeline(k, d);
	if (rc != MS_OK)
		goto out_destroy;
	rc = create_descriptors(k);
	if (rc != MS_OK)
		goto out_destroy;
	rc = create_commands(k);
	if (rc != MS_OK)
		goto out_destroy;
	*out = k;
	return MS_OK;

out_destroy:
	ms_vk_kernel_destroy(k);
	return rc;
}

void ms_vk_kernel_destroy(ms_vk_kernel *k)
{
	if (!k)
		return;
	VkDevice dev = ms_vk_context_device(k->ctx);
	if (k->queries)
		vkDestroyQueryPool(dev, k->queries, NULL);
	if (k->fence)
		vkDestroyFence(dev, k->fence, NULL);
	if (k->cmd_pool)
		vkDestroyCommandPool(dev, k->cmd_pool, NULL);
	if (k->desc_pool)
		vkDestroyDescriptorPool(dev, k->desc_pool, NULL);
	if (k->pipeline)
		vkDestroyPipeline(dev, k->pipeline, NULL);
	if (k->layout)
		vkDestroyPipelineLayout(dev, k->layout, NULL);
	if (k->set_layout)
		vkDestroyDescriptorSetLayout(dev, k->set_layout, NULL);
	if (k->module)
		vkDestroyShaderModule(dev, k->module, NULL);
	ms_free(k);
}

/* Validates the bindings and writes them into the kernel's descriptor set. */
static ms_status bind(ms_vk_kernel *k, const ms_vk_binding *b, uint32_t n)
{
	const VkPhysicalDeviceLimits *lim = &ms_vk_context_properties(k->ctx)->limits;
	VkDescriptorBufferInfo infos[MAX_BINDINGS];
	VkWriteDescriptorSet writes[MAX_BINDINGS];

	if (n != k->n_bindings || (n && !b)) {
		ms_log_error("kernel run: %u bindings given, %u expected", n, k->n_bindings);
		return MS_ERR_ARG;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!b[i].buf) {
			ms_log_error("kernel run: binding %u has no buffer", i);
			return MS_ERR_ARG;
		}
		size_t cap = ms_vk_buffer_capacity(b[i].buf);
		size_t off = b[i].offset;
		size_t range = b[i].range ? b[i].range : (off < cap ? cap - off : 0);
		if (off % lim->minStorageBufferOffsetAlignment != 0 || off >= cap ||
		    range > cap - off || range == 0 || range > lim->maxStorageBufferRange) {
			ms_log_error("kernel run: binding %u range [%zu, +%zu) invalid (buffer %zu bytes, "
				     "alignment %llu, maxStorageBufferRange %u)",
				     i, off, range, cap,
				     (unsigned long long)lim->minStorageBufferOffsetAlignment,
				     lim->maxStorageBufferRange);
			return MS_ERR_ARG;
		}
		infos[i] = (VkDescriptorBufferInfo){
			.buffer = ms_vk_buffer_handle(b[i].buf),
			.offset = off,
			.range = range,
		};
		writes[i] = (VkWriteDescriptorSet){
			.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
			.dstSet = k->set,
			.dstBinding = i,
			.descriptorCount = 1,
			.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
			.pBufferInfo = &infos[i],
		};
	}
	/* Safe: the previous run has finished (fence wait), so the set is not in use. */
	if (n)
		vkUpdateDescriptorSets(ms_vk_context_device(k->ctx), n, writes, 0, NULL);
	return MS_OK;
}

/* Turns the requested group counts into a legal dispatch (see the header). */
static ms_status grid(const ms_vk_kernel *k, const uint32_t groups[3], uint32_t out[3])
{
	const uint32_t *max = ms_vk_context_properties(k->ctx)->limits.maxComputeWorkGroupCount;

	memcpy(out, groups, 3 * sizeof(uint32_t));
	if (groups[0] > max[0] && groups[1] == 1 && groups[2] == 1) {
		out[1] = (uint32_t)(((uint64_t)groups[0] + max[0] - 1) / max[0]);
		out[0] = (uint32_t)(((uint64_t)groups[0] + out[1] - 1) / out[1]);
	}
	if (out[0] > max[0] || out[1] > max[1] || out[2] > max[2]) {
		ms_log_error("kernel run: %u x %u x %u workgroups exceed the device limits %u x %u x %u",
			     groups[0], groups[1], groups[2], max[0], max[1], max[2]);
		return MS_ERR_ARG;
	}
	return MS_OK;
}

/* Fault injection for tests: MS_VK_INJECT_DEVICE_LOST=N makes the N-th kernel run of the
 * process, and every later run on that same context, fail as VK_ERROR_DEVICE_LOST (a lost
 * device stays lost), so the recovery path (retry on a fresh CPU context) can be tested
 * without a faulty GPU. Other contexts are not affected. */
static atomic_long runs_until_fault = -1;        /* -1: not read yet; 0: off */
static _Atomic(const ms_vk_context *) lost_context;

static bool inject_device_lost(const ms_vk_kernel *k)
{
	long n = atomic_load(&runs_until_fault);
	if (n < 0) {
		const char *env = getenv("MS_VK_INJECT_DEVICE_LOST");
		n = env ? atol(env) : 0;
		atomic_store(&runs_until_fault, n > 0 ? n : 0);
	}
	const ms_vk_context *lost = atomic_load(&lost_context);
	if (lost)
		return lost == k->ctx;
	if (n == 0)
		return false;
	if (atomic_fetch_sub(&runs_until_fault, 1) > 1)
		return false;
	atomic_store(&lost_context, k->ctx);
	return true;
}

ms_status ms_vk_kernel_run(ms_vk_kernel *k, const ms_vk_binding *b, uint32_t n, const void *push,
			   uint32_t push_size, const uint32_t groups[3], double *gpu_ms)
{
	VkDevice dev = ms_vk_context_device(k->ctx);
	uint32_t g[3];
	ms_status rc;

	if (gpu_ms)
		*gpu_ms = 0;
	if (inject_device_lost(k))
		return ms_vk_status(VK_ERROR_DEVICE_LOST, "vkQueueSubmit (injected by MS_VK_INJECT_DEVICE_LOST)");
	if (!groups || push_size > k->push_size || push_size % 4 != 0 || (push_size && !push)) {
		ms_log_error("kernel run: push constants of %u bytes invalid (kernel takes %u)",
			     push_size, k->push_size);
		return MS_ERR_ARG;
	}
	rc = bind(k, b, n);
	if (rc != MS_OK)
		return rc;
	rc = grid(k, groups, g);
	if (rc != MS_OK)
		return rc;
	if (g[0] == 0 || g[1] == 0 || g[2] == 0)
		return MS_OK;

	rc = ms_vk_status(vkResetFences(dev, 1, &k->fence), "vkResetFences");
	if (rc != MS_OK)
		return rc;
	rc = ms_vk_status(vkResetCommandBuffer(k->cb, 0), "vkResetCommandBuffer");
	if (rc != MS_OK)
		return rc;
	VkCommandBufferBeginInfo bi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
		.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
	};
	rc = ms_vk_status(vkBeginCommandBuffer(k->cb, &bi), "vkBeginCommandBuffer");
	if (rc != MS_OK)
		return rc;
	ms_vk_context_barrier_in(k->cb);
	if (k->queries) {
		vkCmdResetQueryPool(k->cb, k->queries, 0, 2);
		vkCmdWriteTimestamp(k->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, k->queries, 0);
	}
	vkCmdBindPipeline(k->cb, VK_PIPELINE_BIND_POINT_COMPUTE, k->pipeline);
	vkCmdBindDescriptorSets(k->cb, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, 1, &k->set, 0,
				NULL);
	if (push_size)
		vkCmdPushConstants(k->cb, k->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
	vkCmdDispatch(k->cb, g[0], g[1], g[2]);
	if (k->queries)
		vkCmdWriteTimestamp(k->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, k->queries, 1);
	ms_vk_context_barrier_out(k->cb);
	rc = ms_vk_status(vkEndCommandBuffer(k->cb), "vkEndCommandBuffer");
	if (rc != MS_OK)
		return rc;
	rc = ms_vk_context_submit_wait(k->ctx, k->cb, k->fence);
	if (rc != MS_OK || !k->queries || !gpu_ms)
		return rc;

	uint64_t ts[2];
	rc = ms_vk_status(vkGetQueryPoolResults(dev, k->queries, 0, 2, sizeof(ts), ts, sizeof(ts[0]),
						VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
			  "vkGetQueryPoolResults");
	if (rc != MS_OK)
		return rc;
	uint32_t bits = ms_vk_context_timestamp_bits(k->ctx);
	uint64_t mask = bits >= 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
	uint64_t ticks = (ts[1] - ts[0]) & mask; /* modular: survives one wrap of the counter */
	*gpu_ms = (double)ticks * ms_vk_context_properties(k->ctx)->limits.timestampPeriod / 1e6;
	return MS_OK;
}
