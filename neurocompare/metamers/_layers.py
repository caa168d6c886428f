"""Which layers a synthesis matches, in what order the model calls its modules, the fake ReLU and
the straight-through surrogate gradients (:class:`Surrogate`).

All hooks go through the one engine, :class:`neurocompare._hooks.LayerHooks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurocompare._hooks import LayerHooks, unwrap
from neurocompare.metamers._checks import check_layer

__all__ = ["resolve_stages", "call_order", "last_relu_before", "FakeReLU", "Surrogate", "surrogate_modules"]

_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
_AVG = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)


def resolve_stages(model: nn.Module, layers: Any, where: str) -> tuple[list[str], list[str]]:
    """Module names and stage names from a name, a list of names or a ``{stage: module}`` mapping.

    Returns
    -------
    (names, stages) : two lists of str of the same length
        For a name or a list, each stage is the module name itself.

    Raises
    ------
    TypeError
        ``layers`` of another type.
    ValueError
        No layers, an unknown layer (closest names and ``neurocompare.list_layers`` in the
        message), or repeated module or stage names.
    """
    if isinstance(layers, str):
        names, stages = [layers], [layers]
    elif isinstance(layers, Mapping):
        stages = [str(k) for k in layers.keys()]
        names = list(layers.values())
    elif isinstance(layers, Sequence):
        names = list(layers)
        stages = [str(n) for n in names]
    else:
        raise TypeError(
            f"{where}: layers must be a module name, a list of names or a {{stage: name}} dict; "
            f"got {type(layers).__name__}. Hint: use neurocompare.list_layers(model)."
        )
    if not names:
        raise ValueError(f"{where} needs at least one layer. Hint: use neurocompare.list_layers(model).")
    for name in names:
        check_layer(model, name)
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: layer names repeat in {names}. Ask for each layer once.")
    if len(set(stages)) != len(stages):
        raise ValueError(f"{where}: stage names repeat in {stages}. Give each layer its own stage name.")
    return names, stages


def call_order(model: nn.Module, layers: Sequence[str], probe: torch.Tensor) -> tuple[list[str], dict[str, int]]:
    """Run ``probe`` once (no grad) and record when each submodule's forward finishes.

    Parameters
    ----------
    model : nn.Module
    layers : sequence of str
        The layers to be matched (they must return tensors).
    probe : torch.Tensor, shape (n, ...)
        An input batch the model accepts.

    Returns
    -------
    order : list of str
        Names of every submodule, once per call, in the order their forward passes finished.
    counts : dict of str to int
        How often each of ``layers`` was called.
    """
    order: list[str] = []
    with LayerHooks(model, list(layers), detach=True) as hooks:
        for name in [n for n, _ in unwrap(model).named_modules() if n]:
            hooks.add_hook(name, lambda _m, _i, _o, name=name: order.append(name))
        with torch.no_grad():
            hooks.forward(probe)
        counts = {name: len(hooks.outputs[name]) for name in hooks.layers}
    return order, counts


def last_relu_before(model: nn.Module, layer: str, order: list[str]) -> str | None:
    """The last ``nn.ReLU`` whose forward finished no later than ``layer``'s (in call order), or None."""
    modules = dict(unwrap(model).named_modules())
    if layer not in order:
        return None
    end = max(i for i, n in enumerate(order) if n == layer)
    for name in reversed(order[: end + 1]):
        if isinstance(modules[name], nn.ReLU):
            return name
    return None


class FakeReLU:
    """Backward pass of one ``nn.ReLU`` as the identity for chosen batch rows (forward unchanged).

    Install with :meth:`install` on a :class:`~neurocompare._hooks.LayerHooks`: a forward-pre hook
    keeps the ReLU's input and a forward hook, run before the capture hooks, returns
    ``inp + (relu(inp) − inp).detach()`` for the rows in :attr:`mask`, so a captured ReLU output
    already carries the fake gradient. Outside autograd, or when the mask does not fit the batch,
    the output is left as it is.

    Attributes
    ----------
    mask : torch.Tensor of bool, shape (batch,) or None
        Rows whose gradient passes the ReLU as if it were the identity.
    every_row : bool
        Set by the caller when ``mask`` is all True: the straight-through output is returned
        as it is (no per-row selection, whose backward pass costs two full-size buffers).
    """

    def __init__(self) -> None:
        self.mask: torch.Tensor | None = None
        self.every_row = False
        self._input: torch.Tensor | None = None

    def install(self, hooks: LayerHooks, relu_name: str) -> FakeReLU:
        hooks.add_hook(relu_name, self._save_input, pre=True)
        hooks.add_hook(relu_name, self._replace_output, prepend=True)
        return self

    def _save_input(self, module: nn.Module, inputs: tuple[Any, ...]) -> None:
        # an in-place ReLU overwrites its input: keep a copy
        self._input = inputs[0].clone() if getattr(module, "inplace", False) else inputs[0]

    def _replace_output(self, _module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        inp, self._input = self._input, None
        mask = self.mask
        if mask is None or mask.shape[0] != output.shape[0] or not torch.is_grad_enabled():
            return output
        straight = self._straight(_module, inp, output)
        if self.every_row:
            return straight
        shape = (-1,) + (1,) * (output.dim() - 1)
        return torch.where(mask.view(shape), straight, output)

    def _straight(self, _module: nn.Module, inp: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """``output``'s values with the identity's gradient."""
        return inp + (output - inp).detach()


def surrogate_modules(model: nn.Module, layers: Sequence[str], order: list[str]) -> list[str]:
    """The ``nn.ReLU`` and max-pool modules (dilation 1, no indices) that run before the deepest of ``layers``.

    Parameters
    ----------
    model : nn.Module
    layers : sequence of str
    order : list of str
        Call order from :func:`call_order`.

    Returns
    -------
    list of str
        Module names, each once, in call order.
    """
    modules = dict(unwrap(model).named_modules())
    end = max((i for i, n in enumerate(order) if n in set(layers)), default=-1)
    out = []
    for name in dict.fromkeys(order[: end + 1]):
        mod = modules[name]
        if isinstance(mod, nn.ReLU) or (
            isinstance(mod, _POOLS) and not mod.return_indices and all(d == 1 for d in _tuple(mod.dilation))
        ):
            out.append(name)
    return out


def _tuple(v: Any) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class Surrogate(FakeReLU):
    """Straight-through gradients for chosen rows: ``nn.ReLU`` as the identity, max-pooling as average pooling.

    Forward values are unchanged; only the backward pass differs, for the rows in :attr:`mask`
    (the rows still in their surrogate phase). Install on a ReLU or a ``nn.MaxPool1d/2d/3d``
    (see :func:`surrogate_modules`) with :meth:`install`.
    """

    def _straight(self, module: nn.Module, inp: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        if isinstance(module, _POOLS):
            pool = next(f for kind, f in zip(_POOLS, _AVG) if isinstance(module, kind))
            avg = pool(inp, module.kernel_size, module.stride, module.padding, module.ceil_mode,
                       count_include_pad=False)
        else:
            avg = inp
        # output's exact values (plus an exact zero) with the gradient of ``avg``
        return output.detach() + (avg - avg.detach())
