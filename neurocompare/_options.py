"""Options in one place: ``nc.set_options(...)`` (global or as a context manager) and ``nc.get_options()``.

Every setting has a default, an environment variable read **once**, when this module is first
imported, and one truth rule for switches. Library code asks this module, never ``os.environ``.

=================  =========================  ==============================================
option             environment variable       meaning
=================  =========================  ==============================================
``progress``       ``NEUROCOMPARE_QUIET``      ``None``: bars only on an interactive terminal;
                                              ``False``: never; ``True``: always. A true
                                              ``NEUROCOMPARE_QUIET`` sets ``False``.
``threads``        ``NEUROCOMPARE_THREADS``    torch/BLAS threads for the measures (``None``:
                                              leave the process setting).
``solver_threads`` ``NEUROCOMPARE_SOLVER_THREADS`` threads for small per-split solvers (default 1:
                                              small LAPACK calls are slower on more threads).
``device``         ``NEUROCOMPARE_DEVICE``     where the measures run when the input does not
                                              say (``None``: where the input lives, CPU for
                                              numpy).
``dtype``          ``NEUROCOMPARE_DTYPE``      ``'float64'`` (default on CPU), ``'float32'``, or
                                              ``None`` for the input's own floating dtype.
``data_dir``       ``NEUROCOMPARE_DATA``       folder of recorded datasets.
``cache_dir``      ``NEUROCOMPARE_CACHE``      folder of the activation cache.
=================  =========================  ==============================================

Truth rule for switches: ``1 true yes on`` (any case) are true, ``0 false no off`` and the empty
string are false; anything else is an error that names the variable.

Examples
--------
>>> import neurocompare as nc
>>> with nc.set_options(progress=False, dtype="float32"):
...     nc.get_options()["dtype"]
'float32'
>>> nc.get_options()["dtype"]
'float64'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "OPTIONS",
    "get_options",
    "set_options",
    "progress_enabled",
    "thread_limit",
    "resolve_device",
    "resolve_dtype",
    "data_dir",
    "cache_dir",
    "parse_switch",
]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_DTYPES = ("float64", "float32", None)


def parse_switch(value: str, name: str) -> bool:
    """Read an on/off environment value with the one truth rule (see the module docstring).

    Raises
    ------
    ValueError
        For a value that is neither true nor false, naming the variable.
    """
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(
        f"Environment variable {name}={value!r} is not a switch. Use one of {', '.join(_TRUE)} (on) "
        f"or {', '.join(v for v in _FALSE if v)} (off)."
    )


def _positive_int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or (isinstance(value, float) and value != n) or isinstance(value, bool):
        raise ValueError(f"The option {name!r} must be a positive integer or None; got {value!r}.")
    return n


def _from_environment(env: dict[str, str]) -> dict[str, Any]:
    """The options as the environment sets them (the defaults where it says nothing)."""
    opts: dict[str, Any] = {
        "progress": None,
        "threads": None,
        "solver_threads": 1,
        "device": None,
        "dtype": "float64",
        "data_dir": None,
        "cache_dir": None,
    }
    if "NEUROCOMPARE_QUIET" in env and parse_switch(env["NEUROCOMPARE_QUIET"], "NEUROCOMPARE_QUIET"):
        opts["progress"] = False
    if env.get("NEUROCOMPARE_THREADS"):
        opts["threads"] = _positive_int(env["NEUROCOMPARE_THREADS"], "NEUROCOMPARE_THREADS")
    if env.get("NEUROCOMPARE_SOLVER_THREADS"):
        opts["solver_threads"] = _positive_int(env["NEUROCOMPARE_SOLVER_THREADS"], "NEUROCOMPARE_SOLVER_THREADS")
    if env.get("NEUROCOMPARE_DEVICE"):
        opts["device"] = env["NEUROCOMPARE_DEVICE"]
    if "NEUROCOMPARE_DTYPE" in env:
        opts["dtype"] = _check_dtype(env["NEUROCOMPARE_DTYPE"] or None, "NEUROCOMPARE_DTYPE")
    for key, var in (("data_dir", "NEUROCOMPARE_DATA"), ("cache_dir", "NEUROCOMPARE_CACHE")):
        if env.get(var):
            opts[key] = Path(env[var]).expanduser()
    return opts


def _check_dtype(value: Any, name: str) -> str | None:
    if value in ("input", "None"):
        value = None
    if value not in _DTYPES:
        raise ValueError(f"The option {name!r} must be one of 'float64', 'float32' or None; got {value!r}.")
    return value


OPTIONS: dict[str, Any] = _from_environment(dict(os.environ))


def _validate(key: str, value: Any) -> Any:
    if key not in OPTIONS:
        from neurocompare.registry import close_matches_hint

        raise ValueError(
            f"Unknown option {key!r}.{close_matches_hint(key, sorted(OPTIONS))} Available: {', '.join(sorted(OPTIONS))}."
        )
    if key == "progress" and value not in (None, True, False):
        raise ValueError(f"The option 'progress' must be True, False or None; got {value!r}.")
    if key in ("threads", "solver_threads"):
        return _positive_int(value, key) if not (key == "solver_threads" and value is None) else 1
    if key == "dtype":
        return _check_dtype(value, key)
    if key == "device" and value is not None:
        return str(value)
    if key in ("data_dir", "cache_dir") and value is not None:
        return Path(value).expanduser()
    return value


class set_options:  # noqa: N801  (lower case: used like a function, as xarray's)
    """Set options globally, or for a ``with`` block only.

    Parameters
    ----------
    **kwargs
        ``progress``, ``threads``, ``solver_threads``, ``device``, ``dtype``, ``data_dir``,
        ``cache_dir`` (see the module docstring).

    Raises
    ------
    ValueError
        An unknown option (with the closest names) or a value of the wrong kind.

    Examples
    --------
    >>> import neurocompare as nc
    >>> with nc.set_options(threads=1):
    ...     nc.get_options()["threads"]
    1
    """

    def __init__(self, **kwargs: Any) -> None:
        new = {key: _validate(key, value) for key, value in kwargs.items()}
        self._old = {key: OPTIONS[key] for key in new}
        OPTIONS.update(new)

    def __enter__(self) -> "set_options":
        return self

    def __exit__(self, *exc: Any) -> None:
        OPTIONS.update(self._old)


def get_options() -> dict[str, Any]:
    """A copy of the current options."""
    return dict(OPTIONS)


def reset_options() -> None:
    """Re-read the environment (for tests that change it)."""
    OPTIONS.clear()
    OPTIONS.update(_from_environment(dict(os.environ)))


# ----------------------------------------------------------------------------- helpers
def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to show a progress bar: an explicit argument wins, then the option, then "on a terminal".

    ``progress=True`` passed by a caller still yields to ``set_options(progress=False)`` (the
    user's global "be quiet" beats a library default).
    """
    import sys

    option = OPTIONS["progress"]
    if option is False:
        return False
    if progress is not None:
        return bool(progress)
    if option is True:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


@contextmanager
def thread_limit(n_threads: int | None = None) -> Iterator[None]:
    """Limit torch intra-op and BLAS threads inside the block (``None``: the ``threads`` option; still ``None``: no change).

    Small matrix work (per-split solvers, RDMs of a few hundred stimuli) runs many times faster on
    one thread on a shared machine, where OpenMP barriers dominate.
    """
    n = OPTIONS["threads"] if n_threads is None else _positive_int(n_threads, "n_threads")
    if n is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    if old != n:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


def resolve_device(device: Any = None, like: Any = None) -> Any:
    """The ``torch.device`` to compute on.

    Order: an explicit ``device``; the device of a torch tensor ``like`` (computation follows its
    input); the ``device`` option; CPU.

    Raises
    ------
    ValueError
        CUDA requested on a machine without a GPU.
    """
    import torch

    if device is None and like is not None and isinstance(like, torch.Tensor):
        device = like.device
    if device is None:
        device = OPTIONS["device"]
    dev = torch.device("cpu" if device is None else device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was requested but no CUDA GPU is available; use device='cpu'.")
    return dev


def resolve_dtype(dtype: Any = None, like: Any = None, device: Any = None) -> Any:
    """The torch floating dtype to compute in.

    Order: an explicit ``dtype`` ('float64', 'float32' or a torch dtype); the ``dtype`` option;
    with the option ``None``, the input's own floating dtype (float32 for integers and numpy
    float16). The default option is float64 on CPU (a wrong number that looks right is worse than
    a slow one). On a CUDA device with the default option the input's dtype is kept, so GPU
    float32 stays fast; ask for float64 explicitly to override.
    """
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is not None:
        name = _check_dtype(str(dtype).replace("torch.", ""), "dtype")
        return getattr(torch, name) if name else _input_dtype(like)
    option = OPTIONS["dtype"]
    on_gpu = device is not None and torch.device(device).type == "cuda"
    if option == "float64" and on_gpu:
        return _input_dtype(like)
    if option is None:
        return _input_dtype(like)
    return getattr(torch, option)


def _input_dtype(like: Any) -> Any:
    import numpy as np
    import torch

    dt = getattr(like, "dtype", None)
    if isinstance(dt, torch.dtype):
        return dt if dt in (torch.float64, torch.float32) else torch.float32
    if dt is not None and np.dtype(dt) == np.float64:
        return torch.float64
    return torch.float32


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder of recorded datasets: ``root``, else the ``data_dir`` option, else ``~/.cache/neurocompare``."""
    if root is not None:
        return Path(root).expanduser()
    if OPTIONS["data_dir"] is not None:
        return Path(OPTIONS["data_dir"])
    return Path("~/.cache/neurocompare").expanduser()


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """The activation-cache folder: ``root``, else the ``cache_dir`` option, else ``~/.cache/neurocompare/activations``."""
    if root is not None:
        return Path(root).expanduser()
    if OPTIONS["cache_dir"] is not None:
        return Path(OPTIONS["cache_dir"])
    return Path("~/.cache/neurocompare/activations").expanduser()
