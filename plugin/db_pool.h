/* A pool of SQLite connections (ms_store) so that every thread uses its own connection without
 * opening one per request. Thread-safe. */
#pragma once
#include "common/status.h"
#include "storage/store.h"

typedef struct ms_db_pool ms_db_pool;

/* Opens the first connection right away so that a bad path or schema fails at start-up. */
ms_status ms_db_pool_create(const char *path, ms_db_pool **out);
void ms_db_pool_destroy(ms_db_pool *p);  /* all connections must have been put back */

/* Takes an idle connection or opens a new one. *out belongs to the caller until ms_db_pool_put. */
ms_status ms_db_pool_get(ms_db_pool *p, ms_store **out);
void ms_db_pool_put(ms_db_pool *p, ms_store *s);
