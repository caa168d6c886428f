"""Atomic checkpoints with RNG states, so that a resumed run continues bit for bit.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python values
(readable with ``torch.load(..., weights_only=True)``; no arbitrary pickled objects):

``{"step", "epoch", "batch_in_epoch", "model", "objective", "optimizer", "scheduler",
"scaler", "rng", "data", "config", "extra"}``

It is written to a temporary file in the same folder and renamed over the target
(``os.replace``), so a crash while writing never leaves a half-written checkpoint.

A run folder holds ``checkpoint.pt`` and ``metrics.jsonl`` (one JSON line per logged step).
:func:`check_run_folder` refuses to start a new run over an old one, and
:func:`truncate_metrics` drops the lines logged after the checkpoint a run resumes from.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurocompare._atomic import atomic_write_bytes

__all__ = [
    "CHECKPOINT_NAME",
    "METRICS_NAME",
    "RunFolderError",
    "save_checkpoint",
    "load_checkpoint",
    "get_rng_state",
    "set_rng_state",
    "check_run_folder",
    "safe_torch_load",
    "truncate_metrics",
]

CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.jsonl"


class RunFolderError(FileExistsError):
    """The output folder already holds a training run and neither resume nor overwrite was asked for."""


def check_run_folder(out: str | Path, *, resume: bool = False, overwrite: bool = False, remove: bool = True) -> bool:
    """Check that a run may be written to ``out``; with ``overwrite``, delete the old run's files.

    A folder holds a run when it contains ``checkpoint.pt`` or ``metrics.jsonl``.

    Parameters
    ----------
    out : str or Path
        The run folder (need not exist).
    resume : bool
        The caller will continue the run in ``out``: allowed.
    overwrite : bool
        The caller will replace the run in ``out``: allowed, and its checkpoint and metrics are
        deleted now (when ``remove``), so a crash before the first new checkpoint cannot leave
        the old run's checkpoint behind to be resumed.
    remove : bool
        Whether this process deletes the files (only rank 0 does under DDP).

    Returns
    -------
    bool
        True when ``out`` held a run.

    Raises
    ------
    ValueError
        Both ``resume`` and ``overwrite``.
    RunFolderError
        ``out`` holds a run and neither flag is set.
    """
    if resume and overwrite:
        raise ValueError("Pass resume=True to continue the run in the folder or overwrite=True to replace it, not both.")
    out = Path(out)
    held = [name for name in (CHECKPOINT_NAME, METRICS_NAME) if (out / name).is_file()]
    if held and not (resume or overwrite):
        raise RunFolderError(
            f"The output folder {str(out)!r} already holds a training run ({', '.join(held)}). Pass resume=True "
            "(neurocompare train --resume) to continue it, overwrite=True (--overwrite) to replace it, or choose "
            "another output folder."
        )
    if held and overwrite and remove:
        for name in held:
            (out / name).unlink()
    return bool(held)


def truncate_metrics(path: str | Path, step: int) -> int:
    """Keep only the lines of a ``metrics.jsonl`` file whose ``step`` is at most ``step`` (atomically).

    A run killed after its last checkpoint has logged steps it will log again when resumed from
    that checkpoint; this drops them (and a torn last line, if the kill cut one).

    Parameters
    ----------
    path : str or Path
        The metrics file; nothing happens when it does not exist.
    step : int
        The step of the checkpoint the run resumes from.

    Returns
    -------
    int
        The number of lines dropped.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
            keep = int(record["step"]) <= int(step)
        except (ValueError, KeyError, TypeError):
            keep = False
        if keep:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        atomic_write_bytes(path, "".join(line + "\n" for line in kept).encode(), what="metrics log")
    return dropped


def get_rng_state() -> dict[str, Any]:
    """Capture the torch, CUDA, numpy and python RNG states as tensors and plain values."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": _to_lists(random.getstate()),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore states captured by :func:`get_rng_state`."""
    torch.set_rng_state(state["torch"])
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["name"],
            npst["keys"].numpy().astype(np.uint32),
            int(npst["pos"]),
            int(npst["has_gauss"]),
            float(npst["cached_gaussian"]),
        )
    )
    random.setstate(_to_tuples(state["python"]))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        for i in range(n):
            torch.cuda.set_rng_state(cuda[i], i)


def _to_lists(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return [_to_lists(o) for o in obj]
    return obj


def _to_tuples(obj: Any) -> Any:
    if isinstance(obj, list):
        return tuple(_to_tuples(o) for o in obj)
    return obj


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path : str or Path
        Target file, e.g. ``out/checkpoint.pt``. Its folder is created if needed.
    state : dict
        Tensors, state dicts and plain Python values only.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    neurocompare._atomic.WriteError
        The disk is full, the file-size limit is reached or the folder is not writable; the
        message says so and the previous checkpoint is left intact.
    """
    buffer = io.BytesIO()  # serialised in memory: a full disk is then a plain OSError from our write,
    torch.save(state, buffer)  # never torch's "enforce fail at inline_container.cc"
    return atomic_write_bytes(path, buffer.getbuffer(), what="checkpoint")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``, no pickle code).

    Raises
    ------
    FileNotFoundError
        If there is no checkpoint at ``path``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"No checkpoint at {str(path)!r}. Train first (checkpoints are written to "
            "OUT/checkpoint.pt every `checkpoint_every` steps and at the end)."
        )
    return safe_torch_load(path, map_location=map_location)


def safe_torch_load(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file and never advise pickle.

    Raises
    ------
    ValueError
        The file holds pickled objects other than tensors and plain values (refused: loading
        them could run code), or it is truncated or damaged.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises pickle's UnpicklingError; matched by name, no pickle import)
        if type(err).__name__ != "UnpicklingError":
            if isinstance(err, FileNotFoundError) or not isinstance(err, (RuntimeError, EOFError, OSError, ValueError)):
                raise
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(
                f"Could not read the checkpoint {path}: it is truncated or damaged ({reason}). "
                "Restore it, or delete it to start over."
            ) from None
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = f"e.g. {found.group(1)}" if found else "objects outside the allowed types"
        raise ValueError(
            f"Refused to load {path}: it holds pickled Python objects, not only tensors and plain values "
            f"({what}). neurocompare never unpickles code. Re-save the "
            "weights as a state dict: torch.save(model.state_dict(), path), in the environment that made the file."
        ) from None
