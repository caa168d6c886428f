"""Matplotlib figures for every result type, one module per topic.

matplotlib is an optional dependency (``pip install 'neurocompare[plot]'``); each function
imports it at call time and returns the ``Figure`` so notebooks and the CLI can show or save it.

Examples
--------
>>> import neurocompare as nc
>>> fig = nc.plotting.plot_rdm(rdm)                   # doctest: +SKIP
>>> fig = nc.plotting.plot_layer_scores(scores)      # doctest: +SKIP
"""

from neurocompare.plotting.behavior import plot_mode_selection, plot_mode_sequence, plot_transition_curves
from neurocompare.plotting.datasets import place_fields, plot_images, plot_maps, plot_spectrograms, plot_trajectory
from neurocompare.plotting.learning_theory import (
    plot_critical_periods,
    plot_information_plane,
    plot_path_kernel_weights,
)
from neurocompare.plotting.gridcells import plot_error_growth, plot_gridness_distributions, plot_rate_maps, plot_sweep_heatmap
from neurocompare.plotting.learning import plot_collapse_history, plot_layerwise_nc1, plot_ranks, plot_weight_spectra
from neurocompare.plotting.metamers import plot_metamers, plot_recognizability, plot_validity
from neurocompare.plotting.rdm import plot_rdm, plot_rdms
from neurocompare.plotting.scores import plot_layer_scores, plot_score_heatmap

__all__ = [
    "plot_mode_selection",
    "plot_mode_sequence",
    "plot_transition_curves",
    "place_fields",
    "plot_collapse_history",
    "plot_layerwise_nc1",
    "plot_ranks",
    "plot_weight_spectra",
    "plot_error_growth",
    "plot_gridness_distributions",
    "plot_images",
    "plot_information_plane",
    "plot_critical_periods",
    "plot_path_kernel_weights",
    "plot_layer_scores",
    "plot_maps",
    "plot_metamers",
    "plot_rate_maps",
    "plot_rdm",
    "plot_rdms",
    "plot_recognizability",
    "plot_score_heatmap",
    "plot_sweep_heatmap",
    "plot_spectrograms",
    "plot_trajectory",
    "plot_validity",
]
