"""STOW-RS forwarding (MedSight.Forward) between two real Orthancs on loopback.

The sender runs MedSight; the archive runs only the DICOMweb plugin, with HTTP
basic authentication. Instances are queued through POST /medsight/forward (the
administrator's re-send), the same outbox and thread that forward job results.

- delivery: the archive holds byte-identical instances (QIDO-RS + file);
- a 4xx destination (wrong password) fails after MaxAttempts with the status;
- archive down: retries with exponential backoff, visible in REST; the sender
  restarts mid-way and nothing is lost; the archive comes back: done;
- a destination that never answers: a stop interrupts the send at once and
  the attempt does not count; a SIGKILL mid-send leaves a "sending" row that
  start-up recovery resends, and gives up once MaxAttempts is used up;
- REST input errors; the job JSON carries "Forward"; secrets stay out of logs.

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_forward
"""

import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import harness
import make_series

USER, PASSWORD = "medsight", "s3cret-Pw"
AUTH = {"Authorization": "Basic " + base64.b64encode(
    ("%s:%s" % (USER, PASSWORD)).encode()).decode()}


class AuthNode(harness.OrthancNode):
    """An Orthanc that requires basic authentication; its own REST calls
    (the harness's start-up probe included) send the credentials."""

    def request(self, method, path, body=None, query=None, timeout=30, headers=None):
        return super().request(method, path, body, query, timeout, dict(AUTH, **(headers or {})))


def read_log(node):
    with open(node.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def md5(data):
    return hashlib.md5(data).hexdigest()


class ForwardBase(unittest.TestCase):
    """An archive (DICOMweb only, basic auth) and a phantom series on disk."""

    @classmethod
    def setUpClass(cls):
        cls.plugin = harness.require_plugin()
        cls.tmp = tempfile.mkdtemp(prefix="ms-forward-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.archive = AuthNode(
            plugin=None, name="Archive",
            config={"AuthenticationEnabled": True,
                    "RegisteredUsers": {USER: PASSWORD}})
        cls.addClassCleanup(cls.archive.close)
        cls.archive.start()
        cls.series = make_series.make_ct_series(
            os.path.join(cls.tmp, "ct"), seed=900, nx=32, ny=32, nz=4,
            uid_salt=cls.__name__)

    @classmethod
    def make_node(cls, forward):
        # No rules: only the test queues anything.
        node = harness.OrthancNode(plugin=cls.plugin,
                                   medsight={"Rules": [], "Forward": forward})
        cls.addClassCleanup(node.close)
        node.start()
        return node

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for name in ("node", "archive"):
                node = getattr(type(self), name, None)
                if node is not None:
                    sys.stderr.write("\n----- %s log tail (%s) -----\n%s\n-----\n"
                                     % (name, self.id(), node.log_tail(80)))
        return out

    # -- helpers -------------------------------------------------------------

    def forward(self, node, instances, want=200):
        status, body = node.post("/medsight/forward", {"Instances": instances})
        self.assertEqual(status, want, body)
        return body

    def rows(self, node, **query):
        return node.get_ok("/medsight/forward", query or None)

    def row(self, node, instance, destination):
        """Newest outbox row for (instance, destination), or None."""
        for r in self.rows(node, limit=1000):
            if r["Instance"] == instance and r["Destination"] == destination:
                return r
        return None

    def wait_row(self, node, instance, destination, pred, timeout, what):
        last = {}

        def probe():
            r = self.row(node, instance, destination)
            last["row"] = r
            return r if r is not None and pred(r) else None
        try:
            return harness.wait_for(probe, timeout, what, poll=0.1)
        except AssertionError as e:
            raise AssertionError("%s; last row: %r" % (e, last.get("row"))) from None

    def archive_sops(self):
        """SOP Instance UIDs of the phantom series in the archive (QIDO-RS)."""
        status, body = self.archive.get(
            "/dicom-web/studies/%s/series/%s/instances"
            % (self.series["study_uid"], self.series["series_uid"]),
            headers={"Accept": "application/dicom+json"})
        if status == 204 or body is None:
            return set()
        self.assertEqual(status, 200, body)
        return {i["00080018"]["Value"][0] for i in body}

    def archive_file(self, instance_id):
        url = self.archive.base + "/instances/%s/file" % instance_id
        req = urllib.request.Request(url, headers=AUTH)
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()


class ForwardTest(ForwardBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        root = cls.archive.base + "/dicom-web/"
        cls.node = cls.make_node([
            {"Name": "archive", "Url": root, "Username": USER, "Password": PASSWORD,
             "MaxAttempts": 8, "TimeoutSeconds": 10},
            {"Name": "badauth", "Url": root, "Username": USER, "Password": "wrong-Pw",
             "MaxAttempts": 2, "TimeoutSeconds": 10},
            {"Name": "badpath", "Url": cls.archive.base + "/no-such-root", "Username": USER,
             "Password": PASSWORD, "MaxAttempts": 1},
        ])
        cls.ids = cls.node.upload(cls.series["files"])

    def tearDown(self):
        self.assertTrue(self.node.alive(), "Orthanc (sender) died")

    def test_1_delivery_and_4xx(self):
        t_post = time.monotonic()
        body = self.forward(self.node, self.ids[:2])
        self.assertEqual(body["Instances"], self.ids[:2])
        self.assertEqual(body["Destinations"], ["archive", "badauth", "badpath"])
        for inst in self.ids[:2]:
            r = self.wait_row(self.node, inst, "archive",
                              lambda r: r["State"] == "done", 30, "delivery")
            self.assertEqual(r["Attempts"], 1)
            self.assertIsNone(r["Error"])
            self.assertIsNone(r["Job"])
            self.assertIsNone(r["NextAttemptAt"])
            self.assertIsNotNone(r["FinishedAt"])
        want = {make_series_sop(f) for f in self.series["files"][:2]}
        self.assertEqual(self.archive_sops(), want)
        # Orthanc ids derive from the UIDs: the archive's copy is byte-identical.
        for inst, path in zip(self.ids[:2], self.series["files"][:2]):
            with open(path, "rb") as f:
                self.assertEqual(md5(self.archive_file(inst)), md5(f.read()))

        # Wrong password: 401, retried once after 2 s, then failed with the reason.
        r = self.wait_row(self.node, self.ids[0], "badauth",
                          lambda r: r["State"] == "failed", 30, "4xx failure")
        self.assertGreaterEqual(time.monotonic() - t_post, 1.9, "no backoff before the 2nd attempt")
        self.assertEqual(r["Attempts"], 2)
        self.assertRegex(r["Error"], r"^gave up after 2 attempts: HTTP 401 \(Unauthorized: check Username/Password "
                         r"or BearerToken\) from "
                         r"http://127\.0\.0\.1:\d+/dicom-web/studies")
        # Wrong Url: 404, and MaxAttempts 1 gives up at once.
        r = self.wait_row(self.node, self.ids[0], "badpath",
                          lambda r: r["State"] == "failed", 30, "404 failure")
        self.assertEqual(r["Attempts"], 1)
        self.assertRegex(r["Error"], r"^gave up after 1 attempt: HTTP 404 \(Not Found: check that Url "
                         r"is the DICOMweb root\) from http://127\.0\.0\.1:\d+/no-such-root/studies")
        log = read_log(self.node)
        self.assertIn("attempt 1 of 2, next in 2 s", log)
        # The passwords are never logged, though the configuration is.
        self.assertIn("Username=*** Password=***", log)
        self.assertNotIn(PASSWORD, log)
        self.assertNotIn("wrong-Pw", log)

        # Re-sending a delivered instance queues it afresh (same row, new try).
        self.forward(self.node, [self.ids[0]])
        r = self.wait_row(self.node, self.ids[0], "archive",
                          lambda r: r["State"] == "done", 30, "re-send")
        self.assertEqual(r["Attempts"], 1)

    def test_2_archive_down_backoff_and_restart(self):
        inst = self.ids[2]
        sop = make_series_sop(self.series["files"][2])
        self.assertNotIn(sop, self.archive_sops())
        self.archive.stop()
        try:
            self.forward(self.node, [inst])
            r = self.wait_row(self.node, inst, "archive",
                              lambda r: r["Attempts"] >= 2 and r["State"] == "pending",
                              30, "two failed attempts")
            self.assertRegex(r["Error"], r"^cannot send to http://127\.0\.0\.1:\d+/dicom-web/studies: ")
            self.assertRegex(r["Error"], r"(?i)connect")
            self.assertGreater(harness.parse_time(r["NextAttemptAt"]).timestamp(), time.time() - 1)
            log = read_log(self.node)
            self.assertIn("attempt 1 of 8, next in 2 s", log)
            self.assertIn("attempt 2 of 8, next in 4 s", log)
            # Restart the sender mid-way: the row, its attempts and error survive.
            attempts = r["Attempts"]
            self.node.restart()
            r = self.row(self.node, inst, "archive")
            self.assertIsNotNone(r, "outbox row lost across a restart")
            self.assertIn(r["State"], ("pending", "sending"))
            self.assertGreaterEqual(r["Attempts"], attempts)
            self.assertIsNotNone(r["Error"])
        finally:
            self.archive.start()
        r = self.wait_row(self.node, inst, "archive",
                          lambda r: r["State"] in ("done", "failed"), 90, "delivery after the outage")
        self.assertEqual(r["State"], "done", r)
        self.assertGreaterEqual(r["Attempts"], 3)
        self.assertIsNone(r["Error"])
        self.assertIn(sop, self.archive_sops())

    def test_3_rest_errors(self):
        node = self.node
        cases = [
            (b"not json", 400, "not valid JSON"),
            ([], 400, "JSON object"),
            ({}, 400, "\"Instances\" must be an array"),
            ({"Instances": []}, 400, "\"Instances\" must be an array"),
            ({"Instances": [1]}, 400, "\"Instances\"[0] is not an Orthanc instance id"),
            ({"Instances": ["a/b"]}, 400, "not an Orthanc instance id"),
            ({"Instances": self.ids[:1], "Priority": "STAT"}, 400, "unknown key 'Priority'"),
            ({"Instances": [self.ids[0], "0000-no-such"]}, 404, "no instance '0000-no-such'"),
        ]
        before = len(self.rows(node, limit=1000))
        for body, status, message in cases:
            st, out = node.post("/medsight/forward", body)
            self.assertEqual(st, status, (body, out))
            self.assertIn(message, out["Error"], body)
        self.assertEqual(len(self.rows(node, limit=1000)), before, "a refused request queued rows")
        for query in ({"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"job": "-1"}):
            st, out = node.get("/medsight/forward", query)
            self.assertEqual(st, 400, (query, out))
        st, _ = node.delete("/medsight/forward")
        self.assertEqual(st, 405)
        self.assertEqual(len(self.rows(node, limit=1)), 1)
        self.assertEqual(self.rows(node, job="12345"), [])

    def test_4_job_json_has_forward(self):
        sid = self.node.series_id(self.series["series_uid"])
        st, out = self.node.post("/medsight/series/%s/analyze" % sid, {"Analysis": "histogram"})
        self.assertEqual(st, 200, out)
        job = self.node.wait_job_state(out["ID"], timeout=120)
        self.assertEqual(job["State"], "done", job)
        # histogram stores no DICOM object: nothing to forward, but the key is there.
        self.assertEqual(job["Forward"], [])
        listed = [j for j in self.node.jobs() if j["ID"] == out["ID"]]
        self.assertEqual(listed[0]["Forward"], [])


def make_series_sop(path):
    """SOP Instance UID of a phantom file (pydicom)."""
    import pydicom
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


class Blackhole:
    """A TCP port that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class InterruptTest(ForwardBase):
    """A destination that never answers keeps a row "sending" for as long as
    the test needs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hole = Blackhole()
        cls.addClassCleanup(cls.hole.close)
        cls.node = cls.make_node([
            {"Name": "hole", "Url": "http://127.0.0.1:%d/dicom-web" % cls.hole.port,
             "MaxAttempts": 1, "TimeoutSeconds": 300}])
        cls.ids = cls.node.upload(cls.series["files"][:1])

    def test_stop_and_kill_while_sending(self):
        node, inst = self.node, self.ids[0]
        self.forward(node, [inst])
        r = self.wait_row(node, inst, "hole", lambda r: r["State"] == "sending", 20, "sending")
        self.assertEqual(r["Attempts"], 1)

        # A clean stop aborts the send at once; the attempt does not count.
        t0 = time.monotonic()
        self.assertEqual(node.stop(), 0)
        self.assertLess(time.monotonic() - t0, 10, "stop waited for the send")
        node.start()
        r = self.wait_row(node, inst, "hole", lambda r: r["State"] == "sending", 20,
                          "sending again after the restart")
        self.assertEqual(r["Attempts"], 1)

        # SIGKILL mid-send: recovery re-queues the row; the interrupted send used
        # up MaxAttempts (1), so it fails with a message saying why.
        node.restart(kill=True)
        r = self.wait_row(node, inst, "hole", lambda r: r["State"] == "failed", 20, "give up")
        self.assertEqual(r["Error"],
                         "interrupted during attempt 1 of 1 (Orthanc stopped); giving up")
        log = node.log_tail(400)
        self.assertIn("1 forward(s) were being sent when Orthanc stopped", log)
        self.assertIn("failed: interrupted during attempt 1 of 1", log)


class FakeStow:
    """A DICOMweb server stand-in that records each STOW-RS request and gives
    the canned answers of `answers` in turn ((status, JSON body) pairs)."""

    def __init__(self, answers):
        self.requests = []
        self.answers = list(answers)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body})
                status, answer = fake.answers.pop(0) if fake.answers else (500, {})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/dicom+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class StowAnswerTest(ForwardBase):
    """The request as a server sees it, and how STOW-RS answers are judged."""

    TOKEN = "t0ken-abc"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Over 1 MB: libcurl would send "Expect: 100-continue" unless told not to.
        cls.big = make_series.make_ct_series(os.path.join(cls.tmp, "big"), seed=901, nx=768,
                                             ny=768, nz=1, uid_salt="stow-big")
        failed = {"00081198": {"vr": "SQ", "Value": [
            {"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
             "00081197": {"vr": "US", "Value": [0xA700]}}]}}
        stored = {"00081199": {"vr": "SQ", "Value": [{}]}}
        cls.fake = FakeStow([(202, failed), (200, stored)])
        cls.addClassCleanup(cls.fake.close)
        cls.node = cls.make_node([
            {"Name": "fake", "Url": "http://127.0.0.1:%d/dicom-web/" % cls.fake.port,
             "BearerToken": cls.TOKEN, "MaxAttempts": 2, "TimeoutSeconds": 10}])
        cls.ids = cls.node.upload(cls.big["files"])

    def test_request_and_answers(self):
        inst = self.ids[0]
        self.forward(self.node, [inst])
        r = self.wait_row(self.node, inst, "fake", lambda r: r["Attempts"] == 1 and r["State"] == "pending",
                          20, "first answer: 202 with a Failed SOP Sequence")
        self.assertRegex(r["Error"], r"^http://127\.0\.0\.1:\d+/dicom-web/studies refused the instance "
                         r"\(HTTP 202, Failed SOP Sequence\): failure reason 0xA700 \(out of resources\)$")
        r = self.wait_row(self.node, inst, "fake", lambda r: r["State"] != "pending", 20, "second answer")
        self.assertEqual(r["State"], "done", r)
        self.assertEqual(r["Attempts"], 2)

        self.assertEqual(len(self.fake.requests), 2)
        with open(self.big["files"][0], "rb") as f:
            dicom = f.read()
        self.assertGreater(len(dicom), 1 << 20)
        for req in self.fake.requests:
            h = {k.lower(): v for k, v in req["headers"].items()}
            self.assertEqual(req["path"], "/dicom-web/studies")
            self.assertNotIn("expect", h)
            self.assertEqual(h["authorization"], "Bearer " + self.TOKEN)
            self.assertEqual(h["accept"], "application/dicom+json")
            m = re.fullmatch(r'multipart/related; type="application/dicom"; boundary=(\S+)',
                             h["content-type"])
            self.assertIsNotNone(m, h["content-type"])
            b = m.group(1).encode()
            self.assertEqual(req["body"], b"--" + b + b"\r\nContent-Type: application/dicom\r\n\r\n" + dicom
                             + b"\r\n--" + b + b"--\r\n")
        log = read_log(self.node)
        self.assertIn("BearerToken=***", log)
        self.assertNotIn(self.TOKEN, log)


if __name__ == "__main__":
    unittest.main()
