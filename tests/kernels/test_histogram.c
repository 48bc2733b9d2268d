/* Histogram kernel (shaders/histogram.comp via ms_histogram_gpu and ms_histogram_gpu_buffer)
 * against the C reference ms_histogram_ref: bins, count, n_invalid, min and max must be equal;
 * mean and stddev within 1e-5 relative (absolute below 1e-3 HU, where relative error of a
 * value near 0 means nothing). Sizes 0, 1, workgroup size +-1 (256 threads) and tile size +-1
 * for every tile the kernel can use (4 * 256 * {1, 16, 64} voxels, forced through
 * MS_HISTOGRAM_VEC_PER_THREAD), random, bin edges, out-of-range and non-finite values,
 * all-equal, global-memory bins, and a large volume that takes both chunked paths
 * (MS_HIST_LARGE_N voxels, default 70 M = 267 MiB > lavapipe's 128 MiB binding limit).
 * Exits 77 without a Vulkan device. MS_VK_DEVICE picks the device (default "auto"). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "compute/histogram.h"
#include "tests/testhelp.h"

static ms_vk_context *ctx;

static uint32_t rng_state = 12345u;

static uint32_t rnd(void)
{
	/* xorshift32: fast and reproducible */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* CT-like HU: air, fat, soft tissue, bone; integral like decoded CT, or with fractions. */
static float ct_value(bool fractional)
{
	uint32_t r = rnd(), kind = r % 100;
	float x;

	if (kind < 30)
		x = -1000.0f + (float)(rnd() % 41) - 20.0f;
	else if (kind < 45)
		x = -120.0f + (float)(rnd() % 60);
	else if (kind < 93)
		x = -20.0f + (float)(rnd() % 120);
	else
		x = 150.0f + (float)(rnd() % 2900);
	if (fractional)
		x += (float)(rnd() % 1000) / 1000.0f;
	return x;
}

static bool close_enough(double got, double want)
{
	double scale = fabs(want) > 1e-3 ? fabs(want) : 1e-3;
	return fabs(got - want) <= 1e-5 * scale;
}

/* Compares a GPU result with the reference; prints the first differences. */
static void compare(const char *label, const ms_histogram_result *g, const ms_histogram_result *r,
		    bool stats)
{
	int bad_bins = 0;

	CHECK_EQ_INT(g->n_bins, r->n_bins);
	for (uint32_t i = 0; i < r->n_bins && g->n_bins == r->n_bins; i++) {
		if (g->bins[i] != r->bins[i] && bad_bins++ < 5)
			fprintf(stderr, "%s: bin %u: gpu %llu ref %llu\n", label, i,
				(unsigned long long)g->bins[i], (unsigned long long)r->bins[i]);
	}
	CHECK_EQ_INT(bad_bins, 0);
	CHECK_EQ_INT(g->count, r->count);
	CHECK_EQ_INT(g->n_invalid, r->n_invalid);
	CHECK(g->min == r->min);
	CHECK(g->max == r->max);
	if (stats) {
		CHECK(close_enough(g->mean, r->mean));
		CHECK(close_enough(g->stddev, r->stddev));
	}
	if (g->min != r->min || g->max != r->max || !close_enough(g->mean, r->mean) ||
	    !close_enough(g->stddev, r->stddev))
		fprintf(stderr, "%s: gpu min %.9g max %.9g mean %.12g sd %.12g; ref %.9g %.9g %.12g %.12g\n",
			label, g->min, g->max, g->mean, g->stddev, r->min, r->max, r->mean, r->stddev);
}

/* Runs the reference, ms_histogram_gpu and ms_histogram_gpu_buffer (from a mapped host
 * buffer) on v and compares (mean/stddev only if 'stats'); returns the reference in *ref_out
 * if non-NULL. */
static void run_case_stats(const char *label, const float *v, size_t n,
			   const ms_histogram_params *p, ms_histogram_result *ref_out, bool stats)
{
	ms_histogram_result ref = { 0 }, gpu = { 0 }, buf = { 0 };
	ms_vk_buffer *b = NULL;

	CHECK_EQ_INT(ms_histogram_ref(v, n, p, &ref), MS_OK);
	CHECK_EQ_INT(ms_histogram_gpu(ctx, v, n, p, &gpu), MS_OK);
	compare(label, &gpu, &ref, stats);
	if (n && ms_vk_context_timestamp_bits(ctx))
		CHECK(gpu.gpu_ms > 0);
	CHECK(gpu.upload_ms >= 0);

	CHECK_EQ_INT(ms_vk_buffer_create(ctx, n * sizeof(float), MS_MEM_HOST, &b), MS_OK);
	if (b) {
		if (n)
			memcpy(ms_vk_buffer_map(b), v, n * sizeof(float));
		CHECK_EQ_INT(ms_histogram_gpu_buffer(ctx, b, n, p, &buf), MS_OK);
		compare(label, &buf, &ref, stats);
		ms_vk_buffer_destroy(b);
	}
	printf("%-28s n=%-9zu bins=%-6u count=%llu gpu %.2f ms, upload %.2f ms\n", label, n,
	       ref.n_bins, (unsigned long long)ref.count, gpu.gpu_ms, gpu.upload_ms);
	if (ref_out)
		*ref_out = ref;
	else
		ms_histogram_result_clear(&ref);
	ms_histogram_result_clear(&gpu);
	ms_histogram_result_clear(&buf);
}

static void run_case(const char *label, const float *v, size_t n, const ms_histogram_params *p,
		     ms_histogram_result *ref_out)
{
	run_case_stats(label, v, n, p, ref_out, true);
}

static float *random_volume(size_t n, bool fractional)
{
	float *v = malloc(n ? n * sizeof(float) : 1);
	for (size_t i = 0; v && i < n; i++)
		v[i] = ct_value(fractional);
	return v;
}

static void test_sizes(void)
{
	static const size_t sizes[] = { 2, 3, 4, 5, 255, 256, 257, 1023, 1024, 1025, 16383,
					16384, 16385, 32769, 65535, 65536, 65537, 131073, 1000003 };
	static const char *const vec_per_thread[] = { "1", "16", "64" };
	ms_histogram_params p = { 1.0, -1024.0, 3072.0 };
	ms_histogram_result r = { 0 };
	char label[64];

	run_case("empty", NULL, 0, &p, &r);
	CHECK_EQ_INT(r.n_bins, 4096);
	CHECK_EQ_INT(r.count, 0);
	CHECK(r.min == 0 && r.max == 0 && r.mean == 0 && r.stddev == 0);
	for (uint32_t i = 0; i < r.n_bins; i++)
		CHECK_EQ_INT(r.bins[i], 0);
	ms_histogram_result_clear(&r);

	float one = 12.5f;
	run_case("one voxel", &one, 1, &p, &r);
	CHECK_EQ_INT(r.count, 1);
	CHECK_EQ_INT(r.bins[1024 + 12], 1);
	CHECK(r.min == 12.5 && r.max == 12.5 && r.mean == 12.5 && r.stddev == 0);
	ms_histogram_result_clear(&r);

	for (size_t t = 0; t < 3; t++) {
		setenv("MS_HISTOGRAM_VEC_PER_THREAD", vec_per_thread[t], 1);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			int frac = (int)(i & 1);
			float *v = random_volume(sizes[i], frac);
			CHECK(v != NULL);
			if (!v)
				continue;
			snprintf(label, sizeof(label), "random%s %zu (tile %s)", frac ? " fract." : "",
				 sizes[i], vec_per_thread[t]);
			run_case(label, v, sizes[i], &p, NULL);
			free(v);
		}
	}
	unsetenv("MS_HISTOGRAM_VEC_PER_THREAD");
}

/* Values on, just below and just above bin edges, below min, at and above max, non-finite;
 * checked against hand-computed bins, not only the reference. */
static void test_edges(void)
{
	ms_histogram_params p = { 10.0, -1000.0, 1000.0 }; /* 200 bins */
	float v[] = {
		-1000.0f, -990.0f, nextafterf(-990.0f, -INFINITY), nextafterf(-1000.0f, -INFINITY),
		-5000.0f, -1e30f, 0.0f, -0.0f, 5.0f, 990.0f, nextafterf(1000.0f, 0.0f), 1000.0f,
		1e30f, 3.4e38f, -3.4e38f, NAN, INFINITY, -INFINITY, -NAN, 995.5f,
	};
	size_t n = sizeof(v) / sizeof(v[0]);
	ms_histogram_result r = { 0 };

	/* +-3.4e38 overflow the GPU's float statistics (documented): bins/min/max only. */
	run_case_stats("edges", v, n, &p, &r, false);
	CHECK_EQ_INT(r.n_bins, 200);
	CHECK_EQ_INT(r.n_invalid, 4);
	CHECK_EQ_INT(r.count, n - 4);
	if (r.bins) {
		/* bin 0: -1000, just below -990, just below -1000, -5000, -1e30, -3.4e38 */
		CHECK_EQ_INT(r.bins[0], 6);
		CHECK_EQ_INT(r.bins[1], 1);           /* -990 */
		CHECK_EQ_INT(r.bins[100], 3);         /* 0, -0, 5 */
		CHECK_EQ_INT(r.bins[199], 6);         /* 990, < 1000, 1000, 1e30, 3.4e38, 995.5 */
	}
	CHECK(r.min == (double)-3.4e38f);
	CHECK(r.max == (double)3.4e38f);
	ms_histogram_result_clear(&r);
	/* The same edges with statistics: values whose squares fit in float. */
	float moderate[] = { -1000.0f, -990.0f, nextafterf(-990.0f, -INFINITY), -5000.0f, 0.0f,
			     -0.0f, 5.0f, 990.0f, nextafterf(1000.0f, 0.0f), 1000.0f, 1e15f, 995.5f };
	run_case("edges, moderate values", moderate, sizeof(moderate) / sizeof(moderate[0]), &p, NULL);

	/* Non-integer width and min: every value sits exactly on a float edge or next to it. */
	ms_histogram_params q = { 2.5, -100.3, 200.1 };
	size_t m = 3 * 121;
	float *w = malloc(m * sizeof(float));
	if (!w)
		return;
	for (size_t i = 0; i < 121; i++) {
		float e = (float)(q.min + (double)i * q.bin_width);
		w[3 * i] = e;
		w[3 * i + 1] = nextafterf(e, -INFINITY);
		w[3 * i + 2] = nextafterf(e, INFINITY);
	}
	run_case("fractional edges", w, m, &q, &r);
	CHECK_EQ_INT(r.n_bins, 121);
	if (r.bins) {
		CHECK_EQ_INT(r.bins[0], 4);   /* e0-ulp (below min), e0, e0+ulp, e1-ulp */
		CHECK_EQ_INT(r.bins[1], 3);   /* e1, e1+ulp, e2-ulp */
		CHECK_EQ_INT(r.bins[119], 3); /* e119, e119+ulp, e120-ulp */
		CHECK_EQ_INT(r.bins[120], 2); /* e120, e120+ulp */
	}
	ms_histogram_result_clear(&r);
	free(w);
}

static void test_all_equal(void)
{
	ms_histogram_params p = { 1.0, -1024.0, 3072.0 };
	size_t n = 100003;
	float *v = malloc(n * sizeof(float));
	ms_histogram_result r = { 0 };

	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = 40.0f;
	run_case("all equal", v, n, &p, &r);
	CHECK(r.stddev == 0);
	CHECK(r.mean == 40);
	if (r.bins)
		CHECK_EQ_INT(r.bins[1064], n);
	ms_histogram_result_clear(&r);
	free(v);
}

/* 40960 bins: too many for shared memory, so the kernel's global-atomic path runs. */
static void test_many_bins(void)
{
	ms_histogram_params p = { 0.1, -1024.0, 3072.0 };
	size_t n = 300000;
	float *v = random_volume(n, true);

	if (!v)
		return;
	run_case("40960 bins (global)", v, n, &p, NULL);
	free(v);
}

static void test_bad_args(void)
{
	static const ms_histogram_params bad[] = {
		{ 0.0, 0.0, 10.0 }, { -1.0, 0.0, 10.0 }, { 1.0, 10.0, 10.0 }, { 1.0, 11.0, 10.0 },
		{ NAN, 0.0, 10.0 }, { 1.0, -INFINITY, 10.0 }, { 1e-3, -1e3, 1e3 }, { 1.0, 0.0, 1e39 },
	};
	float v[4] = { 1, 2, 3, 4 };
	ms_vk_buffer *b = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms_histogram_result r = { 0 };
		CHECK_EQ_INT(ms_histogram_ref(v, 4, &bad[i], &r), MS_ERR_ARG);
		CHECK(r.bins == NULL);
		CHECK_EQ_INT(ms_histogram_gpu(ctx, v, 4, &bad[i], &r), MS_ERR_ARG);
		CHECK(r.bins == NULL);
	}
	ms_histogram_params p = { 1.0, 0.0, 10.0 };
	ms_histogram_result r = { 0 };
	CHECK_EQ_INT(ms_histogram_ref(NULL, 4, &p, &r), MS_ERR_ARG);
	CHECK_EQ_INT(ms_histogram_gpu(ctx, NULL, 4, &p, &r), MS_ERR_ARG);
	CHECK_EQ_INT(ms_histogram_gpu_buffer(ctx, NULL, 4, &p, &r), MS_ERR_ARG);
	CHECK_EQ_INT(ms_vk_buffer_create(ctx, 15, MS_MEM_HOST, &b), MS_OK);
	CHECK_EQ_INT(ms_histogram_gpu_buffer(ctx, b, 4, &p, &r), MS_ERR_ARG);
	CHECK_EQ_INT(ms_histogram_gpu_buffer(ctx, b, 3, &p, &r), MS_OK);
	ms_histogram_result_clear(&r);
	ms_vk_buffer_destroy(b);
	ms_histogram_result_clear(NULL);
}

/* Every allocation failure inside ms_histogram_gpu gives MS_ERR_NOMEM and a cleared result. */
static void test_alloc_failures(void)
{
	ms_histogram_params p = { 1.0, -1024.0, 3072.0 };
	float v[300];
	int failures = 0, ok = 0;

	for (size_t i = 0; i < 300; i++)
		v[i] = ct_value(false);
	for (long i = 1; i < 200 && !ok; i++) {
		ms_histogram_result r = { 0 };
		ms_alloc_fail_at(i, 0);
		ms_status rc = ms_histogram_gpu(ctx, v, 300, &p, &r);
		long injected = ms_alloc_fail_at(0, 0);
		if (rc != MS_OK)
			failures += rc != MS_ERR_NOMEM || r.bins != NULL;
		ok = rc == MS_OK && injected == 0;
		ms_histogram_result_clear(&r);
	}
	CHECK_EQ_INT(failures, 0);
	CHECK(ok);
}

/* More than maxStorageBufferRange on lavapipe (128 MiB): both chunked paths run. */
static void test_large(void)
{
	const char *env = getenv("MS_HIST_LARGE_N");
	size_t n = env ? strtoull(env, NULL, 10) : (size_t)70 * 1000 * 1000;
	ms_histogram_params p = { 5.0, -1024.0, 3072.0 };
	float *v = malloc(n ? n * sizeof(float) : 1);

	CHECK(v != NULL);
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = ct_value(i & 1);
	v[n / 2] = NAN; /* one invalid voxel in the middle chunk */
	printf("large volume: %zu voxels = %.0f MiB (maxStorageBufferRange %llu MiB)\n", n,
	       n * 4.0 / (1 << 20), (unsigned long long)(ms_vk_context_max_buffer_range(ctx) >> 20));
	run_case("large", v, n, &p, NULL);
	free(v);
}

int main(void)
{
	const char *dev = getenv("MS_VK_DEVICE");
	ms_vk_opts o = { .device = dev ? dev : "auto", .validation = true };

	ms_status rc = ms_vk_context_create(&o, &ctx);
	if (rc == MS_ERR_NOTFOUND) {
		printf("no Vulkan device: skipped\n");
		return 77;
	}
	CHECK_EQ_INT(rc, MS_OK);
	if (!ctx)
		return TEST_REPORT();
	test_sizes();
	test_edges();
	test_all_equal();
	test_many_bins();
	test_bad_args();
	test_alloc_failures();
	test_large();
	CHECK_EQ_INT(ms_vk_context_validation_errors(ctx), 0);
	ms_vk_context_destroy(ctx);
	return TEST_REPORT();
}
