#!/usr/bin/python3
"""Broken DICOM inputs for MedSight's robustness tests.

Importable (make_bad, KINDS, truncate_file, corrupt_file, garbage_file) and a
CLI:  /usr/bin/python3 bad_inputs.py OUTDIR KIND [--seed N]

Each kind starts from a small valid CT series of make_series.make_ct_series
(32x32, a few slices) and breaks it: by editing datasets with pydicom and
writing them again, or by damaging the written bytes. make_bad returns
make_ct_series' dict plus
    "kind"    the name,
    "phrase"  text the failed job's Error must contain (None where Orthanc
              may refuse the file at ingest and what follows depends on it),
    "broken"  paths of the damaged files (a subset of "files"),
    "analysis" the analysis the test should run ("histogram" unless the
              kind is about an analysis refusing the input).

Only Debian's python3-pydicom (2.3) and python3-numpy are used.
"""

import argparse
import sys

import numpy as np
import pydicom
from pydicom.encaps import encapsulate

import make_series

JPEG2000 = "1.2.840.10008.1.2.4.90"
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"

NX = NY = 32
NZ = 6

# kind -> (phrase the job Error must contain, analysis)
KINDS = {
    "no_pixel_data": ("has no PixelData", "histogram"),
    "no_rescale": ("missing RescaleSlope/RescaleIntercept", "histogram"),
    "missing_ipp": ("missing ImagePositionPatient", "histogram"),
    "mixed_orientation": ("mixed image orientation", "histogram"),
    "duplicate_position": ("duplicate slice position", "histogram"),
    "single_slice": ("only 1 slice", "histogram"),
    # One slice of six dropped: gaps 3, 3, 6, 3 mm. The Error must name the
    # 6 mm gap, where the slice is missing, not a regular 3 mm one.
    # KNOWN BUG (fails until fixed): compute/geometry.c reports the first gap
    # that differs from the mean, here a regular 3.000 mm one.
    "missing_slice": ("gap of 6.000 mm", "histogram"),
    "bits8": ("8-bit pixels", "histogram"),
    "rgb": ("color image", "histogram"),
    "multi_frame": ("multi-frame", "histogram"),
    "mixed_modality": ("mixed modality", "histogram"),
    "jpeg2000": ("could not be decoded", "histogram"),
    "jpegls_corrupt": ("could not be decoded", "histogram"),
    "jpeg_lossless_corrupt": ("could not be decoded", "histogram"),
    "huge_dims": ("at most 8192x8192", "histogram"),
    # Below the 8192 limit but with 32x32 pixels of data: the header passes,
    # decoding must fail rather than read past the buffer.
    "large_dims_little_data": ("could not be decoded", "histogram"),
    "short_pixel_data": ("could not be decoded", "histogram"),
    "mr_calcium": ("needs a CT series", "calcium"),
    "mr_segmentation": ("needs a CT series", "segmentation"),
    # Byte-level damage: Orthanc may refuse the file at ingest (phrase None).
    "truncated": (None, "histogram"),
    "corrupt_length": (None, "histogram"),
}


def _rewrite(path, fn, transfer_syntax=None):
    """Read a file, let fn edit the dataset, write it back (optionally under
    another transfer syntax, which only changes the meta header)."""
    ds = pydicom.dcmread(path)
    fn(ds)
    if transfer_syntax:
        ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    pydicom.dcmwrite(path, ds, write_like_original=False)


def _encapsulated(ds, frame):
    """Replace PixelData by one encapsulated frame (OB, undefined length)."""
    ds.PixelData = encapsulate([frame])
    elem = ds["PixelData"]
    elem.VR = "OB"
    elem.is_undefined_length = True


def _corrupt_stream(kind, rng):
    """A compressed frame that starts like the real thing and then is noise."""
    noise = rng.integers(0, 256, size=600, dtype=np.uint8).tobytes()
    if kind == "jpeg2000":
        # J2K codestream: SOC, SIZ marker with a plausible header, then noise.
        head = (b"\xff\x4f\xff\x51\x00\x29\x00\x00" + (NX).to_bytes(4, "big")
                + (NY).to_bytes(4, "big") + b"\x00" * 8 + (NX).to_bytes(4, "big")
                + (NY).to_bytes(4, "big") + b"\x00" * 8 + b"\x00\x01\x0f\x01\x01")
    elif kind == "jpegls_corrupt":
        # SOI, SOF55 (JPEG-LS) for 16-bit 32x32 one component, SOS, noise.
        head = (b"\xff\xd8\xff\xf7\x00\x0b\x10" + NY.to_bytes(2, "big")
                + NX.to_bytes(2, "big") + b"\x01\x01\x11\x00"
                + b"\xff\xda\x00\x08\x01\x01\x00\x00\x00\x00")
    else:
        # SOI, SOF3 (lossless Huffman) for 16-bit 32x32, no DHT, SOS, noise.
        head = (b"\xff\xd8\xff\xc3\x00\x0b\x10" + NY.to_bytes(2, "big")
                + NX.to_bytes(2, "big") + b"\x01\x01\x11\x00"
                + b"\xff\xda\x00\x08\x01\x01\x00\x01\x00\x00")
    stream = head + noise + b"\xff\xd9"
    return stream + (b"\x00" if len(stream) % 2 else b"")


def truncate_file(path, keep_fraction=0.6):
    """Cut a file inside its PixelData (keeps the header readable)."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:int(len(data) * keep_fraction)])


def corrupt_file(path):
    """Overwrite the 32-bit length of PixelData with 0xFFFFFFF0: a defined
    length far beyond the end of the file."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    # Explicit VR little endian (7FE0,0010) OW: tag(4) VR(2) reserved(2) len(4).
    at = data.rfind(b"\xe0\x7f\x10\x00OW")
    if at < 0:
        raise ValueError("no explicit-VR PixelData element in %s" % path)
    data[at + 8:at + 12] = (0xFFFFFFF0).to_bytes(4, "little")
    with open(path, "wb") as f:
        f.write(bytes(data))


def garbage_file(path, seed=0, size=4096):
    """A file with a DICM preamble followed by noise."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(b"\0" * 128 + b"DICM" + rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def make_bad(outdir, kind, seed=1):
    """Write one broken series of the given kind to outdir (see module doc)."""
    if kind not in KINDS:
        raise ValueError("unknown kind %r (known: %s)" % (kind, ", ".join(sorted(KINDS))))
    phrase, analysis = KINDS[kind]
    desc = "MedSight bad %s" % kind
    if kind in ("missing_ipp", "mixed_orientation", "duplicate_position", "single_slice",
                "missing_slice"):
        info = make_series.make_variant(outdir, kind, seed=seed, nx=NX, ny=NY, nz=NZ,
                                        series_description=desc)
        info.update(kind=kind, phrase=phrase, analysis=analysis,
                    broken=list(info["files"]))
        return info

    modality = "MR" if kind.startswith("mr_") else "CT"
    ov = {}
    if kind == "mixed_modality":
        ov[NZ // 2] = {"tags": {"Modality": "MR"}}
    info = make_series.make_ct_series(outdir, nx=NX, ny=NY, nz=NZ, seed=seed,
                                      modality=modality, series_description=desc,
                                      uid_salt="bad-" + kind, per_slice_overrides=ov)
    info.update(kind=kind, phrase=phrase, analysis=analysis)
    files = info["files"]
    # Damage one slice in the middle of the written order unless every slice
    # must be broken for the check to be reached.
    one = [files[len(files) // 2]]
    rng = np.random.default_rng(seed)
    broken = one

    if kind == "no_pixel_data":
        broken = files
        for p in broken:
            _rewrite(p, lambda ds: delattr(ds, "PixelData"))
    elif kind == "no_rescale":
        def drop(ds):
            for kw in ("RescaleSlope", "RescaleIntercept", "RescaleType"):
                if kw in ds:
                    delattr(ds, kw)
        for p in broken:
            _rewrite(p, drop)
    elif kind == "bits8":
        broken = files

        def to8(ds):
            px = np.frombuffer(ds.PixelData, dtype="<i2").reshape(NY, NX)
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
            ds.PixelRepresentation = 0
            ds.PixelData = np.clip(px // 16, 0, 255).astype(np.uint8).tobytes()
            ds["PixelData"].VR = "OB"
        for p in broken:
            _rewrite(p, to8)
    elif kind == "rgb":
        broken = files

        def to_rgb(ds):
            g = rng.integers(0, 256, size=(NY, NX), dtype=np.uint8)
            ds.SamplesPerPixel = 3
            ds.PhotometricInterpretation = "RGB"
            ds.PlanarConfiguration = 0
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
            ds.PixelRepresentation = 0
            ds.PixelData = np.repeat(g[:, :, None], 3, axis=2).tobytes()
            ds["PixelData"].VR = "OB"
        for p in broken:
            _rewrite(p, to_rgb)
    elif kind == "multi_frame":
        def two_frames(ds):
            ds.NumberOfFrames = 2
            ds.PixelData = ds.PixelData * 2
        for p in broken:
            _rewrite(p, two_frames)
    elif kind in ("jpeg2000", "jpegls_corrupt", "jpeg_lossless_corrupt"):
        ts = {"jpeg2000": JPEG2000, "jpegls_corrupt": JPEG_LS_LOSSLESS,
              "jpeg_lossless_corrupt": JPEG_LOSSLESS_SV1}[kind]
        broken = files
        for p in broken:
            _rewrite(p, lambda ds: _encapsulated(ds, _corrupt_stream(kind, rng)), ts)
    elif kind in ("huge_dims", "large_dims_little_data"):
        n = 65535 if kind == "huge_dims" else 8000
        broken = files

        def big(ds):
            ds.Rows = ds.Columns = n
        for p in broken:
            _rewrite(p, big)
    elif kind == "short_pixel_data":
        def short(ds):
            ds.PixelData = ds.PixelData[:100]
        for p in broken:
            _rewrite(p, short)
    elif kind == "truncated":
        for p in broken:
            truncate_file(p)
    elif kind == "corrupt_length":
        for p in broken:
            corrupt_file(p)
    elif kind == "mixed_modality" or kind.startswith("mr_"):
        broken = [] if kind.startswith("mr_") else broken
    info["broken"] = list(broken)
    return info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir")
    p.add_argument("kind", choices=sorted(KINDS))
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    info = make_bad(args.outdir, args.kind, seed=args.seed)
    print("series %s\n%d files (%d broken) in %s; expected error: %s" % (
        info["series_uid"], len(info["files"]), len(info["broken"]), args.outdir,
        info["phrase"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
