/* storage/queue: priority order, dedupe, state rules, recovery, listing, persistence,
 * concurrent claims from two connections, allocation failures. */
#include "common/alloc.h"
#include "storage/queue.h"
#include "storage/store.h"
#include "tests/testhelp.h"

#include <math.h>
#include <pthread.h>
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

static int64_t enqueue(ms_store *s, const char *series, const char *analysis, ms_priority p)
{
	int64_t id = -1;

	if (ms_queue_enqueue(s, series, analysis, p, "manual", NULL, &id, NULL) != MS_OK)
		return -1;
	return id;
}

/* Claims one job and returns its id (-1 when nothing is queued or on error). */
static int64_t claim_id(ms_store *s)
{
	ms_job j;

	if (ms_queue_claim(s, &j) != MS_OK)
		return -1;
	int64_t id = j.id;
	ms_job_clear(&j);
	return id;
}

static void test_state_names(void)
{
	const char *names[] = { "queued", "running", "done", "failed", "cancelled" };

	for (int i = 0; i < 5; i++) {
		CHECK_STR(ms_job_state_name((ms_job_state)i), names[i]);
		CHECK_EQ_INT(ms_job_state_parse(names[i]), i);
	}
	CHECK_STR(ms_job_state_name((ms_job_state)17), "unknown");
	CHECK_EQ_INT(ms_job_state_parse("QUEUED"), -1);
	CHECK_EQ_INT(ms_job_state_parse("bogus"), -1);
	CHECK_EQ_INT(ms_job_state_parse(NULL), -1);
	ms_job_clear(NULL);
}

static void test_priority_order(void)
{
	ms_store *s = open_memory();
	/* Interleaved so that neither id order nor insertion order alone gives the right answer. */
	int64_t low1 = enqueue(s, "s1", "histogram", MS_PRIO_LOW);
	int64_t rout1 = enqueue(s, "s2", "histogram", MS_PRIO_ROUTINE);
	int64_t stat1 = enqueue(s, "s3", "histogram", MS_PRIO_STAT);
	int64_t high1 = enqueue(s, "s4", "histogram", MS_PRIO_HIGH);
	int64_t low2 = enqueue(s, "s5", "histogram", MS_PRIO_LOW);
	int64_t stat2 = enqueue(s, "s6", "histogram", MS_PRIO_STAT);
	int64_t rout2 = enqueue(s, "s7", "histogram", MS_PRIO_ROUTINE);
	int64_t high2 = enqueue(s, "s8", "histogram", MS_PRIO_HIGH);
	int64_t expect[] = { stat1, stat2, high1, high2, rout1, rout2, low1, low2 };

	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		CHECK_EQ_INT(claim_id(s), expect[i]);

	ms_job j;
	j.id = 99;
	CHECK_EQ_INT(ms_queue_claim(s, &j), MS_ERR_NOTFOUND);
	CHECK_EQ_INT(j.id, 0);
	CHECK(j.analysis == NULL);
	ms_store_close(s);
}

static void test_enqueue_and_claim_fields(void)
{
	ms_store *s = open_memory();
	int64_t id = 0;
	bool created = false;
	ms_job j;

	CHECK_EQ_INT(ms_queue_enqueue(s, NULL, "a", MS_PRIO_LOW, "manual", NULL, &id, &created), MS_ERR_ARG);
	CHECK_EQ_INT(ms_queue_enqueue(s, "s", "", MS_PRIO_LOW, "manual", NULL, &id, &created), MS_ERR_ARG);
	CHECK_EQ_INT(ms_queue_enqueue(s, "s", "a", (ms_priority)4, "manual", NULL, &id, &created), MS_ERR_ARG);
	CHECK_EQ_INT(ms_queue_enqueue(s, "s", "a", MS_PRIO_LOW, NULL, NULL, &id, &created), MS_ERR_ARG);
	CHECK_EQ_INT(ms_queue_claim(s, NULL), MS_ERR_ARG);

	CHECK_EQ_INT(ms_queue_enqueue(s, "ser-1", "calcium", MS_PRIO_ROUTINE, "rule", "{\"Threshold\": 130}", &id,
				      &created),
		     MS_OK);
	CHECK(id > 0);
	CHECK(created);
	CHECK_EQ_INT(ms_queue_get(s, id, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_QUEUED);
	CHECK_EQ_INT(j.priority, MS_PRIO_ROUTINE);
	CHECK_STR(j.series_id, "ser-1");
	CHECK_STR(j.analysis, "calcium");
	CHECK_STR(j.trigger, "rule");
	CHECK_STR(j.params, "{\"Threshold\": 130}");
	CHECK(j.error == NULL && j.result == NULL);
	CHECK_EQ_INT(j.attempts, 0);
	CHECK(j.created > 1.6e9);
	CHECK(j.started == 0 && j.finished == 0);
	ms_job_clear(&j);
	CHECK(j.analysis == NULL && j.id == 0);

	CHECK_EQ_INT(ms_queue_claim(s, &j), MS_OK);
	CHECK_EQ_INT(j.id, id);
	CHECK_EQ_INT(j.state, MS_JOB_RUNNING);
	CHECK_EQ_INT(j.attempts, 1);
	CHECK(j.started >= j.created);
	CHECK_STR(j.params, "{\"Threshold\": 130}");
	ms_job_clear(&j);

	CHECK_EQ_INT(ms_queue_get(s, 12345, &j), MS_ERR_NOTFOUND);
	CHECK(j.analysis == NULL);

	/* Params may be NULL; id and created may be omitted. */
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser-2", "histogram", MS_PRIO_LOW, "stable", NULL, NULL, NULL), MS_OK);
	CHECK_EQ_INT(ms_queue_claim(s, &j), MS_OK);
	CHECK(j.params == NULL);
	CHECK_STR(j.series_id, "ser-2");
	ms_job_clear(&j);
	ms_store_close(s);
}

static void test_dedupe(void)
{
	ms_store *s = open_memory();
	int64_t a = 0, b = 0;
	bool created = true;
	ms_job j;

	CHECK_EQ_INT(ms_queue_enqueue(s, "ser", "calcium", MS_PRIO_ROUTINE, "stable", NULL, &a, &created), MS_OK);
	CHECK(created);
	/* Lower priority: same job, priority kept. */
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser", "calcium", MS_PRIO_LOW, "rule", NULL, &b, &created), MS_OK);
	CHECK(!created);
	CHECK_EQ_INT(b, a);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_EQ_INT(j.priority, MS_PRIO_ROUTINE);
	ms_job_clear(&j);
	/* Higher priority: same job, priority raised. */
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser", "calcium", MS_PRIO_STAT, "manual", NULL, &b, &created), MS_OK);
	CHECK(!created);
	CHECK_EQ_INT(b, a);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_EQ_INT(j.priority, MS_PRIO_STAT);
	CHECK_STR(j.trigger, "stable"); /* the original job, not a new one */
	CHECK(j.params == NULL);
	ms_job_clear(&j);
	/* Parameters of a later request replace the queued job's; a request without keeps them. */
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser", "calcium", MS_PRIO_LOW, "manual", "{\"AIF\": [1, 2, 3]}", &b, &created),
		     MS_OK);
	CHECK(!created && b == a);
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser", "calcium", MS_PRIO_LOW, "manual", NULL, &b, &created), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_STR(j.params, "{\"AIF\": [1, 2, 3]}");
	CHECK_EQ_INT(j.priority, MS_PRIO_STAT); /* never lowered */
	ms_job_clear(&j);

	/* Another analysis, or another series: new jobs. */
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser", "histogram", MS_PRIO_STAT, "manual", NULL, &b, &created), MS_OK);
	CHECK(created && b != a);
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser2", "calcium", MS_PRIO_STAT, "manual", NULL, &b, &created), MS_OK);
	CHECK(created && b != a);

	/* Only QUEUED jobs absorb duplicates: once running, a new request queues a new run. */
	CHECK_EQ_INT(claim_id(s), a);
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser", "calcium", MS_PRIO_LOW, "manual", NULL, &b, &created), MS_OK);
	CHECK(created && b != a);

	int64_t counts[5], prio[4];
	CHECK_EQ_INT(ms_queue_counts(s, counts, prio), MS_OK);
	CHECK_EQ_INT(counts[MS_JOB_QUEUED], 3);
	CHECK_EQ_INT(counts[MS_JOB_RUNNING], 1);
	CHECK_EQ_INT(prio[MS_PRIO_STAT], 2);
	CHECK_EQ_INT(prio[MS_PRIO_LOW], 1);
	CHECK_EQ_INT(prio[MS_PRIO_HIGH] + prio[MS_PRIO_ROUTINE], 0);
	ms_store_close(s);
}

static void test_state_rules(void)
{
	ms_store *s = open_memory();
	ms_job j;
	int64_t a = enqueue(s, "sa", "histogram", MS_PRIO_HIGH);
	int64_t b = enqueue(s, "sb", "histogram", MS_PRIO_ROUTINE);

	/* Queued jobs cannot be finished, failed, progressed, retried or marked cancelled. */
	CHECK_EQ_INT(ms_queue_finish(s, a, "{}"), MS_ERR_STATE);
	CHECK_EQ_INT(ms_queue_fail(s, a, "x"), MS_ERR_STATE);
	CHECK_EQ_INT(ms_queue_progress(s, a, 0.5), MS_ERR_STATE);
	CHECK_EQ_INT(ms_queue_retry(s, a), MS_ERR_STATE);
	CHECK_EQ_INT(ms_queue_cancelled(s, a), MS_ERR_STATE);
	/* Unknown ids. */
	CHECK_EQ_INT(ms_queue_finish(s, 999, "{}"), MS_ERR_NOTFOUND);
	CHECK_EQ_INT(ms_queue_fail(s, 999, "x"), MS_ERR_NOTFOUND);
	CHECK_EQ_INT(ms_queue_progress(s, 999, 0.5), MS_ERR_NOTFOUND);
	CHECK_EQ_INT(ms_queue_retry(s, 999), MS_ERR_NOTFOUND);
	CHECK_EQ_INT(ms_queue_cancel(s, 999), MS_ERR_NOTFOUND);
	CHECK_EQ_INT(ms_queue_cancelled(s, 999), MS_ERR_NOTFOUND);
	CHECK(!ms_queue_cancel_requested(s, 999));

	/* a: run, progress (clamped), finish. */
	CHECK_EQ_INT(claim_id(s), a);
	CHECK_EQ_INT(ms_queue_retry(s, a), MS_ERR_STATE);
	CHECK_EQ_INT(ms_queue_progress(s, a, 0.25), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_NEAR(j.progress, 0.25, 1e-12);
	ms_job_clear(&j);
	CHECK_EQ_INT(ms_queue_progress(s, a, 7.0), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_NEAR(j.progress, 1.0, 1e-12);
	ms_job_clear(&j);
	CHECK_EQ_INT(ms_queue_progress(s, a, NAN), MS_ERR_ARG);
	CHECK_EQ_INT(ms_queue_finish(s, a, "{\"Agatston\": 12.5}"), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_DONE);
	CHECK_STR(j.result, "{\"Agatston\": 12.5}");
	CHECK(j.error == NULL);
	CHECK_NEAR(j.progress, 1.0, 0);
	CHECK(j.finished >= j.started && j.started > 0);
	ms_job_clear(&j);
	/* Finished jobs: no second finish, no fail, no cancel. */
	CHECK_EQ_INT(ms_queue_finish(s, a, "{}"), MS_ERR_STATE);
	CHECK_EQ_INT(ms_queue_fail(s, a, "late"), MS_ERR_STATE);
	CHECK_EQ_INT(ms_queue_cancel(s, a), MS_ERR_STATE);
	CHECK_EQ_INT(ms_queue_cancelled(s, a), MS_ERR_STATE);

	/* Retry of a DONE job: queued again, cleared, trigger "retry", same id. */
	CHECK_EQ_INT(ms_queue_retry(s, a), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_QUEUED);
	CHECK_EQ_INT(j.attempts, 0);
	CHECK(j.result == NULL && j.error == NULL);
	CHECK_STR(j.trigger, "retry");
	CHECK(j.started == 0 && j.finished == 0 && j.progress == 0);
	ms_job_clear(&j);

	/* a (HIGH) runs before b again; now it fails. */
	CHECK_EQ_INT(claim_id(s), a);
	CHECK_EQ_INT(ms_queue_fail(s, a, "series has 1 slice"), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_FAILED);
	CHECK_STR(j.error, "series has 1 slice");
	CHECK_EQ_INT(j.attempts, 1);
	ms_job_clear(&j);
	CHECK_EQ_INT(ms_queue_retry(s, a), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_QUEUED);
	CHECK(j.error == NULL);
	ms_job_clear(&j);

	/* Cancel a queued job: cancelled at once with a message; then it can be retried. */
	CHECK_EQ_INT(ms_queue_cancel(s, a), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_CANCELLED);
	CHECK_STR(j.error, "cancelled by user");
	CHECK(!j.cancel_requested);
	CHECK(j.finished > 0);
	ms_job_clear(&j);
	CHECK_EQ_INT(ms_queue_cancel(s, a), MS_ERR_STATE);

	/* Cancel a running job: only a request; the worker then reports it cancelled. */
	CHECK_EQ_INT(claim_id(s), b);
	CHECK(!ms_queue_cancel_requested(s, b));
	CHECK_EQ_INT(ms_queue_cancel(s, b), MS_OK);
	CHECK(ms_queue_cancel_requested(s, b));
	CHECK_EQ_INT(ms_queue_get(s, b, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_RUNNING);
	CHECK(j.cancel_requested);
	CHECK(j.error == NULL);
	ms_job_clear(&j);
	CHECK_EQ_INT(ms_queue_cancel(s, b), MS_OK); /* asking twice is harmless */
	CHECK_EQ_INT(ms_queue_cancelled(s, b), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, b, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_CANCELLED);
	CHECK_STR(j.error, "cancelled by user");
	ms_job_clear(&j);
	/* A worker that did not notice the cancel cannot finish it afterwards. */
	CHECK_EQ_INT(ms_queue_finish(s, b, "{}"), MS_ERR_STATE);

	/* Retry clears the cancel request; the next claim starts clean. */
	CHECK_EQ_INT(ms_queue_retry(s, b), MS_OK);
	CHECK(!ms_queue_cancel_requested(s, b));
	CHECK_EQ_INT(ms_queue_retry(s, a), MS_OK);
	CHECK_EQ_INT(claim_id(s), a);
	CHECK_EQ_INT(ms_queue_fail(s, a, NULL), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
	CHECK_STR(j.error, "failed");
	ms_job_clear(&j);
	ms_store_close(s);
}

static void test_recover(void)
{
	ms_store *s = open_memory();
	ms_job j;
	int requeued = -1;
	int64_t a = enqueue(s, "sa", "calcium", MS_PRIO_STAT);
	int64_t b = enqueue(s, "sb", "calcium", MS_PRIO_LOW);
	int64_t c = enqueue(s, "sc", "calcium", MS_PRIO_LOW);

	CHECK_EQ_INT(ms_queue_recover(s, -1, &requeued), MS_ERR_ARG);
	CHECK_EQ_INT(ms_queue_recover(s, 3, &requeued), MS_OK);
	CHECK_EQ_INT(requeued, 0); /* nothing running */

	/* a is interrupted three times; with max 3 the third interruption gives up. */
	for (int attempt = 1; attempt <= 3; attempt++) {
		CHECK_EQ_INT(claim_id(s), a);
		CHECK_EQ_INT(ms_queue_progress(s, a, 0.5), MS_OK);
		CHECK_EQ_INT(ms_queue_recover(s, 3, &requeued), MS_OK);
		CHECK_EQ_INT(ms_queue_get(s, a, &j), MS_OK);
		CHECK_EQ_INT(j.attempts, attempt);
		if (attempt < 3) {
			CHECK_EQ_INT(requeued, 1);
			CHECK_EQ_INT(j.state, MS_JOB_QUEUED);
			CHECK(j.progress == 0 && j.started == 0);
		} else {
			CHECK_EQ_INT(requeued, 0);
			CHECK_EQ_INT(j.state, MS_JOB_FAILED);
			CHECK_STR(j.error, "interrupted 3 times (Orthanc stopped during the job); giving up");
			CHECK(j.finished > 0);
		}
		ms_job_clear(&j);
	}

	/* Two running at once (b requeued, c with a cancel request is cancelled), done jobs kept. */
	CHECK_EQ_INT(claim_id(s), b);
	CHECK_EQ_INT(claim_id(s), c);
	CHECK_EQ_INT(ms_queue_cancel(s, c), MS_OK);
	int64_t d = enqueue(s, "sd", "calcium", MS_PRIO_LOW);
	CHECK_EQ_INT(claim_id(s), d);
	CHECK_EQ_INT(ms_queue_finish(s, d, "{}"), MS_OK);
	CHECK_EQ_INT(ms_queue_recover(s, 3, NULL), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, b, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_QUEUED);
	ms_job_clear(&j);
	CHECK_EQ_INT(ms_queue_get(s, c, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_CANCELLED);
	CHECK_STR(j.error, "cancelled by user");
	ms_job_clear(&j);
	CHECK_EQ_INT(ms_queue_get(s, d, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_DONE);
	ms_job_clear(&j);

	/* b was requeued once above: with max_attempts 1 its second interruption gives up. */
	CHECK_EQ_INT(claim_id(s), b);
	CHECK_EQ_INT(ms_queue_recover(s, 1, &requeued), MS_OK);
	CHECK_EQ_INT(requeued, 0);
	CHECK_EQ_INT(ms_queue_get(s, b, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_FAILED);
	CHECK_STR(j.error, "interrupted 2 times (Orthanc stopped during the job); giving up");
	ms_job_clear(&j);
	ms_store_close(s);
}

static void test_list_and_counts(void)
{
	ms_store *s = open_memory();
	ms_job *jobs = (ms_job *)&jobs;
	size_t n = 99;
	int64_t ids[6];

	for (int i = 0; i < 6; i++) {
		char series[16], analysis[16];
		snprintf(series, sizeof(series), "s%d", i % 2);
		snprintf(analysis, sizeof(analysis), "a%d", i); /* distinct, so no dedupe */
		ids[i] = enqueue(s, series, analysis, (ms_priority)(i % 4));
	}
	/* ids[3] (prio 3) runs; ids[2] (prio 2) runs and finishes. */
	CHECK_EQ_INT(claim_id(s), ids[3]);
	CHECK_EQ_INT(claim_id(s), ids[2]);
	CHECK_EQ_INT(ms_queue_finish(s, ids[2], "{}"), MS_OK);

	CHECK_EQ_INT(ms_queue_list(s, -2, NULL, 10, &jobs, &n), MS_ERR_ARG);
	CHECK(jobs == NULL && n == 0);
	CHECK_EQ_INT(ms_queue_list(s, 5, NULL, 10, &jobs, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_queue_list(s, -1, NULL, 0, &jobs, &n), MS_ERR_ARG);
	CHECK_EQ_INT(ms_queue_list(s, -1, NULL, 1001, &jobs, &n), MS_ERR_ARG);

	CHECK_EQ_INT(ms_queue_list(s, -1, NULL, 1000, &jobs, &n), MS_OK);
	CHECK_EQ_INT(n, 6);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(jobs[i].id, ids[5 - i]); /* newest first */
	CHECK_STR(jobs[0].analysis, "a5");
	ms_queue_free_list(jobs, n);

	CHECK_EQ_INT(ms_queue_list(s, -1, NULL, 2, &jobs, &n), MS_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(jobs[1].id, ids[4]);
	ms_queue_free_list(jobs, n);

	CHECK_EQ_INT(ms_queue_list(s, MS_JOB_QUEUED, NULL, 100, &jobs, &n), MS_OK);
	CHECK_EQ_INT(n, 4);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(jobs[i].state, MS_JOB_QUEUED);
	ms_queue_free_list(jobs, n);

	CHECK_EQ_INT(ms_queue_list(s, -1, "s1", 100, &jobs, &n), MS_OK);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(jobs[0].id, ids[5]);
	CHECK_EQ_INT(jobs[2].id, ids[1]);
	ms_queue_free_list(jobs, n);

	CHECK_EQ_INT(ms_queue_list(s, MS_JOB_DONE, "s0", 100, &jobs, &n), MS_OK);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(jobs[0].id, ids[2]);
	ms_queue_free_list(jobs, n);

	CHECK_EQ_INT(ms_queue_list(s, MS_JOB_FAILED, NULL, 100, &jobs, &n), MS_OK);
	CHECK_EQ_INT(n, 0);
	CHECK(jobs == NULL);
	ms_queue_free_list(NULL, 0);

	int64_t counts[5], prio[4];
	CHECK_EQ_INT(ms_queue_counts(s, counts, prio), MS_OK);
	CHECK_EQ_INT(counts[MS_JOB_QUEUED], 4);
	CHECK_EQ_INT(counts[MS_JOB_RUNNING], 1);
	CHECK_EQ_INT(counts[MS_JOB_DONE], 1);
	CHECK_EQ_INT(counts[MS_JOB_FAILED], 0);
	CHECK_EQ_INT(counts[MS_JOB_CANCELLED], 0);
	/* Queued: ids 0 (LOW), 1 (ROUTINE), 4 (LOW), 5 (ROUTINE). */
	CHECK_EQ_INT(prio[MS_PRIO_LOW], 2);
	CHECK_EQ_INT(prio[MS_PRIO_ROUTINE], 2);
	CHECK_EQ_INT(prio[MS_PRIO_HIGH], 0);
	CHECK_EQ_INT(prio[MS_PRIO_STAT], 0);
	ms_store_close(s);
}

static void test_persistence(void)
{
	ms_store *s = NULL;
	ms_job j;
	int requeued = 0;

	remove_db();
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	int64_t a = enqueue(s, "sa", "calcium", MS_PRIO_HIGH);
	int64_t b = enqueue(s, "sb", "calcium", MS_PRIO_STAT);
	int64_t c = enqueue(s, "sc", "calcium", MS_PRIO_LOW);
	CHECK_EQ_INT(claim_id(s), b);
	CHECK_EQ_INT(ms_queue_finish(s, b, "{\"ok\": true}"), MS_OK);
	CHECK_EQ_INT(claim_id(s), a); /* "crash" while a runs */
	ms_store_close(s);

	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	CHECK_EQ_INT(ms_queue_get(s, b, &j), MS_OK);
	CHECK_EQ_INT(j.state, MS_JOB_DONE);
	CHECK_STR(j.result, "{\"ok\": true}");
	ms_job_clear(&j);
	CHECK_EQ_INT(ms_queue_recover(s, 3, &requeued), MS_OK);
	CHECK_EQ_INT(requeued, 1);
	CHECK_EQ_INT(claim_id(s), a);
	CHECK_EQ_INT(claim_id(s), c);
	CHECK_EQ_INT(claim_id(s), -1);
	/* AUTOINCREMENT: a new job never reuses an id. */
	int64_t d = enqueue(s, "sd", "calcium", MS_PRIO_LOW);
	CHECK(d > c);
	ms_store_close(s);
	remove_db();
}

/* Two connections (threads) claim from one file at once: each job exactly once. */
#define RACE_JOBS 200
struct racer {
	int64_t ids[RACE_JOBS];
	int n;
	int errors;
	pthread_barrier_t *start;
};

static void *race_claim(void *arg)
{
	struct racer *r = arg;
	ms_store *s = NULL;
	ms_job j;

	if (ms_store_open(db_path, &s) != MS_OK) {
		r->errors++;
		pthread_barrier_wait(r->start);
		return NULL;
	}
	pthread_barrier_wait(r->start);
	for (;;) {
		ms_status rc = ms_queue_claim(s, &j);
		if (rc == MS_ERR_NOTFOUND)
			break;
		if (rc != MS_OK || r->n == RACE_JOBS) {
			r->errors++;
			break;
		}
		r->ids[r->n++] = j.id;
		if (ms_queue_finish(s, j.id, "{}") != MS_OK)
			r->errors++;
		ms_job_clear(&j);
	}
	ms_store_close(s);
	return NULL;
}

static void test_concurrent_claims(void)
{
	ms_store *s = NULL;
	static struct racer r[2];
	pthread_t t[2];
	pthread_barrier_t start;
	static int seen[RACE_JOBS + 1];
	int64_t first = 0;

	remove_db();
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	for (int i = 0; i < RACE_JOBS; i++) {
		char series[32];
		snprintf(series, sizeof(series), "series-%d", i);
		int64_t id = enqueue(s, series, "histogram", (ms_priority)(i % 4));
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
	CHECK_EQ_INT(r[0].n + r[1].n, RACE_JOBS);
	memset(seen, 0, sizeof(seen));
	int dup = 0, out_of_range = 0;
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < r[i].n; k++) {
			int64_t off = r[i].ids[k] - first;
			if (off < 0 || off >= RACE_JOBS)
				out_of_range++;
			else if (seen[off]++)
				dup++;
		}
	CHECK_EQ_INT(dup, 0);
	CHECK_EQ_INT(out_of_range, 0);
	printf("concurrent claims: %d + %d\n", r[0].n, r[1].n);

	int64_t counts[5], prio[4];
	CHECK_EQ_INT(ms_queue_counts(s, counts, prio), MS_OK);
	CHECK_EQ_INT(counts[MS_JOB_DONE], RACE_JOBS);
	CHECK_EQ_INT(counts[MS_JOB_QUEUED] + counts[MS_JOB_RUNNING], 0);
	ms_store_close(s);
	remove_db();
}

/* One pass over the API with allocation failures injected; returns true if everything
 * succeeded (no failure was injected). Failures must leave outputs empty and no leaks. */
static bool fault_pass(void)
{
	ms_store *s = NULL;
	ms_job j, *jobs = NULL;
	size_t n = 0;
	int64_t id = 0;
	bool ok = true;

	if (ms_store_open(":memory:", &s) != MS_OK) {
		CHECK(s == NULL);
		return false;
	}
	ok &= ms_queue_enqueue(s, "ser", "calcium", MS_PRIO_HIGH, "manual", "{\"a\": 1}", &id, NULL) == MS_OK;
	ok &= ms_queue_enqueue(s, "ser2", "histogram", MS_PRIO_LOW, "stable", NULL, NULL, NULL) == MS_OK;
	ms_status rc = ms_queue_claim(s, &j);
	if (rc == MS_OK) {
		ok &= ms_queue_finish(s, j.id, "{\"done\": 1}") == MS_OK;
		ms_job_clear(&j);
	} else {
		CHECK(j.analysis == NULL && j.series_id == NULL && j.id == 0);
		ok = false;
	}
	rc = ms_queue_get(s, id, &j);
	if (rc == MS_OK)
		ms_job_clear(&j);
	else
		ok = false;
	rc = ms_queue_list(s, -1, NULL, 10, &jobs, &n);
	if (rc == MS_OK) {
		ok &= n == 2;
		ms_queue_free_list(jobs, n);
	} else {
		CHECK(jobs == NULL && n == 0);
		ok = false;
	}
	int64_t counts[5], prio[4];
	ok &= ms_queue_counts(s, counts, prio) == MS_OK;
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
		CHECK(n > 5); /* failures were injected at several points before completing */
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ms_test_queue_XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(db_path, sizeof(db_path), "%s/medsight.sqlite", dir);

	test_state_names();
	test_priority_order();
	test_enqueue_and_claim_fields();
	test_dedupe();
	test_state_rules();
	test_recover();
	test_list_and_counts();
	test_persistence();
	test_concurrent_claims();
	test_alloc_failures();

	remove_db();
	rmdir(dir);
	return TEST_REPORT();
}
