import sys, unittest
import test_calcium as t, dicom_checks as dc, numpy as np
mode = sys.argv[1]
if mode == "weight":
    t.weight = lambda p: 4 if p >= 400 else 3 if p >= 300 else 2 if p > 200 else 1
elif mode == "seg":
    orig = dc.seg_masks
    def bad(*a):
        m = orig(*a); k = sorted(m)[-1]; m[k][0, 0, 0] = ~m[k][0, 0, 0]; return m
    dc.seg_masks = bad
elif mode == "sr":
    orig = dc.sr_num
    dc.sr_num = lambda it: (orig(it)[0] * 1.0001, orig(it)[1])
suite = unittest.TestSuite([t.CalciumTest("test_qrm_insert_3mm"), t.CalciumTest("test_t4_weight_edges")])
r = unittest.TextTestRunner(verbosity=1, stream=open("/dev/null","w")).run(suite)
print(mode, "failures", len(r.failures), "errors", len(r.errors), [str(f[1]).strip().splitlines()[-1][:150] for f in r.failures + r.errors])
