"""Turn a model *spec* (a string on the command line) into a model, its preprocessing and its identity.

A spec is one of

- a registered builder name: ``"convnet_small"`` (see ``neurocompare.models.MODELS``), built with
  ``seed=0`` unless ``kwargs`` say otherwise;
- a checkpoint file written by :mod:`neurocompare.training` (``*.pt``/``*.pth``/``*.ckpt``): read
  with ``torch.load(weights_only=True)`` (no pickled code), the architecture rebuilt from its
  ``config`` (``model``, ``model_kwargs``) or from ``arch=``;
- ``"package.module:function"``: any importable function returning an ``nn.Module``;
- ``"torchvision:resnet18"`` or ``"timm:resnet18"`` (when those libraries are installed;
  ``"torchvision:resnet18:DEFAULT"`` asks for the library's default pretrained weights).

:func:`resolve_model` returns a :class:`ResolvedModel` holding the module, a stable ``model_id``,
the SHA-256 of its weights and a :class:`Preprocessing` — what is done to the stimuli before the
model (resize, grayscale↔RGB, normalization) — which is recorded in every score's provenance and
in the activation-cache key.

Examples
--------
>>> rm = resolve_model("convnet_small")
>>> rm.model_id, rm.preprocessing.channels
('convnet_small(seed=0)', 3)
>>> len(rm.weights_hash)
64
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neurocompare.registry import Registry

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PREPROCESSING",
    "Preprocessing",
    "ResolvedModel",
    "get_preprocessing",
    "register_preprocessing",
    "resolve_model",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


# ----------------------------------------------------------------------------- preprocessing
@dataclass(frozen=True)
class Preprocessing:
    """What is done to a batch of stimuli between the stimulus set and the model.

    Image batches arrive from :func:`neurocompare.activations.extract` as floats in [0, 1] with
    shape (batch, channel, height, width). Audio batches arrive as (batch, samples) or
    (batch, 1, samples) float waveforms.

    Parameters
    ----------
    modality : {'image', 'audio'}
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
    """

    modality: str = "image"
    size: int | None = None
    channels: int | None = 3
    mean: tuple[float, ...] | None = IMAGENET_MEAN
    std: tuple[float, ...] | None = IMAGENET_STD
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        if self.modality not in ("image", "audio"):
            raise ValueError(f"Preprocessing.modality must be one of {{'image', 'audio'}}. Got {self.modality!r} instead.")
        if self.size is not None and (not isinstance(self.size, int) or self.size < 1):
            raise ValueError(f"Preprocessing.size must be a positive int or None; got {self.size!r}.")
        if self.channels not in (None, 1, 3):
            raise ValueError(f"Preprocessing.channels must be 1, 3 or None; got {self.channels!r}.")
        if (self.mean is None) != (self.std is None):
            raise ValueError("Preprocessing.mean and .std must be given together (or both None).")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError(f"Preprocessing.std must be positive; got {self.std!r}.")

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description (for provenance and cache keys)."""
        d = asdict(self)
        for k in ("mean", "std"):
            if d[k] is not None:
                d[k] = [float(v) for v in d[k]]
        return d

    def __call__(self, batch: Any) -> Any:
        """Apply to a batch tensor; see the class docstring for the expected shapes."""
        import torch
        import torch.nn.functional as F

        if self.modality == "audio":
            return batch.unsqueeze(1) if batch.dim() == 2 else batch
        if batch.dim() != 4:
            raise ValueError(
                f"Image preprocessing expects a (batch, channel, height, width) tensor; got shape {tuple(batch.shape)}."
            )
        x = batch.float()
        if self.channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif self.channels == 1 and x.shape[1] == 3:
            w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
            x = (x * w[None, :, None, None]).sum(dim=1, keepdim=True)
        elif self.channels is not None and x.shape[1] != self.channels:
            raise ValueError(f"The model expects {self.channels} channel(s); the stimuli have {x.shape[1]}.")
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


PREPROCESSING = Registry("preprocessing")
AUDIO_DEFAULT = Preprocessing(modality="audio", size=None, channels=None, mean=None, std=None, sample_rate=16000)


def register_preprocessing(model_name: str, prep: Preprocessing) -> Preprocessing:
    """Declare the preprocessing a registered model needs (its training-time input pipeline)."""
    if not isinstance(prep, Preprocessing):
        raise TypeError(f"register_preprocessing() takes a Preprocessing; got {type(prep).__name__}.")
    return PREPROCESSING.register(model_name, prep)


def get_preprocessing(model_name: str, *, in_channels: int | None = None) -> Preprocessing:
    """The registered preprocessing of ``model_name``, else ImageNet normalization at native size.

    ``in_channels=1`` (a grayscale model, e.g. trained on MNIST) switches the default to a
    one-channel pipeline with mean 0.5 / std 0.5.
    """
    if model_name in PREPROCESSING:
        prep = PREPROCESSING.get(model_name)
        if in_channels is not None and prep.modality == "image" and prep.channels not in (None, in_channels):
            prep = Preprocessing(size=prep.size, channels=in_channels, mean=None, std=None)
        return prep
    if in_channels == 1:
        return Preprocessing(channels=1, mean=(0.5,), std=(0.5,))
    return Preprocessing()


register_preprocessing("convnet_small", Preprocessing())
register_preprocessing("convnet_medium", Preprocessing())
for _tv in ("torchvision", "timm"):
    register_preprocessing(_tv, Preprocessing(size=224))
register_preprocessing("audio_conv1d_tiny", AUDIO_DEFAULT)
register_preprocessing("audio_spectrogram_tiny", AUDIO_DEFAULT)


# ----------------------------------------------------------------------------- tiny audio models
def _build_audio_conv1d_tiny(*, seed: int | None = 0, widths: tuple[int, ...] = (16, 32, 64)):
    """A tiny 1-D conv net on raw waveforms (batch, 1, samples) at 16 kHz.

    Three strided conv–ReLU–pool blocks (``block1..3``) and a global average pool (``pool``,
    (batch, widths[-1])). Random initialisation from ``seed``; no training. It exists so the
    auditory benchmark runs end to end — it is not a model of auditory cortex.
    """
    import torch
    from torch import nn

    layers: dict[str, nn.Module] = {}
    prev = 1
    for i, w in enumerate(widths, start=1):
        k, s = (64, 8) if i == 1 else (9, 2)
        layers[f"block{i}"] = nn.Sequential(nn.Conv1d(prev, w, k, stride=s, padding=k // 2), nn.ReLU(), nn.MaxPool1d(4))
        prev = w
    layers["pool"] = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())
    model = nn.Sequential()
    for name, mod in layers.items():
        model.add_module(name, mod)
    if seed is not None:
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for p in model.parameters():
                fan_in = p[0].numel() if p.dim() > 1 else 1
                p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / fan_in) ** 0.5 if p.dim() > 1 else torch.zeros_like(p))
    return model


def _build_audio_spectrogram_tiny(*, seed: int | None = 0, n_fft: int = 512, hop: int = 160, widths: tuple[int, ...] = (16, 32)):
    """A log-magnitude STFT front-end (``spectrogram``: 257 frequency × frame map, 32 ms windows,
    10 ms hops at 16 kHz) followed by two random 2-D conv blocks (``block1``, ``block2``) and a
    global average pool (``pool``). Random initialisation from ``seed``; no training.
    """
    import torch
    from torch import nn

    class LogSpectrogram(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, 1, samples) -> (batch, 1, freq, frames)
            spec = torch.stft(x.reshape(x.shape[0], -1), n_fft, hop_length=hop, window=self.window, return_complex=True)
            return torch.log1p(spec.abs()).unsqueeze(1)

    model = nn.Sequential()
    model.add_module("spectrogram", LogSpectrogram())
    prev = 1
    for i, w in enumerate(widths, start=1):
        model.add_module(f"block{i}", nn.Sequential(nn.Conv2d(prev, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4)))
        prev = w
    model.add_module("pool", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
    if seed is not None:
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:
                    p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / p[0].numel()) ** 0.5)
                else:
                    p.zero_()
    return model


_LOCAL_BUILDERS = {
    "audio_conv1d_tiny": _build_audio_conv1d_tiny,
    "audio_spectrogram_tiny": _build_audio_spectrogram_tiny,
}


# ----------------------------------------------------------------------------- resolution
@dataclass
class ResolvedModel:
    """A model with everything needed to score it reproducibly.

    Attributes
    ----------
    model : torch.nn.Module
    model_id : str
        Human-readable identity, e.g. ``"convnet_small(seed=0)"`` or ``"ckpt:run1/checkpoint.pt"``.
    weights_hash : str
        SHA-256 of the weights (:func:`neurocompare.cache.weights_hash`).
    preprocessing : Preprocessing
    spec : str
        The spec it was resolved from.
    source : str
        ``'registry'``, ``'checkpoint'``, ``'function'``, ``'torchvision'`` or ``'timm'``.
    kwargs : dict
        Builder keyword arguments used.
    """

    model: Any
    model_id: str
    weights_hash: str
    preprocessing: Preprocessing
    spec: str
    source: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        """JSON-serialisable identity: id, spec, source, kwargs, weights hash and preprocessing."""
        return {
            "model_id": self.model_id,
            "model_spec": self.spec,
            "model_source": self.source,
            "model_kwargs": json.loads(json.dumps(self.kwargs, default=str)),
            "weights_hash": self.weights_hash,
            "preprocessing": self.preprocessing.describe(),
        }


def _kwargs_text(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items()))


def _infer_in_channels(model: Any) -> int | None:
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return int(m.in_channels)
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            return None
    return None


def _strip_prefixes(state: dict[str, Any], target_keys: set[str]) -> dict[str, Any]:
    """Drop a common wrapper prefix (``module.``, ``backbone.``, ``model.``, ``encoder.``)."""
    if set(state) == target_keys:
        return state
    for prefix in ("module.", "backbone.", "model.", "encoder.", "net."):
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if sub and target_keys <= set(sub):
            return {k: sub[k] for k in target_keys}
    return state


def _from_checkpoint(path: Path, arch: str | None, kwargs: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise ValueError(
            f"Could not read checkpoint {path} with torch.load(weights_only=True): {err}. neurocompare reads only "
            "tensor/plain-value checkpoints (as written by neurocompare.training.save_checkpoint), never pickled code."
        ) from err
    if not isinstance(ckpt, dict):
        raise ValueError(f"Checkpoint {path} holds a {type(ckpt).__name__}; expected a dict with a state dict.")
    config = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    name = arch or config.get("model")
    build_kwargs = dict(config.get("model_kwargs") or {})
    build_kwargs.update(kwargs)
    if not name:
        raise ValueError(
            f"Checkpoint {path} does not say which architecture it holds (no config['model']). "
            "Pass arch='convnet_small' (CLI: --arch) with a name from neurocompare.models.MODELS.names()."
        )
    model = _build_named(name, build_kwargs)
    state = None
    for key in ("model", "state_dict", "model_state", "model_state_dict"):
        if isinstance(ckpt.get(key), dict):
            state = ckpt[key]
            break
    if state is None and all(hasattr(v, "shape") for v in ckpt.values()):
        state = ckpt
    if state is None:
        raise ValueError(
            f"Checkpoint {path} has no state dict under 'model', 'state_dict' or 'model_state'; keys: {sorted(ckpt)}."
        )
    target = set(model.state_dict())
    state = _strip_prefixes(state, target)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(
            f"Checkpoint {path} does not match architecture {name!r}: {str(err).splitlines()[-1].strip()} "
            "Pass the right arch= / model_kwargs."
        ) from None
    if missing:
        raise ValueError(
            f"Checkpoint {path} does not match architecture {name!r}: {len(missing)} missing key(s) "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}). "
            "Pass the right arch= / model_kwargs."
        )
    return model, name, build_kwargs


def _build_named(name: str, kwargs: dict[str, Any]) -> Any:
    if name in _LOCAL_BUILDERS:
        return _LOCAL_BUILDERS[name](**kwargs)
    from neurocompare.models import MODELS, build_model

    if name not in MODELS:
        options = MODELS.names() + sorted(_LOCAL_BUILDERS)
        from neurocompare.registry import close_matches_hint

        raise ValueError(
            f"Unknown model {name!r}.{close_matches_hint(name, options)} Available: {', '.join(options)}; "
            "or give a checkpoint file, 'package.module:function', 'torchvision:NAME' or 'timm:NAME'."
        )
    return build_model(name, **kwargs)


def model_names() -> list[str]:
    """Every name :func:`resolve_model` accepts as a registered builder."""
    from neurocompare.models import MODELS

    return sorted(set(MODELS.names()) | set(_LOCAL_BUILDERS))


def resolve_model(
    spec: Any,
    *,
    kwargs: dict[str, Any] | None = None,
    arch: str | None = None,
    preprocessing: Preprocessing | None = None,
) -> ResolvedModel:
    """Build or load the model named by ``spec``.

    Parameters
    ----------
    spec : str, path or torch.nn.Module
        See the module docstring. An ``nn.Module`` is wrapped as it is (id from its class name).
    kwargs : dict, optional
        Builder keyword arguments; registered builders default to ``seed=0`` so that a spec
        names one set of weights.
    arch : str, optional
        Architecture of a checkpoint that does not record it.
    preprocessing : Preprocessing, optional
        Overrides the registered preprocessing.

    Returns
    -------
    ResolvedModel
    """
    from neurocompare.cache import weights_hash

    kwargs = dict(kwargs or {})
    torch = importlib.import_module("torch")
    if isinstance(spec, torch.nn.Module):
        model = spec
        source, model_id, name = "object", type(spec).__name__, type(spec).__name__
    elif not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"A model spec must be a string, a path or an nn.Module; got {type(spec).__name__}.")
    else:
        text = os.fspath(spec)
        if text.endswith(CHECKPOINT_SUFFIXES) or Path(text).is_file():
            path = Path(text)
            if not path.is_file():
                raise FileNotFoundError(f"Checkpoint {path} does not exist. Give a path to a .pt/.pth/.ckpt file.")
            model, name, kwargs = _from_checkpoint(path, arch, kwargs)
            source, model_id = "checkpoint", f"{name}@{path.name}"
        elif text.startswith(("torchvision:", "timm:")):
            lib, _, rest = text.partition(":")
            arch_name, _, weights = rest.partition(":")
            if lib == "torchvision":
                tvm = importlib.import_module("neurocompare._optional").require("torchvision.models", f"model {text!r}")
                model = tvm.get_model(arch_name, weights=weights or None, **kwargs)
            else:
                timm = importlib.import_module("neurocompare._optional").require("timm", f"model {text!r}")
                model = timm.create_model(arch_name, pretrained=bool(weights), **kwargs)
            source, model_id, name = lib, text, lib
        elif ":" in text:
            mod_name, _, func_name = text.partition(":")
            try:
                module = importlib.import_module(mod_name)
            except ImportError as err:
                raise ValueError(f"Could not import {mod_name!r} from model spec {text!r}: {err}.") from err
            func = getattr(module, func_name, None)
            if not callable(func):
                raise ValueError(f"Model spec {text!r}: module {mod_name!r} has no callable {func_name!r}.")
            model = func(**kwargs)
            if not isinstance(model, torch.nn.Module):
                raise TypeError(f"Model spec {text!r} returned {type(model).__name__}; expected a torch.nn.Module.")
            source, model_id, name = "function", text + (f"({_kwargs_text(kwargs)})" if kwargs else ""), text
        else:
            kwargs.setdefault("seed", 0)
            model = _build_named(text, kwargs)
            source, model_id, name = "registry", f"{text}({_kwargs_text(kwargs)})", text
    if preprocessing is None:
        if isinstance(model, torch.nn.Module) and name in _LOCAL_BUILDERS:
            preprocessing = get_preprocessing(name)
        else:
            preprocessing = get_preprocessing(name, in_channels=_infer_in_channels(model))
    model.eval()
    return ResolvedModel(
        model=model,
        model_id=model_id,
        weights_hash=weights_hash(model),
        preprocessing=preprocessing,
        spec=str(spec) if not isinstance(spec, torch.nn.Module) else model_id,
        source=source,
        kwargs=kwargs,
    )
