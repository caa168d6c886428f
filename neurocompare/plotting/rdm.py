"""RDM figures: heatmaps of one or several representational dissimilarity matrices.

matplotlib is imported at call time (``pip install 'neurocompare[plot]'``); every function returns
the ``Figure``.

Examples
--------
>>> import numpy as np
>>> d = np.abs(np.subtract.outer(np.arange(6.0), np.arange(6.0)))
>>> fig = plot_rdm(d, title="toy")
>>> len(fig.axes)  # heatmap + colorbar
2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._optional import require

__all__ = ["plot_rdm", "plot_rdms"]


def _square(r: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """RDM DataArray / square array / condensed vector -> (n, n) numpy array and ids."""
    from scipy.spatial.distance import squareform

    ids = None
    if isinstance(r, xr.DataArray):
        if r.ndim != 2:
            raise ValueError(f"plot_rdm() takes a single RDM; got dims {r.dims}. Select one, e.g. rdm.isel(subject=0).")
        ids = np.asarray(r.stimulus_id.values).astype(str)
        r = r.values
    if hasattr(r, "detach"):
        r = r.detach().cpu().numpy()
    arr = np.asarray(r, dtype=float)
    if arr.ndim == 1:
        arr = squareform(arr, checks=False)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"An RDM must be square (n, n) or a condensed vector; got shape {arr.shape}.")
    return arr, ids


def _rank_transform(d: np.ndarray) -> np.ndarray:
    """Percentile ranks of the off-diagonal entries in [0, 1] (diagonal stays 0)."""
    from scipy.stats import rankdata

    iu = np.triu_indices(d.shape[0], 1)
    v = rankdata(d[iu])
    v = (v - v.min()) / max(v.max() - v.min(), 1e-12)
    out = np.zeros_like(d)
    out[iu] = v
    return out + out.T


def plot_rdm(
    rdm: Any,
    *,
    ax: Any = None,
    title: str | None = None,
    cmap: str = "viridis",
    rank: bool = False,
    labels: Sequence[str] | None = None,
    boundaries: Sequence[int] | None = None,
    colorbar: bool = True,
):
    """Heatmap of one RDM.

    Parameters
    ----------
    rdm : RDM DataArray (dims ('stimulus', 'stimulus_2')), square array (n, n) or condensed vector
    ax : matplotlib Axes, optional
        Draw into this axes; a new figure is made otherwise.
    title : str, optional
    cmap : str
        Colormap name.
    rank : bool
        Show percentile ranks of the dissimilarities (the usual display in RSA papers).
    labels : sequence of str, optional
        Tick labels (shown only when n <= 40); defaults to the stimulus ids for small RDMs.
    boundaries : sequence of int, optional
        Indices where stimulus categories change; drawn as thin white lines.
    colorbar : bool

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = require("matplotlib.pyplot", "plotting")
    d, ids = _square(rdm)
    if rank:
        d = _rank_transform(d)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4))
    else:
        fig = ax.figure
    im = ax.imshow(d, cmap=cmap, interpolation="nearest")
    n = d.shape[0]
    names = labels if labels is not None else ids
    if names is not None and len(names) == n and n <= 40:
        ax.set_xticks(range(n), names, rotation=90, fontsize=6)
        ax.set_yticks(range(n), names, fontsize=6)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    for b in boundaries or ():
        ax.axhline(b - 0.5, color="white", lw=0.6)
        ax.axvline(b - 0.5, color="white", lw=0.6)
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="percentile" if rank else "dissimilarity")
    return fig


def plot_rdms(
    rdms: Sequence[Any] | xr.DataArray,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    rank: bool = True,
    cmap: str = "viridis",
    boundaries: Sequence[int] | None = None,
):
    """Grid of RDM heatmaps.

    Parameters
    ----------
    rdms : sequence of RDMs, or a stacked RDM DataArray with one leading dim
    titles : sequence of str, optional
        One per RDM; defaults to the stack coordinate values.
    ncols : int
    rank, cmap, boundaries
        As in :func:`plot_rdm`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = require("matplotlib.pyplot", "plotting")
    if isinstance(rdms, xr.DataArray):
        if rdms.ndim != 3:
            raise ValueError(f"plot_rdms() takes a stack with one leading dim; got dims {rdms.dims}.")
        stack = rdms.dims[0]
        if titles is None:
            titles = [str(v) for v in (rdms[stack].values if stack in rdms.coords else range(rdms.sizes[stack]))]
        rdms = [rdms.isel({stack: i}) for i in range(rdms.sizes[stack])]
    rdms = list(rdms)
    if not rdms:
        raise ValueError("plot_rdms() needs at least one RDM.")
    if titles is not None and len(titles) != len(rdms):
        raise ValueError(f"Got {len(titles)} titles for {len(rdms)} RDMs; pass one title per RDM.")
    ncols = max(1, min(ncols, len(rdms)))
    nrows = -(-len(rdms) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.6 * nrows), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        if k >= len(rdms):
            ax.axis("off")
            continue
        plot_rdm(rdms[k], ax=ax, title=None if titles is None else titles[k], cmap=cmap, rank=rank,
                 boundaries=boundaries, colorbar=False, labels=[])
    fig.tight_layout()
    return fig
