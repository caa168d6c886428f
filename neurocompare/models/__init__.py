"""Model builders, registered by name: ``build_model("convnet_small", seed=0)``.

Every builder returns a plain ``torch.nn.Module`` and takes keyword arguments only.
Register a new one with ``@MODELS.register("name")``; a test runs extraction on each.
"""

from __future__ import annotations

from typing import Any

from neurocompare.registry import Registry

MODELS = Registry("model")

__all__ = ["MODELS", "build_model"]


def build_model(name: str, **kwargs: Any):
    """Build the registered model ``name`` with builder keyword arguments ``kwargs``.

    Parameters
    ----------
    name : str
        A name from ``MODELS.names()``.
    **kwargs
        Passed to the builder (e.g. ``seed``, ``num_classes``, ``in_channels``).

    Returns
    -------
    torch.nn.Module
    """
    return MODELS.get(name)(**kwargs)


from neurocompare.models import convnets  # noqa: E402,F401  (registers on import)
from neurocompare.models import resnet  # noqa: E402,F401  (registers resnet18, resnet18_small)
from neurocompare.models import mlp  # noqa: E402,F401  (registers mlp)
from neurocompare.models import path_integration  # noqa: E402,F401  (registers path_integrator_rnn/gru/lstm, ssl_path_integrator)
