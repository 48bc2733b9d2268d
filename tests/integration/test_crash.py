"""Crash safety: SIGKILL Orthanc while a job runs, or before a series is
stable, restart on the same storage; every job must end done exactly once.

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_crash
"""

import os
import time
import unittest

import harness
import make_series


class CrashTest(harness.NodeTestCase):
    STABLE_AGE = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big_ct = make_series.make_ct_series(
            os.path.join(cls.tmp, "big_ct"), seed=800, nx=256, ny=256, nz=120,
            uid_salt="crash-ct")
        # MR is not matched by the CT rule: round 2's job is manual only.
        cls.big_mr = make_series.make_ct_series(
            os.path.join(cls.tmp, "big_mr"), seed=801, nx=256, ny=256, nz=120,
            modality="MR", uid_salt="crash-mr")
        cls.small = make_series.make_ct_series(
            os.path.join(cls.tmp, "pending"), seed=802, uid_salt="pending")

    def tearDown(self):
        self.assertAlive()

    def wait_running(self, job_id, timeout):
        """Poll fast until the job is running; fail if it ends first."""
        def probe():
            j = self.node.job(job_id)
            self.assertNotIn(j["State"], ("done", "failed", "cancelled"),
                             "job ended before it could be killed while running")
            return j["State"] == "running"
        harness.wait_for(probe, timeout, "job %d running" % job_id, poll=0.005)

    def assertRecovered(self, sid, job_id, info, attempts):
        node = self.node
        job = node.wait_job_state(job_id, ("done", "failed", "cancelled"), timeout=90)
        self.assertEqual(job["State"], "done", job.get("Error"))
        self.assertEqual(job["Attempts"], attempts)
        self.assertHistogram(job["Result"], info["hu"], info["spacing"])
        # Give a buggy recovery a moment to create a duplicate, then count.
        time.sleep(self.STABLE_AGE + 2)
        jobs = [j for j in node.jobs(series=sid) if j["Analysis"] == "histogram"]
        self.assertEqual([j["ID"] for j in jobs], [job_id])
        return job

    def test_1_kill_during_stable_job(self):
        node = self.node
        node.store(self.big_ct["files"])
        sid = node.wait_series(self.big_ct["series_uid"], 120)
        job = node.wait_job(timeout=self.STABLE_AGE + 10, poll=0.02, series=sid)
        self.assertEqual(job["Trigger"], "stable")
        self.wait_running(job["ID"], 30)
        node.restart(kill=True)
        self.assertRecovered(sid, job["ID"], self.big_ct, attempts=2)

    def test_2_kill_during_manual_job(self):
        node = self.node
        node.store(self.big_mr["files"])
        sid = node.wait_series(self.big_mr["series_uid"], 120)
        status, body = node.post("/medsight/series/%s/analyze" % sid,
                                 {"Analysis": "histogram", "Priority": "HIGH"})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["Created"])
        self.wait_running(body["ID"], 30)
        node.restart(kill=True)
        job = self.assertRecovered(sid, body["ID"], self.big_mr, attempts=2)
        self.assertEqual(job["Priority"], "HIGH")

    def test_3_kill_before_stable(self):
        node = self.node
        node.store(self.small["files"])
        # storescu has returned: every instance is in Orthanc, none stable yet.
        node.restart(kill=True)
        sid = node.series_id(self.small["series_uid"])
        self.assertIsNotNone(sid)
        self.assertEqual(len(node.get_ok("/series/%s" % sid)["Instances"]),
                         len(self.small["files"]))
        job = node.wait_job(timeout=self.STABLE_AGE + 15, series=sid)
        self.assertRecovered(sid, job["ID"], self.small, attempts=1)

    def test_4_clean_restart_keeps_history(self):
        """A graceful stop/start keeps every job and creates none."""
        node = self.node
        before = {j["ID"]: j["State"] for j in node.jobs(limit=1000)}
        node.restart()
        time.sleep(self.STABLE_AGE + 2)
        after = {j["ID"]: j["State"] for j in node.jobs(limit=1000)}
        self.assertEqual(after, before)


if __name__ == "__main__":
    unittest.main()
