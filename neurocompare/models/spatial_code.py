"""Feed-forward spatial code: the positive control for grid-cell emergence.

A multilayer perceptron maps a position ``(x, y)`` straight to a Norm-ReLU code (no velocity, no
recurrence): ``2 -> 64 -> 128 -> n_units``, ReLU between layers, ``norm_relu`` at the output.
Trained with :class:`neurocompare.models.grid_losses.ConformalLoss` (a local conformal-isometry
term inside a Gaussian envelope plus a capacity term) on positions drawn uniformly from an open
square, its units become hexagonal grid cells (Pettersen et al. 2024). Because nothing here can
fail to path-integrate, it tests the rest of the pipeline -- loss, rate maps, gridness, spacing,
modules -- on model units whose answer is known.

Registered builder: ``spatial_code_ff``.

Examples
--------
>>> import torch
>>> from neurocompare.models import build_model
>>> net = build_model("spatial_code_ff", n_units=32, seed=0)
>>> g = net(torch.zeros(5, 2))
>>> g.shape, bool(torch.allclose(g.norm(dim=-1), torch.ones(5)))
(torch.Size([5, 32]), True)

References
----------
Pettersen, Schøyen & Lepperød (2024) Self-supervised grid cells without path integration. bioRxiv.
Schaeffer, Khona, Ma, Eyzaguirre, Koyejo & Fiete (2023) NeurIPS.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neurocompare._seeding import seeded, torch_generator
from neurocompare.models import MODELS
from neurocompare.models.grid_losses import norm_relu

__all__ = ["SpatialCode", "uniform_positions", "grid_positions", "spatial_code_maps"]


class SpatialCode(nn.Module):
    """Position -> Norm-ReLU code.

    Parameters
    ----------
    n_units : int
        Output units (the candidate grid cells).
    hidden : tuple of int
        Hidden layer widths.

    Forward
    -------
    ``forward(positions (..., 2)) -> codes (..., n_units)``, non-negative and of unit norm.
    """

    def __init__(self, n_units: int = 256, hidden: tuple[int, ...] = (64, 128)):
        super().__init__()
        if n_units < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"SpatialCode needs n_units >= 1 and positive hidden widths; got n_units={n_units}, hidden={hidden}.")
        layers: list[nn.Module] = []
        width = 2
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_units))
        self.net = nn.Sequential(*layers)
        self.n_units = n_units

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        if positions.shape[-1] != 2:
            raise ValueError(f"SpatialCode expects positions of dims (..., 2); got shape {tuple(positions.shape)}.")
        return norm_relu(self.net(positions))


def uniform_positions(n: int, box=((-1.1, 1.1), (-1.1, 1.1)), *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` positions (n, 2) drawn uniformly from the square ``box`` (an open plane: no walls to learn)."""
    (x0, x1), (y0, y1) = box
    u = torch.rand(n, 2, generator=generator)
    return torch.stack([x0 + (x1 - x0) * u[:, 0], y0 + (y1 - y0) * u[:, 1]], dim=1)


def grid_positions(bins: int, box=((-1.1, 1.1), (-1.1, 1.1))) -> np.ndarray:
    """Bin centres of a ``bins x bins`` grid over ``box`` as positions (bins*bins, 2), row-major in y."""
    (x0, x1), (y0, y1) = box
    xs = x0 + (np.arange(bins) + 0.5) * (x1 - x0) / bins
    ys = y0 + (np.arange(bins) + 0.5) * (y1 - y0) / bins
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def spatial_code_maps(model: nn.Module, bins: int = 40, box=((-1.1, 1.1), (-1.1, 1.1))) -> np.ndarray:
    """Exact rate maps (unit, y, x) of a position -> code model, evaluated at the bin centres."""
    pos = torch.as_tensor(grid_positions(bins, box), dtype=torch.float32)
    with torch.no_grad():
        g = model(pos).double().numpy()
    return g.T.reshape(-1, bins, bins)


def _spatial_code_ff(*, n_units: int = 256, hidden: tuple[int, ...] = (64, 128), seed: int | None = 0) -> SpatialCode:
    """Build the feed-forward Norm-ReLU spatial code (see SpatialCode)."""
    with seeded(seed):
        return SpatialCode(n_units, tuple(hidden))


_spatial_code_ff.example_input = lambda: torch.rand(4, 2, generator=torch_generator(0)) - 0.5
spatial_code_ff = MODELS.register("spatial_code_ff", _spatial_code_ff)
