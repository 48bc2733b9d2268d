#include "common/log.h"
#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>

static ms_log_sink current_sink;

const char *ms_status_name(ms_status s)
{
	static const char *const names[] = {
		"MS_OK", "MS_ERR_NOMEM", "MS_ERR_ARG", "MS_ERR_CONFIG", "MS_ERR_VULKAN", "MS_ERR_SQL",
		"MS_ERR_DICOM", "MS_ERR_NOTFOUND", "MS_ERR_INPUT", "MS_ERR_STATE", "MS_ERR_CANCELLED",
		"MS_ERR_IO",
	};
	if ((unsigned)s < sizeof(names) / sizeof(names[0]))
		return names[s];
	return "MS_ERR_UNKNOWN";
}

void ms_log_set_sink(ms_log_sink sink)
{
	current_sink = sink;
}

void ms_log(ms_log_level level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int n = snprintf(msg, sizeof(msg), "MedSight: ");

	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (current_sink) {
		current_sink(level, msg);
		return;
	}
	static const char *const tag[] = { "E", "W", "I" };
	fprintf(stderr, "%s %s\n", tag[level > MS_LOG_INFO ? MS_LOG_INFO : level], msg);
}
