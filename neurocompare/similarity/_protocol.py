"""The scoring protocol's numerics, shared by :mod:`neurocompare.benchmarks` and :func:`ridge_predictivity`.

One layer, one target, a list of splits → per-split *test* and *selection* scores:

- **mapped** metrics (:func:`mapped_scores`): the estimator is fitted on the training stimuli
  and predicts the held-out ones; the per-unit Pearson r between prediction and target is the
  test score. The selection score is the same quantity inside the training stimuli: from the
  estimator's ``loo_predictions_`` when it has them (ridge), else from ``INNER_FOLDS``-fold
  cross-validation inside the training stimuli. A reverse metric swaps the roles (recorded data
  predict model features).
- **representational** metrics (:func:`representational_scores`): the measure on the held-out
  stimuli (test) and on the training stimuli (selection); no stimulus pair mixes the two sides.
  RSA metrics compare sub-blocks of RDMs computed once (:func:`rdm_scores`); a sub-block of a
  correlation-distance RDM is the RDM of those stimuli.

Then per split the layer with the best selection score is chosen (:func:`choose`) and the raw
score is the mean over splits of the chosen layer's test score (:func:`raw_score`); the error is
the standard deviation over splits (the splits share training stimuli, so it is a spread, not a
standard error). Test stimuli never influence the choice.

Every array here is float64, with rows in the canonical order (sorted by ``stimulus_id``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._result import sd_over
from neurocompare._seeding import numpy_rng
from neurocompare.data import check_responses
from neurocompare.similarity._common import check_real
from neurocompare.similarity._metrics import Metric
from neurocompare.similarity._ridge import RidgeMapping, pearson_per_column, shared_gram

__all__ = [
    "INNER_FOLDS",
    "canonical_ids",
    "features_for",
    "target_values",
    "mapped_scores",
    "representational_scores",
    "rdm_scores",
    "aggregate_targets",
    "choose",
    "raw_score",
]

INNER_FOLDS = 3


def canonical_ids(n: int) -> np.ndarray:
    """Zero-padded ids ``'0' … 'n-1'`` whose sorted order is the row order (for plain arrays)."""
    width = len(str(max(int(n) - 1, 0)))
    return np.array([f"{i:0{width}d}" for i in range(int(n))])


def features_for(acts: Any, ids: np.ndarray, *, what: str = "activations") -> np.ndarray:
    """Rows of ``acts`` for the stimuli ``ids``, as a finite float64 (stimulus, feature) array.

    Parameters
    ----------
    acts : Responses with dims ('stimulus', 'unit'[, ...]), numpy array or torch tensor
        Responses are matched by ``stimulus_id`` (extra dims are averaged); arrays must hold one
        row per id, in the order of ``ids``.
    ids : ndarray of str
    """
    if isinstance(acts, xr.DataArray):
        acts = check_responses(acts)
        if acts.ndim != 2:
            acts = acts.mean([d for d in acts.dims if d not in ("stimulus", "unit")])
        aid = np.asarray(acts.stimulus_id.values).astype(str)
        if not np.array_equal(aid, ids):
            pos = {s: i for i, s in enumerate(aid)}
            missing = [str(s) for s in ids if s not in pos]
            if missing:
                raise ValueError(
                    f"The {what} lack {len(missing)} of the benchmark's stimuli ({len(ids)}; e.g. {missing[:3]}); "
                    "compute them on the benchmark's stimuli (bench.stimuli)."
                )
            acts = acts.isel(stimulus=np.array([pos[s] for s in ids]))
        x = np.asarray(acts.transpose("stimulus", "unit").values, dtype=np.float64)
    else:
        raw = acts.detach().cpu().numpy() if hasattr(acts, "detach") else np.asarray(acts)
        check_real(raw.dtype, f"The {what}")
        x = np.asarray(raw, dtype=np.float64)
        if x.ndim < 2 or x.shape[0] != len(ids):
            raise ValueError(
                f"The {what} have shape {x.shape} but the data have {len(ids)} stimuli; a plain array needs one row "
                "per stimulus, in the data's order. Pass Responses with stimulus_id coords to match by id."
            )
        x = x.reshape(x.shape[0], -1)
    if not np.isfinite(x).all():
        raise ValueError(f"The {what} hold NaN or infinite values; they must be finite to be scored.")
    return x


def target_values(resp: xr.DataArray) -> np.ndarray:
    """Recorded Responses as a float64 (stimulus, unit) array: repetitions (and other extra dims) averaged, NaN ignored."""
    extra = [d for d in resp.dims if d not in ("stimulus", "unit")]
    values = np.asarray(resp.transpose("stimulus", "unit", *extra).values, dtype=np.float64)
    if not extra:
        return values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a stimulus a unit never saw stays NaN
        return np.nanmean(values.reshape(values.shape[0], values.shape[1], -1), axis=2)


def _pearson(pred: np.ndarray, target: np.ndarray, device: Any = None) -> np.ndarray:
    import torch

    t = [torch.as_tensor(np.asarray(v, dtype=np.float64), device=device) for v in (pred, target)]
    return pearson_per_column(*t).cpu().numpy()


def _dead(x: np.ndarray) -> bool:
    return not np.ptp(x, axis=0).any()


def _fit_predict(metric: Metric, params: Mapping[str, Any], xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, **fit_kw: Any):
    est = metric.estimator(**params).fit(xtr, ytr, **fit_kw)
    return est, np.asarray(est.predict(xte), dtype=np.float64).reshape(len(xte), -1)


def mapped_scores(
    x: np.ndarray,
    y: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    metric: Metric,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    key: Sequence[int | str] = (0,),
    device: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per-split test and selection scores of a mapped metric.

    Parameters
    ----------
    x : ndarray (n_stimuli, n_features); y : ndarray (n_stimuli, n_units)
    splits : list of (train, test) positions
    metric : Metric of family 'mapped'
    params : dict
        Estimator parameters.
    seed, key
        Seed the inner folds (metrics without ``loo_predictions_``) as ``(seed, *key, split)``.
    device : str, optional
        Where the Pearson correlations run.

    Returns
    -------
    test, select : ndarray (n_splits, n_targets)
        NaN rows for a layer whose training features are constant (it predicts nothing and is
        never chosen).
    alphas : ndarray (n_splits, n_targets) or None
        The estimator's ``alpha_`` per split, when it has one.
    """
    params = dict(params or {})
    if metric.reverse:
        x, y = y, x
    n_t = y.shape[1]
    test, select, alphas = [], [], []
    # ridge in kernel form: one Gram product of all stimuli serves every split (a submatrix each)
    gram = None
    if metric.estimator is RidgeMapping and splits and x.shape[1] >= max(len(tr) for tr, _ in splits):
        if params.get("device") in (None, "cpu") and params.get("dtype") in (None, "float64"):
            gram = shared_gram(x)
    for i, (train, held) in enumerate(splits):
        if _dead(x[train]) or (metric.reverse and _dead(y[train])):
            test.append(np.full(n_t, np.nan))
            select.append(np.full(n_t, np.nan))
            alphas.append(np.full(n_t, np.nan))
            continue
        fit_kw = {} if gram is None else {"gram": gram[np.ix_(train, train)]}
        est, pred = _fit_predict(metric, params, x[train], y[train], x[held], **fit_kw)
        test.append(_pearson(pred, y[held], device))
        alphas.append(np.asarray(getattr(est, "alpha_", np.full(n_t, np.nan)), dtype=float).reshape(-1))
        loo = getattr(est, "loo_predictions_", None)
        if loo is not None:
            select.append(_pearson(loo, y[train], device))
            continue
        if len(train) < 2 * INNER_FOLDS:
            raise ValueError(f"{len(train)} training stimuli are too few for the inner {INNER_FOLDS}-fold selection; use a smaller test_fraction.")
        folds = np.array_split(numpy_rng(seed, *key, i).permutation(train), INNER_FOLDS)
        inner = np.empty((len(train), n_t))
        row = {s: j for j, s in enumerate(train)}
        for k in range(INNER_FOLDS):
            rest = np.concatenate([folds[j] for j in range(INNER_FOLDS) if j != k])
            inner[[row[s] for s in folds[k]]] = _fit_predict(metric, params, x[rest], y[rest], x[folds[k]])[1]
        select.append(_pearson(inner, y[train], device))
    a = np.array(alphas)
    return np.array(test), np.array(select), None if np.isnan(a).all() else a


def representational_scores(
    x: np.ndarray,
    y: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    metric: Metric,
    params: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-split test and selection scores (n_splits, 1) of a representational metric.

    The measure runs on the held-out stimuli (test) and on the training stimuli (selection). A
    subset on which the layer is constant scores NaN (never chosen).
    """
    params = dict(params or {})
    out = []
    for train, held in splits:
        row = []
        for idx in (held, train):
            if _dead(x[idx]):
                row.append(np.nan)
                continue
            value = metric.func(x[idx], y[idx], **params)
            try:
                row.append(float(value))
            except TypeError:
                raise TypeError(f"Metric {metric.name!r} must return a float; it returned {type(value).__name__}.") from None
        out.append(row)
    arr = np.array(out, dtype=float)
    return arr[:, :1], arr[:, 1:]


def rdm_scores(
    model_rdm: np.ndarray,
    refs: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    compare: str,
    *,
    device: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-split test and selection scores (n_splits, n_refs): each reference RDM vs the model RDM.

    Parameters
    ----------
    model_rdm : ndarray (n, n)
    refs : ndarray (n_refs, n, n)
        Recorded RDMs (one per subject), same stimulus order.
    compare : str
        RDM comparison (:func:`neurocompare.similarity.compare_rdms`).
    """
    from neurocompare.similarity._rsa import compare_rdms

    test, select = [], []
    for train, held in splits:
        for idx, store in ((held, test), (train, select)):
            sim = compare_rdms(model_rdm[np.ix_(idx, idx)], refs[:, idx][:, :, idx], compare, device=device)
            store.append(np.asarray(sim, dtype=float).reshape(-1))
    return np.array(test), np.array(select)


def aggregate_targets(per_target: np.ndarray, how: str) -> np.ndarray:
    """Over the last axis (targets): ``'median'`` (units) or ``'mean'`` (subjects), NaN ignored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        return np.nanmedian(per_target, axis=-1) if how == "median" else np.nanmean(per_target, axis=-1)


def choose(select: np.ndarray, direction: str = "similarity") -> np.ndarray:
    """Index of the best layer per split from selection scores (n_layers, n_splits); NaN never wins.

    Ties go to the earlier layer. ``direction='distance'``: the smallest score is best.
    """
    s = np.asarray(select, dtype=float)
    s = -s if direction == "distance" else s
    return np.argmax(np.where(np.isfinite(s), s, -np.inf), axis=0)


def raw_score(test: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, float, float, str]:
    """Per-split test score of the chosen layers, their mean, and the sd over splits with its kind.

    Parameters
    ----------
    test : ndarray (n_layers, n_splits)
    chosen : ndarray (n_splits,)

    Returns
    -------
    per_split, raw, error, error_kind
    """
    per_split = np.asarray(test, dtype=float)[chosen, np.arange(test.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        raw = float(np.nanmean(per_split)) if np.isfinite(per_split).any() else float("nan")
    err, kind = sd_over(per_split, "splits")
    return per_split, raw, err, kind
