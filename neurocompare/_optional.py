"""Import optional dependencies at call time with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]

_EXTRA_FOR = {
    "torchvision": "vision",
    "PIL": "vision",
    "matplotlib": "plot",
    "dask": "distributed",
    "distributed": "distributed",
    "pynwb": "nwb",
    "soundfile": "audio",
    "timm": "vision",
    "pooch": "data",
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that says how to install it.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"matplotlib.pyplot"``.
    feature : str
        What needs it, for the message, e.g. ``"plotting"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        extra = _EXTRA_FOR.get(top)
        hint = f"pip install 'neurocompare[{extra}]'" if extra else f"pip install {top}"
        raise ImportError(f"{feature} requires {top}, which is not installed: {hint}") from err
