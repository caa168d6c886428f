"""Hénaff et al. 2021: repeated responses of anaesthetised macaque V1 units to movie frames.

Folder ``henaff2021_v1_movie_sequences_nostimuli/``: 9 MATLAB v7.3 files, one per recording
(``<monkey>_<penetration>_image_sequences.mat``), 360 units in all. The loader reads
``naturalStruct/sortedResponses`` with h5py; HDF5 stores MATLAB arrays with the dimension order
reversed, so the on-disk shape is (repetition, unit, frame, movie, category, zoom) =
(50 or 60, units, 11, 10, 3, 2). Entries never recorded are NaN (the 'contrast' condition was shown
for only some movies, and repeat counts differ).

Every (zoom, category, movie, frame) combination is one stimulus, with id
``'<zoom>_<category>_<movie>_f<frame>'`` (e.g. ``'zoom1x_natural_movie01-chironomus_f00'``) and
coords ``zoom``, ``category`` ('natural', 'synthetic', 'contrast'), ``movie``, ``frame`` (0-10).
Combinations never shown are dropped by default (484 of 660 remain; the same 484 in every file).
There are no stimulus images in this copy: the dataset serves repeat-based reliability and noise
ceilings. Values are spike counts in the authors' integration window.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp
from neurocompare.data import make_responses

__all__ = ["FOLDER", "FILES", "URL", "CITATION", "DESCRIPTION", "SESSIONS", "load", "load_session"]

FOLDER = "henaff2021_v1_movie_sequences_nostimuli"
DESCRIPTION = "Macaque V1, 360 units x 484 movie frames x 50-60 repeats (no stimulus images)"
URL = "https://github.com/wongyoJung/Primary-visual-cortex-straightens-natural-video-trajectories/tree/2e5e0603"
DOWNLOAD_BASE = None  # the original repository keeps these files under a different layout
CITATION = (
    "Hénaff OJ, Bai Y, Charlton JA, Nauhaus I, Simoncelli EP, Goris RLT (2021). Primary visual "
    "cortex straightens natural video trajectories. Nature Communications 12:5982. "
    "doi:10.1038/s41467-021-25939-z"
)
FILES = {
    "ay2_u003_image_sequences.mat": "46563979388f70c8f04fa066c05bfe63a51c32467b85fafef29826c4f2de4c53",
    "ay2_u007_image_sequences.mat": "a5343150e49f7c7a3bf0e49e86c6ee4563e88311c4787603d2041b0c1fc72d07",
    "ay3_u001_image_sequences.mat": "d9a1f61476fd2f5e898b8ef150b7890bc817be0a2c4831fda796fc5ab6020e23",
    "ay3_u002_image_sequences.mat": "3d4a9ae0aa4756b726594bf83de3b049062fd0d6e63335f1bb6ea685b51a6a9e",
    "ay4_u001_image_sequences.mat": "712bc324c25a9111d3d6888b029117c3e9f8ee4ec6547791091c63e54ca1cc25",
    "ay4_u005_image_sequences.mat": "2022b01fd10bc9285502b96384a17b7fae76fb0d3ac679d0fa027f1df8056a66",
    "ay4_u006_image_sequences.mat": "8ce71d622a7f54995c87283e71c3d21ccc3df3a2cea50dc4a51f0c5f8be8a7d2",
    "ay5_u002_image_sequences.mat": "c1b8a03e624a1e79b6c8c77fb3f9d83cd6fc9ee364f5ed334883bbc81c38ca0f",
    "ay5_u005_image_sequences.mat": "6186b6ec035d35238e62c4bc0ace41ea8da0666911b23fd748a60dea0b334bfd",
}

_THIS = sys.modules[__name__]
SESSIONS = tuple(sorted(k.replace("_image_sequences.mat", "") for k in FILES))
_DIM_NAMES = ("repetition", "unit", "frame", "movie", "category", "zoom")  # on-disk (h5py) order


def _string(f, ds) -> str:
    """A MATLAB char array stored by v7.3 as uint16 codes."""
    return "".join(map(chr, np.asarray(ds[()]).ravel())).rstrip("\x00")


def _cellstr(f, ds) -> list[str]:
    return [_string(f, f[ref]) for ref in np.asarray(ds[()]).ravel()]


@file_cache(maxsize=16)
def _read_cached(path: str, size: int, mtime_ns: int) -> dict:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"Cannot open {path} as a MATLAB v7.3 (HDF5) file (truncated or corrupt?): {err}") from err
    with f:
        if "naturalStruct/sortedResponses" not in f:
            raise ValueError(
                f"{path} has no 'naturalStruct/sortedResponses'; top-level entries: {sorted(f.keys())}. "
                "Is it a Hénaff et al. 2021 *_image_sequences.mat file?"
            )
        ns = f["naturalStruct"]
        data = np.asarray(ns["sortedResponses"][()], dtype=np.float64)
        if data.ndim != 6:
            raise ValueError(
                f"{path}: sortedResponses has shape {data.shape}; expected 6 dims {_DIM_NAMES} (h5py order)."
            )
        ss = ns["stimulusStruct"]
        out = {
            "responses": data,
            "clusters": np.asarray(ns["cluster_list"][()]).ravel().astype(int),
            "cluster_group": np.asarray(ns["cluster_group"][()]).ravel(),
            "movies": _cellstr(f, ss["movie_titles"]),
            "categories": _cellstr(f, ss["categories"]),
            "zooms": _cellstr(f, ss["scales"]),
            "area": _string(f, ns["cortical_area"]),
            "integration_s": float(np.asarray(ns["integrationPeriod"][()]).ravel()[0]),
            "latency_s": float(np.asarray(ns["response_latency"][()]).ravel()[0]),
        }
    _, n_units, n_frames, n_movies, n_cats, n_zooms = data.shape
    expect = {"clusters": n_units, "movies": n_movies, "categories": n_cats, "zooms": n_zooms}
    for key, n in expect.items():
        if len(out[key]) != n:
            raise ValueError(f"{path}: {len(out[key])} {key} but sortedResponses has {n} along that dim.")
    data.setflags(write=False)
    return out


def _read(session: str, root) -> dict:
    if session not in SESSIONS:
        raise ValueError(f"Unknown session {session!r}. Available: {', '.join(SESSIONS)}.")
    path = fetch(_THIS, f"{session}_image_sequences.mat", root)
    return _read_cached(str(path), *stamp(path))


def _stimulus_table(raw: dict, n_frames: int) -> tuple[np.ndarray, dict]:
    """Ids and coords of all combinations, ordered zoom > category > movie > frame (frame fastest)."""
    zz, cc, mm, ff = np.meshgrid(
        np.arange(len(raw["zooms"])), np.arange(len(raw["categories"])), np.arange(len(raw["movies"])),
        np.arange(n_frames), indexing="ij",
    )
    zz, cc, mm, ff = (a.ravel() for a in (zz, cc, mm, ff))
    zoom = np.array(raw["zooms"])[zz]
    cat = np.array(raw["categories"])[cc]
    movie = np.array(raw["movies"])[mm]
    ids = np.array([f"{z}_{c}_{m}_f{fr:02d}" for z, c, m, fr in zip(zoom, cat, movie, ff)])
    coords = {"zoom": ("stimulus", zoom), "category": ("stimulus", cat), "movie": ("stimulus", movie), "frame": ("stimulus", ff)}
    return ids, coords, (zz, cc, mm, ff)


def load_session(session: str, root: str | os.PathLike | None = None, *, drop_unrecorded: bool = True) -> xr.DataArray:
    """Responses of one recording (one file); see :func:`load` for the layout."""
    return load(root, sessions=[session], drop_unrecorded=drop_unrecorded)


def load(
    root: str | os.PathLike | None = None,
    sessions: Sequence[str] | None = None,
    *,
    drop_unrecorded: bool = True,
) -> xr.DataArray:
    """Single-trial V1 spike counts of all units, stimuli = (zoom, category, movie, frame).

    Parameters
    ----------
    root : path-like, optional
        Data root (see ``data_loaders.get_root``).
    sessions : sequence of str, optional
        Subset of :data:`SESSIONS` (default all 9 recordings, 360 units).
    drop_unrecorded : bool
        Drop combinations that no unit ever saw (176 of 660). Keep them (all NaN) with False.

    Returns
    -------
    Responses, dims ('stimulus', 'unit', 'repetition'), shape (484, 360, 60) by default
        NaN where a repetition was not recorded (files have 50 or 60 repeats; padding kept,
        never filled). Unit coords: ``region`` ('V1'), ``session``, ``monkey``, ``cluster``,
        ``cluster_group``. Stimulus coords: ``zoom``, ``category``, ``movie``, ``frame``.
    """
    sessions = list(SESSIONS if sessions is None else sessions)
    raws = [_read(s, root) for s in sessions]
    n_frames = raws[0]["responses"].shape[2]
    ref = (raws[0]["movies"], raws[0]["categories"], raws[0]["zooms"], n_frames)
    for s, raw in zip(sessions, raws):
        if (raw["movies"], raw["categories"], raw["zooms"], raw["responses"].shape[2]) != ref:
            raise ValueError(f"Session {s} has a different stimulus set than {sessions[0]}; load them separately.")
    ids, coords, (zz, cc, mm, ff) = _stimulus_table(raws[0], n_frames)
    n_rep = max(r["responses"].shape[0] for r in raws)
    blocks, unit_ids, unit_coords = [], [], {k: [] for k in ("session", "monkey", "cluster", "cluster_group", "region")}
    for s, raw in zip(sessions, raws):
        data = raw["responses"]  # (rep, unit, frame, movie, category, zoom)
        per_stim = data[:, :, ff, mm, cc, zz]  # (rep, unit, stimulus)
        block = np.full((per_stim.shape[2], per_stim.shape[1], n_rep), np.nan)
        block[:, :, : per_stim.shape[0]] = np.transpose(per_stim, (2, 1, 0))
        blocks.append(block)
        n_units = data.shape[1]
        unit_ids += [f"{s}_c{c:03d}" for c in raw["clusters"]]
        unit_coords["session"] += [s] * n_units
        unit_coords["monkey"] += [s.split("_")[0]] * n_units
        unit_coords["cluster"] += list(raw["clusters"])
        unit_coords["cluster_group"] += list(raw["cluster_group"])
        unit_coords["region"] += [raw["area"]] * n_units
    values = np.concatenate(blocks, axis=1)
    if drop_unrecorded:
        keep = ~np.isnan(values).all(axis=(1, 2))
        values = values[keep]
        ids = ids[keep]
        coords = {k: (d, np.asarray(v)[keep]) for k, (d, v) in coords.items()}
    for k, v in unit_coords.items():
        coords[k] = ("unit", np.asarray(v))
    return make_responses(
        values,
        stimulus_ids=ids,
        unit_ids=np.array(unit_ids),
        dims=("stimulus", "unit", "repetition"),
        coords=coords,
        allow_nan=True,
        source="henaff2021_v1",
        citation=CITATION,
        units="spike count",
        integration_s=raws[0]["integration_s"],
        latency_s=raws[0]["latency_s"],
    )
