"""A listening experiment: the recognition page of :mod:`._psychophysics` with sounds instead of images.

:func:`export_listening_experiment` writes one self-contained ``.html`` file in which every
sound is an ``<audio>`` player whose source is an embedded WAV file (16-bit PCM mono, written
here with the standard-library :mod:`wave` module, base64 data URI). Each trial plays its sound
once automatically; the word buttons unlock when the sound has played to the end (the player's
controls replay it). The vocabulary is shown as buttons in alphabetical order with a filter box
above them: typing narrows the buttons to the words containing the text, and Enter answers when
one word is left (or the text is exactly a word), which keeps 20-50 words usable.

Trial logic, seeded order (``?seed=N``), CSV columns (:data:`CSV_COLUMNS`), download and
``localStorage`` backup are those of the image page, so :func:`read_responses` and
:func:`summarize_responses` read the answers back unchanged.
:func:`export_metamer_listening_experiment` builds the trial list from audio metamer Datasets
(dims ``metamer (layer, image, sample)``).

References
----------
Feather, J., Leclerc, G., Mądry, A. & McDermott, J. H. (2023). Model metamers reveal divergent
invariances between biological and artificial neural networks. Nature Neuroscience 26, 2017–2034
(human recognition of audio metamers: a word task on 2-s speech clips).

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> sr = 8000
>>> t = np.arange(sr // 4) / sr
>>> clips = np.stack([0.1 * np.sin(2 * np.pi * f * t) for f in (300, 500, 700)])
>>> out = pathlib.Path(tempfile.mkdtemp()) / "listen.html"
>>> path = export_listening_experiment(clips, out, sample_rate=sr, class_names=["low", "mid", "high"],
...                                    labels=[0, 1, 2])
>>> "data:audio/wav;base64," in path.read_text()
True
"""

from __future__ import annotations

import base64
import io
import os
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurocompare.metamers._page import numeric_array, write_page
from neurocompare.metamers._psychophysics import metamer_trials

__all__ = ["export_listening_experiment", "export_metamer_listening_experiment", "wav_bytes", "LEVELS"]

LEVELS = ("rms", "peak", None)
FULL_SCALE = 32767  # int16 full scale: sample value 1.0 maps to 32767


def wav_bytes(waveform: Any, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file of ``waveform`` (values in [-1, 1]; each sample rounded to 1/32767).

    Parameters
    ----------
    waveform : array-like, shape (samples,)
        Values outside [-1, 1] are clipped to it.
    sample_rate : int
        Samples per second (Hz).

    Returns
    -------
    bytes
        The whole file (RIFF header + ``round(x · 32767)`` as little-endian int16).
    """
    x = np.clip(np.asarray(waveform, dtype=np.float64), -1.0, 1.0)
    pcm = np.round(x * FULL_SCALE).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _check_waveforms(waveforms: Any) -> np.ndarray:
    arr = numeric_array(waveforms, "waveforms", "(n_sounds, samples)")
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2:
        raise ValueError(
            "waveforms must have shape (n_sounds, samples) (or (n_sounds, 1, samples)) with at least one sound "
            f"of at least 2 samples; got {arr.shape}."
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("waveforms contain NaN or infinite values; clean them first.")
    return arr


def _set_level(arr: np.ndarray, level: str | None, target: float) -> np.ndarray:
    """Scale each sound to RMS ``target`` (``'rms'``) or peak ``target`` (``'peak'``); ``None``: as given."""
    if level is None:
        return arr
    size = np.sqrt((arr**2).mean(1)) if level == "rms" else np.abs(arr).max(1)
    silent = size <= 0
    if silent.any():
        raise ValueError(
            f"Sounds {np.flatnonzero(silent)[:10].tolist()} are silent (all zeros): their level cannot be set. "
            "Drop them, or pass level=None."
        )
    return arr * (target / size)[:, None]


def export_listening_experiment(
    waveforms: Any,
    path: str | os.PathLike,
    *,
    sample_rate: int,
    class_names: Sequence[str],
    labels: Sequence[int] | None = None,
    stimulus_ids: Sequence[str] | None = None,
    conditions: Mapping[str, Sequence[Any]] | None = None,
    level: str | None = "rms",
    target: float = 0.05,
    title: str = "Word recognition",
    instructions: str | None = None,
    shuffle: bool = True,
    require_listen: bool = True,
) -> Path:
    """Write a self-contained HTML listening experiment (audio players, word choices, CSV out).

    Parameters
    ----------
    waveforms : array-like, shape (n_sounds, samples) or (n_sounds, 1, samples)
        The sounds (torch tensors accepted), all at ``sample_rate``.
    path : str or PathLike
        The ``.html`` file to write (written atomically).
    sample_rate : int
        Samples per second of every sound (Hz), at least 1000.
    class_names : sequence of str
        The response words, in label order (at least 2); shown sorted alphabetically.
    labels : sequence of int, optional, length n_sounds
        True word of each sound (index into ``class_names``); scored into ``correct``.
    stimulus_ids : sequence of str, optional
        Unique names; default ``stim_0000`` ...
    conditions : dict {column: sequence}, optional
        Extra per-sound columns copied into the CSV (e.g. ``generator``, ``stage``, ``kind``).
    level : {'rms', 'peak', None}
        Presentation level: each sound scaled to RMS ``target`` (default 0.05, -26 dB re full
        scale, so metamers and natural sounds play equally loud), to peak ``target``, or left as
        given. Samples then outside [-1, 1] are clipped when encoded.
    target : float
        The RMS or peak value for ``level``, in (0, 1].
    title, instructions : str
        Shown on the start screen (instructions may contain simple HTML).
    shuffle : bool
        Random order per session (seeded; ``?seed=N`` in the URL fixes the seed).
    require_listen : bool
        Unlock the word buttons only after the sound has played to its end.

    Returns
    -------
    pathlib.Path
        The file written. Its CSV has the columns :data:`CSV_COLUMNS` plus the condition columns.

    Raises
    ------
    TypeError
        Non-numeric waveforms.
    ValueError
        Waveforms of the wrong shape or not finite, a silent sound with ``level`` set, an unknown
        ``level``, ``target`` outside (0, 1], ``sample_rate`` < 1000, fewer than 2 distinct
        class names, labels outside ``class_names``, duplicate ids, or conditions of the wrong
        length or with reserved names.
    """
    arr = _check_waveforms(waveforms)
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}; got {level!r}.")
    if not isinstance(target, (int, float)) or not 0 < target <= 1:
        raise ValueError(f"target must be a number in (0, 1] (fraction of full scale); got {target!r}.")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1000:
        raise ValueError(f"sample_rate must be an integer >= 1000 (Hz); got {sample_rate!r}.")
    arr = _set_level(arr, level, float(target))
    n, n_samples = arr.shape
    if instructions is None:
        instructions = (
            f"<p>You will hear {n} sounds of {n_samples / sample_rate:.1f} s, one at a time. Each plays once "
            "by itself (press play on the player to hear it again). After it has played, click the word you "
            "heard, or type in the box to narrow the list and press Enter. Some sounds are hard to "
            "recognise: make your best guess.</p><p>Use headphones in a quiet room. At the end, download "
            "your responses as a CSV file.</p>"
        )
    sources = ["data:audio/wav;base64," + base64.b64encode(wav_bytes(a, int(sample_rate))).decode("ascii") for a in arr]
    return write_page(
        path,
        sources,
        kind="audio",
        class_names=class_names,
        labels=labels,
        stimulus_ids=stimulus_ids,
        conditions=conditions,
        title=title,
        instructions=instructions,
        shuffle=shuffle,
        css=(
            "#stimulus { margin: 1.5em auto; display: block; width: 24em; } "
            "#filter { font-size: 1.1em; padding: 0.3em; width: 16em; margin-bottom: 0.5em; } "
            "#choices { max-width: 56em; margin: auto; }"
        ),
        element=(
            '<audio id="stimulus" controls preload="auto" data-stimulus-id=""></audio>\n'
            ' <p><input id="filter" type="text" autocomplete="off" placeholder="type to filter the words"></p>'
        ),
        extra={"require_listen": bool(require_listen), "sort_choices": True, "sample_rate": int(sample_rate)},
    )


def export_metamer_listening_experiment(
    metamers: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    class_names: Sequence[str],
    sample_rate: int | None = None,
    valid: Mapping[str, Any] | None = None,
    include_originals: bool = True,
    **kwargs: Any,
) -> Path:
    """Export every generator's audio metamers (and the natural clips) as one listening experiment.

    Parameters
    ----------
    metamers : dict {generator name: metamer Dataset}
        Audio metamers from :func:`neurocompare.metamers.synthesize_metamers` (``metamer``
        (layer, image, sample)), each with a ``label`` coordinate.
    path : str or PathLike
    class_names : sequence of str
        The vocabulary, in label order.
    sample_rate : int, optional
        Default: the Datasets' ``sample_rate`` attribute (all must agree).
    valid : dict {generator name: bool array (layer, image)}, optional
        Only valid metamers are played (as in Feather et al. 2023).
    include_originals : bool
        Add each distinct natural clip once, condition ``kind='natural'``.
    **kwargs
        Passed to :func:`export_listening_experiment` (level, target, title, instructions,
        shuffle, require_listen).

    Returns
    -------
    pathlib.Path
        The CSV gets the columns ``generator``, ``layer``, ``stage``, ``kind``
        (``'metamer'``/``'natural'``) and ``image_id``.

    Raises
    ------
    ValueError
        No ``sample_rate`` given and the Datasets carry none or disagree; the errors of
        :func:`export_listening_experiment`.
    """
    where = "export_metamer_listening_experiment()"
    sounds, labels, ids, cond = metamer_trials(metamers, valid, include_originals, where)
    if sample_rate is None:
        rates = {ds.attrs.get("sample_rate") for ds in metamers.values()}
        if len(rates) != 1 or None in rates:
            raise ValueError(
                f"{where}: pass sample_rate=; the metamer Datasets carry sample_rate attributes {sorted(map(str, rates))} "
                "(set ds.attrs['sample_rate'] after synthesising audio metamers)."
            )
        sample_rate = int(rates.pop())
    return export_listening_experiment(
        np.stack(sounds), path, sample_rate=sample_rate, class_names=class_names, labels=labels, stimulus_ids=ids,
        conditions=cond, **kwargs
    )
