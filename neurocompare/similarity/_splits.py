"""The one split generator: seeded train/test splits keyed by ``stimulus_id``.

Every cross-validated score in the project (benchmarks, :func:`ridge_predictivity`, ...) draws
its splits here, so that the same seed gives the same held-out stimuli everywhere.

- **Keyed by stimulus id.** The draw happens on the stimuli sorted by id and is mapped back to
  positions, so the order of the rows never changes which stimuli are held out: permuting a
  benchmark's rows leaves its score unchanged.
- **Seeded** through :func:`neurocompare._seeding.numpy_rng` with ``(seed, *key)``; a
  benchmark's independent recordings (sessions) use one key each.
- **Blocked** (``groups``): whole groups go to the test side, e.g. every time bin of one sound
  or one movie, so that neighbouring, correlated bins never sit on both sides of a split.
- **Stratified** (``stratify``): each label contributes its share of test stimuli.
- **Given** (``splits``): a list of ``(train_ids, test_ids)`` pairs of stimulus ids.

A held-out set needs at least 3 stimuli (a Pearson r across 2 points is ±1); asking for fewer is
an error at construction time.

Examples
--------
>>> ids = [f"img{i:02d}" for i in range(20)]
>>> train, test = make_splits(ids, n_splits=1, test_fraction=0.2, seed=0)[0]
>>> len(train), len(test)
(16, 4)
>>> shuffled = ids[::-1]
>>> t2 = make_splits(shuffled, n_splits=1, test_fraction=0.2, seed=0)[0][1]
>>> sorted(shuffled[i] for i in t2) == sorted(ids[i] for i in test)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from neurocompare._seeding import numpy_rng

__all__ = ["MIN_TEST", "make_splits"]

MIN_TEST = 3


def _ids(stimulus_ids: Any) -> np.ndarray:
    if isinstance(stimulus_ids, (int, np.integer)) and not isinstance(stimulus_ids, bool):
        return np.arange(int(stimulus_ids))
    ids = np.asarray(stimulus_ids)
    if ids.ndim != 1:
        raise ValueError(f"stimulus_ids must be 1-D (one id per stimulus) or an int; got shape {ids.shape}.")
    if ids.dtype.kind not in "iu":
        ids = ids.astype(str)
    if np.unique(ids).size != ids.size:
        raise ValueError("stimulus_ids must be unique; a split is defined on distinct stimuli.")
    return ids


def _labels(values: Any, n: int, name: str) -> np.ndarray:
    labels = np.asarray(values)
    if labels.shape != (n,):
        raise ValueError(f"{name} needs one label per stimulus ({n}); got shape {labels.shape}.")
    return labels.astype(str) if labels.dtype.kind not in "iub" else labels


def _check_sizes(splits: list[tuple[np.ndarray, np.ndarray]], n: int, test_fraction: float, how: str) -> None:
    for i, (train, test) in enumerate(splits):
        if len(test) < MIN_TEST or len(train) < MIN_TEST:
            raise ValueError(
                f"Split {i} ({how}) holds {len(train)} training and {len(test)} held-out of {n} stimuli; each side "
                f"needs at least {MIN_TEST} (a held-out Pearson r needs 3 points). Raise test_fraction "
                f"(now {test_fraction}) or use more stimuli or groups."
            )


def _given(ids: np.ndarray, splits: Sequence[Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    pos = {s: i for i, s in enumerate(ids.tolist())}
    out = []
    for k, pair in enumerate(splits):
        if len(pair) != 2:
            raise ValueError(f"splits[{k}] must be a (train_ids, test_ids) pair; got {len(pair)} item(s).")
        sides = []
        for side, name in zip(pair, ("train", "test")):
            wanted = np.asarray(side)
            wanted = wanted.astype(str) if ids.dtype.kind not in "iu" else wanted.astype(int)
            missing = [s for s in wanted.tolist() if s not in pos]
            if missing:
                raise ValueError(
                    f"splits[{k}] names {len(missing)} {name} stimulus id(s) that are not in the data (e.g. {missing[:3]}). "
                    "User splits are lists of (train_ids, test_ids) stimulus ids."
                )
            sides.append(np.sort(np.array([pos[s] for s in wanted.tolist()], dtype=int)))
        if np.intersect1d(sides[0], sides[1]).size:
            raise ValueError(f"splits[{k}] puts {np.intersect1d(sides[0], sides[1]).size} stimuli on both sides; train and test must be disjoint.")
        out.append((sides[0], sides[1]))
    return out


def make_splits(
    stimulus_ids: Any,
    *,
    n_splits: int = 10,
    test_fraction: float = 0.1,
    seed: int = 0,
    groups: Any = None,
    stratify: Any = None,
    splits: Sequence[Any] | None = None,
    key: Sequence[int | str] = (0,),
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test splits of stimuli, drawn on the stimuli sorted by id.

    Parameters
    ----------
    stimulus_ids : sequence of str or int, or int
        One unique id per stimulus (an int ``n`` means ids ``0 … n-1``).
    n_splits : int
        Random splits to draw (ignored with ``splits``).
    test_fraction : float in (0, 1)
        Fraction of stimuli (or of groups, with ``groups``) held out, rounded to the nearest
        integer.
    seed : int
    groups : array-like (n_stimuli,), optional
        A label per stimulus; whole groups are held out together (blocked cross-validation).
    stratify : array-like (n_stimuli,), optional
        A label per stimulus; each label holds out ``round(count × test_fraction)`` stimuli.
    splits : sequence of (train_ids, test_ids), optional
        Splits given by the user, as stimulus ids.
    key : sequence of int or str
        Extra words of the random stream (one stream per independent recording).

    Returns
    -------
    list of (train_positions, test_positions)
        Sorted integer positions into ``stimulus_ids``.

    Raises
    ------
    ValueError
        A held-out or training side under 3 stimuli (the message names ``test_fraction``),
        duplicate ids, labels of the wrong length, unknown ids in user splits, or both
        ``groups`` and ``stratify``.
    """
    ids = _ids(stimulus_ids)
    n = ids.size
    if splits is not None:
        out = _given(ids, splits)
        if not out:
            raise ValueError("splits is empty; give at least one (train_ids, test_ids) pair.")
        _check_sizes(out, n, test_fraction, "user split")
        return out
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 1:
        raise ValueError(f"n_splits must be a positive integer; got {n_splits!r}.")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1; got {test_fraction!r}.")
    if groups is not None and stratify is not None:
        raise ValueError("Give groups (blocked splits) or stratify (label proportions), not both.")
    order = np.argsort(ids, kind="stable")  # the draw happens in id order, whatever the row order
    rng = numpy_rng(int(seed), *key)
    out = []
    if groups is not None:
        labels = _labels(groups, n, "groups")[order]
        names = np.unique(labels)
        k = int(round(names.size * float(test_fraction)))
        if k < 1 or k >= names.size:
            raise ValueError(
                f"test_fraction={test_fraction} of {names.size} groups holds out {k} group(s); blocked splits need "
                "at least one group on each side. Raise test_fraction or use more groups."
            )
        for _ in range(int(n_splits)):
            held = np.isin(labels, names[rng.permutation(names.size)[:k]])
            out.append((np.sort(order[~held]), np.sort(order[held])))
        _check_sizes(out, n, test_fraction, "blocked by groups")
        return out
    if stratify is not None:
        labels = _labels(stratify, n, "stratify")[order]
        names = np.unique(labels)
        members = [np.flatnonzero(labels == name) for name in names]
        for _ in range(int(n_splits)):
            held = np.concatenate([m[rng.permutation(m.size)[: int(round(m.size * float(test_fraction)))]] for m in members])
            mask = np.zeros(n, bool)
            mask[held] = True
            out.append((np.sort(order[~mask]), np.sort(order[mask])))
        _check_sizes(out, n, test_fraction, "stratified")
        return out
    n_test = int(round(n * float(test_fraction)))
    if n_test < MIN_TEST or n - n_test < MIN_TEST:
        raise ValueError(
            f"test_fraction={test_fraction} of {n} stimuli holds out {n_test} and trains on {n - n_test}; each side "
            f"needs at least {MIN_TEST}. Raise test_fraction or use more stimuli."
        )
    for _ in range(int(n_splits)):
        perm = rng.permutation(n)
        out.append((np.sort(order[perm[n_test:]]), np.sort(order[perm[:n_test]])))
    return out
