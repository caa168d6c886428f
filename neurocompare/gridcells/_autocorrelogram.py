"""Spatial autocorrelograms of rate maps (masked, normalised cross-correlation by FFT).

Autocorrelograms are arrays of dims ``(unit, 2*y - 1, 2*x - 1)`` with zero lag at the centre bin
``(y - 1, x - 1)``, computed from rate maps of dims ``(unit, y, x)`` (NaN = unvisited).

References
----------
Hafting et al. (2005) Nature 436:801. Sargolini et al. (2006) Science 312:758.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import fft as sfft

from neurocompare.gridcells import _checks
from neurocompare.gridcells._checks import as_maps

__all__ = ["autocorrelogram", "crop_autocorrelogram", "SARGOLINI_ANGLES", "RingGeometry", "ring_geometry", "central_field_radius"]


def autocorrelogram(maps: Any, *, min_overlap: int = 20) -> np.ndarray:
    """Spatial autocorrelograms by masked, normalised cross-correlation via FFTs.

    For each lag, the Pearson correlation between the map and its shifted copy is computed over the
    bins valid (non-NaN) in both, from FFTs of the mask ``m``, of ``x*m`` and of ``x**2*m``, exactly
    as the direct per-lag computation would (the standard BNT/DeepMind approach, done by FFT).

    Parameters
    ----------
    maps : array of dims (unit, y, x) or (y, x); NaN = unvisited.
    min_overlap : int
        Lags with fewer pairwise-valid bins than this are NaN.

    Returns
    -------
    ndarray of dims (unit, 2*y - 1, 2*x - 1) (or (2*y - 1, 2*x - 1)); centre = zero lag. NaN for
    lags with too little overlap or zero variance (e.g. constant or all-NaN maps).
    """
    arr, single = as_maps(maps)
    u, ny, nx = arr.shape
    if u == 0:  # no units: an empty stack of autocorrelograms
        return np.zeros((0, 2 * ny - 1, 2 * nx - 1))
    if u > _checks.CHUNK:
        return np.concatenate([autocorrelogram(arr[i : i + _checks.CHUNK], min_overlap=min_overlap) for i in range(0, u, _checks.CHUNK)])
    m = np.isfinite(arr).astype(np.float64)
    x = np.where(m > 0, arr, 0.0)
    # centre each map on its valid mean: Pearson is shift-invariant, and it avoids cancellation
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = x.sum(axis=(1, 2)) / m.sum(axis=(1, 2))
    x = np.where(m > 0, x - np.nan_to_num(mean)[:, None, None], 0.0)
    shape = (sfft.next_fast_len(2 * ny - 1, real=True), sfft.next_fast_len(2 * nx - 1, real=True))
    shared_mask = bool(np.all(m == m[:1])) if u else True
    fm = sfft.rfft2(m[:1] if shared_mask else m, shape, workers=-1)
    fx = sfft.rfft2(x, shape, workers=-1)
    fx2 = sfft.rfft2(x * x, shape, workers=-1)

    def xcorr(fa, fb):
        # sum_p a(p) b(p + lag), arranged so lag (0, 0) sits at (ny - 1, nx - 1)
        c = sfft.irfft2(np.conj(fa) * fb, shape, workers=-1)
        c = np.roll(c, (ny - 1, nx - 1), axis=(1, 2))
        return c[:, : 2 * ny - 1, : 2 * nx - 1]

    n = np.rint(xcorr(fm, fm))  # pairwise-valid bins per lag; computed once when masks are shared
    s1 = xcorr(fx, fm)  # sum of x over the overlap (first copy)
    v1 = xcorr(fx2, fm)
    v1 *= n
    v1 -= s1 * s1  # n * sum(x^2) - (sum x)^2 of the first copy, per lag
    # the second copy's sums are the first copy's at the opposite lag: corr(m, x)[l] = corr(x, m)[-l]
    s2, v2 = s1[:, ::-1, ::-1], v1[:, ::-1, ::-1]
    cov = xcorr(fx, fx)
    cov *= n
    cov -= s1 * s2
    scale = 1e-12 * np.abs(v1).reshape(len(v1), -1).max(axis=1)[:, None, None]
    ok = (n >= min_overlap) & (v1 > scale) & (v2 > scale)
    denom = v1 * v2
    np.sqrt(np.clip(denom, 1e-300, None, out=denom), out=denom)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.divide(cov, denom, out=cov)
    r[~ok] = np.nan
    np.clip(r, -1.0, 1.0, out=r)
    return r[0] if single else r


def crop_autocorrelogram(sacs: Any, map_shape: tuple[int, int], overlap: float = 0.8) -> np.ndarray:
    """Keep the central ``round((1 + overlap) * n)`` lags (odd) per axis, as BNT/opexebo do.

    The outermost lags of a full ``(2n - 1)`` autocorrelogram rest on few bins and are noisy;
    BNT's ``autocorrelation`` (and opexebo's) keep ``1.8 n`` of them. The "sargolini" variant of
    :func:`gridness` scores the cropped autocorrelogram, like opexebo.

    Parameters
    ----------
    sacs : array of dims (unit, 2*ny - 1, 2*nx - 1) or (2*ny - 1, 2*nx - 1)
    map_shape : (ny, nx) of the rate maps.
    """
    arr = np.asarray(sacs)
    out = arr
    for axis, n in zip((-2, -1), map_shape):
        size = arr.shape[axis]
        keep = int(np.round(n * (1 + overlap)))
        keep = keep - 1 if keep % 2 == 0 else keep
        trim = max((size - keep) // 2, 0)
        out = np.take(out, np.arange(trim, size - trim), axis=axis)
    return out


# ----------------------------------------------------------------------------------------------
# ring geometry shared by gridness and grid geometry
# ----------------------------------------------------------------------------------------------

SARGOLINI_ANGLES = (30.0, 60.0, 90.0, 120.0, 150.0)


class RingGeometry:
    """Precomputed, map-independent geometry for autocorrelograms of one shape (cached)."""

    def __init__(self, sy: int, sx: int, angles: tuple[float, ...]):
        cy, cx = (sy - 1) / 2.0, (sx - 1) / 2.0
        yy, xx = np.mgrid[0:sy, 0:sx]
        dy, dx = (yy - cy).ravel(), (xx - cx).ravel()
        d2 = dy * dy + dx * dx
        order = np.argsort(d2, kind="stable")
        self.order = order
        self.d2 = d2[order]
        self.dist = np.sqrt(self.d2)
        self.outer = int(np.floor(min(sy, sx) / 2))
        self.shape = (sy, sx)
        # one sparse bilinear-interpolation matrix per rotation, rows in sorted-bin order, columns =
        # flattened bins + 1 sentinel column (out of bounds)
        from scipy import sparse

        n_pix = sy * sx
        self.rot = []
        for ang in angles:
            t = np.deg2rad(ang)
            # value of the rotated image at p = original at R(-t) p
            sy_ = cy + (np.cos(t) * dy[order] - np.sin(t) * dx[order])
            sx_ = cx + (np.sin(t) * dy[order] + np.cos(t) * dx[order])
            y0, x0 = np.floor(sy_).astype(np.int64), np.floor(sx_).astype(np.int64)
            fy, fx = sy_ - y0, sx_ - x0
            rows, cols, vals = [], [], []
            for oy, ox, ww in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
                yi, xi = y0 + oy, x0 + ox
                inside = (yi >= 0) & (yi < sy) & (xi >= 0) & (xi < sx)
                keep = ww > 1e-12
                rows.append(np.flatnonzero(keep))
                cols.append(np.where(inside, yi * sx + xi, n_pix)[keep])
                vals.append(ww[keep])
            mat = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_pix, n_pix + 1))
            mat.sum_duplicates()
            self.rot.append(mat)

    def rotated(self, padded_t: np.ndarray, k: int, limit: int) -> np.ndarray:
        """Rotated values of sorted bins [:limit] -> (limit, unit); ``padded_t`` (n_pix + 1, unit)."""
        return np.asarray(self.rot[k][:limit] @ padded_t)


_RING_GEOMETRY_CACHE: dict[tuple, RingGeometry] = {}


def ring_geometry(sy: int, sx: int, angles: tuple[float, ...]) -> RingGeometry:
    key = (sy, sx, angles)
    if key not in _RING_GEOMETRY_CACHE:
        if len(_RING_GEOMETRY_CACHE) > 16:
            _RING_GEOMETRY_CACHE.clear()
        _RING_GEOMETRY_CACHE[key] = RingGeometry(sy, sx, angles)
    return _RING_GEOMETRY_CACHE[key]


def central_field_radius(sorted_vals: np.ndarray, dist: np.ndarray, outer: int, threshold: float) -> np.ndarray:
    """Radius (bins) of the central autocorrelogram peak, per unit.

    Azimuthal mean profile over integer shells; the border is the first shell where the profile
    falls below ``threshold`` or starts to rise again (the BNT definition). Returns -1 when none.
    """
    shell = np.floor(dist + 1e-9).astype(np.int64)
    keep = shell <= outer
    shell = shell[keep]
    vals = sorted_vals[:, keep]
    valid = np.isfinite(vals)
    sums = np.zeros((vals.shape[0], outer + 1))
    cnts = np.zeros((vals.shape[0], outer + 1))
    starts = np.flatnonzero(np.r_[True, np.diff(shell) != 0])
    sums[:, shell[starts]] = np.add.reduceat(np.where(valid, vals, 0.0), starts, axis=1)
    cnts[:, shell[starts]] = np.add.reduceat(valid.astype(np.float64), starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = sums / cnts
    below = prof[:, 1:] < threshold  # shell r = 1 .. outer
    rising = prof[:, 1:] > prof[:, :-1]  # profile went up from r - 1 to r: the border was r - 1
    hit = below | rising
    first = hit.argmax(axis=1)
    rows = np.arange(len(first))
    r = first + 1
    cfr = np.where(below[rows, first], r, r - 1)
    return np.where(hit.any(axis=1), cfr, -1)
