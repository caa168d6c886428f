"""One plain training loop for any ``nn.Module``: checkpoints, exact resume, AMP, DDP, logging.

The loop knows nothing about the task. It takes

- ``model``: any ``torch.nn.Module`` (ours, torchvision, timm...);
- ``objective``: a callable ``objective(model, batch) -> loss`` or ``-> (loss, metrics)`` where
  ``loss`` is a scalar tensor and ``metrics`` a dict of floats/scalar tensors to log. If the
  objective is itself an ``nn.Module`` with parameters (a SimCLR projection head, say) they are
  optimised and checkpointed with the model. If it has a ``set_step(step)`` method the loop calls
  it before every step (used for annealed penalties);
- ``data``: either an iterable of batches (re-iterated every epoch; ``set_epoch(epoch)`` is called
  on it or on its ``.sampler`` when present) or a callable ``data(step) -> batch`` (synthetic data
  such as random trajectories). Batches are tensors or tuples/lists/dicts of tensors; they are
  moved to the device for you;
- ``optimizer``: an :class:`~neurocompare.training.config.OptimizerConfig` (or its dict), or a
  ready ``torch.optim.Optimizer`` (then pass ``scheduler`` yourself if you want one).

Exact resume. Every ``checkpoint_every`` steps the loop writes ``OUT/checkpoint.pt`` atomically
with the model, objective, optimizer, scheduler, grad-scaler, RNG states (torch, CUDA, numpy,
python), the step, and the position in the data (epoch and batch within the epoch).
``train(..., resume=True)`` continues from it; on CPU the result is bit-identical to an
uninterrupted run (tested) provided the data order depends only on the epoch (our
:class:`~neurocompare.training.data.Batches` does, and so does a DataLoader with a
``DistributedSampler``) or on the step (callable data).

Example
-------
>>> import torch
>>> from neurocompare.training import train, OptimizerConfig
>>> model = torch.nn.Linear(3, 1)
>>> x = torch.randn(64, 3); y = x.sum(1, keepdim=True)
>>> def objective(model, batch):
...     xb, yb = batch
...     return torch.nn.functional.mse_loss(model(xb), yb)
>>> result = train(model, objective, lambda step: (x, y), optimizer=OptimizerConfig(lr=0.1),
...                steps=50, progress=False)
>>> result.history[-1]["loss"] < 0.1
True
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neurocompare._options import progress_enabled
from neurocompare._seeding import seed_everything
from neurocompare.training.checkpoint import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    check_run_folder,
    get_rng_state,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
    truncate_metrics,
)
from neurocompare.training.config import OptimizerConfig, config_from_dict, config_to_dict

__all__ = ["train", "TrainResult", "NonFiniteLossError", "build_optimizer"]



class NonFiniteLossError(FloatingPointError):
    """Raised when the loss becomes NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : nn.Module
        The trained model (unwrapped from DDP), on its training device.
    objective : callable
        The objective (with its trained parameters, if any).
    step : int
        Optimizer steps done in total (including those before a resume).
    history : list of dict
        The logged metric lines (also in ``OUT/metrics.jsonl`` when ``out_dir`` is set).
    out_dir : Path or None
    checkpoint : Path or None
        The last checkpoint written.
    """

    model: nn.Module
    objective: Any
    step: int
    history: list[dict[str, Any]] = field(default_factory=list)
    out_dir: Path | None = None
    checkpoint: Path | None = None


def _training_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> ``cuda`` (this process's ``LOCAL_RANK`` under torchrun) when available, else ``cpu``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available. Use device='cpu' or 'auto'.")
    return dev


def build_optimizer(
    params: Iterable[torch.nn.Parameter], cfg: OptimizerConfig | dict, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Build the optimizer and a per-step ``LambdaLR`` schedule (warm-up, then constant/cosine/step).

    Parameters
    ----------
    params : iterable of Parameter
    cfg : OptimizerConfig or dict
    total_steps : int
        Length of the run; the cosine schedule reaches its minimum there.
    """
    if isinstance(cfg, dict):
        cfg = config_from_dict(cfg, OptimizerConfig)
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("The model (and objective) have no trainable parameters; nothing to optimise.")
    if cfg.name == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    elif cfg.name == "adam":
        opt = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    warm, total = int(cfg.warmup_steps), max(int(total_steps), 1)

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        if cfg.schedule == "cosine":
            t = min(max(step - warm, 0) / max(total - warm, 1), 1.0)
            return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
        if cfg.schedule == "step":
            return cfg.gamma ** (max(step - warm, 0) // max(int(cfg.step_size), 1))
        return 1.0

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _batch_size(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_size(next(iter(batch.values())))
    return 1


def _set_epoch(data: Any, epoch: int) -> None:
    for obj in (data, getattr(data, "sampler", None), getattr(data, "batch_sampler", None)):
        if obj is not None and hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)


def _distributed() -> tuple[bool, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return False, 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return True, dist.get_rank(), dist.get_world_size()


def _amp_context(amp: str, device: torch.device) -> tuple[Any, torch.dtype | None]:
    if device.type != "cuda" or amp == "none":
        return contextlib.nullcontext, None
    if amp == "auto":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return (lambda: torch.autocast(device_type="cuda", dtype=dtype)), dtype


def _as_float(v: Any) -> float:
    if isinstance(v, torch.Tensor):
        return float(v.detach().float().mean().item())
    return float(v)


def train(
    model: nn.Module,
    objective: Callable[..., Any],
    data: Iterable[Any] | Callable[[int], Any],
    *,
    optimizer: OptimizerConfig | dict | torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    steps: int = 100,
    out_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    log_every: int = 10,
    resume: bool = False,
    overwrite: bool = False,
    seed: int | None = 0,
    amp: str = "auto",
    device: str | torch.device = "auto",
    progress: bool | None = None,
    config: Any = None,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``model`` by minimising ``objective`` over ``data`` for ``steps`` optimizer steps.

    Parameters
    ----------
    model : nn.Module
        Any module. Moved to ``device``; wrapped in ``DistributedDataParallel`` when the process
        was started by ``torchrun`` with ``WORLD_SIZE > 1``.
    objective : callable
        ``objective(model, batch) -> loss`` or ``(loss, metrics)``. See the module docstring.
    data : iterable or callable
        An iterable of batches (cycled over epochs) or ``data(step) -> batch``.
    optimizer : OptimizerConfig, dict or torch.optim.Optimizer, optional
        Default ``OptimizerConfig()`` (Adam, lr 1e-3).
    scheduler : LRScheduler, optional
        Only with a ready optimizer; stepped once per optimizer step.
    steps : int
        Total optimizer steps (a resumed run continues up to this number).
    out_dir : str or Path, optional
        Where ``checkpoint.pt`` and ``metrics.jsonl`` go. Without it nothing is written.
    checkpoint_every : int
        Checkpoint every this many steps; 0 = only at the end (when ``out_dir`` is set).
    log_every : int
        Log averaged metrics every this many steps.
    resume : bool
        Continue from ``out_dir/checkpoint.pt`` when it exists (else start fresh). Lines of
        ``metrics.jsonl`` past the checkpoint's step (logged after it, before an interruption)
        are dropped, so every step is logged once.
    overwrite : bool
        Replace a run already in ``out_dir`` (its checkpoint and metrics are deleted first).
        Without ``resume`` or ``overwrite``, an ``out_dir`` that already holds a run is refused
        (:class:`~neurocompare.training.checkpoint.RunFolderError`).
    seed : int or None
        Seeds torch/numpy/python at the start of a fresh run (ignored on resume: the checkpoint's
        RNG states are restored instead). ``None`` leaves the RNGs alone.
    amp : {'auto', 'none', 'bf16', 'fp16'}
        Mixed precision on CUDA (``auto`` = bf16 where supported, else fp16 with a grad scaler).
        Ignored on CPU.
    device : str or torch.device
    progress : bool or None
        tqdm bar with the loss and throughput (items/s). ``None``: on a terminal only;
        ``set_options(progress=False)`` (or ``NEUROCOMPARE_QUIET=1``) silences it always.
    config : dataclass or dict, optional
        Stored in the checkpoint (as a plain dict) for the record; with a :class:`TrainConfig`,
        ``neurocompare.models.resolve_model("OUT/checkpoint.pt")`` rebuilds the model from it.
    callback : callable, optional
        ``callback(step, metrics)`` after every logged step.

    Returns
    -------
    TrainResult

    Raises
    ------
    RunFolderError
        ``out_dir`` already holds a run (``checkpoint.pt`` or ``metrics.jsonl``) and neither
        ``resume`` nor ``overwrite`` is set.
    NonFiniteLossError
        When the loss is NaN or infinite. Nothing is written for that step: the last checkpoint
        on disk is the last good one.
    """
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1. Got {steps!r} instead.")
    if not callable(objective):
        raise TypeError(f"objective must be callable as objective(model, batch); got {type(objective).__name__}.")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    data_is_fn = callable(data) and not hasattr(data, "__iter__")
    if not data_is_fn and not hasattr(data, "__iter__"):
        raise TypeError(
            f"data must be an iterable of batches or a callable data(step) -> batch; got {type(data).__name__}."
        )
    if amp not in ("auto", "none", "bf16", "fp16"):
        raise ValueError(f"amp must be one of ('auto', 'none', 'bf16', 'fp16'). Got {amp!r} instead.")

    is_dist, rank, world = _distributed()
    device = _training_device(device)
    if is_dist and device.type == "cuda":
        torch.cuda.set_device(device)
    main = rank == 0
    out = Path(out_dir) if out_dir is not None else None
    ckpt_path = out / CHECKPOINT_NAME if out is not None else None
    if out is not None:
        check_run_folder(out, resume=resume, overwrite=overwrite, remove=main)

    model.to(device)
    obj_params: list[nn.Parameter] = []
    if isinstance(objective, nn.Module):
        objective.to(device)
        model_ids = {id(p) for p in model.parameters()}
        obj_params = [p for p in objective.parameters() if id(p) not in model_ids]

    if optimizer is None:
        optimizer = OptimizerConfig()
    if isinstance(optimizer, torch.optim.Optimizer):
        opt, sched = optimizer, scheduler
    else:
        if scheduler is not None:
            raise ValueError("Pass `scheduler` only together with a ready torch.optim.Optimizer.")
        opt, sched = build_optimizer(list(model.parameters()) + obj_params, optimizer, steps)

    autocast, amp_dtype = _amp_context(amp, device)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    grad_clip = getattr(optimizer, "grad_clip", None) if not isinstance(optimizer, dict) else optimizer.get("grad_clip")

    step, epoch, batch_in_epoch = 0, 0, 0
    resumed = False
    if resume and ckpt_path is not None and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path, map_location="cpu")
        _check_same_config(state.get("config"), _plain_config(config), ckpt_path)
        model.load_state_dict(state["model"])
        if isinstance(objective, nn.Module) and state.get("objective") is not None:
            objective.load_state_dict(state["objective"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None and state.get("scheduler") is not None:
            sched.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if state.get("data") is not None and hasattr(data, "load_state_dict"):
            data.load_state_dict(state["data"])
        step, epoch, batch_in_epoch = int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"])
        set_rng_state(state["rng"])
        resumed = True
        if main:
            truncate_metrics(out / METRICS_NAME, step)
    elif seed is not None:
        seed_everything(int(seed) + rank)

    train_model: nn.Module = model
    if is_dist:
        ids = [device.index] if device.type == "cuda" else None
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=ids)

    history: list[dict[str, Any]] = []
    metrics_file = None
    if out is not None and main:
        out.mkdir(parents=True, exist_ok=True)
        metrics_file = open(out / METRICS_NAME, "a" if resumed else "w")
    last_ckpt: Path | None = ckpt_path if resumed else None

    def write_checkpoint() -> None:
        nonlocal last_ckpt
        if ckpt_path is None:
            return
        if main:
            state = {
                "step": step,
                "epoch": epoch,
                "batch_in_epoch": batch_in_epoch,
                "model": model.state_dict(),
                "objective": objective.state_dict() if isinstance(objective, nn.Module) else None,
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict() if sched is not None else None,
                "scaler": scaler.state_dict() if scaler is not None else None,
                "rng": get_rng_state(),
                "data": data.state_dict() if hasattr(data, "state_dict") else None,
                "config": _plain_config(config),
            }
            save_checkpoint(ckpt_path, state)
            last_ckpt = ckpt_path
        if is_dist:
            torch.distributed.barrier()

    iterator = None

    def next_batch() -> Any:
        nonlocal iterator, epoch, batch_in_epoch
        if data_is_fn:
            return data(step)
        empty_epochs = 0
        while True:
            if iterator is None:
                _set_epoch(data, epoch)
                iterator = iter(data)
                for _ in range(batch_in_epoch):  # resume inside an epoch
                    next(iterator)
            try:
                batch = next(iterator)
                batch_in_epoch += 1
                return batch
            except StopIteration:
                if batch_in_epoch == 0:
                    empty_epochs += 1
                    if empty_epochs > 1:
                        raise ValueError(
                            "data yielded no batches (an empty dataset, or a one-shot iterator that is "
                            "exhausted). Pass a re-iterable (list, DataLoader, Batches) or data(step)."
                        ) from None
                iterator = None
                epoch += 1
                batch_in_epoch = 0

    bar = None
    if progress_enabled(progress) and main:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=step, desc="train", unit="step", dynamic_ncols=True)

    sums: dict[str, float] = {}
    n_in_window, items_in_window, t_window = 0, 0, time.perf_counter()
    model.train()
    if isinstance(objective, nn.Module):
        objective.train()
    try:
        while step < steps:
            batch = _to_device(next_batch(), device)
            if hasattr(objective, "set_step"):
                objective.set_step(step)
            with autocast():
                out_obj = objective(train_model, batch)
            loss, metrics = (out_obj if isinstance(out_obj, tuple) else (out_obj, {}))
            if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                raise TypeError(
                    "objective(model, batch) must return a scalar tensor loss (or (loss, metrics)); "
                    f"got {type(loss).__name__} with shape {getattr(loss, 'shape', None)}."
                )
            if not bool(torch.isfinite(loss.detach())):
                where = (
                    f"The last good checkpoint is {str(last_ckpt)!r} (step {_ckpt_step(last_ckpt)})."
                    if last_ckpt is not None
                    else "No checkpoint had been written yet."
                )
                raise NonFiniteLossError(
                    f"The loss became {float(loss.detach()):.6g} at step {step + 1} (epoch {epoch}); training "
                    f"stopped. {where} Lower the learning rate, add gradient clipping "
                    "(OptimizerConfig.grad_clip) or check the data for NaNs, then resume."
                )
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            if is_dist and obj_params:
                for p in obj_params:
                    if p.grad is not None:
                        torch.distributed.all_reduce(p.grad)
                        p.grad /= world
            if grad_clip:
                if scaler is not None:
                    scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(list(model.parameters()) + obj_params, float(grad_clip))
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            if sched is not None:
                sched.step()
            step += 1

            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
            for k, v in (metrics or {}).items():
                sums[k] = sums.get(k, 0.0) + _as_float(v)
            n_in_window += 1
            items_in_window += _batch_size(batch) * world
            if step % int(log_every) == 0 or step == steps:
                dt = max(time.perf_counter() - t_window, 1e-9)
                line = {"step": step, "epoch": epoch}
                line.update({k: v / n_in_window for k, v in sums.items()})
                line["lr"] = float(opt.param_groups[0]["lr"])
                line["items_per_s"] = items_in_window / dt
                history.append(line)
                if metrics_file is not None:
                    metrics_file.write(json.dumps(line) + "\n")
                    metrics_file.flush()
                if bar is not None:
                    bar.set_postfix(loss=f"{line['loss']:.4g}", items_s=f"{line['items_per_s']:.0f}")
                if callback is not None:
                    callback(step, line)
                sums, n_in_window, items_in_window, t_window = {}, 0, 0, time.perf_counter()
            if bar is not None:
                bar.update(1)
            if checkpoint_every and step % int(checkpoint_every) == 0 and step < steps:
                write_checkpoint()
        write_checkpoint()
    finally:
        if bar is not None:
            bar.close()
        if metrics_file is not None:
            metrics_file.close()
    return TrainResult(model=model, objective=objective, step=step, history=history, out_dir=out, checkpoint=last_ckpt)


def _ckpt_step(path: Path | None) -> Any:
    try:
        return int(load_checkpoint(path)["step"]) if path is not None else None
    except Exception:  # pragma: no cover - only for the message
        return "?"


_RESUME_FREE_KEYS = {"out_dir", "progress", "steps", "log_every", "checkpoint_every", "device"}


def _check_same_config(saved: Any, current: Any, path: Path) -> None:
    """Refuse to resume a checkpoint written by a different run configuration."""
    if not isinstance(saved, dict) or not isinstance(current, dict):
        return
    diff = sorted(k for k in set(saved) | set(current)
                  if k not in _RESUME_FREE_KEYS and saved.get(k) != current.get(k))
    if diff:
        details = "; ".join(f"{k}: checkpoint {saved.get(k)!r} vs now {current.get(k)!r}" for k in diff[:4])
        raise ValueError(
            f"Cannot resume from {str(path)!r}: it was written with a different configuration ({details}). "
            "Use another output folder, or resume=False to start over."
        )


def _plain_config(config: Any) -> Any:
    """The run's config as plain JSON-compatible values (a dict for dataclasses/dicts), or None."""
    if config is None:
        return None
    import dataclasses

    if dataclasses.is_dataclass(config):
        return config_to_dict(config)
    return json.loads(json.dumps(config, default=str))
