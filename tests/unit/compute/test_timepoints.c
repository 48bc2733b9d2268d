/* Time-point grouping (compute/timepoints.c): every rule of ANALYSES.md 2.1 and every error
 * message, on synthetic image records in shuffled order. */
#include <stdlib.h>

#include "common/alloc.h"
#include "compute/timepoints.h"
#include "tests/testhelp.h"

#define MAX_IMG 4096

static ms_timepoints_image img[MAX_IMG];
static char err[256];

static uint32_t rng = 12345u;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void shuffle(size_t n)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = next_rand() % (i + 1);
		ms_timepoints_image t = img[i];
		img[i] = img[j];
		img[j] = t;
	}
}

/* nt x nz records: z = 2.5 * slice mm, time point k acquired at 100 + dt*k s with the
 * slices 0.05 s apart. Absent attributes per ms_timepoints_image. */
static size_t make(uint32_t nt, uint32_t nz, double dt)
{
	size_t n = 0;

	for (uint32_t k = 0; k < nt; k++) {
		for (uint32_t s = 0; s < nz; s++) {
			img[n] = (ms_timepoints_image){
				.z = 2.5 * s,
				.acq_time_s = 100 + dt * k + 0.05 * s,
				.trigger_time_ms = -1,
			};
			n++;
		}
	}
	return n;
}

/* Checks the grouping: time point t slice z holds the record made for (t, z). */
static void check_layout(const ms_timepoints *t, uint32_t nt, uint32_t nz, double dt)
{
	CHECK_EQ_INT(t->n_t, nt);
	CHECK_EQ_INT(t->n_z, nz);
	if (t->n_t != nt || t->n_z != nz)
		return;
	int bad = 0;
	for (uint32_t k = 0; k < nt; k++) {
		for (uint32_t s = 0; s < nz; s++) {
			const ms_timepoints_image *m = &img[t->index[k * nz + s]];
			bad += fabs(m->z - 2.5 * s) > 0.02;
			bad += fabs(m->acq_time_s - (100 + dt * k + 0.05 * s)) > 1e-9 && m->acq_time_s >= 0;
		}
		CHECK_NEAR(t->t_s[k], dt * k, 1e-9);
	}
	CHECK_EQ_INT(bad, 0);
	for (uint32_t s = 0; s < nz; s++)
		CHECK_NEAR(t->z[s], 2.5 * s, 0.02);
}

static ms_status run(size_t n, ms_timepoints *t)
{
	return ms_timepoints_group(img, n, t, err, sizeof(err));
}

static void test_mr_temporal(void)
{
	ms_timepoints t = { 0 };
	size_t n = make(6, 5, 1.5);

	for (size_t i = 0; i < n; i++)
		img[i].temporal_position = (int)(i / 5) + 1;
	shuffle(n);
	CHECK_EQ_INT(run(n, &t), MS_OK);
	CHECK_EQ_INT(t.rule, MS_TIMEPOINTS_TEMPORAL);
	CHECK(!t.trigger_time);
	CHECK(!t.uneven);
	check_layout(&t, 6, 5, 1.5);
	ms_timepoints_clear(&t);
}

/* Same AcquisitionTime for the whole series: TriggerTime is used because it varies. */
static void test_mr_trigger(void)
{
	ms_timepoints t = { 0 };
	size_t n = make(4, 3, 2.0);

	for (size_t i = 0; i < n; i++) {
		img[i].temporal_position = (int)(i / 3) + 1;
		img[i].trigger_time_ms = 500 + 2000.0 * (double)(i / 3);
		img[i].acq_time_s = 100;
	}
	shuffle(n);
	CHECK_EQ_INT(run(n, &t), MS_OK);
	CHECK(t.trigger_time);
	CHECK_EQ_INT(t.n_t, 4);
	for (uint32_t k = 0; k < t.n_t && t.t_s; k++)
		CHECK_NEAR(t.t_s[k], 2.0 * k, 1e-9);
	ms_timepoints_clear(&t);

	/* Constant trigger time and constant acquisition time: no time. */
	for (size_t i = 0; i < n; i++)
		img[i].trigger_time_ms = 500;
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "time point 2 has no AcquisitionTime or varying TriggerTime");
	CHECK(t.index == NULL && t.n_t == 0);
	/* A missing acquisition time on one record, no trigger time. */
	n = make(4, 3, 2.0);
	for (size_t i = 0; i < n; i++)
		img[i].temporal_position = (int)(i / 3) + 1;
	img[7].acq_time_s = -1; /* time point 3 */
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "time point 3 has no AcquisitionTime or varying TriggerTime");
}

static void test_enhanced_frames(void)
{
	ms_timepoints t = { 0 };
	size_t n = make(5, 4, 1.0);

	/* Frame indices win over other attributes; times from the temporal offsets. */
	for (size_t i = 0; i < n; i++) {
		img[i].frame = (int)(i / 4) + 1;
		img[i].temporal_position = 1;
		img[i].acq_time_s = -1;
		img[i].trigger_time_ms = 1000.0 * (double)(i / 4);
	}
	shuffle(n);
	CHECK_EQ_INT(run(n, &t), MS_OK);
	CHECK_EQ_INT(t.rule, MS_TIMEPOINTS_FRAME);
	check_layout(&t, 5, 4, 1.0);
	ms_timepoints_clear(&t);
}

static void test_ct_acq_number(void)
{
	ms_timepoints t = { 0 };
	size_t n = make(5, 8, 2.0);

	for (size_t i = 0; i < n; i++)
		img[i].acquisition_number = 10 + (int)(i / 8);
	shuffle(n);
	CHECK_EQ_INT(run(n, &t), MS_OK);
	CHECK_EQ_INT(t.rule, MS_TIMEPOINTS_ACQ_NUMBER);
	check_layout(&t, 5, 8, 2.0);
	ms_timepoints_clear(&t);

	/* Numbers out of time order: groups are ordered by time, not number. */
	n = make(4, 2, 3.0);
	for (size_t i = 0; i < n; i++)
		img[i].acquisition_number = 9 - (int)(i / 2);
	CHECK_EQ_INT(run(n, &t), MS_OK);
	check_layout(&t, 4, 2, 3.0);
	ms_timepoints_clear(&t);

	/* Numbers without any time: the numbers still group, the time is missing. */
	n = make(4, 2, 3.0);
	for (size_t i = 0; i < n; i++) {
		img[i].acquisition_number = 1 + (int)(i / 2);
		img[i].acq_time_s = -1;
	}
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "time point 1 has no AcquisitionTime or varying TriggerTime");
	/* ... and report the short time point when they do not split evenly (times from a
	 * varying TriggerTime). */
	for (size_t i = 0; i < n; i++)
		img[i].trigger_time_ms = 3000.0 * (double)(i / 2);
	img[5] = img[7];
	CHECK_EQ_INT(run(n - 1, &t), MS_ERR_INPUT);
	CHECK_STR(err, "time point 3 has 1 slices, expected 2");
}

/* One AcquisitionNumber for the whole series (or one per image): cluster times instead. */
static void test_ct_acq_time(void)
{
	ms_timepoints t = { 0 };
	size_t n = make(7, 6, 1.0);

	for (size_t i = 0; i < n; i++)
		img[i].acquisition_number = 1;
	shuffle(n);
	CHECK_EQ_INT(run(n, &t), MS_OK);
	CHECK_EQ_INT(t.rule, MS_TIMEPOINTS_ACQ_TIME);
	check_layout(&t, 7, 6, 1.0);
	ms_timepoints_clear(&t);

	n = make(7, 6, 1.0);
	for (size_t i = 0; i < n; i++)
		img[i].acquisition_number = (int)i + 1;
	CHECK_EQ_INT(run(n, &t), MS_OK);
	CHECK_EQ_INT(t.rule, MS_TIMEPOINTS_ACQ_TIME);
	check_layout(&t, 7, 6, 1.0);
	ms_timepoints_clear(&t);

	/* Shuttle mode: every other pass runs down the table; all slices of a pass share its
	 * time in the even passes. */
	n = make(6, 5, 2.0);
	for (size_t i = 0; i < n; i++) {
		uint32_t k = (uint32_t)(i / 5), s = (uint32_t)(i % 5);
		img[i].acq_time_s = 100 + 2.0 * k + (k & 1 ? 0.05 * (4 - s) : 0);
	}
	shuffle(n);
	CHECK_EQ_INT(run(n, &t), MS_OK);
	CHECK_EQ_INT(t.n_t, 6);
	CHECK_EQ_INT(t.n_z, 5);
	for (uint32_t k = 0; k < t.n_t && t.t_s; k++)
		CHECK_NEAR(t.t_s[k], 2.0 * k, 1e-9);
	ms_timepoints_clear(&t);

	/* Variable sampling (1 s then 3 s): clustering does not depend on the gaps. */
	n = 0;
	double times[] = { 0, 1, 2, 3, 4, 7, 10, 13 };
	for (uint32_t k = 0; k < 8; k++)
		for (uint32_t s = 0; s < 3; s++)
			img[n++] = (ms_timepoints_image){ .z = 2.5 * s, .acq_time_s = 50 + times[k],
							  .trigger_time_ms = -1 };
	CHECK_EQ_INT(run(n, &t), MS_OK);
	CHECK_EQ_INT(t.n_t, 8);
	CHECK(t.uneven);
	for (uint32_t k = 0; k < t.n_t && t.t_s; k++)
		CHECK_NEAR(t.t_s[k], times[k], 1e-9);
	ms_timepoints_clear(&t);

	/* 10 time points of 32 slices, time point 7 lacks one. */
	n = make(10, 32, 2.0);
	for (size_t i = 6 * 32 + 5; i + 1 < n; i++)
		img[i] = img[i + 1];
	n--;
	shuffle(n);
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "time point 7 has 31 slices, expected 32");
}

static void test_midnight(void)
{
	ms_timepoints t = { 0 };
	size_t n = make(5, 2, 2.0);

	for (size_t i = 0; i < n; i++) {
		img[i].temporal_position = (int)(i / 2) + 1;
		img[i].acq_time_s = fmod(86397.0 + 2.0 * (double)(i / 2), 86400.0);
	}
	CHECK_EQ_INT(run(n, &t), MS_OK);
	for (uint32_t k = 0; k < t.n_t && t.t_s; k++)
		CHECK_NEAR(t.t_s[k], 2.0 * k, 1e-9);
	ms_timepoints_clear(&t);
}

static void test_positions(void)
{
	ms_timepoints t = { 0 };
	size_t n = make(6, 8, 1.0);

	/* Within 0.01 mm: the same position. */
	for (size_t i = 0; i < n; i++) {
		img[i].temporal_position = (int)(i / 8) + 1;
		img[i].z += (i / 8) & 1 ? 0.006 : -0.003;
	}
	CHECK_EQ_INT(run(n, &t), MS_OK);
	check_layout(&t, 6, 8, 1.0);
	ms_timepoints_clear(&t);

	/* Time point 5 has z = 12.5 moved to 12.6. */
	n = make(6, 8, 1.0);
	for (size_t i = 0; i < n; i++)
		img[i].temporal_position = (int)(i / 8) + 1;
	img[4 * 8 + 5].z = 12.6;
	shuffle(n);
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "slice positions differ between time points 1 and 5 (z=12.5 mm missing)");

	/* Time point 3 has z = 5 twice (z = 7.5 missing). */
	n = make(6, 8, 1.0);
	for (size_t i = 0; i < n; i++)
		img[i].temporal_position = (int)(i / 8) + 1;
	img[2 * 8 + 3].z = 5.0;
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "duplicate slice position z=5 mm in time point 3");

	/* Temporal grouping with a short time point 4. */
	n = make(6, 8, 1.0);
	for (size_t i = 0; i < n; i++)
		img[i].temporal_position = (int)(i / 8) + 1;
	img[3 * 8 + 2].temporal_position = 7;
	img[3 * 8 + 2].acq_time_s = 110;
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "time point 4 has 7 slices, expected 8");
}

static void test_errors(void)
{
	ms_timepoints t = { 0 };
	size_t n = make(4, 3, 1.0);

	for (size_t i = 0; i < n; i++)
		img[i].acq_time_s = -1;
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "cannot find time points: no TemporalPositionIdentifier, AcquisitionNumber "
		       "or AcquisitionTime");

	n = make(2, 3, 1.0);
	for (size_t i = 0; i < n; i++)
		img[i].temporal_position = (int)(i / 3) + 1;
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "a dynamic series needs at least 3 time points");
	CHECK_EQ_INT(run(2, &t), MS_ERR_INPUT);
	CHECK_STR(err, "a dynamic series needs at least 3 time points");

	n = make(4, 3, 1.0);
	for (size_t i = 0; i < n; i++)
		img[i].temporal_position = (int)(i / 3) + 1;
	for (size_t i = 6; i < 9; i++)
		img[i].acq_time_s = img[i - 3].acq_time_s;
	CHECK_EQ_INT(run(n, &t), MS_ERR_INPUT);
	CHECK_STR(err, "time points 2 and 3 have the same time 1.000 s");

	CHECK_EQ_INT(ms_timepoints_group(NULL, 4, &t, NULL, 0), MS_ERR_ARG);
	CHECK_EQ_INT(ms_timepoints_group(img, 4, NULL, NULL, 0), MS_ERR_ARG);
	ms_timepoints_clear(NULL);
}

static void test_alloc_failures(void)
{
	size_t n = make(5, 4, 1.0);
	int bad = 0, ok = 0;

	for (long i = 1; i < 40 && !ok; i++) {
		ms_timepoints t = { 0 };
		ms_alloc_fail_at(i, 0);
		ms_status rc = ms_timepoints_group(img, n, &t, NULL, 0);
		long injected = ms_alloc_fail_at(0, 0);
		if (rc != MS_OK)
			bad += rc != MS_ERR_NOMEM || t.index != NULL;
		ok = rc == MS_OK && injected == 0;
		ms_timepoints_clear(&t);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(ok);
}

int main(void)
{
	test_mr_temporal();
	test_mr_trigger();
	test_enhanced_frames();
	test_ct_acq_number();
	test_ct_acq_time();
	test_midnight();
	test_positions();
	test_errors();
	test_alloc_failures();
	return TEST_REPORT();
}
