"""Neural collapse (NC1-NC4) of a layer's features, computed from streamed class statistics.

Notation (Papyan, Han & Donoho 2020). ``N`` samples ``h_i`` in ``R^d`` with labels ``y_i`` in
``C`` classes; class means ``mu_c``; global mean ``mu_G`` (the mean of all samples); centred
means ``M~`` of dims ``(class, feature)`` with rows ``mu_c - mu_G``;

- ``Sigma_W = 1/N sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T`` (within-class covariance),
- ``Sigma_B = 1/C sum_c (mu_c - mu_G)(mu_c - mu_G)^T = M~^T M~ / C`` (between-class).

A ``d x d`` matrix is never formed: ``Sigma_B`` lives in the span of the ``C`` centred means, so
``tr(Sigma_W Sigma_B^+)`` only needs ``Sigma_W`` projected on that span (``C x C``), and
``tr Sigma_W`` only needs squared norms. Two passes over the data do it: class means first, then
the within-class deviations. :class:`CollapseAccumulator` holds those statistics, so features
can arrive in batches (a layer of a network, a dataset larger than memory).

The four NC1 variants in use differ by large factors; the variant is always named:

==========  ===========================================================================
``papyan``  ``tr(Sigma_W Sigma_B^+) / C`` with the Moore-Penrose pseudo-inverse, Papyan et
            al. 2020. Singular values of ``M~`` below ``max(C, d) * eps * max_c ||mu_c||`` are
            dropped, ``eps`` the precision of the features as given (float32 activations:
            1.2e-7): centring the means cancels digits, and a pseudo-inverse with the usual
            ``eps * s_max`` tolerance inverts that rounding noise (NC1 of 1e20 and more).
``han``     ``Sigma_B^+`` from the top ``C - 1`` eigenpairs exactly, as in Han, Papyan & Donoho
            2022. The centred means span at most ``C - 1`` dimensions, so the two agree unless
            the means span fewer (then ``han`` divides by the near-zero ones and explodes, and
            ``papyan`` drops them).
``tirer``   ``tr Sigma_W / tr Sigma_B`` (Tirer, Huang & Niles-Weed 2023).
``cdnv``    class-distance-normalised variance, ``(var_c + var_c') / (2 ||mu_c - mu_c'||^2)``
            averaged over the ``C(C-1)/2`` class pairs, ``var_c`` the mean squared distance of
            class ``c`` to its mean (Galanti, Gyorgy & Hutter 2022).
==========  ===========================================================================

References
----------
Papyan, Han & Donoho (2020) Prevalence of neural collapse during the terminal phase of deep
learning training. PNAS 117:24652.
Han, Papyan & Donoho (2022) Neural collapse under MSE loss: proximity to and dynamics on the
central path. ICLR.
Zhu et al. (2021) A geometric analysis of neural collapse with unconstrained features. NeurIPS.
Tirer, Huang & Niles-Weed (2023) Perturbation analysis of neural collapse. ICML.
Galanti, Gyorgy & Hutter (2022) On the role of neural collapse in transfer learning. ICLR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurocompare._options import resolve_device, resolve_dtype
from neurocompare._result import Result

__all__ = ["NC1_VARIANTS", "CollapseResult", "CollapseAccumulator", "neural_collapse"]

NC1_VARIANTS = ("papyan", "han", "tirer", "cdnv")
_NC2_KEYS = ("equinorm", "equiangular", "maxangle", "etf")


def check_nc1_variant(nc1: Any, caller: str) -> str:
    """Return ``nc1`` if it is a known variant, else raise the standard ``ValueError``."""
    if nc1 not in NC1_VARIANTS:
        raise ValueError(
            f"The 'nc1' parameter of {caller}() must be one of {set(NC1_VARIANTS)}. Got {nc1!r} instead. "
            "The variants differ by large factors, so the choice is required: 'papyan' is "
            "tr(Sigma_W Sigma_B^+)/C as in Papyan et al. 2020."
        )
    return nc1


@dataclass
class CollapseResult(Result):
    """Neural-collapse measures of one set of features (one layer).

    Attributes
    ----------
    value : float
        NC1 in the variant ``nc1_variant``; NaN when all class means coincide (no between-class
        spread, e.g. a network whose units are all off).
    nc1_variant : str
    nc1 : dict of str to float
        Every NC1 variant (``papyan``, ``han``, ``tirer``, ``cdnv``), for comparison.
    nc2 : dict of str to float
        ``equinorm_means`` / ``equinorm_classifier``: coefficient of variation (s.d. with
        ddof=1 over mean) of the norms of the centred class means / classifier rows;
        ``equiangular_*``: s.d. (ddof=1) of the pairwise cosines; ``maxangle_*``: mean of
        ``|cos + 1/(C-1)|``; ``etf_*``: ``|| G/||G||_F - (I - 11^T/C)/sqrt(C-1) ||_F`` for the
        Gram ``G`` of the centred means / classifier rows (0 for a simplex ETF). Classifier
        entries are NaN without ``W``.
    nc3 : float
        Self-duality ``|| W/||W||_F - M~/||M~||_F ||_F^2`` (NaN without ``W``).
    nc4 : float
        Fraction of samples where the classifier's ``argmax(W h + b)`` and the nearest class
        mean disagree (NaN without ``W``).
    accuracy, ncc_accuracy : float
        Accuracy of the classifier (NaN without ``W``) and of the nearest-class-centre rule.
    n_samples, n_features, n_classes : int
    error, error_kind, ci
        No uncertainty is computed: NaN, ``"none"``, ``None``.
    """

    value: float
    nc1_variant: str
    nc1: dict[str, float]
    nc2: dict[str, float]
    nc3: float
    nc4: float
    accuracy: float
    ncc_accuracy: float
    n_samples: int
    n_features: int
    n_classes: int
    error: float = float("nan")
    error_kind: str = "none"
    ci: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, float]:
        """Flat ``{name: float}``: ``nc1`` (the chosen variant), ``nc1_<variant>``, ``nc2_<name>``, ``nc3``, ``nc4``, accuracies."""
        out = {"nc1": float(self.value)}
        out.update({f"nc1_{k}": float(v) for k, v in self.nc1.items()})
        out.update({f"nc2_{k}": float(v) for k, v in self.nc2.items()})
        out.update(nc3=float(self.nc3), nc4=float(self.nc4), accuracy=float(self.accuracy),
                   ncc_accuracy=float(self.ncc_accuracy))
        return out


def as_features(features: Any, labels: Any = None, caller: str = "neural_collapse") -> tuple[Any, np.ndarray]:
    """Features as a 2-D array or tensor of dims (sample, feature) and labels as a 1-D numpy array.

    A ``Responses`` DataArray gives its values (dims ('stimulus', 'unit')) and, when ``labels``
    is None, its ``label`` coordinate.

    Raises
    ------
    ValueError
        Features that are not 2-D, missing labels, or labels of the wrong length.
    """
    import torch
    import xarray as xr

    if isinstance(features, xr.DataArray):
        if labels is None:
            if "label" not in features.coords:
                raise ValueError(
                    f"{caller}() got a DataArray without a 'label' coordinate and no labels. Present coords: "
                    f"{sorted(features.coords)}. Pass labels=... or assign one: resp.assign_coords(label=('stimulus', y))."
                )
            labels = features.coords["label"].values
        features = features.values
    if labels is None:
        raise ValueError(f"{caller}() needs labels (one class per sample) for array features.")
    if not isinstance(features, torch.Tensor):
        features = np.asarray(features)
        if not np.issubdtype(features.dtype, np.number):
            raise TypeError(f"{caller}() needs numeric features; got dtype {features.dtype}.")
    if features.ndim != 2:
        raise ValueError(
            f"{caller}() expects features of dims (sample, feature); got shape {tuple(features.shape)}. "
            "Flatten the rest first: features.reshape(len(features), -1)."
        )
    labels = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != features.shape[0]:
        raise ValueError(
            f"{caller}() needs one label per sample: {features.shape[0]} samples but labels of shape {labels.shape}."
        )
    return features, labels


class CollapseAccumulator:
    """Class statistics for neural collapse, streamed over batches in two passes.

    Pass 1 (:meth:`add_means`) sums features per class; :meth:`finish_means` fixes the class
    means and the basis of their span; pass 2 (:meth:`add_within`) accumulates the within-class
    covariance projected on that span, the within-class sums of squares per class and, with a
    classifier, the classifier/nearest-centre agreement. :meth:`result` returns the measures.
    Memory is ``O(C d)``, never ``O(d^2)``.

    Parameters
    ----------
    n_classes : int
        Labels are integers in ``[0, n_classes)``.
    W : array of dims (class, feature), optional
        Classifier weights (``torch.nn.Linear.weight``), for NC2 (classifier), NC3 and NC4.
    b : array of dims (class,), optional
        Classifier bias.
    device, dtype : optional
        Where and in what to compute (default: CPU, the ``dtype`` option, float64).
    """

    def __init__(self, n_classes: int, W: Any = None, b: Any = None, *, device: Any = None, dtype: Any = None) -> None:
        import torch

        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
        self.n_classes = int(n_classes)
        self.device = resolve_device(device, like=W)
        self.dtype = resolve_dtype(dtype, like=W, device=self.device)
        self.W = self.b = None
        if W is not None:
            self.W = torch.as_tensor(np.asarray(W) if not isinstance(W, torch.Tensor) else W.detach())
            self.W = self.W.to(self.device, self.dtype)
            if self.W.ndim != 2 or self.W.shape[0] != self.n_classes:
                raise ValueError(
                    f"W must have dims (class, feature) with {self.n_classes} rows (one per class); got shape "
                    f"{tuple(self.W.shape)}. Pass the classifier's weight, e.g. model.fc.weight."
                )
            if b is not None:
                self.b = torch.as_tensor(np.asarray(b) if not isinstance(b, torch.Tensor) else b.detach())
                self.b = self.b.to(self.device, self.dtype).reshape(-1)
                if self.b.shape[0] != self.n_classes:
                    raise ValueError(f"b must have {self.n_classes} entries (one per class); got shape {tuple(self.b.shape)}.")
        elif b is not None:
            raise ValueError("A bias b was given without the classifier weight W; pass both or neither.")
        self.n_features: int | None = None
        self.input_eps = torch.finfo(self.dtype).eps
        self.counts = torch.zeros(self.n_classes, dtype=torch.long, device=self.device)
        self.sums: Any = None
        self.means: Any = None
        self._pass = 1

    # ------------------------------------------------------------------ helpers
    def _prepare(self, h: Any, y: Any) -> tuple[Any, Any]:
        import torch

        h = torch.as_tensor(h) if not isinstance(h, torch.Tensor) else h.detach()
        if h.dtype.is_floating_point:  # the precision the features carry sets the pseudo-inverse's tolerance
            self.input_eps = max(self.input_eps, torch.finfo(h.dtype).eps)
        h = h.to(self.device, self.dtype)
        if h.ndim != 2:
            raise ValueError(f"Features must have dims (sample, feature); got shape {tuple(h.shape)}.")
        y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).reshape(-1)
        if y.dtype.is_floating_point and not bool(torch.all(y == torch.round(y))):
            raise ValueError(f"Labels must be integer class indices; got non-integer values of dtype {y.dtype}.")
        y = y.to(self.device).long()
        if y.shape[0] != h.shape[0]:
            raise ValueError(f"{h.shape[0]} feature rows but {y.shape[0]} labels; give one label per row.")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.n_classes):
            raise ValueError(
                f"Labels must lie in [0, {self.n_classes}); got values from {int(y.min())} to {int(y.max())}."
            )
        if self.n_features is None:
            self.n_features = int(h.shape[1])
            if self.W is not None and self.W.shape[1] != self.n_features:
                raise ValueError(
                    f"W has {self.W.shape[1]} columns but the features have {self.n_features}; W must be the "
                    "classifier that reads these features (dims (class, feature))."
                )
        elif h.shape[1] != self.n_features:
            raise ValueError(f"Every batch needs {self.n_features} features; got {h.shape[1]}.")
        return h, y

    # ------------------------------------------------------------------ pass 1
    def add_means(self, h: Any, y: Any) -> None:
        """Pass 1: add a batch of features (dims (sample, feature)) and labels (sample,) to the class sums."""
        import torch

        if self._pass != 1:
            raise ValueError("add_means() belongs to the first pass; it is closed once finish_means() has run.")
        h, y = self._prepare(h, y)
        if self.sums is None:
            self.sums = torch.zeros(self.n_classes, h.shape[1], dtype=self.dtype, device=self.device)
        self.sums.index_add_(0, y, h)
        self.counts += torch.bincount(y, minlength=self.n_classes)

    def finish_means(self) -> None:
        """Fix the class means, the global mean and an orthonormal basis of the centred means.

        Raises
        ------
        ValueError
            No data, or a class without samples (its mean is undefined).
        """
        import torch

        if self.sums is None:
            raise ValueError("No features were added; call add_means() with at least one batch first.")
        empty = [int(c) for c in torch.nonzero(self.counts == 0).flatten()]
        if empty:
            raise ValueError(
                f"Classes {empty} have no samples, so their means are undefined. Give samples of every class "
                f"(counts per class: {self.counts.tolist()}), or relabel to the classes present."
            )
        self.n_samples = int(self.counts.sum())
        self.means = self.sums / self.counts[:, None].to(self.dtype)
        self.global_mean = self.sums.sum(0) / self.n_samples
        self.centred = self.means - self.global_mean  # (class, feature)
        # M~^T = U S V^T; U (feature, r) spans the centred means
        u, s, _ = torch.linalg.svd(self.centred.T, full_matrices=False)
        self.basis, self.singular_values = u, s
        r = u.shape[1]
        self.proj_scatter = torch.zeros(r, r, dtype=self.dtype, device=self.device)
        self.class_ss = torch.zeros(self.n_classes, dtype=self.dtype, device=self.device)
        self.n_seen = 0
        self.n_ncc_correct = self.n_clf_correct = self.n_disagree = 0
        self._mean_sq = (self.means**2).sum(1)
        self._pass = 2

    # ------------------------------------------------------------------ pass 2
    def add_within(self, h: Any, y: Any) -> None:
        """Pass 2: add the same batch again (after :meth:`finish_means`) for the within-class statistics."""
        if self._pass != 2:
            raise ValueError("add_within() needs the class means: run add_means() over all data, then finish_means().")
        h, y = self._prepare(h, y)
        dev = h - self.means[y]
        proj = dev @ self.basis
        self.proj_scatter += proj.T @ proj
        self.class_ss.index_add_(0, y, (dev**2).sum(1))
        ncc = (self._mean_sq[None, :] - 2 * h @ self.means.T).argmin(1)
        self.n_ncc_correct += int((ncc == y).sum())
        if self.W is not None:
            logits = h @ self.W.T + (self.b if self.b is not None else 0)
            pred = logits.argmax(1)
            self.n_clf_correct += int((pred == y).sum())
            self.n_disagree += int((pred != ncc).sum())
        self.n_seen += int(h.shape[0])

    # ------------------------------------------------------------------ results
    def nc1_all(self) -> dict[str, float]:
        """Every NC1 variant from the accumulated statistics (see the module docstring)."""
        import torch

        self._check_complete()
        C, N = self.n_classes, self.n_samples
        s2 = self.singular_values**2
        sw_diag = torch.diagonal(self.proj_scatter) / N  # u_i^T Sigma_W u_i
        # centring cancels digits: its rounding scales with the largest class-mean norm and the
        # precision of the features (float32 activations: 1.2e-7), not with the spread of the means
        tol = max(C, self.n_features) * self.input_eps * float(self.means.norm(dim=1).max())
        keep = self.singular_values > tol
        nan = float("nan")
        if not bool(keep.any()):  # every class has the same mean: no between-class spread, NC1 undefined
            return dict.fromkeys(NC1_VARIANTS, nan)
        papyan = float((sw_diag[keep] / s2[keep]).sum())  # tr(Sigma_W (M~^T M~/C)^+)/C
        han = float((sw_diag[: C - 1] / s2[: C - 1]).sum())  # inf when the means span < C - 1 dims exactly
        tr_w = float(self.class_ss.sum()) / N
        tirer = tr_w / (float(s2.sum()) / C)
        var = self.class_ss / self.counts.to(self.dtype)
        d2 = torch.cdist(self.means, self.means) ** 2
        iu = torch.triu_indices(C, C, 1, device=self.device)
        pair_d2 = d2[iu[0], iu[1]]
        cdnv = float(((var[iu[0]] + var[iu[1]]) / (2 * pair_d2)).mean())  # inf when two class means coincide
        return {"papyan": papyan, "han": han, "tirer": tirer, "cdnv": cdnv}

    def result(self, nc1: str) -> CollapseResult:
        """The :class:`CollapseResult` with NC1 in variant ``nc1``."""
        check_nc1_variant(nc1, "result")
        variants = self.nc1_all()
        nan = float("nan")
        nc2 = {f"{k}_means": v for k, v in _nc2(self.centred).items()}
        nc2.update({f"{k}_classifier": (v if self.W is not None else nan)
                    for k, v in (_nc2(self.W) if self.W is not None else dict.fromkeys(_NC2_KEYS, nan)).items()})
        nc3 = nc4 = acc = nan
        if self.W is not None:
            nc3 = float(((self.W / self.W.norm() - self.centred / self.centred.norm()) ** 2).sum())
            nc4 = self.n_disagree / self.n_seen
            acc = self.n_clf_correct / self.n_seen
        return CollapseResult(
            value=variants[nc1], nc1_variant=nc1, nc1=variants, nc2=nc2, nc3=nc3, nc4=nc4, accuracy=acc,
            ncc_accuracy=self.n_ncc_correct / self.n_seen, n_samples=self.n_samples,
            n_features=int(self.n_features), n_classes=self.n_classes,
        )

    def _check_complete(self) -> None:
        if self._pass != 2 or self.n_seen != self.n_samples:
            seen = getattr(self, "n_seen", 0)
            raise ValueError(
                f"The second pass saw {seen} samples but the first saw {getattr(self, 'n_samples', 0)}; run add_within() "
                "over exactly the data given to add_means()."
            )


def _nc2(rows: Any) -> dict[str, float]:
    """Equinorm, equiangularity, maximal angle and the ETF error of the rows of ``rows`` (class, feature)."""
    import torch

    C = rows.shape[0]
    norms = rows.norm(dim=1)
    unit = rows / norms.clamp_min(torch.finfo(rows.dtype).tiny)[:, None]
    iu = torch.triu_indices(C, C, 1, device=rows.device)
    cos = (unit @ unit.T)[iu[0], iu[1]]
    gram = rows @ rows.T
    target = (torch.eye(C, dtype=rows.dtype, device=rows.device) - 1.0 / C) / math.sqrt(C - 1)
    return {
        "equinorm": float(norms.std() / norms.mean()),
        "equiangular": float(cos.std()) if cos.numel() > 1 else 0.0,
        "maxangle": float((cos + 1.0 / (C - 1)).abs().mean()),
        "etf": float((gram / gram.norm() - target).norm()),
    }


def neural_collapse(
    features: Any,
    labels: Any = None,
    W: Any = None,
    b: Any = None,
    *,
    nc1: str,
    batch_size: int = 8192,
    device: Any = None,
    dtype: Any = None,
) -> CollapseResult:
    """Neural-collapse measures NC1-NC4 of one layer's features.

    Parameters
    ----------
    features : Responses, array or tensor of dims (sample, feature)
        A ``Responses`` may carry the labels as its ``label`` coordinate.
    labels : array of dims (sample,), optional
        Class of each sample. With ``W``: integers in ``[0, n_classes)`` where ``n_classes`` is
        the number of rows of ``W``. Without: any values; the classes are their sorted unique
        values.
    W : array of dims (class, feature), optional
        Classifier weights reading these features (needed for the classifier parts of NC2, NC3
        and NC4).
    b : array of dims (class,), optional
        Classifier bias.
    nc1 : {'papyan', 'han', 'tirer', 'cdnv'}
        The NC1 variant reported as ``value`` (required; all four are in ``result.nc1``).
    batch_size : int
        Rows processed at a time (memory ``O(batch_size * d + C * d)``, never ``d x d``).
    device, dtype : optional
        Computation device and dtype (default: the options; float64 on CPU).

    Returns
    -------
    CollapseResult

    Raises
    ------
    ValueError
        Unknown ``nc1``, features not 2-D, labels of the wrong length or out of range, fewer
        than 2 classes, a class of ``W`` without samples, or ``W``/``b`` of the wrong shape.

    References
    ----------
    Papyan, Han & Donoho (2020) PNAS 117:24652. Han, Papyan & Donoho (2022) ICLR. Zhu et al.
    (2021) NeurIPS. Tirer, Huang & Niles-Weed (2023) ICML. Galanti, Gyorgy & Hutter (2022) ICLR.

    Examples
    --------
    >>> import numpy as np
    >>> import neurocompare as nc
    >>> etf = np.eye(3) - 1 / 3                       # a simplex ETF of 3 classes in R^3
    >>> h, y = np.repeat(etf, 5, axis=0), np.repeat(np.arange(3), 5)
    >>> r = nc.learning.neural_collapse(h, y, W=etf, nc1="papyan")
    >>> round(r.value, 12), round(r.nc2["etf_means"], 12), round(r.nc3, 12), r.nc4
    (0.0, 0.0, 0.0, 0.0)
    """
    check_nc1_variant(nc1, "neural_collapse")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    h, y = as_features(features, labels)
    if W is not None:
        n_classes = int(np.shape(W)[0])
        if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
            raise ValueError(
                f"With a classifier W the labels must be integer class indices (row of W); got dtype {y.dtype}."
            )
        y = y.astype(np.int64)
    else:
        classes, y = np.unique(y, return_inverse=True)
        n_classes = len(classes)
        if n_classes < 2:
            raise ValueError(f"neural_collapse() needs at least 2 classes; the labels hold {n_classes}.")
    acc = CollapseAccumulator(n_classes, W, b, device=device, dtype=dtype)
    n = h.shape[0]
    for start in range(0, n, batch_size):
        acc.add_means(h[start:start + batch_size], y[start:start + batch_size])
    acc.finish_means()
    for start in range(0, n, batch_size):
        acc.add_within(h[start:start + batch_size], y[start:start + batch_size])
    return acc.result(nc1)
