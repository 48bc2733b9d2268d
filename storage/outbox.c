#include "storage/outbox.h"
#include "storage/store_internal.h"

#include "common/alloc.h"
#include "common/log.h"

#include <math.h>
#include <string.h>

/* Column order read by item_from_row(). */
#define OUTBOX_COLUMNS                                                                            \
	"id, job_id, instance_id, destination, state, attempts, generation, next_attempt_at, "    \
	"last_error, created, updated, finished"

#define MAX_LIST 1000

static const char *const state_names[] = { "pending", "sending", "done", "failed" };

void ms_outbox_item_clear(ms_outbox_item *it)
{
	if (!it)
		return;
	ms_free(it->instance_id);
	ms_free(it->destination);
	ms_free(it->last_error);
	memset(it, 0, sizeof(*it));
}

const char *ms_outbox_state_name(ms_outbox_state s)
{
	if ((unsigned)s < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[s];
	return "unknown";
}

/* Copies the current row (OUTBOX_COLUMNS order) into *it; *it is zeroed on failure. */
static ms_status item_from_row(sqlite3_stmt *st, ms_outbox_item *it)
{
	ms_status rc;

	memset(it, 0, sizeof(*it));
	it->id = sqlite3_column_int64(st, 0);
	it->job_id = sqlite3_column_int64(st, 1);
	it->state = (ms_outbox_state)sqlite3_column_int(st, 4);
	it->attempts = sqlite3_column_int(st, 5);
	it->generation = sqlite3_column_int64(st, 6);
	it->next_attempt_at = sqlite3_column_double(st, 7);
	it->created = sqlite3_column_double(st, 9);
	it->updated = sqlite3_column_double(st, 10);
	it->finished = sqlite3_column_double(st, 11);
	if ((rc = ms_store_column_text(st, 2, &it->instance_id)) != MS_OK ||
	    (rc = ms_store_column_text(st, 3, &it->destination)) != MS_OK ||
	    (rc = ms_store_column_text(st, 8, &it->last_error)) != MS_OK)
		ms_outbox_item_clear(it);
	return rc;
}

ms_status ms_outbox_add(ms_store *s, int64_t job_id, const char *instance_id, const char *destination,
			double not_before, int64_t *id)
{
	sqlite3_stmt *st;

	if (id)
		*id = 0;
	if (!s || job_id < 0 || !instance_id || !instance_id[0] || !destination || !destination[0] ||
	    isnan(not_before))
		return MS_ERR_ARG;
	/* One statement: the duplicate check and the insert cannot be split by another writer. */
	ms_status rc = ms_store_stmt(s, MS_STMT_OUTBOX_ADD,
				     "INSERT INTO outbox (job_id, instance_id, destination, next_attempt_at, created, "
				     "updated) VALUES (?1, ?2, ?3, ?4, ?5, ?5) "
				     "ON CONFLICT (job_id, instance_id, destination) DO UPDATE SET state = 0, "
				     "attempts = 0, generation = generation + 1, next_attempt_at = excluded.next_attempt_at, "
				     "last_error = NULL, updated = excluded.updated, finished = 0 "
				     "RETURNING id",
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_text(st, 2, instance_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, destination, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, not_before);
	sqlite3_bind_double(st, 5, ms_store_now());
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		if (id)
			*id = sqlite3_column_int64(st, 0);
		src = sqlite3_step(st); /* runs the statement to completion, committing it */
	}
	if (src != SQLITE_DONE)
		rc = ms_store_fail(s, src, "queueing a forward");
	ms_store_release(st);
	if (rc != MS_OK && id)
		*id = 0;
	return rc;
}

ms_status ms_outbox_claim(ms_store *s, double now, ms_outbox_item *it)
{
	sqlite3_stmt *st;
	ms_status rc;

	if (!it)
		return MS_ERR_ARG;
	memset(it, 0, sizeof(*it));
	if (!s)
		return MS_ERR_ARG;
	/* As ms_queue_claim: the write lock is taken first, and the copy is made inside the
	 * transaction so that running out of memory undoes the claim. */
	rc = ms_store_begin(s);
	if (rc != MS_OK)
		return rc;
	rc = ms_store_stmt(s, MS_STMT_OUTBOX_CLAIM,
			   "UPDATE outbox SET state = 1, attempts = attempts + 1, updated = ?2 "
			   "WHERE id = (SELECT id FROM outbox WHERE state = 0 AND next_attempt_at <= ?1 "
			   "ORDER BY next_attempt_at, id LIMIT 1) "
			   "RETURNING " OUTBOX_COLUMNS,
			   &st);
	if (rc != MS_OK)
		goto out_rollback;
	sqlite3_bind_double(st, 1, now);
	sqlite3_bind_double(st, 2, ms_store_now()); /* now may be a test's clock; updated is real time */
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		rc = item_from_row(st, it);
	else if (src == SQLITE_DONE)
		rc = MS_ERR_NOTFOUND;
	else
		rc = ms_store_fail(s, src, "claiming a forward");
	ms_store_release(st);
	if (rc != MS_OK)
		goto out_rollback;
	rc = ms_store_commit(s);
	if (rc != MS_OK)
		goto out_clear_item;
	return MS_OK;

out_clear_item:
	ms_outbox_item_clear(it);
out_rollback:
	ms_store_rollback(s);
	return rc;
}

/* Why an update guarded by (state = sending, generation) changed nothing. */
static ms_status state_error(ms_store *s, int64_t id)
{
	sqlite3_stmt *st;
	ms_status rc = ms_store_stmt(s, MS_STMT_OUTBOX_STATE, "SELECT state FROM outbox WHERE id = ?1", &st);

	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		rc = MS_ERR_STATE;
	else if (src == SQLITE_DONE)
		rc = MS_ERR_NOTFOUND;
	else
		rc = ms_store_fail(s, src, "forward state");
	ms_store_release(st);
	return rc;
}

/* Binds ?1 id, ?2 generation, ?3 now, runs the guarded UPDATE st and releases it. */
static ms_status run_guarded(ms_store *s, sqlite3_stmt *st, int64_t id, int64_t generation, const char *what)
{
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, generation);
	sqlite3_bind_double(st, 3, ms_store_now());
	int src = sqlite3_step(st);
	ms_status rc = MS_OK;

	if (src != SQLITE_DONE)
		rc = ms_store_fail(s, src, what);
	ms_store_release(st);
	if (rc == MS_OK && sqlite3_changes(s->db) == 0)
		rc = state_error(s, id);
	return rc;
}

#define GUARD " WHERE id = ?1 AND generation = ?2 AND state = 1"

ms_status ms_outbox_done(ms_store *s, int64_t id, int64_t generation)
{
	sqlite3_stmt *st;

	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_OUTBOX_DONE,
				     "UPDATE outbox SET state = 2, last_error = NULL, updated = ?3, finished = ?3" GUARD,
				     &st);
	if (rc != MS_OK)
		return rc;
	return run_guarded(s, st, id, generation, "finishing a forward");
}

ms_status ms_outbox_retry_later(ms_store *s, int64_t id, int64_t generation, double next_attempt_at,
				const char *error)
{
	sqlite3_stmt *st;

	if (!s || isnan(next_attempt_at))
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_OUTBOX_RETRY_LATER,
				     "UPDATE outbox SET state = 0, next_attempt_at = ?4, last_error = ?5, updated = ?3" GUARD,
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_double(st, 4, next_attempt_at);
	sqlite3_bind_text(st, 5, error && error[0] ? error : "failed", -1, SQLITE_STATIC);
	return run_guarded(s, st, id, generation, "rescheduling a forward");
}

ms_status ms_outbox_fail(ms_store *s, int64_t id, int64_t generation, const char *error)
{
	sqlite3_stmt *st;

	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_OUTBOX_FAIL,
				     "UPDATE outbox SET state = 3, last_error = ?4, updated = ?3, finished = ?3" GUARD,
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_text(st, 4, error && error[0] ? error : "failed", -1, SQLITE_STATIC);
	return run_guarded(s, st, id, generation, "failing a forward");
}

ms_status ms_outbox_release(ms_store *s, int64_t id, int64_t generation)
{
	sqlite3_stmt *st;

	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_OUTBOX_RELEASE,
				     "UPDATE outbox SET state = 0, attempts = max(attempts - 1, 0), next_attempt_at = ?3, "
				     "updated = ?3" GUARD,
				     &st);
	if (rc != MS_OK)
		return rc;
	return run_guarded(s, st, id, generation, "releasing a forward");
}

ms_status ms_outbox_recover(ms_store *s, int *requeued)
{
	sqlite3_stmt *st;

	if (requeued)
		*requeued = 0;
	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_OUTBOX_RECOVER,
				     "UPDATE outbox SET state = 0, next_attempt_at = ?1, updated = ?1 WHERE state = 1", &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_double(st, 1, ms_store_now());
	int src = sqlite3_step(st);
	ms_store_release(st);
	if (src != SQLITE_DONE)
		return ms_store_fail(s, src, "recovering forwards");
	int n = sqlite3_changes(s->db);
	if (n)
		ms_log_warning("%d forward(s) were being sent when Orthanc stopped; they are sent again", n);
	if (requeued)
		*requeued = n;
	return MS_OK;
}

ms_status ms_outbox_next_due(ms_store *s, double *when)
{
	sqlite3_stmt *st;

	if (!when)
		return MS_ERR_ARG;
	*when = 0;
	if (!s)
		return MS_ERR_ARG;
	/* Covered by outbox_due: reads the first index entry with state 0. */
	ms_status rc = ms_store_stmt(s, MS_STMT_OUTBOX_NEXT_DUE,
				     "SELECT next_attempt_at FROM outbox WHERE state = 0 ORDER BY next_attempt_at LIMIT 1",
				     &st);
	if (rc != MS_OK)
		return rc;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		*when = sqlite3_column_double(st, 0);
	else if (src == SQLITE_DONE)
		rc = MS_ERR_NOTFOUND;
	else
		rc = ms_store_fail(s, src, "next forward");
	ms_store_release(st);
	return rc;
}

ms_status ms_outbox_list(ms_store *s, int64_t job_id, int limit, ms_outbox_item **items, size_t *n)
{
	sqlite3_stmt *st;
	ms_outbox_item *list = NULL;
	size_t count = 0, cap = 0;
	ms_status rc;
	int src;

	if (!items || !n)
		return MS_ERR_ARG;
	*items = NULL;
	*n = 0;
	if (!s || limit < 1 || limit > MAX_LIST)
		return MS_ERR_ARG;
	/* By job through the UNIQUE index (job_id first), otherwise a backwards rowid scan. */
	if (job_id >= 0)
		rc = ms_store_stmt(s, MS_STMT_OUTBOX_LIST_JOB,
				   "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE job_id = ?1 ORDER BY id DESC LIMIT ?2",
				   &st);
	else
		rc = ms_store_stmt(s, MS_STMT_OUTBOX_LIST, "SELECT " OUTBOX_COLUMNS " FROM outbox ORDER BY id DESC LIMIT ?2",
				   &st);
	if (rc != MS_OK)
		return rc;
	if (job_id >= 0)
		sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int(st, 2, limit);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		rc = ms_store_reserve((void **)&list, &cap, count, sizeof(*list));
		if (rc != MS_OK)
			goto out_free;
		rc = item_from_row(st, &list[count]);
		if (rc != MS_OK)
			goto out_free;
		count++;
	}
	if (src != SQLITE_DONE) {
		rc = ms_store_fail(s, src, "listing forwards");
		goto out_free;
	}
	ms_store_release(st);
	*items = list;
	*n = count;
	return MS_OK;

out_free:
	ms_store_release(st);
	ms_outbox_free_list(list, count);
	return rc;
}

void ms_outbox_free_list(ms_outbox_item *items, size_t n)
{
	if (!items)
		return;
	for (size_t i = 0; i < n; i++)
		ms_outbox_item_clear(&items[i]);
	ms_free(items);
}
