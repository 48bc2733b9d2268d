/* Reads what series assembly needs from one DICOM instance (header only; pixels are decoded by
 * Orthanc). C interface over DCMTK. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"
#include "compute/geometry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	ms_slice_geom geom;           /* geom.label is left NULL: the caller owns labels */
	double slope, intercept;      /* RescaleSlope/Intercept; 1 and 0 when absent */
	bool has_rescale;             /* both rescale tags present */
	unsigned bits_allocated, samples_per_pixel, number_of_frames;
	bool has_pixel_data;
	int instance_number;
	double kvp;                   /* 0 when absent */
	int temporal_position;        /* TemporalPositionIdentifier; 0 when absent */
	int acquisition_number;       /* AcquisitionNumber; 0 when absent */
	double acq_time_s;            /* AcquisitionTime, else ContentTime, as seconds since
	                                 midnight; -1 when absent */
	double trigger_time_ms;       /* TriggerTime; -1 when absent */
	double echo_time_ms;          /* EchoTime; 0 when absent */
	char modality[17];
	char photometric[17];
	char sop_instance_uid[65];
	char sop_class_uid[65];
	char series_instance_uid[65];
	char study_instance_uid[65];
} ms_dicom_slice;

/* Parses a DICOM file (Part 10, as Orthanc stores it) held in memory. Returns MS_ERR_DICOM with a
 * message in err when it is not readable DICOM. Missing optional tags are reported through the
 * has_* flags, not as errors. Thread-safe; never throws. */
ms_status ms_dicom_read_slice(const void *buf, size_t n, ms_dicom_slice *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
