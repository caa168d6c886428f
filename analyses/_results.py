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


def metamer_stage_summary(metamers: dict[str, Any], validity: dict[str, Any]) -> dict[str, Any]:
    """Per generator and stage: median relative error, fraction valid, and whether validity was attainable.

    Parameters
    ----------
    metamers : dict {generator name: metamer Dataset}
        With ``relative_error`` (layer, image) and a ``stage`` coordinate.
    validity : dict {generator name: validity Dataset}
        From ``neurocompare.metamers.check_validity``: ``valid`` (layer, image), ``attainable`` (layer).

    Returns
    -------
    dict
        ``relative_error_median``, ``fraction_valid``, ``validity_attainable``, each
        {generator: {stage: value}}.
    """
    import numpy as np

    def per_stage(datasets: dict[str, Any], value) -> dict[str, dict[str, Any]]:
        return {n: {str(s): value(ds, i) for i, s in enumerate(ds["stage"].values)} for n, ds in datasets.items()}

    return {
        "relative_error_median": per_stage(metamers, lambda ds, i: float(np.median(ds["relative_error"].values[i]))),
        "fraction_valid": per_stage(validity, lambda v, i: float(v["valid"].values[i].mean())),
        "validity_attainable": per_stage(validity, lambda v, i: bool(v["attainable"].values[i])),
    }
