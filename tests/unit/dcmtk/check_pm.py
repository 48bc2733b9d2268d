"""Independent (pydicom) read-back of a float Parametric Map written by ms_pm_write.

usage: check_pm.py PM NX NY NZ VALUES.raw IMAGE_TYPE_4 UNIT QUANTITY UID0 UID1 ...
VALUES.raw holds NZ*NY*NX little-endian float32 (x fastest). Rebuilds the volume from
FloatPixelData (frame -> slice through DerivationImage source UID) and compares bit for bit (any
NaN matches any NaN); checks the Floating Point Image Pixel rules, ImageType value 4 and the shared
RWVM (first/last value mapped = finite min/max, unit, quantity).
Exit 0 = equal, 1 = different, 77 = pydicom/numpy missing."""
import sys

try:
    import numpy as np
    import pydicom
except ImportError:
    sys.exit(77)


def fail(msg):
    print("check_pm: " + msg)
    return 1


def main():
    path, nx, ny, nz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    raw, type4, unit, quantity = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8]
    uids = sys.argv[9:]
    ds = pydicom.dcmread(path)
    if ds.SOPClassUID != "1.2.840.10008.5.1.4.1.1.30":
        return fail("SOP class " + ds.SOPClassUID)
    if ds.Rows != ny or ds.Columns != nx or int(ds.NumberOfFrames) != nz or ds.BitsAllocated != 32:
        return fail("size or BitsAllocated differ")
    for forbidden in ("PixelData", "BitsStored", "HighBit", "PixelRepresentation"):
        if forbidden in ds:
            return fail(forbidden + " present")
    if ds.ImageType[3] != type4:
        return fail("ImageType " + "\\".join(ds.ImageType))

    frames = np.frombuffer(ds.FloatPixelData, dtype="<f4").reshape(nz, ny, nx)
    got = np.full((nz, ny, nx), np.nan, dtype="<f4")
    seen = set()
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        src = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        k = uids.index(src)
        if k in seen:
            return fail("slice %d twice" % k)
        seen.add(k)
        got[k] = frames[f]
    want = np.fromfile(raw, dtype="<f4").reshape(nz, ny, nx)
    nan_w, nan_g = np.isnan(want), np.isnan(got)
    same = (nan_w & nan_g) | (~nan_w & ~nan_g & (want.view("<u4") == got.view("<u4")))
    if not same.all():
        return fail("%d voxels differ" % int((~same).sum()))

    rwvm = ds.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    finite = want[~nan_w]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if rwvm.DoubleFloatRealWorldValueFirstValueMapped != lo or rwvm.DoubleFloatRealWorldValueLastValueMapped != hi:
        return fail("RWVM range %r..%r, expected %r..%r" % (rwvm.DoubleFloatRealWorldValueFirstValueMapped,
                                                           rwvm.DoubleFloatRealWorldValueLastValueMapped, lo, hi))
    units = rwvm.MeasurementUnitsCodeSequence[0]
    if units.CodeValue != unit or units.CodingSchemeDesignator != "UCUM":
        return fail("unit " + units.CodeValue)
    quantities = [q.ConceptCodeSequence[0].CodeValue for q in rwvm.QuantityDefinitionSequence
                  if q.ConceptNameCodeSequence[0].CodeValue == "246205007"]
    if quantities != [quantity]:
        return fail("quantities %r" % quantities)
    print("pydicom: %d frames, %d NaN voxels, range %g..%g match" % (nz, int(nan_w.sum()), lo, hi))
    return 0


if __name__ == "__main__":
    sys.exit(main())
