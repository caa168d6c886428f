"""Neural collapse layer by layer, streamed through :func:`neurocompare.extract`.

The data pass through the network in chunks, twice (class means first, then the within-class
statistics; see :class:`~neurocompare.learning.CollapseAccumulator`), so no layer's features are
ever held for the whole data set and no ``d x d`` matrix is formed.

Besides NC1 at each depth, each linear layer's weight is compared with the class means of its
input: the *mean alignment* is the fraction of the energy of the centred class means of the
input that lies in the top-``k`` right singular subspace of the weight,
``||M~ V_k||_F^2 / ||M~||_F^2`` (``k = C`` by default); a random ``k``-dimensional subspace of
``R^d`` captures ``k/d`` on average. Rangamani et al. (2023) report that the top singular
vectors of trained weights align with the class means of their input, and that NC1 falls with
depth.

References
----------
Rangamani, Lindegaard, Galanti & Poggio (2023) Feature learning in deep classifiers through
intermediate neural collapse. ICML.
Papyan, Han & Donoho (2020) PNAS 117:24652.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurocompare._options import progress_enabled
from neurocompare.learning._collapse import CollapseAccumulator, CollapseResult, check_nc1_variant

__all__ = ["LayerwiseCollapse", "layerwise_collapse", "layer_inputs"]

INPUT = "input"


@dataclass
class LayerwiseCollapse:
    """What :func:`layerwise_collapse` returns.

    Attributes
    ----------
    layers : list of str
        Recorded layers, in the order of the forward pass.
    results : dict of str to CollapseResult
        NC1-NC4 per layer (the classifier parts only for the classifier's input layer).
    nc1_variant : str
    inputs : dict of str to str
        Linear layer -> the recorded layer that feeds it (``"input"``: the model's input).
    alignment : dict of str to float
        Linear layer -> mean alignment of its top-``k`` right singular subspace with the centred
        class means of its input (see the module docstring).
    alignment_chance : dict of str to float
        ``k / d_in``, what a random subspace captures on average.
    k : int
    classifier : str or None
        The classifier module whose weight entered NC2-NC4.
    """

    layers: list[str]
    results: dict[str, CollapseResult]
    nc1_variant: str
    inputs: dict[str, str] = field(default_factory=dict)
    alignment: dict[str, float] = field(default_factory=dict)
    alignment_chance: dict[str, float] = field(default_factory=dict)
    k: int = 0
    classifier: str | None = None

    def nc1(self) -> dict[str, float]:
        """``{layer: NC1}`` in the chosen variant, in depth order."""
        return {name: float(self.results[name].value) for name in self.layers}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (layers, per-layer measures, alignment)."""
        return {
            "layers": list(self.layers), "nc1_variant": self.nc1_variant, "classifier": self.classifier,
            "results": {name: self.results[name].as_dict() for name in self.layers},
            "inputs": dict(self.inputs), "alignment": dict(self.alignment),
            "alignment_chance": dict(self.alignment_chance), "k": self.k,
        }


def _probe_tensor(x: Any) -> Any:
    import torch
    import xarray as xr

    from neurocompare.activations import stimuli_to_tensor

    if isinstance(x, xr.DataArray):
        return stimuli_to_tensor(x.isel(stimulus=slice(0, 2)))
    t = x[:2] if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x[:2]))
    return t.float() / 255.0 if t.dtype == torch.uint8 else t.float()


def layer_inputs(model: Any, probe: Any, weight_layers: Any = None) -> dict[str, str]:
    """Which recorded layer feeds each linear layer: ``{linear layer: producing layer}``.

    Found on one forward pass of ``probe`` by tensor identity: the input of the linear layer is
    the very tensor some submodule returned (``"input"`` when it is the model's input). Linear
    layers fed by a functional operation (``torch.flatten`` inside ``forward``) are left out.

    Parameters
    ----------
    model : torch.nn.Module
    probe : tensor of dims (batch, ...)
        A small batch the model accepts.
    weight_layers : sequence of str, optional
        Default: every ``nn.Linear`` submodule.
    """
    import torch

    from neurocompare._hooks import LayerHooks

    modules = dict(model.named_modules())
    if weight_layers is None:
        weight_layers = [n for n, m in modules.items() if n and isinstance(m, torch.nn.Linear)]
    seen: dict[str, Any] = {}  # the input tensors themselves: holding them keeps their ids unique

    def pre(name: str):
        def hook(_mod: Any, inp: Any) -> None:
            seen.setdefault(name, inp[0])
        return hook

    candidates = [n for n in modules if n]
    with LayerHooks(model, candidates, detach=False) as hooks, torch.no_grad():
        for name in weight_layers:
            hooks.add_hook(name, pre(name), pre=True)
        was_training = model.training
        model.eval()
        try:
            hooks.forward(probe)
        finally:
            model.train(was_training)
        produced: dict[int, str] = {}
        for name in candidates:  # definition order; the shortest name wins (a block over its last part)
            for out in hooks.outputs[name]:
                key = id(out)
                if key not in produced or len(name) < len(produced[key]):
                    produced[key] = name
        produced.setdefault(id(probe), INPUT)  # a module that returns its input (Flatten of 2-D data) wins
        result = {w: produced[id(seen[w])] for w in weight_layers if w in seen and id(seen[w]) in produced}
        hooks.clear()
    return result


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    bounds = list(range(0, n, size)) + [n]
    spans = list(zip(bounds[:-1], bounds[1:]))
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < 3:  # extract needs 3 stimuli per call
        spans[-2:] = [(spans[-2][0], n)]
    return spans


def _classifier(model: Any, n_classes: int, classifier: Any) -> str | None:
    import torch

    modules = dict(model.named_modules())
    if classifier is None:
        return None
    if classifier == "auto":
        linear = [n for n, m in modules.items() if isinstance(m, torch.nn.Linear) and m.out_features == n_classes]
        return linear[-1] if linear else None
    if classifier not in modules or not isinstance(modules[classifier], torch.nn.Linear):
        raise ValueError(
            f"classifier={classifier!r} is not an nn.Linear submodule of the model. Linear layers: "
            f"{[n for n, m in modules.items() if isinstance(m, torch.nn.Linear)]}; or classifier=None."
        )
    return classifier


def layerwise_collapse(
    model: Any,
    data: Any,
    layers: Any = None,
    *,
    nc1: str,
    labels: Any = None,
    classifier: str | None = "auto",
    k: int | None = None,
    chunk_size: int = 2048,
    batch_size: int = 256,
    reduce: Any = "flatten",
    preprocessing: Any = "auto",
    device: Any = None,
    progress: bool | None = None,
) -> LayerwiseCollapse:
    """NC1-NC4 at several depths of ``model`` and the alignment of each linear layer with its input's class means.

    Parameters
    ----------
    model : torch.nn.Module
    data : tuple (x, y), or an image DataArray with a ``label`` coordinate
        ``x`` of dims (sample, ...) as :func:`neurocompare.extract` accepts it; ``y`` of dims
        (sample,) with integer classes.
    layers : sequence of str, optional
        Layers whose output features are measured (see :func:`neurocompare.list_layers`).
        Default: the layers that feed each linear layer, in depth order.
    nc1 : {'papyan', 'han', 'tirer', 'cdnv'}
        NC1 variant (required; see :func:`neural_collapse`).
    labels : array of dims (sample,), optional
        Overrides the labels in ``data``.
    classifier : str, 'auto' or None
        The linear module whose weight and bias enter NC2-NC4 for the layer that feeds it.
        ``'auto'``: the last ``nn.Linear`` with one output per class.
    k : int, optional
        Singular subspace dimension for the alignment (default: the number of classes).
    chunk_size : int
        Samples per call of :func:`neurocompare.extract` (memory: ``chunk_size`` x features of
        the recorded layers).
    batch_size, reduce, preprocessing, device
        Passed to :func:`neurocompare.extract`.
    progress : bool, optional
        A bar over the chunks of both passes (default: the ``progress`` option).

    Returns
    -------
    LayerwiseCollapse

    Raises
    ------
    ValueError
        Unknown ``nc1``, labels missing or of the wrong length, non-integer labels, an unknown
        layer or classifier, fewer than 2 classes.
    TypeError
        A model that is not an ``nn.Module``.

    References
    ----------
    Rangamani, Lindegaard, Galanti & Poggio (2023) ICML. Papyan, Han & Donoho (2020) PNAS.
    """
    import torch
    import xarray as xr

    from neurocompare._hooks import resolve_layers
    from neurocompare.activations import extract

    check_nc1_variant(nc1, "layerwise_collapse")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"layerwise_collapse() needs a torch.nn.Module (it reads the weights); got {type(model).__name__}.")
    if isinstance(data, xr.DataArray):
        x = data
        if labels is None:
            if "label" not in data.coords:
                raise ValueError("The stimulus DataArray has no 'label' coordinate; pass labels=... (one class per stimulus).")
            labels = data.coords["label"].values
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y0 = data
        labels = y0 if labels is None else labels
    else:
        raise TypeError(f"data must be a tuple (x, y) or a stimulus DataArray with a 'label' coordinate; got {type(data).__name__}.")
    y = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    n = int(x.sizes["stimulus"]) if isinstance(x, xr.DataArray) else len(x)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"layerwise_collapse() needs one label per sample: {n} samples but labels of shape {y.shape}.")
    if y.dtype.kind not in "iu":
        raise ValueError(f"Labels must be integer classes 0..C-1; got dtype {y.dtype}. Map them with np.unique(..., return_inverse=True).")
    y = y.astype(np.int64)
    n_classes = int(y.max()) + 1
    if n_classes < 2 or int(y.min()) < 0:
        raise ValueError(f"Labels must be integer classes 0..C-1 with C >= 2; got values {int(y.min())}..{int(y.max())}.")
    clf = _classifier(model, n_classes, classifier)
    feeds = layer_inputs(model, _probe_tensor(x))
    if clf is not None and clf not in feeds:
        raise ValueError(
            f"Cannot tell which layer feeds the classifier {clf!r} (a functional op in forward()?). Pass "
            "classifier=None, or wrap that op in a module."
        )
    if layers is None:
        layers = list(dict.fromkeys(v for v in feeds.values() if v != INPUT))
    layers = resolve_layers(model, layers)
    record = list(dict.fromkeys(layers + [v for v in feeds.values() if v != INPUT]))
    order = {name: i for i, name in enumerate(n for n, _ in model.named_modules())}
    record.sort(key=lambda name: order[name])
    need_input = INPUT in feeds.values()
    spans = _chunks(n, int(chunk_size))
    classes = {clf: dict(model.named_modules())[clf]} if clf is not None else {}
    accs: dict[str, CollapseAccumulator] = {}
    for name in record + ([INPUT] if need_input else []):
        W = b = None
        if clf is not None and feeds[clf] == name:
            W, b = classes[clf].weight.detach().cpu(), (classes[clf].bias.detach().cpu() if classes[clf].bias is not None else None)
        accs[name] = CollapseAccumulator(n_classes, W, b)

    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=2 * len(spans), desc="layerwise collapse", unit="chunk")
    try:
        for step in ("add_means", "add_within"):
            for start, stop in spans:
                xc = x.isel(stimulus=slice(start, stop)) if isinstance(x, xr.DataArray) else x[start:stop]
                acts = extract(model, xc, record, batch_size=batch_size, reduce=reduce, preprocessing=preprocessing,
                               device=device, memory_budget=None, progress=False)
                for name in record:
                    getattr(accs[name], step)(acts[name].values, y[start:stop])
                if need_input:
                    getattr(accs[INPUT], step)(_flat_input(xc), y[start:stop])
                if bar is not None:
                    bar.update(1)
            if step == "add_means":
                for acc in accs.values():
                    acc.finish_means()
    finally:
        if bar is not None:
            bar.close()
    results = {name: accs[name].result(nc1) for name in record}
    out = LayerwiseCollapse(layers=[nm for nm in record if nm in layers], results={nm: results[nm] for nm in layers},
                            nc1_variant=nc1, inputs=dict(feeds), classifier=clf)
    out.k = int(k) if k is not None else n_classes
    modules = dict(model.named_modules())
    for wname, src in feeds.items():
        weight = modules[wname].weight.detach().cpu().double()
        acc = accs[src]
        m = acc.centred.cpu()
        if m.shape[1] != weight.shape[1]:
            continue  # a reduction (avgpool) changed the feature count; no alignment
        _, _, vh = torch.linalg.svd(weight, full_matrices=False)
        vk = vh[: out.k].T
        out.alignment[wname] = float((m @ vk).pow(2).sum() / m.pow(2).sum())
        out.alignment_chance[wname] = min(out.k, weight.shape[1]) / weight.shape[1]
    return out


def _flat_input(xc: Any) -> Any:
    """The model input of a chunk as (sample, features) floats (for linear layers fed by the input itself)."""
    import torch
    import xarray as xr

    from neurocompare.activations import stimuli_to_tensor

    if isinstance(xc, xr.DataArray):
        t = stimuli_to_tensor(xc)
    else:
        t = xc if isinstance(xc, torch.Tensor) else torch.as_tensor(np.asarray(xc))
        t = t.float() / 255.0 if t.dtype == torch.uint8 else t.float()
    return t.reshape(t.shape[0], -1)
