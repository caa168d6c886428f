"""Figures for the learning-theory instruments: information plane, path-kernel weights, critical periods.

Every function imports matplotlib at call time and returns the ``Figure``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurocompare._optional import require

__all__ = ["plot_information_plane", "plot_path_kernel_weights", "plot_critical_periods"]


def _plt():
    return require("matplotlib.pyplot", "plotting")


def plot_information_plane(i_xt: Any, i_ty: Any, epochs: Any = None, *, layer_names: list[str] | None = None,
                           title: str = "", ax: Any = None):
    """Per-layer trajectories in the information plane, coloured by epoch.

    Parameters
    ----------
    i_xt, i_ty : arrays of dims (epoch, layer), bits
    epochs : array of dims (epoch,), optional
        The colour scale (log-spaced epochs read best); default 0..n-1.
    layer_names : list of str, optional
        Labels written at each trajectory's last point.
    title : str
    ax : matplotlib Axes, optional
        Draw into this axis (its figure is returned).
    """
    plt = _plt()
    ixt, ity = np.asarray(i_xt, dtype=float), np.asarray(i_ty, dtype=float)
    if ixt.ndim != 2 or ixt.shape != ity.shape:
        raise ValueError(f"plot_information_plane() needs i_xt and i_ty of the same dims (epoch, layer); got "
                         f"{ixt.shape} and {ity.shape}.")
    ep = np.arange(ixt.shape[0]) if epochs is None else np.asarray(epochs, dtype=float)
    if ep.shape != (ixt.shape[0],):
        raise ValueError(f"plot_information_plane(): {ixt.shape[0]} epochs of values but {ep.shape} epoch labels.")
    if layer_names is not None and len(layer_names) != ixt.shape[1]:
        raise ValueError(f"plot_information_plane(): {ixt.shape[1]} layers but {len(layer_names)} names.")
    fig = ax.figure if ax is not None else plt.figure(figsize=(4.2, 3.6))
    ax = ax if ax is not None else fig.add_subplot(1, 1, 1)
    colour = np.log10(np.maximum(ep, 1.0))
    for j in range(ixt.shape[1]):
        ax.plot(ixt[:, j], ity[:, j], color="0.7", lw=0.6, zorder=1)
        sc = ax.scatter(ixt[:, j], ity[:, j], c=colour, cmap="viridis", s=8, zorder=2,
                        vmin=colour.min(), vmax=max(colour.max(), colour.min() + 1e-9))
        if layer_names is not None:
            ax.annotate(layer_names[j], (ixt[-1, j], ity[-1, j]), fontsize=7, xytext=(3, -8),
                        textcoords="offset points")
    cb = fig.colorbar(sc, ax=ax)
    cb.set_label("log10 epoch")
    ax.set_xlabel("I(X;T) (bits)")
    ax.set_ylabel("I(T;Y) (bits)")
    ax.set_title(title, fontsize=9)
    return fig


def plot_path_kernel_weights(query_image: Any, train_images: Any, weights: Any, *, n_top: int = 6,
                             title: str = ""):
    """A test image and the training images with the largest (signed) contributions to its output.

    Parameters
    ----------
    query_image : array of dims (height, width)
    train_images : array of dims (train, height, width)
    weights : array of dims (train,)
        Each training image's contribution ``a_i(x) K^p(x, x_i)`` to ``f_T(x) - f_0(x)``.
    n_top : int
        Images shown on each side (most positive, most negative).
    title : str
    """
    plt = _plt()
    imgs = np.asarray(train_images, dtype=float)
    w = np.asarray(weights, dtype=float)
    if imgs.ndim != 3 or w.shape != (imgs.shape[0],):
        raise ValueError(f"plot_path_kernel_weights() needs train_images (train, h, w) and weights (train,); got "
                         f"{imgs.shape} and {w.shape}.")
    n_top = int(min(n_top, imgs.shape[0]))
    order = np.argsort(w)
    picks = [("largest +", order[::-1][:n_top]), ("largest -", order[:n_top])]
    fig, axes = plt.subplots(2, n_top + 1, figsize=(1.3 * (n_top + 1), 3.0), squeeze=False)
    for r, (name, idx) in enumerate(picks):
        axes[r, 0].imshow(np.asarray(query_image, dtype=float), cmap="gray")
        axes[r, 0].set_title("query" if r == 0 else "", fontsize=8)
        axes[r, 0].set_ylabel(name, fontsize=8)
        for c, i in enumerate(idx, start=1):
            axes[r, c].imshow(imgs[i], cmap="gray")
            axes[r, c].set_title(f"{w[i]:+.2g}", fontsize=7)
        for a in axes[r]:
            a.set_xticks([])
            a.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_critical_periods(lengths: Any, acc_length: Any, onsets: Any, acc_onset: Any, *, baseline: Any = None,
                          window: int | None = None, fisher_epochs: Any = None, fisher: Any = None,
                          fisher_labels: list[str] | None = None, title: str = ""):
    """Final accuracy vs deficit length and vs deficit onset, and the Fisher trace over epochs.

    Parameters
    ----------
    lengths : array (n_length,)
        Epochs of deficit from the start.
    acc_length : array (n_length, seed)
        Final test accuracy (%) per length and seed.
    onsets : array (n_onset,)
        Start epoch of a sliding deficit window of ``window`` epochs.
    acc_onset : array (n_onset, seed)
    baseline : array (seed,), optional
        No-deficit accuracy, drawn as a band.
    fisher_epochs, fisher : arrays (epoch,) and (curve, epoch), optional
        Fisher-trace curves (e.g. one per condition and seed), drawn in a third panel.
    fisher_labels : list of str, optional
        One label per curve; curves with the same label share a colour and a legend entry.
    """
    plt = _plt()
    panels = 3 if fisher is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.0 * panels, 3.4))
    for ax, xs, acc, xlabel in ((axes[0], lengths, acc_length, "deficit length from epoch 0 (epochs)"),
                                (axes[1], onsets, acc_onset, f"onset of a {window}-epoch deficit (epoch)")):
        xs, acc = np.asarray(xs, dtype=float), np.atleast_2d(np.asarray(acc, dtype=float))
        if acc.shape[0] != xs.size:
            raise ValueError(f"plot_critical_periods(): {xs.size} conditions but accuracies of shape {acc.shape}.")
        mean = np.nanmean(acc, axis=1)
        sd = np.nanstd(acc, axis=1, ddof=1) if acc.shape[1] > 1 else np.zeros_like(mean)
        ax.errorbar(xs, mean, yerr=sd, marker="o", capsize=3, color="C0")
        for j in range(acc.shape[1]):
            ax.plot(xs, acc[:, j], ".", color="C0", alpha=0.35)
        if baseline is not None:
            b = np.asarray(baseline, dtype=float)
            ax.axhspan(b.mean() - (b.std(ddof=1) if b.size > 1 else 0), b.mean() + (b.std(ddof=1) if b.size > 1 else 0),
                       color="0.85", zorder=0)
            ax.axhline(b.mean(), color="0.4", lw=1, ls="--", label="no deficit")
            ax.legend(fontsize=7, frameon=False)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("final test accuracy (%)")
    if fisher is not None:
        f = np.atleast_2d(np.asarray(fisher, dtype=float))
        ep = np.arange(f.shape[1]) if fisher_epochs is None else np.asarray(fisher_epochs, dtype=float)
        labels = fisher_labels if fisher_labels is not None else [""] * len(f)
        if len(labels) != len(f):
            raise ValueError(f"plot_critical_periods(): {len(f)} Fisher curves but {len(labels)} fisher_labels.")
        colours = {lab: f"C{3 + i}" for i, lab in enumerate(dict.fromkeys(labels))}
        seen: set[str] = set()
        for row, lab in zip(f, labels):
            axes[2].plot(ep[: row.size], row, color=colours[lab], alpha=0.6, label=lab if lab and lab not in seen else None)
            seen.add(lab)
        if any(labels):
            axes[2].legend(fontsize=7, frameon=False)
        axes[2].set_xlabel("epoch")
        axes[2].set_ylabel("trace of the Fisher information")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
