#include "plugin/result_source.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "dicom/uid.h"

ms_status ms_result_source_init(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
				ms_result_source *rs, char *err, size_t errlen)
{
	memset(rs, 0, sizeof(*rs));
	rs->ctx = p->ctx;
	if (info->n_slices == 0) {
		snprintf(err, errlen, "no slices to reference");
		return MS_ERR_ARG;
	}
	if (OrthancPluginGetDicomForInstance(p->ctx, &rs->first, info->instance_ids[0]) !=
	    OrthancPluginErrorCode_Success) {
		snprintf(err, errlen, "instance %s disappeared before the results were written", info->instance_ids[0]);
		return MS_ERR_IO;
	}
	rs->uids = ms_calloc(info->n_slices, sizeof(*rs->uids));
	if (!rs->uids) {
		ms_result_source_clear(rs);
		return MS_ERR_NOMEM;
	}
	for (uint32_t k = 0; k < info->n_slices; k++)
		rs->uids[k] = info->sop_uids[k];
	ms_dicom_source *s = &rs->src;
	s->first_dicom = rs->first.data;
	s->first_dicom_size = rs->first.size;
	s->n_slices = info->n_slices;
	s->sop_instance_uids = rs->uids;
	s->sop_class_uid = info->sop_class_uid;
	s->series_instance_uid = info->series_uid;
	s->nx = vol->nx;
	s->ny = vol->ny;
	memcpy(s->origin, vol->geom.origin, sizeof(s->origin));
	memcpy(s->row_dir, vol->geom.row_dir, sizeof(s->row_dir));
	memcpy(s->col_dir, vol->geom.col_dir, sizeof(s->col_dir));
	memcpy(s->normal, vol->geom.normal, sizeof(s->normal));
	memcpy(s->spacing, vol->geom.spacing, sizeof(s->spacing));
	return MS_OK;
}

void ms_result_source_clear(ms_result_source *rs)
{
	if (rs->first.data)
		OrthancPluginFreeMemoryBuffer(rs->ctx, &rs->first);
	ms_free(rs->uids);
	memset(rs, 0, sizeof(*rs));
}

void ms_result_uid(char out[65], const ms_series_info *info, const char *analysis, const char *version,
		   const char *object)
{
	const char *parts[] = { info->series_uid, analysis, version, object };
	ms_uid_derive(out, parts, 4);
}

void ms_result_instance_uid(char out[65], const ms_series_info *info, const char *analysis, const char *version,
			    const char *object)
{
	const char *parts[] = { info->series_uid, analysis, version, object, info->content_uid };
	ms_uid_derive(out, parts, 5);
}
