/* Series geometry: sorts slices along their normal and rejects what cannot form a volume. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"
#include "compute/volume.h"

/* What the geometry check needs from one image; filled by the DICOM reader. */
typedef struct {
	double ipp[3];        /* ImagePositionPatient */
	double iop[6];        /* ImageOrientationPatient: row direction, column direction */
	double pixel_spacing[2]; /* PixelSpacing: row spacing (between rows), column spacing */
	unsigned rows, cols;
	bool has_ipp, has_iop, has_pixel_spacing;
	const char *label;    /* borrowed: instance name used in messages (SOPInstanceUID or Orthanc id) */
} ms_slice_geom;

typedef struct {
	double spacing_rel_tol;  /* allowed |gap - mean gap| / mean gap; default 0.01 */
	double spacing_abs_tol;  /* ... or this many mm, whichever is larger; default 0.01 */
	double orient_tol;       /* max difference of IOP components; default 1e-4 */
	double tilt_tol_deg;     /* max angle between slice stacking and the normal; default 0.1 */
} ms_geometry_opts;

/* Default tolerances (see ms_geometry_opts). */
ms_geometry_opts ms_geometry_default_opts(void);

/* Orders n slices along the slice normal (ascending projection of IPP) into order[0..n) (indices
 * into s) and fills *g. Returns MS_ERR_INPUT with a precise message in err (mixed image size,
 * mixed image orientation, missing <Keyword>, duplicate slice position, non-uniform slice spacing,
 * gantry tilt, only 1 slice) when the slices do not form a regular volume. Thread-safe. */
ms_status ms_geometry_sort(const ms_slice_geom *s, size_t n, const ms_geometry_opts *opts, size_t *order,
			   ms_geometry *g, char *err, size_t errlen);
