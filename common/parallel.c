#include "common/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct {
	size_t n;
	ms_parallel_fn fn;
	void *arg;
	atomic_size_t next, done;
	atomic_bool stop;
	atomic_int first_error; /* ms_status of the first failure */
} loop;

/* Takes items until none are left or the loop is stopped; returns whether it did one. */
static bool run_one(loop *l)
{
	if (atomic_load(&l->stop))
		return false;
	size_t i = atomic_fetch_add(&l->next, 1);
	if (i >= l->n)
		return false;
	ms_status rc = l->fn(l->arg, i);
	if (rc != MS_OK) {
		int expected = MS_OK;
		atomic_compare_exchange_strong(&l->first_error, &expected, (int)rc);
		atomic_store(&l->stop, true);
	}
	atomic_fetch_add(&l->done, 1);
	return true;
}

static void *thread_main(void *arg)
{
	loop *l = arg;
	while (run_one(l))
		;
	return NULL;
}

ms_status ms_parallel_for(size_t n, unsigned n_threads, ms_parallel_fn fn, ms_parallel_tick tick, void *arg)
{
	pthread_t threads[16];
	unsigned started = 0;
	loop l = { .n = n, .fn = fn, .arg = arg };

	atomic_init(&l.next, 0);
	atomic_init(&l.done, 0);
	atomic_init(&l.stop, false);
	atomic_init(&l.first_error, MS_OK);
	if (n_threads == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n_threads = cpus > 0 ? (unsigned)cpus : 1;
	}
	if (n_threads > 16)
		n_threads = 16;
	if (n_threads > n)
		n_threads = n ? (unsigned)n : 1;
	/* Helpers that cannot start are not an error: the caller's thread does their share. */
	while (started + 1 < n_threads && pthread_create(&threads[started], NULL, thread_main, &l) == 0)
		started++;
	while (run_one(&l)) {
		if (tick && !tick(arg, atomic_load(&l.done), n)) {
			int expected = MS_OK;
			atomic_compare_exchange_strong(&l.first_error, &expected, (int)MS_ERR_CANCELLED);
			atomic_store(&l.stop, true);
		}
	}
	for (unsigned t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	return (ms_status)atomic_load(&l.first_error);
}
