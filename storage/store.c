#include "storage/store.h"
#include "storage/store_internal.h"

#include "common/alloc.h"
#include "common/log.h"
#include "ms_schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 5000

ms_status ms_store_fail(ms_store *s, int rc, const char *what)
{
	ms_log_error("SQLite error in %s: %s (%d)", what, s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc),
		     rc);
	return (rc & 0xff) == SQLITE_NOMEM ? MS_ERR_NOMEM : MS_ERR_SQL;
}

ms_status ms_store_stmt(ms_store *s, ms_store_stmt_id id, const char *sql, sqlite3_stmt **out)
{
	*out = NULL;
	if (!s->stmts[id]) {
		/* PERSISTENT: these live as long as the connection, so SQLite need not use lookaside. */
		int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL);
		if (rc != SQLITE_OK) {
			s->stmts[id] = NULL;
			return ms_store_fail(s, rc, sql);
		}
	}
	*out = s->stmts[id];
	return MS_OK;
}

void ms_store_release(sqlite3_stmt *st)
{
	if (!st)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static ms_status run_simple(ms_store *s, ms_store_stmt_id id, const char *sql)
{
	sqlite3_stmt *st;
	ms_status rc = ms_store_stmt(s, id, sql, &st);

	if (rc != MS_OK)
		return rc;
	int src = sqlite3_step(st);
	if (src != SQLITE_DONE)
		rc = ms_store_fail(s, src, sql);
	ms_store_release(st);
	return rc;
}

ms_status ms_store_begin(ms_store *s)
{
	return run_simple(s, MS_STMT_BEGIN, "BEGIN IMMEDIATE");
}

ms_status ms_store_commit(ms_store *s)
{
	return run_simple(s, MS_STMT_COMMIT, "COMMIT");
}

void ms_store_rollback(ms_store *s)
{
	/* After some errors (SQLITE_FULL, SQLITE_NOMEM...) SQLite has already rolled back. */
	if (sqlite3_get_autocommit(s->db))
		return;
	run_simple(s, MS_STMT_ROLLBACK, "ROLLBACK");
}

double ms_store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

ms_status ms_store_column_text(sqlite3_stmt *st, int col, char **out)
{
	*out = NULL;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return MS_OK;
	const unsigned char *text = sqlite3_column_text(st, col);
	if (!text)
		return MS_ERR_NOMEM; /* non-NULL value whose text conversion failed */
	*out = ms_strndup((const char *)text, (size_t)sqlite3_column_bytes(st, col));
	return *out ? MS_OK : MS_ERR_NOMEM;
}

/* Runs one PRAGMA and, if value is not NULL, copies its first result column (snprintf).
 * Returns SQLite's code: SQLITE_DONE on success; the caller reports failures. */
static int pragma_run(ms_store *s, const char *sql, char *value, size_t size)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	if (value)
		value[0] = '\0';
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (value && !value[0]) {
			const unsigned char *t = sqlite3_column_text(st, 0);
			snprintf(value, size, "%s", t ? (const char *)t : "");
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static ms_status pragma(ms_store *s, const char *sql, char *value, size_t size)
{
	int rc = pragma_run(s, sql, value, size);
	return rc == SQLITE_DONE ? MS_OK : ms_store_fail(s, rc, sql);
}

/* Switches the file to WAL. SQLite answers SQLITE_BUSY here without calling the busy handler
 * when waiting could deadlock (another connection reading the fresh file while upgrading its
 * own lock), so openers racing on a new file retry on their own, within the busy timeout. */
static ms_status set_wal_mode(ms_store *s, char *mode, size_t size)
{
	const char *sql = "PRAGMA journal_mode = WAL";
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	int rc;

	for (int waited_ms = 0;; waited_ms += 10) {
		rc = pragma_run(s, sql, mode, size);
		if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
			break;
		nanosleep(&pause, NULL);
	}
	return rc == SQLITE_DONE ? MS_OK : ms_store_fail(s, rc, sql);
}

/* Applies the migrations the file lacks. Each runs in its own BEGIN IMMEDIATE transaction that
 * re-reads user_version first, so a second process opening the same file at the same time
 * waits for the first and then finds nothing left to do. */
static ms_status migrate(ms_store *s, const char *path)
{
	for (;;) {
		char buf[32];
		ms_status rc = ms_store_begin(s);
		if (rc != MS_OK)
			return rc;
		rc = pragma(s, "PRAGMA user_version", buf, sizeof(buf));
		if (rc != MS_OK)
			goto out_rollback;
		long version = strtol(buf, NULL, 10);
		if (version < 0 || (unsigned long)version > ms_schema_count) {
			ms_log_error("database %s has schema version %ld but this MedSight only knows versions up to "
				     "%u: it was written by a newer MedSight; refusing to use it (upgrade the plugin "
				     "or configure another Database file)",
				     path, version, ms_schema_count);
			rc = MS_ERR_SQL;
			goto out_rollback;
		}
		if ((unsigned long)version == ms_schema_count)
			return ms_store_commit(s);

		char *err = NULL;
		int src = sqlite3_exec(s->db, ms_schema[version], NULL, NULL, &err);
		if (src != SQLITE_OK) {
			ms_log_error("migration %s failed on %s: %s", ms_schema_names[version], path,
				     err ? err : sqlite3_errstr(src));
			sqlite3_free(err);
			rc = (src & 0xff) == SQLITE_NOMEM ? MS_ERR_NOMEM : MS_ERR_SQL;
			goto out_rollback;
		}
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %ld", version + 1);
		rc = pragma(s, sql, NULL, 0);
		if (rc != MS_OK)
			goto out_rollback;
		rc = ms_store_commit(s);
		if (rc != MS_OK)
			goto out_rollback;
		ms_log_info("database %s: applied migration %s", path, ms_schema_names[version]);
		continue;
out_rollback:
		ms_store_rollback(s);
		return rc;
	}
}

ms_status ms_store_open(const char *path, ms_store **out)
{
	ms_status rc;
	char mode[32];

	if (!out)
		return MS_ERR_ARG;
	*out = NULL;
	if (!path || !path[0])
		return MS_ERR_ARG;

	ms_store *s = ms_calloc(1, sizeof(*s));
	if (!s)
		return MS_ERR_NOMEM;
	int src = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (src != SQLITE_OK) {
		ms_log_error("cannot open database %s: %s", path,
			     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
		rc = (src & 0xff) == SQLITE_NOMEM ? MS_ERR_NOMEM : MS_ERR_SQL;
		goto out_close;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* Before anything that takes a lock: switching to WAL needs the write lock. */
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	rc = set_wal_mode(s, mode, sizeof(mode));
	if (rc != MS_OK)
		goto out_close;
	/* ":memory:" answers "memory"; anything else on a file means concurrency will suffer. */
	if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
		ms_log_warning("database %s: journal_mode is %s, not wal (file system without shared memory?)",
			       path, mode);
	rc = pragma(s, "PRAGMA synchronous = NORMAL", NULL, 0);
	if (rc != MS_OK)
		goto out_close;
	rc = pragma(s, "PRAGMA foreign_keys = ON", NULL, 0);
	if (rc != MS_OK)
		goto out_close;
	rc = migrate(s, path);
	if (rc != MS_OK)
		goto out_close;
	*out = s;
	return MS_OK;

out_close:
	ms_store_close(s);
	return rc;
}

void ms_store_close(ms_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < MS_STMT_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	/* Everything is finalized, so close cannot fail with SQLITE_BUSY. */
	sqlite3_close(s->db);
	ms_free(s);
}

ms_status ms_store_reserve(void **list, size_t *cap, size_t count, size_t elem)
{
	if (count < *cap)
		return MS_OK;
	size_t want = *cap ? *cap * 2 : 16;
	if (want > SIZE_MAX / elem)
		return MS_ERR_NOMEM;
	void *grown = ms_realloc(*list, want * elem);
	if (!grown)
		return MS_ERR_NOMEM;
	*list = grown;
	*cap = want;
	return MS_OK;
}

