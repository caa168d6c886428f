"""neurocompare: compare neural networks with brains.

The one sentence: model + stimuli -> activations (one ``Responses`` per layer) -> aligned with
recorded neural data (a ``Responses`` too) -> metric -> divided by the data's noise ceiling ->
``Score``.

Everything a user needs is one name away::

    import neurocompare as nc

    acts = nc.extract("convnet_small", images, ["block2"])       # {layer: Responses}
    nc.cka_linear(acts["block2"], v4)                             # a similarity measure
    nc.ridge_predictivity(acts["block2"], v4)                     # cross-validated predictivity
    bench = nc.Benchmark(v4, metric="ridge", ceiling="split_half")
    nc.score_responses(acts, bench)                               # Score: value, error, ceiling

The subpackages, one level deep, hold the rest of each topic: ``nc.similarity``,
``nc.benchmarks``, ``nc.models``, ``nc.metamers``, ``nc.gridcells``, ``nc.training``,
``nc.learning``, ``nc.behavior``, ``nc.tasks``, ``nc.audio`` and ``nc.plotting``. Importing ``neurocompare`` is light: torch and the subpackages load on first use.
Options (progress bars, threads, device, precision) are set with :func:`set_options`.
"""

from __future__ import annotations

import importlib
from typing import Any

from neurocompare._options import get_options, set_options
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

__version__ = "0.2.0"

_SUBPACKAGES = ("similarity", "benchmarks", "models", "metamers", "gridcells", "training", "learning", "behavior", "tasks", "audio", "plotting")

#: public name -> the subpackage (or module) that defines it; loaded on first access
_EXPORTS: dict[str, str] = {
    # extraction and models
    "extract": "neurocompare.activations",
    "list_layers": "neurocompare._hooks",
    "build_model": "neurocompare.models",
    "resolve_model": "neurocompare.models",
    # similarity measures, mappings, ceilings, statistics
    **{
        name: "neurocompare.similarity"
        for name in (
            "rdm", "crossnobis_rdm", "compare_rdms", "rsa", "cka", "cka_linear", "cka_unbiased",
            "cka_rbf", "hsic_linear", "canonical_correlations", "cca_mean", "svcca", "pwcca",
            "procrustes", "shape_cca", "shape_distance", "ridge_predictivity", "pls_predictivity",
            "reverse_predictivity", "split_half_reliability", "rsa_noise_ceiling", "spearman_brown",
            "noise_correct", "bootstrap", "permutation_test", "make_splits", "get_metric",
            "register_metric", "list_metrics",
        )
    },
    # scoring
    **{
        name: "neurocompare.benchmarks"
        for name in (
            "Benchmark", "Score", "score", "score_responses", "get_benchmark", "list_benchmarks",
            "register_benchmark",
        )
    },
    # metamers
    **{
        name: "neurocompare.metamers"
        for name in ("MetamerSynthesis", "synthesize_metamers", "check_validity", "recognizability")
    },
    # grid cells
    **{name: "neurocompare.gridcells" for name in ("rate_maps", "gridness", "grid_scores", "detect_modules")},
    # training
    **{name: "neurocompare.training" for name in ("train",)},
    # what training does (neural collapse, rank)
    **{name: "neurocompare.learning" for name in ("neural_collapse", "layerwise_collapse", "effective_rank")},
    # behaviour
    **{name: "neurocompare.behavior" for name in ("BlockHMM", "error_consistency")},
    # tasks and time-resolved scoring (Mental-Pong)
    **{name: "neurocompare.tasks" for name in ("mental_pong_conditions",)},
    **{name: "neurocompare.benchmarks" for name in ("time_resolved_consistency", "time_resolved_benchmark")},
    # audio (cochleagram front end)
    **{name: "neurocompare.audio" for name in ("Cochleagram", "cochleagram")},
}

__all__ = sorted(
    [
        "__version__",
        "align",
        "average_repetitions",
        "check_rdm",
        "check_responses",
        "get_options",
        "load",
        "make_rdm",
        "make_responses",
        "save",
        "set_options",
        "split_repetitions",
        *_EXPORTS,
        *_SUBPACKAGES,
    ]
)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"neurocompare.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    from neurocompare.registry import close_matches_hint

    raise AttributeError(f"module 'neurocompare' has no attribute {name!r}.{close_matches_hint(name, __all__)}")


def __dir__() -> list[str]:
    return list(__all__)
