"""Predictivity: the benchmark protocol on one pair of response sets, without a ceiling.

:func:`ridge_predictivity` (and :func:`pls_predictivity`, :func:`reverse_predictivity`,
:func:`one_to_one_predictivity`) run exactly the procedure a :class:`neurocompare.Benchmark`
runs on one layer: the same split generator (keyed by ``stimulus_id``), the same mapping
estimator, the same per-unit Pearson r, median over units and mean over splits, and the same
error (standard deviation over splits). So
``ridge_predictivity(x, y, seed=s).value == score_responses({"x": x}, Benchmark(y, metric="ridge",
seed=s)).raw`` (``tests/test_protocol.py``).

The mapped metrics are registered here: ``ridge``, ``pls``, ``reverse_ridge``, ``reverse_pls``
and ``one_to_one`` (each target unit predicted by its single best-correlated source unit).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((200, 50))
>>> y = x @ rng.standard_normal((50, 8))          # noiseless linear map
>>> res = ridge_predictivity(x, y)
>>> round(res.value, 3)
1.0
>>> res.per_unit.shape                              # (n_splits, n_units)
(10, 8)
>>> res.error_kind
'sd over 10 splits'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._options import get_options, thread_limit
from neurocompare._result import Result
from neurocompare.data import align, check_responses
from neurocompare.similarity._common import as_matrix
from neurocompare.similarity._metrics import get_metric, register_metric
from neurocompare.similarity._pls import PLSMapping
from neurocompare.similarity._protocol import (
    aggregate_targets,
    canonical_ids,
    features_for,
    mapped_scores,
    raw_score,
    target_values,
)
from neurocompare.similarity._ridge import RidgeMapping, _float64, prepare_pair
from neurocompare.similarity._splits import make_splits
from neurocompare.typing import ResponsesLike

__all__ = [
    "OneToOneMapping",
    "PredictivityResult",
    "one_to_one_predictivity",
    "pls_predictivity",
    "reverse_predictivity",
    "ridge_predictivity",
]


@dataclass(frozen=True)
class PredictivityResult(Result):
    """Outcome of a cross-validated predictivity run.

    Attributes
    ----------
    value : float
        Mean over splits of the median (over units) held-out Pearson r.
    error : float
        Standard deviation of the per-split values (ddof=1): the splits share training stimuli,
        so it is a spread, not a standard error (the benchmark's definition).
    error_kind : str
        ``'sd over N splits'``.
    per_split : numpy.ndarray, shape (n_splits,)
    per_unit : numpy.ndarray, shape (n_splits, n_units)
        Held-out r of every target unit in every split (NaN where undefined; left out of the median).
    alphas : numpy.ndarray or None, shape (n_splits, n_units)
        Ridge penalty chosen per unit and split (``None`` for other mappings).
    method : str
        The registered metric name (``'ridge'``, ``'pls'``, ``'reverse_ridge'``, ...).
    params : dict
    ci : None
    """

    value: float
    error: float
    per_split: np.ndarray
    per_unit: np.ndarray
    alphas: np.ndarray | None
    method: str
    params: dict = field(default_factory=dict)
    error_kind: str = "none"
    ci: tuple[float, float] | None = None

    def __repr__(self) -> str:
        n_splits, n_units = self.per_unit.shape
        return (
            f"PredictivityResult(method={self.method!r}, value={self.value:.4f}, error={self.error:.4f} "
            f"({self.error_kind}), n_splits={n_splits}, n_units={n_units})"
        )


def _labels(spec: Any, x: Any, y: Any, name: str) -> Any:
    """A stimulus coord name of y (or x) → its values; arrays pass through."""
    if not isinstance(spec, str):
        return spec
    for arr in (y, x):
        if isinstance(arr, xr.DataArray) and spec in arr.coords and arr[spec].dims == ("stimulus",):
            if arr is x and isinstance(y, xr.DataArray):
                pos = {s: i for i, s in enumerate(np.asarray(x.stimulus_id.values).astype(str))}
                return np.asarray(arr[spec].values)[[pos[s] for s in np.asarray(y.stimulus_id.values).astype(str)]]
            return np.asarray(arr[spec].values)
    raise ValueError(
        f"{name}={spec!r} names no 'stimulus' coordinate of x or y. Pass Responses carrying that coord, "
        "or one label per stimulus."
    )


def _prepare_target(y: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(y, xr.DataArray):
        y = check_responses(y)
        return target_values(y), np.asarray(y.stimulus_id.values).astype(str)
    ty = as_matrix(y, name="y", float64=True, min_stimuli=1).cpu().numpy()
    return ty, canonical_ids(ty.shape[0])


def _run(
    name: str,
    x: Any,
    y: Any,
    estimator_params: dict[str, Any],
    *,
    n_splits: int,
    test_fraction: float,
    seed: int,
    groups: Any,
    stratify: Any,
    splits: Any,
    device: Any,
) -> PredictivityResult:
    metric = get_metric(name)
    if isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray):
        align(check_responses(x, allow_nan=True), check_responses(y, allow_nan=True))  # the ids must match, as for every measure
    ty, ids = _prepare_target(y)
    tx = features_for(x, ids, what="x")
    const = np.flatnonzero(np.ptp(ty, axis=0) == 0)
    if const.size:
        raise ValueError(
            f"{const.size} target unit(s) of y are constant over all stimuli (columns {const[:10].tolist()}); their "
            "predictivity is undefined. Drop them first, e.g. y[:, y.std(0) > 0]."
        )
    if not np.ptp(tx, axis=0).any():
        raise ValueError("Every column of x is constant over stimuli; nothing can be predicted from it.")
    g, st = _labels(groups, x, y, "groups"), _labels(stratify, x, y, "stratify")
    order = np.argsort(ids, kind="stable")  # the canonical order, as in a benchmark
    ids, tx, ty = ids[order], tx[order], ty[order]
    g = None if g is None else np.asarray(g)[order]
    st = None if st is None else np.asarray(st)[order]
    sp = make_splits(ids, n_splits=n_splits, test_fraction=test_fraction, seed=seed, groups=g, stratify=st, splits=splits)
    params = {k: v for k, v in estimator_params.items() if v is not None}
    if device is not None:
        params["device"] = device
    opts = get_options()
    with thread_limit(opts["threads"] or opts["solver_threads"]):
        test, _select, alphas = mapped_scores(tx, ty, sp, metric, params, seed=seed, key=(0,), device=device)
    finite = np.isfinite(test)
    if not finite.any(axis=1).all():
        bad = np.flatnonzero(~finite.any(axis=1)).tolist()
        raise ValueError(
            f"In split(s) {bad} every unit's held-out responses are constant, so no correlation is defined. Use "
            "more stimuli per split (a larger test_fraction) or drop near-constant units."
        )
    per_split, value, error, kind = raw_score(aggregate_targets(test, "median")[None, :], np.zeros(len(sp), dtype=int))
    info = dict(
        estimator_params, n_splits=len(sp), test_fraction=float(test_fraction), seed=int(seed), n_stimuli=int(tx.shape[0]),
        n_features=int(tx.shape[1]), n_units=int(ty.shape[1]), blocked=g is not None, stratified=st is not None,
        user_splits=splits is not None,
    )
    return PredictivityResult(value, error, per_split, test, alphas, name, info, error_kind=kind)


def ridge_predictivity(
    x: ResponsesLike,
    y: ResponsesLike,
    *,
    alphas: Any = None,
    alpha_per_unit: bool = True,
    n_splits: int = 10,
    test_fraction: float = 0.1,
    seed: int = 0,
    groups: Any = None,
    stratify: Any = None,
    splits: Any = None,
    device: Any = None,
) -> PredictivityResult:
    """Cross-validated ridge predictivity of ``y`` from ``x``: the benchmark protocol on one layer.

    For each split, :class:`RidgeMapping` (penalty per unit by closed-form leave-one-out over
    ``alphas`` times the mean eigenvalue) is fitted on the training stimuli, and each unit is
    scored by the Pearson r of its held-out predictions. Median over units, mean over splits.

    Parameters
    ----------
    x : Responses with dims ('stimulus', 'unit'), numpy array or torch tensor (n_stimuli, n_features)
        The predictors (e.g. model activations). Constant features are ignored; an all-constant
        ``x`` is an error.
    y : Responses with dims ('stimulus', 'unit'[, 'repetition']), array or tensor (n_stimuli, n_units)
        The targets (e.g. recorded neurons; repetitions are averaged). Units constant over all
        stimuli are an error. With Responses on both sides, rows are matched by ``stimulus_id``.
    alphas : sequence of float, optional
        Relative penalty grid (default :data:`neurocompare.similarity.DEFAULT_ALPHAS`).
    alpha_per_unit : bool
    n_splits, test_fraction, seed
        The splits (:func:`make_splits`; a benchmark's defaults: 10, 0.1, 0).
    groups, stratify : str or array-like, optional
        A 'stimulus' coord name of ``y``/``x`` or one label per stimulus: blocked or stratified
        splits (see :func:`make_splits`).
    splits : list of (train_ids, test_ids), optional
        Your own splits, as stimulus ids (row numbers for plain arrays).
    device : str, optional
        Where the mapping runs (``'cuda'``).

    Returns
    -------
    PredictivityResult
        ``value``, ``error`` (sd over splits), ``per_split``, ``per_unit`` (n_splits, n_units),
        ``alphas``.

    References
    ----------
    Schrimpf et al. (2018). Brain-Score: which artificial neural network for object recognition is
    most brain-like? bioRxiv 407007.
    """
    return _run("ridge", x, y, {"alphas": alphas, "alpha_per_unit": alpha_per_unit}, n_splits=n_splits,
                test_fraction=test_fraction, seed=seed, groups=groups, stratify=stratify, splits=splits, device=device)


def pls_predictivity(
    x: ResponsesLike,
    y: ResponsesLike,
    *,
    n_components: int = 25,
    n_splits: int = 10,
    test_fraction: float = 0.1,
    seed: int = 0,
    groups: Any = None,
    stratify: Any = None,
    splits: Any = None,
    device: Any = None,
) -> PredictivityResult:
    """Cross-validated PLS predictivity of ``y`` from ``x`` (Brain-Score's mapping, 25 components).

    Same protocol as :func:`ridge_predictivity` with :class:`PLSMapping` (kernel NIPALS, equal to
    scikit-learn's ``PLSRegression(scale=False)``).

    References
    ----------
    Schrimpf et al. (2018), Brain-Score. Wold, Sjöström & Eriksson (2001). PLS-regression: a basic
    tool of chemometrics. Chemom. Intell. Lab. Syst. 58(2).
    """
    return _run("pls", x, y, {"n_components": n_components}, n_splits=n_splits, test_fraction=test_fraction,
                seed=seed, groups=groups, stratify=stratify, splits=splits, device=device)


def reverse_predictivity(x: ResponsesLike, y: ResponsesLike, *, method: str = "ridge", **kwargs: Any) -> PredictivityResult:
    """How well recorded units ``y`` predict model features ``x`` (the reverse direction).

    Same protocol with the roles swapped: the median is over model features.

    Parameters
    ----------
    x : Responses / array (n_stimuli, n_features)
        Model features (the targets here). Constant features are an error: drop them first.
    y : Responses / array (n_stimuli, n_units)
        Recorded units (the predictors here).
    method : {'ridge', 'pls'}
    **kwargs
        As for :func:`ridge_predictivity` / :func:`pls_predictivity`.
    """
    funcs = {"ridge": ridge_predictivity, "pls": pls_predictivity}
    if method not in funcs:
        raise ValueError(f"The 'method' parameter of reverse_predictivity() must be one of {set(funcs)}. Got {method!r} instead.")
    res = funcs[method](y, x, **kwargs)
    return PredictivityResult(res.value, res.error, res.per_split, res.per_unit, res.alphas, "reverse_" + method,
                              dict(res.params, direction="reverse"), error_kind=res.error_kind)


# ----------------------------------------------------------------------------- one-to-one
class OneToOneMapping:
    """Each target unit predicted by the one source unit most correlated with it (affine fit).

    The neuron-to-neuron mapping: no mixing of source units, so a high score means single model
    units behave like single recorded units.

    Attributes
    ----------
    best_ : numpy.ndarray, shape (n_units,)
        Index of the chosen source unit per target unit (largest ``|r|`` on the training stimuli).
    coef_ : numpy.ndarray, shape (n_features, n_units)
        One non-zero slope per column.
    intercept_ : numpy.ndarray, shape (n_units,)
    """

    def __init__(self, *, device: Any = None, dtype: Any = None) -> None:
        self.device = device
        self.dtype = dtype

    def fit(self, x: Any, y: Any) -> "OneToOneMapping":
        import torch

        # centred before any float32 cast and rescaled exactly (as ridge and PLS): same fit at any scale/offset
        tx, ty, (sx, ox), (sy, oy) = prepare_pair(x, y, device=self.device, float64=_float64(self.dtype, x, self.device))
        xc, yc = tx - tx.mean(0), ty - ty.mean(0)
        vx, vy = xc.square().sum(0), yc.square().sum(0)
        r = (xc.T @ yc) / (vx[:, None] * vy[None, :]).sqrt().clamp_min(torch.finfo(tx.dtype).tiny)
        r = torch.where(vx[:, None] > 0, r.abs(), torch.full_like(r, -1.0))
        best = r.argmax(0)
        slope = (xc[:, best] * yc).sum(0) / vx[best].clamp_min(torch.finfo(tx.dtype).tiny)
        coef = torch.zeros((tx.shape[1], ty.shape[1]), dtype=torch.float64, device=tx.device)
        coef[best, torch.arange(ty.shape[1], device=tx.device)] = slope.double() * (sy / sx)
        xmu = tx.mean(0).double() * sx + ox.reshape(-1)
        ymu = ty.mean(0).double() * sy + oy.reshape(-1)
        self.best_ = best.cpu().numpy()
        self.coef_ = coef.cpu().numpy()
        self.intercept_ = (ymu - xmu @ coef).cpu().numpy()
        return self

    def predict(self, x: Any) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise ValueError("This OneToOneMapping is not fitted yet; call fit(x, y) first.")
        tx = as_matrix(x, name="x", float64=True, min_stimuli=1).cpu().numpy()
        if tx.shape[1] != self.coef_.shape[0]:
            raise ValueError(f"x has {tx.shape[1]} features but the mapping was fitted on {self.coef_.shape[0]}.")
        return tx @ self.coef_ + self.intercept_


def one_to_one_predictivity(x: Any, y: Any, **kwargs: Any) -> PredictivityResult:
    """Predictivity with :class:`OneToOneMapping` (layer choice by 3 inner folds); kwargs as :func:`ridge_predictivity` minus the ridge ones."""
    kw = dict(n_splits=10, test_fraction=0.1, seed=0, groups=None, stratify=None, splits=None, device=None)
    unknown = set(kwargs) - set(kw)
    if unknown:
        raise TypeError(f"one_to_one_predictivity() got unexpected argument(s) {sorted(unknown)}; accepted: {sorted(kw)}.")
    kw.update(kwargs)
    return _run("one_to_one", x, y, {}, **kw)


# ----------------------------------------------------------------------------- registry
def ridge(x: Any, y: Any, **params: Any) -> float:
    """Cross-validated ridge predictivity of ``y`` from ``x`` (the value of :func:`ridge_predictivity`)."""
    return float(ridge_predictivity(x, y, **params).value)


def pls(x: Any, y: Any, **params: Any) -> float:
    """Cross-validated PLS predictivity of ``y`` from ``x`` (the value of :func:`pls_predictivity`)."""
    return float(pls_predictivity(x, y, **params).value)


def reverse_ridge(x: Any, y: Any, **params: Any) -> float:
    """Cross-validated ridge predictivity of ``x`` from ``y`` (see :func:`reverse_predictivity`)."""
    return float(reverse_predictivity(x, y, method="ridge", **params).value)


def reverse_pls(x: Any, y: Any, **params: Any) -> float:
    """Cross-validated PLS predictivity of ``x`` from ``y`` (see :func:`reverse_predictivity`)."""
    return float(reverse_predictivity(x, y, method="pls", **params).value)


def one_to_one(x: Any, y: Any, **params: Any) -> float:
    """One-to-one (best single source unit) predictivity of ``y`` from ``x``."""
    return float(one_to_one_predictivity(x, y, **params).value)


register_metric("ridge", ridge, family="mapped", estimator=RidgeMapping)
register_metric("pls", pls, family="mapped", estimator=PLSMapping)
register_metric("reverse_ridge", reverse_ridge, family="mapped", estimator=RidgeMapping, reverse=True)
register_metric("reverse_pls", reverse_pls, family="mapped", estimator=PLSMapping, reverse=True)
register_metric("one_to_one", one_to_one, family="mapped", estimator=OneToOneMapping)
