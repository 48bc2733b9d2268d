#include "plugin/rest_perf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ms_ui_js.h"
#include "plugin/analysis.h"
#include "plugin/metrics.h"
#include "plugin/orthanc_io.h"
#include "plugin/rest_common.h"
#include "storage/perf.h"
#include "storage/queue.h"

#define DEFAULT_LIMIT 1000

/* Copies a query value into buf, decoding %XX escapes: Orthanc 1.10 hands plugins the raw
 * value, so "since=2026-11-23T07%3A02%3A23Z" from a browser or urlencode() must be decoded
 * here. '+' is kept (it is the sign of a zone offset, not a space). False if it does not fit
 * or an escape is malformed. */
static bool url_decode(const char *in, char *buf, size_t size)
{
	size_t n = 0;
	for (const char *c = in; *c; c++) {
		char ch = *c;
		if (ch == '%') {
			char hex[3] = { c[1], c[1] ? c[2] : '\0', '\0' };
			char *end;
			long v = strtol(hex, &end, 16);
			if (!hex[0] || !hex[1] || *end || v <= 0 || hex[0] == '+' || hex[0] == '-' || hex[0] == ' ')
				return false;
			ch = (char)v;
			c += 2;
		}
		if (n + 1 >= size)
			return false;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	return true;
}

/* Validates ?analysis=, ?since= and (when limit is not NULL) ?limit=; answers 400 itself and
 * returns false on a bad value. Unknown keys are ignored, as Orthanc's own routes do. */
static bool parse_query(ms_plugin *p, OrthancPluginRestOutput *out, const OrthancPluginHttpRequest *req,
			const char **analysis, double *since, int *limit)
{
	const char *a = ms_rest_arg(req, "analysis"), *s = ms_rest_arg(req, "since"), *l = ms_rest_arg(req, "limit");
	char text[128];

	*analysis = NULL;
	*since = 0;
	if (a && a[0]) {
		const ms_analysis *found = url_decode(a, text, sizeof(text)) ? ms_analysis_find(text) : NULL;
		if (!found) {
			ms_orthanc_answer_error(p->ctx, out, 400,
						"unknown analysis '%s' (known: histogram, calcium, perfusion, segmentation)", a);
			return false;
		}
		*analysis = found->name; /* static: outlives the request */
	}
	if (s && s[0] && (!url_decode(s, text, sizeof(text)) || !ms_perf_parse_time(text, since))) {
		ms_orthanc_answer_error(p->ctx, out, 400,
					"since must be unix seconds (1700000000) or ISO 8601 (2026-11-23T07:02:23Z), "
					"not '%s'", s);
		return false;
	}
	if (limit) {
		*limit = DEFAULT_LIMIT;
		if (l) {
			char *end;
			long v = strtol(l, &end, 10);
			if (end == l || *end || v < 1 || v > MS_PERF_MAX_LIST) {
				ms_orthanc_answer_error(p->ctx, out, 400, "limit must be an integer from 1 to %d, not '%s'",
							MS_PERF_MAX_LIST, l);
				return false;
			}
			*limit = (int)v;
		}
	}
	return true;
}

static void append_row(ms_strbuf *b, const ms_perf_row *r)
{
	char iso[40];

	ms_strbuf_appendf(b, "{\"ID\": %lld, \"JobID\": %lld, \"Analysis\": ", (long long)r->id, (long long)r->job_id);
	ms_strbuf_append_json_string(b, r->analysis);
	ms_strbuf_append(b, ", \"Priority\": ");
	ms_strbuf_append_json_string(b, ms_config_priority_name(r->priority));
	ms_strbuf_append(b, ", \"Outcome\": ");
	ms_strbuf_append_json_string(b, ms_job_state_name((ms_job_state)r->outcome));
	ms_strbuf_append(b, ", \"Stage\": ");
	ms_strbuf_append_json_string(b, r->stage);
	ms_strbuf_append(b, ", \"Ms\": ");
	ms_strbuf_append_json_number(b, r->ms);
	ms_strbuf_appendf(b, ", \"Voxels\": %lld, \"Bytes\": %lld, \"Device\": ", (long long)r->voxels,
			  (long long)r->bytes);
	ms_strbuf_append_json_string(b, r->device);
	ms_strbuf_append(b, ", \"Version\": ");
	ms_strbuf_append_json_string(b, r->version);
	ms_orthanc_iso_time(r->started_at, iso, sizeof(iso));
	ms_strbuf_append(b, ", \"StartedAt\": ");
	ms_strbuf_append_json_string(b, iso);
	ms_strbuf_append(b, ", \"StartedAtUnix\": ");
	ms_strbuf_append_json_number(b, r->started_at);
	ms_strbuf_append(b, "}");
}

static OrthancPluginErrorCode on_perf(OrthancPluginRestOutput *out, const char *url,
				      const OrthancPluginHttpRequest *req)
{
	ms_plugin *p = ms_plugin_get();
	const char *analysis;
	double since;
	int limit;
	(void)url;

	if (req->method != OrthancPluginHttpMethod_Get) {
		OrthancPluginSendMethodNotAllowed(p->ctx, out, "GET");
		return OrthancPluginErrorCode_Success;
	}
	if (!parse_query(p, out, req, &analysis, &since, &limit))
		return OrthancPluginErrorCode_Success;
	ms_store *db = ms_rest_db_get(p, out);
	if (!db)
		return OrthancPluginErrorCode_Success;
	ms_perf_row *rows = NULL;
	size_t n = 0;
	ms_status rc = ms_perf_list(db, analysis, since, limit, &rows, &n);
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot read performance records (%s)", ms_status_name(rc));
		return OrthancPluginErrorCode_Success;
	}
	ms_strbuf b;
	ms_strbuf_init(&b);
	ms_strbuf_append(&b, "[");
	for (size_t i = 0; i < n; i++) {
		ms_strbuf_append(&b, i ? ",\n " : "");
		append_row(&b, &rows[i]);
	}
	ms_strbuf_append(&b, "]\n");
	ms_perf_free_list(rows, n);
	ms_orthanc_answer_json(p->ctx, out, &b);
	return OrthancPluginErrorCode_Success;
}

static OrthancPluginErrorCode on_summary(OrthancPluginRestOutput *out, const char *url,
					 const OrthancPluginHttpRequest *req)
{
	ms_plugin *p = ms_plugin_get();
	const char *analysis;
	double since;
	(void)url;

	if (req->method != OrthancPluginHttpMethod_Get) {
		OrthancPluginSendMethodNotAllowed(p->ctx, out, "GET");
		return OrthancPluginErrorCode_Success;
	}
	if (!parse_query(p, out, req, &analysis, &since, NULL))
		return OrthancPluginErrorCode_Success;
	ms_store *db = ms_rest_db_get(p, out);
	if (!db)
		return OrthancPluginErrorCode_Success;
	ms_perf_summary *sum = NULL;
	size_t n = 0;
	ms_status rc = ms_perf_summarize(db, analysis, since, &sum, &n);
	ms_db_pool_put(p->db, db);
	if (rc != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "cannot summarise performance records (%s)",
					ms_status_name(rc));
		return OrthancPluginErrorCode_Success;
	}
	ms_strbuf b;
	ms_strbuf_init(&b);
	ms_strbuf_append(&b, "[");
	for (size_t i = 0; i < n; i++) {
		ms_strbuf_append(&b, i ? ",\n " : "");
		ms_strbuf_append(&b, "{\"Analysis\": ");
		ms_strbuf_append_json_string(&b, sum[i].analysis);
		ms_strbuf_append(&b, ", \"Stage\": ");
		ms_strbuf_append_json_string(&b, sum[i].stage);
		ms_strbuf_appendf(&b, ", \"Count\": %lld, \"P50Ms\": ", (long long)sum[i].count);
		ms_strbuf_append_json_number(&b, sum[i].p50);
		ms_strbuf_append(&b, ", \"P95Ms\": ");
		ms_strbuf_append_json_number(&b, sum[i].p95);
		ms_strbuf_append(&b, ", \"MaxMs\": ");
		ms_strbuf_append_json_number(&b, sum[i].max);
		ms_strbuf_append(&b, ", \"LastMs\": ");
		ms_strbuf_append_json_number(&b, sum[i].last);
		ms_strbuf_append(&b, "}");
	}
	ms_strbuf_append(&b, "]\n");
	ms_perf_free_summary(sum, n);
	ms_orthanc_answer_json(p->ctx, out, &b);
	return OrthancPluginErrorCode_Success;
}

static OrthancPluginErrorCode on_ui(OrthancPluginRestOutput *out, const char *url,
				    const OrthancPluginHttpRequest *req)
{
	ms_plugin *p = ms_plugin_get();
	(void)url;

	if (req->method != OrthancPluginHttpMethod_Get) {
		OrthancPluginSendMethodNotAllowed(p->ctx, out, "GET");
		return OrthancPluginErrorCode_Success;
	}
	ms_strbuf b;
	ms_strbuf_init(&b);
	ms_strbuf_append(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			     "<meta name=\"viewport\" content=\"width=device-width\"><title>MedSight</title></head>\n"
			     "<body><div id=\"medsight-app\">Loading MedSight...</div>\n<script>\n");
	ms_strbuf_append(&b, ms_ui_js[0]);
	ms_strbuf_append(&b, "</script></body></html>\n");
	if (b.failed || !b.data) {
		ms_strbuf_free(&b);
		ms_orthanc_answer_error(p->ctx, out, 500, "out of memory building the page");
		return OrthancPluginErrorCode_Success;
	}
	OrthancPluginAnswerBuffer(p->ctx, out, b.data, (uint32_t)b.len, "text/html; charset=utf-8");
	ms_strbuf_free(&b);
	return OrthancPluginErrorCode_Success;
}

void ms_rest_perf_register(ms_plugin *p)
{
	OrthancPluginRegisterRestCallback(p->ctx, "/medsight/perf", on_perf);
	OrthancPluginRegisterRestCallback(p->ctx, "/medsight/perf/summary", on_summary);
	OrthancPluginRegisterRestCallback(p->ctx, "/medsight/ui", on_ui);
	OrthancPluginExtendOrthancExplorer(p->ctx, ms_ui_js[0]);
	ms_metrics_register(p);
}
