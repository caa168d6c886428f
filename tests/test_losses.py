"""Each loss term on its own, with known answers on constructed data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurocompare.training.losses import (
    NTXentLoss,
    VICRegLoss,
    cka_alignment_loss,
    irm_penalty,
    linear_cka,
    nt_xent,
    rdm_alignment_loss,
    vicreg_loss,
)


def _nt_xent_direct(z1: np.ndarray, z2: np.ndarray, t: float) -> float:
    """The SimCLR formula written out with loops (float64)."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n2 = z.shape[0]
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        pos = (i + n) % n2
        num = math.exp(z[i] @ z[pos] / t)
        den = sum(math.exp(z[i] @ z[k] / t) for k in range(n2) if k != i)
        total += -math.log(num / den)
    return total / n2


def test_nt_xent_matches_direct_formula():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    for t in (0.1, 0.5, 1.0):
        assert float(nt_xent(z1, z2, t)) == pytest.approx(_nt_xent_direct(z1.numpy(), z2.numpy(), t), rel=1e-5)
    assert float(NTXentLoss(0.5)(z1, z2)) == pytest.approx(float(nt_xent(z1, z2, 0.5)))


def test_nt_xent_identical_well_separated_pairs_is_small():
    z = torch.eye(8) * 3.0  # orthogonal, identical views
    small = float(nt_xent(z, z.clone(), temperature=0.1))
    # exact: each of the 2N = 16 rows has its positive at cos 1 and 2N - 2 = 14 negatives at cos 0
    expected = -math.log(math.exp(10) / (math.exp(10) + 14 * math.exp(0)))
    # float32: the loss is log(1 + 14 e^-10) ~ 6.4e-4 computed from logits of size 10, so its
    # absolute error is a few eps32 x 10 (a relative 1e-4 failed under ATEN_CPU_CAPABILITY=default)
    assert small == pytest.approx(expected, rel=0, abs=4 * torch.finfo(torch.float32).eps * 10)
    assert small < 1e-3
    g = torch.Generator().manual_seed(1)
    rand = float(nt_xent(torch.randn(8, 8, generator=g), torch.randn(8, 8, generator=g), temperature=0.1))
    assert rand > 1.0


def test_nt_xent_invariant_to_embedding_scale():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    assert float(nt_xent(3 * z1, 0.5 * z2)) == pytest.approx(float(nt_xent(z1, z2)), rel=1e-6)


# Reference: lightly 1.6.0 NTXentLoss (torch 2.13.0+cpu) on the embeddings below, produced by
# `/work/venvs/lightly/bin/python bench/bench_training.py --reference`.
_LIGHTLY_1_6_0 = {0.1: 7.668628215789795, 0.5: 3.687546968460083, 1.0: 3.4971697330474854}


@pytest.mark.parametrize("t", sorted(_LIGHTLY_1_6_0))
def test_nt_xent_matches_pinned_lightly_values(t):
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    assert float(nt_xent(z1, z2, t)) == pytest.approx(_LIGHTLY_1_6_0[t], rel=1e-5)


def test_nt_xent_against_lightly_if_installed():
    lightly_loss = pytest.importorskip("lightly.loss")  # reference: lightly (bench/bench_training.py installs it)
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    ref = lightly_loss.NTXentLoss(temperature=0.5)(z1, z2)
    assert float(nt_xent(z1, z2, 0.5)) == pytest.approx(float(ref), rel=1e-5)


def test_nt_xent_bad_inputs():
    with pytest.raises(ValueError, match="equal shapes"):
        nt_xent(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent(torch.zeros(1, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.randn(3, 2), torch.randn(3, 2), temperature=0)


def test_vicreg_terms_known_answers():
    # columns orthogonal with unit std and identical views: every term is (close to) zero
    q, _ = torch.linalg.qr(torch.randn(64, 4, generator=torch.Generator().manual_seed(0)))
    z = (q - q.mean(0)) / (q - q.mean(0)).std(0) * 1.5
    z, _ = torch.linalg.qr(z - z.mean(0))  # re-orthogonalise the centred columns
    z = z * math.sqrt(63) * 1.5  # std 1.5 > 1, covariances 0
    loss, terms = vicreg_loss(z, z.clone(), return_terms=True)
    assert float(terms["invariance"]) == 0.0
    assert float(terms["variance"]) == 0.0
    assert float(terms["covariance"]) == pytest.approx(0.0, abs=1e-8)
    # collapsed embeddings: variance hinge is 1 - sqrt(eps) per view
    c = torch.zeros(10, 3)
    _, t2 = vicreg_loss(c, c, return_terms=True)
    assert float(t2["variance"]) == pytest.approx(1 - math.sqrt(1e-4), rel=1e-6)
    # invariance is the MSE between the views
    a, b = torch.randn(10, 3), torch.randn(10, 3)
    _, t3 = vicreg_loss(a, b, return_terms=True)
    assert float(t3["invariance"]) == pytest.approx(float(((a - b) ** 2).mean()), rel=1e-6)
    # perfectly correlated features: covariance term = 2 * (2 * var^2) / d for each view
    x = torch.randn(50, 1)
    zz = torch.cat([x, x], 1)
    _, t4 = vicreg_loss(zz, zz, return_terms=True)
    v = float(x.var())
    assert float(t4["covariance"]) == pytest.approx(2 * (2 * v**2) / 2, rel=1e-5)
    assert float(VICRegLoss()(a, b)) == pytest.approx(float(vicreg_loss(a, b)))


def test_irm_penalty_zero_at_optimal_scale_and_matches_formula():
    p = 0.7
    y = torch.tensor([1.0] * 7 + [0.0] * 3)
    f_opt = math.log(p / (1 - p))
    assert float(irm_penalty(torch.full((10,), f_opt), y).detach()) == pytest.approx(0.0, abs=1e-12)
    # d/dw mean BCE(w f, y) at w = 1 is f (sigmoid(f) - p) for a constant logit f
    for f in (2 * f_opt, -0.5, 3.0):
        expected = (f * (1 / (1 + math.exp(-f)) - p)) ** 2
        assert float(irm_penalty(torch.full((10, 1), f), y).detach()) == pytest.approx(expected, rel=1e-5)


def test_irm_penalty_multiclass_and_differentiable():
    logits = torch.randn(12, 3, requires_grad=True)
    y = torch.randint(0, 3, (12,))
    pen = irm_penalty(logits, y)
    pen.backward()
    assert logits.grad is not None and float(pen.detach()) >= 0
    # scaling-optimal multiclass logits: a perfect, infinitely confident classifier has ~zero penalty
    big = torch.nn.functional.one_hot(y, 3).float() * 50
    assert float(irm_penalty(big, y).detach()) < 1e-20
    with pytest.raises(ValueError, match="logits"):
        irm_penalty(torch.randn(5, 2), torch.rand(5))


def test_linear_cka_properties():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 8, generator=g)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    assert float(linear_cka(x, x)) == pytest.approx(1.0, abs=1e-6)
    assert float(linear_cka(x, 3 * x @ q + 2)) == pytest.approx(1.0, abs=1e-5)
    y = torch.randn(30, 5, generator=g)
    # feature-space formula
    xc, yc = x - x.mean(0), y - y.mean(0)
    direct = (yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm())
    assert float(linear_cka(x, y)) == pytest.approx(float(direct), rel=1e-5)
    assert 0.0 <= float(linear_cka(x, y)) <= 1.0
    with pytest.raises(ValueError, match="same stimuli"):
        linear_cka(x, y[:10])


def test_linear_cka_is_the_similarity_packages_cka():
    # training has no CKA of its own: linear_cka is similarity.cka_linear_torch (float32 here), and
    # it agrees with the similarity package's float64 numpy path within float32 accuracy
    from neurocompare.similarity import cka_linear, cka_linear_torch

    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(25, 7, generator=g), torch.randn(25, 4, generator=g)
    assert torch.equal(linear_cka(x, y), cka_linear_torch(x, y))
    ref = float(cka_linear(x.double().numpy(), y.double().numpy(), float64=True))
    assert float(linear_cka(x, y)) == pytest.approx(ref, rel=25 * torch.finfo(torch.float32).eps)
    # half-precision activations (AMP) are promoted, not computed in bf16
    assert linear_cka(x.bfloat16(), y).dtype == torch.float32
    with pytest.raises(ValueError, match="at least 4 stimuli"):
        linear_cka(x[:3], y[:3])


def test_cka_alignment_loss_falls_when_layer_equals_data():
    g = torch.Generator().manual_seed(1)
    neural = torch.randn(20, 6, generator=g)
    same = float(cka_alignment_loss(neural.clone(), neural))
    other = float(cka_alignment_loss(torch.randn(20, 6, generator=g), neural))
    assert same == pytest.approx(math.log(1e-6), abs=1e-3)  # CKA = 1 -> clamped log(eps)
    assert other < 0 and same < other
    # gradient descent on the features lowers the loss
    feats = torch.randn(20, 10, generator=g, requires_grad=True)
    opt = torch.optim.SGD([feats], lr=0.5)
    first = float(cka_alignment_loss(feats, neural).detach())
    for _ in range(30):
        opt.zero_grad()
        cka_alignment_loss(feats, neural).backward()
        opt.step()
    assert float(cka_alignment_loss(feats, neural).detach()) < first


def test_rdm_alignment_loss_known_answers():
    g = torch.Generator().manual_seed(2)
    neural = torch.randn(12, 5, generator=g)
    assert float(rdm_alignment_loss(neural, neural)) == pytest.approx(0.0, abs=1e-6)
    # correlation-distance RDMs ignore per-stimulus scale and offset
    scaled = neural * torch.linspace(1, 3, 12)[:, None] + torch.arange(12.0)[:, None]
    assert float(rdm_alignment_loss(scaled, neural)) == pytest.approx(0.0, abs=1e-5)
    assert float(rdm_alignment_loss(torch.randn(12, 5, generator=g), neural)) > 0.3
    # reference: scipy's correlation distances (pdist 'correlation') and Pearson r, in float64
    from scipy.spatial.distance import pdist
    from scipy.stats import pearsonr

    feats = torch.randn(12, 9, generator=g, requires_grad=True)
    ref = 1 - pearsonr(pdist(feats.detach().double().numpy(), "correlation"),
                       pdist(neural.double().numpy(), "correlation"))[0]
    loss = rdm_alignment_loss(feats, neural)
    assert float(loss.detach()) == pytest.approx(ref, abs=100 * torch.finfo(torch.float32).eps)
    loss.backward()  # differentiable (the similarity package's rdm_torch, computed out of place)
    assert feats.grad is not None and bool(torch.isfinite(feats.grad).all()) and float(feats.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="at least 3"):
        rdm_alignment_loss(neural[:2], neural[:2])
