#include "compute/vk_context.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/log.h"

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

struct ms_vk_context {
	VkInstance instance;
	VkDebugUtilsMessengerEXT messenger;
	PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;
	VkPhysicalDevice phys;
	VkPhysicalDeviceProperties props;
	VkPhysicalDeviceMemoryProperties mem;
	uint32_t queue_family;
	uint32_t timestamp_bits;   /* timestampValidBits of the queue family; 0 = no timestamps */
	VkDevice device;
	VkQueue queue;
	pthread_mutex_t submit_lock;
	bool lock_ready;           /* submit_lock initialised (destroy of a partial context) */
	atomic_uint validation_errors;
	char driver[VK_MAX_DRIVER_NAME_SIZE + VK_MAX_DRIVER_INFO_SIZE + 2]; /* "name info" or version */
};

static const char *result_name(VkResult r)
{
	switch (r) {
	case VK_SUCCESS: return "VK_SUCCESS";
	case VK_NOT_READY: return "VK_NOT_READY";
	case VK_TIMEOUT: return "VK_TIMEOUT";
	case VK_INCOMPLETE: return "VK_INCOMPLETE";
	case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
	case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
	case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
	case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
	case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
	case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
	case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
	case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
	case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
	case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
	case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
	case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
	case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
	case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
	default: return "VkResult (unknown)";
	}
}

ms_status ms_vk_status(VkResult r, const char *what)
{
	if (r == VK_SUCCESS)
		return MS_OK;
	ms_log_error("%s failed: %s (%d)", what, result_name(r), (int)r);
	if (r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY)
		return MS_ERR_NOMEM;
	return MS_ERR_VULKAN;
}

static const char *type_name(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
	case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
	default: return "other";
	}
}

/* Higher is better for "auto". */
static int type_rank(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
	case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
	default: return 0;
	}
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
						    VkDebugUtilsMessageTypeFlagsEXT types,
						    const VkDebugUtilsMessengerCallbackDataEXT *data,
						    void *user)
{
	ms_vk_context *c = user;

	(void)types;
	if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
		atomic_fetch_add(&c->validation_errors, 1);
		ms_log_error("Vulkan validation: %s", data->pMessage);
	} else {
		ms_log_warning("Vulkan validation: %s", data->pMessage);
	}
	return VK_FALSE;
}

static bool has_layer(const char *name)
{
	uint32_t n = 0;
	bool found = false;

	if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
		return false;
	VkLayerProperties *layers = ms_calloc(n, sizeof(*layers));
	if (!layers)
		return false;
	if (vkEnumerateInstanceLayerProperties(&n, layers) == VK_SUCCESS) {
		for (uint32_t i = 0; i < n && !found; i++)
			found = strcmp(layers[i].layerName, name) == 0;
	}
	ms_free(layers);
	return found;
}

static ms_status create_instance(ms_vk_context *c, bool validation)
{
	uint32_t version = VK_API_VERSION_1_1;
	const char *layers[1] = { VALIDATION_LAYER };
	const char *exts[1] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };

	/* Ask for the loader's version (capped at 1.3) so 1.2 device queries are allowed. */
	if (vkEnumerateInstanceVersion(&version) != VK_SUCCESS || version < VK_API_VERSION_1_1) {
		ms_log_error("Vulkan loader older than 1.1");
		return MS_ERR_NOTFOUND;
	}
	if (version > VK_API_VERSION_1_3)
		version = VK_API_VERSION_1_3;
	if (validation && !has_layer(VALIDATION_LAYER)) {
		ms_log_info("%s not installed; running without validation", VALIDATION_LAYER);
		validation = false;
	}
	VkApplicationInfo app = {
		.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
		.pApplicationName = "MedSight",
		.apiVersion = version,
	};
	VkInstanceCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
		.pApplicationInfo = &app,
		.enabledLayerCount = validation ? 1 : 0,
		.ppEnabledLayerNames = layers,
		.enabledExtensionCount = validation ? 1 : 0,
		.ppEnabledExtensionNames = exts,
	};
	VkResult r = vkCreateInstance(&ci, NULL, &c->instance);
	if (r == VK_ERROR_INCOMPATIBLE_DRIVER) {
		ms_log_error("vkCreateInstance: no Vulkan driver (VK_ERROR_INCOMPATIBLE_DRIVER)");
		return MS_ERR_NOTFOUND;
	}
	if (r != VK_SUCCESS)
		return ms_vk_status(r, "vkCreateInstance");
	if (!validation)
		return MS_OK;

	PFN_vkCreateDebugUtilsMessengerEXT create_messenger = (PFN_vkCreateDebugUtilsMessengerEXT)
		vkGetInstanceProcAddr(c->instance, "vkCreateDebugUtilsMessengerEXT");
	c->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)
		vkGetInstanceProcAddr(c->instance, "vkDestroyDebugUtilsMessengerEXT");
	if (!create_messenger || !c->destroy_messenger)
		return MS_OK;
	VkDebugUtilsMessengerCreateInfoEXT mi = {
		.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
		.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
				   VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
		.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
			       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
			       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
		.pfnUserCallback = on_validation,
		.pUserData = c,
	};
	r = create_messenger(c->instance, &mi, NULL, &c->messenger);
	if (r != VK_SUCCESS)
		return ms_vk_status(r, "vkCreateDebugUtilsMessengerEXT");
	ms_log_info("Vulkan validation enabled");
	return MS_OK;
}

/* The compute queue family of d (preferring one with timestamps); false if it has none. */
static bool compute_family(VkPhysicalDevice d, uint32_t *family, uint32_t *ts_bits)
{
	uint32_t n = 0;
	bool found = false;

	vkGetPhysicalDeviceQueueFamilyProperties(d, &n, NULL);
	VkQueueFamilyProperties *f = ms_calloc(n, sizeof(*f));
	if (!f)
		return false;
	vkGetPhysicalDeviceQueueFamilyProperties(d, &n, f);
	for (uint32_t i = 0; i < n; i++) {
		if (!(f[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || f[i].queueCount == 0)
			continue;
		if (!found || (*ts_bits == 0 && f[i].timestampValidBits > 0)) {
			*family = i;
			*ts_bits = f[i].timestampValidBits;
			found = true;
		}
	}
	ms_free(f);
	return found;
}

static bool matches(const char *mode, const VkPhysicalDeviceProperties *p)
{
	if (strcasecmp(mode, "auto") == 0)
		return true;
	if (strcasecmp(mode, "gpu") == 0)
		return p->deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU;
	if (strcasecmp(mode, "cpu") == 0)
		return p->deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
	return strcasestr(p->deviceName, mode) != NULL;
}

static ms_status pick_device(ms_vk_context *c, const char *mode)
{
	uint32_t n = 0;
	int best = -1;
	ms_status rc;

	VkResult r = vkEnumeratePhysicalDevices(c->instance, &n, NULL);
	if (r != VK_SUCCESS)
		return ms_vk_status(r, "vkEnumeratePhysicalDevices");
	if (n == 0) {
		ms_log_error("no Vulkan physical device");
		return MS_ERR_NOTFOUND;
	}
	VkPhysicalDevice *devs = ms_calloc(n, sizeof(*devs));
	if (!devs)
		return MS_ERR_NOMEM;
	r = vkEnumeratePhysicalDevices(c->instance, &n, devs);
	if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
		rc = ms_vk_status(r, "vkEnumeratePhysicalDevices");
		goto out_free_devs;
	}
	for (uint32_t i = 0; i < n; i++) {
		VkPhysicalDeviceProperties p;
		uint32_t family = 0, ts_bits = 0;

		vkGetPhysicalDeviceProperties(devs[i], &p);
		bool usable = p.apiVersion >= VK_API_VERSION_1_1 &&
			      compute_family(devs[i], &family, &ts_bits);
		bool wanted = usable && matches(mode, &p);
		ms_log_info("Vulkan device %u: %s (%s, Vulkan %u.%u)%s", i, p.deviceName,
			    type_name(p.deviceType), VK_API_VERSION_MAJOR(p.apiVersion),
			    VK_API_VERSION_MINOR(p.apiVersion),
			    !usable ? " unusable" : wanted ? "" : " not selected by Device");
		if (wanted && type_rank(p.deviceType) > best) {
			best = type_rank(p.deviceType);
			c->phys = devs[i];
			c->props = p;
			c->queue_family = family;
			c->timestamp_bits = ts_bits;
		}
	}
	if (best < 0) {
		ms_log_error("no usable Vulkan device matches Device \"%s\"", mode);
		rc = MS_ERR_NOTFOUND;
		goto out_free_devs;
	}
	vkGetPhysicalDeviceMemoryProperties(c->phys, &c->mem);
	rc = MS_OK;
out_free_devs:
	ms_free(devs);
	return rc;
}

static void describe_driver(ms_vk_context *c)
{
	uint32_t v = c->props.driverVersion;

	snprintf(c->driver, sizeof(c->driver), "version 0x%08x", (unsigned)v);
	if (c->props.apiVersion < VK_API_VERSION_1_2)
		return;
	VkPhysicalDeviceDriverProperties drv = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
	};
	VkPhysicalDeviceProperties2 p2 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
		.pNext = &drv,
	};
	vkGetPhysicalDeviceProperties2(c->phys, &p2);
	snprintf(c->driver, sizeof(c->driver), "%s %s", drv.driverName, drv.driverInfo);
}

ms_status ms_vk_context_create(const ms_vk_opts *o, ms_vk_context **out)
{
	const char *mode = o && o->device && o->device[0] ? o->device : "auto";
	ms_status rc;

	*out = NULL;
	ms_vk_context *c = ms_calloc(1, sizeof(*c));
	if (!c)
		return MS_ERR_NOMEM;
	atomic_init(&c->validation_errors, 0);
	if (pthread_mutex_init(&c->submit_lock, NULL) != 0) {
		rc = MS_ERR_NOMEM;
		goto out_destroy;
	}
	c->lock_ready = true;
	rc = create_instance(c, o && o->validation);
	if (rc != MS_OK)
		goto out_destroy;
	rc = pick_device(c, mode);
	if (rc != MS_OK)
		goto out_destroy;

	float priority = 1.0f;
	VkDeviceQueueCreateInfo qi = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
		.queueFamilyIndex = c->queue_family,
		.queueCount = 1,
		.pQueuePriorities = &priority,
	};
	VkDeviceCreateInfo di = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
		.queueCreateInfoCount = 1,
		.pQueueCreateInfos = &qi,
	};
	rc = ms_vk_status(vkCreateDevice(c->phys, &di, NULL, &c->device), "vkCreateDevice");
	if (rc != MS_OK)
		goto out_destroy;
	vkGetDeviceQueue(c->device, c->queue_family, 0, &c->queue);

	describe_driver(c);
	uint32_t api = c->props.apiVersion;
	ms_log_info("Vulkan: using %s (%s), driver %s, Vulkan %u.%u.%u, maxStorageBufferRange %u MiB, "
		    "timestamps %s",
		    c->props.deviceName, type_name(c->props.deviceType), c->driver,
		    VK_API_VERSION_MAJOR(api), VK_API_VERSION_MINOR(api), VK_API_VERSION_PATCH(api),
		    (unsigned)(c->props.limits.maxStorageBufferRange >> 20),
		    c->timestamp_bits ? "yes" : "no");
	*out = c;
	return MS_OK;

out_destroy:
	ms_vk_context_destroy(c);
	return rc;
}

void ms_vk_context_destroy(ms_vk_context *c)
{
	if (!c)
		return;
	if (c->device) {
		vkDeviceWaitIdle(c->device);
		vkDestroyDevice(c->device, NULL);
	}
	if (c->messenger && c->destroy_messenger)
		c->destroy_messenger(c->instance, c->messenger, NULL);
	if (c->instance)
		vkDestroyInstance(c->instance, NULL);
	if (c->lock_ready)
		pthread_mutex_destroy(&c->submit_lock);
	ms_free(c);
}

const char *ms_vk_context_device_name(const ms_vk_context *c)
{
	return c->props.deviceName;
}

const char *ms_vk_context_device_type(const ms_vk_context *c)
{
	return type_name(c->props.deviceType);
}

uint64_t ms_vk_context_max_buffer_range(const ms_vk_context *c)
{
	return c->props.limits.maxStorageBufferRange;
}

uint32_t ms_vk_context_validation_errors(const ms_vk_context *c)
{
	return atomic_load(&((ms_vk_context *)c)->validation_errors);
}

VkDevice ms_vk_context_device(const ms_vk_context *c)
{
	return c->device;
}

const VkPhysicalDeviceProperties *ms_vk_context_properties(const ms_vk_context *c)
{
	return &c->props;
}

uint32_t ms_vk_context_queue_family(const ms_vk_context *c)
{
	return c->queue_family;
}

uint32_t ms_vk_context_timestamp_bits(const ms_vk_context *c)
{
	return c->props.limits.timestampPeriod > 0 ? c->timestamp_bits : 0;
}

ms_status ms_vk_context_memory_type(const ms_vk_context *c, uint32_t type_bits,
				    VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred,
				    uint32_t *index, VkMemoryPropertyFlags *flags)
{
	int fallback = -1;

	for (uint32_t i = 0; i < c->mem.memoryTypeCount; i++) {
		VkMemoryPropertyFlags f = c->mem.memoryTypes[i].propertyFlags;

		if (!(type_bits & (1u << i)) || (f & required) != required)
			continue;
		if ((f & preferred) == preferred) {
			*index = i;
			*flags = f;
			return MS_OK;
		}
		if (fallback < 0)
			fallback = (int)i;
	}
	if (fallback < 0) {
		ms_log_error("no Vulkan memory type with flags 0x%x (allowed types 0x%x)",
			     (unsigned)required, (unsigned)type_bits);
		return MS_ERR_VULKAN;
	}
	*index = (uint32_t)fallback;
	*flags = c->mem.memoryTypes[fallback].propertyFlags;
	return MS_OK;
}

void ms_vk_context_barrier_in(VkCommandBuffer cb)
{
	/* Separate submissions are not ordered for memory: make earlier device writes visible. */
	VkMemoryBarrier mb = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT,
	};
	vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
			     0, 1, &mb, 0, NULL, 0, NULL);
}

void ms_vk_context_barrier_out(VkCommandBuffer cb)
{
	/* A fence wait alone does not make device writes visible to mapped memory. */
	VkMemoryBarrier mb = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_HOST_READ_BIT,
	};
	vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
			     &mb, 0, NULL, 0, NULL);
}

ms_status ms_vk_context_submit_wait(ms_vk_context *c, VkCommandBuffer cb, VkFence fence)
{
	VkSubmitInfo si = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
		.commandBufferCount = 1,
		.pCommandBuffers = &cb,
	};
	pthread_mutex_lock(&c->submit_lock);
	VkResult r = vkQueueSubmit(c->queue, 1, &si, fence);
	pthread_mutex_unlock(&c->submit_lock);
	if (r != VK_SUCCESS)
		return ms_vk_status(r, "vkQueueSubmit");
	return ms_vk_status(vkWaitForFences(c->device, 1, &fence, VK_TRUE, UINT64_MAX),
			    "vkWaitForFences");
}

static void once_release(ms_vk_context *c, ms_vk_once *o)
{
	if (o->fence)
		vkDestroyFence(c->device, o->fence, NULL);
	/* Destroying the pool frees its command buffer. */
	if (o->pool)
		vkDestroyCommandPool(c->device, o->pool, NULL);
	memset(o, 0, sizeof(*o));
}

ms_status ms_vk_context_once_begin(ms_vk_context *c, ms_vk_once *o)
{
	ms_status rc;

	memset(o, 0, sizeof(*o));
	VkCommandPoolCreateInfo pi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
		.queueFamilyIndex = c->queue_family,
	};
	rc = ms_vk_status(vkCreateCommandPool(c->device, &pi, NULL, &o->pool), "vkCreateCommandPool");
	if (rc != MS_OK)
		goto out_release;
	VkCommandBufferAllocateInfo ai = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.commandPool = o->pool,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
		.commandBufferCount = 1,
	};
	rc = ms_vk_status(vkAllocateCommandBuffers(c->device, &ai, &o->cb), "vkAllocateCommandBuffers");
	if (rc != MS_OK)
		goto out_release;
	VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	rc = ms_vk_status(vkCreateFence(c->device, &fi, NULL, &o->fence), "vkCreateFence");
	if (rc != MS_OK)
		goto out_release;
	VkCommandBufferBeginInfo bi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
		.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
	};
	rc = ms_vk_status(vkBeginCommandBuffer(o->cb, &bi), "vkBeginCommandBuffer");
	if (rc != MS_OK)
		goto out_release;
	ms_vk_context_barrier_in(o->cb);
	return MS_OK;

out_release:
	once_release(c, o);
	return rc;
}

ms_status ms_vk_context_once_end(ms_vk_context *c, ms_vk_once *o)
{
	ms_status rc;

	ms_vk_context_barrier_out(o->cb);
	rc = ms_vk_status(vkEndCommandBuffer(o->cb), "vkEndCommandBuffer");
	if (rc == MS_OK)
		rc = ms_vk_context_submit_wait(c, o->cb, o->fence);
	once_release(c, o);
	return rc;
}
