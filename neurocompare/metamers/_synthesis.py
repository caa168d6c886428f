"""Metamer synthesis: many images × many layers of one model as one batch (Feather et al. 2023).

Every (layer, image) pair is one *row*. Each forward pass records all layers through the one hook
engine (:class:`neurocompare._hooks.LayerHooks`, stopping after the deepest layer when each is
called once), and each row's gradient is normalised on its own, so rows never influence each
other: the batch equals synthesising the metamers one by one (up to float32 summation order).

References
----------
.. [1] Feather, J., Leclerc, G., Mądry, A. & McDermott, J. H. (2023). Model metamers reveal
   divergent invariances between biological and artificial neural networks. Nature
   Neuroscience 26, 2017–2034.
.. [2] Portilla, J. & Simoncelli, E. P. (2000). A parametric texture model based on joint
   statistics of complex wavelet coefficients. IJCV 40, 49–70 (metamer synthesis from noise).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from neurocompare._hooks import LayerHooks
from neurocompare._options import progress_enabled
from neurocompare._seeding import torch_generator
from neurocompare.metamers._checks import (
    as_images,
    check_image_ids,
    check_labels,
    check_model,
    check_pixel_range,
    default_device,
    eval_mode,
)
from neurocompare.metamers._config import (
    COLLAPSED,
    MetamerConfig,
    adam_step,
    adapt_length,
    feather_step,
    normalized_step,
)
from neurocompare.metamers._fold import folded_batchnorm
from neurocompare.metamers._io import metamer_dataset, read_state, run_with_checkpoints, write_state
from neurocompare.metamers._layers import (
    FakeReLU,
    Surrogate,
    call_order,
    last_relu_before,
    resolve_stages,
    surrogate_modules,
)
from neurocompare.metamers._loss import relative_error
from neurocompare.metamers._state import restore_synthesis, synthesis_state

__all__ = ["MetamerSynthesis", "synthesize_metamers"]


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
        tqdm progress bar (``neurocompare.set_options(progress=False)`` silences it).
    **config
        Fields of :class:`MetamerConfig` (method, n_rounds, steps_per_round, step_size, lr,
        max_iter, tol, window, target_error, surrogate_steps, restarts, fake_relu, fold_batchnorm,
        init_mean, init_std, pixel_range, seed,
        batch_size).

    Attributes (properties)
    -----------------------
    metamers : torch.Tensor, shape ``(n_layers, n_images, *image_shape)``
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
        self.model = check_model(model, where)
        unknown = set(config) - set(MetamerConfig.__dataclass_fields__)
        if unknown:
            raise TypeError(
                f"{where} got unknown setting(s) {sorted(unknown)}. "
                f"Available: {', '.join(MetamerConfig.__dataclass_fields__)}."
            )
        self.config = cfg = MetamerConfig(**config).validate()
        self.layers, self.stages = resolve_stages(model, layers, where)
        images = check_pixel_range(as_images(images, where), cfg.pixel_range, where)
        self.n_images = images.shape[0]
        if isinstance(cfg.target_error, list) and len(cfg.target_error) != self.n_images:
            raise ValueError(
                f"{where}: target_error has {len(cfg.target_error)} values; give one number, or one per "
                f"image ({self.n_images})."
            )
        self.image_shape = tuple(images.shape[1:])
        self.labels = check_labels(labels, self.n_images, where)
        self.image_ids = check_image_ids(image_ids, self.n_images, where)
        self.device = default_device(model, device)
        self.progress = progress
        self.model.to(self.device)
        self.originals = images.to(self.device)

        n_rows = len(self.layers) * self.n_images
        self._layer_of_row = torch.arange(len(self.layers), device=self.device).repeat_interleave(self.n_images)
        with eval_mode(self.model):
            try:
                order, counts = call_order(self.model, self.layers, self.originals[:1])
            except RuntimeError as err:
                raise ValueError(
                    f"{where}: {type(self.model).__name__} failed on images of shape "
                    f"{tuple(images.shape)} (n_images, *image_shape): {str(err).splitlines()[0]} "
                    "Pass images of the shape the model expects, e.g. (n, channels, height, width)."
                ) from err
            # stop each pass after the deepest layer only when every layer runs once per pass
            self._stop_early = all(counts.get(n, 0) == 1 for n in self.layers)
            self._relu_for: dict[str, str] = {}
            if cfg.fake_relu:
                for layer in self.layers:
                    relu = last_relu_before(self.model, layer, order)
                    if relu is not None:
                        self._relu_for[layer] = relu
                if not self._relu_for:
                    raise ValueError(
                        f"fake_relu=True, but no nn.ReLU runs before any of the layers {self.layers}. "
                        "Use fake_relu=False, or pick layers after a ReLU."
                    )
            # ReLUs and max-pools that get straight-through gradients in each row's first steps
            self._surrogates = surrogate_modules(self.model, self.layers, order) if cfg.surrogate_steps else []
            bs = self._rows_per_batch(self.n_images)
            with self._folded(), self._hooks() as hooks, torch.no_grad():
                targets = [hooks.run(self.originals[start : start + bs]) for start in range(0, self.n_images, bs)]
            self._targets = {n: torch.cat([t[n] for t in targets]).detach() for n in self.layers}
        # initial noise from a private CPU generator (torch_generator(seed) is the stream of
        # torch.manual_seed(seed)), so seeds reproduce across devices and the global RNG is untouched
        gen = torch_generator(int(cfg.seed))
        x = cfg.init_mean + cfg.init_std * torch.randn((n_rows,) + self.image_shape, generator=gen)
        if cfg.pixel_range is not None:
            x = x.clamp(*cfg.pixel_range)
        self._x = x.to(self.device)
        self._m = torch.zeros_like(self._x) if cfg.method == "adam" else None
        self._v = torch.zeros_like(self._x) if cfg.method == "adam" else None
        self._t = torch.zeros(n_rows, dtype=torch.long, device=self.device)
        self._stopped = torch.zeros(n_rows, dtype=torch.bool, device=self.device)
        self._len = torch.full((n_rows,), float(cfg.step_size), device=self.device)  # 'adaptive' step lengths
        self._sur_end = torch.full((n_rows,), cfg.surrogate_steps, dtype=torch.long, device=self.device)
        self._restarts = torch.full((n_rows,), cfg.restarts, dtype=torch.long, device=self.device)
        self._loss_hist: list[torch.Tensor] = []
        self._final_err: torch.Tensor | None = None
        self._n_iter = 0
        self._checked = False

    # ------------------------------------------------------------------ internals
    def _folded(self) -> Any:
        """Eval batch norms folded into their convolutions (``fold_batchnorm``), else nothing."""
        if not self.config.fold_batchnorm:
            return contextlib.nullcontext()
        return folded_batchnorm(self.model, self.layers, self.originals[:1])

    def _rows_per_batch(self, n: int) -> int:
        return n if self.config.batch_size is None else min(n, self.config.batch_size)

    def _hooks(self, fake: dict[str, FakeReLU] | None = None,
               surrogate: dict[str, Surrogate] | None = None) -> LayerHooks:
        """Capture hooks (with the autograd graph) on every layer; fake-ReLU and surrogate hooks when given."""
        hooks = LayerHooks(self.model, self.layers, detach=False, stop_early=self._stop_early)
        for name, handler in {**(surrogate or {}), **(fake or {})}.items():
            handler.install(hooks, name)
        return hooks

    def _set_surrogate_masks(self, surrogate: dict[str, Surrogate], rows: torch.Tensor) -> None:
        """Rows still in their surrogate phase get straight-through gradients (no mask: none is)."""
        if not surrogate:
            return
        m = self._t[rows] < self._sur_end[rows]
        some, every = bool(m.any()), bool(m.all())
        for handler in surrogate.values():
            handler.mask, handler.every_row = (m if some else None), every

    def _row_targets(self, rows: torch.Tensor, like: torch.Tensor) -> torch.Tensor | None:
        """Each row's ``target_error`` (None when not set)."""
        te = self.config.target_error
        if te is None:
            return None
        if isinstance(te, list):
            return torch.tensor(te, device=self.device, dtype=like.dtype)[rows % self.n_images]
        return torch.full_like(like, te)

    def _rows(self, t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``t[rows]``; ``t`` itself (no copy) when ``rows`` are all rows (``nonzero`` lists them in order)."""
        return t if rows.numel() == t.shape[0] else t[rows]

    def _set_rows(self, name: str, rows: torch.Tensor, value: torch.Tensor) -> None:
        """``self.<name>[rows] = value``; a rebinding (no scatter) when ``rows`` are all rows."""
        if rows.numel() == getattr(self, name).shape[0]:
            setattr(self, name, value)
        else:
            getattr(self, name)[rows] = value

    def _target_rows(self, rows: torch.Tensor) -> dict[str, tuple[Any, torch.Tensor]]:
        """For each layer, (positions within ``rows``, target activations) of its rows (slices when all rows)."""
        if rows.numel() == self._x.shape[0]:
            n = self.n_images
            return {name: (slice(li * n, (li + 1) * n), self._targets[name]) for li, name in enumerate(self.layers)}
        out = {}
        layer_idx = self._layer_of_row[rows]
        for li, name in enumerate(self.layers):
            pos = torch.nonzero(layer_idx == li).flatten()
            if pos.numel():
                img = rows[pos] - li * self.n_images
                out[name] = (pos, self._targets[name][img])
        return out

    def _set_fake_masks(self, fake: dict[str, FakeReLU], rows: torch.Tensor) -> None:
        """Each fake ReLU acts on the rows of the layers it precedes."""
        layer_idx = self._layer_of_row[rows]
        masks: dict[str, torch.Tensor] = {}
        for li, name in enumerate(self.layers):
            relu = self._relu_for.get(name)
            if relu is not None:
                m = layer_idx == li
                masks[relu] = masks[relu] | m if relu in masks else m
        for relu, m in masks.items():
            fake[relu].mask = m

    def _loss_and_grad(self, hooks: LayerHooks, rows: torch.Tensor, need_grad: bool = True):
        x = self._rows(self._x, rows).detach().requires_grad_(need_grad)
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

    def _check_dependence(self, grad: torch.Tensor, rows: torch.Tensor) -> None:
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

    def _step(self, rows: torch.Tensor, grad: torch.Tensor, it: int, err: torch.Tensor) -> None:
        cfg = self.config
        x = self._rows(self._x, rows)
        if cfg.method == "feather":
            x = feather_step(x, grad, it, cfg)
        elif cfg.method == "adaptive":
            prev = self._rows(self._loss_hist[-1], rows) if self._loss_hist else torch.full_like(err, float("nan"))
            length = adapt_length(self._rows(self._len, rows), err, prev)
            if cfg.restarts:
                length = self._restart_stalled(rows, err, length)
            self._set_rows("_len", rows, length)
            x = normalized_step(x, grad, length)
        else:
            x, m, v = adam_step(x, grad, self._rows(self._m, rows), self._rows(self._v, rows), self._rows(self._t, rows),
                                cfg.lr)
            self._set_rows("_m", rows, m)
            self._set_rows("_v", rows, v)
        if cfg.pixel_range is not None:
            x = x.clamp(*cfg.pixel_range)
        self._set_rows("_x", rows, x.detach())
        self._t[rows] += 1

    def _restart_stalled(self, rows: torch.Tensor, err: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        """Rows stuck above their target (step length collapsed) start another surrogate phase."""
        cfg = self.config
        stall = (length < cfg.step_size * COLLAPSED) & (err > self._row_targets(rows, err)) & (self._restarts[rows] > 0)
        if not bool(stall.any()):
            return length
        self._sur_end[rows] = torch.where(stall, self._t[rows] + 1 + cfg.surrogate_steps, self._sur_end[rows])
        self._restarts[rows] -= stall.long()
        return torch.where(stall, torch.full_like(length, cfg.step_size), length)

    def _stop_rule(self, rows: torch.Tensor, err: torch.Tensor) -> torch.Tensor:
        """Mark rows whose error ``err`` (before this step) meets a stopping rule; return the mask."""
        cfg = self.config
        stop = torch.zeros_like(rows, dtype=torch.bool)
        if cfg.target_error is not None:
            stop |= err <= self._row_targets(rows, err)
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
        fake = {relu: FakeReLU() for relu in dict.fromkeys(self._relu_for.values())}
        sur = {name: Surrogate() for name in self._surrogates}
        with eval_mode(self.model), self._folded(), self._hooks(fake, sur) as hooks:
            bar = tqdm(
                total=remaining,
                desc=f"metamers ({n_rows} = {len(self.layers)} layers × {self.n_images} images)",
                disable=not progress_enabled(self.progress),
                leave=False,
            )
            for _ in range(remaining):
                active = torch.nonzero(~self._stopped).flatten()
                if active.numel() == 0:
                    break
                err_k = self._last_errors()
                for start in range(0, active.numel(), bs):
                    rows = active[start : start + bs]
                    self._set_fake_masks(fake, rows)
                    self._set_surrogate_masks(sur, rows)
                    err, grad = self._loss_and_grad(hooks, rows)
                    if not self._checked:
                        self._check_dependence(grad, rows)
                    err_k[rows] = err
                    go = ~self._stop_rule(rows, err)
                    if bool(go.all()):
                        self._step(rows, grad, self._n_iter, err)
                    elif bool(go.any()):
                        self._step(rows[go], grad[go], self._n_iter, err[go])
                self._checked = True
                self._loss_hist.append(err_k)
                self._final_err = None
                self._n_iter += 1
                if bar.n % 25 == 0:
                    bar.set_postfix(rel_error=f"{float(err_k.mean()):.3g}")
                bar.update(1)
            bar.close()
        return self

    def _current_error_all(self) -> torch.Tensor:
        n_rows = self._x.shape[0]
        bs = self._rows_per_batch(n_rows)
        err = torch.empty(n_rows, device=self.device)
        with eval_mode(self.model), self._folded(), self._hooks() as hooks:
            for start in range(0, n_rows, bs):
                rows = torch.arange(start, min(start + bs, n_rows), device=self.device)
                err[rows], _ = self._loss_and_grad(hooks, rows, need_grad=False)
        return err

    def _shape_rows(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape((len(self.layers), self.n_images) + tuple(t.shape[1:]))

    @property
    def n_iter(self) -> int:
        """Steps taken so far."""
        return self._n_iter

    @property
    def metamers(self) -> torch.Tensor:
        """Current metamers, shape ``(n_layers, n_images, *image_shape)``, on ``device``."""
        return self._shape_rows(self._x.detach().clone())

    @property
    def losses(self) -> torch.Tensor:
        """Relative error before each step and after the last, shape (n_layers, n_images, n_iter + 1) (CPU)."""
        if self._final_err is None:
            self._final_err = self._current_error_all()
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
        """Everything needed to resume: plain arrays and a JSON string (no pickle; see :mod:`._state`)."""
        return synthesis_state(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> MetamerSynthesis:
        """Restore a state from :meth:`state_dict` (same model, layers, images and config).

        Raises
        ------
        ValueError
            A key is missing, or the saved synthesis had other layers, settings or images.
        """
        restore_synthesis(self, state)
        return self

    def save_state(self, path: str | os.PathLike) -> Path:
        """Write the resumable state to ``path`` (.npz, no pickle), atomically: a crash leaves the old file."""
        return write_state(path, self.state_dict())

    def load_state(self, path: str | os.PathLike) -> MetamerSynthesis:
        """Resume from a file written by :meth:`save_state`."""
        return self.load_state_dict(read_state(path))

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
        """The result as a plain :class:`xarray.Dataset` (see :mod:`neurocompare.metamers` for its repr)."""
        prov = self._provenance()
        return metamer_dataset(
            metamers=self.metamers.cpu().numpy(),
            originals=self.originals.cpu().numpy(),
            losses=self.losses.numpy(),
            stopped=self.stopped.numpy(),
            layers=self.layers,
            stages=self.stages,
            image_ids=self.image_ids,
            labels=self.labels,
            model=prov["model"],
            config=prov["config"],
            n_iter=self._n_iter,
        )


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
    state: str | os.PathLike | None = None,
    resume: bool = False,
    checkpoint_every: int | None = None,
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
    state : path-like, optional
        A ``.npz`` file where the synthesis state is written atomically every
        ``checkpoint_every`` steps; a killed synthesis continues from it with ``resume=True``
        and ends bit-identical to an uninterrupted one.
    resume : bool
        Continue from ``state`` when it exists (start afresh when it does not). Without it, an
        existing ``state`` file is refused, so a finished or running synthesis is never overwritten.
    checkpoint_every : int, optional
        Steps between checkpoints; default one round (``steps_per_round``) for ``'feather'``,
        100 for ``'adam'``.
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

    See Also
    --------
    neurocompare.metamers.MetamerSynthesis, neurocompare.metamers.check_validity,
    neurocompare.metamers.recognizability, neurocompare.metamers.save_metamers

    References
    ----------
    Feather, Leclerc, Mądry & McDermott (2023), Nature Neuroscience 26, 2017–2034.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)  # an unlucky draw leaves every ReLU unit off for the noise: no gradient
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    >>> ds = synthesize_metamers(model, ["1", "3"], torch.rand(2, 1, 8, 8), steps_per_round=20,
    ...                          n_rounds=3, seed=0, progress=False)
    >>> ds["metamer"].dims
    ('layer', 'image', 'channel', 'height', 'width')
    >>> bool((ds["relative_error"] < ds["loss"].isel(iteration=0)).all())
    True
    """
    syn = MetamerSynthesis(
        model, layers, images, labels=labels, image_ids=image_ids, device=device, progress=progress, **config
    )
    if state is None:
        syn.synthesize()
    else:
        run_with_checkpoints(syn, Path(state), resume=resume, every=checkpoint_every)
    ds = syn.to_dataset()
    if model_name is not None:
        ds.attrs["model"] = str(model_name)
    return ds

