"""The blockHMM of Le et al. (2023): hidden strategies behind reversal-learning behaviour.

Behaviour is cut into blocks at each reversal of the rewarded side; ``outcomes[n, t] = 1`` when
the animal chose the currently rewarded side on trial ``t`` (``t = 0, 1, ...``: trials since the
reversal) of block ``n``, ``0`` when it did not, and ``NaN`` when the trial is missing (the block
ended early). A hidden mode per block follows a first-order Markov chain; given mode ``k`` the
trials are independent Bernoulli with the lapse-bounded sigmoid *transition curve*

    p_k(t) = ε_k + (1 − 2 ε_k) · σ(α_k (t − s_k)),

with switch offset ``s`` (trials), slope ``α`` and lapse ``ε``. Missing trials are masked out of
the likelihood (the authors' reference code scores them as correct; this one does not).

Fitting is EM: forward–backward over blocks (:func:`~neurocompare.behavior.forward_backward`),
``transmat`` and ``startprob`` in closed form, and the curve parameters of each mode by L-BFGS-B
on the expected complete-data log-likelihood (which separates over modes) within the bounds
``s ∈ [0.01, 2T]``, ``α ∈ [0.01, 20]``, ``ε ∈ [0.01, 0.5]``; k-means on the blocks initialises
each restart, and the restart with the best likelihood is kept.

References
----------
Le NM, Yildirim M, Wang Y, Sugihara H, Jazayeri M, Sur M (2023). Mixtures of strategies underlie
rodent behavior during reversal learning. PLoS Comput Biol 19(9):e1011430.
doi:10.1371/journal.pcbi.1011430
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from neurocompare._seeding import numpy_rng
from neurocompare.behavior._hmm import check_lengths, forward_backward, viterbi

__all__ = ["BlockHMM", "block_outcomes", "check_outcomes", "transition_curve"]

_MIN = 0.01
_MAX_SLOPE = 20.0


def transition_curve(t: Any, offset: float, slope: float, lapse: float) -> np.ndarray:
    """``p(t) = lapse + (1 − 2·lapse) · σ(slope · (t − offset))``: p(choose the new side on trial t).

    Parameters
    ----------
    t : array-like
        Trial index since the reversal (0 = first trial of the block).
    offset, slope, lapse : float
        Switch offset ``s`` (trials), slope ``α`` (1/trial) and lapse ``ε`` in [0, 0.5].

    Returns
    -------
    ndarray, shape of ``t``, float64

    Examples
    --------
    >>> float(transition_curve(4.0, offset=4.0, slope=1.0, lapse=0.1))
    0.5
    """
    t = np.asarray(t, dtype=np.float64)
    return lapse + (1.0 - 2.0 * lapse) * _sigmoid(slope * (t - offset))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)  # overflow-free and accurate in both tails


def check_outcomes(outcomes: Any, n_trials: int | None = None) -> np.ndarray:
    """Validate block outcomes: a float64 array (n_blocks, n_trials) of 0, 1 or NaN (missing).

    Raises
    ------
    ValueError
        Wrong number of dims or trials, values other than 0/1/NaN, or a block with no trial.
    """
    y = np.asarray(outcomes, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] == 0:
        raise ValueError(
            f"outcomes must be 2-D (n_blocks, n_trials) with at least one block; got shape {y.shape}. "
            "Build it from trial data with neurocompare.behavior.block_outcomes(choices, rewarded_side, block_starts)."
        )
    if n_trials is not None and y.shape[1] != n_trials:
        raise ValueError(f"outcomes must have {n_trials} trials per block (the model's n_trials); got {y.shape[1]}.")
    obs = np.isfinite(y)
    if (~np.isnan(y[~obs])).any() or not np.isin(y[obs], (0.0, 1.0)).all():
        raise ValueError("outcomes must hold 1 (chose the rewarded side), 0 (did not) or NaN (missing trial) only.")
    empty = np.flatnonzero(~obs.any(axis=1))
    if empty.size:
        raise ValueError(f"Blocks {empty[:5].tolist()} have no observed trial; drop them before fitting.")
    return y


def block_outcomes(
    choices: Any, rewarded_side: Any, block_starts: Any, n_trials: int = 15
) -> np.ndarray:
    """Cut a session's trials into blocks at each reversal: ``y[n, t] = 1`` if trial t chose the rewarded side.

    Parameters
    ----------
    choices : array-like, shape (n_total_trials,)
        The side chosen on each trial (0 or 1); NaN or a negative value marks a trial without a
        choice (it becomes a missing, masked trial).
    rewarded_side : array-like, shape (n_total_trials,)
        The side rewarded on each trial (0 or 1); constant within a block.
    block_starts : array-like of int, shape (n_blocks,)
        Index of the first trial of each block (increasing; the first is usually 0).
    n_trials : int
        Trials kept per block (15 for the mice of Le et al. 2023); longer blocks are truncated,
        shorter blocks padded with NaN (missing, not counted as correct).

    Returns
    -------
    ndarray, shape (n_blocks, n_trials), float64
        1, 0 or NaN.

    Raises
    ------
    ValueError
        Mismatched lengths, sides other than 0/1, unsorted or out-of-range starts, or a block in
        which the rewarded side changes.

    Examples
    --------
    >>> block_outcomes([1, 1, 0, 0, 1], [0, 0, 0, 1, 1], [0, 3], n_trials=3)
    array([[ 0.,  0.,  1.],
           [ 0.,  1., nan]])
    """
    c = np.asarray(choices, dtype=np.float64)
    r = np.asarray(rewarded_side)
    starts = np.asarray(block_starts)
    if c.ndim != 1 or r.shape != c.shape:
        raise ValueError(f"choices and rewarded_side must be 1-D of equal length; got shapes {c.shape} and {r.shape}.")
    if not np.isin(r, (0, 1)).all():
        raise ValueError("rewarded_side must hold 0 or 1 on every trial.")
    if starts.ndim != 1 or starts.size == 0 or not np.issubdtype(starts.dtype, np.integer):
        raise ValueError(f"block_starts must be a non-empty 1-D array of trial indices; got {block_starts!r}.")
    if (np.diff(starts) <= 0).any() or starts[0] < 0 or starts[-1] >= c.size:
        raise ValueError(f"block_starts must increase strictly and lie in [0, {c.size - 1}]; got {starts.tolist()[:10]}...")
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer; got {n_trials!r}.")
    valid = np.isfinite(c) & (c >= 0)
    if not np.isin(c[valid], (0.0, 1.0)).all():
        raise ValueError("choices must be 0 or 1 (NaN or negative for no choice).")
    ends = np.append(starts[1:], c.size)
    out = np.full((starts.size, n_trials), np.nan)
    for n, (a, b) in enumerate(zip(starts, ends)):
        side = r[a:b]
        if (side != side[0]).any():
            raise ValueError(f"The rewarded side changes inside block {n} (trials {a}-{b - 1}); block_starts must mark every reversal.")
        m = min(b - a, n_trials)
        ok = valid[a : a + m]
        out[n, :m] = np.where(ok, (c[a : a + m] == side[0]).astype(float), np.nan)
    return out


def _bernoulli_ll(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-block log-likelihood under per-trial probabilities p (T,), missing trials masked: shape (n_blocks,)."""
    obs = np.isfinite(y)
    y0 = np.where(obs, y, 0.0)
    return (y0 * np.log(p) + (obs - y0) * np.log1p(-p)).sum(axis=1)


def _curve_objective(theta: np.ndarray, t: np.ndarray, hits: np.ndarray, misses: np.ndarray) -> tuple[float, np.ndarray]:
    """Minus the expected log-likelihood of one mode and its gradient in (offset, slope, lapse)."""
    s, a, e = theta
    sig = _sigmoid(a * (t - s))
    p = e + (1 - 2 * e) * sig
    f = -(hits * np.log(p) + misses * np.log1p(-p)).sum()
    dp = -(hits / p - misses / (1 - p))
    ds = sig * (1 - sig) * (1 - 2 * e)
    grad = np.array([(dp * ds * -a).sum(), (dp * ds * (t - s)).sum(), (dp * (1 - 2 * sig)).sum()])
    return float(f), grad


class BlockHMM:
    """Hidden-mode model of block-wise switching behaviour (Le et al. 2023).

    Parameters
    ----------
    n_modes : int
        Number of hidden modes K.
    n_trials : int
        Trials per block T (15 for mice, 30 in the authors' synthetic validation).
    n_restarts : int
        EM restarts from different k-means initialisations; the best likelihood is kept.
    max_iter : int
        EM iterations per restart.
    tol : float
        Stop when the log-likelihood gains less than ``tol`` nats per block in an iteration.
    seed : int
        Seed of the k-means initialisations (:func:`neurocompare._seeding.numpy_rng` streams).

    Attributes
    ----------
    offsets_, slopes_, lapses_ : ndarray, shape (n_modes,)
        Transition-curve parameters, modes sorted by offset.
    transmat_ : ndarray, shape (n_modes, n_modes)
    startprob_ : ndarray, shape (n_modes,)
    log_likelihood_ : float
        Training log-likelihood (nats) of the kept restart.
    history_ : list of float
        Log-likelihood per EM iteration of the kept restart (non-decreasing).
    base_rate_ : float
        Fraction of correct observed training trials (the constant-rate baseline of
        :meth:`bits_per_block`).

    References
    ----------
    Le NM, Yildirim M, Wang Y, Sugihara H, Jazayeri M, Sur M (2023). Mixtures of strategies
    underlie rodent behavior during reversal learning. PLoS Comput Biol 19(9):e1011430.

    Examples
    --------
    >>> true = BlockHMM.from_params([1, 8], [2.0, 0.5], [0.05, 0.2], [[0.9, 0.1], [0.1, 0.9]], n_trials=15)
    >>> y, modes = true.sample(300, seed=0)
    >>> fit = BlockHMM(2, 15, seed=0).fit(y)
    >>> bool((fit.most_likely_modes(y) == modes).mean() > 0.9)
    True
    """

    def __init__(self, n_modes: int, n_trials: int, *, n_restarts: int = 5, max_iter: int = 300, tol: float = 1e-6, seed: int = 0):
        for name, v in (("n_modes", n_modes), ("n_trials", n_trials), ("n_restarts", n_restarts), ("max_iter", max_iter)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"The {name!r} parameter of BlockHMM must be a positive integer. Got {v!r} instead.")
        if not tol > 0:
            raise ValueError(f"The 'tol' parameter of BlockHMM must be > 0. Got {tol!r} instead.")
        self.n_modes = int(n_modes)
        self.n_trials = int(n_trials)
        self.n_restarts = int(n_restarts)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.seed = seed

    def __repr__(self) -> str:
        state = "fitted" if hasattr(self, "offsets_") else "not fitted"
        return f"BlockHMM(n_modes={self.n_modes}, n_trials={self.n_trials}, {state})"

    # ------------------------------------------------------------------ parameters
    @classmethod
    def from_params(cls, offsets: Any, slopes: Any, lapses: Any, transmat: Any, *, n_trials: int, startprob: Any = None) -> "BlockHMM":
        """A model with given parameters (to :meth:`sample` from, or to score data with).

        Parameters
        ----------
        offsets, slopes, lapses : array-like, shape (n_modes,)
        transmat : array-like, shape (n_modes, n_modes)
            Rows sum to 1.
        n_trials : int
        startprob : array-like, shape (n_modes,), optional
            Default: uniform.
        """
        s, a, e = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (offsets, slopes, lapses))
        k = s.size
        if a.shape != (k,) or e.shape != (k,):
            raise ValueError(f"offsets, slopes and lapses must have one value per mode; got sizes {s.size}, {a.size}, {e.size}.")
        if (e < 0).any() or (e > 0.5).any():
            raise ValueError(f"lapses must lie in [0, 0.5]; got {e.tolist()}.")
        a_mat = np.asarray(transmat, dtype=np.float64)
        pi = np.full(k, 1.0 / k) if startprob is None else np.asarray(startprob, dtype=np.float64)
        if a_mat.shape != (k, k) or pi.shape != (k,):
            raise ValueError(f"transmat must be ({k}, {k}) and startprob ({k},); got {a_mat.shape} and {pi.shape}.")
        if (a_mat < 0).any() or np.abs(a_mat.sum(1) - 1).max() > 1e-8 or (pi < 0).any() or abs(pi.sum() - 1) > 1e-8:
            raise ValueError("transmat rows and startprob must be non-negative and sum to 1.")
        model = cls(k, n_trials)
        model.offsets_, model.slopes_, model.lapses_ = s, a, e
        model.transmat_, model.startprob_ = a_mat, pi
        return model

    def curves(self) -> np.ndarray:
        """The transition curves of the modes, shape (n_modes, n_trials): ``p_k(t)`` for t = 0 … T−1."""
        self._check_fitted()
        t = np.arange(self.n_trials, dtype=np.float64)
        return np.stack([transition_curve(t, s, a, e) for s, a, e in zip(self.offsets_, self.slopes_, self.lapses_)])

    def _check_fitted(self) -> None:
        if not hasattr(self, "offsets_"):
            raise ValueError("This BlockHMM has no parameters yet: call fit(outcomes) or build it with BlockHMM.from_params(...).")

    def _log_emissions(self, y: np.ndarray) -> np.ndarray:
        curves = np.clip(self.curves(), 1e-300, 1 - 1e-16)
        return np.stack([_bernoulli_ll(y, p) for p in curves], axis=1)

    # ------------------------------------------------------------------ sampling
    def sample(self, n_blocks: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw a sequence of blocks.

        Returns
        -------
        outcomes : ndarray, shape (n_blocks, n_trials), float64 of 0/1
        modes : ndarray of int, shape (n_blocks,)
        """
        self._check_fitted()
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or n_blocks < 1:
            raise ValueError(f"n_blocks must be a positive integer; got {n_blocks!r}.")
        rng = numpy_rng(seed, "blockhmm-sample")
        modes = np.empty(n_blocks, dtype=int)
        modes[0] = rng.choice(self.n_modes, p=self.startprob_)
        cum = np.cumsum(self.transmat_, axis=1)
        u = rng.random(n_blocks)
        for n in range(1, n_blocks):
            modes[n] = min(int(np.searchsorted(cum[modes[n - 1]], u[n], side="right")), self.n_modes - 1)
        p = self.curves()[modes]
        return (rng.random(p.shape) < p).astype(np.float64), modes

    # ------------------------------------------------------------------ fitting
    def _m_step_curves(self, y: np.ndarray, weights: np.ndarray, start: np.ndarray, extra_starts: list | None = None) -> np.ndarray:
        from scipy.optimize import minimize

        obs = np.isfinite(y)
        y0 = np.where(obs, y, 0.0)
        hits = weights.T @ y0            # (K, T) expected correct counts per trial index
        misses = weights.T @ (obs - y0)  # (K, T) expected error counts
        t = np.arange(self.n_trials, dtype=np.float64)
        bounds = [(_MIN, 2.0 * self.n_trials), (_MIN, _MAX_SLOPE), (_MIN, 0.5)]
        out = np.empty_like(start)
        for k in range(self.n_modes):
            x0 = np.clip(start[k], [b[0] for b in bounds], [b[1] for b in bounds])
            if hits[k].sum() + misses[k].sum() <= 1e-12:
                out[k] = x0  # an unused mode keeps its parameters
                continue
            best_x, best_f = x0, _curve_objective(x0, t, hits[k], misses[k])[0]
            for x in [x0, *(extra_starts or [])]:
                res = minimize(_curve_objective, x, args=(t, hits[k], misses[k]), jac=True, method="L-BFGS-B", bounds=bounds)
                if res.fun < best_f:  # never step downhill (keeps EM monotone)
                    best_x, best_f = res.x, res.fun
            out[k] = best_x
        return out

    def _initialise(self, y: np.ndarray, lengths: np.ndarray, restart: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from sklearn.cluster import KMeans

        k = self.n_modes
        col = np.nanmean(y, axis=0)
        filled = np.where(np.isfinite(y), y, np.where(np.isfinite(col), col, 0.5)[None, :])
        rs = int(numpy_rng(self.seed, "blockhmm-init", restart).integers(2**31 - 1))
        if filled.shape[0] >= k:
            labels = KMeans(n_clusters=k, n_init=1, random_state=rs).fit_predict(filled)
        else:
            labels = np.arange(filled.shape[0]) % k
        onehot = np.eye(k)[labels]
        start = np.tile([self.n_trials / 2.0, 1.0, 0.1], (k, 1))
        # the curve likelihood has poor local optima (e.g. offset stuck at its bound): a small grid of starts
        grid = [np.array([s * self.n_trials, a, e]) for s in (0.1, 0.3, 0.6) for a in (0.3, 2.0) for e in (0.05, 0.25)]
        params = self._m_step_curves(y, onehot, start, grid)
        counts = np.ones((k, k))
        pos = 0
        for length in lengths:
            seq = labels[pos : pos + length]
            np.add.at(counts, (seq[:-1], seq[1:]), 1.0)
            pos += length
        return params, counts / counts.sum(1, keepdims=True), np.full(k, 1.0 / k)

    def fit(self, outcomes: Any, lengths: Sequence[int] | None = None) -> "BlockHMM":
        """Fit by EM with ``n_restarts`` k-means initialisations; keep the best likelihood.

        Parameters
        ----------
        outcomes : array, shape (n_blocks, n_trials)
            1 / 0 / NaN (missing, masked), see :func:`block_outcomes`.
        lengths : sequence of int, optional
            Blocks per session when several sessions are concatenated (each starts afresh).

        Returns
        -------
        self
        """
        y = check_outcomes(outcomes, self.n_trials)
        lens = check_lengths(lengths, y.shape[0])
        starts = np.cumsum(lens) - lens
        best = None
        for restart in range(self.n_restarts):
            params, a_mat, pi = self._initialise(y, lens, restart)
            self.offsets_, self.slopes_, self.lapses_ = params.T.copy()
            self.transmat_, self.startprob_ = a_mat, pi
            history: list[float] = []
            for _ in range(self.max_iter):
                ll, post, trans = forward_backward(self._log_emissions(y), self.startprob_, self.transmat_, lens)
                history.append(ll)
                if len(history) > 1 and history[-1] - history[-2] < self.tol * y.shape[0]:
                    break
                rows = trans.sum(axis=1, keepdims=True)
                self.transmat_ = np.where(rows > 0, trans / np.where(rows > 0, rows, 1.0), self.transmat_)
                self.startprob_ = post[starts].mean(axis=0)
                params = self._m_step_curves(y, post, np.stack([self.offsets_, self.slopes_, self.lapses_], axis=1))
                self.offsets_, self.slopes_, self.lapses_ = params.T.copy()
            if best is None or history[-1] > best[0]:
                best = (history[-1], history, self.offsets_, self.slopes_, self.lapses_, self.transmat_, self.startprob_)
        ll, history, s, a, e, a_mat, pi = best
        order = np.argsort(s, kind="stable")
        self.offsets_, self.slopes_, self.lapses_ = s[order], a[order], e[order]
        self.transmat_ = a_mat[np.ix_(order, order)]
        self.startprob_ = pi[order]
        self.log_likelihood_ = float(ll)
        self.history_ = list(history)
        self.base_rate_ = float(np.nanmean(y))
        return self

    # ------------------------------------------------------------------ inference
    def posterior(self, outcomes: Any, lengths: Sequence[int] | None = None) -> np.ndarray:
        """p(mode k | all blocks of the session), shape (n_blocks, n_modes)."""
        self._check_fitted()
        y = check_outcomes(outcomes, self.n_trials)
        return forward_backward(self._log_emissions(y), self.startprob_, self.transmat_, lengths)[1]

    def most_likely_modes(self, outcomes: Any, lengths: Sequence[int] | None = None) -> np.ndarray:
        """The most likely mode sequence (Viterbi), shape (n_blocks,), ints in [0, n_modes)."""
        self._check_fitted()
        y = check_outcomes(outcomes, self.n_trials)
        return viterbi(self._log_emissions(y), self.startprob_, self.transmat_, lengths)[1]

    def score(self, outcomes: Any, lengths: Sequence[int] | None = None) -> float:
        """Log-likelihood of the blocks, natural log (nats), missing trials masked."""
        self._check_fitted()
        y = check_outcomes(outcomes, self.n_trials)
        return forward_backward(self._log_emissions(y), self.startprob_, self.transmat_, lengths)[0]

    def bits_per_block(self, outcomes: Any, lengths: Sequence[int] | None = None, *, base_rate: float | None = None) -> float:
        """Information gain over a constant-rate Bernoulli model, in bits per block.

        ``(score(outcomes) − log p(outcomes | Bernoulli(base_rate))) / (n_blocks · ln 2)``, the
        model-selection criterion of Le et al. (2023) on held-out blocks.

        Parameters
        ----------
        base_rate : float, optional
            Rate of the baseline; default ``base_rate_`` from the training data (for a model
            built with :meth:`from_params`, the observed rate of ``outcomes``).
        """
        y = check_outcomes(outcomes, self.n_trials)
        rate = base_rate if base_rate is not None else getattr(self, "base_rate_", float(np.nanmean(y)))
        if not 0 < rate < 1:
            raise ValueError(f"base_rate must lie strictly between 0 and 1; got {rate!r}.")
        base = float(_bernoulli_ll(y, np.full(self.n_trials, rate)).sum())
        return (self.score(y, lengths) - base) / (y.shape[0] * math.log(2.0))
