#include "plugin/job_timer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "plugin/metrics.h"
#include "plugin/orthanc_jobs.h"

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Appends one stage; false when the name is invalid or the table is full. */
static bool add(ms_job_timer *t, const char *stage, double ms, uint64_t voxels, uint64_t bytes, double started_at)
{
	if (!ms_perf_stage_valid(stage) || !isfinite(ms))
		return false;
	if (t->n == MS_JOB_TIMER_MAX) {
		ms_log_warning("more than %d performance stages in one job; '%s' is not recorded", MS_JOB_TIMER_MAX,
			       stage);
		return false;
	}
	snprintf(t->names[t->n], sizeof(t->names[t->n]), "%s", stage);
	t->stages[t->n] = (ms_perf_stage){ .stage = t->names[t->n],
					   .ms = ms < 0 ? 0 : ms,
					   .voxels = voxels,
					   .bytes = bytes,
					   .started_at = started_at };
	t->n++;
	return true;
}

static bool has_stage(const ms_job_timer *t, const char *stage)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->names[i], stage) == 0)
			return true;
	return false;
}

void ms_job_timer_start(ms_job_timer *t, const ms_job *job)
{
	memset(t, 0, sizeof(*t));
	t->run_mono = t->lap_mono = mono_s();
	t->run_wall = t->lap_wall = wall_s();
	if (job->created > 0 && job->started >= job->created)
		add(t, MS_PERF_QUEUE_WAIT, (job->started - job->created) * 1000.0, 0, 0, job->created);
}

void ms_job_timer_lap(ms_job_timer *t, const char *stage, uint64_t voxels, uint64_t bytes)
{
	double m = mono_s();
	add(t, stage, (m - t->lap_mono) * 1000.0, voxels, bytes, t->lap_wall);
	t->lap_mono = m;
	t->lap_wall = wall_s();
}

void ms_job_timer_add_summary(ms_job_timer *t, const char *summary_json, uint64_t voxels)
{
	ms_json *doc = NULL;
	char err[128];

	if (!summary_json || !summary_json[0] ||
	    ms_json_parse(summary_json, strlen(summary_json), &doc, err, sizeof(err)) != MS_OK)
		return;
	/* The compute stage that just ended is the last one added; sub-stages share its start. */
	double started = t->n ? t->stages[t->n - 1].started_at : t->lap_wall;
	const ms_json *gpu = ms_json_get(doc, "GpuMs");
	if (ms_json_is_number(gpu) && ms_json_number(gpu) >= 0)
		add(t, MS_PERF_GPU, ms_json_number(gpu), voxels, 0, started);
	const ms_json *stages = ms_json_get(doc, "StageMs");
	for (size_t i = 0; i < ms_json_size(stages) && ms_json_type_of(stages) == MS_JSON_OBJECT; i++) {
		const char *name = ms_json_key_at(stages, i);
		const ms_json *v = ms_json_at(stages, i);
		if (!ms_json_is_number(v) || ms_json_number(v) < 0 || !ms_perf_stage_valid(name) ||
		    has_stage(t, name))
			continue;
		add(t, name, ms_json_number(v), 0, 0, started);
	}
	ms_json_destroy(doc);
}

void ms_job_timer_finish(ms_job_timer *t, ms_plugin *p, ms_store *db, const ms_job *job, ms_status rc,
			 bool interrupted)
{
	ms_orthanc_jobs_ended(job->id);
	if (interrupted)
		return;
	add(t, MS_PERF_TOTAL, (mono_s() - t->run_mono) * 1000.0, 0, 0, t->run_wall);
	ms_perf_run run = {
		.job_id = job->id,
		.analysis = job->analysis,
		.priority = (int)job->priority,
		.outcome = rc == MS_OK ? MS_JOB_DONE : rc == MS_ERR_CANCELLED ? MS_JOB_CANCELLED : MS_JOB_FAILED,
		.device = p->vk ? ms_vk_context_device_name(p->vk) : NULL,
		.version = MS_VERSION,
	};
	ms_status st = ms_perf_record(db, &run, t->stages, t->n);
	if (st != MS_OK)
		ms_log_warning("job %lld: performance records not written (%s)", (long long)job->id, ms_status_name(st));
	ms_metrics_refresh(p, db);
}
