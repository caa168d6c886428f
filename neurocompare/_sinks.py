"""Where :func:`neurocompare.extract` puts activations: in memory, or streamed to NetCDF/HDF5 files.

A sink receives each layer's values batch by batch, dims (batch, unit[, time]), and hands back
the whole layer at the end: an array (:class:`MemorySink`) or a lazily loaded ``Responses`` read
back from its file (:class:`DiskSink`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._atomic import check_room
from neurocompare.data import load

__all__ = ["MemorySink", "DiskSink", "unit_ids"]


class MemorySink:
    """Keeps each layer in one array allocated when its first batch arrives; batches are written in place.

    Parameters
    ----------
    n_stimuli : int
        Rows of every layer's array, dims (stimulus, unit[, time]).

    Each layer's array is allocated once (``numpy.empty``, float32 unless told) from the shape of
    its first batch, and every batch is copied into its rows: no list of batches, no final
    concatenation, so a layer costs its own size and one copy per value.
    """

    def __init__(self, n_stimuli: int) -> None:
        self.n_stimuli = int(n_stimuli)
        self.arrays: dict[str, np.ndarray] = {}

    def rows(self, layer: str, start: int, stop: int, tail: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        """The writable rows ``[start, stop)`` of ``layer``'s array, dims (stop - start, *tail).

        Raises
        ------
        ValueError
            When ``tail`` differs from the per-stimulus shape of the layer's earlier batches.
        """
        arr = self.arrays.get(layer)
        if arr is None:
            arr = np.empty((self.n_stimuli, *tail), dtype=dtype)
            self.arrays[layer] = arr
        elif arr.shape[1:] != tuple(tail):
            raise ValueError(
                f"Layer {layer!r} produced a per-stimulus shape {tuple(tail)} in a later batch, after "
                f"{arr.shape[1:]} in the first one. Record a layer whose output size does not depend on the batch."
            )
        return arr[start:stop]

    def write(self, layer: str, start: int, values: np.ndarray) -> None:
        self.rows(layer, start, start + values.shape[0], values.shape[1:], values.dtype)[...] = values

    def result(self, layer: str) -> np.ndarray:
        return self.arrays.pop(layer)


class DiskSink:
    """Streams each layer into its own NetCDF-4/HDF5 file, readable lazily by ``data.load``.

    Parameters
    ----------
    folder : Path
        One ``<layer>.nc`` per layer (written as ``.partial`` and renamed when complete).
    ids : numpy.ndarray of str, dims (stimulus,)
    reduce : str
        The reduction's name, stored as an attribute.
    """

    def __init__(self, folder: Path, ids: np.ndarray, reduce: str) -> None:
        import h5netcdf
        import h5py

        self._h5netcdf, self._h5py = h5netcdf, h5py
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ids = ids
        self.reduce = reduce
        self.files: dict[str, Any] = {}
        self.paths: dict[str, Path] = {}

    def open(self, layer: str, n_units: int, n_time: int | None, dtype: np.dtype) -> None:
        path = self.folder / f"{_safe_name(layer)}.nc"
        tmp = path.with_name(path.name + ".partial")
        # a write that fails half-way inside HDF5 (full disk, ulimit -f) can crash the interpreter
        # when the file is closed: check that the whole layer fits before creating it
        id_bytes = 2 * len(self.ids) * (max((len(str(i)) for i in self.ids), default=1) + 16)
        check_room(tmp, len(self.ids) * n_units * (n_time or 1) * np.dtype(dtype).itemsize + id_bytes + n_units * 64)
        f = self._h5netcdf.File(tmp, "w")
        dims = {"stimulus": len(self.ids), "unit": n_units}
        var_dims = ("stimulus", "unit")
        if n_time is not None:
            dims["time"] = n_time
            var_dims = ("stimulus", "unit", "time")
        f.dimensions = dims
        chunk_rows = max(1, min(len(self.ids), (8 * 1024**2) // max(1, n_units * (n_time or 1) * dtype.itemsize)))
        var = f.create_variable("responses", var_dims, dtype, chunks=(chunk_rows,) + tuple(dims[d] for d in var_dims[1:]))
        sid = f.create_variable("stimulus_id", ("stimulus",), self._h5py.string_dtype())
        sid[:] = self.ids.astype(object)
        uid = f.create_variable("unit_id", ("unit",), self._h5py.string_dtype())
        uid[:] = unit_ids(layer, n_units).astype(object)
        lay = f.create_variable("layer", ("unit",), self._h5py.string_dtype())
        lay[:] = np.full(n_units, layer, dtype=object)
        var.attrs["coordinates"] = "stimulus_id unit_id layer"
        var.attrs["layer"] = layer
        var.attrs["reduce"] = self.reduce
        self.files[layer] = (f, var, tmp, path)

    def write(self, layer: str, start: int, values: np.ndarray) -> None:
        if layer not in self.files:
            self.open(layer, values.shape[1], values.shape[2] if values.ndim == 3 else None, values.dtype)
        _, var, _, _ = self.files[layer]
        var[start : start + values.shape[0]] = values

    def close(self) -> None:
        """Close and delete the files of layers not handed back (after a failed extraction)."""
        for f, _, tmp, _ in self.files.values():
            try:
                f.close()
            except Exception:  # noqa: BLE001  (a file whose writes failed may not close cleanly)
                pass
            Path(tmp).unlink(missing_ok=True)
        self.files = {}

    def result(self, layer: str) -> xr.DataArray:
        f, _, tmp, path = self.files.pop(layer)
        f.close()
        os.replace(tmp, path)
        return load(path, lazy=True)


def _safe_name(layer: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in layer) or "layer"


def unit_ids(layer: str, n: int) -> np.ndarray:
    """``n`` unit ids ``"<layer>.<index>"``, zero-padded so that they sort in order; dims (unit,)."""
    width = len(str(max(n - 1, 0)))
    return np.array([f"{layer}.{i:0{width}d}" for i in range(n)])
