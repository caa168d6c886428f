"""The resumable state of a :class:`~neurocompare.metamers.MetamerSynthesis`: plain arrays, no pickle.

A state holds everything the next step depends on: the metamers, each row's step count, stop
flag, loss history, and the optimiser's per-row memory (Adam moments; the ``'adaptive'`` rule's
step lengths, surrogate-phase ends and restarts left). Restoring it and continuing gives the same
bits as never stopping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["synthesis_state", "restore_synthesis"]

# per-row tensors saved as they are (attribute name on the synthesis, key in the state)
_ROW_STATE = (("_t", "t"), ("_stopped", "stopped"), ("_len", "length"), ("_sur_end", "surrogate_end"),
              ("_restarts", "restarts_left"))


def synthesis_state(syn: Any) -> dict[str, np.ndarray]:
    """Everything needed to resume ``syn``: a dict of numpy arrays and one JSON string.

    Returns
    -------
    dict of str to numpy.ndarray
        ``x`` (n_rows, *image_shape), the per-row arrays (n_rows,), ``loss_hist``
        (n_rows, n_iter), ``n_iter``, ``checked``, ``config_json``; Adam's ``m`` and ``v``
        (n_rows, *image_shape) for ``method='adam'``.
    """
    state = {
        "x": syn._x.cpu().numpy(),
        "n_iter": np.array(syn._n_iter),
        "checked": np.array(syn._checked),
        "loss_hist": (
            torch.stack(syn._loss_hist, 1).cpu().numpy()
            if syn._loss_hist
            else np.zeros((syn._x.shape[0], 0), np.float32)
        ),
        "config_json": np.array(json.dumps(syn._provenance())),
    }
    for attr, key in _ROW_STATE:
        state[key] = getattr(syn, attr).cpu().numpy()
    if syn._m is not None:
        state["m"] = syn._m.cpu().numpy()
        state["v"] = syn._v.cpu().numpy()
    return state


def restore_synthesis(syn: Any, state: Mapping[str, Any]) -> None:
    """Load ``state`` (from :func:`synthesis_state`) into ``syn``.

    Raises
    ------
    ValueError
        A key is missing, or the saved synthesis had other layers, settings or images.
    """
    try:
        saved = json.loads(str(np.asarray(state["config_json"])))
        x = np.asarray(state["x"])
    except KeyError as err:
        raise ValueError(f"Not a MetamerSynthesis state: key {err} is missing.") from None
    mine = syn._provenance()
    for key in ("layers", "config", "image_shape", "n_images"):
        if saved.get(key) != mine.get(key):
            raise ValueError(
                f"Cannot resume: the saved synthesis has {key}={saved.get(key)!r} but this one has "
                f"{mine.get(key)!r}. Build the MetamerSynthesis with the same settings."
            )
    if x.shape != tuple(syn._x.shape):
        raise ValueError(f"Cannot resume: saved metamers have shape {x.shape}, expected {tuple(syn._x.shape)}.")
    dev = syn.device
    syn._x = torch.as_tensor(x, device=dev).clone()
    for attr, key in _ROW_STATE:
        if key in state:  # states written before the 'adaptive' rule lack its arrays: keep the fresh ones
            setattr(syn, attr, torch.as_tensor(np.asarray(state[key]), device=dev).clone())
        elif key in ("t", "stopped"):
            raise ValueError(f"Not a MetamerSynthesis state: key {key!r} is missing.")
    syn._n_iter = int(np.asarray(state["n_iter"]))
    syn._checked = bool(np.asarray(state["checked"]))
    hist = torch.as_tensor(np.asarray(state["loss_hist"]), device=dev)
    syn._loss_hist = [hist[:, i].clone() for i in range(hist.shape[1])]
    syn._final_err = None
    if syn._m is not None:
        syn._m = torch.as_tensor(np.asarray(state["m"]), device=dev).clone()
        syn._v = torch.as_tensor(np.asarray(state["v"]), device=dev).clone()
