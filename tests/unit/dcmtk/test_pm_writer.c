/* Parametric Map writer: synthetic CT source, float CBF/MTT maps with NaN outside the body,
 * dciodvfy, DCMTK and pydicom read-back, bad arguments, determinism. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "dicom/pm_writer.h"
#include "dicom/uid.h"
#include "tests/testhelp.h"
#include "tests/unit/dcmtk/synth_ct.h"

#define NVOX (SYN_NX * SYN_NY * SYN_NZ)

static float cbf[NVOX];
static char pm_series[65], pm_sop[65];
static const ms_code svd = {"126311", "DCM", "Singular Value Decomposition (SVD) deconvolution"};
static const ms_code brain = {"12738006", "SCT", "Brain"};

/* CBF-like values inside the synthetic body (HU > -500), NaN (not computed) in the air; one
 * negative voxel so the RWVM minimum is not trivially 0. */
static void fill_values(void)
{
	for (int k = 0; k < SYN_NZ; k++)
		for (int y = 0; y < SYN_NY; y++)
			for (int x = 0; x < SYN_NX; x++) {
				size_t i = ((size_t)k * SYN_NY + y) * SYN_NX + x;
				cbf[i] = (int)syn_pixel(x, y, k) - 1024 > -500 ? 20.0f + 1.7f * x + 0.3f * y + 5.1f * k
				                                                : NAN;
			}
	cbf[(2 * SYN_NY + 8) * SYN_NX + 8] = -0.125f;
	cbf[(3 * SYN_NY + 9) * SYN_NX + 9] = 1.0f / 3.0f; /* not exact in decimal: bit-exact check */
}

static void fill_desc(syn_ct *ct, ms_pm_desc *d)
{
	const char *ps[] = {ct->series_uid, "ctp", "cbf-series"}, *pi[] = {ct->series_uid, "ctp", "cbf"};
	ms_uid_derive(pm_series, ps, 3);
	ms_uid_derive(pm_sop, pi, 3);
	fill_values();
	*d = (ms_pm_desc){
	    .src = &ct->src,
	    .series_uid = pm_series,
	    .sop_uid = pm_sop,
	    .series_description = "MedSight CBF",
	    .series_number = 9101,
	    .content_label = "CBF",
	    .image_type_4 = "RCBF",
	    .quantity = {"126390", "DCM", "Absolute Regional Blood Flow"},
	    .unit = {"ml/[100]g/min", "UCUM", "ml/100g/min"},
	    .method = &svd,
	    .anatomic_region = &brain,
	    .lut_label = "CBF",
	    .algorithm_name = "MedSight CTP",
	    .algorithm_version = "1.0",
	    .values = cbf,
	};
}

static char *write_file(syn_ct *ct, const char *name, const uint8_t *buf, size_t n)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", ct->dir, name);
	return syn_write_file(path, buf, n) == 0 ? path : NULL;
}

/* Runs check_pm.py (pydicom, independent of DCMTK). 0 equal, 1 different, 77 pydicom missing. */
static int pydicom_check(syn_ct *ct, const char *path, const ms_pm_desc *d)
{
	char raw[128];
	snprintf(raw, sizeof(raw), "%s/values.raw", ct->dir);
	if (syn_write_file(raw, d->values, NVOX * sizeof(float)) != 0)
		return -1;
	const char *srcdir = getenv("MS_SOURCE_DIR");
	char cmd[1400];
	int o = snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/unit/dcmtk/check_pm.py' '%s' %d %d %d '%s' %s '%s' %s",
	                 srcdir ? srcdir : ".", path, SYN_NX, SYN_NY, SYN_NZ, raw, d->image_type_4, d->unit.value,
	                 d->quantity.value);
	for (int k = 0; k < SYN_NZ && o > 0 && (size_t)o < sizeof(cmd); k++)
		o += snprintf(cmd + o, sizeof(cmd) - (size_t)o, " %s", ct->slice_uid[k]);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_write_and_read_back(syn_ct *ct)
{
	ms_pm_desc d;
	fill_desc(ct, &d);
	uint8_t *buf = NULL;
	size_t n = 0;
	char err[256];
	ms_status rc = ms_pm_write(&d, &buf, &n, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_pm_write: %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);
	CHECK(buf != NULL && n > 132 + NVOX * sizeof(float));
	if (!buf)
		return;
	CHECK(memcmp(buf + 128, "DICM", 4) == 0);

	const char *path = write_file(ct, "cbf.dcm", buf, n);
	CHECK(path != NULL);
	CHECK_EQ_INT(syn_dciodvfy(path, "PM CBF"), 0);
	CHECK_EQ_INT(syn_check_utf8(path), 0);

	rc = ms_pm_verify(buf, n, &d, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_pm_verify: %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);

	int py = pydicom_check(ct, path, &d);
	if (py == 77)
		printf("pydicom missing: independent read-back skipped\n");
	else
		CHECK_EQ_INT(py, 0);

	/* The read-backs must notice a changed pixel (one ulp) ... */
	const size_t i = (3 * SYN_NY + 9) * SYN_NX + 9;
	const float keep = cbf[i];
	cbf[i] = nextafterf(keep, 1.0f);
	CHECK_EQ_INT(ms_pm_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	if (py != 77)
		CHECK_EQ_INT(pydicom_check(ct, path, &d), 1);
	cbf[i] = keep;
	/* ... a NaN that became a number (and the other way round) ... */
	cbf[0] = 0.0f;
	CHECK_EQ_INT(ms_pm_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	cbf[0] = NAN;
	cbf[(1 * SYN_NY + 5) * SYN_NX + 5] = NAN;
	CHECK_EQ_INT(ms_pm_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	fill_values();
	/* ... a different maximum (RWVM range), unit, quantity, method, label, frame type ... */
	ms_pm_desc e = d;
	e.unit = (ms_code){"ml/[100]ml/min", "UCUM", "ml/100ml/min"};
	CHECK_EQ_INT(ms_pm_verify(buf, n, &e, err, sizeof(err)), MS_ERR_DICOM);
	e = d;
	e.quantity = (ms_code){"126391", "DCM", "Absolute Regional Blood Volume"};
	CHECK_EQ_INT(ms_pm_verify(buf, n, &e, err, sizeof(err)), MS_ERR_DICOM);
	if (py != 77)
		CHECK_EQ_INT(pydicom_check(ct, path, &e), 1);
	e = d;
	e.method = NULL;
	CHECK_EQ_INT(ms_pm_verify(buf, n, &e, err, sizeof(err)), MS_ERR_DICOM);
	e = d;
	e.lut_label = "CBV";
	CHECK_EQ_INT(ms_pm_verify(buf, n, &e, err, sizeof(err)), MS_ERR_DICOM);
	e = d;
	e.image_type_4 = "RCBV";
	CHECK_EQ_INT(ms_pm_verify(buf, n, &e, err, sizeof(err)), MS_ERR_DICOM);
	/* ... other UIDs, slices in another order, and a truncated buffer. */
	e = d;
	e.sop_uid = pm_series;
	CHECK_EQ_INT(ms_pm_verify(buf, n, &e, err, sizeof(err)), MS_ERR_DICOM);
	ms_dicom_source swapped = ct->src;
	const char *order[SYN_NZ];
	for (int k = 0; k < SYN_NZ; k++)
		order[k] = ct->slice_ptrs[k];
	order[1] = ct->slice_ptrs[2];
	order[2] = ct->slice_ptrs[1];
	swapped.sop_instance_uids = order;
	e = d;
	e.src = &swapped;
	CHECK_EQ_INT(ms_pm_verify(buf, n, &e, err, sizeof(err)), MS_ERR_DICOM);
	CHECK_EQ_INT(ms_pm_verify(buf, n / 2, &d, err, sizeof(err)), MS_ERR_DICOM);
	CHECK_EQ_INT(ms_pm_verify(NULL, 0, &d, err, sizeof(err)), MS_ERR_DICOM);
	CHECK_EQ_INT(ms_pm_verify(buf, n, &d, err, sizeof(err)), MS_OK);

	ms_dicom_free(buf);
}

/* The same description writes the same object: only ContentDate/ContentTime (digits) may
 * differ between two runs. */
static void test_deterministic(syn_ct *ct)
{
	ms_pm_desc d;
	fill_desc(ct, &d);
	uint8_t *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	char err[256];
	CHECK_EQ_INT(ms_pm_write(&d, &a, &na, err, sizeof(err)), MS_OK);
	CHECK_EQ_INT(ms_pm_write(&d, &b, &nb, err, sizeof(err)), MS_OK);
	CHECK_EQ_INT(na, nb);
	if (a && b && na == nb) {
		size_t diff = 0, non_digit = 0;
		for (size_t i = 0; i < na; i++) {
			if (a[i] != b[i]) {
				diff++;
				non_digit += !isdigit(a[i]) || !isdigit(b[i]);
			}
		}
		CHECK_EQ_INT(non_digit, 0);
		CHECK(diff <= 14); /* at most the DA and TM digits */
	}
	ms_dicom_free(a);
	ms_dicom_free(b);
}

/* An MTT map without method or region, and a map where nothing was computed (all NaN). */
static void test_other_maps(syn_ct *ct)
{
	static float mtt[NVOX], none[NVOX];
	ms_pm_desc d;
	fill_desc(ct, &d);
	for (size_t i = 0; i < NVOX; i++) {
		mtt[i] = isnan(cbf[i]) ? NAN : 2.0f + (float)(i % 7) * 0.5f;
		none[i] = NAN;
	}
	d.content_label = "MTT";
	d.image_type_4 = "MTT";
	d.quantity = (ms_code){"113052", "DCM", "Mean Transit Time"};
	d.unit = (ms_code){"s", "UCUM", "second"};
	d.method = NULL;
	d.anatomic_region = NULL;
	d.lut_label = "MTT";
	d.algorithm_version = NULL;
	d.series_description = NULL;
	d.values = mtt;
	uint8_t *buf = NULL;
	size_t n = 0;
	char err[256];
	ms_status rc = ms_pm_write(&d, &buf, &n, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_pm_write (MTT): %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);
	if (buf) {
		const char *path = write_file(ct, "mtt.dcm", buf, n);
		CHECK_EQ_INT(syn_dciodvfy(path, "PM MTT"), 0);
		CHECK_EQ_INT(ms_pm_verify(buf, n, &d, err, sizeof(err)), MS_OK);
		int py = pydicom_check(ct, path, &d);
		if (py != 77)
			CHECK_EQ_INT(py, 0);
		ms_dicom_free(buf);
	}

	d.image_type_4 = "NONE";
	d.values = none;
	rc = ms_pm_write(&d, &buf, &n, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_pm_write (all NaN): %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);
	if (buf) {
		const char *path = write_file(ct, "none.dcm", buf, n);
		CHECK_EQ_INT(syn_dciodvfy(path, "PM all NaN"), 0);
		rc = ms_pm_verify(buf, n, &d, err, sizeof(err));
		if (rc != MS_OK)
			fprintf(stderr, "ms_pm_verify (all NaN): %s\n", err);
		CHECK_EQ_INT(rc, MS_OK);
		int py = pydicom_check(ct, path, &d);
		if (py != 77)
			CHECK_EQ_INT(py, 0);
		ms_dicom_free(buf);
	}
}

static void test_bad_arguments(syn_ct *ct)
{
	ms_pm_desc d;
	uint8_t *buf = (uint8_t *)1;
	size_t n = 7;
	char err[256];
	CHECK_EQ_INT(ms_pm_write(NULL, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	CHECK(buf == NULL && n == 0);
	fill_desc(ct, &d);
	d.values = NULL;
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	d.sop_uid = "";
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	d.lut_label = "SEVENTEEN_CHARSXX";
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	d.image_type_4 = NULL;
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	d.unit.meaning = "";
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	static const ms_code half = {"126311", "DCM", NULL};
	d.method = &half;
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	d.algorithm_name = NULL;
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	/* An infinity is a bug upstream, not a value to store. */
	fill_desc(ct, &d);
	cbf[17] = INFINITY;
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	CHECK(buf == NULL);
	fill_values();
	/* DCMTK's own value checks: a lower-case CS value. */
	fill_desc(ct, &d);
	d.content_label = "cbf map";
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_DICOM);
	CHECK(buf == NULL);
	fill_desc(ct, &d);
	ms_dicom_source bad = ct->src;
	bad.first_dicom_size = 100; /* truncated source */
	d.src = &bad;
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_DICOM);
	bad = ct->src;
	bad.n_slices = 0;
	CHECK_EQ_INT(ms_pm_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	CHECK_EQ_INT(ms_pm_verify(NULL, 0, NULL, err, sizeof(err)), MS_ERR_ARG);
}

/* The output buffer comes from ms_malloc: an injected failure is MS_ERR_NOMEM, not a crash. */
static void test_out_of_memory(syn_ct *ct)
{
	ms_pm_desc d;
	fill_desc(ct, &d);
	uint8_t *buf = (uint8_t *)1;
	size_t n = 7;
	char err[256];
	ms_alloc_fail_at(1, 1);
	ms_status rc = ms_pm_write(&d, &buf, &n, err, sizeof(err));
	long injected = ms_alloc_fail_at(0, 0);
	CHECK(injected > 0);
	CHECK_EQ_INT(rc, MS_ERR_NOMEM);
	CHECK(buf == NULL && n == 0);
}

int main(void)
{
	syn_ct ct;
	if (syn_ct_create(&ct) != 0) {
		fprintf(stderr, "cannot create the synthetic CT (dump2dcm missing?)\n");
		return 1;
	}
	test_write_and_read_back(&ct);
	test_deterministic(&ct);
	test_other_maps(&ct);
	test_bad_arguments(&ct);
	test_out_of_memory(&ct);
	syn_ct_destroy(&ct);
	return TEST_REPORT();
}
