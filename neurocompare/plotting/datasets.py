"""Figures for a first look at recorded data: stimuli, sounds, spatial maps and trajectories.

matplotlib is imported at call time (``pip install 'neurocompare[plot]'``); every function returns
the ``Figure``. Inputs follow the data conventions of ``data_loaders``: images as a DataArray or
array with dims ``('stimulus', 'height', 'width'[, 'channel'])``, sounds as ``('stimulus',
'sample')`` with ``attrs['sample_rate']``, trajectories as ``('time', 'space')``.

Examples
--------
>>> import numpy as np
>>> fig = plot_maps(np.random.default_rng(0).random((4, 8, 8)), titles=["a", "b", "c", "d"])
>>> len(fig.axes)
4
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._optional import require

__all__ = ["plot_images", "plot_spectrograms", "plot_maps", "plot_trajectory", "place_fields"]


def _plt():
    return require("matplotlib.pyplot", "plotting")


def _grid(n: int, ncols: int | None) -> tuple[int, int]:
    ncols = min(n, ncols or int(np.ceil(np.sqrt(n))))
    return int(np.ceil(n / ncols)), ncols


def plot_images(
    images: Any,
    *,
    indices: Sequence[int] | None = None,
    n: int = 16,
    ncols: int | None = None,
    label: str | None = None,
    size: float = 1.6,
):
    """A grid of stimulus images.

    Parameters
    ----------
    images : DataArray or array, dims ('stimulus', 'height', 'width'[, 'channel'])
        uint8 (0-255) or float images; one channel is shown in grey.
    indices : sequence of int, optional
        Which stimuli to show (default: ``n`` evenly spaced ones).
    n : int
        Number shown when ``indices`` is not given.
    ncols : int, optional
        Columns of the grid (default: about square).
    label : str, optional
        Name of a stimulus coord to print above each image (e.g. ``'category'``); by default the
        ``stimulus_id`` when present.
    size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    arr = np.asarray(images.values if isinstance(images, xr.DataArray) else images)
    if arr.ndim not in (3, 4):
        raise ValueError(
            f"plot_images() takes images with dims (stimulus, height, width[, channel]); got shape {arr.shape}."
        )
    total = arr.shape[0]
    if indices is None:
        indices = np.linspace(0, total - 1, min(n, total)).astype(int)
    indices = [int(i) for i in indices]
    bad = [i for i in indices if not 0 <= i < total]
    if bad:
        raise ValueError(f"indices {bad} are out of range for {total} images.")
    titles = None
    if isinstance(images, xr.DataArray):
        name = label or ("stimulus_id" if "stimulus_id" in images.coords else None)
        if name is not None:
            if name not in images.coords:
                raise ValueError(f"No coord {name!r}; available: {sorted(map(str, images.coords))}.")
            titles = [str(v) for v in np.asarray(images[name].values)[indices]]
    rows, cols = _grid(len(indices), ncols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.2), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, i in enumerate(indices):
        ax = axes.ravel()[k]
        img = arr[i]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        if titles:
            ax.set_title(titles[k], fontsize=7)
    fig.tight_layout()
    return fig


def plot_spectrograms(
    sounds: xr.DataArray,
    *,
    indices: Sequence[int] | None = None,
    sample_rate: float | None = None,
    max_freq: float = 8000.0,
    responses: xr.DataArray | None = None,
    nperseg: int = 1024,
):
    """Spectrograms of some sounds, optionally each above a bar plot of the responses to it.

    Parameters
    ----------
    sounds : DataArray, dims ('stimulus', 'sample')
        Waveforms; ``attrs['sample_rate']`` (Hz) unless ``sample_rate`` is given.
    indices : sequence of int, optional
        Which sounds (default the first three).
    sample_rate : float, optional
        Overrides ``sounds.attrs['sample_rate']``.
    max_freq : float
        Upper frequency shown (Hz).
    responses : Responses, dims ('stimulus', 'unit'), optional
        Matched by ``stimulus_id``; each sound's responses across units are drawn as bars below
        its spectrogram.
    nperseg : int
        Window length of :func:`scipy.signal.spectrogram`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from scipy.signal import spectrogram

    plt = _plt()
    if not isinstance(sounds, xr.DataArray) or sounds.dims != ("stimulus", "sample"):
        raise ValueError(
            "plot_spectrograms() takes a DataArray with dims ('stimulus', 'sample'); got "
            f"{getattr(sounds, 'dims', type(sounds).__name__)}."
        )
    rate = sample_rate if sample_rate is not None else sounds.attrs.get("sample_rate")
    if rate is None:
        raise ValueError("The sounds carry no attrs['sample_rate']; pass sample_rate=.")
    indices = list(range(min(3, sounds.sizes["stimulus"]))) if indices is None else [int(i) for i in indices]
    rows = 2 if responses is not None else 1
    fig, axes = plt.subplots(
        rows, len(indices), figsize=(4 * len(indices), 3 * rows), squeeze=False,
        gridspec_kw={"height_ratios": [2, 1][:rows]},
    )
    ids = np.asarray(sounds.stimulus_id.values).astype(str) if "stimulus_id" in sounds.coords else None
    for k, i in enumerate(indices):
        f, t, s = spectrogram(np.asarray(sounds.values[i], dtype=float), fs=float(rate), nperseg=nperseg, noverlap=nperseg // 2)
        keep = f <= max_freq
        ax = axes[0, k]
        ax.pcolormesh(t, f[keep] / 1000.0, 10 * np.log10(s[keep] + 1e-12), shading="auto", cmap="magma")
        ax.set_xlabel("time (s)")
        if k == 0:
            ax.set_ylabel("frequency (kHz)")
        if ids is not None:
            ax.set_title(ids[i], fontsize=9)
        if responses is not None:
            if ids is None or "stimulus_id" not in responses.coords:
                raise ValueError("Matching responses to sounds needs a stimulus_id coord on both.")
            match = np.flatnonzero(np.asarray(responses.stimulus_id.values).astype(str) == ids[i])
            if match.size != 1:
                raise ValueError(f"Sound {ids[i]!r} is not among the responses' stimulus_ids.")
            r = np.asarray(responses.values[match[0]], dtype=float)
            names = np.asarray(responses.unit_id.values).astype(str)
            axes[1, k].bar(names, r)
            axes[1, k].tick_params(axis="x", labelrotation=45, labelsize=7)
            if k == 0:
                axes[1, k].set_ylabel("response")
    fig.tight_layout()
    return fig


def plot_maps(
    maps: Any,
    *,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str = "jet",
    vmin: float | None = None,
    vmax: float | None = None,
    size: float = 2.0,
):
    """A grid of 2-D maps (rate maps, autocorrelograms, place fields), NaN shown blank.

    Parameters
    ----------
    maps : array or DataArray, shape (n_maps, n_y, n_x)
        Row index = y, drawn with ``origin='lower'``.
    titles : sequence of str, optional
        One per map.
    ncols : int, optional
        Columns of the grid.
    cmap, vmin, vmax : passed to ``imshow``.
    size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    arr = np.asarray(maps.values if isinstance(maps, xr.DataArray) else maps, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"plot_maps() takes maps of shape (n_maps, n_y, n_x); got {arr.shape}.")
    if titles is not None and len(titles) != arr.shape[0]:
        raise ValueError(f"Got {len(titles)} titles for {arr.shape[0]} maps.")
    rows, cols = _grid(arr.shape[0], ncols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k in range(arr.shape[0]):
        ax = axes.ravel()[k]
        ax.imshow(np.ma.masked_invalid(arr[k]), origin="lower", cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=8)
    fig.tight_layout()
    return fig


def plot_trajectory(
    trajectory: Any,
    *,
    spikes: Any = None,
    step: int = 1,
    ax: Any = None,
    title: str | None = None,
):
    """A 2-D trajectory, with optional spike positions on top.

    Parameters
    ----------
    trajectory : DataArray with dims ('time', 'space') or array of shape (n_time, 2)
        Positions (x, y).
    spikes : array (n_spikes, 2) or a Dataset with variables ``x`` and ``y``, optional
        Spike positions, drawn as red dots.
    step : int
        Plot every ``step``-th sample (long trajectories).
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    pos = np.asarray(trajectory.values if isinstance(trajectory, xr.DataArray) else trajectory, dtype=float)
    if isinstance(trajectory, xr.DataArray) and trajectory.dims != ("time", "space"):
        raise ValueError(f"A trajectory DataArray must have dims ('time', 'space'); got {trajectory.dims}.")
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise ValueError(f"A trajectory must have shape (n_time, 2); got {pos.shape}.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 4))
    else:
        fig = ax.figure
    ax.plot(pos[:: max(1, int(step)), 0], pos[:: max(1, int(step)), 1], lw=0.3, color="0.4")
    if spikes is not None:
        if isinstance(spikes, xr.Dataset):
            sp = np.stack([np.asarray(spikes["x"].values), np.asarray(spikes["y"].values)], axis=1)
        else:
            sp = np.asarray(spikes, dtype=float)
        if sp.ndim != 2 or sp.shape[1] != 2:
            raise ValueError(f"spikes must have shape (n_spikes, 2) or be a Dataset with x, y; got {sp.shape}.")
        ax.scatter(sp[:, 0], sp[:, 1], s=2, color="C3", zorder=3)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return fig


def place_fields(
    counts: Any,
    x: Any,
    y: Any,
    *,
    bins: int = 20,
    min_occupancy: int = 1,
) -> np.ndarray:
    """Mean response per spatial bin (occupancy-normalised), for place or grid fields.

    Parameters
    ----------
    counts : array (n_samples, n_units) or Responses with dims ('stimulus', 'unit')
        Spike counts (or rates) per time sample / window.
    x, y : array (n_samples,)
        Position of each sample; when ``counts`` is Responses, pass its ``x`` / ``y`` coords.
    bins : int
        Bins per side (the range is the data's min to max).
    min_occupancy : int
        Bins visited fewer times are NaN.

    Returns
    -------
    numpy.ndarray, shape (n_units, bins, bins)
        Row = y bin, column = x bin.
    """
    c = np.asarray(counts.values if isinstance(counts, xr.DataArray) else counts, dtype=float)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2 or x.shape != (c.shape[0],) or y.shape != (c.shape[0],):
        raise ValueError(
            f"counts must be (n_samples, n_units) with x and y of length n_samples; got {c.shape}, {x.shape}, {y.shape}."
        )
    ok = np.isfinite(x) & np.isfinite(y)
    xe = np.linspace(x[ok].min(), x[ok].max(), bins + 1)
    ye = np.linspace(y[ok].min(), y[ok].max(), bins + 1)
    ix = np.clip(np.searchsorted(xe, x[ok], side="right") - 1, 0, bins - 1)
    iy = np.clip(np.searchsorted(ye, y[ok], side="right") - 1, 0, bins - 1)
    flat = iy * bins + ix
    occ = np.bincount(flat, minlength=bins * bins).astype(float)
    out = np.empty((c.shape[1], bins * bins))
    for u in range(c.shape[1]):
        out[u] = np.bincount(flat, weights=c[ok, u], minlength=bins * bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = out / occ
    out[:, occ < min_occupancy] = np.nan
    return out.reshape(c.shape[1], bins, bins)
