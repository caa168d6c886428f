"""Mutual information in the information plane: ``I(X; T)`` and ``I(T; Y)`` of a layer ``T``.

A deterministic network makes ``T = h(X)`` a function of the input, so ``I(X; T) = H(T)`` is
infinite for continuous activations; every estimate is the information of a *noisy or
discretised* ``T``, and the answer depends on that choice. Two estimators:

- :func:`binned_mutual_information` discretises each unit into ``n_bins`` bins and counts the
  distinct patterns. The bin range is a **required, named** argument, because the original code
  binned every layer in a fixed ``[-1, 1]``: right for tanh units, but for ReLU units, whose
  activity grows without bound, every value above 1 falls into the top bin, and the estimate
  saturates or collapses for reasons that have nothing to do with learning (Saxe et al. 2018).
  ``value_range=(-1, 1)`` reproduces the original; ``"per_layer"`` spans each layer's observed
  min..max; ``"adaptive"`` uses equal-mass (quantile) bins of the layer's pooled values.
- :func:`kde_mutual_information` adds Gaussian noise of variance ``σ²`` to ``T`` and bounds the
  information of that noisy layer from above (pairwise KL) and below (pairwise Bhattacharyya
  distances) (Kolchinsky & Tracey 2017), as Saxe et al. did.

Rows are samples drawn from ``p(x)`` (for the 12-bit task, all 4,096 inputs once each, equally
likely); all quantities are in **bits**.

References
----------
Shwartz-Ziv & Tishby (2017) Opening the black box of deep neural networks via information.
arXiv:1703.00810.
Saxe, Bansal, Dapello, Advani, Kolchinsky, Tracey & Cox (2018) On the information bottleneck
theory of deep learning. ICLR.
Kolchinsky & Tracey (2017) Estimating mixture entropy with pairwise distances. Entropy 19(7):361.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurocompare._result import Result

__all__ = ["binned_mutual_information", "kde_mutual_information", "BinnedInformation", "KDEInformation",
           "VALUE_RANGES"]

VALUE_RANGES = ("per_layer", "adaptive")


@dataclass
class BinnedInformation(Result):
    """Binned estimate of one layer's position in the information plane (bits).

    ``value`` is ``I(X; T)``; ``i_ty`` is ``I(T; Y)``; ``h_y`` the label entropy (the ceiling of
    ``i_ty``); ``clipped`` the fraction of activations that fell outside a fixed range and were
    put in the end bins (the saturation trap); ``edges`` the bin edges used.
    """

    value: float
    i_ty: float
    h_y: float
    n_bins: int
    value_range: str
    clipped: float
    edges: tuple[float, ...]
    error: float = float("nan")
    error_kind: str = "none"
    ci: tuple[float, float] | None = None

    @property
    def i_xt(self) -> float:
        """``I(X; T)`` in bits (the same as ``value``)."""
        return self.value


@dataclass
class KDEInformation(Result):
    """Kernel-density bounds on the information of the noisy layer ``T + N(0, σ² I)`` (bits).

    ``value`` is the upper bound on ``I(X; T)``; ``i_xt_lower`` the lower bound; ``i_ty_upper`` and
    ``i_ty_lower`` the same estimators applied to ``I(T; Y) = I(X; T) - Σ_y p(y) I(X; T | y)``
    (differences of bounds, so not themselves guaranteed bounds). ``ci`` is
    ``(i_xt_lower, i_xt_upper)``: the interval that contains ``I(X; T)``.
    """

    value: float
    i_xt_lower: float
    i_ty_upper: float
    i_ty_lower: float
    noise_variance: float
    error: float = float("nan")
    error_kind: str = "none"
    ci: tuple[float, float] | None = None

    @property
    def i_xt_upper(self) -> float:
        return self.value


def _as_2d(activations: Any, labels: Any, fname: str) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(activations, "detach"):
        activations = activations.detach().cpu().numpy()
    a = np.asarray(activations, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{fname}() needs activations of dims (sample, unit); got shape {a.shape}. Flatten "
                         "convolutional maps with a.reshape(len(a), -1).")
    if not np.isfinite(a).all():
        raise ValueError(f"{fname}(): the activations contain NaN or infinite values; check the model.")
    if hasattr(labels, "detach"):
        labels = labels.detach().cpu().numpy()
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != a.shape[0]:
        raise ValueError(f"{fname}() needs labels of dims (sample,) matching the {a.shape[0]} activation rows; got "
                         f"shape {y.shape}.")
    return a, y


def _entropy_bits(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0


def _pattern_ids(binned: np.ndarray) -> np.ndarray:
    return np.unique(binned, axis=0, return_inverse=True)[1].reshape(-1)


def binned_mutual_information(activations: Any, labels: Any, n_bins: int = 30, *,
                              value_range: tuple[float, float] | str) -> BinnedInformation:
    """``I(X; T)`` and ``I(T; Y)`` of a layer by binning every unit (plug-in entropies, bits).

    Each unit's value is put in one of ``n_bins`` bins; a sample's pattern is its vector of bin
    indices. Since ``T`` is a deterministic function of ``X``, ``I(X; T) = H(T)``, the entropy of
    the patterns over the rows; ``I(T; Y) = H(T) - Σ_y p(y) H(T | Y = y)``.

    Parameters
    ----------
    activations : array or tensor of dims (sample, unit)
        One layer's activity, a row per input (inputs equally likely; a 1-D array is one unit).
    labels : array of dims (sample,)
        Discrete labels.
    n_bins : int
        Bins per unit (Shwartz-Ziv & Tishby: 30).
    value_range : (low, high), 'per_layer' or 'adaptive'
        **Required.** ``(low, high)``: equal-width bins on that interval, values outside it
        clipped into the end bins (``(-1, 1)`` is the original code's choice, meant for tanh).
        ``'per_layer'``: equal-width bins on this layer's min..max. ``'adaptive'``: equal-mass
        bins, edges at the quantiles of the layer's pooled values.

    Returns
    -------
    BinnedInformation
        ``value`` = ``I(X; T)``, ``i_ty``, ``h_y``, ``clipped``, ``edges``.

    Raises
    ------
    ValueError
        Bad shapes, non-finite activations, ``n_bins < 2`` or an unknown or empty range.

    References
    ----------
    Shwartz-Ziv & Tishby (2017) arXiv:1703.00810; Saxe et al. (2018) ICLR.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [0.0], [1.0], [1.0]]); y = np.array([0, 0, 1, 1])
    >>> r = binned_mutual_information(x, y, 2, value_range=(0, 1))
    >>> r.i_xt, r.i_ty
    (1.0, 1.0)
    """
    a, y = _as_2d(activations, labels, "binned_mutual_information")
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise ValueError(f"'n_bins' must be an integer >= 2; got {n_bins!r}.")
    clipped = 0.0
    if isinstance(value_range, str):
        if value_range not in VALUE_RANGES:
            raise ValueError(f"The 'value_range' parameter of binned_mutual_information() must be a (low, high) "
                             f"pair or one of {set(VALUE_RANGES)}. Got {value_range!r} instead.")
        if value_range == "per_layer":
            lo, hi = float(a.min()), float(a.max())
            edges = np.linspace(lo, hi, n_bins + 1) if hi > lo else np.array([lo, lo])
        else:
            edges = np.unique(np.quantile(a.reshape(-1), np.linspace(0.0, 1.0, n_bins + 1)))
        label = value_range
    else:
        try:
            lo, hi = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(f"'value_range' must be a (low, high) pair of numbers, 'per_layer' or 'adaptive'; got "
                             f"{value_range!r}.") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"'value_range' must satisfy low < high (finite); got ({lo}, {hi}).")
        edges = np.linspace(lo, hi, n_bins + 1)
        clipped = float(np.mean((a < lo) | (a > hi)))
        label = f"({lo:g}, {hi:g})"
    # interior edges; a value on an edge goes to the upper bin, the top edge to the last bin
    binned = np.searchsorted(edges[1:-1], a, side="right") if edges.size > 2 else np.zeros(a.shape, dtype=np.int64)
    ids = _pattern_ids(binned)
    h_t = _entropy_bits(np.bincount(ids))
    classes, yid = np.unique(y, return_inverse=True)
    py = np.bincount(yid) / y.size
    h_t_given_y = float(sum(py[c] * _entropy_bits(np.bincount(ids[yid == c])) for c in range(classes.size)))
    return BinnedInformation(value=h_t, i_ty=float(max(h_t - h_t_given_y, 0.0)), h_y=_entropy_bits(np.bincount(yid)),
                             n_bins=int(n_bins), value_range=label, clipped=clipped,
                             edges=tuple(float(e) for e in edges))


def _pairwise_bounds_nats(a: np.ndarray, scales: tuple[float, ...], chunk: int = 1024) -> list[float]:
    """``-mean_i log mean_j exp(-|a_i - a_j|² / scale)`` (nats) for each scale, in float64 row blocks."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    n = t.shape[0]
    sq = (t * t).sum(1)
    totals = [0.0] * len(scales)
    for start in range(0, n, chunk):
        blk = t[start : start + chunk]
        d2 = (sq[start : start + chunk, None] + sq[None, :] - 2.0 * blk @ t.T).clamp_min_(0.0)
        for k, scale in enumerate(scales):
            totals[k] -= float((torch.logsumexp(d2 / -scale, dim=1) - math.log(n)).sum())
    return [v / n for v in totals]


def kde_mutual_information(activations: Any, labels: Any, noise_variance: float = 0.1) -> KDEInformation:
    """Pairwise-distance bounds on the information of a noisy layer ``T + N(0, σ² I)`` (bits).

    With ``T = h(X) + ε``, ``ε ~ N(0, σ² I)``, ``p(t)`` is a mixture of Gaussians centred on the
    rows, and (Kolchinsky & Tracey 2017, eqs. for KL and Bhattacharyya distances)::

        -mean_i log mean_j exp(-|h_i - h_j|² / (8σ²))  <=  I(X; T)  <=  -mean_i log mean_j exp(-|h_i - h_j|² / (2σ²)).

    ``I(T; Y)`` is estimated as ``I(X; T) - Σ_y p(y) I(X; T | Y = y)`` with the same bound inside
    each class (as Saxe et al. did; a difference of bounds, not a bound).

    Parameters
    ----------
    activations : array or tensor of dims (sample, unit)
    labels : array of dims (sample,)
    noise_variance : float
        ``σ²`` (Saxe et al.: 0.1). The estimate is of the noisy layer, and scales with it.

    Returns
    -------
    KDEInformation
        ``value`` = upper bound on ``I(X; T)``; ``i_xt_lower``; ``i_ty_upper``, ``i_ty_lower``.

    Raises
    ------
    ValueError
        Bad shapes, non-finite activations, or ``noise_variance <= 0``.

    References
    ----------
    Kolchinsky & Tracey (2017) Estimating mixture entropy with pairwise distances. Entropy 19:361.
    Saxe et al. (2018) On the information bottleneck theory of deep learning. ICLR.
    """
    a, y = _as_2d(activations, labels, "kde_mutual_information")
    if not (isinstance(noise_variance, (int, float)) and math.isfinite(noise_variance) and noise_variance > 0):
        raise ValueError(f"'noise_variance' must be a positive number; got {noise_variance!r}.")
    ln2 = math.log(2.0)
    scales = (2.0 * noise_variance, 8.0 * noise_variance)  # KL (upper), Bhattacharyya (lower)
    ixt = _pairwise_bounds_nats(a, scales)
    classes, yid = np.unique(y, return_inverse=True)
    py = np.bincount(yid) / y.size
    cond = [0.0, 0.0]
    for c in range(classes.size):
        within = _pairwise_bounds_nats(a[yid == c], scales)
        cond = [cond[k] + py[c] * within[k] for k in range(2)]
    out = {name: (ixt[k] / ln2, float(ixt[k] - cond[k]) / ln2) for k, name in enumerate(("upper", "lower"))}
    return KDEInformation(value=out["upper"][0], i_xt_lower=out["lower"][0], i_ty_upper=out["upper"][1],
                          i_ty_lower=out["lower"][1], noise_variance=float(noise_variance),
                          ci=(out["lower"][0], out["upper"][0]))
