/* Performance records (table "perf"): one row per job run and stage, written when a job ends,
 * listed and summarised for REST, the Explorer page and the Prometheus metrics.
 * Every function takes the calling thread's own ms_store (not thread-safe per connection).
 * Strings passed in are borrowed for the call only. */
#pragma once
#include "common/status.h"
#include "storage/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Canonical stage names (others matching [a-z0-9_]{1,31} are accepted too). */
#define MS_PERF_QUEUE_WAIT "queue_wait" /* created -> started */
#define MS_PERF_DECODE "decode"         /* series assembly: headers + frame decoding */
#define MS_PERF_UPLOAD "upload"         /* host -> GPU copies */
#define MS_PERF_GPU "gpu"               /* kernels (GPU timestamps when available) */
#define MS_PERF_READBACK "readback"     /* GPU -> host copies */
#define MS_PERF_COMPUTE "compute"       /* the whole analysis step (wall time) */
#define MS_PERF_ENCODE "encode"         /* building DICOM results */
#define MS_PERF_STORE "store"           /* storing results into Orthanc */
#define MS_PERF_FORWARD "forward"       /* STOW-RS to configured servers */
#define MS_PERF_TOTAL "total"           /* started -> ended (wall time, excludes queue_wait) */

#define MS_PERF_MAX_LIST 10000 /* largest limit of ms_perf_list */

/* One stage of a run, as recorded by ms_perf_record. */
typedef struct {
	const char *stage;  /* [a-z0-9_]{1,31} */
	double ms;          /* >= 0, finite */
	uint64_t voxels;    /* voxels the stage processed; 0 if not meaningful */
	uint64_t bytes;     /* bytes it moved; 0 if not meaningful */
	double started_at;  /* unix seconds */
} ms_perf_stage;

/* The run the stages belong to. Strings are borrowed. */
typedef struct {
	int64_t job_id;
	const char *analysis;
	int priority;       /* ms_priority 0..3 */
	int outcome;        /* ms_job_state the run ended in */
	const char *device; /* may be NULL */
	const char *version; /* may be NULL */
} ms_perf_run;

/* A copy of one row; strings are owned (ms_perf_free_list frees them). */
typedef struct {
	int64_t id, job_id;
	char *analysis;
	int priority, outcome;
	char *stage;
	double ms;
	int64_t voxels, bytes;
	char *device, *version; /* NULL when not recorded */
	double started_at;
} ms_perf_row;

/* Count and nearest-rank percentiles of one (analysis, stage) group. With the group's n values
 * sorted ascending v[1..n], the p-th percentile is v[ceil(p * n / 100)] (computed in integers,
 * so p95 of 20 values is v[19] and p50 of 4 values is v[2]): always a recorded value. */
typedef struct {
	char *analysis; /* owned */
	char *stage;    /* owned */
	int64_t count;
	double p50, p95, max, last; /* ms; last = value of the newest row (largest id) */
} ms_perf_summary;

/* True if name is a valid stage name ([a-z0-9_], 1..31 characters). */
bool ms_perf_stage_valid(const char *name);

/* Inserts one row per stage of run, all in one transaction (all or nothing).
 * MS_ERR_ARG for NULL/empty analysis, bad priority, n > 0 with NULL stages, an invalid stage
 * name or a negative/non-finite ms (nothing written); MS_ERR_SQL; MS_ERR_NOMEM. */
ms_status ms_perf_record(ms_store *s, const ms_perf_run *run, const ms_perf_stage *stages, size_t n);

/* Deletes rows whose started_at is before 'before' (unix seconds); *deleted (may be NULL)
 * gets the count. MS_ERR_ARG for NaN; MS_ERR_SQL. */
ms_status ms_perf_prune(ms_store *s, double before, int64_t *deleted);

/* Rows newest first (by id), optionally only analysis (NULL = any) and started_at >= since
 * (0 = any); limit 1..MS_PERF_MAX_LIST. *rows gets an array of *n rows to free with
 * ms_perf_free_list (NULL when *n is 0). MS_ERR_ARG; *rows NULL and *n 0 on failure. */
ms_status ms_perf_list(ms_store *s, const char *analysis, double since, int limit, ms_perf_row **rows,
		       size_t *n);

/* Frees the strings of each row and the array. NULL is a no-op. */
void ms_perf_free_list(ms_perf_row *rows, size_t n);

/* One entry per (analysis, stage), ordered by analysis then stage, over rows with the given
 * analysis (NULL = any) and started_at >= since (0 = any). *out is freed with
 * ms_perf_free_summary (NULL when *n is 0). MS_ERR_ARG; *out NULL and *n 0 on failure. */
ms_status ms_perf_summarize(ms_store *s, const char *analysis, double since, ms_perf_summary **out, size_t *n);

/* Frees the strings of each entry and the array. NULL is a no-op. */
void ms_perf_free_summary(ms_perf_summary *sum, size_t n);

/* Nearest-rank percentile p (1..100) of the n (>= 1) ascending-sorted values v: v[ceil(p*n/100) - 1].
 * 0 when n is 0 or p is out of range. Pure; thread-safe. */
double ms_perf_percentile(const double *sorted, size_t n, int p);

/* Parses a "since" value: unix seconds ("1700000000", "1700000000.5") or ISO 8601 UTC/offset
 * ("2026-11-23", "2026-11-23T07:02:23", "...23.125Z", "...23+01:00"; no zone = UTC).
 * Returns true and *t (unix seconds) on success; false (and *t = 0) for anything else. Pure. */
bool ms_perf_parse_time(const char *text, double *t);
