/* storage/inbox: event FIFO that survives until processed, pending series, restart
 * persistence, two connections, allocation failures. */
#include "common/alloc.h"
#include "storage/inbox.h"
#include "storage/store.h"
#include "tests/testhelp.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool contains(char **ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

static void test_events(void)
{
	ms_store *s = NULL;
	ms_event ev;

	CHECK_EQ_INT(ms_store_open(":memory:", &s), MS_OK);
	CHECK_EQ_INT(ms_inbox_push(s, 1, NULL), MS_ERR_ARG);
	CHECK_EQ_INT(ms_inbox_push(s, 1, ""), MS_ERR_ARG);
	CHECK_EQ_INT(ms_inbox_pop(s, NULL), MS_ERR_ARG);
	ev.id = 5;
	CHECK_EQ_INT(ms_inbox_pop(s, &ev), MS_ERR_NOTFOUND);
	CHECK(ev.id == 0 && ev.resource_id == NULL);
	CHECK_EQ_INT(ms_inbox_done(s, 1), MS_ERR_NOTFOUND);

	CHECK_EQ_INT(ms_inbox_push(s, 3, "series-a"), MS_OK);
	CHECK_EQ_INT(ms_inbox_push(s, 7, "instance-b"), MS_OK);
	CHECK_EQ_INT(ms_inbox_push(s, 3, "series-a"), MS_OK); /* duplicates are kept: events, not a set */

	/* pop does not delete: a crash between pop and done replays the event. */
	CHECK_EQ_INT(ms_inbox_pop(s, &ev), MS_OK);
	int64_t first = ev.id;
	CHECK_EQ_INT(ev.kind, 3);
	CHECK_STR(ev.resource_id, "series-a");
	CHECK(ev.created > 1.6e9);
	ms_event_clear(&ev);
	CHECK(ev.resource_id == NULL && ev.id == 0);
	CHECK_EQ_INT(ms_inbox_pop(s, &ev), MS_OK);
	CHECK_EQ_INT(ev.id, first);
	ms_event_clear(&ev);

	CHECK_EQ_INT(ms_inbox_done(s, first), MS_OK);
	CHECK_EQ_INT(ms_inbox_done(s, first), MS_ERR_NOTFOUND);
	CHECK_EQ_INT(ms_inbox_pop(s, &ev), MS_OK);
	CHECK(ev.id > first);
	CHECK_EQ_INT(ev.kind, 7);
	CHECK_STR(ev.resource_id, "instance-b");
	CHECK_EQ_INT(ms_inbox_done(s, ev.id), MS_OK);
	ms_event_clear(&ev);
	CHECK_EQ_INT(ms_inbox_pop(s, &ev), MS_OK);
	CHECK_EQ_INT(ev.kind, 3);
	CHECK_EQ_INT(ms_inbox_done(s, ev.id), MS_OK);
	ms_event_clear(&ev);
	CHECK_EQ_INT(ms_inbox_pop(s, &ev), MS_ERR_NOTFOUND);
	ms_event_clear(NULL);
	ms_store_close(s);
}

static void test_pending_series(void)
{
	ms_store *s = NULL;
	char **ids = (char **)&ids;
	size_t n = 9;

	CHECK_EQ_INT(ms_store_open(":memory:", &s), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_seen(s, NULL), MS_ERR_ARG);
	CHECK_EQ_INT(ms_inbox_series_seen(s, ""), MS_ERR_ARG);
	CHECK_EQ_INT(ms_inbox_series_older_than(s, -1, &ids, &n), MS_ERR_ARG);
	CHECK(ids == NULL && n == 0);
	CHECK_EQ_INT(ms_inbox_series_older_than(s, NAN, &ids, &n), MS_ERR_ARG);

	CHECK_EQ_INT(ms_inbox_series_older_than(s, 0, &ids, &n), MS_OK);
	CHECK(ids == NULL && n == 0);

	/* Arrival times far apart (500 s), so a slow or loaded machine cannot move a series across
	 * an age threshold while the test runs. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
	CHECK_EQ_INT(ms_inbox_series_seen_at(s, "old", now - 1000), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_seen_at(s, "young", now - 500), MS_OK);
	/* Only "old" was last seen more than 750 s ago; an hour catches none. */
	CHECK_EQ_INT(ms_inbox_series_older_than(s, 750, &ids, &n), MS_OK);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_STR(ids[0], "old");
	ms_inbox_free_ids(ids, n);
	CHECK_EQ_INT(ms_inbox_series_older_than(s, 3600, &ids, &n), MS_OK);
	CHECK_EQ_INT(n, 0);
	ms_inbox_free_ids(ids, n);
	/* Both, oldest first. */
	CHECK_EQ_INT(ms_inbox_series_older_than(s, 100, &ids, &n), MS_OK);
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK_STR(ids[0], "old");
		CHECK_STR(ids[1], "young");
	}
	ms_inbox_free_ids(ids, n);

	/* Seeing "old" again (a new instance arrived, now) refreshes it: it is the youngest. */
	CHECK_EQ_INT(ms_inbox_series_seen(s, "old"), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_older_than(s, 750, &ids, &n), MS_OK);
	CHECK_EQ_INT(n, 0);
	ms_inbox_free_ids(ids, n);
	CHECK_EQ_INT(ms_inbox_series_older_than(s, 100, &ids, &n), MS_OK);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_STR(ids[0], "young");
	ms_inbox_free_ids(ids, n);

	/* A late-processed event records when the instance arrived, and never moves last_seen back. */
	CHECK_EQ_INT(ms_inbox_series_seen_at(s, "late", 1000.0), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_seen_at(s, "late", 500.0), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_seen_at(s, "late", 0), MS_ERR_ARG);
	CHECK_EQ_INT(ms_inbox_series_older_than(s, 3600, &ids, &n), MS_OK);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_STR(ids[0], "late");
	ms_inbox_free_ids(ids, n);
	CHECK_EQ_INT(ms_inbox_series_settled(s, "late"), MS_OK);

	/* Settled series are gone; settling an unknown one is fine. */
	CHECK_EQ_INT(ms_inbox_series_settled(s, "young"), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_settled(s, "never-seen"), MS_OK);
	sleep_ms(20);
	CHECK_EQ_INT(ms_inbox_series_older_than(s, 0, &ids, &n), MS_OK);
	CHECK_EQ_INT(n, 1);
	CHECK(!contains(ids, n, "young"));
	CHECK(contains(ids, n, "old"));
	ms_inbox_free_ids(ids, n);
	ms_inbox_free_ids(NULL, 0);
	ms_store_close(s);
}

/* A series analysed when Orthanc reported it complete stays "analysed" until an instance
 * arrives after that report; the mark survives a restart. */
static void test_complete_trigger_mark(void)
{
	ms_store *s = NULL;
	bool current = true;

	remove_db();
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "never-seen", &current), MS_OK);
	CHECK(!current);
	CHECK_EQ_INT(ms_inbox_series_seen_at(s, "ct", 1000.0), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "ct", &current), MS_OK);
	CHECK(!current); /* pending, rules never ran */

	/* Complete at 1000 (the same instant as the last instance): analysed. */
	CHECK_EQ_INT(ms_inbox_series_triggered(s, "ct", 1000.0), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "ct", &current), MS_OK);
	CHECK(current);
	/* An instance processed late but sent before the report changes nothing... */
	CHECK_EQ_INT(ms_inbox_series_seen_at(s, "ct", 999.0), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "ct", &current), MS_OK);
	CHECK(current);
	ms_store_close(s);

	/* ...across a restart, while one arriving after it makes the analysis out of date. */
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "ct", &current), MS_OK);
	CHECK(current);
	CHECK_EQ_INT(ms_inbox_series_seen_at(s, "ct", 1001.0), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "ct", &current), MS_OK);
	CHECK(!current);
	/* A second complete report (the late instance completed it again) is current again; an
	 * older report never moves the mark back. */
	CHECK_EQ_INT(ms_inbox_series_triggered(s, "ct", 1002.0), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_triggered(s, "ct", 900.0), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "ct", &current), MS_OK);
	CHECK(current);

	/* Unknown series get a row (the NewSeries row may have been settled already). */
	CHECK_EQ_INT(ms_inbox_series_triggered(s, "fresh", 50.0), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "fresh", &current), MS_OK);
	CHECK(current);
	CHECK_EQ_INT(ms_inbox_series_settled(s, "fresh"), MS_OK);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "fresh", &current), MS_OK);
	CHECK(!current);

	CHECK_EQ_INT(ms_inbox_series_triggered(s, "ct", 0), MS_ERR_ARG);
	CHECK_EQ_INT(ms_inbox_series_triggered(s, "", 5.0), MS_ERR_ARG);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, NULL, &current), MS_ERR_ARG);
	CHECK_EQ_INT(ms_inbox_series_analysed(s, "ct", NULL), MS_ERR_ARG);
	ms_store_close(s);
	remove_db();
}

/* The change thread pushes on its connection, the worker pops on another; both survive a
 * restart (close and reopen). */
static void test_two_connections_and_restart(void)
{
	ms_store *producer = NULL, *worker = NULL;
	ms_event ev;
	char **ids = NULL;
	size_t n = 0;

	remove_db();
	CHECK_EQ_INT(ms_store_open(db_path, &producer), MS_OK);
	CHECK_EQ_INT(ms_store_open(db_path, &worker), MS_OK);
	for (int i = 0; i < 50; i++) {
		char id[32];
		snprintf(id, sizeof(id), "res-%02d", i);
		CHECK_EQ_INT(ms_inbox_push(producer, i % 5, id), MS_OK);
	}
	CHECK_EQ_INT(ms_inbox_series_seen(producer, "pending-1"), MS_OK);
	/* The worker processes the first 20 and "crashes" holding the 21st. */
	for (int i = 0; i < 21; i++) {
		char id[32];
		snprintf(id, sizeof(id), "res-%02d", i);
		CHECK_EQ_INT(ms_inbox_pop(worker, &ev), MS_OK);
		CHECK_STR(ev.resource_id, id);
		CHECK_EQ_INT(ev.kind, i % 5);
		if (i < 20)
			CHECK_EQ_INT(ms_inbox_done(worker, ev.id), MS_OK);
		ms_event_clear(&ev);
	}
	ms_store_close(worker);
	ms_store_close(producer);

	CHECK_EQ_INT(ms_store_open(db_path, &worker), MS_OK);
	int remaining = 0;
	for (int i = 20; ms_inbox_pop(worker, &ev) == MS_OK; i++) {
		char id[32];
		snprintf(id, sizeof(id), "res-%02d", i);
		CHECK_STR(ev.resource_id, id);
		CHECK_EQ_INT(ms_inbox_done(worker, ev.id), MS_OK);
		ms_event_clear(&ev);
		remaining++;
	}
	CHECK_EQ_INT(remaining, 30);
	CHECK_EQ_INT(ms_inbox_series_older_than(worker, 0, &ids, &n), MS_OK);
	CHECK_EQ_INT(n, 1);
	CHECK(contains(ids, n, "pending-1"));
	ms_inbox_free_ids(ids, n);
	ms_store_close(worker);
	remove_db();
}

/* One pass with allocation failures injected; true if all succeeded. */
static bool fault_pass(void)
{
	ms_store *s = NULL;
	ms_event ev;
	char **ids = NULL;
	size_t n = 0;
	bool ok = true;

	if (ms_store_open(":memory:", &s) != MS_OK) {
		CHECK(s == NULL);
		return false;
	}
	ok &= ms_inbox_push(s, 1, "series-1") == MS_OK;
	ok &= ms_inbox_push(s, 2, "series-2") == MS_OK;
	if (ms_inbox_pop(s, &ev) == MS_OK) {
		ok &= ms_inbox_done(s, ev.id) == MS_OK;
		ms_event_clear(&ev);
	} else {
		CHECK(ev.resource_id == NULL && ev.id == 0);
		ok = false;
	}
	ok &= ms_inbox_series_seen(s, "a") == MS_OK;
	ok &= ms_inbox_series_seen(s, "b") == MS_OK;
	if (ms_inbox_series_older_than(s, 0, &ids, &n) == MS_OK) {
		ms_inbox_free_ids(ids, n);
	} else {
		CHECK(ids == NULL && n == 0);
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
		CHECK(n > 2);
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ms_test_inbox_XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(db_path, sizeof(db_path), "%s/medsight.sqlite", dir);

	test_events();
	test_pending_series();
	test_complete_trigger_mark();
	test_two_connections_and_restart();
	test_alloc_failures();

	remove_db();
	rmdir(dir);
	return TEST_REPORT();
}
