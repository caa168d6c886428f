"""Gridness: how hexagonally symmetric a rate map's autocorrelogram is, in two named variants.

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

Rotations use precomputed bilinear-interpolation weights shared by all maps (one sparse product
rotates a chunk of maps by all five angles; no per-map image rotation), and ring sums come from
cumulative sums over bins sorted by distance. An autocorrelogram is point-symmetric, so when the
input is exactly so (ours always are) only one bin of each pair (p, -p) is scored and the sums are
doubled: the same numbers as the whole ring, for half the work. Hundreds of maps take well under a
second. A fixed threshold (0.3) is not a significance test: use
:func:`gridness_shuffle_threshold`.

References
----------
Sargolini et al. (2006) Science 312:758. Langston et al. (2010) Science 328:1576. Banino et al.
(2018) Nature 557:429.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurocompare._options import progress_enabled
from neurocompare.gridcells import _checks
from neurocompare.gridcells._autocorrelogram import (
    SARGOLINI_ANGLES,
    autocorrelograms,
    central_field_radius,
    crop_trims,
    point_symmetric,
    ring_geometry,
)
from neurocompare.gridcells._checks import as_bins, as_maps, as_positions, check_variant, resolve_box, rng_from_seed
from neurocompare.gridcells._ratemaps import rate_maps

__all__ = ["GRIDNESS_VARIANTS", "BANINO_RINGS", "gridness", "gridness_from_autocorrelogram", "gridness_shuffle_threshold"]

GRIDNESS_VARIANTS = _checks.GRIDNESS_VARIANTS


def _disk_sums(a: np.ndarray, b: np.ndarray, cuts: np.ndarray, valid_mode: str) -> np.ndarray:
    """Sums of [n, a, b, a2, b2, ab] over the first ``cuts[j]`` sorted bins -> (6, angle, unit, len(cuts)).

    ``a`` dims (bin, unit) is the unrotated autocorrelogram, ``b`` dims (angle, bin, unit) its
    rotations, both bin-major in order of distance from the centre, so a disk is a leading block
    of rows. Bins are summed segment by segment between consecutive cut points (one pass over the
    data), then accumulated, so every nested disk costs one addition. When every pair is valid,
    the counts are the cuts themselves and the sums of ``a`` and ``a**2`` are shared by all angles.
    """
    from scipy import sparse

    n_bins = a.shape[0]
    bounds = np.unique(np.r_[0, cuts])
    bounds = bounds[bounds < n_bins]
    pos = np.minimum(np.searchsorted(bounds, cuts, side="left"), len(bounds))  # a cut beyond the last bound: everything
    seg_id = np.searchsorted(bounds, np.arange(n_bins), side="right") - 1
    # (segment, bin) 0/1 matrix: a sparse product is the fastest segment sum over bin-major rows
    seg_sum = sparse.csr_matrix((np.ones(n_bins), (seg_id, np.arange(n_bins))), shape=(len(bounds), n_bins))

    def cumulative(q: np.ndarray) -> np.ndarray:
        # q (bin, unit) -> (unit, cut): sums over the first cuts[j] bins
        cum = np.zeros((len(bounds) + 1, q.shape[1]))
        np.cumsum(seg_sum @ q, axis=0, out=cum[1:])
        return cum[pos].T

    k = b.shape[0]
    out = np.empty((6, k, a.shape[1], len(cuts)))
    if valid_mode == "pairwise":
        all_valid = bool(np.isfinite(a).all() and np.isfinite(b).all())
    else:  # "zeros": NaN counts as 0 (DeepMind)
        a, b, all_valid = np.nan_to_num(a), np.nan_to_num(b), True
    if all_valid:
        out[0] = cuts.astype(np.float64)
        out[1] = cumulative(a)[None]
        out[3] = cumulative(a * a)[None]
    for j in range(k):  # one angle at a time: its temporaries stay in cache
        bj = b[j]
        if all_valid:
            aj = a
        else:
            v = np.isfinite(a) & np.isfinite(bj)
            aj, bj = np.where(v, a, 0.0), np.where(v, bj, 0.0)
            out[0, j] = cumulative(v.astype(np.float64))
            out[1, j] = cumulative(aj)
            out[3, j] = cumulative(aj * aj)
        out[2, j] = cumulative(bj)
        out[4, j] = cumulative(bj * bj)
        out[5, j] = cumulative(aj * bj)
    return out


def _gridness_sargolini(sacs: np.ndarray, threshold: float, return_details: bool):
    u, sy, sx = sacs.shape
    geo = ring_geometry(sy, sx, SARGOLINI_ANGLES)
    outer = geo.outer
    limit = int(np.searchsorted(geo.d2, outer * outer, side="left"))  # bins with d < outer
    flat = sacs.reshape(u, -1)
    padded = np.empty((flat.shape[1] + 1, u))  # (bin + 1, unit); the extra bin is NaN: out of bounds
    padded[:-1] = flat.T
    padded[-1] = np.nan
    half = point_symmetric(flat)  # then half of each ring, counted twice, is the whole ring
    rows = geo.rows(limit, half)
    a = padded[geo.order[rows]]  # (bin, unit), sorted by distance
    d2 = geo.d2[rows]
    shells = int(np.searchsorted(geo.dist, outer + 1 - 1e-9, side="left"))  # bins of shells 0 .. outer: a prefix
    cfr = central_field_radius(flat[:, geo.order[:shells]], geo.dist[:shells], outer, threshold)
    radii = np.arange(1, outer + 1)
    # number of sorted bins with d < r (ring outer edge, strict) and d <= c (inner edge)
    n_lt = np.searchsorted(d2, radii.astype(np.float64) ** 2 - 1e-9, side="left")
    n_le = np.searchsorted(d2, np.arange(0, outer + 1, dtype=np.float64) ** 2 + 1e-9, side="right")
    cfr_c = np.clip(cfr, 0, outer)
    cuts = np.r_[n_lt, n_le]
    rows = np.arange(u)
    b = geo.rotated_all(padded, limit, half)  # (angle, bin, unit)
    sums = _disk_sums(a, b, cuts, "pairwise")  # (6, angle, unit, R + outer + 1)
    if half:
        sums *= 2.0  # exact: the whole rings' sums
    hi = sums[..., : len(radii)]
    base = sums[:, :, rows, len(radii) + cfr_c][..., None]  # (6, angle, unit, 1): the central disk
    n, sa, sb, saa, sbb, sab = hi - base
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sab - sa * sb
        va, vb = n * saa - sa * sa, n * sbb - sb * sb
        r = cov / np.sqrt(np.clip(va, 0, None) * np.clip(vb, 0, None))
        r = np.where((n >= 3) & (va > 1e-12 * n * n) & (vb > 1e-12 * n * n), r, np.nan)
    corr = np.ascontiguousarray(r.transpose(1, 0, 2))  # (unit, angle, radius)
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
        return score, {"central_radius": cfr, "best_radius": best_r, "radii": radii, "gridness_by_radius": g, "correlations": corr, "angles": np.array(SARGOLINI_ANGLES)}
    return score, None


BANINO_RINGS = tuple((0.2, float(e)) for e in np.linspace(0.4, 1.0, 10))


def _gridness_banino(sacs: np.ndarray, n_bins: int, rings, return_details: bool):
    u, sy, sx = sacs.shape
    geo = ring_geometry(sy, sx, SARGOLINI_ANGLES)
    limit = len(geo.d2)
    flat = np.nan_to_num(sacs.reshape(u, -1))  # DeepMind: NaN lags count as 0
    padded = np.zeros((flat.shape[1] + 1, u))  # out-of-bounds rotate to 0 (cval)
    padded[:-1] = flat.T
    inner = np.array([r[0] for r in rings]) * n_bins
    outer = np.array([r[1] for r in rings]) * n_bins
    limit = int(min(limit, np.searchsorted(geo.d2, max(inner.max(), outer.max()) ** 2 + 1e-9, side="right")))
    half = point_symmetric(flat)  # then half of each ring, counted twice, is the whole ring
    rows = geo.rows(limit, half)
    d2 = geo.d2[rows]
    n_in = np.searchsorted(d2, inner**2 + 1e-9, side="right")
    n_out = np.searchsorted(d2, outer**2 + 1e-9, side="right")
    cuts = np.r_[n_out, n_in]
    a = padded[geo.order[rows]]
    b = geo.rotated_all(padded, limit, half)  # (angle, bin, unit)
    sums = _disk_sums(a, b, cuts, "zeros")  # (6, angle, unit, 2 * rings)
    if half:
        sums *= 2.0  # exact: the whole rings' sums
    n, sa, sb, saa, sbb, sab = sums[..., : len(rings)] - sums[..., len(rings) :]
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = sa / n
        var = (saa - 2 * mu * sa + mu * mu * n) / n + 1e-5
        cross = (sab - mu * sb - mu * sa + mu * mu * n) / n
        corr = np.ascontiguousarray((cross / var).transpose(1, 0, 2))  # (unit, angle, ring)
    r30, r60, r90, r120, r150 = (corr[:, k] for k in range(5))
    g = (r60 + r120) / 2 - (r30 + r90 + r150) / 3  # (unit, rings)
    all_nan = ~np.isfinite(sacs).any(axis=(1, 2))
    score = np.where(all_nan, np.nan, g.max(axis=1))
    if return_details:
        return score, {"gridness_by_ring": g, "rings": np.array(rings), "best_ring": g.argmax(axis=1), "correlations": corr}
    return score, None


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
    check_variant(variant)
    arr, single = as_maps(sacs, "sacs")
    if arr.shape[0] == 0:  # no units: empty result, not an error
        return (np.zeros(0), {}) if return_details else np.zeros(0)
    if arr.shape[0] > _checks.CHUNK and not return_details:
        return np.concatenate([
            gridness_from_autocorrelogram(arr[i : i + _checks.CHUNK], variant, n_bins=n_bins, rings=rings, central_threshold=central_threshold)
            for i in range(0, arr.shape[0], _checks.CHUNK)
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
    check_variant(variant)
    arr, single = as_maps(maps)
    ny, nx = arr.shape[1:]
    # sargolini scores the 1.8 n crop (as opexebo): the dropped lags are not computed at all
    trim = crop_trims((2 * ny - 1, 2 * nx - 1), (ny, nx)) if variant == "sargolini" else (0, 0)
    sacs = autocorrelograms(arr, min_overlap, trim) if len(arr) else np.zeros((0, 2 * ny - 1 - 2 * trim[0], 2 * nx - 1 - 2 * trim[1]))
    kwargs.setdefault("n_bins", min(arr.shape[1:]))
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
    progress: bool | None = None,
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
    progress : bool or None
        A progress bar over shuffles (``None``: on a terminal only; ``set_options(progress=False)``
        or ``NEUROCOMPARE_QUIET=1`` silence it).

    Returns
    -------
    dict with ``gridness`` (unit,) of the unshuffled maps, ``threshold`` (unit,), ``null``
    (n_shuffles, unit) and ``p_value`` (unit,) (fraction of shuffles >= the observed score).
    """
    check_variant(variant)
    act = np.asarray(getattr(activity, "values", activity), dtype=np.float64)
    if act.ndim == 1:
        act = act[:, None]
    pos = as_positions(positions)
    if act.ndim != 2 or act.shape[0] != len(pos):
        raise ValueError(f"activity must have dims (time, unit) with {len(pos)} time steps; got shape {act.shape}.")
    if n_shuffles < 1:
        raise ValueError(f"n_shuffles must be >= 1; got {n_shuffles}.")
    t, u = act.shape
    min_shift = max(1, t // 20) if min_shift is None else int(min_shift)
    if t - 2 * min_shift < 1:
        raise ValueError(f"min_shift={min_shift} leaves no possible shift for {t} time steps; use a smaller min_shift.")
    rng = rng_from_seed(seed)
    if box is None:
        box = resolve_box(pos, None)
    kw = dict(bins=bins, box=box, sigma=sigma, min_occupancy=min_occupancy, clip=True)
    observed = gridness(rate_maps(act, pos, **kw).reshape(u, *as_bins(bins)), variant)
    shifts = rng.integers(min_shift, t - min_shift + 1, size=(n_shuffles, u))
    rows = np.arange(t)
    null = np.empty((n_shuffles, u))
    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=n_shuffles, desc="shuffles", unit="shuffle", dynamic_ncols=True)
    for k in range(n_shuffles):
        shuffled = act[(rows[:, None] - shifts[k][None, :]) % t, np.arange(u)[None, :]]
        null[k] = gridness(rate_maps(shuffled, pos, **kw), variant)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    with np.errstate(invalid="ignore"):
        thr = np.nanpercentile(np.where(np.isfinite(null), null, np.nan), percentile, axis=0) if np.isfinite(null).any() else np.full(u, np.nan)
        p = (np.sum(null >= observed[None, :], axis=0) + 1) / (n_shuffles + 1)
    return {"gridness": observed, "threshold": thr, "null": null, "p_value": p}
