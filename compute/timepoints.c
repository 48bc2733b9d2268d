#include "compute/timepoints.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

#define Z_TOL 0.01      /* mm: "identical positions" */
#define HALF_DAY 43200.0

/* Working state: members of group g are perm[start[g] .. start[g + 1]). */
typedef struct {
	const ms_timepoints_image *img;
	size_t n;
	uint32_t g;       /* number of groups */
	uint32_t *perm;   /* n image indices grouped, each group sorted by z */
	uint32_t *start;  /* g + 1 */
	long *key;        /* g: grouping key (frame, number) or first member for time clusters */
	double *time;     /* g: group time in seconds (absolute) */
	uint32_t *order;  /* g: groups in time order */
} grouping;

static ms_status fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static ms_status fail(char *err, size_t err_size, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ms_log_error("time points: %s", msg);
	if (err && err_size)
		snprintf(err, err_size, "%s", msg);
	return MS_ERR_INPUT;
}

void ms_timepoints_clear(ms_timepoints *t)
{
	if (!t)
		return;
	ms_free(t->index);
	ms_free(t->t_s);
	ms_free(t->z);
	memset(t, 0, sizeof(*t));
}

/* qsort_r context: keeps the module reentrant. */
typedef struct {
	const ms_timepoints_image *img;
	const long *key;
	const double *time;
} sort_ctx;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* By grouping key, then z, then index (stable). */
static int cmp_key_z(const void *a, const void *b, void *ctx)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const ms_timepoints_image *sort_img = ((sort_ctx *)ctx)->img;
	const long *sort_key = ((sort_ctx *)ctx)->key;

	if (sort_key[i] != sort_key[j])
		return sort_key[i] < sort_key[j] ? -1 : 1;
	if (sort_img[i].z != sort_img[j].z)
		return sort_img[i].z < sort_img[j].z ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* By acquisition time, then z, then index. */
static int cmp_time_z(const void *a, const void *b, void *ctx)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const ms_timepoints_image *sort_img = ((sort_ctx *)ctx)->img;
	double ti = sort_img[i].acq_time_s, tj = sort_img[j].acq_time_s;

	if (ti != tj)
		return ti < tj ? -1 : 1;
	if (sort_img[i].z != sort_img[j].z)
		return sort_img[i].z < sort_img[j].z ? -1 : 1;
	return i < j ? -1 : i > j;
}

static long key_of(const ms_timepoints_image *m, ms_timepoints_rule rule)
{
	switch (rule) {
	case MS_TIMEPOINTS_FRAME:
		return m->frame;
	case MS_TIMEPOINTS_TEMPORAL:
		return m->temporal_position;
	default:
		return m->acquisition_number;
	}
}

static uint32_t distinct_positions(const ms_timepoints_image *img, size_t n, double *scratch)
{
	uint32_t k = 0;

	for (size_t i = 0; i < n; i++)
		scratch[i] = img[i].z;
	qsort(scratch, n, sizeof(double), cmp_double);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || scratch[i] - scratch[i - 1] > Z_TOL)
			k++;
	}
	return k;
}

/* Groups by key (rules 1-3): perm sorted by (key, z), a group per distinct key. */
static void group_by_key(grouping *gr, long *sort_key, ms_timepoints_rule rule)
{
	sort_ctx ctx = { gr->img, sort_key, NULL };

	for (size_t i = 0; i < gr->n; i++) {
		sort_key[i] = key_of(&gr->img[i], rule);
		gr->perm[i] = (uint32_t)i;
	}
	qsort_r(gr->perm, gr->n, sizeof(uint32_t), cmp_key_z, &ctx);
	gr->g = 0;
	for (size_t i = 0; i < gr->n; i++) {
		if (i == 0 || sort_key[gr->perm[i]] != sort_key[gr->perm[i - 1]]) {
			gr->key[gr->g] = sort_key[gr->perm[i]];
			gr->start[gr->g++] = (uint32_t)i;
		}
	}
	gr->start[gr->g] = (uint32_t)gr->n;
}

/* Rule 4: in (time, z) order a time point ends where a position repeats. */
static void group_by_time(grouping *gr, long *sort_key)
{
	sort_ctx ctx = { gr->img, sort_key, NULL };

	for (size_t i = 0; i < gr->n; i++)
		gr->perm[i] = (uint32_t)i;
	qsort_r(gr->perm, gr->n, sizeof(uint32_t), cmp_time_z, &ctx);
	gr->g = 0;
	for (size_t i = 0; i < gr->n; i++) {
		double z = gr->img[gr->perm[i]].z;
		int repeat = i == 0;
		for (size_t j = gr->g ? gr->start[gr->g - 1] : 0; j < i && !repeat; j++)
			repeat = fabs(gr->img[gr->perm[j]].z - z) <= Z_TOL;
		if (repeat) {
			gr->key[gr->g] = (long)i;
			gr->start[gr->g++] = (uint32_t)i;
		}
	}
	gr->start[gr->g] = (uint32_t)gr->n;
	/* Members sorted by z for the position checks (equal keys: z decides). */
	for (size_t i = 0; i < gr->n; i++)
		sort_key[i] = 0;
	for (uint32_t k = 0; k < gr->g; k++)
		qsort_r(gr->perm + gr->start[k], gr->start[k + 1] - gr->start[k], sizeof(uint32_t),
			cmp_key_z, &ctx);
}

/* Earliest time of every group from one source; false when a member lacks it or all
 * groups share one time (the source does not "vary"). */
static bool group_times(grouping *gr, bool trigger, uint32_t *missing)
{
	double lo = INFINITY, hi = -INFINITY;

	for (size_t i = 0; i < gr->n; i++) {
		double t = trigger ? gr->img[i].trigger_time_ms : gr->img[i].acq_time_s;
		if (t >= 0) {
			lo = t < lo ? t : lo;
			hi = t > hi ? t : hi;
		}
	}
	/* A series that runs across midnight: early-morning times belong to the next day. */
	bool wrap = !trigger && hi - lo > HALF_DAY;
	for (uint32_t k = 0; k < gr->g; k++) {
		double best = INFINITY;
		for (uint32_t m = gr->start[k]; m < gr->start[k + 1]; m++) {
			const ms_timepoints_image *im = &gr->img[gr->perm[m]];
			double t = trigger ? im->trigger_time_ms / 1000.0 : im->acq_time_s;
			if (t < 0) {
				*missing = k;
				return false;
			}
			if (wrap && t < HALF_DAY)
				t += 2 * HALF_DAY;
			best = t < best ? t : best;
		}
		gr->time[k] = best;
	}
	for (uint32_t k = 1; k < gr->g; k++) {
		if (gr->time[k] != gr->time[0])
			return true;
	}
	*missing = gr->g > 1 ? 1 : 0;
	return false;
}

static int cmp_order(const void *a, const void *b, void *ctx)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const double *time_for_order = ((sort_ctx *)ctx)->time;

	if (time_for_order[i] != time_for_order[j])
		return time_for_order[i] < time_for_order[j] ? -1 : 1;
	return i < j ? -1 : i > j;
}

static ms_status check_and_emit(grouping *gr, bool trigger, ms_timepoints *out, char *err,
				size_t err_size)
{
	uint32_t g = gr->g;

	/* Duplicates first: they explain a wrong slice count better than the count does. */
	for (uint32_t r = 0; r < g; r++) {
		uint32_t k = gr->order[r];
		for (uint32_t m = gr->start[k] + 1; m < gr->start[k + 1]; m++) {
			double z0 = gr->img[gr->perm[m - 1]].z, z1 = gr->img[gr->perm[m]].z;
			if (z1 - z0 <= Z_TOL)
				return fail(err, err_size, "duplicate slice position z=%g mm in time point %u",
					    z1, r + 1);
		}
	}
	/* The reference is the most common size (ties: the larger one). */
	uint32_t ref_size = 0, ref_count = 0;
	for (uint32_t a = 0; a < g; a++) {
		uint32_t sa = gr->start[a + 1] - gr->start[a], cnt = 0;
		for (uint32_t b = 0; b < g; b++)
			cnt += gr->start[b + 1] - gr->start[b] == sa;
		if (cnt > ref_count || (cnt == ref_count && sa > ref_size)) {
			ref_count = cnt;
			ref_size = sa;
		}
	}
	uint32_t ref = g;
	for (uint32_t r = 0; r < g; r++) {
		uint32_t k = gr->order[r], sk = gr->start[k + 1] - gr->start[k];
		if (sk != ref_size)
			return fail(err, err_size, "time point %u has %u slices, expected %u", r + 1, sk,
				    ref_size);
		if (ref == g)
			ref = r;
	}
	uint32_t kref = gr->order[ref];
	for (uint32_t r = 0; r < g; r++) {
		uint32_t k = gr->order[r];
		for (uint32_t m = 0; m < ref_size; m++) {
			double zr = gr->img[gr->perm[gr->start[kref] + m]].z;
			bool found = false;
			for (uint32_t q = 0; q < ref_size && !found; q++)
				found = fabs(gr->img[gr->perm[gr->start[k] + q]].z - zr) <= Z_TOL;
			if (!found)
				return fail(err, err_size,
					    "slice positions differ between time points %u and %u "
					    "(z=%g mm missing)", ref + 1, r + 1, zr);
		}
	}

	out->n_t = g;
	out->n_z = ref_size;
	out->index = ms_malloc((size_t)g * ref_size * sizeof(uint32_t));
	out->t_s = ms_malloc(g * sizeof(double));
	out->z = ms_malloc(ref_size * sizeof(double));
	if (!out->index || !out->t_s || !out->z)
		return MS_ERR_NOMEM;
	for (uint32_t r = 0; r < g; r++) {
		uint32_t k = gr->order[r];
		out->t_s[r] = gr->time[k] - gr->time[gr->order[0]];
		for (uint32_t m = 0; m < ref_size; m++)
			out->index[(size_t)r * ref_size + m] = gr->perm[gr->start[k] + m];
	}
	for (uint32_t m = 0; m < ref_size; m++)
		out->z[m] = gr->img[gr->perm[gr->start[gr->order[0]] + m]].z;
	out->trigger_time = trigger;
	double dt = out->t_s[g - 1] / (g - 1);
	for (uint32_t r = 1; r < g; r++) {
		if (fabs(out->t_s[r] - out->t_s[r - 1] - dt) > 0.05 * dt)
			out->uneven = true;
	}
	return MS_OK;
}

ms_status ms_timepoints_group(const ms_timepoints_image *img, size_t n, ms_timepoints *out,
			      char *err, size_t err_size)
{
	grouping gr = { .img = img, .n = n };
	double *scratch = NULL;
	ms_status rc;

	if (err && err_size)
		err[0] = '\0';
	if (!out || (n && !img)) {
		ms_log_error("time points: invalid arguments");
		return MS_ERR_ARG;
	}
	ms_timepoints_clear(out);
	if (n < 3)
		return fail(err, err_size, "a dynamic series needs at least 3 time points");
	if (n > UINT32_MAX / 2) {
		ms_log_error("time points: %zu images", n);
		return MS_ERR_ARG;
	}
	gr.perm = ms_malloc(n * sizeof(uint32_t));
	gr.start = ms_malloc((n + 1) * sizeof(uint32_t));
	gr.key = ms_malloc(n * sizeof(long));
	gr.time = ms_malloc(n * sizeof(double));
	gr.order = ms_malloc(n * sizeof(uint32_t));
	long *sort_key = ms_malloc(n * sizeof(long));
	scratch = ms_malloc(n * sizeof(double));
	if (!gr.perm || !gr.start || !gr.key || !gr.time || !gr.order || !sort_key || !scratch) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}

	bool all_frame = true, all_tp = true, all_an = true, all_at = true;
	for (size_t i = 0; i < n; i++) {
		all_frame &= img[i].frame > 0;
		all_tp &= img[i].temporal_position > 0;
		all_an &= img[i].acquisition_number > 0;
		all_at &= img[i].acq_time_s >= 0;
	}
	uint32_t n_zd = distinct_positions(img, n, scratch);

	if (all_frame) {
		out->rule = MS_TIMEPOINTS_FRAME;
		group_by_key(&gr, sort_key, out->rule);
	} else if (all_tp) {
		out->rule = MS_TIMEPOINTS_TEMPORAL;
		group_by_key(&gr, sort_key, out->rule);
	} else {
		bool even = false;
		if (all_an) {
			group_by_key(&gr, sort_key, MS_TIMEPOINTS_ACQ_NUMBER);
			even = gr.g >= 2;
			for (uint32_t k = 0; k < gr.g && even; k++)
				even = gr.start[k + 1] - gr.start[k] == n_zd;
		}
		if (even || (all_an && !all_at)) {
			out->rule = MS_TIMEPOINTS_ACQ_NUMBER;
		} else if (all_at) {
			out->rule = MS_TIMEPOINTS_ACQ_TIME;
			group_by_time(&gr, sort_key);
		} else {
			rc = fail(err, err_size, "cannot find time points: no TemporalPositionIdentifier, "
				  "AcquisitionNumber or AcquisitionTime");
			goto out_free;
		}
	}
	if (gr.g < 3) {
		rc = fail(err, err_size, "a dynamic series needs at least 3 time points");
		goto out_free;
	}

	uint32_t missing = 0, missing_tt = 0;
	bool trigger = false;
	if (!group_times(&gr, false, &missing)) {
		trigger = group_times(&gr, true, &missing_tt);
		if (!trigger) {
			rc = fail(err, err_size, "time point %u has no AcquisitionTime or varying TriggerTime",
				  missing + 1);
			goto out_free;
		}
	}
	for (uint32_t k = 0; k < gr.g; k++)
		gr.order[k] = k;
	sort_ctx octx = { img, NULL, gr.time };
	qsort_r(gr.order, gr.g, sizeof(uint32_t), cmp_order, &octx);
	for (uint32_t r = 1; r < gr.g; r++) {
		if (gr.time[gr.order[r]] == gr.time[gr.order[r - 1]]) {
			rc = fail(err, err_size, "time points %u and %u have the same time %.3f s", r, r + 1,
				  gr.time[gr.order[r]] - gr.time[gr.order[0]]);
			goto out_free;
		}
	}
	rc = check_and_emit(&gr, trigger, out, err, err_size);
out_free:
	ms_free(scratch);
	ms_free(sort_key);
	ms_free(gr.order);
	ms_free(gr.time);
	ms_free(gr.key);
	ms_free(gr.start);
	ms_free(gr.perm);
	if (rc != MS_OK)
		ms_timepoints_clear(out);
	return rc;
}
