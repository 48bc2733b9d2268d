/* Observability routes: GET /medsight/perf, GET /medsight/perf/summary, the standalone page
 * GET /medsight/ui, and the Orthanc Explorer extension (plugin/explorer.js, embedded). */
#pragma once
#include "plugin/plugin.h"

/* Registers the routes, extends Orthanc Explorer and registers the metrics refresh. Called once from OrthancPluginInitialize
 * (through ms_rest_register). */
void ms_rest_perf_register(ms_plugin *p);
