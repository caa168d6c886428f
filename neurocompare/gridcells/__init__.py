"""Grid-cell analysis: trajectories, rate maps, autocorrelograms, gridness, grid geometry, modules.

Everything is batched over units: rate maps are arrays of dims ``(unit, y, x)`` (row index = y
bin, ascending; column index = x bin, ascending) and spatial autocorrelograms are arrays of dims
``(unit, 2*y - 1, 2*x - 1)`` with zero lag at the centre bin ``(y - 1, x - 1)``. A single map of
dims ``(y, x)`` is accepted everywhere and treated as one unit. Unvisited bins are ``NaN``.

Positions are arrays of dims ``(time, 2)`` holding ``(x, y)``, or recorded trajectories as the
data loaders return them (DataArrays with dims ``('time', 'space')``). Batches of paths, simulated
or cut from recordings, are one type, :class:`Trajectories` (``position`` of dims ``(trajectory,
time + 1, 2)``, ``velocity`` of dims ``(trajectory, time, 2)``, ...).

Two gridness definitions are implemented and always named explicitly: ``"sargolini"``
(Sargolini et al. 2006, as BNT/opexebo compute it) and ``"banino"`` (Banino et al. 2018,
DeepMind's ``scores.py``); see :func:`gridness`.

========================  ==================================================================
module                    what
========================  ==================================================================
``_trajectories``         :class:`Trajectories`, :func:`random_walks`, :func:`trajectory_segments`
``_ratemaps``             :func:`rate_maps`, :func:`spike_rate_maps`, :func:`smooth_maps`
``_autocorrelogram``      :func:`autocorrelogram`, :func:`crop_autocorrelogram`
``_gridness``             :func:`gridness`, :func:`gridness_from_autocorrelogram`,
                          :func:`gridness_shuffle_threshold`
``_geometry``             :func:`grid_geometry` (spacing, orientation, phase),
                          :func:`hexagonal_grid_maps`, :func:`detect_modules`
``_scores``               :func:`spatial_information`, :func:`border_score`, :func:`grid_scores`
``_from_model``           :func:`model_rate_maps`, :func:`rate_maps_from_checkpoint`
========================  ==================================================================

The command line is ``neurocompare gridscore`` (``neurocompare/cli/gridscore.py``).

Examples
--------
>>> import numpy as np
>>> from neurocompare import gridcells
>>> maps = gridcells.hexagonal_grid_maps(4, size=40, spacing=12.0, seed=0)
>>> maps.shape
(4, 40, 40)
>>> bool(np.all(gridcells.gridness(maps, variant="sargolini") > 0.8))
True

References
----------
Hafting et al. (2005) Nature 436:801. Sargolini et al. (2006) Science 312:758. Langston et al.
(2010) Science 328:1576. Solstad et al. (2008) Science 322:1865. Skaggs et al. (1993) NIPS 5.
Stensola et al. (2012) Nature 492:72. Banino et al. (2018) Nature 557:429.
"""

from __future__ import annotations

from neurocompare.gridcells._autocorrelogram import autocorrelogram, crop_autocorrelogram
from neurocompare.gridcells._checks import as_positions
from neurocompare.gridcells._from_model import model_rate_maps, rate_maps_from_checkpoint
from neurocompare.gridcells._geometry import detect_modules, grid_geometry, hexagonal_grid_maps
from neurocompare.gridcells._gridness import (
    BANINO_RINGS,
    GRIDNESS_VARIANTS,
    gridness,
    gridness_from_autocorrelogram,
    gridness_shuffle_threshold,
)
from neurocompare.gridcells._ratemaps import rate_maps, smooth_maps, spike_rate_maps
from neurocompare.gridcells._scores import border_score, grid_scores, spatial_information
from neurocompare.gridcells._trajectories import Trajectories, random_walks, trajectory_segments

__all__ = [
    # trajectories
    "Trajectories",
    "random_walks",
    "trajectory_segments",
    "as_positions",
    # rate maps
    "rate_maps",
    "spike_rate_maps",
    "smooth_maps",
    "model_rate_maps",
    "rate_maps_from_checkpoint",
    # autocorrelograms and gridness
    "autocorrelogram",
    "crop_autocorrelogram",
    "GRIDNESS_VARIANTS",
    "BANINO_RINGS",
    "gridness",
    "gridness_from_autocorrelogram",
    "gridness_shuffle_threshold",
    # geometry and modules
    "grid_geometry",
    "hexagonal_grid_maps",
    "detect_modules",
    # other scores
    "spatial_information",
    "border_score",
    "grid_scores",
]


def __dir__() -> list[str]:
    return sorted(__all__)
