"""CCA family and shape metrics: pinned reference values, invariances, metric axioms, bad input.

netrep (Williams et al. 2021's package) is not on PyPI and cannot be installed here, so the shape
references are a feature-space implementation of the paper's definition (explicit zero-padding,
units-by-units whitening, SVD of the cross-covariance) kept in
tests/reference/make_similarity_reference.py; ours works in stimulus space, so the two routes are
independent.

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
from neurocompare.similarity._cca import canonical_correlations, cca_mean, pwcca, svcca
from neurocompare.similarity._shape import pairwise_shape_distances, procrustes, shape_cca, shape_distance

REF = json.loads((Path(__file__).parent / "reference" / "similarity_reference.json").read_text())
INP = REF["inputs"]
FORM = REF["formulas"]
NETS = [np.array(a) for a in INP["nets"]]


# ----------------------------------------------------------------------------- reference values
@pytest.mark.parametrize("key", sorted(FORM["shape"]))
def test_shape_distances_match_feature_space_reference(key):
    i, j, alpha = key.split("_")
    x, y, a = NETS[int(i)], NETS[int(j)], float(alpha[5:])
    if a == 0.0 and min(x.shape[1], x.shape[0] - 1) + min(y.shape[1], y.shape[0] - 1) >= x.shape[0]:
        # issue 12: full whitening with rank_x + rank_y >= n stimuli forces canonical correlations of 1,
        # so the distance would be (near) 0 for any data; it is refused instead of reported
        with pytest.raises(ValueError, match="degenerate"):
            shape_distance(x, y, alpha=a, float64=True)
        return
    d = shape_distance(x, y, alpha=a, float64=True)
    assert d == pytest.approx(FORM["shape"][key], abs=1e-6)


def test_cca_shape_distance_closed_form_when_not_degenerate():
    # alpha=0 whitens each side to an orthonormal basis: cos(d) = sum(rho) / sqrt(r_x r_y)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(50, 6)), rng.normal(size=(50, 4))
    y[:, :2] += x[:, :2]
    ux = np.linalg.svd(x - x.mean(0), full_matrices=False)[0]
    uy = np.linalg.svd(y - y.mean(0), full_matrices=False)[0]
    rho = np.linalg.svd(ux.T @ uy, compute_uv=False)
    want = np.arccos(rho.sum() / np.sqrt(6 * 4))
    # float64 SVDs of 50 x 6 matrices: errors ~ 50 * eps * cond, far below 1e-10
    assert shape_cca(x, y, float64=True) == pytest.approx(want, abs=1e-10)


@pytest.mark.parametrize("fn", [cca_mean, svcca, pwcca, shape_cca, canonical_correlations])
def test_cca_family_refuses_degenerate_dimensions(fn):
    # unrelated data, 20 stimuli, 15 + 15 dimensions: 11 canonical correlations are forced to 1
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 15)), rng.normal(size=(20, 15))
    kept = r"\d+" if fn is svcca else "15"  # svcca first keeps 99% of the variance
    with pytest.raises(ValueError, match=rf"degenerate.*x keeps {kept} and y keeps {kept}.*20 centred stimuli"):
        fn(x, y)


def test_svcca_with_few_kept_dimensions_is_allowed_and_not_perfect():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 15)), rng.normal(size=(20, 15))
    v = svcca(x, y, variance=None, keep=4)
    assert 0.0 < v < 0.9  # unrelated data: 4 + 4 < 20, no forced correlation of 1


def test_canonical_correlations_and_pwcca_match_reference():
    x, narrow = np.array(INP["x"]), np.array(INP["narrow"])
    np.testing.assert_allclose(canonical_correlations(x[:, :5], narrow, float64=True), FORM["cca_rho_x5_narrow"], atol=1e-6)
    np.testing.assert_allclose(canonical_correlations(narrow, NETS[0], float64=True), FORM["cca_rho_narrow_nets0"], atol=1e-6)
    assert pwcca(narrow, NETS[0], float64=True) == pytest.approx(FORM["pwcca_narrow_nets0"], abs=1e-6)


# ----------------------------------------------------------------------------- invariances
def _orth(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


@settings(max_examples=20, deadline=None)
@given(n=st.integers(17, 40), p=st.integers(1, 8), seed=st.integers(0, 10_000))  # 2p < n: not degenerate (issue 12)
def test_cca_measures_are_invariant_to_invertible_linear_maps(n, p, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    a = rng.normal(size=(p, p)) + 3 * np.eye(p)  # well conditioned, invertible
    y = x @ a + rng.normal(size=(1, p))  # plus an offset
    assert cca_mean(x, y, float64=True) == pytest.approx(1.0, abs=1e-8)
    assert svcca(x, y, variance=None, float64=True) == pytest.approx(1.0, abs=1e-8)
    assert pwcca(x, y, float64=True) == pytest.approx(1.0, abs=1e-8)
    assert shape_cca(x, y, float64=True) == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(6, 40), p=st.integers(1, 10), seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0))
def test_procrustes_is_zero_under_rotation_and_scaling(n, p, seed, scale):
    x = np.random.default_rng(seed).normal(size=(n, p))
    assert procrustes(x, scale * x @ _orth(p, seed + 1), float64=True) == pytest.approx(0.0, abs=1e-6)


def test_procrustes_is_not_invariant_to_general_linear_maps_but_cca_shape_is():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4))
    y = x @ np.diag([1.0, 2.0, 5.0, 0.3])
    assert procrustes(x, y, float64=True) > 0.1
    assert shape_cca(x, y, float64=True) == pytest.approx(0.0, abs=1e-7)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
       widths=st.tuples(st.integers(1, 8), st.integers(1, 8), st.integers(1, 8)),
       score=st.sampled_from(["angular", "euclidean"]))
def test_shape_metrics_obey_the_triangle_inequality(seed, alpha, widths, score):
    rng = np.random.default_rng(seed)
    reps = [rng.normal(size=(17, w)) for w in widths]  # 8 + 8 < 17: CCA shape (alpha=0) not degenerate
    d = pairwise_shape_distances(reps, alpha=alpha, score=score, float64=True, progress=False)
    np.testing.assert_allclose(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert d[0, 2] <= d[0, 1] + d[1, 2] + 1e-9
    assert d[0, 1] <= d[0, 2] + d[2, 1] + 1e-9
    assert d[1, 2] <= d[1, 0] + d[0, 2] + 1e-9
    if score == "angular":
        assert (d >= 0).all() and (d <= np.pi).all()


def test_pairwise_distances_equal_single_distances():
    d = pairwise_shape_distances(NETS, alpha=0.5, float64=True, progress=False)
    assert d[0, 2] == pytest.approx(shape_distance(NETS[0], NETS[2], alpha=0.5, float64=True), abs=1e-12)


@pytest.mark.parametrize("name", ["cca_mean", "svcca", "pwcca", "procrustes", "shape", "shape_cca"])
def test_identity_values(name):
    x = np.random.default_rng(1).normal(size=(20, 6))
    expected = 1.0 if name in ("cca_mean", "svcca", "pwcca") else 0.0
    assert METRICS.get(name)(x, x, float64=True) == pytest.approx(expected, abs=1e-6)


def test_more_units_than_stimuli_never_builds_a_unit_by_unit_matrix_and_stays_exact():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 3000))
    v = rng.normal(size=3000)
    v /= np.linalg.norm(v)
    reflected = x - 2 * np.outer(x @ v, v)  # x @ (I - 2 v v'), an orthogonal map, without forming it
    assert procrustes(x, reflected, float64=True) == pytest.approx(0.0, abs=1e-6)
    y = rng.normal(size=(10, 3000))
    kx, ky = (lambda a: a @ a.T)(x - x.mean(0)), (lambda a: a @ a.T)(y - y.mean(0))
    nuclear = np.sqrt(np.clip(np.linalg.eigvals(kx @ ky).real, 0, None)).sum()  # |X'Y|_* from the Grams
    expected = np.arccos(nuclear / np.sqrt(np.trace(kx) * np.trace(ky)))
    assert procrustes(x, y, float64=True) == pytest.approx(expected, abs=1e-6)


def test_svcca_keeps_the_requested_directions():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 6)) * np.array([10, 5, 1, 0.1, 0.1, 0.1])
    y = np.hstack([x[:, :2] + 0.01 * rng.normal(size=(50, 2)), 0.01 * rng.normal(size=(50, 4))])
    assert svcca(x, y, keep=2, variance=None) == pytest.approx(1.0, abs=1e-3)
    assert svcca(x, y, variance=None) < 0.8  # the weak noise directions enter and lower the mean
    assert svcca(x, y, variance=0.99) == pytest.approx(1.0, abs=1e-3)  # 99% of variance: top 2 dims


def test_pwcca_is_not_symmetric_and_weights_come_from_x():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 3))
    y = np.hstack([x[:, :1], rng.normal(size=(40, 4))])
    assert pwcca(x, y) != pytest.approx(pwcca(y, x), abs=1e-3)


def test_responses_aligned_on_stimulus_id():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 4))
    ids = np.array([f"s{i}" for i in range(12)])
    order = rng.permutation(12)
    rx, ry = make_responses(x, stimulus_ids=ids), make_responses(y[order], stimulus_ids=ids[order])
    assert procrustes(rx, ry) == pytest.approx(procrustes(x, y), abs=1e-6)
    assert cca_mean(rx, ry) == pytest.approx(cca_mean(x, y), abs=1e-6)


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="alpha"):
        shape_distance(x, x, alpha=1.5)
    with pytest.raises(ValueError, match="zero_pad"):
        shape_distance(x, x[:, :2], zero_pad=False)
    with pytest.raises(ValueError, match="must be one of"):
        shape_distance(x, x, score="cosine")
    with pytest.raises(ValueError, match="no variance"):
        cca_mean(x, np.ones((10, 2)))
    with pytest.raises(ValueError, match="no variance"):
        procrustes(np.ones((10, 2)), x)
    with pytest.raises(ValueError, match="variance must be"):
        svcca(x, x, variance=1.5)
    with pytest.raises(ValueError, match="keep"):
        svcca(x, x, keep=0)
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pwcca(bad, x)
    with pytest.raises(ValueError, match="at least 2"):
        pairwise_shape_distances([x])
    with pytest.raises(ValueError, match="stimuli"):
        pairwise_shape_distances([x, x[:8]])


def test_single_unit_is_fine():
    rng = np.random.default_rng(8)
    a = rng.normal(size=(30, 1))
    b = 2 * a + 1
    assert cca_mean(a, b) == pytest.approx(1.0, abs=1e-6)
    assert procrustes(a, -b, float64=True) == pytest.approx(0.0, abs=1e-7)  # a reflection is orthogonal


@pytest.mark.gpu
def test_shape_on_cuda_matches_cpu():
    for alpha in (0.0, 0.5, 1.0):
        assert shape_distance(NETS[0], NETS[1], alpha=alpha, device="cuda", float64=True) == pytest.approx(
            shape_distance(NETS[0], NETS[1], alpha=alpha, float64=True), abs=1e-9)
    assert cca_mean(torch.tensor(NETS[0]), NETS[1], device="cuda") == pytest.approx(cca_mean(NETS[0], NETS[1]), abs=1e-5)
