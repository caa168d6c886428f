"""Centered kernel alignment (CKA): linear, RBF, and the debiased (unbiased-HSIC) variants.

``CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with ``K``, ``L`` the stimulus-by-stimulus
kernel matrices of the two representations.

- Biased HSIC (Gretton et al. 2005): ``tr(K H L H)``, ``H`` the centring matrix (the constant
  ``1/(n-1)**2`` cancels in the ratio). Linear biased CKA equals
  ``|Xc.T Yc|_F**2 / (|Xc.T Xc|_F |Yc.T Yc|_F)`` for column-centred ``Xc``, ``Yc``.
- Unbiased HSIC (Song et al. 2012), as in Brain-Score and Nguyen et al. (2021): with ``K~``, ``L~``
  the kernels with zeroed diagonals,
  ``HSIC = [tr(K~ L~) + (1'K~1)(1'L~1)/((n-1)(n-2)) - 2 (K~1)'(L~1)/(n-2)] / (n (n-3))``.
  Debiased CKA is reported as 0 when ``HSIC(K,K) * HSIC(L,L) <= 0`` (it can be, for tiny n).

Speed: linear CKA never forms a units-by-units matrix when units outnumber stimuli, nor a
stimulus-by-stimulus matrix when stimuli outnumber units: for each side it picks the cheaper of
``X X'`` and ``X' X`` and only ever holds one block of either. Symmetric products are computed over
their upper-triangle blocks (about half the multiply-adds). All kernels are torch and run on CUDA.

Differentiable use: :func:`cka_linear_torch` keeps the autograd graph (e.g. for a neural-alignment
loss ``1 - cka_linear_torch(model_features, neural_data)``).

References
----------
Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network representations revisited.
ICML.
Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via dependence maximization.
JMLR 13, 1393-1434.
Nguyen, Raghu & Kornblith (2021). Do wide and deep networks learn the same things? ICLR.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(50, 10))
>>> q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
>>> round(cka_linear(x, 3.0 * x @ q), 6)
1.0
"""

from __future__ import annotations

import math
from typing import Any

from neurocompare.similarity._common import check_memory
from neurocompare.similarity._metrics import register_metric
from neurocompare.similarity._rdm import pair, sym_gram
from neurocompare.typing import ResponsesLike

__all__ = [
    "cka",
    "cka_linear",
    "cka_unbiased",
    "cka_rbf",
    "cka_linear_torch",
    "hsic_linear",
    "rbf_kernel",
]

_BLOCK_ELEMS = 2**22  # elements per product block (~16 MB in float32)


# ----------------------------------------------------------------------------- blocked sums
def _blocks(n: int, width: int):
    """Row-block size so that a (block, block) or (block, width) product stays around _BLOCK_ELEMS."""
    b = max(256, int(math.sqrt(_BLOCK_ELEMS)), _BLOCK_ELEMS // max(width, 1))
    return min(n, b)


def _sym_sq(a, b=None, *, block: int | None = None):
    """Frobenius statistics of the symmetric products A A' (and B B') over upper-triangle blocks.

    a : (n, p), b : (n, q) or None. Returns (|AA'|^2, |BB'|^2, <AA', BB'>) as 0-dim tensors
    (the last two are None when b is None). Differentiable.
    """
    import torch

    n = a.shape[0]
    if block is None:
        block = n if n < 512 else math.ceil(n / math.ceil(n / 256))
    saa = a.new_zeros((), dtype=a.dtype)
    sbb = sab = None if b is None else a.new_zeros((), dtype=a.dtype)
    starts = range(0, n, block)
    for i in starts:
        ai = a[i : i + block]
        bi = None if b is None else b[i : i + block]
        for j in starts:
            if j < i:
                continue
            w = 1.0 if i == j else 2.0
            ka = (ai @ a[j : j + block].T).reshape(-1)
            saa = saa + w * torch.dot(ka, ka)  # BLAS dot: no n^2 temporary
            if b is not None:
                kb = (bi @ b[j : j + block].T).reshape(-1)
                sbb = sbb + w * torch.dot(kb, kb)
                sab = sab + w * torch.dot(ka, kb)
    return saa, sbb, sab


def _cross_sq(x, y):
    """|X' Y|_F^2 in column blocks of X (never more than a (block, q) matrix). Differentiable."""
    import torch

    p = x.shape[1]
    block = _blocks(p, y.shape[1])
    total = x.new_zeros(())
    for c in range(0, p, block):
        m = (x[:, c : c + block].T @ y).reshape(-1)
        total = total + torch.dot(m, m)
    return total


def _linear_stats(x, y):
    """<K,L>, |K|^2, |L|^2 for linear kernels of centred x (n, p), y (n, q), cheapest route.

    Cost (multiply-adds, symmetric products counted half): Gram route n^2 p / 2, feature route
    n p^2 / 2, and the cross term n p q unless both sides use the Gram route.
    """
    n, p = x.shape
    q = y.shape[1]
    cost_gram_x, cost_feat_x = n * n * p / 2, n * p * p / 2
    cost_gram_y, cost_feat_y = n * n * q / 2, n * q * q / 2
    both_gram = cost_gram_x + cost_gram_y
    mixed = min(cost_gram_x, cost_feat_x) + min(cost_gram_y, cost_feat_y) + n * p * q
    if both_gram <= mixed:
        sxx, syy, sxy = _sym_sq(x, y)
        return sxy, sxx, syy
    sxx = _sym_sq(x)[0] if cost_gram_x <= cost_feat_x else _sym_sq(x.T)[0]
    syy = _sym_sq(y)[0] if cost_gram_y <= cost_feat_y else _sym_sq(y.T)[0]
    sxy = _cross_sq(x, y)
    return sxy, sxx, syy


def _unbiased_from_stats(s, dx, dy, n: int):
    """Song et al.'s unbiased HSIC for centred linear kernels from <K,L> and the kernel diagonals."""
    dd = (dx * dy).sum()
    return (s - dd + dx.sum() * dy.sum() / ((n - 1) * (n - 2)) - 2.0 * dd / (n - 2)) / (n * (n - 3))


def _linear_cka_core(x, y, unbiased: bool):
    """Linear CKA on torch tensors (n, p), (n, q); returns (cka, hsic_xx, hsic_yy) as 0-dim tensors."""
    n = x.shape[0]
    xc = x - x.mean(dim=0, keepdim=True)
    yc = y - y.mean(dim=0, keepdim=True)
    sxy, sxx, syy = _linear_stats(xc, yc)
    if not unbiased:
        return sxy / (sxx * syy).sqrt(), sxx, syy
    dx = (xc * xc).sum(dim=1)
    dy = (yc * yc).sum(dim=1)
    hxy = _unbiased_from_stats(sxy, dx, dy, n)
    hxx = _unbiased_from_stats(sxx, dx, dx, n)
    hyy = _unbiased_from_stats(syy, dy, dy, n)
    prod = hxx * hyy
    ok = prod > 0
    safe = prod.where(ok, prod.new_ones(()))  # keeps gradients finite where the score is set to 0
    score = (hxy / safe.sqrt()).where(ok, prod.new_zeros(()))
    return score, hxx, hyy


def _check_stats(*stats) -> None:
    """Refuse non-finite intermediate quantities (Gram norms, HSIC terms) instead of returning them."""
    import torch

    for v in stats:
        if not bool(torch.isfinite(v).all()):
            raise ValueError(
                f"CKA's intermediate quantities are not finite in {str(v.dtype).replace('torch.', '')} (overflow or "
                "underflow of the Gram norms); compute in float64 (float64=True) or rescale the inputs."
            )


def _no_variance(which: str) -> ValueError:
    return ValueError(
        f"CKA is undefined: {which} has no variance across stimuli (every unit is constant). "
        "Check the responses, or drop constant stimuli/units."
    )


# ----------------------------------------------------------------------------- public API
def cka_linear_torch(x, y, unbiased: bool = False):
    """Differentiable linear CKA on torch tensors (keeps the autograd graph).

    Parameters
    ----------
    x : torch.Tensor, shape (n_stimuli, ...)
        Flattened to (n_stimuli, n_features_x). May require grad.
    y : torch.Tensor, shape (n_stimuli, ...)
        Same number of stimuli, same device.
    unbiased : bool
        Use the unbiased HSIC estimator (debiased CKA; 0 when the self-similarities' product is
        not positive, with zero gradient there).

    Returns
    -------
    torch.Tensor, 0-dim, in the input dtype; 1 for identical inputs.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(32, 16, requires_grad=True)
    >>> loss = 1 - cka_linear_torch(x, torch.randn(32, 8))
    >>> loss.backward()
    >>> x.grad.shape
    torch.Size([32, 16])
    """
    import torch

    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise TypeError(f"cka_linear_torch() takes torch tensors; got {type(x).__name__} and {type(y).__name__}. "
                        "Use cka_linear() for numpy arrays or Responses.")
    x = x.reshape(x.shape[0], -1)
    y = y.reshape(y.shape[0], -1).to(x.dtype)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} stimuli but y has {y.shape[0]}; they need one row per stimulus each.")
    if x.shape[0] < 4:
        raise ValueError(f"CKA needs at least 4 stimuli; got {x.shape[0]}.")
    score, sxx, syy = _linear_cka_core(x, y, unbiased)
    if not unbiased:
        fx, fy = float(sxx.detach()), float(syy.detach())
        if fx <= 0 or fy <= 0:
            raise _no_variance("x" if fx <= 0 else "y")
    return score


def hsic_linear(x: ResponsesLike, y: ResponsesLike, *, unbiased: bool = False, device: Any = None, float64: bool = True) -> float:
    """HSIC with linear kernels: biased ``tr(KHLH)/(n-1)**2`` or Song et al.'s unbiased estimator.

    Parameters
    ----------
    x, y : Responses, arrays or tensors (n_stimuli, n_units)

    Returns
    -------
    float
    """
    tx, ty = pair(x, y, device=device, float64=float64, centre="columns")
    n = tx.shape[0]
    xc, yc = tx - tx.mean(0), ty - ty.mean(0)
    sxy = _linear_stats(xc, yc)[0]
    if not unbiased:
        return float(sxy) / (n - 1) ** 2
    return float(_unbiased_from_stats(sxy, (xc * xc).sum(1), (yc * yc).sum(1), n))


def cka_linear(x: ResponsesLike, y: ResponsesLike, *, unbiased: bool = False, device: Any = None, float64: bool | None = None) -> float:
    """Linear CKA between two representations of the same stimuli.

    Parameters
    ----------
    x : Responses with dims ('stimulus', 'unit'), numpy array or torch tensor (n_stimuli, n_units_x)
    y : same kind, (n_stimuli, n_units_y); aligned with x on ``stimulus_id`` when both are Responses
    unbiased : bool
        Debiased CKA (unbiased HSIC); see the module docstring.
    device : str or torch.device, optional
        ``'cpu'`` (default) or ``'cuda'``.
    float64 : bool, optional
        ``True``/``False`` force float64/float32; default: the ``dtype`` option (float64 on CPU).
        In float32 the inputs are centred before the cast and rescaled by a power of two, and
        non-finite intermediate quantities raise; the measured float32 error is in ``docs/numerics.md``.

    Returns
    -------
    float
        In [0, 1] for biased CKA; 1 for ``(x, x)``. Debiased CKA can be slightly negative.

    Raises
    ------
    ValueError
        Fewer than 4 stimuli, NaN/inf values, mismatched stimuli, or (biased) a side without any
        variance across stimuli.
    """
    # CKA is invariant to scaling and to translating the units: rescale exactly, centre before a float32 cast
    tx, ty = pair(x, y, device=device, float64=float64, centre="columns", rescale=True)
    score, hxx, hyy = _linear_cka_core(tx, ty, unbiased)
    _check_stats(hxx, hyy)
    if not unbiased:
        if float(hxx) <= 0:
            raise _no_variance("x")
        if float(hyy) <= 0:
            raise _no_variance("y")
    _check_stats(score)
    return float(score)


def cka_unbiased(x: ResponsesLike, y: ResponsesLike, *, device: Any = None, float64: bool | None = None) -> float:
    """Debiased linear CKA (``cka_linear(..., unbiased=True)``); 0 when HSIC_xx * HSIC_yy <= 0."""
    return cka_linear(x, y, unbiased=True, device=device, float64=float64)


def rbf_kernel(x, sigma_frac: float = 1.0):
    """Gaussian kernel ``exp(-|a-b|^2 / (2 sigma^2))`` with ``sigma = sigma_frac * median distance``.

    The median is taken over the off-diagonal squared distances and its square root used, as in
    Brain-Score's ``rbf`` (and Kornblith et al. 2019's ``threshold``).

    Parameters
    ----------
    x : torch.Tensor, shape (n_stimuli, n_units)
    sigma_frac : float
        Bandwidth as a fraction of the median distance (> 0).

    Returns
    -------
    torch.Tensor, shape (n_stimuli, n_stimuli)
    """
    import torch

    if not sigma_frac > 0:
        raise ValueError(f"sigma_frac must be > 0; got {sigma_frac}.")
    xc = x - x.mean(dim=0, keepdim=True)
    sq = (xc * xc).sum(dim=1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * sym_gram(xc)).clamp(min=0.0)
    d2.fill_diagonal_(0.0)
    n = x.shape[0]
    iu = torch.triu_indices(n, n, offset=1, device=x.device)
    off = d2[iu[0], iu[1]]
    nz = off[off > 0]
    if nz.numel() == 0:
        raise ValueError("RBF CKA is undefined: all stimuli have identical responses (every distance is 0).")
    # lower median of an even count averages the two middle values, like numpy's median
    med = torch.quantile(nz.double(), 0.5).to(x.dtype) if nz.numel() <= 16_000_000 else nz.median()
    sigma2 = (sigma_frac**2) * med
    return torch.exp(-d2 / (2.0 * sigma2))


def _hsic_dense(k, l, unbiased: bool):
    n = k.shape[0]
    if not unbiased:
        kc = k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()
        lc = l - l.mean(0, keepdim=True) - l.mean(1, keepdim=True) + l.mean()
        return (kc * lc).sum()
    kt = k - k.diag().diag()
    lt = l - l.diag().diag()
    k1, l1 = kt.sum(1), lt.sum(1)
    return ((kt * lt).sum() + k1.sum() * l1.sum() / ((n - 1) * (n - 2)) - 2.0 * (k1 * l1).sum() / (n - 2)) / (n * (n - 3))


def cka_rbf(
    x: ResponsesLike, y: ResponsesLike, *, sigma_frac: float = 1.0, unbiased: bool = False, device: Any = None, float64: bool | None = None
) -> float:
    """RBF-kernel CKA, bandwidth ``sigma = sigma_frac * median pairwise distance`` per representation.

    Parameters
    ----------
    x, y : Responses, arrays or tensors (n_stimuli, n_units)
    sigma_frac : float
        Fraction of the median distance used as the kernel width (Kornblith et al. use 0.2-1.0).
    unbiased : bool
        Use the unbiased HSIC estimator (0 when HSIC_xx * HSIC_yy <= 0).
    device, float64
        As in :func:`cka_linear`.

    Returns
    -------
    float
        1 for ``(x, x)``.
    """
    # the median-distance bandwidth makes RBF CKA scale-free; translations do not change distances
    tx, ty = pair(x, y, device=device, float64=float64, centre="columns", rescale=True)
    n = tx.shape[0]
    check_memory(8 * n * n * tx.element_size(), "cka_rbf()", device=tx.device)
    k, l = rbf_kernel(tx, sigma_frac), rbf_kernel(ty, sigma_frac)
    hxy, hxx, hyy = _hsic_dense(k, l, unbiased), _hsic_dense(k, k, unbiased), _hsic_dense(l, l, unbiased)
    _check_stats(hxx, hyy)
    prod = float(hxx) * float(hyy)
    if prod <= 0:
        if unbiased:
            return 0.0
        raise _no_variance("x" if float(hxx) <= 0 else "y")
    return float(hxy) / math.sqrt(prod)


def cka(x: ResponsesLike, y: ResponsesLike, *, kernel: str = "linear", unbiased: bool = False, **kwargs) -> float:
    """CKA with ``kernel='linear'`` or ``'rbf'`` (extra keyword arguments go to the kernel's function)."""
    if kernel == "linear":
        return cka_linear(x, y, unbiased=unbiased, **kwargs)
    if kernel == "rbf":
        return cka_rbf(x, y, unbiased=unbiased, **kwargs)
    raise ValueError(f"The 'kernel' parameter of cka() must be one of {{'linear', 'rbf'}}. Got {kernel!r} instead.")


def _cka_rbf_unbiased(x: Any, y: Any, *, sigma_frac: float = 1.0, device: Any = None, float64: bool | None = None) -> float:
    """Debiased RBF CKA (``cka_rbf(..., unbiased=True)``)."""
    return cka_rbf(x, y, sigma_frac=sigma_frac, unbiased=True, device=device, float64=float64)


register_metric("cka_linear", cka_linear)
register_metric("cka_unbiased", cka_unbiased)
register_metric("cka_rbf", cka_rbf)
register_metric("cka_rbf_unbiased", _cka_rbf_unbiased)
