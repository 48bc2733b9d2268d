"""Viewer compatibility: MedSight's results read back the way a DICOMweb
viewer (OHIF and its libraries) reads them. A real Orthanc with the plugin
analyses two phantom series of one study (calcium with ROI "none", and the
chest segmentation phantom); tests/viewer/check_results.js then finds the
SEG and SR objects by QIDO-RS, fetches them by WADO-RS with dicomweb-client
and parses them with dcmjs; its JSON summary must agree with the jobs'
Results: segments (labels, codes, pixel counts, source references), TID 1500
groups (tracking ids/UIDs, referenced segments, NUM values and units).

Needs Node.js >= 18 with npm (scripts/deps.sh --test installs Debian's) and
the npm registry for `npm ci` in tests/viewer (run once; node_modules is
reused while package-lock.json is unchanged). Without node/npm the test is
skipped with a message saying so.

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_viewer
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import unittest

import pydicom

import harness  # first: puts tests/phantoms on sys.path
import calcium
import ctseg
import dicom_checks as dc
import make_series
import perfusion

VIEWER_DIR = os.path.join(harness.SOURCE_DIR, "tests", "viewer")
JOB_TIMEOUT = 180
NODE_MIN_MAJOR = 18
C_MASS = 0.001
UID_RE = re.compile(r"^2\.25\.[1-9][0-9]{0,38}$")
EXPLICIT_LE = "1.2.840.10008.1.2.1"

CAC_CATEGORY, CAC_TYPE, CORONARY = "49755003", "18115005", "41801008"
CODE_SCORE, CODE_VOLUME, CODE_MASS = "112058", "122660", "122661"
SEG_LABELS = ["Body", "Left lung", "Right lung", "Bone"]
SEG_TYPES = {"Body": "38266002", "Left lung": "44029006", "Right lung": "3341006",
             "Bone": "3138006"}
CODE_ML = "118565006"
# Perfusion maps of a CT series, in series-number order (9021...): label,
# quantity code, UCUM unit, deconvolution (SVD method code), Result map name.
PM_MAPS = [("CBF", "126390", "ml/[100]g/min", True, "CBF"),
           ("CBV", "126391", "ml/[100]g", True, "CBV"),
           ("MTT", "113052", "s", True, "MTT"),
           ("TMAX", "113084", "s", True, "Tmax"),
           ("TTP", "113069", "s", False, "TTP"),
           ("PEAK", "126376", "[hnsf'U]", False, "PE"),
           ("AUC", "126320", "[hnsf'U].s", False, "AUC"),
           ("SLOPE", "126375", "[hnsf'U]/s", False, "MaxSlope")]
SOP_PM = "1.2.840.10008.5.1.4.1.1.30"
PM_IMAGE_TYPE_4 = {"CBF": "RCBF", "CBV": "RCBV", "MTT": "MTT", "TTP": "TTP"}


def node_tools():
    """(node, npm) paths, or raise SkipTest saying what is missing."""
    node, npm = shutil.which("node") or shutil.which("nodejs"), shutil.which("npm")
    if not node or not npm:
        raise unittest.SkipTest("Node.js and npm are needed for the viewer check "
                                "(sudo bash scripts/deps.sh --test installs them)")
    out = subprocess.run([node, "--version"], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout.strip()
    m = re.match(r"v(\d+)\.", out)
    if not m or int(m.group(1)) < NODE_MIN_MAJOR:
        raise unittest.SkipTest("Node.js %s is too old for dcmjs/dicomweb-client (need >= %d)"
                                % (out, NODE_MIN_MAJOR))
    return node, npm


def npm_ci(npm):
    """`npm ci` in tests/viewer unless node_modules already matches the lock."""
    with open(os.path.join(VIEWER_DIR, "package-lock.json"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(VIEWER_DIR, "node_modules", ".medsight-lock-sha256")
    try:
        with open(stamp) as f:
            if f.read().strip() == digest:
                return
    except OSError:
        pass
    r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=VIEWER_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError("npm ci in %s failed (rc %d; is the npm registry reachable?):\n%s"
                             % (VIEWER_DIR, r.returncode, r.stdout[-3000:]))
    with open(stamp, "w") as f:
        f.write(digest + "\n")


def code_value(c):
    return None if c is None else c["Value"]


class ViewerTest(harness.NodeTestCase):
    MEDSIGHT = {"Rules": [], "Calcium": {"ROI": "none", "MassCalibration": C_MASS}}

    @classmethod
    def setUpClass(cls):
        cls.node_bin, npm = node_tools()
        npm_ci(npm)
        super().setUpClass()
        node = cls.node
        study_uid = make_series.uid(7100, "viewer-study")
        cls.study_uid = study_uid
        ph = calcium.t5()     # two lesions (4-connectivity) and dropped single pixels
        cls.cac = make_series.make_ct_series(
            os.path.join(cls.tmp, "cac"), nz=ph["nz"], hu=ph["hu"], seed=7101,
            uid_salt="viewer-cac", study_uid=study_uid, series_number=2,
            series_description="calcium viewer", **ph["series_kw"])
        chest = ctseg.chest(nx=96, ny=96, nz=24, dz=10.0)
        cls.seg = make_series.make_ct_series(
            os.path.join(cls.tmp, "chest"), nx=96, ny=96, nz=24, dz=10.0,
            spacing=chest["pixel_spacing"], origin=chest["origin"], hu=chest["hu"],
            seed=7102, uid_salt="viewer-chest", study_uid=study_uid, series_number=3,
            series_description="chest viewer")
        # Perfusion: a dynamic CT phantom of its own study (one Parametric Map per map + SR).
        cls.perf_ph = perfusion.ct_phantom()
        cls.perf = perfusion.write_series(os.path.join(cls.tmp, "perf"), cls.perf_ph, 7103,
                                          "viewer-perf", "perfusion viewer")
        node.store(cls.cac["files"] + cls.seg["files"] + cls.perf["files"])
        cls.jobs = {}
        for name, info, analysis in (("calcium", cls.cac, "calcium"),
                                     ("segmentation", cls.seg, "segmentation"),
                                     ("perfusion", cls.perf, "perfusion")):
            sid = node.wait_series(info["series_uid"], len(info["files"]))
            status, body = node.post("/medsight/series/%s/analyze" % sid, {"Analysis": analysis})
            if status != 200:
                raise AssertionError("analyze %s -> %d %r" % (name, status, body))
            cls.jobs[name] = body["ID"]
        cls.done = {}
        cls.results = {}          # job name -> [(SOPInstanceUID, SeriesInstanceUID, Modality)]
        for name, job_id in cls.jobs.items():
            job = node.wait_job_state(job_id, timeout=JOB_TIMEOUT)
            if job["State"] != "done":
                raise AssertionError("%s job: %s %s" % (name, job["State"], job.get("Error")))
            cls.done[name] = job
            objs = []
            for iid in job["Results"]:
                tags = node.get_ok("/instances/%s" % iid)["MainDicomTags"]
                series = node.get_ok("/instances/%s/series" % iid)["MainDicomTags"]
                objs.append((tags["SOPInstanceUID"], series["SeriesInstanceUID"],
                             series.get("Modality")))
            cls.results[name] = objs
        cls.summary = cls.run_script(node.base + "/dicom-web", study_uid)
        cls.perf_summary = cls.run_script(node.base + "/dicom-web", cls.perf["study_uid"])
        if os.environ.get("MS_VIEWER_DUMP"):
            with open(os.environ["MS_VIEWER_DUMP"], "w") as f:
                json.dump([cls.summary, cls.perf_summary], f, indent=1)

    @classmethod
    def run_script(cls, root, study_uid, *extra):
        r = subprocess.run([cls.node_bin, os.path.join(VIEWER_DIR, "check_results.js"),
                            root, study_uid] + list(extra),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError("check_results.js rc %d:\n%s" % (r.returncode, r.stderr[-3000:]))
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise AssertionError("check_results.js printed no JSON (%s):\n%s"
                                 % (e, r.stdout[-2000:])) from None

    def tearDown(self):
        self.assertAlive()

    # -- helpers -------------------------------------------------------------

    def objects(self, kind, series_number, summary=None):
        summary = summary or self.summary
        found = [o for o in summary[kind] if o["SeriesNumber"] == series_number]
        self.assertEqual(len(found), 1, "%s with series number %d: %s" % (
            kind, series_number, [(o["SeriesNumber"], o["SOPInstanceUID"]) for o in summary[kind]]))
        return found[0]

    def assertCommon(self, o, info, modality):
        self.assertEqual(o["StudyInstanceUID"], info["study_uid"])
        self.assertEqual(o["Modality"], modality)
        self.assertEqual(o["Manufacturer"], "MedSight")
        self.assertEqual(o["PatientID"], "MSPHANTOM")
        self.assertRegex(o["SOPInstanceUID"], UID_RE)
        self.assertRegex(o["SeriesInstanceUID"], UID_RE)
        self.assertEqual(o["TransferSyntaxUID"], EXPLICIT_LE)
        self.assertNotEqual(o["SeriesInstanceUID"], info["series_uid"])

    def assertSegReferences(self, seg, info):
        """Common Instance Reference lists every source slice; every frame
        derives from one of them."""
        sops = self.source_sops(info)
        self.assertEqual(len(seg["ReferencedSeries"]), 1, seg["ReferencedSeries"])
        ref = seg["ReferencedSeries"][0]
        self.assertEqual(ref["SeriesInstanceUID"], info["series_uid"])
        self.assertEqual(sorted(ref["Instances"]), sorted(sops))
        self.assertTrue(seg["SourceImages"], "no frame names its source image")
        self.assertTrue(set(seg["SourceImages"]) <= set(sops), seg["SourceImages"])
        self.assertEqual(seg["FramesWithoutSegment"], 0)
        self.assertEqual(sum(s["Frames"] for s in seg["Segments"]), seg["NumberOfFrames"])

    def assertReport(self, sr, info, seg):
        self.assertEqual(sr["Root"]["Value"], "126000")
        self.assertEqual(sr["Root"]["Scheme"], "DCM")
        self.assertEqual(sr["Template"], {"Identifier": "1500", "Resource": "DCMR"})
        self.assertEqual(sr["CompletionFlag"], "COMPLETE")
        self.assertEqual(sr["VerificationFlag"], "UNVERIFIED")
        self.assertRegex(sr["DeviceObserverUID"] or "", UID_RE)
        self.assertEqual(len(sr["ProcedureReported"]), 1)
        self.assertTrue(sr["AlgorithmParameters"], "no Algorithm Parameters TEXT")
        evidence = {e["SeriesInstanceUID"]: e for e in sr["Evidence"]}
        self.assertIn(info["series_uid"], evidence)
        self.assertEqual(sorted(i["SOPInstanceUID"] for i in evidence[info["series_uid"]]["Instances"]),
                         sorted(self.source_sops(info)))
        self.assertIn(seg["SeriesInstanceUID"], evidence)
        self.assertEqual([i["SOPInstanceUID"] for i in evidence[seg["SeriesInstanceUID"]]["Instances"]],
                         [seg["SOPInstanceUID"]])
        uids = [g["TrackingUID"] for g in sr["Groups"]]
        for g in sr["Groups"]:
            self.assertTrue(g["TrackingID"], g)
            self.assertRegex(g["TrackingUID"] or "", UID_RE)
        self.assertEqual(len(set(uids)), len(uids), "tracking UIDs repeat")

    def assertNum(self, group, concept, unit, want, what):
        nums = [m for m in group["Measurements"] if code_value(m["Concept"]) == concept]
        self.assertEqual(len(nums), 1, "%s: NUM %s in %s" % (what, concept, group["Measurements"]))
        m = nums[0]
        self.assertEqual(code_value(m["Unit"]), unit, what)
        self.assertEqual(m["Unit"]["Scheme"], "UCUM", what)
        self.assertLessEqual(abs(m["Value"] - want), 1e-9 * max(1.0, abs(want)),
                             "%s: NUM %s = %r, Result %r" % (what, concept, m["Value"], want))
        # The DS string every reader sees agrees with the exact FD value.
        self.assertLessEqual(abs(float(m["NumericValue"]) - want), 1e-6 * max(1.0, abs(want)), what)
        return m

    def source_sops(self, info):
        return [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
                for f in info["files"]]

    # -- tests ---------------------------------------------------------------

    def test_finds_exactly_the_results(self):
        """QIDO-RS finds exactly the objects the jobs list, no Parametric Map,
        and the study's series (source and results) are all listed."""
        got = sorted(o["SOPInstanceUID"] for k in ("Segmentations", "Reports", "ParametricMaps")
                     for o in self.summary[k])
        want = sorted(sop for name in ("calcium", "segmentation")
                      for sop, _, _ in self.results[name])
        self.assertEqual(got, want)
        self.assertEqual(self.summary["ParametricMaps"], [])
        self.assertEqual(self.summary["Skipped"], [])
        modalities = {s["SeriesInstanceUID"]: s["Modality"] for s in self.summary["Series"]}
        self.assertEqual(modalities.get(self.cac["series_uid"]), "CT")
        for name in ("calcium", "segmentation"):
            for sop, series, modality in self.results[name]:
                self.assertEqual(modalities.get(series), modality, series)
        numbers = sorted(s["SeriesNumber"] for s in self.summary["Series"])
        self.assertEqual(numbers, [2, 3, 9001, 9002, 9011, 9012])

    def test_calcium_seg(self):
        r = self.done["calcium"]["Result"]
        self.assertEqual(r["ROI"], "none")
        self.assertEqual(r["LesionCount"], 2)
        seg = self.objects("Segmentations", 9001)
        self.assertCommon(seg, self.cac, "SEG")
        self.assertEqual(seg["SegmentationType"], "BINARY")
        self.assertEqual(seg["ContentLabel"], "CALCIUM")
        self.assertEqual((seg["Rows"], seg["Columns"]), (32, 32))
        self.assertSegReferences(seg, self.cac)
        by_id = {l["ID"]: l for l in r["Lesions"]}
        self.assertEqual(sorted(s["Label"] for s in seg["Segments"]),
                         sorted("Calcified lesion %d" % i for i in by_id))
        self.assertEqual([s["Number"] for s in seg["Segments"]], list(range(1, len(by_id) + 1)))
        for s in seg["Segments"]:
            lesion = by_id[int(s["Label"].rsplit(" ", 1)[1])]
            self.assertEqual(code_value(s["Category"]), CAC_CATEGORY, s["Label"])
            self.assertEqual(code_value(s["Type"]), CAC_TYPE, s["Label"])
            self.assertEqual(s["Type"]["Scheme"], "SCT")
            self.assertEqual(code_value(s["AnatomicRegion"]), CORONARY, s["Label"])
            self.assertEqual(s["AlgorithmType"], "AUTOMATIC")
            self.assertEqual(s["AlgorithmName"], "MedSight CAC")
            self.assertEqual(s["Pixels"], lesion["Voxels"], s["Label"])
            first, last = lesion["Slices"]
            self.assertEqual(s["Frames"], last - first + 1, s["Label"])

    def test_calcium_sr(self):
        r = self.done["calcium"]["Result"]
        seg = self.objects("Segmentations", 9001)
        sr = self.objects("Reports", 9002)
        self.assertCommon(sr, self.cac, "SR")
        self.assertEqual(sr["SOPClassUID"], dc.COMPREHENSIVE_SR_SOP_CLASS)
        self.assertReport(sr, self.cac, seg)
        self.assertEqual(code_value(sr["ProcedureReported"][0]), "426005005")
        self.assertEqual(len(sr["Groups"]), 1 + r["LesionCount"])
        totals = [g for g in sr["Groups"] if g["ReferencedSegment"] is None]
        self.assertEqual(len(totals), 1)
        t = totals[0]
        self.assertEqual(t["TrackingID"], "Total calcium")
        self.assertNum(t, CODE_SCORE, "1", r["Agatston"], "totals")
        self.assertNum(t, CODE_VOLUME, "mm3", r["VolumeMM3"], "totals")
        self.assertNum(t, CODE_MASS, "mg", r["MassMg"], "totals")
        segments = {s["Number"]: s for s in seg["Segments"]}
        by_id = {l["ID"]: l for l in r["Lesions"]}
        for g in sr["Groups"]:
            self.assertEqual(code_value(g["Finding"]), CAC_TYPE)
            self.assertEqual([code_value(c) for c in g["FindingSites"]], [CORONARY])
            if g is t:
                continue
            ref = g["ReferencedSegment"]
            self.assertEqual(ref["SOPInstanceUID"], seg["SOPInstanceUID"])
            self.assertEqual(ref["SOPClassUID"], dc.SEG_SOP_CLASS)
            self.assertEqual(len(ref["SegmentNumbers"]), 1)
            label = segments[ref["SegmentNumbers"][0]]["Label"]
            self.assertEqual(g["TrackingID"], label)
            self.assertEqual(g["SourceSeriesForSegmentation"], self.cac["series_uid"])
            lesion = by_id[int(label.rsplit(" ", 1)[1])]
            score = self.assertNum(g, CODE_SCORE, "1", lesion["Agatston"], label)
            self.assertEqual(code_value(score["Method"]), "112055")
            self.assertNum(g, CODE_VOLUME, "mm3", lesion["VolumeMM3"], label)
            self.assertNum(g, CODE_MASS, "mg", lesion["MassMg"], label)

    def test_segmentation_seg(self):
        r = self.done["segmentation"]["Result"]
        seg = self.objects("Segmentations", 9011)
        self.assertCommon(seg, self.seg, "SEG")
        self.assertEqual(seg["ContentLabel"], "SEGMENTATION")
        self.assertEqual((seg["Rows"], seg["Columns"]), (96, 96))
        self.assertSegReferences(seg, self.seg)
        self.assertEqual([s["Label"] for s in seg["Segments"]], SEG_LABELS)
        self.assertEqual([s["Label"] for s in r["Segments"]], SEG_LABELS)
        dx, dy, dz = dc.written_spacing(self.seg)
        voxel_ml = dx * dy * dz / 1000.0
        for s, want in zip(seg["Segments"], r["Segments"]):
            self.assertEqual(s["Number"], want["Number"])
            self.assertEqual(code_value(s["Type"]), SEG_TYPES[s["Label"]], s["Label"])
            self.assertEqual(s["TrackingID"], s["Label"])
            self.assertRegex(s["TrackingUID"] or "", UID_RE)
            self.assertGreater(s["Pixels"], 0, s["Label"])
            self.assertAlmostEqual(s["Pixels"] * voxel_ml, want["VolumeMl"],
                                   delta=1e-6 * max(1.0, want["VolumeMl"]), msg=s["Label"])

    def test_segmentation_sr(self):
        r = self.done["segmentation"]["Result"]
        seg = self.objects("Segmentations", 9011)
        sr = self.objects("Reports", 9012)
        self.assertCommon(sr, self.seg, "SR")
        self.assertReport(sr, self.seg, seg)
        self.assertEqual(code_value(sr["ProcedureReported"][0]), "77477000")
        segments = {s["Number"]: s for s in seg["Segments"]}
        volumes = {s["Label"]: s["VolumeMl"] for s in r["Segments"]}
        self.assertEqual(len(sr["Groups"]), len(r["Segments"]))
        for g in sr["Groups"]:
            ref = g["ReferencedSegment"]
            self.assertIsNotNone(ref, g["TrackingID"])
            self.assertEqual(ref["SOPInstanceUID"], seg["SOPInstanceUID"])
            s = segments[ref["SegmentNumbers"][0]]
            self.assertEqual(g["TrackingID"], s["Label"])
            # The SR group and the SEG segment carry the same tracking UID.
            self.assertEqual(g["TrackingUID"], s["TrackingUID"])
            self.assertEqual(code_value(g["Finding"]), SEG_TYPES[s["Label"]])
            self.assertNum(g, CODE_ML, "ml", volumes[s["Label"]], s["Label"])

    def test_perfusion_parametric_maps(self):
        """One Parametric Map per map (Modality CT, float pixels, quantity and
        UCUM unit in the Real World Value Mapping), found by SOP class."""
        r = self.done["perfusion"]["Result"]
        self.assertEqual(r["Kind"], "CT")
        s = self.perf_summary
        got = sorted(o["SOPInstanceUID"] for k in ("Segmentations", "Reports", "ParametricMaps")
                     for o in s[k])
        self.assertEqual(got, sorted(sop for sop, _, _ in self.results["perfusion"]))
        self.assertEqual(s["Segmentations"], [])
        self.assertEqual([p["SeriesNumber"] for p in s["ParametricMaps"]],
                         list(range(9021, 9021 + len(PM_MAPS))))
        nz, ny, nx = self.perf_ph["hu"].shape[1:]
        for pm, (label, quantity, unit, svd, _) in zip(s["ParametricMaps"], PM_MAPS):
            self.assertCommon(pm, self.perf, "CT")
            self.assertEqual(pm["SOPClassUID"], SOP_PM)
            self.assertEqual(pm["ContentLabel"], label)
            self.assertEqual(pm["LUTLabel"], label)
            self.assertEqual(pm["SeriesDescription"], "MedSight perfusion %s" % label)
            self.assertEqual(code_value(pm["Quantity"]), quantity, label)
            self.assertEqual(code_value(pm["Unit"]), unit, label)
            self.assertEqual(pm["Unit"]["Scheme"], "UCUM", label)
            self.assertEqual(code_value(pm["Method"]), "126311" if svd else None, label)
            self.assertEqual((pm["Rows"], pm["Columns"], pm["NumberOfFrames"]), (ny, nx, nz))
            self.assertEqual(pm["BitsAllocated"], 32)
            self.assertTrue(pm["FloatPixelData"], label)
            self.assertEqual(pm["ImageType"][2:], ["PERFUSION", PM_IMAGE_TYPE_4.get(label, "NONE")], label)
            refs = pm["ReferencedSeries"]
            self.assertEqual([x["SeriesInstanceUID"] for x in refs], [self.perf["series_uid"]], label)
            self.assertEqual(len(refs[0]["Instances"]), nz, label)
            self.assertTrue(set(refs[0]["Instances"]) <= set(self.perf["sop"]), label)

    def test_perfusion_sr(self):
        r = self.done["perfusion"]["Result"]
        sr = self.objects("Reports", 9020, self.perf_summary)
        self.assertCommon(sr, self.perf, "SR")
        self.assertEqual(sr["Root"]["Value"], "126000")
        self.assertEqual(sr["Template"], {"Identifier": "1500", "Resource": "DCMR"})
        self.assertEqual(code_value(sr["ProcedureReported"][0]), "126301")
        self.assertIn(self.perf["series_uid"], [e["SeriesInstanceUID"] for e in sr["Evidence"]])
        groups = {g["TrackingID"]: g for g in sr["Groups"]}
        self.assertEqual(sorted(groups), ["Arterial input function", "Perfusion summary"])
        summary = groups["Perfusion summary"]
        self.assertIsNone(summary["ReferencedSegment"])
        for label, quantity, unit, svd, name in PM_MAPS[:5]:
            mean = r["Maps"][name]["Mean"]
            m = self.assertNum(summary, quantity, unit, 0.0 if mean is None else mean, label)
            self.assertEqual(code_value(m["Method"]), "126311" if svd else None, label)
        self.assertEqual(len(summary["Measurements"]), 5)
        aif = groups["Arterial input function"]
        self.assertEqual(code_value(aif["Finding"]), "126363" if r["AIF"]["Automatic"] else "126362")
        self.assertNum(aif, "126376", "[hnsf'U]", max(r["AIF"]["Curve"]), "AIF peak")

    def test_unknown_study_is_empty(self):
        """A study without results gives an empty summary, not an error."""
        other = self.run_script(self.node.base + "/dicom-web/", "1.2.3.4.5.6.7.8.9")
        for key in ("Series", "Segmentations", "Reports", "ParametricMaps"):
            self.assertEqual(other[key], [], key)


if __name__ == "__main__":
    unittest.main()
