"""Shared input handling for the similarity measures (the registry is in ``_metrics.py``).

Every measure takes ``(x, y)`` as ``Responses``, numpy arrays or torch tensors with stimuli on
the first axis. When both carry ``stimulus_id`` they are aligned first; otherwise they must
already have the same number of rows. Measures compute where their input lives (or on the
``device`` option) and, unless ``float64=`` says otherwise, in the ``dtype`` option: float64 on
CPU by default, the input's dtype on a GPU.

Precision guards (issue 12), applied here once for every measure:

- complex input is refused (its imaginary part would be dropped silently);
- a measure that is invariant to a rescaling of its inputs asks for ``rescale=True``: each side is
  divided by the power of two nearest its largest magnitude, which is exact in binary floating
  point and keeps squares and Gram norms far from overflow and underflow (1e-30 … 1e30 inputs);
- in float32, a measure that is invariant to a translation of the units asks for
  ``centre='columns'`` (``'scalar'`` for a common offset only): the offset is removed in the
  input's own precision *before* the cast, so a +1e6 offset does not eat float32's 24 bits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._options import resolve_device, resolve_dtype
from neurocompare.data import align, check_responses

__all__ = ["MIN_STIMULI", "CENTRES", "MEMORY_FRACTION", "MemoryWarning", "as_matrix", "available_memory", "check_memory", "as_pair", "check_real", "compute_dtype", "power_of_two", "resolve_device"]

MIN_STIMULI = 4
CENTRES = (None, "columns", "scalar")
#: An O(n^2) measure warns when its estimated peak exceeds this fraction of the free memory.
MEMORY_FRACTION = 0.25


class MemoryWarning(UserWarning):
    """A measure is about to use a large share of the free memory (its estimate is in the message)."""


def available_memory(device: Any = None) -> int | None:
    """Free bytes on ``device`` (CUDA: ``torch.cuda.mem_get_info``; CPU: available physical pages), or None."""
    import os

    dev = str(device) if device is not None else "cpu"
    if dev.startswith("cuda"):
        import torch

        try:
            return int(torch.cuda.mem_get_info(torch.device(dev))[0])
        except (RuntimeError, AssertionError):
            return None
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not Linux
        return None


def check_memory(n_bytes: int, what: str, *, device: Any = None, fraction: float = MEMORY_FRACTION) -> int:
    """Warn (:class:`MemoryWarning`) when ``n_bytes`` exceeds ``fraction`` of the free memory; returns ``n_bytes``.

    The estimate comes first, before any large allocation, so a run that would swap or be
    killed says so while there is still time to subsample stimuli or move to a larger machine.
    """
    import warnings

    free = available_memory(device)
    if free is not None and n_bytes > fraction * free:
        warnings.warn(
            f"{what} needs about {n_bytes / 2**30:.1f} GiB at its peak, {100 * n_bytes / max(free, 1):.0f}% of the "
            f"{free / 2**30:.1f} GiB free. Expect swapping or an out-of-memory kill; use fewer stimuli, "
            "float32 on a GPU, or a machine with more memory.",
            MemoryWarning,
            stacklevel=3,
        )
    return int(n_bytes)


def check_real(dtype: Any, name: str) -> None:
    """Refuse complex dtypes (numpy or torch) with what to do instead."""
    text = str(dtype)
    if "complex" in text:
        raise TypeError(
            f"{name} has complex dtype {text.replace('torch.', '')}; the measures take real values and would drop "
            "the imaginary part. Pass the real part (x.real), the magnitude (abs(x)) or both as separate units."
        )


def power_of_two(maxabs: float) -> float:
    """The power of two nearest ``maxabs`` (1.0 for 0 or non-finite): dividing by it is exact."""
    if not (maxabs > 0 and math.isfinite(maxabs)):
        return 1.0
    return 2.0 ** round(math.log2(maxabs))


def _maxabs(m: Any) -> float:
    if isinstance(m, np.ndarray):
        return float(max(abs(float(m.max())), abs(float(m.min())))) if m.size else 0.0
    return float(m.detach().abs().max()) if m.numel() else 0.0


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
        check_real(x.dtype, name)
        return np.asarray(x.values)
    if hasattr(x, "detach"):  # torch tensor
        t = x.detach()
        check_real(t.dtype, name)
        if t.dim() == 1:
            raise ValueError(f"{name} is 1-D (shape {tuple(t.shape)}); pass (n_stimuli, n_features), e.g. x[:, None].")
        return t.reshape(t.shape[0], -1)
    arr = np.asarray(x)
    check_real(arr.dtype, name)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}.")
    if arr.ndim == 1:
        raise ValueError(f"{name} is 1-D (shape {arr.shape}); pass (n_stimuli, n_features), e.g. x[:, None].")
    return arr.reshape(arr.shape[0], -1)


def as_matrix(
    x: Any,
    *,
    name: str = "x",
    device: Any = None,
    float64: bool | None = None,
    min_stimuli: int = MIN_STIMULI,
    centre: str | None = None,
    rescale: bool = False,
    return_scale: bool = False,
    return_offset: bool = False,
):
    """Convert one input to a finite 2-D torch tensor (stimulus, feature) on ``device``.

    Parameters
    ----------
    x : Responses, numpy array or torch tensor (n_stimuli, ...)
    centre : {None, 'columns', 'scalar'}
        In float32 only: subtract the column means (or the overall mean) in the input's own
        precision before the cast; for measures invariant to that translation.
    rescale : bool
        Divide by the power of two nearest ``max|x|`` (exact); for scale-invariant measures, or
        with ``return_scale`` to undo it on the result.
    return_scale : bool
        Return ``(tensor, scale)`` with ``x ≈ tensor * scale``.
    return_offset : bool
        With ``return_scale``: return ``(tensor, scale, offset)`` with ``x ≈ tensor * scale + offset``;
        ``offset`` is a float64 tensor (1, n_features) or (1, 1) on ``device`` (zeros if nothing was
        subtracted).

    Raises
    ------
    TypeError
        Complex or non-numeric values.
    ValueError
        On NaN/inf values, fewer than ``min_stimuli`` rows, or 1-D input.
    """
    import torch

    if centre not in CENTRES:
        raise ValueError(f"The 'centre' parameter of as_matrix() must be one of {CENTRES}. Got {centre!r} instead.")
    dev = resolve_device(device, like=x)
    dtype = compute_dtype(float64, x, dev)
    m = _to_2d(x, name)
    if m.shape[0] < min_stimuli:
        raise ValueError(f"{name} has {m.shape[0]} stimuli; this measure needs at least {min_stimuli}.")
    if isinstance(m, np.ndarray) and not np.issubdtype(m.dtype, np.floating):
        m = m.astype(np.float64)
    narrowing = dtype == torch.float32 and m.dtype in (np.float64, torch.float64)
    offset = None
    if centre is not None and dtype != torch.float64 and m.shape[0] > 0:
        # remove the offset before any rounding to float32 (in the input's precision)
        if isinstance(m, np.ndarray):
            offset = m.mean(0, keepdims=True) if centre == "columns" else m.mean().reshape(1, 1)
        else:
            offset = m.mean(0, keepdim=True) if centre == "columns" else m.mean().reshape(1, 1)
        m = m - offset
    scale = 1.0
    if rescale or return_scale:
        scale = power_of_two(_maxabs(m))
        # float64 has room to spare: rescale only far from 1 (avoids a copy of large inputs)
        if dtype == torch.float64 and not narrowing and 2.0**-64 <= scale <= 2.0**64:
            scale = 1.0
    if scale != 1.0:
        m = m / scale  # exact: a power of two, in the input's precision, before the cast
    t = m.to(dev, dtype) if isinstance(m, torch.Tensor) else torch.as_tensor(np.ascontiguousarray(m), dtype=dtype, device=dev)
    # a finite sum proves every entry finite without a full boolean temporary; only when the
    # sum is not finite (NaN/inf present, or overflow of huge values) is the exact check run
    if not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        if isinstance(m, np.ndarray) and np.isfinite(m).all() or isinstance(m, torch.Tensor) and bool(torch.isfinite(m).all()):
            raise ValueError(
                f"{name} overflows {str(dtype).replace('torch.', '')} (largest magnitude {_maxabs(m) * scale:.3g}); "
                "compute in float64 (float64=True, or nc.set_options(dtype='float64')) or rescale it."
            )
        raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
    if return_scale and return_offset:
        if offset is None:
            off = torch.zeros((1, 1), dtype=torch.float64, device=dev)
        elif isinstance(offset, np.ndarray):
            off = torch.as_tensor(offset, dtype=torch.float64, device=dev)
        else:
            off = offset.to(dev, torch.float64)
        return t, scale, off
    return (t, scale) if return_scale else t


def as_pair(
    x: Any,
    y: Any,
    *,
    device: Any = None,
    float64: bool | None = None,
    min_stimuli: int = MIN_STIMULI,
    centre: str | None = None,
    rescale: bool = False,
):
    """Align two inputs on ``stimulus_id`` (when both carry it) and convert both with :func:`as_matrix`.

    ``centre`` and ``rescale`` apply to each side on its own (see :func:`as_matrix`).

    Returns
    -------
    x, y : torch.Tensor, shapes (n_stimuli, n_features_x) and (n_stimuli, n_features_y)
    """
    if isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray):
        x, y = align(x, y)
    kw = dict(device=device, float64=float64, min_stimuli=min_stimuli, centre=centre, rescale=rescale)
    tx = as_matrix(x, name="x", **kw)
    ty = as_matrix(y, name="y", **kw)
    if tx.shape[0] != ty.shape[0]:
        raise ValueError(
            f"x has {tx.shape[0]} stimuli but y has {ty.shape[0]}; both need one row per stimulus, in the same "
            "order. Pass Responses with stimulus_id coords to align them automatically."
        )
    return tx, ty
