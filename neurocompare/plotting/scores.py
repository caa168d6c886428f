"""Figures for benchmark scores: score per layer with error bars and the ceiling, and a model × benchmark heat map.

Both functions take a sequence of :class:`neurocompare.benchmarks.Score` (or the dicts that
``Score.to_dict()`` writes) and return a matplotlib ``Figure``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neurocompare._optional import require

__all__ = ["plot_layer_scores", "plot_score_heatmap"]


def _as_scores(scores: Sequence[Any]) -> list[Any]:
    from neurocompare.benchmarks.score import Score

    out = []
    for s in scores:
        if isinstance(s, Mapping):
            s = Score.from_dict(s)
        if not isinstance(s, Score):
            raise TypeError(f"Expected Score objects or Score.to_dict() dicts; got {type(s).__name__}.")
        out.append(s)
    if not out:
        raise ValueError("No scores to plot; pass at least one Score.")
    return out


def _model(s: Any) -> str:
    return str(s.provenance.get("model_id", "model"))


def plot_layer_scores(scores: Sequence[Any], *, ceiled: bool = False):
    """One panel per benchmark: raw score per layer (mean ± s.d. over splits), one line per model.

    The ceiling is drawn as a dashed horizontal line (raw scale), and the score of the layer chosen
    without double dipping as a star at the most often selected layer.

    Parameters
    ----------
    scores : sequence of Score
    ceiled : bool
        Plot ceiled values (``raw / ceiling``) instead of raw scores; the ceiling line is then 1.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = require("matplotlib.pyplot", "plotting")
    scores = _as_scores(scores)
    benches = list(dict.fromkeys(s.benchmark for s in scores))
    ncol = min(3, len(benches))
    nrow = int(np.ceil(len(benches) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
    key = "value" if ceiled else "raw"
    for ax, bench in zip(axes.ravel(), benches):
        ceiling = None
        panel = [x for x in scores if x.benchmark == bench]
        axis_names = list(dict.fromkeys(n for x in panel for n in x.layers))  # union, first-seen order
        for s in panel:
            names = list(s.layers)
            y = np.array([s.layers[n][key] if s.layers[n][key] is not None else np.nan for n in names], dtype=float)
            err = np.array([s.layers[n]["error"] if s.layers[n]["error"] is not None else np.nan for n in names], dtype=float)
            if not ceiled and s.ceiling:
                err = err * s.ceiling  # stored on the ceiled scale
            xs = np.array([axis_names.index(n) for n in names])
            order = np.argsort(xs, kind="stable")
            xs, y, err = xs[order], y[order], err[order]
            line = ax.errorbar(xs, y, yerr=err, marker="o", ms=4, capsize=3, label=_model(s))
            pick = axis_names.index(s.layer) if s.layer in axis_names else 0
            ax.plot([pick], [s.value if ceiled else s.raw], marker="*", ms=13, color=line[0].get_color(), zorder=5)
            if s.ceiling is not None:
                ceiling = 1.0 if ceiled else s.ceiling
        ax.set_xticks(np.arange(len(axis_names)))
        ax.set_xticklabels(axis_names, rotation=45, ha="right", fontsize=8)
        if ceiling is not None:
            ax.axhline(ceiling, ls="--", color="0.3", lw=1, label="ceiling")
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_title(bench, fontsize=9)
        ax.set_ylabel("ceiled score" if ceiled else "raw score (held-out)")
        ax.legend(fontsize=7, frameon=False)
    for ax in axes.ravel()[len(benches):]:
        ax.set_visible(False)
    fig.suptitle("Score per layer (mean ± s.d. over splits; ★ = layer chosen on training splits)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_score_heatmap(scores: Sequence[Any]):
    """Model × benchmark heat map of ceiled scores (annotated value ± error; '!' marks above-ceiling).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = require("matplotlib.pyplot", "plotting")
    scores = _as_scores(scores)
    models = list(dict.fromkeys(_model(s) for s in scores))
    benches = list(dict.fromkeys(s.benchmark for s in scores))
    grid = np.full((len(models), len(benches)), np.nan)
    text = [["" for _ in benches] for _ in models]
    for s in scores:
        i, j = models.index(_model(s)), benches.index(s.benchmark)
        grid[i, j] = s.value
        mark = "!" if "above_ceiling" in s.flags else ""
        text[i][j] = f"{s.value:.2f}{mark}\n±{s.error:.2f}"
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(benches), 1.2 + 0.6 * len(models)))
    vmax = max(1.0, float(np.nanmax(grid))) if np.isfinite(grid).any() else 1.0
    im = ax.imshow(grid, cmap="viridis", vmin=min(0.0, float(np.nanmin(grid)) if np.isfinite(grid).any() else 0.0), vmax=vmax, aspect="auto")
    for i in range(len(models)):
        for j in range(len(benches)):
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7, color="w" if not np.isfinite(grid[i, j]) or grid[i, j] < 0.6 * vmax else "k")
    ax.set_xticks(range(len(benches)))
    ax.set_xticklabels(benches, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(models)))
    ax.set_yticklabels(models, fontsize=8)
    fig.colorbar(im, ax=ax, label="ceiled score")
    ax.set_title("Model × benchmark (value = raw / ceiling; raw where no ceiling)", fontsize=9)
    fig.tight_layout()
    return fig
