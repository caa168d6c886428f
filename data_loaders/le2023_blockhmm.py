"""Le et al. 2023: mouse reversal-learning choices, cut into blocks for the blockHMM.

The data are **not** on these machines. Get them from the figshare deposit named in the paper's
Data Availability statement (Le NM et al. 2023, PLoS Comput Biol 19(9):e1011430,
doi:10.1371/journal.pcbi.1011430; code: github.com/nhat-le/block-hmm-simulations), and put the
per-animal MATLAB files in ``<root>/le2023_blockhmm/`` (``root``: the argument, else
``$NEUROCOMPARE_DATA``).

The published format, one file per animal, ``<animal>_all_sessions[_<version>].mat``:

- ``choices_cell`` — 1 × n_sessions cell; each a row vector of choices, ``+1`` / ``−1`` (any
  other value, e.g. 0 or NaN for a time-out, is treated as *no choice*);
- ``targets_cell`` — 1 × n_sessions cell of the rewarded target per trial, 0 or 1; a block ends
  where it changes (target 0 is rewarded for choice ``+1``, target 1 for choice ``−1``);
- ``feedbacks_cell`` — 1 × n_sessions cell of outcomes (1 rewarded, 0 not); optional here;
- ``session_names`` — 1 × n_sessions cell of strings; optional.

:func:`load_animal` returns the block outcomes ``(n_blocks, n_trials)`` (1 = chose the rewarded
side, 0 = did not, NaN = missing: trial without a choice, or the block ended early — masked by
:class:`neurocompare.behavior.BlockHMM`, never scored as correct), the number of blocks per
session (``lengths`` for ``BlockHMM.fit``) and the session names.

Examples
--------
>>> from data_loaders import le2023_blockhmm as le              # doctest: +SKIP
>>> data = le.load_animal("e54")                                # doctest: +SKIP
>>> import neurocompare as nc                                   # doctest: +SKIP
>>> model = nc.BlockHMM(4, 15).fit(data["outcomes"], data["lengths"])   # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CITATION", "DESCRIPTION", "FOLDER", "URL", "list_animals", "load_animal", "session_outcomes"]

FOLDER = "le2023_blockhmm"
DESCRIPTION = "Mouse choices in a deterministic reversal-learning task (21 mice), per-animal MATLAB files (user's copy)"
URL = "https://doi.org/10.1371/journal.pcbi.1011430 (Data Availability: figshare deposit)"
CITATION = (
    "Le NM, Yildirim M, Wang Y, Sugihara H, Jazayeri M, Sur M (2023). Mixtures of strategies underlie rodent "
    "behavior during reversal learning. PLoS Comput Biol 19(9):e1011430. doi:10.1371/journal.pcbi.1011430"
)
_PATTERN = re.compile(r"^(?P<animal>[^_]+)_all_sessions(?:_[^.]*)?\.mat$")


def _folder(root: str | os.PathLike | None) -> Path:
    from neurocompare._options import data_dir

    folder = data_dir(root) / FOLDER
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} not found. The Le et al. (2023) mouse data are not bundled: download the per-animal "
            f"'<animal>_all_sessions_<version>.mat' files from the figshare deposit of {URL} and put them in "
            f"{folder} (or pass root= / set NEUROCOMPARE_DATA to the folder that holds {FOLDER}/)."
        )
    return folder


def list_animals(root: str | os.PathLike | None = None) -> list[str]:
    """Animal names with a ``<animal>_all_sessions*.mat`` file in ``<root>/le2023_blockhmm/``."""
    names = sorted({m.group("animal") for p in _folder(root).iterdir() if (m := _PATTERN.match(p.name))})
    return names


def session_outcomes(choices: Any, targets: Any, n_trials: int = 15) -> np.ndarray:
    """Block outcomes of one session in the published coding (choices ±1, targets 0/1).

    Parameters
    ----------
    choices : array, shape (n_trials_session,)
        +1 or −1; anything else is "no choice" (a missing, masked trial).
    targets : array, shape (n_trials_session,)
        Rewarded target, 0 (choice +1 is correct) or 1 (choice −1 is correct).
    n_trials : int
        Trials kept per block.

    Returns
    -------
    ndarray, shape (n_blocks, n_trials)
        See :func:`neurocompare.behavior.block_outcomes`.
    """
    from neurocompare.behavior import block_outcomes

    c = np.asarray(choices, dtype=np.float64).ravel()
    t = np.asarray(targets, dtype=np.float64).ravel()
    if c.shape != t.shape or c.size == 0:
        raise ValueError(f"choices and targets must be non-empty and of equal length; got {c.size} and {t.size} trials.")
    if not np.isin(t, (0.0, 1.0)).all():
        raise ValueError("targets must be 0 or 1 on every trial (the published coding).")
    side = np.where(c == 1, 0.0, np.where(c == -1, 1.0, np.nan))  # target 0 <-> choice +1
    starts = np.r_[0, np.flatnonzero(np.diff(t)) + 1]
    return block_outcomes(side, t.astype(int), starts, n_trials)


def _cells(mat: dict, key: str, path: Path) -> list[np.ndarray]:
    if key not in mat:
        raise ValueError(f"{path.name} has no {key!r}; expected the published variables choices_cell and targets_cell.")
    return [np.asarray(v) for v in np.asarray(mat[key], dtype=object).ravel()]


def load_animal(animal: str, root: str | os.PathLike | None = None, *, n_trials: int = 15, sessions: Any = None) -> dict[str, Any]:
    """Block outcomes of all (or some) sessions of one mouse.

    Parameters
    ----------
    animal : str
        e.g. ``'e54'`` (see :func:`list_animals`).
    root : path-like, optional
        Data root holding ``le2023_blockhmm/``.
    n_trials : int
        Trials per block (15, as in the paper).
    sessions : sequence of int, optional
        Session indices to keep (default: all non-empty sessions).

    Returns
    -------
    dict
        ``outcomes`` (n_blocks, n_trials) float64 of 1/0/NaN; ``lengths`` (blocks per session);
        ``sessions`` (indices of the sessions with at least one block); ``session_names``; ``animal``; ``citation``.

    Raises
    ------
    FileNotFoundError
        No file for the animal (the message says where to get the data).
    ValueError
        A file without the published variables, or sessions out of range.
    """
    from scipy.io import loadmat

    folder = _folder(root)
    files = sorted(p for p in folder.iterdir() if (m := _PATTERN.match(p.name)) and m.group("animal") == animal)
    if not files:
        raise FileNotFoundError(
            f"No '{animal}_all_sessions*.mat' in {folder}. Animals present: {list_animals(root) or 'none'}. "
            f"Source: {URL}."
        )
    path = files[-1]  # the latest version when several are present
    mat = loadmat(path)
    choices, targets = _cells(mat, "choices_cell", path), _cells(mat, "targets_cell", path)
    if len(choices) != len(targets):
        raise ValueError(f"{path.name}: choices_cell has {len(choices)} sessions but targets_cell has {len(targets)}.")
    names = [str(np.asarray(v).ravel()[0]) if np.asarray(v).size else "" for v in np.asarray(mat.get("session_names", np.array([], dtype=object)), dtype=object).ravel()]
    keep = [i for i in range(len(choices)) if choices[i].size] if sessions is None else [int(i) for i in sessions]
    bad = [i for i in keep if not 0 <= i < len(choices)]
    if bad:
        raise ValueError(f"sessions {bad} out of range: {path.name} holds {len(choices)} sessions.")
    blocks, lengths, kept = [], [], []
    for i in keep:
        y = session_outcomes(choices[i], targets[i], n_trials)
        y = y[np.isfinite(y).any(axis=1)]  # a block without any choice carries no information
        if y.shape[0]:
            blocks.append(y)
            lengths.append(int(y.shape[0]))
            kept.append(i)
    if not blocks:
        raise ValueError(f"{path.name}: the selected sessions hold no block with a choice.")
    return {
        "animal": animal,
        "outcomes": np.concatenate(blocks),
        "lengths": lengths,
        "sessions": kept,
        "session_names": [names[i] if i < len(names) else "" for i in kept],
        "citation": CITATION,
        "file": str(path),
    }
