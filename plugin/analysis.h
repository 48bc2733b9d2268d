/* The analyses a job can run, and what each produces. */
#pragma once
#include <stdbool.h>

#include "common/status.h"
#include "common/strbuf.h"
#include "compute/volume.h"
#include "plugin/plugin.h"
#include "plugin/series_loader.h"

typedef struct {
	const char *name;         /* REST/config name: "histogram", "calcium", ... */
	/* Runs on a loaded volume; appends the result as one JSON object to *result. Returns
	 * MS_ERR_INPUT etc. with a message in err. NULL when not implemented in this version. */
	ms_status (*run)(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
			 const ms_job_hooks *hooks, ms_strbuf *result, char *err, size_t errlen);
} ms_analysis;

/* Looks an analysis up by name (case-sensitive); NULL if unknown. */
const ms_analysis *ms_analysis_find(const char *name);

/* True when the analysis exists and this version can run it. */
bool ms_analysis_available(const char *name);
