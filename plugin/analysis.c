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

ms_status ms_analysis_add_object(ms_analysis_output *out, uint8_t *data, size_t size, const char *sop_uid,
				 bool report)
{
	if (out->n_objects >= MS_MAX_RESULT_OBJECTS) {
		ms_free(data);
		return MS_ERR_NOMEM;
	}
	out->objects[out->n_objects].data = data;
	out->objects[out->n_objects].size = size;
	out->objects[out->n_objects].report = report;
	snprintf(out->objects[out->n_objects].sop_uid, sizeof(out->objects[0].sop_uid), "%s", sop_uid);
	out->n_objects++;
	return MS_OK;
}

ms_status ms_analysis_write_seg_sr(ms_analysis_output *out, const ms_seg_desc *seg, ms_sr_desc *sr, char *err,
				   size_t errlen)
{
	uint8_t *data;
	size_t size;
	ms_status rc = ms_seg_write(seg, &data, &size, err, errlen);
	if (rc == MS_OK)
		rc = ms_analysis_add_object(out, data, size, seg->sop_uid, false);
	if (rc != MS_OK)
		return rc;
	sr->predecessor_sop_uid = ms_analysis_predecessor(out, sr->sop_uid);
	rc = ms_sr_write(sr, &data, &size, err, errlen);
	if (rc == MS_OK)
		rc = ms_analysis_add_object(out, data, size, sr->sop_uid, true);
	return rc;
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
