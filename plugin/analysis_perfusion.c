#include "plugin/analysis_perfusion.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "compute/perfusion.h"
#include "dicom/pm_writer.h"
#include "dicom/sr_writer.h"
#include "plugin/result_source.h"

#define ALGORITHM_NAME "MedSight perfusion"
#define ALGORITHM_VERSION "1.0"
#define PM_SERIES_NUMBER 9021 /* + map index */
#define SR_SERIES_NUMBER 9020

static const ms_code METHOD_SVD = { "126311", "DCM", "Singular Value Decomposition (SVD) deconvolution" };
static const ms_code UNIT_S = { "s", "UCUM", "second" };

/* One stored map: which result map, and how it is coded for each kind of acquisition. */
typedef struct {
	ms_perf_map map;
	const char *label;       /* ContentLabel / LUTLabel */
	const char *image_type;  /* ImageType value 4 */
	ms_code quantity, quantity_relative;
	ms_code unit_ct, unit_dsc, unit_relative;
	bool deconvolution;      /* needs the SVD method code */
} map_spec;

static const map_spec maps[] = {
	{ MS_PERF_CBF, "CBF", "RCBF", { "126390", "DCM", "Absolute Regional Blood Flow" },
	  { "126397", "DCM", "Relative Regional Blood Flow" }, { "ml/[100]g/min", "UCUM", "ml/100g/min" },
	  { "ml/[100]g/min", "UCUM", "ml/100g/min" }, { "1", "UCUM", "no units" }, true },
	{ MS_PERF_CBV, "CBV", "RCBV", { "126391", "DCM", "Absolute Regional Blood Volume" },
	  { "126398", "DCM", "Relative Regional Blood Volume" }, { "ml/[100]g", "UCUM", "ml/100g" },
	  { "ml/[100]g", "UCUM", "ml/100g" }, { "1", "UCUM", "no units" }, true },
	{ MS_PERF_MTT, "MTT", "MTT", { "113052", "DCM", "Mean Transit Time" }, { "113052", "DCM", "Mean Transit Time" },
	  { "s", "UCUM", "second" }, { "s", "UCUM", "second" }, { "s", "UCUM", "second" }, true },
	{ MS_PERF_TMAX, "TMAX", "NONE", { "113084", "DCM", "Tmax" }, { "113084", "DCM", "Tmax" },
	  { "s", "UCUM", "second" }, { "s", "UCUM", "second" }, { "s", "UCUM", "second" }, true },
	{ MS_PERF_TTP, "TTP", "TTP", { "113069", "DCM", "Time To Peak" }, { "113069", "DCM", "Time To Peak" },
	  { "s", "UCUM", "second" }, { "s", "UCUM", "second" }, { "s", "UCUM", "second" }, false },
	{ MS_PERF_PE, "PEAK", "NONE", { "126376", "DCM", "Maximum Difference" }, { "126376", "DCM", "Maximum Difference" },
	  { "[hnsf'U]", "UCUM", "Hounsfield unit" }, { "/s", "UCUM", "per second" }, { "1", "UCUM", "no units" },
	  false },
	{ MS_PERF_AUC, "AUC", "NONE", { "126320", "DCM", "IAUC" }, { "126320", "DCM", "IAUC" },
	  { "[hnsf'U].s", "UCUM", "Hounsfield unit second" }, { "1", "UCUM", "no units" }, { "1", "UCUM", "no units" },
	  false },
	{ MS_PERF_MAX_SLOPE, "SLOPE", "NONE", { "126375", "DCM", "Maximum Slope" }, { "126375", "DCM", "Maximum Slope" },
	  { "[hnsf'U]/s", "UCUM", "Hounsfield unit per second" }, { "/s2", "UCUM", "per second squared" },
	  { "1", "UCUM", "no units" }, false },
};
#define N_MAPS (sizeof(maps) / sizeof(maps[0]))

static const char *const method_names[] = { "oSVD", "sSVD", "cSVD" };

typedef struct {
	ms_dynamic_series *ds;
	char err[512];
} fill_ctx;

static ms_status fill_slab(void *user, uint32_t z0, uint32_t nz, float *dst)
{
	fill_ctx *f = user;
	return ms_dynamic_series_fill(f->ds, z0, nz, dst, f->err, sizeof(f->err));
}

/* {"AIF": [x, y, z]} from the job's parameters. */
static ms_status aif_from_params(const char *params, ms_perf_params *pp, char *err, size_t errlen)
{
	ms_json *j = NULL;
	char perr[128];
	ms_status rc = MS_OK;

	if (!params || !params[0])
		return MS_OK;
	if (ms_json_parse(params, strlen(params), &j, perr, sizeof(perr)) != MS_OK) {
		snprintf(err, errlen, "job parameters are not valid JSON: %s", perr);
		return MS_ERR_ARG;
	}
	const ms_json *aif = ms_json_get(j, "AIF");
	if (aif) {
		if (ms_json_type_of(aif) != MS_JSON_ARRAY || ms_json_size(aif) != 3) {
			snprintf(err, errlen, "AIF must be [x, y, z] voxel indices");
			rc = MS_ERR_ARG;
			goto out_free;
		}
		for (int k = 0; k < 3; k++) {
			double v = ms_json_number(ms_json_at(aif, (size_t)k));
			if (!ms_json_is_number(ms_json_at(aif, (size_t)k)) || v < 0 || v != floor(v) || v > 65535) {
				snprintf(err, errlen, "AIF must be [x, y, z] non-negative integer voxel indices");
				rc = MS_ERR_ARG;
				goto out_free;
			}
			pp->aif_xyz[k] = (uint32_t)v;
		}
		pp->aif_given = true;
	}
out_free:
	ms_json_destroy(j);
	return rc;
}

static void append_num(ms_strbuf *b, const char *key, double v)
{
	ms_strbuf_appendf(b, "\"%s\": ", key);
	ms_strbuf_append_json_number(b, v);
}

static void write_summary(ms_strbuf *b, const ms_dynamic_series *ds, const ms_perf_result *r,
			  const ms_perf_params *pp, const char *device)
{
	ms_strbuf_append(b, "{\"Kind\": ");
	ms_strbuf_append_json_string(b, pp->kind == MS_PERF_CT ? "CT" : "DSC");
	ms_strbuf_append(b, ", \"Method\": ");
	ms_strbuf_append_json_string(b, method_names[pp->method == MS_PERF_OSVD ? 0 : pp->method == MS_PERF_SSVD ? 1 : 2]);
	ms_strbuf_appendf(b, ", \"Size\": [%u, %u, %u], \"TimePoints\": %u, ", ds->nx, ds->ny, ds->nz, ds->nt);
	append_num(b, "DtS", r->dt_s);
	ms_strbuf_appendf(b, ", \"Resampled\": %s, \"BaselineFrames\": %d, ", r->resampled ? "true" : "false",
			  r->baseline_frames);
	append_num(b, "Truncation", r->threshold_used);
	ms_strbuf_appendf(b, ", \"AIF\": {\"Automatic\": %s, \"Voxels\": [", r->aif_automatic ? "true" : "false");
	for (int i = 0; i < r->n_aif; i++)
		ms_strbuf_appendf(b, "%s[%u, %u, %u]", i ? ", " : "", r->aif_voxel[i][0], r->aif_voxel[i][1],
				  r->aif_voxel[i][2]);
	ms_strbuf_append(b, "], \"Curve\": [");
	for (uint32_t t = 0; r->aif && t < ds->nt; t++) {
		ms_strbuf_append(b, t ? ", " : "");
		ms_strbuf_append_json_number(b, r->aif[t]);
	}
	ms_strbuf_appendf(b, "]}, \"MaskVoxels\": %llu, \"Maps\": {", (unsigned long long)r->n_mask);
	for (int m = 0; m < MS_PERF_N_MAPS; m++) {
		ms_strbuf_appendf(b, "%s\"%s\": {", m ? ", " : "", ms_perf_map_name((ms_perf_map)m));
		append_num(b, "Mean", r->stats[m][0]);
		ms_strbuf_append(b, ", ");
		append_num(b, "Median", r->stats[m][1]);
		ms_strbuf_append(b, ", ");
		append_num(b, "P5", r->stats[m][2]);
		ms_strbuf_append(b, ", ");
		append_num(b, "P95", r->stats[m][3]);
		ms_strbuf_append(b, "}");
	}
	ms_strbuf_appendf(b, "}, \"Streamed\": %s, \"Chunks\": %u, \"Device\": ", r->streamed ? "true" : "false",
			  r->n_chunks);
	ms_strbuf_append_json_string(b, device);
	ms_strbuf_append(b, ", ");
	append_num(b, "GpuMs", r->gpu_ms);
	static const char *const stage[] = { "load", "mask", "roi", "maps", "aif", "svd", "deconv", "stats" };
	ms_strbuf_append(b, ", \"StageMs\": {");
	for (int i = 0; i < 8; i++) {
		ms_strbuf_appendf(b, "%s", i ? ", " : "");
		append_num(b, stage[i], r->stage_ms[i]);
	}
	ms_strbuf_append(b, "}}");
}

/* One Parametric Map per map, then the SR, into out. */
static ms_status write_objects(ms_plugin *p, const ms_dynamic_series *ds, const ms_perf_result *r,
			       const ms_perf_params *pp, ms_analysis_output *out, char *err, size_t errlen)
{
	ms_volume geometry = { .nx = ds->nx, .ny = ds->ny, .nz = ds->nz, .geom = ds->geom };
	ms_result_source rs;
	ms_status rc = ms_result_source_init(p, &geometry, &ds->info, &rs, err, errlen);
	if (rc != MS_OK)
		return rc;
	bool ct = pp->kind == MS_PERF_CT;

	for (size_t i = 0; i < N_MAPS; i++) {
		const map_spec *m = &maps[i];
		char series_uid[65], sop_uid[65], what[32], desc[64];
		snprintf(what, sizeof(what), "pm-series-%s", m->label);
		ms_result_uid(series_uid, &ds->info, "perfusion", ALGORITHM_VERSION, what);
		snprintf(what, sizeof(what), "pm-%s", m->label);
		ms_result_instance_uid(sop_uid, &ds->info, "perfusion", ALGORITHM_VERSION, what);
		snprintf(desc, sizeof(desc), "MedSight perfusion %s", m->label);
		bool relative = pp->relative && m->deconvolution && (m->map == MS_PERF_CBF || m->map == MS_PERF_CBV);
		ms_pm_desc d = { .src = &rs.src, .series_uid = series_uid, .sop_uid = sop_uid, .series_description = desc,
				 .series_number = PM_SERIES_NUMBER + (int)i, .content_label = m->label,
				 .image_type_4 = m->image_type, .quantity = relative ? m->quantity_relative : m->quantity,
				 .unit = relative ? m->unit_relative : ct ? m->unit_ct : m->unit_dsc,
				 .method = m->deconvolution ? &METHOD_SVD : NULL, .lut_label = m->label,
				 .algorithm_name = ALGORITHM_NAME, .algorithm_version = ALGORITHM_VERSION,
				 .values = r->map[m->map] };
		uint8_t *data;
		size_t size;
		rc = ms_pm_write(&d, &data, &size, err, errlen);
		if (rc == MS_OK)
			rc = ms_analysis_add_object(out, data, size, sop_uid, false);
		if (rc != MS_OK)
			goto out_clear;
	}

	/* SR: whole-volume means of the main maps, and the AIF. */
	ms_sr_measurement summary[5], aif_meas[2];
	size_t n_summary = 0;
	for (size_t i = 0; i < N_MAPS && n_summary < 5; i++) {
		const map_spec *m = &maps[i];
		if (m->map == MS_PERF_PE || m->map == MS_PERF_AUC || m->map == MS_PERF_MAX_SLOPE)
			continue;
		bool relative = pp->relative && (m->map == MS_PERF_CBF || m->map == MS_PERF_CBV);
		double mean = r->stats[m->map][0];
		summary[n_summary++] = (ms_sr_measurement){ relative ? m->quantity_relative : m->quantity,
							    isfinite(mean) ? mean : 0,
							    relative ? m->unit_relative : ct ? m->unit_ct : m->unit_dsc,
							    m->deconvolution ? &METHOD_SVD : NULL };
	}
	double aif_peak = 0, aif_ttp = 0;
	for (uint32_t t = 0; r->aif && t < ds->nt; t++) {
		if (r->aif[t] > aif_peak) {
			aif_peak = r->aif[t];
			aif_ttp = ds->t_s[t];
		}
	}
	aif_meas[0] = (ms_sr_measurement){ maps[5].quantity, aif_peak, ct ? maps[5].unit_ct : maps[5].unit_dsc, NULL };
	aif_meas[1] = (ms_sr_measurement){ maps[4].quantity, aif_ttp, UNIT_S, NULL };
	char track_uid[2][65], sr_series[65], sr_sop[65], observer[65];
	ms_result_uid(track_uid[0], &ds->info, "perfusion", ALGORITHM_VERSION, "track-summary");
	ms_result_uid(track_uid[1], &ds->info, "perfusion", ALGORITHM_VERSION, "track-aif");
	ms_result_uid(sr_series, &ds->info, "perfusion", ALGORITHM_VERSION, "sr-series");
	ms_result_instance_uid(sr_sop, &ds->info, "perfusion", ALGORITHM_VERSION, "sr");
	ms_result_uid(observer, &ds->info, "perfusion", ALGORITHM_VERSION, "observer");
	ms_sr_group groups[2] = {
		{ .tracking_id = "Perfusion summary", .tracking_uid = track_uid[0],
		  .finding = { "85756007", "SCT", "Tissue" }, .measurements = summary, .n_measurements = n_summary },
		{ .tracking_id = "Arterial input function", .tracking_uid = track_uid[1],
		  .finding = r->aif_automatic ? (ms_code){ "126363", "DCM", "Automatically Detected AIF ROI" }
					      : (ms_code){ "126362", "DCM", "User-defined AIF ROI" },
		  .measurements = aif_meas, .n_measurements = 2 },
	};
	char params[1024];
	int n = snprintf(params, sizeof(params),
			 "Kind=%s Method=%s Truncation=%g OscillationLimit=%g Rho=%g KH=%g Relative=%s BaselineFrames=%d "
			 "TimePoints=%u Dt=%gs Resampled=%s AIF=%s voxels",
			 ct ? "CT" : "DSC", method_names[pp->method == MS_PERF_OSVD ? 0 : pp->method == MS_PERF_SSVD ? 1 : 2],
			 r->threshold_used, pp->osvd_oi > 0 ? pp->osvd_oi : 0.035, pp->rho, pp->k_h,
			 pp->relative ? "yes" : "no", r->baseline_frames, ds->nt, r->dt_s, r->resampled ? "yes" : "no",
			 r->aif_automatic ? "automatic" : "given");
	for (int i = 0; i < r->n_aif && n > 0 && (size_t)n < sizeof(params); i++)
		n += snprintf(params + n, sizeof(params) - (size_t)n, " (%u,%u,%u)", r->aif_voxel[i][0],
			      r->aif_voxel[i][1], r->aif_voxel[i][2]);
	ms_sr_desc sd = { .src = &rs.src, .series_uid = sr_series, .sop_uid = sr_sop,
			  .series_description = "MedSight perfusion summary", .series_number = SR_SERIES_NUMBER,
			  /* The PS3.16 meanings exceed LO's 64 characters: shortened. */
			  .procedure_reported = ct ? (ms_code){ "126301", "DCM", "Perfusion analysis by IV iodinated contrast CT" }
						   : (ms_code){ "126303", "DCM", "Perfusion analysis by susceptibility MR" },
			  .device_observer_uid = observer, .device_observer_name = ALGORITHM_NAME,
			  .algorithm_name = ALGORITHM_NAME, .algorithm_version = ALGORITHM_VERSION,
			  .algorithm_parameters = params, .groups = groups, .n_groups = 2 };
	sd.predecessor_sop_uid = ms_analysis_predecessor(out, sr_sop);
	uint8_t *data;
	size_t size;
	rc = ms_sr_write(&sd, &data, &size, err, errlen);
	if (rc == MS_OK)
		rc = ms_analysis_add_object(out, data, size, sr_sop, true);
out_clear:
	ms_result_source_clear(&rs);
	return rc;
}

ms_status ms_analysis_perfusion_run(ms_plugin *p, const char *series_id, const char *params,
				    const ms_job_hooks *hooks, ms_analysis_output *out, char *err, size_t errlen)
{
	ms_dynamic_series ds;
	ms_perf_result r = { 0 };
	ms_status rc;

	rc = ms_series_load_dynamic(p, series_id, hooks, &ds, err, errlen);
	if (rc != MS_OK)
		return rc;
	const ms_config *cfg = &p->config;
	ms_perf_params pp = { .method = cfg->perfusion.method == 1   ? MS_PERF_SSVD
					: cfg->perfusion.method == 2 ? MS_PERF_CSVD
								     : MS_PERF_OSVD,
			      .svd_threshold = cfg->perfusion.svd_threshold,
			      .osvd_oi = cfg->perfusion.oscillation_index,
			      .rho = cfg->perfusion.rho,
			      .k_h = cfg->perfusion.k_h,
			      .relative = cfg->perfusion.relative,
			      .baseline_frames = cfg->perfusion.baseline_frames,
			      .aif_voxels = cfg->perfusion.aif_voxels,
			      .memory_budget = (uint64_t)cfg->memory_budget_mb * 1024 * 1024 / 2 };
	if (strcmp(ds.info.modality, "CT") == 0) {
		pp.kind = MS_PERF_CT;
	} else if (strcmp(ds.info.modality, "MR") == 0) {
		pp.kind = MS_PERF_DSC;
		pp.te_s = ds.echo_time_ms / 1000.0;
		if (!(pp.te_s > 0)) {
			snprintf(err, errlen, "DSC-MR perfusion needs EchoTime; it is missing or zero");
			rc = MS_ERR_INPUT;
			goto out_clear;
		}
	} else {
		snprintf(err, errlen, "perfusion needs a dynamic CT or MR series; this series is %s", ds.info.modality);
		rc = MS_ERR_INPUT;
		goto out_clear;
	}
	rc = aif_from_params(params, &pp, err, errlen);
	if (rc != MS_OK)
		goto out_clear;
	if (pp.aif_given && (pp.aif_xyz[0] >= ds.nx || pp.aif_xyz[1] >= ds.ny || pp.aif_xyz[2] >= ds.nz)) {
		snprintf(err, errlen, "AIF voxel (%u, %u, %u) is outside the %ux%ux%u volume", pp.aif_xyz[0],
			 pp.aif_xyz[1], pp.aif_xyz[2], ds.nx, ds.ny, ds.nz);
		rc = MS_ERR_ARG;
		goto out_clear;
	}

	fill_ctx fc = { .ds = &ds };
	ms_perf_input in = { .nx = ds.nx, .ny = ds.ny, .nz = ds.nz, .nt = ds.nt, .fill = fill_slab, .user = &fc,
			     .t_s = ds.t_s,
			     .spacing = { ds.geom.spacing[0], ds.geom.spacing[1], ds.geom.spacing[2] } };
	rc = ms_perf_gpu(p->vk, &in, &pp, &r);
	if (rc != MS_OK) {
		if (fc.err[0])
			snprintf(err, errlen, "%s", fc.err);
		else if (rc == MS_ERR_INPUT)
			snprintf(err, errlen, "perfusion analysis found no usable tissue or arterial input (check the "
					      "contrast bolus, or give the AIF as [x, y, z])");
		else
			snprintf(err, errlen, "perfusion kernels failed (%s)", ms_status_name(rc));
		goto out_clear;
	}
	rc = write_objects(p, &ds, &r, &pp, out, err, errlen);
	if (rc == MS_OK)
		write_summary(&out->summary, &ds, &r, &pp, ms_vk_context_device_name(p->vk));
out_clear:
	ms_perf_result_clear(&r);
	ms_dynamic_series_clear(&ds);
	return rc;
}
