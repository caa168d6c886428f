"""Atomic checkpoints with RNG states, so that a resumed run continues bit for bit.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python values
(readable with ``torch.load(..., weights_only=True)``; no arbitrary pickled objects):

``{"step", "epoch", "batch_in_epoch", "model", "objective", "optimizer", "scheduler",
"scaler", "rng", "data", "config", "extra"}``

It is written to a temporary file in the same folder and renamed over the target
(``os.replace``), so a crash while writing never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["save_checkpoint", "load_checkpoint", "get_rng_state", "set_rng_state", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global RNG and torch (CPU and all CUDA devices)."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


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
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


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
    return torch.load(path, map_location=map_location, weights_only=True)
