/* Test helpers for tests/unit/dcmtk: a small synthetic CT series written with DCMTK's dump2dcm,
 * file I/O in a private temp folder, and dciodvfy runs. Header-only (static) because tests are
 * single-file executables. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dicom/source_info.h"
#include "dicom/uid.h"

#define SYN_NX 16
#define SYN_NY 16
#define SYN_NZ 4

typedef struct {
	char dir[64];                     /* private temp folder */
	char study_uid[65], series_uid[65], for_uid[65];
	char slice_uid[SYN_NZ][65];
	const char *slice_ptrs[SYN_NZ];
	uint8_t *first;                   /* Part 10 bytes of slice 0 */
	size_t first_size;
	ms_dicom_source src;
} syn_ct;

static int syn_write_file(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(buf, 1, n, f);
	return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static uint8_t *syn_read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = len > 0 ? malloc((size_t)len) : NULL;
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*n = buf ? (size_t)len : 0;
	return buf;
}

/* Runs dciodvfy on path; prints its warnings, returns the number of "Error" lines (-1 if it
 * could not run). */
static int syn_dciodvfy(const char *path, const char *what)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "dciodvfy '%s' 2>&1", path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	char line[1024];
	int errors = 0, warnings = 0;
	while (fgets(line, sizeof(line), p)) {
		if (strncmp(line, "Error", 5) == 0) {
			errors++;
			fprintf(stderr, "dciodvfy %s: %s", what, line);
		} else if (strncmp(line, "Warning", 7) == 0) {
			warnings++;
			fprintf(stderr, "dciodvfy %s: %s", what, line);
		}
	}
	int st = pclose(p);
	if (st == -1 || (WIFEXITED(st) && WEXITSTATUS(st) == 127))
		return -1;
	printf("dciodvfy %s: %d errors, %d warnings\n", what, errors, warnings);
	return errors;
}

/* Stored value of pixel (x, y) of slice k: HU + 1024; a 2x2 "calcification" on slices 1 and 2. */
static unsigned syn_pixel(int x, int y, int k)
{
	int hu = (x >= 2 && x < 14 && y >= 2 && y < 14) ? 40 : -1000;
	if ((k == 1 || k == 2) && x >= 6 && x < 8 && y >= 5 && y < 7)
		hu = 450;
	return (unsigned)(hu + 1024);
}

/* Writes slice k as a CT Image Storage file via dump2dcm. drop_rows leaves out Rows (an
 * invalid object, to prove the dciodvfy check can fail). 0 on success. */
static int syn_write_slice(const syn_ct *s, int k, const char *path, int drop_rows)
{
	char dump[128];
	snprintf(dump, sizeof(dump), "%s/slice%d.txt", s->dir, k);
	FILE *f = fopen(dump, "w");
	if (!f)
		return -1;
	fprintf(f, "(0002,0010) UI =LittleEndianExplicit\n");
	fprintf(f, "(0008,0008) CS [ORIGINAL\\PRIMARY\\AXIAL]\n");
	fprintf(f, "(0008,0016) UI =CTImageStorage\n");
	fprintf(f, "(0008,0018) UI [%s]\n", s->slice_uid[k]);
	fprintf(f, "(0008,0020) DA [20240102]\n(0008,0030) TM [101500]\n");
	fprintf(f, "(0008,0023) DA [20240102]\n(0008,0033) TM [101500]\n");
	fprintf(f, "(0008,0050) SH [ACC1]\n(0008,0060) CS [CT]\n(0008,0070) LO [Synth]\n");
	/* Latin-1 source: results must convert it (ISO_IR 192), not relabel the bytes. */
	fprintf(f, "(0008,0005) CS [ISO_IR 100]\n");
	fprintf(f, "(0008,0090) PN []\n(0010,0010) PN [M\xfcller^Anna]\n(0010,0020) LO [PID1]\n");
	fprintf(f, "(0010,0030) DA [19600101]\n(0010,0040) CS [O]\n");
	fprintf(f, "(0018,0050) DS [2.5]\n(0018,0060) DS [120]\n(0018,5100) CS [HFS]\n(0020,0060) CS []\n");
	fprintf(f, "(0020,000d) UI [%s]\n(0020,000e) UI [%s]\n", s->study_uid, s->series_uid);
	fprintf(f, "(0020,0010) SH [S1]\n(0020,0011) IS [3]\n(0020,0012) IS [1]\n(0020,0013) IS [%d]\n", k + 1);
	fprintf(f, "(0020,0032) DS [-8\\-8\\%g]\n", 10.0 + 2.5 * k);
	fprintf(f, "(0020,0037) DS [1\\0\\0\\0\\1\\0]\n(0020,0052) UI [%s]\n(0020,1040) LO []\n", s->for_uid);
	fprintf(f, "(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n");
	if (!drop_rows)
		fprintf(f, "(0028,0010) US %d\n", SYN_NY);
	fprintf(f, "(0028,0011) US %d\n(0028,0030) DS [0.5\\0.5]\n", SYN_NX);
	fprintf(f, "(0028,0100) US 16\n(0028,0101) US 16\n(0028,0102) US 15\n(0028,0103) US 0\n");
	fprintf(f, "(0028,1052) DS [-1024]\n(0028,1053) DS [1]\n(0028,1054) LO [HU]\n");
	fprintf(f, "(7fe0,0010) OW ");
	for (int y = 0; y < SYN_NY; y++)
		for (int x = 0; x < SYN_NX; x++)
			fprintf(f, "%s%04x", (x || y) ? "\\" : "", syn_pixel(x, y, k));
	fprintf(f, "\n");
	if (fclose(f) != 0)
		return -1;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "dump2dcm -q '%s' '%s'", dump, path);
	return system(cmd) == 0 ? 0 : -1;
}

/* Creates the temp folder and the series; fills s->src. 0 on success. */
static int syn_ct_create(syn_ct *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/ms_dcmtk_XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	const char *p1[] = {"test", "study"}, *p2[] = {"test", "series"}, *p3[] = {"test", "for"};
	ms_uid_derive(s->study_uid, p1, 2);
	ms_uid_derive(s->series_uid, p2, 2);
	ms_uid_derive(s->for_uid, p3, 2);
	for (int k = 0; k < SYN_NZ; k++) {
		char n[8];
		snprintf(n, sizeof(n), "%d", k);
		const char *p[] = {"test", "slice", n};
		ms_uid_derive(s->slice_uid[k], p, 3);
		s->slice_ptrs[k] = s->slice_uid[k];
		char path[128];
		snprintf(path, sizeof(path), "%s/ct%d.dcm", s->dir, k);
		if (syn_write_slice(s, k, path, 0) != 0)
			return -1;
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/ct0.dcm", s->dir);
	s->first = syn_read_file(path, &s->first_size);
	if (!s->first)
		return -1;
	ms_dicom_source *src = &s->src;
	src->first_dicom = s->first;
	src->first_dicom_size = s->first_size;
	src->n_slices = SYN_NZ;
	src->sop_instance_uids = s->slice_ptrs;
	src->sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
	src->series_instance_uid = s->series_uid;
	src->nx = SYN_NX;
	src->ny = SYN_NY;
	const double origin[3] = {-8, -8, 10}, row[3] = {1, 0, 0}, col[3] = {0, 1, 0}, nrm[3] = {0, 0, 1},
	             sp[3] = {0.5, 0.5, 2.5};
	memcpy(src->origin, origin, sizeof(origin));
	memcpy(src->row_dir, row, sizeof(row));
	memcpy(src->col_dir, col, sizeof(col));
	memcpy(src->normal, nrm, sizeof(nrm));
	memcpy(src->spacing, sp, sizeof(sp));
	return 0;
}

/* Removes the temp folder unless MS_KEEP_TMP is set (to inspect the files). */
static void syn_ct_destroy(syn_ct *s)
{
	free(s->first);
	s->first = NULL;
	if (s->dir[0] && !getenv("MS_KEEP_TMP")) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", s->dir);
	} else if (s->dir[0]) {
		printf("kept %s\n", s->dir);
	}
}

/* 0 when the DICOM file at path declares ISO_IR 192 and holds the source's patient name
 * converted to UTF-8 ("M\xc3\xbcller^Anna"); prints what it found otherwise. */
static int syn_check_utf8(const char *path)
{
	char cmd[600], line[512];
	int charset = 0, name = 0;
	snprintf(cmd, sizeof(cmd), "dcmdump +P SpecificCharacterSet +P PatientName '%s' 2>&1", path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		charset |= strstr(line, "ISO_IR 192") != NULL;
		name |= strstr(line, "M\xc3\xbcller^Anna") != NULL;
		if (!strstr(line, "ISO_IR 192") && !strstr(line, "M\xc3\xbcller^Anna"))
			fprintf(stderr, "utf8 check: %s", line);
	}
	pclose(p);
	return charset && name ? 0 : 1;
}

