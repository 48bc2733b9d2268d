/* What DICOM results (SEG, SR) copy from the analysed source series, and the helpers the writers
 * share. C interface over DCMTK; the C++ section at the end is private to dicom/. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The analysed series as the writers need it. All pointers are borrowed for the duration of
 * one write call. */
typedef struct {
	const void *first_dicom;                /* one source instance (Part 10 bytes): Patient and
	                                           General Study modules, FrameOfReferenceUID and
	                                           the SOP class are copied from it */
	size_t first_dicom_size;
	uint32_t n_slices;                      /* >= 1 */
	const char *const *sop_instance_uids;   /* n_slices UIDs in volume order (along normal) */
	const char *sop_class_uid;              /* of the source images (CT Image Storage etc.) */
	const char *series_instance_uid;        /* of the source series */
	uint32_t nx, ny;                        /* columns, rows (<= 65535) */
	double origin[3];                       /* ImagePositionPatient of slice 0, mm */
	double row_dir[3], col_dir[3];          /* ImageOrientationPatient (unit vectors) */
	double normal[3];                       /* slice direction, unit vector */
	double spacing[3];                      /* x (column), y (row), z (slice) spacing, mm */
} ms_dicom_source;

/* A coded concept, e.g. {"49755003", "SCT", "Morphologically Abnormal Structure"}. */
typedef struct {
	const char *value, *scheme, *meaning;   /* borrowed; all three non-empty */
} ms_code;

/* Checks that a source description is complete (pointers set, sizes non-zero, UIDs present).
 * Returns MS_OK or MS_ERR_ARG with a message in err. Thread-safe. */
ms_status ms_dicom_source_check(const ms_dicom_source *src, char *err, size_t errlen);

/* Frees a buffer returned by ms_seg_write / ms_sr_write. NULL is a no-op. Thread-safe. */
void ms_dicom_free(void *p);

#ifdef __cplusplus
}

/* ---- private to the dicom/ C++ sources ---- */
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>

namespace ms_dcm {

/* Parses Part 10 bytes into ff. false with a message in err when unreadable. */
bool load(const void *buf, size_t n, DcmFileFormat &ff, char *err, size_t errlen);
/* Serialises ff (Explicit VR Little Endian, meta header refreshed) into a new ms_malloc buffer. */
ms_status save(DcmFileFormat &ff, uint8_t **out, size_t *out_size, char *err, size_t errlen);
/* Formats v as a DICOM DS value (at most 16 characters, as precise as fits). */
std::string ds(double v);
/* True when a code has all three parts non-empty. */
bool code_ok(const ms_code &c);
/* ImagePositionPatient of slice k: origin + k * spacing[2] * normal. */
void slice_position(const ms_dicom_source *src, uint32_t k, double out[3]);

} /* namespace ms_dcm */
#endif
