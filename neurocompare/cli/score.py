"""``neurocompare score``: score a model on one or more benchmarks and print a table."""

from __future__ import annotations

import argparse
from typing import Any

from neurocompare.cli._scoring import add_benchmark_module, add_common, make_cache, model_kwargs, register_data_benchmarks

HELP = "score a model on benchmarks"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("score", help=HELP, description="Score a model on one or more benchmarks and print a table.")
    p.add_argument("--model", required=True, help="registered name (convnet_small), checkpoint file, module:function, torchvision:NAME or timm:NAME")
    p.add_argument("--benchmark", required=True, nargs="+", help="benchmark identifier(s); see `neurocompare benchmarks`")
    p.add_argument("--layers", nargs="+", default=None, help="layers to consider (default: the model's top-level children)")
    p.add_argument("--out", default=None, help="folder for JSON + NetCDF results")
    p.add_argument("--arch", default=None, help="architecture of a checkpoint that does not record it")
    p.add_argument("--model-kwargs", default=None, help="JSON object of builder keyword arguments, e.g. '{\"seed\": 1}'")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--metric-device", default=None, help="where the mappings and RDMs run, e.g. cuda (default: cpu)")
    add_common(p)
    add_benchmark_module(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from neurocompare.benchmarks import format_table, score, write_score
    from neurocompare.cli._common import ensure_writable
    from neurocompare.models import resolve_model

    if args.out:
        ensure_writable(args.out)
    register_data_benchmarks(getattr(args, "benchmark_module", ()))
    cache = make_cache(args)
    resolved = resolve_model(args.model, kwargs=model_kwargs(args), arch=args.arch)
    scores = []
    for name in args.benchmark:
        s = score(resolved, name, layers=args.layers, seed=args.seed, device=args.device, batch_size=args.batch_size,
                  cache=cache, root=args.data, progress=None, metric_device=args.metric_device)
        scores.append(s)
        if args.out:
            write_score(s, args.out)
    print(format_table(scores))
    for s in scores:
        if "above_ceiling" in s.flags:
            print(f"note: {s.benchmark}: value {s.value:.3f} is above the ceiling (> 1); kept as is, see Score.flags.")
    if cache is not None:
        print(cache.summary())
    if args.out:
        print(f"wrote {len(scores)} score(s) to {args.out} (JSON, NetCDF, scores.jsonl)")
    return 0
