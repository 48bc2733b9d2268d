#include "plugin/db_pool.h"

#include <pthread.h>

#include "common/alloc.h"

#define MAX_IDLE 16

struct ms_db_pool {
	pthread_mutex_t lock;
	char *path;
	ms_store *idle[MAX_IDLE];
	int n_idle;
};

ms_status ms_db_pool_create(const char *path, ms_db_pool **out)
{
	ms_status rc;
	ms_store *first = NULL;

	*out = NULL;
	ms_db_pool *p = ms_calloc(1, sizeof(*p));
	if (!p)
		return MS_ERR_NOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->path = ms_strdup(path);
	if (!p->path) {
		rc = MS_ERR_NOMEM;
		goto out_destroy_pool;
	}
	rc = ms_store_open(path, &first);
	if (rc != MS_OK)
		goto out_destroy_pool;
	p->idle[p->n_idle++] = first;
	*out = p;
	return MS_OK;
out_destroy_pool:
	ms_db_pool_destroy(p);
	return rc;
}

void ms_db_pool_destroy(ms_db_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n_idle; i++)
		ms_store_close(p->idle[i]);
	pthread_mutex_destroy(&p->lock);
	ms_free(p->path);
	ms_free(p);
}

ms_status ms_db_pool_get(ms_db_pool *p, ms_store **out)
{
	*out = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->n_idle > 0)
		*out = p->idle[--p->n_idle];
	pthread_mutex_unlock(&p->lock);
	if (*out)
		return MS_OK;
	return ms_store_open(p->path, out);
}

void ms_db_pool_put(ms_db_pool *p, ms_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->n_idle < MAX_IDLE) {
		p->idle[p->n_idle++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	ms_store_close(s); /* more concurrent threads than we keep idle: close the extra one */
}
