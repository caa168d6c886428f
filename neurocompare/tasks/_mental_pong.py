"""Mental-Pong: ball trajectories that disappear behind an occluder, and their frames.

A ball moves at constant velocity across a square arena of side ``L = 32`` units, reflecting
elastically off the top, bottom and left walls, until its centre reaches the paddle plane at
``x = L``. The right-most 8 units (``x >= 24``) are covered by a grey occluder, so the last part
of every trajectory is hidden: the player has to simulate it to place the paddle at the ball's
final height ``y_final``.

Conventions (re-implemented from the task description of Rajalingham, Sohn & Jazayeri 2025 and
their public generator, MPongBehavior_public):

- positions are those of the ball's **centre**; the walls reflect the centre at ``y = r``,
  ``y = L - r`` and ``x = r`` (``r = 0.64``: the ball touches the wall);
- frame ``k`` shows the ball at continuous time ``t = k`` (units per frame for speeds);
- the visible epoch is frames ``0 … t_occlude - 1`` (``t_occlude``: the first frame with
  ``x >= 24``), the occluded epoch frames ``t_occlude … t_end - 1`` (``t_end``: the first frame
  with ``x >= L``); both must last 15–45 frames and a trajectory has at most one bounce before
  it reaches the paddle plane, or the condition is redrawn;
- ``y_final`` is the centre's height at the continuous time the centre reaches ``x = L``.

The trajectory is integrated event by event (time to the next wall, reflect); the test suite
checks it against the closed-form unfolding of the start line.

References
----------
Rajalingham R, Sohn H, Jazayeri M (2025). Dynamic tracking of objects in the macaque dorsomedial
frontal cortex. Nat Commun 16:346.
Nayebi A, Rajalingham R, Jazayeri M, Yang GR (2023). Neural foundations of mental simulation:
future prediction of latent representations on dynamic scenes. NeurIPS.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._seeding import numpy_rng

__all__ = ["ARENA", "OCCLUDER_X", "BALL_RADIUS", "mental_pong_conditions", "render", "occluded_mask"]

ARENA = 32.0  #: side of the square arena (units)
OCCLUDER_X = 24.0  #: the occluder covers x in [OCCLUDER_X, ARENA]
BALL_RADIUS = 0.64
SPEEDS = (0.2, 0.4, 0.6, 0.8, 1.0)  #: speed bins (units / frame)
HEADING = 0.4 * math.pi  #: headings are uniform in [-HEADING, HEADING] (0 = rightwards)
_MAX_DRAWS = 1000  # redraws per condition before giving up


def _trajectory(x0: float, y0: float, vx: float, vy: float, length: float, radius: float) -> tuple[list, float, float, int]:
    """Event-driven flight until the centre reaches ``x = length``.

    Returns the segments ``[(t_start, x, y, vx, vy), ...]``, the time and height at the paddle
    plane and the number of wall bounces before it.
    """
    lo, hi = radius, length - radius
    t, x, y = 0.0, float(x0), float(y0)
    segments, bounces = [], 0
    for _ in range(64):  # at most a few bounces happen; the bound guards against a zero velocity
        segments.append((t, x, y, vx, vy))
        dt_paddle = (length - x) / vx if vx > 0 else math.inf
        dt_top = (hi - y) / vy if vy > 0 else math.inf
        dt_bottom = (lo - y) / vy if vy < 0 else math.inf
        dt_left = (lo - x) / vx if vx < 0 else math.inf
        dt_wall = min(dt_top, dt_bottom, dt_left)
        if dt_paddle <= dt_wall:
            return segments, t + dt_paddle, y + vy * dt_paddle, bounces
        t, x, y = t + dt_wall, x + vx * dt_wall, y + vy * dt_wall
        if dt_left == dt_wall:
            vx, x = -vx, lo
        else:
            vy, y = -vy, (hi if dt_top == dt_wall else lo)
        bounces += 1
    raise ValueError(f"The ball never reaches the paddle plane (velocity ({vx}, {vy})); it needs vx > 0 eventually.")


def _state_at(segments: list, times: np.ndarray) -> np.ndarray:
    """(len(times), 4) array of x, y, vx, vy and (len(times),) cumulative bounce count."""
    starts = np.array([s[0] for s in segments])
    idx = np.searchsorted(starts, times, side="right") - 1
    seg = np.asarray(segments, dtype=float)[idx]
    dt = times - seg[:, 0]
    state = np.stack([seg[:, 1] + seg[:, 3] * dt, seg[:, 2] + seg[:, 4] * dt, seg[:, 3], seg[:, 4]], axis=1)
    return state, idx


def _check_range(name: str, value: Any) -> tuple[int, int]:
    lo, hi = value
    if not (isinstance(lo, (int, np.integer)) and isinstance(hi, (int, np.integer)) and 1 <= lo <= hi):
        raise ValueError(f"{name} must be a (min, max) pair of positive ints with min <= max; got {value!r}.")
    return int(lo), int(hi)


def mental_pong_conditions(
    n: int,
    seed: int = 0,
    *,
    speeds: tuple[float, ...] = SPEEDS,
    visible_frames: tuple[int, int] = (15, 45),
    occluded_frames: tuple[int, int] = (15, 45),
    max_bounces: int = 1,
) -> xr.Dataset:
    """Draw ``n`` Mental-Pong conditions (trajectories) that obey the task's epoch and bounce limits.

    Parameters
    ----------
    n : int
        Number of conditions (>= 1).
    seed : int
        Seeds the draws (``numpy_rng(seed, "mental_pong")``); the same seed gives the same set.
    speeds : tuple of float
        Speed bins (units / frame), drawn uniformly.
    visible_frames, occluded_frames : (int, int)
        Inclusive limits on the frames of each epoch; conditions outside them are redrawn.
    max_bounces : int
        Wall bounces allowed before the paddle plane.

    Returns
    -------
    xarray.Dataset
        Dims ``('condition', 'frame')``; ``frame`` runs to the longest condition, later frames of
        shorter ones are padding (``valid`` False, states NaN).

        - per frame: ``x``, ``y``, ``vx``, ``vy`` (float64, units and units/frame), ``visible``
          (bool: valid and not occluded), ``valid`` (bool), ``bounce`` (int: bounces so far);
        - per condition: ``y_final`` (height at the paddle plane), ``t_final`` (continuous
          time there), ``t_occlude``, ``t_end`` (frames, see the module docstring),
          ``n_bounce``, ``x0``, ``y0``, ``heading`` (radians), ``speed``;
        - coords ``condition_id`` (``'pong_0000'`` …) and ``frame``; attrs hold the geometry.

    Raises
    ------
    ValueError
        Bad ``n``, ranges or speeds; limits no trajectory can meet (after 1000 redraws).

    Examples
    --------
    >>> ds = mental_pong_conditions(4, seed=0)
    >>> bool(((ds.t_end - ds.t_occlude) >= 15).all()), int(ds.n_bounce.max()) <= 1
    (True, True)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int (the number of conditions); got {n!r}.")
    vis, occ = _check_range("visible_frames", visible_frames), _check_range("occluded_frames", occluded_frames)
    speeds = tuple(float(s) for s in speeds)
    if not speeds or min(speeds) <= 0:
        raise ValueError(f"speeds must be a non-empty tuple of positive numbers (units/frame); got {speeds!r}.")
    rng = numpy_rng(seed, "mental_pong")
    L, r = ARENA, BALL_RADIUS
    rows = []
    for i in range(int(n)):
        for _ in range(_MAX_DRAWS):
            x0 = rng.uniform(0.05, 0.55) * L
            y0 = rng.uniform(0.05, 0.95) * L
            heading = rng.uniform(-HEADING, HEADING)
            speed = speeds[int(rng.integers(len(speeds)))]
            vx, vy = speed * math.cos(heading), speed * math.sin(heading)
            segments, t_final, y_final, bounces = _trajectory(x0, y0, vx, vy, L, r)
            if bounces > max_bounces:
                continue
            frames = np.arange(int(math.ceil(t_final)) + 1, dtype=float)
            state, _ = _state_at(segments, frames)
            t_occ = int(np.argmax(state[:, 0] >= OCCLUDER_X))
            t_end = int(np.argmax(state[:, 0] >= L - 1e-12))
            if vis[0] <= t_occ <= vis[1] and occ[0] <= t_end - t_occ <= occ[1]:
                break
        else:
            raise ValueError(
                f"No trajectory met visible_frames={vis}, occluded_frames={occ}, max_bounces={max_bounces} with "
                f"speeds={speeds} after {_MAX_DRAWS} draws; widen the limits or change the speeds."
            )
        rows.append(dict(segments=segments, x0=x0, y0=y0, heading=heading, speed=speed, t_final=t_final,
                         y_final=y_final, n_bounce=bounces, t_occlude=t_occ, t_end=t_end))
    n_frame = max(row["t_end"] for row in rows)
    frames = np.arange(n_frame)
    states = np.full((n, n_frame, 4), np.nan)
    bounce = np.zeros((n, n_frame), dtype=np.int64)
    for i, row in enumerate(rows):
        k = row["t_end"]
        state, seg_idx = _state_at(row["segments"], frames[:k].astype(float))
        states[i, :k] = state
        bounce[i, :k] = seg_idx  # segment index = bounces so far
    valid = frames[None, :] < np.array([row["t_end"] for row in rows])[:, None]
    visible = frames[None, :] < np.array([row["t_occlude"] for row in rows])[:, None]
    per = {k: ("condition", np.array([row[k] for row in rows])) for k in
           ("y_final", "t_final", "t_occlude", "t_end", "n_bounce", "x0", "y0", "heading", "speed")}
    ds = xr.Dataset(
        {
            "x": (("condition", "frame"), states[..., 0]),
            "y": (("condition", "frame"), states[..., 1]),
            "vx": (("condition", "frame"), states[..., 2]),
            "vy": (("condition", "frame"), states[..., 3]),
            "valid": (("condition", "frame"), valid),
            "visible": (("condition", "frame"), visible & valid),
            "bounce": (("condition", "frame"), bounce),
            **per,
        },
        coords={"condition_id": ("condition", np.array([f"pong_{i:04d}" for i in range(n)])), "frame": frames},
        attrs={"arena": L, "occluder_x": OCCLUDER_X, "ball_radius": r, "seed": int(seed), "speeds": list(speeds),
               "heading_range": [-HEADING, HEADING], "visible_frames": list(vis), "occluded_frames": list(occ),
               "max_bounces": int(max_bounces), "task": "mental_pong"},
    )
    return ds


def occluded_mask(conditions: xr.Dataset) -> np.ndarray:
    """(condition, frame) bool: valid frames of the occluded epoch (``t_occlude <= frame < t_end``)."""
    return np.asarray(conditions.valid.values & ~conditions.visible.values)


def render(conditions: xr.Dataset, size: int = 32, occluder: bool = True, *, dtype: Any = np.float32) -> np.ndarray:
    """Draw the frames of Mental-Pong conditions.

    Black background (0), white ball (1, edges anti-aliased over one pixel), grey occluder
    (0.5) drawn over the ball on ``x >= 24``. Padding frames (after ``t_end``) show no ball.
    Image row ``i`` covers heights ``y in [i, i + 1) * L / size`` (row 0 at ``y = 0``); column
    ``j`` covers ``x in [j, j + 1) * L / size``.

    Parameters
    ----------
    conditions : xarray.Dataset
        From :func:`mental_pong_conditions` (any subset of its conditions and frames).
    size : int
        Pixels per side (>= 8).
    occluder : bool
        ``False`` renders the unoccluded twin (the control).
    dtype : numpy dtype
        ``float32`` (default) or ``uint8`` (0–255, a quarter of the memory).

    Returns
    -------
    numpy.ndarray, dims (condition, frame, channel=1, height=size, width=size)
        Memory: ``n_condition * n_frame * size**2`` elements; render large sets in chunks of
        conditions (``render(ds.isel(condition=slice(a, b)))``).

    Examples
    --------
    >>> ds = mental_pong_conditions(2, seed=0)
    >>> render(ds, 16).shape[2:]
    (1, 16, 16)
    """
    if not isinstance(conditions, xr.Dataset) or not {"x", "y", "valid"} <= set(conditions.data_vars):
        raise TypeError(
            "render() needs the Dataset of mental_pong_conditions() (with x, y and valid per frame); got "
            f"{type(conditions).__name__}."
        )
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an int >= 8 (pixels per side); got {size!r}.")
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint8)):
        raise ValueError(f"The 'dtype' parameter of render() must be float32, float64 or uint8. Got {np.dtype(dtype)} instead.")
    L = float(conditions.attrs.get("arena", ARENA))
    radius = float(conditions.attrs.get("ball_radius", BALL_RADIUS))
    occ_x = float(conditions.attrs.get("occluder_x", OCCLUDER_X))
    px = L / size
    centres = (np.arange(size) + 0.5) * px
    x = np.asarray(conditions.x.transpose("condition", "frame").values)
    y = np.asarray(conditions.y.transpose("condition", "frame").values)
    valid = np.asarray(conditions.valid.transpose("condition", "frame").values)
    out = np.zeros((x.shape[0], x.shape[1], 1, size, size), dtype=np.float32)
    cols = centres[None, None, :]
    for i in range(x.shape[0]):  # one condition at a time keeps the temporaries small
        xi, yi = np.where(valid[i], x[i], np.inf)[:, None, None], np.where(valid[i], y[i], np.inf)[:, None, None]
        with np.errstate(invalid="ignore"):
            d = np.sqrt((cols - xi) ** 2 + (centres[None, :, None] - yi) ** 2)  # (frame, row, col)
        out[i, :, 0] = np.clip((radius - d) / px + 0.5, 0.0, 1.0)
    if occluder:
        out[..., centres >= occ_x] = 0.5
    if np.dtype(dtype) == np.uint8:
        return np.round(out * 255).astype(np.uint8)
    return out.astype(dtype, copy=False)
