"""A word-recognition task from synthesized speech: many voices, rates, pitches and noise, split by voice.

:func:`speech_dataset` speaks each word of a vocabulary (:data:`WORDS`, common English words
without homophones) with espeak-ng (:mod:`neurocompare.audio._espeak`) in many voices
(English accent × speaker variant, e.g. ``en-US+f2``), at several rates and pitches, trims the
synthesizer's silence, resamples to ``sr`` (``scipy.signal.resample_poly``), centres the word in
a ``duration_s`` window (cropping the middle when longer), scales the speech to RMS ``rms``
over the window and adds noise at a drawn SNR: white or pink noise made here (seeded), or
excerpts of natural sounds (``backgrounds=``, e.g. the 165 sounds of Norman-Haignere et al. 2015
in ``natsound165_nh2015/sounds/wav``).

Held-out voices: the speaker variants are divided into train and test groups (a variant is a
speaker identity, so a test voice is unseen in every accent); no voice is in both splits.

Every clip's draws depend only on ``(seed, word, clip index)``, so a clip does not change when the
SNR or the noise kind changes: ``noisy - clean`` is exactly the added noise. The result is cached
as ``.npz`` (written atomically) with a sha256 sidecar verified on load; the cache key holds every
argument, the word list, the espeak-ng version and the background sounds' content.

Example
-------
>>> ds = speech_dataset(n_words=4, clips_per_word=5, voices=["en-US+m1", "en+f2", "en-US+m3"],
...                     cache_dir=False, progress=False)  # doctest: +SKIP
>>> ds.waveforms.shape, sorted(set(ds.split))  # doctest: +SKIP
((20, 16000), ['test', 'train'])
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurocompare._atomic import atomic_write_bytes
from neurocompare._options import cache_dir as _cache_root
from neurocompare._options import progress_enabled
from neurocompare._seeding import numpy_rng
from neurocompare.audio import _espeak

__all__ = ["WORDS", "SpeechDataset", "speech_dataset", "mix_at_snr", "pink_noise", "load_backgrounds",
           "speech_voices"]

_FORMAT = 1  # bump when the generation changes what a given set of arguments produces

#: 200 common English words without homophones (a word's label is its index here)
WORDS: tuple[str, ...] = tuple("""
water house people little between animal answer always number family father mother children country
money morning evening window garden letter picture island machine mountain river forest ocean music
doctor teacher kitchen table chair bottle basket pocket button candle ladder pillow carpet blanket
orange yellow purple silver golden green black white brown apple banana potato tomato carrot butter
cheese bread coffee sugar pepper dog horse rabbit tiger monkey turtle dragon spider chicken donkey
happy angry quiet simple heavy empty narrow gentle famous clever open close begin finish travel listen
follow carry bring think paper pencil rubber silk cotton metal plastic glass stone sand winter summer
autumn spring today tomorrow yesterday minute second season north south east west left middle corner
circle square triangle seven eleven twenty thirty forty hundred thousand million zero dozen engine
wheel rocket planet camera radio ticket market office village brother sister uncle cousin baby husband
finger shoulder elbow stomach tongue ankle kingdom castle palace temple church lemon melon peach cherry
grape cloud thunder rainbow shadow lightning jump swim laugh whisper shout problem reason story system
idea question promise secret surprise trouble bridge street flower dinner breakfast hammer needle
mirror wallet jacket sweater helmet pilot farmer soldier student
""".split())

_NOISE_KINDS = ("white", "pink", "natural")
_SILENCE = 0.01  # trim samples below 1 % of the peak (-40 dB) at both ends


@dataclass
class SpeechDataset:
    """Synthesized one-word clips with their labels and generation parameters.

    Attributes
    ----------
    waveforms : numpy.ndarray
        float32, dims (clip, sample); speech at RMS ``attrs['rms']`` over the window plus noise.
    label : numpy.ndarray
        int64 index into ``vocabulary``, dims (clip,).
    word, voice, noise, split, clip_id : numpy.ndarray
        str, dims (clip,). ``noise`` is 'white', 'pink', 'natural' or 'none'; ``split`` is
        'train' or 'test'; ``clip_id`` is unique (``"<word>-<index>"``).
    rate, pitch : numpy.ndarray
        int64, dims (clip,): espeak-ng words per minute and base pitch (0-99).
    snr_db : numpy.ndarray
        float64, dims (clip,): speech-to-noise power ratio over the window (inf without noise).
    vocabulary : tuple of str
    sr : int
        Sample rate in Hz.
    attrs : dict
        The arguments, the espeak-ng version and the cache key.
    """

    waveforms: np.ndarray
    label: np.ndarray
    word: np.ndarray
    voice: np.ndarray
    rate: np.ndarray
    pitch: np.ndarray
    noise: np.ndarray
    snr_db: np.ndarray
    split: np.ndarray
    clip_id: np.ndarray
    vocabulary: tuple[str, ...]
    sr: int
    attrs: dict[str, Any] = field(default_factory=dict)

    _PER_CLIP = ("waveforms", "label", "word", "voice", "rate", "pitch", "noise", "snr_db", "split", "clip_id")

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def __repr__(self) -> str:
        n_train = int((self.split == "train").sum())
        return (f"<SpeechDataset: {len(self)} clips ({n_train} train, {len(self) - n_train} test) of "
                f"{len(self.vocabulary)} words, {len(set(self.voice.tolist()))} voices, "
                f"{self.waveforms.shape[1]} samples at {self.sr} Hz>")

    def subset(self, split: str) -> SpeechDataset:
        """The clips of one split ('train' or 'test')."""
        if split not in ("train", "test"):
            raise ValueError(f"The 'split' parameter of subset() must be one of {{'train', 'test'}}. Got {split!r} instead.")
        keep = self.split == split
        return dataclasses.replace(self, **{k: getattr(self, k)[keep] for k in self._PER_CLIP})

    def tensors(self, split: str | None = None) -> tuple[Any, Any]:
        """Torch tensors for training: waveforms float32 (clip, sample) and labels int64 (clip,)."""
        import torch

        ds = self if split is None else self.subset(split)
        return torch.from_numpy(np.ascontiguousarray(ds.waveforms)), torch.from_numpy(ds.label.astype(np.int64))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no objects), as stored in the cache file."""
        out = {k: getattr(self, k) for k in self._PER_CLIP}
        out["vocabulary"] = np.asarray(self.vocabulary, dtype=str)
        out["sr"] = np.asarray(self.sr, dtype=np.int64)
        out["attrs"] = np.asarray(json.dumps(self.attrs, sort_keys=True))
        return out

    @classmethod
    def from_arrays(cls, arrays: Any) -> SpeechDataset:
        """Inverse of :meth:`to_arrays`."""
        kw = {k: np.asarray(arrays[k]) for k in cls._PER_CLIP}
        return cls(**kw, vocabulary=tuple(str(w) for w in arrays["vocabulary"]), sr=int(arrays["sr"]),
                   attrs=json.loads(str(arrays["attrs"])))


# --------------------------------------------------------------------------------------------
# signal helpers


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Add ``noise`` scaled so that the signal-to-noise power ratio is ``snr_db``.

    Parameters
    ----------
    signal, noise : numpy.ndarray
        Same shape, dims (sample,); power is the mean square over all samples.
    snr_db : float
        ``10 log10(mean(signal²) / mean(scaled_noise²))``.

    Returns
    -------
    mixture, scaled_noise : numpy.ndarray
        Dims (sample,); ``mixture = signal + scaled_noise``.

    Raises
    ------
    ValueError
        Shapes differ, a non-finite ``snr_db``, or a silent signal or noise (no SNR defined).
    """
    signal, noise = np.asarray(signal, dtype=np.float64), np.asarray(noise, dtype=np.float64)
    if signal.shape != noise.shape:
        raise ValueError(f"signal and noise must have the same shape; got {signal.shape} and {noise.shape}.")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite. Got {snr_db!r} instead.")
    p_signal, p_noise = float(np.mean(signal**2)), float(np.mean(noise**2))
    if not (p_signal > 0 and p_noise > 0 and np.isfinite(p_signal) and np.isfinite(p_noise)):
        raise ValueError(
            f"mix_at_snr needs a signal and a noise of finite, non-zero power; got powers {p_signal} and {p_noise}."
        )
    scaled = noise * np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return signal + scaled, scaled


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with a 1/f power spectrum (no DC), unit RMS, dims (n,)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.shape[0], dtype=np.float64)
    spectrum[0] = 0.0
    spectrum[1:] /= np.sqrt(f[1:])
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x**2))


def _fit_window(x: np.ndarray, n: int) -> np.ndarray:
    """Trim leading/trailing silence, then centre in ``n`` samples (zero-padded, or the middle cropped)."""
    loud = np.flatnonzero(np.abs(x) > _SILENCE * np.abs(x).max()) if x.size and np.abs(x).max() > 0 else []
    if len(loud) == 0:
        raise ValueError("espeak-ng produced silence; the word cannot be placed in a clip.")
    x = x[loud[0] : loud[-1] + 1]
    if x.shape[0] >= n:
        start = (x.shape[0] - n) // 2
        return x[start : start + n]
    out = np.zeros(n)
    start = (n - x.shape[0]) // 2
    out[start : start + x.shape[0]] = x
    return out


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(sr_in), int(sr_out))
    return resample_poly(x, int(sr_out) // g, int(sr_in) // g)


def load_backgrounds(source: Any, sr: int = 16000) -> list[np.ndarray]:
    """Background sounds as float64 mono arrays at ``sr`` (each dims (sample,), unit RMS).

    Parameters
    ----------
    source : str, Path, sequence of paths, or sequence of arrays
        A folder (searched recursively for ``.wav`` files, sorted by path), WAV paths, or
        arrays already at ``sr``.
    sr : int

    Raises
    ------
    ValueError
        No sounds found, or a silent sound.
    """
    from scipy.io import wavfile

    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.is_dir():
            raise ValueError(f"backgrounds folder {str(folder)!r} does not exist. Point it at a folder of WAV files, "
                             "e.g. <data>/natsound165_nh2015/sounds/wav.")
        items: list[Any] = sorted(folder.rglob("*.wav"))
    else:
        items = list(source)
    out = []
    for item in items:
        if isinstance(item, (str, Path)):
            rate, data = wavfile.read(str(item))
            x = np.asarray(data, dtype=np.float64)
            if np.issubdtype(data.dtype, np.integer):
                x /= float(np.iinfo(data.dtype).max)
            x = x.mean(axis=1) if x.ndim == 2 else x
            x = _resample(x, int(rate), sr)
        else:
            x = np.asarray(item, dtype=np.float64).reshape(-1)
        power = float(np.mean(x**2)) if x.size else 0.0
        if not (power > 0 and np.isfinite(power)):
            raise ValueError(f"background {item if isinstance(item, (str, Path)) else len(out)} is silent or not finite.")
        out.append(x / np.sqrt(power))
    if not out:
        raise ValueError(f"No background sounds found in {source!r} (expected .wav files or arrays).")
    return out


def speech_voices(accents: Sequence[str] | None = None, variants: Sequence[str] | None = None) -> list[str]:
    """Voice names ``"<accent>+<variant>"`` for every pair (default: all English accents × all variants)."""
    accents = _espeak.english_accents() if accents is None else tuple(accents)
    variants = _espeak.voice_variants() if variants is None else tuple(variants)
    return [f"{a}+{v}" for v in variants for a in accents]


def _speaker(voice: str) -> str:
    return voice.split("+", 1)[1] if "+" in voice else voice


def _split_voices(voices: list[str], test_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    speakers = sorted({_speaker(v) for v in voices})
    n_test = int(round(test_fraction * len(speakers)))
    if test_fraction > 0 and (n_test < 1 or n_test >= len(speakers)):
        raise ValueError(
            f"test_fraction={test_fraction} of {len(speakers)} speaker variant(s) leaves a split without voices; "
            "give voices with more variants (the part after '+') or change test_fraction."
        )
    order = numpy_rng(seed, "speech-split").permutation(len(speakers))
    test_speakers = {speakers[i] for i in order[:n_test]}
    return [v for v in voices if _speaker(v) not in test_speakers], [v for v in voices if _speaker(v) in test_speakers]


# --------------------------------------------------------------------------------------------
# the dataset


def _check_choices(values: Sequence[int], name: str, lo: int, hi: int) -> tuple[int, ...]:
    values = tuple(int(v) for v in values)
    if not values or any(not lo <= v <= hi for v in values):
        raise ValueError(f"{name} must be a non-empty sequence of integers in [{lo}, {hi}]. Got {values!r} instead.")
    return values


def _snr_range(snr_db: Any) -> tuple[float, float] | None:
    if snr_db is None:
        return None
    lo, hi = (snr_db, snr_db) if np.isscalar(snr_db) else tuple(snr_db)
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(f"snr_db must be None, a finite number, or (low, high) with low <= high. Got {snr_db!r} instead.")
    return lo, hi


def _cache_file(cache_dir: Any, key: str) -> Path | None:
    if cache_dir is False:
        return None
    root = Path(cache_dir).expanduser() if cache_dir is not None else _cache_root() / "speech"
    return root / f"speech_{key[:20]}.npz"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_cache(path: Path) -> SpeechDataset | None:
    """The cached dataset, or None when absent; a file whose checksum fails is reported and ignored."""
    sidecar = path.with_suffix(".sha256")
    if not path.is_file():
        return None
    expected = sidecar.read_text().strip() if sidecar.is_file() else None
    actual = _sha256(path)
    if expected != actual:
        warnings.warn(
            f"The cached speech dataset {path} does not match its checksum (expected {expected}, got {actual}); "
            "it is corrupt or was not completely written. Regenerating it.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    with np.load(path, allow_pickle=False) as arrays:
        return SpeechDataset.from_arrays(arrays)


def _write_cache(path: Path, ds: SpeechDataset) -> None:
    buf = io.BytesIO()
    np.savez(buf, **ds.to_arrays())
    data = buf.getvalue()
    atomic_write_bytes(path, data, what="speech dataset cache")
    atomic_write_bytes(path.with_suffix(".sha256"), hashlib.sha256(data).hexdigest().encode(), what="checksum")


def speech_dataset(
    n_words: int = 50,
    *,
    clips_per_word: int = 40,
    words: Sequence[str] | None = None,
    voices: Sequence[str] | None = None,
    rates: Sequence[int] = (130, 150, 175, 200, 230),
    pitches: Sequence[int] = (25, 40, 50, 60, 75),
    snr_db: float | tuple[float, float] | None = (0.0, 20.0),
    noise: Sequence[str] | None = None,
    backgrounds: Any = None,
    duration_s: float = 1.0,
    sr: int = 16000,
    rms: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    cache_dir: str | Path | bool | None = None,
    progress: bool | None = None,
) -> SpeechDataset:
    """Synthesize (or load from the cache) a one-word recognition dataset with held-out voices.

    Parameters
    ----------
    n_words : int
        The first ``n_words`` of :data:`WORDS` (at most 200); ignored when ``words`` is given.
    clips_per_word : int
        Clips per word; ``round(clips_per_word * test_fraction)`` of them use test voices.
    words : sequence of str, optional
        An explicit vocabulary (label = position).
    voices : sequence of str, optional
        espeak-ng voices ``"<accent>+<variant>"``; default :func:`speech_voices` (8 English
        accents × 103 variants of espeak-ng 1.52). The split is by variant (the part after ``+``).
    rates : sequence of int
        Speaking rates (words per minute, 80-450), drawn uniformly per clip.
    pitches : sequence of int
        Base pitches (0-99), drawn uniformly per clip.
    snr_db : float, (float, float) or None
        Fixed SNR, a uniform range, or None for clean speech.
    noise : sequence of {'white', 'pink', 'natural'}, optional
        Noise kinds drawn uniformly per clip. Default ('white', 'pink'), or ('natural',) when
        ``backgrounds`` is given.
    backgrounds : folder, WAV paths or arrays, optional
        Natural sounds for 'natural' noise (see :func:`load_backgrounds`); a random excerpt of a
        random sound per clip.
    duration_s : float
        Clip length in seconds.
    sr : int
        Output sample rate in Hz (espeak-ng's 22,050 Hz is resampled).
    rms : float
        RMS of the speech over the window (the noise is added on top at the drawn SNR).
    test_fraction : float
        Fraction of speaker variants held out for the test split, in [0, 1).
    seed : int
    cache_dir : str, Path, False or None
        Cache folder; ``None``: ``<cache_dir option>/speech``; ``False``: no cache.
    progress : bool or None
        tqdm bar over words (``set_options(progress=False)`` silences it).

    Returns
    -------
    SpeechDataset
        ``waveforms`` float32 dims (clip, round(duration_s * sr)); clips ordered by word then index.

    Raises
    ------
    ValueError
        Bad arguments (each message says what was expected), unknown voices, or split settings
        that leave a split without voices.
    ImportError
        ``espeakng-loader`` is not installed (pip install 'neurocompare[audio]').
    """
    vocabulary = tuple(str(w) for w in words) if words is not None else None
    if vocabulary is None:
        if not 1 <= int(n_words) <= len(WORDS):
            raise ValueError(f"n_words must lie in [1, {len(WORDS)}]. Got {n_words!r} instead.")
        vocabulary = WORDS[: int(n_words)]
    if not vocabulary or len(set(vocabulary)) != len(vocabulary) or not all(w.strip() for w in vocabulary):
        raise ValueError(f"words must be distinct non-empty strings. Got {vocabulary!r} instead.")
    if int(clips_per_word) < 1:
        raise ValueError(f"clips_per_word must be >= 1. Got {clips_per_word!r} instead.")
    if not 0.0 <= float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1). Got {test_fraction!r} instead.")
    if not (float(duration_s) > 0 and int(sr) > 0 and float(rms) > 0):
        raise ValueError(f"duration_s, sr and rms must be positive. Got {duration_s!r}, {sr!r}, {rms!r}.")
    rates = _check_choices(rates, "rates", 80, 450)
    pitches = _check_choices(pitches, "pitches", 0, 99)
    snr = _snr_range(snr_db)
    kinds = tuple(noise) if noise is not None else (("natural",) if backgrounds is not None else ("white", "pink"))
    if not kinds or any(k not in _NOISE_KINDS for k in kinds):
        raise ValueError(f"noise must be a non-empty sequence from {_NOISE_KINDS}. Got {noise!r} instead.")
    if "natural" in kinds and backgrounds is None:
        raise ValueError("noise 'natural' needs backgrounds= (a folder of WAV files or arrays).")
    voice_list = list(voices) if voices is not None else speech_voices()
    if not voice_list or len(set(voice_list)) != len(voice_list):
        raise ValueError(f"voices must be distinct espeak-ng voice names. Got {voice_list!r} instead.")
    train_voices, test_voices = _split_voices(voice_list, float(test_fraction), int(seed))
    bgs = load_backgrounds(backgrounds, int(sr)) if backgrounds is not None and snr is not None else []

    n = int(round(float(duration_s) * int(sr)))
    n_test = int(round(int(clips_per_word) * float(test_fraction)))
    attrs = dict(
        format=_FORMAT, espeak_version=_espeak.espeak_version(), words=list(vocabulary), clips_per_word=int(clips_per_word),
        voices=voice_list, rates=list(rates), pitches=list(pitches), snr_db=None if snr is None else list(snr),
        noise=list(kinds), duration_s=float(duration_s), sr=int(sr), rms=float(rms), test_fraction=float(test_fraction),
        seed=int(seed),
        backgrounds=hashlib.sha256(b"".join(np.ascontiguousarray(b, np.float64).tobytes() for b in bgs)).hexdigest()
        if bgs else None,
    )
    key = hashlib.sha256(json.dumps(attrs, sort_keys=True).encode()).hexdigest()
    attrs["cache_key"] = key
    path = _cache_file(cache_dir, key)
    if path is not None and (cached := _read_cache(path)) is not None:
        return cached

    total = len(vocabulary) * int(clips_per_word)
    wave = np.zeros((total, n), dtype=np.float32)
    meta: dict[str, list[Any]] = {k: [] for k in ("label", "word", "voice", "rate", "pitch", "noise", "snr_db",
                                                  "split", "clip_id")}
    memo: dict[tuple[str, str, int, int], np.ndarray] = {}
    it: Any = enumerate(vocabulary)
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(vocabulary), desc="speech", unit="word")
    row = 0
    for label, word in it:
        for j in range(int(clips_per_word)):
            split = "train" if j < int(clips_per_word) - n_test else "test"
            pool = train_voices if split == "train" else test_voices
            r = numpy_rng(int(seed), "speech", word, j)
            voice = pool[int(r.random() * len(pool))]
            rate, pitch = rates[int(r.integers(len(rates)))], pitches[int(r.integers(len(pitches)))]
            kind = kinds[int(r.random() * len(kinds))]
            snr_u = float(r.random())
            spec = (word, voice, rate, pitch)
            if spec not in memo:
                raw = _espeak.synthesize(word, voice, rate=rate, pitch=pitch).astype(np.float64) / 32768.0
                speech = _fit_window(_resample(raw, _espeak.ESPEAK_RATE, int(sr)), n)
                memo[spec] = speech * (float(rms) / np.sqrt(np.mean(speech**2)))
            clip = memo[spec]
            level = np.inf
            if snr is not None:
                level = snr[0] + snr_u * (snr[1] - snr[0])
                clip, _ = mix_at_snr(clip, _noise(kind, n, bgs, numpy_rng(int(seed), "speech-noise", word, j)), level)
            else:
                kind = "none"
            wave[row] = clip
            for k, v in zip(meta, (label, word, voice, rate, pitch, kind, level, split, f"{word}-{j}")):
                meta[k].append(v)
            row += 1
    ds = SpeechDataset(
        waveforms=wave,
        label=np.asarray(meta["label"], dtype=np.int64),
        **{k: np.asarray(meta[k], dtype=str) for k in ("word", "voice", "noise", "split", "clip_id")},
        rate=np.asarray(meta["rate"], dtype=np.int64),
        pitch=np.asarray(meta["pitch"], dtype=np.int64),
        snr_db=np.asarray(meta["snr_db"], dtype=np.float64),
        vocabulary=vocabulary,
        sr=int(sr),
        attrs=attrs,
    )
    if path is not None:
        _write_cache(path, ds)
    return ds


def _noise(kind: str, n: int, backgrounds: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return pink_noise(n, rng)
    for _ in range(20):  # an excerpt may fall on a silent stretch: draw another
        bg = backgrounds[int(rng.integers(len(backgrounds)))]
        if bg.shape[0] < n:
            bg = np.tile(bg, int(np.ceil(n / bg.shape[0])))
        start = int(rng.integers(bg.shape[0] - n + 1))
        excerpt = bg[start : start + n]
        if np.mean(excerpt**2) > 1e-6:
            return excerpt
    raise ValueError("The background sounds are (nearly) silent; 20 random excerpts had no power.")
