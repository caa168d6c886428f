"""Generalized shape metrics on neural representations (Williams, Kunz, Kornblith & Linderman 2021).

Each representation is column-centred and partially whitened, ``X_w = X Z_alpha`` with
``Z_alpha = alpha I + (1 - alpha) (X'X)^(-1/2)``, and the two are then optimally rotated onto
each other. ``alpha`` runs from 0 (full whitening: the metric allows any invertible linear map, a
CCA-type metric) to 1 (no whitening: rotations only, Procrustes). The distance is

- ``'angular'`` (default): ``arccos(|X_w' Y_w|_* / (|X_w|_F |Y_w|_F))`` in ``[0, pi]``, where
  ``|.|_*`` is the nuclear norm (the value of the optimal rotation), or
- ``'euclidean'``: ``min_Q |X_w - Y_w Q|_F`` with the whitening rescaled to keep the total
  variance (netrep's ``preserve_variance``).

Both are metrics: symmetric, zero exactly when the representations are equivalent under the
allowed transformations, and obey the triangle inequality. Unequal widths are handled by
zero-padding the narrower representation, which is implicit here: everything is computed in each
representation's rank-``r`` coordinates ``U diag(s)`` (``r <= n_stimuli``), so no units-by-units
matrix is ever formed.

Note: for ``'euclidean'`` netrep counts the padded (zero-variance) dimensions in its variance
rescaling; we count only the ``r`` non-null directions, so euclidean values can differ from
netrep's by that scale when widths differ. Angular distances are unaffected.

References
----------
Williams, Kunz, Kornblith & Linderman (2021). Generalized shape metrics on neural representations.
NeurIPS. (Reference implementation: the netrep package, ``LinearMetric``.)

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(30, 6))
>>> q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
>>> round(procrustes(x, x @ q), 6)
0.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurocompare.similarity._metrics import register_metric
from neurocompare.similarity._cca import basis, check_not_degenerate
from neurocompare.similarity._rdm import _matrix, pair
from neurocompare.typing import ResponsesLike

__all__ = ["shape_distance", "procrustes", "shape_cca", "pairwise_shape_distances", "whiten_coords"]

SCORES = ("angular", "euclidean")


def whiten_coords(x, alpha: float, *, preserve_variance: bool = True):
    """Partially whitened representation in its own rank-r coordinates.

    Parameters
    ----------
    x : torch.Tensor, shape (n_stimuli, n_units)
    alpha : float in [0, 1]

    Returns
    -------
    u : torch.Tensor (n_stimuli, r), orthonormal columns
    a : torch.Tensor (r,), so that the whitened representation is ``u * a`` (up to a rotation)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 (CCA-like) and 1 (Procrustes); got {alpha}.")
    u, s, _ = basis(x)
    a = alpha * s + (1.0 - alpha)  # s * (alpha + (1 - alpha) / s)
    if preserve_variance and alpha < 1.0:
        lam = s * s
        a = a * (lam.sum() / (a * a).sum()).sqrt()
    return u, a


def _distance(ux, ax, uy, ay, score: str):
    import torch

    m = (ax[:, None] * (ux.T @ uy)) * ay[None, :]
    nuc = torch.linalg.svdvals(m).sum()
    nx2, ny2 = (ax * ax).sum(), (ay * ay).sum()
    if score == "angular":
        cos = float(nuc / (nx2 * ny2).sqrt())
        return math.acos(min(1.0, max(-1.0, cos)))
    return math.sqrt(max(0.0, float(nx2 + ny2 - 2.0 * nuc)))


def _check(score: str, zero_pad: bool, px: int, py: int):
    if score not in SCORES:
        raise ValueError(f"The 'score' parameter must be one of {set(SCORES)}. Got {score!r} instead.")
    if not zero_pad and px != py:
        raise ValueError(
            f"x has {px} units and y has {py}; shape metrics need equal widths unless zero_pad=True "
            "(pad the narrower representation with zero-variance units)."
        )


def shape_distance(
    x: ResponsesLike,
    y: ResponsesLike,
    *,
    alpha: float = 1.0,
    score: str = "angular",
    zero_pad: bool = True,
    device: Any = None,
    float64: bool | None = None,
) -> float:
    """Generalized shape distance between two representations of the same stimuli.

    Parameters
    ----------
    x : Responses with dims ('stimulus', 'unit'), numpy array or torch tensor (n_stimuli, n_units_x)
    y : same kind (n_stimuli, n_units_y); aligned on ``stimulus_id`` when both are Responses
    alpha : float in [0, 1]
        0: CCA-like (invariant to invertible linear maps); 1: Procrustes (rotations only).
    score : {'angular', 'euclidean'}
        Ground metric (see the module docstring).
    zero_pad : bool
        Allow unequal widths (the narrower side is implicitly padded with zero units).
    device, float64 : where and in which precision to compute

    Returns
    -------
    float
        0 for ``(x, x)``; angular distances lie in ``[0, pi]``.

    Raises
    ------
    ValueError
        With ``alpha=0`` (full whitening), when the two ranks add up to the number of stimuli or
        more: the distance would be 0 for unrelated data (see :func:`neurocompare.similarity.cca_mean`).
    """
    # angular distances are scale-free (exact power-of-two rescaling); both are translation-free
    tx, ty = pair(x, y, device=device, float64=float64, centre="columns", rescale=score == "angular")
    _check(score, zero_pad, tx.shape[1], ty.shape[1])
    ux, ax = whiten_coords(tx, alpha)
    uy, ay = whiten_coords(ty, alpha)
    if alpha == 0.0:
        check_not_degenerate(ux.shape[1], uy.shape[1], tx.shape[0], "The CCA shape distance (alpha=0)")
    return _distance(ux, ax, uy, ay, score)


def procrustes(x: ResponsesLike, y: ResponsesLike, *, score: str = "angular", device: Any = None, float64: bool | None = None) -> float:
    """Procrustes shape distance (``shape_distance(..., alpha=1)``): 0 when y is a rotation of x."""
    return shape_distance(x, y, alpha=1.0, score=score, device=device, float64=float64)


def shape_cca(x: ResponsesLike, y: ResponsesLike, *, score: str = "angular", device: Any = None, float64: bool | None = None) -> float:
    """CCA shape distance (``shape_distance(..., alpha=0)``): 0 when y is an invertible linear map of x."""
    return shape_distance(x, y, alpha=0.0, score=score, device=device, float64=float64)


def pairwise_shape_distances(
    reps: list,
    *,
    alpha: float = 1.0,
    score: str = "angular",
    device: Any = None,
    float64: bool | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Distance matrix between many representations (networks, layers, animals) of the same stimuli.

    Each representation is whitened once (its "partial fit"); every pair then costs one small
    ``(r_i, r_j)`` SVD.

    Parameters
    ----------
    reps : list of Responses, arrays or tensors, each (n_stimuli, n_units_i)
        Responses are aligned to the first one's ``stimulus_id`` order.
    alpha, score, device, float64
        As in :func:`shape_distance`.
    progress : bool
        Show a tqdm bar (silent when ``NEUROCOMPARE_QUIET=1``).

    Returns
    -------
    numpy array (k, k): symmetric, zero diagonal.
    """
    from neurocompare._options import progress_enabled

    import xarray as xr
    from tqdm.auto import tqdm

    from neurocompare.data import align

    if len(reps) < 2:
        raise ValueError(f"pairwise_shape_distances() needs at least 2 representations; got {len(reps)}.")
    if score not in SCORES:
        raise ValueError(f"The 'score' parameter must be one of {set(SCORES)}. Got {score!r} instead.")
    first = reps[0]
    mats = []
    for i, r in enumerate(reps):
        if isinstance(first, xr.DataArray) and isinstance(r, xr.DataArray):
            _, r = align(first, r)
        t = _matrix(r, f"reps[{i}]", device, float64, centre="columns", rescale=score == "angular")
        if mats and t.shape[0] != mats[0].shape[0]:
            raise ValueError(f"reps[{i}] has {t.shape[0]} stimuli but reps[0] has {mats[0].shape[0]}.")
        mats.append(t)
    fitted = [whiten_coords(t, alpha) for t in mats]
    if alpha == 0.0:
        ranks = sorted(f[0].shape[1] for f in fitted)
        check_not_degenerate(ranks[-1], ranks[-2], mats[0].shape[0], "The CCA shape distance (alpha=0)")
    k = len(fitted)
    out = np.zeros((k, k))
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    quiet = not progress_enabled(progress)
    for i, j in tqdm(pairs, desc="shape distances", disable=quiet):
        out[i, j] = out[j, i] = _distance(*fitted[i], *fitted[j], score)
    return out


register_metric("procrustes", procrustes, direction="distance")
register_metric("shape", shape_distance, direction="distance")
register_metric("shape_cca", shape_cca, direction="distance")
