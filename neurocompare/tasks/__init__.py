"""Tasks: environments that make stimuli, with the ground truth that scoring needs.

Mental-Pong (Rajalingham, Sohn & Jazayeri 2025; Nayebi et al. 2023): a ball crosses a square
arena and disappears behind an occluder before it reaches the paddle plane.

- :func:`mental_pong_conditions` draws trajectories (an ``xarray.Dataset`` with per-frame
  ``x, y, vx, vy, visible, bounce`` and per-condition ``y_final, t_occlude, t_end``);
  :func:`render` draws their frames (condition, frame, channel, height, width), with or without
  the occluder; :func:`occluded_mask` marks the occluded epoch.
- :func:`simulated_dmfc`: simulated neurons whose answer is known (Poisson units mixing the true
  ball state, also while it is hidden), dims ('stimulus', 'unit', 'time', 'repetition').
- Behaviour: :func:`endpoint_readout` (cross-validated paddle end-points from features),
  :func:`endpoint_consistency` (split-half noise-corrected correlation) and
  :func:`residual_consistency` (the error-pattern correlation).

Examples
--------
>>> import neurocompare as nc
>>> ds = nc.tasks.mental_pong_conditions(3, seed=0)
>>> nc.tasks.render(ds, 16).shape[::2]
(3, 1, 16)
"""

from neurocompare.tasks._endpoints import endpoint_consistency, endpoint_readout, residual_consistency
from neurocompare.tasks._mental_pong import ARENA, BALL_RADIUS, OCCLUDER_X, mental_pong_conditions, occluded_mask, render
from neurocompare.tasks._simulated import simulated_dmfc

__all__ = [
    "ARENA",
    "BALL_RADIUS",
    "OCCLUDER_X",
    "endpoint_consistency",
    "endpoint_readout",
    "mental_pong_conditions",
    "occluded_mask",
    "render",
    "residual_consistency",
    "simulated_dmfc",
]


def __dir__() -> list[str]:
    return sorted(__all__)
