#include "plugin/rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "plugin/analysis.h"
#include "plugin/forward.h"
#include "plugin/order_priority.h"
#include "plugin/orthanc_io.h"
#include "plugin/rest_common.h"
#include "plugin/rest_perf.h"
#include "plugin/worker.h"
#include "storage/queue.h"

/* Parses a decimal job id from a URL group; false if it is not a positive integer. */
static bool parse_id(const char *s, int64_t *id)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return false;
	*id = v;
	return true;
}

static void append_ms(ms_strbuf *b, const char *key, double from, double to)
{
	ms_strbuf_appendf(b, ", \"%s\": ", key);
	if (from > 0 && to > 0)
		ms_strbuf_append_json_number(b, (to - from) * 1000.0);
	else
		ms_strbuf_append(b, "null");
}

/* The job record is {"Instances": [...], "Result": {...}} (worker.c): shown as "Results" (the
 * Orthanc ids of the stored objects) and "Result" (the analysis summary). */
static void append_result(ms_strbuf *b, const char *record)
{
	ms_json *rec = NULL;
	char perr[64];

	if (record && ms_json_parse(record, strlen(record), &rec, perr, sizeof(perr)) != MS_OK)
		rec = NULL;
	ms_strbuf_append(b, ", \"Results\": ");
	const ms_json *ids = ms_json_get(rec, "Instances");
	if (ids)
		ms_json_write(b, ids);
	else
		ms_strbuf_append(b, "[]");
	ms_strbuf_append(b, ", \"Result\": ");
	const ms_json *res = ms_json_get(rec, "Result");
	if (res)
		ms_json_write(b, res);
	else
		ms_strbuf_append(b, "null");
	ms_strbuf_append(b, ", \"DeviceFallback\": ");
	ms_strbuf_append_json_string(b, ms_json_string(ms_json_get(rec, "DeviceFallback")));
	ms_json_destroy(rec);
}

/* One job as the JSON object of the contract. */
static void append_job(ms_strbuf *b, const ms_job *j)
{
	ms_strbuf_appendf(b, "{\"ID\": %lld, \"Analysis\": ", (long long)j->id);
	ms_strbuf_append_json_string(b, j->analysis);
	ms_strbuf_append(b, ", \"Priority\": ");
	ms_strbuf_append_json_string(b, ms_config_priority_name(j->priority));
	ms_strbuf_append(b, ", \"State\": ");
	ms_strbuf_append_json_string(b, ms_job_state_name(j->state));
	ms_strbuf_append(b, ", \"Progress\": ");
	ms_strbuf_append_json_number(b, j->state == MS_JOB_DONE ? 1.0 : j->progress);
	ms_strbuf_append(b, ", \"SeriesId\": ");
	ms_strbuf_append_json_string(b, j->series_id);
	ms_strbuf_append(b, ", \"Trigger\": ");
	ms_strbuf_append_json_string(b, j->trigger);
	ms_strbuf_appendf(b, ", \"Attempts\": %d, \"CancelRequested\": %s, \"Error\": ", j->attempts,
			  j->cancel_requested ? "true" : "false");
	ms_strbuf_append_json_string(b, j->error);
	append_result(b, j->result);
	ms_forward_append_job(ms_plugin_get(), j->id, b);
	ms_rest_append_time(b, "CreatedAt", j->created);
	ms_rest_append_time(b, "StartedAt", j->started);
	ms_rest_append_time(b, "FinishedAt", j->finished);
	append_ms(b, "QueueWaitMs", j->created, j->started);
	append_ms(b, "RunMs", j->started, j->finished);
	ms_strbuf_append(b, "}");
}

static OrthancPluginErrorCode on_status(OrthancPluginRestOutput *out, const char *url,
					const OrthancPluginHttpRequest *req)
{
	ms_plugin *p = ms_plugin_get();
	(void)url;
	if (req->method != OrthancPluginHttpMethod_Get) {
		OrthancPluginSendMethodNotAllowed(p->ctx, out, "GET");
		return OrthancPluginErrorCode_Success;
	}
	ms_store *db = ms_rest_db_get(p, out);
	if (!db)
		return OrthancPluginErrorCode_Success;
	int64_t counts[5] = { 0 }, by_prio[4] = { 0 };
	ms_status rc = ms_queue_counts(db, counts, by_prio);
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot read the job queue (%s)", ms_status_name(rc));
		return OrthancPluginErrorCode_Success;
	}
	ms_strbuf b;
	ms_strbuf_init(&b);
	ms_strbuf_append(&b, "{\"Version\": \"" MS_VERSION "\", \"Device\": {\"Name\": ");
	ms_strbuf_append_json_string(&b, ms_vk_context_device_name(p->vk));
	ms_strbuf_append(&b, ", \"Type\": ");
	ms_strbuf_append_json_string(&b, ms_vk_context_device_type(p->vk));
	ms_strbuf_append(&b, "}, \"Jobs\": {");
	for (int s = 0; s < 5; s++)
		ms_strbuf_appendf(&b, "%s\"%s\": %lld", s ? ", " : "", ms_job_state_name(s), (long long)counts[s]);
	ms_strbuf_append(&b, "}, \"QueuedByPriority\": {");
	for (int pr = 3; pr >= 0; pr--)
		ms_strbuf_appendf(&b, "%s\"%s\": %lld", pr < 3 ? ", " : "", ms_config_priority_name(pr),
				  (long long)by_prio[pr]);
	ms_strbuf_appendf(&b, "}, \"MemoryBudgetMB\": %d, \"MemoryUsedMB\": ", p->config.memory_budget_mb);
	ms_strbuf_append_json_number(&b, ms_volume_cache_used(p->cache) / 1048576.0);
	ms_strbuf_appendf(&b, ", \"CachedStudies\": %zu, \"Workers\": %d}\n", ms_volume_cache_studies(p->cache),
			  p->config.workers);
	ms_orthanc_answer_json(p->ctx, out, &b);
	return OrthancPluginErrorCode_Success;
}

static OrthancPluginErrorCode on_jobs(OrthancPluginRestOutput *out, const char *url,
				      const OrthancPluginHttpRequest *req)
{
	ms_plugin *p = ms_plugin_get();
	(void)url;
	if (req->method != OrthancPluginHttpMethod_Get) {
		OrthancPluginSendMethodNotAllowed(p->ctx, out, "GET");
		return OrthancPluginErrorCode_Success;
	}
	const char *state_arg = ms_rest_arg(req, "state"), *limit_arg = ms_rest_arg(req, "limit");
	const char *series = ms_rest_arg(req, "series");
	int state = -1, limit = 100;
	if (state_arg && (state = ms_job_state_parse(state_arg)) < 0) {
		ms_orthanc_answer_error(p->ctx, out, 400,
					"unknown state '%s' (use queued, running, done, failed or cancelled)", state_arg);
		return OrthancPluginErrorCode_Success;
	}
	if (limit_arg) {
		char *end;
		long v = strtol(limit_arg, &end, 10);
		if (end == limit_arg || *end || v < 1 || v > 1000) {
			ms_orthanc_answer_error(p->ctx, out, 400, "limit must be an integer from 1 to 1000, not '%s'",
						limit_arg);
			return OrthancPluginErrorCode_Success;
		}
		limit = (int)v;
	}
	ms_store *db = ms_rest_db_get(p, out);
	if (!db)
		return OrthancPluginErrorCode_Success;
	ms_job *jobs = NULL;
	size_t n = 0;
	ms_status rc = ms_queue_list(db, state, series, limit, &jobs, &n);
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot list jobs (%s)", ms_status_name(rc));
		return OrthancPluginErrorCode_Success;
	}
	ms_strbuf b;
	ms_strbuf_init(&b);
	ms_strbuf_append(&b, "[");
	for (size_t i = 0; i < n; i++) {
		ms_strbuf_append(&b, i ? ",\n " : "");
		append_job(&b, &jobs[i]);
	}
	ms_strbuf_append(&b, "]\n");
	ms_queue_free_list(jobs, n);
	ms_orthanc_answer_json(p->ctx, out, &b);
	return OrthancPluginErrorCode_Success;
}

/* Answers a job by id, or the error that explains why not. */
static void answer_job(ms_plugin *p, OrthancPluginRestOutput *out, ms_store *db, int64_t id)
{
	ms_job job = { 0 };
	ms_status rc = ms_queue_get(db, id, &job);
	if (rc == MS_ERR_NOTFOUND) {
		ms_orthanc_answer_error(p->ctx, out, 404, "no job %lld", (long long)id);
		return;
	}
	if (rc != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot read job %lld (%s)", (long long)id, ms_status_name(rc));
		return;
	}
	ms_strbuf b;
	ms_strbuf_init(&b);
	append_job(&b, &job);
	ms_strbuf_append(&b, "\n");
	ms_job_clear(&job);
	ms_orthanc_answer_json(p->ctx, out, &b);
}

static OrthancPluginErrorCode on_job(OrthancPluginRestOutput *out, const char *url,
				     const OrthancPluginHttpRequest *req)
{
	ms_plugin *p = ms_plugin_get();
	int64_t id;
	(void)url;
	if (req->method != OrthancPluginHttpMethod_Get && req->method != OrthancPluginHttpMethod_Delete) {
		OrthancPluginSendMethodNotAllowed(p->ctx, out, "GET,DELETE");
		return OrthancPluginErrorCode_Success;
	}
	if (!parse_id(req->groups[0], &id)) {
		ms_orthanc_answer_error(p->ctx, out, 400, "job id must be a positive integer, not '%s'", req->groups[0]);
		return OrthancPluginErrorCode_Success;
	}
	ms_store *db = ms_rest_db_get(p, out);
	if (!db)
		return OrthancPluginErrorCode_Success;
	if (req->method == OrthancPluginHttpMethod_Delete) {
		ms_status rc = ms_queue_cancel(db, id);
		if (rc == MS_ERR_NOTFOUND)
			ms_orthanc_answer_error(p->ctx, out, 404, "no job %lld", (long long)id);
		else if (rc == MS_ERR_STATE)
			ms_orthanc_answer_error(p->ctx, out, 409, "job %lld has already finished; nothing to cancel",
						(long long)id);
		else if (rc != MS_OK)
			ms_orthanc_answer_error(p->ctx, out, 500, "cannot cancel job %lld (%s)", (long long)id,
						ms_status_name(rc));
		else
			answer_job(p, out, db, id);
	} else {
		answer_job(p, out, db, id);
	}
	ms_db_pool_put(p->db, db);
	return OrthancPluginErrorCode_Success;
}

static OrthancPluginErrorCode on_retry(OrthancPluginRestOutput *out, const char *url,
				       const OrthancPluginHttpRequest *req)
{
	ms_plugin *p = ms_plugin_get();
	int64_t id;
	(void)url;
	if (req->method != OrthancPluginHttpMethod_Post) {
		OrthancPluginSendMethodNotAllowed(p->ctx, out, "POST");
		return OrthancPluginErrorCode_Success;
	}
	if (!parse_id(req->groups[0], &id)) {
		ms_orthanc_answer_error(p->ctx, out, 400, "job id must be a positive integer, not '%s'", req->groups[0]);
		return OrthancPluginErrorCode_Success;
	}
	ms_store *db = ms_rest_db_get(p, out);
	if (!db)
		return OrthancPluginErrorCode_Success;
	ms_status rc = ms_queue_retry(db, id);
	if (rc == MS_ERR_NOTFOUND)
		ms_orthanc_answer_error(p->ctx, out, 404, "no job %lld", (long long)id);
	else if (rc == MS_ERR_STATE)
		ms_orthanc_answer_error(p->ctx, out, 409, "job %lld is queued or running; only finished jobs can be retried",
					(long long)id);
	else if (rc != MS_OK)
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot retry job %lld (%s)", (long long)id, ms_status_name(rc));
	else {
		answer_job(p, out, db, id); /* before waking a worker, so the answer shows it queued */
		ms_workers_wake(p->workers);
	}
	ms_db_pool_put(p->db, db);
	return OrthancPluginErrorCode_Success;
}

/* Validates the body of POST /medsight/series/{id}/analyze; fills analysis and priority (-1 when
 * the body names none). */
static bool parse_analyze_body(const OrthancPluginHttpRequest *req, ms_json **body, const char **analysis,
			       int *priority, char *err, size_t errlen)
{
	char perr[256];
	if (ms_json_parse(req->body, req->bodySize, body, perr, sizeof(perr)) != MS_OK) {
		snprintf(err, errlen, "body is not valid JSON: %s", perr);
		return false;
	}
	if (ms_json_type_of(*body) != MS_JSON_OBJECT) {
		snprintf(err, errlen, "body must be a JSON object like {\"Analysis\": \"histogram\", \"Priority\": \"STAT\"}");
		return false;
	}
	for (size_t i = 0; i < ms_json_size(*body); i++) {
		const char *k = ms_json_key_at(*body, i);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(k, ms_json_key_at(*body, j)) == 0) {
				snprintf(err, errlen, "key '%s' given more than once", k);
				return false;
			}
		}
		if (strcmp(k, "Analysis") != 0 && strcmp(k, "Priority") != 0 && strcmp(k, "AIF") != 0) {
			snprintf(err, errlen, "unknown key '%s' (allowed: Analysis, Priority, AIF)", k);
			return false;
		}
	}
	*analysis = ms_json_string(ms_json_get(*body, "Analysis"));
	if (!*analysis) {
		snprintf(err, errlen, "\"Analysis\" (a string) is required");
		return false;
	}
	if (!ms_analysis_find(*analysis)) {
		snprintf(err, errlen, "unknown analysis '%s' (known: histogram, calcium, perfusion, segmentation)",
			 *analysis);
		return false;
	}
	if (!ms_analysis_available(*analysis)) {
		snprintf(err, errlen, "analysis '%s' is not available in MedSight %s", *analysis, MS_VERSION);
		return false;
	}
	const ms_json *aif = ms_json_get(*body, "AIF");
	if (aif) {
		if (strcmp(*analysis, "perfusion") != 0) {
			snprintf(err, errlen, "\"AIF\" applies to the perfusion analysis only");
			return false;
		}
		bool ok = ms_json_type_of(aif) == MS_JSON_ARRAY && ms_json_size(aif) == 3;
		for (size_t k = 0; ok && k < 3; k++) {
			const ms_json *c = ms_json_at(aif, k);
			double v = ms_json_number(c);
			ok = ms_json_is_number(c) && v >= 0 && v <= 65535 && v == (double)(long)v;
		}
		if (!ok) {
			snprintf(err, errlen, "\"AIF\" must be [x, y, z]: the voxel indices (integers >= 0) of the arterial "
					      "input function");
			return false;
		}
	}
	const ms_json *prio = ms_json_get(*body, "Priority");
	*priority = -1; /* not given: the order's, else ROUTINE */
	if (prio) {
		const char *name = ms_json_string(prio);
		if (!name || (*priority = ms_config_priority_parse(name)) < 0) {
			snprintf(err, errlen, "\"Priority\" must be one of STAT, HIGH, ROUTINE, LOW");
			return false;
		}
	}
	return true;
}

static OrthancPluginErrorCode on_analyze(OrthancPluginRestOutput *out, const char *url,
					 const OrthancPluginHttpRequest *req)
{
	ms_plugin *p = ms_plugin_get();
	ms_json *body = NULL, *series = NULL;
	const char *analysis;
	int priority;
	char err[512], uri[256];
	(void)url;

	if (req->method != OrthancPluginHttpMethod_Post) {
		OrthancPluginSendMethodNotAllowed(p->ctx, out, "POST");
		return OrthancPluginErrorCode_Success;
	}
	if (!parse_analyze_body(req, &body, &analysis, &priority, err, sizeof(err))) {
		ms_orthanc_answer_error(p->ctx, out, 400, "%s", err);
		goto out_free;
	}
	snprintf(uri, sizeof(uri), "/series/%s", req->groups[0]);
	ms_status rc = ms_orthanc_get_json(p->ctx, uri, &series);
	if (rc == MS_ERR_NOTFOUND) {
		ms_orthanc_answer_error(p->ctx, out, 404, "no series '%s' in Orthanc", req->groups[0]);
		goto out_free;
	}
	if (rc != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot read series '%s'", req->groups[0]);
		goto out_free;
	}
	if (priority < 0) {
		priority = ms_order_priority(p->ctx, series);
		if (priority < 0)
			priority = MS_PRIO_ROUTINE;
	}
	ms_store *db = ms_rest_db_get(p, out);
	if (!db)
		goto out_free;
	int64_t id;
	bool created;
	/* Parameters travel with the job (persisted): today only the perfusion AIF. */
	ms_strbuf params;
	ms_strbuf_init(&params);
	const ms_json *aif = ms_json_get(body, "AIF");
	if (aif) {
		ms_strbuf_append(&params, "{\"AIF\": ");
		ms_json_write(&params, aif);
		ms_strbuf_append(&params, "}");
	}
	rc = params.failed ? MS_ERR_NOMEM
			   : ms_queue_enqueue(db, req->groups[0], analysis, (ms_priority)priority, "manual",
					      aif ? params.data : NULL, &id, &created);
	ms_strbuf_free(&params);
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot queue the job (%s)", ms_status_name(rc));
		goto out_free;
	}
	ms_workers_wake(p->workers);
	ms_strbuf b;
	ms_strbuf_init(&b);
	ms_strbuf_appendf(&b, "{\"ID\": %lld, \"Created\": %s}\n", (long long)id, created ? "true" : "false");
	ms_orthanc_answer_json(p->ctx, out, &b);
out_free:
	ms_json_destroy(series);
	ms_json_destroy(body);
	return OrthancPluginErrorCode_Success;
}

void ms_rest_register(ms_plugin *p)
{
	OrthancPluginRegisterRestCallback(p->ctx, "/medsight/status", on_status);
	OrthancPluginRegisterRestCallback(p->ctx, "/medsight/jobs", on_jobs);
	OrthancPluginRegisterRestCallback(p->ctx, "/medsight/jobs/([^/]+)", on_job);
	OrthancPluginRegisterRestCallback(p->ctx, "/medsight/jobs/([^/]+)/retry", on_retry);
	OrthancPluginRegisterRestCallback(p->ctx, "/medsight/series/([^/]+)/analyze", on_analyze);
	ms_rest_perf_register(p); /* /medsight/perf, /medsight/perf/summary, /medsight/ui, Explorer */
	ms_forward_register_rest(p);
}
