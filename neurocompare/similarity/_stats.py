"""Statistics for similarity scores: bootstrap confidence intervals over stimuli, permutation tests.

- :func:`bootstrap` resamples stimuli with replacement. CKA and RSA metrics are recomputed
  without the pairs a resample makes of a stimulus with its own copy (those pairs inflate the
  statistic: ``_resample.py``) and give a percentile interval. Any other measure is recomputed
  on the resampled rows; duplicated rows (and the smaller number of distinct stimuli) shift its
  replicates, for CCA often all of them above the estimate, so its interval is the replicates'
  spread around their median placed around the estimate (``interval='shifted'``), and the shift
  is reported as ``bias``.
- :func:`bootstrap_rdm` does the same directly on two RDMs, dropping the pairs that a resample
  makes of a stimulus with its own copy (their dissimilarity is 0 by construction, not data), as
  rsatoolbox's stimulus bootstrap does.
- :func:`permutation_test` shuffles y's stimulus labels to build the null distribution of "no
  stimulus correspondence"; :func:`permutation_test_rdm` permutes the rows and columns of one RDM
  (Mantel test), which is much cheaper for RSA since the RDMs are computed once.

p-values count the observed ordering as one permutation: ``p = (1 + #{null >= observed}) /
(1 + n_perm)`` (for ``alternative='greater'``), so they are never 0.

References
----------
Efron & Tibshirani (1993). An Introduction to the Bootstrap. Chapman & Hall.
Arcones & Giné (1992). On the bootstrap of U and V statistics. Ann. Statist. 20(2), 655-674.
Nili et al. (2014). A toolbox for representational similarity analysis. PLoS Comput. Biol.
Schuett et al. (2023). Statistical inference on representational geometries. eLife 12, e82566.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(40, 5))
>>> res = permutation_test(x, x + 0.1 * rng.normal(size=(40, 5)), "cka_linear", n_perm=50, seed=0)
>>> res.p_value <= 1 / 51 + 1e-12
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._options import progress_enabled, thread_limit
from neurocompare._result import Result
from neurocompare.data import align
from neurocompare.similarity._metrics import as_metric
from neurocompare.similarity._resample import _compare_raw, _resampled_pairs, pair_free_replicates

__all__ = ["BootstrapResult", "PermutationResult", "bootstrap", "bootstrap_rdm", "permutation_test", "permutation_test_rdm"]


@dataclass
class BootstrapResult(Result):
    """Result of a bootstrap over stimuli.

    Attributes
    ----------
    estimate : float
        The measure on the full data (also ``value``).
    low, high : float
        Percentile confidence interval bounds (also ``ci``).
    level : float
        Confidence level (e.g. 0.95).
    std : float
        Bootstrap standard error (also ``error``).
    samples : numpy array (n_boot,)
        The bootstrap replicates.
    interval : str
        ``'percentile'`` (pair-free replicates of CKA/RSA, or :func:`bootstrap_rdm`) or
        ``'shifted'`` (row-resampled replicates: their quantiles minus their median, plus the
        estimate).
    bias : float
        Mean replicate minus the estimate: how far resampling itself moves the measure (large
        for CCA-type measures on few stimuli; a warning sign about the estimate, too).
    """

    estimate: float
    low: float
    high: float
    level: float
    std: float
    samples: np.ndarray = field(repr=False)
    interval: str = "percentile"
    bias: float = float("nan")

    @property
    def value(self) -> float:
        return self.estimate

    @property
    def error(self) -> float:
        return self.std

    @property
    def error_kind(self) -> str:
        return f"bootstrap sd ({self.samples.size} resamples, {self.interval} interval)"

    @property
    def ci(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass
class PermutationResult(Result):
    """Result of a permutation test.

    Attributes
    ----------
    statistic : float
        The measure on the unpermuted data.
    p_value : float
        ``(1 + #{null at least as extreme}) / (1 + n_perm)``.
    null : numpy array (n_perm,)
        The null distribution.
    alternative : str
    """

    statistic: float
    p_value: float
    null: np.ndarray = field(repr=False)
    alternative: str = "greater"

    @property
    def value(self) -> float:
        return self.statistic

    @property
    def error(self) -> float:
        return float("nan")

    @property
    def error_kind(self) -> str:
        return "none (a test statistic; see p_value)"

    @property
    def ci(self) -> None:
        return None


def _few_threads(n_elements: int):
    """One thread for many tiny kernels (below ~1e6 elements thread start-up dominates), else the option."""
    return thread_limit(1 if n_elements < 1_000_000 else None)


def _size(*arrays: Any) -> int:
    return int(sum(np.prod(getattr(a, "shape", (0,))) for a in arrays))


def _metric(metric: str | Callable[..., float]) -> Callable[..., float]:
    return as_metric(metric)


def _quiet(progress: bool) -> bool:
    return not progress_enabled(progress)


def _rows(a: Any):
    """2-D numpy/torch rows view (stimulus first); Responses become numpy arrays."""
    if isinstance(a, xr.DataArray):
        return np.asarray(a.values)
    return a


def _check_n(n: int, what: str, minimum: int) -> None:
    if int(n) < minimum:
        raise ValueError(f"{what} must be at least {minimum}; got {n}.")


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _pair_arrays(x: Any, y: Any):
    if isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray):
        x, y = align(x, y)
    x, y = _rows(x), _rows(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} stimuli but y has {y.shape[0]}; pass one row per stimulus each.")
    return x, y


def _summarise(estimate: float, samples: np.ndarray, ci: float, n_failed: int, interval: str = "percentile") -> BootstrapResult:
    if n_failed > len(samples) // 2:
        raise ValueError(
            f"{n_failed} of {len(samples) + n_failed} bootstrap resamples gave an undefined score "
            "(too few distinct stimuli?). Use more stimuli."
        )
    levels = np.array([(1 - ci) / 2, (1 + ci) / 2])
    lo, hi = np.quantile(samples, levels)
    if interval == "shifted":
        centre = float(np.median(samples))
        lo, hi = estimate + (lo - centre), estimate + (hi - centre)
    bias = float(np.mean(samples) - estimate)
    return BootstrapResult(float(estimate), float(lo), float(hi), ci, float(np.std(samples, ddof=1)), samples, interval, bias)


def bootstrap(
    x: Any,
    y: Any,
    metric: str | Callable[..., float] = "cka_linear",
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    progress: bool = True,
    **params: Any,
) -> BootstrapResult:
    """Bootstrap confidence interval of a similarity measure, resampling stimuli.

    Parameters
    ----------
    x, y : Responses with dims ('stimulus', 'unit'), arrays or tensors (n_stimuli, n_units)
    metric : str or callable
        A name in ``METRICS`` or a function ``(x, y, **params) -> float``.
    n_boot : int
        Number of resamples (>= 10).
    ci : float
        Confidence level of the percentile interval.
    seed : int or numpy Generator
    progress : bool
        tqdm bar (silent with ``NEUROCOMPARE_QUIET=1``).
    **params
        Passed to the metric (``device=``, ``float64=``, ...).

    Returns
    -------
    BootstrapResult

    Notes
    -----
    Resampling with replacement repeats stimuli, and a pair of copies of one stimulus looks like
    perfect agreement to any pairwise measure. CKA metrics (kernels computed once; RBF with the
    full data's bandwidth) and RSA metrics (RDMs computed once; not ``'wuc'``) therefore leave
    those pairs out of every replicate (percentile interval, ``interval='percentile'``). Other
    measures are recomputed on the resampled rows; their interval is the replicates' spread placed
    around the estimate (``interval='shifted'``) and ``bias`` reports how far resampling moved
    them. Resamples whose score is undefined (raise ValueError, e.g. a constant
    resample) are dropped and counted; more than half failing raises.
    """
    from tqdm.auto import tqdm

    _check_n(n_boot, "n_boot", 10)
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1; got {ci}.")
    m = _metric(metric)
    x, y = _pair_arrays(x, y)
    route = pair_free_replicates(m, x, y, params)
    if route is not None:
        estimate, replicate = route
        interval = "percentile"
    else:
        estimate = m(x, y, **params)
        replicate = lambda idx: m(x[idx], y[idx], **params)  # noqa: E731
        interval = "shifted"
    rng = _rng(seed)
    n = x.shape[0]
    samples, failed = [], 0
    with _few_threads(_size(x, y)):
        for _ in tqdm(range(n_boot), desc="bootstrap", disable=_quiet(progress)):
            idx = rng.integers(0, n, n)
            if np.unique(idx).size < 4:
                failed += 1
                continue
            try:
                samples.append(replicate(idx))
            except ValueError:
                failed += 1
    return _summarise(estimate, np.asarray(samples), ci, failed, interval)


def _rdm_square(r: Any) -> tuple[np.ndarray, np.ndarray | None]:
    from scipy.spatial.distance import squareform

    from neurocompare.similarity._rdm import rdm_vector

    vec, ids = rdm_vector(r, float64=True)
    if vec.dim() != 1:
        raise ValueError("Pass single RDMs (not stacks) to the RDM bootstrap/permutation functions.")
    return squareform(vec.cpu().numpy(), checks=False), ids


def _rdm_pair(a: Any, b: Any):
    from neurocompare.similarity._rsa import _align_rdms

    a, b = _align_rdms(a, b)
    da, _ = _rdm_square(a)
    db, _ = _rdm_square(b)
    if da.shape != db.shape:
        raise ValueError(f"The RDMs have different sizes {da.shape} and {db.shape}; compare RDMs of the same stimuli.")
    return da, db


def bootstrap_rdm(
    a: Any,
    b: Any,
    method: str = "spearman",
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    progress: bool = True,
) -> BootstrapResult:
    """Bootstrap CI of an RDM comparison, resampling stimuli and dropping self-pairs.

    Parameters
    ----------
    a, b : RDM DataArrays, square arrays (n, n) or condensed vectors of the same stimuli
    method : str
        Any :func:`neurocompare.similarity.compare_rdms` method.
    n_boot, ci, seed, progress
        As in :func:`bootstrap`.

    Returns
    -------
    BootstrapResult
    """
    from tqdm.auto import tqdm

    from neurocompare.similarity._rsa import compare_rdms

    _check_n(n_boot, "n_boot", 10)
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1; got {ci}.")
    if method == "wuc":
        raise ValueError("The whitened unbiased cosine needs complete RDMs; bootstrap it with bootstrap(x, y, 'rsa_wuc').")
    da, db = _rdm_pair(a, b)
    estimate = compare_rdms(da, db, method)
    rng = _rng(seed)
    n = da.shape[0]
    samples, failed = [], 0
    with _few_threads(da.size):
        for _ in tqdm(range(n_boot), desc="RDM bootstrap", disable=_quiet(progress)):
            idx = rng.integers(0, n, n)
            if np.unique(idx).size < 4:
                failed += 1
                continue
            va, vb = _resampled_pairs(da, idx), _resampled_pairs(db, idx)
            try:
                samples.append(_compare_raw(va, vb, method))
            except ValueError:
                failed += 1
    return _summarise(estimate, np.asarray(samples), ci, failed)


def _p_value(stat: float, null: np.ndarray, alternative: str) -> float:
    if alternative == "greater":
        extreme = np.sum(null >= stat - 1e-12 * abs(stat))
    elif alternative == "less":
        extreme = np.sum(null <= stat + 1e-12 * abs(stat))
    elif alternative == "two-sided":
        centre = np.mean(null)
        extreme = np.sum(np.abs(null - centre) >= abs(stat - centre) - 1e-12 * abs(stat))
    else:
        raise ValueError(
            f"The 'alternative' parameter must be one of {{'greater', 'less', 'two-sided'}}. Got {alternative!r} instead."
        )
    return float((1 + extreme) / (1 + null.size))


def permutation_test(
    x: Any,
    y: Any,
    metric: str | Callable[..., float] = "cka_linear",
    *,
    n_perm: int = 1000,
    alternative: str = "greater",
    seed: int | np.random.Generator | None = 0,
    progress: bool = True,
    **params: Any,
) -> PermutationResult:
    """Permutation test of stimulus correspondence: shuffle y's rows and recompute the measure.

    Parameters
    ----------
    x, y : Responses, arrays or tensors (n_stimuli, n_units)
    metric : str or callable
        A name in ``METRICS`` or ``(x, y, **params) -> float``. For similarity measures use
        ``alternative='greater'``; for distances (procrustes, shape) use ``'less'``.
    n_perm : int
        Number of permutations (>= 10).
    alternative : {'greater', 'less', 'two-sided'}
    seed, progress, **params
        As in :func:`bootstrap`.

    Returns
    -------
    PermutationResult
    """
    from tqdm.auto import tqdm

    _check_n(n_perm, "n_perm", 10)
    _p_value(0.0, np.zeros(1), alternative)  # validates 'alternative' before any work
    fn = _metric(metric)
    x, y = _pair_arrays(x, y)
    stat = fn(x, y, **params)
    rng = _rng(seed)
    n = x.shape[0]
    null = np.empty(n_perm)
    with _few_threads(_size(x, y)):
        for k in tqdm(range(n_perm), desc="permutations", disable=_quiet(progress)):
            null[k] = fn(x, y[rng.permutation(n)], **params)
    return PermutationResult(float(stat), _p_value(stat, null, alternative), null, alternative)


def permutation_test_rdm(
    a: Any,
    b: Any,
    method: str = "spearman",
    *,
    n_perm: int = 1000,
    alternative: str = "greater",
    seed: int | np.random.Generator | None = 0,
    progress: bool = True,
) -> PermutationResult:
    """Mantel-style permutation test of an RDM comparison: permute b's stimuli (rows and columns).

    Parameters
    ----------
    a, b : RDM DataArrays, square arrays (n, n) or condensed vectors of the same stimuli
    method : str
        Any :func:`neurocompare.similarity.compare_rdms` method.
    n_perm, alternative, seed, progress
        As in :func:`permutation_test`.

    Returns
    -------
    PermutationResult
    """
    import torch
    from tqdm.auto import tqdm

    from neurocompare.similarity._rsa import _compare_vectors, compare_rdms

    _check_n(n_perm, "n_perm", 10)
    _p_value(0.0, np.zeros(1), alternative)
    da, db = _rdm_pair(a, b)
    stat = compare_rdms(da, db, method)
    rng = _rng(seed)
    n = da.shape[0]
    iu = np.triu_indices(n, 1)
    va = torch.as_tensor(da[iu], dtype=torch.float64)[None]
    null = np.empty(n_perm)
    batch = 64
    done = 0
    bar = tqdm(total=n_perm, desc="RDM permutations", disable=_quiet(progress))
    while done < n_perm:
        k = min(batch, n_perm - done)
        perms = [rng.permutation(n) for _ in range(k)]
        vb = torch.as_tensor(np.stack([db[p][:, p][iu] for p in perms]), dtype=torch.float64)
        null[done : done + k] = _compare_vectors(va, vb, method)[0]
        done += k
        bar.update(k)
    bar.close()
    return PermutationResult(float(stat), _p_value(stat, null, alternative), null, alternative)
