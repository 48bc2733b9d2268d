#include "config/config.h"

#include "common/alloc.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strbuf.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Error context threaded through the loaders. */
typedef struct {
	char *err;
	size_t errlen;
} ctx;

typedef enum { OPT_BOOL, OPT_INT, OPT_NUMBER, OPT_STRING, OPT_CHOICE, OPT_SECTION } opt_type;

typedef ms_status (*section_fn)(const ms_json *v, const char *path, ms_config *c, ctx *x);

/* One key, Redis static_configs[] style: the loaders below are driven by these tables, so adding
 * a scalar key is adding a row (and a field, and a line in docs/configuration.md). */
typedef struct {
	const char *name;
	opt_type type;
	double def;          /* OPT_BOOL (0/1), OPT_INT, OPT_NUMBER */
	const char *def_str; /* OPT_STRING; NULL = optional, the field stays NULL when absent */
	double min, max;     /* OPT_INT, OPT_NUMBER: inclusive range */
	bool min_exclusive;  /* OPT_NUMBER: value must be > min */
	bool nonempty;       /* OPT_STRING */
	bool secret;         /* OPT_STRING: never shown in messages (passwords, tokens) */
	const char *allowed; /* OPT_STRING: what to write, for messages */
	const char *const *choices; /* OPT_CHOICE: allowed strings (case-insensitive), stored as the
				       index (int); def is the default index */
	size_t offset;       /* field inside the table's base struct */
	section_fn section;  /* OPT_SECTION: validates and stores an object/array value (or NULL) */
} option;

static ms_status load_rules(const ms_json *v, const char *path, ms_config *c, ctx *x);
static ms_status load_forward(const ms_json *v, const char *path, ms_config *c, ctx *x);
static ms_status load_histogram(const ms_json *v, const char *path, ms_config *c, ctx *x);
static ms_status load_analysis_params(const ms_json *v, const char *path, ms_config *c, ctx *x);
static ms_status load_calcium(const ms_json *v, const char *path, ms_config *c, ctx *x);
static ms_status load_perfusion(const ms_json *v, const char *path, ms_config *c, ctx *x);

#define CFG(field) offsetof(ms_config, field)
#define HIST(field) offsetof(ms_config, histogram.field)

static const option medsight_options[] = {
	{ .name = "Enable", .type = OPT_BOOL, .def = 1, .offset = CFG(enable) },
	{ .name = "Database", .type = OPT_STRING, .def_str = "",
	  .allowed = "a file path, or \"\" for <IndexDirectory>/medsight.sqlite", .offset = CFG(database) },
	{ .name = "Device", .type = OPT_STRING, .def_str = "auto", .nonempty = true,
	  .allowed = "\"auto\", \"gpu\", \"cpu\" or part of a Vulkan device name", .offset = CFG(device) },
	{ .name = "Workers", .type = OPT_INT, .def = 1, .min = 1, .max = 16, .offset = CFG(workers) },
	{ .name = "MemoryBudgetMB", .type = OPT_INT, .def = 2048, .min = 64, .max = 1048576,
	  .offset = CFG(memory_budget_mb) },
	{ .name = "MaxAttempts", .type = OPT_INT, .def = 3, .min = 1, .max = 100, .offset = CFG(max_attempts) },
	{ .name = "StableTrigger", .type = OPT_BOOL, .def = 1, .offset = CFG(stable_trigger) },
	{ .name = "CompleteTrigger", .type = OPT_BOOL, .def = 1, .offset = CFG(complete_trigger) },
	{ .name = "PerfRetentionDays", .type = OPT_INT, .def = 30, .min = 1, .max = 3650,
	  .offset = CFG(perf_retention_days) },
	{ .name = "Rules", .type = OPT_SECTION, .section = load_rules },
	{ .name = "Forward", .type = OPT_SECTION, .section = load_forward },
	{ .name = "Histogram", .type = OPT_SECTION, .section = load_histogram },
	{ .name = "Calcium", .type = OPT_SECTION, .section = load_calcium },
	{ .name = "Perfusion", .type = OPT_SECTION, .section = load_perfusion },
	{ .name = "Segmentation", .type = OPT_SECTION, .section = load_analysis_params },
};

/* Min/Max are bounded only to keep (Max - Min) / BinWidth finite; any pixel unit fits. */
static const option histogram_options[] = {
	{ .name = "BinWidth", .type = OPT_NUMBER, .def = 10, .min = 0, .max = 1000, .min_exclusive = true,
	  .offset = HIST(bin_width) },
	{ .name = "Min", .type = OPT_NUMBER, .def = -1024, .min = -1e9, .max = 1e9, .offset = HIST(min) },
	{ .name = "Max", .type = OPT_NUMBER, .def = 3071, .min = -1e9, .max = 1e9, .offset = HIST(max) },
};

#define CAC(field) offsetof(ms_config, calcium.field)
static const char *const calcium_profiles[] = { "literature", "ge", "siemens", "philips", "canon", NULL };
static const char *const calcium_volume_methods[] = { "voxels", "isotropic", NULL };
static const char *const calcium_rois[] = { "heart", "none", NULL };

static const option calcium_options[] = {
	{ .name = "Profile", .type = OPT_CHOICE, .def = 0, .choices = calcium_profiles, .offset = CAC(profile) },
	{ .name = "ThresholdHU", .type = OPT_NUMBER, .def = 130, .min = 50, .max = 1000,
	  .offset = CAC(threshold_hu) },
	{ .name = "Connectivity", .type = OPT_INT, .def = 4, .min = 4, .max = 8, .offset = CAC(connectivity) },
	{ .name = "MinAreaMM2", .type = OPT_NUMBER, .def = -1, .min = -1, .max = 100, .offset = CAC(min_area_mm2) },
	{ .name = "MinPixels", .type = OPT_INT, .def = -1, .min = -1, .max = 100000, .offset = CAC(min_pixels) },
	{ .name = "KvpAdjust", .type = OPT_BOOL, .def = 0, .offset = CAC(kvp_adjust) },
	{ .name = "VolumeMethod", .type = OPT_CHOICE, .def = 0, .choices = calcium_volume_methods,
	  .offset = CAC(volume_method) },
	{ .name = "MassCalibration", .type = OPT_NUMBER, .def = 0, .min = 0, .max = 1,
	  .offset = CAC(mass_calibration) },
	{ .name = "MaxHU", .type = OPT_NUMBER, .def = 2000, .min = 0, .max = 100000, .offset = CAC(max_hu) },
	{ .name = "ROI", .type = OPT_CHOICE, .def = 0, .choices = calcium_rois, .offset = CAC(roi) },
};

#define FWD(field) offsetof(ms_forward_dest, field)
/* Url and Name are checked further in load_forward_dest; the secrets never appear in messages. */
static const option forward_options[] = {
	{ .name = "Url", .type = OPT_STRING, .nonempty = true,
	  .allowed = "the DICOMweb root, e.g. \"http://pacs:8042/dicom-web\"", .offset = FWD(url) },
	{ .name = "Name", .type = OPT_STRING, .nonempty = true, .allowed = "a short name for logs and REST",
	  .offset = FWD(name) },
	{ .name = "Username", .type = OPT_STRING, .nonempty = true, .allowed = "the HTTP basic user name",
	  .offset = FWD(username) },
	{ .name = "Password", .type = OPT_STRING, .nonempty = true, .secret = true,
	  .allowed = "the HTTP basic password", .offset = FWD(password) },
	{ .name = "BearerToken", .type = OPT_STRING, .nonempty = true, .secret = true,
	  .allowed = "an OAuth 2 bearer token", .offset = FWD(bearer_token) },
	{ .name = "VerifyPeer", .type = OPT_BOOL, .def = 1, .offset = FWD(verify_peer) },
	{ .name = "CACertificate", .type = OPT_STRING, .nonempty = true,
	  .allowed = "the path of a PEM file of trusted CA certificates", .offset = FWD(ca_certificate) },
	{ .name = "TimeoutSeconds", .type = OPT_INT, .def = 60, .min = 1, .max = 3600, .offset = FWD(timeout_s) },
	{ .name = "MaxAttempts", .type = OPT_INT, .def = 20, .min = 1, .max = 1000, .offset = FWD(max_attempts) },
};

#define PERF(field) offsetof(ms_config, perfusion.field)
static const char *const perfusion_methods[] = { "osvd", "ssvd", "csvd", NULL };

static const option perfusion_options[] = {
	{ .name = "Method", .type = OPT_CHOICE, .def = 0, .choices = perfusion_methods, .offset = PERF(method) },
	{ .name = "SVDThreshold", .type = OPT_NUMBER, .def = 0, .min = 0, .max = 0.99,
	  .offset = PERF(svd_threshold) },
	{ .name = "OscillationIndex", .type = OPT_NUMBER, .def = 0, .min = 0, .max = 1,
	  .offset = PERF(oscillation_index) },
	{ .name = "Rho", .type = OPT_NUMBER, .def = 1.04, .min = 0.5, .max = 2, .offset = PERF(rho) },
	{ .name = "KH", .type = OPT_NUMBER, .def = 0.73, .min = 0.1, .max = 2, .offset = PERF(k_h) },
	{ .name = "Relative", .type = OPT_BOOL, .def = 0, .offset = PERF(relative) },
	{ .name = "BaselineFrames", .type = OPT_INT, .def = 0, .min = 0, .max = 100,
	  .offset = PERF(baseline_frames) },
	{ .name = "AIFVoxels", .type = OPT_INT, .def = 5, .min = 1, .max = 6, .offset = PERF(aif_voxels) },
};

/* Orthanc's own top-level key that MedSight reads (never rejects other top-level keys). */
static const option orthanc_options[] = {
	{ .name = "StableAge", .type = OPT_INT, .def = 60, .min = 0, .max = INT_MAX, .offset = CFG(stable_age_s) },
};

#define MS_HISTOGRAM_MAX_BINS 65536

static const char *const analyses[] = { "histogram", "calcium", "perfusion", "segmentation" };
static const char *const priorities[] = { "LOW", "ROUTINE", "HIGH", "STAT" }; /* index = value */
static const char *const rule_keys[] = { "Analysis", "Priority", "Match" };
static const char *const match_keywords[] = {
	"Modality",     "SeriesDescription", "BodyPartExamined", "ProtocolName",    "Manufacturer",
	"StationName",  "SeriesNumber",      "StudyDescription", "InstitutionName",
};

/* ---- messages -------------------------------------------------------------------------- */

static ms_status fail(ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static ms_status fail(ctx *x, const char *fmt, ...)
{
	va_list ap;

	if (x->err && x->errlen) {
		va_start(ap, fmt);
		vsnprintf(x->err, x->errlen, fmt, ap);
		va_end(ap);
	}
	return MS_ERR_CONFIG;
}

/* A C string as describe() shows it: quoted, cut at 60 bytes (never inside a UTF-8
 * sequence), control characters replaced so that the log line stays one line. */
static const char *describe_text(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s), cut = n > 60 ? 60 : n;
	while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	snprintf(buf, size, "\"%.*s%s\"", (int)cut, s, cut < n ? "..." : "");
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
	return buf;
}

/* Writes a short rendering of a bad value into buf, without allocating (error paths must not
 * fail for want of memory): strings quoted and cut at 60 bytes, containers named. */
static const char *describe(const ms_json *v, char *buf, size_t size)
{
	switch (ms_json_type_of(v)) {
	case MS_JSON_NULL:
		return "null";
	case MS_JSON_BOOL:
		return ms_json_bool(v) ? "true" : "false";
	case MS_JSON_ARRAY:
		return "an array";
	case MS_JSON_OBJECT:
		return "an object";
	case MS_JSON_NUMBER: {
		double d = ms_json_number(v);
		if (d == floor(d) && fabs(d) < 1e15) {
			snprintf(buf, size, "%.0f", d);
			return buf;
		}
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, d);
			if (strtod(buf, NULL) == d)
				break;
		}
		return buf;
	}
	case MS_JSON_STRING:
		return describe_text(ms_json_string(v), buf, size);
	}
	return "?";
}

/* Name of a JSON type with its article, for "expected X, got Y". */
static const char *type_noun(ms_json_type t)
{
	static const char *const nouns[] = { "null", "a boolean", "a number", "a string", "an array", "an object" };
	return nouns[t];
}

/* Finds name in list (exactly); -1 if absent. */
static int find_name(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return (int)i;
	return -1;
}

/* names[0..n) joined by ", " (each in double quotes if quoted) into out, cut to size. A fixed
 * buffer, so an error message never depends on an allocation (fuzz_config found a list lost to an
 * injected allocation failure and reported as a configuration error). */
static void join_names(char *out, size_t size, const char *const *names, size_t n, bool quoted)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		int w = snprintf(out + used, size - used, quoted ? "%s\"%s\"" : "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* "unknown key" error with a case-insensitive suggestion, else the list of allowed names. */
static ms_status fail_unknown(ctx *x, const char *path, const char *key, const char *what,
			      const char *const *names, size_t n)
{
	char list[512];

	for (size_t i = 0; i < n; i++)
		if (strcasecmp(names[i], key) == 0)
			return fail(x, "%s.%.80s: unknown %s (did you mean %s?)", path, key, what, names[i]);
	join_names(list, sizeof(list), names, n, false);
	return fail(x, "%s.%.80s: unknown %s (allowed: %s)", path, key, what, list);
}

/* Checks that every member of obj is a name from names[] and that no name repeats (a repeated
 * name would silently hide the first value). Stops at the first problem, so the quadratic
 * duplicate scan never sees more than n + 1 members. */
static ms_status check_keys(const ms_json *obj, const char *path, const char *what,
			    const char *const *names, size_t n, ctx *x)
{
	for (size_t i = 0; i < ms_json_size(obj); i++) {
		const char *key = ms_json_key_at(obj, i);
		if (find_name(names, n, key) < 0)
			return fail_unknown(x, path, key, what, names, n);
		for (size_t k = 0; k < i; k++)
			if (strcmp(ms_json_key_at(obj, k), key) == 0)
				return fail(x, "%s.%s: key given more than once", path, key);
	}
	return MS_OK;
}

/* ---- table-driven scalars -------------------------------------------------------------- */

/* Stores option o's value v (NULL = absent: the default) into base. */
static ms_status apply_option(const option *o, const ms_json *v, const char *path, void *base,
			      ms_config *c, ctx *x)
{
	char *field = (char *)base + o->offset;
	char vbuf[96];

	switch (o->type) {
	case OPT_BOOL:
		if (v && ms_json_type_of(v) != MS_JSON_BOOL)
			return fail(x, "%s: expected true or false, got %s", path,
				    describe(v, vbuf, sizeof(vbuf)));
		*(bool *)field = v ? ms_json_bool(v) : o->def != 0;
		return MS_OK;
	case OPT_INT:
	case OPT_NUMBER: {
		const char *noun = o->type == OPT_INT ? "an integer" : "a number";
		double d = o->def;
		if (v) {
			if (!ms_json_is_number(v))
				return fail(x, "%s: expected %s %s %.17g and at most %.17g, got %s", path, noun,
					    o->min_exclusive ? "greater than" : "of at least", o->min, o->max,
					    describe(v, vbuf, sizeof(vbuf)));
			d = ms_json_number(v);
			describe(v, vbuf, sizeof(vbuf));
			if (o->type == OPT_INT && d != floor(d))
				return fail(x, "%s: %s is not an integer (allowed %.17g to %.17g)", path, vbuf,
					    o->min, o->max);
			if (o->min_exclusive && d <= o->min)
				return fail(x, "%s: %s must be greater than %.17g", path, vbuf, o->min);
			if (d < o->min)
				return fail(x, "%s: %s is below the minimum %.17g", path, vbuf, o->min);
			if (d > o->max)
				return fail(x, "%s: %s is above the maximum %.17g", path, vbuf, o->max);
		}
		if (o->type == OPT_INT)
			*(int *)field = (int)d;
		else
			*(double *)field = d;
		return MS_OK;
	}
	case OPT_STRING: {
		if (!v && !o->def_str)
			return MS_OK;
		const char *s = v ? ms_json_string(v) : o->def_str;
		if (!s)
			return fail(x, "%s: expected a string (%s), got %s", path, o->allowed,
				    o->secret ? type_noun(ms_json_type_of(v)) : describe(v, vbuf, sizeof(vbuf)));
		if (o->nonempty && !*s)
			return fail(x, "%s: \"\" is not allowed (use %s)", path, o->allowed);
		char *copy = ms_strdup(s);
		if (!copy)
			return MS_ERR_NOMEM;
		ms_free(*(char **)field);
		*(char **)field = copy;
		return MS_OK;
	}
	case OPT_CHOICE: {
		const char *s = v ? ms_json_string(v) : o->choices[(int)o->def];
		for (int i = 0; s && o->choices[i]; i++) {
			if (strcasecmp(s, o->choices[i]) == 0) {
				*(int *)field = i;
				return MS_OK;
			}
		}
		char list[160];
		size_t n_choices = 0;
		while (o->choices[n_choices])
			n_choices++;
		join_names(list, sizeof(list), o->choices, n_choices, true);
		return fail(x, "%s: %s is not one of %s", path, describe(v, vbuf, sizeof(vbuf)), list);
	}
	case OPT_SECTION:
		return o->section(v, path, c, x);
	}
	return MS_ERR_ARG;
}

/* Applies a whole table to the object obj (NULL = all defaults). */
static ms_status apply_table(const option *table, size_t n, const ms_json *obj, const char *path,
			     void *base, ms_config *c, ctx *x)
{
	for (size_t i = 0; i < n; i++) {
		char key[128];
		/* The full key path makes messages read "MedSight.Rules[0].Priority: ...". */
		snprintf(key, sizeof(key), "%s%s%s", path, *path ? "." : "", table[i].name);
		ms_status rc = apply_option(&table[i], ms_json_get(obj, table[i].name), key, base, c, x);
		if (rc != MS_OK)
			return rc;
	}
	return MS_OK;
}

/* Names of a table's rows, for check_keys (tables are small and fixed). */
static size_t table_names(const option *table, size_t n, const char **names)
{
	for (size_t i = 0; i < n; i++)
		names[i] = table[i].name;
	return n;
}

/* ---- sections -------------------------------------------------------------------------- */

static ms_status load_histogram(const ms_json *v, const char *path, ms_config *c, ctx *x)
{
	const char *names[ARRAY_LEN(histogram_options)];
	char vbuf[96];
	ms_status rc;

	if (v && ms_json_type_of(v) != MS_JSON_OBJECT)
		return fail(x, "%s: expected an object, got %s", path, describe(v, vbuf, sizeof(vbuf)));
	rc = check_keys(v, path, "key", names,
			table_names(histogram_options, ARRAY_LEN(histogram_options), names), x);
	if (rc == MS_OK)
		rc = apply_table(histogram_options, ARRAY_LEN(histogram_options), v, path, c, c, x);
	if (rc != MS_OK)
		return rc;
	if (c->histogram.max <= c->histogram.min)
		return fail(x, "%s.Max: %.17g must be greater than Min (%.17g)", path, c->histogram.max,
			    c->histogram.min);
	double bins = ceil((c->histogram.max - c->histogram.min) / c->histogram.bin_width);
	if (bins > MS_HISTOGRAM_MAX_BINS)
		return fail(x, "%s: (Max - Min) / BinWidth gives %.0f bins, above the maximum %d", path, bins,
			    MS_HISTOGRAM_MAX_BINS);
	return MS_OK;
}

static ms_status load_calcium(const ms_json *v, const char *path, ms_config *c, ctx *x)
{
	const char *names[ARRAY_LEN(calcium_options)];
	char vbuf[96];
	ms_status rc;

	if (v && ms_json_type_of(v) != MS_JSON_OBJECT)
		return fail(x, "%s: expected an object, got %s", path, describe(v, vbuf, sizeof(vbuf)));
	rc = check_keys(v, path, "key", names, table_names(calcium_options, ARRAY_LEN(calcium_options), names), x);
	if (rc == MS_OK)
		rc = apply_table(calcium_options, ARRAY_LEN(calcium_options), v, path, c, c, x);
	if (rc != MS_OK)
		return rc;
	if (c->calcium.connectivity != 4 && c->calcium.connectivity != 8)
		return fail(x, "%s.Connectivity: %d is not 4 or 8", path, c->calcium.connectivity);
	return MS_OK;
}

static ms_status load_perfusion(const ms_json *v, const char *path, ms_config *c, ctx *x)
{
	const char *names[ARRAY_LEN(perfusion_options)];
	char vbuf[96];
	ms_status rc;

	if (v && ms_json_type_of(v) != MS_JSON_OBJECT)
		return fail(x, "%s: expected an object, got %s", path, describe(v, vbuf, sizeof(vbuf)));
	rc = check_keys(v, path, "key", names,
			table_names(perfusion_options, ARRAY_LEN(perfusion_options), names), x);
	if (rc == MS_OK)
		rc = apply_table(perfusion_options, ARRAY_LEN(perfusion_options), v, path, c, c, x);
	return rc;
}

/* Segmentation: parameters come with that analysis; only the shape is
 * checked for now so that configurations written today keep loading. */
static ms_status load_analysis_params(const ms_json *v, const char *path, ms_config *c, ctx *x)
{
	char vbuf[96];

	(void)c;
	if (v && ms_json_type_of(v) != MS_JSON_OBJECT)
		return fail(x, "%s: expected an object, got %s", path, describe(v, vbuf, sizeof(vbuf)));
	return MS_OK;
}

/* Checks the Url of a destination (scheme, host, port; no credentials, query or fragment), drops
 * trailing slashes and, when Name is absent, names the destination after the host. The value is
 * not shown when it contains credentials, so that they do not reach the log. */
static ms_status check_url(ms_forward_dest *d, const char *path, ctx *x)
{
	char vbuf[96];
	char *u = d->url;
	const char *host;
	size_t host_len;

	for (const char *c = u; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return fail(x, "%s.Url: must not contain spaces or control characters", path);
	if (strncasecmp(u, "http://", 7) == 0)
		host = u + 7;
	else if (strncasecmp(u, "https://", 8) == 0)
		host = u + 8;
	else
		return fail(x, "%s.Url: %s must start with http:// or https://", path,
			    describe_text(u, vbuf, sizeof(vbuf)));
	size_t authority = strcspn(host, "/?#");
	if (memchr(host, '@', authority))
		return fail(x, "%s.Url: must not contain credentials (user@host); use Username and Password, or "
			       "BearerToken",
			    path);
	if (strpbrk(host, "?#"))
		return fail(x, "%s.Url: %s must not contain a query or fragment ('?', '#')", path,
			    describe_text(u, vbuf, sizeof(vbuf)));
	const char *port = NULL;
	if (host[0] == '[') { /* IPv6 literal */
		const char *end = memchr(host, ']', authority);
		if (!end || end == host + 1)
			return fail(x, "%s.Url: %s has an unterminated IPv6 address", path,
				    describe_text(u, vbuf, sizeof(vbuf)));
		host_len = (size_t)(end - host) + 1;
		if (host_len < authority && host[host_len] != ':')
			return fail(x, "%s.Url: %s has text after the IPv6 address", path,
				    describe_text(u, vbuf, sizeof(vbuf)));
	} else {
		host_len = strcspn(host, ":/");
		if (host_len > authority)
			host_len = authority;
	}
	if (host_len < authority)
		port = host + host_len + 1;
	if (!host_len)
		return fail(x, "%s.Url: %s has no host", path, describe_text(u, vbuf, sizeof(vbuf)));
	if (port) {
		size_t digits = (size_t)(host + authority - port);
		long value = 0;
		for (size_t i = 0; i < digits && value <= 65535; i++)
			value = port[i] >= '0' && port[i] <= '9' ? value * 10 + (port[i] - '0') : 65536;
		if (!digits || value < 1 || value > 65535)
			return fail(x, "%s.Url: %s has a bad port (allowed 1 to 65535)", path,
				    describe_text(u, vbuf, sizeof(vbuf)));
	}
	size_t n = strlen(u);
	while (n > (size_t)(host - u) + authority && u[n - 1] == '/')
		u[--n] = '\0'; /* "<Url>/studies" must not become "//studies" */
	if (!d->name) {
		d->name = ms_strndup(host, host_len);
		if (!d->name)
			return MS_ERR_NOMEM;
	}
	return MS_OK;
}

static ms_status load_forward_dest(const ms_json *v, const char *path, ms_forward_dest *d, ctx *x)
{
	const char *names[ARRAY_LEN(forward_options)];
	ms_status rc;

	rc = check_keys(v, path, "key", names, table_names(forward_options, ARRAY_LEN(forward_options), names), x);
	if (rc == MS_OK)
		rc = apply_table(forward_options, ARRAY_LEN(forward_options), v, path, d, NULL, x);
	if (rc != MS_OK)
		return rc;
	if (!d->url)
		return fail(x, "%s: missing required key Url (the DICOMweb root, e.g. \"http://pacs:8042/dicom-web\")",
			    path);
	rc = check_url(d, path, x);
	if (rc != MS_OK)
		return rc;
	if (!d->username != !d->password)
		return fail(x, "%s: Username and Password go together (HTTP basic authentication); %s is missing",
			    path, d->username ? "Password" : "Username");
	if (d->bearer_token && d->username)
		return fail(x, "%s: use either Username/Password or BearerToken, not both", path);
	if (d->ca_certificate && access(d->ca_certificate, R_OK) != 0) {
		char vbuf[96];
		return fail(x, "%s.CACertificate: cannot read %s: %s", path,
			    describe_text(d->ca_certificate, vbuf, sizeof(vbuf)), strerror(errno));
	}
	return MS_OK;
}

/* Forward: DICOMweb destinations (plugin/forward.c sends to them). Names key the outbox rows,
 * so they must be distinct. */
static ms_status load_forward(const ms_json *v, const char *path, ms_config *c, ctx *x)
{
	char vbuf[96];

	if (v && ms_json_type_of(v) != MS_JSON_ARRAY)
		return fail(x, "%s: expected an array of objects, got %s", path, describe(v, vbuf, sizeof(vbuf)));
	if (!ms_json_size(v))
		return MS_OK;
	c->forward = ms_calloc(ms_json_size(v), sizeof(*c->forward));
	if (!c->forward)
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < ms_json_size(v); i++) {
		const ms_json *item = ms_json_at(v, i);
		char dpath[96];
		snprintf(dpath, sizeof(dpath), "%s[%zu]", path, i);
		if (ms_json_type_of(item) != MS_JSON_OBJECT)
			return fail(x, "%s: expected an object (a DICOMweb server), got %s", dpath,
				    describe(item, vbuf, sizeof(vbuf)));
		c->n_forward++; /* zeroed by calloc: safe to free even if loading stops half way */
		ms_status rc = load_forward_dest(item, dpath, &c->forward[i], x);
		if (rc != MS_OK)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (strcmp(c->forward[k].name, c->forward[i].name) == 0)
				return fail(x, "%s.Name: %s is already the name of %s[%zu] (give each destination its "
					       "own Name)",
					    dpath, describe_text(c->forward[i].name, vbuf, sizeof(vbuf)), path, k);
	}
	return MS_OK;
}

static ms_status load_rule(const ms_json *v, const char *path, ms_rule *r, ctx *x)
{
	char vbuf[96];
	const ms_json *analysis, *priority, *match;
	ms_status rc;
	int k;

	if (ms_json_type_of(v) != MS_JSON_OBJECT)
		return fail(x, "%s: expected an object with Analysis, Priority and Match, got %s", path,
			    describe(v, vbuf, sizeof(vbuf)));
	rc = check_keys(v, path, "key", rule_keys, ARRAY_LEN(rule_keys), x);
	if (rc != MS_OK)
		return rc;

	analysis = ms_json_get(v, "Analysis");
	if (!analysis)
		return fail(x, "%s: missing required key Analysis (histogram, calcium, perfusion or segmentation)",
			    path);
	k = ms_json_string(analysis) ? find_name(analyses, ARRAY_LEN(analyses), ms_json_string(analysis)) : -1;
	if (k < 0)
		return fail(x, "%s.Analysis: %s is not one of histogram, calcium, perfusion, segmentation", path,
			    describe(analysis, vbuf, sizeof(vbuf)));
	r->analysis = ms_strdup(analyses[k]);
	if (!r->analysis)
		return MS_ERR_NOMEM;

	priority = ms_json_get(v, "Priority");
	r->priority = MS_PRIORITY_ROUTINE;
	if (priority) {
		r->priority = ms_config_priority_parse(ms_json_string(priority));
		if (r->priority < 0)
			return fail(x, "%s.Priority: %s is not one of STAT, HIGH, ROUTINE, LOW", path,
				    describe(priority, vbuf, sizeof(vbuf)));
	}

	match = ms_json_get(v, "Match");
	if (match && ms_json_type_of(match) != MS_JSON_OBJECT)
		return fail(x, "%s.Match: expected an object of {DICOM keyword: glob}, got %s", path,
			    describe(match, vbuf, sizeof(vbuf)));
	char mpath[160];
	snprintf(mpath, sizeof(mpath), "%s.Match", path);
	rc = check_keys(match, mpath, "DICOM keyword", match_keywords, ARRAY_LEN(match_keywords), x);
	if (rc != MS_OK)
		return rc;
	if (ms_json_size(match)) {
		r->match = ms_calloc(ms_json_size(match), sizeof(*r->match));
		if (!r->match)
			return MS_ERR_NOMEM;
	}
	for (size_t i = 0; i < ms_json_size(match); i++) {
		const char *kw = ms_json_key_at(match, i);
		const char *glob = ms_json_string(ms_json_at(match, i));
		if (!glob)
			return fail(x, "%s.%s: expected a glob string (e.g. \"CT\" or \"*calcium*\"), got %s",
				    mpath, kw, describe(ms_json_at(match, i), vbuf, sizeof(vbuf)));
		/* n_match counts complete entries only, so ms_config_free handles a partial rule. */
		r->match[i].keyword = ms_strdup(kw);
		r->match[i].glob = ms_strdup(glob);
		r->n_match++;
		if (!r->match[i].keyword || !r->match[i].glob)
			return MS_ERR_NOMEM;
	}
	return MS_OK;
}

static ms_status load_rules(const ms_json *v, const char *path, ms_config *c, ctx *x)
{
	char vbuf[96];

	if (v && ms_json_type_of(v) != MS_JSON_ARRAY)
		return fail(x, "%s: expected an array of rules, got %s", path, describe(v, vbuf, sizeof(vbuf)));
	if (!ms_json_size(v))
		return MS_OK;
	c->rules = ms_calloc(ms_json_size(v), sizeof(*c->rules));
	if (!c->rules)
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < ms_json_size(v); i++) {
		char rpath[96];
		snprintf(rpath, sizeof(rpath), "%s[%zu]", path, i);
		c->n_rules++; /* zeroed by calloc: safe to free even if load_rule stops half way */
		ms_status rc = load_rule(ms_json_at(v, i), rpath, &c->rules[i], x);
		if (rc != MS_OK)
			return rc;
	}
	return MS_OK;
}

/* ---- top level ------------------------------------------------------------------------- */

/* Reads a top-level Orthanc path setting (not ours: only its type is checked). */
static ms_status orthanc_string(const ms_json *doc, const char *key, const char *def, const char **out,
				ctx *x)
{
	const ms_json *v = ms_json_get(doc, key);
	char vbuf[96];

	*out = def;
	if (!v)
		return MS_OK;
	if (!ms_json_string(v))
		return fail(x, "%s: expected a string, got %s", key, describe(v, vbuf, sizeof(vbuf)));
	*out = ms_json_string(v);
	return MS_OK;
}

static ms_status resolve_database(const ms_json *doc, ms_config *c, ctx *x)
{
	const char *storage, *index;
	ms_strbuf b = { 0 };
	ms_status rc;

	if (*c->database)
		return MS_OK;
	/* Orthanc's own rule: IndexDirectory defaults to StorageDirectory, itself "OrthancStorage". */
	rc = orthanc_string(doc, "StorageDirectory", "OrthancStorage", &storage, x);
	if (rc == MS_OK)
		rc = orthanc_string(doc, "IndexDirectory", storage, &index, x);
	if (rc != MS_OK)
		return rc;
	ms_strbuf_append(&b, index);
	if (*index && index[strlen(index) - 1] != '/')
		ms_strbuf_append(&b, "/");
	ms_strbuf_append(&b, "medsight.sqlite");
	char *path = ms_strbuf_take(&b);
	if (!path)
		return MS_ERR_NOMEM;
	ms_free(c->database);
	c->database = path;
	return MS_OK;
}

/* "AUTO" and "Gpu" mean the keywords, not device names containing them. */
static void normalize_device(ms_config *c)
{
	static const char *const keywords[] = { "auto", "gpu", "cpu" };
	for (size_t i = 0; i < ARRAY_LEN(keywords); i++)
		if (strcasecmp(c->device, keywords[i]) == 0)
			memcpy(c->device, keywords[i], strlen(keywords[i]));
}

static void log_applied(const ms_config *c)
{
	ms_strbuf b = { 0 };

	ms_strbuf_appendf(&b, "configuration: Enable=%s Database=%s Device=%s Workers=%d MemoryBudgetMB=%d "
			      "MaxAttempts=%d StableTrigger=%s CompleteTrigger=%s PerfRetentionDays=%d StableAge=%d "
			      "Histogram={BinWidth=%g Min=%g Max=%g} Calcium={Profile=%s ThresholdHU=%g "
			      "Connectivity=%d MinAreaMM2=%g MinPixels=%d KvpAdjust=%s VolumeMethod=%s "
			      "MassCalibration=%g MaxHU=%g ROI=%s} Perfusion={Method=%s SVDThreshold=%g "
			      "OscillationIndex=%g Rho=%g KH=%g Relative=%s BaselineFrames=%d AIFVoxels=%d} Rules=%zu",
			  c->enable ? "true" : "false", c->database, c->device, c->workers, c->memory_budget_mb,
			  c->max_attempts, c->stable_trigger ? "true" : "false",
			  c->complete_trigger ? "true" : "false", c->perf_retention_days,
			  c->stable_age_s, c->histogram.bin_width, c->histogram.min, c->histogram.max,
			  calcium_profiles[c->calcium.profile], c->calcium.threshold_hu, c->calcium.connectivity,
			  c->calcium.min_area_mm2, c->calcium.min_pixels, c->calcium.kvp_adjust ? "true" : "false",
			  calcium_volume_methods[c->calcium.volume_method], c->calcium.mass_calibration,
			  c->calcium.max_hu, calcium_rois[c->calcium.roi], perfusion_methods[c->perfusion.method],
			  c->perfusion.svd_threshold, c->perfusion.oscillation_index, c->perfusion.rho, c->perfusion.k_h,
			  c->perfusion.relative ? "true" : "false", c->perfusion.baseline_frames,
			  c->perfusion.aif_voxels, c->n_rules);
	ms_strbuf_appendf(&b, " Forward=%zu", c->n_forward);
	if (!b.failed)
		ms_log_info("%s", b.data);
	ms_strbuf_free(&b);
	for (size_t i = 0; i < c->n_rules; i++) {
		const ms_rule *r = &c->rules[i];
		ms_strbuf_appendf(&b, "rule %zu: %s %s when", i, r->analysis, ms_config_priority_name(r->priority));
		for (size_t m = 0; m < r->n_match; m++)
			ms_strbuf_appendf(&b, "%s %s matches \"%s\"", m ? " and" : "", r->match[m].keyword,
					  r->match[m].glob);
		if (!r->n_match)
			ms_strbuf_append(&b, " any series");
		if (!b.failed)
			ms_log_info("%s", b.data);
		ms_strbuf_free(&b);
	}
	for (size_t i = 0; i < c->n_forward; i++) {
		const ms_forward_dest *d = &c->forward[i];
		/* Secrets are only said to be set. */
		ms_strbuf_appendf(&b, "forward destination %zu: Name=%s Url=%s%s%s VerifyPeer=%s CACertificate=%s "
				      "TimeoutSeconds=%d MaxAttempts=%d",
				  i, d->name, d->url, d->username ? " Username=*** Password=***" : "",
				  d->bearer_token ? " BearerToken=***" : "", d->verify_peer ? "true" : "false",
				  d->ca_certificate ? d->ca_certificate : "(system)", d->timeout_s, d->max_attempts);
		if (!b.failed)
			ms_log_info("%s", b.data);
		ms_strbuf_free(&b);
	}
}

ms_status ms_config_load(const char *orthanc_json, ms_config *out, char *err, size_t errlen)
{
	ctx x = { .err = err, .errlen = errlen };
	const char *names[ARRAY_LEN(medsight_options)];
	ms_json *doc = NULL;
	const ms_json *section;
	char perr[160], vbuf[96];
	ms_status rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return MS_ERR_ARG;
	memset(out, 0, sizeof(*out));
	if (!orthanc_json)
		return MS_ERR_ARG;

	rc = ms_json_parse(orthanc_json, strlen(orthanc_json), &doc, perr, sizeof(perr));
	if (rc == MS_ERR_ARG)
		rc = fail(&x, "Orthanc configuration is not valid JSON: %s", perr);
	if (rc != MS_OK)
		goto out_fail;
	if (ms_json_type_of(doc) != MS_JSON_OBJECT) {
		rc = fail(&x, "Orthanc configuration: expected an object, got %s",
			  type_noun(ms_json_type_of(doc)));
		goto out_fail;
	}
	rc = apply_table(orthanc_options, ARRAY_LEN(orthanc_options), doc, "", out, out, &x);
	if (rc != MS_OK)
		goto out_fail;

	section = ms_json_get(doc, "MedSight");
	if (section && ms_json_type_of(section) != MS_JSON_OBJECT) {
		rc = fail(&x, "MedSight: expected an object, got %s", describe(section, vbuf, sizeof(vbuf)));
		goto out_fail;
	}
	rc = check_keys(section, "MedSight", "key", names,
			table_names(medsight_options, ARRAY_LEN(medsight_options), names), &x);
	if (rc == MS_OK)
		rc = apply_table(medsight_options, ARRAY_LEN(medsight_options), section, "MedSight", out, out, &x);
	if (rc == MS_OK)
		rc = resolve_database(doc, out, &x);
	if (rc != MS_OK)
		goto out_fail;
	normalize_device(out);
	ms_json_destroy(doc);
	log_applied(out);
	return MS_OK;

out_fail:
	if (rc == MS_ERR_NOMEM && err && errlen)
		snprintf(err, errlen, "out of memory while loading the configuration");
	ms_log_error("%s", rc == MS_ERR_NOMEM ? "out of memory while loading the configuration"
					      : (err && errlen ? err : "invalid configuration"));
	ms_json_destroy(doc);
	ms_config_free(out);
	return rc;
}

void ms_config_free(ms_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_rules; i++) {
		for (size_t m = 0; m < c->rules[i].n_match; m++) {
			ms_free(c->rules[i].match[m].keyword);
			ms_free(c->rules[i].match[m].glob);
		}
		ms_free(c->rules[i].match);
		ms_free(c->rules[i].analysis);
	}
	ms_free(c->rules);
	for (size_t i = 0; i < c->n_forward; i++) {
		ms_forward_dest *d = &c->forward[i];
		ms_free(d->name);
		ms_free(d->url);
		ms_free(d->username);
		ms_free(d->password);
		ms_free(d->bearer_token);
		ms_free(d->ca_certificate);
	}
	ms_free(c->forward);
	ms_free(c->database);
	ms_free(c->device);
	memset(c, 0, sizeof(*c));
}

/* ---- helpers --------------------------------------------------------------------------- */

const char *ms_config_priority_name(int prio)
{
	if (prio < 0 || (size_t)prio >= ARRAY_LEN(priorities))
		return NULL;
	return priorities[prio];
}

int ms_config_priority_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(priorities); i++)
		if (strcasecmp(name, priorities[i]) == 0)
			return (int)i;
	return -1;
}

int ms_config_requested_priority(const char *dicom_value)
{
	char v[16];
	size_t n = 0;

	if (!dicom_value)
		return -1;
	while (*dicom_value == ' ')
		dicom_value++;
	n = strlen(dicom_value);
	while (n > 0 && dicom_value[n - 1] == ' ')
		n--;
	if (n == 0 || n >= sizeof(v))
		return -1;
	memcpy(v, dicom_value, n);
	v[n] = '\0';
	if (strcasecmp(v, "MEDIUM") == 0)
		return MS_PRIORITY_ROUTINE;
	return ms_config_priority_parse(v);
}

const ms_forward_dest *ms_config_forward_find(const ms_config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_forward; i++)
		if (strcmp(c->forward[i].name, name) == 0)
			return &c->forward[i];
	return NULL;
}

bool ms_config_analysis_known(const char *name)
{
	return name && find_name(analyses, ARRAY_LEN(analyses), name) >= 0;
}

bool ms_config_rule_matches(const ms_rule *r, const char *(*lookup)(void *ctx, const char *keyword),
			    void *ctx)
{
	if (!r)
		return false;
	for (size_t i = 0; i < r->n_match; i++) {
		const char *value = lookup ? lookup(ctx, r->match[i].keyword) : NULL;
		if (!value) {
			if (strcmp(r->match[i].glob, "*") != 0)
				return false;
			continue;
		}
		if (fnmatch(r->match[i].glob, value, FNM_CASEFOLD) != 0)
			return false;
	}
	return true;
}
