"""The result of scoring a model (or a set of activations) on a benchmark: :class:`Score`.

A leaf type: it imports nothing from the rest of the package, so plotting, I/O and the
distributed sweep can all use it. Writing and reading scores: :mod:`neurocompare.benchmarks.io`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._result import Result

__all__ = ["Score"]


@dataclass
class Score(Result):
    """The result of scoring one model on one benchmark.

    Attributes
    ----------
    value : float
        Ceiled score, ``raw / ceiling`` (``raw`` when there is no ceiling). Not clipped.
    raw : float
        Mean over splits of the held-out score of the layer chosen on each split's training data.
    ceiling : float or None
    error : float
        Standard deviation over splits, on the scale of ``value`` (see ``error_kind``).
    raw_error : float
        Standard deviation over splits of the raw score.
    layer : str
        The layer chosen most often across splits.
    layers : dict
        ``{layer: {'raw', 'value', 'error'}}``: each layer's held-out score (mean over splits).
        Picking the best of these would be double dipping; ``value`` does not.
    selected_layers : list of str
        The layer chosen on each split.
    per_split : list of float
        Raw held-out score of each split.
    benchmark : str
    metric : str
    normalization : str
        How ``value`` was obtained from ``raw`` and ``ceiling``.
    flags : list of str
        ``'above_ceiling'`` (value > 1), ``'low_ceiling'`` (ceiling < 0.2), ``'nan_targets'``.
    ceiling_bounds : dict
        Extra ceiling information (e.g. Nili lower and upper bounds).
    provenance : dict
        Model id, weights hash, preprocessing, benchmark and version, metric, seed, package
        version, git commit, timestamps.
    error_kind : str
        What ``error`` is: ``'sd over N splits'`` (the splits share training stimuli, so the
        spread over splits is reported, not a standard error).
    ci : tuple or None
        A confidence interval when one was computed (none by default).
    """

    value: float
    raw: float
    ceiling: float | None
    error: float
    raw_error: float
    layer: str
    layers: dict[str, dict[str, float]]
    selected_layers: list[str]
    per_split: list[float]
    benchmark: str
    metric: str
    normalization: str
    flags: list[str] = field(default_factory=list)
    ceiling_bounds: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    error_kind: str = "none"
    ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN written as ``None``)."""
        return _json_clean(dataclasses.asdict(self))

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Score":
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        for k in ("value", "raw", "error", "raw_error"):
            if kwargs.get(k) is None:
                kwargs[k] = float("nan")
        if kwargs.get("ci") is not None:
            kwargs["ci"] = tuple(kwargs["ci"])
        return cls(**kwargs)

    def to_dataarray(self) -> xr.DataArray:
        """Per-layer scores as a DataArray with dims ('layer', 'quantity') and the provenance in attrs."""
        names = list(self.layers)
        qty = ["raw", "value", "error"]
        values = np.array([[self.layers[n].get(q, np.nan) for q in qty] for n in names], dtype=float).reshape(len(names), 3)
        attrs = {k: v for k, v in self.to_dict().items() if k not in ("layers",)}
        return xr.DataArray(values, dims=("layer", "quantity"), coords={"layer": np.array(names), "quantity": np.array(qty)}, attrs=attrs)

    def __repr__(self) -> str:
        ceil = "none" if self.ceiling is None else f"{self.ceiling:.3f}"
        flags = f", flags={self.flags}" if self.flags else ""
        return (
            f"Score({self.benchmark}: value={self.value:.3f} ± {self.error:.3f} ({self.error_kind}), raw={self.raw:.3f}, "
            f"ceiling={ceil}, layer={self.layer!r}{flags})"
        )


def _json_clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _json_clean(obj.tolist())
    return obj
