"""``neurocompare gridscore INPUT``: gridness, spacing, orientation, information and border scores.

INPUT is rate maps (an ``.npz`` with ``rate_maps``/``firing_maps``/``maps`` or ``--key NAME``, an
``.npy``, or a folder of ``.npy`` maps), spike positions in an ``.npz`` (``spike_positions`` or
``spike_x``/``spike_y``, optional ``spike_offsets``, ``positions`` and ``dt``), or a trained
path-integration checkpoint (``.pt``), driven by simulated random walks.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "gridness of rate maps, spikes+positions or a trained model"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "gridscore",
        help=HELP,
        description=(
            "Gridness (sargolini and banino variants), spacing, orientation, spatial information and "
            "border score for rate maps in an .npz/.npy file or folder, spike positions (+ trajectory) "
            "in an .npz, or a trained path-integration checkpoint (.pt)."
        ),
    )
    p.add_argument("input", help="rate maps (.npz/.npy/folder), spikes .npz, or checkpoint .pt")
    p.add_argument("--key", default=None, help="array name inside the .npz (default: rate_maps/firing_maps/maps)")
    p.add_argument("--bin-size", type=float, default=1.0, help="bin size for spacing units (default 1 = bins)")
    p.add_argument("--bins", type=int, default=40, help="bins per side when building maps (spikes/checkpoint)")
    p.add_argument("--sigma", type=float, default=1.5, help="smoothing (bins) when building maps from spikes")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated trajectory for checkpoints")
    p.add_argument("--figure", default=None, help="write rate maps + autocorrelograms with scores to this PNG")
    p.add_argument("--max-plot", type=int, default=16, help="at most this many units in the figure")
    p.set_defaults(func=run)
    return p


def load_maps(args: argparse.Namespace) -> tuple[Any, list[str], float]:
    """``(maps of dims (unit, y, x), unit names, bin size)`` from the input the user named."""
    import numpy as np

    from neurocompare.gridcells import as_positions, rate_maps_from_checkpoint, spike_rate_maps

    path = Path(args.input)
    if not path.exists():
        raise FileNotFoundError(f"gridscore input {str(path)!r} does not exist; pass an .npz/.npy file, a folder of .npy maps, or a model checkpoint (.pt).")
    bin_size = args.bin_size
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise FileNotFoundError(f"folder {str(path)!r} holds no .npy rate maps.")
        maps = [np.load(f, allow_pickle=False) for f in files]
        stacked = []
        names = []
        for f, m in zip(files, maps):
            m = np.asarray(m, dtype=np.float64)
            for j, mm in enumerate(m if m.ndim == 3 else m[None]):
                stacked.append(mm)
                names.append(f.stem if m.ndim == 2 else f"{f.stem}[{j}]")
        shapes = {s.shape for s in stacked}
        if len(shapes) != 1:
            raise ValueError(f"all maps in {str(path)!r} must have the same shape; got {sorted(shapes)}.")
        return np.stack(stacked), names, bin_size
    if path.suffix == ".npy":
        m = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
        m = m if m.ndim == 3 else m[None]
        return m, [f"{path.stem}[{i}]" for i in range(len(m))], bin_size
    if path.suffix == ".npz":
        d = np.load(path, allow_pickle=False)
        key = args.key
        if key is None:
            for cand in ("rate_maps", "firing_maps", "maps"):
                if cand in d.files:
                    key = cand
                    break
        if key is not None:
            if key not in d.files:
                raise ValueError(f"key {key!r} not in {str(path)!r}; available: {', '.join(d.files)}.")
            m = np.asarray(d[key], dtype=np.float64)
            m = m if m.ndim == 3 else m[None]
            return m, [f"{key}[{i}]" for i in range(len(m))], bin_size
        if "spike_positions" in d.files or "spike_x" in d.files:
            if "spike_positions" in d.files:
                sp = as_positions(d["spike_positions"], f"'spike_positions' in {path.name}", allow_empty=True)
            else:
                sp = as_positions({"x": d["spike_x"], "y": d.get("spike_y", np.array([]))}, f"'spike_x'/'spike_y' in {path.name}", allow_empty=True)
            offsets = d["spike_offsets"] if "spike_offsets" in d.files else np.array([0, len(sp)])
            units = [sp[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
            positions = as_positions(d["positions"], f"'positions' in {path.name}") if "positions" in d.files else None
            dt = float(d["dt"]) if "dt" in d.files else None
            allpts = np.concatenate([positions if positions is not None else sp, sp])
            box = ((allpts[:, 0].min(), allpts[:, 0].max()), (allpts[:, 1].min(), allpts[:, 1].max()))
            maps = spike_rate_maps(units, positions, dt=dt, bins=args.bins, box=box, sigma=args.sigma)
            return maps, [f"unit{i}" for i in range(len(units))], (box[0][1] - box[0][0]) / args.bins
        raise ValueError(
            f"{str(path)!r} holds none of the keys gridscore understands: a 3-D rate-map array "
            "('rate_maps', 'firing_maps', 'maps' or --key NAME), or 'spike_positions' (+ optional "
            f"'spike_offsets', 'positions', 'dt'). Found: {', '.join(d.files)}."
        )
    if path.suffix in (".pt", ".pth"):
        maps = rate_maps_from_checkpoint(path, bins=args.bins, seed=args.seed)
        return maps, [f"unit{i}" for i in range(len(maps))], bin_size
    raise ValueError(f"unsupported gridscore input {str(path)!r}: use .npz, .npy, a folder of .npy, or .pt/.pth.")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from neurocompare.cli._common import ensure_writable
    from neurocompare.gridcells import grid_scores

    if args.figure:
        ensure_writable(Path(args.figure).resolve().parent, "--figure")  # before any work
    maps, names, bin_size = load_maps(args)
    scores = grid_scores(maps, bin_size=bin_size)
    header = f"{'unit':<16}{'sargolini':>10}{'banino':>9}{'spacing':>10}{'orient':>8}{'info':>8}{'border':>8}"
    print(header)
    for i, name in enumerate(names):
        print(
            f"{name[:15]:<16}{scores['gridness_sargolini'][i]:>10.3f}{scores['gridness_banino'][i]:>9.3f}"
            f"{scores['spacing'][i]:>10.2f}{scores['orientation'][i]:>8.1f}{scores['spatial_information'][i]:>8.3f}{scores['border_score'][i]:>8.3f}"
        )
    g = scores["gridness_sargolini"]
    print(f"# {len(names)} units; sargolini gridness > 0.3: {np.mean(g > 0.3):.2f}; median {np.nanmedian(g) if np.isfinite(g).any() else float('nan'):.3f}")
    if args.figure:
        from neurocompare.plotting.gridcells import plot_rate_maps

        fig = plot_rate_maps(maps[: args.max_plot], sacs=scores["sacs"][: args.max_plot], scores={k: scores[k][: args.max_plot] for k in ("gridness_sargolini", "gridness_banino", "spacing")}, titles=names[: args.max_plot])
        fig.savefig(args.figure, dpi=100)
        print(f"# figure written to {args.figure}")
    return 0
