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
	double echo_time_ms;          /* EchoTime (enhanced MR: EffectiveEchoTime); 0 when absent */
	unsigned frame;               /* frame to decode, 0-based (0 for single-frame images) */
	int temporal_position_index;  /* enhanced: FrameContentSequence > TemporalPositionIndex;
	                                 0 when absent */
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

/* Reads one ms_dicom_slice per frame into *out (ms_calloc'd, *n_out entries; free with ms_free).
 * A single-frame image without functional groups gives the one slice of ms_dicom_read_slice.
 * Otherwise (enhanced multi-frame) each frame takes, per-frame group first, then shared group:
 * ImagePositionPatient (PlanePositionSequence), ImageOrientationPatient
 * (PlaneOrientationSequence), PixelSpacing (PixelMeasuresSequence), rescale
 * (PixelValueTransformationSequence; 1/0 and has_rescale false when absent),
 * TemporalPositionIndex and FrameAcquisitionDateTime (FrameContentSequence; the time of day
 * goes to acq_time_s), TemporalPositionTimeOffset * 1000 (TemporalPositionSequence) to
 * trigger_time_ms and EffectiveEchoTime (MREchoSequence) to echo_time_ms; frame is the
 * 0-based frame index. The other fields are the image's, the same in every frame.
 * MS_ERR_DICOM with a message in err for unreadable DICOM or a multi-frame image whose frames
 * lack a position, orientation or pixel spacing (neither per-frame nor shared); *out is NULL
 * and *n_out 0 on failure. MS_ERR_NOMEM. Thread-safe; never throws. */
ms_status ms_dicom_read_frames(const void *buf, size_t n, ms_dicom_slice **out, size_t *n_out, char *err,
			       size_t errlen);

#ifdef __cplusplus
}
#endif
