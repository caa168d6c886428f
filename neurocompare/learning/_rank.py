"""Singular spectra and effective ranks of weight matrices.

A weight of more than two dims (a convolution's ``(out, in, kh, kw)``) is read as the matrix
``(out, in * kh * kw)`` that maps an input patch to the output channels.

Two ranks are offered and always named:

- ``"epsilon"``: the number of singular values above ``eps * s_max`` (the ε-rank of Galanti et
  al.; scale-free, so weight decay that shrinks all singular values alike does not change it);
- ``"entropy"``: ``exp(H(p))`` with ``p_i = s_i / sum_j s_j`` (Roy & Vetterli 2007), a
  continuous rank that needs no threshold.

References
----------
Roy & Vetterli (2007) The effective rank: a measure of effective dimensionality. EUSIPCO.
Galanti, Siegel, Gupte & Poggio (2025) SGD and weight decay secretly minimize the rank of your
neural network.
Rangamani, Lindegaard, Galanti & Poggio (2023) Feature learning in deep classifiers through
intermediate neural collapse. ICML.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["RANK_METHODS", "singular_values", "effective_rank", "weight_spectra", "weight_ranks", "weight_layers"]

RANK_METHODS = ("epsilon", "entropy")


def _as_matrix(weight: Any) -> Any:
    import torch

    if isinstance(weight, torch.nn.Module):
        if not isinstance(getattr(weight, "weight", None), torch.Tensor):
            raise TypeError(f"{type(weight).__name__} has no weight tensor; pass a weight or a Linear/Conv module.")
        weight = weight.weight
    w = weight.detach() if isinstance(weight, torch.Tensor) else torch.as_tensor(np.asarray(weight))
    if w.ndim < 2:
        raise ValueError(
            f"A weight matrix needs at least 2 dims (out, in, ...); got shape {tuple(w.shape)}. Biases and "
            "normalisation scales have no rank."
        )
    if not (w.dtype.is_floating_point or w.dtype.is_complex):
        w = w.double()
    return w.reshape(w.shape[0], -1).to("cpu", torch.float64)


def singular_values(weight: Any) -> np.ndarray:
    """All singular values of a weight, descending.

    Parameters
    ----------
    weight : array, tensor or module of dims (out, in, ...)
        Dims past the second are folded into the input: ``(out, in * kh * kw)`` for a convolution.

    Returns
    -------
    numpy.ndarray, dims (min(out, in * ...),), float64

    Raises
    ------
    ValueError
        A weight of fewer than 2 dims.
    """
    import torch

    return torch.linalg.svdvals(_as_matrix(weight)).numpy()


def effective_rank(weight: Any, eps: float = 1e-3, *, method: str = "epsilon") -> float:
    """The effective rank of a weight matrix (or of a given spectrum).

    Parameters
    ----------
    weight : array, tensor or module of dims (out, in, ...)
        See :func:`singular_values`.
    eps : float
        For ``method='epsilon'``: count singular values ``> eps * s_max``; ``0 < eps < 1``.
    method : {'epsilon', 'entropy'}
        See the module docstring.

    Returns
    -------
    float
        An integer-valued float for ``'epsilon'``; in ``[1, min(out, in)]`` for ``'entropy'``;
        0 for an all-zero weight.

    Raises
    ------
    ValueError
        Unknown method, ``eps`` outside (0, 1), or a weight of fewer than 2 dims.

    References
    ----------
    Roy & Vetterli (2007) EUSIPCO. Galanti, Siegel, Gupte & Poggio (2025).

    Examples
    --------
    >>> import numpy as np
    >>> effective_rank(np.diag([1.0, 0.5, 1e-6]), eps=1e-3)
    2.0
    >>> round(effective_rank(np.eye(4), method="entropy"), 12)
    4.0
    """
    if method not in RANK_METHODS:
        raise ValueError(f"The 'method' parameter of effective_rank() must be one of {set(RANK_METHODS)}. Got {method!r} instead.")
    if method == "epsilon" and not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1) (a fraction of the largest singular value); got {eps!r}.")
    s = singular_values(weight)
    if s.size == 0 or s[0] == 0:
        return 0.0
    if method == "epsilon":
        return float(np.count_nonzero(s > eps * s[0]))
    p = s / s.sum()
    p = p[p > 0]
    return float(math.exp(-(p * np.log(p)).sum()))


def weight_layers(model: Any) -> list[str]:
    """Names of the submodules of ``model`` whose ``weight`` has 2 or more dims (Linear, Conv...), in order."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"Expected a torch.nn.Module; got {type(model).__name__}.")
    return [name for name, mod in model.named_modules()
            if name and isinstance(getattr(mod, "weight", None), torch.Tensor) and mod.weight.ndim >= 2]


def weight_spectra(model: Any, layers: Any = None) -> dict[str, np.ndarray]:
    """Singular values (descending) of every weight matrix of ``model``.

    Parameters
    ----------
    model : torch.nn.Module
    layers : sequence of str, optional
        Module names (default: :func:`weight_layers`).

    Returns
    -------
    dict of str to numpy.ndarray
        ``{module name: singular values}``.

    Raises
    ------
    ValueError
        A name that is not a module with a weight matrix (the message lists the ones there are).
    """
    names = weight_layers(model)
    if layers is None:
        layers = names
    missing = [name for name in layers if name not in names]
    if missing:
        raise ValueError(f"{missing} are not modules with a weight matrix. Available: {', '.join(names)}.")
    modules = dict(model.named_modules())
    return {name: singular_values(modules[name].weight) for name in layers}


def weight_ranks(model: Any, eps: float = 1e-3, *, method: str = "epsilon", layers: Any = None) -> dict[str, float]:
    """:func:`effective_rank` of every weight matrix of ``model``: ``{module name: rank}``."""
    modules = dict(model.named_modules())
    names = weight_layers(model)
    if layers is not None:
        missing = [name for name in layers if name not in names]
        if missing:
            raise ValueError(f"{missing} are not modules with a weight matrix. Available: {', '.join(names)}.")
        names = list(layers)
    return {name: effective_rank(modules[name].weight, eps, method=method) for name in names}
