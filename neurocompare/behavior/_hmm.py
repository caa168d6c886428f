"""Discrete-state hidden Markov chain inference given per-step emission log-likelihoods.

The blockHMM (:mod:`neurocompare.behavior._blockhmm`) needs only the generic parts of an HMM:
the forward–backward pass (scaled, Rabiner 1989) and the Viterbi path, both driven by a matrix of
emission log-likelihoods ``log_emissions[n, k] = log p(observation n | state k)`` so that any
emission model can use them. Several independent sequences are given by ``lengths`` (as in
hmmlearn); each starts from ``startprob``.

References
----------
Rabiner LR (1989). A tutorial on hidden Markov models and selected applications in speech
recognition. Proc IEEE 77(2):257-286.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_lengths", "forward_backward", "viterbi"]


def check_lengths(lengths: Sequence[int] | None, n: int) -> np.ndarray:
    """Validated sequence lengths (positive ints summing to ``n``); ``None`` means one sequence."""
    if lengths is None:
        return np.array([n], dtype=int)
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer) or (arr < 1).any():
        raise ValueError(f"lengths must be a 1-D sequence of positive integers; got {lengths!r}.")
    if int(arr.sum()) != n:
        raise ValueError(
            f"lengths must sum to the number of blocks ({n}); got sum {int(arr.sum())}. Give one length per "
            "session (consecutive blocks), or lengths=None for a single sequence."
        )
    return arr.astype(int)


def _check_chain(log_emissions: Any, startprob: Any, transmat: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    le = np.asarray(log_emissions, dtype=np.float64)
    if le.ndim != 2 or le.shape[0] == 0:
        raise ValueError(f"log_emissions must be 2-D (n_steps, n_states) with n_steps > 0; got shape {le.shape}.")
    k = le.shape[1]
    pi = np.asarray(startprob, dtype=np.float64)
    a = np.asarray(transmat, dtype=np.float64)
    if pi.shape != (k,) or a.shape != (k, k):
        raise ValueError(
            f"startprob must have shape ({k},) and transmat ({k}, {k}) to match log_emissions with {k} states; "
            f"got {pi.shape} and {a.shape}."
        )
    tol = 1e-8
    if (pi < 0).any() or abs(pi.sum() - 1) > tol or (a < 0).any() or np.abs(a.sum(1) - 1).max() > tol:
        raise ValueError("startprob and each row of transmat must be non-negative and sum to 1.")
    if np.isnan(le).any() or np.isposinf(le).any():
        raise ValueError("log_emissions holds NaN or +inf; emission log-likelihoods must be finite or -inf.")
    return le, pi, a


def forward_backward(
    log_emissions: Any, startprob: Any, transmat: Any, lengths: Sequence[int] | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Posterior state probabilities by the scaled forward–backward recursions.

    Parameters
    ----------
    log_emissions : array, shape (n_steps, n_states)
        ``log p(observation n | state k)``, float64; ``-inf`` allowed where a state cannot emit.
    startprob : array, shape (n_states,)
    transmat : array, shape (n_states, n_states)
        ``transmat[i, j] = p(state j at n + 1 | state i at n)``; rows sum to 1.
    lengths : sequence of int, optional
        Lengths of independent sequences concatenated along ``n_steps`` (default: one sequence).

    Returns
    -------
    log_likelihood : float
        ``log p(all observations)``, natural log, summed over sequences.
    posteriors : ndarray, shape (n_steps, n_states)
        ``p(state k at step n | all observations of its sequence)``; rows sum to 1.
    transitions : ndarray, shape (n_states, n_states)
        Expected number of ``i -> j`` transitions, summed over steps and sequences (the EM
        statistic for ``transmat``).

    Raises
    ------
    ValueError
        Shapes that disagree, probabilities that do not sum to 1, or observations impossible under
        every state (zero likelihood).

    References
    ----------
    Rabiner LR (1989). A tutorial on hidden Markov models and selected applications in speech
    recognition. Proc IEEE 77(2):257-286.
    """
    le, pi, a = _check_chain(log_emissions, startprob, transmat)
    n, k = le.shape
    lens = check_lengths(lengths, n)
    shift = le.max(axis=1)
    if np.isneginf(shift).any():
        bad = int(np.flatnonzero(np.isneginf(shift))[0])
        raise ValueError(f"Step {bad} has zero likelihood under every state; check the emission model.")
    b = np.exp(le - shift[:, None])  # scaled emissions, max 1 per step
    alpha = np.empty((n, k))
    beta = np.empty((n, k))
    scale = np.empty(n)
    trans = np.zeros((k, k))
    start = 0
    for length in lens:
        stop = start + int(length)
        f = pi * b[start]
        scale[start] = f.sum()
        alpha[start] = f / scale[start]
        for t in range(start + 1, stop):
            f = (alpha[t - 1] @ a) * b[t]
            scale[t] = f.sum()
            if scale[t] <= 0:
                raise ValueError(f"Step {t} is impossible given the previous state and transmat (zero likelihood).")
            alpha[t] = f / scale[t]
        beta[stop - 1] = 1.0
        for t in range(stop - 2, start - 1, -1):
            beta[t] = a @ (b[t + 1] * beta[t + 1]) / scale[t + 1]
        if stop - start > 1:
            nxt = b[start + 1 : stop] * beta[start + 1 : stop] / scale[start + 1 : stop, None]
            trans += a * np.einsum("ti,tj->ij", alpha[start : stop - 1], nxt)
        start = stop
    if (scale[np.cumsum(lens) - lens] <= 0).any():
        raise ValueError("A sequence starts with an observation impossible under startprob (zero likelihood).")
    post = alpha * beta
    post /= post.sum(axis=1, keepdims=True)
    return float(np.log(scale).sum() + shift.sum()), post, trans


def viterbi(
    log_emissions: Any, startprob: Any, transmat: Any, lengths: Sequence[int] | None = None
) -> tuple[float, np.ndarray]:
    """The single most likely state sequence (Viterbi), computed in log space.

    Parameters
    ----------
    log_emissions, startprob, transmat, lengths
        As in :func:`forward_backward`.

    Returns
    -------
    log_probability : float
        ``log p(observations, best path)``, summed over sequences.
    states : ndarray of int, shape (n_steps,)

    References
    ----------
    Rabiner LR (1989). Proc IEEE 77(2):257-286, section III-B.
    """
    le, pi, a = _check_chain(log_emissions, startprob, transmat)
    n, k = le.shape
    lens = check_lengths(lengths, n)
    with np.errstate(divide="ignore"):
        log_pi, log_a = np.log(pi), np.log(a)
    states = np.empty(n, dtype=int)
    total = 0.0
    start = 0
    for length in lens:
        stop = start + int(length)
        delta = log_pi + le[start]
        back = np.empty((stop - start, k), dtype=int)
        for t in range(start + 1, stop):
            cand = delta[:, None] + log_a
            back[t - start] = cand.argmax(axis=0)
            delta = cand.max(axis=0) + le[t]
        states[stop - 1] = int(delta.argmax())
        total += float(delta.max())
        for t in range(stop - 1, start, -1):
            states[t - 1] = back[t - start, states[t]]
        start = stop
    return total, states
