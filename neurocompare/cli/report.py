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
    from neurocompare.benchmarks import format_table, load_scores
    from neurocompare.cli._common import ensure_writable
    from neurocompare.plotting.scores import plot_layer_scores, plot_score_heatmap

    scores = load_scores(args.folder)
    out = ensure_writable(args.out or args.folder)
    written = []
    for stem, make in (("layer_scores", plot_layer_scores), ("score_heatmap", plot_score_heatmap)):
        fig = make(scores)
        for fmt in args.format:
            written.append(Path(out) / f"{stem}.{fmt}")
            fig.savefig(written[-1], bbox_inches="tight")
    print(format_table(scores))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
