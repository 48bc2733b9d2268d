"""Perfusion end to end: dynamic CT and DSC-MR phantoms with a closed-form
truth (ANALYSES.md 2.7) C-STOREd into a real Orthanc, the "perfusion"
analysis run through REST (with the AIF given as [x, y, z] and found
automatically), its Result and the eight Parametric Maps + SR it stores
checked with dciodvfy, DCMTK, DICOMweb and pydicom/numpy: CBF/CBV/MTT/TTP
against the truth, the model-free maps against numpy on the stored pixels,
RWVM codes per ANALYSES.md 4c, references to the source series, SR values
equal to the Result. Also: incomplete time points, AIF outside the volume,
and the REST validation of "AIF".

Run: cd tests/integration && /usr/bin/python3 -m unittest -v test_perfusion
"""

import os
import unittest

import numpy as np

import harness  # first: puts tests/phantoms on sys.path
import dicom_checks as dc
import perfusion

JOB_TIMEOUT = 120

CODE_SVD = "126311"
UCUM_HU = "[hnsf'U]"
# label, series number, ImageType value 4, Result map, quantity, CT unit, DSC unit, SVD method
PM_SPECS = (
    ("CBF", 9021, "RCBF", "CBF", "126390", "ml/[100]g/min", "ml/[100]g/min", True),
    ("CBV", 9022, "RCBV", "CBV", "126391", "ml/[100]g", "ml/[100]g", True),
    ("MTT", 9023, "MTT", "MTT", "113052", "s", "s", True),
    ("TMAX", 9024, "NONE", "Tmax", "113084", "s", "s", True),
    ("TTP", 9025, "TTP", "TTP", "113069", "s", "s", False),
    ("PEAK", 9026, "NONE", "PE", "126376", UCUM_HU, "/s", False),
    ("AUC", 9027, "NONE", "AUC", "126320", UCUM_HU + ".s", "1", False),
    ("SLOPE", 9028, "NONE", "MaxSlope", "126375", UCUM_HU + "/s", "/s2", False),
)
MAP_NAMES = ("PE", "TTP", "AUC", "MaxSlope", "MTT_fm", "CBF", "CBV", "MTT", "Tmax", "SVD_P")
SR_SUMMARY = {"126390": "CBF", "126391": "CBV", "113052": "MTT", "113084": "Tmax",
              "113069": "TTP"}


def baseline_frames(roi):
    """ANALYSES.md 2.2 on the ROI-mean curve: b from 3 while
    |mean(S_1..b) - S_b+1| / mean < 0.05, at most 12 (and nt - 1), then
    the last frame dropped."""
    cap = min(len(roi) - 1, 12)
    b = min(cap, 3)
    while b < cap:
        mean = float(np.mean(roi[:b]))
        if mean == 0 or abs(mean - roi[b]) / abs(mean) >= 0.05:
            break
        b += 1
    return max(b - 1, 1)


def model_free(c, t):
    """PE, TTP, AUC, MaxSlope (ANALYSES.md 2.4) of curves c (nt, ...) at t."""
    kmax = np.argmax(c, axis=0)
    dt = np.diff(t).reshape((-1,) + (1,) * (c.ndim - 1))
    return {"PE": c.max(axis=0), "TTP": t[kmax],
            "AUC": np.sum(dt * (c[1:] + c[:-1]) / 2, axis=0),
            "MaxSlope": np.max(np.diff(c, axis=0) / dt, axis=0)}


class PerfusionTest(harness.NodeTestCase):
    # The DSC series is analysed by a rule when it becomes stable; the others through REST.
    MEDSIGHT = {"Rules": [{"Analysis": "perfusion",
                           "Match": {"Modality": "MR", "SeriesDescription": "*DSC*"}}]}
    AIF_GIVEN = [5, 5, 1]      # inside perfusion.AIF_BLOCK

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        node = cls.node
        tmp = cls.tmp
        ct = perfusion.ct_phantom()
        cls.series = {
            "given": dict(ph=ct, info=perfusion.write_series(
                os.path.join(tmp, "given"), ct, 5101, "given", "perfusion CT given AIF")),
            "auto": dict(ph=ct, info=perfusion.write_series(
                os.path.join(tmp, "auto"), ct, 5102, "auto", "perfusion CT automatic AIF")),
        }
        dsc = perfusion.dsc_phantom()
        cls.series["dsc"] = dict(ph=dsc, info=perfusion.write_series(
            os.path.join(tmp, "dsc"), dsc, 5103, "dsc", "perfusion DSC"))
        short = perfusion.ct_phantom(nx=12, ny=12, nz=4, nt=10)
        cls.series["missing"] = dict(ph=short, info=perfusion.write_series(
            os.path.join(tmp, "missing"), short, 5104, "missing", "perfusion CT missing slice",
            drop=[(6, 2)]))
        cls.series["enhanced"] = dict(ph=ct, info=perfusion.write_enhanced(
            os.path.join(tmp, "enhanced"), ct, 5106, "enhanced", "perfusion CT enhanced multi-frame"))
        small = perfusion.ct_phantom(nx=12, ny=12, nz=2, nt=20)
        cls.series["small"] = dict(ph=small, info=perfusion.write_series(
            os.path.join(tmp, "small"), small, 5105, "small", "perfusion CT small"))
        files = []
        for name, s in cls.series.items():
            if name != "enhanced":
                files += s["info"]["files"]
        node.store(files)
        node.upload(cls.series["enhanced"]["info"]["files"])   # REST, as a modality-less upload would
        for name, s in sorted(cls.series.items()):
            s["sid"] = node.wait_series(s["info"]["series_uid"], len(s["info"]["files"]))
        cls.jobs = {}
        for name, aif in (("given", cls.AIF_GIVEN), ("auto", None), ("missing", None),
                          ("enhanced", cls.AIF_GIVEN)):
            body = {"Analysis": "perfusion"}
            if aif is not None:
                body["AIF"] = aif
            cls.jobs[name] = cls.post_job(name, body)

    @classmethod
    def post_job(cls, name, body):
        status, answer = cls.node.post("/medsight/series/%s/analyze" % cls.series[name]["sid"], body)
        if status != 200:
            raise AssertionError("analyze %s %r -> %d %r" % (name, body, status, answer))
        if not answer.get("Created"):
            raise AssertionError("analyze %s %r: no new job (%r)" % (name, body, answer))
        return answer["ID"]

    def tearDown(self):
        self.assertAlive()

    # -- helpers ---------------------------------------------------------------

    def done_job(self, name):
        job = self.node.wait_job_state(self.jobs[name], timeout=JOB_TIMEOUT)
        self.assertEqual(job["State"], "done", "%s: %s" % (name, job.get("Error")))
        self.assertEqual(job["Analysis"], "perfusion")
        self.assertIsNone(job["Error"])
        return job

    def failed_job(self, job_id, phrase, info):
        job = self.node.wait_job_state(job_id, timeout=JOB_TIMEOUT)
        self.assertEqual(job["State"], "failed", job.get("Result"))
        self.assertIsInstance(job["Error"], str)
        self.assertIn(phrase, job["Error"])
        self.assertIsNone(job["Result"])
        self.assertEqual(job["Results"], [])
        # Nothing was stored next to the source series.
        self.assertEqual(dc.study_instance_count(self.node, info["study_uid"]), len(info["files"]))
        return job

    def assertClose(self, got, want, what, rel=1e-6, abs_=1e-6):
        self.assertIsNotNone(got, what)
        self.assertLessEqual(abs(got - want), max(abs_, rel * abs(want)),
                             "%s: got %r, want %r" % (what, got, want))

    def assertResultShape(self, r, ph, info, kind):
        for key in ("Kind", "Method", "Size", "TimePoints", "DtS", "Resampled", "BaselineFrames",
                    "Truncation", "AIF", "MaskVoxels", "Maps", "Streamed", "Chunks", "Device",
                    "GpuMs", "StageMs"):
            self.assertIn(key, r)
        nt, nz, ny, nx = info["hu"].shape
        self.assertEqual(r["Kind"], kind)
        self.assertEqual(r["Method"], "oSVD")
        self.assertEqual(r["Size"], [nx, ny, nz])
        self.assertEqual(r["TimePoints"], nt)
        self.assertClose(r["DtS"], ph["dt"], "DtS")
        self.assertFalse(r["Resampled"])
        self.assertEqual(sorted(r["Maps"]), sorted(MAP_NAMES))
        for name, st in r["Maps"].items():
            self.assertEqual(sorted(st), ["Mean", "Median", "P5", "P95"], name)
        self.assertEqual(len(r["AIF"]["Curve"]), nt)
        self.assertGreaterEqual(r["Chunks"], 1)
        self.assertIsInstance(r["Device"], str)
        self.assertGreaterEqual(r["GpuMs"], 0)
        self.assertEqual(sorted(r["StageMs"]),
                         sorted(["load", "mask", "roi", "maps", "aif", "svd", "deconv", "stats"]))
        # Automatic tissue mask (perfusion.h): CT frame 0 in [-100, 200] HU,
        # DSC frame 0 above 10% of the largest frame-0 signal.
        f0 = info["hu"][0]
        mask = (f0 >= -100) & (f0 <= 200) if kind == "CT" else f0 > 0.1 * f0.max()
        self.assertEqual(r["MaskVoxels"], int(mask.sum()))
        self.assertTrue(np.array_equal(mask, ph["body"]), "phantom body != expected mask")
        roi = info["hu"][:, mask].mean(axis=1)
        self.assertEqual(r["BaselineFrames"], baseline_frames(roi))
        return mask

    def fetch_objects(self, name, job, kind):
        """{label: (pydicom PM, (nz, ny, nx) map)}, SR dataset: every object
        through REST and WADO-RS with dciodvfy, DCMTK and QIDO-RS, the PM
        headers, RWVM codes and references to the source checked."""
        s = self.series[name]
        info = s["info"]
        nt, nz, ny, nx = info["hu"].shape
        self.assertEqual(len(job["Results"]), len(PM_SPECS) + 1, job["Results"])
        modality = "CT" if kind == "CT" else "MR"
        src = self.source_attrs(info)
        pms = {}
        for (label, number, type4, _, quantity, unit_ct, unit_dsc, svd), iid in \
                zip(PM_SPECS, job["Results"]):
            ds, _, _ = dc.check_result_object(self.node, iid, info["study_uid"], modality)
            dc.check_pm_header(ds, number, label, type4)
            vol = dc.pm_volume(ds, info["positions"], (nz, ny, nx))
            self.assertTrue(np.isfinite(vol).all(), label)
            rw = dc.pm_rwvm(ds)
            self.assertEqual(rw["Count"], 1, label)
            self.assertEqual(rw["LUTLabel"], label)
            self.assertEqual(rw["Quantity"][:2], (quantity, "DCM"), label)
            self.assertEqual(rw["Unit"][:2], (unit_ct if kind == "CT" else unit_dsc, "UCUM"), label)
            if svd:
                self.assertIsNotNone(rw["Method"], label + ": no Measurement Method")
                self.assertEqual(rw["Method"][:2], (CODE_SVD, "DCM"), label)
            else:
                self.assertIsNone(rw["Method"], label)
            self.assertEqual((rw["Slope"], rw["Intercept"]), (1.0, 0.0), label)
            self.assertClose(rw["First"], float(vol.min()), label + " first value mapped")
            self.assertClose(rw["Last"], float(vol.max()), label + " last value mapped")
            # Same patient space and study; references the source series.
            self.assertEqual(ds.FrameOfReferenceUID, src["FrameOfReferenceUID"], label)
            self.assertEqual(ds.PatientID, src["PatientID"], label)
            refs = ds.ReferencedSeriesSequence
            self.assertEqual([str(r.SeriesInstanceUID) for r in refs], [info["series_uid"]], label)
            listed = {str(i.ReferencedSOPInstanceUID) for i in refs[0].ReferencedInstanceSequence}
            self.assertTrue(listed and listed <= set(info["sop"]), label + ": foreign references")
            for ipp, uids in dc.pm_frame_sources(ds):
                self.assertTrue(uids, label + ": frame without a source image")
                for u in uids:
                    self.assertIn(u, info["sop"], label)
                    z = info["sop"][u][1]
                    if z is not None:   # None: a multi-frame source holding every slice
                        self.assertLess(np.abs(np.asarray(info["positions"][z]) - ipp).max(), 0.01,
                                        label + ": frame references a slice at another position")
                    self.assertIn(u, listed, label + ": source not in ReferencedInstanceSequence")
            pms[label] = (ds, vol)
        sr, _, dump = dc.check_result_object(self.node, job["Results"][-1], info["study_uid"], "SR")
        dc.check_sr_header(sr, 9020)
        self.assertIn("1500", dump)
        return pms, sr

    def source_attrs(self, info):
        with open(info["files"][0], "rb") as f:
            ds = dc.read(f.read())
        return {"FrameOfReferenceUID": ds.FrameOfReferenceUID, "PatientID": ds.PatientID}

    def check_stats(self, r, pms, mask):
        """Result means equal the PM voxels' means inside the mask; outside
        the mask every map is 0."""
        for label, (_, vol) in pms.items():
            name = [s[3] for s in PM_SPECS if s[0] == label][0]
            st = r["Maps"][name]
            v = vol[mask].astype(np.float64)
            self.assertClose(st["Mean"], float(v.mean()), "%s mean" % name, rel=1e-5, abs_=1e-5)
            self.assertLessEqual(st["P5"], st["Median"] + 1e-9, name)
            self.assertLessEqual(st["Median"], st["P95"] + 1e-9, name)
            self.assertGreaterEqual(st["P5"], float(v.min()) - 1e-6, name)
            self.assertLessEqual(st["P95"], float(v.max()) + 1e-6, name)
            self.assertFalse(vol[~mask].any(), "%s: non-zero outside the tissue mask" % label)

    def check_sr(self, r, sr, kind, automatic):
        self.assertEqual(dc.sr_code(sr, "121058")[:2],
                         ("126301" if kind == "CT" else "126303", "DCM"))
        groups = dc.sr_groups(sr)
        self.assertEqual(len(groups), 2, groups)
        summary, aif = groups
        self.assertEqual(sorted(summary["Nums"]), sorted(SR_SUMMARY))
        for code, name in SR_SUMMARY.items():
            self.assertClose(summary["Nums"][code][0], r["Maps"][name]["Mean"],
                             "SR %s" % name, rel=1e-6)
        self.assertEqual(summary["Nums"]["126390"][1], "ml/[100]g/min")
        self.assertEqual(summary["Nums"]["126391"][1], "ml/[100]g")
        for code in ("113052", "113084", "113069"):
            self.assertEqual(summary["Nums"][code][1], "s")
        self.assertTrue(summary["TrackingID"] and summary["TrackingUID"])
        self.assertTrue(aif["TrackingID"] and aif["TrackingUID"])
        self.assertNotEqual(summary["TrackingUID"], aif["TrackingUID"])
        self.assertEqual(aif["Finding"][:2], ("126363" if automatic else "126362", "DCM"))
        curve = np.asarray(r["AIF"]["Curve"])
        self.assertClose(aif["Nums"]["126376"][0], float(curve.max()), "SR AIF peak", rel=1e-6)
        self.assertClose(aif["Nums"]["113069"][0], float(np.argmax(curve)) * r["DtS"],
                         "SR AIF time to peak")

    def check_ct_maps(self, name, job, automatic):
        """The CT phantom's maps against the closed-form truth and numpy."""
        s = self.series[name]
        ph, info = s["ph"], s["info"]
        r = job["Result"]
        mask = self.assertResultShape(r, ph, info, "CT")
        hu = info["hu"]
        t = ph["t"]
        dt = ph["dt"]
        b = r["BaselineFrames"]
        # Every frame the baseline uses is before the bolus (t0 = 10 s).
        self.assertLessEqual(t[b - 1], perfusion.T0)

        # AIF: which voxels, and its curve = their mean concentration.
        voxels = [tuple(v) for v in r["AIF"]["Voxels"]]
        self.assertEqual(r["AIF"]["Automatic"], automatic)
        if automatic:
            self.assertEqual(len(voxels), 5)   # MedSight.Perfusion.AIFVoxels default
            self.assertEqual(len(set(voxels)), 5)
        else:
            self.assertEqual(voxels, [tuple(self.AIF_GIVEN)])
        for x, y, z in voxels:
            self.assertTrue(ph["aif_mask"][z, y, x], "AIF voxel %s outside the arterial block"
                            % ((x, y, z),))
        conc = hu - hu[:b].mean(axis=0)
        want_aif = np.mean([conc[:, z, y, x] for x, y, z in voxels], axis=0)
        np.testing.assert_allclose(r["AIF"]["Curve"], want_aif, atol=1e-3,
                                   err_msg="AIF curve")
        self.assertClose(max(r["AIF"]["Curve"]), float(ph["aif"].max()), "AIF peak", abs_=0.06)

        pms, sr = self.fetch_objects(name, job, "CT")
        maps = {spec[3]: pms[spec[0]][1].astype(np.float64) for spec in PM_SPECS}

        # Model-free maps equal numpy on the stored pixels (float32 arithmetic).
        mf = model_free(conc, t)
        for key in ("PE", "AUC", "MaxSlope"):
            err = np.abs(maps[key] - mf[key])[mask]
            tol = 2e-3 + 1e-5 * np.abs(mf[key][mask])
            self.assertTrue((err <= tol).all(), "%s: max error %g" % (key, err.max()))
        enh = mask & (mf["PE"] > 0)
        self.assertTrue((maps["TTP"][enh] == mf["TTP"][enh]).all(), "TTP != time of the first max")

        # Deconvolution maps against the closed form (ANALYSES.md 2.7, oSVD noise-free).
        for reg in ph["regions"]:
            m = reg["mask"]
            what = "region %s (CBF %g, tau %g, delay %g)" % (reg["name"], reg["cbf"], reg["tau"],
                                                             reg["delay"])
            cbv, cbf, mtt = maps["CBV"][m], maps["CBF"][m], maps["MTT"][m]
            self.assertLessEqual(np.abs(cbv - reg["cbv"]).max(), 1 + 0.1 * reg["cbv"], what + " CBV")
            self.assertLessEqual(abs(cbv.mean() - reg["cbv"]), 0.02 * reg["cbv"],
                                 what + " CBV mean %g vs %g (2%%)" % (cbv.mean(), reg["cbv"]))
            self.assertLessEqual(np.abs(cbf - reg["cbf"]).max(), 15 + 0.1 * reg["cbf"],
                                 what + " CBF %g..%g" % (cbf.min(), cbf.max()))
            self.assertLessEqual(np.abs(maps["TTP"][m] - reg["ttp"]).max(), dt, what + " TTP")
            # Truncated SVD smooths the residue, so its peak comes a few samples
            # after the true Tmax (= delay): an independent numpy circulant SVD
            # (P = 0.05) of these curves peaks 2 s late. Relative delays are exact.
            tmax = maps["Tmax"][m]
            self.assertGreaterEqual(tmax.min(), reg["delay"] - dt, what + " Tmax")
            self.assertLessEqual(tmax.max(), reg["delay"] + 3 * dt, what + " Tmax")
            self.assertTrue((mtt >= reg["mtt"] * 0.9).all(), what + " MTT below the truth")
        a, c = ph["regions"][0], ph["regions"][2]
        shift = maps["Tmax"][c["mask"]].mean() - maps["Tmax"][a["mask"]].mean()
        self.assertLessEqual(abs(shift - (c["delay"] - a["delay"])), dt,
                             "Tmax shift %g between regions delayed by %g"
                             % (shift, c["delay"] - a["delay"]))
        # MTT == 60 CBV / CBF wherever there is flow, within float rounding.
        flow = mask & (maps["CBF"] > 0)
        self.assertGreater(int(flow.sum()), 0)
        want_mtt = 60.0 * maps["CBV"][flow] / maps["CBF"][flow]
        np.testing.assert_allclose(maps["MTT"][flow], want_mtt, rtol=1e-5, atol=1e-5,
                                   err_msg="MTT != 60 CBV / CBF")
        # Tissue that never enhances has no blood volume.
        still = mask & (mf["PE"] <= 0)
        self.assertGreater(int(still.sum()), 0)
        self.assertFalse(maps["CBV"][still].any(), "CBV in non-enhancing tissue")

        self.check_stats(r, pms, mask)
        self.check_sr(r, sr, "CT", automatic)

    # -- tests -----------------------------------------------------------------

    def test_ct_given_aif(self):
        job = self.done_job("given")
        self.check_ct_maps("given", job, automatic=False)

    def test_ct_automatic_aif(self):
        job = self.done_job("auto")
        self.check_ct_maps("auto", job, automatic=True)

    def test_ct_enhanced_multiframe(self):
        """The CT phantom as one Enhanced CT instance (frames shuffled, time
        from TemporalPositionIndex / FrameAcquisitionDateTime) gives the same
        maps within the classic test's tolerances; every PM frame and the SR
        reference that one instance."""
        s = self.series["enhanced"]
        self.assertEqual(len(s["info"]["files"]), 1)
        job = self.done_job("enhanced")
        self.check_ct_maps("enhanced", job, automatic=False)
        (sop,) = s["info"]["sop"]
        pms, _ = self.fetch_objects("enhanced", job, "CT")
        for label, (ds, _) in pms.items():
            refs = ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence
            self.assertEqual([str(r.ReferencedSOPInstanceUID) for r in refs], [sop],
                             label + ": the source instance listed once")
            for _, uids in dc.pm_frame_sources(ds):
                self.assertEqual(uids, [sop], label)
        # The same voxels as the classic series: identical maps.
        given = self.done_job("given")
        self.assertEqual(job["Result"]["Maps"], given["Result"]["Maps"])

    def test_dsc_mr_by_rule(self):
        s = self.series["dsc"]
        first = self.node.wait_job(lambda j: j["Analysis"] == "perfusion", timeout=60,
                                   series=s["sid"])
        self.assertEqual(first["Trigger"], "stable")
        self.jobs["dsc"] = first["ID"]
        job = self.done_job("dsc")
        self.assertEqual(len(self.node.jobs(series=s["sid"])), 1)
        r = job["Result"]
        mask = self.assertResultShape(r, s["ph"], s["info"], "DSC")
        self.assertTrue(r["AIF"]["Automatic"])
        for x, y, z in r["AIF"]["Voxels"]:
            self.assertTrue(s["ph"]["aif_mask"][z, y, x], "AIF voxel outside the arterial block")
        # Delta R2* = -ln(S/S0)/TE recovers the phantom's AIF concentration.
        self.assertClose(max(r["AIF"]["Curve"]), float(s["ph"]["aif"].max()), "AIF peak",
                         rel=1e-3)
        pms, sr = self.fetch_objects("dsc", job, "DSC")
        cbv = pms["CBV"][1]
        for reg in s["ph"]["regions"]:
            v = cbv[reg["mask"]]
            self.assertLessEqual(np.abs(v - reg["cbv"]).max(), 1 + 0.1 * reg["cbv"],
                                 "region %s CBV" % reg["name"])
        self.check_stats(r, pms, mask)
        self.check_sr(r, sr, "DSC", True)

    def test_incomplete_time_point_fails(self):
        info = self.series["missing"]["info"]
        job = self.failed_job(self.jobs["missing"], "time point 7 has 3 slices, expected 4", info)
        self.assertNotIn("time point 6", job["Error"])

    def test_aif_outside_volume_fails(self):
        info = self.series["small"]["info"]
        for aif in ([12, 0, 0], [0, 12, 0], [0, 0, 2]):
            job_id = self.post_job("small", {"Analysis": "perfusion", "AIF": aif})
            job = self.failed_job(job_id, "outside", info)
            self.assertIn("(%d, %d, %d)" % tuple(aif), job["Error"])
        # The same series with an AIF inside runs.
        job_id = self.post_job("small", {"Analysis": "perfusion", "AIF": [5, 5, 1]})
        job = self.node.wait_job_state(job_id, timeout=JOB_TIMEOUT)
        self.assertEqual(job["State"], "done", job.get("Error"))
        self.assertEqual(job["Result"]["AIF"]["Voxels"], [[5, 5, 1]])

    def test_rest_aif_validation(self):
        node = self.node
        sid = self.series["small"]["sid"]
        before = len(node.jobs(series=sid, limit=1000))
        cases = [
            ({"Analysis": "histogram", "AIF": [1, 1, 1]}, "perfusion analysis only"),
            ({"Analysis": "calcium", "AIF": [1, 1, 1]}, "perfusion analysis only"),
            ({"Analysis": "perfusion", "AIF": [1, 1]}, "[x, y, z]"),
            ({"Analysis": "perfusion", "AIF": [1, 1, 1, 1]}, "[x, y, z]"),
            ({"Analysis": "perfusion", "AIF": [1, 1, -1]}, "[x, y, z]"),
            ({"Analysis": "perfusion", "AIF": [1.5, 1, 1]}, "[x, y, z]"),
            ({"Analysis": "perfusion", "AIF": [1, "2", 1]}, "[x, y, z]"),
            ({"Analysis": "perfusion", "AIF": [1, None, 1]}, "[x, y, z]"),
            ({"Analysis": "perfusion", "AIF": [1, 1, 70000]}, "[x, y, z]"),
            ({"Analysis": "perfusion", "AIF": "1,1,1"}, "[x, y, z]"),
            ({"Analysis": "perfusion", "AIF": {"x": 1, "y": 1, "z": 1}}, "[x, y, z]"),
            ({"Analysis": "perfusion", "AIF": None}, "[x, y, z]"),
        ]
        for body, phrase in cases:
            status, answer = node.post("/medsight/series/%s/analyze" % sid, body)
            self.assertEqual(status, 400, "%r -> %d %r" % (body, status, answer))
            self.assertIn(phrase, str(answer), body)
        self.assertEqual(len(node.jobs(series=sid, limit=1000)), before, "a rejected request queued a job")


if __name__ == "__main__":
    unittest.main()
