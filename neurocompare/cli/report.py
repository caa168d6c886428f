"""``neurocompare report``: figures and a table from a folder of scores."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "figures and a table from a folder of scores"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "report", help=HELP,
        description="Plot score per layer per benchmark (error bars, ceiling line) and a model x benchmark heat map.",
    )
    p.add_argument("folder", help="folder written by `neurocompare score --out` or `neurocompare sweep --out`")
    p.add_argument("--out", default=None, help="where to write the figures (default: the folder itself)")
    p.add_argument("--format", nargs="+", default=["png", "svg"], choices=["png", "svg", "pdf"])
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Figures and a table of the readable scores; exit status 1 when any score file is unreadable."""
    import sys

    from neurocompare.benchmarks import format_table
    from neurocompare.benchmarks.io import read_scores
    from neurocompare.cli._common import ensure_writable
    from neurocompare.plotting.scores import plot_layer_scores, plot_score_heatmap

    scores, problems = read_scores(args.folder)  # cheap, and must not create a missing folder
    out = ensure_writable(args.out or args.folder)
    for message in problems:
        print(f"neurocompare: warning: {message}", file=sys.stderr)
    if not scores:
        print(f"neurocompare: error: no readable score in {args.folder}; nothing to report.", file=sys.stderr)
        return 1
    written = []
    for stem, make in (("layer_scores", plot_layer_scores), ("score_heatmap", plot_score_heatmap)):
        fig = make(scores)
        for fmt in args.format:
            written.append(Path(out) / f"{stem}.{fmt}")
            fig.savefig(written[-1], bbox_inches="tight")
    print(format_table(scores))
    print("wrote " + ", ".join(str(p) for p in written))
    if problems:
        print(
            f"neurocompare: error: {len(problems)} score file(s) could not be read (see the warnings above); "
            "the report shows the others only.",
            file=sys.stderr,
        )
        return 1
    return 0
