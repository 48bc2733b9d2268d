/* Prometheus metrics (OrthancPluginSetMetricsValue; Orthanc serves them at
 * /tools/metrics-prometheus when its "MetricsEnabled" option is true, the default) and the
 * housekeeping of performance records.
 *
 *   medsight_queue_depth_{stat,high,routine,low}  queued jobs per priority
 *   medsight_jobs_{queued,running,done,failed,cancelled}  jobs per state in the database
 *   medsight_jobs_done_total, medsight_jobs_failed_total  same as _done/_failed (counter names)
 *   medsight_job_seconds_last_<analysis>  wall time (stage "total") of the newest run
 *   medsight_job_seconds_p95_<analysis>   nearest-rank p95 of "total" over the last 24 hours
 *   medsight_memory_budget_used_bytes, medsight_memory_budget_bytes  volume cache
 *   medsight_gpu_memory_bytes  device memory held by MedSight's Vulkan buffers
 *
 * Values are refreshed when Prometheus scrapes, every 5 s by a worker and after each job.
 * Thread-safety: any thread, each with its own connection. */
#pragma once
#include "plugin/plugin.h"
#include "storage/store.h"

/* Asks Orthanc to call ms_metrics_refresh (with a pooled connection) before it answers
 * /tools/metrics-prometheus. Called once from OrthancPluginInitialize. */
void ms_metrics_register(ms_plugin *p);

/* Reads the queue and the performance summary through db and publishes every metric.
 * Errors are logged; metrics that could not be read keep their previous values. */
void ms_metrics_refresh(ms_plugin *p, ms_store *db);

/* Deletes performance records older than MedSight.PerfRetentionDays; logs how many. */
void ms_metrics_prune(ms_plugin *p, ms_store *db);

/* For the worker loop (one worker): refreshes the metrics every few seconds and prunes once a
 * day. Cheap when nothing is due. Not reentrant: call it from one thread only. */
void ms_metrics_tick(ms_plugin *p, ms_store *db);
