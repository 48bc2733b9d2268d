#include "storage/perf.h"
#include "storage/store_internal.h"

#include "common/alloc.h"
#include "common/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROW_COLUMNS "id, job_id, analysis, priority, outcome, stage, ms, voxels, bytes, device, version, started_at"

bool ms_perf_stage_valid(const char *name)
{
	size_t n = 0;

	if (!name)
		return false;
	for (; name[n]; n++) {
		char c = name[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') || n >= 31)
			return false;
	}
	return n > 0;
}

static bool stages_valid(const ms_perf_stage *stages, size_t n)
{
	if (n && !stages)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!ms_perf_stage_valid(stages[i].stage) || !isfinite(stages[i].ms) || stages[i].ms < 0 ||
		    !isfinite(stages[i].started_at))
			return false;
	}
	return true;
}

ms_status ms_perf_record(ms_store *s, const ms_perf_run *run, const ms_perf_stage *stages, size_t n)
{
	sqlite3_stmt *st;
	ms_status rc;

	if (!s || !run || !run->analysis || !run->analysis[0] || run->priority < 0 || run->priority > 3 ||
	    !stages_valid(stages, n))
		return MS_ERR_ARG;
	if (n == 0)
		return MS_OK;
	/* One transaction: a run's stages are all there or none is, and one fsync instead of n. */
	rc = ms_store_begin(s);
	if (rc != MS_OK)
		return rc;
	rc = ms_store_stmt(s, MS_STMT_PERF_INSERT,
			   "INSERT INTO perf (job_id, analysis, priority, outcome, stage, ms, voxels, bytes, device, "
			   "version, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			   &st);
	if (rc != MS_OK)
		goto out_rollback;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, run->job_id);
		sqlite3_bind_text(st, 2, run->analysis, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, run->priority);
		sqlite3_bind_int(st, 4, run->outcome);
		sqlite3_bind_text(st, 5, stages[i].stage, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 6, stages[i].ms);
		/* SQLite integers are signed 64-bit; clamp rather than wrap. */
		sqlite3_bind_int64(st, 7, stages[i].voxels > INT64_MAX ? INT64_MAX : (int64_t)stages[i].voxels);
		sqlite3_bind_int64(st, 8, stages[i].bytes > INT64_MAX ? INT64_MAX : (int64_t)stages[i].bytes);
		if (run->device)
			sqlite3_bind_text(st, 9, run->device, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 9);
		if (run->version)
			sqlite3_bind_text(st, 10, run->version, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 10);
		sqlite3_bind_double(st, 11, stages[i].started_at);
		int src = sqlite3_step(st);
		ms_store_release(st);
		if (src != SQLITE_DONE) {
			rc = ms_store_fail(s, src, "inserting performance record");
			goto out_rollback;
		}
	}
	rc = ms_store_commit(s);
	if (rc != MS_OK)
		goto out_rollback;
	return MS_OK;

out_rollback:
	ms_store_rollback(s);
	return rc;
}

ms_status ms_perf_prune(ms_store *s, double before, int64_t *deleted)
{
	sqlite3_stmt *st;

	if (deleted)
		*deleted = 0;
	if (!s || isnan(before))
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_PERF_PRUNE, "DELETE FROM perf WHERE started_at < ?1", &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_double(st, 1, before);
	int src = sqlite3_step(st);
	ms_store_release(st);
	if (src != SQLITE_DONE)
		return ms_store_fail(s, src, "pruning performance records");
	if (deleted)
		*deleted = sqlite3_changes(s->db);
	return MS_OK;
}

/* Copies the current row (ROW_COLUMNS order) into *r; *r is zeroed on failure. */
static ms_status row_from_stmt(sqlite3_stmt *st, ms_perf_row *r)
{
	ms_status rc;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->job_id = sqlite3_column_int64(st, 1);
	r->priority = sqlite3_column_int(st, 3);
	r->outcome = sqlite3_column_int(st, 4);
	r->ms = sqlite3_column_double(st, 6);
	r->voxels = sqlite3_column_int64(st, 7);
	r->bytes = sqlite3_column_int64(st, 8);
	r->started_at = sqlite3_column_double(st, 11);
	if ((rc = ms_store_column_text(st, 2, &r->analysis)) != MS_OK ||
	    (rc = ms_store_column_text(st, 5, &r->stage)) != MS_OK ||
	    (rc = ms_store_column_text(st, 9, &r->device)) != MS_OK ||
	    (rc = ms_store_column_text(st, 10, &r->version)) != MS_OK) {
		ms_free(r->analysis);
		ms_free(r->stage);
		ms_free(r->device);
		ms_free(r->version);
		memset(r, 0, sizeof(*r));
	}
	return rc;
}

ms_status ms_perf_list(ms_store *s, const char *analysis, double since, int limit, ms_perf_row **rows, size_t *n)
{
	sqlite3_stmt *st;
	ms_perf_row *list = NULL;
	size_t count = 0, cap = 0;
	ms_status rc;
	int src;

	if (!rows || !n)
		return MS_ERR_ARG;
	*rows = NULL;
	*n = 0;
	if (!s || isnan(since) || limit < 1 || limit > MS_PERF_MAX_LIST)
		return MS_ERR_ARG;
	rc = ms_store_stmt(s, MS_STMT_PERF_LIST,
			   "SELECT " ROW_COLUMNS " FROM perf WHERE (?1 IS NULL OR analysis = ?1) AND started_at >= ?2 "
			   "ORDER BY id DESC LIMIT ?3",
			   &st);
	if (rc != MS_OK)
		return rc;
	if (analysis)
		sqlite3_bind_text(st, 1, analysis, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, since);
	sqlite3_bind_int(st, 3, limit);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		rc = ms_store_reserve((void **)&list, &cap, count, sizeof(*list));
		if (rc != MS_OK)
			goto out_free;
		rc = row_from_stmt(st, &list[count]);
		if (rc != MS_OK)
			goto out_free;
		count++;
	}
	if (src != SQLITE_DONE) {
		rc = ms_store_fail(s, src, "listing performance records");
		goto out_free;
	}
	ms_store_release(st);
	*rows = list;
	*n = count;
	return MS_OK;

out_free:
	ms_store_release(st);
	ms_perf_free_list(list, count);
	return rc;
}

void ms_perf_free_list(ms_perf_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++) {
		ms_free(rows[i].analysis);
		ms_free(rows[i].stage);
		ms_free(rows[i].device);
		ms_free(rows[i].version);
	}
	ms_free(rows);
}

double ms_perf_percentile(const double *sorted, size_t n, int p)
{
	if (!sorted || n == 0 || p < 1 || p > 100)
		return 0;
	/* ceil(p * n / 100) in integers: floating point would make 0.95 * 20 round up to 20. */
	size_t rank = ((size_t)p * n + 99) / 100;
	return sorted[rank - 1];
}

/* Appends a finished group (values sorted ascending) to *out. */
static ms_status push_group(ms_perf_summary **out, size_t *n, size_t *cap, const char *analysis, const char *stage,
			    const double *values, size_t nv, double last)
{
	if (*n == *cap) {
		size_t want = *cap ? *cap * 2 : 16;
		ms_perf_summary *grown = ms_realloc(*out, want * sizeof(**out));
		if (!grown)
			return MS_ERR_NOMEM;
		*out = grown;
		*cap = want;
	}
	ms_perf_summary *g = &(*out)[*n];
	memset(g, 0, sizeof(*g));
	g->analysis = ms_strdup(analysis);
	g->stage = ms_strdup(stage);
	if (!g->analysis || !g->stage) {
		ms_free(g->analysis);
		ms_free(g->stage);
		return MS_ERR_NOMEM;
	}
	g->count = (int64_t)nv;
	g->p50 = ms_perf_percentile(values, nv, 50);
	g->p95 = ms_perf_percentile(values, nv, 95);
	g->max = values[nv - 1];
	g->last = last;
	(*n)++;
	return MS_OK;
}

ms_status ms_perf_summarize(ms_store *s, const char *analysis, double since, ms_perf_summary **out, size_t *n)
{
	sqlite3_stmt *st;
	ms_perf_summary *list = NULL;
	size_t count = 0, cap = 0, nv = 0, vcap = 0;
	double *values = NULL, last = 0;
	int64_t last_id = -1;
	char *cur_analysis = NULL, *cur_stage = NULL;
	ms_status rc;
	int src;

	if (!out || !n)
		return MS_ERR_ARG;
	*out = NULL;
	*n = 0;
	if (!s || isnan(since))
		return MS_ERR_ARG;
	/* Sorted by group then value, so each group's values arrive in percentile order. */
	rc = ms_store_stmt(s, MS_STMT_PERF_SUMMARY,
			   "SELECT analysis, stage, ms, id FROM perf WHERE (?1 IS NULL OR analysis = ?1) "
			   "AND started_at >= ?2 ORDER BY analysis, stage, ms",
			   &st);
	if (rc != MS_OK)
		return rc;
	if (analysis)
		sqlite3_bind_text(st, 1, analysis, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, since);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		const char *g = (const char *)sqlite3_column_text(st, 1);
		if (!a || !g) {
			rc = MS_ERR_NOMEM;
			goto out_free;
		}
		if (!cur_analysis || strcmp(a, cur_analysis) != 0 || strcmp(g, cur_stage) != 0) {
			if (cur_analysis) {
				rc = push_group(&list, &count, &cap, cur_analysis, cur_stage, values, nv, last);
				if (rc != MS_OK)
					goto out_free;
			}
			ms_free(cur_analysis);
			ms_free(cur_stage);
			cur_analysis = ms_strdup(a);
			cur_stage = ms_strdup(g);
			nv = 0;
			last_id = -1;
			if (!cur_analysis || !cur_stage) {
				rc = MS_ERR_NOMEM;
				goto out_free;
			}
		}
		if (nv == vcap) {
			size_t want = vcap ? vcap * 2 : 64;
			double *grown = ms_realloc(values, want * sizeof(*values));
			if (!grown) {
				rc = MS_ERR_NOMEM;
				goto out_free;
			}
			values = grown;
			vcap = want;
		}
		double v = sqlite3_column_double(st, 2);
		int64_t id = sqlite3_column_int64(st, 3);
		values[nv++] = v;
		if (id > last_id) {
			last_id = id;
			last = v;
		}
	}
	if (src != SQLITE_DONE) {
		rc = ms_store_fail(s, src, "summarising performance records");
		goto out_free;
	}
	if (cur_analysis) {
		rc = push_group(&list, &count, &cap, cur_analysis, cur_stage, values, nv, last);
		if (rc != MS_OK)
			goto out_free;
	}
	ms_store_release(st);
	ms_free(cur_analysis);
	ms_free(cur_stage);
	ms_free(values);
	*out = list;
	*n = count;
	return MS_OK;

out_free:
	ms_store_release(st);
	ms_free(cur_analysis);
	ms_free(cur_stage);
	ms_free(values);
	ms_perf_free_summary(list, count);
	return rc;
}

void ms_perf_free_summary(ms_perf_summary *sum, size_t n)
{
	if (!sum)
		return;
	for (size_t i = 0; i < n; i++) {
		ms_free(sum[i].analysis);
		ms_free(sum[i].stage);
	}
	ms_free(sum);
}

/* ---- time parsing ------------------------------------------------------------------------- */

/* Reads exactly n decimal digits at *p into *v and advances *p. */
static bool digits(const char **p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		x = x * 10 + (c - '0');
	}
	*p += n;
	*v = x;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

/* "1700000000" or "1700000000.25": digits with at most one '.', nothing else. */
static bool parse_unix(const char *text, double *t)
{
	int dots = 0, int_digits = 0, ndigits = 0;
	for (const char *c = text; *c; c++) {
		if (*c == '.')
			dots++;
		else if (*c >= '0' && *c <= '9') {
			ndigits++;
			if (!dots)
				int_digits++;
		} else
			return false;
	}
	/* 12 integer digits reach year 33658: enough, and keeps strtod exact to the second. */
	if (dots > 1 || ndigits == 0 || int_digits > 12)
		return false;
	*t = strtod(text, NULL);
	return true;
}

static bool parse_iso(const char *p, double *t)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	double frac = 0;
	long offset = 0;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return false;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return false;
			if (*p == '.' || *p == ',') {
				double scale = 0.1;
				int nd = 0;
				for (p++; *p >= '0' && *p <= '9'; p++, nd++, scale /= 10)
					frac += (*p - '0') * scale;
				if (nd == 0)
					return false;
			}
		}
		if (h > 23 || mi > 59 || sec > 59)
			return false;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (!digits(&p, 2, &oh))
				return false;
			if (*p == ':')
				p++;
			if (*p && !digits(&p, 2, &om))
				return false;
			if (oh > 23 || om > 59)
				return false;
			offset = sign * (oh * 3600L + om * 60L);
		}
	}
	if (*p)
		return false;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
			 .tm_sec = sec };
	time_t secs = timegm(&tm);
	/* A local time of +01:00 is one hour ahead of UTC: subtract the offset. */
	*t = (double)secs - (double)offset + frac;
	return *t >= 0;
}

bool ms_perf_parse_time(const char *text, double *t)
{
	double v = 0;

	if (!t)
		return false;
	*t = 0;
	if (!text || !text[0])
		return false;
	if (!parse_unix(text, &v) && !parse_iso(text, &v))
		return false;
	*t = v;
	return true;
}
