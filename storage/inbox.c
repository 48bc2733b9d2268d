#include "storage/inbox.h"
#include "storage/store_internal.h"

#include "common/alloc.h"

#include <math.h>
#include <string.h>

ms_status ms_inbox_push(ms_store *s, int kind, const char *resource_id)
{
	sqlite3_stmt *st;

	if (!s || !resource_id || !resource_id[0])
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_INBOX_PUSH,
				     "INSERT INTO events (kind, resource_id, created) VALUES (?1, ?2, ?3)", &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, resource_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, ms_store_now());
	int src = sqlite3_step(st);
	if (src != SQLITE_DONE)
		rc = ms_store_fail(s, src, "pushing event");
	ms_store_release(st);
	return rc;
}

ms_status ms_inbox_pop(ms_store *s, ms_event *ev)
{
	sqlite3_stmt *st;

	if (!ev)
		return MS_ERR_ARG;
	memset(ev, 0, sizeof(*ev));
	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_INBOX_POP,
				     "SELECT id, kind, resource_id, created FROM events ORDER BY id LIMIT 1", &st);
	if (rc != MS_OK)
		return rc;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		ev->id = sqlite3_column_int64(st, 0);
		ev->kind = sqlite3_column_int(st, 1);
		ev->created = sqlite3_column_double(st, 3);
		rc = ms_store_column_text(st, 2, &ev->resource_id);
		if (rc != MS_OK)
			memset(ev, 0, sizeof(*ev));
	} else if (src == SQLITE_DONE) {
		rc = MS_ERR_NOTFOUND;
	} else {
		rc = ms_store_fail(s, src, "reading event");
	}
	ms_store_release(st);
	return rc;
}

ms_status ms_inbox_done(ms_store *s, int64_t id)
{
	sqlite3_stmt *st;

	if (!s)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_INBOX_DONE, "DELETE FROM events WHERE id = ?1", &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int src = sqlite3_step(st);
	ms_store_release(st);
	if (src != SQLITE_DONE)
		return ms_store_fail(s, src, "deleting event");
	return sqlite3_changes(s->db) ? MS_OK : MS_ERR_NOTFOUND;
}

void ms_event_clear(ms_event *ev)
{
	if (!ev)
		return;
	ms_free(ev->resource_id);
	memset(ev, 0, sizeof(*ev));
}

ms_status ms_inbox_series_seen_at(ms_store *s, const char *series_id, double when)
{
	sqlite3_stmt *st;

	if (!s || !series_id || !series_id[0] || !(when > 0))
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_INBOX_SEEN,
				     "INSERT INTO pending_series (series_id, first_seen, last_seen) VALUES (?1, ?2, ?2) "
				     "ON CONFLICT (series_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_text(st, 1, series_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, when);
	int src = sqlite3_step(st);
	if (src != SQLITE_DONE)
		rc = ms_store_fail(s, src, "recording pending series");
	ms_store_release(st);
	return rc;
}

ms_status ms_inbox_series_seen(ms_store *s, const char *series_id)
{
	return ms_inbox_series_seen_at(s, series_id, ms_store_now());
}

ms_status ms_inbox_series_triggered(ms_store *s, const char *series_id, double when)
{
	sqlite3_stmt *st;

	if (!s || !series_id || !series_id[0] || !(when > 0))
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_INBOX_TRIGGERED,
				     "INSERT INTO pending_series (series_id, first_seen, last_seen, triggered_at) "
				     "VALUES (?1, ?2, ?2, ?2) ON CONFLICT (series_id) DO UPDATE SET "
				     "triggered_at = max(triggered_at, excluded.triggered_at)",
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_text(st, 1, series_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, when);
	int src = sqlite3_step(st);
	if (src != SQLITE_DONE)
		rc = ms_store_fail(s, src, "recording a series analysed when complete");
	ms_store_release(st);
	return rc;
}

ms_status ms_inbox_series_analysed(ms_store *s, const char *series_id, bool *current)
{
	sqlite3_stmt *st;

	if (current)
		*current = false;
	if (!s || !series_id || !current)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_INBOX_ANALYSED,
				     "SELECT triggered_at > 0 AND last_seen <= triggered_at FROM pending_series "
				     "WHERE series_id = ?1",
				     &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_text(st, 1, series_id, -1, SQLITE_STATIC);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		*current = sqlite3_column_int(st, 0) != 0;
	else if (src != SQLITE_DONE)
		rc = ms_store_fail(s, src, "reading a pending series");
	ms_store_release(st);
	return rc;
}

ms_status ms_inbox_series_settled(ms_store *s, const char *series_id)
{
	sqlite3_stmt *st;

	if (!s || !series_id)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_INBOX_SETTLED, "DELETE FROM pending_series WHERE series_id = ?1", &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_text(st, 1, series_id, -1, SQLITE_STATIC);
	int src = sqlite3_step(st);
	if (src != SQLITE_DONE)
		rc = ms_store_fail(s, src, "removing pending series");
	ms_store_release(st);
	return rc;
}

ms_status ms_inbox_series_older_than(ms_store *s, double age_s, char ***ids, size_t *n)
{
	sqlite3_stmt *st;
	char **list = NULL;
	size_t count = 0, cap = 0;
	int src;

	if (!ids || !n)
		return MS_ERR_ARG;
	*ids = NULL;
	*n = 0;
	if (!s || isnan(age_s) || age_s < 0)
		return MS_ERR_ARG;
	ms_status rc = ms_store_stmt(s, MS_STMT_INBOX_OLDER,
				     "SELECT series_id FROM pending_series WHERE last_seen < ?1 ORDER BY last_seen", &st);
	if (rc != MS_OK)
		return rc;
	sqlite3_bind_double(st, 1, ms_store_now() - age_s);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		rc = ms_store_reserve((void **)&list, &cap, count, sizeof(*list));
		if (rc != MS_OK)
			goto out_free;
		rc = ms_store_column_text(st, 0, &list[count]);
		if (rc != MS_OK)
			goto out_free;
		count++;
	}
	if (src != SQLITE_DONE) {
		rc = ms_store_fail(s, src, "listing pending series");
		goto out_free;
	}
	ms_store_release(st);
	*ids = list;
	*n = count;
	return MS_OK;

out_free:
	ms_store_release(st);
	ms_inbox_free_ids(list, count);
	return rc;
}

void ms_inbox_free_ids(char **ids, size_t n)
{
	if (!ids)
		return;
	for (size_t i = 0; i < n; i++)
		ms_free(ids[i]);
	ms_free(ids);
}
