"""Settings of a metamer synthesis and the two update rules it can use.

- :class:`MetamerConfig` holds every setting as a plain value (stored as JSON with each result)
  and checks them (:meth:`MetamerConfig.validate`).
- :func:`feather_step`: a gradient step of fixed L2 length per image, the length halved after
  each round (Feather et al. 2023).
- :func:`adam_step`: one Adam step with per-row step counts (rows stop at different times).
- :func:`adapt_length` + :func:`normalized_step`: the ``'adaptive'`` rule, normalised-gradient
  steps whose length each metamer adapts on its own ("bold driver": ×1.1 after a step that
  lowered its error, ×0.5 after one that raised it).

References
----------
.. [1] Feather, J., Leclerc, G., Mądry, A. & McDermott, J. H. (2023). Model metamers reveal
   divergent invariances between biological and artificial neural networks. Nature
   Neuroscience 26, 2017–2034.
.. [2] Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.
.. [3] Battiti, R. (1989). Accelerated backpropagation learning: two optimization methods.
   Complex Systems 3, 331–342 (the "bold driver" step-length rule).
.. [4] Bengio, Y., Léonard, N. & Courville, A. (2013). Estimating or propagating gradients through
   stochastic neurons for conditional computation. arXiv:1308.3432 (straight-through gradients).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["METHODS", "MetamerConfig", "feather_step", "adam_step", "adapt_length", "normalized_step"]

METHODS = ("feather", "adam", "adaptive")
EPS = 1e-12  # floor of a norm in a denominator
GROW, SHRINK = 1.1, 0.5  # the 'adaptive' rule's step-length factors after a better / a worse step
COLLAPSED = 2.0**-12  # an 'adaptive' step length below step_size × this counts as stalled (restarts)


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
        than ``tol`` over the last ``window`` steps (plenoptic's rule). ``'adaptive'``: up to
        ``max_iter`` normalised-gradient steps whose L2 length starts at ``step_size`` and is
        adapted per metamer: ×1.1 after a step that lowered its error, ×0.5 after one that raised
        it (the "bold driver" rule), so no schedule has to be tuned to the model.
    n_rounds, steps_per_round, step_size : int, int, float
        The ``'feather'`` schedule. Feather et al. used 8 rounds of 3000 steps; the defaults
        (8 × 300) suit small images.
    lr, max_iter, tol, window : float, int, float, int
        The ``'adam'`` schedule. ``tol`` also stops ``'feather'`` rows when given.
    target_error : float, list of float (one per image) or None
        Stop a metamer as soon as its relative error falls to this value.
    surrogate_steps : int
        For each metamer's first ``surrogate_steps`` steps, backpropagate through every
        ``nn.ReLU`` as the identity and through every ``nn.MaxPool1d/2d/3d`` (dilation 1) as the
        average pool of the same window (straight-through gradients; forward values unchanged),
        so the metamer first moves toward the target's region of the piecewise-linear network and
        does not settle in the nearest local minimum. Then exact gradients. 0 (default): off.
        Measured (bench/bench_metamers.py): with ``'adaptive'`` and 20 surrogate steps every
        metamer at convnet_small's ``block2.relu`` (more units than pixels) reached plenoptic's
        300-step error within 38-156 steps; at its ``avgpool`` (64 units) the final errors were
        higher than without it, so check it on your layer before relying on it.
    restarts : int
        ``'adaptive'`` only, with ``target_error``: a metamer whose step length has collapsed
        (below ``step_size / 4096``: a local minimum) while its error is still above its target
        runs another ``surrogate_steps`` straight-through steps from where it is, with the step
        length reset to ``step_size``, at most ``restarts`` times. 0 (default): never.
    fake_relu : bool
        Backpropagate through the last ``nn.ReLU`` at or before each layer as if it were the
        identity (forward values unchanged), so units that are off still receive gradient. Only
        the rows of that layer are affected; layers with no ReLU before them are left as they are
        (an error if no layer has one). ReLUs called as ``F.relu`` are invisible to hooks.
    fold_batchnorm : bool
        While synthesising, run each eval-mode ``nn.BatchNorm1d/2d/3d`` that takes a
        convolution's output as part of that convolution (folded weights, no parameter changed;
        same values to float32 rounding, one kernel instead of three forward and backward), when
        a probe pass proves the pair safe (see ``neurocompare.metamers._fold``). Default True.
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
    surrogate_steps: int = 0
    restarts: int = 0
    fake_relu: bool = False
    fold_batchnorm: bool = True
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
        for name in ("surrogate_steps", "restarts"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"The {name!r} parameter must be an integer >= 0; got {v!r}.")
        if self.restarts and (self.method != "adaptive" or self.target_error is None or not self.surrogate_steps):
            raise ValueError(
                f"restarts={self.restarts} needs method='adaptive', a target_error and surrogate_steps > 0 "
                f"(got method={self.method!r}, target_error={self.target_error!r}, "
                f"surrogate_steps={self.surrogate_steps!r}). Set them, or restarts=0."
            )
        if not isinstance(self.fold_batchnorm, bool):
            raise ValueError(f"The 'fold_batchnorm' parameter must be True or False; got {self.fold_batchnorm!r}.")
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
        """Steps in the whole schedule: ``n_rounds × steps_per_round`` (feather) or ``max_iter`` (adam, adaptive)."""
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


def adapt_length(length: torch.Tensor, err: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
    """The ``'adaptive'`` step lengths: ×1.1 where the last step lowered the error, ×0.5 where it raised it.

    Parameters
    ----------
    length : torch.Tensor, shape (n_rows,)
        Each row's current step length.
    err, prev : torch.Tensor, shape (n_rows,)
        Each row's relative error now and before its last step (NaN: no last step, length kept).

    Returns
    -------
    torch.Tensor, shape (n_rows,)
    """
    length = torch.where(err > prev, length * SHRINK, length)
    return torch.where(err < prev, length * GROW, length)


def normalized_step(x: torch.Tensor, grad: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """``x − length · grad / ‖grad‖`` per row: a step of L2 length ``length[i]`` down row i's gradient.

    Parameters
    ----------
    x, grad : torch.Tensor, shape ``(n_rows, *image_shape)``
    length : torch.Tensor, shape (n_rows,)

    Returns
    -------
    torch.Tensor, shape ``(n_rows, *image_shape)`` (before projection into ``pixel_range``).
    """
    norm = grad.reshape(grad.shape[0], -1).norm(dim=1).clamp_min(EPS)
    return x - _per_row(length.to(x.dtype) / norm, grad) * grad
