/* DICOM Parametric Map writer (SOP Class 1.2.840.10008.5.1.4.1.1.30): one float map (CBF, CBV,
 * MTT, Tmax, TTP or a model-free DCE map) over the geometry of the source series, with the
 * quantity and its UCUM unit in a shared Real World Value Mapping. C interface over DCMTK dcmpmap. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "dicom/source_info.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	const ms_dicom_source *src;          /* borrowed */
	const char *series_uid, *sop_uid;    /* from ms_uid_derive by the caller */
	const char *series_description;      /* optional */
	int series_number;                   /* SeriesNumber (Type 1) */
	const char *content_label;           /* ContentLabel: CS, <= 16 chars, upper case, e.g. "CBF" */
	const char *image_type_4;            /* value 4 of ImageType and FrameType (CS, <= 16 chars):
	                                        RCBF, RCBV, MTT, TTP or NONE (Tmax, model-free maps);
	                                        value 3 is always PERFUSION */
	ms_code quantity;                    /* e.g. {"126390","DCM","Absolute Regional Blood Flow"} */
	ms_code unit;                        /* UCUM, e.g. {"ml/[100]g/min","UCUM","ml/100g/min"} */
	const ms_code *method;               /* optional (NULL), e.g. {"126311","DCM","SVD deconvolution"}:
	                                        (370129005,SCT,"Measurement Method") in the
	                                        QuantityDefinitionSequence */
	const ms_code *anatomic_region;      /* optional (NULL) FrameAnatomy region, e.g.
	                                        {"12738006","SCT","Brain"}; NULL writes
	                                        (38266002,SCT,"Entire body") because the group is
	                                        mandatory in this IOD */
	const char *lut_label;               /* LUTLabel (SH, <= 16 chars), e.g. "CBF" */
	const char *algorithm_name;          /* ManufacturerModelName (LUTExplanation is the quantity's
	                                        meaning) */
	const char *algorithm_version;       /* optional, second value of SoftwareVersions */
	const float *values;                 /* borrowed: nx*ny*n_slices, x fastest, slices in source
	                                        order. NaN (not computed: masked, fit failed) is written
	                                        as NaN, which OF allows (PS3.5 section 8); +-Inf is
	                                        rejected. The RWVM first/last value mapped are the
	                                        min/max of the finite values only, so viewers that
	                                        window from them stay usable */
} ms_pm_desc;

/* Writes a float Parametric Map (Part 10, Explicit VR Little Endian) into a new buffer (*out,
 * freed with ms_dicom_free) of *out_size bytes. One frame per source slice (frame k = slice k),
 * FloatPixelData; per frame FrameContent (dimension index = slice + 1 on ImagePositionPatient),
 * PlanePosition and DerivationImage referencing the source slice; shared PixelMeasures,
 * PlaneOrientation, FrameAnatomy, RealWorldValueMapping (slope 1, intercept 0, quantity, unit,
 * method), ParametricMapFrameType and IdentityPixelValueTransformation; empty Acquisition
 * Context; Common Instance Reference to the source slices; Enhanced General Equipment
 * (Manufacturer "MedSight"); ContentQualification RESEARCH; Modality copied from the source
 * (OT when it has none). Returns MS_OK, MS_ERR_ARG (bad description), MS_ERR_DICOM (DCMTK
 * refused; message in err) or MS_ERR_NOMEM. On failure *out is NULL and *out_size 0.
 * Thread-safe for distinct descriptions; never throws. */
ms_status ms_pm_write(const ms_pm_desc *d, uint8_t **out, size_t *out_size, char *err, size_t errlen);

/* Reads a Parametric Map back with DCMTK (DPMParametricMapIOD) and compares it with the
 * description it was written from: SOP class and UIDs, Manufacturer, float pixels, rows/columns,
 * one frame per slice with the source slice (DerivationImage) and PlanePosition (1e-3 mm) of it,
 * every pixel bit-exact (NaN where NaN), ImageType/FrameType value 4, the RWVM LUT label,
 * first/last value mapped (finite min/max), unit, quantity and method codes. Used by tests.
 * MS_OK, MS_ERR_ARG or MS_ERR_DICOM with a message. Thread-safe; never throws. */
ms_status ms_pm_verify(const uint8_t *buf, size_t n, const ms_pm_desc *d, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
