"""Audio: a differentiable cochleagram front end and a synthesized-speech word task.

Filled in by the audio work of issue 19; see the module docstrings of the private modules.
"""

from ._cochleagram import Cochleagram, cochleagram
from ._erb import erb_space, erb_to_freq, filterbank_centre_freqs, freq_to_erb, half_cosine_filterbank

__all__: list[str] = [
    # cochleagram front end
    "Cochleagram",
    "cochleagram",
    "erb_space",
    "erb_to_freq",
    "filterbank_centre_freqs",
    "freq_to_erb",
    "half_cosine_filterbank",
]
