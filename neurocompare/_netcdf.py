"""Saving and loading DataArrays as NetCDF-4/HDF5 files: :func:`save` and :func:`load`.

Guarantees:

- **atomic**: the file is built in memory and written through :func:`neurocompare._atomic.atomic_write`
  (a unique temporary file in the same folder, fsynced, renamed), so a kill, a full disk or a
  concurrent writer never leaves a partial file, and the previous file survives a failed write;
- **checked**: :func:`save` stores a SHA-256 of the values, dims and coords in the attribute
  ``neurocompare_sha256``; :func:`load` recomputes and compares it, so bytes damaged on disk
  raise :class:`CorruptFileError` (naming the file) instead of loading wrong numbers. Files
  written by other tools (no checksum) load unverified;
- **self-contained**: :func:`load` refuses HDF5 external storage, external links and virtual
  datasets, so a crafted file cannot read other local files into an array.

Examples
--------
>>> import tempfile, pathlib, numpy as np, xarray as xr
>>> path = pathlib.Path(tempfile.mkdtemp()) / "r.nc"
>>> a = xr.DataArray(np.arange(6.0).reshape(3, 2), dims=("stimulus", "unit"), attrs={"meta": {"k": [1, 2]}})
>>> _ = save(a, path)
>>> b = load(path)
>>> bool((a == b).all()), b.attrs
(True, {'meta': {'k': [1, 2]}})
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurocompare._atomic import atomic_write, atomic_write_bytes, check_room

__all__ = ["CHECKSUM_ATTR", "CorruptFileError", "UnsafeFileError", "data_checksum", "load", "save"]

CHECKSUM_ATTR = "neurocompare_sha256"
_JSON_PREFIX = "json:"
#: above this many bytes of values, save() streams to the temporary file instead of building the
#: file in memory (after checking that the disk and the file-size limit can take it)
IN_MEMORY_LIMIT = 1 << 30


class CorruptFileError(ValueError):
    """A file is truncated, damaged or fails its checksum; the message names it and what to do."""


class UnsafeFileError(ValueError):
    """A file refers to data outside itself (HDF5 external storage, external link, virtual dataset)."""


# ----------------------------------------------------------------------------- attrs
def _encode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """NetCDF attrs hold strings and numbers only; JSON-encode everything else."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str) and not value.startswith(_JSON_PREFIX):
            out[key] = value
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            out[key] = value
        elif isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.number) and value.ndim == 1:
            out[key] = value
        else:
            try:
                out[key] = _JSON_PREFIX + json.dumps(value)
            except TypeError as err:
                raise TypeError(
                    f"Attribute {key!r} of type {type(value).__name__} cannot be saved; attrs must be "
                    "strings, numbers, or JSON-serialisable (lists, dicts, bools, None)."
                ) from err
    return out


def _decode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str) and value.startswith(_JSON_PREFIX):
            out[key] = json.loads(value[len(_JSON_PREFIX) :])
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out


# ----------------------------------------------------------------------------- checksum
def _hash_values(h: Any, values: np.ndarray) -> None:
    values = np.asarray(values)
    if values.dtype.kind in "OUS":
        h.update(f"str{values.shape}".encode())
        h.update("\x1f".join(str(v) for v in values.ravel().tolist()).encode())
    elif values.dtype.kind in "mM":
        h.update(f"{values.dtype.str}{values.shape}".encode())
        h.update(np.ascontiguousarray(values).view(np.int64).tobytes())
    else:
        values = np.ascontiguousarray(values)
        h.update(f"{values.dtype.str}{values.shape}".encode())
        h.update(memoryview(values).cast("B") if values.size else b"")


def data_checksum(arr: xr.DataArray) -> str:
    """SHA-256 of a DataArray's dims, values and coords (names, dims and values); 64 hex digits.

    Attributes are not included (they are small and human-edited). Values are hashed by their
    bytes, so any changed bit changes the checksum; string coords by their text.
    """
    h = hashlib.sha256()
    h.update(repr(tuple(arr.dims)).encode())
    _hash_values(h, arr.values)
    for name in sorted(map(str, arr.coords)):
        c = arr.coords[name]
        h.update(f"\x1e{name}{tuple(c.dims)}".encode())
        _hash_values(h, c.values)
    return h.hexdigest()


# ----------------------------------------------------------------------------- save
def _local_scheduler() -> Any:
    """Inside a Dask worker xarray would take a distributed lock named after the in-memory target
    (which fails: "Semaphore or Lock ... not known"); the values are in memory, so no lock is needed."""
    try:
        import dask
    except ImportError:
        return contextlib.nullcontext()
    return dask.config.set(scheduler="synchronous")


def save(resp: xr.DataArray, path: str | os.PathLike, *, name: str = "responses") -> Path:
    """Save a ``Responses`` (or RDM, or any DataArray) to a NetCDF-4/HDF5 file, coords and attrs included.

    The file is written atomically (unique temporary file in the same folder, fsync, rename):
    an interrupted or failed save leaves the previous file, and concurrent saves to one path
    leave one complete file. A SHA-256 of the values and coords is stored and checked by
    :func:`load`. Non-string attributes (dicts, lists, bools, None) are JSON-encoded and decoded
    again by :func:`load`, so a round trip is exact.

    Parameters
    ----------
    resp : xarray.DataArray
        Any dims, e.g. ('stimulus', 'unit').
    path : path-like
        Destination, conventionally ``*.nc``; its folder is created if needed.
    name : str
        Variable name inside the file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    TypeError
        ``resp`` is not a DataArray, or an attribute cannot be encoded.
    neurocompare._atomic.WriteError
        The file cannot be written (read-only folder, full disk, file-size limit); the message
        names the file and what to do, and nothing was replaced.
    """
    if not isinstance(resp, xr.DataArray):
        raise TypeError(f"save() takes an xarray.DataArray; got {type(resp).__name__}.")
    path = Path(path)
    arr = resp.copy(deep=False)
    if hasattr(arr.data, "compute"):  # dask: one read, then hashed and written from memory
        arr = arr.load()
    arr.name = name
    arr.attrs = _encode_attrs(resp.attrs)
    arr.attrs.pop(CHECKSUM_ATTR, None)
    arr.attrs[CHECKSUM_ATTR] = data_checksum(arr)
    for cname in list(arr.coords):
        arr.coords[cname].attrs = _encode_attrs(arr.coords[cname].attrs)
        if arr.coords[cname].dtype.kind == "U":
            arr.coords[cname].encoding["dtype"] = str
    arr.encoding = {}
    if arr.nbytes <= IN_MEMORY_LIMIT:
        # built in memory (HDF5 never touches the disk), then written with plain writes: a full
        # disk is a clean OSError, never a crash inside the HDF5 library
        try:
            with _local_scheduler():
                data = arr.to_netcdf(engine="h5netcdf", invalid_netcdf=True)
        except Exception as err:
            raise TypeError(f"Could not encode the DataArray for {path} as NetCDF: {err}") from err
        return atomic_write_bytes(path, data, what="NetCDF file")
    path.parent.mkdir(parents=True, exist_ok=True)
    check_room(path, arr.nbytes)
    return atomic_write(path, lambda tmp: arr.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=True), what="NetCDF file")


# ----------------------------------------------------------------------------- load
def _check_self_contained(path: Path) -> None:
    """Refuse external storage, external links and virtual datasets (they read other files)."""
    import h5py

    def walk(group: Any, prefix: str) -> None:
        for key in group:
            link = group.get(key, getlink=True)
            where = f"{prefix}/{key}"
            if isinstance(link, h5py.ExternalLink):
                raise UnsafeFileError(
                    f"{path} holds an external link {where!r} -> {link.filename}:{link.path}; neurocompare.load() "
                    "reads only self-contained files. Re-save the data with neurocompare.save()."
                )
            if isinstance(link, h5py.SoftLink):
                continue
            obj = group[key]
            if isinstance(obj, h5py.Group):
                walk(obj, where)
            elif isinstance(obj, h5py.Dataset):
                external = obj.id.get_create_plist().get_external_count()
                if external or obj.is_virtual:
                    kind = "external storage" if external else "a virtual dataset"
                    raise UnsafeFileError(
                        f"{path}: variable {where!r} uses {kind} (its values live in other files); "
                        "neurocompare.load() reads only self-contained files. Re-save the data with neurocompare.save()."
                    )

    with h5py.File(path, "r") as f:
        walk(f, "")


def _corrupt(path: Path, err: BaseException) -> CorruptFileError:
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return CorruptFileError(
        f"Could not read {path}: it is not a readable NetCDF-4/HDF5 file (truncated or damaged: {detail}). "
        "Re-create it with the command that wrote it, or restore a copy."
    )


def load(path: str | os.PathLike, *, name: str | None = None, lazy: bool = False) -> xr.DataArray:
    """Load a DataArray written by :func:`save`, verifying its checksum.

    Parameters
    ----------
    path : path-like
    name : str, optional
        Variable to read when the file holds several (e.g. one per layer).
    lazy : bool
        Keep values on disk until used (for activations larger than memory); the checksum is not
        verified then (that would read everything).

    Returns
    -------
    xarray.DataArray
        The original dims, coords (string coords as ``str`` dtype) and attrs.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CorruptFileError
        The file is truncated or damaged, or its values do not match the stored checksum.
    UnsafeFileError
        The file uses HDF5 external storage, external links or virtual datasets.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}. Write one with neurocompare.save(resp, path).")
    try:
        _check_self_contained(path)
        ds = xr.open_dataset(path, engine="h5netcdf", cache=not lazy)
    except (UnsafeFileError, MemoryError):
        raise
    except Exception as err:  # noqa: BLE001  (h5py/h5netcdf raise OSError, KeyError, ValueError...)
        raise _corrupt(path, err) from None
    names = list(ds.data_vars)
    if name is None:
        if len(names) != 1:
            ds.close()
            raise ValueError(f"{path} holds {len(names)} variables {names}; pass name= to choose one.")
        name = names[0]
    if name not in ds.data_vars:
        ds.close()
        raise KeyError(f"{path} has no variable {name!r}; it holds {names}.")
    arr = ds[name]
    if not lazy:
        try:
            arr = arr.load()
        except Exception as err:  # noqa: BLE001
            raise _corrupt(path, err) from None
        finally:
            ds.close()
    attrs = dict(arr.attrs)
    stored = attrs.pop(CHECKSUM_ATTR, None)
    try:
        arr.attrs = _decode_attrs(attrs)
    except json.JSONDecodeError as err:
        raise _corrupt(path, err) from None
    new_coords = {}
    for cname in list(arr.coords):
        c = arr.coords[cname]
        values = c.values
        if values.dtype == object and all(isinstance(v, str) for v in values.ravel()):
            values = values.astype(str)
        new_coords[cname] = xr.Variable(c.dims, values, attrs=_decode_attrs(c.attrs))
    arr = arr.assign_coords(new_coords)
    arr.name = None
    arr.encoding = {}
    if stored is not None and not lazy:
        actual = data_checksum(arr)
        if actual != str(stored):
            raise CorruptFileError(
                f"{path} is corrupt: its values do not match the checksum stored when it was saved "
                f"(stored {str(stored)[:12]}…, now {actual[:12]}…). Re-create it with the command that wrote it, "
                "or restore a copy."
            )
    return arr
