"""Metamer validity (Feather et al. 2023, Methods "Metamer validation").

A metamer is kept when (a) the Spearman correlation between its activations and the original's
at the generating layer exceeds the largest correlation among random pairs of distinct natural
images (the null distribution), and (b) the generating model gives it the original's label.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from neurocompare._hooks import LayerHooks
from neurocompare._seeding import numpy_rng
from neurocompare.metamers._checks import as_images, check_dataset, check_layer, check_model, default_device, eval_mode

__all__ = ["check_validity", "predict_labels", "spearman_rows", "layer_activations"]


def layer_activations(
    model: nn.Module, layer: str, images: torch.Tensor, batch_size: int = 256, device: Any = None
) -> torch.Tensor:
    """Flattened activations of ``images`` at ``layer`` (eval mode, no grad), on the CPU.

    Parameters
    ----------
    model : nn.Module
    layer : str
    images : torch.Tensor, shape (n_images, ...)

    Returns
    -------
    torch.Tensor of float32, shape (n_images, n_units)
    """
    dev = default_device(model, device)
    outs = []
    with eval_mode(model), LayerHooks(model, [layer], detach=True, stop_early=True) as hooks, torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            a = hooks.run(images[start : start + batch_size].to(dev))[layer]
            outs.append(a.reshape(a.shape[0], -1).float().cpu())
    return torch.cat(outs)


def predict_labels(model: nn.Module, images: Any, *, batch_size: int = 256, device: Any = None) -> np.ndarray:
    """Predicted class (argmax of the model's output) for each image.

    Parameters
    ----------
    model : torch.nn.Module
        Returns logits of shape (batch, n_classes).
    images : array-like, shape (n_images, ...)

    Returns
    -------
    numpy.ndarray of int64, shape (n_images,)

    Raises
    ------
    ValueError
        When the model's output is not (batch, n_classes).
    """
    model = check_model(model, "predict_labels()")
    images = as_images(images, "predict_labels()")
    dev = default_device(model, device)
    preds = []
    with eval_mode(model), torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            out = model(images[start : start + batch_size].to(dev))
            if not isinstance(out, torch.Tensor) or out.dim() != 2:
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(
                    f"predict_labels() needs a classifier whose output has shape (batch, n_classes); "
                    f"got {shape}. Wrap the model so forward() returns logits."
                )
            preds.append(out.argmax(1).cpu())
    return torch.cat(preds).numpy().astype(np.int64)


def spearman_rows(a: Any, b: Any) -> np.ndarray:
    """Spearman correlation between row i of ``a`` and row i of ``b`` (ties get average ranks).

    Parameters
    ----------
    a, b : array-like, shape (n, units)

    Returns
    -------
    numpy.ndarray, shape (n,)
        NaN where a row is constant.

    Raises
    ------
    ValueError
        When the shapes differ or are not 2-D.
    """
    from scipy.stats import rankdata

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"spearman_rows() needs two arrays of the same shape (n, units); got {a.shape} and {b.shape}.")
    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    den = np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(1) / np.where(den > 0, den, 1.0), np.nan)


def check_validity(
    model: nn.Module,
    metamers: xr.Dataset,
    null_images: Any,
    *,
    n_null_pairs: int = 1000,
    seed: int = 0,
    batch_size: int = 256,
    device: Any = None,
) -> xr.Dataset:
    """Which metamers are valid: activation match beats a natural-image null, and labels agree.

    A metamer is valid when (a) the Spearman ρ between its activations and the original's at the
    generating layer exceeds the maximum ρ over ``n_null_pairs`` random pairs of distinct natural
    images at that layer, and (b) the generating ``model`` predicts the same label for the
    metamer as for the original (Feather et al. 2023, Methods "Metamer validation").

    Parameters
    ----------
    model : torch.nn.Module
        The generating model (a classifier returning logits (batch, n_classes)).
    metamers : xarray.Dataset
        From :func:`synthesize_metamers` with this model.
    null_images : array-like, shape (n_null, channels, height, width)
        Natural images for the null distribution (ideally not the originals), n_null >= 2.
    n_null_pairs : int
        Random distinct pairs drawn for the null.
    seed : int
        Seeds the pair draw (``neurocompare._seeding.numpy_rng(seed)``).

    Returns
    -------
    xarray.Dataset
        dims (layer, image): ``spearman``, ``activation_match``, ``label_original``,
        ``label_metamer``, ``label_match``, ``valid``; dims (layer,): ``null_max``, ``n_units``
        and ``attainable`` (False where some natural pair already reaches ρ = 1, as happens for
        layers with few units such as 10 logits: no metamer can pass (a) there, so read that
        layer's validity as undefined rather than as failed); and ``null`` (layer, pair).

    Raises
    ------
    ValueError
        Fewer than 2 null images, null images of another shape, ``n_null_pairs`` < 1, or a layer
        the model does not have (is this the generating model?).
    TypeError
        ``model`` is not an ``nn.Module`` or ``metamers`` is not a metamer Dataset.

    See Also
    --------
    neurocompare.metamers.synthesize_metamers, neurocompare.metamers.recognizability
    """
    model = check_model(model, "check_validity()")
    ds = check_dataset(metamers, "check_validity()")
    null = as_images(null_images, "check_validity()")
    if null.shape[0] < 2:
        raise ValueError(f"check_validity() needs at least 2 null images to form pairs; got {null.shape[0]}.")
    if tuple(null.shape[1:]) != tuple(ds["original"].shape[1:]):
        raise ValueError(
            f"check_validity(): null images have shape {tuple(null.shape[1:])} but the metamers have "
            f"{tuple(ds['original'].shape[1:])}; use natural images of the same shape."
        )
    if not isinstance(n_null_pairs, int) or n_null_pairs < 1:
        raise ValueError(f"n_null_pairs must be a positive integer; got {n_null_pairs!r}.")
    for layer in ds["layer"].values:
        check_layer(model, str(layer), " (Is this the generating model?)")
    rng = numpy_rng(seed)  # the stream of np.random.default_rng(seed)
    i = rng.integers(0, null.shape[0], n_null_pairs)
    j = (i + rng.integers(1, null.shape[0], n_null_pairs)) % null.shape[0]  # j != i
    original = torch.from_numpy(ds["original"].values)
    lab_orig = predict_labels(model, original, batch_size=batch_size, device=device)
    rho, null_rho, lab_met, n_units = [], [], [], []
    for li, layer in enumerate(ds["layer"].values):
        layer = str(layer)
        met = torch.from_numpy(ds["metamer"].values[li])
        a_met = layer_activations(model, layer, met, batch_size, device)
        a_orig = layer_activations(model, layer, original, batch_size, device)
        a_null = layer_activations(model, layer, null, batch_size, device)
        n_units.append(int(a_met.shape[1]))
        rho.append(spearman_rows(a_met.numpy(), a_orig.numpy()))
        null_rho.append(spearman_rows(a_null[i].numpy(), a_null[j].numpy()))
        lab_met.append(predict_labels(model, met, batch_size=batch_size, device=device))
    rho_a = np.stack(rho)
    null_a = np.stack(null_rho)
    null_max = np.nanmax(null_a, axis=1)
    # with few units (e.g. 10 logits) some natural pairs rank identically: rho = 1 cannot be beaten
    attainable = null_max < 1.0 - 1e-12
    match = rho_a > null_max[:, None]
    lab_met_a = np.stack(lab_met)
    label_match = lab_met_a == lab_orig[None, :]
    coords = {k: v for k, v in ds.coords.items() if set(v.dims) <= {"layer", "image"}}
    return xr.Dataset(
        {
            "spearman": (("layer", "image"), rho_a),
            "null": (("layer", "pair"), null_a),
            "null_max": (("layer",), null_max),
            "n_units": (("layer",), np.array(n_units)),
            "attainable": (("layer",), attainable),
            "activation_match": (("layer", "image"), match),
            "label_original": (("image",), lab_orig),
            "label_metamer": (("layer", "image"), lab_met_a),
            "label_match": (("layer", "image"), label_match),
            "valid": (("layer", "image"), match & label_match),
        },
        coords=coords,
        attrs={"n_null_pairs": n_null_pairs, "seed": seed, "criterion": "spearman > max(null) and same label"},
    )
