"""The data type everything in neurocompare shares: ``Responses``.

A ``Responses`` is a plain :class:`xarray.DataArray` (never a subclass) holding the
responses of some units (neurons, voxels, model channels) to a set of stimuli::

    <xarray.DataArray (stimulus: 92, unit: 4096)>
    array([[...]], dtype=float32)
    Coordinates:
        stimulus_id  (stimulus) <U8   'img_0000' 'img_0001' ... 'img_0091'   required, unique
        unit_id      (unit) <U10      'conv2.0000' ... 'conv2.4095'          required, unique
        layer        (unit) <U5       'conv2' ...                            optional
        region       (unit) <U2       'IT' ...                               optional
        x, y         (stimulus) float64                                     optional
        time         (time) float64                                         optional
    Dimensions without coordinates: stimulus, unit
    Attributes:
        source:   'kriegeskorte2008'
        units:    'spikes/s'

Dims are ``('stimulus', 'unit')`` with the optional extra dims ``'repetition'`` (trial
repeats, used for noise ceilings) and ``'time'``, always in the canonical order
``('stimulus', 'unit', 'repetition', 'time')`` after :func:`check_responses`.

A second, smaller type, the *RDM* (representational dissimilarity matrix), is also a plain
DataArray: dims ``('stimulus', 'stimulus_2')``, the ``stimulus_id`` coord on the first dim
and ``stimulus_id_2`` on the second, optionally stacked over leading dims such as
``('subject', 'session')``. :func:`make_rdm` builds one and :func:`check_rdm` validates it.

Stimuli travel as DataArrays too, with the same ``stimulus_id`` coord as the responses they
evoked: images as ``('stimulus', 'height', 'width', 'channel')`` uint8, sounds as
``('stimulus', 'sample')`` with a ``sample_rate`` attr. Recorded trajectories (for grid cells)
arrive from ``data_loaders`` as ``('time', 'space')`` with ``space = ['x', 'y']`` and a ``time``
coord in seconds; each time step can serve as a "stimulus" (``x``/``y`` coords). Batches of paths
are one type, ``neurocompare.gridcells.Trajectories`` (``position`` of dims ``(trajectory,
time + 1, 2)``); ``Trajectories.from_positions`` and ``.to_dataarray()`` convert between the two.

Examples
--------
>>> import numpy as np
>>> resp = make_responses(np.arange(12.0).reshape(4, 3), source="demo")
>>> resp.dims
('stimulus', 'unit')
>>> [str(s) for s in resp.stimulus_id.values]
['stim_0000', 'stim_0001', 'stim_0002', 'stim_0003']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurocompare.typing import ResponsesLike

__all__ = [
    "REQUIRED_DIMS",
    "OPTIONAL_DIMS",
    "make_responses",
    "check_responses",
    "make_rdm",
    "check_rdm",
    "align",
    "average_repetitions",
    "split_repetitions",
    "save",
    "load",
]

REQUIRED_DIMS = ("stimulus", "unit")
OPTIONAL_DIMS = ("repetition", "time")
CANONICAL_ORDER = REQUIRED_DIMS + OPTIONAL_DIMS
STIMULUS_COORDS = ("x", "y")
UNIT_COORDS = ("region", "layer")
MIN_STIMULI = 3

_HOW_TO_BUILD = (
    "Build a valid one with neurocompare.make_responses(values, stimulus_ids=..., unit_ids=...), "
    "where values has shape (n_stimuli, n_units)."
)


# ----------------------------------------------------------------------------- helpers
def _as_id_array(ids: Any, n: int, prefix: str, what: str) -> np.ndarray:
    """Return ``ids`` as a 1-D unicode array of length ``n``; default ``prefix_0000``."""
    if ids is None:
        width = max(4, len(str(max(n - 1, 0))))
        return np.array([f"{prefix}_{i:0{width}d}" for i in range(n)])
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{what} must be a 1-D sequence with one id per {prefix} ({n}); "
            f"got shape {arr.shape}. Pass exactly one id for each row/column."
        )
    return np.array([str(v) for v in arr.tolist()])


def _duplicates(ids: np.ndarray) -> list[str]:
    values, counts = np.unique(ids, return_counts=True)
    return [str(v) for v in values[counts > 1]]


def _short(items: Sequence[Any], k: int = 5) -> str:
    items = list(items)
    text = ", ".join(repr(str(i)) for i in items[:k])
    return text + (f", ... ({len(items)} in all)" if len(items) > k else "")


_COMPLEX = (
    "Responses values must be real; got complex dtype {dtype}, whose imaginary part every measure would drop. "
    "Pass values.real, np.abs(values), or real and imaginary parts as separate units."
)
_MAKE_PARAMS = ("stimulus_ids", "unit_ids", "dims", "coords", "allow_nan", "attrs")
_COORD_NAMES = ("stimulus", "unit", "repetition", "time", "stimulus_id", "unit_id", "region", "layer", "x", "y")


def _check_attr_keys(keys: Mapping[str, Any]) -> None:
    """Refuse keyword attrs that look like a misspelled parameter or a coordinate (issue 12)."""
    import difflib

    for key in keys:
        close = difflib.get_close_matches(key, _MAKE_PARAMS, n=1, cutoff=0.85)
        if key in _COORD_NAMES or key.endswith(("_id", "_ids")) or close:
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"make_responses() got the keyword {key!r}, which looks like a parameter or a coordinate, not an "
                f"attribute.{hint} Ids go in stimulus_ids=/unit_ids=, other coordinates in "
                f"coords={{'name': ('stimulus', values)}}, and attributes in attrs={{...}} (or plain keywords such as "
                "source=, citation=, units=)."
            )


def _check_not_transposed(shape: Mapping[str, int], stimulus_ids: Any, unit_ids: Any) -> None:
    """Say so when the id lengths fit the values only with 'stimulus' and 'unit' swapped."""
    if stimulus_ids is None or unit_ids is None or "stimulus" not in shape or "unit" not in shape:
        return
    ns, nu = len(stimulus_ids), len(unit_ids)
    if (ns, nu) != (shape["stimulus"], shape["unit"]) and (nu, ns) == (shape["stimulus"], shape["unit"]):
        raise ValueError(
            f"values has {shape['stimulus']} rows along 'stimulus' and {shape['unit']} along 'unit', but you gave "
            f"{ns} stimulus ids and {nu} unit ids: the values look transposed (units x stimuli). Pass values.T, "
            "or name the axes with dims=('unit', 'stimulus')."
        )


# ----------------------------------------------------------------------------- Responses
def make_responses(
    values: Any,
    *,
    stimulus_ids: Sequence[Any] | None = None,
    unit_ids: Sequence[Any] | None = None,
    dims: Sequence[str] = REQUIRED_DIMS,
    coords: Mapping[str, Any] | None = None,
    allow_nan: bool = False,
    attrs: Mapping[str, Any] | None = None,
    **more_attrs: Any,
) -> xr.DataArray:
    """Build a validated ``Responses`` from an array.

    Parameters
    ----------
    values : array-like, shape (n_stimuli, n_units[, ...])
        Response values. Torch tensors are moved to CPU and converted. The axes are named by
        ``dims``.
    stimulus_ids, unit_ids : sequence of str, optional
        One unique id per stimulus / unit. Defaults to ``stim_0000 ...`` / ``unit_0000 ...``.
    dims : sequence of str
        Names of the axes of ``values``; must contain ``'stimulus'`` and ``'unit'`` and may
        contain ``'repetition'`` and ``'time'``.
    coords : mapping, optional
        Extra coordinates, e.g. ``{"region": ("unit", regions), "x": ("stimulus", xs)}``.
    allow_nan : bool
        Allow NaN entries (for example NaN padding of unequal repeat counts). Infinities are
        never allowed.
    attrs : mapping, optional
        Attributes (``source``, ``citation``, ``units``, ...).
    **more_attrs
        Also stored as attributes, except names that look like a parameter or a coordinate
        (``stimulus_id``, ``unit_id``, ``stimuli_ids``, ``region``, ...): a misspelled keyword is
        refused with the name it resembles instead of being filed silently under ``attrs``.

    Returns
    -------
    Responses
        DataArray with dims in the canonical order ``('stimulus', 'unit', 'repetition', 'time')``.

    Raises
    ------
    TypeError
        Complex or non-numeric values; a keyword that resembles a parameter or a coordinate name.
    ValueError
        Ids of the wrong length (the message says when ``values`` looks transposed), duplicate
        ids, NaN (unless ``allow_nan``) or infinite values.
    """
    _check_attr_keys(more_attrs)
    attrs = {**dict(attrs or {}), **more_attrs}
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        values = values.detach().cpu().numpy()
    if isinstance(values, xr.DataArray):
        raise TypeError(
            "make_responses() takes a plain array; got an xarray.DataArray. "
            "Use neurocompare.check_responses(dataarray) to validate an existing DataArray."
        )
    arr = np.asarray(values)
    if np.iscomplexobj(arr):
        raise TypeError(_COMPLEX.format(dtype=arr.dtype))
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(
            f"Responses values must be numeric; got dtype {arr.dtype}. "
            "Convert them first, e.g. np.asarray(values, dtype=float)."
        )
    dims = tuple(dims)
    if arr.ndim != len(dims):
        raise ValueError(
            f"values has {arr.ndim} dimension(s) {arr.shape} but dims names {len(dims)}: {dims}. "
            "Responses need at least 2-D values of shape (n_stimuli, n_units); "
            "reshape 1-D data with values[:, None] for a single unit."
        )
    shape = dict(zip(dims, arr.shape))
    _check_not_transposed(shape, stimulus_ids, unit_ids)
    all_coords: dict[str, Any] = {}
    if "stimulus" in shape:
        all_coords["stimulus_id"] = ("stimulus", _as_id_array(stimulus_ids, shape["stimulus"], "stim", "stimulus_ids"))
    if "unit" in shape:
        all_coords["unit_id"] = ("unit", _as_id_array(unit_ids, shape["unit"], "unit", "unit_ids"))
    for name, value in (coords or {}).items():
        all_coords[name] = value
    resp = xr.DataArray(arr, dims=dims, coords=all_coords, attrs=dict(attrs))
    return check_responses(resp, allow_nan=allow_nan)


def check_responses(resp: ResponsesLike, *, allow_nan: bool = False, min_stimuli: int = MIN_STIMULI) -> xr.DataArray:
    """Validate a ``Responses`` and return it in canonical dim order.

    Parameters
    ----------
    resp : xarray.DataArray with dims ('stimulus', 'unit'[, 'repetition'][, 'time'])
        The array to check.
    allow_nan : bool
        Accept NaN entries (padding of missing repetitions). Infinities are always refused.
    min_stimuli : int
        The fewest stimuli accepted (default 3: no similarity measure is defined on fewer).

    Returns
    -------
    Responses
        The same data, transposed to ``('stimulus', 'unit', 'repetition', 'time')`` order.

    Raises
    ------
    TypeError
        If ``resp`` is not a DataArray or its values are not numeric.
    ValueError
        If dims or required coords are missing, ids are duplicated, there are fewer than
        ``min_stimuli`` stimuli, or values hold NaN (unless ``allow_nan``) or infinities.
    """
    if not isinstance(resp, xr.DataArray):
        raise TypeError(
            f"Expected Responses (an xarray.DataArray with dims ('stimulus', 'unit')); "
            f"got {type(resp).__name__}. {_HOW_TO_BUILD}"
        )
    dims = resp.dims
    missing = [d for d in REQUIRED_DIMS if d not in dims]
    unknown = [d for d in dims if d not in CANONICAL_ORDER]
    if missing or unknown:
        raise ValueError(
            f"Responses must have dims ('stimulus', 'unit') plus optionally {OPTIONAL_DIMS}; "
            f"got dims {dims} (missing {missing}, unknown {unknown}). "
            "Rename axes with resp.rename({'old': 'stimulus'}) or " + _HOW_TO_BUILD
        )
    if np.issubdtype(resp.dtype, np.complexfloating):
        raise TypeError(_COMPLEX.format(dtype=resp.dtype))
    if resp.dtype == object or not (np.issubdtype(resp.dtype, np.number) or resp.dtype == bool):
        raise TypeError(
            f"Responses values must be numeric; got dtype {resp.dtype}. "
            "Convert with resp.astype(float)."
        )
    for coord, dim in (("stimulus_id", "stimulus"), ("unit_id", "unit")):
        if coord not in resp.coords:
            raise ValueError(
                f"Responses need a '{coord}' coordinate along '{dim}'; present coords: "
                f"{sorted(map(str, resp.coords))}. Add it with "
                f"resp.assign_coords({coord}=('{dim}', ids))."
            )
        if resp[coord].dims != (dim,):
            raise ValueError(
                f"The '{coord}' coordinate must lie along '{dim}' alone; it has dims {resp[coord].dims}."
            )
        dup = _duplicates(np.asarray(resp[coord].values).astype(str))
        if dup:
            raise ValueError(
                f"'{coord}' must be unique, but {len(dup)} id(s) repeat: {_short(dup)}. "
                "Average repeated presentations into a 'repetition' dim, or give each a distinct id."
            )
    n_stim = resp.sizes["stimulus"]
    if n_stim < min_stimuli:
        raise ValueError(
            f"Responses need at least {min_stimuli} stimuli; got {n_stim}. "
            "Similarity measures are undefined on fewer stimuli."
        )
    if resp.sizes["unit"] < 1:
        raise ValueError("Responses need at least one unit; got an empty 'unit' dim.")
    values = resp.values if not _is_lazy(resp) else None
    if values is not None and np.issubdtype(values.dtype, np.floating):
        finite = np.isfinite(values)
        if not finite.all():
            n_inf = int(np.isinf(values).sum())
            n_nan = int(np.isnan(values).sum())
            if n_inf:
                raise ValueError(
                    f"Responses contain {n_inf} infinite value(s). Remove or clip them before building Responses."
                )
            if n_nan and not allow_nan:
                raise ValueError(
                    f"Responses contain {n_nan} NaN value(s) out of {values.size}. "
                    "Drop or impute them; or, for NaN padding of unequal repetition counts, "
                    "pass allow_nan=True and average with neurocompare.average_repetitions()."
                )
    order = [d for d in CANONICAL_ORDER if d in dims]
    return resp.transpose(*order) if tuple(order) != dims else resp


def _is_lazy(resp: xr.DataArray) -> bool:
    """True when the DataArray's values are still on disk (opened lazily)."""
    return not isinstance(resp.variable._data, np.ndarray)


# ----------------------------------------------------------------------------- RDMs
def make_rdm(
    values: Any,
    *,
    stimulus_ids: Sequence[Any] | None = None,
    stack_dim: str | None = None,
    stack_ids: Sequence[Any] | None = None,
    **attrs: Any,
) -> xr.DataArray:
    """Build a validated RDM DataArray.

    Parameters
    ----------
    values : array-like, shape (n_stimuli, n_stimuli) or (n_stack, n_stimuli, n_stimuli)
        Square, symmetric dissimilarities with a zero diagonal.
    stimulus_ids : sequence of str, optional
        One id per stimulus.
    stack_dim : str, optional
        Name of the leading dim for stacked RDMs (``'subject'``, ``'session'``, ...).
    stack_ids : sequence, optional
        Labels along ``stack_dim``.

    Returns
    -------
    xarray.DataArray with dims ([stack_dim,] 'stimulus', 'stimulus_2')
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 3 and stack_dim is None:
        stack_dim = "rdm"
    if arr.ndim not in (2, 3) or arr.shape[-1] != arr.shape[-2]:
        raise ValueError(
            f"make_rdm() takes shape (n, n) or (n_stack, n, n); got shape {arr.shape}. "
            "Convert a condensed vector with scipy.spatial.distance.squareform first."
        )
    n = arr.shape[-1]
    ids = _as_id_array(stimulus_ids, n, "stim", "stimulus_ids")
    dims = ("stimulus", "stimulus_2")
    coords: dict[str, Any] = {"stimulus_id": ("stimulus", ids), "stimulus_id_2": ("stimulus_2", ids)}
    if arr.ndim == 3:
        dims = (stack_dim,) + dims
        if stack_ids is not None:
            coords[stack_dim] = (stack_dim, np.asarray(stack_ids))
    return check_rdm(xr.DataArray(arr, dims=dims, coords=coords, attrs=dict(attrs)))


def check_rdm(rdm: Any, *, atol: float = 1e-8) -> xr.DataArray:
    """Validate an RDM DataArray: square, symmetric, zero diagonal, finite, unique ids.

    Parameters
    ----------
    rdm : xarray.DataArray with dims ``(*stack, 'stimulus', 'stimulus_2')``
        Any number of leading stack dims (``'subject'``, ``'session'``, ...) is allowed.
    atol : float
        Tolerance for symmetry and the zero diagonal.

    Returns
    -------
    The same RDM.
    """
    if not isinstance(rdm, xr.DataArray):
        raise TypeError(f"Expected an RDM DataArray; got {type(rdm).__name__}. Build one with make_rdm().")
    if rdm.ndim < 2 or rdm.dims[-2:] != ("stimulus", "stimulus_2"):
        raise ValueError(
            f"An RDM must have dims (*stack, 'stimulus', 'stimulus_2'); got {rdm.dims}. Build one with make_rdm()."
        )
    arr = np.asarray(rdm.values, dtype=float)
    if not np.isfinite(arr).all():
        raise ValueError("The RDM holds NaN or infinite values; RDM entries must be finite.")
    if not np.allclose(arr, np.swapaxes(arr, -1, -2), atol=atol):
        raise ValueError("The RDM is not symmetric. Symmetrize it with (d + d.T) / 2 if that is intended.")
    if not np.allclose(np.diagonal(arr, axis1=-2, axis2=-1), 0.0, atol=atol):
        raise ValueError("The RDM's diagonal must be zero (a stimulus is not dissimilar to itself).")
    for coord in ("stimulus_id", "stimulus_id_2"):
        if coord not in rdm.coords:
            raise ValueError(f"An RDM needs a '{coord}' coordinate; build one with make_rdm().")
    dup = _duplicates(np.asarray(rdm.stimulus_id.values).astype(str))
    if dup:
        raise ValueError(f"RDM stimulus_id must be unique; repeated: {_short(dup)}.")
    return rdm


# ----------------------------------------------------------------------------- alignment
def align(a: xr.DataArray, b: xr.DataArray, *, join: str = "exact") -> tuple[xr.DataArray, xr.DataArray]:
    """Match two ``Responses`` on ``stimulus_id``, reordering as needed.

    Parameters
    ----------
    a, b : Responses
        Arrays with a unique ``stimulus_id`` coordinate along ``'stimulus'``.
    join : {'exact', 'inner'}
        ``'exact'`` requires both to hold the same set of ids (order may differ); ``'inner'``
        keeps the ids present in both (at least 3), in ``a``'s order.

    Returns
    -------
    a_aligned, b_aligned : Responses
        Both with identical ``stimulus_id`` order (that of ``a``).

    Raises
    ------
    ValueError
        On duplicated ids, ids missing from one side (``join='exact'``), or disjoint id sets.
    """
    if join not in ("exact", "inner"):
        raise ValueError(f"The 'join' parameter of align() must be one of {{'exact', 'inner'}}. Got {join!r} instead.")
    ids = []
    for name, arr in (("first", a), ("second", b)):
        if not isinstance(arr, xr.DataArray) or "stimulus_id" not in arr.coords:
            raise TypeError(
                f"align() needs two DataArrays with a 'stimulus_id' coordinate; the {name} argument "
                f"is {type(arr).__name__} without one. Build Responses with make_responses()."
            )
        sid = np.asarray(arr.stimulus_id.values).astype(str)
        dup = _duplicates(sid)
        if dup:
            raise ValueError(f"The {name} array has duplicated stimulus_id values: {_short(dup)}. Ids must be unique.")
        ids.append(sid)
    ida, idb = ids
    common = np.intersect1d(ida, idb)
    if common.size == 0:
        raise ValueError(
            f"The two arrays share no stimulus_id: first has {_short(ida, 3)}, second has {_short(idb, 3)}. "
            "Check that both describe the same stimulus set and use the same id scheme."
        )
    if join == "exact":
        only_a = np.setdiff1d(ida, idb)
        only_b = np.setdiff1d(idb, ida)
        if only_a.size or only_b.size:
            raise ValueError(
                f"stimulus_id sets differ: {only_a.size} id(s) only in the first ({_short(only_a, 3)}), "
                f"{only_b.size} only in the second ({_short(only_b, 3)}). "
                "Select matching stimuli first, or pass join='inner' to keep the common ones."
            )
        keep = ida
    else:
        keep = ida[np.isin(ida, idb)]
        if keep.size < MIN_STIMULI:
            raise ValueError(f"Only {keep.size} stimulus_id(s) are common; at least {MIN_STIMULI} are needed.")
    pos_a = {s: i for i, s in enumerate(ida)}
    pos_b = {s: i for i, s in enumerate(idb)}
    ia = np.array([pos_a[s] for s in keep])
    ib = np.array([pos_b[s] for s in keep])
    a2 = a if np.array_equal(ia, np.arange(len(ida))) else a.isel(stimulus=ia)
    b2 = b if np.array_equal(ib, np.arange(len(idb))) else b.isel(stimulus=ib)
    return a2, b2


# ----------------------------------------------------------------------------- repetitions
def _need_repetitions(resp: xr.DataArray, func: str) -> None:
    if "repetition" not in resp.dims:
        raise ValueError(
            f"{func}() needs Responses with a 'repetition' dim; got dims {resp.dims}. "
            "Build them with make_responses(values, dims=('stimulus', 'unit', 'repetition'))."
        )


def average_repetitions(resp: xr.DataArray) -> xr.DataArray:
    """Average over the ``'repetition'`` dim, ignoring NaN padding.

    Parameters
    ----------
    resp : Responses with dims ('stimulus', 'unit', 'repetition'[, 'time'])

    Returns
    -------
    Responses with dims ('stimulus', 'unit'[, 'time']); attrs gain ``n_repetitions``.

    Raises
    ------
    ValueError
        If some stimulus × unit entry has no valid (non-NaN) repetition at all.
    """
    _need_repetitions(resp, "average_repetitions")
    resp = check_responses(resp, allow_nan=True)
    counts = resp.notnull().sum("repetition")
    if (counts == 0).any():
        n_bad = int((counts == 0).sum())
        raise ValueError(
            f"{n_bad} stimulus × unit entries have no valid repetition (all NaN), so their mean is undefined. "
            "Drop those stimuli or units first, e.g. resp.dropna('stimulus', how='all')."
        )
    out = resp.mean("repetition", skipna=True, keep_attrs=True)
    out.attrs["n_repetitions"] = int(resp.sizes["repetition"])
    return check_responses(out)


def split_repetitions(
    resp: xr.DataArray, *, seed: int | np.random.Generator | None = 0
) -> tuple[xr.DataArray, xr.DataArray]:
    """Randomly split the repetitions into two halves and average each.

    Each stimulus gets its own random permutation of its *valid* repetitions (NaN padding is
    skipped), so unequal repeat counts are handled without filling.

    Parameters
    ----------
    resp : Responses with dims ('stimulus', 'unit', 'repetition'[, 'time'])
        Needs at least 2 valid repetitions per stimulus.
    seed : int or numpy Generator
        Seeds the split; the same seed gives the same halves.

    Returns
    -------
    half1, half2 : Responses with dims ('stimulus', 'unit'[, 'time'])
    """
    _need_repetitions(resp, "split_repetitions")
    resp = check_responses(resp, allow_nan=True)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    values = np.asarray(resp.values, dtype=float)  # (stimulus, unit, repetition[, time])
    # a repetition is valid for a stimulus when any unit has a value for it
    valid = ~np.all(np.isnan(values), axis=tuple(i for i in range(values.ndim) if i not in (0, 2)))
    n_valid = valid.sum(axis=1)
    if (n_valid < 2).any():
        bad = np.asarray(resp.stimulus_id.values)[n_valid < 2]
        raise ValueError(
            f"split_repetitions() needs at least 2 repetitions per stimulus; {bad.size} stimuli have fewer "
            f"({_short(bad, 3)}). Drop them first."
        )
    halves = [np.empty(values.shape[:2] + values.shape[3:]) for _ in range(2)]
    for i in range(values.shape[0]):
        reps = rng.permutation(np.flatnonzero(valid[i]))
        k = reps.size // 2
        with np.errstate(invalid="ignore"):
            halves[0][i] = np.nanmean(values[i][:, reps[:k]], axis=1)
            halves[1][i] = np.nanmean(values[i][:, reps[k : 2 * k]], axis=1)
    template = resp.isel(repetition=0, drop=True)
    out = []
    for h in halves:
        if np.isnan(h).any():
            raise ValueError(
                "After splitting, some stimulus × unit entries have no valid repetition in one half. "
                "Units with unit-specific NaN padding need at least 2 valid repetitions each."
            )
        out.append(check_responses(template.copy(data=h.astype(resp.dtype, copy=False))))
    return out[0], out[1]


# ----------------------------------------------------------------------------- save / load
# save/load live in neurocompare._netcdf (atomic writes, checksums, self-contained files only)
from neurocompare._netcdf import load, save  # noqa: E402
