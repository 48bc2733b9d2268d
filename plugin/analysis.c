#include "plugin/analysis.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "compute/histogram.h"
#include "plugin/analysis_calcium.h"
#include "plugin/analysis_perfusion.h"
#include "plugin/analysis_segmentation.h"

const char *ms_analysis_predecessor(const ms_analysis_output *out, const char *new_report)
{
	if (!out->previous_report[0] || strcmp(out->previous_report, new_report) == 0)
		return NULL;
	return out->previous_report;
}

void ms_analysis_output_clear(ms_analysis_output *o)
{
	ms_strbuf_free(&o->summary);
	for (size_t i = 0; i < o->n_objects; i++)
		ms_free(o->objects[i].data);
	memset(o, 0, sizeof(*o));
}

/* HU histogram and statistics of the whole series: proves decode -> GPU -> result end to end. */
static ms_status run_histogram(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
			       const ms_job_hooks *hooks, ms_analysis_output *o, char *err, size_t errlen)
{
	ms_strbuf *out = &o->summary;
	(void)info;
	(void)hooks;
	ms_histogram_params hp = { .bin_width = p->config.histogram.bin_width,
				   .min = p->config.histogram.min,
				   .max = p->config.histogram.max };
	ms_histogram_result r = { 0 };
	ms_status rc = ms_histogram_gpu(p->vk, vol->voxels, ms_volume_count(vol), &hp, &r);
	if (rc != MS_OK) {
		snprintf(err, errlen, "histogram kernel failed (%s)", ms_status_name(rc));
		return rc;
	}
	ms_strbuf_appendf(out, "{\"Count\": %llu, \"NonFinite\": %llu, \"Min\": ", (unsigned long long)r.count,
			  (unsigned long long)r.n_invalid);
	ms_strbuf_append_json_number(out, r.min);
	ms_strbuf_append(out, ", \"Max\": ");
	ms_strbuf_append_json_number(out, r.max);
	ms_strbuf_append(out, ", \"Mean\": ");
	ms_strbuf_append_json_number(out, r.mean);
	ms_strbuf_append(out, ", \"StdDev\": ");
	ms_strbuf_append_json_number(out, r.stddev);
	ms_strbuf_append(out, ", \"BinWidth\": ");
	ms_strbuf_append_json_number(out, hp.bin_width);
	ms_strbuf_append(out, ", \"BinMin\": ");
	ms_strbuf_append_json_number(out, hp.min);
	ms_strbuf_append(out, ", \"BinMax\": ");
	ms_strbuf_append_json_number(out, hp.max);
	ms_strbuf_append(out, ", \"Bins\": [");
	for (uint32_t i = 0; i < r.n_bins; i++)
		ms_strbuf_appendf(out, "%s%llu", i ? "," : "", (unsigned long long)r.bins[i]);
	ms_strbuf_appendf(out, "], \"Size\": [%u, %u, %u], \"Spacing\": [", vol->nx, vol->ny, vol->nz);
	for (int k = 0; k < 3; k++) {
		if (k)
			ms_strbuf_append(out, ", ");
		ms_strbuf_append_json_number(out, vol->geom.spacing[k]);
	}
	ms_strbuf_append(out, "], \"Device\": ");
	ms_strbuf_append_json_string(out, ms_vk_context_device_name(p->vk));
	ms_strbuf_append(out, ", \"GpuMs\": ");
	ms_strbuf_append_json_number(out, r.gpu_ms);
	ms_strbuf_append(out, "}");
	ms_histogram_result_clear(&r);
	return MS_OK;
}

static const ms_analysis analyses[] = {
	{ "histogram", run_histogram, NULL },
	{ "calcium", ms_analysis_calcium_run, NULL },
	{ "perfusion", NULL, ms_analysis_perfusion_run },
	{ "segmentation", ms_analysis_segmentation_run, NULL },
};

const ms_analysis *ms_analysis_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(analyses) / sizeof(analyses[0]); i++) {
		if (strcmp(analyses[i].name, name) == 0)
			return &analyses[i];
	}
	return NULL;
}

bool ms_analysis_available(const char *name)
{
	const ms_analysis *a = ms_analysis_find(name);
	return a && (a->run || a->run_series);
}
