"""Loaders for recorded neural data sets, plus generic readers for common file formats.

One module per dataset (``data_loaders.kriegeskorte2008``, ``cowley2023_v4``, ``henaff2021_v1``,
``norman_haignere2015``, ``sargolini2006``, ``ratinabox_trajectories``, ``gerlei_mec``,
``ratgps``, ``mnist``), each with ``FOLDER``, ``FILES`` (``{relative path: sha256}``),
``URL`` (original public source), ``CITATION``, ``DESCRIPTION`` and ``load*(root=None, ...)``
functions. Generic readers (MATLAB v5/v7.3, NWB, Brain-Score NetCDF, plain HDF5/NPZ) are in
:mod:`data_loaders.readers`.

The loaders at a glance
-----------------------
========================  ==================================================================
module                    main functions → what they return
========================  ==================================================================
kriegeskorte2008          load_human_it → RDM (subject 4, session 2, 92, 92); load_monkey_it →
                          RDM (92, 92); load_stimuli → images (92, 175, 175, 3) + category;
                          load_fig1_rdms, load_model_rdms, load_behaviour_rdms → stacked RDMs
cowley2023_v4             load(session) → (Responses (images, neurons), images | None);
                          load_raw('210325' | '201016') → Responses with 'repetition' (NaN-padded);
                          load_pooled() → block-diagonal Responses of the 10 sessions with images
henaff2021_v1             load() → Responses (484 frames, 360 units, 60 repetitions), NaN-padded
norman_haignere2015       load_components → Responses (165 sounds, 6 components); load_sounds →
                          waveforms (165, 88200) at 44.1 kHz
gerlei_mec                load → Dataset: rate_map (7, 42, 42), autocorrelogram, grid_score, ...;
                          load_spikes(unit) → Dataset of spike times and positions
sargolini2006             load_trajectory(i) → (time, space); load_gridcell → spike times, x, y
ratinabox_trajectories    load('sargolini' | 'tanni') → (time, space)
ratgps                    load(rat, window_ms) → Responses (windows with x, y; units)
mnist                     load(split) → (images (n, 28, 28) uint8, labels); load_stimuli
========================  ==================================================================

Selectors (session, rat, split, ...) come first; ``root`` is always accepted as a keyword.

Where the data live
-------------------
:func:`get_root` resolves the data root: an explicit ``root=`` argument, else the environment
variable ``NEUROCOMPARE_DATA``, else a per-user cache folder (``~/.cache/neurocompare``). Each
dataset is a sub-folder named by the module's ``FOLDER`` (e.g. ``root / "kriegeskorte92"``).
Every file is checked against its sha256 the first time it is used in a process (the result is
cached); a mismatch raises ``ValueError`` naming the file and both digests, a missing file raises
``FileNotFoundError`` naming the file, its original source and how to point the loader at a copy.
:func:`download` fetches the files of a dataset with pooch where the original source serves
them one by one. Nothing is ever unpickled.

The data types returned
-----------------------
*Responses* — see :mod:`neurocompare.data`: a plain ``xarray.DataArray`` with dims
``('stimulus', 'unit'[, 'repetition'][, 'time'])``, unique ``stimulus_id`` / ``unit_id`` coords.
Repeated trials are a ``'repetition'`` dim, NaN-padded where a stimulus was shown fewer times
(``allow_nan=True``; the padding is never filled).

*RDM* (representational dissimilarity matrix) — a plain ``xarray.DataArray`` validated by
``neurocompare.check_rdm``::

    <xarray.DataArray (subject: 4, session: 2, stimulus: 92, stimulus_2: 92)>
    array([[[[0.  , 0.83, ...]]]])
    Coordinates:
      * subject        (subject) <U2 'BE' 'KO' 'SN' 'TI'
      * session        (session) int64 1 2
        stimulus_id    (stimulus) <U5 'obj01' 'obj02' ... 'obj92'
        stimulus_id_2  (stimulus_2) <U5 'obj01' 'obj02' ... 'obj92'
    Attributes:
        source: 'kriegeskorte2008'     dissimilarity: '1 - Pearson r'

Dims are ``(*stack, 'stimulus', 'stimulus_2')``: any number of leading stack dims (``subject``,
``session``, ``model``, ``rdm``), then a square, symmetric, zero-diagonal, finite matrix whose two
axes carry the same ids (``stimulus_id`` and ``stimulus_id_2``).

*Stimuli* — images as a DataArray with dims ``('stimulus', 'height', 'width', 'channel')``,
dtype uint8, a ``stimulus_id`` coord matching the Responses' plus label coords (``category``,
...); sounds as ``('stimulus', 'sample')`` float32 in [-1, 1] with ``attrs['sample_rate']``.

*Trajectories* (grid-cell data) — DataArrays with dims ``('time', 'space')``, ``space`` =
``('x', 'y')``, a ``time`` coord in seconds.

Examples
--------
>>> import data_loaders
>>> table = data_loaders.list_datasets()                     # doctest: +SKIP
>>> rdms, images = data_loaders.kriegeskorte2008.load()     # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from data_loaders._fetch import UnverifiedDataWarning, clear_cache, fetch, get_root, present, sha256, verify
from data_loaders._fetch import download as _download

__all__ = [
    "DATASETS",
    "get_root",
    "list_datasets",
    "get_dataset",
    "download",
    "verify_dataset",
    "fetch",
    "sha256",
    "verify",
    "clear_cache",
    "load_image_folder",
    "UnverifiedDataWarning",
]

#: module name -> short description (the module is imported on first use)
DATASETS: dict[str, str] = {
    "kriegeskorte2008": "Human-IT fMRI and monkey-IT RDMs for 92 object images",
    "cowley2023_v4": "Macaque V4 spike counts to natural and synthetic images (48 sessions)",
    "henaff2021_v1": "Macaque V1 repeated responses to movie frames (360 units)",
    "norman_haignere2015": "Auditory-cortex fMRI components for 165 natural sounds",
    "sargolini2006": "61 rat trajectories and one grid cell's spikes (Sargolini 2006)",
    "ratinabox_trajectories": "Rat trajectories shipped with RatInABox (Sargolini, Tanni)",
    "gerlei_mec": "7 medial-entorhinal units: rate maps, autocorrelograms, grid scores",
    "ratgps": "Rat hippocampal spike counts with positions, 5 rats (RatGPS)",
    "mnist": "MNIST handwritten digits (IDX files)",
}


def get_dataset(name: str) -> ModuleType:
    """Import and return the module of a dataset by name (see :data:`DATASETS`)."""
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Available: {', '.join(DATASETS)}.")
    return importlib.import_module(f"data_loaders.{name}")


def __getattr__(name: str) -> Any:
    if name == "load_image_folder":  # a folder or zip of a user's images -> stimulus DataArray
        from data_loaders.images import load_image_folder

        return load_image_folder
    if name in DATASETS or name in ("readers", "images"):
        return importlib.import_module(f"data_loaders.{name}")
    raise AttributeError(f"module 'data_loaders' has no attribute {name!r}")


def list_datasets(root: str | os.PathLike | None = None):
    """Table of the known datasets and whether their files are present under ``root``.

    Parameters
    ----------
    root : path-like, optional
        Data root (see :func:`get_root`).

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``folder``, ``description``, ``n_files``, ``present`` (bool: every
        file exists; checksums are not computed here), ``url``.
    """
    import pandas as pd

    rows = []
    for name in DATASETS:
        mod = get_dataset(name)
        rows.append(
            {
                "name": name,
                "folder": mod.FOLDER,
                "description": mod.DESCRIPTION,
                "n_files": len(mod.FILES),
                "present": present(mod, root),
                "url": mod.URL,
            }
        )
    return pd.DataFrame(rows)


def download(name: str, root: str | os.PathLike | None = None, *, progress: bool = True):
    """Download a dataset's missing files from its original source (needs pooch and internet).

    Returns the dataset folder. Datasets whose files were converted or repackaged
    (``DOWNLOAD_BASE = None``) raise ``ValueError`` saying where to get them by hand.
    """
    return _download(get_dataset(name), root, progress=progress)


def verify_dataset(name: str, root: str | os.PathLike | None = None) -> dict[str, str]:
    """Check every file of a dataset; returns ``{relative path: 'ok' | 'missing' | 'mismatch'}``."""
    mod = get_dataset(name)
    out = {}
    for rel in mod.FILES:
        try:
            fetch(mod, rel, root)
            out[rel] = "ok"
        except FileNotFoundError:
            out[rel] = "missing"
        except ValueError:
            out[rel] = "mismatch"
    return out
