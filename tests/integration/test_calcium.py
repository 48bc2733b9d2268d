"""Calcium scoring end to end: phantoms C-STOREd into a real Orthanc, the
"calcium" analysis run through REST, its Result checked against ANALYSES.md's
closed-form cases (T1-T5) and against an independent numpy scorer on a
partial-volume QRM-like insert; the SEG and SR it stores are fetched through
REST and DICOMweb and checked with dciodvfy, DCMTK and pydicom (masks equal
the expected lesion voxels, SR values equal the Result).

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_calcium
"""

import math
import os
import unittest

import numpy as np

import harness  # first: puts tests/phantoms on sys.path
import calcium
import dicom_checks as dc
import make_series

C_MASS = 0.001                       # MassCalibration used by the main node
CODE_SCORE, CODE_VOLUME, CODE_MASS = "112058", "122660", "122661"
SITE_HEART, SITE_CORONARY = "80891009", "41801008"
JOB_TIMEOUT = 120


# -- independent reference scorer ----------------------------------------------

def components_2d(mask, conn=4):
    """Connected components of a 2-D bool mask by flood fill: list of
    (rows, cols) index arrays."""
    if conn == 4:
        steps = ((1, 0), (-1, 0), (0, 1), (0, -1))
    else:
        steps = tuple((a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b)
    ny, nx = mask.shape
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    for j0, i0 in zip(*np.nonzero(mask)):
        if seen[j0, i0]:
            continue
        seen[j0, i0] = True
        stack, pix = [(j0, i0)], []
        while stack:
            j, i = stack.pop()
            pix.append((j, i))
            for dj, di in steps:
                jj, ii = j + dj, i + di
                if 0 <= jj < ny and 0 <= ii < nx and mask[jj, ii] and not seen[jj, ii]:
                    seen[jj, ii] = True
                    stack.append((jj, ii))
        rows, cols = zip(*pix)
        out.append((np.array(rows), np.array(cols)))
    return out


def weight(peak):
    """ANALYSES.md 1.4: half-open bins of the component's peak HU."""
    if peak >= 400:
        return 4
    if peak >= 300:
        return 3
    if peak >= 200:
        return 2
    return 1


def category(a):
    r = int(math.floor(a + 0.5))
    if r == 0:
        return "0"
    if r <= 10:
        return "1-10"
    if r <= 100:
        return "11-100"
    if r <= 400:
        return "101-400"
    return ">400"


def reference_score(hu, spacing, threshold=130.0, min_area=1.0, min_px=None, conn=4,
                    c=None, roi=None):
    """Agatston/volume/mass of a (nz, ny, nx) HU volume per ANALYSES.md 1:
    per-slice components, minimum area, weight from each component's peak,
    lesions = kept components linked across adjacent slices by a shared pixel.
    Returns dict(Agatston, VolumeMM3, SumVolumeHU, MassMg, LesionCount,
    Lesions: [dict(mask, Voxels, Agatston, VolumeMM3, MassMg, PeakHU, MeanHU,
    Slices, Centroid)])."""
    dx, dy, dz = spacing
    nz = hu.shape[0]
    if min_px is None:
        min_px = int(math.ceil(min_area / (dx * dy) - 1e-9))
    cand = hu >= threshold
    if roi is not None:
        cand &= roi
    comps = []                   # (k, rows, cols, weight)
    for k in range(nz):
        for rows, cols in components_2d(cand[k], conn):
            if rows.size >= min_px:
                comps.append((k, rows, cols, weight(hu[k, rows, cols].max())))
    # Union-find over kept components: adjacent slices sharing a pixel.
    parent = list(range(len(comps)))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a
    label = np.full(hu.shape, -1, dtype=np.int64)
    for n, (k, rows, cols, _) in enumerate(comps):
        label[k, rows, cols] = n
    for n, (k, rows, cols, _) in enumerate(comps):
        if k + 1 < nz:
            for m in np.unique(label[k + 1, rows, cols]):
                if m >= 0:
                    parent[find(int(m))] = find(n)
    groups = {}
    for n in range(len(comps)):
        groups.setdefault(find(n), []).append(n)
    lesions = []
    for members in groups.values():
        mask = np.zeros(hu.shape, dtype=bool)
        score = 0.0
        for n in members:
            k, rows, cols, w = comps[n]
            mask[k, rows, cols] = True
            score += rows.size * dx * dy * w
        vals = hu[mask]
        kk, jj, ii = np.nonzero(mask)
        vol = vals.size * dx * dy * dz
        lesions.append({"mask": mask, "Voxels": int(vals.size),
                        "Agatston": dz / 3.0 * score, "VolumeMM3": vol,
                        "MassMg": None if c is None else c * vol * float(vals.mean()),
                        "PeakHU": float(vals.max()), "MeanHU": float(vals.mean()),
                        "Slices": [int(kk.min()), int(kk.max())],
                        "Centroid": [float(ii.mean()), float(jj.mean()), float(kk.mean())]})
    a = sum(l["Agatston"] for l in lesions)
    v = sum(l["VolumeMM3"] for l in lesions)
    svh = sum(l["VolumeMM3"] * l["MeanHU"] for l in lesions)
    return {"Agatston": a, "VolumeMM3": v, "SumVolumeHU": svh,
            "MassMg": None if c is None else c * svh, "Category": category(a),
            "LesionCount": len(lesions), "Lesions": lesions}


# -- test cases ----------------------------------------------------------------

class CalciumCase(harness.NodeTestCase):
    """Shared helpers; subclasses set MEDSIGHT and PHANTOMS."""
    PHANTOMS = {}
    ROI = "none"
    MASS = C_MASS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        node = cls.node
        cls.series = {}
        files = []
        for seed, (name, make) in enumerate(sorted(cls.PHANTOMS.items()), start=1):
            ph = make()
            kw = dict(ph["series_kw"])
            modality = ph.get("modality", "CT")
            info = make_series.make_ct_series(
                os.path.join(cls.tmp, name), nz=ph["nz"], hu=ph["hu"],
                seed=4000 + seed, uid_salt=name, modality=modality,
                series_description="calcium %s" % name, **kw)
            info["phantom"] = ph
            cls.series[name] = info
            files += info["files"]
        node.store(files)
        cls.jobs = {}
        for name, info in sorted(cls.series.items()):
            sid = node.wait_series(info["series_uid"], len(info["files"]))
            info["sid"] = sid
            status, body = node.post("/medsight/series/%s/analyze" % sid,
                                     {"Analysis": "calcium"})
            if status != 200:
                raise AssertionError("analyze %s -> %d %r" % (name, status, body))
            cls.jobs[name] = body["ID"]

    def tearDown(self):
        self.assertAlive()

    def done_job(self, name):
        job = self.node.wait_job_state(self.jobs[name], timeout=JOB_TIMEOUT)
        self.assertEqual(job["State"], "done", "%s: %s" % (name, job.get("Error")))
        self.assertEqual(job["Analysis"], "calcium")
        self.assertIsNone(job["Error"])
        return job

    def assertClose(self, got, want, what, rel=1e-6, abs_=1e-6):
        self.assertIsNotNone(got, what)
        self.assertLessEqual(abs(got - want), max(abs_, rel * abs(want)),
                             "%s: got %r, want %r" % (what, got, want))

    def assertResultShape(self, r):
        for key in ("Agatston", "VolumeMM3", "MassMg", "SumVolumeHU", "Category",
                    "LesionCount", "Lesions", "ROI", "Parameters", "Warnings",
                    "Device", "GpuMs", "StageMs"):
            self.assertIn(key, r)
        self.assertEqual(r["ROI"], self.ROI)
        self.assertIsInstance(r["Parameters"], dict)
        self.assertIsInstance(r["Warnings"], list)
        self.assertEqual(r["LesionCount"], len(r["Lesions"]))
        self.assertEqual(r["Category"], category(r["Agatston"]))
        if self.MASS:
            self.assertIsNotNone(r["MassMg"])
        else:
            self.assertIsNone(r["MassMg"])
        ids = [l["ID"] for l in r["Lesions"]]
        self.assertEqual(len(set(ids)), len(ids), "lesion IDs not unique")
        self.assertClose(sum(l["Agatston"] for l in r["Lesions"]), r["Agatston"], "sum of lesion scores")
        self.assertClose(sum(l["VolumeMM3"] for l in r["Lesions"]), r["VolumeMM3"], "sum of lesion volumes")

    def assertMatchesReference(self, r, ref, info):
        """Totals and every lesion (matched by centroid) equal the reference."""
        self.assertResultShape(r)
        self.assertEqual(r["LesionCount"], ref["LesionCount"])
        self.assertClose(r["Agatston"], ref["Agatston"], "Agatston")
        self.assertClose(r["VolumeMM3"], ref["VolumeMM3"], "VolumeMM3")
        self.assertClose(r["SumVolumeHU"], ref["SumVolumeHU"], "SumVolumeHU", rel=1e-5)
        if ref["MassMg"] is not None:
            self.assertClose(r["MassMg"], ref["MassMg"], "MassMg", rel=1e-5)
        self.assertEqual(r["Category"], ref["Category"])
        pairs = self.match_lesions(r["Lesions"], ref["Lesions"])
        for got, want in pairs:
            what = "lesion %s" % got["ID"]
            self.assertEqual(got["Voxels"], want["Voxels"], what)
            self.assertClose(got["Agatston"], want["Agatston"], what + " Agatston")
            self.assertClose(got["VolumeMM3"], want["VolumeMM3"], what + " VolumeMM3")
            self.assertClose(got["PeakHU"], want["PeakHU"], what + " PeakHU", abs_=1e-3)
            self.assertClose(got["MeanHU"], want["MeanHU"], what + " MeanHU", rel=1e-5, abs_=1e-3)
            self.assertEqual(list(got["Slices"]), want["Slices"], what)
            if want["MassMg"] is not None:
                self.assertClose(got["MassMg"], want["MassMg"], what + " MassMg", rel=1e-5)
        return pairs

    def match_lesions(self, got, want):
        """[(result lesion, reference lesion)] paired by centroid (< 0.01 voxel)."""
        self.assertEqual(len(got), len(want))
        pairs, free = [], list(want)
        for g in got:
            c = np.asarray(g["Centroid"], dtype=np.float64)
            self.assertEqual(c.size, 3)
            best = min(free, key=lambda w: np.abs(np.asarray(w["Centroid"]) - c).max()) if free else None
            if best is None or np.abs(np.asarray(best["Centroid"]) - c).max() > 0.01:
                self.fail("lesion %s at %s matches no expected lesion (expected centroids %s)"
                          % (g["ID"], g["Centroid"], [w["Centroid"] for w in want]))
            free.remove(best)
            pairs.append((g, best))
        return pairs

    def check_objects(self, name, job, ref_pairs=None, site=SITE_CORONARY):
        """SEG + SR of a done job: validity everywhere, SEG masks equal the
        expected lesions, SR values equal the Result. Returns (seg, sr) datasets."""
        info = self.series[name]
        r = job["Result"]
        self.assertEqual(len(job["Results"]), 2, job["Results"])
        seg_id, sr_id = job["Results"]
        seg, _, _ = dc.check_result_object(self.node, seg_id, info["study_uid"], "SEG")
        sr, _, dump = dc.check_result_object(self.node, sr_id, info["study_uid"], "SR")

        # SEG: segments, frames, masks.
        dc.check_seg_header(seg, 9001)
        labels = dc.seg_segments(seg)
        hu = info["hu"]
        masks = dc.seg_masks(seg, info["positions"], hu.shape)
        if r["LesionCount"] == 0:
            self.assertEqual(list(labels.values()), ["No calcified lesion"])
            self.assertFalse(masks[1].any(), "empty segment has pixels")
            self.assertEqual(int(seg.NumberOfFrames), 1)
        else:
            self.assertEqual(sorted(labels.values()),
                             sorted("Calcified lesion %d" % l["ID"] for l in r["Lesions"]))
            # One frame per (segment, slice) holding pixels.
            nframes = sum(int(np.any(m, axis=(1, 2)).sum()) for m in masks.values())
            self.assertEqual(int(seg.NumberOfFrames), nframes)
            by_id = {l["ID"]: l for l in r["Lesions"]}
            want_by_id = {g["ID"]: w for g, w in (ref_pairs or [])}
            for num, label in labels.items():
                lesion = by_id[int(label.rsplit(" ", 1)[1])]
                self.assertEqual(int(masks[num].sum()), lesion["Voxels"], label)
                self.assertTrue((hu[masks[num]] >= 130.0 - 1e-6).all(), label)
                if lesion["ID"] in want_by_id:
                    want = want_by_id[lesion["ID"]]["mask"]
                    self.assertTrue(np.array_equal(masks[num], want),
                                    "%s: %d voxels differ from the expected lesion"
                                    % (label, int((masks[num] != want).sum())))

        # SR: header, DCMTK dump, groups equal the Result.
        dc.check_sr_header(sr, 9002)
        self.assertIn("1500", dump)
        self.assertIn("Calcium score", dump)
        self.assertIsNotNone(dc.sr_text(sr, "111002"), "no Algorithm Parameters TEXT")
        groups = dc.sr_groups(sr)
        totals = [g for g in groups if g["Segment"] is None]
        per_lesion = [g for g in groups if g["Segment"] is not None]
        self.assertEqual(len(totals), 1, "want one totals group")
        self.assertEqual(len(per_lesion), r["LesionCount"])

        def check_nums(g, want, what):
            self.assertEqual(g["Nums"][CODE_SCORE][1], "1", what)
            self.assertClose(g["Nums"][CODE_SCORE][0], want["Agatston"], what + " SR score")
            self.assertEqual(g["Nums"][CODE_VOLUME][1], "mm3", what)
            self.assertClose(g["Nums"][CODE_VOLUME][0], want["VolumeMM3"], what + " SR volume")
            if want["MassMg"] is None:
                self.assertNotIn(CODE_MASS, g["Nums"], what + ": mass without calibration")
            else:
                self.assertEqual(g["Nums"][CODE_MASS][1], "mg", what)
                self.assertClose(g["Nums"][CODE_MASS][0], want["MassMg"], what + " SR mass")
            self.assertIsNotNone(g["FindingSite"], what)
            self.assertEqual(g["FindingSite"][0], site, what)
            self.assertTrue(g["TrackingID"] and g["TrackingUID"], what)

        check_nums(totals[0], r, "totals")
        by_id = {l["ID"]: l for l in r["Lesions"]}
        for g in per_lesion:
            self.assertEqual(g["SegSOP"], seg.SOPInstanceUID)
            label = labels[g["Segment"]]
            check_nums(g, by_id[int(label.rsplit(" ", 1)[1])], label)
        return seg, sr


MAIN_PHANTOMS = {
    "t1": calcium.t1,
    "t2": lambda: calcium.t1(dz=1.5),
    "t3": calcium.t3,
    "t4": calcium.t4,
    "t5": calcium.t5,
    "qrm3": lambda: calcium.qrm_insert(dz=3.0),
    "qrm15": lambda: calcium.qrm_insert(dz=1.5),
    "zero": calcium.no_calcium,
    "mr": lambda: dict(calcium.t1(), modality="MR"),
    "retry": calcium.t5,
    "chest": calcium.heart_roi,
}


class CalciumTest(CalciumCase):
    """Whole field of view (ROI none), literature profile, c = 0.001."""
    MEDSIGHT = {"Rules": [], "Calcium": {"ROI": "none", "MassCalibration": C_MASS}}
    PHANTOMS = MAIN_PHANTOMS

    def reference(self, name, **kw):
        info = self.series[name]
        return reference_score(info["hu"], dc.written_spacing(info), c=C_MASS, **kw)

    def test_t1_three_slices(self):
        job = self.done_job("t1")
        r = job["Result"]
        self.assertResultShape(r)
        self.assertClose(r["Agatston"], 30.0, "Agatston")
        self.assertClose(r["VolumeMM3"], 45.0, "VolumeMM3")
        self.assertClose(r["MassMg"], 11.25, "MassMg")
        self.assertClose(r["SumVolumeHU"], 45.0 * 250.0, "SumVolumeHU")
        self.assertEqual(r["Category"], "11-100")
        self.assertEqual(r["LesionCount"], 1)
        lesion = r["Lesions"][0]
        self.assertEqual(lesion["Voxels"], 60)
        self.assertEqual(list(lesion["Slices"]), [1, 3])
        self.assertClose(lesion["PeakHU"], 250.0, "PeakHU")
        self.assertClose(lesion["MeanHU"], 250.0, "MeanHU")
        self.assertClose(lesion["MassMg"], 11.25, "lesion MassMg")
        for got, want in zip(lesion["Centroid"], [14.0, 11.5, 2.0]):
            self.assertClose(got, want, "Centroid")
        ref = self.reference("t1")
        pairs = self.assertMatchesReference(r, ref, self.series["t1"])
        self.check_objects("t1", job, pairs)

    def test_t2_thin_slices(self):
        job = self.done_job("t2")
        r = job["Result"]
        self.assertClose(r["Agatston"], 30.0, "Agatston")
        self.assertClose(r["VolumeMM3"], 45.0, "VolumeMM3")
        self.assertClose(r["MassMg"], 11.25, "MassMg")
        self.assertEqual(r["LesionCount"], 1)
        self.assertEqual(list(r["Lesions"][0]["Slices"]), [1, 6])
        self.assertEqual(r["Lesions"][0]["Voxels"], 120)
        pairs = self.assertMatchesReference(r, self.reference("t2"), self.series["t2"])
        self.check_objects("t2", job, pairs)

    def test_t3_below_minimum_area(self):
        job = self.done_job("t3")
        r = job["Result"]
        self.assertResultShape(r)
        self.assertEqual(r["Agatston"], 0)
        self.assertEqual(r["VolumeMM3"], 0)
        self.assertEqual(r["LesionCount"], 0)
        self.assertEqual(r["Category"], "0")

    def test_t4_weight_edges(self):
        job = self.done_job("t4")
        r = job["Result"]
        self.assertResultShape(r)
        # 129.9 excluded; 6 px * 0.25 mm^2 * (1 + 2).
        self.assertClose(r["Agatston"], 4.5, "Agatston")
        self.assertClose(r["VolumeMM3"], 9.0, "VolumeMM3")
        self.assertEqual(r["LesionCount"], 2)
        peaks = sorted(l["PeakHU"] for l in r["Lesions"])
        self.assertClose(peaks[0], 199.9, "peak w=1", abs_=1e-3)
        self.assertClose(peaks[1], 200.0, "peak w=2", abs_=1e-3)
        by_peak = sorted(r["Lesions"], key=lambda l: l["PeakHU"])
        self.assertClose(by_peak[0]["Agatston"], 1.5, "w=1 lesion")
        self.assertClose(by_peak[1]["Agatston"], 3.0, "w=2 lesion")
        pairs = self.assertMatchesReference(r, self.reference("t4"), self.series["t4"])
        self.check_objects("t4", job, pairs)

    def test_t5_diagonal_neighbours(self):
        job = self.done_job("t5")
        r = job["Result"]
        self.assertResultShape(r)
        # Two 4-px blocks (w = 2) separate; the 1-px diagonal chain dropped.
        self.assertEqual(r["LesionCount"], 2)
        self.assertClose(r["Agatston"], 4.0, "Agatston")
        self.assertClose(r["VolumeMM3"], 6.0, "VolumeMM3")
        self.assertEqual(sorted(l["Voxels"] for l in r["Lesions"]), [4, 4])
        pairs = self.assertMatchesReference(r, self.reference("t5"), self.series["t5"])
        self.check_objects("t5", job, pairs)

    def check_qrm(self, name, dz):
        job = self.done_job(name)
        r = job["Result"]
        ref = self.reference(name)
        # The insert must exercise the scorer: several lesions, some missed.
        self.assertGreaterEqual(ref["LesionCount"], 5)
        self.assertLess(ref["LesionCount"], 9)
        pairs = self.assertMatchesReference(r, ref, self.series[name])
        for got, want in pairs:
            self.assertGreater(got["VolumeMM3"], 0)
        self.assertAlmostEqual(self.series[name]["spacing"][2], dz)
        self.check_objects(name, job, pairs)

    def test_qrm_insert_3mm(self):
        self.check_qrm("qrm3", 3.0)

    def test_qrm_insert_1_5mm(self):
        self.check_qrm("qrm15", 1.5)

    def test_zero_calcium(self):
        job = self.done_job("zero")
        r = job["Result"]
        self.assertResultShape(r)
        self.assertEqual(r["Agatston"], 0)
        self.assertEqual(r["VolumeMM3"], 0)
        self.assertEqual(r["MassMg"], 0)
        self.assertEqual(r["Category"], "0")
        self.assertEqual(r["LesionCount"], 0)
        self.assertEqual(r["Lesions"], [])
        self.check_objects("zero", job)

    def test_mr_fails(self):
        job = self.node.wait_job_state(self.jobs["mr"], timeout=JOB_TIMEOUT)
        self.assertEqual(job["State"], "failed", job.get("Result"))
        self.assertIsInstance(job["Error"], str)
        self.assertIn("needs a CT series", job["Error"])
        self.assertIsNone(job["Result"])
        self.assertEqual(job["Results"], [])
        # Nothing was stored next to the MR series.
        self.assertEqual(dc.study_instance_count(self.node, self.series["mr"]["study_uid"]),
                         len(self.series["mr"]["files"]))

    def test_retry_replaces_results(self):
        node = self.node
        info = self.series["retry"]
        job = self.done_job("retry")
        before_ids = list(job["Results"])
        before_uids = [dc.read(dc.fetch_file(node, i)).SOPInstanceUID for i in before_ids]
        count = dc.study_instance_count(node, info["study_uid"])
        self.assertEqual(count, len(info["files"]) + 2)
        status, body = node.post("/medsight/jobs/%d/retry" % job["ID"])
        self.assertEqual(status, 200, body)
        again = node.wait_job_state(job["ID"], timeout=JOB_TIMEOUT)
        self.assertEqual(again["State"], "done", again.get("Error"))
        self.assertEqual(again["Trigger"], "retry")
        self.assertEqual(again["Results"], before_ids)
        after_uids = [dc.read(dc.fetch_file(node, i)).SOPInstanceUID for i in again["Results"]]
        self.assertEqual(after_uids, before_uids)
        self.assertEqual(dc.study_instance_count(node, info["study_uid"]), count)
        self.assertEqual(len(dc.qido_series(node, info["study_uid"], "SEG")), 1)
        self.assertEqual(len(dc.qido_series(node, info["study_uid"], "SR")), 1)
        self.assertEqual(again["Result"]["Agatston"], job["Result"]["Agatston"])
        self.check_objects("retry", again)

    def test_chest_without_roi_counts_spine(self):
        # The heart-ROI phantom scored over the whole field of view: the
        # spine and the table count too (the ROI test shows they go away).
        job = self.done_job("chest")
        r = job["Result"]
        ref = self.reference("chest")
        self.assertGreater(ref["LesionCount"], 1)
        pairs = self.assertMatchesReference(r, ref, self.series["chest"])
        lesion = self.series["chest"]["phantom"]["lesion"]
        self.assertTrue(any(np.array_equal(w["mask"], lesion) for _, w in pairs))
        self.check_objects("chest", job, pairs)


class CalciumCanonTest(CalciumCase):
    """Canon profile (n_pix >= 3) without a mass calibration."""
    MEDSIGHT = {"Rules": [], "Calcium": {"ROI": "none", "Profile": "canon"}}
    PHANTOMS = {"t3": calcium.t3, "t1": calcium.t1}
    MASS = 0

    def test_t3_counted_by_canon(self):
        job = self.done_job("t3")
        r = job["Result"]
        self.assertResultShape(r)
        self.assertEqual(r["LesionCount"], 1)
        self.assertClose(r["Agatston"], 3 * 0.25 * 3, "Agatston")   # 300 HU: w = 3
        self.assertClose(r["VolumeMM3"], 3 * 0.25 * 3.0, "VolumeMM3")
        self.assertEqual(r["Category"], "1-10")
        self.assertIn("canon", str(r["Parameters"]).lower())
        info = self.series["t3"]
        ref = reference_score(info["hu"], dc.written_spacing(info), min_px=3)
        pairs = self.assertMatchesReference(r, ref, info)
        self.check_objects("t3", job, pairs)

    def test_no_mass_without_calibration(self):
        job = self.done_job("t1")
        r = job["Result"]
        self.assertResultShape(r)
        self.assertIsNone(r["MassMg"])
        self.assertIsNone(r["Lesions"][0]["MassMg"])
        self.assertClose(r["SumVolumeHU"], 45.0 * 250.0, "SumVolumeHU")
        self.assertClose(r["Agatston"], 30.0, "Agatston")
        seg, sr = self.check_objects("t1", job)   # asserts no 122661 NUM anywhere
        for g in dc.sr_groups(sr):
            self.assertNotIn(CODE_MASS, g["Nums"])


class CalciumHeartRoiTest(CalciumCase):
    """Automatic heart ROI: the coronary lesion counts, the spine does not."""
    MEDSIGHT = {"Rules": [], "Calcium": {"ROI": "heart"}}
    PHANTOMS = {"chest": calcium.heart_roi}
    ROI = "heart"
    MASS = 0

    def test_heart_roi_excludes_spine(self):
        job = self.done_job("chest")
        r = job["Result"]
        info = self.series["chest"]
        self.assertResultShape(r)
        lesion = info["phantom"]["lesion"]
        # Reference restricted to the known coronary lesion's voxels.
        ref = reference_score(info["hu"], dc.written_spacing(info), roi=lesion)
        self.assertEqual(ref["LesionCount"], 1)
        self.assertClose(ref["Agatston"], 2 * 4 * 3.125 ** 2 * 3, "reference")
        pairs = self.assertMatchesReference(r, ref, info)
        self.check_objects("chest", job, pairs, site=SITE_HEART)


if __name__ == "__main__":
    unittest.main()
