"""``neurocompare train CONFIG [--out DIR] [--resume | --overwrite]``: train from a YAML/JSON config.

Writes ``OUT/config.yaml``, ``OUT/metrics.jsonl`` and ``OUT/checkpoint.pt``. An output folder
that already holds a run is refused unless ``--resume`` (continue it exactly) or ``--overwrite``
(start over) is given.
"""

from __future__ import annotations

import argparse
from typing import Any

HELP = "train a model from a YAML/JSON config (checkpoints, exact resume, metrics.jsonl)"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help=HELP,
        description="Train a registered model with a registered objective and dataset, as described by a "
        "YAML/JSON TrainConfig. Writes OUT/config.yaml, OUT/metrics.jsonl and OUT/checkpoint.pt.",
    )
    p.add_argument("config", help="path to a .yaml/.yml/.json TrainConfig")
    p.add_argument("--out", default=None, help="output folder (overrides out_dir in the config)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--resume", action="store_true", help="continue the run in OUT from its checkpoint")
    what.add_argument("--overwrite", action="store_true", help="replace a run already in OUT")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from neurocompare.cli._common import ensure_writable
    from neurocompare.training.checkpoint import check_run_folder
    from neurocompare.training.config import load_config
    from neurocompare.training.run import run_config

    cfg = load_config(args.config)
    out = Path(args.out if args.out is not None else cfg.out_dir)
    check_run_folder(out, resume=args.resume, overwrite=args.overwrite, remove=False)
    ensure_writable(out)
    result = run_config(cfg, resume=args.resume, overwrite=args.overwrite, out_dir=out)
    last = result.history[-1] if result.history else {}
    summary = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float))
    print(f"trained {result.step} steps -> {result.out_dir}  ({summary})")
    return 0
