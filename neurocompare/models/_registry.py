"""The model registry: each model is registered once, with its builder and its preprocessing.

``MODELS`` maps a name to a builder (a function of keyword arguments returning an
``nn.Module``); ``MODELS.get(name)`` returns that builder, so ``MODELS.get(name)(seed=0)``
builds. What the stimuli need before the model (:class:`Preprocessing`) and a one-line
description are registered with it and read with :meth:`ModelRegistry.entry`.

Examples
--------
>>> from torch import nn
>>> REG = ModelRegistry()
>>> @REG.register("tiny", preprocessing=Preprocessing.identity(), description="one linear layer")
... def tiny(*, seed=0):
...     return nn.Linear(3, 2)
>>> REG.entry("tiny").preprocessing.is_identity, REG.entry("tiny").description
(True, 'one linear layer')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neurocompare.models._preprocessing import Preprocessing
from neurocompare.registry import Registry

__all__ = ["MODELS", "ModelEntry", "ModelRegistry", "build_model", "model_names", "register_model"]


@dataclass(frozen=True)
class ModelEntry:
    """One registered model.

    Attributes
    ----------
    name : str
    builder : callable
        Keyword arguments only (``seed``, ``num_classes``, ``in_channels``, ...) -> ``nn.Module``.
    preprocessing : Preprocessing
        What :func:`neurocompare.extract` and :func:`neurocompare.score` do to the stimuli before
        the model. Models registered without one get :meth:`Preprocessing.identity` (stimuli
        are fed as they are).
    description : str
        One line (default: the first line of the builder's docstring).
    """

    name: str
    builder: Callable[..., Any]
    preprocessing: Preprocessing
    description: str

    @property
    def modality(self) -> str:
        """``'image'`` or ``'audio'`` (from the preprocessing)."""
        return self.preprocessing.modality


class ModelRegistry(Registry):
    """A :class:`~neurocompare.registry.Registry` of model builders that also keeps their preprocessing.

    ``register(name, builder)`` and ``@register(name)`` work as for any registry; the keyword
    arguments ``preprocessing=`` and ``description=`` attach the rest of the entry.
    """

    def __init__(self, kind: str = "model") -> None:
        super().__init__(kind)
        self._entries: dict[str, ModelEntry] = {}

    def register(
        self,
        name: str,
        obj: Any = None,
        *,
        preprocessing: Preprocessing | None = None,
        description: str | None = None,
    ) -> Any:
        """Register a builder under ``name``; usable as ``@MODELS.register("name", preprocessing=...)``.

        Raises
        ------
        TypeError
            ``preprocessing`` is not a :class:`Preprocessing`, or the builder is not callable.
        ValueError
            ``name`` is already registered.
        """
        if preprocessing is not None and not isinstance(preprocessing, Preprocessing):
            raise TypeError(
                f"The 'preprocessing' of model {name!r} must be a neurocompare.models.Preprocessing; "
                f"got {type(preprocessing).__name__}."
            )
        add = super().register(name)

        def _add(builder: Any) -> Any:
            if not callable(builder):
                raise TypeError(f"A model builder must be callable; got {type(builder).__name__} for {name!r}.")
            add(builder)
            doc = (getattr(builder, "__doc__", None) or "").strip().splitlines()
            self._entries[name] = ModelEntry(
                name=name,
                builder=builder,
                preprocessing=preprocessing or Preprocessing.identity(),
                description=description if description is not None else (doc[0] if doc else ""),
            )
            return builder

        if obj is not None:
            return _add(obj)
        return _add

    def entry(self, name: str) -> ModelEntry:
        """The :class:`ModelEntry` of ``name`` (a ``KeyError`` listing close names when unknown)."""
        self.get(name)  # the standard unknown-name message
        return self._entries[name]


#: every model neurocompare can build by name
MODELS = ModelRegistry("model")


def register_model(
    name: str,
    builder: Callable[..., Any] | None = None,
    *,
    preprocessing: Preprocessing | None = None,
    description: str | None = None,
) -> Any:
    """Register a model builder with its preprocessing; also usable as a decorator.

    Parameters
    ----------
    name : str
        The name :func:`build_model`, :func:`neurocompare.extract` and ``neurocompare score
        --model`` accept.
    builder : callable, optional
        Keyword arguments only -> ``torch.nn.Module``. Omit it to use ``register_model`` as a
        decorator.
    preprocessing : Preprocessing, optional
        What the model needs done to the stimuli (default: nothing).
    description : str, optional
        One line for listings (default: the builder docstring's first line).

    Examples
    --------
    In your own module (registration happens on import)::

        @register_model("my_net", preprocessing=Preprocessing(size=224))
        def my_net(*, seed=0):
            return MyNet()

    >>> MODELS.entry("convnet_small").preprocessing.mean
    (0.485, 0.456, 0.406)
    """
    return MODELS.register(name, builder, preprocessing=preprocessing, description=description)


def build_model(name: str, **kwargs: Any) -> Any:
    """Build the registered model ``name``.

    Parameters
    ----------
    name : str
        A name from :func:`model_names`.
    **kwargs
        Passed to the builder (e.g. ``seed``, ``num_classes``, ``in_channels``). Without
        ``seed`` the builder's default applies (0 for the models shipped here).

    Returns
    -------
    torch.nn.Module
        The bare module; its registered preprocessing is ``MODELS.entry(name).preprocessing``
        (``resolve_model(name)`` returns both).
    """
    return MODELS.get(name)(**kwargs)


def model_names() -> list[str]:
    """Every registered model name, sorted."""
    return MODELS.names()
