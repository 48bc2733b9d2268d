/* storage/store: open, pragmas, migrations (idempotent, concurrent, newer-schema refusal),
 * two connections on one file, allocation failures. */
#include "common/alloc.h"
#include "common/log.h"
#include "ms_schema.h"
#include "storage/queue.h"
#include "storage/store.h"
#include "tests/testhelp.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], db_path[96];
static char last_error[2048];
static int errors_logged;

static void capture_sink(ms_log_level level, const char *message)
{
	if (level == MS_LOG_ERROR) {
		errors_logged++;
		snprintf(last_error, sizeof(last_error), "%s", message);
	}
}

static void remove_db(void)
{
	char p[128];

	unlink(db_path);
	snprintf(p, sizeof(p), "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db_path);
	unlink(p);
}

static bool file_exists(const char *suffix)
{
	char p[128];

	snprintf(p, sizeof(p), "%s%s", db_path, suffix);
	return access(p, F_OK) == 0;
}

/* PRAGMA user_version lives big-endian at offset 60 of the file header; the tests read and
 * write it there because only storage/ may talk to SQLite. Only valid with no open connection
 * (the last close checkpoints the WAL into the file). */
static long header_user_version(void)
{
	unsigned char b[4];
	FILE *f = fopen(db_path, "rb");

	if (!f)
		return -1;
	long v = -1;
	if (fseek(f, 60, SEEK_SET) == 0 && fread(b, 1, 4, f) == 4)
		v = ((long)b[0] << 24) | ((long)b[1] << 16) | ((long)b[2] << 8) | (long)b[3];
	fclose(f);
	return v;
}

static bool set_header_user_version(uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			       (unsigned char)v };
	FILE *f = fopen(db_path, "r+b");

	if (!f)
		return false;
	bool ok = fseek(f, 60, SEEK_SET) == 0 && fwrite(b, 1, 4, f) == 4;
	return fclose(f) == 0 && ok;
}

static void test_open_args(void)
{
	ms_store *s = (ms_store *)&s;

	CHECK_EQ_INT(ms_store_open(NULL, &s), MS_ERR_ARG);
	CHECK(s == NULL);
	CHECK_EQ_INT(ms_store_open("", &s), MS_ERR_ARG);
	CHECK_EQ_INT(ms_store_open(":memory:", NULL), MS_ERR_ARG);
	ms_store_close(NULL); /* no-op */

	s = (ms_store *)&s;
	CHECK_EQ_INT(ms_store_open("/nonexistent-dir/x/medsight.sqlite", &s), MS_ERR_SQL);
	CHECK(s == NULL);

	CHECK_EQ_INT(ms_store_open(":memory:", &s), MS_OK);
	CHECK(s != NULL);
	/* The schema is there: a job can be stored and read back. */
	int64_t id = 0;
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser", "histogram", MS_PRIO_LOW, "manual", NULL, &id, NULL), MS_OK);
	ms_job j;
	CHECK_EQ_INT(ms_queue_get(s, id, &j), MS_OK);
	CHECK_STR(j.analysis, "histogram");
	ms_job_clear(&j);
	ms_store_close(s);
}

static void test_file_wal_and_migrations(void)
{
	ms_store *s = NULL, *again = NULL;

	remove_db();
	CHECK(ms_schema_count >= 1);
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	CHECK(file_exists("-wal")); /* journal_mode=WAL took effect */
	CHECK_EQ_INT(ms_queue_enqueue(s, "ser1", "calcium", MS_PRIO_HIGH, "manual", NULL, NULL, NULL), MS_OK);

	/* A second connection while the first is open: migrations are not re-run (they would
	 * fail on CREATE TABLE) and it sees the first one's data. */
	CHECK_EQ_INT(ms_store_open(db_path, &again), MS_OK);
	int64_t counts[5], prio[4];
	CHECK_EQ_INT(ms_queue_counts(again, counts, prio), MS_OK);
	CHECK_EQ_INT(counts[MS_JOB_QUEUED], 1);
	CHECK_EQ_INT(prio[MS_PRIO_HIGH], 1);
	ms_store_close(again);
	ms_store_close(s);
	CHECK(!file_exists("-wal")); /* the last close checkpointed and removed it */
	CHECK_EQ_INT(header_user_version(), (long)ms_schema_count);

	/* Reopen after close: still one job, version unchanged. */
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	CHECK_EQ_INT(ms_queue_counts(s, counts, prio), MS_OK);
	CHECK_EQ_INT(counts[MS_JOB_QUEUED], 1);
	ms_store_close(s);
	CHECK_EQ_INT(header_user_version(), (long)ms_schema_count);
	remove_db();
}

static void test_newer_schema_refused(void)
{
	ms_store *s = NULL;

	remove_db();
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	ms_store_close(s);
	CHECK(set_header_user_version(ms_schema_count + 1));

	errors_logged = 0;
	last_error[0] = '\0';
	ms_log_set_sink(capture_sink);
	s = (ms_store *)&s;
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_ERR_SQL);
	ms_log_set_sink(NULL);
	CHECK(s == NULL);
	CHECK(errors_logged == 1);
	CHECK(strstr(last_error, "newer MedSight") != NULL);
	CHECK(strstr(last_error, db_path) != NULL);
	/* Refusal must not touch the file. */
	CHECK_EQ_INT(header_user_version(), (long)ms_schema_count + 1);

	/* The code's own version is accepted again. */
	CHECK(set_header_user_version(ms_schema_count));
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	ms_store_close(s);
	remove_db();
}

/* Many connections opening a fresh file at once: exactly one applies each migration, the
 * others wait (BEGIN IMMEDIATE + busy timeout) and find nothing to do. */
#define OPENERS 6
static void *open_and_enqueue(void *arg)
{
	ms_store *s = NULL;
	intptr_t i = (intptr_t)arg;
	char series[32];

	snprintf(series, sizeof(series), "series-%d", (int)i);
	if (ms_store_open(db_path, &s) != MS_OK)
		return (void *)1;
	ms_status rc = ms_queue_enqueue(s, series, "histogram", MS_PRIO_ROUTINE, "stable", NULL, NULL, NULL);
	ms_store_close(s);
	return (void *)(intptr_t)(rc != MS_OK);
}

static void test_concurrent_open(void)
{
	pthread_t t[OPENERS];
	ms_store *s = NULL;

	remove_db();
	for (intptr_t i = 0; i < OPENERS; i++)
		CHECK_EQ_INT(pthread_create(&t[i], NULL, open_and_enqueue, (void *)i), 0);
	for (int i = 0; i < OPENERS; i++) {
		void *failed = (void *)1;
		pthread_join(t[i], &failed);
		CHECK(failed == NULL);
	}
	CHECK_EQ_INT(ms_store_open(db_path, &s), MS_OK);
	int64_t counts[5], prio[4];
	CHECK_EQ_INT(ms_queue_counts(s, counts, prio), MS_OK);
	CHECK_EQ_INT(counts[MS_JOB_QUEUED], OPENERS);
	ms_store_close(s);
	CHECK_EQ_INT(header_user_version(), (long)ms_schema_count);
	remove_db();
}

static void test_open_alloc_failures(void)
{
	long n;
	bool completed = false;

	for (n = 1; n < 1000 && !completed; n++) {
		ms_store *s = (ms_store *)&s;
		ms_alloc_fail_at(n, 0);
		ms_status rc = ms_store_open(":memory:", &s);
		long injected = ms_alloc_fail_at(0, 0);
		if (rc == MS_OK) {
			CHECK(s != NULL);
			ms_store_close(s);
		} else {
			CHECK_EQ_INT(rc, MS_ERR_NOMEM);
			CHECK(s == NULL);
		}
		completed = injected == 0;
		if (completed)
			CHECK_EQ_INT(rc, MS_OK);
	}
	CHECK(completed);
	CHECK(n > 1); /* at least one injected failure was survived */
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ms_test_store_XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(db_path, sizeof(db_path), "%s/medsight.sqlite", dir);

	test_open_args();
	test_file_wal_and_migrations();
	test_newer_schema_refused();
	test_concurrent_open();
	test_open_alloc_failures();

	remove_db();
	rmdir(dir);
	return TEST_REPORT();
}
