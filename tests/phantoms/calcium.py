"""Digital phantoms for the calcium scoring analysis (ANALYSES.md sections 1 and 5).

Each function returns a dict with "hu" (nz, ny, nx) float64 and the keyword
arguments make_series.make_ct_series needs for its geometry ("series_kw":
spacing, dz, origin), plus test-case specific facts. Expected scores are not
stored here: the tests compute them from the voxels (or take ANALYSES.md's
closed-form answers), so a phantom cannot agree with the program by
construction.

    t1..t5           ANALYSES.md section 1 test cases at 0.5 mm pixels
    qrm_insert       nine cylinders d = 1/3/5 mm (length = d) x 3 densities,
                     partial-volume voxelised (in-plane supersampling, exact
                     overlap along z)
    no_calcium       soft tissue disc in air, nothing >= 130 HU
    heart_roi        ctseg.chest anatomy + heart + coronary calcium, and dense
                     calcium in the spine that a heart ROI must exclude

Only numpy is used.
"""

import numpy as np

import ctseg

PIX = 0.5          # mm, in-plane spacing of T1-T5 and the insert
BG = 40.0          # HU of the soft tissue background
AIR = -1000.0


def _series_kw(nx, ny, dz, pix=PIX):
    return {"nx": nx, "ny": ny, "spacing": (pix, pix), "dz": dz,
            "origin": (-(nx - 1) / 2.0 * pix, -(ny - 1) / 2.0 * pix, 0.0)}


def _blank(nz, ny=32, nx=32):
    return np.full((nz, ny, nx), BG)


def t1(dz=3.0):
    """T1 (dz = 3 mm: 3 slices) or T2 (dz = 1.5 mm: 6 slices): a 4 x 5 pixel
    (20 px = 5 mm^2) block at 250 HU over the same 9 mm of z.
    Known: A = 30, V = 45 mm^3, mass = 11.25 mg with c = 0.001."""
    n = int(round(9.0 / dz))
    nz = n + 2
    hu = _blank(nz)
    hu[1:1 + n, 10:14, 12:17] = 250.0
    return {"hu": hu, "series_kw": _series_kw(32, 32, dz), "nz": nz,
            "slices": [1, n]}


def t3():
    """T3: one 3-pixel (0.75 mm^2) component at 300 HU on one slice:
    below the 1 mm^2 minimum (dropped) but kept by the Canon profile."""
    hu = _blank(3)
    hu[1, 15, 15:18] = 300.0
    return {"hu": hu, "series_kw": _series_kw(32, 32, 3.0), "nz": 3}


def t4():
    """T4: three 2 x 3 pixel components on one slice whose peaks are 129.9,
    199.9 and 200.0 HU (other pixels 150 HU; the first component entirely
    below 130). Needs RescaleSlope 0.1 to store tenths of HU.
    Known: excluded / weight 1 / weight 2."""
    hu = _blank(3)
    hu[1, 4:6, 4:7] = 129.9
    hu[1, 14:16, 4:7] = 150.0
    hu[1, 14, 5] = 199.9
    hu[1, 24:26, 4:7] = 150.0
    hu[1, 24, 5] = 200.0
    return {"hu": hu, "series_kw": dict(_series_kw(32, 32, 3.0), slope=0.1,
                                        intercept=-1024.0), "nz": 3,
            "components": {"excluded": (slice(4, 6), slice(4, 7)),
                           "w1": (slice(14, 16), slice(4, 7)),
                           "w2": (slice(24, 26), slice(4, 7))}}


def t5():
    """T5: two 2 x 2 blocks at 250 HU touching only at a corner (two lesions
    under 4-connectivity, one under 8), and a diagonal chain of four single
    pixels (four 1-pixel components under 4-connectivity, all dropped by the
    1 mm^2 minimum; one 4-pixel component under 8)."""
    hu = _blank(3)
    hu[1, 5:7, 5:7] = 250.0
    hu[1, 7:9, 7:9] = 250.0
    for i in range(4):
        hu[1, 20 + i, 20 + i] = 250.0
    return {"hu": hu, "series_kw": _series_kw(32, 32, 3.0), "nz": 3}


QRM_DIAMETERS = (5.0, 3.0, 1.0)                    # mm; length = diameter
QRM_DENSITIES = (800, 400, 200)                    # mg HA / cm^3
QRM_HU = {800: 880.0, 400: 450.0, 200: 230.0}      # insert material HU


def qrm_insert(dz=3.0, nx=96, ny=96, z_len=21.0, zc=10.3, supersample=8, seed=5):
    """QRM-like calcification insert: a 40 HU disc (radius 22 mm) in air
    holding nine cylinders along z, centred at z = zc; column = diameter
    (5/3/1 mm), row = density (800/400/200 mg/cm^3). Voxel value =
    BG + (insert - BG) * in-plane area fraction (supersample^2 points) *
    z overlap fraction (slice thickness = dz), plus +-6 HU integer noise.
    Returns also "cylinders": [(diameter, density, cx, cy)] in mm."""
    nz = int(round(z_len / dz)) + 1
    kw = _series_kw(nx, ny, dz)
    ox, oy = kw["origin"][:2]
    xs = ox + np.arange(nx) * PIX
    ys = oy + np.arange(ny) * PIX
    zs = np.arange(nz) * dz
    # Sub-pixel sample offsets (centres of a supersample x supersample grid).
    sub = (np.arange(supersample) + 0.5) / supersample * PIX - PIX / 2.0
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    disc = np.hypot(xx, yy) <= 22.0
    rng = np.random.default_rng(seed)
    hu = np.where(disc, BG, AIR)[None, :, :].repeat(nz, axis=0)
    hu = hu + rng.integers(-6, 7, size=hu.shape) * disc[None]
    cylinders = []
    for col, d in enumerate(QRM_DIAMETERS):
        for row, dens in enumerate(QRM_DENSITIES):
            # Off-grid centres so no cylinder is symmetric about a pixel.
            cx = -12.0 + 12.0 * col + 0.13
            cy = -12.0 + 12.0 * row - 0.21
            cylinders.append((d, dens, cx, cy))
            area = np.zeros((ny, nx))
            for sy in sub:
                for sx in sub:
                    area += np.hypot(xx + sx - cx, yy + sy - cy) <= d / 2.0
            area /= supersample * supersample
            lo, hi = zc - d / 2.0, zc + d / 2.0
            fz = np.clip(np.minimum(zs + dz / 2.0, hi) - np.maximum(zs - dz / 2.0, lo),
                         0.0, None) / dz
            frac = fz[:, None, None] * area[None, :, :]
            hu = hu + (QRM_HU[dens] - BG) * frac
    return {"hu": hu, "series_kw": kw, "nz": nz, "cylinders": cylinders}


def no_calcium(nz=8, nx=48, ny=48):
    """A soft tissue disc (40 HU, +-20 HU noise, max 60 HU) in air: zero score."""
    kw = _series_kw(nx, ny, 3.0)
    yy, xx = np.mgrid[0:ny, 0:nx]
    disc = np.hypot(xx - (nx - 1) / 2.0, yy - (ny - 1) / 2.0) <= nx * 0.4
    rng = np.random.default_rng(11)
    hu = np.where(disc, BG, AIR)[None].repeat(nz, axis=0)
    hu = hu + rng.integers(-20, 21, size=hu.shape) * disc[None]
    return {"hu": hu, "series_kw": kw, "nz": nz}


def heart_roi(nx=128, ny=128, nz=16, dz=3.0):
    """ctseg.chest anatomy (body, lungs clear of the end slices, 700 HU spine,
    table) at 3.125 mm pixels, plus a 40 HU heart ellipse between the lungs
    and anterior to the spine, holding one coronary calcification (2 x 2
    pixels at 350 HU on the two middle slices), and a 1200 HU calcified spot
    inside the spine on the same slices. With a heart ROI only the coronary
    lesion may count; without one the spine counts too.
    Returns also "lesion": bool mask of the coronary lesion."""
    ph = ctseg.chest(nx, ny, nz, dz)
    x, y, z = ph["coords"]
    hu = ph["hu"].copy()
    heart = (((x / 38.0) ** 2 + ((y + 30.0) / 45.0) ** 2) <= 1.0) & \
        ~ph["masks"]["Left lung"] & ~ph["masks"]["Right lung"]
    hu[heart] = BG
    dx = ph["pixel_spacing"][1]
    j0 = int(round((-30.0 - ph["origin"][1]) / dx))
    i0 = int(round((0.0 - ph["origin"][0]) / dx))
    k0 = nz // 2 - 1
    lesion = np.zeros(hu.shape, dtype=bool)
    lesion[k0:k0 + 2, j0:j0 + 2, i0:i0 + 2] = True
    if not heart[lesion].all():
        raise AssertionError("coronary lesion outside the heart")
    hu[lesion] = 350.0
    js = int(round((SPINE_Y_MM - ph["origin"][1]) / dx))
    hu[k0:k0 + 2, js - 1:js + 2, i0 - 1:i0 + 2] = 1200.0
    kw = {"nx": nx, "ny": ny, "spacing": ph["pixel_spacing"], "dz": dz,
          "origin": ph["origin"]}
    return {"hu": hu, "series_kw": kw, "nz": nz, "lesion": lesion,
            "masks": ph["masks"]}


SPINE_Y_MM = ctseg.SPINE_Y
