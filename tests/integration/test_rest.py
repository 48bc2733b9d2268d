"""MedSight REST contract: status shape and counts, job listing filters,
every documented error code, retry/cancel transitions.

The rule matches only PT, so every job here is created by the test itself
and the counts are exact. Queued jobs are obtained by stacking a burst of
manual jobs behind one slow job (one worker runs them in priority order).

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_rest
"""

import os
import unittest

import harness
import make_series

STATES = ("queued", "running", "done", "failed", "cancelled")
PRIORITIES = ("STAT", "HIGH", "ROUTINE", "LOW")
BURST = 8


class RestTest(harness.NodeTestCase):
    MEDSIGHT = {"Rules": [{"Analysis": "histogram", "Priority": "LOW",
                           "Match": {"Modality": "PT"}}]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        node = cls.node
        # One slow series heads each burst; small ones queue behind it.
        cls.big = make_series.make_ct_series(os.path.join(cls.tmp, "big"), seed=500,
                                             nx=256, ny=256, nz=120, uid_salt="big")
        node.upload(cls.big["files"])
        cls.big_sid = node.series_id(cls.big["series_uid"])
        cls.small = []
        for i in range(BURST):
            info = make_series.make_ct_series(os.path.join(cls.tmp, "s%d" % i),
                                              seed=600 + i, nx=32, ny=32, nz=8)
            node.upload(info["files"])
            info["sid"] = node.series_id(info["series_uid"])
            cls.small.append(info)
        cls.single = make_series.make_variant(os.path.join(cls.tmp, "single"),
                                              "single_slice", seed=700)
        node.upload(cls.single["files"])
        cls.single_sid = node.series_id(cls.single["series_uid"])

    def tearDown(self):
        self.assertAlive()

    def analyze(self, sid, body, want=200):
        status, out = self.node.post("/medsight/series/%s/analyze" % sid, body)
        self.assertEqual(status, want, out)
        if want != 200:
            self.assertIsInstance(out, dict)
            self.assertIsInstance(out.get("Error"), str, out)
        return out

    def assertError(self, result, status):
        self.assertEqual(result[0], status, result[1])
        self.assertIsInstance(result[1], dict, result[1])
        self.assertIsInstance(result[1].get("Error"), str, result[1])

    def settle(self, timeout=90):
        """Wait until no job is queued or running."""
        harness.wait_for(lambda: not self.node.jobs(state="queued")
                         and not self.node.jobs(state="running"),
                         timeout, "queue to drain")

    # -- errors ---------------------------------------------------------------

    def test_status_shape(self):
        st = self.node.get_ok("/medsight/status")
        self.assertEqual(st["Version"], "0.1.0")
        self.assertIsInstance(st["Device"]["Name"], str)
        self.assertTrue(st["Device"]["Name"])
        self.assertIn(st["Device"]["Type"],
                      ("cpu", "discrete", "integrated", "virtual", "other"))
        self.assertEqual(set(st["Jobs"]), set(STATES))
        self.assertEqual(set(st["QueuedByPriority"]), set(PRIORITIES))
        for v in list(st["Jobs"].values()) + list(st["QueuedByPriority"].values()):
            self.assertIsInstance(v, int)
            self.assertGreaterEqual(v, 0)
        self.assertEqual(sum(st["QueuedByPriority"].values()), st["Jobs"]["queued"])
        self.assertGreater(st["MemoryBudgetMB"], 0)
        self.assertGreaterEqual(st["MemoryUsedMB"], 0)
        self.assertGreaterEqual(st["Workers"], 1)

    def test_list_bad_query(self):
        for q in ({"state": "bogus"}, {"state": ""}, {"limit": "abc"},
                  {"limit": "-1"}, {"limit": "1.5"}):
            with self.subTest(query=q):
                self.assertError(self.node.get("/medsight/jobs", q), 400)

    def test_job_unknown_or_bad_id(self):
        node = self.node
        self.assertError(node.get("/medsight/jobs/987654321"), 404)
        self.assertError(node.get("/medsight/jobs/abc"), 400)
        self.assertError(node.get("/medsight/jobs/1x"), 400)
        self.assertError(node.post("/medsight/jobs/987654321/retry"), 404)
        self.assertError(node.delete("/medsight/jobs/987654321"), 404)

    def test_analyze_bad_bodies(self):
        sid = self.small[0]["sid"]
        before = len(self.node.jobs(series=sid))
        bodies = ["{", "", "null", "[1, 2]", "\"histogram\"", "42",
                  {"Analysis": "nope"}, {"Analysis": 7}, {},
                  {"Analysis": "histogram", "Priority": "URGENT"},
                  {"Analysis": "histogram", "Priority": 1},
                  {"Analysis": "histogram", "Colour": "red"},
                  b"\xff\xfe\x00garbage"]
        for body in bodies:
            with self.subTest(body=body):
                self.analyze(sid, body, want=400)
        self.analyze("0000000-does-not-exist", {"Analysis": "histogram"}, want=404)
        # None of the rejected requests may have created a job.
        self.assertEqual(len(self.node.jobs(series=sid)), before)

    # -- transitions -----------------------------------------------------------

    def test_burst_cancel_retry_priority(self):
        node = self.node
        head = self.analyze(self.big_sid, {"Analysis": "histogram", "Priority": "LOW"})
        self.assertTrue(head["Created"])
        low = [self.analyze(s["sid"], {"Analysis": "histogram", "Priority": "LOW"})
               for s in self.small[:BURST - 1]]
        stat = self.analyze(self.small[BURST - 1]["sid"],
                            {"Analysis": "histogram", "Priority": "STAT"})
        last = low[-1]["ID"]
        # Snapshot: counts are consistent within one answer.
        st = node.get_ok("/medsight/status")
        self.assertEqual(sum(st["QueuedByPriority"].values()), st["Jobs"]["queued"])
        # Same series + analysis while queued: the existing job comes back.
        again = self.analyze(self.small[BURST - 2]["sid"],
                             {"Analysis": "histogram", "Priority": "LOW"})
        self.assertFalse(again["Created"])
        self.assertEqual(again["ID"], last)
        # A queued (or at worst running) job cannot be retried.
        self.assertError(node.post("/medsight/jobs/%d/retry" % low[-2]["ID"]), 409)
        # Cancel the last LOW job: it is far behind the slow head job.
        status, body = node.delete("/medsight/jobs/%d" % last)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["ID"], last)
        if body["State"] == "running":
            self.assertTrue(body["CancelRequested"])
        else:
            self.assertEqual(body["State"], "cancelled")
        self.settle()
        cancelled = node.job(last)
        self.assertEqual(cancelled["State"], "cancelled")
        self.assertIsNone(cancelled["Result"])
        self.assertError(node.delete("/medsight/jobs/%d" % last), 409)
        # STAT overtook every LOW job that was still waiting when it arrived
        # (the head may already have been running).
        stat_job = node.job(stat["ID"])
        self.assertEqual(stat_job["State"], "done")
        self.assertEqual(stat_job["Priority"], "STAT")
        later = [node.job(j["ID"]) for j in low[1:-1]]
        for j in later:
            self.assertEqual(j["State"], "done", j.get("Error"))
            self.assertLessEqual(harness.parse_time(stat_job["StartedAt"]),
                                 harness.parse_time(j["StartedAt"]))
        # A done job: cancel -> 409, retry -> queued, runs again (Attempts 2).
        done_id = low[0]["ID"]
        self.assertError(node.delete("/medsight/jobs/%d" % done_id), 409)
        status, body = node.post("/medsight/jobs/%d/retry" % done_id)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["ID"], done_id)
        with self.subTest("retry answers State queued"):
            self.assertEqual(body["State"], "queued")
        job = node.wait_job_state(done_id, ("done", "failed"), timeout=30)
        self.assertEqual(job["State"], "done", job.get("Error"))
        # A retry starts a fresh run: the attempt counter restarts (storage/queue.h).
        self.assertEqual(job["Attempts"], 1)
        self.assertEqual(job["Trigger"], "retry")
        self.assertHistogram(job["Result"], self.small[0]["hu"], self.small[0]["spacing"])
        # A cancelled job may be retried and then completes normally.
        status, body = node.post("/medsight/jobs/%d/retry" % last)
        self.assertEqual(status, 200, body)
        with self.subTest("retry answers State queued"):
            self.assertEqual(body["State"], "queued")
        job = node.wait_job_state(last, ("done", "failed"), timeout=30)
        self.assertEqual(job["State"], "done", job.get("Error"))
        info = self.small[BURST - 2]
        self.assertHistogram(job["Result"], info["hu"], info["spacing"])

    def test_failed_retry_and_counts(self):
        node = self.node
        out = self.analyze(self.single_sid, {"Analysis": "histogram", "Priority": "HIGH"})
        job = node.wait_job_state(out["ID"], timeout=60)
        self.assertEqual(job["State"], "failed")
        self.assertIn("only 1 slice", job["Error"])
        self.assertEqual(job["Attempts"], 1)
        self.assertError(node.delete("/medsight/jobs/%d" % out["ID"]), 409)
        status, body = node.post("/medsight/jobs/%d/retry" % out["ID"])
        self.assertEqual(status, 200, body)
        self.assertEqual(body["ID"], out["ID"])
        with self.subTest("retry answers State queued"):
            self.assertEqual(body["State"], "queued")
        job = node.wait_job_state(out["ID"], ("done", "failed"), timeout=60)
        self.assertEqual(job["State"], "failed")
        self.assertIn("only 1 slice", job["Error"])
        self.assertEqual(job["Attempts"], 1)
        self.assertEqual(job["Trigger"], "retry")
        self.settle()
        # Status counts agree with the filtered listings; listing is newest first.
        st = node.get_ok("/medsight/status")
        everything = node.jobs(limit=1000)
        self.assertEqual(sum(st["Jobs"].values()), len(everything))
        for s in STATES:
            listed = node.jobs(state=s, limit=1000)
            self.assertEqual(st["Jobs"][s], len(listed), s)
            self.assertTrue(all(j["State"] == s for j in listed))
        self.assertEqual(st["Jobs"]["queued"], 0)
        self.assertEqual(st["Jobs"]["running"], 0)
        self.assertEqual(sum(st["QueuedByPriority"].values()), 0)
        ids = [j["ID"] for j in everything]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(len(node.jobs(limit=1)), 1)
        self.assertEqual(node.jobs(limit=1)[0]["ID"], ids[0])
        mine = node.jobs(series=self.single_sid)
        self.assertEqual([j["ID"] for j in mine], [out["ID"]])


if __name__ == "__main__":
    unittest.main()
