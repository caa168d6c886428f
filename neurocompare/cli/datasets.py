"""``neurocompare datasets [--data DIR] [--verify]``: the recorded datasets and whether they are present."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "list the recorded datasets and whether they are present locally"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("datasets", help=HELP, description=HELP)
    p.add_argument("--data", default=None, help="data root (default: $NEUROCOMPARE_DATA or ~/.cache/neurocompare)")
    p.add_argument("--verify", action="store_true", help="also check every file's sha256")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from data_loaders import get_root, list_datasets, verify_dataset

    table = list_datasets(args.data)
    if args.verify:
        status = []
        for name in table["name"]:
            res = verify_dataset(name, args.data)
            bad = [k for k, v in res.items() if v != "ok"]
            status.append("ok" if not bad else f"{len(bad)} bad/missing")
        table["checksums"] = status
    print(f"data root: {get_root(args.data)}")
    cols = ["name", "present", "n_files", "description"] + (["checksums"] if "checksums" in table else [])
    print(table[cols].to_string(index=False))
    return 0
