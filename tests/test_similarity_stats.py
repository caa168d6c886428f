"""Bootstrap confidence intervals and permutation tests for similarity scores.

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

from neurocompare.data import make_responses
from neurocompare.similarity._rdm import rdm
from neurocompare.similarity._rsa import compare_rdms, rsa
from neurocompare.similarity._stats import (
    _resampled_pairs,
    bootstrap,
    bootstrap_rdm,
    permutation_test,
    permutation_test_rdm,
)


def _pair(seed=0, n=30, noise=0.5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    return x, x @ rng.normal(size=(6, 4)) + noise * rng.normal(size=(n, 4))


def test_bootstrap_interval_brackets_the_estimate_and_is_reproducible():
    x, y = _pair()
    res = bootstrap(x, y, "cka_linear", n_boot=40, seed=1, progress=False)
    assert res.low <= res.estimate <= res.high
    assert res.samples.shape == (40,)
    assert res.std > 0
    again = bootstrap(x, y, "cka_linear", n_boot=40, seed=1, progress=False)
    np.testing.assert_array_equal(res.samples, again.samples)
    wider = bootstrap(x, y, "cka_linear", n_boot=40, seed=1, ci=0.99, progress=False)
    assert wider.high - wider.low >= res.high - res.low


def test_bootstrap_interval_narrows_with_more_stimuli():
    small = bootstrap(*_pair(2, n=15), "cka_linear", n_boot=40, seed=0, progress=False)
    large = bootstrap(*_pair(2, n=200), "cka_linear", n_boot=40, seed=0, progress=False)
    assert large.std < small.std


def test_bootstrap_accepts_callables_and_params():
    x, y = _pair(3)
    res = bootstrap(x, y, rsa, n_boot=20, seed=0, progress=False, compare="pearson")
    assert res.estimate == pytest.approx(rsa(x, y, compare="pearson"))


def test_bootstrap_rdm_drops_self_pairs():
    d = np.array([[0, 1, 2, 3], [1, 0, 4, 5], [2, 4, 0, 6], [3, 5, 6, 0]], dtype=float)
    # stimulus 0 drawn twice: the pair (0, 0) would be a fake zero and is dropped
    np.testing.assert_array_equal(_resampled_pairs(d, np.array([0, 0, 1, 3])), [1, 3, 1, 3, 5])
    np.testing.assert_array_equal(_resampled_pairs(d, np.arange(4)), d[np.triu_indices(4, 1)])


def test_bootstrap_rdm_interval():
    x, y = _pair(4, n=25)
    da, db = rdm(x), rdm(y)
    res = bootstrap_rdm(da, db, "spearman", n_boot=60, seed=0, progress=False)
    assert res.estimate == pytest.approx(compare_rdms(da, db, "spearman"))
    assert res.low <= res.estimate <= res.high and res.high - res.low > 0.01


def test_permutation_test_detects_a_real_relation_and_not_a_fake_one():
    x, y = _pair(5, n=40)
    real = permutation_test(x, y, "cka_linear", n_perm=39, seed=0, progress=False)
    assert real.p_value == pytest.approx(1 / 40)
    fake = permutation_test(x, np.random.default_rng(9).normal(size=(40, 4)), "cka_linear", n_perm=39, seed=0,
                            progress=False)
    assert fake.p_value > 0.05
    dist = permutation_test(x, y, "procrustes", n_perm=19, alternative="less", seed=0, progress=False)
    assert dist.p_value == pytest.approx(1 / 20)


def test_rdm_permutation_equals_permuting_the_responses():
    # permuting y's stimuli and recomputing its RDM == permuting the rows and columns of the RDM
    x, y = _pair(6, n=12, noise=2.0)
    slow = permutation_test(x, y, "rsa_spearman", n_perm=30, seed=3, progress=False, float64=True)
    fast = permutation_test_rdm(rdm(x, float64=True), rdm(y, float64=True), "spearman", n_perm=30, seed=3,
                                progress=False)
    np.testing.assert_allclose(fast.null, slow.null, atol=1e-9)
    assert fast.p_value == slow.p_value


def test_permutation_test_aligns_responses():
    x, y = _pair(7, n=20)
    ids = np.array([f"s{i}" for i in range(20)])
    order = np.random.default_rng(0).permutation(20)
    rx, ry = make_responses(x, stimulus_ids=ids), make_responses(y[order], stimulus_ids=ids[order])
    res = permutation_test(rx, ry, "cka_linear", n_perm=19, seed=0, progress=False)
    assert res.statistic == pytest.approx(permutation_test(x, y, "cka_linear", n_perm=19, progress=False).statistic, abs=1e-6)


def test_bad_inputs():
    x, y = _pair(8)
    with pytest.raises(ValueError, match="alternative"):
        permutation_test(x, y, n_perm=10, alternative="bigger", progress=False)
    with pytest.raises(ValueError, match="n_perm"):
        permutation_test(x, y, n_perm=5, progress=False)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap(x, y, n_boot=3, progress=False)
    with pytest.raises(ValueError, match="ci"):
        bootstrap(x, y, n_boot=10, ci=95, progress=False)
    with pytest.raises(ValueError, match="stimuli"):
        bootstrap(x, y[:-1], n_boot=10, progress=False)
    with pytest.raises(KeyError, match="Unknown metric"):
        bootstrap(x, y, "ckaa", n_boot=10, progress=False)
    with pytest.raises(ValueError, match="complete RDMs"):
        bootstrap_rdm(rdm(x), rdm(y), "wuc", n_boot=10, progress=False)
