"""Figures for what training does: neural-collapse measures over epochs, NC1 over depth, ranks and spectra.

Each function takes ``{label: one run or a list of runs (seeds)}`` so conditions can be
compared in one figure; a single run is accepted without the mapping. Runs over seeds are drawn
as thin lines with their median in bold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neurocompare._optional import require

__all__ = ["plot_collapse_history", "plot_layerwise_nc1", "plot_ranks", "plot_weight_spectra"]

_LABELS = {
    "nc1": "NC1 (within / between)", "nc2_etf_means": "NC2: ETF error of class means",
    "nc2_etf_classifier": "NC2: ETF error of classifier", "nc3": "NC3: classifier vs means", "nc4": "NC4: disagreement with NCC",
    "accuracy": "training accuracy", "test_accuracy": "test accuracy",
}


def _groups(runs: Any, single: Any) -> dict[str, list[Any]]:
    """``{label: [run, ...]}`` from a mapping, a list of runs, or one run (``single(x)`` says what one run is)."""
    if isinstance(runs, Mapping) and not single(runs):
        groups = {str(k): (list(v) if isinstance(v, Sequence) and not single(v) else [v]) for k, v in runs.items()}
    else:
        groups = {"": [runs]}
    if not groups or not any(groups.values()):
        raise ValueError("Nothing to plot: pass a run, or a mapping {label: run or list of runs}.")
    return groups


def _history(run: Any) -> list[dict]:
    rows = getattr(run, "history", run)
    if not isinstance(rows, Sequence) or not rows or not isinstance(rows[0], Mapping):
        raise TypeError("A run's history is a CollapseTracker or a list of its rows (dicts with 'epoch' and the measures).")
    return list(rows)


def plot_collapse_history(runs: Any, metrics: Sequence[str] = ("nc1", "nc2_etf_means", "nc3", "nc4"), *,
                          title: str | None = None):
    """Neural-collapse measures over epochs (log-log; epoch 0, the initialisation, on a linear stretch).

    Parameters
    ----------
    runs : CollapseTracker, list of rows, or mapping label -> run(s)
        Histories as :class:`neurocompare.learning.CollapseTracker` records them.
    metrics : sequence of str
        Row keys, one panel each (``nc1``, ``nc1_<variant>``, ``nc2_*``, ``nc3``, ``nc4``, ...).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = require("matplotlib.pyplot", "plotting")
    is_one = lambda v: hasattr(v, "history") or (isinstance(v, Sequence) and bool(v) and isinstance(v[0], Mapping))  # noqa: E731
    groups = _groups(runs, is_one)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False)
    for j, metric in enumerate(metrics):
        ax = axes[0, j]
        for i, (label, group) in enumerate(groups.items()):
            curves = []
            for run in group:
                rows = _history(run)
                ep = np.array([r["epoch"] for r in rows], float)
                val = np.array([r.get(metric, np.nan) for r in rows], float)
                ax.plot(ep, val, color=f"C{i}", lw=0.6, alpha=0.4)
                curves.append((ep, val))
            if len(curves) > 1 and all(len(c[0]) == len(curves[0][0]) for c in curves):
                ax.plot(curves[0][0], np.nanmedian([c[1] for c in curves], axis=0), color=f"C{i}", lw=2, label=label or None)
            else:
                ax.plot([], [], color=f"C{i}", lw=2, label=label or None)
        ax.set_xscale("symlog", linthresh=1.0)
        if metric not in ("accuracy", "test_accuracy"):
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(_LABELS.get(metric, metric), fontsize=9)
    if any(groups):
        axes[0, -1].legend(fontsize=6)
    fig.suptitle(title or "neural collapse over training")
    fig.tight_layout()
    return fig


def _layer_values(run: Any, key: str) -> dict[str, float]:
    if hasattr(run, "nc1") and callable(run.nc1) and key == "layer_nc1":
        return run.nc1()
    if isinstance(run, Mapping) and key in run:
        return dict(run[key])
    if isinstance(run, Mapping) and "history" in run:
        return dict(run["history"][-1][key])
    if isinstance(run, Mapping):
        return {str(k): float(v) for k, v in run.items()}
    raise TypeError(f"Cannot read {key!r} from a {type(run).__name__}; pass LayerwiseCollapse objects or {{layer: value}} dicts.")


def _per_layer(runs: Any, key: str, ylabel: str, title: str, log: bool, bars: bool):
    plt = require("matplotlib.pyplot", "plotting")
    is_one = lambda v: hasattr(v, "results") or (isinstance(v, Mapping) and (key in v or "history" in v or  # noqa: E731
                                                  all(isinstance(x, (int, float)) for x in v.values())))
    groups = _groups(runs, is_one)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(groups) + 3), 3.4))
    width = 0.8 / max(len(groups), 1)
    for i, (label, group) in enumerate(groups.items()):
        tables = [_layer_values(run, key) for run in group]
        layers = list(tables[0])
        vals = np.array([[t.get(ly, np.nan) for ly in layers] for t in tables], float)
        x = np.arange(len(layers))
        if bars:
            ax.bar(x + (i - (len(groups) - 1) / 2) * width, np.nanmean(vals, 0), width,
                   yerr=np.nanstd(vals, 0, ddof=1) if len(vals) > 1 else None, capsize=2, color=f"C{i}", label=label or None)
        else:
            for v in vals:
                ax.plot(x, v, color=f"C{i}", lw=0.6, alpha=0.4, marker=".")
            ax.plot(x, np.nanmedian(vals, 0), color=f"C{i}", lw=2, marker="o", label=label or None)
        ax.set_xticks(x, layers, rotation=30, fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if len(groups) > 1:
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_layerwise_nc1(runs: Any, *, title: str = "NC1 over depth (input of each linear layer)"):
    """NC1 at each recorded layer, in depth order (log scale).

    Parameters
    ----------
    runs : LayerwiseCollapse, ``{layer: NC1}``, a record with ``layer_nc1`` or ``history``, or a
        mapping label -> one or a list of those.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _per_layer(runs, "layer_nc1", "NC1", title, log=True, bars=False)


def plot_ranks(runs: Any, *, title: str = "ε-rank of each weight matrix (mean ± s.d. over seeds)"):
    """Bar chart of the ε-rank of every weight matrix, one colour per condition.

    Parameters
    ----------
    runs : ``{layer: rank}``, a record with ``rank`` or ``history``, or a mapping label -> one or
        a list of those.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _per_layer(runs, "rank", "ε-rank", title, log=False, bars=True)


def plot_weight_spectra(spectra: Mapping[str, Any], *, title: str = "singular values / largest"):
    """Normalised singular spectra ``s_i / s_1`` of weight matrices, one line per layer (log scale).

    Parameters
    ----------
    spectra : mapping layer -> singular values
        As :func:`neurocompare.learning.weight_spectra` returns.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = require("matplotlib.pyplot", "plotting")
    if not spectra:
        raise ValueError("No spectra to plot; pass {layer: singular values}.")
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for i, (name, s) in enumerate(spectra.items()):
        s = np.asarray(s, float)
        ax.plot(np.arange(1, s.size + 1), s / s[0], color=f"C{i}", label=name)
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("index")
    ax.set_ylabel("s_i / s_1")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
