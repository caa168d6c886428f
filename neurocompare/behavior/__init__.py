"""Behaviour: hidden strategies in reversal learning (the blockHMM) and behavioural comparisons.

Reversal learning (Le et al. 2023):

- :func:`block_outcomes` cuts trials into blocks at each reversal (``y[n, t] = 1`` when trial
  ``t`` of block ``n`` chose the rewarded side; NaN = missing, masked);
- :class:`BlockHMM` — hidden modes with sigmoid transition curves (offset, slope, lapse), fitted
  by EM (``fit``, ``posterior``, ``most_likely_modes``, ``score``, ``bits_per_block``,
  ``sample``); :func:`select_n_modes` picks K on held-out blocks;
- :class:`QLearningAgent`, :class:`InferenceAgent` and :func:`simulate_reversal` make sessions
  with a known mode sequence; :func:`forward_backward`, :func:`viterbi` are the HMM engine.

Behavioural comparisons (functions, not ``(x, y)`` metrics):

- :func:`i1n`, :func:`i2n`, :func:`performance_table`, :func:`behavioral_consistency`
  (Rajalingham et al. 2018), :func:`error_consistency` (Geirhos et al. 2020),
  :func:`behavioral_rsa` (model RDM vs subjects' behavioural RDMs, Nili ceiling).

Examples
--------
>>> import numpy as np
>>> import neurocompare as nc
>>> agents = [nc.behavior.QLearningAgent(), nc.behavior.InferenceAgent()]
>>> session = nc.behavior.simulate_reversal(agents, 40, seed=0)
>>> session.outcomes(15).shape
(40, 15)
"""

from neurocompare.behavior._agents import InferenceAgent, QLearningAgent, ReversalSession, simulate_reversal
from neurocompare.behavior._blockhmm import BlockHMM, block_outcomes, check_outcomes, transition_curve
from neurocompare.behavior._hmm import forward_backward, viterbi
from neurocompare.behavior._metrics import (
    BehavioralConsistency,
    BehavioralRSA,
    ErrorConsistency,
    behavioral_consistency,
    behavioral_rsa,
    error_consistency,
    i1n,
    i2n,
    performance_table,
)
from neurocompare.behavior._selection import ModeSelection, select_n_modes

__all__ = [
    # reversal learning
    "BlockHMM",
    "ModeSelection",
    "block_outcomes",
    "check_outcomes",
    "select_n_modes",
    "transition_curve",
    "forward_backward",
    "viterbi",
    # agents
    "InferenceAgent",
    "QLearningAgent",
    "ReversalSession",
    "simulate_reversal",
    # behavioural comparisons
    "BehavioralConsistency",
    "BehavioralRSA",
    "ErrorConsistency",
    "behavioral_consistency",
    "behavioral_rsa",
    "error_consistency",
    "i1n",
    "i2n",
    "performance_table",
]


def __dir__() -> list[str]:
    return sorted(__all__)
