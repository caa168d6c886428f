"""The experiment web page: one self-contained HTML file (template, trial list, writer).

Shared by the image experiment (:func:`neurocompare.metamers.export_experiment`) and the
listening experiment (:func:`neurocompare.metamers.export_listening_experiment`): the same
seeded trial order, response logging, CSV columns, download and ``localStorage`` backup; only the
stimulus element differs (an ``<img>`` with a PNG data URI, or an ``<audio>`` player with a WAV
data URI, plus a word filter box for long vocabularies).
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurocompare._atomic import atomic_write

__all__ = ["CSV_COLUMNS", "numeric_array", "write_page"]

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


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__TITLE__</title>
<style>
 body { font-family: system-ui, sans-serif; background: #808080; color: #000; margin: 0; text-align: center; }
 .screen { display: none; padding: 2em; }
 .screen.active { display: block; }
 __STIMULUS_CSS__
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
 __STIMULUS_HTML__
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
const state = { seed: sessionSeed(), order: [], index: 0, shownAt: 0, participant: "", rows: [], listened: true };
function show(id) {
  for (const el of document.querySelectorAll(".screen")) el.classList.remove("active");
  document.getElementById(id).classList.add("active");
}
function buildChoices() {
  const box = document.getElementById("choices");
  const order = EXPERIMENT.class_names.map(function (_, k) { return k; });
  if (EXPERIMENT.sort_choices) order.sort(function (a, b) { return EXPERIMENT.class_names[a].localeCompare(EXPERIMENT.class_names[b]); });
  order.forEach(function (k) {
    const name = EXPERIMENT.class_names[k];
    const b = document.createElement("button");
    b.textContent = (EXPERIMENT.class_names.length <= 10 && name !== String(k) ? k + ": " : "") + name;
    b.dataset.label = String(k);
    b.id = "choice-" + k;
    b.addEventListener("click", function () { respond(k); });
    box.appendChild(b);
  });
}
function setChoicesEnabled(on) {
  for (const b of document.querySelectorAll("#choices button")) b.disabled = !on;
}
function filterChoices() {
  const box = document.getElementById("filter");
  if (!box) return [];
  const q = box.value.trim().toLowerCase();
  const shown = [];
  for (const b of document.querySelectorAll("#choices button")) {
    const name = EXPERIMENT.class_names[parseInt(b.dataset.label, 10)].toLowerCase();
    const on = q === "" || name.indexOf(q) >= 0;
    b.style.display = on ? "" : "none";
    if (on) shown.push(parseInt(b.dataset.label, 10));
  }
  return shown;
}
function showTrial() {
  const stim = STIMULI[state.order[state.index]];
  const el = document.getElementById("stimulus");
  el.src = stim.src;
  el.dataset.stimulusId = stim.stimulus_id;
  document.getElementById("progress").textContent = EXPERIMENT.unit + " " + (state.index + 1) + " of " + state.order.length;
  const box = document.getElementById("filter");
  if (box) { box.value = ""; filterChoices(); }
  state.listened = !EXPERIMENT.require_listen;
  setChoicesEnabled(state.listened);
  if (EXPERIMENT.kind === "audio") {
    el.load();
    const p = el.play();
    if (p && p.catch) p.catch(function () { /* autoplay refused: the participant presses play */ });
  }
  state.shownAt = performance.now();
}
function respond(k) {
  if (state.index >= state.order.length || !state.listened) return;
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
if (EXPERIMENT.kind === "audio") {
  document.getElementById("stimulus").addEventListener("ended", function () {
    state.listened = true; setChoicesEnabled(true);
  });
  const box = document.getElementById("filter");
  box.addEventListener("input", filterChoices);
  box.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter") return;
    const shown = filterChoices();
    const q = box.value.trim().toLowerCase();
    const exact = shown.filter(function (k) { return EXPERIMENT.class_names[k].toLowerCase() === q; });
    if (exact.length === 1) respond(exact[0]); else if (shown.length === 1) respond(shown[0]);
  });
}
document.addEventListener("keydown", function (ev) {
  if (!document.getElementById("trial").classList.contains("active")) return;
  if (ev.target && ev.target.id === "filter") return;
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


def write_page(
    path: str | os.PathLike,
    sources: Sequence[str],
    *,
    kind: str,
    class_names: Sequence[str],
    labels: Sequence[int] | None,
    stimulus_ids: Sequence[str] | None,
    conditions: Mapping[str, Sequence[Any]] | None,
    title: str,
    instructions: str,
    shuffle: bool,
    css: str,
    element: str,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Check the trial list and write the experiment page (shared by the image and listening pages).

    Parameters
    ----------
    sources : sequence of str, length n
        One data URI per stimulus (PNG for images, WAV for sounds).
    kind : {'image', 'audio'}
        What the page presents; ``'audio'`` plays each sound when its trial starts and adds the
        word filter box.
    css, element : str
        The stimulus element's style rule and HTML (``id="stimulus"``).
    extra : dict, optional
        More settings for the page script (``require_listen``, ``sort_choices``).

    Other parameters are those of :func:`export_experiment`.
    """
    n = len(sources)
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
    unit = "Sound" if kind == "audio" else "Image"
    for col, vals in conditions.items():
        if col in reserved or not str(col).replace("_", "").isalnum():
            raise ValueError(
                f"Condition column {col!r} is reserved or not a plain name; use letters, digits and '_' "
                f"and avoid {sorted(reserved)}."
            )
        if len(vals) != n:
            raise ValueError(f"Condition {col!r} has {len(vals)} values; expected one per {unit.lower()} ({n}).")
    stimuli = [
        {
            "stimulus_id": ids[i],
            "label": lab_list[i],
            "src": sources[i],
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
        "kind": kind,
        "unit": unit,
        "require_listen": False,
        "sort_choices": False,
    }
    experiment.update(extra or {})
    values = {
        "TITLE": html.escape(title),
        "INSTRUCTIONS": instructions,
        "STIMULUS_CSS": css,
        "STIMULUS_HTML": element,
        "EXPERIMENT": _js_json(experiment),
        "STIMULI": _js_json(stimuli),
    }
    # one pass: text substituted for one placeholder is never searched for another
    page = re.sub(
        r"__(TITLE|INSTRUCTIONS|STIMULUS_CSS|STIMULUS_HTML|EXPERIMENT|STIMULI)__", lambda m: values[m.group(1)], _PAGE
    )
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        path = path.with_suffix(".html")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"), what="experiment page")
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


def numeric_array(values: Any, name: str, expected: str) -> np.ndarray:
    """``values`` (numpy array or torch tensor) as a numeric numpy array, or a TypeError.

    ``name`` and ``expected`` (the shape the caller wants, e.g. ``"(n_sounds, samples)"``) go
    into the error message; shape checks are the caller's.
    """
    try:
        import torch

        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    arr = np.asarray(values)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array of shape {expected}; got dtype {arr.dtype}.")
    return arr
