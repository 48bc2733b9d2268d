#include "storage/queue.h"
#include "storage/store_internal.h"

#include "common/alloc.h"
#include "common/log.h"

#include <math.h>
#include <string.h>

/* Column order read by job_from_row(). */
#define JOB_COLUMNS                                                                               \
	"id, analysis, priority, state, series_id, triggered_by, params, progress, attempts, "    \
	"cancel_requested, error, result, created, started, finished"

#define MAX_LIST 1000

static const char *const state_names[] = { "queued", "running", "done", "failed", "cancelled" };

void ms_job_clear(ms_job *j)
{
	if (!j)
		return;
	ms_free(j->analysis);
	ms_free(j->series_id);
	ms_free(j->trigger);
	ms_free(j->params);
	ms_free(j->error);
	ms_free(j->result);
	memset(j, 0, sizeof(*j));
}

const char *ms_job_state_name(ms_job_state s)
{
	if ((unsigned)s < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[s];
	return "unknown";
}

int ms_job_state_parse(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < (int)(sizeof(state_names) / sizeof(state_names[0])); i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

/* Copies the current row (JOB_COLUMNS order) into *j; *j is zeroed on failure. */
static ms_status job_from_row(sqlite3_stmt *st, ms_job *j)
{
	ms_status rc;

	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(st, 0);
	j->priority = (ms_priority)sqlite3_column_int(st, 2);
	j->state = (ms_job_state)sqlite3_column_int(st, 3);
	j->progress = sqlite3_column_double(st, 7);
	j->attempts = sqlite3_column_int(st, 8);
	j->cancel_requested = sqlite3_column_int(st, 9) != 0;
	j->created = sqlite3_column_double(st, 12);
	j->started = sqlite3_column_double(st, 13);
	j->finished = sqlite3_column_double(st, 14);
	if ((rc = ms_store_column_text(st, 1, &j->analysis)) != MS_OK ||
	    (rc = ms_store_column_text(st, 4, &j->series_id)) != MS_OK ||
	    (rc = ms_store_column_text(st, 5, &j->trigger)) != MS_OK ||
	    (rc = ms_store_column_text(st, 6, &j->params)) != MS_OK ||
	    (rc = ms_store_column_text(st, 10, &j->error)) != MS_OK ||
	    (rc = ms_store_column_text(st, 11, &j->result)) != MS_OK)
		ms_job_clear(j);
	return rc;
}

/* Why a guarded UPDATE changed nothing: the job is missing, or in the wrong state. */
static ms_status state_error(ms_store *s, int64_t id)
{
	sqlite3_stmt *st;
	ms_status rc = ms_store_stmt(s, MS_STMT_QUEUE_STATE, "SELECT state FROM jobs WHERE id = ?1", &st);

	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		rc = MS_ERR_STATE;
	else if (src == SQLITE_DONE)
		rc = MS_ERR_NOTFOUND;
	else
		rc = ms_store_fail(s, src, "job state");
	ms_store_release(st);
	return rc;
}

/* Runs a bound UPDATE of job id that is guarded by a state condition, then releases it.
 * No row changed -> MS_ERR_NOTFOUND or MS_ERR_STATE. */
static ms_status run_guarded(ms_store *s, sqlite3_stmt *st, int64_t id, const char *what)
{
	int src = sqlite3_step(st);
	ms_status rc = MS_OK;

	if (src != SQLITE_DONE)
		rc = ms_store_fail(s, src, what);
	ms_store_release(st);
	if (rc == MS_OK && sqlite3_changes(s->db) == 0)
		rc = state_error(s, id);
	return rc;
}

ms_status ms_queue_enqueue(ms_store *s, const char *series_id, const char *analysis, ms_priority prio,
			   const char *trigger, const char *params, int64_t *id, bool *created)
{
	sqlite3_stmt *st = NULL;
	ms_status rc;
	int64_t job_id = 0;
	bool is_new = false;

	if (id)
		*id = 0;
	if (created)
		*created = false;
	if (!s || !series_id || !series_id[0] || !analysis || !analysis[0] || !trigger || !trigger[0] ||
	    (unsigned)prio > MS_PRIO_STAT)
		return MS_ERR_ARG;

	/* The write lock is held from the duplicate check to the insert, so two connections
	 * enqueueing the same pair cannot both insert. */
	rc = ms_store_begin(s);
	if (rc != MS_OK)
		return rc;
	rc = ms_store_stmt(s, MS_STMT_QUEUE_FIND_QUEUED,
			   "SELECT id, priority FROM jobs WHERE series_id = ?1 AND analysis = ?2 AND state = 0 "
			   "ORDER BY id LIMIT 1",
			   &st);
	if (rc != MS_OK)
		goto out_rollback;
	sqlite3_bind_text(st, 1, series_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, analysis, -1, SQLITE_STATIC);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		job_id = sqlite3_column_int64(st, 0);
		int old = sqlite3_column_int(st, 1);
		ms_store_release(st);
		/* The later request's parameters win (e.g. an AIF given after the stable trigger). */
		if ((int)prio > old || params) {
			rc = ms_store_stmt(s, MS_STMT_QUEUE_RAISE,
					   "UPDATE jobs SET priority = max(priority, ?2), params = coalesce(?3, params) "
					   "WHERE id = ?1",
					   &st);
			if (rc != MS_OK)
				goto out_rollback;
			sqlite3_bind_int64(st, 1, job_id);
			sqlite3_bind_int(st, 2, (int)prio);
			if (params)
				sqlite3_bind_text(st, 3, params, -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(st, 3);
			src = sqlite3_step(st);
			ms_store_release(st);
			if (src != SQLITE_DONE) {
				rc = ms_store_fail(s, src, "raising job priority");
				goto out_rollback;
			}
		}
	} else if (src == SQLITE_DONE) {
		ms_store_release(st);
		rc = ms_store_stmt(s, MS_STMT_QUEUE_INSERT,
				   "INSERT INTO jobs (analysis, priority, state, series_id, triggered_by, params, created) "
				   "VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6)",
				   &st);
		if (rc != MS_OK)
			goto out_rollback;
		sqlite3_bind_text(st, 1, analysis, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, (int)prio);
		sqlite3_bind_text(st, 3, series_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, trigger, -1, SQLITE_STATIC);
		if (params)
			sqlite3_bind_text(st, 5, params, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 6, ms_store_now());
		src = sqlite3_step(st);
		ms_store_release(st);
		if (src != SQLITE_DONE) {
			rc = ms_store_fail(s, src, "inserting job");
			goto out_rollback;
		}
		job_id = sqlite3_last_insert_rowid(s->db);
		is_new = true;
	} else {
		ms_store_release(st);
		rc = ms_store_fail(s, src, "looking up queued job");
		goto out_rollback;
	}
	rc = ms_store_commit(s);
	if (rc != MS_OK)
		goto out_rollback;
	if (id)
		*id = job_id;
	if (created)
		*created = is_new;
	return MS_OK;

out_rollback:
	ms_store_rollback(s);
	return rc;
}

ms_status ms_queue_claim(ms_store *s, ms_job *job)
{
	sqlite3_stmt *st;
	ms_status rc;

	if (!job)
		return MS_ERR_ARG;
	memset(job, 0, sizeof(*job));
	if (!s)
		return MS_ERR_ARG;

	/* BEGIN IMMEDIATE: the write lock is taken before the job is chosen, so two connections
	 * can never choose the same one (and no SQLITE_BUSY_SNAPSHOT upgrade failure). */
	rc = ms_store_begin(s);
	if (rc != MS_OK)
		return rc;
	rc = ms_store_stmt(s, MS_STMT_QUEUE_CLAIM,
			   "UPDATE jobs SET state = 1, started = ?1, progress = 0, attempts = attempts + 1, "
			   "cancel_requested = 0 "
			   "WHERE id = (SELECT id FROM jobs WHERE state = 0 ORDER BY priority DESC, id LIMIT 1) "
			   "RETURNING " JOB_COLUMNS,
			   &st);
	if (rc != MS_OK)
		goto out_rollback;
	sqlite3_bind_double(st, 1, ms_store_now());
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		rc = job_from_row(st, job); /* copied inside the transaction: on NOMEM the claim is undone */
	else if (src == SQLITE_DONE)
		rc = MS_ERR_NOTFOUND;
	else
		rc = ms_store_fail(s, src, "claiming job");
	/* The UPDATE is complete after the first step; reset only discards the buffered rows. */
	ms_store_release(st);
	if (rc != MS_OK)
		goto out_rollback;
	rc = ms_store_commit(s);
	if (rc != MS_OK)
		goto out_clear_job;
	return MS_OK;

out_clear_job:
	ms_job_clear(job);
out_rollback:
	ms_store_rollback(s);
	return rc;
}

ms_status ms_queue_progress(ms_store *s, int64_t id, double progress)
{
	sqlite3_stmt *st;

	if (!s || isnan(progress))
		return MS_ERR_ARG;
	progress = progress < 0 ? 0 : progress > 1 ? 1 : progress;
	ms_status rc = ms_store_stmt(s, MS_STMT_QUEUE_PROGRESS,
				     "UPDATE jobs SET progress = ?2 WHERE id = ?1 AND state = 1", &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_double(st, 2, progress);
	return run_guarded(s, st, id, "job progress");
}

ms_status ms_queue_finish(ms_store *s, int64_t id, const char *result_json)
{
	sqlite3_stmt *st;

	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_QUEUE_FINISH,
				     "UPDATE jobs SET state = 2, result = ?2, progress = 1, finished = ?3, error = NULL "
				     "WHERE id = ?1 AND state = 1",
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (result_json)
		sqlite3_bind_text(st, 2, result_json, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, ms_store_now());
	return run_guarded(s, st, id, "finishing job");
}

ms_status ms_queue_fail(ms_store *s, int64_t id, const char *error)
{
	sqlite3_stmt *st;

	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_QUEUE_FAIL,
				     "UPDATE jobs SET state = 3, error = ?2, finished = ?3 WHERE id = ?1 AND state = 1",
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, error && error[0] ? error : "failed", -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, ms_store_now());
	return run_guarded(s, st, id, "failing job");
}

/* Runs a bound statement to completion and releases it; *changes gets the rows changed. */
static ms_status run_update(ms_store *s, sqlite3_stmt *st, const char *what, int *changes)
{
	int src = sqlite3_step(st);

	ms_store_release(st);
	if (src != SQLITE_DONE)
		return ms_store_fail(s, src, what);
	if (changes)
		*changes = sqlite3_changes(s->db);
	return MS_OK;
}

ms_status ms_queue_recover(ms_store *s, int max_attempts, int *requeued)
{
	sqlite3_stmt *st;
	ms_status rc;
	int n = 0, cancelled = 0, failed = 0;
	double now = ms_store_now();

	if (requeued)
		*requeued = 0;
	if (!s || max_attempts < 0)
		return MS_ERR_ARG;
	rc = ms_store_begin(s);
	if (rc != MS_OK)
		return rc;
	/* A user who asked to cancel a job does not want it to come back after a restart. */
	rc = ms_store_stmt(s, MS_STMT_QUEUE_RECOVER_CANCEL,
			   "UPDATE jobs SET state = 4, error = 'cancelled by user', finished = ?1 "
			   "WHERE state = 1 AND cancel_requested",
			   &st);
	if (rc != MS_OK)
		goto out_rollback;
	sqlite3_bind_double(st, 1, now);
	rc = run_update(s, st, "recovering cancelled jobs", &cancelled);
	if (rc != MS_OK)
		goto out_rollback;
	rc = ms_store_stmt(s, MS_STMT_QUEUE_RECOVER_REQUEUE,
			   "UPDATE jobs SET state = 0, started = 0, progress = 0 "
			   "WHERE state = 1 AND attempts < ?1",
			   &st);
	if (rc != MS_OK)
		goto out_rollback;
	sqlite3_bind_int(st, 1, max_attempts);
	rc = run_update(s, st, "requeueing interrupted jobs", &n);
	if (rc != MS_OK)
		goto out_rollback;
	rc = ms_store_stmt(s, MS_STMT_QUEUE_RECOVER_GIVE_UP,
			   "UPDATE jobs SET state = 3, finished = ?1, "
			   "error = printf('interrupted %d times (Orthanc stopped during the job); giving up', attempts) "
			   "WHERE state = 1",
			   &st);
	if (rc != MS_OK)
		goto out_rollback;
	sqlite3_bind_double(st, 1, now);
	rc = run_update(s, st, "failing interrupted jobs", &failed);
	if (rc != MS_OK)
		goto out_rollback;
	rc = ms_store_commit(s);
	if (rc != MS_OK)
		goto out_rollback;
	if (n || cancelled || failed)
		ms_log_warning("recovered jobs interrupted by a stop: %d requeued, %d failed, %d cancelled", n, failed,
			       cancelled);
	if (requeued)
		*requeued = n;
	return MS_OK;

out_rollback:
	ms_store_rollback(s);
	return rc;
}

ms_status ms_queue_retry(ms_store *s, int64_t id)
{
	sqlite3_stmt *st;

	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_QUEUE_RETRY,
				     "UPDATE jobs SET state = 0, attempts = 0, error = NULL, result = NULL, progress = 0, "
				     "cancel_requested = 0, started = 0, finished = 0, triggered_by = 'retry' "
				     "WHERE id = ?1 AND state IN (2, 3, 4)",
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return run_guarded(s, st, id, "retrying job");
}

ms_status ms_queue_cancel(ms_store *s, int64_t id)
{
	sqlite3_stmt *st;

	if (!s)
		return MS_ERR_ARG;
	/* One statement decides on the row's current state, so a concurrent claim cannot slip
	 * between "is it queued?" and "cancel it". */
	ms_status rc = ms_store_stmt(s, MS_STMT_QUEUE_CANCEL,
				     "UPDATE jobs SET "
				     "state = CASE state WHEN 0 THEN 4 ELSE state END, "
				     "error = CASE state WHEN 0 THEN 'cancelled by user' ELSE error END, "
				     "finished = CASE state WHEN 0 THEN ?2 ELSE finished END, "
				     "cancel_requested = CASE state WHEN 1 THEN 1 ELSE cancel_requested END "
				     "WHERE id = ?1 AND state IN (0, 1)",
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_double(st, 2, ms_store_now());
	return run_guarded(s, st, id, "cancelling job");
}

ms_status ms_queue_cancelled(ms_store *s, int64_t id)
{
	sqlite3_stmt *st;

	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_QUEUE_CANCELLED,
				     "UPDATE jobs SET state = 4, error = 'cancelled by user', finished = ?2 "
				     "WHERE id = ?1 AND state = 1",
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_double(st, 2, ms_store_now());
	return run_guarded(s, st, id, "marking job cancelled");
}

bool ms_queue_cancel_requested(ms_store *s, int64_t id)
{
	sqlite3_stmt *st;
	bool requested = false;

	if (!s || ms_store_stmt(s, MS_STMT_QUEUE_CANCEL_REQUESTED,
				"SELECT cancel_requested FROM jobs WHERE id = ?1", &st) != MS_OK)
		return false;
	sqlite3_bind_int64(st, 1, id);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		requested = sqlite3_column_int(st, 0) != 0;
	else if (src != SQLITE_DONE)
		ms_store_fail(s, src, "reading cancel request");
	ms_store_release(st);
	return requested;
}

ms_status ms_queue_get(ms_store *s, int64_t id, ms_job *job)
{
	sqlite3_stmt *st;

	if (!job)
		return MS_ERR_ARG;
	memset(job, 0, sizeof(*job));
	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_QUEUE_GET, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1", &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		rc = job_from_row(st, job);
	else if (src == SQLITE_DONE)
		rc = MS_ERR_NOTFOUND;
	else
		rc = ms_store_fail(s, src, "reading job");
	ms_store_release(st);
	return rc;
}

ms_status ms_queue_list(ms_store *s, int state, const char *series_id, int limit, ms_job **jobs, size_t *n)
{
	sqlite3_stmt *st;
	ms_job *list = NULL;
	size_t count = 0, cap = 0;
	ms_status rc;
	int src;

	if (!jobs || !n)
		return MS_ERR_ARG;
	*jobs = NULL;
	*n = 0;
	if (!s || state < -1 || state > MS_JOB_CANCELLED || limit < 1 || limit > MAX_LIST)
		return MS_ERR_ARG;
	/* Two statements so that each gets a good plan: by series through jobs_series, otherwise a
	 * backwards rowid scan that stops after limit rows. */
	if (series_id)
		rc = ms_store_stmt(s, MS_STMT_QUEUE_LIST_SERIES,
				   "SELECT " JOB_COLUMNS " FROM jobs WHERE series_id = ?3 AND (?1 < 0 OR state = ?1) "
				   "ORDER BY id DESC LIMIT ?2",
				   &st);
	else
		rc = ms_store_stmt(s, MS_STMT_QUEUE_LIST,
				   "SELECT " JOB_COLUMNS " FROM jobs WHERE (?1 < 0 OR state = ?1) "
				   "ORDER BY id DESC LIMIT ?2",
				   &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int(st, 1, state);
	sqlite3_bind_int(st, 2, limit);
	if (series_id)
		sqlite3_bind_text(st, 3, series_id, -1, SQLITE_STATIC);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		rc = ms_store_reserve((void **)&list, &cap, count, sizeof(*list));
		if (rc != MS_OK)
			goto out_free;
		rc = job_from_row(st, &list[count]);
		if (rc != MS_OK)
			goto out_free;
		count++;
	}
	if (src != SQLITE_DONE) {
		rc = ms_store_fail(s, src, "listing jobs");
		goto out_free;
	}
	ms_store_release(st);
	*jobs = list;
	*n = count;
	return MS_OK;

out_free:
	ms_store_release(st);
	ms_queue_free_list(list, count);
	return rc;
}

void ms_queue_free_list(ms_job *jobs, size_t n)
{
	if (!jobs)
		return;
	for (size_t i = 0; i < n; i++)
		ms_job_clear(&jobs[i]);
	ms_free(jobs);
}

ms_status ms_queue_counts(ms_store *s, int64_t counts[5], int64_t queued_by_prio[4])
{
	sqlite3_stmt *st;
	int src;

	if (!counts || !queued_by_prio)
		return MS_ERR_ARG;
	memset(counts, 0, 5 * sizeof(counts[0]));
	memset(queued_by_prio, 0, 4 * sizeof(queued_by_prio[0]));
	if (!s)
		return MS_ERR_ARG;
	/* Covered by jobs_claim (state, priority): no table rows are read. */
	ms_status rc = ms_store_stmt(s, MS_STMT_QUEUE_COUNTS,
				     "SELECT state, priority, count(*) FROM jobs GROUP BY state, priority", &st);
	if (rc != MS_OK)
		return rc;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		int state = sqlite3_column_int(st, 0), prio = sqlite3_column_int(st, 1);
		int64_t c = sqlite3_column_int64(st, 2);
		if (state >= 0 && state < 5)
			counts[state] += c;
		if (state == MS_JOB_QUEUED && prio >= 0 && prio < 4)
			queued_by_prio[prio] += c;
	}
	if (src != SQLITE_DONE) {
		rc = ms_store_fail(s, src, "counting jobs");
		memset(counts, 0, 5 * sizeof(counts[0]));
		memset(queued_by_prio, 0, 4 * sizeof(queued_by_prio[0]));
	}
	ms_store_release(st);
	return rc;
}
