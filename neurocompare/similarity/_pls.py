"""PLS mapping: scikit-learn's NIPALS ``PLSRegression(scale=False)`` in kernel form, as an estimator.

The one PLS implementation of the project. Every quantity lives in stimulus space: the x-weight
of component k is the dominant right singular vector of ``X_k.T @ Y``, so its score is
``t = K_k @ a`` with ``a = Y c`` and ``c`` the dominant eigenvector of ``Y.T @ K_k @ Y``;
deflation ``X_{k+1} = (I - t t.T / t.t) X_k`` becomes a rank-2 update of the Gram matrix ``K_k``.
The dominant eigenvector comes from an exact symmetric eigensolver, where scikit-learn runs a
power iteration stopped at a 1e-6 tolerance (with many targets the two can differ by ~1e-2; with
one target, or converged iterations, they agree to rounding: ``tests/test_protocol.py``).

Predictions of new stimuli are linear in their cross-Gram with the training stimuli,
``pred = ymu + (x - xmu) @ Xc.T @ D``; the dual coefficients ``D`` (n_train, n_units) follow
from the deflation steps, so ``coef_ = Xc.T @ D`` is stored and ``predict`` is one product.

References
----------
Wold, Sjöström & Eriksson (2001). PLS-regression: a basic tool of chemometrics. Chemom. Intell.
Lab. Syst. 58(2). Lindgren, Geladi & Wold (1993). The kernel algorithm for PLS. J. Chemometrics
7(1). Schrimpf et al. (2018), Brain-Score (25 components).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurocompare.similarity._ridge import _float64, _LinearMap, centered_gram, constant_columns, prepare_pair

__all__ = ["PLSMapping"]


def _pls_dual(K, Yc, n_components: int):
    """Kernel NIPALS on the centred Gram ``K`` (n, n) and centred targets ``Yc`` (n, U).

    Returns the dual coefficients ``D`` (n, U) such that predictions of centred inputs with
    cross-Gram ``Ks`` (m, n) are ``Ks @ D``, and the number of components used.
    """
    import torch

    Kk = K.clone()
    # Only the direction a = Y c enters the scores. With more targets than stimuli, Y.T K Y is
    # U × U; replace Y by an n-column factor Yr with Yr Yr.T = Y Y.T (same a up to the rotation
    # of c), so that nothing target × target is ever built.
    Yr = Yc
    if Yc.shape[1] > Yc.shape[0]:
        g, Ug = torch.linalg.eigh(Yc @ Yc.T)
        Yr = Ug * g.clamp_min(0).sqrt()
    M = Yr.T @ (Kk @ Yr)
    M = (M + M.T) / 2
    D = torch.zeros_like(Yc)
    steps: list[tuple[Any, Any, Any, float]] = []  # (a, t, K t, t.t) of every component
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
        tt = float(t @ t)
        if not tt > 0:
            break
        q = (Yc.T @ t) / tt
        # A test cross-Gram deflates as Ks_{k+1} = Ks_k (I - a Kt'/tt)(I - t t'/tt), and this
        # component adds (Ks_k a) q' to the prediction: map a back through the earlier steps.
        r = a
        for aj, tj, ktj, ttj in reversed(steps):
            w = r - tj * (tj @ r) / ttj
            r = w - aj * (ktj @ w) / ttj
        D += torch.outer(r, q)
        Kt = Kk @ t
        tKt = float(t @ Kt)
        steps.append((a, t, Kt, tt))
        Kk.addr_(t, Kt, alpha=-1.0 / tt)  # Kk <- P Kk P with P = I - t t'/tt
        Kk.addr_(Kt, t, alpha=-1.0 / tt)
        Kk.addr_(t, t, alpha=tKt / tt**2)
        ay, by = Yr.T @ t, Yr.T @ Kt
        M = M - (torch.outer(ay, by) + torch.outer(by, ay)) / tt + torch.outer(ay, ay) * (tKt / tt**2)
        M = (M + M.T) / 2
    return D, len(steps)


class PLSMapping(_LinearMap):
    """Partial least squares regression (NIPALS, no scaling) fitted in kernel form.

    Parameters
    ----------
    n_components : int
        Components (Brain-Score: 25); capped at ``n_train - 1`` and at the numerical rank of the
        centred training features (further components would only fit rounding noise).
    device : str or torch.device, optional
    dtype : {'float64', 'float32'}, optional
        Default: the ``dtype`` option (float64 on CPU).

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (n_features, n_units)
    intercept_ : numpy.ndarray, shape (n_units,)
    n_components_ : int
        Components actually used (fewer when the residual is exhausted).
    rank_ : int
        Numerical rank of the centred training features (eigenvalues of their Gram matrix above
        ``max * n * eps``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((30, 8)); y = x[:, :2] + 0.1 * rng.standard_normal((30, 2))
    >>> PLSMapping(n_components=3).fit(x, y).predict(x[:4]).shape
    (4, 2)
    """

    def __init__(self, n_components: int = 25, *, device: Any = None, dtype: Any = None) -> None:
        self.n_components = n_components
        self.device = device
        self.dtype = dtype

    def fit(self, x: Any, y: Any) -> "PLSMapping":
        """Fit on ``x`` (n_train, n_features) and ``y`` (n_train, n_units); returns ``self``."""
        import torch

        if isinstance(self.n_components, bool) or not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ValueError(f"The 'n_components' parameter of PLSMapping must be a positive integer. Got {self.n_components!r} instead.")
        f64 = _float64(self.dtype, x, self.device)
        tx, ty, fx, fy = prepare_pair(x, y, device=self.device, float64=f64)
        if constant_columns(tx).size == tx.shape[1]:
            raise ValueError("Every column of x is constant over the training stimuli; nothing can be predicted from it.")
        xmu, ymu = tx.mean(0), ty.mean(0)
        K = centered_gram(tx)
        # components beyond the numerical rank of the centred features fit rounding noise: cap there
        ev = torch.linalg.eigvalsh(K)
        rank = int((ev > ev.amax().clamp_min(0) * K.shape[0] * torch.finfo(K.dtype).eps).sum())
        k = int(min(self.n_components, tx.shape[0] - 1, max(rank, 1)))
        D, used = _pls_dual(K, ty - ymu, k)
        coef = (tx - xmu).T @ D
        self._store(coef, xmu, ymu, fx, fy, "PLS")
        self.n_components_ = used
        self.rank_ = rank
        self.n_features_in_ = tx.shape[1]
        return self

    def __repr__(self) -> str:
        return f"PLSMapping(n_components={self.n_components})"
