"""Checks of the DICOM objects MedSight stores (SEG, Comprehensive SR), done
with tools that share no code with the plugin: Orthanc's REST and DICOMweb
(QIDO-RS, WADO-RS), dicom3tools' dciodvfy, DCMTK's dcmdump/dsrdump, and
pydicom + numpy (bit-packed SEG frames are unpacked here, not by pydicom).

Only Debian's python3-pydicom (2.3) and python3-numpy are used.
"""

import io
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import numpy as np
import pydicom

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
COMPREHENSIVE_SR_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"


# -- fetching ----------------------------------------------------------------

def get_bytes(node, path, accept=None, timeout=30):
    """(HTTP status, content type, raw body) of a GET on node (never parsed:
    OrthancNode.request would decode binary as text)."""
    headers = {"Accept": accept} if accept else {}
    req = urllib.request.Request(node.base + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def fetch_file(node, instance_id):
    """Part 10 bytes of an instance through GET /instances/{id}/file."""
    status, _, body = get_bytes(node, "/instances/%s/file" % instance_id)
    if status != 200:
        raise AssertionError("GET /instances/%s/file -> %d" % (instance_id, status))
    return body


def split_multipart(content_type, body):
    """Parts (bytes) of a multipart/related answer."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise AssertionError("no boundary in %r" % content_type)
    delim = b"--" + m.group(1).encode()
    parts = []
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError("multipart part without header end")
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        parts.append(payload)
    return parts


def fetch_wado(node, study_uid, series_uid, sop_uid):
    """Part 10 bytes of one instance through DICOMweb WADO-RS."""
    path = "/dicom-web/studies/%s/series/%s/instances/%s" % (study_uid, series_uid, sop_uid)
    status, ctype, body = get_bytes(
        node, path, accept='multipart/related; type="application/dicom"')
    if status != 200:
        raise AssertionError("WADO-RS %s -> %d" % (path, status))
    if not ctype.startswith("multipart/related"):
        raise AssertionError("WADO-RS answered %r" % ctype)
    parts = split_multipart(ctype, body)
    if len(parts) != 1:
        raise AssertionError("WADO-RS returned %d parts, want 1" % len(parts))
    return parts[0]


def qido_series(node, study_uid, modality=None):
    """QIDO-RS series of a study (DICOM JSON), optionally filtered by modality."""
    query = {"Modality": modality} if modality else None
    status, body = node.get("/dicom-web/studies/%s/series" % study_uid, query)
    if status != 200:
        raise AssertionError("QIDO-RS series of %s -> %d %r" % (study_uid, status, body))
    return body or []


def json_value(item, tag):
    """First value of a DICOM JSON attribute (None when absent)."""
    v = item.get(tag, {}).get("Value")
    return v[0] if v else None


def written_spacing(info):
    """(dx, dy, dz) in mm as the series' files state them (PixelSpacing is
    written with 6 significant digits, so it can differ from the float the
    phantom was built with); dz from the first two ImagePositionPatient."""
    ds = pydicom.dcmread(info["files"][0], stop_before_pixels=True)
    dy, dx = (float(v) for v in ds.PixelSpacing)
    p = np.asarray(info["positions"][:2], dtype=np.float64)
    return dx, dy, float(np.linalg.norm(p[1] - p[0]))


# -- external tools ----------------------------------------------------------

def _run(cmd, data, suffix=".dcm"):
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="ms-check-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        r = subprocess.run(cmd + [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    finally:
        os.unlink(path)


def dciodvfy(data, what="object"):
    """Runs dciodvfy; AssertionError listing every line that begins with
    "Error". Warnings are printed to stderr and returned."""
    rc, out, err = _run(["dciodvfy"], data)
    lines = (out + "\n" + err).splitlines()
    errors = [l for l in lines if l.startswith("Error")]
    warnings = [l for l in lines if l.startswith("Warning")]
    if errors:
        raise AssertionError("dciodvfy on %s: %d errors:\n%s"
                             % (what, len(errors), "\n".join(lines)))
    for w in warnings:
        sys.stderr.write("dciodvfy %s: %s\n" % (what, w))
    return warnings


def dcmdump(data):
    """dcmdump text; AssertionError when DCMTK cannot read the file."""
    rc, out, err = _run(["dcmdump", "-q", "+L"], data)
    if rc != 0 or "E:" in err:
        raise AssertionError("dcmdump rc %d: %s" % (rc, err[-2000:]))
    return out


def dsrdump(data):
    """dsrdump text (codes and template identification shown);
    AssertionError when DCMTK rejects the SR."""
    rc, out, err = _run(["dsrdump", "+Pc", "+Pt"], data)
    if rc != 0 or "E:" in err:
        raise AssertionError("dsrdump rc %d: %s\n%s" % (rc, err[-2000:], out[-2000:]))
    return out


def read(data):
    """pydicom dataset from Part 10 bytes."""
    return pydicom.dcmread(io.BytesIO(data))


# -- SEG ---------------------------------------------------------------------

def seg_frames(ds):
    """(nframes, rows, cols) uint8 array of a BINARY SEG, unpacked with numpy:
    frames are packed contiguously, first pixel in the least significant bit."""
    if int(ds.BitsAllocated) != 1:
        raise AssertionError("SEG BitsAllocated %s, want 1" % ds.BitsAllocated)
    n = int(ds.NumberOfFrames)
    rows, cols = int(ds.Rows), int(ds.Columns)
    packed = np.frombuffer(ds.PixelData, dtype=np.uint8)
    need = (n * rows * cols + 7) // 8
    if packed.size < need:
        raise AssertionError("PixelData has %d bytes, %d frames need %d" % (packed.size, n, need))
    bits = np.unpackbits(packed, bitorder="little")[:n * rows * cols]
    return bits.reshape(n, rows, cols)


def seg_segments(ds):
    """{segment number: label} in file order; numbers must be 1..n."""
    out = {}
    for item in ds.SegmentSequence:
        out[int(item.SegmentNumber)] = str(item.SegmentLabel)
    return out


def seg_masks(ds, positions, shape):
    """{segment number: bool mask (nz, ny, nx)} rebuilt from the frames.

    positions: ImagePositionPatient of each source slice, in slice order;
    every frame's PlanePosition must match one (0.01 mm). Each frame's
    ReferencedSegmentNumber must name a segment of the SegmentSequence."""
    nz, ny, nx = shape
    if (int(ds.Rows), int(ds.Columns)) != (ny, nx):
        raise AssertionError("SEG %dx%d, source %dx%d" % (ds.Rows, ds.Columns, ny, nx))
    frames = seg_frames(ds)
    segs = seg_segments(ds)
    masks = {s: np.zeros(shape, dtype=bool) for s in segs}
    pos = np.asarray(positions, dtype=np.float64)
    shared = ds.SharedFunctionalGroupsSequence[0]
    per_frame = ds.PerFrameFunctionalGroupsSequence
    if len(per_frame) != frames.shape[0]:
        raise AssertionError("%d per-frame items for %d frames" % (len(per_frame), frames.shape[0]))
    for f, item in enumerate(per_frame):
        sid = item.get("SegmentIdentificationSequence") or shared.get("SegmentIdentificationSequence")
        seg = int(sid[0].ReferencedSegmentNumber)
        if seg not in masks:
            raise AssertionError("frame %d references segment %d, not in %s" % (f, seg, sorted(segs)))
        ipp = np.asarray([float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient])
        d = np.abs(pos - ipp).max(axis=1)
        k = int(np.argmin(d))
        if d[k] > 0.01:
            raise AssertionError("frame %d at %s matches no source slice" % (f, ipp.tolist()))
        masks[seg][k] |= frames[f].astype(bool)
    return masks


def check_seg_header(ds, series_number):
    """Attributes every MedSight SEG must have (beyond dciodvfy)."""
    problems = []
    if ds.SOPClassUID != SEG_SOP_CLASS:
        problems.append("SOPClassUID %s" % ds.SOPClassUID)
    if ds.Modality != "SEG":
        problems.append("Modality %s" % ds.Modality)
    if int(ds.SeriesNumber) != series_number:
        problems.append("SeriesNumber %s, want %d" % (ds.SeriesNumber, series_number))
    if ds.SegmentationType != "BINARY":
        problems.append("SegmentationType %s" % ds.SegmentationType)
    nums = [int(i.SegmentNumber) for i in ds.SegmentSequence]
    if nums != list(range(1, len(nums) + 1)):
        problems.append("SegmentNumbers %s" % nums)
    for i in ds.SegmentSequence:
        if i.SegmentAlgorithmType != "AUTOMATIC":
            problems.append("segment %s algorithm type %s" % (i.SegmentNumber, i.SegmentAlgorithmType))
    if problems:
        raise AssertionError("SEG: " + "; ".join(problems))


# -- SR ----------------------------------------------------------------------

def _code(seq):
    c = seq[0]
    return (str(c.CodeValue), str(c.CodingSchemeDesignator), str(c.CodeMeaning))


def sr_items(ds):
    """Every content item of the tree, depth first: (depth, item)."""
    out = []

    def walk(items, depth):
        for it in items:
            out.append((depth, it))
            if "ContentSequence" in it:
                walk(it.ContentSequence, depth + 1)
    walk(ds.ContentSequence, 1)
    return out


def sr_num(item):
    """(value, unit code value) of a NUM item; the FD twin wins when present."""
    mv = item.MeasuredValueSequence[0]
    value = float(mv.NumericValue)
    if "FloatingPointValue" in mv:
        fp = float(mv.FloatingPointValue)
        if abs(fp - value) > 1e-6 * max(1.0, abs(fp)):
            raise AssertionError("NUM DS %r and FD %r disagree" % (mv.NumericValue, fp))
        value = fp
    return value, str(mv.MeasurementUnitsCodeSequence[0].CodeValue)


def sr_groups(ds):
    """Measurement groups (125007,DCM) of a TID 1500 report, in order, each
    {"TrackingID", "TrackingUID", "FindingSite" (code tuple or None),
     "Finding" (code or None), "Segment" (referenced segment number or None),
     "SegSOP", "Nums": {code value: (value, unit)}}."""
    groups = []
    for depth, it in sr_items(ds):
        if it.get("ValueType") != "CONTAINER" or "ConceptNameCodeSequence" not in it:
            continue
        if _code(it.ConceptNameCodeSequence)[:2] != ("125007", "DCM"):
            continue
        g = {"TrackingID": None, "TrackingUID": None, "FindingSite": None,
             "Finding": None, "Segment": None, "SegSOP": None, "Nums": {}}
        for sub in it.get("ContentSequence", []):
            if "ConceptNameCodeSequence" not in sub:
                continue  # by-reference relationship
            name = _code(sub.ConceptNameCodeSequence)[:2]
            vt = sub.get("ValueType")
            if vt == "TEXT" and name == ("112039", "DCM"):
                g["TrackingID"] = str(sub.TextValue)
            elif vt == "UIDREF" and name == ("112040", "DCM"):
                g["TrackingUID"] = str(sub.UID)
            elif vt == "CODE" and name == ("363698007", "SCT"):
                g["FindingSite"] = _code(sub.ConceptCodeSequence)
            elif vt == "CODE" and name == ("121071", "DCM"):
                g["Finding"] = _code(sub.ConceptCodeSequence)
            elif vt == "IMAGE" and name == ("121191", "DCM"):
                ref = sub.ReferencedSOPSequence[0]
                g["SegSOP"] = str(ref.ReferencedSOPInstanceUID)
                if "ReferencedSegmentNumber" in ref:
                    g["Segment"] = int(ref.ReferencedSegmentNumber)
            elif vt == "NUM":
                g["Nums"][name[0]] = sr_num(sub)
        groups.append(g)
    return groups


def sr_text(ds, code_value):
    """TextValue of the first TEXT item with that concept code value (None)."""
    for depth, it in sr_items(ds):
        if it.get("ValueType") == "TEXT" and "ConceptNameCodeSequence" in it \
                and _code(it.ConceptNameCodeSequence)[0] == code_value:
            return str(it.TextValue)
    return None


def check_sr_header(ds, series_number):
    """TID 1500 root and SR Document General basics (beyond dciodvfy)."""
    problems = []
    if ds.SOPClassUID != COMPREHENSIVE_SR_SOP_CLASS:
        problems.append("SOPClassUID %s" % ds.SOPClassUID)
    if ds.Modality != "SR":
        problems.append("Modality %s" % ds.Modality)
    if int(ds.SeriesNumber) != series_number:
        problems.append("SeriesNumber %s, want %d" % (ds.SeriesNumber, series_number))
    if _code(ds.ConceptNameCodeSequence)[:2] != ("126000", "DCM"):
        problems.append("root concept %s" % (_code(ds.ConceptNameCodeSequence),))
    tmpl = ds.get("ContentTemplateSequence")
    if not tmpl or str(tmpl[0].TemplateIdentifier) != "1500":
        problems.append("ContentTemplateSequence %r" % (tmpl,))
    if ds.get("VerificationFlag") != "UNVERIFIED":
        problems.append("VerificationFlag %r" % ds.get("VerificationFlag"))
    if problems:
        raise AssertionError("SR: " + "; ".join(problems))


# -- one result object, end to end -------------------------------------------

def check_result_object(node, instance_id, study_uid, modality):
    """Fetches an analysis' result instance both ways (REST file and WADO-RS),
    runs dciodvfy on both, DCMTK (dcmdump; dsrdump for SR) and QIDO-RS.
    Returns (pydicom dataset, bytes, dump text) for further checks."""
    data = fetch_file(node, instance_id)
    ds = read(data)
    if ds.StudyInstanceUID != study_uid:
        raise AssertionError("%s stored in study %s, want %s"
                             % (modality, ds.StudyInstanceUID, study_uid))
    if ds.Modality != modality:
        raise AssertionError("instance %s is %s, want %s" % (instance_id, ds.Modality, modality))
    dciodvfy(data, "%s (REST)" % modality)
    wado = fetch_wado(node, study_uid, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    dciodvfy(wado, "%s (WADO-RS)" % modality)
    wds = read(wado)
    if wds.SOPInstanceUID != ds.SOPInstanceUID or wds.get("PixelData") != ds.get("PixelData"):
        raise AssertionError("WADO-RS copy of %s differs from the stored file" % modality)
    dump = dcmdump(data)
    if modality == "SR":
        dump = dsrdump(data)
    found = [s for s in qido_series(node, study_uid, modality)
             if json_value(s, "0020000E") == ds.SeriesInstanceUID]
    if len(found) != 1:
        raise AssertionError("QIDO-RS does not list the %s series %s in study %s"
                             % (modality, ds.SeriesInstanceUID, study_uid))
    return ds, data, dump


def study_instance_count(node, study_uid):
    """Number of instances Orthanc holds in a study."""
    status, body = node.post("/tools/lookup", study_uid)
    if status != 200 or not body:
        raise AssertionError("study %s not found" % study_uid)
    sid = [b["ID"] for b in body if b.get("Type") == "Study"][0]
    return len(node.get_ok("/studies/%s/instances" % sid))


# -- Parametric Map ----------------------------------------------------------

PM_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.30"


def pm_frames(ds):
    """(nframes, rows, cols) float32 of a float Parametric Map, decoded with
    numpy from FloatPixelData (little endian), not by pydicom's handlers."""
    if int(ds.BitsAllocated) != 32:
        raise AssertionError("PM BitsAllocated %s, want 32" % ds.BitsAllocated)
    if "FloatPixelData" not in ds:
        raise AssertionError("PM without FloatPixelData")
    n = int(ds.get("NumberOfFrames", 1))
    rows, cols = int(ds.Rows), int(ds.Columns)
    raw = np.frombuffer(ds.FloatPixelData, dtype="<f4")
    if raw.size < n * rows * cols:
        raise AssertionError("FloatPixelData has %d floats, %d frames need %d"
                             % (raw.size, n, n * rows * cols))
    return raw[:n * rows * cols].reshape(n, rows, cols)


def _frame_position(ds, f):
    item = ds.PerFrameFunctionalGroupsSequence[f]
    pp = item.get("PlanePositionSequence") or \
        ds.SharedFunctionalGroupsSequence[0].get("PlanePositionSequence")
    return np.asarray([float(v) for v in pp[0].ImagePositionPatient])


def pm_volume(ds, positions, shape):
    """(nz, ny, nx) float32 map rebuilt from the frames: every frame's
    PlanePosition must match one source slice (0.01 mm) and every slice must
    be covered exactly once."""
    nz, ny, nx = shape
    if (int(ds.Rows), int(ds.Columns)) != (ny, nx):
        raise AssertionError("PM %dx%d, source %dx%d" % (ds.Rows, ds.Columns, ny, nx))
    frames = pm_frames(ds)
    if len(ds.PerFrameFunctionalGroupsSequence) != frames.shape[0]:
        raise AssertionError("%d per-frame items for %d frames"
                             % (len(ds.PerFrameFunctionalGroupsSequence), frames.shape[0]))
    vol = np.zeros(shape, dtype=np.float32)
    seen = [0] * nz
    pos = np.asarray(positions, dtype=np.float64)
    for f in range(frames.shape[0]):
        ipp = _frame_position(ds, f)
        d = np.abs(pos - ipp).max(axis=1)
        k = int(np.argmin(d))
        if d[k] > 0.01:
            raise AssertionError("PM frame %d at %s matches no source slice" % (f, ipp.tolist()))
        vol[k] = frames[f]
        seen[k] += 1
    if seen != [1] * nz:
        raise AssertionError("PM frames per source slice: %s, want one each" % seen)
    return vol


def pm_frame_sources(ds):
    """[(frame ImagePositionPatient, [referenced source SOP instance UIDs])]
    from each frame's DerivationImageSequence / SourceImageSequence."""
    out = []
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        uids = []
        for d in item.get("DerivationImageSequence", []):
            for s in d.get("SourceImageSequence", []):
                uids.append(str(s.ReferencedSOPInstanceUID))
        out.append((_frame_position(ds, f), uids))
    return out


def pm_rwvm(ds):
    """The shared RealWorldValueMapping item as a dict: LUTLabel,
    LUTExplanation, First, Last, Slope, Intercept, Unit (code tuple),
    Quantity (code tuple of the (246205007, SCT) item), Method (code tuple
    of the (370129005, SCT) item or None), Count (items in the sequence)."""
    shared = ds.SharedFunctionalGroupsSequence[0]
    seq = shared.RealWorldValueMappingSequence
    it = seq[0]
    out = {"Count": len(seq), "LUTLabel": str(it.LUTLabel),
           "LUTExplanation": str(it.get("LUTExplanation", "")),
           "First": float(it.DoubleFloatRealWorldValueFirstValueMapped),
           "Last": float(it.DoubleFloatRealWorldValueLastValueMapped),
           "Slope": float(it.RealWorldValueSlope),
           "Intercept": float(it.RealWorldValueIntercept),
           "Unit": _code(it.MeasurementUnitsCodeSequence),
           "Quantity": None, "Method": None}
    for q in it.get("QuantityDefinitionSequence", []):
        name = _code(q.ConceptNameCodeSequence)[:2]
        if q.get("ValueType") != "CODE":
            continue
        if name == ("246205007", "SCT"):
            out["Quantity"] = _code(q.ConceptCodeSequence)
        elif name == ("370129005", "SCT"):
            out["Method"] = _code(q.ConceptCodeSequence)
    return out


def check_pm_header(ds, series_number, label, image_type_4):
    """Attributes every MedSight Parametric Map must have (beyond dciodvfy):
    SOP class, series number, ImageType/FrameType DERIVED\\PRIMARY\\
    PERFUSION\\<image_type_4>, ContentLabel, float pixels without the integer
    pixel attributes."""
    problems = []
    if ds.SOPClassUID != PM_SOP_CLASS:
        problems.append("SOPClassUID %s" % ds.SOPClassUID)
    if int(ds.SeriesNumber) != series_number:
        problems.append("SeriesNumber %s, want %d" % (ds.SeriesNumber, series_number))
    want = ["DERIVED", "PRIMARY", "PERFUSION", image_type_4]
    if list(ds.ImageType) != want:
        problems.append("ImageType %s, want %s" % (list(ds.ImageType), want))
    shared = ds.SharedFunctionalGroupsSequence[0]
    ft = shared.get("ParametricMapFrameTypeSequence")
    if not ft or list(ft[0].FrameType) != want:
        problems.append("shared FrameType %s, want %s"
                        % (list(ft[0].FrameType) if ft else None, want))
    if ds.get("ContentLabel") != label:
        problems.append("ContentLabel %r, want %r" % (ds.get("ContentLabel"), label))
    for kw in ("PixelData", "BitsStored", "HighBit", "PixelRepresentation"):
        if kw in ds:
            problems.append("%s present" % kw)
    # PixelPresentation is not in the PS3.3 Parametric Map Image module
    # (DCMTK dcmpmap does not write it); when present it must say MONOCHROME.
    if ds.get("PixelPresentation", "MONOCHROME") != "MONOCHROME":
        problems.append("PixelPresentation %r" % ds.get("PixelPresentation"))
    if problems:
        raise AssertionError("PM %s: %s" % (label, "; ".join(problems)))


def sr_code(ds, concept_value):
    """ConceptCode tuple of the first CODE item named concept_value (None)."""
    for depth, it in sr_items(ds):
        if it.get("ValueType") == "CODE" and "ConceptNameCodeSequence" in it \
                and _code(it.ConceptNameCodeSequence)[0] == concept_value:
            return _code(it.ConceptCodeSequence)
    return None
