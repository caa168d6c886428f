"""Rate maps of a network's units along trajectories, and of a saved path-integrator checkpoint.

A velocity-driven network (``neurocompare.models.path_integration.PathIntegrator`` or any module
that maps velocities of dims ``(trajectory, time, 2)`` to activity of dims ``(trajectory, time,
unit)``) is run on a :class:`~neurocompare.gridcells.Trajectories`; the activity at step ``t`` is
binned at ``position[:, t + 1]`` (where the network is after that step).

This module depends on ``neurocompare.models``, never the other way round: models build networks,
the grid-cell package measures them. torch is imported when a function runs, so importing the
grid-cell package stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neurocompare.gridcells._ratemaps import rate_maps
from neurocompare.gridcells._trajectories import Trajectories, random_walks

__all__ = ["model_rate_maps", "rate_maps_from_checkpoint"]


def _activity(model: Any, velocity: Any, init_code: Any, layer: str | None) -> np.ndarray:
    """Activity of dims (trajectory, time, unit) of ``model`` driven by ``velocity``."""
    import torch

    args = (velocity,) if init_code is None else (velocity, init_code)
    with torch.no_grad():
        if layer is not None:
            from neurocompare._hooks import LayerHooks

            with LayerHooks(model, [layer]) as hooks:
                out = hooks.run(*args)[layer]
        elif hasattr(model, "hidden"):
            out = model.hidden(*args)
        else:
            out = model(*args)
    if out.ndim != 3 or out.shape[:2] != velocity.shape[:2]:
        what = f"layer {layer!r}" if layer is not None else "the model"
        raise ValueError(
            f"{what} must give activity of dims (trajectory, time, unit) = ({velocity.shape[0]}, "
            f"{velocity.shape[1]}, unit) for velocities {tuple(velocity.shape)}; got {tuple(out.shape)}. "
            "Pass layer= naming a recurrent layer (hint: neurocompare.list_layers(model))."
        )
    return out.detach().cpu().double().numpy()


def model_rate_maps(
    model: Any,
    trajectories: Trajectories,
    *,
    place_cells: Any = None,
    layer: str | None = None,
    bins: Any = 40,
    box: Any = None,
    sigma: float = 1.0,
    min_occupancy: float = 1,
    return_activity: bool = False,
):
    """Rate maps of a velocity-driven network's units along trajectories.

    Parameters
    ----------
    model : torch.nn.Module
        Takes velocities of dims (trajectory, time, 2) (and, with ``place_cells``, the place code
        of the start positions); its ``hidden`` method, else its output, else ``layer`` gives the
        activity of dims (trajectory, time, unit).
    trajectories : Trajectories
        The paths; step ``t`` is binned at ``position[:, t + 1]``.
    place_cells : callable, optional
        Maps start positions (trajectory, 2) to the initial place code (supervised path
        integrators); None drives the network without one.
    layer : str, optional
        Record this submodule's output instead (see ``neurocompare.list_layers``).
    bins, box, sigma, min_occupancy
        As in :func:`~neurocompare.gridcells.rate_maps`; ``box`` defaults to the trajectories' box.
    return_activity : bool
        Also return the activity (sample, unit) and positions (sample, 2) the maps were built from
        (for :func:`~neurocompare.gridcells.gridness_shuffle_threshold`).

    Returns
    -------
    maps : ndarray of dims (unit, y, x)
    activity, positions : ndarrays of dims (sample, unit) and (sample, 2), only with ``return_activity``.
    """
    import torch

    if not isinstance(trajectories, Trajectories):
        raise TypeError(
            f"trajectories must be a neurocompare.gridcells.Trajectories; got {type(trajectories).__name__}. "
            "Build one with random_walks(), trajectory_segments() or Trajectories.from_positions()."
        )
    velocity = torch.as_tensor(trajectories.velocity, dtype=torch.float32)
    init = None
    if place_cells is not None:
        init = place_cells(torch.as_tensor(trajectories.position[:, 0], dtype=torch.float32))
    h = _activity(model, velocity, init, layer)
    act = h.reshape(-1, h.shape[-1])
    pos = trajectories.position[:, 1:].reshape(-1, 2)
    box = trajectories.box if box is None else box
    maps = rate_maps(act, pos, bins=bins, box=box, sigma=sigma, min_occupancy=min_occupancy)
    return (maps, act, pos) if return_activity else maps


def rate_maps_from_checkpoint(path: str | Path, *, bins: int = 40, n_traj: int = 200, steps: int = 100, seed: int = 0) -> np.ndarray:
    """Rate maps of dims (unit, y, x) of a path integrator saved by ``analyses/ssl_grid_cells.py``.

    The checkpoint (``torch.save`` of a dict with ``model_state``, ``model_kwargs`` and
    ``place_cells`` (kwargs of ``PlaceCells``, or None for self-supervised nets), optionally
    ``box``) is loaded with ``weights_only=True``; the network is driven by ``n_traj`` simulated
    random walks of ``steps`` steps (seeded by ``seed``; self-supervised nets start at the box
    centre) and its hidden units are binned into occupancy-normalised maps (``sigma`` 1 bin).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is not a path-integrator checkpoint (names the missing key).
    """
    import torch

    from neurocompare.models.path_integration import PathIntegrator, PlaceCells

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist.")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model_state", "model_kwargs"):
        if key not in state:
            raise ValueError(f"{str(path)!r} is not a path-integrator checkpoint: missing {key!r} (found {sorted(state)}).")
    net = PathIntegrator(**dict(state["model_kwargs"]))
    net.load_state_dict(state["model_state"])
    net.eval()
    pc_kw = state.get("place_cells")
    box = tuple(tuple(b) for b in state.get("box", ((-1.1, 1.1), (-1.1, 1.1))))
    if pc_kw:
        tr = random_walks(n_traj, steps, box=box, seed=seed)
        place_cells = PlaceCells(**pc_kw)
    else:
        cx, cy = (box[0][0] + box[0][1]) / 2, (box[1][0] + box[1][1]) / 2
        tr = random_walks(n_traj, steps, box=box, start=np.tile([cx, cy], (n_traj, 1)), seed=seed)
        place_cells = None
    return model_rate_maps(net, tr, place_cells=place_cells, bins=bins, box=box, sigma=1.0)
