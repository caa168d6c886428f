"""Metamer files: the result Dataset (NetCDF + JSON provenance) and resumable synthesis states (.npz).

Nothing here uses pickle. Every file is written atomically: to a uniquely named temporary file
in the same folder, flushed to disk, then renamed over the target, so an interrupted write
leaves the previous file intact.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._atomic import atomic_write
from neurocompare.metamers._checks import check_dataset, input_dims, version

__all__ = ["save_metamers", "load_metamers", "write_state", "read_state", "metamer_dataset", "run_with_checkpoints"]

REFERENCE = "Feather et al. 2023, Nature Neuroscience 26:2017-2034"


def _atomic_write(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary path)`` then rename it to ``path`` (:func:`neurocompare._atomic.atomic_write`)."""
    return atomic_write(path, lambda tmp: write(str(tmp)), what="metamer file")


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
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"The synthesis state {path} is unreadable ({type(err).__name__}: {err}); it is truncated or damaged. "
            "Delete it to start over."
        ) from None


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
    metamers : array, shape ``(n_layers, n_images, *image_shape)``
        Images (image_shape (channels, height, width)) get dims ``(layer, image, channel, height,
        width)``; waveforms (image_shape (samples,)) get ``(layer, image, sample)``; other shapes
        ``dim_0, dim_1, ...`` (:func:`neurocompare.metamers._checks.input_dims`).
    originals : array, shape ``(n_images, *image_shape)``
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

    img_dims = input_dims(tuple(originals.shape[1:]))
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


def run_with_checkpoints(syn: Any, state: Path, *, resume: bool, every: int | None) -> None:
    """Run a ``MetamerSynthesis`` to the end, writing its state to ``state`` every ``every`` steps.

    With ``resume``, an existing ``state`` is loaded first; without it, an existing one is refused.
    Each checkpoint is written atomically, so a kill at any moment leaves the last good state, and
    a resumed synthesis ends bit-identical to an uninterrupted one (the state holds the metamers,
    step counter, stop flags, loss history and Adam moments; the schedule depends only on the step).
    """
    if state.suffix != ".npz":
        state = state.with_suffix(".npz")
    if every is None:
        every = syn.config.steps_per_round if syn.config.method == "feather" else 100
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"checkpoint_every must be a positive integer; got {every!r}.")
    if state.exists():
        if not resume:
            raise FileExistsError(
                f"{state} already holds a synthesis state. Pass resume=True (neurocompare metamers --resume) to "
                "continue it, or delete it / choose another state file to start over."
            )
        syn.load_state(state)
    while syn.n_iter < syn.config.total_iter and not bool(syn.stopped.all()):
        before = syn.n_iter
        syn.synthesize(max_iter=int(every))
        syn.save_state(state)
        if syn.n_iter == before:
            break
    syn.save_state(state)
