/* ms_config: defaults, every key's edges, wrong types, unknown keys, rules, the sample
 * config/orthanc.json, logging and allocation failure. */
#include "common/alloc.h"
#include "common/log.h"
#include "config/config.h"
#include "tests/testhelp.h"

#include <stdlib.h>
#include <string.h>

/* ---- log capture ----------------------------------------------------------------------- */

static char last_info[4096], last_error[1024], all_info[8192];
static int n_info, n_error;
static bool capture_all; /* append every info line to all_info */

static void capture(ms_log_level level, const char *message)
{
	if (level == MS_LOG_ERROR) {
		snprintf(last_error, sizeof(last_error), "%s", message);
		n_error++;
	} else if (level == MS_LOG_INFO) {
		if (capture_all) {
			size_t used = strlen(all_info);
			snprintf(all_info + used, sizeof(all_info) - used, "%s\n", message);
		}
		/* keep the first info line of a load: the summary */
		if (!strstr(message, "rule ") && !strstr(message, "forward destination "))
			snprintf(last_info, sizeof(last_info), "%s", message);
		n_info++;
	}
}

/* ---- helpers --------------------------------------------------------------------------- */

/* Loads {"MedSight": section} (section NULL: {}). */
static ms_status load_section(const char *section, ms_config *c, char *err, size_t errlen)
{
	char doc[4096];
	if (section)
		snprintf(doc, sizeof(doc), "{\"Name\":\"x\",\"MedSight\":%s}", section);
	else
		snprintf(doc, sizeof(doc), "{}");
	return ms_config_load(doc, c, err, errlen);
}

static bool is_zeroed(const ms_config *c)
{
	static const ms_config zero;
	return memcmp(c, &zero, sizeof(zero)) == 0;
}

/* Expects the whole document doc to fail with MS_ERR_CONFIG and exactly message want (or, if
 * want ends in '*', a message starting with it). */
static void expect_doc_error(const char *doc, const char *want)
{
	ms_config c;
	char err[512] = "untouched";
	int errors_before = n_error;
	ms_status rc = ms_config_load(doc, &c, err, sizeof(err));
	size_t wl = strlen(want);
	bool prefix = wl && want[wl - 1] == '*';

	CHECK_EQ_INT(rc, MS_ERR_CONFIG);
	CHECK(is_zeroed(&c));
	CHECK_EQ_INT(n_error, errors_before + 1); /* logged once, with the same text */
	CHECK_STR(last_error, strncmp(last_error, "MedSight: ", 10) == 0 ? last_error : "(prefix)");
	CHECK_STR(last_error + 10, err);
	if (prefix ? strncmp(err, want, wl - 1) != 0 : strcmp(err, want) != 0) {
		ms_test_failed++;
		fprintf(stderr, "doc %s\n  error: %s\n  want:  %s\n", doc, err, want);
	} else {
		ms_test_passed++;
	}
	ms_config_free(&c);
}

static void expect_error(const char *section, const char *want)
{
	char doc[4096];
	snprintf(doc, sizeof(doc), "{\"MedSight\":%s}", section);
	expect_doc_error(doc, want);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_defaults(void)
{
	ms_config c;
	char err[256];
	const char *docs[] = { "{}", "{\"MedSight\":{}}", " {\"Other\":[1,2,{\"x\":null}]} " };

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		n_info = 0;
		CHECK_EQ_INT(ms_config_load(docs[i], &c, err, sizeof(err)), MS_OK);
		CHECK_STR(err, "");
		CHECK(c.enable);
		CHECK_STR(c.database, "OrthancStorage/medsight.sqlite");
		CHECK_STR(c.device, "auto");
		CHECK_EQ_INT(c.workers, 1);
		CHECK_EQ_INT(c.memory_budget_mb, 2048);
		CHECK_EQ_INT(c.max_attempts, 3);
		CHECK(c.stable_trigger);
		CHECK(c.complete_trigger);
		CHECK_EQ_INT(c.perf_retention_days, 30);
		CHECK_EQ_INT(c.stable_age_s, 60);
		CHECK_EQ_INT(c.n_rules, 0);
		CHECK(c.rules == NULL);
		CHECK_NEAR(c.histogram.bin_width, 10, 0);
		CHECK_NEAR(c.histogram.min, -1024, 0);
		CHECK_NEAR(c.histogram.max, 3071, 0);
		CHECK_EQ_INT(n_info, 1);
		CHECK(strstr(last_info, "MemoryBudgetMB=2048") != NULL);
		CHECK(strstr(last_info, "Database=OrthancStorage/medsight.sqlite") != NULL);
		ms_config_free(&c);
		CHECK(is_zeroed(&c));
		ms_config_free(&c); /* twice is harmless */
	}
	ms_config_free(NULL);
}

static void test_database_path(void)
{
	static const struct {
		const char *doc, *want;
	} cases[] = {
		{ "{\"IndexDirectory\":\"/var/idx\"}", "/var/idx/medsight.sqlite" },
		{ "{\"IndexDirectory\":\"/var/idx/\"}", "/var/idx/medsight.sqlite" },
		{ "{\"StorageDirectory\":\"/srv/st\"}", "/srv/st/medsight.sqlite" },
		{ "{\"StorageDirectory\":\"/srv/st\",\"IndexDirectory\":\"/srv/ix\"}", "/srv/ix/medsight.sqlite" },
		{ "{\"IndexDirectory\":\"\"}", "medsight.sqlite" },
		{ "{\"IndexDirectory\":\"/i\",\"MedSight\":{\"Database\":\"/data/ms.db\"}}", "/data/ms.db" },
		{ "{\"IndexDirectory\":\"/i\",\"MedSight\":{\"Database\":\"\"}}", "/i/medsight.sqlite" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms_config c;
		CHECK_EQ_INT(ms_config_load(cases[i].doc, &c, NULL, 0), MS_OK);
		CHECK_STR(c.database, cases[i].want);
		ms_config_free(&c);
	}
	expect_doc_error("{\"IndexDirectory\":5}", "IndexDirectory: expected a string, got 5");
	expect_doc_error("{\"StorageDirectory\":[]}", "StorageDirectory: expected a string, got an array");
	/* Orthanc's paths are only looked at when Database is left empty */
	ms_config c;
	CHECK_EQ_INT(ms_config_load("{\"IndexDirectory\":5,\"MedSight\":{\"Database\":\"/d\"}}", &c, NULL, 0), MS_OK);
	ms_config_free(&c);
}

static void test_int_edges(void)
{
	static const struct {
		const char *key;
		long min, max;
		size_t offset;
	} keys[] = {
		{ "Workers", 1, 16, offsetof(ms_config, workers) },
		{ "MemoryBudgetMB", 64, 1048576, offsetof(ms_config, memory_budget_mb) },
		{ "MaxAttempts", 1, 100, offsetof(ms_config, max_attempts) },
		{ "PerfRetentionDays", 1, 3650, offsetof(ms_config, perf_retention_days) },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char section[128], want[256];
		ms_config c;
		long good[] = { keys[i].min, keys[i].max, (keys[i].min + keys[i].max) / 2 };

		for (size_t g = 0; g < 3; g++) {
			snprintf(section, sizeof(section), "{\"%s\":%ld}", keys[i].key, good[g]);
			CHECK_EQ_INT(load_section(section, &c, NULL, 0), MS_OK);
			CHECK_EQ_INT(*(int *)((char *)&c + keys[i].offset), good[g]);
			ms_config_free(&c);
		}
		/* also written as a float with an exponent, as some generators do */
		snprintf(section, sizeof(section), "{\"%s\":%ld.0e0}", keys[i].key, keys[i].max);
		CHECK_EQ_INT(load_section(section, &c, NULL, 0), MS_OK);
		CHECK_EQ_INT(*(int *)((char *)&c + keys[i].offset), keys[i].max);
		ms_config_free(&c);

		snprintf(section, sizeof(section), "{\"%s\":%ld}", keys[i].key, keys[i].min - 1);
		snprintf(want, sizeof(want), "MedSight.%s: %ld is below the minimum %ld", keys[i].key,
			 keys[i].min - 1, keys[i].min);
		expect_error(section, want);
		snprintf(section, sizeof(section), "{\"%s\":%ld}", keys[i].key, keys[i].max + 1);
		snprintf(want, sizeof(want), "MedSight.%s: %ld is above the maximum %ld", keys[i].key,
			 keys[i].max + 1, keys[i].max);
		expect_error(section, want);
		snprintf(section, sizeof(section), "{\"%s\":%ld.5}", keys[i].key, keys[i].min);
		snprintf(want, sizeof(want), "MedSight.%s: %ld.5 is not an integer (allowed %ld to %ld)",
			 keys[i].key, keys[i].min, keys[i].min, keys[i].max);
		expect_error(section, want);
		snprintf(section, sizeof(section), "{\"%s\":\"%ld\"}", keys[i].key, keys[i].min);
		snprintf(want, sizeof(want), "MedSight.%s: expected an integer of at least %ld and at most %ld, got \"%ld\"",
			 keys[i].key, keys[i].min, keys[i].max, keys[i].min);
		expect_error(section, want);
		snprintf(section, sizeof(section), "{\"%s\":null}", keys[i].key);
		snprintf(want, sizeof(want), "MedSight.%s: expected an integer*", keys[i].key);
		expect_error(section, want);
		snprintf(section, sizeof(section), "{\"%s\":1e300}", keys[i].key);
		snprintf(want, sizeof(want), "MedSight.%s: 1e+300 is above the maximum %ld", keys[i].key, keys[i].max);
		expect_error(section, want);
	}
	expect_error("{\"MemoryBudgetMB\":10}", "MedSight.MemoryBudgetMB: 10 is below the minimum 64");
	expect_error("{\"Workers\":-1}", "MedSight.Workers: -1 is below the minimum 1");
}

static void test_bools_and_strings(void)
{
	ms_config c;

	CHECK_EQ_INT(load_section("{\"Enable\":false,\"StableTrigger\":false,\"CompleteTrigger\":false}", &c, NULL, 0),
		     MS_OK);
	CHECK(!c.enable && !c.stable_trigger && !c.complete_trigger);
	ms_config_free(&c);
	expect_error("{\"Enable\":\"yes\"}", "MedSight.Enable: expected true or false, got \"yes\"");
	expect_error("{\"Enable\":1}", "MedSight.Enable: expected true or false, got 1");
	expect_error("{\"StableTrigger\":null}", "MedSight.StableTrigger: expected true or false, got null");

	static const struct {
		const char *given, *stored;
	} devices[] = { { "auto", "auto" }, { "GPU", "gpu" }, { "Cpu", "cpu" }, { "NVIDIA H100", "NVIDIA H100" },
			{ "llvmpipe", "llvmpipe" } };
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		char section[128];
		snprintf(section, sizeof(section), "{\"Device\":\"%s\"}", devices[i].given);
		CHECK_EQ_INT(load_section(section, &c, NULL, 0), MS_OK);
		CHECK_STR(c.device, devices[i].stored);
		ms_config_free(&c);
	}
	expect_error("{\"Device\":\"\"}",
		     "MedSight.Device: \"\" is not allowed (use \"auto\", \"gpu\", \"cpu\" or part of a Vulkan device name)");
	expect_error("{\"Device\":0}", "MedSight.Device: expected a string (\"auto\", \"gpu\", \"cpu\" or part of a "
				       "Vulkan device name), got 0");
	expect_error("{\"Database\":false}", "MedSight.Database: expected a string*");
	/* long values are cut in messages */
	expect_error("{\"Enable\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
		     "MedSight.Enable: expected true or false, got "
		     "\"012345678901234567890123456789012345678901234567890123456789...\"");
}

static void test_unknown_and_shape(void)
{
	expect_error("{\"MemoryBudgetMb\":100}", "MedSight.MemoryBudgetMb: unknown key (did you mean MemoryBudgetMB?)");
	expect_error("{\"rules\":[]}", "MedSight.rules: unknown key (did you mean Rules?)");
	expect_error("{\"Gpu\":true}",
		     "MedSight.Gpu: unknown key (allowed: Enable, Database, Device, Workers, MemoryBudgetMB, "
		     "MaxAttempts, StableTrigger, CompleteTrigger, PerfRetentionDays, Rules, Forward, Histogram, Calcium, Perfusion, "
		     "Segmentation)");
	expect_error("{\"Workers\":2,\"Workers\":3}", "MedSight.Workers: key given more than once");
	expect_error("[]", "MedSight: expected an object, got an array");
	expect_error("null", "MedSight: expected an object, got null");
	expect_error("\"on\"", "MedSight: expected an object, got \"on\"");
	expect_doc_error("[1]", "Orthanc configuration: expected an object, got an array");
	expect_doc_error("{\"MedSight\":{}", "Orthanc configuration is not valid JSON: line 1 column 15: unexpected end of input");
	expect_doc_error("", "Orthanc configuration is not valid JSON: line 1 column 1: unexpected end of input");
	expect_doc_error("{\"StableAge\":\"10\"}", "StableAge: expected an integer of at least 0 and at most 2147483647, got \"10\"");
	expect_doc_error("{\"StableAge\":-1}", "StableAge: -1 is below the minimum 0");

	ms_config c;
	CHECK_EQ_INT(ms_config_load("{\"StableAge\":0}", &c, NULL, 0), MS_OK);
	CHECK_EQ_INT(c.stable_age_s, 0);
	ms_config_free(&c);
	/* unknown keys outside MedSight belong to Orthanc and other plugins */
	CHECK_EQ_INT(ms_config_load("{\"Whatever\":1,\"medsight\":2}", &c, NULL, 0), MS_OK);
	ms_config_free(&c);

	/* Bad arguments, NULL err and tiny err buffers. */
	c.workers = 7;
	CHECK_EQ_INT(ms_config_load(NULL, &c, NULL, 0), MS_ERR_ARG);
	CHECK(is_zeroed(&c));
	CHECK_EQ_INT(ms_config_load("{}", NULL, NULL, 0), MS_ERR_ARG);
	char tiny[8];
	CHECK_EQ_INT(load_section("{\"Workers\":0}", &c, tiny, sizeof(tiny)), MS_ERR_CONFIG);
	CHECK_STR(tiny, "MedSigh");
	CHECK_EQ_INT(load_section("{\"Workers\":0}", &c, NULL, 0), MS_ERR_CONFIG);
	CHECK_STR(last_error, "MedSight: invalid configuration");
}

static void test_sections(void)
{
	ms_config c;

	CHECK_EQ_INT(load_section("{\"Histogram\":{\"BinWidth\":0.5,\"Min\":-100,\"Max\":100}}", &c, NULL, 0), MS_OK);
	CHECK_NEAR(c.histogram.bin_width, 0.5, 0);
	CHECK_NEAR(c.histogram.min, -100, 0);
	CHECK_NEAR(c.histogram.max, 100, 0);
	ms_config_free(&c);
	/* exactly 65536 bins, and the widest bin */
	CHECK_EQ_INT(load_section("{\"Histogram\":{\"BinWidth\":1,\"Min\":0,\"Max\":65536}}", &c, NULL, 0), MS_OK);
	ms_config_free(&c);
	CHECK_EQ_INT(load_section("{\"Histogram\":{\"BinWidth\":1000}}", &c, NULL, 0), MS_OK);
	CHECK_NEAR(c.histogram.bin_width, 1000, 0);
	CHECK_NEAR(c.histogram.min, -1024, 0); /* the others keep their defaults */
	ms_config_free(&c);

	expect_error("{\"Histogram\":{\"BinWidth\":0}}", "MedSight.Histogram.BinWidth: 0 must be greater than 0");
	expect_error("{\"Histogram\":{\"BinWidth\":-2}}", "MedSight.Histogram.BinWidth: -2 must be greater than 0");
	expect_error("{\"Histogram\":{\"BinWidth\":1000.5}}", "MedSight.Histogram.BinWidth: 1000.5 is above the maximum 1000");
	expect_error("{\"Histogram\":{\"BinWidth\":\"10\"}}",
		     "MedSight.Histogram.BinWidth: expected a number greater than 0 and at most 1000, got \"10\"");
	expect_error("{\"Histogram\":{\"Min\":100,\"Max\":100}}", "MedSight.Histogram.Max: 100 must be greater than Min (100)");
	expect_error("{\"Histogram\":{\"Max\":-2000}}", "MedSight.Histogram.Max: -2000 must be greater than Min (-1024)");
	expect_error("{\"Histogram\":{\"BinWidth\":1,\"Min\":0,\"Max\":65537}}",
		     "MedSight.Histogram: (Max - Min) / BinWidth gives 65537 bins, above the maximum 65536");
	expect_error("{\"Histogram\":{\"Min\":-1e10}}", "MedSight.Histogram.Min: -10000000000 is below the minimum -1000000000");
	expect_error("{\"Histogram\":{\"binwidth\":1}}", "MedSight.Histogram.binwidth: unknown key (did you mean BinWidth?)");
	expect_error("{\"Histogram\":[]}", "MedSight.Histogram: expected an object, got an array");

	const char *analyses[] = { "Calcium", "Perfusion", "Segmentation" };
	for (size_t i = 0; i < 3; i++) {
		char section[128], want[128];
		snprintf(section, sizeof(section), "{\"%s\":{\"Anything\":[1,{\"x\":true}]}}", analyses[i]);
		/* Calcium's and Perfusion's keys are defined; Segmentation accepts anything (no keys yet). */
		CHECK_EQ_INT(load_section(section, &c, NULL, 0), i < 2 ? MS_ERR_CONFIG : MS_OK);
		ms_config_free(&c);
		snprintf(section, sizeof(section), "{\"%s\":true}", analyses[i]);
		snprintf(want, sizeof(want), "MedSight.%s: expected an object, got true", analyses[i]);
		expect_error(section, want);
	}

	CHECK_EQ_INT(load_section("{\"Forward\":[]}", &c, NULL, 0), MS_OK);
	CHECK_EQ_INT(c.n_forward, 0);
	CHECK(c.forward == NULL);
	ms_config_free(&c);
	expect_error("{\"Forward\":{}}", "MedSight.Forward: expected an array of objects, got an object");
	expect_error("{\"Forward\":[{\"Url\":\"http://x\"},\"http://x\"]}",
		     "MedSight.Forward[1]: expected an object (a DICOMweb server), got \"http://x\"");
}

static void test_forward(void)
{
	ms_config c;
	char err[512];

	/* Defaults; Name from the host; trailing slashes dropped. */
	CHECK_EQ_INT(load_section("{\"Forward\":[{\"Url\":\"http://pacs.example:8042/dicom-web//\"},"
				  "{\"Url\":\"HTTPS://[::1]/\",\"Name\":\"local\",\"VerifyPeer\":false,"
				  "\"TimeoutSeconds\":1,\"MaxAttempts\":1000,\"BearerToken\":\"tok\"},"
				  "{\"Url\":\"http://10.0.0.1\",\"Username\":\"u\",\"Password\":\"p\","
				  "\"TimeoutSeconds\":3600,\"MaxAttempts\":1}]}",
				  &c, err, sizeof(err)),
		     MS_OK);
	CHECK_EQ_INT(c.n_forward, 3);
	if (c.n_forward == 3) {
		const ms_forward_dest *d = &c.forward[0];
		CHECK_STR(d->name, "pacs.example");
		CHECK_STR(d->url, "http://pacs.example:8042/dicom-web");
		CHECK(d->username == NULL && d->password == NULL && d->bearer_token == NULL);
		CHECK(d->ca_certificate == NULL);
		CHECK(d->verify_peer);
		CHECK_EQ_INT(d->timeout_s, 60);
		CHECK_EQ_INT(d->max_attempts, 20);
		d = &c.forward[1];
		CHECK_STR(d->name, "local");
		CHECK_STR(d->url, "HTTPS://[::1]");
		CHECK(!d->verify_peer);
		CHECK_STR(d->bearer_token, "tok");
		CHECK_EQ_INT(d->timeout_s, 1);
		CHECK_EQ_INT(d->max_attempts, 1000);
		d = &c.forward[2];
		CHECK_STR(d->name, "10.0.0.1");
		CHECK_STR(d->url, "http://10.0.0.1");
		CHECK_STR(d->username, "u");
		CHECK_STR(d->password, "p");
		CHECK_EQ_INT(d->max_attempts, 1);
		CHECK(ms_config_forward_find(&c, "local") == &c.forward[1]);
		CHECK(ms_config_forward_find(&c, "LOCAL") == NULL);
		CHECK(ms_config_forward_find(&c, NULL) == NULL);
	}
	ms_config_free(&c);
	CHECK(ms_config_forward_find(NULL, "x") == NULL);

	/* Secrets are never logged, neither when applied nor in an error. */
	n_info = 0;
	capture_all = true;
	all_info[0] = '\0';
	CHECK_EQ_INT(load_section("{\"Forward\":[{\"Url\":\"https://h/dw\",\"Username\":\"alice\","
				  "\"Password\":\"s3cret-pw\"},{\"Url\":\"https://g\",\"BearerToken\":\"t0ken-xyz\","
				  "\"CACertificate\":\"/dev/null\"}]}",
				  &c, err, sizeof(err)),
		     MS_OK);
	capture_all = false;
	CHECK_STR(c.forward[1].ca_certificate, "/dev/null");
	CHECK(strstr(all_info, "Forward=2") != NULL);
	CHECK(strstr(all_info, "forward destination 0: Name=h Url=https://h/dw Username=*** Password=*** "
			       "VerifyPeer=true CACertificate=(system) TimeoutSeconds=60 MaxAttempts=20") != NULL);
	CHECK(strstr(all_info, "forward destination 1: Name=g Url=https://g BearerToken=*** VerifyPeer=true "
			       "CACertificate=/dev/null") != NULL);
	CHECK(strstr(all_info, "s3cret") == NULL && strstr(all_info, "t0ken") == NULL &&
	      strstr(all_info, "alice") == NULL);
	ms_config_free(&c);
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"Username\":\"u\",\"Password\":12345}]}",
		     "MedSight.Forward[0].Password: expected a string (the HTTP basic password), got a number");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"BearerToken\":[\"x\"]}]}",
		     "MedSight.Forward[0].BearerToken: expected a string (an OAuth 2 bearer token), got an array");
	expect_error("{\"Forward\":[{\"Url\":\"http://u:pw@h/dicom-web\"}]}",
		     "MedSight.Forward[0].Url: must not contain credentials (user@host); use Username and "
		     "Password, or BearerToken");

	/* Every key's checks. */
	expect_error("{\"Forward\":[{}]}",
		     "MedSight.Forward[0]: missing required key Url (the DICOMweb root, e.g. "
		     "\"http://pacs:8042/dicom-web\")");
	expect_error("{\"Forward\":[{\"Url\":\"\"}]}",
		     "MedSight.Forward[0].Url: \"\" is not allowed (use the DICOMweb root, e.g. "
		     "\"http://pacs:8042/dicom-web\")");
	expect_error("{\"Forward\":[{\"Url\":7}]}", "MedSight.Forward[0].Url: expected a string (*");
	expect_error("{\"Forward\":[{\"Url\":\"ftp://h/x\"}]}",
		     "MedSight.Forward[0].Url: \"ftp://h/x\" must start with http:// or https://");
	expect_error("{\"Forward\":[{\"Url\":\"pacs:8042/dicom-web\"}]}",
		     "MedSight.Forward[0].Url: \"pacs:8042/dicom-web\" must start with http:// or https://");
	expect_error("{\"Forward\":[{\"Url\":\"http:///dicom-web\"}]}",
		     "MedSight.Forward[0].Url: \"http:///dicom-web\" has no host");
	expect_error("{\"Forward\":[{\"Url\":\"http://:80\"}]}", "MedSight.Forward[0].Url: \"http://:80\" has no host");
	expect_error("{\"Forward\":[{\"Url\":\"http://h:0/x\"}]}",
		     "MedSight.Forward[0].Url: \"http://h:0/x\" has a bad port (allowed 1 to 65535)");
	expect_error("{\"Forward\":[{\"Url\":\"http://h:65536\"}]}", "MedSight.Forward[0].Url: \"http://h:65536\" has a bad port*");
	expect_error("{\"Forward\":[{\"Url\":\"http://h:/x\"}]}", "MedSight.Forward[0].Url: \"http://h:/x\" has a bad port*");
	expect_error("{\"Forward\":[{\"Url\":\"http://h:8x\"}]}", "MedSight.Forward[0].Url: \"http://h:8x\" has a bad port*");
	expect_error("{\"Forward\":[{\"Url\":\"http://[::1\"}]}",
		     "MedSight.Forward[0].Url: \"http://[::1\" has an unterminated IPv6 address");
	expect_error("{\"Forward\":[{\"Url\":\"http://[::1]x\"}]}",
		     "MedSight.Forward[0].Url: \"http://[::1]x\" has text after the IPv6 address");
	expect_error("{\"Forward\":[{\"Url\":\"http://h/dw?x=1\"}]}",
		     "MedSight.Forward[0].Url: \"http://h/dw?x=1\" must not contain a query or fragment ('?', '#')");
	expect_error("{\"Forward\":[{\"Url\":\"http://h/d w\"}]}",
		     "MedSight.Forward[0].Url: must not contain spaces or control characters");
	CHECK_EQ_INT(load_section("{\"Forward\":[{\"Url\":\"http://[::1]:8042/dicom-web\"}]}", &c, NULL, 0), MS_OK);
	CHECK_STR(c.forward[0].name, "[::1]");
	ms_config_free(&c);
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"Username\":\"u\"}]}",
		     "MedSight.Forward[0]: Username and Password go together (HTTP basic authentication); Password "
		     "is missing");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"Password\":\"p\"}]}",
		     "MedSight.Forward[0]: Username and Password go together (HTTP basic authentication); Username "
		     "is missing");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"Username\":\"u\",\"Password\":\"p\",\"BearerToken\":\"t\"}]}",
		     "MedSight.Forward[0]: use either Username/Password or BearerToken, not both");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"Password\":\"\"}]}",
		     "MedSight.Forward[0].Password: \"\" is not allowed (use the HTTP basic password)");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"VerifyPeer\":\"no\"}]}",
		     "MedSight.Forward[0].VerifyPeer: expected true or false, got \"no\"");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"TimeoutSeconds\":0}]}",
		     "MedSight.Forward[0].TimeoutSeconds: 0 is below the minimum 1");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"TimeoutSeconds\":3601}]}",
		     "MedSight.Forward[0].TimeoutSeconds: 3601 is above the maximum 3600");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"MaxAttempts\":0}]}",
		     "MedSight.Forward[0].MaxAttempts: 0 is below the minimum 1");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"MaxAttempts\":1001}]}",
		     "MedSight.Forward[0].MaxAttempts: 1001 is above the maximum 1000");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"MaxAttempts\":2.5}]}",
		     "MedSight.Forward[0].MaxAttempts: 2.5 is not an integer*");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"Name\":\"\"}]}",
		     "MedSight.Forward[0].Name: \"\" is not allowed (use a short name for logs and REST)");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"CACertificate\":\"/nonexistent/ca.pem\"}]}",
		     "MedSight.Forward[0].CACertificate: cannot read \"/nonexistent/ca.pem\": No such file or directory");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"url\":\"http://g\"}]}",
		     "MedSight.Forward[0].url: unknown key (did you mean Url?)");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"Port\":1}]}",
		     "MedSight.Forward[0].Port: unknown key (allowed: Url, Name, Username, Password, BearerToken, "
		     "VerifyPeer, CACertificate, TimeoutSeconds, MaxAttempts)");
	expect_error("{\"Forward\":[{\"Url\":\"http://h\",\"Url\":\"http://g\"}]}",
		     "MedSight.Forward[0].Url: key given more than once");
	/* Names key the outbox: two destinations may not share one, even a default one. */
	expect_error("{\"Forward\":[{\"Url\":\"http://h:1\"},{\"Url\":\"http://h:2\"}]}",
		     "MedSight.Forward[1].Name: \"h\" is already the name of MedSight.Forward[0] (give each "
		     "destination its own Name)");
	CHECK_EQ_INT(load_section("{\"Forward\":[{\"Url\":\"http://h:1\"},{\"Url\":\"http://h:2\",\"Name\":\"h2\"}]}",
				  &c, NULL, 0),
		     MS_OK);
	ms_config_free(&c);

	/* Allocation failure anywhere: MS_ERR_NOMEM with nothing owned, or a full success. */
	const char *doc = "{\"MedSight\":{\"Forward\":[{\"Url\":\"https://h/dw/\",\"Username\":\"u\","
			  "\"Password\":\"p\"},{\"Url\":\"http://g\",\"Name\":\"n\",\"BearerToken\":\"t\"}]}}";
	long n;
	for (n = 1; n < 10000; n++) {
		ms_alloc_fail_at(n, 0);
		ms_status rc = ms_config_load(doc, &c, err, sizeof(err));
		long failures = ms_alloc_fail_at(0, 0);
		if (rc == MS_OK) {
			CHECK_EQ_INT(c.n_forward, 2);
			CHECK_STR(c.forward[0].url, "https://h/dw");
			ms_config_free(&c);
			if (!failures)
				break;
			continue;
		}
		if (rc != MS_ERR_NOMEM || !is_zeroed(&c))
			CHECK(!"allocation failure not reported as MS_ERR_NOMEM");
	}
	CHECK(n > 10 && n < 10000);
}

static void test_calcium(void)
{
	ms_config c;

	CHECK_EQ_INT(load_section("{}", &c, NULL, 0), MS_OK);
	CHECK_EQ_INT(c.calcium.profile, MS_CALCIUM_PROFILE_LITERATURE);
	CHECK_NEAR(c.calcium.threshold_hu, 130, 0);
	CHECK_EQ_INT(c.calcium.connectivity, 4);
	CHECK_NEAR(c.calcium.min_area_mm2, -1, 0);
	CHECK_EQ_INT(c.calcium.min_pixels, -1);
	CHECK_EQ_INT(c.calcium.volume_method, 0);
	CHECK_NEAR(c.calcium.mass_calibration, 0, 0);
	CHECK_NEAR(c.calcium.max_hu, 2000, 0);
	CHECK_EQ_INT(c.calcium.roi, MS_CALCIUM_ROI_HEART);
	ms_config_free(&c);

	CHECK_EQ_INT(load_section("{\"Calcium\":{\"Profile\":\"Canon\",\"Connectivity\":8,\"VolumeMethod\":"
				  "\"isotropic\",\"ROI\":\"none\",\"MassCalibration\":0.001,\"MinAreaMM2\":0.5}}",
				  &c, NULL, 0),
		     MS_OK);
	CHECK_EQ_INT(c.calcium.profile, MS_CALCIUM_PROFILE_CANON);
	CHECK_EQ_INT(c.calcium.connectivity, 8);
	CHECK_EQ_INT(c.calcium.volume_method, 1);
	CHECK_EQ_INT(c.calcium.roi, MS_CALCIUM_ROI_NONE);
	CHECK_NEAR(c.calcium.mass_calibration, 0.001, 0);
	CHECK_NEAR(c.calcium.min_area_mm2, 0.5, 0);
	ms_config_free(&c);

	expect_error("{\"Calcium\":{\"Connectivity\":6}}", "MedSight.Calcium.Connectivity: 6 is not 4 or 8");
	expect_error("{\"Calcium\":{\"Profile\":\"toshiba\"}}",
		     "MedSight.Calcium.Profile: \"toshiba\" is not one of \"literature\", \"ge\", \"siemens\", "
		     "\"philips\", \"canon\"");
	expect_error("{\"Calcium\":{\"ROI\":1}}", "MedSight.Calcium.ROI: 1 is not one of \"heart\", \"none\"");
	expect_error("{\"Calcium\":{\"ThresholdHU\":20}}", "MedSight.Calcium.ThresholdHU: 20 is below the minimum 50");
	expect_error("{\"Calcium\":{\"Treshold\":130}}", "MedSight.Calcium.Treshold: unknown key (allowed: Profile, ThresholdHU, "
		     "Connectivity, MinAreaMM2, MinPixels, KvpAdjust, VolumeMethod, MassCalibration, MaxHU, ROI)");
}

static void test_perfusion(void)
{
	ms_config c;

	CHECK_EQ_INT(load_section("{}", &c, NULL, 0), MS_OK);
	CHECK_EQ_INT(c.perfusion.method, 0);
	CHECK_NEAR(c.perfusion.rho, 1.04, 0);
	CHECK_NEAR(c.perfusion.k_h, 0.73, 0);
	CHECK_EQ_INT(c.perfusion.aif_voxels, 5);
	CHECK_EQ_INT(c.perfusion.baseline_frames, 0);
	ms_config_free(&c);
	CHECK_EQ_INT(load_section("{\"Perfusion\":{\"Method\":\"cSVD\",\"SVDThreshold\":0.15,\"Relative\":true}}", &c,
				  NULL, 0),
		     MS_OK);
	CHECK_EQ_INT(c.perfusion.method, 2);
	CHECK_NEAR(c.perfusion.svd_threshold, 0.15, 0);
	CHECK(c.perfusion.relative);
	ms_config_free(&c);
	expect_error("{\"Perfusion\":{\"Method\":\"tikhonov\"}}",
		     "MedSight.Perfusion.Method: \"tikhonov\" is not one of \"osvd\", \"ssvd\", \"csvd\"");
	expect_error("{\"Perfusion\":{\"AIFVoxels\":7}}", "MedSight.Perfusion.AIFVoxels: 7 is above the maximum 6");
}

static void test_rules(void)
{
	ms_config c;

	CHECK_EQ_INT(load_section("{\"Rules\":[{\"Analysis\":\"perfusion\",\"Priority\":\"stat\",\"Match\":"
				  "{\"Modality\":\"CT\",\"ProtocolName\":\"*PERF*\",\"SeriesNumber\":\"[0-9]*\"}},"
				  "{\"Analysis\":\"segmentation\"},{\"Analysis\":\"histogram\",\"Match\":{}}]}",
				  &c, NULL, 0),
		     MS_OK);
	CHECK_EQ_INT(c.n_rules, 3);
	CHECK_STR(c.rules[0].analysis, "perfusion");
	CHECK_EQ_INT(c.rules[0].priority, MS_PRIORITY_STAT);
	CHECK_EQ_INT(c.rules[0].n_match, 3);
	CHECK_STR(c.rules[0].match[1].keyword, "ProtocolName");
	CHECK_STR(c.rules[0].match[1].glob, "*PERF*");
	CHECK_STR(c.rules[0].match[2].keyword, "SeriesNumber");
	CHECK_STR(c.rules[1].analysis, "segmentation");
	CHECK_EQ_INT(c.rules[1].priority, MS_PRIORITY_ROUTINE); /* default */
	CHECK_EQ_INT(c.rules[1].n_match, 0);
	CHECK(c.rules[1].match == NULL);
	CHECK_EQ_INT(c.rules[2].n_match, 0);
	ms_config_free(&c);

	const char *keywords[] = { "Modality", "SeriesDescription", "BodyPartExamined", "ProtocolName", "Manufacturer",
				   "StationName", "SeriesNumber", "StudyDescription", "InstitutionName" };
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		char section[256];
		snprintf(section, sizeof(section), "{\"Rules\":[{\"Analysis\":\"calcium\",\"Match\":{\"%s\":\"x\"}}]}",
			 keywords[i]);
		CHECK_EQ_INT(load_section(section, &c, NULL, 0), MS_OK);
		CHECK_STR(c.rules[0].match[0].keyword, keywords[i]);
		ms_config_free(&c);
	}

	expect_error("{\"Rules\":{}}", "MedSight.Rules: expected an array of rules, got an object");
	expect_error("{\"Rules\":[\"calcium\"]}",
		     "MedSight.Rules[0]: expected an object with Analysis, Priority and Match, got \"calcium\"");
	expect_error("{\"Rules\":[{\"Analysis\":\"calcium\"},{\"Priority\":\"LOW\"}]}",
		     "MedSight.Rules[1]: missing required key Analysis (histogram, calcium, perfusion or segmentation)");
	expect_error("{\"Rules\":[{\"Analysis\":\"Calcium\"}]}",
		     "MedSight.Rules[0].Analysis: \"Calcium\" is not one of histogram, calcium, perfusion, segmentation");
	expect_error("{\"Rules\":[{\"Analysis\":3}]}",
		     "MedSight.Rules[0].Analysis: 3 is not one of histogram, calcium, perfusion, segmentation");
	expect_error("{\"Rules\":[{\"Analysis\":\"calcium\",\"Priority\":\"URGENT\"}]}",
		     "MedSight.Rules[0].Priority: \"URGENT\" is not one of STAT, HIGH, ROUTINE, LOW");
	expect_error("{\"Rules\":[{\"Analysis\":\"calcium\",\"Priority\":3}]}",
		     "MedSight.Rules[0].Priority: 3 is not one of STAT, HIGH, ROUTINE, LOW");
	expect_error("{\"Rules\":[{\"Analysis\":\"calcium\",\"Match\":\"CT\"}]}",
		     "MedSight.Rules[0].Match: expected an object of {DICOM keyword: glob}, got \"CT\"");
	expect_error("{\"Rules\":[{\"Analysis\":\"calcium\",\"Match\":{\"modality\":\"CT\"}}]}",
		     "MedSight.Rules[0].Match.modality: unknown DICOM keyword (did you mean Modality?)");
	expect_error("{\"Rules\":[{\"Analysis\":\"calcium\",\"Match\":{\"PatientName\":\"*\"}}]}",
		     "MedSight.Rules[0].Match.PatientName: unknown DICOM keyword (allowed: Modality, "
		     "SeriesDescription, BodyPartExamined, ProtocolName, Manufacturer, StationName, SeriesNumber, "
		     "StudyDescription, InstitutionName)");
	expect_error("{\"Rules\":[{\"Analysis\":\"calcium\",\"Match\":{\"SeriesNumber\":3}}]}",
		     "MedSight.Rules[0].Match.SeriesNumber: expected a glob string (e.g. \"CT\" or \"*calcium*\"), got 3");
	expect_error("{\"Rules\":[{\"Analysis\":\"calcium\",\"Match\":{\"Modality\":\"CT\",\"Modality\":\"MR\"}}]}",
		     "MedSight.Rules[0].Match.Modality: key given more than once");
	expect_error("{\"Rules\":[{\"Analysis\":\"calcium\",\"Prio\":\"LOW\"}]}",
		     "MedSight.Rules[0].Prio: unknown key (allowed: Analysis, Priority, Match)");
	expect_error("{\"Rules\":[{\"analysis\":\"calcium\"}]}",
		     "MedSight.Rules[0].analysis: unknown key (did you mean Analysis?)");
}

static const char *tags_lookup(void *ctx, const char *keyword)
{
	const char *const *tags = ctx;
	for (size_t i = 0; tags[i]; i += 2)
		if (strcmp(tags[i], keyword) == 0)
			return tags[i + 1];
	return NULL;
}

static void test_helpers(void)
{
	CHECK_STR(ms_config_priority_name(MS_PRIORITY_STAT), "STAT");
	CHECK_STR(ms_config_priority_name(MS_PRIORITY_HIGH), "HIGH");
	CHECK_STR(ms_config_priority_name(MS_PRIORITY_ROUTINE), "ROUTINE");
	CHECK_STR(ms_config_priority_name(MS_PRIORITY_LOW), "LOW");
	CHECK(ms_config_priority_name(4) == NULL);
	CHECK(ms_config_priority_name(-1) == NULL);
	CHECK_EQ_INT(ms_config_priority_parse("STAT"), 3);
	CHECK_EQ_INT(ms_config_priority_parse("high"), 2);
	CHECK_EQ_INT(ms_config_priority_parse("Routine"), 1);
	CHECK_EQ_INT(ms_config_priority_parse("low"), 0);
	CHECK_EQ_INT(ms_config_priority_parse("LOWEST"), -1);
	CHECK_EQ_INT(ms_config_priority_parse(""), -1);
	CHECK_EQ_INT(ms_config_priority_parse(NULL), -1);
	for (int p = 0; p < 4; p++)
		CHECK_EQ_INT(ms_config_priority_parse(ms_config_priority_name(p)), p);

	/* DICOM RequestedProcedurePriority: its defined terms, padded, any case; MEDIUM is ROUTINE. */
	CHECK_EQ_INT(ms_config_requested_priority("STAT"), MS_PRIORITY_STAT);
	CHECK_EQ_INT(ms_config_requested_priority("HIGH"), MS_PRIORITY_HIGH);
	CHECK_EQ_INT(ms_config_requested_priority("ROUTINE "), MS_PRIORITY_ROUTINE);
	CHECK_EQ_INT(ms_config_requested_priority(" medium"), MS_PRIORITY_ROUTINE);
	CHECK_EQ_INT(ms_config_requested_priority("LOW"), MS_PRIORITY_LOW);
	CHECK_EQ_INT(ms_config_requested_priority("URGENT"), -1);
	CHECK_EQ_INT(ms_config_requested_priority("   "), -1);
	CHECK_EQ_INT(ms_config_requested_priority("STATSTATSTATSTATSTAT"), -1);
	CHECK_EQ_INT(ms_config_requested_priority(NULL), -1);

	CHECK(ms_config_analysis_known("histogram"));
	CHECK(ms_config_analysis_known("calcium"));
	CHECK(ms_config_analysis_known("perfusion"));
	CHECK(ms_config_analysis_known("segmentation"));
	CHECK(!ms_config_analysis_known("Calcium"));
	CHECK(!ms_config_analysis_known("calc"));
	CHECK(!ms_config_analysis_known(NULL));

	ms_config c;
	CHECK_EQ_INT(load_section("{\"Rules\":[{\"Analysis\":\"calcium\",\"Match\":{\"Modality\":\"CT\","
				  "\"SeriesDescription\":\"*calcium*\"}},{\"Analysis\":\"histogram\",\"Match\":"
				  "{\"Modality\":\"CT\",\"BodyPartExamined\":\"*\"}},{\"Analysis\":\"histogram\"}]}",
				  &c, NULL, 0),
		     MS_OK);
	const char *ct_calcium[] = { "Modality", "ct", "SeriesDescription", "Cardiac CALCIUM score 3.0", NULL };
	const char *ct_other[] = { "Modality", "CT", "SeriesDescription", "Chest 1.0", "BodyPartExamined", "CHEST", NULL };
	const char *ct_nodesc[] = { "Modality", "CT", NULL };
	const char *mr[] = { "Modality", "MR", "SeriesDescription", "calcium", NULL };
	const char *ctx_long[] = { "Modality", "CTX", NULL };
	CHECK(ms_config_rule_matches(&c.rules[0], tags_lookup, (void *)ct_calcium));
	CHECK(!ms_config_rule_matches(&c.rules[0], tags_lookup, (void *)ct_other));
	CHECK(!ms_config_rule_matches(&c.rules[0], tags_lookup, (void *)ct_nodesc)); /* missing tag */
	CHECK(!ms_config_rule_matches(&c.rules[0], tags_lookup, (void *)mr));
	CHECK(ms_config_rule_matches(&c.rules[1], tags_lookup, (void *)ct_other));
	CHECK(ms_config_rule_matches(&c.rules[1], tags_lookup, (void *)ct_nodesc)); /* "*" accepts missing */
	CHECK(!ms_config_rule_matches(&c.rules[1], tags_lookup, (void *)ctx_long)); /* whole-value match */
	CHECK(!ms_config_rule_matches(&c.rules[1], NULL, NULL));
	CHECK(ms_config_rule_matches(&c.rules[2], tags_lookup, (void *)mr)); /* no Match: everything */
	CHECK(ms_config_rule_matches(&c.rules[2], NULL, NULL));
	CHECK(!ms_config_rule_matches(NULL, tags_lookup, (void *)mr));
	ms_config_free(&c);
}

/* Reads config/orthanc.json from the source tree; NULL if it cannot. */
static char *read_sample(void)
{
	const char *dir = getenv("MS_SOURCE_DIR");
	char path[1024];
	char *text = NULL;
	long size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/config/orthanc.json", dir ? dir : ".");
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s (set MS_SOURCE_DIR)\n", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		text = malloc((size_t)size + 1);
		if (text && fread(text, 1, (size_t)size, f) == (size_t)size) {
			text[size] = '\0';
		} else {
			free(text);
			text = NULL;
		}
	}
	fclose(f);
	return text;
}

static void test_sample_file(void)
{
	char *text = read_sample();
	ms_config c;
	char err[512];

	CHECK(text != NULL);
	if (!text)
		return;
	n_info = 0;
	CHECK_EQ_INT(ms_config_load(text, &c, err, sizeof(err)), MS_OK);
	CHECK_STR(err, "");
	CHECK(c.enable);
	CHECK_STR(c.database, "/var/lib/medsight/db/medsight.sqlite");
	CHECK_STR(c.device, "auto");
	CHECK_EQ_INT(c.workers, 1);
	CHECK_EQ_INT(c.memory_budget_mb, 2048);
	CHECK_EQ_INT(c.max_attempts, 3);
	CHECK(c.stable_trigger);
	CHECK(c.complete_trigger);
	CHECK_EQ_INT(c.perf_retention_days, 30);
	CHECK_EQ_INT(c.stable_age_s, 10);
	CHECK_EQ_INT(c.n_rules, 3);
	if (c.n_rules == 3) {
		CHECK_STR(c.rules[0].analysis, "calcium");
		CHECK_EQ_INT(c.rules[0].priority, MS_PRIORITY_ROUTINE);
		CHECK_EQ_INT(c.rules[0].n_match, 2);
		CHECK_STR(c.rules[0].match[0].keyword, "Modality");
		CHECK_STR(c.rules[0].match[0].glob, "CT");
		CHECK_STR(c.rules[0].match[1].keyword, "SeriesDescription");
		CHECK_STR(c.rules[0].match[1].glob, "*calcium*");
		CHECK_STR(c.rules[1].analysis, "segmentation");
		CHECK_EQ_INT(c.rules[1].priority, MS_PRIORITY_LOW);
		CHECK_EQ_INT(c.rules[1].n_match, 2);
		CHECK_STR(c.rules[2].analysis, "histogram");
		CHECK_EQ_INT(c.rules[2].priority, MS_PRIORITY_LOW);
		CHECK_EQ_INT(c.rules[2].n_match, 1);
	}
	CHECK_EQ_INT(c.calcium.roi, MS_CALCIUM_ROI_HEART);
	CHECK_NEAR(c.calcium.max_hu, 2000, 0);
	CHECK_NEAR(c.histogram.bin_width, 10, 0);
	CHECK_NEAR(c.histogram.min, -1024, 0);
	CHECK_NEAR(c.histogram.max, 3071, 0);
	CHECK_EQ_INT(n_info, 4); /* the summary and one line per rule */
	CHECK(strstr(last_info, "StableAge=10") != NULL);
	ms_config_free(&c);

	/* Allocation failure at every step: MS_ERR_NOMEM with *out zeroed, or a full success. Leaks
	 * show under -DMS_SANITIZE=ON. */
	for (int sticky = 0; sticky <= 1; sticky++) {
		long n;
		for (n = 1; n < 100000; n++) {
			ms_alloc_fail_at(n, sticky);
			ms_status rc = ms_config_load(text, &c, err, sizeof(err));
			long failures = ms_alloc_fail_at(0, 0);
			if (!failures) {
				CHECK_EQ_INT(rc, MS_OK);
				CHECK_EQ_INT(c.n_rules, 3);
				ms_config_free(&c);
				break;
			}
			/* logging itself may be what failed; then the load still succeeds, complete */
			if (rc == MS_OK) {
				CHECK_EQ_INT(c.n_rules, 3);
				CHECK_STR(c.database, "/var/lib/medsight/db/medsight.sqlite");
				ms_config_free(&c);
				continue;
			}
			if (rc != MS_ERR_NOMEM || !is_zeroed(&c) ||
			    strcmp(err, "out of memory while loading the configuration") != 0) {
				CHECK(!"allocation failure not reported as MS_ERR_NOMEM");
				fprintf(stderr, "  n=%ld sticky=%d rc=%d err=%s\n", n, sticky, rc, err);
			}
		}
		CHECK(n > 50 && n < 100000);
	}

	/* Random edits of the sample: whatever happens, the contract holds. */
	const char alphabet[] = "{}[]\":,0123456789-.eE \"aZ*";
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	int ok = 0, bad = 0;
	srand(7);
	for (int iter = 0; iter < 3000; iter++) {
		memcpy(buf, text, len + 1);
		for (int e = 0; e < 1 + rand() % 3; e++)
			buf[rand() % len] = alphabet[rand() % (sizeof(alphabet) - 1)];
		ms_status rc = ms_config_load(buf, &c, err, sizeof(err));
		if (rc == MS_OK && c.database && c.device)
			ok++;
		else if (rc == MS_ERR_CONFIG && is_zeroed(&c) && err[0])
			bad++;
		ms_config_free(&c);
	}
	free(buf);
	CHECK_EQ_INT(ok + bad, 3000);
	CHECK(ok > 100 && bad > 100);
	free(text);
}

int main(void)
{
	ms_log_set_sink(capture);
	test_defaults();
	test_database_path();
	test_int_edges();
	test_bools_and_strings();
	test_unknown_and_shape();
	test_sections();
	test_forward();
	test_calcium();
	test_perfusion();
	test_rules();
	test_helpers();
	test_sample_file();
	ms_log_set_sink(NULL);
	return TEST_REPORT();
}
