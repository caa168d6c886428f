"""Information-plane estimators and the 12-bit task: known answers, the exact discrete MI, the ReLU trap, KDE bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurocompare._seeding import numpy_rng
from neurocompare.learning import (
    binned_mutual_information,
    icosahedron_vertices,
    kde_mutual_information,
    twelve_bit_task,
)

EPS = np.finfo(np.float64).eps
TOL = 1e-9  # entropies of <= 4,096 counts: sums of 4,096 terms of size <= 12 bits, round-off << 1e-9


@pytest.fixture(scope="module")
def task():
    return twelve_bit_task(seed=0)


# ----------------------------------------------------------------------------- the task
def test_twelve_bit_task_is_all_inputs_with_balanced_spherical_labels(task):
    x, y = task
    assert x.shape == (4096, 12) and y.shape == (4096,)
    assert len({tuple(r) for r in x.astype(int)}) == 4096  # every binary input once
    assert set(np.unique(x)) == {0.0, 1.0}
    assert int(y.sum()) == 2048  # P(y = 1) = 0.5
    v = icosahedron_vertices()
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=10 * EPS)
    # a regular icosahedron: every vertex has exactly 5 nearest neighbours at the same distance
    d = np.linalg.norm(v[:, None] - v[None], axis=2)
    nearest = np.sort(d, axis=1)[:, 1:6]
    np.testing.assert_allclose(nearest, nearest[0, 0], atol=1e-12)
    # labels are a function of the spherical score f(x) = |Σ (2x - 1) v|²: larger f, never a smaller label
    f = np.round(np.sum(((2 * x - 1) @ v) ** 2, axis=1), 9)
    assert f[y == 1].min() >= f[y == 0].max()
    # f is invariant under flipping every bit (s -> -s), so the label is, except at the median tie
    flipped = (4095 - np.arange(4096))
    np.testing.assert_allclose(f, f[flipped])
    # the seed moves only tied inputs
    _, y2 = twelve_bit_task(seed=1)
    changed = y != y2
    assert changed.any() and np.all(f[changed] == f[changed][0])
    np.testing.assert_array_equal(twelve_bit_task(seed=0)[1], y)


# ----------------------------------------------------------------------------- binned MI, known answers
def test_bijective_lookup_table_gives_12_bits_and_h_y(task):
    x, y = task
    perm = numpy_rng(0, "test", "lookup").permutation(4096)
    codes = ((perm[:, None] >> np.arange(12)[None, :]) & 1) * 1.6 - 0.8  # a distinct ±0.8 code per input
    r = binned_mutual_information(codes, y, 2, value_range=(-1, 1))
    h_y = 1.0  # 2,048 of each label
    assert abs(r.i_xt - 12.0) < TOL and abs(r.i_ty - h_y) < TOL and abs(r.h_y - h_y) < TOL
    assert r.clipped == 0.0
    # one continuous unit with a distinct value per input: equal-mass bins put each in its own bin
    one = numpy_rng(1, "test", "values").standard_normal(4096)
    r = binned_mutual_information(one, y, 4096, value_range="adaptive")
    assert abs(r.i_xt - 12.0) < TOL and abs(r.i_ty - h_y) < TOL


def test_constant_layer_gives_zero_and_zero(task):
    _, y = task
    for rng in ((-1, 1), "per_layer", "adaptive"):
        r = binned_mutual_information(np.full((4096, 3), 0.3), y, 30, value_range=rng)
        assert r.i_xt == 0.0 and r.i_ty == 0.0, rng


def test_two_bins_of_a_sign_network_equal_the_exact_discrete_mutual_information(task):
    """Reference: scikit-learn 1.x ``mutual_info_score`` (nats) on the sign patterns, and the entropy of the patterns."""
    from sklearn.metrics import mutual_info_score

    x, y = task
    w = numpy_rng(2, "test", "weights").standard_normal((12, 4))
    b = numpy_rng(2, "test", "bias").standard_normal(4)
    pre = (2 * x - 1) @ w + b
    t = np.tanh(pre)
    signs = pre >= 0
    pattern = signs @ (1 << np.arange(4))  # the sign pattern as an integer
    exact_ity = mutual_info_score(pattern, y) / math.log(2)
    counts = np.bincount(pattern)
    p = counts[counts > 0] / 4096
    exact_ixt = float(-(p * np.log2(p)).sum())  # = I(X; T) for a deterministic T
    r = binned_mutual_information(t, y, 2, value_range=(-1, 1))
    assert abs(r.i_xt - exact_ixt) < TOL
    assert abs(r.i_ty - exact_ity) < TOL
    assert 0 < r.i_ty < r.i_xt <= 4  # data processing: I(T;Y) <= I(X;T) <= log2(#patterns)


def test_fixed_range_saturates_relu_units_and_the_result_says_so(task):
    """The trap of the original code: ReLU activity above 1 all falls in the top bin of [-1, 1]."""
    x, y = task
    w = numpy_rng(3, "test", "relu").standard_normal((12, 5)) * 2.0
    relu = np.maximum((2 * x - 1) @ w, 0.0)
    fixed = binned_mutual_information(relu, y, 30, value_range=(-1, 1))
    own = binned_mutual_information(relu, y, 30, value_range="per_layer")
    assert fixed.clipped > 0.2  # the fraction reported
    assert own.clipped == 0.0
    assert own.i_xt > fixed.i_xt + 1.0  # bits lost to saturation
    # invariances: per-layer and adaptive ranges do not care about the scale of the layer
    for rng in ("per_layer", "adaptive"):
        a = binned_mutual_information(relu, y, 30, value_range=rng)
        b = binned_mutual_information(7.5 * relu, y, 30, value_range=rng)
        assert abs(a.i_xt - b.i_xt) < TOL and abs(a.i_ty - b.i_ty) < TOL
    # a permutation of the rows (with their labels) changes nothing
    perm = numpy_rng(4, "test", "rows").permutation(4096)
    c = binned_mutual_information(relu[perm], y[perm], 30, value_range="per_layer")
    assert abs(c.i_xt - own.i_xt) < TOL and abs(c.i_ty - own.i_ty) < TOL


def test_binned_estimate_is_monotone_in_the_number_of_bins_for_nested_bins(task):
    x, y = task
    t = np.tanh((2 * x - 1) @ numpy_rng(5, "test", "nested").standard_normal((12, 3)) / 3)
    values = [binned_mutual_information(t, y, n, value_range=(-1, 1)).i_xt for n in (2, 4, 8, 16)]
    assert all(a <= b + TOL for a, b in zip(values, values[1:]))  # each binning refines the last


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"value_range": "fixed"}, "must be a \\(low, high\\) pair or one of"),
        ({"value_range": (1, -1)}, "low < high"),
        ({"value_range": "abc", "n_bins": 1}, "n_bins"),
        ({"value_range": (0, 1, 2)}, "pair"),
    ],
)
def test_binned_errors(kwargs, match):
    n_bins = kwargs.pop("n_bins", 10)
    with pytest.raises(ValueError, match=match):
        binned_mutual_information(np.zeros((4, 2)), np.zeros(4), n_bins, **kwargs)


def test_binned_range_is_required_and_shapes_are_checked():
    with pytest.raises(TypeError, match="value_range"):
        binned_mutual_information(np.zeros((4, 2)), np.zeros(4), 10)  # no silent default
    with pytest.raises(ValueError, match="matching the 4 activation rows"):
        binned_mutual_information(np.zeros((4, 2)), np.zeros(3), 10, value_range="per_layer")
    with pytest.raises(ValueError, match="NaN"):
        binned_mutual_information(np.full((4, 2), np.nan), np.zeros(4), 10, value_range="per_layer")
    with pytest.raises(ValueError, match="dims \\(sample, unit\\)"):
        binned_mutual_information(np.zeros((4, 2, 2)), np.zeros(4), 10, value_range="per_layer")


# ----------------------------------------------------------------------------- KDE bounds
def test_kde_bounds_on_two_points_have_the_closed_form():
    """Two points at distance d: upper = -ln((1 + exp(-d²/2σ²)) / 2), lower the same with 8σ² (nats)."""
    d, s2 = 0.7, 0.1
    a = np.array([[0.0, 0.0], [d, 0.0]])
    r = kde_mutual_information(a, np.array([0, 1]), s2)
    up = -math.log((1 + math.exp(-d * d / (2 * s2))) / 2) / math.log(2)
    lo = -math.log((1 + math.exp(-d * d / (8 * s2))) / 2) / math.log(2)
    assert abs(r.i_xt_upper - up) < 1e-12 and abs(r.i_xt_lower - lo) < 1e-12
    # one point per class: the class-conditional terms are 0, so I(T;Y) = I(X;T)
    assert abs(r.i_ty_upper - up) < 1e-12 and abs(r.i_ty_lower - lo) < 1e-12
    assert r.ci == (r.i_xt_lower, r.i_xt_upper)


def test_kde_bounds_limits_and_ordering(task):
    x, y = task
    sub = slice(0, 512)
    far = 100.0 * (2 * x[sub] - 1)  # points far apart relative to σ: both bounds -> log2(n)
    r = kde_mutual_information(far, y[sub], 0.1)
    assert abs(r.i_xt_upper - 9.0) < 1e-9 and abs(r.i_xt_lower - 9.0) < 1e-9
    same = np.zeros((512, 3))  # all at one point: nothing can be told apart
    r0 = kde_mutual_information(same, y[sub], 0.1)
    assert abs(r0.value) < 1e-12 and abs(r0.i_xt_lower) < 1e-12
    mid = np.tanh((2 * x[sub] - 1) @ numpy_rng(6, "test", "kde").standard_normal((12, 4)) / 2)
    r1 = kde_mutual_information(mid, y[sub], 0.1)
    assert 0 < r1.i_xt_lower <= r1.i_xt_upper <= 9.0 + 1e-9
    # more noise, less information
    assert kde_mutual_information(mid, y[sub], 1.0).value < r1.value


def test_kde_errors():
    with pytest.raises(ValueError, match="noise_variance"):
        kde_mutual_information(np.zeros((3, 2)), np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="labels"):
        kde_mutual_information(np.zeros((3, 2)), np.zeros((3, 1)))
