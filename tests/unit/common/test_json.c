/* ms_json: accessors, RFC 8259 edge cases, error positions, truncation, nesting, mutation and
 * allocation-failure robustness (run under ASan to see leaks). */
#include "common/alloc.h"
#include "common/json.h"
#include "tests/testhelp.h"

#include <stdlib.h>
#include <string.h>

static const char sample[] =
	"{\"Name\":\"MedSight\",\"Port\":8042,\"Ratio\":-1.5e-3,\"On\":true,\"Off\":false,\"None\":null,"
	"\"List\":[1,\"two\",[3,{}],{\"k\":[]}],\"Text\":\"tab\\t \\\"q\\\" \\u00e9 \\ud83d\\ude00 \\/\","
	"\"Nested\":{\"a\":{\"b\":{\"c\":[0,-0,1e2]}}}}";
/* What ms_json_write makes of it: compact, escapes normalised, numbers canonical. */
static const char sample_out[] =
	"{\"Name\":\"MedSight\",\"Port\":8042,\"Ratio\":-0.0015,\"On\":true,\"Off\":false,\"None\":null,"
	"\"List\":[1,\"two\",[3,{}],{\"k\":[]}],\"Text\":\"tab\\t \\\"q\\\" \xc3\xa9 \xf0\x9f\x98\x80 /\","
	"\"Nested\":{\"a\":{\"b\":{\"c\":[0,0,100]}}}}";

static ms_status parse(const char *text, ms_json **out, char *err, size_t errlen)
{
	return ms_json_parse(text, strlen(text), out, err, errlen);
}

/* Parses text and returns its compact rendering (static buffer), or "ERR: message". */
static const char *roundtrip(const char *text)
{
	static char out[4096];
	char err[128];
	ms_json *j = NULL;
	ms_strbuf b = { 0 };

	if (parse(text, &j, err, sizeof(err)) != MS_OK) {
		snprintf(out, sizeof(out), "ERR: %s", err);
		return out;
	}
	ms_json_write(&b, j);
	snprintf(out, sizeof(out), "%s", b.data ? b.data : "(null)");
	ms_strbuf_free(&b);
	ms_json_destroy(j);
	return out;
}

/* Expects text to be rejected with MS_ERR_ARG, *out NULL and a message containing want. */
static void expect_invalid(const char *text, size_t len, const char *want)
{
	char err[128] = "untouched";
	ms_json *j = (ms_json *)&err; /* must be reset to NULL */
	ms_status rc = ms_json_parse(text, len, &j, err, sizeof(err));

	CHECK_EQ_INT(rc, MS_ERR_ARG);
	CHECK(j == NULL);
	if (!strstr(err, want)) {
		ms_test_failed++;
		fprintf(stderr, "input <%.*s>: error \"%s\" lacks \"%s\"\n", (int)len, text, err, want);
	} else {
		ms_test_passed++;
	}
	ms_json_destroy(rc == MS_OK ? j : NULL);
}

#define INVALID(lit, want) expect_invalid(lit, sizeof(lit) - 1, want)

static void test_accessors(void)
{
	ms_json *j = NULL;
	char err[128];

	CHECK_EQ_INT(parse(sample, &j, err, sizeof(err)), MS_OK);
	CHECK_STR(err, "");
	CHECK_EQ_INT(ms_json_type_of(j), MS_JSON_OBJECT);
	CHECK_EQ_INT(ms_json_size(j), 9);
	CHECK_STR(ms_json_key_at(j, 0), "Name");
	CHECK_STR(ms_json_key_at(j, 8), "Nested"); /* member order is kept */
	CHECK(ms_json_key_at(j, 9) == NULL);
	CHECK_STR(ms_json_string(ms_json_get(j, "Name")), "MedSight");
	CHECK(ms_json_string(ms_json_at(j, 0)) == ms_json_string(ms_json_get(j, "Name")));
	CHECK(ms_json_is_number(ms_json_get(j, "Port")));
	CHECK_NEAR(ms_json_number(ms_json_get(j, "Port")), 8042, 0);
	CHECK_NEAR(ms_json_number(ms_json_get(j, "Ratio")), -1.5e-3, 0);
	CHECK(ms_json_bool(ms_json_get(j, "On")));
	CHECK_EQ_INT(ms_json_type_of(ms_json_get(j, "Off")), MS_JSON_BOOL);
	CHECK(!ms_json_bool(ms_json_get(j, "Off")));
	CHECK(ms_json_get(j, "None") != NULL);
	CHECK_EQ_INT(ms_json_type_of(ms_json_get(j, "None")), MS_JSON_NULL);
	CHECK(ms_json_get(j, "name") == NULL); /* names are case-sensitive */
	CHECK(ms_json_get(j, "Missing") == NULL);

	const ms_json *list = ms_json_get(j, "List");
	CHECK_EQ_INT(ms_json_type_of(list), MS_JSON_ARRAY);
	CHECK_EQ_INT(ms_json_size(list), 4);
	CHECK_STR(ms_json_string(ms_json_at(list, 1)), "two");
	CHECK(ms_json_at(list, 4) == NULL);
	CHECK(ms_json_key_at(list, 0) == NULL); /* arrays have no names */
	CHECK(ms_json_get(list, "k") == NULL);
	CHECK_EQ_INT(ms_json_size(ms_json_at(ms_json_at(list, 2), 1)), 0);
	CHECK_EQ_INT(ms_json_type_of(ms_json_get(ms_json_at(list, 3), "k")), MS_JSON_ARRAY);

	CHECK_STR(ms_json_string(ms_json_get(j, "Text")), "tab\t \"q\" \xc3\xa9 \xf0\x9f\x98\x80 /");
	const ms_json *c = ms_json_get(ms_json_get(ms_json_get(ms_json_get(j, "Nested"), "a"), "b"), "c");
	CHECK_EQ_INT(ms_json_size(c), 3);
	CHECK_NEAR(ms_json_number(ms_json_at(c, 2)), 100, 0);

	/* Wrong types and NULLs answer neutral values. */
	CHECK(ms_json_string(ms_json_get(j, "Port")) == NULL);
	CHECK(!ms_json_is_number(ms_json_get(j, "Name")));
	CHECK_NEAR(ms_json_number(ms_json_get(j, "Name")), 0, 0);
	CHECK(!ms_json_bool(ms_json_get(j, "Port")));
	CHECK_EQ_INT(ms_json_size(ms_json_get(j, "Name")), 0);
	CHECK_EQ_INT(ms_json_type_of(NULL), MS_JSON_NULL);
	CHECK(ms_json_get(NULL, "x") == NULL);
	CHECK(ms_json_get(j, NULL) == NULL);
	CHECK(ms_json_at(NULL, 0) == NULL);
	CHECK(ms_json_key_at(NULL, 0) == NULL);
	CHECK(!ms_json_bool(NULL) && ms_json_string(NULL) == NULL && !ms_json_is_number(NULL));

	ms_strbuf b = { 0 };
	ms_json_write(&b, j);
	CHECK_STR(b.data, sample_out);
	ms_strbuf_free(&b);
	ms_json_write(&b, NULL);
	CHECK_STR(b.data, "null");
	ms_strbuf_free(&b);
	ms_json_destroy(j);
	ms_json_destroy(NULL);

	/* The writer's output parses back to the same text. */
	CHECK_STR(roundtrip(sample_out), sample_out);
}

static void test_values(void)
{
	CHECK_STR(roundtrip("  {\"a\":1,\"a\":2}  "), "{\"a\":1,\"a\":2}");
	ms_json *j = NULL;
	CHECK_EQ_INT(parse("{\"a\":1,\"b\":0,\"a\":2}", &j, NULL, 0), MS_OK);
	CHECK_NEAR(ms_json_number(ms_json_get(j, "a")), 2, 0); /* last wins */
	CHECK_EQ_INT(ms_json_size(j), 3);
	ms_json_destroy(j);

	CHECK_STR(roundtrip("0"), "0");
	CHECK_STR(roundtrip("-0"), "0");
	CHECK_STR(roundtrip("\t\r\n 7 \n"), "7");
	CHECK_STR(roundtrip("1E+2"), "100");
	CHECK_STR(roundtrip("1e-2"), "0.01");
	CHECK_STR(roundtrip("-12.5E0"), "-12.5");
	CHECK_STR(roundtrip("1e-400"), "0"); /* underflow is still a number */
	CHECK_STR(roundtrip("123456789012345678901234567890"), "1.2345678901234568e+29");
	/* a number longer than the parser's stack buffer */
	CHECK_STR(roundtrip("0.00000000000000000000000000000000000000000000000000000000000000000000000000"
			    "000000000000000000000000000000000000000000000000000000000000000000000000000125"),
		  "1.25e-150");
	CHECK_STR(roundtrip("true"), "true");
	CHECK_STR(roundtrip("null"), "null");
	CHECK_STR(roundtrip("\"\""), "\"\"");
	CHECK_STR(roundtrip("[]"), "[]");
	CHECK_STR(roundtrip("{ }"), "{}");
	CHECK_STR(roundtrip("[ 1 , [ ] , { \"\" : \"\" } ]"), "[1,[],{\"\":\"\"}]");
	CHECK_STR(roundtrip("\"\\u0041\\u00DF\\u6771\\uD834\\uDD1E\""), "\"A\xc3\x9f\xe6\x9d\xb1\xf0\x9d\x84\x9e\"");
	CHECK_STR(roundtrip("\"\\u001f\\\\\""), "\"\\u001f\\\\\"");
	CHECK_STR(roundtrip("\"\xef\xbf\xbf \xf4\x8f\xbf\xbf\""), "\"\xef\xbf\xbf \xf4\x8f\xbf\xbf\"");
	CHECK_STR(roundtrip("\xEF\xBB\xBF[1]"), "[1]"); /* byte-order mark */
	CHECK_STR(roundtrip("\"\x7f\""), "\"\x7f\""); /* DEL is not a control character in JSON */

	/* Only len bytes are read: no NUL terminator needed, and text after len is ignored. */
	j = NULL;
	CHECK_EQ_INT(ms_json_parse("[1]garbage", 3, &j, NULL, 0), MS_OK);
	CHECK_EQ_INT(ms_json_size(j), 1);
	ms_json_destroy(j);
	char unterminated[2] = { '4', '2' };
	CHECK_EQ_INT(ms_json_parse(unterminated, 2, &j, NULL, 0), MS_OK);
	CHECK_NEAR(ms_json_number(j), 42, 0);
	ms_json_destroy(j);

	/* Bad arguments. */
	char err[64];
	CHECK_EQ_INT(ms_json_parse(NULL, 0, &j, err, sizeof(err)), MS_ERR_ARG);
	CHECK(j == NULL);
	CHECK_EQ_INT(ms_json_parse("1", 1, NULL, err, sizeof(err)), MS_ERR_ARG);
	CHECK_EQ_INT(ms_json_parse("x", 1, &j, err, 1), MS_ERR_ARG); /* tiny err buffer */
	CHECK_STR(err, "");
}

static void test_invalid(void)
{
	INVALID("", "line 1 column 1: unexpected end of input");
	INVALID("   ", "unexpected end of input");
	INVALID("\xEF\xBB\xBF", "unexpected end of input");
	INVALID("01", "leading zeros");
	INVALID("-01", "leading zeros");
	INVALID("-", "unexpected end of input");
	INVALID("-a", "expected a digit");
	INVALID("1.", "after '.'");
	INVALID("1.e3", "after '.'");
	INVALID(".5", "unexpected character '.'");
	INVALID("+1", "unexpected character '+'");
	INVALID("1e", "exponent");
	INVALID("1e+", "exponent");
	INVALID("0x10", "unexpected text after");
	INVALID("NaN", "unexpected character 'N'");
	INVALID("-Infinity", "expected a digit");
	INVALID("Infinity", "unexpected character 'I'");
	INVALID("1e999", "number out of range");
	INVALID("-1e400", "number out of range");
	INVALID("tru", "unexpected character 't'");
	INVALID("nul", "unexpected character 'n'");
	INVALID("True", "unexpected character 'T'");
	INVALID("truex", "column 5: unexpected text after");
	INVALID("[1,]", "expected a value before ']'");
	INVALID("[,1]", "expected a value before ','");
	INVALID("[1 2]", "expected ',' or ']'");
	INVALID("[1", "unexpected end of input");
	INVALID("[", "unexpected end of input");
	INVALID("{", "unexpected end of input");
	INVALID("{\"a\":1,}", "expected a member name");
	INVALID("{\"a\" 1}", "expected ':'");
	INVALID("{\"a\"", "unexpected end of input");
	INVALID("{\"a\":", "unexpected end of input");
	INVALID("{\"a\":1 \"b\":2}", "expected ',' or '}'");
	INVALID("{1:2}", "expected a member name");
	INVALID("{'a':1}", "expected a member name");
	INVALID("]", "expected a value before ']'");
	INVALID("[1]]", "unexpected text after");
	INVALID("{} {}", "column 4: unexpected text after");
	INVALID("\"abc", "unexpected end of input in a string");
	INVALID("\"abc\\", "unexpected end of input in a string");
	INVALID("\"\\x\"", "invalid escape");
	INVALID("\"\\U0041\"", "invalid escape");
	INVALID("\"\\u12\"", "4 hex digits");
	INVALID("\"\\u12G4\"", "4 hex digits");
	INVALID("\"\\ud800\"", "high surrogate");
	INVALID("\"\\ud800\\u0041\"", "high surrogate");
	INVALID("\"\\ud800\\ud800\"", "high surrogate");
	INVALID("\"\\udc00\"", "lone low surrogate");
	INVALID("\"\\u0000\"", "\\u0000 is not supported");
	INVALID("\"a\x01z\"", "column 3: control character");
	INVALID("\"a\nb\"", "control character");
	INVALID("\"\xff\"", "invalid UTF-8");
	INVALID("\"\xc3\"", "invalid UTF-8");
	INVALID("\"\xc0\xaf\"", "invalid UTF-8");         /* overlong '/' */
	INVALID("\"\xe0\x80\xaf\"", "invalid UTF-8");     /* overlong */
	INVALID("\"\xed\xa0\x80\"", "invalid UTF-8");     /* UTF-8 encoded surrogate */
	INVALID("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* above U+10FFFF */
	INVALID("\"\xf0\x9f\x98\"", "invalid UTF-8");     /* cut sequence */
	INVALID("[\x00]", "unexpected byte 0x00");
	INVALID("\xc3\xa9", "unexpected byte 0xC3");
	INVALID("/* c */ 1", "unexpected character '/'");
	INVALID("{\n  \"a\": 1,\n  \"b\": tru\n}", "line 3 column 8: unexpected character 't'");
	INVALID("[\r\n1,\r\n2 3]", "line 3 column 3");
}

/* Every proper prefix of a valid document is invalid; none may crash or leak. */
static void test_truncated(void)
{
	size_t n = strlen(sample);
	int rejected = 0;

	for (size_t len = 0; len < n; len++) {
		char *copy = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
		char err[128] = "";
		ms_json *j = NULL;
		memcpy(copy, sample, len);
		if (ms_json_parse(copy, len, &j, err, sizeof(err)) == MS_ERR_ARG && !j && err[0])
			rejected++;
		ms_json_destroy(j);
		free(copy);
	}
	CHECK_EQ_INT(rejected, n);
}

static void test_depth(void)
{
	char buf[1000];
	ms_json *j = NULL;
	char err[128];

	for (int depth = 63; depth <= 66; depth++) {
		size_t len = 0;
		/* alternate objects and arrays: {"k":[{"k":[ ... 0 ... ]}]} */
		for (int i = 0; i < depth; i++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", i % 2 ? "[" : "{\"k\":");
		buf[len++] = '0';
		for (int i = depth - 1; i >= 0; i--)
			buf[len++] = i % 2 ? ']' : '}';
		ms_status rc = ms_json_parse(buf, len, &j, err, sizeof(err));
		if (depth <= MS_JSON_MAX_DEPTH) {
			CHECK_EQ_INT(rc, MS_OK);
		} else {
			CHECK_EQ_INT(rc, MS_ERR_ARG);
			CHECK(strstr(err, "nesting deeper than 64") != NULL);
		}
		ms_json_destroy(j);
		j = NULL;
	}

	/* A huge nesting is refused at level 65, not by a stack overflow. */
	size_t big = 1000000;
	char *deep = malloc(big);
	memset(deep, '[', big);
	CHECK_EQ_INT(ms_json_parse(deep, big, &j, err, sizeof(err)), MS_ERR_ARG);
	CHECK_STR(err, "line 1 column 65: nesting deeper than 64 levels");
	free(deep);
}

/* Random byte mutations of the sample: whatever the outcome, the contract holds. */
static void test_mutations(void)
{
	const char alphabet[] = "{}[]\":,\\u0123456789eE+-.tfn \n\x01\x80\xc3\xff";
	size_t n = strlen(sample);
	char *buf = malloc(n);
	int ok = 0, bad = 0;

	srand(42);
	for (int iter = 0; iter < 20000; iter++) {
		memcpy(buf, sample, n);
		int edits = 1 + rand() % 4;
		for (int e = 0; e < edits; e++)
			buf[rand() % n] = alphabet[rand() % (sizeof(alphabet) - 1)];
		size_t len = (size_t)(rand() % 8 ? n : (size_t)rand() % n);
		ms_json *j = NULL;
		char err[128] = "";
		ms_status rc = ms_json_parse(buf, len, &j, err, sizeof(err));
		if (rc == MS_OK && j && !err[0]) {
			ok++;
		} else if (rc == MS_ERR_ARG && !j && strncmp(err, "line ", 5) == 0) {
			bad++;
		} else {
			CHECK(!"contract broken on a mutated input");
			fprintf(stderr, "  rc=%d err=%s\n", rc, err);
		}
		ms_json_destroy(j);
	}
	free(buf);
	CHECK_EQ_INT(ok + bad, 20000);
	CHECK(ok > 100 && bad > 100); /* both paths were exercised */
}

/* Failing the n-th allocation (then all later ones, or just that one) gives MS_ERR_NOMEM and no
 * tree; with no failure the tree is complete. Leaks show under -DMS_SANITIZE=ON. */
static void test_alloc_failure(void)
{
	for (int sticky = 0; sticky <= 1; sticky++) {
		long n;
		for (n = 1; n < 10000; n++) {
			ms_json *j = NULL;
			char err[128] = "";
			ms_alloc_fail_at(n, sticky);
			ms_status rc = parse(sample, &j, err, sizeof(err));
			long failures = ms_alloc_fail_at(0, 0);
			if (!failures) {
				CHECK_EQ_INT(rc, MS_OK);
				ms_strbuf b = { 0 };
				ms_json_write(&b, j);
				CHECK_STR(b.data, sample_out);
				ms_strbuf_free(&b);
				ms_json_destroy(j);
				break;
			}
			if (rc != MS_ERR_NOMEM || j != NULL || strcmp(err, "out of memory") != 0) {
				CHECK(!"allocation failure not reported as MS_ERR_NOMEM");
				fprintf(stderr, "  n=%ld sticky=%d rc=%d err=%s\n", n, sticky, rc, err);
			}
			ms_json_destroy(j);
		}
		CHECK(n > 30 && n < 10000); /* the sample needs dozens of allocations */
	}
}

int main(void)
{
	test_accessors();
	test_values();
	test_invalid();
	test_truncated();
	test_depth();
	test_mutations();
	test_alloc_failure();
	return TEST_REPORT();
}
