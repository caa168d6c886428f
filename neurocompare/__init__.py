"""neurocompare: compare neural networks with brains.

The one sentence: model + stimuli -> activations (one ``Responses`` per layer) -> aligned with
recorded neural data (a ``Responses`` too) -> metric -> divided by the data's noise ceiling.

The core imports quickly: torch-dependent parts (``extract``, ``list_layers``) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from neurocompare.data import (
    align,
    average_repetitions,
    check_rdm,
    check_responses,
    load,
    make_rdm,
    make_responses,
    save,
    split_repetitions,
)
from neurocompare.registry import Registry

__version__ = "0.1.0"

_LAZY = {
    "extract": "neurocompare.activations",
    "list_layers": "neurocompare.activations",
}

__all__ = [
    "__version__",
    "Registry",
    "align",
    "average_repetitions",
    "check_rdm",
    "check_responses",
    "extract",
    "list_layers",
    "load",
    "make_rdm",
    "make_responses",
    "save",
    "split_repetitions",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neurocompare' has no attribute {name!r}")
