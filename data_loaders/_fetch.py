"""Locate, verify and (optionally) download the files of a recorded dataset.

Every dataset module in :mod:`data_loaders` declares, at module level:

``FOLDER``
    Name of the dataset's sub-folder under the data root (as in ``../shared/data``).
``FILES``
    ``{relative path: sha256 hex digest}`` for every file a loader may read.
``URL``
    The original public source (shown in error messages).
``DOWNLOAD_BASE``
    A URL prefix such that ``DOWNLOAD_BASE + relative_path`` downloads the file unchanged,
    or ``None`` when the files cannot be fetched one by one (converted or repackaged data).

:func:`fetch` turns a relative path into a verified local path. Hashes are computed once per
process for a given file (keyed by its resolved path, size and modification time), so loading
the same data repeatedly costs nothing beyond reading it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from pathlib import Path
from types import ModuleType

__all__ = [
    "get_root", "dataset_dir", "fetch", "sha256", "stamp", "file_cache", "present", "verify", "download", "clear_cache",
    "UnverifiedDataWarning",
]

ENV_VAR = "NEUROCOMPARE_DATA"
_VERIFIED: dict[tuple[str, int, int], str] = {}
_LOCK = threading.Lock()
_CACHES: list = []


class UnverifiedDataWarning(UserWarning):
    """A loader read a file without checking it against a known sha256 (``verify=False``)."""


def get_root(root: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds the recorded datasets.

    Parameters
    ----------
    root : path-like, optional
        An explicit folder. When omitted, the environment variable ``NEUROCOMPARE_DATA`` is
        used, else a per-user cache folder (``~/.cache/neurocompare`` on Linux).

    Returns
    -------
    pathlib.Path
        The root; each dataset lives in a sub-folder of it (e.g. ``root / "kriegeskorte92"``).
        The folder need not exist yet.
    """
    from neurocompare._options import data_dir

    return data_dir(root)


def dataset_dir(module: ModuleType, root: str | os.PathLike | None = None) -> Path:
    """The folder of one dataset: ``get_root(root) / module.FOLDER``."""
    return get_root(root) / module.FOLDER


def sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def stamp(path: str | os.PathLike) -> tuple[int, int]:
    """(size, modification time in ns) of a file: a cache key that changes when the file does."""
    st = Path(path).stat()
    return st.st_size, st.st_mtime_ns


def file_cache(maxsize: int):
    """``functools.lru_cache`` for parsed file contents, registered so :func:`clear_cache` empties it.

    Decorated functions take ``(path: str, size: int, mtime_ns: int, ...)`` (see :func:`stamp`),
    so a changed file is parsed again. Cached arrays are made read-only (to protect the cache) and
    loaders hand out copies, so what a user receives is writable (torch.from_numpy needs that).
    """

    def wrap(func):
        cached = functools.lru_cache(maxsize=maxsize)(func)
        _CACHES.append(cached)
        return cached

    return wrap


def clear_cache() -> None:
    """Forget verified checksums and drop all parsed data cached by the loaders (frees memory)."""
    with _LOCK:
        _VERIFIED.clear()
    for cached in _CACHES:
        cached.cache_clear()


def verify(path: str | os.PathLike, expected: str) -> Path:
    """Check a file's sha256 against ``expected``; cached per process.

    Parameters
    ----------
    path : path-like
        The file.
    expected : str
        Expected hex sha256 digest.

    Returns
    -------
    pathlib.Path
        The path, when the digest matches.

    Raises
    ------
    ValueError
        On a mismatch; the message names the file and both digests.
    """
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _LOCK:
        known = _VERIFIED.get(key)
    if known is None:
        known = sha256(path)
        with _LOCK:
            _VERIFIED[key] = known
    if known != expected:
        raise ValueError(
            f"Checksum mismatch for {path}: expected sha256 {expected}, got {known}. "
            "The file is corrupt, truncated or a different version; replace it with the original "
            "(delete it and download it again, or copy it from the source)."
        )
    return path


def _missing_message(module: ModuleType, relpath: str, path: Path) -> str:
    how = (
        f"Point the loader at a folder holding '{module.FOLDER}/' with root=... or set the "
        f"environment variable {ENV_VAR}"
    )
    fetch_hint = (
        f", or download it with data_loaders.download('{module.__name__.rsplit('.', 1)[-1]}') "
        "(needs pooch and internet)"
        if getattr(module, "DOWNLOAD_BASE", None)
        else ""
    )
    return (
        f"Data file not found: {path} (dataset '{module.FOLDER}', file '{relpath}'). "
        f"Original source: {module.URL}. {how}{fetch_hint}."
    )


def fetch(
    module: ModuleType, relpath: str, root: str | os.PathLike | None = None, *, check: bool = True, strict: bool = True
) -> Path:
    """Return the verified local path of one file of a dataset.

    Parameters
    ----------
    module : module
        A dataset module defining ``FOLDER``, ``FILES``, ``URL`` (see this module's docstring).
    relpath : str
        Path relative to the dataset folder, a key of ``module.FILES``.
    root : path-like, optional
        Data root (see :func:`get_root`); the dataset's own folder (``.../<FOLDER>``) is accepted
        too.
    check : bool
        Verify the sha256 (cached per process). Default True.
    strict : bool
        Only files listed in ``module.FILES`` are allowed (default). With False, a file beyond the
        list (a session the checksummed copy does not have, a newer upstream file) is returned
        with an :class:`UnverifiedDataWarning` and no checksum; listed files are still checked
        when ``check`` is True.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    KeyError
        If ``relpath`` is not one of the dataset's files (and ``strict`` is True).
    FileNotFoundError
        If the file is absent; the message names the file, the original source and how to point
        the loader at a local copy.
    ValueError
        On a checksum mismatch.
    """
    listed = relpath in module.FILES
    if not listed and strict:
        raise KeyError(
            f"'{relpath}' is not a file of dataset '{module.FOLDER}'. "
            f"Known files include: {', '.join(sorted(module.FILES)[:5])} ({len(module.FILES)} in all). To read a file beyond this list, pass verify=False to the "
            "dataset's loader (strict=False here)."
        )
    path = dataset_dir(module, root) / relpath
    if not path.is_file() and root is not None and Path(root).name == module.FOLDER:
        # root given as the dataset folder itself (root=".../kriegeskorte92"): accept it
        alt = Path(root).expanduser() / relpath
        if alt.is_file():
            path = alt
    if not path.is_file():
        raise FileNotFoundError(_missing_message(module, relpath, path))
    if not listed:
        import warnings

        warnings.warn(
            f"'{relpath}' is not among the {len(module.FILES)} checksummed files of dataset "
            f"'{module.FOLDER}'; reading {path} without verifying it (verify=False). Check that it is "
            "the file you mean; results from it cannot be traced to a known version of the data.",
            UnverifiedDataWarning,
            stacklevel=3,
        )
    elif check:
        verify(path, module.FILES[relpath])
    return path


def present(module: ModuleType, root: str | os.PathLike | None = None) -> bool:
    """True when every file of the dataset exists under the root (no hashing)."""
    base = dataset_dir(module, root)
    return all((base / rel).is_file() for rel in module.FILES)


def download(module: ModuleType, root: str | os.PathLike | None = None, *, progress: bool = True) -> Path:
    """Download the missing files of a dataset into ``root`` with pooch, verifying each.

    Parameters
    ----------
    module : module
        A dataset module with a non-empty ``DOWNLOAD_BASE``.
    root : path-like, optional
        Data root (see :func:`get_root`); created when missing.
    progress : bool
        Show pooch's progress bar (also silenced by ``NEUROCOMPARE_QUIET=1``).

    Returns
    -------
    pathlib.Path
        The dataset folder.
    """
    base_url = getattr(module, "DOWNLOAD_BASE", None)
    if not base_url:
        raise ValueError(
            f"Dataset '{module.FOLDER}' cannot be downloaded file by file (it was converted or "
            f"repackaged). Get it from {module.URL} and place it under {dataset_dir(module, root)}."
        )
    from neurocompare._optional import require

    pooch = require("pooch", "downloading datasets")
    target = dataset_dir(module, root)
    from neurocompare._options import progress_enabled

    quiet = not progress_enabled(progress)
    for rel, digest in module.FILES.items():
        if (target / rel).is_file():
            verify(target / rel, digest)
            continue
        pooch.retrieve(
            url=base_url + rel,
            known_hash=f"sha256:{digest}",
            fname=Path(rel).name,
            path=str((target / rel).parent),
            progressbar=not quiet,
        )
        verify(target / rel, digest)
    return target
