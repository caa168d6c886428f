"""Model metamers: synthesis, validity checks and cross-model recognizability.

A *model metamer* of a natural image ``x0`` at layer ``l`` of a model ``f`` is an image ``x``
whose activations at that layer match, ``f_l(x) ≈ f_l(x0)``, although ``x`` was synthesised from
noise. Whether the metamers of one model are recognisable to other models (or to people) tells
how much the model's invariances are shared (Feather et al. 2023).

Three steps, three functions:

- :func:`synthesize_metamers` (or the stateful :class:`MetamerSynthesis`) drives the relative
  error ``‖f_l(x) − f_l(x0)‖ / ‖f_l(x0)‖`` toward zero for many images *and* many layers in one
  batch, on CPU or GPU, and returns a plain :class:`xarray.Dataset`::

      <xarray.Dataset>
      Dimensions:         (layer: 3, image: 16, channel: 1, height: 28, width: 28, iteration: 2400)
      Coordinates:
        * layer           (layer) <U11 'block1.relu' 'block2.relu' 'avgpool'
          stage           (layer) <U6 'early' 'middle' 'late'
          image_id        (image) <U9 'img_0000' ...
          label           (image) int64 7 2 1 ...                       optional
      Data variables:
          metamer         (layer, image, channel, height, width) float32
          original        (image, channel, height, width) float32
          loss            (layer, image, iteration) float32   relative error at each step
          relative_error  (layer, image) float32              after the last step
      Attributes:  model, method, config (JSON), seed, neurocompare_version, created

- :func:`check_validity` keeps a metamer only if (a) the Spearman correlation between its
  activations and the original's at the generating layer exceeds the largest correlation among
  random pairs of natural images (the null distribution) and (b) the generating model gives it the
  same predicted label as the original.
- :func:`recognizability` classifies every model's metamers with every judge model and returns a
  (generator, judge, stage) accuracy table with bootstrap confidence intervals and chance level.

Save and load results with :func:`save_metamers` / :func:`load_metamers` (NetCDF + a JSON
provenance file; no pickle).

References
----------
.. [1] Feather, J., Leclerc, G., Mądry, A. & McDermott, J. H. (2023). Model metamers reveal
   divergent invariances between biological and artificial neural networks. Nature
   Neuroscience 26, 2017–2034.
.. [2] Portilla, J. & Simoncelli, E. P. (2000). A parametric texture model based on joint
   statistics of complex wavelet coefficients. IJCV 40, 49–70 (metamer synthesis from noise).

Examples
--------
>>> import torch
>>> from torch import nn
>>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
>>> images = torch.rand(2, 1, 8, 8)
>>> ds = synthesize_metamers(model, ["1", "3"], images, steps_per_round=20, n_rounds=3,
...                          seed=0, progress=False)
>>> ds["metamer"].dims
('layer', 'image', 'channel', 'height', 'width')
>>> bool((ds["relative_error"] < ds["loss"].isel(iteration=0)).all())
True
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

__all__ = [
    "MetamerConfig",
    "MetamerSynthesis",
    "synthesize_metamers",
    "relative_error",
    "check_validity",
    "spearman_rows",
    "recognizability",
    "predict_labels",
    "save_metamers",
    "load_metamers",
    "METHODS",
]

METHODS = ("feather", "adam")
_EPS = 1e-12


# ----------------------------------------------------------------------------- small helpers
def _progress_enabled(progress: bool | None) -> bool:
    if os.environ.get("NEUROCOMPARE_QUIET", "") not in ("", "0"):
        return False
    if progress is not None:
        return bool(progress)
    return sys.stderr.isatty()


def _version() -> str:
    try:
        from neurocompare import __version__

        return str(__version__)
    except Exception:  # pragma: no cover - only when imported outside the package
        return "unknown"


def _layer_names(model: nn.Module) -> list[str]:
    try:
        from neurocompare.activations import list_layers

        return list_layers(model)
    except ImportError:  # pragma: no cover - activations.py absent
        return [name for name, _ in model.named_modules() if name]


def _unknown_layer_message(model: nn.Module, layer: Any) -> str:
    valid = _layer_names(model)
    try:
        from neurocompare.registry import close_matches_hint

        hint = close_matches_hint(str(layer), valid)
    except ImportError:  # pragma: no cover
        hint = ""
    return (
        f"Unknown layer {layer!r} for {type(model).__name__}.{hint} "
        f"Hint: use neurocompare.list_layers(model) to see all {len(valid)} layer names."
    )


def _check_model(model: Any, where: str) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{where} needs a torch.nn.Module as model; got {type(model).__name__}. "
            "Pass the network itself (e.g. neurocompare.models.build_model('convnet_small'))."
        )
    return model


def _resolve_layers(model: nn.Module, layers: Any, where: str) -> tuple[list[str], list[str]]:
    """Return (module names, stage names) from a str, a sequence or a {stage: module} mapping."""
    if isinstance(layers, str):
        names, stages = [layers], [layers]
    elif isinstance(layers, Mapping):
        stages = [str(k) for k in layers.keys()]
        names = [v for v in layers.values()]
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
    modules = dict(model.named_modules())
    for name in names:
        if not isinstance(name, str) or name not in modules or name == "":
            raise ValueError(_unknown_layer_message(model, name))
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: layer names repeat in {names}. Ask for each layer once.")
    if len(set(stages)) != len(stages):
        raise ValueError(f"{where}: stage names repeat in {stages}. Give each layer its own stage name.")
    return names, stages


def _as_images(images: Any, where: str) -> torch.Tensor:
    if isinstance(images, xr.DataArray):
        images = images.values
    if isinstance(images, np.ndarray):
        if not np.issubdtype(images.dtype, np.number):
            raise TypeError(f"{where}: images must be numeric; got dtype {images.dtype}.")
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{where}: images must be a torch.Tensor or numpy array of shape (n_images, channels, "
            f"height, width); got {type(images).__name__}."
        )
    if images.dim() < 2:
        raise ValueError(
            f"{where}: images must have a leading image axis, shape (n_images, channels, height, width); "
            f"got shape {tuple(images.shape)}. Add the batch axis with images[None]."
        )
    if images.shape[0] == 0:
        raise ValueError(f"{where}: got zero images (shape {tuple(images.shape)}); pass at least one.")
    images = images.detach().to(torch.float32)
    if not torch.isfinite(images).all():
        raise ValueError(f"{where}: images contain NaN or infinite values; clean them first.")
    return images


def _first_tensor(output: Any, layer: str) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(
        f"Layer {layer!r} returned {type(output).__name__}, not a tensor; choose a submodule that "
        "returns a tensor. Hint: use neurocompare.list_layers(model)."
    )


class _StopForward(Exception):
    """Raised by a hook once every needed layer has produced its output."""


def _default_device(model: nn.Module, device: Any) -> torch.device:
    if device is not None:
        return torch.device(device)
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


class _Hooks:
    """Forward hooks that capture layer outputs (with optional fake-ReLU rows) for one model.

    ``rows_of[layer]`` says which batch rows belong to which layer; ``fake[relu_module_name]`` is
    a boolean row mask of rows whose backward pass through that ReLU is the identity.
    """

    def __init__(self, model: nn.Module, layers: list[str], stop_early: bool) -> None:
        self.model = model
        self.layers = layers
        self.modules = dict(model.named_modules())
        self.outputs: dict[str, torch.Tensor] = {}
        self.stop_early = stop_early
        self.fake_masks: dict[str, torch.Tensor] = {}
        self.handles = []
        self._saved_inputs: dict[str, torch.Tensor] = {}
        for name in layers:
            self.handles.append(self.modules[name].register_forward_hook(self._capture(name)))

    def add_fake_relu(self, relu_name: str, mask: torch.Tensor) -> None:
        module = self.modules[relu_name]
        self.fake_masks[relu_name] = mask
        self.handles.append(module.register_forward_pre_hook(self._save_input(relu_name)))
        # run before the capture hooks so a captured ReLU output already carries the fake gradient
        self.handles.append(module.register_forward_hook(self._fake(relu_name), prepend=True))

    def _save_input(self, name: str):
        def pre_hook(_mod, inputs):
            self._saved_inputs[name] = inputs[0].clone() if getattr(_mod, "inplace", False) else inputs[0]

        return pre_hook

    def _fake(self, name: str):
        def hook(_mod, _inp, output):
            inp = self._saved_inputs.pop(name)
            mask = self.fake_masks[name]
            if mask.shape[0] != output.shape[0] or not torch.is_grad_enabled():
                return output
            # forward value stays relu(inp); for masked rows the gradient flows as through identity
            straight = inp + (output - inp).detach()
            shape = (-1,) + (1,) * (output.dim() - 1)
            return torch.where(mask.view(shape), straight, output)

        return hook

    def _capture(self, name: str):
        def hook(_mod, _inp, output):
            self.outputs[name] = _first_tensor(output, name)
            if self.stop_early and all(n in self.outputs for n in self.layers):
                raise _StopForward

        return hook

    def run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.outputs = {}
        try:
            self.model(x)
        except _StopForward:
            pass
        missing = [n for n in self.layers if n not in self.outputs]
        if missing:
            raise ValueError(
                f"Layer(s) {missing} were not called during the forward pass, so they have no "
                "activations. Choose layers the model's forward() uses. Hint: use "
                "neurocompare.list_layers(model)."
            )
        out, self.outputs = self.outputs, {}
        return out

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def _call_order(model: nn.Module, probe: torch.Tensor) -> tuple[list[str], dict[str, int]]:
    """Names of the leaf modules and layers in the order their forward passes finish, and call counts."""
    order: list[str] = []
    counts: dict[str, int] = {}
    handles = []
    for name, mod in model.named_modules():
        if not name:
            continue

        def hook(_m, _i, _o, name=name):
            order.append(name)
            counts[name] = counts.get(name, 0) + 1

        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(probe)
    finally:
        for h in handles:
            h.remove()
    return order, counts


def _last_relu_before(model: nn.Module, layer: str, order: list[str]) -> str | None:
    """The last ``nn.ReLU`` whose forward finished no later than ``layer``'s (in call order)."""
    modules = dict(model.named_modules())
    if layer not in order:
        return None
    end = max(i for i, n in enumerate(order) if n == layer)
    for name in reversed(order[: end + 1]):
        if isinstance(modules[name], nn.ReLU):
            return name
    return None


def relative_error(activation: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row relative error ``‖a − t‖₂ / ‖t‖₂`` between activations and targets.

    Parameters
    ----------
    activation, target : torch.Tensor, shape (n, ...)
        Row i of each is one image's activations at a layer (any trailing shape).

    Returns
    -------
    torch.Tensor, shape (n,)
        The denominator is clamped at 1e-12, so an all-zero target gives a large, finite error.
    """
    if activation.shape != target.shape:
        raise ValueError(
            f"relative_error() needs activations and targets of the same shape; got "
            f"{tuple(activation.shape)} and {tuple(target.shape)}."
        )
    a = activation.reshape(activation.shape[0], -1)
    t = target.reshape(target.shape[0], -1)
    return (a - t).norm(dim=1) / t.norm(dim=1).clamp_min(_EPS)


# ----------------------------------------------------------------------------- synthesis
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
        Seeds the initial noise (a private generator; global RNG untouched).
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
        te = self.target_error
        if te is not None:
            vals = list(te) if isinstance(te, (list, tuple, np.ndarray, torch.Tensor)) else [te]
            try:
                vals = [float(v) for v in vals]
            except (TypeError, ValueError):
                vals = [-1.0]
            if not vals or min(vals) < 0:
                raise ValueError(
                    f"The 'target_error' parameter must be None, a number >= 0 or one number >= 0 per "
                    f"image; got {te!r}."
                )
            self.target_error = vals if isinstance(te, (list, tuple, np.ndarray, torch.Tensor)) else vals[0]
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
        return self.n_rounds * self.steps_per_round if self.method == "feather" else self.max_iter


class MetamerSynthesis:
    """Synthesise metamers for several images at several layers of one model, as one batch.

    Parameters
    ----------
    model : torch.nn.Module
        Any differentiable model; it is moved to ``device`` and put in eval mode while
        synthesising (its previous train/eval mode is restored afterwards). Its parameters are
        never changed.
    layers : str, list of str, or dict {stage: module name}
        Modules (names from ``neurocompare.list_layers(model)``) whose outputs are matched. A dict
        also names each layer's *stage* (e.g. ``{'early': 'block1.relu'}``), which lets
        :func:`recognizability` line up layers of different architectures.
    images : torch.Tensor or numpy.ndarray, shape (n_images, channels, height, width)
        The natural images ``x0`` (any shape after the first axis works for non-image models).
    labels : sequence of int, optional, length n_images
        True class labels, stored with the result for :func:`recognizability`.
    image_ids : sequence of str, optional
        Names of the images; default ``img_0000`` ...
    device : str or torch.device, optional
        Where to synthesise; default the model's device.
    progress : bool, optional
        tqdm progress bar; silent with ``False`` or ``NEUROCOMPARE_QUIET=1``.
    **config
        Fields of :class:`MetamerConfig` (method, n_rounds, steps_per_round, step_size, lr,
        max_iter, tol, window, target_error, fake_relu, init_mean, init_std, pixel_range, seed,
        batch_size).

    Attributes (properties)
    -----------------------
    metamers : torch.Tensor, shape (n_layers, n_images, *image_shape)
    losses : torch.Tensor, shape (n_layers, n_images, n_iter_done + 1)
        Relative error before each step and after the last.
    relative_error : torch.Tensor, shape (n_layers, n_images)
    n_iter : int
        Steps taken so far.
    stopped : torch.Tensor of bool, shape (n_layers, n_images)

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(6, 4), nn.ReLU())
    >>> syn = MetamerSynthesis(model, "1", torch.rand(3, 6), n_rounds=2, steps_per_round=30,
    ...                        fake_relu=True, progress=False)
    >>> syn.synthesize(max_iter=10).n_iter
    10
    >>> syn.synthesize().n_iter
    60
    >>> syn.metamers.shape
    torch.Size([1, 3, 6])
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Any,
        images: Any,
        *,
        labels: Sequence[int] | None = None,
        image_ids: Sequence[str] | None = None,
        device: Any = None,
        progress: bool | None = None,
        **config: Any,
    ) -> None:
        where = "MetamerSynthesis"
        self.model = _check_model(model, where)
        unknown = set(config) - set(MetamerConfig.__dataclass_fields__)
        if unknown:
            raise TypeError(
                f"{where} got unknown setting(s) {sorted(unknown)}. "
                f"Available: {', '.join(MetamerConfig.__dataclass_fields__)}."
            )
        self.config = MetamerConfig(**config).validate()
        self.layers, self.stages = _resolve_layers(model, layers, where)
        images = _as_images(images, where)
        cfg = self.config
        if cfg.pixel_range is not None:
            lo, hi = cfg.pixel_range
            if images.min() < lo - 1e-6 or images.max() > hi + 1e-6:
                raise ValueError(
                    f"{where}: image values span [{images.min():.3g}, {images.max():.3g}], outside "
                    f"pixel_range {cfg.pixel_range}. Rescale the images (e.g. uint8 / 255) or pass "
                    "pixel_range=(low, high) (None for unconstrained)."
                )
        self.n_images = images.shape[0]
        if isinstance(cfg.target_error, list) and len(cfg.target_error) != self.n_images:
            raise ValueError(
                f"{where}: target_error has {len(cfg.target_error)} values; give one number, or one per "
                f"image ({self.n_images})."
            )
        self.image_shape = tuple(images.shape[1:])
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (self.n_images,) or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(
                    f"{where}: labels must be {self.n_images} integers (one per image); got "
                    f"shape {labels.shape}, dtype {labels.dtype}."
                )
        self.labels = labels
        if image_ids is None:
            image_ids = [f"img_{i:04d}" for i in range(self.n_images)]
        image_ids = [str(i) for i in image_ids]
        if len(image_ids) != self.n_images or len(set(image_ids)) != self.n_images:
            raise ValueError(
                f"{where}: image_ids must be {self.n_images} unique names; got {len(image_ids)} "
                f"({len(set(image_ids))} unique)."
            )
        self.image_ids = image_ids
        self.device = _default_device(model, device)
        self.progress = progress
        self.model.to(self.device)
        self.originals = images.to(self.device)

        n_rows = len(self.layers) * self.n_images
        self._layer_of_row = torch.arange(len(self.layers), device=self.device).repeat_interleave(self.n_images)
        with self._eval_mode():
            try:
                order, counts = _call_order(self.model, self.originals[:1])
            except RuntimeError as err:
                raise ValueError(
                    f"{where}: {type(self.model).__name__} failed on images of shape "
                    f"{tuple(images.shape)} (n_images, *image_shape): {str(err).splitlines()[0]} "
                    "Pass images of the shape the model expects, e.g. (n, channels, height, width)."
                ) from err
            self._stop_early = all(counts.get(n, 0) == 1 for n in self.layers)
            self._relu_for = {}
            if cfg.fake_relu:
                for layer in self.layers:
                    relu = _last_relu_before(self.model, layer, order)
                    if relu is not None:
                        self._relu_for[layer] = relu
                if not self._relu_for:
                    raise ValueError(
                        f"fake_relu=True, but no nn.ReLU runs before any of the layers {self.layers}. "
                        "Use fake_relu=False, or pick layers after a ReLU."
                    )
            hooks = _Hooks(self.model, self.layers, self._stop_early)
            try:
                with torch.no_grad():
                    targets = []
                    for start in range(0, self.n_images, self._rows_per_batch(self.n_images)):
                        out = hooks.run(self.originals[start : start + self._rows_per_batch(self.n_images)])
                        targets.append(out)
                self._targets = {n: torch.cat([t[n] for t in targets]).detach() for n in self.layers}
            finally:
                hooks.remove()
        # initial noise from a private generator (CPU, so seeds reproduce across devices)
        gen = torch.Generator().manual_seed(int(cfg.seed))
        x = cfg.init_mean + cfg.init_std * torch.randn((n_rows,) + self.image_shape, generator=gen)
        if cfg.pixel_range is not None:
            x = x.clamp(*cfg.pixel_range)
        self._x = x.to(self.device)
        self._m = torch.zeros_like(self._x) if cfg.method == "adam" else None
        self._v = torch.zeros_like(self._x) if cfg.method == "adam" else None
        self._t = torch.zeros(n_rows, dtype=torch.long, device=self.device)
        self._stopped = torch.zeros(n_rows, dtype=torch.bool, device=self.device)
        self._loss_hist: list[torch.Tensor] = []
        self._final_err: torch.Tensor | None = None
        self._n_iter = 0
        self._checked = False

    # ------------------------------------------------------------------ internals
    def _rows_per_batch(self, n: int) -> int:
        return n if self.config.batch_size is None else min(n, self.config.batch_size)

    class _EvalMode:
        def __init__(self, model: nn.Module) -> None:
            self.model = model

        def __enter__(self):
            self.modes = [(m, m.training) for m in self.model.modules()]
            self.model.eval()
            return self

        def __exit__(self, *exc):
            for m, mode in self.modes:
                m.train(mode)
            return False

    def _eval_mode(self):
        return MetamerSynthesis._EvalMode(self.model)

    def _target_rows(self, rows: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """For each layer, (positions within ``rows``, target activations) of its rows."""
        out = {}
        layer_idx = self._layer_of_row[rows]
        for li, name in enumerate(self.layers):
            pos = torch.nonzero(layer_idx == li).flatten()
            if pos.numel():
                img = rows[pos] - li * self.n_images
                out[name] = (pos, self._targets[name][img])
        return out

    def _loss_and_grad(self, hooks: _Hooks, rows: torch.Tensor, need_grad: bool = True):
        x = self._x[rows].detach().requires_grad_(need_grad)
        if self._relu_for:
            layer_idx = self._layer_of_row[rows]
            masks: dict[str, torch.Tensor] = {}
            for li, name in enumerate(self.layers):
                relu = self._relu_for.get(name)
                if relu is not None:
                    m = layer_idx == li
                    masks[relu] = masks[relu] | m if relu in masks else m
            for relu, m in masks.items():
                hooks.fake_masks[relu] = m
        with torch.set_grad_enabled(need_grad):
            acts = hooks.run(x)
            err = torch.empty(rows.numel(), device=self.device)
            total = 0.0
            for name, (pos, target) in self._target_rows(rows).items():
                a = acts[name][pos]
                if a.shape != target.shape:
                    raise ValueError(
                        f"Layer {name!r} gave activations of shape {tuple(a.shape[1:])} for the "
                        f"metamers but {tuple(target.shape[1:])} for the originals; the layer's output "
                        "shape must not depend on the input values."
                    )
                if need_grad and not a.requires_grad:
                    raise ValueError(
                        f"Layer {name!r}: layer does not depend on the input (its output carries no "
                        "gradient: it is detached or constant), so no metamer can be synthesised "
                        "there. Pick another layer. Hint: use neurocompare.list_layers(model)."
                    )
                e = relative_error(a, target)
                err[pos] = e.detach()
                total = total + e.sum()
        if not need_grad:
            return err, None
        (grad,) = torch.autograd.grad(total, x, allow_unused=True)
        if grad is None:
            raise ValueError(
                f"Layers {self.layers}: layer does not depend on the input (no gradient reaches the "
                "image), so no metamer can be synthesised there. Pick another layer. Hint: use "
                "neurocompare.list_layers(model)."
            )
        return err, grad

    def _check_dependence(self, grad: torch.Tensor, rows: torch.Tensor, err: torch.Tensor) -> None:
        g = grad.reshape(grad.shape[0], -1).norm(dim=1)
        layer_idx = self._layer_of_row[rows]
        for li, name in enumerate(self.layers):
            sel = layer_idx == li
            if sel.any() and bool((g[sel] == 0).all()):
                raise ValueError(
                    f"Layer {name!r}: layer does not depend on the input (the gradient of the "
                    "activation error with respect to the image is zero everywhere), so no metamer "
                    "can be synthesised there. Pick another layer, or try fake_relu=True if the "
                    "layer is a ReLU whose units are all off."
                )

    def _step(self, rows: torch.Tensor, grad: torch.Tensor, it: int) -> None:
        cfg = self.config
        x = self._x[rows]
        if cfg.method == "feather":
            size = cfg.step_size * 0.5 ** min(it // cfg.steps_per_round, cfg.n_rounds - 1)
            norm = grad.reshape(grad.shape[0], -1).norm(dim=1).clamp_min(_EPS)
            x = x - size * grad / norm.view((-1,) + (1,) * (grad.dim() - 1))
        else:
            b1, b2, eps = 0.9, 0.999, 1e-8
            m = b1 * self._m[rows] + (1 - b1) * grad
            v = b2 * self._v[rows] + (1 - b2) * grad * grad
            t = (self._t[rows] + 1).to(x.dtype).view((-1,) + (1,) * (grad.dim() - 1))
            mhat = m / (1 - b1**t)
            vhat = v / (1 - b2**t)
            x = x - cfg.lr * mhat / (vhat.sqrt() + eps)
            self._m[rows] = m
            self._v[rows] = v
        if cfg.pixel_range is not None:
            x = x.clamp(*cfg.pixel_range)
        self._x[rows] = x.detach()
        self._t[rows] += 1

    def _stop_rule(self, rows: torch.Tensor, err: torch.Tensor) -> torch.Tensor:
        """Mark rows whose error ``err`` (before this step) meets a stopping rule; return the mask."""
        cfg = self.config
        stop = torch.zeros_like(rows, dtype=torch.bool)
        if cfg.target_error is not None:
            if isinstance(cfg.target_error, list):
                targets = torch.tensor(cfg.target_error, device=self.device, dtype=err.dtype)
                stop |= err <= targets[rows % self.n_images]
            else:
                stop |= err <= cfg.target_error
        if cfg.tol is not None and len(self._loss_hist) >= cfg.window:
            past = self._loss_hist[-cfg.window][rows]
            stop |= (past - err).abs() < cfg.tol
        self._stopped[rows] |= stop
        return stop

    def _last_errors(self) -> torch.Tensor:
        """Errors of the current state for stopped rows (active rows are overwritten each step)."""
        if self._loss_hist:
            return self._loss_hist[-1].clone()
        return torch.full((self._x.shape[0],), float("nan"), device=self.device)

    # ------------------------------------------------------------------ public API
    def synthesize(self, max_iter: int | None = None) -> MetamerSynthesis:
        """Run (or continue) the synthesis for up to ``max_iter`` more steps.

        Parameters
        ----------
        max_iter : int, optional
            Steps to take now; default: until the schedule ends (``n_rounds × steps_per_round``
            for ``'feather'``, ``max_iter`` for ``'adam'``) or every metamer has stopped.
            Calling again continues exactly where the last call ended.

        Returns
        -------
        MetamerSynthesis
            ``self``, so ``syn.synthesize().metamers`` works.
        """
        remaining = self.config.total_iter - self._n_iter
        if max_iter is not None:
            if not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
                raise ValueError(f"max_iter must be a non-negative integer; got {max_iter!r}.")
            remaining = min(remaining, int(max_iter))
        from tqdm import tqdm

        n_rows = self._x.shape[0]
        bs = self._rows_per_batch(n_rows)
        with self._eval_mode():
            hooks = _Hooks(self.model, self.layers, self._stop_early)
            for relu in set(self._relu_for.values()):
                hooks.add_fake_relu(relu, torch.zeros(1, dtype=torch.bool, device=self.device))
            try:
                bar = tqdm(
                    total=remaining,
                    desc=f"metamers ({n_rows} = {len(self.layers)} layers × {self.n_images} images)",
                    disable=not _progress_enabled(self.progress),
                    leave=False,
                )
                for _ in range(remaining):
                    active = torch.nonzero(~self._stopped).flatten()
                    if active.numel() == 0:
                        break
                    err_k = self._last_errors()
                    for start in range(0, active.numel(), bs):
                        rows = active[start : start + bs]
                        err, grad = self._loss_and_grad(hooks, rows)
                        if not self._checked:
                            self._check_dependence(grad, rows, err)
                        err_k[rows] = err
                        go = ~self._stop_rule(rows, err)
                        if go.any():
                            self._step(rows[go], grad[go], self._n_iter)
                    self._checked = True
                    self._loss_hist.append(err_k)
                    self._final_err = None
                    self._n_iter += 1
                    if bar.n % 25 == 0:
                        bar.set_postfix(rel_error=f"{float(err_k.mean()):.3g}")
                    bar.update(1)
                bar.close()
            finally:
                hooks.remove()
        return self

    def _current_error_all(self, hooks: _Hooks) -> torch.Tensor:
        n_rows = self._x.shape[0]
        bs = self._rows_per_batch(n_rows)
        err = torch.empty(n_rows, device=self.device)
        for start in range(0, n_rows, bs):
            rows = torch.arange(start, min(start + bs, n_rows), device=self.device)
            e, _ = self._loss_and_grad(hooks, rows, need_grad=False)
            err[rows] = e
        return err

    def _shape_rows(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape((len(self.layers), self.n_images) + tuple(t.shape[1:]))

    @property
    def n_iter(self) -> int:
        """Steps taken so far."""
        return self._n_iter

    @property
    def metamers(self) -> torch.Tensor:
        """Current metamers, shape (n_layers, n_images, *image_shape), on ``device``."""
        return self._shape_rows(self._x.detach().clone())

    @property
    def losses(self) -> torch.Tensor:
        """Relative error before each step and after the last, shape (n_layers, n_images, n_iter + 1) (CPU)."""
        if self._final_err is None:
            with self._eval_mode():
                hooks = _Hooks(self.model, self.layers, self._stop_early)
                try:
                    self._final_err = self._current_error_all(hooks)
                finally:
                    hooks.remove()
        hist = self._loss_hist + [self._final_err]
        return self._shape_rows(torch.stack(hist, dim=1).cpu())

    @property
    def relative_error(self) -> torch.Tensor:
        """Relative error of the current metamers, shape (n_layers, n_images) (CPU)."""
        return self.losses[..., -1]

    @property
    def stopped(self) -> torch.Tensor:
        """Which metamers met a stopping rule, shape (n_layers, n_images)."""
        return self._shape_rows(self._stopped.cpu())

    @property
    def targets(self) -> dict[str, torch.Tensor]:
        """Activations of the original images at each layer, {layer: (n_images, ...)}."""
        return dict(self._targets)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: plain arrays and a JSON string (no pickle)."""
        state = {
            "x": self._x.cpu().numpy(),
            "t": self._t.cpu().numpy(),
            "stopped": self._stopped.cpu().numpy(),
            "n_iter": np.array(self._n_iter),
            "checked": np.array(self._checked),
            "loss_hist": (
                torch.stack(self._loss_hist, 1).cpu().numpy()
                if self._loss_hist
                else np.zeros((self._x.shape[0], 0), np.float32)
            ),
            "config_json": np.array(json.dumps(self._provenance())),
        }
        if self._m is not None:
            state["m"] = self._m.cpu().numpy()
            state["v"] = self._v.cpu().numpy()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> MetamerSynthesis:
        """Restore a state from :meth:`state_dict` (same model, layers, images and config)."""
        try:
            saved = json.loads(str(np.asarray(state["config_json"])))
            x = np.asarray(state["x"])
        except KeyError as err:
            raise ValueError(f"Not a MetamerSynthesis state: key {err} is missing.") from None
        mine = self._provenance()
        for key in ("layers", "config", "image_shape", "n_images"):
            if saved.get(key) != mine.get(key):
                raise ValueError(
                    f"Cannot resume: the saved synthesis has {key}={saved.get(key)!r} but this one has "
                    f"{mine.get(key)!r}. Build the MetamerSynthesis with the same settings."
                )
        if x.shape != tuple(self._x.shape):
            raise ValueError(f"Cannot resume: saved metamers have shape {x.shape}, expected {tuple(self._x.shape)}.")
        dev = self.device
        self._x = torch.as_tensor(x, device=dev).clone()
        self._t = torch.as_tensor(np.asarray(state["t"]), device=dev).clone()
        self._stopped = torch.as_tensor(np.asarray(state["stopped"]), device=dev).clone()
        self._n_iter = int(np.asarray(state["n_iter"]))
        self._checked = bool(np.asarray(state["checked"]))
        hist = torch.as_tensor(np.asarray(state["loss_hist"]), device=dev)
        self._loss_hist = [hist[:, i].clone() for i in range(hist.shape[1])]
        self._final_err = None
        if self._m is not None:
            self._m = torch.as_tensor(np.asarray(state["m"]), device=dev).clone()
            self._v = torch.as_tensor(np.asarray(state["v"]), device=dev).clone()
        return self

    def save_state(self, path: str | os.PathLike) -> Path:
        """Write the resumable state to ``path`` (.npz, loadable without pickle)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **self.state_dict())
        return path

    def load_state(self, path: str | os.PathLike) -> MetamerSynthesis:
        """Resume from a file written by :meth:`save_state`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No synthesis state at {path}; write one with save_state(path).")
        with np.load(path, allow_pickle=False) as f:
            return self.load_state_dict({k: f[k] for k in f.files})

    def _provenance(self) -> dict[str, Any]:
        cfg = asdict(self.config)
        if cfg["pixel_range"] is not None:
            cfg["pixel_range"] = list(cfg["pixel_range"])
        return {
            "model": type(self.model).__name__,
            "layers": list(self.layers),
            "stages": list(self.stages),
            "config": cfg,
            "image_shape": list(self.image_shape),
            "n_images": self.n_images,
        }

    def to_dataset(self) -> xr.Dataset:
        """The result as a plain :class:`xarray.Dataset` (see the module docstring for its repr)."""
        img_dims = (
            ("channel", "height", "width")
            if len(self.image_shape) == 3
            else tuple(f"dim_{k}" for k in range(len(self.image_shape)))
        )
        losses = self.losses.numpy().astype(np.float32)
        coords: dict[str, Any] = {
            "layer": ("layer", np.array(self.layers)),
            "stage": ("layer", np.array(self.stages)),
            "image_id": ("image", np.array(self.image_ids)),
            "iteration": ("iteration", np.arange(losses.shape[-1])),
        }
        if self.labels is not None:
            coords["label"] = ("image", self.labels.astype(np.int64))
        prov = self._provenance()
        ds = xr.Dataset(
            {
                "metamer": (("layer", "image") + img_dims, self.metamers.cpu().numpy().astype(np.float32)),
                "original": (("image",) + img_dims, self.originals.cpu().numpy().astype(np.float32)),
                "loss": (("layer", "image", "iteration"), losses),
                "relative_error": (("layer", "image"), losses[..., -1]),
                "stopped": (("layer", "image"), self.stopped.numpy()),
            },
            coords=coords,
            attrs={
                "model": prov["model"],
                "method": self.config.method,
                "seed": int(self.config.seed),
                "n_iter": int(self._n_iter),
                "config": json.dumps(prov["config"]),
                "neurocompare_version": _version(),
                "torch_version": str(torch.__version__),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "reference": "Feather et al. 2023, Nature Neuroscience 26:2017-2034",
            },
        )
        return ds


def synthesize_metamers(
    model: nn.Module,
    layers: Any,
    images: Any,
    *,
    labels: Sequence[int] | None = None,
    image_ids: Sequence[str] | None = None,
    device: Any = None,
    progress: bool | None = None,
    model_name: str | None = None,
    **config: Any,
) -> xr.Dataset:
    """Synthesise model metamers of ``images`` at ``layers`` of ``model`` (all in one batch).

    Every (layer, image) pair is one row of a single batch: each forward pass records all layers
    with hooks (and stops after the deepest one), each row's gradient is normalised on its own, so
    the rows never influence each other and the result equals synthesising them one by one.

    Parameters
    ----------
    model : torch.nn.Module
    layers : str, list of str, or dict {stage: module name}
        See :class:`MetamerSynthesis`.
    images : torch.Tensor or numpy.ndarray, shape (n_images, channels, height, width)
        Natural images inside ``pixel_range`` (default [0, 1]).
    labels : sequence of int, optional
        True labels, kept as the ``label`` coordinate.
    image_ids : sequence of str, optional
    device : str or torch.device, optional
    progress : bool, optional
    model_name : str, optional
        Stored as the ``model`` attribute (default: the class name).
    **config
        :class:`MetamerConfig` fields; defaults follow Feather et al. 2023 (noise N(0.5, 0.05),
        normalised-gradient steps, step size halved each round).

    Returns
    -------
    xarray.Dataset
        ``metamer`` (layer, image, channel, height, width), ``original`` (image, ...), ``loss``
        (layer, image, iteration), ``relative_error`` (layer, image), ``stopped``; coords
        ``layer``, ``stage``, ``image_id``, ``label`` (when given); provenance in ``attrs``.

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module``; images are not an array; unknown settings.
    ValueError
        Unknown layer (the message lists close names and points to
        ``neurocompare.list_layers``); images of the wrong shape or outside ``pixel_range``; a
        layer that does not depend on the input.

    References
    ----------
    Feather, Leclerc, Mądry & McDermott (2023), Nature Neuroscience 26, 2017–2034.
    """
    syn = MetamerSynthesis(
        model, layers, images, labels=labels, image_ids=image_ids, device=device, progress=progress, **config
    )
    ds = syn.synthesize().to_dataset()
    if model_name is not None:
        ds.attrs["model"] = str(model_name)
    return ds


# ----------------------------------------------------------------------------- activations
def _layer_activations(
    model: nn.Module, layer: str, images: torch.Tensor, batch_size: int = 256, device: Any = None
) -> torch.Tensor:
    """Flattened activations (n, units) of ``images`` at ``layer`` (eval mode, no grad, CPU out)."""
    dev = _default_device(model, device)
    hooks = _Hooks(model, [layer], stop_early=True)
    outs = []
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, images.shape[0], batch_size):
                a = hooks.run(images[start : start + batch_size].to(dev))[layer]
                outs.append(a.reshape(a.shape[0], -1).float().cpu())
    finally:
        hooks.remove()
        for m, mode in modes:
            m.train(mode)
    return torch.cat(outs)


def predict_labels(model: nn.Module, images: Any, *, batch_size: int = 256, device: Any = None) -> np.ndarray:
    """Predicted class (argmax of the model's output) for each image.

    Parameters
    ----------
    model : torch.nn.Module
        Returns logits of shape (batch, n_classes).
    images : array-like, shape (n_images, ...)

    Returns
    -------
    numpy.ndarray of int64, shape (n_images,)
    """
    model = _check_model(model, "predict_labels()")
    images = _as_images(images, "predict_labels()")
    dev = _default_device(model, device)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    preds = []
    try:
        with torch.no_grad():
            for start in range(0, images.shape[0], batch_size):
                out = model(images[start : start + batch_size].to(dev))
                if not isinstance(out, torch.Tensor) or out.dim() != 2:
                    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    raise ValueError(
                        f"predict_labels() needs a classifier whose output has shape (batch, n_classes); "
                        f"got {shape}. Wrap the model so forward() returns logits."
                    )
                preds.append(out.argmax(1).cpu())
    finally:
        for m, mode in modes:
            m.train(mode)
    return torch.cat(preds).numpy().astype(np.int64)


def spearman_rows(a: Any, b: Any) -> np.ndarray:
    """Spearman correlation between row i of ``a`` and row i of ``b`` (ties get average ranks).

    Parameters
    ----------
    a, b : array-like, shape (n, units)

    Returns
    -------
    numpy.ndarray, shape (n,)
        NaN where a row is constant.
    """
    from scipy.stats import rankdata

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"spearman_rows() needs two arrays of the same shape (n, units); got {a.shape} and {b.shape}.")
    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    den = np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(1) / np.where(den > 0, den, 1.0), np.nan)


def _check_dataset(ds: Any, where: str) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset) or "metamer" not in ds or "original" not in ds:
        raise TypeError(
            f"{where} needs a metamer Dataset from synthesize_metamers() (with variables 'metamer' and "
            f"'original'); got {type(ds).__name__}."
        )
    return ds


def check_validity(
    model: nn.Module,
    metamers: xr.Dataset,
    null_images: Any,
    *,
    n_null_pairs: int = 1000,
    seed: int = 0,
    batch_size: int = 256,
    device: Any = None,
) -> xr.Dataset:
    """Which metamers are valid: activation match beats a natural-image null, and labels agree.

    A metamer is valid when (a) the Spearman ρ between its activations and the original's at the
    generating layer exceeds the maximum ρ over ``n_null_pairs`` random pairs of distinct natural
    images at that layer, and (b) the generating ``model`` predicts the same label for the
    metamer as for the original (Feather et al. 2023, Methods "Metamer validation").

    Parameters
    ----------
    model : torch.nn.Module
        The generating model (a classifier returning logits (batch, n_classes)).
    metamers : xarray.Dataset
        From :func:`synthesize_metamers` with this model.
    null_images : array-like, shape (n_null, channels, height, width)
        Natural images for the null distribution (ideally not the originals), n_null >= 2.
    n_null_pairs : int
        Random distinct pairs drawn for the null.
    seed : int
        Seeds the pair draw.

    Returns
    -------
    xarray.Dataset
        dims (layer, image): ``spearman``, ``activation_match``, ``label_original``,
        ``label_metamer``, ``label_match``, ``valid``; dims (layer,): ``null_max``, ``n_units``
        and ``attainable`` (False where some natural pair already reaches ρ = 1, as happens for
        layers with few units such as 10 logits: no metamer can pass (a) there, so read that
        layer's validity as undefined rather than as failed); and ``null`` (layer, pair).
    """
    model = _check_model(model, "check_validity()")
    ds = _check_dataset(metamers, "check_validity()")
    null = _as_images(null_images, "check_validity()")
    if null.shape[0] < 2:
        raise ValueError(f"check_validity() needs at least 2 null images to form pairs; got {null.shape[0]}.")
    if tuple(null.shape[1:]) != tuple(ds["original"].shape[1:]):
        raise ValueError(
            f"check_validity(): null images have shape {tuple(null.shape[1:])} but the metamers have "
            f"{tuple(ds['original'].shape[1:])}; use natural images of the same shape."
        )
    if not isinstance(n_null_pairs, int) or n_null_pairs < 1:
        raise ValueError(f"n_null_pairs must be a positive integer; got {n_null_pairs!r}.")
    modules = dict(model.named_modules())
    for layer in ds["layer"].values:
        if str(layer) not in modules:
            raise ValueError(_unknown_layer_message(model, str(layer)) + " (Is this the generating model?)")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, null.shape[0], n_null_pairs)
    j = (i + rng.integers(1, null.shape[0], n_null_pairs)) % null.shape[0]  # j != i
    original = torch.from_numpy(ds["original"].values)
    lab_orig = predict_labels(model, original, batch_size=batch_size, device=device)
    rho, null_rho, lab_met, n_units = [], [], [], []
    for li, layer in enumerate(ds["layer"].values):
        layer = str(layer)
        met = torch.from_numpy(ds["metamer"].values[li])
        a_met = _layer_activations(model, layer, met, batch_size, device)
        a_orig = _layer_activations(model, layer, original, batch_size, device)
        a_null = _layer_activations(model, layer, null, batch_size, device)
        n_units.append(int(a_met.shape[1]))
        rho.append(spearman_rows(a_met.numpy(), a_orig.numpy()))
        null_rho.append(spearman_rows(a_null[i].numpy(), a_null[j].numpy()))
        lab_met.append(predict_labels(model, met, batch_size=batch_size, device=device))
    rho_a = np.stack(rho)
    null_a = np.stack(null_rho)
    null_max = np.nanmax(null_a, axis=1)
    # with few units (e.g. 10 logits) some natural pairs rank identically: rho = 1 cannot be beaten
    attainable = null_max < 1.0 - 1e-12
    match = rho_a > null_max[:, None]
    lab_met_a = np.stack(lab_met)
    label_match = lab_met_a == lab_orig[None, :]
    coords = {k: v for k, v in ds.coords.items() if set(v.dims) <= {"layer", "image"}}
    return xr.Dataset(
        {
            "spearman": (("layer", "image"), rho_a),
            "null": (("layer", "pair"), null_a),
            "null_max": (("layer",), null_max),
            "n_units": (("layer",), np.array(n_units)),
            "attainable": (("layer",), attainable),
            "activation_match": (("layer", "image"), match),
            "label_original": (("image",), lab_orig),
            "label_metamer": (("layer", "image"), lab_met_a),
            "label_match": (("layer", "image"), label_match),
            "valid": (("layer", "image"), match & label_match),
        },
        coords=coords,
        attrs={"n_null_pairs": n_null_pairs, "seed": seed, "criterion": "spearman > max(null) and same label"},
    )


# ----------------------------------------------------------------------------- recognizability
def recognizability(
    metamers: Mapping[str, xr.Dataset],
    judge_models: Mapping[str, nn.Module],
    *,
    valid: Mapping[str, Any] | None = None,
    n_classes: int | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    batch_size: int = 256,
    device: Any = None,
    per_image: bool = False,
) -> xr.Dataset:
    """Classify every generator's metamers with every judge: accuracy by (generator, judge, stage).

    Parameters
    ----------
    metamers : dict {generator name: metamer Dataset}
        Each from :func:`synthesize_metamers`, with a ``label`` coordinate (true classes). Layers
        are lined up across generators by their ``stage`` coordinate (pass layers as
        ``{stage: module}`` when architectures differ).
    judge_models : dict {judge name: nn.Module}
        Classifiers returning logits (batch, n_classes); generators may be judges too.
    valid : dict {generator name: bool array (layer, image)}, optional
        Only these metamers are scored (e.g. ``check_validity(...)['valid']``).
    n_classes : int, optional
        For the chance level; default inferred from the first judge's output width.
    n_boot : int
        Bootstrap resamples of the images (the same resamples for every cell); 0 skips CIs.
    ci : float
        Confidence level of the percentile interval.
    per_image : bool
        Also return ``correct`` (generator, judge, stage, image): 1.0 / 0.0 per metamer, NaN where
        not scored; needs the same number of images for every generator. Use it for paired
        bootstraps across generators (same images).

    Returns
    -------
    xarray.Dataset
        dims (generator, judge, stage): ``accuracy``, ``ci_low``, ``ci_high``, ``n`` (metamers
        scored); dims (generator, judge): ``accuracy_natural`` (judge on the original images);
        attrs ``chance`` = 1 / n_classes, ``ci``, ``n_boot``, ``seed``.
    """
    if not isinstance(metamers, Mapping) or not metamers:
        raise TypeError(
            "recognizability() needs a non-empty dict {generator name: metamer Dataset}; got "
            f"{type(metamers).__name__}."
        )
    if not isinstance(judge_models, Mapping) or not judge_models:
        raise TypeError(
            "recognizability() needs a non-empty dict {judge name: nn.Module}; got "
            f"{type(judge_models).__name__}."
        )
    for name, m in judge_models.items():
        _check_model(m, f"recognizability() judge {name!r}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1); got {ci!r}.")
    if not isinstance(n_boot, int) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer; got {n_boot!r}.")
    gens = list(metamers)
    stages: list[str] | None = None
    for g in gens:
        ds = _check_dataset(metamers[g], f"recognizability() generator {g!r}")
        if "label" not in ds.coords:
            raise ValueError(
                f"recognizability(): metamers of {g!r} carry no 'label' coordinate; pass labels= to "
                "synthesize_metamers()."
            )
        st = [str(s) for s in (ds["stage"].values if "stage" in ds.coords else ds["layer"].values)]
        if stages is None:
            stages = st
        elif set(st) != set(stages):
            raise ValueError(
                f"recognizability(): generator {g!r} has stages {st} but {gens[0]!r} has {stages}. "
                "Pass layers as {stage: module name} to synthesize_metamers() so they line up."
            )
    judges = list(judge_models)
    if n_classes is None:
        judge = judge_models[judges[0]]
        modes = [(m, m.training) for m in judge.modules()]
        judge.eval()
        try:
            with torch.no_grad():
                x = torch.from_numpy(metamers[gens[0]]["original"].values[:1])
                n_classes = int(judge(x.to(_default_device(judge, device))).shape[-1])
        finally:
            for m, mode in modes:
                m.train(mode)
    if not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
    rng = np.random.default_rng(seed)
    alpha = (1 - ci) / 2
    shape = (len(gens), len(judges), len(stages))
    acc = np.full(shape, np.nan)
    lo = np.full(shape, np.nan)
    hi = np.full(shape, np.nan)
    count = np.zeros(shape, dtype=np.int64)
    nat = np.full((len(gens), len(judges)), np.nan)
    n_imgs = {metamers[g].sizes["image"] for g in gens}
    if per_image and len(n_imgs) != 1:
        raise ValueError(
            f"recognizability(per_image=True) needs the same number of images for every generator; got "
            f"{sorted(n_imgs)}."
        )
    per = np.full(shape + (max(n_imgs),), np.nan) if per_image else None
    for gi, g in enumerate(gens):
        ds = metamers[g]
        labels = ds["label"].values
        st = [str(s) for s in (ds["stage"].values if "stage" in ds.coords else ds["layer"].values)]
        n_img = ds.sizes["image"]
        mask = np.ones((ds.sizes["layer"], n_img), dtype=bool)
        if valid is not None and g in valid:
            mask = np.asarray(valid[g], dtype=bool)
            if mask.shape != (ds.sizes["layer"], n_img):
                raise ValueError(
                    f"recognizability(): valid[{g!r}] has shape {mask.shape}; expected (layer, image) = "
                    f"{(ds.sizes['layer'], n_img)}."
                )
        boot = rng.integers(0, n_img, (n_boot, n_img)) if n_boot else None
        for ji, j in enumerate(judges):
            judge = judge_models[j]
            nat[gi, ji] = float(
                np.mean(predict_labels(judge, ds["original"].values, batch_size=batch_size, device=device) == labels)
            )
            for li in range(ds.sizes["layer"]):
                si = stages.index(st[li])
                pred = predict_labels(judge, ds["metamer"].values[li], batch_size=batch_size, device=device)
                correct = (pred == labels).astype(float)
                m = mask[li]
                if per is not None:
                    per[gi, ji, si] = np.where(m, correct, np.nan)
                count[gi, ji, si] = int(m.sum())
                if not m.any():
                    continue
                acc[gi, ji, si] = correct[m].mean()
                if boot is not None:
                    num = (correct * m)[boot].sum(1)
                    den = m[boot].sum(1)
                    vals = num[den > 0] / den[den > 0]
                    lo[gi, ji, si], hi[gi, ji, si] = np.quantile(vals, [alpha, 1 - alpha])
    dims = ("generator", "judge", "stage")
    data = {
        "accuracy": (dims, acc),
        "ci_low": (dims, lo),
        "ci_high": (dims, hi),
        "n": (dims, count),
        "accuracy_natural": (("generator", "judge"), nat),
    }
    if per is not None:
        data["correct"] = (dims + ("image",), per)
    return xr.Dataset(
        data,
        coords={"generator": gens, "judge": judges, "stage": stages},
        attrs={"chance": 1.0 / n_classes, "ci": ci, "n_boot": n_boot, "seed": seed},
    )


# ----------------------------------------------------------------------------- save / load
def save_metamers(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a metamer Dataset to NetCDF (``path``) plus a JSON provenance file beside it.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`synthesize_metamers` (or :meth:`MetamerSynthesis.to_dataset`).
    path : str or PathLike
        Target ``.nc`` file; ``<path>.json`` gets the attributes as readable JSON.

    Returns
    -------
    pathlib.Path
        The NetCDF file written.
    """
    ds = _check_dataset(ds, "save_metamers()")
    path = Path(path)
    if path.suffix != ".nc":
        path = path.with_suffix(".nc")
    path.parent.mkdir(parents=True, exist_ok=True)
    out = ds.copy()
    if "stopped" in out:
        out["stopped"] = out["stopped"].astype(np.int8)
    for var in out.variables.values():
        if var.dtype.kind == "U":  # h5netcdf stores them as variable-length strings
            var.encoding["dtype"] = str
    out.to_netcdf(path, engine="h5netcdf")
    prov = {k: (json.loads(v) if k == "config" else v) for k, v in ds.attrs.items()}
    prov.update(
        {
            "layers": [str(v) for v in ds["layer"].values],
            "stages": [str(v) for v in ds["stage"].values] if "stage" in ds.coords else None,
            "image_ids": [str(v) for v in ds["image_id"].values] if "image_id" in ds.coords else None,
            "relative_error": np.asarray(ds["relative_error"].values).tolist(),
            "file": path.name,
        }
    )
    path.with_suffix(".json").write_text(json.dumps(prov, indent=1, default=str))
    return path


def load_metamers(path: str | os.PathLike) -> xr.Dataset:
    """Read a metamer Dataset written by :func:`save_metamers` (fully loaded into memory)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No metamer file at {path}; write one with save_metamers(ds, path).")
    with xr.open_dataset(path, engine="h5netcdf") as f:
        ds = f.load()
    if "stopped" in ds:
        ds["stopped"] = ds["stopped"].astype(bool)
    for name in list(ds.coords):
        if ds[name].dtype.kind == "O":
            ds = ds.assign_coords({name: ds[name].astype(str)})
    return _check_dataset(ds, "load_metamers()")


# ----------------------------------------------------------------------------- command line
def _cmd_metamers(args: Any) -> int:
    from neurocompare.cli import resolve_model

    path = Path(args.images)
    if not path.is_file() or path.suffix != ".npy":
        raise FileNotFoundError(f"--images must be an existing .npy file of shape (n, [channels,] h, w); got {path}.")
    arr = np.load(path, allow_pickle=False)
    if arr.ndim == 3:
        arr = arr[:, None]
    arr = arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
    if args.n_images:
        arr = arr[: args.n_images]
    model = resolve_model(args.model, seed=args.seed)
    layers: Any = args.layers
    if any("=" in item for item in layers):  # stage=module pairs
        layers = dict(item.split("=", 1) for item in layers)
    labels = np.load(args.labels, allow_pickle=False)[: arr.shape[0]] if args.labels else None
    ds = synthesize_metamers(
        model, layers, arr, labels=labels, device=args.device, progress=not args.quiet, model_name=args.model,
        method=args.method, n_rounds=args.n_rounds, steps_per_round=args.steps_per_round,
        step_size=args.step_size, lr=args.lr, max_iter=args.max_iter, fake_relu=args.fake_relu, seed=args.seed,
    )
    out = Path(args.out)
    nc = save_metamers(ds, out / "metamers.nc")
    msg = f"{ds.sizes['layer']} layers × {ds.sizes['image']} images -> {nc}"
    try:
        from neurocompare.plotting.metamers import plot_metamers

        fig = plot_metamers(ds, title=args.model)
        fig.savefig(out / "metamers.png", dpi=110)
        msg += f", {out / 'metamers.png'}"
    except ImportError:
        pass
    err = ds["relative_error"].values
    print(f"{msg}; relative error median {np.median(err):.3g}, max {err.max():.3g}")
    return 0


def register_cli(subparsers: Any) -> Any:
    """Add ``neurocompare metamers`` (synthesise metamers of images in a .npy file)."""
    p = subparsers.add_parser(
        "metamers",
        help="synthesise model metamers (Feather et al. 2023 protocol) for images in a .npy file",
        description="Synthesise model metamers at one or more layers; writes metamers.nc (+ .json) and metamers.png.",
    )
    p.add_argument("--model", required=True, help="registered name, checkpoint path or module:function")
    p.add_argument("--layers", nargs="+", required=True,
                   help="module names, or stage=module pairs (see `neurocompare list-layers`)")
    p.add_argument("--images", required=True, help=".npy array (n, [channels,] h, w), uint8 or floats in [0, 1]")
    p.add_argument("--labels", default=None, help="optional .npy of integer labels, one per image")
    p.add_argument("--n-images", type=int, default=0, help="use only the first N images (0: all)")
    p.add_argument("--method", choices=METHODS, default="feather")
    p.add_argument("--n-rounds", type=int, default=8)
    p.add_argument("--steps-per-round", type=int, default=300)
    p.add_argument("--step-size", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (method adam)")
    p.add_argument("--max-iter", type=int, default=1000, help="Adam iterations (method adam)")
    p.add_argument("--fake-relu", action="store_true")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", default="metamers", help="output folder")
    p.set_defaults(func=_cmd_metamers)
    return p
