"""Scores on disk and as text: :func:`write_score`, :func:`load_scores`, :func:`format_table`.

``write_score`` writes ``<model>__<benchmark>.json`` (the whole Score) and ``.nc`` (the per-layer
table as a DataArray), both atomically, and appends the Score to ``scores.jsonl``.
``read_scores`` returns the scores of a folder together with every file it could not read;
``load_scores`` warns about each of those.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from neurocompare._atomic import atomic_write_bytes
from neurocompare.benchmarks.score import Score

__all__ = ["format_table", "load_scores", "read_scores", "write_score"]


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
    jpath = atomic_write_bytes(out / f"{stem}.json", s.to_json(indent=2).encode(), what="score file")
    npath = save(s.to_dataarray(), out / f"{stem}.nc", name="scores")
    with open(out / "scores.jsonl", "a") as fh:
        fh.write(s.to_json() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
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


def read_scores(folder: str | os.PathLike) -> tuple[list[Score], list[str]]:
    """Every score in ``folder`` and a message for every score file that could not be read.

    Reads the ``*.json`` files written by :func:`write_score`, else the lines of ``*.jsonl``
    logs. JSON files that are not scores (configs) are ignored; a file that does not parse
    (truncated, damaged) or a score that does not rebuild is reported, never skipped silently.

    Returns
    -------
    scores : list of Score
    problems : list of str
        One message per unreadable file or log line, naming it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No such folder: {folder}. Give the --out folder of `neurocompare score` or `sweep`.")
    scores: list[Score] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            d = json.loads(path.read_text())
            if isinstance(d, dict) and "benchmark" in d and "layers" in d:
                scores.append(Score.from_dict(d))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
            problems.append(
                f"{path} is not a readable score ({type(err).__name__}: {err}); it is truncated or damaged: "
                "re-run the score that wrote it, or delete it."
            )
    if not scores:
        for path in sorted(folder.glob("*.jsonl")):
            lines = path.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    if isinstance(d, dict) and d.get("kind", "score") == "score" and "layers" in d.get("score", d):
                        scores.append(Score.from_dict(d.get("score", d)))
                except (ValueError, KeyError, TypeError) as err:
                    problems.append(f"{path}, line {i} is not a readable record ({type(err).__name__}); it is torn or damaged.")
    if not scores and not problems:
        raise FileNotFoundError(f"No scores found in {folder} (expected *.json from `neurocompare score --out`).")
    return scores, problems


def load_scores(folder: str | os.PathLike) -> list[Score]:
    """Every score in ``folder`` (see :func:`read_scores`); warns once per unreadable file.

    Raises
    ------
    FileNotFoundError
        No folder, or no readable score in it (the message lists the unreadable files).
    """
    scores, problems = read_scores(folder)
    for message in problems:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    if not scores:
        raise FileNotFoundError(f"No readable score in {folder}: " + " ".join(problems))
    return scores
