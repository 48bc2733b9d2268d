#include "compute/perfusion.h"

#include <string.h>

#include "common/alloc.h"
#include "compute/perfusion_ref.h"

void ms_perf_result_clear(ms_perf_result *r)
{
	if (!r)
		return;
	for (int m = 0; m < MS_PERF_N_MAPS; m++)
		ms_free(r->map[m]);
	ms_free(r->mask);
	ms_free(r->aif);
	memset(r, 0, sizeof(*r));
}

const char *ms_perf_map_name(ms_perf_map m)
{
	static const char *const names[MS_PERF_N_MAPS] = {
		"PE", "TTP", "AUC", "MaxSlope", "MTT_fm", "CBF", "CBV", "MTT", "Tmax", "SVD_P",
	};

	return (unsigned)m < MS_PERF_N_MAPS ? names[m] : "?";
}

ms_status ms_perf_gpu(ms_vk_context *c, const ms_perf_input *in, const ms_perf_params *p,
		      ms_perf_result *r)
{
	(void)c;
	return ms_perf_ref(in, p, r);
}
