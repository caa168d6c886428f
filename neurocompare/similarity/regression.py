"""Regression-based predictivity: cross-validated ridge and PLS mappings between two representations.

"Neural predictivity" fits a linear map from model features ``x`` (stimulus, feature) to recorded
units ``y`` (stimulus, unit) on 90 % of the stimuli, predicts the held-out 10 %, and scores each unit
by the Pearson correlation between its predicted and recorded responses. The protocol follows
Brain-Score (Schrimpf et al. 2018): 10 random shuffle splits (optionally stratified by a stimulus
label), median over units within a split, mean over splits, error = standard error over splits.

Two mappings are provided:

* **ridge** (:func:`ridge_predictivity`, the default): ridge regression with the penalty chosen per
  unit from a grid by closed-form leave-one-out (or generalized) cross-validation. One
  eigendecomposition per outer split serves every penalty and every unit. When features outnumber
  training stimuli the work happens in the stimulus Gram matrix (kernel form), so a
  features x features matrix is never built; the Gram matrix of all stimuli is computed once and
  each split centres its own sub-block.
* **PLS** (:func:`pls_predictivity`): partial least squares regression with 25 components, as in
  Brain-Score. ``backend='sklearn'`` runs scikit-learn's ``PLSRegression(n_components=25,
  scale=False)`` on each split, reproducing Brain-Score's protocol; ``backend='torch'`` (default)
  runs an exact kernel formulation of the same NIPALS algorithm (identical predictions up to
  floating-point and NIPALS convergence tolerance) in the stimulus Gram matrix.

:func:`reverse_predictivity` swaps the roles (recorded units predict model features).

All kernels are torch and run on CPU or CUDA (``device=``); ``float64=True`` for exact comparisons.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((200, 50))
>>> y = x @ rng.standard_normal((50, 8))          # noiseless linear map
>>> res = ridge_predictivity(x, y, float64=True, progress=False)
>>> round(res.value, 3)
1.0
>>> res.per_unit.shape                              # (n_splits, n_units)
(10, 8)
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neurocompare.data import align
from neurocompare.similarity._common import METRICS, as_pair

__all__ = [
    "PredictivityResult",
    "make_splits",
    "ridge_cv_fit_predict",
    "ridge_loo_fit_predict",
    "pls_fit_predict",
    "ridge_predictivity",
    "pls_predictivity",
    "reverse_predictivity",
    "pearson_per_column",
    "DEFAULT_RELATIVE_ALPHAS",
]

#: Default ridge grid, relative to the mean eigenvalue of the centred training Gram matrix
#: (trace / n_train), so that the grid follows the scale of the features.
DEFAULT_RELATIVE_ALPHAS = np.logspace(-4, 4, 17)
_MIN_TEST = 3
_GRAM_CHUNK = 2048


# ----------------------------------------------------------------------------- result type
@dataclass(frozen=True)
class PredictivityResult:
    """Outcome of a cross-validated predictivity run.

    Attributes
    ----------
    value : float
        Mean over splits of the median (over units) held-out Pearson r.
    error : float
        Standard error of ``value`` over splits: ``std(per_split) / sqrt(n_splits)`` with
        ``ddof=0`` (Brain-Score's convention).
    per_split : numpy.ndarray, shape (n_splits,)
        Median held-out r over units, per split.
    per_unit : numpy.ndarray, shape (n_splits, n_units)
        Held-out r of every target unit in every split. NaN where a unit's held-out responses are
        constant (r undefined); such entries are left out of the median.
    alphas : numpy.ndarray or None, shape (n_splits, n_units)
        Ridge penalty chosen for every unit and split (``None`` for PLS).
    method : str
        ``'ridge'``, ``'pls'`` or ``'pls-sklearn'``, prefixed with ``'reverse_'`` for reverse runs.
    params : dict
        The protocol parameters used (splits, train size, seed, grid, ...).
    """

    value: float
    error: float
    per_split: np.ndarray
    per_unit: np.ndarray
    alphas: np.ndarray | None
    method: str
    params: dict = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        n_splits, n_units = self.per_unit.shape
        return (
            f"PredictivityResult(method={self.method!r}, value={self.value:.4f}, error={self.error:.4f}, "
            f"n_splits={n_splits}, n_units={n_units})"
        )


# ----------------------------------------------------------------------------- helpers
def _progress(progress: bool) -> bool:
    return bool(progress) and os.environ.get("NEUROCOMPARE_QUIET", "0") != "1"


@contextmanager
def _lapack_threads(device: Any, n: int | None = None):
    """Run a block with ``NEUROCOMPARE_SOLVER_THREADS`` torch threads (default 1) on CPU.

    The per-split work (eigendecompositions, PLS deflations, n x n products) is dominated by
    LAPACK's symmetric eigensolver and small operations, which scale poorly with threads; under
    oversubscription (shared cores) OpenMP barriers make them 10-40x slower than one thread.
    The Gram matrix of all stimuli, one large product, keeps the caller's thread count.
    """
    import torch

    if n is None:
        n = int(os.environ.get("NEUROCOMPARE_SOLVER_THREADS", "1"))
    old = torch.get_num_threads()
    if torch.device(device).type != "cpu" or n == old or n < 1:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def make_splits(
    n_stimuli: int,
    *,
    n_splits: int = 10,
    train_size: float = 0.9,
    stratify: Any = None,
    seed: int = 1,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random train/test splits of ``n_stimuli`` stimuli, as Brain-Score draws them.

    Uses scikit-learn's ``ShuffleSplit`` (or ``StratifiedShuffleSplit`` when ``stratify`` labels
    are given) with ``random_state=seed``; Brain-Score's default seed is 1.

    Parameters
    ----------
    n_stimuli : int
    n_splits : int
        Number of random splits (default 10).
    train_size : float
        Fraction of stimuli used for fitting (default 0.9).
    stratify : array-like of shape (n_stimuli,), optional
        A label per stimulus (e.g. object category); each split keeps label proportions.
    seed : int

    Returns
    -------
    list of (train_index, test_index) integer arrays.

    Notes
    -----
    Brain-Score draws its splits over the *sorted unique* stimulus ids; to reproduce its exact
    splits, order the stimuli by ``stimulus_id`` first (``resp.sortby('stimulus_id')``).

    Raises
    ------
    ValueError
        If a held-out set would have fewer than 3 stimuli (Pearson r needs at least 3).
    """
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    if not 0.0 < float(train_size) < 1.0:
        raise ValueError(f"train_size must lie strictly between 0 and 1; got {train_size!r}.")
    if int(n_splits) < 1:
        raise ValueError(f"n_splits must be a positive integer; got {n_splits!r}.")
    n_train = int(math.floor(train_size * n_stimuli))
    n_test = n_stimuli - n_train
    if n_test < _MIN_TEST or n_train < _MIN_TEST:
        raise ValueError(
            f"With {n_stimuli} stimuli and train_size={train_size}, splits hold {n_train} training and "
            f"{n_test} held-out stimuli; held-out Pearson r needs at least {_MIN_TEST} of each. "
            "Use more stimuli or a smaller train_size."
        )
    if stratify is None:
        splitter = ShuffleSplit(n_splits=int(n_splits), train_size=train_size, test_size=None, random_state=seed)
        it = splitter.split(np.zeros(n_stimuli))
    else:
        labels = np.asarray(stratify)
        if labels.shape != (n_stimuli,):
            raise ValueError(f"stratify needs one label per stimulus ({n_stimuli}); got shape {labels.shape}.")
        splitter = StratifiedShuffleSplit(
            n_splits=int(n_splits), train_size=train_size, test_size=None, random_state=seed
        )
        it = splitter.split(np.zeros(n_stimuli), labels)
    return [(np.asarray(tr), np.asarray(te)) for tr, te in it]


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


def _constant_columns(t: Any) -> np.ndarray:
    """Indices of (near-)constant columns of a 2-D tensor."""
    import torch

    hi, lo = t.amax(0), t.amin(0)
    span = hi - lo
    scale = torch.maximum(hi.abs(), lo.abs())  # no full-size |t| temporary
    return torch.nonzero(span <= 1e3 * torch.finfo(t.dtype).eps * scale.clamp_min(1e-30)).flatten().cpu().numpy()


def _prepare(x: Any, y: Any, *, device: Any, float64: bool, stratify: Any):
    """Align, convert and validate the pair; resolve the stratification labels."""
    labels = None
    if isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray):
        x, y = align(x, y)
    if isinstance(stratify, str):
        for arr in (y, x):
            if isinstance(arr, xr.DataArray) and stratify in arr.coords and arr[stratify].dims == ("stimulus",):
                labels = np.asarray(arr[stratify].values)
                break
        else:
            raise ValueError(
                f"stratify={stratify!r} names no 'stimulus' coordinate of x or y. Pass Responses carrying "
                f"that coord, or pass the labels themselves (one per stimulus)."
            )
    elif stratify is not None:
        labels = np.asarray(stratify)
    tx, ty = as_pair(x, y, device=device, float64=float64)
    if tx.shape[1] == 0 or ty.shape[1] == 0:
        raise ValueError(f"x and y need at least one column; got shapes {tuple(tx.shape)} and {tuple(ty.shape)}.")
    const_y = _constant_columns(ty)
    if const_y.size:
        raise ValueError(
            f"{const_y.size} target unit(s) of y are constant over all stimuli (columns {const_y[:10].tolist()}"
            f"{'...' if const_y.size > 10 else ''}); their predictivity is undefined. Drop them first, e.g. "
            "y[:, y.std(0) > 0]."
        )
    if _constant_columns(tx).size == tx.shape[1]:
        raise ValueError("Every column of x is constant over stimuli; nothing can be predicted from it.")
    return tx, ty, labels


def _centered_gram(X: Any, chunk: int = _GRAM_CHUNK) -> Any:
    """Gram matrix of column-centred ``X`` (n, d) -> (n, n), built in feature chunks.

    Centring first avoids the cancellation of float32 sums when features have large means; the
    chunks keep the extra memory to n x chunk.
    """
    import torch

    mu = X.mean(0)
    n, d = X.shape
    K = torch.zeros((n, n), dtype=X.dtype, device=X.device)
    for start in range(0, d, chunk):
        block = X[:, start : start + chunk] - mu[start : start + chunk]
        K.addmm_(block, block.T)
    return K


def _split_kernels(K: Any, tr: Any, te: Any):
    """Centre the training block of a Gram matrix on the training mean; return (Kc, Ksc)."""
    Kc = K.index_select(0, tr).index_select(1, tr)  # a fresh copy, centred in place below
    Ksc = K.index_select(0, te).index_select(1, tr)
    r = Kc.mean(1)
    m = r.mean()
    Ksc.sub_(Ksc.mean(1, keepdim=True)).sub_(r[None, :]).add_(m)
    Kc.sub_(r[:, None]).sub_(r[None, :]).add_(m)  # symmetric by construction
    return Kc, Ksc


def _resolve_alphas(alphas: Any, mean_eig: float, dtype, device, relative: bool = False):
    import torch

    if alphas is None:
        grid = DEFAULT_RELATIVE_ALPHAS * max(mean_eig, np.finfo(float).tiny)
    else:
        grid = np.atleast_1d(np.asarray(alphas, dtype=float))
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
            raise ValueError(f"alphas must be a non-empty 1-D sequence of positive numbers; got {alphas!r}.")
        if relative:
            grid = grid * max(mean_eig, 1e-12)
    return torch.as_tensor(grid, dtype=dtype, device=device)


def _ridge_split(X, Y, K, tr, te, alphas, cv, alpha_per_unit, *, relative=False, fixed_mean=False, return_loo=False):
    """One outer split of ridge CV: returns (held-out predictions (m, U), chosen alphas (U,)).

    ``relative=True``: ``alphas`` multiply the mean of the decomposed eigenvalues (trace / n_train
    in kernel form, trace / rank in primal form). ``fixed_mean`` and ``return_loo``: see
    :func:`_ridge_spectral`.
    """
    import torch

    ytr = Y.index_select(0, tr)
    ymu = ytr.mean(0)
    Yc = ytr - ymu
    if K is not None:  # kernel form: features >= training stimuli
        Kc, Ksc = _split_kernels(K, tr, te)
        with _lapack_threads(Kc.device):
            s, V = torch.linalg.eigh(Kc)
        del Kc  # keep the peak at a few n x n matrices
        s = s.clamp_min(0)
        B = V.T @ Yc
        Q = Ksc @ V
        del Ksc
        mean_eig = float(s.sum()) / (max(s.numel(), 1) if relative else tr.numel())
        grid = _resolve_alphas(alphas, mean_eig, X.dtype, X.device, relative)
        return _ridge_spectral(V, s, B, Yc, Q, ymu, grid, cv, alpha_per_unit, fixed_mean=fixed_mean, return_loo=return_loo)
    # primal form: fewer features than training stimuli; d x d covariance is small here
    xtr = X.index_select(0, tr)
    xmu = xtr.mean(0)
    Xc = xtr - xmu
    with _lapack_threads(Xc.device):
        s, W = torch.linalg.eigh(Xc.T @ Xc)
    keep = s > s.amax() * X.shape[1] * torch.finfo(X.dtype).eps
    s, W = s[keep], W[:, keep]
    root = s.sqrt()
    V = (Xc @ W) / root  # (n, r) orthonormal left singular vectors
    B = V.T @ Yc
    Q = ((X.index_select(0, te) - xmu) @ W) * root
    mean_eig = float(s.sum()) / (max(s.numel(), 1) if relative else tr.numel())
    grid = _resolve_alphas(alphas, mean_eig, X.dtype, X.device, relative)
    return _ridge_spectral(V, s, B, Yc, Q, ymu, grid, cv, alpha_per_unit, fixed_mean=fixed_mean, return_loo=return_loo)


def _ridge_spectral(V, s, B, Yc, Q, ymu, alphas, cv, alpha_per_unit, *, fixed_mean=False, return_loo=False):
    """Select penalties by LOO/GCV from one eigendecomposition and predict held-out stimuli.

    Parameters
    ----------
    V : (n, r) orthonormal eigenvectors of the centred training Gram matrix (or left singular
        vectors of the centred training features)
    s : (r,) their eigenvalues (>= 0)
    B : (r, U) = V.T @ Yc
    Yc : (n, U) centred training targets
    Q : (m, r) test projections such that predictions = ymu + Q @ diag(1/(s+alpha)) @ B
    ymu : (U,) training means of the targets
    alphas : (A,) penalty grid
    fixed_mean : bool
        LOO keeps the training mean fixed (leverages without the 1/n of the intercept).
    return_loo : bool
        Also return the LOO predictions (n, U) of the training targets at the chosen penalties.

    Returns
    -------
    pred : (m, U) held-out predictions; chosen : (U,) penalty per unit[; loo : (n, U)]
    """
    import torch

    n = V.shape[0]
    A = alphas.shape[0]
    U = B.shape[1]
    f = s[None, :] / (s[None, :] + alphas[:, None])  # (A, r)
    if cv == "gcv":
        b2 = B.square()
        yss = Yc.square().sum(0)
        rss = yss[None, :] - b2.sum(0)[None, :] + (1 - f).square() @ b2
        dof = 1.0 + f.sum(1)
        err = n * rss.clamp_min(0) / (n - dof).clamp_min(torch.finfo(V.dtype).eps)[:, None] ** 2
    elif cv == "loo":
        # exact leave-one-out (scikit-learn's RidgeCV): residual / (1 - leverage), the intercept
        # being unpenalized adds 1/n to every leverage. Alphas are batched into one product.
        offset = 0.0 if fixed_mean else 1.0 / n
        H = offset + V.square() @ f.T  # (n, A) leverages
        denom = (1.0 - H).clamp_min(torch.finfo(V.dtype).eps)
        err = torch.empty((A, U), dtype=V.dtype, device=V.device)
        step = max(1, 1024 // max(U, 1))  # bounds the temporaries to n x ~1024
        for a0 in range(0, A, step):
            fa = f[a0 : a0 + step]  # (a, r)
            fitted = V @ (fa[:, :, None] * B[None]).permute(1, 0, 2).reshape(V.shape[1], -1)  # (n, a*U)
            resid = Yc.repeat(1, fa.shape[0]) - fitted
            resid = resid.reshape(n, fa.shape[0], U) / denom[:, a0 : a0 + step, None]
            err[a0 : a0 + step] = resid.square().sum(0)
    else:
        raise ValueError(f"The 'cv' parameter must be one of {{'loo', 'gcv'}}. Got {cv!r} instead.")
    if alpha_per_unit:
        best = torch.argmin(err, dim=0)
    else:
        best = torch.full((U,), int(torch.argmin(err.mean(1))), dtype=torch.long, device=V.device)
    chosen = alphas[best]
    pred = ymu[None, :] + Q @ (B / (s[:, None] + chosen[None, :]))
    if not return_loo:
        return pred, chosen
    fc = s[:, None] / (s[:, None] + chosen[None, :])  # (r, U) shrinkage at each unit's penalty
    lev = (0.0 if fixed_mean else 1.0 / n) + V.square() @ fc  # (n, U)
    resid = (Yc - V @ (fc * B)) / (1.0 - lev).clamp_min(torch.finfo(V.dtype).eps)
    return pred, chosen, ymu[None, :] + Yc - resid


def _pls_kernel(Kc, Ksc, Yc, ymu, n_components: int):
    """Kernel form of scikit-learn's NIPALS PLSRegression (mode A, regression deflation, no scaling).

    Every quantity lives in stimulus space: the x-weight of component k is the dominant right
    singular vector of X_k.T @ Y, so its score is ``t = K_k @ Y @ c / sigma`` with ``c`` the
    dominant eigenvector of ``Y.T @ K_k @ Y``; deflation ``X_k+1 = (I - t t.T / t.t) X_k`` becomes
    a rank-2 update of the Gram matrix. Test scores follow the same deflation on the cross Gram.

    Parameters
    ----------
    Kc : (n, n) centred training Gram; Ksc : (m, n) centred test-train cross Gram
        Both are deflated in place (pass copies to keep them).
    Yc : (n, U) centred training targets; ymu : (U,) their means

    Returns
    -------
    (m, U) held-out predictions
    """
    with _lapack_threads(Kc.device):
        return _pls_loop(Kc, Ksc, Yc, ymu, n_components)


def _pls_loop(Kk, Ks, Yc, ymu, n_components: int):
    """The component loop of :func:`_pls_kernel` (deflates ``Kk`` and ``Ks`` in place)."""
    import torch

    # Only the direction a = Y c enters the scores. With more targets than stimuli, Y.T K Y is
    # U x U; replace Y by an n-column factor Yr with Yr Yr.T = Y Y.T (same a up to the rotation
    # of c), so that nothing target x target is ever built.
    Yr = Yc
    if Yc.shape[1] > Yc.shape[0]:
        g, Ug = torch.linalg.eigh(Yc @ Yc.T)
        Yr = Ug * g.clamp_min(0).sqrt()
    M = Yr.T @ (Kk @ Yr)
    M = (M + M.T) / 2
    pred = ymu[None, :].expand(Ks.shape[0], -1).clone()
    first = None
    for _ in range(n_components):
        evals, evecs = torch.linalg.eigh(M)
        sigma2 = evals[-1]
        if first is None:
            first = float(sigma2)
        if not float(sigma2) > first * 1e-12 * max(1, M.shape[0]):
            break  # X or Y residual exhausted: later components add nothing
        a = Yr @ evecs[:, -1]
        t = Kk @ a
        ts = Ks @ a
        tt = float(t @ t)
        if not tt > 0:
            break
        q = (Yc.T @ t) / tt
        pred += ts[:, None] * q[None, :]
        Kt = Kk @ t
        tKt = float(t @ Kt)
        # test side: Ks <- (Ks - ts Kt.T / tt) (I - t t.T / tt)
        Ks.addr_(ts, Kt, alpha=-1.0 / tt)
        Ks.addr_(Ks @ t, t, alpha=-1.0 / tt)
        # train side: Kk <- P Kk P with P = I - t t.T / tt
        Kk.addr_(t, Kt, alpha=-1.0 / tt)
        Kk.addr_(Kt, t, alpha=-1.0 / tt)
        Kk.addr_(t, t, alpha=tKt / tt**2)
        # M = Yr.T Kk Yr, updated in place of recomputing it
        ay = Yr.T @ t
        by = Yr.T @ Kt
        M = M - (torch.outer(ay, by) + torch.outer(by, ay)) / tt + torch.outer(ay, ay) * (tKt / tt**2)
        M = (M + M.T) / 2
    return pred


# ----------------------------------------------------------------------------- single fits
def _stack_train_test(x_train: Any, y_train: Any, x_test: Any, *, device: Any, float64: bool):
    """Validate a train/test pair and stack it the way :func:`_ridge_split` expects.

    Returns
    -------
    tx : torch.Tensor, shape (n_train, n_features)
    X : torch.Tensor, shape (n_train + n_test, n_features)
        Training rows first, then test rows.
    Y : torch.Tensor, shape (n_train + n_test, n_units)
        Training targets, then zeros in the test rows (never read).
    tr, te : torch.Tensor
        Row indices of the training and test stimuli in ``X``.
    """
    import torch

    from neurocompare.similarity._common import as_matrix

    tx, ty = as_pair(x_train, y_train, device=device, float64=float64, min_stimuli=3)
    te_x = as_matrix(x_test, name="x_test", device=device, float64=float64, min_stimuli=1)
    if te_x.shape[1] != tx.shape[1]:
        raise ValueError(f"x_test has {te_x.shape[1]} features but x_train has {tx.shape[1]}.")
    X = torch.cat([tx, te_x], 0)
    n = tx.shape[0]
    tr = torch.arange(n, device=X.device)
    te = torch.arange(n, X.shape[0], device=X.device)
    Y = torch.cat([ty, torch.zeros((te.numel(), ty.shape[1]), dtype=ty.dtype, device=ty.device)], 0)
    return tx, X, Y, tr, te


def ridge_cv_fit_predict(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    *,
    alphas: Any = None,
    cv: str = "loo",
    alpha_per_unit: bool = True,
    device: Any = None,
    float64: bool = False,
):
    """Fit ridge regression with the penalty chosen by closed-form CV, and predict new stimuli.

    Equivalent to scikit-learn's ``RidgeCV(alphas, alpha_per_target=alpha_per_unit,
    fit_intercept=True).fit(x_train, y_train).predict(x_test)`` for ``cv='loo'``.

    Parameters
    ----------
    x_train : array-like, shape (n_train, n_features)
    y_train : array-like, shape (n_train, n_units)
    x_test : array-like, shape (n_test, n_features)
    alphas : sequence of float, optional
        Penalty grid (absolute). Default: :data:`DEFAULT_RELATIVE_ALPHAS` times the mean
        eigenvalue of the centred training Gram matrix.
    cv : {'loo', 'gcv'}
        Exact leave-one-out error, or generalized cross-validation (cheaper, approximate).
    alpha_per_unit : bool
        Choose a penalty per unit (True) or one for all (minimum mean error).
    device, float64
        Torch device and precision.

    Returns
    -------
    pred : numpy.ndarray, shape (n_test, n_units)
    alphas : numpy.ndarray, shape (n_units,)
        The chosen penalty per unit.
    """
    tx, X, Y, tr, te = _stack_train_test(x_train, y_train, x_test, device=device, float64=float64)
    n = tx.shape[0]
    with _lapack_threads(X.device):
        K = _centered_gram(X) if X.shape[1] >= n else None
        pred, chosen = _ridge_split(X, Y, K, tr, te, alphas, cv, alpha_per_unit)
    return pred.cpu().numpy(), chosen.cpu().numpy()


def ridge_loo_fit_predict(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    *,
    alphas: Any = None,
    relative_alphas: Any = None,
    loo: str = "exact",
    alpha_per_unit: bool = True,
    device: Any = None,
    float64: bool = False,
):
    """Ridge with the penalty chosen by closed-form leave-one-out, plus the leave-one-out predictions.

    Like :func:`ridge_cv_fit_predict` (``cv='loo'``), and also returns each training stimulus's
    prediction from the fit that left it out, at the penalty chosen for each unit. Those
    predictions score a mapping *inside* the training set without refitting, e.g. to choose a
    model layer without looking at held-out stimuli.

    Parameters
    ----------
    x_train : array-like, shape (n_train, n_features)
    y_train : array-like, shape (n_train, n_units)
    x_test : array-like, shape (n_test, n_features)
    alphas : sequence of float, optional
        Absolute penalty grid.
    relative_alphas : sequence of float, optional
        Penalty grid relative to the mean eigenvalue of the decomposed centred Gram matrix: the
        stimulus Gram matrix (trace / n_train) when ``n_features >= n_train``, otherwise the
        feature covariance over its numerically non-zero eigenvalues (trace / rank). Give
        ``alphas`` or ``relative_alphas``, not both; with neither, the grid is
        :data:`DEFAULT_RELATIVE_ALPHAS` times trace / n_train, as in :func:`ridge_cv_fit_predict`.
    loo : {'exact', 'fixed_mean'}
        ``'exact'``: the intercept is refitted without the left-out stimulus (scikit-learn's
        ``RidgeCV``). ``'fixed_mean'``: the training means stay those of all training stimuli
        (the centred data are fixed and only the penalized weights are refitted).
    alpha_per_unit : bool
        Choose a penalty per unit (True) or one for all units (minimum mean LOO error).
    device, float64
        Torch device (``'cuda'`` for the GPU) and precision.

    Returns
    -------
    pred : numpy.ndarray, shape (n_test, n_units)
        Predictions for ``x_test``.
    loo_pred : numpy.ndarray, shape (n_train, n_units)
        Leave-one-out predictions of ``y_train`` at each unit's chosen penalty.
    alphas : numpy.ndarray, shape (n_units,)
        The chosen (absolute) penalty per unit.

    Raises
    ------
    ValueError
        Both ``alphas`` and ``relative_alphas`` given, an unknown ``loo``, mismatched shapes, or
        every column of ``x_train`` constant.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((40, 5)); y = x @ rng.standard_normal((5, 2))
    >>> pred, loo_pred, chosen = ridge_loo_fit_predict(x, y, x[:3], float64=True)
    >>> pred.shape, loo_pred.shape, chosen.shape
    ((3, 2), (40, 2), (2,))
    """
    if loo not in ("exact", "fixed_mean"):
        raise ValueError(f"The 'loo' parameter of ridge_loo_fit_predict() must be one of {{'exact', 'fixed_mean'}}. Got {loo!r} instead.")
    if alphas is not None and relative_alphas is not None:
        raise ValueError("Give either alphas (absolute penalties) or relative_alphas, not both.")
    tx, X, Y, tr, te = _stack_train_test(x_train, y_train, x_test, device=device, float64=float64)
    n = tx.shape[0]
    if _constant_columns(tx).size == tx.shape[1]:
        raise ValueError("Every column of x_train is constant over the training stimuli; nothing can be predicted from it.")
    relative = relative_alphas is not None
    with _lapack_threads(X.device):
        K = _centered_gram(X) if X.shape[1] >= n else None
        pred, chosen, loo_pred = _ridge_split(
            X, Y, K, tr, te, relative_alphas if relative else alphas, "loo", alpha_per_unit,
            relative=relative, fixed_mean=loo == "fixed_mean", return_loo=True,
        )
    return pred.cpu().numpy(), loo_pred.cpu().numpy(), chosen.cpu().numpy()


def pls_fit_predict(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    *,
    n_components: int = 25,
    device: Any = None,
    float64: bool = False,
):
    """Fit PLS regression (NIPALS, no scaling) in kernel form and predict new stimuli.

    Matches scikit-learn's ``PLSRegression(n_components, scale=False).fit(x_train,
    y_train).predict(x_test)`` up to floating-point error and the convergence tolerance of
    scikit-learn's power iteration.

    Parameters
    ----------
    x_train : array-like, shape (n_train, n_features)
    y_train : array-like, shape (n_train, n_units)
    x_test : array-like, shape (n_test, n_features)
    n_components : int

    Returns
    -------
    numpy.ndarray, shape (n_test, n_units)
    """
    tx, X, Y, tr, te = _stack_train_test(x_train, y_train, x_test, device=device, float64=float64)
    _check_components(n_components, tx.shape[0])
    ty = Y[: tx.shape[0]]
    with _lapack_threads(X.device):
        Kc, Ksc = _split_kernels(_centered_gram(X), tr, te)
    ymu = ty.mean(0)
    return _pls_kernel(Kc, Ksc, ty - ymu, ymu, int(n_components)).cpu().numpy()


def _check_components(n_components: Any, n_train: int) -> None:
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer; got {n_components!r}.")
    if n_components >= n_train:
        raise ValueError(
            f"n_components={n_components} needs more than {n_components} training stimuli; got {n_train}. "
            "Lower n_components."
        )


# ----------------------------------------------------------------------------- protocols
def _aggregate(per_unit: np.ndarray) -> tuple[float, float, np.ndarray]:
    finite = np.isfinite(per_unit)
    if not finite.any(axis=1).all():
        bad = np.flatnonzero(~finite.any(axis=1))
        raise ValueError(
            f"In split(s) {bad.tolist()} every unit's held-out responses are constant, so no correlation is "
            "defined. Use more stimuli per split (a larger test fraction) or drop near-constant units."
        )
    per_split = np.array([np.median(row[np.isfinite(row)]) for row in per_unit])
    value = float(per_split.mean())
    error = float(per_split.std() / math.sqrt(per_split.size))
    return value, error, per_split


def _run_protocol(x, y, *, method, fit_split, n_splits, train_size, stratify, seed, device, float64, progress,
                  needs_gram, params):
    import torch
    from tqdm.auto import tqdm

    tx, ty, labels = _prepare(x, y, device=device, float64=float64, stratify=stratify)
    splits = make_splits(tx.shape[0], n_splits=n_splits, train_size=train_size, stratify=labels, seed=seed)
    small = tx.shape[0] * tx.shape[1] < 2**22  # threads only pay off for a large Gram product
    with _lapack_threads(tx.device, 1 if small else torch.get_num_threads()):
        K = _centered_gram(tx) if needs_gram(tx, splits) else None
    per_unit = np.empty((len(splits), ty.shape[1]))
    alphas = np.empty((len(splits), ty.shape[1]))
    with _lapack_threads(tx.device):
        for i, (tr_np, te_np) in enumerate(tqdm(splits, desc=method, disable=not _progress(progress), leave=False)):
            tr = torch.as_tensor(tr_np, device=tx.device)
            te = torch.as_tensor(te_np, device=tx.device)
            pred, chosen = fit_split(tx, ty, K, tr, te)
            per_unit[i] = pearson_per_column(pred, ty.index_select(0, te)).cpu().numpy()
            if chosen is not None:
                alphas[i] = chosen.cpu().numpy()
    value, error, per_split = _aggregate(per_unit)
    full = dict(params, n_splits=n_splits, train_size=train_size, seed=seed, n_stimuli=int(tx.shape[0]),
                n_features=int(tx.shape[1]), n_units=int(ty.shape[1]), stratified=labels is not None)
    return PredictivityResult(value, error, per_split, per_unit, alphas if method.endswith("ridge") else None,
                              method, full)


def ridge_predictivity(
    x: Any,
    y: Any,
    *,
    alphas: Any = None,
    cv: str = "loo",
    alpha_per_unit: bool = True,
    n_splits: int = 10,
    train_size: float = 0.9,
    stratify: Any = None,
    seed: int = 1,
    device: Any = None,
    float64: bool = False,
    progress: bool = True,
) -> PredictivityResult:
    """Cross-validated ridge predictivity of ``y`` from ``x`` (Brain-Score protocol, ridge mapping).

    For each of ``n_splits`` random splits, ridge regression (with intercept) is fitted on the
    training stimuli with the penalty chosen per unit by closed-form leave-one-out CV over
    ``alphas`` (one eigendecomposition per split serves all penalties and units), and each unit is
    scored by the Pearson r of its held-out predictions. Median over units, mean over splits.

    Parameters
    ----------
    x : Responses with dims ('stimulus', 'unit'), numpy array or torch tensor (n_stimuli, n_features)
        The predictors (e.g. model activations). Constant features carry no information and are
        ignored (the result is unchanged by them); an all-constant ``x`` is an error.
    y : Responses with dims ('stimulus', 'unit'), numpy array or torch tensor (n_stimuli, n_units)
        The targets (e.g. recorded neurons). Units constant over all stimuli raise an error; a
        unit whose *held-out* responses happen to be constant in one split gets NaN there and is
        left out of that split's median.
    alphas : sequence of float, optional
        Absolute penalty grid. Default: ``DEFAULT_RELATIVE_ALPHAS`` (1e-4 ... 1e4, 17 values) times
        the mean eigenvalue of each split's centred training Gram matrix, which makes the result
        invariant to rescaling ``x``.
    cv : {'loo', 'gcv'}
        Exact leave-one-out (scikit-learn's RidgeCV) or generalized cross-validation.
    alpha_per_unit : bool
        One penalty per unit (default) or a single penalty for all units.
    n_splits, train_size, seed
        Outer protocol (Brain-Score: 10, 0.9, 1).
    stratify : str or array-like, optional
        A 'stimulus' coord name of ``x``/``y`` or one label per stimulus for stratified splits.
    device : str or torch.device, optional
        ``'cpu'`` (default) or ``'cuda'``.
    float64 : bool
        Compute in double precision.
    progress : bool
        Show a progress bar over splits (silenced by ``NEUROCOMPARE_QUIET=1``).

    Returns
    -------
    PredictivityResult
        ``value``, ``error``, ``per_split``, ``per_unit`` (n_splits, n_units) and ``alphas``.

    Notes
    -----
    When ``n_features >= n_train`` the Gram matrix of all stimuli is computed once (n x n) and
    each split centres its sub-block, so no features x features matrix is ever allocated; otherwise
    the (small) features x features covariance of each split is decomposed.

    References
    ----------
    Schrimpf et al. (2018). Brain-Score: which artificial neural network for object recognition is
    most brain-like? bioRxiv 407007.
    Golub, Heath & Wahba (1979). Generalized cross-validation as a method for choosing a good ridge
    parameter. Technometrics 21(2).
    """
    if cv not in ("loo", "gcv"):
        raise ValueError(f"The 'cv' parameter of ridge_predictivity() must be one of {{'loo', 'gcv'}}. Got {cv!r} instead.")

    def needs_gram(tx, splits):
        return tx.shape[1] >= len(splits[0][0])

    def fit_split(tx, ty, K, tr, te):
        return _ridge_split(tx, ty, K, tr, te, alphas, cv, alpha_per_unit)

    params = {"cv": cv, "alpha_per_unit": alpha_per_unit,
              "alphas": None if alphas is None else np.asarray(alphas, dtype=float).tolist()}
    return _run_protocol(x, y, method="ridge", fit_split=fit_split, n_splits=n_splits, train_size=train_size,
                         stratify=stratify, seed=seed, device=device, float64=float64, progress=progress,
                         needs_gram=needs_gram, params=params)


def pls_predictivity(
    x: Any,
    y: Any,
    *,
    n_components: int = 25,
    backend: str = "torch",
    n_splits: int = 10,
    train_size: float = 0.9,
    stratify: Any = None,
    seed: int = 1,
    device: Any = None,
    float64: bool = False,
    progress: bool = True,
) -> PredictivityResult:
    """Cross-validated PLS predictivity of ``y`` from ``x``: Brain-Score's neural predictivity.

    Parameters
    ----------
    x : Responses with dims ('stimulus', 'unit'), numpy array or torch tensor (n_stimuli, n_features)
    y : Responses with dims ('stimulus', 'unit'), numpy array or torch tensor (n_stimuli, n_units)
    n_components : int
        PLS components (Brain-Score: 25).
    backend : {'torch', 'sklearn'}
        ``'sklearn'`` fits ``sklearn.cross_decomposition.PLSRegression(n_components,
        scale=False)`` on each split (Brain-Score's exact protocol, slow for many features);
        ``'torch'`` runs the equivalent kernel-form NIPALS (:func:`pls_fit_predict`).
    n_splits, train_size, stratify, seed, device, float64, progress
        As in :func:`ridge_predictivity`.

    Returns
    -------
    PredictivityResult (``alphas`` is None)

    References
    ----------
    Schrimpf et al. (2018), Brain-Score. Wold, Sjöström & Eriksson (2001). PLS-regression: a basic
    tool of chemometrics. Chemom. Intell. Lab. Syst. 58(2). Lindgren, Geladi & Wold (1993). The
    kernel algorithm for PLS. J. Chemometrics 7(1).
    """
    import torch

    if backend not in ("torch", "sklearn"):
        raise ValueError(f"The 'backend' parameter of pls_predictivity() must be one of {{'torch', 'sklearn'}}. "
                         f"Got {backend!r} instead.")
    n_train_est = int(math.floor(train_size * (x.shape[0] if hasattr(x, "shape") else 0)))
    if n_train_est:
        _check_components(n_components, n_train_est)

    if backend == "sklearn":
        from sklearn.cross_decomposition import PLSRegression

        def fit_split(tx, ty, K, tr, te):
            xtr, ytr = tx[tr].cpu().numpy(), ty[tr].cpu().numpy()
            model = PLSRegression(n_components=int(n_components), scale=False).fit(xtr, ytr)
            pred = model.predict(tx[te].cpu().numpy()).reshape(len(te), -1)
            return torch.as_tensor(pred, dtype=ty.dtype, device=ty.device), None

        needs_gram = lambda tx, splits: False  # noqa: E731
        method = "pls-sklearn"
    else:

        def fit_split(tx, ty, K, tr, te):
            Kc, Ksc = _split_kernels(K, tr, te)
            ytr = ty.index_select(0, tr)
            ymu = ytr.mean(0)
            return _pls_kernel(Kc, Ksc, ytr - ymu, ymu, int(n_components)), None

        needs_gram = lambda tx, splits: True  # noqa: E731
        method = "pls"
    return _run_protocol(x, y, method=method, fit_split=fit_split, n_splits=n_splits, train_size=train_size,
                         stratify=stratify, seed=seed, device=device, float64=float64, progress=progress,
                         needs_gram=needs_gram, params={"n_components": int(n_components), "backend": backend})


def reverse_predictivity(x: Any, y: Any, *, method: str = "ridge", **kwargs: Any) -> PredictivityResult:
    """How well recorded units ``y`` predict model features ``x`` (the reverse direction).

    A model can predict neurons well while carrying many features no neuron explains; the reverse
    direction measures that. Same protocol as :func:`ridge_predictivity` / :func:`pls_predictivity`
    with the roles swapped: the median is over model features.

    Parameters
    ----------
    x : Responses / array (n_stimuli, n_features)
        Model features (the targets here). Constant features raise an error: drop them first.
    y : Responses / array (n_stimuli, n_units)
        Recorded units (the predictors here).
    method : {'ridge', 'pls'}
    **kwargs
        Passed to the forward function.

    Returns
    -------
    PredictivityResult with ``method`` prefixed by ``'reverse_'``.
    """
    funcs = {"ridge": ridge_predictivity, "pls": pls_predictivity}
    if method not in funcs:
        raise ValueError(f"The 'method' parameter of reverse_predictivity() must be one of {set(funcs)}. "
                         f"Got {method!r} instead.")
    res = funcs[method](y, x, **kwargs)
    return PredictivityResult(res.value, res.error, res.per_split, res.per_unit, res.alphas,
                              "reverse_" + res.method, dict(res.params, direction="reverse"))


# ----------------------------------------------------------------------------- registry
@METRICS.register("ridge")
def ridge(x: Any, y: Any, **params: Any) -> float:
    """Cross-validated ridge predictivity of ``y`` from ``x`` (see :func:`ridge_predictivity`)."""
    params.setdefault("progress", False)
    return float(ridge_predictivity(x, y, **params).value)


@METRICS.register("pls")
def pls(x: Any, y: Any, **params: Any) -> float:
    """Brain-Score PLS predictivity of ``y`` from ``x`` (see :func:`pls_predictivity`)."""
    params.setdefault("progress", False)
    return float(pls_predictivity(x, y, **params).value)


@METRICS.register("reverse_ridge")
def reverse_ridge(x: Any, y: Any, **params: Any) -> float:
    """Cross-validated ridge predictivity of ``x`` from ``y`` (see :func:`reverse_predictivity`)."""
    params.setdefault("progress", False)
    return float(reverse_predictivity(x, y, method="ridge", **params).value)


# ----------------------------------------------------------------------------- command line
def register_cli(subparsers: Any) -> None:
    """Add the ``predictivity`` subcommand to an argparse ``subparsers`` object.

    ``neurocompare predictivity X.nc Y.nc [--method ridge|pls|pls-sklearn] [--reverse] [--json OUT]``
    scores how well the Responses in ``X.nc`` (e.g. a layer written by ``neurocompare extract``)
    predict those in ``Y.nc`` (a 'repetition' dim is averaged first).
    """
    p = subparsers.add_parser(
        "predictivity",
        help="cross-validated ridge/PLS predictivity between two saved Responses",
        description="Brain-Score protocol: 10 shuffle splits, 90%% train, median held-out Pearson r over units, "
        "mean over splits.",
    )
    p.add_argument("x", help="predictor Responses file (.nc), e.g. model activations")
    p.add_argument("y", help="target Responses file (.nc), e.g. recorded units; repetitions are averaged")
    p.add_argument("--method", choices=("ridge", "pls", "pls-sklearn"), default="ridge")
    p.add_argument("--reverse", action="store_true", help="predict x from y instead")
    p.add_argument("--cv", choices=("loo", "gcv"), default="loo", help="ridge penalty selection")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--train-size", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stratify", default=None, help="a 'stimulus' coord to stratify the splits by")
    p.add_argument("--n-components", type=int, default=25, help="PLS components")
    p.add_argument("--device", default=None)
    p.add_argument("--float64", action="store_true")
    p.add_argument("--json", default=None, help="also write the full result (per split, per unit) here")
    p.set_defaults(func=_cmd_predictivity)


def _cmd_predictivity(args: Any) -> int:
    import json

    from neurocompare.data import average_repetitions, load

    x, y = load(args.x), load(args.y)
    if "repetition" in y.dims:
        y = average_repetitions(y)
    if "repetition" in x.dims:
        x = average_repetitions(x)
    common = dict(n_splits=args.splits, train_size=args.train_size, seed=args.seed, stratify=args.stratify,
                  device=args.device, float64=args.float64, progress=True)
    if args.method == "ridge":
        kw = dict(common, cv=args.cv)
        res = reverse_predictivity(x, y, method="ridge", **kw) if args.reverse else ridge_predictivity(x, y, **kw)
    else:
        kw = dict(common, n_components=args.n_components, backend="sklearn" if args.method == "pls-sklearn" else "torch")
        res = reverse_predictivity(x, y, method="pls", **kw) if args.reverse else pls_predictivity(x, y, **kw)
    print(f"{res.method}: {res.value:.4f} ± {res.error:.4f} (median r over {res.per_unit.shape[1]} units, "
          f"mean over {res.per_unit.shape[0]} splits)")
    if args.json:
        out = {"method": res.method, "value": res.value, "error": res.error, "per_split": res.per_split.tolist(),
               "per_unit": np.where(np.isfinite(res.per_unit), res.per_unit, None).tolist(),
               "alphas": None if res.alphas is None else res.alphas.tolist(),
               "params": {k: v for k, v in res.params.items()}, "x": str(args.x), "y": str(args.y)}
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0
