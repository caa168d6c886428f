"""Auditory models on raw 16 kHz waveforms, registered with their audio preprocessing.

- ``audio_conv1d_tiny``, ``audio_spectrogram_tiny``: two tiny untrained nets that exist so that the
  auditory benchmarks run end to end; neither is a model of auditory cortex.
- ``word_recognizer``: a cochleagram front end (:class:`neurocompare.audio.Cochleagram`) and a
  small 2-D convnet for the synthesized-speech word task (:func:`neurocompare.audio.speech_dataset`);
  trained by :func:`neurocompare.audio.train_word_recognizer` (standard or adversarial).

All take (batch, 1, samples) or (batch, samples) float waveforms (their registered
preprocessing, :data:`AUDIO_16K`, turns (batch, samples) into the former) and are He-normal
initialised from ``seed`` (:func:`he_normal_`).
"""

from __future__ import annotations

import torch
from torch import nn

from neurocompare.models._preprocessing import AUDIO_16K
from neurocompare.models._registry import MODELS
from neurocompare.models._weights import he_normal_

__all__ = ["LogSpectrogram", "audio_conv1d_tiny", "audio_spectrogram_tiny", "word_recognizer",
           "WORD_RECOGNIZER_STAGES"]


class LogSpectrogram(nn.Module):
    """log(1 + |STFT|) of a waveform: (batch, 1, samples) -> (batch, 1, n_fft // 2 + 1, frames).

    Parameters
    ----------
    n_fft : int
        Window length in samples (Hann window).
    hop : int
        Hop between frames in samples.
    """

    def __init__(self, n_fft: int = 512, hop: int = 160) -> None:
        super().__init__()
        self.n_fft, self.hop = int(n_fft), int(hop)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x.reshape(x.shape[0], -1), self.n_fft, hop_length=self.hop, window=self.window, return_complex=True)
        return torch.log1p(spec.abs()).unsqueeze(1)


@MODELS.register("audio_conv1d_tiny", preprocessing=AUDIO_16K)
def audio_conv1d_tiny(*, seed: int | None = 0, widths: tuple[int, ...] = (16, 32, 64)) -> nn.Sequential:
    """A tiny 1-D conv net on raw waveforms (batch, 1, samples) at 16 kHz.

    Three strided conv–ReLU–pool blocks (``block1..3``) and a global average pool (``pool``,
    (batch, widths[-1])).
    """
    model = nn.Sequential()
    prev = 1
    for i, w in enumerate(widths, start=1):
        k, s = (64, 8) if i == 1 else (9, 2)
        model.add_module(f"block{i}", nn.Sequential(nn.Conv1d(prev, w, k, stride=s, padding=k // 2), nn.ReLU(), nn.MaxPool1d(4)))
        prev = w
    model.add_module("pool", nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten()))
    return he_normal_(model, seed)


@MODELS.register("audio_spectrogram_tiny", preprocessing=AUDIO_16K)
def audio_spectrogram_tiny(
    *, seed: int | None = 0, n_fft: int = 512, hop: int = 160, widths: tuple[int, ...] = (16, 32)
) -> nn.Sequential:
    """A log-magnitude STFT front-end followed by two random 2-D conv blocks and a global pool.

    ``spectrogram`` gives a 257 frequency × frame map (32 ms windows, 10 ms hops at 16 kHz);
    then ``block1``, ``block2`` (conv–ReLU–maxpool) and ``pool`` (batch, widths[-1]).
    """
    model = nn.Sequential()
    model.add_module("spectrogram", LogSpectrogram(n_fft, hop))
    prev = 1
    for i, w in enumerate(widths, start=1):
        model.add_module(f"block{i}", nn.Sequential(nn.Conv2d(prev, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4)))
        prev = w
    model.add_module("pool", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
    return he_normal_(model, seed)


#: the stages of :func:`word_recognizer` used as early / middle / late / final in metamer studies
WORD_RECOGNIZER_STAGES = {"early": "block1", "middle": "block2", "late": "block4", "final": "logits"}


@MODELS.register("word_recognizer", preprocessing=AUDIO_16K)
def word_recognizer(
    *,
    num_classes: int = 50,
    seed: int | None = 0,
    widths: tuple[int, ...] = (16, 32, 64, 128),
    hidden: int = 128,
    sr: int = 16000,
    n_bands: int = 50,
    sample_factor: int = 2,
) -> nn.Sequential:
    """Word classifier: cochleagram, four conv stages, a pool over time, a hidden layer, class logits.

    Layers (``neurocompare.list_layers``), for a 1 s clip at 16 kHz and the default widths:

    ============ ================================================ ===========================
    name         operation                                        output dims
    ============ ================================================ ===========================
    cochleagram  :class:`~neurocompare.audio.Cochleagram`         (batch, 1, 105, 200)
    block1       conv 3×3 stride 2, batch norm, ReLU, max pool 2  (batch, 16, 26, 50)
    block2       conv 3×3, batch norm, ReLU, max pool 2           (batch, 32, 13, 25)
    block3       conv 3×3, batch norm, ReLU, max pool 2           (batch, 64, 6, 12)
    block4       conv 3×3, batch norm, ReLU, max pool 2           (batch, 128, 3, 6)
    pool         average over time, flattened (channel × freq)    (batch, 384)
    fc           linear, ReLU                                     (batch, hidden)
    logits       linear                                           (batch, num_classes)
    ============ ================================================ ===========================

    The cochleagram (ERB half-cosine filters, 200 Hz envelopes, power 0.3) has no parameters.

    Parameters
    ----------
    num_classes : int
        Vocabulary size.
    seed : int or None
        He-normal initialisation seed (``None``: torch's default initialisation, unseeded).
    widths : tuple of int
        Channels of ``block1``, ``block2``, ...; any number of stages >= 1.
    hidden : int
        Width of ``fc``.
    sr, n_bands, sample_factor
        Cochleagram settings (see :class:`~neurocompare.audio.Cochleagram`).

    Returns
    -------
    nn.Sequential
        Input: waveforms at ``sr``, dims (batch, samples) or (batch, 1, samples).
    """
    from neurocompare.audio._cochleagram import Cochleagram

    if int(num_classes) < 2 or not widths or any(int(w) < 1 for w in widths) or int(hidden) < 1:
        raise ValueError(
            f"word_recognizer needs num_classes >= 2, at least one positive width and hidden >= 1. Got "
            f"num_classes={num_classes!r}, widths={widths!r}, hidden={hidden!r}."
        )
    model = nn.Sequential()
    model.add_module("cochleagram", Cochleagram(sr, n_bands=n_bands, sample_factor=sample_factor))
    prev, freq = 1, model.cochleagram.n_channels
    for i, w in enumerate(widths, start=1):
        stride = 2 if i == 1 else 1
        freq = ((freq - 1) // 2 + 1 if i == 1 else freq) // 2  # frequency rows after the conv and the pool  # the first stage strides: the 105 x 200 cochleagram is the costly map on CPU
        model.add_module(f"block{i}", nn.Sequential(
            nn.Conv2d(prev, int(w), 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(int(w)), nn.ReLU(),
            nn.MaxPool2d(2)))
        prev = int(w)
    # average over time only: a global pool over frequency too would leave the net nearly blind to
    # where in frequency a feature is (convolutions are shift-invariant along both axes)
    model.add_module("pool", nn.Sequential(nn.AdaptiveAvgPool2d((None, 1)), nn.Flatten()))
    model.add_module("fc", nn.Sequential(nn.Linear(prev * freq, int(hidden)), nn.ReLU()))
    model.add_module("logits", nn.Linear(int(hidden), int(num_classes)))
    return he_normal_(model, seed)


# test_models feeds each registered builder its example input
audio_conv1d_tiny.example_input_shape = (2, 1, 16000)
audio_spectrogram_tiny.example_input_shape = (2, 1, 16000)
word_recognizer.example_input_shape = (2, 1, 16000)
