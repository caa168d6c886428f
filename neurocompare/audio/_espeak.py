"""A minimal ``ctypes`` binding to the espeak-ng speech synthesizer bundled in ``espeakng-loader``.

The PyPI wheel ``espeakng-loader`` ships ``libespeak-ng`` and its voice data, so no system
package is needed. For every utterance the library is loaded, initialised in synchronous mode
(``AUDIO_OUTPUT_SYNCHRONOUS``) with a Python callback that collects the 16-bit samples it
produces at :data:`ESPEAK_RATE` (22,050 Hz), and unloaded again, so that the same arguments
always give the same samples (see :class:`_Engine`).

Voices are named ``"<language>+<variant>"`` (e.g. ``"en-US+f2"``): a language/accent file under
``espeak-ng-data/lang`` and a speaker variant under ``espeak-ng-data/voices/!v``.

References
----------
espeak-ng, ``src/include/espeak-ng/speak_lib.h`` (the C API used here); the loader wheel:
https://pypi.org/project/espeakng-loader/.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ESPEAK_RATE", "espeak_version", "english_accents", "voice_variants", "synthesize"]

#: sample rate of espeak-ng's output (Hz)
ESPEAK_RATE = 22050

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_PITCH = 1, 3
_RATE_RANGE = (80, 450)  # words per minute accepted by espeak-ng
_PITCH_RANGE = (0, 99)
#: the English accents of espeak-ng 1.52 usable as speakers (``en-Shaw`` is a spelling, not an accent)
_ENGLISH = ("en", "en-029", "en-GB-scotland", "en-GB-x-gbclan", "en-GB-x-gbcwmd", "en-GB-x-rp", "en-US", "en-US-nyc")
_RAND_SEED = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _loader() -> Any:
    try:
        import espeakng_loader
    except ImportError as err:
        raise ImportError(
            "Speech synthesis requires espeakng-loader (it bundles the espeak-ng library and voices), "
            "which is not installed: pip install 'neurocompare[audio]' (or pip install espeakng-loader)."
        ) from err
    return espeakng_loader


def _libc() -> Any:
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c"))


class _Engine:
    """Loads a fresh copy of libespeak-ng for every utterance (calls are serialised).

    espeak-ng keeps state between utterances that its API cannot reset (the pitch-flutter phase
    in ``wavegen.c`` is a function-level static, and resonator and Klatt states carry over), so
    the same word spoken twice in one process differs. Loading the library, speaking one
    utterance and unloading it (``dlclose``) starts every utterance from the same state: the
    output depends only on (text, voice, rate, pitch). It costs about 10 ms per utterance. The
    noise sources (breath, Klatt voices) are seeded each time through ``espeak_ng_SetRandSeed`` and
    libc's ``srand`` (which resets the process-wide ``rand()`` sequence of any other C code).
    """

    def __init__(self) -> None:
        loader = _loader()
        self.data_path = Path(loader.get_data_path())
        self.library_path = str(loader.get_library_path())
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # kept referenced for as long as the library may call it
        self.lock = threading.Lock()
        with self.lock:
            lib = self._open()
            try:
                self.version = lib.espeak_Info(None).decode()
            finally:
                self._close(lib)

    def _collect(self, wav: Any, n: int, events: Any) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0  # 0 = continue synthesis

    def _open(self) -> Any:
        lib = ctypes.CDLL(self.library_path, mode=ctypes.RTLD_LOCAL)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_path).encode(), 0)
        if rate != ESPEAK_RATE:
            self._close(lib)
            raise RuntimeError(
                f"espeak-ng failed to initialise from {self.data_path} (returned {rate}, expected the sample "
                f"rate {ESPEAK_RATE}). Reinstall espeakng-loader."
            )
        lib.espeak_SetSynthCallback(self._callback)
        # the noise sources (breath, Klatt voices) draw from espeak's generator and from libc's rand()
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed(_RAND_SEED)
        _libc().srand(_RAND_SEED)
        return lib

    @staticmethod
    def _close(lib: Any) -> None:
        import _ctypes

        lib.espeak_Terminate()
        _ctypes.dlclose(lib._handle)

    def synthesize(self, text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
        with self.lock:
            lib = self._open()
            try:
                if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                    raise ValueError(
                        f"espeak-ng has no voice {voice!r}. Use '<language>+<variant>' with a language from "
                        f"english_accents() and a variant from voice_variants()."
                    )
                lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
                lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
                self._chunks = []
                data = text.encode("utf-8") + b"\0"
                err = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
                lib.espeak_Synchronize()
                if err != 0:
                    raise RuntimeError(f"espeak-ng could not synthesize {text!r} with voice {voice!r} (error {err}).")
                chunks, self._chunks = self._chunks, []
            finally:
                self._close(lib)
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


def espeak_version() -> str:
    """The version of the bundled espeak-ng library (e.g. ``'1.52.0'``).

    Raises
    ------
    ImportError
        ``espeakng-loader`` is not installed (the message gives the install command).
    """
    return _engine().version


def english_accents() -> tuple[str, ...]:
    """The English accents (espeak-ng language names) used as speaker families: en, en-US, en-GB-x-rp, ..."""
    langs = _engine().data_path / "lang"
    present = {p.name for p in langs.rglob("*") if p.is_file()}
    return tuple(a for a in _ENGLISH if a in present)


def voice_variants() -> tuple[str, ...]:
    """The speaker variants bundled with espeak-ng (``m1``, ``f2``, ``klatt``, ...), sorted by name."""
    folder = _engine().data_path / "voices" / "!v"
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_file() and " " not in p.name))


def synthesize(text: str, voice: str = "en-US", *, rate: int = 175, pitch: int = 50) -> np.ndarray:
    """Speak ``text`` with espeak-ng.

    Parameters
    ----------
    text : str
        UTF-8 text (a word or a sentence).
    voice : str
        ``"<language>"`` or ``"<language>+<variant>"``, e.g. ``"en-US+f2"``.
    rate : int
        Speaking rate in words per minute, in [80, 450].
    pitch : int
        Base pitch on espeak-ng's 0-99 scale (50 is the voice's default).

    Returns
    -------
    numpy.ndarray
        int16 samples at :data:`ESPEAK_RATE` Hz, dims (sample,), including the synthesizer's
        leading and trailing silence.

    Raises
    ------
    ValueError
        Empty text, an unknown voice, or rate/pitch outside espeak-ng's ranges.
    ImportError
        ``espeakng-loader`` is not installed.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string. Got {text!r} instead.")
    if not _RATE_RANGE[0] <= int(rate) <= _RATE_RANGE[1]:
        raise ValueError(f"rate must lie in {list(_RATE_RANGE)} words per minute. Got {rate!r} instead.")
    if not _PITCH_RANGE[0] <= int(pitch) <= _PITCH_RANGE[1]:
        raise ValueError(f"pitch must lie in {list(_PITCH_RANGE)}. Got {pitch!r} instead.")
    return _engine().synthesize(text, voice, int(rate), int(pitch))
