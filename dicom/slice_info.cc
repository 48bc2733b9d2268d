#include "dicom/slice_info.h"

#include <cctype>
#include <cstdio>
#include <cstring>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>

namespace {

void copy_string(DcmItem *ds, const DcmTagKey &tag, char *dst, size_t n)
{
	OFString v;
	dst[0] = '\0';
	if (ds->findAndGetOFString(tag, v).good())
		snprintf(dst, n, "%s", v.c_str());
}

/* Reads count float64 values of a multi-valued tag; false if any is missing. */
bool get_doubles(DcmItem *ds, const DcmTagKey &tag, double *out, unsigned long count)
{
	for (unsigned long i = 0; i < count; i++) {
		Float64 v;
		if (ds->findAndGetFloat64(tag, v, i).bad())
			return false;
		out[i] = v;
	}
	return true;
}

/* A TM value (HHMMSS.FFFFFF, or HHMM / HH) as seconds since midnight; -1 when absent or bad. */
double time_of_day(DcmItem *ds, const DcmTagKey &tag)
{
	OFString tm;
	if (ds->findAndGetOFString(tag, tm).bad() || tm.length() < 2)
		return -1;
	const char *s = tm.c_str();
	double parts[3] = { 0, 0, 0 };
	for (int k = 0; k < 3 && *s; k++) {
		if (*s == ':')
			s++; /* ACR-NEMA style HH:MM:SS */
		if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
			return -1;
		parts[k] = (s[0] - '0') * 10 + (s[1] - '0');
		s += 2;
	}
	double frac = 0;
	if (*s == '.') {
		double scale = 0.1;
		for (s++; isdigit((unsigned char)*s); s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	if (parts[0] > 23 || parts[1] > 59 || parts[2] > 60)
		return -1;
	return parts[0] * 3600 + parts[1] * 60 + parts[2] + frac;
}

ms_status read_slice(const void *buf, size_t n, ms_dicom_slice *out, char *err, size_t errlen)
{
	DcmInputBufferStream is;
	is.setBuffer(buf, static_cast<offile_off_t>(n));
	is.setEos();
	DcmFileFormat ff;
	ff.transferInit();
	OFCondition cond = ff.read(is, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
	ff.transferEnd();
	if (cond.bad()) {
		snprintf(err, errlen, "unreadable DICOM file: %s", cond.text());
		return MS_ERR_DICOM;
	}
	DcmDataset *ds = ff.getDataset();
	if (!ds) {
		snprintf(err, errlen, "DICOM file without a dataset");
		return MS_ERR_DICOM;
	}

	memset(out, 0, sizeof(*out));
	out->geom.has_ipp = get_doubles(ds, DCM_ImagePositionPatient, out->geom.ipp, 3);
	out->geom.has_iop = get_doubles(ds, DCM_ImageOrientationPatient, out->geom.iop, 6);
	out->geom.has_pixel_spacing = get_doubles(ds, DCM_PixelSpacing, out->geom.pixel_spacing, 2);
	Uint16 u16;
	if (ds->findAndGetUint16(DCM_Rows, u16).good())
		out->geom.rows = u16;
	if (ds->findAndGetUint16(DCM_Columns, u16).good())
		out->geom.cols = u16;
	if (ds->findAndGetUint16(DCM_BitsAllocated, u16).good())
		out->bits_allocated = u16;
	out->samples_per_pixel = ds->findAndGetUint16(DCM_SamplesPerPixel, u16).good() ? u16 : 1;
	Sint32 frames = 1;
	if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1)
		frames = 1;
	out->number_of_frames = static_cast<unsigned>(frames);
	Sint32 number = 0;
	if (ds->findAndGetSint32(DCM_InstanceNumber, number).good())
		out->instance_number = number;

	double slope = 1, intercept = 0;
	bool has_slope = get_doubles(ds, DCM_RescaleSlope, &slope, 1);
	bool has_intercept = get_doubles(ds, DCM_RescaleIntercept, &intercept, 1);
	out->has_rescale = has_slope && has_intercept;
	out->slope = has_slope ? slope : 1;
	out->intercept = has_intercept ? intercept : 0;
	double kvp = 0;
	out->kvp = get_doubles(ds, DCM_KVP, &kvp, 1) ? kvp : 0;

	Sint32 i32 = 0;
	out->temporal_position = ds->findAndGetSint32(DCM_TemporalPositionIdentifier, i32).good() ? i32 : 0;
	i32 = 0;
	out->acquisition_number = ds->findAndGetSint32(DCM_AcquisitionNumber, i32).good() ? i32 : 0;
	out->acq_time_s = time_of_day(ds, DCM_AcquisitionTime);
	if (out->acq_time_s < 0)
		out->acq_time_s = time_of_day(ds, DCM_ContentTime);
	double v = 0;
	out->trigger_time_ms = get_doubles(ds, DCM_TriggerTime, &v, 1) ? v : -1;
	out->echo_time_ms = get_doubles(ds, DCM_EchoTime, &v, 1) ? v : 0;

	out->has_pixel_data = ds->tagExists(DCM_PixelData) || ds->tagExists(DCM_FloatPixelData) ||
			      ds->tagExists(DCM_DoubleFloatPixelData);
	copy_string(ds, DCM_Modality, out->modality, sizeof(out->modality));
	copy_string(ds, DCM_PhotometricInterpretation, out->photometric, sizeof(out->photometric));
	copy_string(ds, DCM_SOPInstanceUID, out->sop_instance_uid, sizeof(out->sop_instance_uid));
	copy_string(ds, DCM_SOPClassUID, out->sop_class_uid, sizeof(out->sop_class_uid));
	copy_string(ds, DCM_SeriesInstanceUID, out->series_instance_uid, sizeof(out->series_instance_uid));
	copy_string(ds, DCM_StudyInstanceUID, out->study_instance_uid, sizeof(out->study_instance_uid));
	return MS_OK;
}

} // namespace

extern "C" ms_status ms_dicom_read_slice(const void *buf, size_t n, ms_dicom_slice *out, char *err,
					 size_t errlen)
{
	try {
		return read_slice(buf, n, out, err, errlen);
	} catch (const std::exception &e) {
		snprintf(err, errlen, "DICOM parsing failed: %s", e.what());
	} catch (...) {
		snprintf(err, errlen, "DICOM parsing failed");
	}
	return MS_ERR_DICOM;
}
