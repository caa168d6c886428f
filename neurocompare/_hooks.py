"""The one forward-hook engine: capture the outputs of named submodules of any ``nn.Module``.

Extraction (``neurocompare.extract``), metamer synthesis and the training objectives that read a
hidden layer all go through :class:`LayerHooks`, so that layer names, error messages, recurrent
outputs and early stopping behave the same everywhere.

Examples
--------
>>> import torch
>>> from torch import nn
>>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
>>> with LayerHooks(net, ["1"]) as hooks:
...     out = hooks.run(torch.ones(5, 3))
>>> out["1"].shape
torch.Size([5, 4])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from neurocompare.registry import close_matches_hint

__all__ = ["LayerHooks", "StopForward", "first_tensor", "list_layers", "resolve_layers", "unwrap"]


class StopForward(Exception):
    """Raised inside a hook once every requested layer has produced its output for this pass."""


def unwrap(model: Any) -> Any:
    """The module inside a ``DistributedDataParallel`` / ``DataParallel`` wrapper (else ``model``)."""
    from torch import nn

    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        return model.module
    return model


def list_layers(model: Any) -> list[str]:
    """Names of every submodule of ``model`` that can be recorded, in definition order.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of str
        Dotted names as used by ``model.named_modules()`` (the root module itself excluded).

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.
    """
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"list_layers() takes a torch.nn.Module; got {type(model).__name__}.")
    return [name for name, _ in unwrap(model).named_modules() if name]


def resolve_layers(model: Any, layers: str | Sequence[str]) -> list[str]:
    """Check layer names against ``model`` and return them as a list (order kept, duplicates dropped).

    Raises
    ------
    ValueError
        No layers given, or a name that is not a submodule; the message lists the closest names
        and points at :func:`neurocompare.list_layers`.
    TypeError
        A name that is not a string.
    """
    if isinstance(layers, str):
        layers = [layers]
    layers = list(dict.fromkeys(layers))
    if not layers:
        raise ValueError("No layers requested. Hint: use neurocompare.list_layers(model) to see the choices.")
    available = list_layers(model)
    known = set(available)
    for name in layers:
        if not isinstance(name, str):
            raise TypeError(f"Layer names must be strings; got {name!r} ({type(name).__name__}).")
        if name not in known:
            raise ValueError(
                f"Unknown layer {name!r} in {type(unwrap(model)).__name__}.{close_matches_hint(name, available)} "
                "Hint: use neurocompare.list_layers(model)."
            )
    return layers


def first_tensor(output: Any, layer: str, module: Any = None) -> Any:
    """The tensor a layer produced: the output itself, or the first element of a tuple/list output.

    Raises
    ------
    TypeError
        When the output holds no tensor (the message names the layer and what to do).
    """
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    kind = f" ({type(module).__name__})" if module is not None else ""
    raise TypeError(
        f"Layer {layer!r}{kind} returned {type(output).__name__}, not a tensor. Record a submodule that "
        "returns a tensor, or wrap this one. Hint: use neurocompare.list_layers(model)."
    )


class LayerHooks:
    """Forward hooks that capture the outputs of named submodules, as a context manager.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; a DDP wrapper is looked through for the names.
    layers : str or sequence of str
        Submodule names (checked by :func:`resolve_layers`).
    detach : bool
        Store detached outputs (extraction) or keep the autograd graph (metamers, training).
    stop_early : bool
        Stop the forward pass once every layer has been called as often as ``expected_calls``
        says (by default once), skipping the rest of the network.
    time_major_rnn : bool
        For ``nn.RNN``/``GRU``/``LSTM`` layers that are not ``batch_first``, transpose the output
        to (batch, time, hidden) and remember the layer in :attr:`sequence_layers`.

    Attributes
    ----------
    outputs : dict of str to list of torch.Tensor
        Every output each layer produced during the current pass, in call order.
    sequence_layers : set of str
        Recurrent layers whose output already has a time axis.
    expected_calls : dict of str to int or None
        Calls per pass after which ``stop_early`` stops (learned by the caller, e.g. on the first
        batch; ``None`` means once per layer).
    """

    def __init__(
        self,
        model: Any,
        layers: str | Sequence[str],
        *,
        detach: bool = True,
        stop_early: bool = False,
        time_major_rnn: bool = True,
    ) -> None:
        self.model = model
        self.layers = resolve_layers(model, layers)
        self.modules = dict(unwrap(model).named_modules())
        self.detach = detach
        self.stop_early = stop_early
        self.time_major_rnn = time_major_rnn
        self.outputs: dict[str, list[Any]] = {name: [] for name in self.layers}
        self.sequence_layers: set[str] = set()
        self.expected_calls: dict[str, int] | None = None
        self._handles: list[Any] = []
        for name in self.layers:
            self._handles.append(self.modules[name].register_forward_hook(self._capture(name)))

    # -- hooks
    def _capture(self, name: str) -> Callable[..., None]:
        from torch import nn

        module = self.modules[name]

        def hook(_mod: Any, _inp: Any, output: Any) -> None:
            out = first_tensor(output, name, module)
            if self.time_major_rnn and isinstance(module, nn.RNNBase) and out.dim() == 3:
                if not module.batch_first:
                    out = out.transpose(0, 1)
                self.sequence_layers.add(name)
            self.outputs[name].append(out.detach() if self.detach else out)
            if self.stop_early and self._complete():
                raise StopForward

        return hook

    def _complete(self) -> bool:
        want = self.expected_calls or {}
        return all(len(self.outputs[n]) >= want.get(n, 1) for n in self.layers)

    def add_hook(self, name: str, hook: Callable[..., Any], *, pre: bool = False, prepend: bool = False) -> None:
        """Register an extra forward (or forward-pre) hook on submodule ``name``; removed with the others.

        Used for hooks that change a module's output, e.g. the "fake ReLU" of metamer synthesis.
        """
        if name not in self.modules or not name:
            resolve_layers(self.model, [name])  # raises the standard message
        module = self.modules[name]
        if pre:
            handle = module.register_forward_pre_hook(hook, prepend=prepend)
        else:
            handle = module.register_forward_hook(hook, prepend=prepend)
        self._handles.append(handle)

    # -- running
    def clear(self) -> None:
        """Forget the outputs captured so far."""
        self.outputs = {name: [] for name in self.layers}

    def run(self, *inputs: Any, **kwargs: Any) -> dict[str, Any]:
        """Run one forward pass and return ``{layer: last output}``.

        Raises
        ------
        ValueError
            If a requested layer was not called during the pass.
        """
        self.clear()
        self.forward(*inputs, **kwargs)
        missing = [n for n in self.layers if not self.outputs[n]]
        if missing:
            raise ValueError(
                f"Layer(s) {missing} were not called during the forward pass, so they have no activations. "
                "Choose layers the model's forward() uses. Hint: use neurocompare.list_layers(model)."
            )
        out = {n: self.outputs[n][-1] for n in self.layers}
        self.clear()
        return out

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Call the model; a :class:`StopForward` from the hooks ends the pass quietly (returns ``None``)."""
        try:
            return self.model(*inputs, **kwargs)
        except StopForward:
            return None

    def remove(self) -> None:
        """Remove every hook this object registered."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> "LayerHooks":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()
