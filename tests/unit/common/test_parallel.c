/* ms_parallel_for: every item exactly once, first error wins, cancellation stops early. */
#include <stdatomic.h>

#include "common/parallel.h"
#include "tests/testhelp.h"

#define N 10000

static atomic_int hits[N];

static ms_status count(void *arg, size_t i)
{
	(void)arg;
	atomic_fetch_add(&hits[i], 1);
	return MS_OK;
}

static ms_status fail_at_500(void *arg, size_t i)
{
	(void)arg;
	atomic_fetch_add(&hits[i], 1);
	return i == 500 ? MS_ERR_INPUT : MS_OK;
}

static int ticks;
static bool stop_after_10(void *arg, size_t done, size_t n)
{
	(void)arg;
	(void)n;
	ticks++;
	return done < 10;
}

static void reset(void)
{
	for (int i = 0; i < N; i++)
		atomic_store(&hits[i], 0);
}

int main(void)
{
	for (unsigned threads = 0; threads <= 5; threads++) {
		reset();
		CHECK_EQ_INT(ms_parallel_for(N, threads, count, NULL, NULL), MS_OK);
		int wrong = 0;
		for (int i = 0; i < N; i++)
			wrong += atomic_load(&hits[i]) != 1;
		CHECK_EQ_INT(wrong, 0);
	}
	CHECK_EQ_INT(ms_parallel_for(0, 4, count, NULL, NULL), MS_OK);

	reset();
	CHECK_EQ_INT(ms_parallel_for(N, 4, fail_at_500, NULL, NULL), MS_ERR_INPUT);
	CHECK_EQ_INT(atomic_load(&hits[500]), 1);
	int ran = 0;
	for (int i = 0; i < N; i++)
		ran += atomic_load(&hits[i]);
	CHECK(ran < N); /* it stopped early */

	reset();
	CHECK_EQ_INT(ms_parallel_for(N, 1, count, stop_after_10, NULL), MS_ERR_CANCELLED);
	CHECK(ticks >= 10);
	ran = 0;
	for (int i = 0; i < N; i++)
		ran += atomic_load(&hits[i]);
	CHECK_EQ_INT(ran, 10);
	return TEST_REPORT();
}
