"""Turn a model *spec* into a model, its preprocessing and its identity: :func:`resolve_model`.

A spec is one of

- a registered name: ``"convnet_small"`` (see :data:`neurocompare.models.MODELS`), built with
  ``seed=0`` unless ``kwargs`` say otherwise;
- a checkpoint file written by :mod:`neurocompare.training` (``*.pt``/``*.pth``/``*.ckpt``): read
  with ``torch.load(weights_only=True)`` (no pickled code), the architecture rebuilt from its
  ``config`` (``model``, ``model_kwargs``) or from ``arch=``;
- ``"package.module:function"``: any importable function returning an ``nn.Module``;
- ``"torchvision:resnet18"`` or ``"timm:resnet18"`` (when those libraries are installed;
  ``"torchvision:resnet18:DEFAULT"`` asks for the library's default pretrained weights);
- an ``nn.Module`` (used as it is) or a :class:`ResolvedModel` (returned as it is).

Which preprocessing a spec gets (one rule for :func:`neurocompare.extract`,
:func:`neurocompare.score` and the command line):

- a registered name, or a checkpoint of a registered architecture: the preprocessing it was
  registered with (:func:`neurocompare.models.register_model`); built or trained with
  ``in_channels=1`` for a model registered as RGB, grayscale without normalization;
- ``torchvision:``/``timm:``: ImageNet normalization at 224×224;
- ``module:function``: the ``preprocessing`` attribute of the function when it has one (a
  registered builder's entry when the function is one), else none;
- a bare ``nn.Module``: none — the stimuli reach the module as they are.

``preprocessing=`` overrides the rule in every case.

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from neurocompare._optional import require
from neurocompare.models._preprocessing import Preprocessing
from neurocompare.models._registry import MODELS
from neurocompare.models._weights import weights_hash
from neurocompare.registry import close_matches_hint

__all__ = ["ResolvedModel", "resolve_model"]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
#: torchvision and timm models expect ImageNet-normalized 224x224 RGB images
LIBRARY_PREPROCESSING = Preprocessing(size=224)


@dataclass
class ResolvedModel:
    """A model with everything needed to extract from it and score it reproducibly.

    Attributes
    ----------
    model : torch.nn.Module
        In eval mode.
    model_id : str
        Human-readable identity, e.g. ``"convnet_small(seed=0)"`` or ``"convnet_small@checkpoint.pt"``.
    weights_hash : str
        SHA-256 of the weights (:func:`neurocompare.models.weights_hash`).
    preprocessing : Preprocessing
        What is done to the stimuli before the model (see the module docstring for the rule).
    spec : str
        The spec it was resolved from.
    source : str
        ``'registry'``, ``'checkpoint'``, ``'function'``, ``'torchvision'``, ``'timm'`` or ``'object'``.
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
    """Input channels of the first conv of an image model (``None`` when it starts otherwise)."""
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return int(m.in_channels)
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            return None
    return None


def _fit_channels(prep: Preprocessing, model: Any) -> Preprocessing:
    """A model registered as RGB but built for one channel gets grayscale input, unnormalized."""
    in_channels = _infer_in_channels(model)
    if in_channels is not None and prep.modality == "image" and prep.channels not in (None, in_channels):
        return Preprocessing(size=prep.size, channels=in_channels, mean=None, std=None)
    return prep


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
    except Exception as err:  # noqa: BLE001  (torch's own text advises weights_only=False: not repeated)
        import re

        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        reason = f"it holds pickled objects such as {found.group(1)}" if found else f"{type(err).__name__}, truncated or not a checkpoint"
        raise ValueError(
            f"Could not read checkpoint {path} with torch.load(weights_only=True) ({reason}). neurocompare reads only "
            "tensor/plain-value checkpoints (as written by neurocompare.training.save_checkpoint), never pickled code: "
            "re-save the weights with torch.save(model.state_dict(), path)."
        ) from None
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
    if name not in MODELS:
        options = MODELS.names()
        raise ValueError(
            f"Unknown model {name!r}.{close_matches_hint(name, options)} Available: {', '.join(options)}; "
            "or give a checkpoint file, 'package.module:function', 'torchvision:NAME' or 'timm:NAME'."
        )
    return MODELS.get(name)(**kwargs)


def _function_preprocessing(func: Any) -> Preprocessing | None:
    prep = getattr(func, "preprocessing", None)
    if isinstance(prep, Preprocessing):
        return prep
    for name, builder in MODELS.items():
        if builder is func:
            return MODELS.entry(name).preprocessing
    return None


def resolve_model(
    spec: Any,
    *,
    kwargs: dict[str, Any] | None = None,
    arch: str | None = None,
    preprocessing: Preprocessing | None = None,
) -> ResolvedModel:
    """Build or load the model named by ``spec``, with its preprocessing and identity.

    Parameters
    ----------
    spec : str, path, torch.nn.Module or ResolvedModel
        See the module docstring.
    kwargs : dict, optional
        Builder keyword arguments; registered builders default to ``seed=0`` so that a spec
        names one set of weights.
    arch : str, optional
        Architecture of a checkpoint that does not record it.
    preprocessing : Preprocessing, optional
        Overrides the preprocessing the rule in the module docstring gives.

    Returns
    -------
    ResolvedModel

    Raises
    ------
    ValueError
        Unknown name (with close matches), unreadable or mismatched checkpoint, bad ``module:function``.
    TypeError
        A spec of another type, or a function that does not return an ``nn.Module``.
    """
    import torch

    if preprocessing is not None and not isinstance(preprocessing, Preprocessing):
        raise TypeError(
            f"resolve_model(preprocessing=...) takes a neurocompare.models.Preprocessing; got {type(preprocessing).__name__}."
        )
    if isinstance(spec, ResolvedModel):
        return spec if preprocessing is None else replace(spec, preprocessing=preprocessing)
    kwargs = dict(kwargs or {})
    prep: Preprocessing | None = None
    if isinstance(spec, torch.nn.Module):
        model = spec
        source, model_id = "object", type(spec).__name__
    elif not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"A model spec must be a string, a path, an nn.Module or a ResolvedModel; got {type(spec).__name__}."
        )
    else:
        text = os.fspath(spec)
        if text.endswith(CHECKPOINT_SUFFIXES) or Path(text).is_file():
            path = Path(text)
            if not path.is_file():
                raise FileNotFoundError(f"Checkpoint {path} does not exist. Give a path to a .pt/.pth/.ckpt file.")
            model, name, kwargs = _from_checkpoint(path, arch, kwargs)
            source, model_id = "checkpoint", f"{name}@{path.name}"
            prep = _fit_channels(MODELS.entry(name).preprocessing, model)
        elif text.startswith(("torchvision:", "timm:")):
            lib, _, rest = text.partition(":")
            arch_name, _, weights = rest.partition(":")
            if lib == "torchvision":
                tvm = require("torchvision.models", f"model {text!r}")
                model = tvm.get_model(arch_name, weights=weights or None, **kwargs)
            else:
                timm = require("timm", f"model {text!r}")
                model = timm.create_model(arch_name, pretrained=bool(weights), **kwargs)
            source, model_id = lib, text
            prep = _fit_channels(LIBRARY_PREPROCESSING, model)
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
            source, model_id = "function", text + (f"({_kwargs_text(kwargs)})" if kwargs else "")
            found = _function_preprocessing(func)
            prep = _fit_channels(found, model) if found is not None else None
        else:
            kwargs.setdefault("seed", 0)
            model = _build_named(text, kwargs)
            source, model_id = "registry", f"{text}({_kwargs_text(kwargs)})"
            prep = _fit_channels(MODELS.entry(text).preprocessing, model)
    if preprocessing is None:
        preprocessing = prep if prep is not None else Preprocessing.identity()
    model.eval()
    return ResolvedModel(
        model=model,
        model_id=model_id,
        weights_hash=weights_hash(model),
        preprocessing=preprocessing,
        spec=model_id if isinstance(spec, torch.nn.Module) else str(spec),
        source=source,
        kwargs=kwargs,
    )
