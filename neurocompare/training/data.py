"""Image data for training: a deterministic batch iterator, MNIST IDX files, Colored MNIST, image folders.

Everything here returns plain tensors. Images are float32 in [0, 1] with dims
(image, channel, height, width); labels are int64 with dims (image,).

:class:`Batches` is the iterable the training loop resumes exactly: its order in epoch ``e``
depends only on ``(seed, e)``, and it shards itself across DDP ranks.

MNIST has one reader, :func:`read_mnist` (the IDX files of one split, via ``neurocompare.idx``).
:func:`load_mnist` finds the files under the data root and converts them to tensors;
``data_loaders.mnist`` verifies the files' checksums and calls the same reader (the library does
not import ``data_loaders``).

References
----------
Arjovsky, Bottou, Gulrajani & Lopez-Paz (2019). Invariant Risk Minimization. arXiv:1907.02893
(the Colored MNIST construction).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurocompare._options import data_dir
from neurocompare._seeding import torch_generator
from neurocompare.idx import read_idx
from neurocompare.registry import Registry

__all__ = [
    "Batches",
    "read_idx",
    "mnist_files",
    "read_mnist",
    "mnist_tensors",
    "load_mnist",
    "colored_mnist",
    "colored_mnist_environments",
    "load_image_folder",
    "synthetic_images",
    "DATASETS",
]

DATASETS = Registry("training dataset")



class Batches:
    """Mini-batches over tensors that share a first dimension, reproducible per epoch.

    Parameters
    ----------
    *tensors : torch.Tensor
        Each with dims (item, ...); all with the same number of items.
    batch_size : int
    shuffle : bool
        Shuffle with a generator seeded by ``seed + epoch`` (call :meth:`set_epoch`; the training
        loop does).
    drop_last : bool
        Drop the last incomplete batch.
    seed : int
    rank, world_size : int, optional
        Shard for DDP: rank ``r`` takes every ``world_size``-th batch. Default: from the
        ``RANK``/``WORLD_SIZE`` environment variables set by ``torchrun`` (one shard otherwise).

    Examples
    --------
    >>> x = torch.arange(10.0)
    >>> [b[0].tolist() for b in Batches(x, batch_size=4, shuffle=False)]
    [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int = 64,
        shuffle: bool = True,
        drop_last: bool = True,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        if not tensors:
            raise ValueError("Batches needs at least one tensor.")
        n = tensors[0].shape[0]
        for i, t in enumerate(tensors):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"Batches takes torch tensors; argument {i} is a {type(t).__name__}.")
            if t.shape[0] != n:
                raise ValueError(
                    f"All tensors must have the same first dimension (items); tensor 0 has {n}, "
                    f"tensor {i} has {t.shape[0]}."
                )
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1. Got {batch_size!r} instead.")
        if drop_last and n < batch_size:
            raise ValueError(
                f"Only {n} items for batch_size={batch_size} with drop_last=True: no batch would be produced. "
                "Lower batch_size or set drop_last=False."
            )
        self.tensors = tensors
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.rank = int(os.environ.get("RANK", 0)) if rank is None else int(rank)
        self.world_size = int(os.environ.get("WORLD_SIZE", 1)) if world_size is None else int(world_size)
        self.epoch = 0

    @property
    def n_items(self) -> int:
        return int(self.tensors[0].shape[0])

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffling of epoch ``epoch``."""
        self.epoch = int(epoch)

    def _all_batches(self) -> list[torch.Tensor]:
        n = self.n_items
        if self.shuffle:
            gen = torch_generator(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        idx = list(order.split(self.batch_size))
        if self.drop_last and idx and idx[-1].numel() < self.batch_size:
            idx = idx[:-1]
        return idx[self.rank :: self.world_size]

    def __len__(self) -> int:
        return len(self._all_batches())

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for ix in self._all_batches():
            yield tuple(t[ix] for t in self.tensors)


# --------------------------------------------------------------------------------------------
# MNIST


MNIST_SPLITS = {"train": "train", "test": "t10k"}


def _find(folder: Path, stems: Sequence[str]) -> Path:
    for stem in stems:
        for cand in (folder / stem, folder / (stem + ".gz")):
            if cand.is_file():
                return cand
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise FileNotFoundError(
        f"None of {list(stems)} (or .gz) found in {str(folder)!r}. Present: {present}. Point root (or "
        "nc.set_options(data_dir=...) / NEUROCOMPARE_DATA) at the folder that holds mnist/."
    )


def mnist_files(folder: str | Path, split: str = "train") -> tuple[Path, Path]:
    """The (images, labels) IDX files of one MNIST split in ``folder`` (plain or ``.gz``; both file-name styles).

    Raises
    ------
    ValueError
        An unknown split.
    FileNotFoundError
        A file is missing (the message lists what the folder holds).
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"The 'split' parameter of MNIST readers must be one of {set(MNIST_SPLITS)}. Got {split!r} instead.")
    folder, prefix = Path(folder), MNIST_SPLITS[split]
    images = _find(folder, [f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"])
    labels = _find(folder, [f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"])
    return images, labels


def read_mnist(folder: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read one MNIST split from the IDX files in ``folder``: the one MNIST reader.

    Parameters
    ----------
    folder : str or Path
        The folder that holds the IDX files (e.g. ``DATA/mnist``).
    split : {'train', 'test'}

    Returns
    -------
    images : numpy.ndarray
        uint8, dims (image, row, column) = (n, 28, 28); n is 60,000 (train) or 10,000 (test).
    labels : numpy.ndarray
        uint8 digit classes 0-9, dims (image,).

    Raises
    ------
    ValueError
        Images and labels that do not match (a corrupt or mixed-up file).
    """
    image_path, label_path = mnist_files(folder, split)
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"MNIST {split} in {str(folder)!r}: expected images (n, 28, 28) and labels (n,); got "
            f"{images.shape} and {labels.shape}. Re-copy the IDX files."
        )
    return images, labels


def mnist_tensors(images: np.ndarray, labels: np.ndarray, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST arrays as training tensors: float32 images in [0, 1] (image, 1, 28, 28), int64 labels (image,).

    Parameters
    ----------
    images : numpy.ndarray
        uint8, dims (image, row, column), as :func:`read_mnist` returns.
    labels : numpy.ndarray
        Dims (image,).
    n : int, optional
        Keep only the first ``n`` images.
    """
    if n is not None:
        images, labels = images[: int(n)], labels[: int(n)]
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(np.asarray(labels, dtype=np.int64))


def load_mnist(root: str | Path | None = None, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST from its IDX files (no checksums; ``data_loaders.mnist.load_tensors`` checks them).

    Parameters
    ----------
    root : str or Path, optional
        A folder holding the IDX files, or its parent with an ``mnist/`` subfolder. Default: the
        ``data_dir`` option (``nc.set_options(data_dir=...)`` or ``$NEUROCOMPARE_DATA``).
    split : {'train', 'test'}

    Returns
    -------
    images : torch.Tensor
        float32 in [0, 1], dims (image, 1, 28, 28).
    labels : torch.Tensor
        int64, dims (image,).
    """
    base = data_dir(root)
    folder = base / "mnist" if (base / "mnist").is_dir() else base
    return mnist_tensors(*read_mnist(folder, split))


# --------------------------------------------------------------------------------------------
# Colored MNIST


def colored_mnist(
    images: torch.Tensor,
    digits: torch.Tensor,
    color_flip_prob: float,
    *,
    label_noise: float = 0.25,
    seed: int = 0,
    downsample: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Colored MNIST environment (Arjovsky et al. 2019).

    The label is ``digit >= 5`` flipped with probability ``label_noise``; the colour is the label
    flipped with probability ``color_flip_prob``; the digit is drawn in the red (colour 0) or green
    (colour 1) channel. So colour predicts the label with accuracy ``1 - color_flip_prob`` and shape
    with at most ``1 - label_noise``.

    Parameters
    ----------
    images : torch.Tensor
        Grey digits, dims (image, 1, 28, 28) or (image, 28, 28), values in [0, 1].
    digits : torch.Tensor
        Digit classes 0-9, dims (image,).
    color_flip_prob : float
        In [0, 1]: 0.1 and 0.2 for the training environments, 0.9 for the test one.
    label_noise : float
    seed : int
    downsample : bool
        Keep every second row and column (28×28 → 14×14), as in the authors' code.

    Returns
    -------
    x : torch.Tensor
        float32, dims (image, 2, 14, 14) (or 28×28).
    y : torch.Tensor
        float32 binary labels, dims (image,).
    """
    if not 0.0 <= float(color_flip_prob) <= 1.0 or not 0.0 <= float(label_noise) <= 1.0:
        raise ValueError(
            f"color_flip_prob and label_noise must lie in [0, 1]; got {color_flip_prob!r}, {label_noise!r}."
        )
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have dims (image, 1, H, W); got shape {tuple(images.shape)}.")
    if digits.shape[0] != images.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {digits.shape[0]} labels.")
    gen = torch_generator(int(seed))
    n = images.shape[0]
    x = images.float()
    if downsample:
        x = x[:, :, ::2, ::2]
    y = (digits >= 5).float()
    y = torch.where(torch.rand(n, generator=gen) < label_noise, 1 - y, y)
    color = torch.where(torch.rand(n, generator=gen) < color_flip_prob, 1 - y, y)
    out = torch.zeros(n, 2, x.shape[2], x.shape[3])
    red = color == 0
    out[red, 0] = x[red, 0]
    out[~red, 1] = x[~red, 0]
    return out, y


def colored_mnist_environments(
    root: str | Path | None = None,
    *,
    train_flip_probs: Sequence[float] = (0.2, 0.1),
    test_flip_prob: float = 0.9,
    label_noise: float = 0.25,
    n_train: int = 50_000,
    seed: int = 0,
) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The standard Colored MNIST split: train environments from the first ``n_train`` MNIST
    training digits (shuffled and divided equally), test environment from the rest.

    Returns
    -------
    dict
        ``{"train": [(x, y), ...], "test": [(x, y)]}`` with x (image, 2, 14, 14), y (image,).
    """
    images, digits = load_mnist(root, "train")
    gen = torch_generator(int(seed))
    perm = torch.randperm(images.shape[0], generator=gen)
    images, digits = images[perm], digits[perm]
    n_train = min(int(n_train), images.shape[0] - 1)
    k = len(train_flip_probs)
    per = n_train // k
    train = [
        colored_mnist(images[i * per : (i + 1) * per], digits[i * per : (i + 1) * per], p,
                      label_noise=label_noise, seed=seed * 100 + i)
        for i, p in enumerate(train_flip_probs)
    ]
    test = [colored_mnist(images[n_train:], digits[n_train:], test_flip_prob, label_noise=label_noise,
                          seed=seed * 100 + 99)]
    return {"train": train, "test": test}


# --------------------------------------------------------------------------------------------
# Image folders and synthetic images

_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")


def load_image_folder(
    root: str | Path, *, size: int | tuple[int, int] | None = 64, extensions: Sequence[str] = _IMAGE_EXT
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Read an ImageFolder-style tree ``root/<class>/<image>`` into memory.

    Images without class subfolders (all files directly in ``root``) get label 0 and class ``""``.

    Parameters
    ----------
    root : str or Path
    size : int or (int, int) or None
        Resize every image to this (height, width); None keeps sizes (they must then agree).
    extensions : sequence of str

    Returns
    -------
    images : torch.Tensor
        float32 in [0, 1], dims (image, 3, height, width) (RGB).
    labels : torch.Tensor
        int64, dims (image,).
    classes : list of str
        Class names, index = label.
    """
    from neurocompare._optional import require

    Image = require("PIL.Image", "load_image_folder")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Image folder {str(root)!r} does not exist.")
    ext = tuple(e.lower() for e in extensions)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    items: list[tuple[Path, int]] = []
    if classes:
        for ci, c in enumerate(classes):
            items += [(p, ci) for p in sorted((root / c).rglob("*")) if p.suffix.lower() in ext]
    else:
        classes = [""]
        items = [(p, 0) for p in sorted(root.iterdir()) if p.suffix.lower() in ext]
    if not items:
        raise ValueError(f"No images with extensions {ext} under {str(root)!r}.")
    hw = (size, size) if isinstance(size, int) else size
    arrays = []
    for p, _ in items:
        with Image.open(p) as im:
            im = im.convert("RGB")
            if hw is not None:
                im = im.resize((hw[1], hw[0]), Image.BILINEAR)
            arrays.append(np.asarray(im, dtype=np.uint8))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"Images have different sizes {sorted(shapes)[:3]}...; pass size=... to resize them.")
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0
    return x, torch.tensor([c for _, c in items], dtype=torch.int64), classes


def synthetic_images(
    n: int = 256, *, channels: int = 3, size: int = 32, num_classes: int = 10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Learnable toy images: class ``k`` is an oriented grating of orientation ``k·π/num_classes``
    plus noise. For smoke tests and examples without data.

    Returns
    -------
    images : torch.Tensor
        float32 in [0, 1], dims (image, channels, size, size).
    labels : torch.Tensor
        int64, dims (image,).
    """
    gen = torch_generator(int(seed))
    labels = torch.randint(0, num_classes, (n,), generator=gen)
    coords = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    theta = labels.float() * torch.pi / num_classes
    phase = torch.rand(n, generator=gen) * 2 * torch.pi
    proj = xx[None] * torch.cos(theta)[:, None, None] + yy[None] * torch.sin(theta)[:, None, None]
    img = 0.5 + 0.4 * torch.sin(6 * proj + phase[:, None, None])
    img = img[:, None].expand(n, channels, size, size) + 0.1 * torch.randn(n, channels, size, size, generator=gen)
    return img.clamp(0, 1).contiguous(), labels


# --------------------------------------------------------------------------------------------
# Registered builders for config-driven runs: builder(DataConfig, seed) -> iterable of batches


def _batches(cfg: Any, seed: int, *tensors: torch.Tensor) -> Batches:
    return Batches(*tensors, batch_size=cfg.batch_size, shuffle=cfg.shuffle, drop_last=cfg.drop_last, seed=seed)


@DATASETS.register("mnist")
def _mnist_dataset(cfg: Any, seed: int = 0) -> Batches:
    """MNIST training split: batches (x (B,1,28,28), y (B,)). kwargs: split, n (first n images)."""
    kw = dict(cfg.kwargs)
    x, y = load_mnist(cfg.root, kw.pop("split", "train"))
    n = kw.pop("n", None)
    if kw:
        raise ValueError(f"Unknown mnist data kwargs {sorted(kw)}. Valid: split, n.")
    if n is not None:
        x, y = x[: int(n)], y[: int(n)]
    return _batches(cfg, seed, x, y)


@DATASETS.register("colored_mnist")
def _colored_mnist_dataset(cfg: Any, seed: int = 0) -> Batches:
    """Colored MNIST training environments pooled: batches (x (B,2,14,14), y (B,), env (B,)).

    kwargs: train_flip_probs, label_noise, n_train.
    """
    envs = colored_mnist_environments(cfg.root, seed=seed, **cfg.kwargs)["train"]
    x = torch.cat([e[0] for e in envs])
    y = torch.cat([e[1] for e in envs])
    env = torch.cat([torch.full((e[0].shape[0],), i, dtype=torch.int64) for i, e in enumerate(envs)])
    return _batches(cfg, seed, x, y, env)


@DATASETS.register("image_folder")
def _image_folder_dataset(cfg: Any, seed: int = 0) -> Batches:
    """ImageFolder tree at ``root``: batches (x (B,3,H,W), y (B,)). kwargs: size."""
    if cfg.root is None:
        raise ValueError("data.root must name the image folder for data.name='image_folder'.")
    x, y, _ = load_image_folder(cfg.root, **cfg.kwargs)
    return _batches(cfg, seed, x, y)


@DATASETS.register("synthetic_images")
def _synthetic_dataset(cfg: Any, seed: int = 0) -> Batches:
    """Oriented gratings (see :func:`synthetic_images`): batches (x, y). kwargs: n, channels, size, num_classes."""
    x, y = synthetic_images(seed=seed, **cfg.kwargs)
    return _batches(cfg, seed, x, y)


@DATASETS.register("speech_words")
def _speech_words_dataset(cfg: Any, seed: int = 0) -> Batches:
    """Synthesized one-word clips (:func:`neurocompare.audio.speech_dataset`), training voices only:
    batches (x (B, samples) float32 waveforms, y (B,) word labels). kwargs: any of speech_dataset's
    (``n_words``, ``clips_per_word``, ``snr_db``, ``backgrounds``...); ``data_seed`` (default 0)
    seeds the dataset, so runs with different training seeds share one dataset and its held-out voices.
    """
    from neurocompare.audio._speech import speech_dataset

    kw = dict(cfg.kwargs)
    data_seed = int(kw.pop("data_seed", 0))
    kw.setdefault("progress", False)
    x, y = speech_dataset(seed=data_seed, **kw).tensors("train")
    return _batches(cfg, seed, x, y)
