/* libFuzzer target: ms_json_parse on arbitrary bytes (not NUL-terminated).
 *
 * Invariants: a rejected input yields MS_ERR_ARG, a NULL tree and a NUL-terminated message; an
 * accepted one can be walked with every accessor, and its compact rendering parses again and
 * renders to the same text (the writer's output is valid JSON and a fixed point). A second
 * parse makes allocation number 1..32 (from the input's hash) fail: it must answer
 * MS_ERR_NOMEM with a NULL tree and leak nothing (LeakSanitizer), or, when the failure was
 * never reached, the first result. */
#include "common/alloc.h"
#include "common/json.h"
#include "common/strbuf.h"
#include "tests/fuzz/fuzz.h"

static size_t walk(const ms_json *j, int depth)
{
	size_t count = 1;

	FUZZ_ASSERT(depth <= MS_JSON_MAX_DEPTH + 1);
	switch (ms_json_type_of(j)) {
	case MS_JSON_OBJECT:
		for (size_t i = 0; i < ms_json_size(j); i++) {
			const char *key = ms_json_key_at(j, i);
			FUZZ_ASSERT(key != NULL);
			/* The last member of a name wins, so the lookup finds some member named key. */
			FUZZ_ASSERT(ms_json_get(j, key) != NULL);
			count += walk(ms_json_at(j, i), depth + 1);
		}
		FUZZ_ASSERT(ms_json_at(j, ms_json_size(j)) == NULL);
		break;
	case MS_JSON_ARRAY:
		for (size_t i = 0; i < ms_json_size(j); i++)
			count += walk(ms_json_at(j, i), depth + 1);
		FUZZ_ASSERT(ms_json_key_at(j, 0) == NULL);
		break;
	case MS_JSON_STRING:
		FUZZ_ASSERT(ms_json_string(j) != NULL);
		break;
	default:
		FUZZ_ASSERT(ms_json_size(j) == 0 && ms_json_string(j) == NULL);
		break;
	}
	return count;
}

static char *render(const ms_json *j)
{
	ms_strbuf b = { 0 };
	ms_json_write(&b, j);
	char *s = ms_strbuf_take(&b);
	FUZZ_ASSERT(s != NULL);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ms_json *j = NULL;
	char err[128];

	fuzz_quiet();
	memset(err, 'x', sizeof(err));
	ms_status rc = ms_json_parse((const char *)data, size, &j, err, sizeof(err));
	if (rc != MS_OK) {
		FUZZ_ASSERT(rc == MS_ERR_ARG && j == NULL);
		FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
	} else {
		FUZZ_ASSERT(j != NULL);
		walk(j, 0);
		char *text1 = render(j);
		ms_json *j2 = NULL;
		ms_status rc2 = ms_json_parse(text1, strlen(text1), &j2, err, sizeof(err));
		if (rc2 != MS_OK)
			fprintf(stderr, "rendering does not parse: %s\n%s\n", err, text1);
		FUZZ_ASSERT(rc2 == MS_OK);
		char *text2 = render(j2);
		if (strcmp(text1, text2) != 0)
			fprintf(stderr, "rendering is not a fixed point:\n%s\n%s\n", text1, text2);
		FUZZ_ASSERT(strcmp(text1, text2) == 0);
		ms_free(text2);
		ms_free(text1);
		ms_json_destroy(j2);
		ms_json_destroy(j);
	}

	uint32_t h = 2166136261u; /* FNV-1a: a stable failure point per input */
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	ms_json *j3 = NULL;
	ms_alloc_fail_at(1 + h % 32, 0);
	ms_status rc3 = ms_json_parse((const char *)data, size, &j3, err, sizeof(err));
	long injected = ms_alloc_fail_at(0, 0);
	if (injected) {
		FUZZ_ASSERT(rc3 == MS_ERR_NOMEM && j3 == NULL);
	} else {
		FUZZ_ASSERT(rc3 == rc);
	}
	ms_json_destroy(j3);
	return 0;
}
