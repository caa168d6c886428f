"""Reading and appending the ``results.jsonl`` record every analysis writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import neurocompare
from neurocompare.provenance import git_commit

__all__ = ["run_record", "read_runs", "append_summary"]


def run_record(analysis: str, config: Any) -> dict[str, Any]:
    """The fields every record of a run starts with: analysis, config, package/torch versions, git commit.

    Parameters
    ----------
    analysis : str
    config : dataclass instance
    """
    import dataclasses

    import torch

    return {
        "analysis": analysis,
        "config": dataclasses.asdict(config),
        "version": neurocompare.__version__,
        "git_commit": git_commit(),
        "torch": torch.__version__,
    }


def read_runs(out: str | Path) -> list[dict[str, Any]]:
    """The per-run records (``"kind": "run"``) in ``OUT/results.jsonl``.

    Raises
    ------
    FileNotFoundError
        When the folder holds no results yet (run the analysis without ``--summarize`` first).
    """
    path = Path(out) / "results.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the analysis first, then use --summarize.")
    lines = [json.loads(s) for s in path.read_text().splitlines() if s.strip()]
    rows = [r for r in lines if r.get("kind") == "run"]
    if not rows:
        raise ValueError(f"{path} holds no per-run records to summarize.")
    return rows


def append_summary(out: str | Path, analysis: str, rows: list[dict[str, Any]], summary: Any) -> None:
    """Append a summary rebuilt from ``rows`` to ``OUT/results.jsonl``, with version and git commit."""
    record = {
        "analysis": analysis,
        "kind": "summary",
        "rebuilt_from_runs": True,
        "seeds": sorted({r["seed"] for r in rows}),
        "config": rows[0]["config"],
        "version": neurocompare.__version__,
        "git_commit": git_commit(),
        "summary": summary,
    }
    with open(Path(out) / "results.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")
