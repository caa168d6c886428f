"""Settings of a metamer synthesis and the two update rules it can use.

- :class:`MetamerConfig` holds every setting as a plain value (stored as JSON with each result)
  and checks them (:meth:`MetamerConfig.validate`).
- :func:`feather_step`: a gradient step of fixed L2 length per image, the length halved after
  each round (Feather et al. 2023).
- :func:`adam_step`: one Adam step with per-row step counts (rows stop at different times).

References
----------
.. [1] Feather, J., Leclerc, G., Mądry, A. & McDermott, J. H. (2023). Model metamers reveal
   divergent invariances between biological and artificial neural networks. Nature
   Neuroscience 26, 2017–2034.
.. [2] Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["METHODS", "MetamerConfig", "feather_step", "adam_step"]

METHODS = ("feather", "adam")
EPS = 1e-12  # floor of a norm in a denominator


@dataclass
class MetamerConfig:
    """Settings of a metamer synthesis (all plain values, stored as JSON with every result).

    Parameters
    ----------
    method : {'feather', 'adam'}
        ``'feather'`` (default): gradient steps of fixed L2 length ``step_size`` (the gradient
        normalised per image), ``n_rounds`` rounds of ``steps_per_round`` steps, the step size
        halved after each round, as in Feather et al. 2023. ``'adam'``: Adam with learning rate
        ``lr`` for up to ``max_iter`` steps, each metamer stopping once its loss changed by less
        than ``tol`` over the last ``window`` steps (plenoptic's rule).
    n_rounds, steps_per_round, step_size : int, int, float
        The ``'feather'`` schedule. Feather et al. used 8 rounds of 3000 steps; the defaults
        (8 × 300) suit small images.
    lr, max_iter, tol, window : float, int, float, int
        The ``'adam'`` schedule. ``tol`` also stops ``'feather'`` rows when given.
    target_error : float, list of float (one per image) or None
        Stop a metamer as soon as its relative error falls to this value.
    fake_relu : bool
        Backpropagate through the last ``nn.ReLU`` at or before each layer as if it were the
        identity (forward values unchanged), so units that are off still receive gradient. Only
        the rows of that layer are affected; layers with no ReLU before them are left as they are
        (an error if no layer has one). ReLUs called as ``F.relu`` are invisible to hooks.
    init_mean, init_std : float
        Initial noise N(init_mean, init_std²), clipped to ``pixel_range`` (Feather: 0.5, 0.05).
    pixel_range : (float, float) or None
        Valid pixel values; every step is projected back into it. ``None``: unconstrained.
    seed : int
        Seeds the initial noise (``neurocompare._seeding.torch_generator(seed)``, a private CPU
        generator: the global RNG is untouched and seeds reproduce across devices).
    batch_size : int or None
        Rows (layer × image pairs) per forward pass; ``None`` runs all rows together.
    """

    method: str = "feather"
    n_rounds: int = 8
    steps_per_round: int = 300
    step_size: float = 1.0
    lr: float = 0.01
    max_iter: int = 1000
    tol: float | None = None
    window: int = 50
    target_error: float | list[float] | None = None
    fake_relu: bool = False
    init_mean: float = 0.5
    init_std: float = 0.05
    pixel_range: tuple[float, float] | None = (0.0, 1.0)
    seed: int = 0
    batch_size: int | None = None

    def validate(self) -> MetamerConfig:
        """Check every setting (normalising a few: ``pixel_range`` to floats, ``target_error`` to floats).

        Returns
        -------
        MetamerConfig
            ``self``.

        Raises
        ------
        ValueError
            A setting out of range; the message names it and says what is allowed.
        """
        if self.method not in METHODS:
            raise ValueError(
                f"The 'method' parameter of synthesize_metamers() must be one of {set(METHODS)}. "
                f"Got {self.method!r} instead."
            )
        for name in ("n_rounds", "steps_per_round", "max_iter", "window"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"The {name!r} parameter must be a positive integer; got {v!r}.")
        for name in ("step_size", "lr", "init_std"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"The {name!r} parameter must be a positive number; got {v!r}.")
        if self.tol is not None and (not isinstance(self.tol, (int, float)) or self.tol < 0):
            raise ValueError(f"The 'tol' parameter must be None or a number >= 0; got {self.tol!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"The 'seed' parameter must be an integer; got {self.seed!r}.")
        te = self.target_error
        if te is not None:
            many = isinstance(te, (list, tuple, np.ndarray, torch.Tensor))
            vals = list(te) if many else [te]
            try:
                vals = [float(v) for v in vals]
            except (TypeError, ValueError):
                vals = [-1.0]
            if not vals or min(vals) < 0:
                raise ValueError(
                    f"The 'target_error' parameter must be None, a number >= 0 or one number >= 0 per "
                    f"image; got {te!r}."
                )
            self.target_error = vals if many else vals[0]
        if self.pixel_range is not None:
            pr = tuple(float(v) for v in self.pixel_range)
            if len(pr) != 2 or not pr[0] < pr[1]:
                raise ValueError(
                    f"pixel_range must be (low, high) with low < high, or None; got {self.pixel_range!r}."
                )
            self.pixel_range = pr
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"batch_size must be None or a positive integer; got {self.batch_size!r}.")
        return self

    @property
    def total_iter(self) -> int:
        """Steps in the whole schedule: ``n_rounds × steps_per_round`` (feather) or ``max_iter`` (adam)."""
        return self.n_rounds * self.steps_per_round if self.method == "feather" else self.max_iter


def _per_row(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a per-row vector (n,) to broadcast against ``like`` (n, ...)."""
    return v.view((-1,) + (1,) * (like.dim() - 1))


def feather_step(x: torch.Tensor, grad: torch.Tensor, it: int, cfg: MetamerConfig) -> torch.Tensor:
    """One normalised-gradient step of Feather et al. 2023 for every row of ``x``.

    Parameters
    ----------
    x, grad : torch.Tensor, shape ``(n_rows, *image_shape)``
        Current metamers and the gradient of their relative error.
    it : int
        Index of this step in the schedule (0-based): the step length is
        ``step_size · 0.5 ** min(it // steps_per_round, n_rounds − 1)``.
    cfg : MetamerConfig

    Returns
    -------
    torch.Tensor, shape ``(n_rows, *image_shape)``
        ``x − length · grad / ‖grad‖`` per row (before projection into ``pixel_range``).
    """
    size = cfg.step_size * 0.5 ** min(it // cfg.steps_per_round, cfg.n_rounds - 1)
    norm = grad.reshape(grad.shape[0], -1).norm(dim=1).clamp_min(EPS)
    return x - size * grad / _per_row(norm, grad)


def adam_step(
    x: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: torch.Tensor, lr: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Adam step (β₁ = 0.9, β₂ = 0.999, ε = 1e-8) with a step count per row.

    Parameters
    ----------
    x, grad, m, v : torch.Tensor, shape ``(n_rows, *image_shape)``
        Current metamers, gradient, first and second moment estimates.
    t : torch.Tensor of int, shape (n_rows,)
        Steps each row has taken before this one (bias correction uses ``t + 1``).
    lr : float

    Returns
    -------
    (x, m, v) : the updated metamers and moments.
    """
    b1, b2, eps = 0.9, 0.999, 1e-8
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    steps = _per_row((t + 1).to(x.dtype), grad)
    mhat = m / (1 - b1**steps)
    vhat = v / (1 - b2**steps)
    return x - lr * mhat / (vhat.sqrt() + eps), m, v
