"""Input checks shared by the grid-cell modules: map stacks, positions, arena boxes, bins, seeds.

Positions are one convention everywhere: an array of dims ``(time, 2)`` holding ``(x, y)``. A
recorded trajectory as the data loaders return it (a DataArray with dims ``('time', 'space')``,
``space = ['x', 'y']``) is converted by dim and coordinate *name*, so its axis order never
matters; a bare array that looks like ``(2, time)`` is refused (it would bin x against y
silently), with the transpose as the hint.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurocompare._seeding import numpy_rng

__all__ = [
    "GRIDNESS_VARIANTS",
    "MIN_MAP_SIZE",
    "CHUNK",
    "as_maps",
    "check_variant",
    "as_positions",
    "resolve_box",
    "bin_index",
    "as_bins",
    "rng_from_seed",
]

GRIDNESS_VARIANTS = ("sargolini", "banino")
MIN_MAP_SIZE = 5
CHUNK = 64  # units per batch in the vectorised kernels: bounded memory, and cache-friendly (fastest on CPU)


def as_maps(maps: Any, name: str = "maps") -> tuple[np.ndarray, bool]:
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
    if arr.shape[1] < MIN_MAP_SIZE or arr.shape[2] < MIN_MAP_SIZE:
        raise ValueError(
            f"{name} must be at least {MIN_MAP_SIZE}x{MIN_MAP_SIZE} bins to hold a grid; got "
            f"{arr.shape[1]}x{arr.shape[2]}. Use more spatial bins (bins=...) when building maps."
        )
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite values; replace them with NaN (unvisited) or finite rates.")
    return arr, single


def check_variant(variant: str) -> str:
    """Return ``variant`` if it names a gridness definition, else raise ValueError listing them."""
    if variant not in GRIDNESS_VARIANTS:
        raise ValueError(
            f"The 'variant' parameter of gridness() must be one of {set(GRIDNESS_VARIANTS)}. "
            f"Got {variant!r} instead."
        )
    return variant


def _from_labelled(positions: Any) -> np.ndarray | None:
    """(time, 2) positions from a labelled container, or None for a plain array.

    Accepts a DataArray with a ``space`` dim (ordered by its ``space`` coord when it has one),
    and a Dataset or mapping with ``x`` and ``y`` variables (e.g. spike positions).
    """
    dims = getattr(positions, "dims", None)
    if dims is not None and hasattr(positions, "transpose") and "space" in tuple(dims):
        da = positions
        if "space" in getattr(da, "coords", {}):
            labels = [str(v) for v in np.asarray(da["space"].values)]
            if sorted(labels) != ["x", "y"]:
                raise ValueError(f"positions' 'space' coordinate must be ['x', 'y']; got {labels}.")
            da = da.sel(space=["x", "y"])
        da = da.transpose(..., "space")
        arr = np.asarray(da.values, dtype=np.float64)
        return arr.reshape(-1, arr.shape[-1]) if arr.ndim > 2 else arr
    variables = getattr(positions, "data_vars", None)
    if variables is None and isinstance(positions, dict):
        variables = positions
    if variables is not None and "x" in variables and "y" in variables:
        x = np.asarray(getattr(positions["x"], "values", positions["x"]), dtype=np.float64).ravel()
        y = np.asarray(getattr(positions["y"], "values", positions["y"]), dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"positions' x and y must have the same length; got {x.size} and {y.size}.")
        return np.stack([x, y], axis=1)
    return None


def as_positions(positions: Any, what: str = "positions", allow_empty: bool = False) -> np.ndarray:
    """Positions as a float64 array of dims ``(time, 2)`` holding ``(x, y)``, validated.

    Parameters
    ----------
    positions : array of dims (time, 2), a DataArray with a ``space`` dim, or a Dataset/dict
        Arrays of dims ``(time, 2)``; DataArrays of dims ``('time', 'space')`` as the data loaders
        return them; Datasets or dicts with ``x`` and ``y`` variables.
    what : str
        Name used in error messages.
    allow_empty : bool
        Accept zero samples (an empty list or an array of shape (0,) or (0, 2)).

    Raises
    ------
    ValueError
        Wrong shape (with a transpose hint for ``(2, time)``), non-finite samples, or empty input
        when ``allow_empty`` is False.
    """
    if hasattr(positions, "detach"):  # torch tensor
        positions = positions.detach().cpu().numpy()
    labelled = _from_labelled(positions)
    pos = labelled if labelled is not None else np.asarray(positions, dtype=np.float64)
    if allow_empty and pos.size == 0:
        return pos.reshape(0, 2)
    if pos.ndim != 2 or pos.shape[1] != 2:
        hint = ""
        if pos.ndim == 2 and pos.shape[0] == 2:
            hint = f" It looks like (2, time): pass its transpose (shape {pos.shape[::-1]})."
        raise ValueError(f"{what} must have dims (time, 2) holding (x, y); got shape {pos.shape}.{hint}")
    if not np.isfinite(pos).all():
        raise ValueError(
            f"{what} contain {int((~np.isfinite(pos)).any(axis=1).sum())} non-finite samples; "
            "drop or interpolate them before building rate maps."
        )
    return pos


def resolve_box(pos: np.ndarray, box: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((xmin, xmax), (ymin, ymax))``: ``box`` checked, or the range of ``pos`` when None."""
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


def bin_index(pos: np.ndarray, box, bins: tuple[int, int], clip: bool, what: str = "positions") -> np.ndarray:
    """Flat bin index ``iy * nx + ix`` of each position (time,), or ValueError for points outside."""
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


def as_bins(bins: Any) -> tuple[int, int]:
    """``(ny, nx)`` from an int or a pair, each at least ``MIN_MAP_SIZE``."""
    if np.isscalar(bins):
        bins = (int(bins), int(bins))
    ny, nx = (int(b) for b in bins)
    if ny < MIN_MAP_SIZE or nx < MIN_MAP_SIZE:
        raise ValueError(f"bins must be at least {MIN_MAP_SIZE} per side; got {(ny, nx)}.")
    return ny, nx


def rng_from_seed(seed: int | None, *keys: int | str) -> np.random.Generator:
    """The package's numpy stream for ``(seed, *keys)``; ``seed=None`` gives fresh entropy.

    With no keys this draws exactly what ``np.random.default_rng(seed)`` draws, so seeded results
    from before the one seeding scheme are unchanged.
    """
    if seed is None:
        return np.random.default_rng()
    return numpy_rng(seed, *keys)
