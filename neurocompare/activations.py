"""Record the activations of any layers of any PyTorch model as ``Responses``.

:func:`extract` runs a model over a stimulus set in batches, records the outputs of the named
modules (through the one hook engine, :class:`neurocompare._hooks.LayerHooks`) and returns one
``Responses`` per layer, dims ``('stimulus', 'unit')`` (plus ``'time'`` for recurrent layers).
:func:`list_layers` names the layers that can be recorded.

The model may be named by a spec (``"convnet_small"``, a checkpoint, ``module:function``) or
given as a :class:`~neurocompare.models.ResolvedModel`; then the preprocessing it was registered
with is applied, exactly as :func:`neurocompare.score` applies it. A bare ``nn.Module`` gets no
preprocessing unless one is given.

Examples
--------
>>> import torch
>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
>>> list_layers(model)
['0', '1', '2']
>>> acts = extract(model, torch.randn(10, 5), ["1", "2"], progress=False)
>>> acts["1"].dims, acts["1"].shape
(('stimulus', 'unit'), (10, 4))
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from neurocompare._hooks import LayerHooks, list_layers, resolve_layers
from neurocompare._options import progress_enabled, resolve_device
from neurocompare._seeding import torch_generator
from neurocompare._sinks import DiskSink, MemorySink, unit_ids
from neurocompare.data import _as_id_array, _duplicates, _short, check_responses
from neurocompare.models import Preprocessing, ResolvedModel, resolve_model

__all__ = ["list_layers", "extract", "REDUCTIONS", "stimuli_to_tensor"]

REDUCTIONS = ("flatten", "avgpool", "random_projection")
DEFAULT_MEMORY_BUDGET = 2 * 1024**3  # bytes kept in memory before streaming to disk


# ----------------------------------------------------------------------------- model and preprocessing
def _resolve(model: Any, preprocessing: Any) -> tuple[nn.Module, Callable | None]:
    """The module to run and the preprocessing to apply (``None``: feed the stimuli as they are)."""
    if isinstance(model, nn.Module):
        module, auto = model, None  # a bare module: its owner decides its preprocessing
    elif isinstance(model, (str, os.PathLike, ResolvedModel)):
        resolved = resolve_model(model)
        module, auto = resolved.model, resolved.preprocessing
    else:
        raise TypeError(
            f"extract() needs a torch.nn.Module, a model spec (a registered name such as 'convnet_small', a "
            f"checkpoint path or 'module:function') or a ResolvedModel; got {type(model).__name__}."
        )
    if isinstance(preprocessing, str):
        if preprocessing != "auto":
            raise ValueError(
                "The 'preprocessing' parameter of extract() must be 'auto', None, a Preprocessing or a callable. "
                f"Got {preprocessing!r} instead."
            )
        prep = auto
    elif preprocessing is None or callable(preprocessing):
        prep = preprocessing
    else:
        raise TypeError(
            "The 'preprocessing' parameter of extract() must be 'auto', None, a Preprocessing or a callable; "
            f"got {type(preprocessing).__name__}."
        )
    if isinstance(prep, Preprocessing) and prep.is_identity:
        prep = None
    return module, prep


def _image_channels(module: nn.Module, prep: Callable | None) -> set[int]:
    """Channel counts the model takes as images (empty when it is not an image model)."""
    if isinstance(prep, Preprocessing):
        if prep.modality != "image":
            return set()
        if prep.channels is not None:
            return {1, 3}  # the preprocessing converts between grayscale and RGB
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            return {int(m.in_channels)}
        if isinstance(m, (nn.Conv1d, nn.Linear, nn.RNNBase)):
            return set()
    return set()


# ----------------------------------------------------------------------------- stimuli
@dataclass
class _StimulusSet:
    ids: np.ndarray
    get: Callable[[int, int], torch.Tensor]

    @property
    def n(self) -> int:
        return len(self.ids)


def stimuli_to_tensor(stimuli: xr.DataArray) -> torch.Tensor:
    """Convert an image-set DataArray to a float tensor of shape (stimulus, channel, height, width).

    Parameters
    ----------
    stimuli : xarray.DataArray with dims ('stimulus', 'height', 'width'[, 'channel'])
        Integer images are scaled from [0, 255] to [0, 1]; floats are kept as they are.
        Other dims (e.g. ('stimulus', 'sample') for sounds) are passed through in order.

    Returns
    -------
    torch.Tensor, float32
    """
    arr = np.asarray(stimuli.values)
    dims = list(stimuli.dims)
    if dims[0] != "stimulus":
        raise ValueError(f"A stimulus DataArray needs 'stimulus' as its first dim; got dims {tuple(dims)}.")
    if "height" in dims and "width" in dims:
        if "channel" not in dims:
            arr = arr[..., None]
            dims = dims + ["channel"]
        order = [dims.index(d) for d in ("stimulus", "channel", "height", "width")]
        arr = np.transpose(arr, order)
    if np.issubdtype(arr.dtype, np.integer):
        return torch.from_numpy(np.ascontiguousarray(arr)).float().div_(255.0)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"Stimulus values must be numeric; got dtype {arr.dtype}.")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def _as_float(t: torch.Tensor) -> torch.Tensor:
    """uint8 images scaled to [0, 1]; other integers cast to float unscaled; floats kept."""
    if t.dtype == torch.uint8:
        return t.float().div_(255.0)
    return t if t.dtype.is_floating_point else t.float()


def _as_stimulus_set(stimuli: Any, stimulus_ids: Sequence[Any] | None, channels: set[int]) -> _StimulusSet:
    """Accept a tensor, an array, an image DataArray, a mapping id->x or a sequence."""
    if isinstance(stimuli, xr.DataArray):
        if stimulus_ids is None and "stimulus_id" in stimuli.coords:
            stimulus_ids = stimuli.stimulus_id.values
        stimuli = stimuli_to_tensor(stimuli)
    elif isinstance(stimuli, Mapping):
        if stimulus_ids is not None:
            raise ValueError("Pass stimulus_ids or a mapping {id: stimulus}, not both.")
        stimulus_ids = list(stimuli.keys())
        stimuli = list(stimuli.values())
    if isinstance(stimuli, np.ndarray):
        if stimuli.dtype == object or not np.issubdtype(stimuli.dtype, np.number):
            raise TypeError(f"Stimuli must be numeric; got dtype {stimuli.dtype}.")
        if stimuli.ndim == 4 and stimuli.shape[-1] in channels and stimuli.shape[1] not in channels:
            stimuli = np.moveaxis(stimuli, -1, 1)  # channel-last images (as read from files) -> channel-first
        stimuli = torch.from_numpy(np.ascontiguousarray(stimuli))
    if isinstance(stimuli, torch.Tensor):
        if stimuli.dim() < 2:
            raise ValueError(
                f"Stimuli must have a leading stimulus axis and at least one more: shape (n_stimuli, ...); "
                f"got shape {tuple(stimuli.shape)}."
            )
        tensor = stimuli
        ids = _as_id_array(stimulus_ids, tensor.shape[0], "stim", "stimulus_ids")
        return _StimulusSet(ids, lambda i, j: _as_float(tensor[i:j]))
    if isinstance(stimuli, Sequence) and not isinstance(stimuli, (str, bytes)):
        items = list(stimuli)
        if not items:
            raise ValueError("The stimulus set is empty; pass at least 3 stimuli.")
        if all(isinstance(it, tuple) and len(it) == 2 and isinstance(it[0], str) for it in items):
            if stimulus_ids is not None:
                raise ValueError("Pass stimulus_ids or (id, stimulus) pairs, not both.")
            stimulus_ids = [it[0] for it in items]
            items = [it[1] for it in items]
        tensors = [torch.as_tensor(np.asarray(it) if not isinstance(it, torch.Tensor) else it) for it in items]
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) != 1:
            raise ValueError(
                f"All stimuli must have the same shape to be batched; got {len(shapes)} shapes, e.g. "
                f"{sorted(shapes)[:3]}. Resize them first (e.g. in a transform)."
            )
        ids = _as_id_array(stimulus_ids, len(tensors), "stim", "stimulus_ids")
        return _StimulusSet(ids, lambda i, j: _as_float(torch.stack(tensors[i:j])))
    raise TypeError(
        f"Unsupported stimuli type {type(stimuli).__name__}. Pass a torch.Tensor or numpy array of shape "
        "(n_stimuli, ...), an image DataArray with a 'stimulus' dim, a mapping {id: stimulus}, or a sequence "
        "of stimuli or (id, stimulus) pairs."
    )


# ----------------------------------------------------------------------------- reductions
class _Reducer:
    """Turns a layer output (batch, [time,] *features) into (batch, [time,] units).

    ``flatten`` hands the output back unflattened, dims (batch, [time,] *features): it is
    flattened by the copy into its destination (:func:`_store`), so a non-contiguous output
    (e.g. channels-last) is copied once, not reshaped first.
    """

    def __init__(self, how: str | Callable, n_components: int, seed: int) -> None:
        if callable(how):
            self.how = "callable"
            self.fn = how
        elif how in REDUCTIONS:
            self.how = how
        else:
            raise ValueError(
                f"The 'reduce' parameter of extract() must be one of {set(REDUCTIONS)} or a callable. "
                f"Got {how!r} instead."
            )
        if self.how == "random_projection" and (not isinstance(n_components, int) or n_components < 1):
            raise ValueError(f"n_components must be a positive int for random_projection; got {n_components!r}.")
        self.n_components = n_components
        self.seed = seed
        self._proj: dict[str, torch.Tensor] = {}

    def __call__(self, layer: str, out: torch.Tensor, has_time: bool) -> torch.Tensor:
        lead = 2 if has_time else 1
        if self.how == "callable":
            flat = out.reshape(-1, *out.shape[lead:])
            red = self.fn(flat)
            if not isinstance(red, torch.Tensor) or red.dim() != 2 or red.shape[0] != flat.shape[0]:
                raise ValueError(
                    "A callable reduce must map a (batch, ...) tensor to a (batch, units) tensor; "
                    f"got {type(red).__name__} of shape {tuple(getattr(red, 'shape', ()))}."
                )
            return red.reshape(*out.shape[:lead], -1)
        if self.how == "flatten":
            return out if out.dim() > lead else out.reshape(*out.shape[:lead], 1)
        if self.how == "avgpool" and out.dim() > lead + 1:
            out = out.mean(dim=tuple(range(lead + 1, out.dim())))
        flat = out.reshape(*out.shape[:lead], -1)
        if self.how != "random_projection":
            return flat
        d = flat.shape[-1]
        proj = self._proj.get(layer)
        if proj is None:
            if d * self.n_components > 512 * 1024**2 // 4:
                raise MemoryError(
                    f"A random projection of layer {layer!r} ({d} features -> {self.n_components}) needs a "
                    f"{d}x{self.n_components} matrix of {d * self.n_components * 4 / 1e9:.1f} GB. "
                    "Use reduce='avgpool' for convolutional layers, or fewer n_components."
                )
            gen = torch_generator(self.seed, "random_projection", layer)
            proj = torch.randn(d, self.n_components, generator=gen) / math.sqrt(self.n_components)
            self._proj[layer] = proj
        proj = proj.to(flat.device, flat.dtype)
        return flat @ proj


# ----------------------------------------------------------------------------- recording
def _check_layers(layers: str | Sequence[str]) -> list[str]:
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise ValueError("extract() needs at least one layer name. Hint: use neurocompare.list_layers(model).")
    dup = _duplicates(np.array([str(x) for x in layers]))
    if dup:
        raise ValueError(f"Layer names repeat: {_short(dup)}. Ask for each layer once.")
    return layers


def _take(hooks: LayerHooks) -> dict[str, tuple[torch.Tensor, bool]]:
    """{layer: (tensor (batch, [time,] ...), has_time)} from one forward pass; clears the hooks.

    A layer called several times in one pass (a cell looped over time) is stacked along a new
    time dim; an RNN module called several times is joined along its own time dim.
    """
    result = {}
    for name in hooks.layers:
        outs = hooks.outputs[name]
        if not outs:
            raise ValueError(
                f"Layer {name!r} was not called during the forward pass, so it has no activations. "
                "Choose a layer the model's forward() uses. Hint: use neurocompare.list_layers(model)."
            )
        if len(outs) == 1:
            result[name] = (outs[0], name in hooks.sequence_layers)
        elif name in hooks.sequence_layers:
            result[name] = (torch.cat(outs, dim=1), True)
        else:
            result[name] = (torch.stack(outs, dim=1), True)
    return result


def _check_finite(name: str, values: torch.Tensor, ids: np.ndarray) -> None:
    """Refuse a batch holding NaN or inf; ``values`` dims (batch, ...), ``ids`` dims (batch,).

    One reduction decides the usual case: a finite sum means every value is finite (a NaN or an
    inf makes the sum non-finite). Only a non-finite sum, which finite values can also give by
    overflow, pays for the per-stimulus test that names the stimuli.
    """
    if not values.dtype.is_floating_point and not values.dtype.is_complex:
        return
    if bool(torch.isfinite(values.sum())):
        return
    bad = ~torch.isfinite(values.reshape(values.shape[0], -1)).all(dim=1)
    if bool(bad.any()):
        which = ids[bad.cpu().numpy()]
        raise ValueError(
            f"Layer {name!r} produced non-finite values (NaN or inf) for {len(which)} stimulus(es), e.g. "
            f"{_short(which)}. Check the stimuli's scale and the preprocessing, or record another layer."
        )


def _units_and_time(red: torch.Tensor, has_time: bool) -> tuple[int, ...]:
    """Per-stimulus stored shape of a reduced batch (batch, [time,] *features): (units,) or (units, time)."""
    lead = 2 if has_time else 1
    units = math.prod(red.shape[lead:])
    return (units, red.shape[1]) if has_time else (units,)


def _store(sink: MemorySink | DiskSink, name: str, start: int, red: torch.Tensor, has_time: bool) -> None:
    """Copy one reduced batch (batch, [time,] *features) into the sink's rows, as float32 (batch, unit[, time]).

    In memory the copy goes straight from the layer's tensor into the preallocated rows (flattening,
    the time transpose, the dtype conversion and the device transfer all happen in that one copy).
    """
    tail = _units_and_time(red, has_time)
    stop = start + red.shape[0]
    if isinstance(sink, MemorySink):
        dest = torch.from_numpy(sink.rows(name, start, stop, tail))  # (batch, unit[, time])
        if has_time:
            dest = dest.permute(0, 2, 1)  # (batch, time, unit) view of the same rows
        dest.view(red.shape).copy_(red)
        return
    lead = 2 if has_time else 1
    values = red.reshape(*red.shape[:lead], -1).to("cpu", torch.float32).numpy()
    if has_time:  # (batch, time, units) -> (batch, units, time)
        values = values.transpose(0, 2, 1)
    sink.write(name, start, values)


# ----------------------------------------------------------------------------- extract
def extract(
    model: nn.Module | str | os.PathLike | ResolvedModel,
    stimuli: Any,
    layers: str | Sequence[str],
    *,
    stimulus_ids: Sequence[Any] | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    reduce: str | Callable = "flatten",
    n_components: int = 1000,
    seed: int = 0,
    preprocessing: Preprocessing | Callable | str | None = "auto",
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    out_dir: str | os.PathLike | None = None,
    early_stop: bool = True,
    progress: bool | None = None,
) -> dict[str, xr.DataArray]:
    """Run ``model`` on ``stimuli`` and record the outputs of ``layers``.

    Parameters
    ----------
    model : torch.nn.Module, str, path or ResolvedModel
        Any module (torchvision and timm models included), or a spec that
        :func:`neurocompare.models.resolve_model` understands (a registered name such as
        ``"convnet_small"``, built with ``seed=0``; a checkpoint; ``"module:function"``). It is
        put in eval mode and run under ``torch.no_grad()``; its train/eval state and device are
        restored afterwards.
    stimuli : tensor, array, DataArray, mapping or sequence
        - ``torch.Tensor`` or ``numpy.ndarray`` of shape (n_stimuli, ...). ``uint8`` values are
          images: scaled from [0, 255] to [0, 1] (as for a DataArray); other integers are cast
          to float unscaled; floats are cast to the model's float dtype. For an image model (one
          that starts with a ``Conv2d``, or has an image preprocessing) a numpy array
          (n, height, width, channel) with 1 or 3 channels last is transposed to
          (n, channel, height, width);
        - an image ``xarray.DataArray`` with dims ('stimulus', 'height', 'width'[, 'channel'])
          (as the data loaders return), converted to (n_stimuli, channel, height, width) floats
          in [0, 1] (integers divided by 255) and carrying its ``stimulus_id`` coord;
        - a mapping ``{stimulus_id: stimulus}`` or a sequence of stimuli or ``(id, stimulus)``
          pairs, all of one shape.
    layers : str or sequence of str
        Module names from :func:`list_layers`.
    stimulus_ids : sequence of str, optional
        One unique id per stimulus (default ``stim_0000``...; taken from a DataArray when present).
    batch_size : int
        Stimuli per forward pass. Results do not depend on it (up to float rounding of the
        backend's kernels).
    device : str or torch.device, optional
        Where to run, e.g. ``"cuda"``; default: where the model's parameters are.
    reduce : {'flatten', 'avgpool', 'random_projection'} or callable
        How a layer output ``(batch, *features)`` becomes (batch, units): ``flatten`` keeps every
        element; ``avgpool`` averages over spatial dims ``(batch, channel, *space)`` -> (batch,
        channel); ``random_projection`` flattens and projects onto ``n_components`` seeded
        Gaussian directions (Johnson–Lindenstrauss). A callable maps (batch, ...) to (batch, units).
    n_components : int
        Output units of ``random_projection``.
    seed : int
        Seeds the random projection (one fixed matrix per layer, from
        ``neurocompare._seeding.torch_generator(seed, "random_projection", layer)``).
    preprocessing : 'auto', None, Preprocessing or callable
        Applied to every batch (dims (batch, ...)) before the model. ``'auto'``: the model's
        registered preprocessing when ``model`` is a spec or a ``ResolvedModel`` (what
        :func:`neurocompare.score` applies), nothing for a bare ``nn.Module``. ``None``: feed
        the stimuli as they are.
    transform : callable, optional
        Another per-batch function (batch tensor -> batch tensor) before the model; used when
        ``preprocessing`` resolves to nothing (``score`` passes a resolved model's preprocessing
        here). Giving both is refused, so that a batch is never normalized twice.
    memory_budget : int or None
        Bytes of activations to keep in memory. When the estimated total exceeds it, each layer
        is streamed in chunks to a NetCDF/HDF5 file and returned lazily (values stay on disk
        until used). ``None`` never streams.
    out_dir : path-like, optional
        Folder for streamed files (default: a new temporary folder). Giving it forces streaming.
    early_stop : bool
        Stop each forward pass once every requested layer has produced its output (learned on
        the first batch), skipping the rest of the network.
    progress : bool, optional
        Show a progress bar; default: the ``progress`` option (``neurocompare.set_options``),
        which shows one only on an interactive terminal.

    Returns
    -------
    dict of str to Responses
        One per layer, dims ('stimulus', 'unit') or ('stimulus', 'unit', 'time') for recurrent
        layers (an ``nn.RNN``/``GRU``/``LSTM`` output, or a module called once per time step),
        float32. Coords: ``stimulus_id``, ``unit_id`` (``"<layer>.<index>"``) and ``layer``.

    Raises
    ------
    ValueError
        Unknown layer (the message lists close names), bad stimuli, fewer than 3 stimuli, a
        layer that the forward pass never calls, or a layer whose output is not finite.
    TypeError
        A model that is neither a module nor a spec; stimuli of an unsupported type.

    See Also
    --------
    neurocompare.models.resolve_model : a spec -> module, preprocessing, id and weights hash.
    """
    module, prep = _resolve(model, preprocessing)
    if prep is not None and transform is not None:
        raise ValueError(
            f"extract() got both a preprocessing ({prep!r}) and a transform. Pass preprocessing=None to use only "
            "the transform, or compose the two into one callable."
        )
    prep = prep if prep is not None else transform
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    layer_names = resolve_layers(module, _check_layers(layers))
    stim = _as_stimulus_set(stimuli, stimulus_ids, _image_channels(module, prep))
    if stim.n < 3:
        raise ValueError(f"extract() needs at least 3 stimuli to make Responses; got {stim.n}.")
    dup = _duplicates(stim.ids)
    if dup:
        raise ValueError(f"stimulus_ids must be unique; repeated: {_short(dup)}.")
    reducer = _Reducer(reduce, n_components, seed)
    reduce_name = reduce if isinstance(reduce, str) else getattr(reduce, "__name__", "callable")

    params = list(module.parameters()) + list(module.buffers())
    original_device = params[0].device if params else torch.device("cpu")
    # float stimuli follow the model's float dtype (float64 numpy images into a float32 network)
    model_dtype = next((p.dtype for p in params if p.dtype.is_floating_point), None)
    run_device = resolve_device(device) if device is not None else original_device
    was_training = module.training

    hooks = LayerHooks(module, layer_names, detach=True, stop_early=False)
    sink: MemorySink | DiskSink = DiskSink(Path(out_dir), stim.ids, reduce_name) if out_dir is not None else MemorySink(stim.n)
    streaming = out_dir is not None
    has_time: dict[str, bool] = {}
    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=stim.n, desc="extract", unit="stim")
    try:
        module.to(run_device)
        module.eval()
        with torch.no_grad():
            for start in range(0, stim.n, batch_size):
                stop = min(start + batch_size, stim.n)
                batch = stim.get(start, stop).to(run_device)
                if model_dtype is not None and batch.dtype.is_floating_point and batch.dtype != model_dtype:
                    batch = batch.to(model_dtype)
                if prep is not None:
                    batch = prep(batch)
                hooks.clear()
                hooks.forward(batch)
                recorded = _take(hooks)
                if start == 0 and early_stop:  # later passes stop once every layer ran as often
                    hooks.expected_calls = {n: len(hooks.outputs[n]) for n in layer_names}
                    hooks.stop_early = True
                hooks.clear()
                reduced = {}
                for name, (out, t) in recorded.items():
                    has_time[name] = t
                    reduced[name] = reducer(name, out, t)
                    _check_finite(name, reduced[name], stim.ids[start:stop])
                if start == 0 and not streaming and memory_budget is not None:
                    per_stim = sum(4 * math.prod(_units_and_time(r, has_time[n])) for n, r in reduced.items())
                    if per_stim * stim.n > memory_budget:
                        streaming = True
                        folder = Path(tempfile.mkdtemp(prefix="neurocompare_acts_"))
                        sink = DiskSink(folder, stim.ids, reduce_name)
                for name, red in reduced.items():
                    _store(sink, name, start, red, has_time[name])
                del recorded, reduced, out, red  # free this pass's outputs before the next pass allocates its own
                if bar is not None:
                    bar.update(stop - start)
    except BaseException:
        if isinstance(sink, DiskSink):
            sink.close()
        raise
    finally:
        hooks.remove()
        module.train(was_training)
        module.to(original_device)
        if bar is not None:
            bar.close()

    results: dict[str, xr.DataArray] = {}
    for name in layer_names:
        if streaming:
            results[name] = check_responses(sink.result(name))
            continue
        values = sink.result(name)
        dims = ("stimulus", "unit", "time") if has_time[name] else ("stimulus", "unit")
        n_units = values.shape[1]
        coords = {
            "stimulus_id": ("stimulus", stim.ids),
            "unit_id": ("unit", unit_ids(name, n_units)),
            "layer": ("unit", np.full(n_units, name)),
        }
        arr = xr.DataArray(values, dims=dims, coords=coords, attrs={"layer": name, "reduce": reduce_name})
        results[name] = check_responses(arr)
    return results
