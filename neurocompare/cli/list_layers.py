"""``neurocompare list-layers --model SPEC``: the recordable layers of a model, one per line."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "list the recordable layers of a model"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("list-layers", help=HELP, description=HELP)
    p.add_argument("--model", required=True, help="registered model name, checkpoint or module:function")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from neurocompare._hooks import list_layers
    from neurocompare.cli._common import resolve_model

    for name in list_layers(resolve_model(args.model, seed=args.seed)):
        print(name)
    return 0
