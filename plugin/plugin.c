/* Orthanc entry points: configuration, start-up checks, change callback, lifecycle. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/log.h"
#include "plugin/forward.h"
#include "plugin/metrics.h"
#include "plugin/plugin.h"
#include "plugin/rest.h"
#include "plugin/worker.h"
#include "storage/inbox.h"
#include "storage/queue.h"

static ms_plugin plugin;

ms_plugin *ms_plugin_get(void)
{
	return &plugin;
}

static void orthanc_log_sink(ms_log_level level, const char *msg)
{
	if (!plugin.ctx)
		return;
	if (level == MS_LOG_ERROR)
		OrthancPluginLogError(plugin.ctx, msg);
	else if (level == MS_LOG_WARNING)
		OrthancPluginLogWarning(plugin.ctx, msg);
	else
		OrthancPluginLogInfo(plugin.ctx, msg);
}

/* mkdir -p of the directory holding path (Orthanc creates IndexDirectory only after plugins load). */
static ms_status make_parent_dirs(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return MS_OK;
	*slash = '\0';
	for (char *c = dir + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			goto out_fail;
		*c = '/';
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		goto out_fail;
	return MS_OK;
out_fail:
	ms_log_error("cannot create directory %s: %s", dir, strerror(errno));
	return MS_ERR_IO;
}

/* Change thread: only records what happened; workers do the rest. */
static OrthancPluginErrorCode on_change(OrthancPluginChangeType change, OrthancPluginResourceType type,
					const char *resource_id)
{
	ms_store *db = NULL;
	ms_status rc = MS_OK;

	switch (change) {
	case OrthancPluginChangeType_OrthancStarted:
		if (!plugin.forwarder && ms_forward_start(&plugin, &plugin.forwarder) != MS_OK)
			ms_log_error("the forwarding thread could not start; results stay in the outbox");
		if (!plugin.workers && ms_workers_start(&plugin, &plugin.workers) != MS_OK)
			ms_log_error("workers could not start; jobs stay queued");
		return OrthancPluginErrorCode_Success;
	case OrthancPluginChangeType_OrthancStopped:
		ms_workers_stop(plugin.workers);
		plugin.workers = NULL;
		ms_forward_stop(plugin.forwarder); /* after the workers, which queue forwards */
		plugin.forwarder = NULL;
		return OrthancPluginErrorCode_Success;
	case OrthancPluginChangeType_NewSeries:
	case OrthancPluginChangeType_NewInstance:
	case OrthancPluginChangeType_StableSeries:
	case OrthancPluginChangeType_CompletedSeries:
		break;
	case OrthancPluginChangeType_Deleted:
		if (type == OrthancPluginResourceType_Series)
			ms_volume_cache_drop(plugin.cache, resource_id);
		return OrthancPluginErrorCode_Success;
	default:
		return OrthancPluginErrorCode_Success;
	}

	if (ms_db_pool_get(plugin.db, &db) != MS_OK)
		return OrthancPluginErrorCode_Success; /* logged; never fail Orthanc's ingest */
	if (change == OrthancPluginChangeType_NewSeries)
		rc = ms_inbox_series_seen(db, resource_id);
	else if (change == OrthancPluginChangeType_NewInstance)
		rc = ms_inbox_push(db, MS_EVENT_NEW_INSTANCE, resource_id); /* its series is found later */
	else if (change == OrthancPluginChangeType_CompletedSeries)
		rc = ms_inbox_push(db, MS_EVENT_COMPLETE_SERIES, resource_id);
	else
		rc = ms_inbox_push(db, MS_EVENT_STABLE_SERIES, resource_id);
	ms_db_pool_put(plugin.db, db);
	if (rc != MS_OK)
		ms_log_error("could not record change for series %s (%s)", resource_id, ms_status_name(rc));
	else if (change == OrthancPluginChangeType_StableSeries || change == OrthancPluginChangeType_CompletedSeries)
		ms_workers_wake(plugin.workers);
	return OrthancPluginErrorCode_Success;
}

static void release_all(void)
{
	ms_workers_stop(plugin.workers);
	plugin.workers = NULL;
	ms_forward_stop(plugin.forwarder);
	plugin.forwarder = NULL;
	ms_forward_cleanup();
	ms_db_pool_destroy(plugin.db);
	plugin.db = NULL;
	ms_volume_cache_destroy(plugin.cache);
	plugin.cache = NULL;
	ms_vk_context_destroy(plugin.vk);
	plugin.vk = NULL;
	ms_vk_context_destroy(plugin.vk_fallback);
	plugin.vk_fallback = NULL;
	ms_config_free(&plugin.config);
}

ORTHANC_PLUGINS_API int32_t OrthancPluginInitialize(OrthancPluginContext *ctx)
{
	char err[1024];
	ms_status rc;

	plugin.ctx = ctx;
	if (!OrthancPluginCheckVersion(ctx)) {
		OrthancPluginLogError(ctx, "MedSight: this Orthanc is older than the plugin SDK it was built with "
					   "(needs 1.10.1 or newer)");
		return -1;
	}
	ms_log_set_sink(orthanc_log_sink);
	OrthancPluginSetDescription(ctx, "MedSight: inline GPU analysis of stored series (Vulkan compute); "
					 "results as DICOM objects in the same study.");

	char *json = OrthancPluginGetConfiguration(ctx);
	if (!json) {
		ms_log_error("cannot read Orthanc's configuration");
		return -1;
	}
	rc = ms_config_load(json, &plugin.config, err, sizeof(err));
	OrthancPluginFreeString(ctx, json);
	if (rc != MS_OK) {
		ms_log_error("invalid configuration, the plugin refuses to start: %s", err);
		return -1;
	}
	if (!plugin.config.enable) {
		ms_log_warning("disabled by configuration (MedSight.Enable = false)");
		return 0;
	}

	ms_vk_opts vo = { .device = plugin.config.device, .validation = false };
	rc = ms_vk_context_create(&vo, &plugin.vk);
	if (rc != MS_OK) {
		ms_log_error("no usable Vulkan device for MedSight.Device = \"%s\"; the plugin refuses to start",
			     plugin.config.device);
		goto out_fail;
	}
	rc = ms_volume_cache_create((size_t)plugin.config.memory_budget_mb * 1024 * 1024, &plugin.cache);
	if (rc != MS_OK)
		goto out_fail;
	rc = make_parent_dirs(plugin.config.database);
	if (rc != MS_OK)
		goto out_fail;
	rc = ms_db_pool_create(plugin.config.database, &plugin.db);
	if (rc != MS_OK) {
		ms_log_error("cannot open the MedSight database %s", plugin.config.database);
		goto out_fail;
	}
	ms_store *db;
	rc = ms_db_pool_get(plugin.db, &db);
	if (rc != MS_OK)
		goto out_fail;
	int requeued = 0;
	ms_metrics_prune(&plugin, db); /* performance records past PerfRetentionDays */
	rc = ms_queue_recover(db, plugin.config.max_attempts, &requeued);
	if (rc == MS_OK)
		rc = ms_forward_init(db);
	ms_db_pool_put(plugin.db, db);
	if (rc != MS_OK)
		goto out_fail;
	if (requeued)
		ms_log_warning("%d job(s) were running when Orthanc stopped; they run again", requeued);
	ms_log_info("version %s, database %s, device %s (%s)", MS_VERSION, plugin.config.database,
		    ms_vk_context_device_name(plugin.vk), ms_vk_context_device_type(plugin.vk));

	ms_rest_register(&plugin);
	OrthancPluginRegisterOnChangeCallback(ctx, on_change);
	return 0;
out_fail:
	release_all();
	return -1;
}

ORTHANC_PLUGINS_API void OrthancPluginFinalize(void)
{
	release_all();
	ms_log_set_sink(NULL);
	plugin.ctx = NULL;
}

ORTHANC_PLUGINS_API const char *OrthancPluginGetName(void)
{
	return "medsight";
}

ORTHANC_PLUGINS_API const char *OrthancPluginGetVersion(void)
{
	return MS_VERSION;
}
