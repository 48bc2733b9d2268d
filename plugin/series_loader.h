/* Series assembly: reads every instance of an Orthanc series, checks its geometry and decodes the
 * frames (compressed transfer syntaxes included, through Orthanc) into a cached volume of real
 * values (HU for CT). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/volume.h"
#include "plugin/plugin.h"

/* How a long-running step reports progress and learns it was cancelled. */
typedef struct {
	bool (*cancelled)(void *arg);
	void (*progress)(void *arg, double fraction); /* 0..1 of this step */
	void *arg;
} ms_job_hooks;

typedef struct {
	char study_id[64];        /* Orthanc ids */
	char series_id[64];
	char modality[17];
	char study_uid[65];
	char series_uid[65];
	char sop_class_uid[65];    /* of the images (first slice) */
	double kvp;               /* of the first slice; 0 when absent */
	uint32_t n_slices;
	char (*sop_uids)[65];     /* SOPInstanceUID per slice, in volume (sorted) order; owned */
	char (*instance_ids)[64]; /* Orthanc instance id per slice, same order; owned */
} ms_series_info;

void ms_series_info_clear(ms_series_info *info);

/* Loads series_id into *vol (pinned in p->cache: release with ms_volume_cache_release) and fills
 * *info. A volume cached from the same instances is reused. Fails with MS_ERR_INPUT and a precise
 * message for unusable series, MS_ERR_NOTFOUND if the series is gone, MS_ERR_CANCELLED if hooks
 * report cancellation. Runs on a worker thread. */
ms_status ms_series_load(ms_plugin *p, const char *series_id, const ms_job_hooks *hooks, ms_volume **vol,
			 ms_series_info *info, char *err, size_t errlen);
