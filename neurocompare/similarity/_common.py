"""Shared input handling for the similarity measures (the registry is in ``_metrics.py``).

Every measure takes ``(x, y)`` as ``Responses``, numpy arrays or torch tensors with stimuli on
the first axis. When both carry ``stimulus_id`` they are aligned first; otherwise they must
already have the same number of rows. Measures compute where their input lives (or on the
``device`` option) and, unless ``float64=`` says otherwise, in the ``dtype`` option: float64 on
CPU by default, the input's dtype on a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurocompare._options import resolve_device, resolve_dtype
from neurocompare.data import align, check_responses

__all__ = ["MIN_STIMULI", "as_matrix", "as_pair", "compute_dtype", "resolve_device"]

MIN_STIMULI = 4


def compute_dtype(float64: bool | None, like: Any, device: Any):
    """The torch dtype of a measure: ``float64=True``/``False`` force it; ``None`` asks the ``dtype`` option.

    With the default option this is float64 on CPU and the input's own dtype on a GPU
    (:func:`neurocompare._options.resolve_dtype`).
    """
    import torch

    if float64 is None:
        return resolve_dtype(None, like=like, device=device)
    return torch.float64 if float64 else torch.float32


def _to_2d(x: Any, name: str) -> Any:
    """Turn one input into a 2-D (stimulus, feature) numpy array or torch tensor."""
    if isinstance(x, xr.DataArray):
        x = check_responses(x)
        if x.ndim != 2:
            raise ValueError(
                f"{name} has dims {x.dims}; similarity measures take ('stimulus', 'unit'). "
                "Average repetitions first with neurocompare.average_repetitions()."
            )
        return np.asarray(x.values)
    if hasattr(x, "detach"):  # torch tensor
        t = x.detach()
        if t.dim() == 1:
            raise ValueError(f"{name} is 1-D (shape {tuple(t.shape)}); pass (n_stimuli, n_features), e.g. x[:, None].")
        return t.reshape(t.shape[0], -1)
    arr = np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}.")
    if arr.ndim == 1:
        raise ValueError(f"{name} is 1-D (shape {arr.shape}); pass (n_stimuli, n_features), e.g. x[:, None].")
    return arr.reshape(arr.shape[0], -1)


def as_matrix(x: Any, *, name: str = "x", device: Any = None, float64: bool | None = None, min_stimuli: int = MIN_STIMULI):
    """Convert one input to a finite 2-D torch tensor (stimulus, feature) on ``device``.

    Raises
    ------
    ValueError
        On NaN/inf values, fewer than ``min_stimuli`` rows, or 1-D input.
    """
    import torch

    dev = resolve_device(device, like=x)
    dtype = compute_dtype(float64, x, dev)
    m = _to_2d(x, name)
    t = m.to(dev, dtype) if isinstance(m, torch.Tensor) else torch.as_tensor(np.ascontiguousarray(m), dtype=dtype, device=dev)
    if t.shape[0] < min_stimuli:
        raise ValueError(f"{name} has {t.shape[0]} stimuli; this measure needs at least {min_stimuli}.")
    # a finite sum proves every entry finite without a full boolean temporary; only when the
    # sum is not finite (NaN/inf present, or overflow of huge values) is the exact check run
    if not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
    return t


def as_pair(x: Any, y: Any, *, device: Any = None, float64: bool | None = None, min_stimuli: int = MIN_STIMULI):
    """Align two inputs on ``stimulus_id`` (when both carry it) and convert both with :func:`as_matrix`.

    Returns
    -------
    x, y : torch.Tensor, shapes (n_stimuli, n_features_x) and (n_stimuli, n_features_y)
    """
    if isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray):
        x, y = align(x, y)
    tx = as_matrix(x, name="x", device=device, float64=float64, min_stimuli=min_stimuli)
    ty = as_matrix(y, name="y", device=device, float64=float64, min_stimuli=min_stimuli)
    if tx.shape[0] != ty.shape[0]:
        raise ValueError(
            f"x has {tx.shape[0]} stimuli but y has {ty.shape[0]}; both need one row per stimulus, in the same "
            "order. Pass Responses with stimulus_id coords to align them automatically."
        )
    return tx, ty
