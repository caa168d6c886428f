"""Helpers shared by the subcommands: model specs, stimulus files, output folders."""

from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["resolve_spec", "resolve_model", "load_stimuli", "ensure_writable"]


def resolve_spec(spec: str, *, seed: int = 0):
    """Resolve a model spec from the command line (see :func:`neurocompare.models.resolve_model`).

    Parameters
    ----------
    spec : str
        A registered name (``convnet_small``), a checkpoint path, ``module:function``, or
        ``torchvision:NAME`` / ``timm:NAME`` when those are installed.
    seed : int
        Passed to registered builders.

    Returns
    -------
    neurocompare.models.ResolvedModel
        The module with its preprocessing, id and weights hash.
    """
    from neurocompare.models import resolve_model as _resolve

    is_registered_name = ":" not in spec and not Path(spec).suffix
    return _resolve(spec, kwargs={"seed": seed} if is_registered_name else None)


def resolve_model(spec: str, *, seed: int = 0):
    """The bare ``nn.Module`` of :func:`resolve_spec` (for commands that do not feed it stimuli)."""
    return resolve_spec(spec, seed=seed).model


def load_stimuli(path: str | None = None, dataset: str | None = None, data_root: str | None = None):
    """Load a stimulus set from a file/folder or from a named dataset.

    Parameters
    ----------
    path : str, optional
        ``.npy`` (array, stimulus first), ``.nc`` (a stimulus DataArray saved with
        ``neurocompare.save``) or a folder of images (needs Pillow).
    dataset : str, optional
        A data_loaders module with a ``load_stimuli(root=...)`` function, e.g. ``kriegeskorte2008``.
    data_root : str, optional
        Data directory for ``dataset`` (default: ``$NEUROCOMPARE_DATA``).

    Returns
    -------
    numpy.ndarray or xarray.DataArray
    """
    import numpy as np

    if (path is None) == (dataset is None):
        raise ValueError("Give exactly one of --stimuli PATH or --dataset NAME.")
    if dataset is not None:
        try:
            module = importlib.import_module(f"data_loaders.{dataset}")
        except ModuleNotFoundError:
            import data_loaders

            names = [n for n in getattr(data_loaders, "DATASETS", [])] or sorted(
                p.stem for p in Path(data_loaders.__file__).parent.glob("*.py") if not p.stem.startswith("_")
            )
            raise ValueError(f"Unknown dataset {dataset!r}. Available: {', '.join(names)}.") from None
        if not hasattr(module, "load_stimuli"):
            raise ValueError(f"Dataset {dataset!r} has no stimuli (no load_stimuli function).")
        return module.load_stimuli(root=data_root)
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"Stimulus path {p} does not exist.")
    if p.is_dir():
        from neurocompare._optional import require

        image = require("PIL.Image", "Reading an image folder")
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
        if not files:
            raise ValueError(f"No image files (.png, .jpg, ...) in {p}.")
        import xarray as xr

        arrays = [np.asarray(image.open(f).convert("RGB")) for f in files]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"Images in {p} have {len(shapes)} different sizes; resize them to one size first.")
        return xr.DataArray(
            np.stack(arrays),
            dims=("stimulus", "height", "width", "channel"),
            coords={"stimulus_id": ("stimulus", [f.stem for f in files])},
        )
    if p.suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if p.suffix == ".nc":
        from neurocompare.data import load

        return load(p)
    raise ValueError(f"Unsupported stimulus file {p.name!r}: use .npy, .nc or a folder of images.")


def ensure_writable(folder: str | Path, option: str = "--out") -> Path:
    """Create ``folder`` if needed and check that a file can be written there, *before* any work.

    ``option`` is the command-line option the message tells the user to change.

    Raises
    ------
    PermissionError
        Naming the folder and what to do, when it cannot be created or written.
    """
    import os
    import tempfile

    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise PermissionError(
            f"Cannot write to the output folder {path} ({err.strerror or err}). Choose a writable folder with {option}."
        ) from None
    return path
