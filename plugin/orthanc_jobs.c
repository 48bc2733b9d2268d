#include "plugin/orthanc_jobs.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/strbuf.h"

#define POLL_NS (250 * 1000 * 1000)

/* State of one mirror. Orthanc calls every callback of a job from one thread, one at a time,
 * so no lock is needed. */
typedef struct {
	int64_t job_id;
	char analysis[32];
	char series_id[64];
	float progress;
	char *content; /* JSON returned by get_content; owned, replaced on each step */
} mirror;

static void set_content(mirror *m, const ms_job *j)
{
	ms_strbuf b;
	ms_strbuf_init(&b);
	ms_strbuf_appendf(&b, "{\"MedSightJob\": %lld, \"Analysis\": ", (long long)m->job_id);
	ms_strbuf_append_json_string(&b, m->analysis);
	ms_strbuf_append(&b, ", \"SeriesId\": ");
	ms_strbuf_append_json_string(&b, m->series_id);
	ms_strbuf_append(&b, ", \"State\": ");
	ms_strbuf_append_json_string(&b, j ? ms_job_state_name(j->state) : "unknown");
	ms_strbuf_append(&b, ", \"Error\": ");
	ms_strbuf_append_json_string(&b, j ? j->error : NULL);
	ms_strbuf_appendf(&b, ", \"Details\": \"/medsight/jobs/%lld\"}", (long long)m->job_id);
	char *text = ms_strbuf_take(&b);
	if (text) {
		ms_free(m->content);
		m->content = text;
	}
}

static void finalize(void *arg)
{
	mirror *m = arg;
	if (!m)
		return;
	ms_free(m->content);
	ms_free(m);
}

static float get_progress(void *arg)
{
	return ((mirror *)arg)->progress;
}

static const char *get_content(void *arg)
{
	mirror *m = arg;
	return m->content ? m->content : "{}";
}

static const char *get_serialized(void *arg)
{
	(void)arg;
	return NULL; /* not kept across restarts: the MedSight queue is the record */
}

static OrthancPluginJobStepStatus step(void *arg)
{
	mirror *m = arg;
	ms_plugin *p = ms_plugin_get();
	ms_store *db = NULL;
	ms_job j = { 0 };

	if (!p->db || ms_db_pool_get(p->db, &db) != MS_OK)
		return OrthancPluginJobStepStatus_Failure;
	ms_status rc = ms_queue_get(db, m->job_id, &j);
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		set_content(m, NULL);
		return OrthancPluginJobStepStatus_Failure;
	}
	m->progress = j.state == MS_JOB_DONE ? 1.0f : (float)j.progress;
	set_content(m, &j);
	ms_job_state state = j.state;
	ms_job_clear(&j);
	switch (state) {
	case MS_JOB_DONE:
		return OrthancPluginJobStepStatus_Success;
	case MS_JOB_FAILED:
	case MS_JOB_CANCELLED:
		return OrthancPluginJobStepStatus_Failure;
	default:
		break;
	}
	/* Orthanc calls step() again at once; the sleep makes this a slow poll. */
	struct timespec ts = { 0, POLL_NS };
	nanosleep(&ts, NULL);
	return OrthancPluginJobStepStatus_Continue;
}

static OrthancPluginErrorCode stop(void *arg, OrthancPluginJobStopReason reason)
{
	mirror *m = arg;
	ms_plugin *p = ms_plugin_get();
	ms_store *db = NULL;

	/* Only an explicit cancel in Orthanc is passed on; pauses and shutdown leave the job be. */
	if (reason != OrthancPluginJobStopReason_Canceled || !p->db || ms_db_pool_get(p->db, &db) != MS_OK)
		return OrthancPluginErrorCode_Success;
	ms_status rc = ms_queue_cancel(db, m->job_id);
	ms_db_pool_put(p->db, db);
	if (rc == MS_OK)
		ms_log_info("job %lld cancelled from Orthanc's Jobs page", (long long)m->job_id);
	return OrthancPluginErrorCode_Success;
}

static OrthancPluginErrorCode reset(void *arg)
{
	((mirror *)arg)->progress = 0;
	return OrthancPluginErrorCode_Success;
}

void ms_orthanc_jobs_submit(ms_plugin *p, const ms_job *job)
{
	mirror *m = ms_calloc(1, sizeof(*m));
	if (!m) {
		ms_log_warning("job %lld: no memory to show it in Orthanc's Jobs", (long long)job->id);
		return;
	}
	m->job_id = job->id;
	snprintf(m->analysis, sizeof(m->analysis), "%s", job->analysis ? job->analysis : "");
	snprintf(m->series_id, sizeof(m->series_id), "%s", job->series_id ? job->series_id : "");
	set_content(m, job);
	OrthancPluginJob *oj = OrthancPluginCreateJob(p->ctx, m, finalize, "MedSight", get_progress, get_content,
						      get_serialized, step, stop, reset);
	if (!oj) {
		finalize(m);
		ms_log_warning("job %lld: Orthanc refused to create its Jobs entry", (long long)job->id);
		return;
	}
	/* Submitting hands oj (and m, through finalize) to Orthanc's registry even when it then
	 * fails, so oj is never freed here after this call. */
	char *id = OrthancPluginSubmitJob(p->ctx, oj, (int)job->priority);
	if (!id) {
		ms_log_warning("job %lld: Orthanc refused to submit its Jobs entry", (long long)job->id);
		return;
	}
	ms_log_info("job %lld is Orthanc job %s", (long long)job->id, id);
	OrthancPluginFreeString(p->ctx, id);
}
