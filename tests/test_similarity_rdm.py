"""RDMs and RSA: reference values (rsatoolbox 0.3.2, pinned), properties, real data, bad input.

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
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform

from neurocompare.data import check_rdm, make_rdm, make_responses
from neurocompare.similarity import METRICS
from neurocompare.similarity._rdm import condense, crossnobis_rdm, noise_precision, rdm, squareform_torch, sym_gram
from neurocompare.similarity._rsa import COMPARE_METHODS, compare_rdms, rank, rsa

REF = json.loads((Path(__file__).parent / "reference" / "similarity_reference.json").read_text())
INP = REF["inputs"]
RSAT = REF["rsatoolbox"]  # rsatoolbox==0.3.2, made by tests/reference/make_similarity_reference.py
OUR_NAME = {"spearman": "spearman", "corr": "pearson", "tau-a": "tau_a", "kendall": "tau_b", "rho-a": "rho_a",
            "cosine": "cosine", "cosine_cov": "wuc"}


def _rng(seed=0):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- reference values
def test_reference_package_pinned():
    assert RSAT["package"] == "rsatoolbox==0.3.2"


@pytest.mark.parametrize("name", ["x", "y"])
def test_correlation_and_euclidean_rdms_match_rsatoolbox(name):
    a = np.array(INP[name])
    ours = rdm(a, "correlation", condensed=True, float64=True)
    np.testing.assert_allclose(ours, RSAT["rdm"][f"correlation_{name}"], atol=1e-6, rtol=0)
    # rsatoolbox's 'euclidean' is the squared distance divided by the number of channels
    ours = rdm(a, "sqeuclidean", condensed=True, float64=True) / a.shape[1]
    np.testing.assert_allclose(ours, RSAT["rdm"][f"euclidean_{name}"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("noise", ["identity", "shrinkage_diag", "shrinkage_eye"])
def test_crossnobis_matches_rsatoolbox(noise):
    reps = np.array(INP["reps"])
    ours = crossnobis_rdm(reps, noise=noise, condensed=True, float64=True)
    np.testing.assert_allclose(ours, RSAT["crossnobis"][noise], atol=1e-6, rtol=0)
    if noise != "identity":
        prec = noise_precision(reps, noise).numpy()
        np.testing.assert_allclose(prec, RSAT["crossnobis"][f"precision_{noise}"], atol=1e-6, rtol=1e-9)


@pytest.mark.parametrize("method", sorted(OUR_NAME))
def test_rdm_comparisons_match_rsatoolbox(method):
    rx, ry = np.array(RSAT["rdm"]["correlation_x"]), np.array(RSAT["rdm"]["correlation_y"])
    assert compare_rdms(rx, ry, OUR_NAME[method]) == pytest.approx(RSAT["compare"][f"xy_{method}"], abs=1e-6)
    # a categorical model RDM full of ties against a graded RDM
    model, graded = np.array(INP["model_rdm"]), np.array(INP["graded_rdm"])
    assert compare_rdms(model, graded, OUR_NAME[method]) == pytest.approx(RSAT["compare"][f"model_{method}"], abs=1e-6)


def test_spearman_and_tau_agree_with_scipy():
    a, b = _rng(1).random(300), _rng(2).random(300).round(1)  # b has ties
    assert compare_rdms(a, b, "spearman") == pytest.approx(scipy.stats.spearmanr(a, b).statistic, abs=1e-12)
    assert compare_rdms(a, b, "tau_b") == pytest.approx(scipy.stats.kendalltau(a, b).statistic, abs=1e-12)
    assert compare_rdms(a, b, "pearson") == pytest.approx(scipy.stats.pearsonr(a, b).statistic, abs=1e-12)


def test_rank_matches_scipy_rankdata_with_ties():
    v = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 1.0])
    np.testing.assert_array_equal(rank(torch.tensor(v)).numpy(), scipy.stats.rankdata(v))


# ----------------------------------------------------------------------------- known answers
def test_euclidean_known_answer_and_scipy():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0], [0.0, 1.0]])
    d = rdm(x, "euclidean", float64=True)
    assert d[0, 1] == pytest.approx(5.0) and d[0, 2] == pytest.approx(10.0)
    for method in ("euclidean", "sqeuclidean", "cosine", "correlation"):
        y = _rng(3).normal(size=(15, 7))
        np.testing.assert_allclose(rdm(y, method, condensed=True, float64=True), pdist(y, method), atol=1e-10)


def test_sym_gram_blocks_equal_plain_product():
    a = torch.randn(37, 5, dtype=torch.float64)
    np.testing.assert_allclose(sym_gram(a, block=8).numpy(), (a @ a.T).numpy(), atol=1e-12)


def test_squareform_roundtrip():
    v = torch.arange(1.0, 11.0)
    d = squareform_torch(v)
    np.testing.assert_array_equal(d.numpy(), squareform(v.numpy()))
    np.testing.assert_array_equal(condense(d).numpy(), v.numpy())


def test_correlation_rdm_invariant_to_per_stimulus_affine_maps():
    x = _rng(4).normal(size=(10, 20))
    scaled = x * _rng(5).uniform(0.5, 3, size=(10, 1)) + _rng(6).normal(size=(10, 1))
    np.testing.assert_allclose(rdm(x, float64=True), rdm(scaled, float64=True), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 20), d=st.integers(2, 12), seed=st.integers(0, 10_000),
       method=st.sampled_from(["correlation", "cosine", "euclidean", "sqeuclidean"]))
def test_rdms_are_symmetric_nonnegative_with_zero_diagonal(n, d, seed, method):
    x = np.random.default_rng(seed).normal(size=(n, d))
    r = rdm(x, method)
    np.testing.assert_array_equal(r, r.T)
    np.testing.assert_array_equal(np.diag(r), 0.0)
    assert (r >= 0).all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), method=st.sampled_from(list(COMPARE_METHODS)))
def test_every_comparison_of_an_rdm_with_itself_is_one(seed, method):
    x = np.random.default_rng(seed).normal(size=(9, 6))
    assert rsa(x, x, compare=method) == pytest.approx(1.0, abs=1e-9)


def test_output_types_follow_input_types():
    x = _rng(7).normal(size=(6, 4))
    resp = make_responses(x, stimulus_ids=[f"s{i}" for i in range(6)])
    out = rdm(resp)
    check_rdm(out)
    assert out.dims == ("stimulus", "stimulus_2") and list(out.stimulus_id.values) == [f"s{i}" for i in range(6)]
    assert isinstance(rdm(x), np.ndarray) and rdm(x).shape == (6, 6)
    assert rdm(x, condensed=True).shape == (15,)
    t = rdm(torch.tensor(x), condensed=True)
    assert isinstance(t, torch.Tensor) and t.shape == (15,)
    np.testing.assert_allclose(out.values, rdm(x, float64=True), atol=1e-6)


def test_crossnobis_is_unbiased_where_euclidean_is_not():
    # 12 identical stimuli, only noise: the true distances are all 0
    noise = _rng(8).normal(size=(12, 30, 6))
    cross = crossnobis_rdm(noise, noise=None, condensed=True, float64=True)
    naive = rdm(noise.mean(2), "sqeuclidean", condensed=True, float64=True) / 30
    assert abs(cross.mean()) < 3 * cross.std() / np.sqrt(cross.size)
    assert naive.mean() > 0.2  # the plain distance of averaged noisy patterns is biased upwards


def test_crossnobis_folds_average_repetitions_first():
    reps = _rng(9).normal(size=(6, 5, 4))
    by_folds = crossnobis_rdm(reps, noise=None, folds=[0, 0, 1, 1], float64=True)
    paired = np.stack([reps[:, :, :2].mean(2), reps[:, :, 2:].mean(2)], axis=2)
    np.testing.assert_allclose(by_folds, crossnobis_rdm(paired, noise=None, float64=True), atol=1e-12)


def test_crossnobis_responses_give_rdm_dataarray():
    reps = _rng(10).normal(size=(5, 4, 3))
    resp = make_responses(reps, dims=("stimulus", "unit", "repetition"))
    out = crossnobis_rdm(resp)
    assert out.dims == ("stimulus", "stimulus_2") and out.attrs["method"] == "crossnobis"


# ----------------------------------------------------------------------------- alignment and stacks
def test_rsa_aligns_responses_on_stimulus_id():
    x, y = _rng(11).normal(size=(10, 5)), _rng(12).normal(size=(10, 3))
    ids = [f"s{i}" for i in range(10)]
    rx = make_responses(x, stimulus_ids=ids)
    order = _rng(13).permutation(10)
    ry = make_responses(y[order], stimulus_ids=np.array(ids)[order])
    assert rsa(rx, ry) == pytest.approx(rsa(x, y), abs=1e-6)
    dx, dy = rdm(rx), rdm(ry)
    assert compare_rdms(dx, dy) == pytest.approx(rsa(x, y), abs=1e-6)


def test_stacked_rdms_give_a_matrix_of_comparisons():
    stack = np.stack([rdm(_rng(s).normal(size=(8, 4))) for s in range(3)])
    out = compare_rdms(stack, stack[:2], "pearson")
    assert out.shape == (3, 2)
    np.testing.assert_allclose(np.diag(out[:2]), 1.0, atol=1e-6)
    assert out[2, 1] == pytest.approx(compare_rdms(stack[2], stack[1], "pearson"), abs=1e-12)
    da = make_rdm(stack, stack_dim="subject")
    assert compare_rdms(da, da).shape == (3, 3)


def test_rsa_metrics_registered():
    for name in ("rsa_spearman", "rsa_pearson", "rsa_tau_a", "rsa_rho_a", "rsa_cosine", "rsa_wuc"):
        assert name in METRICS


# ----------------------------------------------------------------------------- bad input
def test_constant_rdm_raises_for_correlations_but_tau_a_is_zero():
    const = np.ones(10)
    other = _rng(14).random(10)
    for method in ("spearman", "pearson", "tau_b"):
        with pytest.raises(ValueError, match="constant"):
            compare_rdms(const, other, method)
    assert compare_rdms(const, other, "tau_a") == 0.0
    assert compare_rdms(const, other, "rho_a") == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="all zeros"):
        compare_rdms(np.zeros(10), other, "cosine")


def test_bad_inputs_raise_clear_errors():
    x = _rng(15).normal(size=(6, 4))
    with pytest.raises(ValueError, match="must be one of"):
        rdm(x, "corr")
    with pytest.raises(ValueError, match="must be one of"):
        compare_rdms(rdm(x), rdm(x), "kendal")
    with pytest.raises(ValueError, match="zero variance across units"):
        rdm(np.vstack([x, np.ones((1, 4))]), "correlation")
    with pytest.raises(ValueError, match="NaN"):
        rdm(np.where(np.eye(6, 4) > 0, np.nan, x))
    with pytest.raises(ValueError, match="at least 4"):
        rdm(x[:3])
    with pytest.raises(ValueError, match="1-D"):
        rdm(x[:, 0])
    with pytest.raises(ValueError, match="not symmetric"):
        compare_rdms(rdm(x) + np.triu(np.ones((6, 6)), 1), rdm(x))
    with pytest.raises(ValueError, match="n\\*\\(n-1\\)/2"):
        compare_rdms(np.ones(7), np.ones(7))
    with pytest.raises(ValueError, match="different numbers of stimuli"):
        compare_rdms(rdm(x), rdm(x[:5]))


def test_single_unit_correlation_rdm_is_refused_but_euclidean_works():
    x = _rng(16).normal(size=(6, 1))
    with pytest.raises(ValueError, match="zero variance across units"):
        rdm(x, "correlation")
    np.testing.assert_allclose(rdm(x, "euclidean", condensed=True, float64=True), pdist(x), atol=1e-12)


def test_mismatched_stimulus_ids_raise():
    a = make_rdm(rdm(_rng(17).normal(size=(5, 3))), stimulus_ids=list("abcde"))
    b = make_rdm(rdm(_rng(18).normal(size=(5, 3))), stimulus_ids=list("abcdf"))
    with pytest.raises(ValueError, match="different stimuli"):
        compare_rdms(a, b)
    ra = make_responses(_rng(19).normal(size=(5, 3)), stimulus_ids=list("abcde"))
    rb = make_responses(_rng(20).normal(size=(5, 3)), stimulus_ids=list("abcdf"))
    with pytest.raises(ValueError, match="stimulus_id sets differ"):
        rsa(ra, rb)


def test_crossnobis_bad_inputs():
    reps = _rng(21).normal(size=(6, 4, 3))
    with pytest.raises(ValueError, match="at least 2 repetitions"):
        crossnobis_rdm(reps[:, :, :1])
    bad = reps.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        crossnobis_rdm(bad)
    with pytest.raises(ValueError, match="3-D"):
        crossnobis_rdm(reps[:, :, 0])
    with pytest.raises(ValueError, match="must be one of"):
        crossnobis_rdm(reps, noise="ledoit")
    with pytest.raises(ValueError, match="one label per repetition"):
        crossnobis_rdm(reps, folds=[0, 1])


# ----------------------------------------------------------------------------- real data
@pytest.mark.requires_data
def test_kriegeskorte_human_and_monkey_it_rdms(data_root):
    k92 = pytest.importorskip("data_loaders.kriegeskorte2008")
    human = k92.load_human_it(data_root)  # (subject 4, session 2, 92, 92)
    monkey = k92.load_monkey_it(data_root)
    stack = human.stack(s=("subject", "session")).transpose("s", "stimulus", "stimulus_2")
    inter = compare_rdms(stack, stack, "spearman")
    off = inter[~np.eye(8, dtype=bool)]
    assert 0.0 < off.mean() < 0.5  # single-session fMRI RDMs are noisy but consistent
    mean = human.mean(("subject", "session"))
    rho = compare_rdms(mean, monkey, "spearman")
    vm, vh = condense(monkey.values), condense(mean.values)
    assert rho == pytest.approx(scipy.stats.spearmanr(vh, vm).statistic, abs=1e-10)
    assert rho > off.mean()  # averaging 8 sessions beats single-session agreement
    assert compare_rdms(mean, monkey, "pearson") > 0.3


@pytest.mark.requires_data
@pytest.mark.parametrize("method", sorted(OUR_NAME))
def test_kriegeskorte_comparisons_match_rsatoolbox(data_root, method):
    k92 = pytest.importorskip("data_loaders.kriegeskorte2008")
    ref = REF["rsatoolbox_k92"]  # rsatoolbox==0.3.2 on the recorded RDMs
    human = k92.load_human_it(data_root).mean(("subject", "session"))
    monkey = k92.load_monkey_it(data_root)
    assert compare_rdms(human, monkey, OUR_NAME[method]) == pytest.approx(ref[method], abs=1e-6)


@pytest.mark.gpu
def test_rdm_on_cuda_matches_cpu():
    x = _rng(22).normal(size=(50, 30))
    cpu = rdm(x, float64=True)
    gpu = rdm(torch.tensor(x), device="cuda", float64=True).cpu().numpy()
    np.testing.assert_allclose(cpu, gpu, atol=1e-10)


def test_rsa_accepts_an_rdm_on_either_side():
    import xarray as xr

    """nc.rsa(acts, rdm): the RDM side is used as it is, the other side's RDM is computed."""
    import neurocompare as nc

    rng = np.random.default_rng(3)
    ids = [f"s{i}" for i in range(12)]
    x = nc.make_responses(rng.standard_normal((12, 7)), stimulus_ids=ids)
    y = nc.make_responses(rng.standard_normal((12, 5)), stimulus_ids=ids)
    ry = nc.rdm(y)
    expected = nc.rsa(x, y)  # both sides as responses
    assert nc.rsa(x, ry) == pytest.approx(expected, abs=1e-12)
    assert nc.rsa(ry, x) == pytest.approx(expected, abs=1e-12)
    # the RDM is aligned by stimulus_id: a reordered RDM gives the same value
    order = rng.permutation(12)
    assert nc.rsa(x, ry.isel(stimulus=order, stimulus_2=order)) == pytest.approx(expected, abs=1e-12)
    stack = xr.concat([ry, ry], dim="subject")
    with pytest.raises(ValueError, match="stack dims"):
        nc.rsa(x, stack)
