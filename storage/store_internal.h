/* For the storage/ sources only: the connection and the prepared-statement cache behind ms_store.
 * Includes sqlite3.h, which nothing outside storage/ may do. Not thread-safe (one connection). */
#pragma once
#include "storage/store.h"

#include <sqlite3.h>
#include <stddef.h>

/* One slot per cached statement. The SQL text stays next to the function that runs it; the
 * first ms_store_stmt() call for a slot prepares it, later calls reuse it. */
typedef enum {
	MS_STMT_BEGIN = 0,
	MS_STMT_COMMIT,
	MS_STMT_ROLLBACK,
	MS_STMT_QUEUE_FIND_QUEUED,
	MS_STMT_QUEUE_RAISE,
	MS_STMT_QUEUE_INSERT,
	MS_STMT_QUEUE_CLAIM,
	MS_STMT_QUEUE_PROGRESS,
	MS_STMT_QUEUE_FINISH,
	MS_STMT_QUEUE_FAIL,
	MS_STMT_QUEUE_STATE,
	MS_STMT_QUEUE_RECOVER_CANCEL,
	MS_STMT_QUEUE_RECOVER_REQUEUE,
	MS_STMT_QUEUE_RECOVER_GIVE_UP,
	MS_STMT_QUEUE_RETRY,
	MS_STMT_QUEUE_CANCEL,
	MS_STMT_QUEUE_CANCELLED,
	MS_STMT_QUEUE_CANCEL_REQUESTED,
	MS_STMT_QUEUE_GET,
	MS_STMT_QUEUE_LIST,
	MS_STMT_QUEUE_LIST_SERIES,
	MS_STMT_QUEUE_COUNTS,
	MS_STMT_INBOX_PUSH,
	MS_STMT_INBOX_POP,
	MS_STMT_INBOX_DONE,
	MS_STMT_INBOX_SEEN,
	MS_STMT_INBOX_SETTLED,
	MS_STMT_INBOX_OLDER,
	MS_STMT_INBOX_TRIGGERED,
	MS_STMT_INBOX_ANALYSED,
	MS_STMT_PERF_INSERT,
	MS_STMT_PERF_PRUNE,
	MS_STMT_PERF_LIST,
	MS_STMT_PERF_SUMMARY,
	MS_STMT_OUTBOX_ADD,
	MS_STMT_OUTBOX_CLAIM,
	MS_STMT_OUTBOX_DONE,
	MS_STMT_OUTBOX_RETRY_LATER,
	MS_STMT_OUTBOX_FAIL,
	MS_STMT_OUTBOX_RELEASE,
	MS_STMT_OUTBOX_STATE,
	MS_STMT_OUTBOX_RECOVER,
	MS_STMT_OUTBOX_NEXT_DUE,
	MS_STMT_OUTBOX_LIST,
	MS_STMT_OUTBOX_LIST_JOB,
	MS_STMT_COUNT
} ms_store_stmt_id;

struct ms_store {
	sqlite3 *db;
	sqlite3_stmt *stmts[MS_STMT_COUNT]; /* NULL until first used */
};

/* Returns in *out the cached statement for slot id, preparing sql on first use. The statement
 * is reset with no bindings; give it back with ms_store_release(). A slot always gets the same
 * sql. MS_ERR_SQL (logged) or MS_ERR_NOMEM on failure, *out NULL. */
ms_status ms_store_stmt(ms_store *s, ms_store_stmt_id id, const char *sql, sqlite3_stmt **out);

/* Resets st and clears its bindings so that it holds no locks or borrowed text. NULL is a no-op. */
void ms_store_release(sqlite3_stmt *st);

/* Logs "SQLite error in <what>: <sqlite3_errmsg>" and maps rc: SQLITE_NOMEM -> MS_ERR_NOMEM,
 * anything else -> MS_ERR_SQL. */
ms_status ms_store_fail(ms_store *s, int rc, const char *what);

/* BEGIN IMMEDIATE (takes the write lock now, waiting up to the busy timeout), COMMIT, and a
 * ROLLBACK that is a no-op when no transaction is open (SQLite may already have rolled back). */
ms_status ms_store_begin(ms_store *s);
ms_status ms_store_commit(ms_store *s);
void ms_store_rollback(ms_store *s);

/* Current time as unix seconds with fractions. */
double ms_store_now(void);

/* Makes room for element number count in the growable array *list of *cap elements of elem
 * bytes (doubling, first 16). MS_ERR_NOMEM leaves *list and *cap as they were. */
ms_status ms_store_reserve(void **list, size_t *cap, size_t count, size_t elem);

/* Copies column col of the current row to a heap string (ms_free), NULL for SQL NULL.
 * Returns MS_ERR_NOMEM if the copy fails, *out NULL. */
ms_status ms_store_column_text(sqlite3_stmt *st, int col, char **out);
