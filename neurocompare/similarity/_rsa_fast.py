"""RSA on the CPU without detours: correlation/cosine RDMs compared by Spearman or Pearson.

:func:`neurocompare.similarity.rsa` sends the common case here: both sides on the CPU,
``rdm_method`` in {'correlation', 'cosine'}, ``compare`` in {'spearman', 'pearson'}. Everything
runs in numpy on the caller's arrays (numpy's BLAS was 2x faster than torch's GEMM on the
machine of issue 22), in the kernel dtype (float64 by default, float32 when asked):

- no copy of a float64 input: the centred Gram matrix is ``X X' - d mu mu'`` (``mu`` the row
  means); when a row's mean is large against its spread (``|x|^2 / |x - mu|^2 > 8``, more than
  three bits lost to cancellation) the rows are centred explicitly instead;
- the row means double as the finiteness check (a NaN or inf makes its row's mean non-finite) and
  as the duplicate-row key (identical rows have identical means);
- the condensed upper triangle is read through a boolean mask cached per ``n`` (no index
  arrays), or row by row above :data:`MASK_MAX_N`;
- ranks come from one ``argsort`` per side, ties averaged exactly as ``scipy.stats.rankdata``.

Any input this path is not sure about (duplicated or constant rows, non-finite values, overflow
or underflow of the Gram matrix) returns ``None``, and the caller takes the general torch path,
which handles and reports those cases.

Block-wise comparison (:func:`rsa_blockwise`) never holds an ``n x n`` matrix: the RDMs are
produced ``block`` rows at a time. Pearson keeps running sums only (memory ``O(block * n)``);
Spearman stores both condensed vectors in the kernel dtype, then ranks them one after the other:

==========================  ==================================================================
stage                       bytes held (``m = n (n - 1) / 2``, ``s`` = itemsize of the dtype)
==========================  ==================================================================
both RDM vectors            ``2 s m``
rank the first              ``2 s m + 8 m`` (argsort indices) ``+ 4 m`` (doubled ranks, int32)
rank the second, combine    ``s m + 8 m + 4 m``
==========================  ==================================================================

so the peak is ``(2 s + 12) m`` bytes plus the inputs, one block's work (``48 block n``) and the
ranking step's temporaries (``(s + 40) RANK_CHUNK``, 48 MB): 5.6 GB at n = 20,000 in float64,
4.0 GB in float32.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

__all__ = ["MASK_MAX_N", "RANK_CHUNK", "fast_rsa", "rsa_blockwise", "spearman_vectors", "pearson_vectors", "blockwise_bytes"]

#: Largest n whose upper-triangle mask (n*n bytes) is cached; larger RDMs are condensed row by row.
MASK_MAX_N = 2048
#: Sorted positions ranked per step by the block-wise Spearman (its temporaries: about 40 bytes each).
RANK_CHUNK = 1 << 20
#: Cancellation allowed by the algebraic centring: |x_i|^2 <= RATIO_MAX |x_i - mu_i|^2 (3 bits).
RATIO_MAX = 8.0
_TINY = {np.dtype(np.float64): 1e-280, np.dtype(np.float32): 1e-30}
_HUGE = {np.dtype(np.float64): 1e300, np.dtype(np.float32): 1e36}


@functools.lru_cache(maxsize=8)
def _upper_mask(n: int) -> np.ndarray:
    """Boolean (n, n) mask of the strict upper triangle (read-only, cached)."""
    mask = np.zeros((n, n), dtype=bool)
    for i in range(n - 1):
        mask[i, i + 1 :] = True
    mask.setflags(write=False)
    return mask


def _condensed(g: np.ndarray) -> np.ndarray:
    """Strict upper triangle of a square array, in scipy ``squareform`` order (a new array)."""
    n = g.shape[0]
    if n <= MASK_MAX_N:
        return g[_upper_mask(n)]
    out = np.empty(n * (n - 1) // 2, dtype=g.dtype)
    start = 0
    for i in range(n - 1):
        stop = start + n - 1 - i
        out[start:stop] = g[i, i + 1 :]
        start = stop
    return out


def _row_stats(m: np.ndarray, dtype: np.dtype):
    """Row means (float64, n) of an (n, d) array, or None when a row is not finite."""
    mu = m.mean(axis=1, dtype=np.float64)
    if not np.isfinite(mu).all():
        return None
    return mu


def _gram(m: np.ndarray, mu: np.ndarray, dtype: np.dtype, centre: bool):
    """Gram matrix (n, n) of the rows of m (centred when ``centre``) in ``dtype``, or None if unsafe."""
    d = m.shape[1]
    if m.dtype == dtype and centre and dtype == np.float64:
        a = m if (m.flags.c_contiguous or m.flags.f_contiguous) else np.ascontiguousarray(m)
        g = a @ a.T
        raw = np.diagonal(g).copy()
        g -= (d * mu)[:, None] * mu[None, :]
        diag = np.diagonal(g)
        if (diag > 0).all() and (raw <= RATIO_MAX * diag).all():
            return g
        # the rows' means dominate their spread: centre explicitly (one copy)
    if centre:
        a = np.empty(m.shape, dtype=dtype)
        np.subtract(m, mu[:, None].astype(m.dtype if m.dtype == dtype else np.float64), out=a, casting="unsafe")
    else:
        a = m if (m.dtype == dtype and (m.flags.c_contiguous or m.flags.f_contiguous)) else np.asarray(m, dtype=dtype, order="C")
    return a @ a.T


def _rdm_condensed(m: np.ndarray, dtype: np.dtype, method: str):
    """Condensed correlation/cosine RDM (m,) of the rows of m in ``dtype``, or None if this path is unsure."""
    mu = _row_stats(m, dtype)
    if mu is None:  # non-finite values
        return None
    sorted_mu = np.sort(mu)
    if (sorted_mu[1:] == sorted_mu[:-1]).any():  # possibly duplicated rows
        return None
    g = _gram(m, mu, dtype, centre=method == "correlation")
    diag = np.diagonal(g).copy()
    if not ((diag > _TINY[dtype]).all() and (diag < _HUGE[dtype]).all()):  # NaN fails both
        return None  # zero-variance rows, underflow or overflow: the general path rescales or refuses
    inv = 1.0 / np.sqrt(diag)
    g *= inv[:, None]
    g *= inv[None, :]
    v = _condensed(g)
    del g
    np.subtract(1.0, v, out=v)
    np.clip(v, 0.0, 2.0, out=v)
    return v


@functools.lru_cache(maxsize=4)
def _centred_arange(m: int) -> np.ndarray:
    """``0 .. m-1`` minus its mean (float64, read-only, cached: the ranks of untied values)."""
    r = np.arange(m, dtype=np.float64) - (m - 1) / 2.0
    r.setflags(write=False)
    return r


def _centred_ranks(v: np.ndarray) -> np.ndarray:
    """Ranks of v minus their mean (float64), ties averaged as ``scipy.stats.rankdata(method='average')``."""
    m = v.size
    order = np.argsort(v)
    s = v[order]
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    del s
    r = np.empty(m, dtype=np.float64)
    if new.all():
        r[order] = _centred_arange(m) if m <= 1 << 22 else np.arange(m, dtype=np.float64) - (m - 1) / 2.0
        return r
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, m))
    r[order] = np.repeat(starts + (counts - 1) / 2.0 - (m - 1) / 2.0, counts)
    return r


def _corr_of_centred(a: np.ndarray, b: np.ndarray, what: str) -> float:
    saa, sbb = float(np.dot(a, a)), float(np.dot(b, b))
    if saa == 0.0 or sbb == 0.0:
        side = "first" if saa == 0.0 else "second"
        raise ValueError(f"{what} is undefined: the {side} RDM is constant (no variation across stimulus pairs). Check the responses it came from.")
    return float(min(1.0, max(-1.0, float(np.dot(a, b)) / math.sqrt(saa * sbb))))


def spearman_vectors(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of two vectors (m,): Pearson of their average ranks (scipy's definition)."""
    return _corr_of_centred(_centred_ranks(a), _centred_ranks(b), "spearman")


def pearson_vectors(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two vectors (m,), centred in float64."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return _corr_of_centred(a - a.mean(), b - b.mean(), "pearson")


def fast_rsa(mx: np.ndarray, my: np.ndarray, *, dtype: Any, rdm_method: str, compare: str) -> float | None:
    """RSA of two (n, d) numpy arrays on this path, or None when the general path must decide.

    Parameters
    ----------
    mx, my : numpy arrays (n_stimuli, n_features_x), (n_stimuli, n_features_y)
        Real, 2-D, the same number of rows (checked by the caller).
    dtype : numpy float dtype of the kernel (float64 or float32)
    rdm_method : {'correlation', 'cosine'}
    compare : {'spearman', 'pearson'}
    """
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # overflow is detected, and handed on
        vx = _rdm_condensed(mx, dtype, rdm_method)
        vy = None if vx is None else _rdm_condensed(my, dtype, rdm_method)
    if vy is None:
        return None
    return spearman_vectors(vx, vy) if compare == "spearman" else pearson_vectors(vx, vy)


# ----------------------------------------------------------------------------- block-wise
def blockwise_bytes(n: int, itemsize: int, compare: str, block: int) -> int:
    """Peak bytes of :func:`rsa_blockwise` beyond its inputs (see the module docstring)."""
    m = n * (n - 1) // 2
    work = 6 * block * n * 8  # one block's Gram rows and distances per side, and their float64 copies
    if compare != "spearman":
        return int(work)
    return int(work + (2 * itemsize + 12) * m + (itemsize + 40) * min(RANK_CHUNK, m))


def _unit_rows(m: np.ndarray, dtype: np.dtype, centre: bool, name: str) -> np.ndarray:
    """Rows centred (correlation) and scaled to unit norm, (n, d) in dtype; refuses what blocks cannot handle."""
    mu = _row_stats(m, dtype)
    if mu is None:
        raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
    if np.unique(mu).size < mu.size:
        uniq = np.unique(np.asarray(m), axis=0).shape[0]
        if uniq < m.shape[0]:
            raise ValueError(
                f"{name} has {m.shape[0] - uniq} duplicated stimulus pattern(s); block-wise RSA needs distinct rows "
                "(their exact ties are kept only by the in-memory path). Drop the duplicates, or use block_size=None."
            )
    a = np.empty(m.shape, dtype=dtype)
    if centre:
        np.subtract(m, mu[:, None], out=a, casting="unsafe")
    else:
        a[...] = m
    norms = np.sqrt(np.einsum("ij,ij->i", a, a, dtype=np.float64))
    bad = np.flatnonzero(~(norms > _TINY[dtype] ** 0.5 * max(1.0, float(norms.max()))))
    if bad.size:
        what = "has zero variance across units" if centre else "is all zeros"
        raise ValueError(
            f"{'correlation' if centre else 'cosine'} distance is undefined: {bad.size} stimulus pattern(s) of {name} {what} "
            f"(rows {bad[:5].tolist()}). Drop those stimuli, or use rdm_method='euclidean' without block_size."
        )
    a /= norms[:, None].astype(dtype)
    return a


def _blocks(a: np.ndarray, block: int):
    """Yield (first_pair, condensed distances of rows i0..i1 against all later rows) in squareform order."""
    n = a.shape[0]
    pos = 0
    for i0 in range(0, n - 1, block):
        i1 = min(n - 1, i0 + block)
        g = a[i0:i1] @ a[i0:].T  # (i1 - i0, n - i0)
        seg = np.empty(sum(n - 1 - i for i in range(i0, i1)), dtype=a.dtype)
        start = 0
        for r, i in enumerate(range(i0, i1)):
            stop = start + n - 1 - i
            seg[start:stop] = g[r, r + 1 :]
            start = stop
        del g
        np.subtract(1.0, seg, out=seg)
        np.clip(seg, 0.0, 2.0, out=seg)
        yield pos, seg
        pos += seg.size


def _doubled_ranks_sorted(s: np.ndarray) -> np.ndarray:
    """Twice the average ranks (int64, 1-based within the chunk) of a sorted chunk s whose first element starts a tie group."""
    new = np.empty(s.size, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    if new.all():
        return np.arange(2, 2 * s.size + 2, 2)
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, s.size))
    # 2 * average rank of positions p0+start .. p0+start+count-1 (1-based) = 2*start + count + 1 (+ 2*p0 by caller)
    return np.repeat(2 * starts + counts + 1, counts)


def _tie_aligned_chunks(v: np.ndarray, order: np.ndarray, chunk: int):
    """Yield (p0, p1) over sorted positions so that no tie group straddles two chunks."""
    m = order.size
    p0 = 0
    while p0 < m:
        p1 = min(m, p0 + chunk)
        while p1 < m and v[order[p1]] == v[order[p1 - 1]]:
            p1 += 1
        yield p0, p1
        p0 = p1


def _spearman_stored(vectors: list, chunk: int = RANK_CHUNK) -> float:
    """Spearman of two stored condensed vectors ``[va, vb]`` (taken from the list, so each is freed once used).

    Extra memory: argsort indices (8 m) and doubled ranks of the first (4 m); see the module docstring.
    """
    va = vectors.pop(0)
    m = va.size
    centre2 = m + 1  # twice the mean rank
    order = np.argsort(va)
    ra2 = np.empty(m, dtype=np.int32 if 2 * m + 2 < 2**31 else np.int64)
    for p0, p1 in _tie_aligned_chunks(va, order, chunk):
        idx = order[p0:p1]
        r = _doubled_ranks_sorted(va[idx])
        r += 2 * p0
        ra2[idx] = r
    del order, va
    vb = vectors.pop(0)
    order = np.argsort(vb)
    sab = saa = sbb = 0.0
    for p0, p1 in _tie_aligned_chunks(vb, order, chunk):
        idx = order[p0:p1]
        rb = _doubled_ranks_sorted(vb[idx]).astype(np.float64)
        rb += 2 * p0 - centre2
        ra = ra2[idx].astype(np.float64)
        ra -= centre2
        sab += float(np.dot(ra, rb))
        saa += float(np.dot(ra, ra))
        sbb += float(np.dot(rb, rb))
    return _ratio(sab, saa, sbb)


def _ratio(sab: float, saa: float, sbb: float, what: str = "spearman") -> float:
    if saa == 0.0 or sbb == 0.0:
        side = "first" if saa == 0.0 else "second"
        raise ValueError(f"{what} is undefined: the {side} RDM is constant (no variation across stimulus pairs). Check the responses it came from.")
    return float(min(1.0, max(-1.0, sab / math.sqrt(saa * sbb))))


def rsa_blockwise(
    mx: np.ndarray,
    my: np.ndarray,
    *,
    dtype: Any,
    rdm_method: str,
    compare: str,
    block_size: int,
    progress: bool = False,
) -> float:
    """RSA with RDMs produced ``block_size`` rows at a time (bounded memory; module docstring).

    Parameters
    ----------
    mx, my : numpy arrays (n_stimuli, n_features_x), (n_stimuli, n_features_y)
    dtype : numpy float dtype of the kernel and of the stored RDM vectors (Spearman)
    rdm_method : {'correlation', 'cosine'}
    compare : {'spearman', 'pearson'}
    block_size : int
        Rows of the RDM computed per block (each block holds ``block_size x n`` distances).
    progress : bool
        Show a progress bar over the blocks.

    Returns
    -------
    float
    """
    dtype = np.dtype(dtype)
    n = mx.shape[0]
    centre = rdm_method == "correlation"
    ax = _unit_rows(mx, dtype, centre, "x")
    ay = _unit_rows(my, dtype, centre, "y")
    m = n * (n - 1) // 2
    n_blocks = math.ceil((n - 1) / block_size)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_blocks, desc="rsa blocks", leave=False)
    if compare == "pearson":
        # shifted sums: correlation distances lie in [0, 2] with mean near 1, so shift by 1 (exact)
        sums = np.zeros(5)
        for (_, sx), (_, sy) in zip(_blocks(ax, block_size), _blocks(ay, block_size)):
            a = sx.astype(np.float64) - 1.0
            b = sy.astype(np.float64) - 1.0
            sums += (a.sum(), b.sum(), np.dot(a, a), np.dot(b, b), np.dot(a, b))
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
        sa, sb, saa, sbb, sab = sums
        return _ratio(sab - sa * sb / m, saa - sa * sa / m, sbb - sb * sb / m, "pearson")
    va = np.empty(m, dtype=dtype)
    vb = np.empty(m, dtype=dtype)
    for (pos, sx), (_, sy) in zip(_blocks(ax, block_size), _blocks(ay, block_size)):
        va[pos : pos + sx.size] = sx
        vb[pos : pos + sy.size] = sy
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    del ax, ay
    vectors = [va, vb]
    del va, vb
    return _spearman_stored(vectors)
