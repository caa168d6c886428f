"""Grid-cell analysis: rate maps, autocorrelograms, gridness, grid geometry, modules.

Everything is batched over units: rate maps are arrays of dims ``(unit, y, x)`` (row index = y
bin, ascending; column index = x bin, ascending) and spatial autocorrelograms are arrays of dims
``(unit, 2*y - 1, 2*x - 1)`` with zero lag at the centre bin ``(y - 1, x - 1)``. A single map of
dims ``(y, x)`` is accepted everywhere and treated as one unit. Unvisited bins are ``NaN``.

Two gridness definitions are implemented and always named explicitly:

``"sargolini"``
    Sargolini et al. (2006) as implemented in BNT/opexebo: on the autocorrelogram, a ring from the
    border of the central peak out to radius ``r`` is correlated (Pearson, pairwise-valid bins) with
    itself rotated by 30, 60, 90, 120 and 150 degrees; ``g(r) = min(r60, r120) - max(r30, r90,
    r150)``; ``r`` sweeps from the central-field radius + 1 to half the autocorrelogram; the score
    is the maximum of the running mean of ``g`` over 3 consecutive radii.
``"banino"``
    Banino et al. (2018), DeepMind ``scores.py``: ``mean(r60, r120) - mean(r30, r90, r150)``
    maximised over a fixed set of ring masks (inner radius 0.2 n, outer 0.4 n ... 1.0 n for an n-bin
    map); the "correlation" is DeepMind's: covariance of the ring with its rotation around the
    unrotated ring's mean, divided by the unrotated ring's variance (+1e-5).

Rotations use precomputed bilinear-interpolation indices shared by all maps (no per-map image
rotation), and ring sums come from cumulative sums over bins sorted by distance, so hundreds of maps
are scored in well under a second.

Examples
--------
>>> import numpy as np
>>> from neurocompare import gridcells
>>> maps = gridcells.hexagonal_grid_maps(4, size=40, spacing=12.0, seed=0)
>>> maps.shape
(4, 40, 40)
>>> bool(np.all(gridcells.gridness(maps, variant="sargolini") > 0.8))
True

References
----------
Hafting et al. (2005) Nature 436:801. Sargolini et al. (2006) Science 312:758. Langston et al.
(2010) Science 328:1576. Solstad et al. (2008) Science 322:1865. Skaggs et al. (1993) NIPS 5.
Stensola et al. (2012) Nature 492:72. Banino et al. (2018) Nature 557:429.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

__all__ = [
    "GRIDNESS_VARIANTS",
    "autocorrelogram",
    "border_score",
    "crop_autocorrelogram",
    "detect_modules",
    "grid_geometry",
    "grid_scores",
    "gridness",
    "gridness_from_autocorrelogram",
    "gridness_shuffle_threshold",
    "hexagonal_grid_maps",
    "rate_maps",
    "register_cli",
    "smooth_maps",
    "spatial_information",
    "spike_rate_maps",
]

GRIDNESS_VARIANTS = ("sargolini", "banino")
_MIN_MAP_SIZE = 5


# ----------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------


def _as_maps(maps: Any, name: str = "maps") -> tuple[np.ndarray, bool]:
    """Return ``(float64 array of dims (unit, y, x), was_single_map)`` or raise ValueError."""
    if hasattr(maps, "detach"):  # torch tensor
        maps = maps.detach().cpu().numpy()
    arr = np.asarray(getattr(maps, "values", maps), dtype=np.float64)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must have dims (unit, y, x) or (y, x); got an array of shape {arr.shape}. "
            "Stack single maps with np.stack(list_of_maps)."
        )
    if arr.shape[1] < _MIN_MAP_SIZE or arr.shape[2] < _MIN_MAP_SIZE:
        raise ValueError(
            f"{name} must be at least {_MIN_MAP_SIZE}x{_MIN_MAP_SIZE} bins to hold a grid; got "
            f"{arr.shape[1]}x{arr.shape[2]}. Use more spatial bins (bins=...) when building maps."
        )
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite values; replace them with NaN (unvisited) or finite rates.")
    return arr, single


def _check_variant(variant: str) -> str:
    if variant not in GRIDNESS_VARIANTS:
        raise ValueError(
            f"The 'variant' parameter of gridness() must be one of {set(GRIDNESS_VARIANTS)}. "
            f"Got {variant!r} instead."
        )
    return variant


def _as_positions(positions: Any) -> np.ndarray:
    pos = np.asarray(getattr(positions, "values", positions), dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise ValueError(f"positions must have dims (time, 2) holding (x, y); got shape {pos.shape}.")
    if not np.isfinite(pos).all():
        raise ValueError(
            f"positions contain {int((~np.isfinite(pos)).any(axis=1).sum())} non-finite samples; "
            "drop or interpolate them before building rate maps."
        )
    return pos


def _resolve_box(pos: np.ndarray, box: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    if box is None:
        lo, hi = pos.min(axis=0), pos.max(axis=0)
        hi = np.where(hi > lo, hi, lo + 1.0)
        return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))
    try:
        (x0, x1), (y0, y1) = box
    except (TypeError, ValueError) as err:
        raise ValueError(f"box must be ((xmin, xmax), (ymin, ymax)); got {box!r}.") from err
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box must have xmax > xmin and ymax > ymin; got {box!r}.")
    return (float(x0), float(x1)), (float(y0), float(y1))


def _bin_index(pos, box, bins, clip: bool, what: str = "positions") -> np.ndarray:
    (x0, x1), (y0, y1) = box
    ny, nx = bins
    outside = (pos[:, 0] < x0) | (pos[:, 0] > x1) | (pos[:, 1] < y0) | (pos[:, 1] > y1)
    if outside.any() and not clip:
        raise ValueError(
            f"{int(outside.sum())} of {len(pos)} {what} lie outside the box x in [{x0}, {x1}], "
            f"y in [{y0}, {y1}] (range seen: x [{pos[:, 0].min():.4g}, {pos[:, 0].max():.4g}], "
            f"y [{pos[:, 1].min():.4g}, {pos[:, 1].max():.4g}]). Pass the right box, box=None to "
            "use the data range, or clip=True to assign them to the nearest border bin."
        )
    ix = np.clip(((pos[:, 0] - x0) / (x1 - x0) * nx).astype(np.int64), 0, nx - 1)
    iy = np.clip(((pos[:, 1] - y0) / (y1 - y0) * ny).astype(np.int64), 0, ny - 1)
    return iy * nx + ix


def _as_bins(bins: Any) -> tuple[int, int]:
    if np.isscalar(bins):
        bins = (int(bins), int(bins))
    ny, nx = (int(b) for b in bins)
    if ny < _MIN_MAP_SIZE or nx < _MIN_MAP_SIZE:
        raise ValueError(f"bins must be at least {_MIN_MAP_SIZE} per side; got {(ny, nx)}.")
    return ny, nx


# ----------------------------------------------------------------------------------------------
# rate maps
# ----------------------------------------------------------------------------------------------


def smooth_maps(maps: Any, sigma: float) -> np.ndarray:
    """Gaussian-smooth maps, ignoring NaN bins (normalised convolution); NaN bins stay NaN.

    Parameters
    ----------
    maps : array of dims (unit, y, x) or (y, x)
    sigma : float
        Gaussian standard deviation in bins; 0 returns a copy.

    Returns
    -------
    ndarray of the same dims.
    """
    arr, single = _as_maps(maps)
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0 bins; got {sigma}.")
    if sigma == 0:
        out = arr.copy()
    else:
        valid = np.isfinite(arr)
        num = ndimage.gaussian_filter(np.where(valid, arr, 0.0), (0, sigma, sigma), mode="constant")
        den = ndimage.gaussian_filter(valid.astype(np.float64), (0, sigma, sigma), mode="constant")
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(valid, num / den, np.nan)
    return out[0] if single else out


def _occupancy_normalise(sums, occ, sigma, min_occupancy, ny, nx):
    """sums (unit, ny*nx), occ (ny*nx,) -> smoothed rate maps (unit, ny, nx) and occupancy."""
    occ_map = occ.reshape(ny, nx)
    sums = sums.reshape(-1, ny, nx)
    visited = occ_map >= min_occupancy if min_occupancy > 0 else occ_map > 0
    if sigma > 0:
        s_num = ndimage.gaussian_filter(np.where(visited, sums, 0.0), (0, sigma, sigma), mode="constant")
        s_den = ndimage.gaussian_filter(np.where(visited, occ_map, 0.0), sigma, mode="constant")
    else:
        s_num, s_den = sums, occ_map
    with np.errstate(invalid="ignore", divide="ignore"):
        maps = np.where(visited & (s_den > 0), s_num / s_den, np.nan)
    return maps, occ_map


def rate_maps(
    activity: Any,
    positions: Any = None,
    *,
    bins: Any = 40,
    box: Any = None,
    sigma: float = 1.0,
    min_occupancy: float = 1,
    clip: bool = False,
    return_occupancy: bool = False,
):
    """Occupancy-normalised, smoothed rate maps of many units from a trajectory.

    Parameters
    ----------
    activity : array of dims (time, unit) or (time,), or a Responses (dims ('stimulus', 'unit')
        with ``x``/``y`` coordinates on the stimulus dim, one stimulus per time step).
    positions : array of dims (time, 2) holding (x, y); optional when ``activity`` carries x/y.
    bins : int or (ny, nx)
        Number of spatial bins per side.
    box : ((xmin, xmax), (ymin, ymax)) or None
        Arena extent; None uses the range of the positions.
    sigma : float
        Gaussian smoothing in bins, applied to the activity sums and the occupancy separately
        (the usual "smooth both, then divide"), so unvisited bins do not pull rates down.
    min_occupancy : float
        Bins visited fewer than this many time steps are NaN.
    clip : bool
        Assign positions outside ``box`` to the nearest border bin instead of raising.
    return_occupancy : bool
        Also return the occupancy (time steps per bin) of dims (y, x).

    Returns
    -------
    maps : ndarray of dims (unit, y, x); NaN where unvisited. Mean activity per visit.
    occupancy : ndarray of dims (y, x), only when ``return_occupancy``.
    """
    if positions is None:
        coords = getattr(activity, "coords", None)
        if coords is None or "x" not in coords or "y" not in coords:
            raise ValueError(
                "rate_maps() needs positions: pass positions of dims (time, 2) or a Responses "
                "with 'x' and 'y' coordinates on its 'stimulus' dim."
            )
        positions = np.stack([np.asarray(coords["x"]), np.asarray(coords["y"])], axis=1)
    if hasattr(activity, "dims") and "unit" in activity.dims:
        activity = activity.transpose(..., "unit")
    act = np.asarray(getattr(activity, "values", activity), dtype=np.float64)
    if act.ndim == 1:
        act = act[:, None]
    pos = _as_positions(positions)
    if act.ndim != 2 or act.shape[0] != pos.shape[0]:
        raise ValueError(
            f"activity must have dims (time, unit) with the same number of time steps as positions "
            f"({pos.shape[0]}); got shape {act.shape}."
        )
    if pos.shape[0] == 0:
        raise ValueError("positions is empty: a rate map needs at least one time step.")
    ny, nx = _as_bins(bins)
    box = _resolve_box(pos, box)
    idx = _bin_index(pos, box, (ny, nx), clip)
    valid_t = np.isfinite(act).all(axis=1)
    idx, act = idx[valid_t], act[valid_t]
    occ = np.bincount(idx, minlength=ny * nx).astype(np.float64)
    order = np.argsort(idx, kind="stable")
    sums = np.zeros((ny * nx, act.shape[1]))
    if len(idx):
        starts = np.flatnonzero(np.r_[True, np.diff(idx[order]) != 0])
        sums[idx[order][starts]] = np.add.reduceat(act[order], starts, axis=0)
    maps, occ_map = _occupancy_normalise(sums.T, occ, sigma, min_occupancy, ny, nx)
    return (maps, occ_map) if return_occupancy else maps


def spike_rate_maps(
    spike_positions: Any,
    positions: Any = None,
    *,
    dt: float | None = None,
    duration: float | None = None,
    bins: Any = 40,
    box: Any = None,
    sigma: float = 1.0,
    min_occupancy: float = 1,
    clip: bool = False,
) -> np.ndarray:
    """Firing-rate maps (spikes/s) from spike positions, with or without the trajectory.

    Parameters
    ----------
    spike_positions : array (spikes, 2) for one unit, or a list of such arrays (one per unit).
    positions : array of dims (time, 2) or None
        The animal's trajectory sampled every ``dt`` seconds. When None the occupancy is assumed
        **uniform** over the box (every bin visited for ``duration / n_bins`` seconds, or for 1 s
        when ``duration`` is None, giving maps in spikes per bin-second). This is the documented
        fallback for recordings that ship spike positions without the path; open-field rats cover
        a 1 m box fairly evenly over 10+ min, so gridness is barely affected (the bias is largest at
        corners and walls, where rats linger).
    dt : float
        Sampling interval of ``positions`` in seconds (required with ``positions``).
    duration : float
        Session length in seconds for the uniform-occupancy fallback.
    bins, box, sigma, min_occupancy, clip
        As in :func:`rate_maps`; ``box`` is required when ``positions`` is None.

    Returns
    -------
    ndarray of dims (unit, y, x), NaN in unvisited bins.
    """
    if isinstance(spike_positions, (list, tuple)):
        units = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in spike_positions]
    else:
        units = [np.asarray(spike_positions, dtype=np.float64).reshape(-1, 2)]
    ny, nx = _as_bins(bins)
    if positions is None:
        if box is None:
            raise ValueError(
                "spike_rate_maps() without a trajectory needs box=((xmin, xmax), (ymin, ymax)) to "
                "define the uniform occupancy."
            )
        box = _resolve_box(np.zeros((1, 2)), box)
        per_bin = (duration if duration is not None else ny * nx) / (ny * nx)
        occ = np.full(ny * nx, per_bin)
        min_occ = 0.0
    else:
        if dt is None or dt <= 0:
            raise ValueError(f"dt (seconds per position sample) must be > 0 with positions; got {dt}.")
        pos = _as_positions(positions)
        box = _resolve_box(pos, box)
        occ = np.bincount(_bin_index(pos, box, (ny, nx), clip), minlength=ny * nx) * float(dt)
        min_occ = min_occupancy * float(dt)
    sums = np.zeros((len(units), ny * nx))
    for u, sp in enumerate(units):
        if len(sp):
            if not np.isfinite(sp).all():
                raise ValueError(f"spike positions of unit {u} contain non-finite values; drop them first.")
            sums[u] = np.bincount(_bin_index(sp, box, (ny, nx), clip, "spike positions"), minlength=ny * nx)
    maps, _ = _occupancy_normalise(sums, occ, sigma, min_occ, ny, nx)
    return maps


# ----------------------------------------------------------------------------------------------
# autocorrelograms
# ----------------------------------------------------------------------------------------------


_CHUNK = 64  # units per batch in the vectorised kernels: bounded memory, and cache-friendly (fastest on CPU)


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
    arr, single = _as_maps(maps)
    u, ny, nx = arr.shape
    if u == 0:  # no units: an empty stack of autocorrelograms
        return np.zeros((0, 2 * ny - 1, 2 * nx - 1))
    if u > _CHUNK:
        return np.concatenate([autocorrelogram(arr[i : i + _CHUNK], min_overlap=min_overlap) for i in range(0, u, _CHUNK)])
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


# ----------------------------------------------------------------------------------------------
# gridness
# ----------------------------------------------------------------------------------------------

_SARGOLINI_ANGLES = (30.0, 60.0, 90.0, 120.0, 150.0)


class _Geometry:
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


_GEOMETRY_CACHE: dict[tuple, _Geometry] = {}


def _geometry(sy: int, sx: int, angles: tuple[float, ...]) -> _Geometry:
    key = (sy, sx, angles)
    if key not in _GEOMETRY_CACHE:
        if len(_GEOMETRY_CACHE) > 16:
            _GEOMETRY_CACHE.clear()
        _GEOMETRY_CACHE[key] = _Geometry(sy, sx, angles)
    return _GEOMETRY_CACHE[key]


def _central_field_radius(sorted_vals: np.ndarray, dist: np.ndarray, outer: int, threshold: float) -> np.ndarray:
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


def _disk_sums(a: np.ndarray, b: np.ndarray, cuts: np.ndarray, valid_mode: str) -> np.ndarray:
    """Sums of [n, a, b, a2, b2, ab] over the first ``cuts[j]`` sorted bins -> (6, unit, len(cuts)).

    ``a`` and ``b`` are bin-major, dims (bin, unit), so segment sums add contiguous rows.

    Bins are summed segment by segment between consecutive cut points (one pass over the data),
    then accumulated, so every nested disk costs one addition.
    """
    bounds = np.unique(np.r_[0, cuts])
    bounds = bounds[bounds < a.shape[0]]
    if valid_mode == "pairwise":
        v = np.isfinite(a) & np.isfinite(b)
        if v.all():
            vf = None
        else:
            a, b, vf = np.where(v, a, 0.0), np.where(v, b, 0.0), v.astype(np.float64)
    else:  # "zeros": NaN counts as 0 (DeepMind)
        a, b, vf = np.nan_to_num(a), np.nan_to_num(b), None
    from scipy import sparse

    out = np.empty((6, a.shape[1], len(cuts)))
    pos = np.searchsorted(bounds, cuts, side="left")
    seg_id = np.searchsorted(bounds, np.arange(a.shape[0]), side="right") - 1
    seg_sum = sparse.csr_matrix((np.ones(a.shape[0]), (seg_id, np.arange(a.shape[0]))), shape=(len(bounds), a.shape[0]))  # cut c = sum of segments before bounds index
    quantities = (vf, a, b, a * a, b * b, a * b)
    for q_i, q in enumerate(quantities):
        if q is None:  # all valid: counts are the cut positions themselves
            out[q_i] = np.broadcast_to(cuts.astype(np.float64), out[q_i].shape)
            continue
        seg = np.asarray(seg_sum @ q)  # (segment, unit)
        cum = np.concatenate([np.zeros((1, q.shape[1])), np.cumsum(seg, axis=0)], axis=0)
        # a cut beyond the last bound includes everything
        out[q_i] = cum[np.minimum(pos, len(bounds))].T
    return out


def _gridness_sargolini(sacs: np.ndarray, threshold: float, return_details: bool):
    u, sy, sx = sacs.shape
    geo = _geometry(sy, sx, _SARGOLINI_ANGLES)
    outer = geo.outer
    limit = int(np.searchsorted(geo.d2, outer * outer, side="left"))  # bins with d < outer
    flat = sacs.reshape(u, -1)
    padded = np.concatenate([flat, np.full((u, 1), np.nan)], axis=1).T.copy()  # (bin + 1, unit)
    a = padded[geo.order[:limit]]  # (bin, unit), sorted by distance
    cfr = _central_field_radius(flat[:, geo.order], geo.dist, outer, threshold)
    radii = np.arange(1, outer + 1)
    # number of sorted bins with d < r (ring outer edge, strict) and d <= c (inner edge)
    n_lt = np.searchsorted(geo.d2[:limit], radii.astype(np.float64) ** 2 - 1e-9, side="left")
    n_le = np.searchsorted(geo.d2[:limit], np.arange(0, outer + 1, dtype=np.float64) ** 2 + 1e-9, side="right")
    corr = np.full((u, len(_SARGOLINI_ANGLES), len(radii)), np.nan)
    cfr_c = np.clip(cfr, 0, outer)
    cuts = np.r_[n_lt, n_le]
    rows = np.arange(u)
    for k in range(len(_SARGOLINI_ANGLES)):
        b = geo.rotated(padded, k, limit)
        sums = _disk_sums(a, b, cuts, "pairwise")  # (6, unit, R + outer + 1)
        hi = sums[:, :, : len(radii)]
        base = sums[:, rows, len(radii) + cfr_c][:, :, None]
        n, sa, sb, saa, sbb, sab = hi - base
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = n * sab - sa * sb
            va, vb = n * saa - sa * sa, n * sbb - sb * sb
            r = cov / np.sqrt(np.clip(va, 0, None) * np.clip(vb, 0, None))
            r = np.where((n >= 3) & (va > 1e-12 * n * n) & (vb > 1e-12 * n * n), r, np.nan)
        corr[:, k] = r
    r30, r60, r90, r120, r150 = (corr[:, k] for k in range(5))
    g = np.minimum(r60, r120) - np.maximum(np.maximum(r30, r90), r150)  # (unit, R)
    usable = (radii[None, :] > cfr[:, None]) & (cfr[:, None] > 1)
    g = np.where(usable, g, np.nan)
    # running mean of 3 consecutive radii (opexebo / BNT), ignoring NaN, then the maximum
    w = 3
    gv = np.isfinite(g)
    csum = np.concatenate([np.zeros((u, 1)), np.cumsum(np.where(gv, g, 0.0), axis=1)], axis=1)
    ccnt = np.concatenate([np.zeros((u, 1)), np.cumsum(gv, axis=1)], axis=1)
    n_steps = usable.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        run = (csum[:, w:] - csum[:, :-w]) / (ccnt[:, w:] - ccnt[:, :-w])
        # opexebo: windows start at radius index 0 .. n_steps - w - 1 (within usable radii)
        first_r = np.where(usable.any(axis=1), usable.argmax(axis=1), 0)
        starts = np.arange(run.shape[1])[None, :]
        n_win = np.maximum(n_steps - w, 1)
        okwin = (starts >= first_r[:, None]) & (starts < (first_r + n_win)[:, None])
        run = np.where(okwin & np.isfinite(run), run, np.nan)
        best_run = np.max(np.where(np.isnan(run), -np.inf, run), axis=1) if run.shape[1] else np.full(u, -np.inf)
        g_cnt = np.isfinite(g).sum(axis=1)
        g_mean = np.where(g_cnt > 0, np.where(np.isfinite(g), g, 0.0).sum(axis=1) / np.maximum(g_cnt, 1), np.nan)
        score = np.where(n_steps >= w, best_run, g_mean)
    score = np.where(np.isfinite(score), score, np.nan)
    best_r = np.where(np.isfinite(g).any(axis=1), radii[np.nanargmax(np.where(np.isnan(g), -np.inf, g), axis=1)], -1)
    if return_details:
        return score, {"central_radius": cfr, "best_radius": best_r, "radii": radii, "gridness_by_radius": g, "correlations": corr, "angles": np.array(_SARGOLINI_ANGLES)}
    return score, None


BANINO_RINGS = tuple((0.2, float(e)) for e in np.linspace(0.4, 1.0, 10))


def _gridness_banino(sacs: np.ndarray, n_bins: int, rings, return_details: bool):
    u, sy, sx = sacs.shape
    geo = _geometry(sy, sx, _SARGOLINI_ANGLES)
    limit = len(geo.d2)
    flat = np.nan_to_num(sacs.reshape(u, -1))  # DeepMind: NaN lags count as 0
    padded = np.concatenate([flat, np.zeros((u, 1))], axis=1).T.copy()  # out-of-bounds rotate to 0 (cval)
    a = padded[geo.order]
    inner = np.array([r[0] for r in rings]) * n_bins
    outer = np.array([r[1] for r in rings]) * n_bins
    n_in = np.searchsorted(geo.d2, inner**2 + 1e-9, side="right")
    n_out = np.searchsorted(geo.d2, outer**2 + 1e-9, side="right")
    corr = np.full((u, 5, len(rings)), np.nan)
    cuts = np.r_[n_out, n_in]
    limit = int(min(limit, max(n_out.max(), n_in.max())))
    a = a[:limit]
    for k in range(5):
        b = geo.rotated(padded, k, limit)
        sums = _disk_sums(a, b, cuts, "zeros")
        n, sa, sb, saa, sbb, sab = sums[:, :, : len(rings)] - sums[:, :, len(rings) :]
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = sa / n
            var = (saa - 2 * mu * sa + mu * mu * n) / n + 1e-5
            cross = (sab - mu * sb - mu * sa + mu * mu * n) / n
            corr[:, k] = cross / var
    r30, r60, r90, r120, r150 = (corr[:, k] for k in range(5))
    g = (r60 + r120) / 2 - (r30 + r90 + r150) / 3  # (unit, rings)
    all_nan = ~np.isfinite(sacs).any(axis=(1, 2))
    score = np.where(all_nan, np.nan, g.max(axis=1))
    if return_details:
        return score, {"gridness_by_ring": g, "rings": np.array(rings), "best_ring": g.argmax(axis=1), "correlations": corr}
    return score, None


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


def gridness_from_autocorrelogram(
    sacs: Any,
    variant: str = "sargolini",
    *,
    n_bins: int | None = None,
    rings=BANINO_RINGS,
    central_threshold: float = 0.2,
    return_details: bool = False,
):
    """Gridness of precomputed spatial autocorrelograms (see the module docstring for variants).

    Parameters
    ----------
    sacs : array of dims (unit, sy, sx) or (sy, sx), centre = zero lag; NaN allowed.
    variant : {"sargolini", "banino"}
    n_bins : int
        Side of the rate maps the autocorrelograms came from (banino ring radii are fractions of
        it); defaults to ``(min(sy, sx) + 1) // 2``.
    rings : sequence of (inner, outer) fractions of ``n_bins`` (banino only).
    central_threshold : float
        Sargolini: the central peak ends where the radial profile drops below this value or rises.
    return_details : bool
        Also return a dict of intermediate values (radii, per-radius or per-ring scores, r30..r150).

    Returns
    -------
    scores : ndarray of dims (unit,) (a float for one map). NaN where undefined: constant/all-NaN
        maps, or (sargolini) no central peak of radius >= 2 bins inside the autocorrelogram.
    details : dict, only when ``return_details``.
    """
    _check_variant(variant)
    arr, single = _as_maps(sacs, "sacs")
    if arr.shape[0] == 0:  # no units: empty result, not an error
        return (np.zeros(0), {}) if return_details else np.zeros(0)
    if arr.shape[0] > _CHUNK and not return_details:
        return np.concatenate([
            gridness_from_autocorrelogram(arr[i : i + _CHUNK], variant, n_bins=n_bins, rings=rings, central_threshold=central_threshold)
            for i in range(0, arr.shape[0], _CHUNK)
        ])
    if variant == "sargolini":
        score, det = _gridness_sargolini(arr, central_threshold, return_details)
    else:
        nb = n_bins if n_bins is not None else (min(arr.shape[1:]) + 1) // 2
        score, det = _gridness_banino(arr, nb, tuple(rings), return_details)
    out = float(score[0]) if single else score
    return (out, det) if return_details else out


def gridness(maps: Any, variant: str = "sargolini", *, min_overlap: int = 20, **kwargs):
    """Gridness scores of rate maps (autocorrelogram + :func:`gridness_from_autocorrelogram`).

    Parameters
    ----------
    maps : array of dims (unit, y, x) or (y, x); NaN = unvisited.
    variant : {"sargolini", "banino"}
    min_overlap : int
        Passed to :func:`autocorrelogram`.
    **kwargs
        Passed to :func:`gridness_from_autocorrelogram`.

    Returns
    -------
    ndarray of dims (unit,), or a float for a single map (see the NaN rules there).
    """
    _check_variant(variant)
    arr, single = _as_maps(maps)
    sacs = autocorrelogram(arr, min_overlap=min_overlap)
    kwargs.setdefault("n_bins", min(arr.shape[1:]))
    if variant == "sargolini":
        sacs = crop_autocorrelogram(sacs, arr.shape[1:])
    res = gridness_from_autocorrelogram(sacs, variant, **kwargs)
    if single:
        if isinstance(res, tuple):
            return float(res[0][0]), res[1]
        return float(res[0])
    return res


def gridness_shuffle_threshold(
    activity: Any,
    positions: Any,
    *,
    variant: str = "sargolini",
    n_shuffles: int = 100,
    percentile: float = 95.0,
    min_shift: int | None = None,
    bins: Any = 40,
    box: Any = None,
    sigma: float = 1.0,
    min_occupancy: float = 1,
    seed: int | None = 0,
) -> dict[str, np.ndarray]:
    """Per-unit gridness thresholds from time-shuffled activity (the usual significance test).

    Each unit's activity is circularly shifted in time by a random offset (at least ``min_shift``
    samples from either end) relative to the trajectory, which keeps its temporal structure and
    firing statistics but breaks its relation to position; rate maps and gridness are recomputed,
    and the ``percentile`` of that null distribution is the unit's threshold (Langston et al. 2010;
    Sargolini et al. 2006 use a fixed 95th percentile of shuffled scores). Use it instead of the
    fixed 0.3: random smooth maps exceed 0.3 far more than 5% of the time.

    Parameters
    ----------
    activity : array (time, unit) or (time,)
    positions : array (time, 2)
    variant : {"sargolini", "banino"}
    n_shuffles : int
    percentile : float
    min_shift : int or None
        Minimum circular shift in samples; default ``time // 20``.
    bins, box, sigma, min_occupancy
        As in :func:`rate_maps`.
    seed : int or None

    Returns
    -------
    dict with ``gridness`` (unit,) of the unshuffled maps, ``threshold`` (unit,), ``null``
    (n_shuffles, unit) and ``p_value`` (unit,) (fraction of shuffles >= the observed score).
    """
    _check_variant(variant)
    act = np.asarray(getattr(activity, "values", activity), dtype=np.float64)
    if act.ndim == 1:
        act = act[:, None]
    pos = _as_positions(positions)
    if act.ndim != 2 or act.shape[0] != len(pos):
        raise ValueError(f"activity must have dims (time, unit) with {len(pos)} time steps; got shape {act.shape}.")
    if n_shuffles < 1:
        raise ValueError(f"n_shuffles must be >= 1; got {n_shuffles}.")
    t, u = act.shape
    min_shift = max(1, t // 20) if min_shift is None else int(min_shift)
    if t - 2 * min_shift < 1:
        raise ValueError(f"min_shift={min_shift} leaves no possible shift for {t} time steps; use a smaller min_shift.")
    rng = np.random.default_rng(seed)
    if box is None:
        box = _resolve_box(pos, None)
    kw = dict(bins=bins, box=box, sigma=sigma, min_occupancy=min_occupancy, clip=True)
    observed = gridness(rate_maps(act, pos, **kw).reshape(u, *_as_bins(bins)), variant)
    shifts = rng.integers(min_shift, t - min_shift + 1, size=(n_shuffles, u))
    rows = np.arange(t)
    null = np.empty((n_shuffles, u))
    for k in range(n_shuffles):
        shuffled = act[(rows[:, None] - shifts[k][None, :]) % t, np.arange(u)[None, :]]
        null[k] = gridness(rate_maps(shuffled, pos, **kw), variant)
    with np.errstate(invalid="ignore"):
        thr = np.nanpercentile(np.where(np.isfinite(null), null, np.nan), percentile, axis=0) if np.isfinite(null).any() else np.full(u, np.nan)
        p = (np.sum(null >= observed[None, :], axis=0) + 1) / (n_shuffles + 1)
    return {"gridness": observed, "threshold": thr, "null": null, "p_value": p}


# ----------------------------------------------------------------------------------------------
# grid geometry: spacing, orientation, phase
# ----------------------------------------------------------------------------------------------


def _subpixel_peaks(sac: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sy, sx = sac.shape
    fy, fx = ys.astype(np.float64), xs.astype(np.float64)
    for axis in (0, 1):
        for i, (y, x) in enumerate(zip(ys, xs)):
            if axis == 0 and 0 < y < sy - 1:
                vm, v0, vp = sac[y - 1, x], sac[y, x], sac[y + 1, x]
            elif axis == 1 and 0 < x < sx - 1:
                vm, v0, vp = sac[y, x - 1], sac[y, x], sac[y, x + 1]
            else:
                continue
            den = vm - 2 * v0 + vp
            if np.isfinite(den) and den < 0:
                off = float(np.clip(0.5 * (vm - vp) / den, -0.5, 0.5))
                if axis == 0:
                    fy[i] += off
                else:
                    fx[i] += off
    return fy, fx


def grid_geometry(maps: Any, *, sacs: Any = None, bin_size: float = 1.0, peak_threshold: float = 0.1, central_threshold: float = 0.2, min_overlap: int = 20, max_ratio: float = 1.6) -> dict[str, np.ndarray]:
    """Grid spacing, orientation and phase from the six autocorrelogram peaks nearest the centre.

    Parameters
    ----------
    maps : array of dims (unit, y, x) or (y, x).
    sacs : optional precomputed autocorrelograms of dims (unit, 2y-1, 2x-1).
    bin_size : float
        Size of one spatial bin (cm, m, ...); spacing and phase are returned in these units.
    peak_threshold : float
        Autocorrelogram local maxima below this correlation are ignored (0.1, as opexebo).
    max_ratio : float
        NaN when the farthest of the six peaks is more than this times farther than the nearest
        (the peaks do not form one lattice ring; sheared real grids stay below ~1.4).

    Returns
    -------
    dict of arrays over units:
        ``spacing`` (median distance of the six peaks), ``orientation`` (degrees in [0, 60), the
        angle of the lattice axis closest to the x axis, counter-clockwise), ``phase`` (unit, 2): the
        (x, y) position, in the map's coordinates from its lower-left bin centre, of the lattice
        node nearest the map centre (from the Fourier phases of the map along the lattice's wave
        vectors), ``peaks`` (unit, 6, 2) (dy, dx) in bins, ``n_peaks``. NaN when fewer than six
        peaks are found (not a grid, or a grid too coarse for the map).
    """
    arr, single = _as_maps(maps)
    if sacs is None:
        sacs = autocorrelogram(arr, min_overlap=min_overlap)
    sacs = np.asarray(sacs, dtype=np.float64)
    if sacs.ndim == 2:
        sacs = sacs[None]
    sacs = crop_autocorrelogram(sacs, arr.shape[1:])  # drop the noisy outermost lags (BNT/opexebo)
    u, sy, sx = sacs.shape
    cy, cx = (sy - 1) / 2.0, (sx - 1) / 2.0
    geo = _geometry(sy, sx, _SARGOLINI_ANGLES)
    cfr = _central_field_radius(sacs.reshape(u, -1)[:, geo.order], geo.dist, geo.outer, central_threshold)
    filled = np.where(np.isfinite(sacs), sacs, -np.inf)
    is_max = (filled == ndimage.maximum_filter(filled, size=(1, 3, 3), mode="constant", cval=-np.inf)) & np.isfinite(sacs) & (sacs > peak_threshold)
    spacing = np.full(u, np.nan)
    orientation = np.full(u, np.nan)
    phase = np.full((u, 2), np.nan)
    peaks_out = np.full((u, 6, 2), np.nan)
    n_peaks = np.zeros(u, dtype=np.int64)
    ny, nx = arr.shape[1:]
    gy, gx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    for i in range(u):
        ys, xs = np.nonzero(is_max[i])
        if len(ys) == 0:
            continue
        fy, fx = _subpixel_peaks(sacs[i], ys, xs)
        dy, dx = fy - cy, fx - cx
        d = np.hypot(dy, dx)
        keep = d > max(cfr[i], 1.5)
        dy, dx, d = dy[keep], dx[keep], d[keep]
        if len(d) < 6:
            n_peaks[i] = len(d)
            continue
        # the six nearest peaks, dropping farther peaks in (almost) the same direction
        order = np.argsort(d)
        chosen: list[int] = []
        for j in order:
            ang = np.arctan2(dy[j], dx[j])
            if all(abs(np.angle(np.exp(1j * (ang - np.arctan2(dy[c], dx[c]))))) > np.deg2rad(20) for c in chosen):
                chosen.append(j)
            if len(chosen) == 6:
                break
        n_peaks[i] = len(chosen)
        if len(chosen) < 6:
            continue
        c = np.array(chosen)
        pk_dy, pk_dx, pk_d = dy[c], dx[c], d[c]
        if pk_d.max() > max_ratio * pk_d.min():
            continue  # six peaks at very different distances: not a lattice
        peaks_out[i] = np.stack([pk_dy, pk_dx], axis=1)
        spacing[i] = np.median(pk_d) * bin_size
        theta = np.arctan2(pk_dy, pk_dx)
        orientation[i] = np.rad2deg(np.angle(np.mean(np.exp(6j * theta))) / 6.0) % 60.0
        # phase: Fourier phases of the map along two lattice wave vectors
        lam = np.median(pk_d)
        t0 = np.deg2rad(orientation[i])
        a1 = lam * np.array([np.cos(t0), np.sin(t0)])
        a2 = lam * np.array([np.cos(t0 + np.pi / 3), np.sin(t0 + np.pi / 3)])
        kmat = 2 * np.pi * np.linalg.inv(np.stack([a1, a2]))  # columns k1, k2 with a_i . k_j = 2 pi delta
        m = arr[i]
        valid = np.isfinite(m)
        if valid.sum() < 3:
            continue
        mv = m[valid] - m[valid].mean()
        ph = []
        for j in range(2):
            k = kmat[:, j]
            ph.append(np.angle(np.sum(mv * np.exp(-1j * (k[0] * gx[valid] + k[1] * gy[valid])))))
        # field centres s satisfy k_j . s = -phase_j (mod 2 pi); pick the node nearest the centre
        frac = -np.array(ph) / (2 * np.pi)
        s = frac[0] * a1 + frac[1] * a2
        centre = np.array([(nx - 1) / 2.0, (ny - 1) / 2.0])
        best = None
        for n1 in range(-4, 5):
            for n2 in range(-4, 5):
                p = s + n1 * a1 + n2 * a2
                dist = np.hypot(*(p - centre))
                if best is None or dist < best[0]:
                    best = (dist, p)
        phase[i] = best[1] * bin_size
    out = {"spacing": spacing, "orientation": orientation, "phase": phase, "peaks": peaks_out, "n_peaks": n_peaks}
    if single:
        return {k: v[0] for k, v in out.items()}
    return out


# ----------------------------------------------------------------------------------------------
# other spatial scores
# ----------------------------------------------------------------------------------------------


def spatial_information(maps: Any, occupancy: Any = None) -> np.ndarray:
    """Skaggs spatial information in bits per spike (per unit of activity).

    ``I = sum_i p_i (r_i / r) log2(r_i / r)`` with ``p_i`` the occupancy probability of bin ``i`` and
    ``r = sum_i p_i r_i`` the mean rate.

    Parameters
    ----------
    maps : array of dims (unit, y, x) or (y, x), non-negative rates; NaN bins are skipped.
    occupancy : array of dims (y, x) or None (uniform over the valid bins).

    Returns
    -------
    ndarray (unit,) (float for one map). NaN when the mean rate is 0 or all bins are NaN; raises
    ValueError for negative rates (information is defined for rates only).
    """
    arr, single = _as_maps(maps)
    if np.nanmin(arr, initial=0.0) < 0:
        raise ValueError("spatial_information() needs non-negative rates; shift or rectify activations first.")
    valid = np.isfinite(arr)
    if occupancy is None:
        occ = np.ones(arr.shape[1:])
    else:
        occ = np.asarray(occupancy, dtype=np.float64)
        if occ.shape != arr.shape[1:]:
            raise ValueError(f"occupancy must have dims (y, x) = {arr.shape[1:]}; got {occ.shape}.")
    p = np.where(valid, np.nan_to_num(occ)[None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = p / p.sum(axis=(1, 2), keepdims=True)
        r = np.where(valid, arr, 0.0)
        mean = (p * r).sum(axis=(1, 2), keepdims=True)
        ratio = r / mean
        term = np.where((ratio > 0) & (p > 0), p * ratio * np.log2(np.where(ratio > 0, ratio, 1.0)), 0.0)
        info = np.where(mean[:, 0, 0] > 0, term.sum(axis=(1, 2)), np.nan)
    return float(info[0]) if single else info


def border_score(maps: Any, *, field_threshold: float = 0.3, min_field_bins: int = 8) -> np.ndarray:
    """Border score of Solstad et al. (2008): ``(CM - DM) / (CM + DM)``.

    Fields are connected regions above ``field_threshold`` x the map's peak with at least
    ``min_field_bins`` bins. ``CM``: the largest fraction of one wall's bins covered by a single
    field. ``DM``: the rate-weighted mean distance of field bins to the nearest wall, divided by
    half the shorter side of the box. Walls are the outermost rows/columns of the map.

    Returns
    -------
    ndarray (unit,) in [-1, 1] (float for one map); NaN when no field qualifies (including silent,
    constant or all-NaN maps).
    """
    arr, single = _as_maps(maps)
    u, ny, nx = arr.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    dwall = np.minimum.reduce([yy, ny - 1 - yy, xx, nx - 1 - xx]).astype(np.float64)
    half = (min(ny, nx) - 1) / 2.0
    out = np.full(u, np.nan)
    for i in range(u):
        m = arr[i]
        if not np.isfinite(m).any():
            continue
        peak = np.nanmax(m)
        if not peak > 0 or peak == np.nanmin(m):
            continue  # silent or constant map: no field
        lab, nlab = ndimage.label(np.nan_to_num(m, nan=-np.inf) > field_threshold * peak)
        if nlab == 0:
            continue
        sizes = np.bincount(lab.ravel(), minlength=nlab + 1)
        fields = [k for k in range(1, nlab + 1) if sizes[k] >= min_field_bins]
        if not fields:
            continue
        cm = 0.0
        for k in fields:
            f = lab == k
            for wall in (f[0, :], f[-1, :], f[:, 0], f[:, -1]):
                cm = max(cm, wall.mean())
        infield = np.isin(lab, fields)
        w = np.where(infield, np.nan_to_num(m), 0.0)
        dm = (w * dwall).sum() / w.sum() / half
        out[i] = (cm - dm) / (cm + dm) if (cm + dm) > 0 else np.nan
    return float(out[0]) if single else out


# ----------------------------------------------------------------------------------------------
# modules
# ----------------------------------------------------------------------------------------------


def detect_modules(
    spacing: Any,
    orientation: Any = None,
    *,
    max_modules: int = 6,
    orientation_weight: float = 0.5,
    min_module_size: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Cluster grid units into modules by spacing (and orientation) and compare module periods.

    Features are ``log(spacing)`` and, when given, the orientation on the 60-degree circle embedded
    as ``orientation_weight * (cos 6θ, sin 6θ) / 6``, so that 10% spacing difference weighs about as
    much as 10 degrees of orientation. A Gaussian mixture is fitted for 1..``max_modules``
    components and the number with the lowest BIC is kept.

    Parameters
    ----------
    spacing : array (unit,), NaN units are ignored (label -1).
    orientation : array (unit,) in degrees, optional.
    min_module_size : int
        Clusters with fewer units are not counted as modules (their units get label -1): a lone
        unit with an odd spacing is not evidence for a module.

    Returns
    -------
    dict with ``n_modules``, ``labels`` (unit,) ordered by period (0 = smallest; -1 unassigned),
    ``periods`` (median spacing per module, ascending), ``ratios`` (successive period ratios),
    ``sizes``.
    """
    from sklearn.mixture import GaussianMixture

    sp = np.asarray(spacing, dtype=np.float64).ravel()
    ok = np.isfinite(sp) & (sp > 0)
    feats = [np.log(sp)]
    if orientation is not None:
        th = np.deg2rad(np.asarray(orientation, dtype=np.float64).ravel())
        if th.shape != sp.shape:
            raise ValueError(f"orientation must have the same length as spacing ({sp.size}); got {th.size}.")
        ok &= np.isfinite(th)
        feats += [orientation_weight * np.cos(6 * th) / 6, orientation_weight * np.sin(6 * th) / 6]
    x = np.stack(feats, axis=1)[ok]
    labels = np.full(sp.shape, -1, dtype=np.int64)
    if len(x) < max(min_module_size, 2):  # too few units to form a module
        return {"n_modules": 0, "labels": labels, "periods": np.array([]), "ratios": np.array([]), "sizes": np.array([], dtype=np.int64)}
    best = None
    for k in range(1, min(max_modules, len(x)) + 1):
        gm = GaussianMixture(k, covariance_type="diag", reg_covar=1e-4, random_state=seed, n_init=2).fit(x)
        bic = gm.bic(x)
        if best is None or bic < best[0] - 1e-9:
            best = (bic, gm)
    lab = best[1].predict(x)
    counts = np.bincount(lab, minlength=best[1].n_components)
    lab = np.where(counts[lab] >= min_module_size, lab, -1)
    uniq = np.unique(lab[lab >= 0])
    if len(uniq) == 0:
        return {"n_modules": 0, "labels": labels, "periods": np.array([]), "ratios": np.array([]), "sizes": np.array([], dtype=np.int64)}
    periods = np.array([np.median(sp[ok][lab == k]) for k in uniq])
    order = np.argsort(periods)
    remap = {int(uniq[o]): r for r, o in enumerate(order)}
    remap[-1] = -1
    labels[ok] = [remap[int(v)] for v in lab]
    periods = periods[order]
    sizes = np.array([(labels == r).sum() for r in range(len(periods))])
    return {"n_modules": int(len(periods)), "labels": labels, "periods": periods, "ratios": periods[1:] / periods[:-1], "sizes": sizes}


# ----------------------------------------------------------------------------------------------
# everything at once, synthetic maps
# ----------------------------------------------------------------------------------------------


def grid_scores(maps: Any, *, bin_size: float = 1.0, occupancy: Any = None, min_overlap: int = 20) -> dict[str, np.ndarray]:
    """All scores for a stack of rate maps in one call (autocorrelograms computed once).

    Returns
    -------
    dict of arrays over units: ``gridness_sargolini``, ``gridness_banino``, ``spacing``,
    ``orientation``, ``phase`` (unit, 2), ``spatial_information`` (NaN for maps with negative
    values), ``border_score``, and ``sacs`` (unit, 2y-1, 2x-1).
    """
    arr, _ = _as_maps(maps)
    sacs = autocorrelogram(arr, min_overlap=min_overlap)
    n = min(arr.shape[1:])
    geo = grid_geometry(arr, sacs=sacs, bin_size=bin_size)
    if np.nanmin(arr, initial=0.0) >= 0:
        si = spatial_information(arr, occupancy)
    else:
        si = np.full(arr.shape[0], np.nan)
    return {
        "gridness_sargolini": gridness_from_autocorrelogram(crop_autocorrelogram(sacs, arr.shape[1:]), "sargolini"),
        "gridness_banino": gridness_from_autocorrelogram(sacs, "banino", n_bins=n),
        "spacing": geo["spacing"],
        "orientation": geo["orientation"],
        "phase": geo["phase"],
        "spatial_information": si,
        "border_score": border_score(arr),
        "sacs": sacs,
    }


def hexagonal_grid_maps(
    n_units: int,
    *,
    size: int = 40,
    spacing: Any = 12.0,
    orientation: Any = None,
    phase: Any = None,
    field_width: float = 0.32,
    seed: int | None = 0,
) -> np.ndarray:
    """Ideal hexagonal grid rate maps (Gaussian fields on a triangular lattice), for tests and demos.

    Parameters
    ----------
    n_units : int
    size : int
        Bins per side.
    spacing : float or array (unit,)
        Lattice period in bins.
    orientation : float or array (unit,) in degrees, or None (uniform random in [0, 60)).
    phase : array (unit, 2) of (x, y) offsets in bins, or None (uniform random in the unit cell).
    field_width : float
        Gaussian field s.d. as a fraction of the spacing.

    Returns
    -------
    ndarray of dims (unit, size, size), peak rate 1.
    """
    rng = np.random.default_rng(seed)
    sp = np.broadcast_to(np.asarray(spacing, dtype=np.float64), (n_units,))
    ori = rng.uniform(0, 60, n_units) if orientation is None else np.broadcast_to(np.asarray(orientation, dtype=np.float64), (n_units,))
    ph = rng.uniform(0, 1, (n_units, 2)) if phase is None else np.broadcast_to(np.asarray(phase, dtype=np.float64), (n_units, 2))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    out = np.zeros((n_units, size, size))
    for i in range(n_units):
        t = np.deg2rad(ori[i])
        a1 = sp[i] * np.array([np.cos(t), np.sin(t)])
        a2 = sp[i] * np.array([np.cos(t + np.pi / 3), np.sin(t + np.pi / 3)])
        origin = ph[i, 0] * a1 + ph[i, 1] * a2 if phase is None else ph[i]
        kmax = int(np.ceil(2 * size / sp[i])) + 2
        n1, n2 = np.meshgrid(np.arange(-kmax, kmax + 1), np.arange(-kmax, kmax + 1))
        nodes = origin + n1.ravel()[:, None] * a1 + n2.ravel()[:, None] * a2
        near = (nodes[:, 0] > -sp[i]) & (nodes[:, 0] < size + sp[i]) & (nodes[:, 1] > -sp[i]) & (nodes[:, 1] < size + sp[i])
        s2 = 2 * (field_width * sp[i]) ** 2
        for px, py in nodes[near]:
            out[i] = np.maximum(out[i], np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / s2))
    return out


# ----------------------------------------------------------------------------------------------
# command line: neurocompare gridscore
# ----------------------------------------------------------------------------------------------


def _load_maps_for_cli(args) -> tuple[np.ndarray, list[str], float]:
    path = Path(args.input)
    if not path.exists():
        raise FileNotFoundError(f"gridscore input {str(path)!r} does not exist; pass an .npz/.npy file, a folder of .npy maps, or a model checkpoint (.pt).")
    bin_size = args.bin_size
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise FileNotFoundError(f"folder {str(path)!r} holds no .npy rate maps.")
        maps = [np.load(f, allow_pickle=False) for f in files]
        stacked = []
        names = []
        for f, m in zip(files, maps):
            m = np.asarray(m, dtype=np.float64)
            for j, mm in enumerate(m if m.ndim == 3 else m[None]):
                stacked.append(mm)
                names.append(f.stem if m.ndim == 2 else f"{f.stem}[{j}]")
        shapes = {s.shape for s in stacked}
        if len(shapes) != 1:
            raise ValueError(f"all maps in {str(path)!r} must have the same shape; got {sorted(shapes)}.")
        return np.stack(stacked), names, bin_size
    if path.suffix == ".npy":
        m = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
        m = m if m.ndim == 3 else m[None]
        return m, [f"{path.stem}[{i}]" for i in range(len(m))], bin_size
    if path.suffix == ".npz":
        d = np.load(path, allow_pickle=False)
        key = args.key
        if key is None:
            for cand in ("rate_maps", "firing_maps", "maps"):
                if cand in d.files:
                    key = cand
                    break
        if key is not None:
            if key not in d.files:
                raise ValueError(f"key {key!r} not in {str(path)!r}; available: {', '.join(d.files)}.")
            m = np.asarray(d[key], dtype=np.float64)
            m = m if m.ndim == 3 else m[None]
            return m, [f"{key}[{i}]" for i in range(len(m))], bin_size
        if "spike_positions" in d.files or "spike_x" in d.files:
            sp = d["spike_positions"] if "spike_positions" in d.files else np.stack([d["spike_x"], d["spike_y"]], 1)
            offsets = d["spike_offsets"] if "spike_offsets" in d.files else np.array([0, len(sp)])
            units = [sp[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
            positions = d["positions"] if "positions" in d.files else None
            dt = float(d["dt"]) if "dt" in d.files else None
            allpts = np.concatenate([positions if positions is not None else sp, sp])
            box = ((allpts[:, 0].min(), allpts[:, 0].max()), (allpts[:, 1].min(), allpts[:, 1].max()))
            maps = spike_rate_maps(units, positions, dt=dt, bins=args.bins, box=box, sigma=args.sigma)
            return maps, [f"unit{i}" for i in range(len(units))], (box[0][1] - box[0][0]) / args.bins
        raise ValueError(
            f"{str(path)!r} holds none of the keys gridscore understands: a 3-D rate-map array "
            "('rate_maps', 'firing_maps', 'maps' or --key NAME), or 'spike_positions' (+ optional "
            f"'spike_offsets', 'positions', 'dt'). Found: {', '.join(d.files)}."
        )
    if path.suffix in (".pt", ".pth"):
        from neurocompare.models.path_integration import rate_maps_from_checkpoint

        maps = rate_maps_from_checkpoint(path, bins=args.bins, seed=args.seed)
        return maps, [f"unit{i}" for i in range(len(maps))], bin_size
    raise ValueError(f"unsupported gridscore input {str(path)!r}: use .npz, .npy, a folder of .npy, or .pt/.pth.")


def _cli_gridscore(args) -> int:
    maps, names, bin_size = _load_maps_for_cli(args)
    scores = grid_scores(maps, bin_size=bin_size)
    header = f"{'unit':<16}{'sargolini':>10}{'banino':>9}{'spacing':>10}{'orient':>8}{'info':>8}{'border':>8}"
    print(header)
    for i, name in enumerate(names):
        print(
            f"{name[:15]:<16}{scores['gridness_sargolini'][i]:>10.3f}{scores['gridness_banino'][i]:>9.3f}"
            f"{scores['spacing'][i]:>10.2f}{scores['orientation'][i]:>8.1f}{scores['spatial_information'][i]:>8.3f}{scores['border_score'][i]:>8.3f}"
        )
    g = scores["gridness_sargolini"]
    print(f"# {len(names)} units; sargolini gridness > 0.3: {np.mean(g > 0.3):.2f}; median {np.nanmedian(g) if np.isfinite(g).any() else float('nan'):.3f}")
    if args.figure:
        from neurocompare.plotting.gridcells import plot_rate_maps

        fig = plot_rate_maps(maps[: args.max_plot], sacs=scores["sacs"][: args.max_plot], scores={k: scores[k][: args.max_plot] for k in ("gridness_sargolini", "gridness_banino", "spacing")}, titles=names[: args.max_plot])
        fig.savefig(args.figure, dpi=100)
        print(f"# figure written to {args.figure}")
    return 0


def register_cli(subparsers) -> None:
    """Add ``neurocompare gridscore`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "gridscore",
        help="score rate maps, spikes+positions or a path-integration checkpoint for gridness",
        description=(
            "Gridness (sargolini and banino variants), spacing, orientation, spatial information and "
            "border score for rate maps in an .npz/.npy file or folder, spike positions (+ trajectory) "
            "in an .npz, or a trained path-integration checkpoint (.pt)."
        ),
    )
    p.add_argument("input", help="rate maps (.npz/.npy/folder), spikes .npz, or checkpoint .pt")
    p.add_argument("--key", default=None, help="array name inside the .npz (default: rate_maps/firing_maps/maps)")
    p.add_argument("--bin-size", type=float, default=1.0, help="bin size for spacing units (default 1 = bins)")
    p.add_argument("--bins", type=int, default=40, help="bins per side when building maps (spikes/checkpoint)")
    p.add_argument("--sigma", type=float, default=1.5, help="smoothing (bins) when building maps from spikes")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated trajectory for checkpoints")
    p.add_argument("--figure", default=None, help="write rate maps + autocorrelograms with scores to this PNG")
    p.add_argument("--max-plot", type=int, default=16, help="at most this many units in the figure")
    p.set_defaults(func=_cli_gridscore)


def _main(argv=None) -> int:  # python -m neurocompare.gridcells ...
    parser = argparse.ArgumentParser(prog="neurocompare")
    sub = parser.add_subparsers(dest="command", required=True)
    register_cli(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
