"""Writing files so that nothing is lost: one atomic-write helper for the whole package.

Every file neurocompare writes (saved Responses, cache entries, scores, metamer states, training
checkpoints and metrics) goes through :func:`atomic_write` or :func:`atomic_write_bytes`:

1. the content is written to a temporary file *in the target's folder* whose name is unique to
   this writer (``.<name>.<pid>.<thread>.<random>.tmp``), so concurrent writers never share or
   delete each other's temporary file;
2. the temporary file is flushed and ``fsync``-ed;
3. it is renamed over the target (``os.replace``, atomic on POSIX) and the folder is fsynced.

A kill at any point leaves either the old file or the new one, never a partial one. Temporary
files orphaned by killed writers are removed by :func:`sweep_stale_tmp` (the activation cache
calls it when it opens and when it is cleared).

A failed write (full disk, file-size limit, read-only folder) raises :class:`WriteError`, an
``OSError`` whose message names the file, the reason and what to do; the target is untouched.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_bytes(folder / "a.txt", b"hello").read_bytes()
b'hello'
>>> sorted(p.name for p in folder.iterdir())
['a.txt']
"""

from __future__ import annotations

import errno
import os
import resource
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["WriteError", "atomic_write", "atomic_write_bytes", "check_room", "is_tmp_name", "sweep_stale_tmp", "tmp_name"]

_TMP_SUFFIX = ".tmp"
_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space (or choose another folder) and run again",
    errno.EFBIG: "the file is larger than this process may write (ulimit -f) or the file system allows: "
    "raise the limit or choose another folder",
    errno.EDQUOT: "the disk quota is exceeded: free some space or choose another folder",
    errno.EACCES: "the folder is not writable: choose a writable folder or fix its permissions",
    errno.EPERM: "the folder is not writable: choose a writable folder or fix its permissions",
    errno.EROFS: "the file system is read-only: choose a writable folder",
}


class WriteError(OSError):
    """A file could not be written; the message names the file, the reason and what to do."""


def advice(err: BaseException) -> str:
    """What to do about an ``OSError`` (by its errno), or a generic hint."""
    code = getattr(err, "errno", None)
    return _ADVICE.get(code, "check that the folder exists, is writable and has free space")


def tmp_name(path: Path) -> Path:
    """A temporary name next to ``path``, unique to this process, thread and call."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{secrets.token_hex(4)}{_TMP_SUFFIX}")


def is_tmp_name(name: str) -> bool:
    """Whether a file name is one made by :func:`tmp_name` (or a legacy ``.<name>.<pid>.tmp``)."""
    return name.startswith(".") and name.endswith(_TMP_SUFFIX)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *, what: str = "file") -> Path:
    """Call ``write(tmp)`` for a unique temporary path next to ``path``, fsync it, rename it to ``path``.

    Parameters
    ----------
    path : path-like
        The target; its folder is created if needed.
    write : callable
        Writes the whole content to the temporary path it is given.
    what : str
        What is being written, for the error message (``"checkpoint"``, ``"cache entry"``...).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    WriteError
        The folder cannot be created or the content cannot be written; ``path`` is untouched and
        the temporary file removed.
    """
    path = Path(path)
    tmp = tmp_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        reason = err.strerror or str(err)
        raise WriteError(
            err.errno, f"Could not write the {what} {path} ({reason}); {advice(err)}. Nothing was replaced."
        ) from err
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes | memoryview, *, what: str = "file") -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()

    return atomic_write(path, write, what=what)


def check_room(path: Path, nbytes: int) -> None:
    """Refuse a write of about ``nbytes`` that cannot fit (free disk space, ``ulimit -f``) before starting it.

    Used before writes that go straight to disk through HDF5 (large NetCDF files, streamed
    activations), where a write failing half-way can crash the HDF5 library.
    """
    need = int(nbytes * 1.05) + (1 << 20)
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY and need > soft:
        raise WriteError(
            27, f"Could not write {path}: it needs about {need} bytes but this process may write files of at most "
            f"{soft} bytes (ulimit -f). Raise the limit or save less data."
        )
    folder = path.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need > free:
        raise WriteError(
            28, f"Could not write {path}: it needs about {need} bytes but only {free} are free on that disk. "
            "Free some space or choose another folder."
        )


def _remove(tmp: Path) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def sweep_stale_tmp(folder: str | os.PathLike, *, max_age_s: float = 3600.0, recursive: bool = True) -> int:
    """Delete temporary files of killed writers under ``folder``; return how many were removed.

    A temporary file counts as stale when it is older than ``max_age_s`` seconds, or older than
    ``min(60 s, max_age_s)`` when the pid in its name is not a running process on this machine
    (the minute spares a writer on another machine sharing the folder that is just starting).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    now = time.time()
    n = 0
    files = folder.rglob(f".*{_TMP_SUFFIX}") if recursive else folder.glob(f".*{_TMP_SUFFIX}")
    for f in list(files):
        try:
            age = now - f.stat().st_mtime
        except OSError:
            continue
        if age < max_age_s and (age < min(60.0, max_age_s) or _writer_alive(f.name)):
            continue
        try:
            f.unlink()
            n += 1
        except OSError:
            pass
    return n


def _writer_alive(name: str) -> bool:
    """Whether the pid in a temporary name is a live process (True when the name carries none)."""
    parts = name[: -len(_TMP_SUFFIX)].split(".")
    if len(parts) >= 4 and parts[-3].isdigit() and parts[-2].isdigit():  # .<name>.<pid>.<thread>.<hex>.tmp
        pid = int(parts[-3])
    elif parts[-1].isdigit():  # legacy .<name>.<pid>.tmp
        pid = int(parts[-1])
    else:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
