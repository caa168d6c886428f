"""Models shipped with trained weights: a natural-image network that scores as a trained one.

``convnet_small_simclr`` is ``convnet_small`` (two conv blocks, 32 and 64 channels, grey-level
input) trained by the toolkit's own :func:`neurocompare.train` with SimCLR (Chen et al. 2020) on
the natural photographs of the Cowley et al. (2023) V4 *training* sessions (the authors' split
``'train'``; the benchmark and test sessions' images were never seen). Its weights ship in
``neurocompare/models/weights/`` as a weights-only state dict whose sha256 is checked on every
load. Its preprocessing turns RGB stimuli into luminance (ITU-R BT.601) and resizes them to 40×40,
values in [0, 1]; the training images were the same luminance at 32×32.

``build_model("convnet_small_simclr", pretrained=False, seed=s)`` is its *untrained twin*: the
same architecture and preprocessing with the seeded random initialisation, the baseline every
comparison should use. The ``fc`` layer (10 outputs) was not trained by SimCLR and stays the seeded
initialisation in both.

Training config: ``neurocompare/training/configs/simclr_cowley_small.yaml``; command:
``python -m analyses.natural_image_model --out runs/natural_image_model --export``.

References
----------
Chen, T., Kornblith, S., Norouzi, M. & Hinton, G. (2020). A simple framework for contrastive
learning of visual representations. ICML.
Cowley, B. R., Stan, P. L., Pillow, J. W. & Smith, M. A. (2023). Compact deep neural network
models of visual cortex. bioRxiv 2023.11.22.568315.

Examples
--------
>>> from neurocompare.models import build_model, resolve_model
>>> net = build_model("convnet_small_simclr")                       # trained weights, sha256 checked
>>> resolve_model("convnet_small_simclr").preprocessing.size
40
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurocompare.models._preprocessing import Preprocessing
from neurocompare.models._registry import MODELS
from neurocompare.models.convnets import convnet_small

__all__ = ["PRETRAINED", "PretrainedWeights", "weights_path", "file_sha256", "load_state_dict",
           "convnet_small_simclr"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class PretrainedWeights:
    """A shipped weights file: its name under ``models/weights/``, sha256, and how it was made."""

    file: str
    sha256: str
    config: str
    command: str
    description: str


PRETRAINED: dict[str, PretrainedWeights] = {
    "convnet_small_simclr": PretrainedWeights(
        file="convnet_small_simclr.pt",
        sha256="0ce621ad3b56bb359735988eef16c887292902e3a03467eccb4486a15faac0cb",
        config="neurocompare/training/configs/simclr_cowley_small.yaml",
        command="python -m analyses.natural_image_model --out runs/natural_image_model --export",
        description="convnet_small, grey 40x40 input, SimCLR on the Cowley 2023 V4 training-session images",
    ),
}


def weights_path(name: str) -> Path:
    """The shipped weights file of the pretrained model ``name``.

    Raises
    ------
    ValueError
        ``name`` has no shipped weights (the message lists those that do).
    FileNotFoundError
        The file is missing from the installation (reinstall the package).
    """
    if name not in PRETRAINED:
        raise ValueError(f"Unknown pretrained model {name!r}. Available: {', '.join(sorted(PRETRAINED))}.")
    path = WEIGHTS_DIR / PRETRAINED[name].file
    if not path.is_file():
        raise FileNotFoundError(
            f"The weights of {name!r} should be at {str(path)!r} but are not; the installation is incomplete. "
            "Reinstall neurocompare (pip install --force-reinstall neurocompare), or regenerate them with: "
            f"{PRETRAINED[name].command}"
        )
    return path


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_state_dict(name: str, *, path: str | Path | None = None, sha256: str | None = None) -> dict[str, Any]:
    """The verified, weights-only state dict of the pretrained model ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`PRETRAINED`.
    path, sha256 : optional
        Read another file / expect another digest (for tests and regenerated weights).

    Raises
    ------
    ValueError
        The file's sha256 differs from the expected one (a damaged or replaced file).
    """
    import torch

    p = Path(path) if path is not None else weights_path(name)
    expected = sha256 if sha256 is not None else PRETRAINED[name].sha256
    got = file_sha256(p)
    if got != expected:
        raise ValueError(
            f"The weights file {str(p)!r} of {name!r} has sha256 {got}, expected {expected}: it is damaged or "
            f"was replaced. Reinstall neurocompare, or regenerate it with: {PRETRAINED[name].command}"
        )
    return torch.load(p, map_location="cpu", weights_only=True)


@MODELS.register("convnet_small_simclr", preprocessing=Preprocessing(size=40, channels=1, mean=None, std=None))
def convnet_small_simclr(*, pretrained: bool = True, seed: int | None = 0, in_channels: int | None = None,
                         num_classes: int = 10) -> Any:
    """``convnet_small`` trained with SimCLR on natural images (V4 training sessions); grey 40×40 input.

    Parameters
    ----------
    pretrained : bool
        False gives the untrained twin (same architecture and preprocessing, seeded init).
    seed : int or None
        Seed of the initialisation (of everything when ``pretrained=False``, of ``fc`` otherwise).
    in_channels : None or 1
        Accepted for a uniform builder signature; the network takes one (luminance) channel.
    num_classes : int
        Outputs of the (untrained) ``fc`` layer.

    Returns
    -------
    ConvNet
        Input dims (batch, 1, 40, 40) after its preprocessing; layers ``block1``, ``block2``,
        ``avgpool`` (batch, 64), ``fc``.
    """
    if in_channels not in (None, 1):
        raise ValueError(
            f"convnet_small_simclr takes 1 (luminance) channel; got in_channels={in_channels!r}. Its preprocessing "
            "turns RGB stimuli into luminance, so leave in_channels unset."
        )
    model = convnet_small(in_channels=1, num_classes=int(num_classes), seed=seed)
    if pretrained:
        trained = {k: v for k, v in load_state_dict("convnet_small_simclr").items() if not k.startswith("fc.")}
        model.load_state_dict({**model.state_dict(), **trained})
    return model


convnet_small_simclr.example_input_shape = (2, 1, 40, 40)  # what its preprocessing hands it (tests use it)
