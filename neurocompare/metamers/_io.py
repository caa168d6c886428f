"""Metamer files: the result Dataset (NetCDF + JSON provenance) and resumable synthesis states (.npz).

Nothing here uses pickle. Every file is written atomically: to a uniquely named temporary file
in the same folder, flushed to disk, then renamed over the target, so an interrupted write
leaves the previous file intact.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurocompare.metamers._checks import check_dataset, version

__all__ = ["save_metamers", "load_metamers", "write_state", "read_state", "metamer_dataset"]

REFERENCE = "Feather et al. 2023, Nature Neuroscience 26:2017-2034"


def _atomic_write(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary path)`` then rename the temporary file to ``path`` (same folder, fsynced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable (POSIX); harmless to skip elsewhere
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


def write_state(path: str | os.PathLike, state: Mapping[str, np.ndarray]) -> Path:
    """Write a synthesis state (``MetamerSynthesis.state_dict()``) to ``path`` as ``.npz``, atomically.

    Returns
    -------
    pathlib.Path
        The file written (``.npz`` suffix added when missing).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append '.npz' to a name
            np.savez(f, **state)

    return _atomic_write(path, write)


def read_state(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a state written by :func:`write_state` (no pickle).

    Raises
    ------
    FileNotFoundError
        No file at ``path`` (the message says how to write one).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No synthesis state at {path}; write one with save_state(path).")
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def metamer_dataset(
    *,
    metamers: np.ndarray,
    originals: np.ndarray,
    losses: np.ndarray,
    stopped: np.ndarray,
    layers: Sequence[str],
    stages: Sequence[str],
    image_ids: Sequence[str],
    labels: np.ndarray | None,
    model: str,
    config: Mapping[str, Any],
    n_iter: int,
) -> xr.Dataset:
    """Assemble the metamer Dataset (its repr is in the :mod:`neurocompare.metamers` docstring).

    Parameters
    ----------
    metamers : array, shape (n_layers, n_images, *image_shape)
    originals : array, shape (n_images, *image_shape)
    losses : array, shape (n_layers, n_images, n_iter + 1)
    stopped : bool array, shape (n_layers, n_images)
    layers, stages : sequences of str, length n_layers
    image_ids : sequence of str, length n_images
    labels : int array, shape (n_images,), or None
    model : str
    config : dict
        The synthesis settings (stored as JSON in ``attrs['config']``).
    n_iter : int
    """
    import torch

    image_shape = tuple(originals.shape[1:])
    img_dims = (
        ("channel", "height", "width") if len(image_shape) == 3 else tuple(f"dim_{k}" for k in range(len(image_shape)))
    )
    losses = np.asarray(losses).astype(np.float32)
    coords: dict[str, Any] = {
        "layer": ("layer", np.array(layers)),
        "stage": ("layer", np.array(stages)),
        "image_id": ("image", np.array(image_ids)),
        "iteration": ("iteration", np.arange(losses.shape[-1])),
    }
    if labels is not None:
        coords["label"] = ("image", np.asarray(labels).astype(np.int64))
    return xr.Dataset(
        {
            "metamer": (("layer", "image") + img_dims, np.asarray(metamers).astype(np.float32)),
            "original": (("image",) + img_dims, np.asarray(originals).astype(np.float32)),
            "loss": (("layer", "image", "iteration"), losses),
            "relative_error": (("layer", "image"), losses[..., -1]),
            "stopped": (("layer", "image"), np.asarray(stopped)),
        },
        coords=coords,
        attrs={
            "model": model,
            "method": config["method"],
            "seed": int(config["seed"]),
            "n_iter": int(n_iter),
            "config": json.dumps(config),
            "neurocompare_version": version(),
            "torch_version": str(torch.__version__),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "reference": REFERENCE,
        },
    )


def save_metamers(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a metamer Dataset to NetCDF (``path``) plus a JSON provenance file beside it.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`synthesize_metamers` (or :meth:`MetamerSynthesis.to_dataset`).
    path : str or PathLike
        Target ``.nc`` file; ``<path>.json`` gets the attributes as readable JSON.

    Returns
    -------
    pathlib.Path
        The NetCDF file written.

    See Also
    --------
    neurocompare.metamers.load_metamers
    """
    ds = check_dataset(ds, "save_metamers()")
    path = Path(path)
    if path.suffix != ".nc":
        path = path.with_suffix(".nc")
    out = ds.copy()
    if "stopped" in out:
        out["stopped"] = out["stopped"].astype(np.int8)
    for var in out.variables.values():
        if var.dtype.kind == "U":  # h5netcdf stores them as variable-length strings
            var.encoding["dtype"] = str
    _atomic_write(path, lambda tmp: out.to_netcdf(tmp, engine="h5netcdf"))
    prov = {k: (json.loads(v) if k == "config" else v) for k, v in ds.attrs.items()}
    prov.update(
        {
            "layers": [str(v) for v in ds["layer"].values],
            "stages": [str(v) for v in ds["stage"].values] if "stage" in ds.coords else None,
            "image_ids": [str(v) for v in ds["image_id"].values] if "image_id" in ds.coords else None,
            "relative_error": np.asarray(ds["relative_error"].values).tolist(),
            "file": path.name,
        }
    )
    text = json.dumps(prov, indent=1, default=str)
    _atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text))
    return path


def load_metamers(path: str | os.PathLike) -> xr.Dataset:
    """Read a metamer Dataset written by :func:`save_metamers` (fully loaded into memory).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    TypeError
        The file holds no metamer Dataset.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No metamer file at {path}; write one with save_metamers(ds, path).")
    with xr.open_dataset(path, engine="h5netcdf") as f:
        ds = f.load()
    if "stopped" in ds:
        ds["stopped"] = ds["stopped"].astype(bool)
    for name in list(ds.coords):
        if ds[name].dtype.kind == "O":
            ds = ds.assign_coords({name: ds[name].astype(str)})
    return check_dataset(ds, "load_metamers()")
