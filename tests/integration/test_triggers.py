"""Early and prioritised triggers: a series Orthanc reports complete (every instance that
ImagesInAcquisition x NumberOfTemporalPositions announces, numbered 1..N) is analysed before it
is stable, and only once;
an instance arriving after that report makes the stable trigger analyse it again; the order's
RequestedProcedurePriority raises a rule's priority.

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_triggers
"""

import os
import time
import unittest

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import harness
import make_series

NZ = 8
VOXELS = NZ * 64 * 64
# Orthanc 1.10 expects ImagesInAcquisition x NumberOfTemporalPositions instances (either alone
# announces nothing), or NumberOfSlices x NumberOfTimeSlices, or CardiacNumberOfImages.
ANNOUNCE = {"ImagesInAcquisition": str(NZ), "NumberOfTemporalPositions": "1"}


def numbered(nz, extra_tags=None):
    """Per-slice overrides: InstanceNumber k+1 along z, plus extra_tags on every slice."""
    return {k: {"tags": dict(extra_tags or {}, InstanceNumber=str(k + 1))} for k in range(nz)}


def by_instance_number(files):
    return sorted(files, key=lambda f: int(pydicom.dcmread(f, stop_before_pixels=True).InstanceNumber))


def request(priority):
    item = Dataset()
    item.RequestedProcedureID = "RP1"
    item.RequestedProcedurePriority = priority
    return Sequence([item])


class TriggerTest(harness.NodeTestCase):
    STABLE_AGE = 6
    MEDSIGHT = {"Device": "cpu",
                "Rules": [{"Analysis": "histogram", "Priority": "LOW", "Match": {"Modality": "CT"}}]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tmp = cls.tmp
        # Announces exactly its NZ slices: complete with the last one.
        cls.complete = make_series.make_ct_series(
            os.path.join(tmp, "complete"), nz=NZ, seed=401,
            per_slice_overrides=numbered(NZ, ANNOUNCE))
        # Announces NZ but has NZ + 1: the last one arrives after the complete report.
        cls.late = make_series.make_ct_series(
            os.path.join(tmp, "late"), nz=NZ + 1, seed=402,
            per_slice_overrides=numbered(NZ + 1, ANNOUNCE))
        cls.stat = make_series.make_ct_series(
            os.path.join(tmp, "stat"), nz=NZ, seed=403,
            per_slice_overrides=numbered(NZ, {"RequestAttributesSequence": request("STAT")}))
        cls.medium = make_series.make_ct_series(
            os.path.join(tmp, "medium"), nz=NZ, seed=404,
            per_slice_overrides=numbered(NZ, {"RequestedProcedurePriority": "MEDIUM"}))
        node = cls.node
        node.store(cls.complete["files"])
        cls.late_files = by_instance_number(cls.late["files"])
        node.store(cls.late_files[:NZ])
        node.store(cls.stat["files"] + cls.medium["files"])

    def tearDown(self):
        self.assertAlive()

    def wait_stable(self, sid):
        harness.wait_for(lambda: self.node.get_ok("/series/%s" % sid)["IsStable"],
                         self.STABLE_AGE + 10, "series %s stable" % sid)
        time.sleep(2)  # the plugin handles StableSeries from its inbox

    def test_complete_series_runs_once_before_stable(self):
        node = self.node
        sid = node.wait_series(self.complete["series_uid"], NZ)
        job = node.wait_job(lambda j: j["State"] in ("done", "failed"), timeout=30, series=sid)
        self.assertEqual(job["State"], "done", job.get("Error"))
        self.assertEqual(job["Trigger"], "complete")
        self.assertEqual(job["Priority"], "LOW")
        self.assertHistogram(job["Result"], self.complete["hu"], self.complete["spacing"])
        # StableSeries finds nothing new since the complete report: no second run.
        self.wait_stable(sid)
        jobs = node.jobs(series=sid)
        self.assertEqual([j["ID"] for j in jobs], [job["ID"]], jobs)

    def test_instance_after_complete_report_runs_again_when_stable(self):
        node = self.node
        sid = node.wait_series(self.late["series_uid"], NZ)
        first = node.wait_job(lambda j: j["State"] in ("done", "failed"), timeout=30, series=sid)
        self.assertEqual(first["Trigger"], "complete")
        self.assertEqual(first["State"], "done", first.get("Error"))
        self.assertEqual(first["Result"]["Count"], VOXELS)
        node.store(self.late_files[NZ:])
        self.assertEqual(node.get_ok("/series/%s" % sid)["Status"], "Inconsistent")
        second = node.wait_job(lambda j: j["ID"] != first["ID"] and j["State"] in ("done", "failed"),
                               timeout=self.STABLE_AGE + 20, series=sid)
        self.assertEqual(second["State"], "done", second.get("Error"))
        self.assertEqual(second["Trigger"], "stable")
        self.assertHistogram(second["Result"], self.late["hu"], self.late["spacing"])
        self.wait_stable(sid)
        self.assertEqual(len(node.jobs(series=sid)), 2)

    def test_requested_procedure_priority_raises_rule_priority(self):
        node = self.node
        for info, want in ((self.stat, "STAT"), (self.medium, "ROUTINE")):
            with self.subTest(priority=want):
                sid = node.wait_series(info["series_uid"], NZ)
                # Nothing announces a count: the stable trigger (manual runs may share the series).
                job = node.wait_job(lambda j: j["Trigger"] == "stable" and j["State"] in ("done", "failed"),
                                    timeout=self.STABLE_AGE + 20, series=sid)
                self.assertEqual(job["State"], "done", job.get("Error"))
                self.assertEqual(job["Priority"], want)

    def test_manual_request_takes_order_priority_unless_it_names_one(self):
        node = self.node
        sid = node.wait_series(self.stat["series_uid"], NZ)
        node.wait_job(lambda j: j["Trigger"] == "stable" and j["State"] in ("done", "failed"),
                      timeout=self.STABLE_AGE + 20, series=sid)
        for body, want in (({"Analysis": "histogram"}, "STAT"),
                           ({"Analysis": "histogram", "Priority": "LOW"}, "LOW")):
            with self.subTest(body=body):
                status, out = node.post("/medsight/series/%s/analyze" % sid, body)
                self.assertEqual(status, 200, out)
                job = node.wait_job_state(out["ID"], timeout=30)
                self.assertEqual(job["State"], "done", job.get("Error"))
                self.assertEqual(job["Trigger"], "manual")
                self.assertEqual(job["Priority"], want)


if __name__ == "__main__":
    unittest.main()
