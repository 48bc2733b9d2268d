#include "plugin/analysis_calcium.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "compute/calcium.h"
#include "compute/ctseg.h"
#include "dicom/seg_writer.h"
#include "dicom/sr_writer.h"
#include "plugin/analysis_segmentation.h"
#include "plugin/result_source.h"

#define ALGORITHM_NAME "MedSight CAC"
#define ALGORITHM_VERSION "1.0"
#define SEG_SERIES_NUMBER 9001
#define SR_SERIES_NUMBER 9002

static const ms_code CODE_CALC_CATEGORY = { "49755003", "SCT", "Morphologically Abnormal Structure" };
static const ms_code CODE_CALCIFICATION = { "18115005", "SCT", "Pathologic calcification" };
static const ms_code CODE_HEART = { "80891009", "SCT", "Heart" };
static const ms_code CODE_CORONARY = { "41801008", "SCT", "Coronary artery" };
static const ms_code CODE_PROCEDURE = { "426005005", "SCT", "Cardiac CT for calcium scoring" };
static const ms_code CODE_SCORE = { "112058", "DCM", "Calcium score" };
static const ms_code CODE_VOLUME = { "122660", "DCM", "Calcium Volume" };
static const ms_code CODE_MASS = { "122661", "DCM", "Calcium Mass" };
static const ms_code UNIT_NONE = { "1", "UCUM", "no units" };
static const ms_code UNIT_MM3 = { "mm3", "UCUM", "cubic millimeter" };
static const ms_code UNIT_MG = { "mg", "UCUM", "milligram" };
static const ms_code METHOD_AGATSTON = { "112055", "DCM", "Agatston scoring method" };
static const ms_code METHOD_VOLUME = { "112056", "DCM", "Volume scoring method" };
static const ms_code METHOD_MASS = { "112057", "DCM", "Mass scoring method" };

static const char *const profile_names[] = { "literature", "ge", "siemens", "philips", "canon" };
static const char *const category_names[] = { "0", "1-10", "11-100", "101-400", ">400" };

/* Parameters from MedSight.Calcium on top of the profile's defaults. */
static void params_from_config(const ms_config *cfg, double kvp, ms_cac_params *cp)
{
	static const ms_cac_profile profiles[] = { MS_CAC_PROFILE_LITERATURE, MS_CAC_PROFILE_GE,
						   MS_CAC_PROFILE_SIEMENS, MS_CAC_PROFILE_PHILIPS,
						   MS_CAC_PROFILE_CANON };
	ms_cac_params_default(cp, profiles[cfg->calcium.profile]);
	cp->threshold_hu = cfg->calcium.threshold_hu;
	cp->connectivity = cfg->calcium.connectivity;
	if (cfg->calcium.min_area_mm2 >= 0)
		cp->min_area_mm2 = cfg->calcium.min_area_mm2;
	if (cfg->calcium.min_pixels >= 0)
		cp->min_pixels = cfg->calcium.min_pixels;
	cp->kvp_adjust = cfg->calcium.kvp_adjust;
	cp->kvp = kvp;
	cp->volume_method = cfg->calcium.volume_method;
	cp->mass_calibration = cfg->calcium.mass_calibration;
	cp->max_hu = cfg->calcium.max_hu;
}

/* Builds the heart ROI (inside the body, between the lungs, above the diaphragm, without bone). */
static ms_status heart_roi(ms_plugin *p, const ms_volume *vol, ms_ctseg_result *seg, char *err, size_t errlen)
{
	const char *device;
	ms_status rc = ms_analysis_ctseg(p, vol, seg, &device, err, errlen);
	if (rc != MS_OK)
		return rc;
	size_t n = ms_volume_count(vol), inside = 0;
	for (size_t i = 0; i < n; i++)
		inside += seg->heart_roi[i] != 0;
	if (inside == 0) {
		snprintf(err, errlen, "no heart region found (no lungs in the field of view?); set "
				      "MedSight.Calcium.ROI to \"none\" to score the whole field of view");
		return MS_ERR_INPUT;
	}
	return MS_OK;
}

static void append_number(ms_strbuf *b, const char *key, double v)
{
	ms_strbuf_appendf(b, ", \"%s\": ", key);
	ms_strbuf_append_json_number(b, v); /* NaN (no mass calibration) becomes null */
}

static void write_summary(ms_strbuf *b, const ms_cac_result *r, const ms_cac_params *cp, const char *roi,
			  const char *warning, const char *device)
{
	ms_strbuf_append(b, "{\"Agatston\": ");
	ms_strbuf_append_json_number(b, r->agatston);
	append_number(b, "VolumeMM3", r->volume_mm3);
	append_number(b, "MassMg", r->mass_mg);
	append_number(b, "SumVolumeHU", r->sum_v_hu);
	ms_strbuf_append(b, ", \"Category\": ");
	ms_strbuf_append_json_string(b, category_names[r->category]);
	ms_strbuf_appendf(b, ", \"LesionCount\": %zu, \"Lesions\": [", r->n_lesions);
	for (size_t i = 0; i < r->n_lesions; i++) {
		const ms_cac_lesion *l = &r->lesions[i];
		ms_strbuf_appendf(b, "%s{\"ID\": %u, \"Voxels\": %u", i ? ", " : "", l->id, l->n_voxels);
		append_number(b, "Agatston", l->agatston);
		append_number(b, "VolumeMM3", l->volume_mm3);
		append_number(b, "MassMg", l->mass_mg);
		append_number(b, "PeakHU", l->peak_hu);
		append_number(b, "MeanHU", l->mean_hu);
		ms_strbuf_appendf(b, ", \"Slices\": [%u, %u], \"Centroid\": [", l->z_first, l->z_last);
		for (int k = 0; k < 3; k++) {
			ms_strbuf_append(b, k ? ", " : "");
			ms_strbuf_append_json_number(b, l->centroid[k]);
		}
		ms_strbuf_append(b, "]}");
	}
	ms_strbuf_append(b, "], \"ROI\": ");
	ms_strbuf_append_json_string(b, roi);
	ms_strbuf_append(b, ", \"Parameters\": {\"Profile\": ");
	ms_strbuf_append_json_string(b, profile_names[cp->profile]);
	append_number(b, "ThresholdHU", r->threshold_hu);
	ms_strbuf_appendf(b, ", \"WeightEdgesHU\": [%g, %g, %g], \"Connectivity\": %d, \"MinPixels\": %u",
			  r->weight_edges[0], r->weight_edges[1], r->weight_edges[2], cp->connectivity, r->min_pixels);
	append_number(b, "MinAreaMM2", cp->min_area_mm2);
	ms_strbuf_append(b, ", \"VolumeMethod\": ");
	ms_strbuf_append_json_string(b, cp->volume_method ? "isotropic" : "voxels");
	append_number(b, "MassCalibration", cp->mass_calibration);
	append_number(b, "MaxHU", cp->max_hu);
	append_number(b, "KVP", cp->kvp);
	ms_strbuf_append(b, "}, \"Warnings\": [");
	if (warning)
		ms_strbuf_append_json_string(b, warning);
	ms_strbuf_append(b, "], \"Device\": ");
	ms_strbuf_append_json_string(b, device);
	append_number(b, "GpuMs", r->gpu_ms);
	ms_strbuf_append(b, ", \"StageMs\": {");
	for (int i = 0; i < MS_CAC_STAGES; i++) {
		ms_strbuf_appendf(b, "%s\"%s\": ", i ? ", " : "", ms_cac_stage_name(i));
		ms_strbuf_append_json_number(b, r->stage_ms[i]);
	}
	ms_strbuf_append(b, "}}");
}

/* The measurements of one group: score, volume and (with a calibration) mass. */
static size_t group_measurements(ms_sr_measurement *m, double agatston, double volume, double mass)
{
	size_t n = 0;
	m[n++] = (ms_sr_measurement){ CODE_SCORE, agatston, UNIT_NONE, &METHOD_AGATSTON };
	m[n++] = (ms_sr_measurement){ CODE_VOLUME, volume, UNIT_MM3, &METHOD_VOLUME };
	if (isfinite(mass))
		m[n++] = (ms_sr_measurement){ CODE_MASS, mass, UNIT_MG, &METHOD_MASS };
	return n;
}

/* Writes the SEG (one segment per lesion, or one empty segment) and the SR into out. */
static ms_status write_objects(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
			       const ms_cac_result *r, const ms_cac_params *cp, bool heart, ms_analysis_output *out,
			       char *err, size_t errlen)
{
	ms_result_source rs;
	ms_status rc = ms_result_source_init(p, vol, info, &rs, err, errlen);
	if (rc != MS_OK)
		return rc;

	size_t n_seg = r->n_lesions ? r->n_lesions : 1, n_groups = 1 + r->n_lesions;
	ms_seg_segment *segs = ms_calloc(n_seg, sizeof(*segs));
	ms_sr_group *groups = ms_calloc(n_groups, sizeof(*groups));
	ms_sr_measurement *meas = ms_calloc(n_groups * 3, sizeof(*meas));
	char (*labels)[64] = ms_calloc(n_seg, sizeof(*labels));
	char (*track_ids)[64] = ms_calloc(n_groups, sizeof(*track_ids));
	char (*track_uids)[65] = ms_calloc(n_groups, sizeof(*track_uids));
	if (!segs || !groups || !meas || !labels || !track_ids || !track_uids) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	const ms_code *site = heart ? &CODE_HEART : &CODE_CORONARY;
	for (size_t i = 0; i < n_seg; i++) {
		ms_seg_segment *s = &segs[i];
		bool empty = r->n_lesions == 0;
		snprintf(labels[i], sizeof(labels[i]), empty ? "No calcified lesion" : "Calcified lesion %zu", i + 1);
		s->label = labels[i];
		s->category = CODE_CALC_CATEGORY;
		s->type = CODE_CALCIFICATION;
		s->anatomic_region = site;
		s->labels = r->lesion_map;
		s->label_value = empty ? UINT32_MAX : r->lesions[i].id; /* UINT32_MAX: never a label */
	}
	char seg_series[65], seg_sop[65], sr_series[65], sr_sop[65], observer[65];
	ms_result_uid(seg_series, info, "calcium", ALGORITHM_VERSION, "seg-series");
	ms_result_instance_uid(seg_sop, info, "calcium", ALGORITHM_VERSION, "seg");
	ms_result_uid(sr_series, info, "calcium", ALGORITHM_VERSION, "sr-series");
	ms_result_instance_uid(sr_sop, info, "calcium", ALGORITHM_VERSION, "sr");
	ms_result_uid(observer, info, "calcium", ALGORITHM_VERSION, "observer");

	for (size_t g = 0; g < n_groups; g++) {
		ms_sr_group *grp = &groups[g];
		const ms_cac_lesion *l = g ? &r->lesions[g - 1] : NULL;
		char what[32];
		snprintf(track_ids[g], sizeof(track_ids[g]), g ? "Calcified lesion %zu" : "Total calcium", g);
		snprintf(what, sizeof(what), "track-%zu", g);
		ms_result_uid(track_uids[g], info, "calcium", ALGORITHM_VERSION, what);
		grp->tracking_id = track_ids[g];
		grp->tracking_uid = track_uids[g];
		grp->finding = CODE_CALCIFICATION;
		grp->finding_site = site;
		grp->referenced_segment = g ? (int)g : 0;
		grp->measurements = meas + 3 * g;
		grp->n_measurements = l ? group_measurements(meas + 3 * g, l->agatston, l->volume_mm3, l->mass_mg)
					: group_measurements(meas, r->agatston, r->volume_mm3, r->mass_mg);
	}

	char params[512];
	snprintf(params, sizeof(params),
		 "Profile=%s ThresholdHU=%g WeightEdgesHU=%g/%g/%g Connectivity=%d MinPixels=%u MinAreaMM2=%g "
		 "VolumeMethod=%s MassCalibration=%g MaxHU=%g KVP=%g ROI=%s",
		 profile_names[cp->profile], r->threshold_hu, r->weight_edges[0], r->weight_edges[1],
		 r->weight_edges[2], cp->connectivity, r->min_pixels, cp->min_area_mm2,
		 cp->volume_method ? "isotropic" : "voxels", cp->mass_calibration, cp->max_hu, cp->kvp,
		 heart ? "heart" : "none");
	ms_seg_desc sd = { .src = &rs.src, .series_uid = seg_series, .sop_uid = seg_sop,
			   .series_description = "MedSight calcium lesions", .series_number = SEG_SERIES_NUMBER,
			   .content_label = "CALCIUM", .algorithm_name = ALGORITHM_NAME,
			   .algorithm_version = ALGORITHM_VERSION, .segments = segs, .n_segments = n_seg };
	ms_sr_desc rd = { .src = &rs.src, .series_uid = sr_series, .sop_uid = sr_sop,
			  .series_description = "MedSight calcium score", .series_number = SR_SERIES_NUMBER,
			  .procedure_reported = CODE_PROCEDURE, .device_observer_uid = observer,
			  .device_observer_name = ALGORITHM_NAME, .algorithm_name = ALGORITHM_NAME,
			  .algorithm_version = ALGORITHM_VERSION, .algorithm_parameters = params,
			  .seg_sop_uid = r->n_lesions ? seg_sop : NULL, .seg_series_uid = r->n_lesions ? seg_series : NULL,
			  .groups = groups, .n_groups = n_groups };
	rc = ms_analysis_write_seg_sr(out, &sd, &rd, err, errlen);
out_free:
	ms_free(track_uids);
	ms_free(track_ids);
	ms_free(labels);
	ms_free(meas);
	ms_free(groups);
	ms_free(segs);
	ms_result_source_clear(&rs);
	return rc;
}

ms_status ms_analysis_calcium_run(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
				  const ms_job_hooks *hooks, ms_analysis_output *out, char *err, size_t errlen)
{
	ms_cac_params cp;
	ms_cac_result r = { 0 };
	ms_ctseg_result seg = { 0 };
	const uint8_t *roi = NULL;
	char warning[160] = "";
	ms_status rc;

	(void)hooks;
	if (strcmp(info->modality, "CT") != 0) {
		snprintf(err, errlen, "calcium scoring needs a CT series; this series is %s",
			 info->modality[0] ? info->modality : "of unknown modality");
		return MS_ERR_INPUT;
	}
	params_from_config(&p->config, info->kvp, &cp);
	if (info->kvp > 0 && fabs(info->kvp - 120) > 0.5 && !cp.kvp_adjust)
		snprintf(warning, sizeof(warning),
			 "acquired at %g kVp: Agatston thresholds assume 120 kVp (see MedSight.Calcium.KvpAdjust)",
			 info->kvp);
	bool heart = p->config.calcium.roi == MS_CALCIUM_ROI_HEART;
	if (heart) {
		rc = heart_roi(p, vol, &seg, err, errlen);
		if (rc != MS_OK)
			goto out_clear;
		roi = seg.heart_roi;
	}
	rc = ms_cac_gpu(p->vk, vol, roi, &cp, &r);
	if (rc != MS_OK) {
		snprintf(err, errlen, "calcium kernels failed (%s)", ms_status_name(rc));
		goto out_clear;
	}
	rc = write_objects(p, vol, info, &r, &cp, heart, out, err, errlen);
	if (rc != MS_OK)
		goto out_clear;
	write_summary(&out->summary, &r, &cp, heart ? "heart" : "none", warning[0] ? warning : NULL,
		      ms_vk_context_device_name(p->vk));
out_clear:
	ms_cac_result_clear(&r);
	ms_ctseg_result_clear(&seg);
	return rc;
}
