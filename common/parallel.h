/* A minimal parallel loop over independent items (e.g. decoding the slices of a series). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Work on item i; must be thread-safe for distinct i. A non-OK status stops the loop. */
typedef ms_status (*ms_parallel_fn)(void *arg, size_t i);

/* Called on the calling thread only, after each item it finished (items done so far across all
 * threads); returning false stops the loop with MS_ERR_CANCELLED. May be NULL. */
typedef bool (*ms_parallel_tick)(void *arg, size_t done, size_t n);

/* Runs fn(arg, i) for i in [0, n) on up to n_threads threads (the caller's included; 0 = the
 * number of online CPUs, at most 16). Items are handed out in increasing order. Returns MS_OK,
 * the status of the first failing item (the others may or may not have run), MS_ERR_CANCELLED
 * when tick said stop, or MS_ERR_NOMEM when threads cannot be started and n_threads was 1. */
ms_status ms_parallel_for(size_t n, unsigned n_threads, ms_parallel_fn fn, ms_parallel_tick tick, void *arg);

#ifdef __cplusplus
}
#endif
