"""Generic readers for recorded data in common formats, returning plain Python / numpy / Responses.

- :func:`read_mat` — MATLAB ``.mat`` files, v4/v5/v7 (scipy) and v7.3 (HDF5, h5py), with the
  same output for both: a dict of numpy arrays in MATLAB's dimension order, strings as ``str``,
  structs as dicts, struct arrays as object arrays of dicts, cell arrays as object arrays.
- :func:`read_netcdf_assembly` — Brain-Score-style NetCDF assemblies (``presentation × neuroid``
  with a ``stimulus_id`` coordinate, optionally ``time_bin``) → ``Responses``.
- :func:`read_nwb_units` — NWB 2 files (via h5py; no pynwb needed): spike times of the units
  table, binned into a window after each stimulus presentation → ``Responses`` by stimulus,
  with a ``repetition`` dim for repeated presentations.
- :func:`read_responses_hdf5` / :func:`read_responses_npz` — a small documented schema for plain
  files (see :data:`SCHEMA`); :func:`write_responses_hdf5` / :func:`write_responses_npz` write it.
- :func:`read_idx` — IDX files (MNIST); :func:`read_npy` — ``.npy`` without pickle.

None of these unpickles anything: ``np.load(..., allow_pickle=False)`` and scipy's MATLAB reader
(which has no pickle path) are used; object arrays in ``.npy`` / ``.npz`` files are refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurocompare.data import check_responses, make_responses
from neurocompare.idx import read_idx  # one implementation, shared with training

__all__ = [
    "SCHEMA",
    "read_idx",
    "read_mat",
    "read_npy",
    "read_netcdf_assembly",
    "read_nwb_units",
    "read_responses_hdf5",
    "read_responses_npz",
    "write_responses_hdf5",
    "write_responses_npz",
]

_MAT73_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _exists(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}.")
    return path


# ----------------------------------------------------------------------------- numpy
def read_npy(path: str | os.PathLike, *, mmap_mode: str | None = None) -> np.ndarray:
    """Load a ``.npy`` array without ever unpickling.

    Parameters
    ----------
    path : path-like
    mmap_mode : {None, 'r'}
        Memory-map instead of reading.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If the file holds Python objects (which would need pickle) or is truncated/corrupt.
    """
    path = _exists(path)
    try:
        return np.load(path, allow_pickle=False, mmap_mode=mmap_mode)
    except ValueError as err:
        if "pickle" in str(err).lower() or "object" in str(err).lower():
            raise ValueError(
                f"{path} holds Python objects, which can only be read by unpickling; neurocompare "
                "refuses to unpickle data files. Re-save it with numeric/string arrays only."
            ) from err
        raise ValueError(f"Cannot read {path} as a .npy array (truncated or corrupt?): {err}") from err
    except (OSError, EOFError) as err:
        raise ValueError(f"Cannot read {path} as a .npy array (truncated or corrupt?): {err}") from err


# ----------------------------------------------------------------------------- MATLAB
def _from_scipy(value: Any) -> Any:
    """Convert scipy.io.loadmat output (squeeze_me, struct_as_record=False) to plain Python."""
    from scipy.io.matlab import mat_struct

    if isinstance(value, mat_struct):
        return {name: _from_scipy(getattr(value, name)) for name in value._fieldnames}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            out = np.empty(value.shape, dtype=object)
            for idx in np.ndindex(value.shape):
                out[idx] = _from_scipy(value[idx])
            return out
        if value.dtype.kind == "U" and value.ndim == 0:
            return str(value)
    if isinstance(value, np.str_):
        return str(value)
    return value


def _h5_to_python(f, obj) -> Any:
    """Convert one h5py object written by MATLAB v7.3 to plain Python (MATLAB dim order)."""
    import h5py

    if isinstance(obj, h5py.Group):
        return {key: _h5_to_python(f, obj[key]) for key in obj.keys() if not key.startswith("#")}
    mclass = obj.attrs.get("MATLAB_class", b"")
    mclass = mclass.decode() if isinstance(mclass, bytes) else str(mclass)
    if obj.attrs.get("MATLAB_empty", 0):
        return np.array([])
    data = obj[()]
    if mclass == "char":
        arr = np.asarray(data, dtype=np.uint32).T  # MATLAB order: rows are strings
        if arr.ndim == 2 and arr.shape[0] > 1:
            return np.array(["".join(map(chr, row)).rstrip("\x00") for row in arr])
        return "".join(map(chr, arr.ravel()))
    if mclass == "cell" or data.dtype == object:
        refs = np.asarray(data).T
        out = np.empty(refs.shape, dtype=object)
        for idx in np.ndindex(refs.shape):
            out[idx] = _h5_to_python(f, f[refs[idx]])
        return out.squeeze() if out.size != 1 else out.ravel()[0]
    if mclass == "logical":
        data = np.asarray(data, dtype=bool)
    arr = np.asarray(data)
    if arr.ndim >= 2:
        arr = arr.T
    if arr.dtype.names and {"real", "imag"} <= set(arr.dtype.names):
        arr = arr["real"] + 1j * arr["imag"]
    arr = np.squeeze(arr)
    return arr.item() if arr.ndim == 0 else arr


def read_mat(path: str | os.PathLike, variables: Sequence[str] | None = None) -> dict[str, Any]:
    """Read a MATLAB file of any version into plain Python objects.

    Parameters
    ----------
    path : path-like
        A ``.mat`` file: v4/v5/v7 (read with ``scipy.io.loadmat``) or v7.3 (HDF5, read with h5py).
    variables : sequence of str, optional
        Only these top-level variables (default: all).

    Returns
    -------
    dict
        ``{name: value}`` with numeric arrays in MATLAB's dimension order (v7.3 arrays are
        transposed back, since HDF5 stores them reversed) and singleton dims squeezed, strings as
        ``str``, structs as ``dict``, struct arrays and cell arrays as object arrays.

    Raises
    ------
    ValueError
        If the file is not a readable MATLAB file (truncated, corrupt, or another format).
    """
    path = _exists(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == _MAT73_SIGNATURE or _is_mat73(path):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                names = [k for k in f.keys() if not k.startswith("#")]
                if variables is not None:
                    missing = [v for v in variables if v not in names]
                    if missing:
                        raise KeyError(f"{path} has no variable(s) {missing}; it holds {names}.")
                    names = list(variables)
                return {k: _h5_to_python(f, f[k]) for k in names}
        except OSError as err:
            raise ValueError(f"Cannot read {path} as a MATLAB v7.3 (HDF5) file (truncated or corrupt?): {err}") from err
    from scipy.io import loadmat

    try:
        raw = loadmat(
            path,
            squeeze_me=True,
            struct_as_record=False,
            variable_names=None if variables is None else list(variables),
        )
    except (ValueError, TypeError, OSError, EOFError, NotImplementedError) as err:
        raise ValueError(f"Cannot read {path} as a MATLAB file (truncated, corrupt or not .mat?): {err}") from err
    out = {k: _from_scipy(v) for k, v in raw.items() if not k.startswith("__")}
    if variables is not None:
        missing = [v for v in variables if v not in out]
        if missing:
            raise KeyError(f"{path} has no variable(s) {missing}; it holds {sorted(out)}.")
    return out


def _is_mat73(path: Path) -> bool:
    """MATLAB v7.3 files have a 512-byte text header followed by the HDF5 signature."""
    with open(path, "rb") as fh:
        fh.seek(512)
        return fh.read(8) == _MAT73_SIGNATURE


# ----------------------------------------------------------------------------- plain schema
SCHEMA = """\
Plain-file schema for Responses (HDF5 or NPZ), read by read_responses_hdf5 / read_responses_npz:

  values        float/int array, shape (n_stimuli, n_units[, n_repetitions[, n_times]])  required
  stimulus_id   string array (n_stimuli,)                                                  optional
  unit_id       string array (n_units,)                                                    optional
  dims          string array naming the axes of `values`, default
                ('stimulus', 'unit', 'repetition', 'time')[:values.ndim]                  optional
  coords/<name> (HDF5 group, or NPZ key 'coord__<name>__<dim>'): 1-D array along one dim;
                in HDF5 the dim is given by the dataset's attribute 'dim'                 optional
  attrs         HDF5 attributes of the root group (strings and numbers)                   optional

NaN entries are kept (padding of unequal repetition counts).
"""


def _decode_strings(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind == "S" or arr.dtype == object:
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in arr.ravel()]).reshape(arr.shape)
    return arr


def _build(path: Path, values, stimulus_ids, unit_ids, dims, coords, attrs) -> xr.DataArray:
    values = np.asarray(values)
    if values.ndim < 2 or values.ndim > 4:
        raise ValueError(
            f"{path}: 'values' must have 2 to 4 dims (stimulus, unit[, repetition[, time]]); "
            f"got shape {values.shape}. See data_loaders.readers.SCHEMA."
        )
    dims = tuple(dims) if dims is not None else ("stimulus", "unit", "repetition", "time")[: values.ndim]
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    attrs.setdefault("source", str(path))
    try:
        return make_responses(
            values,
            stimulus_ids=stimulus_ids,
            unit_ids=unit_ids,
            dims=dims,
            coords=coords,
            allow_nan=True,
            **attrs,
        )
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path} does not follow the Responses file schema: {err}\n{SCHEMA}") from err


def read_responses_hdf5(path: str | os.PathLike, group: str = "/") -> xr.DataArray:
    """Read ``Responses`` from a plain HDF5 file following :data:`SCHEMA`.

    Parameters
    ----------
    path : path-like
    group : str
        HDF5 group holding the schema's datasets (default the root).

    Returns
    -------
    Responses with dims ('stimulus', 'unit'[, 'repetition'][, 'time']); NaN allowed.

    Raises
    ------
    ValueError
        If the file is not HDF5, or ``values`` is missing or has the wrong layout.
    """
    import h5py

    path = _exists(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"Cannot open {path} as HDF5 (truncated or not HDF5?): {err}") from err
    with f:
        if group not in f:
            raise ValueError(f"{path} has no group {group!r}; top-level entries: {list(f.keys())}.")
        g = f[group]
        if "values" not in g or not isinstance(g["values"], h5py.Dataset):
            raise ValueError(
                f"{path}{'' if group == '/' else ':' + group} has no 'values' dataset; it holds "
                f"{list(g.keys())}. Expected layout:\n{SCHEMA}"
            )
        values = g["values"][()]
        sid = _decode_strings(g["stimulus_id"][()]) if "stimulus_id" in g else None
        uid = _decode_strings(g["unit_id"][()]) if "unit_id" in g else None
        dims = [str(d) for d in _decode_strings(g["dims"][()])] if "dims" in g else None
        coords = {}
        if "coords" in g:
            for name, ds in g["coords"].items():
                dim = ds.attrs.get("dim")
                if dim is None:
                    raise ValueError(f"{path}: coordinate 'coords/{name}' lacks the attribute 'dim'.")
                dim = dim.decode() if isinstance(dim, bytes) else str(dim)
                coords[name] = (dim, _decode_strings(ds[()]))
        attrs = dict(g.attrs)
    return _build(path, values, sid, uid, dims, coords, attrs)


def write_responses_hdf5(resp: xr.DataArray, path: str | os.PathLike) -> Path:
    """Write ``Responses`` to a plain HDF5 file following :data:`SCHEMA` (1-D coords only)."""
    import h5py

    resp = check_responses(resp, allow_nan=True)
    path = Path(path)
    with h5py.File(path, "w") as f:
        f["values"] = resp.values
        f["dims"] = np.array(resp.dims, dtype="S")
        str_dt = h5py.string_dtype()
        for cname in resp.coords:
            c = resp.coords[cname]
            if c.ndim != 1:
                continue
            vals = c.values
            data = np.array([str(v) for v in vals], dtype=object) if vals.dtype.kind in "UO" else vals
            if cname in ("stimulus_id", "unit_id"):
                f.create_dataset(cname, data=data, dtype=str_dt if data.dtype == object else None)
            else:
                ds = f.create_dataset(f"coords/{cname}", data=data, dtype=str_dt if data.dtype == object else None)
                ds.attrs["dim"] = c.dims[0]
        for key, value in resp.attrs.items():
            if isinstance(value, (str, int, float, np.number)):
                f.attrs[key] = value
    return path


def read_responses_npz(path: str | os.PathLike) -> xr.DataArray:
    """Read ``Responses`` from an ``.npz`` following :data:`SCHEMA` (never unpickles).

    Coordinates are stored under keys ``coord__<name>__<dim>``; string attributes under
    ``attr__<name>``.
    """
    path = _exists(path)
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"Cannot read {path} as .npz (truncated or corrupt?): {err}") from err
    with z:
        try:
            keys = list(z.files)
            if "values" not in keys:
                raise ValueError(f"{path} has no 'values' array; it holds {keys}. Expected layout:\n{SCHEMA}")
            values = z["values"]
            sid = z["stimulus_id"] if "stimulus_id" in keys else None
            uid = z["unit_id"] if "unit_id" in keys else None
            dims = [str(d) for d in z["dims"]] if "dims" in keys else None
            coords, attrs = {}, {}
            for key in keys:
                if key.startswith("coord__"):
                    parts = key.split("__")
                    if len(parts) != 3:
                        raise ValueError(f"{path}: coordinate key {key!r} must look like 'coord__<name>__<dim>'.")
                    coords[parts[1]] = (parts[2], z[key])
                elif key.startswith("attr__"):
                    attrs[key[len("attr__") :]] = z[key].item()
        except ValueError as err:
            if "pickle" in str(err).lower():
                raise ValueError(f"{path} holds Python objects; neurocompare refuses to unpickle data files.") from err
            raise
        except (OSError, EOFError, KeyError) as err:  # zipfile errors on truncated members
            raise ValueError(f"Cannot read {path} as .npz (truncated or corrupt?): {err}") from err
    return _build(path, values, sid, uid, dims, coords, attrs)


def write_responses_npz(resp: xr.DataArray, path: str | os.PathLike) -> Path:
    """Write ``Responses`` to an ``.npz`` following :data:`SCHEMA` (1-D coords only)."""
    resp = check_responses(resp, allow_nan=True)
    arrays: dict[str, np.ndarray] = {"values": resp.values, "dims": np.array(resp.dims)}
    for cname in resp.coords:
        c = resp.coords[cname]
        if c.ndim != 1:
            continue
        vals = np.asarray(c.values)
        if vals.dtype == object:
            vals = vals.astype(str)
        if cname in ("stimulus_id", "unit_id"):
            arrays[cname] = vals
        else:
            arrays[f"coord__{cname}__{c.dims[0]}"] = vals
    for key, value in resp.attrs.items():
        if isinstance(value, (str, int, float, np.number)):
            arrays[f"attr__{key}"] = np.array(value)
    path = Path(path)
    np.savez(path, **arrays)
    return path


# ----------------------------------------------------------------------------- NetCDF (Brain-Score)
def read_netcdf_assembly(
    path: str | os.PathLike,
    *,
    variable: str | None = None,
    average_time: bool = False,
) -> xr.DataArray:
    """Read a Brain-Score-style NetCDF neural assembly as ``Responses``.

    Brain-Score stores assemblies as NetCDF with dims ``('presentation', 'neuroid'[, 'time_bin'])``,
    a ``stimulus_id`` coordinate along ``presentation`` (``image_id`` in older files; repeated
    presentations share an id) and
    a ``neuroid_id`` coordinate along ``neuroid``. Repeated presentations become a
    ``'repetition'`` dim (NaN-padded where a stimulus was shown fewer times); time bins become
    ``'time'`` (or are averaged with ``average_time=True``).

    Parameters
    ----------
    path : path-like
    variable : str, optional
        Data variable to read when the file holds several.
    average_time : bool
        Average over ``time_bin`` instead of keeping a ``'time'`` dim.

    Returns
    -------
    Responses with dims ('stimulus', 'unit'[, 'repetition'][, 'time'])
        Extra per-neuroid coords (``region``, ``animal`` ...) are kept on ``unit``; per-stimulus
        coords that are constant across repetitions are kept on ``stimulus``.
    """
    path = _exists(path)
    ds = None
    errors = []
    for engine in ("h5netcdf", "scipy"):  # NetCDF-4 (HDF5), then NetCDF-3 classic
        try:
            ds = xr.open_dataset(path, engine=engine)
            break
        except Exception as err:  # each backend raises its own types on foreign or corrupt files
            errors.append(f"{engine}: {err}")
    if ds is None:
        raise ValueError(
            f"Cannot open {path} as NetCDF-4/HDF5 or NetCDF-3 (truncated or not NetCDF?): " + "; ".join(errors)
        )
    with ds:
        names = list(ds.data_vars)
        if variable is None:
            if len(names) != 1:
                raise ValueError(f"{path} holds {len(names)} data variables {names}; pass variable= to choose one.")
            variable = names[0]
        if variable not in ds.data_vars:
            raise KeyError(f"{path} has no variable {variable!r}; it holds {names}.")
        da = ds[variable].load()
    # MultiIndex-free: Brain-Score files store levels as plain coords along each dim
    for need in ("presentation", "neuroid"):
        if need not in da.dims:
            raise ValueError(
                f"{path}:{variable} must have dims ('presentation', 'neuroid'[, 'time_bin']) like a "
                f"Brain-Score assembly; got {da.dims}."
            )
    id_coord = next(
        (c for c in ("stimulus_id", "image_id") if c in da.coords and da[c].dims == ("presentation",)), None
    )
    if id_coord is None:
        raise ValueError(
            f"{path}:{variable} needs a 'stimulus_id' (or, in older Brain-Score files, 'image_id') "
            f"coordinate along 'presentation'; coords present: {sorted(map(str, da.coords))}."
        )
    extra = [d for d in da.dims if d not in ("presentation", "neuroid", "time_bin")]
    if extra:
        raise ValueError(f"{path}:{variable} has unsupported dims {extra}; expected presentation, neuroid, time_bin.")
    if "time_bin" in da.dims and average_time:
        da = da.mean("time_bin", keep_attrs=True)
    da = da.transpose("presentation", "neuroid", *(["time_bin"] if "time_bin" in da.dims else []))
    values = np.asarray(da.values, dtype=float)
    sids = np.asarray(da[id_coord].values).astype(str)
    uniq, first = np.unique(sids, return_index=True)
    order = np.sort(first)
    stim_ids = sids[order]
    pos = {s: i for i, s in enumerate(stim_ids)}
    rep_index = np.zeros(sids.size, dtype=int)
    counts: dict[str, int] = {}
    for i, s in enumerate(sids):
        rep_index[i] = counts.get(s, 0)
        counts[s] = rep_index[i] + 1
    n_rep = max(counts.values())
    shape = (stim_ids.size, values.shape[1], n_rep) + values.shape[2:]
    out = np.full(shape, np.nan)
    for i, s in enumerate(sids):
        out[pos[s], :, rep_index[i]] = values[i]
    dims = ["stimulus", "unit", "repetition"] + (["time"] if "time_bin" in da.dims else [])
    if n_rep == 1:
        out = out[:, :, 0]
        dims.remove("repetition")
    unit_ids = (
        np.asarray(da["neuroid_id"].values).astype(str) if "neuroid_id" in da.coords else None
    )
    coords: dict[str, Any] = {}
    for cname, c in da.coords.items():
        if cname in (id_coord, "neuroid_id") or c.ndim != 1:
            continue
        if c.dims == ("neuroid",):
            coords[cname] = ("unit", np.asarray(c.values))
        elif c.dims == ("presentation",):
            vals = np.asarray(c.values)
            per_stim = vals[order]
            consistent = all(vals[i] == per_stim[pos[s]] for i, s in enumerate(sids))
            if consistent:
                coords[cname] = ("stimulus", per_stim)
    if "time_bin" in da.dims:
        tb = [c for c in ("time_bin_start", "time_bin_end") if c in da.coords and da[c].dims == ("time_bin",)]
        if tb:
            coords["time"] = ("time", np.asarray(da[tb[0]].values, dtype=float))
        coords.pop("time_bin_start", None)
        coords.pop("time_bin_end", None)
    attrs = {k: v for k, v in da.attrs.items() if isinstance(v, (str, int, float))}
    attrs.setdefault("source", str(path))
    return make_responses(out, stimulus_ids=stim_ids, unit_ids=unit_ids, dims=dims, coords=coords, allow_nan=True, **attrs)


# ----------------------------------------------------------------------------- NWB
def _nwb_column(f, table: str, name: str) -> np.ndarray:
    """Read a (possibly ragged) column of an NWB dynamic table, as an array or list of arrays."""
    grp = f[table]
    if name not in grp:
        raise ValueError(f"NWB table '{table}' has no column '{name}'; columns: {sorted(grp.keys())}.")
    data = grp[name][()]
    if f"{name}_index" in grp:
        index = grp[f"{name}_index"][()]
        starts = np.concatenate([[0], index[:-1]])
        return [np.asarray(data[s:e]) for s, e in zip(starts, index)]  # type: ignore[return-value]
    return _decode_strings(data) if np.asarray(data).dtype.kind in "SO" else np.asarray(data)


def read_nwb_units(
    path: str | os.PathLike,
    *,
    window: tuple[float, float] = (0.05, 0.25),
    intervals: str | None = None,
    stimulus_column: str | None = None,
    rate: bool = True,
) -> xr.DataArray:
    """Bin NWB spike times by stimulus presentation into ``Responses``.

    Reads the NWB 2 ``/units`` table (``spike_times`` with ``spike_times_index``; ``id``) and a
    presentations table under ``/intervals`` (``start_time`` plus a column naming the stimulus)
    directly with h5py, so pynwb is not required. Each presentation gives the spike count of each
    unit in ``[start_time + window[0], start_time + window[1])``; presentations of the same
    stimulus become repetitions.

    Parameters
    ----------
    path : path-like
        An NWB 2 (HDF5) file.
    window : (float, float)
        Counting window in seconds relative to each presentation's ``start_time``.
    intervals : str, optional
        Name of the table under ``/intervals`` (default: ``'trials'`` if present, else the only
        table there, else ``'<...>_presentations'``).
    stimulus_column : str, optional
        Column holding the stimulus label (default: the first of ``stimulus_id``,
        ``stimulus_name``, ``image_id``, ``image_name``, ``image_index``, ``stimulus_index``,
        ``frame``, ``stimulus`` found).
    rate : bool
        Divide counts by the window length (spikes/s) instead of raw counts.

    Returns
    -------
    Responses with dims ('stimulus', 'unit', 'repetition')
        NaN-padded where a stimulus was shown fewer times than the most repeated one.
        ``unit_id`` from the units table's ``id``; per-unit string/number columns become coords.

    Raises
    ------
    ValueError
        If the file is not HDF5, lacks a units table with spike times, or has no usable
        presentations table.
    """
    import h5py

    path = _exists(path)
    lo, hi = float(window[0]), float(window[1])
    if not hi > lo:
        raise ValueError(f"window must be (start, end) with end > start; got {window}.")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"Cannot open {path} as an NWB (HDF5) file (truncated or not HDF5?): {err}") from err
    with f:
        if "units" not in f or "spike_times" not in f["units"]:
            raise ValueError(
                f"{path} has no '/units' table with 'spike_times'; top-level entries: {sorted(f.keys())}. "
                "Spike-sorted units are needed to build Responses."
            )
        spikes = _nwb_column(f, "units", "spike_times")
        if not isinstance(spikes, list):
            raise ValueError(f"{path}: '/units/spike_times' must be ragged (with 'spike_times_index').")
        unit_ids = np.asarray(f["units/id"][()]).astype(str) if "id" in f["units"] else None
        unit_coords = {}
        for col in f["units"].keys():
            if col in ("spike_times", "spike_times_index", "id") or col.endswith("_index"):
                continue
            if f"{col}_index" in f["units"]:
                continue
            ds = f["units"][col]
            if isinstance(ds, h5py.Dataset) and ds.ndim == 1 and ds.shape[0] == len(spikes):
                vals = ds[()]
                if vals.dtype.kind in "SO":
                    vals = _decode_strings(vals)
                if vals.dtype.kind in "iufbU":
                    unit_coords[col] = ("unit", vals)
        if "intervals" not in f or not len(f["intervals"]):
            raise ValueError(f"{path} has no '/intervals' tables (trials or stimulus presentations).")
        tables = sorted(f["intervals"].keys())
        if intervals is None:
            if "trials" in tables:
                intervals = "trials"
            elif len(tables) == 1:
                intervals = tables[0]
            else:
                pres = [t for t in tables if t.endswith("presentations")]
                if len(pres) != 1:
                    raise ValueError(f"{path} has several interval tables {tables}; pass intervals= to choose one.")
                intervals = pres[0]
        if intervals not in tables:
            raise ValueError(f"{path} has no interval table {intervals!r}; available: {tables}.")
        tname = f"intervals/{intervals}"
        columns = sorted(f[tname].keys())
        if stimulus_column is None:
            for cand in ("stimulus_id", "stimulus_name", "image_id", "image_name", "image_index",
                         "stimulus_index", "frame", "stimulus"):
                if cand in columns:
                    stimulus_column = cand
                    break
            else:
                raise ValueError(f"{path}:{tname} has no stimulus column; columns: {columns}. Pass stimulus_column=.")
        starts = np.asarray(_nwb_column(f, tname, "start_time"), dtype=float)
        labels = np.asarray(_nwb_column(f, tname, stimulus_column))
    labels = labels.astype(str)
    order = np.sort(np.unique(labels, return_index=True)[1])
    stim_ids = labels[order]
    pos = {s: i for i, s in enumerate(stim_ids)}
    reps = np.zeros(labels.size, dtype=int)
    seen: dict[str, int] = {}
    for i, s in enumerate(labels):
        reps[i] = seen.get(s, 0)
        seen[s] = reps[i] + 1
    n_rep = max(seen.values())
    out = np.full((stim_ids.size, len(spikes), n_rep), np.nan)
    for u, st in enumerate(spikes):
        st = np.sort(np.asarray(st, dtype=float))
        counts = np.searchsorted(st, starts + hi, side="left") - np.searchsorted(st, starts + lo, side="left")
        for i, s in enumerate(labels):
            out[pos[s], u, reps[i]] = counts[i]
    if rate:
        out /= hi - lo
    return make_responses(
        out,
        stimulus_ids=stim_ids,
        unit_ids=unit_ids,
        dims=("stimulus", "unit", "repetition"),
        coords=unit_coords,
        allow_nan=True,
        source=str(path),
        units="spikes/s" if rate else "spike count",
        window_s=[lo, hi],
    )
