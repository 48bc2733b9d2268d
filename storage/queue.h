/* The persistent priority queue of analysis jobs (table "jobs").
 * Every function takes the calling thread's own ms_store; several connections, threads and
 * processes may work on one database at once. Strings passed in are copied (borrowed for the
 * call only). */
#pragma once
#include "common/status.h"
#include "storage/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { MS_PRIO_LOW = 0, MS_PRIO_ROUTINE = 1, MS_PRIO_HIGH = 2, MS_PRIO_STAT = 3 } ms_priority;
typedef enum { MS_JOB_QUEUED = 0, MS_JOB_RUNNING, MS_JOB_DONE, MS_JOB_FAILED, MS_JOB_CANCELLED } ms_job_state;

/* A copy of one row; strings are owned by the struct and freed by ms_job_clear(). */
typedef struct {
	int64_t id;
	char *analysis;        /* "histogram", "calcium", ... */
	ms_priority priority;
	ms_job_state state;
	char *series_id;       /* Orthanc series id */
	char *trigger;         /* "stable", "manual", "rule", "retry" ... */
	char *params;          /* JSON object text given at enqueue (may be NULL) */
	double progress;       /* 0..1 */
	int attempts;          /* times the job has been started (claimed) */
	bool cancel_requested; /* a user asked to cancel while it was running */
	char *error;           /* human-readable, NULL unless failed/cancelled */
	char *result;          /* JSON text set by ms_queue_finish, NULL otherwise */
	double created, started, finished; /* unix seconds with fractions; 0 = not yet */
} ms_job;

/* Frees the strings and zeroes *j. NULL is a no-op; a zeroed job may be cleared. */
void ms_job_clear(ms_job *j);
/* "queued", "running", "done", "failed", "cancelled"; "unknown" for other values. Static text. */
const char *ms_job_state_name(ms_job_state s);
/* Inverse of ms_job_state_name (exact, lower case); -1 if unknown or NULL. */
int ms_job_state_parse(const char *name);

/* Adds a job for (series_id, analysis). If a QUEUED job for the same pair exists, no row is
 * added: its priority is raised to max(old, prio), its params replaced when params is not NULL,
 * and its id returned with *created = false.
 * params (JSON text) may be NULL; id and created may be NULL if not wanted.
 * MS_ERR_ARG for NULL/empty strings or a bad priority; MS_ERR_SQL; MS_ERR_NOMEM. */
ms_status ms_queue_enqueue(ms_store *s, const char *series_id, const char *analysis, ms_priority prio,
			   const char *trigger, const char *params, int64_t *id, bool *created);

/* Atomically takes the next job: highest priority first, then the oldest (lowest id); it becomes
 * RUNNING with started = now, progress 0 and attempts + 1, and *job receives a copy (the caller
 * clears it). Safe across connections and processes (BEGIN IMMEDIATE): a job is never handed out
 * twice. If copying fails the claim is rolled back. MS_ERR_NOTFOUND when nothing is queued;
 * *job is zeroed on any failure. */
ms_status ms_queue_claim(ms_store *s, ms_job *job);

/* Records progress (clamped to 0..1) of a RUNNING job. MS_ERR_STATE if not running,
 * MS_ERR_NOTFOUND, MS_ERR_ARG for NaN. */
ms_status ms_queue_progress(ms_store *s, int64_t id, double progress);

/* RUNNING -> DONE with result_json (may be NULL), progress 1, finished = now.
 * MS_ERR_STATE if the job is not RUNNING (e.g. cancelled meanwhile); MS_ERR_NOTFOUND. */
ms_status ms_queue_finish(ms_store *s, int64_t id, const char *result_json);

/* RUNNING -> FAILED with a human-readable message (NULL gives "failed"), finished = now.
 * MS_ERR_STATE if not RUNNING; MS_ERR_NOTFOUND. */
ms_status ms_queue_fail(ms_store *s, int64_t id, const char *error);

/* Start-up recovery, before any worker of this database runs: every RUNNING job (its process
 * died) becomes QUEUED again if attempts < max_attempts, else FAILED with "interrupted N times
 * (Orthanc stopped during the job); giving up". *requeued (may be NULL) counts the requeued
 * jobs. A job whose cancel was requested becomes CANCELLED instead. One transaction.
 * MS_ERR_ARG if max_attempts < 0. */
ms_status ms_queue_recover(ms_store *s, int max_attempts, int *requeued);

/* DONE/FAILED/CANCELLED -> QUEUED with attempts 0, error/result/progress/times cleared and
 * trigger "retry" (it keeps its id, so it runs before newer jobs of its priority). A QUEUED
 * duplicate of the same (series, analysis) is not merged: both run, results replace.
 * MS_ERR_STATE if queued/running; MS_ERR_NOTFOUND if no such job. */
ms_status ms_queue_retry(ms_store *s, int64_t id);

/* QUEUED -> CANCELLED ("cancelled by user"); RUNNING -> sets cancel_requested (the worker polls
 * ms_queue_cancel_requested, stops and calls ms_queue_cancelled); MS_ERR_STATE for finished
 * jobs; MS_ERR_NOTFOUND. One statement, so it cannot race a claim. */
ms_status ms_queue_cancel(ms_store *s, int64_t id);

/* RUNNING -> CANCELLED ("cancelled by user"), finished = now. MS_ERR_STATE; MS_ERR_NOTFOUND. */
ms_status ms_queue_cancelled(ms_store *s, int64_t id);

/* True if job id exists and a cancel was requested. False on errors (logged). */
bool ms_queue_cancel_requested(ms_store *s, int64_t id);

/* Copies job id into *job (the caller clears it). MS_ERR_NOTFOUND; *job zeroed on failure. */
ms_status ms_queue_get(ms_store *s, int64_t id, ms_job *job);

/* Jobs newest first (by id); state < 0 = any state, else an ms_job_state; series_id NULL = any;
 * limit 1..1000. *jobs receives an array of *n jobs that the caller frees with
 * ms_queue_free_list (NULL when *n is 0). MS_ERR_ARG; *jobs NULL and *n 0 on failure. */
ms_status ms_queue_list(ms_store *s, int state, const char *series_id, int limit, ms_job **jobs, size_t *n);

/* Clears each job and frees the array. NULL is a no-op. */
void ms_queue_free_list(ms_job *jobs, size_t n);

/* counts[state] for all 5 states and queued_by_prio[priority] for QUEUED jobs. Zeroed on failure. */
ms_status ms_queue_counts(ms_store *s, int64_t counts[5], int64_t queued_by_prio[4]);
