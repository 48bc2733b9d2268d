/* What result writers need from the analysed series: the ms_dicom_source of dicom/ (one source
 * instance's bytes, the slices' SOP Instance UIDs in volume order, geometry) and deterministic
 * UIDs for the objects an analysis writes. */
#pragma once
#include <orthanc/OrthancCPlugin.h>

#include "dicom/source_info.h"
#include "plugin/plugin.h"
#include "plugin/series_loader.h"

typedef struct {
	ms_dicom_source src;
	OrthancPluginMemoryBuffer first;  /* Part 10 bytes of the first slice; owned */
	const char **uids;                /* pointers into info->sop_uids; owned array */
	OrthancPluginContext *ctx;
} ms_result_source;

/* Fills rs for vol/info (both borrowed and must outlive rs). MS_ERR_IO with a message when the
 * first instance cannot be read back from Orthanc. */
ms_status ms_result_source_init(ms_plugin *p, const ms_volume *vol, const ms_series_info *info,
				ms_result_source *rs, char *err, size_t errlen);
void ms_result_source_clear(ms_result_source *rs);

/* Deterministic UID of one result object: the same (source series, analysis, algorithm
 * version, object) always gives the same UID, so a re-run replaces instead of duplicating. */
void ms_result_uid(char out[65], const ms_series_info *info, const char *analysis, const char *version,
		   const char *object);

/* SOP Instance UID of one result object: as ms_result_uid, and also of the source content
 * (info->content_uid), so re-running on the same instances replaces the object while a run on
 * changed content (late instances) writes a new one that supersedes it. Series and tracking
 * UIDs use ms_result_uid, so they stay the same across such re-runs. */
void ms_result_instance_uid(char out[65], const ms_series_info *info, const char *analysis, const char *version,
			    const char *object);
