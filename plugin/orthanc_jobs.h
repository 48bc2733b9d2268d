/* Mirrors MedSight jobs in Orthanc's own Jobs page (Orthanc Explorer > Jobs, GET /jobs).
 *
 * The work itself stays in MedSight's workers (its queue is persistent and prioritised, and a
 * GPU job must not depend on Orthanc's job slots). When a worker claims a job it submits a
 * small Orthanc job of type "MedSight" whose step() only reads the MedSight job's state from
 * SQLite about four times a second: Orthanc shows its progress, its content (analysis,
 * series, MedSight job id, error) and ends it as Success or Failure with the MedSight job.
 * Cancelling it in Orthanc cancels the MedSight job. The mirror is not serialised: after a
 * restart the MedSight job is mirrored again when it runs again.
 *
 * Cost: each mirror occupies one of Orthanc's "ConcurrentJobs" slots (default 2) with a thread
 * that sleeps between reads, so at most ConcurrentJobs - 1 jobs are mirrored at once (Orthanc's
 * own jobs, which include synchronous REST calls such as /anonymize, always keep a slot; with
 * ConcurrentJobs = 1 nothing is mirrored; a mirror's place is freed when its MedSight job ends);
 * queued jobs are not mirrored. */
#pragma once
#include "plugin/plugin.h"
#include "storage/queue.h"

/* Submits the mirror of a job that has just been claimed, unless the limit above is reached.
 * Failures are logged only (the MedSight job runs regardless). Thread-safe. */
void ms_orthanc_jobs_submit(ms_plugin *p, const ms_job *job);

/* The worker has ended job_id (whatever the outcome): its mirror's place is free for the next
 * job at once (the mirror itself ends at its next poll). Thread-safe. */
void ms_orthanc_jobs_ended(int64_t job_id);
