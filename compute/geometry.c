#include "compute/geometry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"

ms_geometry_opts ms_geometry_default_opts(void)
{
	return (ms_geometry_opts){ .spacing_rel_tol = 0.01, .spacing_abs_tol = 0.01, .orient_tol = 1e-4,
				   .tilt_tol_deg = 0.1 };
}

static double dot3(const double *a, const double *b)
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double *a, const double *b, double *out)
{
	out[0] = a[1] * b[2] - a[2] * b[1];
	out[1] = a[2] * b[0] - a[0] * b[2];
	out[2] = a[0] * b[1] - a[1] * b[0];
}

typedef struct {
	double z;
	size_t index;
} keyed_slice;

static int by_z(const void *a, const void *b)
{
	double za = ((const keyed_slice *)a)->z, zb = ((const keyed_slice *)b)->z;
	return (za > zb) - (za < zb);
}

static const char *label_of(const ms_slice_geom *s)
{
	return s->label ? s->label : "?";
}

static bool finite_n(const double *v, int n)
{
	for (int k = 0; k < n; k++)
		if (!isfinite(v[k]))
			return false;
	return true;
}

/* Checks what every slice must carry and share with the first one. */
static ms_status check_consistent(const ms_slice_geom *s, size_t n, const ms_geometry_opts *o, char *err,
				  size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *missing = !s[i].has_ipp ? "ImagePositionPatient"
				      : !s[i].has_iop ? "ImageOrientationPatient"
				      : !s[i].has_pixel_spacing ? "PixelSpacing" : NULL;
		if (missing) {
			snprintf(err, errlen, "missing %s in instance %s", missing, label_of(&s[i]));
			return MS_ERR_INPUT;
		}
		/* NaN/inf (e.g. "nan" in a DS value) compare false against every tolerance below and
		 * would pass as a regular stack with a NaN origin or spacing (found by fuzz_geometry). */
		const char *nonfinite = !finite_n(s[i].ipp, 3) ? "ImagePositionPatient"
					: !finite_n(s[i].iop, 6) ? "ImageOrientationPatient"
					: !finite_n(s[i].pixel_spacing, 2) ? "PixelSpacing" : NULL;
		if (nonfinite) {
			snprintf(err, errlen, "invalid %s in instance %s: not a finite number", nonfinite,
				 label_of(&s[i]));
			return MS_ERR_INPUT;
		}
		if (s[i].rows == 0 || s[i].cols == 0) {
			snprintf(err, errlen, "missing Rows/Columns in instance %s", label_of(&s[i]));
			return MS_ERR_INPUT;
		}
		if (!(s[i].pixel_spacing[0] > 0 && s[i].pixel_spacing[1] > 0)) {
			snprintf(err, errlen, "invalid PixelSpacing %g\\%g in instance %s", s[i].pixel_spacing[0],
				 s[i].pixel_spacing[1], label_of(&s[i]));
			return MS_ERR_INPUT;
		}
		if (s[i].rows != s[0].rows || s[i].cols != s[0].cols) {
			snprintf(err, errlen, "mixed image size: %ux%u in instance %s, %ux%u in instance %s",
				 s[0].cols, s[0].rows, label_of(&s[0]), s[i].cols, s[i].rows, label_of(&s[i]));
			return MS_ERR_INPUT;
		}
		for (int k = 0; k < 6; k++) {
			if (fabs(s[i].iop[k] - s[0].iop[k]) > o->orient_tol) {
				snprintf(err, errlen,
					 "mixed image orientation: instance %s differs from instance %s "
					 "(ImageOrientationPatient component %d: %g vs %g)",
					 label_of(&s[i]), label_of(&s[0]), k + 1, s[i].iop[k], s[0].iop[k]);
				return MS_ERR_INPUT;
			}
		}
		for (int k = 0; k < 2; k++) {
			double a = s[i].pixel_spacing[k], b = s[0].pixel_spacing[k];
			if (fabs(a - b) > 1e-4 * fmax(a, b)) {
				snprintf(err, errlen, "mixed pixel spacing: %g mm in instance %s, %g mm in instance %s",
					 b, label_of(&s[0]), a, label_of(&s[i]));
				return MS_ERR_INPUT;
			}
		}
	}
	return MS_OK;
}

ms_status ms_geometry_sort(const ms_slice_geom *s, size_t n, const ms_geometry_opts *opts, size_t *order,
			   ms_geometry *g, char *err, size_t errlen)
{
	ms_geometry_opts o = opts ? *opts : ms_geometry_default_opts();
	ms_status rc;
	keyed_slice *keys = NULL;

	if (n == 0) {
		snprintf(err, errlen, "the series has no images");
		return MS_ERR_INPUT;
	}
	rc = check_consistent(s, n, &o, err, errlen);
	if (rc != MS_OK)
		return rc;
	if (n == 1) {
		snprintf(err, errlen, "the series has only 1 slice; a volume needs at least 2");
		return MS_ERR_INPUT;
	}

	const double *row = s[0].iop, *col = s[0].iop + 3;
	double normal[3];
	cross3(row, col, normal);
	double nlen = sqrt(dot3(normal, normal));
	if (fabs(sqrt(dot3(row, row)) - 1) > 1e-3 || fabs(sqrt(dot3(col, col)) - 1) > 1e-3 ||
	    fabs(dot3(row, col)) > 1e-3 || nlen < 0.5) {
		snprintf(err, errlen, "invalid ImageOrientationPatient in instance %s: not two orthogonal unit vectors",
			 label_of(&s[0]));
		return MS_ERR_INPUT;
	}
	for (int k = 0; k < 3; k++)
		normal[k] /= nlen;

	keys = ms_malloc(n * sizeof(*keys));
	if (!keys)
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		keys[i].z = dot3(s[i].ipp, normal);
		keys[i].index = i;
	}
	qsort(keys, n, sizeof(*keys), by_z);

	rc = MS_ERR_INPUT;
	const double pos_eps = 1e-3; /* mm: positions closer than this are the same slice */
	for (size_t i = 1; i < n; i++) {
		if (keys[i].z - keys[i - 1].z < pos_eps) {
			snprintf(err, errlen, "duplicate slice position %.3f mm along the normal (instances %s and %s)",
				 keys[i].z, label_of(&s[keys[i - 1].index]), label_of(&s[keys[i].index]));
			goto out_free_keys;
		}
	}

	const double *first = s[keys[0].index].ipp, *last = s[keys[n - 1].index].ipp;
	double stack[3] = { last[0] - first[0], last[1] - first[1], last[2] - first[2] };
	double stack_len = sqrt(dot3(stack, stack));
	double cos_tilt = dot3(stack, normal) / stack_len;
	double tilt_deg = acos(fmin(1.0, fabs(cos_tilt))) * 180.0 / M_PI;
	if (tilt_deg > o.tilt_tol_deg) {
		snprintf(err, errlen,
			 "gantry tilt or sheared stack: slice positions deviate %.2f degrees from the slice normal "
			 "(tolerance %.2f); tilted acquisitions are not resampled",
			 tilt_deg, o.tilt_tol_deg);
		goto out_free_keys;
	}

	double mean_gap = (keys[n - 1].z - keys[0].z) / (double)(n - 1);
	/* Finite but absurd positions (around 1e308 mm) overflow the projections and gaps to inf/NaN,
	 * which no tolerance check below rejects (fuzz_geometry regression crash-overflowing-ipp). */
	if (!isfinite(mean_gap)) {
		snprintf(err, errlen, "invalid ImagePositionPatient: slice positions out of range (%g mm apart)",
			 keys[n - 1].z - keys[0].z);
		goto out_free_keys;
	}
	double tol = fmax(o.spacing_abs_tol, o.spacing_rel_tol * mean_gap);
	/* Name the gap that deviates most (a missing slice shows as the one double gap). worst starts
	 * at a real gap: with a zero or negative tolerance even a perfect stack "deviates"
	 * (fuzz_geometry regression crash-negative-tolerance read keys[-1]). */
	size_t worst = 1;
	double worst_dev = fabs(keys[1].z - keys[0].z - mean_gap);
	for (size_t i = 2; i < n; i++) {
		double dev = fabs(keys[i].z - keys[i - 1].z - mean_gap);
		if (dev > worst_dev) {
			worst_dev = dev;
			worst = i;
		}
	}
	if (worst_dev > tol) {
		snprintf(err, errlen,
			 "non-uniform slice spacing: gap of %.3f mm between instances %s and %s, mean %.3f mm "
			 "(tolerance %.3f mm); a slice may be missing",
			 keys[worst].z - keys[worst - 1].z, label_of(&s[keys[worst - 1].index]),
			 label_of(&s[keys[worst].index]), mean_gap, tol);
		goto out_free_keys;
	}

	for (size_t i = 0; i < n; i++)
		order[i] = keys[i].index;
	for (int k = 0; k < 3; k++) {
		g->origin[k] = first[k];
		g->row_dir[k] = row[k];
		g->col_dir[k] = col[k];
		g->normal[k] = normal[k];
	}
	/* PixelSpacing is (row spacing, column spacing): x steps along a row use the column spacing. */
	g->spacing[0] = s[0].pixel_spacing[1];
	g->spacing[1] = s[0].pixel_spacing[0];
	g->spacing[2] = mean_gap;
	rc = MS_OK;
out_free_keys:
	ms_free(keys);
	return rc;
}
