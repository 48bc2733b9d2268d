/* A scalar volume with patient geometry: the unit of data every analysis works on. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

/* Patient-space geometry of a volume whose voxel (i, j, k) lies at
 * origin + i*spacing[0]*row_dir + j*spacing[1]*col_dir + k*spacing[2]*normal. */
typedef struct {
	double origin[3];  /* ImagePositionPatient of the first slice (mm) */
	double row_dir[3]; /* direction of increasing column index i (IOP[0..2]) */
	double col_dir[3]; /* direction of increasing row index j (IOP[3..5]) */
	double normal[3];  /* row_dir x col_dir; slices are sorted along it */
	double spacing[3]; /* x = column spacing, y = row spacing (PixelSpacing[1], [0]), z = slice increment */
} ms_geometry;

typedef struct {
	uint32_t nx, ny, nz; /* columns, rows, slices */
	ms_geometry geom;
	float *voxels;       /* nx*ny*nz real values (HU for CT), x fastest; owned */
} ms_volume;

/* Allocates a zeroed volume. Returns MS_ERR_NOMEM on failure or size overflow; *out NULL then. */
ms_status ms_volume_create(uint32_t nx, uint32_t ny, uint32_t nz, ms_volume **out);

/* Frees the volume; NULL is a no-op. */
void ms_volume_destroy(ms_volume *v);

/* Number of voxels and bytes of voxel data. */
size_t ms_volume_count(const ms_volume *v);
size_t ms_volume_bytes(const ms_volume *v);
