#include "dicom/source_info.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <vector>

#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrmb.h>

/* common/alloc.h has no C++ guard of its own. */
extern "C" {
#include "common/alloc.h"
}

namespace ms_dcm {

bool load(const void *buf, size_t n, DcmFileFormat &ff, char *err, size_t errlen)
{
	DcmInputBufferStream is;
	is.setBuffer(buf, static_cast<offile_off_t>(n));
	is.setEos();
	ff.transferInit();
	OFCondition cond = ff.read(is, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
	ff.transferEnd();
	if (cond.bad()) {
		snprintf(err, errlen, "unreadable DICOM source: %s", cond.text());
		return false;
	}
	/* The writers copy from the dataset; make sure pixel data and other values are in memory. */
	ff.loadAllDataIntoMemory();
	/* Results are written in UTF-8 (ISO_IR 192): convert what they copy (patient names, study
	 * descriptions) instead of relabelling bytes of another character set. */
	cond = ff.convertToUTF8();
	if (cond.bad()) {
		OFString cs;
		ff.getDataset()->findAndGetOFStringArray(DCM_SpecificCharacterSet, cs);
		snprintf(err, errlen, "the source's character set '%s' cannot be converted to UTF-8: %s", cs.c_str(),
		         cond.text());
		return false;
	}
	return true;
}

ms_status save(DcmFileFormat &ff, uint8_t **out, size_t *out_size, char *err, size_t errlen)
{
	*out = NULL;
	*out_size = 0;
	const E_TransferSyntax xfer = EXS_LittleEndianExplicit;
	/* Stream in chunks: DCMTK signals a full buffer with EC_StreamNotifyClient and resumes. */
	std::vector<uint8_t> acc;
	std::vector<char> chunk(1 << 16);
	DcmOutputBufferStream os(chunk.data(), chunk.size());
	OFCondition cond = EC_StreamNotifyClient;
	ff.transferInit();
	while (cond == EC_StreamNotifyClient) {
		cond = ff.write(os, xfer, EET_ExplicitLength, NULL);
		if (cond == EC_Normal)
			os.flush();
		void *p = NULL;
		offile_off_t len = 0;
		os.flushBuffer(p, len);
		if (len > 0)
			acc.insert(acc.end(), static_cast<uint8_t *>(p), static_cast<uint8_t *>(p) + len);
	}
	ff.transferEnd();
	if (cond.bad()) {
		snprintf(err, errlen, "cannot encode DICOM object: %s", cond.text());
		return MS_ERR_DICOM;
	}
	uint8_t *buf = static_cast<uint8_t *>(ms_malloc(acc.size() ? acc.size() : 1));
	if (!buf) {
		snprintf(err, errlen, "out of memory for a %zu byte DICOM object", acc.size());
		return MS_ERR_NOMEM;
	}
	memcpy(buf, acc.data(), acc.size());
	*out = buf;
	*out_size = acc.size();
	return MS_OK;
}

std::string ds(double v)
{
	char buf[32];
	if (!std::isfinite(v))
		v = 0;
	/* DS holds 16 characters: keep the most significant digits that fit. */
	for (int prec = 15; prec >= 1; prec--) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strlen(buf) <= 16)
			break;
	}
	/* A host that set LC_NUMERIC to a comma locale must not leak into DICOM. */
	for (char *p = buf; *p; p++)
		if (*p == ',')
			*p = '.';
	return buf;
}

bool code_ok(const ms_code &c)
{
	/* CodeValue and CodingSchemeDesignator are SH (16), CodeMeaning LO (64 characters). */
	return c.value && c.value[0] && strlen(c.value) <= 16 && c.scheme && c.scheme[0] && strlen(c.scheme) <= 16 &&
	       c.meaning && c.meaning[0] && strlen(c.meaning) <= 64;
}

void slice_position(const ms_dicom_source *src, uint32_t k, double out[3])
{
	for (int i = 0; i < 3; i++)
		out[i] = src->origin[i] + k * src->spacing[2] * src->normal[i];
}

} /* namespace ms_dcm */

extern "C" ms_status ms_dicom_source_check(const ms_dicom_source *src, char *err, size_t errlen)
{
	if (!src) {
		snprintf(err, errlen, "no source");
		return MS_ERR_ARG;
	}
	if (!src->first_dicom || src->first_dicom_size == 0) {
		snprintf(err, errlen, "source has no DICOM instance");
		return MS_ERR_ARG;
	}
	if (src->n_slices == 0 || !src->sop_instance_uids) {
		snprintf(err, errlen, "source has no slices");
		return MS_ERR_ARG;
	}
	for (uint32_t k = 0; k < src->n_slices; k++) {
		if (!src->sop_instance_uids[k] || !src->sop_instance_uids[k][0]) {
			snprintf(err, errlen, "source slice %u has no SOP Instance UID", k);
			return MS_ERR_ARG;
		}
	}
	if (!src->sop_class_uid || !src->sop_class_uid[0] || !src->series_instance_uid ||
	    !src->series_instance_uid[0]) {
		snprintf(err, errlen, "source SOP class or series UID missing");
		return MS_ERR_ARG;
	}
	if (src->nx == 0 || src->ny == 0 || src->nx > 65535 || src->ny > 65535) {
		snprintf(err, errlen, "source size %ux%u out of range", src->nx, src->ny);
		return MS_ERR_ARG;
	}
	for (int i = 0; i < 3; i++) {
		if (!(src->spacing[i] > 0) || !std::isfinite(src->spacing[i])) {
			snprintf(err, errlen, "source spacing[%d] = %g is not positive", i, src->spacing[i]);
			return MS_ERR_ARG;
		}
	}
	return MS_OK;
}

extern "C" void ms_dicom_free(void *p)
{
	ms_free(p);
}
