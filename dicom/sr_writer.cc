#include "dicom/sr_writer.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <new>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/dsrdoc.h>

namespace {

typedef TID1500_MeasurementReport::TID1411_Measurements Roi;
typedef TID1500_MeasurementReport::TID1501_Measurements Group;

bool failed(const OFCondition &c, const char *what, char *err, size_t errlen)
{
	if (c.good())
		return false;
	snprintf(err, errlen, "%s: %s", what, c.text());
	return true;
}

DSRCodedEntryValue code(const ms_code &c)
{
	return DSRCodedEntryValue(c.value, c.scheme, c.meaning);
}

bool nonempty(const char *s)
{
	return s && s[0];
}

ms_status check_desc(const ms_sr_desc *d, char *err, size_t errlen)
{
	if (!d) {
		snprintf(err, errlen, "no SR description");
		return MS_ERR_ARG;
	}
	ms_status rc = ms_dicom_source_check(d->src, err, errlen);
	if (rc != MS_OK)
		return rc;
	if (!nonempty(d->series_uid) || !nonempty(d->sop_uid) || !nonempty(d->device_observer_uid) ||
	    !nonempty(d->algorithm_name) || !ms_dcm::code_ok(d->procedure_reported)) {
		snprintf(err, errlen, "SR UIDs, device observer, algorithm name or procedure missing");
		return MS_ERR_ARG;
	}
	if (!nonempty(d->seg_sop_uid) != !nonempty(d->seg_series_uid)) {
		snprintf(err, errlen, "SEG SOP and series UIDs go together");
		return MS_ERR_ARG;
	}
	if (!d->groups || d->n_groups == 0) {
		snprintf(err, errlen, "SR needs at least one measurement group");
		return MS_ERR_ARG;
	}
	for (size_t g = 0; g < d->n_groups; g++) {
		const ms_sr_group *gr = &d->groups[g];
		if (!nonempty(gr->tracking_id) || !nonempty(gr->tracking_uid) || !ms_dcm::code_ok(gr->finding) ||
		    (gr->finding_site && !ms_dcm::code_ok(*gr->finding_site)) || !gr->measurements ||
		    gr->n_measurements == 0 || gr->referenced_segment < 0 || gr->referenced_segment > 65535) {
			snprintf(err, errlen, "group %zu: tracking, finding, site, segment or measurements invalid", g + 1);
			return MS_ERR_ARG;
		}
		if (gr->referenced_segment > 0 && !nonempty(d->seg_sop_uid)) {
			snprintf(err, errlen, "group %zu references a segment but no SEG is given", g + 1);
			return MS_ERR_ARG;
		}
		for (size_t m = 0; m < gr->n_measurements; m++) {
			const ms_sr_measurement *me = &gr->measurements[m];
			if (!ms_dcm::code_ok(me->concept) || !ms_dcm::code_ok(me->unit) || !std::isfinite(me->value) ||
			    (me->method && !ms_dcm::code_ok(*me->method))) {
				snprintf(err, errlen, "group %zu measurement %zu: concept, unit, value or method invalid",
				         g + 1, m + 1);
				return MS_ERR_ARG;
			}
		}
	}
	return MS_OK;
}

/* A NUM value: DS string for every reader, plus the exact double (FloatingPointValue) because
 * 16 characters can lose digits. */
template <class V> ms_status num_value(const ms_sr_measurement *me, V &v, char *err, size_t errlen)
{
	OFCondition c = v.setValue(ms_dcm::ds(me->value).c_str(), code(me->unit), OFFalse);
	if (c.good())
		c = v.setFloatingPointRepresentation(me->value, OFFalse);
	if (failed(c, "numeric value", err, errlen))
		return MS_ERR_DICOM;
	return MS_OK;
}

/* Fills one TID 1411 group (a SEG segment is referenced). */
ms_status roi_group(TID1500_MeasurementReport &report, const ms_sr_desc *d, const ms_sr_group *gr, char *err,
                    size_t errlen)
{
	OFCondition c = report.addVolumetricROIMeasurements();
	if (failed(c, "add TID 1411 group", err, errlen))
		return MS_ERR_DICOM;
	Roi &roi = report.getVolumetricROIMeasurements();
	c = roi.setTrackingIdentifier(gr->tracking_id);
	if (c.good())
		c = roi.setTrackingUniqueIdentifier(gr->tracking_uid);
	if (c.good())
		c = roi.setFinding(code(gr->finding));
	if (c.good()) {
		DSRImageReferenceValue segment(UID_SegmentationStorage, d->seg_sop_uid);
		segment.getSegmentList().addItem((Uint16)gr->referenced_segment);
		c = roi.setReferencedSegment(segment);
	}
	if (c.good())
		c = roi.setSourceSeriesForSegmentation(d->src->series_instance_uid);
	if (c.good() && gr->finding_site)
		c = roi.addFindingSite(code(*gr->finding_site));
	if (failed(c, "TID 1411 group", err, errlen))
		return MS_ERR_DICOM;
	for (size_t m = 0; m < gr->n_measurements; m++) {
		const ms_sr_measurement *me = &gr->measurements[m];
		Roi::MeasurementValue v;
		ms_status rc = num_value(me, v, err, errlen);
		if (rc != MS_OK)
			return rc;
		/* Concept and unit checks are off: calcium codes are not in CID 7469 / 7181. */
		c = roi.addMeasurement(code(me->concept), v, OFFalse /*checkEmpty*/, OFFalse /*checkValue*/);
		if (c.good() && me->method)
			c = roi.getMeasurement().setMeasurementMethod(code(*me->method), OFFalse);
		if (c.good())
			c = roi.getMeasurement().setAlgorithmIdentification(
			    d->algorithm_name, nonempty(d->algorithm_version) ? d->algorithm_version : MS_VERSION);
		if (failed(c, "TID 1419 measurement", err, errlen))
			return MS_ERR_DICOM;
	}
	return MS_OK;
}

/* Fills one TID 1501 group (totals, no segment). */
ms_status plain_group(TID1500_MeasurementReport &report, const ms_sr_group *gr, char *err, size_t errlen)
{
	OFCondition c = report.addIndividualMeasurements();
	if (failed(c, "add TID 1501 group", err, errlen))
		return MS_ERR_DICOM;
	Group &group = report.getIndividualMeasurements();
	c = group.setTrackingIdentifier(gr->tracking_id);
	if (c.good())
		c = group.setTrackingUniqueIdentifier(gr->tracking_uid);
	if (c.good())
		c = group.setFinding(code(gr->finding));
	if (c.good() && gr->finding_site)
		c = group.addFindingSite(code(*gr->finding_site));
	if (failed(c, "TID 1501 group", err, errlen))
		return MS_ERR_DICOM;
	for (size_t m = 0; m < gr->n_measurements; m++) {
		const ms_sr_measurement *me = &gr->measurements[m];
		Group::MeasurementValue v;
		ms_status rc = num_value(me, v, err, errlen);
		if (rc != MS_OK)
			return rc;
		c = group.addMeasurement(code(me->concept), v, OFFalse /*checkEmpty*/, OFFalse /*checkValue*/);
		if (c.good() && me->method)
			c = group.getMeasurement().setMeasurementMethod(code(*me->method), OFFalse);
		if (failed(c, "TID 300 measurement", err, errlen))
			return MS_ERR_DICOM;
	}
	return MS_OK;
}

ms_status build_report(TID1500_MeasurementReport &report, const ms_sr_desc *d, char *err, size_t errlen)
{
	OFCondition c = report.setLanguage(CID5000_Languages(CID5000_Languages::English_US));
	if (c.good())
		c = report.getObservationContext().addDeviceObserver(
		    d->device_observer_uid, nonempty(d->device_observer_name) ? d->device_observer_name : "");
	if (c.good())
		c = report.addProcedureReported(code(d->procedure_reported), OFFalse);
	/* TID 1500 is only valid with an Image Library container (it may stay empty). */
	if (c.good())
		c = report.getImageLibrary().createNewImageLibrary();
	if (failed(c, "TID 1500 header", err, errlen))
		return MS_ERR_DICOM;
	for (size_t g = 0; g < d->n_groups; g++) {
		const ms_sr_group *gr = &d->groups[g];
		ms_status rc = gr->referenced_segment > 0 ? roi_group(report, d, gr, err, errlen)
		                                          : plain_group(report, gr, err, errlen);
		if (rc != MS_OK)
			return rc;
	}
	if (nonempty(d->algorithm_parameters)) {
		c = report.addQualitativeEvaluation(DSRCodedEntryValue(CODE_DCM_AlgorithmParameters),
		                                    OFString(d->algorithm_parameters), OFFalse);
		if (failed(c, "algorithm parameters", err, errlen))
			return MS_ERR_DICOM;
	}
	if (!report.isValid()) {
		snprintf(err, errlen, "DCMTK rejects the TID 1500 report as invalid");
		return MS_ERR_DICOM;
	}
	return MS_OK;
}

void now_strings(std::string &date, std::string &time_)
{
	char buf[32];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y%m%d", &tm);
	date = buf;
	strftime(buf, sizeof(buf), "%H%M%S", &tm);
	time_ = buf;
}

ms_status write_sr(const ms_sr_desc *d, uint8_t **out, size_t *out_size, char *err, size_t errlen)
{
	ms_status rc = check_desc(d, err, errlen);
	if (rc != MS_OK)
		return rc;
	const ms_dicom_source *src = d->src;
	DcmFileFormat srcff;
	if (!ms_dcm::load(src->first_dicom, src->first_dicom_size, srcff, err, errlen))
		return MS_ERR_DICOM;
	DcmDataset *srcds = srcff.getDataset();
	OFString study_uid;
	if (srcds->findAndGetOFString(DCM_StudyInstanceUID, study_uid).bad() || study_uid.empty()) {
		snprintf(err, errlen, "source has no StudyInstanceUID");
		return MS_ERR_DICOM;
	}

	TID1500_MeasurementReport report(CMR_CID7021::ImagingMeasurementReport);
	rc = build_report(report, d, err, errlen);
	if (rc != MS_OK)
		return rc;

	DSRDocument doc;
	OFCondition c = doc.setTreeFromRootTemplate(report, OFTrue /*expandTree*/);
	/* The template builds an Enhanced SR tree; the project's IOD is Comprehensive SR (a superset). */
	if (c.good())
		c = doc.getTree().changeDocumentType(DSRTypes::DT_ComprehensiveSR, OFFalse /*deleteTree*/);
	if (failed(c, "SR document tree", err, errlen))
		return MS_ERR_DICOM;

	c = doc.readStudyData(*srcds);
	if (c.good()) /* the source was converted to UTF-8 when loaded */
		c = doc.setSpecificCharacterSetType(DSRTypes::CS_UTF8);
	if (failed(c, "copy patient/study from source", err, errlen))
		return MS_ERR_DICOM;
	std::string date, tim;
	now_strings(date, tim);
	std::string versions = std::string(MS_VERSION);
	if (nonempty(d->algorithm_version))
		versions += std::string("\\") + d->algorithm_version;
	c = doc.setSeriesNumber(std::to_string(d->series_number).c_str());
	if (c.good())
		c = doc.setInstanceNumber("1");
	if (c.good() && nonempty(d->series_description))
		c = doc.setSeriesDescription(d->series_description);
	if (c.good())
		c = doc.setManufacturer("MedSight");
	if (c.good())
		c = doc.setManufacturerModelName(d->algorithm_name);
	if (c.good())
		c = doc.setSoftwareVersions(versions.c_str());
	if (c.good())
		c = doc.setContentDate(date.c_str());
	if (c.good())
		c = doc.setContentTime(tim.c_str());
	if (failed(c, "SR header attributes", err, errlen))
		return MS_ERR_DICOM;

	/* Everything the report needs is in it: mark it COMPLETE (it stays UNVERIFIED). */
	c = doc.completeDocument();
	if (failed(c, "complete SR", err, errlen))
		return MS_ERR_DICOM;

	DSRSOPInstanceReferenceList &evidence = doc.getCurrentRequestedProcedureEvidence();
	for (uint32_t k = 0; k < src->n_slices; k++) {
		c = evidence.addItem(study_uid, src->series_instance_uid, src->sop_class_uid, src->sop_instance_uids[k]);
		if (failed(c, "evidence (source slice)", err, errlen))
			return MS_ERR_DICOM;
	}
	if (nonempty(d->seg_sop_uid)) {
		c = evidence.addItem(study_uid, d->seg_series_uid, UID_SegmentationStorage, d->seg_sop_uid);
		if (failed(c, "evidence (SEG)", err, errlen))
			return MS_ERR_DICOM;
	}
	if (nonempty(d->predecessor_sop_uid)) {
		c = doc.getPredecessorDocuments().addItem(study_uid, d->series_uid, UID_ComprehensiveSRStorage,
		                                          d->predecessor_sop_uid);
		if (failed(c, "predecessor document", err, errlen))
			return MS_ERR_DICOM;
	}

	DcmFileFormat ff;
	DcmDataset *ds = ff.getDataset();
	c = doc.write(*ds);
	/* DSRDocument makes its own UIDs; ours are deterministic so a re-run replaces the report. */
	if (c.good())
		c = ds->putAndInsertString(DCM_SeriesInstanceUID, d->series_uid);
	if (c.good())
		c = ds->putAndInsertString(DCM_SOPInstanceUID, d->sop_uid);
	if (failed(c, "write SR", err, errlen))
		return MS_ERR_DICOM;
	return ms_dcm::save(ff, out, out_size, err, errlen);
}

/* ---- read-back ---- */

struct num_seen {
	std::string concept, unit, text;
	double fd;
	bool has_fd;
};

struct group_seen {
	std::string tracking_id, tracking_uid, finding;
	std::string seg_sop;      /* Referenced Segment (TID 1411), empty when none */
	int seg_number = 0;
	std::vector<num_seen> nums;
};

bool load_doc(const uint8_t *buf, size_t n, DcmFileFormat &ff, DSRDocument &doc, char *err, size_t errlen)
{
	if (!buf || n == 0) {
		snprintf(err, errlen, "empty SR buffer");
		return false;
	}
	if (!ms_dcm::load(buf, n, ff, err, errlen))
		return false;
	OFCondition c = doc.read(*ff.getDataset());
	return !failed(c, "DSRDocument::read", err, errlen);
}

/* Walks the tree: checks the root and collects the measurement groups in document order. */
ms_status scan(DSRDocument &doc, std::vector<group_seen> &groups, char *err, size_t errlen)
{
	DSRDocumentTree &tree = doc.getTree();
	if (!tree.gotoRoot()) {
		snprintf(err, errlen, "SR has no content tree");
		return MS_ERR_DICOM;
	}
	DSRContentItem &root = tree.getCurrentContentItem();
	if (root.getValueType() != DSRTypes::VT_Container || root.getConceptName().getCodeValue() != "126000" ||
	    root.getConceptName().getCodingSchemeDesignator() != "DCM") {
		snprintf(err, errlen, "SR root is not (126000,DCM) Imaging Measurement Report");
		return MS_ERR_DICOM;
	}
	OFString tid, resource;
	if (root.getTemplateIdentification(tid, resource).bad() || tid != "1500" || resource != "DCMR") {
		snprintf(err, errlen, "SR root template is '%s/%s', expected 1500/DCMR", tid.c_str(), resource.c_str());
		return MS_ERR_DICOM;
	}
	size_t group_level = 0;
	while (tree.iterate()) {
		DSRContentItem &item = tree.getCurrentContentItem();
		const size_t level = tree.getLevel();
		const DSRCodedEntryValue &cn = item.getConceptName();
		if (group_level && level <= group_level)
			group_level = 0;
		if (item.getValueType() == DSRTypes::VT_Container && cn.getCodeValue() == "125007" &&
		    cn.getCodingSchemeDesignator() == "DCM") {
			groups.push_back(group_seen());
			group_level = level;
			continue;
		}
		if (item.getValueType() == DSRTypes::VT_Num) {
			const DSRNumericMeasurementValue &v = item.getNumericValue();
			num_seen s;
			s.concept = cn.getCodeValue().c_str();
			s.unit = v.getMeasurementUnit().getCodeValue().c_str();
			s.text = v.getNumericValue().c_str();
			Float64 fd = 0;
			s.has_fd = v.getFloatingPointRepresentation(fd).good();
			s.fd = fd;
			errno = 0;
			char *end = NULL;
			double parsed = strtod(s.text.c_str(), &end);
			if (s.text.empty() || errno || !end || *end != '\0' || !std::isfinite(parsed)) {
				snprintf(err, errlen, "NUM %s has a bad value '%s'", s.concept.c_str(), s.text.c_str());
				return MS_ERR_DICOM;
			}
			if (s.has_fd && std::fabs(parsed - fd) > 1e-6 * std::fmax(1.0, std::fabs(fd))) {
				snprintf(err, errlen, "NUM %s: DS '%s' and FD %.17g disagree", s.concept.c_str(),
				         s.text.c_str(), fd);
				return MS_ERR_DICOM;
			}
			if (group_level && level == group_level + 1)
				groups.back().nums.push_back(s);
			continue;
		}
		if (!group_level || level != group_level + 1)
			continue;
		if (item.getValueType() == DSRTypes::VT_Text && cn.getCodeValue() == "112039")
			groups.back().tracking_id = item.getStringValue().c_str();
		else if (item.getValueType() == DSRTypes::VT_UIDRef && cn.getCodeValue() == "112040")
			groups.back().tracking_uid = item.getStringValue().c_str();
		else if (item.getValueType() == DSRTypes::VT_Code && cn.getCodeValue() == "121071")
			groups.back().finding = item.getCodeValue().getCodeValue().c_str();
		else if (item.getValueType() == DSRTypes::VT_Image && cn.getCodeValue() == "121191") {
			const DSRImageReferenceValue &ref = item.getImageReference();
			groups.back().seg_sop = ref.getSOPInstanceUID().c_str();
			if (ref.getSegmentList().getNumberOfItems() == 1)
				groups.back().seg_number = ref.getSegmentList().getItem(1); /* 1-based */
		}
	}
	return MS_OK;
}

ms_status check_sr(const uint8_t *buf, size_t n, size_t expect_groups, std::vector<group_seen> &groups,
                   DcmFileFormat &ff, DSRDocument &doc, char *err, size_t errlen)
{
	if (!load_doc(buf, n, ff, doc, err, errlen))
		return MS_ERR_DICOM;
	ms_status rc = scan(doc, groups, err, errlen);
	if (rc != MS_OK)
		return rc;
	if (groups.size() != expect_groups) {
		snprintf(err, errlen, "SR has %zu measurement groups, expected %zu", groups.size(), expect_groups);
		return MS_ERR_DICOM;
	}
	return MS_OK;
}

ms_status verify_sr(const uint8_t *buf, size_t n, const ms_sr_desc *d, char *err, size_t errlen)
{
	DcmFileFormat ff;
	DSRDocument doc;
	std::vector<group_seen> groups;
	ms_status rc = check_sr(buf, n, d->n_groups, groups, ff, doc, err, errlen);
	if (rc != MS_OK)
		return rc;
	OFString sop, series, sop_class;
	ff.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, sop);
	ff.getDataset()->findAndGetOFString(DCM_SeriesInstanceUID, series);
	ff.getDataset()->findAndGetOFString(DCM_SOPClassUID, sop_class);
	if (sop != d->sop_uid || series != d->series_uid || sop_class != UID_ComprehensiveSRStorage) {
		snprintf(err, errlen, "SR UIDs differ: SOP %s, series %s, class %s", sop.c_str(), series.c_str(),
		         sop_class.c_str());
		return MS_ERR_DICOM;
	}
	/* DCMTK orders TID 1411 groups before TID 1501 ones? Match groups by tracking UID instead. */
	for (size_t g = 0; g < d->n_groups; g++) {
		const ms_sr_group *want = &d->groups[g];
		const group_seen *got = NULL;
		for (const group_seen &s : groups)
			if (s.tracking_uid == want->tracking_uid)
				got = &s;
		if (!got) {
			snprintf(err, errlen, "group %zu (tracking UID %s) is missing", g + 1, want->tracking_uid);
			return MS_ERR_DICOM;
		}
		if (got->tracking_id != want->tracking_id || got->finding != want->finding.value ||
		    got->nums.size() != want->n_measurements) {
			snprintf(err, errlen, "group %zu: tracking ID '%s', finding '%s', %zu NUMs differ", g + 1,
			         got->tracking_id.c_str(), got->finding.c_str(), got->nums.size());
			return MS_ERR_DICOM;
		}
		const std::string want_seg = want->referenced_segment > 0 ? d->seg_sop_uid : "";
		if (got->seg_sop != want_seg || (want->referenced_segment > 0 && got->seg_number != want->referenced_segment)) {
			snprintf(err, errlen, "group %zu: referenced segment %s #%d, expected %s #%d", g + 1,
			         got->seg_sop.c_str(), got->seg_number, want_seg.c_str(), want->referenced_segment);
			return MS_ERR_DICOM;
		}
		for (size_t m = 0; m < want->n_measurements; m++) {
			const ms_sr_measurement *w = &want->measurements[m];
			const num_seen &s = got->nums[m];
			double text_value = strtod(s.text.c_str(), NULL);
			if (s.concept != w->concept.value || s.unit != w->unit.value || !s.has_fd ||
			    std::fabs(s.fd - w->value) > 1e-9 * std::fmax(1.0, std::fabs(w->value)) ||
			    std::fabs(text_value - w->value) > 1e-6 * std::fmax(1.0, std::fabs(w->value))) {
				snprintf(err, errlen, "group %zu NUM %zu: %s = %s (FD %.17g) [%s], expected %s = %.17g [%s]",
				         g + 1, m + 1, s.concept.c_str(), s.text.c_str(), s.fd, s.unit.c_str(),
				         w->concept.value, w->value, w->unit.value);
				return MS_ERR_DICOM;
			}
		}
	}
	DSRSOPInstanceReferenceList &evidence = doc.getCurrentRequestedProcedureEvidence();
	for (uint32_t k = 0; k < d->src->n_slices; k++) {
		if (evidence.gotoItem(d->src->sop_class_uid, d->src->sop_instance_uids[k]).bad()) {
			snprintf(err, errlen, "evidence lacks source slice %u", k);
			return MS_ERR_DICOM;
		}
	}
	if (nonempty(d->seg_sop_uid) && evidence.gotoItem(UID_SegmentationStorage, d->seg_sop_uid).bad()) {
		snprintf(err, errlen, "evidence lacks the SEG");
		return MS_ERR_DICOM;
	}
	if (doc.getCompletionFlag() != DSRTypes::CF_Complete) {
		snprintf(err, errlen, "SR is not marked COMPLETE");
		return MS_ERR_DICOM;
	}
	if (nonempty(d->predecessor_sop_uid) &&
	    doc.getPredecessorDocuments().gotoItem(UID_ComprehensiveSRStorage, d->predecessor_sop_uid).bad()) {
		snprintf(err, errlen, "predecessor document %s missing", d->predecessor_sop_uid);
		return MS_ERR_DICOM;
	}
	return MS_OK;
}

} /* namespace */

extern "C" ms_status ms_sr_write(const ms_sr_desc *d, uint8_t **out, size_t *out_size, char *err, size_t errlen)
{
	*out = NULL;
	*out_size = 0;
	if (errlen)
		err[0] = '\0';
	try {
		return write_sr(d, out, out_size, err, errlen);
	} catch (const std::bad_alloc &) {
		snprintf(err, errlen, "out of memory while writing an SR");
		return MS_ERR_NOMEM;
	} catch (...) {
		snprintf(err, errlen, "unexpected exception while writing an SR");
		return MS_ERR_DICOM;
	}
}

extern "C" ms_status ms_sr_check(const uint8_t *buf, size_t n, size_t expect_groups, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	try {
		DcmFileFormat ff;
		DSRDocument doc;
		std::vector<group_seen> groups;
		return check_sr(buf, n, expect_groups, groups, ff, doc, err, errlen);
	} catch (...) {
		snprintf(err, errlen, "exception while checking an SR");
		return MS_ERR_DICOM;
	}
}

extern "C" ms_status ms_sr_verify(const uint8_t *buf, size_t n, const ms_sr_desc *d, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (!d || ms_dicom_source_check(d->src, err, errlen) != MS_OK)
		return MS_ERR_ARG;
	try {
		return verify_sr(buf, n, d, err, errlen);
	} catch (...) {
		snprintf(err, errlen, "exception while verifying an SR");
		return MS_ERR_DICOM;
	}
}
