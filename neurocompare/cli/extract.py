"""``neurocompare extract``: record layer activations on a stimulus set, one NetCDF file per layer.

The model's registered preprocessing is applied (as ``neurocompare score`` applies it) unless
``--no-preprocessing`` is given; each file records the model id, weights hash and preprocessing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HELP = "record layer activations on a stimulus set"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("extract", help=HELP, description=HELP)
    p.add_argument("--model", required=True, help="registered model name, checkpoint or module:function")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--stimuli", help=".npy array, .nc stimulus DataArray, or a folder of images")
    src.add_argument("--dataset", help="a dataset with stimuli, e.g. kriegeskorte2008")
    p.add_argument("--data", help="data directory for --dataset (default: $NEUROCOMPARE_DATA)")
    p.add_argument("--layers", nargs="+", help="layer names (default: the top-level modules)")
    p.add_argument("--reduce", default="avgpool", choices=["flatten", "avgpool", "random_projection"])
    p.add_argument("--n-components", type=int, default=1000, help="units kept by random_projection")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--no-preprocessing",
        action="store_true",
        help="feed the stimuli as they are (default: the model's registered preprocessing, as `score` applies it)",
    )
    p.add_argument("--out", default="activations", help="output folder (one .nc per layer)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from neurocompare._hooks import list_layers
    from neurocompare.activations import extract
    from neurocompare.cli._common import ensure_writable, load_stimuli, resolve_spec
    from neurocompare.data import save

    out = ensure_writable(args.out)  # before any work
    resolved = resolve_spec(args.model, seed=args.seed)
    stimuli = load_stimuli(args.stimuli, args.dataset, args.data)
    layers = args.layers or [name for name in list_layers(resolved.model) if "." not in name]
    preprocessing = None if args.no_preprocessing else "auto"
    acts = extract(
        resolved,
        stimuli,
        layers,
        batch_size=args.batch_size,
        device=args.device,
        reduce=args.reduce,
        n_components=args.n_components,
        seed=args.seed,
        preprocessing=preprocessing,
    )
    print(f"{'layer':<20} {'stimuli':>8} {'units':>8}  file")
    for layer, resp in acts.items():
        resp.attrs.update(
            model=args.model,
            seed=args.seed,
            model_id=resolved.model_id,
            weights_hash=resolved.weights_hash,
            preprocessing=json.dumps(resolved.preprocessing.describe() if preprocessing else None),
        )
        path = save(resp, Path(out) / f"{layer}.nc")
        print(f"{layer:<20} {resp.sizes['stimulus']:>8} {resp.sizes['unit']:>8}  {path}")
    return 0
