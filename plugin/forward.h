/* Forwarding of results to the DICOMweb servers of MedSight.Forward with STOW-RS (libcurl).
 *
 * Data flow: whoever stores an instance that must leave the node (the worker after a job, an
 * administrator through POST /medsight/forward) queues it with ms_forward_enqueue, which writes
 * one row per destination into the durable outbox (storage/outbox.h). One forwarding thread,
 * running between OrthancStarted and OrthancStopped, takes due rows, reads the instance from
 * Orthanc and POSTs it to <Url>/studies. A failed send is retried with exponential backoff
 * (2 s * 2^(n-1), at most 10 min) until the destination's MaxAttempts, then the row is failed with
 * the reason. Rows survive restarts: one interrupted mid-send is sent again at the next start. */
#pragma once
#include <stdint.h>

#include "common/status.h"
#include "common/strbuf.h"
#include "plugin/plugin.h"
#include "storage/store.h"

/* Process-wide set-up, once, in OrthancPluginInitialize before any thread runs: initialises
 * libcurl (curl_global_init is not thread-safe) and puts rows left "sending" by an earlier run
 * back to pending, using the caller's connection db (borrowed). MS_ERR_IO if libcurl cannot
 * initialise; MS_ERR_SQL. */
ms_status ms_forward_init(ms_store *db);

/* Undoes ms_forward_init (curl_global_cleanup) once the thread has stopped; a no-op when
 * ms_forward_init did not succeed. OrthancPluginFinalize only. */
void ms_forward_cleanup(void);

/* Starts the forwarding thread; it opens its own SQLite connection. *out is NULL on failure
 * (MS_ERR_NOMEM). Called from the change callback on OrthancStarted. */
ms_status ms_forward_start(ms_plugin *p, ms_forwarder **out);

/* Stops the thread and joins it. A send under way is aborted within about a second and its row
 * goes back to pending without counting an attempt. NULL is a no-op. */
void ms_forward_stop(ms_forwarder *f);

/* Makes the thread look for due rows now. NULL is a no-op. Thread-safe. */
void ms_forward_wake(ms_forwarder *f);

/* Queues Orthanc instance instance_id for every configured destination, due now, on the
 * caller's connection db; job_id is the job that produced it, 0 for an administrator's re-send.
 * A row that exists for the same (job, instance, destination) is queued again afresh. Wakes the
 * thread. MS_OK without doing anything when no destination is configured; MS_ERR_ARG;
 * MS_ERR_SQL; MS_ERR_NOMEM. Thread-safe (with one connection per thread). */
ms_status ms_forward_enqueue(ms_plugin *p, ms_store *db, int64_t job_id, const char *instance_id);

/* Appends `, "Forward": [{"Destination", "Instance", "State", "Attempts", "Error",
 * "NextAttemptAt"}, ...]` (oldest first) for job job_id to b, for the job JSON of the REST API;
 * `"Forward": null` when the rows cannot be read. Uses a pooled connection. Thread-safe. */
void ms_forward_append_job(ms_plugin *p, int64_t job_id, ms_strbuf *b);

/* Registers GET /medsight/forward (the outbox, newest first; ?job=N&limit=M) and
 * POST /medsight/forward {"Instances": [...]} (re-send instances to every destination). Called
 * once from ms_rest_register. */
void ms_forward_register_rest(ms_plugin *p);
