"""One result vocabulary: every result object has ``value``, ``error``, ``error_kind`` and ``ci``.

- ``value`` : float, the number a user reports;
- ``error`` : float, its uncertainty (NaN when none is defined);
- ``error_kind`` : str, what ``error`` is, in words, e.g. ``"sem over 10 splits"``,
  ``"sd over 10 splits"``, ``"bootstrap sd (1000 resamples)"`` or ``"none"``;
- ``ci`` : (low, high) or None, a confidence interval when one was computed;
- ``float(result)`` is ``result.value``.

Result types (``Score``, ``PredictivityResult``, ``CeilingResult``, ``BootstrapResult``,
``PermutationResult``, ...) are dataclasses that inherit :class:`Result`; ``tests/test_api.py``
checks each one for these four attributes.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Result", "sem_over", "sd_over"]


class Result:
    """Mixin for result dataclasses: ``float(r)``, formatting and :meth:`summary`."""

    value: float
    error: float
    error_kind: str
    ci: tuple[float, float] | None

    def __float__(self) -> float:
        return float(self.value)

    def __format__(self, spec: str) -> str:
        return format(float(self), spec) if spec else repr(self)

    def summary(self) -> str:
        """``'0.512 ± 0.031 (sem over 10 splits)'``, plus the interval when there is one."""
        text = f"{self.value:.4g}"
        if self.error is not None and math.isfinite(self.error):
            text += f" ± {self.error:.2g} ({self.error_kind})"
        if self.ci is not None:
            text += f", CI [{self.ci[0]:.4g}, {self.ci[1]:.4g}]"
        return text


def sem_over(values: Any, what: str = "splits") -> tuple[float, str]:
    """Standard error of the mean of ``values`` (ddof=1) and its ``error_kind`` text."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), "none"
    return float(v.std(ddof=1) / math.sqrt(v.size)), f"sem over {v.size} {what}"


def sd_over(values: Any, what: str = "splits") -> tuple[float, str]:
    """Standard deviation of ``values`` (ddof=1) and its ``error_kind`` text."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), "none"
    return float(v.std(ddof=1)), f"sd over {v.size} {what}"
