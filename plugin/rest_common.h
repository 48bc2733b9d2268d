/* Pieces every REST handler module (rest.c, rest_perf.c, forward.c) shares. */
#pragma once
#include <orthanc/OrthancCPlugin.h>

#include "common/strbuf.h"
#include "plugin/plugin.h"

/* The raw value of query argument key, or NULL. */
const char *ms_rest_arg(const OrthancPluginHttpRequest *req, const char *key);

/* Borrows a pooled SQLite connection for one request (give it back with ms_db_pool_put); on
 * failure answers 500 itself and returns NULL. */
ms_store *ms_rest_db_get(ms_plugin *p, OrthancPluginRestOutput *out);

/* Appends `, "key": "<ISO 8601>"` for unix seconds t, or `, "key": null` when t <= 0. */
void ms_rest_append_time(ms_strbuf *b, const char *key, double t);
