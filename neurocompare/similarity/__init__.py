"""Representational similarity measures: RDMs, RSA, CKA, CCA, shape metrics, regression
predictivity, noise ceilings and statistics.

Every measure is a function ``(x, y, **params) -> float`` registered by name in ``METRICS``;
``get_metric("cka_linear")`` returns it.
"""

from __future__ import annotations

from neurocompare.similarity._common import METRICS

__all__ = ["METRICS", "get_metric"]


def get_metric(name: str):
    """Return the measure registered as ``name`` (the error lists the available names)."""
    return METRICS.get(name)


# Submodules register their measures on import; add one line per module below.
from neurocompare.similarity import rdm, rsa, cka, cca, shape  # noqa: E402,F401  (part A: register measures)
from neurocompare.similarity import regression, ceiling  # noqa: E402,F401  (part B: register measures)
