"""The metric registry: every measure is registered by name with its family and direction.

Two families, one protocol (:mod:`neurocompare.benchmarks`):

- ``'representational'``: a function ``(x, y, **params) -> float`` computed within a stimulus
  subset (RSA, CKA, CCA, shape metrics). A benchmark computes it on each split's training
  stimuli (to choose the layer) and on its held-out stimuli (the reported score).
- ``'mapped'``: a fitted mapping from ``x`` to ``y``: an ``estimator(**params)`` factory whose
  objects follow scikit-learn (``fit(x, y)`` returns self, ``predict(x)``, fitted attributes end
  in ``_``). A benchmark fits it on the training stimuli and scores the held-out predictions by
  per-unit Pearson r; the layer is chosen on leave-one-out predictions (``loo_predictions_``,
  ridge) or inner folds inside the training stimuli. ``func`` is the convenience function
  (e.g. :func:`neurocompare.similarity.ridge`), the whole protocol on one pair.

``direction`` says whether larger is more similar (``'similarity'``) or less (``'distance'``);
a benchmark chooses the layer with the best selection score in that direction.

Examples
--------
>>> import numpy as np
>>> @register_metric("mean_abs_corr", family="representational")
... def mean_abs_corr(x, y):
...     return float(np.abs(np.corrcoef(x.T, y.T)[: x.shape[1], x.shape[1]:]).mean())
>>> get_metric("mean_abs_corr").family
'representational'
>>> _ = METRICS._items.pop("mean_abs_corr")   # (keep the doctest from registering it for good)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neurocompare.registry import Registry

__all__ = ["FAMILIES", "DIRECTIONS", "METRICS", "Metric", "as_metric", "get_metric", "list_metrics", "register_metric"]

FAMILIES = ("representational", "mapped")
DIRECTIONS = ("similarity", "distance")
METRICS = Registry("metric")


@dataclass(frozen=True)
class Metric:
    """A measure with what the protocol needs to know about it.

    Attributes
    ----------
    name : str
    func : callable
        ``(x, y, **params) -> float``; ``x``, ``y`` : (n_stimuli, n_features) arrays, tensors or
        Responses. Calling the Metric calls ``func``.
    family : {'representational', 'mapped'}
    direction : {'similarity', 'distance'}
    estimator : callable, optional
        Mapped metrics: ``estimator(**params)`` returns an unfitted scikit-learn-style mapping.
    reverse : bool
        Mapped metrics: the mapping predicts ``x`` (model) from ``y`` (recorded data).
    rdm : tuple (rdm_method, compare), optional
        RSA metrics: how an RDM is computed from responses and how two RDMs are compared; such
        a metric also scores against recorded RDM stacks.
    defaults : dict
        Parameters the protocol passes unless the benchmark's ``metric_kwargs`` say otherwise.
    """

    name: str
    func: Callable[..., float]
    family: str = "representational"
    direction: str = "similarity"
    estimator: Callable[..., Any] | None = None
    reverse: bool = False
    rdm: tuple[str, str] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"The 'family' of metric {self.name!r} must be one of {set(FAMILIES)}. Got {self.family!r} instead.")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"The 'direction' of metric {self.name!r} must be one of {set(DIRECTIONS)}. Got {self.direction!r} instead.")
        if not callable(self.func):
            raise TypeError(f"Metric {self.name!r} needs a callable func; got {type(self.func).__name__}.")
        if self.family == "mapped" and not callable(self.estimator):
            raise ValueError(
                f"A mapped metric needs an estimator factory (estimator(**params) -> object with fit/predict); "
                f"metric {self.name!r} has none. Register it with estimator=..., or as family='representational'."
            )

    def __call__(self, x: Any, y: Any, **params: Any) -> float:
        return self.func(x, y, **params)


def register_metric(
    name: str | None = None,
    func: Callable[..., float] | None = None,
    *,
    family: str = "representational",
    direction: str = "similarity",
    estimator: Callable[..., Any] | None = None,
    reverse: bool = False,
    rdm: tuple[str, str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> Any:
    """Register a measure; usable as ``@register_metric("name", family=...)`` or called with ``func``.

    Parameters
    ----------
    name : str, optional
        Registry name (default: ``func.__name__``).
    func : callable, optional
        ``(x, y, **params) -> float``; omitted when used as a decorator.
    family, direction, estimator, reverse, rdm, defaults
        See :class:`Metric`.

    Returns
    -------
    The function itself (so a decorated function stays a plain function).

    Raises
    ------
    ValueError
        A duplicate name, an unknown family or direction, a mapped metric without estimator.
    """

    def add(f: Callable[..., float]) -> Callable[..., float]:
        metric = Metric(name or f.__name__, f, family, direction, estimator, reverse, rdm, dict(defaults or {}))
        METRICS.register(metric.name, metric)
        return f

    return add(func) if func is not None else add


def get_metric(name: str) -> Metric:
    """The :class:`Metric` registered as ``name`` (the error lists the available names)."""
    return METRICS.get(name)


def list_metrics(family: str | None = None) -> list[str]:
    """Registered metric names, optionally only those of one ``family``."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"The 'family' parameter of list_metrics() must be one of {set(FAMILIES)}. Got {family!r} instead.")
    return [n for n, m in METRICS.items() if family is None or m.family == family]


def as_metric(metric: Any) -> Metric:
    """A :class:`Metric` from a registered name, a Metric, or a plain callable (representational).

    Raises
    ------
    KeyError
        An unknown name (with the available ones).
    TypeError
        Anything else.
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        return get_metric(metric)
    if callable(metric):
        return Metric(getattr(metric, "__name__", type(metric).__name__), metric, "representational", "similarity")
    raise TypeError(
        f"A metric is a registered name (e.g. 'ridge', 'cka_linear'), a neurocompare.similarity.Metric or a "
        f"callable (x, y) -> float; got {type(metric).__name__}. Available names: {', '.join(METRICS.names())}."
    )
