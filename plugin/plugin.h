/* The plugin's process-wide state, shared by the entry points, REST handlers and workers. */
#pragma once
#include <orthanc/OrthancCPlugin.h>

#include "compute/vk_context.h"
#include "compute/volume_cache.h"
#include "config/config.h"
#include "plugin/db_pool.h"

typedef struct ms_workers ms_workers;
typedef struct ms_forwarder ms_forwarder;

typedef struct {
	OrthancPluginContext *ctx;
	ms_config config;
	ms_vk_context *vk;       /* the compute device, shared by workers */
	ms_vk_context *vk_fallback; /* CPU device for jobs whose device failed; created on need */
	ms_volume_cache *cache;  /* study-grouped volumes under MemoryBudgetMB */
	ms_db_pool *db;          /* SQLite connections for REST and callback threads */
	ms_workers *workers;     /* running between OrthancStarted and OrthancStopped */
	ms_forwarder *forwarder; /* STOW-RS thread (plugin/forward.h), same lifetime as workers */
} ms_plugin;

/* The single plugin instance; valid between OrthancPluginInitialize and OrthancPluginFinalize. */
ms_plugin *ms_plugin_get(void);
