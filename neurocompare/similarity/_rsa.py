"""Representational similarity analysis: compare RDMs, or responses through their RDMs.

RDM comparison methods (following rsatoolbox's definitions, on the upper triangles):

==============  ===================================================================================
``spearman``    Pearson correlation of the ranks (ties get average ranks)
``pearson``     Pearson correlation of the dissimilarities
``tau_a``       Kendall's tau-a: (concordant - discordant pairs) / (m (m - 1) / 2), ties not
                corrected (Nili et al. 2014: the right choice when a model predicts ties)
``tau_b``       Kendall's tau-b (scipy), tie-corrected
``rho_a``       Spearman's rho-a: 12 * sum(centred ranks products) / (m**3 - m), no tie correction
``cosine``      cosine of the dissimilarity vectors (no centring)
``wuc``         whitened unbiased RDM cosine (Diedrichsen et al. 2021): the cosine between the
                double-centred second-moment matrices ``G = -H D H / 2`` (rsatoolbox's
                ``cosine_cov`` with the default, identity, pattern covariance)
==============  ===================================================================================

Every comparison takes RDM DataArrays (aligned on ``stimulus_id`` when both carry it), square
arrays/tensors or condensed vectors, and returns a float; stacked RDMs (``(k, n, n)``, or a
DataArray with a leading dim) give a ``(k_a, k_b)`` numpy array.

Undefined cases raise instead of returning NaN: a constant RDM has no rank order or correlation
(spearman, pearson, tau_b), and an all-zero RDM has no direction (cosine, wuc). ``tau_a`` and
``rho_a`` are defined (0) for a constant RDM.

References
----------
Nili, Wingfield, Walther, Su, Marslen-Wilson & Kriegeskorte (2014). A toolbox for representational
similarity analysis. PLoS Comput. Biol. 10(4), e1003553.
Diedrichsen, Berlot, Mur, Schuett, Shahbazi & Kriegeskorte (2021). Comparing representational
geometries using whitened unbiased-distance-matrix similarity. Neurons, Behavior, Data analysis,
and Theory 5(3).

Examples
--------
>>> import numpy as np
>>> a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
>>> compare_rdms(a, a ** 2, "spearman")
1.0
>>> round(compare_rdms(a, a ** 2, "pearson"), 4)
0.9789
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurocompare.data import check_rdm
from neurocompare.similarity._metrics import register_metric
from neurocompare.similarity._common import check_memory
from neurocompare.similarity._rdm import (
    CENTRE_FOR,
    RDM_METHODS,
    _n_from_condensed,
    _rdm_kernel,
    condense,
    pair,
    rdm_bytes,
    rdm_vector,
    squareform_torch,
)
from neurocompare.typing import RDMLike, ResponsesLike

__all__ = ["COMPARE_METHODS", "compare_rdms", "rank", "rsa"]

COMPARE_METHODS = ("spearman", "pearson", "tau_a", "tau_b", "rho_a", "cosine", "wuc")


# ----------------------------------------------------------------------------- kernels
def rank(v):
    """Ranks (1-based, ties averaged) along the last dim of a torch tensor, like scipy's rankdata."""
    import torch

    flat = v.reshape(-1, v.shape[-1])
    out = torch.empty_like(flat, dtype=torch.float64 if flat.dtype == torch.float64 else torch.float32)
    for row in range(flat.shape[0]):
        vals, order = torch.sort(flat[row], stable=True)
        _, counts = torch.unique_consecutive(vals, return_counts=True)
        ends = torch.cumsum(counts, 0)
        avg = (ends - (counts - 1) / 2.0).to(out.dtype)  # average of ranks start+1 .. end
        out[row, order] = torch.repeat_interleave(avg, counts)
    return out.reshape(v.shape)


def _cosine_rows(a, b, what: str):
    """(ka, m), (kb, m) -> (ka, kb) cosines; raises on zero vectors."""
    import torch

    na = torch.linalg.vector_norm(a, dim=1)
    nb = torch.linalg.vector_norm(b, dim=1)
    for norms, side in ((na, "first"), (nb, "second")):
        if bool((norms == 0).any()):
            raise ValueError(
                f"{what} is undefined: the {side} RDM is {'constant' if what != 'cosine' else 'all zeros'} "
                "(no variation across stimulus pairs). Check the responses it came from."
            )
    return ((a @ b.T) / (na[:, None] * nb[None, :])).clamp(-1.0, 1.0)


def _center(v):
    return v - v.mean(dim=-1, keepdim=True)


def _double_centred(v):
    """Condensed RDMs (k, m) -> flattened double-centred second moments -H D H / 2, shape (k, n*n)."""
    d = squareform_torch(v)
    g = -0.5 * d
    g = g - g.mean(dim=-1, keepdim=True) - g.mean(dim=-2, keepdim=True) + g.mean(dim=(-1, -2), keepdim=True)
    return g.reshape(g.shape[0], -1)


def _tau(a: np.ndarray, b: np.ndarray, variant: str) -> float:
    """Kendall tau-a or tau-b of two vectors in O(m log m) (scipy's merge-sort count)."""
    import scipy.stats

    m = a.size
    tot = m * (m - 1) // 2

    def ties(v):
        _, c = np.unique(v, return_counts=True)
        return int((c * (c - 1) // 2).sum())

    tx, ty = ties(a), ties(b)
    if variant == "tau_b":
        if tx == tot or ty == tot:
            raise ValueError("tau_b is undefined: one RDM is constant. Use tau_a, which is 0 in that case.")
        return float(scipy.stats.kendalltau(a, b, variant="b").statistic)
    if tx == tot or ty == tot:
        return 0.0
    tau_b = float(scipy.stats.kendalltau(a, b, variant="b").statistic)
    con_minus_dis = tau_b * np.sqrt(float(tot - tx) * float(tot - ty))
    return float(np.clip(con_minus_dis / tot, -1.0, 1.0))


def _compare_vectors(a, b, method: str) -> np.ndarray:
    """(ka, m), (kb, m) torch -> (ka, kb) numpy similarities."""
    import torch

    if method == "spearman":
        out = _cosine_rows(_center(rank(a)), _center(rank(b)), "spearman")
    elif method == "pearson":
        out = _cosine_rows(_center(a), _center(b), "pearson")
    elif method == "cosine":
        out = _cosine_rows(a, b, "cosine")
    elif method == "rho_a":
        m = a.shape[1]
        ra, rb = _center(rank(a)).to(torch.float64), _center(rank(b)).to(torch.float64)
        out = (ra @ rb.T) * 12.0 / (float(m) ** 3 - m)
    elif method == "wuc":
        out = _cosine_rows(_double_centred(a), _double_centred(b), "wuc")
    elif method in ("tau_a", "tau_b"):
        an, bn = a.detach().cpu().double().numpy(), b.detach().cpu().double().numpy()
        out = np.array([[_tau(x, y, method) for y in bn] for x in an])
        return out
    else:
        raise ValueError(
            f"The 'method' parameter of compare_rdms() must be one of {set(COMPARE_METHODS)}. Got {method!r} instead."
        )
    return out.detach().cpu().double().numpy()


# ----------------------------------------------------------------------------- public API
def _align_rdms(a: Any, b: Any):
    """Reorder RDM DataArray b to a's stimulus order when both carry ids."""
    if isinstance(a, xr.DataArray) and isinstance(b, xr.DataArray):
        a, b = check_rdm(a), check_rdm(b)
        ia = np.asarray(a.stimulus_id.values).astype(str)
        ib = np.asarray(b.stimulus_id.values).astype(str)
        if set(ia) != set(ib) or ia.size != ib.size:
            only_a, only_b = np.setdiff1d(ia, ib), np.setdiff1d(ib, ia)
            raise ValueError(
                f"The two RDMs describe different stimuli: {only_a.size} id(s) only in the first "
                f"({list(only_a[:3])}), {only_b.size} only in the second ({list(only_b[:3])}). "
                "Select the common stimuli first, e.g. rdm.sel(stimulus=..., stimulus_2=...)."
            )
        if not np.array_equal(ia, ib):
            pos = {s: i for i, s in enumerate(ib)}
            order = np.array([pos[s] for s in ia])
            b = b.isel(stimulus=order, stimulus_2=order)
    return a, b


def compare_rdms(a: RDMLike, b: RDMLike, method: str = "spearman", *, device: Any = None, float64: bool = True):
    """Compare two RDMs (or two stacks of RDMs).

    Parameters
    ----------
    a, b : RDM DataArray, square array/tensor (n, n) or (k, n, n), or condensed vector(s)
        Both must describe the same stimuli in the same order (DataArrays are aligned by
        ``stimulus_id``).
    method : {'spearman', 'pearson', 'tau_a', 'tau_b', 'rho_a', 'cosine', 'wuc'}
        See the module docstring.
    device : str or torch.device, optional
    float64 : bool
        Compute in double precision (default True: RDMs are small).

    Returns
    -------
    float, or numpy array (k_a, k_b) when either input is a stack.
    """
    if method not in COMPARE_METHODS:
        raise ValueError(
            f"The 'method' parameter of compare_rdms() must be one of {set(COMPARE_METHODS)}. Got {method!r} instead."
        )
    a, b = _align_rdms(a, b)
    va, _ = rdm_vector(a, name="first RDM", device=device, float64=float64)
    vb, _ = rdm_vector(b, name="second RDM", device=device, float64=float64)
    if va.shape[-1] != vb.shape[-1]:
        raise ValueError(
            f"The RDMs describe different numbers of stimuli ({_n_from_condensed(va.shape[-1])} vs "
            f"{_n_from_condensed(vb.shape[-1])}); compare RDMs of the same stimuli."
        )
    single = va.dim() == 1 and vb.dim() == 1
    out = _compare_vectors(va.reshape(-1, va.shape[-1]), vb.reshape(-1, vb.shape[-1]), method)
    return float(out[0, 0]) if single else out


def rsa(
    x: ResponsesLike,
    y: ResponsesLike | RDMLike,
    *,
    rdm_method: str = "correlation",
    compare: str = "spearman",
    device: Any = None,
    float64: bool | None = None,
    block_size: int | None = None,
    progress: bool | None = None,
) -> float:
    """Representational similarity of two response sets: compare their RDMs.

    Parameters
    ----------
    x, y : Responses with dims ('stimulus', 'unit'), numpy arrays or torch tensors (n_stimuli, n_units), or RDMs
        Aligned on ``stimulus_id`` when both are Responses. Either side may instead be an RDM
        DataArray with dims ('stimulus', 'stimulus_2') (e.g. recorded data that come as an RDM):
        the other side's RDM is computed with ``rdm_method`` and the two are compared (aligned by
        ``stimulus_id``).
    rdm_method : {'correlation', 'cosine', 'euclidean', 'sqeuclidean'}
        How each RDM is computed (:func:`neurocompare.similarity.rdm`).
    compare : {'spearman', 'pearson', 'tau_a', 'tau_b', 'rho_a', 'cosine', 'wuc'}
        How the RDMs are compared (:func:`compare_rdms`).
    device, float64
        Where and in which precision the RDMs are computed; the comparison runs in float64.
    block_size : int, optional
        Compute the RDMs this many rows at a time and never hold an ``n x n`` matrix (for
        ``rdm_method`` 'correlation' or 'cosine' with ``compare`` 'spearman' or 'pearson', on the
        CPU). Pearson then needs ``O(block_size * n)`` memory; Spearman stores the two condensed
        RDMs and ranks them, ``(2 s + 12) n (n - 1) / 2`` bytes at its peak (``s`` the itemsize:
        5.6 GB at n = 20,000 in float64). Default: everything in memory (about
        ``s n^2 + (2 s + 24) n (n - 1) / 2`` bytes). Identical rows are refused in this mode.
    progress : bool, optional
        Progress bar over the blocks (``block_size`` only; default: the ``progress`` option).

    Returns
    -------
    float
        1.0 for ``rsa(x, x)`` with every comparison method.

    Notes
    -----
    On the CPU, correlation/cosine RDMs compared by Spearman or Pearson take a numpy path
    (``_rsa_fast``) that computes in the kernel dtype without copies of float64 inputs; it hands
    unusual inputs (duplicated or constant rows, non-finite values, extreme scales) to the general
    torch path, which gives the same numbers to rounding and the same errors.
    """
    if rdm_method not in RDM_METHODS:
        raise ValueError(f"The 'rdm_method' parameter of rsa() must be one of {set(RDM_METHODS)}. Got {rdm_method!r} instead.")
    if _is_rdm(x) or _is_rdm(y):
        return _rsa_with_rdm(x, y, rdm_method=rdm_method, compare=compare, device=device, float64=float64)
    if compare not in COMPARE_METHODS:
        raise ValueError(
            f"The 'compare' parameter of rsa() must be one of {set(COMPARE_METHODS)}. Got {compare!r} instead."
        )
    if block_size is not None or (compare in _FAST_COMPARE and rdm_method in _FAST_RDM):
        value = _rsa_cpu(x, y, rdm_method=rdm_method, compare=compare, device=device, float64=float64, block_size=block_size, progress=progress)
        if value is not None:
            return value
    # every RDM method is compared through ranks or correlations/cosines, all scale-free: rescale
    tx, ty = pair(x, y, device=device, float64=float64, centre=CENTRE_FOR[rdm_method], rescale=True)
    n = tx.shape[0]
    check_memory(2 * rdm_bytes(n, tx.element_size()) + 4 * 8 * (n * (n - 1) // 2), "rsa()", device=tx.device)
    dx = condense(_rdm_kernel(tx, rdm_method))
    dy = condense(_rdm_kernel(ty, rdm_method))
    # the RDMs are finite and well formed by construction: compare their vectors directly
    return float(_compare_vectors(dx.double()[None], dy.double()[None], compare)[0, 0])


_FAST_COMPARE = ("spearman", "pearson")
_FAST_RDM = ("correlation", "cosine")


def _cpu_arrays(x: Any, y: Any, device: Any, float64: bool | None):
    """``(mx, my, numpy dtype)`` when both sides can be computed in numpy on the CPU, else None."""
    import torch

    from neurocompare.data import align
    from neurocompare.similarity._common import MIN_STIMULI, _to_2d, compute_dtype, resolve_device

    if (type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2 and x.dtype == y.dtype
            and x.dtype in (np.float64, np.float32) and x.shape[0] == y.shape[0] >= MIN_STIMULI):
        dev = resolve_device(device, like=x)  # plain float arrays: nothing to align, convert or check here
        dtype = compute_dtype(float64, x, dev)
        if dev.type != "cpu" or dtype not in (torch.float64, torch.float32):
            return None
        return x, y, np.float64 if dtype == torch.float64 else np.float32
    if isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray):
        x, y = align(x, y)
    out = []
    dtypes = set()
    for v, name in ((x, "x"), (y, "y")):
        dev = resolve_device(device, like=v)
        if dev.type != "cpu":
            return None
        dtypes.add(compute_dtype(float64, v, dev))
        m = _to_2d(v, name)
        if isinstance(m, torch.Tensor):
            if m.device.type != "cpu" or m.is_complex():
                return None
            m = m.resolve_conj().resolve_neg().numpy()
        if not (np.issubdtype(m.dtype, np.number) or m.dtype == bool) or m.shape[0] < MIN_STIMULI:
            return None
        out.append(m)
    if len(dtypes) != 1 or out[0].shape[0] != out[1].shape[0]:
        return None
    dtype = dtypes.pop()
    if dtype not in (torch.float64, torch.float32):
        return None
    return out[0], out[1], np.float64 if dtype == torch.float64 else np.float32


def _rsa_cpu(x, y, *, rdm_method, compare, device, float64, block_size, progress) -> float | None:
    """:func:`rsa` on the numpy path of ``_rsa_fast`` (None: take the general path)."""
    from neurocompare._options import progress_enabled
    from neurocompare.similarity._rsa_fast import blockwise_bytes, fast_rsa, rsa_blockwise

    if block_size is not None:
        if compare not in _FAST_COMPARE or rdm_method not in _FAST_RDM:
            raise ValueError(
                f"block_size works with rdm_method in {set(_FAST_RDM)} and compare in {set(_FAST_COMPARE)}; got "
                f"rdm_method={rdm_method!r}, compare={compare!r}. Drop block_size, or pick one of those."
            )
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
            raise ValueError(f"block_size must be a positive integer (rows per block); got {block_size!r}.")
    arrays = _cpu_arrays(x, y, device, float64)
    if arrays is None:
        if block_size is not None:
            raise ValueError(
                "block_size needs both sides on the CPU as real arrays of at least 4 stimuli with the same number of rows "
                "and one float dtype; move GPU tensors to the CPU first, or drop block_size."
            )
        return None
    mx, my, dtype = arrays
    n, size = mx.shape[0], np.dtype(dtype).itemsize
    m = n * (n - 1) // 2
    if block_size is not None:
        check_memory(blockwise_bytes(n, size, compare, int(block_size)), "rsa(block_size=...)")
        return rsa_blockwise(mx, my, dtype=dtype, rdm_method=rdm_method, compare=compare, block_size=int(block_size), progress=progress_enabled(progress))
    check_memory(n * n * size + (2 * size + 24) * m, "rsa()")
    return fast_rsa(mx, my, dtype=dtype, rdm_method=rdm_method, compare=compare)


def _is_rdm(v: Any) -> bool:
    return isinstance(v, xr.DataArray) and tuple(v.dims[-2:]) == ("stimulus", "stimulus_2")


def _rsa_with_rdm(x: Any, y: Any, *, rdm_method: str, compare: str, device: Any, float64: bool | None) -> float:
    """:func:`rsa` when one side (or both) is already an RDM DataArray."""
    from neurocompare.similarity._rdm import rdm as make_rdm

    sides = [v if _is_rdm(v) else make_rdm(v, rdm_method, device=device, float64=float64) for v in (x, y)]
    stacked = [str(v.dims[:-2]) for v in sides if isinstance(v, xr.DataArray) and v.ndim > 2]
    if stacked:
        raise ValueError(
            f"rsa() returns one number, but an RDM has stack dims {', '.join(stacked)}. Average them first "
            "(e.g. rdm.mean(['subject', 'session'])), or call compare_rdms() for one value per RDM."
        )
    if compare not in COMPARE_METHODS:
        raise ValueError(
            f"The 'compare' parameter of rsa() must be one of {set(COMPARE_METHODS)}. Got {compare!r} instead."
        )
    return float(compare_rdms(sides[0], sides[1], compare, device=device))


def _register(compare_method: str):
    def metric(x: Any, y: Any, *, rdm_method: str = "correlation", device: Any = None, float64: bool | None = None) -> float:
        return rsa(x, y, rdm_method=rdm_method, compare=compare_method, device=device, float64=float64)

    metric.__name__ = f"rsa_{compare_method}"
    metric.__doc__ = (
        f"RSA with {compare_method!r} RDM comparison: ``rsa(x, y, compare={compare_method!r})``.\n\n"
        "x, y : Responses, arrays or tensors (n_stimuli, n_units); returns a float (1.0 for identical inputs)."
    )
    register_metric(f"rsa_{compare_method}", metric, rdm=("correlation", compare_method))
    return metric


register_metric("rsa", rsa, rdm=("correlation", "spearman"))
rsa_spearman = _register("spearman")
rsa_pearson = _register("pearson")
rsa_tau_a = _register("tau_a")
rsa_tau_b = _register("tau_b")
rsa_rho_a = _register("rho_a")
rsa_cosine = _register("cosine")
rsa_wuc = _register("wuc")
