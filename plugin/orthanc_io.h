/* Small helpers over the Orthanc SDK: JSON from the internal REST API, JSON answers, errors. */
#pragma once
#include <orthanc/OrthancCPlugin.h>
#include <stdint.h>

#include "common/json.h"
#include "common/status.h"
#include "common/strbuf.h"

/* GETs an internal REST URI and parses the JSON answer. MS_ERR_NOTFOUND for an unknown resource.
 * Not to be called from the change callback. *out is owned by the caller. */
ms_status ms_orthanc_get_json(OrthancPluginContext *ctx, const char *uri, ms_json **out);

/* Answers 200 with the JSON in body (freed here). An allocation failure answers 500. */
void ms_orthanc_answer_json(OrthancPluginContext *ctx, OrthancPluginRestOutput *output, ms_strbuf *body);

/* Answers an HTTP error with {"Error": message, "HttpStatus": status}. */
void ms_orthanc_answer_error(OrthancPluginContext *ctx, OrthancPluginRestOutput *output, uint16_t status,
			     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The one place where an ms_status becomes an Orthanc error code. */
OrthancPluginErrorCode ms_orthanc_error_code(ms_status s);

/* Formats unix seconds as ISO 8601 UTC ("2026-11-23T07:02:23.125Z"); 0 gives "". */
void ms_orthanc_iso_time(double t, char *buf, size_t n);

/* Stores a DICOM object in Orthanc, first deleting any instance with the same SOP Instance UID
 * so that a re-run replaces its earlier result instead of being ignored as a duplicate. Fills
 * instance_id with the Orthanc id of the stored instance. Worker threads only. */
ms_status ms_orthanc_store_dicom(OrthancPluginContext *ctx, const void *data, size_t size, const char *sop_uid,
				 char instance_id[64], char *err, size_t errlen);
