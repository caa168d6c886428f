"""Scores on disk and as text: :func:`write_score`, :func:`load_scores`, :func:`format_table`.

``write_score`` writes ``<model>__<benchmark>.json`` (the whole Score, atomically) and ``.nc``
(the per-layer table as a DataArray) and appends the Score to ``scores.jsonl``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from neurocompare.benchmarks.score import Score

__all__ = ["format_table", "load_scores", "write_score"]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text).strip("_") or "model"


def write_score(s: Score, out: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``s`` as ``<model>__<benchmark>.json`` and ``.nc`` (per-layer table) in ``out``; append to ``scores.jsonl``.

    Returns
    -------
    (json_path, netcdf_path)
    """
    from neurocompare.data import save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{_slug(str(s.provenance.get('model_id', 'model')))}__{_slug(s.benchmark)}"
    jpath = out / f"{stem}.json"
    tmp = jpath.with_name(f".{jpath.name}.{os.getpid()}.tmp")
    tmp.write_text(s.to_json(indent=2))
    os.replace(tmp, jpath)
    npath = save(s.to_dataarray(), out / f"{stem}.nc", name="scores")
    with open(out / "scores.jsonl", "a") as fh:
        fh.write(s.to_json() + "\n")
    return jpath, npath


def format_table(scores: Sequence[Score]) -> str:
    """A plain-text table: model, benchmark, value ± error, raw, ceiling, chosen layer, flags."""
    rows = [("model", "benchmark", "value", "± error", "raw", "ceiling", "layer", "flags")]
    kinds = sorted({s.error_kind for s in scores})
    for s in scores:
        rows.append(
            (
                str(s.provenance.get("model_id", "?")),
                s.benchmark,
                f"{s.value:.3f}",
                f"{s.error:.3f}",
                f"{s.raw:.3f}",
                "-" if s.ceiling is None else f"{s.ceiling:.3f}",
                s.layer,
                ",".join(s.flags) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if kinds:
        lines.append(f"(error: {'; '.join(kinds)})")
    return "\n".join(lines)


def load_scores(folder: str | os.PathLike) -> list[Score]:
    """Every score in ``folder``: the ``*.json`` files written by :func:`write_score`, else ``*.jsonl`` lines."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No such folder: {folder}. Give the --out folder of `neurocompare score` or `sweep`.")
    scores = []
    for path in sorted(folder.glob("*.json")):
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if isinstance(d, dict) and "benchmark" in d and "layers" in d:
            scores.append(Score.from_dict(d))
    if not scores:
        for path in sorted(folder.glob("*.jsonl")):
            for line in path.read_text().splitlines():
                try:
                    d = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(d, dict) and d.get("kind", "score") == "score" and "layers" in d:
                    scores.append(Score.from_dict(d.get("score", d)))
    if not scores:
        raise FileNotFoundError(f"No scores found in {folder} (expected *.json from `neurocompare score --out`).")
    return scores
