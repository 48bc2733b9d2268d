/* Vulkan layer: context, buffers (round trips at odd sizes/offsets, fill), kernels (binding
 * ranges, push and spec constants, dispatches beyond maxComputeWorkGroupCount[0],
 * timestamps, argument checks, threads sharing a context, allocation failures).
 * Exits 77 without a Vulkan device. MS_VK_DEVICE picks the device (default "auto"). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "compute/vk_buffer.h"
#include "compute/vk_context.h"
#include "compute/vk_kernel.h"
#include "tests/testhelp.h"

#include "ms_shaders.h"

static uint8_t pattern(size_t i, unsigned seed)
{
	return (uint8_t)(i * 131u + seed * 7u + (i >> 8));
}

static void test_context(ms_vk_context *c)
{
	ms_vk_context *other = (ms_vk_context *)1;
	ms_vk_opts bad = { .device = "no-such-device-xyz", .validation = false };
	const char *type = ms_vk_context_device_type(c);

	CHECK(ms_vk_context_device_name(c)[0] != '\0');
	CHECK(strcmp(type, "discrete") == 0 || strcmp(type, "integrated") == 0 ||
	      strcmp(type, "virtual") == 0 || strcmp(type, "cpu") == 0 || strcmp(type, "other") == 0);
	CHECK(ms_vk_context_max_buffer_range(c) >= (1u << 20));
	CHECK_EQ_INT(ms_vk_context_create(&bad, &other), MS_ERR_NOTFOUND);
	CHECK(other == NULL);
	CHECK_EQ_INT(ms_vk_status(VK_SUCCESS, "nothing"), MS_OK);
	CHECK_EQ_INT(ms_vk_status(VK_ERROR_OUT_OF_DEVICE_MEMORY, "test (expected)"), MS_ERR_NOMEM);
	CHECK_EQ_INT(ms_vk_status(VK_ERROR_DEVICE_LOST, "test (expected)"), MS_ERR_VULKAN);
	ms_vk_context_destroy(NULL);
}

/* Writes pieces at odd offsets, reads them back, and checks the untouched bytes too. */
static void round_trip(ms_vk_context *c, ms_mem kind, size_t size)
{
	ms_vk_buffer *b = NULL;
	uint8_t *src = malloc(size + 1), *dst = malloc(size + 1);

	CHECK_EQ_INT(ms_vk_buffer_create(c, size, kind, &b), MS_OK);
	if (!b || !src || !dst)
		goto out;
	CHECK_EQ_INT(ms_vk_buffer_size(b), size);
	CHECK(kind == MS_MEM_HOST ? ms_vk_buffer_map(b) != NULL : ms_vk_buffer_map(b) == NULL);
	for (size_t i = 0; i < size; i++)
		src[i] = pattern(i, 1);
	CHECK_EQ_INT(ms_vk_buffer_write(b, 0, src, size), MS_OK);
	if (size >= 3) {
		/* Overwrite an odd middle range, then read odd ranges back. */
		size_t off = size / 3 | 1, len = size - off - 1;
		for (size_t i = 0; i < len; i++)
			src[off + i] = pattern(i, 2);
		CHECK_EQ_INT(ms_vk_buffer_write(b, off, src + off, len), MS_OK);
	}
	memset(dst, 0xAA, size + 1);
	CHECK_EQ_INT(ms_vk_buffer_read(b, 0, dst, size), MS_OK);
	CHECK(memcmp(src, dst, size) == 0);
	CHECK(dst[size] == 0xAA);
	if (size >= 8) {
		memset(dst, 0, size);
		CHECK_EQ_INT(ms_vk_buffer_read(b, 5, dst, size - 7), MS_OK);
		CHECK(memcmp(src + 5, dst, size - 7) == 0);
	}
	/* Bounds: one byte too many, offset past the end, and empty transfers. */
	CHECK_EQ_INT(ms_vk_buffer_write(b, 0, src, size + 1), MS_ERR_ARG);
	CHECK_EQ_INT(ms_vk_buffer_read(b, size + 1, dst, 0), MS_ERR_ARG);
	CHECK_EQ_INT(ms_vk_buffer_read(b, 1, dst, size), MS_ERR_ARG);
	CHECK_EQ_INT(ms_vk_buffer_write(b, size, src, 0), MS_OK);
	CHECK_EQ_INT(ms_vk_buffer_read(b, size, dst, 0), MS_OK);
out:
	ms_vk_buffer_destroy(b);
	free(src);
	free(dst);
}

static void test_buffers(ms_vk_context *c)
{
	static const size_t sizes[] = { 0, 1, 3, 17, 4099, ((size_t)16 << 20) + 37 };
	ms_vk_buffer *b = (ms_vk_buffer *)1;

	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			round_trip(c, k ? MS_MEM_HOST : MS_MEM_DEVICE, sizes[i]);
	}
	CHECK_EQ_INT(ms_vk_buffer_create(c, 16, (ms_mem)7, &b), MS_ERR_ARG);
	CHECK(b == NULL);
	ms_vk_buffer_destroy(NULL);

	/* Fill covers every word, on both kinds; an odd size reads back the pattern's bytes. */
	for (int k = 0; k < 2; k++) {
		uint32_t words[5];
		uint8_t bytes[10];
		CHECK_EQ_INT(ms_vk_buffer_create(c, sizeof(words), k ? MS_MEM_HOST : MS_MEM_DEVICE, &b),
			     MS_OK);
		CHECK_EQ_INT(ms_vk_buffer_fill(b, 0xDEADBEEFu), MS_OK);
		CHECK_EQ_INT(ms_vk_buffer_read(b, 0, words, sizeof(words)), MS_OK);
		for (int i = 0; i < 5; i++)
			CHECK(words[i] == 0xDEADBEEFu);
		ms_vk_buffer_destroy(b);
		CHECK_EQ_INT(ms_vk_buffer_create(c, sizeof(bytes), k ? MS_MEM_HOST : MS_MEM_DEVICE, &b),
			     MS_OK);
		CHECK_EQ_INT(ms_vk_buffer_fill(b, 0x04030201u), MS_OK);
		CHECK_EQ_INT(ms_vk_buffer_read(b, 0, bytes, sizeof(bytes)), MS_OK);
		for (int i = 0; i < 10; i++)
			CHECK_EQ_INT(bytes[i], i % 4 + 1);
		ms_vk_buffer_destroy(b);
	}
}

/* test_copy.comp: dst[i] = src[i] * MUL + add + OFFSET, dst[n] = src.length(). */
static void test_copy_kernel(ms_vk_context *c)
{
	const uint32_t n = 1000, words = 4096;
	const size_t src_off = 256, src_range = 1024 * sizeof(uint32_t);
	uint32_t spec[2] = { 3, 5 };
	uint32_t push[2] = { n, 7 };
	uint32_t groups[3] = { (n + 63) / 64, 1, 1 };
	ms_vk_kernel *k = NULL, *k_default = NULL, *bad = (ms_vk_kernel *)1;
	ms_vk_buffer *src = NULL, *dst = NULL;
	uint32_t *in = calloc(words, sizeof(uint32_t)), *out = calloc(n + 1, sizeof(uint32_t));
	double ms = -1;

	ms_kernel_desc d = {
		.spirv = ms_spv_test_copy, .spirv_size = ms_spv_test_copy_size,
		.n_bindings = 2, .push_size = sizeof(push), .spec = spec, .n_spec = 2,
	};
	CHECK_EQ_INT(ms_vk_kernel_create(c, &d, &k), MS_OK);
	d.n_spec = 0;
	d.spec = NULL;
	CHECK_EQ_INT(ms_vk_kernel_create(c, &d, &k_default), MS_OK);
	CHECK_EQ_INT(ms_vk_buffer_create(c, words * sizeof(uint32_t), MS_MEM_DEVICE, &src), MS_OK);
	CHECK_EQ_INT(ms_vk_buffer_create(c, (n + 1) * sizeof(uint32_t), MS_MEM_HOST, &dst), MS_OK);
	if (!k || !k_default || !src || !dst || !in || !out)
		goto out;
	for (uint32_t i = 0; i < words; i++)
		in[i] = i * 11u + 1u;
	CHECK_EQ_INT(ms_vk_buffer_write(src, 0, in, words * sizeof(uint32_t)), MS_OK);

	/* src bound at byte 256 for 1024 words: src[i] is word 64 + i. */
	ms_vk_binding b[2] = { { src, src_off, src_range }, { dst, 0, 0 } };
	CHECK_EQ_INT(ms_vk_kernel_run(k, b, 2, push, sizeof(push), groups, &ms), MS_OK);
	CHECK_EQ_INT(ms_vk_buffer_read(dst, 0, out, (n + 1) * sizeof(uint32_t)), MS_OK);
	int bad_words = 0;
	for (uint32_t i = 0; i < n; i++)
		bad_words += out[i] != in[64 + i] * 3u + 7u + 5u;
	CHECK_EQ_INT(bad_words, 0);
	CHECK_EQ_INT(out[n], 1024);
	if (ms_vk_context_timestamp_bits(c))
		CHECK(ms > 0);
	else
		CHECK(ms == 0);

	/* Default spec constants, whole-buffer binding, host pointer reads straight from map. */
	b[0] = (ms_vk_binding){ src, 0, 0 };
	push[1] = 0;
	CHECK_EQ_INT(ms_vk_kernel_run(k_default, b, 2, push, sizeof(push), groups, NULL), MS_OK);
	const uint32_t *mapped = ms_vk_buffer_map(dst);
	bad_words = 0;
	for (uint32_t i = 0; i < n; i++)
		bad_words += mapped[i] != in[i];
	CHECK_EQ_INT(bad_words, 0);
	CHECK_EQ_INT(mapped[n], words);

	/* Zero groups run nothing. */
	uint32_t none[3] = { 0, 1, 1 };
	memset(ms_vk_buffer_map(dst), 0, (n + 1) * sizeof(uint32_t));
	CHECK_EQ_INT(ms_vk_kernel_run(k, b, 2, push, sizeof(push), none, &ms), MS_OK);
	CHECK(ms == 0);
	CHECK_EQ_INT(mapped[0], 0);

	/* Argument checks. */
	CHECK_EQ_INT(ms_vk_kernel_run(k, b, 1, push, sizeof(push), groups, NULL), MS_ERR_ARG);
	CHECK_EQ_INT(ms_vk_kernel_run(k, b, 2, push, sizeof(push) + 4, groups, NULL), MS_ERR_ARG);
	b[0] = (ms_vk_binding){ src, 4, 0 }; /* misaligned offset */
	CHECK_EQ_INT(ms_vk_kernel_run(k, b, 2, push, sizeof(push), groups, NULL), MS_ERR_ARG);
	b[0] = (ms_vk_binding){ src, 256, words * sizeof(uint32_t) }; /* past the end */
	CHECK_EQ_INT(ms_vk_kernel_run(k, b, 2, push, sizeof(push), groups, NULL), MS_ERR_ARG);
	b[0] = (ms_vk_binding){ NULL, 0, 0 };
	CHECK_EQ_INT(ms_vk_kernel_run(k, b, 2, push, sizeof(push), groups, NULL), MS_ERR_ARG);
	uint32_t huge[3] = { 1, 0xFFFFFFFFu, 1 };
	b[0] = (ms_vk_binding){ src, 0, 0 };
	CHECK_EQ_INT(ms_vk_kernel_run(k, b, 2, push, sizeof(push), huge, NULL), MS_ERR_ARG);

	d.spirv_size = 3;
	CHECK_EQ_INT(ms_vk_kernel_create(c, &d, &bad), MS_ERR_ARG);
	CHECK(bad == NULL);
	d.spirv_size = ms_spv_test_copy_size;
	d.push_size = 4096;
	bad = (ms_vk_kernel *)1;
	CHECK_EQ_INT(ms_vk_kernel_create(c, &d, &bad), MS_ERR_ARG);
	CHECK(bad == NULL);
	ms_vk_kernel_destroy(NULL);
out:
	ms_vk_kernel_destroy(k);
	ms_vk_kernel_destroy(k_default);
	ms_vk_buffer_destroy(src);
	ms_vk_buffer_destroy(dst);
	free(in);
	free(out);
}

/* A binding larger than maxStorageBufferRange is refused (only where that is cheap). */
static void test_range_limit(ms_vk_context *c)
{
	uint64_t max = ms_vk_context_max_buffer_range(c);
	ms_vk_kernel *k = NULL;
	ms_vk_buffer *big = NULL, *dst = NULL;
	uint32_t push[2] = { 1, 0 }, groups[3] = { 1, 1, 1 };

	if (max > ((uint64_t)256 << 20)) {
		printf("maxStorageBufferRange %llu: range-limit check skipped\n", (unsigned long long)max);
		return;
	}
	ms_kernel_desc d = { .spirv = ms_spv_test_copy, .spirv_size = ms_spv_test_copy_size,
			     .n_bindings = 2, .push_size = sizeof(push) };
	CHECK_EQ_INT(ms_vk_kernel_create(c, &d, &k), MS_OK);
	CHECK_EQ_INT(ms_vk_buffer_create(c, (size_t)max + 4096, MS_MEM_HOST, &big), MS_OK);
	CHECK_EQ_INT(ms_vk_buffer_create(c, 64, MS_MEM_HOST, &dst), MS_OK);
	if (k && big && dst) {
		ms_vk_binding b[2] = { { big, 0, 0 }, { dst, 0, 0 } };
		CHECK_EQ_INT(ms_vk_kernel_run(k, b, 2, push, sizeof(push), groups, NULL), MS_ERR_ARG);
		b[0] = (ms_vk_binding){ big, 4096, 0 }; /* exactly max bytes */
		CHECK_EQ_INT(ms_vk_kernel_run(k, b, 2, push, sizeof(push), groups, NULL), MS_OK);
		CHECK_EQ_INT(((uint32_t *)ms_vk_buffer_map(dst))[1], max / 4);
	}
	ms_vk_kernel_destroy(k);
	ms_vk_buffer_destroy(big);
	ms_vk_buffer_destroy(dst);
}

/* More groups than maxComputeWorkGroupCount[0]: each linear id must run exactly once. */
static void test_large_dispatch(ms_vk_context *c)
{
	uint32_t max0 = ms_vk_context_properties(c)->limits.maxComputeWorkGroupCount[0];
	ms_vk_kernel *k = NULL;
	ms_vk_buffer *hits = NULL;

	if (max0 > (1u << 20)) {
		printf("maxComputeWorkGroupCount[0] = %u: large-dispatch check skipped\n", max0);
		return;
	}
	uint32_t total = max0 + 1001, extra = 4096;
	ms_kernel_desc d = { .spirv = ms_spv_test_groups, .spirv_size = ms_spv_test_groups_size,
			     .n_bindings = 1, .push_size = sizeof(uint32_t) };
	CHECK_EQ_INT(ms_vk_kernel_create(c, &d, &k), MS_OK);
	CHECK_EQ_INT(ms_vk_buffer_create(c, ((size_t)total + extra) * 4, MS_MEM_HOST, &hits), MS_OK);
	if (!k || !hits)
		goto out;
	CHECK_EQ_INT(ms_vk_buffer_fill(hits, 0), MS_OK);
	ms_vk_binding b = { hits, 0, 0 };
	uint32_t groups[3] = { total, 1, 1 };
	double ms = 0;
	CHECK_EQ_INT(ms_vk_kernel_run(k, &b, 1, &total, sizeof(total), groups, &ms), MS_OK);
	const uint32_t *h = ms_vk_buffer_map(hits);
	uint32_t wrong = 0;
	for (uint32_t i = 0; i < total + extra; i++)
		wrong += h[i] != (i < total ? 1u : 0u);
	CHECK_EQ_INT(wrong, 0);
	/* 2-D requests beyond the limit are refused rather than split. */
	uint32_t both[3] = { total, 2, 1 };
	CHECK_EQ_INT(ms_vk_kernel_run(k, &b, 1, &total, sizeof(total), both, NULL), MS_ERR_ARG);
out:
	ms_vk_kernel_destroy(k);
	ms_vk_buffer_destroy(hits);
}

/* Two threads with their own kernels and buffers share one context (queue mutex). */
typedef struct {
	ms_vk_context *c;
	uint32_t add;
	int errors;
} thread_arg;

static void *thread_main(void *p)
{
	thread_arg *a = p;
	const uint32_t n = 256;
	uint32_t push[2] = { n, a->add }, groups[3] = { n / 64, 1, 1 };
	ms_vk_kernel *k = NULL;
	ms_vk_buffer *src = NULL, *dst = NULL;
	ms_kernel_desc d = { .spirv = ms_spv_test_copy, .spirv_size = ms_spv_test_copy_size,
			     .n_bindings = 2, .push_size = sizeof(push) };

	if (ms_vk_kernel_create(a->c, &d, &k) != MS_OK ||
	    ms_vk_buffer_create(a->c, n * 4, MS_MEM_DEVICE, &src) != MS_OK ||
	    ms_vk_buffer_create(a->c, (n + 1) * 4, MS_MEM_HOST, &dst) != MS_OK) {
		a->errors++;
		goto out;
	}
	uint32_t in[256];
	for (uint32_t i = 0; i < n; i++)
		in[i] = i;
	if (ms_vk_buffer_write(src, 0, in, sizeof(in)) != MS_OK)
		a->errors++;
	ms_vk_binding b[2] = { { src, 0, 0 }, { dst, 0, 0 } };
	for (int r = 0; r < 25; r++) {
		push[1] = a->add + (uint32_t)r;
		if (ms_vk_kernel_run(k, b, 2, push, sizeof(push), groups, NULL) != MS_OK) {
			a->errors++;
			continue;
		}
		const uint32_t *o = ms_vk_buffer_map(dst);
		for (uint32_t i = 0; i < n; i++)
			a->errors += o[i] != i + push[1];
	}
out:
	ms_vk_kernel_destroy(k);
	ms_vk_buffer_destroy(src);
	ms_vk_buffer_destroy(dst);
	return NULL;
}

static void test_threads(ms_vk_context *c)
{
	pthread_t t[2];
	thread_arg a[2] = { { c, 1000, 0 }, { c, 2000, 0 } };

	for (int i = 0; i < 2; i++)
		CHECK_EQ_INT(pthread_create(&t[i], NULL, thread_main, &a[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(a[i].errors, 0);
	}
}

/* Every ms_malloc failure inside create gives MS_ERR_NOMEM, a NULL out and no leak/crash. */
static void test_alloc_failures(ms_vk_context *c)
{
	ms_kernel_desc d = { .spirv = ms_spv_test_copy, .spirv_size = ms_spv_test_copy_size,
			     .n_bindings = 2, .push_size = 8 };
	int failures = 0, ok = 0;

	for (long i = 1; i < 50 && !ok; i++) {
		ms_vk_kernel *k = (ms_vk_kernel *)1;
		ms_vk_buffer *b = (ms_vk_buffer *)1, *dev = (ms_vk_buffer *)1;
		uint32_t word = 42;

		ms_alloc_fail_at(i, 0);
		ms_status r1 = ms_vk_kernel_create(c, &d, &k);
		ms_status r2 = ms_vk_buffer_create(c, 64, MS_MEM_HOST, &b);
		ms_status r3 = ms_vk_buffer_create(c, 64, MS_MEM_DEVICE, &dev);
		ms_status r4 = dev && dev != (ms_vk_buffer *)1 ? ms_vk_buffer_write(dev, 0, &word, 4) : MS_OK;
		long injected = ms_alloc_fail_at(0, 0);
		failures += (r1 != MS_OK && (r1 != MS_ERR_NOMEM || k)) ||
			    (r2 != MS_OK && (r2 != MS_ERR_NOMEM || b)) ||
			    (r3 != MS_OK && (r3 != MS_ERR_NOMEM || dev)) ||
			    (r4 != MS_OK && r4 != MS_ERR_NOMEM);
		ok = injected == 0 && r1 == MS_OK && r2 == MS_OK && r3 == MS_OK && r4 == MS_OK;
		ms_vk_kernel_destroy(r1 == MS_OK ? k : NULL);
		ms_vk_buffer_destroy(r2 == MS_OK ? b : NULL);
		ms_vk_buffer_destroy(r3 == MS_OK ? dev : NULL);
	}
	CHECK_EQ_INT(failures, 0);
	CHECK(ok);
}

int main(void)
{
	const char *dev = getenv("MS_VK_DEVICE");
	ms_vk_opts o = { .device = dev ? dev : "auto", .validation = true };
	ms_vk_context *c = NULL;

	ms_status rc = ms_vk_context_create(&o, &c);
	if (rc == MS_ERR_NOTFOUND) {
		printf("no Vulkan device: skipped\n");
		return 77;
	}
	CHECK_EQ_INT(rc, MS_OK);
	if (!c)
		return TEST_REPORT();
	test_context(c);
	test_buffers(c);
	test_copy_kernel(c);
	test_range_limit(c);
	test_large_dispatch(c);
	test_threads(c);
	test_alloc_failures(c);
	CHECK_EQ_INT(ms_vk_context_validation_errors(c), 0);
	ms_vk_context_destroy(c);
	return TEST_REPORT();
}
