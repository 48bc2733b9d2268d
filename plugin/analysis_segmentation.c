#include "plugin/analysis_segmentation.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "compute/ctseg.h"
#include "dicom/seg_writer.h"
#include "dicom/sr_writer.h"
#include "plugin/result_source.h"

#define ALGORITHM_NAME "MedSight CT segmentation"
#define ALGORITHM_VERSION "1.0"
#define SEG_SERIES_NUMBER 9011
#define SR_SERIES_NUMBER 9012

static const ms_code CAT_ANATOMY = { "91723000", "SCT", "Anatomical Structure" };
static const ms_code CAT_TISSUE = { "85756007", "SCT", "Tissue" };
static const ms_code TYPE_BODY = { "38266002", "SCT", "Entire body" };
static const ms_code TYPE_LUNG = { "39607008", "SCT", "Lung" };
static const ms_code TYPE_LEFT_LUNG = { "44029006", "SCT", "Left lung" };
static const ms_code TYPE_RIGHT_LUNG = { "3341006", "SCT", "Right lung" };
static const ms_code TYPE_BONE = { "3138006", "SCT", "Bone" };
static const ms_code CODE_VOLUME = { "118565006", "SCT", "Volume" };
static const ms_code UNIT_ML = { "ml", "UCUM", "milliliter" };
static const ms_code CODE_PROCEDURE = { "77477000", "SCT", "Computerized axial tomography" };

ms_status ms_analysis_ctseg(ms_plugin *p, const ms_volume *vol, ms_ctseg_result *r, const char **device_used,
			    char *err, size_t errlen)
{
	ms_ctseg_params sp;
	ms_ctseg_params_default(&sp);
	*device_used = ms_vk_context_device_name(p->vk);
	ms_status rc = ms_ctseg_gpu(p->vk, vol, &sp, r);
	if (rc == MS_ERR_NOMEM) {
		/* Larger than one storage-buffer binding of this device: the C pipeline is exact too. */
		ms_log_warning("segmentation of a %ux%ux%u volume exceeds the device's binding range; using the "
			       "C implementation",
			       vol->nx, vol->ny, vol->nz);
		*device_used = "CPU (C reference; volume exceeds the GPU binding range)";
		rc = ms_ctseg_ref(vol, &sp, r);
	}
	if (rc != MS_OK)
		snprintf(err, errlen, "segmentation kernels failed (%s)", ms_status_name(rc));
	return rc;
}

typedef struct {
	const char *label;
	const ms_code *category, *type;
	const uint8_t *mask;
	double volume_ml;
} structure;

ms_status ms_analysis_segmentation_run(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
				       const ms_job_hooks *hooks, ms_analysis_output *out, char *err, size_t errlen)
{
	ms_ctseg_result r = { 0 };
	ms_result_source rs = { 0 };
	const char *device;
	ms_status rc;

	(void)hooks;
	if (strcmp(info->modality, "CT") != 0) {
		snprintf(err, errlen, "CT segmentation needs a CT series; this series is %s",
			 info->modality[0] ? info->modality : "of unknown modality");
		return MS_ERR_INPUT;
	}
	rc = ms_analysis_ctseg(p, vol, &r, &device, err, errlen);
	if (rc != MS_OK)
		goto out_clear;

	/* Fused lungs that could not be split are reported as one "Lung" segment. */
	structure st[4];
	size_t n = 0;
	st[n++] = (structure){ "Body", &CAT_ANATOMY, &TYPE_BODY, r.body, r.volume_ml[MS_CTSEG_BODY] };
	if (r.lungs_fused && r.volume_ml[MS_CTSEG_LUNG_RIGHT] == 0) {
		st[n++] = (structure){ "Lungs", &CAT_ANATOMY, &TYPE_LUNG, r.lung_left, r.volume_ml[MS_CTSEG_LUNG_LEFT] };
	} else {
		st[n++] = (structure){ "Left lung", &CAT_ANATOMY, &TYPE_LEFT_LUNG, r.lung_left,
				       r.volume_ml[MS_CTSEG_LUNG_LEFT] };
		st[n++] = (structure){ "Right lung", &CAT_ANATOMY, &TYPE_RIGHT_LUNG, r.lung_right,
				       r.volume_ml[MS_CTSEG_LUNG_RIGHT] };
	}
	st[n++] = (structure){ "Bone", &CAT_TISSUE, &TYPE_BONE, r.bone, r.volume_ml[MS_CTSEG_BONE] };

	rc = ms_result_source_init(p, vol, info, &rs, err, errlen);
	if (rc != MS_OK)
		goto out_clear;
	char seg_series[65], seg_sop[65], sr_series[65], sr_sop[65], observer[65];
	ms_result_uid(seg_series, info, "segmentation", ALGORITHM_VERSION, "seg-series");
	ms_result_instance_uid(seg_sop, info, "segmentation", ALGORITHM_VERSION, "seg");
	ms_result_uid(sr_series, info, "segmentation", ALGORITHM_VERSION, "sr-series");
	ms_result_instance_uid(sr_sop, info, "segmentation", ALGORITHM_VERSION, "sr");
	ms_result_uid(observer, info, "segmentation", ALGORITHM_VERSION, "observer");

	ms_seg_segment segs[4];
	ms_sr_group groups[4];
	ms_sr_measurement meas[4];
	char track_uids[4][65];
	memset(segs, 0, sizeof(segs));
	memset(groups, 0, sizeof(groups));
	for (size_t i = 0; i < n; i++) {
		char what[32];
		snprintf(what, sizeof(what), "track-%zu", i + 1);
		ms_result_uid(track_uids[i], info, "segmentation", ALGORITHM_VERSION, what);
		segs[i] = (ms_seg_segment){ .label = st[i].label, .category = *st[i].category, .type = *st[i].type,
					    .tracking_id = st[i].label, .tracking_uid = track_uids[i],
					    .mask = st[i].mask };
		meas[i] = (ms_sr_measurement){ CODE_VOLUME, st[i].volume_ml, UNIT_ML, NULL };
		groups[i] = (ms_sr_group){ .tracking_id = st[i].label, .tracking_uid = track_uids[i],
					   .finding = *st[i].type, .referenced_segment = (int)(i + 1),
					   .measurements = &meas[i], .n_measurements = 1 };
	}
	ms_seg_desc sd = { .src = &rs.src, .series_uid = seg_series, .sop_uid = seg_sop,
			   .series_description = "MedSight body, lungs, bone", .series_number = SEG_SERIES_NUMBER,
			   .content_label = "SEGMENTATION", .algorithm_name = ALGORITHM_NAME,
			   .algorithm_version = ALGORITHM_VERSION, .segments = segs, .n_segments = n };
	ms_sr_desc rd = { .src = &rs.src, .series_uid = sr_series, .sop_uid = sr_sop,
			  .series_description = "MedSight segmentation volumes", .series_number = SR_SERIES_NUMBER,
			  .procedure_reported = CODE_PROCEDURE, .device_observer_uid = observer,
			  .device_observer_name = ALGORITHM_NAME, .algorithm_name = ALGORITHM_NAME,
			  .algorithm_version = ALGORITHM_VERSION,
			  .algorithm_parameters = "body HU>-500, lungs HU<-320 (airways HU<-950 removed), bone HU>=200",
			  .seg_sop_uid = seg_sop, .seg_series_uid = seg_series, .groups = groups, .n_groups = n };
	rc = ms_analysis_write_seg_sr(out, &sd, &rd, err, errlen);
	if (rc != MS_OK)
		goto out_clear;

	ms_strbuf *b = &out->summary;
	ms_strbuf_append(b, "{\"Segments\": [");
	for (size_t i = 0; i < n; i++) {
		ms_strbuf_appendf(b, "%s{\"Number\": %zu, \"Label\": ", i ? ", " : "", i + 1);
		ms_strbuf_append_json_string(b, st[i].label);
		ms_strbuf_append(b, ", \"VolumeMl\": ");
		ms_strbuf_append_json_number(b, st[i].volume_ml);
		ms_strbuf_appendf(b, ", \"Empty\": %s}", st[i].volume_ml > 0 ? "false" : "true");
	}
	ms_strbuf_appendf(b, "], \"LungsFused\": %s, \"AirwayRemoved\": %s, \"Device\": ",
			  r.lungs_fused ? "true" : "false", r.airway_removed ? "true" : "false");
	ms_strbuf_append_json_string(b, device);
	ms_strbuf_append(b, ", \"GpuMs\": ");
	ms_strbuf_append_json_number(b, r.gpu_ms);
	ms_strbuf_append(b, "}");
out_clear:
	ms_result_source_clear(&rs);
	ms_ctseg_result_clear(&r);
	return rc;
}
