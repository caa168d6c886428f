"""Options shared by ``score`` and ``sweep``: data root, seed, device, activation cache."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_common", "make_cache", "model_kwargs", "register_data_benchmarks"]


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="data root (default: $NEUROCOMPARE_DATA)")
    p.add_argument("--seed", type=int, default=None, help="seed of the splits and ceiling (default: the benchmark's, 0)")
    p.add_argument("--device", default=None, help="where the model runs, e.g. cuda")
    p.add_argument("--cache-dir", default=None, help="activation cache folder (default: $NEUROCOMPARE_CACHE or ~/.cache/neurocompare/activations)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the activation cache")


def register_data_benchmarks() -> None:
    """Import the data-backed benchmark registrations (``data_loaders.benchmarks``) when present."""
    try:
        import data_loaders.benchmarks  # noqa: F401
    except ImportError:  # running without the data loaders: only benchmarks registered by the user
        pass


def model_kwargs(args: Any) -> dict[str, Any]:
    if not getattr(args, "model_kwargs", None):
        return {}
    try:
        kw = json.loads(args.model_kwargs)
    except json.JSONDecodeError as err:
        raise ValueError(f"--model-kwargs must be a JSON object, e.g. '{{\"seed\": 1}}'; got {args.model_kwargs!r} ({err}).") from None
    if not isinstance(kw, dict):
        raise ValueError(f"--model-kwargs must be a JSON object; got {args.model_kwargs!r}.")
    return kw


def make_cache(args: Any) -> Any:
    from neurocompare.cache import ActivationCache

    if getattr(args, "no_cache", False):
        return None
    return ActivationCache(args.cache_dir) if getattr(args, "cache_dir", None) else ActivationCache()
