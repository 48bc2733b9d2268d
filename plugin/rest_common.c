#include "plugin/rest_common.h"

#include <string.h>

#include "plugin/orthanc_io.h"

const char *ms_rest_arg(const OrthancPluginHttpRequest *req, const char *key)
{
	for (uint32_t i = 0; i < req->getCount; i++) {
		if (strcmp(req->getKeys[i], key) == 0)
			return req->getValues[i];
	}
	return NULL;
}

ms_store *ms_rest_db_get(ms_plugin *p, OrthancPluginRestOutput *out)
{
	ms_store *db = NULL;
	if (ms_db_pool_get(p->db, &db) != MS_OK) {
		ms_orthanc_answer_error(p->ctx, out, 500, "MedSight database unavailable");
		return NULL;
	}
	return db;
}

void ms_rest_append_time(ms_strbuf *b, const char *key, double t)
{
	char iso[40];
	ms_strbuf_appendf(b, ", \"%s\": ", key);
	if (t > 0) {
		ms_orthanc_iso_time(t, iso, sizeof(iso));
		ms_strbuf_append_json_string(b, iso);
	} else {
		ms_strbuf_append(b, "null");
	}
}
