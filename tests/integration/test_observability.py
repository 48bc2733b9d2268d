"""Observability: performance records (/medsight/perf, /medsight/perf/summary), Prometheus
metrics, Orthanc's Jobs page, and the MedSight UI (/medsight/ui, rendered by headless
Chromium, plus the Orthanc Explorer extension).

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_observability
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
import make_series

STAGES_DONE = {"queue_wait", "decode", "compute", "gpu", "store", "total"}


def nearest_rank(values, p):
    """Nearest-rank percentile: the smallest value with at least p% of values <= it."""
    v = sorted(values)
    for i, x in enumerate(v):
        if (i + 1) * 100 >= p * len(v):
            return x
    return v[-1]


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class ObservabilityTest(harness.NodeTestCase):
    # No rules: jobs are made through REST only, so the test knows every job.
    MEDSIGHT = {"Rules": []}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        node = cls.node
        cls.ct = make_series.make_ct_series(os.path.join(cls.tmp, "ct"), seed=41, nz=12)
        node.upload(cls.ct["files"])
        cls.sid = node.series_id(cls.ct["series_uid"])
        cls.bad = make_series.make_variant(os.path.join(cls.tmp, "bad"), "missing_slice", seed=42)
        node.upload(cls.bad["files"])
        cls.bad_sid = node.series_id(cls.bad["series_uid"])
        cls.t_before = time.time() - 1
        cls.jobs = {}
        for key, sid in (("done", cls.sid), ("failed", cls.bad_sid)):
            status, body = node.post("/medsight/series/%s/analyze" % sid, {"Analysis": "histogram"})
            if status != 200:
                raise AssertionError("analyze %s -> %d %r" % (key, status, body))
            cls.jobs[key] = node.wait_job_state(body["ID"], timeout=60)

    def tearDown(self):
        self.assertAlive()

    def perf(self, **query):
        return self.node.get_ok("/medsight/perf", query or None)

    def test_jobs_ended_as_expected(self):
        self.assertEqual(self.jobs["done"]["State"], "done", self.jobs["done"].get("Error"))
        self.assertEqual(self.jobs["failed"]["State"], "failed")

    def test_perf_records_of_done_job(self):
        job = self.jobs["done"]
        rows = [r for r in self.perf(analysis="histogram") if r["JobID"] == job["ID"]]
        stages = {r["Stage"]: r for r in rows}
        self.assertTrue(STAGES_DONE <= set(stages), "stages %s" % sorted(stages))
        self.assertEqual(len(rows), len(stages), "one row per stage")
        nvox = 64 * 64 * 12
        self.assertEqual(stages["decode"]["Voxels"], nvox)
        self.assertEqual(stages["decode"]["Bytes"], nvox * 4)
        self.assertAlmostEqual(stages["gpu"]["Ms"], job["Result"]["GpuMs"], places=6)
        self.assertAlmostEqual(stages["queue_wait"]["Ms"], job["QueueWaitMs"], delta=0.01)
        for r in rows:
            self.assertEqual(r["Analysis"], "histogram")
            self.assertEqual(r["Priority"], "ROUTINE")
            self.assertEqual(r["Outcome"], "done")
            self.assertGreaterEqual(r["Ms"], 0)
            self.assertEqual(r["Device"], job["Result"]["Device"])
            self.assertIsInstance(r["Version"], str)
            started = harness.parse_time(r["StartedAt"]).timestamp()
            self.assertAlmostEqual(started, r["StartedAtUnix"], delta=0.002)
        # Stages happen in order and fit in the run.
        self.assertLessEqual(stages["decode"]["StartedAtUnix"], stages["compute"]["StartedAtUnix"])
        self.assertLessEqual(stages["compute"]["StartedAtUnix"], stages["store"]["StartedAtUnix"])
        parts = stages["decode"]["Ms"] + stages["compute"]["Ms"] + stages["store"]["Ms"]
        self.assertLessEqual(parts, stages["total"]["Ms"] + 0.01)
        self.assertLessEqual(stages["gpu"]["Ms"], stages["compute"]["Ms"] + 0.01)
        self.assertLessEqual(stages["total"]["Ms"], job["RunMs"] + 50)

    def test_perf_records_of_failed_job(self):
        job = self.jobs["failed"]
        rows = [r for r in self.perf() if r["JobID"] == job["ID"]]
        stages = {r["Stage"] for r in rows}
        self.assertIn("queue_wait", stages)
        self.assertIn("total", stages)
        self.assertNotIn("store", stages)  # it failed while loading
        for r in rows:
            self.assertEqual(r["Outcome"], "failed")

    def test_perf_filters_and_errors(self):
        node = self.node
        all_rows = self.perf()
        self.assertGreaterEqual(len(all_rows), 8)
        ids = [r["ID"] for r in all_rows]
        self.assertEqual(ids, sorted(ids, reverse=True), "newest first")
        self.assertEqual(len(self.perf(limit=3)), 3)
        self.assertEqual(self.perf(analysis="calcium"), [])
        self.assertEqual(self.perf(since=str(int(time.time()) + 3600)), [])
        self.assertEqual(len(self.perf(since=str(int(self.t_before)))), len(all_rows))
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.t_before))
        self.assertEqual(len(self.perf(since=iso)), len(all_rows))
        future = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 3600))
        self.assertEqual(self.perf(since=future), [])
        for query, phrase in (({"since": "yesterday"}, "since must be"),
                              ({"since": "2026-13-01"}, "since must be"),
                              ({"analysis": "bogus"}, "unknown analysis"),
                              ({"limit": "0"}, "limit must be"),
                              ({"limit": "x"}, "limit must be")):
            for path in ("/medsight/perf", "/medsight/perf/summary"):
                if path.endswith("summary") and "limit" in query:
                    continue
                with self.subTest(path=path, query=query):
                    status, body = node.get(path, query)
                    self.assertEqual(status, 400, body)
                    self.assertIn(phrase, body["Error"])
        status, _ = node.post("/medsight/perf", {})
        self.assertEqual(status, 405)

    def test_summary_matches_records(self):
        rows = self.perf(analysis="histogram")
        summary = self.node.get_ok("/medsight/perf/summary", {"analysis": "histogram"})
        self.assertTrue(summary)
        groups = {}
        for r in rows:
            groups.setdefault(r["Stage"], []).append(r)
        self.assertEqual({s["Stage"] for s in summary}, set(groups))
        for s in summary:
            with self.subTest(stage=s["Stage"]):
                self.assertEqual(s["Analysis"], "histogram")
                vals = [r["Ms"] for r in groups[s["Stage"]]]
                self.assertEqual(s["Count"], len(vals))
                self.assertEqual(s["P50Ms"], nearest_rank(vals, 50))
                self.assertEqual(s["P95Ms"], nearest_rank(vals, 95))
                self.assertEqual(s["MaxMs"], max(vals))
                newest = max(groups[s["Stage"]], key=lambda r: r["ID"])
                self.assertEqual(s["LastMs"], newest["Ms"])
        total = [s for s in summary if s["Stage"] == "total"][0]
        self.assertEqual(total["Count"], 2)  # the done and the failed run
        # Unfiltered summary has the same histogram groups; a future since has none.
        everything = self.node.get_ok("/medsight/perf/summary")
        self.assertEqual(len(everything), len(summary))
        self.assertEqual(self.node.get_ok("/medsight/perf/summary",
                                          {"since": str(int(time.time()) + 3600)}), [])

    def metrics(self):
        status, text = self.node.get("/tools/metrics-prometheus")
        self.assertEqual(status, 200)
        values = {}
        for line in text.splitlines():
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(\S+)", line)
            if m:
                values[m.group(1)] = float(m.group(2))
        return values

    def test_prometheus_metrics(self):
        want = ["medsight_queue_depth_stat", "medsight_queue_depth_high", "medsight_queue_depth_routine",
                "medsight_queue_depth_low", "medsight_jobs_done_total", "medsight_jobs_failed_total",
                "medsight_job_seconds_last_histogram", "medsight_job_seconds_p95_histogram",
                "medsight_memory_budget_used_bytes", "medsight_gpu_memory_bytes"]
        values = harness.wait_for(lambda: (lambda v: v if all(k in v for k in want) else None)(self.metrics()),
                                  15, "MedSight metrics")
        self.assertGreaterEqual(values["medsight_jobs_done_total"], 1)
        self.assertGreaterEqual(values["medsight_jobs_failed_total"], 1)
        for prio in ("stat", "high", "routine", "low"):
            self.assertEqual(values["medsight_queue_depth_" + prio], 0)
        summary = self.node.get_ok("/medsight/perf/summary", {"analysis": "histogram"})
        total = [s for s in summary if s["Stage"] == "total"][0]
        self.assertAlmostEqual(values["medsight_job_seconds_p95_histogram"], total["P95Ms"] / 1000,
                               delta=1e-3 + 1e-6 * total["P95Ms"])
        self.assertAlmostEqual(values["medsight_job_seconds_last_histogram"], total["LastMs"] / 1000,
                               delta=1e-3 + 1e-6 * total["LastMs"])
        self.assertGreater(values["medsight_memory_budget_used_bytes"], 0)  # the volume stays cached
        self.assertGreaterEqual(values["medsight_gpu_memory_bytes"], 0)

    def test_orthanc_jobs_page(self):
        node = self.node

        def mirrored():
            jobs = node.get_ok("/jobs", {"expand": ""})
            found = {}
            for j in jobs:
                c = j.get("Content") or {}
                if j.get("Type") == "MedSight" and "MedSightJob" in c:
                    found[c["MedSightJob"]] = j
            ok = all(found.get(self.jobs[k]["ID"], {}).get("State") in ("Success", "Failure")
                     for k in ("done", "failed"))
            return found if ok else None
        found = harness.wait_for(mirrored, 15, "MedSight jobs in Orthanc's Jobs")
        done = found[self.jobs["done"]["ID"]]
        self.assertEqual(done["State"], "Success")
        self.assertEqual(done["Progress"], 100)
        self.assertEqual(done["Content"]["Analysis"], "histogram")
        self.assertEqual(done["Content"]["SeriesId"], self.sid)
        failed = found[self.jobs["failed"]["ID"]]
        self.assertEqual(failed["State"], "Failure")
        self.assertIn("slice", failed["Content"]["Error"])

    def test_ui_page_and_explorer_extension(self):
        status, html = self.node.get("/medsight/ui")
        self.assertEqual(status, 200)
        self.assertIn('id="medsight-app"', html)
        self.assertIn("perf/summary", html)
        status, js = self.node.get("/plugins/explorer.js")
        self.assertEqual(status, 200)
        self.assertIn("MedSight results", js)
        self.assertIn("medsight-button", js)

    def run_chromium(self, url, *extra):
        chromium = find_chromium()
        if chromium is None:
            self.skipTest("chromium is not installed (bash scripts/deps.sh --test installs it)")
        profile = tempfile.mkdtemp(prefix="ms-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--user-data-dir=" + profile, "--virtual-time-budget=5000"] + list(extra) + [url]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace")[-2000:])
        return r.stdout.decode("utf-8", "replace")

    def test_ui_in_chromium(self):
        done, failed = self.jobs["done"], self.jobs["failed"]
        dom = self.run_chromium(self.node.base + "/medsight/ui", "--dump-dom")
        self.assertIn('id="medsight-jobs"', dom)
        row = re.search(r'<tr[^>]*data-job-id="%d"[^>]*>' % done["ID"], dom)
        self.assertIsNotNone(row, dom[:3000])
        self.assertIn('data-state="done"', row.group(0))
        self.assertRegex(dom, r'<tr[^>]*data-job-id="%d"[^>]*data-state="failed"' % failed["ID"])
        self.assertIn(failed["Error"][:40].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), dom)
        self.assertIn('class="retry"', dom)
        self.assertIn('id="ms-stage-chart"', dom)
        self.assertIn('id="ms-summary-chart"', dom)
        self.assertIn("<polyline", dom)
        self.assertIn("histogram / total", dom)
        self.assertIn("The queue is empty.", dom)
        # The series view lists only that series' job.
        dom = self.run_chromium(self.node.base + "/medsight/ui#series=" + self.sid, "--dump-dom")
        self.assertIn("Jobs of this series", dom)
        self.assertRegex(dom, r'data-job-id="%d"' % done["ID"])
        self.assertNotRegex(dom, r'data-job-id="%d"' % failed["ID"])
        # Screenshot for people.
        out_dir = os.environ.get("MS_BUILD_DIR") or tempfile.gettempdir()
        shot = os.path.join(out_dir, "medsight-ui.png")
        if os.path.exists(shot):
            os.unlink(shot)
        self.run_chromium(self.node.base + "/medsight/ui", "--screenshot=" + shot, "--window-size=1280,900")
        self.assertTrue(os.path.exists(shot) and os.path.getsize(shot) > 1000, shot)
        print("\nMedSight UI screenshot: %s" % shot)

    def test_explorer_in_chromium(self):
        """Orthanc Explorer runs the extension: home button + summary, series entry with its job count."""
        dom = self.run_chromium(self.node.base + "/app/explorer.html", "--dump-dom")
        self.assertRegex(dom, r'<a [^>]*href="\.\./medsight/ui"[^>]*id="medsight-button"')
        self.assertRegex(dom, r'MedSight: 0 queued, 0 running, 1 done, 1 failed')
        dom = self.run_chromium(self.node.base + "/app/explorer.html#series?uuid=" + self.sid, "--dump-dom")
        self.assertIn("MedSight results (1 job)", dom)


class OrthancJobsLimitTest(harness.NodeTestCase):
    """With ConcurrentJobs = 1 no MedSight job may take Orthanc's only job slot."""
    MEDSIGHT = {"Rules": []}
    CONFIG = {"ConcurrentJobs": 1}

    def test_no_mirror_without_spare_slot(self):
        node = self.node
        ct = make_series.make_ct_series(os.path.join(self.tmp, "ct"), seed=43, nz=8)
        node.upload(ct["files"])
        sid = node.series_id(ct["series_uid"])
        status, body = node.post("/medsight/series/%s/analyze" % sid, {"Analysis": "histogram"})
        self.assertEqual(status, 200, body)
        self.assertEqual(node.wait_job_state(body["ID"], timeout=60)["State"], "done")
        time.sleep(0.5)
        jobs = node.get_ok("/jobs", {"expand": ""})
        self.assertEqual([j for j in jobs if j.get("Type") == "MedSight"], [])
        # Orthanc's own jobs still run (a synchronous anonymization is a job).
        status, body = node.post("/series/%s/anonymize" % sid, {})
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
