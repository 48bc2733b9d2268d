/* The "MedSight" section of Orthanc's configuration: loading, validation and the rule helpers
 * used by the plugin and the REST handlers. docs/configuration.md describes every key.
 *
 * Thread-safety: ms_config_load/ms_config_free touch only their arguments (and the log sink);
 * a loaded ms_config is immutable and may be read by many threads at once. */
#pragma once
#include "common/status.h"

#include <stdbool.h>
#include <stddef.h>

/* Job priorities, as stored in ms_rule.priority and the job queue (higher runs first). */
enum {
	MS_PRIORITY_LOW = 0,
	MS_PRIORITY_ROUTINE = 1,
	MS_PRIORITY_HIGH = 2,
	MS_PRIORITY_STAT = 3,
};

typedef struct {
	char *keyword; /* DICOM keyword, canonical spelling ("SeriesDescription"); owned */
	char *glob;    /* fnmatch(3) pattern, matched case-insensitively; owned */
} ms_rule_match;

enum { MS_CALCIUM_PROFILE_LITERATURE, MS_CALCIUM_PROFILE_GE, MS_CALCIUM_PROFILE_SIEMENS,
       MS_CALCIUM_PROFILE_PHILIPS, MS_CALCIUM_PROFILE_CANON };
enum { MS_CALCIUM_ROI_HEART, MS_CALCIUM_ROI_NONE };

/* One entry of MedSight.Rules: run `analysis` on every series matching all of `match`. */
typedef struct {
	char *analysis;       /* "histogram" | "calcium" | "perfusion" | "segmentation"; owned */
	int priority;         /* MS_PRIORITY_* */
	size_t n_match;       /* 0 = matches every series */
	ms_rule_match *match; /* n_match entries; owned */
} ms_rule;

/* One entry of MedSight.Forward: a DICOMweb server that receives every stored result (STOW-RS).
 * username/password/bearer_token are secrets: never log them. */
typedef struct {
	char *name;           /* Name, default the host of url; unique among destinations; owned */
	char *url;            /* DICOMweb root, "http(s)://host[:port][/path]" without trailing '/'; owned */
	char *username;       /* HTTP basic auth; NULL, or set together with password; owned */
	char *password;       /* owned */
	char *bearer_token;   /* "Authorization: Bearer ..."; NULL, exclusive with basic auth; owned */
	bool verify_peer;     /* check the server's TLS certificate and host name */
	char *ca_certificate; /* PEM bundle that replaces the system CAs; NULL = system; owned */
	int timeout_s;        /* whole request, 1..3600 */
	int max_attempts;     /* tries before a row is failed, 1..1000 */
} ms_forward_dest;

typedef struct {
	bool enable;             /* MedSight.Enable: false = the plugin loads but does nothing */
	char *database;          /* resolved SQLite path (never ""); owned */
	char *device;            /* "auto" | "gpu" | "cpu" | a device-name substring; owned */
	int workers;             /* MedSight.Workers, 1..16 */
	int memory_budget_mb;    /* MedSight.MemoryBudgetMB, 64..1048576 */
	int max_attempts;        /* MedSight.MaxAttempts, 1..100: starts before a job is failed */
	bool stable_trigger;     /* MedSight.StableTrigger: run rules on Orthanc's StableSeries */
	bool complete_trigger;   /* MedSight.CompleteTrigger: run rules on Orthanc's CompletedSeries */
	int perf_retention_days; /* MedSight.PerfRetentionDays, 1..3650 */
	int stable_age_s;        /* Orthanc's top-level StableAge (seconds) */
	ms_rule *rules;          /* MedSight.Rules in file order; owned */
	size_t n_rules;
	ms_forward_dest *forward; /* MedSight.Forward in file order; owned */
	size_t n_forward;
	struct {
		double bin_width; /* HU per bin, (0, 1000] */
		double min, max;  /* histogram range, min < max, at most 65536 bins */
	} histogram;              /* MedSight.Histogram */
	struct {
		int profile;             /* MS_CALCIUM_PROFILE_* ("literature", "ge", "siemens", "philips", "canon") */
		double threshold_hu;     /* candidate HU >= threshold, [50, 1000], default 130 */
		int connectivity;        /* in-plane 4 or 8 */
		double min_area_mm2;     /* -1 = the profile's minimum area, else [0, 100] */
		int min_pixels;          /* -1 = the profile's, else [0, 100000] */
		bool kvp_adjust;         /* kVp-dependent threshold and weight edges */
		int volume_method;       /* 0 "voxels", 1 "isotropic" */
		double mass_calibration; /* mg/mm3/HU; 0 = unknown, mass not reported */
		double max_hu;           /* lesions peaking above are dropped (metal); 0 = off */
		int roi;                 /* MS_CALCIUM_ROI_* */
	} calcium;                       /* MedSight.Calcium */
	struct {
		int method;              /* 0 "osvd", 1 "ssvd", 2 "csvd" */
		double svd_threshold;    /* sSVD/cSVD truncation P; 0 = 0.2 / 0.1 */
		double oscillation_index; /* oSVD limit; 0 = 0.035 */
		double rho, k_h;         /* tissue density g/ml and hematocrit factor */
		bool relative;           /* rho = k_H = 1 */
		int baseline_frames;     /* 0 = automatic */
		int aif_voxels;          /* automatic AIF size, 1..6 */
	} perfusion;                     /* MedSight.Perfusion */
} ms_config;

/* Loads the configuration from the WHOLE Orthanc configuration JSON (as
 * OrthancPluginGetConfiguration returns it): its "MedSight" object (absent = all defaults),
 * plus the top-level "StableAge" (default 60) and "IndexDirectory" (default StorageDirectory,
 * then "OrthancStorage"), which gives the default Database "<IndexDirectory>/medsight.sqlite".
 * Every value is checked; unknown keys in "MedSight" are errors. On success the applied values
 * are logged with ms_log_info and *out is filled (free it with ms_config_free).
 * Returns MS_OK; MS_ERR_CONFIG for invalid JSON or any bad key/value, with a message naming the
 * key, the bad value and what is allowed (e.g. "MedSight.MemoryBudgetMB: 10 is below the
 * minimum 64") written to err and logged with ms_log_error, so the caller need not log it again;
 * MS_ERR_NOMEM if an allocation failed; MS_ERR_ARG for NULL orthanc_json/out. On failure *out is
 * zeroed (owning nothing). err may be NULL. */
ms_status ms_config_load(const char *orthanc_json, ms_config *out, char *err, size_t errlen);

/* Destination named name (exact), or NULL. Borrowed from c. */
const ms_forward_dest *ms_config_forward_find(const ms_config *c, const char *name);

/* Frees what c owns and zeroes it, so calling it twice is harmless. NULL c is a no-op. */
void ms_config_free(ms_config *c);

/* Name of a priority (MS_PRIORITY_STAT -> "STAT"); NULL if prio is not a priority. */
const char *ms_config_priority_name(int prio);

/* Priority named name, case-insensitively ("stat" -> MS_PRIORITY_STAT); -1 if none or NULL. */
int ms_config_priority_parse(const char *name);

/* Priority of a DICOM RequestedProcedurePriority (0040,1003) value: STAT, HIGH, ROUTINE, LOW, and
 * MEDIUM as ROUTINE, in any case, with DICOM's space padding; -1 for anything else or NULL. */
int ms_config_requested_priority(const char *dicom_value);

/* True if name (exact, lower case) is an analysis: histogram, calcium, perfusion, segmentation. */
bool ms_config_analysis_known(const char *name);

/* True when every Match entry of r matches the series: lookup(ctx, keyword) returns the series'
 * value for a DICOM keyword (borrowed, used only during the call) or NULL when it has none. A
 * missing value matches only the glob "*"; others are compared with fnmatch(3), ignoring case.
 * A rule without Match entries matches every series. NULL r -> false; NULL lookup = no values.
 * Thread-safe if lookup is. */
bool ms_config_rule_matches(const ms_rule *r, const char *(*lookup)(void *ctx, const char *keyword),
			    void *ctx);
