"""Behavioural comparisons of models and primates: I1n/I2n consistency, error consistency, behavioural RSA.

- **I1n / I2n** (Rajalingham et al. 2018): image-level (I1) and image-by-distractor (I2)
  sensitivity ``d′ = Φ⁻¹(hit rate) − Φ⁻¹(false-alarm rate)`` in a two-alternative
  match-to-sample task, normalised ("n") by subtracting the mean over images of the same object
  so that object-level difficulty is removed. A model and a primate population are compared by
  the Pearson correlation of their vectors, corrected for the measurement noise of both with
  split halves of the trials (:func:`behavioral_consistency`).
- **Error consistency** (Geirhos et al. 2020): Cohen's κ on trial-by-trial correctness, the
  observed agreement corrected for the agreement expected from the two accuracies alone.
- **Behavioural RSA**: a model RDM compared with per-subject behavioural RDMs (e.g. similarity
  judgements), with the Nili et al. (2014) noise ceiling of the subjects.

These are not ``(x, y)`` feature-space measures, so they are functions here rather than
registered metrics; the behavioural-RDM benchmark uses the ordinary ``'rsa'`` metric.

Trials of the match-to-sample task are three aligned 1-D arrays: ``image`` (index of the
sample image), ``distractor`` (index of the distractor object) and ``correct`` (0/1); each image
belongs to one object, ``image_objects[image]``.

References
----------
Rajalingham R, Issa EB, Bashivan P, Kar K, Schmidt K, DiCarlo JJ (2018). Large-scale,
high-resolution comparison of the core visual object recognition behavior of humans, monkeys,
and state-of-the-art deep artificial neural networks. J Neurosci 38(33):7255-7269.
Geirhos R, Meding K, Wichmann FA (2020). Beyond accuracy: quantifying trial-by-trial behaviour
of CNNs and humans by measuring error consistency. NeurIPS 33.
Nili H, Wingfield C, Walther A, Su L, Marslen-Wilson W, Kriegeskorte N (2014). A toolbox for
representational similarity analysis. PLoS Comput Biol 10(4):e1003553.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurocompare._result import Result, sd_over, sem_over
from neurocompare._seeding import numpy_rng

__all__ = [
    "BehavioralConsistency",
    "BehavioralRSA",
    "ErrorConsistency",
    "behavioral_consistency",
    "behavioral_rsa",
    "error_consistency",
    "i1n",
    "i2n",
    "performance_table",
]


# ----------------------------------------------------------------------------- error consistency
@dataclass
class ErrorConsistency(Result):
    """Cohen's κ between two observers' trial-by-trial correctness.

    Attributes
    ----------
    value : float
        κ = (c_obs − c_exp) / (1 − c_exp).
    observed, expected : float
        Observed agreement c_obs (both right or both wrong) and the agreement expected from the
        accuracies alone, c_exp = p_a p_b + (1 − p_a)(1 − p_b).
    error : float
        Bootstrap standard deviation over trials; ``ci`` the percentile interval.
    """

    value: float
    observed: float
    expected: float
    error: float
    error_kind: str
    ci: tuple[float, float] | None


def _kappa(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pa, pb = a.mean(-1), b.mean(-1)
    obs = (a == b).mean(-1)
    exp = pa * pb + (1 - pa) * (1 - pb)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (obs - exp) / (1 - exp), obs, exp


def _binary(x: Any, name: str) -> np.ndarray:
    v = np.asarray(x)
    if v.dtype == bool:
        v = v.astype(np.float64)
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or not np.isin(v, (0.0, 1.0)).all():
        raise ValueError(f"{name} must be a non-empty 1-D array of 0/1 (or bool) per trial; got shape {v.shape}.")
    return v


def error_consistency(correct_a: Any, correct_b: Any, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> ErrorConsistency:
    """Error consistency κ of two observers on the same trials (Geirhos et al. 2020).

    Parameters
    ----------
    correct_a, correct_b : array-like of 0/1 or bool, shape (n_trials,)
        Whether each observer was right on each trial (same trials, same order).
    n_boot : int
        Bootstrap resamples of trials for ``error`` and ``ci`` (0: none).
    level : float
        Confidence level of the percentile interval.
    seed : int

    Returns
    -------
    ErrorConsistency

    Raises
    ------
    ValueError
        Different lengths, values other than 0/1, or an observer always right or always wrong
        together with the other (c_exp = 1: κ undefined).

    References
    ----------
    Geirhos R, Meding K, Wichmann FA (2020). Beyond accuracy: quantifying trial-by-trial
    behaviour of CNNs and humans by measuring error consistency. NeurIPS 33.
    Cohen J (1960). A coefficient of agreement for nominal scales. Educ Psychol Meas 20:37-46.

    Examples
    --------
    >>> error_consistency([1, 1, 0, 0], [1, 1, 0, 0], n_boot=0).value
    1.0
    """
    a, b = _binary(correct_a, "correct_a"), _binary(correct_b, "correct_b")
    if a.shape != b.shape:
        raise ValueError(f"correct_a and correct_b must cover the same trials; got {a.size} and {b.size} trials.")
    kappa, obs, exp = _kappa(a, b)
    if not exp < 1:
        raise ValueError("Both observers are always right (or always wrong): expected agreement is 1 and κ is undefined.")
    error, kind, ci = float("nan"), "none", None
    if n_boot:
        rng = numpy_rng(seed, "error-consistency")
        idx = rng.integers(0, a.size, size=(int(n_boot), a.size))
        boot = _kappa(a[idx], b[idx])[0]
        boot = boot[np.isfinite(boot)]
        if boot.size > 1:
            error, kind = sd_over(boot, "bootstrap resamples of trials")
            q = (1 - level) / 2
            ci = (float(np.quantile(boot, q)), float(np.quantile(boot, 1 - q)))
    return ErrorConsistency(float(kappa), float(obs), float(exp), error, kind, ci)


# ----------------------------------------------------------------------------- I1n / I2n
def _check_objects(image_objects: Any) -> tuple[np.ndarray, int]:
    obj = np.asarray(image_objects)
    if obj.ndim != 1 or obj.size == 0 or not np.issubdtype(obj.dtype, np.integer) or (obj < 0).any():
        raise ValueError(f"image_objects must be a 1-D array of non-negative object indices, one per image; got {image_objects!r}.")
    n_obj = int(obj.max()) + 1
    if n_obj < 2:
        raise ValueError("I1n/I2n need images of at least 2 objects.")
    return obj, n_obj


def performance_table(image: Any, distractor: Any, correct: Any, image_objects: Any) -> np.ndarray:
    """Fraction correct per (image, distractor object) from match-to-sample trials.

    Parameters
    ----------
    image : array of int, shape (n_trials,)
        Sample image index of each trial.
    distractor : array of int, shape (n_trials,)
        Distractor object of each trial (never the image's own object).
    correct : array of 0/1 or bool, shape (n_trials,)
    image_objects : array of int, shape (n_images,)
        Object of each image.

    Returns
    -------
    ndarray, shape (n_images, n_objects)
        NaN for the image's own object and for pairs without trials.
    """
    obj, n_obj = _check_objects(image_objects)
    img = np.asarray(image)
    dis = np.asarray(distractor)
    cor = _binary(correct, "correct")
    if img.shape != cor.shape or dis.shape != cor.shape:
        raise ValueError(f"image, distractor and correct must have one entry per trial; got shapes {img.shape}, {dis.shape}, {cor.shape}.")
    if not (np.issubdtype(img.dtype, np.integer) and np.issubdtype(dis.dtype, np.integer)):
        raise ValueError("image and distractor must be integer indices.")
    if (img < 0).any() or (img >= obj.size).any() or (dis < 0).any() or (dis >= n_obj).any():
        raise ValueError(f"image indices must lie in [0, {obj.size}) and distractor objects in [0, {n_obj}).")
    if (obj[img] == dis).any():
        raise ValueError("Some trials use the sample image's own object as distractor; a distractor must be another object.")
    hits = np.zeros((obj.size, n_obj))
    counts = np.zeros((obj.size, n_obj))
    np.add.at(hits, (img, dis), cor)
    np.add.at(counts, (img, dis), 1.0)
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, hits / np.where(counts > 0, counts, 1), np.nan)


def _check_table(table: Any, obj: np.ndarray, n_obj: int) -> np.ndarray:
    t = np.asarray(table, dtype=np.float64)
    if t.shape != (obj.size, n_obj):
        raise ValueError(f"A performance table must have shape (n_images, n_objects) = ({obj.size}, {n_obj}); got {t.shape}.")
    finite = t[np.isfinite(t)]
    if ((finite < 0) | (finite > 1)).any():
        raise ValueError("A performance table holds fractions correct in [0, 1] (NaN where undefined).")
    t = t.copy()
    t[np.arange(obj.size), obj] = np.nan
    return t


def _z(p: np.ndarray, clip: float) -> np.ndarray:
    from scipy.special import ndtri

    return ndtri(np.clip(p, clip, 1 - clip))


def _normalise(d: np.ndarray, obj: np.ndarray, n_obj: int) -> np.ndarray:
    out = np.full_like(d, np.nan)
    for o in range(n_obj):
        rows = obj == o
        if rows.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
                out[rows] = d[rows] - np.nanmean(d[rows], axis=0)
    return out


def i2n(performance: Any, image_objects: Any, *, rate_clip: float = 0.01) -> np.ndarray:
    """Normalised image-by-distractor sensitivity I2n (Rajalingham et al. 2018).

    ``d′(i, d) = Φ⁻¹(HR(i, d)) − Φ⁻¹(FAR(o_i, d))`` with ``HR(i, d)`` the fraction correct on
    image ``i`` (object ``o_i``) against distractor object ``d`` and ``FAR(o_i, d)`` the rate of
    choosing ``o_i`` on images of ``d`` shown with distractor ``o_i``; then the mean over images
    of ``o_i`` (per distractor) is subtracted.

    Parameters
    ----------
    performance : array, shape (n_images, n_objects)
        Fractions correct (:func:`performance_table`); the own-object column is ignored.
    image_objects : array of int, shape (n_images,)
    rate_clip : float
        Rates are clipped to ``[rate_clip, 1 − rate_clip]`` before Φ⁻¹ (``|d′| ≤ 4.65`` at 0.01).

    Returns
    -------
    ndarray, shape (n_images, n_objects)
        NaN on the own-object column and where rates are undefined.

    References
    ----------
    Rajalingham R et al. (2018). J Neurosci 38(33):7255-7269.
    """
    obj, n_obj = _check_objects(image_objects)
    t = _check_table(performance, obj, n_obj)
    if not 0 < rate_clip < 0.5:
        raise ValueError(f"rate_clip must lie in (0, 0.5); got {rate_clip!r}.")
    # false alarms: choosing object a on images of object d shown with distractor a
    far = np.full((n_obj, n_obj), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for d in range(n_obj):
            far[:, d] = 1 - np.nanmean(t[obj == d], axis=0)  # far[a, d]
    dprime = _z(t, rate_clip) - _z(far[obj], rate_clip)
    dprime[~np.isfinite(t)] = np.nan
    return _normalise(dprime, obj, n_obj)


def i1n(performance: Any, image_objects: Any, *, rate_clip: float = 0.01) -> np.ndarray:
    """Normalised image-level sensitivity I1n (Rajalingham et al. 2018).

    ``d′(i) = Φ⁻¹(HR(i)) − Φ⁻¹(FAR(o_i))``: ``HR(i)`` is the fraction correct on image ``i``
    over distractors, ``FAR(o)`` the rate of choosing ``o`` when it was the distractor; the mean
    over images of the same object is subtracted.

    Parameters
    ----------
    performance, image_objects, rate_clip
        As in :func:`i2n`.

    Returns
    -------
    ndarray, shape (n_images,)

    References
    ----------
    Rajalingham R et al. (2018). J Neurosci 38(33):7255-7269.
    """
    obj, n_obj = _check_objects(image_objects)
    t = _check_table(performance, obj, n_obj)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hr = np.nanmean(t, axis=1)
        far = np.array([1 - np.nanmean(t[obj != o, o]) for o in range(n_obj)])
    dprime = _z(hr, rate_clip) - _z(far[obj], rate_clip)
    return _normalise(dprime[:, None], obj, n_obj)[:, 0]


# ----------------------------------------------------------------------------- consistency
@dataclass
class BehavioralConsistency(Result):
    """Noise-corrected consistency of a model's I1n/I2n with a population's.

    Attributes
    ----------
    value : float
        ``mean r(model half, human half) / sqrt(mean r(model halves) · mean r(human halves))``.
    error, error_kind : float, str
        Standard deviation of the per-split corrected consistency.
    raw : float
        Pearson r of the full-data vectors (uncorrected).
    ceiling : float
        The humans' split-half reliability, Spearman–Brown corrected to the full data (the
        best full-data r a noise-free model could expect).
    model_reliability : float
        The model's split-half reliability, uncorrected (1 for a deterministic table).
    """

    value: float
    error: float
    error_kind: str
    raw: float
    ceiling: float
    model_reliability: float
    metric: str
    ci: tuple[float, float] | None = None


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _trials(trials: Any, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(trials, dict):
        trials = (trials.get("image"), trials.get("distractor"), trials.get("correct"))
    if not isinstance(trials, (tuple, list)) or len(trials) != 3 or any(v is None for v in trials):
        raise TypeError(f"{name} must be trials (image, distractor, correct) as a tuple or a dict with those keys.")
    img, dis, cor = (np.asarray(v) for v in trials)
    return img, dis, cor


def _halves(rng: np.random.Generator, img: np.ndarray, dis: np.ndarray) -> np.ndarray:
    """A random half of the trials, balanced within each (image, distractor) cell."""
    key = img.astype(np.int64) * (int(dis.max()) + 1) + dis
    order = np.lexsort((rng.random(key.size), key))
    rank = np.empty(key.size, dtype=np.int64)
    sorted_key = key[order]
    first = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    pos = np.arange(key.size) - np.repeat(first, np.diff(np.r_[first, key.size]))
    rank[order] = pos
    return rank % 2 == 0


def behavioral_consistency(
    model: Any,
    human_trials: Any,
    image_objects: Any,
    *,
    metric: str = "i2n",
    n_splits: int = 10,
    rate_clip: float = 0.01,
    seed: int = 0,
) -> BehavioralConsistency:
    """Noise-corrected consistency of a model's I1n or I2n with pooled human (or monkey) trials.

    For each of ``n_splits`` random halvings of the trials (balanced within each image ×
    distractor cell), the metric is computed on each half of the humans and of the model; the
    consistency is ``mean r(m_h, h_h) / sqrt(mean r(m_1, m_2) · mean r(h_1, h_2))`` (Pearson r
    over images, or image × distractor pairs; halves matched so that noise levels agree), the
    correction for attenuation of Rajalingham et al. (2018).

    Parameters
    ----------
    model : trials (image, distractor, correct) or array (n_images, n_objects)
        The model's trials, or its fraction-correct table (e.g. choice probabilities): a table
        is deterministic, so its reliability is 1.
    human_trials : tuple or dict (image, distractor, correct)
        Pooled trials of the population (see :func:`performance_table`).
    image_objects : array of int, shape (n_images,)
    metric : {'i2n', 'i1n'}
    n_splits : int
    rate_clip : float
        See :func:`i2n`.
    seed : int

    Returns
    -------
    BehavioralConsistency

    References
    ----------
    Rajalingham R et al. (2018). J Neurosci 38(33):7255-7269.
    """
    funcs = {"i2n": i2n, "i1n": i1n}
    if metric not in funcs:
        raise ValueError(f"The 'metric' parameter of behavioral_consistency() must be one of {set(funcs)}. Got {metric!r} instead.")
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 1:
        raise ValueError(f"n_splits must be a positive integer; got {n_splits!r}.")
    f = funcs[metric]
    obj, _ = _check_objects(image_objects)
    himg, hdis, hcor = _trials(human_trials, "human_trials")
    h_full = f(performance_table(himg, hdis, hcor, obj), obj, rate_clip=rate_clip).ravel()
    table = None if isinstance(model, (tuple, list, dict)) else np.asarray(model, dtype=np.float64)
    if table is not None:
        m_full = f(table, obj, rate_clip=rate_clip).ravel()
    else:
        mimg, mdis, mcor = _trials(model, "model")
        m_full = f(performance_table(mimg, mdis, mcor, obj), obj, rate_clip=rate_clip).ravel()
    rng = numpy_rng(seed, "behavioral-consistency", metric)
    cross, rel_h, rel_m = [], [], []
    for _ in range(n_splits):
        hh = _halves(rng, himg, hdis)
        h = [f(performance_table(himg[s], hdis[s], hcor[s], obj), obj, rate_clip=rate_clip).ravel() for s in (hh, ~hh)]
        if table is None:
            mh = _halves(rng, mimg, mdis)
            m = [f(performance_table(mimg[s], mdis[s], mcor[s], obj), obj, rate_clip=rate_clip).ravel() for s in (mh, ~mh)]
            rel_m.append(_pearson(m[0], m[1]))
        else:
            m = [m_full, m_full]
            rel_m.append(1.0)
        rel_h.append(_pearson(h[0], h[1]))
        cross.append(0.5 * (_pearson(m[0], h[0]) + _pearson(m[1], h[1])))
    cross_a, rh, rm = np.array(cross), np.array(rel_h), np.array(rel_m)
    denom = math.sqrt(max(rh.mean(), 0.0) * max(rm.mean(), 0.0))
    value = cross_a.mean() / denom if denom > 0 else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        per_split = cross_a / np.sqrt(np.clip(rh, 0, None) * np.clip(rm, 0, None))
    error, kind = sd_over(per_split, "split halves")
    ceiling = 2 * rh.mean() / (1 + rh.mean())
    return BehavioralConsistency(float(value), error, kind, _pearson(m_full, h_full), float(ceiling), float(rm.mean()), metric)


# ----------------------------------------------------------------------------- behavioural RSA
@dataclass
class BehavioralRSA(Result):
    """A model RDM compared with per-subject behavioural RDMs.

    Attributes
    ----------
    value : float
        Mean over subjects of the RDM correlation.
    error, error_kind : float, str
        Standard error over subjects.
    per_subject : ndarray, shape (n_subjects,)
    ceiling, ceiling_lower : float
        Nili upper and lower bounds of the subjects.
    normalized : float
        ``value / ceiling``.
    """

    value: float
    error: float
    error_kind: str
    per_subject: np.ndarray
    ceiling: float
    ceiling_lower: float
    normalized: float
    ci: tuple[float, float] | None = None


def behavioral_rsa(model: Any, subject_rdms: Any, *, compare: str = "spearman", rdm_method: str = "correlation") -> BehavioralRSA:
    """Compare a model with per-subject behavioural RDMs, with the subjects' Nili noise ceiling.

    Parameters
    ----------
    model : RDM (n, n), DataArray ('stimulus', 'stimulus_2'), or features (n, n_features)
        A square array whose diagonal is zero and that is symmetric is taken as an RDM; anything
        else as features, turned into an RDM with ``rdm_method``.
    subject_rdms : RDM DataArray (subject, 'stimulus', 'stimulus_2') or array (n_subjects, n, n)
    compare : {'spearman', 'pearson', 'kendall'}
        RDM comparison (the ceiling uses the same).
    rdm_method : str
        See :func:`neurocompare.rdm`.

    Returns
    -------
    BehavioralRSA
        A model equal to the pooled (rank-averaged, for Spearman) subject RDM scores exactly the
        upper bound.

    References
    ----------
    Nili H et al. (2014). PLoS Comput Biol 10(4):e1003553.
    Mur M, Meys M, Bodurka J, Goebel R, Bandettini PA, Kriegeskorte N (2013). Human object-
    similarity judgments reflect and transcend the primate-IT object representation. Front
    Psychol 4:128.
    """
    import xarray as xr
    from scipy import stats

    from neurocompare.similarity import rdm, rsa_noise_ceiling

    if compare not in ("spearman", "pearson", "kendall"):
        raise ValueError(f"The 'compare' parameter of behavioral_rsa() must be one of {{'spearman', 'pearson', 'kendall'}}. Got {compare!r} instead.")
    subj = subject_rdms
    if isinstance(subj, xr.DataArray):
        stack = [d for d in subj.dims if d not in ("stimulus", "stimulus_2")]
        if len(stack) != 1 or "stimulus_2" not in subj.dims:
            raise ValueError(f"subject_rdms must have dims (subject, 'stimulus', 'stimulus_2'); got {subj.dims}.")
        subj_values = np.asarray(subj.transpose(stack[0], "stimulus", "stimulus_2").values, dtype=np.float64)
    else:
        subj_values = np.asarray(subj, dtype=np.float64)
    if subj_values.ndim != 3 or subj_values.shape[1] != subj_values.shape[2] or subj_values.shape[0] < 2:
        raise ValueError(f"subject_rdms must be (n_subjects >= 2, n, n); got shape {subj_values.shape}.")
    n = subj_values.shape[1]
    m = np.asarray(model.values if isinstance(model, xr.DataArray) else model, dtype=np.float64)
    order = None
    if isinstance(model, xr.DataArray) and isinstance(subj, xr.DataArray) and "stimulus_id" in model.coords and "stimulus_id" in subj.coords:
        ids = np.asarray(subj.stimulus_id.values).astype(str)
        pos = {s: i for i, s in enumerate(np.asarray(model.stimulus_id.values).astype(str))}
        missing = [s for s in ids if s not in pos]
        if missing:
            raise ValueError(f"The model lacks {len(missing)} of the subjects' stimuli (e.g. {missing[:3]}); give it every stimulus_id of subject_rdms.")
        order = np.array([pos[s] for s in ids])
        m = m[np.ix_(order, order)] if model.dims[-2:] == ("stimulus", "stimulus_2") else m[order]
    is_rdm = m.ndim == 2 and m.shape == (n, n) and np.allclose(m, m.T) and np.allclose(np.diag(m), 0)
    if not is_rdm:
        if m.ndim != 2 or m.shape[0] != n:
            raise ValueError(f"model must be an RDM ({n}, {n}) or features ({n}, n_features) for the {n} stimuli; got shape {m.shape}.")
        m = np.asarray(rdm(m, rdm_method, float64=True), dtype=np.float64)
    iu = np.triu_indices(n, k=1)
    vecs = subj_values[:, iu[0], iu[1]]
    mv = m[iu]
    if not (np.isfinite(vecs).all() and np.isfinite(mv).all()):
        raise ValueError("The RDMs hold NaN or inf off the diagonal; behavioral_rsa needs complete RDMs.")
    corr = {"spearman": lambda a, b: stats.spearmanr(a, b)[0], "pearson": lambda a, b: np.corrcoef(a, b)[0, 1],
            "kendall": lambda a, b: stats.kendalltau(a, b)[0]}[compare]
    per = np.array([float(corr(mv, v)) for v in vecs])
    ceil = rsa_noise_ceiling(vecs, compare)
    error, kind = sem_over(per, "subjects")
    value = float(per.mean())
    return BehavioralRSA(value, error, kind, per, float(ceil.value), float(ceil.lower), value / float(ceil.value))
