"""Representational dissimilarity matrices (RDMs).

An RDM holds, for every pair of stimuli, how differently a system responds to them. This module
computes RDMs from responses with torch kernels that run on CPU or CUDA:

========================  =========================================================================
method                    dissimilarity between stimulus patterns ``a`` and ``b`` (rows of x)
========================  =========================================================================
``'correlation'``         ``1 - pearson_r(a, b)`` (patterns centred and normalised over units)
``'cosine'``              ``1 - a.b / (|a| |b|)``
``'euclidean'``           ``|a - b|``
``'sqeuclidean'``         ``|a - b|**2``
``crossnobis_rdm``        cross-validated squared Mahalanobis distance per unit, over repetitions
========================  =========================================================================

What comes back depends on what goes in (documented once here, used everywhere):

- ``Responses`` in -> an RDM ``DataArray`` (``neurocompare.make_rdm``) with the stimulus ids.
- a numpy array in -> a numpy ``(n, n)`` array, or the condensed upper-triangle vector of length
  ``n * (n - 1) / 2`` (``scipy.spatial.distance.squareform`` order) with ``condensed=True``.
- a torch tensor in -> a torch tensor (same rule for ``condensed``), on ``device``.

Scale conventions: ``'sqeuclidean'`` is the plain squared distance. rsatoolbox's ``'euclidean'``
RDM divides the squared distance by the number of units; divide ours by ``x.shape[1]`` to match.
The crossnobis RDM is divided by the number of units, as in rsatoolbox and Walther et al. (2016).

The Gram matrix ``x @ x.T`` is formed block by block over its upper triangle (about half the
multiply-adds of a plain product) and never as a units-by-units matrix.

References
----------
Kriegeskorte, Mur & Bandettini (2008). Representational similarity analysis - connecting the
branches of systems neuroscience. Front. Syst. Neurosci. 2:4.
Walther, Nili, Ejaz, Alink, Kriegeskorte & Diedrichsen (2016). Reliability of dissimilarity
measures for multi-voxel pattern analysis. NeuroImage 137, 188-200.
Ledoit & Wolf (2004). A well-conditioned estimator for large-dimensional covariance matrices.
J. Multivar. Anal. 88, 365-411.
Schaefer & Strimmer (2005). A shrinkage approach to large-scale covariance matrix estimation.
Stat. Appl. Genet. Mol. Biol. 4(1).

Examples
--------
>>> import numpy as np
>>> x = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0], [0.0, 1.0]])
>>> d = rdm(x, "euclidean")
>>> float(d[0, 1]), float(d[1, 2])
(5.0, 5.0)
>>> rdm(x, "euclidean", condensed=True).shape
(6,)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from neurocompare.data import check_rdm, check_responses, make_rdm
from neurocompare.similarity._common import check_memory, compute_dtype, resolve_device
from neurocompare.typing import ResponsesLike

__all__ = [
    "RDM_METHODS",
    "rdm",
    "crossnobis_rdm",
    "noise_precision",
    "condense",
    "squareform_torch",
    "rdm_vector",
    "rdm_torch",
]

RDM_METHODS = ("correlation", "cosine", "euclidean", "sqeuclidean")
NOISE_METHODS = ("shrinkage_diag", "shrinkage_eye", "diag", "full", "identity")


# ----------------------------------------------------------------------------- inputs
def _matrix(x: Any, name: str, device: Any, float64: bool | None, **kw: Any):
    """``_common.as_matrix`` with the measures' minimum of stimuli (``centre``/``rescale`` passed on)."""
    from neurocompare.similarity._common import as_matrix

    return as_matrix(x, name=name, device=device, float64=float64, **kw)


def pair(x: Any, y: Any, *, device: Any = None, float64: bool | None = None, centre: str | None = None, rescale: bool = False):
    """Align two inputs on ``stimulus_id`` and convert them (``_common.as_pair``; same errors).

    Returns
    -------
    x, y : torch.Tensor, shapes (n_stimuli, n_features_x), (n_stimuli, n_features_y)
    """
    from neurocompare.similarity._common import as_pair

    return as_pair(x, y, device=device, float64=float64, centre=centre, rescale=rescale)


# ----------------------------------------------------------------------------- kernels
def sym_gram(a, *, block: int | None = None):
    """Return ``a @ a.T`` computed over the upper-triangle blocks only.

    Parameters
    ----------
    a : torch.Tensor, shape (n, d)
    block : int, optional
        Rows per block. Default: one plain product for n < 512, else blocks of about 256 rows
        (the symmetric saving approaches one half as blocks get smaller; 256-row products still
        run near GEMM speed).

    Returns
    -------
    torch.Tensor, shape (n, n), exactly symmetric.
    """
    import torch

    n = a.shape[0]
    if block is None:
        block = n if n < 512 else math.ceil(n / math.ceil(n / 256))
    if block >= n:
        g = a @ a.T
        return (g + g.T) * 0.5
    g = torch.empty((n, n), dtype=a.dtype, device=a.device)
    starts = list(range(0, n, block))
    for i in starts:
        ai = a[i : i + block]
        for j in starts:
            if j < i:
                continue
            blk = ai @ a[j : j + block].T
            if i == j:
                blk = (blk + blk.T) * 0.5
                g[i : i + block, j : j + block] = blk
            else:
                g[i : i + block, j : j + block] = blk
                g[j : j + block, i : i + block] = blk.T
    return g


def condense(d):
    """Upper triangle (without diagonal) of a square RDM as a vector, in ``squareform`` order.

    Built row by row into one preallocated vector: no triangle-index arrays (two int64 arrays
    of n(n-1)/2 entries each would take 2-4x the memory of the square RDM itself).

    Parameters
    ----------
    d : numpy array or torch tensor, shape (n, n) or (k, n, n)

    Returns
    -------
    Same type, shape (n * (n - 1) / 2,) or (k, n * (n - 1) / 2).
    """
    n = d.shape[-1]
    m = n * (n - 1) // 2
    if hasattr(d, "detach"):
        out = d.new_empty(d.shape[:-2] + (m,))
    else:
        d = np.asarray(d)
        out = np.empty(d.shape[:-2] + (m,), dtype=d.dtype)
    start = 0
    for i in range(n - 1):
        stop = start + n - 1 - i
        out[..., start:stop] = d[..., i, i + 1 :]
        start = stop
    return out


def squareform_torch(v):
    """Condensed vector(s) ``(..., m)`` -> square symmetric matrices ``(..., n, n)`` (torch; no index arrays)."""
    import torch

    m = v.shape[-1]
    n = _n_from_condensed(m)
    out = torch.zeros(v.shape[:-1] + (n, n), dtype=v.dtype, device=v.device)
    start = 0
    for i in range(n - 1):
        stop = start + n - 1 - i
        out[..., i, i + 1 :] = v[..., start:stop]
        out[..., i + 1 :, i] = v[..., start:stop]
        start = stop
    return out


def _n_from_condensed(m: int) -> int:
    n = int(round((1 + math.sqrt(1 + 8 * m)) / 2))
    if n * (n - 1) // 2 != m:
        raise ValueError(
            f"A condensed RDM vector has length n*(n-1)/2 for some n; got length {m}. "
            "Pass the upper triangle of a square RDM (scipy.spatial.distance.squareform order)."
        )
    return n


#: The centring each RDM method is invariant to (removed before a float32 cast, see _common).
CENTRE_FOR = {"correlation": "scalar", "cosine": None, "euclidean": "columns", "sqeuclidean": "columns"}


def _rdm_kernel(x, method: str):
    """Square RDM (n, n) from a float tensor x (n, d); identical rows get exactly equal distances.

    The RDM is computed on the distinct rows and expanded, so that duplicated stimuli are at
    distance exactly 0 from each other and exactly tied in their distances to every other
    stimulus (a Gram-matrix route alone leaves rounding-level differences that break ranks).
    """
    import torch

    if method not in RDM_METHODS:
        raise ValueError(f"The 'method' parameter of rdm() must be one of {set(RDM_METHODS)}. Got {method!r} instead.")
    found = _duplicate_rows(x)
    if found is None:
        return _rdm_distinct(x, method)
    uniq, inv = found
    if uniq.shape[0] < 2:
        raise ValueError(f"All {x.shape[0]} stimuli have identical responses; an RDM of them is all zeros and compares with nothing.")
    d = _rdm_distinct(uniq, method)
    return d[inv][:, inv]


def _duplicate_rows(x):
    """``(distinct_rows, inverse)`` when some rows of x (n, d) are identical, else None.

    Rows are hashed by two O(n d) reductions (a plain sum and a seeded random projection; equal rows
    give equal hashes); only rows with equal hashes are compared exactly, so inputs without
    duplicates cost no sort of (n, d) rows.
    """
    import torch

    gen = torch.Generator(device="cpu").manual_seed(12)
    r = torch.rand(x.shape[1], generator=gen, dtype=torch.float64).to(x.device, x.dtype) + 0.5
    keys = torch.stack([x.sum(1), (x * r).sum(1)], 1).cpu().double().numpy()
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    if counts.max() == 1:
        return None
    uniq, inv = torch.unique(x, dim=0, return_inverse=True)  # exact (collisions of the hashes included)
    return (uniq, inv) if uniq.shape[0] < x.shape[0] else None


def _rdm_distinct(x, method: str):
    """Square RDM (n, n) of a float tensor x (n, d) whose rows are distinct."""
    import torch

    if method in ("correlation", "cosine"):
        a = x - x.mean(dim=1, keepdim=True) if method == "correlation" else x
        norms = torch.linalg.vector_norm(a, dim=1)
        tiny = torch.finfo(a.dtype).tiny ** 0.5
        bad = torch.nonzero(norms <= tiny * max(1.0, float(norms.max()))).flatten()
        if bad.numel():
            what = "has zero variance across units" if method == "correlation" else "is all zeros"
            raise ValueError(
                f"{method} distance is undefined: {bad.numel()} stimulus pattern(s) {what} "
                f"(rows {bad[:5].tolist()}). Drop those stimuli, or use method='euclidean'."
            )
        a = a.div_(norms[:, None]) if a is not x else a / norms[:, None]  # in place on our own copy
        d = sym_gram(a).neg_().add_(1.0).clamp_(min=0.0, max=2.0)
    elif method in ("euclidean", "sqeuclidean"):
        a = x - x.mean(dim=0, keepdim=True)  # distances are translation invariant; improves accuracy
        sq = (a * a).sum(dim=1)
        d = sq[:, None] + sq[None, :] - 2.0 * sym_gram(a)
        d = d.clamp_(min=0.0)
        if method == "euclidean":
            d = d.sqrt_()
    d.fill_diagonal_(0.0)
    return d


def rdm_torch(x, method: str = "correlation"):
    """Differentiable square RDM (n, n) of a torch tensor ``x`` (n_stimuli, n_features), for training objectives.

    Same definitions as :func:`rdm` (``'correlation'``: 1 - Pearson r across features;
    ``'cosine'``; ``'euclidean'``; ``'sqeuclidean'``), computed out of place so gradients flow
    to ``x``. Works on any device and dtype; no validation beyond the method name.
    """
    import torch

    if method in ("correlation", "cosine"):
        a = x - x.mean(dim=1, keepdim=True) if method == "correlation" else x
        a = a / torch.linalg.vector_norm(a, dim=1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny ** 0.5)
        d = (1.0 - a @ a.T).clamp(0.0, 2.0)
    elif method in ("euclidean", "sqeuclidean"):
        a = x - x.mean(dim=0, keepdim=True)
        sq = (a * a).sum(dim=1)
        d = (sq[:, None] + sq[None, :] - 2.0 * (a @ a.T)).clamp_min(0.0)
        if method == "euclidean":
            d = (d + torch.eye(d.shape[0], dtype=d.dtype, device=d.device)).sqrt()  # no sqrt'(0) on the diagonal
    else:
        raise ValueError(f"The 'method' parameter of rdm_torch() must be one of {set(RDM_METHODS)}. Got {method!r} instead.")
    return d * (1.0 - torch.eye(d.shape[0], dtype=d.dtype, device=d.device))


def _output(d, template: Any, condensed: bool, ids, attrs: dict):
    """Convert a torch RDM to the type documented in the module docstring."""
    if isinstance(template, xr.DataArray):
        arr = d.detach().cpu().numpy().astype(np.float64)
        return make_rdm(arr, stimulus_ids=ids, **attrs)
    if hasattr(template, "detach"):
        return condense(d) if condensed else d
    arr = d.detach().cpu().numpy()
    return condense(arr) if condensed else arr


def rdm(x: ResponsesLike, method: str = "correlation", *, condensed: bool = False, device: Any = None, float64: bool | None = None):
    """Compute a representational dissimilarity matrix.

    Parameters
    ----------
    x : Responses with dims ('stimulus', 'unit'), numpy array or torch tensor (n_stimuli, n_units)
        Responses with repetitions must be averaged first (``neurocompare.average_repetitions``).
    method : {'correlation', 'cosine', 'euclidean', 'sqeuclidean'}
        Dissimilarity measure (see the module docstring).
    condensed : bool
        For array/tensor input, return the condensed upper-triangle vector instead of the square
        matrix. Ignored for ``Responses`` input (which returns an RDM DataArray).
    device : str or torch.device, optional
        Where to compute (``'cpu'`` by default, ``'cuda'``).
    float64 : bool
        Compute in double precision (default float32).

    Returns
    -------
    RDM DataArray with dims ('stimulus', 'stimulus_2') for Responses input; otherwise a numpy array
    or torch tensor of shape (n, n), or (n*(n-1)/2,) with ``condensed=True``.

    Raises
    ------
    ValueError
        Unknown method, NaN/inf values, fewer than 4 stimuli, or (correlation/cosine) a stimulus
        pattern without variance.
    """
    import torch

    if method not in RDM_METHODS:
        raise ValueError(f"The 'method' parameter of rdm() must be one of {set(RDM_METHODS)}. Got {method!r} instead.")
    ids = None
    if isinstance(x, xr.DataArray):
        x = check_responses(x)
        ids = np.asarray(x.stimulus_id.values).astype(str)
    t, scale = _matrix(x, "x", device, float64, centre=CENTRE_FOR[method], return_scale=True)
    check_memory(rdm_bytes(t.shape[0], t.element_size(), condensed=condensed), "rdm()", device=t.device)
    d = _rdm_kernel(t, method)
    if scale != 1.0 and method in ("euclidean", "sqeuclidean"):  # undo the exact power-of-two rescaling
        d = d.mul_(scale if method == "euclidean" else scale * scale)
        if not bool(torch.isfinite(d).all()):
            raise ValueError(f"The {method} distances overflow {str(d.dtype).replace('torch.', '')}; compute in float64 (float64=True).")
    return _output(d, x, condensed, ids, {"method": method})


def rdm_bytes(n: int, itemsize: int, *, condensed: bool = False) -> int:
    """Peak bytes of one RDM of ``n`` stimuli: the Gram matrix, the distances and one temporary (n, n)."""
    return int(3 * n * n * itemsize + (n * (n - 1) // 2 * itemsize if condensed else 0))


# ----------------------------------------------------------------------------- noise precision
def _shrink_cov(res, dof: int, method: str):
    """Covariance (d, d) of residuals res (m, d) with the chosen shrinkage (float64 tensor)."""
    import torch

    m, d = res.shape
    if method == "identity":
        return torch.eye(d, dtype=res.dtype, device=res.device)
    if method == "diag":
        return torch.diag((res * res).sum(0) / dof)
    s_sum = res.T @ res
    if method == "full":
        return s_sum / dof
    sq = res * res
    s2_sum = sq.T @ sq  # sum over rows of (x_i x_j)^2
    if method == "shrinkage_eye":
        # Ledoit & Wolf (2004): shrink towards a multiple of the identity
        s = s_sum / m
        b2 = float((s2_sum / m - s * s).sum()) / m
        mu = float(torch.diagonal(s).mean())
        target = mu * torch.eye(d, dtype=res.dtype, device=res.device)
        d2 = float(((s - target) ** 2).sum())
        b2 = min(b2, d2)
        shrink = b2 / d2 if d2 > 0 else 1.0
        return (shrink * target + (1.0 - shrink) * s) * (m / dof)
    if method == "shrinkage_diag":
        # Schaefer & Strimmer (2005), target D: shrink off-diagonal correlations towards zero
        s = s_sum / dof
        var = torch.diagonal(s)
        if bool((var <= 0).any()):
            raise ValueError(
                "shrinkage_diag noise estimation needs every unit to vary across repetitions; "
                f"{int((var <= 0).sum())} unit(s) have zero residual variance. Drop them or use noise='identity'."
            )
        std = var.sqrt()
        r_mean = s_sum / (std[:, None] * std[None, :]) / (m - 1)
        r2_mean = s2_sum / (var[:, None] * var[None, :]) / (m - 1)
        var_hat = m / dof**2 * (r2_mean - r_mean**2)
        off = ~torch.eye(d, dtype=torch.bool, device=res.device)
        denom = float((r_mean[off] ** 2).sum())
        lam = float(var_hat[off].sum()) / denom if denom > 0 else 1.0
        lam = min(max(lam, 0.0), 1.0)
        scale = torch.where(off, 1.0 - lam, 1.0).to(res.dtype)
        return s * scale
    raise ValueError(f"The 'noise' parameter must be one of {set(NOISE_METHODS)} or a (d, d) array. Got {method!r} instead.")


def _as_reps(x: Any, device, float64: bool):
    """(stimulus, unit, repetition) float tensor and ids from Responses or a 3-D array."""
    import torch

    dev = resolve_device(device, like=x)
    dtype = compute_dtype(float64, x, dev)
    ids = None
    if isinstance(x, xr.DataArray):
        x = check_responses(x, allow_nan=True)
        if "repetition" not in x.dims or x.ndim != 3:
            raise ValueError(
                f"crossnobis needs Responses with dims ('stimulus', 'unit', 'repetition'); got {x.dims}. "
                "Keep the single-trial (or per-run) responses along a 'repetition' dim."
            )
        ids = np.asarray(x.stimulus_id.values).astype(str)
        x = x.values
    t = x.detach().to(dev, dtype) if hasattr(x, "detach") else torch.as_tensor(np.asarray(x), dtype=dtype, device=dev)
    if t.dim() != 3:
        raise ValueError(
            f"crossnobis needs a 3-D array (n_stimuli, n_units, n_repetitions); got shape {tuple(t.shape)}."
        )
    if not bool(torch.isfinite(t).all()):
        raise ValueError(
            "crossnobis needs every stimulus measured in every repetition/fold; the data hold NaN or inf "
            "(e.g. padding of unequal repeat counts). Drop incomplete repetitions first."
        )
    if t.shape[0] < 4:
        raise ValueError(f"crossnobis needs at least 4 stimuli; got {t.shape[0]}.")
    if t.shape[2] < 2:
        raise ValueError(f"crossnobis needs at least 2 repetitions/folds to cross-validate; got {t.shape[2]}.")
    return t, ids


def noise_precision(x: Any, method: str = "shrinkage_diag", *, device: Any = None, float64: bool = True):
    """Estimate the noise precision matrix (inverse covariance over units) from repetitions.

    Residuals are the repetitions minus each stimulus's mean; degrees of freedom are
    ``n_stimuli * (n_repetitions - 1)``.

    Parameters
    ----------
    x : Responses with dims ('stimulus', 'unit', 'repetition') or array (n_stimuli, n_units, n_reps)
    method : {'shrinkage_diag', 'shrinkage_eye', 'diag', 'full', 'identity'}
        'shrinkage_diag' (Schaefer & Strimmer 2005) shrinks correlations towards zero;
        'shrinkage_eye' (Ledoit & Wolf 2004) shrinks towards a multiple of the identity.
        Both follow rsatoolbox's ``cov_from_residuals`` definitions.
    device, float64
        Where and in which precision to compute (float64 by default: this inverts a matrix).

    Returns
    -------
    torch.Tensor, shape (n_units, n_units)
        Note: this is a units-by-units matrix; it is only formed when a noise model is asked for.
    """
    import torch

    t, _ = _as_reps(x, device, float64)
    n, d, r = t.shape
    res = (t - t.mean(dim=2, keepdim=True)).permute(0, 2, 1).reshape(n * r, d)
    cov = _shrink_cov(res, n * (r - 1), method)
    try:
        return torch.linalg.inv(cov)
    except RuntimeError as err:  # singular
        raise ValueError(
            f"The '{method}' noise covariance is singular (more units than residual degrees of freedom?). "
            "Use method='shrinkage_diag' or 'shrinkage_eye'."
        ) from err


def crossnobis_rdm(
    x: ResponsesLike,
    *,
    noise: Any = "shrinkage_diag",
    folds: Any = None,
    condensed: bool = False,
    device: Any = None,
    float64: bool | None = None,
):
    """Cross-validated Mahalanobis ("crossnobis") RDM over repetitions or folds.

    For each fold k, the pattern difference of stimuli i, j in fold k is multiplied (through the
    noise precision) with the difference of the mean of all other folds; the products are averaged
    over folds and divided by the number of units. The estimate is unbiased: its expectation is
    the true squared Mahalanobis distance, so it is 0 on average for identical stimuli and can be
    negative.

    Parameters
    ----------
    x : Responses with dims ('stimulus', 'unit', 'repetition') or array (n_stimuli, n_units, n_reps)
        Every stimulus must be measured in every repetition (no NaN).
    noise : str, array (n_units, n_units) or None
        Noise *precision*. A string picks an estimator for :func:`noise_precision` computed from the
        same repetitions; ``None`` or ``'identity'`` gives the cross-validated Euclidean distance
        (computed without any units-by-units matrix).
    folds : sequence of int, optional
        Fold label for each repetition (e.g. the run it came from); repetitions with the same label
        are averaged first. Default: each repetition is its own fold.
    condensed, device, float64
        As in :func:`rdm`.

    Returns
    -------
    RDM DataArray (Responses input) or array/tensor (n, n) / condensed, as in :func:`rdm`.
    """
    import torch

    t, ids = _as_reps(x, device, float64)
    n, d, r = t.shape
    if folds is not None:
        labels = np.asarray(folds)
        if labels.shape != (r,):
            raise ValueError(f"folds must give one label per repetition ({r}); got shape {labels.shape}.")
        uniq = np.unique(labels)
        if uniq.size < 2:
            raise ValueError("folds must contain at least 2 distinct labels to cross-validate.")
        t = torch.stack([t[:, :, torch.as_tensor(np.flatnonzero(labels == u), device=t.device)].mean(2) for u in uniq], 2)
    k = t.shape[2]
    if noise is None or (isinstance(noise, str) and noise == "identity"):
        w = t
    else:
        if isinstance(noise, str):
            prec = noise_precision(t, noise, device=t.device, float64=True)
        else:
            prec = noise.detach() if hasattr(noise, "detach") else torch.as_tensor(np.asarray(noise))
            prec = prec.to(t.device, torch.float64)
            if prec.shape != (d, d):
                raise ValueError(f"noise precision must have shape ({d}, {d}); got {tuple(prec.shape)}.")
        # whiten with a symmetric square root of the precision, so every product is a plain Gram
        evals, evecs = torch.linalg.eigh((prec + prec.T) / 2)
        if bool((evals < -1e-10 * evals.abs().max()).any()):
            raise ValueError("The noise precision matrix is not positive semi-definite.")
        root = (evecs * evals.clamp(min=0).sqrt()) @ evecs.T
        w = torch.einsum("nur,uv->nvr", t.to(torch.float64), root).to(t.dtype)
    # sum_k (S - M_k) M_k^T = S S^T - sum_k M_k M_k^T  with S = sum_k M_k
    total = w.sum(2)
    kern = sym_gram(total)
    for i in range(k):
        kern = kern - sym_gram(w[:, :, i])
    kern = kern / (k - 1)
    diag = torch.diagonal(kern)
    dist = (diag[:, None] + diag[None, :] - 2.0 * kern) / (d * k)
    dist.fill_diagonal_(0.0)
    return _output(dist, x, condensed, ids, {"method": "crossnobis"})


# ----------------------------------------------------------------------------- RDM inputs
def rdm_vector(r: Any, *, name: str = "rdm", device: Any = None, float64: bool | None = None):
    """Turn an RDM given in any supported form into a condensed torch vector (or a stack of them).

    Parameters
    ----------
    r : RDM DataArray (dims ``(*stack, 'stimulus', 'stimulus_2')``), square array/tensor (n, n) or
        (k, n, n), or condensed vector(s) (m,) / (k, m)
        Square inputs must be symmetric with a zero diagonal.

    Returns
    -------
    vec : torch.Tensor, shape (m,) or (k, m)
    ids : numpy array of stimulus ids, or None
    """
    import torch

    dev = resolve_device(device, like=r)
    dtype = compute_dtype(float64, r, dev)
    ids = None
    if isinstance(r, xr.DataArray):
        r = check_rdm(r)
        ids = np.asarray(r.stimulus_id.values).astype(str)
        stack = r.dims[:-2]
        if len(stack) > 1:
            r = r.stack(_rdm_stack=stack).transpose("_rdm_stack", "stimulus", "stimulus_2")
        r = np.asarray(r.values, dtype=float)
    t = r.detach().to(dev, dtype) if hasattr(r, "detach") else torch.as_tensor(np.asarray(r, dtype=float), dtype=dtype, device=dev)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values; RDM entries must be finite.")
    if t.dim() >= 2 and t.shape[-1] == t.shape[-2] and t.shape[-1] > 1:
        n = t.shape[-1]
        tol = 1e-6 * max(1.0, float(t.abs().max()))
        if float((t - t.transpose(-1, -2)).abs().max()) > tol:
            raise ValueError(f"{name} is not symmetric. Symmetrize it with (d + d.T) / 2 if that is intended.")
        if float(torch.diagonal(t, dim1=-2, dim2=-1).abs().max()) > tol:
            raise ValueError(f"{name} has a non-zero diagonal; an RDM's diagonal must be zero.")
        if t.dim() > 3:
            raise ValueError(f"{name} has shape {tuple(t.shape)}; pass (n, n) or (k, n, n).")
        vec = condense(t)
    elif t.dim() in (1, 2):
        n = _n_from_condensed(t.shape[-1])
        vec = t
    else:
        raise ValueError(f"{name} has shape {tuple(t.shape)}; pass a square RDM (n, n), a stack (k, n, n) or a condensed vector.")
    if n < 4:
        raise ValueError(f"{name} describes {n} stimuli; comparing RDMs needs at least 4.")
    return vec, ids
