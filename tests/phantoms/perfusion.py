"""Digital phantoms for the perfusion analysis (ANALYSES.md section 2.7): a
gamma-variate arterial input function and tissue regions whose curves are the
closed-form convolution of that AIF with an exponential residue, so CBF, CBV,
MTT, Tmax and the time to peak are known without running any deconvolution.

    C_a(t) = K s^alpha e^(-s/beta),  s = t - t0 > 0
    C_t(t) = F K e^(-s/tau) gamma(alpha+1, lambda s) / lambda^(alpha+1),
             lambda = 1/beta - 1/tau > 0, s = t - t0 - delay,
    F = CBF rho / (6000 k_H) per s;  CBV = CBF tau / 60;  MTT = tau;  Tmax = delay

gamma is the lower incomplete gamma function (power series below, no scipy).

    ct_phantom      classic dynamic CT: HU = baseline + C (air border, an AIF
                    block, three tissue blocks, non-enhancing tissue elsewhere)
    dsc_phantom     classic DSC-MR: S = S0 exp(-TE C) on the same layout
    write_series    one DICOM series of nt x nz single-frame images (through
                    make_series.make_ct_series) with the per-time-point tags
                    (AcquisitionNumber/AcquisitionTime or
                    TemporalPositionIdentifier), optionally a dropped image
    write_enhanced  the same nt x nz images as ONE Enhanced CT instance of
                    nt * nz frames (shared and per-frame functional groups,
                    TemporalPositionIndex, FrameAcquisitionDateTime)

Only numpy, pydicom and make_series are used.
"""

import math
import os

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

import make_series

ENHANCED_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"

T0, ALPHA, BETA = 10.0, 3.0, 1.5    # AIF gamma variate (ANALYSES 2.7)
RHO, KH = 1.04, 0.73                # the plugin's defaults (ANALYSES 2.5)
BASE_HU = 40.0                      # tissue and blood before the bolus
AIR_HU = -1000.0
BORDER = 2                          # air pixels around the body in-plane

# name, CBF (ml/100 g/min), tau (s), AIF delay (s), (y0, y1, x0, x1) in-plane block
REGIONS = (
    ("A", 60.0, 4.0, 0.0, (4, 10, 10, 16)),
    ("B", 30.0, 4.0, 0.0, (12, 18, 10, 16)),
    ("C", 40.0, 5.0, 2.0, (12, 18, 3, 9)),
)
AIF_BLOCK = (4, 7, 4, 7)            # 3 x 3 pixels on every slice (y0, y1, x0, x1)


def gammainc_lower(a, x):
    """Lower incomplete gamma gamma(a, x) = int_0^x u^(a-1) e^-u du for a > 0,
    x >= 0 (array), by the series x^a e^-x sum_n x^n / (a (a+1) ... (a+n))."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    pos = x > 0
    xp = x[pos]
    term = np.full_like(xp, 1.0 / a)
    total = term.copy()
    n = 1
    while True:
        term = term * xp / (a + n)
        total += term
        if np.all(term <= 1e-17 * total) or n > 1000:
            break
        n += 1
    out[pos] = np.exp(a * np.log(xp) - xp) * total
    return out


def aif_curve(t, k, t0=T0, alpha=ALPHA, beta=BETA):
    """Gamma-variate AIF concentration at times t (array)."""
    s = np.asarray(t, dtype=np.float64) - t0
    out = np.zeros_like(s)
    pos = s > 0
    out[pos] = k * s[pos] ** alpha * np.exp(-s[pos] / beta)
    return out


def flow_per_s(cbf, rho=RHO, kh=KH):
    """F of C_t = F (C_a conv R) for a CBF in ml/100 g/min (ANALYSES 2.5)."""
    return cbf / 6000.0 * rho / kh


def tissue_curve(t, cbf, tau, k, delay=0.0, t0=T0, alpha=ALPHA, beta=BETA,
                 rho=RHO, kh=KH):
    """Closed-form tissue concentration (ANALYSES 2.7) at times t (array)."""
    lam = 1.0 / beta - 1.0 / tau
    if lam <= 0:
        raise ValueError("the closed form needs tau > beta")
    s = np.asarray(t, dtype=np.float64) - t0 - delay
    out = np.zeros_like(s)
    pos = s > 0
    out[pos] = (flow_per_s(cbf, rho, kh) * k * np.exp(-s[pos] / tau)
                * gammainc_lower(alpha + 1.0, lam * s[pos]) / lam ** (alpha + 1.0))
    return out


def true_ttp(cbf, tau, delay=0.0, horizon=60.0):
    """Time of the continuous tissue curve's peak (s), on a 1 ms grid."""
    t = np.arange(0.0, horizon, 0.001)
    return float(t[np.argmax(tissue_curve(t, cbf, tau, 1.0, delay))])


def _layout(nz, ny, nx):
    body = np.zeros((nz, ny, nx), dtype=bool)
    body[:, BORDER:ny - BORDER, BORDER:nx - BORDER] = True
    aif = np.zeros_like(body)
    y0, y1, x0, x1 = AIF_BLOCK
    aif[:, y0:y1, x0:x1] = True
    aif &= body          # small matrices clip the blocks to the body
    regions = []
    for name, cbf, tau, delay, (ry0, ry1, rx0, rx1) in REGIONS:
        m = np.zeros_like(body)
        m[:, ry0:ry1, rx0:rx1] = True
        m &= body
        regions.append({"name": name, "cbf": cbf, "tau": tau, "delay": delay,
                        "cbv": cbf * tau / 60.0, "mtt": tau, "mask": m})
    return body, aif, regions


def _concentration(t, k, nz, ny, nx):
    """(nt, nz, ny, nx) concentration, the body mask, AIF mask and regions."""
    body, aif, regions = _layout(nz, ny, nx)
    c = np.zeros((len(t), nz, ny, nx))
    c[:, aif] = aif_curve(t, k)[:, None]
    for r in regions:
        curve = tissue_curve(t, r["cbf"], r["tau"], k, r["delay"])
        c[:, r["mask"]] = curve[:, None]
        r["ttp"] = true_ttp(r["cbf"], r["tau"], r["delay"])
    return c, body, aif, regions


def _geometry(nx, ny, nz, pix, dz):
    origin = (-(nx - 1) / 2.0 * pix, -(ny - 1) / 2.0 * pix, 0.0)
    positions = [(origin[0], origin[1], origin[2] + z * dz) for z in range(nz)]
    return {"nx": nx, "ny": ny, "spacing": (pix, pix), "dz": dz,
            "origin": origin}, positions


def ct_phantom(nx=24, ny=24, nz=4, nt=44, dt=1.0, k=110.0, pix=1.0, dz=5.0):
    """Classic dynamic CT. HU = 40 + C inside the body (air outside), with the
    AIF peak K (alpha beta)^alpha e^-alpha (~500 HU above baseline for K = 110).
    Returns dict(hu (nt, nz, ny, nx), t, dt, body, aif_mask, aif_voxels
    [(x, y, z)], aif (curve), regions [dict(name, cbf, tau, delay, cbv, mtt,
    ttp, mask)], series_kw, positions, modality)."""
    t = np.arange(nt) * dt
    c, body, aif, regions = _concentration(t, k, nz, ny, nx)
    hu = np.where(body[None], BASE_HU + c, AIR_HU)
    kw, positions = _geometry(nx, ny, nz, pix, dz)
    kw.update(slope=0.1, intercept=-1024.0)
    zz, yy, xx = np.nonzero(aif)
    return {"hu": hu, "t": t, "dt": dt, "body": body, "aif_mask": aif,
            "aif_voxels": list(zip(xx.tolist(), yy.tolist(), zz.tolist())),
            "aif": aif_curve(t, k), "regions": regions, "series_kw": kw,
            "positions": positions, "modality": "CT"}


def dsc_phantom(nx=16, ny=16, nz=2, nt=30, dt=1.0, k=4.4, s0=20000.0, te_ms=30.0,
                pix=1.5, dz=5.0):
    """Classic DSC-MR: S = S0 exp(-TE C) in the body (C = Delta R2* in 1/s;
    the AIF peaks near 20/s, a 45% signal drop at TE 30 ms), 0 outside.
    Same layout as ct_phantom scaled to the matrix; returns the same keys with
    "signal" instead of "hu" and "te_ms"."""
    t = np.arange(nt) * dt
    c, body, aif, regions = _concentration(t, k, nz, ny, nx)
    sig = np.where(body[None], s0 * np.exp(-te_ms / 1000.0 * c), 0.0)
    kw, positions = _geometry(nx, ny, nz, pix, dz)
    zz, yy, xx = np.nonzero(aif)
    return {"hu": sig, "signal": sig, "t": t, "dt": dt, "body": body, "aif_mask": aif,
            "aif_voxels": list(zip(xx.tolist(), yy.tolist(), zz.tolist())),
            "aif": aif_curve(t, k), "regions": regions, "series_kw": kw,
            "positions": positions, "modality": "MR", "te_ms": te_ms}


def _dicom_time(seconds):
    """DICOM TM for seconds since midnight (fraction only when needed)."""
    whole = int(math.floor(seconds))
    frac = seconds - whole
    text = "%02d%02d%02d" % (whole // 3600, whole // 60 % 60, whole % 60)
    if frac > 1e-9:
        text += (".%06d" % int(round(frac * 1e6)))
    return text


def write_series(outdir, ph, seed, uid_salt, description="MedSight perfusion phantom",
                 drop=(), start_s=9 * 3600.0, temporal="auto"):
    """Writes ph as one series of nt x nz single-frame images into outdir.

    temporal: "acquisition" (CT: AcquisitionNumber t + 1 and AcquisitionTime/
    ContentTime per time point), "temporal" (MR: TemporalPositionIdentifier,
    NumberOfTemporalPositions, AcquisitionTime and EchoTime), or "auto" (by
    modality). drop: (t, z) images (0-based) not written.
    Returns make_ct_series' dict with "hu" (nt, nz, ny, nx) as stored (after
    rescale and rounding), "positions" per slice, "nt", "nz" and "sop"
    {SOPInstanceUID: (t, z)} of the written files."""
    hu = np.asarray(ph["hu"], dtype=np.float64)
    nt, nz, ny, nx = hu.shape
    mr = ph["modality"] == "MR"
    if temporal == "auto":
        temporal = "temporal" if mr else "acquisition"
    drop = set(drop)
    overrides = {}
    for t in range(nt):
        when = _dicom_time(start_s + float(ph["t"][t]))
        for z in range(nz):
            i = t * nz + z
            tags = {"AcquisitionTime": when, "ContentTime": when}
            if temporal == "temporal":
                tags.update(TemporalPositionIdentifier=str(t + 1),
                            NumberOfTemporalPositions=str(nt))
            else:
                tags["AcquisitionNumber"] = str(t + 1)
            if mr:
                tags["EchoTime"] = "%g" % ph["te_ms"]
            overrides[i] = {"ipp": ph["positions"][z], "tags": tags}
            if (t, z) in drop:
                overrides[i]["drop"] = True
    kw = dict(ph["series_kw"])
    info = make_series.make_ct_series(
        outdir, nz=nt * nz, hu=hu.reshape(nt * nz, ny, nx), modality=ph["modality"],
        series_description=description, seed=seed, uid_salt=uid_salt,
        per_slice_overrides=overrides, **kw)
    info["hu"] = info["hu"].reshape(nt, nz, ny, nx)
    info["positions"] = list(ph["positions"])
    info["nt"], info["nz"] = nt, nz
    # Read back rather than re-derive make_series' UIDs: which file is which image.
    sop = {}
    zs = np.asarray([p[2] for p in ph["positions"]])
    for path in info["files"]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if temporal == "temporal":
            t = int(ds.TemporalPositionIdentifier) - 1
        else:
            t = int(ds.AcquisitionNumber) - 1
        z = int(np.argmin(np.abs(zs - float(ds.ImagePositionPatient[2]))))
        sop[str(ds.SOPInstanceUID)] = (t, z)
    info["sop"] = sop
    return info


def _item(**kw):
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def write_enhanced(outdir, ph, seed, uid_salt, description="MedSight enhanced perfusion phantom",
                   start_s=9 * 3600.0):
    """Writes a CT phantom as one Enhanced CT Image Storage instance of
    nt x nz frames into outdir, frames in a seeded shuffled order so the
    reader must group and sort them: geometry (orientation, spacing, rescale)
    in the shared functional groups, per frame the PlanePositionSequence and
    a FrameContentSequence with TemporalPositionIndex t + 1,
    DimensionIndexValues [t + 1, z + 1] and FrameAcquisitionDateTime.
    Returns the keys of write_series: "files" (one), study/series UIDs, "hu"
    (nt, nz, ny, nx) as stored, "positions", "nt", "nz", and "sop"
    {SOPInstanceUID: (None, None)}: the one instance holds every image."""
    if ph["modality"] != "CT":
        raise ValueError("write_enhanced writes CT phantoms")
    os.makedirs(outdir, exist_ok=True)
    hu = np.asarray(ph["hu"], dtype=np.float64)
    nt, nz, ny, nx = hu.shape
    kw = ph["series_kw"]
    slope, intercept = kw["slope"], kw["intercept"]
    stored, signed = make_series._to_stored(hu, slope, intercept, None)
    study_uid = make_series.uid(seed, "study")
    series_uid = make_series.uid(seed, uid_salt, "series", "enhanced")
    sop_uid = make_series.uid(seed, uid_salt, "sop", "enhanced")
    date, time = make_series._ds_date_time(seed)
    iop = (1, 0, 0, 0, 1, 0)

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.SOPClassUID = ENHANCED_CT_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
    ds.AcquisitionDateTime = date + _dicom_time(start_s)
    ds.AccessionNumber = "MS" + study_uid.replace(".", "")[-8:]
    ds.Modality = "CT"
    ds.Manufacturer = "MedSight phantom"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "MedSight phantom study"
    ds.SeriesDescription = description
    ds.PatientName = "Phantom^MSPHANTOM"
    ds.PatientID = "MSPHANTOM"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.KVP = "120"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = "1"
    ds.InstanceNumber = "1"
    ds.FrameOfReferenceUID = make_series.uid(seed, uid_salt, "frame", "enhanced")
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = ny, nx
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if signed else 0
    ds.ContentQualification = "RESEARCH"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY"

    dim_uid = make_series.uid(seed, uid_salt, "dimensions")
    ds.DimensionOrganizationSequence = Sequence([_item(DimensionOrganizationUID=dim_uid)])
    ds.DimensionIndexSequence = Sequence([
        _item(DimensionOrganizationUID=dim_uid, DimensionIndexPointer=0x00209128,
              FunctionalGroupPointer=0x00209111, DimensionDescriptionLabel="Time"),
        _item(DimensionOrganizationUID=dim_uid, DimensionIndexPointer=0x00200032,
              FunctionalGroupPointer=0x00209113, DimensionDescriptionLabel="Position"),
    ])
    ds.SharedFunctionalGroupsSequence = Sequence([_item(
        PixelMeasuresSequence=Sequence([_item(
            PixelSpacing=["%g" % v for v in kw["spacing"]], SliceThickness="%g" % kw["dz"])]),
        PlaneOrientationSequence=Sequence([_item(ImageOrientationPatient=["%g" % v for v in iop])]),
        PixelValueTransformationSequence=Sequence([_item(
            RescaleIntercept="%g" % intercept, RescaleSlope="%g" % slope, RescaleType="HU")]),
    )])

    order = np.random.default_rng(seed).permutation(nt * nz)
    frames, per_frame = [], []
    for i in order:
        t, z = divmod(int(i), nz)
        when = date + _dicom_time(start_s + float(ph["t"][t]))
        per_frame.append(_item(
            FrameContentSequence=Sequence([_item(
                FrameAcquisitionDateTime=when, FrameReferenceDateTime=when,
                FrameAcquisitionDuration=100.0, TemporalPositionIndex=t + 1,
                DimensionIndexValues=[t + 1, z + 1])]),
            PlanePositionSequence=Sequence([_item(
                ImagePositionPatient=["%.6g" % v for v in ph["positions"][z]])]),
        ))
        frames.append(stored[t, z])
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.NumberOfFrames = str(nt * nz)
    pixels = np.ascontiguousarray(np.stack(frames))
    ds.PixelData = pixels.astype("<" + pixels.dtype.str[1:]).tobytes()

    path = os.path.join(outdir, "enhanced_ct.dcm")
    make_series._write(ds, path, ExplicitVRLittleEndian)
    return {"study_uid": study_uid, "series_uid": series_uid, "files": [path],
            "hu": stored.astype(np.float64) * slope + intercept,
            "positions": list(ph["positions"]), "nt": nt, "nz": nz,
            "sop": {sop_uid: (None, None)}}
