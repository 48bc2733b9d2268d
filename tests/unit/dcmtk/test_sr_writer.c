/* SR writer (TID 1500): totals group + two lesion groups on a SEG segment; dciodvfy and DCMTK
 * read-back of values and units. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "dicom/sr_writer.h"
#include "dicom/uid.h"
#include "tests/testhelp.h"
#include "tests/unit/dcmtk/synth_ct.h"

static char sr_series[65], sr_sop[65], seg_series[65], seg_sop[65], device_uid[65];
static char track_uid[3][65];

static const ms_code agatston_method = {"112055", "DCM", "Agatston scoring method"};
static const ms_code volume_method = {"112056", "DCM", "Volume scoring method"};
static const ms_code mass_method = {"112057", "DCM", "Mass scoring method"};
static const ms_code coronary = {"41801008", "SCT", "Coronary artery"};
static const ms_code lad = {"59438005", "SCT", "Left anterior descending coronary artery"};

static ms_sr_measurement totals[3], lesion1[2], lesion2[2];
static ms_sr_group groups[3];

static ms_sr_measurement score(double v)
{
	return (ms_sr_measurement){{"112058", "DCM", "Calcium score"}, v, {"1", "UCUM", "no units"}, &agatston_method};
}

static ms_sr_measurement volume(double v)
{
	return (ms_sr_measurement){{"122660", "DCM", "Calcium Volume"}, v, {"mm3", "UCUM", "cubic millimeter"},
	                           &volume_method};
}

static void fill_desc(syn_ct *ct, ms_sr_desc *d)
{
	const char *p[4] = {ct->series_uid, "cac", NULL, NULL};
	p[2] = "sr-series";
	ms_uid_derive(sr_series, p, 3);
	p[2] = "sr";
	ms_uid_derive(sr_sop, p, 3);
	p[2] = "seg-series";
	ms_uid_derive(seg_series, p, 3);
	p[2] = "seg";
	ms_uid_derive(seg_sop, p, 3);
	p[2] = "device";
	ms_uid_derive(device_uid, p, 3);
	for (int i = 0; i < 3; i++) {
		char n[4];
		snprintf(n, sizeof(n), "%d", i);
		p[2] = "track";
		p[3] = n;
		ms_uid_derive(track_uid[i], p, 4);
	}
	/* Values chosen to need more than 16 DS characters, and a tiny one. */
	totals[0] = score(123.45678901234567);
	totals[1] = volume(98.7654321);
	totals[2] = (ms_sr_measurement){{"122661", "DCM", "Calcium Mass"}, 0.000123456789, {"mg", "UCUM", "milligram"},
	                                &mass_method};
	lesion1[0] = score(100.25);
	lesion1[1] = volume(80.5);
	lesion2[0] = score(23.206789012345670);
	lesion2[1] = (ms_sr_measurement){{"122660", "DCM", "Calcium Volume"}, 18.2654321, {"mm3", "UCUM", "cubic millimeter"},
	                                 NULL};
	groups[0] = (ms_sr_group){
	    .tracking_id = "Total coronary calcium",
	    .tracking_uid = track_uid[0],
	    .finding = {"18115005", "SCT", "Pathologic calcification"},
	    .finding_site = &coronary,
	    .referenced_segment = 0,
	    .measurements = totals,
	    .n_measurements = 3,
	};
	groups[1] = (ms_sr_group){
	    .tracking_id = "Lesion 1",
	    .tracking_uid = track_uid[1],
	    .finding = {"18115005", "SCT", "Pathologic calcification"},
	    .finding_site = &lad,
	    .referenced_segment = 1,
	    .measurements = lesion1,
	    .n_measurements = 2,
	};
	groups[2] = (ms_sr_group){
	    .tracking_id = "Lesion 2",
	    .tracking_uid = track_uid[2],
	    .finding = {"18115005", "SCT", "Pathologic calcification"},
	    .referenced_segment = 1,
	    .measurements = lesion2,
	    .n_measurements = 2,
	};
	*d = (ms_sr_desc){
	    .src = &ct->src,
	    .series_uid = sr_series,
	    .sop_uid = sr_sop,
	    .series_description = "MedSight calcium report",
	    .series_number = 9002,
	    .procedure_reported = {"426005005", "SCT", "Cardiac CT for calcium scoring"},
	    .device_observer_uid = device_uid,
	    .device_observer_name = "MedSight",
	    .algorithm_name = "MedSight CAC",
	    .algorithm_version = "1.0",
	    .algorithm_parameters = "threshold=130 HU; min_area=1 mm2; kVp=120",
	    .seg_sop_uid = seg_sop,
	    .seg_series_uid = seg_series,
	    .groups = groups,
	    .n_groups = 3,
	};
}

static void test_write_and_read_back(syn_ct *ct)
{
	ms_sr_desc d;
	fill_desc(ct, &d);
	uint8_t *buf = NULL;
	size_t n = 0;
	char err[512];
	ms_status rc = ms_sr_write(&d, &buf, &n, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_sr_write: %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);
	CHECK(buf != NULL && n > 132);
	if (!buf)
		return;
	char path[128];
	snprintf(path, sizeof(path), "%s/sr.dcm", ct->dir);
	CHECK_EQ_INT(syn_write_file(path, buf, n), 0);
	CHECK_EQ_INT(syn_dciodvfy(path, "SR"), 0);
	CHECK_EQ_INT(syn_check_utf8(path), 0);

	rc = ms_sr_check(buf, n, 3, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_sr_check: %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);
	rc = ms_sr_verify(buf, n, &d, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_sr_verify: %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);

	/* The checks must notice wrong expectations and broken input. */
	CHECK_EQ_INT(ms_sr_check(buf, n, 2, err, sizeof(err)), MS_ERR_DICOM);
	CHECK_EQ_INT(ms_sr_check(buf, n / 2, 3, err, sizeof(err)), MS_ERR_DICOM);
	CHECK_EQ_INT(ms_sr_check(NULL, 0, 3, err, sizeof(err)), MS_ERR_DICOM);
	lesion2[0].value += 0.001;
	CHECK_EQ_INT(ms_sr_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	lesion2[0].value -= 0.001;
	totals[1].unit.value = "cm3";
	CHECK_EQ_INT(ms_sr_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	totals[1].unit.value = "mm3";
	groups[1].tracking_id = "Lesion 9";
	CHECK_EQ_INT(ms_sr_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	groups[1].tracking_id = "Lesion 1";
	groups[2].referenced_segment = 2;
	CHECK_EQ_INT(ms_sr_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	groups[2].referenced_segment = 1;
	d.predecessor_sop_uid = "1.2.3"; /* not in this report */
	CHECK_EQ_INT(ms_sr_verify(buf, n, &d, err, sizeof(err)), MS_ERR_DICOM);
	d.predecessor_sop_uid = NULL;
	CHECK_EQ_INT(ms_sr_verify(buf, n, &d, err, sizeof(err)), MS_OK);

	ms_dicom_free(buf);
}

static void test_minimal_and_predecessor(syn_ct *ct)
{
	/* Totals only, no SEG, replacing an earlier report. */
	ms_sr_desc d;
	fill_desc(ct, &d);
	d.groups = groups;
	d.n_groups = 1;
	d.seg_sop_uid = d.seg_series_uid = NULL;
	d.algorithm_parameters = NULL;
	d.predecessor_sop_uid = "1.2.3.4.5";
	uint8_t *buf = NULL;
	size_t n = 0;
	char err[512];
	ms_status rc = ms_sr_write(&d, &buf, &n, err, sizeof(err));
	if (rc != MS_OK)
		fprintf(stderr, "ms_sr_write (minimal): %s\n", err);
	CHECK_EQ_INT(rc, MS_OK);
	if (!buf)
		return;
	char path[128];
	snprintf(path, sizeof(path), "%s/sr_min.dcm", ct->dir);
	CHECK_EQ_INT(syn_write_file(path, buf, n), 0);
	CHECK_EQ_INT(syn_dciodvfy(path, "minimal SR"), 0);
	CHECK_EQ_INT(ms_sr_verify(buf, n, &d, err, sizeof(err)), MS_OK);
	ms_dicom_free(buf);
}

static void test_bad_arguments(syn_ct *ct)
{
	ms_sr_desc d;
	fill_desc(ct, &d);
	uint8_t *buf = (uint8_t *)1;
	size_t n = 5;
	char err[256];
	d.seg_sop_uid = d.seg_series_uid = NULL; /* lesion groups reference a segment */
	CHECK_EQ_INT(ms_sr_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	CHECK(buf == NULL && n == 0);
	fill_desc(ct, &d);
	d.n_groups = 0;
	CHECK_EQ_INT(ms_sr_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	lesion1[1].value = 0.0 / 0.0; /* NaN */
	CHECK_EQ_INT(ms_sr_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	fill_desc(ct, &d);
	d.device_observer_uid = "not a uid";
	CHECK_EQ_INT(ms_sr_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_DICOM);
	CHECK(buf == NULL);
	CHECK_EQ_INT(ms_sr_write(NULL, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	/* CodeMeaning is LO: 64 characters at most (a 78-character PS3.16 meaning once slipped through). */
	fill_desc(ct, &d);
	d.procedure_reported = (ms_code){ "126301", "DCM",
					  "Perfusion analysis by IV Iodinated Contrast Computed Tomography (CT) technique" };
	CHECK_EQ_INT(ms_sr_write(&d, &buf, &n, err, sizeof(err)), MS_ERR_ARG);
	d.procedure_reported = (ms_code){ "126301", "DCM", "Perfusion analysis by IV iodinated contrast CT" };
	CHECK_EQ_INT(ms_sr_write(&d, &buf, &n, err, sizeof(err)), MS_OK);
	ms_dicom_free(buf);
}

int main(void)
{
	syn_ct ct;
	if (syn_ct_create(&ct) != 0) {
		fprintf(stderr, "cannot create the synthetic CT (dump2dcm missing?)\n");
		return 1;
	}
	test_write_and_read_back(&ct);
	test_minimal_and_predecessor(&ct);
	test_bad_arguments(&ct);
	syn_ct_destroy(&ct);
	return TEST_REPORT();
}
