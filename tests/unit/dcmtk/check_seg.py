"""Independent (pydicom) read-back of a binary SEG written by ms_seg_write.

usage: check_seg.py SEG NX NY NZ MASKDIR UID0 UID1 ...
MASKDIR holds seg<N>.raw (NZ*NY*NX bytes, x fastest) for each segment N. Rebuilds every segment
from the frames (ReferencedSegmentNumber + DerivationImage source UID -> slice) and compares.
Exit 0 = equal, 1 = different, 77 = pydicom/numpy missing."""
import os
import sys

try:
    import numpy as np
    import pydicom
except ImportError:
    sys.exit(77)


def main():
    path, nx, ny, nz, maskdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    uids = sys.argv[6:]
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4", ds.SOPClassUID
    assert ds.BitsAllocated == 1 and ds.Rows == ny and ds.Columns == nx
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), ny, nx)
    nseg = len(ds.SegmentSequence)
    got = np.zeros((nseg, nz, ny, nx), dtype=np.uint8)
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        seg = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        src = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        got[seg - 1, uids.index(src)] |= frames[f].astype(np.uint8)
    for s in range(nseg):
        want = np.fromfile(os.path.join(maskdir, "seg%d.raw" % (s + 1)), dtype=np.uint8)
        want = (want.reshape(nz, ny, nx) != 0).astype(np.uint8)
        if not np.array_equal(want, got[s]):
            print("segment %d differs in %d voxels" % (s + 1, int((want != got[s]).sum())))
            return 1
    print("pydicom: %d segments, %d frames match" % (nseg, frames.shape[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
