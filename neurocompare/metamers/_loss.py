"""The objective of metamer synthesis: each row's relative error at a layer."""

from __future__ import annotations

import torch

from neurocompare.metamers._config import EPS

__all__ = ["relative_error"]


def relative_error(activation: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row relative error ``‖a − t‖₂ / ‖t‖₂`` between activations and targets.

    Parameters
    ----------
    activation, target : torch.Tensor, shape (n, ...)
        Row i of each is one image's activations at a layer (any trailing shape).

    Returns
    -------
    torch.Tensor, shape (n,)
        The denominator is clamped at 1e-12, so an all-zero target gives a large, finite error.

    Raises
    ------
    ValueError
        If the two shapes differ.
    """
    if activation.shape != target.shape:
        raise ValueError(
            f"relative_error() needs activations and targets of the same shape; got "
            f"{tuple(activation.shape)} and {tuple(target.shape)}."
        )
    a = activation.reshape(activation.shape[0], -1)
    t = target.reshape(target.shape[0], -1)
    return (a - t).norm(dim=1) / t.norm(dim=1).clamp_min(EPS)
