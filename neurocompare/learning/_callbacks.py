"""Track neural collapse and weight ranks during training, at log-spaced epochs.

:class:`CollapseTracker` is a callback for :func:`neurocompare.train` (``train(...,
callback=tracker)``): the loop calls ``tracker(step, metrics)`` after every logged step, and the
tracker measures when the step has reached the next epoch of a log-spaced schedule (the
terminal phase of training is long; log spacing gives each decade the same number of points).
Every measurement is appended to a JSON-lines file as it is made, so an interrupted run keeps
what it measured.

Example
-------
>>> import torch, neurocompare as nc
>>> x, y = torch.randn(60, 5), torch.arange(60) % 3
>>> model = nc.build_model("mlp", in_features=5, hidden=(8,), num_classes=3)
>>> tracker = nc.learning.CollapseTracker(model, (x, y), nc1="papyan", steps_per_epoch=1, epochs=8, n_evals=4)
>>> def objective(m, batch):
...     return torch.nn.functional.cross_entropy(m(batch[0]), batch[1])
>>> _ = nc.train(model, objective, lambda step: (x, y), steps=8, log_every=1, progress=False, callback=tracker)
>>> [row["epoch"] for row in tracker.history]
[1.0, 2.0, 4.0, 8.0]
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from neurocompare.learning._collapse import check_nc1_variant
from neurocompare.learning._layerwise import layerwise_collapse
from neurocompare.learning._rank import effective_rank, weight_layers

__all__ = ["CollapseTracker", "log_spaced_epochs"]


def log_spaced_epochs(epochs: int, n: int) -> list[int]:
    """About ``n`` distinct integer epochs from 1 to ``epochs``, evenly spaced in log scale (both ends included).

    Raises
    ------
    ValueError
        ``epochs`` or ``n`` below 1.

    Examples
    --------
    >>> log_spaced_epochs(100, 5)
    [1, 3, 10, 32, 100]
    """
    if int(epochs) < 1 or int(n) < 1:
        raise ValueError(f"epochs and n must be >= 1; got epochs={epochs!r}, n={n!r}.")
    if n == 1:
        return [int(epochs)]
    return sorted({int(round(v)) for v in np.geomspace(1, int(epochs), int(n))})


class CollapseTracker:
    """A training callback that measures NC1-NC4, layer-wise NC1 and weight ranks at log-spaced epochs.

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained (the same object passed to :func:`neurocompare.train`).
    data : tuple (x, y)
        The training samples to measure on (x of dims (sample, ...), y of dims (sample,)).
    nc1 : {'papyan', 'han', 'tirer', 'cdnv'}
        The NC1 variant (required; all four are recorded).
    steps_per_epoch : int
        Optimizer steps in one epoch (to turn steps into epochs).
    epochs : int
        Length of the run in epochs; the schedule is :func:`log_spaced_epochs` ``(epochs, n_evals)``.
        ``log_every`` of the loop should divide ``steps_per_epoch`` so measurements fall on epochs.
    n_evals : int
    layers : sequence of str, optional
        Layers for the layer-wise NC1 (default: the inputs of every linear layer).
    eps : float
        Threshold of the ε-rank (:func:`effective_rank`).
    test_data : tuple (x, y), optional
        Held-out samples for a test accuracy.
    path : path-like, optional
        JSON-lines file each measurement is appended to (flushed at once).
    **kwargs
        Passed to :func:`layerwise_collapse` (``chunk_size``, ``batch_size``, ``reduce``,
        ``preprocessing``, ``classifier``).

    Attributes
    ----------
    history : list of dict
        One row per measurement: ``step``, ``epoch``, the loop's metrics (``loss``...), the
        classifier-input layer's NC measures (``nc1``, ``nc1_<variant>``, ``nc2_*``, ``nc3``,
        ``nc4``, ``accuracy``, ``ncc_accuracy``), ``test_accuracy``, ``layer_nc1`` ({layer:
        NC1}), ``alignment`` ({linear layer: mean alignment}), ``rank`` ({weight layer: ε-rank})
        and ``entropy_rank``.
    schedule : list of int
        The epochs at which it measures.

    References
    ----------
    Papyan, Han & Donoho (2020) PNAS 117:24652 (NC over epochs, log scale).
    """

    def __init__(self, model: Any, data: Any, *, nc1: str, steps_per_epoch: int, epochs: int, n_evals: int = 20,
                 layers: Any = None, eps: float = 1e-3, test_data: Any = None, path: str | os.PathLike | None = None,
                 **kwargs: Any) -> None:
        check_nc1_variant(nc1, "CollapseTracker")
        if int(steps_per_epoch) < 1:
            raise ValueError(f"steps_per_epoch must be >= 1; got {steps_per_epoch!r}.")
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise TypeError(f"data must be a tuple (x, y) of training samples; got {type(data).__name__}.")
        self.model, self.data, self.nc1 = model, data, nc1
        self.steps_per_epoch = int(steps_per_epoch)
        self.schedule = log_spaced_epochs(epochs, n_evals)
        self.layers, self.eps, self.test_data = layers, float(eps), test_data
        self.path = Path(path) if path is not None else None
        self.kwargs = {"progress": False, **kwargs}
        self.history: list[dict[str, Any]] = []
        self._next = 0

    def __call__(self, step: int, metrics: dict[str, float] | None = None) -> None:
        """Measure if ``step`` has reached the next scheduled epoch (called by the training loop)."""
        due = False
        while self._next < len(self.schedule) and step >= self.schedule[self._next] * self.steps_per_epoch:
            self._next += 1
            due = True
        if due:
            self.evaluate(step, metrics)

    def evaluate(self, step: int, metrics: dict[str, float] | None = None) -> dict[str, Any]:
        """Measure now (e.g. ``tracker.evaluate(0)`` at initialisation), append to ``history`` and the file."""
        lw = layerwise_collapse(self.model, self.data, self.layers, nc1=self.nc1, **self.kwargs)
        row: dict[str, Any] = {"step": int(step), "epoch": step / self.steps_per_epoch}
        row.update({k: float(v) for k, v in (metrics or {}).items() if k not in ("step", "epoch")})
        if lw.classifier is not None:
            row.update(lw.results[lw.inputs[lw.classifier]].as_dict() if lw.inputs[lw.classifier] in lw.results
                       else {})
        row["test_accuracy"] = self._test_accuracy() if self.test_data is not None else math.nan
        row["layer_nc1"] = lw.nc1()
        row["alignment"] = dict(lw.alignment)
        modules = dict(self.model.named_modules())
        names = weight_layers(self.model)
        row["rank"] = {n: effective_rank(modules[n].weight, self.eps) for n in names}
        row["entropy_rank"] = {n: effective_rank(modules[n].weight, method="entropy") for n in names}
        self.history.append(row)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
                fh.flush()
        return row

    def _test_accuracy(self) -> float:
        import torch

        x, y = self.test_data
        device = next(self.model.parameters()).device
        was = self.model.training
        self.model.eval()
        correct = 0
        try:
            with torch.no_grad():
                for start in range(0, len(x), 1024):
                    xb = torch.as_tensor(x[start:start + 1024]).to(device).float()
                    correct += int((self.model(xb).argmax(1).cpu() == torch.as_tensor(y[start:start + 1024])).sum())
        finally:
            self.model.train(was)
        return correct / len(x)
