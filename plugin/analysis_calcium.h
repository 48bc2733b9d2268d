/* The "calcium" analysis: coronary calcium scoring (ANALYSES.md section 1) on the GPU, stored as
 * a SEG of the calcified lesions and a TID 1500 SR with Agatston, volume and mass. */
#pragma once
#include "plugin/analysis.h"

/* ms_analysis.run for "calcium". */
ms_status ms_analysis_calcium_run(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
				  const ms_job_hooks *hooks, ms_analysis_output *out, char *err, size_t errlen);
