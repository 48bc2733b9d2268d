#include "compute/volume_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

typedef struct entry {
	struct entry *next;      /* next series of the same study */
	char *series_id;
	uint32_t n_instances;    /* instance count the volume was built from */
	ms_volume *vol;
	int pins;
	bool dropped;            /* free on last release */
} entry;

typedef struct study {
	struct study *prev, *next; /* LRU list: head = most recently used */
	char *study_id;
	entry *series;
} study;

struct ms_volume_cache {
	pthread_mutex_t lock;
	size_t budget, used;
	study *head, *tail;
	size_t n_studies;
};

ms_status ms_volume_cache_create(size_t budget_bytes, ms_volume_cache **out)
{
	*out = NULL;
	ms_volume_cache *c = ms_calloc(1, sizeof(*c));
	if (!c)
		return MS_ERR_NOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->budget = budget_bytes;
	*out = c;
	return MS_OK;
}

static void entry_free(ms_volume_cache *c, entry *e)
{
	if (e->vol)
		c->used -= ms_volume_bytes(e->vol);
	ms_volume_destroy(e->vol);
	ms_free(e->series_id);
	ms_free(e);
}

static void study_unlink(ms_volume_cache *c, study *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		c->tail = s->prev;
	s->prev = s->next = NULL;
}

static void study_push_front(ms_volume_cache *c, study *s)
{
	s->next = c->head;
	s->prev = NULL;
	if (c->head)
		c->head->prev = s;
	c->head = s;
	if (!c->tail)
		c->tail = s;
}

static void study_free_if_empty(ms_volume_cache *c, study *s)
{
	if (s->series)
		return;
	study_unlink(c, s);
	ms_free(s->study_id);
	ms_free(s);
	c->n_studies--;
}

void ms_volume_cache_destroy(ms_volume_cache *c)
{
	if (!c)
		return;
	while (c->head) {
		study *s = c->head;
		while (s->series) {
			entry *e = s->series;
			s->series = e->next;
			entry_free(c, e);
		}
		study_free_if_empty(c, s);
	}
	pthread_mutex_destroy(&c->lock);
	ms_free(c);
}

/* Finds the entry of a series; *owner gets its study. */
static entry *find_series(ms_volume_cache *c, const char *series_id, study **owner)
{
	for (study *s = c->head; s; s = s->next) {
		for (entry *e = s->series; e; e = e->next) {
			if (!e->dropped && strcmp(e->series_id, series_id) == 0) {
				*owner = s;
				return e;
			}
		}
	}
	return NULL;
}

/* Removes unpinned entries of study s (all if series_id is NULL). */
static void evict_unpinned(ms_volume_cache *c, study *s, const char *except_series)
{
	entry **link = &s->series;
	while (*link) {
		entry *e = *link;
		if (e->pins == 0 && !(except_series && strcmp(e->series_id, except_series) == 0)) {
			*link = e->next;
			entry_free(c, e);
		} else {
			link = &e->next;
		}
	}
}

static void drop_locked(ms_volume_cache *c, const char *series_id)
{
	study *s;
	entry *e = find_series(c, series_id, &s);
	if (!e)
		return;
	if (e->pins > 0) {
		e->dropped = true;
		return;
	}
	for (entry **link = &s->series; *link; link = &(*link)->next) {
		if (*link == e) {
			*link = e->next;
			break;
		}
	}
	entry_free(c, e);
	study_free_if_empty(c, s);
}

ms_volume *ms_volume_cache_acquire(ms_volume_cache *c, const char *series_id, uint32_t n_instances)
{
	ms_volume *v = NULL;
	study *s;

	pthread_mutex_lock(&c->lock);
	entry *e = find_series(c, series_id, &s);
	if (e && e->n_instances != n_instances) {
		drop_locked(c, series_id); /* instances were added or removed since it was built */
		e = NULL;
	}
	if (e) {
		e->pins++;
		v = e->vol;
		study_unlink(c, s);
		study_push_front(c, s);
	}
	pthread_mutex_unlock(&c->lock);
	return v;
}

ms_status ms_volume_cache_alloc(ms_volume_cache *c, const char *study_id, const char *series_id,
				uint32_t n_instances, uint32_t nx, uint32_t ny, uint32_t nz, ms_volume **out,
				char *err, size_t errlen)
{
	ms_status rc;
	size_t need = (size_t)nx * ny * nz * sizeof(float);
	entry *e = NULL;
	study *s = NULL;

	*out = NULL;
	if (nz && need / nz / sizeof(float) != (size_t)nx * ny) {
		snprintf(err, errlen, "volume %ux%ux%u is too large", nx, ny, nz);
		return MS_ERR_NOMEM;
	}
	pthread_mutex_lock(&c->lock);
	drop_locked(c, series_id);

	/* Evict least recently used studies first, then other series of the same study. */
	for (study *victim = c->tail; victim && c->used + need > c->budget;) {
		study *prev = victim->prev;
		if (strcmp(victim->study_id, study_id) != 0) {
			evict_unpinned(c, victim, NULL);
			study_free_if_empty(c, victim);
		}
		victim = prev;
	}
	for (study *same = c->head; same && c->used + need > c->budget; same = same->next) {
		if (strcmp(same->study_id, study_id) == 0)
			evict_unpinned(c, same, series_id);
	}
	if (c->used + need > c->budget) {
		snprintf(err, errlen,
			 "volume of %.1f MB does not fit in MemoryBudgetMB (%.0f MB, %.1f MB held by running jobs)",
			 need / 1048576.0, c->budget / 1048576.0, c->used / 1048576.0);
		rc = MS_ERR_NOMEM;
		goto out_unlock;
	}

	for (s = c->head; s && strcmp(s->study_id, study_id) != 0; s = s->next)
		;
	if (!s) {
		s = ms_calloc(1, sizeof(*s));
		if (!s || !(s->study_id = ms_strdup(study_id))) {
			ms_free(s);
			rc = MS_ERR_NOMEM;
			goto out_unlock;
		}
		study_push_front(c, s);
		c->n_studies++;
	} else {
		study_unlink(c, s);
		study_push_front(c, s);
	}
	e = ms_calloc(1, sizeof(*e));
	if (!e || !(e->series_id = ms_strdup(series_id)) || ms_volume_create(nx, ny, nz, &e->vol) != MS_OK) {
		if (e)
			ms_free(e->series_id);
		ms_free(e);
		study_free_if_empty(c, s);
		snprintf(err, errlen, "out of memory allocating a %ux%ux%u volume", nx, ny, nz);
		rc = MS_ERR_NOMEM;
		goto out_unlock;
	}
	e->n_instances = n_instances;
	e->pins = 1;
	e->next = s->series;
	s->series = e;
	c->used += need;
	*out = e->vol;
	rc = MS_OK;
out_unlock:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void ms_volume_cache_release(ms_volume_cache *c, ms_volume *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&c->lock);
	for (study *s = c->head; s; s = s->next) {
		for (entry **link = &s->series; *link; link = &(*link)->next) {
			entry *e = *link;
			if (e->vol != v)
				continue;
			if (--e->pins == 0 && e->dropped) {
				*link = e->next;
				entry_free(c, e);
				study_free_if_empty(c, s);
			}
			goto out_unlock;
		}
	}
	ms_log_error("volume cache: release of a volume it does not hold");
out_unlock:
	pthread_mutex_unlock(&c->lock);
}

void ms_volume_cache_drop(ms_volume_cache *c, const char *series_id)
{
	pthread_mutex_lock(&c->lock);
	drop_locked(c, series_id);
	pthread_mutex_unlock(&c->lock);
}

size_t ms_volume_cache_used(ms_volume_cache *c)
{
	pthread_mutex_lock(&c->lock);
	size_t used = c->used;
	pthread_mutex_unlock(&c->lock);
	return used;
}

size_t ms_volume_cache_studies(ms_volume_cache *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->n_studies;
	pthread_mutex_unlock(&c->lock);
	return n;
}
