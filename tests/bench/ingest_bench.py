#!/usr/bin/python3
"""Ingest benchmark: how much the MedSight plugin slows down C-STORE ingest.

Starts a real Orthanc (tests/integration/harness.py OrthancNode, loopback ports,
throw-away directory) twice on the same data:
  1. without the MedSight plugin (Orthanc + DICOMweb only),
  2. with it, rules analysing every CT series (default: histogram and
     segmentation),
sends the same instances with one storescu association (TCP_NODELAY=1) each
time, and prints instances/s of both runs and the slowdown in % (target:
< 5 %). For the second run it also waits for every job and prints the time
from the first instance sent until all jobs were done (jobs start StableAge
seconds after a series' last instance, and on a CPU-only machine they compete
with ingest for the same cores).

A benchmark, not a test: timings are printed, never asserted. The data (512x512
CT slices of the segmentation chest phantom, tests/phantoms/ctseg.py) is
generated once per invocation into a temporary directory, or kept in --data
and reused by later invocations with the same shape.

Run (from the repository root, plugin built in build-bench/ by scripts/bench.sh):
    bash scripts/bench.sh --ingest [options below]
    /usr/bin/python3 tests/bench/ingest_bench.py --plugin build-bench/libOrthancMedSight.so
Options: --instances 500 --series 5 --device auto --rules histogram,segmentation
    --data DIR (keep/reuse the generated files) --stable-age 2 --jobs-timeout 1800
    --repeat N (alternate the two runs N times; the median rate is compared)
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))

import harness  # noqa: E402  (puts tests/phantoms on sys.path)
import ctseg  # noqa: E402
import make_series  # noqa: E402

NX = NY = 512
DZ = 2.5
FINISHED = ("done", "failed", "cancelled")


def load():
    """The 1-minute load average and the core count, for the record."""
    return "load %.2f on %d cores" % (os.getloadavg()[0], os.cpu_count() or 0)


def series_sizes(instances, series):
    per, extra = divmod(instances, series)
    return [per + (1 if i < extra else 0) for i in range(series)]


def generate(data_dir, instances, series):
    """Writes the series (or reuses them); returns the list of files in send
    order (series after series, each in make_series' shuffled order)."""
    want = {"nx": NX, "ny": NY, "dz": DZ, "sizes": series_sizes(instances, series),
            "version": 1}
    manifest = os.path.join(data_dir, "manifest.json")
    try:
        with open(manifest) as f:
            have = json.load(f)
        if have["shape"] == want and all(os.path.exists(p) for p in have["files"]):
            print("data: reusing %d instances in %s" % (len(have["files"]), data_dir))
            return have["files"]
    except (OSError, ValueError, KeyError):
        pass
    t = time.monotonic()
    files = []
    for i, nz in enumerate(want["sizes"]):
        ph = ctseg.chest(nx=NX, ny=NY, nz=nz, dz=DZ)
        info = make_series.make_ct_series(
            os.path.join(data_dir, "s%d" % i), nx=NX, ny=NY, nz=nz, dz=DZ,
            spacing=ph["pixel_spacing"], origin=ph["origin"], hu=ph["hu"],
            seed=7000 + i, uid_salt="ingest%d" % i,
            series_description="ingest bench chest %d" % i)
        files += info["files"]
        del ph, info
    with open(manifest, "w") as f:
        json.dump({"shape": want, "files": files}, f)
    print("data: generated %d instances (%s slices of %dx%d) in %s in %.0f s"
          % (len(files), "+".join(map(str, want["sizes"])), NX, NY, data_dir,
             time.monotonic() - t))
    return files


def count_instances(node):
    return node.get_ok("/statistics")["CountInstances"]


def wait_jobs(node, expected, timeout):
    """Polls /medsight/jobs until 'expected' jobs exist and all are finished;
    returns (monotonic time when seen finished, jobs) or (None, last list)."""
    deadline = time.monotonic() + timeout
    jobs = []
    while time.monotonic() < deadline:
        try:
            jobs = node.jobs(limit=1000)
        except (harness.OrthancError, OSError):
            jobs = []
        if len(jobs) >= expected and all(j["State"] in FINISHED for j in jobs):
            return time.monotonic(), jobs
        time.sleep(0.25)
    return None, jobs


def run_once(files, plugin, args, rules):
    """One Orthanc, one storescu association; returns a dict of figures."""
    medsight = None
    if plugin:
        medsight = {"Device": args.device, "Rules": [
            {"Analysis": a, "Priority": "ROUTINE", "Match": {"Modality": "CT"}}
            for a in rules]}
    node = harness.OrthancNode(medsight=medsight, plugin=plugin,
                               stable_age=args.stable_age, name="MedSightIngestBench")
    out = {"plugin": bool(plugin)}
    try:
        node.start(timeout=60)
        if plugin:
            dev = node.get_ok("/medsight/status").get("Device") or {}
            out["device"] = "%s (%s)" % (dev.get("Name"), dev.get("Type"))
        out["load_before"] = load()
        t0 = time.monotonic()
        node.store(files, timeout=3600)
        t1 = time.monotonic()
        out["send_s"] = t1 - t0
        out["rate"] = len(files) / (t1 - t0)
        stored = count_instances(node)
        if stored < len(files):
            raise harness.OrthancError("only %d of %d instances stored" % (stored, len(files)))
        out["load_after"] = load()
        if plugin:
            expected = len(args.sizes) * len(rules)
            done_at, jobs = wait_jobs(node, expected, args.jobs_timeout)
            out["jobs"] = jobs
            out["jobs_done_s"] = None if done_at is None else done_at - t0
            out["jobs_after_send_s"] = None if done_at is None else done_at - t1
    finally:
        if args.keep_orthanc:
            os.environ["MS_KEEP_TMP"] = "1"
        node.close()
    return out


def describe_jobs(jobs):
    by = {}
    for j in jobs:
        by.setdefault(j["Analysis"], []).append(j)
    lines = []
    for analysis, js in sorted(by.items()):
        states = {}
        for j in js:
            states[j["State"]] = states.get(j["State"], 0) + 1
        run = [j["RunMs"] for j in js if j.get("RunMs") is not None]
        wait = [j["QueueWaitMs"] for j in js if j.get("QueueWaitMs") is not None]
        lines.append("    %-13s %s; run ms median %s max %s; queue wait ms median %s"
                     % (analysis, ", ".join("%d %s" % (n, s) for s, n in sorted(states.items())),
                        "%.0f" % statistics.median(run) if run else "-",
                        "%.0f" % max(run) if run else "-",
                        "%.0f" % statistics.median(wait) if wait else "-"))
        for j in js:
            if j["State"] != "done":
                lines.append("      job %s %s: %s" % (j["ID"], j["State"], j.get("Error")))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", type=int, default=500)
    p.add_argument("--series", type=int, default=5,
                   help="series the instances are split into (default 5: 512x512x100 each)")
    p.add_argument("--device", default="auto", help="MedSight.Device (auto, gpu, cpu, a name)")
    p.add_argument("--rules", default="histogram,segmentation",
                   help="analyses a rule runs on every CT series")
    p.add_argument("--plugin", default=None,
                   help="libOrthancMedSight.so (default: MS_PLUGIN, MS_BUILD_DIR, build/)")
    p.add_argument("--data", default=None, help="keep the generated files here and reuse them")
    p.add_argument("--stable-age", type=int, default=2)
    p.add_argument("--jobs-timeout", type=float, default=1800)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--keep-orthanc", action="store_true",
                   help="keep the Orthanc directories (logs) for inspection")
    args = p.parse_args(argv)
    if args.instances < 1 or not 1 <= args.series <= args.instances:
        p.error("need instances >= series >= 1")
    args.sizes = series_sizes(args.instances, args.series)
    rules = [r for r in args.rules.split(",") if r]
    plugin = args.plugin or harness.find_plugin()
    if not plugin or not os.path.exists(plugin):
        p.error("plugin not found (%s): build it (scripts/bench.sh --ingest does) or pass "
                "--plugin" % plugin)
    plugin = os.path.abspath(plugin)

    data_dir = args.data or tempfile.mkdtemp(prefix="ms-ingest-")
    os.makedirs(data_dir, exist_ok=True)
    try:
        files = generate(data_dir, args.instances, args.series)
        mb = sum(os.path.getsize(f) for f in files) / 1e6
        print("ingest: %d instances, %.0f MB, one storescu association per run; plugin %s; "
              "rules %s; StableAge %d s" % (len(files), mb, plugin, "+".join(rules),
                                            args.stable_age))
        base, with_ms = [], []
        for i in range(args.repeat):
            for use in (None, plugin):
                r = run_once(files, use, args, rules)
                (with_ms if use else base).append(r)
                label = "with MedSight   " if use else "without MedSight"
                print("run %d %s: %d instances in %6.2f s = %6.1f instances/s, %.1f MB/s "
                      "(%s before, %s after)%s"
                      % (i + 1, label, len(files), r["send_s"], r["rate"], mb / r["send_s"],
                         r["load_before"], r["load_after"],
                         "; device " + r["device"] if use else ""))
                if use:
                    if r["jobs_done_s"] is None:
                        print("  jobs NOT all finished within %.0f s" % args.jobs_timeout)
                    else:
                        print("  all %d jobs finished %.1f s after the first instance was sent "
                              "(%.1f s after the last)" % (len(r["jobs"]), r["jobs_done_s"],
                                                          r["jobs_after_send_s"]))
                    print(describe_jobs(r["jobs"]))
                sys.stdout.flush()
        b = statistics.median(r["rate"] for r in base)
        w = statistics.median(r["rate"] for r in with_ms)
        slow = 100.0 * (b - w) / b
        print("slowdown: %.1f %% (%.1f -> %.1f instances/s, median of %d); target < 5 %%: %s"
              % (slow, b, w, args.repeat, "met" if slow < 5 else "NOT met"))
    finally:
        if not args.data:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
