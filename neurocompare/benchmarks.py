"""Benchmarks: recorded data + stimuli + metric + noise ceiling, and :func:`score`.

A :class:`Benchmark` binds one recorded dataset (a ``Responses`` or a stack of RDMs), the stimuli
that produced it, a metric and a ceiling. Benchmarks are registered under versioned names such as
``"cowley2023.V4-ridge.210325.v1"``; the registrations that need recorded data live in
``data_loaders/benchmarks.py`` (``neurocompare`` never imports ``data_loaders``), and the
``neurocompare`` command imports them on demand.

:func:`score` extracts a model's activations (through the activation cache), computes a raw
score for every layer on held-out stimuli, chooses the layer without double dipping and divides
by the ceiling.

Procedure (identical for every benchmark, and for the serial and the distributed path)
---------------------------------------------------------------------------------------
1. **Splits.** ``n_splits`` random train/test splits of the stimuli (test fraction
   ``test_fraction``), drawn from ``numpy.random.default_rng([seed, group])``.
2. **Per layer and split** (:func:`layer_scores`):

   - *predictivity* (``metric='ridge'`` or ``'pls'``): the mapping is fitted on the train
     stimuli and predicts the test stimuli; the per-unit Pearson r between prediction and
     repetition-averaged response is the *test* score. The *selection* score is the same
     quantity computed inside the train stimuli only: from the closed-form leave-one-out
     predictions of the ridge fit (ridge; training means held fixed, penalty chosen per unit
     from ``alphas`` times the mean eigenvalue of the decomposed centred Gram matrix), or from
     a 3-fold cross-validation (PLS, scikit-learn's ``PLSRegression(scale=False)``).
   - *RSA* (``metric='rsa'``): the model RDM (1 − Pearson r across units) is compared with each
     subject's RDM by Spearman correlation, on the test stimuli (test score) and on the train
     stimuli (selection score); no stimulus pair mixes train and test.
3. **Layer choice** (:func:`combine`): on each split, the layer with the best *selection* score
   (median over units, or mean over subjects) is chosen, and its *test* score is that split's
   raw score. Test stimuli never influence which layer is chosen.
4. **Raw score** = mean over splits of the chosen layers' test scores. **Error** = standard
   deviation over splits (the splits share training stimuli, so this is a spread, not a standard
   error).

Ceiling normalisation (explicit, because Brain-Score changed it three times)
----------------------------------------------------------------------------
``value = raw / ceiling`` — a plain ratio: no square root, no per-unit division, no clipping.

- ``'split_half'``: per split, on the *test* stimuli, the repetitions of each unit are split in
  two random halves (``n_ceiling_splits`` times), the two half-means are correlated across
  stimuli and Spearman–Brown corrected (``2r / (1 + r)``); the median over units is that split's
  ceiling, and the ceiling is the mean over splits. It estimates the correlation between two
  independent full-repetition replicates of the recording — what a perfect model of the
  repeatable signal would reach against this noisy target.
- ``'nili'``: per split, on the test stimuli, the upper bound of Nili et al. (2014): mean over
  subjects of the Spearman correlation between the subject's RDM and the pooled RDM (mean of the
  rank-transformed subject RDMs, as in the RSA toolbox; computed by
  :func:`neurocompare.similarity.ceiling.rsa_noise_ceiling`). The lower bound
  (leave-one-subject-out) is reported in ``Score.ceiling_bounds``. The upper bound is the
  denominator, so a model that reproduces the group RDM scores about 1.
- ``None``: ``value == raw`` and ``ceiling`` is ``None``.

Numerics: the ridge mapping (:func:`neurocompare.similarity.regression.ridge_loo_fit_predict`),
per-unit Pearson r (``pearson_per_column``), model RDMs (:func:`neurocompare.similarity.rdm.rdm`),
RDM comparison (:func:`neurocompare.similarity.rsa.compare_rdms`) and the ceilings
(:mod:`neurocompare.similarity.ceiling`) come from :mod:`neurocompare.similarity`; this module
arranges them into the procedure above.

A ceiled value above 1 (a model beating the reliability estimate, which happens when the ceiling
is itself noisy) is kept as it is and flagged in ``Score.flags`` (``"above_ceiling"``); a
ceiling below 0.2 is flagged ``"low_ceiling"``.

References
----------
Schrimpf M, Kubilius J, et al. (2018). Brain-Score: which artificial neural network for object
recognition is most brain-like? bioRxiv 407007.
Nili H, Wingfield C, Walther A, Su L, Marslen-Wilson W, Kriegeskorte N (2014). A toolbox for
representational similarity analysis. PLoS Comput Biol 10(4):e1003553.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurocompare.data import check_rdm, check_responses
from neurocompare.registry import Registry, close_matches_hint

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "BenchmarkEntry",
    "LayerResult",
    "Score",
    "benchmark_ceiling",
    "blas_limit",
    "combine",
    "default_layers",
    "get_benchmark",
    "layer_scores",
    "list_benchmarks",
    "pool4",
    "register_benchmark",
    "register_cli",
    "score",
]

LOG = logging.getLogger("neurocompare.benchmarks")
BENCHMARKS = Registry("benchmark")
PREDICTIVITY_METRICS = ("ridge", "pls")
METRIC_KINDS = PREDICTIVITY_METRICS + ("rsa",)
CEILINGS = (None, "split_half", "nili")
INNER_FOLDS = 3
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


# ----------------------------------------------------------------------------- Benchmark
@dataclass
class Benchmark:
    """Recorded data, the stimuli behind it, a metric and a ceiling.

    Parameters
    ----------
    identifier : str
        Versioned name, ``"<dataset>.<region>-<metric>[.<subset>].v<N>"``.
    data : Responses or RDM
        - predictivity: Responses with dims ('stimulus', 'unit'[, 'repetition']); a unit coord
          named by ``unit_group`` marks independent recordings (sessions) whose units saw
          different stimuli (NaN where a unit did not see a stimulus);
        - RSA: an RDM with dims (*stack, 'stimulus', 'stimulus_2'); the stack dims (e.g.
          ('subject', 'session')) are averaged down to ``rdm_subject_dim`` (e.g. 'subject').
    stimuli : xarray.DataArray
        Images with dims ('stimulus', 'height', 'width', 'channel') (uint8) or sounds with dims
        ('stimulus', 'sample') (float32, attr ``sample_rate``), with a ``stimulus_id`` coord
        covering every stimulus of ``data``.
    metric : {'ridge', 'pls', 'rsa'}
    ceiling : {'split_half', 'nili'} or None
    modality : {'image', 'audio'}
    n_splits : int
        Outer train/test splits.
    test_fraction : float
    seed : int
        Seeds the splits and the ceiling's repetition halves.
    unit_group : str, optional
        Unit coord naming independent recordings (see ``data``).
    rdm_subject_dim : str, optional
        The RDM stack dim over which the noise ceiling is computed (others are averaged).
    reduce : str
        How a layer output becomes units (``'pool4'``, ``'avgpool'``, ``'flatten'``).
    metric_kwargs : dict
        E.g. ``{'alphas': [...]}`` for ridge, ``{'n_components': 25}`` for PLS.
    description, citation : str
    """

    identifier: str
    data: xr.DataArray
    stimuli: xr.DataArray
    metric: str
    ceiling: str | None = None
    modality: str = "image"
    n_splits: int = 10
    test_fraction: float = 0.1
    seed: int = 0
    unit_group: str | None = None
    rdm_subject_dim: str | None = None
    reduce: str = "pool4"
    metric_kwargs: dict[str, Any] = field(default_factory=dict)
    n_ceiling_splits: int = 5
    description: str = ""
    citation: str = ""

    def __post_init__(self) -> None:
        if self.metric not in METRIC_KINDS:
            raise ValueError(f"The 'metric' parameter of Benchmark must be one of {set(METRIC_KINDS)}. Got {self.metric!r} instead.")
        if self.ceiling not in CEILINGS:
            raise ValueError(f"The 'ceiling' parameter of Benchmark must be one of {set(CEILINGS)}. Got {self.ceiling!r} instead.")
        if self.modality not in ("image", "audio"):
            raise ValueError(f"The 'modality' parameter of Benchmark must be one of {{'image', 'audio'}}. Got {self.modality!r} instead.")
        if self.reduce not in REDUCERS:
            raise ValueError(f"The 'reduce' parameter of Benchmark must be one of {set(REDUCERS)}. Got {self.reduce!r} instead.")
        if not (isinstance(self.n_splits, int) and self.n_splits >= 1):
            raise ValueError(f"Benchmark.n_splits must be a positive int; got {self.n_splits!r}.")
        if not 0.0 < float(self.test_fraction) < 1.0:
            raise ValueError(f"Benchmark.test_fraction must lie in (0, 1); got {self.test_fraction!r}.")
        if not isinstance(self.stimuli, xr.DataArray) or "stimulus_id" not in self.stimuli.coords:
            raise TypeError(
                "Benchmark.stimuli must be an xarray.DataArray with a 'stimulus_id' coord along 'stimulus'; "
                f"got {type(self.stimuli).__name__}."
            )
        if self.metric == "rsa":
            self.data = check_rdm(self.data)
            if self.ceiling == "split_half":
                raise ValueError("An RSA benchmark takes ceiling='nili' or None, not 'split_half'.")
            stack = [d for d in self.data.dims if d not in ("stimulus", "stimulus_2")]
            if self.ceiling == "nili" and self.rdm_subject_dim not in stack:
                raise ValueError(
                    f"The Nili ceiling needs rdm_subject_dim naming one of the RDM's stack dims {stack}; "
                    f"got {self.rdm_subject_dim!r}."
                )
        else:
            self.data = check_responses(self.data, allow_nan=True)
            if self.ceiling == "split_half" and "repetition" not in self.data.dims:
                raise ValueError(
                    "ceiling='split_half' needs Responses with a 'repetition' dim; got dims "
                    f"{self.data.dims}. Use ceiling=None for repeat-averaged data."
                )
            if self.unit_group is not None and self.unit_group not in self.data.coords:
                raise ValueError(f"unit_group={self.unit_group!r} is not a coord of the data; coords: {sorted(map(str, self.data.coords))}.")
        ids = np.asarray(self.data.stimulus_id.values).astype(str)
        have = set(np.asarray(self.stimuli.stimulus_id.values).astype(str))
        missing = [s for s in ids if s not in have]
        if missing:
            raise ValueError(
                f"{len(missing)} stimulus id(s) of the data have no stimulus (e.g. {missing[:3]}); "
                "every recorded stimulus needs its image or sound."
            )

    @property
    def name(self) -> str:
        """The identifier without its version suffix."""
        return self.identifier.rsplit(".v", 1)[0]

    @property
    def version(self) -> str:
        """``'v1'``, ``'v2'``, ..."""
        return "v" + self.identifier.rsplit(".v", 1)[-1] if ".v" in self.identifier else "v?"

    @property
    def kind(self) -> str:
        """``'rsa'`` or ``'predictivity'``."""
        return "rsa" if self.metric == "rsa" else "predictivity"

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable settings (what provenance records about the benchmark)."""
        return {
            "benchmark": self.identifier,
            "benchmark_name": self.name,
            "benchmark_version": self.version,
            "metric": self.metric,
            "ceiling": self.ceiling,
            "modality": self.modality,
            "n_splits": self.n_splits,
            "test_fraction": float(self.test_fraction),
            "split_seed": self.seed,
            "reduce": self.reduce,
            "metric_kwargs": json.loads(json.dumps(self.metric_kwargs, default=str)),
            "n_stimuli": int(self.data.sizes["stimulus"]),
            "n_targets": int(self.data.sizes["unit"]) if self.kind == "predictivity" else None,
            "data_source": str(self.data.attrs.get("source", "")),
        }

    def __repr__(self) -> str:
        return (
            f"Benchmark({self.identifier!r}, metric={self.metric!r}, ceiling={self.ceiling!r}, "
            f"data dims={dict(self.data.sizes)}, stimuli={self.stimuli.sizes['stimulus']})"
        )


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


def _resolve_identifier(name: str) -> str:
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
    identifier = _resolve_identifier(name)
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


# ----------------------------------------------------------------------------- splits
def _splits(n: int, n_splits: int, test_fraction: float, seed: int, group: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng([int(seed), int(group)])
    n_test = max(2, int(round(n * float(test_fraction))))
    if n - n_test < INNER_FOLDS * 2:
        raise ValueError(f"Too few stimuli ({n}) for a {test_fraction:.0%} test split with an inner {INNER_FOLDS}-fold selection.")
    out = []
    for _ in range(n_splits):
        perm = rng.permutation(n)
        out.append((np.sort(perm[n_test:]), np.sort(perm[:n_test])))
    return out


def _groups(bench: Benchmark) -> list[tuple[np.ndarray, np.ndarray]]:
    """(unit indices, stimulus indices) of each independent recording of a predictivity benchmark."""
    data = bench.data
    if bench.unit_group is None:
        return [(np.arange(data.sizes["unit"]), np.arange(data.sizes["stimulus"]))]
    labels = np.asarray(data[bench.unit_group].values).astype(str)
    values = np.asarray(data.values, dtype=float)
    seen = ~np.isnan(values)
    while seen.ndim > 2:
        seen = seen.any(axis=-1)
    out = []
    for g in sorted(set(labels.tolist())):
        units = np.flatnonzero(labels == g)
        stims = np.flatnonzero(seen[:, units].all(axis=1))
        out.append((units, stims))
    return out


# ----------------------------------------------------------------------------- numerics
# The mappings, correlations, RDMs and ceilings come from neurocompare.similarity; this module
# only arranges them into the benchmark procedure (splits, groups, layer choice).

#: Ridge penalty grid, relative to the mean eigenvalue of the decomposed centred Gram matrix
#: (see :func:`neurocompare.similarity.regression.ridge_loo_fit_predict`, ``relative_alphas``).
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 17))


def _pearson(pred: np.ndarray, target: np.ndarray, device: str | None = None) -> np.ndarray:
    """Per-column Pearson r (stimulus, target) -> (target,), by :func:`~neurocompare.similarity.regression.pearson_per_column`."""
    import torch

    from neurocompare.similarity.regression import pearson_per_column

    t = [torch.as_tensor(np.asarray(v, dtype=np.float64), device=device) for v in (pred, target)]
    return pearson_per_column(*t).cpu().numpy()


def _pls_fit_predict(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, n_components: int = 25) -> np.ndarray:
    """scikit-learn ``PLSRegression(n_components, scale=False)`` fit on train, predicting test.

    Brain-Score's PLS, delegated to scikit-learn rather than to the kernel NIPALS of
    :func:`neurocompare.similarity.regression.pls_fit_predict`: with many targets the two differ
    by up to ~1e-2 (scikit-learn's power iteration stops at a 1e-6 tolerance), which would change
    the registered PLS benchmark's scores. The number of components is capped at what the
    training data support.
    """
    from sklearn.cross_decomposition import PLSRegression

    k = int(min(n_components, xtr.shape[0] - 1, xtr.shape[1]))
    model = PLSRegression(n_components=k, scale=False)
    model.fit(xtr, ytr)
    return np.asarray(model.predict(xte)).reshape(xte.shape[0], -1)


def _fit_predict(metric: str, kwargs: Mapping[str, Any], device: str | None = None) -> Callable[..., tuple[np.ndarray, Any]]:
    """``(x_train, y_train, x_test) -> (test predictions, LOO predictions of y_train or None)``."""
    if metric == "ridge":
        from neurocompare.similarity.regression import ridge_loo_fit_predict

        alphas = tuple(kwargs.get("alphas", DEFAULT_ALPHAS))

        def ridge(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            pred, loo, _ = ridge_loo_fit_predict(
                a, b, c, relative_alphas=alphas, loo="fixed_mean", float64=True, device=device
            )
            return pred, loo

        return ridge
    n = int(kwargs.get("n_components", 25))
    return lambda a, b, c: (_pls_fit_predict(a, b, c, n), None)


# ----------------------------------------------------------------------------- data helpers
def _neural_target(bench: Benchmark) -> np.ndarray:
    data = bench.data
    if "repetition" in data.dims:
        with np.errstate(invalid="ignore"):
            return np.nanmean(np.asarray(data.values, dtype=float), axis=2)
    return np.asarray(data.values, dtype=float)


def _subject_rdms(bench: Benchmark) -> np.ndarray:
    """RDM stack reduced to (subjects, n, n): every stack dim but rdm_subject_dim averaged."""
    rdm = bench.data
    stack = [d for d in rdm.dims if d not in ("stimulus", "stimulus_2")]
    keep = [bench.rdm_subject_dim] if bench.rdm_subject_dim in stack else []
    other = [d for d in stack if d not in keep]
    if other:
        rdm = rdm.mean(other)
    values = np.asarray(rdm.transpose(*keep, "stimulus", "stimulus_2").values, dtype=float)
    return values.reshape(-1, values.shape[-2], values.shape[-1])


def _rdm_for(bench: Benchmark, rdm: xr.DataArray) -> np.ndarray:
    """A model RDM (stimulus, stimulus_2) reordered to the benchmark's stimulus order."""
    rdm = check_rdm(rdm)
    if rdm.ndim != 2:
        raise ValueError(f"A model RDM must be a single (stimulus, stimulus_2) matrix; got dims {rdm.dims}.")
    ids = np.asarray(bench.data.stimulus_id.values).astype(str)
    pos = {s: i for i, s in enumerate(np.asarray(rdm.stimulus_id.values).astype(str))}
    missing = [s for s in ids if s not in pos]
    if missing:
        raise ValueError(f"The model RDM lacks {len(missing)} of the benchmark's stimuli (e.g. {missing[:3]}).")
    order = np.array([pos[s] for s in ids])
    return np.asarray(rdm.values, dtype=float)[np.ix_(order, order)]


def _features_for(bench: Benchmark, acts: xr.DataArray) -> np.ndarray:
    """Layer activations reordered to the data's stimulus order, (stimulus, unit) float64."""
    acts = check_responses(acts)
    if acts.ndim != 2:
        acts = acts.mean([d for d in acts.dims if d not in ("stimulus", "unit")])
    ids = np.asarray(bench.data.stimulus_id.values).astype(str)
    aid = np.asarray(acts.stimulus_id.values).astype(str)
    if not np.array_equal(aid, ids):
        pos = {s: i for i, s in enumerate(aid)}
        missing = [s for s in ids if s not in pos]
        if missing:
            raise ValueError(
                f"The activations lack {len(missing)} of the benchmark's stimuli (e.g. {missing[:3]}); "
                "extract them on bench.stimuli."
            )
        acts = acts.isel(stimulus=np.array([pos[s] for s in ids]))
    x = np.asarray(acts.values, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError("The activations hold NaN or infinite values; a layer output must be finite to be scored.")
    return x


# ----------------------------------------------------------------------------- per-layer scores
@dataclass
class LayerResult:
    """Per-split scores of one layer on one benchmark.

    Attributes
    ----------
    layer : str
    test : ndarray, shape (n_splits, n_targets)
        Held-out scores (per unit for predictivity, per subject for RSA).
    select : ndarray, shape (n_splits, n_targets)
        Scores computed on the training stimuli only (used to choose the layer).
    """

    layer: str
    test: np.ndarray
    select: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "test": _nan_list(self.test), "select": _nan_list(self.select)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LayerResult":
        return cls(str(d["layer"]), _from_nan_list(d["test"]), _from_nan_list(d["select"]))


def _nan_list(a: np.ndarray) -> list:
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.asarray(a, dtype=float)]


def _from_nan_list(rows: Sequence[Sequence[Any]]) -> np.ndarray:
    return np.array([[np.nan if v is None else float(v) for v in row] for row in rows], dtype=float)


def layer_scores(bench: Benchmark, acts: xr.DataArray, layer: str = "", *, device: str | None = None) -> LayerResult:
    """Per-split test and selection scores of one layer's activations (steps 1–2 of the procedure).

    Parameters
    ----------
    bench : Benchmark
    acts : Responses with dims ('stimulus', 'unit'), or (RSA only) an RDM ('stimulus', 'stimulus_2')
        The layer's activations on (at least) ``bench.stimuli``; RSA benchmarks also accept a
        precomputed model RDM.
    layer : str
        Name recorded in the result.
    device : str, optional
        Where the ridge mapping, RDMs and correlations run (``'cuda'``); default CPU. Always
        float64. PLS runs in scikit-learn, on CPU.

    Returns
    -------
    LayerResult

    Raises
    ------
    ValueError
        Activations missing some of the benchmark's stimuli or holding NaN; for RSA, a stimulus
        whose activation pattern is constant across units (its correlation distance is undefined).
    """
    if bench.kind == "rsa":
        from neurocompare.similarity.rdm import rdm
        from neurocompare.similarity.rsa import compare_rdms

        if isinstance(acts, xr.DataArray) and acts.dims[-2:] == ("stimulus", "stimulus_2"):
            model_rdm = _rdm_for(bench, acts)  # a precomputed model RDM
        else:  # 1 - Pearson r across units; a sub-block of it is the RDM of those stimuli
            model_rdm = np.asarray(rdm(_features_for(bench, acts), "correlation", float64=True, device=device), dtype=float)
        refs = _subject_rdms(bench)
        n = refs.shape[-1]
        splits = _splits(n, bench.n_splits, bench.test_fraction, bench.seed)
        test, select = [], []
        for train, held in splits:
            for idx, store in ((held, test), (train, select)):
                sim = compare_rdms(model_rdm[np.ix_(idx, idx)], refs[:, idx][:, :, idx], "spearman", device=device)
                store.append(np.asarray(sim, dtype=float).reshape(-1))
        return LayerResult(layer, np.array(test), np.array(select))
    x = _features_for(bench, acts)
    y_all = _neural_target(bench)
    fit_predict = _fit_predict(bench.metric, bench.metric_kwargs, device)
    tests, selects = [], []
    for g, (units, stims) in enumerate(_groups(bench)):
        xg = x[stims]
        yg = y_all[np.ix_(stims, units)]
        t_rows, s_rows = [], []
        for train, held in _splits(len(stims), bench.n_splits, bench.test_fraction, bench.seed, g):
            if not np.ptp(xg[train], axis=0).any():  # a dead layer predicts nothing: never chosen
                t_rows.append(np.full(len(units), np.nan))
                s_rows.append(np.full(len(units), np.nan))
                continue
            pred, loo = fit_predict(xg[train], yg[train], xg[held])
            t_rows.append(_pearson(pred, yg[held], device))
            if loo is not None:  # ridge: leave-one-out predictions inside the train stimuli
                s_rows.append(_pearson(loo, yg[train], device))
                continue
            inner = np.array_split(np.random.default_rng([bench.seed, g, len(t_rows)]).permutation(train), INNER_FOLDS)
            inner_pred = np.empty((len(train), len(units)))
            order = {s: i for i, s in enumerate(train)}
            for k in range(INNER_FOLDS):
                fold = inner[k]
                rest = np.concatenate([inner[j] for j in range(INNER_FOLDS) if j != k])
                inner_pred[[order[s] for s in fold]] = fit_predict(xg[rest], yg[rest], xg[fold])[0]
            s_rows.append(_pearson(inner_pred, yg[train], device))
        tests.append(np.array(t_rows))
        selects.append(np.array(s_rows))
    return LayerResult(layer, np.concatenate(tests, axis=1), np.concatenate(selects, axis=1))


# ----------------------------------------------------------------------------- ceilings
def benchmark_ceiling(bench: Benchmark) -> dict[str, Any] | None:
    """The noise ceiling of each split's test stimuli (see the module docstring).

    Returns
    -------
    dict or None
        ``{'per_split': (n_splits,) list, 'value': mean, 'method': ..., 'lower': ... (nili)}``;
        ``None`` when the benchmark has no ceiling.
    """
    if bench.ceiling is None:
        return None
    from neurocompare.similarity.ceiling import rsa_noise_ceiling, spearman_brown, split_half_correlations

    if bench.ceiling == "nili":
        refs = _subject_rdms(bench)
        if refs.shape[0] < 2:
            raise ValueError("The Nili ceiling needs at least 2 subjects' RDMs.")
        upper, lower = [], []
        n = refs.shape[-1]
        for _, held in _splits(n, bench.n_splits, bench.test_fraction, bench.seed):
            iu = np.triu_indices(len(held), k=1)
            res = rsa_noise_ceiling(refs[:, held][:, :, held][:, iu[0], iu[1]], "spearman")
            upper.append(float(res.value))
            lower.append(float(res.lower))
        return {"method": "nili_upper", "per_split": upper, "value": float(np.mean(upper)), "lower": float(np.mean(lower)), "upper": float(np.mean(upper))}
    # split-half with Spearman–Brown, on each split's test stimuli
    values = []
    data = bench.data.transpose("stimulus", "unit", "repetition", ...)
    for g, (units, stims) in enumerate(_groups(bench)):
        sub = np.asarray(data.values, dtype=float)[np.ix_(stims, units)]
        per_split = []
        for s, (_, held) in enumerate(_splits(len(stims), bench.n_splits, bench.test_fraction, bench.seed, g)):
            rs = [
                split_half_correlations(sub[held], n_splits=1, seed=[bench.seed, g, s, k])[0]
                for k in range(bench.n_ceiling_splits)
            ]
            with np.errstate(invalid="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # units undefined in every half-split
                    r = np.nanmean(np.array(rs), axis=0)
            per_split.append(spearman_brown(r, 2.0))
        values.append(np.array(per_split))
    per_unit = np.concatenate(values, axis=1)  # (n_splits, units)
    per_split_median = np.nanmedian(per_unit, axis=1)
    return {"method": "split_half_spearman_brown", "per_split": [float(v) for v in per_split_median], "value": float(np.mean(per_split_median))}


# ----------------------------------------------------------------------------- Score
@dataclass
class Score:
    """The result of scoring one model on one benchmark.

    Attributes
    ----------
    value : float
        Ceiled score, ``raw / ceiling`` (``raw`` when there is no ceiling). Not clipped.
    raw : float
        Mean over splits of the held-out score of the layer chosen on each split's training data.
    ceiling : float or None
    error : float
        Standard deviation over splits, on the scale of ``value``.
    raw_error : float
        Standard deviation over splits of the raw score.
    layer : str
        The layer chosen most often across splits.
    layers : dict
        ``{layer: {'raw', 'value', 'error'}}``: each layer's held-out score (mean over splits).
        Picking the best of these would be double dipping; ``value`` does not.
    selected_layers : list of str
        The layer chosen on each split.
    per_split : list of float
        Raw held-out score of each split.
    benchmark : str
    metric : str
    normalization : str
        How ``value`` was obtained from ``raw`` and ``ceiling``.
    flags : list of str
        ``'above_ceiling'`` (value > 1), ``'low_ceiling'`` (ceiling < 0.2), ``'nan_targets'``.
    ceiling_bounds : dict
        Extra ceiling information (e.g. Nili lower and upper bounds).
    provenance : dict
        Model id, weights hash, preprocessing, benchmark and version, metric, seed, package
        version, git commit, timestamps.
    """

    value: float
    raw: float
    ceiling: float | None
    error: float
    raw_error: float
    layer: str
    layers: dict[str, dict[str, float]]
    selected_layers: list[str]
    per_split: list[float]
    benchmark: str
    metric: str
    normalization: str
    flags: list[str] = field(default_factory=list)
    ceiling_bounds: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN written as ``None``)."""
        return _json_clean(dataclasses.asdict(self))

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Score":
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        for k in ("value", "raw", "error", "raw_error"):
            if kwargs.get(k) is None:
                kwargs[k] = float("nan")
        return cls(**kwargs)

    def to_dataarray(self) -> xr.DataArray:
        """Per-layer scores as a DataArray with dims ('layer', 'quantity') and the provenance in attrs."""
        names = list(self.layers)
        qty = ["raw", "value", "error"]
        values = np.array([[self.layers[n].get(q, np.nan) for q in qty] for n in names], dtype=float).reshape(len(names), 3)
        attrs = {k: v for k, v in self.to_dict().items() if k not in ("layers",)}
        return xr.DataArray(values, dims=("layer", "quantity"), coords={"layer": np.array(names), "quantity": np.array(qty)}, attrs=attrs)

    def __repr__(self) -> str:
        ceil = "none" if self.ceiling is None else f"{self.ceiling:.3f}"
        flags = f", flags={self.flags}" if self.flags else ""
        return (
            f"Score({self.benchmark}: value={self.value:.3f} ± {self.error:.3f}, raw={self.raw:.3f}, "
            f"ceiling={ceil}, layer={self.layer!r}{flags})"
        )


def _json_clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _json_clean(obj.tolist())
    return obj


def _aggregate(bench: Benchmark, per_target: np.ndarray) -> np.ndarray:
    """Over targets (last axis): median over units (predictivity) or mean over subjects (RSA)."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if bench.kind == "rsa":
                return np.nanmean(per_target, axis=-1)
            return np.nanmedian(per_target, axis=-1)


NORMALIZATION_TEXT = {
    None: "value = raw (no ceiling)",
    "split_half": "value = raw / ceiling; ceiling = mean over splits of the median over units of the Spearman-Brown-corrected split-half reliability on the split's test stimuli; not clipped",
    "nili": "value = raw / ceiling; ceiling = Nili et al. (2014) upper bound (mean Spearman r of each subject's RDM with the pooled rank-transformed RDM) on each split's test stimuli, averaged over splits; not clipped",
}


def combine(
    bench: Benchmark,
    results: Mapping[str, LayerResult] | Sequence[LayerResult],
    ceiling: Mapping[str, Any] | None,
    provenance: Mapping[str, Any] | None = None,
) -> Score:
    """Choose the layer per split on the selection scores and build the :class:`Score` (steps 3–4).

    Parameters
    ----------
    bench : Benchmark
    results : mapping layer -> LayerResult, or sequence of LayerResult
        In the caller's layer order (ties go to the earlier layer).
    ceiling : dict or None
        From :func:`benchmark_ceiling`.
    provenance : dict, optional
    """
    if not isinstance(results, Mapping):
        results = {r.layer: r for r in results}
    if not results:
        raise ValueError("combine() needs at least one layer's results.")
    names = list(results)
    test = np.stack([_aggregate(bench, results[n].test) for n in names])  # (layers, splits)
    select = np.stack([_aggregate(bench, results[n].select) for n in names])
    sel_for_argmax = np.where(np.isfinite(select), select, -np.inf)
    chosen = np.argmax(sel_for_argmax, axis=0)  # first maximum wins: deterministic
    per_split = test[chosen, np.arange(test.shape[1])]
    raw = float(np.nanmean(per_split))
    raw_err = float(np.nanstd(per_split, ddof=1)) if per_split.size > 1 else float("nan")
    ceil = None if ceiling is None else float(ceiling["value"])
    flags: list[str] = []
    if ceil is None:
        value, err = raw, raw_err
    else:
        if not np.isfinite(ceil) or ceil <= 0:
            flags.append("invalid_ceiling")
            value, err = float("nan"), float("nan")
        else:
            value, err = raw / ceil, raw_err / ceil
            if ceil < LOW_CEILING:
                flags.append("low_ceiling")
    if np.isfinite(value) and value > 1.0:
        flags.append("above_ceiling")
    n_nan = int(sum(np.isnan(results[n].test).sum() for n in names))
    if n_nan:
        flags.append("nan_targets")
    layers_out = {}
    for i, n in enumerate(names):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a layer with no defined score: NaN
            r = float(np.nanmean(test[i]))
            e = float(np.nanstd(test[i], ddof=1)) if test.shape[1] > 1 else float("nan")
        layers_out[n] = {
            "raw": r,
            "value": r / ceil if ceil else r,
            "error": e / ceil if ceil else e,
            "n_selected": int((chosen == i).sum()),
        }
    counts = np.bincount(chosen, minlength=len(names))
    bounds = {} if ceiling is None else {k: v for k, v in ceiling.items() if k != "value"}
    return Score(
        value=value,
        raw=raw,
        ceiling=ceil,
        error=err,
        raw_error=raw_err,
        layer=names[int(np.argmax(counts))],
        layers=layers_out,
        selected_layers=[names[i] for i in chosen],
        per_split=[float(v) for v in per_split],
        benchmark=bench.identifier,
        metric=bench.metric,
        normalization=NORMALIZATION_TEXT[bench.ceiling],
        flags=flags,
        ceiling_bounds=bounds,
        provenance=dict(provenance or {}),
    )


# ----------------------------------------------------------------------------- provenance
from neurocompare.provenance import git_commit  # noqa: E402  (re-exported for provenance records)


def _provenance(resolved: Any, bench: Benchmark, seed: int, layers: Sequence[str], stim_hash: str) -> dict[str, Any]:
    import neurocompare

    prov = dict(resolved.provenance())
    prov.update(bench.describe())
    prov.update(
        {
            "seed": int(seed),
            "layers": list(layers),
            "stimulus_hash": stim_hash,
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


# ----------------------------------------------------------------------------- score()
@contextmanager
def blas_limit(n_threads: int | None) -> Iterator[None]:
    """Context manager limiting BLAS and torch intra-op threads to ``n_threads`` (``None``: no change).

    The metric's matrices are small; on a shared or oversubscribed machine, OpenMP barriers make
    multi-threaded small torch/BLAS operations many times slower than one thread.
    """
    if n_threads is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        with threadpool_limits(limits=int(n_threads), user_api="blas"):
            yield
    finally:
        torch.set_num_threads(old)


def default_layers(model: Any) -> list[str]:
    """The model's top-level children that can carry a representation (no Flatten/Dropout/Identity)."""
    from torch import nn

    skip = (nn.Flatten, nn.Dropout, nn.Identity)
    names = [n for n, m in model.named_children() if not isinstance(m, skip)]
    if not names:
        raise ValueError("The model has no top-level child modules; pass layers=... Hint: use neurocompare.list_layers(model).")
    return names


def _with_seed(bench: Benchmark, seed: int | None) -> Benchmark:
    if seed is None or seed == bench.seed:
        return bench
    return dataclasses.replace(bench, seed=int(seed))


_STIM_HASHES: dict[int, tuple[Any, str]] = {}


def _stimulus_hash_cached(stimuli: xr.DataArray) -> str:
    from neurocompare.cache import stimulus_hash

    hit = _STIM_HASHES.get(id(stimuli))
    if hit is not None and hit[0] is stimuli:
        return hit[1]
    h = stimulus_hash(stimuli)
    _STIM_HASHES[id(stimuli)] = (stimuli, h)
    return h


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
    """Activations of ``resolved.model`` on ``bench.stimuli`` for ``layers`` (through ``cache``)."""
    from neurocompare.cache import cached_extract

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
        stimuli_hash=_stimulus_hash_cached(stimuli),
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
    blas_threads: int | None = 1,
    metric_device: str | None = None,
) -> Score:
    """Score a model on a benchmark: activations → per-layer held-out scores → layer choice → ceiling.

    Parameters
    ----------
    model : str, torch.nn.Module or ResolvedModel
        A model spec understood by :func:`neurocompare.model_specs.resolve_model`.
    benchmark : Benchmark or str
        A Benchmark, or a registered identifier (loaded with :func:`get_benchmark`).
    layers : sequence of str, optional
        Layers to consider (default :func:`default_layers`).
    seed : int, optional
        Seeds the splits and the ceiling (default: the benchmark's seed). Same seed, same score.
    device : str, optional
        Where the model runs (``"cuda"``).
    batch_size : int
    cache : ActivationCache, optional
        Activation cache (``None``: no caching).
    root : path-like, optional
        Data root for a benchmark given by name.
    progress : bool, optional
    blas_threads : int or None
        BLAS threads for the metric (default 1: its matrices are small, and on a shared or
        oversubscribed machine one thread is several times faster; ``None`` leaves the setting).
    metric_device : str, optional
        Where the mappings and correlations run (``"cuda"``); default CPU. Always float64, so the
        score does not depend on it beyond rounding.

    Returns
    -------
    Score

    Examples
    --------
    >>> from neurocompare.benchmarks import score        # doctest: +SKIP
    >>> import data_loaders.benchmarks                     # doctest: +SKIP
    >>> score("convnet_small", "cowley2023.V4-ridge.210325")  # doctest: +SKIP
    Score(cowley2023.V4-ridge.210325.v1: value=... ± ..., raw=..., ceiling=..., layer='block2')
    """
    from neurocompare.model_specs import ResolvedModel, resolve_model

    bench = benchmark if isinstance(benchmark, Benchmark) else get_benchmark(benchmark, root=root)
    bench = _with_seed(bench, seed)
    resolved = model if isinstance(model, ResolvedModel) else resolve_model(model)
    layers = list(layers) if layers is not None else default_layers(resolved.model)
    acts = benchmark_activations(resolved, bench, layers, cache=cache, device=device, batch_size=batch_size, progress=progress)
    with blas_limit(blas_threads):
        results = {layer: layer_scores(bench, acts[layer], layer, device=metric_device) for layer in layers}
        ceiling = benchmark_ceiling(bench)
    prov = _provenance(resolved, bench, bench.seed, layers, _stimulus_hash_cached(bench.stimuli))
    if cache is not None:
        prov["cache"] = dict(cache.stats)
    return combine(bench, results, ceiling, prov)


def register_cli(subparsers: Any) -> None:
    """Add ``score``, ``report``, ``benchmarks`` and ``sweep`` to the ``neurocompare`` command."""
    _register_cli(subparsers)


# ----------------------------------------------------------------------------- CLI
def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text).strip("_") or "model"


def write_score(s: Score, out: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``s`` as ``<model>__<benchmark>.json`` and ``.nc`` (per-layer table) in ``out``; append to ``scores.jsonl``.

    Returns
    -------
    (json_path, netcdf_path)
    """
    from neurocompare.data import save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{_slug(str(s.provenance.get('model_id', 'model')))}__{_slug(s.benchmark)}"
    jpath = out / f"{stem}.json"
    tmp = jpath.with_name(f".{jpath.name}.{os.getpid()}.tmp")
    tmp.write_text(s.to_json(indent=2))
    os.replace(tmp, jpath)
    npath = save(s.to_dataarray(), out / f"{stem}.nc", name="scores")
    with open(out / "scores.jsonl", "a") as fh:
        fh.write(s.to_json() + "\n")
    return jpath, npath


def format_table(scores: Sequence[Score]) -> str:
    """A plain-text table: model, benchmark, value ± error, raw, ceiling, chosen layer, flags."""
    rows = [("model", "benchmark", "value", "± error", "raw", "ceiling", "layer", "flags")]
    for s in scores:
        rows.append(
            (
                str(s.provenance.get("model_id", "?")),
                s.benchmark,
                f"{s.value:.3f}",
                f"{s.error:.3f}",
                f"{s.raw:.3f}",
                "-" if s.ceiling is None else f"{s.ceiling:.3f}",
                s.layer,
                ",".join(s.flags) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _model_kwargs(args: Any) -> dict[str, Any]:
    if not getattr(args, "model_kwargs", None):
        return {}
    try:
        kw = json.loads(args.model_kwargs)
    except json.JSONDecodeError as err:
        raise ValueError(f"--model-kwargs must be a JSON object, e.g. '{{\"seed\": 1}}'; got {args.model_kwargs!r} ({err}).") from None
    if not isinstance(kw, dict):
        raise ValueError(f"--model-kwargs must be a JSON object; got {args.model_kwargs!r}.")
    return kw


def _make_cache(args: Any) -> Any:
    from neurocompare.cache import ActivationCache

    if getattr(args, "no_cache", False):
        return None
    return ActivationCache(args.cache_dir) if getattr(args, "cache_dir", None) else ActivationCache()


def _cmd_score(args: Any) -> int:
    from neurocompare.model_specs import resolve_model

    cache = _make_cache(args)
    resolved = resolve_model(args.model, kwargs=_model_kwargs(args), arch=args.arch)
    scores = []
    for name in args.benchmark:
        s = score(
            resolved,
            name,
            layers=args.layers,
            seed=args.seed,
            device=args.device,
            batch_size=args.batch_size,
            cache=cache,
            root=args.data,
            progress=None,
            metric_device=getattr(args, "metric_device", None),
        )
        scores.append(s)
        if args.out:
            write_score(s, args.out)
    print(format_table(scores))
    for s in scores:
        if "above_ceiling" in s.flags:
            print(f"note: {s.benchmark}: value {s.value:.3f} is above the ceiling (> 1); kept as is, see Score.flags.")
    if cache is not None:
        print(cache.summary())
    if args.out:
        print(f"wrote {len(scores)} score(s) to {args.out} (JSON, NetCDF, scores.jsonl)")
    return 0


def _cmd_benchmarks(args: Any) -> int:
    entries = list_benchmarks()
    width = max((len(e.identifier) for e in entries), default=10)
    print(f"{'benchmark'.ljust(width)}  {'metric':6}  {'ceiling':10}  {'input':5}  description")
    for e in entries:
        print(f"{e.identifier.ljust(width)}  {e.metric:6}  {str(e.ceiling or '-'):10}  {e.modality:5}  {e.description}")
    return 0


def load_scores(folder: str | os.PathLike) -> list[Score]:
    """Every score in ``folder``: the ``*.json`` files written by :func:`write_score`, else ``*.jsonl`` lines."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No such folder: {folder}. Give the --out folder of `neurocompare score` or `sweep`.")
    scores = []
    for path in sorted(folder.glob("*.json")):
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if isinstance(d, dict) and "benchmark" in d and "layers" in d:
            scores.append(Score.from_dict(d))
    if not scores:
        for path in sorted(folder.glob("*.jsonl")):
            for line in path.read_text().splitlines():
                try:
                    d = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(d, dict) and d.get("kind", "score") == "score" and "layers" in d:
                    scores.append(Score.from_dict(d.get("score", d)))
    if not scores:
        raise FileNotFoundError(f"No scores found in {folder} (expected *.json from `neurocompare score --out`).")
    return scores


def _cmd_report(args: Any) -> int:
    from neurocompare.plotting.scores import plot_layer_scores, plot_score_heatmap

    scores = load_scores(args.folder)
    out = Path(args.out or args.folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    fig = plot_layer_scores(scores)
    for fmt in args.format:
        written.append(out / f"layer_scores.{fmt}")
        fig.savefig(written[-1], bbox_inches="tight")
    fig = plot_score_heatmap(scores)
    for fmt in args.format:
        written.append(out / f"score_heatmap.{fmt}")
        fig.savefig(written[-1], bbox_inches="tight")
    print(format_table(scores))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _cmd_sweep(args: Any) -> int:
    from neurocompare.sweep import run_sweep

    result = run_sweep(
        args.models,
        args.benchmarks,
        layers=args.layers,
        out=args.out,
        scheduler=args.scheduler,
        n_workers=args.workers,
        seed=args.seed,
        root=args.data,
        cache_dir=None if args.no_cache else args.cache_dir,
        device=args.device,
    )
    print(format_table(result.scores))
    print(f"{result.n_computed} task(s) computed, {result.n_reused} reused from an earlier run; log: {result.log}")
    return 0


def _register_cli(subparsers: Any) -> None:
    common = {
        "--data": dict(default=None, help="data root (default: $NEUROCOMPARE_DATA)"),
        "--seed": dict(type=int, default=None, help="seed of the splits and ceiling (default: the benchmark's, 0)"),
        "--device": dict(default=None, help="where the model runs, e.g. cuda"),
        "--cache-dir": dict(default=None, help="activation cache folder (default: $NEUROCOMPARE_CACHE or ~/.cache/neurocompare/activations)"),
        "--no-cache": dict(action="store_true", help="do not read or write the activation cache"),
    }

    p = subparsers.add_parser("score", help="score a model on benchmarks", description="Score a model on one or more benchmarks and print a table.")
    p.add_argument("--model", required=True, help="registered name (convnet_small), checkpoint file, module:function, torchvision:NAME or timm:NAME")
    p.add_argument("--benchmark", required=True, nargs="+", help="benchmark identifier(s); see `neurocompare benchmarks`")
    p.add_argument("--layers", nargs="+", default=None, help="layers to consider (default: the model's top-level children)")
    p.add_argument("--out", default=None, help="folder for JSON + NetCDF results")
    p.add_argument("--arch", default=None, help="architecture of a checkpoint that does not record it")
    p.add_argument("--model-kwargs", default=None, help="JSON object of builder keyword arguments, e.g. '{\"seed\": 1}'")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--metric-device", default=None, help="where the ridge mapping and RDMs run, e.g. cuda (default: cpu; always float64)")
    for flag, kw in common.items():
        p.add_argument(flag, **kw)
    p.set_defaults(func=_cmd_score)

    p = subparsers.add_parser("benchmarks", help="list the registered benchmarks")
    p.set_defaults(func=_cmd_benchmarks)

    p = subparsers.add_parser("report", help="figures from a folder of scores", description="Plot score per layer per benchmark (error bars, ceiling line) and a model x benchmark heat map.")
    p.add_argument("folder", help="folder written by `neurocompare score --out` or `neurocompare sweep --out`")
    p.add_argument("--out", default=None, help="where to write the figures (default: the folder itself)")
    p.add_argument("--format", nargs="+", default=["png", "svg"], choices=["png", "svg", "pdf"])
    p.set_defaults(func=_cmd_report)

    p = subparsers.add_parser("sweep", help="models x benchmarks x layers on Dask", description="Score every model on every benchmark, one task per (model, benchmark, layer), on dask.distributed; resumable.")
    p.add_argument("--models", required=True, nargs="+")
    p.add_argument("--benchmarks", required=True, nargs="+")
    p.add_argument("--layers", nargs="+", default=None)
    p.add_argument("--out", default="sweep_results", help="folder for sweep.jsonl and per-score JSON")
    p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster workers (ignored with --scheduler)")
    for flag, kw in common.items():
        p.add_argument(flag, **kw)
    p.set_defaults(func=_cmd_sweep)
