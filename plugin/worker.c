#include "plugin/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "plugin/analysis.h"
#include "plugin/forward.h"
#include "plugin/job_timer.h"
#include "plugin/metrics.h"
#include "plugin/order_priority.h"
#include "plugin/orthanc_jobs.h"
#include "plugin/orthanc_io.h"
#include "plugin/series_loader.h"
#include "storage/inbox.h"
#include "storage/queue.h"

typedef struct {
	ms_workers *owner;
	int index;   /* 0: the event thread; 1..n: job workers */
	pthread_t thread;
	bool started;
} worker;

struct ms_workers {
	ms_plugin *plugin;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int n; /* threads: the event thread plus config.workers job workers */
	worker *threads;
	double start_time;         /* series seen before this are orphans of an earlier run */
	double orphans_checked_at; /* last sweep for series pending since before the start */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- rules --------------------------------------------------------------------------------- */

typedef struct {
	const ms_json *series_tags, *study_tags;
} tag_lookup;

static const char *lookup_tag(void *arg, const char *keyword)
{
	tag_lookup *t = arg;
	const char *v = ms_json_string(ms_json_get(t->series_tags, keyword));
	return v ? v : ms_json_string(ms_json_get(t->study_tags, keyword));
}

/* Applies the configured rules to a series that became stable (trigger "stable") or that
 * Orthanc reported complete (trigger "complete": only if it still is, else *ran stays false
 * and StableSeries decides later). A job gets the higher of its rule's priority and the
 * order's RequestedProcedurePriority. ran may be NULL. */
static ms_status apply_rules(ms_workers *w, ms_store *db, const char *series_id, const char *trigger, bool *ran)
{
	ms_plugin *p = w->plugin;
	ms_json *series = NULL, *study = NULL;
	char uri[256];
	ms_status rc;

	if (ran)
		*ran = false;
	snprintf(uri, sizeof(uri), "/series/%s", series_id);
	rc = ms_orthanc_get_json(p->ctx, uri, &series);
	if (rc == MS_ERR_NOTFOUND)
		return MS_OK; /* deleted before it became stable: nothing to do */
	if (rc != MS_OK)
		return rc;
	if (strcmp(trigger, "complete") == 0) {
		/* Orthanc counts instances against ImagesInAcquisition (x NumberOfTemporalPositions),
		 * NumberOfSlices or CardiacNumberOfImages; an instance stored since may have made the
		 * series "Inconsistent" (the announced count was not the whole series). */
		const char *status = ms_json_string(ms_json_get(series, "Status"));
		if (!status || strcmp(status, "Complete") != 0) {
			ms_log_info("series %s was reported complete but is now %s; its rules wait until it is stable",
				    series_id, status ? status : "of unknown status");
			rc = MS_OK;
			goto out_free;
		}
	}
	if (ran)
		*ran = true;
	const char *parent = ms_json_string(ms_json_get(series, "ParentStudy"));
	if (parent) {
		snprintf(uri, sizeof(uri), "/studies/%s", parent);
		if (ms_orthanc_get_json(p->ctx, uri, &study) != MS_OK)
			study = NULL;
	}
	tag_lookup t = { ms_json_get(series, "MainDicomTags"), ms_json_get(study, "MainDicomTags") };
	const char *maker = ms_json_string(ms_json_get(t.series_tags, "Manufacturer"));
	if (maker && strcmp(maker, MS_MANUFACTURER) == 0) {
		rc = MS_OK; /* our own results are never analysed again */
		goto out_free;
	}
	int requested = -2; /* not read yet */
	for (size_t i = 0; i < p->config.n_rules; i++) {
		const ms_rule *r = &p->config.rules[i];
		if (!ms_config_rule_matches(r, lookup_tag, &t))
			continue;
		if (requested == -2)
			requested = ms_order_priority(p->ctx, series);
		int prio = requested > r->priority ? requested : r->priority;
		int64_t id;
		bool created;
		rc = ms_queue_enqueue(db, series_id, r->analysis, (ms_priority)prio, trigger, NULL, &id, &created);
		if (rc != MS_OK)
			goto out_free;
		ms_log_info("series %s is %s and matches rule %zu: %s job %lld (%s%s, %s)", series_id, trigger, i + 1,
			    r->analysis, (long long)id, ms_config_priority_name(prio),
			    prio > r->priority ? " as the order's RequestedProcedurePriority asks" : "",
			    created ? "new" : "already queued");
	}
	rc = MS_OK;
out_free:
	ms_json_destroy(study);
	ms_json_destroy(series);
	return rc;
}

/* Re-raises series that were still arriving when an earlier run of Orthanc stopped: Orthanc
 * will never report them stable, so they count as stable StableAge after this start. */
static void raise_orphans(ms_workers *w, ms_store *db)
{
	double t = now_s();
	/* From StableAge after the start on, once a second: rows of the earlier run can still be
	 * refreshed by its NewInstance events processed after the start. */
	if (t < w->start_time + w->plugin->config.stable_age_s + 1 || t < w->orphans_checked_at + 1)
		return;
	w->orphans_checked_at = t;
	char **ids = NULL;
	size_t n = 0;
	if (ms_inbox_series_older_than(db, t - w->start_time, &ids, &n) != MS_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		/* Instances that arrived since the start make Orthanc track the series again: its own
		 * StableSeries will come, and raising one here too would start the job twice. */
		char uri[128];
		ms_json *series = NULL;
		snprintf(uri, sizeof(uri), "/series/%s", ids[i]);
		ms_status rc = ms_orthanc_get_json(w->plugin->ctx, uri, &series);
		const ms_json *stable = ms_json_get(series, "IsStable");
		bool tracked = rc == MS_OK && stable && ms_json_type_of(stable) == MS_JSON_BOOL && !ms_json_bool(stable);
		ms_json_destroy(series);
		if (rc == MS_ERR_NOTFOUND) {
			ms_inbox_series_settled(db, ids[i]); /* deleted meanwhile */
		} else if (tracked) {
			ms_log_info("series %s was still arriving when Orthanc stopped and is receiving instances again; "
				    "waiting for Orthanc to report it stable",
				    ids[i]);
		} else {
			ms_log_info("series %s was still arriving when Orthanc stopped; treating it as stable", ids[i]);
			ms_inbox_push(db, MS_EVENT_STABLE_SERIES, ids[i]);
		}
	}
	ms_inbox_free_ids(ids, n);
}

/* Handles one inbox event; returns true if there was one. */
static bool process_event(ms_workers *w, ms_store *db)
{
	ms_event ev = { 0 };
	if (ms_inbox_pop(db, &ev) != MS_OK)
		return false;
	ms_status rc = MS_OK;
	if (ev.kind == MS_EVENT_NEW_INSTANCE) {
		/* Instances added to an existing series bring no NewSeries: keep the series pending
		 * (as of the instance's arrival) so a crash before StableSeries cannot lose it. */
		char uri[128];
		ms_json *inst = NULL;
		snprintf(uri, sizeof(uri), "/instances/%s", ev.resource_id);
		rc = ms_orthanc_get_json(w->plugin->ctx, uri, &inst);
		const char *series = ms_json_string(ms_json_get(inst, "ParentSeries"));
		if (rc == MS_OK && series)
			rc = ms_inbox_series_seen_at(db, series, ev.created);
		else if (rc == MS_ERR_NOTFOUND || rc == MS_OK)
			rc = MS_OK; /* deleted meanwhile */
		ms_json_destroy(inst);
	} else if (ev.kind == MS_EVENT_COMPLETE_SERIES) {
		/* The series stays pending: StableSeries (or the orphan sweep) settles it later, and
		 * runs the rules again only if an instance arrived after this report. */
		bool ran = false;
		if (w->plugin->config.complete_trigger)
			rc = apply_rules(w, db, ev.resource_id, "complete", &ran);
		if (rc == MS_OK && ran)
			rc = ms_inbox_series_triggered(db, ev.resource_id, ev.created);
	} else if (ev.kind == MS_EVENT_STABLE_SERIES) {
		bool analysed = false;
		if (w->plugin->config.stable_trigger) {
			rc = ms_inbox_series_analysed(db, ev.resource_id, &analysed);
			if (rc == MS_OK && analysed)
				ms_log_info("series %s is stable; its rules already ran when it became complete and no "
					    "instance arrived since",
					    ev.resource_id);
			else if (rc == MS_OK)
				rc = apply_rules(w, db, ev.resource_id, "stable", NULL);
		}
		if (rc == MS_OK)
			rc = ms_inbox_series_settled(db, ev.resource_id);
	}
	if (rc == MS_OK)
		ms_inbox_done(db, ev.id);
	else
		ms_log_error("event %lld for %s will be retried (%s)", (long long)ev.id, ev.resource_id,
			     ms_status_name(rc));
	ms_event_clear(&ev);
	return rc == MS_OK;
}

/* ---- jobs ---------------------------------------------------------------------------------- */

typedef struct {
	ms_store *db;
	int64_t job_id;
	ms_workers *w;
	double last_check, last_progress;
	bool cancelled;
} job_run;

static bool job_cancelled(void *arg)
{
	job_run *j = arg;
	double t = now_s();
	if (atomic_load(&j->w->stop))
		return true; /* shutting down: the job is re-run at next start */
	if (!j->cancelled && t - j->last_check > 0.2) {
		j->last_check = t;
		j->cancelled = ms_queue_cancel_requested(j->db, j->job_id);
	}
	return j->cancelled;
}

static void job_progress(void *arg, double f)
{
	job_run *j = arg;
	double t = now_s();
	if (t - j->last_progress > 0.25 || f >= 1.0) {
		j->last_progress = t;
		ms_queue_progress(j->db, j->job_id, f);
	}
}

/* What an earlier run of the same analysis on the same series left: its SR and its objects. */
typedef struct {
	char report[65];     /* SOP UID of its SR, "" if none */
	char (*ids)[64];     /* Orthanc ids of its result instances */
	size_t n;
} previous_run;

static void previous_run_clear(previous_run *pr)
{
	ms_free(pr->ids);
	memset(pr, 0, sizeof(*pr));
}

/* Finds the newest done run of (series, analysis) other than job; leaves pr empty if none. */
static void find_previous_run(ms_store *db, const ms_job *job, previous_run *pr)
{
	ms_job *jobs = NULL;
	size_t n = 0;

	memset(pr, 0, sizeof(*pr));
	if (ms_queue_list(db, MS_JOB_DONE, job->series_id, 1000, &jobs, &n) != MS_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].id == job->id || strcmp(jobs[i].analysis, job->analysis) != 0 || !jobs[i].result)
			continue;
		ms_json *rec = NULL;
		char perr[64];
		if (ms_json_parse(jobs[i].result, strlen(jobs[i].result), &rec, perr, sizeof(perr)) == MS_OK) {
			const char *report = ms_json_string(ms_json_get(rec, "Report"));
			snprintf(pr->report, sizeof(pr->report), "%s", report ? report : "");
			const ms_json *ids = ms_json_get(rec, "Instances");
			pr->ids = ms_calloc(ms_json_size(ids) + 1, sizeof(*pr->ids));
			for (size_t k = 0; pr->ids && k < ms_json_size(ids); k++) {
				const char *id = ms_json_string(ms_json_at(ids, k));
				if (id)
					snprintf(pr->ids[pr->n++], sizeof(pr->ids[0]), "%s", id);
			}
		}
		ms_json_destroy(rec);
		break; /* newest first */
	}
	ms_queue_free_list(jobs, n);
}

/* Deletes the earlier run's objects that the new run did not replace in place (it wrote them
 * under other UIDs because the series' content changed). */
static void delete_superseded(ms_plugin *p, const previous_run *pr, const ms_strbuf *record, int64_t job_id)
{
	size_t deleted = 0;
	for (size_t i = 0; i < pr->n; i++) {
		if (record->data && strstr(record->data, pr->ids[i]))
			continue; /* same object, replaced in place */
		char uri[128];
		snprintf(uri, sizeof(uri), "/instances/%s", pr->ids[i]);
		if (OrthancPluginRestApiDelete(p->ctx, uri) == OrthancPluginErrorCode_Success)
			deleted++;
	}
	if (deleted)
		ms_log_info("job %lld: removed %zu result instance(s) of the earlier run it supersedes", (long long)job_id,
			    deleted);
}

/* Stores the analysis' DICOM objects, queues each for the MedSight.Forward servers (before the
 * job is done, so a crash in between re-runs the job rather than losing a forward), and writes
 * the job record {"Instances": [...], "Result": {...}}. */
static ms_status store_results(ms_plugin *p, ms_store *db, int64_t job_id, const ms_analysis_output *out,
			       const char *fallback, ms_strbuf *record, char *err, size_t errlen)
{
	ms_strbuf_append(record, "{\"Instances\": [");
	for (size_t i = 0; i < out->n_objects; i++) {
		char id[64];
		ms_status rc = ms_orthanc_store_dicom(p->ctx, out->objects[i].data, out->objects[i].size,
						      out->objects[i].sop_uid, id, err, errlen);
		if (rc != MS_OK)
			return rc;
		rc = ms_forward_enqueue(p, db, job_id, id);
		if (rc != MS_OK) {
			snprintf(err, errlen, "stored %s but could not queue it for forwarding (%s)", id,
				 ms_status_name(rc));
			return rc;
		}
		ms_strbuf_append(record, i ? ", " : "");
		ms_strbuf_append_json_string(record, id);
	}
	ms_strbuf_append(record, "]");
	for (size_t i = 0; i < out->n_objects; i++) {
		if (out->objects[i].report) {
			ms_strbuf_append(record, ", \"Report\": ");
			ms_strbuf_append_json_string(record, out->objects[i].sop_uid);
		}
	}
	ms_strbuf_append(record, ", \"Result\": ");
	ms_strbuf_append(record, out->summary.data && out->summary.len ? out->summary.data : "null");
	if (fallback[0]) {
		ms_strbuf_append(record, ", \"DeviceFallback\": ");
		ms_strbuf_append_json_string(record, fallback);
	}
	ms_strbuf_append(record, "}");
	if (record->failed || out->summary.failed) {
		snprintf(err, errlen, "out of memory building the result");
		return MS_ERR_NOMEM;
	}
	return MS_OK;
}

/* Bytes of the DICOM objects an analysis produced (for the "store" performance record). */
static uint64_t result_bytes(const ms_analysis_output *out)
{
	uint64_t n = 0;
	for (size_t i = 0; i < out->n_objects; i++)
		n += out->objects[i].size;
	return n;
}

static ms_status analyse(ms_plugin *p, const ms_analysis *a, const ms_job *job, const ms_volume *vol,
			 const ms_series_info *info, const ms_job_hooks *hooks, ms_analysis_output *out, char *err,
			 size_t errlen)
{
	if (a->run_series)
		return a->run_series(p, job->series_id, job->params, hooks, out, err, errlen);
	return a->run(p, vol, info, hooks, out, err, errlen);
}

/* A fresh CPU (lavapipe) context for jobs whose device failed; created on first need. */
static ms_vk_context *fallback_device(ms_plugin *p)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&lock);
	if (!p->vk_fallback) {
		ms_vk_opts o = { .device = "cpu" };
		if (ms_vk_context_create(&o, &p->vk_fallback) != MS_OK)
			ms_log_error("no CPU Vulkan device to retry failed GPU jobs on");
	}
	pthread_mutex_unlock(&lock);
	return p->vk_fallback;
}

/* Runs the analysis; when the device fails (lost, out of device memory), runs it once more on
 * a fresh CPU context and describes what happened in note (empty otherwise). */
static ms_status analyse_with_fallback(ms_plugin *p, const ms_analysis *a, const ms_job *job, const ms_volume *vol,
				       const ms_series_info *info, const ms_job_hooks *hooks, ms_analysis_output *out,
				       char *note, size_t note_len, char *err, size_t errlen)
{
	ms_status rc = analyse(p, a, job, vol, info, hooks, out, err, errlen);
	if (rc != MS_ERR_VULKAN && rc != MS_ERR_NOMEM)
		return rc;
	ms_vk_context *cpu = fallback_device(p);
	if (!cpu)
		return rc;
	snprintf(note, note_len, "%s on %s (%s); retried on %s", rc == MS_ERR_VULKAN ? "device failure" : "out of memory",
		 ms_vk_context_device_name(p->vk), err[0] ? err : ms_status_name(rc), ms_vk_context_device_name(cpu));
	ms_log_warning("job %lld: %s", (long long)job->id, note);
	char previous[sizeof(out->previous_report)];
	memcpy(previous, out->previous_report, sizeof(previous));
	ms_analysis_output_clear(out);
	ms_strbuf_init(&out->summary);
	memcpy(out->previous_report, previous, sizeof(previous));
	err[0] = '\0';
	ms_plugin on_cpu = *p; /* same plugin state, other device */
	on_cpu.vk = cpu;
	return analyse(&on_cpu, a, job, vol, info, hooks, out, err, errlen);
}

static void run_job(ms_workers *w, ms_store *db, const ms_job *job)
{
	ms_plugin *p = w->plugin;
	const ms_analysis *a = ms_analysis_find(job->analysis);
	char err[1024] = "";
	ms_volume *vol = NULL;
	ms_series_info info = { 0 };
	ms_analysis_output out = { 0 };
	ms_strbuf result;
	ms_status rc;
	ms_job_timer timer;
	char fallback[512] = "";
	previous_run prev = { 0 };

	ms_job_timer_start(&timer, job); /* perf: queue_wait */
	ms_orthanc_jobs_submit(p, job);  /* visible in Orthanc's Jobs page */
	ms_strbuf_init(&result);
	ms_strbuf_init(&out.summary);
	ms_log_info("job %lld: %s of series %s (%s, attempt %d)", (long long)job->id, job->analysis, job->series_id,
		    ms_config_priority_name(job->priority), job->attempts);
	if (!a || (!a->run && !a->run_series)) {
		snprintf(err, sizeof(err), "analysis '%s' is not available in MedSight %s", job->analysis, MS_VERSION);
		rc = MS_ERR_ARG;
		goto out_finish;
	}
	job_run jr = { .db = db, .job_id = job->id, .w = w };
	/* Loading is the first half of the progress bar, the analysis the second. */
	ms_job_hooks load_hooks = { job_cancelled, job_progress, &jr };
	if (!a->run_series) {
		rc = ms_series_load(p, job->series_id, &load_hooks, &vol, &info, err, sizeof(err));
		if (rc != MS_OK)
			goto out_finish;
		ms_job_timer_lap(&timer, MS_PERF_DECODE, ms_volume_count(vol), ms_volume_count(vol) * sizeof(float));
		ms_queue_progress(db, job->id, 0.5);
	}
	find_previous_run(db, job, &prev);
	memcpy(out.previous_report, prev.report, sizeof(out.previous_report));
	rc = analyse_with_fallback(p, a, job, vol, &info, &load_hooks, &out, fallback, sizeof(fallback), err,
				   sizeof(err));
	ms_job_timer_lap(&timer, MS_PERF_COMPUTE, vol ? ms_volume_count(vol) : 0, 0);
	ms_job_timer_add_summary(&timer, out.summary.data, vol ? ms_volume_count(vol) : 0);
	/* A cancel that arrived during the analysis wins: its results are not stored. */
	if (rc == MS_OK) {
		jr.last_check = 0; /* look at the flag now, not at the throttled pace */
		if (job_cancelled(&jr))
			rc = MS_ERR_CANCELLED;
	}
	if (rc == MS_OK) {
		rc = store_results(p, db, job->id, &out, fallback, &result, err, sizeof(err));
		if (rc == MS_OK)
			delete_superseded(p, &prev, &result, job->id);
		ms_job_timer_lap(&timer, MS_PERF_STORE, 0, result_bytes(&out));
	}
out_finish:
	if (vol)
		ms_volume_cache_release(p->cache, vol);
	ms_series_info_clear(&info);
	if (atomic_load(&w->stop) && rc == MS_ERR_CANCELLED) {
		ms_log_info("job %lld interrupted by shutdown; it runs again at next start", (long long)job->id);
	} else if (rc == MS_ERR_CANCELLED) {
		ms_queue_cancelled(db, job->id);
		ms_log_info("job %lld cancelled", (long long)job->id);
	} else if (rc == MS_OK) {
		if (ms_queue_finish(db, job->id, result.data) == MS_OK)
			ms_log_info("job %lld done", (long long)job->id);
		else
			ms_log_warning("job %lld finished but was no longer running (cancelled?)", (long long)job->id);
	} else {
		if (!err[0])
			snprintf(err, sizeof(err), "failed: %s", ms_status_name(rc));
		ms_queue_fail(db, job->id, err);
		ms_log_warning("job %lld failed: %s", (long long)job->id, err);
	}
	ms_job_timer_finish(&timer, p, db, job, rc, atomic_load(&w->stop) && rc == MS_ERR_CANCELLED);
	ms_strbuf_free(&result);
	ms_analysis_output_clear(&out);
	previous_run_clear(&prev);
}

/* ---- threads ------------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	worker *self = arg;
	ms_workers *w = self->owner;
	ms_store *db = NULL;

	if (ms_store_open(w->plugin->config.database, &db) != MS_OK) {
		ms_log_error("worker %d cannot open %s; it does not run", self->index, w->plugin->config.database);
		return NULL;
	}
	while (!atomic_load(&w->stop)) {
		bool busy = false;
		if (self->index == 0) {
			/* The event thread never runs a job, so a series that becomes stable or complete
			 * is queued (a STAT one first in line) while every worker is busy. Events first:
			 * a StableSeries already delivered settles its series before the orphan sweep
			 * looks at it. */
			while (!atomic_load(&w->stop) && process_event(w, db))
				busy = true;
			raise_orphans(w, db);
			ms_metrics_tick(w->plugin, db); /* Prometheus refresh, daily perf retention */
			while (!atomic_load(&w->stop) && process_event(w, db))
				busy = true;
			if (busy)
				ms_workers_wake(w); /* rules may have queued jobs */
		} else {
			ms_job job = { 0 };
			if (!atomic_load(&w->stop) && ms_queue_claim(db, &job) == MS_OK) {
				run_job(w, db, &job);
				ms_job_clear(&job);
				busy = true;
			}
		}
		if (busy)
			continue;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 500 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&w->lock);
		if (!atomic_load(&w->stop))
			pthread_cond_timedwait(&w->wake, &w->lock, &until);
		pthread_mutex_unlock(&w->lock);
	}
	ms_store_close(db);
	return NULL;
}

ms_status ms_workers_start(ms_plugin *p, ms_workers **out)
{
	*out = NULL;
	ms_workers *w = ms_calloc(1, sizeof(*w));
	if (!w)
		return MS_ERR_NOMEM;
	w->plugin = p;
	atomic_init(&w->stop, false);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->start_time = now_s();
	w->n = p->config.workers + 1;
	w->threads = ms_calloc((size_t)w->n, sizeof(*w->threads));
	if (!w->threads) {
		ms_workers_stop(w);
		return MS_ERR_NOMEM;
	}
	for (int i = 0; i < w->n; i++) {
		w->threads[i].owner = w;
		w->threads[i].index = i;
		if (pthread_create(&w->threads[i].thread, NULL, worker_main, &w->threads[i]) != 0) {
			ms_log_error("cannot start %s thread %d", i ? "worker" : "event", i);
			ms_workers_stop(w);
			return MS_ERR_NOMEM;
		}
		w->threads[i].started = true;
	}
	ms_log_info("%d worker thread(s) started, and one thread turning Orthanc's events into jobs", w->n - 1);
	*out = w;
	return MS_OK;
}

void ms_workers_stop(ms_workers *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	ms_workers_wake(w);
	for (int i = 0; w->threads && i < w->n; i++) {
		if (w->threads[i].started)
			pthread_join(w->threads[i].thread, NULL);
	}
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	ms_free(w->threads);
	ms_free(w);
}

void ms_workers_wake(ms_workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
}
