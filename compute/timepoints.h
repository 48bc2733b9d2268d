/* Time-point grouping of a dynamic (perfusion) series: which image is time point t at slice
 * z, and when each time point was acquired (ANALYSES.md 2.1). Pure C, no DICOM or Vulkan;
 * the plugin's series loader fills one record per image (per frame for enhanced objects).
 *
 * Rules, first that applies:
 *  1. Enhanced multi-frame: every record has frame > 0 (TemporalPositionIndex): group by it.
 *  2. Classic MR: every record has temporal_position > 0 (TemporalPositionIdentifier).
 *  3. Classic CT: AcquisitionNumber when every record has one and the numbers split the
 *     images into >= 2 groups of exactly N_z (the number of distinct positions) each.
 *  4. Otherwise cluster AcquisitionTime: records sorted by (time, z) are cut into groups,
 *     a new group starting whenever a position repeats inside the current one.
 *     When times are missing but AcquisitionNumber exists, rule 3 applies without the
 *     even-split condition (so the size check below names the short time point).
 * Each group is sorted by z; positions within 0.01 mm are the same. Every group must hold
 * the same positions as the largest-population reference group (the most common size),
 * N_img = N_t * N_z, N_t >= 3.
 * Time of a group: its earliest acq_time_s when every record has one and they differ between
 * groups; else its earliest trigger_time_ms / 1000 when every record has one and they differ
 * (TriggerTime is used only when it varies); t_k is relative to the first group (t_0 = 0).
 * Acquisition times that drop by more than 12 h are taken to cross midnight. Groups are
 * ordered by time; equal times are an error.
 *
 * Thread-safety: reentrant. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

typedef struct {
	double z;               /* position along the slice normal, mm (IPP . normal) */
	int temporal_position;  /* TemporalPositionIdentifier (0020,0100); 0 = absent */
	int acquisition_number; /* AcquisitionNumber (0020,0012); 0 = absent */
	double acq_time_s;      /* AcquisitionTime/ContentTime (or FrameAcquisitionDateTime) as
	                           seconds since midnight; -1 = absent */
	double trigger_time_ms; /* TriggerTime (0018,1060) or TemporalPositionTimeOffset * 1000;
	                           -1 = absent */
	int frame;              /* enhanced multi-frame: TemporalPositionIndex; 0 = absent */
} ms_timepoints_image;

typedef enum {
	MS_TIMEPOINTS_FRAME,       /* rule 1 */
	MS_TIMEPOINTS_TEMPORAL,    /* rule 2 */
	MS_TIMEPOINTS_ACQ_NUMBER,  /* rule 3 */
	MS_TIMEPOINTS_ACQ_TIME,    /* rule 4 */
} ms_timepoints_rule;

typedef struct {
	uint32_t n_t, n_z;
	uint32_t *index;         /* n_t * n_z: index[t * n_z + z] = input record; owned */
	double *t_s;             /* n_t times in seconds, t_s[0] = 0, increasing; owned */
	double *z;               /* n_z positions in mm, ascending (those of time point 0); owned */
	ms_timepoints_rule rule; /* the rule that grouped the images */
	bool trigger_time;       /* times came from trigger_time_ms */
	bool uneven;             /* spacing varies > 5% around the mean: resample for deconvolution */
} ms_timepoints;

/* Groups n records. On success fills *out (zeroed or previously cleared; cleared first) and
 * returns MS_OK. On unusable input returns MS_ERR_INPUT, logs and copies a one-line reason
 * into err (err_size bytes, NULL allowed), e.g. "time point 7 has 31 slices, expected 32",
 * "slice positions differ between time points 1 and 5 (z=12.50 mm missing)", "duplicate slice
 * position z=3.00 mm in time point 3", "cannot find time points: no
 * TemporalPositionIdentifier, AcquisitionNumber or AcquisitionTime", "a dynamic series needs
 * at least 3 time points", "time point 2 has no AcquisitionTime or varying TriggerTime",
 * "time points 2 and 3 have the same time 4.000 s". Time points are numbered from 1 in
 * messages. MS_ERR_ARG for NULL img with n > 0 or NULL out; MS_ERR_NOMEM. *out is cleared
 * on failure. img is borrowed. */
ms_status ms_timepoints_group(const ms_timepoints_image *img, size_t n, ms_timepoints *out,
			      char *err, size_t err_size);

/* Frees the arrays and zeroes *t; NULL is a no-op. */
void ms_timepoints_clear(ms_timepoints *t);
