"""Bad inputs: every broken series of tests/phantoms/bad_inputs.py ends in a
failed job whose Error names the problem, and Orthanc keeps serving. Files
damaged at the byte level may be refused by Orthanc at ingest (REST and
C-STORE); then the refusal is asserted instead. Series deleted before they
are stable, while their job is queued and while it runs; REST bodies and
ids that test_rest.py does not already try.

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_bad_input
"""

import os
import subprocess
import time
import unittest

import harness  # first: puts tests/phantoms on sys.path
import bad_inputs
import ctseg
import make_series

STABLE_AGE = 1
JOB_TIMEOUT = 60
# Kinds whose broken series is ingested normally and must fail in the job.
# Regressions (fixed): test_missing_slice (the message names the double gap) and
# test_rest_duplicate_key.
JOB_KINDS = sorted(k for k, (phrase, _) in bad_inputs.KINDS.items() if phrase)
# Kinds damaged at the byte level: Orthanc may refuse the broken file.
BYTE_KINDS = sorted(k for k, (phrase, _) in bad_inputs.KINDS.items() if not phrase)
RULE_DESC = "MedSight bad *"


class BadInputTest(harness.NodeTestCase):
    STABLE_AGE = STABLE_AGE
    # Only the corpus is matched by the rule; the deletion tests queue their
    # own jobs by REST.
    MEDSIGHT = {"Workers": 1, "Calcium": {"ROI": "none"},
                "Rules": [{"Analysis": "histogram", "Priority": "ROUTINE",
                           "Match": {"SeriesDescription": RULE_DESC}}]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        node = cls.node
        cls.bad = {}
        for i, kind in enumerate(JOB_KINDS + BYTE_KINDS):
            cls.bad[kind] = bad_inputs.make_bad(os.path.join(cls.tmp, kind), kind,
                                                seed=900 + i)
        # REST upload of the corpus: each file's answer is kept, since the
        # byte-damaged ones may be refused.
        # Orthanc may take seconds to refuse a damaged file (a 4 GB length),
        # longer than StableAge: those go last, so no series becomes stable
        # half uploaded.
        cls.ingest = {}
        files = [f for k in JOB_KINDS + BYTE_KINDS for f in cls.bad[k]["files"]]
        damaged = set(f for k in BYTE_KINDS for f in cls.bad[k]["broken"])
        for f in [f for f in files if f not in damaged] + sorted(damaged):
            with open(f, "rb") as fh:
                status, body = node.post("/instances", fh.read(), headers={"Expect": ""})
            cls.ingest[f] = (status, body)
        # Analyses other than the rule's are queued by hand.
        cls.manual = {}
        for kind in JOB_KINDS:
            info = cls.bad[kind]
            if info["analysis"] != "histogram":
                sid = node.series_id(info["series_uid"])
                status, body = node.post("/medsight/series/%s/analyze" % sid,
                                         {"Analysis": info["analysis"]})
                if status != 200:
                    raise AssertionError("analyze %s -> %d %r" % (kind, status, body))
                cls.manual[kind] = body["ID"]

    def tearDown(self):
        self.assertAlive()

    def corpus_job(self, kind):
        """The ended job of the corpus series of that kind (its analysis)."""
        info = self.bad[kind]
        node = self.node
        sid = node.wait_series(info["series_uid"], len(info["files"]) -
                               sum(1 for f in info["files"] if self.ingest[f][0] != 200))
        if kind in self.manual:
            return sid, node.wait_job_state(self.manual[kind], timeout=JOB_TIMEOUT)
        job = node.wait_job(lambda j: j["State"] in ("done", "failed", "cancelled")
                            and j["Analysis"] == info["analysis"],
                            timeout=JOB_TIMEOUT, series=sid)
        return sid, job

    def assertFailedWith(self, job, phrase, what):
        self.assertEqual(job["State"], "failed", "%s: %r" % (what, job.get("Result")))
        self.assertIsInstance(job["Error"], str)
        self.assertIn(phrase, job["Error"], what)
        self.assertIsNone(job["Result"])
        self.assertEqual(job["Results"], [])
        self.assertIsNotNone(job["FinishedAt"])
        # Bad input is not a crash: one attempt, no automatic re-run.
        self.assertEqual(job["Attempts"], 1, what)

    # -- series that Orthanc stores and the job must refuse ----------------------

    def check_kind(self, kind):
        info = self.bad[kind]
        for f in info["files"]:
            status, body = self.ingest[f]
            self.assertEqual(status, 200, "%s: %s refused at ingest: %r" % (kind, f, body))
        sid, job = self.corpus_job(kind)
        self.assertFailedWith(job, info["phrase"], kind)
        # The Error names an instance (or the series) so an administrator can find it.
        if info["broken"] and kind not in ("single_slice",):
            self.assertRegex(job["Error"], r"instance|series", kind)
        # Nothing half-written: the study holds only the source series.
        study = self.node.get_ok("/series/%s/study" % sid)
        self.assertEqual(len(study["Series"]), 1, kind)
        self.assertAlive()

    # -- files damaged at the byte level -------------------------------------
    # storescu parses a file before sending it, so a damaged file never
    # reaches Orthanc over DICOM; POST /instances is what exercises Orthanc's
    # parser (it answers 400 "Bad file format").

    def check_byte_kind(self, kind):
        """Orthanc either refuses the damaged file (REST 400, nothing stored)
        or stores it; then the job must fail naming a decode problem, or
        finish from what was readable. Never a crash."""
        node = self.node
        info = self.bad[kind]
        (broken,) = info["broken"]
        status, body = self.ingest[broken]
        good = [f for f in info["files"] if f != broken]
        for f in good:
            self.assertEqual(self.ingest[f][0], 200, f)
        sid, job = self.corpus_job(kind)
        series = node.get_ok("/series/%s" % sid)
        if status != 200:
            self.assertEqual(status, 400, body)
            self.assertIsInstance(body, dict, body)
            self.assertEqual(len(series["Instances"]), len(good))
            # The remaining slices have a gap where the refused one was, or
            # none if it was at an end; either way the job ends cleanly.
            if job["State"] == "failed":
                self.assertIn("slice", job["Error"])
            else:
                self.assertEqual(job["State"], "done", job)
        else:
            self.assertEqual(len(series["Instances"]), len(info["files"]))
            self.assertEqual(job["State"], "failed", "%s stored but job %r" % (kind, job))
            self.assertRegex(job["Error"], r"decode|read|corrupt|truncat|PixelData", job["Error"])
        # The same file over DICOM: storescu itself may refuse to send it, or
        # Orthanc may answer with a failure status. Either is fine; a hang or
        # a dead Orthanc is not.
        r = subprocess.run(["storescu", "-aet", "MSTEST", "-aec", harness.AET, "127.0.0.1",
                            str(node.dicom_port), broken],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        if status != 200:
            self.assertTrue(r.returncode != 0 or "Status" in out or "rror" in out, out)
        self.assertAlive()

    def test_garbage_file_refused(self):
        node = self.node
        before = node.get_ok("/series")
        path = bad_inputs.garbage_file(os.path.join(self.tmp, "garbage.dcm"), seed=3)
        with open(path, "rb") as fh:
            status, body = node.post("/instances", fh.read(), headers={"Expect": ""})
        self.assertEqual(status, 400, body)
        r = subprocess.run(["storescu", "-aet", "MSTEST", "-aec", harness.AET, "127.0.0.1",
                            str(node.dicom_port), path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertAlive()
        # Nothing was stored, so nothing can be queued for it.
        self.assertEqual(sorted(node.get_ok("/series")), sorted(before))

    # -- deletion -------------------------------------------------------------

    def analyze(self, sid, analysis, priority="ROUTINE"):
        status, body = self.node.post("/medsight/series/%s/analyze" % sid,
                                      {"Analysis": analysis, "Priority": priority})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["Created"])
        return body["ID"]

    def slow_job(self, name, seed):
        """Upload a chest phantom whose segmentation takes a few seconds on
        lavapipe, start it as STAT and wait until it runs."""
        node = self.node
        ph = ctseg.chest(nx=192, ny=192, nz=40, dz=5.0)
        info = make_series.make_ct_series(
            os.path.join(self.tmp, name), nx=192, ny=192, nz=40, dz=5.0,
            spacing=ph["pixel_spacing"], origin=ph["origin"], hu=ph["hu"],
            seed=seed, uid_salt=name, series_description="MedSight slow")
        node.upload(info["files"])
        sid = node.series_id(info["series_uid"])
        job_id = self.analyze(sid, "segmentation", "STAT")
        harness.wait_for(lambda: node.job(job_id)["State"] != "queued", 30,
                         "slow job started", poll=0.02)
        self.assertEqual(node.job(job_id)["State"], "running")
        return sid, job_id

    def test_delete_before_stable(self):
        node = self.node
        info = make_series.make_ct_series(os.path.join(self.tmp, "del_unstable"), nx=32,
                                          ny=32, nz=6, seed=950, uid_salt="del-unstable",
                                          series_description="MedSight bad deleted early")
        node.upload(info["files"])
        sid = node.series_id(info["series_uid"])
        status, _ = node.delete("/series/%s" % sid)
        self.assertEqual(status, 200)
        time.sleep(STABLE_AGE + 4)
        self.assertIsNone(node.series_id(info["series_uid"]))
        self.assertEqual(node.jobs(series=sid), [])

    def test_delete_while_queued_and_running(self):
        node = self.node
        victim = make_series.make_ct_series(os.path.join(self.tmp, "victim"), nx=32, ny=32,
                                            nz=6, seed=951, uid_salt="victim",
                                            series_description="MedSight victim")
        node.upload(victim["files"])
        vsid = node.series_id(victim["series_uid"])
        slow_sid, slow_id = self.slow_job("slow1", 952)
        queued_id = self.analyze(vsid, "calcium")
        self.assertEqual(node.job(queued_id)["State"], "queued")
        status, _ = node.delete("/series/%s" % vsid)
        self.assertEqual(status, 200)
        # The test is only meaningful if the victim was still waiting.
        self.assertEqual(node.job(queued_id)["State"], "queued")
        self.assertEqual(node.job(slow_id)["State"], "running",
                         "slow job ended before the deletion; make it slower")
        job = node.wait_job_state(queued_id, timeout=JOB_TIMEOUT)
        self.assertFailedWith(job, "no longer exists", "deleted while queued")
        # No result objects may resurrect the deleted study.
        self.assertIsNone(node.series_id(victim["series_uid"]))
        self.assertIsNone(node.post("/tools/lookup", victim["study_uid"])[1] or None)
        slow = node.wait_job_state(slow_id, timeout=120)
        self.assertEqual(slow["State"], "done", slow["Error"])

        # Delete a series while its own (slow) job runs: the job fails with
        # a message about the deletion, or finishes from what it had read;
        # it must not store results into a study that no longer exists.
        slow_sid2, slow_id2 = self.slow_job("slow2", 953)
        time.sleep(0.5)
        study = node.get_ok("/series/%s" % slow_sid2)["ParentStudy"]
        status, _ = node.delete("/series/%s" % slow_sid2)
        self.assertEqual(status, 200)
        job = node.wait_job_state(slow_id2, timeout=120)
        self.assertIn(job["State"], ("failed", "done"), job)
        if job["State"] == "failed":
            self.assertRegex(job["Error"], r"deleted|disappeared|no longer exists", job["Error"])
        # BUG CHECK: results of a job whose source series was deleted while it
        # ran must not recreate the study (a SEG/SR with no source images).
        st, _ = node.get("/studies/%s" % study)
        self.assertEqual(st, 404, "results recreated the deleted study: %r" % (job,))

    # -- REST bodies and ids not covered by test_rest.py ------------------------

    def assertError(self, result, status, phrase=None):
        self.assertEqual(result[0], status, result[1])
        self.assertIsInstance(result[1], dict, result[1])
        self.assertIsInstance(result[1].get("Error"), str, result[1])
        if phrase:
            self.assertIn(phrase, result[1]["Error"])

    def test_rest_malformed(self):
        node = self.node
        info = self.bad["bits8"]
        sid = node.series_id(info["series_uid"])
        before = len(node.jobs(series=sid, limit=1000))
        url = "/medsight/series/%s/analyze" % sid
        deep = "[" * 100000 + "]" * 100000
        cases = [
            ('{"Analysis": "histogram"} trailing', "not valid JSON"),
            ('{"Analysis": "histogram",}', "not valid JSON"),
            ('{"Analysis": "hist\\u0000ogram"}', None),
            ('{"Analysis": "histogram\\', "not valid JSON"),
            (deep, "not valid JSON"),
            ('{"Analysis": ' + deep + '}', None),
            ('{"Analysis": "' + "x" * 1000000 + '"}', "unknown analysis"),
            ({"Analysis": "Histogram"}, "unknown analysis"),
            ({"Analysis": "nope"}, "unknown analysis"),
            ({"Analysis": ""}, "unknown analysis"),
            ({"Analysis": None}, "\"Analysis\""),
            ({"Analysis": ["histogram"]}, "\"Analysis\""),
            ({"Analysis": {"Name": "histogram"}}, "\"Analysis\""),
            ({"Priority": "STAT"}, "\"Analysis\""),
            ({"Analysis": "histogram", "Priority": ""}, "Priority"),
            ({"Analysis": "histogram", "Priority": None}, "Priority"),
            ({"Analysis": "histogram", "AIF": [1, 2, 3]}, "perfusion analysis only"),
            ({"Analysis": "perfusion", "AIF": [1, 2]}, "AIF"),
            ({"Analysis": "perfusion", "AIF": [1, -2, 3]}, "AIF"),
            ({"Analysis": "perfusion", "AIF": [1.5, 2, 3]}, "AIF"),
            ({"Analysis": "perfusion", "AIF": "1,2,3"}, "AIF"),
        ]
        for body, phrase in cases:
            with self.subTest(body=(body if len(str(body)) < 80 else str(body)[:80] + "...")):
                self.assertError(node.post(url, body), 400, phrase)
        self.assertEqual(len(node.jobs(series=sid, limit=1000)), before)
        # Priority is case-insensitive: "stat" is accepted.
        status, body = node.post(url, {"Analysis": "histogram", "Priority": "stat"})
        self.assertEqual(status, 200, body)
        job = node.wait_job_state(body["ID"], timeout=JOB_TIMEOUT)
        self.assertEqual(job["Priority"], "STAT")
        self.assertIn("8-bit", job["Error"])

    def test_rest_duplicate_key(self):
        """Regression: a body naming "Analysis" twice was accepted with one
        value silently winning; it is a 400 like a key given twice in the
        configuration."""
        node = self.node
        sid = node.series_id(self.bad["rgb"]["series_uid"])
        before = len(node.jobs(series=sid, limit=1000))
        self.assertError(node.post("/medsight/series/%s/analyze" % sid,
                                   '{"Analysis": "histogram", "Analysis": "calcium"}'),
                         400, "Analysis")
        self.assertEqual(len(node.jobs(series=sid, limit=1000)), before)

    def test_rest_bad_ids(self):
        node = self.node
        for jid in ("0", "-1", "99999999999999999999999", "1e3", "%20", "0x10"):
            with self.subTest(id=jid):
                st, body = node.get("/medsight/jobs/%s" % jid)
                self.assertIn(st, (400, 404), body)
                if isinstance(body, dict):
                    self.assertIsInstance(body.get("Error"), str, body)
                st, _ = node.post("/medsight/jobs/%s/retry" % jid)
                self.assertIn(st, (400, 404))
                st, _ = node.delete("/medsight/jobs/%s" % jid)
                self.assertIn(st, (400, 404))
        self.assertError(node.get("/medsight/jobs/abc"), 400)
        self.assertError(node.post("/medsight/jobs/abc/retry"), 400)
        self.assertError(node.delete("/medsight/jobs/abc"), 400)
        for q in ({"limit": "0"}, {"limit": "1001"}, {"limit": "99999999999999999999"},
                  {"series": "x" * 5000}):
            with self.subTest(query=q):
                st, body = node.get("/medsight/jobs", q)
                if "series" in q:
                    self.assertIn(st, (200, 400), body)
                    if st == 200:
                        self.assertEqual(body, [])
                else:
                    self.assertError((st, body), 400)
        for q in ({"limit": "0"}, {"limit": "10001"}, {"analysis": "x" * 5000}):
            with self.subTest(perf=q):
                st, body = node.get("/medsight/perf", q)
                self.assertIn(st, (200, 400), body)
                if "limit" in q:
                    self.assertError((st, body), 400)
        # Wrong methods are refused by Orthanc's router, not served.
        st, _ = node.request("PUT", "/medsight/jobs")
        self.assertEqual(st, 405)
        st, _ = node.get("/medsight/series/%s/analyze" % node.series_id(
            self.bad["bits8"]["series_uid"]))
        self.assertEqual(st, 405)
        # Analysis of something that is not a series id.
        st, body = node.post("/medsight/series/%s/analyze" % ("a" * 300),
                             {"Analysis": "histogram"})
        self.assertEqual(st, 404, body)
        study = node.get_ok("/series/%s" % node.series_id(
            self.bad["bits8"]["series_uid"]))["ParentStudy"]
        st, body = node.post("/medsight/series/%s/analyze" % study, {"Analysis": "histogram"})
        self.assertEqual(st, 404, body)
        self.assertIn("Error", body)


def _add(kind, checker):
    def test(self):
        getattr(self, checker)(kind)
    test.__name__ = "test_%s" % kind
    setattr(BadInputTest, test.__name__, test)


for _k in JOB_KINDS:
    _add(_k, "check_kind")
for _k in BYTE_KINDS:
    _add(_k, "check_byte_kind")


if __name__ == "__main__":
    unittest.main()
