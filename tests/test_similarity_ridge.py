"""Tests for :class:`neurocompare.similarity.RidgeMapping`, the ridge estimator of the protocol.

Held-out predictions, leave-one-out predictions of the training stimuli (``loo_predictions_``)
and the chosen penalties (``alpha_``). References: scikit-learn (1.x) ``Ridge``/``RidgeCV``
computed live, and brute-force leave-one-out refits. (Formerly the tests of
``ridge_loo_fit_predict``, which the estimator replaces.)

Tolerances (issue 12): every measure computes in float64 here (the CPU default) unless a test says
float32. Rounding in these O(n p)…O(n^3) float64 computations at n <= 2000 stays below
n p eps64 ~ 1e-10, so ``1e-12``…``1e-10`` assert the same algorithm computing the same quantity
(a permutation, a block size, a closed form); ``1e-6`` compares with another implementation or a
stored reference (rsatoolbox, scikit-learn, netrep, scipy: other algorithms — SVD vs eigh,
iterative vs exact — whose differences scale with the condition number times eps64). Float32 comparisons state
their own bound.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurocompare.similarity import DEFAULT_ALPHAS, RidgeMapping

sklearn_linear = pytest.importorskip("sklearn.linear_model")


def _data(n, p, units=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    y = x[:, :3] @ rng.normal(size=(3, units)) + rng.normal(size=(n, units)) * np.linspace(0.2, 3.0, units)
    return x, y, rng.normal(size=(7, p))


def fit3(x, y, xt, **kw):
    """(held-out predictions, LOO predictions, chosen penalties) of a fitted RidgeMapping."""
    m = RidgeMapping(**kw).fit(x, y)
    return m.predict(xt), m.loo_predictions_, m.alpha_


def _brute_loo(x, y, alphas, *, refit_mean):
    """Leave each training stimulus out, refit scikit-learn Ridge (one fit per distinct penalty), predict it."""
    n = x.shape[0]
    alphas = np.asarray(alphas, dtype=float)
    out = np.empty_like(y)
    xc, yc = x - x.mean(0), y - y.mean(0)
    for a in np.unique(alphas):
        cols = alphas == a
        for i in range(n):
            keep = np.arange(n) != i
            if refit_mean:
                m = sklearn_linear.Ridge(alpha=a).fit(x[keep], y[keep][:, cols])
                out[i, cols] = m.predict(x[i : i + 1])[0]
            else:  # centring from all training stimuli stays fixed
                m = sklearn_linear.Ridge(alpha=a, fit_intercept=False).fit(xc[keep], yc[keep][:, cols])
                out[i, cols] = m.predict(xc[i : i + 1])[0] + y[:, cols].mean(0)
    return out


@pytest.mark.parametrize("n,p", [(30, 80), (80, 12)])  # kernel form and primal form
def test_exact_loo_matches_sklearn_ridgecv_and_brute_force(n, p):
    x, y, xt = _data(n, p)
    grid = np.logspace(-1, 4, 6)
    pred, loo_pred, chosen = fit3(x, y, xt, alphas=grid, scale_alphas=False, loo="exact")
    ref = sklearn_linear.RidgeCV(alphas=grid, alpha_per_target=True).fit(x, y)
    np.testing.assert_allclose(chosen, ref.alpha_, rtol=1e-12)
    np.testing.assert_allclose(pred, ref.predict(xt), atol=1e-9)
    np.testing.assert_allclose(loo_pred, _brute_loo(x, y, chosen, refit_mean=True), atol=1e-7)


@pytest.mark.parametrize("n,p", [(30, 80), (80, 12)])
def test_fixed_mean_loo_matches_brute_force_refits_on_centred_data(n, p):
    x, y, xt = _data(n, p, seed=1)
    grid = np.logspace(-1, 4, 6)
    pred, loo_pred, chosen = fit3(x, y, xt, alphas=grid, scale_alphas=False, loo="fixed_mean")
    np.testing.assert_allclose(loo_pred, _brute_loo(x, y, chosen, refit_mean=False), atol=1e-7)
    # each unit's penalty minimises its own fixed-mean LOO error over the grid
    errs = np.array([((_brute_loo(x, y, [a] * y.shape[1], refit_mean=False) - y) ** 2).sum(0) for a in grid])
    np.testing.assert_allclose(chosen, grid[np.argmin(errs, axis=0)])
    for u, a in enumerate(chosen):  # held-out predictions are the plain ridge fit at that penalty
        np.testing.assert_allclose(pred[:, u], sklearn_linear.Ridge(alpha=a).fit(x, y[:, u]).predict(xt), atol=1e-9)


def test_relative_alphas_scale_with_mean_eigenvalue_of_decomposed_gram():
    rng = np.random.default_rng(2)
    # kernel form (n <= p): trace / n_train
    x, y, xt = _data(25, 60, seed=2)
    xc = x - x.mean(0)
    pred, _, chosen = fit3(x, y, xt, alphas=[0.3])
    lam = 0.3 * np.trace(xc.T @ xc) / x.shape[0]
    np.testing.assert_allclose(chosen, lam, rtol=1e-12)
    np.testing.assert_allclose(pred, sklearn_linear.Ridge(alpha=lam).fit(x, y).predict(xt), atol=1e-9)
    # primal form with a rank-deficient feature matrix (a zero and a duplicated column): trace / rank
    x = rng.normal(size=(70, 10))
    x[:, 0] = 0.0
    x[:, 1] = x[:, 2]
    y = x[:, 2:5] @ rng.normal(size=(3, 2)) + rng.normal(size=(70, 2))
    xt = rng.normal(size=(5, 10))
    xc = x - x.mean(0)
    rank = np.linalg.matrix_rank(xc)
    assert rank == 8
    pred, _, chosen = fit3(x, y, xt, alphas=[2.0])
    lam = 2.0 * np.trace(xc.T @ xc) / rank
    np.testing.assert_allclose(chosen, lam, rtol=1e-10)
    np.testing.assert_allclose(pred, sklearn_linear.Ridge(alpha=lam).fit(x, y).predict(xt), atol=1e-9)


def test_default_grid_is_the_relative_grid_and_fits_noise_free_targets():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 5))
    y = x @ rng.normal(size=(5, 3))
    pred, loo_pred, chosen = fit3(x, y, x[:10])
    xc = x - x.mean(0)
    mean_eig = np.trace(xc.T @ xc) / 5  # primal form, full rank
    np.testing.assert_allclose(chosen, DEFAULT_ALPHAS[0] * mean_eig, rtol=1e-10)  # smallest penalty wins
    np.testing.assert_allclose(pred, y[:10], atol=1e-2)  # near-exact fit
    np.testing.assert_allclose(loo_pred, y, atol=1e-2)
    # scale invariance of the relative grid: x -> 10 x leaves the predictions unchanged
    np.testing.assert_allclose(fit3(10 * x, y, 10 * x[:10])[0], pred, atol=1e-9)


def test_errors():
    x, y, xt = _data(20, 5)
    with pytest.raises(ValueError, match="'loo' parameter"):
        fit3(x, y, xt, loo="gcv")
    with pytest.raises(ValueError, match="x has 4 features but the mapping was fitted on 5"):
        fit3(x, y, xt[:, :4])
    with pytest.raises(ValueError, match="positive numbers"):
        fit3(x, y, xt, alphas=[-1.0])
    with pytest.raises(ValueError, match="stimuli"):
        fit3(x, y[:10], xt)
    with pytest.raises(ValueError, match="not fitted"):
        RidgeMapping().predict(xt)
    for p in (5, 40):  # primal and kernel form
        with pytest.raises(ValueError, match="Every column of x is constant"):
            fit3(np.ones((20, p)), y, np.ones((3, p)))


@pytest.mark.gpu
def test_cuda_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x, y, xt = _data(40, 90)
    cpu = fit3(x, y, xt, dtype="float64")
    gpu = fit3(x, y, xt, dtype="float64", device="cuda")
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a, b, atol=1e-8)


# ----------------------------------------------------------------------------- shared work across splits (issue 22)
def test_shared_gram_gives_the_fit_without_it():
    from neurocompare.similarity._ridge import shared_gram

    x, y, xt = _data(90, 300, units=4, seed=3)
    x = x + 5.0  # a common offset: the double-centring must remove it
    train = np.random.default_rng(1).permutation(90)[:70]
    plain = RidgeMapping().fit(x[train], y[train])
    shared = RidgeMapping().fit(x[train], y[train], gram=shared_gram(x)[np.ix_(train, train)])
    np.testing.assert_allclose(shared.alpha_, plain.alpha_, rtol=1e-12)
    np.testing.assert_allclose(shared.loo_predictions_, plain.loo_predictions_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(shared.predict(xt), plain.predict(xt), rtol=1e-10, atol=1e-10)
    # a gram of the wrong size is ignored (the product is formed as before)
    wrong = RidgeMapping().fit(x[train], y[train], gram=np.eye(5))
    np.testing.assert_allclose(wrong.predict(xt), plain.predict(xt), rtol=1e-12, atol=1e-12)


def test_protocol_shares_one_gram_and_keeps_every_score(monkeypatch):
    import neurocompare.similarity._protocol as protocol
    from neurocompare.similarity import ridge_predictivity

    x, y, _ = _data(80, 200, units=5, seed=4)
    calls = []
    real = protocol.shared_gram
    monkeypatch.setattr(protocol, "shared_gram", lambda a: calls.append(a.shape) or real(a))
    shared = ridge_predictivity(x, y)
    assert calls == [(80, 200)]  # once for the 10 splits
    monkeypatch.setattr(protocol, "shared_gram", lambda a: None)  # each split forms its own product
    plain = ridge_predictivity(x, y)
    np.testing.assert_allclose(shared.per_unit, plain.per_unit, rtol=0, atol=1e-12)
    np.testing.assert_allclose(shared.alphas, plain.alphas, rtol=1e-12)
    calls.clear()
    monkeypatch.setattr(protocol, "shared_gram", lambda a: calls.append(a.shape) or real(a))
    ridge_predictivity(x[:, :40], y)  # primal form (fewer features than training stimuli): nothing shared
    assert calls == []


def test_cpu_eigendecomposition_matches_torch():
    import torch

    from neurocompare.similarity._ridge import _kernel_eigh, centered_gram

    x, _, _ = _data(60, 150, seed=5)
    tx = torch.as_tensor(x)
    xc = tx - tx.mean(0)
    s, v = _kernel_eigh(tx, xc, None, 1.0)
    s_ref, v_ref = torch.linalg.eigh(centered_gram(tx))
    np.testing.assert_allclose(s.numpy(), s_ref.numpy(), rtol=1e-10, atol=1e-10 * float(s_ref.max()))
    # the same projector onto the leading eigenvectors (signs and order of ties may differ)
    top, top_ref = v[:, -20:].numpy(), v_ref[:, -20:].numpy()
    np.testing.assert_allclose(top @ top.T, top_ref @ top_ref.T, atol=1e-9)
