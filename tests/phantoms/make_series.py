#!/usr/bin/python3
"""Synthetic DICOM series for MedSight tests.

Importable (make_ct_series, make_variant, default_hu) and a CLI:
    /usr/bin/python3 make_series.py OUTDIR [--nx 64 --ny 64 --nz 16] [--variant NAME]

Every series is deterministic for a given seed: UIDs come from
pydicom.uid.generate_uid with entropy sources, and HU values from a seeded
numpy generator. Files are written in shuffled order with shuffled
InstanceNumbers so consumers must sort slices by position, not by name.

Only Debian's python3-pydicom (2.3) and python3-numpy are used.
"""

import argparse
import datetime
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         generate_uid)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
# pydicom's registered root; deterministic when entropy sources are given.
UID_PREFIX = "1.2.826.0.1.3680043.8.498."

# Phrase the plugin must put in a failed job's Error for each broken variant.
VARIANT_PHRASES = {
    "mixed_orientation": "mixed image orientation",
    "mixed_size": "mixed image size",
    "duplicate_position": "duplicate slice position",
    "missing_slice": "non-uniform slice spacing",
    "gantry_tilt": "gantry tilt",
    "missing_ipp": "missing ImagePositionPatient",
    "single_slice": "only 1 slice",
}


def uid(seed, *parts):
    """Deterministic UID derived from the seed and a purpose string."""
    return generate_uid(prefix=UID_PREFIX,
                        entropy_srcs=[str(seed)] + [str(p) for p in parts])


def default_hu(nz, ny, nx, seed=0):
    """A small body-like phantom in HU (float64, shape (nz, ny, nx)).

    Air outside a disc of soft tissue, a bone ring, a few calcium voxels, a
    padding corner below -1024 (goes to bin 0) and a metal voxel above 3071
    (goes to the last bin), plus integer noise so bins are well populated.
    """
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[0:nz, 0:ny, 0:nx]
    cy, cx = (ny - 1) / 2.0, (nx - 1) / 2.0
    r = np.hypot((y - cy) / max(ny / 2.0, 1), (x - cx) / max(nx / 2.0, 1))
    hu = np.full((nz, ny, nx), -1000.0)
    hu[r < 0.8] = 40.0
    hu[(r >= 0.6) & (r < 0.7)] = 700.0
    hu += rng.integers(-30, 31, size=hu.shape)
    hu[(r >= 0.2) & (r < 0.25) & (z % 3 == 0)] = 250.0
    # Padding outside the reconstruction circle, as scanners write it.
    hu[:, :max(ny // 8, 1), :max(nx // 8, 1)] = -2000.0
    hu[nz // 2, ny // 2, nx // 2] = 3500.0
    hu[0, ny // 2, nx // 2] = 3071.0
    return hu


def _to_stored(hu, slope, intercept, signed):
    stored = np.rint((np.asarray(hu, dtype=np.float64) - intercept) / slope)
    if signed is None:
        signed = stored.min() < 0
    lo, hi = (-32768, 32767) if signed else (0, 65535)
    if stored.min() < lo or stored.max() > hi:
        raise ValueError("HU values do not fit the stored pixel type")
    return stored.astype(np.int16 if signed else np.uint16), signed


def _ds_date_time(seed):
    base = datetime.datetime(2024, 1, 1, 8, 0, 0)
    t = base + datetime.timedelta(minutes=int(seed) % 100000)
    return t.strftime("%Y%m%d"), t.strftime("%H%M%S")


def make_ct_series(outdir, nx=64, ny=64, nz=16, spacing=(0.5, 0.5), dz=3.0,
                   origin=(-16.0, -16.0, 0.0), hu=None, slope=1.0,
                   intercept=-1024.0, modality="CT",
                   series_description="MedSight phantom", study_uid=None,
                   patient_id="MSPHANTOM", iop=(1, 0, 0, 0, 1, 0),
                   per_slice_overrides=None,
                   transfer_syntax=ExplicitVRLittleEndian, seed=1,
                   signed=None, series_number=1, extra_slices=None,
                   uid_salt=""):
    """Write one CT (or MR) series of nz single-frame slices to outdir.

    hu: None (default_hu), a callable (nz, ny, nx) -> ndarray, or an ndarray
        (nz, ny, nx) of HU; rounded to stored integers via slope/intercept.
    per_slice_overrides: {slice index: dict} to break geometry. Keys:
        "iop" (6 floats), "ipp" (3 floats), "size" ((rows, cols)),
        "drop" (True: slice not written), "remove" (list of DICOM keywords),
        "tags" ({keyword: value}).
    extra_slices: list of dicts written in addition (same keys; "index" names
        the slice whose pixels and position they copy by default).
    uid_salt: mixed into series/instance UIDs (not the study UID) so several
        series made from one seed can share a study without colliding.
    Returns dict(study_uid, series_uid, files, hu, positions, spacing) where
    hu is float64 (z, y, x) after rescale of the stored integers of the
    slices as generated (before overrides), positions the IPP per slice.
    """
    os.makedirs(outdir, exist_ok=True)
    if hu is None:
        hu = default_hu(nz, ny, nx, seed)
    elif callable(hu):
        hu = hu(nz, ny, nx)
    hu = np.asarray(hu, dtype=np.float64)
    if hu.shape != (nz, ny, nx):
        raise ValueError("hu has shape %s, want %s" % (hu.shape, (nz, ny, nx)))
    is_mr = modality.upper() == "MR"
    if is_mr:
        slope, intercept = 1.0, 0.0
    stored, signed = _to_stored(hu, slope, intercept, signed)
    hu_out = stored.astype(np.float64) * slope + intercept

    overrides = dict(per_slice_overrides or {})
    study_uid = study_uid or uid(seed, "study")
    series_uid = uid(seed, uid_salt, "series", series_number, modality)
    frame_uid = uid(seed, uid_salt, "frame", series_number)
    date, time = _ds_date_time(seed)

    row = np.array(iop[:3], dtype=np.float64)
    col = np.array(iop[3:], dtype=np.float64)
    normal = np.cross(row, col)
    positions = [tuple(float(v) for v in np.asarray(origin) + k * dz * normal)
                 for k in range(nz)]

    slices = []
    for k in range(nz):
        ov = overrides.get(k, {})
        if ov.get("drop"):
            continue
        slices.append((k, ov))
    for j, extra in enumerate(extra_slices or []):
        slices.append((extra.get("index", 0), dict(extra, _extra=j)))

    rng = np.random.default_rng(seed * 7919 + series_number)
    order = rng.permutation(len(slices))
    numbers = rng.permutation(len(slices)) + 1
    files = []
    for out_pos, si in enumerate(order):
        k, ov = slices[si]
        tag = "x%d" % ov["_extra"] if "_extra" in ov else "s%d" % k
        sop_uid = uid(seed, uid_salt, "sop", series_number, modality, tag)
        pixels = stored[k]
        if "size" in ov:
            rows, cols = ov["size"]
            pixels = np.resize(pixels, (rows, cols)).astype(stored.dtype)
        ipp = ov.get("ipp", positions[k])
        ds = _slice_dataset(
            modality=modality, is_mr=is_mr, study_uid=study_uid,
            series_uid=series_uid, frame_uid=frame_uid, sop_uid=sop_uid,
            patient_id=patient_id, series_description=series_description,
            series_number=series_number, date=date, time=time,
            instance_number=int(numbers[out_pos]), ipp=ipp,
            iop=ov.get("iop", iop), spacing=spacing, dz=dz, pixels=pixels,
            signed=signed, slope=slope, intercept=intercept,
            slice_location=float(np.dot(np.asarray(ipp), normal)))
        for kw, value in ov.get("tags", {}).items():
            setattr(ds, kw, value)
        for kw in ov.get("remove", []):
            if kw in ds:
                delattr(ds, kw)
        path = os.path.join(outdir, "%s_%03d.dcm" % (modality.lower(), out_pos))
        _write(ds, path, transfer_syntax)
        files.append(path)

    return {"study_uid": study_uid, "series_uid": series_uid, "files": files,
            "hu": hu_out, "positions": positions,
            "spacing": (float(spacing[1]), float(spacing[0]), float(dz))}


def _slice_dataset(**a):
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    if a["is_mr"]:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    else:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = MR_IMAGE_STORAGE if a["is_mr"] else CT_IMAGE_STORAGE
    ds.SOPInstanceUID = a["sop_uid"]
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = a["date"]
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = a["time"]
    ds.AccessionNumber = "MS" + a["study_uid"].replace(".", "")[-8:]
    ds.Modality = a["modality"]
    ds.Manufacturer = "MedSight phantom"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "MedSight phantom study"
    ds.SeriesDescription = a["series_description"]
    ds.PatientName = "Phantom^%s" % a["patient_id"]
    ds.PatientID = a["patient_id"]
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.BodyPartExamined = "CHEST"
    ds.PatientPosition = "HFS"
    ds.SliceThickness = "%g" % a["dz"]
    if a["is_mr"]:
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.RepetitionTime = "500"
        ds.EchoTime = "15"
        ds.EchoTrainLength = "1"
        ds.MagneticFieldStrength = "1.5"
    else:
        ds.KVP = "120"
        ds.GantryDetectorTilt = "0"
        ds.ConvolutionKernel = "STANDARD"
    ds.StudyInstanceUID = a["study_uid"]
    ds.SeriesInstanceUID = a["series_uid"]
    ds.StudyID = "1"
    ds.SeriesNumber = str(a["series_number"])
    ds.AcquisitionNumber = "1"
    ds.InstanceNumber = str(a["instance_number"])
    ds.PatientOrientation = ""
    ds.ImagePositionPatient = ["%.6g" % v for v in a["ipp"]]
    ds.ImageOrientationPatient = ["%.6g" % v for v in a["iop"]]
    ds.FrameOfReferenceUID = a["frame_uid"]
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = "%.6g" % a["slice_location"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = a["pixels"].shape
    ds.PixelSpacing = ["%g" % a["spacing"][0], "%g" % a["spacing"][1]]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if a["signed"] else 0
    if not a["is_mr"]:
        ds.RescaleIntercept = "%g" % a["intercept"]
        ds.RescaleSlope = "%g" % a["slope"]
        ds.RescaleType = "HU"
    ds.PixelData = np.ascontiguousarray(a["pixels"]).astype("<" + a["pixels"].dtype.str[1:]).tobytes()
    return ds


def _write(ds, path, transfer_syntax):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = UID_PREFIX + "1"
    meta.ImplementationVersionName = "MEDSIGHT_PH"
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = transfer_syntax == ImplicitVRLittleEndian
    ds.preamble = b"\0" * 128
    pydicom.dcmwrite(path, ds, write_like_original=False)


def make_variant(outdir, variant, seed=1, **kw):
    """A broken-geometry (or special) series; returns make_ct_series' dict
    plus "phrase": the error phrase the plugin must report (None for "mr").

    Variants: mixed_orientation, duplicate_position, missing_slice,
    gantry_tilt, mixed_size, missing_ipp, single_slice, mr.
    """
    nz = kw.pop("nz", 16)
    desc = kw.pop("series_description", "MedSight %s" % variant)
    ov = {}
    extra = None
    mid = nz // 2
    if variant == "mixed_orientation":
        # Slice stays at its place but is rotated 90 degrees in-plane.
        ov[mid] = {"iop": (0, 1, 0, -1, 0, 0)}
    elif variant == "duplicate_position":
        # One extra instance at an existing position; unique positions stay
        # uniform so only the duplicate is wrong.
        extra = [{"index": mid}]
    elif variant == "missing_slice":
        ov[mid] = {"drop": True}
    elif variant == "gantry_tilt":
        dz = kw.get("dz", 3.0)
        shift = dz * np.tan(np.radians(15.0))
        origin = kw.get("origin", (-16.0, -16.0, 0.0))
        for k in range(nz):
            ov[k] = {"ipp": (origin[0], origin[1] + k * shift, origin[2] + k * dz),
                     "tags": {"GantryDetectorTilt": "15"}}
    elif variant == "mixed_size":
        ov[mid] = {"size": (32, 32)}
    elif variant == "missing_ipp":
        ov[mid] = {"remove": ["ImagePositionPatient"]}
    elif variant == "single_slice":
        nz = 1
    elif variant == "mr":
        kw["modality"] = "MR"
    else:
        raise ValueError("unknown variant %r" % variant)
    kw.setdefault("uid_salt", variant)
    info = make_ct_series(outdir, nz=nz, seed=seed, per_slice_overrides=ov,
                          extra_slices=extra, series_description=desc, **kw)
    info["phrase"] = VARIANT_PHRASES.get(variant)
    return info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir")
    p.add_argument("--nx", type=int, default=64)
    p.add_argument("--ny", type=int, default=64)
    p.add_argument("--nz", type=int, default=16)
    p.add_argument("--dz", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--modality", default="CT")
    p.add_argument("--implicit", action="store_true",
                   help="implicit VR little endian instead of explicit")
    p.add_argument("--variant", choices=sorted(list(VARIANT_PHRASES) + ["mr"]))
    args = p.parse_args(argv)
    ts = ImplicitVRLittleEndian if args.implicit else ExplicitVRLittleEndian
    if args.variant:
        info = make_variant(args.outdir, args.variant, seed=args.seed, nx=args.nx,
                            ny=args.ny, nz=args.nz, dz=args.dz,
                            transfer_syntax=ts)
    else:
        info = make_ct_series(args.outdir, nx=args.nx, ny=args.ny, nz=args.nz,
                              dz=args.dz, seed=args.seed, modality=args.modality,
                              transfer_syntax=ts)
    print("study %s\nseries %s\n%d files in %s" % (
        info["study_uid"], info["series_uid"], len(info["files"]), args.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
