/* The "segmentation" analysis: body, lungs and bone of a CT (ANALYSES.md section 3) on the GPU,
 * stored as one SEG (a segment per structure) and a TID 1500 SR of their volumes. */
#pragma once
#include "compute/ctseg.h"
#include "plugin/analysis.h"

/* ms_analysis.run for "segmentation". */
ms_status ms_analysis_segmentation_run(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
				       const ms_job_hooks *hooks, ms_analysis_output *out, char *err, size_t errlen);

/* Runs the CT segmentation pipeline on the GPU, falling back to the C implementation when the
 * volume does not fit the device's binding range; *device_used names what ran. Shared with the
 * calcium analysis (its heart region). */
ms_status ms_analysis_ctseg(ms_plugin *p, const ms_volume *vol, ms_ctseg_result *r, const char **device_used,
			    char *err, size_t errlen);
