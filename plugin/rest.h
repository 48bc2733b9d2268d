/* The /medsight REST API (DESIGN.md "Outer contract"). */
#pragma once
#include "plugin/plugin.h"

/* Registers every /medsight route with Orthanc. Called once from OrthancPluginInitialize. */
void ms_rest_register(ms_plugin *p);
