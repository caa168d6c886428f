"""Kriegeskorte et al. 2008: 92 object images, human-IT fMRI RDMs and the monkey-IT RDM.

Files (folder ``kriegeskorte92/``, from the rsatoolbox demo data):

- ``Kriegeskorte_Neuron2008_supplementalData.mat``: ``stimuli_92objs`` (92 structs: the
  175×175×3 uint8 image, a category string and human/face/animal/natural flags),
  ``categoryVectors`` (92×12) with ``categoryLabels``, and ``RDMs_mIT_hIT_fig1`` (the monkey-IT
  RDM from 674 neurons, Kiani et al. 2007, and the human-IT RDM of Fig. 1, both as condensed
  4186-vectors in ``scipy.spatial.distance.squareform`` order).
- ``92_brainRDMs.mat``: human-IT RDMs, 4 subjects × 2 sessions (1 − Pearson r of voxel patterns).
- ``92_modelRDMs.mat``: 8 model RDMs, among them ``monkeyIT`` (equal to the Fig. 1 monkey RDM).
- ``92_behavRDMs.mat``: 16 human similarity-judgement RDMs (Mur et al. 2013).

Stimulus ids are ``'obj01' ... 'obj92'`` in the published order; all RDMs and the images share
them, so ``neurocompare.align`` works across them.

Examples
--------
>>> from data_loaders import kriegeskorte2008 as k92          # doctest: +SKIP
>>> rdms = k92.load_human_it()                                  # doctest: +SKIP
>>> rdms.dims                                                   # doctest: +SKIP
('subject', 'session', 'stimulus', 'stimulus_2')
"""

from __future__ import annotations

import os
import sys

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp
from data_loaders.readers import read_mat
from neurocompare.data import check_rdm

__all__ = [
    "FOLDER",
    "FILES",
    "URL",
    "CITATION",
    "DESCRIPTION",
    "STIMULUS_IDS",
    "load",
    "load_stimuli",
    "load_human_it",
    "load_monkey_it",
    "load_fig1_rdms",
    "load_model_rdms",
    "load_behaviour_rdms",
]

FOLDER = "kriegeskorte92"
DESCRIPTION = "92 object images; human-IT fMRI RDMs (4 subjects x 2 sessions); monkey-IT RDM (674 neurons)"
URL = "https://github.com/rsagroup/rsatoolbox/tree/f1f83cad/demos/92imageData"
DOWNLOAD_BASE = "https://github.com/rsagroup/rsatoolbox/raw/f1f83cad/demos/92imageData/"
CITATION = (
    "Kriegeskorte N, Mur M, Ruff DA, Kiani R, Bodurka J, Esteky H, Tanaka K, Bandettini PA (2008). "
    "Matching categorical object representations in inferior temporal cortex of man and monkey. "
    "Neuron 60(6):1126-1141. doi:10.1016/j.neuron.2008.10.043. Monkey data: Kiani R, Esteky H, "
    "Mirpour K, Tanaka K (2007), J Neurophysiol 97:4296-4309."
)
FILES = {
    "92_behavRDMs.mat": "7a8e118c144c3840adeeeef6ea0706a0be2b3e80df719af15fbb56fc62562f5f",
    "92_brainRDMs.mat": "1743f90a15e895798a94318649e80e1123a7e5943a1703fa1dd7c31ea5780b7c",
    "92_modelRDMs.mat": "e1d2b58bb2f9508bc13da4c81b94d1ab07823b25ed30b9563bd9d6d730c2a00a",
    "Kriegeskorte_Neuron2008_supplementalData.mat": "06f21214399a5d43dc264eed19a7f4b8daf11c8622a59eec3e106064ce5e3504",
}
_SUPP = "Kriegeskorte_Neuron2008_supplementalData.mat"
N_STIMULI = 92
STIMULUS_IDS = np.array([f"obj{i:02d}" for i in range(1, N_STIMULI + 1)])
SUBJECTS = ("BE", "KO", "SN", "TI")
_THIS = sys.modules[__name__]


def _rdm(values: np.ndarray, dims: tuple[str, ...], coords: dict, **attrs) -> xr.DataArray:
    """Wrap a (*stack, 92, 92) array as a checked RDM with the shared stimulus ids."""
    values = np.asarray(values, dtype=np.float64)
    # the stored matrices are symmetric to float32 precision; make them exactly symmetric
    values = (values + np.swapaxes(values, -1, -2)) / 2.0
    coords = dict(coords)
    coords["stimulus_id"] = ("stimulus", STIMULUS_IDS)
    coords["stimulus_id_2"] = ("stimulus_2", STIMULUS_IDS)
    attrs.setdefault("source", "kriegeskorte2008")
    attrs.setdefault("citation", CITATION)
    return check_rdm(xr.DataArray(values, dims=dims + ("stimulus", "stimulus_2"), coords=coords, attrs=attrs))


@file_cache(maxsize=4)
def _read_cached(path: str, size: int, mtime_ns: int) -> dict:
    return read_mat(path)


def _read(relpath: str, root) -> dict:
    """Verified, parsed MATLAB file (parsed once per process while the file is unchanged)."""
    path = fetch(_THIS, relpath, root)
    return _read_cached(str(path), *stamp(path))


def load_stimuli(root: str | os.PathLike | None = None) -> xr.DataArray:
    """The 92 object images with their category labels.

    Parameters
    ----------
    root : path-like, optional
        Data root (default: ``$NEUROCOMPARE_DATA`` or the user cache; see ``data_loaders.get_root``).

    Returns
    -------
    xarray.DataArray, dims ('stimulus', 'height', 'width', 'channel'), shape (92, 175, 175, 3), uint8
        Coords: ``stimulus_id`` ('obj01'...), ``category`` (e.g. 'human face', 'natural
        inanimate'), boolean ``human``, ``face``, ``animal`` (= animate), ``natural``, and
        ``animate`` / ``inanimate`` from the paper's category vectors.
    """
    mat = _read(_SUPP, root)
    structs = np.atleast_1d(mat["stimuli_92objs"]).ravel()
    if structs.size != N_STIMULI:
        raise ValueError(f"Expected {N_STIMULI} stimuli in {_SUPP}; found {structs.size}.")
    images = np.stack([np.asarray(s["image"], dtype=np.uint8) for s in structs])
    cat_vectors = np.asarray(mat["categoryVectors"]).astype(bool)
    labels = [str(x) for x in np.atleast_1d(mat["categoryLabels"])]
    coords = {
        "stimulus_id": ("stimulus", STIMULUS_IDS),
        "category": ("stimulus", np.array([str(s["category"]) for s in structs])),
    }
    for flag in ("human", "face", "animal", "natural"):
        coords[flag] = ("stimulus", np.array([bool(np.asarray(s[flag]).item()) for s in structs]))
    coords["animate"] = ("stimulus", cat_vectors[:, labels.index("animate")])
    coords["inanimate"] = ("stimulus", cat_vectors[:, labels.index("inanim")])
    return xr.DataArray(
        images,
        dims=("stimulus", "height", "width", "channel"),
        coords=coords,
        attrs={"source": "kriegeskorte2008", "citation": CITATION},
    )


def load_human_it(root: str | os.PathLike | None = None) -> xr.DataArray:
    """Human inferior-temporal fMRI RDMs, one per subject and session.

    Parameters
    ----------
    root : path-like, optional
        Data root.

    Returns
    -------
    RDM, dims ('subject', 'session', 'stimulus', 'stimulus_2'), shape (4, 2, 92, 92), float64
        Dissimilarity is 1 − Pearson r between voxel response patterns (316 most visually
        responsive IT voxels). ``subject`` = ('BE', 'KO', 'SN', 'TI'), ``session`` = (1, 2).
    """
    structs = np.asarray(_read("92_brainRDMs.mat", root)["RDMs"])
    structs = structs.reshape(len(SUBJECTS), 2)
    values = np.array([[np.asarray(structs[i, j]["RDM"]) for j in range(2)] for i in range(len(SUBJECTS))])
    names = [[str(structs[i, j]["name"]) for j in range(2)] for i in range(len(SUBJECTS))]
    for i, subj in enumerate(SUBJECTS):
        for j in range(2):
            if subj not in names[i][j] or f"Session: {j + 1}" not in names[i][j]:
                raise ValueError(
                    f"Unexpected layout of 92_brainRDMs.mat: entry ({i}, {j}) is named {names[i][j]!r}, "
                    f"expected subject {subj}, session {j + 1}."
                )
    return _rdm(
        values,
        ("subject", "session"),
        {"subject": ("subject", np.array(SUBJECTS)), "session": ("session", np.array([1, 2]))},
        region="IT",
        species="human",
        dissimilarity="1 - Pearson r",
    )


def load_fig1_rdms(root: str | os.PathLike | None = None) -> xr.DataArray:
    """The two RDMs of the paper's Fig. 1: monkey IT (674 neurons) and human IT (316 voxels).

    Returns
    -------
    RDM, dims ('rdm', 'stimulus', 'stimulus_2'), shape (2, 92, 92)
        ``rdm`` = ('mIT_674neurons', 'hITvisStim_316vx'); expanded from condensed vectors.
    """
    from scipy.spatial.distance import squareform

    structs = np.atleast_1d(_read(_SUPP, root)["RDMs_mIT_hIT_fig1"]).ravel()
    names = np.array([str(s["name"]) for s in structs])
    values = np.stack([squareform(np.asarray(s["RDM"], dtype=np.float64), checks=False) for s in structs])
    return _rdm(values, ("rdm",), {"rdm": ("rdm", names)}, region="IT", dissimilarity="1 - Pearson r")


def load_monkey_it(root: str | os.PathLike | None = None) -> xr.DataArray:
    """Monkey IT RDM from 674 neurons (Kiani et al. 2007), as in the paper's Fig. 1.

    Returns
    -------
    RDM, dims ('stimulus', 'stimulus_2'), shape (92, 92)
    """
    rdm = load_fig1_rdms(root).sel(rdm="mIT_674neurons", drop=True)
    rdm.attrs.update(species="macaque", region="IT")
    return rdm


def _named_stack(relpath: str, key: str, dim: str, root) -> xr.DataArray:
    structs = np.atleast_1d(_read(relpath, root)[key]).ravel()
    names = np.array([str(s["name"]) for s in structs])
    values = np.stack([np.asarray(s["RDM"], dtype=np.float64) for s in structs])
    return _rdm(values, (dim,), {dim: (dim, names)})


def load_model_rdms(root: str | os.PathLike | None = None) -> xr.DataArray:
    """The 8 reference RDMs of ``92_modelRDMs.mat`` (animacy, monkeyIT, HMAX, V1, ...).

    Returns
    -------
    RDM, dims ('model', 'stimulus', 'stimulus_2'), shape (8, 92, 92)
    """
    return _named_stack("92_modelRDMs.mat", "Models", "model", root)


def load_behaviour_rdms(root: str | os.PathLike | None = None) -> xr.DataArray:
    """16 human similarity-judgement RDMs (Mur et al. 2013), one per subject.

    Returns
    -------
    RDM, dims ('subject', 'stimulus', 'stimulus_2'), shape (16, 92, 92)
    """
    rdms = _named_stack("92_behavRDMs.mat", "rdms_behav_92", "subject", root)
    names = [str(n).split("|")[-1].strip() for n in rdms.subject.values]
    return rdms.assign_coords(subject=("subject", np.array(names)))


def load(root: str | os.PathLike | None = None) -> tuple[xr.DataArray, xr.DataArray]:
    """Human-IT RDMs and the stimuli: ``(load_human_it(root), load_stimuli(root))``."""
    return load_human_it(root), load_stimuli(root)
