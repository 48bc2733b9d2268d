"""Digital chest phantom for the CT segmentation analysis (ANALYSES.md section 3)
with analytic masks, and the shared anatomy for the calcium heart-ROI phantom.

Geometry is in patient millimetres (LPS: +x = patient left, +y = posterior),
centred in-plane; the field of view is FOV mm whatever the matrix, so the
anatomy is the same at every resolution. A voxel belongs to a structure when
its centre lies inside it (no partial volume), so a correct segmentation can
recover the analytic masks up to its morphology.

    body   0 HU circular cylinder (radius 140 mm, centre y = -15) in -1000 HU air
    lungs  -800 HU ellipsoids at x = -65 (right lung) and x = +65 (left lung),
           semi-axes 45 x 65 mm in-plane, 0.4 * length along z, clear of the
           first and last slices
    spine  700 HU circular cylinder (radius 18 mm at y = +95) over every slice
    table  200 HU slab 10 mm thick, its top 5 mm below the body

Only numpy is used.
"""

import numpy as np

FOV = 400.0
BODY_R, BODY_Y = 140.0, -15.0
LUNG_X, LUNG_Y, LUNG_A, LUNG_B, LUNG_CZ = 65.0, -25.0, 45.0, 65.0, 0.4
SPINE_R, SPINE_Y = 18.0, 95.0
TABLE_GAP, TABLE_T, TABLE_HALF_W = 5.0, 10.0, 170.0
HU_AIR, HU_BODY, HU_LUNG, HU_SPINE, HU_TABLE = -1000.0, 0.0, -800.0, 700.0, 200.0


def grid(nx, ny, nz, dz):
    """Voxel-centre coordinates (x, y, z) in mm, each (nz, ny, nx), plus the
    in-plane spacing and the series origin (IPP of the first slice)."""
    d = FOV / nx
    dy = FOV / ny
    ox, oy = -(nx - 1) / 2.0 * d, -(ny - 1) / 2.0 * dy
    z, y, x = np.meshgrid(np.arange(nz) * dz, oy + np.arange(ny) * dy,
                          ox + np.arange(nx) * d, indexing="ij")
    return x, y, z, (d, dy), (ox, oy, 0.0)


def chest(nx=96, ny=96, nz=24, dz=10.0, lungs=True):
    """The phantom: dict(hu (nz, ny, nx) float64, masks {name: bool array},
    pixel_spacing (row, column) mm as make_ct_series' spacing wants it, dz,
    origin (IPP of slice 0, for make_ct_series), coords (x, y, z) in mm).

    masks: "Body" (the cylinder, lungs and spine included, table not),
    "Left lung", "Right lung" (empty when lungs is False), "Bone", "Table".
    """
    x, y, z, (dx, dy), origin = grid(nx, ny, nz, dz)
    length = nz * dz
    body = np.hypot(x, y - BODY_Y) <= BODY_R
    spine = np.hypot(x, y - SPINE_Y) <= SPINE_R
    table_top = BODY_Y + BODY_R + TABLE_GAP
    table = (y >= table_top) & (y <= table_top + TABLE_T) & (np.abs(x) <= TABLE_HALF_W)
    cz, rz = length / 2.0 - dz / 2.0, LUNG_CZ * length

    def lung(cx):
        return (((x - cx) / LUNG_A) ** 2 + ((y - LUNG_Y) / LUNG_B) ** 2
                + ((z - cz) / rz) ** 2) <= 1.0
    if lungs:
        left, right = lung(LUNG_X), lung(-LUNG_X)
    else:
        left = right = np.zeros_like(body)
    hu = np.full(body.shape, HU_AIR)
    hu[table] = HU_TABLE
    hu[body] = HU_BODY
    hu[left | right] = HU_LUNG
    hu[spine] = HU_SPINE
    # The table must be a separate object: at least one air row between.
    if np.any(body[:, 1:, :] & table[:, :-1, :]) or np.any(body[:, :-1, :] & table[:, 1:, :]) \
            or np.any(body & table):
        raise AssertionError("table touches the body at this resolution")
    if lungs and (left[0].any() or left[-1].any() or right[0].any() or right[-1].any()):
        raise AssertionError("lungs reach the first or last slice")
    if not table.any():
        raise AssertionError("table not sampled at this resolution")
    return {"hu": hu, "masks": {"Body": body, "Left lung": left, "Right lung": right,
                                "Bone": spine & body, "Table": table},
            "pixel_spacing": (dy, dx), "dz": dz, "origin": origin,
            "coords": (x, y, z)}


def dice(a, b):
    """Dice coefficient of two boolean masks (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    s = int(a.sum()) + int(b.sum())
    return 1.0 if s == 0 else 2.0 * int((a & b).sum()) / s
