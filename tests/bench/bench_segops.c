/* Benchmark: every segmentation op (compute/segops.h) and the whole pipeline
 * (compute/ctseg.h) on the chest phantom, GPU against the plain-C reference.
 *
 *   bench_segops [nx ny nz [spacing_xy spacing_z]]   default 512 512 320 0.78 1.0
 *
 * GPU figures: device time from timestamps (gpu ms) and host wall time including the
 * synchronous submits (wall ms); data stays on the GPU between ops, so uploads are not in
 * the op rows (they are in the pipeline row). ratio = reference wall / GPU wall. When the
 * device's maxStorageBufferRange cannot hold one float volume (lavapipe: 128 MiB) nz is
 * reduced and said so. On lavapipe the GPU numbers measure a CPU emulation, not a GPU.
 * Exits 77 without a Vulkan device. MS_VK_DEVICE picks the device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "compute/ctseg.h"
#include "compute/segops.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static ms_vk_context *ctx;
static ms_segops *ops;
static ms_seg_grid grid;
static size_t n;
static int failures;

/* Host and device copies of the working data. */
static float *hu, *fout;
static uint8_t *mask, *mout, *m2;
static uint32_t *labels, *sizes;
static ms_vk_buffer *bhu, *bf1, *bf2, *bmask, *bm1, *bm2, *bm3, *blabels, *bsizes;

static void row(const char *name, double gpu_ms, double gpu_wall, double ref_wall)
{
	printf("%-26s %10.2f %10.2f %10.2f %8.1f\n", name, gpu_ms, gpu_wall, ref_wall,
	       gpu_wall > 0 ? ref_wall / gpu_wall : 0);
	fflush(stdout);
}

static double t0;

static void gpu_begin(void)
{
	ms_segops_reset_gpu_ms(ops);
	t0 = now_ms();
}

static void gpu_end(ms_status rc, double *gw, double *gm)
{
	*gw = now_ms() - t0;
	*gm = ms_segops_gpu_ms(ops);
	if (rc != MS_OK) {
		fprintf(stderr, "GPU op failed: %s\n", ms_status_name(rc));
		failures++;
	}
}

static void bench_ops(void)
{
	double gw, gm, t;
	ms_status rc;
	uint32_t seeds[1] = { (uint32_t)(grid.nx / 2 + (size_t)grid.nx * (grid.ny / 2) +
					(size_t)grid.nx * grid.ny * (grid.nz / 2)) };
	ms_seg_elem ball = ms_segops_ref_ball(&grid, 3.0, false);
	ms_seg_elem disk = { 5, 5, 0 };
	double sigma[3] = { 1.0, 1.0, 1.0 };
	uint32_t tl[2], ts[2], nf, it;

	gpu_begin(); rc = ms_segops_threshold(ops, &grid, bhu, -INFINITY, -320, NULL, bmask); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_threshold(&grid, hu, -INFINITY, -320, NULL, mask); row("threshold", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_threshold(ops, &grid, bhu, 200, INFINITY, NULL, bm3); gpu_end(rc, &gw, &gm);
	gpu_begin(); rc = ms_segops_logic(ops, &grid, bmask, bm3, MS_SEG_OR, bm1); gpu_end(rc, &gw, &gm);
	ms_segops_ref_threshold(&grid, hu, 200, INFINITY, NULL, m2);
	t = now_ms(); ms_segops_ref_logic(&grid, mask, m2, MS_SEG_OR, mout); row("logic (or)", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_morph(ops, &grid, MS_SEG_ERODE, &ball, bmask, bm1, bm2); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_morph(&grid, MS_SEG_ERODE, &ball, mask, mout); row("erode ball 3 mm", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_morph(ops, &grid, MS_SEG_DILATE, &disk, bmask, bm1, bm2); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_morph(&grid, MS_SEG_DILATE, &disk, mask, mout); row("dilate disk 5 px", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_label(ops, &grid, bmask, false, MS_SEG_CONN6, blabels, bsizes); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_label(&grid, mask, false, MS_SEG_CONN6, labels, sizes); row("label 6-conn", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_largest(ops, &grid, blabels, bsizes, NULL, 2, tl, ts, &nf); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_largest(&grid, labels, sizes, NULL, 2, tl, ts, &nf); row("largest 2", gm, gw, now_ms() - t);
	ms_seg_select sel = { .drop_border = true, .min_size = 100 };
	gpu_begin(); rc = ms_segops_select(ops, &grid, blabels, bsizes, &sel, bm1); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_select(&grid, labels, sizes, &sel, mout); row("select", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_label(ops, &grid, bmask, false, MS_SEG_CONN26, blabels, bsizes); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_label(&grid, mask, false, MS_SEG_CONN26, labels, sizes); row("label 26-conn", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_fill_holes(ops, &grid, bmask, bm1, blabels, bsizes); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_fill_holes(&grid, mask, mout); row("fill holes (per slice)", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_grow(ops, &grid, bhu, -INFINITY, -320, NULL, MS_SEG_CONN6, seeds, 1, bm1, blabels, bsizes); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_grow(&grid, hu, -INFINITY, -320, NULL, MS_SEG_CONN6, seeds, 1, mout); row("region growing", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_gauss(ops, &grid, bhu, sigma, bf1, bf2); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_gauss(&grid, hu, sigma, fout); row("gauss sigma 1 mm", gm, gw, now_ms() - t);
	gpu_begin(); rc = ms_segops_edt(ops, &grid, bmask, bf1, bf2); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_edt(&grid, mask, fout); row("EDT", gm, gw, now_ms() - t);
	/* Propagation: two markers in the lung mask, 20 steps. */
	memset(mout, 0, n);
	for (size_t i = 0; i < n; i++)
		if (mask[i]) {
			mout[i] = 1;
			break;
		}
	for (size_t i = n; i-- > 0;)
		if (mask[i]) {
			mout[i] = 2;
			break;
		}
	ms_vk_buffer_write(bm1, 0, mout, n);
	gpu_begin(); rc = ms_segops_propagate(ops, &grid, bmask, bm1, bm2, 20, &it); gpu_end(rc, &gw, &gm);
	t = now_ms(); ms_segops_ref_propagate(&grid, mask, mout, 20, &it); row("propagate 20 steps", gm, gw, now_ms() - t);
}

int main(int argc, char **argv)
{
	uint32_t nx = 512, ny = 512, nz = 320;
	double sxy = 0.78, sz = 1.0;
	if (argc >= 4) {
		nx = (uint32_t)atoi(argv[1]);
		ny = (uint32_t)atoi(argv[2]);
		nz = (uint32_t)atoi(argv[3]);
	}
	if (argc >= 6) {
		sxy = atof(argv[4]);
		sz = atof(argv[5]);
	}
	ms_vk_opts o = { .device = getenv("MS_VK_DEVICE") };
	ms_status rc = ms_vk_context_create(&o, &ctx);
	if (rc != MS_OK) {
		printf("no Vulkan device: skipped\n");
		return rc == MS_ERR_NOTFOUND ? 77 : 1;
	}
	uint64_t range = ms_vk_context_max_buffer_range(ctx);
	if ((uint64_t)nx * ny * nz * 4 > range) {
		uint32_t fit = (uint32_t)(range / ((uint64_t)nx * ny * 4));
		printf("note: %ux%ux%u floats exceed maxStorageBufferRange (%llu MiB); nz reduced to %u\n",
		       nx, ny, nz, (unsigned long long)(range >> 20), fit);
		nz = fit;
	}
	ms_volume *v;
	if (ms_ctseg_phantom(nx, ny, nz, sxy, sz, NULL, &v, NULL) != MS_OK || ms_segops_create(ctx, &ops) != MS_OK)
		return 1;
	grid = (ms_seg_grid){ nx, ny, nz, sxy, sxy, sz };
	n = ms_segops_ref_count(&grid);
	hu = v->voxels;
	fout = ms_malloc(n * 4);
	mask = ms_malloc(n);
	mout = ms_malloc(n);
	m2 = ms_malloc(n);
	labels = ms_malloc(n * 4);
	sizes = ms_malloc(n * 4);
	ms_vk_buffer **b4[] = { &bhu, &bf1, &bf2, &blabels, &bsizes }, **b1[] = { &bmask, &bm1, &bm2, &bm3 };
	for (int i = 0; i < 5; i++)
		if (ms_vk_buffer_create(ctx, n * 4, MS_MEM_DEVICE, b4[i]) != MS_OK)
			return 1;
	for (int i = 0; i < 4; i++)
		if (ms_vk_buffer_create(ctx, n, MS_MEM_DEVICE, b1[i]) != MS_OK)
			return 1;
	double t = now_ms();
	ms_vk_buffer_write(bhu, 0, hu, n * 4);
	printf("device %s; phantom %ux%ux%u (%.1f M voxels), %.2f/%.2f mm; upload %.1f ms\n",
	       ms_vk_context_device_name(ctx), nx, ny, nz, n / 1e6, sxy, sz, now_ms() - t);
	printf("%-26s %10s %10s %10s %8s\n", "op", "gpu ms", "wall ms", "C ref ms", "ratio");
	bench_ops();

	ms_ctseg_result g = { 0 }, r = { 0 };
	t = now_ms();
	rc = ms_ctseg_gpu(ctx, v, NULL, &g);
	double gw = now_ms() - t;
	failures += rc != MS_OK;
	t = now_ms();
	rc = ms_ctseg_ref(v, NULL, &r);
	double rw = now_ms() - t;
	failures += rc != MS_OK;
	row("pipeline (incl. transfers)", g.gpu_ms, gw, rw);
	const char *stages[] = { "setup", "body", "lungs", "bone", "heart", "read" };
	for (int s = 0; s < MS_CTSEG_N_STAGES; s++)
		printf("  stage %-8s gpu-variant wall %9.1f ms, reference %9.1f ms\n", stages[s],
		       g.stage_ms[s], r.stage_ms[s]);
	for (int k = 0; k < 5 && g.body && r.body; k++)
		failures += g.volume_ml[k] != r.volume_ml[k];
	printf("volumes (ml) body %.0f lungs %.0f/%.0f bone %.0f heart %.0f; GPU == reference: %s\n",
	       g.volume_ml[0], g.volume_ml[1], g.volume_ml[2], g.volume_ml[3], g.volume_ml[4],
	       failures ? "NO" : "yes");
	ms_ctseg_result_clear(&g);
	ms_ctseg_result_clear(&r);
	for (int i = 0; i < 5; i++)
		ms_vk_buffer_destroy(*b4[i]);
	for (int i = 0; i < 4; i++)
		ms_vk_buffer_destroy(*b1[i]);
	ms_free(fout);
	ms_free(mask);
	ms_free(mout);
	ms_free(m2);
	ms_free(labels);
	ms_free(sizes);
	ms_volume_destroy(v);
	ms_segops_destroy(ops);
	ms_vk_context_destroy(ctx);
	return failures ? 1 : 0;
}
