#include "dicom/pm_writer.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgframeanatomy.h>
#include <dcmtk/dcmfg/fgparametricmapframetype.h>
#include <dcmtk/dcmfg/fgpixeltransform.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgrealworldvaluemapping.h>
#include <dcmtk/dcmiod/iodcontentitemmacro.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmpmap/dpmparametricmapiod.h>

namespace {

/* Equipment attributes are Type 1 in Enhanced General Equipment: never leave them empty. */
const char *const kManufacturer = "MedSight";
const char *const kSerial = "1";
/* Value 3 of ImageType: every map we write comes out of a perfusion analysis. */
const char *const kImageFlavor = "PERFUSION";
/* (246205007, SCT, "Quantity") and (370129005, SCT, "Measurement Method"): concept names of the
 * QuantityDefinitionSequence items (PS3.3 C.7.6.16.2.11.1, CID 9000 style). */
const ms_code kQuantityConcept = {"246205007", "SCT", "Quantity"};
const ms_code kMethodConcept = {"370129005", "SCT", "Measurement Method"};
const ms_code kDefaultRegion = {"38266002", "SCT", "Entire body"};
/* DerivationCode for the source slices of a map (CID 7203 "Image Derivation"). */
const ms_code kDerivation = {"129104", "DCM", "Perfusion image analysis"};
const ms_code kPurpose = {"121322", "DCM", "Source image for image processing operation"};

typedef DPMParametricMapIOD::Frames<Float32> FloatFrames;

bool failed(const OFCondition &c, const char *what, char *err, size_t errlen)
{
	if (c.good())
		return false;
	snprintf(err, errlen, "%s: %s", what, c.text());
	return true;
}

bool short_text(const char *s, size_t max)
{
	return s && s[0] && strlen(s) <= max;
}

CodeSequenceMacro code_macro(const ms_code &c)
{
	return CodeSequenceMacro(c.value, c.scheme, c.meaning);
}

std::string code_value(CodeSequenceMacro *m)
{
	OFString v;
	if (m)
		m->getCodeValue(v);
	return v.c_str();
}

ms_status check_desc(const ms_pm_desc *d, char *err, size_t errlen)
{
	if (!d) {
		snprintf(err, errlen, "no parametric map description");
		return MS_ERR_ARG;
	}
	ms_status rc = ms_dicom_source_check(d->src, err, errlen);
	if (rc != MS_OK)
		return rc;
	if (!d->series_uid || !d->series_uid[0] || !d->sop_uid || !d->sop_uid[0]) {
		snprintf(err, errlen, "parametric map series or SOP instance UID missing");
		return MS_ERR_ARG;
	}
	if (!short_text(d->content_label, 16) || !short_text(d->image_type_4, 16) || !short_text(d->lut_label, 16)) {
		snprintf(err, errlen, "content label, image type value 4 or LUT label missing or over 16 characters");
		return MS_ERR_ARG;
	}
	if (!d->algorithm_name || !d->algorithm_name[0]) {
		snprintf(err, errlen, "parametric map algorithm name missing");
		return MS_ERR_ARG;
	}
	if (!ms_dcm::code_ok(d->quantity) || !ms_dcm::code_ok(d->unit) || (d->method && !ms_dcm::code_ok(*d->method)) ||
	    (d->anatomic_region && !ms_dcm::code_ok(*d->anatomic_region))) {
		snprintf(err, errlen, "quantity, unit, method or anatomic region code incomplete");
		return MS_ERR_ARG;
	}
	if (!d->values) {
		snprintf(err, errlen, "parametric map has no values");
		return MS_ERR_ARG;
	}
	/* NumberOfFrames is read back through a Uint16 by DCMTK, and OF lengths are 32-bit. */
	const uint64_t bytes = (uint64_t)d->src->nx * d->src->ny * d->src->n_slices * sizeof(float);
	if (d->src->n_slices > 65535 || bytes >= 0xFFFFFFF0u) {
		snprintf(err, errlen, "parametric map too large: %u slices, %llu bytes", d->src->n_slices,
		         (unsigned long long)bytes);
		return MS_ERR_ARG;
	}
	return MS_OK;
}

/* Finite min/max of the map (0/0 when nothing is finite); MS_ERR_ARG on an infinity, which no
 * analysis should produce and which would poison the RWVM range. */
ms_status value_range(const ms_pm_desc *d, double *lo, double *hi, char *err, size_t errlen)
{
	const size_t n = (size_t)d->src->nx * d->src->ny * d->src->n_slices;
	bool any = false;
	*lo = *hi = 0;
	for (size_t i = 0; i < n; i++) {
		const float v = d->values[i];
		if (std::isnan(v))
			continue;
		if (std::isinf(v)) {
			snprintf(err, errlen, "value %zu is infinite", i);
			return MS_ERR_ARG;
		}
		if (!any || v < *lo)
			*lo = v;
		if (!any || v > *hi)
			*hi = v;
		any = true;
	}
	return MS_OK;
}

ms_status add_code_item(OFVector<ContentItemMacro *> &seq, const ms_code &concept, const ms_code &value, char *err,
                        size_t errlen)
{
	std::unique_ptr<ContentItemMacro> item(new ContentItemMacro());
	CodeSequenceMacro *name = new CodeSequenceMacro(concept.value, concept.scheme, concept.meaning);
	item->getEntireConceptNameCodeSequence().push_back(name);
	CodeSequenceMacro *code = new CodeSequenceMacro(value.value, value.scheme, value.meaning);
	item->getEntireConceptCodeSequence().push_back(code);
	OFCondition c = item->setValueType(ContentItemMacro::VT_CODE);
	if (failed(c, "quantity definition item", err, errlen))
		return MS_ERR_DICOM;
	seq.push_back(item.release());
	return MS_OK;
}

ms_status add_rwvm(DPMParametricMapIOD &map, const ms_pm_desc *d, double lo, double hi, char *err, size_t errlen)
{
	FGRealWorldValueMapping rwvm;
	std::unique_ptr<FGRealWorldValueMapping::RWVMItem> item(new FGRealWorldValueMapping::RWVMItem());
	/* LUTExplanation is LO (64 characters). */
	std::string explanation = std::string(d->quantity.meaning).substr(0, 64);
	OFCondition c = item->setLUTLabel(d->lut_label);
	if (c.good())
		c = item->setLUTExplanation(explanation.c_str());
	if (c.good())
		c = item->setDoubleFloatRealWorldValueFirstValueMapped(lo);
	if (c.good())
		c = item->setDoubleFloatRealWorldValueLastValueMapped(hi);
	if (c.good())
		c = item->setRealWorldValueSlope(1.0);
	if (c.good())
		c = item->setRealWorldValueIntercept(0.0);
	if (c.good())
		c = item->getMeasurementUnitsCode().set(d->unit.value, d->unit.scheme, d->unit.meaning);
	if (failed(c, "real world value mapping", err, errlen))
		return MS_ERR_DICOM;
	ms_status rc = add_code_item(item->getEntireQuantityDefinitionSequence(), kQuantityConcept, d->quantity, err,
	                             errlen);
	if (rc == MS_OK && d->method)
		rc = add_code_item(item->getEntireQuantityDefinitionSequence(), kMethodConcept, *d->method, err, errlen);
	if (rc != MS_OK)
		return rc;
	rwvm.getRealWorldValueMapping().push_back(item.release());
	c = map.addForAllFrames(rwvm);
	if (failed(c, "shared real world value mapping", err, errlen))
		return MS_ERR_DICOM;
	return MS_OK;
}

ms_status add_shared_groups(DPMParametricMapIOD &map, const ms_pm_desc *d, double lo, double hi, char *err,
                            size_t errlen)
{
	const ms_dicom_source *src = d->src;
	FGPixelMeasures measures;
	/* PixelSpacing is row spacing (y) then column spacing (x). */
	std::string spacing = ms_dcm::ds(src->spacing[1]) + "\\" + ms_dcm::ds(src->spacing[0]);
	OFCondition c = measures.setPixelSpacing(spacing.c_str());
	if (c.good())
		c = measures.setSliceThickness(ms_dcm::ds(src->spacing[2]).c_str());
	if (c.good())
		c = measures.setSpacingBetweenSlices(ms_dcm::ds(src->spacing[2]).c_str());
	if (c.good())
		c = map.addForAllFrames(measures);
	if (failed(c, "pixel measures", err, errlen))
		return MS_ERR_DICOM;

	FGPlaneOrientationPatient orient;
	c = orient.setImageOrientationPatient(ms_dcm::ds(src->row_dir[0]).c_str(), ms_dcm::ds(src->row_dir[1]).c_str(),
	                                      ms_dcm::ds(src->row_dir[2]).c_str(), ms_dcm::ds(src->col_dir[0]).c_str(),
	                                      ms_dcm::ds(src->col_dir[1]).c_str(), ms_dcm::ds(src->col_dir[2]).c_str());
	if (c.good())
		c = map.addForAllFrames(orient);
	if (failed(c, "plane orientation", err, errlen))
		return MS_ERR_DICOM;

	FGFrameAnatomy anatomy;
	const ms_code &region = d->anatomic_region ? *d->anatomic_region : kDefaultRegion;
	c = anatomy.setLaterality(FGFrameAnatomy::LATERALITY_UNPAIRED);
	if (c.good())
		c = anatomy.getAnatomy().getAnatomicRegion().set(region.value, region.scheme, region.meaning);
	if (c.good())
		c = map.addForAllFrames(anatomy);
	if (failed(c, "frame anatomy", err, errlen))
		return MS_ERR_DICOM;

	FGParametricMapFrameType frame_type;
	std::string type = std::string("DERIVED\\PRIMARY\\") + kImageFlavor + "\\" + d->image_type_4;
	c = frame_type.setFrameType(type.c_str());
	if (c.good())
		c = map.addForAllFrames(frame_type);
	if (failed(c, "parametric map frame type", err, errlen))
		return MS_ERR_DICOM;

	/* The stored floats are the real world values: identity transformation, and the RWVM below
	 * says what they measure. */
	FGPixelValueTransformation identity;
	identity.setUseAsIdentityPixelValueTransformation();
	c = map.addForAllFrames(identity);
	if (failed(c, "identity pixel value transformation", err, errlen))
		return MS_ERR_DICOM;

	return add_rwvm(map, d, lo, hi, err, errlen);
}

ms_status add_frame(FloatFrames &frames, const ms_pm_desc *d, uint32_t k, char *err, size_t errlen)
{
	const ms_dicom_source *src = d->src;
	double pos[3];
	ms_dcm::slice_position(src, k, pos);
	FGPlanePosPatient plane_pos;
	OFCondition c = plane_pos.setImagePositionPatient(ms_dcm::ds(pos[0]).c_str(), ms_dcm::ds(pos[1]).c_str(),
	                                                  ms_dcm::ds(pos[2]).c_str());
	if (failed(c, "plane position", err, errlen))
		return MS_ERR_DICOM;

	FGFrameContent content;
	c = content.setDimensionIndexValues(k + 1, 0);
	if (failed(c, "dimension index values", err, errlen))
		return MS_ERR_DICOM;

	ImageSOPInstanceReferenceMacro ref;
	c = ref.setReferencedSOPClassUID(src->sop_class_uid);
	if (c.good())
		c = ref.setReferencedSOPInstanceUID(src->sop_instance_uids[k]);
	if (failed(c, "source image reference", err, errlen))
		return MS_ERR_DICOM;
	OFVector<ImageSOPInstanceReferenceMacro> refs;
	refs.push_back(ref);
	std::unique_ptr<FGDerivationImage> deriv(
	    FGDerivationImage::createMinimal(refs, "", code_macro(kDerivation), code_macro(kPurpose)));
	if (!deriv) {
		snprintf(err, errlen, "cannot build the derivation image group for slice %u", k);
		return MS_ERR_DICOM;
	}

	const size_t plane = (size_t)src->nx * src->ny;
	OFVector<FGBase *> groups;
	groups.push_back(&plane_pos);
	groups.push_back(&content);
	groups.push_back(deriv.get());
	/* addFrame takes a non-const pointer but only copies from it. */
	c = frames.addFrame(const_cast<Float32 *>(d->values + (size_t)k * plane), plane, groups);
	if (failed(c, "add frame", err, errlen))
		return MS_ERR_DICOM;
	return MS_OK;
}

/* Common Instance Reference: the frames reference source images, so dciodvfy wants them listed. */
ms_status add_common_references(DPMParametricMapIOD &map, DcmDataset *srcds, const ms_dicom_source *src, char *err,
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
	if (map.getIODCommonInstanceReferenceModule().addReferences(refs, study_uid) != src->n_slices) {
		snprintf(err, errlen, "cannot fill the Common Instance Reference module");
		return MS_ERR_DICOM;
	}
	return MS_OK;
}

/* Builds the map in DCMTK's model and writes it into ff. A function of its own so that the
 * model (one copy of the pixels) is gone before ff is serialised (two more). */
ms_status build_pm(const ms_pm_desc *d, DcmDataset *srcds, double lo, double hi, DcmFileFormat &ff, char *err,
                   size_t errlen)
{
	const ms_dicom_source *src = d->src;
	ms_status rc;
	/* A map computed from one CT (or MR) series keeps that modality, as dcmqi does; OT is for
	 * sources that do not say. */
	OFString modality;
	if (srcds->findAndGetOFString(DCM_Modality, modality).bad() || modality.empty())
		modality = "OT";

	std::string versions = std::string(MS_VERSION);
	if (d->algorithm_version && d->algorithm_version[0])
		versions += std::string("\\") + d->algorithm_version;
	IODEnhGeneralEquipmentModule::EquipmentInfo equipment(kManufacturer, d->algorithm_name, kSerial, versions.c_str());
	ContentIdentificationMacro content("1", d->content_label, d->series_description ? d->series_description : "",
	                                   "");
	OFvariant<OFCondition, DPMParametricMapIOD> created = DPMParametricMapIOD::create<IODFloatingPointImagePixelModule>(
	    modality, std::to_string(d->series_number).c_str(), "1", (Uint16)src->ny, (Uint16)src->nx, equipment, content,
	    kImageFlavor, d->image_type_4, DPMTypes::CQ_RESEARCH);
	if (OFCondition *cond = OFget<OFCondition>(&created)) {
		failed(cond->good() ? EC_IllegalCall : *cond, "create parametric map", err, errlen);
		return MS_ERR_DICOM;
	}
	DPMParametricMapIOD *map = OFget<DPMParametricMapIOD>(&created);

	/* Importing the study level also imports the source's General Equipment (the scanner):
	 * drop it and describe ourselves again. */
	OFCondition c = map->importHierarchy(*srcds, OFTrue, OFTrue, OFTrue, OFFalse);
	if (failed(c, "import patient/study/frame of reference", err, errlen))
		return MS_ERR_DICOM;
	map->getIODGeneralEquipmentModule().clearData();
	c = map->getIODEnhGeneralEquipmentModule().set(equipment);
	if (failed(c, "equipment", err, errlen))
		return MS_ERR_DICOM;
	c = map->getSeries().setSeriesInstanceUID(d->series_uid);
	if (c.good() && d->series_description)
		c = map->getSeries().setSeriesDescription(d->series_description);
	if (c.good())
		c = map->getSOPCommon().setSOPInstanceUID(d->sop_uid);
	if (c.good())
		c = map->setRecognizableVisualFeatures(DPMTypes::RVF_NO);
	if (failed(c, "series/SOP attributes", err, errlen))
		return MS_ERR_DICOM;

	/* The organisation UID derives from the SOP UID only, so the object stays reproducible. */
	OFString dim_uid = OFString(d->sop_uid).substr(0, 60) + ".1";
	c = map->getIODMultiframeDimensionModule().addDimensionIndex(DCM_ImagePositionPatient, dim_uid,
	                                                            DCM_PlanePositionSequence, "ImagePositionPatient");
	if (failed(c, "dimensions", err, errlen))
		return MS_ERR_DICOM;

	rc = add_shared_groups(*map, d, lo, hi, err, errlen);
	if (rc != MS_OK)
		return rc;

	DPMParametricMapIOD::FramesType frames_var = map->getFrames();
	FloatFrames *frames = OFget<FloatFrames>(&frames_var);
	if (!frames) {
		snprintf(err, errlen, "parametric map does not hold float frames");
		return MS_ERR_DICOM;
	}
	for (uint32_t k = 0; k < src->n_slices; k++) {
		rc = add_frame(*frames, d, k, err, errlen);
		if (rc != MS_OK)
			return rc;
	}

	rc = add_common_references(*map, srcds, src, err, errlen);
	if (rc != MS_OK)
		return rc;

	/* DCMTK checks the dimensions on write against functional groups it has not written yet and
	 * warns for every map; the indices are ours (slice + 1) and dciodvfy and ms_pm_verify check
	 * them instead. */
	map->getIODMultiframeDimensionModule().setCheckOnWrite(OFFalse);
	c = map->writeDataset(*ff.getDataset());
	if (failed(c, "write parametric map", err, errlen))
		return MS_ERR_DICOM;
	return MS_OK;
}

ms_status write_pm(const ms_pm_desc *d, uint8_t **out, size_t *out_size, char *err, size_t errlen)
{
	ms_status rc = check_desc(d, err, errlen);
	if (rc != MS_OK)
		return rc;
	double lo = 0, hi = 0;
	rc = value_range(d, &lo, &hi, err, errlen);
	if (rc != MS_OK)
		return rc;

	DcmFileFormat srcff;
	if (!ms_dcm::load(d->src->first_dicom, d->src->first_dicom_size, srcff, err, errlen))
		return MS_ERR_DICOM;
	DcmFileFormat ff;
	rc = build_pm(d, srcff.getDataset(), lo, hi, ff, err, errlen);
	if (rc != MS_OK)
		return rc;
	return ms_dcm::save(ff, out, out_size, err, errlen);
}

/* ---- read-back ---- */

/* Which source slice a frame was derived from (index into src->sop_instance_uids), or -1. */
long frame_slice(DPMParametricMapIOD *map, Uint32 f, const ms_dicom_source *src)
{
	FGDerivationImage *deriv =
	    OFstatic_cast(FGDerivationImage *, map->getFunctionalGroups().get(f, DcmFGTypes::EFG_DERIVATIONIMAGE));
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

ms_status verify_frame(DPMParametricMapIOD *map, FloatFrames &frames, Uint32 f, const ms_pm_desc *d, char *err,
                       size_t errlen)
{
	const ms_dicom_source *src = d->src;
	long k = frame_slice(map, f, src);
	if (k != (long)f) {
		snprintf(err, errlen, "frame %u: derived from slice %ld, expected %u", f + 1, k, f);
		return MS_ERR_DICOM;
	}
	FGPlanePosPatient *pos =
	    OFstatic_cast(FGPlanePosPatient *, map->getFunctionalGroups().get(f, DcmFGTypes::EFG_PLANEPOSPATIENT));
	Float64 x = 0, y = 0, z = 0;
	double want[3];
	ms_dcm::slice_position(src, f, want);
	if (!pos || pos->getImagePositionPatient(x, y, z).bad() || std::fabs(x - want[0]) > 1e-3 ||
	    std::fabs(y - want[1]) > 1e-3 || std::fabs(z - want[2]) > 1e-3) {
		snprintf(err, errlen, "frame %u: position (%g,%g,%g), expected (%g,%g,%g)", f + 1, x, y, z, want[0],
		         want[1], want[2]);
		return MS_ERR_DICOM;
	}
	const Float32 *pix = frames.getFrame(f);
	if (!pix) {
		snprintf(err, errlen, "frame %u: no pixels", f + 1);
		return MS_ERR_DICOM;
	}
	const size_t plane = (size_t)src->nx * src->ny;
	const float *expect = d->values + (size_t)f * plane;
	for (size_t i = 0; i < plane; i++) {
		/* Bit-exact, except that any NaN matches any NaN (payloads are not ours to keep). */
		bool same = std::isnan(expect[i]) ? std::isnan(pix[i]) : memcmp(&pix[i], &expect[i], sizeof(float)) == 0;
		if (!same) {
			snprintf(err, errlen, "frame %u: pixel %zu is %.9g, expected %.9g", f + 1, i, pix[i], expect[i]);
			return MS_ERR_DICOM;
		}
	}
	return MS_OK;
}

/* True when the QuantityDefinitionSequence has a CODE item named concept with value code. */
bool has_code_item(OFVector<ContentItemMacro *> &seq, const ms_code &concept, const ms_code &code)
{
	for (size_t i = 0; i < seq.size(); i++) {
		ContentItemMacro::ValueType vt = ContentItemMacro::VT_UNKNOWN;
		seq[i]->getValueType(vt);
		CodeSequenceMacro *cv = seq[i]->getConceptCodeSequence();
		OFString scheme;
		if (cv)
			cv->getCodingSchemeDesignator(scheme);
		if (vt == ContentItemMacro::VT_CODE && code_value(seq[i]->getConceptNameCodeSequence()) == concept.value &&
		    code_value(cv) == code.value && scheme == code.scheme)
			return true;
	}
	return false;
}

/* DCMTK 3.6.7's RWVMItem::getDoubleFloatRealWorldValueLastValueMapped returns the first value,
 * so the range is read from the shared RWVM item of the dataset itself. */
void rwvm_range(DcmDataset *ds, Float64 *first, Float64 *last)
{
	DcmItem *shared = NULL, *rwvm = NULL;
	if (ds->findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0).bad() ||
	    shared->findAndGetSequenceItem(DCM_RealWorldValueMappingSequence, rwvm, 0).bad())
		return;
	rwvm->findAndGetFloat64(DCM_DoubleFloatRealWorldValueFirstValueMapped, *first);
	rwvm->findAndGetFloat64(DCM_DoubleFloatRealWorldValueLastValueMapped, *last);
}

ms_status verify_rwvm(DPMParametricMapIOD *map, DcmDataset *ds, const ms_pm_desc *d, char *err, size_t errlen)
{
	double lo = 0, hi = 0;
	ms_status rc = value_range(d, &lo, &hi, err, errlen);
	if (rc != MS_OK)
		return rc;
	FGRealWorldValueMapping *rwvm =
	    OFstatic_cast(FGRealWorldValueMapping *, map->getFunctionalGroups().get(0, DcmFGTypes::EFG_REALWORLDVALUEMAPPING));
	if (!rwvm || rwvm->getRealWorldValueMapping().size() != 1) {
		snprintf(err, errlen, "no single real world value mapping item");
		return MS_ERR_DICOM;
	}
	FGRealWorldValueMapping::RWVMItem *item = rwvm->getRealWorldValueMapping()[0];
	OFString label, unit_scheme;
	Float64 first = NAN, last = NAN;
	item->getLUTLabel(label);
	rwvm_range(ds, &first, &last);
	item->getMeasurementUnitsCode().getCodingSchemeDesignator(unit_scheme);
	if (label != d->lut_label || first != lo || last != hi) {
		snprintf(err, errlen, "RWVM label '%s' range [%g, %g], expected '%s' [%g, %g]", label.c_str(), first, last,
		         d->lut_label, lo, hi);
		return MS_ERR_DICOM;
	}
	if (code_value(&item->getMeasurementUnitsCode()) != d->unit.value || unit_scheme != d->unit.scheme) {
		snprintf(err, errlen, "RWVM unit is %s (%s), expected %s (%s)",
		         code_value(&item->getMeasurementUnitsCode()).c_str(), unit_scheme.c_str(), d->unit.value,
		         d->unit.scheme);
		return MS_ERR_DICOM;
	}
	OFVector<ContentItemMacro *> &qd = item->getEntireQuantityDefinitionSequence();
	if (qd.size() != (d->method ? 2u : 1u) || !has_code_item(qd, kQuantityConcept, d->quantity) ||
	    (d->method && !has_code_item(qd, kMethodConcept, *d->method))) {
		snprintf(err, errlen, "quantity definition does not hold quantity %s%s%s", d->quantity.value,
		         d->method ? " and method " : "", d->method ? d->method->value : "");
		return MS_ERR_DICOM;
	}
	FGParametricMapFrameType *ft = OFstatic_cast(
	    FGParametricMapFrameType *, map->getFunctionalGroups().get(0, DcmFGTypes::EFG_PARAMETRICMAPFRAMETYPE));
	OFString type4;
	if (!ft || ft->getFrameType(type4, 3).bad() || type4 != d->image_type_4) {
		snprintf(err, errlen, "FrameType value 4 is '%s', expected '%s'", type4.c_str(), d->image_type_4);
		return MS_ERR_DICOM;
	}
	return MS_OK;
}

ms_status verify_pm(const uint8_t *buf, size_t n, const ms_pm_desc *d, char *err, size_t errlen)
{
	const ms_dicom_source *src = d->src;
	DcmFileFormat ff;
	if (!buf || !ms_dcm::load(buf, n, ff, err, errlen))
		return MS_ERR_DICOM;
	DcmDataset *ds = ff.getDataset();
	OFString sop_class, sop, series, type4;
	ds->findAndGetOFString(DCM_SOPClassUID, sop_class);
	ds->findAndGetOFString(DCM_SOPInstanceUID, sop);
	ds->findAndGetOFString(DCM_SeriesInstanceUID, series);
	ds->findAndGetOFString(DCM_ImageType, type4, 3);
	/* DPMParametricMapIOD::loadDataset dereferences a NULL map for a dataset without a SOP class:
	 * check it first. */
	if (sop_class != UID_ParametricMapStorage || sop != d->sop_uid || series != d->series_uid) {
		snprintf(err, errlen, "not the expected parametric map: class %s, SOP %s, series %s", sop_class.c_str(),
		         sop.c_str(), series.c_str());
		return MS_ERR_DICOM;
	}
	OFString manufacturer;
	ds->findAndGetOFString(DCM_Manufacturer, manufacturer);
	if (manufacturer != kManufacturer) {
		snprintf(err, errlen, "Manufacturer is '%s', expected '%s'", manufacturer.c_str(), kManufacturer);
		return MS_ERR_DICOM;
	}
	if (type4 != d->image_type_4) {
		snprintf(err, errlen, "ImageType value 4 is '%s', expected '%s'", type4.c_str(), d->image_type_4);
		return MS_ERR_DICOM;
	}
	OFvariant<OFCondition, DPMParametricMapIOD *> loaded = DPMParametricMapIOD::loadDataset(*ds);
	if (OFCondition *cond = OFget<OFCondition>(&loaded)) {
		failed(cond->good() ? EC_IllegalCall : *cond, "DPMParametricMapIOD::loadDataset", err, errlen);
		return MS_ERR_DICOM;
	}
	std::unique_ptr<DPMParametricMapIOD> map(*OFget<DPMParametricMapIOD *>(&loaded));
	Uint16 rows = 0, cols = 0;
	map->getRows(rows);
	map->getColumns(cols);
	DPMParametricMapIOD::FramesType frames_var = map->getFrames();
	FloatFrames *frames = OFget<FloatFrames>(&frames_var);
	if (!frames || rows != src->ny || cols != src->nx) {
		snprintf(err, errlen, "not a float map of %ux%u (rows %u, columns %u)", src->ny, src->nx, rows, cols);
		return MS_ERR_DICOM;
	}
	if (map->getNumberOfFrames() != src->n_slices) {
		snprintf(err, errlen, "%zu frames, expected %u", map->getNumberOfFrames(), src->n_slices);
		return MS_ERR_DICOM;
	}
	for (Uint32 f = 0; f < src->n_slices; f++) {
		ms_status rc = verify_frame(map.get(), *frames, f, d, err, errlen);
		if (rc != MS_OK)
			return rc;
	}
	return verify_rwvm(map.get(), ds, d, err, errlen);
}

} /* namespace */

extern "C" ms_status ms_pm_write(const ms_pm_desc *d, uint8_t **out, size_t *out_size, char *err, size_t errlen)
{
	*out = NULL;
	*out_size = 0;
	if (errlen)
		err[0] = '\0';
	try {
		return write_pm(d, out, out_size, err, errlen);
	} catch (const std::bad_alloc &) {
		snprintf(err, errlen, "out of memory while writing a parametric map");
		return MS_ERR_NOMEM;
	} catch (...) {
		snprintf(err, errlen, "unexpected exception while writing a parametric map");
		return MS_ERR_DICOM;
	}
}

extern "C" ms_status ms_pm_verify(const uint8_t *buf, size_t n, const ms_pm_desc *d, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	try {
		ms_status rc = check_desc(d, err, errlen);
		if (rc != MS_OK)
			return rc;
		return verify_pm(buf, n, d, err, errlen);
	} catch (const std::bad_alloc &) {
		snprintf(err, errlen, "out of memory while verifying a parametric map");
		return MS_ERR_NOMEM;
	} catch (...) {
		snprintf(err, errlen, "exception while verifying a parametric map");
		return MS_ERR_DICOM;
	}
}
