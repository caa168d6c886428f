"""Eval-mode batch norm folded into the convolution before it, for the duration of a synthesis.

In eval mode ``bn(conv(x)) = conv'(x)`` with ``W' = W · γ/√(σ² + ε)`` (per output channel) and
``b' = (b − μ) · γ/√(σ² + ε) + β``: one convolution instead of a convolution, a normalisation
and their two backward passes. :func:`folded_batchnorm` finds the pairs on a probe pass (the
batch norm's input *is* the convolution's output), swaps in the folded forward without touching
any parameter, checks on the probe that every requested layer still gives the same values (to
float32 rounding), and restores the modules on exit. Pairs it cannot prove safe are left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from neurocompare._hooks import LayerHooks, unwrap

__all__ = ["folded_batchnorm", "foldable_pairs"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BNS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def foldable_pairs(model: nn.Module, probe: torch.Tensor, keep: Sequence[str]) -> list[tuple[str, str]]:
    """(convolution, batch norm) name pairs whose batch norm takes exactly that convolution's output.

    Parameters
    ----------
    model : nn.Module
        In eval mode (batch norms with running statistics only).
    probe : torch.Tensor, shape (n, ...)
        An input the model accepts.
    keep : sequence of str
        Modules whose own output must stay as it is (the requested layers): a convolution among
        them is not folded.

    Returns
    -------
    list of (str, str)
        Each convolution and batch norm called exactly once in the pass.
    """
    modules = dict(unwrap(model).named_modules())
    convs = [n for n, m in modules.items() if n and isinstance(m, _CONVS) and n not in set(keep)]
    bns = [n for n, m in modules.items() if n and isinstance(m, _BNS) and not m.training
           and m.running_mean is not None and m.running_var is not None]
    if not convs or not bns:
        return []
    outs: dict[str, list[Any]] = {n: [] for n in convs}
    ins: dict[str, list[Any]] = {n: [] for n in bns}
    with LayerHooks(model, convs + bns, detach=True) as hooks:
        for n in convs:
            hooks.add_hook(n, lambda _m, _i, o, n=n: outs[n].append(o))
        for n in bns:
            hooks.add_hook(n, lambda _m, i, n=n: ins[n].append(i[0]), pre=True)
        with torch.no_grad():
            hooks.forward(probe)
    pairs = []
    for b in bns:
        if len(ins[b]) != 1:
            continue
        for c in convs:
            if len(outs[c]) == 1 and outs[c][0] is ins[b][0]:
                pairs.append((c, b))
    return pairs


def _folded(conv: nn.Module, bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        scale = bn.running_var.add(bn.eps).rsqrt()
        if bn.weight is not None:
            scale = scale * bn.weight
        shift = -bn.running_mean * scale
        if bn.bias is not None:
            shift = shift + bn.bias
        w = conv.weight * scale.view((-1,) + (1,) * (conv.weight.dim() - 1))
        b = shift if conv.bias is None else conv.bias * scale + shift
    return w.detach(), b.detach()


@contextlib.contextmanager
def folded_batchnorm(model: nn.Module, layers: Sequence[str], probe: torch.Tensor) -> Iterator[list[tuple[str, str]]]:
    """Run the body with every safe (conv, eval batch norm) pair of ``model`` folded into one convolution.

    Parameters
    ----------
    model : nn.Module
        In eval mode; its parameters are never written.
    layers : sequence of str
        The requested layers; their outputs on ``probe`` must agree with the unfolded model to
        float32 rounding (relative 1e-4 of each layer's largest value), else nothing is folded.
    probe : torch.Tensor, shape (n, ...)

    Yields
    ------
    list of (str, str)
        The pairs folded (empty: the model runs as it is).
    """
    modules = dict(unwrap(model).named_modules())
    pairs = [(c, b) for c, b in foldable_pairs(model, probe, layers)  # leave modules with their own forward alone
             if "forward" not in vars(modules[c]) and "forward" not in vars(modules[b])]
    swapped: list[nn.Module] = []

    def unfold() -> None:
        for m in swapped:
            del m.forward  # back to the class's forward
        swapped.clear()

    try:
        if pairs:
            with torch.no_grad(), LayerHooks(model, list(layers), detach=True) as hooks:
                before = hooks.run(probe)
                for c, b in pairs:
                    conv, bn = modules[c], modules[b]
                    w, bias = _folded(conv, bn)
                    conv.forward = lambda x, conv=conv, w=w, bias=bias: conv._conv_forward(x, w, bias)
                    bn.forward = lambda x: x
                    swapped += [conv, bn]
                after = hooks.run(probe)
            for name in layers:
                tol = 1e-4 * float(before[name].abs().max().clamp_min(1e-30))
                if before[name].shape != after[name].shape or float((before[name] - after[name]).abs().max()) > tol:
                    unfold()
                    pairs = []
                    break
        yield pairs
    finally:
        unfold()
