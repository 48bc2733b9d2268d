/* storage/perf: recording (one transaction, validation), listing filters, nearest-rank
 * summaries against a brute-force reference, retention, time parsing, allocation failures. */
#include "common/alloc.h"
#include "storage/perf.h"
#include "storage/store.h"
#include "tests/testhelp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ms_store *open_memory(void)
{
	ms_store *s = NULL;

	if (ms_store_open(":memory:", &s) != MS_OK) {
		fprintf(stderr, "cannot open :memory:\n");
		exit(1);
	}
	return s;
}

static ms_perf_run run_of(int64_t job, const char *analysis)
{
	ms_perf_run r = { .job_id = job, .analysis = analysis, .priority = 1, .outcome = 2, .device = "lavapipe",
			  .version = "0.1.0" };
	return r;
}

static size_t count_rows(ms_store *s, const char *analysis, double since)
{
	ms_perf_row *rows = NULL;
	size_t n = 0;

	if (ms_perf_list(s, analysis, since, MS_PERF_MAX_LIST, &rows, &n) != MS_OK)
		return (size_t)-1;
	ms_perf_free_list(rows, n);
	return n;
}

static void test_stage_names(void)
{
	CHECK(ms_perf_stage_valid("queue_wait"));
	CHECK(ms_perf_stage_valid("gpu2"));
	CHECK(ms_perf_stage_valid("a"));
	CHECK(!ms_perf_stage_valid(""));
	CHECK(!ms_perf_stage_valid(NULL));
	CHECK(!ms_perf_stage_valid("Decode"));
	CHECK(!ms_perf_stage_valid("de code"));
	CHECK(!ms_perf_stage_valid("x'); DROP TABLE perf; --"));
	CHECK(ms_perf_stage_valid("abcdefghijklmnopqrstuvwxyz01234"));  /* 31 */
	CHECK(!ms_perf_stage_valid("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
}

static void test_record_and_list(void)
{
	ms_store *s = open_memory();
	ms_perf_run r = run_of(7, "histogram");
	ms_perf_stage st[] = {
		{ "queue_wait", 12.5, 0, 0, 1000.0 },
		{ "decode", 40.25, 64 * 64 * 20, 64 * 64 * 20 * 4, 1000.1 },
		{ "gpu", 3.0, 64 * 64 * 20, 0, 1000.2 },
	};

	CHECK_EQ_INT(ms_perf_record(s, &r, st, 3), MS_OK);
	ms_perf_row *rows = NULL;
	size_t n = 0;
	CHECK_EQ_INT(ms_perf_list(s, NULL, 0, 100, &rows, &n), MS_OK);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		/* Newest first. */
		CHECK_STR(rows[0].stage, "gpu");
		CHECK_STR(rows[2].stage, "queue_wait");
		CHECK_STR(rows[1].analysis, "histogram");
		CHECK_EQ_INT(rows[1].job_id, 7);
		CHECK_EQ_INT(rows[1].priority, 1);
		CHECK_EQ_INT(rows[1].outcome, 2);
		CHECK_NEAR(rows[1].ms, 40.25, 0);
		CHECK_EQ_INT(rows[1].voxels, 64 * 64 * 20);
		CHECK_EQ_INT(rows[1].bytes, 64 * 64 * 20 * 4);
		CHECK_STR(rows[1].device, "lavapipe");
		CHECK_STR(rows[1].version, "0.1.0");
		CHECK_NEAR(rows[1].started_at, 1000.1, 1e-9);
		CHECK(rows[0].id > rows[1].id && rows[1].id > rows[2].id);
	}
	ms_perf_free_list(rows, n);

	/* NULL device/version stay NULL. */
	ms_perf_run bare = { .job_id = 8, .analysis = "calcium", .priority = 3, .outcome = 3 };
	ms_perf_stage one = { "total", 5, 0, 0, 2000.0 };
	CHECK_EQ_INT(ms_perf_record(s, &bare, &one, 1), MS_OK);
	CHECK_EQ_INT(ms_perf_list(s, "calcium", 0, 10, &rows, &n), MS_OK);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK(rows[0].device == NULL && rows[0].version == NULL);
		CHECK_EQ_INT(rows[0].outcome, 3);
		CHECK_EQ_INT(rows[0].priority, 3);
	}
	ms_perf_free_list(rows, n);

	/* Filters: analysis, since (inclusive), limit. */
	CHECK_EQ_INT(count_rows(s, "histogram", 0), 3);
	CHECK_EQ_INT(count_rows(s, "nothing", 0), 0);
	CHECK_EQ_INT(count_rows(s, NULL, 1000.1), 3); /* 1000.1, 1000.2, 2000 */
	CHECK_EQ_INT(count_rows(s, "histogram", 1000.15), 1);
	CHECK_EQ_INT(count_rows(s, NULL, 5000), 0);
	CHECK_EQ_INT(ms_perf_list(s, NULL, 0, 2, &rows, &n), MS_OK);
	CHECK_EQ_INT(n, 2);
	if (n == 2)
		CHECK_STR(rows[0].stage, "total");
	ms_perf_free_list(rows, n);

	/* Empty result: NULL array. */
	rows = (ms_perf_row *)1;
	CHECK_EQ_INT(ms_perf_list(s, "nothing", 0, 10, &rows, &n), MS_OK);
	CHECK(rows == NULL && n == 0);

	/* Bad arguments. */
	CHECK_EQ_INT(ms_perf_list(s, NULL, 0, 0, &rows, &n), MS_ERR_ARG);
	CHECK(rows == NULL && n == 0);
	CHECK_EQ_INT(ms_perf_list(s, NULL, 0, MS_PERF_MAX_LIST + 1, &rows, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_perf_list(s, NULL, NAN, 10, &rows, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_perf_list(NULL, NULL, 0, 10, &rows, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_perf_list(s, NULL, 0, 10, NULL, &n), MS_ERR_ARG);
	ms_perf_free_list(NULL, 0);
	ms_store_close(s);
}

static void test_record_validation(void)
{
	ms_store *s = open_memory();
	ms_perf_run r = run_of(1, "histogram");
	ms_perf_stage good = { "decode", 1, 0, 0, 10 };

	/* A bad stage anywhere rejects the whole run: nothing is written. */
	ms_perf_stage mixed[] = { good, { "Bad Name", 1, 0, 0, 10 } };
	CHECK_EQ_INT(ms_perf_record(s, &r, mixed, 2), MS_ERR_ARG);
	ms_perf_stage neg[] = { good, { "gpu", -1, 0, 0, 10 } };
	CHECK_EQ_INT(ms_perf_record(s, &r, neg, 2), MS_ERR_ARG);
	ms_perf_stage inf[] = { good, { "gpu", INFINITY, 0, 0, 10 } };
	CHECK_EQ_INT(ms_perf_record(s, &r, inf, 2), MS_ERR_ARG);
	ms_perf_stage nan_t[] = { { "gpu", 1, 0, 0, NAN } };
	CHECK_EQ_INT(ms_perf_record(s, &r, nan_t, 1), MS_ERR_ARG);
	CHECK_EQ_INT(count_rows(s, NULL, 0), 0);

	CHECK_EQ_INT(ms_perf_record(s, &r, NULL, 1), MS_ERR_ARG);
	CHECK_EQ_INT(ms_perf_record(s, NULL, &good, 1), MS_ERR_ARG);
	CHECK_EQ_INT(ms_perf_record(NULL, &r, &good, 1), MS_ERR_ARG);
	ms_perf_run bad = r;
	bad.analysis = "";
	CHECK_EQ_INT(ms_perf_record(s, &bad, &good, 1), MS_ERR_ARG);
	bad = r;
	bad.analysis = NULL;
	CHECK_EQ_INT(ms_perf_record(s, &bad, &good, 1), MS_ERR_ARG);
	bad = r;
	bad.priority = 4;
	CHECK_EQ_INT(ms_perf_record(s, &bad, &good, 1), MS_ERR_ARG);
	bad.priority = -1;
	CHECK_EQ_INT(ms_perf_record(s, &bad, &good, 1), MS_ERR_ARG);
	CHECK_EQ_INT(count_rows(s, NULL, 0), 0);

	/* Zero stages is a no-op; huge counts are clamped, not wrapped negative. */
	CHECK_EQ_INT(ms_perf_record(s, &r, NULL, 0), MS_OK);
	ms_perf_stage huge = { "upload", 0, UINT64_MAX, UINT64_MAX, 10 };
	CHECK_EQ_INT(ms_perf_record(s, &r, &huge, 1), MS_OK);
	ms_perf_row *rows = NULL;
	size_t n = 0;
	CHECK_EQ_INT(ms_perf_list(s, NULL, 0, 10, &rows, &n), MS_OK);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK(rows[0].voxels == INT64_MAX && rows[0].bytes == INT64_MAX);
		CHECK_NEAR(rows[0].ms, 0, 0);
	}
	ms_perf_free_list(rows, n);
	ms_store_close(s);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Reference nearest rank: the smallest value v such that at least p% of values are <= v. */
static double ref_percentile(const double *values, size_t n, int p)
{
	double *sorted = malloc(n * sizeof(*sorted));
	memcpy(sorted, values, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	double out = sorted[n - 1];
	for (size_t i = 0; i < n; i++) {
		if ((double)(i + 1) * 100.0 >= (double)p * (double)n) {
			out = sorted[i];
			break;
		}
	}
	free(sorted);
	return out;
}

static void test_percentile(void)
{
	double v20[20], v4[] = { 1, 2, 3, 4 }, one[] = { 7 };

	for (int i = 0; i < 20; i++)
		v20[i] = i + 1;
	/* p95 of 1..20 is the 19th value, not the 20th (0.95 * 20 in floating point exceeds 19). */
	CHECK_NEAR(ms_perf_percentile(v20, 20, 95), 19, 0);
	CHECK_NEAR(ms_perf_percentile(v20, 20, 50), 10, 0);
	CHECK_NEAR(ms_perf_percentile(v20, 20, 100), 20, 0);
	CHECK_NEAR(ms_perf_percentile(v20, 20, 1), 1, 0);
	CHECK_NEAR(ms_perf_percentile(v4, 4, 50), 2, 0);
	CHECK_NEAR(ms_perf_percentile(v4, 4, 95), 4, 0);
	CHECK_NEAR(ms_perf_percentile(v4, 4, 75), 3, 0);
	CHECK_NEAR(ms_perf_percentile(one, 1, 50), 7, 0);
	CHECK_NEAR(ms_perf_percentile(one, 1, 95), 7, 0);
	CHECK_NEAR(ms_perf_percentile(v4, 0, 50), 0, 0);
	CHECK_NEAR(ms_perf_percentile(v4, 4, 0), 0, 0);
	CHECK_NEAR(ms_perf_percentile(v4, 4, 101), 0, 0);
	CHECK_NEAR(ms_perf_percentile(NULL, 4, 50), 0, 0);
	/* Every n up to 250 against the reference definition. */
	double big[250];
	for (size_t n = 1; n <= 250; n++) {
		big[n - 1] = (double)n;
		for (int p = 1; p <= 100; p++) {
			if (ms_perf_percentile(big, n, p) != ref_percentile(big, n, p)) {
				CHECK(!"percentile differs from the reference");
				fprintf(stderr, "  n=%zu p=%d\n", n, p);
				return;
			}
		}
	}
	CHECK(1);
}

static void test_summary(void)
{
	ms_store *s = open_memory();
	enum { N = 37 };
	double hist_decode[N], hist_gpu[5] = { 9, 1, 5, 3, 7 };
	unsigned seed = 12345;

	/* 37 histogram runs in random order of decode times, with duplicates; 5 gpu values. */
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		hist_decode[i] = (double)((seed >> 16) % 50) + 0.5;
		ms_perf_run r = run_of(100 + i, "histogram");
		ms_perf_stage st[2] = { { "decode", hist_decode[i], 0, 0, 100.0 + i }, { "gpu", 0, 0, 0, 100.0 + i } };
		size_t k = 1;
		if (i < 5) {
			st[1].ms = hist_gpu[i];
			k = 2;
		}
		CHECK_EQ_INT(ms_perf_record(s, &r, st, k), MS_OK);
	}
	ms_perf_run c = run_of(500, "calcium");
	ms_perf_stage cs = { "decode", 1000, 0, 0, 50.0 };
	CHECK_EQ_INT(ms_perf_record(s, &c, &cs, 1), MS_OK);

	ms_perf_summary *sum = NULL;
	size_t n = 0;
	CHECK_EQ_INT(ms_perf_summarize(s, NULL, 0, &sum, &n), MS_OK);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		/* Ordered by analysis, then stage. */
		CHECK_STR(sum[0].analysis, "calcium");
		CHECK_STR(sum[1].analysis, "histogram");
		CHECK_STR(sum[1].stage, "decode");
		CHECK_STR(sum[2].stage, "gpu");
		CHECK_EQ_INT(sum[0].count, 1);
		CHECK_NEAR(sum[0].p50, 1000, 0);
		CHECK_NEAR(sum[0].p95, 1000, 0);
		CHECK_NEAR(sum[0].max, 1000, 0);
		CHECK_NEAR(sum[0].last, 1000, 0);
		CHECK_EQ_INT(sum[1].count, N);
		CHECK_NEAR(sum[1].p50, ref_percentile(hist_decode, N, 50), 0);
		CHECK_NEAR(sum[1].p95, ref_percentile(hist_decode, N, 95), 0);
		CHECK_NEAR(sum[1].max, ref_percentile(hist_decode, N, 100), 0);
		CHECK_NEAR(sum[1].last, hist_decode[N - 1], 0);
		CHECK_EQ_INT(sum[2].count, 5);
		CHECK_NEAR(sum[2].p50, 5, 0);
		CHECK_NEAR(sum[2].p95, 9, 0);
		CHECK_NEAR(sum[2].max, 9, 0);
		CHECK_NEAR(sum[2].last, 7, 0); /* newest row, not the largest */
	}
	ms_perf_free_summary(sum, n);

	/* Filters. */
	CHECK_EQ_INT(ms_perf_summarize(s, "calcium", 0, &sum, &n), MS_OK);
	CHECK_EQ_INT(n, 1);
	ms_perf_free_summary(sum, n);
	CHECK_EQ_INT(ms_perf_summarize(s, "histogram", 100.0 + N - 10, &sum, &n), MS_OK);
	CHECK_EQ_INT(n, 1); /* only decode: the gpu rows are older */
	if (n == 1) {
		CHECK_EQ_INT(sum[0].count, 10);
		CHECK_NEAR(sum[0].p95, ref_percentile(hist_decode + N - 10, 10, 95), 0);
	}
	ms_perf_free_summary(sum, n);
	sum = (ms_perf_summary *)1;
	CHECK_EQ_INT(ms_perf_summarize(s, "none", 0, &sum, &n), MS_OK);
	CHECK(sum == NULL && n == 0);
	CHECK_EQ_INT(ms_perf_summarize(s, NULL, NAN, &sum, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_perf_summarize(NULL, NULL, 0, &sum, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_perf_summarize(s, NULL, 0, NULL, &n), MS_ERR_ARG);
	ms_perf_free_summary(NULL, 0);
	ms_store_close(s);
}

static void test_prune(void)
{
	ms_store *s = open_memory();
	ms_perf_run r = run_of(1, "histogram");
	ms_perf_stage st[] = { { "decode", 1, 0, 0, 100 }, { "gpu", 1, 0, 0, 200 }, { "store", 1, 0, 0, 300 } };
	int64_t deleted = -1;

	CHECK_EQ_INT(ms_perf_record(s, &r, st, 3), MS_OK);
	CHECK_EQ_INT(ms_perf_prune(s, 200, &deleted), MS_OK); /* strictly older */
	CHECK_EQ_INT(deleted, 1);
	CHECK_EQ_INT(count_rows(s, NULL, 0), 2);
	CHECK_EQ_INT(ms_perf_prune(s, 200, &deleted), MS_OK);
	CHECK_EQ_INT(deleted, 0);
	CHECK_EQ_INT(ms_perf_prune(s, 1e12, NULL), MS_OK);
	CHECK_EQ_INT(count_rows(s, NULL, 0), 0);
	CHECK_EQ_INT(ms_perf_prune(s, NAN, &deleted), MS_ERR_ARG);
	CHECK_EQ_INT(ms_perf_prune(NULL, 0, &deleted), MS_ERR_ARG);
	ms_store_close(s);
}

static void test_parse_time(void)
{
	double t = -1;

	CHECK(ms_perf_parse_time("1700000000", &t));
	CHECK_NEAR(t, 1700000000.0, 0);
	CHECK(ms_perf_parse_time("1700000000.25", &t));
	CHECK_NEAR(t, 1700000000.25, 1e-6);
	CHECK(ms_perf_parse_time("0", &t));
	CHECK_NEAR(t, 0, 0);
	CHECK(ms_perf_parse_time("2023-11-14T22:13:20Z", &t));
	CHECK_NEAR(t, 1700000000.0, 0);
	CHECK(ms_perf_parse_time("2023-11-14T22:13:20", &t)); /* no zone: UTC */
	CHECK_NEAR(t, 1700000000.0, 0);
	CHECK(ms_perf_parse_time("2023-11-14T22:13:20.125Z", &t));
	CHECK_NEAR(t, 1700000000.125, 1e-6);
	CHECK(ms_perf_parse_time("2023-11-14T23:13:20+01:00", &t));
	CHECK_NEAR(t, 1700000000.0, 0);
	CHECK(ms_perf_parse_time("2023-11-14T21:43:20-0030", &t));
	CHECK_NEAR(t, 1700000000.0, 0);
	CHECK(ms_perf_parse_time("2023-11-14T22:13Z", &t));
	CHECK_NEAR(t, 1700000000.0 - 20, 0);
	CHECK(ms_perf_parse_time("2023-11-14 22:13:20", &t));
	CHECK_NEAR(t, 1700000000.0, 0);
	CHECK(ms_perf_parse_time("2023-11-14", &t));
	CHECK_NEAR(t, 1699920000.0, 0);
	CHECK(ms_perf_parse_time("2024-02-29", &t));
	CHECK(ms_perf_parse_time("2000-02-29", &t));

	const char *bad[] = { "", "abc", "-5", "1e9", "0x10", "1.2.3", ".", "12345678901234", "2023-13-01",
			      "2023-02-29", "1900-02-29", "2023-11-31", "2023-11-14T24:00:00Z", "2023-11-14T22:60Z",
			      "2023-11-14T22:13:61Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+25:00",
			      "2023-11-14T22", "2023-11-14X", "2023-1-14", "23-11-14", "2023-11-14T22:13:20Zjunk",
			      " 1700000000", "1700000000 ", "1969-12-31", "inf", "nan" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = -1;
		if (ms_perf_parse_time(bad[i], &t)) {
			CHECK(!"accepted a bad time");
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
		} else {
			CHECK_NEAR(t, 0, 0);
		}
	}
	CHECK(!ms_perf_parse_time(NULL, &t));
	CHECK(!ms_perf_parse_time("5", NULL));
}

/* One pass of everything that allocates; returns true if all of it succeeded. */
static bool fault_pass(void)
{
	ms_store *s = NULL;
	bool ok = true;

	if (ms_store_open(":memory:", &s) != MS_OK)
		return false;
	ms_perf_run r = run_of(3, "histogram");
	ms_perf_stage st[] = { { "decode", 2, 1, 1, 10 }, { "gpu", 1, 1, 1, 11 }, { "decode", 4, 1, 1, 12 } };
	ok &= ms_perf_record(s, &r, st, 3) == MS_OK;
	ms_perf_row *rows = NULL;
	size_t n = 0;
	ms_status rc = ms_perf_list(s, NULL, 0, 10, &rows, &n);
	if (rc == MS_OK) {
		ok &= n == 3;
		ms_perf_free_list(rows, n);
	} else {
		CHECK(rows == NULL && n == 0);
		ok = false;
	}
	ms_perf_summary *sum = NULL;
	rc = ms_perf_summarize(s, NULL, 0, &sum, &n);
	if (rc == MS_OK) {
		ok &= n == 2 && sum[0].count == 2 && sum[0].p95 == 4;
		ms_perf_free_summary(sum, n);
	} else {
		CHECK(sum == NULL && n == 0);
		ok = false;
	}
	ok &= ms_perf_prune(s, 11, NULL) == MS_OK;
	ms_store_close(s);
	return ok;
}

static void test_alloc_failures(void)
{
	for (int sticky = 0; sticky <= 1; sticky++) {
		bool completed = false;
		long n;
		for (n = 1; n < 10000 && !completed; n++) {
			ms_alloc_fail_at(n, sticky);
			bool ok = fault_pass();
			long injected = ms_alloc_fail_at(0, 0);
			completed = injected == 0;
			if (completed)
				CHECK(ok);
		}
		CHECK(completed);
		CHECK(n > 5);
	}
}

int main(void)
{
	test_stage_names();
	test_record_and_list();
	test_record_validation();
	test_percentile();
	test_summary();
	test_prune();
	test_parse_time();
	test_alloc_failures();
	return TEST_REPORT();
}
