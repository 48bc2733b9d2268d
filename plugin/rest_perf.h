/* Observability routes: GET /medsight/perf, GET /medsight/perf/summary, the standalone page
 * GET /medsight/ui, and the Orthanc Explorer extension (plugin/explorer.js, embedded). */
#pragma once
#include "plugin/plugin.h"

/* Registers the routes and extends Orthanc Explorer. Called once from OrthancPluginInitialize
 * (through ms_rest_register). */
void ms_rest_perf_register(ms_plugin *p);
