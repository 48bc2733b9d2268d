#include "compute/volume.h"

#include "common/alloc.h"

ms_status ms_volume_create(uint32_t nx, uint32_t ny, uint32_t nz, ms_volume **out)
{
	*out = NULL;
	size_t n = (size_t)nx * ny;
	if (nx && n / nx != ny)
		return MS_ERR_NOMEM;
	if (nz && (n * nz) / nz != n)
		return MS_ERR_NOMEM;
	n *= nz;
	if (n > SIZE_MAX / sizeof(float))
		return MS_ERR_NOMEM;
	ms_volume *v = ms_calloc(1, sizeof(*v));
	if (!v)
		return MS_ERR_NOMEM;
	v->voxels = ms_calloc(n ? n : 1, sizeof(float));
	if (!v->voxels) {
		ms_free(v);
		return MS_ERR_NOMEM;
	}
	v->nx = nx;
	v->ny = ny;
	v->nz = nz;
	*out = v;
	return MS_OK;
}

void ms_volume_destroy(ms_volume *v)
{
	if (!v)
		return;
	ms_free(v->voxels);
	ms_free(v);
}

size_t ms_volume_count(const ms_volume *v)
{
	return (size_t)v->nx * v->ny * v->nz;
}

size_t ms_volume_bytes(const ms_volume *v)
{
	return ms_volume_count(v) * sizeof(float);
}
