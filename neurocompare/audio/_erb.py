"""The ERB frequency scale and a bank of half-cosine filters evenly spaced and overlapping on it.

The bank tiles the frequency axis so that the squared gains of all channels sum to one at every
frequency from 0 Hz to the Nyquist frequency: summing the power of the subbands gives back the
power of the sound (McDermott & Simoncelli 2011). Everything here is numpy float64; the torch
front end (``_cochleagram.py``) casts the gains to its input's dtype and device.

Layout of a bank with ``n_bands`` = n and ``sample_factor`` = s (rows ordered by frequency)::

    s low-pass edge filters | s * (n + 1) - 1 half-cosine band-pass filters | s high-pass edge filters

The band-pass filters are centred at the interior points of a grid of s * (n + 1) + 1 points evenly
spaced in ERB number between ``low_hz`` and ``high_hz``; each spans s grid steps either side of its
centre (the width of a filter of the s = 1 bank, n bands), so the bank is s times overcomplete.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["freq_to_erb", "erb_to_freq", "erb_space", "half_cosine_filterbank", "filterbank_centre_freqs"]

# Glasberg & Moore (1990): ERB number E(f) = 21.4 log10(1 + 0.00437 f), f in Hz
_ERB_SCALE = 21.4
_ERB_SLOPE = 0.00437


def freq_to_erb(freq_hz):
    """Frequency in Hz to ERB number (Glasberg & Moore 1990).

    Parameters
    ----------
    freq_hz : float or array_like, any shape
        Frequencies in Hz (>= 0).

    Returns
    -------
    float or numpy.ndarray of the same shape
        ERB number ``21.4 * log10(1 + 0.00437 * f)`` (0 at 0 Hz, about 35.3 at 10 kHz).

    References
    ----------
    Glasberg, B. R., & Moore, B. C. J. (1990). Derivation of auditory filter shapes from
    notched-noise data. Hearing Research, 47, 103-138.

    Examples
    --------
    >>> round(float(freq_to_erb(1000.0)), 3)
    15.621
    """
    return _ERB_SCALE * np.log10(1.0 + _ERB_SLOPE * np.asarray(freq_hz, dtype=np.float64))


def erb_to_freq(erb):
    """ERB number to frequency in Hz; the inverse of :func:`freq_to_erb`.

    Parameters
    ----------
    erb : float or array_like, any shape
        ERB numbers.

    Returns
    -------
    float or numpy.ndarray of the same shape
        ``(10 ** (erb / 21.4) - 1) / 0.00437`` Hz.

    Examples
    --------
    >>> round(float(erb_to_freq(freq_to_erb(440.0))), 9)
    440.0
    """
    return (10.0 ** (np.asarray(erb, dtype=np.float64) / _ERB_SCALE) - 1.0) / _ERB_SLOPE


def _check_band(low_hz: float, high_hz: float, what: str) -> tuple[float, float]:
    low, high = float(low_hz), float(high_hz)
    if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or high <= low:
        raise ValueError(
            f"{what} needs 0 <= low_hz < high_hz (finite, in Hz). Got low_hz={low_hz!r}, high_hz={high_hz!r}."
        )
    return low, high


def erb_space(low_hz: float, high_hz: float, n: int) -> np.ndarray:
    """``n`` frequencies evenly spaced in ERB number from ``low_hz`` to ``high_hz``, both included.

    Parameters
    ----------
    low_hz, high_hz : float
        The first and last frequency in Hz, ``0 <= low_hz < high_hz``.
    n : int
        Number of frequencies (>= 2).

    Returns
    -------
    numpy.ndarray, shape (n,), float64
        Ascending frequencies in Hz.

    Examples
    --------
    >>> erb_space(100.0, 8000.0, 3).round(1).tolist()
    [100.0, 1416.1, 8000.0]
    """
    low, high = _check_band(low_hz, high_hz, "erb_space()")
    if int(n) != n or n < 2:
        raise ValueError(f"erb_space() needs n >= 2 frequencies (an integer). Got n={n!r}.")
    freqs = erb_to_freq(np.linspace(freq_to_erb(low), freq_to_erb(high), int(n)))
    freqs[0], freqs[-1] = low, high  # exact endpoints (the round trip is good to ~1e-13 relative)
    return freqs


def _check_bank_args(n_samples, sr, n_bands, low_hz, high_hz, sample_factor) -> tuple[int, float, int, float, float, int]:
    if int(n_samples) != n_samples or n_samples < 2:
        raise ValueError(f"The filter bank needs n_samples >= 2 (an integer). Got n_samples={n_samples!r}.")
    if not (isinstance(sr, (int, float, np.integer, np.floating)) and math.isfinite(sr) and sr > 0):
        raise ValueError(f"The sampling rate sr must be a positive number in Hz. Got sr={sr!r}.")
    if int(n_bands) != n_bands or n_bands < 1:
        raise ValueError(f"n_bands must be an integer >= 1. Got n_bands={n_bands!r}.")
    if int(sample_factor) != sample_factor or sample_factor < 1:
        raise ValueError(f"sample_factor must be an integer >= 1 (1, 2 or 4 are usual). Got sample_factor={sample_factor!r}.")
    nyquist = sr / 2.0
    high = min(10_000.0, nyquist) if high_hz is None else high_hz
    low, high = _check_band(low_hz, high, "half_cosine_filterbank()")
    if high > nyquist:
        raise ValueError(
            f"high_hz={high} is above the Nyquist frequency sr/2 = {nyquist} Hz. "
            f"Pass high_hz <= {nyquist} (or high_hz=None for min(10 kHz, sr/2))."
        )
    return int(n_samples), float(sr), int(n_bands), low, high, int(sample_factor)


def _layout(n_bands: int, low: float, high: float, s: int) -> tuple[np.ndarray, float]:
    """Centres (ERB number) of the band-pass filters and their half-width (ERB)."""
    n_cos = s * (n_bands + 1) - 1
    e_low, e_high = freq_to_erb(low), freq_to_erb(high)
    step = (e_high - e_low) / (n_cos + 1)
    centres = e_low + step * np.arange(1, n_cos + 1)
    return centres, s * step


@functools.lru_cache(maxsize=4)  # (n_channels, n_samples // 2 + 1) float64 each: keep few
def _bank(n_samples: int, sr: float, n_bands: int, low: float, high: float, s: int) -> np.ndarray:
    freqs = np.arange(n_samples // 2 + 1) * (sr / n_samples)
    erb = freq_to_erb(freqs)
    centres, half = _layout(n_bands, low, high, s)
    # u: signed distance from each centre in half-widths; a band-pass gain is cos(pi/2 u) on |u| < 1
    u = (erb[None, :] - centres[:, None]) / half
    band = np.where(np.abs(u) < 1.0, np.cos(0.5 * np.pi * np.clip(u, -1.0, 1.0)), 0.0)
    # edge filters complete the first and last s band-pass filters (one of each interleaved set):
    # low-pass = 1 below (centre - half), the falling half-cosine up to the centre, 0 above;
    # high-pass mirrors it, so cos^2 + sin^2 = 1 inside every set
    u_low = u[:s]
    low_pass = np.where(u_low <= -1.0, 1.0, np.where(u_low < 0.0, np.sin(-0.5 * np.pi * np.clip(u_low, -1.0, 0.0)), 0.0))
    u_high = u[-s:]
    high_pass = np.where(u_high >= 1.0, 1.0, np.where(u_high > 0.0, np.sin(0.5 * np.pi * np.clip(u_high, 0.0, 1.0)), 0.0))
    gains = np.concatenate([low_pass, band, high_pass]) / np.sqrt(s)  # s sets, each summing to 1
    gains.setflags(write=False)
    return gains


def half_cosine_filterbank(
    n_samples: int,
    sr: float,
    *,
    n_bands: int = 50,
    low_hz: float = 50.0,
    high_hz: float | None = None,
    sample_factor: int = 2,
) -> np.ndarray:
    """Frequency-domain gains of an ERB-spaced, overcomplete bank of half-cosine filters.

    Each band-pass filter is half a period of a cosine on the ERB-number axis (zero at both ends,
    one at its centre); filters are spaced evenly in ERB number between ``low_hz`` and ``high_hz``
    and overlap so that, together with ``sample_factor`` low-pass and high-pass edge filters, the
    squared gains sum to exactly one at every frequency from 0 Hz to Nyquist (perfect
    reconstruction of summed power). This is the construction of McDermott & Simoncelli (2011)
    and the McDermott lab's ``pycochleagram`` / ``chcochleagram``.

    Parameters
    ----------
    n_samples : int
        Signal length; gains are given at the ``n_samples // 2 + 1`` bins of
        ``numpy.fft.rfft(x, n_samples)``, frequencies ``k * sr / n_samples``.
    sr : float
        Sampling rate in Hz.
    n_bands : int, default 50
        Number of band-pass filters of the critically sampled (``sample_factor=1``) bank between
        ``low_hz`` and ``high_hz``; it sets the filter width (two ERB grid steps of that bank).
    low_hz : float, default 50
        Low edge of the band-pass region in Hz.
    high_hz : float or None, default None
        High edge in Hz; ``None`` means ``min(10 kHz, sr / 2)``. Must not exceed ``sr / 2``.
    sample_factor : int, default 2
        Overcompleteness: ``sample_factor`` interleaved banks of the same filter width.

    Returns
    -------
    numpy.ndarray, shape (n_channels, n_samples // 2 + 1), float64, read-only
        Gains, rows ordered by frequency: ``sample_factor`` low-pass filters,
        ``sample_factor * (n_bands + 1) - 1`` band-pass filters, ``sample_factor`` high-pass filters,
        so ``n_channels = sample_factor * (n_bands + 3) - 1`` (211 for ``n_bands=50,
        sample_factor=4``; 105 for the defaults).

    Raises
    ------
    ValueError
        For a non-positive ``sr``, ``high_hz`` above Nyquist, ``low_hz >= high_hz``, or
        non-integer or non-positive ``n_bands``/``sample_factor``/``n_samples``.

    See Also
    --------
    nc.audio.filterbank_centre_freqs : the nominal centre frequency of each row.
    nc.audio.Cochleagram : the front end that applies this bank.

    References
    ----------
    McDermott, J. H., & Simoncelli, E. P. (2011). Sound texture perception via statistics of the
    auditory periphery: evidence from sound synthesis. Neuron, 71(5), 926-940.
    Feather, J., Leclerc, G., Mądry, A., & McDermott, J. H. (2023). Model metamers reveal
    divergent invariances between biological and artificial neural networks. Nature
    Neuroscience, 26, 2017-2034.

    Examples
    --------
    >>> gains = half_cosine_filterbank(16000, 16000, n_bands=30, low_hz=100.0, high_hz=8000.0)
    >>> gains.shape
    (65, 8001)
    >>> bool(abs((gains ** 2).sum(axis=0) - 1).max() < 1e-12)
    True
    """
    args = _check_bank_args(n_samples, sr, n_bands, low_hz, high_hz, sample_factor)
    return _bank(*args)


def filterbank_centre_freqs(
    sr: float,
    *,
    n_bands: int = 50,
    low_hz: float = 50.0,
    high_hz: float | None = None,
    sample_factor: int = 2,
) -> np.ndarray:
    """Nominal centre frequency in Hz of each row of :func:`half_cosine_filterbank`.

    Band-pass filters: the peak of the gain. Edge filters: one filter half-width beyond the peak
    of the band-pass filter they complete (below for low-pass, above for high-pass), clipped to
    ``[0, sr / 2]``, which is where the lab's ``pycochleagram`` places them.

    Parameters
    ----------
    sr, n_bands, low_hz, high_hz, sample_factor
        As in :func:`half_cosine_filterbank`.

    Returns
    -------
    numpy.ndarray, shape (n_channels,), float64
        Ascending frequencies in Hz; the band-pass centres are ERB-evenly spaced
        (``erb_space(low_hz, high_hz, sample_factor * (n_bands + 1) + 1)[1:-1]``).

    Examples
    --------
    >>> filterbank_centre_freqs(16000, n_bands=2, low_hz=100.0, high_hz=4000.0, sample_factor=1).round(1).tolist()
    [100.0, 541.6, 1576.1, 4000.0]
    """
    _, sr, n_bands, low, high, s = _check_bank_args(2, sr, n_bands, low_hz, high_hz, sample_factor)
    centres, half = _layout(n_bands, low, high, s)
    edges_erb = np.concatenate([centres[:s] - half, centres, centres[-s:] + half])
    return np.clip(erb_to_freq(np.maximum(edges_erb, 0.0)), 0.0, sr / 2.0)
