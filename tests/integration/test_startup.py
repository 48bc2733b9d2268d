"""Start-up contract: a bad MedSight configuration stops the plugin (and Orthanc) with a clear
log line; a good one logs the device and serves /medsight/status."""
import unittest

from harness import OrthancError, OrthancNode, require_plugin


class StartupTest(unittest.TestCase):
    def setUp(self):
        self.plugin = require_plugin()

    def start_expecting_failure(self, medsight, phrase):
        node = OrthancNode(medsight=medsight, plugin=self.plugin)
        try:
            with self.assertRaises(OrthancError) as cm:
                node.start(timeout=20)
            self.assertIn(phrase, str(cm.exception))
            self.assertIn("refuses to start", str(cm.exception))
        finally:
            node.close()

    def test_bad_values_refuse_to_start(self):
        cases = [
            ({"Workers": 0}, "MedSight.Workers: 0 is below the minimum 1"),
            ({"MemoryBudgetMB": "lots"}, "MedSight.MemoryBudgetMB"),
            ({"Devise": "cpu"}, "MedSight.Devise: unknown key"),
            ({"Rules": [{"Analysis": "bogus"}]}, "MedSight.Rules[0].Analysis"),
            ({"Calcium": {"Connectivity": 6}}, "MedSight.Calcium.Connectivity: 6 is not 4 or 8"),
            ({"Device": "no-such-gpu-name"}, "no usable Vulkan device"),
        ]
        for medsight, phrase in cases:
            with self.subTest(medsight=medsight):
                self.start_expecting_failure(medsight, phrase)

    def test_good_config_logs_device_and_serves_status(self):
        with OrthancNode(plugin=self.plugin) as node:
            status = node.get_ok("/medsight/status")
            self.assertEqual(status["Workers"], 1)
            self.assertTrue(status["Device"]["Name"])
            log = node.log_tail(400)
            self.assertIn("MedSight: configuration: Enable=true", log)
            self.assertIn("MedSight: version", log)
            self.assertIn("worker thread(s) started", log)
            # A clean stop joins the workers (stop() raises if Orthanc hangs).
            self.assertEqual(node.stop(), 0)

    def test_disabled_plugin_loads_without_routes(self):
        with OrthancNode(medsight={"Enable": False}, plugin=self.plugin) as node:
            status, _ = node.get("/medsight/status")
            self.assertEqual(status, 404)
            self.assertIn("disabled by configuration", node.log_tail(200))


if __name__ == "__main__":
    unittest.main()
