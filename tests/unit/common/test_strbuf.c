/* ms_strbuf: growth, formatting, JSON escaping and numbers, allocation failure. */
#include "common/alloc.h"
#include "common/strbuf.h"
#include "tests/testhelp.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Formats v with ms_strbuf_append_json_number and returns it in a static buffer. */
static const char *num(double v)
{
	static char out[64];
	ms_strbuf b = { 0 };
	ms_strbuf_append_json_number(&b, v);
	snprintf(out, sizeof(out), "%s", b.data ? b.data : "(null)");
	ms_strbuf_free(&b);
	return out;
}

static const char *jstr(const char *s)
{
	static char out[256];
	ms_strbuf b = { 0 };
	ms_strbuf_append_json_string(&b, s);
	snprintf(out, sizeof(out), "%s", b.data ? b.data : "(null)");
	ms_strbuf_free(&b);
	return out;
}

static void test_basics(void)
{
	ms_strbuf b = { 0 };
	char *s;

	s = ms_strbuf_take(&b);
	CHECK_STR(s, ""); /* nothing appended: still a heap string */
	ms_free(s);

	ms_strbuf_append(&b, "abc");
	ms_strbuf_append(&b, NULL);
	ms_strbuf_appendn(&b, "d\0e", 3);
	CHECK_EQ_INT(b.len, 6);
	CHECK(memcmp(b.data, "abcd\0e", 7) == 0);
	ms_strbuf_appendf(&b, "%d-%s", 42, "x");
	CHECK_EQ_INT(b.len, 10);
	CHECK(strcmp(b.data + 6, "42-x") == 0);

	/* appendf larger than its stack buffer, and growth over many appends */
	char big[1000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ms_strbuf_free(&b);
	ms_strbuf_appendf(&b, "<%s>", big);
	CHECK_EQ_INT(b.len, 1001);
	CHECK(b.data[0] == '<' && b.data[1000] == '>' && b.data[1001] == '\0');
	for (int i = 0; i < 10000; i++)
		ms_strbuf_append(&b, "0123456789");
	CHECK_EQ_INT(b.len, 1001 + 100000);
	CHECK_EQ_INT(strlen(b.data), b.len);
	CHECK(b.cap > b.len);

	s = ms_strbuf_take(&b);
	CHECK(s != NULL && strlen(s) == 101001);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0 && !b.failed);
	ms_free(s);

	ms_strbuf_init(&b);
	CHECK(b.data == NULL && b.len == 0);
	ms_strbuf_free(NULL);
}

static void test_json_string(void)
{
	CHECK_STR(jstr(NULL), "null");
	CHECK_STR(jstr(""), "\"\"");
	CHECK_STR(jstr("plain"), "\"plain\"");
	CHECK_STR(jstr("q\"b\\s/"), "\"q\\\"b\\\\s/\"");
	CHECK_STR(jstr("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
	CHECK_STR(jstr("\x01\x1f"), "\"\\u0001\\u001f\"");
	CHECK_STR(jstr("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* invalid UTF-8 (Latin-1 e-acute, overlong '/', a surrogate, a cut sequence) -> U+FFFD */
	CHECK_STR(jstr("caf\xe9"), "\"caf\\ufffd\"");
	CHECK_STR(jstr("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
	CHECK_STR(jstr("\xed\xa0\x80x"), "\"\\ufffd\\ufffd\\ufffdx\"");
	CHECK_STR(jstr("a\xe2\x82"), "\"a\\ufffd\\ufffd\"");
	CHECK_STR(jstr("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void test_json_number(void)
{
	CHECK_STR(num(0), "0");
	CHECK_STR(num(-0.0), "0");
	CHECK_STR(num(3), "3");
	CHECK_STR(num(-1024), "-1024");
	CHECK_STR(num(2048.0), "2048");
	CHECK_STR(num(9007199254740992.0), "9007199254740992");
	CHECK_STR(num(0.1), "0.1");
	CHECK_STR(num(-2.5), "-2.5");
	CHECK_STR(num(1e20), "1e+20");
	CHECK_STR(num(1e-7), "1e-07");
	CHECK_STR(num(1.0 / 3.0), "0.3333333333333333"); /* 16 digits suffice */
	CHECK_STR(num(123456.789012345), "123456.789012345"); /* %.10g would lose digits */
	CHECK_STR(num(NAN), "null");
	CHECK_STR(num(INFINITY), "null");
	CHECK_STR(num(-INFINITY), "null");

	/* Every finite double reads back exactly. */
	srand(1234);
	int exact = 0, total = 0;
	for (int i = 0; i < 20000; i++) {
		uint64_t bits = 0;
		double v;
		for (int k = 0; k < 4; k++)
			bits = (bits << 16) ^ (uint64_t)(rand() & 0xFFFF);
		memcpy(&v, &bits, sizeof(v));
		if (!isfinite(v))
			continue;
		total++;
		if (strtod(num(v), NULL) == v || (v == 0 && strtod(num(v), NULL) == 0))
			exact++;
	}
	CHECK_EQ_INT(exact, total);
	CHECK(total > 19000);

	/* A comma locale must not leak into JSON (skipped where no such locale is installed). */
	const char *locales[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8" };
	for (size_t i = 0; i < sizeof(locales) / sizeof(locales[0]); i++) {
		if (!setlocale(LC_NUMERIC, locales[i]))
			continue;
		CHECK_STR(num(0.5), "0.5");
		CHECK_STR(num(-1.25e-9), "-1.25e-09");
		setlocale(LC_NUMERIC, "C");
	}
}

static void test_alloc_failure(void)
{
	ms_strbuf b = { 0 };

	ms_alloc_fail_at(1, 0);
	ms_strbuf_append(&b, "abc");
	CHECK_EQ_INT(ms_alloc_fail_at(0, 0), 1);
	CHECK(b.failed);
	CHECK(b.data == NULL);
	ms_strbuf_append(&b, "later appends are ignored");
	CHECK(b.data == NULL);
	CHECK(ms_strbuf_take(&b) == NULL);
	CHECK(!b.failed && b.data == NULL); /* take resets */

	/* Fail the n-th allocation of a growing build: take is NULL exactly when one failed, and
	 * what was built before the failure stays a valid C string. */
	for (long n = 1;; n++) {
		ms_alloc_fail_at(n, 0);
		for (int i = 0; i < 200; i++) {
			ms_strbuf_appendf(&b, "%d,", i);
			ms_strbuf_append_json_string(&b, "x\"y");
			if (b.data)
				CHECK_EQ_INT(strlen(b.data), b.len);
		}
		long failures = ms_alloc_fail_at(0, 0);
		bool failed = b.failed;
		char *s = ms_strbuf_take(&b);
		CHECK((s == NULL) == (failures > 0));
		CHECK(failed == (failures > 0));
		ms_free(s);
		if (!failures)
			break;
		if (n > 100) {
			CHECK(!"allocation count does not converge");
			break;
		}
	}
}

int main(void)
{
	test_basics();
	test_json_string();
	test_json_number();
	test_alloc_failure();
	return TEST_REPORT();
}
