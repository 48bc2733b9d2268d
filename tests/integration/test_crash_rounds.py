"""Repeated crash rounds: SIGKILL Orthanc at seeded random points while a
round's series are being C-STOREd, restart, send them again (as a modality
would), then SIGKILL it again at a random point of the round's jobs and
restart. After each round every job of every round so far has completed
exactly once: one job per series and analysis, State done; each calcium job
stored one SEG and one SR (deterministic UIDs: a re-run replaces them), so
every study holds the source series plus two result series of one instance
each; `PRAGMA integrity_check` of the MedSight database says ok.

Rules: calcium (ROI none) ROUTINE and histogram LOW on every CT series; one
worker. 3 rounds by default, 10 with MS_LONG=1; MS_CRASH_SEED picks the
delays (printed, with what each kill hit, so a failure can be replayed).

Regression (fixed): the plugin's start-up sweep of series still arriving at the crash used to
raise them stable even while Orthanc was receiving their re-sent instances (duplicate or premature
jobs); it now leaves series Orthanc tracks again to Orthanc's own StableSeries (worker.c
raise_orphans).

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_crash_rounds
"""

import os
import random
import subprocess
import sys
import time
import unittest

import harness
import make_series

ROUNDS = 10 if os.environ.get("MS_LONG") == "1" else 3
SEED = int(os.environ.get("MS_CRASH_SEED", "20261123"))
SERIES_PER_ROUND = 3
ANALYSES = ("calcium", "histogram")
RESULTS = {"calcium": 2, "histogram": 0}
JOB_TIMEOUT = 120


class CrashRoundsTest(harness.NodeTestCase):
    STABLE_AGE = 1
    MEDSIGHT = {
        "Workers": 1,
        "Calcium": {"ROI": "none"},
        "Rules": [
            {"Analysis": "calcium", "Priority": "ROUTINE", "Match": {"Modality": "CT"}},
            {"Analysis": "histogram", "Priority": "LOW", "Match": {"Modality": "CT"}},
        ],
    }

    def tearDown(self):
        self.assertAlive()

    def log(self, msg):
        sys.stderr.write("crash rounds: %s\n" % msg)

    def make_round(self, r):
        out = []
        for k in range(SERIES_PER_ROUND):
            name = "r%02d_s%d" % (r, k)
            info = make_series.make_ct_series(
                os.path.join(self.tmp, name), nx=128, ny=128, nz=48, seed=30000 + 10 * r + k,
                uid_salt=name, patient_id="CRASH%02d%d" % (r, k),
                series_description="crash round %d series %d" % (r, k))
            info["name"] = name
            out.append(info)
        return out

    def kill_during_ingest(self, files, rng):
        node = self.node
        delay = rng.uniform(0.0, 0.5)
        cmd = ["storescu", "-aet", "CRASH", "-aec", harness.AET, "127.0.0.1",
               str(node.dicom_port)] + files
        sender = subprocess.Popen(cmd, env=dict(os.environ, TCP_NODELAY="1"),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        finished = sender.poll() is not None
        node.kill()
        rc = sender.wait(60)
        self.log("ingest kill after %.3f s (storescu %s, rc %d)"
                 % (delay, "had finished" if finished else "was sending", rc))
        node.start()
        # The modality sends the whole lot again after a pause of its own;
        # what Orthanc already has is accepted as already stored. The re-send
        # starts before the plugin's sweep for series cut off by the crash
        # (StableAge + 1 s after start), so a series is complete when it is
        # first found stable. (A sender that comes back only after the sweep
        # gets its partial series analysed first; that is not tested here.)
        pause = rng.uniform(0.0, self.STABLE_AGE + 0.5)
        time.sleep(pause)
        node.store(files)
        self.log("re-sent %d files %.3f s after the restart" % (len(files), pause))

    def kill_during_jobs(self, sids, rng):
        node = self.node
        mine = lambda: [j for j in node.jobs(limit=1000) if j["SeriesId"] in sids]
        # All jobs of the round exist once every series was found stable.
        want = len(sids) * len(ANALYSES)
        jobs = harness.wait_for(lambda: (lambda js: js if len(js) >= want else None)(mine()),
                                self.STABLE_AGE + 30, "%d jobs of the round" % want, poll=0.02)
        target = rng.choice(sorted(j["ID"] for j in jobs))
        delay = rng.uniform(0.0, 0.15)
        harness.wait_for(lambda: node.job(target)["State"] != "queued", JOB_TIMEOUT,
                         "job %d claimed" % target, poll=0.005)
        time.sleep(delay)
        states = {j["ID"]: j["State"] for j in mine()}
        node.kill()
        self.log("job kill %.3f s after job %d was claimed; states then: %s"
                 % (delay, target, ", ".join("%d %s" % kv for kv in sorted(states.items()))))
        node.start()

    def integrity(self):
        db = os.path.join(self.node.config["IndexDirectory"], "medsight.sqlite")
        r = subprocess.run(["sqlite3", db, "PRAGMA integrity_check"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(r.stdout.decode().strip(), "ok")

    def check_all(self, series):
        """Every series sent so far: complete, one done job per analysis,
        results stored once."""
        node = self.node
        sids = {node.series_id(i["series_uid"]): i for i in series}
        self.assertNotIn(None, sids)

        def ended():
            jobs = [j for j in node.jobs(limit=1000) if j["SeriesId"] in sids]
            if len(jobs) < len(sids) * len(ANALYSES):
                return None
            if any(j["State"] in ("queued", "running") for j in jobs):
                return None
            return jobs
        harness.wait_for(ended, JOB_TIMEOUT, "jobs of every round to end", poll=0.2)
        # Give a buggy recovery time to queue a duplicate before counting.
        time.sleep(self.STABLE_AGE + 2)
        jobs = node.jobs(limit=1000)
        self.assertEqual(sorted(j["SeriesId"] for j in jobs if j["SeriesId"] not in sids), [],
                         "jobs for series that were not sent (results analysed?)")
        for sid, info in sids.items():
            mine_all = [j for j in jobs if j["SeriesId"] == sid]
            self.assertEqual(sorted({j["Analysis"] for j in mine_all}), sorted(ANALYSES),
                             "%s: %r" % (info["name"], [(j["ID"], j["Analysis"]) for j in mine_all]))
            # A series cut off by the crash and not re-sent within StableAge of the restart is,
            # like any series, stable: it is analysed as it is (and fails if a slice is missing).
            # Its re-sent instances then make Orthanc report it stable again, and a new job
            # re-runs it, replacing the results. So per analysis the LATEST job must be done and
            # complete; earlier ones may only be such runs on the partial series.
            mine = []
            for analysis in ANALYSES:
                runs = sorted((j for j in mine_all if j["Analysis"] == analysis), key=lambda j: j["ID"])
                for early in runs[:-1]:
                    self.assertIn(early["State"], ("done", "failed"), early)
                    if early["State"] == "failed":
                        self.assertRegex(early["Error"], "non-uniform slice spacing|only 1 slice|missing",
                                         early)
                mine.append(runs[-1])
            series = node.get_ok("/series/%s" % sid)
            self.assertEqual(len(series["Instances"]), len(info["files"]), info["name"])
            study = node.get_ok("/studies/%s" % series["ParentStudy"])
            for j in mine:
                self.assertEqual(j["State"], "done", "%s %s: %s" % (info["name"], j["Analysis"],
                                                                    j["Error"]))
                self.assertIn(j["Attempts"], (1, 2), j)
                self.assertEqual(len(j["Results"]), RESULTS[j["Analysis"]], j)
                if j["Analysis"] == "histogram":
                    # Analysed the whole series, not what had arrived so far.
                    self.assertEqual(j["Result"]["Count"], info["hu"].size, info["name"])
            # Source + SEG + SR, one instance each result, no SOP Instance UID twice.
            self.assertEqual(len(study["Series"]), 1 + RESULTS["calcium"], info["name"])
            sops = []
            for other in study["Series"]:
                if other == sid:
                    continue
                insts = node.get_ok("/series/%s/instances" % other)
                self.assertEqual(len(insts), 1, "%s: result series %s" % (info["name"], other))
                sops += [i["MainDicomTags"]["SOPInstanceUID"] for i in insts]
            self.assertEqual(len(sops), len(set(sops)))
            calcium = [j for j in mine if j["Analysis"] == "calcium"][0]
            result_series = {node.get_ok("/instances/%s" % i)["ParentSeries"]
                             for i in calcium["Results"]}
            self.assertEqual(result_series, set(study["Series"]) - {sid}, info["name"])
        self.integrity()

    def test_crash_rounds(self):
        node = self.node
        t0 = time.monotonic()
        sent = []
        self.log("seed %d, %d rounds" % (SEED, ROUNDS))
        for r in range(ROUNDS):
            rng = random.Random(SEED * 100 + r)
            series = self.make_round(r)
            files = [f for i in series for f in i["files"]]
            rng.shuffle(files)
            self.kill_during_ingest(files, rng)
            sent += series
            sids = {node.series_id(i["series_uid"]) for i in series}
            self.kill_during_jobs(sids, rng)
            self.check_all(sent)
            self.log("round %d ok (%.1f s)" % (r, time.monotonic() - t0))
        # A clean stop leaves a consistent database too.
        node.stop()
        self.integrity()
        node.start()
        self.check_all(sent)


if __name__ == "__main__":
    unittest.main()
