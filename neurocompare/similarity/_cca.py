"""Canonical correlation analysis (CCA) family: mean CCA, SVCCA and PWCCA.

All three work in each representation's orthonormal basis (left singular vectors of the
column-centred responses, rank-truncated), so they never form a units-by-units matrix and are
invariant to any invertible linear map of either side:

- ``cca_mean``: mean of the ``min(r_x, r_y)`` canonical correlations (``r`` = rank).
- ``svcca`` (Raghu et al. 2017): keep the top singular directions of each side (those explaining
  ``variance`` of the variance, or ``keep`` of them), then mean CCA.
- ``pwcca`` (Morcos et al. 2018): canonical correlations weighted by how much of x's units each
  canonical variate accounts for, ``w_i = sum_j |<h_i, x_j>|``. Not symmetric: the weights come
  from ``x``.

Degenerate case (an error): the centred responses of ``n`` stimuli span at most ``n - 1``
dimensions, so when the retained ranks satisfy ``r_x + r_y >= n`` the two column spaces must share
``r_x + r_y - n + 1`` directions and that many canonical correlations are 1 whatever the data
(e.g. a wide layer against 640 images scores 1.0 against unrelated data). All CCA-family measures
(and :func:`neurocompare.similarity.shape_cca`) raise a ValueError then; reduce the dimensions
first (``svcca(x, y, keep=k)`` with ``2 k < n``) or use more stimuli. Short of that limit the
canonical correlations are still biased upward when ``r_x + r_y`` is a sizeable fraction of
``n``; keep the ranks well below ``n / 2``.

References
----------
Raghu, Gilmer, Yosinski & Sohl-Dickstein (2017). SVCCA: singular vector canonical correlation
analysis for deep learning dynamics and interpretability. NeurIPS.
Morcos, Raghu & Bengio (2018). Insights on representational similarity in neural networks with
canonical correlation. NeurIPS.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(40, 5))
>>> round(cca_mean(x, x @ rng.normal(size=(5, 5))), 6)
1.0
"""

from __future__ import annotations

from typing import Any

from neurocompare.similarity._metrics import register_metric
from neurocompare.similarity._rdm import pair
from neurocompare.typing import ResponsesLike

__all__ = ["basis", "canonical_correlations", "cca_mean", "check_not_degenerate", "svcca", "pwcca"]


def basis(x, *, keep: int | None = None, variance: float | None = None):
    """Orthonormal basis of the column-centred responses: ``xc = U diag(s) V'``, rank-truncated.

    Parameters
    ----------
    x : torch.Tensor, shape (n_stimuli, n_units)
    keep : int, optional
        Keep only the top ``keep`` singular directions.
    variance : float in (0, 1], optional
        Keep the fewest top directions whose squared singular values reach this fraction.

    Returns
    -------
    u : torch.Tensor (n_stimuli, r) with orthonormal columns
    s : torch.Tensor (r,) singular values, descending
    v : torch.Tensor (n_units, r) right singular vectors

    Raises
    ------
    ValueError
        If x has no variance across stimuli (rank 0).
    """
    import torch

    xc = x - x.mean(dim=0, keepdim=True)
    u, s, vh = torch.linalg.svd(xc, full_matrices=False)
    tol = float(s.max()) * max(xc.shape) * torch.finfo(xc.dtype).eps if s.numel() else 0.0
    r = int((s > tol).sum())
    if r == 0:
        raise ValueError(
            "CCA is undefined: the responses have no variance across stimuli (every unit is constant)."
        )
    if variance is not None:
        if not 0 < variance <= 1:
            raise ValueError(f"variance must be in (0, 1]; got {variance}.")
        frac = torch.cumsum(s[:r] ** 2, 0) / (s[:r] ** 2).sum()
        r = min(r, int((frac < variance - 1e-12).sum()) + 1)
    if keep is not None:
        if int(keep) < 1:
            raise ValueError(f"keep must be a positive number of directions; got {keep}.")
        r = min(r, int(keep))
    return u[:, :r], s[:r], vh[:r].T


def check_not_degenerate(rx: int, ry: int, n: int, what: str) -> None:
    """Raise when ``rx + ry >= n``: the column spaces are forced to share directions (correlations of 1)."""
    if rx + ry >= n:
        forced = rx + ry - n + 1
        raise ValueError(
            f"{what} is degenerate here: x keeps {rx} and y keeps {ry} dimensions, but {n} centred stimuli span only "
            f"{n - 1}, so {forced} canonical correlation(s) are 1 whatever the data. Reduce the dimensions first, "
            f"e.g. svcca(x, y, keep=k) with k <= {max((n - 1) // 2, 1)} (or PCA), or use more stimuli."
        )


def _correlations(ux, uy):
    """Canonical correlations and x-side canonical directions from two orthonormal bases."""
    import torch

    a, rho, _ = torch.linalg.svd(ux.T @ uy, full_matrices=False)
    return rho.clamp(0.0, 1.0), a


def canonical_correlations(x: ResponsesLike, y: ResponsesLike, *, device: Any = None, float64: bool | None = None):
    """All canonical correlations between x and y, descending.

    Parameters
    ----------
    x, y : Responses, arrays or tensors (n_stimuli, n_units)

    Returns
    -------
    numpy array, shape (min(rank_x, rank_y),), values in [0, 1]

    Raises
    ------
    ValueError
        ``rank_x + rank_y >= n_stimuli`` (degenerate: see the module docstring), constant input.
    """
    tx, ty = pair(x, y, device=device, float64=float64, centre="columns", rescale=True)
    ux, uy = basis(tx)[0], basis(ty)[0]
    check_not_degenerate(ux.shape[1], uy.shape[1], tx.shape[0], "CCA")
    rho, _ = _correlations(ux, uy)
    return rho.detach().cpu().double().numpy()


def cca_mean(x: ResponsesLike, y: ResponsesLike, *, device: Any = None, float64: bool | None = None) -> float:
    """Mean canonical correlation between x and y (1 when one is an invertible linear map of the other).

    Parameters
    ----------
    x, y : Responses with dims ('stimulus', 'unit'), arrays or tensors (n_stimuli, n_units)
    device, float64 : where and in which precision to compute

    Returns
    -------
    float in [0, 1]
    """
    return float(canonical_correlations(x, y, device=device, float64=float64).mean())


def svcca(
    x: ResponsesLike,
    y: ResponsesLike,
    *,
    variance: float | None = 0.99,
    keep: int | None = None,
    device: Any = None,
    float64: bool | None = None,
) -> float:
    """SVCCA: mean canonical correlation after keeping each side's top singular directions.

    Parameters
    ----------
    x, y : Responses, arrays or tensors (n_stimuli, n_units)
    variance : float in (0, 1] or None
        Keep the directions explaining this fraction of each side's variance (default 0.99, as in
        Raghu et al.). ``None`` disables the criterion.
    keep : int, optional
        Keep at most this many directions per side (applied after ``variance``).

    Returns
    -------
    float in [0, 1]
    """
    tx, ty = pair(x, y, device=device, float64=float64, centre="columns", rescale=True)
    ux = basis(tx, keep=keep, variance=variance)[0]
    uy = basis(ty, keep=keep, variance=variance)[0]
    check_not_degenerate(ux.shape[1], uy.shape[1], tx.shape[0], "SVCCA")
    rho, _ = _correlations(ux, uy)
    return float(rho.mean())


def pwcca(x: ResponsesLike, y: ResponsesLike, *, device: Any = None, float64: bool | None = None) -> float:
    """Projection-weighted CCA (Morcos et al. 2018); weights from x's units.

    The canonical variates ``h_i`` of x (unit-norm, n_stimuli long) are weighted by
    ``w_i = sum_j |<h_i, x_j>|`` over x's centred units ``x_j``; the score is
    ``sum_i w_i rho_i / sum_i w_i``.

    Parameters
    ----------
    x, y : Responses, arrays or tensors (n_stimuli, n_units)

    Returns
    -------
    float in [0, 1]; not symmetric in (x, y).
    """
    tx, ty = pair(x, y, device=device, float64=float64, centre="columns", rescale=True)
    ux = basis(tx)[0]
    uy = basis(ty)[0]
    check_not_degenerate(ux.shape[1], uy.shape[1], tx.shape[0], "PWCCA")
    rho, a = _correlations(ux, uy)
    h = ux @ a  # (n, k) canonical variates of x, orthonormal
    xc = tx - tx.mean(dim=0, keepdim=True)
    w = (h.T @ xc).abs().sum(dim=1)
    return float((w * rho).sum() / w.sum())


register_metric("cca_mean", cca_mean, direction="similarity")
register_metric("svcca", svcca, direction="similarity")
register_metric("pwcca", pwcca, direction="similarity")
