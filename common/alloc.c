#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

static long fail_countdown; /* 0: injection off */
static int fail_sticky;
static long fail_count;

static int inject_failure(void)
{
	if (fail_countdown == 0)
		return 0;
	if (fail_countdown > 1) {
		fail_countdown--;
		return 0;
	}
	if (!fail_sticky)
		fail_countdown = 0;
	fail_count++;
	return 1;
}

long ms_alloc_fail_at(long n, int sticky)
{
	long happened = fail_count;

	fail_countdown = n;
	fail_sticky = sticky;
	fail_count = 0;
	return happened;
}

void *ms_malloc(size_t n)
{
	if (inject_failure())
		return NULL;
	return malloc(n ? n : 1);
}

void *ms_calloc(size_t count, size_t n)
{
	if (inject_failure())
		return NULL;
	return calloc(count ? count : 1, n ? n : 1);
}

void *ms_realloc(void *p, size_t n)
{
	if (inject_failure())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *ms_strndup(const char *s, size_t n)
{
	if (!s)
		return NULL;
	size_t len = strnlen(s, n);
	char *d = ms_malloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *ms_strdup(const char *s)
{
	return s ? ms_strndup(s, strlen(s)) : NULL;
}

void ms_free(void *p)
{
	free(p);
}
