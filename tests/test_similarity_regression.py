"""Tests for ridge / PLS predictivity (the benchmark protocol on one layer) and their estimators.

Reference implementation: scikit-learn (RidgeCV, Ridge, PLSRegression), version printed by
``sklearn.__version__`` at run time (run here with scikit-learn 1.9.1).

Changed with issue 11 (one protocol): the splits are the benchmark's (keyed by stimulus_id, seed
0, 10% held out) instead of scikit-learn's ShuffleSplit(seed 1); the grid is the benchmark's
relative grid with its fixed-mean LOO rule; ``error`` is the sd over splits (was the sem);
generalized CV (``cv='gcv'``) and the scikit-learn PLS backend are gone (one LOO rule, one PLS).

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
import torch

from neurocompare.data import make_responses
from neurocompare import set_options
from neurocompare.similarity import (
    DEFAULT_ALPHAS,
    METRICS,
    PLSMapping,
    PredictivityResult,
    RidgeMapping,
    make_splits,
    pearson_per_column,
    pls_predictivity,
    reverse_predictivity,
    ridge_predictivity,
)

sklearn = pytest.importorskip("sklearn")
from sklearn.cross_decomposition import PLSRegression  # noqa: E402
from sklearn.linear_model import Ridge, RidgeCV  # noqa: E402


def planted(n=120, d=40, u=6, k=5, noise=1.0, seed=0, offset=3.0):
    """x with a k-dim latent plus noise; y a linear read-out of the latent plus noise."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, k))
    x = z @ rng.standard_normal((k, d)) + 0.5 * rng.standard_normal((n, d)) + offset
    y = z @ rng.standard_normal((k, u)) + noise * rng.standard_normal((n, u))
    return x, y


ALPHAS = np.logspace(-3, 4, 15)


# ----------------------------------------------------------------------------- reference values: sklearn
@pytest.mark.parametrize("n, d", [(60, 150), (150, 20)], ids=["kernel-form", "primal-form"])
@pytest.mark.parametrize("per_unit", [True, False])
def test_ridge_cv_matches_sklearn_ridgecv(n, d, per_unit):
    x, y = planted(n=n + 12, d=d, noise=2.0)
    y[:, :3] += 10.0 * np.random.default_rng(9).standard_normal((n + 12, 3))  # noisier units want larger alphas
    xtr, ytr, xte = x[:n], y[:n], x[n:]
    m = RidgeMapping(ALPHAS, scale_alphas=False, loo="exact", alpha_per_unit=per_unit).fit(xtr, ytr)
    pred, alphas = m.predict(xte), m.alpha_
    ref = RidgeCV(alphas=ALPHAS, alpha_per_target=per_unit).fit(xtr, ytr)
    np.testing.assert_allclose(pred, ref.predict(xte), atol=1e-6, rtol=0)
    np.testing.assert_allclose(alphas, np.broadcast_to(ref.alpha_, alphas.shape))
    assert len(np.unique(alphas)) >= (2 if per_unit else 1)


@pytest.mark.parametrize("n_components", [1, 4, 10])
def test_kernel_pls_matches_sklearn_single_target(n_components):
    # with one target, NIPALS converges in one step, so scikit-learn is exact and so must we be
    x, y = planted(n=70, d=90, u=1, noise=1.0, seed=1)
    pred = PLSMapping(n_components).fit(x[:60], y[:60]).predict(x[60:])
    ref = PLSRegression(n_components=n_components, scale=False).fit(x[:60], y[:60]).predict(x[60:])
    np.testing.assert_allclose(pred, ref.reshape(pred.shape), atol=1e-6, rtol=0)


@pytest.mark.parametrize("d", [150, 25])
def test_kernel_pls_matches_converged_sklearn_nipals_multi_target(d):
    # scikit-learn's power iteration stops at tol=1e-6 on the squared weight change; run it to
    # convergence so both compute the same exact NIPALS solution
    x, y = planted(n=90, d=d, u=5, noise=1.0, seed=2)
    pred = PLSMapping(5).fit(x[:80], y[:80]).predict(x[80:])
    ref = PLSRegression(n_components=5, scale=False, tol=1e-15, max_iter=100_000).fit(x[:80], y[:80])
    np.testing.assert_allclose(pred, ref.predict(x[80:]), atol=1e-6, rtol=0)


def test_kernel_pls_with_more_targets_than_stimuli_matches_sklearn():
    # reverse predictivity: many model features as targets; we never build a target x target matrix
    rng = np.random.default_rng(0)
    z = rng.standard_normal((40, 4))
    x = z @ rng.standard_normal((4, 20)) + 0.3 * rng.standard_normal((40, 20))
    y = z @ (rng.standard_normal((4, 60)) * np.array([[3.0], [1.0], [0.3], [0.1]])) + 0.1 * rng.standard_normal((40, 60))
    pred = PLSMapping(3).fit(x[:34], y[:34]).predict(x[34:])
    ref = PLSRegression(n_components=3, scale=False, tol=1e-15, max_iter=100_000).fit(x[:34], y[:34])
    np.testing.assert_allclose(pred, ref.predict(x[34:]), atol=1e-6, rtol=0)


def test_pls_protocol_equals_sklearn_plsregression_on_the_protocol_splits():
    x, y = planted(n=100, d=60, u=1, noise=1.0, seed=4)
    ours = pls_predictivity(x, y, n_components=8)
    for i, (tr, te) in enumerate(make_splits(100)):
        ref = PLSRegression(n_components=8, scale=False).fit(x[tr], y[tr]).predict(x[te]).reshape(-1)
        assert ours.per_unit[i, 0] == pytest.approx(np.corrcoef(ref, y[te, 0])[0, 1], abs=1e-6)
    assert ours.method == "pls" and ours.alphas is None


def test_splits_are_the_benchmark_splits():
    splits = make_splits(50)
    assert len(splits) == 10
    for tr, te in splits:
        assert len(te) == 5 and len(tr) == 45 and not set(tr) & set(te)
    assert not all(np.array_equal(splits[0][1], s[1]) for s in splits[1:])


def test_stratified_splits_keep_label_proportions():
    labels = np.repeat(["a", "b"], [40, 20])
    for tr, te in make_splits(60, stratify=labels):
        assert (labels[te] == "a").sum() == 4 and (labels[te] == "b").sum() == 2


def test_protocol_aggregation_is_median_over_units_then_mean_over_splits():
    x, y = planted(n=80, d=30, u=7, noise=1.5)
    res = ridge_predictivity(x, y, alphas=ALPHAS)
    splits = make_splits(80)
    for i, (tr, te) in enumerate(splits):
        # reference: scikit-learn Ridge at each unit's chosen penalty (the choice is tested in test_similarity_ridge.py)
        r = [np.corrcoef(Ridge(alpha=res.alphas[i, j]).fit(x[tr], y[tr, j]).predict(x[te]), y[te, j])[0, 1] for j in range(7)]
        np.testing.assert_allclose(res.per_unit[i], r, atol=1e-8)
    assert res.value == pytest.approx(np.median(res.per_unit, axis=1).mean(), abs=1e-12)
    assert res.error == pytest.approx(res.per_split.std(ddof=1), abs=1e-12) and res.error_kind == "sd over 10 splits"
    assert res.alphas.shape == (10, 7)


# ----------------------------------------------------------------------------- known answers
@pytest.mark.parametrize("func", [ridge_predictivity, pls_predictivity], ids=["ridge", "pls"])
def test_noiseless_linear_map_gives_r_of_one(func):
    x, y = planted(n=100, d=20, u=4, noise=0.0)
    y = x @ np.random.default_rng(5).standard_normal((20, 4))
    kw = {"n_components": 20} if func is pls_predictivity else {}
    res = func(x, y, **kw)
    assert res.value == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("func", [ridge_predictivity, pls_predictivity], ids=["ridge", "pls"])
def test_pure_noise_gives_r_near_zero(func):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((400, 50)), rng.standard_normal((400, 20))
    res = func(x, y)
    assert abs(res.value) < 0.1
    assert np.nanmean(res.per_unit) == pytest.approx(0.0, abs=0.05)


def test_ridge_recovers_more_signal_with_less_noise():
    lo = ridge_predictivity(*planted(n=150, noise=3.0)).value
    hi = ridge_predictivity(*planted(n=150, noise=0.5)).value
    assert 0.2 < lo < hi < 1.0


# ----------------------------------------------------------------------------- invariances
def test_ridge_default_grid_is_invariant_to_feature_scale_and_offset():
    x, y = planted(n=90, d=70, noise=1.5)
    a = ridge_predictivity(x, y)
    b = ridge_predictivity(1000.0 * x + 7.0, y)
    np.testing.assert_allclose(a.per_unit, b.per_unit, atol=1e-8)
    np.testing.assert_allclose(b.alphas, a.alphas * 1e6, rtol=1e-6)


def test_result_is_invariant_to_target_affine_maps_and_unit_order():
    x, y = planted(n=90, d=50, noise=1.5)
    a = ridge_predictivity(x, y)
    b = ridge_predictivity(x, 3.0 * y[:, ::-1] - 2.0)
    np.testing.assert_allclose(a.per_unit, b.per_unit[:, ::-1], atol=1e-8)


def test_responses_are_aligned_on_stimulus_id():
    x, y = planted(n=60, d=30, noise=1.0)
    ids = [f"s{i:03d}" for i in range(60)]
    perm = np.random.default_rng(0).permutation(60)
    rx = make_responses(x, stimulus_ids=ids)
    ry = make_responses(y[perm], stimulus_ids=np.array(ids)[perm])
    a = ridge_predictivity(rx, ry)
    b = ridge_predictivity(x, y)
    np.testing.assert_allclose(a.per_unit, b.per_unit, atol=1e-10)


def test_stratify_by_coord_name():
    x, y = planted(n=60, d=30, noise=1.0)
    cat = np.repeat(["face", "body", "object"], 20)
    rx = make_responses(x, coords={"category": ("stimulus", cat)})
    ry = make_responses(y)
    res = ridge_predictivity(rx, ry, stratify="category")
    assert res.params["stratified"] and np.isfinite(res.value)


def test_float32_and_float64_agree():
    x, y = planted(n=120, d=200, noise=1.0)
    b = ridge_predictivity(x, y)
    q = pls_predictivity(x, y, n_components=10)
    with set_options(dtype="float32"):
        a = ridge_predictivity(x, y)
        p = pls_predictivity(x, y, n_components=10)
    # float32 solves (eigh of a 108 x 108 Gram, 10 PLS deflations) on centred, rescaled inputs: the
    # per-unit r moves by ~ cond * n * eps32 ~ 1e-5; 1e-3 is two digits of margin (issue 12: float32
    # once moved real V1 predictivity by 0.1)
    assert a.value == pytest.approx(b.value, abs=1e-3)
    assert p.value == pytest.approx(q.value, abs=1e-3)


def test_reverse_predictivity_swaps_roles():
    x, y = planted(n=80, d=30, u=5, noise=1.0)
    rev = reverse_predictivity(x, y)
    fwd = ridge_predictivity(y, x)
    np.testing.assert_allclose(rev.per_unit, fwd.per_unit)
    assert rev.method == "reverse_ridge" and rev.per_unit.shape == (10, 30)
    assert reverse_predictivity(x, y, method="pls", n_components=3).method == "reverse_pls"


def test_registered_measures_return_the_protocol_value():
    x, y = planted(n=60, d=20, noise=1.0)
    assert {"ridge", "pls", "reverse_ridge"} <= set(METRICS.names())
    assert METRICS.get("ridge")(x, y) == pytest.approx(
        ridge_predictivity(x, y).value)
    assert METRICS.get("pls")(x, y, n_components=5) == pytest.approx(
        pls_predictivity(x, y, n_components=5).value, abs=1e-6)
    v = METRICS.get("reverse_ridge")(x, y)
    assert isinstance(v, float) and -1 <= v <= 1


def test_result_object():
    res = ridge_predictivity(*planted(n=60, d=20))
    assert isinstance(res, PredictivityResult) and float(res) == res.value
    assert "ridge" in repr(res) and res.per_split.shape == (10,)
    assert len(DEFAULT_ALPHAS) == 17 and res.error_kind == "sd over 10 splits"


def test_torch_inputs_are_accepted():
    x, y = planted(n=60, d=20)
    a = ridge_predictivity(torch.as_tensor(x), torch.as_tensor(y))
    b = ridge_predictivity(x, y)
    assert a.value == pytest.approx(b.value, abs=1e-12)


def test_pearson_per_column():
    rng = np.random.default_rng(0)
    p, t = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    t[:, 2] = 5.0  # constant target: undefined
    p[:, 3] = 1.0  # constant prediction: no information
    r = pearson_per_column(torch.as_tensor(p), torch.as_tensor(t)).numpy()
    assert r[0] == pytest.approx(np.corrcoef(p[:, 0], t[:, 0])[0, 1], abs=1e-12)
    assert np.isnan(r[2]) and r[3] == 0.0


# ----------------------------------------------------------------------------- bad input
def test_constant_target_unit_is_an_error():
    x, y = planted(n=60, d=20)
    y[:, 2] = 4.0
    with pytest.raises(ValueError, match="constant over all stimuli"):
        ridge_predictivity(x, y)


def test_constant_features_are_ignored_but_all_constant_x_is_an_error():
    x, y = planted(n=60, d=20, noise=0.5)
    xc = np.concatenate([x, np.ones((60, 5))], axis=1)
    a = ridge_predictivity(x, y)
    b = ridge_predictivity(xc, y)
    np.testing.assert_allclose(a.per_unit, b.per_unit, atol=1e-8)
    with pytest.raises(ValueError, match="Every column of x is constant"):
        ridge_predictivity(np.ones((60, 5)), y)


def test_nan_inputs_are_errors():
    x, y = planted(n=60, d=20)
    y[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ridge_predictivity(x, y)
    with pytest.raises(ValueError, match="NaN"):
        pls_predictivity(y, x)


def test_too_few_stimuli():
    x, y = planted(n=3, d=5)
    with pytest.raises(ValueError, match="at least 3"):
        ridge_predictivity(x, y)
    x, y = planted(n=20, d=5)
    with pytest.raises(ValueError, match="test_fraction=0.1 of 20 stimuli holds out 2"):
        ridge_predictivity(x, y)  # 2 held-out stimuli per split


def test_mismatched_stimulus_ids_are_errors():
    x, y = planted(n=30, d=5)
    rx = make_responses(x)
    ry = make_responses(y, stimulus_ids=[f"other_{i}" for i in range(30)])
    with pytest.raises(ValueError, match="share no stimulus_id"):
        ridge_predictivity(rx, ry)
    with pytest.raises(ValueError, match="stimuli"):
        ridge_predictivity(x, y[:20])


def test_single_unit_works():
    x, y = planted(n=60, d=20, u=1, noise=0.5)
    res = ridge_predictivity(x, y)
    assert res.per_unit.shape == (10, 1) and 0.5 < res.value <= 1.0


def test_bad_parameters():
    x, y = planted(n=60, d=20)
    with pytest.raises(ValueError, match="alphas"):
        ridge_predictivity(x, y, alphas=[1.0, -1.0])
    with pytest.raises(ValueError, match="n_components"):
        pls_predictivity(x, y, n_components=0)
    with pytest.raises(ValueError, match="'method' parameter"):
        reverse_predictivity(x, y, method="lasso")
    with pytest.raises(ValueError, match="test_fraction"):
        make_splits(60, test_fraction=1.5)
    with pytest.raises(ValueError, match="stratify"):
        ridge_predictivity(make_responses(x), make_responses(y), stratify="nope")
    with pytest.raises(ValueError, match="features"):
        RidgeMapping().fit(x[:50], y[:50]).predict(x[50:, :5])


def test_all_heldout_targets_constant_in_a_split_is_an_error():
    x, y = planted(n=40, d=10, u=1)
    y[:, 0] = 0.0
    y[:2, 0] = 1.0  # almost constant: most held-out sets see a constant target
    tr, te = make_splits(40)[0]
    if len(set(y[te, 0])) > 1:
        pytest.skip("the first split happens to see a varying target")
    with pytest.raises(ValueError, match="held-out responses are constant"):
        ridge_predictivity(x, y)


# ----------------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_cuda_matches_cpu():
    x, y = planted(n=200, d=300, noise=1.0)
    a = ridge_predictivity(x, y)
    b = ridge_predictivity(x, y, device="cuda")
    np.testing.assert_allclose(a.per_unit, b.per_unit, atol=1e-8)
    p = pls_predictivity(x, y)
    q = pls_predictivity(x, y, device="cuda")
    np.testing.assert_allclose(p.per_unit, q.per_unit, atol=1e-8)


# ----------------------------------------------------------------------------- scale
@pytest.mark.parametrize("func", [ridge_predictivity, pls_predictivity], ids=["ridge", "pls"])
def test_wide_features_are_never_decomposed_as_features_x_features(func, monkeypatch):
    import scipy.linalg

    shapes = []

    def spy(real):
        def eigh(a, *args, **kwargs):
            shapes.append(tuple(a.shape))
            return real(a, *args, **kwargs)

        return eigh

    # torch's eigh, and scipy's (ridge decomposes on the CPU with scipy's LAPACK)
    monkeypatch.setattr(torch.linalg, "eigh", spy(torch.linalg.eigh))
    monkeypatch.setattr(scipy.linalg, "eigh", spy(scipy.linalg.eigh))
    x, y = planted(n=60, d=3000, u=4)
    kw = {"n_components": 5} if func is pls_predictivity else {}
    func(x, y, **kw)
    assert shapes and max(max(s) for s in shapes) <= 54  # n_train, never 3000


# ----------------------------------------------------------------------------- command line
def test_predictivity_cli(tmp_path, capsys):
    import json

    from neurocompare.cli import build_parser
    from neurocompare.data import save

    x, y = planted(n=60, d=20, noise=0.5)
    reps = y[:, :, None] + 0.1 * np.random.default_rng(0).standard_normal((60, 6, 3))
    save(make_responses(x), tmp_path / "x.nc")
    save(make_responses(reps, dims=("stimulus", "unit", "repetition")), tmp_path / "y.nc")
    parser = build_parser("predictivity")
    args = parser.parse_args(["predictivity", str(tmp_path / "x.nc"), str(tmp_path / "y.nc"), "--json", str(tmp_path / "r.json")])
    assert args.func(args) == 0
    out = json.loads((tmp_path / "r.json").read_text())
    expected = ridge_predictivity(x, reps.mean(2)).value
    assert out["value"] == pytest.approx(expected, abs=1e-10)
    assert "ridge:" in capsys.readouterr().out
    args = parser.parse_args(["predictivity", str(tmp_path / "x.nc"), str(tmp_path / "y.nc"), "--method", "pls",
                              "--n-components", "4", "--reverse"])
    assert args.func(args) == 0 and "reverse_pls" in capsys.readouterr().out
