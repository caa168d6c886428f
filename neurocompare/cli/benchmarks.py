"""``neurocompare benchmarks``: list the registered benchmarks."""

from __future__ import annotations

import argparse
from typing import Any

from neurocompare.cli._scoring import add_benchmark_module, register_data_benchmarks

HELP = "list the registered benchmarks"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("benchmarks", help=HELP, description=HELP)
    add_benchmark_module(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from neurocompare.benchmarks import list_benchmarks

    register_data_benchmarks(getattr(args, "benchmark_module", ()))
    entries = list_benchmarks()
    width = max((len(e.identifier) for e in entries), default=10)
    print(f"{'benchmark'.ljust(width)}  {'metric':6}  {'ceiling':10}  {'input':5}  description")
    for e in entries:
        print(f"{e.identifier.ljust(width)}  {e.metric:6}  {str(e.ceiling or '-'):10}  {e.modality:5}  {e.description}")
    return 0
