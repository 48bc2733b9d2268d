/* Durable inbox of Orthanc change events, and the set of series seen but not yet stable.
 * Orthanc's change callback runs on Orthanc's single change thread and must only enqueue: it
 * writes the event here (one INSERT) and the worker processes it later, so a crash loses
 * nothing. Every function takes the calling thread's own ms_store; strings passed in are
 * borrowed for the call only. */
#pragma once
#include "common/status.h"
#include "storage/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	int64_t id;        /* inbox row id, for ms_inbox_done */
	int kind;          /* the caller's enum (an Orthanc change type) */
	char *resource_id; /* Orthanc resource id, owned (ms_event_clear) */
	double created;    /* unix seconds when pushed */
} ms_event;

/* Appends an event: one INSERT in its own transaction. MS_ERR_ARG for a NULL/empty resource_id;
 * MS_ERR_SQL; MS_ERR_NOMEM. */
ms_status ms_inbox_push(ms_store *s, int kind, const char *resource_id);

/* Copies the oldest event into *ev (the caller clears it) without deleting it, so an event is
 * only gone once ms_inbox_done says it was processed. MS_ERR_NOTFOUND if the inbox is empty;
 * *ev zeroed on failure. */
ms_status ms_inbox_pop(ms_store *s, ms_event *ev);

/* Deletes event id after processing. MS_ERR_NOTFOUND if no such event. */
ms_status ms_inbox_done(ms_store *s, int64_t id);

/* Frees the string and zeroes *ev. NULL is a no-op. */
void ms_event_clear(ms_event *ev);

/* Pending series: seen (NEW_SERIES) but not yet stable. They survive restarts, so a series whose
 * StableSeries event was lost in a crash is still evaluated after restart. */
/* Inserts series_id, or updates its last_seen, with now. MS_ERR_ARG for NULL/empty. */
ms_status ms_inbox_series_seen(ms_store *s, const char *series_id);
/* Same with the time the instance arrived (unix seconds > 0), e.g. an inbox event's created time
 * when it is processed later; last_seen never moves backwards. */
ms_status ms_inbox_series_seen_at(ms_store *s, const char *series_id, double when);
/* Records that the rules ran for series_id when Orthanc reported it complete, as of when (unix
 * seconds > 0, the event's time); inserts the row if needed. MS_ERR_ARG for NULL/empty/when. */
ms_status ms_inbox_series_triggered(ms_store *s, const char *series_id, double when);
/* *current = true when the rules already ran for series_id (ms_inbox_series_triggered) and no
 * instance was seen after that; false when it is not pending or was never triggered. */
ms_status ms_inbox_series_analysed(ms_store *s, const char *series_id, bool *current);
/* Removes series_id (done with it). MS_OK even if it was not pending. */
ms_status ms_inbox_series_settled(ms_store *s, const char *series_id);
/* Series whose last_seen is older than now - age_s (age_s >= 0), oldest first: *ids receives an
 * array of *n heap strings, freed with ms_inbox_free_ids (NULL when *n is 0). *ids NULL and *n 0
 * on failure. */
ms_status ms_inbox_series_older_than(ms_store *s, double age_s, char ***ids, size_t *n);
/* Frees each string and the array. NULL is a no-op. */
void ms_inbox_free_ids(char **ids, size_t n);
