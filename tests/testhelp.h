/* Minimal test harness (redis testhelp.h style): each CHECK counts, failures print and the
 * process exit code is the number of failures. */
#pragma once
#include <math.h>
#include <stdio.h>
#include <string.h>

static int ms_test_failed, ms_test_passed;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (cond) {                                                           \
			ms_test_passed++;                                             \
		} else {                                                              \
			ms_test_failed++;                                             \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                     \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                            \
	do {                                                                          \
		long long va_ = (long long)(a), vb_ = (long long)(b);                 \
		if (va_ == vb_) {                                                     \
			ms_test_passed++;                                             \
		} else {                                                              \
			ms_test_failed++;                                             \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
				__LINE__, #a, va_, #b, vb_);                          \
		}                                                                     \
	} while (0)

#define CHECK_STR(a, b)                                                               \
	do {                                                                          \
		const char *sa_ = (a), *sb_ = (b);                                    \
		if (sa_ && sb_ && strcmp(sa_, sb_) == 0) {                            \
			ms_test_passed++;                                             \
		} else {                                                              \
			ms_test_failed++;                                             \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, \
				__LINE__, #a, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
		}                                                                     \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                         \
	do {                                                                          \
		double da_ = (double)(a), db_ = (double)(b);                          \
		if (fabs(da_ - db_) <= (tol)) {                                       \
			ms_test_passed++;                                             \
		} else {                                                              \
			ms_test_failed++;                                             \
			fprintf(stderr, "%s:%d: %s == %.9g, expected %.9g (tol %g)\n", __FILE__, \
				__LINE__, #a, da_, db_, (double)(tol));               \
		}                                                                     \
	} while (0)

#define TEST_REPORT()                                                                 \
	(printf("%d passed, %d failed\n", ms_test_passed, ms_test_failed), ms_test_failed ? 1 : 0)
