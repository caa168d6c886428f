"""Grid geometry: spacing, orientation and phase of grid maps, lattice maps, and grid modules.

Spacing and orientation come from the six autocorrelogram peaks nearest the centre (Hafting et al.
2005; Stensola et al. 2012), phase from the Fourier phases of the map along the lattice's wave
vectors; :func:`hexagonal_grid_maps` builds ideal maps of a given geometry (the inverse, for tests
and demos); :func:`detect_modules` clusters units into modules by spacing and orientation
(Stensola et al. 2012).

References
----------
Hafting et al. (2005) Nature 436:801. Stensola et al. (2012) Nature 492:72.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from neurocompare.gridcells._autocorrelogram import (
    SARGOLINI_ANGLES,
    autocorrelogram,
    central_field_radius,
    crop_autocorrelogram,
    ring_geometry,
)
from neurocompare.gridcells._checks import as_maps, rng_from_seed

__all__ = ["grid_geometry", "hexagonal_grid_maps", "detect_modules"]


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
    arr, single = as_maps(maps)
    if sacs is None:
        sacs = autocorrelogram(arr, min_overlap=min_overlap)
    sacs = np.asarray(sacs, dtype=np.float64)
    if sacs.ndim == 2:
        sacs = sacs[None]
    sacs = crop_autocorrelogram(sacs, arr.shape[1:])  # drop the noisy outermost lags (BNT/opexebo)
    u, sy, sx = sacs.shape
    cy, cx = (sy - 1) / 2.0, (sx - 1) / 2.0
    geo = ring_geometry(sy, sx, SARGOLINI_ANGLES)
    cfr = central_field_radius(sacs.reshape(u, -1)[:, geo.order], geo.dist, geo.outer, central_threshold)
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
    rng = rng_from_seed(seed)
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


def detect_modules(
    spacing: Any,
    orientation: Any = None,
    *,
    max_modules: int = 6,
    orientation_weight: float = 0.5,
    min_module_size: int = 3,
    min_period_ratio: float = 1.15,
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
    min_period_ratio : float
        Clusters whose median periods differ by less than this factor are merged into one module
        (successive ratios in rats are about 1.4, Stensola et al. 2012; a mixture on a very tight
        spacing distribution can otherwise split one module by a few percent or by orientation
        alone). 1.0 keeps every cluster.

    Returns
    -------
    dict with ``n_modules``, ``labels`` (unit,) ordered by period (0 = smallest; -1 unassigned),
    ``periods`` (median spacing per module, ascending), ``ratios`` (successive period ratios),
    ``sizes``.
    """
    from sklearn.mixture import GaussianMixture

    if min_period_ratio < 1.0:
        raise ValueError(f"detect_modules: min_period_ratio must be >= 1 (1 keeps every cluster); got {min_period_ratio!r}.")
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
    # merge clusters closer in period than min_period_ratio (walking up from the smallest period)
    by_period = uniq[np.argsort(periods)]
    merged, anchor = {}, None
    for k in by_period:
        p = np.median(sp[ok][lab == k])
        if anchor is not None and p / anchor[1] < min_period_ratio:
            merged[int(k)] = anchor[0]
        else:
            anchor = (int(k), p)
            merged[int(k)] = int(k)
    lab = np.array([merged.get(int(v), -1) if v >= 0 else -1 for v in lab])
    uniq = np.unique(lab[lab >= 0])
    periods = np.array([np.median(sp[ok][lab == k]) for k in uniq])
    order = np.argsort(periods)
    remap = {int(uniq[o]): r for r, o in enumerate(order)}
    remap[-1] = -1
    labels[ok] = [remap[int(v)] for v in lab]
    periods = periods[order]
    sizes = np.array([(labels == r).sum() for r in range(len(periods))])
    return {"n_modules": int(len(periods)), "labels": labels, "periods": periods, "ratios": periods[1:] / periods[:-1], "sizes": sizes}
