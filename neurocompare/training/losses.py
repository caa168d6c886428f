"""Loss terms as pure functions over tensors, with thin ``nn.Module`` wrappers.

Each term is tested on its own (``tests/test_losses.py``):

- :func:`nt_xent` — SimCLR's normalised-temperature cross-entropy (InfoNCE over 2N views);
- :func:`vicreg_loss` — variance–invariance–covariance regularisation;
- :func:`irm_penalty` — IRMv1's squared gradient of the risk w.r.t. a dummy classifier scale;
- :func:`linear_cka` (differentiable; the similarity package's ``cka_linear_torch``),
  :func:`cka_alignment_loss` — Dapello et al.'s ``log(1 − CKA)`` term between a model layer and
  recorded responses;
- :func:`rdm_alignment_loss` — the RDM-matching variant (1 − Pearson r between RDMs, built with
  the similarity package's differentiable ``rdm_torch``).

References
----------
Chen, Kornblith, Norouzi & Hinton (2020). A simple framework for contrastive learning of visual
representations. ICML.
Bardes, Ponce & LeCun (2022). VICReg. ICLR.
Arjovsky, Bottou, Gulrajani & Lopez-Paz (2019). Invariant Risk Minimization. arXiv:1907.02893.
Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network representations revisited. ICML.
Dapello, Kar, Schrimpf, et al. (2023). Aligning model and macaque inferior temporal cortex
representations improves model-to-human behavioral alignment and adversarial robustness. ICLR.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "nt_xent",
    "NTXentLoss",
    "vicreg_loss",
    "VICRegLoss",
    "irm_penalty",
    "linear_cka",
    "cka_alignment_loss",
    "rdm_alignment_loss",
]


def _check_pair(z1: torch.Tensor, z2: torch.Tensor, name: str) -> None:
    if z1.dim() != 2 or z2.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(
            f"{name} expects two embeddings with dims (sample, feature) and equal shapes; got "
            f"{tuple(z1.shape)} and {tuple(z2.shape)}."
        )
    if z1.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples per view; got {z1.shape[0]}.")


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent (SimCLR) loss between two views.

    For the 2N L2-normalised embeddings, each sample's positive is its other view and its
    negatives are the other 2N−2 samples:
    ``ℓ_i = −log( exp(s_{i,p(i)}/τ) / Σ_{k≠i} exp(s_{i,k}/τ) )``, averaged over all 2N samples.

    Parameters
    ----------
    z1, z2 : torch.Tensor
        Embeddings of the two views, dims (sample, feature); row i of both is the same image.
    temperature : float
        τ > 0.

    Returns
    -------
    torch.Tensor
        Scalar loss. Its minimum tends to 0 for perfectly aligned, well-separated pairs at small τ.
    """
    _check_pair(z1, z2, "nt_xent")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0. Got {temperature!r} instead.")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0).float(), dim=1)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent`: ``NTXentLoss(temperature)(z1, z2)``."""

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        self.temperature = float(temperature)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return nt_xent(z1, z2, self.temperature)


def vicreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    eps: float = 1e-4,
    return_terms: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """VICReg loss: ``sim·MSE(z1, z2) + var·(hinge(z1) + hinge(z2))/2 + cov·(C(z1) + C(z2))``.

    ``hinge(z) = mean_j relu(1 − sqrt(var_j(z) + eps))``; ``C(z)`` = sum of squared off-diagonal
    covariances divided by the feature count.

    Parameters
    ----------
    z1, z2 : torch.Tensor
        Dims (sample, feature).
    return_terms : bool
        Also return ``{"invariance", "variance", "covariance"}`` (unweighted).
    """
    _check_pair(z1, z2, "vicreg_loss")
    z1, z2 = z1.float(), z2.float()
    n, d = z1.shape
    inv = F.mse_loss(z1, z2)

    def var_term(z: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - torch.sqrt(z.var(dim=0) + eps)).mean()

    def cov_term(z: torch.Tensor) -> torch.Tensor:
        zc = z - z.mean(dim=0)
        cov = zc.T @ zc / (n - 1)
        off = cov - torch.diag(torch.diagonal(cov))
        return off.pow(2).sum() / d

    var = 0.5 * (var_term(z1) + var_term(z2))
    cov = cov_term(z1) + cov_term(z2)
    loss = sim_weight * inv + var_weight * var + cov_weight * cov
    if return_terms:
        return loss, {"invariance": inv.detach(), "variance": var.detach(), "covariance": cov.detach()}
    return loss


class VICRegLoss(nn.Module):
    """Module form of :func:`vicreg_loss`."""

    def __init__(self, sim_weight: float = 25.0, var_weight: float = 25.0, cov_weight: float = 1.0) -> None:
        super().__init__()
        self.sim_weight, self.var_weight, self.cov_weight = float(sim_weight), float(var_weight), float(cov_weight)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return vicreg_loss(z1, z2, sim_weight=self.sim_weight, var_weight=self.var_weight, cov_weight=self.cov_weight)


def irm_penalty(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """IRMv1 penalty: ``‖∇_{w|w=1} R(w · logits, y)‖²`` for one environment.

    Binary tasks (``y`` float with dims (sample,), ``logits`` (sample,) or (sample, 1)) use the
    logistic loss; multiclass (``y`` int64, ``logits`` (sample, class)) use cross-entropy.
    The penalty is 0 exactly when scaling the classifier cannot lower this environment's risk.

    Returns
    -------
    torch.Tensor
        Scalar, differentiable w.r.t. ``logits`` (``create_graph=True``).
    """
    scale = torch.ones((), device=logits.device, dtype=logits.dtype, requires_grad=True)
    risk = _risk(logits * scale, y)
    (grad,) = torch.autograd.grad(risk, [scale], create_graph=True)
    return grad.pow(2)


def _risk(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if y.dtype.is_floating_point:
        if logits.dim() == 2 and logits.shape[1] == 1:
            logits = logits[:, 0]
        if logits.shape != y.shape:
            raise ValueError(
                f"Binary labels have shape {tuple(y.shape)} but logits have {tuple(logits.shape)}; "
                "expected logits (sample,) or (sample, 1)."
            )
        return F.binary_cross_entropy_with_logits(logits, y)
    if logits.dim() != 2:
        raise ValueError(f"Integer labels need logits with dims (sample, class); got {tuple(logits.shape)}.")
    return F.cross_entropy(logits, y)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Differentiable linear CKA between two representations of the same stimuli.

    ``CKA = ‖Ycᵀ Xc‖²_F / (‖Xcᵀ Xc‖_F ‖Ycᵀ Yc‖_F)`` with column-centred ``Xc``, ``Yc``. This is
    ``neurocompare.similarity.cka_linear_torch`` (the project's one implementation) computed in
    at least float32 (half-precision activations under AMP are promoted), with ``y`` moved to
    ``x``'s device.

    Parameters
    ----------
    x : torch.Tensor
        Dims (stimulus, feature) or (stimulus, ...) (flattened).
    y : torch.Tensor
        Dims (stimulus, unit).

    Returns
    -------
    torch.Tensor
        Scalar in [0, 1]; 1 when ``y`` is an isotropic scaling/rotation of ``x``.

    Raises
    ------
    ValueError
        Different numbers of stimuli, fewer than 4 stimuli, or a side without variance.
    """
    from neurocompare.similarity import cka_linear_torch

    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same stimuli (rows); got {x.shape[0]} and {y.shape[0]}.")
    dtype = torch.promote_types(x.dtype, torch.float32)
    x = x.reshape(x.shape[0], -1).to(dtype)
    y = y.reshape(y.shape[0], -1).to(x.device, dtype)
    return cka_linear_torch(x, y)


def cka_alignment_loss(features: torch.Tensor, neural: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Dapello et al. (2023) neural-alignment term: ``log(1 − CKA(features, neural))``.

    Minimising it drives linear CKA towards 1. Computed on a mini-batch of the neural stimuli
    (columns centred within the batch).

    Parameters
    ----------
    features : torch.Tensor
        A model layer on the neural stimuli, dims (stimulus, ...).
    neural : torch.Tensor
        Recorded responses to the same stimuli, dims (stimulus, unit).
    """
    cka = linear_cka(features, neural)
    return torch.log(torch.clamp(1.0 - cka, min=eps))


def rdm_alignment_loss(features: torch.Tensor, neural: torch.Tensor) -> torch.Tensor:
    """RDM-matching variant: ``1 − Pearson r`` between the upper triangles of the model and neural
    correlation-distance RDMs (0 when the RDMs are affinely related).

    The RDMs are ``neurocompare.similarity.rdm_torch(·, "correlation")`` (differentiable), in at
    least float32.

    Parameters
    ----------
    features : torch.Tensor
        Dims (stimulus, ...).
    neural : torch.Tensor
        Dims (stimulus, unit); at least 3 stimuli.
    """
    if features.shape[0] != neural.shape[0]:
        raise ValueError(f"features and neural must share stimuli; got {features.shape[0]} and {neural.shape[0]}.")
    if features.shape[0] < 3:
        raise ValueError("rdm_alignment_loss needs at least 3 stimuli.")
    from neurocompare.similarity import rdm_torch

    dtype = torch.promote_types(features.dtype, torch.float32)
    a = rdm_torch(features.reshape(features.shape[0], -1).to(dtype), "correlation")
    b = rdm_torch(neural.reshape(neural.shape[0], -1).to(features.device, dtype), "correlation")
    iu = torch.triu_indices(a.shape[0], a.shape[0], offset=1, device=a.device)
    va, vb = a[iu[0], iu[1]], b[iu[0], iu[1]]
    va, vb = va - va.mean(), vb - vb.mean()
    r = (va * vb).sum() / (va.norm() * vb.norm() + 1e-12)
    return 1.0 - r
