"""Rate maps: occupancy-normalised, smoothed maps of many units from a trajectory or from spikes.

Maps are arrays of dims ``(unit, y, x)``: row index = y bin (ascending), column index = x bin
(ascending); unvisited bins are ``NaN``. Positions are arrays of dims ``(time, 2)`` holding
``(x, y)``, or recorded trajectories with dims ``('time', 'space')`` (see
:func:`neurocompare.gridcells.as_positions`).

References
----------
Skaggs et al. (1993) NIPS 5 (occupancy-normalised rate maps). Hafting et al. (2005) Nature 436:801.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from neurocompare.gridcells._checks import as_bins, as_maps, as_positions, bin_index, resolve_box

__all__ = ["smooth_maps", "rate_maps", "spike_rate_maps"]


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
    arr, single = as_maps(maps)
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
    positions : array of dims (time, 2) holding (x, y), or a DataArray with dims ('time', 'space');
        optional when ``activity`` carries x/y.
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
    pos = as_positions(positions)
    if act.ndim != 2 or act.shape[0] != pos.shape[0]:
        raise ValueError(
            f"activity must have dims (time, unit) with the same number of time steps as positions "
            f"({pos.shape[0]}); got shape {act.shape}."
        )
    if pos.shape[0] == 0:
        raise ValueError("positions is empty: a rate map needs at least one time step.")
    ny, nx = as_bins(bins)
    box = resolve_box(pos, box)
    idx = bin_index(pos, box, (ny, nx), clip)
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
    spike_positions : array of dims (spike, 2) holding (x, y) for one unit, or a list of such
        arrays (one per unit); a Dataset with ``x`` and ``y`` variables (as
        ``data_loaders.sargolini2006.load_gridcell()`` returns) is one unit. Each array is checked:
        an array of shape (2, n) is refused, never reshaped (that would pair x with x).
    positions : array of dims (time, 2), a DataArray with dims ('time', 'space'), or None
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
        units = [as_positions(s, f"spike positions of unit {u}", allow_empty=True) for u, s in enumerate(spike_positions)]
    else:
        units = [as_positions(spike_positions, "spike positions", allow_empty=True)]
    ny, nx = as_bins(bins)
    if positions is None:
        if box is None:
            raise ValueError(
                "spike_rate_maps() without a trajectory needs box=((xmin, xmax), (ymin, ymax)) to "
                "define the uniform occupancy."
            )
        box = resolve_box(np.zeros((1, 2)), box)
        per_bin = (duration if duration is not None else ny * nx) / (ny * nx)
        occ = np.full(ny * nx, per_bin)
        min_occ = 0.0
    else:
        if dt is None or dt <= 0:
            raise ValueError(f"dt (seconds per position sample) must be > 0 with positions; got {dt}.")
        pos = as_positions(positions)
        box = resolve_box(pos, box)
        occ = np.bincount(bin_index(pos, box, (ny, nx), clip), minlength=ny * nx) * float(dt)
        min_occ = min_occupancy * float(dt)
    sums = np.zeros((len(units), ny * nx))
    for u, sp in enumerate(units):
        if len(sp):
            sums[u] = np.bincount(bin_index(sp, box, (ny, nx), clip, "spike positions"), minlength=ny * nx)
    maps, _ = _occupancy_normalise(sums, occ, sigma, min_occ, ny, nx)
    return maps
