#include "plugin/series_loader.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/parallel.h"
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

/* State shared by the parallel header and decode loops of one series. */
typedef struct {
	OrthancPluginContext *ctx;
	const ms_json *instances;
	ms_series_info *info;
	ms_dicom_slice *hdr;
	ms_slice_geom *geom;
	const size_t *order;
	ms_volume *vol;
	const ms_job_hooks *hooks;
	double progress_from, progress_span;
	pthread_mutex_t err_lock;
	char *err;          /* the first failure's message */
	size_t errlen;
} load_ctx;

static void set_error(load_ctx *c, const char *msg)
{
	pthread_mutex_lock(&c->err_lock);
	if (!c->err[0])
		snprintf(c->err, c->errlen, "%s", msg);
	pthread_mutex_unlock(&c->err_lock);
}

/* Pass 1, one instance: fetch, parse the header, check it can be part of a volume. */
static ms_status read_header(void *arg, size_t i)
{
	load_ctx *c = arg;
	char msg[512], derr[256];
	const char *id = ms_json_string(ms_json_at(c->instances, i));
	OrthancPluginMemoryBuffer buf = { 0 };
	ms_status rc;

	if (!id) {
		set_error(c, "malformed instance list");
		return MS_ERR_IO;
	}
	snprintf(c->info->instance_ids[i], sizeof(c->info->instance_ids[i]), "%s", id);
	rc = fetch_dicom(c->ctx, id, &buf, msg, sizeof(msg));
	if (rc == MS_OK) {
		rc = ms_dicom_read_slice(buf.data, buf.size, &c->hdr[i], derr, sizeof(derr));
		OrthancPluginFreeMemoryBuffer(c->ctx, &buf);
		if (rc != MS_OK) {
			snprintf(msg, sizeof(msg), "instance %s: %s", id, derr);
			rc = MS_ERR_INPUT;
		}
	}
	if (rc == MS_OK)
		rc = check_slice(&c->hdr[i], id, msg, sizeof(msg));
	if (rc != MS_OK) {
		set_error(c, msg);
		return rc;
	}
	c->geom[i] = c->hdr[i].geom;
	c->geom[i].label = c->info->instance_ids[i];
	return MS_OK;
}

/* Pass 2, one slice (in volume order): decode straight into the volume. */
static ms_status decode_one(void *arg, size_t k)
{
	load_ctx *c = arg;
	char msg[512];
	size_t plane = (size_t)c->vol->nx * c->vol->ny;
	ms_status rc = decode_slice(c->ctx, c->info->instance_ids[k], &c->hdr[c->order[k]], c->vol->voxels + k * plane,
				    c->vol->nx, c->vol->ny, msg, sizeof(msg));
	if (rc != MS_OK)
		set_error(c, msg);
	return rc;
}

/* Runs on the job's thread between items: progress and cancellation. */
static bool load_tick(void *arg, size_t done, size_t n)
{
	load_ctx *c = arg;
	if (cancelled(c->hooks))
		return false;
	progress(c->hooks, c->progress_from + c->progress_span * (double)done / (double)n);
	return true;
}

/* Decoding is I/O and CPU bound per slice and independent across slices. */
#define LOAD_THREADS 8

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
	load_ctx lc;
	bool lc_used = false;
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
	err[0] = '\0';
	lc = (load_ctx){ .ctx = ctx, .instances = instances, .info = info, .hdr = hdr, .geom = geom, .order = order,
			 .hooks = hooks, .progress_from = 0, .progress_span = 0.2, .err = err, .errlen = errlen };
	pthread_mutex_init(&lc.err_lock, NULL);
	lc_used = true;
	rc = ms_parallel_for(n, LOAD_THREADS, read_header, load_tick, &lc);
	if (rc != MS_OK)
		goto out_free;
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

	/* Pass 2: decode every slice straight into its place in the volume. */
	lc.vol = v;
	lc.progress_from = 0.2;
	lc.progress_span = 0.8;
	rc = ms_parallel_for(n, LOAD_THREADS, decode_one, load_tick, &lc);
	if (rc != MS_OK) {
		ms_volume_cache_drop(p->cache, series_id);
		ms_volume_cache_release(p->cache, v);
		goto out_free;
	}
	*vol = v;
	rc = MS_OK;
out_free:
	if (lc_used)
		pthread_mutex_destroy(&lc.err_lock);
	if (rc != MS_OK)
		ms_series_info_clear(info);
	ms_free(order);
	ms_free(geom);
	ms_free(hdr);
	ms_json_destroy(series);
	return rc;
}
