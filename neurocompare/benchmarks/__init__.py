"""Benchmarks: recorded data + metric + ceiling, scored by one protocol.

- :class:`Benchmark` (``spec``): the data (Responses, an array or an RDM stack), the metric
  (any registered name, a Metric or a callable), the ceiling and the splits (random and keyed by
  ``stimulus_id``, blocked by ``groups``, stratified, or your own), plus the stimuli to score a
  model; the registry of named, versioned benchmarks (:func:`register_benchmark`,
  :func:`get_benchmark`, :func:`list_benchmarks`).
- :func:`score_responses` (activations you have) and :func:`score` (a model, through the
  activation cache) (``run``), returning a :class:`Score` (``score``, a leaf type).
- The protocol itself (``procedure``): :func:`layer_scores`, :func:`benchmark_ceiling`,
  :func:`combine`.
- :func:`write_score`, :func:`load_scores`, :func:`format_table` (``io``);
  :func:`run_sweep` (``sweep``, models × benchmarks × layers on Dask).

Examples
--------
>>> import numpy as np
>>> import neurocompare.benchmarks as nb
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((80, 10)); y = x[:, :3] + rng.standard_normal((80, 3))
>>> s = nb.score_responses({"x": x}, nb.Benchmark(y, metric="ridge", seed=0))
>>> float(s) == s.value
True
"""

from __future__ import annotations

from neurocompare.benchmarks.io import format_table, load_scores, write_score
from neurocompare.benchmarks.procedure import LayerResult, benchmark_ceiling, combine, layer_scores
from neurocompare.benchmarks.run import benchmark_activations, default_layers, score, score_responses
from neurocompare.benchmarks.score import Score
from neurocompare.benchmarks.spec import (
    BENCHMARKS,
    REDUCERS,
    Benchmark,
    BenchmarkEntry,
    get_benchmark,
    list_benchmarks,
    pool4,
    register_benchmark,
)
from neurocompare.benchmarks.sweep import SweepResult, read_sweep_log, run_sweep
from neurocompare.benchmarks.time_resolved import (
    TimeResolvedScore,
    bin_spike_times,
    nwb_spike_times,
    stack_time,
    time_resolved_benchmark,
    time_resolved_consistency,
)

__all__ = [
    "ActivationCache",
    "BENCHMARKS",
    "REDUCERS",
    "Benchmark",
    "BenchmarkEntry",
    "LayerResult",
    "Score",
    "SweepResult",
    "TimeResolvedScore",
    "benchmark_activations",
    "benchmark_ceiling",
    "bin_spike_times",
    "combine",
    "default_layers",
    "format_table",
    "get_benchmark",
    "layer_scores",
    "list_benchmarks",
    "load_scores",
    "nwb_spike_times",
    "pool4",
    "read_sweep_log",
    "register_benchmark",
    "run_sweep",
    "score",
    "score_responses",
    "stack_time",
    "time_resolved_benchmark",
    "time_resolved_consistency",
    "write_score",
]


def __getattr__(name: str):
    # the activation cache pulls in the model registry (torch): load it on first use only
    if name == "ActivationCache":
        from neurocompare.cache import ActivationCache

        return ActivationCache
    raise AttributeError(f"module 'neurocompare.benchmarks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
