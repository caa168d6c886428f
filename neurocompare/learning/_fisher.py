"""The trace of the Fisher information of a classifier, per layer.

The Fisher information of a model ``p_θ(y | x)`` is

    F(θ) = E_{x ~ data} E_{y ~ p_θ(y | x)} [∇_θ log p_θ(y | x) ∇_θ log p_θ(y | x)^T],

with the labels **drawn from the model**. Its trace, ``E_x E_y |∇_θ log p_θ(y | x)|²``, measures
how sensitive the output distribution is to the weights; Achille, Rovere & Soatto (2019) track
it during training and find it rises during the early "memorisation" phase and then falls, the
signature of a critical period. The *empirical* Fisher instead plugs in the dataset's labels,
``E_x |∇_θ log p_θ(y_x | x)|²``: it is not the Fisher (it is the squared training gradient per
example and vanishes as the training loss goes to zero), and the two differ most exactly where
learning dynamics are interesting (Kunstner, Balles & Hennig 2019). Both are offered, named.

Per-example gradients come from ``torch.func`` (``vmap`` over the batch), one batch at a time.

References
----------
Achille, Rovere & Soatto (2019) Critical learning periods in deep networks. ICLR.
Kunstner, Balles & Hennig (2019) Limitations of the empirical Fisher approximation for natural
gradient descent. NeurIPS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurocompare._result import Result
from neurocompare._seeding import torch_generator

__all__ = ["fisher_trace", "FisherTrace", "FISHER_LABELS"]

FISHER_LABELS = ("model", "empirical")


@dataclass
class FisherTrace(Result):
    """The trace of the (true or empirical) Fisher information.

    ``value`` is the total trace; ``per_layer`` maps a module name (the parameter name without
    ``.weight``/``.bias``) to its share; ``error`` is the standard error over examples (and label
    draws) when labels were sampled, NaN for the exact expectation.
    """

    value: float
    per_layer: dict[str, float] = field(default_factory=dict)
    labels: str = "model"
    n_samples: int | None = 1
    n_examples: int = 0
    error: float = float("nan")
    error_kind: str = "none"
    ci: tuple[float, float] | None = None


def _split(data: Any) -> tuple[Any, Any]:
    import torch

    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    else:
        x, y = data, None
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if y is not None and not isinstance(y, torch.Tensor):
        y = torch.as_tensor(np.asarray(y))
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"fisher_trace() needs inputs of dims (sample, ...) with at least one sample; got shape "
                         f"{tuple(x.shape)}.")
    if y is not None and (y.ndim != 1 or y.shape[0] != x.shape[0]):
        raise ValueError(f"fisher_trace(): labels must have dims (sample,) matching the {x.shape[0]} inputs; got "
                         f"shape {tuple(y.shape)}.")
    return x, y


def fisher_trace(model: Any, data: Any, per_layer: bool = True, *, labels: str = "model", n_samples: int | None = 1,
                 seed: int = 0, batch_size: int = 128) -> FisherTrace:
    """The trace of the Fisher information of a classifier on ``data``, optionally per layer.

    Parameters
    ----------
    model : torch.nn.Module
        Returns logits of dims (sample, class); a single logit is read as a Bernoulli model
        ``p(y = 1 | x) = sigmoid(z)``. Evaluated as it is (call ``model.eval()`` first for
        dropout or batch-norm; batch statistics cannot be used per example).
    data : tensor of dims (sample, ...), or (inputs, labels)
        Labels are needed only for ``labels='empirical'``.
    per_layer : bool
        Also return the trace of each module's block.
    labels : {'model', 'empirical'}
        ``'model'`` (default): the true Fisher, labels drawn from ``p_θ(y | x)``. ``'empirical'``:
        the dataset's labels (not the Fisher; see the module docstring).
    n_samples : int or None
        Label draws per example for ``labels='model'``; ``None``: the exact expectation over all
        classes (one gradient per class per example).
    seed : int
        Seeds the label draws (``torch_generator(seed, 'fisher_trace')``).
    batch_size : int
        Examples per ``vmap`` batch.

    Returns
    -------
    FisherTrace
        ``value`` (total), ``per_layer``, ``error`` (sem over examples when sampled).

    Raises
    ------
    ValueError
        Unknown ``labels``, empirical labels missing or out of range, bad ``n_samples`` or shapes.

    References
    ----------
    Achille, Rovere & Soatto (2019) Critical learning periods in deep networks. ICLR.
    Kunstner, Balles & Hennig (2019) NeurIPS.

    Examples
    --------
    >>> import torch
    >>> lin = torch.nn.Linear(2, 3).double()
    >>> torch.nn.init.zeros_(lin.weight); torch.nn.init.zeros_(lin.bias)   # doctest: +ELLIPSIS
    Parameter...
    >>> x = torch.ones(4, 2, dtype=torch.float64)
    >>> round(fisher_trace(lin, x, n_samples=None).value, 12)   # (1 - |p|²)(|x|² + 1), p uniform
    2.0
    """
    import torch
    from torch.func import functional_call, grad, jacrev, vmap

    if labels not in FISHER_LABELS:
        raise ValueError(f"The 'labels' parameter of fisher_trace() must be one of {set(FISHER_LABELS)}. Got "
                         f"{labels!r} instead.")
    if n_samples is not None and (isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer))
                                  or n_samples < 1):
        raise ValueError(f"'n_samples' must be a positive integer or None (exact expectation); got {n_samples!r}.")
    x, y = _split(data)
    if labels == "empirical" and y is None:
        raise ValueError("fisher_trace(labels='empirical') needs the dataset's labels: pass data=(inputs, labels).")
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if not names:
        raise ValueError(f"{type(model).__name__} has no trainable parameters.")
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    like = params[names[0]]
    if x.dtype.is_floating_point:
        x = x.to(like.dtype)
    x = x.to(like.device)

    def log_probs(p: dict[str, Any], xi: Any) -> Any:
        z = functional_call(model, (p, buffers), (xi.unsqueeze(0),)).reshape(-1)
        if z.numel() == 1:
            z = torch.cat([torch.zeros_like(z), z])
        return torch.log_softmax(z, dim=0)

    def log_prob_of(p: dict[str, Any], xi: Any, yi: Any) -> Any:
        return log_probs(p, xi).gather(0, yi.reshape(1))[0]

    gen = torch_generator(seed, "fisher_trace")
    per_param = {n: 0.0 for n in names}
    example_totals: list[np.ndarray] = []
    for start in range(0, x.shape[0], int(batch_size)):
        xb = x[start : start + int(batch_size)]
        with torch.no_grad():
            lp = vmap(log_probs, in_dims=(None, 0))(params, xb)  # (b, k)
        k = lp.shape[1]
        if labels == "model" and n_samples is None:
            jac = vmap(jacrev(log_probs), in_dims=(None, 0))(params, xb)  # name -> (b, k, ...)
            prob = lp.exp().to(torch.float64)
            sq = {n: (jac[n].reshape(xb.shape[0], k, -1).to(torch.float64) ** 2).sum(2) for n in names}
            contrib = {n: (prob * sq[n]).sum(1) for n in names}  # (b,)
        else:
            if labels == "empirical":
                yb = y[start : start + int(batch_size)].to(torch.long)
                if int(yb.min()) < 0 or int(yb.max()) >= k:
                    raise ValueError(f"fisher_trace(): labels must be class indices in [0, {k}); got values in "
                                     f"[{int(yb.min())}, {int(yb.max())}].")
                draws = yb[:, None]
            else:
                draws = torch.multinomial(lp.exp().to(torch.float64).cpu(), int(n_samples), replacement=True,
                                          generator=gen).to(xb.device)
            contrib = {n: torch.zeros(xb.shape[0], dtype=torch.float64) for n in names}
            for j in range(draws.shape[1]):
                g = vmap(grad(log_prob_of), in_dims=(None, 0, 0))(params, xb, draws[:, j])
                for n in names:
                    contrib[n] += (g[n].reshape(xb.shape[0], -1).to(torch.float64) ** 2).sum(1).cpu()
            contrib = {n: c / draws.shape[1] for n, c in contrib.items()}
        for n in names:
            per_param[n] += float(contrib[n].sum())
        example_totals.append(sum(contrib[n] for n in names).cpu().numpy())
    n_ex = int(x.shape[0])
    totals = np.concatenate(example_totals)
    value = float(totals.mean())
    exact = labels == "model" and n_samples is None
    if exact or n_ex < 2:
        error, kind, ci = float("nan"), "none", None
    else:
        error = float(totals.std(ddof=1) / math.sqrt(n_ex))
        kind = f"sem over {n_ex} examples" + (f" ({n_samples} label draws each)" if labels == "model" else "")
        ci = (value - 1.96 * error, value + 1.96 * error)
    layers: dict[str, float] = {}
    if per_layer:
        for n in names:
            module = n.rsplit(".", 1)[0] if "." in n else n
            layers[module] = layers.get(module, 0.0) + per_param[n] / n_ex
    return FisherTrace(value=value, per_layer=layers, labels=labels, n_samples=None if exact else
                       (n_samples if labels == "model" else 1), n_examples=n_ex, error=error, error_kind=kind, ci=ci)
