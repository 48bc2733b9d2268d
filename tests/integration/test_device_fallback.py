"""GPU faults: a device lost during a job makes the job run again on a fresh CPU (lavapipe) context,
and the job record says so. The fault is injected with MS_VK_INJECT_DEVICE_LOST (compute/vk_kernel.c):
the N-th kernel run of the process fails as VK_ERROR_DEVICE_LOST and that context stays lost."""
import os
import sys
import tempfile
import unittest

from harness import OrthancNode, require_plugin

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from phantoms.make_series import make_ct_series  # noqa: E402


class DeviceFallbackTest(unittest.TestCase):
    def test_device_lost_retries_on_cpu(self):
        plugin = require_plugin()
        tmp = tempfile.mkdtemp(prefix="ms-fallback-")
        series = make_ct_series(tmp, nx=32, ny=32, nz=6, seed=11)
        os.environ["MS_VK_INJECT_DEVICE_LOST"] = "1"
        try:
            node = OrthancNode(plugin=plugin, medsight={"Device": "cpu", "Rules": []})
            node.start()
        finally:
            del os.environ["MS_VK_INJECT_DEVICE_LOST"]
        try:
            node.store(series["files"])
            sid = node.series_id(series["series_uid"])
            status, body = node.post("/medsight/series/%s/analyze" % sid, {"Analysis": "histogram"})
            self.assertEqual(status, 200, body)
            job = node.wait_job_state(body["ID"], timeout=60)
            self.assertEqual(job["State"], "done", job)
            self.assertIn("device failure", job["DeviceFallback"])
            self.assertIn("retried on", job["DeviceFallback"])
            self.assertEqual(job["Result"]["Count"], 32 * 32 * 6)
            self.assertIn("device failure", node.log_tail(200))
            # The next job uses the lost primary device again and recovers the same way.
            status, body = node.post("/medsight/series/%s/analyze" % sid, {"Analysis": "histogram"})
            job = node.wait_job_state(body["ID"], timeout=60)
            self.assertEqual(job["State"], "done", job)
            self.assertTrue(job["DeviceFallback"])
        finally:
            node.close()


if __name__ == "__main__":
    unittest.main()
