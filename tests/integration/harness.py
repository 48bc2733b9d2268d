"""Integration harness: a real Orthanc (Debian package) with the built MedSight
plugin and DICOMweb, on free loopback ports, in a throw-away directory.

Environment (ctest sets all three):
  MS_PLUGIN     path of libOrthancMedSight.so (else MS_BUILD_DIR/..., else
                <source>/build/...; a test class is skipped only when no
                plugin can be found and MS_PLUGIN is unset)
  MS_BUILD_DIR  build directory
  MS_SOURCE_DIR repository root (for tests/phantoms)
  MS_KEEP_TMP=1 keep the Orthanc directories for post-mortem

Every OrthancNode is registered so that it is killed at interpreter exit,
on SIGTERM, and (through PR_SET_PDEATHSIG) when this process dies, so a
crashed test run leaves no stray Orthanc behind.
"""

import atexit
import copy
import ctypes
import datetime
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("MS_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "phantoms"))

ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
LAVAPIPE_ICD = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"
AET = "MEDSIGHT"
DEFAULT_MEDSIGHT = {
    "Device": "cpu",
    "Rules": [{"Analysis": "histogram", "Priority": "ROUTINE",
               "Match": {"Modality": "CT"}}],
}

_live_nodes = set()


def find_plugin():
    """Path of the built plugin, or None when none can be found."""
    env = os.environ.get("MS_PLUGIN")
    if env:
        return env
    for d in (os.environ.get("MS_BUILD_DIR"), os.path.join(SOURCE_DIR, "build")):
        if d:
            p = os.path.join(d, "libOrthancMedSight.so")
            if os.path.exists(p):
                return p
    return None


def require_plugin():
    """Plugin path; SkipTest only when nothing points at a plugin at all
    (MS_PLUGIN set to a missing file is a failure, not a skip)."""
    p = find_plugin()
    if p is None:
        raise unittest.SkipTest("libOrthancMedSight.so not built "
                                "(set MS_PLUGIN or MS_BUILD_DIR)")
    if not os.path.exists(p):
        raise AssertionError("MS_PLUGIN=%s does not exist" % p)
    return p


def free_port():
    """A currently free TCP port on 127.0.0.1 (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_gpu():
    return os.path.exists("/dev/nvidia0") or any(
        n.startswith("renderD") for n in _listdir("/dev/dri"))


def _listdir(d):
    try:
        return os.listdir(d)
    except OSError:
        return []


def _die_with_parent():
    # Runs in the child between fork and exec: SIGKILL it when we die.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except OSError:
        pass


def _kill_all():
    for node in list(_live_nodes):
        node.kill(quiet=True)


def _on_sigterm(signum, frame):
    _kill_all()
    raise SystemExit(128 + signum)


atexit.register(_kill_all)
if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
    signal.signal(signal.SIGTERM, _on_sigterm)


class OrthancError(Exception):
    pass


class OrthancNode:
    """One Orthanc process and its directory. Not thread-safe.

    medsight: dict merged (shallowly) over DEFAULT_MEDSIGHT.
    plugin: path of the MedSight plugin; None runs Orthanc + DICOMweb only.
    config: extra top-level Orthanc options (override the defaults).
    wrapper: argv prefix that runs Orthanc (e.g. ["valgrind", "--error-exitcode=1"]);
        None runs it directly.
    """

    def __init__(self, medsight=None, plugin=None, stable_age=2, config=None,
                 name="MedSightTest", wrapper=None):
        self.plugin = plugin
        self.wrapper = list(wrapper or [])
        self.dir = tempfile.mkdtemp(prefix="ms-orthanc-")
        self.http_port = free_port()
        self.dicom_port = free_port()
        self.base = "http://127.0.0.1:%d" % self.http_port
        self.log_path = os.path.join(self.dir, "orthanc.log")
        self.proc = None
        self.starts = 0
        ms = copy.deepcopy(DEFAULT_MEDSIGHT)
        ms.update(medsight or {})
        plugins = [DICOMWEB_PLUGIN]
        if plugin:
            plugins.insert(0, plugin)
        cfg = {
            "Name": name,
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": AET,
            "StorageDirectory": os.path.join(self.dir, "storage"),
            "IndexDirectory": os.path.join(self.dir, "index"),
            "StableAge": stable_age,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "Plugins": plugins,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "DicomModalities": {},
            "MedSight": ms,
        }
        cfg.update(config or {})
        self.config = cfg
        self.config_path = os.path.join(self.dir, "orthanc.json")
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=2)

    # -- process control -------------------------------------------------

    def start(self, timeout=30.0):
        """Start Orthanc and wait until GET /system answers."""
        if self.proc is not None:
            raise OrthancError("already running")
        env = dict(os.environ, TCP_NODELAY="1")
        if not (has_gpu() or "VK_ICD_FILENAMES" in env or "VK_DRIVER_FILES" in env):
            env["VK_ICD_FILENAMES"] = LAVAPIPE_ICD
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(b"\n===== start %d =====\n" % self.starts)
        log.flush()
        try:
            self.proc = subprocess.Popen(
                self.wrapper + [ORTHANC, "--verbose", self.config_path], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, env=env,
                preexec_fn=_die_with_parent)
        finally:
            log.close()
        _live_nodes.add(self)
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                _live_nodes.discard(self)
                raise OrthancError("Orthanc exited with %d during start-up:\n%s"
                                   % (rc, self.log_tail()))
            try:
                status, _ = self.get("/system", timeout=2)
                if status == 200:
                    return self
            except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
                pass
            if time.monotonic() > deadline:
                self.kill(quiet=True)
                raise OrthancError("Orthanc did not answer /system within %.0f s:\n%s"
                                   % (timeout, self.log_tail()))
            time.sleep(0.1)

    def stop(self, timeout=30.0):
        """SIGTERM and wait; returns the exit code. Raises OrthancError (after
        a SIGKILL) when Orthanc does not exit in time: a hang at shutdown is a
        bug (e.g. a worker thread that is never joined)."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(quiet=True)
            raise OrthancError("Orthanc did not stop within %.0f s:\n%s"
                               % (timeout, self.log_tail()))
        self.proc = None
        _live_nodes.discard(self)
        return rc

    def kill(self, quiet=False):
        """SIGKILL (a crash as far as Orthanc and the plugin can tell)."""
        if self.proc is None:
            return
        try:
            self.proc.kill()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            if not quiet:
                raise
        self.proc = None
        _live_nodes.discard(self)

    def restart(self, kill=False, timeout=30.0):
        """Stop (or SIGKILL when kill) and start again on the same storage."""
        if kill:
            self.kill()
        else:
            rc = self.stop()
            if rc not in (None, 0):
                raise OrthancError("Orthanc exited with %d on SIGTERM:\n%s"
                                   % (rc, self.log_tail()))
        return self.start(timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        """Stop the process (kill if needed) and remove the directory."""
        try:
            self.stop()
        except OrthancError:
            pass
        finally:
            self.kill(quiet=True)
            if os.environ.get("MS_KEEP_TMP") == "1":
                sys.stderr.write("kept %s\n" % self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def log_tail(self, lines=60):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()[-200000:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(data.splitlines()[-lines:])

    # -- REST -------------------------------------------------------------

    def request(self, method, path, body=None, query=None, timeout=30,
                headers=None):
        """(HTTP status, parsed JSON or text or None). body: dict/list -> JSON,
        str/bytes sent as is. Never raises on HTTP error statuses."""
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = body
        req = urllib.request.Request(url, data=data, method=method,
                                     headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if not raw:
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def get(self, path, query=None, **kw):
        return self.request("GET", path, query=query, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body if body is not None else b"", **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def get_ok(self, path, query=None):
        status, body = self.get(path, query)
        if status != 200:
            raise OrthancError("GET %s -> %d %r" % (path, status, body))
        return body

    # -- DICOM --------------------------------------------------------------

    def store(self, files, timeout=300):
        """C-STORE files with storescu (TCP_NODELAY=1); raises on failure."""
        files = list(files)
        cmd = ["storescu", "-aet", "MSTEST", "-aec", AET, "127.0.0.1",
               str(self.dicom_port)] + files
        r = subprocess.run(cmd, env=dict(os.environ, TCP_NODELAY="1"),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        if r.returncode != 0:
            raise OrthancError("storescu rc %d:\n%s" % (
                r.returncode, r.stdout.decode("utf-8", "replace")[-3000:]))

    def upload(self, files):
        """POST /instances for each file (faster than C-STORE for a few)."""
        ids = []
        for f in files:
            with open(f, "rb") as fh:
                status, body = self.post("/instances", fh.read(),
                                         headers={"Expect": ""})
            if status != 200:
                raise OrthancError("upload %s -> %d %r" % (f, status, body))
            ids.append(body["ID"])
        return ids

    def series_id(self, series_uid):
        """Orthanc ID of a series from its SeriesInstanceUID (None if absent)."""
        status, body = self.post("/tools/lookup", series_uid)
        if status != 200:
            return None
        for item in body:
            if item.get("Type") == "Series":
                return item["ID"]
        return None

    def wait_series(self, series_uid, count, timeout=30):
        """Orthanc series ID once it holds count instances."""
        def ready():
            sid = self.series_id(series_uid)
            if sid is None:
                return None
            st, s = self.get("/series/%s" % sid)
            return sid if st == 200 and len(s.get("Instances", [])) >= count else None
        return wait_for(ready, timeout, "series %s with %d instances" % (series_uid, count))

    # -- MedSight -----------------------------------------------------------

    def jobs(self, **query):
        """GET /medsight/jobs with query (state, limit, series); raises unless 200."""
        return self.get_ok("/medsight/jobs", query or None)

    def job(self, job_id):
        return self.get_ok("/medsight/jobs/%s" % job_id)

    def wait_job(self, predicate=None, timeout=30, poll=0.2, **query):
        """First job (from /medsight/jobs?query) satisfying predicate."""
        last = []

        def probe():
            try:
                jobs = self.jobs(**query)
            except (OrthancError, OSError):
                return None
            last[:] = [jobs]
            for j in jobs:
                if predicate is None or predicate(j):
                    return j
            return None
        try:
            return wait_for(probe, timeout, "job matching %r" % (query,), poll)
        except AssertionError as e:
            raise AssertionError("%s; last list: %s" % (e, json.dumps(last[:1])[:2000])) from None

    def wait_job_state(self, job_id, states=("done", "failed", "cancelled"),
                       timeout=60, poll=0.2):
        """Job object once its State is in states."""
        seen = {}

        def probe():
            st, j = self.get("/medsight/jobs/%s" % job_id)
            if st == 200:
                seen["job"] = j
                if j.get("State") in states:
                    return j
            return None
        try:
            return wait_for(probe, timeout, "job %s in %s" % (job_id, states), poll)
        except AssertionError as e:
            raise AssertionError("%s; last: %r" % (e, seen.get("job"))) from None


HIST_DEFAULTS = {"BinWidth": 10.0, "Min": -1024.0, "Max": 3071.0}


def expected_histogram(hu, bin_width=10.0, lo=-1024.0, hi=3071.0):
    """numpy truth for the histogram analysis: bins of bin_width cover
    [lo, hi); values < lo count in bin 0 and values >= hi in the last."""
    v = np.asarray(hu, dtype=np.float64).ravel()
    nbins = int(math.ceil((hi - lo) / bin_width))
    idx = np.floor((v - lo) / bin_width).astype(np.int64)
    idx = np.clip(idx, 0, nbins - 1)
    idx[v >= hi] = nbins - 1
    return {"Count": int(v.size), "Min": float(v.min()), "Max": float(v.max()),
            "Mean": float(v.mean()), "StdDev": float(v.std()),
            "Bins": np.bincount(idx, minlength=nbins).tolist()}


def parse_time(s):
    """ISO-8601 string (with or without zone / fraction) -> datetime."""
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def wait_for(fn, timeout, what="condition", poll=0.2):
    """Poll fn until it returns a truthy value; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(poll)


class NodeTestCase(unittest.TestCase):
    """One Orthanc (with the plugin) per TestCase class.

    Subclasses may set MEDSIGHT (config dict), STABLE_AGE, CONFIG. The node is
    cls.node; it is closed by a class cleanup even if setUpClass fails. On any
    failing test the Orthanc log tail is printed to stderr.
    """
    MEDSIGHT = None
    STABLE_AGE = 2
    CONFIG = None
    NEEDS_PLUGIN = True

    @classmethod
    def setUpClass(cls):
        plugin = require_plugin() if cls.NEEDS_PLUGIN else None
        cls.tmp = tempfile.mkdtemp(prefix="ms-phantoms-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.node = OrthancNode(medsight=cls.MEDSIGHT, plugin=plugin,
                               stable_age=cls.STABLE_AGE, config=cls.CONFIG)
        cls.addClassCleanup(cls.node.close)
        cls.node.start()

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        node = getattr(type(self), "node", None)
        if node is not None and len(result.failures) + len(result.errors) > before:
            sys.stderr.write("\n----- Orthanc log tail (%s) -----\n%s\n-----\n"
                             % (self.id(), node.log_tail()))
        return out

    def assertHistogram(self, result, hu, spacing):
        """Compare a histogram job's Result with numpy on the phantom's HU:
        Count/Min/Max/Bins exact, Mean/StdDev relative 1e-5."""
        self.assertIsInstance(result, dict, "Result missing")
        want = expected_histogram(hu)
        nz, ny, nx = np.shape(hu)
        self.assertEqual(result["Count"], want["Count"])
        self.assertEqual(result["Min"], want["Min"])
        self.assertEqual(result["Max"], want["Max"])
        for key in ("Mean", "StdDev"):
            self.assertLessEqual(abs(result[key] - want[key]),
                                 1e-5 * max(abs(want[key]), 1e-9),
                                 "%s %r != %r" % (key, result[key], want[key]))
        self.assertEqual(result["BinWidth"], HIST_DEFAULTS["BinWidth"])
        self.assertEqual(result["BinMin"], HIST_DEFAULTS["Min"])
        self.assertEqual(result["BinMax"], HIST_DEFAULTS["Max"])
        self.assertEqual(len(result["Bins"]), len(want["Bins"]))
        if result["Bins"] != want["Bins"]:
            diff = [(i, g, w) for i, (g, w) in
                    enumerate(zip(result["Bins"], want["Bins"])) if g != w]
            self.fail("%d bins differ (index, got, want): %s" % (len(diff), diff[:10]))
        self.assertEqual(result["Size"], [nx, ny, nz])
        for got, exp in zip(result["Spacing"], spacing):
            self.assertAlmostEqual(got, exp, places=4)
        self.assertEqual(len(result["Spacing"]), 3)
        self.assertIsInstance(result["Device"], str)
        self.assertGreaterEqual(result["GpuMs"], 0)

    def assertAlive(self):
        """Orthanc must still answer /system (after every bad input)."""
        self.assertTrue(self.node.alive(), "Orthanc process died")
        status, body = self.node.get("/system")
        self.assertEqual(status, 200)
        self.assertIn("Version", body)
