"""Choosing the number of blockHMM modes on held-out blocks (bits per block above a Bernoulli model)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurocompare._options import progress_enabled
from neurocompare._result import Result
from neurocompare.behavior._blockhmm import BlockHMM, check_outcomes
from neurocompare.behavior._hmm import check_lengths

__all__ = ["ModeSelection", "select_n_modes"]


@dataclass
class ModeSelection(Result):
    """The chosen number of modes and the held-out information gain of every candidate.

    Attributes
    ----------
    value : float
        The chosen number of modes K (an integer-valued float; ``int(result.n_modes)`` too).
    error, error_kind, ci
        No uncertainty is attached to the choice: NaN, ``'none'``, ``None``.
    candidates : ndarray of int, shape (n_candidates,)
    bits : ndarray, shape (n_candidates, n_folds)
        Held-out bits per block above the constant-rate Bernoulli model, per fold.
    mean, sem : ndarray, shape (n_candidates,)
        Mean over folds and its standard error (ddof = 1).
    rule : str
        How K was chosen.
    """

    value: float
    candidates: np.ndarray
    bits: np.ndarray
    mean: np.ndarray = field(init=False)
    sem: np.ndarray = field(init=False)
    rule: str = "smallest K whose mean shortfall from the best K is within one standard error of the paired (per-fold) differences"
    error: float = float("nan")
    error_kind: str = "none"
    ci: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self.mean = self.bits.mean(axis=1)
        n = self.bits.shape[1]
        self.sem = self.bits.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.full(len(self.mean), np.nan)

    @property
    def n_modes(self) -> int:
        return int(self.value)

    def __repr__(self) -> str:
        rows = ", ".join(f"K={k}: {m:.3f}" for k, m in zip(self.candidates, self.mean))
        return f"ModeSelection(n_modes={self.n_modes}; held-out bits/block {rows})"


def _pieces(lengths: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, list[int], list[int]]:
    """Blocks of [lo, hi) held out: (train index, train lengths, test lengths), cutting sessions at the fold edges."""
    train_len: list[int] = []
    test_len: list[int] = []
    start = 0
    for length in lengths:
        stop = start + int(length)
        inside = max(0, min(stop, hi) - max(start, lo))
        before = max(0, min(stop, lo) - start)
        after = max(0, stop - max(start, hi))
        train_len += [v for v in (before, after) if v > 0]
        if inside:
            test_len.append(inside)
        start = stop
    idx = np.r_[0:lo, hi : int(lengths.sum())]
    return idx, train_len, test_len


def select_n_modes(
    outcomes: Any,
    candidates: Sequence[int] = (1, 2, 3, 4, 5),
    *,
    n_folds: int = 5,
    lengths: Sequence[int] | None = None,
    n_restarts: int = 5,
    seed: int = 0,
    progress: bool | None = None,
) -> ModeSelection:
    """Choose the number of blockHMM modes by cross-validated information gain.

    The blocks are cut into ``n_folds`` contiguous folds; each candidate model is fitted on the
    other folds and scored on the held-out one in bits per block above a constant-rate
    Bernoulli model with the training data's rate (:meth:`BlockHMM.bits_per_block`). The
    chosen K is the smallest whose mean shortfall from the best candidate is within one
    standard error of the per-fold (paired) differences — the one-standard-error rule on paired
    differences, since every candidate is scored on the same folds: extra modes that do not
    predict held-out blocks reliably better are not taken.

    Parameters
    ----------
    outcomes : array, shape (n_blocks, n_trials)
        1 / 0 / NaN, see :func:`neurocompare.behavior.block_outcomes`.
    candidates : sequence of int
        Numbers of modes to try.
    n_folds : int
        Contiguous held-out folds (≥ 2).
    lengths : sequence of int, optional
        Blocks per session, when sessions are concatenated.
    n_restarts, seed
        Passed to :class:`BlockHMM`.
    progress : bool, optional
        Progress bar over candidates × folds (default: the ``progress`` option).

    Returns
    -------
    ModeSelection

    References
    ----------
    Le NM, Yildirim M, Wang Y, Sugihara H, Jazayeri M, Sur M (2023). PLoS Comput Biol
    19(9):e1011430 (Fig. 2: bits per block on held-out data).
    Hastie T, Tibshirani R, Friedman J (2009). The Elements of Statistical Learning, 2nd ed.,
    section 7.10 (the one-standard-error rule).
    """
    y = check_outcomes(outcomes)
    lens = check_lengths(lengths, y.shape[0])
    cands = np.asarray(list(candidates))
    if cands.size == 0 or not np.issubdtype(cands.dtype, np.integer) or (cands < 1).any():
        raise ValueError(f"candidates must be positive integers; got {list(candidates)!r}.")
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or not 2 <= n_folds <= y.shape[0]:
        raise ValueError(f"n_folds must be an integer in [2, n_blocks={y.shape[0]}]; got {n_folds!r}.")
    edges = np.linspace(0, y.shape[0], n_folds + 1).round().astype(int)
    bits = np.empty((cands.size, n_folds))
    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=bits.size, desc="select_n_modes")
    try:
        for f in range(n_folds):
            train, train_len, test_len = _pieces(lens, edges[f], edges[f + 1])
            test = y[edges[f] : edges[f + 1]]
            for i, k in enumerate(cands):
                model = BlockHMM(int(k), y.shape[1], n_restarts=n_restarts, seed=seed).fit(y[train], train_len)
                bits[i, f] = model.bits_per_block(test, test_len)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    result = ModeSelection(float("nan"), cands, bits)
    best = int(np.argmax(result.mean))
    # paired over folds: fold-to-fold differences in the held-out blocks affect every K alike
    diff = bits[best][None, :] - bits
    se = diff.std(axis=1, ddof=1) / np.sqrt(n_folds)
    result.value = float(cands[np.flatnonzero(diff.mean(axis=1) <= se)].min())
    return result
