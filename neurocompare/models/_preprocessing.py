"""What is done to the stimuli between the stimulus set and a model: :class:`Preprocessing`.

A registered model declares its preprocessing when it is registered (see
:func:`neurocompare.models.register_model`); :func:`neurocompare.extract` and
:func:`neurocompare.score` apply it, so both see the same input.

Examples
--------
>>> import torch
>>> prep = Preprocessing(size=8)                      # ImageNet normalization, resized to 8x8
>>> prep(torch.rand(2, 1, 16, 16)).shape              # grayscale -> RGB, resized
torch.Size([2, 3, 8, 8])
>>> Preprocessing.identity().is_identity
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Preprocessing", "AUDIO_16K"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MODALITIES = ("image", "audio")


@dataclass(frozen=True)
class Preprocessing:
    """What is done to a batch of stimuli between the stimulus set and the model.

    Image batches arrive from :func:`neurocompare.extract` as floats in [0, 1] with dims
    (batch, channel, height, width). Audio batches arrive as (batch, samples) or
    (batch, 1, samples) float waveforms.

    Parameters
    ----------
    modality : {'image', 'audio'}
        What the model takes; a benchmark refuses a model of another modality.
    size : int or None
        Images: resize (bilinear, antialiased) so both sides equal ``size``; ``None`` keeps the
        stimulus size.
    channels : int or None
        Images: the channel count the model expects. 3 turns grayscale into RGB (repeating the
        channel); 1 turns RGB into luminance (ITU-R BT.601 weights). ``None`` passes through.
    mean, std : tuple of float or None
        Per-channel normalization ``(x - mean) / std`` after resizing.
    sample_rate : int or None
        Audio: the sample rate (Hz) the model expects; the benchmark resamples to it.

    Notes
    -----
    An image preprocessing with ``size``, ``channels``, ``mean`` and ``std`` all ``None`` is the
    identity (:meth:`identity`): the batch reaches the model exactly as the stimulus set gives it,
    whatever its shape.
    """

    modality: str = "image"
    size: int | None = None
    channels: int | None = 3
    mean: tuple[float, ...] | None = IMAGENET_MEAN
    std: tuple[float, ...] | None = IMAGENET_STD
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        if self.modality not in _MODALITIES:
            raise ValueError(
                f"Preprocessing.modality must be one of {{'image', 'audio'}}. Got {self.modality!r} instead."
            )
        if self.size is not None and (isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1):
            raise ValueError(f"Preprocessing.size must be a positive int or None; got {self.size!r}.")
        if self.channels not in (None, 1, 3):
            raise ValueError(f"Preprocessing.channels must be 1, 3 or None; got {self.channels!r}.")
        if (self.mean is None) != (self.std is None):
            raise ValueError("Preprocessing.mean and .std must be given together (or both None).")
        if self.mean is not None and len(self.mean) != len(self.std):
            raise ValueError(
                f"Preprocessing.mean and .std need one value per channel each; got {len(self.mean)} and {len(self.std)}."
            )
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError(f"Preprocessing.std must be positive; got {self.std!r}.")

    @classmethod
    def identity(cls, modality: str = "image", *, sample_rate: int | None = None) -> "Preprocessing":
        """A preprocessing that hands every batch to the model unchanged."""
        return cls(modality=modality, size=None, channels=None, mean=None, std=None, sample_rate=sample_rate)

    @property
    def is_identity(self) -> bool:
        """True when :meth:`__call__` returns its input unchanged."""
        return self.modality == "image" and self.size is None and self.channels is None and self.mean is None

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description (for provenance and cache keys)."""
        d = asdict(self)
        for k in ("mean", "std"):
            if d[k] is not None:
                d[k] = [float(v) for v in d[k]]
        return d

    def __call__(self, batch: Any) -> Any:
        """Apply to a batch tensor; see the class docstring for the expected dims.

        Raises
        ------
        ValueError
            An image batch that is not (batch, channel, height, width), or whose channel count
            does not fit ``channels`` / ``mean``.
        """
        if self.modality == "audio":
            return batch.unsqueeze(1) if batch.dim() == 2 else batch
        if self.is_identity:
            return batch
        import torch
        import torch.nn.functional as F

        if batch.dim() != 4:
            raise ValueError(
                f"Image preprocessing expects a (batch, channel, height, width) tensor; got shape {tuple(batch.shape)}. "
                "Pass preprocessing=None to feed the stimuli as they are."
            )
        x = batch.float()
        if self.channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif self.channels == 1 and x.shape[1] == 3:
            w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
            x = (x * w[None, :, None, None]).sum(dim=1, keepdim=True)
        elif self.channels is not None and x.shape[1] != self.channels:
            raise ValueError(
                f"The model expects {self.channels} channel(s); the stimuli have {x.shape[1]} "
                f"(batch shape {tuple(x.shape)}, dims (batch, channel, height, width))."
            )
        if self.size is not None and tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        if self.mean is not None:
            if len(self.mean) != x.shape[1]:
                raise ValueError(
                    f"Preprocessing.mean has {len(self.mean)} value(s) but the batch has {x.shape[1]} channel(s)."
                )
            m = torch.tensor(self.mean, dtype=x.dtype, device=x.device)[None, :, None, None]
            s = torch.tensor(self.std, dtype=x.dtype, device=x.device)[None, :, None, None]
            x = (x - m) / s
        return x


#: raw 16 kHz waveforms, (batch, samples) -> (batch, 1, samples)
AUDIO_16K = Preprocessing(modality="audio", size=None, channels=None, mean=None, std=None, sample_rate=16000)
