"""Projected gradient descent (PGD) attacks, adversarial training and robust accuracy.

- :func:`pgd_attack` — L∞ or L2 PGD (Madry et al. 2018) with random start, for any
  differentiable model and loss; gradients are taken w.r.t. the input only (parameter
  ``.grad`` fields are untouched).
- :func:`robust_accuracy` — accuracy under PGD at several budgets, from tensors or a loader.
- :class:`~neurocompare.training.objectives.Adversarial` (in ``objectives``) trains on PGD examples.

Pixel range: inputs are assumed to lie in ``clamp = (0, 1)``; pass ``clamp=None`` for
unbounded inputs (e.g. normalised images, or metamer synthesis in feature space).

Example
-------
>>> import torch
>>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
>>> x, y = torch.rand(8, 1, 2, 2), torch.randint(0, 3, (8,))
>>> x_adv = pgd_attack(model, x, y, eps=0.1, norm="linf", steps=5)
>>> bool(((x_adv - x).abs() <= 0.1 + 1e-6).all())
True

References
----------
Madry, Makelov, Schmidt, Tsipras & Vladu (2018). Towards deep learning models resistant to
adversarial attacks. ICLR.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurocompare._options import progress_enabled
from neurocompare._seeding import torch_generator

__all__ = ["pgd_attack", "robust_accuracy", "default_loss", "predict_labels"]

_NORMS = ("linf", "l2")


def default_loss(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for integer labels, logistic loss for float (binary) labels; mean over samples."""
    if y.dtype.is_floating_point:
        out = outputs[:, 0] if outputs.dim() == 2 and outputs.shape[1] == 1 else outputs
        return F.binary_cross_entropy_with_logits(out, y)
    return F.cross_entropy(outputs, y)


def predict_labels(outputs: torch.Tensor, binary: bool) -> torch.Tensor:
    """Argmax over classes, or ``logit > 0`` for binary outputs (dims (sample,) or (sample, 1))."""
    if binary:
        out = outputs[:, 0] if outputs.dim() == 2 else outputs
        return (out > 0).float()
    return outputs.argmax(dim=1)


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (t.dim() - 1)))


def _project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-eps, eps)
    factor = torch.clamp(eps / _flat_norm(delta), max=1.0)
    return delta * factor


def pgd_attack(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: str = "linf",
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    targeted: bool = False,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Find ``x_adv`` within the ``eps``-ball around ``x`` that maximises ``loss_fn(model(x_adv), y)``.

    Parameters
    ----------
    model : nn.Module or callable
        Maps inputs (sample, ...) to outputs (sample, ...). Its train/eval mode is left as is
        (put it in ``eval()`` first to keep batch-norm statistics fixed).
    x : torch.Tensor
        Clean inputs, dims (sample, ...).
    y : torch.Tensor
        Labels (int64 class indices, or float binary labels) or any target ``loss_fn`` accepts.
    eps : float
        Budget: max-abs (``linf``) or per-sample Euclidean norm (``l2``) of the perturbation.
    norm : {'linf', 'l2'}
    steps : int
        Gradient steps (0 returns the random start, or ``x`` without one).
    step_size : float, optional
        Default ``2.5 * eps / steps`` (Madry et al.).
    random_start : bool
        Start from a uniform point in the ball (``linf``) or a random direction at a uniform
        radius (``l2``).
    loss_fn : callable, optional
        ``loss_fn(outputs, y) -> scalar``; default :func:`default_loss`.
    targeted : bool
        Minimise the loss instead (move towards target labels ``y``).
    clamp : (float, float) or None
        Valid input range; the result is clipped into it.
    generator : torch.Generator, optional
        For the random start.

    Returns
    -------
    torch.Tensor
        Adversarial inputs, same shape as ``x``, detached. ``‖x_adv − x‖ ≤ eps`` holds per sample.
    """
    if norm not in _NORMS:
        raise ValueError(f"The 'norm' parameter of pgd_attack() must be one of {_NORMS}. Got {norm!r} instead.")
    if eps < 0:
        raise ValueError(f"eps must be >= 0. Got {eps!r} instead.")
    if int(steps) < 0:
        raise ValueError(f"steps must be >= 0. Got {steps!r} instead.")
    x = x.detach()
    if eps == 0:
        return x.clone()
    steps = int(steps)
    alpha = float(step_size) if step_size is not None else 2.5 * eps / max(steps, 1)
    loss_fn = loss_fn or default_loss
    sign = -1.0 if targeted else 1.0

    if random_start:
        if norm == "linf":
            delta = (torch.rand(x.shape, generator=generator, device="cpu").to(x) * 2 - 1) * eps
        else:
            direction = torch.randn(x.shape, generator=generator, device="cpu").to(x)
            radius = torch.rand(x.shape[0], generator=generator, device="cpu").to(x) * eps
            delta = direction / _flat_norm(direction) * radius.view(-1, *([1] * (x.dim() - 1)))
    else:
        delta = torch.zeros_like(x)
    x_adv = x + delta
    if clamp is not None:
        x_adv = x_adv.clamp(*clamp)

    with torch.enable_grad():
        for _ in range(steps):
            x_adv = x_adv.detach().requires_grad_(True)
            loss = loss_fn(model(x_adv), y)
            (grad,) = torch.autograd.grad(loss, [x_adv])
            grad = grad * sign
            if norm == "linf":
                step = alpha * grad.sign()
            else:
                step = alpha * grad / _flat_norm(grad)
            x_adv = x + _project(x_adv.detach() + step - x, eps, norm)
            if clamp is not None:
                x_adv = x_adv.clamp(*clamp)
    return x_adv.detach()


def _iter_batches(data: Any, batch_size: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{x.shape[0]} inputs but {y.shape[0]} labels.")
        for i in range(0, x.shape[0], batch_size):
            yield x[i : i + batch_size], y[i : i + batch_size]
        return
    for batch in data:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("Each batch of `data` must be (inputs, labels, ...).")
        yield batch[0], batch[1]


@contextlib.contextmanager
def _eval_mode(model: Any):
    was = getattr(model, "training", None)
    if isinstance(model, nn.Module):
        model.eval()
    try:
        yield
    finally:
        if isinstance(model, nn.Module) and was:
            model.train()


def robust_accuracy(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor] | Iterable[Any],
    eps_list: Sequence[float],
    *,
    norm: str = "linf",
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    batch_size: int = 256,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[float, float]:
    """Accuracy of ``model`` under PGD at each budget in ``eps_list`` (``eps = 0``: clean accuracy).

    Parameters
    ----------
    model : nn.Module
        Evaluated in ``eval()`` mode (restored afterwards).
    data : (x, y) tensors or iterable of (x, y, ...) batches
        x dims (sample, ...); y int64 class indices or float binary labels.
    eps_list : sequence of float
    norm : {'linf', 'l2'}
    steps, step_size, random_start, clamp
        As in :func:`pgd_attack`.
    batch_size : int
        Used when ``data`` is a pair of tensors.
    device : str or torch.device, optional
        Default: the model's device.
    seed : int
        Seeds the random starts.
    progress : bool
        tqdm bar over budgets (silenced by ``set_options(progress=False)`` / ``NEUROCOMPARE_QUIET=1``).

    Returns
    -------
    dict
        ``{eps: accuracy}`` with accuracy in [0, 1].
    """
    if norm not in _NORMS:
        raise ValueError(f"The 'norm' parameter of robust_accuracy() must be one of {_NORMS}. Got {norm!r} instead.")
    eps_list = [float(e) for e in eps_list]
    if not eps_list:
        raise ValueError("eps_list is empty; give at least one budget (0 for clean accuracy).")
    if device is None:
        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
    device = torch.device(device)
    it = eps_list
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        it = tqdm(eps_list, desc=f"PGD-{norm}", unit="eps")
    result: dict[float, float] = {}
    with _eval_mode(model):
        for eps in it:
            gen = torch_generator(int(seed))
            correct, total = 0, 0
            for xb, yb in _iter_batches(data, int(batch_size)):
                xb, yb = xb.to(device), yb.to(device)
                binary = yb.dtype.is_floating_point
                x_adv = pgd_attack(model, xb, yb, eps=eps, norm=norm, steps=steps, step_size=step_size,
                                   random_start=random_start, clamp=clamp, generator=gen) if eps > 0 else xb
                with torch.no_grad():
                    pred = predict_labels(model(x_adv), binary)
                correct += int((pred == yb).sum())
                total += int(yb.shape[0])
            if total == 0:
                raise ValueError("data yielded no samples.")
            result[eps] = correct / total
    return result
