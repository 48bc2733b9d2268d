/* Stage timing of one job run: the worker marks the end of each stage, and when the job ends
 * the stages are written to the performance records (storage/perf.h) in one transaction, the
 * Prometheus metrics are refreshed and the Orthanc Jobs mirror learns the outcome.
 * An ms_job_timer lives on the worker's stack; it is used by that thread only. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "plugin/plugin.h"
#include "storage/perf.h"
#include "storage/queue.h"

#define MS_JOB_TIMER_MAX 24 /* stages kept per run; later ones are dropped (logged) */

typedef struct {
	ms_perf_stage stages[MS_JOB_TIMER_MAX];
	char names[MS_JOB_TIMER_MAX][32]; /* stages[i].stage points here */
	size_t n;
	double lap_mono, lap_wall; /* start of the current stage (monotonic s, unix s) */
	double run_mono, run_wall; /* start of the run */
} ms_job_timer;

/* Starts timing a claimed job: records queue_wait (job->started - job->created) and starts
 * the first stage now. */
void ms_job_timer_start(ms_job_timer *t, const ms_job *job);

/* Ends the current stage as 'stage' (a valid ms_perf stage name) and starts the next one. */
void ms_job_timer_lap(ms_job_timer *t, const char *stage, uint64_t voxels, uint64_t bytes);

/* Adds the stages an analysis reported in its JSON summary (borrowed, may be NULL): "GpuMs"
 * as stage "gpu", and every member of an optional "StageMs" object {name: ms} (names that are
 * not valid stage names, or a "gpu" already given by GpuMs, are skipped). They are sub-stages
 * of the enclosing "compute" stage and are dated from its start. */
void ms_job_timer_add_summary(ms_job_timer *t, const char *summary_json, uint64_t voxels);

/* The job has ended with rc (MS_OK: done, MS_ERR_CANCELLED: cancelled, else failed): frees its
 * Orthanc Jobs place (ms_orthanc_jobs_ended), adds stage "total" and writes the records with db
 * (the worker's connection), then refreshes the metrics. Nothing is recorded when 'interrupted' (shutdown: the job runs again later).
 * Failures are logged, never returned: records must not fail a job. */
void ms_job_timer_finish(ms_job_timer *t, ms_plugin *p, ms_store *db, const ms_job *job, ms_status rc,
			 bool interrupted);
