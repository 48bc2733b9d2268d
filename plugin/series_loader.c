#include "plugin/series_loader.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "compute/geometry.h"
#include "dicom/slice_info.h"
#include "plugin/orthanc_io.h"

void ms_series_info_clear(ms_series_info *info)
{
	ms_free(info->sop_uids);
	ms_free(info->instance_ids);
	memset(info, 0, sizeof(*info));
}

static bool cancelled(const ms_job_hooks *h)
{
	return h && h->cancelled && h->cancelled(h->arg);
}

static void progress(const ms_job_hooks *h, double f)
{
	if (h && h->progress)
		h->progress(h->arg, f);
}

/* Fetches one instance's DICOM file; the caller frees buf with OrthancPluginFreeMemoryBuffer. */
static ms_status fetch_dicom(OrthancPluginContext *ctx, const char *instance_id, OrthancPluginMemoryBuffer *buf,
			     char *err, size_t errlen)
{
	OrthancPluginErrorCode code = OrthancPluginGetDicomForInstance(ctx, buf, instance_id);
	if (code == OrthancPluginErrorCode_Success)
		return MS_OK;
	snprintf(err, errlen, "instance %s could not be read from Orthanc (%s); was it deleted?", instance_id,
		 OrthancPluginGetErrorDescription(ctx, code));
	return code == OrthancPluginErrorCode_UnknownResource ? MS_ERR_NOTFOUND : MS_ERR_IO;
}

/* Rejects images the volume model cannot hold, naming the instance. */
static ms_status check_slice(const ms_dicom_slice *s, const char *id, char *err, size_t errlen)
{
	if (!s->has_pixel_data) {
		snprintf(err, errlen, "instance %s has no PixelData (modality %s); not an image", id,
			 s->modality[0] ? s->modality : "unknown");
		return MS_ERR_INPUT;
	}
	if (s->samples_per_pixel != 1) {
		snprintf(err, errlen, "instance %s is a color image (%s, %u samples per pixel); grayscale CT/MR is needed",
			 id, s->photometric, s->samples_per_pixel);
		return MS_ERR_INPUT;
	}
	if (s->bits_allocated < 16) {
		snprintf(err, errlen, "instance %s has %u-bit pixels; 16-bit CT/MR data is needed", id,
			 s->bits_allocated);
		return MS_ERR_INPUT;
	}
	if (s->number_of_frames != 1) {
		snprintf(err, errlen, "instance %s is multi-frame (%u frames); only single-frame images are assembled",
			 id, s->number_of_frames);
		return MS_ERR_INPUT;
	}
	if (strcmp(s->modality, "CT") == 0 && !s->has_rescale) {
		snprintf(err, errlen, "missing RescaleSlope/RescaleIntercept in CT instance %s; HU cannot be computed", id);
		return MS_ERR_INPUT;
	}
	if (s->geom.rows > 8192 || s->geom.cols > 8192) {
		snprintf(err, errlen, "instance %s declares %ux%u pixels; at most 8192x8192 is supported", id,
			 s->geom.cols, s->geom.rows);
		return MS_ERR_INPUT;
	}
	return MS_OK;
}

/* Decodes frame 0 of one instance through Orthanc into a volume slice of real values. */
static ms_status decode_slice(OrthancPluginContext *ctx, const char *id, const ms_dicom_slice *hdr,
			      float *dst, uint32_t nx, uint32_t ny, char *err, size_t errlen)
{
	OrthancPluginMemoryBuffer buf = { 0 };
	ms_status rc = fetch_dicom(ctx, id, &buf, err, errlen);
	if (rc != MS_OK)
		return rc;
	OrthancPluginImage *img = OrthancPluginDecodeDicomImage(ctx, buf.data, buf.size, 0);
	OrthancPluginFreeMemoryBuffer(ctx, &buf);
	if (!img) {
		snprintf(err, errlen, "instance %s: pixel data could not be decoded (unsupported or corrupt transfer syntax)",
			 id);
		return MS_ERR_INPUT;
	}
	OrthancPluginPixelFormat fmt = OrthancPluginGetImagePixelFormat(ctx, img);
	uint32_t w = OrthancPluginGetImageWidth(ctx, img), h = OrthancPluginGetImageHeight(ctx, img);
	uint32_t pitch = OrthancPluginGetImagePitch(ctx, img);
	const uint8_t *px = OrthancPluginGetImageBuffer(ctx, img);
	const float slope = (float)hdr->slope, icpt = (float)hdr->intercept;

	rc = MS_OK;
	if (w != nx || h != ny) {
		snprintf(err, errlen, "instance %s decodes to %ux%u but declares %ux%u", id, w, h, nx, ny);
		rc = MS_ERR_INPUT;
		goto out_free_image;
	}
	for (uint32_t y = 0; y < ny; y++) {
		const uint8_t *row = px + (size_t)y * pitch;
		float *out = dst + (size_t)y * nx;
		switch (fmt) {
		case OrthancPluginPixelFormat_Grayscale16:
			for (uint32_t x = 0; x < nx; x++)
				out[x] = (float)((const uint16_t *)row)[x] * slope + icpt;
			break;
		case OrthancPluginPixelFormat_SignedGrayscale16:
			for (uint32_t x = 0; x < nx; x++)
				out[x] = (float)((const int16_t *)row)[x] * slope + icpt;
			break;
		case OrthancPluginPixelFormat_Grayscale32:
			for (uint32_t x = 0; x < nx; x++)
				out[x] = (float)((const uint32_t *)row)[x] * slope + icpt;
			break;
		case OrthancPluginPixelFormat_Float32:
			for (uint32_t x = 0; x < nx; x++)
				out[x] = ((const float *)row)[x] * slope + icpt;
			break;
		default:
			snprintf(err, errlen, "instance %s decodes to an unsupported pixel format (%d)", id, (int)fmt);
			rc = MS_ERR_INPUT;
			goto out_free_image;
		}
	}
out_free_image:
	OrthancPluginFreeImage(ctx, img);
	return rc;
}

/* Reads the instance list and parent study of a series. */
static ms_status list_instances(OrthancPluginContext *ctx, const char *series_id, ms_json **series,
				const ms_json **instances, char *err, size_t errlen)
{
	char uri[256];
	snprintf(uri, sizeof(uri), "/series/%s", series_id);
	ms_status rc = ms_orthanc_get_json(ctx, uri, series);
	if (rc == MS_ERR_NOTFOUND) {
		snprintf(err, errlen, "series %s no longer exists in Orthanc", series_id);
		return rc;
	}
	if (rc != MS_OK) {
		snprintf(err, errlen, "series %s could not be read from Orthanc", series_id);
		return rc;
	}
	*instances = ms_json_get(*series, "Instances");
	if (ms_json_type_of(*instances) != MS_JSON_ARRAY || ms_json_size(*instances) == 0) {
		snprintf(err, errlen, "series %s has no instances", series_id);
		return MS_ERR_INPUT;
	}
	return MS_OK;
}

ms_status ms_series_load(ms_plugin *p, const char *series_id, const ms_job_hooks *hooks, ms_volume **vol,
			 ms_series_info *info, char *err, size_t errlen)
{
	OrthancPluginContext *ctx = p->ctx;
	ms_json *series = NULL;
	const ms_json *instances = NULL;
	ms_dicom_slice *hdr = NULL;
	ms_slice_geom *geom = NULL;
	size_t *order = NULL;
	ms_volume *v = NULL;
	ms_status rc;

	*vol = NULL;
	memset(info, 0, sizeof(*info));
	rc = list_instances(ctx, series_id, &series, &instances, err, errlen);
	if (rc != MS_OK)
		goto out_free;
	size_t n = ms_json_size(instances);
	const char *study = ms_json_string(ms_json_get(series, "ParentStudy"));
	snprintf(info->study_id, sizeof(info->study_id), "%s", study ? study : "");
	snprintf(info->series_id, sizeof(info->series_id), "%s", series_id);

	hdr = ms_calloc(n, sizeof(*hdr));
	geom = ms_calloc(n, sizeof(*geom));
	order = ms_calloc(n, sizeof(*order));
	info->sop_uids = ms_calloc(n, sizeof(*info->sop_uids));
	info->instance_ids = ms_calloc(n, sizeof(*info->instance_ids));
	if (!hdr || !geom || !order || !info->sop_uids || !info->instance_ids) {
		snprintf(err, errlen, "out of memory reading %zu instance headers", n);
		rc = MS_ERR_NOMEM;
		goto out_free;
	}

	/* Pass 1: headers only, so geometry is checked before any voxel memory is committed. */
	for (size_t i = 0; i < n; i++) {
		const char *id = ms_json_string(ms_json_at(instances, i));
		OrthancPluginMemoryBuffer buf = { 0 };
		if (!id) {
			snprintf(err, errlen, "series %s: malformed instance list", series_id);
			rc = MS_ERR_IO;
			goto out_free;
		}
		snprintf(info->instance_ids[i], sizeof(info->instance_ids[i]), "%s", id);
		rc = fetch_dicom(ctx, id, &buf, err, errlen);
		if (rc != MS_OK)
			goto out_free;
		char derr[256];
		rc = ms_dicom_read_slice(buf.data, buf.size, &hdr[i], derr, sizeof(derr));
		OrthancPluginFreeMemoryBuffer(ctx, &buf);
		if (rc != MS_OK) {
			snprintf(err, errlen, "instance %s: %s", id, derr);
			rc = MS_ERR_INPUT;
			goto out_free;
		}
		rc = check_slice(&hdr[i], id, err, errlen);
		if (rc != MS_OK)
			goto out_free;
		geom[i] = hdr[i].geom;
		geom[i].label = info->instance_ids[i];
		if (cancelled(hooks)) {
			rc = MS_ERR_CANCELLED;
			goto out_free;
		}
		progress(hooks, 0.2 * (double)(i + 1) / (double)n);
	}
	for (size_t i = 1; i < n; i++) {
		if (strcmp(hdr[i].modality, hdr[0].modality) != 0) {
			snprintf(err, errlen, "mixed modality in one series: %s (instance %s) and %s (instance %s)",
				 hdr[0].modality, info->instance_ids[0], hdr[i].modality, info->instance_ids[i]);
			rc = MS_ERR_INPUT;
			goto out_free;
		}
	}

	ms_geometry g;
	rc = ms_geometry_sort(geom, n, NULL, order, &g, err, errlen);
	if (rc != MS_OK)
		goto out_free;

	/* Report everything in sorted order from here on. */
	char (*ids_sorted)[64] = ms_calloc(n, sizeof(*ids_sorted));
	if (!ids_sorted) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (size_t k = 0; k < n; k++) {
		memcpy(ids_sorted[k], info->instance_ids[order[k]], sizeof(ids_sorted[k]));
		snprintf(info->sop_uids[k], sizeof(info->sop_uids[k]), "%s", hdr[order[k]].sop_instance_uid);
	}
	ms_free(info->instance_ids);
	info->instance_ids = ids_sorted;
	snprintf(info->modality, sizeof(info->modality), "%s", hdr[0].modality);
	snprintf(info->study_uid, sizeof(info->study_uid), "%s", hdr[0].study_instance_uid);
	snprintf(info->series_uid, sizeof(info->series_uid), "%s", hdr[0].series_instance_uid);
	snprintf(info->sop_class_uid, sizeof(info->sop_class_uid), "%s", hdr[0].sop_class_uid);
	info->kvp = hdr[0].kvp;
	info->n_slices = (uint32_t)n;

	uint32_t nx = hdr[0].geom.cols, ny = hdr[0].geom.rows, nz = (uint32_t)n;
	v = ms_volume_cache_acquire(p->cache, series_id, (uint32_t)n);
	if (v) {
		progress(hooks, 1.0);
		*vol = v;
		rc = MS_OK;
		goto out_free;
	}
	rc = ms_volume_cache_alloc(p->cache, info->study_id, series_id, (uint32_t)n, nx, ny, nz, &v, err, errlen);
	if (rc != MS_OK)
		goto out_free;
	v->geom = g;

	/* Pass 2: decode in slice order straight into the volume. */
	for (size_t k = 0; k < n; k++) {
		rc = decode_slice(ctx, info->instance_ids[k], &hdr[order[k]], v->voxels + (size_t)k * nx * ny, nx, ny,
				  err, errlen);
		if (rc == MS_OK && cancelled(hooks))
			rc = MS_ERR_CANCELLED;
		if (rc != MS_OK) {
			ms_volume_cache_drop(p->cache, series_id);
			ms_volume_cache_release(p->cache, v);
			goto out_free;
		}
		progress(hooks, 0.2 + 0.8 * (double)(k + 1) / (double)n);
	}
	*vol = v;
	rc = MS_OK;
out_free:
	if (rc != MS_OK)
		ms_series_info_clear(info);
	ms_free(order);
	ms_free(geom);
	ms_free(hdr);
	ms_json_destroy(series);
	return rc;
}
