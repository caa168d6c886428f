"""Gerlei et al.: 7 medial-entorhinal units from one open-field session, with the authors' scores.

Folder ``gerlei_mec_gridcells/``: ``mec_units.npz`` (plain arrays, no pickle), converted from the
authors' pandas pickle ``spatial_firing.pkl`` (klaragerlei/grid_score @ 7245d40f). It holds, per
unit: the rate map (42×42), its autocorrelogram (83×83), the authors' grid score, grid spacing,
field size, head-direction score, mean rate and spike count; and, concatenated over units, each
spike's time (samples at 30 kHz), position (cm) and head direction (deg), unit *i* owning
``[spike_offsets[i]:spike_offsets[i+1]]``.

The published grid scores (0.80, 0.98, 0.30, 0.01, 0.20, −0.15, 0.27) make this the reference for
checking a gridness implementation on real maps.

Orientation: in the file, a rate map is indexed ``[x_bin, y_bin]`` (checked against the spike
positions); the loaders transpose to dims ``('y', 'x')`` so that ``imshow(map, origin='lower')``
shows the arena the usual way.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp

__all__ = ["FOLDER", "FILES", "URL", "CITATION", "DESCRIPTION", "PUBLISHED_GRID_SCORES", "load", "load_spikes"]

FOLDER = "gerlei_mec_gridcells"
DESCRIPTION = "7 MEC units: rate maps, autocorrelograms, authors' grid scores and spike positions"
URL = "https://github.com/klaragerlei/grid_score/tree/7245d40f"
DOWNLOAD_BASE = None  # converted from a pickle; no one-to-one source file
CITATION = (
    "Gerlei K, Passlack J, Hawes I, Vandrey B, Stevens H, Papastathopoulos I, Nolan MF (2020). "
    "Grid cells are modulated by local head direction. Nature Communications 11:4228. "
    "doi:10.1038/s41467-020-17500-1"
)
FILES = {
    "mec_units.npz": "bfb86bc6651267f0c4a005680fa44fc5da8bdc20a0cddfdefa6b7462646e6010",
}

_THIS = sys.modules[__name__]
#: the authors' grid scores, rounded as quoted in the data README
PUBLISHED_GRID_SCORES = (0.80, 0.98, 0.30, 0.01, 0.20, -0.15, 0.27)
SAMPLE_RATE = 30000.0
_PER_UNIT = ("grid_score", "grid_spacing", "field_size", "hd_score", "mean_firing_rate", "number_of_spikes")
_REQUIRED = ("cluster_id", "tetrode", "firing_maps", "rate_map_autocorrelogram", "spike_offsets",
             "spike_times_samples", "spike_position_x_cm", "spike_position_y_cm", "spike_head_direction_deg") + _PER_UNIT


@file_cache(maxsize=2)
def _npz_cached(path: str, size: int, mtime_ns: int) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _REQUIRED if k not in z.files]
            if missing:
                raise ValueError(f"{path} lacks the arrays {missing}; it holds {sorted(z.files)}.")
            out = {k: z[k] for k in _REQUIRED}
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise ValueError(f"{path} holds Python objects; data_loaders refuses to unpickle.") from err
        raise
    except (OSError, EOFError, KeyError) as err:
        raise ValueError(f"Cannot read {path} as .npz (truncated or corrupt?): {err}") from err
    n = out["cluster_id"].shape[0]
    if out["spike_offsets"].shape != (n + 1,) or out["spike_offsets"][-1] != out["spike_times_samples"].shape[0]:
        raise ValueError(f"{path}: spike_offsets must have {n + 1} entries ending at the number of spikes.")
    for a in out.values():
        a.setflags(write=False)
    return out


def _npz(root) -> dict[str, np.ndarray]:
    path = fetch(_THIS, "mec_units.npz", root)
    return _npz_cached(str(path), *stamp(path))


def _unit_ids(z) -> np.ndarray:
    return np.array([f"T{t}_C{c}" for t, c in zip(z["tetrode"], z["cluster_id"])])


def load(root: str | os.PathLike | None = None) -> xr.Dataset:
    """Rate maps, autocorrelograms and the authors' scores of the 7 units.

    Parameters
    ----------
    root : path-like, optional
        Data root (see ``data_loaders.get_root``).

    Returns
    -------
    xarray.Dataset with dim ``unit`` (7; ``unit_id`` 'T<tetrode>_C<cluster>') and variables
        ``rate_map`` (unit, y, x) 42×42 in Hz,
        ``autocorrelogram`` (unit, lag_y, lag_x) 83×83, lags in bins from −41 to 41 (coords);
        zero lag at index 41; it is point-symmetric over lags −40..40, while the first row/column
        (lag −41, NaN) and the last (lag 41, zeros) are padding from the authors' code,
        ``grid_score``, ``grid_spacing`` (cm), ``field_size``, ``hd_score``,
        ``mean_firing_rate`` (Hz), ``number_of_spikes``, ``tetrode``, ``cluster_id``.
    """
    z = _npz(root)
    ds = xr.Dataset(
        {
            "rate_map": (("unit", "y", "x"), np.swapaxes(z["firing_maps"], 1, 2).copy()),
            "autocorrelogram": (("unit", "lag_y", "lag_x"), np.swapaxes(z["rate_map_autocorrelogram"], 1, 2).copy()),
            **{k: ("unit", z[k].copy()) for k in _PER_UNIT},
            "tetrode": ("unit", z["tetrode"].copy()),
            "cluster_id": ("unit", z["cluster_id"].copy()),
        },
        coords={
            "unit_id": ("unit", _unit_ids(z)),
            "lag_y": ("lag_y", np.arange(z["rate_map_autocorrelogram"].shape[1]) - 41),
            "lag_x": ("lag_x", np.arange(z["rate_map_autocorrelogram"].shape[2]) - 41),
        },
        attrs={"source": "gerlei_mec", "citation": CITATION, "rate_map_units": "Hz", "grid_spacing_units": "cm"},
    )
    return ds


def load_spikes(unit: int | str, root: str | os.PathLike | None = None) -> xr.Dataset:
    """Spike times, positions and head directions of one unit.

    Parameters
    ----------
    unit : int or str
        Index 0-6 or ``unit_id`` ('T2_C5', ...).
    root : path-like, optional
        Data root.

    Returns
    -------
    xarray.Dataset with dim ``spike`` and variables ``time`` (s; samples / 30 kHz), ``x``, ``y``
        (cm; NaN where tracking was lost) and ``head_direction`` (deg).
    """
    z = _npz(root)
    ids = _unit_ids(z)
    if isinstance(unit, str):
        if unit not in ids:
            raise ValueError(f"Unknown unit {unit!r}. Available: {', '.join(ids)}.")
        i = int(np.flatnonzero(ids == unit)[0])
    else:
        i = int(unit)
        if not 0 <= i < len(ids):
            raise ValueError(f"unit index must be in [0, {len(ids) - 1}]; got {unit}.")
    s, e = int(z["spike_offsets"][i]), int(z["spike_offsets"][i + 1])
    return xr.Dataset(
        {
            "time": ("spike", z["spike_times_samples"][s:e] / SAMPLE_RATE),
            "x": ("spike", z["spike_position_x_cm"][s:e].copy()),
            "y": ("spike", z["spike_position_y_cm"][s:e].copy()),
            "head_direction": ("spike", z["spike_head_direction_deg"][s:e].copy()),
        },
        attrs={"unit_id": str(ids[i]), "source": "gerlei_mec", "citation": CITATION, "position_units": "cm"},
    )
