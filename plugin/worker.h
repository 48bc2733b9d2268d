/* Threads that turn stored-series events into jobs (rules; one event thread) and run queued jobs
 * (config.workers job workers). Started on OrthancStarted, joined on OrthancStopped. */
#pragma once
#include "common/status.h"
#include "plugin/plugin.h"

/* Event kinds written to the SQLite inbox by the change callback. */
enum {
	MS_EVENT_STABLE_SERIES = 1, /* resource: Orthanc series id */
	MS_EVENT_NEW_INSTANCE = 2,  /* resource: Orthanc instance id; keeps its series pending */
	MS_EVENT_COMPLETE_SERIES = 3, /* resource: Orthanc series id; all announced instances are in */
};

/* Starts the event thread and p->config.workers job workers; each opens its own SQLite
 * connection. */
ms_status ms_workers_start(ms_plugin *p, ms_workers **out);

/* Asks every thread to stop after its current step and joins them. NULL is a no-op. A job
 * interrupted here stays RUNNING and is re-queued at the next start (ms_queue_recover). */
void ms_workers_stop(ms_workers *w);

/* Wakes idle workers (new event or job). NULL is a no-op. Thread-safe. */
void ms_workers_wake(ms_workers *w);
