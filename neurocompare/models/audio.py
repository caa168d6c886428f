"""Two tiny auditory models on raw 16 kHz waveforms, registered with their audio preprocessing.

They exist so that the auditory benchmarks run end to end; neither is a model of auditory
cortex. Both take (batch, 1, samples) float waveforms (their registered preprocessing,
:data:`AUDIO_16K`, turns (batch, samples) into that) and are He-normal initialised from
``seed`` (:func:`he_normal_`), not trained.
"""

from __future__ import annotations

import torch
from torch import nn

from neurocompare.models._preprocessing import AUDIO_16K
from neurocompare.models._registry import MODELS
from neurocompare.models._weights import he_normal_

__all__ = ["LogSpectrogram", "audio_conv1d_tiny", "audio_spectrogram_tiny"]


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


# test_models feeds each registered builder its example input
audio_conv1d_tiny.example_input_shape = (2, 1, 16000)
audio_spectrogram_tiny.example_input_shape = (2, 1, 16000)
