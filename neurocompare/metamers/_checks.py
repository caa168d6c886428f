"""Input checks and small helpers shared by synthesis, validity and recognizability."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from neurocompare._hooks import resolve_layers, unwrap

__all__ = [
    "version",
    "check_model",
    "check_layer",
    "as_images",
    "input_dims",
    "INPUT_SHAPES",
    "check_pixel_range",
    "check_labels",
    "check_image_ids",
    "default_device",
    "check_dataset",
    "eval_mode",
]


def version() -> str:
    """The installed neurocompare version (``'unknown'`` outside an installed package)."""
    try:
        from neurocompare import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - only when imported outside the package
        return "unknown"


def check_model(model: Any, where: str) -> nn.Module:
    """Return ``model`` if it is an ``nn.Module``; else a ``TypeError`` that says what to pass."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{where} needs a torch.nn.Module as model; got {type(model).__name__}. "
            "Pass the network itself (e.g. neurocompare.models.build_model('convnet_small'))."
        )
    return model


def check_layer(model: nn.Module, layer: Any, extra: str = "") -> str:
    """Return ``layer`` if it names a submodule of ``model``; else the standard unknown-layer error.

    ``extra`` is appended to the message (e.g. a question about which model was meant).
    """
    if not isinstance(layer, str) or not layer:
        raise ValueError(
            f"Unknown layer {layer!r} in {type(unwrap(model)).__name__}. Layer names are non-empty strings. "
            f"Hint: use neurocompare.list_layers(model).{extra}"
        )
    try:
        resolve_layers(model, [layer])
    except ValueError as err:
        raise ValueError(f"{err}{extra}") from None
    return layer


INPUT_SHAPES = "(n_images, channels, height, width) for images, (n_clips, samples) for waveforms"


def as_images(images: Any, where: str) -> torch.Tensor:
    """Model inputs as a finite float32 tensor of shape (n, ...), n >= 1.

    The first axis indexes the inputs; any trailing shape is accepted: images
    (n_images, channels, height, width), waveforms (n_clips, samples), feature vectors (n, units).
    Accepts a torch tensor, a numpy array or an ``xarray.DataArray`` whose first axis is the input.

    Raises
    ------
    TypeError
        Not a tensor or array, or not numeric.
    ValueError
        No leading axis (fewer than 2 dimensions), zero inputs, NaN or infinite values.
    """
    if isinstance(images, xr.DataArray):
        images = images.values
    if isinstance(images, np.ndarray):
        if not np.issubdtype(images.dtype, np.number):
            raise TypeError(f"{where}: images must be numeric; got dtype {images.dtype}.")
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{where}: images must be a torch.Tensor or numpy array of shape {INPUT_SHAPES}; "
            f"got {type(images).__name__}."
        )
    if images.dim() < 2:
        raise ValueError(
            f"{where}: images must have a leading image axis, shape {INPUT_SHAPES}; "
            f"got shape {tuple(images.shape)}. Add the batch axis with images[None]."
        )
    if images.shape[0] == 0:
        raise ValueError(f"{where}: got zero images (shape {tuple(images.shape)}); pass at least one.")
    images = images.detach().to(torch.float32)
    if not torch.isfinite(images).all():
        raise ValueError(f"{where}: images contain NaN or infinite values; clean them first.")
    return images


def input_dims(shape: tuple[int, ...]) -> tuple[str, ...]:
    """Dimension names of one input of trailing ``shape`` in a metamer Dataset.

    ``('channel', 'height', 'width')`` for 3-D inputs (images), ``('sample',)`` for 1-D inputs
    (waveforms), ``('dim_0', 'dim_1', ...)`` otherwise.
    """
    if len(shape) == 3:
        return ("channel", "height", "width")
    if len(shape) == 1:
        return ("sample",)
    return tuple(f"dim_{k}" for k in range(len(shape)))


def check_pixel_range(images: torch.Tensor, pixel_range: tuple[float, float] | None, where: str) -> torch.Tensor:
    """Return ``images`` if their values lie in ``pixel_range`` (1e-6 slack; ``None``: any values)."""
    if pixel_range is not None:
        lo, hi = pixel_range
        if images.min() < lo - 1e-6 or images.max() > hi + 1e-6:
            raise ValueError(
                f"{where}: image values span [{images.min():.3g}, {images.max():.3g}], outside "
                f"pixel_range {pixel_range}. Rescale the images (e.g. uint8 / 255) or pass "
                "pixel_range=(low, high) (None for unconstrained, as for waveforms)."
            )
    return images


def check_labels(labels: Any, n_images: int, where: str) -> np.ndarray | None:
    """``labels`` as an integer array of shape (n_images,), or None when not given."""
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (n_images,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{where}: labels must be {n_images} integers (one per image); got "
            f"shape {labels.shape}, dtype {labels.dtype}."
        )
    return labels


def check_image_ids(image_ids: Any, n_images: int, where: str) -> list[str]:
    """``n_images`` unique names (default ``img_0000`` ...)."""
    if image_ids is None:
        image_ids = [f"img_{i:04d}" for i in range(n_images)]
    image_ids = [str(i) for i in image_ids]
    if len(image_ids) != n_images or len(set(image_ids)) != n_images:
        raise ValueError(
            f"{where}: image_ids must be {n_images} unique names; got {len(image_ids)} "
            f"({len(set(image_ids))} unique)."
        )
    return image_ids


def default_device(model: nn.Module, device: Any) -> torch.device:
    """``device`` if given, else the device of the model's first parameter, else CPU."""
    if device is not None:
        return torch.device(device)
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def check_dataset(ds: Any, where: str) -> xr.Dataset:
    """Return ``ds`` if it is a metamer Dataset (variables ``metamer`` and ``original``); else ``TypeError``."""
    if not isinstance(ds, xr.Dataset) or "metamer" not in ds or "original" not in ds:
        raise TypeError(
            f"{where} needs a metamer Dataset from synthesize_metamers() (with variables 'metamer' and "
            f"'original'); got {type(ds).__name__}."
        )
    return ds


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule of ``model`` in eval mode for the block; restore each one's mode after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.train(mode)
