#include "dicom/seg_writer.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <new>
#include <string>
#include <unordered_set>
#include <vector>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgseg.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmseg/segutils.h>

namespace {

/* Equipment attributes are Type 1 in Enhanced General Equipment: never leave them empty. */
const char *const kManufacturer = "MedSight";
const char *const kSerial = "1";

bool failed(const OFCondition &c, const char *what, char *err, size_t errlen)
{
	if (c.good())
		return false;
	snprintf(err, errlen, "%s: %s", what, c.text());
	return true;
}

ms_status check_desc(const ms_seg_desc *d, char *err, size_t errlen)
{
	if (!d) {
		snprintf(err, errlen, "no SEG description");
		return MS_ERR_ARG;
	}
	ms_status rc = ms_dicom_source_check(d->src, err, errlen);
	if (rc != MS_OK)
		return rc;
	if (!d->series_uid || !d->series_uid[0] || !d->sop_uid || !d->sop_uid[0]) {
		snprintf(err, errlen, "SEG series or SOP instance UID missing");
		return MS_ERR_ARG;
	}
	if (!d->content_label || !d->content_label[0] || !d->algorithm_name || !d->algorithm_name[0]) {
		snprintf(err, errlen, "SEG content label or algorithm name missing");
		return MS_ERR_ARG;
	}
	if (!d->segments || d->n_segments == 0 || d->n_segments > 65535) {
		snprintf(err, errlen, "SEG needs 1..65535 segments, got %zu", d->n_segments);
		return MS_ERR_ARG;
	}
	for (size_t i = 0; i < d->n_segments; i++) {
		const ms_seg_segment *s = &d->segments[i];
		if (!s->label || !s->label[0] || (!s->mask && !s->labels) || !ms_dcm::code_ok(s->category) ||
		    !ms_dcm::code_ok(s->type) || (s->anatomic_region && !ms_dcm::code_ok(*s->anatomic_region))) {
			snprintf(err, errlen, "segment %zu: label, mask or codes missing", i + 1);
			return MS_ERR_ARG;
		}
		if (!s->tracking_id != !s->tracking_uid) {
			snprintf(err, errlen, "segment %zu: tracking ID and UID go together", i + 1);
			return MS_ERR_ARG;
		}
	}
	return MS_OK;
}

ms_status add_segment(DcmSegmentation *seg, const ms_seg_desc *d, const ms_seg_segment *s, Uint16 *number,
                      char *err, size_t errlen)
{
	DcmSegment *segment = NULL;
	OFCondition c = DcmSegment::create(segment, s->label,
	                                   CodeSequenceMacro(s->category.value, s->category.scheme, s->category.meaning),
	                                   CodeSequenceMacro(s->type.value, s->type.scheme, s->type.meaning),
	                                   DcmSegTypes::SAT_AUTOMATIC, d->algorithm_name);
	if (failed(c, "create segment", err, errlen))
		return MS_ERR_DICOM;
	std::unique_ptr<DcmSegment> owner(segment);
	if (s->anatomic_region) {
		c = segment->getGeneralAnatomyCode().getAnatomicRegion().set(
		    s->anatomic_region->value, s->anatomic_region->scheme, s->anatomic_region->meaning);
		if (failed(c, "segment anatomic region", err, errlen))
			return MS_ERR_DICOM;
	}
	if (s->tracking_id) {
		c = segment->setTrackingID(s->tracking_id);
		if (c.good())
			c = segment->setTrackingUID(s->tracking_uid);
		if (failed(c, "segment tracking ID/UID", err, errlen))
			return MS_ERR_DICOM;
	}
	c = seg->addSegment(segment, *number);
	if (failed(c, "add segment", err, errlen))
		return MS_ERR_DICOM;
	owner.release(); /* the segmentation owns it now */
	return MS_OK;
}

/* Fills pix with segment s on one slice (1 = inside); returns whether any pixel is inside. */
bool segment_plane(const ms_seg_segment *s, uint32_t slice, size_t plane, std::vector<Uint8> &pix)
{
	bool any = false;
	pix.resize(plane);
	if (s->mask) {
		const uint8_t *m = s->mask + (size_t)slice * plane;
		for (size_t i = 0; i < plane; i++)
			any |= (pix[i] = m[i] != 0) != 0;
	} else {
		const uint32_t *l = s->labels + (size_t)slice * plane;
		for (size_t i = 0; i < plane; i++)
			any |= (pix[i] = l[i] == s->label_value) != 0;
	}
	return any;
}

/* Adds one frame for segment 'number' on 'slice' with the pixels in pix (1 = inside). */
ms_status add_frame(DcmSegmentation *seg, const ms_dicom_source *src, Uint16 number, uint32_t slice,
                    std::vector<Uint8> &pix, char *err, size_t errlen)
{

	double pos[3];
	ms_dcm::slice_position(src, slice, pos);
	FGPlanePosPatient plane_pos;
	OFCondition c = plane_pos.setImagePositionPatient(ms_dcm::ds(pos[0]).c_str(), ms_dcm::ds(pos[1]).c_str(),
	                                                  ms_dcm::ds(pos[2]).c_str());
	if (failed(c, "plane position", err, errlen))
		return MS_ERR_DICOM;

	FGFrameContent content;
	c = content.setDimensionIndexValues(number, 0);
	if (c.good())
		c = content.setDimensionIndexValues(slice + 1, 1);
	if (failed(c, "dimension index values", err, errlen))
		return MS_ERR_DICOM;

	ImageSOPInstanceReferenceMacro ref;
	c = ref.setReferencedSOPClassUID(src->sop_class_uid);
	if (c.good())
		c = ref.setReferencedSOPInstanceUID(src->sop_instance_uids[slice]);
	if (failed(c, "source image reference", err, errlen))
		return MS_ERR_DICOM;
	OFVector<ImageSOPInstanceReferenceMacro> refs;
	refs.push_back(ref);
	std::unique_ptr<FGDerivationImage> deriv(DcmSegmentation::createDerivationImageFG(refs, ""));
	if (!deriv) {
		snprintf(err, errlen, "cannot build the derivation image group for slice %u", slice);
		return MS_ERR_DICOM;
	}

	OFVector<FGBase *> groups;
	groups.push_back(&plane_pos);
	groups.push_back(&content);
	groups.push_back(deriv.get());
	c = seg->addFrame(pix.data(), number, groups);
	if (failed(c, "add frame", err, errlen))
		return MS_ERR_DICOM;
	return MS_OK;
}

ms_status add_shared_groups(DcmSegmentation *seg, const ms_dicom_source *src, char *err, size_t errlen)
{
	FGPixelMeasures measures;
	/* PixelSpacing is row spacing (y) then column spacing (x). */
	std::string spacing = ms_dcm::ds(src->spacing[1]) + "\\" + ms_dcm::ds(src->spacing[0]);
	OFCondition c = measures.setPixelSpacing(spacing.c_str());
	if (c.good())
		c = measures.setSliceThickness(ms_dcm::ds(src->spacing[2]).c_str());
	if (c.good())
		c = measures.setSpacingBetweenSlices(ms_dcm::ds(src->spacing[2]).c_str());
	if (c.good())
		c = seg->addForAllFrames(measures);
	if (failed(c, "pixel measures", err, errlen))
		return MS_ERR_DICOM;

	FGPlaneOrientationPatient orient;
	c = orient.setImageOrientationPatient(ms_dcm::ds(src->row_dir[0]).c_str(), ms_dcm::ds(src->row_dir[1]).c_str(),
	                                      ms_dcm::ds(src->row_dir[2]).c_str(), ms_dcm::ds(src->col_dir[0]).c_str(),
	                                      ms_dcm::ds(src->col_dir[1]).c_str(), ms_dcm::ds(src->col_dir[2]).c_str());
	if (c.good())
		c = seg->addForAllFrames(orient);
	if (failed(c, "plane orientation", err, errlen))
		return MS_ERR_DICOM;
	return MS_OK;
}

/* Common Instance Reference: DcmSegmentation leaves it empty, which dciodvfy rejects because the
 * frames reference source images. */
ms_status add_common_references(DcmSegmentation *seg, DcmDataset *srcds, const ms_dicom_source *src, char *err,
                                size_t errlen)
{
	OFString patient_id, study_uid;
	srcds->findAndGetOFString(DCM_PatientID, patient_id);
	if (srcds->findAndGetOFString(DCM_StudyInstanceUID, study_uid).bad() || study_uid.empty()) {
		snprintf(err, errlen, "source has no StudyInstanceUID");
		return MS_ERR_DICOM;
	}
	IODReferences refs;
	for (uint32_t k = 0; k < src->n_slices; k++) {
		IODImageReference *r = new IODImageReference(patient_id, study_uid, src->series_instance_uid,
		                                             src->sop_instance_uids[k], src->sop_class_uid);
		if (!refs.add(r)) {
			delete r;
			snprintf(err, errlen, "cannot reference source slice %u", k);
			return MS_ERR_DICOM;
		}
	}
	if (seg->getCommonInstanceReference().addReferences(refs, study_uid) != src->n_slices) {
		snprintf(err, errlen, "cannot fill the Common Instance Reference module");
		return MS_ERR_DICOM;
	}
	return MS_OK;
}

ms_status write_seg(const ms_seg_desc *d, uint8_t **out, size_t *out_size, char *err, size_t errlen)
{
	ms_status rc = check_desc(d, err, errlen);
	if (rc != MS_OK)
		return rc;
	const ms_dicom_source *src = d->src;

	DcmFileFormat srcff;
	if (!ms_dcm::load(src->first_dicom, src->first_dicom_size, srcff, err, errlen))
		return MS_ERR_DICOM;
	DcmDataset *srcds = srcff.getDataset();

	std::string versions = std::string(MS_VERSION);
	if (d->algorithm_version && d->algorithm_version[0])
		versions += std::string("\\") + d->algorithm_version;
	IODGeneralEquipmentModule::EquipmentInfo equipment(kManufacturer, d->algorithm_name, kSerial, versions.c_str());
	ContentIdentificationMacro content("1", d->content_label,
	                                   d->series_description ? d->series_description : "", "");
	DcmSegmentation *raw = NULL;
	OFCondition c = DcmSegmentation::createBinarySegmentation(raw, (Uint16)src->ny, (Uint16)src->nx, equipment,
	                                                          content);
	if (failed(c, "create segmentation", err, errlen))
		return MS_ERR_DICOM;
	std::unique_ptr<DcmSegmentation> seg(raw);

	c = seg->importFromSourceImage(*srcds);
	if (failed(c, "import patient/study/frame of reference", err, errlen))
		return MS_ERR_DICOM;
	c = seg->getSeries().setSeriesInstanceUID(d->series_uid);
	if (c.good())
		c = seg->getSeries().setSeriesNumber(std::to_string(d->series_number).c_str());
	if (c.good() && d->series_description)
		c = seg->getSeries().setSeriesDescription(d->series_description);
	if (c.good())
		c = seg->getSOPCommon().setSOPInstanceUID(d->sop_uid);
	if (failed(c, "series/SOP attributes", err, errlen))
		return MS_ERR_DICOM;

	/* Both dimensions share one organisation; its UID is derived from the SOP UID only so the
	 * object stays reproducible. */
	OFString dim_uid = OFString(d->sop_uid).substr(0, 60) + ".1";
	c = seg->getDimensions().addDimensionIndex(DCM_ReferencedSegmentNumber, dim_uid, DCM_SegmentIdentificationSequence,
	                                          "ReferencedSegmentNumber");
	if (c.good())
		c = seg->getDimensions().addDimensionIndex(DCM_ImagePositionPatient, dim_uid, DCM_PlanePositionSequence,
		                                          "ImagePositionPatient");
	if (failed(c, "dimensions", err, errlen))
		return MS_ERR_DICOM;

	rc = add_shared_groups(seg.get(), src, err, errlen);
	if (rc != MS_OK)
		return rc;

	const size_t plane = (size_t)src->nx * src->ny;
	std::vector<Uint8> pix;
	/* Labels present per slice of a label map, so that many lesions cost one pass, not one
	 * pass per lesion over the whole volume. */
	const uint32_t *indexed_map = NULL;
	std::vector<std::unordered_set<uint32_t>> present;
	for (size_t i = 0; i < d->n_segments; i++) {
		const ms_seg_segment *s = &d->segments[i];
		Uint16 number = 0;
		rc = add_segment(seg.get(), d, s, &number, err, errlen);
		if (rc != MS_OK)
			return rc;
		if (s->labels && s->labels != indexed_map) {
			indexed_map = s->labels;
			present.assign(src->n_slices, {});
			for (uint32_t k = 0; k < src->n_slices; k++) {
				const uint32_t *l = s->labels + (size_t)k * plane;
				for (size_t j = 0; j < plane; j++)
					if (l[j])
						present[k].insert(l[j]);
			}
		}
		bool any = false;
		for (uint32_t k = 0; k < src->n_slices; k++) {
			if (s->labels && !present[k].count(s->label_value))
				continue;
			if (!segment_plane(s, k, plane, pix))
				continue;
			any = true;
			rc = add_frame(seg.get(), src, number, k, pix, err, errlen);
			if (rc != MS_OK)
				return rc;
		}
		/* An empty segment still needs a frame: a segment without frames is not decodable. */
		if (!any) {
			pix.assign(plane, 0);
			rc = add_frame(seg.get(), src, number, 0, pix, err, errlen);
			if (rc != MS_OK)
				return rc;
		}
	}

	rc = add_common_references(seg.get(), srcds, src, err, errlen);
	if (rc != MS_OK)
		return rc;

	DcmFileFormat ff;
	c = seg->writeDataset(*ff.getDataset());
	if (failed(c, "write segmentation", err, errlen))
		return MS_ERR_DICOM;
	return ms_dcm::save(ff, out, out_size, err, errlen);
}

/* ---- read-back ---- */

std::string code_value(CodeSequenceMacro &m)
{
	OFString v;
	m.getCodeValue(v);
	return v.c_str();
}

/* Which source slice a frame was derived from (index into src->sop_instance_uids), or -1. */
long frame_slice(DcmSegmentation *seg, Uint32 f, const ms_dicom_source *src)
{
	FGDerivationImage *deriv =
	    OFstatic_cast(FGDerivationImage *, seg->getFunctionalGroups().get(f, DcmFGTypes::EFG_DERIVATIONIMAGE));
	if (!deriv || deriv->getDerivationImageItems().empty() ||
	    deriv->getDerivationImageItems()[0]->getSourceImageItems().empty())
		return -1;
	OFString uid;
	deriv->getDerivationImageItems()[0]->getSourceImageItems()[0]->getImageSOPInstanceReference()
	    .getReferencedSOPInstanceUID(uid);
	for (uint32_t k = 0; k < src->n_slices; k++)
		if (uid == src->sop_instance_uids[k])
			return (long)k;
	return -1;
}

ms_status verify_frame(DcmSegmentation *seg, Uint32 f, const ms_seg_desc *d, std::vector<int> &seen, char *err,
                       size_t errlen)
{
	const ms_dicom_source *src = d->src;
	const size_t plane = (size_t)src->nx * src->ny;
	FGSegmentation *fgseg =
	    OFstatic_cast(FGSegmentation *, seg->getFunctionalGroups().get(f, DcmFGTypes::EFG_SEGMENTATION));
	Uint16 number = 0;
	if (!fgseg || fgseg->getReferencedSegmentNumber(number).bad() || number < 1 || number > d->n_segments) {
		snprintf(err, errlen, "frame %u: no valid referenced segment", f + 1);
		return MS_ERR_DICOM;
	}
	long k = frame_slice(seg, f, src);
	if (k < 0) {
		snprintf(err, errlen, "frame %u: derivation image is not a source slice", f + 1);
		return MS_ERR_DICOM;
	}
	int &count = seen[(size_t)(number - 1) * src->n_slices + (size_t)k];
	if (count++) {
		snprintf(err, errlen, "frame %u: segment %u slice %ld appears twice", f + 1, number, k);
		return MS_ERR_DICOM;
	}
	FGPlanePosPatient *pos =
	    OFstatic_cast(FGPlanePosPatient *, seg->getFunctionalGroups().get(f, DcmFGTypes::EFG_PLANEPOSPATIENT));
	Float64 x = 0, y = 0, z = 0;
	double want[3];
	ms_dcm::slice_position(src, (uint32_t)k, want);
	if (!pos || pos->getImagePositionPatient(x, y, z).bad() || std::fabs(x - want[0]) > 1e-3 ||
	    std::fabs(y - want[1]) > 1e-3 || std::fabs(z - want[2]) > 1e-3) {
		snprintf(err, errlen, "frame %u: position (%g,%g,%g), expected (%g,%g,%g)", f + 1, x, y, z, want[0],
		         want[1], want[2]);
		return MS_ERR_DICOM;
	}
	const DcmIODTypes::Frame *packed = seg->getFrame(f);
	std::unique_ptr<DcmIODTypes::Frame> frame(
	    packed ? DcmSegUtils::unpackBinaryFrame(packed, (Uint16)src->ny, (Uint16)src->nx) : NULL);
	if (!frame || frame->length < plane) {
		snprintf(err, errlen, "frame %u: cannot unpack pixels", f + 1);
		return MS_ERR_DICOM;
	}
	std::vector<Uint8> mask;
	segment_plane(&d->segments[number - 1], (uint32_t)k, plane, mask);
	for (size_t i = 0; i < plane; i++) {
		if ((frame->pixData[i] != 0) != (mask[i] != 0)) {
			snprintf(err, errlen, "frame %u (segment %u, slice %ld): pixel %zu is %u, mask says %u", f + 1,
			         number, k, i, frame->pixData[i], mask[i]);
			return MS_ERR_DICOM;
		}
	}
	return MS_OK;
}

ms_status verify_seg(const uint8_t *buf, size_t n, const ms_seg_desc *d, char *err, size_t errlen)
{
	const ms_dicom_source *src = d->src;
	DcmFileFormat ff;
	if (!buf || !ms_dcm::load(buf, n, ff, err, errlen))
		return MS_ERR_DICOM;
	DcmDataset *ds = ff.getDataset();
	OFString sop, series;
	ds->findAndGetOFString(DCM_SOPInstanceUID, sop);
	ds->findAndGetOFString(DCM_SeriesInstanceUID, series);
	if (sop != d->sop_uid || series != d->series_uid) {
		snprintf(err, errlen, "SEG UIDs differ: SOP %s, series %s", sop.c_str(), series.c_str());
		return MS_ERR_DICOM;
	}
	Uint16 rows = 0, cols = 0;
	ds->findAndGetUint16(DCM_Rows, rows);
	ds->findAndGetUint16(DCM_Columns, cols);
	DcmSegmentation *raw = NULL;
	OFCondition c = DcmSegmentation::loadDataset(*ds, raw);
	std::unique_ptr<DcmSegmentation> seg(raw);
	if (failed(c, "DcmSegmentation::loadDataset", err, errlen))
		return MS_ERR_DICOM;
	if (seg->getSegmentationType() != DcmSegTypes::ST_BINARY || rows != src->ny || cols != src->nx) {
		snprintf(err, errlen, "SEG is not binary %ux%u (rows %u, columns %u)", src->ny, src->nx, rows, cols);
		return MS_ERR_DICOM;
	}
	if (seg->getNumberOfSegments() != d->n_segments) {
		snprintf(err, errlen, "SEG has %zu segments, expected %zu", seg->getNumberOfSegments(), d->n_segments);
		return MS_ERR_DICOM;
	}
	const size_t plane = (size_t)src->nx * src->ny;
	size_t expect_frames = 0;
	for (size_t i = 0; i < d->n_segments; i++) {
		const ms_seg_segment *s = &d->segments[i];
		DcmSegment *segment = seg->getSegment(i + 1);
		OFString label;
		if (!segment || segment->getSegmentLabel(label).bad() || label != s->label ||
		    code_value(segment->getSegmentedPropertyCategoryCode()) != s->category.value ||
		    code_value(segment->getSegmentedPropertyTypeCode()) != s->type.value) {
			snprintf(err, errlen, "segment %zu: label '%s' or codes differ", i + 1, label.c_str());
			return MS_ERR_DICOM;
		}
		size_t frames = 0;
		std::vector<Uint8> pix;
		for (uint32_t k = 0; k < src->n_slices; k++)
			frames += segment_plane(s, k, plane, pix);
		expect_frames += frames ? frames : 1;
	}
	if (seg->getNumberOfFrames() != expect_frames) {
		snprintf(err, errlen, "SEG has %zu frames, expected %zu", seg->getNumberOfFrames(), expect_frames);
		return MS_ERR_DICOM;
	}
	std::vector<int> seen(d->n_segments * src->n_slices, 0);
	for (Uint32 f = 0; f < expect_frames; f++) {
		ms_status rc = verify_frame(seg.get(), f, d, seen, err, errlen);
		if (rc != MS_OK)
			return rc;
	}
	return MS_OK;
}

} /* namespace */

extern "C" ms_status ms_seg_write(const ms_seg_desc *d, uint8_t **out, size_t *out_size, char *err,
                                  size_t errlen)
{
	*out = NULL;
	*out_size = 0;
	if (errlen)
		err[0] = '\0';
	try {
		return write_seg(d, out, out_size, err, errlen);
	} catch (const std::bad_alloc &) {
		snprintf(err, errlen, "out of memory while writing a SEG");
		return MS_ERR_NOMEM;
	} catch (...) {
		snprintf(err, errlen, "unexpected exception while writing a SEG");
		return MS_ERR_DICOM;
	}
}

extern "C" ms_status ms_seg_verify(const uint8_t *buf, size_t n, const ms_seg_desc *d, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	try {
		ms_status rc = check_desc(d, err, errlen);
		if (rc != MS_OK)
			return rc;
		return verify_seg(buf, n, d, err, errlen);
	} catch (...) {
		snprintf(err, errlen, "exception while verifying a SEG");
		return MS_ERR_DICOM;
	}
}
