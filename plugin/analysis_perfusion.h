/* The "perfusion" analysis: dynamic CT / DSC-MR series (ANALYSES.md section 2) -> model-free and
 * SVD-deconvolution maps on the GPU, stored as one Parametric Map per map and a TID 1500 SR. */
#pragma once
#include "plugin/analysis.h"

/* ms_analysis.run_series for "perfusion". params may hold {"AIF": [x, y, z]} (voxel indices of
 * the arterial input function; automatic selection otherwise). */
ms_status ms_analysis_perfusion_run(ms_plugin *p, const char *series_id, const char *params,
				    const ms_job_hooks *hooks, ms_analysis_output *out, char *err, size_t errlen);
