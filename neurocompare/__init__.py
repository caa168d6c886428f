"""neurocompare: compare neural networks with brains.

The one sentence: model + stimuli -> activations (one ``Responses`` per layer) -> aligned with
recorded neural data (a ``Responses`` too) -> metric -> divided by the data's noise ceiling.

The core imports quickly: torch-dependent parts (``extract``, ``score``, metamers, ...) load on
first use. The similarity measures live in ``neurocompare.similarity`` (``rdm``, ``rsa``,
``cka_linear``, ``ridge_predictivity``, ``split_half_reliability``, ...).
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
    "score": "neurocompare.benchmarks",
    "get_benchmark": "neurocompare.benchmarks",
    "list_benchmarks": "neurocompare.benchmarks",
    "synthesize_metamers": "neurocompare.metamers",
    "MetamerSynthesis": "neurocompare.metamers",
    "check_validity": "neurocompare.metamers",
    "recognizability": "neurocompare.metamers",
}

__all__ = [
    "__version__",
    "MetamerSynthesis",
    "Registry",
    "align",
    "average_repetitions",
    "check_rdm",
    "check_responses",
    "check_validity",
    "extract",
    "get_benchmark",
    "list_benchmarks",
    "list_layers",
    "load",
    "make_rdm",
    "make_responses",
    "recognizability",
    "save",
    "score",
    "split_repetitions",
    "synthesize_metamers",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neurocompare' has no attribute {name!r}")
