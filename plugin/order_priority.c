#include "plugin/order_priority.h"

#include <stdio.h>

#include "config/config.h"
#include "plugin/orthanc_io.h"

int ms_order_priority(OrthancPluginContext *ctx, const ms_json *series)
{
	/* Instances of one series come from one order: any of them will do. */
	const char *instance = ms_json_string(ms_json_at(ms_json_get(series, "Instances"), 0));
	ms_json *tags = NULL;
	char uri[160];

	if (!instance)
		return -1;
	snprintf(uri, sizeof(uri), "/instances/%s/tags?simplify", instance);
	if (ms_orthanc_get_json(ctx, uri, &tags) != MS_OK)
		return -1;
	int best = ms_config_requested_priority(ms_json_string(ms_json_get(tags, "RequestedProcedurePriority")));
	const ms_json *requests = ms_json_get(tags, "RequestAttributesSequence");
	for (size_t i = 0; i < ms_json_size(requests); i++) {
		const ms_json *item = ms_json_at(requests, i);
		int prio = ms_config_requested_priority(ms_json_string(ms_json_get(item, "RequestedProcedurePriority")));
		if (prio > best)
			best = prio;
	}
	ms_json_destroy(tags);
	return best;
}
