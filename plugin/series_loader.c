#include "plugin/series_loader.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/parallel.h"
#include "compute/geometry.h"
#include "compute/timepoints.h"
#include "dicom/slice_info.h"
#include "dicom/uid.h"
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

/* Rejects images the volume model cannot hold, naming the instance. Multi-frame images are
 * allowed only when their frames were read one by one (frames). */
static ms_status check_slice(const ms_dicom_slice *s, const char *id, bool frames, char *err, size_t errlen)
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
	if (s->number_of_frames != 1 && !frames) {
		snprintf(err, errlen, "instance %s is multi-frame (%u frames); only single-frame images are assembled "
			 "into volumes (enhanced multi-frame is read by the perfusion analysis only)",
			 id, s->number_of_frames);
		return MS_ERR_INPUT;
	}
	if (strcmp(s->modality, "CT") == 0 && !s->has_rescale) {
		snprintf(err, errlen, "missing RescaleSlope/RescaleIntercept in CT instance %s (frame %u); HU cannot be "
			 "computed", id, s->frame + 1);
		return MS_ERR_INPUT;
	}
	if (s->geom.rows > 8192 || s->geom.cols > 8192) {
		snprintf(err, errlen, "instance %s declares %ux%u pixels; at most 8192x8192 is supported", id,
			 s->geom.cols, s->geom.rows);
		return MS_ERR_INPUT;
	}
	return MS_OK;
}

/* Decodes frame hdr->frame of an instance already in memory into a volume slice of real values. */
static ms_status decode_frame(OrthancPluginContext *ctx, const OrthancPluginMemoryBuffer *buf, const char *id,
			      const ms_dicom_slice *hdr, float *dst, uint32_t nx, uint32_t ny, char *err, size_t errlen)
{
	ms_status rc;
	OrthancPluginImage *img = OrthancPluginDecodeDicomImage(ctx, buf->data, buf->size, hdr->frame);
	if (!img) {
		snprintf(err, errlen,
			 "instance %s frame %u: pixel data could not be decoded (unsupported or corrupt transfer syntax)",
			 id, hdr->frame + 1);
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

/* Fetches one instance and decodes frame hdr->frame of it. */
static ms_status decode_slice(OrthancPluginContext *ctx, const char *id, const ms_dicom_slice *hdr,
			      float *dst, uint32_t nx, uint32_t ny, char *err, size_t errlen)
{
	OrthancPluginMemoryBuffer buf = { 0 };
	ms_status rc = fetch_dicom(ctx, id, &buf, err, errlen);
	if (rc != MS_OK)
		return rc;
	rc = decode_frame(ctx, &buf, id, hdr, dst, nx, ny, err, errlen);
	OrthancPluginFreeMemoryBuffer(ctx, &buf);
	return rc;
}

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


/* Decoding is I/O and CPU bound per slice and independent across slices. */
#define LOAD_THREADS 8

/* Pass 1 result: the header of every item of a series, in instance-list order. An item is an
 * instance, or with frames one frame of an instance (hdr[i].frame says which). */
typedef struct {
	size_t n;
	ms_dicom_slice *hdr;
	ms_slice_geom *geom;     /* hdr[i].geom labelled with ids[i] */
	char (*ids)[64];         /* Orthanc instance id of each item */
	char study_id[64];
} series_headers;

static void series_headers_clear(series_headers *sh)
{
	ms_free(sh->hdr);
	ms_free(sh->geom);
	ms_free(sh->ids);
	memset(sh, 0, sizeof(*sh));
}

/* State shared by the threads of one parallel pass; errors keep the first message. */
typedef struct {
	OrthancPluginContext *ctx;
	const ms_json *instances;   /* pass 1 */
	bool frames;                /* pass 1: one item per frame, into inst_hdr/inst_n ... */
	ms_dicom_slice **inst_hdr;  /* ... [instance] (ms_dicom_read_frames) */
	size_t *inst_n;
	series_headers *sh;
	const size_t *src;          /* pass 2: item k decodes instance src[k] ... */
	float *dst;                 /* ... into dst + k * nx * ny */
	uint32_t nx, ny;
	const ms_job_hooks *hooks;
	double progress_from, progress_span;
	pthread_mutex_t err_lock;
	char *err;
	size_t errlen;
} pass_ctx;

static void set_error(pass_ctx *c, const char *msg)
{
	pthread_mutex_lock(&c->err_lock);
	if (!c->err[0])
		snprintf(c->err, c->errlen, "%s", msg);
	pthread_mutex_unlock(&c->err_lock);
}

/* Pass 1, one instance: fetch, parse the header, check it can be part of a volume. */
static ms_status read_header(void *arg, size_t i)
{
	pass_ctx *c = arg;
	series_headers *sh = c->sh;
	char msg[512], derr[256];
	const char *id = ms_json_string(ms_json_at(c->instances, i));
	OrthancPluginMemoryBuffer buf = { 0 };
	ms_status rc;

	if (!id) {
		set_error(c, "malformed instance list");
		return MS_ERR_IO;
	}
	snprintf(sh->ids[i], sizeof(sh->ids[i]), "%s", id);
	rc = fetch_dicom(c->ctx, id, &buf, msg, sizeof(msg));
	if (rc == MS_OK) {
		if (c->frames)
			rc = ms_dicom_read_frames(buf.data, buf.size, &c->inst_hdr[i], &c->inst_n[i], derr,
						  sizeof(derr));
		else
			rc = ms_dicom_read_slice(buf.data, buf.size, &sh->hdr[i], derr, sizeof(derr));
		OrthancPluginFreeMemoryBuffer(c->ctx, &buf);
		if (rc != MS_OK) {
			snprintf(msg, sizeof(msg), "instance %s: %s", id, derr);
			rc = rc == MS_ERR_NOMEM ? rc : MS_ERR_INPUT;
		}
	}
	if (rc == MS_OK && c->frames) {
		for (size_t f = 0; f < c->inst_n[i] && rc == MS_OK; f++)
			rc = check_slice(&c->inst_hdr[i][f], id, true, msg, sizeof(msg));
	} else if (rc == MS_OK) {
		rc = check_slice(&sh->hdr[i], id, false, msg, sizeof(msg));
	}
	if (rc != MS_OK) {
		set_error(c, msg);
		return rc;
	}
	if (c->frames)
		return MS_OK; /* geometry is labelled when the frames are flattened */
	sh->geom[i] = sh->hdr[i].geom;
	sh->geom[i].label = sh->ids[i];
	return MS_OK;
}

/* Pass 2, one item: decode straight into its place. */
static ms_status decode_one(void *arg, size_t k)
{
	pass_ctx *c = arg;
	char msg[512];
	size_t i = c->src[k];
	ms_status rc = decode_slice(c->ctx, c->sh->ids[i], &c->sh->hdr[i], c->dst + k * (size_t)c->nx * c->ny, c->nx,
				    c->ny, msg, sizeof(msg));
	if (rc != MS_OK)
		set_error(c, msg);
	return rc;
}

/* Runs on the job's thread between items: progress and cancellation. */
static bool pass_tick(void *arg, size_t done, size_t n)
{
	pass_ctx *c = arg;
	if (cancelled(c->hooks))
		return false;
	progress(c->hooks, c->progress_from + c->progress_span * (double)done / (double)n);
	return true;
}

static ms_status run_pass(pass_ctx *c, size_t n, ms_parallel_fn fn)
{
	c->err[0] = '\0';
	pthread_mutex_init(&c->err_lock, NULL);
	ms_status rc = ms_parallel_for(n, LOAD_THREADS, fn, pass_tick, c);
	pthread_mutex_destroy(&c->err_lock);
	return rc;
}

/* Replaces the per-instance sh (ids only) by one item per frame of c's inst_hdr. */
static ms_status flatten_frames(pass_ctx *c, series_headers *sh, char *err, size_t errlen)
{
	size_t total = 0;
	for (size_t i = 0; i < sh->n; i++)
		total += c->inst_n[i];
	ms_dicom_slice *hdr = ms_calloc(total, sizeof(*hdr));
	ms_slice_geom *geom = ms_calloc(total, sizeof(*geom));
	char(*ids)[64] = ms_calloc(total, sizeof(*ids));
	if (!hdr || !geom || !ids) {
		ms_free(hdr);
		ms_free(geom);
		ms_free(ids);
		snprintf(err, errlen, "out of memory reading %zu frame headers", total);
		return MS_ERR_NOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < sh->n; i++) {
		for (size_t f = 0; f < c->inst_n[i]; f++, k++) {
			hdr[k] = c->inst_hdr[i][f];
			memcpy(ids[k], sh->ids[i], sizeof(ids[k]));
			geom[k] = hdr[k].geom;
			geom[k].label = ids[k];
		}
	}
	ms_free(sh->hdr);
	ms_free(sh->geom);
	ms_free(sh->ids);
	sh->hdr = hdr;
	sh->geom = geom;
	sh->ids = ids;
	sh->n = total;
	return MS_OK;
}

/* Pass 1 over the whole series: headers only, so geometry is checked before any voxel memory
 * is committed. With frames, every frame of an (enhanced) multi-frame instance is an item. */
static ms_status read_headers(ms_plugin *p, const char *series_id, const ms_job_hooks *hooks, bool frames,
			      series_headers *sh, char *err, size_t errlen)
{
	ms_json *series = NULL;
	const ms_json *instances = NULL;
	ms_dicom_slice **inst_hdr = NULL;
	size_t *inst_n = NULL, n_inst = 0;
	ms_status rc;

	memset(sh, 0, sizeof(*sh));
	rc = list_instances(p->ctx, series_id, &series, &instances, err, errlen);
	if (rc != MS_OK)
		goto out_free;
	sh->n = n_inst = ms_json_size(instances);
	const char *study = ms_json_string(ms_json_get(series, "ParentStudy"));
	snprintf(sh->study_id, sizeof(sh->study_id), "%s", study ? study : "");
	sh->hdr = ms_calloc(sh->n, sizeof(*sh->hdr));
	sh->geom = ms_calloc(sh->n, sizeof(*sh->geom));
	sh->ids = ms_calloc(sh->n, sizeof(*sh->ids));
	if (frames) {
		inst_hdr = ms_calloc(sh->n, sizeof(*inst_hdr));
		inst_n = ms_calloc(sh->n, sizeof(*inst_n));
	}
	if (!sh->hdr || !sh->geom || !sh->ids || (frames && (!inst_hdr || !inst_n))) {
		snprintf(err, errlen, "out of memory reading %zu instance headers", sh->n);
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	pass_ctx c = { .ctx = p->ctx, .instances = instances, .frames = frames, .inst_hdr = inst_hdr,
		       .inst_n = inst_n, .sh = sh, .hooks = hooks, .progress_span = 0.2, .err = err,
		       .errlen = errlen };
	rc = run_pass(&c, sh->n, read_header);
	if (rc == MS_OK && frames)
		rc = flatten_frames(&c, sh, err, errlen);
	if (rc != MS_OK)
		goto out_free;
	for (size_t i = 1; i < sh->n; i++) {
		if (strcmp(sh->hdr[i].modality, sh->hdr[0].modality) != 0) {
			snprintf(err, errlen, "mixed modality in one series: %s (instance %s) and %s (instance %s)",
				 sh->hdr[0].modality, sh->ids[0], sh->hdr[i].modality, sh->ids[i]);
			rc = MS_ERR_INPUT;
			goto out_free;
		}
	}
out_free:
	for (size_t i = 0; inst_hdr && i < n_inst; i++)
		ms_free(inst_hdr[i]);
	ms_free(inst_hdr);
	ms_free(inst_n);
	if (rc != MS_OK)
		series_headers_clear(sh);
	ms_json_destroy(series);
	return rc;
}

/* Fills info for the slices sh[order[0..nz)] (volume order). */
static ms_status fill_info(const char *series_id, const series_headers *sh, const size_t *order, size_t nz,
			   ms_series_info *info)
{
	memset(info, 0, sizeof(*info));
	info->sop_uids = ms_calloc(nz, sizeof(*info->sop_uids));
	info->instance_ids = ms_calloc(nz, sizeof(*info->instance_ids));
	if (!info->sop_uids || !info->instance_ids) {
		ms_series_info_clear(info);
		return MS_ERR_NOMEM;
	}
	for (size_t k = 0; k < nz; k++) {
		memcpy(info->instance_ids[k], sh->ids[order[k]], sizeof(info->instance_ids[k]));
		snprintf(info->sop_uids[k], sizeof(info->sop_uids[k]), "%s", sh->hdr[order[k]].sop_instance_uid);
	}
	const ms_dicom_slice *h = &sh->hdr[order[0]];
	snprintf(info->study_id, sizeof(info->study_id), "%s", sh->study_id);
	snprintf(info->series_id, sizeof(info->series_id), "%s", series_id);
	snprintf(info->modality, sizeof(info->modality), "%s", h->modality);
	snprintf(info->study_uid, sizeof(info->study_uid), "%s", h->study_instance_uid);
	snprintf(info->series_uid, sizeof(info->series_uid), "%s", h->series_instance_uid);
	snprintf(info->sop_class_uid, sizeof(info->sop_class_uid), "%s", h->sop_class_uid);
	info->kvp = h->kvp;
	info->n_slices = (uint32_t)nz;
	const char **parts = ms_calloc(nz, sizeof(*parts));
	if (!parts) {
		ms_series_info_clear(info);
		return MS_ERR_NOMEM;
	}
	for (size_t k = 0; k < nz; k++)
		parts[k] = info->sop_uids[k];
	ms_uid_derive(info->content_uid, parts, nz);
	ms_free(parts);
	return MS_OK;
}

ms_status ms_series_load(ms_plugin *p, const char *series_id, const ms_job_hooks *hooks, ms_volume **vol,
			 ms_series_info *info, char *err, size_t errlen)
{
	series_headers sh;
	size_t *order = NULL;
	ms_volume *v = NULL;
	ms_geometry g;
	ms_status rc;

	*vol = NULL;
	memset(info, 0, sizeof(*info));
	rc = read_headers(p, series_id, hooks, false, &sh, err, errlen);
	if (rc != MS_OK)
		return rc;
	size_t n = sh.n;
	order = ms_calloc(n, sizeof(*order));
	if (!order) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	rc = ms_geometry_sort(sh.geom, n, NULL, order, &g, err, errlen);
	if (rc == MS_OK)
		rc = fill_info(series_id, &sh, order, n, info);
	if (rc != MS_OK)
		goto out_free;

	uint32_t nx = sh.hdr[0].geom.cols, ny = sh.hdr[0].geom.rows;
	v = ms_volume_cache_acquire(p->cache, series_id, (uint32_t)n);
	if (v) {
		progress(hooks, 1.0);
		*vol = v;
		goto out_free;
	}
	rc = ms_volume_cache_alloc(p->cache, info->study_id, series_id, (uint32_t)n, nx, ny, (uint32_t)n, &v, err,
				   errlen);
	if (rc != MS_OK)
		goto out_free;
	v->geom = g;

	/* Pass 2: decode every slice straight into its place in the volume. */
	pass_ctx c = { .ctx = p->ctx, .sh = &sh, .src = order, .dst = v->voxels, .nx = nx, .ny = ny,
		       .hooks = hooks, .progress_from = 0.2, .progress_span = 0.8, .err = err, .errlen = errlen };
	rc = run_pass(&c, n, decode_one);
	if (rc != MS_OK) {
		ms_volume_cache_drop(p->cache, series_id);
		ms_volume_cache_release(p->cache, v);
		goto out_free;
	}
	*vol = v;
out_free:
	if (rc != MS_OK)
		ms_series_info_clear(info);
	ms_free(order);
	series_headers_clear(&sh);
	return rc;
}

/* ---- dynamic (4-D) series ------------------------------------------------------------------ */

struct ms_dynamic_private {
	series_headers sh;
	uint32_t *index;   /* [t * nz + z] -> instance (ms_timepoints.index) */
	OrthancPluginContext *ctx;
	const ms_job_hooks *hooks;
};

void ms_dynamic_series_clear(ms_dynamic_series *ds)
{
	if (ds->priv) {
		series_headers_clear(&ds->priv->sh);
		ms_free(ds->priv->index);
		ms_free(ds->priv);
	}
	ms_free(ds->t_s);
	ms_series_info_clear(&ds->info);
	memset(ds, 0, sizeof(*ds));
}

ms_status ms_series_load_dynamic(ms_plugin *p, const char *series_id, const ms_job_hooks *hooks,
				 ms_dynamic_series *ds, char *err, size_t errlen)
{
	ms_timepoints tp = { 0 };
	ms_timepoints_image *img = NULL;
	ms_slice_geom *geom0 = NULL;
	size_t *order = NULL, *first = NULL;
	ms_status rc;

	memset(ds, 0, sizeof(*ds));
	ds->priv = ms_calloc(1, sizeof(*ds->priv));
	if (!ds->priv)
		return MS_ERR_NOMEM;
	ds->priv->ctx = p->ctx;
	ds->priv->hooks = hooks;
	series_headers *sh = &ds->priv->sh;
	rc = read_headers(p, series_id, hooks, true, sh, err, errlen);
	if (rc != MS_OK)
		goto out_free;

	/* Positions along the normal of the first image; time points must share them. */
	const double *iop = sh->hdr[0].geom.iop;
	double nrm[3] = { iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5],
			  iop[0] * iop[4] - iop[1] * iop[3] };
	img = ms_calloc(sh->n, sizeof(*img));
	if (!img) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < sh->n; i++) {
		const ms_dicom_slice *h = &sh->hdr[i];
		if (!h->geom.has_ipp) {
			snprintf(err, errlen, "missing ImagePositionPatient in instance %s (frame %u)", sh->ids[i],
				 h->frame + 1);
			rc = MS_ERR_INPUT;
			goto out_free;
		}
		img[i] = (ms_timepoints_image){ .z = h->geom.ipp[0] * nrm[0] + h->geom.ipp[1] * nrm[1] +
						     h->geom.ipp[2] * nrm[2],
						.temporal_position = h->temporal_position,
						.acquisition_number = h->acquisition_number,
						.acq_time_s = h->acq_time_s,
						.trigger_time_ms = h->trigger_time_ms,
						.frame = h->temporal_position_index };
	}
	rc = ms_timepoints_group(img, sh->n, &tp, err, errlen);
	if (rc != MS_OK)
		goto out_free;

	/* The slices of time point 0 must form a regular volume; every time point has the same
	 * positions (checked by the grouping), so their geometry is the volume's. */
	geom0 = ms_calloc(tp.n_z, sizeof(*geom0));
	order = ms_calloc(tp.n_z, sizeof(*order));
	first = ms_calloc(tp.n_z, sizeof(*first));
	if (!geom0 || !order || !first) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (uint32_t z = 0; z < tp.n_z; z++)
		geom0[z] = sh->geom[tp.index[z]];
	rc = ms_geometry_sort(geom0, tp.n_z, NULL, order, &ds->geom, err, errlen);
	if (rc != MS_OK)
		goto out_free;
	for (uint32_t z = 0; z < tp.n_z; z++) {
		if (order[z] != z) { /* both sort by the same projection: they agree unless broken */
			snprintf(err, errlen, "slice order differs between positions and time grouping");
			rc = MS_ERR_INPUT;
			goto out_free;
		}
		first[z] = tp.index[z];
	}
	rc = fill_info(series_id, sh, first, tp.n_z, &ds->info);
	if (rc != MS_OK)
		goto out_free;
	ds->nx = sh->hdr[0].geom.cols;
	ds->ny = sh->hdr[0].geom.rows;
	ds->nz = tp.n_z;
	ds->nt = tp.n_t;
	ds->echo_time_ms = sh->hdr[0].echo_time_ms;
	ds->t_s = tp.t_s;
	tp.t_s = NULL;
	ds->priv->index = tp.index;
	tp.index = NULL;
out_free:
	ms_timepoints_clear(&tp);
	ms_free(first);
	ms_free(order);
	ms_free(geom0);
	ms_free(img);
	if (rc != MS_OK)
		ms_dynamic_series_clear(ds);
	return rc;
}

/* Items of one instance within a fill: fetched once, all their frames decoded from it. */
typedef struct {
	pass_ctx *c;
	const size_t *order;   /* item numbers k sorted by instance */
	const size_t *starts;  /* group g covers order[starts[g] .. starts[g + 1]) */
} group_ctx;

static ms_status decode_group(void *arg, size_t g)
{
	group_ctx *gc = arg;
	pass_ctx *c = gc->c;
	char msg[512];
	const char *id = c->sh->ids[c->src[gc->order[gc->starts[g]]]];
	OrthancPluginMemoryBuffer buf = { 0 };
	ms_status rc = fetch_dicom(c->ctx, id, &buf, msg, sizeof(msg));
	for (size_t j = gc->starts[g]; rc == MS_OK && j < gc->starts[g + 1]; j++) {
		size_t k = gc->order[j];
		rc = decode_frame(c->ctx, &buf, id, &c->sh->hdr[c->src[k]], c->dst + k * (size_t)c->nx * c->ny, c->nx,
				  c->ny, msg, sizeof(msg));
	}
	if (buf.data)
		OrthancPluginFreeMemoryBuffer(c->ctx, &buf);
	if (rc != MS_OK)
		set_error(c, msg);
	return rc;
}

typedef struct {
	const char *id; /* the item's instance */
	size_t k;       /* the item */
} keyed_item;

static int by_instance(const void *a, const void *b)
{
	const keyed_item *x = a, *y = b;
	int d = strcmp(x->id, y->id);
	return d ? d : (x->k > y->k) - (x->k < y->k);
}

ms_status ms_dynamic_series_fill(ms_dynamic_series *ds, uint32_t z0, uint32_t nz, float *dst, char *err,
				 size_t errlen)
{
	size_t n = (size_t)ds->nt * nz, n_groups = 0;
	size_t *src = ms_malloc(n * sizeof(*src)), *order = ms_malloc(n * sizeof(*order));
	size_t *starts = ms_malloc((n + 1) * sizeof(*starts));
	ms_status rc = MS_ERR_NOMEM;
	if (!src || !order || !starts)
		goto out_free;
	for (uint32_t t = 0; t < ds->nt; t++)
		for (uint32_t z = 0; z < nz; z++)
			src[(size_t)t * nz + z] = ds->priv->index[(size_t)t * ds->nz + z0 + z];
	/* Enhanced multi-frame series hold many items per instance: fetch each instance once. */
	keyed_item *keyed = ms_malloc(n * sizeof(*keyed));
	if (!keyed)
		goto out_free;
	for (size_t k = 0; k < n; k++)
		keyed[k] = (keyed_item){ ds->priv->sh.ids[src[k]], k };
	qsort(keyed, n, sizeof(*keyed), by_instance);
	for (size_t j = 0; j < n; j++) {
		order[j] = keyed[j].k;
		if (j == 0 || strcmp(keyed[j].id, keyed[j - 1].id) != 0)
			starts[n_groups++] = j;
	}
	starts[n_groups] = n;
	ms_free(keyed);
	pass_ctx c = { .ctx = ds->priv->ctx, .sh = &ds->priv->sh, .src = src, .dst = dst, .nx = ds->nx,
		       .ny = ds->ny, .err = err, .errlen = errlen };
	group_ctx gc = { .c = &c, .order = order, .starts = starts };
	c.err[0] = '\0';
	pthread_mutex_init(&c.err_lock, NULL);
	rc = ms_parallel_for(n_groups, LOAD_THREADS, decode_group, NULL, &gc);
	pthread_mutex_destroy(&c.err_lock);
out_free:
	ms_free(starts);
	ms_free(order);
	ms_free(src);
	return rc;
}
