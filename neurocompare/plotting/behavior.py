"""Figures for behaviour: blockHMM transition curves, mode sequences, model selection.

Every function imports matplotlib at call time and returns the ``Figure``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurocompare._optional import require

__all__ = ["plot_mode_selection", "plot_mode_sequence", "plot_transition_curves"]


def _plt():
    return require("matplotlib.pyplot", "plotting")


def plot_transition_curves(model: Any, outcomes: Any = None, modes: Any = None, *, labels: list[str] | None = None, ax: Any = None):
    """The fitted transition curve of each blockHMM mode, over the observed fraction correct per trial.

    Parameters
    ----------
    model : BlockHMM
        Fitted (or built with ``BlockHMM.from_params``).
    outcomes : array (n_blocks, n_trials), optional
        Block outcomes (1/0/NaN); with ``modes``, the mean per trial of the blocks of each mode is
        drawn as dots.
    modes : array of int (n_blocks,), optional
        Mode of each block (e.g. ``model.most_likely_modes(outcomes)``).
    labels : list of str, optional
        One label per mode (default: offset, slope and lapse).
    ax : matplotlib Axes, optional
    """
    plt = _plt()
    curves = model.curves()
    k, t_max = curves.shape
    if labels is not None and len(labels) != k:
        raise ValueError(f"plot_transition_curves() needs one label per mode: got {len(labels)} labels for {k} modes.")
    if (outcomes is None) != (modes is None):
        raise ValueError("plot_transition_curves() takes outcomes and modes together (or neither).")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.5, 3.2))
    colors = plt.get_cmap("tab10")(np.arange(k) % 10)
    t = np.arange(t_max)
    for i in range(k):
        label = labels[i] if labels else (
            f"mode {i}: s={model.offsets_[i]:.1f}, α={model.slopes_[i]:.2f}, ε={model.lapses_[i]:.2f}"
        )
        ax.plot(t, curves[i], color=colors[i], lw=2, label=label)
        if outcomes is not None:
            y = np.asarray(outcomes, dtype=float)
            sel = np.asarray(modes) == i
            if sel.any():
                with np.errstate(invalid="ignore"):
                    import warnings

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        ax.plot(t, np.nanmean(y[sel], axis=0), "o", color=colors[i], ms=3, alpha=0.7)
    ax.set_xlabel("trial since reversal")
    ax.set_ylabel("p(choose rewarded side)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def plot_mode_sequence(posterior: Any, true_modes: Any = None, *, max_blocks: int | None = 200, ax: Any = None):
    """Posterior mode probabilities block by block (stacked), with the true modes as ticks above.

    Parameters
    ----------
    posterior : array (n_blocks, n_modes)
        ``BlockHMM.posterior(outcomes)``.
    true_modes : array of int (n_blocks,), optional
        Known modes (simulations), drawn as a coloured strip above the posterior.
    max_blocks : int or None
        Draw only the first blocks.
    ax : matplotlib Axes, optional
    """
    plt = _plt()
    post = np.asarray(posterior, dtype=float)
    if post.ndim != 2:
        raise ValueError(f"plot_mode_sequence() needs a posterior of shape (n_blocks, n_modes); got {post.shape}.")
    n = post.shape[0] if max_blocks is None else min(post.shape[0], int(max_blocks))
    post = post[:n]
    k = post.shape[1]
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 2.4))
    colors = plt.get_cmap("tab10")(np.arange(max(k, 1)) % 10)
    x = np.arange(n)
    ax.stackplot(x, post.T, colors=colors, step="post", alpha=0.85, labels=[f"mode {i}" for i in range(k)])
    if true_modes is not None:
        tm = np.asarray(true_modes)[:n]
        cmap = plt.get_cmap("Set2")
        ax.scatter(x, np.full(n, 1.06), c=cmap(tm % 8), marker="|", s=60, clip_on=False)
        ax.text(n, 1.06, " true", va="center", fontsize=7)
    ax.set_xlim(0, max(n - 1, 1))
    ax.set_ylim(0, 1)
    ax.set_xlabel("block")
    ax.set_ylabel("p(mode)")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def plot_mode_selection(selection: Any, *, published: Any = None, ax: Any = None):
    """Held-out bits per block against the number of modes, mean ± s.e.m. over folds.

    Parameters
    ----------
    selection : ModeSelection
        From :func:`neurocompare.behavior.select_n_modes`.
    published : sequence of float, optional
        Published values for the same candidates, drawn as open markers.
    ax : matplotlib Axes, optional
    """
    plt = _plt()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(3.6, 3.0))
    ks = np.asarray(selection.candidates)
    ax.errorbar(ks, selection.mean, yerr=selection.sem, fmt="o-", capsize=3, label="held-out (this fit)")
    if published is not None:
        pub = np.asarray(published, dtype=float)
        if pub.shape != ks.shape:
            raise ValueError(f"plot_mode_selection(): published needs one value per candidate ({ks.size}); got {pub.size}.")
        ax.plot(ks, pub, "s", mfc="none", color="gray", label="published")
    ax.axvline(selection.n_modes, color="k", ls=":", lw=1)
    ax.set_xlabel("number of modes K")
    ax.set_ylabel("bits / block above Bernoulli")
    ax.set_xticks(ks)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
