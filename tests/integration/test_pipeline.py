"""End to end: C-STORE a phantom -> stable trigger -> histogram job on the
Vulkan device -> REST result equal to numpy; DICOMweb sees the study; broken
geometry fails cleanly; rules do not match MR.

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_pipeline
"""

import os
import time
import unittest

import harness
import make_series

VARIANTS = ["mixed_orientation", "duplicate_position", "missing_slice",
            "gantry_tilt", "mixed_size", "missing_ipp", "single_slice"]
JOB_KEYS = {"ID", "Analysis", "Priority", "State", "Progress", "SeriesId",
            "Trigger", "Attempts", "Error", "Results", "Result", "CreatedAt",
            "StartedAt", "FinishedAt", "QueueWaitMs", "RunMs"}


class PipelineTest(harness.NodeTestCase):
    STABLE_AGE = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        node = cls.node
        # The good phantom goes first: its stable deadline is measured from here.
        cls.ct = make_series.make_ct_series(os.path.join(cls.tmp, "ct"), seed=1)
        node.store(cls.ct["files"])
        cls.ct_stored_at = time.monotonic()
        cls.variants = {}
        for i, v in enumerate(VARIANTS):
            cls.variants[v] = make_series.make_variant(
                os.path.join(cls.tmp, v), v, seed=100 + i)
        node.store(f for v in VARIANTS for f in cls.variants[v]["files"])
        cls.mr = make_series.make_variant(os.path.join(cls.tmp, "mr"), "mr", seed=200)
        node.store(cls.mr["files"])
        cls.manual = make_series.make_ct_series(os.path.join(cls.tmp, "manual"),
                                                seed=300, nz=12, dz=1.25)

    def tearDown(self):
        self.assertAlive()

    def assertJobShape(self, job):
        self.assertTrue(JOB_KEYS <= set(job), "missing keys %s" % (JOB_KEYS - set(job)))
        self.assertIsInstance(job["ID"], int)
        self.assertIsInstance(job["Attempts"], int)
        self.assertIsInstance(job["Results"], list)

    def assertDoneJob(self, job):
        self.assertJobShape(job)
        self.assertEqual(job["State"], "done", job.get("Error"))
        self.assertIsNone(job["Error"])
        self.assertEqual(job["Analysis"], "histogram")
        self.assertEqual(job["Results"], [])  # histogram stores no DICOM
        self.assertAlmostEqual(job["Progress"], 1.0)
        created = harness.parse_time(job["CreatedAt"])
        started = harness.parse_time(job["StartedAt"])
        finished = harness.parse_time(job["FinishedAt"])
        self.assertLessEqual(created, started)
        self.assertLessEqual(started, finished)
        self.assertGreaterEqual(job["QueueWaitMs"], 0)
        self.assertGreaterEqual(job["RunMs"], 0)

    def test_stable_trigger_histogram(self):
        node = self.node
        sid = node.wait_series(self.ct["series_uid"], len(self.ct["files"]))
        deadline = self.ct_stored_at + self.STABLE_AGE + 10
        job = node.wait_job(lambda j: j["State"] in ("done", "failed"),
                            timeout=max(deadline - time.monotonic(), 0.5),
                            series=sid)
        self.assertDoneJob(job)
        self.assertEqual(job["SeriesId"], sid)
        self.assertEqual(job["Trigger"], "stable")
        self.assertEqual(job["Priority"], "ROUTINE")
        self.assertEqual(job["Attempts"], 1)
        self.assertHistogram(job["Result"], self.ct["hu"], self.ct["spacing"])
        # The single-job endpoint returns the same object; the rule made one job.
        self.assertEqual(node.job(job["ID"])["Result"], job["Result"])
        self.assertEqual(len(node.jobs(series=sid)), 1)

    def test_dicomweb_qido_wado(self):
        node = self.node
        node.wait_series(self.ct["series_uid"], len(self.ct["files"]))
        status, studies = node.get("/dicom-web/studies",
                                   {"StudyInstanceUID": self.ct["study_uid"]})
        self.assertEqual(status, 200)
        self.assertEqual(len(studies), 1)
        self.assertEqual(studies[0]["0020000D"]["Value"], [self.ct["study_uid"]])
        status, meta = node.get("/dicom-web/studies/%s/series/%s/metadata"
                                % (self.ct["study_uid"], self.ct["series_uid"]))
        self.assertEqual(status, 200)
        self.assertEqual(len(meta), len(self.ct["files"]))
        for inst in meta:
            self.assertEqual(inst["00280010"]["Value"], [64])  # Rows
            self.assertEqual(inst["00080060"]["Value"], ["CT"])

    def test_manual_stat(self):
        node = self.node
        node.upload(self.manual["files"])
        sid = node.series_id(self.manual["series_uid"])
        self.assertIsNotNone(sid)
        status, body = node.post("/medsight/series/%s/analyze" % sid,
                                 {"Analysis": "histogram", "Priority": "STAT"})
        self.assertEqual(status, 200, body)
        self.assertIsInstance(body["ID"], int)
        self.assertTrue(body["Created"])
        job = node.wait_job_state(body["ID"], timeout=30)
        self.assertDoneJob(job)
        self.assertEqual(job["Trigger"], "manual")
        self.assertEqual(job["Priority"], "STAT")
        self.assertEqual(job["SeriesId"], sid)
        self.assertHistogram(job["Result"], self.manual["hu"], self.manual["spacing"])
        self.assertAlmostEqual(job["Result"]["Spacing"][2], 1.25, places=4)

    def test_broken_geometry_fails(self):
        node = self.node
        for v in VARIANTS:
            with self.subTest(variant=v):
                info = self.variants[v]
                sid = node.wait_series(info["series_uid"], len(info["files"]))
                job = node.wait_job(lambda j: j["State"] in ("done", "failed"),
                                    timeout=self.STABLE_AGE + 15, series=sid)
                self.assertJobShape(job)
                self.assertEqual(job["State"], "failed",
                                 "%s: %r" % (v, job.get("Result")))
                self.assertIsInstance(job["Error"], str)
                self.assertIn(info["phrase"], job["Error"])
                self.assertIsNone(job["Result"])
                self.assertIsNotNone(job["FinishedAt"])
                self.assertAlive()

    def test_mr_not_matched_then_manual(self):
        node = self.node
        sid = node.wait_series(self.mr["series_uid"], len(self.mr["files"]))
        # Orthanc reports stability itself; give the plugin a few seconds more.
        harness.wait_for(lambda: node.get_ok("/series/%s" % sid)["IsStable"],
                         self.STABLE_AGE + 5, "MR series stable")
        time.sleep(3)
        self.assertEqual(node.jobs(series=sid), [])
        status, body = node.post("/medsight/series/%s/analyze" % sid,
                                 {"Analysis": "histogram"})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["Created"])
        job = node.wait_job_state(body["ID"], timeout=30)
        self.assertDoneJob(job)
        self.assertEqual(job["Priority"], "ROUTINE")
        self.assertEqual(job["Trigger"], "manual")
        self.assertHistogram(job["Result"], self.mr["hu"], self.mr["spacing"])


if __name__ == "__main__":
    unittest.main()
