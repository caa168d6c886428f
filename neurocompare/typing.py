"""Type aliases for the arrays that neurocompare's public functions take.

Use them in your own annotations (``from neurocompare.typing import ResponsesLike``); the library's
signatures use them instead of ``Any``. They are plain ``typing.Union`` aliases, so a type checker
sees what an argument may be, and importing this module does not import torch.

ResponsesLike
    Neural or model responses: a ``Responses`` DataArray with dims ``('stimulus', 'unit')`` (plus
    optional ``'repetition'`` / ``'time'``; see :mod:`neurocompare.data`), or a numpy array or torch
    tensor of shape ``(n_stimuli, n_units)``, rows in stimulus order.
RDMLike
    A representational dissimilarity matrix: an RDM DataArray with dims
    ``(*stack, 'stimulus', 'stimulus_2')``, a square array or tensor ``(n, n)`` / ``(k, n, n)``, or
    condensed vectors ``(m,)`` / ``(k, m)`` in ``scipy.spatial.distance.squareform`` order.
StimuliLike
    Stimuli for a model: a DataArray with dims ``('stimulus', 'height', 'width', 'channel')``
    (images, uint8 or float) or ``('stimulus', 'sample')`` (sounds, with ``attrs['sample_rate']``)
    and a ``stimulus_id`` coord, or a numpy array or torch tensor with the stimulus first.

Examples
--------
>>> import numpy as np
>>> from neurocompare.typing import ResponsesLike
>>> def n_stimuli(x: ResponsesLike) -> int:
...     return np.asarray(x).shape[0]
>>> n_stimuli(np.zeros((5, 3)))
5
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ForwardRef, Union

import numpy as np
import xarray as xr

__all__ = ["ResponsesLike", "RDMLike", "StimuliLike"]

if TYPE_CHECKING:  # pragma: no cover - seen by type checkers only; torch stays unimported at run time
    import torch

    ResponsesLike = Union[xr.DataArray, np.ndarray, torch.Tensor]
    RDMLike = Union[xr.DataArray, np.ndarray, torch.Tensor]
    StimuliLike = Union[xr.DataArray, np.ndarray, torch.Tensor]
else:
    # resolved in torch's own namespace by typing.get_type_hints, whichever module uses the alias
    _Tensor = ForwardRef("Tensor", module="torch")
    ResponsesLike = Union[xr.DataArray, np.ndarray, _Tensor]
    RDMLike = Union[xr.DataArray, np.ndarray, _Tensor]
    StimuliLike = Union[xr.DataArray, np.ndarray, _Tensor]
