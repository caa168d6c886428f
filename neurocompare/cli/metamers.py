"""``neurocompare metamers``: synthesise model metamers of images in a .npy file.

Writes ``metamers.nc`` (+ ``metamers.json`` provenance) and, with matplotlib, ``metamers.png``.
The synthesis state is checkpointed atomically every round to ``--state`` (default
``OUT/metamers_state.npz``); after a kill, the same command with ``--resume`` continues from the
last round and ends bit-identical to an uninterrupted run. An existing state is refused unless
``--resume`` or ``--overwrite`` is given. The output folder is checked before any work.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "synthesize model metamers of images at chosen layers"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from neurocompare.metamers import METHODS

    p = subparsers.add_parser(
        "metamers",
        help=HELP,
        description="Synthesise model metamers at one or more layers (Feather et al. 2023 protocol); writes "
        "metamers.nc (+ .json) and metamers.png.",
    )
    p.add_argument("--model", required=True, help="registered name, checkpoint path or module:function")
    p.add_argument("--layers", nargs="+", required=True,
                   help="module names, or stage=module pairs (see `neurocompare list-layers`)")
    p.add_argument("--images", required=True, help=".npy array (n, [channels,] h, w), uint8 or floats in [0, 1]")
    p.add_argument("--labels", default=None, help="optional .npy of integer labels, one per image")
    p.add_argument("--n-images", type=int, default=0, help="use only the first N images (0: all)")
    p.add_argument("--method", choices=METHODS, default="feather")
    p.add_argument("--n-rounds", type=int, default=8)
    p.add_argument("--steps-per-round", type=int, default=300)
    p.add_argument("--step-size", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (method adam)")
    p.add_argument("--max-iter", type=int, default=1000, help="Adam iterations (method adam)")
    p.add_argument("--fake-relu", action="store_true")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="metamers", help="output folder")
    p.add_argument("--state", default=None, help="checkpoint file of the synthesis (default: OUT/metamers_state.npz)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="steps between checkpoints (default: one round; 100 for --method adam)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--resume", action="store_true", help="continue the synthesis in --state after a kill")
    what.add_argument("--overwrite", action="store_true", help="delete an existing --state and start over")
    p.set_defaults(func=run)
    return p


def _read_images(path: Path, n_images: int) -> Any:
    import numpy as np

    if not path.is_file() or path.suffix != ".npy":
        raise FileNotFoundError(f"--images must be an existing .npy file of shape (n, [channels,] h, w); got {path}.")
    arr = np.load(path, allow_pickle=False)
    if arr.ndim == 3:
        arr = arr[:, None]
    arr = arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
    return arr[:n_images] if n_images else arr


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from neurocompare.cli._common import ensure_writable, resolve_model
    from neurocompare.metamers import save_metamers, synthesize_metamers

    arr = _read_images(Path(args.images), args.n_images)
    labels = None
    if args.labels:
        labels_path = Path(args.labels)
        if not labels_path.is_file():
            raise FileNotFoundError(f"--labels must be an existing .npy file of integer labels; got {labels_path}.")
        labels = np.load(labels_path, allow_pickle=False)[: arr.shape[0]]
    out = ensure_writable(args.out)  # before any work
    state = Path(args.state) if args.state else out / "metamers_state.npz"
    if state.suffix != ".npz":
        state = state.with_suffix(".npz")
    ensure_writable(state.parent, "--state")
    if state.exists() and not (args.resume or args.overwrite):
        raise FileExistsError(
            f"{state} holds the state of an earlier synthesis. Pass --resume to continue it, --overwrite to start "
            "over, or choose another --out / --state."
        )
    if state.exists() and args.overwrite:
        state.unlink()
    model = resolve_model(args.model, seed=args.seed)
    layers: Any = args.layers
    if any("=" in item for item in layers):  # stage=module pairs
        layers = dict(item.split("=", 1) for item in layers)
    ds = synthesize_metamers(
        model, layers, arr, labels=labels, device=args.device, model_name=args.model,
        method=args.method, n_rounds=args.n_rounds, steps_per_round=args.steps_per_round,
        step_size=args.step_size, lr=args.lr, max_iter=args.max_iter, fake_relu=args.fake_relu, seed=args.seed,
        state=state, resume=args.resume, checkpoint_every=args.checkpoint_every,
    )
    nc = save_metamers(ds, out / "metamers.nc")
    msg = f"{ds.sizes['layer']} layers × {ds.sizes['image']} images -> {nc}"
    try:  # the figure is optional: skipped without matplotlib
        from neurocompare.plotting.metamers import plot_metamers

        plot_metamers(ds, title=args.model).savefig(out / "metamers.png", dpi=110)
        msg += f", {out / 'metamers.png'}"
    except ImportError:
        pass
    err = ds["relative_error"].values
    print(f"{msg}; relative error median {np.median(err):.3g}, max {err.max():.3g}; state {state}")
    return 0
