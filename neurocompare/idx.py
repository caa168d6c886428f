"""Read IDX files, the format MNIST ships in (no torch needed).

The header is big-endian: two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the rank *r*, then *r* uint32 dims; the values follow
in C order.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["read_idx"]

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (optionally gzipped, ``*.gz``), e.g. ``train-images-idx3-ubyte``.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    numpy.ndarray
        With the dims stored in the header (MNIST images: (image, row, column) uint8), in native
        byte order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        On a bad magic number, or a size that does not match the header (truncated or corrupt).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist.")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: bad magic number {raw[:4]!r}.")
    rank = raw[3]
    header = 4 + 4 * rank
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header.")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=rank, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{path}: the header announces dims {dims} ({expected} bytes) but the file has {len(raw)} bytes "
            "(truncated or corrupt)."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))
