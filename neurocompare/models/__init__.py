"""Models, each registered once together with its preprocessing.

- :data:`MODELS` / :func:`register_model`: the registry. A builder takes keyword arguments only
  (``seed``, ``num_classes``, ``in_channels``, ...) and returns a plain ``torch.nn.Module``; its
  :class:`Preprocessing` (resize, grayscale↔RGB, normalization, or audio) is registered with it.
- :func:`build_model`: the bare module; :func:`resolve_model`: the module *with* its
  preprocessing, id and weights hash (a :class:`ResolvedModel`), from a name, a checkpoint, a
  ``module:function``, ``torchvision:``/``timm:`` or an ``nn.Module``. :func:`neurocompare.extract`
  and :func:`neurocompare.score` both go through :func:`resolve_model`, so they feed a model the
  same input.
- :func:`he_normal_`: the seeded initialisation of every builder here; :func:`weights_hash`:
  a model's identity.

Registered here: ``convnet_small``, ``convnet_medium``, ``resnet18``, ``resnet18_small`` (ImageNet
normalization), ``mlp`` (no preprocessing), ``audio_conv1d_tiny``, ``audio_spectrogram_tiny``
(16 kHz waveforms) the path integrators of ``neurocompare.models.path_integration`` and the feed-forward
``spatial_code_ff`` of ``neurocompare.models.spatial_code``, and ``convnet_small_simclr`` (trained
weights shipped with the package, :mod:`neurocompare.models.pretrained`).
A test builds and runs every registered model, so a new one is tested when it is registered.

Examples
--------
>>> from neurocompare.models import build_model, resolve_model
>>> net = build_model("convnet_small", seed=0)
>>> rm = resolve_model("convnet_small")
>>> rm.preprocessing.mean
(0.485, 0.456, 0.406)
"""

from __future__ import annotations

from neurocompare.models._preprocessing import AUDIO_16K, IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from neurocompare.models._registry import MODELS, ModelEntry, ModelRegistry, build_model, model_names, register_model
from neurocompare.models._specs import ResolvedModel, resolve_model
from neurocompare.models._weights import he_normal_, weights_hash

# builders register themselves on import
from neurocompare.models import convnets  # noqa: E402,F401
from neurocompare.models import resnet  # noqa: E402,F401
from neurocompare.models import mlp  # noqa: E402,F401
from neurocompare.models import audio  # noqa: E402,F401
from neurocompare.models import path_integration  # noqa: E402,F401
from neurocompare.models import spatial_code  # noqa: E402,F401
from neurocompare.models import future_prediction  # noqa: E402,F401
from neurocompare.models.future_prediction import FuturePredictor, future_predictor, train_future_prediction  # noqa: E402
from neurocompare.models import pretrained  # noqa: E402,F401  (shipped weights: convnet_small_simclr)

__all__ = [
    "AUDIO_16K",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MODELS",
    "ModelEntry",
    "ModelRegistry",
    "Preprocessing",
    "ResolvedModel",
    "FuturePredictor",
    "build_model",
    "future_predictor",
    "he_normal_",
    "model_names",
    "register_model",
    "resolve_model",
    "train_future_prediction",
    "weights_hash",
]
