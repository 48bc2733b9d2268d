/* Study-grouped volume memory under one budget, with least-recently-used eviction of whole studies.
 * Volumes are pinned while an analysis uses them; pinned volumes are never evicted. All functions
 * are thread-safe. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "compute/volume.h"

typedef struct ms_volume_cache ms_volume_cache;

/* Creates an empty cache that will hold at most budget_bytes of voxel data. */
ms_status ms_volume_cache_create(size_t budget_bytes, ms_volume_cache **out);

/* Frees every volume; all pins must have been released. NULL is a no-op. */
void ms_volume_cache_destroy(ms_volume_cache *c);

/* Returns the cached volume of series_id pinned, or NULL when it is absent or was built from a
 * different instance count (a stale volume is dropped). Marks its study most recently used. */
ms_volume *ms_volume_cache_acquire(ms_volume_cache *c, const char *series_id, uint32_t n_instances);

/* Allocates a zeroed nx*ny*nz volume for series_id in study_id, first evicting least recently used
 * studies (then other unpinned series) until it fits. The volume is returned pinned; fill it, then
 * release it. A volume that is never filled correctly must be dropped (ms_volume_cache_drop) before
 * release. Returns MS_ERR_NOMEM with a message in err when it cannot fit in the budget. */
ms_status ms_volume_cache_alloc(ms_volume_cache *c, const char *study_id, const char *series_id,
				uint32_t n_instances, uint32_t nx, uint32_t ny, uint32_t nz, ms_volume **out,
				char *err, size_t errlen);

/* Unpins a volume returned by acquire or alloc. */
void ms_volume_cache_release(ms_volume_cache *c, ms_volume *v);

/* Forgets series_id: freed now if unpinned, else when its last pin is released. */
void ms_volume_cache_drop(ms_volume_cache *c, const char *series_id);

/* Bytes of voxel data held, and the number of studies held. */
size_t ms_volume_cache_used(ms_volume_cache *c);
size_t ms_volume_cache_studies(ms_volume_cache *c);
