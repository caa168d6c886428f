"""Audio: a differentiable cochleagram front end and a synthesized-speech word task.

Filled in by the audio work of issue 19; see the module docstrings of the private modules.
"""

from ._cochleagram import Cochleagram, cochleagram
from ._erb import erb_space, erb_to_freq, filterbank_centre_freqs, freq_to_erb, half_cosine_filterbank
from ._plot import plot_cochleagram
from ._espeak import english_accents, espeak_version, synthesize, voice_variants
from ._recognizer import (
    SMALL_WORD_TASK,
    TRAIN_EPS,
    WORD_TASK,
    evaluate_word_recognizer,
    load_word_recognizer,
    train_word_recognizer,
    word_recognizer_config,
)
from ._speech import WORDS, SpeechDataset, load_backgrounds, mix_at_snr, pink_noise, speech_dataset, speech_voices

__all__: list[str] = [
    # cochleagram front end
    "Cochleagram",
    "cochleagram",
    "erb_space",
    "erb_to_freq",
    "filterbank_centre_freqs",
    "freq_to_erb",
    "half_cosine_filterbank",
    "plot_cochleagram",
    # synthesized speech (espeak-ng) and the word task
    "synthesize",
    "espeak_version",
    "english_accents",
    "voice_variants",
    "WORDS",
    "SpeechDataset",
    "speech_dataset",
    "speech_voices",
    "mix_at_snr",
    "pink_noise",
    "load_backgrounds",
    # word recognisers
    "WORD_TASK",
    "SMALL_WORD_TASK",
    "TRAIN_EPS",
    "word_recognizer_config",
    "train_word_recognizer",
    "load_word_recognizer",
    "evaluate_word_recognizer",
]
