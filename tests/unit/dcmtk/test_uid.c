/* ms_uid_derive: determinism, sensitivity, length and DICOM UID syntax. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dicom/uid.h"
#include "tests/testhelp.h"

/* PS3.5 9.1: digits and dots, <= 64 chars, no empty component, no leading zero in a
 * multi-digit component. */
static bool valid_uid(const char *u)
{
	size_t n = strlen(u);
	if (n == 0 || n > 64)
		return false;
	const char *comp = u;
	for (const char *p = u;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t len = (size_t)(p - comp);
			if (len == 0 || (len > 1 && comp[0] == '0'))
				return false;
			if (*p == '\0')
				return true;
			comp = p + 1;
		} else if (!isdigit((unsigned char)*p)) {
			return false;
		}
	}
}

static void test_syntax_checker(void)
{
	/* The checker itself must reject what it claims to reject. */
	CHECK(valid_uid("2.25.0"));
	CHECK(valid_uid("1.2.840.10008.5.1.4.1.1.2"));
	CHECK(!valid_uid("2.25.012"));
	CHECK(!valid_uid("2..25"));
	CHECK(!valid_uid("2.25."));
	CHECK(!valid_uid("2.25.1a"));
	CHECK(!valid_uid(""));
	CHECK(!valid_uid("1.2345678901234567890123456789012345678901234567890123456789012345"));
}

static void test_known_values(void)
{
	/* Reference values from Python's uuid.uuid5 over the same namespace and length-prefixed
	 * parts: they pin the SHA-1, the version/variant bits and the decimal conversion. */
	char out[65];
	const char *ab[] = {"a", "bc"};
	ms_uid_derive(out, ab, 2);
	CHECK_STR(out, "2.25.338014156382629505165955525113317758773");
	ms_uid_derive(out, NULL, 0);
	CHECK_STR(out, "2.25.286241451194295996228941417019912441696");
	const char *empty[] = {""};
	ms_uid_derive(out, empty, 1);
	CHECK_STR(out, "2.25.215212025635615514975736984963369389162");
	char x100[101];
	memset(x100, 'x', 100);
	x100[100] = '\0';
	const char *multi[] = {x100, "1.2.840.10008.5.1.4.1.1.2", NULL}; /* NULL counts as "" */
	ms_uid_derive(out, multi, 3);
	CHECK_STR(out, "2.25.193533108492148975561398171135771784018");
}

static void test_determinism_and_difference(void)
{
	char a[65], b[65], c[65], e[65];
	const char *p1[] = {"1.2.3.4", "cac", "seg"};
	const char *p2[] = {"1.2.3.4", "cac", "seg"};
	const char *p3[] = {"1.2.3.4", "cac", "sr"};
	const char *p4[] = {"1.2.3.4", "cacs", "eg"}; /* same concatenation, other boundaries */
	ms_uid_derive(a, p1, 3);
	ms_uid_derive(b, p2, 3);
	ms_uid_derive(c, p3, 3);
	ms_uid_derive(e, p4, 3);
	CHECK_STR(a, b);
	CHECK(strcmp(a, c) != 0);
	CHECK(strcmp(a, e) != 0);
	CHECK(strncmp(a, "2.25.", 5) == 0);

	/* Many derivations: all valid, all distinct, all <= 64 characters. */
	enum { N = 2000 };
	static char uids[N][65];
	int bad = 0, dup = 0;
	size_t longest = 0;
	for (int i = 0; i < N; i++) {
		char num[16];
		snprintf(num, sizeof(num), "%d", i);
		const char *p[] = {"2.25.1234", "analysis", num};
		ms_uid_derive(uids[i], p, 3);
		if (!valid_uid(uids[i]))
			bad++;
		if (strlen(uids[i]) > longest)
			longest = strlen(uids[i]);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			if (strcmp(uids[i], uids[j]) == 0)
				dup++;
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(dup, 0);
	CHECK(longest <= 44); /* "2.25." + at most 39 digits */
	CHECK(longest >= 40);
}

int main(void)
{
	test_syntax_checker();
	test_known_values();
	test_determinism_and_difference();
	return TEST_REPORT();
}
