"""Behaviour in Mental-Pong: paddle end-points read out of a system, and how two systems agree.

- :func:`endpoint_readout`: cross-validated ridge predictions of ``y_final`` from features at
  one moment (e.g. the last occluded frame): a model's "paddle placement".
- :func:`endpoint_consistency`: the split-half noise-corrected correlation between two
  systems' end-points across conditions (repetitions of a system give its reliability; a
  deterministic model has reliability 1).
- :func:`residual_consistency`: the same on the errors (end-point minus the true ``y_final``):
  do two systems make the same mistakes, beyond both being right?

References
----------
Rajalingham R, Issa EB, Bashivan P, Kar K, Schmidt K, DiCarlo JJ (2018). Large-scale,
high-resolution comparison of the core visual object recognition behavior of humans, monkeys,
and state-of-the-art deep artificial neural networks. J Neurosci 38:7255 (noise-corrected
behavioural consistency).
Rajalingham R, Piccato A, Jazayeri M (2022). Recurrent neural networks with explicit
representation of dynamic latent variables can mimic behavioral patterns in a physical
inference task. Nat Commun 13:5865 (end-point and residual correlations in Mental-Pong).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurocompare._seeding import numpy_rng
from neurocompare.similarity._ceiling import CeilingResult, noise_corrected_consistency
from neurocompare.similarity._ridge import RidgeMapping

__all__ = ["endpoint_readout", "endpoint_consistency", "residual_consistency"]


def _as_float(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else getattr(a, "values", a), dtype=float)
    return arr


def endpoint_readout(features: Any, y_final: Any, *, n_folds: int = 5, seed: int = 0, alphas: Any = None) -> np.ndarray:
    """Cross-validated ridge read-out of paddle end-points: every condition predicted held out.

    Parameters
    ----------
    features : array (n_conditions, n_features)
        A system's state at the readout moment (e.g. a layer at the last occluded frame).
    y_final : array (n_conditions,)
        True end-points (``conditions.y_final``).
    n_folds : int
        Folds over conditions (random, seeded by ``numpy_rng(seed, "endpoint_folds")``).
    alphas : sequence of float, optional
        Ridge penalty grid (chosen by leave-one-out inside each training fold).

    Returns
    -------
    numpy.ndarray (n_conditions,)
        Held-out predictions.
    """
    x, y = _as_float(features, "features"), _as_float(y_final, "y_final")
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"endpoint_readout needs features (n_conditions, n_features) and y_final (n_conditions,); got shapes "
            f"{x.shape} and {y.shape}."
        )
    if not (2 <= int(n_folds) <= x.shape[0] // 2):
        raise ValueError(f"n_folds must be in [2, n_conditions // 2] = [2, {x.shape[0] // 2}]; got {n_folds!r}.")
    folds = numpy_rng(seed, "endpoint_folds").permutation(x.shape[0]) % int(n_folds)
    pred = np.empty_like(y)
    for f in range(int(n_folds)):
        test = folds == f
        model = RidgeMapping(alphas).fit(x[~test], y[~test, None])
        pred[test] = np.asarray(model.predict(x[test]), dtype=float)[:, 0]
    return pred


def _endpoints(a: Any, name: str) -> np.ndarray:
    arr = _as_float(a, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be end-points (n_conditions,) or (n_conditions, n_repetitions); got shape {arr.shape}.")
    return arr[:, None, :]  # (condition, unit=1, repetition)


def endpoint_consistency(a: Any, b: Any, *, n_splits: int = 10, seed: int = 0) -> CeilingResult:
    """Noise-corrected correlation of two systems' end-points across conditions.

    ``r(a, b) / sqrt(SB(r_a1a2) SB(r_b1b2))`` with split-half reliabilities over repetitions
    (Spearman-Brown corrected); a side without repetitions has reliability 1.

    Parameters
    ----------
    a, b : array (n_conditions,) or (n_conditions, n_repetitions)
        End-points (NaN marks a missing repetition).

    Returns
    -------
    CeilingResult
        ``value`` = mean over reliability splits; 1 for two systems that agree up to their noise.
    """
    x, y = _endpoints(a, "a"), _endpoints(b, "b")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"a and b need the same number of conditions; got {x.shape[0]} and {y.shape[0]}.")
    return noise_corrected_consistency(x, y, n_splits=n_splits, seed=seed)


def residual_consistency(a: Any, b: Any, truth: Any, *, n_splits: int = 10, seed: int = 0) -> CeilingResult:
    """Noise-corrected correlation of two systems' errors (end-point minus ``truth``).

    Parameters
    ----------
    a, b : array (n_conditions,) or (n_conditions, n_repetitions)
    truth : array (n_conditions,)
        The true end-points.

    Returns
    -------
    CeilingResult
        About 0 for systems whose errors are independent, 1 for systems that make the same
        errors (up to their noise).
    """
    t = _as_float(truth, "truth")
    if t.ndim != 1:
        raise ValueError(f"truth must be (n_conditions,); got shape {t.shape}.")
    x, y = _endpoints(a, "a"), _endpoints(b, "b")
    if not (x.shape[0] == y.shape[0] == t.shape[0]):
        raise ValueError(f"a, b and truth need the same number of conditions; got {x.shape[0]}, {y.shape[0]}, {t.shape[0]}.")
    try:
        return noise_corrected_consistency(x - t[:, None, None], y - t[:, None, None], n_splits=n_splits, seed=seed)
    except ValueError as err:
        raise ValueError(
            "The residuals of a or b have no reliable pattern (their split-half reliability is not positive): that "
            "system's errors are repetition noise only, so an error-pattern correlation is undefined. Report the "
            "end-point consistency instead, or record more repetitions."
        ) from err
