#include "plugin/metrics.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "compute/vk_buffer.h"
#include "storage/perf.h"
#include "storage/queue.h"

#define REFRESH_S 5.0
#define PRUNE_S 86400.0
#define P95_WINDOW_S 86400.0

static const char *const prio_metric[4] = { "medsight_queue_depth_low", "medsight_queue_depth_routine",
					    "medsight_queue_depth_high", "medsight_queue_depth_stat" };

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set(ms_plugin *p, const char *name, double value)
{
	OrthancPluginSetMetricsValue(p->ctx, name, (float)value, OrthancPluginMetricsType_Default);
}

void ms_metrics_refresh(ms_plugin *p, ms_store *db)
{
	int64_t counts[5], by_prio[4];
	char name[128];

	if (!p || !p->ctx || !db)
		return;
	if (ms_queue_counts(db, counts, by_prio) == MS_OK) {
		for (int i = 0; i < 4; i++)
			set(p, prio_metric[i], (double)by_prio[i]);
		for (int s = 0; s < 5; s++) {
			snprintf(name, sizeof(name), "medsight_jobs_%s", ms_job_state_name((ms_job_state)s));
			set(p, name, (double)counts[s]);
		}
		set(p, "medsight_jobs_done_total", (double)counts[MS_JOB_DONE]);
		set(p, "medsight_jobs_failed_total", (double)counts[MS_JOB_FAILED]);
	}

	double now = (double)time(NULL);
	ms_perf_summary *sum = NULL;
	size_t n = 0;
	if (ms_perf_summarize(db, NULL, now - P95_WINDOW_S, &sum, &n) == MS_OK) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(sum[i].stage, MS_PERF_TOTAL) != 0)
				continue;
			snprintf(name, sizeof(name), "medsight_job_seconds_last_%s", sum[i].analysis);
			set(p, name, sum[i].last / 1000.0);
			snprintf(name, sizeof(name), "medsight_job_seconds_p95_%s", sum[i].analysis);
			set(p, name, sum[i].p95 / 1000.0);
		}
		ms_perf_free_summary(sum, n);
	}

	set(p, "medsight_memory_budget_used_bytes", (double)ms_volume_cache_used(p->cache));
	set(p, "medsight_memory_budget_bytes", (double)p->config.memory_budget_mb * 1048576.0);
	set(p, "medsight_gpu_memory_bytes", (double)ms_vk_buffer_allocated_bytes());
}

void ms_metrics_prune(ms_plugin *p, ms_store *db)
{
	int64_t deleted = 0;
	double before = (double)time(NULL) - (double)p->config.perf_retention_days * 86400.0;

	ms_status rc = ms_perf_prune(db, before, &deleted);
	if (rc != MS_OK)
		ms_log_warning("could not delete old performance records (%s)", ms_status_name(rc));
	else if (deleted)
		ms_log_info("deleted %lld performance record(s) older than %d days", (long long)deleted,
			    p->config.perf_retention_days);
}

void ms_metrics_tick(ms_plugin *p, ms_store *db)
{
	/* Start-up already pruned (plugin.c), so the first daily prune is a day later. */
	static double last_refresh = -1e9, last_prune = -1;
	double m = mono_s();

	if (last_prune < 0)
		last_prune = m;
	if (m - last_refresh >= REFRESH_S) {
		last_refresh = m;
		ms_metrics_refresh(p, db);
	}
	if (m - last_prune >= PRUNE_S) {
		last_prune = m;
		ms_metrics_prune(p, db);
	}
}

/* Orthanc calls this on its HTTP thread for each GET /tools/metrics-prometheus, so a scrape
 * sees current values even while the worker is busy with a long job. */
static void on_refresh_metrics(void)
{
	ms_plugin *p = ms_plugin_get();
	ms_store *db = NULL;

	if (!p->db || ms_db_pool_get(p->db, &db) != MS_OK)
		return;
	ms_metrics_refresh(p, db);
	ms_db_pool_put(p->db, db);
}

void ms_metrics_register(ms_plugin *p)
{
	OrthancPluginRegisterRefreshMetricsCallback(p->ctx, on_refresh_metrics);
}
