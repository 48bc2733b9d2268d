/* Geometry sorting and the rejection of every inconsistent series with its message. */
#include <stdio.h>
#include <string.h>

#include "compute/geometry.h"
#include "tests/testhelp.h"

#define N 8

static void make_stack(ms_slice_geom *s, size_t n, double dz)
{
	static char labels[64][24];
	for (size_t i = 0; i < n; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		/* shuffled: reverse order, so sorting must happen */
		s[i].ipp[0] = -10;
		s[i].ipp[1] = -20;
		s[i].ipp[2] = 5 + dz * (double)(n - 1 - i);
		double iop[6] = { 1, 0, 0, 0, 1, 0 };
		memcpy(s[i].iop, iop, sizeof(iop));
		s[i].pixel_spacing[0] = 0.7;
		s[i].pixel_spacing[1] = 0.5;
		s[i].rows = 32;
		s[i].cols = 48;
		s[i].has_ipp = s[i].has_iop = s[i].has_pixel_spacing = true;
		snprintf(labels[i], sizeof(labels[i]), "i%zu", i);
		s[i].label = labels[i];
	}
}

static void expect_error(ms_slice_geom *s, size_t n, const char *phrase)
{
	size_t order[64];
	ms_geometry g;
	char err[512] = "";
	ms_status rc = ms_geometry_sort(s, n, NULL, order, &g, err, sizeof(err));
	CHECK_EQ_INT(rc, MS_ERR_INPUT);
	if (!strstr(err, phrase)) {
		fprintf(stderr, "expected '%s' in '%s'\n", phrase, err);
		CHECK(0);
	}
}

int main(void)
{
	ms_slice_geom s[N];
	size_t order[N];
	ms_geometry g;
	char err[512];

	make_stack(s, N, 2.5);
	CHECK_EQ_INT(ms_geometry_sort(s, N, NULL, order, &g, err, sizeof(err)), MS_OK);
	for (size_t i = 0; i < N; i++)
		CHECK_EQ_INT(order[i], N - 1 - i);
	CHECK_NEAR(g.spacing[0], 0.5, 1e-12);
	CHECK_NEAR(g.spacing[1], 0.7, 1e-12);
	CHECK_NEAR(g.spacing[2], 2.5, 1e-12);
	CHECK_NEAR(g.origin[2], 5, 1e-12);
	CHECK_NEAR(g.normal[2], 1, 1e-12);

	/* Oblique but regular stack (rotated about x): accepted, spacing along the normal. */
	make_stack(s, N, 1);
	for (size_t i = 0; i < N; i++) {
		double c = cos(0.3), sn = sin(0.3), k = (double)i;
		double iop[6] = { 1, 0, 0, 0, c, sn };
		memcpy(s[i].iop, iop, sizeof(iop));
		s[i].ipp[0] = 0;
		s[i].ipp[1] = -sn * 1.25 * k;
		s[i].ipp[2] = c * 1.25 * k;
	}
	CHECK_EQ_INT(ms_geometry_sort(s, N, NULL, order, &g, err, sizeof(err)), MS_OK);
	CHECK_NEAR(g.spacing[2], 1.25, 1e-9);

	make_stack(s, N, 2.5);
	s[3].iop[1] = 0.2;
	expect_error(s, N, "mixed image orientation");

	make_stack(s, N, 2.5);
	s[5].rows = 16;
	expect_error(s, N, "mixed image size");

	make_stack(s, N, 2.5);
	s[2].ipp[2] = s[3].ipp[2];
	expect_error(s, N, "duplicate slice position");

	make_stack(s, N, 2.5);
	s[4].has_ipp = false;
	expect_error(s, N, "missing ImagePositionPatient");

	make_stack(s, N, 2.5);
	s[4].has_pixel_spacing = false;
	expect_error(s, N, "missing PixelSpacing");

	/* A missing slice in the middle: the message names the double gap, not a normal one. */
	make_stack(s, N, 2.5);
	for (size_t i = 0; i < 3; i++)
		s[i].ipp[2] += 2.5;
	expect_error(s, N, "non-uniform slice spacing: gap of 5.000 mm between instances i3 and i2");

	/* Spacing jitter within tolerance is accepted. */
	make_stack(s, N, 2.5);
	s[3].ipp[2] += 0.005;
	CHECK_EQ_INT(ms_geometry_sort(s, N, NULL, order, &g, err, sizeof(err)), MS_OK);

	/* Gantry tilt: positions drift in y with z. */
	make_stack(s, N, 2.5);
	for (size_t i = 0; i < N; i++)
		s[i].ipp[1] += 0.2 * s[i].ipp[2];
	expect_error(s, N, "gantry tilt");

	make_stack(s, 1, 2.5);
	expect_error(s, 1, "only 1 slice");
	expect_error(s, 0, "no images");

	make_stack(s, N, 2.5);
	for (size_t i = 0; i < N; i++)
		s[i].iop[4] = 0; /* column direction zero */
	expect_error(s, N, "invalid ImageOrientationPatient");

	return TEST_REPORT();
}
