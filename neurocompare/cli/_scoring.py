"""Options shared by ``score`` and ``sweep``: data root, seed, device, activation cache."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_benchmark_module", "add_common", "make_cache", "model_kwargs", "register_data_benchmarks"]


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="data root (default: $NEUROCOMPARE_DATA)")
    p.add_argument("--seed", type=int, default=None, help="seed of the splits and ceiling (default: the benchmark's, 0)")
    p.add_argument("--device", default=None, help="where the model runs, e.g. cuda")
    p.add_argument("--cache-dir", default=None, help="activation cache folder (default: $NEUROCOMPARE_CACHE or ~/.cache/neurocompare/activations)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the activation cache")


def add_benchmark_module(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--benchmark-module", action="append", default=[], metavar="MODULE",
        help="import this module (mypkg.benchmarks) or file (my_benchmarks.py) first, so that the benchmarks "
        "it registers with nc.register_benchmark can be named; repeatable",
    )


def _import_user_module(name: str) -> None:
    import importlib
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(name)
    if name.endswith(".py"):
        if not path.is_file():
            raise ValueError(f"--benchmark-module {name!r}: no such file. Give a module name (mypkg.benchmarks) or the path of a .py file.")
        mod_name = f"_neurocompare_user_benchmarks_{path.stem}"
        if mod_name in sys.modules:
            return
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
        return
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.append(str(Path.cwd()))  # as ``python -m`` would: a module beside the user is found
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise ValueError(
            f"--benchmark-module {name!r} cannot be imported ({err}). Install the package that holds it, add its "
            "folder to PYTHONPATH, or pass the path of the .py file instead."
        ) from None


def register_data_benchmarks(modules: Any = ()) -> None:
    """Import the data-backed benchmark registrations (``data_loaders.benchmarks``) when present,
    then each user module of ``--benchmark-module`` (a module name or a ``.py`` file)."""
    try:
        import data_loaders.benchmarks  # noqa: F401
    except ImportError:  # running without the data loaders: only benchmarks registered by the user
        pass
    for name in modules or ():
        _import_user_module(name)


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
