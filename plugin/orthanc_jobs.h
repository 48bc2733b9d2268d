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
 * Cost: each running MedSight job occupies one of Orthanc's "ConcurrentJobs" slots (default
 * 2) with a thread that sleeps between reads; queued jobs are not mirrored. */
#pragma once
#include "plugin/plugin.h"
#include "storage/queue.h"

/* Submits the mirror of a job that has just been claimed. Failures are logged only (the
 * MedSight job runs regardless). Thread-safe. */
void ms_orthanc_jobs_submit(ms_plugin *p, const ms_job *job);
