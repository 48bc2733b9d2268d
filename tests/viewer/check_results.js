#!/usr/bin/env node
/*
 * Reads MedSight's results the way a DICOMweb viewer does, with the libraries
 * viewers use (dicomweb-client for QIDO-RS/WADO-RS, dcmjs for parsing), and
 * prints a JSON summary on stdout.
 *
 *   node check_results.js <DICOMweb root> <StudyInstanceUID> [--all]
 *   node check_results.js http://127.0.0.1:8042/dicom-web 1.2.3...
 *
 * Finds, by QIDO-RS within the study, every Segmentation, Comprehensive SR and
 * Parametric Map instance; retrieves each by WADO-RS; parses it with dcmjs.
 * Only objects whose Manufacturer is "MedSight" are summarised unless --all.
 * Exit status: 0 summary printed, 1 error (message on stderr), 2 bad usage.
 *
 * Node 18 (Debian 12) and later; dicomweb-client needs an XMLHttpRequest,
 * which Node lacks: xhr2 provides it.
 */
"use strict";

global.XMLHttpRequest = require("xhr2");
const dwc = require("dicomweb-client");
const dcmjs = require("dcmjs");

dcmjs.log.setLevel("error"); // dcmjs warns about every private/unknown tag otherwise

const SOP_SEG = "1.2.840.10008.5.1.4.1.1.66.4";
const SOP_COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33";
const SOP_PARAMETRIC_MAP = "1.2.840.10008.5.1.4.1.1.30";

/* ---- small helpers over naturalized (keyword-named) datasets ---- */

/* dcmjs keeps sequences as arrays; be lenient about single items anyway. */
function list(v) {
	if (v === undefined || v === null) return [];
	return Array.isArray(v) ? v : [v];
}

function first(v) {
	const l = list(v);
	return l.length ? l[0] : undefined;
}

function str(v) {
	const x = first(v);
	return x === undefined || x === null ? null : String(x);
}

/* {Value, Scheme, Meaning} of the first item of a code sequence, or null. */
function code(seq) {
	const c = first(seq);
	if (!c) return null;
	return {
		Value: str(c.CodeValue) || str(c.LongCodeValue) || str(c.URNCodeValue),
		Scheme: str(c.CodingSchemeDesignator),
		Meaning: str(c.CodeMeaning),
	};
}

function isCode(c, value, scheme) {
	return c !== null && c.Value === value && c.Scheme === scheme;
}

/* QIDO-RS DICOM JSON: first value of a tag (hex, no comma). */
function jsonValue(item, tag) {
	const a = item[tag];
	return a && a.Value && a.Value.length ? a.Value[0] : null;
}

function personOrString(v) {
	if (v && typeof v === "object" && "Alphabetic" in v) return v.Alphabetic;
	return v;
}

/* ---- DICOMweb ---- */

async function findInstances(client, study) {
	/* Series first, as a viewer's study browser does, then the instances of the three SOP
	 * classes: a Parametric Map keeps its source's modality (CT/MR), so Modality alone cannot
	 * find it. */
	const series = await client.searchForSeries({ studyInstanceUID: study });
	const seriesInfo = {};
	for (const s of series) {
		seriesInfo[jsonValue(s, "0020000E")] = {
			SeriesInstanceUID: jsonValue(s, "0020000E"),
			Modality: jsonValue(s, "00080060"),
			SeriesNumber: jsonValue(s, "00200011"),
			SeriesDescription: jsonValue(s, "0008103E"),
		};
	}
	const found = [];
	for (const sopClass of [SOP_SEG, SOP_COMPREHENSIVE_SR, SOP_PARAMETRIC_MAP]) {
		const insts = await client.searchForInstances({
			studyInstanceUID: study,
			queryParams: { SOPClassUID: sopClass },
		});
		for (const i of insts) {
			/* Some servers ignore unsupported filters: check the class ourselves. */
			const cls = jsonValue(i, "00080016");
			if (cls !== null && cls !== sopClass) continue;
			found.push({
				sopClass,
				series: jsonValue(i, "0020000E"),
				sop: jsonValue(i, "00080018"),
			});
		}
	}
	return { series: Object.values(seriesInfo), instances: found };
}

async function retrieve(client, study, inst) {
	const buffer = await client.retrieveInstance({
		studyInstanceUID: study,
		seriesInstanceUID: inst.series,
		sopInstanceUID: inst.sop,
	});
	const dict = dcmjs.data.DicomMessage.readFile(buffer);
	const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
	ds._meta = dcmjs.data.DicomMetaDictionary.namifyDataset(dict.meta);
	return ds;
}

function transferSyntax(ds) {
	const ts = ds._meta && ds._meta.TransferSyntaxUID;
	return ts ? str(ts.Value) : null;
}

/* ---- common parts ---- */

function header(ds) {
	return {
		SOPClassUID: str(ds.SOPClassUID),
		SOPInstanceUID: str(ds.SOPInstanceUID),
		SeriesInstanceUID: str(ds.SeriesInstanceUID),
		StudyInstanceUID: str(ds.StudyInstanceUID),
		Modality: str(ds.Modality),
		SeriesNumber: ds.SeriesNumber === undefined ? null : Number(first(ds.SeriesNumber)),
		SeriesDescription: str(ds.SeriesDescription),
		Manufacturer: str(ds.Manufacturer),
		SoftwareVersions: list(ds.SoftwareVersions).map(String),
		SpecificCharacterSet: list(ds.SpecificCharacterSet).map(String),
		TransferSyntaxUID: transferSyntax(ds),
		PatientID: str(ds.PatientID),
		PatientName: personOrString(first(ds.PatientName)) || null,
	};
}

/* ReferencedSeriesSequence (Common Instance Reference module) -> [{SeriesInstanceUID, Instances}]. */
function referencedSeries(ds) {
	return list(ds.ReferencedSeriesSequence).map((s) => ({
		SeriesInstanceUID: str(s.SeriesInstanceUID),
		Instances: list(s.ReferencedInstanceSequence).map((r) => str(r.ReferencedSOPInstanceUID)),
	}));
}

/* The per-frame item of a functional group, falling back to the shared one. */
function frameGroup(ds, f, name) {
	const perFrame = list(ds.PerFrameFunctionalGroupsSequence)[f];
	const per = perFrame ? first(perFrame[name]) : undefined;
	if (per) return per;
	const shared = first(ds.SharedFunctionalGroupsSequence);
	return shared ? first(shared[name]) : undefined;
}

/* ---- SEG ---- */

/* Bytes of PixelData, whatever shape dcmjs gave it (ArrayBuffer, typed array, or a list). */
function pixelBytes(ds) {
	const parts = list(ds.PixelData).map((p) =>
		p instanceof ArrayBuffer ? new Uint8Array(p) : new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
	const n = parts.reduce((a, p) => a + p.length, 0);
	const out = new Uint8Array(n);
	let o = 0;
	for (const p of parts) {
		out.set(p, o);
		o += p.length;
	}
	return out;
}

/* Set bits of frame f in a BINARY SEG: frames are packed back to back, LSB first (PS3.5 8.1.1). */
function frameCount(bytes, f, plane) {
	let n = 0;
	for (let b = f * plane, end = b + plane; b < end; b++) {
		if ((bytes[b >> 3] >> (b & 7)) & 1) n++;
	}
	return n;
}

function summarizeSeg(ds) {
	const rows = Number(first(ds.Rows));
	const cols = Number(first(ds.Columns));
	const frames = Number(first(ds.NumberOfFrames) || 1);
	const binary = str(ds.SegmentationType) === "BINARY" && Number(first(ds.BitsAllocated)) === 1;
	const bytes = binary ? pixelBytes(ds) : null;
	const segments = list(ds.SegmentSequence).map((s) => ({
		Number: Number(first(s.SegmentNumber)),
		Label: str(s.SegmentLabel),
		Category: code(s.SegmentedPropertyCategoryCodeSequence),
		Type: code(s.SegmentedPropertyTypeCodeSequence),
		AnatomicRegion: code(s.AnatomicRegionSequence),
		AlgorithmType: str(s.SegmentAlgorithmType),
		AlgorithmName: str(s.SegmentAlgorithmName),
		TrackingID: str(s.TrackingID),
		TrackingUID: str(s.TrackingUID),
		Frames: 0,
		Pixels: binary ? 0 : null,
	}));
	const byNumber = {};
	for (const s of segments) byNumber[s.Number] = s;
	const sourceImages = new Set();
	let unmatched = 0;
	for (let f = 0; f < frames; f++) {
		const sid = frameGroup(ds, f, "SegmentIdentificationSequence");
		const seg = byNumber[sid ? Number(first(sid.ReferencedSegmentNumber)) : -1];
		const deriv = frameGroup(ds, f, "DerivationImageSequence");
		const src = deriv ? first(deriv.SourceImageSequence) : undefined;
		const srcUid = src ? str(src.ReferencedSOPInstanceUID) : null;
		if (srcUid) sourceImages.add(srcUid);
		if (!seg) {
			unmatched++;
			continue;
		}
		seg.Frames++;
		if (binary) seg.Pixels += frameCount(bytes, f, rows * cols);
	}
	return Object.assign(header(ds), {
		SegmentationType: str(ds.SegmentationType),
		ContentLabel: str(ds.ContentLabel),
		Rows: rows,
		Columns: cols,
		NumberOfFrames: frames,
		FrameOfReferenceUID: str(ds.FrameOfReferenceUID),
		FramesWithoutSegment: unmatched,
		Segments: segments,
		ReferencedSeries: referencedSeries(ds),
		SourceImages: Array.from(sourceImages),
	});
}

/* ---- SR (TID 1500) ---- */

function numItem(it) {
	const mv = first(it.MeasuredValueSequence);
	if (!mv) return { Concept: code(it.ConceptNameCodeSequence), Value: null, Unit: null };
	const text = str(mv.NumericValue);
	const fp = mv.FloatingPointValue === undefined ? null : Number(first(mv.FloatingPointValue));
	const m = {
		Concept: code(it.ConceptNameCodeSequence),
		Value: fp !== null ? fp : text === null ? null : Number(text),
		NumericValue: text,
		FloatingPointValue: fp,
		Unit: code(mv.MeasurementUnitsCodeSequence),
		Method: null,
		Algorithm: null,
	};
	for (const sub of list(it.ContentSequence)) {
		const name = code(sub.ConceptNameCodeSequence);
		if (isCode(name, "370129005", "SCT")) m.Method = code(sub.ConceptCodeSequence);
		else if (isCode(name, "111001", "DCM")) m.Algorithm = str(sub.TextValue);
	}
	return m;
}

function group(item) {
	const g = {
		TrackingID: null,
		TrackingUID: null,
		Finding: null,
		FindingSites: [],
		ReferencedSegment: null,
		SourceSeriesForSegmentation: null,
		Measurements: [],
	};
	for (const sub of list(item.ContentSequence)) {
		const name = code(sub.ConceptNameCodeSequence);
		const vt = str(sub.ValueType);
		if (vt === "TEXT" && isCode(name, "112039", "DCM")) g.TrackingID = str(sub.TextValue);
		else if (vt === "UIDREF" && isCode(name, "112040", "DCM")) g.TrackingUID = str(sub.UID);
		else if (vt === "CODE" && isCode(name, "121071", "DCM")) g.Finding = code(sub.ConceptCodeSequence);
		else if (vt === "CODE" && isCode(name, "363698007", "SCT")) g.FindingSites.push(code(sub.ConceptCodeSequence));
		else if (vt === "UIDREF" && isCode(name, "121232", "DCM")) g.SourceSeriesForSegmentation = str(sub.UID);
		else if (vt === "IMAGE" && isCode(name, "121191", "DCM")) {
			const ref = first(sub.ReferencedSOPSequence) || {};
			g.ReferencedSegment = {
				SOPClassUID: str(ref.ReferencedSOPClassUID),
				SOPInstanceUID: str(ref.ReferencedSOPInstanceUID),
				SegmentNumbers: list(ref.ReferencedSegmentNumber).map(Number),
			};
		} else if (vt === "NUM") g.Measurements.push(numItem(sub));
	}
	return g;
}

function summarizeSr(ds) {
	const tmpl = first(ds.ContentTemplateSequence);
	const out = Object.assign(header(ds), {
		Root: code(ds.ConceptNameCodeSequence),
		Template: tmpl ? { Identifier: str(tmpl.TemplateIdentifier), Resource: str(tmpl.MappingResource) } : null,
		CompletionFlag: str(ds.CompletionFlag),
		VerificationFlag: str(ds.VerificationFlag),
		Language: null,
		ProcedureReported: [],
		DeviceObserverUID: null,
		AlgorithmParameters: null,
		Groups: [],
		Evidence: [],
	});
	/* TID 1500: root items, then Imaging Measurements (126010) holding Measurement Groups (125007). */
	for (const it of list(ds.ContentSequence)) {
		const name = code(it.ConceptNameCodeSequence);
		const vt = str(it.ValueType);
		if (vt === "CODE" && isCode(name, "121058", "DCM")) out.ProcedureReported.push(code(it.ConceptCodeSequence));
		else if (vt === "CODE" && isCode(name, "121049", "DCM")) out.Language = code(it.ConceptCodeSequence);
		else if (vt === "UIDREF" && isCode(name, "121012", "DCM")) out.DeviceObserverUID = str(it.UID);
		else if (vt === "CONTAINER" && isCode(name, "126010", "DCM")) {
			for (const g of list(it.ContentSequence)) {
				if (str(g.ValueType) === "CONTAINER" && isCode(code(g.ConceptNameCodeSequence), "125007", "DCM"))
					out.Groups.push(group(g));
			}
		} else if (vt === "CONTAINER" && isCode(name, "126011", "DCM")) {
			/* Derived Imaging Measurements: not written by MedSight, but still measurements. */
			for (const g of list(it.ContentSequence))
				if (str(g.ValueType) === "CONTAINER") out.Groups.push(group(g));
		} else if (vt === "CONTAINER") {
			/* Qualitative Evaluations: MedSight puts its Algorithm Parameters (111002) there. */
			for (const q of list(it.ContentSequence))
				if (isCode(code(q.ConceptNameCodeSequence), "111002", "DCM")) out.AlgorithmParameters = str(q.TextValue);
		}
	}
	for (const study of list(ds.CurrentRequestedProcedureEvidenceSequence)) {
		for (const s of list(study.ReferencedSeriesSequence)) {
			out.Evidence.push({
				StudyInstanceUID: str(study.StudyInstanceUID),
				SeriesInstanceUID: str(s.SeriesInstanceUID),
				Instances: list(s.ReferencedSOPSequence).map((r) => ({
					SOPClassUID: str(r.ReferencedSOPClassUID),
					SOPInstanceUID: str(r.ReferencedSOPInstanceUID),
				})),
			});
		}
	}
	return out;
}

/* ---- Parametric Map ---- */

function summarizePm(ds) {
	const shared = first(ds.SharedFunctionalGroupsSequence) || {};
	const pvm = first(shared.RealWorldValueMappingSequence) || {};
	let quantity = null;
	let method = null;
	for (const q of list(pvm.QuantityDefinitionSequence)) {
		const name = code(q.ConceptNameCodeSequence);
		if (isCode(name, "246205007", "SCT")) quantity = code(q.ConceptCodeSequence);
		else if (isCode(name, "370129005", "SCT")) method = code(q.ConceptCodeSequence);
	}
	const num = (v) => (v === undefined ? null : Number(first(v)));
	return Object.assign(header(ds), {
		ContentLabel: str(ds.ContentLabel),
		ImageType: list(ds.ImageType).map(String),
		Rows: Number(first(ds.Rows)),
		Columns: Number(first(ds.Columns)),
		NumberOfFrames: Number(first(ds.NumberOfFrames) || 1),
		BitsAllocated: Number(first(ds.BitsAllocated)),
		FloatPixelData: ds.FloatPixelData !== undefined,
		LUTLabel: str(pvm.LUTLabel),
		Quantity: quantity,
		Method: method,
		Unit: code(pvm.MeasurementUnitsCodeSequence),
		ValueRange: [num(pvm.DoubleFloatRealWorldValueFirstValueMapped), num(pvm.DoubleFloatRealWorldValueLastValueMapped)],
		FrameOfReferenceUID: str(ds.FrameOfReferenceUID),
		ReferencedSeries: referencedSeries(ds),
	});
}

/* ---- main ---- */

async function main(argv) {
	const args = argv.filter((a) => !a.startsWith("--"));
	const all = argv.includes("--all");
	if (args.length !== 2) {
		process.stderr.write("usage: node check_results.js <DICOMweb root> <StudyInstanceUID> [--all]\n");
		return 2;
	}
	const [root, study] = args;
	const client = new dwc.api.DICOMwebClient({ url: root.replace(/\/+$/, "") });
	const { series, instances } = await findInstances(client, study);
	const summary = {
		DICOMwebRoot: root,
		StudyInstanceUID: study,
		Series: series,
		Segmentations: [],
		Reports: [],
		ParametricMaps: [],
		Skipped: [],
	};
	for (const inst of instances) {
		const ds = await retrieve(client, study, inst);
		if (!all && str(ds.Manufacturer) !== "MedSight") {
			summary.Skipped.push({ SOPInstanceUID: inst.sop, Manufacturer: str(ds.Manufacturer) });
			continue;
		}
		if (str(ds.SOPInstanceUID) !== inst.sop)
			throw new Error("WADO-RS returned " + str(ds.SOPInstanceUID) + " for " + inst.sop);
		if (inst.sopClass === SOP_SEG) summary.Segmentations.push(summarizeSeg(ds));
		else if (inst.sopClass === SOP_COMPREHENSIVE_SR) summary.Reports.push(summarizeSr(ds));
		else summary.ParametricMaps.push(summarizePm(ds));
	}
	for (const key of ["Segmentations", "Reports", "ParametricMaps"])
		summary[key].sort((a, b) => a.SeriesNumber - b.SeriesNumber || (a.SOPInstanceUID < b.SOPInstanceUID ? -1 : 1));
	process.stdout.write(JSON.stringify(summary, null, 1) + "\n");
	return 0;
}

main(process.argv.slice(2)).then(
	(rc) => process.exit(rc),
	(e) => {
		/* dicomweb-client rejects with the XMLHttpRequest on HTTP errors. */
		const what = e && e.status !== undefined ? "HTTP " + e.status + " " + (e.statusText || "") + " " + (e.responseURL || "") : e && e.stack ? e.stack : String(e);
		process.stderr.write("check_results: " + what + "\n");
		process.exit(1);
	}
);
