"""Block-wise RSA (``rsa(..., block_size=...)``) and the CPU fast path of ``rsa``.

The block-wise path must give the in-memory value (and scipy's) to rounding, with ties ranked as
``scipy.stats.rankdata(method='average')``, within its stated memory bound; the fast path must give
the general torch path's value and scipy's.
Reference package: scipy 1.17.1 (``pdist``, ``spearmanr``, ``pearsonr``).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.spatial.distance as ssd
import scipy.stats

import neurocompare as nc
from neurocompare.similarity import _rsa_fast

EPS64 = np.finfo(np.float64).eps
EPS32 = np.finfo(np.float32).eps


def _data(n: int, d: int, seed: int = 0, offset: float = 0.0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 4))
    x = z @ rng.standard_normal((4, d)) + rng.standard_normal((n, d)) + offset
    y = z @ rng.standard_normal((4, d)) + rng.standard_normal((n, d)) + offset
    return x, y


def _scipy(x, y, rdm_method="correlation", compare="spearman"):
    a, b = ssd.pdist(x, rdm_method), ssd.pdist(y, rdm_method)
    fn = scipy.stats.spearmanr if compare == "spearman" else scipy.stats.pearsonr
    return float(fn(a, b).statistic)


def _tol(n: int, eps: float) -> float:
    # each distance carries ~ d eps relative error (a d-term dot product); a correlation of m
    # such values moves by about that much; a rank flips only for values closer than it
    return 50 * eps * np.sqrt(n)


# ----------------------------------------------------------------------------- block-wise == in memory
@pytest.mark.parametrize("compare", ["spearman", "pearson"])
@pytest.mark.parametrize("rdm_method", ["correlation", "cosine"])
@pytest.mark.parametrize("block", [1, 7, 64, 499, 10_000])
def test_blockwise_equals_in_memory_and_scipy(compare, rdm_method, block):
    x, y = _data(500, 40, seed=block)
    whole = nc.rsa(x, y, rdm_method=rdm_method, compare=compare)
    blocks = nc.rsa(x, y, rdm_method=rdm_method, compare=compare, block_size=block)
    assert blocks == pytest.approx(whole, abs=_tol(500, EPS64))
    assert blocks == pytest.approx(_scipy(x, y, rdm_method, compare), abs=_tol(500, EPS64))


def test_blockwise_float32_stays_within_float32_rounding():
    x, y = _data(300, 30, seed=3)
    want = _scipy(x, y)
    assert nc.rsa(x, y, float64=False, block_size=32) == pytest.approx(want, abs=_tol(300, EPS32))
    assert nc.rsa(x, y, float64=False, block_size=32) == pytest.approx(nc.rsa(x, y, float64=False), abs=_tol(300, EPS32))


@pytest.mark.parametrize("chunk", [1, 2, 5, 37, 10_000])
def test_stored_ranks_average_ties_across_chunk_edges(chunk):
    # few distinct values: tie groups straddle every chunk edge; scipy averages them
    rng = np.random.default_rng(chunk)
    a = rng.integers(0, 9, 2001).astype(np.float64)
    b = a + rng.integers(0, 4, 2001)
    want = scipy.stats.spearmanr(a, b).statistic
    got = _rsa_fast._spearman_stored([a.copy(), b.copy()], chunk=chunk)
    assert got == pytest.approx(want, abs=20 * EPS64)


def test_in_memory_ranks_average_ties_like_scipy():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 30, 4000).astype(np.float32)
    b = (a + rng.integers(0, 6, 4000)).astype(np.float32)
    assert _rsa_fast.spearman_vectors(a, b) == pytest.approx(scipy.stats.spearmanr(a, b).statistic, abs=20 * EPS64)
    c = rng.standard_normal(999)  # no ties: the arange branch
    d = c + rng.standard_normal(999)
    assert _rsa_fast.spearman_vectors(c, d) == pytest.approx(scipy.stats.spearmanr(c, d).statistic, abs=20 * EPS64)


def test_blockwise_memory_stays_within_its_bound():
    n, d = 600, 20
    x, y = _data(n, d, seed=1)
    for compare in ("pearson", "spearman"):
        tracemalloc.start()
        nc.rsa(x, y, compare=compare, block_size=50)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        inputs = 2 * x.nbytes  # the unit-norm copies of both sides
        bound = _rsa_fast.blockwise_bytes(n, 8, compare, 50) + inputs
        assert peak <= 1.1 * bound + 2**20, (compare, peak, bound)
    tracemalloc.start()
    nc.rsa(x, y, compare="pearson")
    _, whole = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert whole > n * n * 8  # the in-memory path holds an n x n Gram matrix ...
    tracemalloc.start()
    nc.rsa(x, y, compare="pearson", block_size=50)
    _, blocked = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert blocked < whole / 2  # ... the block-wise Pearson only blocks of it


def test_blockwise_bytes_formula():
    m = 20_000 * 19_999 // 2
    chunk = _rsa_fast.RANK_CHUNK
    assert _rsa_fast.blockwise_bytes(20_000, 8, "spearman", 1) == 28 * m + 48 * chunk + 48 * 20_000
    assert _rsa_fast.blockwise_bytes(20_000, 4, "spearman", 1) == 20 * m + 44 * chunk + 48 * 20_000
    assert _rsa_fast.blockwise_bytes(20_000, 8, "pearson", 100) == 48 * 100 * 20_000
    assert 5.6e9 < _rsa_fast.blockwise_bytes(20_000, 8, "spearman", 64) < 5.8e9  # the documented 5.6 GB + work


# ----------------------------------------------------------------------------- refusals
def test_blockwise_refuses_what_it_cannot_do():
    x, y = _data(40, 6)
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(ValueError, match="block_size must be a positive integer"):
            nc.rsa(x, y, block_size=bad)
    with pytest.raises(ValueError, match="block_size works with"):
        nc.rsa(x, y, compare="tau_a", block_size=8)
    with pytest.raises(ValueError, match="block_size works with"):
        nc.rsa(x, y, rdm_method="euclidean", block_size=8)
    dup = np.concatenate([x, x[:3]])
    with pytest.raises(ValueError, match="duplicated stimulus pattern"):
        nc.rsa(dup, np.concatenate([y, y[:3] + 1.0]), block_size=8)
    nan = x.copy()
    nan[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        nc.rsa(nan, y, block_size=8)
    flat = x.copy()
    flat[5] = 2.0
    with pytest.raises(ValueError, match="zero variance"):
        nc.rsa(flat, y, block_size=8)
    with pytest.raises(ValueError, match="all zeros"):
        nc.rsa(np.where(np.arange(40)[:, None] == 4, 0.0, x), y, rdm_method="cosine", block_size=8)
    with pytest.raises(ValueError, match="constant"):
        _rsa_fast._spearman_stored([np.ones(10), np.arange(10.0)])


# ----------------------------------------------------------------------------- the CPU fast path
def test_fast_path_is_taken_and_agrees_with_the_general_path(monkeypatch):
    import neurocompare.similarity._rsa as rsa_mod

    x, y = _data(150, 25, seed=2, offset=0.7)
    fast = nc.rsa(x, y)
    fast_p = nc.rsa(x, y, compare="pearson")
    assert fast == pytest.approx(_scipy(x, y), abs=_tol(150, EPS64))
    # the general torch path gives the same numbers
    monkeypatch.setattr(rsa_mod, "_rsa_cpu", lambda *a, **k: None)
    assert nc.rsa(x, y) == pytest.approx(fast, abs=_tol(150, EPS64))
    assert nc.rsa(x, y, compare="pearson") == pytest.approx(fast_p, abs=_tol(150, EPS64))
    # and the fast path really is what runs by default
    monkeypatch.undo()
    monkeypatch.setattr(rsa_mod, "pair", lambda *a, **k: (_ for _ in ()).throw(AssertionError("general path")))
    assert nc.rsa(x, y) == fast
    assert nc.rsa(x.astype(np.float32), y.astype(np.float32), float64=False) == pytest.approx(fast, abs=_tol(150, EPS32))


def test_fast_path_centres_explicitly_when_means_dominate():
    # rows with a mean 1e4 times their spread: the algebraic centring would lose ~27 bits
    x, y = _data(80, 30, seed=4)
    x = x + 1e4 * np.arange(1, 81)[:, None]
    assert nc.rsa(x, y) == pytest.approx(_scipy(x, y), abs=_tol(80, EPS64) * 1e2)
    g = _rsa_fast._gram(x, x.mean(1), np.dtype(np.float64), centre=True)
    xc = x - x.mean(1, keepdims=True)
    np.testing.assert_allclose(g, xc @ xc.T, rtol=1e-10, atol=1e-10 * np.abs(xc @ xc.T).max())


def test_fast_path_hands_duplicates_and_bad_rows_to_the_general_path():
    base, y = _data(40, 8, seed=6)
    x = np.concatenate([base, base[:6]])
    y = np.concatenate([y, np.random.default_rng(9).standard_normal((6, 8))])  # distinct patterns (a shifted row would tie)
    assert _rsa_fast.fast_rsa(x, y, dtype=np.float64, rdm_method="correlation", compare="spearman") is None
    uniq, inv = np.unique(x, axis=0, return_inverse=True)
    want_x = ssd.squareform(ssd.squareform(ssd.pdist(uniq, "correlation"))[inv.ravel()][:, inv.ravel()] * (1 - np.eye(46)), checks=False)
    assert nc.rsa(x, y) == pytest.approx(scipy.stats.spearmanr(want_x, ssd.pdist(y, "correlation")).statistic, abs=1e-12)
    tiny = base * 1e-300  # squares underflow: the general path rescales exactly
    assert _rsa_fast.fast_rsa(tiny, tiny, dtype=np.float64, rdm_method="correlation", compare="spearman") is None
    assert nc.rsa(tiny, base) == pytest.approx(1.0, abs=1e-12)


def test_fast_path_condenses_without_index_arrays(monkeypatch):
    x, y = _data(70, 9, seed=7)
    want = nc.rsa(x, y)
    monkeypatch.setattr(np, "triu_indices", lambda *a, **k: (_ for _ in ()).throw(AssertionError("index arrays")))
    assert nc.rsa(x, y) == want  # the cached mask
    monkeypatch.setattr(_rsa_fast, "MASK_MAX_N", 10)
    assert nc.rsa(x, y) == pytest.approx(want, abs=EPS64)  # row by row
    g = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(_rsa_fast._condensed(g), ssd.squareform(np.triu(g, 1) + np.triu(g, 1).T, checks=False))
