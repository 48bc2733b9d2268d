/* storage/outbox: queueing and re-queueing, due order, every transition and its guards
 * (generation, state), recovery after a stop, persistence, listing, concurrent claims from two
 * connections, allocation failures. */
#include "common/alloc.h"
#include "storage/outbox.h"
#include "storage/store.h"
#include "tests/testhelp.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], db_path[96];

static void remove_db(void)
{
	char p[128];

	unlink(db_path);
	snprintf(p, sizeof(p), "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db_path);
	unlink(p);
}

static ms_store *open_memory(void)
{
	ms_store *s = NULL;

	if (ms_store_open(":memory:", &s) != MS_OK) {
		fprintf(stderr, "cannot open :memory:\n");
		exit(1);
	}
	return s;
}

static int64_t add(ms_store *s, int64_t job, const char *instance, const char *dest, double due)
{
	int64_t id = -1;

	if (ms_outbox_add(s, job, instance, dest, due, &id) != MS_OK)
		return -1;
	return id;
}

/* Claims at time now; returns the row id (-1 when nothing is due), item copied to *out if given. */
static int64_t claim(ms_store *s, double now, ms_outbox_item *out)
{
	ms_outbox_item it;

	if (ms_outbox_claim(s, now, &it) != MS_OK)
		return -1;
	int64_t id = it.id;
	if (out)
		*out = it;
	else
		ms_outbox_item_clear(&it);
	return id;
}

/* Reads row id back through the job listing (any job). */
static bool find_row(ms_store *s, int64_t id, ms_outbox_item *out)
{
	ms_outbox_item *items = NULL;
	size_t n = 0;
	bool found = false;

	if (ms_outbox_list(s, -1, 1000, &items, &n) != MS_OK)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (items[i].id == id) {
			*out = items[i];
			memset(&items[i], 0, sizeof(items[i]));
			found = true;
		}
	}
	ms_outbox_free_list(items, n);
	return found;
}

static void test_state_names(void)
{
	CHECK_STR(ms_outbox_state_name(MS_OUTBOX_PENDING), "pending");
	CHECK_STR(ms_outbox_state_name(MS_OUTBOX_SENDING), "sending");
	CHECK_STR(ms_outbox_state_name(MS_OUTBOX_DONE), "done");
	CHECK_STR(ms_outbox_state_name(MS_OUTBOX_FAILED), "failed");
	CHECK_STR(ms_outbox_state_name((ms_outbox_state)9), "unknown");
	ms_outbox_item_clear(NULL);
}

static void test_add_and_claim(void)
{
	ms_store *s = open_memory();
	ms_outbox_item it;
	int64_t id = 77;

	/* Arguments. */
	CHECK_EQ_INT(ms_outbox_add(s, -1, "i", "d", 0, &id), MS_ERR_ARG);
	CHECK_EQ_INT(id, 0);
	CHECK_EQ_INT(ms_outbox_add(s, 1, "", "d", 0, NULL), MS_ERR_ARG);
	CHECK_EQ_INT(ms_outbox_add(s, 1, "i", NULL, 0, NULL), MS_ERR_ARG);
	CHECK_EQ_INT(ms_outbox_add(NULL, 1, "i", "d", 0, NULL), MS_ERR_ARG);
	CHECK_EQ_INT(ms_outbox_add(s, 1, "i", "d", NAN, NULL), MS_ERR_ARG);
	CHECK_EQ_INT(ms_outbox_claim(s, 0, NULL), MS_ERR_ARG);
	it.id = 5;
	CHECK_EQ_INT(ms_outbox_claim(NULL, 0, &it), MS_ERR_ARG);
	CHECK_EQ_INT(it.id, 0);
	CHECK_EQ_INT(ms_outbox_claim(s, 1e12, &it), MS_ERR_NOTFOUND);

	/* Due order is next_attempt_at, then id; rows not yet due stay. */
	int64_t late = add(s, 1, "inst-a", "archive", 300);
	int64_t early = add(s, 1, "inst-b", "archive", 100);
	int64_t tie = add(s, 2, "inst-a", "archive", 100);
	int64_t other = add(s, 1, "inst-a", "cloud", 200);
	CHECK(late > 0 && early > late && tie > early && other > tie);
	double when = -1;
	CHECK_EQ_INT(ms_outbox_next_due(s, &when), MS_OK);
	CHECK_NEAR(when, 100, 0);
	CHECK_EQ_INT(claim(s, 99, NULL), -1);
	CHECK_EQ_INT(claim(s, 150, &it), early);
	CHECK_EQ_INT(it.job_id, 1);
	CHECK_STR(it.instance_id, "inst-b");
	CHECK_STR(it.destination, "archive");
	CHECK_EQ_INT(it.state, MS_OUTBOX_SENDING);
	CHECK_EQ_INT(it.attempts, 1);
	CHECK_EQ_INT(it.generation, 0);
	CHECK_NEAR(it.next_attempt_at, 100, 0);
	CHECK(it.last_error == NULL);
	CHECK(it.created > 1e9 && it.updated >= it.created);
	CHECK_NEAR(it.finished, 0, 0);
	ms_outbox_item_clear(&it);
	CHECK(it.instance_id == NULL);
	CHECK_EQ_INT(claim(s, 150, NULL), tie);
	CHECK_EQ_INT(claim(s, 150, NULL), -1);
	CHECK_EQ_INT(ms_outbox_next_due(s, &when), MS_OK);
	CHECK_NEAR(when, 200, 0);
	CHECK_EQ_INT(claim(s, 1000, NULL), other);
	CHECK_EQ_INT(claim(s, 1000, NULL), late);
	CHECK_EQ_INT(claim(s, 1e12, NULL), -1);
	CHECK_EQ_INT(ms_outbox_next_due(s, &when), MS_ERR_NOTFOUND);
	CHECK_NEAR(when, 0, 0);
	CHECK_EQ_INT(ms_outbox_next_due(s, NULL), MS_ERR_ARG);
	ms_store_close(s);
}

static void test_transitions(void)
{
	ms_store *s = open_memory();
	ms_outbox_item it = { 0 }, row = { 0 };

	int64_t id = add(s, 3, "inst", "archive", 0);
	CHECK_EQ_INT(claim(s, 10, &it), id);
	int64_t gen = it.generation;
	ms_outbox_item_clear(&it);

	/* A failed send is rescheduled with its error; the attempt counts. */
	CHECK_EQ_INT(ms_outbox_retry_later(s, id, gen, 50, "HTTP 503 from x"), MS_OK);
	CHECK(find_row(s, id, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_PENDING);
	CHECK_EQ_INT(row.attempts, 1);
	CHECK_NEAR(row.next_attempt_at, 50, 0);
	CHECK_STR(row.last_error, "HTTP 503 from x");
	ms_outbox_item_clear(&row);
	/* Only a sending row can change: every transition on a pending one is refused. */
	CHECK_EQ_INT(ms_outbox_done(s, id, gen), MS_ERR_STATE);
	CHECK_EQ_INT(ms_outbox_fail(s, id, gen, "x"), MS_ERR_STATE);
	CHECK_EQ_INT(ms_outbox_retry_later(s, id, gen, 1, "x"), MS_ERR_STATE);
	CHECK_EQ_INT(ms_outbox_release(s, id, gen), MS_ERR_STATE);
	CHECK_EQ_INT(ms_outbox_done(s, id + 100, gen), MS_ERR_NOTFOUND);
	CHECK_EQ_INT(ms_outbox_retry_later(s, id, gen, NAN, "x"), MS_ERR_ARG);
	CHECK_EQ_INT(ms_outbox_done(NULL, id, gen), MS_ERR_ARG);

	/* Interrupted by a shutdown: back to pending, due now, the attempt does not count. */
	CHECK_EQ_INT(claim(s, 60, &it), id);
	CHECK_EQ_INT(it.attempts, 2);
	ms_outbox_item_clear(&it);
	CHECK_EQ_INT(ms_outbox_release(s, id, gen), MS_OK);
	CHECK(find_row(s, id, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_PENDING);
	CHECK_EQ_INT(row.attempts, 1);
	CHECK(row.next_attempt_at > 1e9);
	CHECK_STR(row.last_error, "HTTP 503 from x"); /* the last real outcome stays visible */
	ms_outbox_item_clear(&row);

	/* Done clears the error and sets finished. */
	CHECK_EQ_INT(claim(s, 1e12, &it), id);
	CHECK_EQ_INT(it.attempts, 2);
	ms_outbox_item_clear(&it);
	CHECK_EQ_INT(ms_outbox_done(s, id, gen + 1), MS_ERR_STATE); /* wrong generation */
	CHECK_EQ_INT(ms_outbox_done(s, id, gen), MS_OK);
	CHECK(find_row(s, id, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_DONE);
	CHECK(row.last_error == NULL);
	CHECK(row.finished >= row.created);
	ms_outbox_item_clear(&row);
	CHECK_EQ_INT(ms_outbox_done(s, id, gen), MS_ERR_STATE);

	/* Failing keeps the message; NULL or "" is stored as "failed". */
	int64_t f = add(s, 3, "inst2", "archive", 0);
	CHECK_EQ_INT(claim(s, 1e12, &it), f);
	CHECK_EQ_INT(ms_outbox_fail(s, f, it.generation, "HTTP 404 from http://h/studies"), MS_OK);
	ms_outbox_item_clear(&it);
	CHECK(find_row(s, f, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_FAILED);
	CHECK_STR(row.last_error, "HTTP 404 from http://h/studies");
	CHECK(row.finished > 0);
	ms_outbox_item_clear(&row);
	int64_t g = add(s, 3, "inst3", "archive", 0);
	CHECK_EQ_INT(claim(s, 1e12, &it), g);
	CHECK_EQ_INT(ms_outbox_fail(s, g, it.generation, ""), MS_OK);
	ms_outbox_item_clear(&it);
	CHECK(find_row(s, g, &row));
	CHECK_STR(row.last_error, "failed");
	ms_outbox_item_clear(&row);

	/* Queueing a done or failed row again makes it pending, fresh, with a new generation. */
	CHECK_EQ_INT(add(s, 3, "inst2", "archive", 5), f);
	CHECK(find_row(s, f, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_PENDING);
	CHECK_EQ_INT(row.attempts, 0);
	CHECK_EQ_INT(row.generation, 1);
	CHECK(row.last_error == NULL);
	CHECK_NEAR(row.finished, 0, 0);
	CHECK_NEAR(row.next_attempt_at, 5, 0);
	ms_outbox_item_clear(&row);
	CHECK_EQ_INT(add(s, 3, "inst", "archive", 5), id);
	ms_store_close(s);
}

/* A re-send requested while the previous send is under way: the old outcome is discarded and
 * the row is sent again. */
static void test_requeue_while_sending(void)
{
	ms_store *s = open_memory();
	ms_outbox_item it = { 0 }, again = { 0 }, row = { 0 };

	int64_t id = add(s, 0, "inst", "archive", 0);
	CHECK_EQ_INT(claim(s, 10, &it), id);
	CHECK_EQ_INT(add(s, 0, "inst", "archive", 0), id);
	CHECK_EQ_INT(ms_outbox_done(s, id, it.generation), MS_ERR_STATE);
	CHECK_EQ_INT(ms_outbox_fail(s, id, it.generation, "x"), MS_ERR_STATE);
	CHECK_EQ_INT(claim(s, 10, &again), id);
	CHECK_EQ_INT(again.generation, it.generation + 1);
	CHECK_EQ_INT(again.attempts, 1);
	CHECK_EQ_INT(ms_outbox_done(s, id, again.generation), MS_OK);
	CHECK(find_row(s, id, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_DONE);
	ms_outbox_item_clear(&row);
	ms_outbox_item_clear(&it);
	ms_outbox_item_clear(&again);
	ms_store_close(s);
}

static void test_list(void)
{
	ms_store *s = open_memory();
	ms_outbox_item *items = (ms_outbox_item *)1;
	size_t n = 9;

	CHECK_EQ_INT(ms_outbox_list(s, -1, 0, &items, &n), MS_ERR_ARG);
	CHECK(items == NULL && n == 0);
	CHECK_EQ_INT(ms_outbox_list(s, -1, 1001, &items, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_outbox_list(NULL, -1, 10, &items, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_outbox_list(s, -1, 10, NULL, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_outbox_list(s, -1, 10, &items, &n), MS_OK);
	CHECK(items == NULL && n == 0);
	for (int i = 0; i < 30; i++) {
		char inst[32];
		snprintf(inst, sizeof(inst), "inst-%d", i);
		CHECK(add(s, i % 3, inst, i % 2 ? "a" : "b", 0) > 0);
	}
	CHECK_EQ_INT(ms_outbox_list(s, -1, 1000, &items, &n), MS_OK);
	CHECK_EQ_INT(n, 30);
	for (size_t i = 1; i < n; i++)
		CHECK(items[i].id < items[i - 1].id);
	ms_outbox_free_list(items, n);
	CHECK_EQ_INT(ms_outbox_list(s, 1, 1000, &items, &n), MS_OK);
	CHECK_EQ_INT(n, 10);
	bool all_job1 = true;
	for (size_t i = 0; i < n; i++)
		all_job1 &= items[i].job_id == 1;
	CHECK(all_job1);
	CHECK_STR(items[0].instance_id, "inst-28");
	ms_outbox_free_list(items, n);
	CHECK_EQ_INT(ms_outbox_list(s, 0, 4, &items, &n), MS_OK);
	CHECK_EQ_INT(n, 4);
	CHECK_STR(items[0].instance_id, "inst-27");
	ms_outbox_free_list(items, n);
	CHECK_EQ_INT(ms_outbox_list(s, 99, 10, &items, &n), MS_OK);
	CHECK_EQ_INT(n, 0);
	ms_outbox_free_list(NULL, 0);
	ms_store_close(s);
}

/* Rows live in the file: a "sending" row left by a stop is pending again after recovery. */
static void test_persistence_and_recover(void)
{
	ms_store *s = NULL;
	ms_outbox_item it = { 0 }, row = { 0 };
	int requeued = -1;

	remove_db();
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	int64_t a = add(s, 4, "inst-a", "archive", 0);
	int64_t b = add(s, 4, "inst-b", "archive", 0);
	int64_t c = add(s, 4, "inst-c", "archive", 1e12); /* pending, not due: untouched */
	CHECK_EQ_INT(claim(s, 10, &it), a);
	int64_t gen_a = it.generation;
	ms_outbox_item_clear(&it);
	CHECK_EQ_INT(claim(s, 10, NULL), b);
	CHECK_EQ_INT(ms_outbox_done(s, b, 0), MS_OK);
	ms_store_close(s); /* the process "stops" while a is being sent */

	s = NULL;
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	CHECK(find_row(s, a, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_SENDING);
	ms_outbox_item_clear(&row);
	CHECK_EQ_INT(ms_outbox_recover(s, &requeued), MS_OK);
	CHECK_EQ_INT(requeued, 1);
	CHECK(find_row(s, a, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_PENDING);
	CHECK_EQ_INT(row.attempts, 1); /* the interrupted send counts: a crashing send cannot loop */
	ms_outbox_item_clear(&row);
	CHECK(find_row(s, b, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_DONE);
	ms_outbox_item_clear(&row);
	CHECK(find_row(s, c, &row));
	CHECK_EQ_INT(row.state, MS_OUTBOX_PENDING);
	CHECK_NEAR(row.next_attempt_at, 1e12, 0);
	ms_outbox_item_clear(&row);
	/* The old claim cannot complete after recovery handed the row out again. */
	CHECK_EQ_INT(claim(s, 1e11, &it), a);
	CHECK_EQ_INT(it.attempts, 2);
	CHECK_EQ_INT(ms_outbox_done(s, a, gen_a), MS_OK); /* same generation: it is that row's send */
	ms_outbox_item_clear(&it);
	CHECK_EQ_INT(ms_outbox_recover(s, &requeued), MS_OK);
	CHECK_EQ_INT(requeued, 0);
	CHECK_EQ_INT(ms_outbox_recover(s, NULL), MS_OK);
	CHECK_EQ_INT(ms_outbox_recover(NULL, &requeued), MS_ERR_ARG);
	ms_store_close(s);
	remove_db();
}

/* Two connections (threads) claim from one file at once: each row exactly once. */
#define RACE_ROWS 200
struct racer {
	int64_t ids[RACE_ROWS];
	int n;
	int errors;
	pthread_barrier_t *start;
};

static void *race_claim(void *arg)
{
	struct racer *r = arg;
	ms_store *s = NULL;
	ms_outbox_item it;

	if (ms_store_open(db_path, &s) != MS_OK) {
		r->errors++;
		pthread_barrier_wait(r->start);
		return NULL;
	}
	pthread_barrier_wait(r->start);
	for (;;) {
		ms_status rc = ms_outbox_claim(s, 1e12, &it);
		if (rc == MS_ERR_NOTFOUND)
			break;
		if (rc != MS_OK || r->n == RACE_ROWS) {
			r->errors++;
			break;
		}
		r->ids[r->n++] = it.id;
		if (ms_outbox_done(s, it.id, it.generation) != MS_OK)
			r->errors++;
		ms_outbox_item_clear(&it);
	}
	ms_store_close(s);
	return NULL;
}

static void test_concurrent_claims(void)
{
	ms_store *s = NULL;
	static struct racer r[2];
	static int seen[RACE_ROWS];
	pthread_t t[2];
	pthread_barrier_t start;
	int64_t first = 0;

	remove_db();
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	for (int i = 0; i < RACE_ROWS; i++) {
		char inst[32];
		snprintf(inst, sizeof(inst), "inst-%d", i);
		int64_t id = add(s, 1, inst, "archive", i);
		if (i == 0)
			first = id;
		CHECK(id == first + i);
	}
	pthread_barrier_init(&start, NULL, 2);
	for (int i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].start = &start;
		CHECK_EQ_INT(pthread_create(&t[i], NULL, race_claim, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	CHECK_EQ_INT(r[0].errors + r[1].errors, 0);
	CHECK_EQ_INT(r[0].n + r[1].n, RACE_ROWS);
	int dup = 0, out_of_range = 0;
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < r[i].n; k++) {
			int64_t off = r[i].ids[k] - first;
			if (off < 0 || off >= RACE_ROWS)
				out_of_range++;
			else if (seen[off]++)
				dup++;
		}
	CHECK_EQ_INT(dup, 0);
	CHECK_EQ_INT(out_of_range, 0);
	printf("concurrent claims: %d + %d\n", r[0].n, r[1].n);
	ms_store_close(s);
	remove_db();
}

/* One pass over the API with allocation failures injected; true if no failure was injected.
 * Failures must leave outputs empty and leak nothing (see -DMS_SANITIZE=ON). */
static bool fault_pass(void)
{
	ms_store *s = NULL;
	ms_outbox_item it, *items = NULL;
	size_t n = 0;
	bool ok = true;

	if (ms_store_open(":memory:", &s) != MS_OK) {
		CHECK(s == NULL);
		return false;
	}
	ok &= ms_outbox_add(s, 1, "instance-1", "archive", 0, NULL) == MS_OK;
	ok &= ms_outbox_add(s, 1, "instance-2", "archive", 0, NULL) == MS_OK;
	ms_status rc = ms_outbox_claim(s, 1e12, &it);
	if (rc == MS_OK) {
		ok &= ms_outbox_retry_later(s, it.id, it.generation, 5, "HTTP 500") == MS_OK;
		ms_outbox_item_clear(&it);
	} else {
		CHECK(it.id == 0 && it.instance_id == NULL && it.destination == NULL);
		ok = false;
	}
	rc = ms_outbox_list(s, 1, 10, &items, &n);
	if (rc == MS_OK) {
		ok &= n == 2;
		ms_outbox_free_list(items, n);
	} else {
		CHECK(items == NULL && n == 0);
		ok = false;
	}
	ms_store_close(s);
	return ok;
}

static void test_alloc_failures(void)
{
	for (int sticky = 0; sticky <= 1; sticky++) {
		bool completed = false;
		long n;
		for (n = 1; n < 10000 && !completed; n++) {
			ms_alloc_fail_at(n, sticky);
			bool ok = fault_pass();
			long injected = ms_alloc_fail_at(0, 0);
			completed = injected == 0;
			if (completed)
				CHECK(ok);
		}
		CHECK(completed);
		CHECK(n > 5);
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ms_test_outbox_XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(db_path, sizeof(db_path), "%s/medsight.sqlite", dir);

	test_state_names();
	test_add_and_claim();
	test_transitions();
	test_requeue_while_sending();
	test_list();
	test_persistence_and_recover();
	test_concurrent_claims();
	test_alloc_failures();

	remove_db();
	rmdir(dir);
	return TEST_REPORT();
}
