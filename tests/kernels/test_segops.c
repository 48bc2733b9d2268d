/* Segmentation kernels (compute/segops.c, shaders/seg_*.comp) against the C reference
 * (compute/segops_ref.c): masks, labels and sizes must be identical; Gaussian and EDT within
 * 1e-5 relative. The reference itself is checked against brute force on small grids
 * (morphology, labels by flood fill, EDT by exhaustive search). Grids: 1x1x1, lines around
 * the 1024-voxel tile of the word kernels, odd 3-D sizes, anisotropic spacing; random masks
 * and volumes; CCL worst cases (2-D spirals, 3-D checkerboards, a z-staircase).
 * Exits 77 without a Vulkan device. MS_VK_DEVICE picks the device (default "auto"). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "compute/segops.h"
#include "tests/testhelp.h"

static ms_vk_context *ctx;
static ms_segops *ops;
static uint32_t rng_state = 2463534242u;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static ms_vk_buffer *buf(size_t bytes)
{
	ms_vk_buffer *b = NULL;
	ms_status rc = ms_vk_buffer_create(ctx, bytes, MS_MEM_DEVICE, &b);
	CHECK_EQ_INT(rc, MS_OK);
	return b;
}

static ms_vk_buffer *upload(const void *src, size_t bytes)
{
	ms_vk_buffer *b = buf(bytes);
	if (b && bytes)
		CHECK_EQ_INT(ms_vk_buffer_write(b, 0, src, bytes), MS_OK);
	return b;
}

static void download(ms_vk_buffer *b, void *dst, size_t bytes)
{
	if (bytes)
		CHECK_EQ_INT(ms_vk_buffer_read(b, 0, dst, bytes), MS_OK);
}

/* Compares byte arrays; prints the first differences. */
static void same_bytes(const char *what, const uint8_t *g, const uint8_t *r, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		if (g[i] != r[i] && bad++ < 3)
			fprintf(stderr, "%s: voxel %zu gpu %u ref %u\n", what, i, g[i], r[i]);
	}
	if (bad)
		fprintf(stderr, "%s: %zu of %zu voxels differ\n", what, bad, n);
	CHECK_EQ_INT(bad, 0);
}

static void same_words(const char *what, const uint32_t *g, const uint32_t *r, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		if (g[i] != r[i] && bad++ < 3)
			fprintf(stderr, "%s: index %zu gpu %08x ref %08x\n", what, i, g[i], r[i]);
	}
	if (bad)
		fprintf(stderr, "%s: %zu of %zu words differ\n", what, bad, n);
	CHECK_EQ_INT(bad, 0);
}

/* |g - r| <= 1e-5 max(|r|, floor); inf must match inf. */
static void close_floats(const char *what, const float *g, const float *r, size_t n, double floor)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		bool ok = isinf(r[i]) ? g[i] == r[i] : fabs((double)g[i] - r[i]) <= 1e-5 * fmax(fabs(r[i]), floor);
		if (!ok && bad++ < 3)
			fprintf(stderr, "%s: voxel %zu gpu %.9g ref %.9g\n", what, i, g[i], r[i]);
	}
	if (bad)
		fprintf(stderr, "%s: %zu of %zu values differ\n", what, bad, n);
	CHECK_EQ_INT(bad, 0);
}

static size_t idx(const ms_seg_grid *g, int64_t x, int64_t y, int64_t z)
{
	return (size_t)x + (size_t)g->nx * ((size_t)y + (size_t)g->ny * (size_t)z);
}

static bool inside(const ms_seg_grid *g, int64_t x, int64_t y, int64_t z)
{
	return x >= 0 && y >= 0 && z >= 0 && x < g->nx && y < g->ny && z < g->nz;
}

/* ---- brute-force checks of the reference ------------------------------------------- */

static void brute_morph(const ms_seg_grid *g, ms_seg_morph_op op, const ms_seg_elem *e,
			const uint8_t *in, uint8_t *out)
{
	int mx = (int)e->rx, my = (int)e->ry, mz = (int)e->rz;
	for (int64_t z = 0; z < g->nz; z++)
		for (int64_t y = 0; y < g->ny; y++)
			for (int64_t x = 0; x < g->nx; x++) {
				bool any = false, all = true;
				for (int dz = -mz; dz <= mz; dz++)
					for (int dy = -my; dy <= my; dy++)
						for (int dx = -mx; dx <= mx; dx++) {
							double t = 0;
							t += e->rx < 1 ? (dx ? 2 : 0) : (dx / e->rx) * (dx / e->rx);
							t += e->ry < 1 ? (dy ? 2 : 0) : (dy / e->ry) * (dy / e->ry);
							t += e->rz < 1 ? (dz ? 2 : 0) : (dz / e->rz) * (dz / e->rz);
							if (t > 1 + 1e-9 || !inside(g, x + dx, y + dy, z + dz))
								continue;
							bool v = in[idx(g, x + dx, y + dy, z + dz)] != 0;
							any = any || v;
							all = all && v;
						}
				out[idx(g, x, y, z)] = op == MS_SEG_DILATE ? any : all;
			}
}

/* Flood-fills each component and checks the label (smallest index), size and border bit. */
static void brute_labels(const ms_seg_grid *g, const uint8_t *mask, bool invert, ms_seg_conn conn,
			 const uint32_t *labels, const uint32_t *sizes)
{
	size_t n = ms_segops_ref_count(g), bad = 0;
	uint8_t *seen = calloc(n ? n : 1, 1);
	uint32_t *queue = malloc((n ? n : 1) * sizeof(uint32_t));
	for (size_t s = 0; s < n; s++) {
		bool fg = (mask[s] != 0) != invert;
		if (!fg) {
			bad += labels[s] != MS_SEG_NO_LABEL;
			continue;
		}
		if (seen[s])
			continue;
		size_t head = 0, tail = 0, count = 0;
		bool border = false;
		queue[tail++] = (uint32_t)s;
		seen[s] = 1;
		while (head < tail) {
			uint32_t i = queue[head++];
			int64_t x = i % g->nx, y = (i / g->nx) % g->ny, z = i / ((size_t)g->nx * g->ny);
			count++;
			bad += labels[i] != s;
			border = border || x == 0 || y == 0 || x + 1 == g->nx || y + 1 == g->ny;
			for (int dz = -1; dz <= 1; dz++)
				for (int dy = -1; dy <= 1; dy++)
					for (int dx = -1; dx <= 1; dx++) {
						int m = abs(dx) + abs(dy) + abs(dz);
						bool ok = m > 0 && ((conn == MS_SEG_CONN26) ||
								    (conn == MS_SEG_CONN6 && m == 1) ||
								    (conn == MS_SEG_CONN8 && dz == 0) ||
								    (conn == MS_SEG_CONN4 && dz == 0 && m == 1));
						if (!ok || !inside(g, x + dx, y + dy, z + dz))
							continue;
						size_t j = idx(g, x + dx, y + dy, z + dz);
						if (!seen[j] && (mask[j] != 0) != invert) {
							seen[j] = 1;
							queue[tail++] = (uint32_t)j;
						}
					}
		}
		bad += (sizes[s] & MS_SEG_SIZE_MASK) != count;
		bad += ((sizes[s] & MS_SEG_BORDER) != 0) != border;
	}
	CHECK_EQ_INT(bad, 0);
	free(queue);
	free(seen);
}

static void brute_edt(const ms_seg_grid *g, const uint8_t *mask, const float *ref)
{
	size_t n = ms_segops_ref_count(g), bad = 0;
	for (size_t i = 0; i < n; i++) {
		double best = INFINITY;
		int64_t x = i % g->nx, y = (i / g->nx) % g->ny, z = i / ((size_t)g->nx * g->ny);
		if (!mask[i])
			best = 0;
		for (size_t j = 0; j < n && mask[i]; j++) {
			if (mask[j])
				continue;
			double dx = (double)(x - (int64_t)(j % g->nx)) * g->sx;
			double dy = (double)(y - (int64_t)((j / g->nx) % g->ny)) * g->sy;
			double dz = (double)(z - (int64_t)(j / ((size_t)g->nx * g->ny))) * g->sz;
			best = fmin(best, dx * dx + dy * dy + dz * dz);
		}
		best = sqrt(best);
		bool ok = isinf(best) ? isinf(ref[i]) : fabs(best - ref[i]) <= 1e-5 * fmax(best, 1);
		if (!ok && bad++ < 3)
			fprintf(stderr, "edt brute: voxel %zu ref %.9g brute %.9g\n", i, ref[i], best);
	}
	CHECK_EQ_INT(bad, 0);
}

/* ---- one grid, one mask: every op -------------------------------------------------- */

typedef struct {
	const char *name;
	ms_seg_grid g;
	uint8_t *mask; /* the test mask */
	float *hu;     /* a CT-like volume */
	bool brute;    /* small enough for the brute-force checks */
} case_data;

static void check_threshold_logic(const case_data *c)
{
	const ms_seg_grid *g = &c->g;
	size_t n = ms_segops_ref_count(g);
	uint8_t *r = malloc(n + 1), *o = malloc(n + 1), *other = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		other[i] = (uint8_t)(rnd() % 3 == 0 ? (rnd() & 0xFF) : 0); /* not just 0/1 */
	ms_vk_buffer *hu = upload(c->hu, n * 4), *m = upload(c->mask, n), *b = upload(other, n);
	ms_vk_buffer *out = buf(n);
	const float lims[][2] = { { -500.0f, INFINITY }, { -INFINITY, -320.0f }, { 200.0f, 200.5f } };
	for (int k = 0; k < 3; k++) {
		for (int w = 0; w < 2; w++) {
			ms_segops_ref_threshold(g, c->hu, lims[k][0], lims[k][1], w ? c->mask : NULL, r);
			CHECK_EQ_INT(ms_segops_threshold(ops, g, hu, lims[k][0], lims[k][1], w ? m : NULL, out), MS_OK);
			download(out, o, n);
			same_bytes("threshold", o, r, n);
		}
	}
	for (int op = MS_SEG_AND; op <= MS_SEG_OR; op++) {
		ms_segops_ref_logic(g, c->mask, other, op, r);
		CHECK_EQ_INT(ms_segops_logic(ops, g, m, b, op, out), MS_OK);
		download(out, o, n);
		same_bytes("logic", o, r, n);
	}
	ms_vk_buffer_destroy(out);
	ms_vk_buffer_destroy(b);
	ms_vk_buffer_destroy(m);
	ms_vk_buffer_destroy(hu);
	free(other);
	free(o);
	free(r);
}

static void check_morph(const case_data *c)
{
	const ms_seg_grid *g = &c->g;
	size_t n = ms_segops_ref_count(g);
	uint8_t *r = malloc(n + 1), *o = malloc(n + 1), *bf = malloc(n + 1);
	ms_vk_buffer *m = upload(c->mask, n), *out = buf(n), *tmp = buf(n);
	const double radii[] = { 0.5, 1.0, 2.5, 3.0 };
	for (int k = 0; k < 4; k++) {
		for (int slice = 0; slice < 2; slice++) {
			ms_seg_elem e = ms_segops_ref_ball(g, radii[k], slice);
			for (int op = MS_SEG_ERODE; op <= MS_SEG_DILATE; op++) {
				CHECK_EQ_INT(ms_segops_ref_morph(g, op, &e, c->mask, r), MS_OK);
				CHECK_EQ_INT(ms_segops_morph(ops, g, op, &e, m, out, tmp), MS_OK);
				download(out, o, n);
				same_bytes(op == MS_SEG_ERODE ? "erode" : "dilate", o, r, n);
				if (c->brute) {
					brute_morph(g, op, &e, c->mask, bf);
					same_bytes("morph ref vs brute", r, bf, n);
				}
			}
		}
	}
	ms_vk_buffer_destroy(tmp);
	ms_vk_buffer_destroy(out);
	ms_vk_buffer_destroy(m);
	free(bf);
	free(o);
	free(r);
}

static void check_components(const case_data *c)
{
	const ms_seg_grid *g = &c->g;
	size_t n = ms_segops_ref_count(g);
	uint32_t *rl = malloc(4 * n + 4), *rs = malloc(4 * n + 4);
	uint32_t *gl = malloc(4 * n + 4), *gs = malloc(4 * n + 4);
	uint8_t *r = malloc(n + 1), *o = malloc(n + 1);
	ms_vk_buffer *m = upload(c->mask, n), *labels = buf(4 * n), *sizes = buf(4 * n);
	ms_vk_buffer *out = buf(n), *hu = upload(c->hu, 4 * n);
	const ms_seg_conn conns[] = { MS_SEG_CONN4, MS_SEG_CONN8, MS_SEG_CONN6, MS_SEG_CONN26 };
	uint32_t seeds[5] = { 0, (uint32_t)(n / 2), (uint32_t)(n - 1), (uint32_t)(n / 3), (uint32_t)n + 7 };

	for (int k = 0; k < 4; k++) {
		for (int inv = 0; inv < 2; inv++) {
			CHECK_EQ_INT(ms_segops_ref_label(g, c->mask, inv, conns[k], rl, rs), MS_OK);
			CHECK_EQ_INT(ms_segops_label(ops, g, m, inv, conns[k], labels, sizes), MS_OK);
			if (c->brute)
				brute_labels(g, c->mask, inv, conns[k], rl, rs);
			ms_segops_ref_mark_seeds(g, rl, rs, seeds, 5);
			CHECK_EQ_INT(ms_segops_mark_seeds(ops, g, labels, sizes, seeds, 5), MS_OK);
			download(labels, gl, 4 * n);
			download(sizes, gs, 4 * n);
			same_words("labels", gl, rl, n);
			same_words("sizes", gs, rs, n);

			const ms_seg_select sels[] = {
				{ 0 },
				{ .min_size = 3 },
				{ .drop_border = true },
				{ .seeded_only = true },
				{ .n_keep = 2, .keep = { rl[n / 2], rl[n - 1] } },
			};
			for (int s = 0; s < 5; s++) {
				ms_segops_ref_select(g, rl, rs, &sels[s], r);
				CHECK_EQ_INT(ms_segops_select(ops, g, labels, sizes, &sels[s], out), MS_OK);
				download(out, o, n);
				same_bytes("select", o, r, n);

				uint32_t tl[4], ts[4], tg[4], tgs[4], nr, ng;
				ms_segops_ref_largest(g, rl, rs, &sels[s], 4, tl, ts, &nr);
				CHECK_EQ_INT(ms_segops_largest(ops, g, labels, sizes, &sels[s], 4, tg, tgs, &ng), MS_OK);
				CHECK_EQ_INT(ng, nr);
				for (uint32_t t = 0; t < nr && t < ng; t++) {
					CHECK_EQ_INT(tg[t], tl[t]);
					CHECK_EQ_INT(tgs[t], ts[t]);
				}
			}
		}
	}
	/* Hole filling (in place on the GPU) and region growing. */
	CHECK_EQ_INT(ms_segops_ref_fill_holes(g, c->mask, r), MS_OK);
	CHECK_EQ_INT(ms_segops_fill_holes(ops, g, m, m, labels, sizes), MS_OK);
	download(m, o, n);
	same_bytes("fill holes", o, r, n);
	for (int k = 0; k < 4; k++) {
		ms_vk_buffer *w = upload(c->mask, n);
		CHECK_EQ_INT(ms_segops_ref_grow(g, c->hu, -1000.0f, 50.0f, k % 2 ? c->mask : NULL,
						conns[k], seeds, 5, r), MS_OK);
		CHECK_EQ_INT(ms_segops_grow(ops, g, hu, -1000.0f, 50.0f, k % 2 ? w : NULL, conns[k], seeds,
					    5, out, labels, sizes), MS_OK);
		download(out, o, n);
		same_bytes("grow", o, r, n);
		ms_vk_buffer_destroy(w);
	}
	ms_vk_buffer_destroy(hu);
	ms_vk_buffer_destroy(out);
	ms_vk_buffer_destroy(sizes);
	ms_vk_buffer_destroy(labels);
	ms_vk_buffer_destroy(m);
	free(o);
	free(r);
	free(gs);
	free(gl);
	free(rs);
	free(rl);
}

static void check_float_ops(const case_data *c)
{
	const ms_seg_grid *g = &c->g;
	size_t n = ms_segops_ref_count(g);
	float *r = malloc(4 * n + 4), *o = malloc(4 * n + 4);
	ms_vk_buffer *hu = upload(c->hu, 4 * n), *m = upload(c->mask, n);
	ms_vk_buffer *out = buf(4 * n), *tmp = buf(4 * n);
	const double sig[][3] = { { 1.0, 1.0, 1.0 }, { 2.0, 0.0, 3.0 }, { 0.0, 0.0, 0.7 } };
	double scale = 1;
	for (size_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(c->hu[i]));
	for (int k = 0; k < 3; k++) {
		CHECK_EQ_INT(ms_segops_ref_gauss(g, c->hu, sig[k], r), MS_OK);
		CHECK_EQ_INT(ms_segops_gauss(ops, g, hu, sig[k], out, tmp), MS_OK);
		download(out, o, 4 * n);
		close_floats("gauss", o, r, n, scale);
	}
	CHECK_EQ_INT(ms_segops_ref_edt(g, c->mask, r), MS_OK);
	CHECK_EQ_INT(ms_segops_edt(ops, g, m, out, tmp), MS_OK);
	download(out, o, 4 * n);
	close_floats("edt", o, r, n, fmin(g->sx, fmin(g->sy, g->sz)));
	if (c->brute)
		brute_edt(g, c->mask, r);

	/* Marker propagation from a few random markers, to convergence and capped. */
	uint8_t *lab = calloc(n + 1, 1), *lr = malloc(n + 1), *lo = malloc(n + 1);
	for (int k = 0; k < 3; k++)
		lab[rnd() % n] = (uint8_t)(1 + k);
	for (int cap = 0; cap < 2; cap++) {
		uint32_t max_iter = cap ? 3 : 100000, ir, ig;
		ms_vk_buffer *lb = upload(lab, n), *lt = buf(n);
		memcpy(lr, lab, n);
		CHECK_EQ_INT(ms_segops_ref_propagate(g, c->mask, lr, max_iter, &ir), MS_OK);
		CHECK_EQ_INT(ms_segops_propagate(ops, g, m, lb, lt, max_iter, &ig), MS_OK);
		download(lb, lo, n);
		same_bytes("propagate", lo, lr, n);
		CHECK_EQ_INT(ig, ir);
		ms_vk_buffer_destroy(lt);
		ms_vk_buffer_destroy(lb);
	}
	free(lo);
	free(lr);
	free(lab);
	ms_vk_buffer_destroy(tmp);
	ms_vk_buffer_destroy(out);
	ms_vk_buffer_destroy(m);
	ms_vk_buffer_destroy(hu);
	free(o);
	free(r);
}

static void run_case(case_data *c)
{
	size_t n = ms_segops_ref_count(&c->g);
	int before = ms_test_failed;
	c->brute = n <= 3000;
	check_threshold_logic(c);
	check_morph(c);
	check_components(c);
	check_float_ops(c);
	printf("%-24s %ux%ux%u  %s\n", c->name, c->g.nx, c->g.ny, c->g.nz,
	       ms_test_failed == before ? "ok" : "FAILED");
}

/* Random mask with density p/100 and a CT-like volume loosely following it. */
static void random_case(const char *name, uint32_t nx, uint32_t ny, uint32_t nz, double sx,
			double sy, double sz, uint32_t p)
{
	case_data c = { name, { nx, ny, nz, sx, sy, sz }, NULL, NULL, false };
	size_t n = ms_segops_ref_count(&c.g);
	c.mask = malloc(n + 1);
	c.hu = malloc(4 * n + 4);
	for (size_t i = 0; i < n; i++) {
		c.mask[i] = rnd() % 100 < p;
		c.hu[i] = c.mask[i] ? (float)(rnd() % 400) - 100.0f : -1000.0f + (float)(rnd() % 700);
	}
	run_case(&c);
	free(c.hu);
	free(c.mask);
}

/* Worst cases for label propagation: a 1-voxel-wide square spiral in every slice (one
 * long path), a 3-D checkerboard (isolated under 6-, one blob under 26-connectivity) and a
 * staircase that climbs one voxel in z per column. */
static void pattern_case(const char *name, uint32_t nx, uint32_t ny, uint32_t nz, int kind)
{
	case_data c = { name, { nx, ny, nz, 0.7, 0.7, 2.5 }, NULL, NULL, false };
	size_t n = ms_segops_ref_count(&c.g);
	c.mask = calloc(n + 1, 1);
	c.hu = malloc(4 * n + 4);
	for (uint32_t z = 0; z < nz; z++) {
		if (kind == 0) {
			/* Spiral: walk inward, drawing every other ring. */
			int x0 = 0, y0 = 0, x1 = (int)nx - 1, y1 = (int)ny - 1;
			while (x0 <= x1 && y0 <= y1) {
				for (int x = x0; x <= x1; x++)
					c.mask[idx(&c.g, x, y0, z)] = 1;
				for (int y = y0; y <= y1; y++)
					c.mask[idx(&c.g, x1, y, z)] = 1;
				if (y1 > y0 + 1)
					for (int x = x0; x <= x1; x++)
						c.mask[idx(&c.g, x, y1, z)] = 1;
				if (x1 > x0 + 2)
					for (int y = y0 + 2; y <= y1; y++)
						c.mask[idx(&c.g, x0, y, z)] = 1;
				if (x0 + 2 <= x1 && y0 + 2 < (int)ny)
					c.mask[idx(&c.g, x0 + 1, y0 + 2, z)] = 1;
				x0 += 2;
				y0 += 2;
				x1 -= 2;
				y1 -= 2;
			}
		}
		for (uint32_t y = 0; y < ny; y++) {
			for (uint32_t x = 0; x < nx; x++) {
				if (kind == 1)
					c.mask[idx(&c.g, x, y, z)] = (x + y + z) % 2 == 0;
				if (kind == 2)
					c.mask[idx(&c.g, x, y, z)] = (x + y) % nz == z;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		c.hu[i] = c.mask[i] ? -1000.0f : 40.0f;
	run_case(&c);
	free(c.hu);
	free(c.mask);
}

int main(void)
{
	ms_vk_opts o = { .device = getenv("MS_VK_DEVICE"), .validation = false };
	ms_status rc = ms_vk_context_create(&o, &ctx);
	if (rc == MS_ERR_NOTFOUND) {
		printf("no Vulkan device: skipped\n");
		return 77;
	}
	CHECK_EQ_INT(rc, MS_OK);
	if (rc != MS_OK)
		return TEST_REPORT();
	CHECK_EQ_INT(ms_segops_create(ctx, &ops), MS_OK);
	if (!ops)
		return TEST_REPORT();

	random_case("single voxel on", 1, 1, 1, 1, 1, 1, 100);
	random_case("single voxel off", 1, 1, 1, 1, 1, 1, 0);
	random_case("row 1023", 1023, 1, 1, 0.7, 0.7, 2.5, 50);
	random_case("row 1025", 1025, 1, 1, 0.7, 0.7, 2.5, 50);
	random_case("column 1024", 1, 1024, 1, 0.7, 0.7, 2.5, 60);
	random_case("odd 17x13x11", 17, 13, 11, 0.8, 0.6, 1.7, 45);
	random_case("odd 13x7x3 dense", 13, 7, 3, 1, 1, 1, 80);
	random_case("aniso 33x31x9", 33, 31, 9, 0.5, 0.9, 3.0, 55);
	random_case("slab 67x65x5", 67, 65, 5, 0.7, 0.7, 2.5, 40);
	random_case("random 64x64x24", 64, 64, 24, 1.2, 1.2, 2.0, 52);
	pattern_case("spiral 61x57x2", 61, 57, 2, 0);
	pattern_case("checkerboard 15x14x13", 15, 14, 13, 1);
	pattern_case("staircase 40x36x9", 40, 36, 9, 2);

	/* EDT whose line envelopes exceed one binding on lavapipe (128 MiB): batched lines. */
	{
		ms_seg_grid g = { 256, 256, 260, 0.8, 0.8, 1.5 };
		size_t n = ms_segops_ref_count(&g);
		uint8_t *m = malloc(n);
		float *r = malloc(4 * n), *o = malloc(4 * n);
		for (size_t i = 0; i < n; i++)
			m[i] = rnd() % 1000 != 0;
		ms_vk_buffer *bm = upload(m, n), *out = buf(4 * n), *tmp = buf(4 * n);
		CHECK_EQ_INT(ms_segops_ref_edt(&g, m, r), MS_OK);
		CHECK_EQ_INT(ms_segops_edt(ops, &g, bm, out, tmp), MS_OK);
		download(out, o, 4 * n);
		close_floats("edt large", o, r, n, 0.8);
		ms_vk_buffer_destroy(tmp);
		ms_vk_buffer_destroy(out);
		ms_vk_buffer_destroy(bm);
		free(o);
		free(r);
		free(m);
		printf("edt large 256x256x260 done\n");
	}

	/* Argument checks: a bad connectivity and too small a buffer fail without running. */
	ms_seg_grid g = { 4, 4, 4, 1, 1, 1 };
	ms_vk_buffer *small = buf(10), *big = buf(256);
	CHECK_EQ_INT(ms_segops_label(ops, &g, big, false, (ms_seg_conn)5, big, big), MS_ERR_ARG);
	CHECK_EQ_INT(ms_segops_label(ops, &g, small, false, MS_SEG_CONN6, big, big), MS_ERR_ARG);
	ms_seg_elem bad = { -1, 1, 1 };
	CHECK_EQ_INT(ms_segops_morph(ops, &g, MS_SEG_DILATE, &bad, big, big, big), MS_ERR_ARG);
	ms_vk_buffer_destroy(big);
	ms_vk_buffer_destroy(small);

	printf("gpu time %.1f ms\n", ms_segops_gpu_ms(ops));
	ms_segops_destroy(ops);
	ms_vk_context_destroy(ctx);
	return TEST_REPORT();
}
