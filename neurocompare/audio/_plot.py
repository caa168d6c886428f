"""Draw a cochleagram (channels x frames) as an image, time in seconds, centre frequencies in Hz.

matplotlib is imported at call time (``pip install 'neurocompare[plot]'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurocompare._optional import require

__all__ = ["plot_cochleagram"]


def _as_image(cgram: Any) -> np.ndarray:
    if hasattr(cgram, "detach"):
        cgram = cgram.detach().cpu().numpy()
    image = np.asarray(cgram, dtype=np.float64)
    while image.ndim > 2 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise ValueError(
            "plot_cochleagram() draws one cochleagram of shape (n_channels, n_frames), (1, n_channels, n_frames) "
            f"or (1, 1, n_channels, n_frames). Got shape {np.shape(cgram)}; pick one clip, e.g. cgram[i]."
        )
    if not np.isfinite(image).all():
        raise ValueError("plot_cochleagram() got NaN or inf values; check the waveform that made the cochleagram.")
    return image


def plot_cochleagram(cgram: Any, ax: Any = None, *, centre_freqs: Any = None, env_sr: float = 200.0,
                     title: str | None = None, cmap: str = "Blues"):
    """Draw one cochleagram: channels bottom (low frequency) to top, frames left to right.

    Parameters
    ----------
    cgram : torch.Tensor or array_like, shape (n_channels, n_frames), (1, n_channels, n_frames) or (1, 1, n_channels, n_frames)
        One cochleagram, e.g. ``Cochleagram(sr)(x)[i]``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.
    centre_freqs : array_like, shape (n_channels,), optional
        Centre frequency of each channel in Hz (``Cochleagram.centre_freqs``); labels the y axis
        in Hz at a few channels. Without it the axis counts channels.
    env_sr : float, default 200
        Frame rate in Hz, for the time axis in seconds.
    title : str, optional
    cmap : str, default "Blues"
        A matplotlib colormap name.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> from neurocompare.audio import Cochleagram
    >>> coch = Cochleagram(16000)
    >>> fig = plot_cochleagram(coch(torch.randn(1, 16000))[0], centre_freqs=coch.centre_freqs)  # doctest: +SKIP
    """
    plt = require("matplotlib.pyplot", "plot_cochleagram()")
    image = _as_image(cgram)
    n_channels, n_frames = image.shape
    if not env_sr > 0:
        raise ValueError(f"plot_cochleagram() needs a positive frame rate env_sr in Hz. Got env_sr={env_sr!r}.")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.0, 3.2))
    mappable = ax.imshow(image, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest",
                         extent=(0.0, n_frames / env_sr, -0.5, n_channels - 0.5))
    ax.set_xlabel("time (s)")
    if centre_freqs is not None:
        cf = np.asarray(centre_freqs, dtype=np.float64).ravel()
        if cf.shape != (n_channels,):
            raise ValueError(
                f"plot_cochleagram() needs one centre frequency per channel: got {cf.size} for {n_channels} channels. "
                "Pass the centre_freqs of the Cochleagram that made it."
            )
        ticks = np.unique(np.linspace(0, n_channels - 1, min(6, n_channels)).round().astype(int))
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{cf[i]:.0f}" for i in ticks])
        ax.set_ylabel("centre frequency (Hz)")
    else:
        ax.set_ylabel("channel")
    if title:
        ax.set_title(title)
    fig.colorbar(mappable, ax=ax, label="compressed envelope")
    return fig
