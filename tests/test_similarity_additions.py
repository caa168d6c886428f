"""Tests for the public functions added to neurocompare.similarity for the benchmark scorer.

``ridge_loo_fit_predict`` (neurocompare.similarity.regression): held-out predictions, leave-one-out
predictions of the training stimuli and the chosen penalties. References: scikit-learn (1.x)
``Ridge``/``RidgeCV`` computed live, and brute-force leave-one-out refits.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurocompare.similarity.regression import ridge_cv_fit_predict, ridge_loo_fit_predict

sklearn_linear = pytest.importorskip("sklearn.linear_model")


def _data(n, p, units=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    y = x[:, :3] @ rng.normal(size=(3, units)) + rng.normal(size=(n, units)) * np.linspace(0.2, 3.0, units)
    return x, y, rng.normal(size=(7, p))


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
    pred, loo_pred, chosen = ridge_loo_fit_predict(x, y, xt, alphas=grid, float64=True)
    ref = sklearn_linear.RidgeCV(alphas=grid, alpha_per_target=True).fit(x, y)
    np.testing.assert_allclose(chosen, ref.alpha_, rtol=1e-12)
    np.testing.assert_allclose(pred, ref.predict(xt), atol=1e-9)
    np.testing.assert_allclose(loo_pred, _brute_loo(x, y, chosen, refit_mean=True), atol=1e-7)


@pytest.mark.parametrize("n,p", [(30, 80), (80, 12)])
def test_fixed_mean_loo_matches_brute_force_refits_on_centred_data(n, p):
    x, y, xt = _data(n, p, seed=1)
    grid = np.logspace(-1, 4, 6)
    pred, loo_pred, chosen = ridge_loo_fit_predict(x, y, xt, alphas=grid, loo="fixed_mean", float64=True)
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
    pred, _, chosen = ridge_loo_fit_predict(x, y, xt, relative_alphas=[0.3], float64=True)
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
    pred, _, chosen = ridge_loo_fit_predict(x, y, xt, relative_alphas=[2.0], float64=True)
    lam = 2.0 * np.trace(xc.T @ xc) / rank
    np.testing.assert_allclose(chosen, lam, rtol=1e-10)
    np.testing.assert_allclose(pred, sklearn_linear.Ridge(alpha=lam).fit(x, y).predict(xt), atol=1e-9)


def test_default_grid_agrees_with_ridge_cv_fit_predict_and_fits_noise_free_targets():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 5))
    y = x @ rng.normal(size=(5, 3))
    pred, loo_pred, chosen = ridge_loo_fit_predict(x, y, x[:10], float64=True)
    ref_pred, ref_chosen = ridge_cv_fit_predict(x, y, x[:10], float64=True)
    np.testing.assert_allclose(chosen, ref_chosen)
    np.testing.assert_allclose(pred, ref_pred, atol=1e-10)
    np.testing.assert_allclose(pred, y[:10], atol=1e-2)  # smallest penalty: near-exact fit
    np.testing.assert_allclose(loo_pred, y, atol=1e-2)


def test_errors():
    x, y, xt = _data(20, 5)
    with pytest.raises(ValueError, match="either alphas"):
        ridge_loo_fit_predict(x, y, xt, alphas=[1.0], relative_alphas=[1.0])
    with pytest.raises(ValueError, match="'loo' parameter"):
        ridge_loo_fit_predict(x, y, xt, loo="gcv")
    with pytest.raises(ValueError, match="x_test has 4 features"):
        ridge_loo_fit_predict(x, y, xt[:, :4])
    with pytest.raises(ValueError, match="positive numbers"):
        ridge_loo_fit_predict(x, y, xt, relative_alphas=[-1.0])
    with pytest.raises(ValueError, match="stimuli"):
        ridge_loo_fit_predict(x, y[:10], xt)
    for p in (5, 40):  # primal and kernel form
        with pytest.raises(ValueError, match="Every column of x_train is constant"):
            ridge_loo_fit_predict(np.ones((20, p)), y, np.ones((3, p)))


@pytest.mark.gpu
def test_cuda_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x, y, xt = _data(40, 90)
    cpu = ridge_loo_fit_predict(x, y, xt, relative_alphas=np.logspace(-3, 5, 17), loo="fixed_mean", float64=True)
    gpu = ridge_loo_fit_predict(x, y, xt, relative_alphas=np.logspace(-3, 5, 17), loo="fixed_mean", float64=True, device="cuda")
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a, b, atol=1e-8)
