"""Time-resolved scoring: responses with a ``time`` dim, mapped over (condition × time) samples.

Recordings of a dynamic task (Mental-Pong, any video) are Responses with dims ('stimulus',
'unit', 'time', 'repetition'): a stimulus is a *condition* (one trajectory), each of its time
bins is a sample. The mapping from a model's features to the units is fitted on the samples of
training conditions and tested on held-out **conditions** — never on held-out frames of a
condition it was trained on, whose neighbouring frames would leak the answer.

- :func:`time_resolved_consistency`: condition-blocked cross-validated ridge predictions, then,
  at every time bin, the noise-corrected consistency
  (:func:`neurocompare.similarity.noise_corrected_consistency`) of the predictions with the
  recorded units across conditions. A ratio to the split-half ceiling is built in: a model
  that carries exactly what the neurons carry scores 1. Scoring *across conditions within a
  bin* removes what every condition shares at that time (a ball that always moves right), so a
  model with shuffled conditions scores about 0.
- :func:`time_resolved_benchmark`: the same data as a standard :class:`Benchmark` over the
  stacked (condition × time) samples, ``groups='condition'`` (blocked splits), ridge and the
  split-half ceiling; use it with :func:`neurocompare.benchmarks.score_responses` and
  :func:`stack_time` of the model's features.
- :func:`stack_time`, :func:`bin_spike_times`, :func:`nwb_spike_times`: from an NWB units table
  and trial onsets to time-binned Responses.

References
----------
Nayebi A, Rajalingham R, Jazayeri M, Yang GR (2023). Neural foundations of mental simulation:
future prediction of latent representations on dynamic scenes. NeurIPS.
Rajalingham R, Sohn H, Jazayeri M (2025). Dynamic tracking of objects in the macaque dorsomedial
frontal cortex. Nat Commun 16:346.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._result import Result
from neurocompare._seeding import numpy_rng
from neurocompare.benchmarks.spec import Benchmark

__all__ = [
    "TimeResolvedScore",
    "bin_spike_times",
    "nwb_spike_times",
    "stack_time",
    "time_resolved_benchmark",
    "time_resolved_consistency",
]


# ----------------------------------------------------------------------------- arrays
def _as_timed(x: Any, name: str, *, repetition: bool) -> xr.DataArray:
    """A DataArray (stimulus, unit, time[, repetition]) from Responses or an array."""
    if isinstance(x, xr.DataArray):
        need = {"stimulus", "unit", "time"}
        if not need <= set(x.dims):
            raise ValueError(
                f"{name} needs dims ('stimulus', 'unit', 'time'{', repetition' if repetition else ''}); got {x.dims}. "
                "Record recurrent/per-frame layers with neurocompare.extract (they carry 'time'), or bin spikes "
                "with bin_spike_times."
            )
        order = ["stimulus", "unit", "time"] + (["repetition"] if "repetition" in x.dims else [])
        extra = [d for d in x.dims if d not in order]
        if extra:
            raise ValueError(f"{name} has dims {extra} besides (stimulus, unit, time, repetition); select or average them first.")
        x = x.transpose(*order)
        if "stimulus_id" not in x.coords:
            x = x.assign_coords(stimulus_id=("stimulus", np.arange(x.sizes["stimulus"]).astype(str)))
        if "time" not in x.coords:
            x = x.assign_coords(time=("time", np.arange(x.sizes["time"])))
        if "unit_id" not in x.coords:
            x = x.assign_coords(unit_id=("unit", np.array([f"unit_{i}" for i in range(x.sizes["unit"])])))
        return x
    arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=float)
    dims = ("stimulus", "unit", "time", "repetition")[: arr.ndim]
    if arr.ndim not in (3, 4):
        raise ValueError(f"{name} as an array must be (condition, unit, time[, repetition]); got shape {arr.shape}.")
    return xr.DataArray(arr, dims=dims, coords={"stimulus_id": ("stimulus", np.arange(arr.shape[0]).astype(str)),
                                                "unit_id": ("unit", np.array([f"unit_{i}" for i in range(arr.shape[1])])),
                                                "time": ("time", np.arange(arr.shape[2]))})


def stack_time(responses: Any, *, mask: Any = None) -> xr.DataArray:
    """Stack (condition × time) into samples: (stimulus, unit, time[, repetition]) -> (stimulus, unit[, repetition]).

    Parameters
    ----------
    responses : Responses with dims ('stimulus', 'unit', 'time'[, 'repetition']) or array
    mask : bool array (stimulus, time), optional
        Samples to keep (e.g. the occluded epoch); samples whose values are all NaN are dropped.

    Returns
    -------
    Responses with dims ('stimulus', 'unit'[, 'repetition'])
        ``stimulus_id`` = ``'<condition id>@<time>'``, stimulus coords ``condition`` and
        ``time``; unit coords kept.
    """
    x = _as_timed(responses, "responses", repetition=True)
    values = np.asarray(x.values, dtype=float)
    keep = ~np.isnan(values).all(axis=tuple(d for d in range(values.ndim) if d not in (0, 2)))
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != keep.shape:
            raise ValueError(f"mask must be (stimulus, time) = {keep.shape}; got {m.shape}.")
        keep &= m
    c_idx, t_idx = np.nonzero(keep)
    if c_idx.size < 3:
        raise ValueError(f"stack_time kept {c_idx.size} samples; at least 3 are needed. Check the mask and the NaN padding.")
    cond = np.asarray(x.stimulus_id.values).astype(str)[c_idx]
    time = np.asarray(x.time.values)[t_idx]
    out = np.moveaxis(values, 2, 1)[c_idx, t_idx]  # (samples, unit[, repetition])
    dims = ("stimulus", "unit") + (("repetition",) if values.ndim == 4 else ())
    coords = {"stimulus_id": ("stimulus", np.array([f"{c}@{t}" for c, t in zip(cond, time)])),
              "condition": ("stimulus", cond), "time": ("stimulus", time)}
    coords.update({k: ("unit", v.values) for k, v in x.coords.items() if v.dims == ("unit",)})
    return xr.DataArray(out, dims=dims, coords=coords, attrs=dict(x.attrs))


# ----------------------------------------------------------------------------- benchmark
def time_resolved_benchmark(
    data: Any,
    *,
    mask: Any = None,
    metric: str = "ridge",
    ceiling: str | None = "split_half",
    n_splits: int = 5,
    test_fraction: float = 0.2,
    seed: int = 0,
    identifier: str = "custom.time_resolved.v1",
    **kwargs: Any,
) -> Benchmark:
    """A :class:`Benchmark` over (condition × time) samples with splits by condition.

    Parameters
    ----------
    data : Responses with dims ('stimulus', 'unit', 'time', 'repetition')
        A stimulus is a condition; NaN pads time bins a condition does not have.
    mask : bool array (stimulus, time), optional
        Samples to score (e.g. :func:`neurocompare.tasks.occluded_mask`).
    metric, ceiling, n_splits, test_fraction, seed, identifier, **kwargs
        As for :class:`Benchmark`; ``groups='condition'`` is set, so every split holds out whole
        conditions.

    Returns
    -------
    Benchmark
        Score a model with ``score_responses({layer: stack_time(acts, mask=mask)}, bench)``.
    """
    if "groups" in kwargs:
        raise ValueError("time_resolved_benchmark sets groups='condition' itself (splits by condition); do not pass groups.")
    stacked = stack_time(data, mask=mask)
    return Benchmark(stacked, metric=metric, ceiling=ceiling, n_splits=n_splits, test_fraction=test_fraction, seed=seed,
                     identifier=identifier, groups="condition", **kwargs)


# ----------------------------------------------------------------------------- consistency
@dataclass
class TimeResolvedScore(Result):
    """Noise-corrected consistency of predicted and recorded units, per time bin.

    Attributes
    ----------
    value : float
        Mean over scored time bins of the per-bin consistency (median over units).
    error : float
        Standard deviation of that mean over the reliability splits.
    per_time : xarray.DataArray, dims ('time',)
        Per-bin consistency (NaN where fewer than ``min_conditions`` conditions are scored).
    n_conditions : xarray.DataArray, dims ('time',)
    pooled : float
        The consistency over all scored samples pooled (condition × time).
    predictions : xarray.DataArray, dims ('stimulus', 'unit', 'time')
        Held-out predictions (NaN outside the scored samples).
    """

    value: float
    error: float
    per_time: xr.DataArray
    n_conditions: xr.DataArray
    pooled: float
    predictions: xr.DataArray
    params: dict = field(default_factory=dict)
    error_kind: str = "none"
    ci: tuple[float, float] | None = None

    def __repr__(self) -> str:
        return f"TimeResolvedScore(value={self.value:.4f}, error={self.error:.4f}, pooled={self.pooled:.4f}, bins={int(np.isfinite(self.per_time.values).sum())})"


def _pearson_over_conditions(a: np.ndarray, b: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Pearson r over conditions for every (time, unit): a, b (C, T, U), use (C, T) -> (T, U).

    NaN where fewer than 3 conditions are used or a side has no variance.
    """
    w = use[..., None].astype(float)
    n = w.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        a0, b0 = np.where(w > 0, a, 0.0), np.where(w > 0, b, 0.0)
        da = np.where(w > 0, a0 - a0.sum(0) / n, 0.0)
        db = np.where(w > 0, b0 - b0.sum(0) / n, 0.0)
        den = np.sqrt((da * da).sum(0) * (db * db).sum(0))
        r = (da * db).sum(0) / den
    return np.where((n >= 3) & (den > 0) & np.isfinite(r), np.clip(r, -1.0, 1.0), np.nan)


def _bin_reliability(Yr: np.ndarray, use: np.ndarray, pooled_use: np.ndarray, n_splits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Spearman-Brown-corrected split-half reliabilities across conditions: per bin and pooled.

    Each split deals every (condition, time) sample's valid repetitions into two random halves
    (shared by the units, as :func:`neurocompare.split_repetitions` does per stimulus); the half
    means are correlated over the conditions used at each time (``use``; ``(n_splits, T, U)``)
    and over all samples of ``pooled_use`` pooled (``(n_splits, 1, U)``).
    """
    from neurocompare.similarity._ceiling import spearman_brown

    valid = np.isfinite(Yr).all(2)  # (C, T, R): a repetition recorded for every unit
    rng = numpy_rng(seed, "time_resolved_reliability")
    per_bin = np.empty((n_splits,) + Yr.shape[1:3])
    pooled = np.empty((n_splits, 1, Yr.shape[2]))
    vals = np.where(np.isfinite(Yr), Yr, 0.0)
    flat_use = pooled_use.reshape(-1, 1)
    for i in range(n_splits):
        keys = np.where(valid, rng.random(valid.shape), np.inf)
        rank = np.argsort(np.argsort(keys, axis=-1), axis=-1)
        half = (valid.sum(-1) // 2)[..., None]
        in1, in2 = valid & (rank < half), valid & (rank >= half) & (rank < 2 * half)
        with np.errstate(invalid="ignore", divide="ignore"):
            h1 = np.einsum("ctur,ctr->ctu", vals, in1.astype(float)) / in1.sum(-1)[..., None]
            h2 = np.einsum("ctur,ctr->ctu", vals, in2.astype(float)) / in2.sum(-1)[..., None]
        ok = half[..., 0] >= 1
        per_bin[i] = spearman_brown(_pearson_over_conditions(h1, h2, ok & use), 2.0)
        flat = lambda h: h.reshape(-1, 1, h.shape[2])  # noqa: E731 - every sample one "condition" of one bin
        pooled[i] = spearman_brown(_pearson_over_conditions(flat(h1), flat(h2), ok.reshape(-1, 1) & flat_use), 2.0)
    return per_bin, pooled


def _corrected(pred: np.ndarray, Ym: np.ndarray, use: np.ndarray, rel: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """(n_splits, T) median over units of ``r(pred, data) / sqrt(reliability)``.

    The model side is deterministic (reliability 1). At a bin where the features do not differ
    between conditions (``flat``, (T,)), the model carries no information and scores 0: its
    held-out predictions differ only by the fold they came from, and that difference correlates
    *negatively* with the held-out data (each fold's training mean excludes it).
    """
    from neurocompare.similarity._ceiling import noise_correct

    r = _pearson_over_conditions(pred, Ym, use)  # (T, U)
    corrected = noise_correct(r[None], 1.0, rel)  # (n_splits, T, U)
    corrected = np.where(flat[None, :, None], 0.0, corrected)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # bins without any defined unit: NaN
        return np.nanmedian(corrected, axis=2)


def _flat_features(X: np.ndarray, use: np.ndarray) -> np.ndarray:
    """(T,) True where the features of the used conditions are identical (every feature)."""
    big, small = np.where(use[..., None], X, -np.inf).max(0), np.where(use[..., None], X, np.inf).min(0)
    with np.errstate(invalid="ignore"):
        return ~((big - small) > 0).any(-1)


def time_resolved_consistency(
    features: Any,
    data: Any,
    *,
    mask: Any = None,
    n_folds: int = 5,
    seed: int = 0,
    alphas: Any = None,
    n_splits: int = 10,
    min_conditions: int = 10,
    standardize: bool = False,
    _cache: dict | None = None,
) -> Any:
    """Map features to time-resolved units across conditions and score every time bin.

    1. Samples are (condition, time) pairs where the data are recorded, the features finite and
       ``mask`` is True. Conditions are dealt into ``n_folds`` folds (seeded); for each fold a
       :class:`~neurocompare.similarity.RidgeMapping` (penalty per unit by leave-one-out) is
       fitted on the other folds' samples (features -> repetition-mean responses) and predicts
       the fold's samples.
    2. At every time bin with at least ``min_conditions`` scored conditions, the held-out
       predictions are compared with the recorded repetitions across conditions by
       :func:`~neurocompare.similarity.noise_corrected_consistency` (``r / sqrt(reliability)``,
       split-half, Spearman–Brown corrected; the model side is deterministic), median over
       units. A unit whose prediction is constant across conditions at a bin scores 0.
    3. ``value`` = mean over scored bins.

    Parameters
    ----------
    features : Responses with dims ('stimulus', 'unit', 'time'), array (condition, feature, time), or a mapping of them
        A model layer over the same conditions (as :func:`neurocompare.extract` returns for
        per-frame and recurrent layers). Aligned to ``data`` by ``stimulus_id`` and by position
        along ``time`` (it needs at least the data's time bins).
    data : Responses with dims ('stimulus', 'unit', 'time', 'repetition') or array
        Recorded (or simulated) units, NaN outside a condition's bins.
    mask : bool array (stimulus, time), optional
        The samples scored *and* used to fit the mapping (e.g. the occluded epoch).
    n_folds : int
        Condition folds for the mapping (>= 2).
    seed : int
        Seeds the folds and the reliability splits.
    alphas : sequence of float, optional
        Ridge penalty grid (scaled by the features' mean eigenvalue, as in ``RidgeMapping``).
    n_splits : int
        Random repetition halves for the reliabilities.
    min_conditions : int
        Bins with fewer scored conditions are skipped (NaN in ``per_time``).
    standardize : bool
        Z-score every feature on each fold's training samples before the ridge fit. The ridge
        penalty shrinks low-variance features most, so without it the score depends on each
        feature's scale: the true ball state in arena units (x, y ~ 0–32, velocities ~ ±1)
        scores ~0.91 of the ceiling, the z-scored state 1.0.

    Returns
    -------
    TimeResolvedScore, or a dict of them when ``features`` is a mapping {name: features} (the
    data's reliabilities are then computed once for all).

    Raises
    ------
    ValueError
        Misaligned stimuli, fewer time bins in the features than in the data, no repetitions,
        too few conditions for the folds, or no bin with ``min_conditions`` conditions.

    Examples
    --------
    >>> import neurocompare as nc
    >>> ds = nc.tasks.mental_pong_conditions(40, seed=0)
    >>> sim = nc.tasks.simulated_dmfc(ds, n_units=8, n_repeats=6)
    >>> state = np.stack([ds[v].values for v in ("x", "y", "vx", "vy")], 1)  # (condition, 4, frame)
    >>> s = time_resolved_consistency(np.nan_to_num(state), sim, mask=ds.valid.values)
    >>> s.value > 0.8
    True
    """
    from neurocompare.similarity._ridge import RidgeMapping

    if isinstance(features, Mapping):  # several layers/models: the data's reliabilities are computed once
        cache: dict = {}
        return {name: time_resolved_consistency(f, data, mask=mask, n_folds=n_folds, seed=seed, alphas=alphas,
                                                n_splits=n_splits, min_conditions=min_conditions, standardize=standardize,
                                                _cache=cache)
                for name, f in features.items()}
    cache = {} if _cache is None else _cache

    def reliability(arr: np.ndarray, m: np.ndarray, pooled_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = (arr.shape, m.tobytes(), pooled_m.tobytes())
        if key not in cache:
            cache[key] = _bin_reliability(arr, m, pooled_m, int(n_splits), seed)
        return cache[key]

    y = _as_timed(data, "data", repetition=True)
    if "repetition" not in y.dims or y.sizes["repetition"] < 2:
        raise ValueError(f"data need a 'repetition' dim with at least 2 repetitions for the reliability; got dims {dict(y.sizes)}.")
    x = _as_timed(features, "features", repetition=False)
    if "repetition" in x.dims:
        raise ValueError("features must be deterministic (stimulus, unit, time); average a model's repetitions first.")
    ids = np.asarray(y.stimulus_id.values).astype(str)
    if isinstance(features, xr.DataArray) and isinstance(data, xr.DataArray):
        fid = np.asarray(x.stimulus_id.values).astype(str)
        missing = sorted(set(ids) - set(fid))
        if missing:
            raise ValueError(f"features lack {len(missing)} of the data's stimuli (e.g. {missing[:3]}); extract the model on every condition.")
        where = {s: i for i, s in enumerate(fid)}
        x = x.isel(stimulus=[where[s] for s in ids])
    elif x.sizes["stimulus"] != y.sizes["stimulus"]:
        raise ValueError(f"features and data need the same conditions; got {x.sizes['stimulus']} and {y.sizes['stimulus']}.")
    n_c, n_t = y.sizes["stimulus"], y.sizes["time"]
    if x.sizes["time"] < n_t:
        raise ValueError(f"features have {x.sizes['time']} time bins but the data {n_t}; extract the model on the full videos.")
    X = np.asarray(x.values, dtype=float)[:, :, :n_t].transpose(0, 2, 1)  # (condition, time, feature)
    Yr = np.asarray(y.values, dtype=float).transpose(0, 2, 1, 3)  # (condition, time, unit, repetition)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN padding bins
        Ym = np.nanmean(Yr, axis=3)
    use = np.isfinite(Ym).all(2) & np.isfinite(X).all(2)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape[0] != n_c or m.shape[1] < n_t:
            raise ValueError(f"mask must be (stimulus, time) = ({n_c}, {n_t}); got {m.shape}.")
        use &= m[:, :n_t]
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or not 2 <= n_folds <= n_c:
        raise ValueError(f"n_folds must be an int in [2, n_conditions={n_c}]; got {n_folds!r}.")
    folds = numpy_rng(seed, "time_resolved_folds").permutation(n_c) % n_folds
    pred = np.full(Ym.shape, np.nan)
    for f in range(n_folds):
        tr, te = use & (folds != f)[:, None], use & (folds == f)[:, None]
        if not te.any():
            continue
        if tr.sum() < 3:
            raise ValueError(f"Fold {f} leaves {int(tr.sum())} training samples; use fewer folds or more conditions.")
        xt = X[tr]
        if not (np.ptp(xt, axis=0) > 0).any():  # features that never vary: ridge predicts the training mean
            pred[te] = Ym[tr].mean(0)
            continue
        xe = X[te]
        if standardize:  # z-score each feature on the training samples: the ridge penalty becomes scale-free
            mu, sd = xt.mean(0), xt.std(0)
            sd = np.where(sd > 0, sd, 1.0)
            xt, xe = (xt - mu) / sd, (xe - mu) / sd
        mapping = RidgeMapping(alphas).fit(xt, Ym[tr])
        pred[te] = np.asarray(mapping.predict(xe), dtype=float)
    counts = use.sum(0)
    binned = use & (counts >= min_conditions)[None, :]
    scored = binned.any(0)
    if not scored.any():
        raise ValueError(
            f"No time bin has {min_conditions} scored conditions (most: {int(counts.max())}); lower min_conditions or "
            "give more conditions."
        )
    rel, pooled_rel = reliability(Yr, binned, use)
    per_split = _corrected(pred, Ym, binned, rel, _flat_features(X, binned))  # (n_splits, T)
    per_split[:, ~scored] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_time = np.nanmean(per_split, axis=0)
    scored &= np.isfinite(per_time)
    bin_mean = np.nanmean(per_split[:, scored], axis=1)  # (n_splits,)
    # pooled: every used sample is one "condition" of a single bin
    flat_use = use.reshape(-1, 1)
    Xf = X.reshape(-1, 1, X.shape[2])
    pooled = float(np.nanmean(_corrected(pred.reshape(-1, 1, pred.shape[2]), Ym.reshape(-1, 1, Ym.shape[2]), flat_use,
                                         pooled_rel, _flat_features(Xf, flat_use))))
    tcoord = np.asarray(y.time.values)
    pred_da = xr.DataArray(pred.transpose(0, 2, 1), dims=("stimulus", "unit", "time"),
                           coords={"stimulus_id": ("stimulus", ids), "time": ("time", tcoord)})
    if "unit_id" in y.coords:
        pred_da = pred_da.assign_coords(unit_id=("unit", np.asarray(y.unit_id.values)))
    return TimeResolvedScore(
        value=float(np.mean(per_time[scored])),
        error=float(np.std(bin_mean, ddof=1)) if bin_mean.size > 1 else math.nan,
        per_time=xr.DataArray(per_time, dims=("time",), coords={"time": tcoord}),
        n_conditions=xr.DataArray(counts, dims=("time",), coords={"time": tcoord}),
        pooled=pooled,
        predictions=pred_da,
        params={"n_folds": n_folds, "seed": seed, "n_splits": int(n_splits), "min_conditions": min_conditions,
                "n_bins_scored": int(scored.sum()), "n_samples": int(use.sum())},
        error_kind=f"sd over {int(n_splits)} reliability splits",
    )


# ----------------------------------------------------------------------------- spikes -> Responses
def nwb_spike_times(units: Any) -> tuple[list[np.ndarray], np.ndarray]:
    """Spike times and unit ids from an NWB units table (``nwbfile.units``) or a DataFrame of it.

    Parameters
    ----------
    units : pynwb ``Units`` table, or a pandas DataFrame with a ``spike_times`` column
        (``nwbfile.units.to_dataframe()``); each row is one unit, spike times in seconds.

    Returns
    -------
    spike_times : list of 1-D float arrays
    unit_ids : numpy.ndarray of str
    """
    if hasattr(units, "to_dataframe") and not hasattr(units, "columns"):
        units = units.to_dataframe()
    if not hasattr(units, "columns") or "spike_times" not in units.columns:
        raise TypeError(
            "nwb_spike_times needs an NWB units table (nwbfile.units) or a DataFrame with a 'spike_times' column; "
            f"got {type(units).__name__}."
        )
    return [np.asarray(s, dtype=float) for s in units["spike_times"]], np.asarray(units.index).astype(str)


def bin_spike_times(
    spike_times: Sequence[Any],
    onsets: Any,
    stimulus_ids: Sequence[Any],
    *,
    n_bins: int,
    bin_width: float,
    unit_ids: Sequence[Any] | None = None,
    n_valid_bins: Any = None,
) -> xr.DataArray:
    """Count each unit's spikes in ``n_bins`` bins after every trial onset: time-resolved Responses.

    Parameters
    ----------
    spike_times : sequence of 1-D arrays (seconds), one per unit
    onsets : array (n_trials,)
        Trial onsets (seconds), e.g. the frame-0 times of the videos.
    stimulus_ids : sequence (n_trials,)
        The condition of every trial; repeated trials of a condition become repetitions
        (NaN-padded to the largest count).
    n_bins : int
        Bins per trial (e.g. frames).
    bin_width : float
        Seconds per bin (e.g. one frame).
    unit_ids : sequence, optional
    n_valid_bins : array (n_trials,), optional
        Bins that belong to each trial (later bins are set to NaN, e.g. after the ball reached
        the paddle).

    Returns
    -------
    Responses with dims ('stimulus', 'unit', 'time', 'repetition')
        Counts per bin; ``time`` = bin start (seconds after onset).
    """
    onsets = np.asarray(onsets, dtype=float)
    ids = np.asarray(stimulus_ids).astype(str)
    if onsets.ndim != 1 or ids.shape != onsets.shape:
        raise ValueError(f"onsets and stimulus_ids must be 1-D of the same length; got shapes {onsets.shape} and {ids.shape}.")
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1 or not bin_width > 0:
        raise ValueError(f"n_bins must be a positive int and bin_width > 0; got {n_bins!r} and {bin_width!r}.")
    conds = np.array(sorted(set(ids.tolist())))
    rep_of = np.zeros(ids.size, dtype=int)
    seen: dict[str, int] = {}
    for i, c in enumerate(ids):
        rep_of[i] = seen.get(c, 0)
        seen[c] = rep_of[i] + 1
    n_rep = max(seen.values())
    out = np.full((conds.size, len(spike_times), int(n_bins), n_rep), np.nan)
    c_of = np.searchsorted(conds, ids)
    edges = np.arange(int(n_bins) + 1) * float(bin_width)
    for u, st in enumerate(spike_times):
        st = np.sort(np.asarray(st, dtype=float))
        for i, t0 in enumerate(onsets):
            lo, hi = np.searchsorted(st, [t0, t0 + edges[-1]])
            out[c_of[i], u, :, rep_of[i]] = np.histogram(st[lo:hi] - t0, bins=edges)[0]
    if n_valid_bins is not None:
        nv = np.asarray(n_valid_bins, dtype=int)
        if nv.shape != onsets.shape:
            raise ValueError(f"n_valid_bins needs one count per trial ({onsets.size}); got shape {nv.shape}.")
        for i in range(ids.size):
            out[c_of[i], :, nv[i]:, rep_of[i]] = np.nan
    uid = np.arange(len(spike_times)).astype(str) if unit_ids is None else np.asarray(unit_ids).astype(str)
    return xr.DataArray(out, dims=("stimulus", "unit", "time", "repetition"),
                        coords={"stimulus_id": ("stimulus", conds), "unit_id": ("unit", uid), "time": ("time", edges[:-1])},
                        attrs={"units": "spikes/bin", "bin_width": float(bin_width)})
