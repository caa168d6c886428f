"""Noise ceilings: how well could any model do, given the noise in the recordings?

* :func:`split_half_reliability` - Brain-Score's internal-consistency ceiling. Repetitions are
  split at random into two halves; each unit's Pearson r between the half means (over stimuli)
  is corrected with Spearman-Brown (:func:`spearman_brown`) to the reliability of the full set;
  median over units, mean over random splits. NaN padding of unequal repeat counts is masked,
  never filled.
* :func:`rsa_noise_ceiling` - Nili et al. (2014): upper bound = mean correlation of each subject's
  RDM with the mean RDM of all subjects, lower bound = the same with the mean of the *other*
  subjects (leave one out); for Spearman and Kendall the RDMs are rank-transformed before
  averaging, for Pearson they are z-scored.
* :func:`noise_corrected_consistency` - Nayebi et al.'s noise-corrected consistency per unit,
  ``r_xy / sqrt(SB(r_x1x2) * SB(r_y1y2))``, the classical correction for attenuation.

Examples
--------
>>> spearman_brown(0.5)          # two halves that correlate at 0.5 -> full-data reliability
0.6666666666666666
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._result import Result
from neurocompare.data import check_responses, split_repetitions
from neurocompare.typing import ResponsesLike

__all__ = [
    "CeilingResult",
    "spearman_brown",
    "split_half_reliability",
    "split_half_correlations",
    "rsa_noise_ceiling",
    "noise_correct",
    "noise_corrected_consistency",
]


@dataclass(frozen=True)
class CeilingResult(Result):
    """A noise ceiling with its spread.

    Attributes
    ----------
    value : float
        The ceiling (mean over random splits of the median over units; for the RSA ceiling, the
        upper bound).
    error : float
        Standard error over splits (``std(ddof=0) / sqrt(n_splits)``, Brain-Score's convention);
        for the RSA ceiling, the standard error of the upper bound over subjects.
    per_split : numpy.ndarray, shape (n_splits,)
    per_unit : numpy.ndarray, shape (n_splits, n_units)
        Spearman-Brown-corrected reliability of each unit in each split (NaN where undefined).
    lower : float or None
        Lower bound (RSA ceiling only).
    params : dict
    error_kind : str
        What ``error`` is, e.g. ``'sem (ddof=0) over 10 splits'``.
    ci : None
        No interval is computed.
    """

    value: float
    error: float
    per_split: np.ndarray
    per_unit: np.ndarray
    lower: float | None = None
    params: dict = field(default_factory=dict)
    error_kind: str = "none"
    ci: tuple[float, float] | None = None

    def __repr__(self) -> str:
        low = "" if self.lower is None else f", lower={self.lower:.4f}"
        return f"CeilingResult(value={self.value:.4f}, error={self.error:.4f}{low}, shape={self.per_unit.shape})"


# ----------------------------------------------------------------------------- Spearman-Brown
def spearman_brown(r: Any, n: float = 2.0) -> Any:
    """Spearman-Brown prophecy: reliability of data ``n`` times as long as data with reliability ``r``.

    ``SB(r, n) = n r / (1 + (n - 1) r)``; with ``n = 2`` it turns a split-half correlation into
    the reliability of the full set of repetitions.

    Parameters
    ----------
    r : float or array-like
        Correlation(s) in [-1, 1].
    n : float
        Lengthening factor (> 0).

    Returns
    -------
    float or numpy.ndarray
        Same shape as ``r``. NaN where ``1 + (n - 1) r == 0``.

    References
    ----------
    Spearman (1910); Brown (1910). British Journal of Psychology 3(3).
    """
    if not n > 0:
        raise ValueError(f"n must be positive; got {n!r}.")
    arr = np.asarray(r, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = n * arr / (1.0 + (n - 1.0) * arr)
    out = np.where(np.isclose(1.0 + (n - 1.0) * arr, 0.0), np.nan, out)
    return float(out) if np.ndim(r) == 0 else out


# ----------------------------------------------------------------------------- split halves
def _masked_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r per column over rows where both are finite.

    Parameters
    ----------
    a, b : (n_stimuli, n_units)

    Returns
    -------
    (n_units,) r; NaN for columns with fewer than 3 shared finite rows or zero variance.
    """
    m = np.isfinite(a) & np.isfinite(b)
    cnt = m.sum(0)
    a0 = np.where(m, a, 0.0)
    b0 = np.where(m, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = a0.sum(0) / cnt
        mb = b0.sum(0) / cnt
        da = np.where(m, a0 - ma, 0.0)
        db = np.where(m, b0 - mb, 0.0)
        num = (da * db).sum(0)
        den = np.sqrt((da * da).sum(0) * (db * db).sum(0))
        r = num / den
    bad = (cnt < 3) | ~(den > 0) | ~np.isfinite(r)
    return np.clip(np.where(bad, np.nan, r), -1.0, 1.0)


def _masked_halves(values: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split each (stimulus, unit)'s own valid repetitions into two equal random halves.

    ``values`` has shape (stimulus, unit, repetition); NaN marks missing repetitions. Entries
    with fewer than two valid repetitions come back NaN in both halves (masked downstream).
    """
    valid = np.isfinite(values)
    keys = rng.random(values.shape)
    keys[~valid] = np.inf
    order = np.argsort(keys, axis=-1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(values.shape[-1]), order.shape), axis=-1)
    half = (valid.sum(-1) // 2)[..., None]
    in1 = valid & (rank < half)
    in2 = valid & (rank >= half) & (rank < 2 * half)
    with np.errstate(invalid="ignore"):
        h1 = np.where(in1, values, 0.0).sum(-1) / in1.sum(-1)
        h2 = np.where(in2, values, 0.0).sum(-1) / in2.sum(-1)
    return h1, h2


def _repetition_array(resp: Any) -> np.ndarray:
    """(stimulus, unit, repetition) float array from Responses or a numpy array."""
    if isinstance(resp, xr.DataArray):
        if "repetition" not in resp.dims:
            raise ValueError(
                f"A split-half ceiling needs a 'repetition' dim; got dims {resp.dims}. Load single-trial "
                "responses, e.g. make_responses(values, dims=('stimulus', 'unit', 'repetition'), allow_nan=True)."
            )
        if "time" in resp.dims:
            raise ValueError("Select one time bin or average over 'time' before computing a split-half ceiling.")
        resp = check_responses(resp, allow_nan=True, min_stimuli=3)
        return np.asarray(resp.values, dtype=float)
    arr = np.asarray(resp.detach().cpu().numpy() if hasattr(resp, "detach") else resp, dtype=float)
    if arr.ndim != 3:
        raise ValueError(
            f"Expected an array of shape (n_stimuli, n_units, n_repetitions); got shape {arr.shape}."
        )
    if np.isinf(arr).any():
        raise ValueError("The responses contain infinite values; remove them first.")
    return arr


def split_half_correlations(resp: Any, *, n_splits: int = 10, seed: int = 0) -> np.ndarray:
    """Raw (uncorrected) split-half Pearson r of every unit for ``n_splits`` random splits.

    Parameters
    ----------
    resp : Responses with dims ('stimulus', 'unit', 'repetition'), or array of that shape
        NaN marks missing repetitions (padding); it is masked, never filled.
    n_splits : int
    seed : int

    Returns
    -------
    numpy.ndarray, shape (n_splits, n_units)
        NaN for units with fewer than 3 stimuli holding two valid repetitions, or no variance.

    Notes
    -----
    When every unit shares each stimulus's repetition mask (the usual NaN padding of unequal
    repeat counts) and every stimulus has at least 2 repetitions, halves come from
    :func:`neurocompare.split_repetitions`. Otherwise (e.g. pooled sessions with 50 and 60
    repeats) each stimulus x unit entry splits its own valid repetitions into two equal random
    halves; entries with fewer than 2 are left out of that unit's correlation.
    """
    values = _repetition_array(resp)
    if values.shape[2] < 2:
        raise ValueError(f"A split-half ceiling needs at least 2 repetitions; got {values.shape[2]}.")
    if values.shape[0] < 3:
        raise ValueError(f"A split-half ceiling needs at least 3 stimuli; got {values.shape[0]}.")
    if int(n_splits) < 1:
        raise ValueError(f"n_splits must be a positive integer; got {n_splits!r}.")
    nan = np.isnan(values)
    shared = bool((nan == nan[:, :1, :]).all())
    rng = np.random.default_rng(seed)
    out = np.empty((int(n_splits), values.shape[1]))
    use_split_repetitions = shared and (~nan[:, 0, :]).sum(1).min() >= 2
    if use_split_repetitions:
        from neurocompare.data import make_responses

        da = make_responses(values, dims=("stimulus", "unit", "repetition"), allow_nan=True)
    for i in range(int(n_splits)):
        if use_split_repetitions:
            h1, h2 = split_repetitions(da, seed=rng)
            h1, h2 = np.asarray(h1.values, dtype=float), np.asarray(h2.values, dtype=float)
        else:
            h1, h2 = _masked_halves(values, rng)
        out[i] = _masked_pearson(h1, h2)
    return out


def split_half_reliability(
    resp: ResponsesLike,
    *,
    n_splits: int = 10,
    seed: int = 0,
    aggregate: str = "median",
) -> CeilingResult:
    """Brain-Score's internal-consistency ceiling: Spearman-Brown-corrected split-half reliability.

    For each of ``n_splits`` random splits of the repetitions into halves, each unit's Pearson r
    (over stimuli) between the two half means is corrected with ``SB(r, 2)``; the median over
    units is taken per split and averaged over splits.

    Parameters
    ----------
    resp : Responses with dims ('stimulus', 'unit', 'repetition'), or array of that shape
        Single-trial responses; NaN marks missing repetitions and is masked, never filled.
    n_splits : int
        Random splits (Brain-Score: 10).
    seed : int
    aggregate : {'median', 'mean'}
        Aggregation over units within a split.

    Returns
    -------
    CeilingResult
        ``value`` (the ceiling), ``error`` (SEM over splits), ``per_split``, ``per_unit``
        (n_splits, n_units) corrected reliabilities.

    Raises
    ------
    ValueError
        Fewer than 2 repetitions or 3 stimuli, or no unit with a defined reliability.

    References
    ----------
    Schrimpf et al. (2018), Brain-Score (``InternalConsistency``).
    """
    if aggregate not in ("median", "mean"):
        raise ValueError(f"The 'aggregate' parameter must be one of {{'median', 'mean'}}. Got {aggregate!r} instead.")
    raw = split_half_correlations(resp, n_splits=n_splits, seed=seed)
    corrected = spearman_brown(raw, 2.0)
    per_split = _aggregate_units(corrected, aggregate, "split-half reliability")
    return CeilingResult(
        float(per_split.mean()),
        float(per_split.std() / math.sqrt(per_split.size)),
        per_split,
        corrected,
        None,
        {"n_splits": int(n_splits), "seed": seed, "aggregate": aggregate, "correction": "spearman_brown(n=2)"},
        error_kind=f"sem (ddof=0) over {per_split.size} splits",
    )


def _aggregate_units(per_unit: np.ndarray, aggregate: str, what: str) -> np.ndarray:
    finite = np.isfinite(per_unit)
    if not finite.any(axis=1).all():
        raise ValueError(
            f"No unit has a defined {what} in at least one split (all units constant, or fewer than 3 stimuli "
            "with two valid repetitions). Check the data: drop silent units and stimuli without repeats."
        )
    f = np.median if aggregate == "median" else np.mean
    return np.array([f(row[np.isfinite(row)]) for row in per_unit])


# ----------------------------------------------------------------------------- RSA (Nili 2014)
def _rdm_vectors(rdms: Any, subject_dim: str) -> np.ndarray:
    """(n_subjects, n_pairs) upper-triangle vectors; extra stack dims are averaged per subject."""
    if isinstance(rdms, xr.DataArray):
        if rdms.dims[-2:] != ("stimulus", "stimulus_2"):
            raise ValueError(
                f"RDMs must have dims (..., 'stimulus', 'stimulus_2'); got {rdms.dims}. Build them with make_rdm()."
            )
        stack = rdms.dims[:-2]
        if not stack:
            raise ValueError("A noise ceiling needs RDMs of several subjects; got a single RDM.")
        if subject_dim not in stack:
            if len(stack) != 1:
                raise ValueError(f"subject_dim={subject_dim!r} is not among the stack dims {stack}.")
            subject_dim = stack[0]
        other = [d for d in stack if d != subject_dim]
        arr = rdms.mean(other) if other else rdms
        arr = np.asarray(arr.transpose(subject_dim, "stimulus", "stimulus_2").values, dtype=float)
    else:
        arr = np.asarray(rdms, dtype=float)
    if arr.ndim == 3:
        if arr.shape[1] != arr.shape[2]:
            raise ValueError(f"Stacked RDMs must have shape (n_subjects, n, n); got {arr.shape}.")
        n = arr.shape[1]
        if not np.allclose(arr, np.swapaxes(arr, 1, 2), atol=1e-8, equal_nan=True):
            raise ValueError("The RDMs are not symmetric. Symmetrize them with (d + d.T) / 2 if that is intended.")
        iu = np.triu_indices(n, 1)
        vec = arr[:, iu[0], iu[1]]
    elif arr.ndim == 2:
        vec = arr
    else:
        raise ValueError(
            f"Expected RDMs of shape (n_subjects, n, n) or condensed (n_subjects, n_pairs); got shape {arr.shape}."
        )
    if vec.shape[0] < 2:
        raise ValueError(f"A leave-one-out noise ceiling needs at least 2 subjects; got {vec.shape[0]}.")
    if vec.shape[1] < 3:
        raise ValueError(f"RDMs need at least 3 stimulus pairs (3 stimuli); got {vec.shape[1]} pairs.")
    if not np.isfinite(vec).all():
        raise ValueError("The RDMs contain NaN or infinite values; RDM entries must be finite.")
    if np.any(np.ptp(vec, axis=1) == 0):
        bad = np.flatnonzero(np.ptp(vec, axis=1) == 0).tolist()
        raise ValueError(f"RDM(s) of subject(s) {bad} are constant; their correlation with anything is undefined.")
    return vec


def _rankdata_rows(v: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(v, axis=1)


def _pool(vec: np.ndarray, method: str) -> np.ndarray:
    if method == "pearson":
        z = (vec - vec.mean(1, keepdims=True)) / vec.std(1, keepdims=True)
        return z.mean(0)
    return _rankdata_rows(vec).mean(0)


def _corr(a: np.ndarray, b: np.ndarray, method: str) -> float:
    from scipy import stats

    if method == "pearson":
        return float(np.corrcoef(a, b)[0, 1])
    if method == "spearman":
        return float(stats.spearmanr(a, b)[0])
    return float(stats.kendalltau(a, b)[0])  # tau-b


def rsa_noise_ceiling(rdms: Any, method: str = "spearman", *, subject_dim: str = "subject") -> CeilingResult:
    """Nili et al. (2014) noise ceiling of RSA from per-subject RDMs.

    Upper bound: mean over subjects of the correlation between the subject's RDM and the pooled
    RDM of all subjects (the pooled RDM over-fits each subject, so no model can beat it).
    Lower bound: the same with the pooled RDM of the other subjects (leave one out). Pooling
    averages z-scored RDMs for ``'pearson'`` and rank-transformed RDMs for ``'spearman'`` and
    ``'kendall'`` (as in the RSA toolbox).

    Parameters
    ----------
    rdms : RDM DataArray with dims (subject, [other stack dims,] 'stimulus', 'stimulus_2'),
        or array (n_subjects, n, n), or condensed (n_subjects, n_pairs)
        Extra stack dims (e.g. ``session``) are averaged within subject first.
    method : {'spearman', 'pearson', 'kendall'}
        RDM comparison; ``'kendall'`` is Kendall's tau-b.
    subject_dim : str
        Name of the subject dim of a DataArray (a single stack dim is used whatever its name).

    Returns
    -------
    CeilingResult
        ``value`` = upper bound, ``lower`` = lower bound, ``per_unit`` = (2, n_subjects) rows
        (upper, lower) per subject, ``error`` = SEM of the upper bound over subjects (ddof=1).

    References
    ----------
    Nili, Wingfield, Walther, Su, Marslen-Wilson & Kriegeskorte (2014). A toolbox for
    representational similarity analysis. PLoS Comput Biol 10(4): e1003553.
    """
    if method not in ("spearman", "pearson", "kendall"):
        raise ValueError(
            f"The 'method' parameter of rsa_noise_ceiling() must be one of {{'spearman', 'pearson', 'kendall'}}. "
            f"Got {method!r} instead."
        )
    vec = _rdm_vectors(rdms, subject_dim)
    n_sub = vec.shape[0]
    pooled = _pool(vec, method)
    upper = np.array([_corr(vec[s], pooled, method) for s in range(n_sub)])
    lower = np.array(
        [_corr(vec[s], _pool(np.delete(vec, s, axis=0), method), method) for s in range(n_sub)]
    )
    return CeilingResult(
        float(upper.mean()),
        float(upper.std(ddof=1) / math.sqrt(n_sub)),
        upper,
        np.stack([upper, lower]),
        float(lower.mean()),
        {"method": method, "n_subjects": int(n_sub), "n_pairs": int(vec.shape[1])},
        error_kind=f"sem of the upper bound over {n_sub} subjects",
    )


# ----------------------------------------------------------------------------- Nayebi consistency
def noise_correct(r_xy: Any, r_xx: Any, r_yy: Any) -> np.ndarray:
    """Correct correlations for attenuation: ``r_xy / sqrt(r_xx * r_yy)``.

    Parameters
    ----------
    r_xy : array-like
        Raw correlations between the two measurements.
    r_xx, r_yy : array-like
        Reliabilities of each (e.g. Spearman-Brown-corrected split-half r); broadcast with r_xy.

    Returns
    -------
    numpy.ndarray
        NaN where a reliability is not positive (the correction is undefined there).
    """
    r_xy, r_xx, r_yy = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r_xy, r_xx, r_yy)))
    ok = (r_xx > 0) & (r_yy > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = r_xy / np.sqrt(r_xx * r_yy)
    return np.where(ok, out, np.nan)


def noise_corrected_consistency(
    x: Any,
    y: Any,
    *,
    n_splits: int = 10,
    seed: int = 0,
    aggregate: str = "median",
) -> CeilingResult:
    """Noise-corrected consistency per unit (Nayebi et al.): ``r_xy / sqrt(SB(r_x1x2) SB(r_y1y2))``.

    ``r_xy`` is the Pearson r (over stimuli) between the repetition means of ``x`` and ``y`` for
    each paired unit; ``r_x1x2`` and ``r_y1y2`` are split-half correlations of each side,
    Spearman-Brown-corrected to full-data reliabilities. A deterministic side (no 'repetition'
    dim, e.g. a model's predictions) has reliability 1.

    Parameters
    ----------
    x, y : Responses with dims ('stimulus', 'unit'[, 'repetition']), or arrays of that shape
        Paired columns: unit ``i`` of ``x`` is compared with unit ``i`` of ``y``. Responses are
        aligned on ``stimulus_id``; with ``unit_id`` on both sides, the ids must match.
    n_splits, seed
        Random repetition splits for the reliabilities.
    aggregate : {'median', 'mean'}
        Aggregation over units within a split.

    Returns
    -------
    CeilingResult
        ``per_unit`` (n_splits, n_units) corrected consistencies (NaN where a reliability is not
        positive); ``value`` = mean over splits of their median.

    References
    ----------
    Nayebi, Kong, Zhuang, Gardner, Norcia & Yamins (2023). Mouse visual cortex as a limited
    resource system that self-learns an ecologically-general representation. PLoS Comput Biol.
    Spearman (1904). The proof and measurement of association between two things.
    """
    if aggregate not in ("median", "mean"):
        raise ValueError(f"The 'aggregate' parameter must be one of {{'median', 'mean'}}. Got {aggregate!r} instead.")
    if isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray):
        from neurocompare.data import align

        x, y = align(check_responses(x, allow_nan=True), check_responses(y, allow_nan=True))
        ux, uy = np.asarray(x.unit_id.values).astype(str), np.asarray(y.unit_id.values).astype(str)
        if ux.shape != uy.shape or not np.array_equal(ux, uy):
            raise ValueError(
                "x and y must hold the same units in the same order (paired columns); their unit_id differ. "
                "Select matching units first, e.g. x.sel(unit=...)."
            )
    sides = []
    for name, v in (("x", x), ("y", y)):
        arr = np.asarray(v.values if isinstance(v, xr.DataArray) else
                         (v.detach().cpu().numpy() if hasattr(v, "detach") else v), dtype=float)
        if arr.ndim == 2:  # deterministic side: one "repetition"
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(f"{name} must have shape (n_stimuli, n_units[, n_repetitions]); got {arr.shape}.")
        sides.append(arr)
    ax, ay = sides
    if ax.shape[:2] != ay.shape[:2]:
        raise ValueError(f"x and y need the same (n_stimuli, n_units); got {ax.shape[:2]} and {ay.shape[:2]}.")
    with np.errstate(invalid="ignore"):
        mx, my = np.nanmean(ax, axis=2), np.nanmean(ay, axis=2)
    r_xy = _masked_pearson(mx, my)
    rel = []
    for arr in (ax, ay):
        if arr.shape[2] == 1:
            rel.append(np.ones((int(n_splits), arr.shape[1])))
        else:
            rel.append(spearman_brown(split_half_correlations(arr, n_splits=n_splits, seed=seed), 2.0))
        seed = seed + 1
    corrected = noise_correct(r_xy[None, :], rel[0], rel[1])
    per_split = _aggregate_units(corrected, aggregate, "noise-corrected consistency")
    return CeilingResult(
        float(per_split.mean()),
        float(per_split.std() / math.sqrt(per_split.size)),
        per_split,
        corrected,
        None,
        {"n_splits": int(n_splits), "aggregate": aggregate, "r_xy": r_xy},
        error_kind=f"sem (ddof=0) over {per_split.size} splits",
    )
