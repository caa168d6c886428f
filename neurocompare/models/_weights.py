"""A model's weights: seeded initialisation (:func:`he_normal_`) and identity (:func:`weights_hash`).

Every builder in :mod:`neurocompare.models` that takes ``seed`` initialises through
:func:`he_normal_`, which draws from :func:`neurocompare._seeding.torch_generator` — a private
generator, so building a model never disturbs the caller's global torch RNG.

Examples
--------
>>> from torch import nn
>>> a = he_normal_(nn.Linear(4, 3), seed=0)
>>> b = he_normal_(nn.Linear(4, 3), seed=0)
>>> weights_hash(a) == weights_hash(b)
True
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from neurocompare._seeding import torch_generator

__all__ = ["he_normal_", "weights_hash"]


def he_normal_(model: Any, seed: int | None) -> Any:
    """Re-initialise ``model`` in place from ``seed``: He-normal weights, zero biases, unit norm scales.

    Every parameter with two or more dims (conv kernels, linear weights) is drawn, in
    ``model.parameters()`` order, from N(0, 2 / fan_in) with fan_in = ``p[0].numel()``; every
    one-dim parameter is set to zero, then the weights of ``BatchNorm`` layers to one.

    Parameters
    ----------
    model : torch.nn.Module
    seed : int or None
        ``None`` leaves the model as PyTorch initialised it (unseeded).

    Returns
    -------
    torch.nn.Module
        ``model`` itself.
    """
    if seed is None:
        return model
    import torch
    from torch import nn

    gen = torch_generator(int(seed))  # with no keys: the torch.manual_seed(seed) stream
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / p[0].numel()) ** 0.5)
            else:
                p.zero_()
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None:
                nn.init.ones_(m.weight)
    return model


def _update_array(h: "hashlib._Hash", arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr)
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(memoryview(arr).cast("B"))


def weights_hash(model: Any) -> str:
    """SHA-256 of a model's class name and its state dict (names, dtypes, shapes and values).

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    str
        64 hex digits. Two models with identical state dicts and the same class hash alike; the
        class name is included so that different architectures with equal weights differ.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"weights_hash() needs a torch.nn.Module; got {type(model).__name__}.")
    h = hashlib.sha256()
    h.update(type(model).__qualname__.encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        t = tensor.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        _update_array(h, t.contiguous().numpy())
    return h.hexdigest()
