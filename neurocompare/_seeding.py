"""The one seeding scheme: every random draw in the library comes from a seed and a tuple of keys.

- :func:`numpy_rng` and :func:`torch_generator` give independent streams for ``(seed, *keys)``
  (keys are ints or strings: a layer name, a split index, a session), through numpy's
  ``SeedSequence``, so two streams never share state and adding a key never shifts another.
- :func:`seeded` builds a model under a forked, seeded global torch RNG: default PyTorch
  initialisations become reproducible without disturbing the caller's RNG.
- :func:`seed_everything` seeds python, numpy and torch globally (training scripts only).

Examples
--------
>>> a = numpy_rng(0, "split", 3).standard_normal(2)
>>> b = numpy_rng(0, "split", 3).standard_normal(2)
>>> bool((a == b).all())
True
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["numpy_rng", "torch_generator", "seed_words", "seeded", "seed_everything", "stable_hash"]


def stable_hash(text: str) -> int:
    """A 32-bit integer from a string that is the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(str(text).encode()).digest()[:4], "little")


def seed_words(seed: int, *keys: int | str) -> list[int]:
    """The entropy words of ``(seed, *keys)``: ints kept, strings hashed with :func:`stable_hash`.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer or a key is neither int nor str.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"A seed must be an integer; got {seed!r} ({type(seed).__name__}).")
    words = [int(seed) % 2**63]
    for key in keys:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            words.append(int(key) % 2**63)
        elif isinstance(key, str):
            words.append(stable_hash(key))
        else:
            raise TypeError(f"Seed keys must be int or str; got {key!r} ({type(key).__name__}).")
    return words


def numpy_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A numpy ``Generator`` for the stream ``(seed, *keys)``."""
    return np.random.default_rng(np.random.SeedSequence(seed_words(seed, *keys)))


def torch_generator(seed: int, *keys: int | str, device: Any = "cpu") -> Any:
    """A ``torch.Generator`` on ``device`` for the stream ``(seed, *keys)``.

    With no keys the generator is seeded with ``seed`` itself, so ``torch_generator(s)`` draws
    what ``torch.manual_seed(s)`` would.
    """
    import torch

    if keys:
        state = int(np.random.SeedSequence(seed_words(seed, *keys)).generate_state(1, np.uint64)[0] >> 1)
    else:
        state = seed_words(seed)[0]
    return torch.Generator(device=device).manual_seed(state)


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block under torch's global RNG seeded with ``seed``, restoring the caller's state after.

    ``seed=None`` runs the block unseeded (fresh random initialisation).
    """
    if seed is None:
        yield
        return
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed_words(seed)[0])
        yield


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global RNG and torch (CPU and every CUDA device)."""
    import torch

    seed = seed_words(seed)[0]
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
