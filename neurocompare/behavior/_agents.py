"""Simulated agents playing a two-alternative reversal-learning task.

The task: on every trial the agent picks side 0 or 1; the currently rewarded side pays with
probability ``p_reward`` (the other side never pays), and the rewarded side reverses after a
block of ``block_range`` trials (uniform, 15–25 by default, as in Le et al. 2023). Two kinds of
agent play it:

- :class:`QLearningAgent` — model-free: action values updated by a delta rule with learning rate
  ``learning_rate``; ε-greedy choice. After a reversal it keeps choosing the old side until the
  old value decays below the new one, which needs exploration: late, shallow switches and a lapse
  near ``ε / 2``.
- :class:`InferenceAgent` — model-based: a Bayesian observer of which side is rewarded, with a
  prior switch probability (hazard) per trial and an assumed reward probability; it picks the more
  probable side, lapsing with probability ``lapse``. Early, sharp switches.

:func:`simulate_reversal` lets several agents take turns, one per block, the active agent
following a sticky Markov chain (a known mode sequence for the blockHMM).

References
----------
Le NM, Yildirim M, Wang Y, Sugihara H, Jazayeri M, Sur M (2023). Mixtures of strategies underlie
rodent behavior during reversal learning. PLoS Comput Biol 19(9):e1011430.
Sutton RS, Barto AG (2018). Reinforcement Learning: An Introduction, 2nd ed., ch. 2 (ε-greedy,
incremental value updates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurocompare._seeding import numpy_rng
from neurocompare.behavior._blockhmm import block_outcomes

__all__ = ["InferenceAgent", "QLearningAgent", "ReversalSession", "simulate_reversal"]


def _check_prob(name: str, value: float, lo: float = 0.0, hi: float = 1.0) -> float:
    if not lo <= value <= hi:
        raise ValueError(f"The {name!r} parameter must lie in [{lo}, {hi}]. Got {value!r} instead.")
    return float(value)


class QLearningAgent:
    """Delta-rule action values with ε-greedy choice.

    Parameters
    ----------
    learning_rate : float in (0, 1]
        ``Q[c] ← Q[c] + learning_rate · (reward − Q[c])`` for the chosen side ``c``.
    epsilon : float in [0, 1]
        Probability of a uniformly random choice (so a lapse of about ``epsilon / 2``).
    """

    kind = "q_learning"

    def __init__(self, learning_rate: float = 0.2, epsilon: float = 0.2):
        self.learning_rate = _check_prob("learning_rate", learning_rate)
        if self.learning_rate == 0:
            raise ValueError("The 'learning_rate' parameter must be > 0 (a zero rate never learns).")
        self.epsilon = _check_prob("epsilon", epsilon)
        self.reset()

    def __repr__(self) -> str:
        return f"QLearningAgent(learning_rate={self.learning_rate}, epsilon={self.epsilon})"

    def reset(self) -> None:
        """Forget: both action values back to 0.5."""
        self.q = np.array([0.5, 0.5])

    def choose(self, rng: np.random.Generator) -> int:
        if rng.random() < self.epsilon or self.q[0] == self.q[1]:
            return int(rng.integers(2))
        return int(np.argmax(self.q))

    def update(self, choice: int, reward: float) -> None:
        self.q[choice] += self.learning_rate * (reward - self.q[choice])


class InferenceAgent:
    """Bayesian observer of the rewarded side with a switch prior; chooses the more probable side.

    Parameters
    ----------
    switch_prob : float in [0, 0.5]
        Prior probability that the rewarded side reverses between two trials (hazard).
    reward_prob : float in (0.5, 1)
        Assumed probability that the rewarded side pays (the other side is assumed to pay with
        ``1 − reward_prob``); below 1, so that one unrewarded trial is not proof of a reversal.
    lapse : float in [0, 0.5]
        Probability of choosing the less probable side.

    References
    ----------
    Le NM et al. (2023). PLoS Comput Biol 19(9):e1011430 (the "inference-based" agent).
    """

    kind = "inference"

    def __init__(self, switch_prob: float = 0.05, reward_prob: float = 0.8, lapse: float = 0.02):
        self.switch_prob = _check_prob("switch_prob", switch_prob, 0.0, 0.5)
        self.reward_prob = _check_prob("reward_prob", reward_prob, 0.5, 1.0)
        if not 0.5 < self.reward_prob < 1.0:
            raise ValueError(f"The 'reward_prob' parameter must lie strictly between 0.5 and 1. Got {reward_prob!r} instead.")
        self.lapse = _check_prob("lapse", lapse, 0.0, 0.5)
        self.reset()

    def __repr__(self) -> str:
        return f"InferenceAgent(switch_prob={self.switch_prob}, reward_prob={self.reward_prob}, lapse={self.lapse})"

    def reset(self) -> None:
        """Back to an even belief: p(side 1 is rewarded) = 0.5."""
        self.belief = 0.5

    def choose(self, rng: np.random.Generator) -> int:
        best = int(self.belief > 0.5) if self.belief != 0.5 else int(rng.integers(2))
        return 1 - best if rng.random() < self.lapse else best

    def update(self, choice: int, reward: float) -> None:
        q = self.reward_prob
        # likelihood of the outcome if side 1 / side 0 is the rewarded one
        like1 = (q if reward else 1 - q) if choice == 1 else (1 - q if reward else q)
        like0 = (q if reward else 1 - q) if choice == 0 else (1 - q if reward else q)
        post = self.belief * like1 / (self.belief * like1 + (1 - self.belief) * like0)
        h = self.switch_prob
        self.belief = post * (1 - h) + (1 - post) * h  # prior for the next trial


@dataclass
class ReversalSession:
    """Trials of a simulated reversal-learning session.

    Attributes
    ----------
    choices, rewarded_side, rewards : ndarray, shape (n_total_trials,)
        Side chosen (0/1), side rewarded (0/1), reward received (0/1) per trial.
    block_starts : ndarray of int, shape (n_blocks,)
        First trial of each block.
    agents : ndarray of int, shape (n_blocks,)
        Index of the agent that played each block (the true mode).
    agent_kinds : tuple of str
        ``kind`` of each agent (``'q_learning'``, ``'inference'``).
    """

    choices: np.ndarray
    rewarded_side: np.ndarray
    rewards: np.ndarray
    block_starts: np.ndarray
    agents: np.ndarray
    agent_kinds: tuple[str, ...]

    def outcomes(self, n_trials: int = 15) -> np.ndarray:
        """Block outcomes (n_blocks, n_trials) of 1/0/NaN, via :func:`block_outcomes`."""
        return block_outcomes(self.choices, self.rewarded_side, self.block_starts, n_trials)


def simulate_reversal(
    agents: Sequence[Any],
    n_blocks: int,
    *,
    agent_transmat: Any = None,
    block_range: tuple[int, int] = (15, 25),
    p_reward: float = 1.0,
    seed: int = 0,
) -> ReversalSession:
    """Agents take turns playing a reversal task, one agent per block.

    Every agent sees every trial's choice and reward (so the one that takes over a block starts
    from what the animal experienced); only the active agent chooses.

    Parameters
    ----------
    agents : sequence of agents
        Objects with ``reset()``, ``choose(rng) -> int`` and ``update(choice, reward)``
        (:class:`QLearningAgent`, :class:`InferenceAgent`, or your own).
    n_blocks : int
    agent_transmat : array (n_agents, n_agents), optional
        Markov chain of the active agent from block to block (rows sum to 1). Default: stay with
        probability 0.95, otherwise move to another agent uniformly.
    block_range : (int, int)
        Block length drawn uniformly from this closed range.
    p_reward : float in (0, 1]
        Probability that choosing the rewarded side pays.
    seed : int

    Returns
    -------
    ReversalSession
    """
    if not agents:
        raise ValueError("simulate_reversal needs at least one agent.")
    for ag in agents:
        if not all(callable(getattr(ag, m, None)) for m in ("reset", "choose", "update")):
            raise TypeError(f"Each agent needs reset(), choose(rng) and update(choice, reward); {ag!r} does not have them.")
    n_ag = len(agents)
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or n_blocks < 1:
        raise ValueError(f"n_blocks must be a positive integer; got {n_blocks!r}.")
    lo, hi = (int(v) for v in block_range)
    if not 1 <= lo <= hi:
        raise ValueError(f"block_range must be (min, max) with 1 <= min <= max; got {block_range!r}.")
    if not 0 < p_reward <= 1:
        raise ValueError(f"p_reward must lie in (0, 1]; got {p_reward!r}.")
    if agent_transmat is None:
        a_mat = np.full((n_ag, n_ag), 0.05 / max(n_ag - 1, 1))
        np.fill_diagonal(a_mat, 0.95 if n_ag > 1 else 1.0)
    else:
        a_mat = np.asarray(agent_transmat, dtype=np.float64)
        if a_mat.shape != (n_ag, n_ag) or (a_mat < 0).any() or np.abs(a_mat.sum(1) - 1).max() > 1e-8:
            raise ValueError(f"agent_transmat must be ({n_ag}, {n_ag}) with non-negative rows summing to 1; got shape {a_mat.shape}.")
    rng = numpy_rng(seed, "reversal-task")
    for ag in agents:
        ag.reset()
    active = np.empty(n_blocks, dtype=int)
    active[0] = rng.integers(n_ag)
    for n in range(1, n_blocks):
        active[n] = rng.choice(n_ag, p=a_mat[active[n - 1]])
    lengths = rng.integers(lo, hi + 1, size=n_blocks)
    total = int(lengths.sum())
    side = np.repeat(np.arange(n_blocks) % 2, lengths)
    if rng.random() < 0.5:
        side = 1 - side
    choices = np.empty(total, dtype=int)
    rewards = np.empty(total, dtype=int)
    who = np.repeat(active, lengths)
    for t in range(total):
        c = agents[who[t]].choose(rng)
        r = int(c == side[t] and rng.random() < p_reward)
        for ag in agents:
            ag.update(c, r)
        choices[t], rewards[t] = c, r
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    kinds = tuple(str(getattr(ag, "kind", type(ag).__name__)) for ag in agents)
    return ReversalSession(choices, side, rewards, starts, active, kinds)
