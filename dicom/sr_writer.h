/* Comprehensive SR writer for TID 1500 "Imaging Measurement Report" (DCMTK dcmsr/cmr), and
 * read-back checks. C interface over DCMTK. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "dicom/source_info.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	ms_code concept;         /* e.g. {"112058","DCM","Calcium score"} */
	double value;            /* finite; written as DS (16 chars) plus the exact FD value */
	ms_code unit;            /* UCUM, e.g. {"mm3","UCUM","cubic millimeter"} */
	const ms_code *method;   /* optional (NULL): (370129005,SCT,"Measurement Method") */
} ms_sr_measurement;

typedef struct {
	const char *tracking_id, *tracking_uid;  /* both required (TID 1501/1411 rows 2-3) */
	ms_code finding;                         /* e.g. {"18115005","SCT","Pathologic calcification"} */
	const ms_code *finding_site;             /* optional */
	int referenced_segment;                  /* 0: TID 1501 group; > 0: segment number in the
	                                            referenced SEG (TID 1411, needs seg_sop_uid) */
	const ms_sr_measurement *measurements;   /* borrowed */
	size_t n_measurements;                   /* >= 1 */
} ms_sr_group;

typedef struct {
	const ms_dicom_source *src;                    /* borrowed */
	const char *series_uid, *sop_uid;              /* from ms_uid_derive by the caller */
	const char *series_description;                /* optional */
	int series_number;
	ms_code procedure_reported;                    /* e.g. {"426005005","SCT","Cardiac CT for calcium scoring"} */
	const char *device_observer_uid;               /* required (Device observer) */
	const char *device_observer_name;              /* optional */
	const char *algorithm_name, *algorithm_version;/* ManufacturerModelName / SoftwareVersions;
	                                                  also Algorithm Name/Version of TID 1411
	                                                  measurements */
	const char *algorithm_parameters;              /* optional free text, recorded as a TEXT
	                                                  (111002,DCM,"Algorithm Parameters") in the
	                                                  Imaging Measurements container */
	const char *seg_sop_uid, *seg_series_uid;      /* referenced SEG (optional pair) */
	const ms_sr_group *groups;                     /* borrowed */
	size_t n_groups;                               /* >= 1 */
	const char *predecessor_sop_uid;               /* optional: PredecessorDocumentsSequence
	                                                  (same study and series as this report) */
} ms_sr_desc;

/* Writes a Comprehensive SR (1.2.840.10008.5.1.4.1.1.88.33) with a TID 1500 content tree into a
 * new buffer (*out, freed with ms_dicom_free). Patient/study from src->first_dicom; evidence lists
 * the source slices and the SEG. Returns MS_OK, MS_ERR_ARG, MS_ERR_DICOM (message in err) or
 * MS_ERR_NOMEM; on failure *out is NULL. Thread-safe for distinct descriptions; never throws. */
ms_status ms_sr_write(const ms_sr_desc *d, uint8_t **out, size_t *out_size, char *err, size_t errlen);

/* Reads an SR back with DCMTK and checks it: DSRDocument::read succeeds, the root is
 * (126000,DCM) with template 1500/DCMR, there are expect_groups measurement groups (125007,DCM)
 * and every NUM value is a finite DS whose FD twin (when present) agrees. MS_OK or MS_ERR_DICOM
 * with a message. Thread-safe; never throws. */
ms_status ms_sr_check(const uint8_t *buf, size_t n, size_t expect_groups, char *err, size_t errlen);

/* Stricter read-back used by tests: ms_sr_check plus, group by group in order, tracking ID/UID,
 * finding, every measurement's concept, value (relative 1e-9 against the FD value, 1e-6 against
 * the DS string) and unit equal to d's, the SOP/series UIDs, and the evidence listing every
 * source slice (and the SEG when given). MS_OK or MS_ERR_DICOM with a message. */
ms_status ms_sr_verify(const uint8_t *buf, size_t n, const ms_sr_desc *d, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
