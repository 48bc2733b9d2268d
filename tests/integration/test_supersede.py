"""Late instances: a series completed after its job ran is analysed again; the new results (other
content, other SOP Instance UIDs) replace the old ones in the study, and the new SR names the old
one in PredecessorDocumentsSequence. A re-run on unchanged content replaces in place."""
import io
import os
import sys
import tempfile
import unittest
import urllib.request

import numpy as np
import pydicom

from harness import OrthancNode, require_plugin

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from phantoms.make_series import make_ct_series  # noqa: E402

SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"


class SupersedeTest(unittest.TestCase):
    def test_late_instances_supersede_results(self):
        plugin = require_plugin()
        tmp = tempfile.mkdtemp(prefix="ms-supersede-")
        nz = 10
        hu = np.full((nz, 32, 32), 0.0)
        hu[:, 10:16, 10:16] = 400.0  # a calcified rod through every slice
        series = make_ct_series(tmp, nx=32, ny=32, nz=nz, hu=hu, seed=21)
        by_z = sorted(series["files"], key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2]))
        first, late = by_z[:8], by_z[8:]
        rules = [{"Analysis": "calcium", "Match": {"Modality": "CT"}}]
        with OrthancNode(plugin=plugin, medsight={"Device": "cpu", "Rules": rules,
                                                  "Calcium": {"ROI": "none"}}) as node:
            node.store(first)
            sid = node.series_id(series["series_uid"])
            job1 = node.wait_job(lambda j: j["State"] in ("done", "failed"), timeout=60, series=sid)
            job1 = job1[0] if isinstance(job1, list) else job1
            self.assertEqual(job1["State"], "done", job1)
            old = {self.sop(node, i): i for i in job1["Results"]}
            old_sr = [u for u, i in old.items() if self.sop_class(node, i) == SR_CLASS]

            # Retry on the same content: same objects, replaced in place.
            status, _ = node.post("/medsight/jobs/%d/retry" % job1["ID"])
            self.assertEqual(status, 200)
            again = node.wait_job_state(job1["ID"], timeout=60)
            self.assertEqual(sorted(again["Results"]), sorted(job1["Results"]))

            node.store(late)
            job2 = node.wait_job(lambda j: j["ID"] != job1["ID"] and j["State"] in ("done", "failed"),
                                 timeout=60, series=sid)
            job2 = job2[0] if isinstance(job2, list) else job2
            self.assertEqual(job2["State"], "done", job2)
            new = {self.sop(node, i): i for i in job2["Results"]}
            self.assertEqual(len(new), 2)
            self.assertFalse(set(new) & set(old), "content changed: new SOP Instance UIDs expected")
            # The old objects are gone from the study; only the new SEG and SR remain.
            study = node.get_ok("/series/%s" % sid)["ParentStudy"]
            results = [i for i in node.get_ok("/studies/%s/instances" % study)
                       if i["ParentSeries"] != sid]
            self.assertEqual(sorted(i["ID"] for i in results), sorted(job2["Results"]))
            # The new SR names the old one as predecessor.
            new_sr = [i for u, i in new.items() if self.sop_class(node, i) == SR_CLASS]
            self.assertEqual(len(old_sr), 1)
            self.assertEqual(len(new_sr), 1)
            ds = self.dataset(node, new_sr[0])
            refs = [inst.ReferencedSOPInstanceUID
                    for st in ds.PredecessorDocumentsSequence
                    for se in st.ReferencedSeriesSequence
                    for inst in se.ReferencedSOPSequence]
            self.assertEqual(refs, old_sr)
            # And the new run analysed all 10 slices.
            self.assertEqual(job2["Result"]["Lesions"][0]["Slices"], [0, nz - 1])

    @staticmethod
    def dataset(node, instance_id):
        with urllib.request.urlopen(node.base + "/instances/%s/file" % instance_id) as r:
            return pydicom.dcmread(io.BytesIO(r.read()))

    def sop(self, node, instance_id):
        return node.get_ok("/instances/%s" % instance_id)["MainDicomTags"]["SOPInstanceUID"]

    def sop_class(self, node, instance_id):
        return str(self.dataset(node, instance_id).SOPClassUID)


if __name__ == "__main__":
    unittest.main()
