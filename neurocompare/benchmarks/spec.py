"""What a benchmark is: recorded data + metric + ceiling (+ the stimuli, to score a model), and the registry.

A :class:`Benchmark` binds one recorded dataset (Responses, a plain array, or a stack of RDMs),
a metric (any registered name, a :class:`~neurocompare.similarity.Metric` or a plain callable),
a ceiling and the split settings. The stimuli are needed only to score a *model*
(:func:`neurocompare.benchmarks.score`); activations you already have are scored with
:func:`neurocompare.benchmarks.score_responses`.

Benchmarks are registered under versioned names such as ``"cowley2023.V4-ridge.210325.v1"``;
the registrations that need recorded data live in ``data_loaders/benchmarks.py``
(``neurocompare`` never imports ``data_loaders``), and the ``neurocompare`` command imports them
on demand.

Examples
--------
>>> import numpy as np
>>> y = np.random.default_rng(0).standard_normal((60, 5))
>>> Benchmark(y, metric="ridge", seed=1)
Benchmark('custom', metric='ridge', ceiling=None, data dims={'stimulus': 60, 'unit': 5}, stimuli=none)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import xarray as xr

from neurocompare.data import check_rdm, check_responses, make_responses
from neurocompare.registry import Registry, close_matches_hint
from neurocompare.benchmarks.procedure import recordings, split_positions
from neurocompare.similarity._metrics import Metric, as_metric
from neurocompare.similarity._protocol import canonical_ids

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "BenchmarkEntry",
    "REDUCERS",
    "get_benchmark",
    "list_benchmarks",
    "pool4",
    "register_benchmark",
]

BENCHMARKS = Registry("benchmark")
CEILINGS = (None, "split_half", "nili")
LOW_CEILING = 0.2


# ----------------------------------------------------------------------------- reductions
def pool4(x: Any) -> Any:
    """Reduce a conv feature map (batch, channel, height, width) to a 4×4 grid: (batch, channel·16).

    Keeps coarse spatial layout (receptive-field position matters for V4/IT predictivity) at a
    size that fits in memory; other shapes are flattened. 1-D maps (batch, channel, time) are
    pooled to 16 time bins.
    """
    import torch.nn.functional as F

    if x.dim() == 4:
        return F.adaptive_avg_pool2d(x, 4).flatten(1)
    if x.dim() == 3:
        return F.adaptive_avg_pool1d(x, 16).flatten(1)
    return x.reshape(x.shape[0], -1)


REDUCERS: dict[str, Any] = {"pool4": pool4, "avgpool": "avgpool", "flatten": "flatten"}


def _as_data(data: Any) -> xr.DataArray:
    if isinstance(data, xr.DataArray):
        if "stimulus_2" in data.dims:
            return check_rdm(data)
        return check_responses(data, allow_nan=True)
    values = np.asarray(data.detach().cpu().numpy() if hasattr(data, "detach") else data)
    if values.ndim != 2:
        raise ValueError(
            f"Benchmark data given as an array must be 2-D (stimulus, unit); got shape {values.shape}. Build "
            "Responses with neurocompare.make_responses(...) for repetitions or other dims."
        )
    return make_responses(values, stimulus_ids=canonical_ids(values.shape[0]))


# ----------------------------------------------------------------------------- Benchmark
@dataclass
class Benchmark:
    """Recorded data, a metric and a ceiling (and the stimuli, to score a model).

    Parameters
    ----------
    data : Responses, array (n_stimuli, n_units) or RDM
        - Responses with dims ('stimulus', 'unit'[, 'repetition']) (repetitions are averaged for
          the metric and split in halves for the ceiling); a unit coord named by ``unit_group``
          marks independent recordings (sessions) whose units saw different stimuli (NaN where
          a unit did not see a stimulus). A plain array gets ids ``'0' … 'n-1'`` (row order).
        - an RDM stack with dims ``(*stack, 'stimulus', 'stimulus_2')`` (RSA metrics only); stack
          dims other than ``rdm_subject_dim`` are averaged.
    stimuli : xarray.DataArray, optional
        Images ('stimulus', 'height', 'width', 'channel') or sounds ('stimulus', 'sample', attr
        ``sample_rate``) with a ``stimulus_id`` coord covering the data; needed by
        :func:`~neurocompare.benchmarks.score`, not by
        :func:`~neurocompare.benchmarks.score_responses`.
    metric : str, Metric or callable
        A registered name (:func:`neurocompare.similarity.list_metrics`), a Metric, or a plain
        ``(x, y) -> float`` (a representational similarity).
    ceiling : {'split_half', 'nili'} or None
        ``'split_half'``: mapped metrics on Responses with repetitions; ``'nili'``: RSA on RDM
        stacks.
    identifier : str
        Versioned name, ``"<dataset>.<region>-<metric>[.<subset>].v<N>"`` (default ``'custom'``).
    modality : {'image', 'audio'}
    n_splits, test_fraction, seed
        The random splits (:func:`neurocompare.similarity.make_splits`).
    splits : list of (train_ids, test_ids), optional
        Your own splits (stimulus ids); replace the random ones.
    groups : str or array-like, optional
        A 'stimulus' coord name of ``data`` or one label per stimulus: blocked splits (whole
        groups held out, e.g. every time bin of one sound).
    stratify : str or array-like, optional
        A 'stimulus' coord name or labels: stratified splits.
    unit_group : str, optional
        Unit coord naming independent recordings (see ``data``; mapped metrics only).
    rdm_subject_dim : str, optional
        The RDM stack dim over which subjects are scored and the Nili ceiling is computed.
    reduce : {'pool4', 'avgpool', 'flatten'}
        How a layer output becomes units when a model is scored.
    metric_kwargs : dict
        Passed to the metric (its estimator, for mapped metrics), e.g. ``{'n_components': 25}``.
    n_ceiling_splits : int
        Random repetition halves per split for the split-half ceiling.
    description, citation : str
    """

    data: Any
    stimuli: xr.DataArray | None = None
    metric: Any = "ridge"
    ceiling: str | None = None
    identifier: str = "custom"
    modality: str = "image"
    n_splits: int = 10
    test_fraction: float = 0.1
    seed: int = 0
    splits: Any = None
    groups: Any = None
    stratify: Any = None
    unit_group: str | None = None
    rdm_subject_dim: str | None = None
    reduce: str = "pool4"
    metric_kwargs: dict[str, Any] = field(default_factory=dict)
    n_ceiling_splits: int = 5
    description: str = ""
    citation: str = ""

    def __post_init__(self) -> None:
        self.data = _as_data(self.data)
        m = as_metric(self.metric)
        if self.ceiling not in CEILINGS:
            raise ValueError(f"The 'ceiling' parameter of Benchmark must be one of {set(CEILINGS)}. Got {self.ceiling!r} instead.")
        if self.modality not in ("image", "audio"):
            raise ValueError(f"The 'modality' parameter of Benchmark must be one of {{'image', 'audio'}}. Got {self.modality!r} instead.")
        if self.reduce not in REDUCERS:
            raise ValueError(f"The 'reduce' parameter of Benchmark must be one of {set(REDUCERS)}. Got {self.reduce!r} instead.")
        if not isinstance(self.metric_kwargs, dict):
            raise TypeError(f"Benchmark.metric_kwargs must be a dict; got {type(self.metric_kwargs).__name__}.")
        if self.stimuli is not None and (not isinstance(self.stimuli, xr.DataArray) or "stimulus_id" not in self.stimuli.coords):
            raise TypeError(
                "Benchmark.stimuli must be an xarray.DataArray with a 'stimulus_id' coord along 'stimulus' (or None "
                f"when you score activations with score_responses); got {type(self.stimuli).__name__}."
            )
        if m.direction == "distance" and self.ceiling is not None:
            raise ValueError(f"Metric {m.name!r} is a distance; raw / ceiling has no meaning for it. Use ceiling=None.")
        if self.data_kind == "rdm":
            if m.rdm is None:
                raise ValueError(
                    f"RDM data can only be scored by an RSA metric (e.g. 'rsa', 'rsa_spearman'); metric {m.name!r} "
                    "needs Responses. Give the recorded Responses instead of their RDMs."
                )
            if self.ceiling == "split_half":
                raise ValueError("An RDM benchmark takes ceiling='nili' or None, not 'split_half'.")
            stack = [d for d in self.data.dims if d not in ("stimulus", "stimulus_2")]
            if self.ceiling == "nili" and self.rdm_subject_dim not in stack:
                raise ValueError(
                    f"The Nili ceiling needs rdm_subject_dim naming one of the RDM's stack dims {stack}; got {self.rdm_subject_dim!r}."
                )
        else:
            if self.ceiling == "nili":
                raise ValueError("ceiling='nili' needs a stack of subject RDMs as data; use ceiling='split_half' or None for Responses.")
            if self.ceiling == "split_half":
                if m.family != "mapped":
                    raise ValueError(
                        f"ceiling='split_half' is the per-unit reliability of a mapped metric's targets; the "
                        f"{m.family} metric {m.name!r} takes ceiling=None."
                    )
                if "repetition" not in self.data.dims:
                    raise ValueError(
                        f"ceiling='split_half' needs Responses with a 'repetition' dim; got dims {self.data.dims}. "
                        "Use ceiling=None for repeat-averaged data."
                    )
            if self.unit_group is not None:
                if self.unit_group not in self.data.coords:
                    raise ValueError(f"unit_group={self.unit_group!r} is not a coord of the data; coords: {sorted(map(str, self.data.coords))}.")
                if m.family != "mapped":
                    raise ValueError(f"unit_group is supported with mapped metrics; metric {m.name!r} is {m.family}.")
            elif bool(np.isnan(np.asarray(self.data.values, dtype=float)).all(axis=tuple(range(2, self.data.ndim))).any()):
                raise ValueError(
                    "The data hold NaN for some (stimulus, unit) pairs; mark the independent recordings with "
                    "unit_group=<unit coord> (each scored on its own stimuli), or drop those stimuli."
                )
        if self.stimuli is not None:
            have = set(np.asarray(self.stimuli.stimulus_id.values).astype(str))
            missing = [s for s in self.stimulus_ids if s not in have]
            if missing:
                raise ValueError(
                    f"{len(missing)} stimulus id(s) of the data have no stimulus (e.g. {missing[:3]}); every recorded "
                    "stimulus needs its image or sound."
                )
        for g, (_units, stims) in enumerate(recordings(self)):
            split_positions(self, stims, g)  # refuse impossible splits now, not after extraction

    # ------------------------------------------------------------------ derived
    @property
    def metric_obj(self) -> Metric:
        """The :class:`~neurocompare.similarity.Metric` this benchmark scores with."""
        return as_metric(self.metric)

    @property
    def metric_name(self) -> str:
        return self.metric_obj.name

    @property
    def data_kind(self) -> str:
        """``'rdm'`` (an RDM stack) or ``'responses'``."""
        return "rdm" if "stimulus_2" in self.data.dims else "responses"

    @property
    def kind(self) -> str:
        """``'rsa'`` (RDM data or an RSA metric), ``'mapped'`` or ``'representational'``."""
        m = self.metric_obj
        return "rsa" if (self.data_kind == "rdm" or m.rdm is not None) else m.family

    @property
    def stimulus_ids(self) -> np.ndarray:
        """The data's stimulus ids, in the data's order."""
        return np.asarray(self.data.stimulus_id.values).astype(str)

    @property
    def name(self) -> str:
        """The identifier without its version suffix."""
        return self.identifier.rsplit(".v", 1)[0]

    @property
    def version(self) -> str:
        """``'v1'``, ``'v2'``, ... (``'v?'`` for an unversioned identifier)."""
        tail = self.identifier.rsplit(".v", 1)
        return "v" + tail[-1] if len(tail) == 2 and tail[-1].isdigit() else "v?"

    def stimulus_labels(self, spec: Any, what: str) -> np.ndarray | None:
        """``groups``/``stratify`` as one label per stimulus, in the data's order."""
        if spec is None:
            return None
        if isinstance(spec, str):
            if spec not in self.data.coords or self.data[spec].dims != ("stimulus",):
                raise ValueError(f"{what}={spec!r} is not a 'stimulus' coord of the data; stimulus coords: "
                                 f"{sorted(str(c) for c in self.data.coords if self.data[c].dims == ('stimulus',))}.")
            return np.asarray(self.data[spec].values)
        labels = np.asarray(spec)
        if labels.shape != (self.data.sizes["stimulus"],):
            raise ValueError(f"{what} needs one label per stimulus ({self.data.sizes['stimulus']}); got shape {labels.shape}.")
        return labels

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable settings (what provenance records about the benchmark)."""
        m = self.metric_obj
        return {
            "benchmark": self.identifier,
            "benchmark_name": self.name,
            "benchmark_version": self.version,
            "metric": m.name,
            "metric_family": m.family,
            "metric_direction": m.direction,
            "ceiling": self.ceiling,
            "modality": self.modality,
            "n_splits": self.n_splits if self.splits is None else len(self.splits),
            "test_fraction": float(self.test_fraction),
            "split_seed": self.seed,
            "splits": "random, keyed by stimulus_id" if self.splits is None else "given",
            "groups": None if self.groups is None else (self.groups if isinstance(self.groups, str) else "labels"),
            "reduce": self.reduce,
            "metric_kwargs": json.loads(json.dumps(self.metric_kwargs, default=str)),
            "n_stimuli": int(self.data.sizes["stimulus"]),
            "n_targets": int(self.data.sizes["unit"]) if self.data_kind == "responses" else None,
            "data_source": str(self.data.attrs.get("source", "")),
        }

    def __repr__(self) -> str:
        stim = "none" if self.stimuli is None else self.stimuli.sizes["stimulus"]
        return (
            f"Benchmark({self.identifier!r}, metric={self.metric_name!r}, ceiling={self.ceiling!r}, "
            f"data dims={dict(self.data.sizes)}, stimuli={stim})"
        )


def with_seed(bench: Benchmark, seed: int | None) -> Benchmark:
    """``bench`` with another split seed (the same object when ``seed`` is None or unchanged)."""
    if seed is None or seed == bench.seed:
        return bench
    return replace(bench, seed=int(seed))


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class BenchmarkEntry:
    """A registered benchmark: its identifier, a builder ``(root) -> Benchmark`` and a summary."""

    identifier: str
    builder: Callable[..., Benchmark]
    description: str
    metric: str
    ceiling: str | None
    modality: str


def register_benchmark(
    identifier: str, *, description: str, metric: str, ceiling: str | None, modality: str = "image"
) -> Callable[[Callable[..., Benchmark]], Callable[..., Benchmark]]:
    """Decorator: register ``builder(root=None) -> Benchmark`` under a versioned identifier.

    The builder runs only when the benchmark is requested (loading data is lazy), and
    :func:`get_benchmark` memoises its result per data root.
    """
    if ".v" not in identifier or not identifier.rsplit(".v", 1)[-1].isdigit():
        raise ValueError(f"Benchmark identifiers end in a version, e.g. 'name.v1'; got {identifier!r}.")

    def deco(builder: Callable[..., Benchmark]) -> Callable[..., Benchmark]:
        BENCHMARKS.register(identifier, BenchmarkEntry(identifier, builder, description, metric, ceiling, modality))
        return builder

    return deco


_LOADED: dict[tuple[str, str | None], Benchmark] = {}


def resolve_identifier(name: str) -> str:
    """The registered identifier for ``name`` (the latest version when it has no ``.vN``)."""
    if name in BENCHMARKS:
        return name
    versions = [n for n in BENCHMARKS.names() if n.rsplit(".v", 1)[0] == name]
    if versions:
        return max(versions, key=lambda n: int(n.rsplit(".v", 1)[1]))
    options = BENCHMARKS.names()
    hint = "" if options else " (none registered: import data_loaders.benchmarks to register the data-backed ones)"
    raise KeyError(
        f"Unknown benchmark {name!r}.{close_matches_hint(name, options)} Available: {', '.join(options) or '(none)'}{hint}."
    )


def get_benchmark(name: str, root: str | os.PathLike | None = None) -> Benchmark:
    """Load a registered benchmark (the latest version when ``name`` has no ``.vN`` suffix).

    Parameters
    ----------
    name : str
        A name from :func:`list_benchmarks`, with or without its version.
    root : path-like, optional
        Data root passed to the builder (default: the loaders' default, ``$NEUROCOMPARE_DATA``).
    """
    identifier = resolve_identifier(name)
    key = (identifier, None if root is None else os.fspath(root))
    if key not in _LOADED:
        bench = BENCHMARKS.get(identifier).builder(root=root)
        if not isinstance(bench, Benchmark) or bench.identifier != identifier:
            raise TypeError(f"The builder of {identifier!r} must return a Benchmark with that identifier; got {bench!r}.")
        _LOADED[key] = bench
    return _LOADED[key]


def list_benchmarks() -> list[BenchmarkEntry]:
    """Every registered benchmark entry, sorted by identifier."""
    return [entry for _, entry in BENCHMARKS.items()]
