"""Load: 4 concurrent storescu senders, 10 studies each (one series per study,
a different patient per study), rules mixing analyses and priorities by
SeriesDescription, one worker so the queue runs deep:

    "LOAD stat ..."    calcium (ROI none)        STAT
    "LOAD routine ..." segmentation + histogram  ROUTINE (96x96x16, others 64x64x8)
    "LOAD low ..."     histogram                 LOW   (larger volumes, so the
                                                        volume cache must evict)

Every job ends done; exactly one job per series and analysis, none for the
result series; with one worker a more urgent job that was waiting is never
passed by a less urgent one (and a STAT job stored late does overtake
ROUTINE jobs stored earlier); /medsight/status MemoryUsedMB stays within
MemoryBudgetMB during the whole run. The Orthanc process' peak RSS (VmHWM)
and the largest MemoryUsedMB seen are printed.

MS_LONG=1: 30 studies per sender instead of 10.

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_load
"""

import os
import subprocess
import sys
import threading
import time
import unittest

import harness  # first: puts tests/phantoms on sys.path
import ctseg
import make_series

SENDERS = 4
STUDIES = 30 if os.environ.get("MS_LONG") == "1" else 10
BUDGET_MB = 64
# Per sender: the first and the last study are STAT, so a STAT series is
# stored late while ROUTINE ones stored earlier are still queued.
PATTERN = ["stat", "routine", "low", "routine", "low", "routine", "low", "routine", "low"]
ANALYSES = {"stat": {"calcium"}, "routine": {"segmentation", "histogram"},
            "low": {"histogram"}}
PRIORITY_RANK = {"STAT": 0, "HIGH": 1, "ROUTINE": 2, "LOW": 3}
# Claim order is decided when a worker claims; a job created within this
# margin before another one's StartedAt may not have been visible yet.
CLOCK_MARGIN_S = 0.05


def kind_of(sender, study):
    if study == STUDIES - 1:
        return "stat"
    return PATTERN[study % len(PATTERN)]


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


class LoadTest(harness.NodeTestCase):
    STABLE_AGE = 2
    MEDSIGHT = {
        "Workers": 1,
        "MemoryBudgetMB": BUDGET_MB,
        "Calcium": {"ROI": "none"},
        "Rules": [
            {"Analysis": "calcium", "Priority": "STAT",
             "Match": {"Modality": "CT", "SeriesDescription": "LOAD stat*"}},
            {"Analysis": "segmentation", "Priority": "ROUTINE",
             "Match": {"SeriesDescription": "LOAD routine*"}},
            {"Analysis": "histogram", "Priority": "ROUTINE",
             "Match": {"SeriesDescription": "LOAD routine*"}},
            {"Analysis": "histogram", "Priority": "LOW",
             "Match": {"SeriesDescription": "LOAD low*"}},
        ],
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        chest = ctseg.chest(nx=64, ny=64, nz=8, dz=10.0)
        # ROUTINE segmentations are larger so the ROUTINE queue is still long
        # when the last STAT series arrive.
        big_chest = ctseg.chest(nx=96, ny=96, nz=16, dz=10.0)
        cls.studies = []
        for s in range(SENDERS):
            for k in range(STUDIES):
                kind = kind_of(s, k)
                seed = 20000 + s * 1000 + k
                name = "s%d_%02d_%s" % (s, k, kind)
                common = dict(seed=seed, uid_salt=name, patient_id="LOAD%d%02d" % (s, k),
                              series_description="LOAD %s %s" % (kind, name))
                if kind == "low":
                    # 160x160x48 floats = 4.7 MiB: 4 x 4 of them exceed the budget.
                    info = make_series.make_ct_series(os.path.join(cls.tmp, name), nx=160,
                                                      ny=160, nz=48, dz=2.0, **common)
                else:
                    ph = big_chest if kind == "routine" else chest
                    nz, ny, nx = ph["hu"].shape
                    info = make_series.make_ct_series(
                        os.path.join(cls.tmp, name), nx=nx, ny=ny, nz=nz, dz=ph["dz"],
                        spacing=ph["pixel_spacing"], origin=ph["origin"],
                        hu=ph["hu"], **common)
                info.update(sender=s, index=k, kind=kind, name=name)
                cls.studies.append(info)

    def tearDown(self):
        self.assertAlive()

    def send(self, sender, errors):
        for info in self.studies:
            if info["sender"] != sender:
                continue
            cmd = ["storescu", "-aet", "LOAD%d" % sender, "-aec", harness.AET, "127.0.0.1",
                   str(self.node.dicom_port)] + info["files"]
            r = subprocess.run(cmd, env=dict(os.environ, TCP_NODELAY="1"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            if r.returncode != 0:
                errors.append("%s: storescu rc %d: %s" % (info["name"], r.returncode,
                                                          r.stdout.decode()[-500:]))
            info["stored_at"] = time.monotonic()

    def test_load(self):
        node = self.node
        t0 = time.monotonic()
        peak = {"used": 0.0, "samples": 0, "over": []}
        stop = threading.Event()

        def poll_memory():
            while not stop.is_set():
                try:
                    st, body = node.get("/medsight/status", timeout=10)
                except OSError:
                    st = None
                if st == 200:
                    used = body["MemoryUsedMB"]
                    peak["samples"] += 1
                    peak["used"] = max(peak["used"], used)
                    if used > body["MemoryBudgetMB"]:
                        peak["over"].append(used)
                stop.wait(0.2)

        poller = threading.Thread(target=poll_memory, daemon=True)
        poller.start()
        errors = []
        senders = [threading.Thread(target=self.send, args=(s, errors)) for s in range(SENDERS)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        t_stored = time.monotonic()
        self.assertEqual(errors, [])

        expected = sum(len(ANALYSES[i["kind"]]) for i in self.studies)

        def all_ended():
            jobs = node.jobs(limit=1000)
            if len(jobs) < expected:
                return None
            if any(j["State"] in ("queued", "running") for j in jobs):
                return None
            return jobs
        jobs = harness.wait_for(all_ended, 150 if STUDIES <= 10 else 600,
                                "%d jobs to end" % expected, poll=0.5)
        t_done = time.monotonic()
        # A buggy trigger may still add duplicates: give it a stable age.
        time.sleep(self.STABLE_AGE + 2)
        stop.set()
        poller.join()
        jobs = node.jobs(limit=1000)
        hwm = vm_hwm_kb(node.proc.pid)
        sys.stderr.write("\nload: %d senders x %d studies, %d jobs; stored in %.1f s, all jobs "
                         "ended %.1f s after the first send; MemoryUsedMB max %.2f of %d "
                         "(%d samples); Orthanc VmHWM %.1f MiB\n"
                         % (SENDERS, STUDIES, len(jobs), t_stored - t0, t_done - t0,
                            peak["used"], BUDGET_MB, peak["samples"], hwm / 1024.0))

        # Every job done, one per series and analysis, none for results.
        self.assertEqual([j for j in jobs if j["State"] != "done"], [])
        by_series = {}
        for j in jobs:
            by_series.setdefault(j["SeriesId"], []).append(j)
        for info in self.studies:
            sid = node.series_id(info["series_uid"])
            self.assertIsNotNone(sid, info["name"])
            self.assertEqual(len(node.get_ok("/series/%s" % sid)["Instances"]),
                             len(info["files"]), info["name"])
            got = sorted(j["Analysis"] for j in by_series.pop(sid, []))
            self.assertEqual(got, sorted(ANALYSES[info["kind"]]), info["name"])
        self.assertEqual(by_series, {}, "jobs for series that were not sent")
        self.assertEqual(len(jobs), expected)
        for j in jobs:
            if j["Analysis"] in ("calcium", "segmentation"):
                self.assertEqual(len(j["Results"]), 2, j)

        # With one worker, a waiting job is never passed by a less urgent one,
        # nor by one of the same priority created after it.
        for j in jobs:
            for field in ("CreatedAt", "StartedAt"):
                j["_" + field] = harness.parse_time(j[field]).timestamp()
        inversions = []
        for a in jobs:
            for b in jobs:
                if a is b or a["_CreatedAt"] >= b["_StartedAt"] - CLOCK_MARGIN_S:
                    continue  # a was not waiting when b was claimed
                ra, rb = PRIORITY_RANK[a["Priority"]], PRIORITY_RANK[b["Priority"]]
                if ra < rb or (ra == rb and a["ID"] < b["ID"]):
                    if a["_StartedAt"] > b["_StartedAt"]:
                        inversions.append((a["ID"], a["Priority"], b["ID"], b["Priority"]))
        self.assertEqual(inversions, [], "job a waited while less urgent b was claimed "
                         "(a, priority, b, priority)")
        # The queue was deep enough for the check to mean something: a STAT
        # job created after a ROUTINE job started before it.
        overtakes = [(s["ID"], r["ID"]) for s in jobs if s["Priority"] == "STAT"
                     for r in jobs if r["Priority"] == "ROUTINE"
                     and r["_CreatedAt"] < s["_CreatedAt"] and r["_StartedAt"] > s["_StartedAt"]]
        self.assertTrue(overtakes, "no STAT job overtook a queued ROUTINE job: queue too shallow")

        # Memory: the volume cache never exceeded its budget.
        self.assertGreater(peak["samples"], 0)
        self.assertEqual(peak["over"], [], "MemoryUsedMB above MemoryBudgetMB")
        st = node.get_ok("/medsight/status")
        self.assertLessEqual(st["MemoryUsedMB"], BUDGET_MB)
        self.assertEqual(st["Jobs"]["done"], expected)


if __name__ == "__main__":
    unittest.main()
