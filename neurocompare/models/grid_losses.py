"""Self-supervised objectives for spatial codes: the SIC loss and the conformal-isometry loss.

Codes are non-negative unit vectors (Norm-ReLU outputs, :func:`norm_relu`) of dims
``(..., unit)``; positions are ``(..., 2)`` with the same leading dims. Every pairwise term works
on the flattened ``(point, unit)`` / ``(point, 2)`` arrays, uses each unordered pair once and
never the diagonal.

Terms (pure functions; the ``nn.Module`` wrappers :class:`SICLoss` and :class:`ConformalLoss`
hold the hyper-parameters):

=========================  ========================================================================
``separation_loss``        mean over pairs with ``|x_i - x_j| > sigma_x`` of
                           ``exp(-|g_i - g_j|^2 / 2 sigma_g^2)``: codes of distant places differ
``invariance_loss``        mean over pairs with ``|x_i - x_j| < radius`` of ``|g_i - g_j|^2``:
                           all nearby places (``radius = sigma_x``, as published) or only the same
                           place (``radius`` of a few cm, this package's first reading)
``capacity_loss``          ``"l1"``: ``-mean_iu g_iu`` (dense codes on the unit sphere use
                           little of code space; Pettersen et al. 2024); ``"kernel"``: ``-mean
                           exp(-|g_i - g_j|^2 / 2 sigma_g^2)`` over all pairs
``conformal_loss``         mean over pairs of ``w(dx) (exp(-dx^2 / 2 sigma^2) - exp(-dg^2 /
                           2 sigma_g^2))^2`` with the envelope ``w(dx) = exp(-dx^2 / 2 (rho
                           sigma)^2)``: locally, code distance proportional to distance in space
=========================  ========================================================================

The capacity constraint of Schaeffer et al. -- codes on the positive orthant of the unit sphere --
is built into the networks through Norm-ReLU; ``capacity_loss`` is the term whose weight against
separation (or against the conformal term) sets how much of that sphere the code may use.

Examples
--------
>>> import torch
>>> from neurocompare.models.grid_losses import conformal_loss, invariance_loss
>>> x = torch.rand(50, 2, generator=torch.Generator().manual_seed(0))
>>> float(conformal_loss(0.5 * x, x, sigma=1.0, sigma_g=0.5))   # a linear conformal code
0.0
>>> float(invariance_loss(torch.ones(50, 3), x, radius=0.3))      # identical codes
0.0

References
----------
Schaeffer, Khona, Ma, Eyzaguirre, Koyejo & Fiete (2023) Self-supervised learning of
representations for space generates multi-modular grid cells. NeurIPS.
Pettersen, Schøyen, Lepperød (2024) Self-supervised grid cells without path integration. bioRxiv
(code: bioAI-Oslo/GridsWithoutPI, MIT).
Xu, Gao, Zhang, Wei & Wu (2025) On conformal isometry of grid cells: learning distance-preserving
position embedding. ICLR.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "norm_relu",
    "pair_distances",
    "separation_loss",
    "invariance_loss",
    "capacity_loss",
    "conformal_loss",
    "sic_loss",
    "SICLoss",
    "ConformalLoss",
    "CAPACITY_KINDS",
    "INVARIANCE_KINDS",
]

CAPACITY_KINDS = ("l1", "kernel")
INVARIANCE_KINDS = ("near", "same_place")


def norm_relu(h: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``relu(h) / |relu(h)|`` over the last dim (Schaeffer et al.'s Norm-ReLU)."""
    r = torch.relu(h)
    return r / (r.norm(dim=-1, keepdim=True) + eps)


def _flat(codes: torch.Tensor, positions: torch.Tensor | None, fn: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    codes = torch.as_tensor(codes)
    if codes.ndim < 2:
        raise ValueError(f"{fn}: codes must have dims (..., unit) with at least one point dim; got shape {tuple(codes.shape)}.")
    g = codes.reshape(-1, codes.shape[-1])
    if positions is None:
        return g, None
    positions = torch.as_tensor(positions)
    if positions.shape[-1] != 2 or positions.shape[:-1] != codes.shape[:-1]:
        raise ValueError(
            f"{fn}: positions must have dims (..., 2) with the same leading dims as codes (..., unit); "
            f"got codes {tuple(codes.shape)} and positions {tuple(positions.shape)}. Pass one position per code."
        )
    return g, positions.reshape(-1, 2).to(g.dtype)


def _check_positive(fn: str, **values: float) -> None:
    for name, v in values.items():
        if not v > 0:
            raise ValueError(f"{fn}: '{name}' must be > 0; got {v!r}.")


def pair_distances(codes: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared code distances and spatial distances of every unordered pair of points.

    Parameters
    ----------
    codes : tensor (..., unit)
    positions : tensor (..., 2), same leading dims.

    Returns
    -------
    dg2 : tensor (pair,), ``|g_i - g_j|^2`` for ``i < j`` over the flattened points.
    dx : tensor (pair,), ``|x_i - x_j|``.
    """
    g, x = _flat(codes, positions, "pair_distances")
    # pdist works on differences (not the Gram trick): exact zeros for identical codes, and the
    # pairs come in the order of torch.triu_indices(n, n, 1)
    return nn.functional.pdist(g).pow(2), nn.functional.pdist(x)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # an empty mask contributes nothing (zero, with a gradient path) rather than NaN
    n = mask.sum()
    return (values * mask).sum() / n.clamp(min=1)


def separation_loss(codes: torch.Tensor, positions: torch.Tensor, *, sigma_x: float, sigma_g: float) -> torch.Tensor:
    """Mean code similarity ``exp(-|g_i - g_j|^2 / 2 sigma_g^2)`` of pairs farther apart than ``sigma_x``.

    Parameters
    ----------
    codes : tensor (..., unit)
    positions : tensor (..., 2)
    sigma_x : float
        Places farther apart than this must get distinct codes.
    sigma_g : float
        Width of the code-space kernel; beyond ``~2 sigma_g`` nothing more is gained, which lets
        distant places share a code again (periodicity).

    Returns
    -------
    scalar tensor in [0, 1] (0 when no pair is that far apart).
    """
    _check_positive("separation_loss", sigma_x=sigma_x, sigma_g=sigma_g)
    dg2, dx = pair_distances(codes, positions)
    return _masked_mean(torch.exp(-dg2 / (2 * sigma_g**2)), dx > sigma_x)


def invariance_loss(codes: torch.Tensor, positions: torch.Tensor, *, radius: float) -> torch.Tensor:
    """Mean squared code distance ``|g_i - g_j|^2`` of pairs closer than ``radius``.

    With ``radius = sigma_x`` this is the published invariance (all nearby places, e.g. where
    permuted trajectories cross); with a radius of a few cm it only ties the codes of the shared
    end points of permutations of one velocity sequence (``invariance="same_place"`` in
    :func:`sic_loss`).

    Returns
    -------
    scalar tensor >= 0 (0 when no pair is that close).
    """
    _check_positive("invariance_loss", radius=radius)
    dg2, dx = pair_distances(codes, positions)
    return _masked_mean(dg2, dx < radius)


def capacity_loss(codes: torch.Tensor, kind: str = "l1", *, sigma_g: float | None = None) -> torch.Tensor:
    """Capacity term: how much of code space the code may use (lower = more spread).

    Parameters
    ----------
    codes : tensor (..., unit), non-negative unit vectors.
    kind : {"l1", "kernel"}
        ``"l1"``: ``-mean over points and units of g_u`` (the L1 norm over ``unit``). On the
        positive orthant of the unit sphere the L1 norm is largest (``sqrt(unit)``) for a uniform
        code and smallest (1) for a one-hot code,
        so minimising it makes codes dense and similar, against separation (Pettersen et al.
        2024). ``"kernel"``: ``-mean over all pairs of exp(-|g_i - g_j|^2 / 2 sigma_g^2)``.
    sigma_g : float
        Kernel width (``"kernel"`` only).

    Returns
    -------
    scalar tensor.
    """
    if kind not in CAPACITY_KINDS:
        raise ValueError(f"The 'kind' parameter of capacity_loss must be one of {set(CAPACITY_KINDS)}. Got {kind!r} instead.")
    g, _ = _flat(codes, None, "capacity_loss")
    if kind == "l1":
        return -g.mean()
    if sigma_g is None:
        raise ValueError("capacity_loss(kind='kernel') needs sigma_g (the code-space kernel width); got None.")
    _check_positive("capacity_loss", sigma_g=sigma_g)
    return -torch.exp(-nn.functional.pdist(g).pow(2) / (2 * sigma_g**2)).mean()


def conformal_loss(codes: torch.Tensor, positions: torch.Tensor, *, sigma: float, sigma_g: float = 2**-0.5, envelope: float = 1.5) -> torch.Tensor:
    """Local conformal isometry: spatial similarity matched by code similarity inside an envelope.

    ``mean over pairs of w(dx) * (exp(-dx^2 / 2 sigma^2) - exp(-dg^2 / 2 sigma_g^2))^2`` with
    ``w(dx) = exp(-dx^2 / 2 (envelope * sigma)^2)``. It is zero exactly when ``dg = dx * sigma_g /
    sigma`` for every pair (a conformal code of scale ``sigma_g / sigma``) and, through the
    envelope, only asks for that locally: far apart places may share a code.

    Parameters
    ----------
    codes : tensor (..., unit)
    positions : tensor (..., 2)
    sigma : float
        Spatial scale (same units as positions).
    sigma_g : float
        Code-space scale; the default ``1/sqrt(2)`` gives the kernel ``exp(-dg^2)``.
    envelope : float
        Envelope width relative to ``sigma``.

    Returns
    -------
    scalar tensor >= 0.
    """
    _check_positive("conformal_loss", sigma=sigma, sigma_g=sigma_g, envelope=envelope)
    dg2, dx = pair_distances(codes, positions)
    diff = torch.exp(-dx.pow(2) / (2 * sigma**2)) - torch.exp(-dg2 / (2 * sigma_g**2))
    w = torch.exp(-dx.pow(2) / (2 * (envelope * sigma) ** 2))
    return (w * diff.pow(2)).mean()


def _subsample(g: torch.Tensor, x: torch.Tensor, keep: torch.Tensor | None, max_points: int | None, generator) -> tuple[torch.Tensor, torch.Tensor]:
    if max_points is None or g.shape[0] <= max_points:
        return g, x
    n = g.shape[0]
    forced = keep if keep is not None else torch.zeros(0, dtype=torch.long)
    rest = torch.ones(n, dtype=torch.bool)
    rest[forced] = False
    others = torch.nonzero(rest).squeeze(1)
    pick = others[torch.randperm(len(others), generator=generator)[: max(max_points - len(forced), 0)]]
    idx = torch.cat([forced, pick]).to(g.device)
    return g[idx], x[idx]


def sic_loss(
    codes: torch.Tensor,
    positions: torch.Tensor,
    *,
    sigma_x: float = 0.3,
    sigma_g: float = 0.5,
    w_sep: float = 1.0,
    w_inv: float = 1.0,
    w_cap: float = 0.1,
    invariance: str = "near",
    same_place: float = 0.02,
    capacity: str = "l1",
    max_points: int | None = 1024,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Separation + invariance + capacity (SIC) loss of Schaeffer, Khona et al. (2023).

    ``loss = w_sep * separation + w_inv * invariance + w_cap * capacity`` (see the module table).

    Parameters
    ----------
    codes : tensor (batch, time, unit), Norm-ReLU codes along trajectories.
    positions : tensor (batch, time, 2), integrated positions (only the loss sees them).
    sigma_x, sigma_g : float
        Spatial threshold and code-space kernel width.
    w_sep, w_inv, w_cap : float
        Term weights; the capacity/separation ratio is what decides whether grids form.
    invariance : {"near", "same_place"}
        ``"near"`` (published): pull together codes of all pairs closer than ``sigma_x``;
        ``"same_place"``: only pairs closer than ``same_place`` (the shared end points).
    capacity : {"l1", "kernel"}
        See :func:`capacity_loss`.
    max_points : int or None
        Pairwise terms use at most this many points (the last step of every trajectory always
        kept: permutations of one sequence end there together); None uses all.
    generator : torch.Generator, optional
        For the subsample.

    Returns
    -------
    loss : scalar tensor
    terms : dict of floats ``separation``, ``invariance``, ``capacity``.

    References
    ----------
    Schaeffer, Khona, Ma, Eyzaguirre, Koyejo & Fiete (2023) NeurIPS.
    """
    if invariance not in INVARIANCE_KINDS:
        raise ValueError(f"The 'invariance' parameter of sic_loss must be one of {set(INVARIANCE_KINDS)}. Got {invariance!r} instead.")
    if capacity not in CAPACITY_KINDS:
        raise ValueError(f"The 'capacity' parameter of sic_loss must be one of {set(CAPACITY_KINDS)}. Got {capacity!r} instead.")
    _check_positive("sic_loss", sigma_x=sigma_x, sigma_g=sigma_g, same_place=same_place)
    codes, positions = torch.as_tensor(codes), torch.as_tensor(positions)
    if codes.ndim != 3 or positions.ndim != 3:
        raise ValueError(f"sic_loss: codes must be (batch, time, unit) and positions (batch, time, 2); got {tuple(codes.shape)} and {tuple(positions.shape)}.")
    g, x = _flat(codes, positions, "sic_loss")
    b, t = codes.shape[:2]
    last = torch.arange(b) * t + (t - 1)
    g, x = _subsample(g, x, last, max_points, generator)
    dg2, dx = pair_distances(g, x)
    k = torch.exp(-dg2 / (2 * sigma_g**2))
    sep = _masked_mean(k, dx > sigma_x)
    inv = _masked_mean(dg2, dx < (sigma_x if invariance == "near" else same_place))
    cap = -g.mean() if capacity == "l1" else -k.mean()
    loss = w_sep * sep + w_inv * inv + w_cap * cap
    return loss, {"separation": float(sep.detach()), "invariance": float(inv.detach()), "capacity": float(cap.detach())}


class SICLoss(nn.Module):
    """:func:`sic_loss` with its hyper-parameters stored; ``forward(codes, positions) -> (loss, terms)``."""

    def __init__(self, **params):
        super().__init__()
        self.params = dict(params)
        sic_loss(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), **{k: v for k, v in self.params.items() if k != "generator"})  # validate now

    def forward(self, codes: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return sic_loss(codes, positions, **self.params)


class ConformalLoss(nn.Module):
    """Conformal-isometry + capacity loss of the feed-forward positive control.

    ``loss = alpha * conformal_loss(codes, positions, sigma, sigma_g, envelope)
    + (1 - alpha) * capacity_loss(codes, capacity)``; ``forward(codes, positions) -> (loss, terms)``.

    ``sigma`` may be a sequence of scales: the conformal term is then the mean of the terms at each
    scale (a multi-scale kernel; one scale gives one grid module, several may give several).
    """

    def __init__(self, sigma, *, alpha: float = 0.88, sigma_g: float = 2**-0.5, envelope: float = 1.5, capacity: str = "l1"):
        super().__init__()
        scales = tuple(float(v) for v in (sigma if isinstance(sigma, (list, tuple)) else (sigma,)))
        if not scales:
            raise ValueError("ConformalLoss: 'sigma' must be a positive scale or a non-empty sequence of them; got an empty sequence.")
        for v in scales:
            _check_positive("ConformalLoss", sigma=v)
        self.scales = scales
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"ConformalLoss: 'alpha' (the weight of the conformal term, 1 - alpha for capacity) must lie in [0, 1]; got {alpha!r}.")
        if capacity not in CAPACITY_KINDS:
            raise ValueError(f"The 'capacity' parameter of ConformalLoss must be one of {set(CAPACITY_KINDS)}. Got {capacity!r} instead.")
        _check_positive("ConformalLoss", sigma_g=sigma_g, envelope=envelope)
        self.alpha, self.sigma_g, self.envelope, self.capacity = float(alpha), float(sigma_g), float(envelope), capacity

    def forward(self, codes: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        conf = sum(conformal_loss(codes, positions, sigma=s, sigma_g=self.sigma_g, envelope=self.envelope) for s in self.scales) / len(self.scales)
        cap = capacity_loss(codes, self.capacity, sigma_g=self.sigma_g)
        loss = self.alpha * conf + (1 - self.alpha) * cap
        return loss, {"conformal": float(conf.detach()), "capacity": float(cap.detach())}
