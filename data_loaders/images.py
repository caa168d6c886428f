"""Turn a folder or a zip of image files into a stimulus DataArray, ids taken from the file names.

The stimulus set a lab showed its animals usually sits on disk as ``stimuli/img001.png ...`` or a
zip of them. :func:`load_image_folder` reads such a set into the stimulus type every model door of
neurocompare accepts (``nc.extract``, ``nc.score``, ``nc.Benchmark(stimuli=...)``)::

    <xarray.DataArray (stimulus: 640, height: 112, width: 112, channel: 3)>  uint8
    Coordinates:
      * stimulus_id  (stimulus) <U9 'image0001' 'image0002' ... 'image0640'
        file         (stimulus) <U13 'image0001.jpg' ... 'image0640.jpg'
        category     (stimulus) <U1 '' '' ... ''      (the sub-folder, when there are any)

Examples
--------
>>> from data_loaders import load_image_folder
>>> images = load_image_folder("my_stimuli.zip")                 # doctest: +SKIP
>>> images.sizes                                                 # doctest: +SKIP
Frozen({'stimulus': 640, 'height': 112, 'width': 112, 'channel': 3})
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import xarray as xr

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder", "natural_key"]

#: file suffixes read as images (case-insensitive)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_MODES = {"RGB": 3, "L": 1, "RGBA": 4}


def natural_key(name: str) -> list:
    """Sort key that orders digits by value: ``img2`` before ``img10`` (as a person reads them)."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def _is_image(name: str, extensions: Sequence[str]) -> bool:
    parts = PurePosixPath(name).parts
    hidden = any(p.startswith(".") or p == "__MACOSX" for p in parts)
    return not hidden and PurePosixPath(name).suffix.lower() in extensions


def _members(path: Path, extensions: Sequence[str]) -> tuple[list[str], Callable[[str], bytes], str]:
    """(relative posix names of the images, a reader name -> bytes, a description of the source)."""
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        names = [n for n in names if _is_image(n, extensions)]
        return names, lambda n: (path / n).read_bytes(), f"folder {str(path)!r}"
    if path.is_file():
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as err:
            raise ValueError(
                f"{str(path)!r} is neither a folder nor a readable zip file ({err}). Pass a folder of "
                f"images or a .zip of them."
            ) from err
        names = [n for n in zf.namelist() if not n.endswith("/") and _is_image(n, extensions)]
        # a zipped folder ("stimuli/img1.png", ...): ids relative to that one top folder
        tops = {PurePosixPath(n).parts[0] for n in names}
        if len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in names):
            (top,) = tops
            strip = len(top) + 1
            return [n[strip:] for n in names], lambda n: zf.read(f"{top}/{n}"), f"zip {str(path)!r}"
        return names, zf.read, f"zip {str(path)!r}"
    raise FileNotFoundError(f"No folder or zip file at {str(path)!r}. Pass the folder holding the images or a .zip of them.")


def load_image_folder(
    path_or_zip: str | os.PathLike,
    *,
    size: int | tuple[int, int] | None = None,
    mode: str = "RGB",
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    ids: Callable[[str], str] | None = None,
    sort: str = "natural",
    progress: bool | None = None,
) -> xr.DataArray:
    """Read every image in a folder (sub-folders included) or a zip into a stimulus DataArray.

    Parameters
    ----------
    path_or_zip : path-like
        A folder of image files, or a ``.zip`` of them. Sub-folders become the ``category`` coord;
        a zip whose files all sit in one top folder is read as that folder.
    size : int or (int, int), optional
        Resize every image to ``(height, width)`` (an int: square) with Pillow's Lanczos filter.
        Default None keeps the files' size, which must then be the same for all images.
    mode : {'RGB', 'L', 'RGBA'}
        Pillow mode the images are converted to; gives 3, 1 or 4 channels.
    extensions : sequence of str
        File suffixes read as images (case-insensitive); other files are ignored.
    ids : callable, optional
        ``ids(relative_path) -> stimulus_id``. Default: the relative path without its suffix, with
        ``/`` between folders (``'img001'``, ``'faces/img001'``), i.e. the file name in a flat folder.
    sort : {'natural', 'name'}
        Stimulus order: ``'natural'`` orders numbers by value (``img2`` before ``img10``),
        ``'name'`` by plain string comparison.
    progress : bool, optional
        Show a progress bar over files (default: the global option, see ``nc.set_options``).

    Returns
    -------
    xarray.DataArray, dims ('stimulus', 'height', 'width', 'channel'), uint8
        Coords ``stimulus_id`` (unique, from the file names), ``file`` (path relative to the
        folder) and ``category`` (the sub-folder, ``''`` for files at the top); attrs ``source``.

    Raises
    ------
    FileNotFoundError
        If ``path_or_zip`` is neither a folder nor a file.
    ValueError
        If no images are found, two files map to the same id, a file cannot be decoded, or the
        images differ in size and ``size`` is None.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> from data_loaders import load_image_folder
    >>> folder = tempfile.mkdtemp()
    >>> for i in (1, 2, 10):
    ...     Image.fromarray(np.full((4, 6, 3), i, np.uint8)).save(f"{folder}/img{i}.png")
    >>> images = load_image_folder(folder)
    >>> images.stimulus_id.values.tolist(), images.shape
    (['img1', 'img2', 'img10'], (3, 4, 6, 3))
    """
    from neurocompare._optional import require
    from neurocompare._options import progress_enabled

    Image = require("PIL.Image", "load_image_folder")
    if mode not in _MODES:
        raise ValueError(f"The 'mode' parameter of load_image_folder() must be one of {sorted(_MODES)}. Got {mode!r} instead.")
    if sort not in ("natural", "name"):
        raise ValueError(f"The 'sort' parameter of load_image_folder() must be one of ['name', 'natural']. Got {sort!r} instead.")
    hw = None if size is None else ((size, size) if isinstance(size, int) else tuple(size))
    if hw is not None and (len(hw) != 2 or min(hw) < 1):
        raise ValueError(f"size must be a positive int or (height, width); got {size!r}.")
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    path = Path(path_or_zip)
    names, read, where = _members(path, exts)
    if not names:
        raise ValueError(f"No images ({', '.join(exts)}) in {where}. Pass a folder or zip holding image files.")
    names.sort(key=natural_key if sort == "natural" else str)
    make_id = ids or (lambda n: str(PurePosixPath(n).with_suffix("")))
    stim_ids = [str(make_id(n)) for n in names]
    seen: dict[str, str] = {}
    for sid, n in zip(stim_ids, names):
        if sid in seen:
            raise ValueError(
                f"Files {seen[sid]!r} and {n!r} in {where} both give stimulus_id {sid!r}. Rename one, "
                "or pass ids= a function that keeps them apart (e.g. ids=lambda p: p)."
            )
        seen[sid] = n
    from tqdm.auto import tqdm

    arrays = []
    for n in tqdm(names, desc="images", disable=not progress_enabled(progress)):
        try:
            with Image.open(io.BytesIO(read(n))) as im:
                im = im.convert(mode)
                if hw is not None and im.size != (hw[1], hw[0]):
                    im = im.resize((hw[1], hw[0]), Image.LANCZOS)
                arr = np.asarray(im, dtype=np.uint8)
        except OSError as err:
            raise ValueError(f"Cannot decode {n!r} in {where} as an image: {err}. Remove or replace the file.") from err
        arrays.append(arr.reshape(arr.shape[0], arr.shape[1], _MODES[mode]))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        odd = next(n for n, a in zip(names, arrays) if a.shape != first)
        raise ValueError(
            f"Images in {where} differ in size: {names[0]!r} is {first[:2]} but {odd!r} is "
            f"{dict(zip(names, arrays))[odd].shape[:2]} (height, width). Pass size=(height, width) to resize them all."
        )
    categories = [str(PurePosixPath(n).parent) if "/" in n else "" for n in names]
    return xr.DataArray(
        np.stack(arrays),
        dims=("stimulus", "height", "width", "channel"),
        coords={
            "stimulus_id": ("stimulus", np.array(stim_ids)),
            "file": ("stimulus", np.array(names)),
            "category": ("stimulus", np.array(categories)),
        },
        attrs={"source": str(path)},
    )
