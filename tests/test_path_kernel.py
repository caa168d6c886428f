"""tangent_kernel and PathKernelRecorder: closed forms on linear models, exactness on an MLP, O(η) first order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurocompare._seeding import seeded
from neurocompare.learning import PathKernelRecorder, tangent_kernel

torch.set_num_threads(1)
EPS = np.finfo(np.float64).eps


def _mlp(seed: int, d: int = 5, width: int = 16, k: int = 1) -> torch.nn.Module:
    with seeded(seed):
        return torch.nn.Sequential(torch.nn.Linear(d, width), torch.nn.Tanh(), torch.nn.Linear(width, k)).double()


def _half_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out[:, 0] - y) ** 2).mean()


def _gd(model, x, y, loss, lr, steps, recorders):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss(model(x), y).backward()
        opt.step()
        for rec in recorders:
            rec(step, {})


# ----------------------------------------------------------------------------- tangent_kernel
def test_tangent_kernel_of_a_linear_model_is_the_augmented_gram():
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3).double()
    x1, x2 = torch.randn(7, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    gram = (x1 @ x2.T).numpy() + 1.0  # <(x, 1), (x', 1)>
    full = tangent_kernel(lin, x1, x2)
    assert full.shape == (7, 5, 3, 3)
    for c in range(3):
        for d in range(3):  # different outputs have disjoint weights: K_cd = δ_cd (x·x' + 1)
            np.testing.assert_allclose(full[:, :, c, d], gram if c == d else 0.0, atol=50 * EPS)
    np.testing.assert_allclose(tangent_kernel(lin, x1, x2, output=1), gram, atol=50 * EPS)
    np.testing.assert_allclose(tangent_kernel(lin, x1, x2, output=-1), gram, atol=50 * EPS)


def test_tangent_kernel_matches_autograd_jacobians_and_batching():
    model = _mlp(1, d=3, width=8, k=2)
    x = torch.randn(9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    # reference: torch.autograd.functional.jacobian on the flat parameter vector (torch 2.x)
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(theta):
        ps, start = {}, 0
        for n, s in zip(names, shapes):
            ps[n] = theta[start : start + s.numel()].view(s)
            start += s.numel()
        return torch.func.functional_call(model, ps, (x,))[:, 0]

    jac = torch.autograd.functional.jacobian(f, flat)  # (9, P)
    ref = (jac @ jac.T).numpy()
    k_all = tangent_kernel(model, x, output=0)
    np.testing.assert_allclose(k_all, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent_kernel(model, x, output=0, batch_size=2), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(k_all, k_all.T, atol=0)  # a Gram matrix: symmetric ...
    assert np.linalg.eigvalsh(k_all).min() > -1e-10 * np.abs(k_all).max()  # ... and positive semi-definite


@pytest.mark.parametrize(
    "kwargs, match",
    [({"output": 5}, "output"), ({"output": 1.5}, "output"), ({"batch_size": 0}, "batch_size")],
)
def test_tangent_kernel_errors(kwargs, match):
    model = _mlp(0, k=2)
    with pytest.raises(ValueError, match=match):
        tangent_kernel(model, torch.zeros(3, 5, dtype=torch.float64), **kwargs)


def test_tangent_kernel_refuses_empty_inputs_and_frozen_models():
    model = _mlp(0)
    with pytest.raises(ValueError, match="at least one sample"):
        tangent_kernel(model, torch.zeros(0, 5))
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        tangent_kernel(model, torch.zeros(2, 5))


# ----------------------------------------------------------------------------- the linear model
@pytest.mark.parametrize("mode", ["first_order", "exact"])
def test_linear_model_gives_the_closed_form_kernel_regression_identity(mode):
    """f(x) = w·x + b, half-MSE: r_{t+1} = (I - ηK/n) r_t, so
    f_T(x) - f_0(x) = -k(x, X) K^{-1} (I - (I - ηK/n)^T) r_0 exactly, in both modes (constant kernel)."""
    gen = torch.Generator().manual_seed(3)
    n, d, lr, steps = 6, 9, 0.05, 40
    x = torch.randn(n, d, dtype=torch.float64, generator=gen)
    y = torch.randn(n, dtype=torch.float64, generator=gen)
    xq = torch.randn(4, d, dtype=torch.float64, generator=gen)
    lin = torch.nn.Linear(d, 1).double()
    with torch.no_grad():
        r0 = (lin(x)[:, 0] - y).numpy()
    rec = PathKernelRecorder(lin, xq, x, y, _half_mse, lr=lr, mode=mode)
    _gd(lin, x, y, _half_mse, lr, steps, [rec])
    kxx = (x @ x.T).numpy() + 1.0
    kqx = (xq @ x.T).numpy() + 1.0
    a = np.eye(n) - lr * kxx / n
    expected = -kqx @ np.linalg.solve(kxx, (np.eye(n) - np.linalg.matrix_power(a, steps)) @ r0)
    scale = np.abs(expected).max()
    # tolerance: `steps` accumulations of products of norm ~scale, each with round-off ~n·eps
    tol = 100 * steps * n * EPS * max(scale, 1.0)
    np.testing.assert_allclose(rec.reconstruct(), expected, atol=tol)
    np.testing.assert_allclose(rec.actual_change(), expected, atol=tol)
    # the path kernel is steps·η·K, and the coefficients do not depend on the query point
    np.testing.assert_allclose(rec.path_kernel, steps * lr * kqx, rtol=1e-12)
    residuals = np.array([np.linalg.matrix_power(a, t) @ r0 for t in range(steps)])  # (t, n)
    a_expected = -residuals.mean(0) / n  # -mean_t ∂L/∂f_i
    np.testing.assert_allclose(rec.coefficients(), np.broadcast_to(a_expected, (4, n)), atol=1e-12)
    np.testing.assert_allclose(rec.kernel_machine(), expected, atol=tol)
    assert max(rec.update_residuals) < 1e-12
    assert rec.n_steps == steps


# ----------------------------------------------------------------------------- MLPs
def _two_moons_like(seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(30, 5, dtype=torch.float64, generator=gen)
    y = torch.sin(2 * x[:, 0]) + 0.5 * x[:, 1]
    xq = torch.randn(12, 5, dtype=torch.float64, generator=gen)
    return x, y, xq


def test_exact_mode_reproduces_an_mlp_after_500_steps_through_train():
    """Issue 17, test (2): a tanh MLP, 500 full-batch float64 steps through nc.train(log_every=1):
    the exact mode reproduces y_T - y_0 on held-out points to <= 1e-8 relative."""
    from neurocompare.training import OptimizerConfig, train

    x, y, xq = _two_moons_like(0)
    model = _mlp(0)
    rec = PathKernelRecorder(model, xq, x, y, _half_mse, lr=0.1, mode="exact")
    first = PathKernelRecorder(model, xq, x, y, _half_mse, mode="first_order")  # lr inferred per step

    def objective(m, batch):
        return _half_mse(m(batch[0]), batch[1])

    def both(step, metrics):
        rec(step, metrics)
        first(step, metrics)

    train(model, objective, lambda step: (x, y), optimizer=OptimizerConfig(name="sgd", lr=0.1, momentum=0.0,
          weight_decay=0.0), steps=500, log_every=1, seed=None, progress=False, callback=both, device="cpu", amp="none")
    assert rec.n_steps == 500
    actual = rec.actual_change()
    assert np.linalg.norm(actual) > 0.1  # the model did move
    assert rec.relative_error() <= 1e-8
    # the inferred learning rate is the one used, and the update was plain gradient descent
    np.testing.assert_allclose(first.learning_rates, 0.1, rtol=1e-9)
    assert max(rec.update_residuals) < 1e-9
    # Domingos's first-order form is close but not exact at this learning rate
    assert 1e-6 < first.relative_error() < 0.1
    # the path kernel of the exact mode is the first-order one up to O(η) per step
    np.testing.assert_allclose(rec.path_kernel, first.path_kernel, rtol=0.2, atol=1e-3 * np.abs(first.path_kernel).max())


@pytest.mark.slow
def test_first_order_error_shrinks_linearly_with_the_learning_rate():
    """Issue 17, test (3): at fixed η·steps the first-order error is O(η): halving η halves it."""
    x, y, xq = _two_moons_like(1)
    errors, exact_errors = [], []
    for lr in (0.2, 0.1, 0.05):
        model = _mlp(2)
        recs = [PathKernelRecorder(model, xq, x, y, _half_mse, lr=lr, mode=m) for m in ("first_order", "exact")]
        _gd(model, x, y, _half_mse, lr, int(round(8.0 / lr)), recs)
        errors.append(recs[0].relative_error())
        exact_errors.append(recs[1].relative_error())
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 1.6) & (ratios < 2.4)), ratios  # ≈ 2 (first order in η), not ≈ 4 or ≈ 1
    assert max(exact_errors) < 1e-10


def test_multi_output_model_with_cross_entropy_is_reconstructed_exactly():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(20, 5, dtype=torch.float64, generator=gen)
    y = torch.randint(0, 3, (20,), generator=gen)
    xq = torch.randn(6, 5, dtype=torch.float64, generator=gen)
    model = _mlp(3, k=3)
    recs = [PathKernelRecorder(model, xq, x, y, torch.nn.functional.cross_entropy, lr=0.5, mode="exact", output=o)
            for o in range(3)]
    _gd(model, x, y, torch.nn.functional.cross_entropy, 0.5, 40, recs)
    for rec in recs:
        assert rec.relative_error() < 1e-9
    # the three outputs' changes sum to zero only by coincidence; each is reconstructed on its own
    assert len({round(float(np.linalg.norm(r.actual_change())), 6) for r in recs}) == 3


def test_recorder_errors_and_warnings():
    x, y, xq = _two_moons_like(2)
    model = _mlp(0)
    with pytest.raises(ValueError, match="mode"):
        PathKernelRecorder(model, xq, x, y, _half_mse, mode="second_order")
    with pytest.raises(TypeError, match="callable"):
        PathKernelRecorder(model, xq, x, y, "mse")
    with pytest.raises(ValueError, match="must match"):
        PathKernelRecorder(model, xq, x, y[:-1], _half_mse)
    with pytest.raises(ValueError, match="lr"):
        PathKernelRecorder(model, xq, x, y, _half_mse, lr=-1.0)
    with pytest.raises(ValueError, match="n_nodes"):
        PathKernelRecorder(model, xq, x, y, _half_mse, mode="exact", n_nodes=0)
    with pytest.raises(ValueError, match="output=<index>"):
        PathKernelRecorder(_mlp(0, k=2), xq, x, y, _half_mse)
    rec = PathKernelRecorder(model, xq, x, y, _half_mse, lr=0.1)
    rec(1, {})
    with pytest.raises(ValueError, match="log_every=1"):
        rec(3, {})  # a skipped step cannot be recorded
    bad = PathKernelRecorder(model, xq, x, y, lambda o, t: (o[:, 0] - t) ** 2)
    with pytest.raises(TypeError, match="scalar"):
        bad.record()
    # Adam is not gradient descent: the recorder says so, once
    model = _mlp(5)
    rec = PathKernelRecorder(model, xq, x, y, _half_mse, lr=0.01)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    with pytest.warns(UserWarning, match="not plain gradient descent"):
        for _ in range(3):
            opt.zero_grad()
            _half_mse(model(x), y).backward()
            opt.step()
            rec.record()
    assert min(rec.update_residuals) > 1e-3
