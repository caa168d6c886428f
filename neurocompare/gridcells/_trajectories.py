"""Trajectories in a 2-D box: the one trajectory type, simulated rat-like walks, and real segments.

The one type is :class:`Trajectories`, a batch of paths (a frozen container of arrays):

- ``position``  (trajectory, time + 1, 2): x, y, starting position included; metres by default
- ``velocity``  (trajectory, time, 2): displacement per second between consecutive positions
- ``speed``     (trajectory, time), ``head_direction`` (trajectory, time + 1) in radians
- ``dt`` (s) and ``box`` ((xmin, xmax), (ymin, ymax))

so that ``position[:, t + 1] = position[:, t] + velocity[:, t] * dt`` exactly, which is what a
path-integrating network sees (velocity in, position implied). Step ``t`` of a network driven by
``velocity`` is at ``position[:, t + 1]``.

Recorded trajectories arrive from ``data_loaders`` as DataArrays with dims ``('time', 'space')``,
``space = ['x', 'y']`` and a ``time`` coord in seconds. Convert at the edges:
:meth:`Trajectories.from_positions` takes those (or plain ``(time, 2)`` arrays, or a list of them)
and :meth:`Trajectories.to_dataarray` gives back dims ``('trajectory', 'time', 'space')``. The
grid-cell functions that take positions (``rate_maps``, ``spike_rate_maps``, ...) accept the
``('time', 'space')`` DataArray directly.

The simulated walk follows the generator used by Banino et al. (2018) and Sorscher et al. (2019,
2023): forward speed drawn each step from a Rayleigh distribution, head direction diffusing with a
Gaussian turn rate, and walls avoided by turning away and slowing down when the animal is within a
border band and heading towards the wall. Parameters (defaults from those papers' code, as
documented there): ``dt`` 0.02 s, Rayleigh scale ``0.13 * 2 pi`` m/s, turn-rate s.d. ``11.52`` rad/s,
border band 0.03 m, speed factor 0.25 near walls.

Examples
--------
>>> from neurocompare.gridcells import random_walks
>>> tr = random_walks(4, 100, seed=0)
>>> tr.position.shape, tr.velocity.shape
((4, 101, 2), (4, 100, 2))
>>> tr.to_dataarray().dims
('trajectory', 'time', 'space')

References
----------
Banino et al. (2018) Nature 557:429. Sorscher, Mel, Ganguli & Ocko (2019) NeurIPS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurocompare.gridcells._checks import as_positions, rng_from_seed

__all__ = ["Trajectories", "random_walks", "trajectory_segments"]


@dataclass(frozen=True)
class Trajectories:
    """A batch of trajectories: the one trajectory type of the grid-cell package.

    Attributes
    ----------
    position : ndarray of dims (trajectory, time + 1, 2), (x, y) including the start.
    velocity : ndarray of dims (trajectory, time, 2), per second.
    speed : ndarray of dims (trajectory, time).
    head_direction : ndarray of dims (trajectory, time + 1), radians.
    dt : float
        Seconds per step.
    box : ((xmin, xmax), (ymin, ymax))
    """

    position: np.ndarray
    velocity: np.ndarray
    speed: np.ndarray
    head_direction: np.ndarray
    dt: float
    box: tuple

    @property
    def n_steps(self) -> int:
        """Velocity steps per trajectory (``position`` holds one more sample)."""
        return self.velocity.shape[1]

    def __len__(self) -> int:
        return self.position.shape[0]

    @classmethod
    def from_positions(cls, positions: Any, *, dt: float | None = None, box: Any = None) -> "Trajectories":
        """The batch type from recorded or plain positions (velocity, speed and heading derived).

        Parameters
        ----------
        positions : one path or several of equal length: an array of dims (time, 2) or
            (trajectory, time, 2); a DataArray with dims ('time', 'space') or ('trajectory',
            'time', 'space') as ``data_loaders`` return; or a list of (time, 2) paths.
        dt : float, optional
            Seconds per sample; read from a ``time`` coordinate when omitted.
        box : ((xmin, xmax), (ymin, ymax)) or float, optional
            Arena; None uses the range of the positions.

        Returns
        -------
        Trajectories whose head direction is the direction of motion (a standing animal keeps
        its previous heading).
        """
        items = list(positions) if isinstance(positions, (list, tuple)) else [positions]
        paths = []
        for item in items:
            arr, item_dt = _position_array(item)
            dt = item_dt if dt is None else dt
            paths.extend(arr if arr.ndim == 3 else [arr])
        if dt is None or dt <= 0:
            raise ValueError("dt (seconds per sample) must be > 0; pass dt= when positions carry no 'time' coordinate.")
        lengths = sorted({len(p) for p in paths})
        if len(lengths) != 1:
            raise ValueError(f"paths must have equal lengths to form a batch; got lengths {lengths}. Cut them with trajectory_segments().")
        if lengths[0] < 2:
            raise ValueError("a trajectory needs at least 2 position samples (one step).")
        return _from_position_array(np.stack(paths), float(dt), box)

    def to_dataarray(self) -> Any:
        """Positions as a DataArray with dims ('trajectory', 'time', 'space') (data_loaders' convention).

        ``time`` is in seconds from the start (``dt`` apart), ``space = ['x', 'y']``; attrs hold
        ``dt`` and ``box`` (as ``[xmin, xmax, ymin, ymax]``).
        """
        import xarray as xr

        (x0, x1), (y0, y1) = self.box
        return xr.DataArray(
            self.position,
            dims=("trajectory", "time", "space"),
            coords={"time": np.arange(self.position.shape[1]) * self.dt, "space": ["x", "y"]},
            attrs={"dt": self.dt, "box": [x0, x1, y0, y1], "units": "m"},
        )


def _position_array(item: Any) -> tuple[np.ndarray, float | None]:
    """``(positions of dims (time, 2) or (trajectory, time, 2), dt from a time coord or None)``."""
    dt = None
    coords = getattr(item, "coords", None)
    if coords is not None and "time" in coords:
        tcoord = np.asarray(item["time"])
        if len(tcoord) > 1:
            dt = float(np.median(np.diff(tcoord)))
    dims = tuple(getattr(item, "dims", ()))
    if "trajectory" in dims and "space" in dims:
        arr = np.stack([as_positions(item.isel(trajectory=i), "each trajectory") for i in range(item.sizes["trajectory"])])
        return arr, dt
    arr = np.asarray(getattr(item, "values", item), dtype=np.float64) if "space" not in dims else None
    if arr is not None and arr.ndim == 3:
        if arr.shape[-1] != 2:
            raise ValueError(f"a batch of trajectories must have dims (trajectory, time, 2); got shape {arr.shape}.")
        return np.stack([as_positions(a, "each trajectory") for a in arr]), dt
    return as_positions(item, "each trajectory"), dt


def _from_position_array(pos: np.ndarray, dt: float, box: Any) -> Trajectories:
    """Trajectories from positions of dims (trajectory, time + 1, 2)."""
    if box is None:
        allp = pos.reshape(-1, 2)
        box = ((allp[:, 0].min(), allp[:, 0].max()), (allp[:, 1].min(), allp[:, 1].max()))
    box = _check_box(box)
    vel = np.diff(pos, axis=1) / dt
    speed = np.hypot(vel[..., 0], vel[..., 1])
    ang = np.arctan2(vel[..., 1], vel[..., 0])
    hd = np.empty(pos.shape[:2])
    hd[:, 1:] = ang
    # carry the last heading through stationary samples
    moving = speed > 1e-9
    for t in range(1, ang.shape[1]):
        hd[:, t + 1] = np.where(moving[:, t], ang[:, t], hd[:, t])
    hd[:, 0] = hd[:, 1]
    return Trajectories(pos, vel, speed, hd, float(dt), box)


def _check_box(box: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    if np.isscalar(box):
        box = ((0.0, float(box)), (0.0, float(box)))
    try:
        (x0, x1), (y0, y1) = box
    except (TypeError, ValueError) as err:
        raise ValueError(f"box must be a side length or ((xmin, xmax), (ymin, ymax)); got {box!r}.") from err
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box must have xmax > xmin and ymax > ymin; got {box!r}.")
    return (float(x0), float(x1)), (float(y0), float(y1))


def random_walks(
    n: int,
    steps: int,
    *,
    box: Any = ((-1.1, 1.1), (-1.1, 1.1)),
    dt: float = 0.02,
    speed_scale: float = 0.13 * 2 * np.pi,
    turn_sd: float = 5.76 * 2,
    border: float = 0.03,
    wall_slowdown: float = 0.25,
    start: Any = None,
    seed: int | None = 0,
) -> Trajectories:
    """Smooth rat-like random walks in a rectangular box.

    Parameters
    ----------
    n, steps : int
        Batch size and number of velocity steps.
    box : float or ((xmin, xmax), (ymin, ymax))
        Arena in metres (default a 2.2 m square centred at 0, as in Sorscher et al.).
    dt : float
        Seconds per step.
    speed_scale : float
        Rayleigh scale of the forward speed (m/s); mean speed = scale * sqrt(pi / 2).
    turn_sd : float
        S.d. of the head-direction turn rate (rad/s).
    border : float
        Width (m) of the band along each wall in which the walker turns away from the wall.
    wall_slowdown : float
        Speed multiplier inside the border band when heading into the wall.
    start : array (n, 2) or None
        Start positions; default uniform in the box.
    seed : int or None

    Returns
    -------
    Trajectories
    """
    if n < 1 or steps < 1:
        raise ValueError(f"n and steps must be >= 1; got n={n}, steps={steps}.")
    if dt <= 0 or speed_scale <= 0 or turn_sd < 0:
        raise ValueError(f"dt and speed_scale must be > 0 and turn_sd >= 0; got dt={dt}, speed_scale={speed_scale}, turn_sd={turn_sd}.")
    (x0, x1), (y0, y1) = _check_box(box)
    rng = rng_from_seed(seed)
    pos = np.empty((n, steps + 1, 2))
    hd = np.empty((n, steps + 1))
    speed = np.empty((n, steps))
    if start is None:
        pos[:, 0, 0] = rng.uniform(x0 + border, x1 - border, n)
        pos[:, 0, 1] = rng.uniform(y0 + border, y1 - border, n)
    else:
        st = np.asarray(start, dtype=np.float64).reshape(n, 2)
        if (st[:, 0] < x0).any() or (st[:, 0] > x1).any() or (st[:, 1] < y0).any() or (st[:, 1] > y1).any():
            raise ValueError(f"start positions must lie inside the box {((x0, x1), (y0, y1))}.")
        pos[:, 0] = st
    hd[:, 0] = rng.uniform(-np.pi, np.pi, n)
    turns = rng.normal(0.0, turn_sd, (n, steps)) * dt
    speeds = rng.rayleigh(speed_scale, (n, steps))
    for t in range(steps):
        p, h = pos[:, t], hd[:, t]
        # distance to each wall and the angle between heading and that wall's outward normal
        dists = np.stack([p[:, 0] - x0, x1 - p[:, 0], p[:, 1] - y0, y1 - p[:, 1]], axis=1)
        normals = np.array([np.pi, 0.0, -np.pi / 2, np.pi / 2])
        wall = dists.argmin(axis=1)
        rel = np.angle(np.exp(1j * (h - normals[wall])))  # heading relative to the nearest wall's normal
        near = (dists[np.arange(n), wall] < border) & (np.abs(rel) < np.pi / 2)
        turn = turns[:, t].copy()
        # turn so that the heading becomes parallel to the wall, away from it
        turn[near] += np.sign(rel[near] + 1e-12) * (np.pi / 2 - np.abs(rel[near]))
        v = speeds[:, t] * np.where(near, wall_slowdown, 1.0)
        h_new = np.angle(np.exp(1j * (h + turn)))
        step = v[:, None] * dt * np.stack([np.cos(h_new), np.sin(h_new)], axis=1)
        new = p + step
        # never leave the box (a step can still overshoot from inside the band at high speed)
        new[:, 0] = np.clip(new[:, 0], x0, x1)
        new[:, 1] = np.clip(new[:, 1], y0, y1)
        pos[:, t + 1] = new
        hd[:, t + 1] = h_new
        speed[:, t] = np.hypot(*(new - p).T) / dt
    velocity = np.diff(pos, axis=1) / dt
    return Trajectories(pos, velocity, speed, hd, float(dt), ((x0, x1), (y0, y1)))


def trajectory_segments(
    positions: Any,
    steps: int,
    *,
    n: int | None = None,
    dt: float | None = None,
    box: Any = None,
    scale: float = 1.0,
    offset: Any = (0.0, 0.0),
    seed: int | None = 0,
) -> Trajectories:
    """Cut real recorded trajectories into segments a network can be driven with.

    Parameters
    ----------
    positions : array of dims (time, 2), a DataArray with dims ('time', 'space') (e.g.
        ``data_loaders.sargolini2006.load_trajectory(i)``; its ``time`` coord gives ``dt``), or a
        list of them; an array or DataArray with a leading ``trajectory`` dim counts as several.
    steps : int
        Velocity steps per segment.
    n : int or None
        Number of segments, drawn at random start times (with replacement across recordings);
        None: consecutive non-overlapping segments covering every recording.
    dt : float
        Seconds per sample; required when ``positions`` has no time coordinate.
    box : ((xmin, xmax), (ymin, ymax)) or None
        Arena after ``scale``/``offset``; None uses the data range.
    scale, offset
        ``position * scale + offset`` (e.g. scale 2.2 to map a 1 m box onto the 2.2 m box the
        simulated walks use).
    seed : int or None

    Returns
    -------
    Trajectories with head direction taken from the direction of motion (the recordings carry
    position only; heading is NaN-free: a standing animal keeps its previous direction).
    """
    items = positions if isinstance(positions, (list, tuple)) else [positions]
    arrays = []
    for item in items:
        arr, item_dt = _position_array(item)
        dt = item_dt if dt is None else dt
        for path in arr if arr.ndim == 3 else [arr]:
            arrays.append(path * scale + np.asarray(offset, dtype=np.float64))
    if dt is None or dt <= 0:
        raise ValueError("dt (seconds per sample) is required when positions carry no 'time' coordinate.")
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}.")
    long_enough = [a for a in arrays if len(a) > steps]
    if not long_enough:
        raise ValueError(f"no trajectory has more than steps={steps} samples (longest: {max(len(a) for a in arrays)}).")
    rng = rng_from_seed(seed)
    segs = []
    if n is None:
        for a in long_enough:
            for s in range(0, len(a) - steps, steps):
                segs.append(a[s : s + steps + 1])
    else:
        which = rng.integers(0, len(long_enough), n)
        for w in which:
            a = long_enough[w]
            s = rng.integers(0, len(a) - steps)
            segs.append(a[s : s + steps + 1])
    if box is None:
        allp = np.concatenate(arrays)
        box = ((allp[:, 0].min(), allp[:, 0].max()), (allp[:, 1].min(), allp[:, 1].max()))
    return _from_position_array(np.stack(segs), float(dt), box)
