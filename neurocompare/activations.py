"""Record the activations of any layers of any PyTorch model as ``Responses``.

:func:`extract` runs a model over a stimulus set in batches, records the outputs of the named
modules with forward hooks and returns one ``Responses`` per layer, dims
``('stimulus', 'unit')`` (plus ``'time'`` for recurrent layers). :func:`list_layers` names the
layers that can be recorded.

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
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from neurocompare.data import _as_id_array, _duplicates, _short, check_responses, load
from neurocompare.registry import close_matches_hint

__all__ = ["list_layers", "extract", "REDUCTIONS", "stimuli_to_tensor"]

REDUCTIONS = ("flatten", "avgpool", "random_projection")
DEFAULT_MEMORY_BUDGET = 2 * 1024**3  # bytes kept in memory before streaming to disk


# ----------------------------------------------------------------------------- layers
def list_layers(model: nn.Module) -> list[str]:
    """Names of the modules of ``model`` whose outputs :func:`extract` can record.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of str
        Every named submodule (as in ``model.named_modules()``), in definition order,
        without the root module itself.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"list_layers() needs a torch.nn.Module; got {type(model).__name__}.")
    return [name for name, _ in model.named_modules() if name]


def _resolve_layers(model: nn.Module, layers: str | Sequence[str]) -> list[str]:
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ValueError("extract() needs at least one layer name. Hint: use neurocompare.list_layers(model).")
    valid = list_layers(model)
    for layer in layers:
        if layer not in valid:
            raise ValueError(
                f"Unknown layer {layer!r} for {type(model).__name__}.{close_matches_hint(str(layer), valid)} "
                f"Hint: use neurocompare.list_layers(model) to see all {len(valid)} layer names."
            )
    dup = _duplicates(np.array(layers))
    if dup:
        raise ValueError(f"Layer names repeat: {_short(dup)}. Ask for each layer once.")
    return layers


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


def _as_stimulus_set(stimuli: Any, stimulus_ids: Sequence[Any] | None) -> _StimulusSet:
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
        stimuli = torch.from_numpy(np.ascontiguousarray(stimuli))
    if isinstance(stimuli, torch.Tensor):
        if stimuli.dim() < 2:
            raise ValueError(
                f"Stimuli must have a leading stimulus axis and at least one more: shape (n_stimuli, ...); "
                f"got shape {tuple(stimuli.shape)}."
            )
        tensor = stimuli if stimuli.dtype.is_floating_point else stimuli.float()
        ids = _as_id_array(stimulus_ids, tensor.shape[0], "stim", "stimulus_ids")
        return _StimulusSet(ids, lambda i, j: tensor[i:j])
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
        return _StimulusSet(ids, lambda i, j: torch.stack(tensors[i:j]).float())
    raise TypeError(
        f"Unsupported stimuli type {type(stimuli).__name__}. Pass a torch.Tensor or numpy array of shape "
        "(n_stimuli, ...), an image DataArray with a 'stimulus' dim, a mapping {id: stimulus}, or a sequence "
        "of stimuli or (id, stimulus) pairs."
    )


# ----------------------------------------------------------------------------- reductions
class _Reducer:
    """Turns a layer output (batch, [time,] *features) into (batch, [time,] units)."""

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
            gen = torch.Generator().manual_seed(self.seed + _stable_hash(layer))
            proj = torch.randn(d, self.n_components, generator=gen) / math.sqrt(self.n_components)
            self._proj[layer] = proj
        proj = proj.to(flat.device, flat.dtype)
        return flat @ proj


def _stable_hash(text: str) -> int:
    """A small deterministic hash (Python's hash() is salted per process)."""
    h = 0
    for ch in text.encode():
        h = (h * 131 + ch) % 1_000_003
    return h


# ----------------------------------------------------------------------------- hooks
class _StopForward(Exception):
    """Raised by a hook once every requested layer has been recorded for this batch."""


def _first_tensor(output: Any, module: nn.Module, layer: str) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output:
        if isinstance(output[0], torch.Tensor):
            return output[0]
    raise TypeError(
        f"Layer {layer!r} ({type(module).__name__}) returned {type(output).__name__}, not a tensor. "
        "Record a submodule that returns a tensor, or wrap this one."
    )


class _Recorder:
    """Holds the forward hooks and the outputs of one batch."""

    def __init__(self, model: nn.Module, layers: list[str]) -> None:
        self.layers = layers
        self.modules = dict(model.named_modules())
        self.outputs: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
        self.sequence_layers: set[str] = set()
        self.expected_calls: dict[str, int] | None = None
        self.handles = [self.modules[name].register_forward_hook(self._hook(name)) for name in layers]

    def _hook(self, name: str):
        module = self.modules[name]

        def hook(_mod, _inp, output):
            out = _first_tensor(output, module, name)
            if isinstance(module, nn.RNNBase) and out.dim() == 3:
                if not module.batch_first:
                    out = out.transpose(0, 1)  # (time, batch, hidden) -> (batch, time, hidden)
                self.sequence_layers.add(name)
            self.outputs[name].append(out.detach())
            if self.expected_calls is not None and all(
                len(self.outputs[n]) >= self.expected_calls[n] for n in self.layers
            ):
                raise _StopForward

        return hook

    def take(self) -> dict[str, tuple[torch.Tensor, bool]]:
        """Return {layer: (tensor (batch, [time,] ...), has_time)} and clear the buffers.

        The first call also learns how often each layer runs per forward pass, which lets
        later batches stop early.
        """
        result = {}
        calls = {}
        for name in self.layers:
            outs = self.outputs[name]
            if not outs:
                raise ValueError(
                    f"Layer {name!r} was not called during the forward pass, so it has no activations. "
                    "Choose a layer the model's forward() uses. Hint: use neurocompare.list_layers(model)."
                )
            calls[name] = len(outs)
            if len(outs) == 1:
                result[name] = (outs[0], name in self.sequence_layers)
            elif name in self.sequence_layers:  # an RNN module run several times: join along time
                result[name] = (torch.cat(outs, dim=1), True)
            else:  # a module called once per time step
                result[name] = (torch.stack(outs, dim=1), True)
            self.outputs[name] = []
        if self.expected_calls is None:
            self.expected_calls = calls
        return result

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


# ----------------------------------------------------------------------------- output sinks
class _MemorySink:
    def __init__(self) -> None:
        self.chunks: dict[str, list[np.ndarray]] = {}

    def write(self, layer: str, start: int, values: np.ndarray) -> None:
        self.chunks.setdefault(layer, []).append(values)

    def result(self, layer: str) -> np.ndarray:
        return np.concatenate(self.chunks.pop(layer), axis=0)


class _DiskSink:
    """Streams each layer into its own NetCDF-4/HDF5 file, readable lazily by ``data.load``."""

    def __init__(self, folder: Path, ids: np.ndarray, reduce: str) -> None:
        import h5netcdf
        import h5py

        self._h5netcdf, self._h5py = h5netcdf, h5py
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ids = ids
        self.reduce = reduce
        self.files: dict[str, Any] = {}
        self.paths: dict[str, Path] = {}

    def open(self, layer: str, n_units: int, n_time: int | None, dtype: np.dtype) -> None:
        path = self.folder / f"{_safe_name(layer)}.nc"
        tmp = path.with_name(path.name + ".partial")
        f = self._h5netcdf.File(tmp, "w")
        dims = {"stimulus": len(self.ids), "unit": n_units}
        var_dims = ("stimulus", "unit")
        if n_time is not None:
            dims["time"] = n_time
            var_dims = ("stimulus", "unit", "time")
        f.dimensions = dims
        chunk_rows = max(1, min(len(self.ids), (8 * 1024**2) // max(1, n_units * (n_time or 1) * dtype.itemsize)))
        var = f.create_variable("responses", var_dims, dtype, chunks=(chunk_rows,) + tuple(dims[d] for d in var_dims[1:]))
        sid = f.create_variable("stimulus_id", ("stimulus",), self._h5py.string_dtype())
        sid[:] = self.ids.astype(object)
        uid = f.create_variable("unit_id", ("unit",), self._h5py.string_dtype())
        uid[:] = _unit_ids(layer, n_units).astype(object)
        lay = f.create_variable("layer", ("unit",), self._h5py.string_dtype())
        lay[:] = np.full(n_units, layer, dtype=object)
        var.attrs["coordinates"] = "stimulus_id unit_id layer"
        var.attrs["layer"] = layer
        var.attrs["reduce"] = self.reduce
        self.files[layer] = (f, var, tmp, path)

    def write(self, layer: str, start: int, values: np.ndarray) -> None:
        if layer not in self.files:
            self.open(layer, values.shape[1], values.shape[2] if values.ndim == 3 else None, values.dtype)
        _, var, _, _ = self.files[layer]
        var[start : start + values.shape[0]] = values

    def result(self, layer: str) -> xr.DataArray:
        f, _, tmp, path = self.files.pop(layer)
        f.close()
        os.replace(tmp, path)
        return load(path, lazy=True)


def _safe_name(layer: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in layer) or "layer"


def _unit_ids(layer: str, n: int) -> np.ndarray:
    width = len(str(max(n - 1, 0)))
    return np.array([f"{layer}.{i:0{width}d}" for i in range(n)])


# ----------------------------------------------------------------------------- extract
def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    if os.environ.get("NEUROCOMPARE_QUIET", "") not in ("", "0"):
        return False
    return sys.stderr.isatty()


def extract(
    model: nn.Module,
    stimuli: Any,
    layers: str | Sequence[str],
    *,
    stimulus_ids: Sequence[Any] | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    reduce: str | Callable = "flatten",
    n_components: int = 1000,
    seed: int = 0,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    out_dir: str | os.PathLike | None = None,
    early_stop: bool = True,
    progress: bool | None = None,
) -> dict[str, xr.DataArray]:
    """Run ``model`` on ``stimuli`` and record the outputs of ``layers``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module (torchvision and timm models included). It is put in eval mode and run
        under ``torch.no_grad()``; its train/eval state and device are restored afterwards.
    stimuli : tensor, array, DataArray, mapping or sequence
        - ``torch.Tensor`` or ``numpy.ndarray`` of shape (n_stimuli, ...), passed to the model
          as it is (integer arrays are cast to float, not rescaled);
        - an image ``xarray.DataArray`` with dims ('stimulus', 'height', 'width'[, 'channel'])
          (as the data loaders return), converted to (n_stimuli, channel, height, width) floats
          in [0, 1] and carrying its ``stimulus_id`` coord;
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
        How a layer output (batch, *features) becomes (batch, units): ``flatten`` keeps every
        element; ``avgpool`` averages over spatial dims (batch, channel, *space) -> (batch,
        channel); ``random_projection`` flattens and projects onto ``n_components`` seeded
        Gaussian directions (Johnson–Lindenstrauss). A callable maps (batch, ...) to (batch, units).
    n_components : int
        Output units of ``random_projection``.
    seed : int
        Seeds the random projection (one fixed matrix per layer).
    transform : callable, optional
        Applied to every batch tensor before the model (preprocessing, e.g. normalization).
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
        Show a progress bar; default: only on an interactive terminal and unless
        ``NEUROCOMPARE_QUIET`` is set.

    Returns
    -------
    dict of str to Responses
        One per layer, dims ('stimulus', 'unit') or ('stimulus', 'unit', 'time') for recurrent
        layers (an ``nn.RNN``/``GRU``/``LSTM`` output, or a module called once per time step).
        Coords: ``stimulus_id``, ``unit_id`` (``"<layer>.<index>"``) and ``layer``.

    Raises
    ------
    ValueError
        Unknown layer (the message lists close names), bad stimuli, fewer than 3 stimuli, or a
        layer that the forward pass never calls.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"extract() needs a torch.nn.Module; got {type(model).__name__}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    layer_names = _resolve_layers(model, layers)
    stim = _as_stimulus_set(stimuli, stimulus_ids)
    if stim.n < 3:
        raise ValueError(f"extract() needs at least 3 stimuli to make Responses; got {stim.n}.")
    dup = _duplicates(stim.ids)
    if dup:
        raise ValueError(f"stimulus_ids must be unique; repeated: {_short(dup)}.")
    reducer = _Reducer(reduce, n_components, seed)

    params = list(model.parameters()) + list(model.buffers())
    original_device = params[0].device if params else torch.device("cpu")
    run_device = torch.device(device) if device is not None else original_device
    if run_device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but no CUDA GPU is available; use device='cpu'.")
    was_training = model.training

    recorder = _Recorder(model, layer_names)
    sink: _MemorySink | _DiskSink = _MemorySink()
    if out_dir is not None:
        sink = _DiskSink(Path(out_dir), stim.ids, _reduce_name(reduce))
    streaming = out_dir is not None
    has_time: dict[str, bool] = {}
    starts = range(0, stim.n, batch_size)
    bar = None
    if _progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=stim.n, desc="extract", unit="stim")
    try:
        model.to(run_device)
        model.eval()
        with torch.no_grad():
            for start in starts:
                stop = min(start + batch_size, stim.n)
                batch = stim.get(start, stop).to(run_device)
                if transform is not None:
                    batch = transform(batch)
                try:
                    model(batch)
                except _StopForward:
                    pass
                recorded = recorder.take()
                if not early_stop:
                    recorder.expected_calls = None
                batch_values = {}
                for name, (out, t) in recorded.items():
                    has_time[name] = t
                    red = reducer(name, out, t)
                    if t:  # (batch, time, units) -> (batch, units, time)
                        red = red.transpose(1, 2)
                    batch_values[name] = red.float().cpu().numpy()
                if start == 0 and not streaming and memory_budget is not None:
                    per_stim = sum(v.nbytes for v in batch_values.values()) / (stop - start)
                    if per_stim * stim.n > memory_budget:
                        streaming = True
                        sink = _DiskSink(Path(tempfile.mkdtemp(prefix="neurocompare_acts_")), stim.ids, _reduce_name(reduce))
                for name, values in batch_values.items():
                    sink.write(name, start, values)
                if bar is not None:
                    bar.update(stop - start)
    finally:
        recorder.remove()
        model.train(was_training)
        model.to(original_device)
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
            "unit_id": ("unit", _unit_ids(name, n_units)),
            "layer": ("unit", np.full(n_units, name)),
        }
        arr = xr.DataArray(values, dims=dims, coords=coords, attrs={"layer": name, "reduce": _reduce_name(reduce)})
        results[name] = check_responses(arr)
    return results


def _reduce_name(reduce: str | Callable) -> str:
    return reduce if isinstance(reduce, str) else getattr(reduce, "__name__", "callable")
