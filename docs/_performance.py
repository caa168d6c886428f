"""Render the performance table from the newest committed ``bench/results/*.jsonl`` (at docs build time).

``docs/performance.md`` includes ``docs/_generated/performance_table.txt``, which ``write_table``
writes; ``docs/_pages.py`` calls it before Sphinx reads the sources. Nothing is run or measured
here: only the committed JSON lines are read, so the site builds offline and fast.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
RESULTS = REPO / "bench" / "results"
OUTPUT = DOCS / "_generated" / "performance_table.txt"


def _harness():
    """``bench/_harness.py`` loaded by path (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("_bench_harness", REPO / "bench" / "_harness.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def newest(folder: Path = RESULTS) -> Path | None:
    """The newest results file: latest date in its name (``YYYY-MM-DD-host.jsonl``), then the latest row."""
    files = sorted(Path(folder).glob("*.jsonl"))
    if not files:
        return None
    h = _harness()

    def last_stamp(p: Path) -> str:
        stamps = [r.get("timestamp") or "" for r in h.read_rows(p)]
        return max(stamps, default="")

    return max(files, key=lambda p: (p.name[:10], last_stamp(p)))


def render(path: Path | None) -> str:
    """The MyST text of the measured-results section: machine limits, then the table of every row."""
    if path is None:
        return "No results are committed yet: run `python bench/run_all.py` and commit `bench/results/`.\n"
    h = _harness()
    rows = h.read_rows(path)
    limits = [r for r in rows if r.get("kind") == "limits"]
    table_rows = h.latest_rows(rows)  # a bench re-run into the same file: its newest rows
    out = [f"Results file: `bench/results/{Path(path).name}` ({len(table_rows)} rows).\n"]
    if limits:
        out.append("Machine limits, measured by the same run:\n")
        for lim in limits:
            out.append(f"- {lim.get('when', '')}: " + h.md_escape(h.format_limits(lim)))
        out.append("")
    commits = sorted({str(r.get("git_commit")) for r in table_rows if r.get("git_commit")})
    if commits:
        out.append(f"Code measured: commit(s) {', '.join(f'`{c}`' for c in commits)}.\n")
    out.append(h.format_table(table_rows, markdown=True))
    notes = [f"- **{h.md_escape(r.get('bench'))}: {h.md_escape(r.get('case'))}**: {h.md_escape(r['note'])}"
             for r in table_rows if r.get("note")]
    if notes:
        out += ["", "Notes per row:", "", *notes]
    return "\n".join(out) + "\n"


def write_table(folder: Path = RESULTS, output: Path = OUTPUT) -> Path:
    """Write ``render(newest(folder))`` to ``output`` when its text changed (keeps builds incremental)."""
    text = render(newest(folder))
    output.parent.mkdir(parents=True, exist_ok=True)
    if not output.exists() or output.read_text() != text:
        tmp = output.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(output)
    return output
