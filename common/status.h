/* Status codes shared by every module. The codes are stable and never renumbered. */
#pragma once

typedef enum {
	MS_OK = 0,
	MS_ERR_NOMEM,     /* allocation failed or a memory budget would be exceeded */
	MS_ERR_ARG,       /* caller passed an invalid argument */
	MS_ERR_CONFIG,    /* invalid configuration value */
	MS_ERR_VULKAN,    /* a Vulkan call failed */
	MS_ERR_SQL,       /* an SQLite call failed */
	MS_ERR_DICOM,     /* a DICOM object could not be read or written */
	MS_ERR_NOTFOUND,  /* the requested object does not exist */
	MS_ERR_INPUT,     /* input data is unusable (geometry, missing tags, wrong modality) */
	MS_ERR_STATE,     /* the operation is not allowed in the object's current state */
	MS_ERR_CANCELLED, /* the operation was cancelled */
	MS_ERR_IO,        /* a file or network operation failed */
} ms_status;

/* Returns a short constant name for the code ("MS_ERR_SQL"); never NULL. */
const char *ms_status_name(ms_status s);
