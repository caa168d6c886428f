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

__all__ = ["autocorrelogram", "autocorrelograms", "crop_autocorrelogram", "crop_trims", "SARGOLINI_ANGLES", "RingGeometry", "ring_geometry", "central_field_radius", "point_symmetric"]


def autocorrelogram(maps: Any, *, min_overlap: int = 20) -> np.ndarray:
    """Spatial autocorrelograms by masked, normalised cross-correlation via FFTs.

    For each lag, the Pearson correlation between the map and its shifted copy is computed over the
    bins valid (non-NaN) in both, from FFTs of the mask ``m``, of ``x*m`` and of ``x**2*m``, exactly
    as the direct per-lag computation would (the standard BNT/DeepMind approach, done by FFT).
    Maps without unvisited bins (the usual case for model rate maps) need one forward and one
    inverse FFT each: their per-lag sums of ``x`` and ``x**2`` over the overlap are rectangle sums,
    taken from cumulative sums.

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
    out = autocorrelograms(arr, min_overlap, (0, 0))
    return out[0] if single else out


def autocorrelograms(arr: np.ndarray, min_overlap: int, trim: tuple[int, int]) -> np.ndarray:
    """Autocorrelograms of checked maps ``arr`` (unit, y, x) without their outer ``trim`` lags per side.

    Returns dims (unit, 2y - 1 - 2 trim[0], 2x - 1 - 2 trim[1]): what :func:`crop_autocorrelogram`
    would keep of :func:`autocorrelogram`'s result, without computing the lags it drops (only
    the threshold for a vanishing variance still looks at every lag).
    """
    u, ny, nx = arr.shape
    ty, tx = trim
    out = np.empty((u, 2 * ny - 1 - 2 * ty, 2 * nx - 1 - 2 * tx))
    for i in range(0, u, _checks.CHUNK):  # chunks: bounded memory, temporaries that stay in cache
        _autocorrelogram_chunk(arr[i : i + _checks.CHUNK], min_overlap, out[i : i + _checks.CHUNK], trim)
    return out


def _autocorrelogram_chunk(arr: np.ndarray, min_overlap: int, out: np.ndarray, trim: tuple[int, int]) -> None:
    """Autocorrelograms of maps ``arr`` (unit, y, x) written into ``out`` (unit, 2y - 1 - 2 ty, 2x - 1 - 2 tx)."""
    u, ny, nx = arr.shape
    ty, tx = trim
    plan = _fft_plan(ny, nx)
    valid = np.isfinite(arr)
    full = bool(valid.all())
    # centre each map on its valid mean: Pearson is shift-invariant, and it avoids cancellation;
    # the map is written once, zero-padded, into the FFT buffer (unvisited bins count as 0)
    buf = np.zeros((u, ny, plan.shape[1]))  # padded along x only: the FFT along y pads itself
    x = buf[:, :, :nx]
    if full:
        np.subtract(arr, arr.mean(axis=(1, 2))[:, None, None], out=x)
    else:
        m = valid.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(valid, arr, 0.0).sum(axis=(1, 2)) / m.sum(axis=(1, 2))
        np.copyto(x, arr - np.nan_to_num(mean)[:, None, None], where=valid)
    fx = plan.forward(buf)
    if full:
        n = plan.full_overlap  # (2y - 1, 2x - 1), shared by every map
        s1 = _rectangle_sums(x, plan)  # sum of x over the overlap (first copy), per lag
        v1 = _rectangle_sums(x * x, plan)
    else:
        shared_mask = bool(np.all(valid == valid[:1]))
        mbuf = np.zeros((1 if shared_mask else u, ny, plan.shape[1]))
        mbuf[:, :, :nx] = valid[:1] if shared_mask else valid
        fm = plan.forward(mbuf)
        x *= x  # x**2, reusing the buffer (x itself is not needed any more)
        fx2 = plan.forward(buf)
        n = np.rint(plan.xcorr(fm, fm))  # pairwise-valid bins per lag; once when masks are shared
        s1 = plan.xcorr(fx, fm)
        v1 = plan.xcorr(fx2, fm)
    v1 *= n
    v1 -= s1 * s1  # n * sum(x^2) - (sum x)^2 of the first copy, per lag
    # The correlogram is point-symmetric (lag -l pairs the same bins as lag l), so only the lags
    # of the first y rows (the centre row included) are computed; the rest is their mirror image.
    # The second copy's sums are the first copy's at the opposite lag: corr(m, x)[l] = corr(x, m)[-l].
    scale = 1e-12 * np.abs(v1).reshape(len(v1), -1).max(axis=1)[:, None, None]
    # kept lags: rows ty .. 2y - 2 - ty, columns tx .. 2x - 2 - tx; of those the rows up to the centre
    # row (index y - 1) are computed, the others mirrored
    cols = np.s_[tx : 2 * nx - 1 - tx]
    rows_top, rows_bottom = np.s_[ty:ny], np.s_[2 * ny - 2 - ty : ny - 2 : -1]
    s2, v2 = s1[:, rows_bottom, cols][..., ::-1], v1[:, rows_bottom, cols][..., ::-1]
    s1, v1 = s1[:, rows_top, cols], v1[:, rows_top, cols]
    n = n[..., rows_top, cols]
    cov = plan.xcorr(fx, fx, rows=(ty, ny))[..., cols]
    cov *= n
    cov -= s1 * s2
    ok = (n >= min_overlap) & (v1 > scale) & (v2 > scale)
    denom = v1 * v2
    np.sqrt(np.clip(denom, 1e-300, None, out=denom), out=denom)
    cy, cx = ny - 1 - ty, nx - 1 - tx  # the centre (zero lag) in the kept lags
    half = out[:, : cy + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(cov, denom, out=half)
    half[~ok] = np.nan
    np.clip(half, -1.0, 1.0, out=half)
    if cy > 0:
        out[:, cy + 1 :] = half[:, cy - 1 :: -1, ::-1]
    if cx > 0:
        out[:, cy, cx + 1 :] = half[:, cy, cx - 1 :: -1]  # the centre row mirrors itself


# FFTs of a chunk of 64 small maps are too short to gain from threads on a shared machine
_WORKERS = 1


class _FFTPlan:
    """FFT size, lag-shift phases and full-overlap counts for maps of one shape (cached).

    Cross-correlations come out of the inverse FFT already arranged so that lag (0, 0) sits at
    index (y - 1, x - 1): the spectrum product is multiplied by the phase of that shift, so the
    result is a plain slice (no roll, no copy).
    """

    def __init__(self, ny: int, nx: int) -> None:
        self.ny, self.nx = ny, nx
        # >= 2n - 1 per axis: a shift by n - 1 then wraps no lag onto another
        self.shape = (sfft.next_fast_len(2 * ny - 1, real=True), sfft.next_fast_len(2 * nx - 1, real=True))
        ky = np.arange(self.shape[0])[:, None]
        kx = np.arange(self.shape[1] // 2 + 1)[None, :]
        self.phase = np.exp(-2j * np.pi * (ky * (ny - 1) / self.shape[0] + kx * (nx - 1) / self.shape[1]))
        ly = ny - np.abs(np.arange(2 * ny - 1) - (ny - 1))
        lx = nx - np.abs(np.arange(2 * nx - 1) - (nx - 1))
        self.full_overlap = (ly[:, None] * lx[None, :]).astype(np.float64)
        self.range_x = _range_matrix(nx)  # (x, 2x - 1)
        self.range_y = np.ascontiguousarray(_range_matrix(ny).T)  # (2y - 1, y)

    def forward(self, rows: np.ndarray) -> np.ndarray:
        """2-D spectrum (unit, FFT y, FFT x // 2 + 1) of maps given as (unit, y, FFT x), zero-padded along x.

        The real FFT runs along x on the map's y rows only (the padding rows are zero), then the
        complex FFT along y pads to the full size.
        """
        half = sfft.rfft(rows, axis=2, workers=_WORKERS)
        spec = np.zeros((rows.shape[0], self.shape[0], half.shape[2]), dtype=complex)
        spec[:, : rows.shape[1]] = half
        return sfft.fft(spec, axis=1, overwrite_x=True, workers=_WORKERS)

    def xcorr(self, fa: np.ndarray, fb: np.ndarray, rows: tuple[int, int] | None = None) -> np.ndarray:
        """``sum_p a(p) b(p + lag)`` from the spectra of ``a`` and ``b``, dims (unit, 2y - 1, 2x - 1).

        ``rows=(start, stop)`` returns only those lag rows (index y - 1 = zero lag); the inverse
        real FFT along x then runs on those rows only.
        """
        if fa is fb:
            prod = fa.real * fa.real
            prod += fa.imag * fa.imag
            prod = prod * self.phase
        else:
            prod = np.conj(fa) * fb
            prod *= self.phase
        start, stop = rows if rows is not None else (0, 2 * self.ny - 1)
        c = sfft.ifft(prod, axis=1, overwrite_x=True, workers=_WORKERS)[:, start:stop]
        return sfft.irfft(c, self.shape[1], axis=2, overwrite_x=True, workers=_WORKERS)[..., : 2 * self.nx - 1]


_FFT_PLANS: dict[tuple[int, int], _FFTPlan] = {}


def _fft_plan(ny: int, nx: int) -> _FFTPlan:
    if (ny, nx) not in _FFT_PLANS:
        if len(_FFT_PLANS) > 16:
            _FFT_PLANS.clear()
        _FFT_PLANS[(ny, nx)] = _FFTPlan(ny, nx)
    return _FFT_PLANS[(ny, nx)]


def _rectangle_sums(x: np.ndarray, plan: _FFTPlan) -> np.ndarray:
    """Per lag, the sum of ``x`` over the bins that stay inside the map when shifted by the lag.

    ``x`` dims (unit, y, x) -> (unit, 2y - 1, 2x - 1), lag (0, 0) at (y - 1, x - 1): the bins
    ``p`` with ``p + lag`` inside the map form a rectangle, rows ``[max(0, -ly), y - max(0, ly))``
    times columns likewise, so the sums are ``Ry @ x @ Rx`` with 0/1 range matrices.
    """
    u, ny, nx = x.shape
    t = (x.reshape(u * ny, nx) @ plan.range_x).reshape(u, ny, 2 * nx - 1)
    return np.matmul(plan.range_y, t)


def _range_matrix(n: int) -> np.ndarray:
    """0/1 matrix (bin, lag), dims (n, 2n - 1): bin ``p`` lies in ``[max(0, -l), n - max(0, l))`` for lag ``l``."""
    lag = np.arange(2 * n - 1) - (n - 1)
    p = np.arange(n)[:, None]
    return ((p >= np.maximum(0, -lag)) & (p < n - np.maximum(0, lag))).astype(np.float64)


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
    ty, tx = crop_trims(arr.shape[-2:], map_shape, overlap)
    return arr[..., ty : arr.shape[-2] - ty, tx : arr.shape[-1] - tx].copy()  # one copy of the kept lags


def crop_trims(sac_shape: tuple[int, int], map_shape: tuple[int, int], overlap: float = 0.8) -> tuple[int, int]:
    """Lags dropped on each side per axis by :func:`crop_autocorrelogram`: (trim y, trim x)."""
    trims = []
    for size, n in zip(sac_shape, map_shape):
        k = int(np.round(n * (1 + overlap)))
        k = k - 1 if k % 2 == 0 else k
        trims.append(max((size - k) // 2, 0))
    return trims[0], trims[1]


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
        # one bin of every pair (p, -p) about the centre, as positions in the sorted order: a
        # point-symmetric autocorrelogram (and its rotations) holds each ring value twice
        half = ((dy < 0) | ((dy == 0) & (dx < 0)))[order]
        self.half_rows = np.flatnonzero(half)
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

        self._stacked: dict[int, Any] = {}

    def rotated(self, padded_t: np.ndarray, k: int, limit: int) -> np.ndarray:
        """Rotated values of sorted bins [:limit] -> (limit, unit); ``padded_t`` (n_pix + 1, unit)."""
        return np.asarray(self.rot[k][:limit] @ padded_t)

    def rows(self, limit: int, half: bool) -> np.ndarray:
        """Positions in the sorted order of the bins used: all of ``[:limit]``, or their half-plane."""
        return self.half_rows[: np.searchsorted(self.half_rows, limit)] if half else np.arange(limit)

    def rotated_all(self, padded_t: np.ndarray, limit: int, half: bool = False) -> np.ndarray:
        """Every rotation of the sorted bins ``rows(limit, half)`` in one sparse product -> (angle, bin, unit).

        ``padded_t`` dims (n_pix + 1, unit): flattened bins plus the out-of-bounds value. The
        stacked matrix of those rows of every rotation is built once per (limit, half).
        """
        key = (limit, half)
        mat = self._stacked.get(key)
        if mat is None:
            from scipy import sparse

            rows = self.rows(limit, half)
            mat = sparse.vstack([r[rows] for r in self.rot], format="csr")
            self._stacked[key] = mat
        return np.asarray(mat @ padded_t).reshape(len(self.rot), -1, padded_t.shape[1])


def point_symmetric(flat: np.ndarray) -> bool:
    """Whether every autocorrelogram of ``flat`` (dims (unit, sy * sx), flattened) equals itself rotated by 180 degrees.

    Exact equality (NaN equal to NaN), so that scoring half of each ring gives the full ring's
    sums, doubled.
    """
    rev = flat[:, ::-1]
    same = flat == rev
    if bool(same.all()):
        return True
    return bool((same | (np.isnan(flat) & np.isnan(rev))).all())


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
