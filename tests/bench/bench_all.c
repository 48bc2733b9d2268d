/* All-analyses benchmark: histogram, calcium scoring, the CT segmentation pipeline and
 * perfusion (oSVD), each on the current Vulkan device and on its plain C reference, in one
 * run, on generated data of several sizes.
 *
 *   bench_all [SIZE ...]
 *     SIZE = NXxNYxNZ      histogram, calcium and segmentation on a chest CT of that size
 *            NXxNYxNZxNT   perfusion on a CT perfusion study of that size (NT time points)
 *     default: 256x256x64 512x512x64 512x512x320 128x128x16x40 512x512x32x40
 *   MS_BENCH_SIZES=small   only 256x256x64 and 128x128x16x40 (ignored when sizes are given)
 *   MS_BENCH_ONLY=a,b      only these analyses (histogram, calcium, segmentation, perfusion)
 *   MS_BENCH_REPS=n        timed runs per implementation, the fastest is reported (default 1)
 *   MS_VK_DEVICE=...       device, as the plugin's Device key (default auto)
 *
 * Data: tests/bench/bench_common.h's chest CT (400 mm field of view, 1.25 mm slices, noise,
 * plaques) and a synthetic CT perfusion study fed through the fill callback as the plugin
 * feeds it. Calcium runs without an ROI (every voxel is a candidate: the worst case); the
 * histogram uses the plugin's default bins (10 HU over [-1024, 3071)).
 *
 * Prints, per size and analysis: wall time of the C reference and of the GPU path (host
 * wall, transfers included), the GPU's kernel time (timestamps), C/GPU, GB/s of input (input
 * bytes / wall time), whether both agree, and the per-stage times each implementation
 * records (stage_ms). Ends with a table of time per Mvoxel and a fitted growth exponent
 * (time ~ voxels^b). Timings are never asserted. Exit: 0; 77 without a Vulkan device; 1 when
 * a run fails or the GPU and the reference disagree. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/calcium.h"
#include "compute/calcium_ref.h"
#include "compute/ctseg.h"
#include "compute/histogram.h"
#include "compute/perfusion.h"
#include "compute/perfusion_ref.h"
#include "tests/bench/bench_common.h"

#define MAX_RECORDS 128

/* One analysis at one size, for the closing tables. */
typedef struct {
	const char *analysis;
	char size[48];
	double mvox;       /* spatial voxels, millions */
	double in_bytes;   /* input the analysis reads (float HU; perfusion: every time point) */
	double ref_ms, gpu_ms, kern_ms;
	bool agree;
} record;

static record records[MAX_RECORDS];
static int n_records, failures, reps = 1;
static const char *only;

static bool wanted(const char *analysis)
{
	if (!only || !*only)
		return true;
	size_t n = strlen(analysis);
	for (const char *p = only; (p = strstr(p, analysis)) != NULL; p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static record *add_record(const char *analysis, const char *size, double mvox, double in_bytes)
{
	if (n_records == MAX_RECORDS)
		return NULL;
	record *r = &records[n_records++];
	*r = (record){ .analysis = analysis, .mvox = mvox, .in_bytes = in_bytes };
	snprintf(r->size, sizeof(r->size), "%s", size);
	return r;
}

/* ---- timing ---------------------------------------------------------------------------- */

/* Runs one implementation into a result struct of 'size' bytes. */
typedef ms_status (*run_fn)(const void *arg, void *result);
typedef void (*clear_fn)(void *result);

/* Fastest of 'reps' runs of 'size'-byte results; *best and *tmp are zeroed by the caller and
 * *best receives the fastest run's result (results own arrays, so they are moved, not
 * copied). Returns the wall time in ms, or -1 when a run failed (then both are cleared). */
static double time_best(run_fn run, clear_fn clear, const void *arg, void *best, void *tmp,
			size_t size)
{
	double best_ms = -1;

	for (int i = 0; i < reps; i++) {
		double t = bench_now_ms();
		ms_status rc = run(arg, tmp);
		t = bench_now_ms() - t;
		if (rc != MS_OK) {
			fprintf(stderr, "run failed: %s\n", ms_status_name(rc));
			clear(tmp);
			clear(best);
			return -1;
		}
		if (best_ms < 0 || t < best_ms) {
			clear(best);
			memcpy(best, tmp, size);
			memset(tmp, 0, size);
			best_ms = t;
		} else {
			clear(tmp);
		}
	}
	return best_ms;
}

static void print_header(void)
{
	printf("  %-13s %10s %10s %11s %7s %8s %8s  %s\n", "analysis", "C ms", "GPU ms", "kernels ms",
	       "C/GPU", "C GB/s", "GPU GB/s", "GPU == C");
}

static void print_row(const record *r, const char *agreement)
{
	printf("  %-13s %10.1f %10.1f %11.1f %7.2f %8.3f %8.3f  %s\n", r->analysis, r->ref_ms,
	       r->gpu_ms, r->kern_ms, r->ref_ms / r->gpu_ms, r->in_bytes / 1e6 / r->ref_ms,
	       r->in_bytes / 1e6 / r->gpu_ms, agreement);
}

static void print_stages(const char *const *names, int n, const double *ref, const double *gpu)
{
	printf("      %-10s", "stage");
	for (int i = 0; i < n; i++)
		printf(" %9s", names[i]);
	printf("\n      %-10s", "C ms");
	for (int i = 0; i < n; i++)
		printf(" %9.1f", ref[i]);
	printf("\n      %-10s", "GPU ms");
	for (int i = 0; i < n; i++)
		printf(" %9.1f", gpu[i]);
	printf("\n");
}

static void note_failure(const char *analysis, const char *size)
{
	printf("  %-13s FAILED at %s (see stderr)\n", analysis, size);
	failures++;
}

/* ---- histogram, calcium, segmentation: one chest CT ------------------------------------- */

typedef struct {
	ms_vk_context *c;
	const ms_volume *v;
	ms_histogram_params hist;
	ms_cac_params cac;
} vol_arg;

static ms_status hist_ref(const void *a, void *r)
{
	const vol_arg *x = a;
	return ms_histogram_ref(x->v->voxels, ms_volume_count(x->v), &x->hist, r);
}

static ms_status hist_gpu(const void *a, void *r)
{
	const vol_arg *x = a;
	return ms_histogram_gpu(x->c, x->v->voxels, ms_volume_count(x->v), &x->hist, r);
}

static void hist_clear(void *r)
{
	ms_histogram_result_clear(r);
}

static ms_status cac_ref(const void *a, void *r)
{
	const vol_arg *x = a;
	return ms_cac_ref(x->v, NULL, &x->cac, r);
}

static ms_status cac_gpu(const void *a, void *r)
{
	const vol_arg *x = a;
	return ms_cac_gpu(x->c, x->v, NULL, &x->cac, r);
}

static void cac_clear(void *r)
{
	ms_cac_result_clear(r);
}

static ms_status seg_ref(const void *a, void *r)
{
	const vol_arg *x = a;
	return ms_ctseg_ref(x->v, NULL, r);
}

static ms_status seg_gpu(const void *a, void *r)
{
	const vol_arg *x = a;
	return ms_ctseg_gpu(x->c, x->v, NULL, r);
}

static void seg_clear(void *r)
{
	ms_ctseg_result_clear(r);
}

static void bench_histogram(const vol_arg *x, record *rec)
{
	ms_histogram_result ref = { 0 }, gpu = { 0 }, tmp = { 0 };
	char agree[160];

	rec->ref_ms = time_best(hist_ref, hist_clear, x, &ref, &tmp, sizeof(tmp));
	rec->gpu_ms = time_best(hist_gpu, hist_clear, x, &gpu, &tmp, sizeof(tmp));
	if (rec->ref_ms < 0 || rec->gpu_ms < 0) {
		note_failure(rec->analysis, rec->size);
		goto out;
	}
	rec->kern_ms = gpu.gpu_ms;
	double mean_err = fabs(gpu.mean - ref.mean) / fmax(fabs(ref.mean), 1e-12);
	rec->agree = gpu.n_bins == ref.n_bins && gpu.count == ref.count && gpu.min == ref.min &&
		     gpu.max == ref.max && mean_err < 1e-6 &&
		     memcmp(gpu.bins, ref.bins, ref.n_bins * sizeof(uint64_t)) == 0;
	snprintf(agree, sizeof(agree), "%s (bins %s, mean rel. error %.1e)", rec->agree ? "yes" : "NO",
		 rec->agree ? "exact" : "differ", mean_err);
	print_row(rec, agree);
	printf("      GPU: upload %.1f ms, kernels %.1f ms\n", gpu.upload_ms, gpu.gpu_ms);
out:
	ms_histogram_result_clear(&ref);
	ms_histogram_result_clear(&gpu);
}

static void bench_calcium(const vol_arg *x, record *rec)
{
	ms_cac_result ref = { 0 }, gpu = { 0 }, tmp = { 0 };
	const char *names[MS_CAC_STAGES];
	char agree[160];

	rec->ref_ms = time_best(cac_ref, cac_clear, x, &ref, &tmp, sizeof(tmp));
	rec->gpu_ms = time_best(cac_gpu, cac_clear, x, &gpu, &tmp, sizeof(tmp));
	if (rec->ref_ms < 0 || rec->gpu_ms < 0) {
		note_failure(rec->analysis, rec->size);
		goto out;
	}
	rec->kern_ms = gpu.gpu_ms;
	rec->agree = gpu.n_lesions == ref.n_lesions && gpu.n_components == ref.n_components &&
		     fabs(gpu.agatston - ref.agatston) <= 1e-6 * (1 + ref.agatston) &&
		     fabs(gpu.volume_mm3 - ref.volume_mm3) <= 1e-6 * (1 + ref.volume_mm3);
	snprintf(agree, sizeof(agree), "%s (lesions %zu/%zu, Agatston %.1f/%.1f)",
		 rec->agree ? "yes" : "NO", gpu.n_lesions, ref.n_lesions, gpu.agatston, ref.agatston);
	print_row(rec, agree);
	for (int i = 0; i < MS_CAC_STAGES; i++)
		names[i] = ms_cac_stage_name(i);
	print_stages(names, MS_CAC_STAGES, ref.stage_ms, gpu.stage_ms);
out:
	ms_cac_result_clear(&ref);
	ms_cac_result_clear(&gpu);
}

static void bench_segmentation(const vol_arg *x, record *rec)
{
	static const char *const names[MS_CTSEG_N_STAGES] = { "setup", "body", "lungs",
							      "bone",  "heart", "read" };
	ms_ctseg_result ref = { 0 }, gpu = { 0 }, tmp = { 0 };
	char agree[200];

	rec->ref_ms = time_best(seg_ref, seg_clear, x, &ref, &tmp, sizeof(tmp));
	rec->gpu_ms = time_best(seg_gpu, seg_clear, x, &gpu, &tmp, sizeof(tmp));
	if (rec->ref_ms < 0 || rec->gpu_ms < 0) {
		note_failure(rec->analysis, rec->size);
		goto out;
	}
	rec->kern_ms = gpu.gpu_ms;
	rec->agree = true;
	for (int k = 0; k < 5; k++)
		rec->agree &= gpu.volume_ml[k] == ref.volume_ml[k];
	snprintf(agree, sizeof(agree), "%s (ml body %.0f lungs %.0f/%.0f bone %.0f heart ROI %.0f)",
		 rec->agree ? "yes" : "NO", gpu.volume_ml[0], gpu.volume_ml[1], gpu.volume_ml[2],
		 gpu.volume_ml[3], gpu.volume_ml[4]);
	print_row(rec, agree);
	print_stages(names, MS_CTSEG_N_STAGES, ref.stage_ms, gpu.stage_ms);
out:
	ms_ctseg_result_clear(&ref);
	ms_ctseg_result_clear(&gpu);
}

static void bench_volume(ms_vk_context *c, uint32_t nx, uint32_t ny, uint32_t nz, const char *size)
{
	vol_arg x = { .c = c, .hist = { 10.0, -1024.0, 3071.0 } };
	ms_volume *v = NULL;

	ms_cac_params_default(&x.cac, MS_CAC_PROFILE_LITERATURE);
	double t = bench_now_ms();
	if (bench_chest_ct(nx, ny, nz, &v) != MS_OK) {
		note_failure("chest CT", size);
		return;
	}
	x.v = v;
	double mvox = ms_volume_count(v) / 1e6, bytes = (double)ms_volume_bytes(v);
	printf("\n=== chest CT %s: %.2f Mvoxel, %.0f MB of float HU, %.2f x %.2f x %.2f mm "
	       "(generated in %.0f ms)\n",
	       size, mvox, bytes / 1e6, v->geom.spacing[0], v->geom.spacing[1], v->geom.spacing[2],
	       bench_now_ms() - t);
	print_header();
	record *r;
	if (wanted("histogram") && (r = add_record("histogram", size, mvox, bytes)))
		bench_histogram(&x, r);
	if (wanted("calcium") && (r = add_record("calcium", size, mvox, bytes)))
		bench_calcium(&x, r);
	if (wanted("segmentation")) {
		uint64_t range = ms_vk_context_max_buffer_range(c);
		/* The pipeline keeps whole float volumes in single bindings (ctseg.h). */
		if (bytes > (double)range)
			printf("  %-13s not run: one float volume (%.0f MiB) exceeds this device's "
			       "maxStorageBufferRange (%llu MiB)\n",
			       "segmentation", bytes / 1048576.0, (unsigned long long)(range >> 20));
		else if ((r = add_record("segmentation", size, mvox, bytes)))
			bench_segmentation(&x, r);
	}
	ms_volume_destroy(v);
}

/* ---- perfusion --------------------------------------------------------------------------- */

#define PERF_SHAPES 64 /* tissue curve shapes; arterial ones follow */
#define PERF_ARTERIAL 4

/* CT perfusion study: -1000 HU outside a body disc; inside, 40 HU baseline plus a
 * gamma-variate bolus, 2% of the voxels arterial (early, ~300 HU) and the rest tissue
 * (later, 10-60 HU), with +-0.5 HU noise. Curves come from a table of shapes picked per
 * voxel by a hash of its index, so the fill is cheap (the load stage measures the copy, not
 * pow/exp) and gives the same values however often a chunk is filled. */
typedef struct {
	uint32_t nx, ny, nz, nt;
	double t_s[MS_PERF_MAX_T];
	float shape[PERF_SHAPES + PERF_ARTERIAL][MS_PERF_MAX_T];
} perf_study;

static void gamma_curve(float *dst, const double *t, uint32_t nt, double t0, double b,
			double peak)
{
	const double a = 3.0;
	double top = pow(a * b, a) * exp(-a); /* maximum of x^a e^(-x/b), at x = a b */

	for (uint32_t j = 0; j < nt; j++) {
		double x = t[j] - t0;
		dst[j] = x > 0 ? (float)(peak * pow(x, a) * exp(-x / b) / top) : 0.0f;
	}
}

static void perf_study_init(perf_study *s, uint32_t nx, uint32_t ny, uint32_t nz, uint32_t nt)
{
	bench_rng r = { 2463534242u };

	*s = (perf_study){ nx, ny, nz, nt, { 0 }, { { 0 } } };
	for (uint32_t j = 0; j < nt; j++)
		s->t_s[j] = j; /* 1 s sampling */
	for (int i = 0; i < PERF_SHAPES; i++)
		gamma_curve(s->shape[i], s->t_s, nt, bench_rng_range(&r, 7, 10),
			    bench_rng_range(&r, 1.5, 3.0), bench_rng_range(&r, 10, 60));
	for (int i = 0; i < PERF_ARTERIAL; i++)
		gamma_curve(s->shape[PERF_SHAPES + i], s->t_s, nt, bench_rng_range(&r, 4.5, 5.5),
			    bench_rng_range(&r, 1.2, 1.6), bench_rng_range(&r, 250, 350));
}

static ms_status perf_fill(void *user, uint32_t z0, uint32_t nz, float *dst)
{
	const perf_study *s = user;
	size_t slice = (size_t)s->nx * s->ny, cv = slice * nz;
	double cx = (s->nx - 1) / 2.0, cy = (s->ny - 1) / 2.0;
	double r2 = 0.2025 * (s->nx < s->ny ? s->nx : s->ny) * (s->nx < s->ny ? s->nx : s->ny);

	for (size_t i = 0; i < cv; i++) {
		size_t g = (size_t)z0 * slice + i;
		uint32_t h = bench_hash((uint32_t)g), x = (uint32_t)(i % s->nx);
		uint32_t y = (uint32_t)(i / s->nx % s->ny);
		bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r2;
		const float *c = s->shape[h % 100 < 2 ? PERF_SHAPES + (h >> 8) % PERF_ARTERIAL
						      : (h >> 8) % PERF_SHAPES];
		for (uint32_t j = 0; j < s->nt; j++) {
			float noise = (float)(bench_hash(h + j * 2654435761u) % 1001) / 1000.0f - 0.5f;
			dst[j * cv + i] = (inside ? 40.0f + c[j] : -1000.0f) + noise;
		}
	}
	return MS_OK;
}

typedef struct {
	ms_vk_context *c;
	ms_perf_input in;
	ms_perf_params p;
} perf_arg;

static ms_status perf_ref(const void *a, void *r)
{
	const perf_arg *x = a;
	return ms_perf_ref(&x->in, &x->p, r);
}

static ms_status perf_gpu(const void *a, void *r)
{
	const perf_arg *x = a;
	return ms_perf_gpu(x->c, &x->in, &x->p, r);
}

static void perf_clear(void *r)
{
	ms_perf_result_clear(r);
}

static void bench_perfusion(ms_vk_context *c, uint32_t nx, uint32_t ny, uint32_t nz, uint32_t nt,
			    const char *size)
{
	static const char *const names[8] = { "load", "mask", "roi",    "maps",
					      "aif",  "svd",  "deconv", "stats" };
	ms_perf_result ref = { 0 }, gpu = { 0 }, tmp = { 0 };
	perf_study *s = malloc(sizeof(*s));
	char agree[200];

	if (!s) {
		note_failure("perfusion", size);
		return;
	}
	perf_study_init(s, nx, ny, nz, nt);
	perf_arg x = {
		.c = c,
		.in = { .nx = nx, .ny = ny, .nz = nz, .nt = nt, .fill = perf_fill, .user = s,
			.t_s = s->t_s, .spacing = { 0.78, 0.78, 5.0 } },
		.p = { .kind = MS_PERF_CT, .method = MS_PERF_OSVD },
	};
	double mvox = (double)nx * ny * nz / 1e6, bytes = mvox * 1e6 * nt * sizeof(float);
	printf("\n=== CT perfusion %s: %.2f Mvoxel x %u time points, %.0f MB of float input, oSVD\n",
	       size, mvox, nt, bytes / 1e6);
	print_header();
	record *rec = add_record("perfusion", size, mvox, bytes);
	if (!rec)
		goto out;
	rec->ref_ms = time_best(perf_ref, perf_clear, &x, &ref, &tmp, sizeof(tmp));
	rec->gpu_ms = time_best(perf_gpu, perf_clear, &x, &gpu, &tmp, sizeof(tmp));
	if (rec->ref_ms < 0 || rec->gpu_ms < 0) {
		note_failure(rec->analysis, rec->size);
		goto out;
	}
	rec->kern_ms = gpu.gpu_ms;
	/* float vs double per voxel: compare the maps' means inside the mask (test_perfusion
	 * checks every voxel). */
	double worst = 0;
	for (int m = 0; m < MS_PERF_N_MAPS; m++)
		worst = fmax(worst, fabs(gpu.stats[m][0] - ref.stats[m][0]) /
					    fmax(fabs(ref.stats[m][0]), 1e-9));
	rec->agree = gpu.n_mask == ref.n_mask && gpu.n_aif == ref.n_aif &&
		     memcmp(gpu.aif_voxel, ref.aif_voxel, sizeof(gpu.aif_voxel)) == 0 && worst < 1e-3;
	snprintf(agree, sizeof(agree), "%s (mask %llu voxels, AIF %s, map means rel. diff <= %.1e)",
		 rec->agree ? "yes" : "NO", (unsigned long long)gpu.n_mask,
		 memcmp(gpu.aif_voxel, ref.aif_voxel, sizeof(gpu.aif_voxel)) == 0 ? "same" : "differs",
		 worst);
	print_row(rec, agree);
	print_stages(names, 8, ref.stage_ms, gpu.stage_ms);
	printf("      GPU: %u chunk(s) of %u slices, %s; CBF mean %.2f (C %.2f) ml/100 g/min\n",
	       gpu.n_chunks, gpu.chunk_slices, gpu.streamed ? "streamed" : "resident",
	       gpu.stats[MS_PERF_CBF][0], ref.stats[MS_PERF_CBF][0]);
out:
	ms_perf_result_clear(&ref);
	ms_perf_result_clear(&gpu);
	free(s);
}

/* ---- driver ------------------------------------------------------------------------------- */

/* One untimed GPU run of each analysis on small data, so the first timed size does not pay
 * for the driver's first use (loader, memory heaps, shader compiler warm-up). */
static void warm_up(ms_vk_context *c, bool volumes, bool perfusion)
{
	double t = bench_now_ms();
	vol_arg x = { .c = c, .hist = { 10.0, -1024.0, 3071.0 } };
	ms_volume *v = NULL;

	ms_cac_params_default(&x.cac, MS_CAC_PROFILE_LITERATURE);
	if (volumes && bench_chest_ct(96, 96, 24, &v) == MS_OK) {
		ms_histogram_result h = { 0 };
		ms_cac_result k = { 0 };
		ms_ctseg_result g = { 0 };
		x.v = v;
		if (wanted("histogram"))
			hist_gpu(&x, &h);
		if (wanted("calcium"))
			cac_gpu(&x, &k);
		if (wanted("segmentation"))
			seg_gpu(&x, &g);
		ms_histogram_result_clear(&h);
		ms_cac_result_clear(&k);
		ms_ctseg_result_clear(&g);
		ms_volume_destroy(v);
	}
	perf_study *s = perfusion ? malloc(sizeof(*s)) : NULL;
	if (s) {
		perf_study_init(s, 32, 32, 4, 40);
		perf_arg p = { .c = c,
			       .in = { .nx = 32, .ny = 32, .nz = 4, .nt = 40, .fill = perf_fill,
				       .user = s, .t_s = s->t_s },
			       .p = { .kind = MS_PERF_CT, .method = MS_PERF_OSVD } };
		ms_perf_result r = { 0 };
		perf_gpu(&p, &r);
		ms_perf_result_clear(&r);
		free(s);
	}
	printf("warm-up (untimed GPU runs on small data): %.0f ms\n", bench_now_ms() - t);
}

/* Least-squares slope of log(time) over log(input bytes): time ~ input^b. */
static double growth_exponent(const char *analysis, bool gpu, int *n_out)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	int n = 0;

	for (int i = 0; i < n_records; i++) {
		const record *r = &records[i];
		double t = gpu ? r->gpu_ms : r->ref_ms;
		if (strcmp(r->analysis, analysis) != 0 || t <= 0)
			continue;
		double lx = log(r->in_bytes), ly = log(t);
		sx += lx;
		sy += ly;
		sxx += lx * lx;
		sxy += lx * ly;
		n++;
	}
	*n_out = n;
	double d = n * sxx - sx * sx;
	return n >= 2 && d > 1e-12 ? (n * sxy - sx * sy) / d : NAN;
}

static void print_summary(void)
{
	static const char *const analyses[] = { "histogram", "calcium", "segmentation", "perfusion" };

	printf("\n=== summary: cost per Mvoxel (perfusion: per spatial Mvoxel, all time points)\n");
	printf("  %-13s %-14s %8s %9s %10s %12s %12s %7s %6s\n", "analysis", "size", "Mvoxel",
	       "input MB", "C ms/Mvox", "GPU ms/Mvox", "kern ms/Mvox", "C/GPU", "agree");
	for (int i = 0; i < n_records; i++) {
		const record *r = &records[i];
		if (r->ref_ms < 0 || r->gpu_ms < 0) {
			printf("  %-13s %-14s %8.2f   failed\n", r->analysis, r->size, r->mvox);
			continue;
		}
		printf("  %-13s %-14s %8.2f %9.0f %10.2f %12.2f %12.2f %7.2f %6s\n", r->analysis,
		       r->size, r->mvox, r->in_bytes / 1e6, r->ref_ms / r->mvox, r->gpu_ms / r->mvox,
		       r->kern_ms / r->mvox, r->ref_ms / r->gpu_ms, r->agree ? "yes" : "NO");
	}
	printf("  growth (least squares over the sizes run; b = 1: linear in the input):\n");
	for (size_t a = 0; a < sizeof(analyses) / sizeof(analyses[0]); a++) {
		int n;
		double bc = growth_exponent(analyses[a], false, &n);
		double bg = growth_exponent(analyses[a], true, &n);
		if (n >= 2)
			printf("    %-13s C time ~ input^%.2f, GPU time ~ input^%.2f (%d sizes)\n",
			       analyses[a], bc, bg, n);
	}
}

int main(int argc, char **argv)
{
	static const char *const all[] = { "256x256x64",    "512x512x64",   "512x512x320",
					   "128x128x16x40", "512x512x32x40" };
	static const char *const small[] = { "256x256x64", "128x128x16x40" };
	const char *const *sizes = (const char *const *)argv + 1;
	int n_sizes = argc - 1;
	const char *env = getenv("MS_BENCH_SIZES"), *reps_env = getenv("MS_BENCH_REPS");
	ms_vk_context *c = NULL;

	if (n_sizes == 0) {
		bool s = env && strcmp(env, "small") == 0;
		sizes = s ? small : all;
		n_sizes = s ? 2 : 5;
	}
	only = getenv("MS_BENCH_ONLY");
	reps = reps_env ? atoi(reps_env) : 1;
	if (reps < 1)
		reps = 1;
	/* Parse everything first: a typo should not cost a long run. */
	uint32_t dims[32][4];
	bool any_vol = false, any_perf = false;
	if (n_sizes > 32) {
		fprintf(stderr, "at most 32 sizes\n");
		return 2;
	}
	for (int i = 0; i < n_sizes; i++) {
		char tail;
		dims[i][3] = 0;
		int k = sscanf(sizes[i], "%ux%ux%ux%u%c", &dims[i][0], &dims[i][1], &dims[i][2],
			       &dims[i][3], &tail);
		if ((k != 3 && k != 4) || !dims[i][0] || !dims[i][1] || !dims[i][2] ||
		    (k == 4 && (dims[i][3] < 3 || dims[i][3] > MS_PERF_MAX_T))) {
			fprintf(stderr, "bad size '%s': want NXxNYxNZ or NXxNYxNZxNT (3 <= NT <= %d)\n",
				sizes[i], MS_PERF_MAX_T);
			return 2;
		}
		any_vol |= k == 3;
		any_perf |= k == 4 && wanted("perfusion");
	}
	int rc = bench_open_device(&c);
	if (rc != 0)
		return rc;
	printf("sizes:");
	for (int i = 0; i < n_sizes; i++)
		printf(" %s", sizes[i]);
	printf("; %d timed run(s) each, fastest reported%s%s\n", reps, only ? "; only " : "",
	       only ? only : "");
	warm_up(c, any_vol, any_perf);
	for (int i = 0; i < n_sizes; i++) {
		if (dims[i][3] == 0)
			bench_volume(c, dims[i][0], dims[i][1], dims[i][2], sizes[i]);
		else if (wanted("perfusion"))
			bench_perfusion(c, dims[i][0], dims[i][1], dims[i][2], dims[i][3], sizes[i]);
		fflush(stdout);
	}
	print_summary();
	for (int i = 0; i < n_records; i++)
		failures += !records[i].agree && records[i].ref_ms >= 0 && records[i].gpu_ms >= 0;
	printf("%s\n", failures ? "RESULT: failures or disagreements (see above)"
				: "RESULT: every GPU result agrees with its C reference");
	ms_vk_context_destroy(c);
	return failures ? 1 : 0;
}
