"""CKA: reference values (Brain-Score formulas, cka-pytorch 1.1.3, repsim 0.1.5; pinned), invariances,
both computation routes, the differentiable version, bad input.

Tolerances (issue 12): every measure computes in float64 here (the CPU default) unless a test says
float32. Rounding in these O(n p)…O(n^3) float64 computations at n <= 2000 stays below
n p eps64 ~ 1e-10, so ``1e-12``…``1e-10`` assert the same algorithm computing the same quantity
(a permutation, a block size, a closed form); ``1e-6`` compares with another implementation or a
stored reference (rsatoolbox, scikit-learn, netrep, scipy: other algorithms — SVD vs eigh,
iterative vs exact — whose differences scale with the condition number times eps64). Float32 comparisons state
their own bound.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neurocompare.data import make_responses
from neurocompare.similarity import METRICS
from neurocompare.similarity._cka import (
    _linear_stats,
    _sym_sq,
    cka,
    cka_linear,
    cka_linear_torch,
    cka_rbf,
    cka_unbiased,
    hsic_linear,
)

REF = json.loads((Path(__file__).parent / "reference" / "similarity_reference.json").read_text())
INP = REF["inputs"]
X = np.array(INP["x"])


def _dense_unbiased_hsic(k, l):
    """The unbiased HSIC exactly as written in Brain-Score/Song et al., on dense kernels."""
    n = k.shape[0]
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    one = np.ones(n)
    return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
            - 2 * (k @ one) @ (l @ one) / (n - 2)) / (n * (n - 3))


# ----------------------------------------------------------------------------- reference values
@pytest.mark.parametrize("name", ["y", "wide", "narrow"])
def test_linear_and_rbf_cka_match_brainscore_formulas(name):
    y = np.array(INP[name])
    ref = REF["formulas"]
    assert cka_linear(X, y, float64=True) == pytest.approx(ref[f"brainscore_linear_cka_x_{name}"], abs=1e-6)
    assert cka_rbf(X, y, float64=True) == pytest.approx(ref[f"brainscore_rbf_cka_x_{name}"], abs=1e-6)


def test_rbf_bandwidth_fraction_reference():
    y = np.array(INP["y"])
    assert cka_rbf(X, y, sigma_frac=0.5, float64=True) == pytest.approx(REF["formulas"]["rbf_cka_frac05_x_y"], abs=1e-6)


@pytest.mark.parametrize("name", ["y", "wide", "narrow"])
def test_unbiased_cka_matches_cka_pytorch(name):
    ref = REF["ckapytorch"]  # cka-pytorch==1.1.3, hsic1 (Song et al. unbiased HSIC)
    assert ref["package"] == "cka-pytorch==1.1.3"
    y = np.array(INP[name])
    assert cka_unbiased(X, y, float64=True) == pytest.approx(ref[f"x_{name}"]["cka_unbiased"], abs=1e-6)
    assert hsic_linear(X, y, unbiased=True) == pytest.approx(ref[f"x_{name}"]["hsic_xy"], rel=1e-9)


@pytest.mark.parametrize("name", ["y", "wide", "narrow"])
def test_biased_cka_matches_repsim(name):
    ref = REF["repsim"]  # repsim==0.1.5, cka(kernel_type='linear', estimator='gretton')
    y = np.array(INP[name])
    assert cka_linear(X, y, float64=True) == pytest.approx(ref[f"x_{name}"]["gretton"], abs=1e-6)


def test_unbiased_formula_on_dense_kernels_and_centring_invariance():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(15, 4)) + 5.0, rng.normal(size=(15, 6)) - 2.0
    expected = _dense_unbiased_hsic(x @ x.T, y @ y.T)  # uncentred features
    assert hsic_linear(x, y, unbiased=True) == pytest.approx(expected, rel=1e-9)


# ----------------------------------------------------------------------------- routes and blocks
@pytest.mark.parametrize("shape", [(30, 5, 7), (12, 40, 50), (20, 3, 60), (25, 60, 4)])
def test_gram_and_feature_routes_agree(shape):
    n, p, q = shape
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(n, p)))
    y = torch.tensor(rng.normal(size=(n, q)))
    x, y = x - x.mean(0), y - y.mean(0)
    sxy, sxx, syy = _linear_stats(x, y)
    kx, ky = x @ x.T, y @ y.T
    np.testing.assert_allclose([float(sxy), float(sxx), float(syy)],
                               [float((kx * ky).sum()), float((kx * kx).sum()), float((ky * ky).sum())], rtol=1e-10)


def test_blocked_symmetric_sums_equal_dense():
    rng = np.random.default_rng(2)
    a, b = torch.tensor(rng.normal(size=(23, 4))), torch.tensor(rng.normal(size=(23, 3)))
    saa, sbb, sab = _sym_sq(a, b, block=5)
    ka, kb = a @ a.T, b @ b.T
    np.testing.assert_allclose([float(saa), float(sbb), float(sab)],
                               [float((ka * ka).sum()), float((kb * kb).sum()), float((ka * kb).sum())], rtol=1e-12)


def test_large_n_uses_blocks_and_matches_float64():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1300, 40)).astype(np.float32)
    y = (x[:, :20] @ rng.normal(size=(20, 30)) + rng.normal(size=(1300, 30))).astype(np.float32)
    # float32 on request: blocked sums of n^2 products; probabilistic rounding bound ~ 8 sqrt(n) eps32
    # (3.4e-5 at n=1300; measured 8e-9 / 4e-8 on AVX-512, the inputs being centred and rescaled first)
    tol = 8 * np.sqrt(x.shape[0]) * np.finfo(np.float32).eps
    assert cka_linear(x, y, float64=False) == pytest.approx(cka_linear(x, y, float64=True), abs=tol)
    assert cka_unbiased(x, y, float64=False) == pytest.approx(cka_unbiased(x, y, float64=True), abs=tol)


# ----------------------------------------------------------------------------- properties
def _orth(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


@settings(max_examples=25, deadline=None)
@given(n=st.integers(6, 30), p=st.integers(1, 12), q=st.integers(1, 12), seed=st.integers(0, 10_000),
       scale=st.floats(0.01, 100.0))
def test_cka_invariant_to_orthogonal_maps_and_isotropic_scaling(n, p, q, seed, scale):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, p)), rng.normal(size=(n, q))
    x2, y2 = scale * x @ _orth(p, seed + 1), y @ _orth(q, seed + 2) / scale
    for fn in (cka_linear, cka_unbiased):
        assert fn(x2, y2, float64=True) == pytest.approx(fn(x, y, float64=True), abs=1e-8)
    assert cka_rbf(x2, y2, float64=True) == pytest.approx(cka_rbf(x, y, float64=True), abs=1e-8)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(5, 25), p=st.integers(1, 10), seed=st.integers(0, 10_000))
def test_cka_of_x_with_itself_is_one(n, p, seed):
    x = np.random.default_rng(seed).normal(size=(n, p))
    for name in ("cka_linear", "cka_unbiased", "cka_rbf", "cka_rbf_unbiased"):
        assert METRICS.get(name)(x, x, float64=True) == pytest.approx(1.0, abs=1e-9)


def test_single_units_give_squared_correlation():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(40, 1)), rng.normal(size=(40, 1))
    r = np.corrcoef(a[:, 0], b[:, 0])[0, 1]
    assert cka_linear(a, b, float64=True) == pytest.approx(r**2, abs=1e-12)


def test_biased_cka_is_inflated_for_random_wide_data_but_debiased_is_not():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 500)), rng.normal(size=(20, 500))
    assert cka_linear(x, y) > 0.5
    assert abs(cka_unbiased(x, y)) < 0.1


def test_responses_are_aligned_on_stimulus_id():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 6))
    ids = np.array([f"s{i}" for i in range(10)])
    order = rng.permutation(10)
    rx = make_responses(x, stimulus_ids=ids)
    ry = make_responses(y[order], stimulus_ids=ids[order])
    assert cka_linear(rx, ry) == pytest.approx(cka_linear(x, y), abs=1e-6)
    assert cka(rx, ry, kernel="rbf") == pytest.approx(cka_rbf(x, y), abs=1e-6)


# ----------------------------------------------------------------------------- differentiable version
def test_cka_linear_torch_matches_and_has_correct_gradients():
    rng = np.random.default_rng(7)
    x = torch.tensor(rng.normal(size=(12, 5)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(12, 3)))
    for unbiased in (False, True):
        val = cka_linear_torch(x, y, unbiased=unbiased)
        assert float(val.detach()) == pytest.approx(cka_linear(x.detach(), y, unbiased=unbiased, float64=True), abs=1e-12)
        assert torch.autograd.gradcheck(lambda a: cka_linear_torch(a, y, unbiased=unbiased), (x,))


def test_cka_linear_torch_as_a_loss_increases_alignment():
    torch.manual_seed(0)
    target = torch.randn(64, 8)
    w = torch.randn(8, 8, requires_grad=True)
    inputs = target @ torch.randn(8, 8) + 0.1 * torch.randn(64, 8)
    opt = torch.optim.SGD([w], lr=0.5)
    start = float(cka_linear_torch(torch.tanh(inputs @ w), target).detach())
    for _ in range(30):
        opt.zero_grad()
        loss = 1 - cka_linear_torch(torch.tanh(inputs @ w), target)
        loss.backward()
        opt.step()
    assert float(cka_linear_torch(torch.tanh(inputs @ w), target).detach()) > start + 0.01


def test_unbiased_cka_with_a_constant_side_is_zero_with_finite_gradient():
    x = torch.randn(10, 4, dtype=torch.float64, requires_grad=True)
    const = torch.ones(10, 3, dtype=torch.float64)
    val = cka_linear_torch(x, const, unbiased=True)
    val.backward()
    assert float(val.detach()) == 0.0 and bool(torch.isfinite(x.grad).all())
    assert cka_unbiased(x.detach().numpy(), const.numpy()) == 0.0


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="no variance"):
        cka_linear(x, np.ones((10, 2)))
    with pytest.raises(ValueError, match="no variance"):
        cka_linear_torch(torch.tensor(x), torch.ones(10, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="identical responses"):
        cka_rbf(x, np.ones((10, 2)))
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cka_linear(bad, x)
    with pytest.raises(ValueError, match="at least 4"):
        cka_linear(x[:3], x[:3])
    with pytest.raises(ValueError, match="stimuli"):
        cka_linear(x, x[:8])
    with pytest.raises(ValueError, match="sigma_frac"):
        cka_rbf(x, x, sigma_frac=0)
    with pytest.raises(ValueError, match="must be one of"):
        cka(x, x, kernel="poly")
    with pytest.raises(TypeError, match="torch tensors"):
        cka_linear_torch(x, x)
    ra = make_responses(x, stimulus_ids=[f"a{i}" for i in range(10)])
    rb = make_responses(x, stimulus_ids=[f"b{i}" for i in range(10)])
    with pytest.raises(ValueError, match="share no stimulus_id"):
        cka_linear(ra, rb)


def test_cuda_request_without_gpu_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="no CUDA"):
        cka_linear(X, X, device="cuda")


@pytest.mark.gpu
def test_cka_on_cuda_matches_cpu():
    y = np.array(INP["y"])
    for unbiased in (False, True):
        assert cka_linear(X, y, unbiased=unbiased, device="cuda", float64=True) == pytest.approx(
            cka_linear(X, y, unbiased=unbiased, float64=True), abs=1e-10)
    xt = torch.tensor(X, device="cuda", requires_grad=True)
    cka_linear_torch(xt, torch.tensor(y, device="cuda")).backward()
    assert xt.grad.device.type == "cuda"
