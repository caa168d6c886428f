"""Figures for model metamers: image grids with loss curves, validity nulls, recognizability.

Each function imports matplotlib at call time and returns the ``Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_metamers", "plot_validity", "plot_recognizability"]


def _plt():
    from neurocompare._optional import require

    return require("matplotlib.pyplot", "plotting")


def _show(ax, img: np.ndarray, title: str | None = None) -> None:
    arr = np.asarray(img, dtype=float)
    if arr.ndim == 3:
        arr = np.moveaxis(arr, 0, -1) if arr.shape[0] in (1, 3) else arr
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
    ax.imshow(np.clip(arr, 0, 1), cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def plot_metamers(ds: Any, *, images: Sequence[int] | None = None, loss: bool = True, title: str | None = None,
                  validity: Any = None):
    """Grid: one row per image — original | metamer at each layer | loss curves.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`neurocompare.metamers.synthesize_metamers`: ``metamer`` (layer, image, ...),
        ``original`` (image, ...), ``loss`` (layer, image, iteration).
    images : sequence of int, optional
        Which images (positions); default all (at most 8).
    loss : bool
        Add a last column with the relative error per iteration (log scale), one line per layer.
    title : str, optional
    validity : xarray.Dataset, optional
        From :func:`neurocompare.metamers.check_validity`; invalid metamers get a red "invalid".

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    if not hasattr(ds, "data_vars") or "metamer" not in ds:
        raise TypeError(f"plot_metamers() needs a metamer Dataset; got {type(ds).__name__}.")
    n_img = ds.sizes["image"]
    idx = list(range(min(n_img, 8))) if images is None else [int(i) for i in images]
    for i in idx:
        if not 0 <= i < n_img:
            raise ValueError(f"Image position {i} is out of range for {n_img} images.")
    layers = [str(v) for v in ds["layer"].values]
    stages = [str(v) for v in ds["stage"].values] if "stage" in ds.coords else layers
    n_col = 1 + len(layers) + int(loss)
    fig, axes = plt.subplots(len(idx), n_col, figsize=(1.6 * n_col + (1.2 if loss else 0), 1.6 * len(idx)),
                             squeeze=False)
    for r, i in enumerate(idx):
        lab = f" (label {int(ds['label'].values[i])})" if "label" in ds.coords else ""
        _show(axes[r, 0], ds["original"].values[i], ("original" + lab) if r == 0 else lab.strip(" ()"))
        for li, layer in enumerate(layers):
            err = float(ds["relative_error"].values[li, i])
            head = (f"{stages[li]}\n{layer}\n" if r == 0 and stages[li] != layer else (f"{layer}\n" if r == 0 else ""))
            _show(axes[r, 1 + li], ds["metamer"].values[li, i], f"{head}err {err:.2g}")
            if validity is not None and not bool(validity["valid"].values[li, i]):
                axes[r, 1 + li].text(0.5, 0.05, "invalid", color="red", ha="center", va="bottom",
                                     transform=axes[r, 1 + li].transAxes, fontsize=8, fontweight="bold")
        if loss:
            ax = axes[r, -1]
            for li, layer in enumerate(layers):
                ax.semilogy(ds["loss"].values[li, i], lw=1, label=stages[li])
            ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title("relative error", fontsize=8)
                ax.legend(fontsize=6, frameon=False)
            if r == len(idx) - 1:
                ax.set_xlabel("iteration", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_validity(validity: Any, *, title: str | None = None):
    """Per layer: the null distribution of Spearman ρ and the metamers' ρ (dots), threshold line.

    Parameters
    ----------
    validity : xarray.Dataset
        From :func:`neurocompare.metamers.check_validity`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    if not hasattr(validity, "data_vars") or "null" not in validity:
        raise TypeError("plot_validity() needs the Dataset returned by check_validity().")
    layers = [str(v) for v in validity["layer"].values]
    fig, axes = plt.subplots(1, len(layers), figsize=(2.8 * len(layers), 2.4), squeeze=False)
    for li, layer in enumerate(layers):
        ax = axes[0, li]
        null = validity["null"].values[li]
        ax.hist(null[np.isfinite(null)], bins=30, color="0.7", label="natural pairs")
        ax.axvline(float(validity["null_max"].values[li]), color="k", ls="--", lw=1, label="null max")
        rho = validity["spearman"].values[li]
        ok = validity["valid"].values[li]
        y = np.full(rho.shape, ax.get_ylim()[1] * 0.5)
        ax.scatter(rho[ok], y[ok], color="tab:green", s=12, label="valid", zorder=3)
        ax.scatter(rho[~ok], y[~ok], color="tab:red", s=12, marker="x", label="invalid", zorder=3)
        ax.set_title(f"{layer}: {ok.mean():.0%} valid", fontsize=9)
        ax.set_xlabel("Spearman ρ with original", fontsize=8)
        if li == 0:
            ax.legend(fontsize=6, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_recognizability(table: Any, *, title: str | None = None):
    """Heatmaps of accuracy (generator × judge), one panel per stage, chance in the colour bar.

    Parameters
    ----------
    table : xarray.Dataset
        From :func:`neurocompare.metamers.recognizability`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    if not hasattr(table, "data_vars") or "accuracy" not in table:
        raise TypeError("plot_recognizability() needs the Dataset returned by recognizability().")
    stages = [str(s) for s in table["stage"].values]
    gens = [str(g) for g in table["generator"].values]
    judges = [str(j) for j in table["judge"].values]
    fig, axes = plt.subplots(1, len(stages), figsize=(0.6 * len(judges) * len(stages) + 2.5, 0.5 * len(gens) + 1.8),
                             squeeze=False)
    im = None
    for si, stage in enumerate(stages):
        ax = axes[0, si]
        acc = table["accuracy"].values[:, :, si]
        im = ax.imshow(acc, vmin=0, vmax=1, cmap="viridis")
        for gi in range(len(gens)):
            for ji in range(len(judges)):
                if np.isfinite(acc[gi, ji]):
                    ax.text(ji, gi, f"{acc[gi, ji]:.2f}", ha="center", va="center", fontsize=6,
                            color="w" if acc[gi, ji] < 0.6 else "k")
        ax.set_xticks(range(len(judges)), judges, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(gens)), gens if si == 0 else [""] * len(gens), fontsize=7)
        ax.set_title(stage, fontsize=9)
        ax.set_xlabel("judge model", fontsize=7)
    axes[0, 0].set_ylabel("metamers from", fontsize=7)
    cb = fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8)
    cb.ax.axhline(float(table.attrs.get("chance", np.nan)), color="r", lw=1)
    cb.set_label("accuracy (red: chance)", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
