#include "plugin/orthanc_io.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

ms_status ms_orthanc_get_json(OrthancPluginContext *ctx, const char *uri, ms_json **out)
{
	OrthancPluginMemoryBuffer buf = { 0 };
	char err[256];
	ms_status rc;

	*out = NULL;
	OrthancPluginErrorCode code = OrthancPluginRestApiGet(ctx, &buf, uri);
	if (code == OrthancPluginErrorCode_UnknownResource)
		return MS_ERR_NOTFOUND;
	if (code != OrthancPluginErrorCode_Success) {
		ms_log_error("GET %s failed: %s", uri, OrthancPluginGetErrorDescription(ctx, code));
		return MS_ERR_IO;
	}
	rc = ms_json_parse(buf.data, buf.size, out, err, sizeof(err));
	if (rc != MS_OK)
		ms_log_error("GET %s: invalid JSON from Orthanc: %s", uri, err);
	OrthancPluginFreeMemoryBuffer(ctx, &buf);
	return rc;
}

void ms_orthanc_answer_json(OrthancPluginContext *ctx, OrthancPluginRestOutput *output, ms_strbuf *body)
{
	if (body->failed || !body->data) {
		ms_strbuf_free(body);
		ms_orthanc_answer_error(ctx, output, 500, "out of memory building the answer");
		return;
	}
	OrthancPluginAnswerBuffer(ctx, output, body->data, (uint32_t)body->len, "application/json");
	ms_strbuf_free(body);
}

void ms_orthanc_answer_error(OrthancPluginContext *ctx, OrthancPluginRestOutput *output, uint16_t status,
			     const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	ms_strbuf b;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ms_strbuf_init(&b);
	ms_strbuf_append(&b, "{\"Error\": ");
	ms_strbuf_append_json_string(&b, msg);
	ms_strbuf_appendf(&b, ", \"HttpStatus\": %u}\n", status);
	OrthancPluginSetHttpHeader(ctx, output, "Content-Type", "application/json");
	if (!b.failed && b.data)
		OrthancPluginSendHttpStatus(ctx, output, status, b.data, (uint32_t)b.len);
	else
		OrthancPluginSendHttpStatusCode(ctx, output, status);
	ms_strbuf_free(&b);
}

OrthancPluginErrorCode ms_orthanc_error_code(ms_status s)
{
	switch (s) {
	case MS_OK:
		return OrthancPluginErrorCode_Success;
	case MS_ERR_NOMEM:
		return OrthancPluginErrorCode_NotEnoughMemory;
	case MS_ERR_ARG:
	case MS_ERR_INPUT:
		return OrthancPluginErrorCode_BadRequest;
	case MS_ERR_NOTFOUND:
		return OrthancPluginErrorCode_UnknownResource;
	case MS_ERR_SQL:
		return OrthancPluginErrorCode_Database;
	default:
		return OrthancPluginErrorCode_Plugin;
	}
}

void ms_orthanc_iso_time(double t, char *buf, size_t n)
{
	if (t <= 0) {
		buf[0] = '\0';
		return;
	}
	time_t secs = (time_t)floor(t);
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((t - (double)secs) * 1000));
}

/* Deletes every instance whose SOPInstanceUID is uid (normally none or one). */
static ms_status delete_by_sop_uid(OrthancPluginContext *ctx, const char *uid)
{
	OrthancPluginMemoryBuffer ans = { 0 };
	ms_json *hits = NULL;
	char perr[128], uri[128];
	ms_status rc = MS_OK;

	if (OrthancPluginRestApiPost(ctx, &ans, "/tools/lookup", uid, (uint32_t)strlen(uid)) !=
	    OrthancPluginErrorCode_Success)
		return MS_ERR_IO;
	if (ms_json_parse(ans.data, ans.size, &hits, perr, sizeof(perr)) != MS_OK) {
		OrthancPluginFreeMemoryBuffer(ctx, &ans);
		return MS_ERR_IO;
	}
	OrthancPluginFreeMemoryBuffer(ctx, &ans);
	for (size_t i = 0; i < ms_json_size(hits); i++) {
		const ms_json *h = ms_json_at(hits, i);
		const char *type = ms_json_string(ms_json_get(h, "Type"));
		const char *id = ms_json_string(ms_json_get(h, "ID"));
		if (!type || !id || strcmp(type, "Instance") != 0)
			continue;
		snprintf(uri, sizeof(uri), "/instances/%s", id);
		if (OrthancPluginRestApiDelete(ctx, uri) != OrthancPluginErrorCode_Success)
			rc = MS_ERR_IO;
	}
	ms_json_destroy(hits);
	return rc;
}

ms_status ms_orthanc_store_dicom(OrthancPluginContext *ctx, const void *data, size_t size, const char *sop_uid,
				 char instance_id[64], char *err, size_t errlen)
{
	OrthancPluginMemoryBuffer ans = { 0 };
	ms_json *reply = NULL;
	char perr[128];
	ms_status rc;

	instance_id[0] = '\0';
	if (delete_by_sop_uid(ctx, sop_uid) != MS_OK) {
		snprintf(err, errlen, "could not replace the earlier result %s", sop_uid);
		return MS_ERR_IO;
	}
	OrthancPluginErrorCode code = OrthancPluginRestApiPost(ctx, &ans, "/instances", data, (uint32_t)size);
	if (code != OrthancPluginErrorCode_Success) {
		snprintf(err, errlen, "Orthanc refused to store the result %s: %s", sop_uid,
			 OrthancPluginGetErrorDescription(ctx, code));
		return MS_ERR_IO;
	}
	rc = ms_json_parse(ans.data, ans.size, &reply, perr, sizeof(perr));
	OrthancPluginFreeMemoryBuffer(ctx, &ans);
	const char *id = rc == MS_OK ? ms_json_string(ms_json_get(reply, "ID")) : NULL;
	if (!id) {
		snprintf(err, errlen, "unexpected answer from Orthanc storing %s", sop_uid);
		ms_json_destroy(reply);
		return MS_ERR_IO;
	}
	snprintf(instance_id, 64, "%s", id);
	ms_json_destroy(reply);
	return MS_OK;
}
