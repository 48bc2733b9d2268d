/* The priority a series' order asks for, read from its DICOM header. */
#pragma once
#include <orthanc/OrthancCPlugin.h>

#include "common/json.h"

/* Highest RequestedProcedurePriority (0040,1003) of one of the series' instances, at the top
 * level or in its RequestAttributesSequence items, as an MS_PRIORITY_* value (MEDIUM counts as
 * ROUTINE); -1 when absent, not a defined term, or unreadable. series is Orthanc's /series/{id}
 * answer. One tag read through the REST API: not for the change callback. */
int ms_order_priority(OrthancPluginContext *ctx, const ms_json *series);
