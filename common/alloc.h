/* Allocation wrappers with a fault-injection hook for tests (SQLite's faultsim style). */
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *ms_malloc(size_t n);               /* NULL on failure (or injected failure) */
void *ms_calloc(size_t count, size_t n); /* zeroed; NULL on overflow or failure */
void *ms_realloc(void *p, size_t n);     /* like realloc; p stays valid on failure */
char *ms_strdup(const char *s);          /* NULL if s is NULL or on failure */
char *ms_strndup(const char *s, size_t n);
void ms_free(void *p);

/* Test hook: make the n-th allocation from now fail (n >= 1), and every later one too if
 * 'sticky'. n = 0 disables injection. Returns how many injected failures have happened since
 * the last call. Not thread-safe: for single-threaded unit tests only. */
long ms_alloc_fail_at(long n, int sticky);

#ifdef __cplusplus
}
#endif
