"""CT segmentation end to end: the ANALYSES.md section 3 chest phantom (0 HU
body cylinder in air, two -800 HU lung ellipsoids, 700 HU spine, 200 HU table
5 mm below the body) C-STOREd at two resolutions, the "segmentation" analysis
run through REST; the SEG it stores is fetched (REST and WADO-RS), validated
(dciodvfy, DCMTK, QIDO-RS), its bit-packed frames decoded with numpy and
compared with the analytic masks (Dice >= 0.99, table never in Body); SR
volumes equal voxel counts x voxel volume. A phantom without lungs still gives
a valid SEG with empty lung segments.

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_segmentation
"""

import os
import unittest

import numpy as np

import harness  # first: puts tests/phantoms on sys.path
import ctseg
import dicom_checks as dc
import make_series

JOB_TIMEOUT = 180
DICE_MIN = 0.99
CODE_VOLUME = "118565006"
LABELS = ["Body", "Left lung", "Right lung", "Bone"]
# SegmentedPropertyType: ANALYSES.md 4a gives 39607008 "Lung"; the laterality
# specific SCT codes 44029006 "Left lung" / 3341006 "Right lung" are as valid.
TYPE_CODES = {"Body": {"38266002"}, "Left lung": {"39607008", "44029006"},
              "Right lung": {"39607008", "3341006"}, "Lungs": {"39607008"},
              "Bone": {"3138006"}}

PHANTOMS = {
    "small": dict(nx=96, ny=96, nz=24, dz=10.0),
    "large": dict(nx=128, ny=128, nz=32, dz=7.5),
    "nolungs": dict(nx=96, ny=96, nz=24, dz=10.0, lungs=False),
}


class SegmentationTest(harness.NodeTestCase):
    MEDSIGHT = {"Rules": []}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        node = cls.node
        cls.series = {}
        files = []
        for seed, (name, geo) in enumerate(sorted(PHANTOMS.items()), start=1):
            ph = ctseg.chest(**geo)
            info = make_series.make_ct_series(
                os.path.join(cls.tmp, name), nx=geo["nx"], ny=geo["ny"], nz=geo["nz"],
                dz=geo["dz"], spacing=ph["pixel_spacing"], origin=ph["origin"],
                hu=ph["hu"], seed=5000 + seed, uid_salt=name,
                series_description="segmentation %s" % name)
            info["phantom"] = ph
            cls.series[name] = info
            files += info["files"]
        node.store(files)
        cls.jobs = {}
        for name, info in sorted(cls.series.items()):
            sid = node.wait_series(info["series_uid"], len(info["files"]))
            status, body = node.post("/medsight/series/%s/analyze" % sid,
                                     {"Analysis": "segmentation"})
            if status != 200:
                raise AssertionError("analyze %s -> %d %r" % (name, status, body))
            cls.jobs[name] = body["ID"]

    def tearDown(self):
        self.assertAlive()

    def check(self, name, lungs=True):
        """Runs every check on one phantom's job; returns the decoded masks by label."""
        node = self.node
        info = self.series[name]
        ph = info["phantom"]
        job = node.wait_job_state(self.jobs[name], timeout=JOB_TIMEOUT)
        self.assertEqual(job["State"], "done", "%s: %s" % (name, job.get("Error")))
        self.assertEqual(job["Analysis"], "segmentation")
        r = job["Result"]
        for key in ("Segments", "LungsFused", "AirwayRemoved", "Device", "GpuMs"):
            self.assertIn(key, r)
        self.assertIs(r["LungsFused"], False)
        self.assertIsInstance(r["AirwayRemoved"], bool)
        self.assertIsInstance(r["Device"], str)
        self.assertGreaterEqual(r["GpuMs"], 0)
        self.assertEqual([s["Label"] for s in r["Segments"]], LABELS)

        self.assertEqual(len(job["Results"]), 2, job["Results"])
        seg_id, sr_id = job["Results"]
        seg, _, _ = dc.check_result_object(node, seg_id, info["study_uid"], "SEG")
        sr, _, dump = dc.check_result_object(node, sr_id, info["study_uid"], "SR")

        # SEG: header, segment codes, one frame per non-empty (segment, slice)
        # (one frame for an empty segment), masks against the analytic truth.
        dc.check_seg_header(seg, 9011)
        labels = dc.seg_segments(seg)
        self.assertEqual(sorted(labels.values()), sorted(LABELS))
        for item in seg.SegmentSequence:
            code = str(item.SegmentedPropertyTypeCodeSequence[0].CodeValue)
            self.assertIn(code, TYPE_CODES[str(item.SegmentLabel)], item.SegmentLabel)
        hu = info["hu"]
        decoded = dc.seg_masks(seg, info["positions"], hu.shape)
        masks = {labels[n]: m for n, m in decoded.items()}
        nframes = sum(max(int(np.any(m, axis=(1, 2)).sum()), 1) for m in masks.values())
        self.assertEqual(int(seg.NumberOfFrames), nframes)
        truth = ph["masks"]
        self.assertFalse((masks["Body"] & truth["Table"]).any(), "table voxels in Body")
        for label in LABELS:
            got, want = masks[label], truth[label]
            if not want.any():
                self.assertFalse(got.any(), "%s should be empty" % label)
                continue
            d = ctseg.dice(got, want)
            self.assertGreaterEqual(d, DICE_MIN, "%s %s: Dice %.4f (got %d voxels, want %d)"
                                    % (name, label, d, int(got.sum()), int(want.sum())))
        # Left is patient left (+x): the lung at larger column indices.
        if lungs:
            cols = np.arange(hu.shape[2])
            left_x = (masks["Left lung"].sum(axis=(0, 1)) * cols).sum() / masks["Left lung"].sum()
            right_x = (masks["Right lung"].sum(axis=(0, 1)) * cols).sum() / masks["Right lung"].sum()
            self.assertGreater(left_x, right_x, "left and right lungs swapped")

        # Result volumes = SEG voxel counts x voxel volume; Empty flags.
        dx, dy, dz = dc.written_spacing(info)
        voxel_ml = dx * dy * dz / 1000.0
        by_number = {}
        for s in r["Segments"]:
            self.assertEqual(labels[s["Number"]], s["Label"])
            n = int(masks[s["Label"]].sum())
            self.assertAlmostEqual(s["VolumeMl"], n * voxel_ml,
                                   delta=1e-6 * max(1.0, n * voxel_ml), msg=s["Label"])
            self.assertIs(s["Empty"], n == 0, s["Label"])
            by_number[s["Number"]] = s

        # SR: TID 1500, one group per segment, Volume (ml) equal to the Result.
        dc.check_sr_header(sr, 9012)
        self.assertIn("1500", dump)
        self.assertIn("Volume", dump)
        groups = dc.sr_groups(sr)
        self.assertEqual(len(groups), len(r["Segments"]))
        self.assertEqual(sorted(g["Segment"] for g in groups), sorted(by_number))
        for g in groups:
            s = by_number[g["Segment"]]
            self.assertEqual(g["SegSOP"], seg.SOPInstanceUID)
            value, unit = g["Nums"][CODE_VOLUME]
            self.assertEqual(unit, "ml", s["Label"])
            self.assertAlmostEqual(value, s["VolumeMl"],
                                   delta=1e-6 * max(1.0, s["VolumeMl"]), msg=s["Label"])
            self.assertTrue(g["TrackingID"] and g["TrackingUID"], s["Label"])
        return masks, r

    def test_small_96(self):
        self.check("small")

    def test_large_128(self):
        self.check("large")

    def test_no_lungs_empty_segments(self):
        masks, r = self.check("nolungs", lungs=False)
        empty = {s["Label"]: s["Empty"] for s in r["Segments"]}
        self.assertEqual(empty, {"Body": False, "Left lung": True, "Right lung": True,
                                 "Bone": False})
        for s in r["Segments"]:
            if s["Empty"]:
                self.assertEqual(s["VolumeMl"], 0)


if __name__ == "__main__":
    unittest.main()
