/* The durable forwarding outbox (table "outbox"): one row per (job, Orthanc instance, DICOMweb
 * destination) that plugin/forward.c must deliver with STOW-RS. A row is pending until it is due
 * (next_attempt_at), sending while a forwarder holds it, then done, or failed after its
 * destination's MaxAttempts. Rows survive restarts.
 *
 * Every function takes the calling thread's own ms_store; several connections and threads may
 * use one database at once. Strings passed in are borrowed for the call only. */
#pragma once
#include "common/status.h"
#include "storage/store.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
	MS_OUTBOX_PENDING = 0,
	MS_OUTBOX_SENDING = 1,
	MS_OUTBOX_DONE = 2,
	MS_OUTBOX_FAILED = 3,
} ms_outbox_state;

/* A copy of one row; strings are owned by the struct and freed by ms_outbox_item_clear(). */
typedef struct {
	int64_t id;
	int64_t job_id;          /* 0 = queued by an administrator, not by a job */
	char *instance_id;       /* Orthanc instance id */
	char *destination;       /* MedSight.Forward[].Name */
	ms_outbox_state state;
	int attempts;            /* sends started so far */
	int64_t generation;      /* pass back to done/retry_later/fail/release */
	double next_attempt_at;  /* when a pending row is due (unix seconds) */
	char *last_error;        /* why the last send failed; NULL if none */
	double created, updated, finished; /* unix seconds; finished 0 until done/failed */
} ms_outbox_item;

/* Frees the strings and zeroes *it. NULL is a no-op; a zeroed item may be cleared. */
void ms_outbox_item_clear(ms_outbox_item *it);

/* "pending", "sending", "done", "failed"; "unknown" for other values. Static text. */
const char *ms_outbox_state_name(ms_outbox_state s);

/* Queues instance_id for destination, due from not_before (unix seconds). If the row for
 * (job_id, instance_id, destination) exists, whatever its state, it becomes pending again with
 * 0 attempts, no error and a new generation: a re-run job or an administrator re-sends. A send
 * already under way for it then cannot record its outcome (it is sent again).
 * *id (may be NULL) gets the row id. MS_ERR_ARG for NULL/empty strings or job_id < 0; MS_ERR_SQL;
 * MS_ERR_NOMEM. */
ms_status ms_outbox_add(ms_store *s, int64_t job_id, const char *instance_id, const char *destination,
			double not_before, int64_t *id);

/* Atomically takes the pending row that has been due longest (next_attempt_at <= now; ties by
 * id): it becomes sending with attempts + 1, and *it receives a copy (the caller clears it).
 * Never hands out one row twice, across connections and processes. MS_ERR_NOTFOUND when nothing
 * is due; *it zeroed on any failure (a failed copy undoes the claim). */
ms_status ms_outbox_claim(ms_store *s, double now, ms_outbox_item *it);

/* sending -> done (finished = now, last_error cleared).
 * sending -> pending, due at next_attempt_at, with error recorded (retry_later).
 * sending -> failed with error (finished = now).
 * sending -> pending, due now, attempts - 1 (release: the send was interrupted by a shutdown
 *            before it had an outcome, so it does not count).
 * Each applies only while the row is still sending the claimed generation: MS_ERR_STATE if it
 * was queued again meanwhile (or is not sending), MS_ERR_NOTFOUND if there is no such row. A NULL
 * or empty error is stored as "failed". */
ms_status ms_outbox_done(ms_store *s, int64_t id, int64_t generation);
ms_status ms_outbox_retry_later(ms_store *s, int64_t id, int64_t generation, double next_attempt_at,
				const char *error);
ms_status ms_outbox_fail(ms_store *s, int64_t id, int64_t generation, const char *error);
ms_status ms_outbox_release(ms_store *s, int64_t id, int64_t generation);

/* Start-up recovery, before any forwarder of this database runs: every sending row (its process
 * stopped or died during the send) becomes pending and due now; the interrupted send keeps
 * counting as an attempt. *requeued (may be NULL) gets the count. */
ms_status ms_outbox_recover(ms_store *s, int *requeued);

/* Earliest next_attempt_at of the pending rows, in *when. MS_ERR_NOTFOUND (and *when 0) when no
 * row is pending. */
ms_status ms_outbox_next_due(ms_store *s, double *when);

/* Rows newest first (by id): those of job job_id, or of every job when job_id < 0; limit
 * 1..1000. *items receives an array of *n rows that the caller frees with ms_outbox_free_list
 * (NULL when *n is 0). MS_ERR_ARG; *items NULL and *n 0 on failure. */
ms_status ms_outbox_list(ms_store *s, int64_t job_id, int limit, ms_outbox_item **items, size_t *n);

/* Clears each row and frees the array. NULL is a no-op. */
void ms_outbox_free_list(ms_outbox_item *items, size_t n);
