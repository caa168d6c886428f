"""The one scoring protocol: splits → per-layer test and selection scores → layer choice → ceiling → Score.

Identical for every benchmark and metric, for the serial (:func:`~neurocompare.benchmarks.score`,
:func:`~neurocompare.benchmarks.score_responses`) and the distributed path (the sweep), and for
:func:`neurocompare.similarity.ridge_predictivity` (which runs the same numerics from
:mod:`neurocompare.similarity._protocol` on one layer without a ceiling).

1. **Canonical order and splits.** The data's stimuli are sorted by ``stimulus_id``; every
   recording (all units, or one ``unit_group`` session with its own stimuli) gets ``n_splits``
   train/test splits from :func:`neurocompare.similarity.make_splits` — seeded with
   ``(seed, recording index)``, drawn on the sorted ids, blocked by ``groups``, stratified, or
   given by the user. Permuting the data's rows changes nothing.
2. **Per layer and split** (:func:`layer_scores`):

   - *mapped* metrics (ridge, PLS, one-to-one, reverse): fitted on the training stimuli,
     predicting the held-out ones; per-unit Pearson r is the test score; the selection score is
     the same inside the training stimuli (ridge: closed-form leave-one-out predictions; others:
     3 inner folds).
   - *RSA* metrics: the model RDM (and, for Responses data, the data RDM) is computed once and
     each split's held-out (test) and training (selection) sub-blocks are compared; RDM stacks
     give one score per subject.
   - other *representational* metrics: the measure on the held-out stimuli (test) and on the
     training stimuli (selection).
3. **Layer choice** (:func:`combine`): per split, the layer with the best selection score (median
   over units, or mean over subjects; the smallest for distances) is chosen and its test score
   is that split's raw score. Test stimuli never influence the choice.
4. **Raw score** = mean over splits; **error** = standard deviation over splits (``error_kind``
   ``'sd over N splits'``: the splits share training stimuli, so this is a spread, not a standard
   error).

Ceiling normalisation (explicit, because Brain-Score changed it three times)
----------------------------------------------------------------------------
``value = raw / ceiling`` — a plain ratio: no square root, no per-unit division, no clipping.

- ``'split_half'``: per split, on the *test* stimuli, the repetitions of each unit are split in
  two random halves (``n_ceiling_splits`` times), the half-means are correlated across stimuli
  and Spearman–Brown corrected (``2r / (1 + r)``); the median over units is that split's
  ceiling, and the ceiling is the mean over splits.
- ``'nili'``: per split, on the test stimuli, the upper bound of Nili et al. (2014): mean over
  subjects of the Spearman correlation between the subject's RDM and the pooled RDM
  (:func:`neurocompare.similarity.rsa_noise_ceiling`). The lower bound is reported in
  ``Score.ceiling_bounds``.
- ``None``: ``value == raw``.

A value above 1 is kept and flagged ``'above_ceiling'``; a ceiling below 0.2 is flagged
``'low_ceiling'``.

References
----------
Schrimpf M, Kubilius J, et al. (2018). Brain-Score: which artificial neural network for object
recognition is most brain-like? bioRxiv 407007.
Nili H, Wingfield C, Walther A, Su L, Marslen-Wilson W, Kriegeskorte N (2014). A toolbox for
representational similarity analysis. PLoS Comput Biol 10(4):e1003553.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from neurocompare.benchmarks.score import Score
from neurocompare.data import check_rdm
from neurocompare.similarity._metrics import as_metric
from neurocompare.similarity._protocol import (
    aggregate_targets,
    choose,
    features_for,
    mapped_scores,
    raw_score,
    rdm_scores,
    representational_scores,
    target_values,
)
from neurocompare.similarity._splits import make_splits

__all__ = ["LayerResult", "benchmark_ceiling", "combine", "layer_scores", "recordings", "split_positions"]

LOW_CEILING = 0.2

NORMALIZATION_TEXT = {
    None: "value = raw (no ceiling)",
    "split_half": "value = raw / ceiling; ceiling = mean over splits of the median over units of the Spearman-Brown-corrected split-half reliability on the split's test stimuli; not clipped",
    "nili": "value = raw / ceiling; ceiling = Nili et al. (2014) upper bound (mean Spearman r of each subject's RDM with the pooled rank-transformed RDM) on each split's test stimuli, averaged over splits; not clipped",
}


# ----------------------------------------------------------------------------- order, recordings, splits
def canonical_order(bench: Any) -> np.ndarray:
    """Positions that sort the data's stimuli by id (the order every computation uses)."""
    return np.argsort(bench.stimulus_ids, kind="stable")


def recordings(bench: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(unit indices, canonical stimulus positions) of each independent recording.

    One recording (all units, all stimuli) unless ``unit_group`` names sessions whose units saw
    different stimuli; then a stimulus belongs to a session when every unit of it saw it.
    """
    order = canonical_order(bench)
    if bench.data_kind == "rdm" or bench.unit_group is None:
        n_units = bench.data.sizes["unit"] if bench.data_kind == "responses" else 0
        return [(np.arange(n_units), np.arange(order.size))]
    data = bench.data
    labels = np.asarray(data[bench.unit_group].values).astype(str)
    seen = ~np.isnan(np.asarray(data.transpose("stimulus", "unit", ...).values, dtype=float)[order])
    while seen.ndim > 2:
        seen = seen.any(axis=-1)
    out = []
    for g in sorted(set(labels.tolist())):
        units = np.flatnonzero(labels == g)
        out.append((units, np.flatnonzero(seen[:, units].all(axis=1))))
    return out


def split_positions(bench: Any, stims: np.ndarray, g: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Splits of recording ``g`` as positions into ``stims`` (canonical positions of its stimuli)."""
    order = canonical_order(bench)
    ids = bench.stimulus_ids[order][stims]
    groups = bench.stimulus_labels(bench.groups, "groups")
    stratify = bench.stimulus_labels(bench.stratify, "stratify")
    splits = bench.splits
    if splits is not None and bench.unit_group is not None:  # each session keeps the ids it has
        have = set(ids.tolist())
        splits = [([s for s in map(str, tr) if s in have], [s for s in map(str, te) if s in have]) for tr, te in splits]
    return make_splits(
        ids,
        n_splits=bench.n_splits,
        test_fraction=bench.test_fraction,
        seed=bench.seed,
        groups=None if groups is None else groups[order][stims],
        stratify=None if stratify is None else stratify[order][stims],
        splits=splits,
        key=(g,),
    )


# ----------------------------------------------------------------------------- data helpers
def _subject_rdms(bench: Any) -> np.ndarray:
    """RDM stack reduced to (subjects, n, n) in canonical order: every stack dim but rdm_subject_dim averaged."""
    rdm = bench.data
    stack = [d for d in rdm.dims if d not in ("stimulus", "stimulus_2")]
    keep = [bench.rdm_subject_dim] if bench.rdm_subject_dim in stack else []
    other = [d for d in stack if d not in keep]
    if other:
        rdm = rdm.mean(other)
    values = np.asarray(rdm.transpose(*keep, "stimulus", "stimulus_2").values, dtype=float)
    values = values.reshape(-1, values.shape[-2], values.shape[-1])
    order = canonical_order(bench)
    return values[:, order][:, :, order]


def _model_rdm(bench: Any, acts: Any, method: str, device: Any) -> np.ndarray:
    """The model RDM (n, n) in canonical order, from activations or a precomputed model RDM."""
    from neurocompare.similarity._rdm import rdm

    ids = bench.stimulus_ids[canonical_order(bench)]
    if isinstance(acts, xr.DataArray) and acts.dims[-2:] == ("stimulus", "stimulus_2"):
        r = check_rdm(acts)
        if r.ndim != 2:
            raise ValueError(f"A model RDM must be a single (stimulus, stimulus_2) matrix; got dims {r.dims}.")
        pos = {s: i for i, s in enumerate(np.asarray(r.stimulus_id.values).astype(str))}
        missing = [s for s in ids if s not in pos]
        if missing:
            raise ValueError(f"The model RDM lacks {len(missing)} of the benchmark's stimuli (e.g. {missing[:3]}).")
        o = np.array([pos[s] for s in ids])
        return np.asarray(r.values, dtype=float)[np.ix_(o, o)]
    x = features_for(acts, ids)
    return np.asarray(rdm(x, method, float64=True, device=device), dtype=float)


# ----------------------------------------------------------------------------- per-layer scores
@dataclass
class LayerResult:
    """Per-split scores of one layer on one benchmark.

    Attributes
    ----------
    layer : str
    test : ndarray, shape (n_splits, n_targets)
        Held-out scores (per unit for mapped metrics, per subject for RDM stacks, one column for
        other representational metrics).
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


def _params(bench: Any, device: Any) -> dict[str, Any]:
    m = as_metric(bench.metric)
    params = {**m.defaults, **bench.metric_kwargs}
    if device is not None and m.family == "mapped":
        params.setdefault("device", device)
    return params


def layer_scores(bench: Any, acts: Any, layer: str = "", *, device: str | None = None) -> LayerResult:
    """Per-split test and selection scores of one layer's activations (steps 1–2 of the procedure).

    Parameters
    ----------
    bench : Benchmark
    acts : Responses with dims ('stimulus', 'unit'), array (n_stimuli, n_features), or (RSA) a
        model RDM with dims ('stimulus', 'stimulus_2')
        The layer's activations on the benchmark's stimuli: Responses are matched by
        ``stimulus_id``; a plain array must follow the data's row order.
    layer : str
        Name recorded in the result.
    device : str, optional
        Where the mapping, RDMs and correlations run (``'cuda'``); default CPU.

    Returns
    -------
    LayerResult

    Raises
    ------
    ValueError
        Activations missing some of the benchmark's stimuli or holding NaN; for correlation-
        distance RSA, a stimulus whose pattern is constant across units.
    """
    metric = as_metric(bench.metric)
    params = _params(bench, device)
    order = canonical_order(bench)
    ids = bench.stimulus_ids
    if metric.rdm is not None:
        rdm_method = params.pop("rdm_method", metric.rdm[0])
        compare = params.pop("compare", metric.rdm[1])
        model = _model_rdm(bench, acts, rdm_method, device)
        if bench.data_kind == "rdm":
            refs = _subject_rdms(bench)
        else:
            from neurocompare.similarity._rdm import rdm

            refs = np.asarray(rdm(target_values(bench.data)[order], rdm_method, float64=True, device=device), dtype=float)[None]
        test, select = rdm_scores(model, refs, split_positions(bench, np.arange(order.size), 0), compare, device=device)
        return LayerResult(layer, test, select)
    x = features_for(acts, ids)[order]
    y_all = target_values(bench.data)[order]
    tests, selects = [], []
    for g, (units, stims) in enumerate(recordings(bench)):
        splits = split_positions(bench, stims, g)
        xg, yg = x[stims], y_all[np.ix_(stims, units)]
        if metric.family == "mapped":
            t, s, _ = mapped_scores(xg, yg, splits, metric, params, seed=bench.seed, key=(g,), device=device)
        else:
            t, s = representational_scores(xg, yg, splits, metric, params)
        tests.append(t)
        selects.append(s)
    return LayerResult(layer, np.concatenate(tests, axis=1), np.concatenate(selects, axis=1))


# ----------------------------------------------------------------------------- ceilings
def benchmark_ceiling(bench: Any) -> dict[str, Any] | None:
    """The noise ceiling of each split's test stimuli (see the module docstring).

    Returns
    -------
    dict or None
        ``{'per_split': (n_splits,) list, 'value': mean, 'method': ..., 'lower': ... (nili)}``;
        ``None`` when the benchmark has no ceiling.
    """
    if bench.ceiling is None:
        return None
    from neurocompare.similarity._ceiling import rsa_noise_ceiling, spearman_brown, split_half_correlations

    order = canonical_order(bench)
    if bench.ceiling == "nili":
        refs = _subject_rdms(bench)
        if refs.shape[0] < 2:
            raise ValueError("The Nili ceiling needs at least 2 subjects' RDMs.")
        upper, lower = [], []
        for _, held in split_positions(bench, np.arange(order.size), 0):
            iu = np.triu_indices(len(held), k=1)
            res = rsa_noise_ceiling(refs[:, held][:, :, held][:, iu[0], iu[1]], "spearman")
            upper.append(float(res.value))
            lower.append(float(res.lower))
        return {"method": "nili_upper", "per_split": upper, "value": float(np.mean(upper)), "lower": float(np.mean(lower)), "upper": float(np.mean(upper))}
    data = np.asarray(bench.data.transpose("stimulus", "unit", "repetition", ...).values, dtype=float)[order]
    values = []
    for g, (units, stims) in enumerate(recordings(bench)):
        sub = data[np.ix_(stims, units)]
        per_split = []
        for s, (_, held) in enumerate(split_positions(bench, stims, g)):
            rs = [split_half_correlations(sub[held], n_splits=1, seed=[bench.seed, g, s, k])[0] for k in range(bench.n_ceiling_splits)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # units undefined in every half-split
                r = np.nanmean(np.array(rs), axis=0)
            per_split.append(spearman_brown(r, 2.0))
        values.append(np.array(per_split))
    per_unit = np.concatenate(values, axis=1)  # (n_splits, units)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_split_median = np.nanmedian(per_unit, axis=1)
    return {"method": "split_half_spearman_brown", "per_split": [float(v) for v in per_split_median], "value": float(np.mean(per_split_median))}


# ----------------------------------------------------------------------------- combine
def combine(
    bench: Any,
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
    metric = as_metric(bench.metric)
    how = "median" if metric.family == "mapped" else "mean"
    names = list(results)
    test = np.stack([aggregate_targets(results[n].test, how) for n in names])  # (layers, splits)
    select = np.stack([aggregate_targets(results[n].select, how) for n in names])
    chosen = choose(select, metric.direction)
    per_split, raw, raw_err, kind = raw_score(test, chosen)
    ceil = None if ceiling is None else float(ceiling["value"])
    flags: list[str] = []
    if ceil is None:
        value, err = raw, raw_err
    elif not np.isfinite(ceil) or ceil <= 0:
        flags.append("invalid_ceiling")
        value, err = float("nan"), float("nan")
    else:
        value, err = raw / ceil, raw_err / ceil
        if ceil < LOW_CEILING:
            flags.append("low_ceiling")
    if np.isfinite(value) and value > 1.0 and ceil is not None:
        flags.append("above_ceiling")
    if int(sum(np.isnan(results[n].test).sum() for n in names)):
        flags.append("nan_targets")
    layers_out = {}
    for i, n in enumerate(names):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a layer with no defined score: NaN
            r = float(np.nanmean(test[i]))
            e = float(np.nanstd(test[i], ddof=1)) if test.shape[1] > 1 else float("nan")
        layers_out[n] = {"raw": r, "value": r / ceil if ceil else r, "error": e / ceil if ceil else e, "n_selected": int((chosen == i).sum())}
    counts = np.bincount(chosen, minlength=len(names))
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
        metric=metric.name,
        normalization=NORMALIZATION_TEXT[bench.ceiling],
        flags=flags,
        ceiling_bounds={} if ceiling is None else {k: v for k, v in ceiling.items() if k != "value"},
        provenance=dict(provenance or {}),
        error_kind=kind,
    )
