/* The MedSight SQLite database: one connection, its migrations and its statement cache.
 * Queue (storage/queue.h) and inbox (storage/inbox.h) functions take an ms_store. */
#pragma once
#include "common/status.h"

/* One SQLite connection. Not thread-safe: use one per thread. Several connections, in several
 * threads or processes, may use the same file at once (WAL journal, 5 s busy timeout). */
typedef struct ms_store ms_store;

/* Opens (creating if needed) the database at path (":memory:" allowed), sets journal_mode=WAL,
 * synchronous=NORMAL, foreign_keys=ON and a 5000 ms busy timeout, then applies the embedded
 * migrations storage/schema/NNNN_*.sql that the file lacks (PRAGMA user_version), each in its own
 * transaction, so concurrent openers migrate once.
 * Returns MS_OK and *out (the caller closes it with ms_store_close); MS_ERR_ARG for NULL
 * arguments; MS_ERR_SQL if SQLite fails or the file was written by a newer MedSight (its
 * user_version exceeds the migrations known here); MS_ERR_NOMEM. *out is NULL on failure. */
ms_status ms_store_open(const char *path, ms_store **out);

/* Finalizes the cached statements and closes the connection. NULL is a no-op. */
void ms_store_close(ms_store *s);
