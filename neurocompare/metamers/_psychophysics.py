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
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurocompare._seeding import numpy_rng

__all__ = ["export_experiment", "export_metamer_experiment", "read_responses", "summarize_responses", "CSV_COLUMNS"]

CSV_COLUMNS = (
    "participant",
    "session_seed",
    "trial",
    "stimulus_id",
    "true_label",
    "true_class",
    "response_label",
    "response_class",
    "correct",
    "rt_ms",
    "timestamp",
)


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
    try:
        import torch

        if isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    arr = np.asarray(images)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"images must be a numeric array of shape (n, [channels,] height, width); got dtype {arr.dtype}.")
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


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__TITLE__</title>
<style>
 body { font-family: system-ui, sans-serif; background: #808080; color: #000; margin: 0; text-align: center; }
 .screen { display: none; padding: 2em; }
 .screen.active { display: block; }
 #stimulus { width: __SIZE__px; height: __SIZE__px; image-rendering: pixelated; background: #808080; margin: 1em auto; display: block; }
 #choices button { font-size: 1.1em; margin: 0.3em; min-width: 6em; padding: 0.4em; }
 #progress { font-size: 0.9em; }
 .instructions { max-width: 40em; margin: auto; text-align: left; background: #ddd; padding: 1em; }
</style>
</head>
<body>
<div id="start" class="screen active">
 <h1>__TITLE__</h1>
 <div class="instructions">__INSTRUCTIONS__</div>
 <p><label>Participant id: <input id="participant" type="text" value=""></label></p>
 <p><button id="start-button">Start</button></p>
</div>
<div id="trial" class="screen">
 <div id="progress"></div>
 <img id="stimulus" alt="stimulus" data-stimulus-id="">
 <div id="choices"></div>
</div>
<div id="done" class="screen">
 <h2>Thank you!</h2>
 <p>Please download your responses and send the file to the experimenter.</p>
 <p><button id="download-button">Download CSV</button></p>
 <textarea id="csv-output" rows="6" cols="80" readonly></textarea>
</div>
<script>
"use strict";
const EXPERIMENT = __EXPERIMENT__;
const STIMULI = __STIMULI__;
function mulberry32(a) {
  return function () {
    a |= 0; a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function sessionSeed() {
  const fromUrl = new URLSearchParams(window.location.search).get("seed");
  if (fromUrl !== null && /^[0-9]+$/.test(fromUrl)) return parseInt(fromUrl, 10);
  const buf = new Uint32Array(1); window.crypto.getRandomValues(buf); return buf[0];
}
function shuffled(items, rand) {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = out[i]; out[i] = out[j]; out[j] = tmp;
  }
  return out;
}
function csvField(value) {
  let s = String(value);
  // a text cell starting with = + - @ tab or CR is a formula to spreadsheets: neutralise it with a quote
  if (typeof value !== "number" && /^[=+\\-@\\t\\r]/.test(s)) s = "'" + s;
  return /[",\\n\\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
const state = { seed: sessionSeed(), order: [], index: 0, shownAt: 0, participant: "", rows: [] };
function show(id) {
  for (const el of document.querySelectorAll(".screen")) el.classList.remove("active");
  document.getElementById(id).classList.add("active");
}
function buildChoices() {
  const box = document.getElementById("choices");
  EXPERIMENT.class_names.forEach(function (name, k) {
    const b = document.createElement("button");
    b.textContent = (EXPERIMENT.class_names.length <= 10 && name !== String(k) ? k + ": " : "") + name;
    b.dataset.label = String(k);
    b.id = "choice-" + k;
    b.addEventListener("click", function () { respond(k); });
    box.appendChild(b);
  });
}
function showTrial() {
  const stim = STIMULI[state.order[state.index]];
  const img = document.getElementById("stimulus");
  img.src = stim.src;
  img.dataset.stimulusId = stim.stimulus_id;
  document.getElementById("progress").textContent = "Image " + (state.index + 1) + " of " + state.order.length;
  state.shownAt = performance.now();
}
function respond(k) {
  if (state.index >= state.order.length) return;
  const stim = STIMULI[state.order[state.index]];
  const rt = Math.round(performance.now() - state.shownAt);
  const row = {
    participant: state.participant, session_seed: state.seed, trial: state.index,
    stimulus_id: stim.stimulus_id, true_label: stim.label,
    true_class: stim.label === null ? "" : EXPERIMENT.class_names[stim.label],
    response_label: k, response_class: EXPERIMENT.class_names[k],
    correct: stim.label === null ? "" : (k === stim.label ? 1 : 0),
    rt_ms: rt, timestamp: new Date().toISOString()
  };
  for (const c of EXPERIMENT.condition_columns) row[c] = stim.conditions[c];
  state.rows.push(row);
  state.index += 1;
  const csv = toCsv();
  try { window.localStorage.setItem(EXPERIMENT.storage_key, csv); } catch (e) { /* storage may be off */ }
  if (state.index < state.order.length) { showTrial(); } else { finish(csv); }
}
function toCsv() {
  const cols = EXPERIMENT.columns.concat(EXPERIMENT.condition_columns);
  const lines = [cols.map(csvField).join(",")];
  for (const r of state.rows) lines.push(cols.map(function (c) { return csvField(r[c] === null || r[c] === undefined ? "" : r[c]); }).join(","));
  return lines.join("\\n") + "\\n";
}
function download(csv) {
  const blob = new Blob([csv], { type: "text/csv" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = EXPERIMENT.file_prefix + (state.participant || "anonymous").replace(/[^A-Za-z0-9_-]/g, "_") + ".csv";
  document.body.appendChild(a); a.click(); a.remove();
}
function finish(csv) {
  document.getElementById("csv-output").value = csv;
  show("done");
}
document.getElementById("start-button").addEventListener("click", function () {
  state.participant = document.getElementById("participant").value.trim();
  const rand = mulberry32(state.seed);
  state.order = EXPERIMENT.shuffle ? shuffled(STIMULI.map(function (_, i) { return i; }), rand) : STIMULI.map(function (_, i) { return i; });
  show("trial");
  showTrial();
});
document.getElementById("download-button").addEventListener("click", function () { download(toCsv()); });
document.addEventListener("keydown", function (ev) {
  if (!document.getElementById("trial").classList.contains("active")) return;
  if (EXPERIMENT.class_names.length <= 10 && /^[0-9]$/.test(ev.key)) {
    const k = parseInt(ev.key, 10);
    if (k < EXPERIMENT.class_names.length) respond(k);
  }
});
buildChoices();
window.neurocompareExperiment = { state: state, toCsv: toCsv };
</script>
</body>
</html>
"""


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
    n = arr.shape[0]
    names = [str(c) for c in class_names] if not isinstance(class_names, str) else []
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"class_names must be at least 2 distinct names; got {class_names!r}.")
    if labels is not None:
        lab = np.asarray(labels)
        if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0 or lab.max() >= len(names):
            raise ValueError(
                f"labels must be {n} integers in [0, {len(names) - 1}] (indices into class_names); got "
                f"shape {lab.shape}, values {np.unique(lab)[:10].tolist() if lab.size else []}."
            )
        lab_list: list[int | None] = [int(v) for v in lab]
    else:
        lab_list = [None] * n
    ids = [f"stim_{i:04d}" for i in range(n)] if stimulus_ids is None else [str(s) for s in stimulus_ids]
    if len(ids) != n or len(set(ids)) != n:
        raise ValueError(f"stimulus_ids must be {n} unique names; got {len(ids)} ({len(set(ids))} unique).")
    conditions = dict(conditions or {})
    reserved = set(CSV_COLUMNS)
    for col, vals in conditions.items():
        if col in reserved or not str(col).replace("_", "").isalnum():
            raise ValueError(
                f"Condition column {col!r} is reserved or not a plain name; use letters, digits and '_' "
                f"and avoid {sorted(reserved)}."
            )
        if len(vals) != n:
            raise ValueError(f"Condition {col!r} has {len(vals)} values; expected one per image ({n}).")
    if not isinstance(display_size, int) or display_size < 8:
        raise ValueError(f"display_size must be an integer >= 8 pixels; got {display_size!r}.")
    stimuli = [
        {
            "stimulus_id": ids[i],
            "label": lab_list[i],
            "src": _to_png(arr[i]),
            "conditions": {str(c): _plain(v[i]) for c, v in conditions.items()},
        }
        for i in range(n)
    ]
    experiment = {
        "class_names": names,
        "columns": list(CSV_COLUMNS),
        "condition_columns": [str(c) for c in conditions],
        "shuffle": bool(shuffle),
        "storage_key": "neurocompare-" + "".join(ch for ch in title if ch.isalnum())[:40],
        "file_prefix": "responses_",
    }
    if instructions is None:
        keys = " or press its number key" if len(names) <= 10 else ""
        instructions = (
            f"<p>You will see {n} images, one at a time. For each image, click the class it shows"
            f"{keys}. Some images are hard to recognise: make your best guess.</p>"
            "<p>At the end, download your responses as a CSV file.</p>"
        )
    values = {
        "TITLE": html.escape(title),
        "INSTRUCTIONS": instructions,
        "SIZE": str(int(display_size)),
        "EXPERIMENT": _js_json(experiment),
        "STIMULI": _js_json(stimuli),
    }
    # one pass: text substituted for one placeholder is never searched for another
    page = re.sub(r"__(TITLE|INSTRUCTIONS|SIZE|EXPERIMENT|STIMULI)__", lambda m: values[m.group(1)], _PAGE)
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        path = path.with_suffix(".html")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _js_json(obj: Any) -> str:
    """JSON safe to embed in a <script> element: ``<``, ``>``, ``&`` and the JS line separators as escapes.

    No text inside can close the script, open a comment (``<!--``) or start markup.
    """
    text = json.dumps(obj)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


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
    if not isinstance(metamers, Mapping) or not metamers:
        raise TypeError("export_metamer_experiment() needs a non-empty dict {generator name: metamer Dataset}.")
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
    return export_experiment(np.stack(imgs), path, class_names=class_names, labels=labels, stimulus_ids=ids,
                             conditions=cond, **kwargs)


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
