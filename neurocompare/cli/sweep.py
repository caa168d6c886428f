"""``neurocompare sweep``: models x benchmarks x layers on Dask, resumable."""

from __future__ import annotations

import argparse
from typing import Any

from neurocompare.cli._scoring import add_common, register_data_benchmarks

HELP = "models x benchmarks x layers on Dask"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sweep", help=HELP,
        description="Score every model on every benchmark, one task per (model, benchmark, layer), on dask.distributed; resumable.",
    )
    p.add_argument("--models", required=True, nargs="+")
    p.add_argument("--benchmarks", required=True, nargs="+")
    p.add_argument("--layers", nargs="+", default=None)
    p.add_argument("--out", default="sweep_results", help="folder for sweep.jsonl and per-score JSON")
    p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=_positive, default=2, help="LocalCluster workers, at least 1 (ignored with --scheduler)")
    add_common(p)
    p.set_defaults(func=run)
    return p


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 (a cluster with no worker would wait forever); got {text!r}")
    return n


def run(args: argparse.Namespace) -> int:
    from neurocompare.benchmarks import format_table, run_sweep
    from neurocompare.cli._common import ensure_writable

    ensure_writable(args.out)
    register_data_benchmarks()
    result = run_sweep(
        args.models, args.benchmarks, layers=args.layers, out=args.out, scheduler=args.scheduler, n_workers=args.workers,
        seed=args.seed, root=args.data, cache_dir=None if args.no_cache else args.cache_dir, device=args.device,
    )
    print(format_table(result.scores))
    print(f"{result.n_computed} task(s) computed, {result.n_reused} reused from an earlier run; log: {result.log}")
    return 0
