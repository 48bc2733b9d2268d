/* SEG writer: synthetic CT source, two segments (one empty), dciodvfy, DCMTK read-back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "dicom/seg_writer.h"
#include "dicom/uid.h"
#include "tests/testhelp.h"
#include "tests/unit/dcmtk/synth_ct.h"

#define NVOX (SYN_NX * SYN_NY * SYN_NZ)

static uint8_t calc_mask[NVOX], empty_mask[NVOX];
static char seg_series[65], seg_sop[65], track_uid[65];
static const ms_code region = {"41801008", "SCT", "Coronary artery"};
static ms_seg_segment segments[2];

static void fill_desc(syn_ct *ct, ms_seg_desc *d)
{
	/* The mask is exactly the HU >= 130 pixels of the synthetic volume. */
	for (int k = 0; k < SYN_NZ; k++)
		for (int y = 0; y < SYN_NY; y++)
			for (int x = 0; x < SYN_NX; x++)
				calc_mask[(k * SYN_NY + y) * SYN_NX + x] = (int)syn_pixel(x, y, k) - 1024 >= 130;
	memset(empty_mask, 0, sizeof(empty_mask));
	const char *ps[] = {ct->series_uid, "cac", "seg-series"}, *pi[] = {ct->series_uid, "cac", "seg"},
	           *pt[] = {ct->series_uid, "cac", "track", "1"};
	ms_uid_derive(seg_series, ps, 3);
	ms_uid_derive(seg_sop, pi, 3);
	ms_uid_derive(track_uid, pt, 4);
	segments[0] = (ms_seg_segment){
	    .label = "Calcium",
	    .category = {"49755003", "SCT", "Morphologically Abnormal Structure"},
	    .type = {"18115005", "SCT", "Pathologic calcification"},
	    .anatomic_region = &region,
	    .tracking_id = "CAC lesions",
	    .tracking_uid = track_uid,
	    .mask = calc_mask,
	};
	segments[1] = (ms_seg_segment){
	    .label = "Lung",
	    .category = {"91723000", "SCT", "Anatomical Structure"},
	    .type = {"39607008", "SCT", "Lung"},
	    .mask = empty_mask,
	};
	*d = (ms_seg_desc){
	    .src = &ct->src,
	    .series_uid = seg_series,
	    .sop_uid = seg_sop,
	    .series_description = "MedSight calcium",
	    .series_number = 9001,
	    .content_label = "CALCIUM",
	    .algorithm_name = "MedSight CAC",
	    .algorithm_version = "1.0",
	    .segments = segments,
	    .n_segments = 2,
	};
}

/* Runs check_seg.py (pydicom, a decoder independent of DCMTK) on path. Returns its exit code:
 * 0 equal, 1 different, 77 pydicom missing. */
static int pydicom_check(syn_ct *ct, const char *path, const ms_seg_desc *d)
{
	char file[128];
	for (size_t i = 0; i < d->n_segments; i++) {
		snprintf(file, sizeof(file), "%s/seg%zu.raw", ct->dir, i + 1);
		if (syn_write_file(file, d->segments[i].mask, NVOX) != 0)
			return -1;
	}
	const char *srcdir = getenv("MS_SOURCE_DIR");
	char cmd[1024];
	int o = snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/unit/dcmtk/check_seg.py' '%s' %d %d %d '%s'",
	                 srcdir ? srcdir : ".", path, SYN_NX, SYN_NY, SYN_NZ, ct->dir);
	for (int k = 0; k < SYN_NZ && o > 0 && (size_t)o < sizeof(cmd); k++)
		o += snprintf(cmd + o, sizeof(cmd) - (size_t)o, " %s", ct->slice_uid[k]);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_write_and_read_back(syn_ct *ct)
{
	ms_seg_desc d;
	fill_desc(ct, &d);
	uint8_t *buf = NULL;
	size_t n = 0;
	char err[256];
	ms_status rc = ms_seg_write(&d, &buf, &n, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_seg_write: %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);
	CHECK(buf != NULL && n > 132);
	if (!buf)
		return;
	CHECK(memcmp(buf + 128, "DICM", 4) == 0);

	char path[128];
	snprintf(path, sizeof(path), "%s/seg.dcm", ct->dir);
	CHECK_EQ_INT(syn_write_file(path, buf, n), 0);
	CHECK_EQ_INT(syn_dciodvfy(path, "SEG"), 0);
	CHECK_EQ_INT(syn_check_utf8(path), 0);

	rc = ms_seg_verify(buf, n, &d, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_seg_verify: %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);

	int py = pydicom_check(ct, path, &d);
	if (py == 77)
		printf("pydicom missing: independent read-back skipped\n");
	else
		CHECK_EQ_INT(py, 0);

	/* The verification must notice a changed mask pixel ... */
	calc_mask[(1 * SYN_NY + 5) * SYN_NX + 6] = 0;
	CHECK_EQ_INT(ms_seg_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	if (py != 77)
		CHECK_EQ_INT(pydicom_check(ct, path, &d), 1);
	calc_mask[(1 * SYN_NY + 5) * SYN_NX + 6] = 1;
	/* ... a pixel on a slice that has no frame (changes the expected frame count) ... */
	calc_mask[(3 * SYN_NY + 0) * SYN_NX + 0] = 1;
	CHECK_EQ_INT(ms_seg_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	calc_mask[(3 * SYN_NY + 0) * SYN_NX + 0] = 0;
	/* ... a renamed segment and a corrupted buffer. */
	segments[1].label = "Lungs";
	CHECK_EQ_INT(ms_seg_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	segments[1].label = "Lung";
	CHECK_EQ_INT(ms_seg_verify(buf, n / 2, &d, err, sizeof(err)), MS_ERR_DICOM);
	CHECK_EQ_INT(ms_seg_verify(buf, n, &d, err, sizeof(err)), MS_OK);

	/* Same description, same bytes apart from dates/times: the UIDs are deterministic. */
	uint8_t *again = NULL;
	size_t n2 = 0;
	CHECK_EQ_INT(ms_seg_write(&d, &again, &n2, err, sizeof(err)), MS_OK);
	CHECK_EQ_INT(n2, n);
	ms_dicom_free(again);
	ms_dicom_free(buf);
}

static void test_all_empty(syn_ct *ct)
{
	/* "No lungs found": a single empty segment still makes a valid SEG with one frame. */
	ms_seg_desc d;
	fill_desc(ct, &d);
	d.segments = &segments[1];
	d.n_segments = 1;
	uint8_t *buf = NULL;
	size_t n = 0;
	char err[256];
	ms_status rc = ms_seg_write(&d, &buf, &n, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_seg_write (empty): %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);
	if (!buf)
		return;
	char path[128];
	snprintf(path, sizeof(path), "%s/seg_empty.dcm", ct->dir);
	CHECK_EQ_INT(syn_write_file(path, buf, n), 0);
	CHECK_EQ_INT(syn_dciodvfy(path, "empty SEG"), 0);
	rc = ms_seg_verify(buf, n, &d, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_seg_verify (empty): %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);
	ms_dicom_free(buf);
}

static void test_bad_arguments(syn_ct *ct)
{
	ms_seg_desc d;
	fill_desc(ct, &d);
	uint8_t *buf = (uint8_t *)1;
	size_t n = 7;
	char err[256];
	d.n_segments = 0;
	CHECK_EQ_INT(ms_seg_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	CHECK(buf == NULL && n == 0);
	fill_desc(ct, &d);
	segments[0].tracking_uid = NULL; /* tracking ID without UID */
	CHECK_EQ_INT(ms_seg_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	d.content_label = "not a valid CS value because lower case and too long";
	CHECK_EQ_INT(ms_seg_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_DICOM);
	CHECK(buf == NULL);
	fill_desc(ct, &d);
	ms_dicom_source bad = ct->src;
	bad.first_dicom_size = 100; /* truncated source */
	d.src = &bad;
	CHECK_EQ_INT(ms_seg_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_DICOM);
	CHECK_EQ_INT(ms_seg_write(NULL, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
}

static void test_dciodvfy_detects_errors(syn_ct *ct)
{
	/* The source itself is a valid CT, and the harness does count dciodvfy errors. */
	char path[128];
	snprintf(path, sizeof(path), "%s/ct0.dcm", ct->dir);
	CHECK_EQ_INT(syn_dciodvfy(path, "source CT"), 0);
	snprintf(path, sizeof(path), "%s/ct_bad.dcm", ct->dir);
	CHECK_EQ_INT(syn_write_slice(ct, 0, path, 1), 0);
	CHECK(syn_dciodvfy(path, "CT without Rows (expected errors)") > 0);
}

/* Segments given as values of one label map: same frames and pixels as the equivalent masks. */
static void test_label_map(syn_ct *ct)
{
	static uint32_t labels[NVOX];
	static uint8_t mask_a[NVOX], mask_b[NVOX];
	for (size_t i = 0; i < NVOX; i++) {
		labels[i] = calc_mask[i] ? 1 + (uint32_t)(i % SYN_NX >= SYN_NX / 2) : 0;
		mask_a[i] = labels[i] == 1;
		mask_b[i] = labels[i] == 2;
	}
	ms_seg_desc d;
	fill_desc(ct, &d);
	ms_seg_segment by_label[2] = { segments[0], segments[0] };
	by_label[0].mask = by_label[1].mask = NULL;
	by_label[0].labels = by_label[1].labels = labels;
	by_label[0].label_value = 1;
	by_label[1].label_value = 2;
	by_label[1].tracking_id = NULL;
	by_label[1].tracking_uid = NULL;
	d.segments = by_label;
	uint8_t *buf = NULL;
	size_t n = 0;
	char err[256];
	CHECK_EQ_INT(ms_seg_write(&d, &buf, &n, err, sizeof(err)), MS_OK);
	CHECK_EQ_INT(ms_seg_verify(buf, n, &d, err, sizeof(err)), MS_OK);
	/* Verified against plain masks too: the label map was really split by value. */
	ms_seg_segment by_mask[2] = { by_label[0], by_label[1] };
	by_mask[0].labels = by_mask[1].labels = NULL;
	by_mask[0].mask = mask_a;
	by_mask[1].mask = mask_b;
	d.segments = by_mask;
	CHECK_EQ_INT(ms_seg_verify(buf, n, &d, err, sizeof(err)), MS_OK);
	mask_b[0] ^= 1;
	CHECK_EQ_INT(ms_seg_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	ms_dicom_free(buf);
}

int main(void)
{
	syn_ct ct;
	if (syn_ct_create(&ct) != 0) {
		fprintf(stderr, "cannot create the synthetic CT (dump2dcm missing?)\n");
		return 1;
	}
	test_dciodvfy_detects_errors(&ct);
	test_write_and_read_back(&ct);
	test_all_empty(&ct);
	test_label_map(&ct);
	test_bad_arguments(&ct);
	syn_ct_destroy(&ct);
	return TEST_REPORT();
}
