"""Real rat trajectories shipped with RatInABox 1.15.3 (``ratinabox/data/``).

- ``sargolini.npz``: 600 s in a 1 m × 1 m box, dt 0.02 s (Sargolini et al. 2006).
- ``tanni.npz``: ~7,300 s in a 2.5 m × 3.5 m environment (Tanni et al. 2022).

Each holds ``t`` (n,) seconds and ``pos`` (n, 2) metres. Returned as DataArrays with dims
``('time', 'space')``, ``space`` = ('x', 'y'), ``time`` coord = ``t``. Time stamps are not
perfectly regular: the Sargolini set has 60 gaps of 40-360 ms (tracking dropouts) among its 20 ms
steps; resample before using a fixed dt.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp

__all__ = ["FOLDER", "FILES", "URL", "CITATION", "DESCRIPTION", "NAMES", "load"]

FOLDER = "ratinabox_trajectories"
DESCRIPTION = "Rat trajectories from the RatInABox wheel: sargolini (600 s, 1 m box), tanni (7,300 s)"
URL = "https://pypi.org/project/ratinabox/1.15.3/ (ratinabox/data/)"
DOWNLOAD_BASE = None  # inside a wheel
CITATION = {
    "sargolini": "Sargolini F et al. (2006). Science 312(5774):758-762. doi:10.1126/science.1125572",
    "tanni": "Tanni S, de Cothi W, Barry C (2022). Current Biology 32(16):3505-3514. doi:10.1016/j.cub.2022.06.046",
    "ratinabox": "George TM, Rastogi M, de Cothi W, Clopath C, Stachenfeld K, Barry C (2024). RatInABox. eLife 12:RP85274.",
}
FILES = {
    "sargolini.npz": "6911a18f3c3216cf0e1cc5d9b41495640cf75b66bfe481fe6db7c4c5d4bbb1b2",
    "tanni.npz": "dcac154779411bcbbb8f6607c09413b5e5df08fbaf4d1b803bd1f22812d6eaa0",
}

_THIS = sys.modules[__name__]
NAMES = ("sargolini", "tanni")
BOX_M = {"sargolini": (1.0, 1.0), "tanni": (3.5, 2.5)}


@file_cache(maxsize=2)
def _read(path: str, size: int, mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            if "t" not in z.files or "pos" not in z.files:
                raise ValueError(f"{path} must hold arrays 't' and 'pos'; it holds {sorted(z.files)}.")
            t, pos = np.asarray(z["t"], float), np.asarray(z["pos"], float)
    except (OSError, EOFError, KeyError) as err:
        raise ValueError(f"Cannot read {path} as .npz (truncated or corrupt?): {err}") from err
    if pos.ndim != 2 or pos.shape != (t.shape[0], 2):
        raise ValueError(f"{path}: pos has shape {pos.shape}; expected ({t.shape[0]}, 2).")
    t.setflags(write=False)
    pos.setflags(write=False)
    return t, pos


def load(name: str = "sargolini", root: str | os.PathLike | None = None) -> xr.DataArray:
    """One trajectory data set.

    Parameters
    ----------
    name : {'sargolini', 'tanni'}
    root : path-like, optional
        Data root (see ``data_loaders.get_root``).

    Returns
    -------
    xarray.DataArray, dims ('time', 'space'), positions in metres; ``time`` coord in seconds
    """
    if name not in NAMES:
        raise ValueError(f"Unknown trajectory set {name!r}. Available: {', '.join(NAMES)}.")
    path = fetch(_THIS, f"{name}.npz", root)
    t, pos = _read(str(path), *stamp(path))
    return xr.DataArray(
        pos.copy(),
        dims=("time", "space"),
        coords={"time": t.copy(), "space": ["x", "y"]},
        attrs={"units": "m", "environment_size_m": list(BOX_M[name]), "source": f"ratinabox_trajectories/{name}",
               "citation": CITATION[name]},
    )
