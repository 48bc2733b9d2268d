#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<name>/seed-*.

Run once by hand when a target's input format changes (the seeds are committed; crash-*
regression files next to them are never touched). Deterministic: the same files every run.
    /usr/bin/python3 tests/fuzz/make_seeds.py
"""
import json
import os
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def write(name, seed, data):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + seed), "wb") as f:
        f.write(data)


# -- geometry: see fuzz_geometry.c for the record layouts --------------------------------------

def geom_compact(o, ipp, ps=(14, 10), rows=32, cols=48, flags=0):
    x, y, z = (int(round(v * 8)) for v in ipp)
    return struct.pack("<Bhhh4BB", o, x, y, z, ps[0], ps[1], rows, cols, flags)


def geom_raw(ipp, iop, ps, rows=32, cols=48, flags=0):
    return struct.pack("<11dHHB", *ipp, *iop, *ps, rows, cols, flags)


def geometry():
    stack = [geom_compact(0, (-10, -20, 5 + 2.5 * k)) for k in (3, 0, 7, 1, 6, 2, 5, 4)]
    write("geometry", "axial", b"\x00" + b"".join(stack))
    c, s = 0.955336489, 0.295520207
    obl = [geom_compact(3, (0, -s * 1.25 * k, c * 1.25 * k)) for k in range(6)]
    write("geometry", "oblique", b"\x00" + b"".join(obl))
    sag = [geom_compact(2, (1.5 * k, 0, 0)) for k in range(4)]
    write("geometry", "sagittal-errbuf16", b"\x04" + b"".join(sag))
    bad = stack[:3] + [geom_compact(0, (-10, -20, 5 + 2.5 * 3))] + [geom_compact(0, (0, 0, 40), flags=9)]
    write("geometry", "duplicate-missing", b"\x00" + b"".join(bad))
    raw = [geom_raw((-10.0, -20.0, 0.7 * k), (1, 0, 0, 0, 1, 0), (0.7, 0.5)) for k in range(5)]
    write("geometry", "raw", b"\x01" + b"".join(raw))
    opts = struct.pack("<4d", 0.05, 0.1, 1e-3, 1.0)
    write("geometry", "raw-opts", b"\x03" + opts + b"".join(raw))


# -- timepoints -------------------------------------------------------------------------------

def tp_compact(z2, tp=0, an=0, frame=0, at=255, tt=255):
    return struct.pack("<bBBBBB", z2, (tp & 7) | ((an & 7) << 3), frame & 7, at, tt, 0)


def tp_raw(z, tp=0, an=0, at=-1.0, tt=-1.0, frame=0):
    return struct.pack("<diiddi", z, tp, an, at, tt, frame)


def timepoints():
    zs = (0, 5, 10, 15)
    by_tp = [tp_compact(z, tp=t + 1, at=4 * t) for t in range(4) for z in zs]
    write("timepoints", "temporal", b"\x00" + b"".join(by_tp))
    by_an = [tp_compact(z, an=t + 1, tt=10 * t) for t in range(3) for z in zs]
    write("timepoints", "acqnumber-trigger", b"\x00" + b"".join(by_an))
    by_time = [tp_compact(z, at=3 * t + (z % 2)) for t in range(5) for z in reversed(zs)]
    write("timepoints", "acqtime", b"\x00" + b"".join(by_time))
    write("timepoints", "acqtime-midnight", b"\x02" + b"".join(by_time))
    by_frame = [tp_compact(z, frame=t + 1, tp=1, at=7 * t) for t in range(3) for z in zs]
    write("timepoints", "frame-failalloc3", bytes([3 << 3]) + b"".join(by_frame))
    short = by_tp[:-1]
    write("timepoints", "short-errbuf16", b"\x04" + b"".join(short))
    raw = [tp_raw(2.5 * z, tp=t + 1, at=36000.0 + 1.5 * t) for t in range(3) for z in range(3)]
    write("timepoints", "raw", b"\x01" + b"".join(raw))


# -- json and config ------------------------------------------------------------------------

def json_seeds():
    write("json", "object", '{"Name":"MedSight","Port":8042,"Ratio":-1.5e-3,"On":true,"Off":false,'
          '"None":null,"List":[1,"two",[3,{}],{"k":[]}],"Text":"tab\\t \\"q\\" \\u00e9 '
          '\\ud83d\\ude00 \\/","Nested":{"a":{"b":{"c":[0,-0,1e2]}}}}')
    write("json", "numbers", "[0,-0,1,-1,0.5,1e308,-1e-308,4.9e-324,9007199254740993,123456789012345678901234567890]")
    write("json", "bom-utf8", b"\xef\xbb\xbf  {\"\xc3\xa9\": \"\xe2\x82\xac\", \"dup\": 1, \"dup\": [ ] }\n")
    write("json", "deep", "[" * 40 + "{}" + "]" * 40)
    write("json", "bad-escape", '["\\ud800", "\\x"]')
    shutil.copy(os.path.join(ROOT, "config", "orthanc.json"),
                os.path.join(HERE, "corpus", "json", "seed-sample-config"))


def config_seeds():
    shutil.copy(os.path.join(ROOT, "config", "orthanc.json"),
                os.path.join(HERE, "corpus", "config", "seed-sample"))
    write("config", "empty", "{}")
    write("config", "index", json.dumps({"IndexDirectory": "/tmp/x", "StableAge": 5,
                                         "MedSight": {"Database": "", "Device": "CPU"}}))
    write("config", "forward", json.dumps({"MedSight": {"Forward": [
        {"Url": "http://pacs.example:8042/dicom-web//"},
        {"Url": "HTTPS://[::1]/", "Name": "local", "VerifyPeer": False, "TimeoutSeconds": 1,
         "MaxAttempts": 1000, "BearerToken": "tok"},
        {"Url": "http://10.0.0.1", "Username": "u", "Password": "p"}]}}))
    write("config", "analyses", json.dumps({"MedSight": {
        "Workers": 4, "MemoryBudgetMB": 64, "MaxAttempts": 100, "StableTrigger": False,
        "PerfRetentionDays": 3650,
        "Rules": [{"Analysis": "histogram"},
                  {"Analysis": "perfusion", "Priority": "stat",
                   "Match": {"Modality": "MR", "SeriesDescription": "*perf*"}}],
        "Histogram": {"BinWidth": 0.5, "Min": -100, "Max": 100},
        "Calcium": {"Profile": "siemens", "Connectivity": 8, "ThresholdHU": 130, "MinAreaMM2": 1,
                    "KvpAdjust": True, "VolumeMethod": "isotropic", "MassCalibration": 0.001,
                    "MaxHU": 0, "ROI": "none"},
        "Perfusion": {"Method": "cSVD", "SVDThreshold": 0.15, "Relative": True, "AIFVoxels": 6},
        "Segmentation": {}}}))
    write("config", "bad-value", json.dumps({"MedSight": {"Workers": 0, "Devise": "cpu"}}))


# -- slice_info: small real headers from the phantom generator --------------------------------

def dicom_seeds():
    tmp = tempfile.mkdtemp(prefix="ms-seeds-")
    try:
        gen = os.path.join(ROOT, "tests", "phantoms", "make_series.py")
        for label, extra in (("ct", []), ("ct-implicit", ["--implicit"]), ("mr", ["--variant", "mr"])):
            out = os.path.join(tmp, label)
            subprocess.run(["/usr/bin/python3", gen, out, "--nx", "4", "--ny", "4", "--nz", "2"] + extra,
                           check=True, stdout=subprocess.DEVNULL)
            f = sorted(os.listdir(out))[0]
            shutil.copy(os.path.join(out, f), os.path.join(HERE, "corpus", "slice_info", "seed-" + label))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write("slice_info", "not-dicom", "DICM but not really")


if __name__ == "__main__":
    os.makedirs(os.path.join(HERE, "corpus", "slice_info"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "corpus", "config"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "corpus", "json"), exist_ok=True)
    geometry()
    timepoints()
    json_seeds()
    config_seeds()
    dicom_seeds()
