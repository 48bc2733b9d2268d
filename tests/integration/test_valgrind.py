"""Memcheck over the real plugin: Orthanc (Debian package) runs under valgrind with the
built libOrthancMedSight.so on lavapipe; the plugin loads, answers /medsight/status, runs the
histogram job of a small stored series and unloads on a clean stop. The test fails on any
memcheck error (invalid read/write, use of uninitialised values, bad free) with a frame in
libOrthancMedSight.so; errors wholly inside Orthanc, DCMTK or Mesa are reported in the log
but do not fail it (tests/valgrind.supp silences the known ones). Leaks are not checked
here (LeakSanitizer does that for the unit and kernel tests).

Skipped when valgrind is not installed. MS_VALGRIND=0 skips it too (quick local runs).
Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_valgrind
"""

import os
import shutil
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

import harness
import make_series

VALGRIND = shutil.which("valgrind")
PLUGIN_LIB = "libOrthancMedSight.so"


def memcheck_errors(xml_path):
    """[(kind, what, frames)] for every error in a memcheck --xml=yes file (which must show
    the program finished under valgrind); frames are the
    "function (object)" strings of the error's own stack, innermost first (not those of the
    auxiliary stacks that say where a block was allocated or freed)."""
    # valgrind appends nothing after </valgrindoutput> but may leave it unterminated when the
    # process is killed; parse what is there.
    with open(xml_path, "rb") as f:
        data = f.read()
    if b"</valgrindoutput>" not in data:
        data += b"</valgrindoutput>"
    root = ET.fromstring(data)
    states = [st.findtext("state") for st in root.iter("status")]
    if "FINISHED" not in states:
        raise AssertionError("valgrind did not see Orthanc finish (states %r)" % states)
    errors = []
    for err in root.iter("error"):
        kind = err.findtext("kind", "")
        what = err.findtext("what") or err.findtext("xwhat/text") or ""
        stack = err.find("stack")
        frames = [] if stack is None else [
            "%s (%s)" % (fr.findtext("fn", "?"), fr.findtext("obj", "?"))
            for fr in stack.iter("frame")]
        errors.append((kind, what, frames))
    return errors


@unittest.skipIf(VALGRIND is None, "valgrind not installed")
@unittest.skipIf(os.environ.get("MS_VALGRIND") == "0", "MS_VALGRIND=0")
class ValgrindTest(unittest.TestCase):
    def setUp(self):
        self.plugin = harness.require_plugin()
        self.tmp = tempfile.mkdtemp(prefix="ms-valgrind-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.xml = os.path.join(self.tmp, "memcheck.xml")
        supp = os.path.join(harness.SOURCE_DIR, "tests", "valgrind.supp")
        self.wrapper = [
            VALGRIND, "--tool=memcheck", "--error-exitcode=1", "--xml=yes",
            "--xml-file=" + self.xml, "--leak-check=no", "--errors-for-leak-kinds=none",
            # lavapipe JIT-compiles the shaders with LLVM: code written at run time.
            "--smc-check=all-non-file",
            "--suppressions=" + supp, "--num-callers=30",
        ]

    def test_plugin_load_job_unload(self):
        node = harness.OrthancNode(plugin=self.plugin, wrapper=self.wrapper, stable_age=1)
        try:
            node.start(timeout=240)
            status = node.get_ok("/medsight/status")
            self.assertTrue(status["Device"]["Name"])
            series = make_series.make_ct_series(os.path.join(self.tmp, "ct"), nx=16, ny=16,
                                                nz=6, seed=7)
            node.upload(series["files"])
            sid = node.wait_series(series["series_uid"], len(series["files"]), timeout=120)
            job = node.wait_job(lambda j: j["State"] in ("done", "failed"), timeout=300,
                                poll=1.0, series=sid)
            self.assertEqual(job["State"], "done", job.get("Error"))
            self.assertEqual(job["Result"]["Count"], 16 * 16 * 6)
            # A clean stop unloads the plugin (workers joined, Vulkan torn down) under memcheck.
            rc = node.stop(timeout=240)
        except Exception:
            sys.stderr.write("\n----- Orthanc log tail -----\n%s\n" % node.log_tail(100))
            raise
        finally:
            node.close()

        errors = memcheck_errors(self.xml)
        for kind, what, frames in errors:
            sys.stderr.write("memcheck %s%s: %s\n    %s\n" % (
                kind, " [MedSight]" if any(PLUGIN_LIB in f for f in frames) else "", what,
                "\n    ".join(frames[:12])))
        ours = [e for e in errors if any(PLUGIN_LIB in f for f in e[2])]
        self.assertEqual(ours, [], "%d memcheck error(s) in %s" % (len(ours), PLUGIN_LIB))
        # --error-exitcode=1: 1 only when memcheck saw (unsuppressed) errors elsewhere, which
        # are printed above but are not MedSight's; anything else is Orthanc's own failure.
        self.assertEqual(rc, 1 if errors else 0, "Orthanc under valgrind exited with %r" % rc)


if __name__ == "__main__":
    unittest.main()
