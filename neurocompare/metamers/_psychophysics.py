"""A human recognition experiment as one static web page (HTML + JavaScript, no server).

:func:`export_experiment` writes a single self-contained ``.html`` file: the images are embedded
as PNG data URIs, the trial list as JSON. Open it in any browser (offline is fine): the
participant types an id, then sees the images one at a time in a random order and clicks (or
types the number of) the class they recognise. At the end a *Download CSV* button saves one row
per trial; the page also keeps the CSV in the browser's ``localStorage`` in case the download is
lost. :func:`export_metamer_experiment` builds the trial list from metamer Datasets
(:func:`neurocompare.metamers.synthesize_metamers`), adding the natural images as a reference
condition, and :func:`read_responses` / :func:`summarize_responses` read the CSV files back.

CSV columns (one row per trial, in presentation order)::

    participant, session_seed, trial, stimulus_id, true_label, true_class, response_label,
    response_class, correct, rt_ms, timestamp, <condition columns, e.g. generator, stage, kind>

The trial order is shuffled per session with a seeded generator (``?seed=N`` in the URL fixes
it; otherwise a random seed is drawn and written to every row).

References
----------
Feather, J., Leclerc, G., Mądry, A. & McDermott, J. H. (2023). Model metamers reveal divergent
invariances between biological and artificial neural networks. Nature Neuroscience 26, 2017–2034
(human recognition of model metamers, 16-way image classification task).

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> imgs = np.random.default_rng(0).random((4, 1, 8, 8))
>>> out = pathlib.Path(tempfile.mkdtemp()) / "exp.html"
>>> path = export_experiment(imgs, out, class_names=["zero", "one"], labels=[0, 1, 1, 0])
>>> "<script>" in path.read_text()
True
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurocompare._seeding import numpy_rng
from neurocompare.metamers._page import CSV_COLUMNS, numeric_array, write_page

__all__ = [
    "export_experiment",
    "export_metamer_experiment",
    "read_responses",
    "summarize_responses",
    "CSV_COLUMNS",
    "metamer_trials",
]

def _to_png(image: np.ndarray) -> str:
    """Encode an image (channels, h, w) or (h, w) with values in [0, 1] as a PNG data URI."""
    from neurocompare._optional import require

    Image = require("PIL.Image", "the psychophysics experiment export")
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3:
        if arr.shape[0] in (1, 3):
            arr = np.moveaxis(arr, 0, -1)
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
    arr = (np.clip(arr, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _check_images(images: Any) -> np.ndarray:
    arr = numeric_array(images, "images", "(n, [channels,] height, width)")
    if arr.ndim not in (3, 4) or arr.shape[0] == 0:
        raise ValueError(
            "images must have shape (n_images, height, width) or (n_images, channels, height, width) "
            f"with channels 1 or 3; got {arr.shape}."
        )
    if arr.ndim == 4 and arr.shape[1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels on axis 1; got shape {arr.shape}.")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise ValueError(
            f"image values must lie in [0, 1]; got [{np.nanmin(arr):.3g}, {np.nanmax(arr):.3g}]. "
            "Rescale them first (e.g. uint8 / 255)."
        )
    return arr


def export_experiment(
    images: Any,
    path: str | os.PathLike,
    *,
    class_names: Sequence[str],
    labels: Sequence[int] | None = None,
    stimulus_ids: Sequence[str] | None = None,
    conditions: Mapping[str, Sequence[Any]] | None = None,
    title: str = "Image recognition",
    instructions: str | None = None,
    shuffle: bool = True,
    display_size: int = 224,
) -> Path:
    """Write a self-contained HTML recognition experiment (no server, no internet needed).

    Parameters
    ----------
    images : array-like, shape (n_images, [channels,] height, width)
        Values in [0, 1]; 1 or 3 channels. Torch tensors are accepted.
    path : str or PathLike
        The ``.html`` file to write.
    class_names : sequence of str
        The response options, in label order (at least 2).
    labels : sequence of int, optional, length n_images
        True class of each image (index into ``class_names``); scored into ``correct``.
    stimulus_ids : sequence of str, optional
        Unique names; default ``stim_0000`` ...
    conditions : dict {column: sequence}, optional
        Extra per-image columns copied into the CSV (e.g. ``generator``, ``stage``, ``kind``).
    title, instructions : str
        Shown on the start screen (instructions may contain simple HTML).
    shuffle : bool
        Random order per session (seeded; ``?seed=N`` in the URL fixes the seed).
    display_size : int
        Pixels the image is shown at (upsampled without smoothing).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    arr = _check_images(images)
    if not isinstance(display_size, int) or display_size < 8:
        raise ValueError(f"display_size must be an integer >= 8 pixels; got {display_size!r}.")
    n = arr.shape[0]
    if instructions is None:
        keys = " or press its number key" if len(class_names) <= 10 else ""
        instructions = (
            f"<p>You will see {n} images, one at a time. For each image, click the class it shows"
            f"{keys}. Some images are hard to recognise: make your best guess.</p>"
            "<p>At the end, download your responses as a CSV file.</p>"
        )
    return write_page(
        path,
        [_to_png(a) for a in arr],
        kind="image",
        class_names=class_names,
        labels=labels,
        stimulus_ids=stimulus_ids,
        conditions=conditions,
        title=title,
        instructions=instructions,
        shuffle=shuffle,
        css=(
            f"#stimulus {{ width: {int(display_size)}px; height: {int(display_size)}px; image-rendering: pixelated; "
            "background: #808080; margin: 1em auto; display: block; }"
        ),
        element='<img id="stimulus" alt="stimulus" data-stimulus-id="">',
    )


def export_metamer_experiment(
    metamers: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    class_names: Sequence[str],
    valid: Mapping[str, Any] | None = None,
    include_originals: bool = True,
    **kwargs: Any,
) -> Path:
    """Export every generator's metamers (and the natural images) as one recognition experiment.

    Parameters
    ----------
    metamers : dict {generator name: metamer Dataset}
        From :func:`neurocompare.metamers.synthesize_metamers`, each with a ``label`` coordinate.
    path : str or PathLike
    class_names : sequence of str
    valid : dict {generator name: bool array (layer, image)}, optional
        Only valid metamers are shown (as in Feather et al. 2023).
    include_originals : bool
        Add each distinct natural image once, condition ``kind='natural'``.
    **kwargs
        Passed to :func:`export_experiment` (title, instructions, shuffle, display_size).

    Returns
    -------
    pathlib.Path
        The CSV gets the columns ``generator``, ``layer``, ``stage``, ``kind``
        (``'metamer'``/``'natural'``) and ``image_id``.
    """
    imgs, labels, ids, cond = metamer_trials(metamers, valid, include_originals, "export_metamer_experiment()")
    return export_experiment(np.stack(imgs), path, class_names=class_names, labels=labels, stimulus_ids=ids,
                             conditions=cond, **kwargs)


def metamer_trials(
    metamers: Mapping[str, Any], valid: Mapping[str, Any] | None, include_originals: bool, where: str
) -> tuple[list[np.ndarray], list[int], list[str], dict[str, list[Any]]]:
    """The trial list of a metamer experiment: stimuli, labels, ids and condition columns.

    Returns
    -------
    (stimuli, labels, stimulus_ids, conditions)
        One entry per trial: each valid metamer (``generator|layer|image_id``) and, with
        ``include_originals``, each distinct natural input once (``natural|image_id``);
        conditions ``generator``, ``layer``, ``stage``, ``kind``, ``image_id``.
    """
    if not isinstance(metamers, Mapping) or not metamers:
        raise TypeError(f"{where} needs a non-empty dict {{generator name: metamer Dataset}}.")
    imgs, labels, ids = [], [], []
    cond: dict[str, list[Any]] = {"generator": [], "layer": [], "stage": [], "kind": [], "image_id": []}
    seen: set[str] = set()
    for g, ds in metamers.items():
        if not hasattr(ds, "data_vars") or "metamer" not in ds or "label" not in ds.coords:
            raise ValueError(
                f"Metamers of {g!r} must be a Dataset from synthesize_metamers() with a 'label' coordinate "
                "(pass labels= when synthesising)."
            )
        stages = ds["stage"].values if "stage" in ds.coords else ds["layer"].values
        image_ids = ds["image_id"].values if "image_id" in ds.coords else np.arange(ds.sizes["image"])
        mask = np.ones((ds.sizes["layer"], ds.sizes["image"]), bool) if valid is None or g not in valid else np.asarray(valid[g], bool)
        for li in range(ds.sizes["layer"]):
            for i in range(ds.sizes["image"]):
                if not mask[li, i]:
                    continue
                imgs.append(ds["metamer"].values[li, i])
                labels.append(int(ds["label"].values[i]))
                ids.append(f"{g}|{ds['layer'].values[li]}|{image_ids[i]}")
                for k, v in (("generator", g), ("layer", str(ds["layer"].values[li])), ("stage", str(stages[li])),
                             ("kind", "metamer"), ("image_id", str(image_ids[i]))):
                    cond[k].append(v)
        if include_originals:
            for i in range(ds.sizes["image"]):
                key = str(image_ids[i])
                if key in seen:
                    continue
                seen.add(key)
                imgs.append(ds["original"].values[i])
                labels.append(int(ds["label"].values[i]))
                ids.append(f"natural|{key}")
                for k, v in (("generator", ""), ("layer", ""), ("stage", "natural"), ("kind", "natural"),
                             ("image_id", key)):
                    cond[k].append(v)
    if not imgs:
        raise ValueError("No metamers to export: every metamer was marked invalid.")
    return imgs, labels, ids, cond


def read_responses(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """Read one or more response CSV files written by the experiment page.

    Returns
    -------
    list of dict
        One dict per trial; ``trial``, ``true_label``, ``response_label``, ``rt_ms`` as int,
        ``correct`` as int (or None when the image had no label), the rest as str.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise FileNotFoundError(f"No response file at {p}.")
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{p} is not an experiment response file: columns {missing} are missing.")
            for r in reader:
                for c, v in r.items():  # undo the page's formula neutralisation ('=... -> =...)
                    if isinstance(v, str) and len(v) > 1 and v[0] == "'" and v[1] in "=+-@\t\r":
                        r[c] = v[1:]
                for c in ("trial", "response_label", "rt_ms", "true_label", "correct"):
                    r[c] = int(r[c]) if r[c] not in ("", None) else None
                rows.append(r)
    return rows


def summarize_responses(
    rows: Sequence[Mapping[str, Any]], by: Sequence[str] = ("kind", "generator", "stage"), *, n_boot: int = 1000,
    seed: int = 0, ci: float = 0.95,
):
    """Proportion correct per condition with bootstrap CIs (over trials) as an xarray Dataset.

    Parameters
    ----------
    rows : list of dict
        From :func:`read_responses`.
    by : sequence of str
        Condition columns to group by.
    n_boot : int
        Bootstrap resamples of each condition's trials; 0 skips the error and the interval.
    seed : int
        Seeds the bootstrap (``neurocompare._seeding.numpy_rng(seed)``).
    ci : float
        Confidence level of the percentile interval.

    Returns
    -------
    xarray.Dataset
        dim ``condition`` (one per distinct combination of ``by``, with one coordinate per column):
        ``accuracy``, ``error`` (s.d. of the bootstrap accuracies), ``ci_low``, ``ci_high``
        (percentile interval), ``n``; attrs ``ci``, ``n_boot``, ``error_kind``.
    """
    import xarray as xr

    if not rows:
        raise ValueError("summarize_responses() got no rows; read them with read_responses(paths).")
    for c in by:
        if c not in rows[0]:
            raise ValueError(f"Column {c!r} is not in the responses; available: {sorted(rows[0])}.")
    groups: dict[tuple, list[int]] = {}
    for r in rows:
        if r["correct"] is None:
            continue
        groups.setdefault(tuple(str(r[c]) for c in by), []).append(int(r["correct"]))
    keys = sorted(groups)
    rng = numpy_rng(seed)  # the stream of np.random.default_rng(seed)
    acc, err, lo, hi, n = [], [], [], [], []
    for k in keys:
        v = np.asarray(groups[k], float)
        acc.append(v.mean())
        n.append(v.size)
        if n_boot:
            boots = v[rng.integers(0, v.size, (n_boot, v.size))].mean(1)
            a, b = np.quantile(boots, [(1 - ci) / 2, 1 - (1 - ci) / 2])
            e = boots.std(ddof=1) if n_boot > 1 else np.nan
        else:
            a = b = e = np.nan
        lo.append(a)
        hi.append(b)
        err.append(e)
    coords = {c: ("condition", [k[i] for k in keys]) for i, c in enumerate(by)}
    return xr.Dataset(
        {"accuracy": ("condition", acc), "error": ("condition", err), "ci_low": ("condition", lo),
         "ci_high": ("condition", hi), "n": ("condition", n)},
        coords=coords,
        attrs={"ci": ci, "n_boot": n_boot,
               "error_kind": f"bootstrap sd ({n_boot} resamples of trials)" if n_boot else "none"},
    )
