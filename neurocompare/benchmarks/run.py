"""Scoring: :func:`score_responses` for activations you have, :func:`score` for a model.

``score(model, bench)`` = extract the model's activations on ``bench.stimuli`` (through the
activation cache, with the model's registered preprocessing and ``bench.reduce``), then
``score_responses(acts, bench)``. Both run the protocol of
:mod:`neurocompare.benchmarks.procedure`.

Examples
--------
>>> import numpy as np
>>> from neurocompare.benchmarks import Benchmark, score_responses
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((100, 20))
>>> y = x[:, :5] + 0.5 * rng.standard_normal((100, 5))
>>> s = score_responses({"layer1": x, "noise": rng.standard_normal((100, 20))}, Benchmark(y, metric="ridge"))
>>> s.layer, round(s.value, 2) > 0.5, s.error_kind
('layer1', True, 'sd over 10 splits')
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._options import get_options, progress_enabled, thread_limit
from neurocompare.benchmarks.procedure import benchmark_ceiling, combine, layer_scores
from neurocompare.benchmarks.score import Score
from neurocompare.benchmarks.spec import REDUCERS, Benchmark, get_benchmark, with_seed
from neurocompare.provenance import git_commit

__all__ = ["benchmark_activations", "default_layers", "score", "score_responses"]


def _threads(threads: int | None) -> int | None:
    """Threads for the metric: explicit, else the ``threads`` option, else ``solver_threads`` (1).

    The metric's matrices are small; on a shared or oversubscribed machine one thread is several
    times faster than many (OpenMP barriers dominate).
    """
    if threads is not None:
        return threads
    opts = get_options()
    return opts["threads"] or opts["solver_threads"]


def _base_provenance(bench: Benchmark, layers: Sequence[str]) -> dict[str, Any]:
    import neurocompare

    prov = dict(bench.describe())
    prov.update(
        {
            "seed": int(bench.seed),
            "layers": list(layers),
            "neurocompare_version": neurocompare.__version__,
            "git_commit": git_commit(),
            "numpy_version": np.__version__,
            "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
    )
    try:
        import torch

        prov["torch_version"] = torch.__version__
    except ImportError:  # pragma: no cover
        pass
    return prov


def model_provenance(resolved: Any, bench: Benchmark, layers: Sequence[str]) -> dict[str, Any]:
    """Provenance of scoring ``resolved`` (a ResolvedModel) on ``bench``: model, benchmark, versions."""
    prov = dict(resolved.provenance())
    prov.update(_base_provenance(bench, layers))
    prov["stimulus_hash"] = stimulus_hash_cached(bench.stimuli)
    return prov


def score_responses(
    activations: Mapping[str, Any],
    benchmark: Benchmark | str,
    *,
    seed: int | None = None,
    root: str | os.PathLike | None = None,
    device: str | None = None,
    threads: int | None = None,
    progress: bool | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Score:
    """Score activations you already have on a benchmark: per-layer held-out scores → layer choice → ceiling.

    Parameters
    ----------
    activations : mapping layer -> Responses, array or tensor (n_stimuli, n_features)
        One entry per layer (or model). Responses are matched to the data by ``stimulus_id``;
        plain arrays must follow the data's row order. For RSA benchmarks a model RDM
        ('stimulus', 'stimulus_2') is accepted too.
    benchmark : Benchmark or str
        A Benchmark (its stimuli are not needed), or a registered identifier.
    seed : int, optional
        Seeds the splits and the ceiling (default: the benchmark's).
    root : path-like, optional
        Data root for a benchmark given by name.
    device : str, optional
        Where the mappings, RDMs and correlations run (``'cuda'``); default CPU.
    threads : int, optional
        Torch/BLAS threads for the metric (default: the ``threads`` option, else
        ``solver_threads``, 1).
    progress : bool, optional
        A bar over layers.
    provenance : mapping, optional
        Extra provenance (e.g. the model's).

    Returns
    -------
    Score
    """
    from tqdm.auto import tqdm

    bench = benchmark if isinstance(benchmark, Benchmark) else get_benchmark(benchmark, root=root)
    bench = with_seed(bench, seed)
    if not isinstance(activations, Mapping) or not activations:
        raise TypeError(
            "activations must be a non-empty mapping {layer name: Responses or array}; got "
            f"{type(activations).__name__}. For one array use {{'x': x}}."
        )
    layers = [str(k) for k in activations]
    with thread_limit(_threads(threads)):
        results = {
            str(name): layer_scores(bench, acts, str(name), device=device)
            for name, acts in tqdm(activations.items(), desc=bench.identifier, disable=not progress_enabled(progress), leave=False)
        }
        ceiling = benchmark_ceiling(bench)
    prov = _base_provenance(bench, layers)
    prov.update(provenance or {})
    return combine(bench, results, ceiling, prov)


# ----------------------------------------------------------------------------- models
_STIM_HASHES: dict[int, tuple[Any, str]] = {}


def stimulus_hash_cached(stimuli: xr.DataArray) -> str:
    """:func:`neurocompare.cache.stimulus_hash`, memoised per stimulus object."""
    from neurocompare.cache import stimulus_hash

    hit = _STIM_HASHES.get(id(stimuli))
    if hit is not None and hit[0] is stimuli:
        return hit[1]
    h = stimulus_hash(stimuli)
    _STIM_HASHES[id(stimuli)] = (stimuli, h)
    return h


def default_layers(model: Any) -> list[str]:
    """The model's top-level children that can carry a representation (no Flatten/Dropout/Identity)."""
    from torch import nn

    skip = (nn.Flatten, nn.Dropout, nn.Identity)
    names = [n for n, m in model.named_children() if not isinstance(m, skip)]
    if not names:
        raise ValueError("The model has no top-level child modules; pass layers=... Hint: use neurocompare.list_layers(model).")
    return names


def benchmark_activations(
    resolved: Any,
    bench: Benchmark,
    layers: Sequence[str],
    *,
    cache: Any = None,
    device: str | None = None,
    batch_size: int = 64,
    progress: bool | None = None,
) -> dict[str, xr.DataArray]:
    """Activations of ``resolved.model`` on ``bench.stimuli`` for ``layers`` (through ``cache``).

    Uses the model's registered preprocessing as ``transform`` and ``REDUCERS[bench.reduce]``.
    """
    from neurocompare.cache import cached_extract

    if bench.stimuli is None:
        raise ValueError(
            f"Benchmark {bench.identifier!r} has no stimuli, so a model cannot be run on it. Give "
            "Benchmark(..., stimuli=...), or extract activations yourself and call score_responses(acts, bench)."
        )
    prep = resolved.preprocessing
    if prep.modality != bench.modality:
        raise ValueError(
            f"Model {resolved.model_id!r} takes {prep.modality} input but benchmark {bench.identifier!r} "
            f"presents {bench.modality} stimuli. Choose a {bench.modality} model."
        )
    stimuli = bench.stimuli
    if bench.modality == "audio":
        rate = stimuli.attrs.get("sample_rate")
        if prep.sample_rate is not None and rate is not None and int(rate) != int(prep.sample_rate):
            raise ValueError(
                f"Benchmark {bench.identifier!r} presents sounds at {rate} Hz but the model expects "
                f"{prep.sample_rate} Hz. Register the model's preprocessing with the benchmark's rate."
            )
    return cached_extract(
        resolved.model,
        stimuli,
        layers,
        cache=cache,
        model_hash=resolved.weights_hash,
        stimuli_hash=stimulus_hash_cached(stimuli),
        preprocessing=prep.describe(),
        reduce=REDUCERS[bench.reduce],
        transform=prep,
        batch_size=batch_size,
        device=device,
        progress=progress,
        memory_budget=None,
    )


def score(
    model: Any,
    benchmark: Benchmark | str,
    layers: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    device: str | None = None,
    batch_size: int = 64,
    cache: Any = None,
    root: str | os.PathLike | None = None,
    progress: bool | None = None,
    threads: int | None = None,
    metric_device: str | None = None,
) -> Score:
    """Score a model on a benchmark: activations (cached) → :func:`score_responses`.

    Parameters
    ----------
    model : str, torch.nn.Module or ResolvedModel
        A model spec understood by ``resolve_model`` (a registered name, a checkpoint, ...).
    benchmark : Benchmark or str
        A Benchmark with stimuli, or a registered identifier (loaded with :func:`get_benchmark`).
    layers : sequence of str, optional
        Layers to consider (default :func:`default_layers`).
    seed : int, optional
        Seeds the splits and the ceiling (default: the benchmark's). Same seed, same score.
    device : str, optional
        Where the model runs (``"cuda"``).
    batch_size : int
    cache : ActivationCache, optional
        Activation cache (``None``: no caching).
    root : path-like, optional
        Data root for a benchmark given by name.
    progress : bool, optional
    threads : int, optional
        Threads for the metric (see :func:`score_responses`).
    metric_device : str, optional
        Where the mappings and correlations run (``"cuda"``); default CPU.

    Returns
    -------
    Score

    Examples
    --------
    >>> import data_loaders.benchmarks                     # doctest: +SKIP
    >>> score("convnet_small", "cowley2023.V4-ridge.210325")  # doctest: +SKIP
    Score(cowley2023.V4-ridge.210325.v1: value=... ± ... (sd over 10 splits), raw=..., ceiling=..., layer='block2')
    """
    from neurocompare.models import ResolvedModel, resolve_model

    bench = benchmark if isinstance(benchmark, Benchmark) else get_benchmark(benchmark, root=root)
    bench = with_seed(bench, seed)
    resolved = model if isinstance(model, ResolvedModel) else resolve_model(model)
    layers = list(layers) if layers is not None else default_layers(resolved.model)
    acts = benchmark_activations(resolved, bench, layers, cache=cache, device=device, batch_size=batch_size, progress=progress)
    prov = model_provenance(resolved, bench, layers)
    if cache is not None:
        prov["cache"] = dict(cache.stats)
    return score_responses({layer: acts[layer] for layer in layers}, bench, device=metric_device, threads=threads, progress=False, provenance=prov)
