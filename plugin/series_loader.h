/* Series assembly: reads every instance of an Orthanc series, checks its geometry and decodes the
 * frames (compressed transfer syntaxes included, through Orthanc) into a cached volume of real
 * values (HU for CT). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/geometry.h"
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
	char content_uid[65];      /* digest of the slices' SOP Instance UIDs: changes when instances
	                              are added or replaced, so results of other content get other UIDs */
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

/* A dynamic series: nt time points of the same nz slices. Voxels are decoded on demand, a slab
 * of slices at a time (ms_dynamic_series_fill), so the whole 4-D study never has to be held. */
typedef struct ms_dynamic_private ms_dynamic_private;
typedef struct {
	uint32_t nx, ny, nz, nt;
	ms_geometry geom;        /* of every time point */
	double *t_s;             /* nt times from the first time point, seconds; owned */
	double echo_time_ms;     /* EchoTime of the first image (DSC-MR); 0 when absent */
	ms_series_info info;     /* the slices of time point 0, in volume order */
	ms_dynamic_private *priv;
} ms_dynamic_series;

/* Reads every header of series_id, groups the images into time points (ANALYSES.md 2.1) and
 * checks the geometry. MS_ERR_INPUT with a precise message (missing time point, positions that
 * differ between time points, ...). Clear *ds with ms_dynamic_series_clear. */
ms_status ms_series_load_dynamic(ms_plugin *p, const char *series_id, const ms_job_hooks *hooks,
				 ms_dynamic_series *ds, char *err, size_t errlen);

/* Decodes slices [z0, z0 + nz) of every time point into dst[t][z - z0][y][x] (real values after
 * rescale), in parallel. Not thread-safe for one ds. */
ms_status ms_dynamic_series_fill(ms_dynamic_series *ds, uint32_t z0, uint32_t nz, float *dst, char *err,
				 size_t errlen);

void ms_dynamic_series_clear(ms_dynamic_series *ds);

