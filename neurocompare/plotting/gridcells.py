"""Figures for grid-cell analyses: rate maps with autocorrelograms and scores, score distributions.

Every function imports matplotlib at call time and returns the ``Figure``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurocompare._optional import require

__all__ = ["plot_rate_maps", "plot_gridness_distributions", "plot_error_growth", "plot_sweep_heatmap"]

_ABBREV = {"gridness_sargolini": "gS", "gridness_banino": "gB", "spacing": "sp", "orientation": "ori", "published": "pub"}


def _plt():
    return require("matplotlib.pyplot", "plotting")


def plot_rate_maps(
    maps: Any,
    *,
    sacs: Any = None,
    scores: dict[str, Any] | None = None,
    titles: list[str] | None = None,
    ncols: int = 8,
    cmap: str = "jet",
):
    """Rate maps (and, below each, its autocorrelogram) with scores in the titles.

    Parameters
    ----------
    maps : array (unit, y, x); NaN bins are drawn blank. Row 0 = lowest y (origin lower).
    sacs : array (unit, 2y-1, 2x-1), optional.
    scores : dict name -> array (unit,), optional; shown as ``name=value`` under each map.
    titles : list of str, optional.
    ncols : int
        Units per row.
    """
    plt = _plt()
    maps = np.asarray(maps, dtype=float)
    if maps.ndim == 2:
        maps = maps[None]
    n = len(maps)
    if n == 0:
        raise ValueError("plot_rate_maps() got no maps to draw.")
    if sacs is not None:
        sacs = np.asarray(sacs, dtype=float)
        sacs = sacs[None] if sacs.ndim == 2 else sacs
        if len(sacs) != n:
            raise ValueError(f"plot_rate_maps() needs one autocorrelogram per map: got {n} maps and {len(sacs)} sacs.")
    if titles is not None and len(titles) != n:
        raise ValueError(f"plot_rate_maps() needs one title per map: got {n} maps and {len(titles)} titles.")
    for key, values in (scores or {}).items():
        if np.size(values) != n:
            raise ValueError(f"plot_rate_maps(): scores[{key!r}] has {np.size(values)} values for {n} maps.")
    ncols = max(1, min(ncols, n))
    nrows_units = int(np.ceil(n / ncols))
    per = 2 if sacs is not None else 1
    fig, axes = plt.subplots(nrows_units * per, ncols, figsize=(1.7 * ncols, 1.9 * nrows_units * per), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, ncols)
        ax = axes[r * per, c]
        ax.imshow(maps[i], origin="lower", cmap=cmap, interpolation="nearest")
        lines = [titles[i]] if titles is not None else []
        if scores:
            parts = [f"{_ABBREV.get(k, k[:6])}={float(np.asarray(v, dtype=float)[i]):.2f}" for k, v in scores.items()]
            lines += [" ".join(parts[j : j + 2]) for j in range(0, len(parts), 2)]
        ax.set_title("\n".join(lines), fontsize=6)
        if sacs is not None:
            axes[r * per + 1, c].imshow(sacs[i], origin="lower", cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    fig.tight_layout()
    return fig


def plot_gridness_distributions(groups: dict[str, Any], *, threshold: float = 0.3, bins: int = 30, title: str = "Gridness"):
    """Histograms of gridness for several groups (e.g. model vs brain), with a threshold line.

    Parameters
    ----------
    groups : dict name -> array of scores (NaN ignored).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    allv = np.concatenate([np.asarray(v, dtype=float).ravel() for v in groups.values()])
    allv = allv[np.isfinite(allv)]
    edges = np.linspace(min(-1.0, allv.min() if allv.size else -1), max(1.6, allv.max() if allv.size else 1.6), bins + 1)
    for name, v in groups.items():
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        if v.size:
            ax.hist(v, bins=edges, alpha=0.5, density=True, label=f"{name} (n={v.size}, >{threshold}: {np.mean(v > threshold):.0%})")
    ax.axvline(threshold, color="k", ls="--", lw=1)
    ax.set_xlabel("gridness")
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_error_growth(curves: dict[str, Any], *, dt: float = 1.0, unit: str = "m"):
    """Path-integration error against time, one line per model.

    Parameters
    ----------
    curves : dict name -> array (time,) of mean decoding error.
    dt : float
        Seconds per step, for the x axis.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, c in curves.items():
        c = np.asarray(c, dtype=float)
        ax.plot(np.arange(1, len(c) + 1) * dt, c, label=name)
    ax.set_xlabel("time (s)" if dt != 1.0 else "step")
    ax.set_ylabel(f"position error ({unit})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_sweep_heatmap(rows: list[dict[str, Any]], *, x: str = "ratio", y: str = "sigma_g", value: str = "frac_above_shuffle95", title: str | None = None):
    """Heat map of a sweep: the mean of ``value`` over seeds for every ``(x, y)`` setting.

    Parameters
    ----------
    rows : list of dict
        One per run (as :func:`analyses.grid_models.sic_sweep` writes them), each holding ``x``,
        ``y`` and ``value``.
    x, y : str
        Keys of the two swept parameters (x drawn on a log axis of its distinct values).
    value : str
        Key of the number to show; the cell text is ``mean (n seeds)``.
    """
    plt = _plt()
    if not rows:
        raise ValueError("plot_sweep_heatmap needs at least one run; got an empty list. Run the sweep first.")
    missing = [k for k in (x, y, value) if k not in rows[0]]
    if missing:
        raise ValueError(f"plot_sweep_heatmap: the runs lack {missing}; present keys: {sorted(rows[0])}.")
    xs = sorted({float(r[x]) for r in rows})
    ys = sorted({float(r[y]) for r in rows})
    grid = np.full((len(ys), len(xs)), np.nan)
    count = np.zeros_like(grid, dtype=int)
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            vals = [float(r[value]) for r in rows if float(r[x]) == xv and float(r[y]) == yv and r[value] is not None]
            if vals:
                grid[i, j], count[i, j] = float(np.mean(vals)), len(vals)
    fig, ax = plt.subplots(figsize=(1.3 * len(xs) + 2.5, 0.9 * len(ys) + 1.8))
    finite = grid[np.isfinite(grid)]
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    hi = max(lo + 1e-9, float(finite.max())) if finite.size else 1.0
    im = ax.imshow(grid, origin="lower", cmap="viridis", vmin=lo, vmax=hi)
    for i in range(len(ys)):
        for j in range(len(xs)):
            if count[i, j]:
                ax.text(j, i, f"{grid[i, j]:.2f}\n(n={count[i, j]})", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"{value} (mean over seeds)")
    fig.colorbar(im, ax=ax, label=value)
    fig.tight_layout()
    return fig
