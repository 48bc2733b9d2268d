/* CT segmentation pipeline, plain-C variant (compute/ctseg.c over compute/segops_ref.c), on
 * the ANALYSES.md 3 phantom at two resolutions: Dice >= 0.99 per structure against the
 * analytic shapes (voxel centres inside), table excluded from the body, lungs separated and
 * sided (left = +x), heart ROI between the lungs, anterior to the spine, inside the body and
 * outside bone; fused lungs split; trachea/bronchi removed; a volume without lungs; bad
 * parameters; and every allocation failure (faultsim loop) on a small phantom. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "compute/ctseg.h"
#include "tests/testhelp.h"

#define BIT(l) (1u << (l))

/* Dice of mask m against the truth labels in the bit set 'labels'. */
static double dice(const uint8_t *m, const uint8_t *truth, size_t n, unsigned labels)
{
	double a = 0, b = 0, both = 0;
	for (size_t i = 0; i < n; i++) {
		bool t = (labels >> truth[i]) & 1u;
		a += m[i] != 0;
		b += t;
		both += m[i] && t;
	}
	return a + b > 0 ? 2 * both / (a + b) : 1;
}

static size_t count(const uint8_t *m, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += m[i] != 0;
	return c;
}

/* Heart ROI: non-empty, inside the body, outside bone, between the lung centres
 * (|x| < 75 mm) up to the dilation, anterior to the spine front (y < 75 mm) up to the dilation, in the lungs'
 * z range up to the dilation; and it contains the point between the lungs. */
static void check_heart(const ms_volume *v, const ms_ctseg_result *r, const ms_ctseg_params *p)
{
	const ms_geometry *g = &v->geom;
	size_t i = 0, bad = 0;
	double lz = fmin(60, 0.4 * v->nz * g->spacing[2]), d = p->heart_dilate_mm;
	CHECK(count(r->heart_roi, ms_volume_count(v)) > 0);
	for (uint32_t k = 0; k < v->nz; k++)
		for (uint32_t j = 0; j < v->ny; j++)
			for (uint32_t c = 0; c < v->nx; c++, i++) {
				double x = g->origin[0] + c * g->spacing[0], y = g->origin[1] + j * g->spacing[1];
				double z = g->origin[2] + k * g->spacing[2];
				if (!r->heart_roi[i])
					continue;
				bool wrong = !r->body[i] || r->bone[i] || fabs(x) >= 75 + d + g->spacing[0] ||
					     y >= 75 + d + g->spacing[1] || fabs(z) > lz + d + g->spacing[2];
				if (wrong && bad++ < 3)
					fprintf(stderr, "heart ROI at (%g, %g, %g): body %d bone %d\n", x, y, z,
						r->body[i], r->bone[i]);
			}
	CHECK_EQ_INT(bad, 0);
	uint32_t c = v->nx / 2, j = (uint32_t)lround((20 - g->origin[1]) / g->spacing[1]);
	CHECK(r->heart_roi[c + (size_t)v->nx * (j + (size_t)v->ny * (v->nz / 2))] != 0);
}

static void run_phantom(uint32_t nx, uint32_t ny, uint32_t nz, double sxy, double sz,
			ms_ctseg_phantom_opts o)
{
	ms_volume *v;
	uint8_t *t;
	ms_ctseg_result r = { 0 };
	ms_ctseg_params p;
	int before = ms_test_failed;

	ms_ctseg_params_default(&p);
	CHECK_EQ_INT(ms_ctseg_phantom(nx, ny, nz, sxy, sz, &o, &v, &t), MS_OK);
	size_t n = ms_volume_count(v);
	CHECK_EQ_INT(ms_ctseg_ref(v, &p, &r), MS_OK);
	double min_dice = o.fused ? 0.97 : 0.99;
	/* The body includes what it encloses: lungs, spine, airways. */
	double db = dice(r.body, t, n, BIT(MS_PHANTOM_TISSUE) | BIT(MS_PHANTOM_LUNG_LEFT) |
			 BIT(MS_PHANTOM_LUNG_RIGHT) | BIT(MS_PHANTOM_SPINE) | BIT(MS_PHANTOM_AIRWAY));
	double dl = dice(r.lung_left, t, n, BIT(MS_PHANTOM_LUNG_LEFT));
	double dr = dice(r.lung_right, t, n, BIT(MS_PHANTOM_LUNG_RIGHT));
	double dbone = dice(r.bone, t, n, BIT(MS_PHANTOM_SPINE));
	CHECK(db >= 0.99);
	CHECK(dbone >= 0.99);
	size_t on_table = 0;
	for (size_t i = 0; i < n; i++)
		on_table += r.body[i] && t[i] == MS_PHANTOM_TABLE;
	CHECK_EQ_INT(on_table, 0);
	CHECK(r.volume_ml[MS_CTSEG_BODY] > 0);
	if (o.lungs) {
		CHECK(dl >= min_dice);
		CHECK(dr >= min_dice);
		CHECK_EQ_INT(r.lungs_fused, o.fused);
		CHECK_EQ_INT(r.airway_removed, o.airway);
		size_t overlap = 0;
		for (size_t i = 0; i < n; i++)
			overlap += r.lung_left[i] && r.lung_right[i];
		CHECK_EQ_INT(overlap, 0);
		check_heart(v, &r, &p);
	} else {
		CHECK_EQ_INT(count(r.lung_left, n), 0);
		CHECK_EQ_INT(count(r.lung_right, n), 0);
		CHECK_EQ_INT(count(r.heart_roi, n), 0);
		CHECK(r.volume_ml[MS_CTSEG_LUNG_LEFT] == 0);
	}
	CHECK_NEAR(r.volume_ml[MS_CTSEG_BONE], count(r.bone, n) * sxy * sxy * sz / 1000, 1e-9);
	printf("%ux%ux%u %.1f/%.1f mm lungs=%d fused=%d airway=%d: dice body %.4f left %.4f right "
	       "%.4f bone %.4f, heart %.0f ml, %.0f ms  %s\n",
	       nx, ny, nz, sxy, sz, o.lungs, o.fused, o.airway, db, dl, dr, dbone,
	       r.volume_ml[MS_CTSEG_HEART],
	       r.stage_ms[1] + r.stage_ms[2] + r.stage_ms[3] + r.stage_ms[4],
	       ms_test_failed == before ? "ok" : "FAILED");
	ms_ctseg_result_clear(&r);
	ms_ctseg_result_clear(&r); /* idempotent */
	ms_free(t);
	ms_volume_destroy(v);
}

static void check_arguments(void)
{
	ms_volume *v;
	ms_ctseg_result r = { 0 };
	ms_ctseg_params p;

	CHECK_EQ_INT(ms_ctseg_phantom(16, 16, 4, 25, 25, NULL, &v, NULL), MS_OK);
	ms_ctseg_params_default(&p);
	p.lung_fused_ratio = NAN;
	CHECK_EQ_INT(ms_ctseg_ref(v, &p, &r), MS_ERR_ARG);
	CHECK(r.body == NULL);
	ms_ctseg_params_default(&p);
	p.conn = MS_SEG_CONN4;
	CHECK_EQ_INT(ms_ctseg_ref(v, &p, &r), MS_ERR_ARG);
	CHECK_EQ_INT(ms_ctseg_ref(NULL, NULL, &r), MS_ERR_ARG);
	v->geom.spacing[2] = 0;
	CHECK_EQ_INT(ms_ctseg_ref(v, NULL, &r), MS_ERR_INPUT);
	ms_volume_destroy(v);
}

/* Every allocation of the pipeline fails once: MS_ERR_NOMEM and a cleared result, never a
 * crash or leak (run under ASan); then it succeeds. */
static void check_faults(void)
{
	ms_volume *v;
	ms_ctseg_result r = { 0 };
	ms_ctseg_phantom_opts o = { .lungs = true, .fused = true };
	int failures = 0;

	CHECK_EQ_INT(ms_ctseg_phantom(40, 40, 12, 10, 12, &o, &v, NULL), MS_OK);
	for (long k = 1; k < 10000; k++) {
		ms_alloc_fail_at(k, 0);
		ms_status rc = ms_ctseg_ref(v, NULL, &r);
		long injected = ms_alloc_fail_at(0, 0);
		if (injected == 0) {
			CHECK_EQ_INT(rc, MS_OK);
			CHECK(k > 20); /* the pipeline allocates; the loop must have injected */
			printf("faultsim: %ld allocations failed one at a time\n", k - 1);
			break;
		}
		if (rc != MS_ERR_NOMEM || r.body != NULL)
			failures++;
		ms_ctseg_result_clear(&r);
	}
	CHECK_EQ_INT(failures, 0);
	ms_ctseg_result_clear(&r);
	ms_volume_destroy(v);
}

int main(void)
{
	ms_ctseg_phantom_opts plain = { .lungs = true };
	ms_ctseg_phantom_opts fused = { .lungs = true, .fused = true };
	ms_ctseg_phantom_opts airway = { .lungs = true, .airway = true };
	ms_ctseg_phantom_opts none = { .lungs = false };

	run_phantom(96, 96, 40, 4, 5, plain);
	run_phantom(128, 128, 64, 3, 2.5, plain);
	run_phantom(96, 96, 40, 4, 5, fused);
	run_phantom(128, 128, 64, 3, 2.5, fused);
	run_phantom(128, 128, 64, 3, 2.5, airway);
	run_phantom(96, 96, 40, 4, 5, none);
	check_arguments();
	check_faults();
	return TEST_REPORT();
}
