"""Ridge mapping: a scikit-learn-style estimator with the penalty chosen per unit by closed-form LOO.

:class:`RidgeMapping` fits ``y ≈ x @ coef_ + intercept_`` on (stimulus, feature) → (stimulus,
unit) data. The penalty of every unit is chosen from a grid by leave-one-out error, computed in
closed form from one eigendecomposition that serves every penalty and every unit. When features
outnumber stimuli the decomposition is of the centred stimulus Gram matrix (kernel form), so a
features × features matrix is never built; otherwise of the (small) feature covariance.

The leave-one-out predictions of the training stimuli at each unit's chosen penalty are kept in
``loo_predictions_``: they score the mapping inside the training set without refitting, which
is how a benchmark chooses a layer without looking at held-out stimuli.

One grid, one LOO rule (the benchmark protocol's): penalties ``DEFAULT_ALPHAS`` (1e-3 … 1e5, 17
values) times the mean eigenvalue of the decomposed centred matrix (trace / n_train in kernel
form, trace / rank in primal form), which makes the fit invariant to a rescaling of ``x``; and
``loo='fixed_mean'``: the training means stay those of all training stimuli, only the penalised
weights are refitted. ``loo='exact'`` (the intercept refitted too) reproduces scikit-learn's
``RidgeCV`` and is kept for that comparison.

References
----------
Golub, Heath & Wahba (1979). Generalized cross-validation as a method for choosing a good ridge
parameter. Technometrics 21(2). (closed-form leave-one-out residuals)

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((40, 5)); y = x @ rng.standard_normal((5, 2))
>>> m = RidgeMapping().fit(x, y)
>>> m.predict(x[:3]).shape, m.loo_predictions_.shape, m.alpha_.shape
((3, 2), (40, 2), (2,))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurocompare._options import resolve_dtype
from neurocompare.similarity._common import as_matrix

__all__ = ["DEFAULT_ALPHAS", "LOO_RULES", "RidgeMapping", "centered_gram", "pearson_per_column", "prepare_pair", "prepare_new", "shared_gram"]

#: The ridge grid, relative to the mean eigenvalue of the decomposed centred matrix.
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 17))
LOO_RULES = ("fixed_mean", "exact")
_GRAM_CHUNK = 2048


def pearson_per_column(pred: Any, target: Any) -> Any:
    """Pearson r between matching columns of two (stimulus, unit) torch tensors.

    Returns
    -------
    torch.Tensor, shape (n_units,)
        NaN where the target column is constant (r undefined); 0 where the prediction is
        constant but the target is not (a constant prediction carries no information).
    """
    import torch

    p = pred - pred.mean(0)
    t = target - target.mean(0)
    pn = torch.linalg.vector_norm(p, dim=0)
    tn = torch.linalg.vector_norm(t, dim=0)
    eps = torch.finfo(p.dtype).eps
    t_const = tn <= eps * (target.abs().amax(0) + eps) * math.sqrt(target.shape[0])
    p_const = pn <= eps * (pred.abs().amax(0) + eps) * math.sqrt(pred.shape[0])
    r = (p * t).sum(0) / (pn * tn).clamp_min(torch.finfo(p.dtype).tiny)
    r = torch.where(p_const, torch.zeros_like(r), r)
    r = torch.where(t_const, torch.full_like(r, float("nan")), r)
    return r.clamp(-1.0, 1.0)


def prepare_pair(x: Any, y: Any, *, device: Any, float64: bool, min_stimuli: int = 3):
    """Training tensors for a mapping, and how to undo their preparation.

    Each side is aligned (Responses), centred before any float32 cast and divided by the power
    of two nearest its largest magnitude (exact), so that a fit is the same at any scale (1e-30
    … 1e30) and a +1e6 offset costs no float32 digits.

    Returns
    -------
    tx : torch.Tensor (n, d); ty : torch.Tensor (n, U)
        ``x ≈ tx * sx + ox``, ``y ≈ ty * sy + oy``.
    fx, fy : (scale, offset) pairs; offsets are float64 tensors (1, d) / (1, U) or (1, 1).
    """
    import xarray as xr

    from neurocompare.data import align

    if isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray):
        x, y = align(x, y)
    kw = dict(device=device, float64=float64, min_stimuli=min_stimuli, centre="columns", return_scale=True, return_offset=True)
    tx, sx, ox = as_matrix(x, name="x", **kw)
    ty, sy, oy = as_matrix(y, name="y", **kw)
    if tx.shape[0] != ty.shape[0]:
        raise ValueError(
            f"x has {tx.shape[0]} stimuli but y has {ty.shape[0]}; both need one row per stimulus, in the same "
            "order. Pass Responses with stimulus_id coords to align them automatically."
        )
    return tx, ty, (sx, ox), (sy, oy)


def prepare_new(x: Any, frame: tuple[float, Any], like: Any) -> Any:
    """New inputs in a fitted mapping's prepared units: ``(x - ox) / sx`` (in float64, then cast like ``like``)."""
    sx, ox = frame
    t = as_matrix(x, name="x", device=like.device, float64=True, min_stimuli=1)
    return ((t - ox) / sx).to(like.dtype)


def constant_columns(t: Any) -> np.ndarray:
    """Indices of the (near-)constant columns of a 2-D tensor (stimulus, feature)."""
    import torch

    hi, lo = t.amax(0), t.amin(0)
    scale = torch.maximum(hi.abs(), lo.abs())
    tiny = torch.finfo(t.dtype).tiny
    return torch.nonzero((hi - lo) <= 1e3 * torch.finfo(t.dtype).eps * scale.clamp_min(tiny)).flatten().cpu().numpy()


def centered_gram(X: Any, chunk: int = _GRAM_CHUNK) -> Any:
    """Gram matrix of column-centred ``X`` (n, d) -> (n, n), built in feature chunks of ``chunk``.

    Centring first avoids the cancellation of float32 sums when features have large means; the
    chunks keep the extra memory to n × chunk.
    """
    import torch

    mu = X.mean(0)
    n, d = X.shape
    K = torch.zeros((n, n), dtype=X.dtype, device=X.device)
    for start in range(0, d, chunk):
        block = X[:, start : start + chunk] - mu[start : start + chunk]
        K.addmm_(block, block.T)
    return K


def shared_gram(x: np.ndarray) -> np.ndarray:
    """``(x - mean) @ (x - mean).T`` (float64, (n, n)) of all stimuli, for :meth:`RidgeMapping.fit`'s ``gram``.

    Centring by the mean of all stimuli first keeps the later double-centring on a training subset
    free of cancellation (the subset's mean is close to the overall one).
    """
    xc = np.asarray(x, dtype=np.float64)
    xc = xc - xc.mean(0)
    return xc @ xc.T


def _double_centre(k: np.ndarray) -> np.ndarray:
    """``H k H`` with ``H = I - 11'/n`` (k symmetric (n, n), float64; a new array)."""
    r = k.mean(0)
    return k - r[:, None] - r[None, :] + r.mean()


def _kernel_eigh(tx: Any, xc: Any, gram: Any, sx: float):
    """Eigenvalues (ascending) and eigenvectors of the centred training Gram matrix ``xc @ xc.T``.

    On the CPU the product and the eigendecomposition run in numpy/scipy's BLAS and LAPACK
    (``syevd``), which were 2x faster than torch's on the machine of issue 22 (float64 GEMM 98
    vs 47 GFLOP/s, eigh of 1800 x 1800 1.0 vs 2.0 s); with a precomputed ``gram`` (float64,
    power-of-two scale 1) the product is skipped. Elsewhere torch's ``eigh``.
    """
    import torch

    if tx.device.type != "cpu":
        return torch.linalg.eigh(centered_gram(tx))
    import scipy.linalg

    if gram is not None and tx.dtype == torch.float64 and sx == 1.0 and np.shape(gram) == (tx.shape[0], tx.shape[0]):
        k = _double_centre(np.asarray(gram, dtype=np.float64))
    else:
        a = xc.numpy()
        k = a @ a.T  # numpy recognises the symmetric product (syrk)
    s, v = scipy.linalg.eigh(k, driver="evd", check_finite=False, overwrite_a=True)
    return torch.from_numpy(s).to(tx.dtype), torch.from_numpy(v).to(tx.dtype)


def _mm(a: Any, b: Any) -> Any:
    """``a @ b`` for torch tensors; on the CPU through numpy's BLAS (2x torch's GEMM on the machine of issue 22)."""
    import torch

    if a.device.type == "cpu" and b.device.type == "cpu" and not (a.requires_grad or b.requires_grad):
        return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))
    return a @ b


def _float64(dtype: Any, like: Any, device: Any) -> bool:
    import torch

    return resolve_dtype(dtype, like=like, device=device) == torch.float64


def _loo_select(V, s, B, Yc, alphas, *, fixed_mean: bool, alpha_per_unit: bool):
    """Penalty per unit by closed-form leave-one-out, and the LOO predictions at that penalty.

    Parameters
    ----------
    V : (n, r) orthonormal eigenvectors of the centred training Gram matrix (or left singular
        vectors of the centred training features); s : (r,) their eigenvalues (>= 0)
    B : (r, U) = V.T @ Yc; Yc : (n, U) centred training targets; alphas : (A,) penalty grid
    fixed_mean : bool
        LOO keeps the training mean fixed (no 1/n intercept leverage).

    Returns
    -------
    chosen : (U,) penalty per unit; loo : (n, U) LOO predictions of the centred targets
    """
    import torch

    n = V.shape[0]
    A, U = alphas.shape[0], B.shape[1]
    offset = 0.0 if fixed_mean else 1.0 / n
    f = s[None, :] / (s[None, :] + alphas[:, None])  # (A, r) shrinkage factors
    H = offset + _mm(V.square(), f.T)  # (n, A) leverages
    denom = (1.0 - H).clamp_min(torch.finfo(V.dtype).eps)
    err = torch.empty((A, U), dtype=V.dtype, device=V.device)
    step = max(1, 1024 // max(U, 1))  # bounds the temporaries to n × ~1024
    for a0 in range(0, A, step):
        fa = f[a0 : a0 + step]
        fitted = _mm(V, (fa[:, :, None] * B[None]).permute(1, 0, 2).reshape(V.shape[1], -1))  # (n, a·U)
        resid = (Yc.repeat(1, fa.shape[0]) - fitted).reshape(n, fa.shape[0], U) / denom[:, a0 : a0 + step, None]
        err[a0 : a0 + step] = resid.square().sum(0)
    if alpha_per_unit:
        best = torch.argmin(err, dim=0)
    else:
        best = torch.full((U,), int(torch.argmin(err.mean(1))), dtype=torch.long, device=V.device)
    chosen = alphas[best]
    fc = s[:, None] / (s[:, None] + chosen[None, :])  # (r, U) shrinkage at each unit's penalty
    lev = offset + _mm(V.square(), fc)
    resid = (Yc - _mm(V, fc * B)) / (1.0 - lev).clamp_min(torch.finfo(V.dtype).eps)
    return chosen, Yc - resid


class _LinearMap:
    """What every fitted linear mapping shares: its affine map and ``predict``.

    The fit runs on centred, power-of-two-rescaled inputs (``prepare_pair``); :meth:`_store`
    keeps that internal map for ``predict`` and sets the public ``coef_``/``intercept_`` in the
    caller's units.
    """

    def _store(self, coef: Any, xmu: Any, ymu: Any, fx: Any, fy: Any, what: str) -> None:
        import torch

        if not bool(torch.isfinite(coef).all()):
            raise ValueError(
                f"The {what} fit is not finite in {str(coef.dtype).replace('torch.', '')}; compute in float64 (dtype='float64')."
            )
        self._coef, self._xmu, self._ymu, self._fx, self._fy = coef, xmu, ymu, fx, fy
        (sx, ox), (sy, oy) = fx, fy
        coef64 = coef.double() * (sy / sx)
        xmu64 = xmu.double() * sx + ox.reshape(-1)
        ymu64 = ymu.double() * sy + oy.reshape(-1)
        self.coef_ = coef64.cpu().numpy()
        self.intercept_ = (ymu64 - xmu64 @ coef64).cpu().numpy()

    def predict(self, x: Any) -> np.ndarray:
        """Predictions (n_stimuli, n_units) for ``x`` (n_stimuli, n_features)."""
        if not hasattr(self, "_coef"):
            raise ValueError(f"This {type(self).__name__} is not fitted yet; call fit(x, y) first.")
        tx = prepare_new(x, self._fx, self._coef)
        if tx.shape[1] != self.n_features_in_:
            raise ValueError(f"x has {tx.shape[1]} features but the mapping was fitted on {self.n_features_in_}.")
        sy, oy = self._fy
        return (((tx - self._xmu) @ self._coef + self._ymu).double() * sy + oy).cpu().numpy()


class RidgeMapping(_LinearMap):
    """Ridge regression (with intercept) whose penalty is chosen per unit by closed-form leave-one-out.

    Parameters
    ----------
    alphas : sequence of float, optional
        Penalty grid; default :data:`DEFAULT_ALPHAS`.
    scale_alphas : bool
        ``True`` (default): the grid multiplies the mean eigenvalue of the decomposed centred
        matrix (scale-free); ``False``: the penalties are absolute (as scikit-learn's ``RidgeCV``).
    loo : {'fixed_mean', 'exact'}
        Leave-one-out rule (see the module docstring); the benchmark protocol uses 'fixed_mean'.
    alpha_per_unit : bool
        One penalty per unit (default) or one for all units (minimum mean LOO error).
    device : str or torch.device, optional
        Where the fit runs (default: the input's device, else the ``device`` option, else CPU).
    dtype : {'float64', 'float32'}, optional
        Default: the ``dtype`` option (float64 on CPU).

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (n_features, n_units)
    intercept_ : numpy.ndarray, shape (n_units,)
    alpha_ : numpy.ndarray, shape (n_units,)
        The chosen (absolute) penalty per unit.
    loo_predictions_ : numpy.ndarray, shape (n_train, n_units)
        Leave-one-out predictions of the training targets at each unit's chosen penalty.
    """

    def __init__(
        self,
        alphas: Any = None,
        *,
        scale_alphas: bool = True,
        loo: str = "fixed_mean",
        alpha_per_unit: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        self.alphas = alphas
        self.scale_alphas = scale_alphas
        self.loo = loo
        self.alpha_per_unit = alpha_per_unit
        self.device = device
        self.dtype = dtype

    def _grid(self, mean_eig: float, like: Any) -> Any:
        import torch

        grid = np.atleast_1d(np.asarray(DEFAULT_ALPHAS if self.alphas is None else self.alphas, dtype=float))
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
            raise ValueError(f"The 'alphas' parameter of RidgeMapping must be a non-empty 1-D sequence of positive numbers. Got {self.alphas!r} instead.")
        if self.scale_alphas:
            grid = grid * (mean_eig if mean_eig > 0 else 1.0)  # the inputs are rescaled: no absolute floor
        return torch.as_tensor(grid, dtype=like.dtype, device=like.device)

    def fit(self, x: Any, y: Any, *, gram: Any = None) -> "RidgeMapping":
        """Fit on ``x`` (n_train, n_features) and ``y`` (n_train, n_units); returns ``self``.

        Parameters
        ----------
        x, y : Responses, arrays or tensors (n_train, n_features), (n_train, n_units)
        gram : numpy array (n_train, n_train), optional
            ``(x - c) @ (x - c).T`` for any fixed row vector ``c`` (e.g. the mean of a larger set
            the training stimuli come from), in float64: the kernel form double-centres it instead
            of forming it, so the splits of one protocol share one product (:func:`shared_gram`).
            Used only in the kernel form on the CPU in float64; ignored otherwise.
        """
        import torch

        if self.loo not in LOO_RULES:
            raise ValueError(f"The 'loo' parameter of RidgeMapping must be one of {set(LOO_RULES)}. Got {self.loo!r} instead.")
        f64 = _float64(self.dtype, x, self.device)
        tx, ty, fx, fy = prepare_pair(x, y, device=self.device, float64=f64)
        if constant_columns(tx).size == tx.shape[1]:
            raise ValueError("Every column of x is constant over the training stimuli; nothing can be predicted from it.")
        n, d = tx.shape
        xmu, ymu = tx.mean(0), ty.mean(0)
        Xc, Yc = tx - xmu, ty - ymu
        if d >= n:  # kernel form: decompose the n × n centred Gram matrix
            s, V = _kernel_eigh(tx, Xc, gram, fx[0])
            s = s.clamp_min(0)
            B = _mm(V.T, Yc)
            grid = self._grid(float(s.sum()) / max(s.numel(), 1), tx)
            chosen, loo = _loo_select(V, s, B, Yc, grid, fixed_mean=self.loo == "fixed_mean", alpha_per_unit=self.alpha_per_unit)
            coef = _mm(Xc.T, _mm(V, B / (s[:, None] + chosen[None, :])))
        else:  # primal form: the d × d covariance is small here
            s, E = torch.linalg.eigh(Xc.T @ Xc)
            keep = s > s.amax() * d * torch.finfo(tx.dtype).eps
            s, E = s[keep], E[:, keep]
            root = s.sqrt()
            V = (Xc @ E) / root
            B = V.T @ Yc
            grid = self._grid(float(s.sum()) / max(s.numel(), 1), tx)
            chosen, loo = _loo_select(V, s, B, Yc, grid, fixed_mean=self.loo == "fixed_mean", alpha_per_unit=self.alpha_per_unit)
            coef = E @ (root[:, None] * (B / (s[:, None] + chosen[None, :])))
        self._store(coef, xmu, ymu, fx, fy, "ridge")
        (sx, _), (sy, oy) = fx, fy
        self.alpha_ = (chosen.double() * sx * sx).cpu().numpy()
        self.loo_predictions_ = ((loo + ymu).double() * sy + oy).cpu().numpy()
        self.n_features_in_ = d
        return self

    def __repr__(self) -> str:
        return f"RidgeMapping(alphas={'default' if self.alphas is None else 'custom'}, scale_alphas={self.scale_alphas}, loo={self.loo!r})"
