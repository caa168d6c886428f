"""``neurocompare predictivity``: cross-validated predictivity between two saved Responses (the benchmark protocol, no ceiling)."""

from __future__ import annotations

import argparse
import json
from typing import Any

HELP = "cross-validated ridge/PLS predictivity of saved Responses"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predictivity", help=HELP,
        description="The benchmark protocol on one layer: random splits keyed by stimulus_id (10, 10%% held out), "
        "mapping fitted on train, median held-out Pearson r over units, mean over splits, sd over splits.",
    )
    p.add_argument("x", help="predictor Responses file (.nc), e.g. model activations")
    p.add_argument("y", help="target Responses file (.nc), e.g. recorded units; repetitions are averaged")
    p.add_argument("--method", choices=("ridge", "pls", "one_to_one"), default="ridge")
    p.add_argument("--reverse", action="store_true", help="predict x from y instead (ridge or pls)")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--groups", default=None, help="a 'stimulus' coord for blocked splits (e.g. sound id of time bins)")
    p.add_argument("--stratify", default=None, help="a 'stimulus' coord to stratify the splits by")
    p.add_argument("--n-components", type=int, default=25, help="PLS components")
    p.add_argument("--device", default=None)
    p.add_argument("--json", default=None, help="also write the full result (per split, per unit) here")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from neurocompare.data import load
    from neurocompare.similarity import one_to_one_predictivity, pls_predictivity, reverse_predictivity, ridge_predictivity

    if args.json:  # before any work
        from pathlib import Path

        from neurocompare.cli._common import ensure_writable

        ensure_writable(Path(args.json).resolve().parent, "--json")
    x, y = load(args.x), load(args.y)
    common = dict(n_splits=args.splits, test_fraction=args.test_fraction, seed=args.seed, groups=args.groups,
                  stratify=args.stratify, device=args.device)
    if args.method == "pls":
        common["n_components"] = args.n_components
    if args.reverse:
        if args.method == "one_to_one":
            raise ValueError("--reverse works with --method ridge or pls.")
        res = reverse_predictivity(x, y, method=args.method, **common)
    else:
        res = {"ridge": ridge_predictivity, "pls": pls_predictivity, "one_to_one": one_to_one_predictivity}[args.method](x, y, **common)
    print(f"{res.method}: {res.value:.4f} ± {res.error:.4f} ({res.error_kind}; median r over {res.per_unit.shape[1]} units)")
    if args.json:
        out = {"method": res.method, "value": res.value, "error": res.error, "error_kind": res.error_kind,
               "per_split": res.per_split.tolist(), "per_unit": np.where(np.isfinite(res.per_unit), res.per_unit, None).tolist(),
               "alphas": None if res.alphas is None else res.alphas.tolist(),
               "params": json.loads(json.dumps(res.params, default=str)), "x": str(args.x), "y": str(args.y)}
        from neurocompare._atomic import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(out, indent=1).encode(), what="result file")
    return 0
