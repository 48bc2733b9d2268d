#include "dicom/slice_info.h"

#include "common/alloc.h"

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

/* TM text (HHMMSS.FFFFFF, or HHMM / HH) as seconds since midnight; -1 when bad. A DT's
 * "&ZZXX" offset after it is ignored: times are compared within one series. */
double parse_time(const char *s)
{
	if (strlen(s) < 2)
		return -1;
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

/* A TM attribute as seconds since midnight; -1 when absent or bad. */
double time_of_day(DcmItem *ds, const DcmTagKey &tag)
{
	OFString tm;
	if (ds->findAndGetOFString(tag, tm).bad())
		return -1;
	return parse_time(tm.c_str());
}

/* The time-of-day part of a DT attribute (YYYYMMDDHHMMSS.FFFFFF&ZZXX) as seconds since
 * midnight; -1 when absent, date only or bad. */
double datetime_of_day(DcmItem *ds, const DcmTagKey &tag)
{
	OFString dt;
	if (ds->findAndGetOFString(tag, dt).bad() || dt.length() < 10)
		return -1;
	return parse_time(dt.c_str() + 8);
}

ms_status parse(const void *buf, size_t n, DcmFileFormat &ff, char *err, size_t errlen)
{
	DcmInputBufferStream is;
	is.setBuffer(buf, static_cast<offile_off_t>(n));
	is.setEos();
	ff.transferInit();
	OFCondition cond = ff.read(is, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
	ff.transferEnd();
	if (cond.bad()) {
		snprintf(err, errlen, "unreadable DICOM file: %s", cond.text());
		return MS_ERR_DICOM;
	}
	if (!ff.getDataset()) {
		snprintf(err, errlen, "DICOM file without a dataset");
		return MS_ERR_DICOM;
	}
	return MS_OK;
}

/* The image-level attributes (a classic single-frame image's whole description). */
void fill_slice(DcmItem *ds, ms_dicom_slice *out)
{
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
}

ms_status read_slice(const void *buf, size_t n, ms_dicom_slice *out, char *err, size_t errlen)
{
	DcmFileFormat ff;
	ms_status rc = parse(buf, n, ff, err, errlen);
	if (rc != MS_OK)
		return rc;
	fill_slice(ff.getDataset(), out);
	return MS_OK;
}

/* Item 0 of functional group seq for one frame: the per-frame group's, else the shared one's;
 * NULL when neither has it. */
DcmItem *group(DcmItem *per_frame, DcmItem *shared, const DcmTagKey &seq)
{
	DcmItem *item = NULL;
	if (per_frame && per_frame->findAndGetSequenceItem(seq, item, 0).good() && item)
		return item;
	item = NULL;
	if (shared && shared->findAndGetSequenceItem(seq, item, 0).good() && item)
		return item;
	return NULL;
}

/* Overrides base's per-frame fields from the functional groups of frame f. */
ms_status fill_frame(DcmItem *per_frame, DcmItem *shared, unsigned f, ms_dicom_slice *s, char *err,
		     size_t errlen)
{
	DcmItem *g = group(per_frame, shared, DCM_PlanePositionSequence);
	s->geom.has_ipp = g && get_doubles(g, DCM_ImagePositionPatient, s->geom.ipp, 3);
	g = group(per_frame, shared, DCM_PlaneOrientationSequence);
	s->geom.has_iop = g && get_doubles(g, DCM_ImageOrientationPatient, s->geom.iop, 6);
	g = group(per_frame, shared, DCM_PixelMeasuresSequence);
	s->geom.has_pixel_spacing = g && get_doubles(g, DCM_PixelSpacing, s->geom.pixel_spacing, 2);
	const char *missing = !s->geom.has_ipp ? "ImagePositionPatient (PlanePositionSequence)"
			      : !s->geom.has_iop ? "ImageOrientationPatient (PlaneOrientationSequence)"
			      : !s->geom.has_pixel_spacing ? "PixelSpacing (PixelMeasuresSequence)"
							   : NULL;
	if (missing) {
		snprintf(err, errlen, "frame %u of multi-frame image has no %s, per-frame or shared", f + 1,
			 missing);
		return MS_ERR_DICOM;
	}

	g = group(per_frame, shared, DCM_PixelValueTransformationSequence);
	double slope = 1, intercept = 0;
	bool has_slope = g && get_doubles(g, DCM_RescaleSlope, &slope, 1);
	bool has_intercept = g && get_doubles(g, DCM_RescaleIntercept, &intercept, 1);
	if (has_slope || has_intercept) { /* else the top level's, if any (legacy converted) */
		s->has_rescale = has_slope && has_intercept;
		s->slope = has_slope ? slope : 1;
		s->intercept = has_intercept ? intercept : 0;
	}

	g = group(per_frame, shared, DCM_FrameContentSequence);
	Uint32 u32 = 0;
	s->temporal_position_index =
		g && g->findAndGetUint32(DCM_TemporalPositionIndex, u32).good() ? static_cast<int>(u32) : 0;
	double t = g ? datetime_of_day(g, DCM_FrameAcquisitionDateTime) : -1;
	if (t >= 0)
		s->acq_time_s = t;
	g = group(per_frame, shared, DCM_TemporalPositionSequence);
	double v = 0;
	if (g && get_doubles(g, DCM_TemporalPositionTimeOffset, &v, 1))
		s->trigger_time_ms = v * 1000.0;
	g = group(per_frame, shared, DCM_MREchoSequence);
	if (g && get_doubles(g, DCM_EffectiveEchoTime, &v, 1))
		s->echo_time_ms = v;
	s->frame = f;
	return MS_OK;
}

ms_status read_frames(const void *buf, size_t n, ms_dicom_slice **out, size_t *n_out, char *err, size_t errlen)
{
	DcmFileFormat ff;
	ms_status rc = parse(buf, n, ff, err, errlen);
	if (rc != MS_OK)
		return rc;
	DcmDataset *ds = ff.getDataset();
	ms_dicom_slice base;
	fill_slice(ds, &base);
	DcmItem *shared = NULL;
	if (ds->findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0).bad())
		shared = NULL;
	DcmSequenceOfItems *per_frame = NULL;
	if (ds->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, per_frame).bad())
		per_frame = NULL;
	const bool enhanced = shared || per_frame;
	const unsigned nf = base.number_of_frames;

	if (!enhanced && nf > 1) {
		snprintf(err, errlen, "multi-frame image (%u frames) without functional groups: no per-frame "
			 "ImagePositionPatient", nf);
		return MS_ERR_DICOM;
	}
	if (per_frame && per_frame->card() != nf) {
		snprintf(err, errlen, "PerFrameFunctionalGroupsSequence has %lu items for %u frames",
			 static_cast<unsigned long>(per_frame->card()), nf);
		return MS_ERR_DICOM;
	}
	ms_dicom_slice *s = static_cast<ms_dicom_slice *>(ms_calloc(nf, sizeof(*s)));
	if (!s) {
		snprintf(err, errlen, "out of memory for %u frame headers", nf);
		return MS_ERR_NOMEM;
	}
	for (unsigned f = 0; f < nf; f++) {
		s[f] = base;
		if (!enhanced)
			continue;
		rc = fill_frame(per_frame ? per_frame->getItem(f) : NULL, shared, f, &s[f], err, errlen);
		if (rc != MS_OK) {
			ms_free(s);
			return rc;
		}
	}
	*out = s;
	*n_out = nf;
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

extern "C" ms_status ms_dicom_read_frames(const void *buf, size_t n, ms_dicom_slice **out, size_t *n_out,
					  char *err, size_t errlen)
{
	*out = NULL;
	*n_out = 0;
	try {
		return read_frames(buf, n, out, n_out, err, errlen);
	} catch (const std::exception &e) {
		snprintf(err, errlen, "DICOM parsing failed: %s", e.what());
	} catch (...) {
		snprintf(err, errlen, "DICOM parsing failed");
	}
	return MS_ERR_DICOM;
}
