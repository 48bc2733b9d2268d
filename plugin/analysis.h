/* The analyses a job can run, and what each produces. */
#pragma once
#include <stdbool.h>

#include "common/status.h"
#include "common/strbuf.h"
#include "compute/volume.h"
#include "dicom/seg_writer.h"
#include "dicom/sr_writer.h"
#include "plugin/plugin.h"
#include "plugin/series_loader.h"

#define MS_MAX_RESULT_OBJECTS 16
#define MS_MANUFACTURER "MedSight" /* Manufacturer of every object we write */

/* What an analysis produces: a JSON summary recorded on the job, and DICOM objects that the
 * worker stores in the source study (replacing earlier objects with the same SOP Instance UID). */
typedef struct {
	ms_strbuf summary; /* one JSON object */
	struct {
		uint8_t *data;       /* DICOM Part 10 bytes, owned (freed with ms_free) */
		size_t size;
		char sop_uid[65];    /* its SOPInstanceUID (ms_result_instance_uid) */
		bool report;         /* the SR of the run (what a later run's SR names as predecessor) */
	} objects[MS_MAX_RESULT_OBJECTS];
	size_t n_objects;
	char previous_report[65]; /* input: SOP UID of the SR of the last run this one supersedes,
	                             "" when none; an SR of other content names it as predecessor */
} ms_analysis_output;

/* The SR a new report with SOP UID new_report supersedes (out->previous_report), or NULL when
 * there is none or it is the same object being replaced. */
const char *ms_analysis_predecessor(const ms_analysis_output *out, const char *new_report);

/* Takes ownership of one written object (data from ms_*_write) as the next result; report marks
 * the run's SR. MS_ERR_NOMEM (and frees data) when out is full. */
ms_status ms_analysis_add_object(ms_analysis_output *out, uint8_t *data, size_t size, const char *sop_uid,
				 bool report);

/* Writes a SEG and the TID 1500 SR that summarises it (naming the SR this run supersedes as its
 * predecessor) as the next two results. */
ms_status ms_analysis_write_seg_sr(ms_analysis_output *out, const ms_seg_desc *seg, ms_sr_desc *sr, char *err,
				   size_t errlen);

/* Frees the summary and the objects; leaves o empty. */
void ms_analysis_output_clear(ms_analysis_output *o);

typedef struct {
	const char *name;         /* REST/config name: "histogram", "calcium", ... */
	/* Runs on a loaded volume and fills *out. Returns MS_ERR_INPUT etc. with a message in err.
	 * NULL when not implemented in this version. */
	ms_status (*run)(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
			 const ms_job_hooks *hooks, ms_analysis_output *out, char *err, size_t errlen);
	/* Instead of run, for analyses of dynamic (4-D) series that load the series themselves;
	 * params: the job's parameters (JSON object text or NULL). */
	ms_status (*run_series)(ms_plugin *p, const char *series_id, const char *params, const ms_job_hooks *hooks,
				ms_analysis_output *out, char *err, size_t errlen);
} ms_analysis;

/* Looks an analysis up by name (case-sensitive); NULL if unknown. */
const ms_analysis *ms_analysis_find(const char *name);

/* True when the analysis exists and this version can run it. */
bool ms_analysis_available(const char *name);
