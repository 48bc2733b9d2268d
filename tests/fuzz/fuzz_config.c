/* libFuzzer target: ms_config_load on arbitrary JSON text (the input, NUL-terminated; an
 * embedded NUL ends the text as it would in the plugin).
 *
 * Invariants: the result is MS_OK, MS_ERR_CONFIG or MS_ERR_NOMEM; on failure *out is all zero
 * and the message NUL-terminated; on success every value is in its documented range
 * (config.h), every rule names a known analysis and priority, each forward destination is
 * found by its name, and ms_config_rule_matches/ms_config_free run clean. A second load makes
 * allocation number 1..64 (from the input's hash) fail: it must answer MS_ERR_NOMEM with *out
 * zeroed and leak nothing, or the first result when the failure was never reached or only cost
 * a log line. */
#include <stdbool.h>

#include "common/alloc.h"
#include "config/config.h"
#include "tests/fuzz/fuzz.h"

static const char *lookup(void *ctx, const char *keyword)
{
	(void)ctx;
	return keyword[0] == 'M' ? "CT" : keyword[0] == 'S' ? NULL : "Calcium score";
}

static bool is_zero(const ms_config *c)
{
	static const ms_config zero;
	return memcmp(c, &zero, sizeof(zero)) == 0;
}

static void check_ok(const ms_config *c)
{
	FUZZ_ASSERT(c->database && c->database[0] && c->device && c->device[0]);
	FUZZ_ASSERT(c->workers >= 1 && c->workers <= 16);
	FUZZ_ASSERT(c->memory_budget_mb >= 64 && c->memory_budget_mb <= 1048576);
	FUZZ_ASSERT(c->max_attempts >= 1 && c->max_attempts <= 100);
	FUZZ_ASSERT(c->perf_retention_days >= 1 && c->perf_retention_days <= 3650);
	FUZZ_ASSERT((c->n_rules == 0) == (c->rules == NULL));
	for (size_t i = 0; i < c->n_rules; i++) {
		const ms_rule *r = &c->rules[i];
		FUZZ_ASSERT(r->analysis && ms_config_analysis_known(r->analysis));
		FUZZ_ASSERT(ms_config_priority_name(r->priority) != NULL);
		FUZZ_ASSERT(r->n_match == 0 || r->match != NULL);
		for (size_t m = 0; m < r->n_match; m++)
			FUZZ_ASSERT(r->match[m].keyword && r->match[m].glob);
		(void)ms_config_rule_matches(r, lookup, NULL);
		(void)ms_config_rule_matches(r, NULL, NULL);
	}
	for (size_t i = 0; i < c->n_forward; i++) {
		const ms_forward_dest *d = &c->forward[i];
		FUZZ_ASSERT(d->name && d->url);
		FUZZ_ASSERT(ms_config_forward_find(c, d->name) == d); /* names are unique */
		FUZZ_ASSERT(d->timeout_s >= 1 && d->timeout_s <= 3600);
		FUZZ_ASSERT(d->max_attempts >= 1 && d->max_attempts <= 1000);
		FUZZ_ASSERT(!(d->bearer_token && d->username));
		FUZZ_ASSERT((d->username == NULL) == (d->password == NULL));
	}
	FUZZ_ASSERT(c->histogram.bin_width > 0 && c->histogram.bin_width <= 1000);
	FUZZ_ASSERT(c->histogram.min < c->histogram.max);
	FUZZ_ASSERT((c->histogram.max - c->histogram.min) / c->histogram.bin_width <= 65536);
	FUZZ_ASSERT(c->calcium.connectivity == 4 || c->calcium.connectivity == 8);
	FUZZ_ASSERT(c->calcium.threshold_hu >= 50 && c->calcium.threshold_hu <= 1000);
	FUZZ_ASSERT(c->perfusion.aif_voxels >= 1 && c->perfusion.aif_voxels <= 6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = ms_malloc(size + 1);
	ms_config c;
	char err[256];

	fuzz_quiet();
	FUZZ_ASSERT(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';

	memset(err, 'x', sizeof(err));
	ms_status rc = ms_config_load(text, &c, err, sizeof(err));
	FUZZ_ASSERT(rc == MS_OK || rc == MS_ERR_CONFIG);
	if (rc == MS_OK) {
		check_ok(&c);
	} else {
		FUZZ_ASSERT(is_zero(&c));
		FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
	}
	ms_config_free(&c);
	FUZZ_ASSERT(is_zero(&c));
	ms_config_free(&c); /* twice is harmless */

	uint32_t h = 2166136261u; /* FNV-1a: a stable failure point per input */
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	ms_alloc_fail_at(1 + h % 64, 0);
	ms_status rc2 = ms_config_load(text, &c, err, sizeof(err));
	long injected = ms_alloc_fail_at(0, 0);
	if (injected && rc2 != MS_OK) {
		FUZZ_ASSERT(rc2 == MS_ERR_NOMEM && is_zero(&c));
	} else if (injected) {
		/* Only the "configuration: ..." log lines allocate after the last check: losing one
		 * to a failed allocation is not an error. */
		FUZZ_ASSERT(rc == MS_OK);
		check_ok(&c);
	} else {
		FUZZ_ASSERT(rc2 == rc);
	}
	ms_config_free(&c);
	ms_free(text);
	return 0;
}
