#include "plugin/orthanc_jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/json.h"
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
	int slot;      /* its place in places[] ... */
	uint64_t gen;  /* ... while places[slot].gen == gen and it is used */
} mirror;

/* Places for mirrors: at most Orthanc's "ConcurrentJobs" - 1 exist at once, so that Orthanc's
 * own jobs (which include synchronous REST calls such as /anonymize) always keep a slot; jobs
 * beyond the limit are simply not shown. A place is given back as soon as the worker ends the
 * MedSight job (ms_orthanc_jobs_ended), or when the mirror sees the end itself, whichever is
 * first; the generation tells a reused place from the one a mirror held. */
#define MAX_PLACES 64

static struct {
	bool used;
	int64_t job_id;
	uint64_t gen;
} places[MAX_PLACES];
static int max_places = -1; /* read from Orthanc's configuration on first use */
static uint64_t next_gen = 1;
static pthread_mutex_t places_lock = PTHREAD_MUTEX_INITIALIZER;

static int read_max_places(void)
{
	ms_json *cfg = NULL;
	char err[128];
	double concurrent = 2; /* Orthanc's default */

	char *json = OrthancPluginGetConfiguration(ms_plugin_get()->ctx);
	if (json && ms_json_parse(json, strlen(json), &cfg, err, sizeof(err)) == MS_OK) {
		const ms_json *v = ms_json_get(cfg, "ConcurrentJobs");
		if (ms_json_is_number(v))
			concurrent = ms_json_number(v);
	}
	ms_json_destroy(cfg);
	if (json)
		OrthancPluginFreeString(ms_plugin_get()->ctx, json);
	/* 0 means "one per CPU core" to Orthanc: at least 1 is free then too. */
	int n = concurrent == 0 ? 1 : concurrent < 2 ? 0 : concurrent - 1 > MAX_PLACES ? MAX_PLACES : (int)concurrent - 1;
	ms_log_info("up to %d running job(s) are shown in Orthanc's Jobs (ConcurrentJobs = %g)", n, concurrent);
	return n;
}

/* Takes a free place for job_id; false when the limit is reached. */
static bool take_place(int64_t job_id, int *slot, uint64_t *gen)
{
	bool ok = false;
	pthread_mutex_lock(&places_lock);
	if (max_places < 0)
		max_places = read_max_places();
	int used = 0, free_slot = -1;
	for (int i = 0; i < MAX_PLACES; i++) {
		if (places[i].used)
			used++;
		else if (free_slot < 0)
			free_slot = i;
	}
	if (used < max_places && free_slot >= 0) {
		places[free_slot].used = true;
		places[free_slot].job_id = job_id;
		places[free_slot].gen = next_gen++;
		*slot = free_slot;
		*gen = places[free_slot].gen;
		ok = true;
	}
	pthread_mutex_unlock(&places_lock);
	return ok;
}

/* Gives back the mirror's place if it still holds it (idempotent). */
static void uncount(mirror *m)
{
	pthread_mutex_lock(&places_lock);
	if (places[m->slot].used && places[m->slot].gen == m->gen)
		places[m->slot].used = false;
	pthread_mutex_unlock(&places_lock);
}

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
	uncount(m);
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

	if (!p->db || ms_db_pool_get(p->db, &db) != MS_OK) {
		uncount(m);
		return OrthancPluginJobStepStatus_Failure;
	}
	ms_status rc = ms_queue_get(db, m->job_id, &j);
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		set_content(m, NULL);
		uncount(m);
		return OrthancPluginJobStepStatus_Failure;
	}
	m->progress = j.state == MS_JOB_DONE ? 1.0f : (float)j.progress;
	set_content(m, &j);
	ms_job_state state = j.state;
	ms_job_clear(&j);
	switch (state) {
	case MS_JOB_DONE:
		uncount(m);
		return OrthancPluginJobStepStatus_Success;
	case MS_JOB_FAILED:
	case MS_JOB_CANCELLED:
		uncount(m);
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

	if (reason == OrthancPluginJobStopReason_Canceled || reason == OrthancPluginJobStopReason_Failure)
		uncount(m); /* it does not run again unless a user resubmits it */
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
	/* Resubmitted from Orthanc's Jobs page: its MedSight job has normally ended, so the first
	 * step ends it again; it takes no place. */
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
	if (!take_place(job->id, &m->slot, &m->gen)) {
		ms_free(m);
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

void ms_orthanc_jobs_ended(int64_t job_id)
{
	pthread_mutex_lock(&places_lock);
	for (int i = 0; i < MAX_PLACES; i++) {
		if (places[i].used && places[i].job_id == job_id)
			places[i].used = false;
	}
	pthread_mutex_unlock(&places_lock);
}
