/* Budget, LRU eviction of whole studies, pinning and staleness of the volume cache. */
#include <string.h>

#include "compute/volume_cache.h"
#include "tests/testhelp.h"

#define MB (1024u * 1024u)

int main(void)
{
	ms_volume_cache *c;
	ms_volume *a1, *a2, *b1, *c1, *v;
	char err[256];

	/* 1 MB volumes: 64x64x64 floats. Budget fits 3. */
	CHECK_EQ_INT(ms_volume_cache_create(3 * MB, &c), MS_OK);
	CHECK_EQ_INT(ms_volume_cache_alloc(c, "A", "a1", 64, 64, 64, 64, &a1, err, sizeof(err)), MS_OK);
	CHECK_EQ_INT(ms_volume_cache_alloc(c, "A", "a2", 64, 64, 64, 64, &a2, err, sizeof(err)), MS_OK);
	CHECK_EQ_INT(ms_volume_cache_alloc(c, "B", "b1", 64, 64, 64, 64, &b1, err, sizeof(err)), MS_OK);
	CHECK_EQ_INT(ms_volume_cache_used(c), 3 * MB);
	a1->voxels[7] = 42.0f;
	ms_volume_cache_release(c, a1);
	ms_volume_cache_release(c, a2);
	ms_volume_cache_release(c, b1);

	/* Touch A so B is least recently used; a new study C evicts B (whole study), not A. */
	v = ms_volume_cache_acquire(c, "a1", 64);
	CHECK(v == a1 && v->voxels[7] == 42.0f);
	ms_volume_cache_release(c, v);
	CHECK_EQ_INT(ms_volume_cache_alloc(c, "C", "c1", 64, 64, 64, 64, &c1, err, sizeof(err)), MS_OK);
	CHECK(ms_volume_cache_acquire(c, "b1", 64) == NULL);
	CHECK_EQ_INT(ms_volume_cache_studies(c), 2);

	/* Pinned volumes are never evicted: a 2 MB request cannot fit while a1 and c1 are pinned. */
	v = ms_volume_cache_acquire(c, "a1", 64);
	CHECK(v != NULL);
	ms_volume *big;
	CHECK_EQ_INT(ms_volume_cache_alloc(c, "D", "d1", 128, 64, 64, 128, &big, err, sizeof(err)), MS_ERR_NOMEM);
	CHECK(big == NULL);
	CHECK(strstr(err, "MemoryBudgetMB") != NULL);
	ms_volume_cache_release(c, v);
	ms_volume_cache_release(c, c1);
	/* Unpinned now: enough of A and C is evicted to fit 2 MB. */
	CHECK_EQ_INT(ms_volume_cache_alloc(c, "D", "d1", 128, 64, 64, 128, &big, err, sizeof(err)), MS_OK);
	CHECK(ms_volume_cache_used(c) <= 3 * MB);
	ms_volume_cache_release(c, big);

	/* A volume bigger than the whole budget is refused with a message. */
	CHECK_EQ_INT(ms_volume_cache_alloc(c, "E", "e1", 128, 128, 128, 128, &v, err, sizeof(err)), MS_ERR_NOMEM);

	/* Staleness: a different instance count drops the cached volume. */
	CHECK(ms_volume_cache_acquire(c, "d1", 127) == NULL);
	CHECK(ms_volume_cache_acquire(c, "d1", 128) == NULL);
	CHECK_EQ_INT(ms_volume_cache_used(c), 0);

	/* Drop while pinned frees on release. */
	CHECK_EQ_INT(ms_volume_cache_alloc(c, "F", "f1", 8, 8, 8, 8, &v, err, sizeof(err)), MS_OK);
	ms_volume_cache_drop(c, "f1");
	CHECK(ms_volume_cache_acquire(c, "f1", 8) == NULL);
	CHECK(ms_volume_cache_used(c) > 0);
	ms_volume_cache_release(c, v);
	CHECK_EQ_INT(ms_volume_cache_used(c), 0);
	CHECK_EQ_INT(ms_volume_cache_studies(c), 0);

	ms_volume_cache_destroy(c);
	ms_volume_cache_destroy(NULL);
	return TEST_REPORT();
}
