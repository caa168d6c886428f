"""Other spatial scores (Skaggs spatial information, Solstad border score) and every score at once.

References
----------
Skaggs et al. (1993) NIPS 5. Solstad et al. (2008) Science 322:1865.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from neurocompare.gridcells._autocorrelogram import autocorrelogram, crop_autocorrelogram
from neurocompare.gridcells._checks import as_maps
from neurocompare.gridcells._geometry import grid_geometry
from neurocompare.gridcells._gridness import gridness_from_autocorrelogram

__all__ = ["spatial_information", "border_score", "grid_scores"]


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
    arr, single = as_maps(maps)
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
    arr, single = as_maps(maps)
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


def grid_scores(maps: Any, *, bin_size: float = 1.0, occupancy: Any = None, min_overlap: int = 20) -> dict[str, np.ndarray]:
    """All scores for a stack of rate maps in one call (autocorrelograms computed once).

    Returns
    -------
    dict of arrays over units: ``gridness_sargolini``, ``gridness_banino``, ``spacing``,
    ``orientation``, ``phase`` (unit, 2), ``spatial_information`` (NaN for maps with negative
    values), ``border_score``, and ``sacs`` (unit, 2y-1, 2x-1).
    """
    arr, _ = as_maps(maps)
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
