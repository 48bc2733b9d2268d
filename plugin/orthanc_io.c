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
