/* Perfusion on the GPU (compute/perfusion.c, shaders/perf_*.comp) against the double
 * reference (compute/perfusion_ref.c): random bolus curves, the gamma-variate phantom, edge
 * sizes (1x1x1xN, widths around the 64-wide workgroup, 3 time points), chunking, streamed
 * mode through the fill callback, errors and allocation failures.
 *
 * Tolerance: a map value matches when |gpu - ref| <= 1e-4 * max(|ref|, 1e-3 * max|ref| of
 * the map), 3e-4 for the quotients MTT = 60 CBV/CBF and MTT_fm = int (t - t_BAT) C / int C
 * (each operand carries up to 1e-4, and the moment's negative baseline part cancels). The
 * GPU works in float: sums over <= 2N terms of mixed sign through the SVD
 * components lose ~N * 6e-8 * (condition of the truncated inverse) relative, well under 1e-4;
 * the floor keeps values near zero (cancellation) from counting as relative misses. Argmax
 * and threshold decisions (TTP, Tmax, the oSVD P) can flip on near-ties between float and
 * double (MTT_fm through t_BAT, the last frame before the peak below 10% of it): at most 1%
 * of the voxels may differ there (2% for the quotients, ill-conditioned where the noisy
 * denominator is small), and CBF/MTT/Tmax are compared only where
 * the chosen P agrees. Mask, baseline and AIF voxels must agree exactly. The random curves
 * have tissue enhancement of 4-20 HU (CT) or 10-50% signal drop (DSC) over noise of 0.3 HU / 2:
 * for enhancement near the float resolution of the signal (ulp(40 HU) = 4e-6) no float code
 * can meet 1e-4. */
#include <stdlib.h>

#include "common/alloc.h"
#include "compute/perfusion.h"
#include "compute/perfusion_ref.h"
#include "tests/testhelp.h"

static ms_vk_context *ctx;
static uint32_t rng = 88172645u;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng / 4294967296.0;
}

static double gauss(void)
{
	double u1 = urand() + 1e-12, u2 = urand();
	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static double gamma_var(double k, double t0, double a, double b, double t)
{
	double s = t - t0;
	return s > 0 ? k * pow(s, a) * exp(-s / b) : 0;
}

typedef struct {
	uint32_t nx, ny, nz, nt;
	double t[MS_PERF_MAX_T];
	float *data;
} volume;

/* Random bolus curves: every voxel a gamma variate of random size, arrival and width on a
 * baseline with noise; about 3% are arterial (ten times larger, early). DSC: S = S0 e^{-TE C}. */
static void make_random(volume *v, uint32_t nx, uint32_t ny, uint32_t nz, uint32_t nt,
			ms_perf_kind kind, double dt)
{
	size_t nvox = (size_t)nx * ny * nz;

	*v = (volume){ nx, ny, nz, nt, { 0 }, malloc(nvox * nt * sizeof(float)) };
	for (uint32_t k = 0; k < nt; k++)
		v->t[k] = k * dt;
	for (size_t i = 0; i < nvox; i++) {
		bool art = urand() < 0.03;
		double k = art ? 100 + 60 * urand() : 10 + 40 * urand();
		double t0 = (art ? 6 : 8) + 4 * urand(), a = 2 + 2 * urand(), b = 1 + urand();
		double base = kind == MS_PERF_CT ? 30 + 20 * urand() : 400 + 200 * urand();
		for (uint32_t j = 0; j < nt; j++) {
			double c = gamma_var(k / 10, t0, a, b, v->t[j]);
			double s = kind == MS_PERF_CT ? base + c + 0.3 * gauss()
						       : base * exp(-0.03 * c) + 2 * gauss();
			v->data[(size_t)j * nvox + i] = (float)s;
		}
	}
}

/* The closed-form phantom's ingredients, sampled (AIF block + tissue from the discrete
 * convolution with exponential residues), 1 s steps. */
static void make_phantom(volume *v, uint32_t nx, uint32_t ny, uint32_t nt)
{
	size_t nvox = (size_t)nx * ny;
	double aif[MS_PERF_MAX_T];

	*v = (volume){ nx, ny, 1, nt, { 0 }, malloc(nvox * nt * sizeof(float)) };
	for (uint32_t k = 0; k < nt; k++) {
		v->t[k] = k;
		aif[k] = gamma_var(66, 10, 3, 1.5, k);
	}
	for (size_t i = 0; i < nvox; i++) {
		uint32_t x = (uint32_t)(i % nx), y = (uint32_t)(i / nx);
		bool art = x >= 1 && x <= 4 && y >= 1 && y <= 4;
		double cbf = 20 + 20 * (i % 3), tau = 2 + 2 * (i / 3 % 3), d = 2.0 * (i / 9 % 2);
		double f = cbf * 1.04 / (0.73 * 6000);
		for (uint32_t k = 0; k < nt; k++) {
			double c = 0;
			if (art) {
				c = aif[k];
			} else {
				for (uint32_t j = 0; j <= k; j++) {
					double s = (double)(k - j) - d;
					c += s >= 0 ? f * aif[j] * exp(-s / tau) : 0;
				}
			}
			v->data[(size_t)k * nvox + i] = (float)(40 + c);
		}
	}
}

static ms_perf_input input_of(const volume *v)
{
	return (ms_perf_input){ .nx = v->nx, .ny = v->ny, .nz = v->nz, .nt = v->nt, .data = v->data,
				.t_s = v->t, .spacing = { 1, 1, 1 } };
}

static void compare(const char *label, const ms_perf_result *g, const ms_perf_result *r)
{
	size_t nvox = (size_t)r->nx * r->ny * r->nz;
	int miss[MS_PERF_N_MAPS] = { 0 };
	double worst[MS_PERF_N_MAPS] = { 0 };

	CHECK(g->map[0] != NULL);
	if (!g->map[0] || !r->map[0])
		return;
	CHECK(memcmp(g->mask, r->mask, nvox) == 0);
	CHECK_EQ_INT(g->n_mask, r->n_mask);
	CHECK_EQ_INT(g->baseline_frames, r->baseline_frames);
	CHECK_EQ_INT(g->n_aif, r->n_aif);
	CHECK(memcmp(g->aif_voxel, r->aif_voxel, sizeof(g->aif_voxel)) == 0);
	CHECK_EQ_INT(g->n_deconv, r->n_deconv);
	for (int m = 0; m < MS_PERF_N_MAPS; m++) {
		double top = 0;
		for (size_t i = 0; i < nvox; i++)
			top = fmax(top, fabs(r->map[m][i]));
		for (size_t i = 0; i < nvox; i++) {
			bool same_p = g->map[MS_PERF_SVD_P][i] == r->map[MS_PERF_SVD_P][i];
			if (!same_p && (m == MS_PERF_CBF || m == MS_PERF_MTT || m == MS_PERF_TMAX))
				continue;
			double ref = r->map[m][i], e = fabs(g->map[m][i] - ref);
			double scale = fmax(fabs(ref), 1e-3 * top);
			bool quotient = m == MS_PERF_MTT || m == MS_PERF_MTT_FM;
			if (e > (quotient ? 3e-4 : 1e-4) * scale)
				miss[m]++;
			else if (scale > 0)
				worst[m] = fmax(worst[m], e / scale);
		}
	}
	int loose = (int)(0.01 * (double)nvox);
	printf("%-36s", label);
	for (int m = 0; m < MS_PERF_N_MAPS; m++) {
		bool decision = m == MS_PERF_TTP || m == MS_PERF_TMAX || m == MS_PERF_SVD_P ||
				m == MS_PERF_CBF || m == MS_PERF_MTT || m == MS_PERF_MTT_FM;
		printf(" %s %d/%.0e", ms_perf_map_name((ms_perf_map)m), miss[m], worst[m]);
		bool quotient = m == MS_PERF_MTT || m == MS_PERF_MTT_FM;
		if (decision) {
			CHECK(miss[m] <= (quotient ? 2 : 1) * loose);
		} else {
			CHECK_EQ_INT(miss[m], 0);
		}
	}
	printf("\n");
	for (uint32_t k = 0; k < r->nt; k++)
		CHECK_NEAR(g->aif[k], r->aif[k], 1e-9 * fmax(1, fabs(r->aif[k])));
	/* Statistics of the maps without argmax/threshold decisions. */
	static const int plain[4] = { MS_PERF_PE, MS_PERF_AUC, MS_PERF_MAX_SLOPE, MS_PERF_CBV };
	for (int i = 0; i < 4; i++)
		for (int q = 0; q < 4; q++)
			CHECK_NEAR(g->stats[plain[i]][q], r->stats[plain[i]][q],
				   1e-4 * fmax(1, fabs(r->stats[plain[i]][q])));
}

static void run_case(const char *label, const ms_perf_input *in, const ms_perf_params *p)
{
	ms_perf_result g = { 0 }, r = { 0 };

	CHECK_EQ_INT(ms_perf_ref(in, p, &r), MS_OK);
	CHECK_EQ_INT(ms_perf_gpu(ctx, in, p, &g), MS_OK);
	compare(label, &g, &r);
	ms_perf_result_clear(&g);
	ms_perf_result_clear(&r);
}

static void test_random(void)
{
	static const ms_perf_method methods[3] = { MS_PERF_SSVD, MS_PERF_CSVD, MS_PERF_OSVD };
	static const char *names[2][3] = { { "random CT sSVD", "random CT cSVD", "random CT oSVD" },
					   { "random DSC sSVD", "random DSC cSVD", "random DSC oSVD" } };
	volume v;

	for (int kind = 0; kind < 2; kind++) {
		make_random(&v, 20, 17, 3, 40, (ms_perf_kind)kind, 1.5);
		ms_perf_input in = input_of(&v);
		for (int m = 0; m < 3; m++) {
			ms_perf_params p = { .kind = (ms_perf_kind)kind, .te_s = 0.03, .method = methods[m] };
			run_case(names[kind][m], &in, &p);
		}
		free(v.data);
	}
}

static void test_phantom(void)
{
	volume v;

	make_phantom(&v, 12, 12, 60);
	ms_perf_input in = input_of(&v);
	ms_perf_params p = { .kind = MS_PERF_CT, .method = MS_PERF_OSVD };
	run_case("phantom oSVD", &in, &p);
	p.method = MS_PERF_SSVD;
	p.aif_given = true;
	p.aif_xyz[0] = p.aif_xyz[1] = 2;
	run_case("phantom sSVD, given AIF", &in, &p);
	free(v.data);
}

static void test_edges(void)
{
	volume v;
	ms_perf_params p = { .kind = MS_PERF_CT, .method = MS_PERF_OSVD };

	/* One voxel: it is tissue, AIF and everything. */
	make_random(&v, 1, 1, 1, 30, MS_PERF_CT, 1.0);
	for (uint32_t k = 0; k < 30; k++)
		v.data[k] = (float)(40 + gamma_var(5, 8, 3, 1.5, k));
	ms_perf_input in = input_of(&v);
	run_case("1x1x1x30", &in, &p);
	free(v.data);

	/* Widths around the workgroup (64) and the ROI group (1024 voxels). */
	static const uint32_t widths[] = { 63, 64, 65, 127, 1023, 1025 };
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		char label[64];
		make_random(&v, widths[i], 1, 2, 24, MS_PERF_CT, 1.0);
		in = input_of(&v);
		snprintf(label, sizeof(label), "%ux1x2x24 cSVD", widths[i]);
		ms_perf_params q = { .kind = MS_PERF_CT, .method = MS_PERF_CSVD };
		run_case(label, &in, &q);
		free(v.data);
	}

	/* Three time points, one baseline frame; uneven times (resampled). */
	make_random(&v, 9, 7, 2, 3, MS_PERF_CT, 1.0);
	for (size_t i = 0; i < 63 * 2; i++) {
		v.data[i] = 40;
		v.data[63 * 2 + i] = 50 + (float)(i % 7);
		v.data[2 * 63 * 2 + i] = 45;
	}
	in = input_of(&v);
	ms_perf_params q = { .kind = MS_PERF_CT, .method = MS_PERF_SSVD, .baseline_frames = 1 };
	run_case("9x7x2x3", &in, &q);
	free(v.data);

	make_random(&v, 16, 16, 2, 30, MS_PERF_CT, 1.0);
	for (uint32_t k = 20; k < 30; k++)
		v.t[k] = 20 + 2.5 * (k - 20);
	in = input_of(&v);
	ms_perf_result g = { 0 };
	run_case("uneven times (resampled)", &in, &p);
	CHECK_EQ_INT(ms_perf_gpu(ctx, &in, &p, &g), MS_OK);
	CHECK(g.resampled);
	ms_perf_result_clear(&g);
	free(v.data);
}

typedef struct {
	const volume *v;
	int calls;
	int fail_at; /* 1-based call that fails; 0 = never */
} filler;

static ms_status fill(void *user, uint32_t z0, uint32_t nz, float *dst)
{
	filler *f = user;
	const volume *v = f->v;
	size_t slice = (size_t)v->nx * v->ny, nvox = slice * v->nz;

	if (++f->calls == f->fail_at)
		return MS_ERR_IO;
	for (uint32_t t = 0; t < v->nt; t++)
		memcpy(dst + t * slice * nz, v->data + t * nvox + z0 * slice, slice * nz * sizeof(float));
	return MS_OK;
}

/* Chunk sizes and streaming give the same maps; budgets too small are refused. */
static void test_chunks(void)
{
	volume v;
	ms_perf_result a = { 0 }, b = { 0 }, r = { 0 };

	make_random(&v, 24, 20, 5, 30, MS_PERF_CT, 1.0);
	ms_perf_input in = input_of(&v);
	ms_perf_params p = { .kind = MS_PERF_CT, .method = MS_PERF_OSVD };
	CHECK_EQ_INT(ms_perf_ref(&in, &p, &r), MS_OK);
	CHECK_EQ_INT(ms_perf_gpu(ctx, &in, &p, &a), MS_OK);
	CHECK_EQ_INT(a.n_chunks, 1);
	CHECK(!a.streamed);
	compare("one chunk", &a, &r);

	filler f = { &v, 0, 0 };
	ms_perf_input cb = in;
	cb.data = NULL;
	cb.fill = fill;
	cb.user = &f;
	p.chunk_slices = 2;
	CHECK_EQ_INT(ms_perf_gpu(ctx, &cb, &p, &b), MS_OK);
	CHECK_EQ_INT(b.n_chunks, 3);
	CHECK(!b.streamed);
	CHECK_EQ_INT(f.calls, 3); /* resident: each chunk filled once */
	compare("chunks of 2 slices, fill", &b, &r);
	/* Per-voxel work does not depend on the chunking. */
	if (a.map[0] && b.map[0])
		CHECK(memcmp(a.map[MS_PERF_CBF], b.map[MS_PERF_CBF], 24 * 20 * 5 * sizeof(float)) == 0);
	ms_perf_result_clear(&b);

	/* A budget below the whole input: streamed, refilled per pass. */
	size_t slice_bytes = (size_t)24 * 20 * 30 * sizeof(float);
	p.chunk_slices = 1;
	p.memory_budget = 3 * 2 * MS_PERF_MAX_T * 2 * MS_PERF_MAX_T * sizeof(float) + 3 * slice_bytes;
	f.calls = 0;
	CHECK_EQ_INT(ms_perf_gpu(ctx, &cb, &p, &b), MS_OK);
	CHECK(b.streamed);
	CHECK(f.calls >= 4 * 5);
	compare("streamed, 1 slice", &b, &r);
	ms_perf_result_clear(&b);

	/* Too small for one slice; a failing fill. */
	p.memory_budget = 100 << 10;
	CHECK_EQ_INT(ms_perf_gpu(ctx, &cb, &p, &b), MS_ERR_ARG);
	p.memory_budget = 0;
	for (int at = 1; at <= 5; at += 2) {
		f.calls = 0;
		f.fail_at = at;
		CHECK_EQ_INT(ms_perf_gpu(ctx, &cb, &p, &b), MS_ERR_IO);
		CHECK(b.map[0] == NULL);
	}
	CHECK_EQ_INT(ms_perf_gpu(NULL, &in, &p, &b), MS_ERR_ARG);
	ms_perf_result_clear(&a);
	ms_perf_result_clear(&r);
	free(v.data);
}

static void test_alloc_failures(void)
{
	volume v;
	int bad = 0, ok = 0;

	make_random(&v, 8, 8, 2, 12, MS_PERF_CT, 1.0);
	ms_perf_input in = input_of(&v);
	ms_perf_params p = { .kind = MS_PERF_CT, .method = MS_PERF_CSVD };
	for (long i = 1; i < 300 && !ok; i++) {
		ms_perf_result r = { 0 };
		ms_alloc_fail_at(i, 0);
		ms_status rc = ms_perf_gpu(ctx, &in, &p, &r);
		long injected = ms_alloc_fail_at(0, 0);
		if (rc != MS_OK)
			bad += rc != MS_ERR_NOMEM || r.map[0] != NULL;
		ok = rc == MS_OK && injected == 0;
		ms_perf_result_clear(&r);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(ok);
	free(v.data);
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
	test_random();
	test_phantom();
	test_edges();
	test_chunks();
	test_alloc_failures();
	CHECK_EQ_INT(ms_vk_context_validation_errors(ctx), 0);
	ms_vk_context_destroy(ctx);
	return TEST_REPORT();
}
