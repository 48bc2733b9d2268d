/* Binary DICOM Segmentation (SEG) writer: one segment per mask over the geometry of the source
 * series. C interface over DCMTK dcmseg. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "dicom/source_info.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	const char *label;               /* SegmentLabel (LO), non-empty */
	ms_code category, type;          /* CID 7150 category / CID 7151 type */
	const ms_code *anatomic_region;  /* optional (NULL) */
	const char *tracking_id;         /* optional; set together with tracking_uid or neither */
	const char *tracking_uid;
	const uint8_t *mask;             /* borrowed: nx*ny*n_slices bytes, nonzero = in segment,
	                                    x fastest, slices in source order; or NULL and: */
	const uint32_t *labels;          /* borrowed label map of the same layout: the segment is
	                                    where labels[i] == label_value (many segments, one map) */
	uint32_t label_value;
} ms_seg_segment;

typedef struct {
	const ms_dicom_source *src;        /* borrowed */
	const char *series_uid, *sop_uid;  /* from ms_uid_derive by the caller */
	const char *series_description;    /* optional */
	int series_number;                 /* SeriesNumber (Type 1) */
	const char *content_label;         /* ContentLabel: CS, <= 16 chars, upper case */
	const char *algorithm_name;        /* SegmentAlgorithmName, ManufacturerModelName */
	const char *algorithm_version;     /* SoftwareVersions */
	const ms_seg_segment *segments;    /* borrowed */
	size_t n_segments;                 /* >= 1 (a SEG needs a segment; pass an empty mask for
	                                      "nothing found") */
} ms_seg_desc;

/* Writes a binary SEG (Part 10, Explicit VR Little Endian) into a new buffer (*out, freed with
 * ms_dicom_free) of *out_size bytes. Frames exist only for (segment, slice) pairs with pixels;
 * a segment without any pixel gets one empty frame on slice 0 so it stays valid. Per frame:
 * FrameContent (dimension indices segment, slice), PlanePosition, DerivationImage referencing
 * the source slice; shared PixelMeasures and PlaneOrientation; Common Instance Reference lists
 * the source slices. Returns MS_OK, MS_ERR_ARG (bad description), MS_ERR_DICOM (DCMTK refused;
 * message in err) or MS_ERR_NOMEM. On failure *out is NULL and *out_size 0.
 * Thread-safe for distinct descriptions; never throws. */
ms_status ms_seg_write(const ms_seg_desc *d, uint8_t **out, size_t *out_size, char *err, size_t errlen);

/* Reads a SEG back with DCMTK (DcmSegmentation) and compares it with the description it was
 * written from: binary type, rows/columns, SOP/series UIDs, segment count, labels and codes,
 * frame count (one per non-empty (segment, slice), one for an empty segment), and per frame the
 * referenced segment, the source slice (DerivationImage), PlanePosition (1e-3 mm) and the
 * unpacked pixels against the mask. Used by tests. MS_OK, MS_ERR_ARG or MS_ERR_DICOM with a
 * message. Thread-safe; never throws. */
ms_status ms_seg_verify(const uint8_t *buf, size_t n, const ms_seg_desc *d, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
